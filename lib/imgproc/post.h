/* post.h: post-processing of a segmentation: threshold, connected components, holes.
 *
 * A pixel is foreground when p > threshold. Then, in this order: components of fewer than min_size
 * pixels are removed; of the rest, only the `largest` biggest are kept (ties: the first in raster
 * order); holes (background components that do not touch the image border) are filled. Components
 * are 4- or 8-connected (conn); the background is taken with the other connectivity, so that a ring
 * closed under the one encloses a hole under the other. The result is 0/1.
 *
 * The work is on runs of foreground pixels along rows (union-find over runs that touch in the row
 * above), so the cost is one pass over the pixels to find the runs, one to write them, and the rest
 * in proportion to the number of runs. */
#ifndef FN_POST_H
#define FN_POST_H

#include <stdint.h>
#include "base/err.h"

typedef struct fn_post_opts {
    double threshold; /* foreground when p > threshold (u8 input: when non-zero) */
    int largest;      /* keep the K largest components; 0: all */
    int conn;         /* 4 or 8 */
    int fill_holes;
    long min_size;    /* remove components under this many pixels; 0: none */
} fn_post_opts;

typedef struct fn_post_stats {
    long components;  /* foreground components found */
    long removed;     /* removed (too small or beyond the K largest) */
    long holes;       /* holes filled */
} fn_post_stats;

/* p [h,w] probabilities -> 0/1 in place. st may be NULL. 0, or -1 with e set (out of memory). */
int fn_post_f32(float *p, int h, int w, const fn_post_opts *o, fn_post_stats *st, fn_err *e);
/* b [h,w] bytes (foreground non-zero) -> 0/1 in place */
int fn_post_u8(uint8_t *b, int h, int w, const fn_post_opts *o, fn_post_stats *st, fn_err *e);

#endif
