/* codec_png.h: the PNG (libpng) decoder behind fn_image_decode (codec.h) and its encoder. It appends pages to
 * img (o is never NULL) and depends only on the image helpers below it. */
#ifndef FN_CODEC_PNG_H
#define FN_CODEC_PNG_H

#include <stddef.h>
#include "base/err.h"
#include "data/image.h"
#include "base/tensor.h"

int fn_png_decode(const unsigned char *buf, size_t len, const char *name, const fn_decode_opts *o, fn_image *img,
                  fn_err *e);
/* PNG: u8 or u16 with C 1 or 3, to a malloc'd buffer holding the file. 0, or -1 with e naming name. */
int fn_png_encode(const fn_tensor *t, const char *name, unsigned char **buf, size_t *len, fn_err *e);

#endif
