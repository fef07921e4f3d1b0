/* fn-mpi.c: libfn-mpi.so, the MPI calls of data-parallel fn-train (lib/train/mpi.h), built with mpicc
 * and loaded with dlopen by lib/train/dist.c only when a launcher (mpirun, srun) started the process. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include "train/mpi.h"

#define CHUNK ((size_t)1 << 30) /* elements per call: MPI counts are int */

static int fail(int rc, const char *what, char *msg, size_t msglen) {
    char s[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, s, &len);
    snprintf(msg, msglen, "%s: %s", what, s);
    return -1;
}

static int allreduce(fn_mpi *m, void *buf, size_t n, int dbl, char *msg, size_t msglen) {
    size_t sz = dbl ? sizeof(double) : sizeof(float);
    for (size_t i = 0; i < n; i += CHUNK) {
        int k = (int)(n - i < CHUNK ? n - i : CHUNK);
        int rc = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + i * sz, k, dbl ? MPI_DOUBLE : MPI_FLOAT, MPI_SUM,
                               MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return fail(rc, "MPI_Allreduce", msg, msglen);
    }
    return 0;
}

static int bcast(fn_mpi *m, void *buf, size_t bytes, int root, char *msg, size_t msglen) {
    for (size_t i = 0; i < bytes; i += CHUNK) {
        int k = (int)(bytes - i < CHUNK ? bytes - i : CHUNK);
        int rc = MPI_Bcast((char *)buf + i, k, MPI_BYTE, root, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS) return fail(rc, "MPI_Bcast", msg, msglen);
    }
    return 0;
}

static void mpi_close(fn_mpi *m) {
    MPI_Finalize();
    free(m);
}

__attribute__((visibility("default"))) fn_mpi *fn_mpi_open(char *msg, size_t msglen) {
    int rc = MPI_Init(NULL, NULL);
    if (rc != MPI_SUCCESS) { fail(rc, "MPI_Init", msg, msglen); return NULL; }
    fn_mpi *m = calloc(1, sizeof *m);
    MPI_Comm local;
    if (!m || MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local) != MPI_SUCCESS) {
        snprintf(msg, msglen, "MPI: out of memory");
        free(m);
        MPI_Finalize();
        return NULL;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m->size);
    MPI_Comm_rank(local, &m->local_rank);
    MPI_Comm_size(local, &m->local_size);
    MPI_Comm_free(&local);
    m->allreduce = allreduce;
    m->bcast = bcast;
    m->close = mpi_close;
    return m;
}
