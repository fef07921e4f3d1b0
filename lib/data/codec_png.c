/* codec_png.c: PNG to [C,H,W] tensors and back, with libpng.
 *
 * Read (up to IEND: a truncated file is an error): 1/2/4/8/16-bit gray, gray+alpha, RGB, RGBA and palette. Low bit depths are scaled to 0..255,
 * palettes expanded to RGB, alpha dropped, 16-bit samples kept as u16. No gamma is applied.
 * libpng reports errors by calling our handler, which records the text and longjmps back: nothing is
 * printed. All state that must survive the longjmp lives in a context struct. */
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <png.h>
#include "data/codec_png.h"
#include "data/image.h"

typedef struct png_ctx {
    const unsigned char *buf; /* reading */
    size_t len, pos;
    unsigned char *out;       /* writing */
    size_t out_len, out_cap;
    char msg[256];
    jmp_buf jb;
    png_structp png;
    png_infop info;
    unsigned char *rows;      /* decoded interleaved rows */
    png_bytep *rowp;
    fn_tensor *t;
} png_ctx;

static void on_error(png_structp png, png_const_charp msg) {
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    longjmp(c->jb, 1);
}

static void on_warning(png_structp png, png_const_charp msg) {}

static void mem_read(png_structp png, png_bytep data, size_t n) {
    png_ctx *c = png_get_io_ptr(png);
    if (n > c->len - c->pos) png_error(png, "unexpected end of file");
    memcpy(data, c->buf + c->pos, n);
    c->pos += n;
}

static void decode_rows(png_ctx *c) {
    png_structp png = c->png;
    png_infop info = c->info;
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    int type = png_get_color_type(png, info), depth = png_get_bit_depth(png, info);
    if (w > FN_MAX_HW || h > FN_MAX_HW) png_error(png, "image too large");
    if (type == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if ((type & PNG_COLOR_MASK_COLOR) == 0 && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (depth == 16) png_set_swap(png);
    int passes = png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int n = png_get_channels(png, info), bytes = png_get_bit_depth(png, info) == 16 ? 2 : 1;
    int keep = n >= 3 ? 3 : 1;
    fn_err e;
    if (!(c->t = fn_tensor_new(bytes == 2 ? FN_U16 : FN_U8, keep, (int)h, (int)w, &e))) png_error(png, e.msg);
    size_t stride = png_get_rowbytes(png, info);
    size_t nrows = passes > 1 ? h : 1;
    if (!(c->rows = malloc(stride * nrows)) || !(c->rowp = malloc(nrows * sizeof *c->rowp)))
        png_error(png, "out of memory");
    for (size_t y = 0; y < nrows; y++) c->rowp[y] = c->rows + y * stride;
    if (passes > 1) {
        png_read_image(png, c->rowp);
        for (png_uint_32 y = 0; y < h; y++) fn_deinterleave_row(c->rowp[y], n, c->t, (int)y);
    } else {
        for (png_uint_32 y = 0; y < h; y++) {
            png_read_row(png, c->rows, NULL);
            fn_deinterleave_row(c->rows, n, c->t, (int)y);
        }
    }
    png_read_end(png, NULL); /* a file cut short after the pixels is still an error */
}

int fn_png_decode(const unsigned char *buf, size_t len, const char *name, const fn_decode_opts *o, fn_image *img,
                  fn_err *e) {
    png_ctx *c = calloc(1, sizeof *c);
    if (!c) return fn_seterr(e, "%s: out of memory", name);
    c->buf = buf;
    c->len = len;
    int rc = -1;
    c->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, c, on_error, on_warning);
    if (c->png) c->info = png_create_info_struct(c->png);
    if (!c->png || !c->info) {
        fn_seterr(e, "%s: out of memory", name);
    } else if (setjmp(c->jb)) {
        fn_seterr(e, "%s: corrupt PNG: %s", name, c->msg);
    } else {
        png_set_read_fn(c->png, c, mem_read);
        decode_rows(c);
        png_uint_32 w = png_get_image_width(c->png, c->info), h = png_get_image_height(c->png, c->info);
        fn_tensor *t = c->t;
        c->t = NULL;
        rc = fn_image_add_page(img, t, (int)h, (int)w, 1, e);
    }
    png_destroy_read_struct(&c->png, &c->info, NULL);
    fn_tensor_free(c->t);
    free(c->rows);
    free(c->rowp);
    free(c);
    return rc;
}

/* ---- writing ----------------------------------------------------------------------------------- */

static void mem_write(png_structp png, png_bytep data, size_t n) {
    png_ctx *c = png_get_io_ptr(png);
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap ? c->out_cap : 65536;
        while (cap < c->out_len + n) cap *= 2;
        unsigned char *b = realloc(c->out, cap);
        if (!b) png_error(png, "out of memory");
        c->out = b;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, data, n);
    c->out_len += n;
}

static void mem_flush(png_structp png) {}

static void encode_rows(png_ctx *c, const fn_tensor *t) {
    png_structp png = c->png;
    int bytes = t->dtype == FN_U16 ? 2 : 1;
    png_set_write_fn(png, c, mem_write, mem_flush);
    png_set_IHDR(png, c->info, (png_uint_32)t->w, (png_uint_32)t->h, 8 * bytes,
                 t->c == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, 3);
    png_write_info(png, c->info);
    if (bytes == 2) png_set_swap(png);
    size_t plane = (size_t)t->h * t->w, stride = (size_t)t->w * t->c * bytes;
    if (!(c->rows = malloc(stride))) png_error(png, "out of memory");
    for (int y = 0; y < t->h; y++) {
        for (int k = 0; k < t->c; k++) {
            size_t off = k * plane + (size_t)y * t->w;
            if (bytes == 1) {
                const uint8_t *s = (const uint8_t *)t->data + off;
                for (int x = 0; x < t->w; x++) c->rows[(size_t)x * t->c + k] = s[x];
            } else {
                const uint16_t *s = (const uint16_t *)t->data + off;
                uint16_t *d = (uint16_t *)c->rows;
                for (int x = 0; x < t->w; x++) d[(size_t)x * t->c + k] = s[x];
            }
        }
        png_write_row(png, c->rows);
    }
    png_write_end(png, NULL);
}

int fn_png_encode(const fn_tensor *t, const char *name, unsigned char **buf, size_t *len, fn_err *e) {
    *buf = NULL;
    *len = 0;
    if (t->dtype == FN_F32) return fn_seterr(e, "%s: PNG cannot hold f32 samples", name);
    if (t->c != 1 && t->c != 3) return fn_seterr(e, "%s: PNG needs 1 or 3 channels, not %d", name, t->c);
    png_ctx *c = calloc(1, sizeof *c);
    if (!c) return fn_seterr(e, "%s: out of memory", name);
    int rc = -1;
    c->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, c, on_error, on_warning);
    if (c->png) c->info = png_create_info_struct(c->png);
    if (!c->png || !c->info) {
        fn_seterr(e, "%s: out of memory", name);
    } else if (setjmp(c->jb)) {
        fn_seterr(e, "%s: writing PNG: %s", name, c->msg);
    } else {
        encode_rows(c, t);
        *buf = c->out;
        *len = c->out_len;
        c->out = NULL;
        rc = 0;
    }
    png_destroy_write_struct(&c->png, &c->info);
    free(c->out);
    free(c->rows);
    free(c);
    return rc;
}
