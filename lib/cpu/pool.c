/* pool.c: 2x2 max pooling and the channel-broadcast product (attention gates) on the CPU.
 * Each output element depends on its own inputs only, summed in a fixed order: deterministic.
 * Channels-last (set_nhwc): the activations [N,H,W,C] (a and da [N,1,HW] in both layouts), every value
 * with the bits of NCHW, vectorised over channels. */
#include <string.h>
#include "backend/backend.h"
#include "cpu.h"

#define PAR_MIN 32768 /* below this many elements one thread is faster */

/* x [N,C,H,W] -> y [N,C,H/2,W/2]; channels-last (set_nhwc): x [N,H,W,C] -> y [N,H/2,W/2,C], the same
 * comparisons in the same order per channel (NaN and ties as in NCHW), vectorised over channels */
void cpu_pool2_fwd(void *ctx, const float *x, float *y, int N, int C, int H, int W) {
    cpu_ctx *c = ctx;
    if (c->nhwc) {
        const int Ho = H / 2, Wo = W / 2;
        const long rows = (long)N * Ho;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (rows * 4 * Wo * C >= PAR_MIN)
        for (long r = 0; r < rows; r++) { /* output row h = r % Ho of image r / Ho: input rows 2h, 2h + 1 */
            const float *x0 = x + ((size_t)(r / Ho) * H + (size_t)2 * (r % Ho)) * W * C, *x1 = x0 + (size_t)W * C;
            float *yr = y + (size_t)r * Wo * C;
            for (int w = 0; w < Wo; w++) {
                const float *a = x0 + (size_t)2 * w * C, *b = a + C, *d = x1 + (size_t)2 * w * C, *e = d + C;
                float *o = yr + (size_t)w * C;
#pragma omp simd
                for (int j = 0; j < C; j++) {
                    float m = a[j];
                    if (b[j] > m) m = b[j];
                    if (d[j] > m) m = d[j];
                    if (e[j] > m) m = e[j];
                    o[j] = m;
                }
            }
        }
        return;
    }
    const long planes = (long)N * C;
    const int Ho = H / 2, Wo = W / 2;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (planes * H * W >= PAR_MIN)
    for (long pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * H * W;
        float *yp = y + (size_t)pl * Ho * Wo;
        for (int h = 0; h < Ho; h++) {
            const float *r0 = xp + (size_t)2 * h * W, *r1 = r0 + W;
            float *o = yp + (size_t)h * Wo;
            for (int w = 0; w < Wo; w++) {
                float m = r0[2 * w];
                if (r0[2 * w + 1] > m) m = r0[2 * w + 1];
                if (r1[2 * w] > m) m = r1[2 * w];
                if (r1[2 * w + 1] > m) m = r1[2 * w + 1];
                o[w] = m;
            }
        }
    }
}

/* one window of the channels-last pool2_bwd: x rows a, b (top), d, e (bottom) [C] each, their dx ga, gb, gd, ge,
 * dq [C] the window's dy: per channel the first maximum (NCHW's comparisons) gets (acc ? its dx : 0) + dy, the
 * others keep their dx (acc) or get 0 (NCHW's memset, then += at the maximum only) */
static inline void pool2_bwd_window(const float *a, const float *b, const float *d, const float *e, const float *dq,
                                    float *ga, float *gb, float *gd, float *ge, int C, int acc) {
#pragma omp simd
    for (int j = 0; j < C; j++) {
        float m = a[j];
        int k = 0;
        if (b[j] > m) m = b[j], k = 1;
        if (d[j] > m) m = d[j], k = 2;
        if (e[j] > m) k = 3;
        const float g = dq[j], va = acc ? ga[j] : 0.0f, vb = acc ? gb[j] : 0.0f, vd = acc ? gd[j] : 0.0f,
                    ve = acc ? ge[j] : 0.0f;
        ga[j] = k == 0 ? va + g : va;
        gb[j] = k == 1 ? vb + g : vb;
        gd[j] = k == 2 ? vd + g : vd;
        ge[j] = k == 3 ? ve + g : ve;
    }
}

/* dy [N,C,H/2,W/2] -> dx [N,C,H,W]: each dy to the first maximum of its window (row-major), dx zeroed first
 * (not with acc), so an odd H or W leaves the last row or column 0 (or as it was); channels-last (set_nhwc):
 * x, dx [N,H,W,C], dy [N,H/2,W/2,C], the same comparisons and sums per channel */
void cpu_pool2_bwd(void *ctx, const float *x, const float *dy, float *dx, int N, int C, int H, int W, int acc) {
    cpu_ctx *c = ctx;
    if (c->nhwc) {
        const int Ho = H / 2, Wo = W / 2, Hg = (H + 1) / 2; /* row groups: the pairs, then an odd last row */
        const size_t rs = (size_t)W * C;                     /* one row of x or dx [W,C] */
        const long groups = (long)N * Hg;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (groups * 2 * rs >= PAR_MIN)
        for (long r = 0; r < groups; r++) { /* rows 2h, 2h + 1 (h = r % Hg) of image r / Hg */
            const int n = (int)(r / Hg), h = (int)(r % Hg);
            const size_t o0 = ((size_t)n * H + (size_t)2 * h) * rs;
            float *g0 = dx + o0, *g1 = g0 + rs;
            if (h == Ho) { /* H odd: the last row, in no window */
                if (!acc) memset(g0, 0, rs * sizeof *g0);
                continue;
            }
            const float *x0 = x + o0, *x1 = x0 + rs, *dr = dy + ((size_t)n * Ho + h) * Wo * C; /* [Wo,C] */
            for (int w = 0; w < Wo; w++) {
                const size_t o = (size_t)2 * w * C;
                pool2_bwd_window(x0 + o, x0 + o + C, x1 + o, x1 + o + C, dr + (size_t)w * C, g0 + o, g0 + o + C,
                                 g1 + o, g1 + o + C, C, acc);
            }
            if (W % 2 && !acc) { /* W odd: the last column, in no window */
                memset(g0 + rs - C, 0, (size_t)C * sizeof *g0);
                memset(g1 + rs - C, 0, (size_t)C * sizeof *g1);
            }
        }
        return;
    }
    const long planes = (long)N * C;
    const int Ho = H / 2, Wo = W / 2;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (planes * H * W >= PAR_MIN)
    for (long pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * H * W, *dp = dy + (size_t)pl * Ho * Wo;
        float *gp = dx + (size_t)pl * H * W;
        if (!acc) memset(gp, 0, sizeof *gp * (size_t)H * W);
        for (int h = 0; h < Ho; h++) {
            const float *r0 = xp + (size_t)2 * h * W, *r1 = r0 + W;
            float *g0 = gp + (size_t)2 * h * W, *g1 = g0 + W;
            for (int w = 0; w < Wo; w++) {
                float m = r0[2 * w], *at = &g0[2 * w];
                if (r0[2 * w + 1] > m) m = r0[2 * w + 1], at = &g0[2 * w + 1];
                if (r1[2 * w] > m) m = r1[2 * w], at = &g1[2 * w];
                if (r1[2 * w + 1] > m) at = &g1[2 * w + 1];
                *at += dp[(size_t)h * Wo + w];
            }
        }
    }
}

/* y[n,c,:] = x[n,c,:] * a[n,:]; channels-last (set_nhwc): y[p,c] = x[p,c] * a[p] over the N*HW pixels p
 * (a [N,1,HW] the same in both layouts) */
void cpu_cmul_fwd(void *ctx, const float *x, const float *a, float *y, int N, int C, int HW) {
    cpu_ctx *c = ctx;
    if (c->nhwc) {
        const long P = (long)N * HW;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (P * C >= PAR_MIN)
        for (long p = 0; p < P; p++) {
            const float s = a[p], *xp = x + (size_t)p * C;
            float *yp = y + (size_t)p * C;
#pragma omp simd
            for (int j = 0; j < C; j++) yp[j] = xp[j] * s;
        }
        return;
    }
    const long planes = (long)N * C;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (planes * HW >= PAR_MIN)
    for (long pl = 0; pl < planes; pl++) {
        const float *xp = x + (size_t)pl * HW, *ap = a + (size_t)(pl / C) * HW;
        float *yp = y + (size_t)pl * HW;
#pragma omp simd
        for (int i = 0; i < HW; i++) yp[i] = xp[i] * ap[i];
    }
}

#define CMUL_PB 64 /* pixels per item of the channels-last cmul_bwd */

/* dx = dy * a (= or += by acc_x); da = (acc_a ? da : 0) + dy * x channel by channel in increasing order, in
 * float; channels-last (set_nhwc): x, dy, dx [P,C] (P = N*HW), a, da [P]: the same values, items of
 * CMUL_PB pixels in parallel, da vectorised over the item's pixels */
void cpu_cmul_bwd(void *ctx, const float *x, const float *a, const float *dy, float *dx, float *da,
                  int N, int C, int HW, int acc_x, int acc_a) {
    cpu_ctx *c = ctx;
    if (c->nhwc) {
        const long P = (long)N * HW, items = (P + CMUL_PB - 1) / CMUL_PB;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (P * C >= PAR_MIN)
        for (long it = 0; it < items; it++) {
            const long p0 = it * CMUL_PB;
            const int m = P - p0 < CMUL_PB ? (int)(P - p0) : CMUL_PB;
            const float *xp = x + (size_t)p0 * C, *dp = dy + (size_t)p0 * C; /* [m,C] */
            float *gp = dx + (size_t)p0 * C;                                  /* [m,C] */
            for (int i = 0; i < m; i++) {
                const float s = a[p0 + i], *d = dp + (size_t)i * C;
                float *o = gp + (size_t)i * C;
                if (acc_x) {
#pragma omp simd
                    for (int j = 0; j < C; j++) o[j] += d[j] * s;
                } else {
#pragma omp simd
                    for (int j = 0; j < C; j++) o[j] = d[j] * s;
                }
            }
            float s[CMUL_PB]; /* [m]: da of the item's pixels */
            for (int i = 0; i < m; i++) s[i] = acc_a ? da[p0 + i] : 0.0f;
            for (int ch = 0; ch < C; ch++) {
#pragma omp simd
                for (int i = 0; i < m; i++) s[i] += dp[(size_t)i * C + ch] * xp[(size_t)i * C + ch];
            }
            memcpy(da + p0, s, sizeof *s * (size_t)m);
        }
        return;
    }
    const long planes = (long)N * C;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (planes * HW >= PAR_MIN)
    for (long pl = 0; pl < planes; pl++) {
        const float *dp = dy + (size_t)pl * HW, *ap = a + (size_t)(pl / C) * HW;
        float *gp = dx + (size_t)pl * HW;
        if (acc_x) {
#pragma omp simd
            for (int i = 0; i < HW; i++) gp[i] += dp[i] * ap[i];
        } else {
#pragma omp simd
            for (int i = 0; i < HW; i++) gp[i] = dp[i] * ap[i];
        }
    }
    /* da: per image, a sum over channels; split the pixels across threads */
    for (int n = 0; n < N; n++) {
        const float *xp = x + (size_t)n * C * HW, *dp = dy + (size_t)n * C * HW;
        float *g = da + (size_t)n * HW;
#pragma omp parallel for num_threads(c->threads) schedule(static) if ((long)C * HW >= PAR_MIN)
        for (int i0 = 0; i0 < HW; i0 += 256) {
            int m = HW - i0 < 256 ? HW - i0 : 256;
            float s[256];
            for (int i = 0; i < m; i++) s[i] = acc_a ? g[i0 + i] : 0.0f;
            for (int ch = 0; ch < C; ch++) {
                const float *xr = xp + (size_t)ch * HW + i0, *dr = dp + (size_t)ch * HW + i0;
#pragma omp simd
                for (int i = 0; i < m; i++) s[i] += dr[i] * xr[i];
            }
            memcpy(g + i0, s, sizeof *s * (size_t)m);
        }
    }
}
