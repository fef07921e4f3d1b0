/* loss.cu: the soft Dice loss and the sum of squares. Deterministic: fixed block partials summed in
 * double, then a fixed-order sum of the partials by one thread; the scalar comes back to the host.
 * The Dice loss is two launches: the partial sums, whose last block to finish (a counter, reset by that
 * block) sums the partials in order and makes the gradient's coefficients, then the gradient. */
#include "cu.h"

static __device__ void dice_finish_one(const double *part, int N, int splits, float smooth, float *coef, double *res);

/* per image n, split j: part[(n*splits + j)*3 + {0,1,2}] = sums of p*t, p, t over its slice; the last block
 * to finish (count: zero before, zero after) then runs dice_finish_one */
__global__ static void dice_partial(const float *p, const float *t, int HW, int chunk, int splits, double *part,
                                    unsigned *count, int N, float smooth, float *coef, double *res) {
    __shared__ double sh0[32], sh1[32], sh2[32];
    __shared__ bool last;
    const int j = blockIdx.x, n = blockIdx.y;
    const int lo = j * chunk, hi = min(HW, lo + chunk);
    const float *pn = p + (size_t)n * HW, *tn = t + (size_t)n * HW;
    double spt = 0, sp = 0, st = 0;
    for (int i = lo + (int)threadIdx.x; i < hi; i += CU_THREADS) {
        const float a = pn[i], b = tn[i];
        spt += (double)a * b;
        sp += a;
        st += b;
    }
    spt = cu_block_sum(spt, sh0);
    sp = cu_block_sum(sp, sh1);
    st = cu_block_sum(st, sh2);
    if (threadIdx.x == 0) {
        double *o = part + ((size_t)n * splits + j) * 3;
        o[0] = spt;
        o[1] = sp;
        o[2] = st;
        __threadfence(); /* the partials are visible before the count says so */
        const unsigned blocks = gridDim.x * gridDim.y;
        last = atomicAdd(count, 1u) == blocks - 1;
    }
    __syncthreads();
    if (last && threadIdx.x == 0) {
        __threadfence();
        dice_finish_one(part, N, splits, smooth, coef, res);
        *count = 0;
    }
}

/* loss (res[0]) and the gradient coefficients coef[2n] = a_n, coef[2n+1] = b_n (dp = a_n t + b_n), as the
 * CPU backend computes them; one thread */
static __device__ void dice_finish_one(const double *part, int N, int splits, float smooth, float *coef, double *res) {
    double total = 0;
    for (int n = 0; n < N; n++) {
        double I = 0, P = 0, T = 0;
        const double *o = part + (size_t)n * splits * 3;
        for (int j = 0; j < splits; j++) {
            I += o[3 * j];
            P += o[3 * j + 1];
            T += o[3 * j + 2];
        }
        const double num = 2 * I + smooth, den = (P + T) + smooth;
        total += num / den;
        coef[2 * n] = (float)(-2.0 / (N * den));
        coef[2 * n + 1] = (float)(num / (N * den * den));
    }
    res[0] = 1.0 - total / N;
}

__global__ static void dice_grad(const float *t, const float *coef, float *dp, int HW, size_t n) {
    for (size_t i = (size_t)blockIdx.x * CU_THREADS + threadIdx.x; i < n; i += (size_t)gridDim.x * CU_THREADS) {
        const size_t img = i / HW;
        dp[i] = coef[2 * img] * t[i] + coef[2 * img + 1];
    }
}

float cu_dice_loss(void *ctx, const float *p, const float *t, float *dp, int N, int HW, float smooth) {
    cu_ctx *c = cu_enter(ctx);
    if (N < 1 || HW < 1) return 0.0f;
    cu_split s = cu_split_for(N, HW);
    double *part = (double *)cu_scratch(c, CU_SCR_RED, ((size_t)N * s.splits * 3 + 1) * sizeof(double));
    double *res = part + (size_t)N * s.splits * 3;
    float *coef = (float *)cu_scratch(c, CU_SCR_COEF, (size_t)N * 2 * sizeof(float));
    if (!c->dice_count) { /* the last-block counter: zero, and left zero by every launch */
        CK(cudaMalloc(&c->dice_count, sizeof(unsigned)));
        CK(cudaMemsetAsync(c->dice_count, 0, sizeof(unsigned), c->stream));
    }
    dice_partial<<<dim3((unsigned)s.splits, (unsigned)N), CU_THREADS, 0, c->stream>>>(
        p, t, HW, s.chunk, s.splits, part, c->dice_count, N, smooth, coef, res);
    KCHECK();
    if (dp) {
        const size_t n = (size_t)N * HW;
        dice_grad<<<cu_blocks(n), CU_THREADS, 0, c->stream>>>(t, coef, dp, HW, n);
        KCHECK();
    }
    CK(cudaMemcpyAsync(c->host_res, res, sizeof(double), cudaMemcpyDeviceToHost, c->stream));
    CK(cudaStreamSynchronize(c->stream));
    return (float)c->host_res[0];
}

/* sum of squares ---------------------------------------------------------------------------------------- */

__global__ static void sumsq_partial(const float *x, size_t n, size_t chunk, double *part) {
    __shared__ double sh[32];
    const size_t lo = (size_t)blockIdx.x * chunk, hi = lo + chunk < n ? lo + chunk : n;
    double s = 0;
    for (size_t i = lo + threadIdx.x; i < hi; i += CU_THREADS) s += (double)x[i] * x[i];
    s = cu_block_sum(s, sh);
    if (threadIdx.x == 0) part[blockIdx.x] = s;
}

__global__ static void sum_in_order(const double *part, int m, double *res) {
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    double s = 0;
    for (int i = 0; i < m; i++) s += part[i];
    res[0] = s;
}

double cu_sumsq(void *ctx, const float *x, size_t n) {
    if (!n) return 0.0;
    cu_ctx *c = cu_enter(ctx);
    /* at most 1024 blocks, each at least 4096 values (a fixed split for each n: deterministic) */
    size_t blocks = (n + 4095) / 4096;
    if (blocks > 1024) blocks = 1024;
    const size_t chunk = (n + blocks - 1) / blocks;
    blocks = (n + chunk - 1) / chunk;
    double *part = (double *)cu_scratch(c, CU_SCR_RED, (blocks + 1) * sizeof(double));
    sumsq_partial<<<(unsigned)blocks, CU_THREADS, 0, c->stream>>>(x, n, chunk, part);
    KCHECK();
    sum_in_order<<<1, 32, 0, c->stream>>>(part, (int)blocks, part + blocks);
    KCHECK();
    CK(cudaMemcpyAsync(c->host_res, part + blocks, sizeof(double), cudaMemcpyDeviceToHost, c->stream));
    CK(cudaStreamSynchronize(c->stream));
    return c->host_res[0];
}
