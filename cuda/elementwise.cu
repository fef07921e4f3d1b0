/* elementwise.cu: fill, activations, add, multiply, axpy, channel concat/split, nearest 2x upsampling and
 * dropout. Each output element depends on its own inputs only (deterministic); the float expressions
 * are the CPU backend's, and the library is built with --fmad=false, so they agree to the bit except
 * for expf (sigmoid). Outputs may alias inputs where lib/backend/backend.h allows it (each thread reads its
 * element before writing it). */
#include "cu.h"

#define GRID_LOOP(i, n) for (size_t i = (size_t)blockIdx.x * CU_THREADS + threadIdx.x; i < (n); i += (size_t)gridDim.x * CU_THREADS)
#define LAUNCH(n) cu_blocks(n), CU_THREADS, 0, c->stream

__global__ static void fill_kernel(float *dst, float v, size_t n) {
    GRID_LOOP(i, n) dst[i] = v;
}

void cu_fill(void *ctx, float *dst, float v, size_t n) {
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    cu_written(c, dst, n * sizeof(float));
    fill_kernel<<<LAUNCH(n)>>>(dst, v, n);
    KCHECK();
}

__global__ static void act_fwd_kernel(int act, const float *x, float *y, size_t n, float alpha) {
    GRID_LOOP(i, n) {
        const float v = x[i];
        if (act == FN_ACT_RELU) y[i] = v > 0 ? v : 0.0f;
        else if (act == FN_ACT_LEAKY) y[i] = v > 0 ? v : alpha * v;
        else y[i] = 1.0f / (1.0f + expf(-v));
    }
}

void cu_act_fwd(void *ctx, int act, const float *x, float *y, size_t n, float alpha) {
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    act_fwd_kernel<<<LAUNCH(n)>>>(act, x, y, n, alpha);
    KCHECK();
}

__global__ static void act_bwd_kernel(int act, const float *y, const float *dy, float *dx, size_t n, float alpha,
                                      int acc) {
    GRID_LOOP(i, n) {
        float g;
        if (act == FN_ACT_RELU) g = y[i] > 0 ? dy[i] : 0.0f;
        else if (act == FN_ACT_LEAKY) g = y[i] > 0 ? dy[i] : alpha * dy[i];
        else g = dy[i] * y[i] * (1.0f - y[i]);
        dx[i] = acc ? dx[i] + g : g;
    }
}

void cu_act_bwd(void *ctx, int act, const float *y, const float *dy, float *dx, size_t n, float alpha, int acc) {
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    act_bwd_kernel<<<LAUNCH(n)>>>(act, y, dy, dx, n, alpha, acc);
    KCHECK();
}

__global__ static void add_kernel(const float *a, const float *b, float *y, size_t n) {
    GRID_LOOP(i, n) y[i] = a[i] + b[i];
}

void cu_add(void *ctx, const float *a, const float *b, float *y, size_t n) {
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    add_kernel<<<LAUNCH(n)>>>(a, b, y, n);
    KCHECK();
}

__global__ static void mul_kernel(const float *a, const float *b, float *y, size_t n, int acc) {
    GRID_LOOP(i, n) {
        const float g = a[i] * b[i];
        y[i] = acc ? y[i] + g : g;
    }
}

void cu_mul(void *ctx, const float *a, const float *b, float *y, size_t n, int acc) {
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    mul_kernel<<<LAUNCH(n)>>>(a, b, y, n, acc);
    KCHECK();
}

__global__ static void axpy_kernel(float alpha, const float *x, float *y, size_t n) {
    GRID_LOOP(i, n) y[i] += alpha * x[i];
}

void cu_axpy(void *ctx, float alpha, const float *x, float *y, size_t n) {
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    cu_written(c, y, n * sizeof(float));
    axpy_kernel<<<LAUNCH(n)>>>(alpha, x, y, n);
    KCHECK();
}

/* y [N, Ca+Cb, HW] from a [N,Ca,HW] and b [N,Cb,HW]: sa = Ca*HW, sb = Cb*HW */
__global__ static void concat_kernel(const float *a, const float *b, float *y, size_t sa, size_t sb, size_t n) {
    const size_t row = sa + sb;
    GRID_LOOP(i, n) {
        const size_t img = i / row, r = i - img * row;
        y[i] = r < sa ? a[img * sa + r] : b[img * sb + (r - sa)];
    }
}

void cu_concat(void *ctx, const float *a, const float *b, float *y, int N, int Ca, int Cb, int HW) {
    const size_t sa = (size_t)Ca * HW, sb = (size_t)Cb * HW, n = (size_t)N * (sa + sb);
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    concat_kernel<<<LAUNCH(n)>>>(a, b, y, sa, sb, n);
    KCHECK();
}

/* d [N, s] (=|+=) the part [off, off+s) of each image's row of dy [N, row] */
__global__ static void split_kernel(const float *dy, float *d, size_t row, size_t off, size_t s, size_t n, int acc) {
    GRID_LOOP(i, n) {
        const size_t img = i / s, r = i - img * s;
        const float g = dy[img * row + off + r];
        d[i] = acc ? d[i] + g : g;
    }
}

void cu_split_op(void *ctx, const float *dy, float *da, float *db, int N, int Ca, int Cb, int HW, int acc) {
    const size_t sa = (size_t)Ca * HW, sb = (size_t)Cb * HW;
    cu_ctx *c = cu_enter(ctx);
    if (da && N > 0 && sa > 0) {
        split_kernel<<<LAUNCH(N * sa)>>>(dy, da, sa + sb, 0, sa, N * sa, acc);
        KCHECK();
    }
    if (db && N > 0 && sb > 0) {
        split_kernel<<<LAUNCH(N * sb)>>>(dy, db, sa + sb, sa, sb, N * sb, acc);
        KCHECK();
    }
}

/* y [planes, 2H, 2W] from x [planes, H, W] */
__global__ static void up2_fwd_kernel(const float *x, float *y, int H, int W, size_t n) {
    const size_t W2 = (size_t)2 * W, HW4 = (size_t)4 * H * W;
    GRID_LOOP(i, n) {
        const size_t pl = i / HW4, r = i - pl * HW4;
        const size_t oh = r / W2, ow = r - oh * W2;
        y[i] = x[(pl * H + oh / 2) * W + ow / 2];
    }
}

void cu_up2_fwd(void *ctx, const float *x, float *y, int N, int C, int H, int W) {
    const size_t n = (size_t)N * C * 4 * H * W;
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    up2_fwd_kernel<<<LAUNCH(n)>>>(x, y, H, W, n);
    KCHECK();
}

/* dx [planes, H, W]: each 2x2 block of dy summed in the CPU backend's order */
__global__ static void up2_bwd_kernel(const float *dy, float *dx, int H, int W, size_t n, int acc) {
    const size_t HW = (size_t)H * W, W2 = (size_t)2 * W;
    GRID_LOOP(i, n) {
        const size_t pl = i / HW, r = i - pl * HW;
        const size_t h = r / W, w = r - h * W;
        const float *r0 = dy + pl * 4 * HW + 2 * h * W2, *r1 = r0 + W2;
        const float g = (r0[2 * w] + r0[2 * w + 1]) + (r1[2 * w] + r1[2 * w + 1]);
        dx[i] = acc ? dx[i] + g : g;
    }
}

void cu_up2_bwd(void *ctx, const float *dy, float *dx, int N, int C, int H, int W, int acc) {
    const size_t n = (size_t)N * C * H * W;
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    up2_bwd_kernel<<<LAUNCH(n)>>>(dy, dx, H, W, n, acc);
    KCHECK();
}

/* keep element i when fn_dropout_u(seed, i) >= p (the same hash as the CPU: lib/backend/backend.h) */
__global__ static void dropout_kernel(const float *x, float *y, float *mask, size_t n, float p, float scale,
                                      uint64_t seed) {
    GRID_LOOP(i, n) {
        const float m = fn_dropout_u(seed, i) >= p ? scale : 0.0f;
        mask[i] = m;
        y[i] = x[i] * m;
    }
}

/* NCHW only (no set_nhwc here): element (n, c, hw) is element (n*C + c)*HW + hw */
void cu_dropout_fwd(void *ctx, const float *x, float *y, float *mask, int N, int C, int HW, float p, uint64_t seed) {
    const size_t n = (size_t)N * C * HW;
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    const float scale = p < 1 ? 1.0f / (1.0f - p) : 0.0f;
    dropout_kernel<<<LAUNCH(n)>>>(x, y, mask, n, p, scale, seed);
    KCHECK();
}

void cu_dropout_bwd(void *ctx, const float *dy, const float *mask, float *dx, size_t n, int acc) {
    cu_mul(ctx, dy, mask, dx, n, acc);
}
