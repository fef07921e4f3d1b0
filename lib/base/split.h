/* split.h: deterministic train/validation assignment of frame ids (fn-split).
 *
 * The hash is FNV-1a 64 over the seed's 8 little-endian bytes followed by the id up to its first '~'
 * (so the augmented copies ID~k follow ID), finalised by splitmix64's mixer. A frame goes to train
 * when (hash >> 11) * 2^-53 < ratio: independent of the order of frames and of the other ids. */
#ifndef FN_SPLIT_H
#define FN_SPLIT_H

#include <stdint.h>

uint64_t fn_split_hash(uint64_t seed, const char *id);
int fn_split_is_train(uint64_t seed, const char *id, double ratio);

#endif
