/* frames.h: the data set record of fn-train and the checks of one frame as its member.
 *
 * Every frame must have an image; a labelled set also needs a mask (C=1, same H x W, values in [0,1]).
 * All images of one set share C, H and W; H and W are multiples of 16; no NaN or Inf anywhere.
 * u8 and u16 images are converted to f32 by value (no rescaling), as fn-infer does. */
#ifndef FN_TRAIN_FRAMES_H
#define FN_TRAIN_FRAMES_H

#include <stddef.h>
#include <stdint.h>
#include "base/err.h"
#include "data/stream.h"

typedef struct fn_dataset {
    int n, c, h, w;  /* n frames of [c,h,w] */
    float *x;        /* [n,c,h,w] images */
    float *y;        /* [n,1,h,w] masks (NULL for an unlabelled set) */
    int cap;         /* frames allocated */
    struct fn_store *store; /* or the frames stay on disk (train/store.h): x and y are NULL */
    uint64_t fp;     /* the fingerprint, once known (fn_dataset_fingerprint) */
    /* fn-normalize's meta of the first frame ("" when absent) */
    char norm_mode[64], norm_mean[512], norm_std[512];
} fn_dataset;

/* Check one frame's image as a network input (present, H and W multiples of 16, finite) and convert
 * it to f32 into dst (c*h*w floats; dst may be NULL to check only). e names the frame:
 * "NAME: frame K (ID): what is wrong". */
int fn_input_image(const fn_frame *f, const char *name, long k, float *dst, fn_err *e);

/* a meta value as text, whether stored as a string or a number (%.17g); "" when absent */
void fn_frame_meta_text(const fn_frame *f, const char *key, char *buf, size_t n);

/* Check frame f, the k-th of `name`, as the next frame of ds (the first sets c, h, w and the
 * normalisation meta) and convert it into x [c,h,w] and (need_mask) y [1,h,w]; ds->n is not changed.
 * The x of the first frame is only known after the call: pass NULL to check, then convert again. */
int fn_dataset_frame(fn_dataset *ds, const fn_frame *f, const char *name, long k, int need_mask, float *x,
                     float *y, fn_err *e);
/* the fingerprint's running hash over one frame's values (x [px], y [py] or NULL) */
uint64_t fn_fingerprint_frame(uint64_t h, const float *x, size_t px, const float *y, size_t py);
/* the fingerprint's last step, over the running hash of all frames */
uint64_t fn_fingerprint_end(uint64_t h, const fn_dataset *ds);

#endif
