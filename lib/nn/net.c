/* focusnet.c: FocusNet (focusnet.md section 3) described once as a tape of ops (build.h's steps), and
 * the net's API, the same for every architecture (arch.c picks the description).
 *
 * Shapes in the comments are for width 1.0 and input [N,cin,H,W]; every channel count c reads
 * ch(c) = max(1, round(c * width)). The builder functions register parameters in the order PyTorch's
 * named_parameters gives for shared/reference/torch_focusnet.py, which is focusnet-params.txt's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nn/build.h"

/* ---------------------------------------------------------------------------------------------- */
/* FocusNet's own blocks (the shared builder steps are build.c's) */

/* SE(C): x [N,C,h,w] -> [N,C,h,w]; dense a [C/16,C], b [C,C/16], no bias */
static int se(fn_net *n, const char *name, int x) {
    char nm[40];
    int C = n->T[x].C, Cr = C / 16 < 1 ? 1 : C / 16;
    snprintf(nm, sizeof nm, "%s.a.weight", name);
    int a = nn_param(n, nm, FN_P_DENSE, 2, (int[]){ Cr, C }, 0);
    snprintf(nm, sizeof nm, "%s.b.weight", name);
    int b = nn_param(n, nm, FN_P_DENSE, 2, (int[]){ C, Cr }, 0);
    snprintf(nm, sizeof nm, "%s.out", name);
    int y = nn_tensor(n, C, n->T[x].lvl, nm);
    fn_op *o = nn_op(n, OP_SE);
    if (!o) return 0;
    o->x = x; o->y = y; o->p0 = a; o->p1 = b; o->Cr = Cr;
    n->no++;
    return y;
}

/* RU(F, down|plain), focusnet.md section 2:
 *   down:  y = proj1x1/s2(x) + c2(relu(bn2(c1/s2(relu(bn1(x))))))
 *   plain: y = [proj1x1(x) | x] + c2(relu(bn2(c1(x))))
 * x [N,Ci,h,w] -> y [N,F,h/s,w/s]. Parameters in the order bn1, c1, proj, bn2, c2. */
static int ru(fn_net *n, const char *name, int x, int F, int down) {
    char nm[40], w[40];
    int Ci = n->T[x].C, s = down ? 2 : 1;
    nn_bnp bn1 = { -1, -1, -1 };
    nn_convp pr = { -1, -1, 1, Ci, F };
    if (down) { snprintf(nm, sizeof nm, "%s.bn1", name); bn1 = nn_bn_params(n, nm, Ci); }
    snprintf(nm, sizeof nm, "%s.c1", name);
    nn_convp c1 = nn_conv_params(n, nm, Ci, F, 3, 1, 1e-4f);
    if (down || Ci != F) { snprintf(nm, sizeof nm, "%s.proj", name); pr = nn_conv_params(n, nm, Ci, F, 1, 1, 1e-4f); }
    snprintf(nm, sizeof nm, "%s.bn2", name);
    nn_bnp bn2 = nn_bn_params(n, nm, F);
    snprintf(nm, sizeof nm, "%s.c2", name);
    nn_convp c2 = nn_conv_params(n, nm, F, F, 3, 1, 1e-4f);

    int h = x;                                                           /* [N,Ci,h,w] */
    if (down) {
        snprintf(w, sizeof w, "%s.bn1", name); h = nn_bn(n, bn1, x, w);   /* [N,Ci,h,w] */
        snprintf(w, sizeof w, "%s.relu1", name); h = nn_act(n, FN_ACT_RELU, 0, h, w);
    }
    snprintf(w, sizeof w, "%s.c1", name); h = nn_conv(n, c1, h, s, w);     /* [N,F,h/s,w/s] */
    snprintf(w, sizeof w, "%s.bn2", name); h = nn_bn(n, bn2, h, w);        /* [N,F,h/s,w/s] */
    snprintf(w, sizeof w, "%s.relu2", name); h = nn_act(n, FN_ACT_RELU, 0, h, w);
    snprintf(w, sizeof w, "%s.c2", name); h = nn_conv(n, c2, h, 1, w);     /* [N,F,h/s,w/s] */
    int sc = x;                                                          /* identity [N,F,h,w] */
    if (pr.w >= 0) { snprintf(w, sizeof w, "%s.proj", name); sc = nn_conv(n, pr, x, s, w); } /* [N,F,h/s,w/s] */
    snprintf(w, sizeof w, "%s.out", name);
    return nn_bin(n, OP_ADD, sc, h, w);                                  /* [N,F,h/s,w/s] */
}

/* Up(F): x [N,C,h,w] -> relu(conv2x2(up2(x))) [N,F,2h,2w] */
static int up(fn_net *n, const char *name, int x, int F) {
    char nm[40];
    snprintf(nm, sizeof nm, "%s.conv", name);
    nn_convp c = nn_conv_params(n, nm, n->T[x].C, F, 2, 1, 0);
    snprintf(nm, sizeof nm, "%s.up", name);
    int u = nn_up2(n, x, nm);                                            /* [N,C,2h,2w] */
    snprintf(nm, sizeof nm, "%s.conv", name);
    int y = nn_conv(n, c, u, 1, nm);                                     /* [N,F,2h,2w] */
    snprintf(nm, sizeof nm, "%s.out", name);
    return nn_act(n, FN_ACT_RELU, 0, y, nm);
}

/* gate: s * sigmoid(d), the sigmoid in place over d (d's other reader, an upsampling, ran before) */
static int gate(fn_net *n, const char *name, int s, int d) {
    char nm[40];
    snprintf(nm, sizeof nm, "%s.sigmoid", name);
    int sg = nn_act(n, FN_ACT_SIGMOID, 0, d, nm);
    snprintf(nm, sizeof nm, "%s.gate", name);
    return nn_bin(n, OP_MUL, s, sg, nm);
}

void fn_build_focusnet(fn_net *n) {
    int cin = n->cfg.cin, c0 = nn_ch(n, 32);
    int x = nn_input(n, cin);                                            /* x  [N,cin,H,W] */

    /* attention branch */
    nn_convp a0c = nn_conv_params(n, "a0", cin, c0, 3, 0, 5e-4f);
    nn_bnp a0b = nn_bn_params(n, "a0bn", c0);
    int a0 = nn_conv(n, a0c, x, 1, "a0");                                /* [N,32,H,W] */
    a0 = nn_bn(n, a0b, a0, "a0bn");                                      /* [N,32,H,W] */
    a0 = nn_act(n, FN_ACT_LEAKY, 0.3f, a0, "a0.leaky");                  /* a0 [N,32,H,W] */
    int a1 = ru(n, "a1", a0, nn_ch(n, 32), 1);                              /* a1 [N,32,H/2,W/2] */
    int a2 = ru(n, "a2", a1, nn_ch(n, 64), 0);                              /* a2 [N,64,H/2,W/2] */
    int a3 = ru(n, "a3", a2, nn_ch(n, 64), 1);                              /* a3 [N,64,H/4,W/4] */
    int a4 = ru(n, "a4", a3, nn_ch(n, 128), 0);                             /* a4 [N,128,H/4,W/4] */
    int a5 = ru(n, "a5", a4, nn_ch(n, 128), 1);                             /* a5 [N,128,H/8,W/8] */
    int a6 = ru(n, "a6", a5, nn_ch(n, 256), 0);                             /* a6 [N,256,H/8,W/8] */
    a6 = nn_dropout(n, a6, "a6.drop");                                   /* [N,256,H/8,W/8] */
    int t = up(n, "a7", a6, nn_ch(n, 256));                                 /* [N,256,H/4,W/4] */
    t = nn_concat(n, a4, t, "a7.cat");                                   /* [N,384,H/4,W/4] */
    int d5 = ru(n, "d5", t, nn_ch(n, 256), 0);                              /* d5 [N,256,H/4,W/4] */
    t = up(n, "a9", d5, nn_ch(n, 128));                                     /* [N,128,H/2,W/2] */
    t = nn_concat(n, a2, t, "a9.cat");                                   /* [N,192,H/2,W/2] */
    int d6 = ru(n, "d6", t, nn_ch(n, 128), 0);                              /* d6 [N,128,H/2,W/2] */
    t = up(n, "a11", d6, nn_ch(n, 64));                                     /* [N,64,H,W] */
    t = nn_concat(n, a0, t, "a11.cat");                                  /* [N,96,H,W] */
    int d7 = ru(n, "d7", t, nn_ch(n, 64), 0);                               /* d7 [N,64,H,W] */

    /* main branch: encoder with SE and gates */
    nn_convp m0c = nn_conv_params(n, "m0", cin, nn_ch(n, 64), 7, 1, 1e-4f);
    nn_bnp m0b = nn_bn_params(n, "m0bn", nn_ch(n, 64));
    int m0 = nn_conv(n, m0c, x, 1, "m0");                                /* [N,64,H,W] */
    m0 = nn_bn(n, m0b, m0, "m0bn");                                      /* [N,64,H,W] */
    m0 = nn_act(n, FN_ACT_RELU, 0, m0, "m0.relu");                       /* m0 [N,64,H,W] */
    int m = ru(n, "m1", m0, nn_ch(n, 64), 0);                               /* [N,64,H,W] */
    m = se(n, "m1a", m);                                                 /* [N,64,H,W] */
    m = gate(n, "m1", m, d7);                                            /* [N,64,H,W] */
    int m1 = se(n, "m1b", m);                                            /* m1 [N,64,H,W] */
    int m2 = ru(n, "m2", m1, nn_ch(n, 64), 1);                              /* m2 [N,64,H/2,W/2] */
    m = ru(n, "m3", m2, nn_ch(n, 128), 0);                                  /* [N,128,H/2,W/2] */
    m = se(n, "m3a", m);
    m = gate(n, "m3", m, d6);
    int m3 = se(n, "m3b", m);                                            /* m3 [N,128,H/2,W/2] */
    int m4 = ru(n, "m4", m3, nn_ch(n, 128), 1);                             /* m4 [N,128,H/4,W/4] */
    m = ru(n, "m5", m4, nn_ch(n, 256), 0);                                  /* [N,256,H/4,W/4] */
    m = se(n, "m5a", m);
    m = gate(n, "m5", m, d5);
    int m5 = se(n, "m5b", m);                                            /* m5 [N,256,H/4,W/4] */
    int m6 = ru(n, "m6", m5, nn_ch(n, 256), 1);                             /* m6 [N,256,H/8,W/8] */
    m = ru(n, "m7", m6, nn_ch(n, 512), 0);                                  /* [N,512,H/8,W/8] */
    int m7 = se(n, "m7se", m);                                           /* m7 [N,512,H/8,W/8] */
    int m8 = ru(n, "m8", m7, nn_ch(n, 512), 1);                             /* m8 [N,512,H/16,W/16] */

    /* main branch: decoder (skips from the down units and the stem) and output */
    t = up(n, "m9", m8, nn_ch(n, 256));                                     /* [N,256,H/8,W/8] */
    t = nn_concat(n, m6, t, "m9.cat");                                   /* [N,512,H/8,W/8] */
    int h = ru(n, "m10", t, nn_ch(n, 256), 0);                              /* [N,256,H/8,W/8] */
    t = up(n, "m11", h, nn_ch(n, 128));                                     /* [N,128,H/4,W/4] */
    t = nn_concat(n, m4, t, "m11.cat");                                  /* [N,256,H/4,W/4] */
    h = ru(n, "m12", t, nn_ch(n, 128), 0);                                  /* [N,128,H/4,W/4] */
    t = up(n, "m13", h, nn_ch(n, 64));                                      /* [N,64,H/2,W/2] */
    t = nn_concat(n, m2, t, "m13.cat");                                  /* [N,128,H/2,W/2] */
    h = ru(n, "m14", t, nn_ch(n, 64), 0);                                   /* [N,64,H/2,W/2] */
    t = up(n, "m15", h, nn_ch(n, 32));                                      /* [N,32,H,W] */
    t = nn_concat(n, m0, t, "m15.cat");                                  /* [N,96,H,W] */
    h = ru(n, "m16", t, nn_ch(n, 32), 0);                                   /* [N,32,H,W] */
    h = ru(n, "m17", h, nn_ch(n, 16), 0);                                   /* [N,16,H,W] */
    h = ru(n, "m18", h, nn_ch(n, 4), 0);                                    /* [N,4,H,W] */
    nn_convp oc = nn_conv_params(n, "out", n->T[h].C, 1, 1, 1, 0);
    h = nn_conv(n, oc, h, 1, "out");                                     /* logits [N,1,H,W] */
    n->out = nn_act(n, FN_ACT_SIGMOID, 0, h, "out.sigmoid");             /* p [N,1,H,W] */
    (void)a1; (void)a3; (void)a5;
}

/* ---------------------------------------------------------------------------------------------- */
/* the API */

static int check_config(const fn_net_config *cfg, fn_err *e) {
    if (!cfg || cfg->cin < 1 || cfg->cin > 4096) return fn_seterr(e, "bad input channel count %d", cfg ? cfg->cin : 0);
    if (!(cfg->width > 0 && cfg->width <= 16)) return fn_seterr(e, "bad width %g (0 < width <= 16)", (double)cfg->width);
    return 0;
}

int fn_net_config_numel(const fn_net_config *cfg, size_t *params, size_t *stats, fn_err *e) {
    if (check_config(cfg, e)) return -1;
    fn_net *n = calloc(1, sizeof *n);
    if (!n) return fn_seterr(e, "out of memory");
    n->cfg = *cfg;
    int rc = fn_arch_build(n, e) ? -1 : n->fail ? fn_seterr(e, "out of memory building the graph") : 0;
    *params = n->numel;
    *stats = n->snumel;
    fn_net_free(n); /* the tables only: no buffer was allocated */
    return rc;
}

fn_net *fn_net_new(fn_backend *be, const fn_net_config *cfg, fn_err *e) {
    if (!be) { fn_seterr(e, "no backend"); return NULL; }
    if (check_config(cfg, e)) return NULL;
    fn_net *n = calloc(1, sizeof *n);
    if (!n) { fn_seterr(e, "out of memory"); return NULL; }
    n->be = be;
    n->cfg = *cfg;
    n->dropout = FN_NET_DROPOUT;
    n->rep_scale = 1.0f;
    n->bn_momentum = FN_BN_MOMENTUM;
    if (fn_arch_build(n, e)) { fn_net_free(n); return NULL; }
    if (n->fail) { fn_net_free(n); fn_seterr(e, "out of memory building the graph"); return NULL; }
    n->params = be->alloc(be->ctx, n->numel);
    n->stats = be->alloc(be->ctx, n->snumel);
    n->gw = calloc((size_t)n->nt, 1);
    if (!n->params || !n->stats || !n->gw) {
        fn_seterr(e, "out of memory for %zu parameters", n->numel);
        fn_net_free(n);
        return NULL;
    }
    /* running variance starts at 1 */
    for (int i = 0; i < n->ns; i++)
        if (n->S[i].kind == FN_P_RUN_VAR) be->fill(be->ctx, n->stats + n->S[i].offset, 1.0f, n->S[i].numel);
    return n;
}

void fn_net_free(fn_net *n) {
    if (!n) return;
    fn_backend *be = n->be;
    if (n->params && be->params_frozen) be->params_frozen(be->ctx, NULL, 0, 0); /* nothing kept of them */
    float *bufs[] = { n->params, n->grads, n->adam_m, n->adam_v, n->stats, n->arena, n->aux };
    for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
        if (bufs[i]) be->free(be->ctx, bufs[i]);
    free(n->P); free(n->S); free(n->T); free(n->O); free(n->gw);
    free(n);
}

const fn_net_config *fn_net_cfg(const fn_net *n) { return &n->cfg; }
fn_backend *fn_net_backend(const fn_net *n) { return n->be; }
int fn_net_nparams(const fn_net *n) { return n->np; }
const fn_param_info *fn_net_param(const fn_net *n, int i) { return i >= 0 && i < n->np ? &n->P[i] : NULL; }
size_t fn_net_numel(const fn_net *n) { return n->numel; }
int fn_net_nstats(const fn_net *n) { return n->ns; }
const fn_param_info *fn_net_stat(const fn_net *n, int i) { return i >= 0 && i < n->ns ? &n->S[i] : NULL; }
size_t fn_net_stats_numel(const fn_net *n) { return n->snumel; }
void fn_net_set_dropout(fn_net *n, float p) { n->dropout = p < 0 ? 0 : p; }
float fn_net_dropout(const fn_net *n) { return n->dropout; }
void fn_net_set_replica(fn_net *n, long offset, float loss_scale) {
    n->rep_offset = offset;
    n->rep_scale = loss_scale;
}

/* the parameters may have been written: a new params_version */
static void params_written(fn_net *n) { n->params_version++; }

float *fn_net_device(fn_net *n, fn_net_buf which) {
    switch (which) {
    case FN_BUF_PARAMS: params_written(n); /* the caller may write them */ return n->params;
    case FN_BUF_GRADS: return n->grads;
    case FN_BUF_ADAM_M: return n->adam_m;
    case FN_BUF_ADAM_V: return n->adam_v;
    case FN_BUF_STATS: return n->stats;
    }
    return NULL;
}
void fn_net_set_bn_momentum(fn_net *n, float m) { n->bn_momentum = m; }
long fn_net_step(const fn_net *n) { return n->step; }
void fn_net_set_step(fn_net *n, long t) { n->step = t; }

int fn_net_find_param(const fn_net *n, const char *name) {
    for (int i = 0; i < n->np; i++) if (!strcmp(n->P[i].name, name)) return i;
    return -1;
}

int fn_net_find_stat(const fn_net *n, const char *name) {
    for (int i = 0; i < n->ns; i++) if (!strcmp(n->S[i].name, name)) return i;
    return -1;
}

size_t fn_net_device_bytes(const fn_net *n) {
    size_t f = n->numel * (1 + !!n->grads + !!n->adam_m + !!n->adam_v) + n->snumel + n->arena_cap + n->aux_cap;
    return f * sizeof(float);
}

static int check_shape(const fn_net *n, int N, int H, int W, fn_err *e) {
    if (N < 1) return fn_seterr(e, "bad batch size %d", N);
    if (H < 16 || W < 16 || H % 16 || W % 16)
        return fn_seterr(e, "image size %dx%d: height and width must be positive multiples of 16", H, W);
    (void)n;
    return 0;
}

int fn_net_reserve(fn_net *n, int N, int H, int W, int train, fn_err *e) {
    if (check_shape(n, N, H, W, e)) return -1;
    if (n->arena && n->pN == N && n->pH == H && n->pW == W && (n->ptrain || !train)) return 0;
    if (train && !n->grads) {
        n->grads = n->be->alloc(n->be->ctx, n->numel);
        if (!n->grads) return fn_seterr(e, "out of memory for the gradients");
    }
    n->fwd_train_ok = 0;
    return fn_graph_plan(n, N, H, W, train, e);
}

/* an op of the last pass could not run (see error in backend.h) */
static int backend_failed(fn_backend *be, fn_err *e) {
    const char *why = be->error ? be->error(be->ctx) : NULL;
    return why ? fn_seterr(e, "%s", why) : 0;
}

int fn_net_forward(fn_net *n, const float *x, int N, int H, int W, int train, uint64_t seed,
                   float *out, fn_err *e) {
    if (fn_net_reserve(n, N, H, W, train, e)) return -1;
    fn_backend *be = n->be;
    be->upload(be->ctx, n->T[n->in].v, x, fn_graph_tsize(n, n->in));
    fn_graph_forward(n, train, seed);
    if (backend_failed(be, e)) return -1;
    n->fwd_train_ok = train;
    if (out) be->download(be->ctx, out, n->T[n->out].v, fn_graph_tsize(n, n->out));
    else be->sync(be->ctx);
    return 0;
}

int fn_net_backward(fn_net *n, const float *target, float *loss, fn_err *e) {
    if (!n->fwd_train_ok) return fn_seterr(e, "backward without a training forward");
    fn_backend *be = n->be;
    int HW = n->pH * n->pW;
    float *t = n->aux + n->target_off;
    be->upload(be->ctx, t, target, (size_t)n->pN * HW);
    memset(n->gw, 0, (size_t)n->nt);
    float l = be->dice_loss(be->ctx, n->T[n->out].v, t, n->T[n->out].g, n->pN, HW, FN_DICE_SMOOTH);
    n->gw[n->out] = 1;
    if (n->rep_scale != 1.0f) /* d(scale*loss)/dp = dp + (scale-1) dp */
        be->axpy(be->ctx, n->rep_scale - 1.0f, n->T[n->out].g, n->T[n->out].g, (size_t)n->pN * HW);
    be->fill(be->ctx, n->grads, 0.0f, n->numel);
    fn_graph_backward(n);
    if (n->rep_scale == 0) /* a stand-in frame: with sync-BN its backward still took part in the sums */
        be->fill(be->ctx, n->grads, 0.0f, n->numel);
    be->sync(be->ctx);
    if (backend_failed(be, e)) return -1;
    if (loss) *loss = l;
    return 0;
}

double fn_net_l2_penalty(fn_net *n) {
    double s = 0;
    for (int i = 0; i < n->np; i++)
        if (n->P[i].l2 > 0) s += n->P[i].l2 * n->be->sumsq(n->be->ctx, n->params + n->P[i].offset, n->P[i].numel);
    return s;
}

static int ensure(fn_net *n, float **p, const char *what, fn_err *e) {
    if (*p) return 0;
    *p = n->be->alloc(n->be->ctx, n->numel);
    return *p ? 0 : fn_seterr(e, "out of memory for the %s", what);
}

int fn_net_adam_step(fn_net *n, float lr, float b1, float b2, float eps, int use_l2, fn_err *e) {
    if (!n->grads) return fn_seterr(e, "Adam step without gradients");
    if (ensure(n, &n->adam_m, "Adam moments", e) || ensure(n, &n->adam_v, "Adam moments", e)) return -1;
    n->step++;
    params_written(n);
    /* one backend call per run of adjacent tensors with the same penalty */
    for (int i = 0; i < n->np;) {
        float l2 = use_l2 ? n->P[i].l2 : 0;
        size_t off = n->P[i].offset, len = 0;
        int j = i;
        while (j < n->np && (use_l2 ? n->P[j].l2 : 0) == l2) len += n->P[j++].numel;
        n->be->adam(n->be->ctx, n->params + off, n->grads + off, n->adam_m + off, n->adam_v + off, len,
                    lr, b1, b2, eps, l2, n->step);
        i = j;
    }
    n->be->sync(n->be->ctx);
    return 0;
}

static float **buf_of(fn_net *n, fn_net_buf which, size_t *len) {
    *len = which == FN_BUF_STATS ? n->snumel : n->numel;
    switch (which) {
    case FN_BUF_PARAMS: return &n->params;
    case FN_BUF_GRADS: return &n->grads;
    case FN_BUF_ADAM_M: return &n->adam_m;
    case FN_BUF_ADAM_V: return &n->adam_v;
    case FN_BUF_STATS: return &n->stats;
    }
    return NULL;
}

int fn_net_get(fn_net *n, fn_net_buf which, float *host, fn_err *e) {
    size_t len;
    float **p = buf_of(n, which, &len);
    if (!p) return fn_seterr(e, "bad buffer %d", (int)which);
    if (!*p) memset(host, 0, len * sizeof *host);
    else n->be->download(n->be->ctx, host, *p, len);
    return 0;
}

int fn_net_set(fn_net *n, fn_net_buf which, const float *host, fn_err *e) {
    size_t len;
    float **p = buf_of(n, which, &len);
    if (!p) return fn_seterr(e, "bad buffer %d", (int)which);
    if (ensure(n, p, "network state", e)) return -1;
    n->be->upload(n->be->ctx, *p, host, len);
    if (which == FN_BUF_PARAMS) params_written(n);
    return 0;
}
