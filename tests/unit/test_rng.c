/* test_rng.c: determinism, keyed streams, and the moments of the distributions. */
#include "check.h"
#include "base/rng.h"

static void test_deterministic(void) {
    fn_rng a, b;
    fn_rng_seed(&a, 42);
    fn_rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= fn_rng_u64(&a) == fn_rng_u64(&b);
    CHECK(same);
    fn_rng_seed(&b, 43);
    CHECK(fn_rng_u64(&a) != fn_rng_u64(&b));
}

/* xoshiro256** reference: state {1,2,3,4} gives 11520, 0, 1509978240, 1215971899390074240 */
static void test_reference_values(void) {
    fn_rng r = {{1, 2, 3, 4}, 0, 0};
    CHECK(fn_rng_u64(&r) == 11520ULL);
    CHECK(fn_rng_u64(&r) == 0ULL);
    CHECK(fn_rng_u64(&r) == 1509978240ULL);
    CHECK(fn_rng_u64(&r) == 1215971899390074240ULL);
}

static void test_keyed_streams(void) {
    fn_rng a, b, c;
    fn_rng_seed_key(&a, 1, 5, 0);
    fn_rng_seed_key(&b, 1, 0, 5);
    fn_rng_seed_key(&c, 1, 5, 0);
    uint64_t x = fn_rng_u64(&a);
    CHECK(x != fn_rng_u64(&b));
    CHECK(x == fn_rng_u64(&c));
}

static void test_uniform_and_normal_moments(void) {
    fn_rng r;
    fn_rng_seed(&r, 7);
    double s = 0, s2 = 0, lo = 1, hi = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        double u = fn_rng_uniform(&r);
        s += u, s2 += u * u;
        lo = u < lo ? u : lo, hi = u > hi ? u : hi;
    }
    CHECK(lo >= 0 && hi < 1);
    CHECK_NEAR(s / n, 0.5, 0.005);
    CHECK_NEAR(s2 / n - (s / n) * (s / n), 1.0 / 12, 0.002);
    s = s2 = 0;
    for (int i = 0; i < n; i++) {
        double g = fn_rng_normal(&r);
        s += g, s2 += g * g;
    }
    CHECK_NEAR(s / n, 0.0, 0.01);
    CHECK_NEAR(s2 / n, 1.0, 0.02);
}

static void test_normal_fill(void) {
    fn_rng r;
    fn_rng_seed(&r, 8);
    static float g[100001];
    fn_rng_normal_fill(&r, g, 100001);
    double s = 0, s2 = 0, s4 = 0;
    for (int i = 0; i < 100001; i++) s += g[i], s2 += (double)g[i] * g[i], s4 += (double)g[i] * g[i] * g[i] * g[i];
    CHECK_NEAR(s / 100001, 0.0, 0.015);
    CHECK_NEAR(s2 / 100001, 1.0, 0.02);
    CHECK_NEAR(s4 / 100001, 3.0, 0.1); /* kurtosis of a normal */
    fn_rng a, b;
    fn_rng_seed(&a, 8);
    fn_rng_seed(&b, 8);
    float x[7], y[7];
    fn_rng_normal_fill(&a, x, 7);
    fn_rng_normal_fill(&b, y, 7);
    CHECK(memcmp(x, y, sizeof x) == 0);
}

static void test_below(void) {
    fn_rng r;
    fn_rng_seed(&r, 3);
    int counts[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint64_t v = fn_rng_below(&r, 7);
        CHECK(v < 7);
        counts[v]++;
    }
    for (int i = 0; i < 7; i++) CHECK_NEAR(counts[i], 10000, 500);
    CHECK(fn_rng_below(&r, 0) == 0);
    double v = fn_rng_range(&r, -2, -1);
    CHECK(v >= -2 && v < -1);
}

int main(void) {
    RUN(test_deterministic);
    RUN(test_reference_values);
    RUN(test_keyed_streams);
    RUN(test_uniform_and_normal_moments);
    RUN(test_normal_fill);
    RUN(test_below);
    return check_report();
}
