/* init.c: filling a net's parameters: He-normal for training, golden.md's formula for checks. */
#include <math.h>
#include <stdlib.h>
#include "nn/tape.h"

double fn_golden_u(const char *name, uint64_t i) {
    uint32_t h = 0x811C9DC5u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) h = (h ^ *p) * 0x01000193u;
    uint32_t v = ((uint32_t)i * 2654435761u + h) >> 8;
    return (double)v / 8388608.0 - 1.0;
}

/* splitmix64: a small deterministic host RNG */
static uint64_t sm64(uint64_t *s) {
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double unif(uint64_t *s) { return ((double)(sm64(s) >> 11) + 0.5) * (1.0 / 9007199254740992.0); }

/* standard normal truncated to [-2, 2] (redrawn outside), Box-Muller */
static double tnorm(uint64_t *s) {
    for (;;) {
        double z = sqrt(-2.0 * log(unif(s))) * cos(6.283185307179586 * unif(s));
        if (fabs(z) <= 2.0) return z;
    }
}

static int upload_stats_default(fn_net *n, fn_err *e) {
    float *h = malloc(sizeof *h * (n->snumel ? n->snumel : 1));
    if (!h) return fn_seterr(e, "out of memory");
    for (int i = 0; i < n->ns; i++)
        for (size_t j = 0; j < n->S[i].numel; j++) h[n->S[i].offset + j] = n->S[i].kind == FN_P_RUN_VAR ? 1.0f : 0.0f;
    n->be->upload(n->be->ctx, n->stats, h, n->snumel);
    free(h);
    return 0;
}

int fn_net_init_he(fn_net *n, uint64_t seed, fn_err *e) {
    float *h = malloc(sizeof *h * n->numel);
    if (!h) return fn_seterr(e, "out of memory");
    uint64_t s = seed ^ 0x6A09E667F3BCC909ull;
    for (int i = 0; i < n->np; i++) {
        const fn_param_info *p = &n->P[i];
        float *d = h + p->offset;
        double sd = p->fan_in ? sqrt(2.0 / p->fan_in) : 0;
        for (size_t j = 0; j < p->numel; j++) {
            switch (p->kind) {
            case FN_P_CONV_W: case FN_P_DENSE: d[j] = (float)(sd * tnorm(&s)); break;
            case FN_P_BN_GAMMA: d[j] = 1.0f; break;
            default: d[j] = 0.0f; break;
            }
        }
    }
    int rc = fn_net_set(n, FN_BUF_PARAMS, h, e); /* a new params_version with it */
    free(h);
    return rc ? rc : upload_stats_default(n, e);
}

int fn_net_init_golden(fn_net *n, fn_err *e) {
    float *h = malloc(sizeof *h * n->numel);
    if (!h) return fn_seterr(e, "out of memory");
    for (int i = 0; i < n->np; i++) {
        const fn_param_info *p = &n->P[i];
        float *d = h + p->offset;
        double sc = p->fan_in ? sqrt(6.0 / p->fan_in) : 0;
        for (size_t j = 0; j < p->numel; j++) {
            double u = fn_golden_u(p->name, j), v;
            switch (p->kind) {
            case FN_P_CONV_W: case FN_P_DENSE: v = u * sc; break;
            case FN_P_BN_GAMMA: v = 1.0 + 0.1 * u; break;
            default: v = 0.1 * u; break; /* conv bias, bn beta */
            }
            d[j] = (float)v;
        }
    }
    int rc = fn_net_set(n, FN_BUF_PARAMS, h, e); /* a new params_version with it */
    free(h);
    return rc ? rc : upload_stats_default(n, e);
}
