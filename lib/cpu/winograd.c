/* winograd.c: 3x3 stride-1 convolutions by Winograd's minimal filtering F(2x2, 3x3) (Lavin and Gray,
 * "Fast Algorithms for Convolutional Neural Networks", CVPR 2016): forward, backward-data and
 * backward-filter. TF 'same' padding for k 3, s 1 is one pixel on every side, as in PyTorch.
 *
 * The output of each image is cut into 2x2 tiles, th x tw of them (th = ceil(H/2)); tile (i, j) reads
 * the 4x4 input patch d at rows 2i-1 .. 2i+2 and columns 2j-1 .. 2j+2 (zeros outside). With
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]   G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 * a tile's output is A^T [(G g G^T) . (B^T d B)] A, and each of the 16 points xi of the transformed
 * tile is an independent matrix product over the channels:
 *   forward          M[xi] [Co, P] = U[xi] [Co, Ci] V[xi] [Ci, P]   U = G g G^T, V = B^T d B
 *                    then y tile = A^T M A (+ bias)
 *   backward-data    the forward pass on dy, with the kernel transposed (Co <-> Ci) and turned 180 degrees
 *   backward-filter  dU[xi] [Co, Ci] += E[xi] [Co, P] V[xi]^T   E = A dY A^T, then dw += G^T dU G
 * That is 16 multiplications per 4 outputs instead of 36 (2.25x fewer). The tiles of one image are
 * taken P at a time (a block, sized so that V and M stay in cache); blocks are the work items of the
 * OpenMP threads, each running 16 single-threaded SGEMMs. As in conv.c, every output has one owner and
 * a fixed summation order; backward-filter sums per-thread partials in thread order. The transforms
 * add and subtract, so results differ from the direct method by rounding only (a few ulp of the sums). */
#include <string.h>
#include <omp.h>
#include <cblas.h>
#include "cpu.h"

typedef struct wgeom {
    int N, Ci, H, W, Co; /* the forward view: Ci channels in, Co out, H x W both */
    int th, tw, T;       /* tiles: rows, columns, per image */
    int P, blocks;       /* tiles per block, blocks per image */
} wgeom;

#define BLOCK_FLOATS (1 << 20) /* V and M of one block together: 4 MB, in the L2/L3 caches */

static void wgeom_init(wgeom *g, int N, int Ci, int H, int W, int Co, int threads) {
    g->N = N, g->Ci = Ci, g->H = H, g->W = W, g->Co = Co;
    g->th = (H + 1) / 2, g->tw = (W + 1) / 2;
    g->T = g->th * g->tw;
    long P = BLOCK_FLOATS / (16L * (Ci + Co));
    if (P > 2048) P = 2048;
    long share = ((long)N * g->T + threads - 1) / threads; /* enough blocks to feed every thread */
    if (P > share) P = share;
    if (P > g->T) P = g->T;
    if (P < 16) P = 16 < g->T ? 16 : g->T;
    if (P < 1) P = 1;
    g->blocks = (int)((g->T + P - 1) / P);
    g->P = (g->T + g->blocks - 1) / g->blocks; /* the same size for every block */
}

/* per-thread workspace: V [16, Cin, P], M [16, Cout, P], two scratch rows sets */
static size_t ws_floats(const wgeom *g) {
    return 16 * (size_t)g->P * (g->Ci + g->Co) + 8 * (size_t)(2 * g->tw + 2);
}

/* out[0, len) = row r of the channel src [H, W], columns c0 .. c0+len-1, zeros outside the image */
static void gather_row(const float *src, int H, int W, int r, int c0, int len, float *out) {
    if (r < 0 || r >= H) {
        memset(out, 0, (size_t)len * sizeof(float));
        return;
    }
    int lo = c0 < 0 ? -c0 : 0, hi = W - c0 < len ? W - c0 : len;
    if (hi < lo) hi = lo;
    memset(out, 0, (size_t)lo * sizeof(float));
    memcpy(out + lo, src + (size_t)r * W + c0 + lo, (size_t)(hi - lo) * sizeof(float));
    memset(out + hi, 0, (size_t)(len - hi) * sizeof(float));
}

/* The tiles of a block are walked as runs along one tile row: the run starting at tile p (at most
 * left tiles) is tile row *ti, tile columns *j0 .. *j0 + n - 1; returns n. */
static int run_at(const wgeom *g, int p, int left, int *ti, int *j0) {
    *ti = p / g->tw, *j0 = p % g->tw;
    return g->tw - *j0 < left ? g->tw - *j0 : left;
}

/* V [16, C, P] = B^T d B for tiles [p0, p0+np) of one image x [C, H, W]; buf: 8*(2*tw+2) floats */
static void input_tf(const wgeom *g, const float *x, int C, int p0, int np, float *V, float *buf) {
    const int H = g->H, W = g->W, len = 2 * g->tw + 2;
    const size_t xs = (size_t)C * g->P; /* V stride between points */
    float *d = buf, *t = buf + 4 * len; /* d: 4 input rows [4, len]; t = B^T d: [4, len] */
    for (int ci = 0; ci < C; ci++) {
        const float *xc = x + (size_t)ci * H * W;
        for (int q = 0, n, ti, j0; q < np; q += n) {
            n = run_at(g, p0 + q, np - q, &ti, &j0);
            const int w = 2 * n + 2;
            for (int i = 0; i < 4; i++) gather_row(xc, H, W, 2 * ti - 1 + i, 2 * j0 - 1, w, d + i * len);
            const float *d0 = d, *d1 = d + len, *d2 = d + 2 * len, *d3 = d + 3 * len;
            float *t0 = t, *t1 = t + len, *t2 = t + 2 * len, *t3 = t + 3 * len;
#pragma omp simd
            for (int c = 0; c < w; c++) {
                t0[c] = d0[c] - d2[c];
                t1[c] = d1[c] + d2[c];
                t2[c] = d2[c] - d1[c];
                t3[c] = d1[c] - d3[c];
            }
            for (int r = 0; r < 4; r++) {
                const float *tr = t + r * len;
                float *v0 = V + (size_t)(r * 4) * xs + (size_t)ci * g->P + q;
                float *v1 = v0 + xs, *v2 = v1 + xs, *v3 = v2 + xs;
#pragma omp simd
                for (int j = 0; j < n; j++) {
                    const float a = tr[2 * j], b = tr[2 * j + 1], c = tr[2 * j + 2], e = tr[2 * j + 3];
                    v0[j] = a - c;
                    v1[j] = b + c;
                    v2[j] = c - b;
                    v3[j] = b - e;
                }
            }
        }
    }
}

/* E [16, C, P] = A e A^T of the 2x2 output-gradient tiles e of dy [C, H, W] (zeros outside) */
static void grad_tf(const wgeom *g, const float *dy, int C, int p0, int np, float *E, float *buf) {
    const int H = g->H, W = g->W, len = 2 * g->tw + 2;
    const size_t xs = (size_t)C * g->P;
    float *e = buf, *z = buf + 2 * len; /* e: 2 rows [2, len]; z = A e: [4, len] */
    for (int c = 0; c < C; c++) {
        const float *dc = dy + (size_t)c * H * W;
        for (int q = 0, n, ti, j0; q < np; q += n) {
            n = run_at(g, p0 + q, np - q, &ti, &j0);
            const int w = 2 * n;
            gather_row(dc, H, W, 2 * ti, 2 * j0, w, e);
            gather_row(dc, H, W, 2 * ti + 1, 2 * j0, w, e + len);
            const float *e0 = e, *e1 = e + len;
            float *z0 = z, *z1 = z + len, *z2 = z + 2 * len, *z3 = z + 3 * len;
#pragma omp simd
            for (int k = 0; k < w; k++) {
                z0[k] = e0[k];
                z1[k] = e0[k] + e1[k];
                z2[k] = e0[k] - e1[k];
                z3[k] = -e1[k];
            }
            for (int r = 0; r < 4; r++) {
                const float *zr = z + r * len;
                float *v0 = E + (size_t)(r * 4) * xs + (size_t)c * g->P + q;
                float *v1 = v0 + xs, *v2 = v1 + xs, *v3 = v2 + xs;
#pragma omp simd
                for (int j = 0; j < n; j++) {
                    const float a = zr[2 * j], b = zr[2 * j + 1];
                    v0[j] = a;
                    v1[j] = a + b;
                    v2[j] = a - b;
                    v3[j] = -b;
                }
            }
        }
    }
}

/* y [C, H, W] (=, or += with acc) A^T M A (+ b[c]) for tiles [p0, p0+np) from M [16, C, P] */
static void output_tf(const wgeom *g, const float *M, int C, int p0, int np, const float *b, int acc,
                      float *y, float *buf) {
    const int H = g->H, W = g->W, len = 2 * g->tw + 2;
    const size_t xs = (size_t)C * g->P;
    float *o0 = buf, *o1 = buf + len; /* two output rows of a run */
    for (int c = 0; c < C; c++) {
        float *yc = y + (size_t)c * H * W;
        const float bias = b ? b[c] : 0.0f;
        for (int q = 0, n, ti, j0; q < np; q += n) {
            n = run_at(g, p0 + q, np - q, &ti, &j0);
            /* point k of tile j: m<k>[j] */
            const float *m0 = M + (size_t)c * g->P + q, *m1 = m0 + xs, *m2 = m1 + xs, *m3 = m2 + xs;
            const float *m4 = m3 + xs, *m5 = m4 + xs, *m6 = m5 + xs, *m7 = m6 + xs;
            const float *m8 = m7 + xs, *m9 = m8 + xs, *m10 = m9 + xs, *m11 = m10 + xs;
            const float *m12 = m11 + xs, *m13 = m12 + xs, *m14 = m13 + xs, *m15 = m14 + xs;
#pragma omp simd
            for (int j = 0; j < n; j++) {
                /* A^T m: rows s and t */
                const float s0 = m0[j] + m4[j] + m8[j], s1 = m1[j] + m5[j] + m9[j];
                const float s2 = m2[j] + m6[j] + m10[j], s3 = m3[j] + m7[j] + m11[j];
                const float t0 = m4[j] - m8[j] - m12[j], t1 = m5[j] - m9[j] - m13[j];
                const float t2 = m6[j] - m10[j] - m14[j], t3 = m7[j] - m11[j] - m15[j];
                o0[2 * j] = s0 + s1 + s2 + bias;
                o0[2 * j + 1] = s1 - s2 - s3 + bias;
                o1[2 * j] = t0 + t1 + t2 + bias;
                o1[2 * j + 1] = t1 - t2 - t3 + bias;
            }
            const int c0 = 2 * j0, w = 2 * n < W - c0 ? 2 * n : W - c0;
            for (int a = 0; a < 2 && 2 * ti + a < H; a++) {
                float *dst = yc + (size_t)(2 * ti + a) * W + c0;
                const float *src = a ? o1 : o0;
                if (acc) {
#pragma omp simd
                    for (int k = 0; k < w; k++) dst[k] += src[k];
                } else {
                    memcpy(dst, src, (size_t)w * sizeof(float));
                }
            }
        }
    }
}

/* u [16] = G g G^T of one 3x3 kernel g (row stride 3; rot: g turned 180 degrees) */
static void kernel_tf(const float *g9, int rot, float *u) {
    float k[3][3], t[4][3];
    for (int i = 0; i < 9; i++) k[i / 3][i % 3] = rot ? g9[8 - i] : g9[i];
    for (int c = 0; c < 3; c++) {
        t[0][c] = k[0][c];
        t[1][c] = 0.5f * (k[0][c] + k[1][c] + k[2][c]);
        t[2][c] = 0.5f * (k[0][c] - k[1][c] + k[2][c]);
        t[3][c] = k[2][c];
    }
    for (int r = 0; r < 4; r++) {
        u[r * 4 + 0] = t[r][0];
        u[r * 4 + 1] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
        u[r * 4 + 2] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
        u[r * 4 + 3] = t[r][2];
    }
}

/* dw [9] += G^T du G of one transformed kernel gradient du [16] */
static void kernel_tf_adjoint(const float *du, float *dw) {
    float t[3][4];
    for (int c = 0; c < 4; c++) {
        const float a = du[c], b = du[4 + c], e = du[8 + c], f = du[12 + c];
        t[0][c] = a + 0.5f * (b + e);
        t[1][c] = 0.5f * (b - e);
        t[2][c] = 0.5f * (b + e) + f;
    }
    for (int r = 0; r < 3; r++) {
        dw[r * 3 + 0] += t[r][0] + 0.5f * (t[r][1] + t[r][2]);
        dw[r * 3 + 1] += 0.5f * (t[r][1] - t[r][2]);
        dw[r * 3 + 2] += 0.5f * (t[r][1] + t[r][2]) + t[r][3];
    }
}

/* U [16, Cout, Cin] from w [Co, Ci, 3, 3]: the forward kernel (Cout = Co), or for backward-data the
 * transposed, turned one (Cout = Ci, Cin = Co) */
static void weights_tf(const float *w, int Co, int Ci, int bwd, float *U) {
    const int Cout = bwd ? Ci : Co, Cin = bwd ? Co : Ci;
    const size_t xs = (size_t)Cout * Cin;
#pragma omp for schedule(static)
    for (int o = 0; o < Cout; o++)
        for (int i = 0; i < Cin; i++) {
            float u[16];
            kernel_tf(w + ((size_t)(bwd ? i * Ci + o : o * Ci + i)) * 9, bwd, u);
            for (int k = 0; k < 16; k++) U[k * xs + (size_t)o * Cin + i] = u[k];
        }
}

/* y [N, Cout, H, W] = conv(x [N, Cin, H, W]) with U [16, Cout, Cin] (+ b) (acc: y +=) */
static void wino_apply(cpu_ctx *c, const float *x, const float *w, const float *b, float *y, int N, int Cin,
                       int H, int W, int Cout, int Co, int Ci, int bwd, int acc) {
    wgeom g;
    wgeom_init(&g, N, Cin, H, W, Cout, c->threads);
    const size_t nu = 16 * (size_t)Cout * Cin;
    float *U = cpu_grow(&c->wino, &c->wino_cap, nu);
    const int items = N * g.blocks;
#pragma omp parallel num_threads(c->threads)
    {
        weights_tf(w, Co, Ci, bwd, U); /* omp for: ends with a barrier */
        float *V = cpu_ws(c, omp_get_thread_num(), ws_floats(&g));
        float *M = V + 16 * (size_t)Cin * g.P, *buf = M + 16 * (size_t)Cout * g.P;
#pragma omp for schedule(dynamic, 1)
        for (int it = 0; it < items; it++) {
            const int n = it / g.blocks, p0 = it % g.blocks * g.P;
            const int np = g.T - p0 < g.P ? g.T - p0 : g.P;
            input_tf(&g, x + (size_t)n * Cin * H * W, Cin, p0, np, V, buf);
            for (int k = 0; k < 16; k++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Cout, np, Cin, 1.0f,
                            U + (size_t)k * Cout * Cin, Cin, V + (size_t)k * Cin * g.P, g.P, 0.0f,
                            M + (size_t)k * Cout * g.P, g.P);
            output_tf(&g, M, Cout, p0, np, b, acc, y + (size_t)n * Cout * H * W, buf);
        }
    }
}

void cpu_wino_fwd(cpu_ctx *c, const float *x, const float *w, const float *b, float *y,
                  int N, int Ci, int H, int W, int Co) {
    wino_apply(c, x, w, b, y, N, Ci, H, W, Co, Co, Ci, 0, 0);
}

void cpu_wino_bwd_data(cpu_ctx *c, const float *dy, const float *w, float *dx,
                       int N, int Ci, int H, int W, int Co, int acc) {
    wino_apply(c, dy, w, NULL, dx, N, Co, H, W, Ci, Co, Ci, 1, acc);
}

void cpu_wino_bwd_filter(cpu_ctx *c, const float *x, const float *dy, float *dw,
                         int N, int Ci, int H, int W, int Co) {
    wgeom g;
    wgeom_init(&g, N, Ci, H, W, Co, c->threads);
    const size_t nu = 16 * (size_t)Co * Ci;
    float *part = cpu_grow(&c->wino, &c->wino_cap, nu * c->threads);
    const int items = N * g.blocks;
    int nt = 1;
#pragma omp parallel num_threads(c->threads)
    {
        const int tid = omp_get_thread_num();
#pragma omp single
        nt = omp_get_num_threads();
        float *dU = part + (size_t)tid * nu; /* [16, Co, Ci] */
        memset(dU, 0, nu * sizeof(float));
        float *V = cpu_ws(c, tid, ws_floats(&g));
        float *E = V + 16 * (size_t)Ci * g.P, *buf = E + 16 * (size_t)Co * g.P;
        /* a fixed contiguous share of the blocks per thread: the partial sums do not depend on timing */
        const int i0 = (int)((long)items * tid / nt), i1 = (int)((long)items * (tid + 1) / nt);
        for (int it = i0; it < i1; it++) {
            const int n = it / g.blocks, p0 = it % g.blocks * g.P;
            const int np = g.T - p0 < g.P ? g.T - p0 : g.P;
            input_tf(&g, x + (size_t)n * Ci * H * W, Ci, p0, np, V, buf);
            grad_tf(&g, dy + (size_t)n * Co * H * W, Co, p0, np, E, buf);
            for (int k = 0; k < 16; k++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Co, Ci, np, 1.0f, E + (size_t)k * Co * g.P,
                            g.P, V + (size_t)k * Ci * g.P, g.P, 1.0f, dU + (size_t)k * Co * Ci, Ci);
        }
#pragma omp barrier
#pragma omp for schedule(static)
        for (size_t oi = 0; oi < (size_t)Co * Ci; oi++) {
            float du[16];
            for (int k = 0; k < 16; k++) {
                float s = part[k * (size_t)Co * Ci + oi];
                for (int t = 1; t < nt; t++) s += part[(size_t)t * nu + k * (size_t)Co * Ci + oi];
                du[k] = s;
            }
            kernel_tf_adjoint(du, dw + oi * 9);
        }
    }
}
