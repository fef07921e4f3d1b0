/* test_train.c: the reusable parts of fn-train and fn-infer (lib/train/): the plateau schedule,
 * epoch orders and batches, dropout seeds, the Dice functions, flips, the epochs log, a state
 * file round trip on a tiny net (every buffer bit-exact, the settings and schedule restored), and the
 * batch-norm recomputation (the running statistics become the mean of the batches' statistics). */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include "check.h"
#include "train/batch.h"
#include "train/epoch.h"
#include "train/epochlog.h"
#include "train/evaluate.h"
#include "train/plateau.h"
#include "train/predict.h"
#include "train/state.h"

static void test_plateau(void) {
    fn_plateau p;
    fn_plateau_init(&p, 1e-3f, 2);
    CHECK(!fn_plateau_update(&p, 0.5));    /* improves (best was inf) */
    CHECK(!fn_plateau_update(&p, 0.4995)); /* by less than 0.001: wait 1 */
    CHECK(p.wait == 1 && p.best == 0.5);
    CHECK(fn_plateau_update(&p, 0.6));     /* wait 2 = patience: halved */
    CHECK(p.lr == 5e-4f && p.wait == 0);
    CHECK(!fn_plateau_update(&p, 0.49));   /* improves by 0.01 */
    CHECK(p.best == 0.49 && p.wait == 0);
    fn_plateau_init(&p, 1e-3f, 0);         /* patience 0: never */
    for (int i = 0; i < 10; i++) CHECK(!fn_plateau_update(&p, 1.0));
    CHECK(p.lr == 1e-3f);
}

static void test_epoch_order(void) {
    int a[50], b[50], c[50], seen[50] = { 0 };
    fn_epoch_order(7, 1, 50, a);
    fn_epoch_order(7, 1, 50, b);
    fn_epoch_order(7, 2, 50, c);
    CHECK(!memcmp(a, b, sizeof a));
    CHECK(memcmp(a, c, sizeof a));
    for (int i = 0; i < 50; i++) seen[a[i]]++;
    for (int i = 0; i < 50; i++) CHECK(seen[i] == 1);
    CHECK(fn_nbatches(17, 8) == 3 && fn_nbatches(16, 8) == 2 && fn_nbatches(1, 8) == 1);
    CHECK(fn_dropout_seed(1, 0) != fn_dropout_seed(1, 1));
    CHECK(fn_dropout_seed(1, 5) == fn_dropout_seed(1, 5));
    CHECK(fn_dropout_seed(1, 5) != fn_dropout_seed(2, 5));
}

static void test_gather(void) {
    float x[3 * 2 * 16], y[3 * 16], bx[2 * 2 * 16], by[2 * 16];
    for (int i = 0; i < 3 * 2 * 16; i++) x[i] = (float)i;
    for (int i = 0; i < 3 * 16; i++) y[i] = (float)(i % 2);
    fn_dataset ds = { .n = 3, .c = 2, .h = 4, .w = 4, .x = x, .y = y };
    int idx[2] = { 2, 0 };
    fn_gather(&ds, idx, 2, bx, by);
    CHECK(bx[0] == 64 && bx[31] == 95 && bx[32] == 0 && by[0] == y[32] && by[16] == y[0]);
}

static void test_dice(void) {
    float p[4] = { 0.9f, 0.2f, 0.5f, 0.7f }, t[4] = { 1, 0, 1, 0 };
    /* soft: 1 - (2*(0.9+0.5) + 1)/(2.3 + 2 + 1) */
    CHECK_NEAR(fn_soft_dice_loss(p, t, 4, 1.0), 1 - 3.8 / 5.3, 1e-6);
    /* hard at 0.5: prediction {1,0,0,1} (0.5 is background): tp 1, fp 1, fn 1 -> 2/4 */
    CHECK_NEAR(fn_hard_dice(p, t, 4, 0.5), 0.5, 1e-12);
    float z[4] = { 0 };
    CHECK(fn_hard_dice(z, z, 4, 0.5) == 1.0);
}

static void test_flip(void) {
    float a[2 * 2 * 3] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 }, b[12], c[12];
    fn_flip_planes(a, b, 2, 2, 3, 1, 0);
    CHECK(b[0] == 3 && b[2] == 1 && b[3] == 6 && b[6] == 9);
    fn_flip_planes(a, b, 2, 2, 3, 0, 1);
    CHECK(b[0] == 4 && b[3] == 1 && b[6] == 10);
    fn_flip_planes(a, b, 2, 2, 3, 1, 1);
    fn_flip_planes(b, c, 2, 2, 3, 1, 1);
    CHECK(!memcmp(a, c, sizeof a) && b[0] == 6);
}

static void test_epochlog(void) {
    char *rows = NULL, path[] = "/tmp/fn-test-log.XXXXXX", buf[512];
    fn_err e;
    int fd = mkstemp(path);
    close(fd);
    CHECK(!fn_epochlog_add(&rows, 1, 1e-3, 0.5, 0.25, 0.75, 1.5, &e));
    CHECK(!fn_epochlog_add(&rows, 2, 5e-4, 0.4, 0.2, 0.8, 2.25, &e));
    CHECK(!fn_epochlog_write(path, rows, &e));
    FILE *f = fopen(path, "r");
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    CHECKF(!strcmp(buf, FN_EPOCHLOG_HEADER "1\t0.001\t0.500000\t0.250000\t0.750000\t1.50\n"
                        "2\t0.0005\t0.400000\t0.200000\t0.800000\t2.25\n"), "%s", buf);
    unlink(path);
    free(rows);
}

static void test_state_roundtrip(void) {
    fn_err e;
    fn_backend *be = fn_cpu_backend_new(1, &e);
    fn_net_config nc = { 2, 0.125f, FN_ARCH_FOCUSNET };
    fn_net *net = fn_net_new(be, &nc, &e);
    CHECK(net && !fn_net_init_he(net, 5, &e));
    if (!net) return;
    /* one training step so that the moments and statistics are not trivial */
    float x[2 * 2 * 16 * 16], t[2 * 16 * 16], loss;
    for (int i = 0; i < 2 * 2 * 256; i++) x[i] = (float)fn_golden_u("x", (uint64_t)i);
    for (int i = 0; i < 2 * 256; i++) t[i] = fn_golden_u("t", (uint64_t)i) > 0;
    CHECK(!fn_net_forward(net, x, 2, 16, 16, 1, 9, NULL, &e) && !fn_net_backward(net, t, &loss, &e) &&
          !fn_net_adam_step(net, 1e-3f, 0.9f, 0.999f, 1e-7f, 1, &e));
    fn_train_state st = { .cfg = { 2, 0.125f, 4, 1e-3f, 5, 1, 77, 9, 1 }, .epoch = 3, .step = fn_net_step(net),
                          .best_loss = 0.123456789012345678, .best_epoch = 2, .data_fp = 0xfedcba9876543210ULL };
    fn_plateau_init(&st.sched, 1e-3f, 5);
    st.sched.lr = 2.5e-4f;
    st.sched.best = 0.1;
    st.sched.wait = 3;
    snprintf(st.out, sizeof st.out, "some/model.safetensors");
    st.log = strdup("1\t0.001\t0.5\t0.4\t0.6\t1.00\n");
    char path[] = "/tmp/fn-test-state.XXXXXX";
    close(mkstemp(path));
    CHECKF(!fn_state_save(path, net, &st, &e), "%s", e.msg);
    fn_net *back = NULL;
    fn_train_state r;
    CHECKF(!fn_state_load(path, be, &back, &r, &e), "%s", e.msg);
    if (back) {
        CHECK(!memcmp(&r.cfg, &st.cfg, sizeof r.cfg));
        CHECK(r.epoch == 3 && r.step == st.step && r.best_loss == st.best_loss && r.best_epoch == 2);
        CHECK(r.sched.lr == 2.5e-4f && r.sched.best == 0.1 && r.sched.wait == 3 && r.sched.patience == 5);
        CHECK(r.data_fp == st.data_fp && !strcmp(r.out, st.out) && !strcmp(r.log, st.log));
        size_t n = fn_net_numel(net), ns = fn_net_stats_numel(net);
        float *a = malloc(sizeof *a * n), *b = malloc(sizeof *b * n);
        fn_net_buf bufs[] = { FN_BUF_PARAMS, FN_BUF_ADAM_M, FN_BUF_ADAM_V, FN_BUF_STATS };
        for (int i = 0; i < 4; i++) {
            size_t m = bufs[i] == FN_BUF_STATS ? ns : n;
            fn_net_get(net, bufs[i], a, &e);
            fn_net_get(back, bufs[i], b, &e);
            CHECKF(!memcmp(a, b, sizeof *a * m), "buffer %d", i);
        }
        free(a); free(b);
        fn_state_free(&r);
        fn_net_free(back);
    }
    /* a model file is not a state */
    CHECK(fn_state_load("/nonexistent/state", be, &back, &r, &e) == -1);
    unlink(path);
    free(st.log);
    fn_net_free(net);
    be->destroy(be);
}

/* 3 frames in batches of 2 and 1: every running statistic ends as the mean of the two batches' */
static void test_bn_recompute(void) {
    fn_err e;
    fn_backend *be = fn_cpu_backend_new(1, &e);
    fn_net_config nc = { 2, 0.125f, FN_ARCH_FOCUSNET };
    fn_net *net = fn_net_new(be, &nc, &e);
    CHECK(net && !fn_net_init_he(net, 3, &e));
    if (!net) return;
    enum { PX = 2 * 16 * 16 };
    static float x[3 * PX];
    for (int i = 0; i < 3 * PX; i++) x[i] = (float)fn_golden_u("bn", (uint64_t)i);
    fn_dataset ds = { .n = 3, .c = 2, .h = 16, .w = 16, .x = x };
    const size_t ns = fn_net_stats_numel(net);
    float *s1 = malloc(sizeof *s1 * ns), *s2 = malloc(sizeof *s2 * ns), *got = malloc(sizeof *got * ns);
    /* each batch alone: momentum 1 leaves its own statistics */
    fn_net_set_dropout(net, 0);
    fn_net_set_bn_momentum(net, 1);
    CHECK(!fn_net_forward(net, x, 2, 16, 16, 1, 0, NULL, &e) && !fn_net_get(net, FN_BUF_STATS, s1, &e));
    CHECK(!fn_net_forward(net, x + 2 * PX, 1, 16, 16, 1, 0, NULL, &e) && !fn_net_get(net, FN_BUF_STATS, s2, &e));
    fn_net_set_bn_momentum(net, FN_BN_MOMENTUM);
    fn_net_set_dropout(net, 0.3f);
    CHECKF(!fn_train_bn_recompute(net, &ds, 2, NULL, &e), "%s", e.msg);
    CHECK(!fn_net_get(net, FN_BUF_STATS, got, &e));
    int bad = 0;
    for (size_t i = 0; i < ns; i++) {
        double want = 0.5 * ((double)s1[i] + s2[i]);
        bad += !(fabs(got[i] - want) <= 1e-6 * (fabs(want) + 1e-3));
    }
    CHECKF(bad == 0, "%d of %zu statistics", bad, ns);
    CHECK(fn_net_dropout(net) == 0.3f); /* restored */
    free(s1); free(s2); free(got);
    fn_net_free(net);
    be->destroy(be);
}

int main(void) {
    RUN(test_plateau);
    RUN(test_epoch_order);
    RUN(test_gather);
    RUN(test_dice);
    RUN(test_flip);
    RUN(test_epochlog);
    RUN(test_state_roundtrip);
    RUN(test_bn_recompute);
    return check_report();
}
