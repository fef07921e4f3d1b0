/* test_cpu_ops.c: every op of the CPU backend against finite differences of a random linear functional
 * L = sum(r * y) (central differences), against naive double-precision references (convolution with
 * explicit TensorFlow 'same' padding, batch-norm running statistics, Adam, Dice), the acc = 1 paths,
 * and bitwise determinism. FD_VERBOSE=1 prints how close each finite-difference check came to its tolerance. */
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <omp.h>
#include "backend/backend.h"
#include "check.h"
#include "cpu/cpu.h"
#ifdef FN_DNNL
#include <dnnl.h>
#endif

static fn_backend *be;

/* under AddressSanitizer, a failed giant allocation returns NULL (as without it) instead of aborting */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

/* test RNG ---------------------------------------------------------------------------------------- */
static uint64_t rs = 0x1234567;
static uint64_t rnext(void) {
    rs ^= rs << 13, rs ^= rs >> 7, rs ^= rs << 17;
    return rs;
}
static double runif(void) { return (double)(rnext() >> 11) * (1.0 / 9007199254740992.0); }
static float rnorm(void) {
    double u = runif() + 1e-12, v = runif();
    return (float)(sqrt(-2 * log(u)) * cos(6.283185307179586 * v));
}
static float *buf(size_t n) {
    float *p = be->alloc(be->ctx, n);
    if (!p) abort();
    return p;
}
static float *rbuf(size_t n) {
    float *p = buf(n);
    for (size_t i = 0; i < n; i++) p[i] = rnorm();
    return p;
}
static void bfree(float *p) { be->free(be->ctx, p); }
static double dotd(const float *a, const float *b, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* finite differences ------------------------------------------------------------------------------ */
typedef double (*loss_fn)(void *st);

/* central differences of f with respect to p[i] on up to nsamp indices, against the analytic g[i]:
 * |fd - g| <= atol + rtol * max(|fd|, |g|). Returns the number of mismatches (and prints the first). */
static int fd_check(const char *what, loss_fn f, void *st, float *p, const float *g, size_t n, size_t nsamp,
                    float h, double atol, double rtol) {
    int bad = 0;
    double worst = 0, worst_abs = 0;
    for (size_t j = 0; j < (n < nsamp ? n : nsamp); j++) {
        size_t i = n <= nsamp ? j : (size_t)(rnext() % n);
        float old = p[i], hi = h * fmaxf(1.0f, fabsf(old));
        float up = old + hi, dn = old - hi;
        p[i] = up;
        double lp = f(st);
        p[i] = dn;
        double lm = f(st);
        p[i] = old;
        double fd = (lp - lm) / ((double)up - (double)dn);
        double tol = atol + rtol * fmax(fabs(fd), fabs((double)g[i]));
        worst = fmax(worst, fabs(fd - g[i]) / tol);
        worst_abs = fmax(worst_abs, fabs(fd - g[i]));
        if (!(fabs(fd - g[i]) <= tol)) {
            if (!bad) fprintf(stderr, "  %s[%zu]: finite difference %.6g, analytic %.6g\n", what, i, fd, (double)g[i]);
            bad++;
        }
    }
    f(st); /* leave the outputs of the unperturbed inputs behind */
    if (getenv("FD_VERBOSE")) fprintf(stderr, "  %-10s worst error %.3g of the tolerance (%.3g)\n", what, worst, worst_abs);
    return bad;
}

static double max_rel_diff(const float *a, const double *b, size_t n) {
    double scale = 1e-3, worst = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs(b[i]));
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(a[i] - b[i]) / scale);
    return worst;
}

/* convolution ------------------------------------------------------------------------------------- */

/* TF 'same', written out again independently of fn_same */
static void tf_same(int in, int k, int s, int *out, int *pad_top) {
    *out = (in + s - 1) / s;
    int total = (*out - 1) * s + k - in;
    if (total < 0) total = 0;
    *pad_top = total / 2;
}

typedef struct conv_case {
    int N, Ci, H, W, Co, k, s, Ho, Wo;
    float *x, *w, *b, *y, *r;
} conv_case;

/* y, dx, dw in double by direct loops (any of them may be NULL) */
static void conv_naive(const conv_case *c, const float *x, const float *w, const float *b, const float *dy,
                       double *y, double *dx, double *dw) {
    int Ho, Wo, pt, pl;
    tf_same(c->H, c->k, c->s, &Ho, &pt);
    tf_same(c->W, c->k, c->s, &Wo, &pl);
    if (y)
        for (int i = 0; i < c->N * c->Co * Ho * Wo; i++) y[i] = 0;
    if (dx)
        for (int i = 0; i < c->N * c->Ci * c->H * c->W; i++) dx[i] = 0;
    if (dw)
        for (int i = 0; i < c->Co * c->Ci * c->k * c->k; i++) dw[i] = 0;
    for (int n = 0; n < c->N; n++)
        for (int co = 0; co < c->Co; co++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    size_t yi = (((size_t)n * c->Co + co) * Ho + oh) * Wo + ow;
                    double acc = b ? b[co] : 0;
                    for (int ci = 0; ci < c->Ci; ci++)
                        for (int kh = 0; kh < c->k; kh++)
                            for (int kw = 0; kw < c->k; kw++) {
                                int ih = oh * c->s + kh - pt, iw = ow * c->s + kw - pl;
                                if (ih < 0 || ih >= c->H || iw < 0 || iw >= c->W) continue;
                                size_t xi = (((size_t)n * c->Ci + ci) * c->H + ih) * c->W + iw;
                                size_t wi = (((size_t)co * c->Ci + ci) * c->k + kh) * c->k + kw;
                                acc += (double)w[wi] * x[xi];
                                if (dx) dx[xi] += (double)w[wi] * dy[yi];
                                if (dw) dw[wi] += (double)x[xi] * dy[yi];
                            }
                    if (y) y[yi] = acc;
                }
}

static double conv_loss(void *st) {
    conv_case *c = st;
    be->conv_fwd(be->ctx, c->x, c->w, c->b, c->y, c->N, c->Ci, c->H, c->W, c->Co, c->k, c->s);
    return dotd(c->r, c->y, (size_t)c->N * c->Co * c->Ho * c->Wo);
}

/* one geometry: forward against the naive loop, gradients against finite differences and the naive
 * loop, the acc paths, and determinism. fd: run the finite differences (small cases) */
static void conv_one(int N, int Ci, int H, int W, int Co, int k, int s, int fd) {
    conv_case c = {N, Ci, H, W, Co, k, s, 0, 0, NULL, NULL, NULL, NULL, NULL};
    int pt, pl;
    tf_same(H, k, s, &c.Ho, &pt);
    tf_same(W, k, s, &c.Wo, &pl);
    const size_t nx = (size_t)N * Ci * H * W, nw = (size_t)Co * Ci * k * k, ny = (size_t)N * Co * c.Ho * c.Wo;
    c.x = rbuf(nx), c.w = rbuf(nw), c.b = rbuf((size_t)Co), c.y = buf(ny), c.r = rbuf(ny);
    double *yref = malloc(ny * sizeof *yref), *dxref = malloc(nx * sizeof *dxref),
           *dwref = malloc(nw * sizeof *dwref);
    conv_naive(&c, c.x, c.w, c.b, c.r, yref, dxref, dwref);
    char what[96];
    snprintf(what, sizeof what, "conv N%d Ci%d %dx%d Co%d k%d s%d", N, Ci, H, W, Co, k, s);

    be->conv_fwd(be->ctx, c.x, c.w, c.b, c.y, N, Ci, H, W, Co, k, s);
    double e = max_rel_diff(c.y, yref, ny);
    CHECKF(e < 1e-5, "%s: forward vs naive: %g", what, e);
    /* no bias */
    float *y2 = buf(ny);
    double *yref2 = malloc(ny * sizeof *yref2);
    conv_naive(&c, c.x, c.w, NULL, c.r, yref2, NULL, NULL);
    be->conv_fwd(be->ctx, c.x, c.w, NULL, y2, N, Ci, H, W, Co, k, s);
    e = max_rel_diff(y2, yref2, ny);
    CHECKF(e < 1e-5, "%s: forward without bias vs naive: %g", what, e);

    /* analytic gradients of L = sum r*y */
    float *dx = buf(nx), *dw = buf(nw), *db = buf((size_t)Co);
    be->fill(be->ctx, dx, NAN, nx); /* acc = 0 must overwrite */
    be->conv_bwd_data(be->ctx, c.r, c.w, dx, N, Ci, H, W, Co, k, s, 0);
    be->conv_bwd_filter(be->ctx, c.x, c.r, dw, N, Ci, H, W, Co, k, s);
    be->conv_bwd_bias(be->ctx, c.r, db, N, Co, c.Ho * c.Wo);
    e = max_rel_diff(dx, dxref, nx);
    CHECKF(e < 1e-5, "%s: dx vs naive: %g", what, e);
    e = max_rel_diff(dw, dwref, nw);
    CHECKF(e < 1e-5, "%s: dw vs naive: %g", what, e);
    for (int co = 0; co < Co; co++) { /* float sums: the error bound grows with the sum of |terms| */
        double s0 = 0, sa = 0;
        for (int n = 0; n < N; n++)
            for (int i = 0; i < c.Ho * c.Wo; i++) {
                const float v = c.r[((size_t)n * Co + co) * c.Ho * c.Wo + i];
                s0 += v, sa += fabs(v);
            }
        CHECKF(fabs(db[co] - s0) <= 1e-4 * (1 + fabs(s0)) + 1e-6 * sa, "%s: db[%d] %g vs %g", what, co, db[co], s0);
    }
    if (fd) { /* L is linear in x, w and b: central differences are exact for any step, and a long
               * step keeps the rounding of the forward pass (Winograd's especially) out of them */
        CHECKF(fd_check("dx", conv_loss, &c, c.x, dx, nx, 48, 0.25f, 1e-3, 2e-3) == 0, "%s", what);
        CHECKF(fd_check("dw", conv_loss, &c, c.w, dw, nw, 48, 0.25f, 1e-3, 2e-3) == 0, "%s", what);
        CHECKF(fd_check("db", conv_loss, &c, c.b, db, (size_t)Co, 48, 0.25f, 1e-3, 2e-3) == 0, "%s", what);
    }

    /* acc = 1: dx += ; dw += ; db += */
    float *dx2 = rbuf(nx), *dx0 = buf(nx);
    be->copy(be->ctx, dx0, dx2, nx);
    be->conv_bwd_data(be->ctx, c.r, c.w, dx2, N, Ci, H, W, Co, k, s, 1);
    int bad = 0;
    for (size_t i = 0; i < nx; i++) bad += !(fabs(dx2[i] - (dx0[i] + dx[i])) <= 1e-4 * (1 + fabs(dx0[i])));
    CHECKF(bad == 0, "%s: bwd_data acc=1: %d wrong", what, bad);
    float *dw2 = buf(nw);
    be->copy(be->ctx, dw2, dw, nw);
    be->conv_bwd_filter(be->ctx, c.x, c.r, dw2, N, Ci, H, W, Co, k, s);
    bad = 0;
    for (size_t i = 0; i < nw; i++) bad += !(fabs(dw2[i] - 2 * dw[i]) <= 1e-4 * (1 + fabs(dw[i])));
    CHECKF(bad == 0, "%s: bwd_filter accumulates: %d wrong", what, bad);

    /* determinism: the same call twice gives the same bits */
    be->conv_fwd(be->ctx, c.x, c.w, c.b, y2, N, Ci, H, W, Co, k, s);
    CHECKF(memcmp(y2, c.y, ny * sizeof(float)) == 0, "%s: forward not deterministic", what);
    be->conv_bwd_data(be->ctx, c.r, c.w, dx0, N, Ci, H, W, Co, k, s, 0);
    CHECKF(memcmp(dx0, dx, nx * sizeof(float)) == 0, "%s: bwd_data not deterministic", what);
    be->fill(be->ctx, dw2, 0, nw);
    be->conv_bwd_filter(be->ctx, c.x, c.r, dw2, N, Ci, H, W, Co, k, s);
    CHECKF(memcmp(dw2, dw, nw * sizeof(float)) == 0, "%s: bwd_filter not deterministic", what);

    bfree(c.x), bfree(c.w), bfree(c.b), bfree(c.y), bfree(c.r), bfree(y2), bfree(dx), bfree(dw), bfree(db);
    bfree(dx2), bfree(dx0), bfree(dw2);
    free(yref), free(yref2), free(dxref), free(dwref);
}

/* bf16 products (set_precision): for each convolution op, with S the same op on |x|, |w|, |b| (|dy|) in
 * fp32 and K the length of each output's sum, u = 2^-8 (bf16's unit roundoff: 8 significant bits, the
 * 7 stored and the implicit one, as fp32's 24 give e = 2^-24; 1 + 2^-8 is a tie, below) and e = 2^-24:
 *   |bf16 - fp32| <= (2u + u^2 + 2 K e) S   (each product of rounded inputs is off by at most 2u + u^2
 *                                             relative; both sums accumulate in fp32, K e S each)
 *   |bf16 - fp32 of the bf16-rounded inputs| <= 2 K e S   (the same products, summed in another order)
 * and two bf16 runs give the same bits. Both precisions use the direct method here (Winograd off). Where
 * the CPU has no bf16 instructions (ONEDNN_MAX_CPU_ISA=AVX2), set_precision refuses in one line. */
static void rnd_bf16(const float *a, float *r, size_t n) {
    for (size_t i = 0; i < n; i++) r[i] = cpu_bf16_float(cpu_bf16_round(a[i]));
}
static void abs_of(const float *a, float *r, size_t n) {
    for (size_t i = 0; i < n; i++) r[i] = fabsf(a[i]);
}
static int bound_bad(const float *a, const float *b, const float *S, size_t n, double rel, const char *what) {
    int bad = 0;
    for (size_t i = 0; i < n; i++)
        if (!(fabs((double)a[i] - b[i]) <= rel * S[i] + 1e-30)) {
            if (!bad) fprintf(stderr, "  %s [%zu]: %g vs %g, bound %g\n", what, i, a[i], b[i], rel * S[i]);
            bad++;
        }
    return bad;
}
/* oneDNN runs AMX kernels here (their convolutions take NHWC operands, which layout.c makes) */
static int dnn_amx(void) {
#ifdef FN_DNNL
    return dnnl_get_effective_cpu_isa() >= dnnl_cpu_isa_avx512_core_amx;
#else
    return 0;
#endif
}

/* path: how the bf16 convolutions run (cpu_ctx dnnconv): 0 im2col and bf16 matrix products, 2 oneDNN's
 * convolution primitives (dnnconv.c), 1 each pass as the default picks */
static void bf16_one_by(int N, int Ci, int H, int W, int Co, int k, int s, int path) {
    cpu_ctx *cc = be->ctx;
    const int path0 = cc->dnnconv;
    const long runs0 = cc->dnn_runs;
    cc->dnnconv = path;
    int Ho, Wo, pt;
    tf_same(H, k, s, &Ho, &pt);
    tf_same(W, k, s, &Wo, &pt);
    const size_t nx = (size_t)N * Ci * H * W, nw = (size_t)Co * Ci * k * k, ny = (size_t)N * Co * Ho * Wo;
    float *x = rbuf(nx), *w = rbuf(nw), *b = rbuf((size_t)Co), *dy = rbuf(ny);
    float *ax = buf(nx), *aw = buf(nw), *ab = buf((size_t)Co), *ady = buf(ny); /* |.| */
    float *rx = buf(nx), *rw = buf(nw), *rdy = buf(ny);                       /* bf16-rounded */
    abs_of(x, ax, nx), abs_of(w, aw, nw), abs_of(b, ab, (size_t)Co), abs_of(dy, ady, ny);
    rnd_bf16(x, rx, nx), rnd_bf16(w, rw, nw), rnd_bf16(dy, rdy, ny);
    /* [0] bf16, [1] fp32, [2] fp32 of rounded inputs, [3] S; y [N,Co,Ho,Wo], dx [N,Ci,H,W], dw [Co,Ci,k,k] */
    float *y[4], *dx[4], *dw[4];
    for (int i = 0; i < 4; i++) y[i] = buf(ny), dx[i] = buf(nx), dw[i] = buf(nw);
    const int wino = cc->winograd;
    cc->winograd = 0;
    fn_err e;
    for (int i = 3; i >= 0; i--) {
        const float *X = i == 3 ? ax : i == 2 ? rx : x, *Wt = i == 3 ? aw : i == 2 ? rw : w;
        const float *B = i == 3 ? ab : b, *DY = i == 3 ? ady : i == 2 ? rdy : dy;
        CHECK(be->set_precision(be->ctx, i == 0 ? FN_PREC_BF16 : FN_PREC_FP32, &e) == 0);
        be->conv_fwd(be->ctx, X, Wt, B, y[i], N, Ci, H, W, Co, k, s);
        be->conv_bwd_data(be->ctx, DY, Wt, dx[i], N, Ci, H, W, Co, k, s, 0);
        be->conv_bwd_filter(be->ctx, X, DY, dw[i], N, Ci, H, W, Co, k, s);
    }
    const double u = 1.0 / 256, ep = 1.0 / 16777216; /* 2^-9 was half of it: odd shapes of few products
                                                        * (K = 5) went past it, on either path */
    const double Kf = (double)Ci * k * k + 1, Kd = (double)Co * k * k, Kw = (double)N * Ho * Wo;
    char what[96];
    snprintf(what, sizeof what, "bf16 conv (%s) N%d Ci%d %dx%d Co%d k%d s%d",
             path == 0 ? "matmul" : path == 2 ? "primitive" : "default", N, Ci, H, W, Co, k, s);
    CHECKF(!bound_bad(y[0], y[1], y[3], ny, 2 * u + u * u + 2 * Kf * ep, "y vs fp32"), "%s", what);
    CHECKF(!bound_bad(dx[0], dx[1], dx[3], nx, 2 * u + u * u + 2 * Kd * ep, "dx vs fp32"), "%s", what);
    CHECKF(!bound_bad(dw[0], dw[1], dw[3], nw, 2 * u + u * u + 2 * Kw * ep, "dw vs fp32"), "%s", what);
    CHECKF(!bound_bad(y[0], y[2], y[3], ny, 2 * Kf * ep, "y vs rounded fp32"), "%s", what);
    CHECKF(!bound_bad(dx[0], dx[2], dx[3], nx, 2 * Kd * ep, "dx vs rounded fp32"), "%s", what);
    CHECKF(!bound_bad(dw[0], dw[2], dw[3], nw, 2 * Kw * ep, "dw vs rounded fp32"), "%s", what);
    /* the bf16 path is not the fp32 one (the rounding shows), and it is deterministic */
    int differ = 0;
    for (size_t i = 0; i < ny; i++) differ += y[0][i] != y[1][i];
    CHECKF(differ > 0, "%s: bf16 gave fp32's bits", what);
    CHECK(be->set_precision(be->ctx, FN_PREC_BF16, &e) == 0);
    be->conv_fwd(be->ctx, x, w, b, y[1], N, Ci, H, W, Co, k, s);
    be->conv_bwd_data(be->ctx, dy, w, dx[1], N, Ci, H, W, Co, k, s, 0);
    be->fill(be->ctx, dw[1], 0, nw);
    be->conv_bwd_filter(be->ctx, x, dy, dw[1], N, Ci, H, W, Co, k, s);
    CHECKF(!memcmp(y[0], y[1], ny * 4) && !memcmp(dx[0], dx[1], nx * 4) && !memcmp(dw[0], dw[1], nw * 4),
           "%s: not deterministic", what);
    /* layout.c's layout changes against oneDNN's reorders: the same bits */
    if (path == 2) {
        float *y2 = buf(ny), *dx2 = buf(nx), *dw2 = buf(nw);
        cc->dnn_layout = 0;
        be->conv_fwd(be->ctx, x, w, b, y2, N, Ci, H, W, Co, k, s);
        be->conv_bwd_data(be->ctx, dy, w, dx2, N, Ci, H, W, Co, k, s, 0);
        be->fill(be->ctx, dw2, 0, nw);
        be->conv_bwd_filter(be->ctx, x, dy, dw2, N, Ci, H, W, Co, k, s);
        cc->dnn_layout = 1;
        CHECKF(!memcmp(y[0], y2, ny * 4) && !memcmp(dx[0], dx2, nx * 4) && !memcmp(dw[0], dw2, nw * 4),
               "%s: layout.c and oneDNN's reorders differ", what);
        bfree(y2), bfree(dx2), bfree(dw2);
    }
    /* conv_bwd, both passes in one call (dy rounded and laid out once): the two calls' bits, dx = and += */
    if (be->conv_bwd) {
        float *dw2 = buf(nw), *dx2 = buf(nx), *dx3 = rbuf(nx);
        be->fill(be->ctx, dw2, 0, nw);
        const long shared0 = cc->dnn_shared, unshared0 = cc->dnn_unshared;
        be->conv_bwd(be->ctx, x, dy, w, dw2, dx2, N, Ci, H, W, Co, k, s, 0);
        /* on the primitives' path, backward-data took backward-filter's dy, call by call, unless oneDNN
         * chose other layouts of dy for the two (its gemm for a tiny backward-filter without AMX, say):
         * then the two calls ran, as checked below, and on AMX it never does */
        if (path == 2)
            CHECKF(cc->dnn_shared > shared0 || (!dnn_amx() && cc->dnn_unshared > unshared0),
                   "%s: conv_bwd did not share dy", what);
        CHECKF(!memcmp(dx[0], dx2, nx * 4) && !memcmp(dw[0], dw2, nw * 4), "%s: conv_bwd", what);
        be->copy(be->ctx, dx2, dx3, nx);
        be->conv_bwd_data(be->ctx, dy, w, dx3, N, Ci, H, W, Co, k, s, 1);
        be->conv_bwd(be->ctx, x, dy, w, dw2, dx2, N, Ci, H, W, Co, k, s, 1);
        be->conv_bwd_filter(be->ctx, x, dy, dw[1], N, Ci, H, W, Co, k, s);
        CHECKF(!memcmp(dx3, dx2, nx * 4) && !memcmp(dw[1], dw2, nw * 4), "%s: conv_bwd acc", what);
        bfree(dw2), bfree(dx2), bfree(dx3);
    }
    /* acc: dx += (the sum of dx[0] and what was there, to fp32's rounding of the few additions) */
    float *r = rbuf(nx), *rsum = buf(nx);
    for (size_t i = 0; i < nx; i++) rsum[i] = fabsf(r[i]) + dx[3][i];
    be->copy(be->ctx, dx[1], r, nx);
    be->conv_bwd_data(be->ctx, dy, w, dx[1], N, Ci, H, W, Co, k, s, 1);
    for (size_t i = 0; i < nx; i++) r[i] += dx[0][i];
    CHECKF(!bound_bad(dx[1], r, rsum, nx, 2 * (Kd + 1) * ep, "dx acc"), "%s", what);
    bfree(r), bfree(rsum);
    /* an inference forward on frozen parameters (its rounded kernels kept, kcache.c): the same bits, on
     * the call that keeps them and the one that uses them; the fused batch norm and ReLU as the two ops */
    cc->training = 0;
    be->params_frozen(be->ctx, w, nw, 77);
    for (int rep = 0; rep < 2; rep++) {
        be->conv_fwd(be->ctx, x, w, b, y[1], N, Ci, H, W, Co, k, s);
        CHECKF(!memcmp(y[0], y[1], ny * 4), "%s: frozen forward %d", what, rep);
    }
    float *g = rbuf((size_t)Co), *be_ = rbuf((size_t)Co), *rm = rbuf((size_t)Co), *rv = buf((size_t)Co);
    for (int i = 0; i < Co; i++) rv[i] = 0.5f + (float)runif();
    be->conv_bn_fwd_infer(be->ctx, x, w, b, y[1], N, Ci, H, W, Co, k, s, g, be_, rm, rv, 1e-3f, 1);
    be->bn_relu_fwd_infer(be->ctx, y[0], g, be_, y[2], rm, rv, N, Co, Ho * Wo, 1e-3f);
    CHECKF(!memcmp(y[2], y[1], ny * 4), "%s: conv_bn_fwd_infer", what);
    float *z = rbuf(ny); /* and then an addend, as the two calls (conv_bn_add_fwd_infer) */
    be->conv_bn_add_fwd_infer(be->ctx, x, w, b, z, y[1], N, Ci, H, W, Co, k, s, g, be_, rm, rv, 1e-3f, 1);
    be->add(be->ctx, z, y[2], y[3], ny);
    CHECKF(!memcmp(y[3], y[1], ny * 4), "%s: conv_bn_add_fwd_infer", what);
    bfree(z);
    be->params_frozen(be->ctx, NULL, 0, 0);
    bfree(g), bfree(be_), bfree(rm), bfree(rv);
    CHECK(be->set_precision(be->ctx, FN_PREC_FP32, &e) == 0);
    CHECK(be->error(be->ctx) == NULL);
    /* the primitive ran every pass (it has an optimised kernel for each of these shapes: not oneDNN's
     * reference code, which dnnconv.c refuses); the matmul path never */
    if (path == 2) CHECKF(cc->dnn_runs - runs0 >= 9, "%s: %ld passes by the primitive", what, cc->dnn_runs - runs0);
    if (path == 0) CHECKF(cc->dnn_runs == runs0, "%s: the primitive ran", what);
    cc->winograd = wino;
    cc->dnnconv = path0;
    for (int i = 0; i < 4; i++) bfree(y[i]), bfree(dx[i]), bfree(dw[i]);
    bfree(x), bfree(w), bfree(b), bfree(dy), bfree(ax), bfree(aw), bfree(ab), bfree(ady);
    bfree(rx), bfree(rw), bfree(rdy);
}

static void bf16_one(int N, int Ci, int H, int W, int Co, int k, int s) {
    bf16_one_by(N, Ci, H, W, Co, k, s, 1);
}

/* both bf16 paths on every kernel size and stride, odd sizes, against fp32 within bf16's bound */
static void test_bf16_paths(void) {
    fn_err e = { { 0 } };
    if (be->set_precision(be->ctx, FN_PREC_BF16, &e)) {
        printf("  (no bf16 on this CPU as oneDNN sees it: skipped)\n");
        return;
    }
    CHECK(be->set_precision(be->ctx, FN_PREC_FP32, &e) == 0);
    static const int ks[] = { 1, 2, 3, 7 };
    cpu_ctx *cc = be->ctx;
    /* the primitives' path twice: the stride-1 backward-data passes by the forward primitive of the
     * kernels flipped (dnnconv.c make_flip), then by the backward-data primitive */
    for (int path = 0; path <= 3; path++) {
        if (path == 1) continue;
        cc->dnn_flip = path != 3;
        const long flipped0 = cc->dnn_flipped;
        for (int i = 0; i < 4; i++)
            for (int s = 1; s <= 2; s++) {
                bf16_one_by(2, 5, 13, 11, 7, ks[i], s, path == 3 ? 2 : path); /* odd sizes, channels below a block */
                bf16_one_by(1, 19, 9, 15, 33, ks[i], s, path == 3 ? 2 : path); /* channels over a block of 16 */
            }
        if (path == 2 && dnn_amx()) CHECKF(cc->dnn_flipped > flipped0, "no backward-data pass flipped");
        if (path != 2) CHECKF(cc->dnn_flipped == flipped0, "path %d: a backward-data pass flipped", path);
    }
    cc->dnn_flip = 1;
    /* a batch cut into calls of 2 images and 1 (dnnconv.c's chunks): the same bounds */
    /* the primitives took NHWC operands for some of these shapes, which layout.c made */
    if (dnn_amx()) CHECKF(cc->dnn_moved > 0, "layout.c never ran");
    cc->dnn_chunk = 4 * 17 * 11 * 9 * 2;
    bf16_one_by(5, 17, 11, 9, 6, 3, 1, 2);
    bf16_one_by(3, 17, 11, 9, 6, 3, 2, 2);
    bf16_one_by(3, 17, 11, 9, 40, 1, 2, 2);
    cc->dnn_chunk = CPU_DNN_CHUNK;
}

/* the convolution paths of test_bn_fold and test_conv_add, by mode: 0 fp32; 1 bf16; 2 bf16 with oneDNN's
 * reorders (no layout.c); 3 bf16 by matrix products; path0 the context's own choice of bf16 path */
static void conv_mode(cpu_ctx *cc, int mode, int path0, int training) {
    fn_err e = { { 0 } };
    CHECK(be->set_precision(be->ctx, mode ? FN_PREC_BF16 : FN_PREC_FP32, &e) == 0);
    cc->dnn_layout = mode != 2;
    cc->dnnconv = mode == 3 ? 0 : path0;
    cc->training = training;
}

/* and the context as it was after them, fp32, with no error since */
static void conv_modes_done(cpu_ctx *cc, int path0, int training) {
    fn_err e = { { 0 } };
    cc->dnn_chunk = CPU_DNN_CHUNK;
    cc->dnn_layout = 1;
    cc->dnnconv = path0;
    cc->training = training;
    CHECK(be->set_precision(be->ctx, FN_PREC_FP32, &e) == 0);
    CHECK(be->error(be->ctx) == NULL);
}

/* unit_fwd_infer(u) against the reference ref [n]: bit for bit, and the calls of a unit by oneDNN's
 * primitives counted: at least units of them (-1: any number; 0: none) */
static void unit_check(fn_unit *u, int N, int Ci, int H, int W, const float *ref, size_t n, int units, const char *prec,
                       size_t t, const char *what) {
    cpu_ctx *cc = be->ctx;
    const long u0 = cc->dnn_units;
    if (u->y != u->y1) memset(u->y, 0, n * 4);
    be->unit_fwd_infer(be->ctx, u, N, Ci, H, W);
    CHECKF(!memcmp(u->y, ref, n * 4), "%s case %zu relu %d: unit_fwd_infer %s", prec, t, u->relu, what);
    if (units > 0) CHECKF(cc->dnn_units >= u0 + units, "case %zu %s: %ld units", t, what, cc->dnn_units - u0);
    if (units == 0) CHECK(cc->dnn_units == u0);
}

/* conv_bn_conv_fwd_infer: the bits of conv_bn_fwd_infer then conv_fwd (or, with the second's batch norm,
 * conv_bn_fwd_infer), in fp32 and bf16, with and without
 * kept kernels, ReLU or not, whole batches and batches cut into calls; on AMX, bf16 passes the values
 * from one primitive to the next in NHWC (cpu_dnn_fwd2) on the pairs of k > 1. And the residual unit,
 * unit_fwd_infer with a shortcut of x (1x1 or 3x3): the bits of conv_bn_conv_fwd_infer then
 * conv_add_fwd_infer, the three convolutions in one go on AMX, also from the two parts of a
 * concatenated input, through a batch norm and ReLU first (a downsampling unit's), and with the identity
 * as the shortcut (unit_fwd_infer). */
static void test_conv_chain(void) {
    static const int cs[][10] = { /* N, Ci, H, W, C1, k1, s1, C2, k2, s2 */
        {1, 16, 20, 18, 32, 3, 1, 32, 3, 1}, {2, 3, 17, 15, 16, 3, 2, 24, 3, 1}, {1, 32, 12, 12, 16, 2, 1, 16, 3, 1},
        {3, 8, 9, 11, 19, 3, 1, 5, 1, 1},    {3, 17, 11, 9, 20, 3, 1, 33, 3, 1}, {2, 5, 8, 8, 7, 7, 1, 9, 3, 2},
        {2, 16, 9, 10, 24, 3, 1, 16, 3, 1},
    };
    cpu_ctx *cc = be->ctx;
    fn_err e = { { 0 } };
    const int training = cc->training, bf16 = be->set_precision(be->ctx, FN_PREC_BF16, &e) == 0;
    const int path0 = cc->dnnconv;
    for (int mode = 0; mode <= 2 * bf16; mode++) { /* fp32; bf16; bf16 by matrix products (no chain) */
        const int prec = mode > 0;
        conv_mode(cc, mode == 2 ? 3 : mode, path0, 0);
        for (size_t t = 0; t < sizeof cs / sizeof *cs; t++) {
            const int *q = cs[t], N = q[0], Ci = q[1], H = q[2], W = q[3], C1 = q[4], k1 = q[5], s1 = q[6];
            const int C2 = q[7], k2 = q[8], s2 = q[9];
            const int H1 = fn_same(H, k1, s1, NULL), W1 = fn_same(W, k1, s1, NULL);
            const int H2 = fn_same(H1, k2, s2, NULL), W2 = fn_same(W1, k2, s2, NULL);
            const size_t nx = (size_t)N * Ci * H * W, n1 = (size_t)N * C1 * H1 * W1, n2 = (size_t)N * C2 * H2 * W2;
            const size_t nw1 = (size_t)C1 * Ci * k1 * k1, nw2 = (size_t)C2 * C1 * k2 * k2;
            const int k3 = t % 2 ? 1 : 3, s3 = s1 * s2; /* the shortcut's: of y2's shape */
            const size_t nw3 = (size_t)C2 * Ci * k3 * k3, np = nw1 + C1 + nw2 + C2 + nw3 + C2;
            /* the parameters in one block, as a model's: w1, b1, w2, b2, w3, b3 */
            float *x = rbuf(nx), *p = rbuf(np), *g = rbuf(C1), *beta = rbuf(C1), *rm = rbuf(C1);
            float *pg = rbuf(Ci), *pb = rbuf(Ci), *pm = rbuf(Ci), *pv = buf(Ci); /* a batch norm of x */
            for (int c = 0; c < Ci; c++) pv[c] = 0.5f + (float)runif();
            float *rv = buf(C1), *y1 = buf(n1), *y2r = buf(n2), *y1s = buf(n1), *y2 = buf(n2), *yr = buf(n2),
                  *yu = buf(n2);
            float *g2 = rbuf(C2), *beta2 = rbuf(C2), *rm2 = rbuf(C2), *rv2 = buf(C2), *y2n = buf(n2), *yn = buf(n2);
            for (int c = 0; c < C2; c++) rv2[c] = 0.5f + (float)runif();
            const float *w1 = p, *b1 = p + nw1, *w2 = b1 + C1, *b2 = w2 + nw2, *w3 = b2 + C2, *b3 = w3 + nw3;
            for (int c = 0; c < C1; c++) rv[c] = 0.5f + (float)runif();
            for (int cut = 0; cut <= 1; cut++)
                for (int frozen = 0; frozen <= 1; frozen++)
                    for (int relu = 0; relu <= 1; relu++) {
                        /* cut: calls of one image (the chunk below one image of the bigger tensor) */
                        cc->dnn_chunk = cut ? 64 : CPU_DNN_CHUNK;
                        if (frozen) be->params_frozen(be->ctx, p, np, 5 + t);
                        be->conv_bn_fwd_infer(be->ctx, x, w1, b1, y1, N, Ci, H, W, C1, k1, s1, g, beta, rm, rv, 1e-3f,
                                              relu);
                        be->conv_fwd(be->ctx, y1, w2, b2, y2r, N, C1, H1, W1, C2, k2, s2);
                        const long ch0 = cc->dnn_chained;
                        be->conv_bn_conv_fwd_infer(be->ctx, x, w1, b1, y1s, N, Ci, H, W, C1, k1, s1, g, beta, rm, rv,
                                                   1e-3f, relu, w2, b2, y2, C2, k2, s2, NULL);
                        CHECKF(!memcmp(y2, y2r, n2 * 4), "%s case %zu cut %d frozen %d relu %d: conv_bn_conv_fwd_infer",
                               prec ? "bf16" : "fp32", t, cut, frozen, relu);
                        if (mode == 1 && dnn_amx() && k1 > 1 && k2 > 1)
                            CHECKF(cc->dnn_chained >= ch0 + (cut ? N : 1), "case %zu cut %d: %ld chained calls", t,
                                   cut, cc->dnn_chained - ch0);
                        if (mode != 1) CHECK(cc->dnn_chained == ch0);
                        /* the residual unit, with a shortcut convolution */
                        be->conv_add_fwd_infer(be->ctx, x, w3, b3, y2r, yr, N, Ci, H, W, C2, k3, s3);
                        fn_unit u = { .x = x, .w1 = w1, .b1 = b1, .C1 = C1, .k1 = k1, .s1 = s1, .gamma = g,
                                      .beta = beta, .rmean = rm, .rvar = rv, .relu = relu, .y1 = y1s, .w2 = w2,
                                      .b2 = b2, .C2 = C2, .k2 = k2, .s2 = s2, .y2 = y2, .w3 = w3, .b3 = b3, .k3 = k3,
                                      .s3 = s3, .eps = 1e-3f, .y = yu };
                        const int dnn = mode == 1 && dnn_amx() && k1 > 1 && k2 > 1;
                        const char *pn = prec ? "bf16" : "fp32";
                        unit_check(&u, N, Ci, H, W, yr, n2, dnn ? (cut ? N : 1) : mode == 1 ? -1 : 0, pn, t, "");
                        /* the second convolution through a batch norm of its own (and the other ReLU): U-Net's
                         * pairs, and the unit of Residual U-Net's (NCHW: by the chained call, and the sum) */
                        const fn_bn_infer bn2 = { g2, beta2, rm2, rv2, 1e-3f, !relu };
                        be->conv_bn_fwd_infer(be->ctx, y1, w2, b2, y2n, N, C1, H1, W1, C2, k2, s2, g2, beta2, rm2, rv2,
                                              1e-3f, !relu);
                        const long ch1 = cc->dnn_chained;
                        be->conv_bn_conv_fwd_infer(be->ctx, x, w1, b1, y1s, N, Ci, H, W, C1, k1, s1, g, beta, rm, rv,
                                                   1e-3f, relu, w2, b2, y2, C2, k2, s2, &bn2);
                        CHECKF(!memcmp(y2, y2n, n2 * 4), "%s case %zu cut %d frozen %d relu %d: with the second's norm",
                               pn, t, cut, frozen, relu);
                        if (dnn) CHECKF(cc->dnn_chained >= ch1 + (cut ? N : 1), "case %zu cut %d: %ld chained", t,
                                        cut, cc->dnn_chained - ch1);
                        be->conv_add_fwd_infer(be->ctx, x, w3, b3, y2n, yn, N, Ci, H, W, C2, k3, s3);
                        u.bn2 = &bn2;
                        unit_check(&u, N, Ci, H, W, yn, n2, mode == 1 ? -1 : 0, pn, t, "with the second's norm");
                        u.bn2 = NULL;
                        if (n1 >= n2) { /* y in y1's storage, as a plan may put it */
                            u.y = y1s;
                            unit_check(&u, N, Ci, H, W, yr, n2, -1, pn, t, "y over y1");
                            u.y = yu;
                        }
                        /* the input as a concatenation of its first Ca channels and the rest, never made */
                        const int Cb = Ci / 2, Ca = Ci - Cb;
                        const size_t hw = (size_t)H * W;
                        float *xa = buf((size_t)N * Ca * hw), *xb = buf((size_t)N * Cb * hw), *xc = buf(nx);
                        for (int nn = 0; nn < N; nn++) {
                            memcpy(xa + (size_t)nn * Ca * hw, x + (size_t)nn * Ci * hw, (size_t)Ca * hw * 4);
                            memcpy(xb + (size_t)nn * Cb * hw, x + ((size_t)nn * Ci + Ca) * hw, (size_t)Cb * hw * 4);
                        }
                        const long cat0 = cc->dnn_cats;
                        u.x = xa, u.x2 = xb, u.Ci2 = Cb, u.xc = xc;
                        unit_check(&u, N, Ci, H, W, yr, n2, dnn ? (cut ? N : 1) : mode == 1 ? -1 : 0, pn, t,
                                   "of a concatenation");
                        if (dnn) CHECKF(cc->dnn_cats >= cat0 + (cut ? N : 1), "case %zu: %ld", t, cc->dnn_cats - cat0);
                        u.x = x, u.x2 = NULL, u.Ci2 = 0, u.xc = NULL;
                        /* through a batch norm and ReLU first (not the shortcut): a downsampling unit's */
                        float *hr = buf(nx), *hs = buf(nx), *y1p = buf(n1), *y2p = buf(n2), *yp = buf(n2);
                        be->bn_relu_fwd_infer(be->ctx, x, pg, pb, hr, pm, pv, N, Ci, H * W, 1e-3f);
                        be->conv_bn_fwd_infer(be->ctx, hr, w1, b1, y1p, N, Ci, H, W, C1, k1, s1, g, beta, rm, rv, 1e-3f,
                                              relu);
                        be->conv_fwd(be->ctx, y1p, w2, b2, y2p, N, C1, H1, W1, C2, k2, s2);
                        be->conv_add_fwd_infer(be->ctx, x, w3, b3, y2p, yp, N, Ci, H, W, C2, k3, s3);
                        u.pre_gamma = pg, u.pre_beta = pb, u.pre_mean = pm, u.pre_var = pv, u.pre_relu = 1, u.h = hs;
                        unit_check(&u, N, Ci, H, W, yp, n2, dnn ? (cut ? N : 1) : mode == 1 ? -1 : 0, pn, t,
                                   "through a batch norm");
                        u.pre_gamma = NULL, u.h = NULL;
                        /* the identity */
                        if (Ci == C2 && s1 * s2 == 1) {
                            be->add(be->ctx, x, y2r, yp, n2);
                            u.w3 = NULL;
                            unit_check(&u, N, Ci, H, W, yp, n2, dnn ? (cut ? N : 1) : mode == 1 ? -1 : 0, pn, t,
                                       "the identity");
                            u.w3 = w3;
                        }
                        bfree(xa), bfree(xb), bfree(xc), bfree(hr), bfree(hs), bfree(y1p), bfree(y2p), bfree(yp);
                        if (frozen) be->params_frozen(be->ctx, NULL, 0, 0);
                    }
            bfree(x), bfree(p), bfree(g), bfree(beta), bfree(rm), bfree(rv), bfree(y1), bfree(y2r), bfree(y1s), bfree(y2);
            bfree(yr), bfree(yu), bfree(pg), bfree(pb), bfree(pm), bfree(pv);
            bfree(g2), bfree(beta2), bfree(rm2), bfree(rv2), bfree(y2n), bfree(yn);
        }
    }
    conv_modes_done(cc, path0, training);
}

/* up_conv_fwd_infer: the bits of up2_fwd then conv_fwd, in fp32 and bf16 (by the primitives, and by
 * matrix products), with and without kept kernels, whole batches and batches cut into calls; on AMX the
 * primitive takes the upsampling as it is laid out (cpu_dnn_up_fwd) */
static void test_up_conv(void) {
    static const int cs[][7] = { /* N, Ci, h, w, Co, k, s */
        {1, 32, 8, 8, 16, 2, 1}, {2, 5, 7, 9, 7, 2, 1}, {3, 16, 5, 6, 33, 3, 1}, {2, 17, 4, 3, 8, 1, 1}, {1, 8, 6, 6, 4, 3, 2},
    };
    cpu_ctx *cc = be->ctx;
    fn_err e = { { 0 } };
    const int training = cc->training, bf16 = be->set_precision(be->ctx, FN_PREC_BF16, &e) == 0;
    const int path0 = cc->dnnconv;
    for (int mode = 0; mode <= 2 * bf16; mode++) { /* fp32; bf16; bf16 by matrix products */
        const int prec = mode > 0;
        conv_mode(cc, mode == 2 ? 3 : mode, path0, 0);
        for (size_t t = 0; t < sizeof cs / sizeof *cs; t++) {
            const int *q = cs[t], N = q[0], Ci = q[1], h = q[2], w = q[3], Co = q[4], k = q[5], s = q[6];
            const int Ho = fn_same(2 * h, k, s, NULL), Wo = fn_same(2 * w, k, s, NULL);
            const size_t nx = (size_t)N * Ci * h * w, ny = (size_t)N * Co * Ho * Wo, nw = (size_t)Co * Ci * k * k;
            float *x = rbuf(nx), *p = rbuf(nw + Co), *u = buf(4 * nx), *u2 = buf(4 * nx), *yr = buf(ny), *y = buf(ny);
            for (int cut = 0; cut <= 1; cut++)
                for (int frozen = 0; frozen <= 1; frozen++) {
                    cc->dnn_chunk = cut ? 64 : CPU_DNN_CHUNK;
                    if (frozen) be->params_frozen(be->ctx, p, nw + Co, 40 + t);
                    be->up2_fwd(be->ctx, x, u, N, Ci, h, w);
                    be->conv_fwd(be->ctx, u, p, p + nw, yr, N, Ci, 2 * h, 2 * w, Co, k, s);
                    const long u0 = cc->dnn_ups;
                    be->up_conv_fwd_infer(be->ctx, x, u2, p, p + nw, y, N, Ci, h, w, Co, k, s);
                    CHECKF(!memcmp(y, yr, ny * 4), "%s case %zu cut %d frozen %d: up_conv_fwd_infer",
                           prec ? "bf16" : "fp32", t, cut, frozen);
                    if (mode == 1 && dnn_amx())
                        CHECKF(cc->dnn_ups >= u0 + (cut ? N : 1), "case %zu cut %d: %ld calls", t, cut, cc->dnn_ups - u0);
                    if (mode != 1) CHECK(cc->dnn_ups == u0);
                    if (frozen) be->params_frozen(be->ctx, NULL, 0, 0);
                }
            bfree(x), bfree(p), bfree(u), bfree(u2), bfree(yr), bfree(y);
        }
    }
    conv_modes_done(cc, path0, training);
}

/* The batch norm folded into the backward (conv_bwd_bn, bn_relu_bwd): the bits of conv_bwd on
 * x = [relu](bn(xb)) as bn_fwd_train / bn_relu_fwd_train made it, and of act_bwd then bn_bwd, on every
 * path: fp32 (the prologue in im2col, or in Winograd's input rows, always taken in one mode), bf16
 * through the primitives with layout.c's prologue, with oneDNN's reorders (x made whole), by matrix
 * products (im2col); dx written and added; batches cut into calls; bn_fold_pays everywhere but with
 * oneDNN's reorders; and which calls made x whole */
static void test_bn_fold(void) {
    static const int cs[][7] = { /* N, Ci, H, W, Co, k, s */
        {2, 16, 12, 10, 8, 3, 1}, {1, 5, 12, 10, 4, 3, 2}, {2, 32, 9, 7, 16, 1, 1}, {3, 17, 11, 9, 20, 3, 1},
        {2, 24, 16, 16, 12, 1, 2}, {1, 16, 20, 18, 32, 2, 1},
    };
    cpu_ctx *cc = be->ctx;
    fn_err e = { { 0 } };
    const int training = cc->training, bf16 = be->set_precision(be->ctx, FN_PREC_BF16, &e) == 0;
    const int path0 = cc->dnnconv;
    const int wino0 = cc->winograd;
    for (int mode = -1; mode <= 3 * bf16; mode++) { /* and -1: fp32, every 3x3 and 2x2 by Winograd */
        conv_mode(cc, mode < 0 ? 0 : mode, path0, 1);
        cc->winograd = mode < 0 ? 2 : wino0;
        CHECKF(be->bn_fold_pays(be->ctx) == (mode != 2), "mode %d: bn_fold_pays %d", mode, be->bn_fold_pays(be->ctx));
        const long made0 = cc->remade_n;
        for (size_t t = 0; t < sizeof cs / sizeof *cs; t++) {
            const int N = cs[t][0], Ci = cs[t][1], H = cs[t][2], W = cs[t][3], Co = cs[t][4], k = cs[t][5], s = cs[t][6];
            const int HW = H * W;
            const size_t nx = (size_t)N * Ci * HW, ny = (size_t)N * Co * fn_same(H, k, s, NULL) * fn_same(W, k, s, NULL);
            const size_t nw = (size_t)Co * Ci * k * k;
            float *xb = rbuf(nx), *g = rbuf(Ci), *beta = rbuf(Ci), *dy = rbuf(ny), *w = rbuf(nw), *dx0 = rbuf(nx);
            float *x = buf(nx), *mean = buf(Ci), *invstd = buf(Ci), *rm = buf(Ci), *rv = buf(Ci);
            float *dw = buf(nw), *dwr = buf(nw), *dx = buf(nx), *dxr = buf(nx), *gx = buf(nx), *gxr = buf(nx);
            for (int cut = 0; cut <= 1; cut++)
                for (int relu = 0; relu <= 1; relu++)
                    for (int acc = 0; acc <= 1; acc++) {
                        cc->dnn_chunk = cut ? 64 : CPU_DNN_CHUNK;
                        (relu ? be->bn_relu_fwd_train : be->bn_fwd_train)(be->ctx, xb, g, beta, x, mean, invstd, rm, rv,
                                                                          N, Ci, HW, 0.01f, 1e-3f);
                        memcpy(dwr, dx0, nw * 4), memcpy(dw, dx0, nw * 4); /* dw adds */
                        memcpy(dxr, dx0, nx * 4), memcpy(dx, dx0, nx * 4);
                        be->conv_bwd(be->ctx, x, dy, w, dwr, dxr, N, Ci, H, W, Co, k, s, acc);
                        be->conv_bwd_bn(be->ctx, xb, g, beta, mean, invstd, relu, dy, w, dw, dx, N, Ci, H, W, Co, k, s,
                                        acc);
                        CHECKF(!memcmp(dw, dwr, nw * 4) && !memcmp(dx, dxr, nx * 4),
                               "mode %d case %zu cut %d relu %d acc %d: conv_bwd_bn", mode, t, cut, relu, acc);
                        if (!relu) continue;
                        /* the ReLU's and the norm's backward: act_bwd then bn_bwd, against bn_relu_bwd */
                        float *dgr = buf(Ci), *dbr = buf(Ci), *dg = buf(Ci), *db = buf(Ci); /* added to */
                        for (int ch = 0; ch < Ci; ch++) dgr[ch] = dg[ch] = 0.5f, dbr[ch] = db[ch] = -0.25f;
                        memcpy(gxr, dx0, nx * 4), memcpy(gx, dx0, nx * 4);
                        /* dx0 the gradient of the ReLU's output; dxr the ReLU's input's */
                        be->act_bwd(be->ctx, FN_ACT_RELU, x, dx0, dxr, nx, 0, 0);
                        be->bn_bwd(be->ctx, xb, dxr, g, mean, invstd, gxr, dgr, dbr, N, Ci, HW, acc);
                        be->bn_relu_bwd(be->ctx, xb, dx0, g, beta, mean, invstd, gx, dg, db, N, Ci, HW, acc);
                        CHECKF(!memcmp(gx, gxr, nx * 4) && !memcmp(dg, dgr, Ci * 4) && !memcmp(db, dbr, Ci * 4),
                               "mode %d case %zu acc %d: bn_relu_bwd", mode, t, acc);
                        bfree(dgr), bfree(dbr), bfree(dg), bfree(db);
                    }
            bfree(xb), bfree(g), bfree(beta), bfree(dy), bfree(w), bfree(dx0), bfree(x), bfree(mean), bfree(invstd);
            bfree(rm), bfree(rv), bfree(dw), bfree(dwr), bfree(dx), bfree(dxr), bfree(gx), bfree(gxr);
        }
        /* made whole (8 calls a case: cut, relu, acc): with oneDNN's reorders every case, else only the
         * 1x1 stride-1 one (x read in place), and on AMX not even that (every pass the primitive's) */
        const long made = cc->remade_n - made0;
        if (mode == 2) CHECKF(made == (long)(sizeof cs / sizeof *cs) * 8, "mode 2: %ld made whole", made);
        else if (mode == 1 && dnn_amx()) CHECKF(made == 0, "bf16 on AMX: %ld made whole", made);
        else if (mode != 1) CHECKF(made == 8, "mode %d: %ld made whole (the 1x1 stride-1 case's 8 calls)", mode, made);
    }
    cc->winograd = wino0;
    conv_modes_done(cc, path0, training);
}

/* conv_add_fwd_infer: the bits of conv_fwd, then add of its output and z (both orders), on every path:
 * the direct method (1x1, strided, 7x7), Winograd (3x3 and 2x2 stride 1, big enough), and in bf16 the
 * primitives (with and without layout.c) and the matrix products; kept kernels and not */
static void test_conv_add(void) {
    static const int cs[][7] = { /* N, Ci, H, W, Co, k, s */
        {2, 8, 9, 7, 6, 1, 1},     {1, 5, 12, 10, 4, 3, 2},   {2, 3, 6, 6, 8, 3, 1},  {2, 16, 33, 30, 12, 3, 1},
        {1, 24, 40, 36, 16, 2, 1}, {3, 16, 20, 20, 8, 7, 1}, {1, 32, 17, 15, 33, 1, 2}, {2, 19, 16, 16, 40, 3, 1},
    };
    cpu_ctx *cc = be->ctx;
    fn_err e = { { 0 } };
    const int training = cc->training, bf16 = be->set_precision(be->ctx, FN_PREC_BF16, &e) == 0;
    const int path0 = cc->dnnconv;
    for (int mode = 0; mode <= 3 * bf16; mode++) {
        conv_mode(cc, mode, path0, 0);
        for (size_t t = 0; t < sizeof cs / sizeof *cs; t++) {
            const int N = cs[t][0], Ci = cs[t][1], H = cs[t][2], W = cs[t][3], Co = cs[t][4], k = cs[t][5], s = cs[t][6];
            const size_t nx = (size_t)N * Ci * H * W, ny = (size_t)N * Co * fn_same(H, k, s, NULL) * fn_same(W, k, s, NULL);
            const size_t nw = (size_t)Co * Ci * k * k;
            float *x = rbuf(nx), *p = rbuf(nw + Co), *z = rbuf(ny), *y1 = buf(ny), *r1 = buf(ny), *r2 = buf(ny), *y = buf(ny);
            for (int frozen = 0; frozen <= 1; frozen++) {
                if (frozen) be->params_frozen(be->ctx, p, nw + Co, 40 + t);
                be->conv_fwd(be->ctx, x, p, p + nw, y1, N, Ci, H, W, Co, k, s);
                be->add(be->ctx, y1, z, r1, ny);
                be->add(be->ctx, z, y1, r2, ny);
                be->conv_add_fwd_infer(be->ctx, x, p, p + nw, z, y, N, Ci, H, W, Co, k, s);
                CHECKF(!memcmp(y, r1, ny * 4) && !memcmp(y, r2, ny * 4), "mode %d case %zu frozen %d: conv_add_fwd_infer",
                       mode, t, frozen);
                if (frozen) be->params_frozen(be->ctx, NULL, 0, 0);
            }
            bfree(x), bfree(p), bfree(z), bfree(y1), bfree(r1), bfree(r2), bfree(y);
        }
    }
    conv_modes_done(cc, path0, training);
}

static void test_bf16(void) {
    fn_err e = { { 0 } };
    CHECK(cpu_bf16_float(cpu_bf16_round(1.0f + 1.0f / 256)) == 1.0f);            /* a tie: to even */
    CHECK(cpu_bf16_float(cpu_bf16_round(1.0f + 3.0f / 256)) == 1.0f + 4.0f / 256); /* a tie: to even */
    CHECK(cpu_bf16_float(cpu_bf16_round(1.0f + 1.5f / 256)) == 1.0f + 2.0f / 256);
    CHECK(isnan(cpu_bf16_float(cpu_bf16_round(NAN))) && isinf(cpu_bf16_float(cpu_bf16_round(INFINITY))));
    /* denormals to a zero of their sign, as AVX512_BF16's conversion (and oneDNN's reorders) */
    CHECK(cpu_bf16_round(1e-39f) == 0x0000 && cpu_bf16_round(-1e-39f) == 0x8000 && cpu_bf16_round(FLT_MIN) == 0x0080);
    CHECK(be->set_precision(be->ctx, FN_PREC_TF32, &e) == -1 && strstr(e.msg, "tf32"));
    if (be->set_precision(be->ctx, FN_PREC_BF16, &e)) { /* refused: one line, naming bf16 */
        CHECKF(strstr(e.msg, "--precision bf16 needs") && !strchr(e.msg, '\n'), "%s", e.msg);
        printf("  (no bf16 on this CPU as oneDNN sees it: %s; the bf16 parity is skipped)\n", e.msg);
        return;
    }
    /* the matrix product's rounding (bf16.c, the CPU's instruction where it has it) is cpu_bf16_round's,
     * bit for bit: rounding is idempotent, so products of the rounded inputs give the same bits */
    {
        const int M = 5, K = 37, N = 45;
        float *A = rbuf((size_t)M * K), *B = rbuf((size_t)K * N), *Ar = buf((size_t)M * K), *Br = buf((size_t)K * N);
        float *C1 = buf((size_t)M * N), *C2 = buf((size_t)M * N);
        const uint32_t odd[] = {0x3f808000u, 0x3f818000u, 0x00000001u, 0x807fffffu, 0x00400000u, 0x7f7fffffu};
        for (int i = 0; i < M * K; i += 3) memcpy(&A[i], &odd[(i / 3) % 6], 4);
        for (int i = 1; i < K * N; i += 4) memcpy(&B[i], &odd[(i / 4) % 6], 4);
        for (int i = 0; i < M * K; i++) Ar[i] = cpu_bf16_float(cpu_bf16_round(A[i]));
        for (int i = 0; i < K * N; i++) Br[i] = cpu_bf16_float(cpu_bf16_round(B[i]));
        cpu_gemm_bf16(be->ctx, 0, 0, M, N, K, 1.0f, A, K, B, N, 0.0f, C1, N);
        cpu_gemm_bf16(be->ctx, 0, 0, M, N, K, 1.0f, Ar, K, Br, N, 0.0f, C2, N);
        int bad = 0;
        for (int i = 0; i < M * N; i++) bad += memcmp(&C1[i], &C2[i], 4) && !(isnan(C1[i]) && isnan(C2[i]));
        CHECKF(!bad, "bf16 products of rounded and unrounded inputs: %d of %d differ", bad, M * N);
        bfree(A), bfree(B), bfree(Ar), bfree(Br), bfree(C1), bfree(C2);
    }
    CHECK(be->set_precision(be->ctx, FN_PREC_FP32, &e) == 0);
    bf16_one(2, 5, 9, 11, 7, 3, 1);
    bf16_one(2, 16, 20, 17, 24, 3, 2);
    bf16_one(1, 32, 12, 12, 16, 1, 1);
    bf16_one(2, 3, 15, 14, 8, 7, 2);
    bf16_one(3, 8, 10, 9, 12, 2, 1);
    bf16_one(1, 64, 40, 40, 64, 3, 1); /* several tiles per image */
}

static void test_same_geometry(void) {
    int out, pad;
    CHECK(fn_same(256, 3, 2, &pad) == 128 && pad == 0); /* 0 top, 1 bottom */
    CHECK(fn_same(256, 3, 1, &pad) == 256 && pad == 1);
    CHECK(fn_same(256, 7, 1, &pad) == 256 && pad == 3);
    CHECK(fn_same(256, 2, 1, &pad) == 256 && pad == 0); /* 0 top, 1 bottom */
    CHECK(fn_same(256, 1, 2, &pad) == 128 && pad == 0);
    CHECK(fn_same(7, 3, 2, &pad) == 4 && pad == 1);
    tf_same(7, 2, 2, &out, &pad);
    CHECK(out == 4 && pad == 0);
    /* 3x3 stride 2 on 8x8: output (i, j) reads input rows/columns 2i..2i+2 (a delta at (2,2) reaches
     * outputs (0,0) with tap (2,2), (0,1) with tap (2,0), (1,0) with tap (0,2), (1,1) with tap (0,0)) */
    float *x = buf(64), *w = buf(9), *y = buf(16);
    x[2 * 8 + 2] = 1;
    for (int i = 0; i < 9; i++) w[i] = (float)(i + 1);
    be->conv_fwd(be->ctx, x, w, NULL, y, 1, 1, 8, 8, 1, 3, 2);
    CHECK(y[0] == 9 && y[1] == 7 && y[1 * 4 + 0] == 3 && y[1 * 4 + 1] == 1);
    int nz = 0;
    for (int i = 0; i < 16; i++) nz += y[i] != 0;
    CHECK(nz == 4);
    /* 2x2 stride 1: output i reads inputs i and i+1 */
    float *w2 = buf(4), *y2 = buf(64);
    for (int i = 0; i < 4; i++) w2[i] = (float)(i + 1);
    be->conv_fwd(be->ctx, x, w2, NULL, y2, 1, 1, 8, 8, 1, 2, 1);
    CHECK(y2[2 * 8 + 2] == 1 && y2[1 * 8 + 1] == 4 && y2[1 * 8 + 2] == 3 && y2[2 * 8 + 1] == 2);
    bfree(x), bfree(w), bfree(y), bfree(w2), bfree(y2);
}

static void test_conv_small(void) {
    const int ks[] = {1, 2, 3, 7}, sizes[][2] = {{8, 8}, {7, 9}, {5, 6}};
    for (int ki = 0; ki < 4; ki++)
        for (int s = 1; s <= 2; s++)
            for (int si = 0; si < 3; si++) conv_one(2, 3, sizes[si][0], sizes[si][1], 4, ks[ki], s, 1);
}

/* bigger shapes: several tiles per image, the even/odd tile phases of bwd_data, per-thread partials */
static void test_conv_tiled(void) {
    conv_one(2, 40, 37, 41, 8, 3, 1, 0);
    conv_one(2, 40, 37, 41, 8, 3, 2, 0);
    conv_one(1, 24, 30, 33, 6, 7, 1, 0);
    conv_one(3, 64, 16, 16, 20, 1, 1, 0);
    conv_one(3, 64, 16, 17, 20, 1, 2, 0);
    conv_one(2, 64, 12, 20, 16, 2, 1, 0);
    conv_one(1, 200, 4, 4, 8, 3, 1, 0);
}

/* 3x3 and 2x2 stride-1 convolutions by Winograd (lib/cpu/winograd*.c) on every shape, even those
 * the default sends to im2col: odd sizes (half tiles), 1-pixel images, one channel, several blocks */
static void test_conv_winograd(void) {
    fn_backend *keep = be;
    fn_err e;
    setenv("FN_CPU_CONV", "winograd", 1);
    be = fn_cpu_backend_new(2, &e);
    unsetenv("FN_CPU_CONV");
    CHECK(be != NULL);
    if (!be) {
        be = keep;
        return;
    }
    const int sizes[][2] = {{8, 8}, {7, 9}, {5, 6}, {1, 1}, {1, 4}, {3, 1}};
    for (int k = 2; k <= 3; k++) { /* F(3x3, 2x2) and F(4x4, 3x3) */
        for (int si = 0; si < 6; si++) conv_one(2, 3, sizes[si][0], sizes[si][1], 4, k, 1, 1);
        conv_one(1, 1, 6, 5, 1, k, 1, 1);
        conv_one(3, 5, 9, 4, 2, k, 1, 1);
    }
    conv_one(2, 64, 12, 20, 16, 2, 1, 0);
    conv_one(1, 40, 50, 43, 24, 2, 1, 0);
    conv_one(2, 40, 37, 41, 8, 3, 1, 0);
    conv_one(1, 64, 96, 70, 48, 3, 1, 0); /* threads split the channels; blocks span tile rows */
    conv_one(8, 16, 32, 32, 16, 3, 1, 0); /* threads take whole blocks */
    fn_backend_close(be);
    be = keep;
}

/* the Winograd transforms on each vector ISA level this CPU has (cpu.h, "Run-time dispatch"): the same
 * bits as the x86-64 copy, forward (with and without the batch-norm epilogue), backward-data (+=) and
 * backward-filter, on odd sizes; FN_CPU_ISA and ONEDNN_MAX_CPU_ISA cap the level */
/* a backend made with FN_CPU_ISA and ONEDNN_MAX_CPU_ISA set to fn_level and dnnl_level (NULL: unset),
 * both restored after */
static void env_put(const char *var, const char *v) {
    if (v) setenv(var, v, 1);
    else unsetenv(var);
}
static fn_backend *isa_backend(const char *fn_level, const char *dnnl_level) {
    fn_err e;
    char was[2][64] = {"", ""};
    const char *vars[2] = {"FN_CPU_ISA", "ONEDNN_MAX_CPU_ISA"};
    for (int i = 0; i < 2; i++)
        if (getenv(vars[i])) snprintf(was[i], sizeof was[i], "%s", getenv(vars[i]));
    setenv("FN_CPU_CONV", "winograd", 1);
    env_put(vars[0], fn_level), env_put(vars[1], dnnl_level);
    fn_backend *b = fn_cpu_backend_new(2, &e);
    unsetenv("FN_CPU_CONV");
    for (int i = 0; i < 2; i++) env_put(vars[i], *was[i] ? was[i] : NULL);
    CHECKF(b != NULL, "%s", e.msg);
    return b;
}

/* the levels' names, as FN_CPU_ISA takes them */
static const char *const isa_names[3] = {"x86-64", "avx2", "avx512"};

/* a backend per ISA level up to the CPU's, into b[0..top]: top, or -1 where one could not be made */
static int isa_backends(fn_backend *b[3]) {
    const int top = cpu_isa_pick();
    for (int l = 0; l <= top; l++)
        if (!(b[l] = isa_backend(isa_names[l], NULL))) return -1;
    return top;
}

/* every op of the files compiled per level (elementwise.c, pool.c, se.c, loss.c, adam.c) on backend b,
 * its results one after another in out (OPS_OUT floats; x [N,C,H,W] of odd size for the vector tails) */
#define OPS_N 2
#define OPS_C 3
#define OPS_H 10
#define OPS_W 14
#define OPS_T (OPS_N * OPS_C * OPS_H * OPS_W)
#define OPS_OUT (40 * OPS_T)
static void isa_ops_run(fn_backend *b, const float *x, const float *z, float *out) {
    void *c = b->ctx;
    const int N = OPS_N, C = OPS_C, H = OPS_H, W = OPS_W, HW = H * W, T = OPS_T;
    float *o = out;
    for (int act = 0; act < 3; act++) {
        b->act_fwd(c, act, x, o, (size_t)T - 1, 0.3f), o += T;
        b->act_bwd(c, act, o - T, z, o, (size_t)T - 1, 0.3f, 0), o += T;
        memcpy(o, x, (size_t)T * 4), b->act_bwd(c, act, o - 2 * T, z, o, (size_t)T - 1, 0.3f, 1), o += T;
    }
    b->add(c, x, z, o, (size_t)T - 3), o += T;
    b->mul(c, x, z, o, (size_t)T - 3, 0), o += T;
    memcpy(o, z, (size_t)T * 4), b->mul(c, x, z, o, (size_t)T - 3, 1), o += T;
    memcpy(o, z, (size_t)T * 4), b->axpy(c, -0.7f, x, o, (size_t)T - 3), o += T;
    b->concat(c, x, z, o, N, C, C, HW), o += 2 * T;
    b->split(c, o - 2 * T, o, o + T, N, C, C, HW, 0), o += 2 * T;
    b->up2_fwd(c, x, o, N, C, H, W), o += 4 * T;
    memcpy(o, z, (size_t)T * 4), b->up2_bwd(c, o - 4 * T, o, N, C, H, W, 1), o += T;
    b->pool2_fwd(c, x, o, N, C, H, W), o += T / 4;
    memcpy(o, z, (size_t)T * 4), b->pool2_bwd(c, x, z, o, N, C, H, W, 1), o += T;
    b->cmul_fwd(c, x, z, o, N, C, HW), o += T;
    memcpy(o, z, (size_t)T * 4), b->cmul_bwd(c, x, z, x, o, o + T, N, C, HW, 1, 0), o += 2 * T;
    /* squeeze-excitation, C 3 squeezed to 2: wa [2,3], wb [3,2]; pool, gate [N,C], hid [N,2] */
    float *pool = o, *hid = o + N * C, *gate = hid + 2 * N, *y = gate + N * C;
    b->se_fwd(c, x, z, z + 6, y, pool, hid, gate, N, C, HW, 2);
    o = y + T;
    memcpy(o, z, (size_t)T * 4), memset(o + T, 0, 12 * 4);
    b->se_bwd(c, x, x, z, z + 6, pool, hid, gate, o, o + T, o + T + 6, N, C, HW, 2, 1), o += T + 12;
    b->dropout_fwd(c, x, o, o + T, 1, 1, T - 1, 0.2f, 77), o += 2 * T;
    b->dropout_bwd(c, z, o - T, o, (size_t)T - 1, 0), o += T;
    float p[OPS_T];
    b->act_fwd(c, FN_ACT_SIGMOID, x, p, (size_t)T, 0);
    o[0] = b->dice_loss(c, p, z, o + 1, N, C * HW, 1.0f);
    o += T + 1;
    double ss = b->sumsq(c, x, (size_t)T - 5);
    memcpy(o, &ss, sizeof ss), o += 2;
    float *m = o, *v = o + T, *wt = o + 2 * T;
    memset(m, 0, (size_t)T * 8), memcpy(wt, z, (size_t)T * 4);
    for (long t = 1; t <= 3; t++) b->adam(c, wt, x, m, v, (size_t)T - 1, 1e-3f, 0.9f, 0.999f, 1e-7f, t == 2 ? 1e-4f : 0, t);
    o += 3 * T;
    CHECK(o - out <= OPS_OUT);
    CHECK(b->error(c) == NULL);
}

/* layout.c at every ISA level: the transposes of the bf16 convolutions' operands against value-by-value
 * ones, bit for bit: channels and pixels short of a block of 16 and over it, roundings' ties, NaN,
 * infinities and denormals; and the result written and added */
static void test_layout(void) {
    const int top = cpu_isa_pick();
    /* [N, C, HW]: one tile (256 pixels) and several, the last short of a block */
    const int shapes[][3] = {{1, 16, 16}, {2, 5, 7}, {1, 19, 35}, {3, 33, 48}, {1, 48, 256}, {2, 3, 17}, {2, 37, 600}};
    for (int si = 0; si < 7; si++) {
        const int N = shapes[si][0], C = shapes[si][1];
        const size_t HW = (size_t)shapes[si][2], n = (size_t)N * C * HW;
        float *x = rbuf(n), *y = rbuf(n), *ref = buf(n), *out = buf(n), *sc = rbuf(2 * (size_t)C); /* scale, shift */
        uint16_t *h = malloc(n * 2), *href = malloc(n * 2), *hb = malloc(n * 2);
        const uint32_t odd[] = {0x3f808000u, 0x3f818000u, 0x7fc00001u, 0xff800001u, 0x7f800000u, 0x00000001u,
                                0x807fffffu, 0x7f7fffffu};
        for (size_t i = 0; i < n; i += 5) memcpy(&x[i], &odd[(i / 5) % 8], 4);
        for (int nn = 0; nn < N; nn++)
            for (int c = 0; c < C; c++)
                for (size_t p = 0; p < HW; p++)
                    href[((size_t)nn * HW + p) * C + c] = cpu_bf16_round(x[((size_t)nn * C + c) * HW + p]);
        for (int l = 0; l <= top; l++) {
            /* the values a training plan keeps in bf16 (backend.h to_bf16, from_bf16): elementwise, any length
             * (n and n - 1: one row of 4096 and several, short ones) */
            for (size_t m = n; m + 1 >= n && m > 0; m--) {
                memset(h, 0, n * 2);
                CPU_ISA_PICK(l, cpu_to_bf16)(x, h, m, 2);
                int ok = 1;
                for (size_t i = 0; i < m; i++) ok &= h[i] == cpu_bf16_round(x[i]);
                CHECKF(ok && h[m - 1 + (m < n)] == (m < n ? 0 : h[m - 1]), "cpu_to_bf16 level %d, n %zu", l, m);
                CPU_ISA_PICK(l, cpu_from_bf16)(h, out, m, 2);
                for (size_t i = 0; i < m; i++) {
                    const uint32_t u = (uint32_t)h[i] << 16;
                    ok &= !memcmp(&out[i], &u, 4);
                }
                CHECKF(ok, "cpu_from_bf16 level %d, n %zu", l, m);
            }
            memset(h, 0, n * 2);
            CPU_ISA_PICK(l, cpu_nhwc_bf16)(x, h, N, C, HW, NULL, 2);
            CHECKF(!memcmp(h, href, n * 2), "cpu_nhwc_bf16 level %d, N%d C%d HW%zu", l, N, C, HW);
            if (C > 1) { /* the same of x's channels cut into a concatenation's two parts */
                const int Cb = C / 2, Ca = C - Cb;
                float *xa = buf((size_t)N * Ca * HW), *xb = buf((size_t)N * Cb * HW);
                for (int nn = 0; nn < N; nn++) {
                    memcpy(xa + (size_t)nn * Ca * HW, x + (size_t)nn * C * HW, (size_t)Ca * HW * 4);
                    memcpy(xb + (size_t)nn * Cb * HW, x + ((size_t)nn * C + Ca) * HW, (size_t)Cb * HW * 4);
                }
                memset(h, 0, n * 2);
                CPU_ISA_PICK(l, cpu_nhwc_cat_bf16)(xa, Ca, xb, Cb, h, N, HW, NULL, 2);
                CHECKF(!memcmp(h, href, n * 2), "cpu_nhwc_cat_bf16 level %d, N%d C%d+%d HW%zu", l, N, Ca, Cb, HW);
                bfree(xa), bfree(xb);
            }
            for (int acc = 0; acc <= 1; acc++) {
                for (int nn = 0; nn < N; nn++) /* x read as [N, HW, C] */
                    for (int c = 0; c < C; c++)
                        for (size_t p = 0; p < HW; p++) {
                            const size_t o = ((size_t)nn * C + c) * HW + p;
                            ref[o] = (acc ? y[o] : 0.0f) + x[((size_t)nn * HW + p) * C + c];
                        }
                memcpy(out, y, n * 4);
                CPU_ISA_PICK(l, cpu_nchw_from)(x, NULL, out, N, C, HW, acc, NULL, 2);
                /* NaN payloads through an addition may differ in sign or bits: compare those as NaN */
                int bad = 0;
                for (size_t i = 0; i < n; i++)
                    bad += memcmp(&out[i], &ref[i], 4) && !(isnan(out[i]) && isnan(ref[i]));
                CHECKF(!bad, "cpu_nchw_from level %d acc %d, N%d C%d HW%zu: %d values", l, acc, N, C, HW, bad);
            }
            /* the sum of two NHWC tensors, x + y, transposed (a residual unit's two branches) */
            for (int nn = 0; nn < N; nn++)
                for (int c = 0; c < C; c++)
                    for (size_t p = 0; p < HW; p++) {
                        const size_t in = ((size_t)nn * HW + p) * C + c;
                        ref[((size_t)nn * C + c) * HW + p] = x[in] + y[in];
                    }
            memset(out, 0, n * 4);
            CPU_ISA_PICK(l, cpu_nchw_from)(x, y, out, N, C, HW, 0, NULL, 2);
            int bad2 = 0;
            for (size_t i = 0; i < n; i++) bad2 += memcmp(&out[i], &ref[i], 4) && !(isnan(out[i]) && isnan(ref[i]));
            CHECKF(!bad2, "cpu_nchw_from level %d, x + x2, N%d C%d HW%zu: %d values", l, N, C, HW, bad2);
            /* through a batch norm (and ReLU), as cpu_bn_plane: transposed, and in NHWC into bf16 */
            for (int relu = 0; relu <= 1; relu++) {
                const cpu_epi epi = { sc, sc + C, relu, 0, 0 };
                for (int nn = 0; nn < N; nn++)
                    for (int c = 0; c < C; c++)
                        for (size_t p = 0; p < HW; p++) {
                            const size_t in = ((size_t)nn * HW + p) * C + c;
                            const float t = x[in] * sc[c] + sc[C + c];
                            ref[((size_t)nn * C + c) * HW + p] = relu ? (t > 0 ? t : 0.0f) : t;
                            hb[in] = cpu_bf16_round(relu ? (t > 0 ? t : 0.0f) : t);
                        }
                memcpy(out, y, n * 4);
                CPU_ISA_PICK(l, cpu_nchw_from)(x, NULL, out, N, C, HW, 0, &epi, 2);
                int bad = 0;
                for (size_t i = 0; i < n; i++) bad += memcmp(&out[i], &ref[i], 4) && !(isnan(out[i]) && isnan(ref[i]));
                CHECKF(!bad, "cpu_nchw_from level %d relu %d, N%d C%d HW%zu: %d values", l, relu, N, C, HW, bad);
                /* and NCHW into NHWC bf16 through the norm as a prologue (conv_bwd_bn's source) */
                uint16_t *hp = malloc(n * 2);
                for (int nn = 0; nn < N; nn++)
                    for (int c = 0; c < C; c++)
                        for (size_t p = 0; p < HW; p++) {
                            const float t = x[((size_t)nn * C + c) * HW + p] * sc[c] + sc[C + c];
                            hp[((size_t)nn * HW + p) * C + c] = cpu_bf16_round(relu ? (t > 0 ? t : 0.0f) : t);
                        }
                memset(h, 0, n * 2);
                CPU_ISA_PICK(l, cpu_nhwc_bf16)(x, h, N, C, HW, &epi, 2);
                bad = 0;
                for (size_t i = 0; i < n; i++) /* NaN as NaN, whatever its payload */
                    bad += h[i] != hp[i] && !((h[i] & 0x7fff) > 0x7f80 && (hp[i] & 0x7fff) > 0x7f80);
                CHECKF(!bad, "cpu_nhwc_bf16 prologue level %d relu %d, N%d C%d HW%zu: %d values", l, relu, N, C, HW,
                       bad);
                free(hp);
                memset(h, 0, n * 2);
                CPU_ISA_PICK(l, cpu_nhwc_bn_bf16)(x, h, (size_t)N * HW, C, &epi, 2);
                bad = 0;
                for (size_t i = 0; i < n; i++) /* NaN as NaN, whatever its payload */
                    bad += h[i] != hb[i] && !((h[i] & 0x7fff) > 0x7f80 && (hb[i] & 0x7fff) > 0x7f80);
                CHECKF(!bad, "cpu_nhwc_bn_bf16 level %d relu %d, N%d C%d HW%zu: %d values", l, relu, N, C, HW, bad);
            }
            memset(h, 0, n * 2); /* and with no batch norm: the rounding alone */
            CPU_ISA_PICK(l, cpu_nhwc_bn_bf16)(x, h, (size_t)N * HW, C, NULL, 2);
            int bad = 0;
            for (size_t i = 0; i < n; i++) bad += h[i] != cpu_bf16_round(x[i]);
            CHECKF(!bad, "cpu_nhwc_bn_bf16 level %d, no batch norm, N%d C%d HW%zu: %d values", l, N, C, HW, bad);
        }
        bfree(x), bfree(y), bfree(ref), bfree(out), bfree(sc), free(h), free(href), free(hb);
    }
    /* the nearest 2x upsampling laid out: [N, C, h, w] -> [N, 2h, 2w, C] bf16, channels and pixels short of
     * a block of 16 and over it, rows per item below and above one */
    const int ups[][4] = {{1, 16, 4, 16}, {2, 5, 3, 7}, {1, 33, 5, 40}, {2, 48, 9, 17}, {1, 19, 2, 130}, {3, 16, 70, 3}};
    for (int si = 0; si < 6; si++) {
        const int N = ups[si][0], C = ups[si][1], hh = ups[si][2], ww = ups[si][3];
        const size_t n = (size_t)N * C * hh * ww;
        float *x = rbuf(n);
        uint16_t *h = malloc(4 * n * 2), *href = malloc(4 * n * 2);
        x[0] = NAN, x[n - 1] = 1.00390625f; /* a NaN and a tie */
        for (int nn = 0; nn < N; nn++)
            for (int r = 0; r < 2 * hh; r++)
                for (int q = 0; q < 2 * ww; q++)
                    for (int c = 0; c < C; c++)
                        href[(((size_t)nn * 2 * hh + r) * 2 * ww + q) * C + c] =
                            cpu_bf16_round(x[(((size_t)nn * C + c) * hh + r / 2) * ww + q / 2]);
        for (int l = 0; l <= top; l++) {
            memset(h, 0, 4 * n * 2);
            CPU_ISA_PICK(l, cpu_nhwc_up_bf16)(x, h, N, C, hh, ww, 2);
            CHECKF(!memcmp(h, href, 4 * n * 2), "cpu_nhwc_up_bf16 level %d, N%d C%d %dx%d", l, N, C, hh, ww);
        }
        bfree(x), free(h), free(href);
    }
}

/* channels-last (set_nhwc) ------------------------------------------------------------------------ */
/* x [N,C,HW] -> y [N,HW,C] (to 1), or back (to 0), value by value */
static void nhwc_tr(const float *x, float *y, int N, int C, int HW, int to) {
    for (int n = 0; n < N; n++)
        for (int c = 0; c < C; c++)
            for (int p = 0; p < HW; p++) {
                const size_t a = ((size_t)n * C + c) * HW + p, h = ((size_t)n * HW + p) * C + c;
                if (to) y[h] = x[a];
                else y[a] = x[h];
            }
}

/* the inputs of nhwc_ops_run, in NCHW: x [N,C,H,W]; xb [N,Cb,H,W] (concat's second part); a [N,1,H,W]
 * (cmul); s [N,C,H,W], positive (SE); bn [4,C]: gamma, beta, rmean, rvar; wa [Cr,C], wb [C,Cr] */
typedef struct nhwc_in {
    int N, C, Cb, H, W, Cr;
    const float *x, *xb, *a, *s, *bn, *wa, *wb;
} nhwc_in;

#define NHWC_OPS 10
static const char *const nhwc_names[NHWC_OPS] = {"bn_fwd_infer", "bn_relu_fwd_infer", "concat", "up2_fwd",
                                                 "pool2_fwd", "cmul_fwd", "se_fwd y", "se_fwd pool",
                                                 "se_fwd hid", "se_fwd gate"};

/* the floats of each op's result (pool2_fwd: none where H or W is odd) */
static void nhwc_sizes(const nhwc_in *in, size_t *sz) {
    const size_t NC = (size_t)in->N * in->C, HW = (size_t)in->H * in->W;
    const int even = in->H % 2 == 0 && in->W % 2 == 0;
    const size_t s[NHWC_OPS] = {NC * HW, NC * HW, (size_t)in->N * (in->C + in->Cb) * HW, 4 * NC * HW,
                                even ? NC * HW / 4 : 0, NC * HW, NC * HW, NC, (size_t)in->N * in->Cr, NC};
    memcpy(sz, s, sizeof s);
}

/* the ops of nhwc_names on backend b in NCHW (nhwc 0), or channels-last (nhwc 1: the inputs transposed to
 * NHWC, the ops run under set_nhwc, their results transposed back): the results into out[k], in NCHW */
static void nhwc_ops_run(fn_backend *b, const nhwc_in *in, int nhwc, float **out) {
    void *c = b->ctx;
    const int N = in->N, C = in->C, Cb = in->Cb, H = in->H, W = in->W, HW = H * W, Cr = in->Cr;
    size_t sz[NHWC_OPS];
    nhwc_sizes(in, sz);
    size_t nt = 0; /* the largest result */
    for (int k = 0; k < NHWC_OPS; k++) nt = sz[k] > nt ? sz[k] : nt;
    float *x = buf(sz[0]), *xb = buf((size_t)N * Cb * HW), *s = buf(sz[0]), *t = buf(nt);
    if (nhwc) {
        nhwc_tr(in->x, x, N, C, HW, 1), nhwc_tr(in->xb, xb, N, Cb, HW, 1), nhwc_tr(in->s, s, N, C, HW, 1);
        b->set_nhwc(c, 1);
    } else {
        memcpy(x, in->x, sz[0] * 4), memcpy(xb, in->xb, (size_t)N * Cb * HW * 4), memcpy(s, in->s, sz[0] * 4);
    }
    const float *g = in->bn, *bt = g + C, *rm = bt + C, *rv = rm + C;
    /* each op into t, then t (transposed back) into out[k]; C of the result and its pixels per image */
    for (int k = 0; k < NHWC_OPS; k++) {
        int Co = C, P = HW;
        memset(t, 0xff, nt * 4); /* NaN: what an op leaves unwritten shows */
        switch (k) {
        case 0: b->bn_fwd_infer(c, x, g, bt, t, rm, rv, N, C, HW, 1e-3f); break;
        case 1: b->bn_relu_fwd_infer(c, x, g, bt, t, rm, rv, N, C, HW, 1e-3f); break;
        case 2: b->concat(c, x, xb, t, N, C, Cb, HW), Co = C + Cb; break;
        case 3: b->up2_fwd(c, x, t, N, C, H, W), P = 4 * HW; break;
        case 4:
            if (sz[4]) b->pool2_fwd(c, x, t, N, C, H, W);
            P = HW / 4;
            break;
        case 5: b->cmul_fwd(c, x, in->a, t, N, C, HW); break;
        case 6: b->se_fwd(c, s, in->wa, in->wb, t, out[7], out[8], out[9], N, C, HW, Cr); break;
        default: continue; /* pool, hid, gate: se_fwd wrote them, the same in both layouts */
        }
        if (nhwc && sz[k]) nhwc_tr(t, out[k], N, Co, P, 0);
        else memcpy(out[k], t, sz[k] * 4);
    }
    if (nhwc) b->set_nhwc(c, 0);
    CHECK(b->error(c) == NULL);
    bfree(x), bfree(xb), bfree(s), bfree(t);
}

/* x [N,C,H,W] (NCHW) in a new buffer in NHWC */
static float *nhwc_copy(const float *x, int N, int C, int HW) {
    float *y = buf((size_t)N * C * HW);
    nhwc_tr(x, y, N, C, HW, 1);
    return y;
}

/* y [n] in NHWC (C channels of HW pixels) against the NCHW reference ref: bit for bit */
static int nhwc_same(const float *y, const float *ref, int N, int C, int HW) {
    const size_t n = (size_t)N * C * HW;
    float *t = buf(n);
    nhwc_tr(y, t, N, C, HW, 0);
    const int same = !memcmp(t, ref, n * 4);
    bfree(t);
    return same;
}

/* Channels last (set_nhwc), the convolutions: every inference call (conv_fwd, conv_bn_fwd_infer,
 * conv_add_fwd_infer, conv_bn_conv_fwd_infer, unit_fwd_infer with a shortcut convolution, from a
 * concatenation's parts, through a batch norm, with the identity; up_conv_fwd_infer) on NHWC tensors gives,
 * transposed back, the bits of the NCHW call, in bf16 by the primitives (forced where the CPU has no
 * AMX, as nhwc_pays does), whole batches and batches cut into calls, and by the primitives only (no
 * convolution through NCHW: the context's lay buffer never made); by matrix products, every one through
 * NCHW and back (conv.c conv_fwd_nchw), the same bits again; on AMX the units' second convolutions
 * add themselves to the shortcut's output (dnn_sums) and the chained first ones normalise theirs into
 * bf16 (dnn_postops). */
static void test_nhwc_convs(void) {
    static const int cs[][10] = { /* N, Ci, H, W, C1, k1, s1, C2, k2, s2 */
        {1, 16, 20, 18, 32, 3, 1, 32, 3, 1}, {2, 3, 17, 15, 16, 3, 2, 24, 3, 1}, {3, 17, 11, 9, 20, 3, 1, 33, 3, 1},
        {2, 16, 9, 10, 24, 3, 1, 16, 3, 1},  {3, 8, 9, 11, 19, 3, 1, 5, 1, 1},
    };
    cpu_ctx *cc = be->ctx;
    fn_err e = { { 0 } };
    const int training = cc->training, path0 = cc->dnnconv;
    if (be->set_precision(be->ctx, FN_PREC_BF16, &e)) return; /* no bf16 on this CPU */
    /* fb 0: by the primitives; 1: by matrix products (FN_CPU_BF16=matmul's), where every convolution goes
     * through NCHW (conv.c conv_fwd_nchw): no plan would be channels last there, but the bits hold */
    for (int fb = 0; fb <= 1; fb++) {
        conv_mode(cc, fb ? 3 : 1, 2, 0);
        CHECK(be->nhwc_pays(be->ctx, 0) == !fb);
        for (size_t t = 0; t < sizeof cs / sizeof *cs; t++) {
            const int *q = cs[t], N = q[0], Ci = q[1], H = q[2], W = q[3], C1 = q[4], k1 = q[5], s1 = q[6];
            const int C2 = q[7], k2 = q[8], s2 = q[9];
            const int H1 = fn_same(H, k1, s1, NULL), W1 = fn_same(W, k1, s1, NULL);
            const int H2 = fn_same(H1, k2, s2, NULL), W2 = fn_same(W1, k2, s2, NULL), HW = H * W;
            const int HW1 = H1 * W1, HW2 = H2 * W2, k3 = t % 2 ? 1 : 3, s3 = s1 * s2;
            const size_t nx = (size_t)N * Ci * HW, n1 = (size_t)N * C1 * HW1, n2 = (size_t)N * C2 * HW2;
            const size_t nw1 = (size_t)C1 * Ci * k1 * k1, nw2 = (size_t)C2 * C1 * k2 * k2;
            const size_t nw3 = (size_t)C2 * Ci * k3 * k3;
            float *x = rbuf(nx), *w1 = rbuf(nw1), *b1 = rbuf(C1), *w2 = rbuf(nw2), *b2 = rbuf(C2), *w3 = rbuf(nw3);
            float *b3 = rbuf(C2), *g = rbuf(C1), *beta = rbuf(C1), *rm = rbuf(C1), *rv = buf(C1);
            float *pg = rbuf(Ci), *pb = rbuf(Ci), *pm = rbuf(Ci), *pv = buf(Ci);
            float *g2 = rbuf(C2), *beta2 = rbuf(C2), *rm2 = rbuf(C2), *rv2 = buf(C2); /* the second's norm */
            for (int c = 0; c < C1; c++) rv[c] = 0.5f + (float)runif();
            for (int c = 0; c < Ci; c++) pv[c] = 0.5f + (float)runif();
            for (int c = 0; c < C2; c++) rv2[c] = 0.5f + (float)runif();
            for (size_t i = 0; i < nx; i += 7) x[i] = 0; /* ReLU's ties */
            const int Cb = Ci / 2, Ca = Ci - Cb;
            float *xa = buf((size_t)N * Ca * HW), *xb = buf((size_t)N * Cb * HW);
            for (int n = 0; n < N; n++) {
                memcpy(xa + (size_t)n * Ca * HW, x + (size_t)n * Ci * HW, (size_t)Ca * HW * 4);
                memcpy(xb + (size_t)n * Cb * HW, x + ((size_t)n * Ci + Ca) * HW, (size_t)Cb * HW * 4);
            }
            /* the NCHW references: [0] conv, [1] conv_bn, [2] conv_add (of [1]'s output), [3] conv_bn_conv,
             * [4] the unit, [5] the unit through a batch norm, [6] the identity unit; C1 channels for [0] and [1] */
            float *ref[7], *out[7], *scr[4];
            for (int i = 0; i < 7; i++) ref[i] = buf(i < 2 ? n1 : n2), out[i] = buf(i < 2 ? n1 : n2);
            const size_t ns = nx > n1 ? (nx > n2 ? nx : n2) : (n1 > n2 ? n1 : n2);
            for (int i = 0; i < 4; i++) scr[i] = buf(ns);
            float *hr = buf(nx);
            for (int cut = 0; cut <= 1; cut++) {
                cc->dnn_chunk = cut ? 64 : CPU_DNN_CHUNK;
                void *c = be->ctx;
                be->conv_fwd(c, x, w1, b1, ref[0], N, Ci, H, W, C1, k1, s1);
                be->conv_bn_fwd_infer(c, x, w1, b1, ref[1], N, Ci, H, W, C1, k1, s1, g, beta, rm, rv, 1e-3f, 1);
                be->conv_fwd(c, ref[1], w2, b2, ref[3], N, C1, H1, W1, C2, k2, s2);
                be->conv_add_fwd_infer(c, x, w3, b3, ref[3], ref[4], N, Ci, H, W, C2, k3, s3);
                be->conv_add_fwd_infer(c, ref[1], w2, b2, ref[3], ref[2], N, C1, H1, W1, C2, k2, s2);
                be->bn_relu_fwd_infer(c, x, pg, pb, hr, pm, pv, N, Ci, HW, 1e-3f);
                be->conv_bn_fwd_infer(c, hr, w1, b1, scr[1], N, Ci, H, W, C1, k1, s1, g, beta, rm, rv, 1e-3f, 1);
                be->conv_fwd(c, scr[1], w2, b2, scr[2], N, C1, H1, W1, C2, k2, s2);
                be->conv_add_fwd_infer(c, x, w3, b3, scr[2], ref[5], N, Ci, H, W, C2, k3, s3);
                const int ident = Ci == C2 && s3 == 1;
                if (ident) be->add(c, x, ref[3], ref[6], n2);
                /* the same in NHWC */
                float *xt = nhwc_copy(x, N, Ci, HW), *xat = nhwc_copy(xa, N, Ca, HW), *xbt = nhwc_copy(xb, N, Cb, HW);
                float *r3t = nhwc_copy(ref[3], N, C2, HW2), *r1t = nhwc_copy(ref[1], N, C1, HW1);
                const long sums0 = cc->dnn_sums, po0 = cc->dnn_postops, units0 = cc->dnn_units;
                be->set_nhwc(c, 1);
                be->conv_fwd(c, xt, w1, b1, out[0], N, Ci, H, W, C1, k1, s1);
                be->conv_bn_fwd_infer(c, xt, w1, b1, out[1], N, Ci, H, W, C1, k1, s1, g, beta, rm, rv, 1e-3f, 1);
                be->conv_add_fwd_infer(c, r1t, w2, b2, r3t, out[2], N, C1, H1, W1, C2, k2, s2);
                be->conv_bn_conv_fwd_infer(c, xt, w1, b1, scr[0], N, Ci, H, W, C1, k1, s1, g, beta, rm, rv, 1e-3f, 1,
                                           w2, b2, out[3], C2, k2, s2, NULL);
                fn_unit u = { .x = xt, .w1 = w1, .b1 = b1, .C1 = C1, .k1 = k1, .s1 = s1, .gamma = g,
                              .beta = beta, .rmean = rm, .rvar = rv, .relu = 1, .y1 = scr[0], .w2 = w2, .b2 = b2,
                              .C2 = C2, .k2 = k2, .s2 = s2, .y2 = scr[1], .w3 = w3, .b3 = b3, .k3 = k3, .s3 = s3,
                              .eps = 1e-3f, .y = out[4] };
                be->unit_fwd_infer(c, &u, N, Ci, H, W);
                CHECKF(nhwc_same(out[4], ref[4], N, C2, HW2), "case %zu cut %d: the unit", t, cut);
                u.x = xat, u.x2 = xbt, u.Ci2 = Cb, u.xc = scr[2]; /* from a concatenation's parts */
                be->unit_fwd_infer(c, &u, N, Ci, H, W);
                CHECKF(nhwc_same(out[4], ref[4], N, C2, HW2), "case %zu cut %d: the unit of a concatenation", t, cut);
                u.x = xt, u.x2 = NULL, u.Ci2 = 0, u.xc = NULL;
                u.pre_gamma = pg, u.pre_beta = pb, u.pre_mean = pm, u.pre_var = pv, u.pre_relu = 1, u.h = scr[3];
                u.y = out[5];
                be->unit_fwd_infer(c, &u, N, Ci, H, W);
                u.pre_gamma = NULL, u.h = NULL;
                if (ident) {
                    u.w3 = NULL, u.y = out[6];
                    be->unit_fwd_infer(c, &u, N, Ci, H, W);
                    u.w3 = w3;
                }
                /* the second convolution through its own batch norm: the chained call, and the unit (its sum
                 * in the pass that normalises the second's result) */
                const fn_bn_infer bn2 = { g2, beta2, rm2, rv2, 1e-3f, 0 };
                float *y2t = buf(n2), *yt = buf(n2);
                be->conv_bn_conv_fwd_infer(c, xt, w1, b1, scr[0], N, Ci, H, W, C1, k1, s1, g, beta, rm, rv, 1e-3f, 1,
                                           w2, b2, y2t, C2, k2, s2, &bn2);
                u.bn2 = &bn2, u.y = yt;
                be->unit_fwd_infer(c, &u, N, Ci, H, W);
                u.bn2 = NULL;
                be->set_nhwc(c, 0);
                be->conv_bn_fwd_infer(c, ref[1], w2, b2, scr[0], N, C1, H1, W1, C2, k2, s2, g2, beta2, rm2, rv2, 1e-3f, 0);
                CHECKF(nhwc_same(y2t, scr[0], N, C2, HW2), "case %zu cut %d: with the second's norm", t, cut);
                be->conv_add_fwd_infer(c, x, w3, b3, scr[0], scr[1], N, Ci, H, W, C2, k3, s3);
                CHECKF(nhwc_same(yt, scr[1], N, C2, HW2), "case %zu cut %d: the unit with the second's norm", t, cut);
                bfree(y2t), bfree(yt);
                const char *what[7] = { "conv_fwd", "conv_bn_fwd_infer", "conv_add_fwd_infer", "conv_bn_conv_fwd_infer",
                                        "", "the unit through a batch norm", "the identity" };
                const int C[7] = { C1, C1, C2, C2, C2, C2, C2 }, P[7] = { HW1, HW1, HW2, HW2, HW2, HW2, HW2 };
                for (int i = 0; i < 7; i++)
                    if (i != 4 && (i != 6 || ident))
                        CHECKF(nhwc_same(out[i], ref[i], N, C[i], P[i]), "case %zu cut %d: %s", t, cut, what[i]);
                if (dnn_amx() && !fb)
                    CHECKF(cc->dnn_sums - sums0 >= 3 * (cut ? N : 1) && cc->dnn_postops - po0 >= (cut ? N : 1) &&
                               cc->dnn_units - units0 >= (4 + ident) * (cut ? N : 1),
                           "case %zu cut %d: %ld sums, %ld post-ops, %ld units", t, cut, cc->dnn_sums - sums0,
                           cc->dnn_postops - po0, cc->dnn_units - units0);
                bfree(xt), bfree(xat), bfree(xbt), bfree(r3t), bfree(r1t);
            }
            /* up_conv_fwd_infer, of x upsampled */
            {
                const int Ho = fn_same(2 * H, k2, s2, NULL), Wo = fn_same(2 * W, k2, s2, NULL);
                const size_t ny = (size_t)N * C2 * Ho * Wo, nw = (size_t)C2 * Ci * k2 * k2;
                float *u = buf(4 * nx), *yr = buf(ny), *y = buf(ny), *wu = rbuf(nw);
                be->up2_fwd(be->ctx, x, u, N, Ci, H, W);
                be->conv_fwd(be->ctx, u, wu, b2, yr, N, Ci, 2 * H, 2 * W, C2, k2, s2);
                float *xt = nhwc_copy(x, N, Ci, HW);
                be->set_nhwc(be->ctx, 1);
                be->up_conv_fwd_infer(be->ctx, xt, u, wu, b2, y, N, Ci, H, W, C2, k2, s2);
                be->set_nhwc(be->ctx, 0);
                CHECKF(nhwc_same(y, yr, N, C2, Ho * Wo), "case %zu: up_conv_fwd_infer", t);
                bfree(u), bfree(yr), bfree(y), bfree(wu), bfree(xt);
            }
            CHECKF(fb ? cc->lay_cap > 0 : cc->lay_cap == 0, "case %zu %s: a convolution went through NCHW", t,
                   fb ? "by matrix products: none" : "by the primitives:");
            for (int i = 0; i < 7; i++) bfree(ref[i]), bfree(out[i]);
            for (int i = 0; i < 4; i++) bfree(scr[i]);
            bfree(x), bfree(w1), bfree(b1), bfree(w2), bfree(b2), bfree(w3), bfree(b3), bfree(g), bfree(beta);
            bfree(rm);
            bfree(rv), bfree(pg), bfree(pb), bfree(pm), bfree(pv), bfree(xa), bfree(xb), bfree(hr);
            bfree(g2), bfree(beta2), bfree(rm2), bfree(rv2);
        }
    }
    conv_modes_done(cc, path0, training);
}

/* the channels-last branches of the inference ops (batch norm and its ReLU, concat, up2, pool2, cmul, SE) at
 * every ISA level: transposed back, the NCHW op's bits (NaN, -0, ties and zeros among the values), and the
 * same bits at every level; channels below a vector, a multiple of 16 and not, SE's channel items and
 * pixel blocks one and several; SE's pool against a double mean */
static void test_nhwc_ops(void) {
    const char *const *names = isa_names;
    fn_backend *b[3] = {NULL, NULL, NULL};
    const int top = isa_backends(b);
    if (top < 0) return;
    /* N, C, Cb (concat's second part), H, W */
    const int shapes[][5] = {{1, 3, 16, 5, 7},  {2, 16, 37, 6, 8},  {2, 37, 3, 9, 4},  {1, 70, 5, 4, 6},
                             {1, 1, 2, 3, 3},   {2, 5, 3, 70, 61},  {1, 16, 16, 64, 130}, {2, 130, 16, 8, 10}};
    for (int si = 0; si < 8; si++) {
        nhwc_in in = {shapes[si][0], shapes[si][1], shapes[si][2], shapes[si][3], shapes[si][4], 0,
                      NULL, NULL, NULL, NULL, NULL, NULL, NULL};
        const int N = in.N, C = in.C, HW = in.H * in.W;
        in.Cr = (C + 3) / 4;
        const size_t n = (size_t)N * C * HW;
        float *x = rbuf(n), *xb = rbuf((size_t)N * in.Cb * HW), *a = rbuf((size_t)N * HW), *sx = buf(n);
        float *bn = rbuf(4 * (size_t)C), *wa = rbuf((size_t)in.Cr * C), *wb = rbuf((size_t)C * in.Cr);
        for (size_t i = 0; i < n; i++) {
            if (i % 5 == 1) x[i] = x[i - 1]; /* pooling's ties */
            if (i % 7 == 0) x[i] = 0.0f;
            if (i % 11 == 0) x[i] = -0.0f;
            if (i % 29 == 3) x[i] = NAN;
            sx[i] = i % 13 == 0 ? -0.0f : 0.5f + fabsf(rnorm()); /* SE: positive means */
        }
        a[0] = NAN, a[N * HW - 1] = -0.0f;
        for (int c = 0; c < C; c++) bn[3 * C + c] = 0.5f + fabsf(bn[3 * C + c]); /* running variances */
        bn[C] = -0.0f, bn[2 * C] = 0.0f; /* channel 0: shift -0, so that -0 inputs give -0 before the ReLU */
        in.x = x, in.xb = xb, in.a = a, in.s = sx, in.bn = bn, in.wa = wa, in.wb = wb;
        size_t sz[NHWC_OPS];
        nhwc_sizes(&in, sz);
        float *ref[3][NHWC_OPS], *got[NHWC_OPS];
        for (int k = 0; k < NHWC_OPS; k++) got[k] = buf(sz[k] + 1);
        for (int l = 0; l <= top; l++) {
            for (int k = 0; k < NHWC_OPS; k++) ref[l][k] = buf(sz[k] + 1);
            nhwc_ops_run(b[l], &in, 0, ref[l]);
            nhwc_ops_run(b[l], &in, 1, got);
            for (int k = 0; k < NHWC_OPS; k++) {
                CHECKF(!memcmp(got[k], ref[l][k], sz[k] * 4),
                       "%s: channels-last %s differs from NCHW, N%d C%d+%d %dx%d", names[l], nhwc_names[k], N, C, in.Cb,
                       in.H, in.W);
                if (l)
                    CHECKF(!memcmp(ref[l][k], ref[0][k], sz[k] * 4), "%s: %s differs from x86-64, N%d C%d %dx%d",
                           names[l], nhwc_names[k], N, C, in.H, in.W);
            }
        }
        /* the NaN and zeros reached the ops that keep them */
        int nan = 0;
        for (size_t i = 0; i < sz[4]; i++) nan += isnan(ref[0][4][i]);
        CHECK(sz[4] == 0 || nan > 0);
        /* SE's pool: the mean, within float rounding */
        int bad = 0;
        for (size_t pl = 0; pl < (size_t)N * C; pl++) {
            double m = 0;
            for (int i = 0; i < HW; i++) m += sx[pl * HW + i];
            m /= HW;
            bad += fabs(ref[0][7][pl] - m) > 1e-5 * fabs(m);
        }
        CHECKF(!bad, "se_fwd pool: %d means off, N%d C%d %dx%d", bad, N, C, in.H, in.W);
        for (int l = 0; l <= top; l++)
            for (int k = 0; k < NHWC_OPS; k++) bfree(ref[l][k]);
        for (int k = 0; k < NHWC_OPS; k++) bfree(got[k]);
        bfree(x), bfree(xb), bfree(a), bfree(sx), bfree(bn), bfree(wa), bfree(wb);
    }
    for (int l = 0; l <= top; l++) b[l]->destroy(b[l]);
}

/* the results of norm_train_run, one after another: their names and sizes (n = N*C*HW values, C channels) */
#define NT_SEGS 17
static const char *const nt_names[NT_SEGS] = {
    "bn_fwd_train y", "bn_fwd_train mean/invstd/rmean/rvar", "bn_relu_fwd_train y",
    "bn_relu_fwd_train mean/invstd/rmean/rvar", "bn_bwd dx", "bn_bwd dgamma/dbeta", "bn_bwd dx (dx = dy)",
    "bn_bwd dgamma/dbeta (dx = dy)", "bn_bwd dx (acc)", "bn_bwd dgamma/dbeta (acc)", "bn_relu_bwd dx",
    "bn_relu_bwd dgamma/dbeta", "bn_relu_bwd dx (dx = dy)", "bn_relu_bwd dgamma/dbeta (dx = dy)",
    "bn_relu_bwd dx (acc)", "bn_relu_bwd dgamma/dbeta (acc)", "conv_bwd_bias"};
static size_t nt_size(int k, size_t n, int C) {
    if (k == NT_SEGS - 1) return (size_t)C;
    if (k < 4) return k % 2 ? 4 * (size_t)C : n;
    return k % 2 ? 2 * (size_t)C : n;
}

/* the inputs of norm_train_run, in NCHW: x, dy, dx0 [N,C,HW] (dx0: what acc = 1 adds to); bn [4,C]: gamma,
 * beta, rmean, rvar; g0 [2,C]: what dgamma and dbeta (and conv_bwd_bias's db: g0's first C) add to */
typedef struct norm_in {
    int N, C, HW;
    const float *x, *dy, *dx0, *bn, *g0;
} norm_in;

/* the training ops of the batch norm (and its ReLU) and conv_bwd_bias on backend b in NCHW (nhwc 0) or
 * channels-last (1: the activations transposed to NHWC, the ops under set_nhwc, their results transposed
 * back): the results into out (nt_size's segments, in NCHW). The backward passes take the forward's mean
 * and invstd, and x with channel 0's every ninth value at its mean, beta 0 there: a ReLU input of +0 */
static void norm_train_run(fn_backend *b, const norm_in *in, int nhwc, float *out) {
    void *c = b->ctx;
    const int N = in->N, C = in->C, HW = in->HW;
    const size_t n = (size_t)N * C * HW;
    float *x = buf(n), *xb = buf(n), *dy = buf(n), *t = buf(n), *d = buf(n), *st = buf(4 * (size_t)C);
    float *dg = buf(2 * (size_t)C);
    float *mean = st, *invstd = st + C;
    const float *g = in->bn, *beta = g + C;
    /* src [N,C,HW] into dst in the layout of the run */
#define NT_LAY(src, dst) (nhwc ? nhwc_tr(src, dst, N, C, HW, 1) : (void)memcpy(dst, src, n * 4))
    /* the result r [N,C,HW] in the layout of the run into out */
#define NT_OUT(r) (nhwc ? nhwc_tr(r, out, N, C, HW, 0) : (void)memcpy(out, r, n * 4), out += n)
    NT_LAY(in->x, x);
    if (nhwc) b->set_nhwc(c, 1);
    for (int relu = 0; relu <= 1; relu++) {
        memset(t, 0xff, n * 4); /* NaN: what an op leaves unwritten shows */
        memcpy(st + 2 * C, in->bn + 2 * C, 2 * (size_t)C * 4);
        (relu ? b->bn_relu_fwd_train : b->bn_fwd_train)(c, x, g, beta, t, mean, invstd, st + 2 * C, st + 3 * C, N, C,
                                                        HW, 0.1f, 1e-5f);
        NT_OUT(t);
        memcpy(out, st, 4 * (size_t)C * 4), out += 4 * (size_t)C;
    }
    memcpy(t, in->x, n * 4);
    for (int nn = 0; nn < N; nn++)
        for (int i = 4; i < HW; i += 9) t[(size_t)nn * C * HW + i] = mean[0];
    NT_LAY(t, xb);
    NT_LAY(in->dy, dy);
    for (int relu = 0; relu <= 1; relu++)
        for (int mode = 0; mode < 3; mode++) { /* dx apart, dx = dy, dx += */
            memcpy(dg, in->g0, 2 * (size_t)C * 4);
            if (mode == 0) memset(d, 0xff, n * 4);
            else NT_LAY(mode == 1 ? in->dy : in->dx0, d);
            const float *src = mode == 1 ? d : dy;
            if (relu) b->bn_relu_bwd(c, xb, src, g, beta, mean, invstd, d, dg, dg + C, N, C, HW, mode == 2);
            else b->bn_bwd(c, xb, src, g, mean, invstd, d, dg, dg + C, N, C, HW, mode == 2);
            NT_OUT(d);
            memcpy(out, dg, 2 * (size_t)C * 4), out += 2 * (size_t)C;
        }
    memcpy(dg, in->g0, (size_t)C * 4);
    b->conv_bwd_bias(c, dy, dg, N, C, HW);
    memcpy(out, dg, (size_t)C * 4);
#undef NT_LAY
#undef NT_OUT
    if (nhwc) b->set_nhwc(c, 0);
    CHECK(b->error(c) == NULL);
    bfree(x), bfree(xb), bfree(dy), bfree(t), bfree(d), bfree(st), bfree(dg);
}

/* the channels-last training batch norm (and its ReLU), forward and backward (acc 0 and 1, dx = dy), and
 * the bias gradient at every ISA level: transposed back, the NCHW op's bits, and the same bits at every
 * level; 1 to 3 images, channels below a vector, a multiple of 16 and not, more than one item of 64;
 * pixels below 4 and not a multiple of 4, one block of 4096 and several; zeros and -0 among the values,
 * and the ReLU's mask both ways (and at a +0 input) */
static void test_nhwc_norm_train(void) {
    const char *const *names = isa_names;
    fn_backend *b[3] = {NULL, NULL, NULL};
    const int top = isa_backends(b);
    if (top < 0) return;
    const int shapes[][4] = {{1, 1, 1, 1},   {2, 3, 2, 3},    {3, 16, 5, 7},  {1, 17, 70, 61}, {2, 64, 9, 11},
                             {1, 130, 6, 5}, {2, 3, 64, 130}, {3, 17, 13, 13}, {2, 130, 64, 65}, {3, 1, 70, 61},
                             {1, 64, 1, 3},  {2, 16, 4, 4}};
    const int ns = (int)(sizeof shapes / sizeof *shapes);
    for (int si = 0; si < ns; si++) {
        const int N = shapes[si][0], C = shapes[si][1], H = shapes[si][2], W = shapes[si][3], HW = H * W;
        const size_t n = (size_t)N * C * HW;
        float *x = rbuf(n), *dy = rbuf(n), *dx0 = rbuf(n), *bn = rbuf(4 * (size_t)C), *g0 = rbuf(2 * (size_t)C);
        for (size_t i = 0; i < n; i++) {
            x[i] = 0.5f + x[i]; /* means away from 0 */
            if (i % 7 == 0) x[i] = 0.0f;
            if (i % 11 == 0) x[i] = -0.0f;
            if (i % 5 == 2) dy[i] = 0.0f;
            if (i % 13 == 1) dy[i] = -0.0f;
        }
        for (int ch = 0; ch < C; ch++) bn[3 * C + ch] = 0.5f + fabsf(bn[3 * C + ch]); /* running variances */
        bn[C] = 0.0f; /* channel 0's beta: x at its mean gives +0 before the ReLU */
        if (N == 2 && C >= 3 && HW > 4096) /* the double sums' order shows (a value lost, or not): +-2^40
                                             * (image 0, 1) in the first blocks, small values in the second
                                             * ones; channel 1 for sum x and sum dy (per plane, then the
                                             * planes), channel 2 for sum dy*(x - mean) (all the blocks in a
                                             * row; mean exactly 0 there) */
            for (int nn = 0; nn < N; nn++)
                for (int p = 0; p < HW; p++) {
                    const size_t i1 = ((size_t)nn * C + 1) * HW + p, i2 = i1 + HW;
                    const float sg = nn ? -1.0f : 1.0f, v = (float)(p % 7 + 1) / 8;
                    x[i1] = dy[i1] = p < 4096 ? sg * 0x1p28f : 0x1p-32f * (1 + (float)runif());
                    x[i2] = sg * (p < 4096 ? 1.0f : v);
                    dy[i2] = p < 4096 ? 0x1p40f : 0x1p-12f;
                }
        const norm_in in = {N, C, HW, x, dy, dx0, bn, g0};
        size_t tot = 0;
        for (int k = 0; k < NT_SEGS; k++) tot += nt_size(k, n, C);
        float *ref[3] = {NULL, NULL, NULL}, *got = buf(tot);
        for (int l = 0; l <= top; l++) {
            ref[l] = buf(tot);
            norm_train_run(b[l], &in, 0, ref[l]);
            norm_train_run(b[l], &in, 1, got);
            size_t o = 0;
            for (int k = 0; k < NT_SEGS; k++) {
                const size_t sz = nt_size(k, n, C);
                CHECKF(!memcmp(got + o, ref[l] + o, sz * 4), "%s: channels-last %s differs from NCHW, N%d C%d %dx%d",
                       names[l], nt_names[k], N, C, H, W);
                if (l)
                    CHECKF(!memcmp(ref[l] + o, ref[0] + o, sz * 4), "%s: %s differs from x86-64, N%d C%d %dx%d",
                           names[l], nt_names[k], N, C, H, W);
                o += sz;
            }
        }
        /* the ReLU's mask went both ways: zeros and positive values in bn_relu_fwd_train's y */
        const float *yr = ref[0] + n + 4 * (size_t)C;
        size_t zeros = 0;
        for (size_t i = 0; i < n; i++) zeros += yr[i] == 0.0f;
        CHECKF(n < 8 || (zeros > 0 && zeros < n), "N%d C%d %dx%d: %zu of %zu zeros after the ReLU", N, C, H, W, zeros, n);
        for (int l = 0; l <= top; l++) bfree(ref[l]);
        bfree(got), bfree(x), bfree(dy), bfree(dx0), bfree(bn), bfree(g0);
    }
    for (int l = 0; l <= top; l++) b[l]->destroy(b[l]);
}

/* Channels last in training: the backward passes of the ops above and dropout ------------------------- */
/* the inputs of nhwc_grads_run, in NCHW: x [N,C,H,W] with ties, NaN and zeros (pooling, dropout); r [N,C,H,W]
 * plain normals (cmul, SE); dy [N,C,H,W]; ds [N,C+Cb,H,W] (split's dy); d4 [N,C,2H,2W] (up2's dy); dq
 * [N,C,H/2,W/2] with zeros of both signs (pool2's dy); a [N,1,H,W]; z [N,C+Cb,4HW] the starting values of
 * what accumulates (zeros of both signs among them); wa [Cr,C], wb [C,Cr], w0 [2,Cr*C] (dwa, dwb's start) */
typedef struct grads_in {
    int N, C, Cb, H, W, Cr;
    const float *x, *r, *dy, *ds, *d4, *dq, *a, *z, *wa, *wb, *w0;
} grads_in;

#define GRADS_OUTS 26
static const char *const grads_names[GRADS_OUTS] = {
    "split da", "split db", "split+= da", "split+= db", "split da (db NULL)", "split+= db (da NULL)",
    "up2_bwd", "up2_bwd+=", "pool2_bwd", "pool2_bwd+=",
    "cmul_bwd dx", "cmul_bwd da", "cmul_bwd dx+=", "cmul_bwd da", "cmul_bwd dx", "cmul_bwd da+=",
    "cmul_bwd dx+=", "cmul_bwd da+=", "se_bwd dx", "se_bwd dx+=", "se_bwd dwa", "se_bwd dwb",
    "se_bwd+= dwa", "se_bwd+= dwb", "dropout_fwd y", "dropout_fwd mask"};

/* output k's channels (an activation [N,C,H,W]: its pixels H*W), or 0 and *plain its floats (not
 * transposed: da [N,HW], dwa, dwb) */
static int grads_shape(const grads_in *in, int k, size_t *plain) {
    *plain = 0;
    if (k == 1 || k == 3 || k == 5) return in->Cb;
    if (k >= 10 && k < 18 && k % 2) *plain = (size_t)in->N * in->H * in->W;
    else if (k >= 20 && k < 24) *plain = (size_t)in->Cr * in->C;
    return *plain ? 0 : in->C;
}
static size_t grads_size(const grads_in *in, int k) {
    size_t plain;
    const int C = grads_shape(in, k, &plain);
    return C ? (size_t)in->N * C * in->H * in->W : plain;
}

/* src [N,C,P] (NCHW) in a new buffer, [N,P,C] when nhwc */
static float *grads_put(const float *src, int N, int C, int P, int nhwc) {
    float *y = buf((size_t)N * C * P + 1);
    if (nhwc) nhwc_tr(src, y, N, C, P, 1);
    else memcpy(y, src, (size_t)N * C * P * 4);
    return y;
}

/* the ops of grads_names on backend b in NCHW (nhwc 0), or channels-last (nhwc 1: inputs transposed, the
 * ops under set_nhwc, their results transposed back): the results into out[k], in NCHW */
static void nhwc_grads_run(fn_backend *b, const grads_in *in, int nhwc, float **out) {
    void *c = b->ctx;
    const int N = in->N, C = in->C, Cb = in->Cb, H = in->H, W = in->W, HW = H * W, Cr = in->Cr;
    const int Q = (H / 2) * (W / 2);
    /* the inputs in the layout: x, r, dy [N,C,HW]; ds [N,C+Cb,HW]; d4 [N,C,4HW]; dq [N,C,Q] */
    float *x = grads_put(in->x, N, C, HW, nhwc), *r = grads_put(in->r, N, C, HW, nhwc);
    float *dy = grads_put(in->dy, N, C, HW, nhwc), *ds = grads_put(in->ds, N, C + Cb, HW, nhwc);
    float *d4 = grads_put(in->d4, N, C, 4 * HW, nhwc), *dq = grads_put(in->dq, N, C, Q, nhwc);
    float *t[GRADS_OUTS];                                          /* each output, in the layout */
    float *sy = buf((size_t)N * C * HW), *sp = buf((size_t)N * (2 * C + Cr)); /* se_fwd's y; pool, gate, hid */
    int acc[GRADS_OUTS]; /* whether output k accumulates */
    for (int k = 0; k < GRADS_OUTS; k++) {
        size_t plain;
        const int Ck = grads_shape(in, k, &plain);
        /* what accumulates starts from z (w0 for dwa, dwb: they always accumulate); the rest from NaN */
        static const int accs[] = {2, 3, 5, 7, 9, 12, 15, 16, 17, 19};
        acc[k] = 0;
        for (size_t j = 0; j < sizeof accs / sizeof accs[0]; j++) acc[k] |= k == accs[j];
        if (k >= 20 && k < 24) {
            t[k] = buf(plain + 1);
            memcpy(t[k], in->w0 + (k % 2) * (size_t)Cr * C, plain * 4);
        } else if (acc[k]) {
            t[k] = Ck ? grads_put(in->z, N, Ck, HW, nhwc) : buf(plain + 1);
            if (!Ck) memcpy(t[k], in->z, plain * 4);
        } else {
            t[k] = buf(grads_size(in, k) + 1);
            memset(t[k], 0xff, grads_size(in, k) * 4);
        }
    }
    if (nhwc) b->set_nhwc(c, 1);
    b->split(c, ds, t[0], t[1], N, C, Cb, HW, 0);
    b->split(c, ds, t[2], t[3], N, C, Cb, HW, 1);
    b->split(c, ds, t[4], NULL, N, C, Cb, HW, 0);
    b->split(c, ds, NULL, t[5], N, C, Cb, HW, 1);
    b->up2_bwd(c, d4, t[6], N, C, H, W, 0);
    b->up2_bwd(c, d4, t[7], N, C, H, W, 1);
    b->pool2_bwd(c, x, dq, t[8], N, C, H, W, 0);
    b->pool2_bwd(c, x, dq, t[9], N, C, H, W, 1);
    for (int m = 0; m < 4; m++) b->cmul_bwd(c, r, in->a, dy, t[10 + 2 * m], t[11 + 2 * m], N, C, HW, m & 1, m >> 1);
    float *pool = sp, *gate = sp + (size_t)N * C, *hid = gate + (size_t)N * C;
    b->se_fwd(c, r, in->wa, in->wb, sy, pool, hid, gate, N, C, HW, Cr);
    b->se_bwd(c, r, dy, in->wa, in->wb, pool, hid, gate, t[18], t[20], t[21], N, C, HW, Cr, 0);
    b->se_bwd(c, r, dy, in->wa, in->wb, pool, hid, gate, t[19], t[22], t[23], N, C, HW, Cr, 1);
    b->dropout_fwd(c, x, t[24], t[25], N, C, HW, 0.3f, 0x5eed + (uint64_t)N * C);
    if (nhwc) b->set_nhwc(c, 0);
    CHECK(b->error(c) == NULL);
    for (int k = 0; k < GRADS_OUTS; k++) {
        size_t plain;
        const int Ck = grads_shape(in, k, &plain);
        if (nhwc && Ck) nhwc_tr(t[k], out[k], N, Ck, HW, 0);
        else memcpy(out[k], t[k], grads_size(in, k) * 4);
        bfree(t[k]);
    }
    bfree(x), bfree(r), bfree(dy), bfree(ds), bfree(d4), bfree(dq), bfree(sy), bfree(sp);
}

/* sum.c's cpu_dot in the order cpu.h documents (CPU_SUM_LANES), which se_bwd takes in both layouts: blocks
 * of 4096; in a block of m, 4
 * float lanes from 0, lane j adding the products i < m rounded down to a multiple of 4 with i % 4 == j in
 * increasing i, then lane 0 the rest; (((l0 + 0) + l1) + l2) + l3; the blocks' floats added to a double */
static double dot_lanes(const float *a, const float *b, size_t n) {
    double total = 0;
    for (size_t i0 = 0; i0 < n; i0 += 4096) {
        const size_t m = n - i0 < 4096 ? n - i0 : 4096, m4 = m / 4 * 4;
        float l[4] = {0, 0, 0, 0};
        for (size_t i = 0; i < m; i++) l[i < m4 ? i % 4 : 0] += a[i0 + i] * b[i0 + i];
        total += (float)((((l[0] + 0.0f) + l[1]) + l[2]) + l[3]);
    }
    return total;
}

/* the channels-last branches of the training ops (split, up2_bwd, pool2_bwd, cmul_bwd, se_bwd, dropout_fwd)
 * at every ISA level: transposed back, the NCHW op's bits (= and +=, NULL parts, pooling's ties, NaN and
 * zeros of both signs, odd H and W; SE's dy.x in cpu_dot's order over one and several pixel blocks whose
 * lengths are not multiples of 4; dropout's mask by the NCHW index), and the same bits at every level */
static void test_nhwc_grads(void) {
    const char *const *names = isa_names;
    fn_backend *b[3] = {NULL, NULL, NULL};
    const int top = isa_backends(b);
    if (top < 0) return;
    /* N, C, Cb (split's second part), H, W */
    const int shapes[][5] = {{1, 1, 1, 1, 1},   {2, 3, 16, 5, 7},   {3, 16, 17, 6, 8},  {1, 17, 1, 9, 4},
                             {2, 37, 3, 3, 2},  {3, 130, 16, 4, 5}, {2, 5, 3, 70, 61},  {1, 16, 17, 64, 130},
                             {1, 130, 3, 70, 61}, {3, 17, 37, 2, 3}, {2, 1, 130, 65, 66}, {1, 37, 1, 1, 6}};
    const int nshapes = (int)(sizeof shapes / sizeof shapes[0]);
    /* cpu_dot adds in dot_lanes' order, in every build: lengths below a vector, not multiples of 4, one
     * block and several */
    static const size_t lens[] = {1, 3, 4, 5, 35, 4095, 4096, 4097, 4270, 4290, 8320, 8323, 12289};
    for (size_t li = 0; li < 4 * (sizeof lens / sizeof lens[0]); li++) { /* each length 4 times */
        float *p = rbuf(lens[li / 4]), *q = rbuf(lens[li / 4]);
        const double d0 = cpu_dot(p, q, lens[li / 4]), d1 = dot_lanes(p, q, lens[li / 4]);
        CHECKF(!memcmp(&d0, &d1, sizeof d0), "cpu_dot of %zu: %.17g, in se.c's order %.17g", lens[li / 4], d0, d1);
        bfree(p), bfree(q);
    }
    for (int si = 0; si < nshapes; si++) {
        grads_in in = {shapes[si][0], shapes[si][1], shapes[si][2], shapes[si][3], shapes[si][4], 0,
                       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
        const int N = in.N, C = in.C, Cb = in.Cb, HW = in.H * in.W, Q = (in.H / 2) * (in.W / 2);
        in.Cr = (C + 3) / 4;
        const size_t n = (size_t)N * C * HW, nz = (size_t)N * (C + Cb) * 4 * HW;
        float *x = rbuf(n), *r = rbuf(n), *dy = rbuf(n), *ds = rbuf((size_t)N * (C + Cb) * HW);
        float *d4 = rbuf(4 * n), *dq = rbuf((size_t)N * C * Q + 1), *a = rbuf((size_t)N * HW), *z = rbuf(nz);
        float *wa = rbuf((size_t)in.Cr * C), *wb = rbuf((size_t)C * in.Cr), *w0 = rbuf(2 * (size_t)in.Cr * C);
        for (size_t i = 0; i < n; i++) {
            if (i % 5 == 1) x[i] = x[i - 1]; /* pooling's ties */
            if (i % 7 == 0) x[i] = 0.0f;
            if (i % 11 == 0) x[i] = -0.0f;
            if (i % 29 == 3) x[i] = NAN;
        }
        for (size_t i = 0; i < (size_t)N * C * Q; i++)
            if (i % 3 == 0) dq[i] = i % 2 ? 0.0f : -0.0f;
        for (size_t i = 0; i < nz; i++)
            if (i % 4 == 1) z[i] = -0.0f;
        in.x = x, in.r = r, in.dy = dy, in.ds = ds, in.d4 = d4, in.dq = dq, in.a = a, in.z = z;
        in.wa = wa, in.wb = wb, in.w0 = w0;
        float *ref[3][GRADS_OUTS], *got[GRADS_OUTS];
        for (int k = 0; k < GRADS_OUTS; k++) got[k] = buf(grads_size(&in, k) + 1);
        for (int l = 0; l <= top; l++) {
            for (int k = 0; k < GRADS_OUTS; k++) ref[l][k] = buf(grads_size(&in, k) + 1);
            nhwc_grads_run(b[l], &in, 0, ref[l]);
            nhwc_grads_run(b[l], &in, 1, got);
            for (int k = 0; k < GRADS_OUTS; k++) {
                const size_t sz = grads_size(&in, k);
                CHECKF(!memcmp(got[k], ref[l][k], sz * 4),
                       "%s: channels-last %s (output %d) differs from NCHW, N%d C%d+%d %dx%d", names[l], grads_names[k],
                       k, N, C, Cb, in.H, in.W);
                if (l)
                    CHECKF(!memcmp(ref[l][k], ref[0][k], sz * 4), "%s: %s (output %d) differs from x86-64, N%d C%d %dx%d",
                           names[l], grads_names[k], k, N, C, in.H, in.W);
            }
        }
        /* every value written: no NaN left of the fill (x's NaN reach only dropout's y) */
        int unwritten = 0;
        for (int k = 0; k < GRADS_OUTS; k++)
            for (size_t i = 0; i < grads_size(&in, k) && k != 24; i++) unwritten += isnan(ref[0][k][i]);
        CHECKF(!unwritten, "%d NaN, N%d C%d+%d %dx%d", unwritten, N, C, Cb, in.H, in.W);
        for (int l = 0; l <= top; l++)
            for (int k = 0; k < GRADS_OUTS; k++) bfree(ref[l][k]);
        for (int k = 0; k < GRADS_OUTS; k++) bfree(got[k]);
        bfree(x), bfree(r), bfree(dy), bfree(ds), bfree(d4), bfree(dq), bfree(a), bfree(z);
        bfree(wa), bfree(wb), bfree(w0);
    }
    for (int l = 0; l <= top; l++) b[l]->destroy(b[l]);
}

static void test_isa_levels(void) {
    const char *const *names = isa_names;
    fn_backend *o = isa_backend(NULL, NULL); /* top: the CPU's level */
    const int top = o ? ((cpu_ctx *)o->ctx)->isa : 0;
    if (o) o->destroy(o);
    fn_backend *b[3] = {NULL, NULL, NULL};
    for (int l = 0; l <= top; l++) {
        if (!(b[l] = isa_backend(names[l], NULL))) return;
        CHECKF(((cpu_ctx *)b[l]->ctx)->isa == l, "FN_CPU_ISA=%s gave level %d", names[l], ((cpu_ctx *)b[l]->ctx)->isa);
        CHECKF(strstr(b[l]->device, cpu_isa_name(l)) != NULL, "%s", b[l]->device);
    }
    const char *caps[][3] = {{NULL, "AVX2", "1"}, {NULL, "SSE41", "0"}, {NULL, "AVX512_CORE_BF16", "2"},
                             {"something", NULL, "2"}, {"avx2", "SSE41", "1"}};
    for (int i = 0; i < 5; i++) { /* FN_CPU_ISA, ONEDNN_MAX_CPU_ISA, the level either caps to */
        o = isa_backend(caps[i][0], caps[i][1]);
        const int want = atoi(caps[i][2]) < top ? atoi(caps[i][2]) : top;
        CHECKF(o && ((cpu_ctx *)o->ctx)->isa == want, "FN_CPU_ISA=%s ONEDNN_MAX_CPU_ISA=%s", caps[i][0] ? caps[i][0] : "",
               caps[i][1] ? caps[i][1] : "");
        if (o) o->destroy(o);
    }
    const int shapes[][6] = {{2, 5, 9, 7, 6, 3}, {1, 16, 23, 17, 8, 3}, {2, 4, 8, 11, 5, 2}, {1, 9, 6, 5, 3, 2}};
    for (int si = 0; si < 4; si++) {
        const int N = shapes[si][0], Ci = shapes[si][1], H = shapes[si][2], W = shapes[si][3], Co = shapes[si][4];
        const int k = shapes[si][5];
        const size_t nx = (size_t)N * Ci * H * W, nw = (size_t)Co * Ci * k * k, ny = (size_t)N * Co * H * W;
        /* x [N,Ci,H,W], w [Co,Ci,k,k], dy [N,Co,H,W]; dx0, dw0 the values the backward passes add to */
        float *x = rbuf(nx), *w = rbuf(nw), *bias = rbuf((size_t)Co), *dy = rbuf(ny), *g = rbuf((size_t)Co);
        float *beta = rbuf((size_t)Co), *rm = rbuf((size_t)Co), *rv = rbuf((size_t)Co), *dx0 = rbuf(nx), *dw0 = rbuf(nw);
        for (int c = 0; c < Co; c++) rv[c] = 0.5f + fabsf(rv[c]);
        float *y[3], *ye[3], *dx[3], *dw[3];
        for (int l = 0; l <= top; l++) {
            y[l] = buf(ny), ye[l] = buf(ny), dx[l] = buf(nx), dw[l] = buf(nw);
            memcpy(dx[l], dx0, nx * 4), memcpy(dw[l], dw0, nw * 4);
            void *c = b[l]->ctx;
            b[l]->conv_fwd(c, x, w, bias, y[l], N, Ci, H, W, Co, k, 1);
            b[l]->conv_bn_fwd_infer(c, x, w, bias, ye[l], N, Ci, H, W, Co, k, 1, g, beta, rm, rv, 1e-3f, 1);
            { /* and with an addend (conv_bn_add_fwd_infer: the epilogue's add 2): the two calls' bits */
                float *yz = buf(ny), *sum = buf(ny);
                b[l]->conv_bn_add_fwd_infer(c, x, w, bias, dy, yz, N, Ci, H, W, Co, k, 1, g, beta, rm, rv, 1e-3f, 1);
                b[l]->add(c, ye[l], dy, sum, ny);
                CHECKF(!memcmp(yz, sum, ny * 4), "%s: conv_bn_add_fwd_infer k%d N%d Ci%d %dx%d Co%d", names[l], k, N,
                       Ci, H, W, Co);
                bfree(yz), bfree(sum);
            }
            b[l]->conv_bwd_data(c, dy, w, dx[l], N, Ci, H, W, Co, k, 1, 1);
            b[l]->conv_bwd_filter(c, x, dy, dw[l], N, Ci, H, W, Co, k, 1);
            CHECK(b[l]->error(c) == NULL);
            if (l)
                CHECKF(!memcmp(y[l], y[0], ny * 4) && !memcmp(ye[l], ye[0], ny * 4) && !memcmp(dx[l], dx[0], nx * 4) &&
                           !memcmp(dw[l], dw[0], nw * 4),
                       "%s: Winograd k%d N%d Ci%d %dx%d Co%d differs from x86-64", names[l], k, N, Ci, H, W, Co);
        }
        for (int l = 0; l <= top; l++) bfree(y[l]), bfree(ye[l]), bfree(dx[l]), bfree(dw[l]);
        bfree(x), bfree(w), bfree(bias), bfree(dy), bfree(g), bfree(beta), bfree(rm), bfree(rv), bfree(dx0), bfree(dw0);
    }
    /* the other ops: the whole sequence's results, bit for bit */
    float *x = rbuf(OPS_T), *z = rbuf(OPS_T), *out[3];
    for (int i = 0; i < OPS_T; i += 7) x[i] = 0; /* ReLU's and pooling's ties */
    for (int l = 0; l <= top; l++) {
        out[l] = buf(OPS_OUT);
        isa_ops_run(b[l], x, z, out[l]);
        if (l) CHECKF(!memcmp(out[l], out[0], (size_t)OPS_OUT * 4), "%s: an op differs from x86-64", names[l]);
    }
    for (int l = 0; l <= top; l++) bfree(out[l]);
    bfree(x), bfree(z);
    for (int l = 0; l <= top; l++) b[l]->destroy(b[l]);
}

/* conv_bn_fwd_infer: bitwise the convolution, then the inference batch norm (and ReLU), on the direct
 * method (1x1, strided, small) and on Winograd (3x3 and 2x2 stride 1, big enough) */
static void test_conv_bn(void) {
    static const int cs[][7] = { /* N, Ci, H, W, Co, k, s */
        {2, 8, 9, 7, 6, 1, 1}, {1, 5, 12, 10, 4, 3, 2}, {2, 3, 6, 6, 8, 3, 1},
        {2, 16, 33, 30, 12, 3, 1}, {1, 24, 40, 36, 16, 2, 1}, {3, 16, 20, 20, 8, 7, 1},
    };
    for (size_t t = 0; t < sizeof cs / sizeof *cs; t++) {
        const int N = cs[t][0], Ci = cs[t][1], H = cs[t][2], W = cs[t][3], Co = cs[t][4], k = cs[t][5], s = cs[t][6];
        const int Ho = fn_same(H, k, s, NULL), Wo = fn_same(W, k, s, NULL);
        const size_t nx = (size_t)N * Ci * H * W, ny = (size_t)N * Co * Ho * Wo;
        float *x = rbuf(nx), *w = rbuf((size_t)Co * Ci * k * k), *b = rbuf(Co), *g = rbuf(Co), *be_ = rbuf(Co);
        float *rm = rbuf(Co), *rv = buf(Co), *y1 = buf(ny), *y2 = buf(ny);
        for (int c = 0; c < Co; c++) rv[c] = 0.5f + (float)runif();
        for (int relu = 0; relu <= 1; relu++) {
            be->conv_fwd(be->ctx, x, w, b, y1, N, Ci, H, W, Co, k, s);
            if (relu) be->bn_relu_fwd_infer(be->ctx, y1, g, be_, y1, rm, rv, N, Co, Ho * Wo, 1e-3f);
            else be->bn_fwd_infer(be->ctx, y1, g, be_, y1, rm, rv, N, Co, Ho * Wo, 1e-3f);
            be->conv_bn_fwd_infer(be->ctx, x, w, b, y2, N, Ci, H, W, Co, k, s, g, be_, rm, rv, 1e-3f, relu);
            CHECKF(!memcmp(y1, y2, ny * sizeof *y1), "case %zu relu %d", t, relu);
        }
        bfree(x), bfree(w), bfree(b), bfree(g), bfree(be_), bfree(rm), bfree(rv), bfree(y1), bfree(y2);
    }
}

/* FN_CPU_KCACHE_MB: whole megabytes, 0 keeping none; any other value the default 1024 */
static void test_kcache_budget(void) {
    static const struct { const char *v; size_t mb; } cs[] = {
        {"0", 0}, {"16", 16}, {"1048576", 1048576}, {"-1", 1024}, {"abc", 1024}, {"12x", 1024},
        {"", 1024}, {"1048577", 1024}, {"99999999999999999999", 1024},
    };
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
        fn_err e;
        setenv("FN_CPU_KCACHE_MB", cs[i].v, 1);
        fn_backend *b = fn_cpu_backend_new(1, &e);
        CHECK(b != NULL);
        if (!b) continue;
        const cpu_ctx *c = b->ctx;
        CHECKF(c->kern_max == cs[i].mb << 18, "FN_CPU_KCACHE_MB=%s: %zu floats", cs[i].v, c->kern_max);
        b->destroy(b);
    }
    unsetenv("FN_CPU_KCACHE_MB");
}

/* a workspace that cannot be had: the op does nothing and error() says so, once */
static void test_out_of_memory(void) {
    float *x = buf(65536), *dy = buf(65536), *dw = buf(1);
    CHECK(be->error(be->ctx) == NULL);
    /* 65536 x 65536 x 7 x 7 partial filter gradients: 840 GB per thread */
    be->conv_bwd_filter(be->ctx, x, dy, dw, 1, 65536, 1, 1, 65536, 7, 1);
    const char *m = be->error(be->ctx);
    CHECKF(m && strstr(m, "out of memory"), "%s", m ? m : "(no error)");
    CHECK(be->error(be->ctx) == NULL);
    CHECK(dw[0] == 0);
    conv_one(1, 4, 6, 6, 3, 7, 1, 0); /* and the backend goes on working */
    bfree(x), bfree(dy), bfree(dw);
}

/* batch norm ------------------------------------------------------------------------------------- */
typedef struct bn_case {
    int N, C, HW;
    float *x, *g, *b, *y, *mean, *is, *rm, *rv, *r;
} bn_case;

static double bn_loss(void *st) {
    bn_case *c = st;
    be->bn_fwd_train(be->ctx, c->x, c->g, c->b, c->y, c->mean, c->is, c->rm, c->rv, c->N, c->C, c->HW, 0.01f,
                     1e-3f);
    return dotd(c->r, c->y, (size_t)c->N * c->C * c->HW);
}

static void test_bn(void) {
    bn_case c = {3, 4, 30, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    const size_t n = (size_t)c.N * c.C * c.HW;
    c.x = rbuf(n), c.g = rbuf(4), c.b = rbuf(4), c.y = buf(n), c.mean = buf(4), c.is = buf(4);
    c.rm = rbuf(4), c.rv = buf(4), c.r = rbuf(n);
    for (int i = 0; i < 4; i++) c.rv[i] = 0.5f + (float)runif();
    for (size_t i = 0; i < n; i++) c.x[i] = c.x[i] * 2 + 1;
    float rm0[4], rv0[4];
    memcpy(rm0, c.rm, sizeof rm0), memcpy(rv0, c.rv, sizeof rv0);
    bn_loss(&c);

    /* statistics, output and running averages against the formulas */
    const int m = c.N * c.HW;
    for (int ch = 0; ch < 4; ch++) {
        double mu = 0, var = 0;
        for (int k = 0; k < c.N; k++)
            for (int i = 0; i < c.HW; i++) mu += c.x[((size_t)k * 4 + ch) * c.HW + i];
        mu /= m;
        for (int k = 0; k < c.N; k++)
            for (int i = 0; i < c.HW; i++) {
                double d = c.x[((size_t)k * 4 + ch) * c.HW + i] - mu;
                var += d * d;
            }
        var /= m;
        CHECK_NEAR(c.mean[ch], mu, 1e-5);
        CHECK_NEAR(c.is[ch], 1 / sqrt(var + 1e-3), 1e-5);
        CHECK_NEAR(c.rm[ch], 0.99 * rm0[ch] + 0.01 * mu, 1e-6);
        CHECK_NEAR(c.rv[ch], 0.99 * rv0[ch] + 0.01 * var * m / (m - 1), 1e-6);
        for (int k = 0; k < c.N; k++)
            for (int i = 0; i < c.HW; i++) {
                size_t j = ((size_t)k * 4 + ch) * c.HW + i;
                CHECK_NEAR(c.y[j], c.g[ch] * (c.x[j] - mu) / sqrt(var + 1e-3) + c.b[ch], 1e-4);
            }
    }
    /* inference with running statistics */
    float *yi = buf(n);
    be->bn_fwd_infer(be->ctx, c.x, c.g, c.b, yi, c.rm, c.rv, c.N, c.C, c.HW, 1e-3f);
    int bad = 0;
    for (size_t j = 0; j < n; j++) {
        int ch = (int)(j / c.HW % 4);
        double ref = c.g[ch] * (c.x[j] - c.rm[ch]) / sqrt(c.rv[ch] + 1e-3) + c.b[ch];
        bad += !(fabs(yi[j] - ref) <= 1e-4 * (1 + fabs(ref)));
    }
    CHECK(bad == 0);

    /* gradients */
    float *dx = buf(n), *dg = buf(4), *db = buf(4);
    be->fill(be->ctx, dx, NAN, n);
    be->bn_bwd(be->ctx, c.x, c.r, c.g, c.mean, c.is, dx, dg, db, c.N, c.C, c.HW, 0);
    CHECK(fd_check("bn dx", bn_loss, &c, c.x, dx, n, n, 1e-2f, 2e-4, 2e-3) == 0);
    CHECK(fd_check("bn dgamma", bn_loss, &c, c.g, dg, 4, 4, 1e-2f, 2e-4, 2e-3) == 0);
    CHECK(fd_check("bn dbeta", bn_loss, &c, c.b, db, 4, 4, 1e-2f, 2e-4, 2e-3) == 0);
    /* acc = 1 and parameter accumulation */
    float *dx2 = rbuf(n), dg2[4], db2[4];
    float *dx0 = buf(n);
    be->copy(be->ctx, dx0, dx2, n);
    memcpy(dg2, dg, sizeof dg2), memcpy(db2, db, sizeof db2);
    be->bn_bwd(be->ctx, c.x, c.r, c.g, c.mean, c.is, dx2, dg, db, c.N, c.C, c.HW, 1);
    bad = 0;
    for (size_t j = 0; j < n; j++) bad += !(fabs(dx2[j] - (dx0[j] + dx[j])) <= 1e-5 * (1 + fabs(dx0[j])));
    CHECK(bad == 0);
    for (int ch = 0; ch < 4; ch++) {
        CHECK_NEAR(dg[ch], 2 * dg2[ch], 1e-5 * (1 + fabs(dg2[ch])));
        CHECK_NEAR(db[ch], 2 * db2[ch], 1e-5 * (1 + fabs(db2[ch])));
    }
    bfree(c.x), bfree(c.g), bfree(c.b), bfree(c.y), bfree(c.mean), bfree(c.is), bfree(c.rm), bfree(c.rv);
    bfree(c.r), bfree(yi), bfree(dx), bfree(dg), bfree(db), bfree(dx2), bfree(dx0);
}

/* the fused batch norm + ReLU: bit for bit the two calls, training (outputs, statistics) and inference */
static void test_bn_relu(void) {
    const int N = 2, C = 5, HW = 77;
    const size_t n = (size_t)N * C * HW;
    float *x = rbuf(n), *g = rbuf(C), *b = rbuf(C), *y1 = buf(n), *y2 = buf(n);
    float *st1 = buf(4 * (size_t)C), *st2 = buf(4 * (size_t)C); /* mean, invstd, rmean, rvar */
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < C; i++) st1[2 * C + i] = st2[2 * C + i] = 0.1f * (float)i, st1[3 * C + i] = st2[3 * C + i] = 1.5f;
        be->bn_fwd_train(be->ctx, x, g, b, y1, st1, st1 + C, st1 + 2 * C, st1 + 3 * C, N, C, HW, 0.01f, 1e-5f);
        be->act_fwd(be->ctx, FN_ACT_RELU, y1, y1, n, 0);
        be->bn_relu_fwd_train(be->ctx, x, g, b, y2, st2, st2 + C, st2 + 2 * C, st2 + 3 * C, N, C, HW, 0.01f, 1e-5f);
        CHECK(!memcmp(y1, y2, n * sizeof *y1) && !memcmp(st1, st2, 4 * (size_t)C * sizeof *st1));
        be->bn_fwd_infer(be->ctx, x, g, b, y1, st1 + 2 * C, st1 + 3 * C, N, C, HW, 1e-5f);
        be->act_fwd(be->ctx, FN_ACT_RELU, y1, y1, n, 0);
        be->bn_relu_fwd_infer(be->ctx, x, g, b, y2, st2 + 2 * C, st2 + 3 * C, N, C, HW, 1e-5f);
        CHECK(!memcmp(y1, y2, n * sizeof *y1));
        int neg = 0, zero = 0;
        for (size_t i = 0; i < n; i++) neg += y2[i] < 0, zero += y2[i] == 0;
        CHECK(neg == 0 && zero > 0);
    }
    bfree(x), bfree(g), bfree(b), bfree(y1), bfree(y2), bfree(st1), bfree(st2);
}

/* activations ------------------------------------------------------------------------------------ */
typedef struct act_case {
    int act;
    size_t n;
    float *x, *y, *r;
} act_case;

static double act_loss(void *st) {
    act_case *c = st;
    be->act_fwd(be->ctx, c->act, c->x, c->y, c->n, 0.3f);
    return dotd(c->r, c->y, c->n);
}

static void test_act(void) {
    const char *names[] = {"relu", "leaky", "sigmoid"};
    for (int act = 0; act < 3; act++) {
        act_case c = {act, 200, rbuf(200), buf(200), rbuf(200)};
        for (size_t i = 0; i < c.n; i++)
            if (fabsf(c.x[i]) < 0.05f) c.x[i] = 0.5f; /* away from the kink */
        act_loss(&c);
        for (size_t i = 0; i < c.n; i++) {
            float x = c.x[i];
            double ref = act == 0 ? (x > 0 ? x : 0) : act == 1 ? (x > 0 ? x : 0.3 * x) : 1 / (1 + exp(-x));
            CHECKF(fabs(c.y[i] - ref) <= 1e-6, "%s(%g) = %g, not %g", names[act], x, c.y[i], ref);
        }
        float *dx = buf(c.n);
        be->act_bwd(be->ctx, act, c.y, c.r, dx, c.n, 0.3f, 0);
        CHECKF(fd_check(names[act], act_loss, &c, c.x, dx, c.n, 200, 1e-3f, 1e-3, 1e-2) == 0, "%s", names[act]);
        /* acc = 1 */
        float *dx2 = buf(c.n);
        be->fill(be->ctx, dx2, 1.0f, c.n);
        be->act_bwd(be->ctx, act, c.y, c.r, dx2, c.n, 0.3f, 1);
        int bad = 0;
        for (size_t i = 0; i < c.n; i++) bad += fabsf(dx2[i] - (1 + dx[i])) > 1e-6f;
        CHECK(bad == 0);
        /* in place: y aliases x */
        float *z = buf(c.n);
        be->copy(be->ctx, z, c.x, c.n);
        be->act_fwd(be->ctx, act, z, z, c.n, 0.3f);
        CHECK(memcmp(z, c.y, c.n * sizeof(float)) == 0);
        bfree(c.x), bfree(c.y), bfree(c.r), bfree(dx), bfree(dx2), bfree(z);
    }
}

/* the sigmoid over its whole range (the CPU backend has its own vectorized exp) */
static void test_sigmoid_range(void) {
    const size_t n = 400001;
    float *x = buf(n), *y = buf(n);
    for (size_t i = 0; i < n; i++) x[i] = -100.0f + 200.0f * (float)i / (float)(n - 1);
    x[0] = -1e30f, x[1] = 1e30f, x[2] = -INFINITY, x[3] = INFINITY, x[4] = NAN;
    be->act_fwd(be->ctx, FN_ACT_SIGMOID, x, y, n, 0);
    double worst = 0;
    for (size_t i = 5; i < n; i++) {
        double ref = 1 / (1 + exp(-(double)x[i]));
        if (x[i] > -80) /* relative: the small tail counts too; below, saturated near 0 */
            worst = fmax(worst, fabs(y[i] - ref) / ref);
        else
            worst = fmax(worst, fabs(y[i] - ref) * 1e30);
    }
    CHECKF(worst < 1e-6, "worst relative error %g", worst);
    CHECK(y[0] >= 0 && y[0] < 1e-37f && y[1] == 1.0f && y[2] >= 0 && y[2] < 1e-37f && y[3] == 1.0f);
    CHECK(isnan(y[4]));
    bfree(x), bfree(y);
}

/* add, mul, axpy --------------------------------------------------------------------------------- */
typedef struct mul_case {
    size_t n;
    float *a, *b, *y, *r;
} mul_case;

static double mul_loss(void *st) {
    mul_case *c = st;
    be->mul(be->ctx, c->a, c->b, c->y, c->n, 0);
    return dotd(c->r, c->y, c->n);
}

static void test_add_mul_axpy(void) {
    const size_t n = 100000; /* past the threading threshold */
    float *a = rbuf(n), *b = rbuf(n), *y = buf(n);
    be->add(be->ctx, a, b, y, n);
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += y[i] != a[i] + b[i];
    CHECK(bad == 0);
    be->mul(be->ctx, a, b, y, n, 0);
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += y[i] != a[i] * b[i];
    CHECK(bad == 0);
    be->mul(be->ctx, a, b, y, n, 1);
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += y[i] != a[i] * b[i] + a[i] * b[i];
    CHECK(bad == 0);
    be->copy(be->ctx, y, b, n);
    be->axpy(be->ctx, 0.5f, a, y, n);
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += y[i] != b[i] + 0.5f * a[i];
    CHECK(bad == 0);
    be->add(be->ctx, y, a, y, n); /* aliasing */
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += y[i] != (b[i] + 0.5f * a[i]) + a[i];
    CHECK(bad == 0);
    /* gradient of mul: dL/da = r*b, computed with mul itself */
    mul_case c = {50, a, b, y, rbuf(50)};
    float *da = buf(50), *dbb = buf(50);
    be->mul(be->ctx, c.r, b, da, 50, 0);
    be->mul(be->ctx, c.r, a, dbb, 50, 0);
    CHECK(fd_check("mul da", mul_loss, &c, a, da, 50, 50, 1e-2f, 1e-4, 1e-3) == 0);
    CHECK(fd_check("mul db", mul_loss, &c, b, dbb, 50, 50, 1e-2f, 1e-4, 1e-3) == 0);
    bfree(a), bfree(b), bfree(y), bfree(c.r), bfree(da), bfree(dbb);
}

/* concat / split --------------------------------------------------------------------------------- */
typedef struct cat_case {
    int N, Ca, Cb, HW;
    float *a, *b, *y, *r;
} cat_case;

static double cat_loss(void *st) {
    cat_case *c = st;
    be->concat(be->ctx, c->a, c->b, c->y, c->N, c->Ca, c->Cb, c->HW);
    return dotd(c->r, c->y, (size_t)c->N * (c->Ca + c->Cb) * c->HW);
}

static void test_concat_split(void) {
    cat_case c = {2, 3, 2, 7, NULL, NULL, NULL, NULL};
    const size_t na = 2 * 3 * 7, nb = 2 * 2 * 7, ny = na + nb;
    c.a = rbuf(na), c.b = rbuf(nb), c.y = buf(ny), c.r = rbuf(ny);
    cat_loss(&c);
    CHECK(c.y[0] == c.a[0] && c.y[21] == c.b[0] && c.y[35] == c.a[21] && c.y[ny - 1] == c.b[nb - 1]);
    float *da = buf(na), *db = buf(nb);
    be->split(be->ctx, c.r, da, db, 2, 3, 2, 7, 0);
    CHECK(fd_check("split da", cat_loss, &c, c.a, da, na, na, 1e-2f, 1e-4, 1e-3) == 0);
    CHECK(fd_check("split db", cat_loss, &c, c.b, db, nb, nb, 1e-2f, 1e-4, 1e-3) == 0);
    /* acc = 1, and a NULL side */
    float *db2 = buf(nb);
    be->fill(be->ctx, db2, 1.0f, nb);
    be->split(be->ctx, c.r, NULL, db2, 2, 3, 2, 7, 1);
    int bad = 0;
    for (size_t i = 0; i < nb; i++) bad += db2[i] != 1.0f + db[i];
    CHECK(bad == 0);
    bfree(c.a), bfree(c.b), bfree(c.y), bfree(c.r), bfree(da), bfree(db), bfree(db2);
}

/* up2 ------------------------------------------------------------------------------------------- */
typedef struct up_case {
    int N, C, H, W;
    float *x, *y, *r;
} up_case;

static double up_loss(void *st) {
    up_case *c = st;
    be->up2_fwd(be->ctx, c->x, c->y, c->N, c->C, c->H, c->W);
    return dotd(c->r, c->y, (size_t)c->N * c->C * 4 * c->H * c->W);
}

static void test_up2(void) {
    up_case c = {2, 3, 3, 5, NULL, NULL, NULL};
    const size_t nx = 2 * 3 * 3 * 5, ny = 4 * nx;
    c.x = rbuf(nx), c.y = buf(ny), c.r = rbuf(ny);
    up_loss(&c);
    int bad = 0;
    for (int p = 0; p < 6; p++)
        for (int h = 0; h < 6; h++)
            for (int w = 0; w < 10; w++) bad += c.y[(p * 6 + h) * 10 + w] != c.x[(p * 3 + h / 2) * 5 + w / 2];
    CHECK(bad == 0);
    float *dx = buf(nx);
    be->up2_bwd(be->ctx, c.r, dx, 2, 3, 3, 5, 0);
    CHECK(fd_check("up2 dx", up_loss, &c, c.x, dx, nx, nx, 1e-2f, 1e-4, 1e-3) == 0);
    float *dx2 = buf(nx);
    be->fill(be->ctx, dx2, 2.0f, nx);
    be->up2_bwd(be->ctx, c.r, dx2, 2, 3, 3, 5, 1);
    bad = 0;
    for (size_t i = 0; i < nx; i++) bad += fabsf(dx2[i] - (2 + dx[i])) > 1e-6f;
    CHECK(bad == 0);
    bfree(c.x), bfree(c.y), bfree(c.r), bfree(dx), bfree(dx2);
}

/* 2x2 max pooling ---------------------------------------------------------------------------------- */
typedef struct pool_case {
    int N, C, H, W;
    float *x, *y, *r;
} pool_case;

static double pool_loss(void *st) {
    pool_case *c = st;
    be->pool2_fwd(be->ctx, c->x, c->y, c->N, c->C, c->H, c->W);
    return dotd(c->r, c->y, (size_t)c->N * c->C * (c->H / 2) * (c->W / 2));
}

static void test_pool2(void) {
    pool_case c = {2, 3, 6, 8, NULL, NULL, NULL};
    const size_t nx = 2 * 3 * 6 * 8, ny = nx / 4;
    c.x = buf(nx), c.y = buf(ny), c.r = rbuf(ny);
    /* x: the values -1 + 2k/nx in a random order, so that no two of a window are within the finite
     * differences' step (random normals were, for some seeds: the check depended on the tests before) */
    for (size_t i = 0; i < nx; i++) c.x[i] = -1.0f + 2.0f * (float)i / (float)nx;
    for (size_t i = nx - 1; i > 0; i--) {
        const size_t j = (size_t)(runif() * (double)(i + 1));
        const float t = c.x[i];
        c.x[i] = c.x[j], c.x[j] = t;
    }
    pool_loss(&c);
    int bad = 0;
    for (int p = 0; p < 6; p++)
        for (int h = 0; h < 3; h++)
            for (int w = 0; w < 4; w++) {
                const float *q = c.x + (size_t)p * 48 + 2 * h * 8 + 2 * w;
                float m = fmaxf(fmaxf(q[0], q[1]), fmaxf(q[8], q[9]));
                bad += c.y[(p * 3 + h) * 4 + w] != m;
            }
    CHECK(bad == 0);
    /* finite differences (no two values of a window within a step) */
    float *dx = buf(nx);
    be->pool2_bwd(be->ctx, c.x, c.r, dx, 2, 3, 6, 8, 0);
    CHECK(fd_check("pool2 dx", pool_loss, &c, c.x, dx, nx, nx, 1e-3f, 1e-4, 1e-3) == 0);
    float *dx2 = buf(nx);
    be->fill(be->ctx, dx2, 2.0f, nx);
    be->pool2_bwd(be->ctx, c.x, c.r, dx2, 2, 3, 6, 8, 1);
    bad = 0;
    for (size_t i = 0; i < nx; i++) bad += fabsf(dx2[i] - (2 + dx[i])) > 1e-6f;
    CHECK(bad == 0);
    /* ties go to the first maximum in row-major order, as PyTorch */
    float tx[8] = {1, 1, 0, 0, 1, 1, 0, 0}, ty[2], tg[8], td[2] = {5, 7};
    float *bx = buf(8), *by = buf(2), *bg = buf(8), *bd = buf(2);
    be->upload(be->ctx, bx, tx, 8);
    be->upload(be->ctx, bd, td, 2);
    be->pool2_fwd(be->ctx, bx, by, 1, 1, 2, 4);
    be->pool2_bwd(be->ctx, bx, bd, bg, 1, 1, 2, 4, 0);
    be->download(be->ctx, ty, by, 2);
    be->download(be->ctx, tg, bg, 8);
    CHECK(ty[0] == 1 && ty[1] == 0);
    CHECK(tg[0] == 5 && tg[1] == 0 && tg[4] == 0 && tg[5] == 0 && tg[2] == 7 && tg[3] == 0 && tg[6] == 0 && tg[7] == 0);
    bfree(c.x), bfree(c.y), bfree(c.r), bfree(dx), bfree(dx2), bfree(bx), bfree(by), bfree(bg), bfree(bd);
}

/* channel-broadcast product ------------------------------------------------------------------------ */
typedef struct cmul_case {
    int N, C, HW;
    float *x, *a, *y, *r;
} cmul_case;

static double cmul_loss(void *st) {
    cmul_case *c = st;
    be->cmul_fwd(be->ctx, c->x, c->a, c->y, c->N, c->C, c->HW);
    return dotd(c->r, c->y, (size_t)c->N * c->C * c->HW);
}

static void test_cmul(void) {
    cmul_case c = {2, 5, 300, NULL, NULL, NULL, NULL}; /* HW > 256: two pixel blocks */
    const size_t nx = 2 * 5 * 300, na = 2 * 300;
    c.x = rbuf(nx), c.a = rbuf(na), c.y = buf(nx), c.r = rbuf(nx);
    cmul_loss(&c);
    int bad = 0;
    for (int n = 0; n < 2; n++)
        for (int ch = 0; ch < 5; ch++)
            for (int i = 0; i < 300; i++)
                bad += c.y[(n * 5 + ch) * 300 + i] != c.x[(n * 5 + ch) * 300 + i] * c.a[n * 300 + i];
    CHECK(bad == 0);
    float *dx = buf(nx), *da = buf(na);
    be->cmul_bwd(be->ctx, c.x, c.a, c.r, dx, da, 2, 5, 300, 0, 0);
    CHECK(fd_check("cmul dx", cmul_loss, &c, c.x, dx, nx, 200, 1e-2f, 1e-4, 1e-3) == 0);
    CHECK(fd_check("cmul da", cmul_loss, &c, c.a, da, na, 200, 1e-2f, 1e-4, 1e-3) == 0);
    float *dx2 = buf(nx), *da2 = buf(na);
    be->fill(be->ctx, dx2, 2.0f, nx);
    be->fill(be->ctx, da2, 3.0f, na);
    be->cmul_bwd(be->ctx, c.x, c.a, c.r, dx2, da2, 2, 5, 300, 1, 1);
    bad = 0;
    for (size_t i = 0; i < nx; i++) bad += fabsf(dx2[i] - (2 + dx[i])) > 1e-5f;
    for (size_t i = 0; i < na; i++) bad += fabsf(da2[i] - (3 + da[i])) > 1e-5f;
    CHECK(bad == 0);
    bfree(c.x), bfree(c.a), bfree(c.y), bfree(c.r), bfree(dx), bfree(da), bfree(dx2), bfree(da2);
}

/* SE -------------------------------------------------------------------------------------------- */
typedef struct se_case {
    int N, C, HW, Cr;
    float *x, *wa, *wb, *y, *pool, *hid, *gate, *r;
} se_case;

static double se_loss(void *st) {
    se_case *c = st;
    be->se_fwd(be->ctx, c->x, c->wa, c->wb, c->y, c->pool, c->hid, c->gate, c->N, c->C, c->HW, c->Cr);
    return dotd(c->r, c->y, (size_t)c->N * c->C * c->HW);
}

static void test_se(void) {
    se_case c = {2, 6, 10, 3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    const size_t n = 2 * 6 * 10;
    c.x = rbuf(n), c.wa = rbuf(18), c.wb = rbuf(18), c.y = buf(n), c.pool = buf(12), c.hid = buf(6);
    c.gate = buf(12), c.r = rbuf(n);
    for (size_t i = 0; i < n; i++) c.x[i] += 0.5f; /* positive pools: live ReLUs */
    se_loss(&c);
    /* forward against the formula */
    for (int k = 0; k < 2; k++) {
        double pool[6], hid[3];
        for (int ch = 0; ch < 6; ch++) pool[ch] = 0;
        for (int ch = 0; ch < 6; ch++)
            for (int i = 0; i < 10; i++) pool[ch] += c.x[(k * 6 + ch) * 10 + i] / 10.0;
        for (int r = 0; r < 3; r++) {
            double s = 0;
            for (int ch = 0; ch < 6; ch++) s += pool[ch] * c.wa[r * 6 + ch];
            hid[r] = s > 0 ? s : 0;
        }
        for (int ch = 0; ch < 6; ch++) {
            double s = 0;
            for (int r = 0; r < 3; r++) s += hid[r] * c.wb[ch * 3 + r];
            double g = 1 / (1 + exp(-s));
            CHECK_NEAR(c.gate[k * 6 + ch], g, 1e-6);
            for (int i = 0; i < 10; i++) CHECK_NEAR(c.y[(k * 6 + ch) * 10 + i], c.x[(k * 6 + ch) * 10 + i] * g, 1e-5);
        }
    }
    float *dx = buf(n), *dwa = buf(18), *dwb = buf(18);
    be->se_bwd(be->ctx, c.x, c.r, c.wa, c.wb, c.pool, c.hid, c.gate, dx, dwa, dwb, 2, 6, 10, 3, 0);
    CHECK(fd_check("se dx", se_loss, &c, c.x, dx, n, n, 1e-2f, 3e-4, 3e-3) == 0);
    CHECK(fd_check("se dwa", se_loss, &c, c.wa, dwa, 18, 18, 1e-2f, 3e-4, 3e-3) == 0);
    CHECK(fd_check("se dwb", se_loss, &c, c.wb, dwb, 18, 18, 1e-2f, 3e-4, 3e-3) == 0);
    /* acc = 1, and the parameter gradients accumulate */
    float *dx2 = buf(n), dwa0[18];
    memcpy(dwa0, dwa, sizeof dwa0);
    be->fill(be->ctx, dx2, -1.0f, n);
    be->se_bwd(be->ctx, c.x, c.r, c.wa, c.wb, c.pool, c.hid, c.gate, dx2, dwa, dwb, 2, 6, 10, 3, 1);
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += fabsf(dx2[i] - (dx[i] - 1)) > 1e-5f;
    for (int i = 0; i < 18; i++) bad += fabsf(dwa[i] - 2 * dwa0[i]) > 1e-5f * (1 + fabsf(dwa0[i]));
    CHECK(bad == 0);
    bfree(c.x), bfree(c.wa), bfree(c.wb), bfree(c.y), bfree(c.pool), bfree(c.hid), bfree(c.gate), bfree(c.r);
    bfree(dx), bfree(dwa), bfree(dwb), bfree(dx2);
}

/* dropout ---------------------------------------------------------------------------------------- */
static void test_dropout(void) {
    const size_t n = 100000;
    const float p = 0.2f;
    float *x = rbuf(n), *y = buf(n), *mask = buf(n);
    be->dropout_fwd(be->ctx, x, y, mask, 4, 5, (int)n / 20, p, 42);
    size_t kept = 0;
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        float m = fn_dropout_u(42, i) >= p ? 1.0f / (1.0f - p) : 0.0f;
        bad += mask[i] != m || y[i] != x[i] * m;
        kept += m != 0;
    }
    CHECK(bad == 0);
    CHECKF(fabs((double)kept / n - 0.8) < 0.01, "kept %zu of %zu", kept, n);
    float *dy = rbuf(n), *dx = buf(n);
    be->dropout_bwd(be->ctx, dy, mask, dx, n, 0);
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += dx[i] != dy[i] * mask[i];
    CHECK(bad == 0);
    be->dropout_bwd(be->ctx, dy, mask, dx, n, 1);
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += dx[i] != dy[i] * mask[i] + dy[i] * mask[i];
    CHECK(bad == 0);
    /* another seed, another mask; p = 0 keeps everything */
    float *m2 = buf(n);
    be->dropout_fwd(be->ctx, x, y, m2, 4, 5, (int)n / 20, p, 43);
    CHECK(memcmp(m2, mask, n * sizeof(float)) != 0);
    be->dropout_fwd(be->ctx, x, y, m2, 4, 5, (int)n / 20, 0.0f, 43);
    CHECK(memcmp(y, x, n * sizeof(float)) == 0);
    bfree(x), bfree(y), bfree(mask), bfree(dy), bfree(dx), bfree(m2);
}

/* Dice ------------------------------------------------------------------------------------------- */
typedef struct dice_case {
    int N, HW;
    float *p, *t;
} dice_case;

static double dice_loss(void *st) {
    dice_case *c = st;
    return be->dice_loss(be->ctx, c->p, c->t, NULL, c->N, c->HW, 1.0f);
}

static void test_dice(void) {
    dice_case c = {3, 40, NULL, NULL};
    const size_t n = 120;
    c.p = buf(n), c.t = buf(n);
    for (size_t i = 0; i < n; i++) {
        c.p[i] = (float)(0.05 + 0.9 * runif());
        c.t[i] = runif() < 0.4 ? 1.0f : i % 7 == 0 ? 0.5f : 0.0f;
    }
    float *tb = buf(n); /* binary */
    for (size_t i = 0; i < n; i++) tb[i] = c.t[i] == 1.0f;
    float *dp = buf(n);
    float loss = be->dice_loss(be->ctx, c.p, c.t, dp, 3, 40, 1.0f);
    double ref = 0;
    for (int k = 0; k < 3; k++) {
        double I = 0, S = 0;
        for (int i = 0; i < 40; i++) I += (double)c.p[k * 40 + i] * c.t[k * 40 + i], S += c.p[k * 40 + i] + c.t[k * 40 + i];
        ref += (2 * I + 1) / (S + 1);
    }
    ref = 1 - ref / 3;
    CHECK_NEAR(loss, ref, 1e-6);
    /* the loss is returned as a float: use a larger step */
    CHECK(fd_check("dice dp", dice_loss, &c, c.p, dp, n, n, 2e-2f, 2e-4, 2e-2) == 0);
    /* a perfect prediction has loss 0 */
    float l0 = be->dice_loss(be->ctx, tb, tb, NULL, 3, 40, 1.0f);
    CHECK(l0 > -1e-6f && l0 < 0.01f);
    bfree(c.p), bfree(c.t), bfree(dp), bfree(tb);
}

/* sumsq, adam, memory ---------------------------------------------------------------------------- */
static void test_sumsq(void) {
    const size_t n = 300001;
    float *x = rbuf(n);
    double ref = 0;
    for (size_t i = 0; i < n; i++) ref += (double)x[i] * x[i];
    double s = be->sumsq(be->ctx, x, n);
    CHECKF(fabs(s - ref) <= 1e-6 * ref, "%.9g vs %.9g", s, ref);
    CHECK_NEAR(be->sumsq(be->ctx, x, 3), (double)x[0] * x[0] + (double)x[1] * x[1] + (double)x[2] * x[2], 1e-5);
    CHECK(be->sumsq(be->ctx, x, n) == s); /* deterministic */
    CHECK(be->sumsq(be->ctx, x, 0) == 0);
    bfree(x);
}

static void test_adam(void) {
    const size_t n = 50000;
    for (int withl2 = 0; withl2 < 2; withl2++) {
        const float l2 = withl2 ? 1e-2f : 0.0f, lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-7f;
        float *w = rbuf(n), *m = buf(n), *v = buf(n), *g = buf(n);
        double *wr = malloc(n * sizeof *wr), *mr = calloc(n, sizeof *mr), *vr = calloc(n, sizeof *vr);
        for (size_t i = 0; i < n; i++) wr[i] = w[i];
        int bad = 0;
        for (long t = 1; t <= 3; t++) {
            for (size_t i = 0; i < n; i++) g[i] = rnorm() * (i % 3 == 0 ? 1e-4f : 1.0f);
            float g0 = g[7];
            be->adam(be->ctx, w, g, m, v, n, lr, b1, b2, eps, l2, t);
            CHECK(g[7] == g0); /* g unchanged */
            for (size_t i = 0; i < n; i++) {
                double gi = g[i] + 2.0 * l2 * wr[i];
                mr[i] = b1 * mr[i] + (1 - b1) * gi;
                vr[i] = b2 * vr[i] + (1 - b2) * gi * gi;
                double mh = mr[i] / (1 - pow(b1, t)), vh = vr[i] / (1 - pow(b2, t));
                wr[i] -= lr * mh / (sqrt(vh) + eps);
                int b = !(fabs(w[i] - wr[i]) <= 1e-6 * (1 + fabs(wr[i])));
                b += !(fabs(m[i] - mr[i]) <= 1e-7 + 1e-5 * fabs(mr[i])); /* m cancels: absolute */
                if (b && !bad) fprintf(stderr, "  t %ld i %zu: w %.9g vs %.9g, m %.9g vs %.9g\n", t, i, w[i], wr[i], m[i], mr[i]);
                bad += b;
            }
        }
        CHECKF(bad == 0, "adam l2=%g: %d mismatches", l2, bad);
        bfree(w), bfree(m), bfree(v), bfree(g);
        free(wr), free(mr), free(vr);
    }
}

static void test_memory(void) {
    const size_t n = 1000000;
    float *a = buf(n), *b = buf(n);
    int bad = 0;
    for (size_t i = 0; i < n; i++) bad += a[i] != 0;
    CHECK(bad == 0);
    float *h = malloc(n * sizeof *h);
    for (size_t i = 0; i < n; i++) h[i] = (float)i;
    be->upload(be->ctx, a, h, n);
    be->copy(be->ctx, b, a, n);
    memset(h, 0, n * sizeof *h);
    be->download(be->ctx, h, b, n);
    bad = 0;
    for (size_t i = 0; i < n; i++) bad += h[i] != (float)i;
    CHECK(bad == 0);
    be->fill(be->ctx, b, 3.5f, n);
    CHECK(b[0] == 3.5f && b[n - 1] == 3.5f);
    be->sync(be->ctx);
    free(h);
    bfree(a), bfree(b);
    CHECK(strcmp(be->name, "cpu") == 0 && strstr(be->device, "CPU") != NULL);
}

/* a second backend with another thread count gives the same results as the first (bit-identical for
 * the thread-count-independent ops, within rounding for convolution) */
static void test_threads(void) {
    fn_err e;
    fn_backend *b1 = fn_cpu_backend_new(1, &e), *b3 = fn_cpu_backend_new(3, &e);
    CHECK(b1 && b3);
    if (!b1 || !b3) return;
    const int N = 2, C = 32, H = 24, W = 20, Co = 16;
    const size_t nx = (size_t)N * C * H * W, ny = (size_t)N * Co * H * W;
    float *x = rbuf(nx), *w = rbuf((size_t)Co * C * 9), *y1 = buf(nx), *y3 = buf(nx); /* nx > ny */
    b1->conv_fwd(b1->ctx, x, w, NULL, y1, N, C, H, W, Co, 3, 1);
    b3->conv_fwd(b3->ctx, x, w, NULL, y3, N, C, H, W, Co, 3, 1);
    double worst = 0;
    for (size_t i = 0; i < ny; i++) worst = fmax(worst, fabs(y1[i] - y3[i]) / (1 + fabs(y1[i])));
    CHECKF(worst < 1e-5, "%g", worst);
    /* backward-data: 3 threads split the channels of each image of the batch of 2 */
    float *dx1 = buf(nx), *dx3 = buf(nx);
    b1->conv_bwd_data(b1->ctx, y1, w, dx1, N, C, H, W, Co, 3, 1, 0);
    b3->conv_bwd_data(b3->ctx, y1, w, dx3, N, C, H, W, Co, 3, 1, 0);
    worst = 0;
    double big = 0;
    for (size_t i = 0; i < nx; i++) big = fmax(big, fabs(dx1[i]));
    for (size_t i = 0; i < nx; i++) worst = fmax(worst, fabs(dx1[i] - dx3[i]) / big);
    CHECKF(worst < 1e-6, "%g", worst);
    bfree(dx1), bfree(dx3);
    float g[32], bt[32], m1[32], i1[32], m3[32], i3[32], rm[32] = {0}, rv[32] = {0};
    for (int i = 0; i < 32; i++) g[i] = 1, bt[i] = 0;
    b1->bn_fwd_train(b1->ctx, x, g, bt, y1, m1, i1, rm, rv, N, C, H * W, 0.01f, 1e-3f);
    b3->bn_fwd_train(b3->ctx, x, g, bt, y3, m3, i3, rm, rv, N, C, H * W, 0.01f, 1e-3f);
    CHECK(memcmp(y1, y3, nx * sizeof(float)) == 0);
    CHECK(b1->sumsq(b1->ctx, x, nx) == b3->sumsq(b3->ctx, x, nx));
    bfree(x), bfree(w), bfree(y1), bfree(y3);
    fn_backend_close(b1);
    fn_backend_close(b3);
}

static void test_backend_open(void) {
    fn_err e = {{0}};
    char note[256];
    fn_backend *b = fn_backend_open("cpu", 2, note, sizeof note, &e);
    CHECK(b && strcmp(b->name, "cpu") == 0);
    fn_backend_close(b);
    setenv("FN_CUDA_LIB", "/nonexistent/libfn-cuda.so", 1);
    b = fn_backend_open("auto", 1, note, sizeof note, &e);
    CHECK(b && strcmp(b->name, "cpu") == 0);
    CHECKF(strncmp(note, "no GPU (", 8) == 0 && strstr(note, "using the CPU"), "%s", note);
    fn_backend_close(b);
    b = fn_backend_open("cuda", 1, note, sizeof note, &e);
    CHECK(b == NULL);
    CHECKF(strncmp(e.msg, "no usable GPU: ", 15) == 0, "%s", e.msg);
    b = fn_backend_open("cuda:1", 1, note, sizeof note, &e);
    CHECK(b == NULL && strncmp(e.msg, "no usable GPU: ", 15) == 0);
    b = fn_backend_open("gpu", 1, note, sizeof note, &e);
    CHECK(b == NULL && strstr(e.msg, "unknown device") != NULL);
    b = fn_backend_open("cuda:x", 1, note, sizeof note, &e);
    CHECK(b == NULL && strstr(e.msg, "unknown device") != NULL);
    unsetenv("FN_CUDA_LIB");
}

/* the default thread count: at least one, never more than OpenMP's (OMP_NUM_THREADS or the affinity
 * mask); a cgroup quota only lowers it */
static void test_cpu_count(void) {
    int n = fn_cpu_count();
    CHECK(n >= 1 && n <= omp_get_max_threads());
    fn_err e;
    fn_backend *b = fn_cpu_backend_new(0, &e);
    char want[64];
    snprintf(want, sizeof want, "CPU (%d thread", n);
    CHECK(b && !strncmp(b->device, want, strlen(want)));
    if (b) b->destroy(b);
}

/* each test from the same random numbers, whatever the tests before it drew (on another ISA they skip some) */
#define RUN_FRESH(fn) do { rs = 0x1234567; RUN(fn); } while (0)

int main(void) {
    fn_err e;
    be = fn_cpu_backend_new(2, &e);
    if (!be) {
        fprintf(stderr, "test_cpu_ops: %s\n", e.msg);
        return 1;
    }
    RUN_FRESH(test_cpu_count);
    RUN_FRESH(test_memory);
    RUN_FRESH(test_same_geometry);
    RUN_FRESH(test_conv_small);
    RUN_FRESH(test_conv_tiled);
    RUN_FRESH(test_conv_winograd);
    RUN_FRESH(test_isa_levels);
    RUN_FRESH(test_layout);
    RUN_FRESH(test_nhwc_ops);
    RUN_FRESH(test_nhwc_norm_train);
    RUN_FRESH(test_nhwc_convs);
    RUN_FRESH(test_nhwc_grads);
    RUN_FRESH(test_conv_bn);
    RUN_FRESH(test_bf16);
    RUN_FRESH(test_conv_chain);
    RUN_FRESH(test_up_conv);
    RUN_FRESH(test_conv_add);
    RUN_FRESH(test_bn_fold);
    RUN_FRESH(test_bf16_paths);
    RUN_FRESH(test_kcache_budget);
    RUN_FRESH(test_out_of_memory);
    RUN_FRESH(test_bn);
    RUN_FRESH(test_bn_relu);
    RUN_FRESH(test_act);
    RUN_FRESH(test_sigmoid_range);
    RUN_FRESH(test_add_mul_axpy);
    RUN_FRESH(test_concat_split);
    RUN_FRESH(test_up2);
    RUN_FRESH(test_pool2);
    RUN_FRESH(test_cmul);
    RUN_FRESH(test_se);
    RUN_FRESH(test_dropout);
    RUN_FRESH(test_dice);
    RUN_FRESH(test_sumsq);
    RUN_FRESH(test_adam);
    RUN_FRESH(test_threads);
    RUN_FRESH(test_backend_open);
    fn_backend_close(be);
    return check_report();
}
