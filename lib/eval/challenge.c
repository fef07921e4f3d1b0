/* challenge.c: thresholded means, medians and bootstrap intervals (see challenge.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "eval/challenge.h"
#include "eval/metrics.h"
#include "base/rng.h"

double fn_thresholded_mean(const double *v, size_t n, double t) {
    if (!n) return NAN;
    double s = 0;
    for (size_t i = 0; i < n; i++) s += v[i] < t ? 0.0 : v[i];
    return s / (double)n;
}

double fn_median(const double *v, size_t n) {
    if (!n) return NAN;
    double *c = malloc(sizeof *c * n);
    if (!c) return NAN;
    memcpy(c, v, sizeof *c * n);
    double m = fn_percentile(c, n, 50.0);
    free(c);
    return m;
}

int fn_bootstrap_mean_ci(const double *v, size_t n, int B, double level, uint64_t seed, double *lo, double *hi,
                         fn_err *e) {
    if (!n || B < 1) return fn_seterr(e, "bootstrap: nothing to resample");
    double *means = malloc(sizeof *means * (size_t)B);
    if (!means) return fn_seterr(e, "out of memory");
    for (int b = 0; b < B; b++) {
        fn_rng r;
        fn_rng_seed_key(&r, seed, (uint64_t)b, 0);
        double s = 0;
        for (size_t i = 0; i < n; i++) s += v[fn_rng_below(&r, n)];
        means[b] = s / (double)n;
    }
    *lo = fn_percentile(means, (size_t)B, 50.0 * (1.0 - level));
    *hi = fn_percentile(means, (size_t)B, 50.0 * (1.0 + level));
    free(means);
    return 0;
}
