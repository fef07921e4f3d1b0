/* train.c: a short training on fn-synth's data set inside gpu-check (the GPU machine has no fn-train: its
 * image libraries are not installed there), to compare precisions end to end.
 *
 * gpu-check train [--device DEV] [--precision P] [--deterministic] [--steps S] [--size S] [--batch B]
 *                 [--width F] [--ntrain N] [--nval N] [--seed S]
 *
 * Defaults: cuda, fp32, 300 steps of batch 8 on 256 synthetic 3-channel 64x64 images (lib/imgproc/synth.h,
 * seed 1, the images scaled to [-1, 1]), FocusNet at width 1, Adam 1e-3 with the L2 penalties, dropout
 * keyed by the step, as fn-train does; then the validation Dice (threshold 0.5, per image, averaged; 1 for
 * an image whose mask and prediction are both empty) on 64 images of seed 2 with the running batch-norm
 * statistics. Prints RESULT precision=P val_dice=D loss=L seconds=T. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "backend/backend.h"
#include "gpu.h"
#include "imgproc/synth.h"
#include "nn/net.h"
#include "../tools/timing.h"

/* n synthetic frames as x [n,3,S,S] in [-1,1] and t [n,1,S,S] of 0/1 */
static int make_set(uint64_t seed, int n, int S, float *x, float *t, fn_err *e) {
    fn_synth_opts o = {S, S, 3, seed};
    const size_t px = (size_t)S * S;
    for (int i = 0; i < n; i++) {
        fn_frame f;
        fn_frame_init(&f);
        if (fn_synth_frame(&o, i, &f, e)) return -1;
        const uint8_t *im = f.image->data, *m = f.mask->data;
        for (size_t k = 0; k < 3 * px; k++) x[(size_t)i * 3 * px + k] = im[k] / 127.5f - 1.0f;
        for (size_t k = 0; k < px; k++) t[(size_t)i * px + k] = m[k] ? 1.0f : 0.0f;
        fn_frame_clear(&f);
    }
    return 0;
}

int gpu_train_main(int argc, char **argv) {
    const char *dev = "cuda";
    int prec = FN_PREC_FP32, det = 0, steps = 300, S = 64, B = 8, ntrain = 256, nval = 64;
    double width = 1.0;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && !strcmp(a, "--device")) dev = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--precision")) {
            if ((prec = fn_precision_parse(argv[++i])) < 0) {
                fprintf(stderr, "gpu-check train: bad --precision %s\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(a, "--deterministic")) det = 1;
        else if (i + 1 < argc && !strcmp(a, "--steps")) steps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--size")) S = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--batch")) B = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--width")) width = atof(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--ntrain")) ntrain = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--nval")) nval = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--seed")) seed = strtoull(argv[++i], NULL, 10);
        else {
            fprintf(stderr, "gpu-check train: bad argument %s\n", a);
            return 2;
        }
    }
    if (steps < 1 || S < 16 || S % 16 || B < 1 || ntrain < B || nval < 1 || !(width > 0)) {
        fprintf(stderr, "gpu-check train: bad --steps, --size, --batch, --ntrain, --nval or --width\n");
        return 2;
    }
    fn_err e = {{0}};
    fn_backend *be = gpu_open("train", dev, prec, det, NULL, 0);
    if (!be) return 1;
    const size_t px = (size_t)S * S;
    float *xt = malloc(sizeof *xt * 3 * px * ntrain), *tt = malloc(sizeof *tt * px * ntrain);
    float *xv = malloc(sizeof *xv * 3 * px * nval), *tv = malloc(sizeof *tv * px * nval);
    float *pv = malloc(sizeof *pv * px * B);
    if (!xt || !tt || !xv || !tv || !pv) {
        fprintf(stderr, "gpu-check train: out of memory\n");
        return 1;
    }
    fn_net_config cfg = {3, (float)width, FN_ARCH_FOCUSNET};
    fn_net *net = NULL;
    int rc = 1;
    if (make_set(seed, ntrain, S, xt, tt, &e) || make_set(seed + 1, nval, S, xv, tv, &e) ||
        !(net = fn_net_new(be, &cfg, &e)) || fn_net_init_he(net, seed, &e) || fn_net_reserve(net, B, S, S, 1, &e))
        goto out;
    double t0 = now(), loss_sum = 0;
    int loss_n = 0;
    for (int s = 0; s < steps; s++) {
        const int first = (int)(((long)s * B) % (ntrain - B + 1)); /* a sliding window over the set */
        float loss = 0;
        if (fn_net_forward(net, xt + (size_t)first * 3 * px, B, S, S, 1, (uint64_t)s + 1, NULL, &e) ||
            fn_net_backward(net, tt + (size_t)first * px, &loss, &e) ||
            fn_net_adam_step(net, 1e-3f, 0.9f, 0.999f, 1e-7f, 1, &e))
            goto out;
        if (!isfinite(loss)) {
            snprintf(e.msg, sizeof e.msg, "the loss is %g at step %d", (double)loss, s);
            goto out;
        }
        if (s >= steps - 20) loss_sum += loss, loss_n++;
    }
    be->sync(be->ctx);
    double dice = 0;
    for (int i = 0; i < nval; i += B) {
        const int nb = nval - i < B ? nval - i : B;
        if (fn_net_forward(net, xv + (size_t)i * 3 * px, nb, S, S, 0, 0, pv, &e)) goto out;
        for (int j = 0; j < nb; j++) {
            double inter = 0, sp = 0, st = 0;
            const float *p = pv + (size_t)j * px, *t = tv + (size_t)(i + j) * px;
            for (size_t k = 0; k < px; k++) {
                const double b = p[k] >= 0.5f;
                inter += b * t[k], sp += b, st += t[k];
            }
            dice += sp + st > 0 ? 2 * inter / (sp + st) : 1.0;
        }
    }
    dice /= nval;
    printf("RESULT precision=%s%s val_dice=%.4f loss=%.4f seconds=%.1f device=%s\n", fn_precision_name(prec),
           det ? " deterministic" : "", dice, loss_n ? loss_sum / loss_n : 0.0, now() - t0, be->name);
    rc = 0;
out:
    if (rc) fprintf(stderr, "gpu-check train: %s\n", e.msg);
    fn_net_free(net);
    fn_backend_close(be);
    free(xt), free(tt), free(xv), free(tv), free(pv);
    return rc;
}
