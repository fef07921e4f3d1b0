/* bench-conv: GFLOP/s of the CPU backend's convolutions on every conv layer of FocusNet
 * (focusnet.md appendix; 3-channel input, c0 = 32), and the time of all of them together.
 *
 * usage: bench-conv [-t THREADS] [-s SIZE] [-n BATCH] [-r REPS] [-p PREC] [-b] [-v] [-c] [-m]
 *   -p PREC   the products' precision: fp32 (default) or bf16 (backend set_precision)
 *   -s SIZE   input H = W (multiple of 16; default 256)      -n BATCH  batch (default 1)
 *   -r REPS   repetitions, the median is kept (default 3)   -b        also backward (data + filter)
 *   -v        one line per layer
 *   -c        time by process CPU time / threads instead of the wall clock (a busy machine)
 *   -m        keep the fastest repetition instead of the median (a noisy machine) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "backend/backend.h"

/* output size at 256x256, kernel, Ci, Co, stride */
static const int layers[][5] = {
    {256, 3, 3, 32, 1},                                         /* A0 */
    {128, 3, 32, 32, 2},   {128, 3, 32, 32, 1},   {128, 1, 32, 32, 2},   /* A1 */
    {128, 3, 32, 64, 1},   {128, 3, 64, 64, 1},   {128, 1, 32, 64, 1},   /* A2 */
    {64, 3, 64, 64, 2},    {64, 3, 64, 64, 1},    {64, 1, 64, 64, 2},    /* A3 */
    {64, 3, 64, 128, 1},   {64, 3, 128, 128, 1},  {64, 1, 64, 128, 1},   /* A4 */
    {32, 3, 128, 128, 2},  {32, 3, 128, 128, 1},  {32, 1, 128, 128, 2},  /* A5 */
    {32, 3, 128, 256, 1},  {32, 3, 256, 256, 1},  {32, 1, 128, 256, 1},  /* A6 */
    {64, 2, 256, 256, 1},                                                /* A7 up */
    {64, 3, 384, 256, 1},  {64, 3, 256, 256, 1},  {64, 1, 384, 256, 1},  /* A8 */
    {128, 2, 256, 128, 1},                                               /* A9 up */
    {128, 3, 192, 128, 1}, {128, 3, 128, 128, 1}, {128, 1, 192, 128, 1}, /* A10 */
    {256, 2, 128, 64, 1},                                                /* A11 up */
    {256, 3, 96, 64, 1},   {256, 3, 64, 64, 1},   {256, 1, 96, 64, 1},   /* A12 */
    {256, 7, 3, 64, 1},                                                  /* M0 */
    {256, 3, 64, 64, 1},   {256, 3, 64, 64, 1},                          /* M1 */
    {128, 3, 64, 64, 2},   {128, 3, 64, 64, 1},   {128, 1, 64, 64, 2},   /* M2 */
    {128, 3, 64, 128, 1},  {128, 3, 128, 128, 1}, {128, 1, 64, 128, 1},  /* M3 */
    {64, 3, 128, 128, 2},  {64, 3, 128, 128, 1},  {64, 1, 128, 128, 2},  /* M4 */
    {64, 3, 128, 256, 1},  {64, 3, 256, 256, 1},  {64, 1, 128, 256, 1},  /* M5 */
    {32, 3, 256, 256, 2},  {32, 3, 256, 256, 1},  {32, 1, 256, 256, 2},  /* M6 */
    {32, 3, 256, 512, 1},  {32, 3, 512, 512, 1},  {32, 1, 256, 512, 1},  /* M7 */
    {16, 3, 512, 512, 2},  {16, 3, 512, 512, 1},  {16, 1, 512, 512, 2},  /* M8 */
    {32, 2, 512, 256, 1},                                                /* M9 up */
    {32, 3, 512, 256, 1},  {32, 3, 256, 256, 1},  {32, 1, 512, 256, 1},  /* M10 */
    {64, 2, 256, 128, 1},                                                /* M11 up */
    {64, 3, 256, 128, 1},  {64, 3, 128, 128, 1},  {64, 1, 256, 128, 1},  /* M12 */
    {128, 2, 128, 64, 1},                                                /* M13 up */
    {128, 3, 128, 64, 1},  {128, 3, 64, 64, 1},   {128, 1, 128, 64, 1},  /* M14 */
    {256, 2, 64, 32, 1},                                                 /* M15 up */
    {256, 3, 96, 32, 1},   {256, 3, 32, 32, 1},   {256, 1, 96, 32, 1},   /* M16 */
    {256, 3, 32, 16, 1},   {256, 3, 16, 16, 1},   {256, 1, 32, 16, 1},   /* M17 */
    {256, 3, 16, 4, 1},    {256, 3, 4, 4, 1},     {256, 1, 16, 4, 1},    /* M18 */
    {256, 1, 4, 1, 1},                                                   /* OUT */
};
#define NL (int)(sizeof layers / sizeof *layers)

static int use_cpu_time, use_min, nthreads = 1;

static double now(void) {
    struct timespec t;
    if (use_cpu_time) {
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        return (t.tv_sec + t.tv_nsec * 1e-9) / nthreads;
    }
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int threads = 2, size = 256, batch = 1, reps = 3, bwd = 0, verbose = 0, prec = FN_PREC_FP32, opt;
    while ((opt = getopt(argc, argv, "t:s:n:r:p:bvcm")) != -1) {
        switch (opt) {
        case 't': threads = atoi(optarg); break;
        case 's': size = atoi(optarg); break;
        case 'n': batch = atoi(optarg); break;
        case 'r': reps = atoi(optarg); break;
        case 'p':
            if ((prec = fn_precision_parse(optarg)) < 0) {
                fprintf(stderr, "bench-conv: bad -p %s\n", optarg);
                return 2;
            }
            break;
        case 'b': bwd = 1; break;
        case 'v': verbose = 1; break;
        case 'c': use_cpu_time = 1; break;
        case 'm': use_min = 1; break;
        default:
            fprintf(stderr, "usage: bench-conv [-t THREADS] [-s SIZE] [-n BATCH] [-r REPS] [-p PREC] [-b] [-v] [-c] [-m]\n");
            return 2;
        }
    }
    if (size < 16 || size % 16 || batch < 1 || reps < 1) {
        fprintf(stderr, "bench-conv: bad arguments\n");
        return 2;
    }
    nthreads = threads;
    fn_err e;
    fn_backend *be = fn_cpu_backend_new(threads, &e);
    if (!be || fn_backend_set_precision(be, prec, &e)) {
        fprintf(stderr, "bench-conv: %s\n", e.msg);
        return 1;
    }
    /* buffers big enough for every layer */
    size_t maxx = 0, maxy = 0, maxw = 0;
    for (int l = 0; l < NL; l++) {
        size_t ho = (size_t)layers[l][0] * size / 256, hi = ho * layers[l][4];
        size_t nx = (size_t)batch * layers[l][2] * hi * hi, ny = (size_t)batch * layers[l][3] * ho * ho;
        size_t nw = (size_t)layers[l][3] * layers[l][2] * layers[l][1] * layers[l][1];
        if (nx > maxx) maxx = nx;
        if (ny > maxy) maxy = ny;
        if (nw > maxw) maxw = nw;
    }
    float *x = be->alloc(be->ctx, maxx), *y = be->alloc(be->ctx, maxy), *w = be->alloc(be->ctx, maxw);
    float *b = be->alloc(be->ctx, 512), *dx = be->alloc(be->ctx, maxx), *dw = be->alloc(be->ctx, maxw);
    if (!x || !y || !w || !b || !dx || !dw) {
        fprintf(stderr, "bench-conv: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < maxx; i++) x[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
    for (size_t i = 0; i < maxw; i++) w[i] = (float)((i * 40503u) % 1000) * 1e-4f - 0.05f;
    for (size_t i = 0; i < maxy; i++) y[i] = (float)((i * 2246822519u) % 1000) * 1e-3f - 0.5f;

    printf("# %s, %s, input %dx%d, batch %d, %s of %d%s\n", be->device, fn_precision_name(prec), size, size, batch, use_min ? "best" : "median", reps, use_cpu_time ? ", CPU time" : "");
    if (verbose) printf("%-4s %5s %2s %2s %4s %4s %9s %8s%s\n", "id", "out", "k", "s", "Ci", "Co", "GFLOP", "fwd", bwd ? "  bwd-data bwd-filt" : "");
    double tot_flop = 0, tot_f = 0, tot_d = 0, tot_w = 0;
    double *t = malloc(sizeof(double) * reps);
    for (int l = 0; l < NL; l++) {
        const int k = layers[l][1], Ci = layers[l][2], Co = layers[l][3], s = layers[l][4];
        const int Ho = layers[l][0] * size / 256, H = Ho * s;
        const double flop = 2.0 * batch * Ho * Ho * (double)k * k * Ci * Co;
        double med[3] = {0, 0, 0};
        for (int which = 0; which < (bwd ? 3 : 1); which++) {
            for (int r = -1; r < reps; r++) { /* r = -1: warm-up */
                double t0 = now();
                if (which == 0)
                    be->conv_fwd(be->ctx, x, w, b, y, batch, Ci, H, H, Co, k, s);
                else if (which == 1)
                    be->conv_bwd_data(be->ctx, y, w, dx, batch, Ci, H, H, Co, k, s, 0);
                else
                    be->conv_bwd_filter(be->ctx, x, y, dw, batch, Ci, H, H, Co, k, s);
                if (r >= 0) t[r] = now() - t0;
            }
            qsort(t, (size_t)reps, sizeof *t, cmpd);
            med[which] = t[use_min ? 0 : reps / 2];
        }
        tot_flop += flop, tot_f += med[0], tot_d += med[1], tot_w += med[2];
        if (verbose) {
            printf("%-4d %5d %2d %2d %4d %4d %9.3f %8.1f", l, Ho, k, s, Ci, Co, flop * 1e-9, flop / med[0] * 1e-9);
            if (bwd) printf("  %8.1f %8.1f", flop / med[1] * 1e-9, flop / med[2] * 1e-9);
            printf("\n");
        }
    }
    printf("all %d convs: %.2f GFLOP per pass\n", NL, tot_flop * 1e-9);
    printf("forward:         %7.3f s  %6.1f GFLOP/s\n", tot_f, tot_flop / tot_f * 1e-9);
    if (bwd) {
        printf("backward-data:   %7.3f s  %6.1f GFLOP/s\n", tot_d, tot_flop / tot_d * 1e-9);
        printf("backward-filter: %7.3f s  %6.1f GFLOP/s\n", tot_w, tot_flop / tot_w * 1e-9);
    }
    free(t);
    be->free(be->ctx, x), be->free(be->ctx, y), be->free(be->ctx, w), be->free(be->ctx, b);
    be->free(be->ctx, dx), be->free(be->ctx, dw);
    fn_backend_close(be);
    return 0;
}
