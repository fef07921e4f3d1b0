/* test_plan: the activation arena's plan (lib/nn/plan.h) on the CPU: lifetimes to offsets, no two
 * buffers alive at the same time overlapping, the arena between the peak of live sizes and their sum,
 * the same offsets for any order of the items; and the plan of a real net (FocusNet's training arena).
 * Then when inference forwards are recorded and replayed (lib/nn/capture.h): the decisions alone, and a
 * net on the CPU backend with stand-in capture entries that count the calls. */
#include <stdint.h>
#include <stdlib.h>
#include "check.h"
#include "backend/backend.h"
#include "nn/net.h"
#include "nn/capture.h"
#include "nn/plan.h"
#include "nn/tape.h"

/* every pair alive at one time is disjoint in address, each fits in the arena; 0 when all hold */
static int violations(const fn_plan_item *it, int n, size_t total) {
    int bad = 0;
    for (int i = 0; i < n; i++) {
        if (it[i].off + it[i].size > total) bad++;
        for (int j = i + 1; j < n; j++) {
            const int live = it[i].start <= it[j].end && it[j].start <= it[i].end;
            const int touch = it[i].off < it[j].off + it[j].size && it[j].off < it[i].off + it[i].size;
            if (live && touch && it[i].size && it[j].size) bad++;
        }
    }
    return bad;
}

/* the largest sum of the sizes alive at one time step */
static size_t peak_live(const fn_plan_item *it, int n) {
    int tmax = 0;
    for (int i = 0; i < n; i++)
        if (it[i].end > tmax) tmax = it[i].end;
    size_t peak = 0;
    for (int t = 0; t <= tmax; t++) {
        size_t s = 0;
        for (int i = 0; i < n; i++)
            if (it[i].start <= t && t <= it[i].end) s += it[i].size;
        if (s > peak) peak = s;
    }
    return peak;
}

static uint64_t rng = 88172645463325252ull;
static unsigned rnd(unsigned m) {
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (unsigned)(rng % m);
}

static void test_small_cases(void) {
    CHECK(fn_plan_place(NULL, 0) == 0);
    /* a chain a -> b -> c, each read only by the next: a and c may share, b not with either */
    fn_plan_item it[3] = { { 100, 0, 0, 1, 0, 0 }, { 100, 0, 1, 2, 1, 0 }, { 100, 0, 2, 3, 2, 0 } };
    size_t total = fn_plan_place(it, 3);
    CHECK(total == 200);
    CHECK(violations(it, 3, total) == 0);
    /* all alive at once: the sum, laid end to end, largest first */
    fn_plan_item all[3] = { { 10, 0, 0, 5, 0, 0 }, { 30, 0, 0, 5, 1, 0 }, { 20, 0, 2, 3, 2, 0 } };
    total = fn_plan_place(all, 3);
    CHECK(total == 60);
    CHECK(all[0].size == 30 && all[0].off == 0 && all[1].size == 20 && all[1].off == 30 && all[2].off == 50);
    /* disjoint lifetimes: everything at offset 0 */
    fn_plan_item seq[4] = { { 8, 9, 0, 0, 0, 0 }, { 16, 9, 1, 1, 1, 0 }, { 4, 9, 2, 2, 2, 0 }, { 16, 9, 3, 3, 3, 1 } };
    total = fn_plan_place(seq, 4);
    CHECK(total == 16);
    for (int i = 0; i < 4; i++) CHECK(seq[i].off == 0);
}

static void test_random_lifetimes(void) {
    enum { N = 200 };
    fn_plan_item it[N], sh[N];
    for (int round = 0; round < 50; round++) {
        size_t sum = 0;
        for (int i = 0; i < N; i++) {
            int s = (int)rnd(100), len = (int)rnd(round % 5 == 0 ? 100 : 12);
            it[i] = (fn_plan_item){ 64 * (1 + rnd(round % 3 == 0 ? 4 : 300)), 0, s, s + len, i, (int)rnd(2) };
            sum += it[i].size;
        }
        for (int i = 0; i < N; i++) sh[i] = it[i];
        for (int i = N - 1; i > 0; i--) { /* the same items in another order */
            int j = (int)rnd((unsigned)i + 1);
            fn_plan_item x = sh[i];
            sh[i] = sh[j], sh[j] = x;
        }
        size_t total = fn_plan_place(it, N), total2 = fn_plan_place(sh, N);
        CHECKF(violations(it, N, total) == 0, "round %d: live buffers overlap", round);
        CHECKF(total <= sum, "round %d: arena %zu > sum %zu", round, total, sum);
        CHECKF(total >= peak_live(it, N), "round %d: arena %zu < peak %zu", round, total, peak_live(it, N));
        CHECK(total == total2);
        int same = 1; /* both sorted the same way: the same offsets */
        for (int i = 0; i < N; i++) same &= it[i].t == sh[i].t && it[i].off == sh[i].off;
        CHECKF(same, "round %d: the order of the items changed the plan", round);
    }
}

/* FocusNet's training arena at 2x32x32 through the graph: at most the sum of its values and gradients, and
 * well below it (the plan reuses memory) */
static void test_net_arena(void) {
    fn_err e = { { 0 } };
    fn_backend *be = fn_cpu_backend_new(1, &e);
    CHECK(be);
    if (!be) return;
    fn_net_config cfg = { 3, 0.25f, FN_ARCH_FOCUSNET };
    fn_net *n = fn_net_new(be, &cfg, &e);
    CHECK(n && fn_net_reserve(n, 2, 32, 32, 1, &e) == 0);
    if (!n) {
        be->destroy(be);
        return;
    }
    size_t sum = 0;
    for (int t = 0; t < n->nt; t++)
        if (n->T[t].alias < 0) sum += 2 * fn_graph_tsize(n, t); /* its value and its gradient */
    CHECKF(n->arena_used > 0 && n->arena_used < sum / 2, "arena %zu floats, tensors %zu", n->arena_used, sum);
    size_t train = fn_net_device_bytes(n);
    CHECK(fn_net_reserve(n, 2, 32, 32, 0, &e) == 0); /* a smaller need keeps the arena */
    CHECK(fn_net_device_bytes(n) == train);
    fn_net_free(n);
    be->destroy(be);
}

static void test_capture_decisions(void) {
    fn_capture c;
    fn_capture_reset(&c);
    int a, b;
    fn_capture_key k1 = { 2, 32, 32, { &a, &b, NULL, NULL }, 7, 1 }, k2 = k1;
    CHECK(fn_capture_next(&c, &k1) == FN_CAP_RUN); /* new key: run (choose, grow) */
    CHECK(fn_capture_next(&c, &k1) == FN_CAP_RECORD);
    fn_capture_recorded(&c, 5);
    CHECK(c.id == 5);
    CHECK(fn_capture_next(&c, &k1) == FN_CAP_REPLAY);
    CHECK(fn_capture_next(&c, &k1) == FN_CAP_REPLAY);
    k2.version = 8; /* the parameters written */
    CHECK(fn_capture_next(&c, &k2) == FN_CAP_RUN);
    CHECK(fn_capture_next(&c, &k2) == FN_CAP_RECORD);
    fn_capture_recorded(&c, -1); /* the recording failed: never again for this key */
    CHECK(fn_capture_next(&c, &k2) == FN_CAP_RUN && fn_capture_next(&c, &k2) == FN_CAP_RUN);
    k2.bufs[0] = &b; /* another arena: a new key */
    CHECK(fn_capture_next(&c, &k2) == FN_CAP_RUN && fn_capture_next(&c, &k2) == FN_CAP_RECORD);
    k2.N = 3;
    CHECK(fn_capture_next(&c, &k2) == FN_CAP_RUN && fn_capture_next(&c, &k2) == FN_CAP_RECORD);
    k2.plan = 2; /* the same shape planned again (other offsets in the same arena) */
    CHECK(fn_capture_next(&c, &k2) == FN_CAP_RUN);
    fn_capture_reset(&c); /* a replay failed */
    CHECK(fn_capture_next(&c, &k2) == FN_CAP_RUN && fn_capture_next(&c, &k2) == FN_CAP_RECORD);
}

/* stand-in capture entries on the CPU backend: "recording" lets the ops run (the CPU cannot record them),
 * a replay does nothing (so the output stays that of the last run: the tests feed the same input) */
static int cap_begins, cap_ends, cap_replays, cap_fail_replay;
static long cap_id;
static int fake_begin(void *ctx) { (void)ctx; cap_begins++; return 0; }
static long fake_end(void *ctx) { (void)ctx; cap_ends++; return ++cap_id; }
static int fake_replay(void *ctx, long id) {
    (void)ctx;
    cap_replays++;
    return id == cap_id && !cap_fail_replay ? 0 : -1;
}

static void test_capture_net(void) {
    fn_err e = { { 0 } };
    fn_backend *be = fn_cpu_backend_new(1, &e);
    CHECK(be);
    if (!be) return;
    be->capture_begin = fake_begin, be->capture_end = fake_end, be->replay = fake_replay;
    fn_net_config cfg = { 3, 0.125f, FN_ARCH_FOCUSNET };
    fn_net *n = fn_net_new(be, &cfg, &e);
    CHECK(n && fn_net_init_he(n, 1, &e) == 0);
    if (!n) {
        be->destroy(be);
        return;
    }
    static float x[2 * 3 * 16 * 16], y0[2 * 16 * 16], y[2 * 16 * 16];
    for (int i = 0; i < 2 * 3 * 16 * 16; i++) x[i] = (float)((i * 37 % 101) - 50) / 50.0f;
    CHECK(fn_net_forward(n, x, 2, 16, 16, 0, 0, y0, &e) == 0); /* a new key: plain */
    CHECK(cap_begins == 0 && cap_replays == 0);
    CHECK(fn_net_forward(n, x, 2, 16, 16, 0, 0, y, &e) == 0); /* recorded, then replayed */
    CHECK(cap_begins == 1 && cap_ends == 1 && cap_replays == 1);
    CHECK(!memcmp(y, y0, sizeof y));
    CHECK(fn_net_forward(n, x, 2, 16, 16, 0, 0, y, &e) == 0); /* replayed */
    CHECK(cap_begins == 1 && cap_replays == 2);
    CHECK(!memcmp(y, y0, sizeof y));
    /* a training step (not recorded) writes the parameters: the next inference runs plainly */
    static float t[2 * 16 * 16];
    for (int i = 0; i < 2 * 16 * 16; i++) t[i] = i % 3 == 0;
    float loss;
    CHECK(fn_net_forward(n, x, 2, 16, 16, 1, 1, NULL, &e) == 0 && fn_net_backward(n, t, &loss, &e) == 0 &&
          fn_net_adam_step(n, 1e-2f, 0.9f, 0.999f, 1e-7f, 1, &e) == 0);
    CHECK(cap_begins == 1 && cap_replays == 2);
    /* the training forward planned the arena anew (training), so the key changed with the version */
    CHECK(fn_net_forward(n, x, 2, 16, 16, 0, 0, y0, &e) == 0); /* new version: plain */
    CHECK(cap_begins == 1 && cap_replays == 2);
    CHECK(memcmp(y, y0, sizeof y)); /* the new parameters' output */
    CHECK(fn_net_forward(n, x, 2, 16, 16, 0, 0, y, &e) == 0 && cap_begins == 2 && cap_replays == 3);
    CHECK(!memcmp(y, y0, sizeof y));
    /* the backend dropped the recording: the replay fails, the ops run, and it starts over */
    cap_fail_replay = 1;
    memset(y, 0, sizeof y);
    CHECK(fn_net_forward(n, x, 2, 16, 16, 0, 0, y, &e) == 0 && cap_replays == 4);
    CHECK(!memcmp(y, y0, sizeof y));
    cap_fail_replay = 0;
    CHECK(fn_net_forward(n, x, 2, 16, 16, 0, 0, y, &e) == 0 && cap_begins == 2 && cap_replays == 4);
    CHECK(fn_net_forward(n, x, 2, 16, 16, 0, 0, y, &e) == 0 && cap_begins == 3 && cap_replays == 5);
    CHECK(!memcmp(y, y0, sizeof y));
    fn_net_free(n);
    be->destroy(be);
}

int main(void) {
    RUN(test_small_cases);
    RUN(test_random_lifetimes);
    RUN(test_net_arena);
    RUN(test_capture_decisions);
    RUN(test_capture_net);
    return check_report();
}
