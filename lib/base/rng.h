/* rng.h: a small, explicit-state random number generator (xoshiro256**, seeded by splitmix64).
 *
 * No global state: every user owns an fn_rng. fn_rng_seed_key gives an independent stream for any key
 * (seed, a, b), e.g. (seed, frame index, copy index), so results do not depend on the order in which
 * frames are processed or on how a pipe is chunked. The state is plain data: copy it to save/restore. */
#ifndef FN_RNG_H
#define FN_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct fn_rng {
    uint64_t s[4];
    int has_spare;  /* fn_rng_normal makes values in pairs */
    double spare;
} fn_rng;

/* the splitmix64 step (advances *x) and its finaliser alone (a good 64-bit mixer) */
uint64_t fn_splitmix64(uint64_t *x);
uint64_t fn_mix64(uint64_t z);

void fn_rng_seed(fn_rng *r, uint64_t seed);
/* a stream keyed by (seed, a, b): different keys give unrelated streams */
void fn_rng_seed_key(fn_rng *r, uint64_t seed, uint64_t a, uint64_t b);

uint64_t fn_rng_u64(fn_rng *r);
double fn_rng_uniform(fn_rng *r);                   /* [0, 1), 53 random bits */
double fn_rng_range(fn_rng *r, double lo, double hi); /* [lo, hi) */
uint64_t fn_rng_below(fn_rng *r, uint64_t n);        /* [0, n), unbiased; 0 when n == 0 */
double fn_rng_normal(fn_rng *r);                    /* standard normal (Box-Muller) */
/* n standard normal floats, faster (Marsaglia's polar method on 32-bit uniforms); does not touch
 * the spare of fn_rng_normal */
void fn_rng_normal_fill(fn_rng *r, float *out, size_t n);

#endif
