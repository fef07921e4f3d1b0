/* codec_tiff.h: the TIFF (libtiff) decoder behind fn_image_decode (codec.h) and its encoder. It appends pages
 * to img (o is never NULL) and depends only on the image helpers below it. codec_tiff.c is built into
 * libfn-tiff.so, which plugin.c (these functions) loads on the first TIFF decoded or encoded (plugin.h);
 * when it cannot, they fail naming it. */
#ifndef FN_CODEC_TIFF_H
#define FN_CODEC_TIFF_H

#include <stddef.h>
#include "base/err.h"
#include "data/image.h"
#include "base/tensor.h"

int fn_tiff_decode(const unsigned char *buf, size_t len, const char *name, const fn_decode_opts *o, fn_image *img,
                   fn_err *e);
/* TIFF: n pages of u8/u16/f32 with any C (1: gray, 3: RGB, else gray + extra samples), Deflate, to a
 * malloc'd buffer holding the file. 0, or -1 with e naming name. */
int fn_tiff_encode(const fn_tensor *const *pages, int n, const char *name, unsigned char **buf, size_t *len,
                   fn_err *e);

#endif
