/* se.c: squeeze-and-excitation on the CPU.
 * pool[N,C] = mean_HW x; hid[N,Cr] = relu(pool wa^T); gate[N,C] = sigmoid(hid wb^T); y = x * gate.
 * wa [Cr,C], wb [C,Cr]. The small dense layers are summed in double, sequentially (deterministic). */
#include <math.h>
#include <stddef.h>
#include "cpu.h"

void cpu_se_fwd(void *ctx, const float *x, const float *wa, const float *wb, float *y,
                float *pool, float *hid, float *gate, int N, int C, int HW, int Cr) {
    cpu_ctx *c = ctx;
    const long planes = (long)N * C;
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (long pl = 0; pl < planes; pl++) pool[pl] = (float)(cpu_sum(x + (size_t)pl * HW, (size_t)HW) / HW);
    for (int n = 0; n < N; n++) {
        for (int r = 0; r < Cr; r++) {
            double s = 0;
            for (int ch = 0; ch < C; ch++) s += (double)pool[(size_t)n * C + ch] * wa[(size_t)r * C + ch];
            hid[(size_t)n * Cr + r] = s > 0 ? (float)s : 0.0f;
        }
        for (int ch = 0; ch < C; ch++) {
            double s = 0;
            for (int r = 0; r < Cr; r++) s += (double)hid[(size_t)n * Cr + r] * wb[(size_t)ch * Cr + r];
            gate[(size_t)n * C + ch] = (float)(1.0 / (1.0 + exp(-s)));
        }
    }
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (long pl = 0; pl < planes; pl++) {
        const float g = gate[pl], *xp = x + (size_t)pl * HW;
        float *yp = y + (size_t)pl * HW;
#pragma omp simd
        for (int i = 0; i < HW; i++) yp[i] = xp[i] * g;
    }
}

void cpu_se_bwd(void *ctx, const float *x, const float *dy, const float *wa, const float *wb,
                const float *pool, const float *hid, const float *gate,
                float *dx, float *dwa, float *dwb, int N, int C, int HW, int Cr, int acc) {
    cpu_ctx *c = ctx;
    const long planes = (long)N * C;
    /* workspace: dz_b [N,C] (d pre-sigmoid), dz_a [N,Cr] (d pre-relu), dpool [N,C] */
    if (cpu_reserve(c, (size_t)planes * 2 + (size_t)N * Cr)) return;
    float *dzb = cpu_ws(c, 0);
    float *dpool = dzb + planes, *dza = dpool + planes;
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (long pl = 0; pl < planes; pl++) {
        const float g = gate[pl];
        const double dgate = cpu_dot(dy + (size_t)pl * HW, x + (size_t)pl * HW, (size_t)HW);
        dzb[pl] = (float)(dgate * g * (1.0 - g));
    }
    for (int ch = 0; ch < C; ch++)
        for (int r = 0; r < Cr; r++) {
            double s = 0;
            for (int n = 0; n < N; n++) s += (double)dzb[(size_t)n * C + ch] * hid[(size_t)n * Cr + r];
            dwb[(size_t)ch * Cr + r] += (float)s;
        }
    for (int n = 0; n < N; n++)
        for (int r = 0; r < Cr; r++) {
            double s = 0;
            for (int ch = 0; ch < C; ch++) s += (double)dzb[(size_t)n * C + ch] * wb[(size_t)ch * Cr + r];
            dza[(size_t)n * Cr + r] = hid[(size_t)n * Cr + r] > 0 ? (float)s : 0.0f;
        }
    for (int r = 0; r < Cr; r++)
        for (int ch = 0; ch < C; ch++) {
            double s = 0;
            for (int n = 0; n < N; n++) s += (double)dza[(size_t)n * Cr + r] * pool[(size_t)n * C + ch];
            dwa[(size_t)r * C + ch] += (float)s;
        }
    for (int n = 0; n < N; n++)
        for (int ch = 0; ch < C; ch++) {
            double s = 0;
            for (int r = 0; r < Cr; r++) s += (double)dza[(size_t)n * Cr + r] * wa[(size_t)r * C + ch];
            dpool[(size_t)n * C + ch] = (float)(s / HW);
        }
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (long pl = 0; pl < planes; pl++) {
        const float g = gate[pl], dp = dpool[pl], *d = dy + (size_t)pl * HW;
        float *o = dx + (size_t)pl * HW;
        if (acc) {
#pragma omp simd
            for (int i = 0; i < HW; i++) o[i] += d[i] * g + dp;
        } else {
#pragma omp simd
            for (int i = 0; i < HW; i++) o[i] = d[i] * g + dp;
        }
    }
}
