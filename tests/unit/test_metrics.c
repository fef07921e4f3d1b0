/* test_metrics.c: confusion counts (inside a roi too), Dice/Jaccard edge cases, the EDT and HD95
 * against brute force, and the challenge figures: thresholded mean, median, bootstrap intervals. */
#include <stdlib.h>
#include "eval/challenge.h"
#include "check.h"
#include "eval/metrics.h"
#include "base/rng.h"

static void frame(int h, int w, const float *p, const uint8_t *m, fn_tensor **pt, fn_tensor **mt) {
    *pt = fn_tensor_new(FN_F32, 1, h, w, NULL);
    *mt = fn_tensor_new(FN_U8, 1, h, w, NULL);
    memcpy((*pt)->data, p, sizeof(float) * (size_t)h * w);
    memcpy((*mt)->data, m, (size_t)h * w);
}

static void test_counts_and_scores(void) {
    const float p[6] = {0.9f, 0.5f, 0.51f, 0.0f, 1.0f, 0.2f};
    const uint8_t m[6] = {1, 1, 0, 0, 1, 1};
    fn_tensor *pt, *mt;
    frame(2, 3, p, m, &pt, &mt);
    fn_confusion c;
    CHECK(fn_confusion_count(pt, mt, 0.5, &c, NULL, NULL, NULL) == 0);
    /* 0.5 is background (p > t) */
    CHECK(c.tp == 2 && c.fp == 1 && c.fn == 2 && c.tn == 1);
    CHECK_NEAR(fn_dice(&c), 4.0 / 7.0, 1e-12);
    CHECK_NEAR(fn_jaccard(&c), 2.0 / 5.0, 1e-12);
    CHECK_NEAR(fn_accuracy(&c), 3.0 / 6.0, 1e-12);
    CHECK_NEAR(fn_sensitivity(&c), 0.5, 1e-12);
    CHECK_NEAR(fn_specificity(&c), 0.5, 1e-12);
    fn_tensor_free(pt), fn_tensor_free(mt);
}

static void test_empty_cases(void) {
    fn_confusion c = {0, 0, 0, 10};
    CHECK(fn_dice(&c) == 1.0 && fn_jaccard(&c) == 1.0);
    CHECK(isnan(fn_sensitivity(&c)));
    fn_confusion d = {0, 3, 0, 7};
    CHECK(fn_dice(&d) == 0.0 && fn_jaccard(&d) == 0.0);
}

static void test_errors(void) {
    fn_err e;
    fn_confusion c;
    fn_tensor *p = fn_tensor_new(FN_F32, 1, 2, 2, NULL), *m = fn_tensor_new(FN_U8, 1, 2, 3, NULL);
    CHECK(fn_confusion_count(p, m, 0.5, &c, NULL, NULL, &e) == -1);
    fn_tensor *m2 = fn_tensor_new(FN_U8, 1, 2, 2, NULL);
    ((float *)p->data)[1] = NAN;
    CHECK(fn_confusion_count(p, m2, 0.5, &c, NULL, NULL, &e) == -1);
    fn_tensor *pu = fn_tensor_new(FN_U8, 1, 2, 2, NULL);
    CHECK(fn_confusion_count(pu, m2, 0.5, &c, NULL, NULL, &e) == -1);
    fn_tensor_free(p), fn_tensor_free(m), fn_tensor_free(m2), fn_tensor_free(pu);
}

static void random_mask(fn_rng *r, uint8_t *a, int h, int w, double p) {
    for (int i = 0; i < h * w; i++) a[i] = fn_rng_uniform(r) < p;
}

static void test_edt_brute_force(void) {
    fn_rng r;
    fn_rng_seed(&r, 11);
    for (int trial = 0; trial < 20; trial++) {
        int h = 1 + (int)fn_rng_below(&r, 30), w = 1 + (int)fn_rng_below(&r, 30);
        uint8_t *a = malloc((size_t)h * w);
        double *d = malloc(sizeof(double) * (size_t)h * w);
        random_mask(&r, a, h, w, trial % 3 == 0 ? 0.01 : 0.2);
        CHECK(fn_edt_sq(a, h, w, d, NULL) == 0);
        int ok = 1;
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                double best = INFINITY;
                for (int v = 0; v < h; v++)
                    for (int u = 0; u < w; u++)
                        if (a[v * w + u]) {
                            double dd = (double)(v - y) * (v - y) + (double)(u - x) * (u - x);
                            if (dd < best) best = dd;
                        }
                ok &= d[y * w + x] == best;
            }
        CHECKF(ok, "trial %d (%dx%d)", trial, h, w);
        free(a), free(d);
    }
}

static int is_border(const uint8_t *a, int h, int w, int y, int x) {
    if (!a[y * w + x]) return 0;
    if (y == 0 || x == 0 || y == h - 1 || x == w - 1) return 1;
    return !a[(y - 1) * w + x] || !a[(y + 1) * w + x] || !a[y * w + x - 1] || !a[y * w + x + 1];
}

static void test_hd95_brute_force(void) {
    fn_rng r;
    fn_rng_seed(&r, 5);
    for (int trial = 0; trial < 10; trial++) {
        int h = 24, w = 20;
        uint8_t a[24 * 20], b[24 * 20];
        random_mask(&r, a, h, w, 0.4);
        random_mask(&r, b, h, w, 0.4);
        double *all = malloc(sizeof(double) * 2 * h * w);
        size_t n = 0;
        for (int pass = 0; pass < 2; pass++) {
            const uint8_t *s = pass ? b : a, *t = pass ? a : b;
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++) {
                    if (!is_border(s, h, w, y, x)) continue;
                    double best = INFINITY;
                    for (int v = 0; v < h; v++)
                        for (int u = 0; u < w; u++)
                            if (is_border(t, h, w, v, u)) {
                                double dd = sqrt((double)(v - y) * (v - y) + (double)(u - x) * (u - x));
                                if (dd < best) best = dd;
                            }
                    all[n++] = best;
                }
        }
        double want = fn_percentile(all, n, 95);
        CHECK_NEAR(fn_hd95(a, b, h, w, NULL), want, 1e-9);
        free(all);
    }
    uint8_t z[16] = {0}, one[16] = {0};
    one[5] = 1;
    CHECK(fn_hd95(z, z, 4, 4, NULL) == 0.0);
    CHECK(isnan(fn_hd95(z, one, 4, 4, NULL)));
    CHECK(fn_hd95(one, one, 4, 4, NULL) == 0.0);
}

static void test_percentile(void) {
    double v[5] = {5, 1, 4, 2, 3};
    CHECK_NEAR(fn_percentile(v, 5, 50), 3, 1e-12);
    CHECK_NEAR(fn_percentile(v, 5, 95), 4.8, 1e-12);
    CHECK_NEAR(fn_percentile(v, 5, 0), 1, 1e-12);
    CHECK_NEAR(fn_percentile(v, 5, 100), 5, 1e-12);
}

static void test_roi_counts(void) {
    /* pred 1 1 0 0 / mask 1 0 1 0; roi keeps pixels 0, 1, 3: TP 1, FP 1, FN 0 (outside), TN 1 */
    const float p[4] = {1, 1, 0, 0};
    const uint8_t m[4] = {1, 0, 1, 0};
    fn_tensor *pt, *mt, *rt = fn_tensor_new(FN_U8, 1, 2, 2, NULL), *bad = fn_tensor_new(FN_U8, 1, 2, 3, NULL);
    frame(2, 2, p, m, &pt, &mt);
    const uint8_t r[4] = {1, 1, 0, 1};
    memcpy(rt->data, r, 4);
    fn_confusion c;
    uint8_t pb[4], mb[4];
    fn_err e;
    CHECK(!fn_confusion_count_roi(pt, mt, rt, 0.5, &c, pb, mb, &e));
    CHECK(c.tp == 1 && c.fp == 1 && c.fn == 0 && c.tn == 1);
    CHECK(pb[0] == 1 && pb[2] == 0 && mb[2] == 0);
    CHECK(!fn_confusion_count_roi(pt, mt, NULL, 0.5, &c, NULL, NULL, &e) && c.fn == 1 && c.tn == 1);
    CHECK(fn_confusion_count_roi(pt, mt, bad, 0.5, &c, NULL, NULL, &e) && strstr(e.msg, "roi is 2x3"));
    fn_tensor_free(pt), fn_tensor_free(mt), fn_tensor_free(rt), fn_tensor_free(bad);
}

static void test_challenge(void) {
    const double j[5] = {0.9, 0.64, 0.65, 0.2, 1.0};
    CHECK_NEAR(fn_thresholded_mean(j, 5, 0.65), (0.9 + 0.65 + 1.0) / 5, 1e-12);
    CHECK_NEAR(fn_median(j, 5), 0.65, 1e-12);
    CHECK_NEAR(fn_median(j, 4), (0.64 + 0.65) / 2, 1e-12);
    CHECK(j[0] == 0.9 && j[3] == 0.2); /* not sorted in place */
    double lo, hi, lo2, hi2;
    fn_err e;
    CHECK(!fn_bootstrap_mean_ci(j, 5, 2000, 0.95, 1, &lo, &hi, &e));
    CHECK(!fn_bootstrap_mean_ci(j, 5, 2000, 0.95, 1, &lo2, &hi2, &e) && lo == lo2 && hi == hi2);
    CHECK(lo >= 0.2 && lo < 0.678 && hi > 0.678 && hi <= 1.0);
    CHECK(!fn_bootstrap_mean_ci(j, 1, 100, 0.95, 1, &lo, &hi, &e) && lo == 0.9 && hi == 0.9);
    CHECK(fn_bootstrap_mean_ci(j, 0, 100, 0.95, 1, &lo, &hi, &e) == -1);
    /* the coverage of the percentile interval on normal data is about 95% */
    fn_rng r;
    fn_rng_seed(&r, 9);
    int cover = 0;
    for (int t = 0; t < 200; t++) {
        double v[40];
        for (int i = 0; i < 40; i++) v[i] = fn_rng_normal(&r);
        CHECK(!fn_bootstrap_mean_ci(v, 40, 400, 0.95, (uint64_t)t, &lo, &hi, &e));
        cover += lo <= 0 && 0 <= hi;
    }
    CHECKF(cover >= 175 && cover <= 198, "covered %d of 200", cover);
}

int main(void) {
    RUN(test_counts_and_scores);
    RUN(test_roi_counts);
    RUN(test_challenge);
    RUN(test_empty_cases);
    RUN(test_errors);
    RUN(test_edt_brute_force);
    RUN(test_hd95_brute_force);
    RUN(test_percentile);
    return check_report();
}
