/* sum.c: sums and dot products of float arrays in double, in one order that the code spells out (cpu.h,
 * CPU_SUM_LANES: float lanes over blocks of CPU_SUM_BLOCK values, the blocks' floats added in order to a
 * double), the order in which GCC had vectorised these sums for x86-64 before it was written down, so that
 * no trained model or recipe moved, and that every build keeps (an -O0 or sanitised build had vectorised
 * them otherwise) and that the channels-last sums (chsum.c) reproduce. A leaf of the CPU backend: the op
 * files use them. */
#include <stddef.h>
#include "cpu.h"

enum { SUM_X, SUM_DOT, SUM_DEV2, SUM_DYX };

/* the term of value i: x, x*y, (x-mu)^2, x*(y-mu) (norm.c's dy*(x-mean): x = dy, y = x) */
static inline float term(int kind, const float *x, const float *y, float mu, size_t i) {
    return kind == SUM_X ? x[i] : kind == SUM_DOT ? x[i] * y[i] : kind == SUM_DEV2 ? (x[i] - mu) * (x[i] - mu)
                                                                                  : x[i] * (y[i] - mu);
}

/* the float sum of the terms of one block of m <= CPU_SUM_BLOCK values: lane j the values i < q (q = m
 * rounded down to a multiple of CPU_SUM_LANES) with i % CPU_SUM_LANES == j, lane 0 those from q on */
static inline __attribute__((always_inline)) float block(int kind, const float *x, const float *y, float mu,
                                                         size_t m) {
    float l[CPU_SUM_LANES] = {0};
    const size_t q = m / CPU_SUM_LANES * CPU_SUM_LANES;
    for (size_t i = 0; i < q; i += CPU_SUM_LANES) {
#pragma omp simd
        for (int j = 0; j < CPU_SUM_LANES; j++) l[j] += term(kind, x, y, mu, i + j); /* elementwise */
    }
    for (size_t i = q; i < m; i++) l[0] += term(kind, x, y, mu, i);
    return cpu_sum_lanes(l[0], l[1], l[2], l[3]);
}

/* *acc += each block's float sum, in order */
static inline __attribute__((always_inline)) void blocks(int kind, double *acc, const float *x, const float *y,
                                                          float mu, size_t n) {
    for (size_t i0 = 0; i0 < n; i0 += CPU_SUM_BLOCK)
        *acc += block(kind, x + i0, y ? y + i0 : NULL, mu, n - i0 < CPU_SUM_BLOCK ? n - i0 : CPU_SUM_BLOCK);
}

double cpu_sum(const float *x, size_t n) {
    double total = 0;
    blocks(SUM_X, &total, x, NULL, 0, n);
    return total;
}

double cpu_dot(const float *a, const float *b, size_t n) {
    double total = 0;
    blocks(SUM_DOT, &total, a, b, 0, n);
    return total;
}

void cpu_acc_dev2(double *acc, const float *x, size_t n, float mu) { blocks(SUM_DEV2, acc, x, NULL, mu, n); }

void cpu_acc_dyx(double *acc, const float *dy, const float *x, size_t n, float mu) {
    blocks(SUM_DYX, acc, dy, x, mu, n);
}
