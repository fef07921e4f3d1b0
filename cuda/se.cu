/* se.cu: squeeze-and-excitation (lib/backend/backend.h):
 *   pool[N,C] = mean_HW x; hid[N,Cr] = relu(pool wa^T); gate[N,C] = sigmoid(hid wb^T); y = x * gate.
 * wa [Cr,C], wb [C,Cr]. The plane sums are block reductions in double (one block per plane) that finish
 * their own value (the mean, or the gate's gradient); the two small dense layers of an image run in one
 * block (the hidden layer in shared memory), one thread per output, summing in double in the CPU backend's
 * order; the two weight gradients share a launch. Forward 3 launches, backward 4 (they were 5 and 7), with
 * the same float results as the separate kernels had. */
#include <math.h>
#include "cu.h"

/* pool[pl] = mean of x over the plane pl, planes [0, planes): one block per plane (strided), the sum in
 * double by cu_block_sum */
__global__ static void se_pool(const float *x, int HW, long planes, float *pool) {
    __shared__ double sh[32];
    for (long pl = blockIdx.x; pl < planes; pl += gridDim.x) {
        const float *xp = x + (size_t)pl * HW;
        double s = 0;
        for (int i = threadIdx.x; i < HW; i += CU_THREADS) s += (double)xp[i];
        s = cu_block_sum(s, sh);
        if (threadIdx.x == 0) pool[pl] = (float)(s / HW);
    }
}

static unsigned plane_blocks(long planes) {
    return (unsigned)(planes < 1 ? 1 : planes > 65535 ? 65535 : planes);
}

/* the two dense layers of image n (one block per image, hid in dynamic shared memory [Cr]):
 * hid[n,r] = relu(sum_c pool[n,c] wa[r,c]); gate[n,c] = sigmoid(sum_r hid[n,r] wb[c,r]), each sum in double
 * in the CPU backend's order */
__global__ static void se_dense(const float *pool, const float *wa, const float *wb, float *hid, float *gate, int C,
                                int Cr) {
    extern __shared__ float hs[];
    const int n = blockIdx.x;
    const float *pn = pool + (size_t)n * C;
    for (int r = threadIdx.x; r < Cr; r += blockDim.x) {
        double s = 0;
        for (int ch = 0; ch < C; ch++) s += (double)pn[ch] * wa[(size_t)r * C + ch];
        const float h = s > 0 ? (float)s : 0.0f;
        hs[r] = h;
        hid[(size_t)n * Cr + r] = h;
    }
    __syncthreads();
    for (int ch = threadIdx.x; ch < C; ch += blockDim.x) {
        double s = 0;
        for (int r = 0; r < Cr; r++) s += (double)hs[r] * wb[(size_t)ch * Cr + r];
        gate[(size_t)n * C + ch] = (float)(1.0 / (1.0 + exp(-s)));
    }
}

/* y = x * gate[plane] */
__global__ static void se_scale(const float *x, const float *gate, float *y, int HW, size_t n) {
    for (size_t i = (size_t)blockIdx.x * CU_THREADS + threadIdx.x; i < n; i += (size_t)gridDim.x * CU_THREADS)
        y[i] = x[i] * gate[i / HW];
}

/* Three launches: the plane means, both dense layers per image, the scaling. */
void cu_se_fwd(void *ctx, const float *x, const float *wa, const float *wb, float *y,
               float *pool, float *hid, float *gate, int N, int C, int HW, int Cr) {
    cu_ctx *c = cu_enter(ctx);
    const long planes = (long)N * C;
    if (planes < 1 || HW < 1 || Cr < 1) return;
    se_pool<<<plane_blocks(planes), CU_THREADS, 0, c->stream>>>(x, HW, planes, pool);
    KCHECK();
    se_dense<<<(unsigned)N, CU_THREADS, (size_t)Cr * sizeof(float), c->stream>>>(pool, wa, wb, hid, gate, C, Cr);
    KCHECK();
    const size_t n = (size_t)planes * HW;
    se_scale<<<cu_blocks(n), CU_THREADS, 0, c->stream>>>(x, gate, y, HW, n);
    KCHECK();
}

/* dzb[pl] = (sum over the plane of dy*x) * g * (1-g), one block per plane (strided) */
__global__ static void se_dgate(const float *dy, const float *x, const float *gate, int HW, long planes, float *dzb) {
    __shared__ double sh[32];
    for (long pl = blockIdx.x; pl < planes; pl += gridDim.x) {
        const float *dp = dy + (size_t)pl * HW, *xp = x + (size_t)pl * HW;
        double s = 0;
        for (int i = threadIdx.x; i < HW; i += CU_THREADS) s += (double)dp[i] * xp[i];
        s = cu_block_sum(s, sh);
        if (threadIdx.x == 0) {
            const float g = gate[pl];
            dzb[pl] = (float)(s * g * (1.0 - g));
        }
    }
}

/* image n (one block each, dza in dynamic shared memory [Cr]):
 * dza[n,r] = hid[n,r] > 0 ? sum_c dzb[n,c] wb[c,r] : 0;  dpool[n,c] = sum_r dza[n,r] wa[r,c] / HW */
__global__ static void se_dhidden(const float *dzb, const float *wa, const float *wb, const float *hid, float *dza,
                                  float *dpool, int C, int Cr, int HW) {
    extern __shared__ float ds[];
    const int n = blockIdx.x;
    const float *zn = dzb + (size_t)n * C;
    for (int r = threadIdx.x; r < Cr; r += blockDim.x) {
        double s = 0;
        for (int ch = 0; ch < C; ch++) s += (double)zn[ch] * wb[(size_t)ch * Cr + r];
        const float d = hid[(size_t)n * Cr + r] > 0 ? (float)s : 0.0f;
        ds[r] = d;
        dza[(size_t)n * Cr + r] = d;
    }
    __syncthreads();
    for (int ch = threadIdx.x; ch < C; ch += blockDim.x) {
        double s = 0;
        for (int r = 0; r < Cr; r++) s += (double)ds[r] * wa[(size_t)r * C + ch];
        dpool[(size_t)n * C + ch] = (float)(s / HW);
    }
}

/* both weight gradients in one launch: i < C*Cr: dwb[c,r] += sum_n dzb[n,c] hid[n,r];
 * else dwa[r,c] += sum_n dza[n,r] pool[n,c] (i - C*Cr = r*C + c) */
__global__ static void se_dw(const float *dzb, const float *hid, const float *dza, const float *pool, float *dwa,
                             float *dwb, int N, int C, int Cr) {
    const int i = blockIdx.x * blockDim.x + threadIdx.x, nb = C * Cr;
    if (i < nb) {
        const int ch = i / Cr, r = i % Cr;
        double s = 0;
        for (int n = 0; n < N; n++) s += (double)dzb[(size_t)n * C + ch] * hid[(size_t)n * Cr + r];
        dwb[i] += (float)s;
    } else if (i < 2 * nb) {
        const int k = i - nb, r = k / C, ch = k % C;
        double s = 0;
        for (int n = 0; n < N; n++) s += (double)dza[(size_t)n * Cr + r] * pool[(size_t)n * C + ch];
        dwa[k] += (float)s;
    }
}

/* dx (=|+=) dy * gate + dpool, per plane */
__global__ static void se_dx(const float *dy, const float *gate, const float *dpool, float *dx, int HW, size_t n,
                             int acc) {
    for (size_t i = (size_t)blockIdx.x * CU_THREADS + threadIdx.x; i < n; i += (size_t)gridDim.x * CU_THREADS) {
        const size_t pl = i / HW;
        const float g = dy[i] * gate[pl] + dpool[pl];
        dx[i] = acc ? dx[i] + g : g;
    }
}

/* Four launches: dzb per plane, dza and dpool per image, both weight gradients, dx. */
void cu_se_bwd(void *ctx, const float *x, const float *dy, const float *wa, const float *wb,
               const float *pool, const float *hid, const float *gate,
               float *dx, float *dwa, float *dwb, int N, int C, int HW, int Cr, int acc) {
    cu_ctx *c = cu_enter(ctx);
    const long planes = (long)N * C;
    if (planes < 1 || HW < 1 || Cr < 1) return;
    float *dzb = (float *)cu_scratch(c, CU_SCR_SE, ((size_t)planes * 2 + (size_t)N * Cr) * sizeof(float));
    float *dpool = dzb + planes, *dza = dpool + planes;
    se_dgate<<<plane_blocks(planes), CU_THREADS, 0, c->stream>>>(dy, x, gate, HW, planes, dzb);
    KCHECK();
    se_dhidden<<<(unsigned)N, CU_THREADS, (size_t)Cr * sizeof(float), c->stream>>>(dzb, wa, wb, hid, dza, dpool, C, Cr,
                                                                                    HW);
    KCHECK();
    const long nw = 2L * C * Cr;
    se_dw<<<(unsigned)((nw + CU_THREADS - 1) / CU_THREADS), CU_THREADS, 0, c->stream>>>(dzb, hid, dza, pool, dwa, dwb,
                                                                                        N, C, Cr);
    KCHECK();
    const size_t n = (size_t)planes * HW;
    se_dx<<<cu_blocks(n), CU_THREADS, 0, c->stream>>>(dy, gate, dpool, dx, HW, n, acc);
    KCHECK();
}
