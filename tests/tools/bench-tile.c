/* bench-tile: the cost of inference at any size (lib/train/tile.c) on the CPU backend.
 *
 * usage: bench-tile [--threads N] [--repeats R] [--width F]
 *
 * Two pairs, each timed in the same process, alternating the two sides R times (default 3) after a
 * warm-up of each, medians reported with their ratio:
 *   pad:  565x584 images (DRIVE's size, reflect-padded to 576x592) against 576x592 images, batch 1;
 *   tile: a 1024x1024 image in 256x256 tiles at overlap 0.5 (7 x 7 = 49 tiles, 8 per forward),
 *         against 49 times one 256x256 forward (batch 1).
 * The network is FocusNet with random weights, 3 input channels, width F (default 0.25). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "backend/backend.h"
#include "nn/net.h"
#include "train/predict.h"
#include "train/tile.h"
#include "timing.h"

static void die(const char *what, const fn_err *e) {
    fprintf(stderr, "bench-tile: %s: %s\n", what, e ? e->msg : "out of memory");
    exit(1);
}

/* seconds of one fn_infer_images call */
static double run(fn_net *net, const float *x, int H, int W, const fn_infer_opts *o, float *y) {
    fn_err e;
    double t0 = now();
    if (fn_infer_images(net, x, 1, H, W, o, y, &e)) die("infer", &e);
    return now() - t0;
}

/* seconds of k single 256x256 forwards */
static double run_singles(fn_net *net, const float *x, int k, float *y) {
    fn_err e;
    double t0 = now();
    for (int i = 0; i < k; i++)
        if (fn_predict(net, x, 1, 256, 256, 0, y, &e)) die("forward", &e);
    return now() - t0;
}

int main(int argc, char **argv) {
    int threads = 1, repeats = 3;
    float width = 0.25f;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--width") && i + 1 < argc) width = (float)atof(argv[++i]);
        else {
            fprintf(stderr, "usage: bench-tile [--threads N] [--repeats R] [--width F]\n");
            return 2;
        }
    }
    if (repeats < 1) repeats = 1;
    fn_err e;
    fn_backend *be = fn_cpu_backend_new(threads, &e);
    if (!be) die("backend", &e);
    fn_net_config cfg = {3, width, FN_ARCH_FOCUSNET};
    fn_net *net = fn_net_new(be, &cfg, &e);
    if (!net || fn_net_init_he(net, 1, &e)) die("net", &e);

    size_t big = (size_t)3 * 1024 * 1024;
    float *x = malloc(sizeof *x * big), *y = malloc(sizeof *y * 1024 * 1024);
    double *a = malloc(sizeof *a * (size_t)repeats), *b = malloc(sizeof *b * (size_t)repeats);
    if (!x || !y || !a || !b) die("buffers", NULL);
    for (size_t i = 0; i < big; i++) x[i] = (float)fn_golden_u("bench-tile", i);

    printf("FocusNet width %.3g, 3 channels, %d thread(s), median of %d alternating runs\n", width, threads, repeats);
    printf("%-44s %10s %10s %8s\n", "case", "seconds", "anchor s", "ratio");

    /* padding: 565x584 (padded to 576x592) against 576x592 */
    fn_infer_opts plain = {0, 0, 0, 0, 1};
    run(net, x, 584, 565, &plain, y);
    run(net, x, 592, 576, &plain, y);
    for (int r = 0; r < repeats; r++) {
        a[r] = run(net, x, 584, 565, &plain, y);
        b[r] = run(net, x, 592, 576, &plain, y);
    }
    double pa = median(a, repeats), pb = median(b, repeats);
    printf("%-44s %10.3f %10.3f %8.3f\n", "pad: 584x565 image vs 592x576 image", pa, pb, pa / pb);

    /* tiling: 1024x1024 in 256x256 tiles, overlap 0.5, 8 tiles per forward, against 49 single forwards */
    fn_infer_opts tiled = {256, 256, 0.5, 0, 8};
    int nt = fn_tile_starts(1024, 256, 0.5, NULL);
    nt *= nt;
    run(net, x, 1024, 1024, &tiled, y);
    run_singles(net, x, 1, y);
    for (int r = 0; r < repeats; r++) {
        a[r] = run(net, x, 1024, 1024, &tiled, y);
        b[r] = run_singles(net, x, nt, y);
    }
    double ta = median(a, repeats), tb = median(b, repeats);
    char name[80];
    snprintf(name, sizeof name, "tile: 1024^2, 256^2 tiles, overlap 0.5 vs %dx256^2", nt);
    printf("%-44s %10.3f %10.3f %8.3f\n", name, ta, tb, ta / tb);
    printf("targets: pad ratio <= 1.05; tile ratio <= 1.30\n");
    free(x), free(y), free(a), free(b);
    fn_net_free(net);
    fn_backend_close(be);
    return 0;
}
