/* netcheck.h: a whole-network gradient check the network tests share (test_nn for FocusNet, test_arch
 * for the comparison networks). */
#ifndef FN_NETCHECK_H
#define FN_NETCHECK_H

#include <math.h>
#include <stdlib.h>
#include "nn/net.h"

/* The derivative of the loss along the unit gradient direction by central differences (step 5e-4:
 * ReLU kinks make larger steps inexact) into *fd, and the gradient's norm into *gn, which *fd should
 * equal, and the loss itself into *loss (NULL: not wanted); for the batch x [N, C, H, W] with target
 * t [N, 1, H, W]. The parameters are left as they were. 0, or -1 when the first forward and backward
 * pass failed. */
static int directional_fd(fn_net *n, const float *x, const float *t, int N, int H, int W, float *loss, double *fd,
                          double *gn) {
    fn_err e;
    size_t np = fn_net_numel(n);
    float *g = malloc(sizeof *g * np), *p = malloc(sizeof *p * np), *q = malloc(sizeof *q * np);
    float l0 = 0, lp = 0, lm = 0;
    int rc = g && p && q && fn_net_forward(n, x, N, H, W, 1, 0, NULL, &e) == 0 && fn_net_backward(n, t, &l0, &e) == 0
                 ? 0 : -1;
    if (!rc) {
        fn_net_get(n, FN_BUF_GRADS, g, &e);
        fn_net_get(n, FN_BUF_PARAMS, p, &e);
        double s = 0, h = 5e-4;
        for (size_t i = 0; i < np; i++) s += (double)g[i] * g[i];
        *gn = sqrt(s);
        for (size_t i = 0; i < np; i++) q[i] = (float)(p[i] + h * g[i] / *gn);
        fn_net_set(n, FN_BUF_PARAMS, q, &e);
        fn_net_forward(n, x, N, H, W, 1, 0, NULL, &e);
        fn_net_backward(n, t, &lp, &e);
        for (size_t i = 0; i < np; i++) q[i] = (float)(p[i] - h * g[i] / *gn);
        fn_net_set(n, FN_BUF_PARAMS, q, &e);
        fn_net_forward(n, x, N, H, W, 1, 0, NULL, &e);
        fn_net_backward(n, t, &lm, &e);
        *fd = ((double)lp - lm) / (2 * h);
        fn_net_set(n, FN_BUF_PARAMS, p, &e);
        if (loss) *loss = l0;
    }
    free(g), free(p), free(q);
    return rc;
}

#endif
