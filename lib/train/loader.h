/* loader.h: batches of a data set read ahead in a background thread.
 *
 * Two batch buffers alternate: while the caller works on the batch that fn_loader_wait returned,
 * the one named by the next fn_loader_start is read into the other buffer. A set in memory is
 * gathered at once, in the caller's thread; a set in a store (train/store.h) is read by the thread. */
#ifndef FN_TRAIN_LOADER_H
#define FN_TRAIN_LOADER_H

#include "base/err.h"
#include "train/dataset.h"

typedef struct fn_loader fn_loader;

/* batches of at most maxb frames of ds (borrowed); masks too when with_mask and ds has them */
fn_loader *fn_loader_new(const fn_dataset *ds, int maxb, int with_mask, fn_err *e);
/* start reading frames idx[0..nb-1] (copied), nb <= maxb; the previous batch must have been waited for */
void fn_loader_start(fn_loader *l, const int *idx, int nb);
/* wait for the batch of the last start: *x [nb,c,h,w], *y [nb,1,h,w] (NULL without masks), valid
 * until the second fn_loader_start after this call. 0, or -1 with e set (a read error). */
int fn_loader_wait(fn_loader *l, float **x, float **y, fn_err *e);
void fn_loader_free(fn_loader *l);

#endif
