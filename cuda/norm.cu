/* norm.cu: per-channel reductions (batch norm, conv bias gradient) and batch normalisation.
 *
 * Batch norm is our own kernels, not cuDNN's: the contract (lib/backend/backend.h) wants the saved inverse std,
 * running_var updated with the unbiased variance and momentum as (1-m)*running + m*batch, and
 * deterministic sums; three small kernels do exactly that.
 *   statistics: per channel, `splits` blocks each sum a fixed slice of every plane in double
 *               (sum and sum of squares; the variance E[x^2]-mean^2 in double is accurate to ~1e-16
 *               relative to mean^2/var); then one thread per channel sums the block partials in order.
 *   apply:      y = x*scale + shift per channel (the same float expression as the CPU backend). */
#include <math.h>
#include "cu.h"

cu_split cu_split_for(int C, int HW) {
    /* about 2048 blocks in all, each reading at least 256 values of every plane */
    cu_split s;
    if (C < 1) C = 1;
    if (HW < 1) HW = 1;
    int want = (2048 + C - 1) / C, maxs = (HW + 255) / 256;
    if (want > maxs) want = maxs;
    if (want < 1) want = 1;
    s.chunk = (HW + want - 1) / want;
    s.splits = (HW + s.chunk - 1) / s.chunk;
    return s;
}

template <int MODE>
__global__ static void chan_sums_kernel(const float *__restrict__ a, const float *__restrict__ b,
                                        const float *__restrict__ center, int N, int C, int HW, int chunk,
                                        int splits, double *__restrict__ part) {
    __shared__ double sh0[32], sh1[32];
    const int j = blockIdx.x, ch = blockIdx.y;
    const int lo = j * chunk, hi = min(HW, lo + chunk);
    const float cen = MODE == 2 ? center[ch] : 0.0f;
    double s0 = 0, s1 = 0;
    for (int n = 0; n < N; n++) {
        const size_t base = ((size_t)n * C + ch) * HW;
        for (int i = lo + (int)threadIdx.x; i < hi; i += CU_THREADS) {
            const float v = a[base + i];
            s0 += v;
            if (MODE == 1) s1 += (double)v * v;
            if (MODE == 2) s1 += (double)v * (double)(b[base + i] - cen);
        }
    }
    s0 = cu_block_sum(s0, sh0);
    if (MODE) s1 = cu_block_sum(s1, sh1);
    if (threadIdx.x == 0) {
        double *p = part + ((size_t)ch * splits + j) * 2;
        p[0] = s0;
        p[1] = s1;
    }
}

cu_split cu_chan_sums(cu_ctx *c, int mode, const float *a, const float *b, const float *center,
                      int N, int C, int HW, double *part) {
    cu_split s = cu_split_for(C, HW);
    dim3 grid((unsigned)s.splits, (unsigned)C);
    if (mode == 0)
        chan_sums_kernel<0><<<grid, CU_THREADS, 0, c->stream>>>(a, b, center, N, C, HW, s.chunk, s.splits, part);
    else if (mode == 1)
        chan_sums_kernel<1><<<grid, CU_THREADS, 0, c->stream>>>(a, b, center, N, C, HW, s.chunk, s.splits, part);
    else
        chan_sums_kernel<2><<<grid, CU_THREADS, 0, c->stream>>>(a, b, center, N, C, HW, s.chunk, s.splits, part);
    KCHECK();
    return s;
}

/* the block partials of channel ch, summed in order */
static __device__ __forceinline__ void chan_total(const double *part, int ch, int splits, double *s0, double *s1) {
    double a = 0, b = 0;
    const double *p = part + (size_t)ch * splits * 2;
    for (int j = 0; j < splits; j++) {
        a += p[2 * j];
        b += p[2 * j + 1];
    }
    *s0 = a;
    *s1 = b;
}

/* a grid over planes (y, strided) and the positions of a plane (x, strided) */
static dim3 plane_grid(int HW, long planes) {
    long bx = (HW + CU_THREADS - 1) / CU_THREADS;
    if (bx > 64) bx = 64;
    if (bx < 1) bx = 1;
    long by = planes < 1 ? 1 : planes > 65535 ? 65535 : planes;
    return dim3((unsigned)bx, (unsigned)by);
}

/* conv bias gradient ------------------------------------------------------------------------------------ */

__global__ static void bias_finalize(const double *part, int C, int splits, float *db) {
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= C) return;
    double s0, s1;
    chan_total(part, ch, splits, &s0, &s1);
    db[ch] += (float)s0;
}

void cu_conv_bwd_bias(void *ctx, const float *dy, float *db, int N, int Co, int HWo) {
    cu_ctx *c = cu_enter(ctx);
    if (Co < 1 || N < 1 || HWo < 1) return;
    cu_split s = cu_split_for(Co, HWo);
    double *part = (double *)cu_scratch(c, CU_SCR_RED, (size_t)Co * s.splits * 2 * sizeof(double));
    cu_chan_sums(c, 0, dy, NULL, NULL, N, Co, HWo, part);
    bias_finalize<<<(Co + CU_THREADS - 1) / CU_THREADS, CU_THREADS, 0, c->stream>>>(part, Co, s.splits, db);
    KCHECK();
}

/* batch norm ------------------------------------------------------------------------------------------- */

/* coef[ch] = scale, coef[C+ch] = shift */
__global__ static void bn_train_finalize(const double *part, int C, int splits, double m, const float *gamma,
                                         const float *beta, float *mean, float *invstd, float *rmean, float *rvar,
                                         float momentum, float eps, float *coef) {
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= C) return;
    double s0, s1;
    chan_total(part, ch, splits, &s0, &s1);
    const double mu = s0 / m;
    cu_bn_finalize_chan(ch, C, m, mu, s1 / m - mu * mu, gamma, beta, mean, invstd, rmean, rvar, momentum, eps,
                        coef);
}

__global__ static void chan_affine(const float *x, float *y, const float *coef, int C, int HW, long planes) {
    for (long pl = blockIdx.y; pl < planes; pl += gridDim.y) {
        const int ch = (int)(pl % C);
        const float sc = coef[ch], sh = coef[C + ch];
        const float *xp = x + (size_t)pl * HW;
        float *yp = y + (size_t)pl * HW;
        for (int i = blockIdx.x * CU_THREADS + threadIdx.x; i < HW; i += gridDim.x * CU_THREADS)
            yp[i] = xp[i] * sc + sh;
    }
}

void cu_bn_fwd_train(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                     float *mean, float *invstd, float *rmean, float *rvar,
                     int N, int C, int HW, float momentum, float eps) {
    cu_ctx *c = cu_enter(ctx);
    if (C < 1 || N < 1 || HW < 1) return;
    if (c->bn_sync.sum) {
        cu_bn_fwd_train_sync(c, x, gamma, beta, y, mean, invstd, rmean, rvar, N, C, HW, momentum, eps);
        return;
    }
    cu_split s = cu_split_for(C, HW);
    double *part = (double *)cu_scratch(c, CU_SCR_RED, (size_t)C * s.splits * 2 * sizeof(double));
    float *coef = (float *)cu_scratch(c, CU_SCR_COEF, (size_t)C * 2 * sizeof(float));
    cu_chan_sums(c, 1, x, NULL, NULL, N, C, HW, part);
    bn_train_finalize<<<(C + CU_THREADS - 1) / CU_THREADS, CU_THREADS, 0, c->stream>>>(
        part, C, s.splits, (double)N * HW, gamma, beta, mean, invstd, rmean, rvar, momentum, eps, coef);
    KCHECK();
    const long planes = (long)N * C;
    chan_affine<<<plane_grid(HW, planes), CU_THREADS, 0, c->stream>>>(x, y, coef, C, HW, planes);
    KCHECK();
}

__global__ static void bn_infer_kernel(const float *x, const float *gamma, const float *beta, float *y,
                                       const float *rmean, const float *rvar, int C, int HW, long planes,
                                       float eps) {
    for (long pl = blockIdx.y; pl < planes; pl += gridDim.y) {
        const int ch = (int)(pl % C);
        const float sc = (float)(gamma[ch] / sqrt((double)rvar[ch] + eps));
        const float sh = beta[ch] - rmean[ch] * sc;
        const float *xp = x + (size_t)pl * HW;
        float *yp = y + (size_t)pl * HW;
        for (int i = blockIdx.x * CU_THREADS + threadIdx.x; i < HW; i += gridDim.x * CU_THREADS)
            yp[i] = xp[i] * sc + sh;
    }
}

void cu_bn_fwd_infer(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                     const float *rmean, const float *rvar, int N, int C, int HW, float eps) {
    cu_ctx *c = cu_enter(ctx);
    if (C < 1 || N < 1 || HW < 1) return;
    const long planes = (long)N * C;
    bn_infer_kernel<<<plane_grid(HW, planes), CU_THREADS, 0, c->stream>>>(x, gamma, beta, y, rmean, rvar, C, HW,
                                                                         planes, eps);
    KCHECK();
}

/* dx = a*dy + bb*(x-mean) + cst: coef = {a, bb, cst, mean} per channel */
__global__ static void bn_bwd_finalize(const double *part, int C, int splits, double m, const float *gamma,
                                       const float *mean, const float *invstd, float *dgamma, float *dbeta,
                                       float *coef) {
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= C) return;
    double sdy, sdyx;
    chan_total(part, ch, splits, &sdy, &sdyx);
    const float is = invstd[ch];
    dbeta[ch] += (float)sdy;
    dgamma[ch] += (float)(sdyx * is);
    coef[ch] = gamma[ch] * is;
    coef[C + ch] = (float)(-(double)gamma[ch] * is * is * is * sdyx / m);
    coef[2 * C + ch] = (float)(-(double)gamma[ch] * is * sdy / m);
    coef[3 * C + ch] = mean[ch];
}

template <int ACC>
__global__ static void bn_bwd_apply(const float *x, const float *dy, float *dx, const float *coef, int C, int HW,
                                    long planes) {
    for (long pl = blockIdx.y; pl < planes; pl += gridDim.y) {
        const int ch = (int)(pl % C);
        const float a = coef[ch], bb = coef[C + ch], cst = coef[2 * C + ch], mu = coef[3 * C + ch];
        const float *xp = x + (size_t)pl * HW, *dp = dy + (size_t)pl * HW;
        float *o = dx + (size_t)pl * HW;
        for (int i = blockIdx.x * CU_THREADS + threadIdx.x; i < HW; i += gridDim.x * CU_THREADS) {
            const float g = a * dp[i] + bb * (xp[i] - mu) + cst;
            if (ACC) o[i] += g;
            else o[i] = g;
        }
    }
}

void cu_bn_bwd(void *ctx, const float *x, const float *dy, const float *gamma,
               const float *mean, const float *invstd, float *dx, float *dgamma, float *dbeta,
               int N, int C, int HW, int acc) {
    cu_ctx *c = cu_enter(ctx);
    if (C < 1 || N < 1 || HW < 1) return;
    if (c->bn_sync.sum) {
        cu_bn_bwd_sync(c, x, dy, gamma, mean, invstd, dx, dgamma, dbeta, N, C, HW, acc);
        return;
    }
    cu_split s = cu_split_for(C, HW);
    double *part = (double *)cu_scratch(c, CU_SCR_RED, (size_t)C * s.splits * 2 * sizeof(double));
    float *coef = (float *)cu_scratch(c, CU_SCR_COEF, (size_t)C * 4 * sizeof(float));
    cu_chan_sums(c, 2, dy, x, mean, N, C, HW, part);
    bn_bwd_finalize<<<(C + CU_THREADS - 1) / CU_THREADS, CU_THREADS, 0, c->stream>>>(
        part, C, s.splits, (double)N * HW, gamma, mean, invstd, dgamma, dbeta, coef);
    KCHECK();
    const long planes = (long)N * C;
    if (acc)
        bn_bwd_apply<1><<<plane_grid(HW, planes), CU_THREADS, 0, c->stream>>>(x, dy, dx, coef, C, HW, planes);
    else
        bn_bwd_apply<0><<<plane_grid(HW, planes), CU_THREADS, 0, c->stream>>>(x, dy, dx, coef, C, HW, planes);
    KCHECK();
}

/* for comm.cu's synchronised batch norm */
dim3 cu_plane_grid(int HW, long planes) { return plane_grid(HW, planes); }

void cu_chan_affine(cu_ctx *c, const float *x, float *y, const float *coef, int C, int HW, long planes) {
    chan_affine<<<plane_grid(HW, planes), CU_THREADS, 0, c->stream>>>(x, y, coef, C, HW, planes);
    KCHECK();
}

void cu_bn_bwd_apply(cu_ctx *c, const float *x, const float *dy, float *dx, const float *coef, int C, int HW,
                     long planes, int acc) {
    if (acc)
        bn_bwd_apply<1><<<plane_grid(HW, planes), CU_THREADS, 0, c->stream>>>(x, dy, dx, coef, C, HW, planes);
    else
        bn_bwd_apply<0><<<plane_grid(HW, planes), CU_THREADS, 0, c->stream>>>(x, dy, dx, coef, C, HW, planes);
    KCHECK();
}
