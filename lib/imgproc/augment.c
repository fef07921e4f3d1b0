/* augment.c: drawing augmentation ops from keyed RNG streams and applying them (see augment.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "imgproc/augment.h"
#include "base/rng.h"

enum { OP_HFLIP, OP_VFLIP, OP_ROT, OP_ZOOM, OP_CHSHIFT, OP_BRIGHT, OP_CONTRAST, OP_GAMMA, OP_NOISE, OP_NOISE_VALUES };

/* the rng of one op of one copy */
static void op_rng(fn_rng *r, uint64_t seed, uint64_t frame, uint64_t copy, int op) {
    fn_rng_seed_key(r, seed, frame, copy * 16 + (uint64_t)op);
}

/* does op happen with probability p; the first draw of the op's stream */
static int happens(fn_rng *r, double p) { return p > 0 && fn_rng_uniform(r) < p; }

void fn_aug_draw_ops(const fn_aug_opts *o, uint64_t seed, uint64_t frame, uint64_t copy, fn_aug_draw *d) {
    memset(d, 0, sizeof *d);
    d->seed = seed, d->frame = frame, d->copy = copy;
    d->zoom = 1.0;
    fn_rng r;
    op_rng(&r, seed, frame, copy, OP_HFLIP);
    d->hflip = happens(&r, o->hflip_p);
    op_rng(&r, seed, frame, copy, OP_VFLIP);
    d->vflip = happens(&r, o->vflip_p);
    op_rng(&r, seed, frame, copy, OP_ROT);
    if ((d->rot = happens(&r, o->rotate_p))) d->angle = fn_rng_range(&r, -o->rotate, o->rotate);
    op_rng(&r, seed, frame, copy, OP_ZOOM);
    if ((d->zoomed = happens(&r, o->zoom_p))) d->zoom = fn_rng_range(&r, o->zoom_lo, o->zoom_hi);
    op_rng(&r, seed, frame, copy, OP_CHSHIFT);
    d->chshift = happens(&r, o->chshift_p);
    op_rng(&r, seed, frame, copy, OP_BRIGHT);
    if ((d->bright = happens(&r, o->bright_p))) d->bright_v = fn_rng_range(&r, -o->bright, o->bright);
    op_rng(&r, seed, frame, copy, OP_CONTRAST);
    if ((d->contrast = happens(&r, o->contrast_p)))
        d->contrast_v = fn_rng_range(&r, 1.0 - o->contrast, 1.0 + o->contrast);
    op_rng(&r, seed, frame, copy, OP_GAMMA);
    if ((d->gamma = happens(&r, o->gamma_p))) {
        double l = log1p(o->gamma);
        d->gamma_v = exp(fn_rng_range(&r, -l, l));
    }
    op_rng(&r, seed, frame, copy, OP_NOISE);
    if ((d->noise = happens(&r, o->noise_p))) d->noise_v = o->noise;
}

void fn_aug_describe(const fn_aug_draw *d, char *buf, size_t n) {
    size_t o = 0;
    buf[0] = 0;
#define ADD(...) o += (size_t)snprintf(buf + o, o < n ? n - o : 0, __VA_ARGS__)
    if (d->hflip) ADD("%shflip", o ? "," : "");
    if (d->vflip) ADD("%svflip", o ? "," : "");
    if (d->rot) ADD("%srotate=%.4g", o ? "," : "", d->angle);
    if (d->zoomed) ADD("%szoom=%.4g", o ? "," : "", d->zoom);
    if (d->chshift) ADD("%schannel-shift", o ? "," : "");
    if (d->bright) ADD("%sbrightness=%.4g", o ? "," : "", d->bright_v);
    if (d->contrast) ADD("%scontrast=%.4g", o ? "," : "", d->contrast_v);
    if (d->gamma) ADD("%sgamma=%.4g", o ? "," : "", d->gamma_v);
    if (d->noise) ADD("%snoise=%.4g", o ? "," : "", d->noise_v);
#undef ADD
    if (!o) snprintf(buf, n, "none");
}

static int has_warp(const fn_aug_draw *d) { return (d->rot && d->angle != 0.0) || (d->zoomed && d->zoom != 1.0); }

int fn_aug_is_geometric(const fn_aug_draw *d) { return d->hflip || d->vflip || has_warp(d); }

/* exact flips: no interpolation */
static int flip(fn_tensor *t, int h, int v, fn_err *e) {
    size_t es = fn_dtype_size(t->dtype), rowb = (size_t)t->w * es;
    unsigned char *tmp = malloc(rowb);
    if (!tmp) return fn_seterr(e, "out of memory");
    for (int c = 0; c < t->c; c++) {
        unsigned char *p = (unsigned char *)t->data + (size_t)c * t->h * rowb;
        if (h)
            for (int y = 0; y < t->h; y++) {
                unsigned char *r = p + (size_t)y * rowb;
                for (int a = 0, b = t->w - 1; a < b; a++, b--)
                    for (size_t k = 0; k < es; k++) {
                        unsigned char s = r[a * es + k];
                        r[a * es + k] = r[b * es + k];
                        r[b * es + k] = s;
                    }
            }
        if (v)
            for (int a = 0, b = t->h - 1; a < b; a++, b--) {
                memcpy(tmp, p + (size_t)a * rowb, rowb);
                memcpy(p + (size_t)a * rowb, p + (size_t)b * rowb, rowb);
                memcpy(p + (size_t)b * rowb, tmp, rowb);
            }
    }
    free(tmp);
    return 0;
}

static float getf(const fn_tensor *t, size_t i) {
    return t->dtype == FN_U8 ? ((const uint8_t *)t->data)[i]
         : t->dtype == FN_U16 ? ((const uint16_t *)t->data)[i] : ((const float *)t->data)[i];
}

static void setf(fn_tensor *t, size_t i, float v) {
    if (t->dtype == FN_U8) ((uint8_t *)t->data)[i] = v <= 0 ? 0 : v >= 255 ? 255 : (uint8_t)(v + 0.5f);
    else if (t->dtype == FN_U16) ((uint16_t *)t->data)[i] = v <= 0 ? 0 : v >= 65535 ? 65535 : (uint16_t)(v + 0.5f);
    else ((float *)t->data)[i] = v;
}

/* planes of t as floats (t's own data when f32) */
static float *as_float(const fn_tensor *t) {
    if (t->dtype == FN_F32) return t->data;
    size_t n = fn_tensor_numel(t);
    float *x = malloc(sizeof(float) * (n ? n : 1));
    if (x)
        for (size_t i = 0; i < n; i++) x[i] = getf(t, i);
    return x;
}

int fn_aug_geometric(const fn_aug_draw *d, fn_tensor **tp, int nearest, fn_err *e) {
    fn_tensor *t = *tp;
    if (!has_warp(d)) return d->hflip || d->vflip ? flip(t, d->hflip, d->vflip, e) : 0;
    fn_tensor *o = fn_tensor_new(t->dtype, t->c, t->h, t->w, e);
    if (!o) return -1;
    const int H = t->h, W = t->w, C = t->c;
    /* output pixel centre (x+0.5, y+0.5) -> input index coordinates: the inverse of
     * flip, then rotate, then zoom, about the centre */
    double th = (d->rot ? d->angle : 0.0) * (M_PI / 180.0), s = d->zoomed ? d->zoom : 1.0;
    double fh = d->hflip ? -1 : 1, fv = d->vflip ? -1 : 1, cs = cos(th) / s, sn = sin(th) / s;
    double a00 = fh * cs, a01 = fh * sn, a10 = -fv * sn, a11 = fv * cs, cx = W / 2.0, cy = H / 2.0;
    size_t hw = (size_t)H * W;
    if (nearest) {
        for (int y = 0; y < H; y++) {
            double v = y + 0.5 - cy;
            for (int x = 0; x < W; x++) {
                double u = x + 0.5 - cx;
                double sx = a00 * u + a01 * v + cx - 0.5, sy = a10 * u + a11 * v + cy - 0.5;
                if (!(sx >= -0.5 && sy >= -0.5)) continue; /* zero outside (NaN-safe) */
                int xi = (int)(sx + 0.5), yi = (int)(sy + 0.5); /* floor, as sx + 0.5 >= 0 */
                if (xi >= W || yi >= H) continue;
                for (int c = 0; c < C; c++)
                    setf(o, (size_t)c * hw + (size_t)y * W + x, getf(t, (size_t)c * hw + (size_t)yi * W + xi));
            }
        }
        fn_tensor_free(t);
        *tp = o;
        return 0;
    }
    float *src = as_float(t), *dst = o->dtype == FN_F32 ? o->data : calloc(hw * C > 0 ? hw * C : 1, sizeof(float));
    if (!src || !dst) {
        if (src != t->data) free(src);
        if (dst != o->data) free(dst);
        fn_tensor_free(o);
        return fn_seterr(e, "out of memory");
    }
    for (int y = 0; y < H; y++) {
        double v = y + 0.5 - cy;
        double bx = a01 * v + cx - 0.5 - a00 * (cx - 0.5), by = a11 * v + cy - 0.5 - a10 * (cx - 0.5);
        for (int x = 0; x < W; x++) {
            double sx = bx + a00 * x, sy = by + a10 * x;
            if (!(sx > -1.0 && sy > -1.0 && sx < W && sy < H)) continue; /* zero outside */
            int x0 = (int)(sx + 1.0) - 1, y0 = (int)(sy + 1.0) - 1; /* floor, as sx + 1 > 0 */
            float fx = (float)(sx - x0), fy = (float)(sy - y0);
            /* weights of the 4 neighbours; those outside the image read as 0 */
            float w00 = (1 - fx) * (1 - fy), w01 = fx * (1 - fy), w10 = (1 - fx) * fy, w11 = fx * fy;
            int xa = x0, xb = x0 + 1, ya = y0, yb = y0 + 1;
            if (xa < 0) xa = 0, w00 = 0, w10 = 0;
            if (xb >= W) xb = W - 1, w01 = 0, w11 = 0;
            if (ya < 0) ya = 0, w00 = 0, w01 = 0;
            if (yb >= H) yb = H - 1, w10 = 0, w11 = 0;
            size_t i00 = (size_t)ya * W + xa, i01 = (size_t)ya * W + xb, i10 = (size_t)yb * W + xa,
                   i11 = (size_t)yb * W + xb, oi = (size_t)y * W + x;
            for (int c = 0; c < C; c++) {
                const float *p = src + (size_t)c * hw;
                dst[(size_t)c * hw + oi] = w00 * p[i00] + w01 * p[i01] + w10 * p[i10] + w11 * p[i11];
            }
        }
    }
    if (dst != o->data) {
        for (size_t i = 0; i < hw * C; i++) setf(o, i, dst[i]);
        free(dst);
    }
    if (src != t->data) free(src);
    fn_tensor_free(t);
    *tp = o;
    return 0;
}

int fn_aug_intensity(const fn_aug_draw *d, fn_tensor *t, fn_err *e) {
    if (d->chshift && t->c > 1) {
        size_t pb = (size_t)t->h * t->w * fn_dtype_size(t->dtype);
        unsigned char *tmp = malloc(pb);
        if (!tmp) return fn_seterr(e, "out of memory");
        for (int a = 0, b = t->c - 1; a < b; a++, b--) {
            unsigned char *pa = (unsigned char *)t->data + a * pb, *pbp = (unsigned char *)t->data + b * pb;
            memcpy(tmp, pa, pb);
            memcpy(pa, pbp, pb);
            memcpy(pbp, tmp, pb);
        }
        free(tmp);
    }
    if (!d->bright && !d->contrast && !d->gamma && !d->noise) return 0;
    size_t n = fn_tensor_numel(t);
    int isf = t->dtype == FN_F32;
    float R = t->dtype == FN_U8 ? 255.0f : t->dtype == FN_U16 ? 65535.0f : 1.0f;
    float *x = isf ? (float *)t->data : malloc(sizeof(float) * (n ? n : 1));
    if (!x) return fn_seterr(e, "out of memory");
    if (!isf)
        for (size_t i = 0; i < n; i++) x[i] = getf(t, i);
#define CLAMP_INT()                                                                                                    \
    if (!isf)                                                                                                          \
        for (size_t i = 0; i < n; i++) x[i] = x[i] < 0 ? 0 : x[i] > R ? R : x[i];
    if (d->bright) {
        float b = (float)(d->bright_v * R);
        for (size_t i = 0; i < n; i++) x[i] += b;
        CLAMP_INT();
    }
    if (d->contrast) {
        double m = 0;
        for (size_t i = 0; i < n; i++) m += x[i];
        float mf = n ? (float)(m / (double)n) : 0, k = (float)d->contrast_v;
        for (size_t i = 0; i < n; i++) x[i] = mf + (x[i] - mf) * k;
        CLAMP_INT();
    }
    if (d->gamma && n) {
        float lo = 0, hi = R;
        if (isf) {
            lo = hi = x[0];
            for (size_t i = 0; i < n; i++) lo = x[i] < lo ? x[i] : lo, hi = x[i] > hi ? x[i] : hi;
        }
        float g = (float)d->gamma_v, span = hi - lo;
        if (span > 0)
            for (size_t i = 0; i < n; i++) x[i] = lo + span * powf((x[i] - lo) / span, g);
    }
    if (d->noise) {
        fn_rng r;
        op_rng(&r, d->seed, d->frame, d->copy, OP_NOISE_VALUES);
        float sd = (float)(d->noise_v * R), g[1024];
        for (size_t i = 0; i < n; i += 1024) {
            size_t k = n - i < 1024 ? n - i : 1024;
            fn_rng_normal_fill(&r, g, k);
            for (size_t j = 0; j < k; j++) x[i + j] += sd * g[j];
        }
        CLAMP_INT();
    }
#undef CLAMP_INT
    if (!isf) {
        for (size_t i = 0; i < n; i++) setf(t, i, x[i]);
        free(x);
    }
    return 0;
}
