/* norm.c: batch normalisation on the CPU (per channel over N*HW), one thread per channel at a time,
 * statistics summed in double in a fixed order (deterministic, independent of the thread count).
 * Activations [N,C,HW]; channels last (set_nhwc), [N,HW,C]: the inference ops through layout.c's
 * epilogue pass, the training ops through norm_nhwc.c, each with the bits of the NCHW path here. Compiled
 * once, for x86-64: the bits of its reductions are those of SSE2's 4 lanes (cpu.h, CPU_SUM_LANES). */
#include <math.h>
#include <stddef.h>
#include <omp.h>
#include "cpu.h"

/* x [N,C,HW], y [N,C,HW] (channels last: [N,HW,C], norm_nhwc.c); mean, invstd [C] (saved for bwd); rmean,
 * rvar [C] updated. relu: y = relu(bn(x)) in the same pass (the expression of elementwise.c's ReLU) */
static void bn_fwd_train(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                         float *mean, float *invstd, float *rmean, float *rvar,
                         int N, int C, int HW, float momentum, float eps, int relu) {
    cpu_ctx *c = ctx;
    const double m = (double)N * HW;
    if (c->bn_sync.sum) { /* sync-BN (norm_sync.c), then the ReLU as its own pass; NCHW only: channels-last
                           * training never runs with sync-BN (c->nhwc not looked at) */
        cpu_bn_fwd_train_sync(c, x, gamma, beta, y, mean, invstd, rmean, rvar, N, C, HW, momentum, eps);
        if (relu && y) cpu_act_fwd(c, FN_ACT_RELU, y, y, (size_t)N * C * HW, 0);
        return;
    }
    if (c->nhwc) {
        CPU_ISA_PICK(c->isa, cpu_nhwc_bn_fwd_train)(c, x, gamma, beta, y, mean, invstd, rmean, rvar, N, C, HW,
                                                    momentum, eps, relu);
        return;
    }
#pragma omp parallel for num_threads(c->threads) schedule(dynamic, 1)
    for (int ch = 0; ch < C; ch++) {
        double sum = 0;
        for (int n = 0; n < N; n++) sum += cpu_sum(x + ((size_t)n * C + ch) * HW, (size_t)HW);
        const float muf = (float)(sum / m);
        double ss = 0; /* two-pass variance: sum of squared deviations */
        for (int n = 0; n < N; n++) cpu_acc_dev2(&ss, x + ((size_t)n * C + ch) * HW, (size_t)HW, muf);
        float scale, shift;
        cpu_bn_train_coef(sum, ss, m, eps, momentum, gamma[ch], beta[ch], &mean[ch], &invstd[ch], &rmean[ch],
                          &rvar[ch], &scale, &shift);
        for (int n = 0; n < N && y; n++) { /* y NULL: the statistics only */
            const float *xp = x + ((size_t)n * C + ch) * HW;
            float *yp = y + ((size_t)n * C + ch) * HW;
            cpu_bn_plane(xp, yp, HW, scale, shift, relu);
        }
    }
}

void cpu_bn_fwd_train(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                      float *mean, float *invstd, float *rmean, float *rvar,
                      int N, int C, int HW, float momentum, float eps) {
    bn_fwd_train(ctx, x, gamma, beta, y, mean, invstd, rmean, rvar, N, C, HW, momentum, eps, 0);
}

void cpu_bn_relu_fwd_train(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                           float *mean, float *invstd, float *rmean, float *rvar,
                           int N, int C, int HW, float momentum, float eps) {
    bn_fwd_train(ctx, x, gamma, beta, y, mean, invstd, rmean, rvar, N, C, HW, momentum, eps, 1);
}

/* The batch norm's scale and shift per channel into sc [2C] (scale, then shift), as the forward had them */
void cpu_bn_saved_coefs(const float *gamma, const float *beta, const float *mean, const float *invstd, int C,
                        float *sc) {
    for (int ch = 0; ch < C; ch++) cpu_bn_saved_coef(gamma, beta, mean, invstd, ch, &sc[ch], &sc[C + ch]);
}

int cpu_bn_infer_coefs(cpu_ctx *c, float **buf, size_t *cap, const float *gamma, const float *beta,
                       const float *rmean, const float *rvar, float eps, int C, int relu, cpu_epi *epi) {
    float *sc = cpu_grow(c, buf, cap, 2 * (size_t)C);
    if (!sc) return -1;
    for (int ch = 0; ch < C; ch++) cpu_bn_coef(gamma, beta, rmean, rvar, eps, ch, &sc[ch], &sc[C + ch]);
    *epi = (cpu_epi){ sc, sc + C, relu, 0, 0 };
    return 0;
}

static void bn_fwd_infer(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                         const float *rmean, const float *rvar, int N, int C, int HW, float eps, int relu) {
    cpu_ctx *c = ctx;
    if (c->nhwc) { /* channels last, x and y [N*HW, C]: the same coefficients and arithmetic as an epilogue */
        cpu_epi epi;
        if (cpu_bn_infer_coefs(c, &c->epi, &c->epi_cap, gamma, beta, rmean, rvar, eps, C, relu, &epi)) return;
        CPU_ISA_PICK(c->isa, cpu_nhwc_epi)(x, y, (size_t)N * HW, C, &epi, c->threads);
        return;
    }
#pragma omp parallel for num_threads(c->threads) schedule(static) collapse(2)
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++) {
            float scale, shift;
            cpu_bn_coef(gamma, beta, rmean, rvar, eps, ch, &scale, &shift);
            const float *xp = x + ((size_t)n * C + ch) * HW;
            float *yp = y + ((size_t)n * C + ch) * HW;
            cpu_bn_plane(xp, yp, HW, scale, shift, relu);
        }
}

void cpu_bn_fwd_infer(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                      const float *rmean, const float *rvar, int N, int C, int HW, float eps) {
    bn_fwd_infer(ctx, x, gamma, beta, y, rmean, rvar, N, C, HW, eps, 0);
}

void cpu_bn_relu_fwd_infer(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                           const float *rmean, const float *rvar, int N, int C, int HW, float eps) {
    bn_fwd_infer(ctx, x, gamma, beta, y, rmean, rvar, N, C, HW, eps, 1);
}

/* one channel's backward: dy's plane n at dy + n*dys */
static void bn_bwd_channel(const float *x, const float *dy, size_t dys, const float *gamma, const float *mean,
                           const float *invstd, float *dx, float *dgamma, float *dbeta, int N, int C, int HW, int ch,
                           int acc) {
    const double m = (double)N * HW;
    const float mu = mean[ch], is = invstd[ch];
    double sdy = 0, sdyx = 0; /* sum dy, sum dy*(x-mean) */
    for (int n = 0; n < N; n++) {
        const float *xp = x + ((size_t)n * C + ch) * HW, *dp = dy + (size_t)n * dys;
        sdy += cpu_sum(dp, (size_t)HW);
        cpu_acc_dyx(&sdyx, dp, xp, (size_t)HW, mu);
    }
    const double sdxh = sdyx * is; /* sum dy*xhat */
    dbeta[ch] += (float)sdy;
    dgamma[ch] += (float)sdxh;
    float a, bb, cst; /* dx = a*dy + bb*(x-mean) + cst */
    cpu_bn_bwd_coef(sdy, sdyx, m, gamma[ch], is, &a, &bb, &cst);
    cpu_bn_dx(x, dy, dys, dx, N, C, HW, ch, mu, a, bb, cst, acc);
}

/* dx = gamma*invstd/m * (m*dy - sum(dy) - xhat*sum(dy*xhat)), xhat = (x-mean)*invstd;
 * dgamma += sum(dy*xhat), dbeta += sum(dy). x, dy, dx [N,C,HW] (channels last: [N,HW,C], norm_nhwc.c).
 * dx may alias dy (acc = 0). */
void cpu_bn_bwd(void *ctx, const float *x, const float *dy, const float *gamma,
                const float *mean, const float *invstd, float *dx, float *dgamma, float *dbeta,
                int N, int C, int HW, int acc) {
    cpu_ctx *c = ctx;
    if (c->bn_sync.sum) { /* NCHW only (c->nhwc not looked at): channels-last training never runs with sync-BN */
        cpu_bn_bwd_sync(c, x, dy, gamma, mean, invstd, dx, dgamma, dbeta, N, C, HW, acc);
        return;
    }
    if (c->nhwc) {
        CPU_ISA_PICK(c->isa, cpu_nhwc_bn_bwd)(c, x, dy, gamma, NULL, mean, invstd, dx, dgamma, dbeta, N, C, HW, acc,
                                              0);
        return;
    }
#pragma omp parallel for num_threads(c->threads) schedule(dynamic, 1)
    for (int ch = 0; ch < C; ch++)
        bn_bwd_channel(x, dy + (size_t)ch * HW, (size_t)C * HW, gamma, mean, invstd, dx, dgamma, dbeta, N, C, HW, ch,
                       acc);
}

/* The ReLU's backward and the batch norm's in one (backend.h bn_relu_bwd): bn_bwd on dy masked by the
 * ReLU of y = relu(bn(x)) as the training forward made it (cpu_relu_mask), the same bits as act_bwd then
 * bn_bwd without the masked tensor: each channel's masked planes go to its thread's workspace [N, HW]
 * (under sync-BN, the whole masked tensor to a buffer of the context, then norm_sync.c's backward: NCHW
 * only, c->nhwc not looked at, as channels-last training never runs with sync-BN). Channels last (x, dy,
 * dx [N,HW,C]): norm_nhwc.c, the mask made as the values are read. */
void cpu_bn_relu_bwd(void *ctx, const float *x, const float *dy, const float *gamma, const float *beta,
                     const float *mean, const float *invstd, float *dx, float *dgamma, float *dbeta, int N, int C,
                     int HW, int acc) {
    cpu_ctx *c = ctx;
    void (*mask)(const float *, const float *, float *, int, float, float) = CPU_ISA_PICK(c->isa, cpu_relu_mask);
    if (c->bn_sync.sum) {
        float *d = cpu_grow(c, &c->remade, &c->remade_cap, (size_t)N * C * HW);
        if (!d) return; /* error() */
#pragma omp parallel for num_threads(c->threads) schedule(static)
        for (int i = 0; i < N * C; i++) {
            float scale, shift;
            cpu_bn_saved_coef(gamma, beta, mean, invstd, i % C, &scale, &shift);
            mask(x + (size_t)i * HW, dy + (size_t)i * HW, d + (size_t)i * HW, HW, scale, shift);
        }
        cpu_bn_bwd_sync(c, x, d, gamma, mean, invstd, dx, dgamma, dbeta, N, C, HW, acc);
        return;
    }
    if (c->nhwc) {
        CPU_ISA_PICK(c->isa, cpu_nhwc_bn_bwd)(c, x, dy, gamma, beta, mean, invstd, dx, dgamma, dbeta, N, C, HW, acc,
                                              1);
        return;
    }
    if (cpu_reserve(c, (size_t)N * HW)) return; /* error() */
#pragma omp parallel for num_threads(c->threads) schedule(dynamic, 1)
    for (int ch = 0; ch < C; ch++) {
        float *s = c->ws[omp_get_thread_num()], scale, shift;
        cpu_bn_saved_coef(gamma, beta, mean, invstd, ch, &scale, &shift);
        for (int n = 0; n < N; n++) {
            const size_t o = ((size_t)n * C + ch) * HW;
            mask(x + o, dy + o, s + (size_t)n * HW, HW, scale, shift);
        }
        bn_bwd_channel(x, s, (size_t)HW, gamma, mean, invstd, dx, dgamma, dbeta, N, C, HW, ch, acc);
    }
}
