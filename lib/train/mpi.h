/* mpi.h: the table of MPI calls that libfn-mpi.so (mpi/fn-mpi.c, built against the system's MPI)
 * exports, so that fn-train itself links no MPI and runs where none is installed.
 * No MPI header here: buffers are host memory, sizes in elements. */
#ifndef FN_TRAIN_MPI_H
#define FN_TRAIN_MPI_H

#include <stddef.h>

typedef struct fn_mpi fn_mpi;
struct fn_mpi {
    int rank, size;  /* in MPI_COMM_WORLD */
    int local_rank, local_size; /* among the ranks on this host (MPI_COMM_TYPE_SHARED) */
    void *impl;
    /* in-place sum over all ranks of n floats (dbl 0) or doubles (dbl 1); 0, or -1 with msg filled */
    int (*allreduce)(fn_mpi *m, void *buf, size_t n, int dbl, char *msg, size_t msglen);
    /* bytes of buf from root to every rank */
    int (*bcast)(fn_mpi *m, void *buf, size_t bytes, int root, char *msg, size_t msglen);
    /* MPI_Finalize and free */
    void (*close)(fn_mpi *m);
};

/* the one symbol libfn-mpi.so exports: MPI_Init (argc, argv may be NULL) and the table, or NULL with
 * msg filled */
typedef fn_mpi *(*fn_mpi_open_fn)(char *msg, size_t msglen);
#define FN_MPI_ENTRY "fn_mpi_open"

#endif
