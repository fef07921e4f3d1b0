/* display.c: 8-bit views of tensors for writing picture files */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "imgproc/display.h"

fn_tensor *fn_display_u8(const fn_tensor *t, fn_err *e) {
    if (t->dtype == FN_U8) return fn_tensor_clone(t, e);
    fn_tensor *r = fn_tensor_new(FN_U8, t->c, t->h, t->w, e);
    if (!r) return NULL;
    double lo, hi, mean;
    fn_tensor_stats(t, &lo, &hi, &mean);
    size_t n = fn_tensor_numel(t);
    uint8_t *o = r->data;
    double scale = hi > lo ? 255.0 / (hi - lo) : 0;
    if (t->dtype == FN_U16) {
        const uint16_t *s = t->data;
        for (size_t i = 0; i < n; i++) o[i] = (uint8_t)lrint((s[i] - lo) * scale);
    } else {
        const float *s = t->data;
        for (size_t i = 0; i < n; i++) o[i] = isfinite(s[i]) ? (uint8_t)lrint((s[i] - lo) * scale) : 0;
    }
    return r;
}

fn_tensor *fn_prob_u8(const fn_tensor *t, fn_err *e) {
    fn_tensor *r = fn_tensor_new(FN_U8, t->c, t->h, t->w, e);
    if (!r) return NULL;
    size_t n = fn_tensor_numel(t);
    uint8_t *o = r->data;
    for (size_t i = 0; i < n; i++) {
        double v = fn_tensor_get(t, i);
        if (t->dtype == FN_F32) v = isfinite(v) ? v * 255 : 0;
        o[i] = (uint8_t)(v <= 0 ? 0 : v >= 255 ? 255 : lrint(v));
    }
    return r;
}

fn_tensor *fn_mask_u8(const fn_tensor *t, fn_err *e) {
    fn_tensor *r = fn_tensor_new(FN_U8, t->c, t->h, t->w, e);
    if (!r) return NULL;
    size_t n = fn_tensor_numel(t);
    uint8_t *o = r->data;
    for (size_t i = 0; i < n; i++) o[i] = fn_tensor_get(t, i) != 0 ? 255 : 0;
    return r;
}
