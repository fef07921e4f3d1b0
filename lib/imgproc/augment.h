/* augment.h: random data augmentation of [C,H,W] tensors (fn-augment).
 *
 * The draws for one augmented copy come from counter-based RNG streams keyed by (seed, frame index,
 * copy index, op), so a copy depends only on those and on the options, never on the pipe's chunking
 * or on which other ops are enabled. One geometric transform (flips, rotation and zoom about the
 * centre, composed) is applied to image, mask and pred alike: bilinear for image and pred, nearest for
 * the mask, zero outside the input. Intensity ops touch the image only; their amounts are in units of
 * the dtype's range R (255 for u8, 65535 for u16, 1 for f32). */
#ifndef FN_AUGMENT_H
#define FN_AUGMENT_H

#include <stddef.h>
#include <stdint.h>
#include "base/err.h"
#include "base/tensor.h"

typedef struct fn_aug_opts {
    double hflip_p, vflip_p;          /* probabilities */
    double rotate, rotate_p;          /* angle uniform in [-rotate, rotate] degrees */
    double zoom_lo, zoom_hi, zoom_p;  /* scale uniform in [lo, hi]; > 1 enlarges the content */
    double chshift_p;                 /* reverse the channel order (B<->R), as the paper's code */
    double bright, bright_p;          /* add U(-b, b) * R */
    double contrast, contrast_p;      /* scale about the image mean by U(1-c, 1+c) */
    double gamma, gamma_p;            /* gamma log-uniform in [1/(1+g), 1+g], on [0,R] (f32: on [min,max]) */
    double noise, noise_p;            /* add N(0, (noise * R)^2) */
} fn_aug_opts;

typedef struct fn_aug_draw {
    int hflip, vflip, rot, zoomed, chshift, bright, contrast, gamma, noise; /* which ops apply */
    double angle, zoom, bright_v, contrast_v, gamma_v, noise_v;
    uint64_t seed, frame, copy;       /* the key, for the noise stream */
} fn_aug_draw;

/* draw the ops of copy `copy` of frame `frame` */
void fn_aug_draw_ops(const fn_aug_opts *o, uint64_t seed, uint64_t frame, uint64_t copy, fn_aug_draw *d);
/* "hflip,rotate=12.3,zoom=1.05,..." or "none" */
void fn_aug_describe(const fn_aug_draw *d, char *buf, size_t n);
/* 1 when the draw moves pixels */
int fn_aug_is_geometric(const fn_aug_draw *d);
/* replace *t by its transformed copy; nearest for masks */
int fn_aug_geometric(const fn_aug_draw *d, fn_tensor **t, int nearest, fn_err *e);
/* the intensity ops, in place */
int fn_aug_intensity(const fn_aug_draw *d, fn_tensor *t, fn_err *e);

#endif
