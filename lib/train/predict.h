/* predict.h: the network in inference mode over a host batch, optionally averaged over flips. */
#ifndef FN_TRAIN_PREDICT_H
#define FN_TRAIN_PREDICT_H

#include "base/err.h"
#include "nn/net.h"

/* x [N,cin,H,W] -> out [N,1,H,W] probabilities (running BN statistics, no dropout).
 * tta: the mean of the predictions for x and its horizontal, vertical and both flips (each flipped
 * back), summed in that order. 0 or -1 (e set). */
int fn_predict(fn_net *net, const float *x, int N, int H, int W, int tta, float *out, fn_err *e);

/* flip each [H,W] plane of n planes: horizontally (mirror columns) and/or vertically (mirror rows) */
void fn_flip_planes(const float *src, float *dst, size_t n, int H, int W, int hflip, int vflip);

#endif
