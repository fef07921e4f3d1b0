/* bench.c: FocusNet speed on one device, as fn-train and fn-infer run it.
 *
 * gpu-check bench [--device DEV] [--precision P] [--deterministic] [--size S] [--cin C] [--train-batch N]
 *                 [--infer-batch N] [--repeats R] [--warmup W] [--profile]
 *
 * Defaults: cuda, 256x256, 3 channels, training batch 8, inference batch 32, 10 timed repeats after 3
 * warm-ups (the first step of a shape also chooses the cuDNN algorithms; its time is printed apart).
 * A training step is fn_net_forward (train) + fn_net_backward (Dice) + fn_net_adam_step, an inference
 * step fn_net_forward (inference) with the probabilities copied back; both include the upload of the
 * batch from host memory, as in the tools. Prints the median images/s and a last line
 *   RESULT device=... precision=... train_img_s=X infer_img_s=Y train_ms=... infer_ms=... train_mib=... (the
 *   net's buffers) train_used_mib=... (the device memory in use after the timed steps, less what was in use
 *   before the net: with cuDNN's workspace, the backend's scratch and cached weights; 0 when unknown)
 * for tests/gpu/check.sh. --precision fp32|tf32|bf16 and --deterministic as fn-train's (the default: fp32,
 * the fastest algorithms, deterministic or not).
 * --profile: then two more steps of each case with every op timed apart (a sync around each), the
 * time per op type and direction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "backend/backend.h"
#include "gpu.h"
#include "nn/net.h"
#include "../tools/timing.h"

static int profile;

/* one case: median seconds per step, the first step's seconds in *first, the net's bytes in *bytes and the
 * device memory in use after the timed steps in *used (0 when the backend cannot tell); < 0 on failure */
static double run(fn_net *net, fn_backend *be, int train, int N, int S, int cin, int warm, int reps, double *first,
                   size_t *bytes, size_t *used) {
    fn_err e = {{0}};
    size_t nx = (size_t)N * cin * S * S, ny = (size_t)N * S * S;
    float *x = malloc(nx * sizeof *x), *t = malloc(ny * sizeof *t), *out = malloc(ny * sizeof *out);
    double *sec = malloc((size_t)(warm + reps) * sizeof *sec);
    if (!x || !t || !out || !sec) {
        fprintf(stderr, "gpu-check bench: out of memory\n");
        return -1;
    }
    for (size_t i = 0; i < nx; i++) x[i] = (float)fn_golden_u("bench", i);
    for (size_t i = 0; i < ny; i++) t[i] = fn_golden_u("target", i) > 0 ? 1.0f : 0.0f;
    if (fn_net_reserve(net, N, S, S, train, &e)) {
        fprintf(stderr, "gpu-check bench: %s\n", e.msg);
        return -1;
    }
    for (int r = 0; r < warm + reps; r++) {
        double t0 = now();
        float loss = 0;
        int rc;
        if (train) {
            rc = fn_net_forward(net, x, N, S, S, 1, (uint64_t)r, NULL, &e) || fn_net_backward(net, t, &loss, &e) ||
                 fn_net_adam_step(net, 1e-4f, 0.9f, 0.999f, 1e-7f, 1, &e);
        } else {
            rc = fn_net_forward(net, x, N, S, S, 0, 0, out, &e);
        }
        be->sync(be->ctx);
        if (rc) {
            fprintf(stderr, "gpu-check bench: %s\n", e.msg);
            return -1;
        }
        sec[r] = now() - t0;
        fprintf(stderr, "  %s batch %d step %d: %.1f ms%s\n", train ? "train" : "infer", N, r, sec[r] * 1e3,
                r < warm ? " (warm-up)" : "");
    }
    if (profile) {
        fn_net_set_profile(net, 1);
        fn_net_profile_reset(net);
        for (int r = 0; r < 2; r++) {
            int rc = train ? fn_net_forward(net, x, N, S, S, 1, 0, NULL, &e) || fn_net_backward(net, t, NULL, &e) ||
                                 fn_net_adam_step(net, 1e-4f, 0.9f, 0.999f, 1e-7f, 1, &e)
                           : fn_net_forward(net, x, N, S, S, 0, 0, out, &e);
            if (rc) return -1;
        }
        be->sync(be->ctx);
        printf("profile %s (per step, synchronised per op):\n", train ? "train" : "inference");
        fn_net_profile_print(net, stdout, 2);
        fn_net_set_profile(net, 0);
    }
    *first = sec[0];
    *bytes = fn_net_device_bytes(net);
    size_t tot = 0;
    *used = 0;
    if (be->mem_info && be->mem_info(be->ctx, used, &tot)) *used = 0;
    double med = median(sec + warm, reps);
    free(x), free(t), free(out), free(sec);
    return med;
}

int gpu_bench_main(int argc, char **argv) {
    const char *dev = "cuda";
    int prec = FN_PREC_FP32, det = 0;
    int S = 256, cin = 3, tb = 8, ib = 32, reps = 10, warm = 3;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 < argc && !strcmp(a, "--device")) dev = argv[++i];
        else if (i + 1 < argc && !strcmp(a, "--size")) S = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--cin")) cin = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--train-batch")) tb = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--infer-batch")) ib = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--repeats")) reps = atoi(argv[++i]);
        else if (i + 1 < argc && !strcmp(a, "--warmup")) warm = atoi(argv[++i]);
        else if (!strcmp(a, "--profile")) profile = 1;
        else if (!strcmp(a, "--deterministic")) det = 1;
        else if (i + 1 < argc && !strcmp(a, "--precision")) {
            if ((prec = fn_precision_parse(argv[++i])) < 0) {
                fprintf(stderr, "gpu-check bench: bad --precision %s\n", argv[i]);
                return 2;
            }
        }
        else {
            fprintf(stderr, "gpu-check bench: bad argument %s\n", a);
            return 2;
        }
    }
    if (S < 16 || S % 16 || cin < 1 || tb < 0 || ib < 0 || reps < 1 || warm < 1) {
        fprintf(stderr, "gpu-check bench: bad --size, --cin, batch, --repeats or --warmup\n");
        return 2;
    }
    fn_err e = {{0}};
    char note[256] = "";
    fn_backend *be = gpu_open("bench", dev, prec, det, note, sizeof note);
    if (!be) return 1;
    printf("bench: %s, %s%s\n", be->device, fn_precision_name(prec), det ? ", deterministic" : "");
    /* the device memory in use before any net: the baseline of the memory figures (the CUDA context) */
    size_t base = 0, tot0 = 0;
    if (be->mem_info && be->mem_info(be->ctx, &base, &tot0)) base = 0;
    double tr = 0, inf = 0, tr_first = 0, inf_first = 0;
    size_t tr_bytes = 0, inf_bytes = 0, tr_used = 0, inf_used = 0;
    fn_net_config cfg = {cin, 1.0f, FN_ARCH_FOCUSNET};
    /* a fresh net per case, so that each one's device memory is its own */
    for (int train = 1; train >= 0; train--) {
        int N = train ? tb : ib;
        if (!N) continue;
        fn_net *net = fn_net_new(be, &cfg, &e);
        if (!net || fn_net_init_he(net, 1, &e)) {
            fprintf(stderr, "gpu-check bench: %s\n", e.msg);
            return 1;
        }
        double first = 0;
        size_t bytes = 0, used = 0;
        double med = run(net, be, train, N, S, cin, warm, reps, &first, &bytes, &used);
        fn_net_free(net);
        used = used > base ? used - base : 0; /* the net, cuDNN's workspace, scratch and cached weights */
        if (med < 0) return 1;
        printf("fn %s FocusNet cin %d %dx%d batch %d: %8.1f img/s (median %.1f ms of %d; first step %.2f s), "
               "net device memory %.0f MiB, device memory in use %.0f MiB over the context's\n",
               train ? "train step" : "inference ", cin, S, S, N, N / med, med * 1e3, reps, first, bytes / 1048576.0,
               used / 1048576.0);
        fflush(stdout);
        if (train) tr = med, tr_first = first, tr_bytes = bytes, tr_used = used;
        else inf = med, inf_first = first, inf_bytes = bytes, inf_used = used;
    }
    printf("RESULT device=%s precision=%s%s train_img_s=%.1f infer_img_s=%.1f train_ms=%.2f infer_ms=%.2f train_first_s=%.2f "
           "infer_first_s=%.2f train_mib=%.0f infer_mib=%.0f train_used_mib=%.0f infer_used_mib=%.0f\n",
           be->name, fn_precision_name(prec), det ? " deterministic=1" : "", tr > 0 ? tb / tr : 0, inf > 0 ? ib / inf : 0, tr * 1e3, inf * 1e3, tr_first, inf_first,
           tr_bytes / 1048576.0, inf_bytes / 1048576.0, tr_used / 1048576.0, inf_used / 1048576.0);
    fn_backend_close(be);
    return 0;
}
