/* frames.c: one frame as a member of a data set: its checks, its conversion to f32 and the
 * fingerprint (for the in-memory sets of dataset.c and the file-backed ones of store.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "train/frames.h"

static int frame_err(fn_err *e, const char *name, long k, const fn_frame *f, const char *what) {
    return fn_seterr(e, "%s: frame %ld (%s): %s", name, k, f->id ? f->id : "?", what);
}

int fn_input_image(const fn_frame *f, const char *name, long k, float *dst, fn_err *e) {
    const fn_tensor *t = f->image;
    char msg[160];
    if (!t) return frame_err(e, name, k, f, "no image");
    if (t->h % 16 || t->w % 16) {
        snprintf(msg, sizeof msg, "image is %dx%d; height and width must be multiples of 16 (use fn-resize)",
                 t->h, t->w);
        return frame_err(e, name, k, f, msg);
    }
    size_t n = fn_tensor_numel(t);
    for (size_t i = 0; i < n; i++) {
        double v = fn_tensor_get(t, i);
        if (!isfinite(v)) return frame_err(e, name, k, f, "image has NaN or Inf values");
        if (dst) dst[i] = (float)v;
    }
    return 0;
}

static int check_mask(const fn_frame *f, const char *name, long k, float *dst, fn_err *e) {
    const fn_tensor *m = f->mask;
    char msg[160];
    if (!m) return frame_err(e, name, k, f, "no mask (training and validation frames need one)");
    if (m->c != 1 || m->h != f->image->h || m->w != f->image->w) {
        snprintf(msg, sizeof msg, "mask is %dx%dx%d, the image %dx%d (want 1 channel, the image's size)", m->c,
                 m->h, m->w, f->image->h, f->image->w);
        return frame_err(e, name, k, f, msg);
    }
    size_t n = fn_tensor_numel(m);
    for (size_t i = 0; i < n; i++) {
        double v = fn_tensor_get(m, i);
        if (!isfinite(v)) return frame_err(e, name, k, f, "mask has NaN or Inf values");
        if (v < 0 || v > 1) return frame_err(e, name, k, f, "mask values outside [0, 1]");
        dst[i] = (float)v;
    }
    return 0;
}

void fn_frame_meta_text(const fn_frame *f, const char *key, char *buf, size_t n) {
    double v;
    if (fn_meta_get_str(f, key, buf, n) == 0) return;
    if (fn_meta_get_num(f, key, &v) == 0) snprintf(buf, n, "%.17g", v);
    else buf[0] = 0;
}

int fn_dataset_frame(fn_dataset *ds, const fn_frame *f, const char *name, long k, int need_mask, float *x,
                     float *y, fn_err *e) {
    if (fn_input_image(f, name, k, NULL, e)) return -1;
    const fn_tensor *t = f->image;
    if (ds->n == 0) {
        ds->c = t->c; ds->h = t->h; ds->w = t->w;
        fn_frame_meta_text(f, "norm_mode", ds->norm_mode, sizeof ds->norm_mode);
        fn_frame_meta_text(f, "norm_mean", ds->norm_mean, sizeof ds->norm_mean);
        fn_frame_meta_text(f, "norm_std", ds->norm_std, sizeof ds->norm_std);
    } else if (t->c != ds->c || t->h != ds->h || t->w != ds->w) {
        char msg[200];
        snprintf(msg, sizeof msg, "image is %dx%dx%d but the first frame's is %dx%dx%d (one size per stream)",
                 t->c, t->h, t->w, ds->c, ds->h, ds->w);
        return frame_err(e, name, k, f, msg);
    }
    if (x) fn_input_image(f, name, k, x, e);
    return need_mask && y ? check_mask(f, name, k, y, e) : 0;
}

static uint64_t mix(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
    return h * 0xff51afd7ed558ccdULL;
}

uint64_t fn_fingerprint_frame(uint64_t h, const float *x, size_t px, const float *y, size_t py) {
    uint32_t u;
    for (size_t i = 0; i < px; i++) { memcpy(&u, &x[i], 4); h = mix(h, u); }
    for (size_t i = 0; y && i < py; i++) { memcpy(&u, &y[i], 4); h = mix(h, u); }
    return h;
}

uint64_t fn_fingerprint_end(uint64_t h, const fn_dataset *ds) {
    return mix(mix(mix(mix(h, (uint64_t)ds->n), (uint64_t)ds->c), (uint64_t)ds->h), (uint64_t)ds->w);
}
