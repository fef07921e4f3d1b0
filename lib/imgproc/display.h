/* display.h: tensors made viewable as 8-bit pictures (fn-write), and the overlay montage. */
#ifndef FN_DISPLAY_H
#define FN_DISPLAY_H

#include "base/err.h"
#include "base/tensor.h"

/* a u8 copy of t with the same shape: u8 as is; u16 and f32 rescaled from their min..max to 0..255
 * over all channels (a constant tensor gives 0; NaN/Inf give 0 and are left out of min..max) */
fn_tensor *fn_display_u8(const fn_tensor *t, fn_err *e);
/* a probability map (f32, [0,1]) as u8 round(255 p), clamped, NaN -> 0; u8/u16 are taken as is */
fn_tensor *fn_prob_u8(const fn_tensor *t, fn_err *e);
/* a mask (any dtype) as u8 0/255: 255 where it is not 0 */
fn_tensor *fn_mask_u8(const fn_tensor *t, fn_err *e);

/* The overlay montage of one sample (the paper's Fig. 2): panels side by side, 4 white pixels apart:
 *   input | input with the truth mask (green tint + contour) | input with the prediction >= thr
 *   (red tint + contour) and the truth contour in green.
 * The input is shown through fn_display_u8, grey as RGB. The truth panel is left out when mask is
 * NULL, the prediction panel when pred is NULL. mask and pred must have the image's H x W.
 * Returns u8 [3, H, W'] or NULL with e set. */
fn_tensor *fn_overlay(const fn_tensor *image, const fn_tensor *mask, const fn_tensor *pred, double thr, fn_err *e);

#endif
