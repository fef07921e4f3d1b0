/* pool.cu: 2x2 max pooling and the channel-broadcast product (attention gates), as lib/cpu/pool.c.
 * One thread per output element; the pooling backward is a gather (one thread per input element, which
 * looks up whether it is the first maximum of its window), so nothing races and the result is exact;
 * da sums the channels in the CPU's order. Deterministic. */
#include "cu.h"

#define GRID_LOOP(i, n) for (size_t i = (size_t)blockIdx.x * CU_THREADS + threadIdx.x; i < (n); i += (size_t)gridDim.x * CU_THREADS)
#define LAUNCH(n) cu_blocks(n), CU_THREADS, 0, c->stream

/* the index in the window (0..3, row-major) of the first maximum: the CPU's comparisons */
__device__ static int first_max(const float *r0, const float *r1) {
    float m = r0[0];
    int at = 0;
    if (r0[1] > m) m = r0[1], at = 1;
    if (r1[0] > m) m = r1[0], at = 2;
    if (r1[1] > m) at = 3;
    return at;
}

/* y [planes, H/2, W/2] from x [planes, H, W] */
__global__ static void pool2_fwd_kernel(const float *x, float *y, int H, int W, size_t n) {
    const int Ho = H / 2, Wo = W / 2;
    GRID_LOOP(i, n) {
        const size_t pl = i / ((size_t)Ho * Wo), r = i - pl * Ho * Wo;
        const size_t h = r / Wo, w = r - h * Wo;
        const float *r0 = x + (pl * H + 2 * h) * W + 2 * w, *r1 = r0 + W;
        float m = r0[0];
        if (r0[1] > m) m = r0[1];
        if (r1[0] > m) m = r1[0];
        if (r1[1] > m) m = r1[1];
        y[i] = m;
    }
}

void cu_pool2_fwd(void *ctx, const float *x, float *y, int N, int C, int H, int W) {
    const size_t n = (size_t)N * C * (H / 2) * (W / 2);
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    pool2_fwd_kernel<<<LAUNCH(n)>>>(x, y, H, W, n);
    KCHECK();
}

/* dx [planes, H, W]: dy of its window when it is the window's first maximum, else 0 */
__global__ static void pool2_bwd_kernel(const float *x, const float *dy, float *dx, int H, int W, size_t n, int acc) {
    const int Wo = W / 2;
    GRID_LOOP(i, n) {
        const size_t pl = i / ((size_t)H * W), r = i - pl * H * W;
        const size_t h = r / W, w = r - h * W;
        const float *r0 = x + (pl * H + (h & ~(size_t)1)) * W + (w & ~(size_t)1), *r1 = r0 + W;
        const int me = (int)((h & 1) * 2 + (w & 1));
        const float g = first_max(r0, r1) == me ? dy[(pl * (H / 2) + h / 2) * Wo + w / 2] : 0.0f;
        dx[i] = acc ? dx[i] + g : g;
    }
}

void cu_pool2_bwd(void *ctx, const float *x, const float *dy, float *dx, int N, int C, int H, int W, int acc) {
    const size_t n = (size_t)N * C * H * W;
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    pool2_bwd_kernel<<<LAUNCH(n)>>>(x, dy, dx, H, W, n, acc);
    KCHECK();
}

/* y[n,c,i] = x[n,c,i] * a[n,i] */
__global__ static void cmul_fwd_kernel(const float *x, const float *a, float *y, int C, size_t HW, size_t n) {
    GRID_LOOP(i, n) {
        const size_t img = i / (C * HW), p = i % HW;
        y[i] = x[i] * a[img * HW + p];
    }
}

void cu_cmul_fwd(void *ctx, const float *x, const float *a, float *y, int N, int C, int HW) {
    const size_t n = (size_t)N * C * HW;
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    cmul_fwd_kernel<<<LAUNCH(n)>>>(x, a, y, C, (size_t)HW, n);
    KCHECK();
}

/* dx = dy * a */
__global__ static void cmul_dx_kernel(const float *a, const float *dy, float *dx, int C, size_t HW, size_t n, int acc) {
    GRID_LOOP(i, n) {
        const size_t img = i / (C * HW), p = i % HW;
        const float g = dy[i] * a[img * HW + p];
        dx[i] = acc ? dx[i] + g : g;
    }
}

/* da[n,i] = sum over c of dy * x, channels in order (the CPU's) */
__global__ static void cmul_da_kernel(const float *x, const float *dy, float *da, int C, size_t HW, size_t n, int acc) {
    GRID_LOOP(i, n) {
        const size_t img = i / HW, p = i - img * HW;
        const float *xp = x + img * C * HW + p, *dp = dy + img * C * HW + p;
        float s = acc ? da[i] : 0.0f;
        for (int ch = 0; ch < C; ch++) s += dp[(size_t)ch * HW] * xp[(size_t)ch * HW];
        da[i] = s;
    }
}

void cu_cmul_bwd(void *ctx, const float *x, const float *a, const float *dy, float *dx, float *da,
                 int N, int C, int HW, int acc_x, int acc_a) {
    const size_t n = (size_t)N * C * HW, na = (size_t)N * HW;
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    cmul_dx_kernel<<<LAUNCH(n)>>>(a, dy, dx, C, (size_t)HW, n, acc_x);
    KCHECK();
    cmul_da_kernel<<<LAUNCH(na)>>>(x, dy, da, C, (size_t)HW, na, acc_a);
    KCHECK();
}
