/* rng.c: xoshiro256** (Blackman & Vigna) seeded through splitmix64. */
#include <math.h>
#include "base/rng.h"

uint64_t fn_mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t fn_splitmix64(uint64_t *x) {
    *x += 0x9e3779b97f4a7c15ULL;
    return fn_mix64(*x);
}

static void seed_from(fn_rng *r, uint64_t x) {
    for (int i = 0; i < 4; i++) r->s[i] = fn_splitmix64(&x);
    if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1; /* never all zero */
    r->has_spare = 0;
    r->spare = 0;
}

void fn_rng_seed(fn_rng *r, uint64_t seed) { seed_from(r, seed); }

void fn_rng_seed_key(fn_rng *r, uint64_t seed, uint64_t a, uint64_t b) {
    uint64_t x = fn_mix64(seed + 0x9e3779b97f4a7c15ULL);
    x = fn_mix64(x ^ fn_mix64(a + 0x632be59bd9b4e019ULL));
    x = fn_mix64(x ^ fn_mix64(b + 0x85157af5ULL * 0x2545f4914f6cdd1dULL));
    seed_from(r, x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t fn_rng_u64(fn_rng *r) {
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

double fn_rng_uniform(fn_rng *r) { return (double)(fn_rng_u64(r) >> 11) * 0x1.0p-53; }

double fn_rng_range(fn_rng *r, double lo, double hi) { return lo + (hi - lo) * fn_rng_uniform(r); }

uint64_t fn_rng_below(fn_rng *r, uint64_t n) {
    if (n == 0) return 0;
    uint64_t lim = -n % n; /* 2^64 mod n: reject the low values that would bias */
    for (;;) {
        uint64_t x = fn_rng_u64(r);
        if (x >= lim) return x % n;
    }
}

double fn_rng_normal(fn_rng *r) {
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1, u2;
    do u1 = fn_rng_uniform(r); while (u1 <= 0.0);
    u2 = fn_rng_uniform(r);
    double rad = sqrt(-2.0 * log(u1)), th = 6.283185307179586 * u2;
    r->spare = rad * sin(th);
    r->has_spare = 1;
    return rad * cos(th);
}

void fn_rng_normal_fill(fn_rng *r, float *out, size_t n) {
    size_t i = 0;
    while (i < n) {
        uint64_t x = fn_rng_u64(r);
        float u = (float)(int32_t)(uint32_t)(x >> 32) * 0x1.0p-31f, v = (float)(int32_t)(uint32_t)x * 0x1.0p-31f;
        float s = u * u + v * v;
        if (s >= 1.0f || s == 0.0f) continue;
        float f = sqrtf(-2.0f * logf(s) / s);
        out[i++] = u * f;
        if (i < n) out[i++] = v * f;
    }
}
