/* se.c: squeeze-and-excitation on the CPU.
 * pool[N,C] = mean_HW x; hid[N,Cr] = relu(pool wa^T); gate[N,C] = sigmoid(hid wb^T); y = x * gate.
 * wa [Cr,C], wb [C,Cr]. The small dense layers are summed in double, sequentially (deterministic).
 * Channels-last (set_nhwc): x, y, dy, dx [N,HW,C]; pool, hid, gate and the weights' gradients as in NCHW,
 * every value with the same bits. */
#include <math.h>
#include <stddef.h>
#include <string.h>
#include <omp.h>
#include "cpu.h"

/* The pooled sums (and bwd's dot products dy.x), in one order that both layouts keep (the vector width,
 * the layout and the build change nothing), the order of cpu_sum (cpu_dot) as GCC vectorises it for
 * x86-64 at -O2 (SSE2, 4 lanes; the bits of the NCHW ops before channels last, so trained models and
 * recipes did not move; test_nhwc_grads checks cpu_dot's order, where the build is optimised and not
 * sanitised: ASan's and -O0's cpu_dot add in another order): per (image, channel), the pixels in
 * blocks of SE_BLOCK; in a block of m pixels, SE_LANES float lanes from 0, lane j adding the pixels i < q
 * = m rounded down to a multiple of SE_LANES with i % SE_LANES == j, in increasing i, then lane 0 the
 * pixels from q on; the lanes combined as (((l0 + 0) + l1) + l2) + l3 (se_lanes); the blocks' floats
 * added in order to a double; pool = (float)(total / HW). */
#define SE_BLOCK 4096
#define SE_LANES 4
#define SE_CB 64 /* channels per item of the channels-last pooling */

static inline float se_lanes(float l0, float l1, float l2, float l3) {
    return (((l0 + 0.0f) + l1) + l2) + l3;
}

/* the float sum of one block of a plane, p [m], m <= SE_BLOCK, or (q not NULL) of the products p[i]*q[i],
 * q [m] */
static float se_block(const float *p, const float *q, int m) {
    float l[SE_LANES] = {0};
    const int m4 = m / SE_LANES * SE_LANES;
    if (q) {
        for (int i = 0; i < m4; i += SE_LANES) {
#pragma omp simd
            for (int j = 0; j < SE_LANES; j++) l[j] += p[i + j] * q[i + j]; /* elementwise: no reassociation */
        }
        for (int i = m4; i < m; i++) l[0] += p[i] * q[i];
    } else {
        for (int i = 0; i < m4; i += SE_LANES) {
#pragma omp simd
            for (int j = 0; j < SE_LANES; j++) l[j] += p[i + j];
        }
        for (int i = m4; i < m; i++) l[0] += p[i];
    }
    return se_lanes(l[0], l[1], l[2], l[3]);
}

/* the sum of a plane p [HW] (q NULL), or of p[i]*q[i] (q [HW]): the blocks' floats added in order to a
 * double; NCHW's pooling and dgate (the value of cpu_sum, cpu_dot in an optimised build: its order does not
 * depend on the compiler here) */
static double se_plane(const float *p, const float *q, int HW) {
    double total = 0;
    for (int i0 = 0; i0 < HW; i0 += SE_BLOCK)
        total += se_block(p + i0, q ? q + i0 : NULL, HW - i0 < SE_BLOCK ? HW - i0 : SE_BLOCK);
    return total;
}

/* channels-last sums in the order above: x [N,HW,C], times y [N,HW,C] elementwise when y is not NULL (the
 * products of cpu_dot(x plane, y plane)), each (image, block, channel)'s float into part [N, nb, C] (nb the
 * blocks of SE_BLOCK pixels); items (image, block, SE_CB channels) in parallel */
static void se_blocks_nhwc(cpu_ctx *c, const float *x, const float *y, float *part, int N, int C, int HW) {
    const int nb = (HW + SE_BLOCK - 1) / SE_BLOCK, ncb = (C + SE_CB - 1) / SE_CB;
    const long items = (long)N * nb * ncb;
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (long it = 0; it < items; it++) {
        const int n = (int)(it / ((long)nb * ncb)), b = (int)(it / ncb % nb), c0 = (int)(it % ncb) * SE_CB;
        const int m = C - c0 < SE_CB ? C - c0 : SE_CB, i0 = b * SE_BLOCK;
        const int i1 = HW - i0 < SE_BLOCK ? HW : i0 + SE_BLOCK, q = i0 + (i1 - i0) / SE_LANES * SE_LANES;
        float acc[SE_LANES][SE_CB]; /* [lane][channel c0 + j] */
        memset(acc, 0, sizeof acc);
        for (int i = i0; i < i1; i++) { /* pixel i into lane i % SE_LANES before q (i0 is a multiple of
                                          * SE_LANES), into lane 0 from q on */
            const size_t o = ((size_t)n * HW + i) * C + c0;
            const float *xp = x + o;
            float *l = acc[i < q ? i % SE_LANES : 0];
            if (y) {
                const float *yp = y + o;
#pragma omp simd
                for (int j = 0; j < m; j++) l[j] += xp[j] * yp[j];
            } else {
#pragma omp simd
                for (int j = 0; j < m; j++) l[j] += xp[j];
            }
        }
        float *o = part + ((size_t)n * nb + b) * C + c0;
#pragma omp simd
        for (int j = 0; j < m; j++) o[j] = se_lanes(acc[0][j], acc[1][j], acc[2][j], acc[3][j]);
    }
}

/* the blocks' floats of (image n, channel ch) in part [N, nb, C] added in order to a double */
static inline double se_total(const float *part, int nb, int C, int n, int ch) {
    double total = 0;
    for (int b = 0; b < nb; b++) total += part[((size_t)n * nb + b) * C + ch];
    return total;
}

/* channels-last pooling: x [N,HW,C] -> pool [N,C] by se_blocks_nhwc. 0, or -1 when the workspace could
 * not be had */
static int se_pool_nhwc(cpu_ctx *c, const float *x, float *pool, int N, int C, int HW) {
    const int nb = (HW + SE_BLOCK - 1) / SE_BLOCK;
    if (cpu_reserve(c, (size_t)N * nb * C)) return -1; /* error() */
    float *part = cpu_ws(c, 0); /* [N, nb, C], shared by the items */
    se_blocks_nhwc(c, x, NULL, part, N, C, HW);
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (long pl = 0; pl < (long)N * C; pl++)
        pool[pl] = (float)(se_total(part, nb, C, (int)(pl / C), (int)(pl % C)) / HW);
    return 0;
}

void cpu_se_fwd(void *ctx, const float *x, const float *wa, const float *wb, float *y,
                float *pool, float *hid, float *gate, int N, int C, int HW, int Cr) {
    cpu_ctx *c = ctx;
    const long planes = (long)N * C;
    if (c->nhwc) {
        if (se_pool_nhwc(c, x, pool, N, C, HW)) return;
    } else {
#pragma omp parallel for num_threads(c->threads) schedule(static)
        for (long pl = 0; pl < planes; pl++) pool[pl] = (float)(se_plane(x + (size_t)pl * HW, NULL, HW) / HW);
    }
    for (int n = 0; n < N; n++) {
        for (int r = 0; r < Cr; r++) {
            double s = 0;
            for (int ch = 0; ch < C; ch++) s += (double)pool[(size_t)n * C + ch] * wa[(size_t)r * C + ch];
            hid[(size_t)n * Cr + r] = s > 0 ? (float)s : 0.0f;
        }
        for (int ch = 0; ch < C; ch++) {
            double s = 0;
            for (int r = 0; r < Cr; r++) s += (double)hid[(size_t)n * Cr + r] * wb[(size_t)ch * Cr + r];
            gate[(size_t)n * C + ch] = (float)(1.0 / (1.0 + exp(-s)));
        }
    }
    if (c->nhwc) { /* y [N,HW,C] = x * gate of its channel, vectorised over channels */
        const long P = (long)N * HW;
#pragma omp parallel for num_threads(c->threads) schedule(static)
        for (long p = 0; p < P; p++) {
            const float *g = gate + (size_t)(p / HW) * C, *xp = x + (size_t)p * C;
            float *yp = y + (size_t)p * C;
#pragma omp simd
            for (int j = 0; j < C; j++) yp[j] = xp[j] * g[j];
        }
        return;
    }
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (long pl = 0; pl < planes; pl++) {
        const float g = gate[pl], *xp = x + (size_t)pl * HW;
        float *yp = y + (size_t)pl * HW;
#pragma omp simd
        for (int i = 0; i < HW; i++) yp[i] = xp[i] * g;
    }
}

void cpu_se_bwd(void *ctx, const float *x, const float *dy, const float *wa, const float *wb,
                const float *pool, const float *hid, const float *gate,
                float *dx, float *dwa, float *dwb, int N, int C, int HW, int Cr, int acc) {
    cpu_ctx *c = ctx;
    const long planes = (long)N * C;
    const int nb = (HW + SE_BLOCK - 1) / SE_BLOCK;
    /* workspace: dz_b [N,C] (d pre-sigmoid), dpool [N,C], dz_a [N,Cr] (d pre-relu); channels-last, then
     * part [N, nb, C] (se_blocks_nhwc's) */
    if (cpu_reserve(c, (size_t)planes * 2 + (size_t)N * Cr + (c->nhwc ? (size_t)N * nb * C : 0))) return;
    float *dzb = cpu_ws(c, 0);
    float *dpool = dzb + planes, *dza = dpool + planes;
    float *part = dza + (size_t)N * Cr; /* channels-last: [N, nb, C] */
    /* dgate = sum dy.x over the plane (cpu_dot's value, se_plane); channels-last, from the products' blocks */
    if (c->nhwc) se_blocks_nhwc(c, dy, x, part, N, C, HW);
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (long pl = 0; pl < planes; pl++) {
        const float g = gate[pl];
        const double dgate = c->nhwc ? se_total(part, nb, C, (int)(pl / C), (int)(pl % C))
                                     : se_plane(dy + (size_t)pl * HW, x + (size_t)pl * HW, HW);
        dzb[pl] = (float)(dgate * g * (1.0 - g));
    }
    for (int ch = 0; ch < C; ch++)
        for (int r = 0; r < Cr; r++) {
            double s = 0;
            for (int n = 0; n < N; n++) s += (double)dzb[(size_t)n * C + ch] * hid[(size_t)n * Cr + r];
            dwb[(size_t)ch * Cr + r] += (float)s;
        }
    for (int n = 0; n < N; n++)
        for (int r = 0; r < Cr; r++) {
            double s = 0;
            for (int ch = 0; ch < C; ch++) s += (double)dzb[(size_t)n * C + ch] * wb[(size_t)ch * Cr + r];
            dza[(size_t)n * Cr + r] = hid[(size_t)n * Cr + r] > 0 ? (float)s : 0.0f;
        }
    for (int r = 0; r < Cr; r++)
        for (int ch = 0; ch < C; ch++) {
            double s = 0;
            for (int n = 0; n < N; n++) s += (double)dza[(size_t)n * Cr + r] * pool[(size_t)n * C + ch];
            dwa[(size_t)r * C + ch] += (float)s;
        }
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++) {
            double s = 0;
            for (int r = 0; r < Cr; r++) s += (double)dza[(size_t)n * Cr + r] * wa[(size_t)r * C + ch];
            dpool[(size_t)n * C + ch] = (float)(s / HW);
        }
    if (c->nhwc) { /* dy, dx [N,HW,C]: dx = dy * gate + dpool of its channel, vectorised over channels */
        const long P = (long)N * HW;
#pragma omp parallel for num_threads(c->threads) schedule(static)
        for (long p = 0; p < P; p++) {
            const float *g = gate + (size_t)(p / HW) * C, *dp = dpool + (size_t)(p / HW) * C; /* [C] */
            const float *d = dy + (size_t)p * C;
            float *o = dx + (size_t)p * C;
            if (acc) {
#pragma omp simd
                for (int j = 0; j < C; j++) o[j] += d[j] * g[j] + dp[j];
            } else {
#pragma omp simd
                for (int j = 0; j < C; j++) o[j] = d[j] * g[j] + dp[j];
            }
        }
        return;
    }
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (long pl = 0; pl < planes; pl++) {
        const float g = gate[pl], dp = dpool[pl], *d = dy + (size_t)pl * HW;
        float *o = dx + (size_t)pl * HW;
        if (acc) {
#pragma omp simd
            for (int i = 0; i < HW; i++) o[i] += d[i] * g + dp;
        } else {
#pragma omp simd
            for (int i = 0; i < HW; i++) o[i] = d[i] * g + dp;
        }
    }
}
