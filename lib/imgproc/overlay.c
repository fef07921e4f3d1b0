/* overlay.c: the input | truth | prediction montage of fn-write --overlay */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "imgproc/display.h"

#define GAP 4

typedef struct panel {
    uint8_t *p[3]; /* top-left of the panel in each plane of the montage */
    size_t stride; /* the montage's width */
    int h, w;
} panel;

static void tint(const panel *P, const uint8_t *fg, const uint8_t rgb[3], int alpha256) {
    for (int y = 0; y < P->h; y++)
        for (int x = 0; x < P->w; x++)
            if (fg[(size_t)y * P->w + x])
                for (int c = 0; c < 3; c++) {
                    uint8_t *q = P->p[c] + (size_t)y * P->stride + x;
                    *q = (uint8_t)((*q * (256 - alpha256) + rgb[c] * alpha256) >> 8);
                }
}

/* pixels of fg with a 4-neighbour outside fg, drawn as t x t squares */
static void contour(const panel *P, const uint8_t *fg, const uint8_t rgb[3], int t) {
    int h = P->h, w = P->w;
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            size_t i = (size_t)y * w + x;
            if (!fg[i]) continue;
            if ((x == 0 || fg[i - 1]) && (x == w - 1 || fg[i + 1]) && (y == 0 || fg[i - w]) && (y == h - 1 || fg[i + w]))
                continue;
            int y0 = y - t / 2, x0 = x - t / 2;
            for (int yy = y0 < 0 ? 0 : y0; yy < y0 + t && yy < h; yy++)
                for (int xx = x0 < 0 ? 0 : x0; xx < x0 + t && xx < w; xx++)
                    for (int c = 0; c < 3; c++) P->p[c][(size_t)yy * P->stride + xx] = rgb[c];
        }
}

static uint8_t *threshold(const fn_tensor *t, double thr) {
    size_t n = (size_t)t->h * t->w;
    uint8_t *fg = malloc(n ? n : 1);
    if (fg)
        for (size_t i = 0; i < n; i++) fg[i] = fn_tensor_get(t, i) >= thr;
    return fg;
}

fn_tensor *fn_overlay(const fn_tensor *image, const fn_tensor *mask, const fn_tensor *pred, double thr, fn_err *e) {
    int h = image->h, w = image->w;
    const fn_tensor *m[2] = {mask, pred};
    const char *what[2] = {"mask", "pred"};
    for (int k = 0; k < 2; k++)
        if (m[k] && (m[k]->h != h || m[k]->w != w)) {
            fn_seterr(e, "%s is %dx%d but image is %dx%d", what[k], m[k]->h, m[k]->w, h, w);
            return NULL;
        }
    int panels = 1 + !!mask + !!pred;
    long W = (long)panels * w + (long)(panels - 1) * GAP;
    if (W > 3L * 65536) {
        fn_seterr(e, "image too wide for a montage");
        return NULL;
    }
    fn_tensor *base = fn_display_u8(image, e), *out = NULL;
    uint8_t *fgm = mask ? threshold(mask, 0.5) : NULL, *fgp = pred ? threshold(pred, thr) : NULL;
    if (!base || (mask && !fgm) || (pred && !fgp)) {
        if (base) fn_seterr(e, "out of memory");
        goto done;
    }
    /* build it by hand: the montage may exceed FN_MAX_HW in width */
    size_t plane = (size_t)h * W;
    out = malloc(sizeof *out);
    uint8_t *d = out ? malloc(3 * plane) : NULL;
    if (!d) {
        free(out);
        out = NULL;
        fn_seterr(e, "out of memory");
        goto done;
    }
    *out = (fn_tensor){FN_U8, 3, h, (int)W, d};
    memset(d, 255, 3 * plane);
    panel P[3];
    for (int k = 0; k < panels; k++) {
        P[k] = (panel){{d + (size_t)k * (w + GAP), d + plane + (size_t)k * (w + GAP), d + 2 * plane + (size_t)k * (w + GAP)},
                       (size_t)W, h, w};
        for (int c = 0; c < 3; c++) {
            const uint8_t *s = (const uint8_t *)base->data + (size_t)(base->c == 3 ? c : 0) * h * w;
            for (int y = 0; y < h; y++) memcpy(P[k].p[c] + (size_t)y * W, s + (size_t)y * w, (size_t)w);
        }
    }
    static const uint8_t green[3] = {0, 220, 0}, red[3] = {255, 40, 40};
    int t = (h < w ? h : w) / 200;
    if (t < 1) t = 1;
    if (mask) {
        tint(&P[1], fgm, green, 90);
        contour(&P[1], fgm, green, t);
    }
    if (pred) {
        panel *q = &P[panels - 1];
        tint(q, fgp, red, 90);
        contour(q, fgp, red, t);
        if (mask) contour(q, fgm, green, t);
    }
done:
    fn_tensor_free(base);
    free(fgm);
    free(fgp);
    return out;
}
