/* check-golden: a whole network against a golden file (shared/design/golden.md; the network and width
 * from the file's metadata, FocusNet without).
 *
 * usage: check-golden [--device DEV] [--threads N] [--precision P [--if-supported]] FILE...
 *
 * --precision bf16 runs the matrix products in bf16 and widens the tolerances by fn_golden_tol_rounded
 * (u = 2^-9: 2*D*u for the outputs and the loss, 4*D*u for the gradients, D the net's convolutions:
 * 0.30 and 0.61 for FocusNet's 78; bf16's unit roundoff is 2^-8, so these are half the first-order
 * bound of golden.h: kept, as the measured errors stay well inside them on both bf16 paths); --precision
 * tf32 (CUDA) likewise with u = 2^-11 (0.076 and 0.15); --if-supported: a backend or CPU without it is
 * skipped (exit 0).
 * The recurrent networks (runet, r2unet) apply a convolution several times along a path, so D does not
 * bound their depth; make test checks FocusNet, resunet and attunet in bf16.
 *
 * DEV is cpu (the default), cuda, cuda:N or auto, as fn-train's --device. For each FILE: fills the
 * parameters by golden.md's formula, checks the file's input and target against the same formula, runs
 * the training-mode forward (dropout off), the Dice loss, the backward pass, one Adam step (lr 1e-3,
 * betas 0.9/0.999, eps 1e-7, no L2) and the inference forward, and prints each field's relative error
 * ||ours - ref|| / ||ref||. Exit 0 when all are within golden.md's tolerances, 1 otherwise (NaN never
 * passes), 2 on a usage error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "backend/backend.h"
#include "nn/golden.h"

#define USAGE "usage: check-golden [--device DEV] [--threads N] [--precision P [--if-supported]] FILE...\n"

int main(int argc, char **argv) {
    const char *dev = "cpu";
    int threads = 0, nfiles = 0, prec = FN_PREC_FP32, if_supported = 0;
    char **files = calloc((size_t)argc, sizeof *files);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) dev = argv[++i];
        else if (!strcmp(argv[i], "--if-supported")) if_supported = 1;
        else if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            if ((prec = fn_precision_parse(argv[++i])) < 0) { fprintf(stderr, "check-golden: bad --precision %s\n", argv[i]); return 2; }
        }
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { printf(USAGE); return 0; }
        else if (argv[i][0] == '-' && argv[i][1]) { fprintf(stderr, "check-golden: unknown option %s\n" USAGE, argv[i]); return 2; }
        else files[nfiles++] = argv[i];
    }
    if (!nfiles) { fprintf(stderr, USAGE); return 2; }

    fn_err e = { { 0 } };
    char note[256] = "";
    fn_backend *be = fn_backend_open(dev, threads, note, sizeof note, &e);
    if (!be) { fprintf(stderr, "check-golden: %s\n", e.msg); return 1; }
    if (note[0]) printf("%s\n", note);
    if (fn_backend_set_precision(be, prec, &e)) {
        printf("check-golden: %s%s\n", e.msg, if_supported ? ": skipped" : "");
        fn_backend_close(be);
        free(files);
        return if_supported ? 0 : 1;
    }
    int ok = 1;
    for (int f = 0; f < nfiles; f++) {
        fn_golden_result r;
        if (fn_golden_run(be, files[f], &r, &e)) {
            fprintf(stderr, "check-golden: %s\n", e.msg);
            ok = 0;
            continue;
        }
        if (prec == FN_PREC_BF16) fn_golden_tol_rounded(&r, 1.0 / 512); /* half bf16's 2^-8: see above */
        if (prec == FN_PREC_TF32) fn_golden_tol_rounded(&r, 1.0 / 1024); /* tf32: 2^-11 rounding to nearest, 2^-10 covers a truncating conversion */
        printf("golden %s: input [%d,%d,%d,%d], %s, %s, %d convolutions\n", files[f], r.N, r.C, r.H, r.W, be->device,
               fn_precision_name(prec), r.nconv);
        for (int k = 0; k < FN_GOLDEN_NFIELDS; k++) {
            int good = r.err[k] < r.tol[k]; /* false for NaN */
            printf("  %-24s rel err %.3e  (tolerance %.2g)  %s\n", fn_golden_field[k], r.err[k], r.tol[k],
                   good ? "ok" : "FAIL");
        }
        printf("check-golden: %s %s\n", files[f], r.pass ? "passed" : "FAILED");
        ok &= r.pass;
    }
    fn_backend_close(be);
    free(files);
    return ok ? 0 : 1;
}
