/* focusnet.c: FocusNet (focusnet.md section 3) described once as a tape of ops (build.h's steps); the
 * net's API that runs it, the same for every architecture, is net.c's, and arch.c names it.
 *
 * Shapes in the comments are for width 1.0 and input [N,cin,H,W]; every channel count c reads
 * ch(c) = max(1, round(c * width)). The builder functions register parameters in the order PyTorch's
 * named_parameters gives for shared/reference/torch_focusnet.py, which is focusnet-params.txt's. */
#include <stdio.h>
#include "nn/build.h"

/* FocusNet's own blocks (the shared builder steps are build.c's) */

/* SE(C): x [N,C,h,w] -> [N,C,h,w]; dense a [C/16,C], b [C,C/16], no bias */
static int se(fn_net *n, const char *name, int x) {
    char nm[40];
    int C = n->T[x].C, Cr = C / 16 < 1 ? 1 : C / 16;
    snprintf(nm, sizeof nm, "%s.a.weight", name);
    int a = nn_param(n, nm, FN_P_DENSE, 2, (int[]){ Cr, C }, 0);
    snprintf(nm, sizeof nm, "%s.b.weight", name);
    int b = nn_param(n, nm, FN_P_DENSE, 2, (int[]){ C, Cr }, 0);
    snprintf(nm, sizeof nm, "%s.out", name);
    int y = nn_tensor(n, C, n->T[x].lvl, nm);
    fn_op *o = nn_op(n, OP_SE);
    if (!o) return 0;
    o->x = x; o->y = y; o->p0 = a; o->p1 = b; o->Cr = Cr;
    n->no++;
    return y;
}

/* RU(F, down|plain), focusnet.md section 2:
 *   down:  y = proj1x1/s2(x) + c2(relu(bn2(c1/s2(relu(bn1(x))))))
 *   plain: y = [proj1x1(x) | x] + c2(relu(bn2(c1(x))))
 * x [N,Ci,h,w] -> y [N,F,h/s,w/s]. Parameters in the order bn1, c1, proj, bn2, c2. */
static int ru(fn_net *n, const char *name, int x, int F, int down) {
    char nm[40], w[40];
    int Ci = n->T[x].C, s = down ? 2 : 1;
    nn_bnp bn1 = { -1, -1, -1 };
    nn_convp pr = { -1, -1, 1, Ci, F };
    if (down) { snprintf(nm, sizeof nm, "%s.bn1", name); bn1 = nn_bn_params(n, nm, Ci); }
    snprintf(nm, sizeof nm, "%s.c1", name);
    nn_convp c1 = nn_conv_params(n, nm, Ci, F, 3, 1, 1e-4f);
    if (down || Ci != F) { snprintf(nm, sizeof nm, "%s.proj", name); pr = nn_conv_params(n, nm, Ci, F, 1, 1, 1e-4f); }
    snprintf(nm, sizeof nm, "%s.bn2", name);
    nn_bnp bn2 = nn_bn_params(n, nm, F);
    snprintf(nm, sizeof nm, "%s.c2", name);
    nn_convp c2 = nn_conv_params(n, nm, F, F, 3, 1, 1e-4f);

    int h = x;                                                           /* [N,Ci,h,w] */
    if (down) {
        snprintf(w, sizeof w, "%s.bn1", name); h = nn_bn(n, bn1, x, w);   /* [N,Ci,h,w] */
        snprintf(w, sizeof w, "%s.relu1", name); h = nn_act(n, FN_ACT_RELU, 0, h, w);
    }
    snprintf(w, sizeof w, "%s.c1", name); h = nn_conv(n, c1, h, s, w);     /* [N,F,h/s,w/s] */
    snprintf(w, sizeof w, "%s.bn2", name); h = nn_bn(n, bn2, h, w);        /* [N,F,h/s,w/s] */
    snprintf(w, sizeof w, "%s.relu2", name); h = nn_act(n, FN_ACT_RELU, 0, h, w);
    snprintf(w, sizeof w, "%s.c2", name); h = nn_conv(n, c2, h, 1, w);     /* [N,F,h/s,w/s] */
    int sc = x;                                                          /* identity [N,F,h,w] */
    if (pr.w >= 0) { snprintf(w, sizeof w, "%s.proj", name); sc = nn_conv(n, pr, x, s, w); } /* [N,F,h/s,w/s] */
    snprintf(w, sizeof w, "%s.out", name);
    return nn_bin(n, OP_ADD, sc, h, w);                                  /* [N,F,h/s,w/s] */
}

/* Up(F): x [N,C,h,w] -> relu(conv2x2(up2(x))) [N,F,2h,2w] */
static int up(fn_net *n, const char *name, int x, int F) {
    char nm[40];
    snprintf(nm, sizeof nm, "%s.conv", name);
    nn_convp c = nn_conv_params(n, nm, n->T[x].C, F, 2, 1, 0);
    snprintf(nm, sizeof nm, "%s.up", name);
    int u = nn_up2(n, x, nm);                                            /* [N,C,2h,2w] */
    snprintf(nm, sizeof nm, "%s.conv", name);
    int y = nn_conv(n, c, u, 1, nm);                                     /* [N,F,2h,2w] */
    snprintf(nm, sizeof nm, "%s.out", name);
    return nn_act(n, FN_ACT_RELU, 0, y, nm);
}

/* gate: s * sigmoid(d). The sigmoid is in place over d where nothing else reads d (D7); where an
 * upsampling read d before (D5, D6), into a tensor of its own, so that d stays as it was and a training
 * plan can make that upsampling again in its backward instead of keeping it (graph.c recomputed): d
 * lives a while longer, the upsampled copy, four times its size, not at all. */
static int gate(fn_net *n, const char *name, int s, int d) {
    char nm[40];
    snprintf(nm, sizeof nm, "%s.sigmoid", name);
    int read = 0;
    for (int i = 0; i < n->no; i++) read |= n->O[i].x == d || n->O[i].x2 == d;
    int sg = read ? nn_act_new(n, FN_ACT_SIGMOID, 0, d, nm) : nn_act(n, FN_ACT_SIGMOID, 0, d, nm);
    snprintf(nm, sizeof nm, "%s.gate", name);
    return nn_bin(n, OP_MUL, s, sg, nm);
}

void fn_build_focusnet(fn_net *n) {
    int cin = n->cfg.cin, c0 = nn_ch(n, 32);
    int x = nn_input(n, cin);                                            /* x  [N,cin,H,W] */

    /* attention branch */
    nn_convp a0c = nn_conv_params(n, "a0", cin, c0, 3, 0, 5e-4f);
    nn_bnp a0b = nn_bn_params(n, "a0bn", c0);
    int a0 = nn_conv(n, a0c, x, 1, "a0");                                /* [N,32,H,W] */
    a0 = nn_bn(n, a0b, a0, "a0bn");                                      /* [N,32,H,W] */
    a0 = nn_act(n, FN_ACT_LEAKY, 0.3f, a0, "a0.leaky");                  /* a0 [N,32,H,W] */
    int a1 = ru(n, "a1", a0, nn_ch(n, 32), 1);                              /* a1 [N,32,H/2,W/2] */
    int a2 = ru(n, "a2", a1, nn_ch(n, 64), 0);                              /* a2 [N,64,H/2,W/2] */
    int a3 = ru(n, "a3", a2, nn_ch(n, 64), 1);                              /* a3 [N,64,H/4,W/4] */
    int a4 = ru(n, "a4", a3, nn_ch(n, 128), 0);                             /* a4 [N,128,H/4,W/4] */
    int a5 = ru(n, "a5", a4, nn_ch(n, 128), 1);                             /* a5 [N,128,H/8,W/8] */
    int a6 = ru(n, "a6", a5, nn_ch(n, 256), 0);                             /* a6 [N,256,H/8,W/8] */
    a6 = nn_dropout(n, a6, "a6.drop");                                   /* [N,256,H/8,W/8] */
    int t = up(n, "a7", a6, nn_ch(n, 256));                                 /* [N,256,H/4,W/4] */
    t = nn_concat(n, a4, t, "a7.cat");                                   /* [N,384,H/4,W/4] */
    int d5 = ru(n, "d5", t, nn_ch(n, 256), 0);                              /* d5 [N,256,H/4,W/4] */
    t = up(n, "a9", d5, nn_ch(n, 128));                                     /* [N,128,H/2,W/2] */
    t = nn_concat(n, a2, t, "a9.cat");                                   /* [N,192,H/2,W/2] */
    int d6 = ru(n, "d6", t, nn_ch(n, 128), 0);                              /* d6 [N,128,H/2,W/2] */
    t = up(n, "a11", d6, nn_ch(n, 64));                                     /* [N,64,H,W] */
    t = nn_concat(n, a0, t, "a11.cat");                                  /* [N,96,H,W] */
    int d7 = ru(n, "d7", t, nn_ch(n, 64), 0);                               /* d7 [N,64,H,W] */

    /* main branch: encoder with SE and gates */
    nn_convp m0c = nn_conv_params(n, "m0", cin, nn_ch(n, 64), 7, 1, 1e-4f);
    nn_bnp m0b = nn_bn_params(n, "m0bn", nn_ch(n, 64));
    int m0 = nn_conv(n, m0c, x, 1, "m0");                                /* [N,64,H,W] */
    m0 = nn_bn(n, m0b, m0, "m0bn");                                      /* [N,64,H,W] */
    m0 = nn_act(n, FN_ACT_RELU, 0, m0, "m0.relu");                       /* m0 [N,64,H,W] */
    int m = ru(n, "m1", m0, nn_ch(n, 64), 0);                               /* [N,64,H,W] */
    m = se(n, "m1a", m);                                                 /* [N,64,H,W] */
    m = gate(n, "m1", m, d7);                                            /* [N,64,H,W] */
    int m1 = se(n, "m1b", m);                                            /* m1 [N,64,H,W] */
    int m2 = ru(n, "m2", m1, nn_ch(n, 64), 1);                              /* m2 [N,64,H/2,W/2] */
    m = ru(n, "m3", m2, nn_ch(n, 128), 0);                                  /* [N,128,H/2,W/2] */
    m = se(n, "m3a", m);
    m = gate(n, "m3", m, d6);
    int m3 = se(n, "m3b", m);                                            /* m3 [N,128,H/2,W/2] */
    int m4 = ru(n, "m4", m3, nn_ch(n, 128), 1);                             /* m4 [N,128,H/4,W/4] */
    m = ru(n, "m5", m4, nn_ch(n, 256), 0);                                  /* [N,256,H/4,W/4] */
    m = se(n, "m5a", m);
    m = gate(n, "m5", m, d5);
    int m5 = se(n, "m5b", m);                                            /* m5 [N,256,H/4,W/4] */
    int m6 = ru(n, "m6", m5, nn_ch(n, 256), 1);                             /* m6 [N,256,H/8,W/8] */
    m = ru(n, "m7", m6, nn_ch(n, 512), 0);                                  /* [N,512,H/8,W/8] */
    int m7 = se(n, "m7se", m);                                           /* m7 [N,512,H/8,W/8] */
    int m8 = ru(n, "m8", m7, nn_ch(n, 512), 1);                             /* m8 [N,512,H/16,W/16] */

    /* main branch: decoder (skips from the down units and the stem) and output */
    t = up(n, "m9", m8, nn_ch(n, 256));                                     /* [N,256,H/8,W/8] */
    t = nn_concat(n, m6, t, "m9.cat");                                   /* [N,512,H/8,W/8] */
    int h = ru(n, "m10", t, nn_ch(n, 256), 0);                              /* [N,256,H/8,W/8] */
    t = up(n, "m11", h, nn_ch(n, 128));                                     /* [N,128,H/4,W/4] */
    t = nn_concat(n, m4, t, "m11.cat");                                  /* [N,256,H/4,W/4] */
    h = ru(n, "m12", t, nn_ch(n, 128), 0);                                  /* [N,128,H/4,W/4] */
    t = up(n, "m13", h, nn_ch(n, 64));                                      /* [N,64,H/2,W/2] */
    t = nn_concat(n, m2, t, "m13.cat");                                  /* [N,128,H/2,W/2] */
    h = ru(n, "m14", t, nn_ch(n, 64), 0);                                   /* [N,64,H/2,W/2] */
    t = up(n, "m15", h, nn_ch(n, 32));                                      /* [N,32,H,W] */
    t = nn_concat(n, m0, t, "m15.cat");                                  /* [N,96,H,W] */
    h = ru(n, "m16", t, nn_ch(n, 32), 0);                                   /* [N,32,H,W] */
    h = ru(n, "m17", h, nn_ch(n, 16), 0);                                   /* [N,16,H,W] */
    h = ru(n, "m18", h, nn_ch(n, 4), 0);                                    /* [N,4,H,W] */
    nn_convp oc = nn_conv_params(n, "out", n->T[h].C, 1, 1, 1, 0);
    h = nn_conv(n, oc, h, 1, "out");                                     /* logits [N,1,H,W] */
    n->out = nn_act(n, FN_ACT_SIGMOID, 0, h, "out.sigmoid");             /* p [N,1,H,W] */
    (void)a1; (void)a3; (void)a5;
}
