/* dist.c: the ranks of a data-parallel fn-train and their reductions. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/dlib.h"
#include "train/dist.h"
#include "train/mpi.h"

struct fn_dist {
    fn_mpi *mpi;
    fn_backend *be;  /* attached */
    int device_comm; /* the backend's collectives sum device buffers (else MPI on host memory) */
    int sync_bn, idle;
    int failed;      /* a reduction inside a backend op failed: err */
    fn_err err;
};

/* a launcher of more than one rank started this process */
static int launched(void) {
    const char *n = getenv("OMPI_COMM_WORLD_SIZE");
    if (!n) n = getenv("PMI_SIZE");
    if (!n) n = getenv("PMIX_RANK") ? "?" : NULL;
    if (!n && getenv("SLURM_PROCID")) n = getenv("SLURM_NTASKS"); /* srun: MPI_Init must then see them all */
    return n && strcmp(n, "1") != 0;
}

/* RTLD_GLOBAL: Open MPI's own plugins need libmpi's symbols */
static void *open_lib(char *why, size_t why_len) {
    return fn_dlopen_beside("FN_MPI_LIB", "libfn-mpi.so", RTLD_NOW | RTLD_GLOBAL,
                            "build it with MPI installed, or set FN_MPI_LIB", why, why_len);
}

fn_dist *fn_dist_open(fn_err *e) {
    fn_dist *d = calloc(1, sizeof *d);
    if (!d) { fn_seterr(e, "out of memory"); return NULL; }
    if (!launched()) return d;
    char why[512];
    void *h = open_lib(why, sizeof why);
    void *sym = h ? dlsym(h, FN_MPI_ENTRY) : NULL;
    if (!sym) {
        fn_seterr(e, "started by an MPI launcher, but %s", h ? "libfn-mpi.so has no " FN_MPI_ENTRY : why);
        free(d);
        return NULL;
    }
    fn_mpi_open_fn op;
    memcpy(&op, &sym, sizeof op); /* object pointer to function pointer, as POSIX allows */
    if (!(d->mpi = op(why, sizeof why))) {
        fn_seterr(e, "%s", why);
        free(d);
        return NULL;
    }
    const char *tasks = getenv("SLURM_NTASKS");
    if (d->mpi->size == 1 && getenv("SLURM_PROCID") && tasks && strcmp(tasks, "1") != 0) {
        fn_seterr(e, "srun started %s tasks but MPI sees one (try srun --mpi=pmix)", tasks);
        d->mpi->close(d->mpi);
        free(d);
        return NULL;
    }
    return d;
}

void fn_dist_close(fn_dist *d) {
    if (!d) return;
    if (d->be && d->be->set_bn_sync) d->be->set_bn_sync(d->be->ctx, NULL);
    if (d->mpi) d->mpi->close(d->mpi);
    free(d);
}

int fn_dist_rank(const fn_dist *d) { return d && d->mpi ? d->mpi->rank : 0; }
int fn_dist_size(const fn_dist *d) { return d && d->mpi ? d->mpi->size : 1; }

const char *fn_dist_device(const fn_dist *d, const char *device, char *buf, size_t n) {
    if (fn_dist_size(d) == 1 || strcmp(device, "cuda") != 0) return device;
    snprintf(buf, n, "cuda:%d", d->mpi->local_rank);
    return buf;
}

int fn_dist_threads(const fn_dist *d, int threads) {
    if (threads > 0 || fn_dist_size(d) == 1) return threads;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    int t = (int)(cores / d->mpi->local_size);
    return t > 0 ? t : 1;
}

void fn_dist_slice(const fn_dist *d, int nb, int *lo, int *hi) {
    int r = fn_dist_rank(d), R = fn_dist_size(d);
    *lo = (int)((long)nb * r / R);
    *hi = (int)((long)nb * (r + 1) / R);
}

/* sum a device buffer of the attached backend over the ranks */
static int sum_device(fn_dist *d, void *buf, size_t n, int dbl, fn_err *e) {
    if (d->device_comm) return d->be->allreduce(d->be->ctx, buf, n, dbl, e);
    return d->mpi->allreduce(d->mpi, buf, n, dbl, e->msg, sizeof e->msg);
}

/* fn_bn_sync's sum: a stand-in frame's sums count for nothing */
static void bn_sum(void *ctx, double *buf, size_t n) {
    fn_dist *d = ctx;
    if (d->idle) d->be->fill(d->be->ctx, (float *)buf, 0.0f, 2 * n); /* all bits zero: 0.0 */
    fn_err e;
    if (!d->failed && sum_device(d, buf, n, 1, &e)) {
        d->failed = 1;
        d->err = e;
    }
}

int fn_dist_attach(fn_dist *d, fn_net *net, int sync_bn, fn_err *e) {
    if (fn_dist_size(d) == 1) return 0;
    fn_backend *be = fn_net_backend(net);
    d->be = be;
    if (be->allreduce) {
        unsigned char id[FN_COMM_ID_BYTES] = { 0 };
        if (!be->comm_id || !be->comm_init) return fn_seterr(e, "the %s backend cannot join replicas", be->name);
        if (d->mpi->rank == 0 && be->comm_id(be->ctx, id, e)) return -1;
        if (d->mpi->bcast(d->mpi, id, sizeof id, 0, e->msg, sizeof e->msg)) return -1;
        if (be->comm_init(be->ctx, id, d->mpi->size, d->mpi->rank, e)) return -1;
        d->device_comm = 1;
    } else if (strcmp(be->name, "cpu") != 0) {
        return fn_seterr(e, "the %s backend has no collectives for data-parallel training", be->name);
    }
    if (sync_bn) {
        if (!be->set_bn_sync) return fn_seterr(e, "the %s backend has no synchronised batch norm", be->name);
        fn_bn_sync s = { d, bn_sum };
        be->set_bn_sync(be->ctx, &s);
        d->sync_bn = 1;
    }
    return 0;
}

void fn_dist_set_idle(fn_dist *d, int idle) {
    if (d) d->idle = idle;
}

static int failed(fn_dist *d, fn_err *e) {
    if (!d->failed) return 0;
    *e = d->err;
    return -1;
}

int fn_dist_sum_grads(fn_dist *d, fn_net *net, fn_err *e) {
    if (fn_dist_size(d) == 1) return 0;
    if (failed(d, e)) return -1;
    d->be->sync(d->be->ctx);
    return sum_device(d, fn_net_device(net, FN_BUF_GRADS), fn_net_numel(net), 0, e);
}

int fn_dist_average_stats(fn_dist *d, fn_net *net, fn_err *e) {
    if (fn_dist_size(d) == 1 || d->sync_bn) return 0;
    float *s = fn_net_device(net, FN_BUF_STATS);
    size_t n = fn_net_stats_numel(net);
    d->be->sync(d->be->ctx);
    if (sum_device(d, s, n, 0, e)) return -1;
    d->be->axpy(d->be->ctx, 1.0f / (float)d->mpi->size - 1.0f, s, s, n); /* s *= 1/size */
    return 0;
}

int fn_dist_sum(fn_dist *d, double *v, int n, fn_err *e) {
    if (fn_dist_size(d) == 1) return 0;
    if (failed(d, e)) return -1;
    return d->mpi->allreduce(d->mpi, v, (size_t)n, 1, e->msg, sizeof e->msg);
}
