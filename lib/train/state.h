/* state.h: fn-train's resumable state, written after every epoch (atomically, safetensors).
 *
 * Tensors (flat, the net's allocations in its table order): "params", "stats" (batch-norm running
 * statistics), "adam_m", "adam_v". __metadata__: format=fn-train-state, version, the run's settings
 * (fn_train_config, the precision of the products among them: "precision", fp32 when absent), the epoch and Adam step reached, the learning-rate schedule, the best validation
 * loss and its epoch (the best model itself is the model file, written before the state), a
 * fingerprint of the training data, the model path and the epochs log so far. Shuffling and dropout
 * are keyed by (seed, epoch) and (seed, step), so no generator state needs saving. Numbers are written
 * so that they read back bit-exactly (%.9g for floats, %.17g for doubles). */
#ifndef FN_TRAIN_STATE_H
#define FN_TRAIN_STATE_H

#include <stdint.h>
#include "base/err.h"
#include "nn/net.h"
#include "train/plateau.h"

/* what defines a run (a resume must not change these, except epochs) */
typedef struct fn_train_config {
    int cin;
    float width;
    int batch;
    float lr;        /* the initial rate */
    int patience;    /* --plateau */
    int l2;          /* 1: focusnet.md's L2 penalties */
    uint64_t seed;
    int epochs;      /* the total to reach */
    int bn_recompute; /* 1: batch-norm statistics recomputed over the training set before each validation */
    int sync_bn;      /* 1: --sync-bn (batch-norm statistics over all ranks under mpirun) */
    int arch;        /* fn_arch of the net (0: FocusNet) */
    int precision;   /* enum fn_precision of the matrix products (--precision; 0: fp32) */
    int deterministic; /* 1: --deterministic (CUDA: deterministic convolution algorithms; the CPU always is) */
} fn_train_config;

typedef struct fn_train_state {
    fn_train_config cfg;
    int epoch;          /* epochs completed */
    long step;          /* Adam steps taken */
    fn_plateau sched;
    double best_loss;   /* best validation loss (INFINITY before the first epoch) */
    int best_epoch;     /* 0: none yet */
    uint64_t data_fp;   /* fn_dataset_fingerprint of the training set */
    char out[4096];     /* the model file */
    char *log;          /* epochs log rows so far (malloc'd TSV, no header; may be NULL) */
} fn_train_state;

/* the options string stored in the model's metadata, e.g.
 * "loss=dice optimizer=adam(0.9,0.999,1e-07) lr=0.001 batch=8 plateau=5(0.5,0.001) l2=on epochs=80 seed=1 width=1" */
void fn_train_options_string(const fn_train_config *c, char *buf, size_t n);

int fn_state_save(const char *path, fn_net *net, const fn_train_state *st, fn_err *e);
/* read path, build its net on be (*net) with parameters, statistics, Adam moments and step restored,
 * and fill *st (st->log malloc'd). -1 with e set ("PATH: ...") for a missing, truncated or foreign file. */
int fn_state_load(const char *path, fn_backend *be, fn_net **net, fn_train_state *st, fn_err *e);
void fn_state_free(fn_train_state *st);

#endif
