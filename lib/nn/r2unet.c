/* r2unet.c: RU-Net and R2U-Net (Alom et al., arXiv 1802.06955; t = 2) over ushape.c.
 *
 * Recurrent convolutional layer, one conv + BN (weights and running statistics shared by its three
 * applications):  x1 = f(x); x1 = f(x + x1); x1 = f(x + x1), f = relu(bn(conv3x3(.))).
 * Block: x0 = conv1x1(x) (bias); h = rcl2(rcl1(x0)); runet: y = h; r2unet: y = x0 + h.
 * x [N,Ci,h,w] -> y [N,F,h,w]. Parameters in the order c0, r1.c, r1.bn, r2.c, r2.bn. */
#include <stdio.h>
#include "nn/build.h"

/* x [N,F,h,w] -> [N,F,h,w] */
static int rcl(fn_net *n, const char *name, int x) {
    char c[40], b[40], w[40];
    int F = n->T[x].C;
    snprintf(c, sizeof c, "%s.c", name);
    snprintf(b, sizeof b, "%s.bn", name);
    nn_convp cp = nn_conv_params(n, c, F, F, 3, 1, 0);
    nn_bnp bp = nn_bn_params(n, b, F);
    int h = x;                                                           /* the first f reads x alone */
    for (int t = 0; t <= 2; t++) {
        if (t > 0) {
            snprintf(w, sizeof w, "%s.sum%d", name, t);
            h = nn_bin(n, OP_ADD, x, h, w);                              /* x + x1 [N,F,h,w] */
        }
        h = nn_conv(n, cp, h, 1, c);                                     /* [N,F,h,w] */
        h = nn_bn(n, bp, h, b);                                          /* [N,F,h,w] */
        snprintf(w, sizeof w, "%s.relu%d", name, t);
        h = nn_act(n, FN_ACT_RELU, 0, h, w);                             /* x1 [N,F,h,w] */
    }
    return h;
}

static int block(fn_net *n, const char *name, int x, int F, int res) {
    char nm[40];
    snprintf(nm, sizeof nm, "%s.c0", name);
    nn_convp c0 = nn_conv_params(n, nm, n->T[x].C, F, 1, 1, 0);
    int x0 = nn_conv(n, c0, x, 1, nm);                                   /* [N,F,h,w] */
    snprintf(nm, sizeof nm, "%s.r1", name);
    int h = rcl(n, nm, x0);                                              /* [N,F,h,w] */
    snprintf(nm, sizeof nm, "%s.r2", name);
    h = rcl(n, nm, h);                                                   /* [N,F,h,w] */
    if (!res) return h;
    snprintf(nm, sizeof nm, "%s.out", name);
    return nn_bin(n, OP_ADD, x0, h, nm);                                 /* [N,F,h,w] */
}

static int recurrent(fn_net *n, const char *name, int x, int F) { return block(n, name, x, F, 0); }
static int recurrent_residual(fn_net *n, const char *name, int x, int F) { return block(n, name, x, F, 1); }

void fn_build_r2unet(fn_net *n) {
    nn_ushape(n, n->cfg.arch == FN_ARCH_R2UNET ? recurrent_residual : recurrent, NULL);
}
