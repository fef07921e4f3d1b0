/* test_replicas.c: data-parallel training without MPI. Two replicas of a tiny FocusNet run in two
 * threads, each on its own CPU backend, their batch-norm sums exchanged through memory (lib/backend/backend.h's
 * fn_bn_sync): with each replica's loss weighted by its share (fn_net_set_replica), the replicas'
 * gradients sum to those of one net on the whole batch, their outputs and running statistics are the
 * whole batch's, and dropout draws the whole batch's masks. Splits 2+2, 1+3 and 4+0 (a replica without a
 * frame runs a stand-in whose sums count for nothing). Also the file-backed store and the loader. */
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>
#include "check.h"
#include "nn/net.h"
#include "train/batch.h"
#include "train/loader.h"
#include "train/store.h"

enum { N = 4, H = 32, W = 32, PX = H * W };

typedef struct {
    pthread_barrier_t bar;
    double *slot[2];
    size_t n[2];
} exchange;

typedef struct {
    exchange *ex;
    int rank, idle;
} peer;

/* sum buf over the two replicas: each publishes its buffer, both add the other's */
static void ex_sum(void *ctx, double *buf, size_t n) {
    peer *p = ctx;
    exchange *x = p->ex;
    double *mine = malloc(sizeof *mine * n);
    for (size_t i = 0; i < n; i++) mine[i] = p->idle ? 0.0 : buf[i];
    x->slot[p->rank] = mine;
    x->n[p->rank] = n;
    pthread_barrier_wait(&x->bar);
    const double *other = x->slot[1 - p->rank];
    for (size_t i = 0; i < n; i++) buf[i] = p->rank == 0 ? mine[i] + other[i] : other[i] + mine[i];
    pthread_barrier_wait(&x->bar);
    free(mine);
}

typedef struct {
    peer p;
    const float *x, *t; /* whole batch */
    int lo, nl;         /* this replica's frames */
    float *grads, *out, *stats;
    int rc;
} job;

static fn_net *tiny(fn_backend **be) {
    fn_err e;
    *be = fn_cpu_backend_new(1, &e);
    fn_net_config nc = { 1, 0.125f, FN_ARCH_FOCUSNET };
    fn_net *net = *be ? fn_net_new(*be, &nc, &e) : NULL;
    if (net && fn_net_init_he(net, 5, &e)) { fn_net_free(net); net = NULL; }
    return net;
}

static void *replica(void *arg) {
    job *j = arg;
    fn_err e;
    fn_backend *be;
    fn_net *net = tiny(&be);
    j->rc = -1;
    if (!net) return NULL;
    fn_bn_sync s = { &j->p, ex_sum };
    be->set_bn_sync(be->ctx, &s);
    j->p.idle = j->nl == 0;
    int lo = j->nl ? j->lo : 0, nl = j->nl ? j->nl : 1;
    fn_net_set_replica(net, lo, (float)j->nl / N);
    float loss;
    float *out = j->nl ? j->out + (size_t)lo * PX : malloc(sizeof *out * PX);
    if (!fn_net_forward(net, j->x + (size_t)lo * PX, nl, H, W, 1, 99, out, &e) &&
        !fn_net_backward(net, j->t + (size_t)lo * PX, &loss, &e) && !fn_net_get(net, FN_BUF_GRADS, j->grads, &e) &&
        !fn_net_get(net, FN_BUF_STATS, j->stats, &e))
        j->rc = 0;
    if (!j->nl) free(out);
    be->set_bn_sync(be->ctx, NULL);
    fn_net_free(net);
    be->destroy(be);
    return NULL;
}

static double maxrel(const float *a, const float *b, size_t n) {
    double amax = 0, d = 0;
    for (size_t i = 0; i < n; i++) {
        amax = fmax(amax, fabs(a[i]));
        d = fmax(d, fabs((double)a[i] - b[i]));
    }
    return d / (amax > 0 ? amax : 1);
}

static void split(int n0) {
    static float x[N * PX], t[N * PX], out1[N * PX], out2[N * PX];
    for (int i = 0; i < N * PX; i++) {
        x[i] = (float)fn_golden_u("x", (uint64_t)i);
        t[i] = fn_golden_u("t", (uint64_t)i) > 0 ? 1.0f : 0.0f;
    }
    fn_err e;
    fn_backend *be;
    fn_net *ref = tiny(&be);
    CHECK(ref != NULL);
    if (!ref) return;
    size_t np = fn_net_numel(ref), ns = fn_net_stats_numel(ref);
    float *g = malloc(sizeof *g * np), *st = malloc(sizeof *st * ns), loss;
    CHECK(!fn_net_forward(ref, x, N, H, W, 1, 99, out1, &e) && !fn_net_backward(ref, t, &loss, &e) &&
          !fn_net_get(ref, FN_BUF_GRADS, g, &e) && !fn_net_get(ref, FN_BUF_STATS, st, &e));
    exchange ex;
    pthread_barrier_init(&ex.bar, NULL, 2);
    job j[2];
    pthread_t th[2];
    for (int r = 0; r < 2; r++) {
        j[r] = (job){ .p = { &ex, r, 0 }, .x = x, .t = t, .lo = r ? n0 : 0, .nl = r ? N - n0 : n0 };
        j[r].grads = malloc(sizeof(float) * np);
        j[r].stats = malloc(sizeof(float) * ns);
        j[r].out = out2;
        pthread_create(&th[r], NULL, replica, &j[r]);
    }
    for (int r = 0; r < 2; r++) pthread_join(th[r], NULL);
    CHECK(j[0].rc == 0 && j[1].rc == 0);
    for (size_t i = 0; i < np; i++) j[0].grads[i] += j[1].grads[i];
    double dg = maxrel(g, j[0].grads, np), ds = maxrel(st, j[0].stats, ns), ds1 = maxrel(st, j[1].stats, ns);
    double dout = maxrel(out1, out2, (size_t)N * PX);
    CHECKF(dg < 1e-5, "split %d+%d: gradients differ by %g of the largest", n0, N - n0, dg);
    CHECKF(ds < 1e-6 && ds1 < 1e-6, "split %d+%d: statistics differ by %g, %g", n0, N - n0, ds, ds1);
    CHECKF(dout < 1e-5, "split %d+%d: outputs differ by %g", n0, N - n0, dout);
    for (int r = 0; r < 2; r++) { free(j[r].grads); free(j[r].stats); }
    pthread_barrier_destroy(&ex.bar);
    free(g); free(st);
    fn_net_free(ref);
    be->destroy(be);
}

static void test_split_even(void) { split(2); }
static void test_split_uneven(void) { split(1); }
static void test_split_idle(void) { split(4); }

/* a stream in a file, read back through the store and the loader, equals the in-memory set */
static void test_store(void) {
    char path[] = "/tmp/fn-test-store.XXXXXX";
    int fd = mkstemp(path);
    fn_err e;
    CHECK(fd >= 0);
    for (int k = 0; k < 5; k++) {
        fn_frame f;
        fn_frame_init(&f);
        fn_frame_set_id(&f, "s", &e);
        f.image = fn_tensor_new(FN_U8, 2, 16, 16, &e);
        f.mask = fn_tensor_new(FN_U8, 1, 16, 16, &e);
        for (size_t i = 0; i < 2 * 256; i++) fn_tensor_set(f.image, i, (double)((i * 7 + (size_t)k * 31) % 251));
        for (size_t i = 0; i < 256; i++) fn_tensor_set(f.mask, i, (double)((i + (size_t)k) % 2));
        CHECK(!fn_frame_write(fd, &f, &e));
        fn_frame_clear(&f);
    }
    close(fd);
    fn_dataset mem, disk;
    fn_reader *r = fn_reader_open_path(path, &e);
    CHECK(r && !fn_dataset_read(&mem, r, 1, &e));
    fn_reader_close(r);
    CHECKF(!fn_store_open(&disk, path, 1, &e), "%s", e.msg);
    CHECK(disk.n == 5 && disk.c == 2 && disk.h == 16 && !disk.x && !fn_store_spilled(disk.store));
    CHECK(fn_dataset_fingerprint(&mem) == fn_dataset_fingerprint(&disk));
    fn_loader *a = fn_loader_new(&mem, 3, 1, &e), *b = fn_loader_new(&disk, 3, 1, &e);
    int idx[3] = { 4, 0, 2 };
    float *xa, *ya, *xb, *yb;
    fn_loader_start(a, idx, 3);
    fn_loader_start(b, idx, 3);
    CHECK(!fn_loader_wait(a, &xa, &ya, &e) && !fn_loader_wait(b, &xb, &yb, &e));
    CHECK(!memcmp(xa, xb, sizeof *xa * 3 * 2 * 256) && !memcmp(ya, yb, sizeof *ya * 3 * 256));
    CHECK(xa[0] == (float)((4 * 31) % 251) && ya[0] == 0 && ya[256] == 0 && ya[257] == 1);
    fn_loader_free(a);
    fn_loader_free(b);
    fn_dataset_free(&mem);
    fn_dataset_free(&disk);
    unlink(path);
}

int main(void) {
    RUN(test_split_even);
    RUN(test_split_uneven);
    RUN(test_split_idle);
    RUN(test_store);
    return check_report();
}
