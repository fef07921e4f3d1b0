/* cu.h: the CUDA backend's private header (for the .cu files in cuda/; the graph sees lib/backend/backend.h).
 *
 * One context per backend: the device, one stream on which everything is queued in order, the cuDNN
 * handle, the convolution plans (descriptors and chosen algorithms per shape), and scratch buffers that
 * grow as needed. No global mutable state.
 *
 * Numerics: the graph's tensors are float32 NCHW in every precision. set_precision (conv.cu) picks the
 * convolutions' precision: fp32 (the default; cuDNN CUDNN_FMA_MATH, true fp32, no TF32), tf32 (tensor
 * cores on TF32-rounded inputs) or bf16 (inputs cast to bf16 NHWC at the convolution's boundary, fp32
 * accumulation, the output cast back); every other op is fp32 in every precision. Reductions (batch-norm
 * statistics, bias gradients, SE pools, Dice, sums of squares) are our own kernels: a fixed split of the
 * work per shape, each thread summing in double, a fixed-order tree in each block and a fixed-order sum
 * of the block partials, so that results are bitwise reproducible. Convolutions may use cuDNN's
 * non-deterministic algorithms (the fastest) unless set_deterministic(1) (fn-train --deterministic) asks
 * for deterministic ones only. FN_CUDA_FIND=0 picks algorithms by cuDNN's heuristics instead of
 * timing them (cudnnFind*), which makes the first step of a new shape faster. FN_CUDA_VERBOSE=1 prints
 * each algorithm choice on stderr.
 *
 * The ops have no error path (lib/backend/backend.h): a CUDA or cuDNN failure inside one prints a line on
 * stderr and aborts, as the CPU backend does when out of memory. */
#ifndef FN_CU_H
#define FN_CU_H

#include <stddef.h>
#include <stdint.h>
#include <cuda_runtime.h>
#include <cudnn.h>

extern "C" {
#include "backend/backend.h"
}

#define CU_THREADS 256 /* threads per block in every kernel */

/* scratch buffers of the context, one per use so that an op may hold several at once */
enum {
    CU_SCR_WS = 0, /* cuDNN workspace */
    CU_SCR_PAD,    /* padded copy of a conv input, or the padded dx of backward-data */
    CU_SCR_RED,    /* double partial sums of the reductions */
    CU_SCR_COEF,   /* per-channel float coefficients (batch norm), per-image (Dice) */
    CU_SCR_SE,     /* SE backward temporaries */
    CU_SCR_SYNC,   /* sync-BN: the per-channel totals summed over the replicas (comm.cu) */
    CU_SCR_CX,     /* bf16 (conv.cu): the cast conv input x (NHWC bf16), or backward-data's dx before its cast */
    CU_SCR_CY,     /* bf16: the cast dy, or the forward's output before its cast */
    CU_SCR_CW,     /* bf16: backward-filter's dw before its cast; emulated directions' rounded weights */
    CU_SCR_N
};

struct cu_conv_plan; /* conv.cu */
struct cu_wcache;    /* conv.cu: a cached bf16 copy of convolution weights */

typedef struct cu_ctx {
    int dev;
    cudaStream_t stream;
    cudnnHandle_t dnn;
    int prec;   /* enum fn_precision of the convolutions (set_precision) */
    int cc;     /* compute capability, 10*major + minor (tf32 and bf16 need 80) */
    int nondet; /* allow non-deterministic convolution algorithms (the default; set_deterministic) */
    int find;   /* time the algorithms (cudnnFind*) rather than ask the heuristics */
    size_t ws_limit; /* largest cuDNN workspace an algorithm may ask for */
    void *scr[CU_SCR_N];
    size_t scr_cap[CU_SCR_N];
    double *host_res; /* pinned host memory for results of reductions (16 doubles) */
    struct cu_conv_plan **plans;
    int nplans, plans_cap;
    struct cu_wcache *wc; /* bf16 weights, valid until written (cu_written) */
    int nwc, wc_cap;
    void *segs_host, *segs_dev; /* adam_segs' segment table (adam.cu), on the host and the device */
    size_t segs_dev_cap;
    int segs_n;
    unsigned *dice_count; /* loss.cu: the Dice partial sums' last-block counter */
    int capturing, capture_bad; /* capture.cu: a stream capture is under way; an op could not be recorded */
    int no_graph;               /* FN_CUDA_GRAPH=0: never record */
    void *graph_exec;           /* the one recording kept (cudaGraphExec_t), or NULL */
    long graph_id;              /* its id */
    fn_bn_sync bn_sync;  /* set_bn_sync: sum NULL when off (norm.cu takes the synchronised path) */
    struct cu_comm *comm; /* NCCL, once comm_init joined one (comm.cu) */
} cu_ctx;

/* failure inside an op: message and abort */
void cu_fail(const char *what, const char *why, const char *file, int line) __attribute__((noreturn));

#define CK(call)                                                                                   \
    do {                                                                                           \
        cudaError_t ck_err_ = (call);                                                              \
        if (ck_err_ != cudaSuccess) cu_fail(#call, cudaGetErrorString(ck_err_), __FILE__, __LINE__); \
    } while (0)
#define DK(call)                                                                                   \
    do {                                                                                           \
        cudnnStatus_t dk_st_ = (call);                                                             \
        if (dk_st_ != CUDNN_STATUS_SUCCESS) cu_fail(#call, cudnnGetErrorString(dk_st_), __FILE__, __LINE__); \
    } while (0)
/* after a kernel launch (c: the op's context): a failure aborts, except while recording (capture.cu),
 * where it discards the recording (the ops then run unrecorded, and fail there if they fail) */
#define KCHECK()                                                                                   \
    do {                                                                                           \
        cudaError_t kc_err_ = cudaGetLastError();                                                  \
        if (kc_err_ != cudaSuccess) {                                                              \
            if (c->capturing) c->capture_bad = 1;                                                  \
            else cu_fail("a kernel launch", cudaGetErrorString(kc_err_), __FILE__, __LINE__);      \
        }                                                                                          \
    } while (0)

/* the context of an op (and the device made current when it is not device 0) */
static inline cu_ctx *cu_enter(void *ctx) {
    cu_ctx *c = (cu_ctx *)ctx;
    if (c->dev != 0) CK(cudaSetDevice(c->dev));
    return c;
}

/* scratch buffer `slot` of at least `bytes` (grown when needed; old contents are lost) */
void *cu_scratch(cu_ctx *c, int slot, size_t bytes);

/* blocks for a grid-stride loop over n elements */
static inline unsigned cu_blocks(size_t n) {
    size_t b = (n + CU_THREADS - 1) / CU_THREADS;
    if (b < 1) b = 1;
    if (b > 8192) b = 8192;
    return (unsigned)b;
}

/* the sum of v over the block (blockDim.x == CU_THREADS), valid in thread 0; sh: 32 doubles of shared
 * memory. Every thread of the block must call it. Fixed order: deterministic. */
static __device__ __forceinline__ double cu_block_sum(double v, double *sh) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    const int lane = threadIdx.x & 31, wid = threadIdx.x >> 5;
    if (lane == 0) sh[wid] = v;
    __syncthreads();
    v = threadIdx.x < (CU_THREADS >> 5) ? sh[threadIdx.x] : 0.0;
    __syncthreads(); /* sh may be used again right after */
    if (wid == 0)
        for (int o = 16; o > 0; o >>= 1) v += __shfl_down_sync(0xffffffffu, v, o);
    return v;
}

/* one channel's batch-norm statistics from its mean mu and variance var over m values: mean, invstd,
 * the scale-shift coefficients (coef[ch] = scale, coef[C+ch] = shift) and the running averages.
 * Shared by the per-rank and the synchronised training forward. */
static __device__ __forceinline__ void cu_bn_finalize_chan(int ch, int C, double m, double mu, double var,
                                                           const float *gamma, const float *beta, float *mean,
                                                           float *invstd, float *rmean, float *rvar, float momentum,
                                                           float eps, float *coef) {
    if (var < 0) var = 0;
    const double is = 1.0 / sqrt(var + eps);
    const float muf = (float)mu;
    mean[ch] = muf;
    invstd[ch] = (float)is;
    const float scale = gamma[ch] * (float)is;
    coef[ch] = scale;
    coef[C + ch] = beta[ch] - muf * scale;
    const double unbiased = m > 1 ? var * m / (m - 1) : var;
    rmean[ch] = (float)((1.0 - momentum) * rmean[ch] + momentum * mu);
    rvar[ch] = (float)((1.0 - momentum) * rvar[ch] + momentum * unbiased);
}

/* how a per-channel (or per-image) reduction over N planes of HW values is split into blocks: each
 * channel gets `splits` blocks, block j sums positions [j*chunk, (j+1)*chunk) of every plane */
typedef struct cu_split {
    int splits;
    int chunk;
} cu_split;
cu_split cu_split_for(int C, int HW);

/* per-channel sums over x [N,C,HW] (a, b may be the same tensor):
 *   mode 0: part[c][j] = { sum a }
 *   mode 1: part[c][j] = { sum a, sum a^2 }
 *   mode 2: part[c][j] = { sum a, sum a*(b - center[c]) }
 * part: splits*C entries of 2 doubles (CU_SCR_RED); returns the split used. */
cu_split cu_chan_sums(cu_ctx *c, int mode, const float *a, const float *b, const float *center,
                      int N, int C, int HW, double *part);

/* the backend's functions (cuda.cu fills the table) */
void cu_conv_fwd(void *ctx, const float *x, const float *w, const float *b, float *y,
                 int N, int Ci, int H, int W, int Co, int k, int s);
void cu_conv_bwd_data(void *ctx, const float *dy, const float *w, float *dx,
                      int N, int Ci, int H, int W, int Co, int k, int s, int acc);
void cu_conv_bwd_filter(void *ctx, const float *x, const float *dy, float *dw,
                        int N, int Ci, int H, int W, int Co, int k, int s);
void cu_conv_bwd_bias(void *ctx, const float *dy, float *db, int N, int Co, int HWo);
void cu_conv_plans_free(cu_ctx *c);
void cu_wcache_free(cu_ctx *c);
/* device memory [p, p+bytes) is being written through the backend's table (upload, copy, fill, axpy, Adam,
 * allreduce): the bf16 weights cast from it are stale */
void cu_written(cu_ctx *c, const void *p, size_t bytes);

void cu_bn_fwd_train(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                     float *mean, float *invstd, float *rmean, float *rvar,
                     int N, int C, int HW, float momentum, float eps);
void cu_bn_fwd_infer(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                     const float *rmean, const float *rvar, int N, int C, int HW, float eps);
void cu_bn_bwd(void *ctx, const float *x, const float *dy, const float *gamma,
               const float *mean, const float *invstd, float *dx, float *dgamma, float *dbeta,
               int N, int C, int HW, int acc);

/* comm.cu: sync-BN and the NCCL collectives (libnccl.so.2 loaded with dlopen on first use) */
void cu_comm_init_table(fn_backend *be);
void cu_comm_free(cu_ctx *c);
void cu_bn_fwd_train_sync(cu_ctx *c, const float *x, const float *gamma, const float *beta, float *y,
                          float *mean, float *invstd, float *rmean, float *rvar,
                          int N, int C, int HW, float momentum, float eps);
void cu_bn_bwd_sync(cu_ctx *c, const float *x, const float *dy, const float *gamma,
                    const float *mean, const float *invstd, float *dx, float *dgamma, float *dbeta,
                    int N, int C, int HW, int acc);
/* norm.cu's kernels that comm.cu shares */
dim3 cu_plane_grid(int HW, long planes);
void cu_chan_affine(cu_ctx *c, const float *x, float *y, const float *coef, int C, int HW, long planes);
void cu_bn_bwd_apply(cu_ctx *c, const float *x, const float *dy, float *dx, const float *coef, int C, int HW,
                     long planes, int acc);

void cu_fill(void *ctx, float *dst, float v, size_t n);
void cu_act_fwd(void *ctx, int act, const float *x, float *y, size_t n, float alpha);
void cu_act_bwd(void *ctx, int act, const float *y, const float *dy, float *dx, size_t n,
                float alpha, int acc);
void cu_add(void *ctx, const float *a, const float *b, float *y, size_t n);
void cu_mul(void *ctx, const float *a, const float *b, float *y, size_t n, int acc);
void cu_axpy(void *ctx, float alpha, const float *x, float *y, size_t n);
void cu_concat(void *ctx, const float *a, const float *b, float *y, int N, int Ca, int Cb, int HW);
void cu_split_op(void *ctx, const float *dy, float *da, float *db, int N, int Ca, int Cb, int HW, int acc);
void cu_up2_fwd(void *ctx, const float *x, float *y, int N, int C, int H, int W);
void cu_up2_bwd(void *ctx, const float *dy, float *dx, int N, int C, int H, int W, int acc);
void cu_pool2_fwd(void *ctx, const float *x, float *y, int N, int C, int H, int W);
void cu_pool2_bwd(void *ctx, const float *x, const float *dy, float *dx, int N, int C, int H, int W, int acc);
void cu_cmul_fwd(void *ctx, const float *x, const float *a, float *y, int N, int C, int HW);
void cu_cmul_bwd(void *ctx, const float *x, const float *a, const float *dy, float *dx, float *da,
                 int N, int C, int HW, int acc_x, int acc_a);
void cu_dropout_fwd(void *ctx, const float *x, float *y, float *mask, int N, int C, int HW, float p, uint64_t seed);
void cu_dropout_bwd(void *ctx, const float *dy, const float *mask, float *dx, size_t n, int acc);

void cu_se_fwd(void *ctx, const float *x, const float *wa, const float *wb, float *y,
               float *pool, float *hid, float *gate, int N, int C, int HW, int Cr);
void cu_se_bwd(void *ctx, const float *x, const float *dy, const float *wa, const float *wb,
               const float *pool, const float *hid, const float *gate,
               float *dx, float *dwa, float *dwb, int N, int C, int HW, int Cr, int acc);

float cu_dice_loss(void *ctx, const float *p, const float *t, float *dp, int N, int HW, float smooth);
double cu_sumsq(void *ctx, const float *x, size_t n);

void cu_adam(void *ctx, float *w, const float *g, float *m, float *v, size_t n, float lr,
             float b1, float b2, float eps, float l2, long t);
void cu_adam_segs(void *ctx, float *w, const float *g, float *m, float *v, size_t n, const size_t *off,
                  const float *l2, int nseg, float lr, float b1, float b2, float eps, long t);
void cu_adam_free(cu_ctx *c);

/* capture.cu: inference forwards as CUDA graphs */
int cu_capture_begin(void *ctx);
long cu_capture_end(void *ctx);
int cu_replay(void *ctx, long id);
/* drop the recording kept (memory it names was freed or regrown, or its ops would now differ) */
void cu_capture_drop(cu_ctx *c);

#endif
