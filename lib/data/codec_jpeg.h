/* codec_jpeg.h: the JPEG (libjpeg-turbo) decoder behind fn_image_decode (codec.h). It appends pages to img (o
 * is never NULL) and depends only on the image helpers below it. */
#ifndef FN_CODEC_JPEG_H
#define FN_CODEC_JPEG_H

#include <stddef.h>
#include "base/err.h"
#include "data/image.h"
#include "base/tensor.h"

int fn_jpeg_decode(const unsigned char *buf, size_t len, const char *name, const fn_decode_opts *o, fn_image *img,
                   fn_err *e);

#endif
