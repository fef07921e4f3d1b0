/* resample.c: separable antialiased resampling (Pillow's BILINEAR) and nearest neighbour.
 *
 * Linear: for output i of an axis shrinking by scale = in/out, the filter is a triangle of half-width
 * max(scale, 1) centred at (i + 0.5) * scale in input coordinates; weights are normalised to sum 1
 * (Pillow's precompute_coeffs). Each output row is filtered along y, then along x, in floats
 * (Pillow goes x then y through an 8-bit buffer: results differ by rounding only). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "resample.h"

static void axis_free(fn_rs_axis *a) {
    free(a->start);
    free(a->w);
    a->start = NULL;
    a->w = NULL;
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

/* Vertical pass first (vectorised along the row, reading the input dtype directly), then the
 * horizontal pass on that one row: no image-sized buffer, and every output row is independent. */
static int run_linear(const fn_resampler *r, const fn_tensor *in, fn_tensor *out, fn_err *e) {
    const int C = in->c, ih = r->in_h, iw = r->in_w, oh = r->out_h, ow = r->out_w;
    const int doh = iw != ow, dov = ih != oh;
    double work = (double)C * oh * ((double)iw * r->y.taps + (double)ow * r->x.taps);
    /* threads only for big frames: after a parallel region libgomp's idle threads spin (GOMP_SPINCOUNT,
     * some milliseconds) before they sleep, which costs more CPU than a small frame's resize */
    int par = work > 3e7;
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
                const float *w = r->y.w + (size_t)y * r->y.taps;
                int first = 1;
                for (int k = 0; k < r->y.taps; k++) {
                    if (w[k] == 0.0f) continue;
                    axpy_f(in->data, in->dtype, plane + (size_t)(r->y.start[y] + k) * iw, iw, w[k], row, first);
                    first = 0;
                }
                if (first) memset(row, 0, sizeof(float) * (size_t)iw);
            } else {
                load_f(in->data, in->dtype, plane + (size_t)y * iw, iw, row);
            }
            if (doh) filter_row(&r->x, row, orow);
            store_f(out->data, out->dtype, ((size_t)c * oh + y) * ow, doh ? orow : row, ow);
        }
        free(row);
        free(orow);
    }
    return err ? fn_seterr(e, "out of memory") : 0;
}

int fn_resampler_run(const fn_resampler *r, const fn_tensor *in, fn_tensor *out, fn_err *e) {
    if (in->h != r->in_h || in->w != r->in_w || out->h != r->out_h || out->w != r->out_w || out->c != in->c)
        return fn_seterr(e, "resample: shape mismatch (%dx%dx%d to %dx%dx%d, set up for %dx%d to %dx%d)", in->c,
                         in->h, in->w, out->c, out->h, out->w, r->in_h, r->in_w, r->out_h, r->out_w);
    if (r->filter == FN_RS_NEAREST) return run_nearest(r, in, out);
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
