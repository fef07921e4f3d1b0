/* state.c: save and restore everything a resumed fn-train run needs to continue bit-exactly. */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/safetensors.h"
#include "train/state.h"

#define STATE_FORMAT "fn-train-state"
#define STATE_VERSION 1

void fn_train_options_string(const fn_train_config *c, char *buf, size_t n) {
    snprintf(buf, n,
             "loss=dice optimizer=adam(0.9,0.999,1e-07) lr=%.9g batch=%d plateau=%d(0.5,0.001) l2=%s "
             "epochs=%d seed=%" PRIu64 " width=%.9g%s%s%s%s%s",
             (double)c->lr, c->batch, c->patience, c->l2 ? "on" : "off", c->epochs, c->seed, (double)c->width,
             c->bn_recompute ? " bn=recompute" : "", c->sync_bn ? " sync_bn=on" : "",
             c->precision ? " precision=" : "", c->precision ? fn_precision_name(c->precision) : "",
             c->deterministic ? " deterministic=on" : "");
}

static const struct { const char *name; fn_net_buf buf; int stats; } bufs[] = {
    { "params", FN_BUF_PARAMS, 0 }, { "stats", FN_BUF_STATS, 1 },
    { "adam_m", FN_BUF_ADAM_M, 0 }, { "adam_v", FN_BUF_ADAM_V, 0 },
};
#define NBUFS 4

/* metadata "key" = printf(fmt, ...) */
static int metaf(fn_st *w, fn_err *e, const char *key, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int metaf(fn_st *w, fn_err *e, const char *key, const char *fmt, ...) {
    char b[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    return fn_st_set_meta(w, key, b, e);
}

int fn_state_save(const char *path, fn_net *net, const fn_train_state *st, fn_err *e) {
    const fn_train_config *c = &st->cfg;
    size_t np = fn_net_numel(net), ns = fn_net_stats_numel(net);
    float *host[NBUFS] = { 0 };
    fn_st w = { 0 };
    int rc = -1;
    for (int i = 0; i < NBUFS; i++) {
        size_t n = bufs[i].stats ? ns : np;
        int64_t shape[1] = { (int64_t)n };
        if (!(host[i] = malloc(sizeof(float) * (n ? n : 1)))) { fn_seterr(e, "out of memory"); goto out; }
        if (fn_net_get(net, bufs[i].buf, host[i], e) || fn_st_add(&w, bufs[i].name, 1, shape, host[i], e)) goto out;
    }
    if (fn_st_set_meta(&w, "format", STATE_FORMAT, e) || metaf(&w, e, "version", "%d", STATE_VERSION) ||
        metaf(&w, e, "in_channels", "%d", c->cin) || metaf(&w, e, "width", "%.9g", (double)c->width) ||
        metaf(&w, e, "batch", "%d", c->batch) || metaf(&w, e, "lr0", "%.9g", (double)c->lr) ||
        metaf(&w, e, "plateau", "%d", c->patience) || metaf(&w, e, "l2", "%d", c->l2) ||
        metaf(&w, e, "bn_recompute", "%d", c->bn_recompute) || metaf(&w, e, "sync_bn", "%d", c->sync_bn) ||
        metaf(&w, e, "deterministic", "%d", c->deterministic) ||
        fn_st_set_meta(&w, "arch", fn_arch_name(c->arch), e) ||
        fn_st_set_meta(&w, "precision", fn_precision_name(c->precision), e) ||
        metaf(&w, e, "seed", "%" PRIu64, c->seed) || metaf(&w, e, "epochs", "%d", c->epochs) ||
        metaf(&w, e, "epoch", "%d", st->epoch) || metaf(&w, e, "step", "%ld", st->step) ||
        metaf(&w, e, "lr", "%.9g", (double)st->sched.lr) ||
        metaf(&w, e, "plateau_best", "%.17g", st->sched.best) ||
        metaf(&w, e, "plateau_wait", "%d", st->sched.wait) ||
        metaf(&w, e, "best_val_loss", "%.17g", st->best_loss) ||
        metaf(&w, e, "best_epoch", "%d", st->best_epoch) ||
        metaf(&w, e, "data", "%016" PRIx64, st->data_fp) ||
        fn_st_set_meta(&w, "out", st->out, e) || fn_st_set_meta(&w, "log", st->log ? st->log : "", e))
        goto out;
    rc = fn_st_write(&w, path, e);
out:
    fn_st_free(&w);
    for (int i = 0; i < NBUFS; i++) free(host[i]);
    return rc;
}

/* metadata parsers: 0, or -1 with e set */
static int get_str(const fn_st *r, const char *path, const char *key, const char **v, fn_err *e) {
    if (!(*v = fn_st_meta(r, key))) return fn_seterr(e, "%s: not an fn-train state (no '%s')", path, key);
    return 0;
}

static int get_num(const fn_st *r, const char *path, const char *key, double *v, fn_err *e) {
    const char *s;
    char *end;
    if (get_str(r, path, key, &s, e)) return -1;
    *v = strtod(s, &end);
    if (!*s || *end) return fn_seterr(e, "%s: bad state value %s=%s", path, key, s);
    return 0;
}

static int get_int(const fn_st *r, const char *path, const char *key, long lo, long hi, long *v, fn_err *e) {
    const char *s;
    char *end;
    if (get_str(r, path, key, &s, e)) return -1;
    *v = strtol(s, &end, 10);
    if (!*s || *end || *v < lo || *v > hi) return fn_seterr(e, "%s: bad state value %s=%s", path, key, s);
    return 0;
}

static int read_meta(const fn_st *r, const char *path, fn_train_state *st, fn_err *e) {
    const char *fmt = fn_st_meta(r, "format"), *s;
    long v;
    double d;
    if (!fmt || strcmp(fmt, STATE_FORMAT)) return fn_seterr(e, "%s: not an fn-train state file", path);
    if (get_int(r, path, "version", 1, 1000000, &v, e)) return -1;
    if (v > STATE_VERSION) return fn_seterr(e, "%s: state version %ld is newer than this fn reads (%d)", path, v, STATE_VERSION);
    fn_train_config *c = &st->cfg;
    if (get_int(r, path, "in_channels", 1, 4096, &v, e)) return -1;
    c->cin = (int)v;
    if (get_num(r, path, "width", &d, e)) return -1;
    c->width = (float)d;
    if (get_int(r, path, "batch", 1, 1 << 20, &v, e)) return -1;
    c->batch = (int)v;
    if (get_num(r, path, "lr0", &d, e)) return -1;
    c->lr = (float)d;
    if (get_int(r, path, "plateau", 0, 1 << 20, &v, e)) return -1;
    c->patience = (int)v;
    if (get_int(r, path, "l2", 0, 1, &v, e)) return -1;
    c->l2 = (int)v;
    c->bn_recompute = 0; /* absent from states written before the option */
    if (fn_st_meta(r, "bn_recompute")) {
        if (get_int(r, path, "bn_recompute", 0, 1, &v, e)) return -1;
        c->bn_recompute = (int)v;
    }
    c->sync_bn = 0; /* absent from states written before the option */
    if (fn_st_meta(r, "sync_bn")) {
        if (get_int(r, path, "sync_bn", 0, 1, &v, e)) return -1;
        c->sync_bn = (int)v;
    }
    c->deterministic = 0; /* absent from states written before the option */
    if (fn_st_meta(r, "deterministic")) {
        if (get_int(r, path, "deterministic", 0, 1, &v, e)) return -1;
        c->deterministic = (int)v;
    }
    c->arch = FN_ARCH_FOCUSNET; /* absent from states written before the option */
    if ((s = fn_st_meta(r, "arch")) && (c->arch = fn_arch_parse(s)) < 0)
        return fn_seterr(e, "%s: unknown architecture %s", path, s);
    c->precision = FN_PREC_FP32; /* absent from states written before the option */
    if ((s = fn_st_meta(r, "precision")) && (c->precision = fn_precision_parse(s)) < 0)
        return fn_seterr(e, "%s: unknown precision %s", path, s);
    if (get_str(r, path, "seed", &s, e)) return -1;
    c->seed = strtoull(s, NULL, 10);
    if (get_int(r, path, "epochs", 0, 1 << 24, &v, e)) return -1;
    c->epochs = (int)v;
    if (get_int(r, path, "epoch", 0, 1 << 24, &v, e)) return -1;
    st->epoch = (int)v;
    if (get_int(r, path, "step", 0, 1L << 50, &v, e)) return -1;
    st->step = v;
    fn_plateau_init(&st->sched, c->lr, c->patience);
    if (get_num(r, path, "lr", &d, e)) return -1;
    st->sched.lr = (float)d;
    if (get_num(r, path, "plateau_best", &st->sched.best, e)) return -1;
    if (get_int(r, path, "plateau_wait", 0, 1 << 24, &v, e)) return -1;
    st->sched.wait = (int)v;
    if (get_num(r, path, "best_val_loss", &st->best_loss, e)) return -1;
    if (get_int(r, path, "best_epoch", 0, 1 << 24, &v, e)) return -1;
    st->best_epoch = (int)v;
    if (get_str(r, path, "data", &s, e)) return -1;
    st->data_fp = strtoull(s, NULL, 16);
    if (get_str(r, path, "out", &s, e)) return -1;
    snprintf(st->out, sizeof st->out, "%s", s);
    if (get_str(r, path, "log", &s, e)) return -1;
    if (!(st->log = strdup(s))) return fn_seterr(e, "out of memory");
    return 0;
}

int fn_state_load(const char *path, fn_backend *be, fn_net **netp, fn_train_state *st, fn_err *e) {
    fn_st r;
    fn_net *net = NULL;
    memset(st, 0, sizeof *st);
    *netp = NULL;
    if (fn_st_read(&r, path, e)) return -1;
    if (read_meta(&r, path, st, e)) goto fail;
    fn_net_config nc = { st->cfg.cin, st->cfg.width, st->cfg.arch };
    size_t need[2];
    if (fn_net_config_numel(&nc, &need[0], &need[1], e)) {
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s", e ? e->msg : "");
        fn_seterr(e, "%s: %s", path, why);
        goto fail;
    }
    for (int i = 0; i < NBUFS; i++) { /* before a net of the size the metadata claims is made */
        const fn_st_tensor *t = fn_st_find(&r, bufs[i].name);
        if (!t || t->ndim != 1 || t->numel != need[bufs[i].stats]) {
            fn_seterr(e, "%s: tensor %s is missing or has the wrong size", path, bufs[i].name);
            goto fail;
        }
    }
    if (!(net = fn_net_new(be, &nc, e))) goto fail;
    for (int i = 0; i < NBUFS; i++) {
        const fn_st_tensor *t = fn_st_find(&r, bufs[i].name);
        size_t n = bufs[i].stats ? fn_net_stats_numel(net) : fn_net_numel(net);
        if (!t || t->ndim != 1 || t->numel != n) {
            fn_seterr(e, "%s: tensor %s is missing or has the wrong size", path, bufs[i].name);
            goto fail;
        }
        if (fn_net_set(net, bufs[i].buf, t->data, e)) goto fail;
    }
    fn_net_set_step(net, st->step);
    fn_st_free(&r);
    *netp = net;
    return 0;
fail:
    fn_net_free(net);
    fn_st_free(&r);
    fn_state_free(st);
    return -1;
}

void fn_state_free(fn_train_state *st) {
    free(st->log);
    st->log = NULL;
}
