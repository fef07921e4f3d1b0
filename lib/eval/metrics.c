/* metrics.c: confusion counts, Dice/Jaccard and the pooled rates, exact EDT and HD95. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "eval/metrics.h"

/* the counts of a block of n <= 2^31 pixels: c[0] TP, c[1] predicted, c[2] true, c[3] NaN/Inf (v - v
 * is 0 for a finite v and NaN otherwise). 32-bit lanes and no branches, so that GCC vectorises it (AVX2
 * chosen at run time): scoring full-resolution masks is this loop. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("default", "avx2"), optimize("tree-vectorize", "vect-cost-model=dynamic",
                                                              "no-trapping-math")))
#endif
static void count_block(const float *restrict p, const uint8_t *restrict m, size_t n, float t, uint64_t c[4]) {
    uint32_t tp = 0, np = 0, nm = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        float v = p[i], d = v - v;
        uint32_t a = v > t, b = m[i] != 0;
        tp += a & b;
        np += a;
        nm += b;
        bad += d != d;
    }
    c[0] += tp, c[1] += np, c[2] += nm, c[3] += bad;
}

int fn_confusion_count(const fn_tensor *pred, const fn_tensor *mask, double threshold, fn_confusion *c,
                       uint8_t *pb, uint8_t *mb, fn_err *e) {
    if (pred->dtype != FN_F32) return fn_seterr(e, "pred is %s, not f32", fn_dtype_name(pred->dtype));
    if (mask->dtype != FN_U8) return fn_seterr(e, "mask is %s, not u8", fn_dtype_name(mask->dtype));
    if (pred->c != 1 || mask->c != 1)
        return fn_seterr(e, "pred and mask must have one channel (pred %d, mask %d)", pred->c, mask->c);
    if (pred->h != mask->h || pred->w != mask->w)
        return fn_seterr(e, "pred is %dx%d but mask is %dx%d", pred->h, pred->w, mask->h, mask->w);
    size_t n = (size_t)pred->h * pred->w;
    const float *p = pred->data;
    const uint8_t *m = mask->data;
    float t = (float)threshold;
    uint64_t k[4] = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i += (size_t)1 << 30)
        count_block(p + i, m + i, n - i < ((size_t)1 << 30) ? n - i : (size_t)1 << 30, t, k);
    if (k[3]) return fn_seterr(e, "pred holds %llu NaN or infinite values", (unsigned long long)k[3]);
    for (size_t i = 0; (pb || mb) && i < n; i++) {
        if (pb) pb[i] = (uint8_t)(p[i] > t);
        if (mb) mb[i] = (uint8_t)(m[i] != 0);
    }
    uint64_t tp = k[0], fp = k[1] - k[0], fn = k[2] - k[0];
    c->tp = tp, c->fp = fp, c->fn = fn, c->tn = n - tp - fp - fn;
    return 0;
}

int fn_confusion_count_roi(const fn_tensor *pred, const fn_tensor *mask, const fn_tensor *roi, double threshold,
                           fn_confusion *c, uint8_t *pb, uint8_t *mb, fn_err *e) {
    if (fn_confusion_count(pred, mask, threshold, c, pb, mb, e)) return -1;
    if (!roi) return 0;
    if (roi->dtype != FN_U8 || roi->c != 1) return fn_seterr(e, "roi is %s with %d channels, not u8 with 1",
                                                             fn_dtype_name(roi->dtype), roi->c);
    if (roi->h != pred->h || roi->w != pred->w)
        return fn_seterr(e, "roi is %dx%d but pred is %dx%d", roi->h, roi->w, pred->h, pred->w);
    size_t n = (size_t)pred->h * pred->w;
    const float *p = pred->data;
    const uint8_t *m = mask->data, *r = roi->data;
    float t = (float)threshold;
    uint64_t tp = 0, fp = 0, fn = 0, in = 0;
    for (size_t i = 0; i < n; i++) {
        int k = r[i] != 0, a = (p[i] > t) & k, b = (m[i] != 0) & k;
        in += (uint64_t)k;
        tp += a & b;
        fp += a & (!b);
        fn += (!a) & b;
        if (pb) pb[i] = (uint8_t)a;
        if (mb) mb[i] = (uint8_t)b;
    }
    c->tp = tp, c->fp = fp, c->fn = fn, c->tn = in - tp - fp - fn;
    return 0;
}

void fn_confusion_add(fn_confusion *s, const fn_confusion *c) {
    s->tp += c->tp, s->fp += c->fp, s->fn += c->fn, s->tn += c->tn;
}

double fn_dice(const fn_confusion *c) {
    uint64_t d = 2 * c->tp + c->fp + c->fn;
    return d ? 2.0 * c->tp / d : 1.0;
}

double fn_jaccard(const fn_confusion *c) {
    uint64_t d = c->tp + c->fp + c->fn;
    return d ? (double)c->tp / d : 1.0;
}

double fn_accuracy(const fn_confusion *c) {
    uint64_t n = c->tp + c->fp + c->fn + c->tn;
    return n ? (double)(c->tp + c->tn) / n : NAN;
}

double fn_sensitivity(const fn_confusion *c) { return c->tp + c->fn ? (double)c->tp / (c->tp + c->fn) : NAN; }
double fn_specificity(const fn_confusion *c) { return c->tn + c->fp ? (double)c->tn / (c->tn + c->fp) : NAN; }

/* 1-D squared distance transform of f[0..n-1] into d (Felzenszwalb & Huttenlocher 2012); v, z scratch */
static void edt1(const double *f, int n, double *d, int *v, double *z) {
    int k = 0;
    int first = -1;
    for (int q = 0; q < n; q++)
        if (isfinite(f[q])) {
            first = q;
            break;
        }
    if (first < 0) {
        for (int q = 0; q < n; q++) d[q] = INFINITY;
        return;
    }
    v[0] = first;
    z[0] = -INFINITY;
    z[1] = INFINITY;
    for (int q = first + 1; q < n; q++) {
        if (!isfinite(f[q])) continue;
        double s;
        for (;;) {
            int p = v[k];
            s = ((f[q] + (double)q * q) - (f[p] + (double)p * p)) / (2.0 * (q - p));
            if (s <= z[k] && k > 0) k--;
            else break;
        }
        k++;
        v[k] = q;
        z[k] = s;
        z[k + 1] = INFINITY;
    }
    k = 0;
    for (int q = 0; q < n; q++) {
        while (z[k + 1] < q) k++;
        double dq = q - v[k];
        d[q] = dq * dq + f[v[k]];
    }
}

int fn_edt_sq(const uint8_t *src, int h, int w, double *d, fn_err *e) {
    int n = h > w ? h : w;
    double *f = calloc((size_t)n, sizeof(double)), *o = malloc(sizeof(double) * (size_t)n);
    double *z = malloc(sizeof(double) * (size_t)(n + 1));
    int *v = malloc(sizeof(int) * (size_t)n);
    if (!f || !o || !z || !v) {
        free(f), free(o), free(z), free(v);
        return fn_seterr(e, "out of memory");
    }
    for (int x = 0; x < w; x++) { /* columns */
        for (int y = 0; y < h; y++) f[y] = src[(size_t)y * w + x] ? 0.0 : INFINITY;
        edt1(f, h, o, v, z);
        for (int y = 0; y < h; y++) d[(size_t)y * w + x] = o[y];
    }
    for (int y = 0; y < h; y++) { /* rows */
        double *row = d + (size_t)y * w;
        memcpy(f, row, sizeof(double) * (size_t)w);
        edt1(f, w, row, v, z);
    }
    free(f), free(o), free(z), free(v);
    return 0;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double fn_percentile(double *v, size_t n, double p) {
    if (n == 0) return NAN;
    qsort(v, n, sizeof *v, cmp_double);
    double pos = p / 100.0 * (double)(n - 1);
    size_t i = (size_t)floor(pos);
    if (i >= n - 1) return v[n - 1];
    double fr = pos - (double)i;
    return v[i] + fr * (v[i + 1] - v[i]);
}

/* boundary: foreground pixels with a 4-neighbour that is background or outside the image */
static size_t boundary(const uint8_t *a, int h, int w, uint8_t *bd) {
    size_t n = 0;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            int b = a[i] && (y == 0 || x == 0 || y == h - 1 || x == w - 1 || !a[i - 1] || !a[i + 1] || !a[i - w] ||
                             !a[i + w]);
            bd[i] = (uint8_t)b;
            n += (size_t)b;
        }
    return n;
}

double fn_hd95(const uint8_t *a, const uint8_t *b, int h, int w, fn_err *e) {
    size_t n = (size_t)h * w;
    uint8_t *ba = malloc(n), *bb = malloc(n);
    double *da = malloc(sizeof(double) * n), *db = malloc(sizeof(double) * n);
    double r = NAN;
    if (!ba || !bb || !da || !db) {
        fn_seterr(e, "out of memory");
        goto done;
    }
    size_t na = boundary(a, h, w, ba), nb = boundary(b, h, w, bb);
    if (!na || !nb) {
        r = !na && !nb ? 0.0 : NAN;
        goto done;
    }
    if (fn_edt_sq(ba, h, w, da, e) || fn_edt_sq(bb, h, w, db, e)) goto done;
    double *all = malloc(sizeof(double) * (na + nb));
    if (!all) {
        fn_seterr(e, "out of memory");
        goto done;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (ba[i]) all[k++] = sqrt(db[i]);
        if (bb[i]) all[k++] = sqrt(da[i]);
    }
    r = fn_percentile(all, k, 95.0);
    free(all);
done:
    free(ba), free(bb), free(da), free(db);
    return r;
}
