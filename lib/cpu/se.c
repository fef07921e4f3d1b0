/* se.c: squeeze-and-excitation on the CPU.
 * pool[N,C] = mean_HW x; hid[N,Cr] = relu(pool wa^T); gate[N,C] = sigmoid(hid wb^T); y = x * gate.
 * wa [Cr,C], wb [C,Cr]. The small dense layers are summed in double, sequentially (deterministic).
 * Channels-last (set_nhwc): x, y, dy, dx [N,HW,C]; pool, hid, gate and the weights' gradients as in NCHW,
 * every value with the same bits. */
#include <math.h>
#include <stddef.h>
#include <omp.h>
#include "cpu.h"

/* The pooled sums (and the backward's dot products dy.x), in one order that both layouts keep: cpu_sum's
 * (cpu_dot's; cpu.h, CPU_SUM_LANES), per (image, channel), the blocks' floats added in order to a double;
 * pool = (float)(total / HW). Channels last, chsum.c's blocks in that order. */

/* channels-last pooling: x [N,HW,C] -> pool [N,C]; each block's per-channel float into part [N, nb, C]
 * (chsum.c), then summed in block order per (image, channel). 0, or -1 when the workspace could not be had */
static int se_pool_nhwc(cpu_ctx *c, const float *x, float *pool, int N, int C, int HW) {
    const int nb = cpu_sum_blocks(HW);
    if (cpu_reserve(c, (size_t)N * nb * C)) return -1; /* error() */
    float *part = cpu_ws(c, 0); /* [N, nb, C] */
    const cpu_chsum t = {CPU_CHSUM_X, x, NULL, NULL, NULL, NULL};
    cpu_chsum_blocks(&t, part, NULL, N, C, HW, c->threads);
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (long pl = 0; pl < (long)N * C; pl++)
        pool[pl] = (float)(cpu_chsum_plane(part, (int)(pl / C), nb, C, (int)(pl % C)) / HW);
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
        for (long pl = 0; pl < planes; pl++) pool[pl] = (float)(cpu_sum(x + (size_t)pl * HW, (size_t)HW) / HW);
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
    const int nb = cpu_sum_blocks(HW);
    /* workspace: dz_b [N,C] (d pre-sigmoid), dpool [N,C], dz_a [N,Cr] (d pre-relu); channels-last, then
     * part [N, nb, C] (chsum.c's blocks of the products) */
    if (cpu_reserve(c, (size_t)planes * 2 + (size_t)N * Cr + (c->nhwc ? (size_t)N * nb * C : 0))) return;
    float *dzb = cpu_ws(c, 0);
    float *dpool = dzb + planes, *dza = dpool + planes;
    float *part = dza + (size_t)N * Cr; /* channels-last: [N, nb, C] */
    /* dgate = sum dy.x over the plane (cpu_dot); channels-last, from the products' blocks */
    if (c->nhwc) {
        const cpu_chsum t = {CPU_CHSUM_DOT, x, dy, NULL, NULL, NULL};
        cpu_chsum_blocks(&t, part, NULL, N, C, HW, c->threads);
    }
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (long pl = 0; pl < planes; pl++) {
        const float g = gate[pl];
        const double dgate = c->nhwc ? cpu_chsum_plane(part, (int)(pl / C), nb, C, (int)(pl % C))
                                     : cpu_dot(dy + (size_t)pl * HW, x + (size_t)pl * HW, (size_t)HW);
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
