/* tile.c: padded and tiled inference (see tile.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "train/dataset.h"
#include "train/predict.h"
#include "train/tile.h"

int fn_pad16(int n) { return (n + 15) / 16 * 16; }

/* the source index of padded index i along an axis of n (reflection without repeating the edge) */
static int reflect(int i, int n) {
    if (n == 1) return 0;
    int period = 2 * (n - 1);
    i %= period;
    return i < n ? i : period - i;
}

void fn_pad_reflect(const float *src, int C, int H, int W, float *dst, int PH, int PW) {
    for (int c = 0; c < C; c++) {
        const float *s = src + (size_t)c * H * W; /* [H,W] */
        float *d = dst + (size_t)c * PH * PW;     /* [PH,PW] */
        for (int i = 0; i < PH; i++) {
            const float *srow = s + (size_t)reflect(i, H) * W;
            float *drow = d + (size_t)i * PW;
            memcpy(drow, srow, sizeof(float) * W);
            for (int j = W; j < PW; j++) drow[j] = srow[reflect(j, W)];
        }
    }
}

int fn_tile_starts(int S, int T, double overlap, int *pos) {
    if (S <= T) {
        if (pos) pos[0] = 0;
        return 1;
    }
    double step = T * (1.0 - overlap);
    long n = (long)ceil((S - T) / step - 1e-9) + 1;
    if (n > S - T + 1) n = S - T + 1; /* no two tiles at one place */
    if (n < 2) n = 2;
    double actual = (double)(S - T) / (double)(n - 1);
    for (long i = 0; pos && i < n; i++) pos[i] = (int)lround(actual * (double)i);
    return (int)n;
}

void fn_tile_gauss(int th, int tw, float *g) {
    double *gy = malloc(sizeof *gy * (size_t)(th + tw)), *gx = gy ? gy + th : NULL;
    if (!gy) { /* flat weights rather than none: still a correct (unweighted) average */
        for (size_t i = 0; i < (size_t)th * tw; i++) g[i] = 1.0f;
        return;
    }
    const int n[2] = {th, tw};
    double *v[2] = {gy, gx}, peak[2] = {0, 0};
    for (int a = 0; a < 2; a++) {
        double c = (n[a] - 1) / 2.0, s = n[a] / 8.0;
        for (int i = 0; i < n[a]; i++) {
            v[a][i] = exp(-(i - c) * (i - c) / (2 * s * s));
            if (v[a][i] > peak[a]) peak[a] = v[a][i];
        }
    }
    for (int i = 0; i < th; i++)
        for (int j = 0; j < tw; j++) g[(size_t)i * tw + j] = (float)(gy[i] / peak[0] * (gx[j] / peak[1]));
    free(gy);
}

int fn_blend_init(fn_blend *b, int h, int w, fn_err *e) {
    b->h = h, b->w = w;
    b->acc = calloc((size_t)h * w, sizeof *b->acc);
    b->wsum = calloc((size_t)h * w, sizeof *b->wsum);
    if (b->acc && b->wsum) return 0;
    fn_blend_free(b);
    return fn_seterr(e, "out of memory for the blend of a %dx%d image", h, w);
}

void fn_blend_add(fn_blend *b, const float *p, const float *g, int y0, int x0, int th, int tw) {
    for (int i = 0; i < th; i++) {
        float *acc = b->acc + (size_t)(y0 + i) * b->w + x0, *ws = b->wsum + (size_t)(y0 + i) * b->w + x0;
        const float *pr = p + (size_t)i * tw, *gr = g + (size_t)i * tw;
        for (int j = 0; j < tw; j++) {
            acc[j] += gr[j] * pr[j];
            ws[j] += gr[j];
        }
    }
}

void fn_blend_finish(const fn_blend *b, float *out) {
    size_t n = (size_t)b->h * b->w;
    for (size_t i = 0; i < n; i++) out[i] = b->acc[i] / b->wsum[i];
}

void fn_blend_free(fn_blend *b) {
    free(b->acc);
    free(b->wsum);
    b->acc = b->wsum = NULL;
}

/* overlapping tiles of every image, o->batch tiles per forward */
static int run_tiled(fn_net *net, const float *x, int N, int H, int W, const fn_infer_opts *o, float *y,
                     fn_err *e) {
    int th = o->tile_h, tw = o->tile_w, cin = fn_net_cfg(net)->cin; /* th <= H, tw <= W */
    int ny = fn_tile_starts(H, th, o->overlap, NULL), nx = fn_tile_starts(W, tw, o->overlap, NULL);
    long per = (long)ny * nx, total = per * N;
    int B = (int)(total < o->batch ? total : o->batch);
    size_t tpx = (size_t)th * tw;
    int *py = malloc(sizeof *py * (size_t)(ny + nx)), *px = py ? py + ny : NULL;
    float *g = malloc(sizeof *g * tpx);                /* [th,tw] */
    float *xt = malloc(sizeof *xt * (size_t)B * cin * tpx); /* [B,cin,th,tw] */
    float *yt = malloc(sizeof *yt * (size_t)B * tpx);  /* [B,1,th,tw] */
    fn_blend *bl = calloc((size_t)N, sizeof *bl);
    int rc = -1;
    if (!py || !g || !xt || !yt || !bl) {
        fn_seterr(e, "out of memory for tiles of %dx%d", th, tw);
        goto out;
    }
    fn_tile_starts(H, th, o->overlap, py);
    fn_tile_starts(W, tw, o->overlap, px);
    fn_tile_gauss(th, tw, g);
    for (int n = 0; per > 1 && n < N; n++)
        if (fn_blend_init(&bl[n], H, W, e)) goto out;
    for (long t0 = 0; t0 < total; t0 += B) {
        int nb = (int)(total - t0 < B ? total - t0 : B);
        for (int j = 0; j < nb; j++) {
            long t = t0 + j, k = t % per;
            int n = (int)(t / per), y0 = py[k / nx], x0 = px[k % nx];
            for (int c = 0; c < cin; c++)
                for (int i = 0; i < th; i++)
                    memcpy(xt + ((size_t)j * cin + c) * tpx + (size_t)i * tw,
                           x + (((size_t)n * cin + c) * H + y0 + i) * W + x0, sizeof *xt * tw);
        }
        if (fn_predict(net, xt, nb, th, tw, o->tta, yt, e)) goto out;
        for (int j = 0; j < nb; j++) {
            long t = t0 + j, k = t % per;
            int n = (int)(t / per);
            if (per == 1) memcpy(y + (size_t)n * H * W, yt + (size_t)j * tpx, sizeof *y * tpx);
            else fn_blend_add(&bl[n], yt + (size_t)j * tpx, g, py[k / nx], px[k % nx], th, tw);
        }
    }
    for (int n = 0; per > 1 && n < N; n++) fn_blend_finish(&bl[n], y + (size_t)n * H * W);
    rc = 0;
out:
    for (int n = 0; bl && n < N; n++) fn_blend_free(&bl[n]);
    free(bl);
    free(py);
    free(g);
    free(xt);
    free(yt);
    return rc;
}

/* the images (tiled when o->tile_h) */
static int run(fn_net *net, const float *x, int N, int H, int W, const fn_infer_opts *o, float *y, fn_err *e) {
    return o->tile_h ? run_tiled(net, x, N, H, W, o, y, e) : fn_predict(net, x, N, H, W, o->tta, y, e);
}

/* x [N,cin,H,W] padded by reflection to [N,cin,PH,PW] (PH >= H, PW >= W), run, and cropped back to y */
static int run_padded(fn_net *net, const float *x, int N, int H, int W, int PH, int PW, const fn_infer_opts *o,
                      float *y, fn_err *e) {
    int cin = fn_net_cfg(net)->cin;
    if (PH == H && PW == W) return run(net, x, N, H, W, o, y, e);
    float *xp = malloc(sizeof *xp * (size_t)N * cin * PH * PW); /* [N,cin,PH,PW] */
    float *yp = malloc(sizeof *yp * (size_t)N * PH * PW);       /* [N,1,PH,PW] */
    int rc = -1;
    if (!xp || !yp) {
        fn_seterr(e, "out of memory for %d padded images of %dx%d", N, PH, PW);
        goto out;
    }
    for (int n = 0; n < N; n++)
        fn_pad_reflect(x + (size_t)n * cin * H * W, cin, H, W, xp + (size_t)n * cin * PH * PW, PH, PW);
    if (run(net, xp, N, PH, PW, o, yp, e)) goto out;
    for (int n = 0; n < N; n++)
        for (int i = 0; i < H; i++)
            memcpy(y + ((size_t)n * H + i) * W, yp + ((size_t)n * PH + i) * PW, sizeof *y * W);
    rc = 0;
out:
    free(xp);
    free(yp);
    return rc;
}

void fn_tile_fit(int S, int T, int *P, int *TS) {
    *P = S < T ? fn_pad16(S) : S;
    *TS = S < T ? *P : T;
}

int fn_infer_images(fn_net *net, const float *x, int N, int H, int W, const fn_infer_opts *o, float *y, fn_err *e) {
    fn_infer_opts t = *o;
    if (!o->tile_h || (H <= o->tile_h && W <= o->tile_w)) { /* untiled: the whole image */
        t.tile_h = t.tile_w = 0;
        return run_padded(net, x, N, H, W, fn_pad16(H), fn_pad16(W), &t, y, e);
    }
    int PH, PW; /* an axis shorter than the tile is padded as untiled, and the tile shrunk to it */
    fn_tile_fit(H, o->tile_h, &PH, &t.tile_h);
    fn_tile_fit(W, o->tile_w, &PW, &t.tile_w);
    return run_padded(net, x, N, H, W, PH, PW, &t, y, e);
}

int fn_infer_input(const fn_frame *f, const char *name, long k, float *dst, fn_err *e) {
    const fn_tensor *t = f->image;
    if (!t) return fn_seterr(e, "%s: frame %ld (%s): no image", name, k, f->id);
    size_t n = fn_tensor_numel(t);
    int bad = 0;
    if (t->dtype == FN_F32) {
        const float *s = t->data;
        for (size_t i = 0; i < n; i++) bad |= !isfinite(s[i]);
        if (dst && !bad) memcpy(dst, s, sizeof *dst * n);
    } else if (dst && t->dtype == FN_U8) {
        const uint8_t *s = t->data;
        for (size_t i = 0; i < n; i++) dst[i] = s[i];
    } else if (dst) {
        for (size_t i = 0; i < n; i++) dst[i] = (float)fn_tensor_get(t, i);
    }
    if (bad) return fn_seterr(e, "%s: frame %ld (%s): image has NaN or Inf values", name, k, f->id);
    return 0;
}
