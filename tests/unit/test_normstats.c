/* test_normstats.c: fitted statistics and percentiles against direct computation; JSON round trip. */
#include <stdlib.h>
#include <unistd.h>
#include "check.h"
#include "data/normstats.h"
#include "base/rng.h"

static int cmpd(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct(double *v, size_t n, double p) { /* numpy linear */
    qsort(v, n, sizeof *v, cmpd);
    double pos = p / 100 * (double)(n - 1);
    size_t i = (size_t)pos;
    double f = pos - (double)i;
    return i + 1 < n ? v[i] + f * (v[i + 1] - v[i]) : v[i];
}

/* fit over nf random frames of dtype dt; compare with direct formulas */
static void fit_and_compare(fn_dtype dt, int per_channel) {
    fn_rng r;
    fn_rng_seed(&r, 9);
    int nf = 5, c = 3, h = 17, w = 13;
    fn_tensor *t[5];
    size_t n = (size_t)nf * c * h * w;
    double *all = malloc(sizeof(double) * n);
    fn_normfit *f = fn_normfit_new(per_channel, 1, 2.5, 97.5, NULL);
    size_t k = 0;
    for (int i = 0; i < nf; i++) {
        t[i] = fn_tensor_new(dt, c, h, w, NULL);
        for (size_t j = 0; j < fn_tensor_numel(t[i]); j++) {
            double v = dt == FN_F32 ? fn_rng_normal(&r) * 3 + 10 : (double)fn_rng_below(&r, dt == FN_U8 ? 256 : 4000);
            fn_tensor_set(t[i], j, v);
        }
        CHECK(fn_normfit_add(f, t[i], NULL) == 0);
    }
    if (fn_normfit_passes(f) == 2)
        for (int i = 0; i < nf; i++) CHECK(fn_normfit_add2(f, t[i], NULL) == 0);
    fn_normstats s;
    CHECK(fn_normfit_finish(f, &s, NULL) == 0);
    CHECK(s.count == n && s.channels == c && s.dtype == dt);
    for (int a = 0; a < (per_channel ? c : 1); a++) {
        k = 0;
        double sum = 0, ss = 0;
        for (int i = 0; i < nf; i++)
            for (int ch = 0; ch < c; ch++) {
                if (per_channel && ch != a) continue;
                for (int j = 0; j < h * w; j++) all[k++] = fn_tensor_get(t[i], (size_t)ch * h * w + j);
            }
        for (size_t j = 0; j < k; j++) sum += all[j];
        double m = sum / (double)k;
        for (size_t j = 0; j < k; j++) ss += (all[j] - m) * (all[j] - m);
        CHECK_NEAR(s.mean[a], m, 1e-9 * fabs(m) + 1e-9);
        CHECK_NEAR(s.std[a], sqrt(ss / (double)k), 1e-9 * sqrt(ss / (double)k));
        double tol = dt == FN_F32 ? 40.0 / FN_NORM_F32_BINS : 1e-9;
        double lo = pct(all, k, 2.5), hi = pct(all, k, 97.5);
        CHECK_NEAR(s.clip_lo[a], lo, tol);
        CHECK_NEAR(s.clip_hi[a], hi, tol);
    }
    for (int i = 0; i < nf; i++) fn_tensor_free(t[i]);
    fn_normfit_free(f);
    free(all);
}

static void test_fit_u8(void) { fit_and_compare(FN_U8, 0); }
static void test_fit_u16_per_channel(void) { fit_and_compare(FN_U16, 1); }
static void test_fit_f32(void) { fit_and_compare(FN_F32, 0); }
static void test_fit_f32_per_channel(void) { fit_and_compare(FN_F32, 1); }

static void test_apply(void) {
    fn_normstats s = {0};
    s.channels = 1;
    s.mean[0] = 100;
    s.std[0] = 50;
    fn_tensor *t = fn_tensor_new(FN_U8, 1, 1, 3, NULL);
    fn_tensor_set(t, 0, 0), fn_tensor_set(t, 1, 100), fn_tensor_set(t, 2, 250);
    CHECK(fn_norm_apply(&s, &t, NULL) == 0);
    CHECK(t->dtype == FN_F32);
    CHECK_NEAR(fn_tensor_get(t, 0), -2, 1e-6);
    CHECK_NEAR(fn_tensor_get(t, 2), 3, 1e-6);
    s.clip = 1;
    s.clip_lo[0] = 50, s.clip_hi[0] = 150;
    CHECK(fn_norm_apply(&s, &t, NULL) == 0); /* f32 in place: -2 clipped to 50 */
    CHECK_NEAR(fn_tensor_get(t, 0), -1, 1e-6);
    ((float *)t->data)[1] = INFINITY;
    fn_err e;
    CHECK(fn_norm_apply(&s, &t, &e) == -1);
    fn_tensor_free(t);
}

static void test_per_image(void) {
    fn_tensor *t = fn_tensor_new(FN_U16, 2, 4, 4, NULL);
    for (size_t i = 0; i < 32; i++) fn_tensor_set(t, i, (double)(i < 16 ? i : 1000 + 3 * i));
    fn_normstats s;
    CHECK(fn_norm_per_image(&t, 1, &s, NULL) == 0);
    double m0 = 0, m1 = 0;
    for (size_t i = 0; i < 16; i++) m0 += fn_tensor_get(t, i), m1 += fn_tensor_get(t, 16 + i);
    CHECK_NEAR(m0, 0, 1e-4);
    CHECK_NEAR(m1, 0, 1e-4);
    CHECK_NEAR(s.mean[0], 7.5, 1e-9);
    fn_tensor_free(t);
}

static void test_json_round_trip(void) {
    fn_normstats s = {0}, l;
    s.per_channel = 1, s.channels = 3, s.count = 12345, s.dtype = FN_U8, s.clip = 1, s.clip_pct = 1;
    for (int c = 0; c < 3; c++) s.mean[c] = 100.0 / 3 + c, s.std[c] = 7.25 + c, s.clip_lo[c] = c, s.clip_hi[c] = 200 + c;
    s.clip_p[0] = 0.5, s.clip_p[1] = 99.5;
    char path[] = "/tmp/test_normstats.XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK(fn_normstats_save(&s, path, NULL) == 0);
    CHECK(fn_normstats_load(&l, path, NULL) == 0);
    CHECK(l.per_channel == 1 && l.channels == 3 && l.count == 12345 && l.dtype == FN_U8 && l.clip == 1);
    for (int c = 0; c < 3; c++) CHECK(l.mean[c] == s.mean[c] && l.std[c] == s.std[c] && l.clip_hi[c] == s.clip_hi[c]);
    FILE *f = fopen(path, "w");
    fputs("{\"mode\":\"dataset\",\"mean\":1}", f);
    fclose(f);
    fn_err e;
    CHECK(fn_normstats_load(&l, path, &e) == -1);
    unlink(path);
    CHECK(fn_normstats_load(&l, path, &e) == -1);
}

int main(void) {
    RUN(test_fit_u8);
    RUN(test_fit_u16_per_channel);
    RUN(test_fit_f32);
    RUN(test_fit_f32_per_channel);
    RUN(test_apply);
    RUN(test_per_image);
    RUN(test_json_round_trip);
    return check_report();
}
