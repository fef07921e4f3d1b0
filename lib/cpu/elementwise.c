/* elementwise.c: activations, add, multiply, axpy, channel concat/split, nearest 2x upsampling and
 * dropout on the CPU. Each output element depends on its own inputs only: deterministic.
 * Channels-last (set_nhwc): concat/split, up2 (fwd, bwd) and dropout_fwd take their activations as
 * [N,H,W,C] with the NCHW bits (dropout: the same mask per element); the others are elementwise. */
#include <math.h>
#include <string.h>
#include "backend/backend.h"
#include "cpu.h"

#define PAR_MIN 32768 /* below this many elements one thread is faster */

#define EW_BLOCK 512

/* y = 1/(1+e^-x) on one block: clamp (x beyond +-87 saturates anyway), then the vectorized exp.
 * Two loops, as GCC vectorizes each but not the two fused (-ftrapping-math). */
static void sigmoid_block(const float *x, float *y, size_t m) {
    float t[EW_BLOCK];
#pragma omp simd
    for (size_t i = 0; i < m; i++) {
        float v = x[i];
        v = v < -87.0f ? -87.0f : v;
        v = v > 87.0f ? 87.0f : v;
        t[i] = v;
    }
#pragma omp simd
    for (size_t i = 0; i < m; i++) y[i] = 1.0f / (1.0f + cpu_expf(-t[i]));
}

void cpu_act_fwd(void *ctx, int act, const float *x, float *y, size_t n, float alpha) {
    cpu_ctx *c = ctx;
    if (act == FN_ACT_RELU) {
#pragma omp parallel for simd num_threads(c->threads) schedule(static) if (n >= PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = x[i] > 0 ? x[i] : 0.0f;
    } else if (act == FN_ACT_LEAKY) {
#pragma omp parallel for simd num_threads(c->threads) schedule(static) if (n >= PAR_MIN)
        for (size_t i = 0; i < n; i++) {
            const float v = x[i], pos = v > 0 ? v : 0.0f, neg = v > 0 ? 0.0f : v; /* selects, no branch */
            y[i] = pos + alpha * neg;
        }
    } else { /* FN_ACT_SIGMOID */
        const size_t nb = (n + EW_BLOCK - 1) / EW_BLOCK;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (n >= PAR_MIN)
        for (size_t b = 0; b < nb; b++) {
            const size_t i0 = b * EW_BLOCK;
            sigmoid_block(x + i0, y + i0, n - i0 < EW_BLOCK ? n - i0 : EW_BLOCK);
        }
    }
}

/* dx = (acc ? dx : 0) + g(y, dy), g the derivative from the output y: relu/leaky by its sign,
 * sigmoid y(1-y) (one loop per case, so that each vectorizes) */
#define ACT_BWD_LOOP(G)                                                                                \
    do {                                                                                               \
        if (acc) {                                                                                     \
            _Pragma("omp parallel for simd num_threads(c->threads) schedule(static) if (n >= PAR_MIN)") \
            for (size_t i = 0; i < n; i++) {                                                           \
                const float yv = y[i], d = dy[i];                                                      \
                dx[i] += (G);                                                                          \
            }                                                                                          \
        } else {                                                                                       \
            _Pragma("omp parallel for simd num_threads(c->threads) schedule(static) if (n >= PAR_MIN)") \
            for (size_t i = 0; i < n; i++) {                                                           \
                const float yv = y[i], d = dy[i];                                                      \
                dx[i] = (G);                                                                           \
            }                                                                                          \
        }                                                                                              \
    } while (0)

void cpu_act_bwd(void *ctx, int act, const float *y, const float *dy, float *dx, size_t n,
                 float alpha, int acc) {
    cpu_ctx *c = ctx;
    if (act == FN_ACT_RELU)
        ACT_BWD_LOOP(yv > 0 ? d : 0.0f);
    else if (act == FN_ACT_LEAKY)
        ACT_BWD_LOOP((yv > 0 ? d : 0.0f) + alpha * (yv > 0 ? 0.0f : d));
    else
        ACT_BWD_LOOP(d * yv * (1.0f - yv));
}

void cpu_add(void *ctx, const float *a, const float *b, float *y, size_t n) {
    cpu_ctx *c = ctx;
#pragma omp parallel for simd num_threads(c->threads) schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] = a[i] + b[i];
}

void cpu_mul(void *ctx, const float *a, const float *b, float *y, size_t n, int acc) {
    cpu_ctx *c = ctx;
    if (acc) {
#pragma omp parallel for simd num_threads(c->threads) schedule(static) if (n >= PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] += a[i] * b[i];
    } else {
#pragma omp parallel for simd num_threads(c->threads) schedule(static) if (n >= PAR_MIN)
        for (size_t i = 0; i < n; i++) y[i] = a[i] * b[i];
    }
}

void cpu_axpy(void *ctx, float alpha, const float *x, float *y, size_t n) {
    cpu_ctx *c = ctx;
#pragma omp parallel for simd num_threads(c->threads) schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) y[i] += alpha * x[i];
}

/* a [N,Ca,HW], b [N,Cb,HW] -> y [N,Ca+Cb,HW]; channels-last (set_nhwc): a [P,Ca], b [P,Cb] -> y [P,Ca+Cb]
 * (P = N*HW), each pixel's Ca values then its Cb */
void cpu_concat(void *ctx, const float *a, const float *b, float *y, int N, int Ca, int Cb, int HW) {
    cpu_ctx *c = ctx;
    if (c->nhwc) {
        const long P = (long)N * HW;
        const int Cy = Ca + Cb;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (P * Cy >= PAR_MIN)
        for (long p = 0; p < P; p++) {
            const float *ap = a + (size_t)p * Ca, *bp = b + (size_t)p * Cb;
            float *yp = y + (size_t)p * Cy;
#pragma omp simd
            for (int j = 0; j < Ca; j++) yp[j] = ap[j];
#pragma omp simd
            for (int j = 0; j < Cb; j++) yp[Ca + j] = bp[j];
        }
        return;
    }
    const size_t sa = (size_t)Ca * HW, sb = (size_t)Cb * HW;
#pragma omp parallel for num_threads(c->threads) schedule(static) if ((sa + sb) * N >= PAR_MIN)
    for (int n = 0; n < N; n++) {
        memcpy(y + n * (sa + sb), a + n * sa, sa * sizeof(float));
        memcpy(y + n * (sa + sb) + sa, b + n * sb, sb * sizeof(float));
    }
}

static void copy_or_add(float *d, const float *s, size_t n, int acc) {
    if (acc)
#pragma omp simd
        for (size_t i = 0; i < n; i++) d[i] += s[i];
    else
        memcpy(d, s, n * sizeof(float));
}

/* dy [N,Ca+Cb,HW] -> da [N,Ca,HW], db [N,Cb,HW] (either may be NULL; = or += by acc); channels-last
 * (set_nhwc): dy [P,Ca+Cb] -> da [P,Ca], db [P,Cb] (P = N*HW), each pixel's first Ca values, then its Cb */
void cpu_split(void *ctx, const float *dy, float *da, float *db, int N, int Ca, int Cb, int HW, int acc) {
    cpu_ctx *c = ctx;
    if (c->nhwc) {
        const long P = (long)N * HW;
        const int Cy = Ca + Cb;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (P * Cy >= PAR_MIN)
        for (long p = 0; p < P; p++) {
            const float *yp = dy + (size_t)p * Cy; /* [Cy] */
            if (da) copy_or_add(da + (size_t)p * Ca, yp, (size_t)Ca, acc);
            if (db) copy_or_add(db + (size_t)p * Cb, yp + Ca, (size_t)Cb, acc);
        }
        return;
    }
    const size_t sa = (size_t)Ca * HW, sb = (size_t)Cb * HW;
#pragma omp parallel for num_threads(c->threads) schedule(static) if ((sa + sb) * N >= PAR_MIN)
    for (int n = 0; n < N; n++) {
        if (da) copy_or_add(da + n * sa, dy + n * (sa + sb), sa, acc);
        if (db) copy_or_add(db + n * sb, dy + n * (sa + sb) + sa, sb, acc);
    }
}

/* x [N,C,H,W] -> y [N,C,2H,2W]; channels-last (set_nhwc): x [N,H,W,C] -> y [N,2H,2W,C], each pixel's C
 * values copied to its 2x2 block */
void cpu_up2_fwd(void *ctx, const float *x, float *y, int N, int C, int H, int W) {
    cpu_ctx *c = ctx;
    if (c->nhwc) {
        const long rows = (long)N * H;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (rows * W * C >= PAR_MIN)
        for (long r = 0; r < rows; r++) { /* input row r: output rows 2r and 2r + 1 of the same image */
            const float *xr = x + (size_t)r * W * C;
            float *r0 = y + (size_t)r * 4 * W * C, *r1 = r0 + (size_t)2 * W * C;
            for (int w = 0; w < W; w++) {
                const float *xp = xr + (size_t)w * C;
                float *o = r0 + (size_t)2 * w * C;
#pragma omp simd
                for (int j = 0; j < C; j++) o[j] = o[C + j] = xp[j];
            }
            memcpy(r1, r0, (size_t)2 * W * C * sizeof(float));
        }
        return;
    }
    const long planes = (long)N * C;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (planes * H * W >= PAR_MIN)
    for (long pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * H * W;
        float *yp = y + (size_t)pl * 4 * H * W;
        for (int h = 0; h < H; h++) {
            float *r0 = yp + (size_t)2 * h * 2 * W, *r1 = r0 + 2 * W;
            const float *xr = xp + (size_t)h * W;
#pragma omp simd
            for (int w = 0; w < W; w++) r0[2 * w] = r0[2 * w + 1] = xr[w];
            memcpy(r1, r0, (size_t)2 * W * sizeof(float));
        }
    }
}

/* dy [N,C,2H,2W] -> dx [N,C,H,W]: each 2x2 block summed, (r0[2w] + r0[2w+1]) + (r1[2w] + r1[2w+1]) (= or +=
 * by acc); channels-last (set_nhwc): dy [N,2H,2W,C] -> dx [N,H,W,C], the same sums per channel */
void cpu_up2_bwd(void *ctx, const float *dy, float *dx, int N, int C, int H, int W, int acc) {
    cpu_ctx *c = ctx;
    if (c->nhwc) {
        const long rows = (long)N * H;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (rows * W * C >= PAR_MIN)
        for (long r = 0; r < rows; r++) { /* dx row r: dy rows 2r and 2r + 1 of the same image */
            const float *r0 = dy + (size_t)r * 4 * W * C, *r1 = r0 + (size_t)2 * W * C; /* [2W,C] each */
            float *xr = dx + (size_t)r * W * C;                                         /* [W,C] */
            for (int w = 0; w < W; w++) {
                const float *a = r0 + (size_t)2 * w * C, *b = a + C, *d = r1 + (size_t)2 * w * C, *e = d + C;
                float *o = xr + (size_t)w * C;
                if (acc) {
#pragma omp simd
                    for (int j = 0; j < C; j++) o[j] += (a[j] + b[j]) + (d[j] + e[j]);
                } else {
#pragma omp simd
                    for (int j = 0; j < C; j++) o[j] = (a[j] + b[j]) + (d[j] + e[j]);
                }
            }
        }
        return;
    }
    const long planes = (long)N * C;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (planes * H * W >= PAR_MIN)
    for (long pl = 0; pl < planes; pl++) {
        const float *dp = dy + (size_t)pl * 4 * H * W;
        float *xp = dx + (size_t)pl * H * W;
        for (int h = 0; h < H; h++) {
            const float *r0 = dp + (size_t)2 * h * 2 * W, *r1 = r0 + 2 * W;
            float *o = xp + (size_t)h * W;
            if (acc) {
#pragma omp simd
                for (int w = 0; w < W; w++) o[w] += (r0[2 * w] + r0[2 * w + 1]) + (r1[2 * w] + r1[2 * w + 1]);
            } else {
#pragma omp simd
                for (int w = 0; w < W; w++) o[w] = (r0[2 * w] + r0[2 * w + 1]) + (r1[2 * w] + r1[2 * w + 1]);
            }
        }
    }
}

/* x, y, mask [N,C,HW]: element (n, c, hw) kept when fn_dropout_u(seed, (n*C + c)*HW + hw) >= p, mask 0 or
 * 1/(1-p), y = x * mask; channels-last (set_nhwc): x, y, mask [N,HW,C], each element's mask drawn from its
 * NCHW index as above */
void cpu_dropout_fwd(void *ctx, const float *x, float *y, float *mask, int N, int C, int HW, float p,
                     uint64_t seed) {
    cpu_ctx *c = ctx;
    const float scale = p < 1 ? 1.0f / (1.0f - p) : 0.0f;
    if (c->nhwc) {
        const long P = (long)N * HW;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (P * C >= PAR_MIN)
        for (long q = 0; q < P; q++) { /* pixel hw = q % HW of image q / HW */
            const uint64_t i0 = (uint64_t)(q / HW) * C * HW + (uint64_t)(q % HW); /* NCHW index of channel 0 */
            const float *xp = x + (size_t)q * C; /* [C] */
            float *yp = y + (size_t)q * C, *mp = mask + (size_t)q * C;
#pragma omp simd
            for (int j = 0; j < C; j++) {
                const float m = fn_dropout_u(seed, i0 + (uint64_t)j * HW) >= p ? scale : 0.0f;
                mp[j] = m;
                yp[j] = xp[j] * m;
            }
        }
        return;
    }
    const size_t n = (size_t)N * C * HW;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (n >= PAR_MIN)
    for (size_t i = 0; i < n; i++) {
        float m = fn_dropout_u(seed, i) >= p ? scale : 0.0f;
        mask[i] = m;
        y[i] = x[i] * m;
    }
}

/* dy, mask, dx in the activation's layout (elementwise) */
void cpu_dropout_bwd(void *ctx, const float *dy, const float *mask, float *dx, size_t n, int acc) {
    cpu_mul(ctx, dy, mask, dx, n, acc);
}

/* act_bwd's ReLU of y = relu(bn(x)) as the training forward made it, one plane: out = y > 0 ? d : 0, y > 0
 * where x*scale + shift > 0 (cpu_bn_value); norm.c's bn_relu_bwd */
void cpu_relu_mask(const float *x, const float *d, float *out, int n, float scale, float shift) {
#pragma omp simd
    for (int i = 0; i < n; i++) out[i] = cpu_bn_value(x[i], scale, shift, 0) > 0 ? d[i] : 0.0f;
}
