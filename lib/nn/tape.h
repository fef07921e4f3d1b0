/* tape.h (internal to lib/nn/): the net as a tape of ops over planned tensors.
 *
 * Each network is described once (focusnet.c, unet.c, r2unet.c, attunet.c: builder calls of build.h in
 * forward order, which also register the parameters in canonical order); graph.c runs the tape forward and backward through the backend, one
 * paired op_fwd/op_bwd per op type, and plans the activation arena from the tensors' lifetimes. */
#ifndef FN_NN_TAPE_H
#define FN_NN_TAPE_H

#include "nn/capture.h"
#include "nn/net.h"

/* a tensor of the tape: [N, C, H >> lvl, W >> lvl] */
typedef struct fn_tdesc {
    int C, lvl;
    int alias;      /* value storage of this tensor (in-place op), or -1 */
    int nograd;     /* no gradient is needed (the input, the dropout mask) */
    int train_only; /* exists only in training (the dropout mask) */
    int producer;   /* op index */
    int recomp;     /* a training plan's copy made again in backward (graph.c recomputed): the backward of
                       op recomp - 1, its last reader whose backward reads it, makes it first (0: kept) */
    int unkept;     /* a training plan's normalised output that the backward makes from the norm's input
                       (graph.c unkept: conv_bwd_bn, bn_relu_bwd), never kept for it: 1, and never made
                       in a channels-last forward either; 2, made in the forward (an addition reads it) */
    int galias;     /* a training plan's gradient storage: that of tensor galias (graph.c grad_alias), or -1 */
    int half;       /* a training plan keeps its value for the backward in bf16 (graph.c halved): rounded into
                       h after forward op hafter, widened again into rv by the backward of op recomp - 1 */
    int hafter;
    char what[32];  /* for messages: "m5.out" */
    /* planned */
    float *v, *g;
    float *rv;      /* recomp: the backward's copy (v points to it from the remaking to the backward's end) */
    uint16_t *h;    /* half: the value in bf16 between the forward and the backward */
} fn_tdesc;

typedef enum {
    OP_INPUT = 0, OP_CONV, OP_BN, OP_ACT, OP_ADD, OP_MUL, OP_CONCAT, OP_UP2, OP_SE, OP_DROPOUT, OP_POOL2,
    OP_CMUL
} fn_op_type;

typedef struct fn_op {
    fn_op_type type;
    int x, x2, y;   /* tensors (x2 -1 when unused) */
    int p0, p1;     /* params: conv w, b (-1: none); bn gamma, beta; se wa, wb */
    int k, s;       /* conv kernel, stride */
    int act;        /* enum fn_act */
    float alpha;    /* leaky slope */
    int bn;         /* batch-norm index: statistics 2*bn (mean), 2*bn+1 (var) */
    int Cr;         /* se hidden width */
    int mask;       /* dropout mask tensor */
    size_t aux;     /* offset (floats) into the aux allocation: bn mean, invstd; se pool, hid, gate */
    int fuse;       /* conv, in an inference plan: the ops after it that its conv_bn_fwd_infer call runs (0: none) */
    int chain;      /* and then, when the convolution after those ops runs in the same call, as the second
                       of conv_bn_conv_fwd_infer: the ops it takes on, 1 (that convolution), or 2 or 3 (and
                       its batch norm, and ReLU) (0: not) */
    int unit;       /* and then, when the residual unit's sum runs in the same call too (unit_fwd_infer): 2
                       with the shortcut convolution before it, 1 with the identity (0: not) */
    int taken;      /* in an inference plan: 1 when the residual unit after it takes it into its call
                       (unit_fwd_infer): the concatenation of its input, or the batch norm and ReLU that
                       its first convolution's input goes through; or the convolution after it (catin); 0 not */
    int upc;        /* up2, in an inference plan: 1 when the convolution right after it, its only reader,
                       runs in its call (up_conv_fwd_infer), 0 not */
    int badd;       /* conv, in an inference plan, fused with its batch norm (and ReLU): 1 when the add right
                       after those runs in its call too (conv_bn_add_fwd_infer), the normalised output never
                       stored (0: not) */
    int catin;      /* conv, in an inference plan, fused with its batch norm (and ReLU): 1 when the
                       concatenation right before it, its input, runs in its call (cat_conv_bn_fwd_infer; the
                       concatenation's op is then taken) (0: not) */
    int resid;      /* conv, in an inference plan: 1 when the add right after it runs in its call
                       (conv_add_fwd_infer), its own output never stored (0: not) */
    int rbwd;       /* batch norm, in a training plan: 1 when its backward takes the in-place ReLU's after it
                       (bn_relu_bwd; graph.c relu_bwd_fused), 0 not */
} fn_op;

struct fn_net {
    fn_backend *be;
    fn_net_config cfg;
    float dropout;
    float bn_momentum; /* fn_net_set_bn_momentum */
    float bn_eps;      /* the architecture's (arch.c) */
    float drop_used; /* the rate of the last training forward */
    long rep_offset;   /* fn_net_set_replica: this replica's first frame in the whole batch */
    float rep_scale;   /* and the weight of its Dice loss (1: no replicas) */

    fn_param_info *P, *S;
    int np, capp, ns, caps;
    size_t numel, snumel;
    float *params, *grads, *adam_m, *adam_v, *stats; /* device */
    uint64_t params_version; /* a new one whenever they may have been written: params_frozen in backend.h */
    long step;
    size_t *seg_off; /* [np] fn_net_adam_step's segments for adam_segs (NULL until a step needs them) */
    float *seg_l2;   /* [np] and their penalties */

    fn_tdesc *T;
    int nt, capt;
    fn_op *O;
    int no, capo;
    int in, out;  /* input [N,cin,H,W] and probability [N,1,H,W] tensors */
    int nbn;
    int fail;     /* a builder step ran out of memory */

    /* the plan */
    int pN, pH, pW, ptrain;
    int presid; /* the plan takes residual sums into convolutions (fn_graph_resid_pays when it was made) */
    int pnhwc;  /* a plan whose ops take and give channels-last activations and gradients (backend.h set_nhwc;
                   the backend's nhwc_pays(ptrain) when it was made): the input is uploaded in NCHW to aux at
                   in_off and laid out in its tensor as the forward starts */
    size_t in_off;
    int plain_bwd;   /* a training plan keeps every value its backward reads and fuses no backward ops
                        (graph.c recomputed, unkept, relu_bwd_fused, grad_alias: for the tests, which
                        compare) */
    int pfold;  /* the backend's bn_fold_pays when the plan was made (1: no such query) */
    int half_exact;  /* a training plan keeps the values halved() picks in full, by copies, where it would
                        round them to bf16: the same bits as keeping them (for the tests, which compare) */
    float *arena, *aux;
    size_t arena_cap, aux_cap; /* floats allocated */
    size_t arena_used, aux_used;
    size_t target_off;         /* in aux: the target [N,1,H,W] */
    int fwd_train_ok;          /* the arena holds a training forward for backward */
    fn_capture cap;            /* inference forwards recorded and replayed (capture.h) */
    uint64_t plan_gen;         /* counts the plans made (fn_graph_plan): part of the capture key */
    unsigned char *gw;         /* per tensor: gradient written in this backward */

    /* profiling: [op type][0 forward, 1 backward] */
    int prof_on;
    double prof_s[16][2], prof_flop[16][2];
    long prof_n[16][2];
};

/* graph.c */
int fn_graph_plan(fn_net *net, int N, int H, int W, int train, fn_err *e);
void fn_graph_forward(fn_net *net, int train, uint64_t seed);
void fn_graph_backward(fn_net *net);
size_t fn_graph_tsize(const fn_net *net, int t);
int fn_graph_resid_pays(const fn_net *net); /* an inference plan would take residual sums (backend.h resid_pays) */
int fn_graph_fold_pays(const fn_net *net);  /* the backend's bn_fold_pays (1 when it has no such query) */
int fn_graph_nhwc_pays(const fn_net *net, int train); /* a plan would be channels last (backend.h nhwc_pays) */
float *fn_graph_input(const fn_net *net);    /* where the input [N,C,H,W] is uploaded */

#endif
