/* mask.c: label selection and block reduction of masks */
#include <stdint.h>
#include <string.h>
#include "imgproc/mask.h"

static int is_fg(double v, const fn_mask_rule *r) {
    if (r->nvalues > 0) {
        for (int k = 0; k < r->nvalues; k++)
            if (v == r->values[k]) return 1;
        return 0;
    }
    if (r->has_threshold) return v >= r->threshold;
    return v != 0;
}

fn_tensor *fn_maskify(const fn_tensor *m, const fn_mask_rule *r, fn_err *e) {
    fn_tensor *t = fn_tensor_new(FN_U8, 1, m->h, m->w, e);
    if (!t) return NULL;
    size_t n = (size_t)m->h * m->w;
    uint8_t *o = t->data;
    if (m->dtype == FN_U8) { /* the common case: a table of the 256 answers */
        uint8_t lut[256];
        for (int v = 0; v < 256; v++) lut[v] = (uint8_t)is_fg(v, r);
        const uint8_t *s = m->data;
        if (m->c == 1) {
            for (size_t i = 0; i < n; i++) o[i] = lut[s[i]];
            return t;
        }
        for (size_t i = 0; i < n; i++) {
            uint8_t v = s[i];
            for (int c = 1; c < m->c; c++)
                if (s[c * n + i] > v) v = s[c * n + i];
            o[i] = lut[v];
        }
        return t;
    }
    for (size_t i = 0; i < n; i++) {
        double v = fn_tensor_get(m, i);
        for (int c = 1; c < m->c; c++) {
            double u = fn_tensor_get(m, c * n + i);
            if (u > v) v = u;
        }
        o[i] = (uint8_t)is_fg(v, r);
    }
    return t;
}

fn_tensor *fn_mask_reduce(const fn_tensor *m, int d, fn_err *e) {
    if (d <= 1) return fn_tensor_clone(m, e);
    int h = (m->h + d - 1) / d, w = (m->w + d - 1) / d;
    fn_tensor *t = fn_tensor_new(FN_U8, 1, h, w, e);
    if (!t) return NULL;
    const uint8_t *s = m->data;
    uint8_t *o = t->data;
    for (int y = 0; y < h; y++) {
        int y1 = (y + 1) * d < m->h ? (y + 1) * d : m->h;
        for (int x = 0; x < w; x++) {
            int x1 = (x + 1) * d < m->w ? (x + 1) * d : m->w, on = 0;
            for (int yy = y * d; yy < y1; yy++)
                for (int xx = x * d; xx < x1; xx++) on += s[(size_t)yy * m->w + xx] != 0;
            o[(size_t)y * w + x] = 2 * on >= (y1 - y * d) * (x1 - x * d);
        }
    }
    return t;
}
