/* loader.c: double-buffered batch reading, one worker thread per loader. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "train/batch.h"
#include "train/loader.h"
#include "train/store.h"

struct fn_loader {
    const fn_dataset *ds;
    int maxb, with_mask;
    float *x[2], *y[2]; /* [maxb,c,h,w], [maxb,1,h,w] */
    int *idx;           /* [maxb] the batch being read */
    int nb, slot;       /* its size and buffer */
    /* the worker: job 1 = a batch to read, done 1 = read (rc, err) */
    pthread_t th;
    int started, job, done, quit, rc;
    fn_err err;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    fn_store_buf buf;
};

static int load(fn_loader *l, fn_err *e) {
    const fn_dataset *ds = l->ds;
    size_t px = (size_t)ds->c * ds->h * ds->w, py = (size_t)ds->h * ds->w;
    float *x = l->x[l->slot], *y = l->y[l->slot];
    if (!ds->store) {
        fn_gather(ds, l->idx, l->nb, x, y);
        return 0;
    }
    for (int i = 0; i < l->nb; i++)
        if (fn_store_read(ds->store, l->idx[i], x + px * i, y ? y + py * i : NULL, &l->buf, e)) return -1;
    return 0;
}

static void *worker(void *arg) {
    fn_loader *l = arg;
    pthread_mutex_lock(&l->mu);
    for (;;) {
        while (!l->job && !l->quit) pthread_cond_wait(&l->cv, &l->mu);
        if (l->quit) break;
        pthread_mutex_unlock(&l->mu);
        fn_err e = { { 0 } };
        int rc = load(l, &e);
        pthread_mutex_lock(&l->mu);
        l->rc = rc;
        l->err = e;
        l->job = 0;
        l->done = 1;
        pthread_cond_broadcast(&l->cv);
    }
    pthread_mutex_unlock(&l->mu);
    return NULL;
}

fn_loader *fn_loader_new(const fn_dataset *ds, int maxb, int with_mask, fn_err *e) {
    fn_loader *l = calloc(1, sizeof *l);
    size_t px = (size_t)ds->c * ds->h * ds->w, py = (size_t)ds->h * ds->w;
    if (!l) goto oom;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    l->ds = ds;
    l->maxb = maxb;
    l->with_mask = with_mask && (ds->y || ds->store);
    if (!(l->idx = malloc(sizeof *l->idx * (size_t)maxb))) goto oom;
    for (int k = 0; k < 2; k++) {
        if (!(l->x[k] = malloc(sizeof(float) * px * (size_t)maxb))) goto oom;
        if (l->with_mask && !(l->y[k] = malloc(sizeof(float) * py * (size_t)maxb))) goto oom;
    }
    l->slot = 1;
    if (ds->store) {
        if (pthread_create(&l->th, NULL, worker, l)) {
            fn_loader_free(l);
            fn_seterr(e, "cannot start the reading thread");
            return NULL;
        }
        l->started = 1;
    }
    return l;
oom:
    fn_loader_free(l);
    fn_seterr(e, "out of memory for two batches of %d frames", maxb);
    return NULL;
}

void fn_loader_start(fn_loader *l, const int *idx, int nb) {
    pthread_mutex_lock(&l->mu);
    memcpy(l->idx, idx, sizeof *idx * (size_t)nb);
    l->nb = nb;
    l->slot ^= 1;
    l->done = 0;
    if (l->started) {
        l->job = 1;
        pthread_cond_broadcast(&l->cv);
    } else {
        l->rc = load(l, &l->err);
        l->done = 1;
    }
    pthread_mutex_unlock(&l->mu);
}

int fn_loader_wait(fn_loader *l, float **x, float **y, fn_err *e) {
    pthread_mutex_lock(&l->mu);
    while (!l->done) pthread_cond_wait(&l->cv, &l->mu);
    int rc = l->rc;
    if (rc && e) *e = l->err;
    pthread_mutex_unlock(&l->mu);
    *x = l->x[l->slot];
    if (y) *y = l->y[l->slot];
    return rc;
}

void fn_loader_free(fn_loader *l) {
    if (!l) return;
    if (l->started) {
        pthread_mutex_lock(&l->mu);
        l->quit = 1;
        pthread_cond_broadcast(&l->cv);
        pthread_mutex_unlock(&l->mu);
        pthread_join(l->th, NULL);
    }
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cv);
    for (int k = 0; k < 2; k++) { free(l->x[k]); free(l->y[k]); }
    free(l->idx);
    fn_store_buf_free(&l->buf);
    free(l);
}
