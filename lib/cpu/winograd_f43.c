/* winograd_f43.c: the transforms of Winograd's F(4x4, 3x3) (see winograd.h, winograd.c)
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
 *   G = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * 36 multiplications per 16 outputs, 4x fewer than the direct 3x3 convolution. */
#include <string.h>
#include "cpu.h"
#include "winograd.h"

/* t_k = (B^T d)_k, k = 0 .. 5, elementwise over n: the one map of both passes of the input transform */
static inline void bt6(const float *d0, const float *d1, const float *d2, const float *d3, const float *d4,
                       const float *d5, float *t0, float *t1, float *t2, float *t3, float *t4, float *t5,
                       size_t n) {
#pragma omp simd
    for (size_t c = 0; c < n; c++) {
        t0[c] = 4 * d0[c] - 5 * d2[c] + d4[c];
        t1[c] = -4 * (d1[c] + d2[c]) + d3[c] + d4[c];
        t2[c] = 4 * (d1[c] - d2[c]) - d3[c] + d4[c];
        t3[c] = 2 * (d3[c] - d1[c]) - d2[c] + d4[c];
        t4[c] = 2 * (d1[c] - d3[c]) - d2[c] + d4[c];
        t5[c] = 4 * d1[c] - 5 * d3[c] + d5[c];
    }
}

/* V [36, C, P] = B^T d B, d the 6x6 patch of tile (i, j) at rows 4i-1 .., columns 4j-1 .., for the tiles
 * [p0, p0+np) of the batch x [N, C, H, W] (numbered across it: winograd.h) and its channels [c0, c1).
 * A run of n tiles along a tile row reads 6 input rows, columns 4*j0-1 .. 4*(j0+n)+2. Each row is split
 * into its 4 phases, ph[k][j] = column 4j + k of the run (j = 0 .. n), so that column k of tile j's
 * patch is ph[k][j] for k < 4 and ph[k-4][j+1] for k = 4, 5: both passes of the transform then read
 * and write whole contiguous rows along the tiles, which vectorise (a stride-4 read does not). */
static void input_tf4(const wgeom *g, const float *x, int C, int c0, int c1, int p0, int np, float *V,
                      float *buf, const cpu_epi *pro) {
    const int H = g->H, W = g->W, s = g->tw + 1;
    const size_t xs = (size_t)C * g->P, ps = 4 * (size_t)s; /* ps: one row's 4 phases */
    /* row: one input row [4*s]; ph: the 6 rows' phases [6, 4, s]; t = B^T ph over the rows [6, 4, s] */
    float *row = buf, *ph = row + ps, *t = ph + 6 * ps;
    for (int ci = c0; ci < c1; ci++) {
        for (int q = 0, n, img, ti, j0; q < np; q += n) {
            n = wino_run_at(g, p0 + q, np - q, &img, &ti, &j0);
            const float *xc = x + wino_plane(g, img, C, ci);
            for (int i = 0; i < 6; i++) {
                wino_gather_row(xc, H, W, 4 * ti - g->pad + i, 4 * j0 - g->pad, 4 * (n + 1), row, pro, ci);
                float *f0 = ph + i * ps, *f1 = f0 + s, *f2 = f1 + s, *f3 = f2 + s;
#pragma omp simd
                for (int j = 0; j <= n; j++) {
                    f0[j] = row[4 * j];
                    f1[j] = row[4 * j + 1];
                    f2[j] = row[4 * j + 2];
                    f3[j] = row[4 * j + 3];
                }
            }
            bt6(ph, ph + ps, ph + 2 * ps, ph + 3 * ps, ph + 4 * ps, ph + 5 * ps,
                t, t + ps, t + 2 * ps, t + 3 * ps, t + 4 * ps, t + 5 * ps, ps); /* over the rows */
            for (int r = 0; r < 6; r++) {
                /* the patch columns 0 .. 5 of row r of every tile: phases 0 .. 3, then 0 and 1 a tile on */
                const float *e0 = t + r * ps, *e1 = e0 + s, *e2 = e1 + s, *e3 = e2 + s, *e4 = e0 + 1, *e5 = e1 + 1;
                float *v0 = V + (size_t)(r * 6) * xs + (size_t)ci * g->P + q;
                bt6(e0, e1, e2, e3, e4, e5, v0, v0 + xs, v0 + 2 * xs, v0 + 3 * xs, v0 + 4 * xs, v0 + 5 * xs,
                    (size_t)n); /* over the columns */
            }
        }
    }
}

/* y [N, C, H, W] (=, or += with acc) A^T M A (+ b[c]) for tiles [p0, p0+np), channels [c0, c1), from
 * M [36, C, P] */
static void output_tf4(const wgeom *g, const float *M, int C, int c0, int c1, int p0, int np, const float *b,
                       int acc, const cpu_epi *epi, float *y, float *buf) {
    const int len = g->len, tw = g->tw;
    const size_t xs = (size_t)C * g->P;
    float *S = buf, *o = buf + 24 * (size_t)tw; /* S = A^T m: [4, 6, tw]; o: 4 output rows [4, len] */
    for (int c = c0; c < c1; c++) {
        const float bias = b ? b[c] : 0.0f;
        for (int q = 0, n, img, ti, j0; q < np; q += n) {
            n = wino_run_at(g, p0 + q, np - q, &img, &ti, &j0);
            float *yc = y + wino_plane(g, img, C, c);
            for (int k = 0; k < 6; k++) { /* column k of the 6x6 points: rows r*6 + k */
                const float *r0 = M + (size_t)k * xs + (size_t)c * g->P + q;
                const float *r1 = r0 + 6 * xs, *r2 = r1 + 6 * xs, *r3 = r2 + 6 * xs, *r4 = r3 + 6 * xs,
                            *r5 = r4 + 6 * xs;
                float *s0 = S + (size_t)k * tw, *s1 = s0 + 6 * (size_t)tw, *s2 = s1 + 6 * (size_t)tw,
                      *s3 = s2 + 6 * (size_t)tw;
#pragma omp simd
                for (int j = 0; j < n; j++) {
                    const float u1 = r1[j] + r2[j], u2 = r1[j] - r2[j], u3 = r3[j] + r4[j], u4 = r3[j] - r4[j];
                    s0[j] = r0[j] + u1 + u3;
                    s1[j] = u2 + 2 * u4;
                    s2[j] = u1 + 4 * u3;
                    s3[j] = u2 + 8 * u4 + r5[j];
                }
            }
            for (int a = 0; a < 4; a++) {
                const float *e0 = S + (size_t)(a * 6) * tw, *e1 = e0 + tw, *e2 = e1 + tw, *e3 = e2 + tw,
                            *e4 = e3 + tw, *e5 = e4 + tw;
                float *oa = o + (size_t)a * len;
#pragma omp simd
                for (int j = 0; j < n; j++) {
                    const float u1 = e1[j] + e2[j], u2 = e1[j] - e2[j], u3 = e3[j] + e4[j], u4 = e3[j] - e4[j];
                    oa[4 * j] = e0[j] + u1 + u3 + bias;
                    oa[4 * j + 1] = u2 + 2 * u4 + bias;
                    oa[4 * j + 2] = u1 + 4 * u3 + bias;
                    oa[4 * j + 3] = u2 + 8 * u4 + e5[j] + bias;
                }
            }
            wino_store(g, yc, ti, j0, n, o, acc, epi, c);
        }
    }
}

/* U [36, Cout, Cin] = G g G^T of every kernel g of w [Co, Ci, 3, 3]: the forward kernels (Cout = Co), or
 * for backward-data the transposed ones turned 180 degrees (Cout = Ci, Cin = Co). Written out in full
 * so that it vectorises along Cin. */
static void weights_tf4(const float *w, int Co, int Ci, int bwd, float *U) {
    const int Cout = bwd ? Ci : Co, Cin = bwd ? Co : Ci;
    const size_t xs = (size_t)Cout * Cin;
    const size_t is = bwd ? (size_t)Ci * 9 : 9; /* between the kernels of consecutive i */
    const int r0 = bwd ? 8 : 0, d = bwd ? -1 : 1;
#pragma omp for schedule(static)
    for (int o = 0; o < Cout; o++) {
        const float *g0 = w + (bwd ? (size_t)o * 9 : (size_t)o * Ci * 9);
        float *u = U + (size_t)o * Cin;
#pragma omp simd
        for (int i = 0; i < Cin; i++) {
            const float *g = g0 + i * is;
            /* k: the kernel, turned 180 degrees for backward-data */
            const float k0 = g[r0], k1 = g[r0 + d], k2 = g[r0 + 2 * d], k3 = g[r0 + 3 * d], k4 = g[r0 + 4 * d],
                        k5 = g[r0 + 5 * d], k6 = g[r0 + 6 * d], k7 = g[r0 + 7 * d], k8 = g[r0 + 8 * d];
            /* t = G k: [6, 3] */
            const float t00 = k0 * (1.0f / 4);
            const float t10 = -(k0 + k3 + k6) * (1.0f / 6);
            const float t20 = -(k0 - k3 + k6) * (1.0f / 6);
            const float t30 = k0 * (1.0f / 24) + k3 * (1.0f / 12) + k6 * (1.0f / 6);
            const float t40 = k0 * (1.0f / 24) - k3 * (1.0f / 12) + k6 * (1.0f / 6);
            const float t50 = k6;
            const float t01 = k1 * (1.0f / 4);
            const float t11 = -(k1 + k4 + k7) * (1.0f / 6);
            const float t21 = -(k1 - k4 + k7) * (1.0f / 6);
            const float t31 = k1 * (1.0f / 24) + k4 * (1.0f / 12) + k7 * (1.0f / 6);
            const float t41 = k1 * (1.0f / 24) - k4 * (1.0f / 12) + k7 * (1.0f / 6);
            const float t51 = k7;
            const float t02 = k2 * (1.0f / 4);
            const float t12 = -(k2 + k5 + k8) * (1.0f / 6);
            const float t22 = -(k2 - k5 + k8) * (1.0f / 6);
            const float t32 = k2 * (1.0f / 24) + k5 * (1.0f / 12) + k8 * (1.0f / 6);
            const float t42 = k2 * (1.0f / 24) - k5 * (1.0f / 12) + k8 * (1.0f / 6);
            const float t52 = k8;
            /* u = t G^T: [6, 6] */
            u[0 * xs + i] = t00 * (1.0f / 4);
            u[1 * xs + i] = -(t00 + t01 + t02) * (1.0f / 6);
            u[2 * xs + i] = -(t00 - t01 + t02) * (1.0f / 6);
            u[3 * xs + i] = t00 * (1.0f / 24) + t01 * (1.0f / 12) + t02 * (1.0f / 6);
            u[4 * xs + i] = t00 * (1.0f / 24) - t01 * (1.0f / 12) + t02 * (1.0f / 6);
            u[5 * xs + i] = t02;
            u[6 * xs + i] = t10 * (1.0f / 4);
            u[7 * xs + i] = -(t10 + t11 + t12) * (1.0f / 6);
            u[8 * xs + i] = -(t10 - t11 + t12) * (1.0f / 6);
            u[9 * xs + i] = t10 * (1.0f / 24) + t11 * (1.0f / 12) + t12 * (1.0f / 6);
            u[10 * xs + i] = t10 * (1.0f / 24) - t11 * (1.0f / 12) + t12 * (1.0f / 6);
            u[11 * xs + i] = t12;
            u[12 * xs + i] = t20 * (1.0f / 4);
            u[13 * xs + i] = -(t20 + t21 + t22) * (1.0f / 6);
            u[14 * xs + i] = -(t20 - t21 + t22) * (1.0f / 6);
            u[15 * xs + i] = t20 * (1.0f / 24) + t21 * (1.0f / 12) + t22 * (1.0f / 6);
            u[16 * xs + i] = t20 * (1.0f / 24) - t21 * (1.0f / 12) + t22 * (1.0f / 6);
            u[17 * xs + i] = t22;
            u[18 * xs + i] = t30 * (1.0f / 4);
            u[19 * xs + i] = -(t30 + t31 + t32) * (1.0f / 6);
            u[20 * xs + i] = -(t30 - t31 + t32) * (1.0f / 6);
            u[21 * xs + i] = t30 * (1.0f / 24) + t31 * (1.0f / 12) + t32 * (1.0f / 6);
            u[22 * xs + i] = t30 * (1.0f / 24) - t31 * (1.0f / 12) + t32 * (1.0f / 6);
            u[23 * xs + i] = t32;
            u[24 * xs + i] = t40 * (1.0f / 4);
            u[25 * xs + i] = -(t40 + t41 + t42) * (1.0f / 6);
            u[26 * xs + i] = -(t40 - t41 + t42) * (1.0f / 6);
            u[27 * xs + i] = t40 * (1.0f / 24) + t41 * (1.0f / 12) + t42 * (1.0f / 6);
            u[28 * xs + i] = t40 * (1.0f / 24) - t41 * (1.0f / 12) + t42 * (1.0f / 6);
            u[29 * xs + i] = t42;
            u[30 * xs + i] = t50 * (1.0f / 4);
            u[31 * xs + i] = -(t50 + t51 + t52) * (1.0f / 6);
            u[32 * xs + i] = -(t50 - t51 + t52) * (1.0f / 6);
            u[33 * xs + i] = t50 * (1.0f / 24) + t51 * (1.0f / 12) + t52 * (1.0f / 6);
            u[34 * xs + i] = t50 * (1.0f / 24) - t51 * (1.0f / 12) + t52 * (1.0f / 6);
            u[35 * xs + i] = t52;
        }
    }
}

/* dw [Co*Ci, 9] += G^T du G of every transformed kernel gradient, du = dU [36, Co*Ci] (each thread a
 * share of the kernels; written out in full so that it vectorises; dU is overwritten) */
static void kernels_tf4_adjoint(float *dU, size_t xs, float *dw) {
    /* the nine results of kernel oi go to dU [0..9, oi] (read already), then into dw */
#pragma omp for simd schedule(static)
    for (size_t oi = 0; oi < xs; oi++) {
        const float u0 = dU[0 * xs + oi];
        const float u1 = dU[1 * xs + oi];
        const float u2 = dU[2 * xs + oi];
        const float u3 = dU[3 * xs + oi];
        const float u4 = dU[4 * xs + oi];
        const float u5 = dU[5 * xs + oi];
        const float u6 = dU[6 * xs + oi];
        const float u7 = dU[7 * xs + oi];
        const float u8 = dU[8 * xs + oi];
        const float u9 = dU[9 * xs + oi];
        const float u10 = dU[10 * xs + oi];
        const float u11 = dU[11 * xs + oi];
        const float u12 = dU[12 * xs + oi];
        const float u13 = dU[13 * xs + oi];
        const float u14 = dU[14 * xs + oi];
        const float u15 = dU[15 * xs + oi];
        const float u16 = dU[16 * xs + oi];
        const float u17 = dU[17 * xs + oi];
        const float u18 = dU[18 * xs + oi];
        const float u19 = dU[19 * xs + oi];
        const float u20 = dU[20 * xs + oi];
        const float u21 = dU[21 * xs + oi];
        const float u22 = dU[22 * xs + oi];
        const float u23 = dU[23 * xs + oi];
        const float u24 = dU[24 * xs + oi];
        const float u25 = dU[25 * xs + oi];
        const float u26 = dU[26 * xs + oi];
        const float u27 = dU[27 * xs + oi];
        const float u28 = dU[28 * xs + oi];
        const float u29 = dU[29 * xs + oi];
        const float u30 = dU[30 * xs + oi];
        const float u31 = dU[31 * xs + oi];
        const float u32 = dU[32 * xs + oi];
        const float u33 = dU[33 * xs + oi];
        const float u34 = dU[34 * xs + oi];
        const float u35 = dU[35 * xs + oi];
        const float t00 = u0 * (1.0f / 4) - (u6 + u12) * (1.0f / 6) + (u18 + u24) * (1.0f / 24);
        const float t10 = (u12 - u6) * (1.0f / 6) + (u18 - u24) * (1.0f / 12);
        const float t20 = (u18 + u24 - u6 - u12) * (1.0f / 6) + u30;
        const float t01 = u1 * (1.0f / 4) - (u7 + u13) * (1.0f / 6) + (u19 + u25) * (1.0f / 24);
        const float t11 = (u13 - u7) * (1.0f / 6) + (u19 - u25) * (1.0f / 12);
        const float t21 = (u19 + u25 - u7 - u13) * (1.0f / 6) + u31;
        const float t02 = u2 * (1.0f / 4) - (u8 + u14) * (1.0f / 6) + (u20 + u26) * (1.0f / 24);
        const float t12 = (u14 - u8) * (1.0f / 6) + (u20 - u26) * (1.0f / 12);
        const float t22 = (u20 + u26 - u8 - u14) * (1.0f / 6) + u32;
        const float t03 = u3 * (1.0f / 4) - (u9 + u15) * (1.0f / 6) + (u21 + u27) * (1.0f / 24);
        const float t13 = (u15 - u9) * (1.0f / 6) + (u21 - u27) * (1.0f / 12);
        const float t23 = (u21 + u27 - u9 - u15) * (1.0f / 6) + u33;
        const float t04 = u4 * (1.0f / 4) - (u10 + u16) * (1.0f / 6) + (u22 + u28) * (1.0f / 24);
        const float t14 = (u16 - u10) * (1.0f / 6) + (u22 - u28) * (1.0f / 12);
        const float t24 = (u22 + u28 - u10 - u16) * (1.0f / 6) + u34;
        const float t05 = u5 * (1.0f / 4) - (u11 + u17) * (1.0f / 6) + (u23 + u29) * (1.0f / 24);
        const float t15 = (u17 - u11) * (1.0f / 6) + (u23 - u29) * (1.0f / 12);
        const float t25 = (u23 + u29 - u11 - u17) * (1.0f / 6) + u35;
        dU[0 * xs + oi] = t00 * (1.0f / 4) - (t01 + t02) * (1.0f / 6) + (t03 + t04) * (1.0f / 24);
        dU[1 * xs + oi] = (t02 - t01) * (1.0f / 6) + (t03 - t04) * (1.0f / 12);
        dU[2 * xs + oi] = (t03 + t04 - t01 - t02) * (1.0f / 6) + t05;
        dU[3 * xs + oi] = t10 * (1.0f / 4) - (t11 + t12) * (1.0f / 6) + (t13 + t14) * (1.0f / 24);
        dU[4 * xs + oi] = (t12 - t11) * (1.0f / 6) + (t13 - t14) * (1.0f / 12);
        dU[5 * xs + oi] = (t13 + t14 - t11 - t12) * (1.0f / 6) + t15;
        dU[6 * xs + oi] = t20 * (1.0f / 4) - (t21 + t22) * (1.0f / 6) + (t23 + t24) * (1.0f / 24);
        dU[7 * xs + oi] = (t22 - t21) * (1.0f / 6) + (t23 - t24) * (1.0f / 12);
        dU[8 * xs + oi] = (t23 + t24 - t21 - t22) * (1.0f / 6) + t25;
    }
#pragma omp for schedule(static)
    for (size_t oi = 0; oi < xs; oi++)
        for (int k = 0; k < 9; k++) dw[oi * 9 + k] += dU[k * xs + oi];
}

/* E [36, C, P] = A e A^T of the 4x4 output-gradient tiles e of dy [N, C, H, W] (zeros outside), channels
 * [c0, c1), with
 * A = (A^T)^T = [1 0 0 0; 1 1 1 1; 1 -1 1 -1; 1 2 4 8; 1 -2 4 -8; 0 0 0 1] */
static void grad_tf4(const wgeom *g, const float *dy, int C, int c0, int c1, int p0, int np, float *E,
                     float *buf) {
    const int H = g->H, W = g->W, len = g->len;
    const size_t xs = (size_t)C * g->P;
    float *e = buf, *z = buf + 4 * len; /* e: 4 rows [4, len]; z = A e: [6, len] */
    for (int c = c0; c < c1; c++) {
        for (int q = 0, n, img, ti, j0; q < np; q += n) {
            n = wino_run_at(g, p0 + q, np - q, &img, &ti, &j0);
            const float *dc = dy + wino_plane(g, img, C, c);
            const int w = 4 * n;
            for (int i = 0; i < 4; i++) wino_gather_row(dc, H, W, 4 * ti + i, 4 * j0, w, e + i * len, NULL, 0);
            const float *e0 = e, *e1 = e + len, *e2 = e + 2 * len, *e3 = e + 3 * len;
            float *z0 = z, *z1 = z + len, *z2 = z + 2 * len, *z3 = z + 3 * len, *z4 = z + 4 * len,
                  *z5 = z + 5 * len;
#pragma omp simd
            for (int k = 0; k < w; k++) {
                const float u = e0[k] + e2[k], v = e1[k] + e3[k], u4 = e0[k] + 4 * e2[k], v8 = 2 * e1[k] + 8 * e3[k];
                z0[k] = e0[k];
                z1[k] = u + v;
                z2[k] = u - v;
                z3[k] = u4 + v8;
                z4[k] = u4 - v8;
                z5[k] = e3[k];
            }
            for (int r = 0; r < 6; r++) {
                const float *zr = z + r * len;
                float *v0 = E + (size_t)(r * 6) * xs + (size_t)c * g->P + q;
                float *v1 = v0 + xs, *v2 = v1 + xs, *v3 = v2 + xs, *v4 = v3 + xs, *v5 = v4 + xs;
#pragma omp simd
                for (int j = 0; j < n; j++) {
                    const float a0 = zr[4 * j], a1 = zr[4 * j + 1], a2 = zr[4 * j + 2], a3 = zr[4 * j + 3];
                    const float u = a0 + a2, v = a1 + a3, u4 = a0 + 4 * a2, v8 = 2 * a1 + 8 * a3;
                    v0[j] = a0;
                    v1[j] = u + v;
                    v2[j] = u - v;
                    v3[j] = u4 + v8;
                    v4[j] = u4 - v8;
                    v5[j] = a3;
                }
            }
        }
    }
}

const wkind CPU_ISA_SYM(wino_f43) = {4, 3, input_tf4, output_tf4, grad_tf4, weights_tf4, kernels_tf4_adjoint};
