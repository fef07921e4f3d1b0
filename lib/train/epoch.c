/* epoch.c: one pass over the training set. */
#include <math.h>
#include <stdlib.h>
#include "train/batch.h"
#include "train/epoch.h"

int fn_train_epoch(fn_net *net, const fn_dataset *ds, const fn_train_config *cfg, int epoch, float lr,
                   fn_step_fn cb, void *ctx, double *mean_loss, fn_err *e) {
    int B = cfg->batch, nsteps = fn_nbatches(ds->n, B);
    size_t px = (size_t)ds->c * ds->h * ds->w, py = (size_t)ds->h * ds->w;
    int *perm = malloc(sizeof *perm * (size_t)ds->n);
    float *x = malloc(sizeof *x * px * (size_t)B), *y = malloc(sizeof *y * py * (size_t)B);
    int rc = -1;
    double sum = 0;
    if (!perm || !x || !y) { fn_seterr(e, "out of memory"); goto out; }
    fn_epoch_order(cfg->seed, epoch, ds->n, perm);
    for (int s = 0; s < nsteps; s++) {
        int nb = ds->n - s * B < B ? ds->n - s * B : B;
        float loss;
        fn_gather(ds, perm + s * B, nb, x, y);
        uint64_t dseed = fn_dropout_seed(cfg->seed, fn_net_step(net));
        if (fn_net_forward(net, x, nb, ds->h, ds->w, 1, dseed, NULL, e) || fn_net_backward(net, y, &loss, e))
            goto out;
        if (!isfinite(loss)) {
            fn_seterr(e, "the training diverged: loss %g at epoch %d, step %d", (double)loss, epoch, s + 1);
            rc = 1;
            goto out;
        }
        if (fn_net_adam_step(net, lr, FN_ADAM_B1, FN_ADAM_B2, FN_ADAM_EPS, cfg->l2, e)) goto out;
        sum += (double)loss * nb;
        if (cb) cb(ctx, s + 1, nsteps, loss, nb);
    }
    *mean_loss = sum / ds->n;
    rc = 0;
out:
    free(perm); free(x); free(y);
    return rc;
}

int fn_train_bn_recompute(fn_net *net, const fn_dataset *ds, int batch, fn_err *e) {
    const int nsteps = fn_nbatches(ds->n, batch);
    const size_t px = (size_t)ds->c * ds->h * ds->w;
    float *x = malloc(sizeof *x * px * (size_t)batch);
    int *idx = malloc(sizeof *idx * (size_t)batch);
    const float dropout = fn_net_dropout(net);
    int rc = -1;
    if (!x || !idx) { fn_seterr(e, "out of memory"); goto out; }
    fn_net_set_dropout(net, 0);
    for (int s = 0; s < nsteps; s++) {
        const int nb = ds->n - s * batch < batch ? ds->n - s * batch : batch;
        for (int i = 0; i < nb; i++) idx[i] = s * batch + i;
        fn_gather(ds, idx, nb, x, NULL);
        fn_net_set_bn_momentum(net, 1.0f / (float)(s + 1));
        if (fn_net_forward(net, x, nb, ds->h, ds->w, 1, 0, NULL, e)) goto out;
    }
    rc = 0;
out:
    fn_net_set_bn_momentum(net, FN_BN_MOMENTUM);
    fn_net_set_dropout(net, dropout);
    free(x); free(idx);
    return rc;
}
