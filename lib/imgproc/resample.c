/* resample.c: separable antialiased resampling (Pillow's BILINEAR) and nearest neighbour.
 *
 * Linear: for output i of an axis shrinking by scale = in/out, the filter is a triangle of half-width
 * max(scale, 1) centred at (i + 0.5) * scale in input coordinates; weights are normalised to sum 1
 * (Pillow's precompute_coeffs). u16 and f32 rows are filtered along y, then along x, in floats; u8
 * frames go through the fixed-point kernels further down (Pillow's own 8-bit path is fixed point
 * too, x then y through an 8-bit buffer: results differ by rounding only). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "imgproc/resample.h"

static void axis_free(fn_rs_axis *a) {
    free(a->start);
    free(a->w);
    free(a->wq);
    free(a->start8);
    free(a->wq8);
    a->start = a->start8 = NULL;
    a->w = NULL;
    a->wq = a->wq8 = NULL;
}

/* weights w[0..n) (summing to 1) in fixed point summing to exactly 1 << RS_PREC: rounded, and the
 * rounding error put on the largest, so a flat image stays flat */
#define RS_PREC 14
static void quantize(const float *w, int n, int16_t *q) {
    int sum = 0, big = 0;
    for (int k = 0; k < n; k++) {
        q[k] = (int16_t)lrintf(w[k] * (float)(1 << RS_PREC));
        sum += q[k];
        if (w[k] > w[big]) big = k;
    }
    q[big] = (int16_t)(q[big] + (1 << RS_PREC) - sum);
}

static int axis_fixed(fn_rs_axis *a) {
    int taps = a->taps, t8 = taps <= 4 ? 4 : (taps + 7) / 8 * 8, out = a->out;
    a->taps8 = t8;
    a->wq = malloc(sizeof(int16_t) * (size_t)out * taps);
    a->start8 = malloc(sizeof(int) * (size_t)out);
    a->wq8 = calloc((size_t)out * t8, sizeof(int16_t));
    if (!a->wq || !a->start8 || !a->wq8) return -1;
    for (int i = 0; i < out; i++) {
        int16_t *q = a->wq + (size_t)i * taps;
        quantize(a->w + (size_t)i * taps, taps, q);
        int s = a->start[i];
        if (s + t8 > a->in && a->in >= t8) s = a->in - t8; /* shift left: leading zero weights */
        a->start8[i] = s;
        memcpy(a->wq8 + (size_t)i * t8 + (a->start[i] - s), q, sizeof(int16_t) * (size_t)taps);
    }
    return 0;
}

static int axis_nearest(fn_rs_axis *a, int in, int out) {
    a->in = in;
    a->out = out;
    a->taps = 1;
    a->w = NULL;
    if (!(a->start = malloc(sizeof(int) * (size_t)out))) return -1;
    double scale = (double)in / out;
    for (int i = 0; i < out; i++) {
        int s = (int)floor((i + 0.5) * scale);
        a->start[i] = s < 0 ? 0 : s >= in ? in - 1 : s;
    }
    return 0;
}

static double tri(double x) {
    x = fabs(x);
    return x < 1.0 ? 1.0 - x : 0.0;
}

static int axis_linear(fn_rs_axis *a, int in, int out) {
    double scale = (double)in / out, fs = scale > 1.0 ? scale : 1.0, support = fs, ss = 1.0 / fs;
    int ksize = (int)ceil(support) * 2 + 1;
    double *k = malloc(sizeof(double) * (size_t)ksize * out);
    int *lo = malloc(sizeof(int) * (size_t)out), *n = malloc(sizeof(int) * (size_t)out);
    if (!k || !lo || !n) {
        free(k), free(lo), free(n);
        return -1;
    }
    int taps = 1;
    for (int i = 0; i < out; i++) {
        double c = (i + 0.5) * scale, ww = 0;
        int xmin = (int)(c - support + 0.5), xmax = (int)(c + support + 0.5);
        if (xmin < 0) xmin = 0;
        if (xmax > in) xmax = in;
        double *ki = k + (size_t)i * ksize;
        int m = xmax - xmin;
        for (int j = 0; j < m; j++) ww += ki[j] = tri((j + xmin - c + 0.5) * ss);
        for (int j = 0; j < m; j++) ki[j] = ww != 0.0 ? ki[j] / ww : 0.0;
        /* trim zero weights at both ends */
        int b = 0;
        while (b < m - 1 && ki[b] == 0.0) b++;
        while (m > b + 1 && ki[m - 1] == 0.0) m--;
        lo[i] = xmin + b;
        n[i] = m - b;
        memmove(ki, ki + b, sizeof(double) * (size_t)(m - b));
        if (n[i] > taps) taps = n[i];
    }
    if (taps > in) taps = in;
    a->in = in;
    a->out = out;
    a->taps = taps;
    a->start = malloc(sizeof(int) * (size_t)out);
    a->w = calloc((size_t)out * taps, sizeof(float));
    if (!a->start || !a->w) {
        free(k), free(lo), free(n);
        axis_free(a);
        return -1;
    }
    for (int i = 0; i < out; i++) {
        int s = lo[i];
        if (s + taps > in) s = in - taps; /* every output reads exactly `taps` inputs */
        a->start[i] = s;
        for (int j = 0; j < n[i]; j++) a->w[(size_t)i * taps + (lo[i] - s) + j] = (float)k[(size_t)i * ksize + j];
    }
    free(k), free(lo), free(n);
    if (axis_fixed(a)) {
        axis_free(a);
        return -1;
    }
    return 0;
}

fn_resampler *fn_resampler_new(int in_h, int in_w, int out_h, int out_w, fn_rs_filter f, fn_err *e) {
    if (in_h < 1 || in_w < 1 || out_h < 1 || out_w < 1 || in_h > FN_MAX_HW || in_w > FN_MAX_HW ||
        out_h > FN_MAX_HW || out_w > FN_MAX_HW) {
        fn_seterr(e, "cannot resize %dx%d to %dx%d", in_h, in_w, out_h, out_w);
        return NULL;
    }
    fn_resampler *r = calloc(1, sizeof *r);
    if (!r) {
        fn_seterr(e, "out of memory");
        return NULL;
    }
    r->in_h = in_h, r->in_w = in_w, r->out_h = out_h, r->out_w = out_w, r->filter = f;
    int bad = f == FN_RS_NEAREST ? axis_nearest(&r->y, in_h, out_h) || axis_nearest(&r->x, in_w, out_w)
                                 : axis_linear(&r->y, in_h, out_h) || axis_linear(&r->x, in_w, out_w);
    if (bad) {
        fn_resampler_free(r);
        fn_seterr(e, "out of memory");
        return NULL;
    }
    return r;
}

void fn_resampler_free(fn_resampler *r) {
    if (!r) return;
    axis_free(&r->y);
    axis_free(&r->x);
    free(r);
}

/* n elements from offset off of base (dtype dt) into floats */
static void load_f(const void *base, fn_dtype dt, size_t off, int n, float *d) {
    if (dt == FN_U8) {
        const uint8_t *s = (const uint8_t *)base + off;
#pragma omp simd
        for (int i = 0; i < n; i++) d[i] = s[i];
    } else if (dt == FN_U16) {
        const uint16_t *s = (const uint16_t *)base + off;
#pragma omp simd
        for (int i = 0; i < n; i++) d[i] = s[i];
    } else {
        memcpy(d, (const float *)base + off, sizeof(float) * (size_t)n);
    }
}

/* acc[i] (+)= w * row[i] for n elements of row (dtype dt) at offset off */
static void axpy_f(const void *base, fn_dtype dt, size_t off, int n, float w, float *acc, int first) {
    if (dt == FN_U8) {
        const uint8_t *s = (const uint8_t *)base + off;
        if (first) {
#pragma omp simd
            for (int i = 0; i < n; i++) acc[i] = w * (float)s[i];
        } else {
#pragma omp simd
            for (int i = 0; i < n; i++) acc[i] += w * (float)s[i];
        }
    } else if (dt == FN_U16) {
        const uint16_t *s = (const uint16_t *)base + off;
        if (first) {
#pragma omp simd
            for (int i = 0; i < n; i++) acc[i] = w * (float)s[i];
        } else {
#pragma omp simd
            for (int i = 0; i < n; i++) acc[i] += w * (float)s[i];
        }
    } else {
        const float *s = (const float *)base + off;
        if (first) {
#pragma omp simd
            for (int i = 0; i < n; i++) acc[i] = w * s[i];
        } else {
#pragma omp simd
            for (int i = 0; i < n; i++) acc[i] += w * s[i];
        }
    }
}

/* clamping without traps lets GCC vectorise these loops (comparisons of floats otherwise stay branches) */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-trapping-math")))
#endif
static void store_f(void *base, fn_dtype dt, size_t off, const float *s, int n) {
    if (dt == FN_U8) {
        uint8_t *d = (uint8_t *)base + off;
#pragma omp simd
        for (int i = 0; i < n; i++) {
            float v = s[i] > 0.0f ? s[i] : 0.0f; /* max and min as SSE computes them */
            v = v < 255.0f ? v : 255.0f;
            v += 0.5f;
            d[i] = (uint8_t)(int32_t)v;
        }
    } else if (dt == FN_U16) {
        uint16_t *d = (uint16_t *)base + off;
#pragma omp simd
        for (int i = 0; i < n; i++) {
            float v = s[i] > 0.0f ? s[i] : 0.0f;
            v = v < 65535.0f ? v : 65535.0f;
            v += 0.5f;
            d[i] = (uint16_t)(int32_t)v;
        }
    } else {
        memcpy((float *)base + off, s, sizeof(float) * (size_t)n);
    }
}

static float get_f(const void *base, fn_dtype dt, size_t i) {
    return dt == FN_U8 ? ((const uint8_t *)base)[i] : dt == FN_U16 ? ((const uint16_t *)base)[i] : ((const float *)base)[i];
}

static int run_nearest(const fn_resampler *r, const fn_tensor *in, fn_tensor *out) {
    int oh = r->out_h, ow = r->out_w, iw = r->in_w;
    size_t es = fn_dtype_size(in->dtype);
    for (int c = 0; c < in->c; c++)
        for (int y = 0; y < oh; y++) {
            size_t srow = ((size_t)c * r->in_h + r->y.start[y]) * iw, drow = ((size_t)c * oh + y) * ow;
            const int *xs = r->x.start;
            if (in->dtype == out->dtype) {
                if (es == 1) {
                    const uint8_t *s = (const uint8_t *)in->data + srow;
                    uint8_t *d = (uint8_t *)out->data + drow;
                    for (int x = 0; x < ow; x++) d[x] = s[xs[x]];
                } else if (es == 2) {
                    const uint16_t *s = (const uint16_t *)in->data + srow;
                    uint16_t *d = (uint16_t *)out->data + drow;
                    for (int x = 0; x < ow; x++) d[x] = s[xs[x]];
                } else {
                    const float *s = (const float *)in->data + srow;
                    float *d = (float *)out->data + drow;
                    for (int x = 0; x < ow; x++) d[x] = s[xs[x]];
                }
            } else {
                for (int x = 0; x < ow; x++) {
                    float v = get_f(in->data, in->dtype, srow + xs[x]);
                    store_f(out->data, out->dtype, drow + x, &v, 1);
                }
            }
        }
    return 0;
}

/* one row of floats filtered along x: d[i] = sum_k w[i*taps+k] * s[start[i]+k] */
static void filter_row(const fn_rs_axis *a, const float *s, float *d) {
    int taps = a->taps, out = a->out;
    const int *st = a->start;
    const float *w = a->w;
#define FILTER_N(N)                                                                                            \
    for (int i = 0; i < out; i++, w += (N)) {                                                                  \
        const float *p = s + st[i];                                                                            \
        float acc = 0;                                                                                         \
        for (int k = 0; k < (N); k++) acc += w[k] * p[k];                                                      \
        d[i] = acc;                                                                                            \
    }                                                                                                          \
    break;
    switch (taps) {
    case 1: FILTER_N(1)
    case 2: FILTER_N(2)
    case 3: FILTER_N(3)
    case 4: FILTER_N(4)
    case 5: FILTER_N(5)
    case 6: FILTER_N(6)
    case 7: FILTER_N(7)
    case 8: FILTER_N(8)
    default: FILTER_N(taps)
    }
#undef FILTER_N
}

/* output row y of the vertical filter a over the rows (n values each, n apart) of a plane starting at
 * element `plane` of base: acc[0..n) = sum_k w[k] * row[start[y] + k], taps of weight 0 skipped */
static void vsum(const fn_rs_axis *a, int y, const void *base, fn_dtype dt, size_t plane, int n, float *acc) {
    const float *w = a->w + (size_t)y * a->taps;
    int first = 1;
    for (int k = 0; k < a->taps; k++) {
        if (w[k] == 0.0f) continue;
        axpy_f(base, dt, plane + (size_t)(a->start[y] + k) * n, n, w[k], acc, first);
        first = 0;
    }
    if (first) memset(acc, 0, sizeof(float) * (size_t)n);
}

/* Vertical pass first (vectorised along the row, reading the input dtype directly), then the
 * horizontal pass on that one row: no image-sized buffer, and every output row is independent. */
static int run_vh(const fn_resampler *r, const fn_tensor *in, fn_tensor *out, int par) {
    const int C = in->c, ih = r->in_h, iw = r->in_w, oh = r->out_h, ow = r->out_w;
    const int doh = iw != ow, dov = ih != oh;
    int err = 0;
#pragma omp parallel if (par)
    {
        float *row = malloc(sizeof(float) * (size_t)iw), *orow = malloc(sizeof(float) * (size_t)ow);
        if (!row || !orow) {
#pragma omp atomic write
            err = 1;
        }
#pragma omp for schedule(static)
        for (long cy = 0; cy < (long)C * oh; cy++) {
            if (!row || !orow) continue;
            int c = (int)(cy / oh), y = (int)(cy % oh);
            size_t plane = (size_t)c * ih * iw;
            if (dov) {
                vsum(&r->y, y, in->data, in->dtype, plane, iw, row);
            } else {
                load_f(in->data, in->dtype, plane + (size_t)y * iw, iw, row);
            }
            if (doh) filter_row(&r->x, row, orow);
            store_f(out->data, out->dtype, ((size_t)c * oh + y) * ow, doh ? orow : row, ow);
        }
        free(row);
        free(orow);
    }
    return err ? -1 : 0;
}

/* Horizontal pass first, over the input rows into an in_h x out_w buffer of floats, then the vertical
 * pass (vectorised) from it: the order for growing along y, where the vertical-first order would run
 * the horizontal filter (a gather) on every one of the many output rows. An f32 output row is summed
 * in place. */
static int run_hv(const fn_resampler *r, const fn_tensor *in, fn_tensor *out, int par) {
    const int C = in->c, ih = r->in_h, iw = r->in_w, oh = r->out_h, ow = r->out_w;
    float *hb = malloc(sizeof(float) * (size_t)C * ih * ow); /* [C, in_h, out_w] */
    if (!hb) return -1;
    int err = 0;
#pragma omp parallel if (par)
    {
        float *row = malloc(sizeof(float) * (size_t)(iw > ow ? iw : ow));
        if (!row) {
#pragma omp atomic write
            err = 1;
        }
#pragma omp for schedule(static)
        for (long cy = 0; cy < (long)C * ih; cy++) {
            if (!row) continue;
            load_f(in->data, in->dtype, (size_t)cy * iw, iw, row);
            filter_row(&r->x, row, hb + (size_t)cy * ow);
        }
#pragma omp for schedule(static)
        for (long cy = 0; cy < (long)C * oh; cy++) {
            if (!row) continue;
            int c = (int)(cy / oh), y = (int)(cy % oh);
            size_t at = ((size_t)c * oh + y) * ow;
            float *acc = out->dtype == FN_F32 ? (float *)out->data + at : row;
            vsum(&r->y, y, hb, FN_F32, (size_t)c * ih * ow, ow, acc);
            if (acc == row) store_f(out->data, out->dtype, at, row, ow);
        }
        free(row);
    }
    free(hb);
    return err ? -1 : 0;
}

static int run_linear(const fn_resampler *r, const fn_tensor *in, fn_tensor *out, fn_err *e) {
    const double C = in->c, ih = r->in_h, iw = r->in_w, oh = r->out_h, ow = r->out_w;
    const double xt = r->x.taps, yt = r->y.taps;
    /* the horizontal filter costs about 4 times the vertical one per tap (a gather against a
     * vectorised row); growing along y with a horizontal pass to do, fewer rows take it first */
    double vh = oh * (iw * yt + (iw != ow) * 4 * ow * xt), hv = ih * 4 * ow * xt + oh * ow * yt;
    int hfirst = oh > ih && iw != ow && hv < vh;
    /* threads only for big frames: after a parallel region libgomp's idle threads spin (GOMP_SPINCOUNT,
     * some milliseconds) before they sleep, which costs more CPU than a small frame's resize */
    int par = C * (hfirst ? hv : vh) > 3e7;
    if ((hfirst ? run_hv : run_vh)(r, in, out, par)) return fn_seterr(e, "out of memory");
    return 0;
}

/* ---- u8 in fixed point ---------------------------------------------------------------------------
 * Two passes, each sum_k q[k] * in[k] in 32-bit integers with 14-bit weights q (summing to 1 << 14):
 * the first pass keeps RS_MID fraction bits in a 16-bit intermediate (at most 255 << 7), the second
 * rounds to u8; a frame resized along one axis only takes one pass straight to u8. run_fixed picks
 * the order with less work. The AVX2 and SSE2 kernels and the plain C ones compute exactly the same
 * integers (the vector kernels do the bulk of a row, plain C the few elements left over). */
#define RS_MID 7

#ifdef __SSE2__
#include <emmintrin.h>
#endif
/* AVX2 kernels beside the SSE2 ones, picked at run time (-DRS_NO_AVX2 leaves them out) */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__SSE2__) && !defined(RS_NO_AVX2)
#define RS_AVX2 1
#include <immintrin.h>
#define TARGET_AVX2 __attribute__((target("avx2")))
#endif
#define INLINE static inline __attribute__((always_inline))

static inline int32_t px(const void *p, size_t i, int in_u8) {
    return in_u8 ? ((const uint8_t *)p)[i] : ((const int16_t *)p)[i];
}

static inline void put(void *d, size_t i, int32_t v, int out_u8) {
    if (out_u8) ((uint8_t *)d)[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    else ((int16_t *)d)[i] = (int16_t)(v < 0 ? 0 : v > 32767 ? 32767 : v);
}

/* vertical, plain C from x: dst[x] = (sum_k q[k] * row_k[x] + round) >> shift, row_k = src + k * stride */
INLINE void vpass_c(const void *src, size_t stride, int x, int n, const int16_t *q, int taps, int shift, void *dst,
                    int in_u8, int out_u8) {
    for (; x < n; x++) {
        int32_t acc = 1 << (shift - 1);
        for (int k = 0; k < taps; k++) acc += q[k] * px(src, (size_t)k * stride + (size_t)x, in_u8);
        put(dst, (size_t)x, acc >> shift, out_u8);
    }
}

/* horizontal, plain C from output i */
INLINE void hpass_c(const void *src, const fn_rs_axis *a, int i, int shift, void *dst, int in_u8, int out_u8) {
    const int taps = a->taps, *st = a->start, out = a->out;
    const int16_t *wq = a->wq;
    for (; i < out; i++) {
        const int16_t *q = wq + (size_t)i * taps;
        int32_t acc = 1 << (shift - 1);
        for (int k = 0; k < taps; k++) acc += q[k] * px(src, (size_t)st[i] + k, in_u8);
        put(dst, (size_t)i, acc >> shift, out_u8);
    }
}

#define MAXPAIRS 32 /* vector kernels take up to 64 vertical taps (a shrink by 32); more go to plain C */

#ifdef __SSE2__
/* vertical, 16 (u8 in) or 8 (i16 in) at a time; returns where it stopped */
INLINE int vpass_sse2(const void *src, size_t stride, int n, const int16_t *q, int taps, int shift, void *dst,
                      int in_u8, int out_u8) {
    const int np = (taps + 1) / 2, pairs = taps / 2, step = in_u8 ? 16 : 8;
    const size_t es = in_u8 ? 1 : 2, bstride = stride * es;
    if (np > MAXPAIRS) return 0;
    __m128i qq[MAXPAIRS];
    for (int k = 0; k < np; k++)
        qq[k] = _mm_set1_epi32((int32_t)((uint16_t)q[2 * k] | (uint32_t)(2 * k + 1 < taps ? (uint16_t)q[2 * k + 1] : 0) << 16));
    const __m128i zero = _mm_setzero_si128(), vb = _mm_set1_epi32(1 << (shift - 1));
    int x = 0;
    for (; x + step <= n; x += step) {
        __m128i a0 = vb, a1 = vb, a2 = vb, a3 = vb;
        const char *r = (const char *)src + (size_t)x * es;
        for (int k = 0; k < np; k++, r += 2 * bstride) {
            __m128i u = _mm_loadu_si128((const __m128i *)r);
            __m128i v = k < pairs ? _mm_loadu_si128((const __m128i *)(r + bstride)) : zero;
            if (in_u8) {
                __m128i lo = _mm_unpacklo_epi8(u, v), hi = _mm_unpackhi_epi8(u, v);
                a0 = _mm_add_epi32(a0, _mm_madd_epi16(_mm_unpacklo_epi8(lo, zero), qq[k]));
                a1 = _mm_add_epi32(a1, _mm_madd_epi16(_mm_unpackhi_epi8(lo, zero), qq[k]));
                a2 = _mm_add_epi32(a2, _mm_madd_epi16(_mm_unpacklo_epi8(hi, zero), qq[k]));
                a3 = _mm_add_epi32(a3, _mm_madd_epi16(_mm_unpackhi_epi8(hi, zero), qq[k]));
            } else {
                a0 = _mm_add_epi32(a0, _mm_madd_epi16(_mm_unpacklo_epi16(u, v), qq[k]));
                a1 = _mm_add_epi32(a1, _mm_madd_epi16(_mm_unpackhi_epi16(u, v), qq[k]));
            }
        }
        __m128i p0 = _mm_packs_epi32(_mm_srai_epi32(a0, shift), _mm_srai_epi32(a1, shift));
        if (in_u8) {
            __m128i p1 = _mm_packs_epi32(_mm_srai_epi32(a2, shift), _mm_srai_epi32(a3, shift));
            if (out_u8) {
                _mm_storeu_si128((__m128i *)((uint8_t *)dst + x), _mm_packus_epi16(p0, p1));
            } else {
                _mm_storeu_si128((__m128i *)((int16_t *)dst + x), p0);
                _mm_storeu_si128((__m128i *)((int16_t *)dst + x + 8), p1);
            }
        } else if (out_u8) {
            _mm_storel_epi64((__m128i *)((uint8_t *)dst + x), _mm_packus_epi16(p0, p0));
        } else {
            _mm_storeu_si128((__m128i *)((int16_t *)dst + x), p0);
        }
    }
    return x;
}

INLINE __m128i load8(const void *p, size_t i, int in_u8) {
    if (in_u8) return _mm_unpacklo_epi8(_mm_loadl_epi64((const __m128i *)((const uint8_t *)p + i)), _mm_setzero_si128());
    return _mm_loadu_si128((const __m128i *)((const int16_t *)p + i));
}

/* output i's products over its t8 weights from st[i], in 4 lanes to be summed */
INLINE __m128i hdot(const void *src, const int *st, const int16_t *q8, int t8, int i, int in_u8) {
    const int16_t *q = q8 + (size_t)i * t8;
    size_t s = (size_t)st[i];
    __m128i m = _mm_madd_epi16(load8(src, s, in_u8), _mm_loadu_si128((const __m128i *)q));
    for (int j = 8; j < t8; j += 8)
        m = _mm_add_epi32(m, _mm_madd_epi16(load8(src, s + j, in_u8), _mm_loadu_si128((const __m128i *)(q + j))));
    return m;
}

/* horizontal, 4 outputs at a time (t8 a constant 8 in the common case); returns where it stopped */
INLINE int hpass_sse2(const void *src, const int *st, const int16_t *q8, int t8, int out, int shift, void *dst,
                      int in_u8, int out_u8) {
    const __m128i vb = _mm_set1_epi32(1 << (shift - 1));
    int i = 0;
    for (; i + 4 <= out; i += 4) {
        __m128i m0 = hdot(src, st, q8, t8, i, in_u8), m1 = hdot(src, st, q8, t8, i + 1, in_u8);
        __m128i m2 = hdot(src, st, q8, t8, i + 2, in_u8), m3 = hdot(src, st, q8, t8, i + 3, in_u8);
        __m128i s01 = _mm_add_epi32(_mm_unpacklo_epi32(m0, m1), _mm_unpackhi_epi32(m0, m1));
        __m128i s23 = _mm_add_epi32(_mm_unpacklo_epi32(m2, m3), _mm_unpackhi_epi32(m2, m3));
        __m128i s = _mm_add_epi32(_mm_unpacklo_epi64(s01, s23), _mm_unpackhi_epi64(s01, s23));
        s = _mm_srai_epi32(_mm_add_epi32(s, vb), shift);
        __m128i p = _mm_packs_epi32(s, s);
        if (out_u8) {
            int32_t v = _mm_cvtsi128_si32(_mm_packus_epi16(p, p));
            memcpy((uint8_t *)dst + i, &v, 4);
        } else {
            _mm_storel_epi64((__m128i *)((int16_t *)dst + i), p);
        }
    }
    return i;
}

/* output i's 4 weights from st[i]: 4 inputs as 16-bit words in the low half */
INLINE __m128i load4(const void *p, size_t i, int in_u8) {
    if (in_u8) {
        int32_t v;
        memcpy(&v, (const uint8_t *)p + i, 4);
        return _mm_unpacklo_epi8(_mm_cvtsi32_si128(v), _mm_setzero_si128());
    }
    return _mm_loadl_epi64((const __m128i *)((const int16_t *)p + i));
}

/* horizontal with 4 weights per output (taps <= 4, the common shrink by up to 1.5 or growth), 4 at a time */
INLINE int hpass4_sse2(const void *src, const int *st, const int16_t *q4, int out, int shift, void *dst, int in_u8,
                       int out_u8) {
    const __m128i vb = _mm_set1_epi32(1 << (shift - 1));
    int i = 0;
    for (; i + 4 <= out; i += 4) {
        __m128i x01 = _mm_unpacklo_epi64(load4(src, (size_t)st[i], in_u8), load4(src, (size_t)st[i + 1], in_u8));
        __m128i x23 = _mm_unpacklo_epi64(load4(src, (size_t)st[i + 2], in_u8), load4(src, (size_t)st[i + 3], in_u8));
        __m128 m01 = _mm_castsi128_ps(_mm_madd_epi16(x01, _mm_loadu_si128((const __m128i *)(q4 + (size_t)i * 4))));
        __m128 m23 = _mm_castsi128_ps(_mm_madd_epi16(x23, _mm_loadu_si128((const __m128i *)(q4 + (size_t)i * 4 + 8))));
        __m128i s = _mm_add_epi32(_mm_castps_si128(_mm_shuffle_ps(m01, m23, _MM_SHUFFLE(2, 0, 2, 0))),
                                  _mm_castps_si128(_mm_shuffle_ps(m01, m23, _MM_SHUFFLE(3, 1, 3, 1))));
        s = _mm_srai_epi32(_mm_add_epi32(s, vb), shift);
        __m128i p = _mm_packs_epi32(s, s);
        if (out_u8) {
            int32_t v = _mm_cvtsi128_si32(_mm_packus_epi16(p, p));
            memcpy((uint8_t *)dst + i, &v, 4);
        } else {
            _mm_storel_epi64((__m128i *)((int16_t *)dst + i), p);
        }
    }
    return i;
}
#endif

#ifdef RS_AVX2
/* vertical, 32 (u8 in) or 16 (i16 in) at a time; returns where it stopped */
INLINE TARGET_AVX2 int vpass_avx2(const void *src, size_t stride, int n, const int16_t *q, int taps, int shift,
                                  void *dst, int in_u8, int out_u8) {
    const int np = (taps + 1) / 2, pairs = taps / 2, step = in_u8 ? 32 : 16;
    const size_t es = in_u8 ? 1 : 2, bstride = stride * es;
    if (np > MAXPAIRS) return 0;
    __m256i qq[MAXPAIRS];
    for (int k = 0; k < np; k++)
        qq[k] = _mm256_set1_epi32((int32_t)((uint16_t)q[2 * k] | (uint32_t)(2 * k + 1 < taps ? (uint16_t)q[2 * k + 1] : 0) << 16));
    const __m256i zero = _mm256_setzero_si256(), vb = _mm256_set1_epi32(1 << (shift - 1));
    int x = 0;
    for (; x + step <= n; x += step) {
        __m256i a0 = vb, a1 = vb, a2 = vb, a3 = vb;
        const char *r = (const char *)src + (size_t)x * es;
        for (int k = 0; k < np; k++, r += 2 * bstride) {
            __m256i u = _mm256_loadu_si256((const __m256i *)r);
            __m256i v = k < pairs ? _mm256_loadu_si256((const __m256i *)(r + bstride)) : zero;
            if (in_u8) { /* lanes: a0 = px 0-3|16-19, a1 = 4-7|20-23, a2 = 8-11|24-27, a3 = 12-15|28-31 */
                __m256i lo = _mm256_unpacklo_epi8(u, v), hi = _mm256_unpackhi_epi8(u, v);
                a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_unpacklo_epi8(lo, zero), qq[k]));
                a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_unpackhi_epi8(lo, zero), qq[k]));
                a2 = _mm256_add_epi32(a2, _mm256_madd_epi16(_mm256_unpacklo_epi8(hi, zero), qq[k]));
                a3 = _mm256_add_epi32(a3, _mm256_madd_epi16(_mm256_unpackhi_epi8(hi, zero), qq[k]));
            } else { /* a0 = px 0-3|8-11, a1 = 4-7|12-15 */
                a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(_mm256_unpacklo_epi16(u, v), qq[k]));
                a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(_mm256_unpackhi_epi16(u, v), qq[k]));
            }
        }
        __m256i p0 = _mm256_packs_epi32(_mm256_srai_epi32(a0, shift), _mm256_srai_epi32(a1, shift));
        if (in_u8) { /* p0 = px 0-7|16-23, p1 = 8-15|24-31 */
            __m256i p1 = _mm256_packs_epi32(_mm256_srai_epi32(a2, shift), _mm256_srai_epi32(a3, shift));
            if (out_u8) {
                _mm256_storeu_si256((__m256i *)((uint8_t *)dst + x), _mm256_packus_epi16(p0, p1));
            } else {
                _mm256_storeu_si256((__m256i *)((int16_t *)dst + x), _mm256_permute2x128_si256(p0, p1, 0x20));
                _mm256_storeu_si256((__m256i *)((int16_t *)dst + x + 16), _mm256_permute2x128_si256(p0, p1, 0x31));
            }
        } else if (out_u8) { /* p0 = px 0-15 in order */
            __m256i b = _mm256_permute4x64_epi64(_mm256_packus_epi16(p0, p0), 0x08);
            _mm_storeu_si128((__m128i *)((uint8_t *)dst + x), _mm256_castsi256_si128(b));
        } else {
            _mm256_storeu_si256((__m256i *)((int16_t *)dst + x), p0);
        }
    }
    return x;
}

/* outputs i (low lane) and i + 1 (high lane): 8 weights each, consecutive in q8 */
INLINE TARGET_AVX2 __m256i hdot2(const void *src, const int *st, const int16_t *q8, int i, int in_u8) {
    __m256i v;
    if (in_u8) {
        __m128i b = _mm_loadl_epi64((const __m128i *)((const uint8_t *)src + st[i]));
        b = _mm_castpd_si128(_mm_loadh_pd(_mm_castsi128_pd(b), (const double *)((const uint8_t *)src + st[i + 1])));
        v = _mm256_cvtepu8_epi16(b);
    } else {
        v = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)((const int16_t *)src + st[i]))),
                                    _mm_loadu_si128((const __m128i *)((const int16_t *)src + st[i + 1])), 1);
    }
    return _mm256_madd_epi16(v, _mm256_loadu_si256((const __m256i *)(q8 + (size_t)i * 8)));
}

/* horizontal with 8 weights per output, 8 outputs at a time; returns where it stopped */
INLINE TARGET_AVX2 int hpass_avx2(const void *src, const int *st, const int16_t *q8, int out, int shift, void *dst,
                                  int in_u8, int out_u8) {
    const __m128i vb = _mm_set1_epi32(1 << (shift - 1));
    int i = 0;
    for (; i + 8 <= out; i += 8) {
        __m256i m01 = hdot2(src, st, q8, i, in_u8), m23 = hdot2(src, st, q8, i + 2, in_u8);
        __m256i m45 = hdot2(src, st, q8, i + 4, in_u8), m67 = hdot2(src, st, q8, i + 6, in_u8);
        /* lanes after the adds: low = outputs 0 2 4 6, high = 1 3 5 7 */
        __m256i t = _mm256_hadd_epi32(_mm256_hadd_epi32(m01, m23), _mm256_hadd_epi32(m45, m67));
        __m128i ev = _mm_srai_epi32(_mm_add_epi32(_mm256_castsi256_si128(t), vb), shift);
        __m128i od = _mm_srai_epi32(_mm_add_epi32(_mm256_extracti128_si256(t, 1), vb), shift);
        __m128i p = _mm_packs_epi32(_mm_unpacklo_epi32(ev, od), _mm_unpackhi_epi32(ev, od));
        if (out_u8) _mm_storel_epi64((__m128i *)((uint8_t *)dst + i), _mm_packus_epi16(p, p));
        else _mm_storeu_si128((__m128i *)((int16_t *)dst + i), p);
    }
    return i;
}
#endif

#ifdef RS_AVX2
/* horizontal with 4 weights per output, 8 outputs at a time: outputs 0-3 in one register, 4-7 in another */
INLINE TARGET_AVX2 __m256i hquad(const void *src, const int *st, int i, int in_u8) {
    if (in_u8) {
        int32_t v[4];
        for (int k = 0; k < 4; k++) memcpy(&v[k], (const uint8_t *)src + st[i + k], 4);
        return _mm256_cvtepu8_epi16(_mm_set_epi32(v[3], v[2], v[1], v[0]));
    }
    const int16_t *p = src;
    __m128i lo = _mm_castpd_si128(_mm_loadh_pd(_mm_castsi128_pd(_mm_loadl_epi64((const __m128i *)(p + st[i]))),
                                               (const double *)(p + st[i + 1])));
    __m128i hi = _mm_castpd_si128(_mm_loadh_pd(_mm_castsi128_pd(_mm_loadl_epi64((const __m128i *)(p + st[i + 2]))),
                                               (const double *)(p + st[i + 3])));
    return _mm256_inserti128_si256(_mm256_castsi128_si256(lo), hi, 1);
}

INLINE TARGET_AVX2 int hpass4_avx2(const void *src, const int *st, const int16_t *q4, int out, int shift, void *dst,
                                   int in_u8, int out_u8) {
    const __m256i vb = _mm256_set1_epi32(1 << (shift - 1));
    int i = 0;
    for (; i + 8 <= out; i += 8) {
        __m256i a = _mm256_madd_epi16(hquad(src, st, i, in_u8), _mm256_loadu_si256((const __m256i *)(q4 + (size_t)i * 4)));
        __m256i b = _mm256_madd_epi16(hquad(src, st, i + 4, in_u8),
                                      _mm256_loadu_si256((const __m256i *)(q4 + (size_t)i * 4 + 16)));
        /* hadd: outputs 0 1 4 5 | 2 3 6 7; the 64-bit permute puts them in order */
        __m256i t = _mm256_permute4x64_epi64(_mm256_hadd_epi32(a, b), 0xd8);
        t = _mm256_srai_epi32(_mm256_add_epi32(t, vb), shift);
        __m128i p = _mm_packs_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
        if (out_u8) _mm_storel_epi64((__m128i *)((uint8_t *)dst + i), _mm_packus_epi16(p, p));
        else _mm_storeu_si128((__m128i *)((int16_t *)dst + i), p);
    }
    return i;
}
#endif

/* one pass over one row, by the kind of input and output: u8 -> i16 (the first of two passes),
 * i16 -> u8 (the second), u8 -> u8 (the only one) */
#define SHIFT(in_u8, out_u8) ((in_u8) && (out_u8) ? RS_PREC : (in_u8) ? RS_PREC - RS_MID : RS_PREC + RS_MID)

INLINE void vrow(const void *src, size_t stride, int n, const int16_t *q, int taps, void *dst, int in_u8, int out_u8) {
    int x = 0;
#ifdef __SSE2__
    x = vpass_sse2(src, stride, n, q, taps, SHIFT(in_u8, out_u8), dst, in_u8, out_u8);
#endif
    vpass_c(src, stride, x, n, q, taps, SHIFT(in_u8, out_u8), dst, in_u8, out_u8);
}

INLINE void hrow(const void *src, const fn_rs_axis *a, void *dst, int in_u8, int out_u8) {
    int i = 0;
#ifdef __SSE2__
    if (a->in >= a->taps8) { /* else start8 could not keep the 8-wide loads inside the row */
        if (a->taps8 == 4) i = hpass4_sse2(src, a->start8, a->wq8, a->out, SHIFT(in_u8, out_u8), dst, in_u8, out_u8);
        else if (a->taps8 == 8) i = hpass_sse2(src, a->start8, a->wq8, 8, a->out, SHIFT(in_u8, out_u8), dst, in_u8, out_u8);
        else i = hpass_sse2(src, a->start8, a->wq8, a->taps8, a->out, SHIFT(in_u8, out_u8), dst, in_u8, out_u8);
    }
#endif
    hpass_c(src, a, i, SHIFT(in_u8, out_u8), dst, in_u8, out_u8);
}

static void vrow_u8_i16(const void *s, size_t st, int n, const int16_t *q, int t, void *d) { vrow(s, st, n, q, t, d, 1, 0); }
static void vrow_i16_u8(const void *s, size_t st, int n, const int16_t *q, int t, void *d) { vrow(s, st, n, q, t, d, 0, 1); }
static void vrow_u8_u8(const void *s, size_t st, int n, const int16_t *q, int t, void *d) { vrow(s, st, n, q, t, d, 1, 1); }
static void hrow_u8_i16(const void *s, const fn_rs_axis *a, void *d) { hrow(s, a, d, 1, 0); }
static void hrow_i16_u8(const void *s, const fn_rs_axis *a, void *d) { hrow(s, a, d, 0, 1); }
static void hrow_u8_u8(const void *s, const fn_rs_axis *a, void *d) { hrow(s, a, d, 1, 1); }

#ifdef RS_AVX2
INLINE TARGET_AVX2 void vrow_avx2(const void *src, size_t stride, int n, const int16_t *q, int taps, void *dst,
                                  int in_u8, int out_u8) {
    int x = vpass_avx2(src, stride, n, q, taps, SHIFT(in_u8, out_u8), dst, in_u8, out_u8);
    vpass_c(src, stride, x, n, q, taps, SHIFT(in_u8, out_u8), dst, in_u8, out_u8);
}

INLINE TARGET_AVX2 void hrow_avx2(const void *src, const fn_rs_axis *a, void *dst, int in_u8, int out_u8) {
    int i = 0;
    if (a->in >= a->taps8) {
        if (a->taps8 == 4) i = hpass4_avx2(src, a->start8, a->wq8, a->out, SHIFT(in_u8, out_u8), dst, in_u8, out_u8);
        else if (a->taps8 == 8) i = hpass_avx2(src, a->start8, a->wq8, a->out, SHIFT(in_u8, out_u8), dst, in_u8, out_u8);
        else i = hpass_sse2(src, a->start8, a->wq8, a->taps8, a->out, SHIFT(in_u8, out_u8), dst, in_u8, out_u8);
    }
    hpass_c(src, a, i, SHIFT(in_u8, out_u8), dst, in_u8, out_u8);
}

static TARGET_AVX2 void vrow_u8_i16_avx2(const void *s, size_t st, int n, const int16_t *q, int t, void *d) { vrow_avx2(s, st, n, q, t, d, 1, 0); }
static TARGET_AVX2 void vrow_i16_u8_avx2(const void *s, size_t st, int n, const int16_t *q, int t, void *d) { vrow_avx2(s, st, n, q, t, d, 0, 1); }
static TARGET_AVX2 void vrow_u8_u8_avx2(const void *s, size_t st, int n, const int16_t *q, int t, void *d) { vrow_avx2(s, st, n, q, t, d, 1, 1); }
static TARGET_AVX2 void hrow_u8_i16_avx2(const void *s, const fn_rs_axis *a, void *d) { hrow_avx2(s, a, d, 1, 0); }
static TARGET_AVX2 void hrow_i16_u8_avx2(const void *s, const fn_rs_axis *a, void *d) { hrow_avx2(s, a, d, 0, 1); }
static TARGET_AVX2 void hrow_u8_u8_avx2(const void *s, const fn_rs_axis *a, void *d) { hrow_avx2(s, a, d, 1, 1); }
#endif

typedef void (*vrow_fn)(const void *, size_t, int, const int16_t *, int, void *);
typedef void (*hrow_fn)(const void *, const fn_rs_axis *, void *);

typedef struct fixed_job {
    const fn_resampler *r;
    const uint8_t *in;
    uint8_t *out;
    int vfirst, mh, y0; /* H first: the intermediate holds mh rows from input row y0 */
    vrow_fn v_u8_i16, v_i16_u8, v_u8_u8;
    hrow_fn h_u8_i16, h_i16_u8, h_u8_u8;
} fixed_job;

/* one pass alone, or V then H: output row y of plane c (tmp: a row of in_w + 8 16-bit values) */
static void fixed_out_row(const fixed_job *j, int c, int y, int16_t *tmp) {
    const fn_resampler *r = j->r;
    const int ih = r->in_h, iw = r->in_w, oh = r->out_h, ow = r->out_w;
    const uint8_t *in = j->in + (size_t)c * ih * iw;
    uint8_t *out = j->out + (size_t)c * oh * ow + (size_t)y * ow;
    const fn_rs_axis *ay = &r->y;
    const int16_t *qy = ay->wq + (size_t)y * ay->taps;
    if (ih == oh) j->h_u8_u8(in + (size_t)y * iw, &r->x, out);
    else if (iw == ow) j->v_u8_u8(in + (size_t)ay->start[y] * iw, (size_t)iw, iw, qy, ay->taps, out);
    else {
        j->v_u8_i16(in + (size_t)ay->start[y] * iw, (size_t)iw, iw, qy, ay->taps, tmp);
        j->h_i16_u8(tmp, &r->x, out);
    }
}

/* H first: pass 1 fills row y of plane c's intermediate mid ([mh][out_w]); pass 2 makes output row y */
static void fixed_hfirst_row(const fixed_job *j, int p, int c, int y, int16_t *mid) {
    const fn_resampler *r = j->r;
    const int ih = r->in_h, iw = r->in_w, oh = r->out_h, ow = r->out_w;
    const fn_rs_axis *ay = &r->y;
    if (p == 0) {
        j->h_u8_i16(j->in + ((size_t)c * ih + j->y0 + y) * iw, &r->x, mid + (size_t)y * ow);
    } else {
        j->v_i16_u8(mid + (size_t)(ay->start[y] - j->y0) * ow, (size_t)ow, ow, ay->wq + (size_t)y * ay->taps, ay->taps,
                    j->out + ((size_t)c * oh + y) * ow);
    }
}

static int run_fixed(const fn_resampler *r, const fn_tensor *in, fn_tensor *out, fn_err *e) {
    const int C = in->c, ih = r->in_h, iw = r->in_w, oh = r->out_h, ow = r->out_w;
    fixed_job j = {r, in->data, out->data, 1, 0, 0,
                   vrow_u8_i16, vrow_i16_u8, vrow_u8_u8, hrow_u8_i16, hrow_i16_u8, hrow_u8_u8};
#ifdef RS_AVX2
    if (__builtin_cpu_supports("avx2")) {
        j.v_u8_i16 = vrow_u8_i16_avx2, j.v_i16_u8 = vrow_i16_u8_avx2, j.v_u8_u8 = vrow_u8_u8_avx2;
        j.h_u8_i16 = hrow_u8_i16_avx2, j.h_i16_u8 = hrow_i16_u8_avx2, j.h_u8_u8 = hrow_u8_u8_avx2;
    }
#endif
    /* the work of each order (in vector-lane multiply-adds, roughly): V first streams row by row
     * through one row of 16-bit values; H first needs the horizontally filtered rows of a plane */
    double hcost = (double)ow * (r->x.taps8 + 4), vcost = (r->y.taps + 2.0) / 2, work;
    if (ih != oh && iw != ow) {
        int y0 = r->y.start[0], y1 = r->y.start[oh - 1] + r->y.taps;
        double wv = (double)oh * iw * vcost + (double)oh * hcost, wh = (double)(y1 - y0) * hcost + (double)oh * ow * vcost;
        j.vfirst = wv <= 1.25 * wh; /* V first also keeps no intermediate plane */
        j.mh = y1 - y0;
        j.y0 = y0;
        work = j.vfirst ? wv : wh;
    } else {
        work = ih != oh ? (double)oh * iw * vcost : (double)ih * hcost;
    }
    work *= C;
    /* threads only for big frames (a millisecond and more): after a parallel region libgomp's idle
     * threads spin (GOMP_SPINCOUNT) before they sleep, which costs more CPU than a small frame */
    int par = work >= 4e6, err = 0;
    if (j.vfirst) {
#pragma omp parallel if (par)
        {
            int16_t *tmp = malloc(sizeof(int16_t) * ((size_t)iw + 8)); /* 8 spare: vectors may read past the row */
            if (!tmp) {
#pragma omp atomic write
                err = 1;
            } else {
                memset(tmp + iw, 0, sizeof(int16_t) * 8);
            }
#pragma omp for schedule(static)
            for (long cy = 0; cy < (long)C * oh; cy++)
                if (tmp) fixed_out_row(&j, (int)(cy / oh), (int)(cy % oh), tmp);
            free(tmp);
        }
    } else { /* plane by plane (the intermediate stays in cache), or all planes at once with threads */
        size_t plane = (size_t)j.mh * ow;
        int16_t *mid = malloc(sizeof(int16_t) * ((par ? (size_t)C : 1) * plane + 8));
        if (!mid) return fn_seterr(e, "out of memory");
        memset(mid + (par ? (size_t)C : 1) * plane, 0, sizeof(int16_t) * 8);
        if (!par) {
            for (int c = 0; c < C; c++)
                for (int p = 0; p < 2; p++)
                    for (int y = 0; y < (p ? oh : j.mh); y++) fixed_hfirst_row(&j, p, c, y, mid);
        } else {
#pragma omp parallel
            for (int p = 0; p < 2; p++) {
                long n = p ? oh : j.mh;
#pragma omp for schedule(static)
                for (long cy = 0; cy < (long)C * n; cy++)
                    fixed_hfirst_row(&j, p, (int)(cy / n), (int)(cy % n), mid + (size_t)(cy / n) * plane);
            }
        }
        free(mid);
    }
    return err ? fn_seterr(e, "out of memory") : 0;
}

int fn_resampler_run(const fn_resampler *r, const fn_tensor *in, fn_tensor *out, fn_err *e) {
    if (in->h != r->in_h || in->w != r->in_w || out->h != r->out_h || out->w != r->out_w || out->c != in->c)
        return fn_seterr(e, "resample: shape mismatch (%dx%dx%d to %dx%dx%d, set up for %dx%d to %dx%d)", in->c,
                         in->h, in->w, out->c, out->h, out->w, r->in_h, r->in_w, r->out_h, r->out_w);
    if (r->filter == FN_RS_NEAREST) return run_nearest(r, in, out);
    if (in->dtype == FN_U8 && out->dtype == FN_U8) {
        if (r->in_h == r->out_h && r->in_w == r->out_w) {
            memcpy(out->data, in->data, fn_tensor_bytes(in));
            return 0;
        }
        return run_fixed(r, in, out, e);
    }
    return run_linear(r, in, out, e);
}

fn_tensor *fn_resize(const fn_tensor *in, int out_h, int out_w, fn_rs_filter f, int dt, fn_err *e) {
    fn_resampler *r = fn_resampler_new(in->h, in->w, out_h, out_w, f, e);
    if (!r) return NULL;
    fn_tensor *o = fn_tensor_new(dt < 0 ? in->dtype : (fn_dtype)dt, in->c, out_h, out_w, e);
    if (o && fn_resampler_run(r, in, o, e)) {
        fn_tensor_free(o);
        o = NULL;
    }
    fn_resampler_free(r);
    return o;
}

fn_tensor *fn_crop(const fn_tensor *t, int y0, int x0, int h, int w, fn_err *e) {
    if (y0 < 0 || x0 < 0 || h < 1 || w < 1 || y0 + h > t->h || x0 + w > t->w) {
        fn_seterr(e, "crop %dx%d at (%d,%d) does not fit in %dx%d", h, w, y0, x0, t->h, t->w);
        return NULL;
    }
    fn_tensor *o = fn_tensor_new(t->dtype, t->c, h, w, e);
    if (!o) return NULL;
    size_t es = fn_dtype_size(t->dtype);
    for (int c = 0; c < t->c; c++)
        for (int y = 0; y < h; y++)
            memcpy((char *)o->data + (((size_t)c * h + y) * w) * es,
                   (const char *)t->data + (((size_t)c * t->h + y0 + y) * t->w + x0) * es, (size_t)w * es);
    return o;
}

fn_tensor *fn_pad(const fn_tensor *t, int top, int left, int h, int w, fn_err *e) {
    if (top < 0 || left < 0 || top + t->h > h || left + t->w > w) {
        fn_seterr(e, "pad: %dx%d at (%d,%d) does not fit in %dx%d", t->h, t->w, top, left, h, w);
        return NULL;
    }
    fn_tensor *o = fn_tensor_new(t->dtype, t->c, h, w, e); /* zeroed */
    if (!o) return NULL;
    size_t es = fn_dtype_size(t->dtype);
    for (int c = 0; c < t->c; c++)
        for (int y = 0; y < t->h; y++)
            memcpy((char *)o->data + (((size_t)c * h + top + y) * w + left) * es,
                   (const char *)t->data + (((size_t)c * t->h + y) * t->w) * es, (size_t)t->w * es);
    return o;
}
