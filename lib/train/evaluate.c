/* evaluate.c: validation loss and Dice of a labelled set. */
#include <stdlib.h>
#include "train/evaluate.h"
#include "train/loader.h"
#include "train/predict.h"

double fn_soft_dice_loss(const float *p, const float *t, size_t hw, double smooth) {
    double pt = 0, sp = 0, st = 0;
    for (size_t i = 0; i < hw; i++) {
        pt += (double)p[i] * t[i];
        sp += p[i];
        st += t[i];
    }
    return 1.0 - (2.0 * pt + smooth) / (sp + st + smooth);
}

double fn_hard_dice(const float *p, const float *t, size_t hw, double threshold) {
    size_t tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < hw; i++) {
        int a = p[i] > threshold, b = t[i] > 0.5f;
        tp += a && b;
        fp += a && !b;
        fn += !a && b;
    }
    return tp + fp + fn ? 2.0 * tp / (2.0 * tp + fp + fn) : 1.0;
}

int fn_evaluate(fn_net *net, const fn_dataset *ds, int batch, fn_dist *d, double *loss, double *dice, fn_err *e) {
    size_t hw = (size_t)ds->h * ds->w;
    int lo, hi, rc = -1;
    fn_dist_slice(d, ds->n, &lo, &hi);
    float *p = malloc(sizeof *p * hw * (size_t)batch);
    int *idx = malloc(sizeof *idx * (size_t)batch);
    fn_loader *ld = p && idx ? fn_loader_new(ds, batch, 1, e) : NULL;
    double sum[2] = { 0, 0 }; /* loss, dice */
    if (!p || !idx) fn_seterr(e, "out of memory");
    if (!ld) goto out;
    for (int i = lo; i < hi; i += batch) {
        int nb = hi - i < batch ? hi - i : batch;
        float *x, *t;
        for (int j = 0; j < nb; j++) idx[j] = i + j;
        fn_loader_start(ld, idx, nb);
        if (fn_loader_wait(ld, &x, &t, e) || fn_predict(net, x, nb, ds->h, ds->w, 0, p, e)) goto out;
        for (int j = 0; j < nb; j++) {
            sum[0] += fn_soft_dice_loss(p + hw * j, t + hw * j, hw, FN_DICE_SMOOTH);
            sum[1] += fn_hard_dice(p + hw * j, t + hw * j, hw, 0.5);
        }
    }
    if (fn_dist_sum(d, sum, 2, e)) goto out;
    *loss = sum[0] / ds->n;
    *dice = sum[1] / ds->n;
    rc = 0;
out:
    fn_loader_free(ld);
    free(p);
    free(idx);
    return rc;
}
