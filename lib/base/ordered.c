/* ordered.c: a parallel map with results in order, on pthreads (see ordered.h) */
#include <pthread.h>
#include <stdlib.h>
#include "base/ordered.h"

typedef struct slot {
    void *res;
    int state; /* 0 not done, 1 done, -1 failed */
    fn_err e;
} slot;

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t done, space;
    int n, window, next, emitted, stop;
    slot *s;
    fn_work_fn work;
    void *ctx;
} pool;

static void *worker(void *arg) {
    pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->next < p->n && p->next >= p->emitted + p->window) pthread_cond_wait(&p->space, &p->mu);
        if (p->stop || p->next >= p->n) break;
        int i = p->next++;
        pthread_mutex_unlock(&p->mu);
        void *res = NULL;
        fn_err e;
        int rc = p->work(p->ctx, i, &res, &e);
        pthread_mutex_lock(&p->mu);
        p->s[i].res = rc ? NULL : res;
        p->s[i].state = rc ? -1 : 1;
        if (rc) {
            p->s[i].e = e;
            p->stop = 1; /* every item before i is taken already and will finish */
        }
        pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

static int run_inline(int n, fn_work_fn work, fn_emit_fn emit, void *ctx, fn_err *e) {
    for (int i = 0; i < n; i++) {
        void *res = NULL;
        if (work(ctx, i, &res, e) || emit(ctx, i, res, e)) return -1;
    }
    return 0;
}

int fn_ordered_map(int n, int threads, fn_work_fn work, fn_emit_fn emit, fn_drop_fn drop, void *ctx, fn_err *e) {
    if (threads > n) threads = n;
    if (threads <= 1) return run_inline(n, work, emit, ctx, e);
    pool p = {.n = n, .window = 2 * threads, .work = work, .ctx = ctx};
    pthread_t *tid = malloc((size_t)threads * sizeof *tid);
    if (!tid || !(p.s = calloc((size_t)n, sizeof *p.s))) {
        free(tid);
        return run_inline(n, work, emit, ctx, e);
    }
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.done, NULL);
    pthread_cond_init(&p.space, NULL);
    int started = 0;
    while (started < threads && !pthread_create(&tid[started], NULL, worker, &p)) started++;

    int rc = 0, i = 0;
    if (!started) { /* no thread to be had: do the work here */
        p.stop = 1;
        rc = run_inline(n, work, emit, ctx, e);
        i = n;
    }
    for (; i < n; i++) {
        pthread_mutex_lock(&p.mu);
        while (!p.s[i].state) pthread_cond_wait(&p.done, &p.mu);
        pthread_mutex_unlock(&p.mu);
        if (p.s[i].state < 0) {
            *e = p.s[i].e;
            rc = -1;
            break;
        }
        void *res = p.s[i].res;
        p.s[i].res = NULL; /* emit takes it over, also when it fails */
        if (emit(ctx, i, res, e)) {
            rc = -1;
            break;
        }
        pthread_mutex_lock(&p.mu);
        p.emitted = i + 1;
        pthread_cond_broadcast(&p.space);
        pthread_mutex_unlock(&p.mu);
    }
    pthread_mutex_lock(&p.mu);
    p.stop = 1;
    pthread_cond_broadcast(&p.space);
    pthread_mutex_unlock(&p.mu);
    for (int k = 0; k < started; k++) pthread_join(tid[k], NULL);
    for (int k = 0; k < n; k++)
        if (p.s[k].res && drop) drop(ctx, p.s[k].res);
    pthread_cond_destroy(&p.space);
    pthread_cond_destroy(&p.done);
    pthread_mutex_destroy(&p.mu);
    free(p.s);
    free(tid);
    return rc;
}
