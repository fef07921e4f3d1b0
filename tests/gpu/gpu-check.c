/* gpu-check: the CUDA backend's test program (see gpu.h for its commands). */
#include <stdio.h>
#include <string.h>
#include "backend/backend.h"
#include "gpu.h"

static const char usage[] =
    "usage: gpu-check open DEVICE\n"
    "       gpu-check parity [--skip-if-no-gpu] [--quick] [--device DEV]\n"
    "       gpu-check golden [--device DEV] [--precision P [--if-supported]] FILE...\n"
    "       gpu-check bench [--device DEV] [--precision P] [--deterministic] [--size S] [--cin C]\n"
    "                       [--train-batch N] [--infer-batch N] [--repeats R] [--warmup W] [--profile]\n"
    "       gpu-check train [--device DEV] [--precision P] [--deterministic] [--steps S] [--size S]\n"
    "                       [--batch B] [--width F] [--ntrain N] [--nval N] [--seed S]\n";

/* open DEVICE: what fn-train --device DEVICE would get */
static int open_main(int argc, char **argv) {
    if (argc != 2) {
        fputs(usage, stderr);
        return 2;
    }
    char note[512] = "";
    fn_err e = {{0}};
    fn_backend *be = fn_backend_open(argv[1], 0, note, sizeof note, &e);
    if (!be) {
        fprintf(stderr, "gpu-check: %s\n", e.msg);
        return 1;
    }
    printf("%s: %s: %s\n", argv[1], be->name, be->device);
    if (note[0]) printf("%s: note: %s\n", argv[1], note);
    fn_backend_close(be);
    return 0;
}

fn_backend *gpu_open(const char *cmd, const char *dev, int prec, int det, char *note, size_t note_len) {
    fn_err e = {{0}};
    fn_backend *be = fn_backend_open(dev, 0, note, note_len, &e);
    if (be && fn_backend_set_precision(be, prec, &e)) {
        fn_backend_close(be);
        be = NULL;
    }
    if (!be) {
        fprintf(stderr, "gpu-check %s: %s\n", cmd, e.msg);
        return NULL;
    }
    if (be->set_deterministic) be->set_deterministic(be->ctx, det);
    return be;
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "open")) return open_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "parity")) return gpu_parity_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "golden")) return gpu_golden_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "bench")) return gpu_bench_main(argc - 1, argv + 1);
    if (!strcmp(cmd, "train")) return gpu_train_main(argc - 1, argv + 1);
    fprintf(stderr, "gpu-check: unknown command %s\n%s", cmd, usage);
    return 2;
}
