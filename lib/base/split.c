/* split.c: the hash behind fn-split (see split.h). */
#include "base/rng.h"
#include "base/split.h"

uint64_t fn_split_hash(uint64_t seed, const char *id) {
    uint64_t h = 0xcbf29ce484222325ULL;
    const uint64_t prime = 0x100000001b3ULL;
    for (int i = 0; i < 8; i++) {
        h ^= (seed >> (8 * i)) & 0xff;
        h *= prime;
    }
    for (const unsigned char *p = (const unsigned char *)id; *p && *p != '~'; p++) {
        h ^= *p;
        h *= prime;
    }
    return fn_mix64(h);
}

int fn_split_is_train(uint64_t seed, const char *id, double ratio) {
    return (double)(fn_split_hash(seed, id) >> 11) * 0x1.0p-53 < ratio;
}
