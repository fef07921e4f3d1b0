/* comm.cu: data-parallel training on the GPU: synchronised batch norm (lib/backend/backend.h's fn_bn_sync) and
 * the collectives over NCCL. NCCL is loaded with dlopen (libnccl.so.2, or $FN_NCCL_LIB) when a
 * communicator is first made, so libfn-cuda.so still loads, and trains on one GPU, where NCCL is not
 * installed. Every collective is queued on the backend's stream.
 *
 * Sync-BN sums per channel, in double, over the replicas: forward {sum x, sum x^2} and the count (the
 * variance E[x^2] - mean^2 in double, as norm.cu); backward {sum dy, sum dy*(x-mean)} and the count.
 * dgamma and dbeta take this replica's sums (the parameter gradients are summed afterwards). */
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cu.h"

#if __has_include(<nccl.h>)
#include <nccl.h>
#define FN_HAVE_NCCL 1
#endif

/* per channel: red[ch] = s0, red[C+ch] = s1 (the block partials in order), red[2C] = m; bwd (dg, db not
 * NULL): this replica's dbeta += s0, dgamma += s1*invstd */
__global__ static void sync_totals(const double *part, int C, int splits, double m, double *red,
                                   const float *invstd, float *dgamma, float *dbeta) {
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch == 0) red[2 * C] = m;
    if (ch >= C) return;
    double a = 0, b = 0;
    const double *p = part + (size_t)ch * splits * 2;
    for (int j = 0; j < splits; j++) {
        a += p[2 * j];
        b += p[2 * j + 1];
    }
    red[ch] = a;
    red[C + ch] = b;
    if (dbeta) {
        dbeta[ch] += (float)a;
        dgamma[ch] += (float)(b * invstd[ch]);
    }
}

__global__ static void sync_fwd_finalize(const double *red, int C, const float *gamma, const float *beta, float *mean,
                                         float *invstd, float *rmean, float *rvar, float momentum, float eps,
                                         float *coef) {
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= C) return;
    const double m = red[2 * C];
    const double mu = red[ch] / m;
    cu_bn_finalize_chan(ch, C, m, mu, red[C + ch] / m - mu * mu, gamma, beta, mean, invstd, rmean, rvar, momentum,
                        eps, coef);
}

__global__ static void sync_bwd_finalize(const double *red, int C, const float *gamma, const float *mean,
                                         const float *invstd, float *coef) {
    int ch = blockIdx.x * blockDim.x + threadIdx.x;
    if (ch >= C) return;
    const double m = red[2 * C], sdy = red[ch], sdyx = red[C + ch];
    const float is = invstd[ch];
    coef[ch] = gamma[ch] * is;
    coef[C + ch] = (float)(-(double)gamma[ch] * is * is * is * sdyx / m);
    coef[2 * C + ch] = (float)(-(double)gamma[ch] * is * sdy / m);
    coef[3 * C + ch] = mean[ch];
}

void cu_bn_fwd_train_sync(cu_ctx *c, const float *x, const float *gamma, const float *beta, float *y,
                          float *mean, float *invstd, float *rmean, float *rvar,
                          int N, int C, int HW, float momentum, float eps) {
    cu_split s = cu_split_for(C, HW);
    double *part = (double *)cu_scratch(c, CU_SCR_RED, (size_t)C * s.splits * 2 * sizeof(double));
    double *red = (double *)cu_scratch(c, CU_SCR_SYNC, ((size_t)2 * C + 1) * sizeof(double));
    float *coef = (float *)cu_scratch(c, CU_SCR_COEF, (size_t)C * 2 * sizeof(float));
    const unsigned cb = (unsigned)((C + CU_THREADS - 1) / CU_THREADS);
    cu_chan_sums(c, 1, x, NULL, NULL, N, C, HW, part);
    sync_totals<<<cb, CU_THREADS, 0, c->stream>>>(part, C, s.splits, (double)N * HW, red, NULL, NULL, NULL);
    KCHECK();
    c->bn_sync.sum(c->bn_sync.ctx, red, (size_t)2 * C + 1);
    sync_fwd_finalize<<<cb, CU_THREADS, 0, c->stream>>>(red, C, gamma, beta, mean, invstd, rmean, rvar, momentum,
                                                        eps, coef);
    KCHECK();
    cu_chan_affine(c, x, y, coef, C, HW, (long)N * C);
}

void cu_bn_bwd_sync(cu_ctx *c, const float *x, const float *dy, const float *gamma,
                    const float *mean, const float *invstd, float *dx, float *dgamma, float *dbeta,
                    int N, int C, int HW, int acc) {
    cu_split s = cu_split_for(C, HW);
    double *part = (double *)cu_scratch(c, CU_SCR_RED, (size_t)C * s.splits * 2 * sizeof(double));
    double *red = (double *)cu_scratch(c, CU_SCR_SYNC, ((size_t)2 * C + 1) * sizeof(double));
    float *coef = (float *)cu_scratch(c, CU_SCR_COEF, (size_t)C * 4 * sizeof(float));
    const unsigned cb = (unsigned)((C + CU_THREADS - 1) / CU_THREADS);
    cu_chan_sums(c, 2, dy, x, mean, N, C, HW, part);
    sync_totals<<<cb, CU_THREADS, 0, c->stream>>>(part, C, s.splits, (double)N * HW, red, invstd, dgamma, dbeta);
    KCHECK();
    c->bn_sync.sum(c->bn_sync.ctx, red, (size_t)2 * C + 1);
    sync_bwd_finalize<<<cb, CU_THREADS, 0, c->stream>>>(red, C, gamma, mean, invstd, coef);
    KCHECK();
    cu_bn_bwd_apply(c, x, dy, dx, coef, C, HW, (long)N * C, acc);
}

static void cu_set_bn_sync(void *ctx, const fn_bn_sync *s) {
    cu_ctx *c = cu_enter(ctx);
    if (s) c->bn_sync = *s;
    else memset(&c->bn_sync, 0, sizeof c->bn_sync);
}

#ifdef FN_HAVE_NCCL
/* fn_seterr's job (libfn-cuda.so does not link lib/) */
__attribute__((format(printf, 2, 3))) static int seterr(fn_err *e, const char *fmt, ...) {
    if (!e) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return -1;
}

/* the NCCL calls we use, from libnccl.so.2 */
struct cu_comm {
    void *lib;
    ncclComm_t comm;
    ncclResult_t (*get_unique_id)(ncclUniqueId *);
    ncclResult_t (*init_rank)(ncclComm_t *, int, ncclUniqueId, int);
    ncclResult_t (*all_reduce)(const void *, void *, size_t, ncclDataType_t, ncclRedOp_t, ncclComm_t, cudaStream_t);
    ncclResult_t (*destroy)(ncclComm_t);
    const char *(*error_string)(ncclResult_t);
};

template <typename F> static int sym(void *lib, const char *name, F *f) {
    void *p = dlsym(lib, name);
    memcpy(f, &p, sizeof p); /* object pointer to function pointer, as POSIX allows */
    return p ? 0 : -1;
}

static int comm_load(cu_ctx *c, fn_err *e) {
    if (c->comm) return 0;
    const char *path = getenv("FN_NCCL_LIB");
    void *lib = dlopen(path && *path ? path : "libnccl.so.2", RTLD_NOW | RTLD_LOCAL);
    if (!lib) return seterr(e, "NCCL: %s", dlerror());
    cu_comm *m = (cu_comm *)calloc(1, sizeof *m);
    if (!m) { dlclose(lib); return seterr(e, "out of memory"); }
    m->lib = lib;
    if (sym(lib, "ncclGetUniqueId", &m->get_unique_id) || sym(lib, "ncclCommInitRank", &m->init_rank) ||
        sym(lib, "ncclAllReduce", &m->all_reduce) || sym(lib, "ncclCommDestroy", &m->destroy) ||
        sym(lib, "ncclGetErrorString", &m->error_string)) {
        free(m);
        dlclose(lib);
        return seterr(e, "NCCL: libnccl.so.2 lacks a function");
    }
    c->comm = m;
    return 0;
}

static int nccl_err(cu_comm *m, ncclResult_t r, const char *what, fn_err *e) {
    return r == ncclSuccess ? 0 : seterr(e, "NCCL %s: %s", what, m->error_string(r));
}

static int cu_comm_id(void *ctx, unsigned char *id, fn_err *e) {
    cu_ctx *c = cu_enter(ctx);
    if (comm_load(c, e)) return -1;
    ncclUniqueId u;
    if (nccl_err(c->comm, c->comm->get_unique_id(&u), "ncclGetUniqueId", e)) return -1;
    static_assert(sizeof u == FN_COMM_ID_BYTES, "NCCL's unique id is FN_COMM_ID_BYTES");
    memcpy(id, &u, sizeof u);
    return 0;
}

static int cu_comm_init(void *ctx, const unsigned char *id, int nranks, int rank, fn_err *e) {
    cu_ctx *c = cu_enter(ctx);
    if (comm_load(c, e)) return -1;
    ncclUniqueId u;
    memcpy(&u, id, sizeof u);
    return nccl_err(c->comm, c->comm->init_rank(&c->comm->comm, nranks, u, rank), "ncclCommInitRank", e);
}

static int cu_allreduce(void *ctx, void *buf, size_t n, int dbl, fn_err *e) {
    cu_ctx *c = cu_enter(ctx);
    if (!c->comm || !c->comm->comm) return seterr(e, "NCCL: no communicator");
    cu_written(c, buf, n * (dbl ? sizeof(double) : sizeof(float)));
    return nccl_err(c->comm, c->comm->all_reduce(buf, buf, n, dbl ? ncclFloat64 : ncclFloat32, ncclSum,
                                                 c->comm->comm, c->stream),
                    "ncclAllReduce", e);
}

void cu_comm_free(cu_ctx *c) {
    if (!c->comm) return;
    if (c->comm->comm) c->comm->destroy(c->comm->comm);
    /* the library stays loaded: NCCL's threads may outlive the communicator */
    free(c->comm);
    c->comm = NULL;
}

void cu_comm_init_table(fn_backend *be) {
    be->set_bn_sync = cu_set_bn_sync;
    be->comm_id = cu_comm_id;
    be->comm_init = cu_comm_init;
    be->allreduce = cu_allreduce;
}
#else
void cu_comm_free(cu_ctx *c) {}
/* sync-BN without NCCL works (the replicas' sums could come another way), but no collectives */
void cu_comm_init_table(fn_backend *be) { be->set_bn_sync = cu_set_bn_sync; }
#endif
