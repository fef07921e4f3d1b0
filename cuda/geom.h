/* geom.h: how the CUDA backend maps TensorFlow 'same' convolutions onto cuDNN (plain C, shared with
 * the unit test tests/unit/test_cuda_geom.c, which checks this arithmetic on the CPU).
 *
 * cuDNN pads symmetrically; TF 'same' puts total/2 (floor) before and the rest after, so the side after
 * gets at most ONE more row/column than the side before (3x3/s2 on an even size: 0 and 1; 2x2/s1: 0
 * and 1; 7x7/s2 even: 2 and 3). We therefore give cuDNN the symmetric padding pt (pl) and, where the
 * bottom (right) needs one more, an input with one extra zero row (column) at the bottom (right):
 *   x  [N,Ci,H,W]  ->  xp [N,Ci,Hp,Wp], Hp = H + eh, Wp = W + ew, eh/ew in {0,1}, the extra zero.
 * cuDNN's output size floor((Hp + 2 pt - k)/s) + 1 then equals ceil(H/s), and output row i reads xp rows
 * i*s - pt .. i*s - pt + k - 1, which are exactly TF's rows of x (the extra row is TF's bottom pad).
 * Backward-filter uses xp in the same way; backward-data produces dxp [N,Ci,Hp,Wp], and the top-left
 * H x W block of dxp is dx (the gradient that falls on the extra row/column is dropped). */
#ifndef FN_CUDA_GEOM_H
#define FN_CUDA_GEOM_H

#include "backend/backend.h"

typedef struct fn_cu_geom {
    int Ho, Wo;   /* output size, ceil(H/s), ceil(W/s) */
    int pt, pl;   /* symmetric padding handed to cuDNN (TF's padding before) */
    int eh, ew;   /* extra zero row at the bottom / column at the right (0 or 1) */
    int Hp, Wp;   /* the input size handed to cuDNN: H + eh, W + ew */
} fn_cu_geom;

static inline FN_HOSTDEV void fn_cu_geom_init(fn_cu_geom *g, int H, int W, int k, int s) {
    g->Ho = fn_same(H, k, s, &g->pt);
    g->Wo = fn_same(W, k, s, &g->pl);
    int th = (g->Ho - 1) * s + k - H, tw = (g->Wo - 1) * s + k - W;
    if (th < 0) th = 0;
    if (tw < 0) tw = 0;
    g->eh = th - 2 * g->pt; /* after - before */
    g->ew = tw - 2 * g->pl;
    g->Hp = H + g->eh;
    g->Wp = W + g->ew;
}

/* the output size cuDNN computes for an input of size in, symmetric padding pad (both sides) */
static inline FN_HOSTDEV int fn_cu_cudnn_out(int in, int pad, int k, int s) {
    return (in + 2 * pad - k) / s + 1;
}

#endif
