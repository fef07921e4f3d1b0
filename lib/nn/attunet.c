/* attunet.c: Attention U-Net (Oktay et al., arXiv 1804.03999) over ushape.c: U-Net's blocks, and an
 * attention gate on each skip before the concatenation:
 *   psi = sigmoid(bn_p(psi1x1(relu(bn_g(wg1x1(g)) + bn_x(wx1x1(x))))))   [N,1,h,w]
 *   y = x * psi (psi broadcast over the channels)
 * g (the up path) [N,F,h,w], x (the skip) [N,F,h,w] -> y [N,F,h,w]; Fint hidden channels, 1x1 convs
 * with bias. Parameters in the order wg, wgbn, wx, wxbn, psi, psibn. */
#include <stdio.h>
#include "nn/build.h"

/* conv1x1 + bn: [N,Ci,h,w] -> [N,Co,h,w] */
static int conv_bn(fn_net *n, const char *name, const char *suffix, int x, int Co) {
    char c[40], b[40];
    snprintf(c, sizeof c, "%s.%s", name, suffix);
    snprintf(b, sizeof b, "%s.%sbn", name, suffix);
    nn_convp cp = nn_conv_params(n, c, n->T[x].C, Co, 1, 1, 0);
    nn_bnp bp = nn_bn_params(n, b, Co);
    int h = nn_conv(n, cp, x, 1, c);                                     /* [N,Co,h,w] */
    return nn_bn(n, bp, h, b);                                           /* [N,Co,h,w] */
}

static int attention(fn_net *n, const char *name, int g, int x, int Fint) {
    char w[40];
    int g1 = conv_bn(n, name, "wg", g, Fint);                            /* [N,Fint,h,w] */
    int x1 = conv_bn(n, name, "wx", x, Fint);                            /* [N,Fint,h,w] */
    snprintf(w, sizeof w, "%s.sum", name);
    int s = nn_bin(n, OP_ADD, g1, x1, w);                                /* [N,Fint,h,w] */
    snprintf(w, sizeof w, "%s.relu", name);
    s = nn_act(n, FN_ACT_RELU, 0, s, w);                                 /* [N,Fint,h,w] */
    int p = conv_bn(n, name, "psi", s, 1);                               /* [N,1,h,w] */
    snprintf(w, sizeof w, "%s.sigmoid", name);
    p = nn_act(n, FN_ACT_SIGMOID, 0, p, w);                              /* psi [N,1,h,w] */
    snprintf(w, sizeof w, "%s.gate", name);
    return nn_cmul(n, x, p, w);                                          /* [N,F,h,w] */
}

void fn_build_attunet(fn_net *n) { nn_ushape(n, nn_unet_block, attention); }
