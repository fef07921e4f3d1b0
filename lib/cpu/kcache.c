/* kcache.c: the Winograd-transformed kernels of frozen parameters, kept across inference forwards.
 *
 * A Winograd convolution starts by transforming its kernels (U = G g G^T: 36 floats per 3x3 kernel),
 * which for a small image or a small batch is a good share of its time and memory traffic. While the
 * graph promises that its parameters do not change (params_frozen in backend.h: the same pointer, size
 * and version), the transforms of the forward kernels that lie in them are kept, one allocation per
 * convolution (in bf16: the rounded kernels in the layout of oneDNN's convolution, dnnconv.c), up to
 * FN_CPU_KCACHE_MB (default 1024; 0 keeps none). Backward passes, training forwards and kernels outside
 * the frozen parameters are transformed on every call, as before. */
#include <stdint.h>
#include <stdlib.h>
#include "cpu.h"

typedef struct cpu_kern {
    const float *w;   /* the kernels [Co, Ci, k, k] in the frozen parameters */
    int Co, Ci, k;
    uint64_t tag;     /* what U is: 0 the Winograd transform, else the layout of dnnconv.c's kernels */
    float *U;         /* their transform [n] */
    size_t n;
} cpu_kern;

void cpu_kcache_drop(cpu_ctx *c) {
    for (int i = 0; i < c->nkern; i++) free(c->kern[i].U);
    free(c->kern);
    c->kern = NULL, c->nkern = c->kern_capn = 0, c->kern_floats = 0;
    c->frozen = NULL, c->frozen_n = 0, c->frozen_version = 0;
}

void cpu_params_frozen(void *ctx, const float *p, size_t n, uint64_t version) {
    cpu_ctx *c = ctx;
    if (p == c->frozen && n == c->frozen_n && version == c->frozen_version) return;
    cpu_kcache_drop(c);
    c->frozen = p, c->frozen_n = n, c->frozen_version = version;
}

/* [w, w + len) inside the frozen parameters (compared as addresses: they may be other objects) */
static int in_frozen(const cpu_ctx *c, const float *w, size_t len) {
    uintptr_t a = (uintptr_t)w, lo = (uintptr_t)c->frozen, hi = lo + c->frozen_n * sizeof(float);
    return c->frozen && a >= lo && a + len * sizeof(float) <= hi;
}

int cpu_kcache_covers(const cpu_ctx *c, const float *w, size_t len) {
    return !c->training && c->kern_max > 0 && in_frozen(c, w, len);
}

float *cpu_kcache_get(cpu_ctx *c, const float *w, int Co, int Ci, int k, size_t n, uint64_t tag, int *fresh) {
    *fresh = 0;
    if (!cpu_kcache_covers(c, w, (size_t)Co * Ci * k * k)) return NULL;
    for (int i = 0; i < c->nkern; i++) {
        const cpu_kern *e = &c->kern[i];
        if (e->w == w && e->Co == Co && e->Ci == Ci && e->k == k && e->n == n && e->tag == tag) return e->U;
    }
    if (c->kern_floats + n > c->kern_max) return NULL;
    if (c->nkern == c->kern_capn) {
        int cap = c->kern_capn ? 2 * c->kern_capn : 32;
        cpu_kern *g = realloc(c->kern, sizeof *g * (size_t)cap);
        if (!g) return NULL;
        c->kern = g, c->kern_capn = cap;
    }
    void *U = NULL;
    if (posix_memalign(&U, 64, n * sizeof(float))) return NULL; /* not an error: transform per call */
    c->kern[c->nkern++] = (cpu_kern){ w, Co, Ci, k, tag, U, n };
    c->kern_floats += n;
    *fresh = 1;
    return U;
}

void cpu_kcache_forget(cpu_ctx *c, const void *U) {
    for (int i = 0; i < c->nkern; i++)
        if (c->kern[i].U == U) {
            c->kern_floats -= c->kern[i].n;
            free(c->kern[i].U);
            c->kern[i] = c->kern[--c->nkern];
            return;
        }
}
