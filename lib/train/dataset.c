/* dataset.c: frames to one f32 array (the training and validation sets of fn-train). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "train/dataset.h"
#include "train/store.h"

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

static int grow(fn_dataset *ds, int need_mask, fn_err *e) {
    int cap = ds->cap ? ds->cap * 2 : 64;
    size_t px = (size_t)ds->c * ds->h * ds->w, py = (size_t)ds->h * ds->w;
    float *x = realloc(ds->x, sizeof *x * px * (size_t)cap);
    if (!x) return fn_seterr(e, "out of memory holding %d frames", cap);
    ds->x = x;
    if (need_mask) {
        float *y = realloc(ds->y, sizeof *y * py * (size_t)cap);
        if (!y) return fn_seterr(e, "out of memory holding %d frames", cap);
        ds->y = y;
    }
    ds->cap = cap;
    return 0;
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

int fn_dataset_read(fn_dataset *ds, fn_reader *r, int need_mask, fn_err *e) {
    const char *name = fn_reader_name(r);
    memset(ds, 0, sizeof *ds);
    fn_frame f;
    fn_frame_init(&f);
    int rc;
    while ((rc = fn_reader_next(r, &f, e)) == 1) {
        long k = fn_reader_count(r);
        if (fn_dataset_frame(ds, &f, name, k, need_mask, NULL, NULL, e)) goto fail;
        if (ds->n == ds->cap && grow(ds, need_mask, e)) goto fail;
        size_t px = (size_t)ds->c * ds->h * ds->w, py = (size_t)ds->h * ds->w;
        if (fn_dataset_frame(ds, &f, name, k, need_mask, ds->x + px * (size_t)ds->n,
                             need_mask ? ds->y + py * (size_t)ds->n : NULL, e))
            goto fail;
        ds->n++;
        fn_frame_clear(&f);
    }
    if (rc < 0) goto fail;
    if (ds->n == 0) {
        fn_seterr(e, "%s: no frames", name);
        goto fail;
    }
    return 0;
fail:
    fn_frame_clear(&f);
    fn_dataset_free(ds);
    return -1;
}

void fn_dataset_free(fn_dataset *ds) {
    if (ds->store) fn_store_close(ds->store);
    free(ds->x);
    free(ds->y);
    memset(ds, 0, sizeof *ds);
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

uint64_t fn_dataset_fingerprint(const fn_dataset *ds) {
    if (!ds->x) return ds->fp;
    size_t px = (size_t)ds->c * ds->h * ds->w, py = (size_t)ds->h * ds->w;
    uint64_t h = 0;
    for (int i = 0; i < ds->n; i++)
        h = fn_fingerprint_frame(h, ds->x + px * (size_t)i, px, ds->y ? ds->y + py * (size_t)i : NULL, py);
    return fn_fingerprint_end(h, ds);
}
