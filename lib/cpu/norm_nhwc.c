/* norm_nhwc.c: the channels-last (set_nhwc) training batch norm (and its ReLU), forward and backward, and
 * the convolution's bias gradient (declared in cpu.h): x, y, dy, dx [N,HW,C] ([P,C], P = N*HW pixels,
 * channel fastest); gamma, beta, mean, invstd, rmean, rvar, dgamma, dbeta, db [C] as in NCHW.
 *
 * Each gives the bits of its NCHW path (norm.c, conv.c) on the same values, at every ISA level. The NCHW
 * reductions run per channel along its planes, in cpu_sum's order (4 float lanes per block of 4096 pixels,
 * the blocks' floats summed in double; cpu.h, CPU_SUM_LANES); here the pixel rows are read once for all
 * channels, vectorised across them (chsum.c), each (image, block, channel)'s float into a workspace
 * part [N, nb, C], and then each channel's blocks added in double in NCHW's order:
 *   nested (cpu_chsum_nested) for the sums that NCHW takes by cpu_sum per plane: the mean's sum x, the
 *       backward's sum dy, the bias gradient's sum dy (each plane's total, those totals in image order);
 *   flat (cpu_chsum_flat) for norm.c's inline loops: the variance's sum (x - mean)^2 and the backward's
 *       sum dy*(x - mean) (every block's float, image after image, into one double).
 * The passes over the activations are NCHW's: forward, the sums of x, those of (x - mean)^2 (the two-pass
 * variance), then y (layout.c's cpu_nhwc_epi, the inference batch norm's pass); backward, one pass for
 * the two sums (the ReLU's mask made on the fly, as cpu_relu_mask makes it), then dx, elementwise with
 * cpu_bn_dx's expression. All reductions are done before dx is written, so dx may be dy (acc = 0).
 * Elementwise arithmetic only across channels and C11's fp-contract off: the same bits at every level
 * (compiled per level, CPU_ISA_SRC). Sync-BN (norm_sync.c) has no channels-last path: channels-last
 * training never runs with it. */
#include <stddef.h>
#include "cpu.h"

void cpu_nhwc_bn_fwd_train(cpu_ctx *c, const float *x, const float *gamma, const float *beta, float *y,
                           float *mean, float *invstd, float *rmean, float *rvar, int N, int C, int HW,
                           float momentum, float eps, int relu) {
    const int nb = cpu_sum_blocks(HW);
    const size_t np = (size_t)N * nb * C;
    const double m = (double)N * HW;
    if (cpu_reserve(c, 2 * np + 3 * (size_t)C)) return; /* error() */
    float *ps = cpu_ws(c, 0); /* [N, nb, C] the blocks' sums of x */
    float *pd = ps + np;      /* [N, nb, C] the blocks' sums of (x - mean)^2 */
    float *muf = pd + np;     /* [C] the float means */
    float *sc = muf + C;      /* [2C] y = x*scale + shift: scale [C], then shift [C] */
    const cpu_chsum sx = {CPU_CHSUM_X, x, NULL, NULL, NULL, NULL};
    cpu_chsum_blocks(&sx, ps, NULL, N, C, HW, c->threads);
    for (int ch = 0; ch < C; ch++) muf[ch] = (float)(cpu_chsum_nested(ps, N, nb, C, ch) / m);
    const cpu_chsum sd = {CPU_CHSUM_DEV2, x, NULL, muf, NULL, NULL};
    cpu_chsum_blocks(&sd, pd, NULL, N, C, HW, c->threads);
    for (int ch = 0; ch < C; ch++)
        cpu_bn_train_coef(cpu_chsum_nested(ps, N, nb, C, ch), cpu_chsum_flat(pd, N, nb, C, ch), m, eps, momentum,
                          gamma[ch], beta[ch], &mean[ch], &invstd[ch], &rmean[ch], &rvar[ch], &sc[ch], &sc[C + ch]);
    const cpu_epi epi = {sc, sc + C, relu, 0, 0};
    if (y) cpu_nhwc_epi(x, y, (size_t)N * HW, C, &epi, c->threads); /* y NULL: the statistics only */
}

/* one pixel's dx [C] (= or += by acc) from its x, dy [C]: d = dy (relu: masked by the forward's ReLU,
 * sc [2C] its scale and shift), dx = a*d + bb*(x - mu) + cst, k [3C] = a, bb, cst */
static inline __attribute__((always_inline)) void dx_row(const float *xp, const float *dp, float *o, int C,
                                                         const float *mu, const float *sc, const float *k,
                                                         int relu, int acc) {
    const float *a = k, *bb = k + C, *cst = k + 2 * C;
#pragma omp simd
    for (int j = 0; j < C; j++) {
        const float d = relu ? (cpu_bn_value(xp[j], sc[j], sc[C + j], 0) > 0 ? dp[j] : 0.0f) : dp[j];
        const float v = a[j] * d + bb[j] * (xp[j] - mu[j]) + cst[j];
        if (acc) o[j] += v;
        else o[j] = v;
    }
}

void cpu_nhwc_bn_bwd(cpu_ctx *c, const float *x, const float *dy, const float *gamma, const float *beta,
                     const float *mean, const float *invstd, float *dx, float *dgamma, float *dbeta, int N, int C,
                     int HW, int acc, int relu) {
    const int nb = cpu_sum_blocks(HW);
    const size_t np = (size_t)N * nb * C;
    const double m = (double)N * HW;
    if (cpu_reserve(c, 2 * np + 5 * (size_t)C)) return; /* error() */
    float *pdy = cpu_ws(c, 0); /* [N, nb, C] the blocks' sums of dy (masked) */
    float *pdx = pdy + np;     /* [N, nb, C] the blocks' sums of dy*(x - mean) */
    float *sc = pdx + np;      /* [2C] the forward's scale, then shift (relu) */
    float *k = sc + 2 * C;     /* [3C] dx's a, bb, cst */
    if (relu)
        for (int ch = 0; ch < C; ch++) cpu_bn_saved_coef(gamma, beta, mean, invstd, ch, &sc[ch], &sc[C + ch]);
    const cpu_chsum t = {relu ? CPU_CHSUM_DY_RELU : CPU_CHSUM_DY, x, dy, mean, sc, sc + C};
    cpu_chsum_blocks(&t, pdy, pdx, N, C, HW, c->threads);
    for (int ch = 0; ch < C; ch++) {
        const double sdy = cpu_chsum_nested(pdy, N, nb, C, ch), sdyx = cpu_chsum_flat(pdx, N, nb, C, ch);
        dbeta[ch] += (float)sdy;
        dgamma[ch] += (float)(sdyx * invstd[ch]);
        cpu_bn_bwd_coef(sdy, sdyx, m, gamma[ch], invstd[ch], &k[ch], &k[C + ch], &k[2 * C + ch]);
    }
    const long P = (long)N * HW;
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (long p = 0; p < P; p++) {
        const float *xp = x + (size_t)p * C, *dp = dy + (size_t)p * C;
        float *o = dx + (size_t)p * C;
        if (relu) {
            if (acc) dx_row(xp, dp, o, C, mean, sc, k, 1, 1);
            else dx_row(xp, dp, o, C, mean, sc, k, 1, 0);
        } else {
            if (acc) dx_row(xp, dp, o, C, mean, sc, k, 0, 1);
            else dx_row(xp, dp, o, C, mean, sc, k, 0, 0);
        }
    }
}

void cpu_nhwc_bias_bwd(cpu_ctx *c, const float *dy, float *db, int N, int C, int HW) {
    const int nb = cpu_sum_blocks(HW);
    if (cpu_reserve(c, (size_t)N * nb * C)) return; /* error() */
    float *part = cpu_ws(c, 0); /* [N, nb, C] the blocks' sums of dy */
    const cpu_chsum t = {CPU_CHSUM_X, dy, NULL, NULL, NULL, NULL};
    cpu_chsum_blocks(&t, part, NULL, N, C, HW, c->threads);
    for (int ch = 0; ch < C; ch++) db[ch] += (float)cpu_chsum_nested(part, N, nb, C, ch);
}
