/* golden.c: the golden check (golden.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "nn/net.h"
#include "nn/golden.h"
#include "data/safetensors.h"

const char *const fn_golden_field[FN_GOLDEN_NFIELDS] = {
    "input (formula)", "target (formula)", "output_train", "loss", "grad_l2", "grad_sample", "output_eval_after_adam"
};
const double fn_golden_tol[FN_GOLDEN_NFIELDS] = { 1e-6, 1e-6, 1e-4, 1e-4, 5e-3, 5e-3, 1e-2 };

/* ||a - b|| / ||b|| in double; NaN if any value is not finite */
static double relerr(const float *a, const float *b, size_t n) {
    double d = 0, r = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]) || !isfinite(b[i])) return NAN;
        d += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
        r += (double)b[i] * b[i];
    }
    return r > 0 ? sqrt(d / r) : sqrt(d);
}

static const float *field(const fn_st *st, const char *name, size_t numel, const char *path, fn_err *e) {
    const fn_st_tensor *t = fn_st_find(st, name);
    if (!t) { fn_seterr(e, "%s: no tensor %s", path, name); return NULL; }
    if (t->numel != numel) { fn_seterr(e, "%s: tensor %s has %zu values, expected %zu", path, name, t->numel, numel); return NULL; }
    return t->data;
}

/* the file's param_names, when present, must be the net's canonical order */
static int check_names(const fn_st *st, const fn_net *net, const char *path, fn_err *e) {
    const char *p = fn_st_meta(st, "param_names");
    if (!p) return 0;
    for (int i = 0; i < fn_net_nparams(net); i++) {
        const char *name = fn_net_param(net, i)->name;
        size_t l = strlen(name);
        if (strncmp(p, name, l) || (p[l] != ',' && p[l] != 0))
            return fn_seterr(e, "%s: parameter %d is %s here, not the file's", path, i, name);
        p += l + (p[l] == ',');
    }
    return *p ? fn_seterr(e, "%s: the file lists more parameters than the net has", path) : 0;
}

int fn_golden_run(fn_backend *be, const char *path, fn_golden_result *r, fn_err *e) {
    memset(r, 0, sizeof *r);
    fn_st st;
    if (fn_st_read(&st, path, e)) return -1;
    int rc = -1;
    fn_net *net = NULL;
    float *x = NULL, *t = NULL, *out = NULL, *ev = NULL, *g = NULL, *gl2 = NULL, *gs = NULL;
    const fn_st_tensor *in = fn_st_find(&st, "input");
    if (!in || in->ndim != 4 || in->shape[0] < 1 || in->shape[1] < 1) { fn_seterr(e, "%s: no input [N,C,H,W]", path); goto out; }
    r->N = (int)in->shape[0]; r->C = (int)in->shape[1]; r->H = (int)in->shape[2]; r->W = (int)in->shape[3];
    size_t nin = in->numel, nout = (size_t)r->N * r->H * r->W;
    const float *ref_t = field(&st, "target", nout, path, e);
    if (!ref_t) goto out;
    /* the comparison networks' files name their arch and width (FocusNet's: none, width 1) */
    const char *arch = fn_st_meta(&st, "arch"), *wid = fn_st_meta(&st, "width");
    fn_net_config cfg = { r->C, wid ? (float)strtod(wid, NULL) : 1.0f, arch ? fn_arch_parse(arch) : FN_ARCH_FOCUSNET };
    if (cfg.arch < 0) { fn_seterr(e, "%s: unknown architecture %s", path, arch); goto out; }
    if (!(net = fn_net_new(be, &cfg, e)) || fn_net_init_golden(net, e) || check_names(&st, net, path, e)) goto out;
    fn_net_set_dropout(net, 0.0f);
    int np = fn_net_nparams(net);
    for (int i = 0; i < np; i++) r->nconv += fn_net_param(net, i)->ndim == 4;
    const float *ref_out = field(&st, "output_train", nout, path, e), *ref_loss = field(&st, "loss", 1, path, e);
    const float *ref_l2 = ref_loss ? field(&st, "grad_l2", (size_t)np, path, e) : NULL;
    const float *ref_gs = ref_l2 ? field(&st, "grad_sample", (size_t)np * 8, path, e) : NULL;
    const float *ref_ev = ref_gs ? field(&st, "output_eval_after_adam", nout, path, e) : NULL;
    if (!ref_out || !ref_ev) goto out;
    x = malloc(sizeof *x * nin); t = malloc(sizeof *t * nout);
    out = malloc(sizeof *out * nout); ev = malloc(sizeof *ev * nout);
    g = malloc(sizeof *g * fn_net_numel(net));
    gl2 = malloc(sizeof *gl2 * (size_t)np); gs = malloc(sizeof *gs * (size_t)np * 8);
    if (!x || !t || !out || !ev || !g || !gl2 || !gs) { fn_seterr(e, "out of memory"); goto out; }

    for (size_t i = 0; i < nin; i++) x[i] = (float)fn_golden_u("input", i);
    for (size_t i = 0; i < nout; i++) t[i] = fn_golden_u("target", i) > 0 ? 1.0f : 0.0f;
    r->err[FN_GOLDEN_INPUT] = relerr(x, in->data, nin);
    r->err[FN_GOLDEN_TARGET] = relerr(t, ref_t, nout);

    float loss;
    if (fn_net_forward(net, x, r->N, r->H, r->W, 1, 0, out, e) || fn_net_backward(net, t, &loss, e) ||
        fn_net_get(net, FN_BUF_GRADS, g, e))
        goto out;
    for (int i = 0; i < np; i++) {
        const fn_param_info *p = fn_net_param(net, i);
        const float *gi = g + p->offset;
        double s = 0;
        for (size_t j = 0; j < p->numel; j++) s += (double)gi[j] * gi[j];
        gl2[i] = (float)sqrt(s);
        for (int j = 0; j < 8; j++) gs[i * 8 + j] = gi[(size_t)j * p->numel / 8];
    }
    if (fn_net_adam_step(net, 1e-3f, 0.9f, 0.999f, 1e-7f, 0, e) || fn_net_forward(net, x, r->N, r->H, r->W, 0, 0, ev, e))
        goto out;
    r->err[FN_GOLDEN_OUTPUT_TRAIN] = relerr(out, ref_out, nout);
    r->err[FN_GOLDEN_LOSS] = relerr(&loss, ref_loss, 1);
    r->err[FN_GOLDEN_GRAD_L2] = relerr(gl2, ref_l2, (size_t)np);
    r->err[FN_GOLDEN_GRAD_SAMPLE] = relerr(gs, ref_gs, (size_t)np * 8);
    r->err[FN_GOLDEN_OUTPUT_EVAL] = relerr(ev, ref_ev, nout);
    r->pass = 1;
    for (int k = 0; k < FN_GOLDEN_NFIELDS; k++) {
        char key[48];
        snprintf(key, sizeof key, "tol_%s", fn_golden_field[k]);
        const char *wide = fn_st_meta(&st, key);
        double w = wide ? strtod(wide, NULL) : 0;
        r->tol[k] = w > fn_golden_tol[k] ? w : fn_golden_tol[k];
        r->pass &= r->err[k] < r->tol[k];
    }
    rc = 0;
out:
    free(x); free(t); free(out); free(ev); free(g); free(gl2); free(gs);
    fn_net_free(net);
    fn_st_free(&st);
    return rc;
}

void fn_golden_tol_rounded(fn_golden_result *r, double u) {
    const double D = r->nconv;
    r->pass = 1;
    for (int k = 0; k < FN_GOLDEN_NFIELDS; k++) {
        const int grad = k == FN_GOLDEN_GRAD_L2 || k == FN_GOLDEN_GRAD_SAMPLE;
        const int fwd = k == FN_GOLDEN_OUTPUT_TRAIN || k == FN_GOLDEN_LOSS || k == FN_GOLDEN_OUTPUT_EVAL;
        if (grad || fwd) {
            const double bound = (grad ? 4 : 2) * D * u * (r->tol[k] / fn_golden_tol[k]);
            if (bound > r->tol[k]) r->tol[k] = bound;
        }
        r->pass &= r->err[k] < r->tol[k];
    }
}
