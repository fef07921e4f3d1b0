/* Layer lib/eval: evaluation (metrics, bootstrap intervals, challenge scoring); may use base/ and data/.
 * The layers, each using only those before it: base < data < imgproc, eval < backend < cpu, nn, cuda/
 *   < train < mpi/ < cmd/ (folders of one rank never include each other; README "Layout", tests/layout.py). */
/* metrics.h: segmentation scores of a binary prediction against a binary truth.
 *
 * A prediction pixel is foreground when p > threshold (TensorFlow's round-half-to-even makes 0.5
 * background at threshold 0.5); a truth pixel is foreground when it is non-zero. */
#ifndef FN_METRICS_H
#define FN_METRICS_H

#include <stdint.h>
#include "base/err.h"
#include "base/tensor.h"

typedef struct fn_confusion {
    uint64_t tp, fp, fn, tn;
} fn_confusion;

/* Counts of one frame: pred (f32, C=1) against mask (u8, C=1) of the same H x W. Also fills the two
 * binary maps (H*W bytes each, 0/1) when pb/mb are not NULL. 0, or -1 with e set (dtype, shape, NaN). */
int fn_confusion_count(const fn_tensor *pred, const fn_tensor *mask, double threshold, fn_confusion *c,
                       uint8_t *pb, uint8_t *mb, fn_err *e);
/* the same counting only the pixels where roi (u8, C=1, the same H x W; NULL: all) is non-zero; the
 * binary maps are 0 outside it */
int fn_confusion_count_roi(const fn_tensor *pred, const fn_tensor *mask, const fn_tensor *roi, double threshold,
                           fn_confusion *c, uint8_t *pb, uint8_t *mb, fn_err *e);
void fn_confusion_add(fn_confusion *sum, const fn_confusion *c);

/* Dice 2TP/(2TP+FP+FN) and Jaccard TP/(TP+FP+FN); 1 when truth and prediction are both empty */
double fn_dice(const fn_confusion *c);
double fn_jaccard(const fn_confusion *c);
/* pooled rates; NaN when the denominator is 0 */
double fn_accuracy(const fn_confusion *c);
double fn_sensitivity(const fn_confusion *c); /* TP/(TP+FN) */
double fn_specificity(const fn_confusion *c); /* TN/(TN+FP) */

/* Squared exact Euclidean distance transform (Felzenszwalb & Huttenlocher): d[i] = squared distance
 * from pixel i to the nearest pixel with src != 0 (INFINITY when there is none). */
int fn_edt_sq(const uint8_t *src, int h, int w, double *d, fn_err *e);

/* 95th percentile symmetric Hausdorff distance in pixels (as medpy's hd95): the boundaries of a and b
 * (foreground pixels with a 4-neighbour outside the object or the image), the distance from each
 * boundary pixel of one to the nearest boundary pixel of the other, both directions pooled, the 95th
 * percentile by linear interpolation. 0 when both are empty, NaN when exactly one is empty. */
double fn_hd95(const uint8_t *a, const uint8_t *b, int h, int w, fn_err *e);

/* the p-th percentile (0..100) of v[0..n-1] by linear interpolation (numpy's default); sorts v */
double fn_percentile(double *v, size_t n, double p);

#endif
