/* conv.c: 2-D convolution on the CPU: forward, backward-data, backward-filter, backward-bias.
 *
 * TensorFlow 'same' padding (fn_same): pad_top/left = floor(total/2), the rest bottom/right.
 * Method: the output of each image is cut into tiles of whole output rows; a tile's im2col matrix
 * col [K, np] (K = Ci*k*k in OIHW order, np = tile pixels) is built in the thread's workspace, small
 * enough to stay in cache, and one single-threaded SGEMM per tile does the arithmetic:
 *   forward        y[Co, np]    = w[Co, K] col[K, np] (+ bias)
 *   backward-data  dcol[K, np]  = w^T dy[Co, np], then col2im adds dcol into dx
 *   backward-filter dw[Co, K]  += dy[Co, np] col^T   (per-thread partial sums, then a fixed-order sum)
 * 1x1 stride-1 convolutions use x and dx in place of col (no copy).
 * Tiles run in parallel on the context's OpenMP threads. In backward-data, neighbouring tiles of one
 * image overlap in dx (the k-1 halo rows), so there the threads split the input channels instead.
 * 3x3 and 2x2 stride-1 convolutions, most of FocusNet's work, go to winograd.c (4x and 2.25x fewer
 * multiplications), except tiny ones.
 * Layouts: x, y, dx, dy [N,C,H,W]; channels last (set_nhwc) [N,H,W,C]: the inference forwards by
 * oneDNN's primitive (use_dnn) or through NCHW copies (conv_fwd_nchw), the bias gradient by norm_nhwc.c
 * (cpu_nhwc_bias_bwd, with the NCHW sums' bits). */
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#include "backend/backend.h"
#include "cpu.h"

typedef struct geom {
    int N, Ci, H, W, Co, k, s;
    int Ho, Wo, pt, pl; /* output size, 'same' padding before */
    int K;              /* Ci*k*k: rows of col */
    size_t HW, HWo;
    int R, tiles; /* output rows per tile, tiles per image */
    int direct;   /* 1x1 stride 1: col is x itself */
} geom;

/* im2col tile target: about this many floats of col (fits the per-core L2 cache) */
#define TILE_FLOATS 131072
#define TILE_MIN_PIX 128
#define TILE_MAX_PIX 2048

static void geom_init(geom *g, int N, int Ci, int H, int W, int Co, int k, int s, int threads) {
    g->N = N, g->Ci = Ci, g->H = H, g->W = W, g->Co = Co, g->k = k, g->s = s;
    g->Ho = fn_same(H, k, s, &g->pt);
    g->Wo = fn_same(W, k, s, &g->pl);
    g->K = Ci * k * k;
    g->HW = (size_t)H * W;
    g->HWo = (size_t)g->Ho * g->Wo;
    g->direct = k == 1 && s == 1;

    if (g->Ho <= 0 || g->Wo <= 0) { /* nothing to compute */
        g->R = 1, g->tiles = 0;
        return;
    }
    /* pixels per tile from the col size, then whole rows; enough tiles to feed every thread */
    long pix = TILE_FLOATS / (g->K > 0 ? g->K : 1);
    if (pix < TILE_MIN_PIX) pix = TILE_MIN_PIX;
    if (pix > TILE_MAX_PIX) pix = TILE_MAX_PIX;
    long want = ((long)g->HWo + pix - 1) / pix; /* tiles per image */
    if (want < 1) want = 1;
    if ((long)N * want < threads) want = (threads + N - 1) / N;
    /* prefer a total that divides evenly among the threads */
    for (long t = want; t < 2 * want && t <= g->Ho; t++)
        if ((N * t) % threads == 0) {
            want = t;
            break;
        }
    if (want > g->Ho) want = g->Ho;
    int R = (int)((g->Ho + want - 1) / want);
    if (R > g->Ho) R = g->Ho;
    g->R = R;
    g->tiles = (g->Ho + R - 1) / R;
}

/* output columns ow in [lo, hi) read input columns ow*s + off inside [0, W) */
static void valid_cols(const geom *g, int off, int *lo, int *hi) {
    int s = g->s;
    int l = off >= 0 ? 0 : (-off + s - 1) / s;
    int h = (g->W - 1 - off) < 0 ? 0 : (g->W - 1 - off) / s + 1;
    if (h > g->Wo) h = g->Wo;
    if (h < l) h = l;
    *lo = l, *hi = h;
}

/* col [K, np] of output rows [oh0, oh1) of one image x [Ci,H,W], x's values through the prologue pro
 * (NULL: none; cpu_bn_value per channel: conv_bwd_bn), the padding zeros */
static void im2col(const geom *g, const float *x, int oh0, int oh1, float *col, const cpu_epi *pro) {
    const int k = g->k, s = g->s, Wo = g->Wo, W = g->W, H = g->H;
    const size_t np = (size_t)(oh1 - oh0) * Wo;
    for (int ci = 0; ci < g->Ci; ci++)
        for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++) {
                float *d = col + ((size_t)(ci * k + kh) * k + kw) * np;
                int off = kw - g->pl, lo, hi;
                valid_cols(g, off, &lo, &hi);
                for (int oh = oh0; oh < oh1; oh++, d += Wo) {
                    int ih = oh * s + kh - g->pt;
                    if (ih < 0 || ih >= H) {
                        memset(d, 0, (size_t)Wo * sizeof(float));
                        continue;
                    }
                    const float *src = x + ((size_t)ci * H + ih) * W + off;
                    for (int ow = 0; ow < lo; ow++) d[ow] = 0;
                    if (s == 1)
                        memcpy(d + lo, src + lo, (size_t)(hi - lo) * sizeof(float));
                    else
                        for (int ow = lo; ow < hi; ow++) d[ow] = src[ow * s];
                    if (pro) /* then through it in place, along the row (a vector loop) */
                        cpu_bn_plane(d + lo, d + lo, hi - lo, pro->scale[ci], pro->shift[ci], pro->relu);
                    for (int ow = hi; ow < Wo; ow++) d[ow] = 0;
                }
            }
}

/* dx [cn,H,W] += col2im of dcol [cn*k*k, np] for output rows [oh0, oh1) (cn channels) */
static void col2im(const geom *g, const float *dcol, int cn, int oh0, int oh1, float *dx) {
    const int k = g->k, s = g->s, Wo = g->Wo, W = g->W, H = g->H;
    const size_t np = (size_t)(oh1 - oh0) * Wo;
    for (int ci = 0; ci < cn; ci++)
        for (int kh = 0; kh < k; kh++)
            for (int kw = 0; kw < k; kw++) {
                const float *d = dcol + ((size_t)(ci * k + kh) * k + kw) * np;
                int off = kw - g->pl, lo, hi;
                valid_cols(g, off, &lo, &hi);
                for (int oh = oh0; oh < oh1; oh++, d += Wo) {
                    int ih = oh * s + kh - g->pt;
                    if (ih < 0 || ih >= H) continue;
                    float *dst = dx + ((size_t)ci * H + ih) * W + off;
                    if (s == 1)
                        for (int ow = lo; ow < hi; ow++) dst[ow] += d[ow];
                    else
                        for (int ow = lo; ow < hi; ow++) dst[ow * s] += d[ow];
                }
            }
}

/* 3x3 and 2x2 stride-1 convolutions go to winograd.c, except tiny ones (a few tiles or channels), where
 * its transforms cost more than they save: from 1024 output pixels of the batch, or from 256 (16x16, or
 * 8x8 in a batch of 4) in an inference forward whose kernels are kept transformed (kept: kcache.c) */
static int use_winograd(const cpu_ctx *c, int N, int Ci, int H, int W, int Co, int k, int s, int kept) {
    if (!c->winograd || c->prec == FN_PREC_BF16 || (k != 3 && k != 2) || s != 1) return 0; /* see bf16.c */
    return c->winograd == 2 || (Ci >= 8 && Co >= 8 && (long)N * H * W >= (kept ? 256 : 1024));
}

static void tile_rows(const geom *g, int t, int *oh0, int *oh1) {
    *oh0 = t * g->R;
    *oh1 = *oh0 + g->R < g->Ho ? *oh0 + g->R : g->Ho;
}

/* the matrix [K, np] of output rows [oh0, oh1) of one image xn [Ci,H,W] and its row stride: x itself
 * for direct (1x1, stride 1) convolutions, else its im2col built in col */
static const float *tile_cols(const geom *g, const float *xn, int oh0, int oh1, float *col, int *ld,
                              const cpu_epi *pro) {
    if (g->direct) { /* (never with a prologue: cpu_conv_bwd_bn) */
        *ld = (int)g->HW;
        return xn + (size_t)oh0 * g->W;
    }
    im2col(g, xn, oh0, oh1, col, pro);
    *ld = (oh1 - oh0) * g->Wo;
    return col;
}

/* The pass kind p (CPU_DNN_*) of a k x k convolution in bf16 by oneDNN's convolution primitive
 * (dnnconv.c) or by im2col and bf16 matrix products (below). Measured (bench-conv -p bf16 -b, FocusNet's
 * 78 convolutions at 128x128 batch 8, 1 thread, a loaded 2-core Zen 4; primitive / matmul seconds): forward
 * 1.58 / 1.95, backward-data 1.39 / 2.93, backward-filter 1.50 / 2.91; the primitive is 1.3x to 2.5x
 * faster on the 2x2, 3x3 and 7x7 kernels, but 1.2x to 3x slower on the forward and backward-data of
 * the 1x1 ones (its reorders to and from its blocked layout cost more than the product saves there, and
 * the matmul path reads x in place), so those keep the matmul path. FN_CPU_BF16=conv or matmul: one for all.
 * The whole net (bench-net --cpu-time, 1 thread, loaded, 3 paired rounds, against the matmul path / fp32):
 * training 128x128 batch 8 1.80x / 1.32x, inference 256x256 batch 1 1.27x / 0.91x, batch 8 1.25x / 0.90x
 * (fp32 inference has Winograd's 4x fewer products on the 3x3 stride-1 layers, which bf16 does not take).
 * With AMX (Intel Xeon VM, FocusNet, bench-net, 2 threads, 4 paired rounds) the primitive on every pass
 * beat that split: training 128x128 batch 8 6.85-7.28 against 6.56-6.93 img/s, inference 256x256 batch 1
 * 7.61-8.17 against 7.18-7.80, batch 8 7.15-7.59 against 6.89-7.33, and less memory (its layout changes
 * are fn's own transposes there); so on AMX the default takes it everywhere. */
/* Channels last (set_nhwc), every convolution by the primitive: the matrix products would read NCHW. */
static int use_dnn(const cpu_ctx *c, int p, int k) {
    if (c->prec != FN_PREC_BF16 || c->dnnconv == 0) return 0;
    return c->dnnconv == 2 || c->amx || c->nhwc || k > 1 || p == CPU_DNN_BWD_FILTER;
}

/* forward ------------------------------------------------------------------------------------------ */

static void conv_fwd(cpu_ctx *c, const float *x, const float *w, const float *b, float *y,
                     int N, int Ci, int H, int W, int Co, int k, int s, const cpu_epi *epi);

/* Channels last (set_nhwc) where oneDNN's primitive does not take the convolution: x goes to NCHW in a
 * context buffer, the convolution runs there, and its result comes back to NHWC through epi (whose addend
 * is NHWC): the same values, so the same bits, at two transposes' cost (no plan sets NHWC where they would
 * be paid often: cpu_nhwc_pays) */
static void conv_fwd_nchw(cpu_ctx *c, const float *x, const float *w, const float *b, float *y, int N, int Ci,
                          int H, int W, int Co, int k, int s, const cpu_epi *epi) {
    int pt;
    const size_t HW = (size_t)H * W, HWo = (size_t)fn_same(H, k, s, &pt) * fn_same(W, k, s, &pt);
    float *xt = cpu_grow(c, &c->lay, &c->lay_cap, (size_t)N * (Ci * HW + Co * HWo)); /* [N,Ci,H,W], [N,Co,Ho,Wo] */
    if (!xt) return; /* error() */
    float *yt = xt + (size_t)N * Ci * HW;
    CPU_ISA_PICK(c->isa, cpu_nchw_from)(x, NULL, xt, N, Ci, HW, 0, NULL, c->threads);
    c->nhwc = 0;
    conv_fwd(c, xt, w, b, yt, N, Ci, H, W, Co, k, s, NULL);
    c->nhwc = 1;
    CPU_ISA_PICK(c->isa, cpu_nhwc_f32)(yt, y, N, Co, HWo, c->threads);
    if (epi) CPU_ISA_PICK(c->isa, cpu_nhwc_epi)(y, y, (size_t)N * HWo, Co, epi, c->threads);
}

/* The same detour for a backward pass in channels last (a training plan's, where a primitive declines):
 * x (NULL: none) and dy to NCHW, then backward-filter (dw +=, x given) or backward-data (dx = or += by
 * acc, w given) there, dx back to NHWC */
static void bwd_nchw(cpu_ctx *c, const float *x, const float *dy, const float *w, float *dw, float *dx, int N, int Ci,
                     int H, int W, int Co, int k, int s, int acc) {
    int pt;
    const size_t HW = (size_t)H * W, HWo = (size_t)fn_same(H, k, s, &pt) * fn_same(W, k, s, &pt);
    float *xt = cpu_grow(c, &c->lay, &c->lay_cap, (size_t)N * (Ci * HW + Co * HWo)); /* [N,Ci,H,W], [N,Co,Ho,Wo] */
    if (!xt) return; /* error() */
    float *dyt = xt + (size_t)N * Ci * HW;
    void (*to_nchw)(const float *, const float *, float *, int, int, size_t, int, const cpu_epi *, int) =
        CPU_ISA_PICK(c->isa, cpu_nchw_from);
    to_nchw(dy, NULL, dyt, N, Co, HWo, 0, NULL, c->threads);
    if (x) to_nchw(x, NULL, xt, N, Ci, HW, 0, NULL, c->threads);
    else if (acc) to_nchw(dx, NULL, xt, N, Ci, HW, 0, NULL, c->threads);
    c->nhwc = 0;
    if (x) cpu_conv_bwd_filter(c, xt, dyt, dw, N, Ci, H, W, Co, k, s);
    else cpu_conv_bwd_data(c, dyt, w, xt, N, Ci, H, W, Co, k, s, acc);
    c->nhwc = 1;
    if (!x) CPU_ISA_PICK(c->isa, cpu_nhwc_f32)(xt, dx, N, Ci, HW, c->threads);
}

/* y = conv(x) (+ b), each output tile through epi (NULL: none) while it is in the cache */
static void conv_fwd(cpu_ctx *c, const float *x, const float *w, const float *b, float *y,
                     int N, int Ci, int H, int W, int Co, int k, int s, const cpu_epi *epi) {
    if (use_dnn(c, c->training ? CPU_DNN_FWD_TRAIN : CPU_DNN_FWD_INFER, k) &&
        !cpu_dnn_fwd(c, x, w, b, y, N, Ci, H, W, Co, k, s, epi))
        return;
    if (c->nhwc) {
        conv_fwd_nchw(c, x, w, b, y, N, Ci, H, W, Co, k, s, epi);
        return;
    }
    /* training forwards by the direct method (see set_training in backend.h) */
    const int kept = cpu_kcache_covers(c, w, (size_t)Co * Ci * k * k);
    if (use_winograd(c, N, Ci, H, W, Co, k, s, kept) && !(c->training && c->winograd == 1)) {
        cpu_wino_fwd(c, x, w, b, y, N, Ci, H, W, Co, k, epi);
        return;
    }
    geom g;
    geom_init(&g, N, Ci, H, W, Co, k, s, c->threads);
    const int items = N * g.tiles;
    if (!g.direct && cpu_reserve(c, (size_t)g.K * g.R * g.Wo)) return;
    /* A short w (8 to 128 output channels, K <= 256: the 1x1 convolutions and a first layer): OpenBLAS's
     * SGEMM measured 1.5x to 1.8x faster than oneDNN's on these tiles at inference (the Winograd products
     * of the same sizes go the other way). Training keeps the default, whose rounding the tests pin. */
    const int lib = c->gemm || c->training || Co < 8 || Co > 128 || g.K > 256 ? c->gemm : 2;
#pragma omp parallel num_threads(c->threads)
    {
        const int tid = omp_get_thread_num();
        float *col = g.direct ? NULL : cpu_ws(c, tid);
#pragma omp for schedule(dynamic, 1)
        for (int i = 0; i < items; i++) {
            int n = i / g.tiles, oh0, oh1;
            tile_rows(&g, i % g.tiles, &oh0, &oh1);
            const int np = (oh1 - oh0) * g.Wo;
            const float *xn = x + (size_t)n * Ci * g.HW;
            float *yt = y + (size_t)n * Co * g.HWo + (size_t)oh0 * g.Wo; /* [Co, np], row stride HWo */
            for (int co = 0; co < Co; co++) {
                float v = b ? b[co] : 0.0f, *r = yt + (size_t)co * g.HWo;
                for (int p = 0; p < np; p++) r[p] = v;
            }
            int ldb;
            const float *B = tile_cols(&g, xn, oh0, oh1, col, &ldb, NULL);
            if (c->prec == FN_PREC_BF16)
                cpu_gemm_bf16(c, 0, 0, Co, np, g.K, 1.0f, w, g.K, B, ldb, 1.0f, yt, (int)g.HWo);
            else
                cpu_sgemm_by(lib, 0, 0, Co, np, g.K, 1.0f, w, g.K, B, ldb, 1.0f, yt, (int)g.HWo);
            if (epi)
                for (int co = 0; co < Co; co++) {
                    float *r = yt + (size_t)co * g.HWo;
                    cpu_epi_plane(epi, r, r, np, co);
                }
        }
    }
}

void cpu_conv_fwd(void *ctx, const float *x, const float *w, const float *b, float *y,
                  int N, int Ci, int H, int W, int Co, int k, int s) {
    conv_fwd(ctx, x, w, b, y, N, Ci, H, W, Co, k, s, NULL);
}

/* the epilogue of an inference batch norm over Co channels (and ReLU), in c->epi */
static int bn_epi(cpu_ctx *c, const float *gamma, const float *beta, const float *rmean, const float *rvar,
                  float eps, int Co, int relu, cpu_epi *epi) {
    return cpu_bn_infer_coefs(c, &c->epi, &c->epi_cap, gamma, beta, rmean, rvar, eps, Co, relu, epi);
}

/* the epilogue of conv_bn_conv_fwd_infer's second batch norm over C2 channels (bn2 NULL: none), in c->epi2:
 * *out = e, or NULL for none; 0, or -1 (out of memory) */
static int bn2_epi(cpu_ctx *c, const fn_bn_infer *bn2, int C2, cpu_epi *e, const cpu_epi **out) {
    *out = bn2 ? e : NULL;
    return bn2 ? cpu_bn_infer_coefs(c, &c->epi2, &c->epi2_cap, bn2->gamma, bn2->beta, bn2->rmean, bn2->rvar,
                                    bn2->eps, C2, bn2->relu, e)
               : 0;
}

/* the batch norm's scale and shift per output channel, then the convolution with them as its epilogue */
void cpu_conv_bn_fwd_infer(void *ctx, const float *x, const float *w, const float *b, float *y,
                           int N, int Ci, int H, int W, int Co, int k, int s, const float *gamma,
                           const float *beta, const float *rmean, const float *rvar, float eps, int relu) {
    cpu_ctx *c = ctx;
    cpu_epi epi;
    if (bn_epi(c, gamma, beta, rmean, rvar, eps, Co, relu, &epi)) return;
    conv_fwd(c, x, w, b, y, N, Ci, H, W, Co, k, s, &epi);
}

/* the same, and z's values added as the outputs are stored (the epilogue's add 2), the normalised values
 * never stored themselves: R2U-Net's recurrent layers' x + f(..), Attention U-Net's W_g g + W_x x */
void cpu_conv_bn_add_fwd_infer(void *ctx, const float *x, const float *w, const float *b, const float *z, float *y,
                               int N, int Ci, int H, int W, int Co, int k, int s, const float *gamma,
                               const float *beta, const float *rmean, const float *rvar, float eps, int relu) {
    cpu_ctx *c = ctx;
    cpu_epi epi;
    if (bn_epi(c, gamma, beta, rmean, rvar, eps, Co, relu, &epi)) return;
    epi.add = 2, epi.zoff = (const char *)z - (const char *)y;
    conv_fwd(c, x, w, b, y, N, Ci, H, W, Co, k, s, &epi);
}

/* the same of a concatenation: in bf16, oneDNN's primitive may take it as layout.c lays its two parts out
 * for it (cpu_dnn_cat_fwd: in u, in bf16); else the two calls, through u. The same bits either way. */
void cpu_cat_conv_bn_fwd_infer(void *ctx, const float *x, const float *x2, int Ci2, float *u, const float *w,
                               const float *b, float *y, int N, int Ci, int H, int W, int Co, int k, int s,
                               const float *gamma, const float *beta, const float *rmean, const float *rvar, float eps,
                               int relu) {
    cpu_ctx *c = ctx;
    cpu_epi epi;
    if (bn_epi(c, gamma, beta, rmean, rvar, eps, Co, relu, &epi)) return;
    if (!c->training && use_dnn(c, CPU_DNN_FWD_INFER, k) &&
        !cpu_dnn_cat_fwd(c, x, Ci - Ci2, x2, Ci2, u, w, b, y, N, H, W, Co, k, s, &epi))
        return;
    CPU_ISA_PICK(c->isa, cpu_concat)(c, x, x2, u, N, Ci - Ci2, Ci2, H * W);
    conv_fwd(c, u, w, b, y, N, Ci, H, W, Co, k, s, &epi);
}

/* The residual sum is taken in bf16 only: it saves an add's pass over memory (Intel Xeon (AMX), FocusNet
 * 256x256: 2-4% of bf16 inference), which fp32's slower convolutions do not show (within the VM's noise),
 * and costs FocusNet's activations 1% more memory (backend.h resid_pays). */
int cpu_resid_pays(void *ctx) {
    const cpu_ctx *c = ctx;
    return c->prec == FN_PREC_BF16;
}

/* the residual sum: the convolution's outputs added to z's as they are stored (the epilogue) */
void cpu_conv_add_fwd_infer(void *ctx, const float *x, const float *w, const float *b, const float *z, float *y,
                            int N, int Ci, int H, int W, int Co, int k, int s) {
    const cpu_epi epi = { NULL, NULL, 0, 1, (const char *)z - (const char *)y };
    conv_fwd(ctx, x, w, b, y, N, Ci, H, W, Co, k, s, &epi);
}

/* Two convolutions in a row, the first through its batch norm (the second through its own, bn2): in bf16,
 * oneDNN's primitives may pass the normalised values from one to the other in their own layout
 * (cpu_dnn_fwd2: y1 is not written); else the two calls, through y1. The same bits either way. */
void cpu_conv_bn_conv_fwd_infer(void *ctx, const float *x, const float *w1, const float *b1, float *y1, int N,
                                int Ci, int H, int W, int C1, int k1, int s1, const float *gamma, const float *beta,
                                const float *rmean, const float *rvar, float eps, int relu, const float *w2,
                                const float *b2, float *y2, int C2, int k2, int s2, const fn_bn_infer *bn2) {
    cpu_ctx *c = ctx;
    cpu_epi epi, epi2;
    const cpu_epi *e2;
    if (bn_epi(c, gamma, beta, rmean, rvar, eps, C1, relu, &epi) || bn2_epi(c, bn2, C2, &epi2, &e2)) return;
    if (!c->training && use_dnn(c, CPU_DNN_FWD_INFER, k1) && use_dnn(c, CPU_DNN_FWD_INFER, k2) &&
        !cpu_dnn_fwd2(c, x, w1, b1, N, Ci, H, W, C1, k1, s1, &epi, w2, b2, y2, C2, k2, s2, e2, NULL))
        return;
    int pt;
    const int H1 = fn_same(H, k1, s1, &pt), W1 = fn_same(W, k1, s1, &pt);
    conv_fwd(c, x, w1, b1, y1, N, Ci, H, W, C1, k1, s1, &epi);
    conv_fwd(c, y1, w2, b2, y2, N, C1, H1, W1, C2, k2, s2, e2);
}

/* A residual unit (backend.h fn_unit): in bf16, oneDNN's primitives may run its convolutions with its input
 * laid out once for the first and the shortcut (from the two parts of a concatenated input, through the
 * first's batch norm as a prologue), the middle values passed in NHWC and the two branches added as they
 * go back to NCHW (cpu_dnn_fwd2 with a shortcut: neither xc, h, y1 nor y2 written); else its calls. The
 * same bits either way. */
void cpu_unit_fwd_infer(void *ctx, const fn_unit *u, int N, int Ci, int H, int W) {
    cpu_ctx *c = ctx;
    cpu_epi epi, pre, epi2;
    const cpu_epi *e2;
    if (!c->training && use_dnn(c, CPU_DNN_FWD_INFER, u->k1) && use_dnn(c, CPU_DNN_FWD_INFER, u->k2) &&
        (!u->w3 || use_dnn(c, CPU_DNN_FWD_INFER, u->k3))) {
        if (bn_epi(c, u->gamma, u->beta, u->rmean, u->rvar, u->eps, u->C1, u->relu, &epi) ||
            (u->pre_gamma && cpu_bn_infer_coefs(c, &c->pro, &c->pro_cap, u->pre_gamma, u->pre_beta, u->pre_mean, u->pre_var,
                                      u->eps, Ci, u->pre_relu, &pre)) ||
            bn2_epi(c, u->bn2, u->C2, &epi2, &e2))
            return;
        const cpu_shortcut sc = { u->w3,  u->b3, u->k3, u->s3, u->y, u->x2, u->x2 ? u->Ci2 : 0, u->xc,
                                  u->pre_gamma ? &pre : NULL };
        if (!cpu_dnn_fwd2(c, u->x, u->w1, u->b1, N, Ci, H, W, u->C1, u->k1, u->s1, &epi, u->w2, u->b2, u->y2, u->C2,
                          u->k2, u->s2, e2, &sc))
            return;
    }
    const float *x = u->x;
    if (u->x2) { /* the concatenation made */
        CPU_ISA_PICK(c->isa, cpu_concat)(c, x, u->x2, u->xc, N, Ci - u->Ci2, u->Ci2, H * W);
        x = u->xc;
    }
    const float *h = x;
    if (u->pre_gamma) { /* the normalised input made */
        (u->pre_relu ? cpu_bn_relu_fwd_infer : cpu_bn_fwd_infer)(c, x, u->pre_gamma, u->pre_beta, u->h, u->pre_mean,
                                                                 u->pre_var, N, Ci, H * W, u->eps);
        h = u->h;
    }
    cpu_conv_bn_conv_fwd_infer(c, h, u->w1, u->b1, u->y1, N, Ci, H, W, u->C1, u->k1, u->s1, u->gamma, u->beta, u->rmean,
                               u->rvar, u->eps, u->relu, u->w2, u->b2, u->y2, u->C2, u->k2, u->s2, u->bn2);
    if (u->w3)
        cpu_conv_add_fwd_infer(c, x, u->w3, u->b3, u->y2, u->y, N, Ci, H, W, u->C2, u->k3, u->s3);
    else /* the identity: in is of y2's shape */
        CPU_ISA_PICK(c->isa, cpu_add)(c, x, u->y2, u->y, (size_t)N * Ci * H * W);
}

/* A convolution of an upsampling: in bf16, oneDNN's primitive may take the upsampling as layout.c lays x
 * out for it (cpu_dnn_up_fwd: u not written); else the two calls, through u. The same bits either way. */
void cpu_up_conv_fwd_infer(void *ctx, const float *x, float *u, const float *w, const float *b, float *y, int N,
                           int Ci, int H, int W, int Co, int k, int s) {
    cpu_ctx *c = ctx;
    if (!c->training && use_dnn(c, CPU_DNN_FWD_INFER, k) && !cpu_dnn_up_fwd(c, x, w, b, y, N, Ci, H, W, Co, k, s))
        return;
    CPU_ISA_PICK(c->isa, cpu_up2_fwd)(c, x, u, N, Ci, H, W);
    conv_fwd(c, u, w, b, y, N, Ci, 2 * H, 2 * W, Co, k, s, NULL);
}

/* backward-data ------------------------------------------------------------------------------------ */

/* Work items are (image, block of input channels): col2im of a block touches only its own channels of
 * dx, so items never collide, and each runs the tiles of its image in order (fixed summation order).
 * Several channel blocks per image feed every thread when the batch is small. */
void cpu_conv_bwd_data(void *ctx, const float *dy, const float *w, float *dx,
                       int N, int Ci, int H, int W, int Co, int k, int s, int acc) {
    cpu_ctx *c = ctx;
    if (use_dnn(c, CPU_DNN_BWD_DATA, k) && !cpu_dnn_bwd_data(c, dy, w, dx, N, Ci, H, W, Co, k, s, acc)) return;
    if (c->nhwc) {
        bwd_nchw(c, NULL, dy, w, NULL, dx, N, Ci, H, W, Co, k, s, acc);
        return;
    }
    if (use_winograd(c, N, Ci, H, W, Co, k, s, 0)) {
        cpu_wino_bwd_data(c, dy, w, dx, N, Ci, H, W, Co, k, acc);
        return;
    }
    geom g;
    geom_init(&g, N, Ci, H, W, Co, k, s, c->threads);
    const int kk = k * k;
    int nb = N % c->threads == 0 ? 1 : c->threads; /* channel blocks per image */
    if (nb > Ci) nb = Ci;
    const int items = N * nb;
    if (!g.direct && cpu_reserve(c, (size_t)(Ci / nb + 1) * kk * g.R * g.Wo)) return;
#pragma omp parallel num_threads(c->threads)
    {
        const int tid = omp_get_thread_num();
        float *dcol = g.direct ? NULL : cpu_ws(c, tid);
#pragma omp for schedule(dynamic, 1)
        for (int i = 0; i < items; i++) {
            const int n = i / nb, blk = i % nb;
            const int ci0 = (int)((long)Ci * blk / nb), ci1 = (int)((long)Ci * (blk + 1) / nb);
            const int cib = ci1 - ci0;
            const float *wb = w + (size_t)ci0 * kk; /* columns [ci0*kk, ci1*kk) of w [Co, K] */
            float *dxb = dx + ((size_t)n * Ci + ci0) * g.HW;
            if (!acc && !g.direct) memset(dxb, 0, (size_t)cib * g.HW * sizeof(float));
            for (int t = 0; t < g.tiles; t++) {
                int oh0, oh1;
                tile_rows(&g, t, &oh0, &oh1);
                const int np = (oh1 - oh0) * g.Wo;
                const float *dyt = dy + (size_t)n * Co * g.HWo + (size_t)oh0 * g.Wo; /* [Co, np] */
                if (g.direct) { /* tiles cover dx once: the GEMM writes (acc 0) or adds (acc 1) */
                    cpu_sgemm(c, 1, 0, cib, np, Co, 1.0f, wb, g.K, dyt,
                              (int)g.HWo, acc ? 1.0f : 0.0f, dxb + (size_t)oh0 * W, (int)g.HW);
                } else {
                    cpu_sgemm(c, 1, 0, cib * kk, np, Co, 1.0f, wb, g.K, dyt,
                              (int)g.HWo, 0.0f, dcol, np);
                    col2im(&g, dcol, cib, oh0, oh1, dxb);
                }
            }
        }
    }
}

/* backward-filter ---------------------------------------------------------------------------------- */

/* dw += the backward-filter of x's values through the prologue pro (NULL: none), by Winograd or im2col
 * (not oneDNN's primitives; never direct with pro: cpu_conv_bwd_bn) */
static void bwd_filter(cpu_ctx *c, const float *x, const cpu_epi *pro, const float *dy, float *dw, int N, int Ci,
                       int H, int W, int Co, int k, int s) {
    if (use_winograd(c, N, Ci, H, W, Co, k, s, 0)) {
        cpu_wino_bwd_filter(c, x, pro, dy, dw, N, Ci, H, W, Co, k);
        return;
    }
    geom g;
    geom_init(&g, N, Ci, H, W, Co, k, s, c->threads);
    const int items = N * g.tiles;
    const size_t nw = (size_t)Co * g.K;
    if (!cpu_grow(c, &c->part, &c->part_cap, nw * c->threads)) return;
    if (!g.direct && cpu_reserve(c, (size_t)g.K * g.R * g.Wo)) return;
    int nt = 1;
#pragma omp parallel num_threads(c->threads)
    {
        const int tid = omp_get_thread_num();
#pragma omp single
        nt = omp_get_num_threads();
        /* implicit barrier: nt is set */
        float *part = c->part + (size_t)tid * nw;
        memset(part, 0, nw * sizeof(float));
        float *col = g.direct ? NULL : cpu_ws(c, tid);
        /* a fixed contiguous share of the tiles per thread: the partial sums do not depend on timing */
        int i0, i1;
        cpu_share(items, tid, nt, &i0, &i1);
        for (int i = i0; i < i1; i++) {
            int n = i / g.tiles, oh0, oh1;
            tile_rows(&g, i % g.tiles, &oh0, &oh1);
            const int np = (oh1 - oh0) * g.Wo;
            const float *xn = x + (size_t)n * Ci * g.HW;
            const float *dyt = dy + (size_t)n * Co * g.HWo + (size_t)oh0 * g.Wo; /* [Co, np] */
            int ldb;
            const float *B = tile_cols(&g, xn, oh0, oh1, col, &ldb, pro);
            cpu_sgemm(c, 0, 1, Co, g.K, np, 1.0f, dyt, (int)g.HWo, B, ldb,
                      1.0f, part, g.K);
        }
#pragma omp barrier
#pragma omp for schedule(static)
        for (size_t j = 0; j < nw; j++) {
            float sum = c->part[j];
            for (int t = 1; t < nt; t++) sum += c->part[(size_t)t * nw + j];
            dw[j] += sum;
        }
    }
}

void cpu_conv_bwd_filter(void *ctx, const float *x, const float *dy, float *dw,
                         int N, int Ci, int H, int W, int Co, int k, int s) {
    cpu_ctx *c = ctx;
    if (use_dnn(c, CPU_DNN_BWD_FILTER, k) && !cpu_dnn_bwd_filter(c, x, dy, dw, N, Ci, H, W, Co, k, s, NULL)) return;
    if (c->nhwc) bwd_nchw(c, x, dy, NULL, dw, NULL, N, Ci, H, W, Co, k, s, 0);
    else bwd_filter(c, x, NULL, dy, dw, N, Ci, H, W, Co, k, s);
}

/* backward-bias ------------------------------------------------------------------------------------ */

/* db [Co] += the sums of dy [N,Co,HWo] (channels last: [N,HWo,Co], norm_nhwc.c, with the same bits) */
void cpu_conv_bwd_bias(void *ctx, const float *dy, float *db, int N, int Co, int HWo) {
    cpu_ctx *c = ctx;
    if (c->nhwc) {
        CPU_ISA_PICK(c->isa, cpu_nhwc_bias_bwd)(c, dy, db, N, Co, HWo);
        return;
    }
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (int co = 0; co < Co; co++) {
        double sum = 0;
        for (int n = 0; n < N; n++) sum += cpu_sum(dy + ((size_t)n * Co + co) * HWo, (size_t)HWo);
        db[co] += (float)sum;
    }
}

/* both backward passes ----------------------------------------------------------------------------- */

/* In bf16, when oneDNN's primitives run both passes, dy is rounded and laid out once for the two
 * (cpu_dnn_bwd); otherwise, and with the same bits either way, the two calls. */
void cpu_conv_bwd(void *ctx, const float *x, const float *dy, const float *w, float *dw, float *dx,
                  int N, int Ci, int H, int W, int Co, int k, int s, int acc) {
    cpu_ctx *c = ctx;
    if (use_dnn(c, CPU_DNN_BWD_FILTER, k) && use_dnn(c, CPU_DNN_BWD_DATA, k) &&
        !cpu_dnn_bwd(c, x, dy, w, dw, dx, N, Ci, H, W, Co, k, s, acc, NULL))
        return;
    cpu_conv_bwd_filter(ctx, x, dy, dw, N, Ci, H, W, Co, k, s);
    cpu_conv_bwd_data(ctx, dy, w, dx, N, Ci, H, W, Co, k, s, acc);
}

/* a batch norm's prologue (x = [relu](bn(xb)) from its saved statistics, [Ci] each) into pro, its scale and
 * shift in a buffer of the context: 0, or -1 when out of memory (error()) */
static int saved_pro(cpu_ctx *c, const float *gamma, const float *beta, const float *mean, const float *invstd,
                     int Ci, int relu, cpu_epi *pro) {
    float *sc = cpu_grow(c, &c->pro, &c->pro_cap, 2 * (size_t)Ci); /* scale [Ci], shift [Ci] */
    if (!sc) return -1;
    cpu_bn_saved_coefs(gamma, beta, mean, invstd, Ci, sc);
    *pro = (cpu_epi){ sc, sc + Ci, relu, 0, 0 };
    return 0;
}

/* x [N,Ci,HW] (channels last: [N,HW,Ci]) = xb through pro, made whole in a buffer of the context, where a
 * pass cannot take the prologue itself; NULL when out of memory (error()) */
static const float *remade_x(cpu_ctx *c, const float *xb, const cpu_epi *pro, int N, int Ci, size_t HW) {
    float *x = cpu_grow(c, &c->remade, &c->remade_cap, (size_t)N * Ci * HW);
    if (!x) return NULL;
    c->remade_n++;
    if (c->nhwc) CPU_ISA_PICK(c->isa, cpu_nhwc_epi)(xb, x, (size_t)N * HW, Ci, pro, c->threads);
    else cpu_epi_pass(c, pro, xb, x, N, Ci, HW);
    return x;
}

/* Both backward passes with the input x = [relu](bn(xb)) as the training forward made it (backend.h
 * conv_bwd_bn). x's values are made from xb where the backward-filter pass reads them, the batch norm as
 * a prologue: as oneDNN's primitives take them in bf16 through layout.c (cpu_nhwc_bf16), or as Winograd's
 * input rows (wino_gather_row) or the im2col tiles are gathered. The same values, so the same bits as
 * cpu_conv_bwd on x, without x. Where neither can (a 1x1 stride-1 convolution reads x in place; oneDNN's
 * own reorders), x is made whole first (cpu_epi_pass) into a buffer of the context. */
void cpu_conv_bwd_bn(void *ctx, const float *xb, const float *gamma, const float *beta, const float *mean,
                     const float *invstd, int relu, const float *dy, const float *w, float *dw, float *dx, int N,
                     int Ci, int H, int W, int Co, int k, int s, int acc) {
    cpu_ctx *c = ctx;
    cpu_epi pro;
    if (saved_pro(c, gamma, beta, mean, invstd, Ci, relu, &pro)) return; /* error() */
    const int dnn = use_dnn(c, CPU_DNN_BWD_FILTER, k);
    if (dnn && use_dnn(c, CPU_DNN_BWD_DATA, k) && !cpu_dnn_bwd(c, xb, dy, w, dw, dx, N, Ci, H, W, Co, k, s, acc, &pro))
        return;
    /* the backward-filter pass with the prologue: the primitive's, or Winograd's or im2col's (a 1x1 stride-1
     * convolution reads x in place: none) */
    if (dnn ? !cpu_dnn_bwd_filter(c, xb, dy, dw, N, Ci, H, W, Co, k, s, &pro) : !(k == 1 && s == 1)) {
        if (!dnn) bwd_filter(c, xb, &pro, dy, dw, N, Ci, H, W, Co, k, s);
        cpu_conv_bwd_data(ctx, dy, w, dx, N, Ci, H, W, Co, k, s, acc);
        return;
    }
    const float *x = remade_x(c, xb, &pro, N, Ci, (size_t)H * W);
    if (x) cpu_conv_bwd(ctx, x, dy, w, dw, dx, N, Ci, H, W, Co, k, s, acc);
}

/* backend.h conv_bn_fwd_train: the training forward of x = [relu](bn(xb)) from the norm's saved
 * statistics, x never made where oneDNN's primitive lays its source out through the prologue (channels
 * last: as it rounds it), the same values, so the same bits as conv_fwd on x; else x is made whole first
 * into a buffer of the context */
void cpu_conv_bn_fwd_train(void *ctx, const float *xb, const float *gamma, const float *beta, const float *mean,
                           const float *invstd, int relu, const float *w, const float *b, float *y, int N, int Ci,
                           int H, int W, int Co, int k, int s) {
    cpu_ctx *c = ctx;
    cpu_epi pro;
    if (saved_pro(c, gamma, beta, mean, invstd, Ci, relu, &pro)) return; /* error() */
    if (use_dnn(c, c->training ? CPU_DNN_FWD_TRAIN : CPU_DNN_FWD_INFER, k) &&
        !cpu_dnn_fwd_pro(c, xb, w, b, y, N, Ci, H, W, Co, k, s, &pro))
        return;
    const float *x = remade_x(c, xb, &pro, N, Ci, (size_t)H * W);
    if (x) conv_fwd(c, x, w, b, y, N, Ci, H, W, Co, k, s, NULL);
}

/* backend.h bn_fold_pays: the prologue costs nothing where the backward-filter pass gathers or lays out
 * its source itself: everywhere but oneDNN's own reorders (bf16 without layout.c), where x would be made
 * whole, a pass more than keeping it (as for a 1x1 stride-1 convolution, which FocusNet's norms never
 * feed) */
int cpu_bn_fold_pays(void *ctx) {
    const cpu_ctx *c = ctx;
    return !use_dnn(c, CPU_DNN_BWD_FILTER, 3) || c->dnn_layout;
}
