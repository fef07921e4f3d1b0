/* adam.c: the Adam update on the CPU (elementwise, deterministic). */
#include <math.h>
#include "cpu.h"

/* g' = g + 2*l2*w; m = b1 m + (1-b1) g'; v = b2 v + (1-b2) g'^2;
 * w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps) */
void cpu_adam(void *ctx, float *w, const float *g, float *m, float *v, size_t n, float lr,
              float b1, float b2, float eps, float l2, long t) {
    cpu_ctx *c = ctx;
    const float bc1 = (float)(1.0 - pow(b1, (double)t)), bc2 = (float)(1.0 - pow(b2, (double)t));
    const float l2x2 = 2.0f * l2, nb1 = 1.0f - b1, nb2 = 1.0f - b2;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (n >= 32768)
    for (size_t i = 0; i < n; i++) {
        float gi = g[i] + l2x2 * w[i];
        float mi = b1 * m[i] + nb1 * gi;
        float vi = b2 * v[i] + nb2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] -= lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    }
}
