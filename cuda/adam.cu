/* adam.cu: the Adam update (lib/backend/backend.h), elementwise, the CPU backend's float expressions. */
#include <math.h>
#include "cu.h"

__global__ static void adam_kernel(float *w, const float *g, float *m, float *v, size_t n, float lr, float b1,
                                   float b2, float eps, float l2x2, float bc1, float bc2) {
    const float nb1 = 1.0f - b1, nb2 = 1.0f - b2;
    for (size_t i = (size_t)blockIdx.x * CU_THREADS + threadIdx.x; i < n; i += (size_t)gridDim.x * CU_THREADS) {
        const float wi = w[i];
        const float gi = g[i] + l2x2 * wi;
        const float mi = b1 * m[i] + nb1 * gi;
        const float vi = b2 * v[i] + nb2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = wi - lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
    }
}

void cu_adam(void *ctx, float *w, const float *g, float *m, float *v, size_t n, float lr,
             float b1, float b2, float eps, float l2, long t) {
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    const float bc1 = (float)(1.0 - pow(b1, (double)t)), bc2 = (float)(1.0 - pow(b2, (double)t));
    adam_kernel<<<cu_blocks(n), CU_THREADS, 0, c->stream>>>(w, g, m, v, n, lr, b1, b2, eps, 2.0f * l2, bc1, bc2);
    KCHECK();
}
