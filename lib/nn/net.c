/* net.c: the net's API (net.h), the same for every architecture: a net is built from the description
 * that arch.c names for its config (focusnet.c, unet.c, r2unet.c, attunet.c), then run forward,
 * backward and through Adam by graph.c's tape. A new network touches its own file and arch.c's table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nn/build.h"

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
    free(n->P); free(n->S); free(n->T); free(n->O); free(n->gw); free(n->seg_off); free(n->seg_l2);
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
    if (n->arena && n->pN == N && n->pH == H && n->pW == W && (n->ptrain || !train) &&
        (n->ptrain ? n->pnhwc == fn_graph_nhwc_pays(n, 1) && (!train || n->pfold == fn_graph_fold_pays(n))
                   : n->presid == fn_graph_resid_pays(n) && n->pnhwc == fn_graph_nhwc_pays(n, 0)))
        return 0;
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

/* an inference forward: recorded and replayed where the backend can (capture.h), else run */
static void infer_ops(fn_net *n) {
    fn_backend *be = n->be;
    if (!be->capture_begin || !be->capture_end || !be->replay || n->prof_on) {
        fn_graph_forward(n, 0, 0);
        return;
    }
    fn_capture_key k = { n->pN, n->pH, n->pW, { n->arena, n->aux, n->params, n->stats }, n->params_version,
                         n->plan_gen };
    switch (fn_capture_next(&n->cap, &k)) {
    case FN_CAP_REPLAY:
        if (be->replay(be->ctx, n->cap.id) == 0) return;
        fn_capture_reset(&n->cap); /* the backend dropped it: run, and start over */
        break;
    case FN_CAP_RECORD: {
        long id = -1;
        if (be->capture_begin(be->ctx) == 0) {
            fn_graph_forward(n, 0, 0); /* recorded, not run */
            id = be->capture_end(be->ctx);
        }
        fn_capture_recorded(&n->cap, id);
        if (id >= 0 && be->replay(be->ctx, id) == 0) return;
        break; /* nothing ran: run it */
    }
    }
    fn_graph_forward(n, 0, 0);
}

int fn_net_forward(fn_net *n, const float *x, int N, int H, int W, int train, uint64_t seed,
                   float *out, fn_err *e) {
    if (fn_net_reserve(n, N, H, W, train, e)) return -1;
    fn_backend *be = n->be;
    be->upload(be->ctx, fn_graph_input(n), x, fn_graph_tsize(n, n->in));
    if (train) fn_graph_forward(n, train, seed);
    else infer_ops(n); /* inference takes no seed (no dropout) */
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
    /* one backend call per run of adjacent tensors with the same penalty, or one adam_segs call for all
     * (its table made on the first step and kept; without it, the calls per run) */
    if (n->be->adam_segs && !n->seg_off) {
        n->seg_off = malloc(sizeof *n->seg_off * (size_t)n->np);
        n->seg_l2 = malloc(sizeof *n->seg_l2 * (size_t)n->np);
    }
    size_t *soff = n->be->adam_segs && n->seg_l2 ? n->seg_off : NULL;
    float *sl2 = soff ? n->seg_l2 : NULL;
    int nseg = 0;
    size_t base = n->np ? n->P[0].offset : 0, total = 0;
    for (int i = 0; i < n->np;) {
        float l2 = use_l2 ? n->P[i].l2 : 0;
        size_t off = n->P[i].offset, len = 0;
        int j = i;
        while (j < n->np && (use_l2 ? n->P[j].l2 : 0) == l2) len += n->P[j++].numel;
        if (sl2 && off == base + total) { /* contiguous so far: a segment of the one call */
            soff[nseg] = total, sl2[nseg++] = l2;
            total += len;
        } else {
            n->be->adam(n->be->ctx, n->params + off, n->grads + off, n->adam_m + off, n->adam_v + off, len,
                        lr, b1, b2, eps, l2, n->step);
        }
        i = j;
    }
    if (nseg)
        n->be->adam_segs(n->be->ctx, n->params + base, n->grads + base, n->adam_m + base, n->adam_v + base, total,
                         soff, sl2, nseg, lr, b1, b2, eps, n->step);
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
