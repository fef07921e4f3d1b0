/* plugin.h: the codecs whose libraries are loaded only when a file of theirs is read or written, so that
 * the tools start without them: DICOM (dicom.cc over DCMTK and libstdc++) in libfn-dicom.so, TIFF
 * (codec_tiff.c over libtiff and its codecs) in libfn-tiff.so. Each library exports one table under the
 * symbol FN_DICOM_PLUGIN / FN_TIFF_PLUGIN; plugin.c keeps the public functions of dicom.h and
 * codec_tiff.h, and on their first use (once per process, thread-safe) dlopens the library through
 * fn_dlopen_beside (base/dlib.h: $FN_DICOM_LIB / $FN_TIFF_LIB, else beside the program). A library that
 * cannot be loaded makes each call fail with one line naming it.
 *
 * A program that links the codec's object itself (the fuzz harnesses, for coverage) defines the table,
 * and plugin.c then uses it directly, loading nothing (it refers to the table weakly).
 *
 * The codecs' own functions (the tables' entries), under internal names: */
#ifndef FN_PLUGIN_H
#define FN_PLUGIN_H

#ifdef __cplusplus
extern "C" { /* C headers, also read by dicom.cc */
#endif
#include "data/codec_tiff.h"
#include "data/dicom.h"
#ifdef __cplusplus
}
#endif

/* bumped whenever a table or a type it passes changes: a library of another version is refused */
#define FN_PLUGIN_VERSION 1

#define FN_DICOM_PLUGIN "fn_dicom_plugin"
typedef struct fn_dicom_plugin_table {
    int version; /* FN_PLUGIN_VERSION */
    int (*read)(const char *path, int want_pixels, fn_dcm_volume *v, fn_err *e); /* fn_dcm_read */
    void (*quiet)(void);                                                          /* fn_dcm_quiet */
} fn_dicom_plugin_table;

#define FN_TIFF_PLUGIN "fn_tiff_plugin"
typedef struct fn_tiff_plugin_table {
    int version; /* FN_PLUGIN_VERSION */
    int (*decode)(const unsigned char *buf, size_t len, const char *name, const fn_decode_opts *o, fn_image *img,
                  fn_err *e);
    int (*encode)(const fn_tensor *const *pages, int n, const char *name, unsigned char **buf, size_t *len,
                  fn_err *e);
} fn_tiff_plugin_table;

#ifdef __cplusplus
extern "C" {
#endif

/* the tables (the libraries' one exported symbol each; compiled with -fvisibility=hidden otherwise) */
#define FN_PLUGIN_EXPORT __attribute__((visibility("default")))
extern FN_PLUGIN_EXPORT const fn_dicom_plugin_table fn_dicom_plugin;
extern FN_PLUGIN_EXPORT const fn_tiff_plugin_table fn_tiff_plugin;

/* dicom.cc */
int fn_dcmtk_read(const char *path, int want_pixels, fn_dcm_volume *v, fn_err *e);
void fn_dcmtk_quiet(void);
/* codec_tiff.c */
int fn_tiffio_decode(const unsigned char *buf, size_t len, const char *name, const fn_decode_opts *o,
                     fn_image *img, fn_err *e);
int fn_tiffio_encode(const fn_tensor *const *pages, int n, const char *name, unsigned char **buf, size_t *len,
                     fn_err *e);

#ifdef __cplusplus
}
#endif

#endif
