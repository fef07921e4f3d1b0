/* dataset.c: frames to one f32 array (the training and validation sets of fn-train). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "train/dataset.h"
#include "train/store.h"

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

uint64_t fn_dataset_fingerprint(const fn_dataset *ds) {
    if (!ds->x) return ds->fp;
    size_t px = (size_t)ds->c * ds->h * ds->w, py = (size_t)ds->h * ds->w;
    uint64_t h = 0;
    for (int i = 0; i < ds->n; i++)
        h = fn_fingerprint_frame(h, ds->x + px * (size_t)i, px, ds->y ? ds->y + py * (size_t)i : NULL, py);
    return fn_fingerprint_end(h, ds);
}
