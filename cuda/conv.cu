/* conv.cu: convolution forward, backward-data, backward-filter (cuDNN) and the bias add, in the three
 * precisions of set_precision (lib/backend/backend.h's enum fn_precision):
 *   fp32  fp32 NCHW tensors, CUDNN_FMA_MATH only (no TF32): the golden and parity mode;
 *   tf32  the same tensors, any math but CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION: TF32 tensor cores;
 *   bf16  the graph's fp32 NCHW tensors are cast at the convolution's boundary: the input (x, or dy for
 *         backward-data) goes through one kernel that rounds it to bf16 (to nearest even, as the CPU's
 *         bf16 path), transposes it to NHWC and adds the 'same' padding's extra zero row/column; the
 *         weights are cast once to bf16 KRSC and kept until they are written (the weight cache below);
 *         cuDNN runs CUDNN_DATA_BFLOAT16 tensors with CUDNN_DATA_FLOAT compute (fp32 accumulation) and
 *         CUDNN_TENSOR_OP_MATH; its bf16 NHWC output goes back to fp32 NCHW through one kernel that adds
 *         the bias (forward), crops the padding (backward-data) or accumulates (backward-filter's dw +=,
 *         backward-data's acc). So the graph still sees fp32 only, and the master weights, their
 *         gradients (fp32 dw += the bf16 product), Adam and every other op stay fp32.
 *         Where cuDNN has no acceptable bf16 algorithm for a shape and direction (none at all, none
 *         deterministic when that is asked, or the chosen one fails to run), that direction is emulated:
 *         the inputs are rounded to bf16 values kept in fp32 NCHW and the fp32 descriptors run with TF32
 *         allowed, which is exact on bf16 values (8 bits of mantissa fit TF32's 11, the products fit
 *         fp32): the CPU's bf16 numerics, at TF32 speed. FN_CUDA_VERBOSE=1 says where.
 *
 * TensorFlow 'same' padding on cuDNN's symmetric padding: see geom.h. Where the bottom/right side needs
 * one more zero than the top/left, the input goes through a padded copy xp [N,Ci,Hp,Wp] (CU_SCR_PAD; in
 * bf16 the cast kernel pads) and backward-data writes a padded dxp whose top-left H x W block is added
 * into (or written to) dx.
 *
 * A plan per shape (N,Ci,H,W,Co,k,s) holds the cuDNN descriptors and, per direction, the algorithm,
 * its math type and workspace size, chosen on first use: by timing (cudnnFind*, the default) or by
 * cuDNN's heuristics (FN_CUDA_FIND=0), keeping only the math the precision allows, only deterministic
 * algorithms when set_deterministic asked for them (fn-train --deterministic), and workspaces up to
 * ctx->ws_limit. set_precision and set_deterministic drop the plans. */
#include <stdio.h>
#include <stdlib.h>
#include <cuda_bf16.h>
#include "cu.h"
#include "geom.h"

enum { DIR_FWD = 0, DIR_DATA = 1, DIR_FILTER = 2 };
enum { SIDE_F32 = 0, SIDE_B16 = 1 };

/* the descriptors of one kind of data and the algorithms chosen for them */
typedef struct cu_conv_side {
    cudnnTensorDescriptor_t xd, yd; /* xd: [N,Ci,Hp,Wp]; yd: [N,Co,Ho,Wo] (NCHW fp32, or NHWC bf16) */
    cudnnFilterDescriptor_t wd;     /* [Co,Ci,k,k] (OIHW fp32, or OHWI bf16) */
    cudnnConvolutionDescriptor_t cd;
    int have[3];
    int algo[3];
    cudnnMathType_t math[3];
    size_t ws[3];
} cu_conv_side;

struct cu_conv_plan {
    int N, Ci, H, W, Co, k, s;
    fn_cu_geom g;
    int bf16;             /* made in bf16 precision: side[SIDE_B16] exists */
    cu_conv_side side[2];
    int emu[3];           /* bf16: this direction runs on side[SIDE_F32] with bf16-rounded inputs */
};

static void side_free(cu_conv_side *d) {
    if (d->xd) cudnnDestroyTensorDescriptor(d->xd);
    if (d->yd) cudnnDestroyTensorDescriptor(d->yd);
    if (d->wd) cudnnDestroyFilterDescriptor(d->wd);
    if (d->cd) cudnnDestroyConvolutionDescriptor(d->cd);
}

static void plan_free(cu_conv_plan *p) {
    if (!p) return;
    side_free(&p->side[SIDE_F32]);
    side_free(&p->side[SIDE_B16]);
    free(p);
}

void cu_conv_plans_free(cu_ctx *c) {
    for (int i = 0; i < c->nplans; i++) plan_free(c->plans[i]);
    free(c->plans);
    c->plans = NULL;
    c->nplans = c->plans_cap = 0;
}

/* may the fp32 side use tensor cores? tf32 asks for them; in bf16 the fp32 side only runs emulated
 * directions, whose bf16-valued inputs TF32 represents exactly */
static int f32_tc(const cu_ctx *c) { return c->prec != FN_PREC_FP32; }

static cudnnMathType_t base_math(const cu_ctx *c, int side) {
    if (side == SIDE_B16) return CUDNN_TENSOR_OP_MATH;
    return f32_tc(c) ? CUDNN_DEFAULT_MATH : CUDNN_FMA_MATH;
}

static void side_init(cu_conv_plan *p, cu_conv_side *d, int side, cudnnMathType_t math) {
    const int N = p->N, Ci = p->Ci, Co = p->Co, k = p->k, s = p->s;
    const cudnnTensorFormat_t fmt = side == SIDE_B16 ? CUDNN_TENSOR_NHWC : CUDNN_TENSOR_NCHW;
    const cudnnDataType_t dt = side == SIDE_B16 ? CUDNN_DATA_BFLOAT16 : CUDNN_DATA_FLOAT;
    DK(cudnnCreateTensorDescriptor(&d->xd));
    DK(cudnnCreateTensorDescriptor(&d->yd));
    DK(cudnnCreateFilterDescriptor(&d->wd));
    DK(cudnnCreateConvolutionDescriptor(&d->cd));
    DK(cudnnSetTensor4dDescriptor(d->xd, fmt, dt, N, Ci, p->g.Hp, p->g.Wp));
    DK(cudnnSetTensor4dDescriptor(d->yd, fmt, dt, N, Co, p->g.Ho, p->g.Wo));
    DK(cudnnSetFilter4dDescriptor(d->wd, dt, fmt, Co, Ci, k, k));
    /* compute (accumulation) type fp32 in every precision */
    DK(cudnnSetConvolution2dDescriptor(d->cd, p->g.pt, p->g.pl, s, s, 1, 1, CUDNN_CROSS_CORRELATION,
                                       CUDNN_DATA_FLOAT));
    DK(cudnnSetConvolutionMathType(d->cd, math));
    int on, oc, oh, ow;
    DK(cudnnGetConvolution2dForwardOutputDim(d->cd, d->xd, d->wd, &on, &oc, &oh, &ow));
    if (on != N || oc != Co || oh != p->g.Ho || ow != p->g.Wo) {
        char why[200];
        snprintf(why, sizeof why, "cuDNN output %dx%dx%dx%d, expected %dx%dx%dx%d (k %d, s %d, input %dx%d)", on, oc,
                 oh, ow, N, Co, p->g.Ho, p->g.Wo, k, s, p->H, p->W);
        cu_fail("conv plan", why, __FILE__, __LINE__);
    }
}

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
    side_init(p, &p->side[SIDE_F32], SIDE_F32, base_math(c, SIDE_F32));
    p->bf16 = c->prec == FN_PREC_BF16;
    if (p->bf16) side_init(p, &p->side[SIDE_B16], SIDE_B16, base_math(c, SIDE_B16));
    c->plans[c->nplans++] = p;
    return p;
}

/* may an algorithm of this perf record be used on this side? */
static int acceptable(const cu_ctx *c, int side, cudnnStatus_t st, size_t mem, cudnnDeterminism_t det,
                      cudnnMathType_t math) {
    if (st != CUDNN_STATUS_SUCCESS || mem > c->ws_limit) return 0;
    if (!c->nondet && det != CUDNN_DETERMINISTIC) return 0;
    if (math == CUDNN_TENSOR_OP_MATH_ALLOW_CONVERSION) return 0; /* would round to fp16 */
    if (side == SIDE_F32 && !f32_tc(c) && math != CUDNN_FMA_MATH) return 0;
    return 1;
}

/* the first acceptable record of perf[0..got) (cuDNN sorts them fastest first), or -1 */
template <typename Perf>
static int pick(const cu_ctx *c, int side, const Perf *perf, int got) {
    for (int i = 0; i < got; i++)
        if (acceptable(c, side, perf[i].status, perf[i].memory, perf[i].determinism, perf[i].mathType)) return i;
    return -1;
}

/* cuDNN's always-available algorithm of each direction */
static const int fallback_algo[3] = {CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM, CUDNN_CONVOLUTION_BWD_DATA_ALGO_1,
                                     CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1};

static const char *dir_name(int dir) {
    return dir == DIR_FWD ? "fwd" : dir == DIR_DATA ? "bwd-data" : "bwd-filter";
}

/* choose the algorithm of direction dir on a side: 1, or 0 when the bf16 side has no acceptable one
 * (the fp32 side then takes cuDNN's always-available algorithm) */
static int choose(cu_ctx *c, cu_conv_plan *p, int side, int dir) {
    cu_conv_side *d = &p->side[side];
    int got = 0, i = -1;
    float t_pick = -1, t_best = -1; /* ms timed by cudnnFind: the chosen algorithm, the fastest of all */
    const cudnnMathType_t m0 = base_math(c, side);
    DK(cudnnSetConvolutionMathType(d->cd, m0));
    if (dir == DIR_FWD) {
        cudnnConvolutionFwdAlgoPerf_t perf[CUDNN_CONVOLUTION_FWD_ALGO_COUNT];
        const int want = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
        if (c->find &&
            cudnnFindConvolutionForwardAlgorithm(c->dnn, d->xd, d->wd, d->cd, d->yd, want, &got, perf) ==
                CUDNN_STATUS_SUCCESS)
            i = pick(c, side, perf, got), t_pick = i >= 0 ? perf[i].time : -1, t_best = got > 0 ? perf[0].time : -1;
        if (i < 0 && cudnnGetConvolutionForwardAlgorithm_v7(c->dnn, d->xd, d->wd, d->cd, d->yd, want, &got, perf) ==
                         CUDNN_STATUS_SUCCESS)
            i = pick(c, side, perf, got);
        if (i < 0 && side == SIDE_B16) return 0;
        d->algo[dir] = i >= 0 ? (int)perf[i].algo : (int)CUDNN_CONVOLUTION_FWD_ALGO_IMPLICIT_GEMM;
        d->math[dir] = i >= 0 ? perf[i].mathType : m0;
        DK(cudnnSetConvolutionMathType(d->cd, d->math[dir]));
        DK(cudnnGetConvolutionForwardWorkspaceSize(c->dnn, d->xd, d->wd, d->cd, d->yd,
                                                   (cudnnConvolutionFwdAlgo_t)d->algo[dir], &d->ws[dir]));
    } else if (dir == DIR_DATA) {
        cudnnConvolutionBwdDataAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT];
        const int want = CUDNN_CONVOLUTION_BWD_DATA_ALGO_COUNT;
        if (c->find &&
            cudnnFindConvolutionBackwardDataAlgorithm(c->dnn, d->wd, d->yd, d->cd, d->xd, want, &got, perf) ==
                CUDNN_STATUS_SUCCESS)
            i = pick(c, side, perf, got), t_pick = i >= 0 ? perf[i].time : -1, t_best = got > 0 ? perf[0].time : -1;
        if (i < 0 &&
            cudnnGetConvolutionBackwardDataAlgorithm_v7(c->dnn, d->wd, d->yd, d->cd, d->xd, want, &got, perf) ==
                CUDNN_STATUS_SUCCESS)
            i = pick(c, side, perf, got);
        if (i < 0 && side == SIDE_B16) return 0;
        d->algo[dir] = i >= 0 ? (int)perf[i].algo : (int)CUDNN_CONVOLUTION_BWD_DATA_ALGO_1;
        d->math[dir] = i >= 0 ? perf[i].mathType : m0;
        DK(cudnnSetConvolutionMathType(d->cd, d->math[dir]));
        DK(cudnnGetConvolutionBackwardDataWorkspaceSize(c->dnn, d->wd, d->yd, d->cd, d->xd,
                                                        (cudnnConvolutionBwdDataAlgo_t)d->algo[dir], &d->ws[dir]));
    } else {
        cudnnConvolutionBwdFilterAlgoPerf_t perf[CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT];
        const int want = CUDNN_CONVOLUTION_BWD_FILTER_ALGO_COUNT;
        if (c->find &&
            cudnnFindConvolutionBackwardFilterAlgorithm(c->dnn, d->xd, d->yd, d->cd, d->wd, want, &got, perf) ==
                CUDNN_STATUS_SUCCESS)
            i = pick(c, side, perf, got), t_pick = i >= 0 ? perf[i].time : -1, t_best = got > 0 ? perf[0].time : -1;
        if (i < 0 &&
            cudnnGetConvolutionBackwardFilterAlgorithm_v7(c->dnn, d->xd, d->yd, d->cd, d->wd, want, &got, perf) ==
                CUDNN_STATUS_SUCCESS)
            i = pick(c, side, perf, got);
        if (i < 0 && side == SIDE_B16) return 0;
        d->algo[dir] = i >= 0 ? (int)perf[i].algo : (int)CUDNN_CONVOLUTION_BWD_FILTER_ALGO_1;
        d->math[dir] = i >= 0 ? perf[i].mathType : m0;
        DK(cudnnSetConvolutionMathType(d->cd, d->math[dir]));
        DK(cudnnGetConvolutionBackwardFilterWorkspaceSize(c->dnn, d->xd, d->yd, d->cd, d->wd,
                                                          (cudnnConvolutionBwdFilterAlgo_t)d->algo[dir], &d->ws[dir]));
    }
    d->have[dir] = 1;
    if (getenv("FN_CUDA_VERBOSE"))
        fprintf(stderr,
                "fn: CUDA conv %dx%dx%dx%d -> %d k%d s%d pad %d,%d extra %d,%d: %s%s algo %d math %d ws %zu%s"
                " time %.3f ms (fastest of any kind %.3f)\n",
                p->N, p->Ci, p->H, p->W, p->Co, p->k, p->s, p->g.pt, p->g.pl, p->g.eh, p->g.ew, dir_name(dir),
                side == SIDE_B16 ? " bf16" : p->bf16 ? " bf16-emulated" : "", d->algo[dir], (int)d->math[dir],
                d->ws[dir], i < 0 ? " (fallback)" : "", (double)t_pick, (double)t_best);
    return 1;
}

static void emulate(cu_ctx *c, cu_conv_plan *p, int dir) {
    if (getenv("FN_CUDA_VERBOSE"))
        fprintf(stderr, "fn: CUDA conv %dx%dx%dx%d -> %d k%d s%d: %s: no acceptable cuDNN bf16 algorithm; "
                        "bf16 emulated on the fp32 descriptors\n",
                p->N, p->Ci, p->H, p->W, p->Co, p->k, p->s, dir_name(dir));
    p->emu[dir] = 1;
    if (!p->side[SIDE_F32].have[dir]) choose(c, p, SIDE_F32, dir);
}

/* the plan for this shape with the algorithm of direction dir chosen; *side: where it runs */
static cu_conv_plan *ready(cu_ctx *c, int dir, int N, int Ci, int H, int W, int Co, int k, int s, int *side) {
    cu_conv_plan *p = get_plan(c, N, Ci, H, W, Co, k, s);
    *side = p->bf16 && !p->emu[dir] ? SIDE_B16 : SIDE_F32;
    if (!p->side[*side].have[dir] && c->capturing) {
        /* choosing times algorithms (it synchronises and allocates): not while recording, which is discarded;
         * the op is recorded with the always-available algorithm and no workspace, and never runs */
        c->capture_bad = 1;
        cu_conv_side *d = &p->side[*side];
        d->algo[dir] = fallback_algo[dir];
        d->math[dir] = base_math(c, *side);
        d->ws[dir] = 0;
        DK(cudnnSetConvolutionMathType(d->cd, d->math[dir]));
        return p;
    }
    if (!p->side[*side].have[dir] && !choose(c, p, *side, dir)) {
        emulate(c, p, dir);
        *side = SIDE_F32;
    }
    DK(cudnnSetConvolutionMathType(p->side[*side].cd, p->side[*side].math[dir]));
    return p;
}

static void *workspace(cu_ctx *c, const cu_conv_side *d, int dir) {
    return d->ws[dir] ? cu_scratch(c, CU_SCR_WS, d->ws[dir]) : NULL;
}

/* padding, cropping and the casts ------------------------------------------------------------------------ */

#define GRID_LOOP(i, n) for (size_t i = (size_t)blockIdx.x * CU_THREADS + threadIdx.x; i < (n); i += (size_t)gridDim.x * CU_THREADS)

static __device__ __forceinline__ float bf16_value(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }

/* xp [planes,Hp,Wp] = x [planes,H,W] with zero rows/columns added at the bottom/right; ROUND: each value
 * rounded to bf16 (kept in fp32: the emulated bf16 directions) */
template <int ROUND>
__global__ static void pad_kernel(const float *x, float *xp, int H, int W, int Hp, int Wp, size_t n) {
    GRID_LOOP(i, n) {
        const size_t t = i / Wp, pl = t / Hp;
        const int w = (int)(i - t * Wp), h = (int)(t - pl * Hp);
        const float v = h < H && w < W ? x[(pl * H + h) * W + w] : 0.0f;
        xp[i] = ROUND ? bf16_value(v) : v;
    }
}

/* dx [planes,H,W] (=|+=) the top-left block of dxp [planes,Hp,Wp] */
__global__ static void crop_kernel(const float *dxp, float *dx, int H, int W, int Hp, int Wp, size_t n, int acc) {
    GRID_LOOP(i, n) {
        const size_t t = i / W, pl = t / H;
        const int w = (int)(i - t * W), h = (int)(t - pl * H);
        const float g = dxp[(pl * Hp + h) * Wp + w];
        dx[i] = acc ? dx[i] + g : g;
    }
}

/* dst [N,Hp,Wp,C] bf16 = src [N,C,H,W] fp32 rounded to nearest even, the rows h >= H and columns w >= W
 * zero (the 'same' padding's extra ones). One thread per output element: the writes are coalesced, the
 * reads of a block touch C planes at a few neighbouring positions each (and with Hp = H, Wp = W this
 * casts OIHW weights to OHWI). */
__global__ static void to_nhwc_bf16(const float *src, __nv_bfloat16 *dst, int C, int H, int W, int Hp, int Wp,
                                    size_t n) {
    GRID_LOOP(i, n) {
        size_t t = i / C;
        const int ch = (int)(i - t * C);
        const int w = (int)(t % Wp);
        t /= Wp;
        const int h = (int)(t % Hp);
        const size_t img = t / Hp;
        const float v = h < H && w < W ? src[((img * C + ch) * H + h) * W + w] : 0.0f;
        dst[i] = __float2bfloat16_rn(v);
    }
}

/* dst [N,C,H,W] fp32 (=, or += when acc) = the top-left H x W block of src [N,Hp,Wp,C] bf16, plus
 * bias[c] when bias. One thread per output element (coalesced writes). */
__global__ static void from_nhwc_bf16(const __nv_bfloat16 *src, float *dst, const float *bias, int C, int H, int W,
                                      int Hp, int Wp, size_t n, int acc) {
    GRID_LOOP(i, n) {
        size_t t = i / W;
        const int w = (int)(i - t * W);
        const int h = (int)(t % H);
        t /= H;
        const int ch = (int)(t % C);
        const size_t img = t / C;
        float v = __bfloat162float(src[((img * Hp + h) * Wp + w) * C + ch]);
        if (bias) v += bias[ch];
        dst[i] = acc ? dst[i] + v : v;
    }
}

#define LAUNCH(n) cu_blocks(n), CU_THREADS, 0, c->stream

/* x itself, or its padded copy in CU_SCR_PAD; round: rounded to bf16 values (slot CU_SCR_CX then) */
static const float *padded_input(cu_ctx *c, const cu_conv_plan *p, const float *x, int round) {
    if (!p->g.eh && !p->g.ew && !round) return x;
    const size_t n = (size_t)p->N * p->Ci * p->g.Hp * p->g.Wp;
    float *xp = (float *)cu_scratch(c, round ? CU_SCR_CX : CU_SCR_PAD, n * sizeof(float));
    if (round) pad_kernel<1><<<LAUNCH(n)>>>(x, xp, p->H, p->W, p->g.Hp, p->g.Wp, n);
    else pad_kernel<0><<<LAUNCH(n)>>>(x, xp, p->H, p->W, p->g.Hp, p->g.Wp, n);
    KCHECK();
    return xp;
}

/* a tensor [planes,H,W] rounded to bf16 values (fp32) in scratch slot `slot` */
static const float *rounded(cu_ctx *c, int slot, const float *x, size_t planes, int H, int W) {
    const size_t n = planes * H * W;
    float *r = (float *)cu_scratch(c, slot, n * sizeof(float));
    pad_kernel<1><<<LAUNCH(n)>>>(x, r, H, W, H, W, n);
    KCHECK();
    return r;
}

/* x [N,C,H,W] fp32 as bf16 NHWC [N,Hp,Wp,C] in scratch slot `slot` */
static const __nv_bfloat16 *nhwc_input(cu_ctx *c, int slot, const float *x, int N, int C, int H, int W, int Hp,
                                       int Wp) {
    const size_t n = (size_t)N * Hp * Wp * C;
    __nv_bfloat16 *d = (__nv_bfloat16 *)cu_scratch(c, slot, n * sizeof(__nv_bfloat16));
    to_nhwc_bf16<<<LAUNCH(n)>>>(x, d, C, H, W, Hp, Wp, n);
    KCHECK();
    return d;
}

/* the weight cache: the bf16 OHWI copy of weights w [Co,Ci,k,k], made once and kept until the weights are
 * written through the backend (cu_written: upload, copy, fill, axpy, Adam, allreduce) or any device memory
 * is freed (the cache is dropped); so in training they are cast once after each Adam step. */
struct cu_wcache {
    const float *w;
    size_t n;       /* Co*Ci*k*k */
    int Co, Ci, k;
    int valid;
    __nv_bfloat16 *h;
};

void cu_wcache_free(cu_ctx *c) {
    if (c->nwc) cu_capture_drop(c); /* a recording may read these buffers */
    for (int i = 0; i < c->nwc; i++) cudaFree(c->wc[i].h);
    free(c->wc);
    c->wc = NULL;
    c->nwc = c->wc_cap = 0;
}

void cu_written(cu_ctx *c, const void *p, size_t bytes) {
    const char *lo = (const char *)p, *hi = lo + bytes;
    for (int i = 0; i < c->nwc; i++) {
        const char *a = (const char *)c->wc[i].w, *b = a + c->wc[i].n * sizeof(float);
        if (a < hi && lo < b && c->wc[i].valid) {
            c->wc[i].valid = 0;
            cu_capture_drop(c); /* a recording made while they were valid does not cast them again */
        }
    }
}

static const __nv_bfloat16 *weights_bf16(cu_ctx *c, const float *w, int Co, int Ci, int k) {
    cu_wcache *e = NULL;
    for (int i = 0; i < c->nwc && !e; i++)
        if (c->wc[i].w == w && c->wc[i].Co == Co && c->wc[i].Ci == Ci && c->wc[i].k == k) e = &c->wc[i];
    if (!e && c->capturing) { /* no allocating while recording: the recording is discarded */
        c->capture_bad = 1;
        return NULL;
    }
    if (!e) {
        if (c->nwc == c->wc_cap) {
            if (c->nwc >= 4096) { /* more than a net's: start again */
                CK(cudaStreamSynchronize(c->stream));
                cu_wcache_free(c);
            }
            int cap = c->wc_cap ? 2 * c->wc_cap : 64;
            cu_wcache *nw = (cu_wcache *)realloc(c->wc, (size_t)cap * sizeof *nw);
            if (!nw) cu_fail("bf16 weights", "out of host memory", __FILE__, __LINE__);
            c->wc = nw;
            c->wc_cap = cap;
        }
        e = &c->wc[c->nwc];
        e->w = w, e->Co = Co, e->Ci = Ci, e->k = k, e->valid = 0;
        e->n = (size_t)Co * Ci * k * k;
        void *h = NULL;
        cudaError_t err = cudaMalloc(&h, e->n * sizeof(__nv_bfloat16));
        if (err != cudaSuccess) cu_fail("cudaMalloc (bf16 weights)", cudaGetErrorString(err), __FILE__, __LINE__);
        e->h = (__nv_bfloat16 *)h;
        c->nwc++;
    }
    if (!e->valid) {
        to_nhwc_bf16<<<LAUNCH(e->n)>>>(w, e->h, Ci, k, k, k, k, e->n);
        KCHECK();
        e->valid = !c->capturing; /* recorded, it runs at each replay but not now */
    }
    return e->h;
}

__global__ static void bias_add(float *y, const float *b, int Co, int HW, long planes) {
    for (long pl = blockIdx.y; pl < planes; pl += gridDim.y) {
        const float v = b[pl % Co];
        float *yp = y + (size_t)pl * HW;
        for (int i = blockIdx.x * CU_THREADS + threadIdx.x; i < HW; i += gridDim.x * CU_THREADS) yp[i] += v;
    }
}

/* the ops ------------------------------------------------------------------------------------------------ */

static const char *dir_long[3] = {"forward", "backward-data", "backward-filter"};

/* A chosen algorithm that fails to run (cuDNN may refuse, say, the blending beta = 1 with some engines) is
 * replaced once, for this shape and direction: on the fp32 side by the always-available one (a failure of
 * that aborts), on the bf16 side by the emulation. Returns 1 when the op is to be tried again. */
static int use_fallback(cu_ctx *c, cu_conv_plan *p, int side, int dir, cudnnStatus_t st) {
    if (st == CUDNN_STATUS_SUCCESS) return 0;
    if (c->capturing) { /* no choosing while recording: the recording is discarded, the op runs after */
        c->capture_bad = 1;
        return 0;
    }
    cu_conv_side *d = &p->side[side];
    fprintf(stderr, "fn: CUDA backend: cuDNN %s%s algorithm %d failed (%s) for %dx%dx%dx%d -> %d k%d s%d; %s\n",
            side == SIDE_B16 ? "bf16 " : "", dir_long[dir], d->algo[dir], cudnnGetErrorString(st), p->N, p->Ci, p->H,
            p->W, p->Co, p->k, p->s, side == SIDE_B16 ? "emulating bf16" : "using the default algorithm");
    if (side == SIDE_B16) {
        emulate(c, p, dir);
        return 1;
    }
    if (d->algo[dir] == fallback_algo[dir] && d->math[dir] == base_math(c, side)) {
        char why[160];
        snprintf(why, sizeof why, "%s for %dx%dx%dx%d -> %d k%d s%d", cudnnGetErrorString(st), p->N, p->Ci, p->H,
                 p->W, p->Co, p->k, p->s);
        cu_fail(dir_long[dir], why, __FILE__, __LINE__);
    }
    d->algo[dir] = fallback_algo[dir];
    d->math[dir] = base_math(c, side);
    DK(cudnnSetConvolutionMathType(d->cd, d->math[dir]));
    if (dir == DIR_FWD)
        DK(cudnnGetConvolutionForwardWorkspaceSize(c->dnn, d->xd, d->wd, d->cd, d->yd,
                                                   (cudnnConvolutionFwdAlgo_t)d->algo[dir], &d->ws[dir]));
    else if (dir == DIR_DATA)
        DK(cudnnGetConvolutionBackwardDataWorkspaceSize(c->dnn, d->wd, d->yd, d->cd, d->xd,
                                                        (cudnnConvolutionBwdDataAlgo_t)d->algo[dir], &d->ws[dir]));
    else
        DK(cudnnGetConvolutionBackwardFilterWorkspaceSize(c->dnn, d->xd, d->yd, d->cd, d->wd,
                                                          (cudnnConvolutionBwdFilterAlgo_t)d->algo[dir], &d->ws[dir]));
    return 1;
}

static void add_bias(cu_ctx *c, float *y, const float *b, int N, int Co, int HWo) {
    const long planes = (long)N * Co;
    long bx = (HWo + CU_THREADS - 1) / CU_THREADS;
    dim3 grid((unsigned)(bx > 64 ? 64 : bx), (unsigned)(planes > 65535 ? 65535 : planes));
    bias_add<<<grid, CU_THREADS, 0, c->stream>>>(y, b, Co, HWo, planes);
    KCHECK();
}

void cu_conv_fwd(void *ctx, const float *x, const float *w, const float *b, float *y,
                 int N, int Ci, int H, int W, int Co, int k, int s) {
    cu_ctx *c = cu_enter(ctx);
    if (N < 1 || Ci < 1 || Co < 1 || H < 1 || W < 1) return;
    const float one = 1.0f, zero = 0.0f;
    int side;
    cu_conv_plan *p = ready(c, DIR_FWD, N, Ci, H, W, Co, k, s, &side);
    cudnnStatus_t st;
    if (side == SIDE_B16) {
        const cu_conv_side *d = &p->side[SIDE_B16];
        const __nv_bfloat16 *xh = nhwc_input(c, CU_SCR_CX, x, N, Ci, H, W, p->g.Hp, p->g.Wp); /* [N,Hp,Wp,Ci] */
        const __nv_bfloat16 *wh = weights_bf16(c, w, Co, Ci, k);                              /* [Co,k,k,Ci] */
        const size_t ny = (size_t)N * Co * p->g.Ho * p->g.Wo;
        __nv_bfloat16 *yh = (__nv_bfloat16 *)cu_scratch(c, CU_SCR_CY, ny * sizeof(__nv_bfloat16)); /* [N,Ho,Wo,Co] */
        st = cudnnConvolutionForward(c->dnn, &one, d->xd, xh, d->wd, wh, d->cd,
                                     (cudnnConvolutionFwdAlgo_t)d->algo[DIR_FWD], workspace(c, d, DIR_FWD),
                                     d->ws[DIR_FWD], &zero, d->yd, yh);
        if (!use_fallback(c, p, SIDE_B16, DIR_FWD, st)) {
            from_nhwc_bf16<<<LAUNCH(ny)>>>(yh, y, b, Co, p->g.Ho, p->g.Wo, p->g.Ho, p->g.Wo, ny, 0);
            KCHECK();
            return;
        }
        ready(c, DIR_FWD, N, Ci, H, W, Co, k, s, &side); /* now emulated */
    }
    const int emu = p->bf16; /* bf16 on the fp32 side: inputs rounded */
    const cu_conv_side *d = &p->side[SIDE_F32];
    const float *xin = padded_input(c, p, x, emu);
    const float *win = emu ? rounded(c, CU_SCR_CW, w, (size_t)Co * Ci, k, k) : w;
    do {
        st = cudnnConvolutionForward(c->dnn, &one, d->xd, xin, d->wd, win, d->cd,
                                     (cudnnConvolutionFwdAlgo_t)d->algo[DIR_FWD], workspace(c, d, DIR_FWD),
                                     d->ws[DIR_FWD], &zero, d->yd, y);
    } while (use_fallback(c, p, SIDE_F32, DIR_FWD, st));
    if (b) add_bias(c, y, b, N, Co, p->g.Ho * p->g.Wo);
}

void cu_conv_bwd_data(void *ctx, const float *dy, const float *w, float *dx,
                      int N, int Ci, int H, int W, int Co, int k, int s, int acc) {
    cu_ctx *c = cu_enter(ctx);
    if (N < 1 || Ci < 1 || Co < 1 || H < 1 || W < 1) return;
    const float one = 1.0f, zero = 0.0f;
    int side;
    cu_conv_plan *p = ready(c, DIR_DATA, N, Ci, H, W, Co, k, s, &side);
    const size_t np = (size_t)N * Ci * p->g.Hp * p->g.Wp, n = (size_t)N * Ci * H * W;
    cudnnStatus_t st;
    if (side == SIDE_B16) {
        const cu_conv_side *d = &p->side[SIDE_B16];
        const int Ho = p->g.Ho, Wo = p->g.Wo;
        const __nv_bfloat16 *dyh = nhwc_input(c, CU_SCR_CY, dy, N, Co, Ho, Wo, Ho, Wo); /* [N,Ho,Wo,Co] */
        const __nv_bfloat16 *wh = weights_bf16(c, w, Co, Ci, k);                      /* [Co,k,k,Ci] */
        __nv_bfloat16 *dxh = (__nv_bfloat16 *)cu_scratch(c, CU_SCR_CX, np * sizeof(__nv_bfloat16)); /* [N,Hp,Wp,Ci] */
        st = cudnnConvolutionBackwardData(c->dnn, &one, d->wd, wh, d->yd, dyh, d->cd,
                                          (cudnnConvolutionBwdDataAlgo_t)d->algo[DIR_DATA], workspace(c, d, DIR_DATA),
                                          d->ws[DIR_DATA], &zero, d->xd, dxh);
        if (!use_fallback(c, p, SIDE_B16, DIR_DATA, st)) {
            from_nhwc_bf16<<<LAUNCH(n)>>>(dxh, dx, NULL, Ci, H, W, p->g.Hp, p->g.Wp, n, acc);
            KCHECK();
            return;
        }
        ready(c, DIR_DATA, N, Ci, H, W, Co, k, s, &side);
    }
    const int emu = p->bf16;
    const cu_conv_side *d = &p->side[SIDE_F32];
    const int padded = p->g.eh || p->g.ew;
    const float *dyin = emu ? rounded(c, CU_SCR_CY, dy, (size_t)N * Co, p->g.Ho, p->g.Wo) : dy;
    const float *win = emu ? rounded(c, CU_SCR_CW, w, (size_t)Co * Ci, k, k) : w;
    /* padded: the whole dxp, then its crop written or added into dx; else straight into dx (beta 0 or 1) */
    float *dst = padded ? (float *)cu_scratch(c, CU_SCR_PAD, np * sizeof(float)) : dx;
    const float *beta = !padded && acc ? &one : &zero;
    do {
        st = cudnnConvolutionBackwardData(c->dnn, &one, d->wd, win, d->yd, dyin, d->cd,
                                          (cudnnConvolutionBwdDataAlgo_t)d->algo[DIR_DATA], workspace(c, d, DIR_DATA),
                                          d->ws[DIR_DATA], beta, d->xd, dst);
    } while (use_fallback(c, p, SIDE_F32, DIR_DATA, st));
    if (padded) {
        crop_kernel<<<LAUNCH(n)>>>(dst, dx, H, W, p->g.Hp, p->g.Wp, n, acc);
        KCHECK();
    }
}

void cu_conv_bwd_filter(void *ctx, const float *x, const float *dy, float *dw,
                        int N, int Ci, int H, int W, int Co, int k, int s) {
    cu_ctx *c = cu_enter(ctx);
    if (N < 1 || Ci < 1 || Co < 1 || H < 1 || W < 1) return;
    const float one = 1.0f, zero = 0.0f;
    int side;
    cu_conv_plan *p = ready(c, DIR_FILTER, N, Ci, H, W, Co, k, s, &side);
    cudnnStatus_t st;
    if (side == SIDE_B16) {
        const cu_conv_side *d = &p->side[SIDE_B16];
        const int Ho = p->g.Ho, Wo = p->g.Wo;
        const size_t nw = (size_t)Co * Ci * k * k;
        const __nv_bfloat16 *xh = nhwc_input(c, CU_SCR_CX, x, N, Ci, H, W, p->g.Hp, p->g.Wp); /* [N,Hp,Wp,Ci] */
        const __nv_bfloat16 *dyh = nhwc_input(c, CU_SCR_CY, dy, N, Co, Ho, Wo, Ho, Wo);       /* [N,Ho,Wo,Co] */
        __nv_bfloat16 *dwh = (__nv_bfloat16 *)cu_scratch(c, CU_SCR_CW, nw * sizeof(__nv_bfloat16)); /* [Co,k,k,Ci] */
        st = cudnnConvolutionBackwardFilter(c->dnn, &one, d->xd, xh, d->yd, dyh, d->cd,
                                            (cudnnConvolutionBwdFilterAlgo_t)d->algo[DIR_FILTER],
                                            workspace(c, d, DIR_FILTER), d->ws[DIR_FILTER], &zero, d->wd, dwh);
        if (!use_fallback(c, p, SIDE_B16, DIR_FILTER, st)) {
            from_nhwc_bf16<<<LAUNCH(nw)>>>(dwh, dw, NULL, Ci, k, k, k, k, nw, 1); /* dw [Co,Ci,k,k] += */
            KCHECK();
            return;
        }
        ready(c, DIR_FILTER, N, Ci, H, W, Co, k, s, &side);
    }
    const int emu = p->bf16;
    const cu_conv_side *d = &p->side[SIDE_F32];
    const float *xin = padded_input(c, p, x, emu);
    const float *dyin = emu ? rounded(c, CU_SCR_CY, dy, (size_t)N * Co, p->g.Ho, p->g.Wo) : dy;
    do {
        st = cudnnConvolutionBackwardFilter(c->dnn, &one, d->xd, xin, d->yd, dyin, d->cd,
                                            (cudnnConvolutionBwdFilterAlgo_t)d->algo[DIR_FILTER],
                                            workspace(c, d, DIR_FILTER), d->ws[DIR_FILTER], &one, d->wd, dw); /* += */
    } while (use_fallback(c, p, SIDE_F32, DIR_FILTER, st));
}
