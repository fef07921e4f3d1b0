/* evaluate.h: a labelled set through the network in inference mode: the mean per-image Dice loss
 * 1 - (2 sum(p t) + 1) / (sum p + sum t + 1) on the probabilities (the training loss, without L2)
 * and the mean per-image Dice of the prediction thresholded at 0.5 (p > 0.5 is foreground; 1 when
 * prediction and truth are both empty). */
#ifndef FN_TRAIN_EVALUATE_H
#define FN_TRAIN_EVALUATE_H

#include "base/err.h"
#include "nn/net.h"
#include "train/dataset.h"
#include "train/dist.h"

/* per image: the soft Dice loss and the thresholded Dice of p against t (hw pixels each) */
double fn_soft_dice_loss(const float *p, const float *t, size_t hw, double smooth);
double fn_hard_dice(const float *p, const float *t, size_t hw, double threshold);

/* ds must be labelled; batches of `batch` frames. The ranks of d (NULL: one process) each score a
 * contiguous share of ds (fn_dist_slice) and the sums are reduced: every rank gets the means.
 * 0 or -1 (e set). */
int fn_evaluate(fn_net *net, const fn_dataset *ds, int batch, fn_dist *d, double *loss, double *dice, fn_err *e);

#endif
