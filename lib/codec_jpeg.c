/* codec_jpeg.c: JPEG to [C,H,W] u8 tensors with libjpeg-turbo.
 *
 * Gray and YCbCr/RGB files; CMYK/YCCK are refused with a clear message. A size hint lets the decoder
 * scale by 1/2, 1/4 or 1/8 in the DCT domain (scale_num/scale_denom), which skips most of the work for
 * a big photo that is about to be shrunk anyway. libjpeg's error manager is replaced: fatal errors
 * and the warnings that mean lost data (truncated file, bad entropy codes) longjmp back with the
 * message; nothing is printed. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>
#include "codec.h"

typedef struct jpeg_ctx {
    struct jpeg_error_mgr pub; /* first: libjpeg hands us back this pointer */
    jmp_buf jb;
    char msg[512]; /* >= JMSG_LENGTH_MAX */
    struct jpeg_decompress_struct ci;
    unsigned char *rows;
    fn_tensor *t;
} jpeg_ctx;

static void on_error_exit(j_common_ptr ci) {
    jpeg_ctx *c = (jpeg_ctx *)ci->err;
    ci->err->format_message(ci, c->msg);
    longjmp(c->jb, 1);
}

/* level < 0: a warning. Those that mean the pixels are wrong are errors here. */
static void on_emit(j_common_ptr ci, int level) {
    if (level >= 0) return;
    switch (ci->err->msg_code) {
    case JWRN_JPEG_EOF:
    case JWRN_HIT_MARKER:
    case JWRN_HUFF_BAD_CODE:
    case JWRN_ARITH_BAD_CODE:
    case JWRN_MUST_RESYNC:
    case JWRN_NOT_SEQUENTIAL: on_error_exit(ci); break;
    default: break;
    }
}

static void on_output(j_common_ptr ci) {}

/* the largest of 8, 4, 2, 1 that keeps ceil(size / d) >= the hint on both sides */
static int pick_denom(int h, int w, int hh, int hw) {
    if (hh <= 0 && hw <= 0) return 1;
    for (int d = 8; d > 1; d /= 2)
        if ((h + d - 1) / d >= hh && (w + d - 1) / d >= hw) return d;
    return 1;
}

#define ROWS 16

/* returns NULL with c->msg set for a problem found here (not by libjpeg) */
static const char *decode(jpeg_ctx *c, const unsigned char *buf, size_t len, const fn_decode_opts *o) {
    struct jpeg_decompress_struct *ci = &c->ci;
    jpeg_mem_src(ci, buf, (unsigned long)len);
    jpeg_read_header(ci, TRUE);
    switch (ci->jpeg_color_space) {
    case JCS_GRAYSCALE: ci->out_color_space = JCS_GRAYSCALE; break;
    case JCS_YCbCr:
    case JCS_RGB: ci->out_color_space = JCS_RGB; break;
    case JCS_CMYK:
    case JCS_YCCK: return "CMYK JPEG is not supported (convert it to RGB)";
    default: return "JPEG with an unknown colour space";
    }
    if (o->channels == 1) ci->out_color_space = JCS_GRAYSCALE;
    if (o->channels == 3) ci->out_color_space = JCS_RGB;
    ci->scale_num = 1;
    ci->scale_denom = (unsigned)pick_denom((int)ci->image_height, (int)ci->image_width, o->hint_h, o->hint_w);
    jpeg_start_decompress(ci);
    int n = ci->output_components, w = (int)ci->output_width, h = (int)ci->output_height;
    fn_err e;
    if (!(c->t = fn_tensor_new(FN_U8, n, h, w, &e))) {
        snprintf(c->msg, sizeof c->msg, "%s", e.msg);
        return c->msg;
    }
    JSAMPROW rowp[ROWS];
    if (n == 1) { /* straight into the tensor */
        while ((int)ci->output_scanline < h) {
            int y = (int)ci->output_scanline, k = h - y < ROWS ? h - y : ROWS;
            for (int i = 0; i < k; i++) rowp[i] = (unsigned char *)c->t->data + (size_t)(y + i) * w;
            jpeg_read_scanlines(ci, rowp, (JDIMENSION)k);
        }
    } else {
        size_t stride = (size_t)w * n;
        if (!(c->rows = malloc(stride * ROWS))) return "out of memory";
        for (int i = 0; i < ROWS; i++) rowp[i] = c->rows + i * stride;
        while ((int)ci->output_scanline < h) {
            int y = (int)ci->output_scanline;
            int got = (int)jpeg_read_scanlines(ci, rowp, ROWS);
            for (int i = 0; i < got; i++) fn_deinterleave_row(rowp[i], n, c->t, y + i);
        }
    }
    jpeg_finish_decompress(ci);
    return NULL;
}

int fn_jpeg_decode(const unsigned char *buf, size_t len, const char *name, const fn_decode_opts *o, fn_image *img,
                   fn_err *e) {
    jpeg_ctx *c = calloc(1, sizeof *c);
    if (!c) return fn_seterr(e, "%s: out of memory", name);
    int rc = -1;
    c->ci.err = jpeg_std_error(&c->pub);
    c->pub.error_exit = on_error_exit;
    c->pub.emit_message = on_emit;
    c->pub.output_message = on_output;
    if (setjmp(c->jb)) {
        fn_seterr(e, "%s: corrupt JPEG: %s", name, c->msg);
    } else {
        jpeg_create_decompress(&c->ci);
        const char *why = decode(c, buf, len, o);
        if (why) {
            fn_seterr(e, "%s: %s", name, why);
        } else {
            fn_tensor *t = c->t;
            c->t = NULL;
            rc = fn_image_add_page(img, t, (int)c->ci.image_height, (int)c->ci.image_width, (int)c->ci.scale_denom, e);
        }
    }
    jpeg_destroy_decompress(&c->ci);
    fn_tensor_free(c->t);
    free(c->rows);
    free(c);
    return rc;
}
