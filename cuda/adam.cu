/* adam.cu: the Adam update (lib/backend/backend.h), elementwise, the CPU backend's float expressions: adam over
 * one range, adam_segs over the whole parameter allocation in one kernel (each element finds its segment's
 * L2 penalty by a binary search in the segment table, which stays on the device while it is unchanged). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "cu.h"

static __device__ __forceinline__ void adam_one(float *w, const float *g, float *m, float *v, size_t i, float lr,
                                                float b1, float b2, float eps, float l2x2, float bc1, float bc2) {
    const float nb1 = 1.0f - b1, nb2 = 1.0f - b2;
    const float wi = w[i];
    const float gi = g[i] + l2x2 * wi;
    const float mi = b1 * m[i] + nb1 * gi;
    const float vi = b2 * v[i] + nb2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] = wi - lr * (mi / bc1) / (sqrtf(vi / bc2) + eps);
}

__global__ static void adam_kernel(float *w, const float *g, float *m, float *v, size_t n, float lr, float b1,
                                   float b2, float eps, float l2x2, float bc1, float bc2) {
    for (size_t i = (size_t)blockIdx.x * CU_THREADS + threadIdx.x; i < n; i += (size_t)gridDim.x * CU_THREADS)
        adam_one(w, g, m, v, i, lr, b1, b2, eps, l2x2, bc1, bc2);
}

/* off[nseg] segment starts (increasing, off[0] = 0), l2x2[nseg] twice their penalties */
__global__ static void adam_segs_kernel(float *w, const float *g, float *m, float *v, size_t n, const size_t *off,
                                        const float *l2x2, int nseg, float lr, float b1, float b2, float eps, float bc1,
                                        float bc2) {
    for (size_t i = (size_t)blockIdx.x * CU_THREADS + threadIdx.x; i < n; i += (size_t)gridDim.x * CU_THREADS) {
        int lo = 0, hi = nseg - 1; /* the last segment starting at or before i */
        while (lo < hi) {
            const int mid = (lo + hi + 1) / 2;
            if (off[mid] <= i) lo = mid;
            else hi = mid - 1;
        }
        adam_one(w, g, m, v, i, lr, b1, b2, eps, l2x2[lo], bc1, bc2);
    }
}

static void bias_corrections(float b1, float b2, long t, float *bc1, float *bc2) {
    *bc1 = (float)(1.0 - pow(b1, (double)t));
    *bc2 = (float)(1.0 - pow(b2, (double)t));
}

void cu_adam(void *ctx, float *w, const float *g, float *m, float *v, size_t n, float lr,
             float b1, float b2, float eps, float l2, long t) {
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    float bc1, bc2;
    bias_corrections(b1, b2, t, &bc1, &bc2);
    cu_written(c, w, n * sizeof(float));
    adam_kernel<<<cu_blocks(n), CU_THREADS, 0, c->stream>>>(w, g, m, v, n, lr, b1, b2, eps, 2.0f * l2, bc1, bc2);
    KCHECK();
}

void cu_adam_segs(void *ctx, float *w, const float *g, float *m, float *v, size_t n, const size_t *off,
                  const float *l2, int nseg, float lr, float b1, float b2, float eps, long t) {
    if (!n || nseg < 1) return;
    cu_ctx *c = cu_enter(ctx);
    /* the table as the kernel reads it: nseg offsets, then nseg floats 2*l2; uploaded when it changed */
    const size_t bytes = (size_t)nseg * (sizeof(size_t) + sizeof(float));
    int same = c->segs_host && c->segs_n == nseg;
    for (int j = 0; same && j < nseg; j++)
        same = ((const size_t *)c->segs_host)[j] == off[j] &&
               ((const float *)((const size_t *)c->segs_host + nseg))[j] == 2.0f * l2[j];
    if (!same) {
        void *h = realloc(c->segs_host, bytes);
        if (!h) cu_fail("adam_segs", "out of host memory", __FILE__, __LINE__);
        c->segs_host = h;
        c->segs_n = nseg;
        memcpy(h, off, (size_t)nseg * sizeof(size_t));
        float *hl = (float *)((size_t *)h + nseg);
        for (int j = 0; j < nseg; j++) hl[j] = 2.0f * l2[j];
        if (c->segs_dev_cap < bytes) {
            CK(cudaStreamSynchronize(c->stream));
            if (c->segs_dev) CK(cudaFree(c->segs_dev));
            c->segs_dev = NULL;
            c->segs_dev_cap = 0;
            CK(cudaMalloc(&c->segs_dev, bytes));
            c->segs_dev_cap = bytes;
        }
        CK(cudaMemcpyAsync(c->segs_dev, h, bytes, cudaMemcpyHostToDevice, c->stream));
        CK(cudaStreamSynchronize(c->stream)); /* segs_host may change at the next call */
    }
    float bc1, bc2;
    bias_corrections(b1, b2, t, &bc1, &bc2);
    cu_written(c, w, n * sizeof(float));
    const size_t *doff = (const size_t *)c->segs_dev;
    const float *dl2 = (const float *)(doff + nseg);
    adam_segs_kernel<<<cu_blocks(n), CU_THREADS, 0, c->stream>>>(w, g, m, v, n, doff, dl2, nseg, lr, b1, b2, eps,
                                                                   bc1, bc2);
    KCHECK();
}

void cu_adam_free(cu_ctx *c) {
    if (c->segs_dev) cudaFree(c->segs_dev);
    free(c->segs_host);
    c->segs_dev = c->segs_host = NULL;
    c->segs_dev_cap = 0;
    c->segs_n = 0;
}
