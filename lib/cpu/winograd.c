/* winograd.c: 3x3 and 2x2 stride-1 convolutions by Winograd's minimal filtering (Lavin and Gray, "Fast
 * Algorithms for Convolutional Neural Networks", CVPR 2016): F(4x4, 3x3) (winograd_f43.c) and, for the
 * 2x2 convolutions after each upsampling, F(3x3, 2x2) (winograd_f32.c); forward, backward-data and
 * backward-filter, with TF 'same' padding.
 *
 * The output of each image is cut into m x m tiles, th x tw of them (th = ceil(H/m)); tile (i, j) reads
 * the a x a input patch d (a = m + r - 1) at rows m*i - pad .., columns m*j - pad .. (zeros outside).
 * A tile's output is A^T [(G g G^T) . (B^T d B)] A, and each of the a*a points xi of the transformed tile
 * is an independent matrix product over the channels:
 *   forward          M[xi] [Co, P] = U[xi] [Co, Ci] V[xi] [Ci, P]   U = G g G^T, V = B^T d B
 *                    then y tile = A^T M A (+ bias)
 *   backward-data    the forward pass on dy, with the kernel transposed (Co <-> Ci) and turned 180 degrees
 *   backward-filter  dU[xi] [Co, Ci] += E[xi] [Co, P] V[xi]^T   E = A dY A^T, then dw += G^T dU G
 * F(4x4, 3x3) does 36 multiplications per 16 outputs instead of 144, F(3x3, 2x2) 16 per 9 instead of
 * 36. The tiles are taken P at a time (a block, sized so that V and M stay in cache; in the forward a
 * block may span the small images of a batch), and the a*a products of a block are single-threaded
 * SGEMMs. As in conv.c, every output has one owner and
 * a fixed summation order, so results are deterministic for a thread count. F(4x4, 3x3)'s transforms
 * scale by up to 8 and 1/24, so results differ from the direct method by rounding of about 1e-6 of the
 * output's scale (tested against a double-precision loop to 1e-5, and by the golden check). */
#include <string.h>
#include <omp.h>
#include "cpu.h"
#include "winograd.h"

#define BLOCK_FLOATS (1 << 20) /* V and M of one block together: 4 MB, in the L2/L3 caches */

/* span: blocks may span images (the forward); else each image is cut into blocks of its own, as the
 * backward passes always were (their sums over the tiles keep their order, and so their rounding) */
static void wgeom_init(wgeom *g, const wkind *kd, int pad, int N, int Ci, int H, int W, int Co, int threads,
                       int span) {
    const int m = kd->m;
    g->N = N, g->Ci = Ci, g->H = H, g->W = W, g->Co = Co;
    g->m = m, g->a = m + kd->r - 1, g->pts = g->a * g->a, g->pad = pad;
    g->th = (H + m - 1) / m, g->tw = (W + m - 1) / m;
    g->T = g->th * g->tw;
    g->len = m * g->tw + kd->r - 1;
    long P = BLOCK_FLOATS / ((long)g->pts * (Ci + Co));
    if (P < 64) P = 64; /* fewer tiles make the SGEMMs too thin */
    if (P > 2048) P = 2048;
    const long all = (long)N * g->T;            /* tiles of the batch */
    long share = (all + threads - 1) / threads; /* enough blocks to feed every thread */
    if (P > share) P = share;
    if (P > (span ? all : g->T)) P = span ? all : g->T;
    if (P < 1) P = 1;
    if (span) {
        g->bpi = 0;
        g->blocks = (int)((all + P - 1) / P);
        g->P = (int)((all + g->blocks - 1) / g->blocks); /* the same size for every block */
    } else {
        g->bpi = (int)((g->T + P - 1) / P);
        g->P = (g->T + g->bpi - 1) / g->bpi;
        g->blocks = N * g->bpi;
    }
}

/* block it: its first tile p0 (numbered across the batch) and its tile count */
static void wblock(const wgeom *g, int it, int *p0, int *np) {
    if (g->bpi) {
        const int img = it / g->bpi, b = it % g->bpi;
        *p0 = img * g->T + b * g->P;
        *np = g->T - b * g->P < g->P ? g->T - b * g->P : g->P;
    } else {
        *p0 = it * g->P;
        *np = g->N * g->T - *p0 < g->P ? g->N * g->T - *p0 : g->P;
    }
}

/* per-thread workspace: scratch rows for the transforms (2a + m rows, an [m, a] set of runs), or an
 * input row and two sets of a rows split into m phases of tw + 1 tiles (input_tf4) */
static size_t scratch_floats(const wgeom *g) {
    size_t rows = (size_t)(2 * g->a + g->m) * g->len + (size_t)g->m * g->a * g->tw;
    size_t phases = (size_t)(2 * g->a + 1) * g->m * (g->tw + 1);
    return rows > phases ? rows : phases;
}

/* Two ways to share a convolution among the threads:
 * - by blocks of tiles: each thread transforms, multiplies and transforms back whole blocks of its own
 *   (no synchronisation; the way when there are many blocks);
 * - by channels, for few blocks (small images): the threads go through the blocks together, each
 *   transforming a share of the input channels, then (after a barrier) multiplying and transforming back
 *   a share of the output channels, so no thread packs the whole of U for a few tiles. */
static int by_channels(const wgeom *g, int threads, int Cout) {
    return threads > 1 && g->blocks < 4L * threads && Cout >= 8 * threads;
}

/* y [N, Cout, H, W] = the convolution of x [N, Cin, H, W] by w (the forward kernel, or with bwd the
 * backward-data one) (+ b) (acc: y +=), the patches starting pad rows and columns before their tiles */
static void wino_apply(cpu_ctx *c, const wkind *kd, int pad, const float *x, const float *w, const float *b,
                       float *y, int N, int Cin, int H, int W, int Cout, int Co, int Ci, int bwd, int acc,
                       const cpu_epi *epi) {
    wgeom g;
    wgeom_init(&g, kd, pad, N, Cin, H, W, Cout, c->threads, !bwd);
    const int pts = g.pts;
    const size_t nu = pts * (size_t)Cout * Cin, nv = pts * (size_t)Cin * g.P, nm = pts * (size_t)Cout * g.P;
    const int chan = by_channels(&g, c->threads, Cout);
    /* the forward kernels of an inference forward are transformed once (kcache.c), others every call */
    int fresh = 0;
    float *kept = bwd ? NULL : cpu_kcache_get(c, w, Co, Ci, kd->r, nu, 0, &fresh);
    if (!kept) fresh = 1; /* transformed into the workspace */
    /* work: U [pts, Cout, Cin] unless kept, then V and M when sharing by channels */
    float *work = cpu_grow(c, &c->wino, &c->wino_cap, (kept ? 1 : nu) + (chan ? nv + nm : 0));
    if (!work || cpu_reserve(c, (chan ? 0 : nv + nm) + scratch_floats(&g))) return;
    float *U = kept ? kept : work, *shared = kept ? work : work + nu;
    const int items = g.blocks;
#pragma omp parallel num_threads(c->threads)
    {
        if (fresh) kd->weights(w, Co, Ci, bwd, U); /* omp for: ends with a barrier */
        const int tid = omp_get_thread_num(), nt = omp_get_num_threads();
        if (chan) {
            float *V = shared, *M = V + nv, *buf = cpu_ws(c, tid);
            int ci0, ci1, co0, co1;
            cpu_share(Cin, tid, nt, &ci0, &ci1);
            cpu_share(Cout, tid, nt, &co0, &co1);
            for (int it = 0; it < items; it++) {
                int p0, np;
                wblock(&g, it, &p0, &np);
#pragma omp barrier
                kd->input(&g, x, Cin, ci0, ci1, p0, np, V, buf, NULL);
#pragma omp barrier
                if (co1 > co0)
                    for (int xi = 0; xi < pts; xi++)
                        cpu_sgemm(c, 0, 0, co1 - co0, np, Cin, 1.0f,
                                  U + (size_t)xi * Cout * Cin + (size_t)co0 * Cin, Cin,
                                  V + (size_t)xi * Cin * g.P, g.P, 0.0f,
                                  M + (size_t)xi * Cout * g.P + (size_t)co0 * g.P, g.P);
                kd->output(&g, M, Cout, co0, co1, p0, np, b, acc, epi, y, buf);
            }
        } else {
            float *V = cpu_ws(c, tid);
            float *M = V + nv, *buf = M + nm;
#pragma omp for schedule(dynamic, 1)
            for (int it = 0; it < items; it++) {
                int p0, np;
                wblock(&g, it, &p0, &np);
                kd->input(&g, x, Cin, 0, Cin, p0, np, V, buf, NULL);
                for (int xi = 0; xi < pts; xi++)
                    cpu_sgemm(c, 0, 0, Cout, np, Cin, 1.0f,
                              U + (size_t)xi * Cout * Cin, Cin, V + (size_t)xi * Cin * g.P, g.P, 0.0f,
                              M + (size_t)xi * Cout * g.P, g.P);
                kd->output(&g, M, Cout, 0, Cout, p0, np, b, acc, epi, y, buf);
            }
        }
    }
}

/* the kind for a k x k kernel (3 or 2), and TF 'same' padding before: k 3 pads 1, k 2 pads 0 */
static const wkind *kind_of(const cpu_ctx *c, int k, int *pt) {
    static const wkind *const f43[] = {&wino_f43_x86_64, &wino_f43_avx2, &wino_f43_avx512};
    static const wkind *const f32[] = {&wino_f32_x86_64, &wino_f32_avx2, &wino_f32_avx512};
    *pt = k == 3 ? 1 : 0;
    return k == 3 ? f43[c->isa] : f32[c->isa];
}

void cpu_wino_fwd(cpu_ctx *c, const float *x, const float *w, const float *b, float *y,
                  int N, int Ci, int H, int W, int Co, int k, const cpu_epi *epi) {
    int pt;
    const wkind *kd = kind_of(c, k, &pt);
    wino_apply(c, kd, pt, x, w, b, y, N, Ci, H, W, Co, Co, Ci, 0, 0, epi);
}

/* dx is the convolution of dy by the turned kernels with the padding on the other side: k-1-pt before */
void cpu_wino_bwd_data(cpu_ctx *c, const float *dy, const float *w, float *dx,
                       int N, int Ci, int H, int W, int Co, int k, int acc) {
    int pt;
    const wkind *kd = kind_of(c, k, &pt);
    wino_apply(c, kd, k - 1 - pt, dy, w, NULL, dx, N, Co, H, W, Ci, Co, Ci, 1, acc, NULL);
}

/* The transformed gradient dU [pts, Co, Ci] is summed over the tiles: by blocks of tiles, each thread
 * sums a fixed contiguous share of the blocks into a partial of its own, the partials then summed in
 * thread order; by channels, each thread owns a share of the output channels of dU. */
void cpu_wino_bwd_filter(cpu_ctx *c, const float *x, const cpu_epi *pro, const float *dy, float *dw,
                         int N, int Ci, int H, int W, int Co, int k) {
    int pt;
    const wkind *kd = kind_of(c, k, &pt);
    wgeom g;
    wgeom_init(&g, kd, pt, N, Ci, H, W, Co, c->threads, 0);
    const int pts = g.pts;
    const size_t nu = pts * (size_t)Co * Ci, np1 = (size_t)Co * Ci;
    const size_t nv = pts * (size_t)Ci * g.P, ne = pts * (size_t)Co * g.P;
    const int chan = by_channels(&g, c->threads, Co);
    const int nparts = chan ? 1 : c->threads;
    float *part = cpu_grow(c, &c->wino, &c->wino_cap, nu * nparts + (chan ? nv + ne : 0));
    if (!part || cpu_reserve(c, (chan ? 0 : nv + ne) + scratch_floats(&g))) return;
    const int items = g.blocks;
    int nt = 1;
#pragma omp parallel num_threads(c->threads)
    {
        const int tid = omp_get_thread_num();
#pragma omp single
        nt = omp_get_num_threads();
        /* implicit barrier: nt is set */
        if (chan) {
            float *V = part + nu, *E = V + nv, *buf = cpu_ws(c, tid);
            int ci0, ci1, co0, co1;
            cpu_share(Ci, tid, nt, &ci0, &ci1);
            cpu_share(Co, tid, nt, &co0, &co1);
            for (int xi = 0; xi < pts; xi++)
                memset(part + xi * np1 + (size_t)co0 * Ci, 0, (size_t)(co1 - co0) * Ci * sizeof(float));
            for (int it = 0; it < items; it++) {
                int p0, np;
                wblock(&g, it, &p0, &np);
#pragma omp barrier
                kd->input(&g, x, Ci, ci0, ci1, p0, np, V, buf, pro);
                kd->grad(&g, dy, Co, co0, co1, p0, np, E, buf);
#pragma omp barrier
                if (co1 > co0)
                    for (int xi = 0; xi < pts; xi++)
                        cpu_sgemm(c, 0, 1, co1 - co0, Ci, np, 1.0f,
                                  E + (size_t)xi * Co * g.P + (size_t)co0 * g.P, g.P,
                                  V + (size_t)xi * Ci * g.P, g.P, 1.0f, part + xi * np1 + (size_t)co0 * Ci, Ci);
            }
        } else {
            float *dU = part + (size_t)tid * nu; /* [pts, Co, Ci] */
            memset(dU, 0, nu * sizeof(float));
            float *V = cpu_ws(c, tid);
            float *E = V + nv, *buf = E + ne;
            /* a fixed contiguous share of the blocks per thread: the sums do not depend on timing */
            int i0, i1;
            cpu_share(items, tid, nt, &i0, &i1);
            for (int it = i0; it < i1; it++) {
                int p0, np;
                wblock(&g, it, &p0, &np);
                kd->input(&g, x, Ci, 0, Ci, p0, np, V, buf, pro);
                kd->grad(&g, dy, Co, 0, Co, p0, np, E, buf);
                for (int xi = 0; xi < pts; xi++)
                    cpu_sgemm(c, 0, 1, Co, Ci, np, 1.0f,
                              E + (size_t)xi * Co * g.P, g.P, V + (size_t)xi * Ci * g.P, g.P, 1.0f,
                              dU + (size_t)xi * np1, Ci);
            }
        }
#pragma omp barrier
        if (nparts > 1) { /* the partials summed into the first, in thread order */
#pragma omp for schedule(static)
            for (size_t j = 0; j < nu; j++)
                for (int t = 1; t < nparts; t++) part[j] += part[(size_t)t * nu + j];
        }
        kd->adjoint(part, np1, dw);
    }
}
