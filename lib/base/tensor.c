/* tensor.c: host tensors [C,H,W] of u8, u16 or f32 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "base/tensor.h"

size_t fn_dtype_size(fn_dtype t) { return t == FN_U8 ? 1 : t == FN_U16 ? 2 : 4; }

const char *fn_dtype_name(fn_dtype t) { return t == FN_U8 ? "u8" : t == FN_U16 ? "u16" : "f32"; }

int fn_dtype_parse(const char *s, fn_dtype *t) {
    if (!strcmp(s, "u8")) *t = FN_U8;
    else if (!strcmp(s, "u16")) *t = FN_U16;
    else if (!strcmp(s, "f32")) *t = FN_F32;
    else return -1;
    return 0;
}

size_t fn_tensor_numel(const fn_tensor *t) { return (size_t)t->c * t->h * t->w; }
size_t fn_tensor_bytes(const fn_tensor *t) { return fn_tensor_numel(t) * fn_dtype_size(t->dtype); }

static fn_tensor *tensor_make(fn_dtype dt, int c, int h, int w, int zero, fn_err *e) {
    if (c < 1 || h < 1 || w < 1 || c > FN_MAX_C || h > FN_MAX_HW || w > FN_MAX_HW) {
        fn_seterr(e, "bad tensor shape [%d,%d,%d] (limits: C 1..%d, H and W 1..%d)", c, h, w, FN_MAX_C,
                  FN_MAX_HW);
        return NULL;
    }
    fn_tensor *t = malloc(sizeof *t);
    size_t n = (size_t)c * h * w * fn_dtype_size(dt);
    void *d = !t ? NULL : zero ? calloc(1, n) : malloc(n ? n : 1);
    if (!d) {
        free(t);
        fn_seterr(e, "out of memory for a [%d,%d,%d] %s tensor", c, h, w, fn_dtype_name(dt));
        return NULL;
    }
    *t = (fn_tensor){dt, c, h, w, d};
    return t;
}

fn_tensor *fn_tensor_new(fn_dtype dt, int c, int h, int w, fn_err *e) { return tensor_make(dt, c, h, w, 1, e); }

fn_tensor *fn_tensor_alloc(fn_dtype dt, int c, int h, int w, fn_err *e) { return tensor_make(dt, c, h, w, 0, e); }

fn_tensor *fn_tensor_clone(const fn_tensor *t, fn_err *e) {
    fn_tensor *r = fn_tensor_new(t->dtype, t->c, t->h, t->w, e);
    if (r) memcpy(r->data, t->data, fn_tensor_bytes(t));
    return r;
}

void fn_tensor_free(fn_tensor *t) {
    if (!t) return;
    free(t->data);
    free(t);
}

double fn_tensor_get(const fn_tensor *t, size_t i) {
    switch (t->dtype) {
    case FN_U8: return ((const uint8_t *)t->data)[i];
    case FN_U16: return ((const uint16_t *)t->data)[i];
    default: return ((const float *)t->data)[i];
    }
}

void fn_tensor_set(fn_tensor *t, size_t i, double v) {
    switch (t->dtype) {
    case FN_U8: ((uint8_t *)t->data)[i] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : lrint(v)); break;
    case FN_U16: ((uint16_t *)t->data)[i] = (uint16_t)(v < 0 ? 0 : v > 65535 ? 65535 : lrint(v)); break;
    default: ((float *)t->data)[i] = (float)v;
    }
}

fn_tensor *fn_tensor_to_f32(const fn_tensor *t, fn_err *e) {
    fn_tensor *r = fn_tensor_new(FN_F32, t->c, t->h, t->w, e);
    if (!r) return NULL;
    float *d = r->data;
    size_t n = fn_tensor_numel(t);
    if (t->dtype == FN_U8)
        for (size_t i = 0; i < n; i++) d[i] = ((const uint8_t *)t->data)[i];
    else if (t->dtype == FN_U16)
        for (size_t i = 0; i < n; i++) d[i] = ((const uint16_t *)t->data)[i];
    else
        memcpy(d, t->data, n * sizeof(float));
    return r;
}

/* typed loops: integer tensors need no finiteness test and sum exactly in 64 bits */
#define RANGE_SUM(name, type)                                                                                          \
    static void name(const type *d, size_t n, unsigned *lo, unsigned *hi, uint64_t *sum) {                           \
        unsigned l = *lo, h = *hi;                                                                                     \
        uint64_t s = 0;                                                                                                \
        for (size_t i = 0; i < n; i++) {                                                                               \
            unsigned v = d[i];                                                                                         \
            l = v < l ? v : l;                                                                                         \
            h = v > h ? v : h;                                                                                         \
            s += v;                                                                                                    \
        }                                                                                                              \
        *lo = l, *hi = h, *sum += s;                                                                                   \
    }
RANGE_SUM(range_sum_u8, uint8_t)
RANGE_SUM(range_sum_u16, uint16_t)

size_t fn_tensor_stats(const fn_tensor *t, double *min, double *max, double *mean) {
    size_t n = fn_tensor_numel(t), bad = 0, good = 0;
    if (t->dtype == FN_U8 || t->dtype == FN_U16) {
        unsigned lo = 65535, hi = 0;
        uint64_t sum = 0;
        if (t->dtype == FN_U8) range_sum_u8(t->data, n, &lo, &hi, &sum);
        else range_sum_u16(t->data, n, &lo, &hi, &sum);
        *min = n ? lo : 0;
        *max = n ? hi : 0;
        *mean = n ? (double)sum / n : 0;
        return 0;
    }
    const float *d = t->data;
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (size_t i = 0; i < n; i++) {
        double v = d[i];
        if (!isfinite(v)) { bad++; continue; }
        if (v < lo) lo = v;
        if (v > hi) hi = v;
        sum += v;
        good++;
    }
    *min = good ? lo : 0;
    *max = good ? hi : 0;
    *mean = good ? sum / good : 0;
    return bad;
}
