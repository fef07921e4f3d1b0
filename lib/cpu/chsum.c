/* chsum.c: per-channel sums of channels-last tensors [N,HW,C] (declared in cpu.h), in the order of the
 * NCHW sums they stand for: cpu_sum's, as GCC vectorises it for x86-64 (cpu.h, CPU_SUM_LANES), which
 * norm.c's inline reductions share. Each (image, block of CPU_SUM_BLOCK pixels, CHSUM_CB channels) is one
 * item of work; its pixels go row by row into CPU_SUM_LANES per-lane arrays of channels, vectorised over
 * the channels, so each channel's lanes get the values that the NCHW loop's lanes get, in the same order:
 * the additions are elementwise across channels, and the bits are the same at every ISA level (compiled
 * per level, CPU_ISA_SRC). The callers then add the blocks' floats in double (cpu_chsum_plane, _nested,
 * _flat). Users: se.c (squeeze-excitation's pooling and its backward's dot products), norm_nhwc.c (the training batch norm, the bias
 * gradient). */
#include <stddef.h>
#include <string.h>
#include "cpu.h"

#define CHSUM_CB 512 /* channels per item at most (the lane arrays' width) */

/* Channels per item: a pixel's whole row where there are items enough for the threads (2 each), else
 * the rows cut into as few blocks of 16 channels as make them. Whole rows measured up to 2.1x faster
 * than blocks of 64 channels where C is not 64 (C 96 to 384: 1.4x-2.1x; the [4][64] lane arrays went
 * through each pixel's row in parts, Intel Xeon AMX, 2 threads, 8 images); the blocks do not change
 * the order of any channel's sums. */
static int chsum_cb(long items, int C, int threads) {
    int ncb = (C + CHSUM_CB - 1) / CHSUM_CB;
    while (items * ncb < 2L * threads && 16 * ncb < C) ncb++;
    const int cb = ((C + ncb - 1) / ncb + 15) / 16 * 16;
    return cb < CHSUM_CB ? cb : CHSUM_CB;
}

/* one pixel row's terms at channels [0, m) (x, dy, mu, scale, shift at the item's first channel) into
 * the lane arrays l1 and l2 [m] */
static inline __attribute__((always_inline)) void chsum_row(const cpu_chsum *t, const float *xp, const float *dp,
                                                            const float *mu, const float *sc, const float *sh,
                                                            float *l1, float *l2, int m) {
    switch (t->kind) {
    case CPU_CHSUM_X:
#pragma omp simd
        for (int j = 0; j < m; j++) l1[j] += xp[j];
        break;
    case CPU_CHSUM_DOT:
#pragma omp simd
        for (int j = 0; j < m; j++) l1[j] += xp[j] * dp[j];
        break;
    case CPU_CHSUM_DEV2:
#pragma omp simd
        for (int j = 0; j < m; j++) {
            const float d = xp[j] - mu[j];
            l1[j] += d * d;
        }
        break;
    case CPU_CHSUM_DY:
#pragma omp simd
        for (int j = 0; j < m; j++) {
            l1[j] += dp[j];
            l2[j] += dp[j] * (xp[j] - mu[j]);
        }
        break;
    default: /* CPU_CHSUM_DY_RELU */
#pragma omp simd
        for (int j = 0; j < m; j++) {
            const float d = cpu_bn_value(xp[j], sc[j], sh[j], 0) > 0 ? dp[j] : 0.0f;
            l1[j] += d;
            l2[j] += d * (xp[j] - mu[j]);
        }
    }
}

void cpu_chsum_blocks(const cpu_chsum *t, float *part, float *part2, int N, int C, int HW, int threads) {
    const int nb = cpu_sum_blocks(HW), cb = chsum_cb((long)N * nb, C, threads), ncb = (C + cb - 1) / cb;
    const int two = t->kind == CPU_CHSUM_DY || t->kind == CPU_CHSUM_DY_RELU;
    const long items = (long)N * nb * ncb;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long it = 0; it < items; it++) {
        const int n = (int)(it / ((long)nb * ncb)), b = (int)(it / ncb % nb), c0 = (int)(it % ncb) * cb;
        const int m = C - c0 < cb ? C - c0 : cb, i0 = b * CPU_SUM_BLOCK;
        const int i1 = HW - i0 < CPU_SUM_BLOCK ? HW : i0 + CPU_SUM_BLOCK;
        const int q = i0 + (i1 - i0) / CPU_SUM_LANES * CPU_SUM_LANES;
        float l1[CPU_SUM_LANES][CHSUM_CB], l2[CPU_SUM_LANES][CHSUM_CB]; /* [lane][channel c0 + j]: the sums,
                                                                         * the second sums */
        for (int ln = 0; ln < CPU_SUM_LANES; ln++) {
            memset(l1[ln], 0, sizeof(float) * (size_t)m);
            if (two) memset(l2[ln], 0, sizeof(float) * (size_t)m);
        }
        const float *mu = t->mu ? t->mu + c0 : NULL, *sc = t->scale ? t->scale + c0 : NULL;
        const float *sh = t->shift ? t->shift + c0 : NULL;
        for (int i = i0; i < i1; i++) { /* pixel i into lane i % CPU_SUM_LANES before q (i0 is a multiple of
                                          * CPU_SUM_LANES), into lane 0 from q on */
            const size_t o = ((size_t)n * HW + i) * C + c0;
            const int ln = i < q ? i % CPU_SUM_LANES : 0;
            chsum_row(t, t->x + o, t->dy ? t->dy + o : NULL, mu, sc, sh, l1[ln], l2[ln], m);
        }
        const size_t o = ((size_t)n * nb + b) * C + c0;
        float *p = part + o;
#pragma omp simd
        for (int j = 0; j < m; j++) p[j] = cpu_sum_lanes(l1[0][j], l1[1][j], l1[2][j], l1[3][j]);
        if (two) {
            p = part2 + o;
#pragma omp simd
            for (int j = 0; j < m; j++) p[j] = cpu_sum_lanes(l2[0][j], l2[1][j], l2[2][j], l2[3][j]);
        }
    }
}
