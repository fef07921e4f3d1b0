/* codec.h: image files to tensors and back.
 *
 * Decoders: PNG (libpng), JPEG (libjpeg-turbo), TIFF (libtiff), GIF (giflib). The format is found by
 * the file's magic bytes, never by its name. Every decoder returns planar [C,H,W] tensors:
 *   - C is 1 (gray) or 3 (RGB): alpha is dropped, palettes are expanded (a GIF whose colour map is
 *     all grey gives C=1 with the grey value of each index); a TIFF with unspecified extra samples
 *     keeps them as channels;
 *   - dtype u8 for 1..8-bit samples (1/2/4-bit gray scaled to 0..255), u16 for 16-bit, f32 for
 *     float TIFF (and for TIFF samples that are signed or 32/64-bit integers);
 *   - a multi-page TIFF gives one page per directory; every other file gives one page.
 * Encoders: PNG (u8 or u16, C 1 or 3), TIFF (u8/u16/f32, any C, one or more pages).
 * Everything works on memory buffers; fn_image_read/fn_image_write_file add the file I/O.
 * Error messages name the file: "NAME: not a PNG/JPEG/TIFF/GIF file", "NAME: corrupt JPEG: ...". */
#ifndef FN_CODEC_H
#define FN_CODEC_H

#include <stddef.h>
#include "err.h"
#include "tensor.h"

typedef enum { FN_FMT_NONE = 0, FN_FMT_PNG, FN_FMT_JPEG, FN_FMT_TIFF, FN_FMT_GIF } fn_format;

fn_format fn_format_sniff(const void *buf, size_t len); /* by magic bytes */
fn_format fn_format_of_name(const char *path);          /* by extension (.png .jpg .jpeg .tif .tiff .gif) */
const char *fn_format_name(fn_format f);                /* "PNG", "JPEG", "TIFF", "GIF", "?" */

typedef struct fn_decode_opts {
    int channels;       /* 0: as stored; 1: gray (BT.601 luma); 3: RGB (gray replicated) */
    int hint_h, hint_w; /* > 0: a JPEG may be decoded at 1/2, 1/4 or 1/8 scale (DCT domain), the
                           smallest scale whose size is still >= hint_h x hint_w */
} fn_decode_opts;

typedef struct fn_page {
    fn_tensor *t;
    int orig_h, orig_w; /* the size stored in the file (t is smaller after a size-hint decode) */
    int denom;          /* 1, or 2/4/8 after a size-hint decode: t is ceil(orig / denom) */
} fn_page;

typedef struct fn_image {
    fn_format fmt;
    int n;          /* pages, >= 1 after a successful decode */
    fn_page *pages;
} fn_image;

/* Decode a whole file held in memory; name is only used in messages. 0, or -1 with e set.
 * img is zeroed first and holds nothing after an error. o may be NULL. */
int fn_image_decode(const void *buf, size_t len, const char *name, const fn_decode_opts *o, fn_image *img,
                    fn_err *e);
int fn_image_read(const char *path, const fn_decode_opts *o, fn_image *img, fn_err *e);
void fn_image_free(fn_image *img);

/* Read a whole file into a malloc'd buffer (*buf must be freed). 0, or -1 with e naming the file. */
int fn_file_slurp(const char *path, unsigned char **buf, size_t *len, fn_err *e);

/* A new tensor with c channels (1 or 3) from t (C 1 or 3): RGB to gray by BT.601 luma
 * (0.299 R + 0.587 G + 0.114 B, rounded for integer dtypes), gray to RGB by copying. */
fn_tensor *fn_tensor_channels(const fn_tensor *t, int c, fn_err *e);

/* Encoders: a malloc'd buffer holding the file. PNG takes u8 or u16 with C 1 or 3; TIFF takes
 * n pages of u8/u16/f32 with any C (1: gray, 3: RGB, else gray + extra samples), Deflate. */
int fn_png_encode(const fn_tensor *t, const char *name, unsigned char **buf, size_t *len, fn_err *e);
int fn_tiff_encode(const fn_tensor *const *pages, int n, const char *name, unsigned char **buf, size_t *len,
                   fn_err *e);
/* Write an encoded file atomically (temporary name, fsync, rename). fmt FN_FMT_PNG or FN_FMT_TIFF. */
int fn_image_write_file(const char *path, fn_format fmt, const fn_tensor *t, fn_err *e);

/* The per-format decoders behind fn_image_decode (they append pages to img; o is never NULL). */
int fn_png_decode(const unsigned char *buf, size_t len, const char *name, const fn_decode_opts *o, fn_image *img,
                  fn_err *e);
int fn_jpeg_decode(const unsigned char *buf, size_t len, const char *name, const fn_decode_opts *o, fn_image *img,
                   fn_err *e);
int fn_tiff_decode(const unsigned char *buf, size_t len, const char *name, const fn_decode_opts *o, fn_image *img,
                   fn_err *e);
int fn_gif_decode(const unsigned char *buf, size_t len, const char *name, const fn_decode_opts *o, fn_image *img,
                  fn_err *e);
/* append a page to img (takes ownership of t; frees it on failure) */
int fn_image_add_page(fn_image *img, fn_tensor *t, int orig_h, int orig_w, int denom, fn_err *e);
/* one interleaved row (n samples per pixel, of t's dtype) into row y of planar t, keeping the first
 * t->c samples of each pixel. Used by every decoder. */
void fn_deinterleave_row(const void *src, int n, fn_tensor *t, int y);

#endif
