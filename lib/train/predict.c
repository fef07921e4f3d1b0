/* predict.c: inference forwards and flip test-time augmentation. */
#include <stdlib.h>
#include "train/predict.h"

void fn_flip_planes(const float *src, float *dst, size_t n, int H, int W, int hflip, int vflip) {
    for (size_t p = 0; p < n; p++) {
        const float *s = src + p * (size_t)H * W;
        float *d = dst + p * (size_t)H * W;
        for (int i = 0; i < H; i++) {
            const float *srow = s + (size_t)(vflip ? H - 1 - i : i) * W;
            float *drow = d + (size_t)i * W;
            if (hflip)
                for (int j = 0; j < W; j++) drow[j] = srow[W - 1 - j];
            else
                for (int j = 0; j < W; j++) drow[j] = srow[j];
        }
    }
}

int fn_predict(fn_net *net, const float *x, int N, int H, int W, int tta, float *out, fn_err *e) {
    if (!tta) return fn_net_forward(net, x, N, H, W, 0, 0, out, e);
    int cin = fn_net_cfg(net)->cin;
    size_t nx = (size_t)N * cin * H * W, ny = (size_t)N * H * W;
    float *xf = malloc(sizeof *xf * nx), *yf = malloc(sizeof *yf * ny), *yb = malloc(sizeof *yb * ny);
    int rc = -1;
    if (!xf || !yf || !yb) { fn_seterr(e, "out of memory"); goto out; }
    if (fn_net_forward(net, x, N, H, W, 0, 0, out, e)) goto out;
    static const int flips[3][2] = { { 1, 0 }, { 0, 1 }, { 1, 1 } };
    for (int f = 0; f < 3; f++) {
        fn_flip_planes(x, xf, (size_t)N * cin, H, W, flips[f][0], flips[f][1]);
        if (fn_net_forward(net, xf, N, H, W, 0, 0, yf, e)) goto out;
        fn_flip_planes(yf, yb, (size_t)N, H, W, flips[f][0], flips[f][1]);
        for (size_t i = 0; i < ny; i++) out[i] += yb[i];
    }
    for (size_t i = 0; i < ny; i++) out[i] *= 0.25f;
    rc = 0;
out:
    free(xf); free(yf); free(yb);
    return rc;
}
