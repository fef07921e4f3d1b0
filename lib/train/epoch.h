/* Layer lib/train: training, evaluation and tiled prediction; uses nn/ and the folders below it.
 * The layers, each using only those before it: base < data < imgproc, eval < backend < cpu, nn, cuda/
 *   < train < mpi/ < cmd/ (folders of one rank never include each other; README "Layout", tests/layout.py). */
/* epoch.h: one training epoch: the shuffled batches of the epoch, each a training forward (dropout
 * seeded by (seed, step)), the Dice loss and its backward, and one Adam step (b1 0.9, b2 0.999,
 * eps 1e-7, with focusnet.md's L2 penalties when cfg->l2). */
#ifndef FN_TRAIN_EPOCH_H
#define FN_TRAIN_EPOCH_H

#include "base/err.h"
#include "nn/net.h"
#include "train/dataset.h"
#include "train/dist.h"
#include "train/state.h"

#define FN_ADAM_B1 0.9f
#define FN_ADAM_B2 0.999f
#define FN_ADAM_EPS 1e-7f

/* called after each step: step (1-based) of nsteps, the batch's Dice loss, images in the batch */
typedef void (*fn_step_fn)(void *ctx, int step, int nsteps, double loss, int images);

/* Train epoch `epoch` (1-based) over ds at learning rate lr, the batches split over the ranks of d (NULL:
 * one process; every rank makes the same call). *mean_loss: the mean per-image Dice loss
 * of the epoch's batches (without the L2 penalty), over all ranks. Returns 0; 1 when a batch's loss is NaN or Inf
 * (the training diverged: the step is not taken and e says where); 2 when a rank caught SIGINT or SIGTERM
 * (fn_interrupt_signal; every rank stops at the same step, before its Adam step: the epoch is dropped,
 * see interrupt.h); -1 on an error (e set). */
int fn_train_epoch(fn_net *net, const fn_dataset *ds, const fn_train_config *cfg, fn_dist *d, int epoch,
                   float lr, fn_step_fn cb, void *ctx, double *mean_loss, fn_err *e);

/* The batch-norm running statistics recomputed as plain averages over the training set ("precise BN"):
 * training forwards (no dropout) over the batches of ds in order, the k-th with momentum 1/k, so each
 * running statistic ends as the mean of the batches' statistics. With the paper's momentum (0.01), a
 * small set (20 steps an epoch) leaves them far behind the weights; this makes validation and the
 * saved model use statistics of the current weights. Split over the ranks of d as the training
 * batches are. 0 or -1 (e set). */
int fn_train_bn_recompute(fn_net *net, const fn_dataset *ds, int batch, fn_dist *d, fn_err *e);

#endif
