/* Layer lib/nn: the networks and the net's API; uses backend/ and the folders below it (never cpu/).
 * The layers, each using only those before it: base < data < imgproc, eval < backend < cpu, nn, cuda/
 *   < train < mpi/ < cmd/ (folders of one rank never include each other; README "Layout", tests/layout.py). */
/* net.h: the net's API (net.c), the same for every architecture of fn_net_config.arch: FocusNet
 * (shared/design/focusnet.md; focusnet.c describes it) and the comparison networks of fn-train --arch
 * (U-Net, Res-U-Net, RU-Net, R2U-Net, Attention U-Net; man fn-train; unet.c, r2unet.c, attunet.c), each
 * written once against backend/backend.h. What follows says FocusNet; it holds for each.
 *
 * A net owns:
 *  - its parameters in ONE device allocation, tensors named and ordered exactly as focusnet-params.txt
 *    (conv OIHW, dense [out,in]); the gradients in a second allocation of the same layout, and the Adam
 *    moments m, v in two more (both allocated on first use, so inference pays nothing for them);
 *  - the batch-norm running statistics in their own allocation, tensors "<bn>.running_mean" and
 *    "<bn>.running_var", BN by BN in canonical order;
 *  - the activations of one batch shape in one planned arena (fn_net_reserve): in inference mode a buffer
 *    lives only until its last reader, so nothing is kept for a backward pass.
 *
 * The gradient rule is lib/backend/backend.h's. fn_net_backward leaves in the gradient allocation exactly
 * d(dice loss)/d(parameters) of the last training forward (it zeroes them first); the L2 penalty is
 * not part of those gradients: fn_net_adam_step adds it (use_l2), fn_net_l2_penalty reports its value.
 *
 * Inputs are host float arrays [N,cin,H,W]; H and W must be multiples of 16. The output is the sigmoid
 * probability [N,1,H,W]. A net is not thread safe; one net per backend at a time. */
#ifndef FN_NN_NET_H
#define FN_NN_NET_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "backend/backend.h"
#include "base/err.h"

/* the architectures (arch.c; the U-Nets' definitions in man fn-train and unet.c, r2unet.c, attunet.c) */
typedef enum {
    FN_ARCH_FOCUSNET = 0, FN_ARCH_UNET, FN_ARCH_RESUNET, FN_ARCH_RUNET, FN_ARCH_R2UNET, FN_ARCH_ATTUNET,
    FN_ARCH_COUNT
} fn_arch;
const char *fn_arch_name(int arch);  /* "focusnet", "unet", ...; NULL when out of range */
int fn_arch_parse(const char *name); /* the arch, or -1 for an unknown name */

typedef struct fn_net_config {
    int cin;     /* input channels, >= 1 */
    float width; /* 1.0 = the paper. Scales every channel count (rounded, at least 1), c0 = 32*width;
                    SE keeps C/16 >= 1. The output conv always has one filter. */
    int arch;    /* fn_arch (0: FocusNet) */
} fn_net_config;

/* defaults of focusnet.md */
#define FN_NET_DROPOUT 0.2f     /* after A6, training only */
#define FN_BN_MOMENTUM 0.01f    /* Keras 0.99 */
#define FN_BN_EPS 1e-3f
#define FN_DICE_SMOOTH 1.0f

typedef enum {
    FN_P_CONV_W = 0, /* [Co,Ci,k,k] */
    FN_P_CONV_B,     /* [Co] */
    FN_P_BN_GAMMA,   /* [C] "<bn>.weight" */
    FN_P_BN_BETA,    /* [C] "<bn>.bias" */
    FN_P_DENSE,      /* [out,in] SE weights, no bias */
    FN_P_RUN_MEAN,   /* [C] "<bn>.running_mean" (statistics table only) */
    FN_P_RUN_VAR     /* [C] "<bn>.running_var"  (statistics table only) */
} fn_param_kind;

typedef struct fn_param_info {
    char name[40];  /* canonical name, e.g. "m5.c1.weight" */
    int ndim;       /* 1, 2 or 4 */
    int shape[4];
    size_t numel;
    size_t offset;  /* in floats, into the parameter allocation (or the statistics one) */
    fn_param_kind kind;
    float l2;       /* lambda of lambda*sum(w^2): 1e-4 unit 3x3 convs, 1x1 shortcuts, 7x7 stem;
                       5e-4 the attention stem conv; 0 elsewhere */
    int fan_in;     /* for weights: numel / shape[0]; 0 otherwise */
} fn_param_info;

typedef struct fn_net fn_net;

/* Build the graph and allocate (zeroed) parameters and running statistics on `be` (borrowed: it must
 * outlive the net). Parameters start at zero: call an init or load them. NULL and e set on a bad config
 * or out of memory. */
fn_net *fn_net_new(fn_backend *be, const fn_net_config *cfg, fn_err *e);
/* the parameter and statistics value counts of the net cfg describes, without allocating it (a file's
 * size is checked against them before a net of the size it claims is made); 0 or -1 (e set) */
int fn_net_config_numel(const fn_net_config *cfg, size_t *params, size_t *stats, fn_err *e);
void fn_net_free(fn_net *net);
const fn_net_config *fn_net_cfg(const fn_net *net);
fn_backend *fn_net_backend(const fn_net *net);

/* the parameter table (canonical order) and the statistics table */
int fn_net_nparams(const fn_net *net);               /* FocusNet: 233 at any width (fewer if a shortcut becomes identity) */
const fn_param_info *fn_net_param(const fn_net *net, int i);
size_t fn_net_numel(const fn_net *net);              /* all parameter values: FocusNet 18,933,497 for cin=3 */
int fn_net_nstats(const fn_net *net);                /* 2 per batch norm */
const fn_param_info *fn_net_stat(const fn_net *net, int i);
size_t fn_net_stats_numel(const fn_net *net);
int fn_net_find_param(const fn_net *net, const char *name); /* index or -1 */
int fn_net_find_stat(const fn_net *net, const char *name);  /* index or -1 */

/* He-normal (truncated at 2 std, std sqrt(2/fan_in)) for weights from a deterministic host RNG,
 * biases 0, gamma 1, beta 0, running mean 0, running variance 1. Same seed: same values. */
int fn_net_init_he(fn_net *net, uint64_t seed, fn_err *e);
/* golden.md's formula for every tensor, running mean 0, variance 1 */
int fn_net_init_golden(fn_net *net, fn_err *e);
/* golden.md's u(name, i) in [-1, 1) (exposed for the golden check and tests) */
double fn_golden_u(const char *name, uint64_t i);

/* dropout rate after A6 in training forwards (default FN_NET_DROPOUT; 0 disables) */
void fn_net_set_dropout(fn_net *net, float p);
float fn_net_dropout(const fn_net *net);
/* the batch-norm running statistics' update in training forwards: running = (1-m) running + m batch
 * (default FN_BN_MOMENTUM; 1 replaces them by the batch's) */
void fn_net_set_bn_momentum(fn_net *net, float m);

/* Plan and allocate activation buffers for batch N at HxW: train = 1 keeps what the backward needs and
 * the activation gradients; train = 0 (inference) reuses memory aggressively. A later call with the same
 * or a smaller need reuses the arena. forward/backward call it themselves when needed; calling it first
 * only moves the allocation (and its failure) earlier. H, W multiples of 16. */
int fn_net_reserve(fn_net *net, int N, int H, int W, int train, fn_err *e);
/* bytes of device memory the net holds now (parameters, statistics, gradients, moments, arena) */
size_t fn_net_device_bytes(const fn_net *net);

/* Forward pass. x [N,cin,H,W] host. train = 1: batch statistics (updating the running statistics),
 * dropout with dropout_seed, keeps what fn_net_backward needs. train = 0: running statistics, no
 * dropout. out (may be NULL) receives the probabilities [N,1,H,W]. 0 or -1 (e set). */
int fn_net_forward(fn_net *net, const float *x, int N, int H, int W, int train, uint64_t dropout_seed,
                   float *out, fn_err *e);
/* After a train=1 forward: the Dice loss against target [N,1,H,W] host (0/1 or soft), *loss = the plain
 * Dice loss (without the L2 penalty), and the parameter gradients of that loss (overwritten). */
int fn_net_backward(fn_net *net, const float *target, float *loss, fn_err *e);
/* sum over tensors of l2 * sum(w^2): add to the Dice loss for the penalised training loss */
double fn_net_l2_penalty(fn_net *net);
/* One Adam step over all parameters with the current gradients (step count += 1, moments kept inside
 * the net; bias-corrected as in lib/backend/backend.h). use_l2: add each tensor's penalty gradient 2*l2*w. */
int fn_net_adam_step(fn_net *net, float lr, float b1, float b2, float eps, int use_l2, fn_err *e);
long fn_net_step(const fn_net *net);       /* Adam steps taken */
void fn_net_set_step(fn_net *net, long t); /* for resuming */

/* Profiling (for benchmarks): when on, every op is timed (with a backend sync around it); the totals
 * per op type and direction accumulate until reset. fn_net_profile fills up to max entries and
 * returns the count. */
typedef struct fn_net_prof { char what[24]; double seconds, gflop; long calls; } fn_net_prof;
void fn_net_set_profile(fn_net *net, int on);
int fn_net_profile(const fn_net *net, fn_net_prof *out, int max);
void fn_net_profile_reset(fn_net *net);
/* the totals as a table on f, per run of `runs`: op, seconds, share, calls, GFLOP/s where counted */
void fn_net_profile_print(const fn_net *net, FILE *f, int runs);

/* Host copies of whole allocations, for checkpoints. Sizes: fn_net_numel floats for PARAMS, GRADS,
 * ADAM_M, ADAM_V; fn_net_stats_numel for STATS. Offsets as in the tables. set on GRADS/ADAM_* allocates
 * them when needed; get on an unallocated one gives zeros. */
typedef enum { FN_BUF_PARAMS = 0, FN_BUF_GRADS, FN_BUF_ADAM_M, FN_BUF_ADAM_V, FN_BUF_STATS } fn_net_buf;
int fn_net_get(fn_net *net, fn_net_buf which, float *host, fn_err *e);
int fn_net_set(fn_net *net, fn_net_buf which, const float *host, fn_err *e);
/* the device allocation itself (NULL while not allocated), for reductions across replicas */
float *fn_net_device(fn_net *net, fn_net_buf which);

/* Data-parallel training: this net is one replica and its training forwards get frames
 * offset..offset+N-1 of a batch split over replicas. Dropout then draws the masks those frames have in
 * the whole batch, and fn_net_backward gives the gradients of loss_scale times the Dice loss (the
 * replica's frames over the batch's: the replicas' gradients then sum to the whole batch's). Scale 0:
 * the frames are a stand-in for a replica without any (zero gradients). One process: offset 0, scale 1
 * (the default). */
void fn_net_set_replica(fn_net *net, long offset, float loss_scale);

#endif
