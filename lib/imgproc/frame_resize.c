/* frame_resize.c: see frame_resize.h. */
#include <math.h>
#include <string.h>
#include "imgproc/frame_resize.h"

const char *const fn_frame_slot_names[FN_FRAME_SLOTS] = {"image", "mask", "pred", "roi"};
const char *const fn_pad_keys[4] = {"pad_top", "pad_left", "pad_bottom", "pad_right"};

const fn_resampler *fn_rs_cache_get(fn_rs_cache *c, int ih, int iw, int oh, int ow, fn_rs_filter f, fn_err *e) {
    for (int i = 0; i < FN_RS_CACHE; i++) {
        const fn_resampler *r = c->r[i];
        if (r && r->in_h == ih && r->in_w == iw && r->out_h == oh && r->out_w == ow && r->filter == f) return r;
    }
    fn_resampler *r = fn_resampler_new(ih, iw, oh, ow, f, e);
    if (!r) return NULL;
    fn_resampler_free(c->r[c->next]);
    c->r[c->next] = r;
    c->next = (c->next + 1) % FN_RS_CACHE;
    return r;
}

void fn_rs_cache_free(fn_rs_cache *c) {
    for (int i = 0; i < FN_RS_CACHE; i++) fn_resampler_free(c->r[i]);
    memset(c, 0, sizeof *c);
}

int fn_resize_slot(fn_rs_cache *c, fn_tensor **t, int oh, int ow, fn_resize_kind kind, fn_err *e) {
    fn_tensor *in = *t;
    if (in->h == oh && in->w == ow) return 0;
    const fn_resampler *r = fn_rs_cache_get(c, in->h, in->w, oh, ow, kind == FN_RESIZE_NEAREST ? FN_RS_NEAREST : FN_RS_LINEAR, e);
    if (!r) return -1;
    fn_tensor *src = in, *bin = NULL;
    if (kind == FN_RESIZE_MASK_BILINEAR) { /* 0/1 floats, so any non-zero label counts as foreground */
        if (!(bin = fn_tensor_new(FN_F32, in->c, in->h, in->w, e))) return -1;
        size_t n = fn_tensor_numel(in);
        for (size_t i = 0; i < n; i++) ((float *)bin->data)[i] = fn_tensor_get(in, i) != 0 ? 1.0f : 0.0f;
        src = bin;
    }
    fn_tensor *out = fn_tensor_alloc(src->dtype, in->c, oh, ow, e); /* written whole */
    if (!out || fn_resampler_run(r, src, out, e)) {
        fn_tensor_free(out);
        fn_tensor_free(bin);
        return -1;
    }
    if (kind == FN_RESIZE_MASK_BILINEAR) {
        fn_tensor *m = fn_tensor_new(FN_U8, in->c, oh, ow, e);
        if (!m) {
            fn_tensor_free(out);
            fn_tensor_free(bin);
            return -1;
        }
        size_t n = fn_tensor_numel(m);
        for (size_t i = 0; i < n; i++) ((uint8_t *)m->data)[i] = ((float *)out->data)[i] >= 0.5f;
        fn_tensor_free(out);
        fn_tensor_free(bin);
        out = m;
    }
    fn_frame_set_tensor(t, out);
    return 0;
}

void fn_frame_slots(fn_frame *f, fn_tensor **slot[FN_FRAME_SLOTS]) {
    slot[0] = &f->image, slot[1] = &f->mask, slot[2] = &f->pred, slot[3] = &f->roi;
}

int fn_frame_hw(fn_frame *f, int *h, int *w, fn_err *e) {
    fn_tensor **slot[FN_FRAME_SLOTS];
    fn_frame_slots(f, slot);
    const char *first = NULL;
    for (int k = 0; k < FN_FRAME_SLOTS; k++) {
        const fn_tensor *t = *slot[k];
        if (!t) continue;
        if (!first) first = fn_frame_slot_names[k], *h = t->h, *w = t->w;
        else if (t->h != *h || t->w != *w)
            return fn_seterr(e, "%s is %dx%d but %s is %dx%d", fn_frame_slot_names[k], t->h, t->w, first, *h, *w);
    }
    return first != NULL;
}

int fn_frame_padding(const fn_frame *f, int64_t pad[4]) {
    int padded = 0;
    for (int i = 0; i < 4; i++) {
        pad[i] = 0;
        padded |= !fn_meta_get_int(f, fn_pad_keys[i], &pad[i]);
    }
    return padded;
}

static int crop_slot(fn_tensor **t, int top, int left, int h, int w, fn_err *e) {
    fn_tensor *p = fn_crop(*t, top, left, h, w, e);
    if (!p) return -1;
    fn_frame_set_tensor(t, p);
    return 0;
}

/* native_mask and native_roi (oh x ow) replace mask and roi */
static int put_back_native(fn_frame *f, int oh, int ow, fn_err *e) {
    static const char *const keys[2] = {"native_mask", "native_roi"};
    fn_tensor **slot[2] = {&f->mask, &f->roi};
    for (int i = 0; i < 2; i++) {
        fn_tensor *t;
        int rc = fn_frame_take_tensor(f, keys[i], &t, e);
        if (rc < 0) return -1;
        if (!rc) continue;
        if (t->dtype != FN_U8 || t->c != 1 || t->h != oh || t->w != ow) {
            fn_seterr(e, "%s is %s [%d,%d,%d], not u8 [1,%d,%d] (orig_h x orig_w)", keys[i], fn_dtype_name(t->dtype),
                      t->c, t->h, t->w, oh, ow);
            fn_tensor_free(t);
            return -1;
        }
        fn_frame_set_tensor(slot[i], t);
    }
    return 0;
}

int fn_frame_restore(fn_rs_cache *c, fn_frame *f, fn_err *e) {
    int h, w, any = fn_frame_hw(f, &h, &w, e);
    if (any <= 0) return any;
    fn_tensor **slot[FN_FRAME_SLOTS];
    fn_frame_slots(f, slot);
    int64_t pad[4], oh, ow;
    int padded = fn_frame_padding(f, pad);
    if (fn_meta_get_int(f, "orig_h", &oh) || fn_meta_get_int(f, "orig_w", &ow))
        return fn_seterr(e, "no orig_h/orig_w in meta to restore to");
    if (oh < 1 || ow < 1 || oh > FN_MAX_HW || ow > FN_MAX_HW)
        return fn_seterr(e, "bad orig_h/orig_w %lldx%lld in meta", (long long)oh, (long long)ow);
    if (padded) {
        int64_t ch = h - pad[0] - pad[2], cw = w - pad[1] - pad[3];
        if (pad[0] < 0 || pad[1] < 0 || pad[2] < 0 || pad[3] < 0 || ch < 1 || cw < 1)
            return fn_seterr(e, "padding in meta does not fit the %dx%d frame", h, w);
        for (int k = 0; k < FN_FRAME_SLOTS; k++)
            if (*slot[k] && crop_slot(slot[k], (int)pad[0], (int)pad[1], (int)ch, (int)cw, e)) return -1;
        for (int i = 0; i < 4; i++) fn_meta_del(f, fn_pad_keys[i]);
    }
    const fn_resize_kind rk[FN_FRAME_SLOTS] = {FN_RESIZE_LINEAR, FN_RESIZE_NEAREST, FN_RESIZE_LINEAR, FN_RESIZE_NEAREST};
    const int native[FN_FRAME_SLOTS] = {0, fn_frame_has_key(f, "native_mask"), 0, fn_frame_has_key(f, "native_roi")};
    for (int k = 0; k < FN_FRAME_SLOTS; k++) /* what the native copies replace is not resized */
        if (*slot[k] && !native[k] && fn_resize_slot(c, slot[k], (int)oh, (int)ow, rk[k], e)) return -1;
    return put_back_native(f, (int)oh, (int)ow, e);
}

int fn_spacing_size(const fn_frame *f, int h, int w, double mm, int *oh, int *ow, fn_err *e) {
    double sy, sx;
    int64_t gh = h, gw = w;
    if (fn_meta_get_num(f, "spacing_y", &sy) || fn_meta_get_num(f, "spacing_x", &sx))
        return fn_seterr(e, "no pixel spacing in meta (spacing_y, spacing_x: frames of a volume read by fn-read)");
    if (!(sy > 0) || !(sx > 0) || !isfinite(sy) || !isfinite(sx) || !(mm > 0))
        return fn_seterr(e, "bad pixel spacing %gx%g in meta", sy, sx);
    if (!fn_meta_get_int(f, "orig_h", &gh) && !fn_meta_get_int(f, "orig_w", &gw) && gh > 0 && gw > 0)
        sy *= (double)gh / h, sx *= (double)gw / w; /* the spacing of the frame as it is now */
    double y = nearbyint(h * sy / mm), x = nearbyint(w * sx / mm);
    if (y > FN_MAX_HW || x > FN_MAX_HW)
        return fn_seterr(e, "%dx%d at spacing %gx%g mm is over %d pixels at %g mm", h, w, sy, sx, FN_MAX_HW, mm);
    *oh = y < 1 ? 1 : (int)y, *ow = x < 1 ? 1 : (int)x;
    return 0;
}
