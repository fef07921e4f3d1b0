/* challenge.h: what segmentation challenges report beside mean scores: the spread of the per-image
 * scores (median, worst), ISIC 2018's thresholded Jaccard, and bootstrap confidence intervals of a
 * mean, so that a small validation set is read with its uncertainty. */
#ifndef FN_CHALLENGE_H
#define FN_CHALLENGE_H

#include <stddef.h>
#include <stdint.h>
#include "base/err.h"

/* the mean of v with every value below t counted as 0 (ISIC 2018: per-image Jaccard under 0.65 is 0) */
double fn_thresholded_mean(const double *v, size_t n, double t);

/* the median (linear interpolation between the middle two) of v; NaN when n == 0; v is not changed */
double fn_median(const double *v, size_t n);

/* Percentile bootstrap of the mean of v[0..n): B resamples of n values drawn with replacement (index
 * i of resample b from fn_rng_seed_key(seed, b, 0), so two calls with one seed draw the same samples
 * and the intervals of two paired scores come from the same resamples); lo and hi are the
 * (1 - level)/2 and (1 + level)/2 percentiles of the B means. 0, or -1 with e set (no memory, n 0). */
int fn_bootstrap_mean_ci(const double *v, size_t n, int B, double level, uint64_t seed, double *lo, double *hi,
                         fn_err *e);

#endif
