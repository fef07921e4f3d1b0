/* mask.h: decoded mask images to the stream's binary masks (u8, values 0/1, C=1). */
#ifndef FN_MASK_H
#define FN_MASK_H

#include "base/err.h"
#include "base/tensor.h"

#define FN_MASK_MAX_VALUES 64

/* Which pixels are foreground. A multi-channel mask (RGB PNG, RGB JPEG) is first reduced to the
 * largest of its channels at each pixel, then:
 *   nvalues > 0:    foreground when that value is one of values[] (--mask-values 150,200);
 *   has_threshold:  foreground when it is >= threshold (--mask-threshold 128, for lossy JPEG masks);
 *   neither:        foreground when it is not 0. */
typedef struct fn_mask_rule {
    double values[FN_MASK_MAX_VALUES];
    int nvalues;
    int has_threshold;
    double threshold;
} fn_mask_rule;

/* a new u8 {0,1} [1,H,W] mask from any decoded mask image m (u8/u16/f32, any C) */
fn_tensor *fn_maskify(const fn_tensor *m, const fn_mask_rule *r, fn_err *e);

/* a binary mask shrunk by an integer factor d, as a JPEG decoded at scale 1/d was: the result is
 * ceil(H/d) x ceil(W/d), each pixel 1 when at least half of its d x d block (clipped at the edges)
 * is 1. d = 1 gives a copy. */
fn_tensor *fn_mask_reduce(const fn_tensor *m, int d, fn_err *e);

#endif
