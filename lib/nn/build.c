/* build.c: the builder steps of build.h, shared by every network description. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nn/build.h"

/* ---------------------------------------------------------------------------------------------- */
/* tables */

static void *grow(void *p, int *cap, int need, size_t sz) {
    if (need <= *cap) return p;
    int c = *cap ? *cap * 2 : 64;
    while (c < need) c *= 2;
    void *q = realloc(p, (size_t)c * sz);
    if (q) *cap = c;
    return q;
}

static int add_info(fn_net *n, fn_param_info **tab, int *cnt, int *cap, size_t *total,
                    const char *name, fn_param_kind kind, int ndim, const int *shape, float l2) {
    fn_param_info *t = grow(*tab, cap, *cnt + 1, sizeof **tab);
    if (!t) { n->fail = 1; return -1; }
    *tab = t;
    fn_param_info *p = &t[*cnt];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    p->numel = 1;
    for (int d = 0; d < ndim; d++) { p->shape[d] = shape[d]; p->numel *= (size_t)shape[d]; }
    p->offset = *total;
    p->kind = kind;
    p->l2 = l2;
    p->fan_in = (kind == FN_P_CONV_W || kind == FN_P_DENSE) ? (int)(p->numel / (size_t)shape[0]) : 0;
    *total += p->numel;
    return (*cnt)++;
}

int nn_param(fn_net *n, const char *name, fn_param_kind kind, int ndim, const int *shape, float l2) {
    return add_info(n, &n->P, &n->np, &n->capp, &n->numel, name, kind, ndim, shape, l2);
}

int nn_tensor(fn_net *n, int C, int lvl, const char *what) {
    fn_tdesc *t = grow(n->T, &n->capt, n->nt + 1, sizeof *n->T);
    if (!t) { n->fail = 1; return 0; }
    n->T = t;
    fn_tdesc *d = &t[n->nt];
    memset(d, 0, sizeof *d);
    d->C = C;
    d->lvl = lvl;
    d->alias = -1;
    d->producer = n->no;
    snprintf(d->what, sizeof d->what, "%s", what);
    return n->nt++;
}

fn_op *nn_op(fn_net *n, fn_op_type type) {
    fn_op *o = grow(n->O, &n->capo, n->no + 1, sizeof *n->O);
    if (!o) { n->fail = 1; return NULL; }
    n->O = o;
    fn_op *p = &o[n->no];
    memset(p, 0, sizeof *p);
    p->type = type;
    p->x = p->x2 = p->y = p->p0 = p->p1 = p->mask = -1;
    return p;
}

int nn_ch(const fn_net *n, int c) {
    long v = lround((double)c * n->cfg.width);
    return v < 1 ? 1 : (int)v;
}

/* ---------------------------------------------------------------------------------------------- */
/* parameters */

nn_convp nn_conv_params(fn_net *n, const char *name, int Ci, int Co, int k, int bias, float l2) {
    char nm[40];
    nn_convp c = { -1, -1, k, Ci, Co };
    snprintf(nm, sizeof nm, "%s.weight", name);
    c.w = nn_param(n, nm, FN_P_CONV_W, 4, (int[]){ Co, Ci, k, k }, l2);
    if (bias) {
        snprintf(nm, sizeof nm, "%s.bias", name);
        c.b = nn_param(n, nm, FN_P_CONV_B, 1, (int[]){ Co }, 0);
    }
    return c;
}

nn_bnp nn_bn_params(fn_net *n, const char *name, int C) {
    char nm[40];
    nn_bnp b;
    snprintf(nm, sizeof nm, "%s.weight", name);
    b.g = nn_param(n, nm, FN_P_BN_GAMMA, 1, (int[]){ C }, 0);
    snprintf(nm, sizeof nm, "%s.bias", name);
    b.bt = nn_param(n, nm, FN_P_BN_BETA, 1, (int[]){ C }, 0);
    snprintf(nm, sizeof nm, "%s.running_mean", name);
    add_info(n, &n->S, &n->ns, &n->caps, &n->snumel, nm, FN_P_RUN_MEAN, 1, (int[]){ C }, 0);
    snprintf(nm, sizeof nm, "%s.running_var", name);
    add_info(n, &n->S, &n->ns, &n->caps, &n->snumel, nm, FN_P_RUN_VAR, 1, (int[]){ C }, 0);
    b.idx = n->nbn++;
    return b;
}

/* ---------------------------------------------------------------------------------------------- */
/* ops */

int nn_input(fn_net *n, int cin) {
    fn_op *o = nn_op(n, OP_INPUT);
    if (!o) return 0;
    n->in = nn_tensor(n, cin, 0, "input");                              /* x [N,cin,H,W] */
    n->T[n->in].nograd = 1;
    o->y = n->in;
    n->no++;
    return n->in;
}

/* conv: x [N,Ci,h,w] -> [N,Co,ceil(h/s),ceil(w/s)] */
int nn_conv(fn_net *n, nn_convp c, int x, int s, const char *what) {
    int y = nn_tensor(n, c.Co, n->T[x].lvl + (s == 2), what);
    fn_op *o = nn_op(n, OP_CONV);
    if (!o) return 0;
    o->x = x; o->y = y; o->p0 = c.w; o->p1 = c.b; o->k = c.k; o->s = s;
    n->no++;
    return y;
}

/* batch norm: x [N,C,h,w] -> [N,C,h,w]; the same nn_bnp may be applied more than once (shared weights
 * and running statistics, as a PyTorch module called twice) */
int nn_bn(fn_net *n, nn_bnp b, int x, const char *what) {
    int y = nn_tensor(n, n->T[x].C, n->T[x].lvl, what);
    fn_op *o = nn_op(n, OP_BN);
    if (!o) return 0;
    o->x = x; o->y = y; o->p0 = b.g; o->p1 = b.bt; o->bn = b.idx;
    n->no++;
    return y;
}

/* activation in place: x [N,C,h,w] -> the same storage, a new tensor for the gradient. x must have no
 * later reader in the forward pass. */
static int act(fn_net *n, int act, float alpha, int x, const char *what, int inplace) {
    int y = nn_tensor(n, n->T[x].C, n->T[x].lvl, what);
    fn_op *o = nn_op(n, OP_ACT);
    if (!o) return 0;
    if (inplace) n->T[y].alias = n->T[x].alias >= 0 ? n->T[x].alias : x;
    o->x = x; o->y = y; o->act = act; o->alpha = alpha;
    n->no++;
    return y;
}

int nn_act(fn_net *n, int a, float alpha, int x, const char *what) { return act(n, a, alpha, x, what, 1); }
int nn_act_new(fn_net *n, int a, float alpha, int x, const char *what) { return act(n, a, alpha, x, what, 0); }

/* a + b, a * b: [N,C,h,w] each */
int nn_bin(fn_net *n, fn_op_type t, int a, int b, const char *what) {
    int y = nn_tensor(n, n->T[a].C, n->T[a].lvl, what);
    fn_op *o = nn_op(n, t);
    if (!o) return 0;
    o->x = a; o->x2 = b; o->y = y;
    n->no++;
    return y;
}

/* concat [skip, up]: [N,Ca,h,w] + [N,Cb,h,w] -> [N,Ca+Cb,h,w] */
int nn_concat(fn_net *n, int a, int b, const char *what) {
    int y = nn_tensor(n, n->T[a].C + n->T[b].C, n->T[a].lvl, what);
    fn_op *o = nn_op(n, OP_CONCAT);
    if (!o) return 0;
    o->x = a; o->x2 = b; o->y = y;
    n->no++;
    return y;
}

/* nearest 2x: [N,C,h,w] -> [N,C,2h,2w] */
int nn_up2(fn_net *n, int x, const char *what) {
    int y = nn_tensor(n, n->T[x].C, n->T[x].lvl - 1, what);
    fn_op *o = nn_op(n, OP_UP2);
    if (!o) return 0;
    o->x = x; o->y = y;
    n->no++;
    return y;
}

/* 2x2 max pooling, stride 2: [N,C,h,w] -> [N,C,h/2,w/2] */
int nn_pool2(fn_net *n, int x, const char *what) {
    int y = nn_tensor(n, n->T[x].C, n->T[x].lvl + 1, what);
    fn_op *o = nn_op(n, OP_POOL2);
    if (!o) return 0;
    o->x = x; o->y = y;
    n->no++;
    return y;
}

/* channel-broadcast product: x [N,C,h,w] * a [N,1,h,w] -> [N,C,h,w] */
int nn_cmul(fn_net *n, int x, int a, const char *what) {
    int y = nn_tensor(n, n->T[x].C, n->T[x].lvl, what);
    fn_op *o = nn_op(n, OP_CMUL);
    if (!o) return 0;
    o->x = x; o->x2 = a; o->y = y;
    n->no++;
    return y;
}

/* dropout: [N,C,h,w] -> [N,C,h,w], mask [N,C,h,w] kept for backward */
int nn_dropout(fn_net *n, int x, const char *what) {
    int y = nn_tensor(n, n->T[x].C, n->T[x].lvl, what);
    int m = nn_tensor(n, n->T[x].C, n->T[x].lvl, "dropout.mask");
    n->T[m].nograd = 1;
    n->T[m].train_only = 1;
    fn_op *o = nn_op(n, OP_DROPOUT);
    if (!o) return 0;
    o->x = x; o->y = y; o->mask = m;
    n->no++;
    return y;
}

/* ---------------------------------------------------------------------------------------------- */
/* composites */

int nn_conv_bn_relu(fn_net *n, const char *cname, const char *bname, int x, int Co, int k) {
    char w[40];
    nn_convp c = nn_conv_params(n, cname, n->T[x].C, Co, k, 1, 0);
    nn_bnp b = nn_bn_params(n, bname, Co);
    int h = nn_conv(n, c, x, 1, cname);                                  /* [N,Co,h,w] */
    h = nn_bn(n, b, h, bname);                                           /* [N,Co,h,w] */
    snprintf(w, sizeof w, "%s.relu", cname);
    return nn_act(n, FN_ACT_RELU, 0, h, w);                              /* [N,Co,h,w] */
}

int nn_out_sigmoid(fn_net *n, int x) {
    nn_convp oc = nn_conv_params(n, "out", n->T[x].C, 1, 1, 1, 0);
    int h = nn_conv(n, oc, x, 1, "out");                                 /* logits [N,1,H,W] */
    return nn_act(n, FN_ACT_SIGMOID, 0, h, "out.sigmoid");               /* p [N,1,H,W] */
}
