/* Layer lib/backend: the backend interface, which both backends (cpu/, cuda/) and the graph (nn/) see;
 * may use base/.
 * The layers, each using only those before it: base < data < imgproc, eval < backend < cpu, nn, cuda/
 *   < train < mpi/ < cmd/ (folders of one rank never include each other; README "Layout", tests/layout.py). */
/* backend.h: the one interface between the network graph (lib/nn/) and a device.
 *
 * A backend is a table of function pointers plus an opaque context. Device memory is handed around as
 * `float *` device pointers: the graph may do pointer arithmetic on them (views into one allocation)
 * but never dereferences them; only upload/download move data between host and device.
 * All tensors are float32 NCHW (channels-last NHWC while set_nhwc is on: an inference forward's, where
 * the backend's nhwc_pays says so). Shapes are given as N (batch), C (channels), H, W.
 *
 * The gradient rule (as llm.c): parameter gradients ACCUMULATE (+=); activation gradients are
 * written (=) unless the op takes `acc` and it is 1, then they accumulate (+=). This is cuDNN's
 * beta = 0 / 1.
 *
 * 'same' padding is TensorFlow's: out = ceil(in / stride), total = max((out-1)*stride + k - in, 0),
 * the top/left side gets total/2 (floor), the bottom/right side the rest. See fn_same().
 *
 * Backends: lib/cpu/ (fn_cpu_backend_new), cuda/ (libfn-cuda.so, entry point fn_cuda_backend_new,
 * loaded with dlopen by fn_backend_open). Nothing here includes a CUDA header. */
#ifndef FN_BACKEND_H
#define FN_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "base/err.h"

enum fn_act { FN_ACT_RELU = 0, FN_ACT_LEAKY = 1, FN_ACT_SIGMOID = 2 };

/* the inline helpers below are compiled for the GPU too when nvcc reads this header (cuda/) */
#ifdef __CUDACC__
#define FN_HOSTDEV __host__ __device__
#else
#define FN_HOSTDEV
#endif

/* TensorFlow 'same': output size and padding before (top/left) for one axis */
static inline FN_HOSTDEV int fn_same(int in, int k, int stride, int *pad_lo) {
    int out = (in + stride - 1) / stride;
    int total = (out - 1) * stride + k - in;
    if (total < 0) total = 0;
    if (pad_lo) *pad_lo = total / 2;
    return out;
}

/* Synchronised batch norm for data-parallel training (set_bn_sync). While set, bn_fwd_train and
 * bn_bwd take their per-channel sums over every replica: the backend writes this replica's partial
 * sums into a device buffer of doubles and calls sum(ctx, buf, n), which replaces them by the sums over
 * all replicas (every replica makes the same calls in the same order, with the same n). What the sums
 * are is the backend's choice (all replicas run the same one), the count N*HW among them: the CPU
 * takes sum x, then sum (x - mean)^2, and sum dy, sum dy*(x - mean) backward. dgamma and dbeta stay
 * this replica's: they are summed with the other parameter gradients afterwards. */
typedef struct fn_bn_sync {
    void *ctx;
    void (*sum)(void *ctx, double *buf, size_t n);
} fn_bn_sync;

/* The precision of the matrix products (--precision of fn-train and fn-infer): FN_PREC_FP32 everywhere;
 * FN_PREC_TF32 (CUDA) and FN_PREC_BF16 round the products' inputs (tf32: 11 significant bits, bf16: 8, the
 * implicit one included; unit roundoff u = 2^-11 and 2^-8: 1 + 2^-8 is a bf16 tie) and accumulate in fp32.
 * Every other op, the parameters (master weights), the optimiser's moments, the loss, batch-norm statistics
 * and reductions stay fp32 in every precision, and so does every tensor the graph sees. */
enum fn_precision { FN_PREC_FP32 = 0, FN_PREC_TF32 = 1, FN_PREC_BF16 = 2 };
/* "fp32", "tf32", "bf16" (NULL for another value); parse: the value, or -1 for another name */
static inline const char *fn_precision_name(int p) {
    return p == FN_PREC_FP32 ? "fp32" : p == FN_PREC_TF32 ? "tf32" : p == FN_PREC_BF16 ? "bf16" : NULL;
}
static inline int fn_precision_parse(const char *s) {
    for (int p = 0; p <= FN_PREC_BF16; p++)
        if (s && !strcmp(fn_precision_name(p), s)) return p;
    return -1;
}

/* An inference batch norm over C channels, from its running statistics, and a ReLU after it when relu
 * (bn_fwd_infer's, or bn_relu_fwd_infer's): conv_bn_conv_fwd_infer's second */
typedef struct fn_bn_infer {
    const float *gamma, *beta, *rmean, *rvar;
    float eps;
    int relu;
} fn_bn_infer;

/* An inference residual unit, unit_fwd_infer's argument (shapes for the call's N, Ci, H, W):
 *   in = x [N,Ci,H,W], or (x2 not NULL) the concatenation along channels of x [N,Ci-Ci2,H,W] and x2
 *        [N,Ci2,H,W], which the calls would make in xc [N,Ci,H,W]
 *   h  = in, or (pre not NULL) [relu](bn_infer(in)) into h [N,Ci,H,W], pre's batch norm over Ci channels
 *   y1 = [relu](bn_infer(conv1(h))) [N,C1,H1,W1], y2 = conv2(y1) [N,C2,H2,W2], or [relu](bn2(conv2(y1)))
 *        (bn2 not NULL: Residual U-Net's): conv_bn_conv_fwd_infer's
 *   y  = y2 + conv3(in) (w3 not NULL: the shortcut, conv_add_fwd_infer's), or y2 + in (w3 NULL: in of
 *        y2's shape)
 * The batch norms as bn_fwd_infer's (running statistics; relu: bn_relu_fwd_infer's). y must be
 * bit-identical to those calls (concat, bn_[relu_]fwd_infer, conv_bn_conv_fwd_infer, conv_add_fwd_infer
 * or add), whose outputs xc, h, y1 and y2 are the backend's to use as it likes, undefined after the call.
 * y may overlap h or y1 (the calls are done with them when they write y), and, where the input is a
 * concatenation, x and x2 (the calls make xc whole first: a backend reads every image of both before it
 * writes any of y), none of the others; x, x2 and the parameters are read only. */
typedef struct fn_unit {
    const float *x, *x2;
    int Ci2;
    float *xc;
    const float *pre_gamma, *pre_beta, *pre_mean, *pre_var; /* pre: NULL gamma for none */
    int pre_relu;
    float *h;
    const float *w1, *b1; /* b NULL: no bias */
    int C1, k1, s1;
    const float *gamma, *beta, *rmean, *rvar;
    int relu;
    float *y1;
    const float *w2, *b2;
    int C2, k2, s2;
    const fn_bn_infer *bn2; /* NULL: none */
    float *y2;
    const float *w3, *b3; /* w3 NULL: the identity */
    int k3, s3;
    float eps; /* the norms' but bn2's */
    float *y;
} fn_unit;

/* bytes of a communicator id (comm_id): NCCL's unique id */
#define FN_COMM_ID_BYTES 128

typedef struct fn_backend fn_backend;
struct fn_backend {
    const char *name; /* "cpu", "cuda" */
    char device[128]; /* human-readable: "CPU (2 threads, OpenBLAS)", "NVIDIA H100 ..." */
    void *ctx;

    void (*destroy)(fn_backend *be);
    /* memory: alloc returns zeroed device memory for n floats (NULL when out of memory) */
    float *(*alloc)(void *ctx, size_t n);
    void (*free)(void *ctx, float *p);
    void (*upload)(void *ctx, float *dst, const float *host, size_t n);
    void (*download)(void *ctx, float *host, const float *src, size_t n);
    void (*copy)(void *ctx, float *dst, const float *src, size_t n);
    void (*fill)(void *ctx, float *dst, float v, size_t n);
    void (*sync)(void *ctx); /* wait for queued work (no-op on the CPU) */
    /* optional (NULL: none): the forward passes that follow are training ones (1: batch statistics,
     * a backward pass to come) or inference ones (0); a backend may choose its algorithms by it. The CPU
     * backend runs training forwards by the direct method: Winograd's rounding, amplified by batch
     * norm over a small batch, would move the gradients further than the golden check allows. */
    void (*set_training)(void *ctx, int training);
    /* optional (NULL: none): the inference forwards that follow read their parameters from the n floats
     * at p, whose values version names. While (p, n, version) stay the same, a backend may keep what it
     * derives from them across forwards (the CPU backend: the Winograd transforms of the convolution
     * kernels); it drops it when they change, on set_training(ctx, 1), and when p is freed. The graph
     * gives a new version whenever the parameters may have been written (initialised, set, an Adam step,
     * handed out by fn_net_device). */
    void (*params_frozen)(void *ctx, const float *p, size_t n, uint64_t version);
    /* optional (NULL: ops never fail): why an op since the last call did nothing (the CPU backend's
     * workspace out of memory), or NULL; the message is cleared by the call. The ops have no error
     * return; the graph asks after each forward and backward pass. */
    const char *(*error)(void *ctx);
    /* optional (NULL: fp32 only): the precision (enum fn_precision) of the matrix products of the ops that
     * follow; the backend starts in FN_PREC_FP32. 0, or -1 with e set to one line saying why (the CPU
     * backend: bf16 needs a CPU with bf16 instructions, AVX512_BF16 or AMX, as oneDNN finds them, so
     * ONEDNN_MAX_CPU_ISA=AVX2 refuses it; tf32 is CUDA's). Set it before the first op, or between
     * passes; use fn_backend_set_precision, which refuses all but fp32 where this is NULL. */
    int (*set_precision)(void *ctx, int precision, fn_err *e);
    /* optional (NULL: always deterministic, as the CPU backend): 1: the ops that follow give bitwise the
     * same results for the same inputs on the same device (CUDA: deterministic cuDNN convolution algorithms
     * only; fn-train --deterministic); 0 (the CUDA backend's start): a backend may pick faster algorithms
     * that sum in a varying order. Set it between passes. */
    void (*set_deterministic)(void *ctx, int on);
    /* optional (NULL: not known): the device memory in use now and the device's total, in bytes (CUDA:
     * cudaMemGetInfo, so the whole device's use, the CUDA context and cuDNN's own allocations included;
     * the backend's buffers only grow, so after a step this is the step's peak). 0, or -1. */
    int (*mem_info)(void *ctx, size_t *used, size_t *total);
    /* optional (NULL: none), to run an inference forward again at less cost (CUDA graphs; lib/nn/capture.h
     * decides when): capture_begin starts recording the ops that follow instead of running them (they must
     * then neither return data to the host nor grow a workspace: the recording fails); capture_end stops
     * and keeps the ops as the backend's one recording, returning its id (>= 0), or -1 when it failed;
     * replay(id) runs that recording again, reading the memory its ops name as it is then: 0, or -1 when
     * id is not the recording kept (another was made since, or the backend dropped it: set_precision,
     * set_deterministic, a freed or regrown buffer). capture_begin: 0, or -1 (nothing recorded). */
    int (*capture_begin)(void *ctx);
    long (*capture_end)(void *ctx);
    int (*replay)(void *ctx, long id);

    /* convolution, square kernel k (1, 2, 3, 7), stride s (1, 2), TF 'same' padding.
     * x [N,Ci,H,W], w [Co,Ci,k,k] (OIHW), b [Co] or NULL, y [N,Co,Ho,Wo], Ho = ceil(H/s).
     * 1x1 kernels with stride 2 sample the even rows/columns (that is 'same' with total pad 0). */
    void (*conv_fwd)(void *ctx, const float *x, const float *w, const float *b, float *y,
                     int N, int Ci, int H, int W, int Co, int k, int s);
    /* optional (NULL: conv_fwd, then bn_fwd_infer or bn_relu_fwd_infer): an inference convolution
     * whose outputs go through a batch norm (and a ReLU when relu) as they are made, bit-identical to
     * the separate calls: y = [relu](bn_infer(conv(x))), bn_infer as bn_fwd_infer's over Co channels.
     * y must not overlap x. */
    void (*conv_bn_fwd_infer)(void *ctx, const float *x, const float *w, const float *b, float *y,
                              int N, int Ci, int H, int W, int Co, int k, int s, const float *gamma,
                              const float *beta, const float *rmean, const float *rvar, float eps, int relu);
    /* optional (NULL: conv_bn_fwd_infer, then add): conv_bn_fwd_infer's y with z's values added, bit-identical
     * to the two calls: y = [relu](bn_infer(conv(x))) + z, z [N,Co,Ho,Wo]; the normalised output is never
     * stored. y must not overlap x or z. Planned only where resid_pays says yes. */
    void (*conv_bn_add_fwd_infer)(void *ctx, const float *x, const float *w, const float *b, const float *z,
                                  float *y, int N, int Ci, int H, int W, int Co, int k, int s, const float *gamma,
                                  const float *beta, const float *rmean, const float *rvar, float eps, int relu);
    /* optional (NULL: concat into u, then conv_bn_fwd_infer): conv_bn_fwd_infer of the concatenation of x
     * [N,Ci-Ci2,H,W] and x2 [N,Ci2,H,W] along channels (Ci counts both), bit-identical to the two calls; u
     * [N,Ci,H,W] the concatenation's storage, the backend's to use as it likes (undefined after the call).
     * y may overlap x and x2 (the calls make u whole first: a backend reads every image of both before it
     * writes any of y), not u. Planned only where resid_pays says yes. */
    void (*cat_conv_bn_fwd_infer)(void *ctx, const float *x, const float *x2, int Ci2, float *u, const float *w,
                                  const float *b, float *y, int N, int Ci, int H, int W, int Co, int k, int s,
                                  const float *gamma, const float *beta, const float *rmean, const float *rvar,
                                  float eps, int relu);
    /* optional (NULL: conv_bn_fwd_infer, then conv_fwd or conv_bn_fwd_infer): two inference convolutions in a
     * row, the second reading only the first's normalised output: y1 = [relu](bn_infer(conv1(x))) as
     * conv_bn_fwd_infer's (x [N,Ci,H,W], w1 [C1,Ci,k1,k1], y1 [N,C1,H1,W1]), then y2 = conv2(y1) as
     * conv_fwd's (w2 [C2,C1,k2,k2], y2 [N,C2,H2,W2]), or, with bn2 not NULL, y2 = [relu](bn2(conv2(y1))) as
     * conv_bn_fwd_infer's; y2 bit-identical to the two calls. y1 is the backend's to use as it likes: its
     * contents after the call are undefined (a backend may pass the values on in a layout of its own).
     * Neither y1 nor y2 may overlap x, nor each other. */
    void (*conv_bn_conv_fwd_infer)(void *ctx, const float *x, const float *w1, const float *b1, float *y1, int N,
                                   int Ci, int H, int W, int C1, int k1, int s1, const float *gamma,
                                   const float *beta, const float *rmean, const float *rvar, float eps, int relu,
                                   const float *w2, const float *b2, float *y2, int C2, int k2, int s2,
                                   const fn_bn_infer *bn2);
    /* optional (NULL: its calls, fn_unit above): an inference residual unit in one call. Planned only where
     * resid_pays says yes. */
    void (*unit_fwd_infer)(void *ctx, const fn_unit *u, int N, int Ci, int H, int W);
    /* optional (NULL: up2_fwd, then conv_fwd): an inference convolution of an upsampling, y = conv(up2(x)),
     * x [N,Ci,H,W], u [N,Ci,2H,2W] the upsampling's storage, the backend's to use as it likes (undefined
     * after the call), w, b, y as conv_fwd's over [N,Ci,2H,2W]; bit-identical to the two calls. y may not
     * overlap x or u. Planned only where resid_pays says yes. */
    void (*up_conv_fwd_infer)(void *ctx, const float *x, float *u, const float *w, const float *b, float *y, int N,
                              int Ci, int H, int W, int Co, int k, int s);
    /* optional (NULL: conv_fwd, then add): a convolution whose outputs are added to z's, the residual
     * sum: y = conv(x) (+ b) + z (z [N,Co,Ho,Wo]), bit-identical to conv_fwd, then add of its output and
     * z (either order: the sum is one addition). y must not overlap x or z. */
    void (*conv_add_fwd_infer)(void *ctx, const float *x, const float *w, const float *b, const float *z, float *y,
                               int N, int Ci, int H, int W, int Co, int k, int s);
    /* optional (NULL: 1): whether conv_add_fwd_infer gains enough, at the backend's present settings, to be
     * worth its memory: the sum's output lives from the convolution on, beside its input, which may raise
     * the activations' peak (FocusNet's by 1%). The plan asks it, and is made again when the answer
     * changes (set_precision). */
    int (*resid_pays)(void *ctx);
    /* optional (NULL: NCHW only): channels last. nhwc_pays(ctx, train): whether inference forwards (train
     * 0), or training forwards and backwards (train 1), would gain by taking their activations in NHWC, at
     * the backend's present settings (the CPU: bf16 by oneDNN's primitives, whose kernels take NHWC, so
     * that no transposes are made between the ops); the plan asks it as it asks resid_pays. set_nhwc(ctx,
     * 1): every tensor that the ops that follow take or give as [N,C,H,W] (forward or backward: x, y, dy,
     * dx, a mask) is [N,H,W,C] instead (channels last, the C values of a pixel side by side; a parameter,
     * its gradient and per-channel or per-(image, channel) vectors do not change), with the bits of the
     * NCHW ops on the same values; set_nhwc(ctx, 0): back to NCHW (the start). nhwc: x [N,C,HW] -> y
     * [N,HW,C] (to 1), or back (to 0): the graph's input and output. */
    int (*nhwc_pays)(void *ctx, int train);
    void (*set_nhwc)(void *ctx, int on);
    void (*nhwc)(void *ctx, const float *x, float *y, int N, int C, int HW, int to);
    void (*conv_bwd_data)(void *ctx, const float *dy, const float *w, float *dx,
                          int N, int Ci, int H, int W, int Co, int k, int s, int acc);
    void (*conv_bwd_filter)(void *ctx, const float *x, const float *dy, float *dw, /* dw += */
                            int N, int Ci, int H, int W, int Co, int k, int s);
    /* optional (NULL: conv_bwd_filter, then conv_bwd_data): both, dw += and dx (= or += by acc), with
     * the same bits as the two calls; lets a backend prepare dy once for both passes */
    void (*conv_bwd)(void *ctx, const float *x, const float *dy, const float *w, float *dw, float *dx,
                     int N, int Ci, int H, int W, int Co, int k, int s, int acc);
    void (*conv_bwd_bias)(void *ctx, const float *dy, float *db, int N, int Co, int HWo); /* db += */

    /* batch norm per channel over N*HW, biased batch variance for normalising.
     * train: y = gamma*(x-mean)*invstd + beta; saves mean[C], invstd[C] = 1/sqrt(var+eps);
     *   running = (1-momentum)*running + momentum*batch, running_var taking the unbiased variance
     *   (var * m/(m-1), m = N*HW). momentum = 0.01 is Keras's 0.99.
     * infer: y = gamma*(x-rmean)/sqrt(rvar+eps) + beta.
     * bwd: dx (= or += by acc), dgamma += , dbeta += . */
    void (*bn_fwd_train)(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                         float *mean, float *invstd, float *rmean, float *rvar,
                         int N, int C, int HW, float momentum, float eps);
    void (*bn_fwd_infer)(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                         const float *rmean, const float *rvar, int N, int C, int HW, float eps);
    void (*bn_bwd)(void *ctx, const float *x, const float *dy, const float *gamma,
                   const float *mean, const float *invstd, float *dx, float *dgamma, float *dbeta,
                   int N, int C, int HW, int acc);
    /* optional (NULL: bn_fwd_* then act_fwd): batch norm with the ReLU fused into its output pass,
     * y = relu(bn(x)), bit-identical to the two calls (one pass over y fewer) */
    void (*bn_relu_fwd_train)(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                              float *mean, float *invstd, float *rmean, float *rvar,
                              int N, int C, int HW, float momentum, float eps);
    void (*bn_relu_fwd_infer)(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                              const float *rmean, const float *rvar, int N, int C, int HW, float eps);
    /* optional (NULL: act_bwd, then bn_bwd): the backward of a training batch norm and the ReLU after it
     * in one, from the gradient dy of y = relu(bn(x)): bn_bwd on act_bwd's (ReLU) gradient, with y as
     * the last bn_relu_fwd_train on x made it (from the mean and invstd it saved; gamma, beta unchanged
     * since), bit for bit, without reading y */
    void (*bn_relu_bwd)(void *ctx, const float *x, const float *dy, const float *gamma, const float *beta,
                        const float *mean, const float *invstd, float *dx, float *dgamma, float *dbeta, int N, int C,
                        int HW, int acc);
    /* optional (NULL: a training plan keeps every normalised output a convolution's backward reads): a
     * batch norm folded into the backward of the convolution that reads its output: conv_bwd on
     * x = [relu](bn(xb)) as the last bn_fwd_train (relu: bn_relu_fwd_train) on xb made it, from the mean
     * and invstd it saved, bit for bit. The graph then keeps xb only (lib/nn/graph.c unkept), where the
     * ReLU's backward needs no y either (bn_relu_bwd). bn_fold_pays (optional, NULL: 1): whether that
     * costs no more time than keeping x, at the backend's present settings. */
    void (*conv_bwd_bn)(void *ctx, const float *xb, const float *gamma, const float *beta, const float *mean,
                        const float *invstd, int relu, const float *dy, const float *w, float *dw, float *dx, int N,
                        int Ci, int H, int W, int Co, int k, int s, int acc);
    int (*bn_fold_pays)(void *ctx);
    /* optional (NULL: a training plan keeps the values its backward reads as they are): those values kept
     * in bf16 between the forward and the backward (lib/nn/graph.c halved), as PyTorch's autocast keeps
     * them: to_bf16 rounds x [n] to nearest even into y [n] (bf16 bit patterns; denormals to a signed
     * zero), from_bf16 widens x [n] back into y [n] exactly; elementwise, any layout. keep_bf16(ctx):
     * whether a training plan does so at the backend's present settings. */
    int (*keep_bf16)(void *ctx);
    void (*to_bf16)(void *ctx, const float *x, uint16_t *y, size_t n);
    void (*from_bf16)(void *ctx, const uint16_t *x, float *y, size_t n);
    /* optional (NULL: the graph makes every normalised output): a training forward's convolution of
     * x = [relu](bn(xb)) as the last bn_fwd_train (relu: bn_relu_fwd_train) on xb made its statistics (mean,
     * invstd, as conv_bwd_bn takes them), x never made: conv_fwd's bits on x. The graph takes it in a
     * channels-last plan (set_nhwc) for the outputs it does not keep (unkept), calling bn_fwd_train
     * (bn_relu_fwd_train) with y NULL: the statistics only. */
    void (*conv_bn_fwd_train)(void *ctx, const float *xb, const float *gamma, const float *beta, const float *mean,
                              const float *invstd, int relu, const float *w, const float *b, float *y, int N, int Ci,
                              int H, int W, int Co, int k, int s);

    /* activations, elementwise over n: relu, leaky relu (slope alpha), sigmoid. y may alias x.
     * bwd takes the forward OUTPUT y (enough for all three: relu/leaky by sign, sigmoid y(1-y)). */
    void (*act_fwd)(void *ctx, int act, const float *x, float *y, size_t n, float alpha);
    void (*act_bwd)(void *ctx, int act, const float *y, const float *dy, float *dx, size_t n,
                    float alpha, int acc);

    /* y = a + b (y may alias a or b); y = a * b elementwise (acc: y += a*b) */
    void (*add)(void *ctx, const float *a, const float *b, float *y, size_t n);
    void (*mul)(void *ctx, const float *a, const float *b, float *y, size_t n, int acc);
    /* y += alpha * x */
    void (*axpy)(void *ctx, float alpha, const float *x, float *y, size_t n);

    /* channel concat: a [N,Ca,HW], b [N,Cb,HW] -> y [N,Ca+Cb,HW]; split is its backward:
     * dy [N,Ca+Cb,HW] -> da, db (each = or += by acc; either may be NULL to skip) */
    void (*concat)(void *ctx, const float *a, const float *b, float *y, int N, int Ca, int Cb, int HW);
    void (*split)(void *ctx, const float *dy, float *da, float *db, int N, int Ca, int Cb, int HW,
                  int acc);

    /* nearest 2x upsampling: x [N,C,H,W] -> y [N,C,2H,2W]; bwd sums each 2x2 block into dx */
    void (*up2_fwd)(void *ctx, const float *x, float *y, int N, int C, int H, int W);
    void (*up2_bwd)(void *ctx, const float *dy, float *dx, int N, int C, int H, int W, int acc);

    /* 2x2 max pooling, stride 2: x [N,C,H,W] (H, W even) -> y [N,C,H/2,W/2]. bwd routes each dy to the
     * first maximum of its window in x (row-major order, as PyTorch), 0 to the others; dx = or += by acc */
    void (*pool2_fwd)(void *ctx, const float *x, float *y, int N, int C, int H, int W);
    void (*pool2_bwd)(void *ctx, const float *x, const float *dy, float *dx, int N, int C, int H, int W, int acc);
    /* channel-broadcast product: y[n,c,:] = x[n,c,:] * a[n,:], x [N,C,HW], a [N,1,HW].
     * bwd: dx = dy * a (= or += by acc_x), da = sum over c of dy * x (= or += by acc_a) */
    void (*cmul_fwd)(void *ctx, const float *x, const float *a, float *y, int N, int C, int HW);
    void (*cmul_bwd)(void *ctx, const float *x, const float *a, const float *dy, float *dx, float *da,
                     int N, int C, int HW, int acc_x, int acc_a);

    /* squeeze-and-excitation: pool[N,C] = mean over HW of x; hid[N,Cr] = relu(pool wa^T);
     * gate[N,C] = sigmoid(hid wb^T); y = x * gate (channel-wise). wa [Cr,C], wb [C,Cr], no bias.
     * fwd saves pool, hid, gate for bwd. bwd: dx (= or += by acc), dwa +=, dwb +=. */
    void (*se_fwd)(void *ctx, const float *x, const float *wa, const float *wb, float *y,
                   float *pool, float *hid, float *gate, int N, int C, int HW, int Cr);
    void (*se_bwd)(void *ctx, const float *x, const float *dy, const float *wa, const float *wb,
                   const float *pool, const float *hid, const float *gate,
                   float *dx, float *dwa, float *dwb, int N, int C, int HW, int Cr, int acc);

    /* inverted dropout with rate p: x, y, mask [N,C,HW]; element (n, c, hw) kept when
     * fn_dropout_u(seed, (n*C + c)*HW + hw) >= p (its NCHW index in both layouts: channels-last, it sits at
     * (n*HW + hw)*C + c), scaled by 1/(1-p); mask receives 0 or 1/(1-p) in the activation's layout.
     * bwd (elementwise, any layout, n = N*C*HW): dx = dy * mask (= or += by acc). */
    void (*dropout_fwd)(void *ctx, const float *x, float *y, float *mask, int N, int C, int HW, float p,
                        uint64_t seed);
    void (*dropout_bwd)(void *ctx, const float *dy, const float *mask, float *dx, size_t n, int acc);

    /* soft Dice loss per image, averaged: loss = 1 - mean_n (2 sum(p t) + smooth)/(sum p + sum t + smooth).
     * p, t [N,HW]; returns the loss to the host; dp (may be NULL) receives d loss / d p (=). */
    float (*dice_loss)(void *ctx, const float *p, const float *t, float *dp, int N, int HW,
                       float smooth);

    /* sum of squares of x (host result), for L2 penalties and gradient norms */
    double (*sumsq)(void *ctx, const float *x, size_t n);

    /* Adam, bias-corrected, step t >= 1 (TF/PyTorch form):
     *   g' = g + 2*l2*w;  m = b1 m + (1-b1) g';  v = b2 v + (1-b2) g'^2;
     *   w -= lr * (m / (1-b1^t)) / (sqrt(v / (1-b2^t)) + eps)
     * l2 is the penalty weight lambda of lambda*sum(w^2) (0 for none). g is left unchanged. */
    void (*adam)(void *ctx, float *w, const float *g, float *m, float *v, size_t n, float lr,
                 float b1, float b2, float eps, float l2, long t);
    /* optional (NULL: one adam call per segment): the same update over w, g, m, v [n] in one pass, the
     * elements split into nseg segments: segment j starts at off[j] (off[0] = 0, increasing, all < n) and
     * takes the penalty l2[j]. Bitwise what adam gives segment by segment. off and l2 are host memory. */
    void (*adam_segs)(void *ctx, float *w, const float *g, float *m, float *v, size_t n, const size_t *off,
                      const float *l2, int nseg, float lr, float b1, float b2, float eps, long t);

    /* optional, for data-parallel training (lib/train/dist.c). set_bn_sync: s (copied) or NULL (off);
     * NULL: no sync-BN on this backend. The collectives are NULL where device memory is host memory
     * (the CPU): MPI sums it there. comm_id: a new communicator id[FN_COMM_ID_BYTES] (rank 0 makes it
     * and sends it to the others); comm_init: join it as `rank` of `nranks`; allreduce: sum buf[n] over
     * the ranks, in place (n floats, or doubles when dbl). 0 or -1 (e set). */
    void (*set_bn_sync)(void *ctx, const fn_bn_sync *s);
    int (*comm_id)(void *ctx, unsigned char *id, fn_err *e);
    int (*comm_init)(void *ctx, const unsigned char *id, int nranks, int rank, fn_err *e);
    int (*allreduce)(void *ctx, void *buf, size_t n, int dbl, fn_err *e);
};

/* the dropout hash: a uniform in [0,1) from (seed, i), identical on every backend */
static inline FN_HOSTDEV float fn_dropout_u(uint64_t seed, uint64_t i) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (i + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f);
}

/* the CPU backend (lib/cpu/); threads <= 0: OpenMP's default */
fn_backend *fn_cpu_backend_new(int threads, fn_err *e);

/* Open a backend by name: "cpu", "cuda", "cuda:N", "auto" (cuda when libfn-cuda.so loads and finds a
 * device, else cpu). For "auto", *note (may be NULL) receives a line saying which was chosen and why
 * (e.g. "no GPU (libfn-cuda.so: not found); using the CPU"). "cuda" without a usable GPU fails. */
fn_backend *fn_backend_open(const char *device, int threads, char *note, size_t note_len, fn_err *e);
void fn_backend_close(fn_backend *be);
/* be->set_precision(precision), or for a backend without one: 0 for fp32, else -1 with e set */
int fn_backend_set_precision(fn_backend *be, int precision, fn_err *e);

/* the one symbol libfn-cuda.so exports */
typedef fn_backend *(*fn_cuda_backend_new_fn)(int device_index, fn_err *e);
#define FN_CUDA_ENTRY "fn_cuda_backend_new"

#endif
