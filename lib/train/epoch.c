/* epoch.c: one pass over the training set, the batches read ahead, split over the ranks. */
#include <math.h>
#include <stdlib.h>
#include "train/batch.h"
#include "train/epoch.h"
#include "train/interrupt.h"
#include "train/loader.h"

/* this rank's part of batch s (frames order[s*B ..]): first frame in *lo, count in *nl; a rank
 * without a frame gets the batch's first as a stand-in (idle) */
static const int *my_part(fn_dist *d, const int *order, int s, int B, int nb, int *lo, int *nl) {
    int hi;
    fn_dist_slice(d, nb, lo, &hi);
    *nl = hi - *lo;
    fn_dist_set_idle(d, *nl == 0);
    if (*nl == 0) { *lo = 0; return order + (size_t)s * B; }
    return order + (size_t)s * B + *lo;
}

int fn_train_epoch(fn_net *net, const fn_dataset *ds, const fn_train_config *cfg, fn_dist *d, int epoch,
                   float lr, fn_step_fn cb, void *ctx, double *mean_loss, fn_err *e) {
    int B = cfg->batch, nsteps = fn_nbatches(ds->n, B);
    int *perm = malloc(sizeof *perm * (size_t)ds->n);
    fn_loader *ld = perm ? fn_loader_new(ds, B, 1, e) : NULL;
    int rc = -1, lo, nl;
    double sum = 0;
    if (!perm) fn_seterr(e, "out of memory");
    if (!ld) goto out;
    fn_epoch_order(cfg->seed, epoch, ds->n, perm);
    const int *part = my_part(d, perm, 0, B, ds->n < B ? ds->n : B, &lo, &nl);
    fn_loader_start(ld, part, nl ? nl : 1);
    for (int s = 0; s < nsteps; s++) {
        int nb = ds->n - s * B < B ? ds->n - s * B : B, mlo = lo, mnl = nl;
        float *x, *y;
        if (fn_loader_wait(ld, &x, &y, e)) goto out;
        if (s + 1 < nsteps) { /* read the next batch while this one trains */
            int nb1 = ds->n - (s + 1) * B < B ? ds->n - (s + 1) * B : B;
            part = my_part(d, perm, s + 1, B, nb1, &lo, &nl);
            fn_loader_start(ld, part, nl ? nl : 1);
        }
        fn_dist_set_idle(d, mnl == 0);
        fn_net_set_replica(net, mlo, (float)mnl / (float)nb);
        float loss;
        uint64_t dseed = fn_dropout_seed(cfg->seed, fn_net_step(net));
        if (fn_net_forward(net, x, mnl ? mnl : 1, ds->h, ds->w, 1, dseed, NULL, e) ||
            fn_net_backward(net, y, &loss, e))
            goto out;
        /* the batch's loss, summed over its frames, and the ranks that caught SIGINT/SIGTERM: every rank
         * stops at the same step, before its Adam step */
        double sums[2] = { mnl ? (double)loss * mnl : 0, fn_interrupt_signal() ? 1 : 0 }, bl;
        if (fn_dist_sum(d, sums, 2, e)) goto out;
        bl = sums[0];
        if (sums[1] > 0) {
            fn_seterr(e, "interrupted at epoch %d, step %d", epoch, s + 1);
            rc = 2;
            goto out;
        }
        if (!isfinite(bl)) {
            fn_seterr(e, "the training diverged: loss %g at epoch %d, step %d", bl / nb, epoch, s + 1);
            rc = 1;
            goto out;
        }
        if (fn_dist_sum_grads(d, net, e) || fn_net_adam_step(net, lr, FN_ADAM_B1, FN_ADAM_B2, FN_ADAM_EPS, cfg->l2, e))
            goto out;
        sum += bl;
        if (cb) cb(ctx, s + 1, nsteps, bl / nb, nb);
    }
    *mean_loss = sum / ds->n;
    rc = 0;
out:
    fn_net_set_replica(net, 0, 1.0f);
    fn_dist_set_idle(d, 0);
    fn_loader_free(ld);
    free(perm);
    return rc;
}

int fn_train_bn_recompute(fn_net *net, const fn_dataset *ds, int batch, fn_dist *d, fn_err *e) {
    const int nsteps = fn_nbatches(ds->n, batch);
    int *idx = malloc(sizeof *idx * (size_t)ds->n);
    fn_loader *ld = idx ? fn_loader_new(ds, batch, 0, e) : NULL;
    const float dropout = fn_net_dropout(net);
    int rc = -1, lo, nl;
    if (!idx) fn_seterr(e, "out of memory");
    if (!ld) goto out;
    for (int i = 0; i < ds->n; i++) idx[i] = i;
    fn_net_set_dropout(net, 0);
    const int *part = my_part(d, idx, 0, batch, ds->n < batch ? ds->n : batch, &lo, &nl);
    fn_loader_start(ld, part, nl ? nl : 1);
    for (int s = 0; s < nsteps; s++) {
        int mnl = nl;
        float *x;
        if (fn_loader_wait(ld, &x, NULL, e)) goto out;
        if (s + 1 < nsteps) {
            int nb1 = ds->n - (s + 1) * batch < batch ? ds->n - (s + 1) * batch : batch;
            part = my_part(d, idx, s + 1, batch, nb1, &lo, &nl);
            fn_loader_start(ld, part, nl ? nl : 1);
        }
        fn_dist_set_idle(d, mnl == 0);
        fn_net_set_bn_momentum(net, 1.0f / (float)(s + 1));
        if (fn_net_forward(net, x, mnl ? mnl : 1, ds->h, ds->w, 1, 0, NULL, e)) goto out;
    }
    fn_dist_set_idle(d, 0);
    rc = fn_dist_average_stats(d, net, e);
out:
    fn_dist_set_idle(d, 0);
    fn_net_set_bn_momentum(net, FN_BN_MOMENTUM);
    fn_net_set_dropout(net, dropout);
    fn_loader_free(ld);
    free(idx);
    return rc;
}
