/* loss.c: the soft Dice loss and the sum of squares on the CPU, summed in double over fixed blocks
 * (deterministic, independent of the thread count). */
#include <math.h>
#include <stdlib.h>
#include "cpu.h"

/* loss = 1 - mean_n d_n, d_n = (2 I_n + s)/(S_n + s), I_n = sum p t, S_n = sum p + sum t;
 * dp[n,i] = -(1/N) (2 t_i (S_n + s) - (2 I_n + s)) / (S_n + s)^2 */
float cpu_dice_loss(void *ctx, const float *p, const float *t, float *dp, int N, int HW, float smooth) {
    cpu_ctx *c = ctx;
    double total = 0;
    for (int n = 0; n < N; n++) {
        const float *pn = p + (size_t)n * HW, *tn = t + (size_t)n * HW;
        double I = cpu_dot(pn, tn, (size_t)HW);
        double S = cpu_sum(pn, (size_t)HW) + cpu_sum(tn, (size_t)HW);
        double num = 2 * I + smooth, den = S + smooth;
        total += num / den;
        if (dp) {
            const float a = (float)(-2.0 / (N * den)), b = (float)(num / (N * den * den));
            float *dn = dp + (size_t)n * HW;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (HW >= 32768)
            for (int i = 0; i < HW; i++) dn[i] = a * tn[i] + b;
        }
    }
    return (float)(1.0 - total / N);
}

#define SSQ_CHUNK 65536

double cpu_sumsq(void *ctx, const float *x, size_t n) {
    cpu_ctx *c = ctx;
    const size_t chunks = (n + SSQ_CHUNK - 1) / SSQ_CHUNK;
    if (chunks <= 1) return cpu_dot(x, x, n);
    double *part = malloc(chunks * sizeof *part);
    if (!part) {
        c->oom = chunks * sizeof *part;
        return NAN;
    }
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (size_t i = 0; i < chunks; i++) {
        size_t i0 = i * SSQ_CHUNK, m = n - i0 < SSQ_CHUNK ? n - i0 : SSQ_CHUNK;
        part[i] = cpu_dot(x + i0, x + i0, m);
    }
    double s = 0;
    for (size_t i = 0; i < chunks; i++) s += part[i];
    free(part);
    return s;
}
