/* frame_resize.h: resizing the tensors of a frame together, and restoring them to the size they had
 * before the first resize. fn-resize does both; fn-score --restore does the restore in-process.
 *
 * Images and preds take the linear filter (fn_resample's antialiased bilinear), masks and rois nearest
 * (or bilinear then >= 0.5). Restoring reads meta: orig_h/orig_w, and pad_top/pad_left/pad_bottom/
 * pad_right where fn-resize --keep-aspect padded; the native_mask/native_roi that fn-resize --keep-native
 * kept replace the mask and roi instead of being resized back (man/fn-stream.5). */
#ifndef FN_FRAME_RESIZE_H
#define FN_FRAME_RESIZE_H

#include "base/err.h"
#include "imgproc/resample.h"
#include "data/stream.h"

/* the last few resamplers, by size pair and filter: frames of a stream mostly share a size */
#define FN_RS_CACHE 6
typedef struct fn_rs_cache {
    fn_resampler *r[FN_RS_CACHE];
    int next;
} fn_rs_cache;
const fn_resampler *fn_rs_cache_get(fn_rs_cache *c, int ih, int iw, int oh, int ow, fn_rs_filter f, fn_err *e);
void fn_rs_cache_free(fn_rs_cache *c); /* and zeroes it */

/* how a slot is resized */
typedef enum { FN_RESIZE_LINEAR, FN_RESIZE_NEAREST, FN_RESIZE_MASK_BILINEAR } fn_resize_kind;

/* *t resized to oh x ow (replaced; unchanged when it has that size already); 0 or -1 with e set */
int fn_resize_slot(fn_rs_cache *c, fn_tensor **t, int oh, int ow, fn_resize_kind kind, fn_err *e);

/* the frame's tensor slots in the order image, mask, pred, roi, and their names */
#define FN_FRAME_SLOTS 4
extern const char *const fn_frame_slot_names[FN_FRAME_SLOTS];
void fn_frame_slots(fn_frame *f, fn_tensor **slot[FN_FRAME_SLOTS]);

/* the common H x W of the frame's tensors: 1 with *h, *w set, 0 when it has none, -1 (e says which two
 * differ) when they disagree */
int fn_frame_hw(fn_frame *f, int *h, int *w, fn_err *e);

/* meta keys of fn-resize --keep-aspect's padding: top, left, bottom, right */
extern const char *const fn_pad_keys[4];
/* the padding recorded in f's meta into pad (0 where a key is absent); 1 when any key is there */
int fn_frame_padding(const fn_frame *f, int64_t pad[4]);

/* The size an h x w frame takes when resampled to an in-plane pixel spacing of mm (fn-resize --spacing):
 * the frame's spacing comes from meta spacing_y/spacing_x (rows, columns; fn-read of a volume sets them),
 * which describe the orig_h x orig_w grid, so a frame resized before is measured right. 0, or -1 with e
 * set when meta has no spacing or it is not positive. */
int fn_spacing_size(const fn_frame *f, int h, int w, double mm, int *oh, int *ow, fn_err *e);

/* Restore every tensor of f to orig_h x orig_w as fn-resize --restore does (see above); the padding
 * keys are removed. 0, or -1 with e set (no orig_h/orig_w, padding that does not fit, a native_mask of
 * the wrong size). */
int fn_frame_restore(fn_rs_cache *c, fn_frame *f, fn_err *e);

#endif
