/* codec_jpeg.c: JPEG to [C,H,W] u8 tensors with libjpeg-turbo.
 *
 * Gray and YCbCr/RGB files; CMYK/YCCK are refused with a clear message. A size hint lets the decoder
 * scale by 1/2, 1/4 or 1/8 in the DCT domain (scale_num/scale_denom), which skips most of the work for
 * a big photo that is about to be shrunk anyway. libjpeg's error manager is replaced: fatal errors
 * and the warnings that mean lost data (truncated file, bad entropy codes) longjmp back with the
 * message; nothing is printed. */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jpeglib.h>
#include <jerror.h>
#include "data/codec_jpeg.h"
#include "data/image.h"

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

/* YCbCr to three RGB planes with libjpeg's own arithmetic (jdcolor.c, 16-bit fixed point, rounded),
 * so the pixels are exactly those of libjpeg's colour conversion. The vector kernels use libjpeg's
 * SIMD split of the constants (R = Y + 0.402 Cr + Cr, B = Y - 0.228 Cb + 2 Cb, G = Y - 0.34414 Cb +
 * 0.28586 Cr - Cr), which gives the same integers. */
static void ycc_c(const uint8_t *y, const uint8_t *cb, const uint8_t *cr, uint8_t *r, uint8_t *g, uint8_t *b, int x,
                  int w) {
    for (; x < w; x++) {
        int32_t l = y[x], u = cb[x] - 128, v = cr[x] - 128;
        int32_t R = l + ((91881 * v + 32768) >> 16), B = l + ((116130 * u + 32768) >> 16);
        int32_t G = l + ((-22554 * u - 46802 * v + 32768) >> 16);
        r[x] = (uint8_t)(R < 0 ? 0 : R > 255 ? 255 : R);
        g[x] = (uint8_t)(G < 0 ? 0 : G > 255 ? 255 : G);
        b[x] = (uint8_t)(B < 0 ? 0 : B > 255 ? 255 : B);
    }
}

#ifdef __SSE2__
#include <emmintrin.h>
/* 8 pixels as 16-bit words: l luma, u = Cb - 128, v = Cr - 128; returns R, G, B words */
#define YCC8(V, l, u, v, R, G, B)                                                                                   \
    do {                                                                                                        \
        V##i u2 = V(add_epi16)(u, u), v2 = V(add_epi16)(v, v), one = V(set1_epi16)(1);                          \
        V##i bb = V(add_epi16)(V(srai_epi16)(V(add_epi16)(V(mulhi_epi16)(u2, V(set1_epi16)(-14942)), one), 1), u2); \
        V##i rr = V(add_epi16)(V(srai_epi16)(V(add_epi16)(V(mulhi_epi16)(v2, V(set1_epi16)(26345)), one), 1), v);  \
        V##i k = V(set1_epi32)((int32_t)((uint32_t)(uint16_t)-22554 | (uint32_t)18734 << 16)), half = V(set1_epi32)(32768); \
        V##i g0 = V(srai_epi32)(V(add_epi32)(V(madd_epi16)(V(unpacklo_epi16)(u, v), k), half), 16);            \
        V##i g1 = V(srai_epi32)(V(add_epi32)(V(madd_epi16)(V(unpackhi_epi16)(u, v), k), half), 16);            \
        R = V(add_epi16)(l, rr);                                                                                \
        G = V(add_epi16)(l, V(sub_epi16)(V(packs_epi32)(g0, g1), v));                                           \
        B = V(add_epi16)(l, bb);                                                                                \
    } while (0)
#define SSE(op) _mm_##op
#define SSEi __m128i

static void ycc_sse2(const uint8_t *y, const uint8_t *cb, const uint8_t *cr, uint8_t *r, uint8_t *g, uint8_t *b, int w) {
    const __m128i z = _mm_setzero_si128(), c128 = _mm_set1_epi16(128);
    int x = 0;
    for (; x + 16 <= w; x += 16) {
        __m128i Y = _mm_loadu_si128((const __m128i *)(y + x)), U = _mm_loadu_si128((const __m128i *)(cb + x));
        __m128i V = _mm_loadu_si128((const __m128i *)(cr + x)), R0, G0, B0, R1, G1, B1;
        YCC8(SSE, _mm_unpacklo_epi8(Y, z), _mm_sub_epi16(_mm_unpacklo_epi8(U, z), c128),
             _mm_sub_epi16(_mm_unpacklo_epi8(V, z), c128), R0, G0, B0);
        YCC8(SSE, _mm_unpackhi_epi8(Y, z), _mm_sub_epi16(_mm_unpackhi_epi8(U, z), c128),
             _mm_sub_epi16(_mm_unpackhi_epi8(V, z), c128), R1, G1, B1);
        _mm_storeu_si128((__m128i *)(r + x), _mm_packus_epi16(R0, R1));
        _mm_storeu_si128((__m128i *)(g + x), _mm_packus_epi16(G0, G1));
        _mm_storeu_si128((__m128i *)(b + x), _mm_packus_epi16(B0, B1));
    }
    ycc_c(y, cb, cr, r, g, b, x, w);
}
#endif

#if defined(__x86_64__) && defined(__GNUC__) && defined(__SSE2__)
#define YCC_AVX2 1
#include <immintrin.h>
#define AVX(op) _mm256_##op
#define AVXi __m256i
/* 32 at a time; unpacking and packing both work within 128-bit lanes, so the order comes back */
__attribute__((target("avx2"))) static void ycc_avx2(const uint8_t *y, const uint8_t *cb, const uint8_t *cr,
                                                     uint8_t *r, uint8_t *g, uint8_t *b, int w) {
    const __m256i z = _mm256_setzero_si256(), c128 = _mm256_set1_epi16(128);
    int x = 0;
    for (; x + 32 <= w; x += 32) {
        __m256i Y = _mm256_loadu_si256((const __m256i *)(y + x)), U = _mm256_loadu_si256((const __m256i *)(cb + x));
        __m256i V = _mm256_loadu_si256((const __m256i *)(cr + x)), R0, G0, B0, R1, G1, B1;
        YCC8(AVX, _mm256_unpacklo_epi8(Y, z), _mm256_sub_epi16(_mm256_unpacklo_epi8(U, z), c128),
             _mm256_sub_epi16(_mm256_unpacklo_epi8(V, z), c128), R0, G0, B0);
        YCC8(AVX, _mm256_unpackhi_epi8(Y, z), _mm256_sub_epi16(_mm256_unpackhi_epi8(U, z), c128),
             _mm256_sub_epi16(_mm256_unpackhi_epi8(V, z), c128), R1, G1, B1);
        _mm256_storeu_si256((__m256i *)(r + x), _mm256_packus_epi16(R0, R1));
        _mm256_storeu_si256((__m256i *)(g + x), _mm256_packus_epi16(G0, G1));
        _mm256_storeu_si256((__m256i *)(b + x), _mm256_packus_epi16(B0, B1));
    }
    ycc_sse2(y + x, cb + x, cr + x, r + x, g + x, b + x, w - x);
}
#endif

static void ycc_planes(const uint8_t *y, const uint8_t *cb, const uint8_t *cr, uint8_t *r, uint8_t *g, uint8_t *b,
                       int w) {
#ifdef YCC_AVX2
    if (__builtin_cpu_supports("avx2")) {
        ycc_avx2(y, cb, cr, r, g, b, w);
        return;
    }
#endif
#ifdef __SSE2__
    ycc_sse2(y, cb, cr, r, g, b, w);
#else
    ycc_c(y, cb, cr, r, g, b, 0, w);
#endif
}

/* Whether libjpeg, at this scale, decodes every component of a YCbCr file at the full output size
 * (the chroma of a 4:2:0 file scaled by 1/2 or less is, by a larger IDCT): then raw data plus
 * ycc_planes give the same pixels as the RGB path, without libjpeg's interleaved rows and the
 * copy that splits them. */
static int raw_fits(struct jpeg_decompress_struct *ci) {
    if (ci->jpeg_color_space != JCS_YCbCr || ci->out_color_space != JCS_RGB || ci->num_components != 3) return 0;
    jpeg_calc_output_dimensions(ci);
    for (int k = 0; k < 3; k++) {
        jpeg_component_info *p = &ci->comp_info[k];
        if (p->h_samp_factor * p->DCT_scaled_size != ci->max_h_samp_factor * ci->min_DCT_scaled_size ||
            p->v_samp_factor * p->DCT_scaled_size != ci->max_v_samp_factor * ci->min_DCT_scaled_size)
            return 0;
    }
    return 1;
}

/* the raw path: an iMCU row of the three planes at a time, converted into the tensor */
static const char *decode_raw(jpeg_ctx *c) {
    struct jpeg_decompress_struct *ci = &c->ci;
    int w = (int)ci->output_width, h = (int)ci->output_height, lines = ci->max_v_samp_factor * ci->min_DCT_scaled_size;
    size_t stride = 0;
    for (int k = 0; k < 3; k++) { /* rows as wide as the padded blocks, and a whole MCU more */
        jpeg_component_info *p = &ci->comp_info[k];
        size_t wk = ((size_t)p->width_in_blocks + (size_t)ci->max_h_samp_factor) * (size_t)p->DCT_scaled_size;
        if (wk > stride) stride = wk;
    }
    if (lines < 1 || lines > 64) return "JPEG with unexpected sampling";
    if (!(c->rows = malloc(stride * (size_t)lines * 3))) return "out of memory";
    JSAMPROW rowp[3][64];
    JSAMPARRAY planes[3] = {rowp[0], rowp[1], rowp[2]};
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < lines; i++) rowp[k][i] = c->rows + ((size_t)k * lines + i) * stride;
    size_t plane = (size_t)w * h;
    uint8_t *t = c->t->data;
    while ((int)ci->output_scanline < h) {
        int y = (int)ci->output_scanline;
        if (jpeg_read_raw_data(ci, planes, (JDIMENSION)lines) == 0) return "JPEG data ends early";
        for (int i = 0; i < lines && y + i < h; i++) {
            uint8_t *r = t + (size_t)(y + i) * w;
            ycc_planes(rowp[0][i], rowp[1][i], rowp[2][i], r, r + plane, r + 2 * plane, w);
        }
    }
    return NULL;
}

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
    /* refused before any decoding or allocation: an image larger than 64 MiB of samples and 4096
     * times the file (Huffman-coded JPEG needs at least a bit per 8x8 block and component, so even a
     * flat image stays under 1024 samples a byte; fuzzing: a 1039-byte file claiming 2.4 GB of
     * pixels, which libjpeg would decode as grey after "data ends early") */
    if (fn_beyond_data((double)ci->image_width * ci->image_height * ci->num_components, (double)len, 4096))
        return "image larger than its data could hold";
    int raw = raw_fits(ci);
    ci->raw_data_out = raw ? TRUE : FALSE;
    jpeg_start_decompress(ci);
    int n = ci->output_components, w = (int)ci->output_width, h = (int)ci->output_height;
    fn_err e;
    if (!(c->t = fn_tensor_alloc(FN_U8, n, h, w, &e))) { /* the decoder writes every byte */
        snprintf(c->msg, sizeof c->msg, "%s", e.msg);
        return c->msg;
    }
    if (raw) {
        const char *why = decode_raw(c);
        if (why) return why;
        jpeg_finish_decompress(ci);
        return NULL;
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
