/* test_ordered: the ordered parallel map — results in order on any thread count, failures stop it at
 * the right place, nothing leaks */
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include "check.h"
#include "base/ordered.h"

typedef struct ctx {
    int fail_work, fail_emit; /* index that fails, or -1 */
    int emitted[200], nemitted;
    atomic_int live; /* results made and not yet emitted or dropped */
} ctx;

static int work(void *p, int i, void **res, fn_err *e) {
    ctx *c = p;
    struct timespec ts = {0, (long)((i * 7919) % 13) * 20000}; /* uneven work: finish out of order */
    nanosleep(&ts, NULL);
    if (i == c->fail_work) return fn_seterr(e, "work %d failed", i);
    int *v = malloc(sizeof *v);
    *v = i;
    atomic_fetch_add(&c->live, 1);
    *res = v;
    return 0;
}

static int emit(void *p, int i, void *res, fn_err *e) {
    ctx *c = p;
    int v = *(int *)res;
    free(res);
    atomic_fetch_sub(&c->live, 1);
    if (i == c->fail_emit) return fn_seterr(e, "emit %d failed", i);
    c->emitted[c->nemitted++] = v;
    return 0;
}

static void drop(void *p, void *res) {
    ctx *c = p;
    free(res);
    atomic_fetch_sub(&c->live, 1);
}

static void run(int n, int threads, int fail_work, int fail_emit, int *rc, ctx *c, fn_err *e) {
    c->fail_work = fail_work, c->fail_emit = fail_emit, c->nemitted = 0;
    atomic_store(&c->live, 0);
    *rc = fn_ordered_map(n, threads, work, emit, drop, c, e);
}

static void test_in_order(void) {
    static ctx c;
    fn_err e;
    int rc;
    for (int t = 0; t <= 5; t++) {
        run(150, t, -1, -1, &rc, &c, &e);
        CHECK(rc == 0 && c.nemitted == 150);
        for (int i = 0; i < c.nemitted; i++) CHECK(c.emitted[i] == i);
        CHECK(atomic_load(&c.live) == 0);
    }
    run(0, 3, -1, -1, &rc, &c, &e);
    CHECK(rc == 0 && c.nemitted == 0);
}

static void test_failures_stop_in_order(void) {
    static ctx c;
    fn_err e;
    int rc;
    for (int t = 1; t <= 4; t++) {
        run(120, t, 37, -1, &rc, &c, &e);
        CHECK(rc == -1 && c.nemitted == 37 && !strcmp(e.msg, "work 37 failed"));
        CHECK(atomic_load(&c.live) == 0);
        run(120, t, -1, 50, &rc, &c, &e);
        CHECK(rc == -1 && c.nemitted == 50 && !strcmp(e.msg, "emit 50 failed"));
        CHECK(atomic_load(&c.live) == 0);
        run(120, t, 0, -1, &rc, &c, &e);
        CHECK(rc == -1 && c.nemitted == 0);
        CHECK(atomic_load(&c.live) == 0);
    }
}

int main(void) {
    RUN(test_in_order);
    RUN(test_failures_stop_in_order);
    return check_report();
}
