/* Layer lib/imgproc: the image operations on frames (resampling, restore, augmentation, masks, overlays,
 * synthesis, post-processing); may use base/ and data/.
 * The layers, each using only those before it: base < data < imgproc, eval < backend < cpu, nn, cuda/
 *   < train < mpi/ < cmd/ (folders of one rank never include each other; README "Layout", tests/layout.py). */
/* resample.h: resizing [C,H,W] tensors of any dtype and channel count.
 *
 * FN_RS_LINEAR is Pillow's BILINEAR with antialiasing (what PIL.Image.resize(..., BILINEAR) does):
 * a separable triangle filter whose support is scaled by the shrink factor, so shrinking averages
 * every input pixel (area-like) and growing is plain bilinear. FN_RS_NEAREST samples the input pixel
 * under each output pixel's centre (for masks). Weights are computed once per size pair (an
 * fn_resampler) and reused for every frame of that size. Integer outputs are rounded and clamped.
 * u8 to u8 runs in fixed point (14-bit weights, a 16-bit intermediate with 7 fraction bits, SSE2 on
 * x86-64); the result is within about 0.55 of the exact one rounded (Pillow's own 8-bit path rounds
 * twice). */
#ifndef FN_RESAMPLE_H
#define FN_RESAMPLE_H

#include "base/err.h"
#include "base/tensor.h"

typedef enum { FN_RS_LINEAR = 0, FN_RS_NEAREST = 1 } fn_rs_filter;

/* the coefficients of one axis: output i reads `taps` inputs from start[i] with weights w[i*taps..] */
typedef struct fn_rs_axis {
    int in, out, taps;
    int *start; /* [out] */
    float *w;   /* [out * taps], NULL for nearest (taps 1, weight 1) */
    /* linear only, for u8 frames: the weights in fixed point (summing to exactly 1 << 14), as w
     * ([out * taps], from start) and padded to taps8 (taps rounded up to 8) from start8 so that a
     * vector of 8 inputs never reads past the row when in >= taps8 */
    int16_t *wq;
    int taps8;
    int *start8;   /* [out] */
    int16_t *wq8;  /* [out * taps8] */
} fn_rs_axis;

typedef struct fn_resampler {
    int in_h, in_w, out_h, out_w;
    fn_rs_filter filter;
    fn_rs_axis y, x;
} fn_resampler;

fn_resampler *fn_resampler_new(int in_h, int in_w, int out_h, int out_w, fn_rs_filter f, fn_err *e);
void fn_resampler_free(fn_resampler *r);
/* in: [C, in_h, in_w]; out: [C, out_h, out_w] of any dtype (allocated by the caller). Uses OpenMP
 * threads for large images. 0, or -1 with e set on a shape mismatch or no memory. */
int fn_resampler_run(const fn_resampler *r, const fn_tensor *in, fn_tensor *out, fn_err *e);

/* one-shot: a new tensor of dtype dt (in->dtype if dt < 0) */
fn_tensor *fn_resize(const fn_tensor *in, int out_h, int out_w, fn_rs_filter f, int dt, fn_err *e);

/* a new tensor holding rows y0..y0+h-1, columns x0..x0+w-1 (must lie inside t) */
fn_tensor *fn_crop(const fn_tensor *t, int y0, int x0, int h, int w, fn_err *e);
/* a new h x w tensor, zero everywhere except t copied at (top, left) (t must fit) */
fn_tensor *fn_pad(const fn_tensor *t, int top, int left, int h, int w, fn_err *e);

#endif
