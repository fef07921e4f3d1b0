/* plateau.h: the learning-rate schedule of the paper (Keras ReduceLROnPlateau on the validation loss):
 * an epoch improves when val_loss < best - min_delta (then best = val_loss, wait = 0); otherwise
 * wait += 1, and when wait reaches patience the rate is multiplied by factor and wait restarts at 0.
 * patience 0 keeps the rate fixed. The whole state is these plain fields (saved by fn-train's state). */
#ifndef FN_TRAIN_PLATEAU_H
#define FN_TRAIN_PLATEAU_H

typedef struct fn_plateau {
    float lr;         /* the current rate */
    float factor;     /* 0.5 */
    double min_delta; /* 0.001 */
    int patience;     /* 5; 0: never reduce */
    double best;      /* best val loss seen by the schedule (INFINITY at first) */
    int wait;         /* epochs since the last improvement */
} fn_plateau;

void fn_plateau_init(fn_plateau *p, float lr, int patience);
/* record an epoch's validation loss; returns 1 when the rate was reduced */
int fn_plateau_update(fn_plateau *p, double val_loss);

#endif
