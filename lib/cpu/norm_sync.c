/* norm_sync.c: batch normalisation with its statistics summed over replicas (sync-BN, lib/backend/backend.h's
 * fn_bn_sync). The same arithmetic as norm.c's, with the per-channel sums of this replica handed to
 * the replicas' sum between the passes; the count of values comes summed with them. */
#include <math.h>
#include <stdlib.h>
#include "cpu.h"

static void cpu_set_bn_sync(void *ctx, const fn_bn_sync *s) {
    cpu_ctx *c = ctx;
    c->bn_sync = s ? *s : (fn_bn_sync){ 0 };
}

void cpu_bn_sync_init(fn_backend *be) { be->set_bn_sync = cpu_set_bn_sync; }

/* the partial sums of every channel, ch in [0,C): fwd pass 1 (shift NULL) sum x; pass 2 sum (x-shift)^2;
 * bwd: sum dy into out[ch], sum dy*(x-shift) into out[C+ch] */
static void chan_sums(cpu_ctx *c, const float *x, const float *dy, const float *shift, double *out, int N, int C,
                      int HW) {
#pragma omp parallel for num_threads(c->threads) schedule(dynamic, 1)
    for (int ch = 0; ch < C; ch++) {
        const float mu = shift ? shift[ch] : 0.0f;
        double s1 = 0, s2 = 0;
        for (int n = 0; n < N; n++) {
            const float *xp = x + ((size_t)n * C + ch) * HW, *dp = dy ? dy + ((size_t)n * C + ch) * HW : NULL;
            if (!shift) { s1 += cpu_sum(xp, (size_t)HW); continue; }
            if (dp) s1 += cpu_sum(dp, (size_t)HW);
            if (dp) cpu_acc_dyx(&s2, dp, xp, (size_t)HW, mu);
            else cpu_acc_dev2(&s2, xp, (size_t)HW, mu);
        }
        out[ch] = shift && !dy ? s2 : s1;
        if (dy) out[C + ch] = s2;
    }
}

/* part[n] and the count summed over the replicas */
static double *reduce(cpu_ctx *c, const double *part, int n, double count) {
    double *buf = malloc(sizeof *buf * ((size_t)n + 1));
    if (!buf) { c->oom += sizeof *buf * ((size_t)n + 1); return NULL; }
    for (int i = 0; i < n; i++) buf[i] = part[i];
    buf[n] = count;
    c->bn_sync.sum(c->bn_sync.ctx, buf, (size_t)n + 1);
    return buf;
}

/* x, y [N,C,HW]; gamma, beta, mean, invstd, rmean, rvar [C]; part [C] this replica's sums; s1 [C+1]
 * (sum x, count) and s2 [C] (sum (x-mean)^2) over all replicas */
void cpu_bn_fwd_train_sync(cpu_ctx *c, const float *x, const float *gamma, const float *beta, float *y,
                           float *mean, float *invstd, float *rmean, float *rvar, int N, int C, int HW,
                           float momentum, float eps) {
    double *part = malloc(sizeof *part * (size_t)C);
    double *s1 = NULL, *s2 = NULL;
    if (!part) { c->oom += sizeof *part * (size_t)C; return; }
    chan_sums(c, x, NULL, NULL, part, N, C, HW);
    if (!(s1 = reduce(c, part, C, (double)N * HW))) goto out;
    const double m = s1[C];
    for (int ch = 0; ch < C; ch++) mean[ch] = (float)(s1[ch] / m);
    chan_sums(c, x, NULL, mean, part, N, C, HW);
    if (!(s2 = reduce(c, part, C, 0))) goto out;
#pragma omp parallel for num_threads(c->threads) schedule(dynamic, 1)
    for (int ch = 0; ch < C; ch++) {
        const double mu = s1[ch] / m;
        const float muf = mean[ch];
        const double var = s2[ch] / m - (mu - muf) * (mu - muf);
        const double is = 1.0 / sqrt(var + eps);
        invstd[ch] = (float)is;
        const float scale = gamma[ch] * (float)is, shift = beta[ch] - muf * scale;
        for (int n = 0; n < N && y; n++) { /* y NULL: the statistics only */
            const float *xp = x + ((size_t)n * C + ch) * HW;
            cpu_bn_plane(xp, y + ((size_t)n * C + ch) * HW, HW, scale, shift, 0);
        }
        const double unbiased = m > 1 ? var * m / (m - 1) : var;
        rmean[ch] = (float)((1.0 - momentum) * rmean[ch] + momentum * mu);
        rvar[ch] = (float)((1.0 - momentum) * rvar[ch] + momentum * unbiased);
    }
out:
    free(part); free(s1); free(s2);
}

/* x, dy, dx [N,C,HW]; gamma, mean, invstd, dgamma, dbeta [C]; part [2C] this replica's sum dy,
 * sum dy*(x-mean); s [2C+1] the same and the count over all replicas */
void cpu_bn_bwd_sync(cpu_ctx *c, const float *x, const float *dy, const float *gamma, const float *mean,
                     const float *invstd, float *dx, float *dgamma, float *dbeta, int N, int C, int HW, int acc) {
    double *part = malloc(sizeof *part * 2 * (size_t)C);
    double *s = NULL;
    if (!part) { c->oom += sizeof *part * 2 * (size_t)C; return; }
    chan_sums(c, x, dy, mean, part, N, C, HW);
    for (int ch = 0; ch < C; ch++) { /* this replica's share of the parameter gradients */
        dbeta[ch] += (float)part[ch];
        dgamma[ch] += (float)(part[C + ch] * invstd[ch]);
    }
    if (!(s = reduce(c, part, 2 * C, (double)N * HW))) goto out;
    const double m = s[2 * C];
#pragma omp parallel for num_threads(c->threads) schedule(dynamic, 1)
    for (int ch = 0; ch < C; ch++) {
        const float mu = mean[ch], is = invstd[ch];
        const double sdy = s[ch], sdyx = s[C + ch];
        const float a = gamma[ch] * is;
        const float bb = (float)(-(double)gamma[ch] * is * is * is * sdyx / m);
        const float cst = (float)(-(double)gamma[ch] * is * sdy / m);
        cpu_bn_dx(x, dy + (size_t)ch * HW, (size_t)C * HW, dx, N, C, HW, ch, mu, a, bb, cst, acc);
    }
out:
    free(part); free(s);
}
