/* normstats.c: fitting, storing and applying normalisation statistics (see normstats.h). */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/cli.h"
#include "data/normstats.h"

struct fn_normfit {
    int per_channel, clip;
    double p[2];
    int window, foreground;
    double lo, hi; /* the window, or -inf, inf */
    int started, channels, nacc;
    fn_dtype dtype;
    double n[FN_MAX_C], mean[FN_MAX_C], m2[FN_MAX_C]; /* f32: Chan et al.'s pooled moments */
    double mn[FN_MAX_C], mx[FN_MAX_C];
    uint64_t *hist; /* nacc * nbins: exact for u8/u16, between mn and mx for f32 (second pass) */
    int nbins;
};

fn_normfit *fn_normfit_new(int per_channel, int clip, double plo, double phi, fn_err *e) {
    fn_normfit *f = calloc(1, sizeof *f);
    if (!f) {
        fn_seterr(e, "out of memory");
        return NULL;
    }
    f->per_channel = per_channel;
    f->clip = clip;
    f->p[0] = plo;
    f->p[1] = phi;
    f->lo = -INFINITY;
    f->hi = INFINITY;
    return f;
}

void fn_normfit_set_window(fn_normfit *f, double lo, double hi) {
    f->window = 1;
    f->lo = lo;
    f->hi = hi;
}

void fn_normfit_set_foreground(fn_normfit *f) { f->foreground = 1; }

static double clampd(double v, double lo, double hi) { return v < lo ? lo : v > hi ? hi : v; }

void fn_normfit_free(fn_normfit *f) {
    if (!f) return;
    free(f->hist);
    free(f);
}

int fn_normfit_passes(const fn_normfit *f) { return f->clip && f->dtype == FN_F32 ? 2 : 1; }

/* index of the first non-finite value of a f32 plane, or -1 */
static long find_bad(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return (long)i;
    return -1;
}

static int check_frame(fn_normfit *f, const fn_tensor *t, fn_err *e) {
    if (!f->started) {
        f->started = 1;
        f->dtype = t->dtype;
        f->channels = t->c;
        f->nacc = f->per_channel ? t->c : 1;
        for (int c = 0; c < FN_MAX_C; c++) f->mn[c] = INFINITY, f->mx[c] = -INFINITY;
        if (t->dtype != FN_F32) {
            f->nbins = t->dtype == FN_U8 ? 256 : 65536;
            if (!(f->hist = calloc((size_t)f->nacc * f->nbins, sizeof(uint64_t)))) return fn_seterr(e, "out of memory");
        }
        return 0;
    }
    if (t->dtype != f->dtype)
        return fn_seterr(e, "image is %s but the first image was %s", fn_dtype_name(t->dtype), fn_dtype_name(f->dtype));
    if (f->per_channel && t->c != f->channels)
        return fn_seterr(e, "image has %d channels but the first image had %d (per-channel statistics)", t->c,
                         f->channels);
    return 0;
}

/* the foreground mask's first plane, or NULL when the fit is not over the foreground */
static int fg_plane(const fn_normfit *f, const fn_tensor *t, const fn_tensor *mask, const uint8_t **m, fn_err *e) {
    *m = NULL;
    if (!f->foreground) return 0;
    if (!mask) return fn_seterr(e, "no mask: foreground statistics need each image's mask");
    if (mask->dtype != FN_U8 || mask->h != t->h || mask->w != t->w)
        return fn_seterr(e, "mask is %s [%d,%d,%d], not u8 of the image's %dx%d", fn_dtype_name(mask->dtype), mask->c,
                         mask->h, mask->w, t->h, t->w);
    *m = mask->data;
    return 0;
}

int fn_normfit_add(fn_normfit *f, const fn_tensor *t, fn_err *e) { return fn_normfit_add_masked(f, t, NULL, e); }

int fn_normfit_add_masked(fn_normfit *f, const fn_tensor *t, const fn_tensor *mask, fn_err *e) {
    const uint8_t *m;
    if (check_frame(f, t, e) || fg_plane(f, t, mask, &m, e)) return -1;
    size_t hw = (size_t)t->h * t->w;
    for (int c = 0; c < t->c; c++) {
        int a = f->per_channel ? c : 0;
        if (t->dtype == FN_U8) {
            const uint8_t *x = (const uint8_t *)t->data + (size_t)c * hw;
            uint64_t *h = f->hist + (size_t)a * 256;
            for (size_t i = 0; i < hw; i++)
                if (!m || m[i]) h[x[i]]++;
        } else if (t->dtype == FN_U16) {
            const uint16_t *x = (const uint16_t *)t->data + (size_t)c * hw;
            uint64_t *h = f->hist + (size_t)a * 65536;
            for (size_t i = 0; i < hw; i++)
                if (!m || m[i]) h[x[i]]++;
        } else {
            const float *x = (const float *)t->data + (size_t)c * hw;
            double s = 0, sraw = 0, mn = INFINITY, mx = -INFINITY, nb = 0;
            for (size_t i = 0; i < hw; i++) {
                sraw += x[i];
                if (m && !m[i]) continue;
                double v = clampd(x[i], f->lo, f->hi);
                s += v, nb++;
                mn = v < mn ? v : mn;
                mx = v > mx ? v : mx;
            }
            if (!isfinite(sraw) || !isfinite(s)) {
                long b = find_bad(x, hw);
                if (b >= 0)
                    return fn_seterr(e, "image holds a NaN or infinite value (channel %d, y %ld, x %ld)", c,
                                     b / t->w, b % t->w);
                return fn_seterr(e, "image values overflow a double sum");
            }
            if (nb == 0) continue;
            double mb = s / nb, m2 = 0;
            for (size_t i = 0; i < hw; i++) {
                if (m && !m[i]) continue;
                double d = clampd(x[i], f->lo, f->hi) - mb;
                m2 += d * d;
            }
            double na = f->n[a], n = na + nb, delta = mb - f->mean[a];
            f->mean[a] += delta * nb / n;
            f->m2[a] += m2 + delta * delta * na * nb / n;
            f->n[a] = n;
            if (mn < f->mn[a]) f->mn[a] = mn;
            if (mx > f->mx[a]) f->mx[a] = mx;
        }
    }
    return 0;
}

int fn_normfit_add2(fn_normfit *f, const fn_tensor *t, fn_err *e) { return fn_normfit_add2_masked(f, t, NULL, e); }

int fn_normfit_add2_masked(fn_normfit *f, const fn_tensor *t, const fn_tensor *mask, fn_err *e) {
    const uint8_t *m;
    if (fn_normfit_passes(f) < 2) return 0;
    if (fg_plane(f, t, mask, &m, e)) return -1;
    if (!f->hist) {
        f->nbins = FN_NORM_F32_BINS;
        if (!(f->hist = calloc((size_t)f->nacc * f->nbins, sizeof(uint64_t)))) return fn_seterr(e, "out of memory");
    }
    size_t hw = (size_t)t->h * t->w;
    for (int c = 0; c < t->c; c++) {
        int a = f->per_channel ? c : 0;
        const float *x = (const float *)t->data + (size_t)c * hw;
        uint64_t *h = f->hist + (size_t)a * f->nbins;
        double lo = f->mn[a], sc = f->mx[a] > lo ? f->nbins / (f->mx[a] - lo) : 0;
        for (size_t i = 0; i < hw; i++) {
            if (m && !m[i]) continue;
            long b = (long)((clampd(x[i], f->lo, f->hi) - lo) * sc);
            h[b < 0 ? 0 : b >= f->nbins ? f->nbins - 1 : b]++;
        }
    }
    return 0;
}

/* the k-th smallest value (0-based) of accumulator a, from its histogram */
static double rank_value(const fn_normfit *f, int a, uint64_t k, uint64_t total) {
    const uint64_t *h = f->hist + (size_t)a * f->nbins;
    if (f->dtype == FN_F32) {
        if (k == 0) return f->mn[a];
        if (k >= total - 1) return f->mx[a];
    }
    uint64_t cum = 0;
    int b = 0;
    for (; b < f->nbins; b++) {
        if (cum + h[b] > k) break;
        cum += h[b];
    }
    if (b >= f->nbins) b = f->nbins - 1;
    if (f->dtype != FN_F32) return clampd(b, f->lo, f->hi);
    double w = (f->mx[a] - f->mn[a]) / f->nbins;
    double v = f->mn[a] + (b + ((double)(k - cum) + 0.5) / (double)(h[b] ? h[b] : 1)) * w;
    return v < f->mn[a] ? f->mn[a] : v > f->mx[a] ? f->mx[a] : v;
}

static double hist_percentile(const fn_normfit *f, int a, uint64_t total, double p) {
    double pos = p / 100.0 * (double)(total - 1);
    uint64_t i = (uint64_t)floor(pos);
    double fr = pos - (double)i;
    double v0 = rank_value(f, a, i, total);
    if (fr == 0.0 || i + 1 >= total) return v0;
    return v0 + fr * (rank_value(f, a, i + 1, total) - v0);
}

int fn_normfit_finish(fn_normfit *f, fn_normstats *s, fn_err *e) {
    memset(s, 0, sizeof *s);
    if (!f->started) return fn_seterr(e, "no images to fit statistics on");
    s->per_channel = f->per_channel;
    s->channels = f->channels;
    s->dtype = f->dtype;
    s->clip = f->clip || f->window;
    s->clip_pct = f->clip;
    if (f->clip) s->clip_p[0] = f->p[0], s->clip_p[1] = f->p[1];
    s->window = f->window;
    if (f->window) s->win[0] = f->lo, s->win[1] = f->hi;
    s->foreground = f->foreground;
    for (int a = 0; a < f->nacc; a++) {
        uint64_t n = 0;
        if (f->dtype != FN_F32) {
            const uint64_t *h = f->hist + (size_t)a * f->nbins;
            double sum = 0;
            for (int b = 0; b < f->nbins; b++) n += h[b], sum += (double)h[b] * clampd(b, f->lo, f->hi);
            double m = n ? sum / (double)n : 0, v = 0;
            for (int b = 0; b < f->nbins; b++)
                if (h[b]) v += (double)h[b] * (clampd(b, f->lo, f->hi) - m) * (clampd(b, f->lo, f->hi) - m);
            s->mean[a] = m;
            s->std[a] = n ? sqrt(v / (double)n) : 0;
        } else {
            n = (uint64_t)f->n[a];
            s->mean[a] = f->mean[a];
            s->std[a] = n ? sqrt(f->m2[a] / f->n[a]) : 0;
        }
        if (n == 0)
            return fn_seterr(e, f->foreground ? "no foreground pixels (mask > 0) to fit statistics on"
                                              : "no values to fit statistics on");
        s->count += n;
        s->clip_lo[a] = f->lo, s->clip_hi[a] = f->hi; /* the window, when there is no percentile */
        if (f->clip) {
            s->clip_lo[a] = hist_percentile(f, a, n, f->p[0]);
            s->clip_hi[a] = hist_percentile(f, a, n, f->p[1]);
        }
    }
    return 0;
}

int fn_normstats_zero_std(const fn_normstats *s) {
    for (int a = 0; a < (s->per_channel ? s->channels : 1); a++)
        if (!(s->std[a] > 0)) return a;
    return -1;
}

const char *fn_norm_mode_name(int per_image, int per_channel) {
    return per_image ? (per_channel ? "per-image-per-channel" : "per-image")
                     : (per_channel ? "dataset-per-channel" : "dataset");
}

void fn_norm_format(const fn_normstats *s, const double *v, char *buf, size_t n) {
    int k = s->per_channel ? s->channels : 1;
    size_t o = 0;
    buf[0] = 0;
    for (int c = 0; c < k && o < n; c++) o += (size_t)snprintf(buf + o, n - o, c ? ",%.9g" : "%.9g", v[c]);
}

/* JSON ------------------------------------------------------------------------------------------ */

static json_t *jvals(const fn_normstats *s, const double *v) {
    if (!s->per_channel) return json_real(v[0]);
    json_t *a = json_array();
    for (int c = 0; c < s->channels; c++) json_array_append_new(a, json_real(v[c]));
    return a;
}

int fn_normstats_save(const fn_normstats *s, const char *path, fn_err *e) {
    json_t *o = json_object();
    json_object_set_new(o, "format", json_string("fn-normalize"));
    json_object_set_new(o, "mode", json_string(fn_norm_mode_name(0, s->per_channel)));
    json_object_set_new(o, "mean", jvals(s, s->mean));
    json_object_set_new(o, "std", jvals(s, s->std));
    json_object_set_new(o, "count", json_integer((json_int_t)s->count));
    json_object_set_new(o, "dtype", json_string(fn_dtype_name(s->dtype)));
    json_object_set_new(o, "channels", json_integer(s->channels));
    if (s->clip) {
        json_t *p = json_array();
        json_array_append_new(p, json_real(s->clip_p[0]));
        json_array_append_new(p, json_real(s->clip_p[1]));
        if (s->clip_pct) json_object_set_new(o, "clip_percentile", p);
        else json_decref(p);
        if (s->window) {
            json_t *w = json_array();
            json_array_append_new(w, json_real(s->win[0]));
            json_array_append_new(w, json_real(s->win[1]));
            json_object_set_new(o, "clip_window", w);
        }
        json_object_set_new(o, "clip_lo", jvals(s, s->clip_lo));
        json_object_set_new(o, "clip_hi", jvals(s, s->clip_hi));
    }
    if (s->foreground) json_object_set_new(o, "foreground", json_true());
    fn_atomic a;
    if (fn_atomic_open(&a, path, e)) {
        json_decref(o);
        return -1;
    }
    int bad = json_dumpf(o, a.f, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) || fputc('\n', a.f) == EOF;
    json_decref(o);
    if (bad) {
        fn_atomic_abort(&a);
        return fn_seterr(e, "%s: cannot write", path);
    }
    return fn_atomic_commit(&a, e);
}

/* a number, or (per-channel) an array of `channels` numbers, into v */
static int jget(const json_t *o, const char *key, const fn_normstats *s, double *v, const char *path, fn_err *e) {
    const json_t *j = json_object_get(o, key);
    if (!j) return fn_seterr(e, "%s: no \"%s\" in the statistics", path, key);
    if (!s->per_channel) {
        if (!json_is_number(j)) return fn_seterr(e, "%s: \"%s\" is not a number", path, key);
        v[0] = json_number_value(j);
        return isfinite(v[0]) ? 0 : fn_seterr(e, "%s: \"%s\" is not finite", path, key);
    }
    if (!json_is_array(j) || (int)json_array_size(j) != s->channels)
        return fn_seterr(e, "%s: \"%s\" is not an array of %d numbers", path, key, s->channels);
    for (int c = 0; c < s->channels; c++) {
        const json_t *x = json_array_get(j, (size_t)c);
        if (!json_is_number(x) || !isfinite(json_number_value(x)))
            return fn_seterr(e, "%s: \"%s\" holds something other than finite numbers", path, key);
        v[c] = json_number_value(x);
    }
    return 0;
}

int fn_normstats_load(fn_normstats *s, const char *path, fn_err *e) {
    memset(s, 0, sizeof *s);
    json_error_t je;
    json_t *o = json_load_file(path, 0, &je);
    if (!o) return fn_seterr(e, "cannot read statistics: %s", je.text);
    int rc = -1;
    if (!json_is_object(o)) {
        fn_seterr(e, "%s: not a JSON object", path);
        goto done;
    }
    const char *mode = json_string_value(json_object_get(o, "mode"));
    if (!mode || (strcmp(mode, "dataset") && strcmp(mode, "dataset-per-channel"))) {
        fn_seterr(e, "%s: \"mode\" is not \"dataset\" or \"dataset-per-channel\"", path);
        goto done;
    }
    s->per_channel = !strcmp(mode, "dataset-per-channel");
    const json_t *ch = json_object_get(o, "channels");
    s->channels = json_is_integer(ch) ? (int)json_integer_value(ch) : 1;
    if (s->channels < 1 || s->channels > FN_MAX_C) {
        fn_seterr(e, "%s: bad \"channels\"", path);
        goto done;
    }
    const char *dt = json_string_value(json_object_get(o, "dtype"));
    if (dt && fn_dtype_parse(dt, &s->dtype)) {
        fn_seterr(e, "%s: unknown dtype \"%s\"", path, dt);
        goto done;
    }
    s->count = (uint64_t)json_integer_value(json_object_get(o, "count"));
    if (jget(o, "mean", s, s->mean, path, e) || jget(o, "std", s, s->std, path, e)) goto done;
    for (int c = 0; c < (s->per_channel ? s->channels : 1); c++)
        if (s->std[c] < 0) {
            fn_seterr(e, "%s: negative std", path);
            goto done;
        }
    const json_t *p = json_object_get(o, "clip_percentile"), *w = json_object_get(o, "clip_window");
    if (p) {
        if (!json_is_array(p) || json_array_size(p) != 2) {
            fn_seterr(e, "%s: \"clip_percentile\" is not [lo, hi]", path);
            goto done;
        }
        s->clip_pct = 1;
        s->clip_p[0] = json_number_value(json_array_get(p, 0));
        s->clip_p[1] = json_number_value(json_array_get(p, 1));
    }
    if (w) {
        if (!json_is_array(w) || json_array_size(w) != 2 || !json_is_number(json_array_get(w, 0)) ||
            !json_is_number(json_array_get(w, 1)) ||
            !(json_number_value(json_array_get(w, 0)) < json_number_value(json_array_get(w, 1)))) {
            fn_seterr(e, "%s: \"clip_window\" is not [lo, hi] with lo < hi", path);
            goto done;
        }
        s->window = 1;
        s->win[0] = json_number_value(json_array_get(w, 0));
        s->win[1] = json_number_value(json_array_get(w, 1));
    }
    if (p || w) {
        s->clip = 1;
        if (jget(o, "clip_lo", s, s->clip_lo, path, e) || jget(o, "clip_hi", s, s->clip_hi, path, e)) goto done;
    }
    const json_t *fg = json_object_get(o, "foreground");
    if (fg && !json_is_boolean(fg)) {
        fn_seterr(e, "%s: \"foreground\" is not true or false", path);
        goto done;
    }
    s->foreground = json_is_true(fg);
    rc = 0;
done:
    json_decref(o);
    return rc;
}

/* applying -------------------------------------------------------------------------------------- */

int fn_norm_apply(const fn_normstats *s, fn_tensor **tp, fn_err *e) {
    fn_tensor *t = *tp;
    if (s->per_channel && t->c != s->channels)
        return fn_seterr(e, "image has %d channels but the statistics have %d", t->c, s->channels);
    fn_tensor *o = t->dtype == FN_F32 ? t : fn_tensor_new(FN_F32, t->c, t->h, t->w, e);
    if (!o) return -1;
    size_t hw = (size_t)t->h * t->w;
    uint32_t bad = 0;
    for (int c = 0; c < t->c; c++) {
        int a = s->per_channel ? c : 0;
        float m = (float)s->mean[a], inv = s->std[a] > 0 ? (float)(1.0 / s->std[a]) : 1.0f;
        float lo = s->clip ? (float)s->clip_lo[a] : -INFINITY, hi = s->clip ? (float)s->clip_hi[a] : INFINITY;
        float *d = (float *)o->data + (size_t)c * hw;
        if (t->dtype == FN_U8) {
            const uint8_t *x = (const uint8_t *)t->data + (size_t)c * hw;
            float lut[256];
            for (int v = 0; v < 256; v++) lut[v] = ((float)v < lo ? lo : (float)v > hi ? hi : (float)v) - m;
            for (int v = 0; v < 256; v++) lut[v] *= inv;
            for (size_t i = 0; i < hw; i++) d[i] = lut[x[i]];
        } else if (t->dtype == FN_U16) {
            const uint16_t *x = (const uint16_t *)t->data + (size_t)c * hw;
#pragma omp simd
            for (size_t i = 0; i < hw; i++) {
                float v = x[i];
                v = v < lo ? lo : v > hi ? hi : v;
                d[i] = (v - m) * inv;
            }
        } else {
            const float *x = (const float *)t->data + (size_t)c * hw;
            const uint32_t *u = (const uint32_t *)(const void *)x;
#pragma omp simd reduction(| : bad)
            for (size_t i = 0; i < hw; i++) bad |= (u[i] & 0x7f800000u) == 0x7f800000u;
            if (bad) break;
            if (s->clip) {
#pragma omp simd
                for (size_t i = 0; i < hw; i++) {
                    float v = x[i];
                    v = v < lo ? lo : v > hi ? hi : v;
                    d[i] = (v - m) * inv;
                }
            } else {
#pragma omp simd
                for (size_t i = 0; i < hw; i++) d[i] = (x[i] - m) * inv;
            }
        }
    }
    if (bad) {
        if (o != t) fn_tensor_free(o);
        return fn_seterr(e, "image holds NaN or infinite values");
    }
    if (o != t) {
        fn_tensor_free(t);
        *tp = o;
    }
    return 0;
}

/* sum of plane c of t (hw values), and the sum of squared deviations from m when m is given */
static double plane_sum(const fn_tensor *t, int c, size_t hw, const double *m) {
    double s = 0, mu = m ? *m : 0;
    if (t->dtype == FN_U8) {
        const uint8_t *x = (const uint8_t *)t->data + (size_t)c * hw;
        for (size_t i = 0; i < hw; i++) s += m ? (x[i] - mu) * (x[i] - mu) : x[i];
    } else if (t->dtype == FN_U16) {
        const uint16_t *x = (const uint16_t *)t->data + (size_t)c * hw;
        for (size_t i = 0; i < hw; i++) s += m ? (x[i] - mu) * (x[i] - mu) : x[i];
    } else {
        const float *x = (const float *)t->data + (size_t)c * hw;
        for (size_t i = 0; i < hw; i++) s += m ? (x[i] - mu) * (x[i] - mu) : x[i];
    }
    return s;
}

int fn_norm_per_image(fn_tensor **tp, int per_channel, fn_normstats *s, fn_err *e) {
    fn_tensor *t = *tp;
    memset(s, 0, sizeof *s);
    s->per_channel = per_channel;
    s->channels = t->c;
    s->dtype = t->dtype;
    size_t hw = (size_t)t->h * t->w;
    int nacc = per_channel ? t->c : 1;
    double sum[FN_MAX_C] = {0}, m2[FN_MAX_C] = {0};
    for (int c = 0; c < t->c; c++) sum[per_channel ? c : 0] += plane_sum(t, c, hw, NULL);
    double per = (double)hw * (per_channel ? 1 : t->c);
    for (int a = 0; a < nacc; a++) {
        if (!isfinite(sum[a])) return fn_seterr(e, "image holds NaN or infinite values");
        s->mean[a] = per > 0 ? sum[a] / per : 0;
    }
    for (int c = 0; c < t->c; c++) {
        int a = per_channel ? c : 0;
        m2[a] += plane_sum(t, c, hw, &s->mean[a]);
    }
    for (int a = 0; a < nacc; a++) s->std[a] = per > 0 ? sqrt(m2[a] / per) : 0;
    s->count = (uint64_t)hw * t->c;
    return fn_norm_apply(s, tp, e);
}
