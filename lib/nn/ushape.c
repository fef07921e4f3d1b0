/* ushape.c: the U shape that U-Net, Res-U-Net, RU-Net, R2U-Net and Attention U-Net share (build.h),
 * as LeeJunHyun/Image_Segmentation's network.py lays it out. Shapes for width 1 and input [N,cin,H,W]. */
#include <stdio.h>
#include "nn/build.h"

/* up_conv: x [N,C,h,w] -> relu(bn(conv3x3(up2(x)))) [N,F,2h,2w]; parameters "<name>.c", "<name>.bn" */
static int up_conv(fn_net *n, const char *name, int x, int F) {
    char c[40], b[40];
    snprintf(c, sizeof c, "%s.c", name);
    snprintf(b, sizeof b, "%s.bn", name);
    int u = nn_up2(n, x, name);                                          /* [N,C,2h,2w] */
    return nn_conv_bn_relu(n, c, b, u, F, 3);                            /* [N,F,2h,2w] */
}

void nn_ushape(fn_net *n, nn_block_fn block, nn_gate_fn gate) {
    char nm[16];
    int e[6];
    int x = nn_input(n, n->cfg.cin);                                     /* [N,cin,H,W] */
    /* encoder: e1 [N,64,H,W], e2 [N,128,H/2,W/2], e3 [N,256,H/4,W/4], e4 [N,512,H/8,W/8],
     * e5 [N,1024,H/16,W/16] */
    for (int i = 1; i <= 5; i++) {
        if (i > 1) {
            snprintf(nm, sizeof nm, "pool%d", i);
            x = nn_pool2(n, x, nm);                                      /* [N,C,h/2,w/2] */
        }
        snprintf(nm, sizeof nm, "e%d", i);
        x = e[i] = block(n, nm, x, nn_ch(n, 64 << (i - 1)));
    }
    /* decoder: d5 [N,512,H/8,W/8], d4 [N,256,H/4,W/4], d3 [N,128,H/2,W/2], d2 [N,64,H,W] */
    for (int i = 5; i >= 2; i--) {
        int F = nn_ch(n, 64 << (i - 2)), s = e[i - 1];
        snprintf(nm, sizeof nm, "u%d", i);
        int d = up_conv(n, nm, x, F);                                    /* [N,F,h,w] */
        if (gate) {
            snprintf(nm, sizeof nm, "att%d", i);
            s = gate(n, nm, d, s, nn_ch(n, 32 << (i - 2)));              /* [N,F,h,w] */
        }
        snprintf(nm, sizeof nm, "cat%d", i);
        x = nn_concat(n, s, d, nm);                                      /* [N,2F,h,w] */
        snprintf(nm, sizeof nm, "d%d", i);
        x = block(n, nm, x, F);                                          /* [N,F,h,w] */
    }
    n->out = nn_out_sigmoid(n, x);                                       /* p [N,1,H,W] */
}
