/* winograd_f32.c: the transforms of Winograd's F(3x3, 2x2) (see winograd.h, winograd.c), for the 2x2
 * convolutions after each upsampling (TF 'same': no padding before, one row and column after)
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 -1 0 1]   G = [1 0; 1/2 1/2; 1/2 -1/2; 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 0; 0 1 1 1]
 * 16 multiplications per 9 outputs, 2.25x fewer than the direct 2x2 convolution. */
#include <string.h>
#include "cpu.h"
#include "winograd.h"

/* V [16, C, P] = B^T d B, d the 4x4 patch of tile (i, j) at rows 3i-pad .., columns 3j-pad .. */
static void input_tf3(const wgeom *g, const float *x, int C, int c0, int c1, int p0, int np, float *V,
                      float *buf, const cpu_epi *pro) {
    const int H = g->H, W = g->W, len = g->len;
    const size_t xs = (size_t)C * g->P;
    float *d = buf, *t = buf + 4 * len; /* d: 4 input rows [4, len]; t = B^T d: [4, len] */
    for (int ci = c0; ci < c1; ci++) {
        for (int q = 0, n, img, ti, j0; q < np; q += n) {
            n = wino_run_at(g, p0 + q, np - q, &img, &ti, &j0);
            const float *xc = x + wino_plane(g, img, C, ci);
            const int w = 3 * n + 1;
            for (int i = 0; i < 4; i++)
                wino_gather_row(xc, H, W, 3 * ti - g->pad + i, 3 * j0 - g->pad, w, d + i * len, pro, ci);
            const float *d0 = d, *d1 = d + len, *d2 = d + 2 * len, *d3 = d + 3 * len;
            float *t0 = t, *t1 = t + len, *t2 = t + 2 * len, *t3 = t + 3 * len;
#pragma omp simd
            for (int c = 0; c < w; c++) {
                t0[c] = d0[c] - d2[c];
                t1[c] = d1[c] + d2[c];
                t2[c] = d2[c] - d1[c];
                t3[c] = d3[c] - d1[c];
            }
            for (int r = 0; r < 4; r++) {
                const float *tr = t + r * len;
                float *v0 = V + (size_t)(r * 4) * xs + (size_t)ci * g->P + q;
                float *v1 = v0 + xs, *v2 = v1 + xs, *v3 = v2 + xs;
#pragma omp simd
                for (int j = 0; j < n; j++) {
                    const float e0 = tr[3 * j], e1 = tr[3 * j + 1], e2 = tr[3 * j + 2], e3 = tr[3 * j + 3];
                    v0[j] = e0 - e2;
                    v1[j] = e1 + e2;
                    v2[j] = e2 - e1;
                    v3[j] = e3 - e1;
                }
            }
        }
    }
}

/* y [N, C, H, W] (=, or += with acc) A^T M A (+ b[c]) for tiles [p0, p0+np), channels [c0, c1), from
 * M [16, C, P] */
static void output_tf3(const wgeom *g, const float *M, int C, int c0, int c1, int p0, int np, const float *b,
                       int acc, const cpu_epi *epi, float *y, float *buf) {
    const int len = g->len, tw = g->tw;
    const size_t xs = (size_t)C * g->P;
    float *S = buf, *o = buf + 12 * (size_t)tw; /* S = A^T m: [3, 4, tw]; o: 3 output rows [3, len] */
    for (int c = c0; c < c1; c++) {
        const float bias = b ? b[c] : 0.0f;
        for (int q = 0, n, img, ti, j0; q < np; q += n) {
            n = wino_run_at(g, p0 + q, np - q, &img, &ti, &j0);
            float *yc = y + wino_plane(g, img, C, c);
            for (int k = 0; k < 4; k++) { /* column k of the 4x4 points: rows r*4 + k */
                const float *r0 = M + (size_t)k * xs + (size_t)c * g->P + q;
                const float *r1 = r0 + 4 * xs, *r2 = r1 + 4 * xs, *r3 = r2 + 4 * xs;
                float *s0 = S + (size_t)k * tw, *s1 = s0 + 4 * (size_t)tw, *s2 = s1 + 4 * (size_t)tw;
#pragma omp simd
                for (int j = 0; j < n; j++) {
                    const float u = r1[j] + r2[j];
                    s0[j] = r0[j] + u;
                    s1[j] = r1[j] - r2[j];
                    s2[j] = u + r3[j];
                }
            }
            for (int a = 0; a < 3; a++) {
                const float *e0 = S + (size_t)(a * 4) * tw, *e1 = e0 + tw, *e2 = e1 + tw, *e3 = e2 + tw;
                float *oa = o + (size_t)a * len;
#pragma omp simd
                for (int j = 0; j < n; j++) {
                    const float u = e1[j] + e2[j];
                    oa[3 * j] = e0[j] + u + bias;
                    oa[3 * j + 1] = e1[j] - e2[j] + bias;
                    oa[3 * j + 2] = u + e3[j] + bias;
                }
            }
            wino_store(g, yc, ti, j0, n, o, acc, epi, c);
        }
    }
}

/* U [16, Cout, Cin] = G g G^T of every 2x2 kernel (see winograd.h); vectorised along Cin */
static void weights_tf3(const float *w, int Co, int Ci, int bwd, float *U) {
    const int Cout = bwd ? Ci : Co, Cin = bwd ? Co : Ci;
    const size_t xs = (size_t)Cout * Cin;
    const size_t is = bwd ? (size_t)Ci * 4 : 4; /* between the kernels of consecutive i */
    const int r0 = bwd ? 3 : 0, d = bwd ? -1 : 1;
#pragma omp for schedule(static)
    for (int o = 0; o < Cout; o++) {
        const float *g0 = w + (bwd ? (size_t)o * 4 : (size_t)o * Ci * 4);
        float *u = U + (size_t)o * Cin;
#pragma omp simd
        for (int i = 0; i < Cin; i++) {
            const float *gk = g0 + i * is;
            /* k: the kernel [2, 2], turned 180 degrees for backward-data; t = G k: [4, 2] */
            const float k0 = gk[r0], k1 = gk[r0 + d], k2 = gk[r0 + 2 * d], k3 = gk[r0 + 3 * d];
            const float t00 = k0, t01 = k1, t10 = 0.5f * (k0 + k2), t11 = 0.5f * (k1 + k3);
            const float t20 = 0.5f * (k0 - k2), t21 = 0.5f * (k1 - k3), t30 = k2, t31 = k3;
            u[0 * xs + i] = t00, u[1 * xs + i] = 0.5f * (t00 + t01), u[2 * xs + i] = 0.5f * (t00 - t01), u[3 * xs + i] = t01;
            u[4 * xs + i] = t10, u[5 * xs + i] = 0.5f * (t10 + t11), u[6 * xs + i] = 0.5f * (t10 - t11), u[7 * xs + i] = t11;
            u[8 * xs + i] = t20, u[9 * xs + i] = 0.5f * (t20 + t21), u[10 * xs + i] = 0.5f * (t20 - t21), u[11 * xs + i] = t21;
            u[12 * xs + i] = t30, u[13 * xs + i] = 0.5f * (t30 + t31), u[14 * xs + i] = 0.5f * (t30 - t31), u[15 * xs + i] = t31;
        }
    }
}

/* dw [Co*Ci, 4] += G^T du G of every transformed kernel gradient du = dU [16, Co*Ci] (overwritten),
 * G^T = [1 1/2 1/2 0; 0 1/2 -1/2 1] */
static void kernels_tf3_adjoint(float *dU, size_t xs, float *dw) {
#pragma omp for simd schedule(static)
    for (size_t oi = 0; oi < xs; oi++) {
        float t[2][4]; /* G^T du: [2, 4] */
        for (int s = 0; s < 4; s++) {
            const float a = dU[s * xs + oi], b = dU[(4 + s) * xs + oi], e = dU[(8 + s) * xs + oi],
                        f = dU[(12 + s) * xs + oi];
            t[0][s] = a + 0.5f * (b + e);
            t[1][s] = 0.5f * (b - e) + f;
        }
        for (int kh = 0; kh < 2; kh++) {
            dU[(kh * 2) * xs + oi] = t[kh][0] + 0.5f * (t[kh][1] + t[kh][2]);
            dU[(kh * 2 + 1) * xs + oi] = 0.5f * (t[kh][1] - t[kh][2]) + t[kh][3];
        }
    }
#pragma omp for schedule(static)
    for (size_t oi = 0; oi < xs; oi++)
        for (int k = 0; k < 4; k++) dw[oi * 4 + k] += dU[k * xs + oi];
}

/* E [16, C, P] = A e A^T of the 3x3 output-gradient tiles e of dy, A = [1 0 0; 1 1 1; 1 -1 1; 0 0 1] */
static void grad_tf3(const wgeom *g, const float *dy, int C, int c0, int c1, int p0, int np, float *E,
                     float *buf) {
    const int H = g->H, W = g->W, len = g->len;
    const size_t xs = (size_t)C * g->P;
    float *e = buf, *z = buf + 3 * len; /* e: 3 rows [3, len]; z = A e: [4, len] */
    for (int c = c0; c < c1; c++) {
        for (int q = 0, n, img, ti, j0; q < np; q += n) {
            n = wino_run_at(g, p0 + q, np - q, &img, &ti, &j0);
            const float *dc = dy + wino_plane(g, img, C, c);
            const int w = 3 * n;
            for (int i = 0; i < 3; i++) wino_gather_row(dc, H, W, 3 * ti + i, 3 * j0, w, e + i * len, NULL, 0);
            const float *e0 = e, *e1 = e + len, *e2 = e + 2 * len;
            float *z0 = z, *z1 = z + len, *z2 = z + 2 * len, *z3 = z + 3 * len;
#pragma omp simd
            for (int k = 0; k < w; k++) {
                const float u = e0[k] + e2[k];
                z0[k] = e0[k];
                z1[k] = u + e1[k];
                z2[k] = u - e1[k];
                z3[k] = e2[k];
            }
            for (int r = 0; r < 4; r++) {
                const float *zr = z + r * len;
                float *v0 = E + (size_t)(r * 4) * xs + (size_t)c * g->P + q;
                float *v1 = v0 + xs, *v2 = v1 + xs, *v3 = v2 + xs;
#pragma omp simd
                for (int j = 0; j < n; j++) {
                    const float a0 = zr[3 * j], a1 = zr[3 * j + 1], a2 = zr[3 * j + 2], u = a0 + a2;
                    v0[j] = a0;
                    v1[j] = u + a1;
                    v2[j] = u - a1;
                    v3[j] = a2;
                }
            }
        }
    }
}

const wkind CPU_ISA_SYM(wino_f32) = {3, 2, input_tf3, output_tf3, grad_tf3, weights_tf3, kernels_tf3_adjoint};
