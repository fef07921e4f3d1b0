/* batch.h: the order of the training frames and the batches cut from it.
 *
 * Epoch e visits the frames in a permutation drawn from fn_rng keyed by (seed, e), so an epoch's order
 * depends only on the seed and the epoch number (a resumed run sees the same batches). The last batch
 * of an epoch may be smaller than the batch size: it is used, not dropped. */
#ifndef FN_TRAIN_BATCH_H
#define FN_TRAIN_BATCH_H

#include <stdint.h>
#include "train/dataset.h"

/* perm[0..n-1] = the visiting order of epoch `epoch` (Fisher-Yates) */
void fn_epoch_order(uint64_t seed, long epoch, int n, int *perm);
/* batches per epoch: ceil(n / batch) */
int fn_nbatches(int n, int batch);
/* copy frames idx[0..nb-1] into x [nb,c,h,w] and (when ds->y and y) y [nb,1,h,w] */
void fn_gather(const fn_dataset *ds, const int *idx, int nb, float *x, float *y);
/* the dropout seed of Adam step `step` (the step about to be taken, from 0) */
uint64_t fn_dropout_seed(uint64_t seed, long step);

#endif
