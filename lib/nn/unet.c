/* unet.c: U-Net (Ronneberger et al.) and Res-U-Net (Alom et al.'s residual variant) over ushape.c.
 *
 *   unet block:    y = relu(bn2(c2(relu(bn1(c1(x))))))             3x3 convs with bias
 *   resunet block: y = the same + proj(x)                            proj 1x1 with bias where Ci != F,
 *                                                                    else the identity
 * x [N,Ci,h,w] -> y [N,F,h,w]. Parameters in the order c1, bn1, c2, bn2, proj. */
#include <stdio.h>
#include "nn/build.h"

int nn_unet_block(fn_net *n, const char *name, int x, int F) {
    char c[40], b[40];
    snprintf(c, sizeof c, "%s.c1", name);
    snprintf(b, sizeof b, "%s.bn1", name);
    int h = nn_conv_bn_relu(n, c, b, x, F, 3);                           /* [N,F,h,w] */
    snprintf(c, sizeof c, "%s.c2", name);
    snprintf(b, sizeof b, "%s.bn2", name);
    return nn_conv_bn_relu(n, c, b, h, F, 3);                            /* [N,F,h,w] */
}

static int residual(fn_net *n, const char *name, int x, int F) {
    char nm[40];
    int h = nn_unet_block(n, name, x, F);                                    /* [N,F,h,w] */
    int sc = x;                                                          /* identity [N,F,h,w] */
    if (n->T[x].C != F) {
        snprintf(nm, sizeof nm, "%s.proj", name);
        nn_convp p = nn_conv_params(n, nm, n->T[x].C, F, 1, 1, 0);
        sc = nn_conv(n, p, x, 1, nm);                                    /* [N,F,h,w] */
    }
    snprintf(nm, sizeof nm, "%s.out", name);
    return nn_bin(n, OP_ADD, sc, h, nm);                                 /* [N,F,h,w] */
}

void fn_build_unet(fn_net *n) {
    nn_ushape(n, n->cfg.arch == FN_ARCH_RESUNET ? residual : nn_unet_block, NULL);
}
