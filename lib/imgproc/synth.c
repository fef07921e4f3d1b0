/* synth.c: deterministic synthetic images and masks (see synth.h).
 *
 * Only integer arithmetic, + - * / on doubles and sqrt are used (fn_rng_normal's log/cos are avoided),
 * so every IEEE machine gives the same bytes. a*b+c must not become a fused multiply-add: GCC does not
 * contract under -std=c11; clang does by default (e.g. on arm64), hence the pragma. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include "base/rng.h"
#include "imgproc/synth.h"

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

/* uniform in [a, b) (here, not fn_rng_range, so that the pragma above covers it) */
static double range(fn_rng *r, double a, double b) { return a + (b - a) * fn_rng_uniform(r); }

/* approximately standard normal: the sum of four 16-bit uniforms, centred and scaled (one draw) */
static double gauss(fn_rng *r) {
    uint64_t z = fn_rng_u64(r);
    double s = (double)(z & 0xffff) + (double)((z >> 16) & 0xffff) + (double)((z >> 32) & 0xffff) +
               (double)(z >> 48);
    return (s - 131070.0) * (1.0 / 37837.23);
}

/* ---- value noise: random values on a square lattice, smoothly interpolated ---------------------- */

typedef struct {
    int gh, gw;
    double inv; /* 1 / cell size in pixels */
    double *v;  /* gh x gw values in [-1, 1] */
} lattice;

static int lat_init(lattice *L, int h, int w, double cell, fn_rng *r) {
    L->gh = (int)(h / cell) + 3;
    L->gw = (int)(w / cell) + 3;
    L->inv = 1.0 / cell;
    L->v = malloc((size_t)L->gh * L->gw * sizeof *L->v);
    if (!L->v) return -1;
    for (int i = 0; i < L->gh * L->gw; i++) L->v[i] = 2 * fn_rng_uniform(r) - 1;
    return 0;
}

static double lat_at(const lattice *L, int y, int x) {
    double fy = y * L->inv, fx = x * L->inv;
    int iy = (int)fy, ix = (int)fx;
    double ty = fy - iy, tx = fx - ix;
    ty = ty * ty * (3 - 2 * ty);
    tx = tx * tx * (3 - 2 * tx);
    const double *p = L->v + (size_t)iy * L->gw + ix;
    double a = p[0] + (p[1] - p[0]) * tx;
    double b = p[L->gw] + (p[L->gw + 1] - p[L->gw]) * tx;
    return a + (b - a) * ty;
}

/* ---- the scene ---------------------------------------------------------------------------------- */

#define MAXBLOB 3

typedef struct {
    double cy, cx, dy, dx;   /* centre, unit direction of the first axis */
    double ia2, ib2;         /* 1/ra^2, 1/rb^2 */
    double wob, soft;        /* boundary wobble, edge softness */
    double contrast, tex;    /* added brightness, texture amplitude */
    double tint[3];
    lattice shape;
} blob;

typedef struct {
    double level, tex, tint[3], sigma;
    int nblob;
    blob b[MAXBLOB];
    lattice coarse, fine, fgtex;
} scene;

static void scene_free(scene *s) {
    free(s->coarse.v);
    free(s->fine.v);
    free(s->fgtex.v);
    for (int k = 0; k < MAXBLOB; k++) free(s->b[k].shape.v);
}

static int scene_init(scene *s, const fn_synth_opts *o, fn_rng *r) {
    int h = o->h, w = o->w, m = h < w ? h : w;
    s->level = range(r, 50, 110);
    s->tex = range(r, 10, 30);
    s->sigma = range(r, 3, 10);
    for (int ch = 0; ch < 3; ch++) s->tint[ch] = o->c == 1 ? 1 : range(r, 0.8, 1.2);
    s->nblob = 1 + (int)fn_rng_below(r, MAXBLOB);
    for (int k = 0; k < s->nblob; k++) {
        blob *b = &s->b[k];
        b->cy = range(r, 0.2, 0.8) * h;
        b->cx = range(r, 0.2, 0.8) * w;
        double ra = range(r, 0.08, 0.22) * m;
        if (ra < 1.5) ra = 1.5;
        double rb = ra * range(r, 0.5, 1.0);
        b->ia2 = 1 / (ra * ra);
        b->ib2 = 1 / (rb * rb);
        double dy, dx, n2;
        do {
            dy = 2 * fn_rng_uniform(r) - 1;
            dx = 2 * fn_rng_uniform(r) - 1;
            n2 = dy * dy + dx * dx;
        } while (n2 < 0.01 || n2 > 1);
        double n = sqrt(n2);
        b->dy = dy / n;
        b->dx = dx / n;
        b->wob = range(r, 0.2, 0.6);
        b->soft = range(r, 0.1, 0.4);
        b->contrast = range(r, 25, 80);
        b->tex = range(r, 5, 20);
        for (int ch = 0; ch < 3; ch++) b->tint[ch] = o->c == 1 ? 1 : range(r, 0.7, 1.3);
        double cell = ra * 0.7 < 2 ? 2 : ra * 0.7;
        if (lat_init(&b->shape, h, w, cell, r)) return -1;
    }
    if (lat_init(&s->coarse, h, w, m / 3.0 < 4 ? 4 : m / 3.0, r) ||
        lat_init(&s->fine, h, w, m / 16.0 < 3 ? 3 : m / 16.0, r) ||
        lat_init(&s->fgtex, h, w, m / 24.0 < 2 ? 2 : m / 24.0, r))
        return -1;
    return 0;
}

/* how much of blob b covers pixel (y, x): alpha in [0, 1]; *in = 1 inside the blob's exact outline */
static double blob_alpha(const blob *b, int y, int x, int *in) {
    double py = y - b->cy, px = x - b->cx;
    double u = py * b->dy + px * b->dx, v = px * b->dy - py * b->dx;
    double d = u * u * b->ia2 + v * v * b->ib2;
    if (d > 1 + b->wob + b->soft) {
        *in = 0;
        return 0;
    }
    d += b->wob * lat_at(&b->shape, y, x);
    *in = d < 1;
    double a = 0.5 + (1 - d) / b->soft;
    return a < 0 ? 0 : a > 1 ? 1 : a;
}

int fn_synth_frame(const fn_synth_opts *o, long i, fn_frame *f, fn_err *e) {
    if (o->c != 1 && o->c != 3) return fn_seterr(e, "synth: channels must be 1 or 3, not %d", o->c);
    fn_rng r;
    fn_rng_seed_key(&r, o->seed, (uint64_t)i, 0);

    char id[32];
    snprintf(id, sizeof id, "synth_%04ld", i);
    fn_tensor *img = fn_tensor_new(FN_U8, o->c, o->h, o->w, e);
    fn_tensor *msk = img ? fn_tensor_new(FN_U8, 1, o->h, o->w, e) : NULL;
    scene s = {0};
    if (!msk || scene_init(&s, o, &r)) {
        scene_free(&s);
        fn_tensor_free(img);
        fn_tensor_free(msk);
        return msk ? fn_seterr(e, "out of memory") : -1;
    }

    size_t plane = (size_t)o->h * o->w;
    uint8_t *im = img->data, *mk = msk->data;
    for (int y = 0; y < o->h; y++)
        for (int x = 0; x < o->w; x++) {
            double bg = s.tex * (0.7 * lat_at(&s.coarse, y, x) + 0.3 * lat_at(&s.fine, y, x));
            double fgt = 0, al[MAXBLOB];
            int inside = 0, any = 0;
            for (int k = 0; k < s.nblob; k++) {
                int in;
                al[k] = blob_alpha(&s.b[k], y, x, &in);
                inside |= in;
                any |= al[k] > 0;
            }
            if (any) fgt = lat_at(&s.fgtex, y, x);
            size_t p = (size_t)y * o->w + x;
            mk[p] = (uint8_t)inside;
            for (int ch = 0; ch < o->c; ch++) {
                double v = s.level * s.tint[ch] + bg;
                for (int k = 0; k < s.nblob; k++)
                    if (al[k] > 0) v += al[k] * (s.b[k].contrast * s.b[k].tint[ch] + s.b[k].tex * fgt);
                v += s.sigma * gauss(&r);
                im[ch * plane + p] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : (int)(v + 0.5));
            }
        }
    scene_free(&s);

    fn_frame_set_tensor(&f->image, img);
    fn_frame_set_tensor(&f->mask, msk);
    if (fn_frame_set_id(f, id, e) || fn_meta_set_str(f, "src", "fn-synth", e) ||
        fn_meta_set_int(f, "orig_h", o->h, e) || fn_meta_set_int(f, "orig_w", o->w, e))
        return -1;
    return 0;
}
