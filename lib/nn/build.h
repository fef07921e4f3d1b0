/* build.h (internal to lib/nn/): the builder steps every network description uses.
 *
 * A network's build function (focusnet.c, unet.c, r2unet.c, attunet.c) calls these in forward order:
 * the *_params steps register parameters in canonical order (the order PyTorch's named_parameters gives
 * for the reference definition), the op steps append an op to the tape and return its output tensor.
 * Tensors are [N, C, H >> lvl, W >> lvl]; a failed allocation sets net->fail and returns 0. */
#ifndef FN_NN_BUILD_H
#define FN_NN_BUILD_H

#include "nn/tape.h"

typedef struct { int w, b, k, Ci, Co; } nn_convp; /* conv weight, bias (-1: none) */
typedef struct { int g, bt, idx; } nn_bnp;        /* bn gamma, beta, batch-norm index */

/* tables */
int nn_param(fn_net *n, const char *name, fn_param_kind kind, int ndim, const int *shape, float l2);
int nn_tensor(fn_net *n, int C, int lvl, const char *what);
fn_op *nn_op(fn_net *n, fn_op_type type); /* a cleared op at O[no]; the caller fills it and bumps no */
int nn_ch(const fn_net *n, int c);        /* max(1, round(c * width)) */

/* parameters: "<name>.weight" [Co,Ci,k,k] (+ "<name>.bias" [Co]); bn "<name>.weight|bias" [C] and the
 * statistics "<name>.running_mean|running_var" */
nn_convp nn_conv_params(fn_net *n, const char *name, int Ci, int Co, int k, int bias, float l2);
nn_bnp nn_bn_params(fn_net *n, const char *name, int C);

/* ops */
int nn_input(fn_net *n, int cin);                               /* x [N,cin,H,W] */
int nn_conv(fn_net *n, nn_convp c, int x, int s, const char *what); /* [N,Ci,h,w] -> [N,Co,h/s,w/s] */
int nn_bn(fn_net *n, nn_bnp b, int x, const char *what);        /* [N,C,h,w] -> [N,C,h,w] */
int nn_act(fn_net *n, int act, float alpha, int x, const char *what); /* in place over x's storage */
int nn_act_new(fn_net *n, int act, float alpha, int x, const char *what); /* into a tensor of its own */
int nn_bin(fn_net *n, fn_op_type t, int a, int b, const char *what);  /* OP_ADD, OP_MUL: [N,C,h,w] each */
int nn_concat(fn_net *n, int a, int b, const char *what);       /* [N,Ca,h,w] + [N,Cb,h,w] -> [N,Ca+Cb,h,w] */
int nn_up2(fn_net *n, int x, const char *what);                 /* [N,C,h,w] -> [N,C,2h,2w] */
int nn_pool2(fn_net *n, int x, const char *what);               /* [N,C,h,w] -> [N,C,h/2,w/2] */
int nn_cmul(fn_net *n, int x, int a, const char *what);         /* [N,C,h,w] * [N,1,h,w] -> [N,C,h,w] */
int nn_dropout(fn_net *n, int x, const char *what);             /* [N,C,h,w], a mask kept for backward */

/* composites: conv (k, stride 1, bias) + bn + relu in place: [N,Ci,h,w] -> [N,Co,h,w]; parameters
 * "<name>.c", "<name>.bn" unless given as cname, bname */
int nn_conv_bn_relu(fn_net *n, const char *cname, const char *bname, int x, int Co, int k);
/* 1x1 conv + sigmoid: the output [N,1,H,W] of every U-Net (parameters "out") */
int nn_out_sigmoid(fn_net *n, int x);

/* the U shape of the comparison networks (ushape.c): five levels of `block` (64-128-256-512-1024
 * channels, scaled by width) joined by 2x2 max pooling; up the decoder, nearest 2x + 3x3 conv + BN +
 * ReLU, the skip (through `gate` when not NULL) concatenated before the up path, `block` again; out
 * 1x1 conv + sigmoid. block: [N,Ci,h,w] -> [N,F,h,w]; gate(g [N,F,h,w], x [N,F,h,w]) -> [N,F,h,w] with
 * Fint hidden channels. */
typedef int (*nn_block_fn)(fn_net *n, const char *name, int x, int F);
typedef int (*nn_gate_fn)(fn_net *n, const char *name, int g, int x, int Fint);
void nn_ushape(fn_net *n, nn_block_fn block, nn_gate_fn gate);

/* arch.c: build the graph of n->cfg.arch (sets n->bn_eps); -1 and e set for an unknown arch */
int fn_arch_build(fn_net *n, fn_err *e);

/* the networks' build functions (one file each) */
void fn_build_focusnet(fn_net *n);
void fn_build_unet(fn_net *n);    /* unet.c: unet, resunet */
int nn_unet_block(fn_net *n, const char *name, int x, int F); /* unet.c: two conv3x3 + BN + ReLU */
void fn_build_r2unet(fn_net *n);  /* r2unet.c: runet, r2unet */
void fn_build_attunet(fn_net *n); /* attunet.c */

#endif
