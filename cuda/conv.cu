/* conv.cu: convolution forward, backward-data, backward-filter (cuDNN) and the bias add.
 *
 * TensorFlow 'same' padding on cuDNN's symmetric padding: see geom.h. Where the bottom/right side needs
 * one more zero than the top/left, the input goes through a padded copy xp [N,Ci,Hp,Wp] (CU_SCR_PAD) and
 * backward-data writes a padded dxp whose top-left H x W block is added into (or written to) dx.
 *
 * A plan per shape (N,Ci,H,W,Co,k,s) holds the cuDNN descriptors and, per direction, the algorithm,
 * its math type and workspace size, chosen on first use: by timing (cudnnFind*, the default) or by
 * cuDNN's heuristics (FN_CUDA_FIND=0), keeping only fp32 FMA algorithms unless TF32 is allowed and only
 * deterministic ones unless FN_CUDA_NONDET=1, and workspaces up to ctx->ws_limit. */
#include <stdio.h>
#include <stdlib.h>
#include "cu.h"
#include "geom.h"

enum { DIR_FWD = 0, DIR_DATA = 1, DIR_FILTER = 2 };

struct cu_conv_plan {
    int N, Ci, H, W, Co, k, s;
    fn_cu_geom g;
    cudnnTensorDescriptor_t xd, yd; /* xd: [N,Ci,Hp,Wp]; yd: [N,Co,Ho,Wo] */
    cudnnFilterDescriptor_t wd;     /* [Co,Ci,k,k] */
    cudnnConvolutionDescriptor_t cd;
    int have[3];
    int algo[3];
    cudnnMathType_t math[3];
    size_t ws[3];
};

static void plan_free(cu_conv_plan *p) {
    if (!p) return;
    if (p->xd) cudnnDestroyTensorDescriptor(p->xd);
    if (p->yd) cudnnDestroyTensorDescriptor(p->yd);
    if (p->wd) cudnnDestroyFilterDescriptor(p->wd);
    if (p->cd) cudnnDestroyConvolutionDescriptor(p->cd);
    free(p);
}

void cu_conv_plans_free(cu_ctx *c) {
    for (int i = 0; i < c->nplans; i++) plan_free(c->plans[i]);
    free(c->plans);
    c->plans = NULL;
    c->nplans = c->plans_cap = 0;
}

static cudnnMathType_t base_math(const cu_ctx *c) { return c->tf32 ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH; }

static cu_conv_plan *get_plan(cu_ctx *c, int N, int Ci, int H, int W, int Co, int k, int s) {
    for (int i = 0; i < c->nplans; i++) {
        cu_conv_plan *p = c->plans[i];
        if (p->N == N && p->Ci == Ci && p->H == H && p->W == W && p->Co == Co && p->k == k && p->s == s) return p;
    }
    if (c->nplans == c->plans_cap) {
        int cap = c->plans_cap ? 2 * c->plans_cap : 32;
        cu_conv_plan **np = (cu_conv_plan **)realloc(c->plans, (size_t)cap * sizeof *np);
        if (!np) cu_fail("conv plan", "out of host memory", __FILE__, __LINE__);
        c->plans = np;
        c->plans_cap = cap;
    }
    cu_conv_plan *p = (cu_conv_plan *)calloc(1, sizeof *p);
    if (!p) cu_fail("conv plan", "out of host memory", __FILE__, __LINE__);
    p->N = N, p->Ci = Ci, p->H = H, p->W = W, p->Co = Co, p->k = k, p->s = s;
    fn_cu_geom_init(&p->g, H, W, k, s);
    DK(cudnnCreateTensorDescriptor(&p->xd));
    DK(cudnnCreateTensorDescriptor(&p->yd));
    DK(cudnnCreateFilterDescriptor(&p->wd));
    DK(cudnnCreateConvolutionDescriptor(&p->cd));
    DK(cudnnSetTensor4dDescriptor(p->xd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, N, Ci, p->g.Hp, p->g.Wp));
    DK(cudnnSetTensor4dDescriptor(p->yd, CUDNN_TENSOR_NCHW, CUDNN_DATA_FLOAT, N, Co, p->g.Ho, p->g.Wo));
    DK(cudnnSetFilter4dDescriptor(p->wd, CUDNN_DATA_FLOAT, CUDNN_TENSOR_NCHW, Co, Ci, k, k));
    DK(cudnnSetConvolution2dDescriptor(p->cd, p->g.pt, p->g.pl, s, s, 1, 1, CUDNN_CROSS_CORRELATION,
                                       CUDNN_DATA_FLOAT));
    DK(cudnnSetConvolutionMathType(p->cd, base_math(c)));
    int on, oc, oh, ow;
    DK(cudnnGetConvolution2dForwardOutputDim(p->cd, p->xd, p->wd, &on, &oc, &oh, &ow));
    if (on != N || oc != Co || oh != p->g.Ho || ow != p->g.Wo) {
        char why[200];
        snprintf(why, sizeof why, "cuDNN output %dx%dx%dx%d, expected %dx%dx%dx%d (k %d, s %d, input %dx%d)", on, oc,
                 oh, ow, N, Co, p->g.Ho, p->g.Wo, k, s, H, W);
        cu_fail("conv plan", why, __FILE__, __LINE__);
    }
    c->plans[c->nplans++] = p;
    return p;
}

/* may an algorithm of this perf record be used? */
static int acceptable(const cu_ctx *c, cudnnStatus_t st, size_t mem, cudnnDeterminism_t det, cudnnMathType_t math) {
    if (st != CUDNN_STATUS_SUCCESS || mem > c->ws_limit) return 0;
    if (!c->nondet && det != CUDNN_DETERMINISTIC) return 0;
    if (math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return 0; /* would round fp32 to fp16 */
    if (!c->tf32 && math != CUDNN_FMA_MATH) return 0;
    return 1;
}

/* the first acceptable record of perf[0..got) (cuDNN sorts them fastest first), or -1 */
template <typename Perf>
static int pick(const cu_ctx *c, const Perf *perf, int got) {
    for (int i = 0; i < got; i++)
        if (acceptable(c, perf[i].status, perf[i].memory, perf[i].determinism, perf[i].mathType)) return i;
    return -1;
}

static void choose(cu_ctx *c, cu_conv_plan *p, int dir) {
    int got = 0, i = -1;
    float t_pick = -1, t_best = -1; /* ms timed by cudnnFind: the chosen algorithm, the fastest of all */
    const cudnnMathType_t m0 = base_math(c);
    DK(cudnnSetConvolutionMathType(p->cd, m0));
    if (dir == DIR_FWD) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        const int want = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
        if (c->find &&
            cudnnFindConvolutionForwardAlgorithm(c->dnn, p->xd, p->wd, p->cd, p->yd, want, &got, perf) ==
                CUDNN_STATUS_SUCCESS)
            i = pick(c, perf, got), t_pick = i >= 0 ? perf[i].time : -1, t_best = got > 0 ? perf[0].time : -1;
        if (i < 0 && cudnnGetConvolutionForwardAlgorithm_v7(c->dnn, p->xd, p->wd, p->cd, p->yd, want, &got, perf) ==
                         CUDNN_STATUS_SUCCESS)
            i = pick(c, perf, got);
        p->algo[dir] = i >= 0 ? (int)perf[i].algo : (int)CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
        p->math[dir] = i >= 0 ? perf[i].mathType : m0;
        DK(cudnnSetConvolutionMathType(p->cd, p->math[dir]));
        DK(cudnnGetConvolutionForwardWorkspaceSize(c->dnn, p->xd, p->wd, p->cd, p->yd,
                                                   (cudnnConvolutionFwdAlgo_t)p->algo[dir], &p->ws[dir]));
    } else if (dir == DIR_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        const int want = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
        if (c->find &&
            cudnnFindConvolutionBackwardDataAlgorithm(c->dnn, p->wd, p->yd, p->cd, p->xd, want, &got, perf) ==
                CUDNN_STATUS_SUCCESS)
            i = pick(c, perf, got), t_pick = i >= 0 ? perf[i].time : -1, t_best = got > 0 ? perf[0].time : -1;
        if (i < 0 &&
            cudnnGetConvolutionBackwardDataAlgorithm_v7(c->dnn, p->wd, p->yd, p->cd, p->xd, want, &got, perf) ==
                CUDNN_STATUS_SUCCESS)
            i = pick(c, perf, got);
        p->algo[dir] = i >= 0 ? (int)perf[i].algo : (int)CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
        p->math[dir] = i >= 0 ? perf[i].mathType : m0;
        DK(cudnnSetConvolutionMathType(p->cd, p->math[dir]));
        DK(cudnnGetConvolutionBackwardDataWorkspaceSize(c->dnn, p->wd, p->yd, p->cd, p->xd,
                                                        (cudnnConvolutionBwdDataAlgo_t)p->algo[dir], &p->ws[dir]));
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        const int want = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
        if (c->find &&
            cudnnFindConvolutionBackwardFilterAlgorithm(c->dnn, p->xd, p->yd, p->cd, p->wd, want, &got, perf) ==
                CUDNN_STATUS_SUCCESS)
            i = pick(c, perf, got), t_pick = i >= 0 ? perf[i].time : -1, t_best = got > 0 ? perf[0].time : -1;
        if (i < 0 &&
            cudnnGetConvolutionBackwardFilterAlgorithm_v7(c->dnn, p->xd, p->yd, p->cd, p->wd, want, &got, perf) ==
                CUDNN_STATUS_SUCCESS)
            i = pick(c, perf, got);
        p->algo[dir] = i >= 0 ? (int)perf[i].algo : (int)CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
        p->math[dir] = i >= 0 ? perf[i].mathType : m0;
        DK(cudnnSetConvolutionMathType(p->cd, p->math[dir]));
        DK(cudnnGetConvolutionBackwardFilterWorkspaceSize(c->dnn, p->xd, p->yd, p->cd, p->wd,
                                                          (cudnnConvolutionBwdFilterAlgo_t)p->algo[dir], &p->ws[dir]));
    }
    p->have[dir] = 1;
    if (getenv("FN_CUDA_VERBOSE"))
        fprintf(stderr,
                "fn: CUDA conv %dx%dx%dx%d -> %d k%d s%d pad %d,%d extra %d,%d: %s algo %d math %d ws %zu%s"
                " time %.3f ms (fastest of any kind %.3f)\n",
                p->N, p->Ci, p->H, p->W, p->Co, p->k, p->s, p->g.pt, p->g.pl, p->g.eh, p->g.ew,
                dir == DIR_FWD ? "fwd" : dir == DIR_DATA ? "bwd-data" : "bwd-filter", p->algo[dir], (int)p->math[dir],
                p->ws[dir], i < 0 ? " (fallback)" : "", (double)t_pick, (double)t_best);
}

/* the plan for this shape with the algorithm of direction dir chosen and the descriptor set up for it */
static cu_conv_plan *ready(cu_ctx *c, int dir, int N, int Ci, int H, int W, int Co, int k, int s) {
    cu_conv_plan *p = get_plan(c, N, Ci, H, W, Co, k, s);
    if (!p->have[dir]) choose(c, p, dir);
    DK(cudnnSetConvolutionMathType(p->cd, p->math[dir]));
    return p;
}

static void *workspace(cu_ctx *c, const cu_conv_plan *p, int dir) {
    return p->ws[dir] ? cu_scratch(c, CU_SCR_WS, p->ws[dir]) : NULL;
}

/* padding and cropping ----------------------------------------------------------------------------------- */

/* xp [planes,Hp,Wp] = x [planes,H,W] with zero rows/columns added at the bottom/right */
__global__ static void pad_kernel(const float *x, float *xp, int H, int W, int Hp, int Wp, size_t n) {
    for (size_t i = (size_t)blockIdx.x * CU_THREADS + threadIdx.x; i < n; i += (size_t)gridDim.x * CU_THREADS) {
        const size_t t = i / Wp, pl = t / Hp;
        const int w = (int)(i - t * Wp), h = (int)(t - pl * Hp);
        xp[i] = h < H && w < W ? x[(pl * H + h) * W + w] : 0.0f;
    }
}

/* dx [planes,H,W] (=|+=) the top-left block of dxp [planes,Hp,Wp] */
__global__ static void crop_kernel(const float *dxp, float *dx, int H, int W, int Hp, int Wp, size_t n, int acc) {
    for (size_t i = (size_t)blockIdx.x * CU_THREADS + threadIdx.x; i < n; i += (size_t)gridDim.x * CU_THREADS) {
        const size_t t = i / W, pl = t / H;
        const int w = (int)(i - t * W), h = (int)(t - pl * H);
        const float g = dxp[(pl * Hp + h) * Wp + w];
        dx[i] = acc ? dx[i] + g : g;
    }
}

/* x itself, or its padded copy in CU_SCR_PAD */
static const float *padded_input(cu_ctx *c, const cu_conv_plan *p, const float *x) {
    if (!p->g.eh && !p->g.ew) return x;
    const size_t n = (size_t)p->N * p->Ci * p->g.Hp * p->g.Wp;
    float *xp = (float *)cu_scratch(c, CU_SCR_PAD, n * sizeof(float));
    pad_kernel<<<cu_blocks(n), CU_THREADS, 0, c->stream>>>(x, xp, p->H, p->W, p->g.Hp, p->g.Wp, n);
    KCHECK();
    return xp;
}

__global__ static void bias_add(float *y, const float *b, int Co, int HW, long planes) {
    for (long pl = blockIdx.y; pl < planes; pl += gridDim.y) {
        const float v = b[pl % Co];
        float *yp = y + (size_t)pl * HW;
        for (int i = blockIdx.x * CU_THREADS + threadIdx.x; i < HW; i += gridDim.x * CU_THREADS) yp[i] += v;
    }
}

/* the ops ------------------------------------------------------------------------------------------------ */

/* A chosen algorithm that fails to run (cuDNN may refuse, say, the blending beta = 1 with some engines) is
 * replaced once, for this shape and direction, by the always-available one; a failure of that aborts. */
static int use_fallback(cu_ctx *c, cu_conv_plan *p, int dir, cudnnStatus_t st) {
    static const int fb[3] = {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
                              CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1};
    static const char *names[3] = {"forward", "backward-data", "backward-filter"};
    if (st == CUDNN_STATUS_SUCCESS) return 0;
    if (p->algo[dir] == fb[dir] && p->math[dir] == base_math(c)) {
        char why[160];
        snprintf(why, sizeof why, "%s for %dx%dx%dx%d -> %d k%d s%d", cudnnGetErrorString(st), p->N, p->Ci, p->H,
                 p->W, p->Co, p->k, p->s);
        cu_fail(names[dir], why, __FILE__, __LINE__);
    }
    fprintf(stderr, "fn: CUDA backend: cuDNN %s algorithm %d failed (%s) for %dx%dx%dx%d -> %d k%d s%d; using %d\n",
            names[dir], p->algo[dir], cudnnGetErrorString(st), p->N, p->Ci, p->H, p->W, p->Co, p->k, p->s, fb[dir]);
    p->algo[dir] = fb[dir];
    p->math[dir] = base_math(c);
    DK(cudnnSetConvolutionMathType(p->cd, p->math[dir]));
    if (dir == DIR_FWD)
        DK(cudnnGetConvolutionForwardWorkspaceSize(c->dnn, p->xd, p->wd, p->cd, p->yd,
                                                   (cudnnConvolutionFwdAlgo_t)p->algo[dir], &p->ws[dir]));
    else if (dir == DIR_DATA)
        DK(cudnnGetConvolutionBackwardDataWorkspaceSize(c->dnn, p->wd, p->yd, p->cd, p->xd,
                                                        (cudnnConvolutionBwdDataAlgo_t)p->algo[dir], &p->ws[dir]));
    else
        DK(cudnnGetConvolutionBackwardFilterWorkspaceSize(c->dnn, p->xd, p->yd, p->cd, p->wd,
                                                          (cudnnConvolutionBwdFilterAlgo_t)p->algo[dir], &p->ws[dir]));
    return 1;
}

void cu_conv_fwd(void *ctx, const float *x, const float *w, const float *b, float *y,
                 int N, int Ci, int H, int W, int Co, int k, int s) {
    cu_ctx *c = cu_enter(ctx);
    if (N < 1 || Ci < 1 || Co < 1 || H < 1 || W < 1) return;
    cu_conv_plan *p = ready(c, DIR_FWD, N, Ci, H, W, Co, k, s);
    const float *xin = padded_input(c, p, x);
    const float one = 1.0f, zero = 0.0f;
    cudnnStatus_t st;
    do {
        st = cudnnConvolutionForward(c->dnn, &one, p->xd, xin, p->wd, w, p->cd,
                                     (cudnnConvolutionFwdAlgo_t)p->algo[DIR_FWD], workspace(c, p, DIR_FWD),
                                     p->ws[DIR_FWD], &zero, p->yd, y);
    } while (use_fallback(c, p, DIR_FWD, st));
    if (b) {
        const int HWo = p->g.Ho * p->g.Wo;
        const long planes = (long)N * Co;
        long bx = (HWo + CU_THREADS - 1) / CU_THREADS;
        dim3 grid((unsigned)(bx > 64 ? 64 : bx), (unsigned)(planes > 65535 ? 65535 : planes));
        bias_add<<<grid, CU_THREADS, 0, c->stream>>>(y, b, Co, HWo, planes);
        KCHECK();
    }
}

void cu_conv_bwd_data(void *ctx, const float *dy, const float *w, float *dx,
                      int N, int Ci, int H, int W, int Co, int k, int s, int acc) {
    cu_ctx *c = cu_enter(ctx);
    if (N < 1 || Ci < 1 || Co < 1 || H < 1 || W < 1) return;
    cu_conv_plan *p = ready(c, DIR_DATA, N, Ci, H, W, Co, k, s);
    const float one = 1.0f, zero = 0.0f;
    const int padded = p->g.eh || p->g.ew;
    const size_t np = (size_t)N * Ci * p->g.Hp * p->g.Wp, n = (size_t)N * Ci * H * W;
    /* padded: the whole dxp, then its crop written or added into dx; else straight into dx (beta 0 or 1) */
    float *dst = padded ? (float *)cu_scratch(c, CU_SCR_PAD, np * sizeof(float)) : dx;
    const float *beta = !padded && acc ? &one : &zero;
    cudnnStatus_t st;
    do {
        st = cudnnConvolutionBackwardData(c->dnn, &one, p->wd, w, p->yd, dy, p->cd,
                                          (cudnnConvolutionBwdDataAlgo_t)p->algo[DIR_DATA], workspace(c, p, DIR_DATA),
                                          p->ws[DIR_DATA], beta, p->xd, dst);
    } while (use_fallback(c, p, DIR_DATA, st));
    if (padded) {
        crop_kernel<<<cu_blocks(n), CU_THREADS, 0, c->stream>>>(dst, dx, H, W, p->g.Hp, p->g.Wp, n, acc);
        KCHECK();
    }
}

void cu_conv_bwd_filter(void *ctx, const float *x, const float *dy, float *dw,
                        int N, int Ci, int H, int W, int Co, int k, int s) {
    cu_ctx *c = cu_enter(ctx);
    if (N < 1 || Ci < 1 || Co < 1 || H < 1 || W < 1) return;
    cu_conv_plan *p = ready(c, DIR_FILTER, N, Ci, H, W, Co, k, s);
    const float *xin = padded_input(c, p, x);
    const float one = 1.0f;
    cudnnStatus_t st;
    do {
        st = cudnnConvolutionBackwardFilter(c->dnn, &one, p->xd, xin, p->yd, dy, p->cd,
                                            (cudnnConvolutionBwdFilterAlgo_t)p->algo[DIR_FILTER],
                                            workspace(c, p, DIR_FILTER), p->ws[DIR_FILTER], &one, p->wd, dw); /* += */
    } while (use_fallback(c, p, DIR_FILTER, st));
}
