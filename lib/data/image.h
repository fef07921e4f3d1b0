/* image.h: a decoded image file (its pages as planar [C,H,W] tensors) and the helpers every decoder
 * shares to build one. Below both the per-format decoders (codec_png/jpeg/tiff/gif) and the
 * dispatcher (codec.c): decoders include this, never codec.h. */
#ifndef FN_IMAGE_H
#define FN_IMAGE_H

#include "base/err.h"
#include "base/tensor.h"

typedef enum { FN_FMT_NONE = 0, FN_FMT_PNG, FN_FMT_JPEG, FN_FMT_TIFF, FN_FMT_GIF } fn_format;

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

/* append a page to img (takes ownership of t; frees it on failure) */
int fn_image_add_page(fn_image *img, fn_tensor *t, int orig_h, int orig_w, int denom, fn_err *e);
/* free every page; img is zeroed */
void fn_image_free(fn_image *img);
/* one interleaved row (n samples per pixel, of t's dtype) into row y of planar t, keeping the first
 * t->c samples of each pixel. Used by every decoder. */
void fn_deinterleave_row(const void *src, int n, fn_tensor *t, int y);

/* A file's claims are checked before anything is allocated for them: an image that would decode to
 * more than FN_DECODE_FREE_BYTES plus `ratio` times the bytes of data holding it is refused (the JPEG
 * and TIFF decoders; ratio from what their compressions can reach). */
#define FN_DECODE_FREE_BYTES (64.0 * (1 << 20))
static inline int fn_beyond_data(double decoded_bytes, double data_bytes, double ratio) {
    return decoded_bytes > FN_DECODE_FREE_BYTES + data_bytes * ratio;
}

#endif
