/* bn-drift: how far batch norm's running statistics are from the statistics of the current weights,
 * epoch by epoch, and what that does to the validation Dice (the measurement behind fn-train's
 * --bn-recompute default; pipelines/RESULTS.md).
 *
 * usage: bn-drift [--arch NET] [--epochs N] [--batch B] [--width F] [--threads T] [--seed S]
 *                 [--schedule run|rec] [--dropout-check] TRAIN.fns VAL.fns
 *
 * It trains exactly as fn-train does (same initial weights, order, dropout, Adam, plateau schedule):
 * without --bn-recompute (--schedule run, the default: the rate follows the validation loss of the
 * running statistics) or with it (--schedule rec: the loss of the recomputed ones, so that the
 * dice_rec column is fn-train --bn-recompute's val_dice), and after every epoch prints one TSV row:
 *   epoch lr train_loss
 *   val_loss_run, dice_run  validation loss and Dice with the running statistics (what fn-train
 *              reports without --bn-recompute)
 *   val_loss_rec, dice_rec  the same weights, statistics recomputed over the training set
 *              (fn_train_bn_recompute: what fn-train --bn-recompute reports)
 *   dice_drop  recomputed with dropout on, as the training forwards see it (dropout/BN variance
 *              shift; only with --dropout-check, else -1)
 *   mean_z     the largest (over batch norms) mean |running mean - recomputed mean| / recomputed std
 *   var_ratio  the running variance / recomputed variance furthest from 1 (over all channels)
 *   worst      the batch norm of mean_z
 * The running statistics are put back after each measurement, so that dice_run is always the paper's
 * running averages; the training forwards do not read them, so the weights are those fn-train reaches
 * with the same schedule either way. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "backend/backend.h"
#include "nn/net.h"
#include "train/dataset.h"
#include "train/epoch.h"
#include "train/evaluate.h"
#include "train/plateau.h"

static void die(const fn_err *e) {
    fprintf(stderr, "bn-drift: %s\n", e->msg);
    exit(1);
}

static void read_set(const char *path, fn_dataset *ds) {
    fn_err e;
    fn_reader *r = fn_reader_open_path(path, &e);
    if (!r || fn_dataset_read(ds, r, 1, &e)) die(&e);
    fn_reader_close(r);
}

/* run [ns] against rec [ns]: *mean_z, *var_ratio, *worst (the stat table's name of that BN's mean) */
static void compare(fn_net *net, const float *run, const float *rec, double *mean_z, double *var_ratio,
                    const char **worst) {
    *mean_z = 0;
    *var_ratio = 1;
    *worst = "";
    for (int i = 0; i + 1 < fn_net_nstats(net); i += 2) {
        const fn_param_info *m = fn_net_stat(net, i), *v = fn_net_stat(net, i + 1);
        double z = 0;
        for (size_t c = 0; c < m->numel; c++) {
            double sd = sqrt((double)rec[v->offset + c] + 1e-3);
            z += fabs((double)run[m->offset + c] - rec[m->offset + c]) / sd;
            double r = ((double)run[v->offset + c] + 1e-3) / ((double)rec[v->offset + c] + 1e-3);
            if (fabs(log(r)) > fabs(log(*var_ratio))) *var_ratio = r;
        }
        z /= (double)m->numel;
        if (z > *mean_z) { *mean_z = z; *worst = m->name; }
    }
}

int main(int argc, char **argv) {
    fn_train_config cfg = { .width = 0.25f, .batch = 8, .lr = 1e-3f, .patience = 5, .l2 = 1, .seed = 1, .epochs = 13 };
    int threads = 2, a = 1, sched_rec = 0, drop_check = 0;
    for (; a + 1 < argc && argv[a][0] == '-' && argv[a][1] == '-'; a += 2) {
        if (!strcmp(argv[a], "--dropout-check")) { drop_check = 1; a--; }
        else if (!strcmp(argv[a], "--schedule")) sched_rec = !strcmp(argv[a + 1], "rec");
        else if (!strcmp(argv[a], "--arch")) cfg.arch = fn_arch_parse(argv[a + 1]);
        else if (!strcmp(argv[a], "--epochs")) cfg.epochs = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "--batch")) cfg.batch = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "--width")) cfg.width = (float)atof(argv[a + 1]);
        else if (!strcmp(argv[a], "--threads")) threads = atoi(argv[a + 1]);
        else if (!strcmp(argv[a], "--seed")) cfg.seed = (uint64_t)atol(argv[a + 1]);
        else break;
    }
    if (argc - a != 2 || cfg.arch < 0 || cfg.epochs < 1 || cfg.batch < 1 || !(cfg.width > 0) || threads < 1) {
        fputs("usage: bn-drift [--arch NET] [--epochs N] [--batch B] [--width F] [--threads T] [--seed S]\n"
              "                [--schedule run|rec] [--dropout-check] TRAIN.fns VAL.fns\n", stderr);
        return 2;
    }
    fn_err e;
    fn_dataset train, val;
    read_set(argv[a], &train);
    read_set(argv[a + 1], &val);
    fn_backend *be = fn_cpu_backend_new(threads, &e);
    if (!be) die(&e);
    fn_net_config nc = { train.c, cfg.width, cfg.arch };
    fn_net *net = fn_net_new(be, &nc, &e);
    if (!net || fn_net_init_he(net, cfg.seed, &e)) die(&e);
    size_t ns = fn_net_stats_numel(net);
    float *run = malloc(sizeof *run * ns), *rec = malloc(sizeof *rec * ns);
    if (!run || !rec) { fputs("bn-drift: out of memory\n", stderr); return 1; }
    fn_plateau sched;
    fn_plateau_init(&sched, cfg.lr, cfg.patience);
    printf("epoch\tlr\ttrain_loss\tval_loss_run\tdice_run\tval_loss_rec\tdice_rec\tdice_drop\tmean_z\tvar_ratio\tworst\n");
    for (int ep = 1; ep <= cfg.epochs; ep++) {
        double tl, vl, d_run, vl2, vl3, d_rec, d_drop = -1, z, vr;
        const char *worst;
        float lr = sched.lr;
        if (fn_train_epoch(net, &train, &cfg, NULL, ep, lr, NULL, NULL, &tl, &e) ||
            fn_evaluate(net, &val, cfg.batch, NULL, &vl, &d_run, &e) || fn_net_get(net, FN_BUF_STATS, run, &e) ||
            fn_train_bn_recompute(net, &train, cfg.batch, NULL, &e) || fn_evaluate(net, &val, cfg.batch, NULL, &vl2, &d_rec, &e) ||
            fn_net_get(net, FN_BUF_STATS, rec, &e))
            die(&e);
        compare(net, run, rec, &z, &vr, &worst);
        /* recomputed with dropout on: fn_train_bn_recompute turns it off, so redo it by hand */
        int nb = (train.n + cfg.batch - 1) / cfg.batch;
        for (int s = 0; drop_check && s < nb; s++) {
            int k = train.n - s * cfg.batch < cfg.batch ? train.n - s * cfg.batch : cfg.batch;
            fn_net_set_bn_momentum(net, 1.0f / (float)(s + 1));
            if (fn_net_forward(net, train.x + (size_t)s * cfg.batch * train.c * train.h * train.w, k, train.h,
                               train.w, 1, (uint64_t)s + 1, NULL, &e))
                die(&e);
        }
        fn_net_set_bn_momentum(net, FN_BN_MOMENTUM);
        if ((drop_check && fn_evaluate(net, &val, cfg.batch, NULL, &vl3, &d_drop, &e)) ||
            fn_net_set(net, FN_BUF_STATS, run, &e))
            die(&e);
        fn_plateau_update(&sched, sched_rec ? vl2 : vl);
        printf("%d\t%g\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.3f\t%.3f\t%s\n", ep, (double)lr, tl, vl, d_run, vl2, d_rec, d_drop,
               z, vr, worst);
        fflush(stdout);
    }
    free(run); free(rec);
    fn_net_free(net);
    fn_backend_close(be);
    fn_dataset_free(&train);
    fn_dataset_free(&val);
    return 0;
}
