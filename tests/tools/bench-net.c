/* bench-net: the networks' speed on the CPU backend (FocusNet, or --arch NET: fn-train's networks).
 *
 * usage: bench-net [--threads N] [--repeats R] [--width F] [--arch NET] [--precision P] [--tsv] [--profile]
 *                  [--cpu-time] [CASE...]
 *
 * CASE is infer256b1, infer256b8, train128b8 (default: all three), or inferHxWbN / trainHxWbN.
 * Each case runs in its own child process (so that its peak RSS is its own): one warm-up, then R timed
 * repeats (default 3); it prints the median images/s and the peak resident memory. A training step is
 * forward + backward + one Adam step, as fn-train does it. --profile prints the time per op type (with
 * a sync around each op, so slightly slower) on stderr. --cpu-time times each run by the process's CPU
 * time divided by the threads instead of the wall clock: on a machine others load, the work done, not
 * the waits for a core (as bench-conv -c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "backend/backend.h"
#include "nn/net.h"
#include "timing.h"

typedef struct { int train, H, W, N; char name[32]; } bcase;

static int parse_case(const char *s, bcase *c) {
    int n = 0;
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", s);
    if (sscanf(s, "infer%db%d%n", &c->H, &c->N, &n) == 2 && !s[n]) c->W = c->H;
    else if (sscanf(s, "train%db%d%n", &c->H, &c->N, &n) == 2 && !s[n]) { c->W = c->H; c->train = 1; }
    else if (sscanf(s, "infer%dx%db%d%n", &c->H, &c->W, &c->N, &n) == 3 && !s[n]) {}
    else if (sscanf(s, "train%dx%db%d%n", &c->H, &c->W, &c->N, &n) == 3 && !s[n]) c->train = 1;
    else return -1;
    return c->H % 16 || c->W % 16 || c->N < 1 ? -1 : 0;
}

/* in the child: run the case, write the median seconds per batch to fd */
static int profile, cpu_time, arch = FN_ARCH_FOCUSNET, precision = FN_PREC_FP32;

static double clock_s(int threads) {
    if (!cpu_time) return now();
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return ((double)t.tv_sec + t.tv_nsec * 1e-9) / threads;
}

static int run_case(const bcase *c, int threads, int repeats, float width, int fd) {
    fn_err e;
    fn_backend *be = fn_cpu_backend_new(threads, &e);
    if (!be || fn_backend_set_precision(be, precision, &e)) { fprintf(stderr, "bench-net: %s\n", e.msg); return 1; }
    fn_net_config cfg = { 3, width, arch };
    fn_net *net = fn_net_new(be, &cfg, &e);
    if (!net || fn_net_init_he(net, 1, &e)) { fprintf(stderr, "bench-net: %s\n", e.msg); return 1; }
    size_t nx = (size_t)c->N * 3 * c->H * c->W, ny = (size_t)c->N * c->H * c->W;
    float *x = malloc(sizeof *x * nx), *y = malloc(sizeof *y * ny), *t = malloc(sizeof *t * ny);
    if (!x || !y || !t) { fprintf(stderr, "bench-net: out of memory\n"); return 1; }
    for (size_t i = 0; i < nx; i++) x[i] = (float)fn_golden_u("bench", i);
    for (size_t i = 0; i < ny; i++) t[i] = fn_golden_u("target", i) > 0 ? 1.0f : 0.0f;
    double *sec = malloc(sizeof *sec * (size_t)(repeats + 1));
    for (int r = 0; r <= repeats; r++) {
        if (r == 1 && profile) {
            fn_net_set_profile(net, 1);
            fn_net_profile_reset(net);
        }
        double t0 = clock_s(threads);
        float loss;
        int rc = fn_net_forward(net, x, c->N, c->H, c->W, c->train, (uint64_t)r, y, &e);
        if (!rc && c->train) rc = fn_net_backward(net, t, &loss, &e) || fn_net_adam_step(net, 1e-3f, 0.9f, 0.999f, 1e-7f, 1, &e);
        if (rc) { fprintf(stderr, "bench-net: %s\n", e.msg); return 1; }
        sec[r] = clock_s(threads) - t0;
        fprintf(stderr, "  %s %s %.3f s\n", c->name, r ? "repeat" : "warm-up", sec[r]);
    }
    if (profile) { /* time per op type, per timed run; the net's memory (parameters, arena, ...) */
        fn_net_profile_print(net, stderr, repeats);
        fprintf(stderr, "    net's memory     %8.1f MB\n", (double)fn_net_device_bytes(net) / 1e6);
    }
    double med = median(sec + 1, repeats);
    if (write(fd, &med, sizeof med) != sizeof med) return 1;
    fn_net_free(net);
    be->destroy(be);
    free(x); free(y); free(t); free(sec);
    return 0;
}

int main(int argc, char **argv) {
    int threads = 2, repeats = 3, tsv = 0, nc = 0;
    float width = 1.0f;
    bcase cs[16];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc) repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--width") && i + 1 < argc) width = (float)atof(argv[++i]);
        else if (!strcmp(argv[i], "--arch") && i + 1 < argc) {
            if ((arch = fn_arch_parse(argv[++i])) < 0) { fprintf(stderr, "bench-net: unknown --arch %s\n", argv[i]); return 2; }
        } else if (!strcmp(argv[i], "--precision") && i + 1 < argc) {
            if ((precision = fn_precision_parse(argv[++i])) < 0) { fprintf(stderr, "bench-net: bad --precision %s\n", argv[i]); return 2; }
        } else if (!strcmp(argv[i], "--tsv")) tsv = 1;
        else if (!strcmp(argv[i], "--profile")) profile = 1;
        else if (!strcmp(argv[i], "--cpu-time")) cpu_time = 1;
        else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: bench-net [--threads N] [--repeats R] [--width F] [--arch NET] [--precision P] [--tsv] [--profile]\n"
                   "                 [--cpu-time] [CASE...]\n"
                   "CASE: infer256b1 infer256b8 train128b8 (default), inferHxWbN, trainHxWbN\n");
            return 0;
        } else if (nc < 16 && parse_case(argv[i], &cs[nc]) == 0) nc++;
        else { fprintf(stderr, "bench-net: bad argument %s\n", argv[i]); return 2; }
    }
    if (repeats < 1 || threads < 1) { fprintf(stderr, "bench-net: bad --repeats or --threads\n"); return 2; }
    if (!nc) {
        const char *def[] = { "infer256b1", "infer256b8", "train128b8" };
        for (int i = 0; i < 3; i++) parse_case(def[i], &cs[nc++]);
    }
    if (tsv) printf("impl\tcase\tthreads\timages_per_s\tpeak_rss_mb\n");
    int status = 0;
    for (int i = 0; i < nc; i++) {
        int p[2];
        if (pipe(p)) { perror("bench-net: pipe"); return 1; }
        fflush(stdout);
        pid_t pid = fork();
        if (pid < 0) { perror("bench-net: fork"); return 1; }
        if (pid == 0) {
            close(p[0]);
            _exit(run_case(&cs[i], threads, repeats, width, p[1]));
        }
        close(p[1]);
        double med = NAN;
        ssize_t got = read(p[0], &med, sizeof med);
        close(p[0]);
        int st;
        struct rusage ru;
        if (wait4(pid, &st, 0, &ru) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) || got != sizeof med) {
            fprintf(stderr, "bench-net: case %s failed\n", cs[i].name);
            status = 1;
            continue;
        }
        double ips = cs[i].N / med, mb = ru.ru_maxrss / 1024.0;
        if (tsv) printf("fn\t%s\t%d\t%.4f\t%.0f\n", cs[i].name, threads, ips, mb);
        else printf("fn %s %-12s %s %dx%d batch %d, %d threads: %8.3f images/s (median of %d), peak RSS %.0f MB\n",
                    fn_arch_name(arch), cs[i].name, cs[i].train ? "train step" : "inference ", cs[i].H, cs[i].W, cs[i].N, threads, ips,
                    repeats, mb);
        fflush(stdout);
    }
    return status;
}
