/* evaluate.c: validation loss and Dice of a labelled set. */
#include <stdlib.h>
#include "train/evaluate.h"
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

int fn_evaluate(fn_net *net, const fn_dataset *ds, int batch, double *loss, double *dice, fn_err *e) {
    size_t px = (size_t)ds->c * ds->h * ds->w, hw = (size_t)ds->h * ds->w;
    float *p = malloc(sizeof *p * hw * (size_t)batch);
    if (!p) return fn_seterr(e, "out of memory");
    double sl = 0, sd = 0;
    for (int i = 0; i < ds->n; i += batch) {
        int nb = ds->n - i < batch ? ds->n - i : batch;
        if (fn_predict(net, ds->x + px * (size_t)i, nb, ds->h, ds->w, 0, p, e)) { free(p); return -1; }
        for (int j = 0; j < nb; j++) {
            const float *t = ds->y + hw * (size_t)(i + j);
            sl += fn_soft_dice_loss(p + hw * j, t, hw, FN_DICE_SMOOTH);
            sd += fn_hard_dice(p + hw * j, t, hw, 0.5);
        }
    }
    free(p);
    *loss = sl / ds->n;
    *dice = sd / ds->n;
    return 0;
}
