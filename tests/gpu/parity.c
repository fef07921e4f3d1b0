/* parity.c: every op of lib/backend/backend.h on the CPU backend (the oracle) and the CUDA backend, on the
 * same random inputs, compared. Prints one row per check, "op case max_rel_err ok", where
 * max_rel_err = max |gpu - cpu| / max |cpu| over the output; exits 1 on any mismatch (NaN never passes).
 * Accumulating outputs (acc = 1, parameter gradients) start from the same random values on both.
 * Also: repeated GPU runs must be bitwise identical (determinism), the dropout masks must be identical,
 * and a small FocusNet forward + backward must agree on both backends, as must the comparison networks
 * (fn-train --arch).
 *
 * Then the other precisions (set_precision on both backends), each against its oracle, every bound derived
 * from the rounding (u: the unit roundoff of the rounded inputs; A = the convolution of |inputs|, which
 * bounds sum |x_i w_i| per output, computed by the CPU backend):
 *   tf32 against the CPU's fp32: each product's inputs rounded (u = 2^-10: TF32's 11 significant bits give
 *        2^-11 rounding to nearest, and the bound also covers a conversion that truncates), so each output is off by at
 *        most 2u A (+ fp32's own tolerance): max |gpu - cpu| / max |cpu| <= 2u max A / max |cpu| + TOL_CONV;
 *   bf16 against the CPU's bf16 path, which rounds the same inputs the same way (to nearest even): only
 *        the GPU's rounding of each output to bf16 (u = 2^-8: bf16's 8 significant bits, at most u A) and the order of the fp32 sums
 *        differ: <= u max A / max |cpu| + TOL_CONV (where the CPU has no bf16 instructions, against its
 *        fp32 with 3u: the inputs' 2u and the output's u);
 *   the whole net in either, as lib/nn/golden.h's bound: D convolutions in sequence (D = the net's
 *        convolutions), each off by at most k u relative, give k D u for the output and the loss and 2 k D u
 *        for the gradients, k = 2 for tf32 against fp32 and k = 1 for bf16 against the CPU's bf16 (3 against
 *        its fp32), each at least fp32's tolerance.
 * The fp32 checks run with set_deterministic(1) (the determinism rows), the tf32 and bf16 ones with the
 * default, fastest algorithms, and FocusNet once more in fp32 with them; adam_segs (one kernel over all the
 * segments) must equal the CPU's adam segment by segment. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "backend/backend.h"
#include "gpu.h"
#include "nn/net.h"

/* tolerances */
#define TOL_EXACT 1e-6 /* elementwise: the same float expression (expf may differ by an ulp) */
#define TOL_RED 2e-5   /* reductions in a different order */
#define TOL_CONV 1e-4  /* fp32 convolutions, TF32 off */
#define TOL_NET 1e-3   /* a whole network's output, norm-wise */
#define TOL_NETG 5e-3  /* its gradients, statistics, parameters after Adam (golden.md's gradient tolerance) */

typedef struct P {
    fn_backend *cpu, *gpu;
    int checks, fails;
    uint64_t rng;
    double ku;      /* conv bound: k*u (0: fp32, the fixed TOL_CONV) */
    const char *pname; /* the precision under test */
    int quick;
} P;

typedef struct buf {
    float *c, *g; /* the same tensor on the CPU and the GPU backend */
    size_t n;
} buf;

static void die(const char *msg) {
    fprintf(stderr, "gpu-check parity: %s\n", msg);
    exit(1);
}

static float urand(P *p) { /* uniform in [-1, 1) */
    p->rng ^= p->rng << 13;
    p->rng ^= p->rng >> 7;
    p->rng ^= p->rng << 17;
    return (float)((p->rng >> 40) * (1.0 / 8388608.0) - 1.0);
}

static float *host(size_t n) {
    float *h = malloc((n ? n : 1) * sizeof *h);
    if (!h) die("out of memory");
    return h;
}

/* a tensor of n values uniform in [lo, hi) on both backends */
static buf mk(P *p, size_t n, float lo, float hi) {
    buf b = {p->cpu->alloc(p->cpu->ctx, n), p->gpu->alloc(p->gpu->ctx, n), n};
    if (!b.c || !b.g) die("out of device memory");
    float *h = host(n);
    for (size_t i = 0; i < n; i++) h[i] = lo + (hi - lo) * 0.5f * (urand(p) + 1.0f);
    p->cpu->upload(p->cpu->ctx, b.c, h, n);
    p->gpu->upload(p->gpu->ctx, b.g, h, n);
    free(h);
    return b;
}

static buf mkr(P *p, size_t n) { return mk(p, n, -1.0f, 1.0f); }

static void bfree(P *p, buf *b) {
    p->cpu->free(p->cpu->ctx, b->c);
    p->gpu->free(p->gpu->ctx, b->g);
    b->c = b->g = NULL;
}

/* max |g - c| / max |c|; INFINITY when a value is not finite */
static double relerr(const float *c, const float *g, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(c[i]) || !isfinite(g[i])) return INFINITY;
        double e = fabs((double)g[i] - c[i]);
        if (e > d) d = e;
        if (fabs(c[i]) > r) r = fabs(c[i]);
    }
    return r > 0 ? d / r : d;
}

static void row(P *p, const char *op, const char *cs, double err, double tol) {
    int ok = err <= tol; /* false for NaN */
    p->checks++;
    if (!ok) p->fails++;
    printf("%-22s %-32s %11.3e %9.2e  %s\n", op, cs, err, tol, ok ? "ok" : "FAIL");
    fflush(stdout);
}

/* compare buffer b of both backends */
static void cmp(P *p, const char *op, const char *cs, buf b, double tol) {
    float *hc = host(b.n), *hg = host(b.n);
    p->cpu->download(p->cpu->ctx, hc, b.c, b.n);
    p->gpu->download(p->gpu->ctx, hg, b.g, b.n);
    double err = relerr(hc, hg, b.n);
    row(p, op, cs, err, tol);
    if (!(err <= tol)) { /* the first bad element, for the report */
        size_t worst = 0;
        double we = -1;
        for (size_t i = 0; i < b.n; i++) {
            double e = isfinite(hg[i]) && isfinite(hc[i]) ? fabs((double)hg[i] - hc[i]) : INFINITY;
            if (e > we) we = e, worst = i;
        }
        printf("    worst at %zu of %zu: cpu %.9g gpu %.9g\n", worst, b.n, hc[worst], hg[worst]);
    }
    free(hc);
    free(hg);
}

/* the GPU buffer must be bitwise equal to a saved copy */
static void same_bits(P *p, const char *op, const char *cs, const float *saved, buf b) {
    float *hg = host(b.n);
    p->gpu->download(p->gpu->ctx, hg, b.g, b.n);
    size_t diff = 0;
    for (size_t i = 0; i < b.n; i++) diff += memcmp(&hg[i], &saved[i], sizeof(float)) != 0;
    row(p, op, cs, (double)diff, 0);
    free(hg);
}

static float *save_gpu(P *p, buf b) {
    float *h = host(b.n);
    p->gpu->download(p->gpu->ctx, h, b.g, b.n);
    return h;
}

/* convolution ------------------------------------------------------------------------------------------ */

/* max |v| of a CPU buffer */
static double cpu_max(P *p, const float *c, size_t n) {
    float *h = host(n);
    p->cpu->download(p->cpu->ctx, h, c, n);
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(h[i]) > m) m = fabs(h[i]);
    free(h);
    return m;
}

/* a CPU buffer holding |b| */
static float *cpu_abs(P *p, buf b) {
    float *h = host(b.n), *a = p->cpu->alloc(p->cpu->ctx, b.n);
    if (!a) die("out of memory");
    p->cpu->download(p->cpu->ctx, h, b.c, b.n);
    for (size_t i = 0; i < b.n; i++) h[i] = fabsf(h[i]);
    p->cpu->upload(p->cpu->ctx, a, h, b.n);
    free(h);
    return a;
}

/* the tolerance of a convolution output b (its CPU values as they are now): fp32's, or with the rounding
 * bound k*u*max A/max|cpu| added, A [n] the same convolution of the inputs' absolute values (a CPU buffer;
 * it bounds the new part of an accumulated output too) */
static double conv_tol(P *p, buf b, const float *A) {
    if (!A) return TOL_CONV;
    double ma = cpu_max(p, A, b.n), mc = cpu_max(p, b.c, b.n);
    return p->ku * (mc > 0 ? ma / mc : ma) + TOL_CONV;
}

static void conv_case(P *p, int N, int Ci, int H, int W, int Co, int k, int s, int bias, int det) {
    int Ho = fn_same(H, k, s, NULL), Wo = fn_same(W, k, s, NULL);
    char cs[64];
    snprintf(cs, sizeof cs, "%dx%dx%dx%d->%d k%d s%d%s", N, Ci, H, W, Co, k, s, bias ? " +b" : "");
    size_t nx = (size_t)N * Ci * H * W, ny = (size_t)N * Co * Ho * Wo, nw = (size_t)Co * Ci * k * k;
    buf x = mkr(p, nx), w = mk(p, nw, -0.5f, 0.5f), b = mkr(p, (size_t)Co), y = mkr(p, ny), dy = mkr(p, ny);
    buf dx = mkr(p, nx), dw = mkr(p, nw), db = mkr(p, (size_t)Co);
    fn_backend *be[2] = {p->cpu, p->gpu};
    /* the rounding bounds' A: the convolutions of |x|, |w|, |dy| on the CPU (in its current precision: the
     * CPU's bf16 rounds them too, which changes A by a factor 1 +- 2u at most) */
    float *ax = p->ku > 0 ? cpu_abs(p, x) : NULL, *aw = ax ? cpu_abs(p, w) : NULL, *ady = ax ? cpu_abs(p, dy) : NULL;
    float *Ay = NULL, *Adx = NULL, *Adw = NULL;
    if (ax) {
        Ay = p->cpu->alloc(p->cpu->ctx, ny), Adx = p->cpu->alloc(p->cpu->ctx, nx), Adw = p->cpu->alloc(p->cpu->ctx, nw);
        if (!Ay || !Adx || !Adw) die("out of memory");
        p->cpu->conv_fwd(p->cpu->ctx, ax, aw, NULL, Ay, N, Ci, H, W, Co, k, s);
        p->cpu->conv_bwd_data(p->cpu->ctx, ady, aw, Adx, N, Ci, H, W, Co, k, s, 0);
        p->cpu->conv_bwd_filter(p->cpu->ctx, ax, ady, Adw, N, Ci, H, W, Co, k, s);
        p->cpu->free(p->cpu->ctx, ax), p->cpu->free(p->cpu->ctx, aw), p->cpu->free(p->cpu->ctx, ady);
    }
    for (int i = 0; i < 2; i++) {
        float *X = i ? x.g : x.c, *Wt = i ? w.g : w.c, *B = i ? b.g : b.c, *Y = i ? y.g : y.c;
        be[i]->conv_fwd(be[i]->ctx, X, Wt, bias ? B : NULL, Y, N, Ci, H, W, Co, k, s);
    }
    cmp(p, "conv_fwd", cs, y, conv_tol(p, y, Ay));
    for (int acc = 0; acc < 2; acc++) {
        for (int i = 0; i < 2; i++)
            be[i]->conv_bwd_data(be[i]->ctx, i ? dy.g : dy.c, i ? w.g : w.c, i ? dx.g : dx.c, N, Ci, H, W, Co, k, s,
                                 acc);
        cmp(p, acc ? "conv_bwd_data+=" : "conv_bwd_data", cs, dx, conv_tol(p, dx, Adx));
    }
    for (int i = 0; i < 2; i++) {
        be[i]->conv_bwd_filter(be[i]->ctx, i ? x.g : x.c, i ? dy.g : dy.c, i ? dw.g : dw.c, N, Ci, H, W, Co, k, s);
        be[i]->conv_bwd_bias(be[i]->ctx, i ? dy.g : dy.c, i ? db.g : db.c, N, Co, Ho * Wo);
    }
    cmp(p, "conv_bwd_filter+=", cs, dw, conv_tol(p, dw, Adw));
    cmp(p, "conv_bwd_bias+=", cs, db, TOL_RED);
    if (det) { /* the same GPU computation twice: bitwise equal (deterministic algorithms) */
        p->gpu->fill(p->gpu->ctx, dw.g, 0.0f, nw);
        p->gpu->conv_bwd_filter(p->gpu->ctx, x.g, dy.g, dw.g, N, Ci, H, W, Co, k, s);
        float *s1 = save_gpu(p, dw);
        p->gpu->fill(p->gpu->ctx, dw.g, 0.0f, nw);
        p->gpu->conv_bwd_filter(p->gpu->ctx, x.g, dy.g, dw.g, N, Ci, H, W, Co, k, s);
        same_bits(p, "det bwd_filter", cs, s1, dw);
        free(s1);
        p->gpu->conv_bwd_data(p->gpu->ctx, dy.g, w.g, dx.g, N, Ci, H, W, Co, k, s, 0);
        s1 = save_gpu(p, dx);
        p->gpu->conv_bwd_data(p->gpu->ctx, dy.g, w.g, dx.g, N, Ci, H, W, Co, k, s, 0);
        same_bits(p, "det bwd_data", cs, s1, dx);
        free(s1);
    }
    if (Ay) p->cpu->free(p->cpu->ctx, Ay), p->cpu->free(p->cpu->ctx, Adx), p->cpu->free(p->cpu->ctx, Adw);
    buf all[] = {x, w, b, y, dy, dx, dw, db};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) bfree(p, &all[i]);
}

static void conv_tests(P *p, int quick) {
    const int ks[] = {1, 2, 3, 7}, ss[] = {1, 2};
    const int hw[][2] = {{8, 8}, {9, 7}, {6, 11}, {1, 1}, {16, 15}};
    int nhw = quick ? 3 : (int)(sizeof hw / sizeof *hw);
    for (int a = 0; a < 4; a++)
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < nhw; c++)
                conv_case(p, 2, 3, hw[c][0], hw[c][1], 5, ks[a], ss[b], (a + b + c) % 2, 0);
    /* FocusNet-like shapes (more channels: other cuDNN algorithms), and determinism */
    conv_case(p, 2, 32, 32, 32, 48, 3, 1, 1, 1);
    conv_case(p, 2, 32, 32, 32, 64, 3, 2, 0, 1);
    conv_case(p, 2, 64, 16, 16, 128, 1, 2, 1, 0);
    conv_case(p, 2, 3, 64, 64, 32, 7, 2, 1, 1);
    conv_case(p, 1, 16, 15, 16, 16, 2, 1, 0, 0);
    if (!quick) {
        conv_case(p, 4, 64, 64, 64, 64, 3, 1, 1, 1);
        conv_case(p, 2, 128, 32, 32, 256, 3, 2, 1, 0);
        conv_case(p, 2, 256, 16, 16, 128, 1, 1, 1, 0);
    }
}

/* batch norm ------------------------------------------------------------------------------------------- */

/* sync-BN's sum as two identical replicas give it: every sum doubled (the count too), so the results
 * equal a single replica's (dgamma and dbeta stay the replica's own) */
static void twice(void *ctx, double *sums, size_t n) {
    fn_backend *be = ctx;
    double *h = malloc(sizeof *h * n);
    if (!h) die("out of memory");
    be->download(be->ctx, (float *)h, (const float *)sums, 2 * n); /* n doubles as 2n floats' bytes */
    for (size_t i = 0; i < n; i++) h[i] *= 2;
    be->upload(be->ctx, (float *)sums, (const float *)h, 2 * n);
    free(h);
}

static void bn_case(P *p, int N, int C, int HW, float center, int sync) {
    char cs[64];
    snprintf(cs, sizeof cs, "N%d C%d HW%d mean~%g%s", N, C, HW, center, sync ? " sync" : "");
    fn_bn_sync sc = { p->cpu, twice }, sg = { p->gpu, twice };
    if (sync) {
        if (!p->cpu->set_bn_sync || !p->gpu->set_bn_sync) die("a backend has no set_bn_sync");
        p->cpu->set_bn_sync(p->cpu->ctx, &sc);
        p->gpu->set_bn_sync(p->gpu->ctx, &sg);
    }
    size_t n = (size_t)N * C * HW;
    buf x = mk(p, n, center - 2, center + 2), y = mkr(p, n), gamma = mk(p, C, 0.5f, 1.5f), beta = mkr(p, C);
    buf mean = mkr(p, C), invstd = mkr(p, C), rmean = mkr(p, C), rvar = mk(p, C, 0.5f, 2.0f);
    buf dy = mkr(p, n), dx = mkr(p, n), dgamma = mkr(p, C), dbeta = mkr(p, C);
    fn_backend *be[2] = {p->cpu, p->gpu};
#define S(b) (i ? (b).g : (b).c)
    for (int i = 0; i < 2; i++)
        be[i]->bn_fwd_train(be[i]->ctx, S(x), S(gamma), S(beta), S(y), S(mean), S(invstd), S(rmean), S(rvar), N, C,
                            HW, 0.01f, 1e-3f);
    cmp(p, "bn_fwd_train y", cs, y, TOL_RED);
    cmp(p, "bn_fwd_train mean", cs, mean, TOL_RED);
    cmp(p, "bn_fwd_train istd", cs, invstd, TOL_RED);
    cmp(p, "bn running_mean", cs, rmean, TOL_RED);
    cmp(p, "bn running_var", cs, rvar, TOL_RED);
    for (int acc = 0; acc < 2; acc++) {
        for (int i = 0; i < 2; i++)
            be[i]->bn_bwd(be[i]->ctx, S(x), S(dy), S(gamma), S(mean), S(invstd), S(dx), S(dgamma), S(dbeta), N, C, HW,
                          acc);
        cmp(p, acc ? "bn_bwd dx+=" : "bn_bwd dx", cs, dx, TOL_RED);
        cmp(p, "bn_bwd dgamma+=", cs, dgamma, TOL_RED);
        cmp(p, "bn_bwd dbeta+=", cs, dbeta, TOL_RED);
    }
    /* dx aliasing dy (acc 0), as the graph may do */
    for (int i = 0; i < 2; i++)
        be[i]->bn_bwd(be[i]->ctx, S(x), S(dy), S(gamma), S(mean), S(invstd), S(dy), S(dgamma), S(dbeta), N, C, HW, 0);
    cmp(p, "bn_bwd dx=dy", cs, dy, TOL_RED);
    for (int i = 0; i < 2; i++)
        be[i]->bn_fwd_infer(be[i]->ctx, S(x), S(gamma), S(beta), S(y), S(rmean), S(rvar), N, C, HW, 1e-3f);
    cmp(p, "bn_fwd_infer", cs, y, TOL_EXACT * 10);
    for (int i = 0; i < 2; i++) /* in place */
        be[i]->bn_fwd_infer(be[i]->ctx, S(x), S(gamma), S(beta), S(x), S(rmean), S(rvar), N, C, HW, 1e-3f);
    cmp(p, "bn_fwd_infer x=y", cs, x, TOL_EXACT * 10);
    /* determinism of the statistics */
    p->gpu->bn_fwd_train(p->gpu->ctx, dx.g, gamma.g, beta.g, y.g, mean.g, invstd.g, rmean.g, rvar.g, N, C, HW, 0.01f,
                         1e-3f);
    float *s1 = save_gpu(p, invstd);
    p->gpu->bn_fwd_train(p->gpu->ctx, dx.g, gamma.g, beta.g, y.g, mean.g, invstd.g, rmean.g, rvar.g, N, C, HW, 0.01f,
                         1e-3f);
    same_bits(p, "det bn istd", cs, s1, invstd);
    free(s1);
    if (sync) {
        p->cpu->set_bn_sync(p->cpu->ctx, NULL);
        p->gpu->set_bn_sync(p->gpu->ctx, NULL);
    }
    buf all[] = {x, y, gamma, beta, mean, invstd, rmean, rvar, dy, dx, dgamma, dbeta};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) bfree(p, &all[i]);
}

/* elementwise ------------------------------------------------------------------------------------------ */

static void elementwise_tests(P *p) {
    fn_backend *be[2] = {p->cpu, p->gpu};
    const size_t n = 100003;
    const char *names[] = {"relu", "leaky", "sigmoid"};
    buf x = mk(p, n, -4, 4), y = mkr(p, n), dy = mkr(p, n), dx = mkr(p, n), z = mkr(p, n);
    for (int act = 0; act < 3; act++) {
        char cs[64];
        snprintf(cs, sizeof cs, "%s n%zu", names[act], n);
        for (int i = 0; i < 2; i++) be[i]->act_fwd(be[i]->ctx, act, S(x), S(y), n, 0.2f);
        cmp(p, "act_fwd", cs, y, TOL_EXACT);
        for (int acc = 0; acc < 2; acc++) {
            for (int i = 0; i < 2; i++) be[i]->act_bwd(be[i]->ctx, act, S(y), S(dy), S(dx), n, 0.2f, acc);
            cmp(p, acc ? "act_bwd+=" : "act_bwd", cs, dx, TOL_EXACT);
        }
        for (int i = 0; i < 2; i++) be[i]->copy(be[i]->ctx, S(z), S(x), n);
        for (int i = 0; i < 2; i++) be[i]->act_fwd(be[i]->ctx, act, S(z), S(z), n, 0.2f); /* in place */
        cmp(p, "act_fwd x=y", cs, z, TOL_EXACT);
    }
    for (int i = 0; i < 2; i++) be[i]->add(be[i]->ctx, S(x), S(dy), S(y), n);
    cmp(p, "add", "n100003", y, TOL_EXACT);
    for (int i = 0; i < 2; i++) be[i]->add(be[i]->ctx, S(y), S(dy), S(y), n);
    cmp(p, "add y=a", "n100003", y, TOL_EXACT);
    for (int acc = 0; acc < 2; acc++) {
        for (int i = 0; i < 2; i++) be[i]->mul(be[i]->ctx, S(x), S(dy), S(dx), n, acc);
        cmp(p, acc ? "mul+=" : "mul", "n100003", dx, TOL_EXACT);
    }
    for (int i = 0; i < 2; i++) be[i]->axpy(be[i]->ctx, -0.37f, S(x), S(dx), n);
    cmp(p, "axpy", "n100003", dx, TOL_EXACT);
    for (int i = 0; i < 2; i++) be[i]->fill(be[i]->ctx, S(dx), 0.25f, n - 3);
    cmp(p, "fill", "n100000", dx, 0);
    buf all[] = {x, y, dy, dx, z};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) bfree(p, &all[i]);

    /* concat / split */
    const int N = 3, Ca = 5, Cb = 7, HW = 37;
    buf a = mkr(p, (size_t)N * Ca * HW), b = mkr(p, (size_t)N * Cb * HW), cy = mkr(p, (size_t)N * (Ca + Cb) * HW);
    for (int i = 0; i < 2; i++) be[i]->concat(be[i]->ctx, S(a), S(b), S(cy), N, Ca, Cb, HW);
    cmp(p, "concat", "N3 5+7 HW37", cy, 0);
    for (int acc = 0; acc < 2; acc++) {
        for (int i = 0; i < 2; i++) be[i]->split(be[i]->ctx, S(cy), S(a), NULL, N, Ca, Cb, HW, acc);
        for (int i = 0; i < 2; i++) be[i]->split(be[i]->ctx, S(cy), NULL, S(b), N, Ca, Cb, HW, !acc);
        cmp(p, acc ? "split da+=" : "split da", "N3 5+7 HW37", a, TOL_EXACT);
        cmp(p, acc ? "split db" : "split db+=", "N3 5+7 HW37", b, TOL_EXACT);
    }
    bfree(p, &a), bfree(p, &b), bfree(p, &cy);

    /* nearest 2x upsampling */
    const int C = 4, H = 5, W = 7;
    buf ux = mkr(p, (size_t)2 * C * H * W), uy = mkr(p, (size_t)2 * C * 4 * H * W);
    for (int i = 0; i < 2; i++) be[i]->up2_fwd(be[i]->ctx, S(ux), S(uy), 2, C, H, W);
    cmp(p, "up2_fwd", "2x4x5x7", uy, 0);
    for (int acc = 0; acc < 2; acc++) {
        for (int i = 0; i < 2; i++) be[i]->up2_bwd(be[i]->ctx, S(uy), S(ux), 2, C, H, W, acc);
        cmp(p, acc ? "up2_bwd+=" : "up2_bwd", "2x4x5x7", ux, TOL_EXACT);
    }
    bfree(p, &ux), bfree(p, &uy);

    /* 2x2 max pooling: random values (no ties), then a case full of ties (the first maximum wins) */
    const int PH = 6, PW = 10;
    buf px = mkr(p, (size_t)2 * C * PH * PW), py = mkr(p, (size_t)2 * C * PH * PW / 4);
    buf pd = mkr(p, (size_t)2 * C * PH * PW);
    for (int i = 0; i < 2; i++) be[i]->pool2_fwd(be[i]->ctx, S(px), S(py), 2, C, PH, PW);
    cmp(p, "pool2_fwd", "2x4x6x10", py, 0);
    for (int acc = 0; acc < 2; acc++) {
        for (int i = 0; i < 2; i++) be[i]->pool2_bwd(be[i]->ctx, S(px), S(py), S(pd), 2, C, PH, PW, acc);
        cmp(p, acc ? "pool2_bwd+=" : "pool2_bwd", "2x4x6x10", pd, 0);
    }
    bfree(p, &px);
    px = mk(p, (size_t)2 * C * PH * PW, 0.0f, 0.0f); /* all zero: every window a four-way tie */
    for (int i = 0; i < 2; i++) be[i]->pool2_bwd(be[i]->ctx, S(px), S(py), S(pd), 2, C, PH, PW, 0);
    cmp(p, "pool2_bwd ties", "2x4x6x10 zeros", pd, 0);
    bfree(p, &px), bfree(p, &py), bfree(p, &pd);

    /* channel-broadcast product (attention gates) */
    const int MC = 6, MHW = 333;
    buf mx = mkr(p, (size_t)3 * MC * MHW), ma = mkr(p, (size_t)3 * MHW), my = mkr(p, (size_t)3 * MC * MHW);
    buf mdx = mkr(p, (size_t)3 * MC * MHW), mda = mkr(p, (size_t)3 * MHW);
    for (int i = 0; i < 2; i++) be[i]->cmul_fwd(be[i]->ctx, S(mx), S(ma), S(my), 3, MC, MHW);
    cmp(p, "cmul_fwd", "N3 C6 HW333", my, 0);
    for (int acc = 0; acc < 2; acc++) {
        for (int i = 0; i < 2; i++) be[i]->cmul_bwd(be[i]->ctx, S(mx), S(ma), S(my), S(mdx), S(mda), 3, MC, MHW, acc, !acc);
        cmp(p, acc ? "cmul_bwd dx+=" : "cmul_bwd dx", "N3 C6 HW333", mdx, TOL_EXACT);
        cmp(p, acc ? "cmul_bwd da" : "cmul_bwd da+=", "N3 C6 HW333", mda, TOL_EXACT);
    }
    bfree(p, &mx), bfree(p, &ma), bfree(p, &my), bfree(p, &mdx), bfree(p, &mda);
}

/* dropout: the masks must be identical (the same hash, lib/backend/backend.h fn_dropout_u) */
static void dropout_tests(P *p) {
    fn_backend *be[2] = {p->cpu, p->gpu};
    const size_t n = 200003;
    const float rates[] = {0.2f, 0.5f};
    const uint64_t seeds[] = {12345, 0xDEADBEEFCAFEull};
    for (int r = 0; r < 2; r++) {
        char cs[64];
        snprintf(cs, sizeof cs, "p%.1f seed %llu n%zu", rates[r], (unsigned long long)seeds[r], n);
        buf x = mkr(p, n), y = mkr(p, n), mask = mkr(p, n), dx = mkr(p, n);
        for (int i = 0; i < 2; i++) be[i]->dropout_fwd(be[i]->ctx, S(x), S(y), S(mask), 1, 1, (int)n, rates[r], seeds[r]);
        float *mc = host(n), *mg = host(n);
        p->cpu->download(p->cpu->ctx, mc, mask.c, n);
        p->gpu->download(p->gpu->ctx, mg, mask.g, n);
        size_t diff = 0, kept = 0;
        for (size_t i = 0; i < n; i++) diff += memcmp(&mc[i], &mg[i], sizeof(float)) != 0, kept += mc[i] != 0;
        row(p, "dropout mask diffs", cs, (double)diff, 0);
        printf("    kept %.4f (expected %.4f)\n", (double)kept / n, 1.0 - rates[r]);
        free(mc), free(mg);
        cmp(p, "dropout_fwd", cs, y, TOL_EXACT);
        for (int acc = 0; acc < 2; acc++) {
            for (int i = 0; i < 2; i++) be[i]->dropout_bwd(be[i]->ctx, S(y), S(mask), S(dx), n, acc);
            cmp(p, acc ? "dropout_bwd+=" : "dropout_bwd", cs, dx, TOL_EXACT);
        }
        bfree(p, &x), bfree(p, &y), bfree(p, &mask), bfree(p, &dx);
    }
}

/* squeeze-and-excitation ------------------------------------------------------------------------------- */

static void se_case(P *p, int N, int C, int HW, int Cr) {
    fn_backend *be[2] = {p->cpu, p->gpu};
    char cs[64];
    snprintf(cs, sizeof cs, "N%d C%d HW%d Cr%d", N, C, HW, Cr);
    size_t n = (size_t)N * C * HW;
    /* x mostly positive, so that the pools are not ~0 and the hidden units partly active */
    buf x = mk(p, n, -0.5f, 1.5f), y = mkr(p, n), wa = mkr(p, (size_t)Cr * C), wb = mkr(p, (size_t)C * Cr);
    buf pool = mkr(p, (size_t)N * C), hid = mkr(p, (size_t)N * Cr), gate = mkr(p, (size_t)N * C);
    buf dy = mkr(p, n), dx = mkr(p, n), dwa = mkr(p, (size_t)Cr * C), dwb = mkr(p, (size_t)C * Cr);
    for (int i = 0; i < 2; i++) be[i]->se_fwd(be[i]->ctx, S(x), S(wa), S(wb), S(y), S(pool), S(hid), S(gate), N, C, HW, Cr);
    cmp(p, "se_fwd y", cs, y, TOL_RED);
    cmp(p, "se_fwd pool", cs, pool, TOL_RED);
    cmp(p, "se_fwd hid", cs, hid, TOL_RED);
    cmp(p, "se_fwd gate", cs, gate, TOL_RED);
    for (int acc = 0; acc < 2; acc++) {
        for (int i = 0; i < 2; i++)
            be[i]->se_bwd(be[i]->ctx, S(x), S(dy), S(wa), S(wb), S(pool), S(hid), S(gate), S(dx), S(dwa), S(dwb), N, C,
                          HW, Cr, acc);
        cmp(p, acc ? "se_bwd dx+=" : "se_bwd dx", cs, dx, TOL_RED);
        cmp(p, "se_bwd dwa+=", cs, dwa, TOL_RED);
        cmp(p, "se_bwd dwb+=", cs, dwb, TOL_RED);
    }
    buf all[] = {x, y, wa, wb, pool, hid, gate, dy, dx, dwa, dwb};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) bfree(p, &all[i]);
}

/* losses, sums, Adam ----------------------------------------------------------------------------------- */

static void loss_tests(P *p) {
    fn_backend *be[2] = {p->cpu, p->gpu};
    const int N = 3, HW = 4099;
    size_t n = (size_t)N * HW;
    buf pr = mk(p, n, 0.01f, 0.99f), t = mk(p, n, -1, 1), dp = mkr(p, n);
    float *ht = host(n);
    p->cpu->download(p->cpu->ctx, ht, t.c, n);
    for (size_t i = 0; i < n; i++) ht[i] = ht[i] > 0.3f ? 1.0f : 0.0f;
    p->cpu->upload(p->cpu->ctx, t.c, ht, n);
    p->gpu->upload(p->gpu->ctx, t.g, ht, n);
    free(ht);
    float lc = p->cpu->dice_loss(p->cpu->ctx, pr.c, t.c, dp.c, N, HW, 1.0f);
    float lg = p->gpu->dice_loss(p->gpu->ctx, pr.g, t.g, dp.g, N, HW, 1.0f);
    row(p, "dice_loss", "N3 HW4099", fabs((double)lg - lc) / fabs((double)lc), TOL_RED);
    cmp(p, "dice_loss dp", "N3 HW4099", dp, TOL_RED);
    bfree(p, &pr), bfree(p, &t), bfree(p, &dp);

    const size_t ns[] = {1, 1000, (1u << 20) + 7};
    for (int k = 0; k < 3; k++) {
        buf x = mk(p, ns[k], -2, 3);
        double sc = p->cpu->sumsq(p->cpu->ctx, x.c, ns[k]), sg = p->gpu->sumsq(p->gpu->ctx, x.g, ns[k]);
        double sg2 = p->gpu->sumsq(p->gpu->ctx, x.g, ns[k]);
        char cs[64];
        snprintf(cs, sizeof cs, "n%zu", ns[k]);
        row(p, "sumsq", cs, fabs(sg - sc) / fabs(sc), TOL_RED);
        row(p, "det sumsq", cs, sg2 != sg, 0);
        bfree(p, &x);
    }

    const size_t n2 = 10007;
    const long steps[] = {1, 7};
    const float l2s[] = {0.0f, 1e-4f};
    for (int k = 0; k < 2; k++) {
        buf w = mkr(p, n2), g = mk(p, n2, -0.1f, 0.1f), m = mk(p, n2, -0.01f, 0.01f), v = mk(p, n2, 0, 1e-4f);
        char cs[64];
        snprintf(cs, sizeof cs, "n%zu t%ld l2 %g", n2, steps[k], l2s[k]);
        for (int i = 0; i < 2; i++)
            be[i]->adam(be[i]->ctx, S(w), S(g), S(m), S(v), n2, 1e-3f, 0.9f, 0.999f, 1e-7f, l2s[k], steps[k]);
        cmp(p, "adam w", cs, w, TOL_EXACT);
        cmp(p, "adam m", cs, m, TOL_EXACT);
        cmp(p, "adam v", cs, v, TOL_EXACT);
        bfree(p, &w), bfree(p, &g), bfree(p, &m), bfree(p, &v);
    }
}

/* adam_segs (one kernel over segments with their own penalties) against the CPU's adam segment by segment */
static void adam_segs_test(P *p) {
    if (!p->gpu->adam_segs) {
        printf("adam_segs: not provided by %s\n", p->gpu->name);
        return;
    }
    const size_t n = 10007, off[4] = {0, 3, 5000, 5001};
    const float l2[4] = {1e-4f, 0.0f, 5e-4f, 0.0f};
    buf w = mkr(p, n), g = mk(p, n, -0.1f, 0.1f), m = mk(p, n, -0.01f, 0.01f), v = mk(p, n, 0, 1e-4f);
    for (long t = 1; t <= 3; t++) { /* the second and third call reuse the table on the device */
        for (int j = 0; j < 4; j++) {
            const size_t o = off[j], len = (j < 3 ? off[j + 1] : n) - o;
            p->cpu->adam(p->cpu->ctx, w.c + o, g.c + o, m.c + o, v.c + o, len, 1e-3f, 0.9f, 0.999f, 1e-7f, l2[j], t);
        }
        p->gpu->adam_segs(p->gpu->ctx, w.g, g.g, m.g, v.g, n, off, l2, 4, 1e-3f, 0.9f, 0.999f, 1e-7f, t);
    }
    cmp(p, "adam_segs w", "n10007 4 segments t3", w, TOL_EXACT);
    cmp(p, "adam_segs m", "n10007 4 segments t3", m, TOL_EXACT);
    cmp(p, "adam_segs v", "n10007 4 segments t3", v, TOL_EXACT);
    bfree(p, &w), bfree(p, &g), bfree(p, &m), bfree(p, &v);
}

/* the forward convolution of |x| and |w| on the CPU (the rounding bound's A), or NULL in fp32 */
static float *fwd_A(P *p, buf x, buf w, size_t ny, int N, int Ci, int H, int W, int Co, int k, int s) {
    if (!(p->ku > 0)) return NULL;
    float *ax = cpu_abs(p, x), *aw = cpu_abs(p, w), *A = p->cpu->alloc(p->cpu->ctx, ny);
    if (!A) die("out of memory");
    p->cpu->conv_fwd(p->cpu->ctx, ax, aw, NULL, A, N, Ci, H, W, Co, k, s);
    p->cpu->free(p->cpu->ctx, ax), p->cpu->free(p->cpu->ctx, aw);
    return A;
}

/* the weights written after a convolution used them (an Adam step, an upload): the next convolution must
 * see the new values (the CUDA backend's bf16 weight cache) */
static void weights_written_case(P *p) {
    const int N = 2, Ci = 16, H = 12, W = 12, Co = 8, k = 3;
    const size_t nx = (size_t)N * Ci * H * W, nw = (size_t)Co * Ci * k * k, ny = (size_t)N * Co * H * W;
    buf x = mkr(p, nx), w = mk(p, nw, -0.5f, 0.5f), g = mkr(p, nw), m = mkr(p, nw), v = mk(p, nw, 0, 1), y = mkr(p, ny);
    fn_backend *be[2] = {p->cpu, p->gpu};
    char cs[64];
    snprintf(cs, sizeof cs, "2x16x12x12->8 k3 s1 %s", p->pname);
    for (int i = 0; i < 2; i++) be[i]->conv_fwd(be[i]->ctx, S(x), S(w), NULL, S(y), N, Ci, H, W, Co, k, 1);
    for (int i = 0; i < 2; i++) be[i]->adam(be[i]->ctx, S(w), S(g), S(m), S(v), nw, 0.05f, 0.9f, 0.999f, 1e-7f, 0, 1);
    for (int i = 0; i < 2; i++) be[i]->conv_fwd(be[i]->ctx, S(x), S(w), NULL, S(y), N, Ci, H, W, Co, k, 1);
    float *A = fwd_A(p, x, w, ny, N, Ci, H, W, Co, k, 1);
    cmp(p, "conv_fwd after adam", cs, y, conv_tol(p, y, A));
    if (A) p->cpu->free(p->cpu->ctx, A);
    float *h = host(nw);
    for (size_t i = 0; i < nw; i++) h[i] = urand(p);
    p->cpu->upload(p->cpu->ctx, w.c, h, nw);
    p->gpu->upload(p->gpu->ctx, w.g, h, nw);
    free(h);
    for (int i = 0; i < 2; i++) be[i]->conv_fwd(be[i]->ctx, S(x), S(w), NULL, S(y), N, Ci, H, W, Co, k, 1);
    A = fwd_A(p, x, w, ny, N, Ci, H, W, Co, k, 1);
    cmp(p, "conv_fwd after upload", cs, y, conv_tol(p, y, A));
    if (A) p->cpu->free(p->cpu->ctx, A);
    buf all[] = {x, w, g, m, v, y};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) bfree(p, &all[i]);
}

/* the whole network: a small net, forward (train) + Dice + backward + one Adam step ----------------------- */

static double normerr(const float *c, const float *g, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(c[i]) || !isfinite(g[i])) return INFINITY;
        d += ((double)g[i] - c[i]) * ((double)g[i] - c[i]);
        r += (double)c[i] * c[i];
    }
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

/* the same inference forward twice more on the GPU net: recorded and replayed where the backend can
 * (capture_begin; lib/nn/capture.h), each against the CPU's output oc */
static void infer_again(P *p, fn_net *ng, const float *x, int N, int H, int W, const float *oc, float *og, size_t ny,
                        const char *cs, double tn) {
    const char *what[2] = {"net infer recorded", "net infer replayed"};
    for (int r = 0; r < 2; r++) {
        fn_err e = {{0}};
        memset(og, 0, ny * sizeof *og);
        if (fn_net_forward(ng, x, N, H, W, 0, 0, og, &e)) printf("net: %s\n", e.msg);
        row(p, what[r], cs, normerr(oc, og, ny), tn);
    }
}

/* arch: FocusNet and the residual comparison nets, with their gradients; grads = 0 compares the outputs
 * and the loss only (the plain BN-ReLU stacks have exploding gradients at initialisation: two float32
 * orders of summation differ by percents there, as float32 PyTorch does from float64) */
static void net_test(P *p, int arch, int grads) {
    const int N = 2, H = 64, W = 48;
    fn_net_config cfg = {3, 0.25f, arch};
    fn_err e = {{0}};
    fn_net *nc = fn_net_new(p->cpu, &cfg, &e), *ng = nc ? fn_net_new(p->gpu, &cfg, &e) : NULL;
    if (!nc || !ng || fn_net_init_he(nc, 7, &e) || fn_net_init_he(ng, 7, &e)) {
        printf("net: %s\n", e.msg);
        row(p, "net", "setup", INFINITY, 0);
        return;
    }
    size_t nx = (size_t)N * 3 * H * W, ny = (size_t)N * H * W, np = fn_net_numel(nc);
    int D = 0; /* the convolutions: the rounding bound's depth (see the top) */
    for (int i = 0; i < fn_net_nparams(nc); i++) D += fn_net_param(nc, i)->ndim == 4;
    const double tn = fmax(TOL_NET, p->ku * D), tg = fmax(TOL_NETG, 2 * p->ku * D);
    float *x = host(nx), *t = host(ny), *oc = host(ny), *og = host(ny);
    for (size_t i = 0; i < nx; i++) x[i] = urand(p);
    for (size_t i = 0; i < ny; i++) t[i] = urand(p) > 0.4f ? 1.0f : 0.0f;
    char cs[64];
    snprintf(cs, sizeof cs, "%s cin3 w0.25 %dx%dx%d %s", fn_arch_name(arch), N, H, W, p->pname);
    float lc = 0, lg = 0;
    fn_net_set_dropout(nc, 0.2f);
    fn_net_set_dropout(ng, 0.2f);
    if (fn_net_forward(nc, x, N, H, W, 1, 99, oc, &e) || fn_net_forward(ng, x, N, H, W, 1, 99, og, &e) ||
        fn_net_backward(nc, t, &lc, &e) || fn_net_backward(ng, t, &lg, &e)) {
        printf("net: %s\n", e.msg);
        row(p, "net", cs, INFINITY, 0);
        return;
    }
    row(p, "net train output", cs, normerr(oc, og, ny), tn);
    row(p, "net dice loss", cs, fabs((double)lg - lc) / fabs((double)lc), tn);
    if (!grads) {
        if (fn_net_forward(nc, x, N, H, W, 0, 0, oc, &e) || fn_net_forward(ng, x, N, H, W, 0, 0, og, &e))
            printf("net: %s\n", e.msg);
        row(p, "net infer output", cs, normerr(oc, og, ny), tn);
        infer_again(p, ng, x, N, H, W, oc, og, ny, cs, tn);
        free(x), free(t), free(oc), free(og);
        fn_net_free(nc);
        fn_net_free(ng);
        return;
    }
    float *gc = host(np), *gg = host(np);
    fn_net_get(nc, FN_BUF_GRADS, gc, &e);
    fn_net_get(ng, FN_BUF_GRADS, gg, &e);
    row(p, "net gradients", cs, normerr(gc, gg, np), tg);
    /* the worst parameter tensors, for the report */
    double worst = 0;
    int wi = -1;
    for (int i = 0; i < fn_net_nparams(nc); i++) {
        const fn_param_info *pi = fn_net_param(nc, i);
        double er = normerr(gc + pi->offset, gg + pi->offset, pi->numel);
        if (er > worst) worst = er, wi = i;
    }
    if (wi >= 0) printf("    worst gradient tensor %s: %.3e\n", fn_net_param(nc, wi)->name, worst);
    size_t ns = fn_net_stats_numel(nc);
    float *sc = host(ns), *sg = host(ns);
    fn_net_get(nc, FN_BUF_STATS, sc, &e);
    fn_net_get(ng, FN_BUF_STATS, sg, &e);
    row(p, "net running stats", cs, normerr(sc, sg, ns), tg);
    if (fn_net_adam_step(nc, 1e-3f, 0.9f, 0.999f, 1e-7f, 1, &e) || fn_net_adam_step(ng, 1e-3f, 0.9f, 0.999f, 1e-7f, 1, &e))
        printf("net: %s\n", e.msg);
    fn_net_get(nc, FN_BUF_PARAMS, gc, &e);
    fn_net_get(ng, FN_BUF_PARAMS, gg, &e);
    row(p, "net params after adam", cs, normerr(gc, gg, np), tg);
    if (fn_net_forward(nc, x, N, H, W, 0, 0, oc, &e) || fn_net_forward(ng, x, N, H, W, 0, 0, og, &e))
        printf("net: %s\n", e.msg);
    row(p, "net infer output", cs, normerr(oc, og, ny), tn);
    infer_again(p, ng, x, N, H, W, oc, og, ny, cs, tn);
    free(x), free(t), free(oc), free(og), free(gc), free(gg), free(sc), free(sg);
    fn_net_free(nc);
    fn_net_free(ng);
}

/* the convolutions, the weight cache and FocusNet in precision prec on the GPU backend, against the CPU's
 * oracle for it (see the top for the bounds) */
static void precision_tests(P *p, int prec) {
    const char *name = fn_precision_name(prec);
    fn_err e = {{0}};
    printf("-- precision %s\n", name);
    if (fn_backend_set_precision(p->gpu, prec, &e)) {
        printf("parity %s: %s\n", name, e.msg);
        if (strcmp(p->gpu->name, "cpu")) row(p, "set_precision", name, INFINITY, 0); /* CUDA takes all three */
        return;
    }
    const double u = prec == FN_PREC_TF32 ? 1.0 / 1024 : 1.0 / 256; /* see the top */
    int k = 2; /* tf32 against fp32 */
    if (prec == FN_PREC_BF16) {
        if (!fn_backend_set_precision(p->cpu, FN_PREC_BF16, &e)) k = 1;
        else printf("parity bf16: the CPU has no bf16 (%s): against its fp32\n", e.msg), k = 3;
    }
    p->ku = k * u;
    p->pname = name;
    /* as fn-train runs by default: the fastest algorithms (bf16 ones, where --deterministic could leave
     * only the emulation for some directions); determinism has its rows in fp32 */
    if (p->gpu->set_deterministic) p->gpu->set_deterministic(p->gpu->ctx, 0);
    printf("parity %s: bounds %d u = %.3g (convolutions: times max A / max |cpu|, + %g)\n", name, k, p->ku,
           TOL_CONV);
    conv_case(p, 2, 3, 9, 7, 5, 3, 2, 1, 0);
    conv_case(p, 2, 3, 8, 8, 5, 1, 2, 0, 0);
    conv_case(p, 2, 3, 6, 11, 5, 2, 1, 1, 0);
    conv_case(p, 2, 3, 1, 1, 5, 7, 2, 0, 0);
    conv_case(p, 2, 32, 32, 32, 48, 3, 1, 1, 0);
    conv_case(p, 2, 32, 32, 32, 64, 3, 2, 0, 0);
    conv_case(p, 2, 64, 16, 16, 128, 1, 2, 1, 0);
    conv_case(p, 2, 3, 64, 64, 32, 7, 2, 1, 0);
    conv_case(p, 1, 16, 15, 16, 16, 2, 1, 0, 0);
    if (!p->quick) conv_case(p, 4, 64, 64, 64, 64, 3, 1, 1, 0);
    weights_written_case(p);
    net_test(p, FN_ARCH_FOCUSNET, 1);
    if (fn_backend_set_precision(p->gpu, FN_PREC_FP32, &e) || fn_backend_set_precision(p->cpu, FN_PREC_FP32, &e))
        die(e.msg);
    p->ku = 0;
    p->pname = "fp32";
}

int gpu_parity_main(int argc, char **argv) {
    int skip = 0, quick = 0;
    const char *dev = "cuda"; /* --device cpu checks this program itself: CPU against CPU */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--skip-if-no-gpu")) skip = 1;
        else if (!strcmp(argv[i], "--device") && i + 1 < argc) dev = argv[++i];
        else if (!strcmp(argv[i], "--quick")) quick = 1;
        else {
            fprintf(stderr, "gpu-check parity: unknown option %s\n", argv[i]);
            return 2;
        }
    }
    P p = {0};
    p.rng = 0x9E3779B97F4A7C15ull;
    p.quick = quick;
    p.pname = "fp32";
    fn_err e = {{0}};
    p.gpu = fn_backend_open(dev, 0, NULL, 0, &e);
    if (!p.gpu) {
        if (skip) {
            printf("gpu-check parity: skipped: %s\n", e.msg);
            return 0;
        }
        fprintf(stderr, "gpu-check parity: %s\n", e.msg);
        return 1;
    }
    p.cpu = fn_cpu_backend_new(0, &e);
    if (!p.cpu) die(e.msg);
    printf("parity: %s against %s\n", p.gpu->device, p.cpu->device);
    printf("%-22s %-32s %11s %9s  %s\n", "op", "case", "max_rel_err", "tol", "ok");
    /* fp32 first, deterministic (the determinism rows) */
    if (p.gpu->set_deterministic) p.gpu->set_deterministic(p.gpu->ctx, 1);
    printf("-- precision fp32, deterministic\n");
    conv_tests(&p, quick);
    for (int sync = 0; sync < 2; sync++) {
        bn_case(&p, 2, 3, 50, 0.0f, sync);
        bn_case(&p, 4, 16, 1024, 3.0f, sync);
        bn_case(&p, 3, 5, 7, -1.0f, sync);
        if (!quick) bn_case(&p, 8, 32, 4096, 0.5f, sync);
    }
    elementwise_tests(&p);
    dropout_tests(&p);
    se_case(&p, 2, 32, 64, 2);
    se_case(&p, 3, 16, 49, 1);
    if (!quick) se_case(&p, 4, 256, 256, 16);
    loss_tests(&p);
    adam_segs_test(&p);
    weights_written_case(&p);
    net_test(&p, FN_ARCH_FOCUSNET, 1);
    net_test(&p, FN_ARCH_RESUNET, 1);
    net_test(&p, FN_ARCH_R2UNET, 1);
    net_test(&p, FN_ARCH_UNET, 0);
    net_test(&p, FN_ARCH_RUNET, 0);
    net_test(&p, FN_ARCH_ATTUNET, 0);
    precision_tests(&p, FN_PREC_TF32);
    precision_tests(&p, FN_PREC_BF16);
    /* the default, non-deterministic algorithms: FocusNet in fp32 as fn-train runs it without --deterministic */
    if (p.gpu->set_deterministic) {
        p.gpu->set_deterministic(p.gpu->ctx, 0);
        printf("-- precision fp32, non-deterministic algorithms allowed\n");
        p.pname = "fp32 nondet";
        net_test(&p, FN_ARCH_FOCUSNET, 1);
    }
    printf("parity: %d checks, %d failed\n", p.checks, p.fails);
    fn_backend_close(p.gpu);
    fn_backend_close(p.cpu);
    return p.fails ? 1 : 0;
}
#undef S
