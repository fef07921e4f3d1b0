/* se.cu: squeeze-and-excitation (lib/backend/backend.h):
 *   pool[N,C] = mean_HW x; hid[N,Cr] = relu(pool wa^T); gate[N,C] = sigmoid(hid wb^T); y = x * gate.
 * wa [Cr,C], wb [C,Cr]. The plane sums are block reductions in double (one block per plane); the small
 * dense layers are one thread per output, summing in double in the CPU backend's order. */
#include <math.h>
#include "cu.h"

/* out[pl] = f(sum over the plane pl of a (times b when b)) for planes [0, planes) */
template <int DOT>
__global__ static void plane_sums(const float *a, const float *b, int HW, long planes, double *out) {
    __shared__ double sh[32];
    for (long pl = blockIdx.x; pl < planes; pl += gridDim.x) {
        const float *ap = a + (size_t)pl * HW, *bp = DOT ? b + (size_t)pl * HW : NULL;
        double s = 0;
        for (int i = threadIdx.x; i < HW; i += CU_THREADS) s += DOT ? (double)ap[i] * bp[i] : (double)ap[i];
        s = cu_block_sum(s, sh);
        if (threadIdx.x == 0) out[pl] = s;
    }
}

static unsigned plane_blocks(long planes) {
    return (unsigned)(planes < 1 ? 1 : planes > 65535 ? 65535 : planes);
}

__global__ static void se_pool_finish(const double *sums, float *pool, int HW, long planes) {
    long pl = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (pl < planes) pool[pl] = (float)(sums[pl] / HW);
}

/* hid[n,r] = relu(sum_c pool[n,c] wa[r,c]) */
__global__ static void se_hidden(const float *pool, const float *wa, float *hid, int N, int C, int Cr) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N * Cr) return;
    const int n = i / Cr, r = i % Cr;
    double s = 0;
    for (int ch = 0; ch < C; ch++) s += (double)pool[(size_t)n * C + ch] * wa[(size_t)r * C + ch];
    hid[i] = s > 0 ? (float)s : 0.0f;
}

/* gate[n,c] = sigmoid(sum_r hid[n,r] wb[c,r]) */
__global__ static void se_gate(const float *hid, const float *wb, float *gate, int N, int C, int Cr) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N * C) return;
    const int n = i / C, ch = i % C;
    double s = 0;
    for (int r = 0; r < Cr; r++) s += (double)hid[(size_t)n * Cr + r] * wb[(size_t)ch * Cr + r];
    gate[i] = (float)(1.0 / (1.0 + exp(-s)));
}

/* y = x * gate[plane] */
__global__ static void se_scale(const float *x, const float *gate, float *y, int HW, size_t n) {
    for (size_t i = (size_t)blockIdx.x * CU_THREADS + threadIdx.x; i < n; i += (size_t)gridDim.x * CU_THREADS)
        y[i] = x[i] * gate[i / HW];
}

#define BLOCKS(n) (unsigned)(((n) + CU_THREADS - 1) / CU_THREADS), CU_THREADS, 0, c->stream

void cu_se_fwd(void *ctx, const float *x, const float *wa, const float *wb, float *y,
               float *pool, float *hid, float *gate, int N, int C, int HW, int Cr) {
    cu_ctx *c = cu_enter(ctx);
    const long planes = (long)N * C;
    if (planes < 1 || HW < 1 || Cr < 1) return;
    double *sums = (double *)cu_scratch(c, CU_SCR_RED, (size_t)planes * sizeof(double));
    plane_sums<0><<<plane_blocks(planes), CU_THREADS, 0, c->stream>>>(x, NULL, HW, planes, sums);
    KCHECK();
    se_pool_finish<<<BLOCKS(planes)>>>(sums, pool, HW, planes);
    KCHECK();
    se_hidden<<<BLOCKS((long)N * Cr)>>>(pool, wa, hid, N, C, Cr);
    KCHECK();
    se_gate<<<BLOCKS(planes)>>>(hid, wb, gate, N, C, Cr);
    KCHECK();
    const size_t n = (size_t)planes * HW;
    se_scale<<<cu_blocks(n), CU_THREADS, 0, c->stream>>>(x, gate, y, HW, n);
    KCHECK();
}

/* dzb[pl] = (sum dy*x) * g * (1-g) */
__global__ static void se_dgate(const double *dots, const float *gate, float *dzb, long planes) {
    long pl = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (pl >= planes) return;
    const float g = gate[pl];
    dzb[pl] = (float)(dots[pl] * g * (1.0 - g));
}

/* dwb[c,r] += sum_n dzb[n,c] hid[n,r] */
__global__ static void se_dwb(const float *dzb, const float *hid, float *dwb, int N, int C, int Cr) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= C * Cr) return;
    const int ch = i / Cr, r = i % Cr;
    double s = 0;
    for (int n = 0; n < N; n++) s += (double)dzb[(size_t)n * C + ch] * hid[(size_t)n * Cr + r];
    dwb[i] += (float)s;
}

/* dza[n,r] = hid[n,r] > 0 ? sum_c dzb[n,c] wb[c,r] : 0 */
__global__ static void se_dza(const float *dzb, const float *wb, const float *hid, float *dza, int N, int C, int Cr) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N * Cr) return;
    const int n = i / Cr, r = i % Cr;
    double s = 0;
    for (int ch = 0; ch < C; ch++) s += (double)dzb[(size_t)n * C + ch] * wb[(size_t)ch * Cr + r];
    dza[i] = hid[i] > 0 ? (float)s : 0.0f;
}

/* dwa[r,c] += sum_n dza[n,r] pool[n,c] */
__global__ static void se_dwa(const float *dza, const float *pool, float *dwa, int N, int C, int Cr) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= Cr * C) return;
    const int r = i / C, ch = i % C;
    double s = 0;
    for (int n = 0; n < N; n++) s += (double)dza[(size_t)n * Cr + r] * pool[(size_t)n * C + ch];
    dwa[i] += (float)s;
}

/* dpool[n,c] = sum_r dza[n,r] wa[r,c] / HW */
__global__ static void se_dpool(const float *dza, const float *wa, float *dpool, int N, int C, int Cr, int HW) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N * C) return;
    const int n = i / C, ch = i % C;
    double s = 0;
    for (int r = 0; r < Cr; r++) s += (double)dza[(size_t)n * Cr + r] * wa[(size_t)r * C + ch];
    dpool[i] = (float)(s / HW);
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

void cu_se_bwd(void *ctx, const float *x, const float *dy, const float *wa, const float *wb,
               const float *pool, const float *hid, const float *gate,
               float *dx, float *dwa, float *dwb, int N, int C, int HW, int Cr, int acc) {
    cu_ctx *c = cu_enter(ctx);
    const long planes = (long)N * C;
    if (planes < 1 || HW < 1 || Cr < 1) return;
    double *dots = (double *)cu_scratch(c, CU_SCR_RED, (size_t)planes * sizeof(double));
    float *dzb = (float *)cu_scratch(c, CU_SCR_SE, ((size_t)planes * 2 + (size_t)N * Cr) * sizeof(float));
    float *dpool = dzb + planes, *dza = dpool + planes;
    plane_sums<1><<<plane_blocks(planes), CU_THREADS, 0, c->stream>>>(dy, x, HW, planes, dots);
    KCHECK();
    se_dgate<<<BLOCKS(planes)>>>(dots, gate, dzb, planes);
    KCHECK();
    se_dwb<<<BLOCKS((long)C * Cr)>>>(dzb, hid, dwb, N, C, Cr);
    KCHECK();
    se_dza<<<BLOCKS((long)N * Cr)>>>(dzb, wb, hid, dza, N, C, Cr);
    KCHECK();
    se_dwa<<<BLOCKS((long)Cr * C)>>>(dza, pool, dwa, N, C, Cr);
    KCHECK();
    se_dpool<<<BLOCKS(planes)>>>(dza, wa, dpool, N, C, Cr, HW);
    KCHECK();
    const size_t n = (size_t)planes * HW;
    se_dx<<<cu_blocks(n), CU_THREADS, 0, c->stream>>>(dy, gate, dpool, dx, HW, n, acc);
    KCHECK();
}
