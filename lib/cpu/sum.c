/* sum.c: sums and dot products of float arrays in double, blocked so that the compiler vectorises
 * each block (a leaf of the CPU backend: the op files use them). */
#include <stddef.h>
#include "cpu.h"

double cpu_sum(const float *x, size_t n) {
    double total = 0;
    for (size_t i0 = 0; i0 < n; i0 += CPU_SUM_BLOCK) {
        size_t m = n - i0 < CPU_SUM_BLOCK ? n - i0 : CPU_SUM_BLOCK;
        const float *p = x + i0;
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (size_t i = 0; i < m; i++) s += p[i];
        total += s;
    }
    return total;
}

double cpu_dot(const float *a, const float *b, size_t n) {
    double total = 0;
    for (size_t i0 = 0; i0 < n; i0 += CPU_SUM_BLOCK) {
        size_t m = n - i0 < CPU_SUM_BLOCK ? n - i0 : CPU_SUM_BLOCK;
        const float *p = a + i0, *q = b + i0;
        float s = 0;
#pragma omp simd reduction(+ : s)
        for (size_t i = 0; i < m; i++) s += p[i] * q[i];
        total += s;
    }
    return total;
}
