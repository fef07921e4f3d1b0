/* model.c: the model file: a net's parameters and running statistics in a safetensors file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nn/model.h"
#include "data/safetensors.h"

void fn_model_meta_init(fn_model_meta *m) {
    memset(m, 0, sizeof *m);
    m->epoch = -1;
    m->val_loss = NAN;
}

static int add_table(fn_st *st, fn_net *net, const float *host, int stats, fn_err *e) {
    int cnt = stats ? fn_net_nstats(net) : fn_net_nparams(net);
    for (int i = 0; i < cnt; i++) {
        const fn_param_info *p = stats ? fn_net_stat(net, i) : fn_net_param(net, i);
        int64_t sh[4];
        for (int d = 0; d < p->ndim; d++) sh[d] = p->shape[d];
        if (fn_st_add(st, p->name, p->ndim, sh, host + p->offset, e)) return -1;
    }
    return 0;
}

int fn_model_save(fn_net *net, const char *path, const fn_model_meta *m, fn_err *e) {
    fn_model_meta empty;
    if (!m) { fn_model_meta_init(&empty); m = &empty; }
    const fn_net_config *c = fn_net_cfg(net);
    size_t np = fn_net_numel(net), ns = fn_net_stats_numel(net);
    float *p = malloc(sizeof *p * (np + ns));
    if (!p) return fn_seterr(e, "out of memory");
    fn_st st = { 0 };
    char b[64];
    int rc = fn_net_get(net, FN_BUF_PARAMS, p, e) || fn_net_get(net, FN_BUF_STATS, p + np, e);
    size_t bad = 0; /* a diverged training must not put a NaN model over a good one */
    for (size_t i = 0; !rc && i < np + ns; i++) bad += !isfinite(p[i]);
    if (bad)
        rc = fn_seterr(e, "%s: not written: the model of epoch %d holds %zu NaN or infinite values", path, m->epoch,
                       bad);
    rc = rc || fn_st_set_meta(&st, "format", "fn-model", e);
    snprintf(b, sizeof b, "%d", FN_MODEL_VERSION);
    rc = rc || fn_st_set_meta(&st, "version", b, e);
    rc = rc || fn_st_set_meta(&st, "arch", fn_arch_name(c->arch), e);
    snprintf(b, sizeof b, "%d", c->cin);
    rc = rc || fn_st_set_meta(&st, "in_channels", b, e);
    snprintf(b, sizeof b, "%.9g", (double)c->width);
    rc = rc || fn_st_set_meta(&st, "width", b, e);
    rc = rc || fn_st_set_meta(&st, "norm_mode", m->norm_mode, e);
    rc = rc || fn_st_set_meta(&st, "norm_mean", m->norm_mean, e);
    rc = rc || fn_st_set_meta(&st, "norm_std", m->norm_std, e);
    snprintf(b, sizeof b, "%d", m->epoch);
    rc = rc || fn_st_set_meta(&st, "epoch", b, e);
    if (isnan(m->val_loss)) snprintf(b, sizeof b, "nan");
    else snprintf(b, sizeof b, "%.9g", m->val_loss);
    rc = rc || fn_st_set_meta(&st, "val_loss", b, e);
    rc = rc || fn_st_set_meta(&st, "options", m->options, e);
    rc = rc || add_table(&st, net, p, 0, e) || add_table(&st, net, p + np, 1, e);
    rc = rc || fn_st_write(&st, path, e);
    fn_st_free(&st);
    free(p);
    return rc ? -1 : 0;
}

static void copy_meta(const fn_st *st, const char *key, char *dst, size_t n) {
    const char *v = fn_st_meta(st, key);
    snprintf(dst, n, "%s", v ? v : "");
}

/* copy the tables' tensors out of the file into host (the layout of the net's allocation) */
static int take(const fn_st *st, fn_net *net, float *host, int stats, const char *path, fn_err *e) {
    int cnt = stats ? fn_net_nstats(net) : fn_net_nparams(net);
    for (int i = 0; i < cnt; i++) {
        const fn_param_info *p = stats ? fn_net_stat(net, i) : fn_net_param(net, i);
        const fn_st_tensor *t = fn_st_find(st, p->name);
        if (!t) return fn_seterr(e, "%s: tensor %s is missing", path, p->name);
        int ok = t->ndim == p->ndim;
        for (int d = 0; ok && d < p->ndim; d++) ok = t->shape[d] == p->shape[d];
        if (!ok) return fn_seterr(e, "%s: tensor %s has the wrong shape", path, p->name);
        memcpy(host + p->offset, t->data, sizeof(float) * p->numel);
    }
    return 0;
}

fn_net *fn_model_load(fn_backend *be, const char *path, fn_model_meta *m, fn_err *e) {
    fn_st st;
    if (fn_st_read(&st, path, e)) return NULL;
    const char *fmt = fn_st_meta(&st, "format"), *ver = fn_st_meta(&st, "version"), *arch = fn_st_meta(&st, "arch");
    const char *cin = fn_st_meta(&st, "in_channels"), *wid = fn_st_meta(&st, "width");
    fn_net *net = NULL;
    float *host = NULL;
    char *end;
    if (!fmt || strcmp(fmt, "fn-model")) {
        fn_seterr(e, "%s: not an fn model (a safetensors file without format=fn-model)", path);
        goto out;
    }
    long v = ver ? strtol(ver, &end, 10) : -1;
    if (!ver || *end || v < 1) { fn_seterr(e, "%s: bad model version", path); goto out; }
    if (v > FN_MODEL_VERSION) {
        fn_seterr(e, "%s: model version %ld is newer than this fn reads (%d)", path, v, FN_MODEL_VERSION);
        goto out;
    }
    if (fn_arch_parse(arch) < 0) { fn_seterr(e, "%s: unknown architecture %s", path, arch ? arch : "(none)"); goto out; }
    fn_net_config c = { 0, 1.0f, fn_arch_parse(arch) };
    long ci = cin ? strtol(cin, &end, 10) : 0;
    if (!cin || *end || ci < 1 || ci > 4096) { fn_seterr(e, "%s: bad in_channels", path); goto out; }
    c.cin = (int)ci;
    if (wid) {
        double w = strtod(wid, &end);
        if (*end || !(w > 0)) { fn_seterr(e, "%s: bad width", path); goto out; }
        c.width = (float)w;
    }
    size_t need_p, need_s, have = 0; /* the file must hold the net it claims before one is made */
    if (fn_net_config_numel(&c, &need_p, &need_s, e)) {
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s", e ? e->msg : "");
        fn_seterr(e, "%s: %s", path, why);
        goto out;
    }
    for (int i = 0; i < st.n; i++) have += st.t[i].numel;
    if (have < need_p + need_s) {
        fn_seterr(e, "%s: holds %zu values, but a FocusNet of %d input channels and width %g has %zu", path, have, c.cin,
                  (double)c.width, need_p + need_s);
        goto out;
    }
    if (!(net = fn_net_new(be, &c, e))) goto out;
    size_t np = fn_net_numel(net), ns = fn_net_stats_numel(net);
    if (!(host = malloc(sizeof *host * (np + ns)))) { fn_seterr(e, "out of memory"); goto fail; }
    if (take(&st, net, host, 0, path, e) || take(&st, net, host + np, 1, path, e)) goto fail;
    if (fn_net_set(net, FN_BUF_PARAMS, host, e) || fn_net_set(net, FN_BUF_STATS, host + np, e)) goto fail;
    if (m) {
        fn_model_meta_init(m);
        copy_meta(&st, "norm_mode", m->norm_mode, sizeof m->norm_mode);
        copy_meta(&st, "norm_mean", m->norm_mean, sizeof m->norm_mean);
        copy_meta(&st, "norm_std", m->norm_std, sizeof m->norm_std);
        copy_meta(&st, "options", m->options, sizeof m->options);
        const char *ep = fn_st_meta(&st, "epoch"), *vl = fn_st_meta(&st, "val_loss");
        if (ep) m->epoch = (int)strtol(ep, NULL, 10);
        if (vl) m->val_loss = strtod(vl, NULL);
    }
    goto out;
fail:
    fn_net_free(net);
    net = NULL;
out:
    free(host);
    fn_st_free(&st);
    return net;
}
