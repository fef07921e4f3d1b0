/* dist.h: data-parallel training over MPI: one replica of the net per rank (process), started by an
 * MPI launcher (mpirun, srun). Without one, a job of one rank that does nothing extra.
 *
 * Every global batch is cut into contiguous slices, one per rank (fn_dist_slice), so that the frames
 * a step sees and the order of the steps do not depend on the number of ranks. Each rank weighs its
 * Dice loss by its share of the batch (fn_net_set_replica), so the sum of the ranks' gradients is the
 * gradient of the whole batch; the sum is taken with MPI_Allreduce on the host (CPU backend) or with
 * the backend's own collectives (CUDA: NCCL, its id sent over MPI). With sync-BN the backend sums the
 * batch-norm statistics over the ranks too, so the ranks compute the step one process computes with
 * the whole batch; without it each rank normalises by its own slice and the running statistics are
 * averaged over the ranks before each validation.
 *
 * MPI itself is in libfn-mpi.so (lib/train/mpi.h), loaded at run time from $FN_MPI_LIB, else beside
 * the program (<exe dir>/../lib/fn/, <exe dir>/../). */
#ifndef FN_TRAIN_DIST_H
#define FN_TRAIN_DIST_H

#include "base/err.h"
#include "nn/net.h"

typedef struct fn_dist fn_dist;

/* Join the launcher's job (MPI_Init), or a job of one when no launcher started this process (or one of
 * one rank). NULL with e set when a launcher started it but MPI cannot be loaded. */
fn_dist *fn_dist_open(fn_err *e);
void fn_dist_close(fn_dist *d); /* MPI_Finalize */
/* d may be NULL in all the calls below: one process */
int fn_dist_rank(const fn_dist *d);
int fn_dist_size(const fn_dist *d);
/* the device to open for the user's --device: "cuda" becomes the rank's local GPU "cuda:K" */
const char *fn_dist_device(const fn_dist *d, const char *device, char *buf, size_t n);
/* CPU threads for the user's --threads (0: all): all the cores shared by the ranks on this host */
int fn_dist_threads(const fn_dist *d, int threads);

/* this rank's frames [*lo, *hi) of a batch of nb: rank r of R gets [nb*r/R, nb*(r+1)/R) */
void fn_dist_slice(const fn_dist *d, int nb, int *lo, int *hi);

/* The replicas' reductions on net's backend: NCCL communicator (CUDA), sync-BN when sync_bn. */
int fn_dist_attach(fn_dist *d, fn_net *net, int sync_bn, fn_err *e);
/* This rank has no frame in the step to come: it runs a stand-in frame whose batch-norm sums count
 * for nothing (sync-BN) and whose loss weighs 0. */
void fn_dist_set_idle(fn_dist *d, int idle);
/* sum the parameter gradients over the ranks */
int fn_dist_sum_grads(fn_dist *d, fn_net *net, fn_err *e);
/* the running statistics averaged over the ranks (nothing to do with sync-BN: they agree) */
int fn_dist_average_stats(fn_dist *d, fn_net *net, fn_err *e);
/* sum v[0..n-1] over the ranks (host) */
int fn_dist_sum(fn_dist *d, double *v, int n, fn_err *e);

#endif
