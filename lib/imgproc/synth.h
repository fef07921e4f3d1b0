/* synth.h: a deterministic synthetic segmentation data set (fn-synth, the demo, the tests).
 *
 * Frame i of a set depends only on (seed, i, h, w, c): `-n 10` is a prefix of `-n 50`, and the bytes are
 * the same on every machine (integer RNG, plain double arithmetic and sqrt, no other libm calls).
 * Each image is a smooth textured background with 1 to 3 smooth blobs (wobbly ellipses) of varying
 * contrast and texture, plus noise; the mask is the exact union of the blobs. */
#ifndef FN_SYNTH_H
#define FN_SYNTH_H

#include <stdint.h>
#include "base/err.h"
#include "data/stream.h"

typedef struct fn_synth_opts {
    int h, w;      /* image size */
    int c;         /* channels: 1 or 3 */
    uint64_t seed;
} fn_synth_opts;

/* Fill f (initialised or cleared by the caller) with frame i: id "synth_%04ld", image u8 [c,h,w],
 * mask u8 [1,h,w] of 0/1, meta src="fn-synth", orig_h, orig_w. 0, or -1 with e set. */
int fn_synth_frame(const fn_synth_opts *o, long i, fn_frame *f, fn_err *e);

#endif
