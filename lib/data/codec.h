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
#include "data/codec_png.h"
#include "data/codec_tiff.h"
#include "base/err.h"
#include "data/image.h"
#include "base/tensor.h"

fn_format fn_format_sniff(const void *buf, size_t len); /* by magic bytes */
fn_format fn_format_of_name(const char *path);          /* by extension (.png .jpg .jpeg .tif .tiff .gif) */
const char *fn_format_name(fn_format f);                /* "PNG", "JPEG", "TIFF", "GIF", "?" */

/* Decode a whole file held in memory; name is only used in messages. 0, or -1 with e set.
 * img is zeroed first and holds nothing after an error. o may be NULL. */
int fn_image_decode(const void *buf, size_t len, const char *name, const fn_decode_opts *o, fn_image *img,
                    fn_err *e);
int fn_image_read(const char *path, const fn_decode_opts *o, fn_image *img, fn_err *e);

/* Read a whole file into a malloc'd buffer (*buf must be freed). 0, or -1 with e naming the file. */
int fn_file_slurp(const char *path, unsigned char **buf, size_t *len, fn_err *e);

/* A new tensor with c channels (1 or 3) from t (C 1 or 3): RGB to gray by BT.601 luma
 * (0.299 R + 0.587 G + 0.114 B, rounded for integer dtypes), gray to RGB by copying. */
fn_tensor *fn_tensor_channels(const fn_tensor *t, int c, fn_err *e);

/* The encoders (fn_png_encode, fn_tiff_encode) are declared in codec_png.h and codec_tiff.h.
 * Write an encoded file atomically (temporary name, fsync, rename). fmt FN_FMT_PNG or FN_FMT_TIFF. */
int fn_image_write_file(const char *path, fn_format fmt, const fn_tensor *t, fn_err *e);

#endif
