/* winograd.h: the private interface of the Winograd convolutions (lib/cpu/winograd*.c).
 *
 * winograd.c drives them: geometry, blocks of tiles, threads, the SGEMMs of the transformed points.
 * A kind (winograd_f43.c, winograd_f32.c) is one F(m x m, r x r) algorithm: its transforms
 *   V = B^T d B (input patches), y = A^T M A (output tiles), E = A e A^T (output-gradient tiles),
 *   U = G g G^T (kernels) and dw = G^T dU G (kernel gradients),
 * each written out in full for its matrices, so that the compiler vectorises it along the tiles or
 * channels. */
#ifndef FN_WINOGRAD_H
#define FN_WINOGRAD_H

#include <stddef.h>

struct cpu_epi;

typedef struct wgeom {
    int N, Ci, H, W, Co; /* the forward view: Ci channels in, Co out, H x W both */
    int m, a, pts;       /* output tile m x m, input patch a x a (a = m + r - 1), a*a transformed points */
    int pad;             /* the patch of tile (i, j) starts at row m*i - pad, column m*j - pad */
    int th, tw, T;       /* tiles: rows, columns, per image */
    int P, blocks;       /* tiles per block, blocks in all */
    int bpi;             /* blocks per image, or 0: blocks span images */
    int len;             /* scratch row length: the input columns of a run of tiles */
} wgeom;

typedef struct wkind {
    int m, r;
    /* V [pts, C, P] of the tiles [p0, p0+np) of the batch x [N, C, H, W], channels [c0, c1), x's values
     * through the prologue pro (NULL: none; cpu_bn_value per channel) */
    void (*input)(const wgeom *g, const float *x, int C, int c0, int c1, int p0, int np, float *V, float *buf,
                  const struct cpu_epi *pro);
    /* y [N, C, H, W] (=, or += with acc) from M [pts, C, P] (+ b[c]) for those tiles, channels [c0, c1),
     * through epi (NULL: none; only with acc 0) */
    void (*output)(const wgeom *g, const float *M, int C, int c0, int c1, int p0, int np, const float *b,
                   int acc, const struct cpu_epi *epi, float *y, float *buf);
    /* E [pts, C, P] of the m x m tiles [p0, p0+np) of dy [N, C, H, W] (zeros outside), channels [c0, c1) */
    void (*grad)(const wgeom *g, const float *dy, int C, int c0, int c1, int p0, int np, float *E, float *buf);
    /* U [pts, Cout, Cin] of w [Co, Ci, r, r]: forward (Cout = Co), or for backward-data transposed and
     * turned 180 degrees (Cout = Ci, Cin = Co). An orphaned omp for: call it from every thread. */
    void (*weights)(const float *w, int Co, int Ci, int bwd, float *U);
    /* dw [Co*Ci, r*r] += G^T dU G for dU [pts, Co*Ci] (overwritten). An orphaned omp for. */
    void (*adjoint)(float *dU, size_t xs, float *dw);
} wkind;

/* each kind once per enum cpu_isa level (see cpu.h); winograd.c indexes them by the context's */
extern const wkind wino_f43_x86_64, wino_f43_avx2, wino_f43_avx512;
extern const wkind wino_f32_x86_64, wino_f32_avx2, wino_f32_avx512;

/* the row helpers below: one copy per level, each level's transforms calling their own */
#define wino_gather_row CPU_ISA_SYM(wino_gather_row)
#define wino_store CPU_ISA_SYM(wino_store)

/* out[0, len) = row r of the channel src [H, W], columns c0 .. c0+len-1, zeros outside the image; the
 * values inside through channel c of the prologue pro (NULL: none; cpu_bn_value's arithmetic) */
void wino_gather_row(const float *src, int H, int W, int r, int c0, int len, float *out,
                     const struct cpu_epi *pro, int c);

/* the m output rows o [m, g->len] of the run of n tiles at tile row ti, tile column j0 into channel c
 * y [H, W] (=, or += with acc, or through epi), the parts outside the image left out */
void wino_store(const wgeom *g, float *y, int ti, int j0, int n, const float *o, int acc,
                const struct cpu_epi *epi, int c);

/* The tiles of the batch are numbered image by image, tile row by tile row; a block is P consecutive
 * ones, which may span images (the small ones of a batch share the SGEMMs). A block is walked as runs
 * along one tile row of one image: the run starting at tile p (at most left tiles) is the plane
 * (*img * C + c) of its tensor, tile row *ti, tile columns *j0 .. *j0 + n - 1; returns n. */
static inline int wino_run_at(const wgeom *g, int p, int left, int *img, int *ti, int *j0) {
    const int r = p % g->T;
    *img = p / g->T, *ti = r / g->tw, *j0 = r % g->tw;
    return g->tw - *j0 < left ? g->tw - *j0 : left;
}

/* channel c of image img of a tensor [N, C, H, W] */
static inline size_t wino_plane(const wgeom *g, int img, int C, int c) {
    return ((size_t)img * C + c) * g->H * g->W;
}

#endif
