/* test_cuda_geom.c: the CUDA backend's convolution geometry (cuda/geom.h), checked on the CPU.
 *
 * The CUDA backend hands cuDNN symmetric padding (pt, pl) and, where TF 'same' puts one more zero at the
 * bottom/right, an input padded by one zero row/column there; backward-data crops the padded gradient.
 * Here a naive convolution that does exactly what cuDNN is asked to do (symmetric padding on the padded
 * input, cuDNN's output size) is compared with the CPU backend's TF-'same' convolution in all three
 * directions, for every kernel size and stride FocusNet uses and odd/even sizes, including the acc = 1
 * crop of backward-data. No GPU needed. */
#include <stdint.h>
#include <stdlib.h>
#include "backend/backend.h"
#include "check.h"
#include "../../cuda/geom.h"

static uint64_t rs = 0x2545F4914F6CDD1Dull;
static float rnd(void) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return (float)((rs >> 40) * (1.0 / 8388608.0) - 1.0);
}

static void test_sizes(void) {
    const int ks[] = {1, 2, 3, 7};
    for (int in = 1; in <= 300; in++)
        for (int a = 0; a < 4; a++)
            for (int s = 1; s <= 2; s++) {
                int k = ks[a];
                fn_cu_geom g;
                fn_cu_geom_init(&g, in, in + 1, k, s);
                CHECKF(g.eh == 0 || g.eh == 1, "in %d k %d s %d: eh %d", in, k, s, g.eh);
                CHECKF(g.ew == 0 || g.ew == 1, "in %d k %d s %d: ew %d", in + 1, k, s, g.ew);
                CHECKF(fn_cu_cudnn_out(g.Hp, g.pt, k, s) == g.Ho, "in %d k %d s %d", in, k, s);
                CHECKF(fn_cu_cudnn_out(g.Wp, g.pl, k, s) == g.Wo, "in %d k %d s %d", in + 1, k, s);
                CHECK(g.Ho == (in + s - 1) / s);
                CHECK(g.pt >= 0 && g.pt < k);
            }
    /* the cases named in the design: 3x3/s2 even 0|1, 2x2/s1 0|1, 7x7/s2 even 2|3, 3x3/s2 odd 1|1 */
    fn_cu_geom g;
    fn_cu_geom_init(&g, 256, 255, 3, 2);
    CHECK(g.pt == 0 && g.eh == 1 && g.pl == 1 && g.ew == 0 && g.Ho == 128 && g.Wo == 128);
    fn_cu_geom_init(&g, 64, 64, 2, 1);
    CHECK(g.pt == 0 && g.eh == 1 && g.Ho == 64);
    fn_cu_geom_init(&g, 256, 256, 7, 2);
    CHECK(g.pt == 2 && g.eh == 1 && g.Ho == 128);
    fn_cu_geom_init(&g, 256, 256, 1, 2);
    CHECK(g.pt == 0 && g.eh == 0 && g.Ho == 128);
}

/* what cuDNN computes: x [N,Ci,Hp,Wp] symmetric padding pt/pl, stride s, y [N,Co,Ho',Wo'] with cuDNN's
 * output size Ho' (which test_sizes checks equals Ho). A read outside the symmetrically padded input
 * [-pt, Hp+pt) x [-pl, Wp+pl) is something cuDNN never does: it counts as a failure. */
static int outside;
static const fn_cu_geom *cur;
static float xat(const float *x, int Hp, int Wp, int h, int w) {
    if (h < -cur->pt || h >= Hp + cur->pt || w < -cur->pl || w >= Wp + cur->pl) outside++;
    return h < 0 || h >= Hp || w < 0 || w >= Wp ? 0.0f : x[(size_t)h * Wp + w];
}

static void sym_fwd(const fn_cu_geom *g, const float *xp, const float *wt, float *y, int N, int Ci, int Co, int k,
                    int s) {
    const int Ho = fn_cu_cudnn_out(g->Hp, g->pt, k, s), Wo = fn_cu_cudnn_out(g->Wp, g->pl, k, s);
    CHECK(Ho == g->Ho && Wo == g->Wo);
    cur = g;
    outside = 0;
    for (int n = 0; n < N; n++)
        for (int co = 0; co < Co; co++)
            for (int oh = 0; oh < Ho && oh < g->Ho; oh++)
                for (int ow = 0; ow < Wo && ow < g->Wo; ow++) {
                    double acc = 0;
                    for (int ci = 0; ci < Ci; ci++)
                        for (int kh = 0; kh < k; kh++)
                            for (int kw = 0; kw < k; kw++)
                                acc += (double)wt[((co * Ci + ci) * k + kh) * k + kw] *
                                       xat(xp + ((size_t)n * Ci + ci) * g->Hp * g->Wp, g->Hp, g->Wp,
                                           oh * s - g->pt + kh, ow * s - g->pl + kw);
                    y[(((size_t)n * Co + co) * g->Ho + oh) * g->Wo + ow] = (float)acc;
                }
}

/* the adjoints: dxp [N,Ci,Hp,Wp] = (d y / d xp)^T dy; dw [Co,Ci,k,k] = (d y / d w)^T dy */
static void sym_bwd(const fn_cu_geom *g, const float *xp, const float *wt, const float *dy, float *dxp, float *dw,
                    int N, int Ci, int Co, int k, int s) {
    size_t nxp = (size_t)N * Ci * g->Hp * g->Wp, nw = (size_t)Co * Ci * k * k;
    double *ax = calloc(nxp, sizeof *ax), *aw = calloc(nw, sizeof *aw);
    for (int n = 0; n < N; n++)
        for (int co = 0; co < Co; co++)
            for (int oh = 0; oh < g->Ho; oh++)
                for (int ow = 0; ow < g->Wo; ow++) {
                    double d = dy[(((size_t)n * Co + co) * g->Ho + oh) * g->Wo + ow];
                    for (int ci = 0; ci < Ci; ci++)
                        for (int kh = 0; kh < k; kh++)
                            for (int kw = 0; kw < k; kw++) {
                                int h = oh * s - g->pt + kh, w = ow * s - g->pl + kw;
                                if (h < 0 || h >= g->Hp || w < 0 || w >= g->Wp) continue;
                                size_t xi = (((size_t)n * Ci + ci) * g->Hp + h) * g->Wp + w;
                                size_t wi = ((size_t)(co * Ci + ci) * k + kh) * k + kw;
                                ax[xi] += wt[wi] * d;
                                aw[wi] += xp[xi] * d;
                            }
                }
    for (size_t i = 0; i < nxp; i++) dxp[i] = (float)ax[i];
    for (size_t i = 0; i < nw; i++) dw[i] = (float)aw[i];
    free(ax), free(aw);
}

static double maxrel(const float *a, const float *b, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (e > d) d = e;
        if (fabs(b[i]) > r) r = fabs(b[i]);
    }
    return r > 0 ? d / r : d;
}

static void conv_case(fn_backend *be, int N, int Ci, int H, int W, int Co, int k, int s) {
    fn_cu_geom g;
    fn_cu_geom_init(&g, H, W, k, s);
    size_t nx = (size_t)N * Ci * H * W, nxp = (size_t)N * Ci * g.Hp * g.Wp, ny = (size_t)N * Co * g.Ho * g.Wo;
    size_t nw = (size_t)Co * Ci * k * k;
    float *x = be->alloc(be->ctx, nx), *wt = be->alloc(be->ctx, nw), *y = be->alloc(be->ctx, ny);
    float *dy = be->alloc(be->ctx, ny), *dx = be->alloc(be->ctx, nx), *dw = be->alloc(be->ctx, nw);
    float *xp = calloc(nxp, sizeof *xp), *ys = calloc(ny, sizeof *ys), *dxp = calloc(nxp, sizeof *dxp);
    float *dws = calloc(nw, sizeof *dws), *dxs = calloc(nx, sizeof *dxs);
    for (size_t i = 0; i < nx; i++) x[i] = rnd();
    for (size_t i = 0; i < nw; i++) wt[i] = rnd();
    for (size_t i = 0; i < ny; i++) dy[i] = rnd();
    /* the padded copy, as cuda/conv.cu's pad_kernel makes it */
    for (size_t pl = 0; pl < (size_t)N * Ci; pl++)
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++) xp[(pl * g.Hp + h) * g.Wp + w] = x[(pl * H + h) * W + w];
    be->conv_fwd(be->ctx, x, wt, NULL, y, N, Ci, H, W, Co, k, s);
    sym_fwd(&g, xp, wt, ys, N, Ci, Co, k, s);
    CHECKF(maxrel(ys, y, ny) < 1e-5, "fwd %dx%d k%d s%d: %g", H, W, k, s, maxrel(ys, y, ny));
    CHECKF(outside == 0, "fwd %dx%d k%d s%d: %d reads outside cuDNN's padded input", H, W, k, s, outside);
    sym_bwd(&g, xp, wt, dy, dxp, dws, N, Ci, Co, k, s);
    /* backward-data: the crop of dxp, written (acc 0), then added (acc 1) */
    for (size_t pl = 0; pl < (size_t)N * Ci; pl++)
        for (int h = 0; h < H; h++)
            for (int w = 0; w < W; w++) dxs[(pl * H + h) * W + w] = dxp[(pl * g.Hp + h) * g.Wp + w];
    be->conv_bwd_data(be->ctx, dy, wt, dx, N, Ci, H, W, Co, k, s, 0);
    CHECKF(maxrel(dxs, dx, nx) < 1e-5, "bwd-data %dx%d k%d s%d: %g", H, W, k, s, maxrel(dxs, dx, nx));
    be->conv_bwd_data(be->ctx, dy, wt, dx, N, Ci, H, W, Co, k, s, 1);
    for (size_t i = 0; i < nx; i++) dxs[i] *= 2;
    CHECKF(maxrel(dxs, dx, nx) < 1e-5, "bwd-data acc %dx%d k%d s%d", H, W, k, s);
    be->conv_bwd_filter(be->ctx, x, dy, dw, N, Ci, H, W, Co, k, s);
    CHECKF(maxrel(dws, dw, nw) < 1e-5, "bwd-filter %dx%d k%d s%d: %g", H, W, k, s, maxrel(dws, dw, nw));
    be->free(be->ctx, x), be->free(be->ctx, wt), be->free(be->ctx, y);
    be->free(be->ctx, dy), be->free(be->ctx, dx), be->free(be->ctx, dw);
    free(xp), free(ys), free(dxp), free(dws), free(dxs);
}

static void test_against_cpu(void) {
    fn_err e;
    fn_backend *be = fn_cpu_backend_new(1, &e);
    CHECK(be != NULL);
    if (!be) return;
    const int ks[] = {1, 2, 3, 7};
    const int hw[][2] = {{8, 8}, {9, 7}, {6, 11}, {1, 1}, {2, 3}, {16, 15}};
    for (int a = 0; a < 4; a++)
        for (int s = 1; s <= 2; s++)
            for (size_t c = 0; c < sizeof hw / sizeof *hw; c++) conv_case(be, 2, 3, hw[c][0], hw[c][1], 4, ks[a], s);
    fn_backend_close(be);
}

int main(void) {
    RUN(test_sizes);
    RUN(test_against_cpu);
    return check_report();
}
