/* test_resample.c: resampling weights and results on hand-checkable cases. */
#include <math.h>
#include <stdlib.h>
#include "check.h"
#include "imgproc/resample.h"

static fn_tensor *ramp(fn_dtype dt, int c, int h, int w) {
    fn_tensor *t = fn_tensor_new(dt, c, h, w, NULL);
    for (size_t i = 0; i < fn_tensor_numel(t); i++) fn_tensor_set(t, i, (double)((i * 37) % 251));
    return t;
}

static void test_weights_sum_to_one(void) {
    const int sizes[][2] = {{100, 7}, {7, 100}, {256, 256}, {3024, 256}, {1, 5}, {5, 1}, {683, 256}};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
        fn_resampler *r = fn_resampler_new(sizes[s][0], 3, sizes[s][1], 3, FN_RS_LINEAR, NULL);
        CHECK(r != NULL);
        for (int i = 0; i < r->y.out; i++) {
            double sum = 0;
            for (int k = 0; k < r->y.taps; k++) sum += r->y.w[i * r->y.taps + k];
            CHECK_NEAR(sum, 1.0, 1e-5);
            CHECK(r->y.start[i] >= 0 && r->y.start[i] + r->y.taps <= r->y.in);
        }
        fn_resampler_free(r);
    }
}

/* halving: Pillow's antialiased bilinear gives weights 1/8 3/8 3/8 1/8 */
static void test_halving_weights(void) {
    fn_tensor *t = fn_tensor_new(FN_F32, 1, 1, 8, NULL);
    float *x = t->data;
    for (int i = 0; i < 8; i++) x[i] = (float)(i * i);
    fn_tensor *o = fn_resize(t, 1, 4, FN_RS_LINEAR, -1, NULL);
    const float *y = o->data;
    /* output 1 centres at 3.0: inputs 1..4 */
    CHECK_NEAR(y[1], (1 * 1 + 3 * 4 + 3 * 9 + 1 * 16) / 8.0, 1e-4);
    /* output 0 at the edge: inputs 0..2 with 3/8,3/8,1/8 renormalised */
    CHECK_NEAR(y[0], (3 * 0 + 3 * 1 + 1 * 4) / 7.0, 1e-4);
    fn_tensor_free(t);
    fn_tensor_free(o);
}

static void test_constant_stays_constant(void) {
    fn_dtype dts[3] = {FN_U8, FN_U16, FN_F32};
    for (int d = 0; d < 3; d++) {
        fn_tensor *t = fn_tensor_new(dts[d], 2, 37, 53, NULL);
        for (size_t i = 0; i < fn_tensor_numel(t); i++) fn_tensor_set(t, i, 200);
        const int outs[][2] = {{10, 10}, {100, 20}, {37, 53}, {1, 1}, {80, 120}};
        for (int k = 0; k < 5; k++)
            for (int f = 0; f < 2; f++) {
                fn_tensor *o = fn_resize(t, outs[k][0], outs[k][1], (fn_rs_filter)f, -1, NULL);
                CHECK(o && o->c == 2 && o->h == outs[k][0] && o->w == outs[k][1] && o->dtype == dts[d]);
                int ok = 1;
                for (size_t i = 0; i < fn_tensor_numel(o); i++) ok &= fabs(fn_tensor_get(o, i) - 200) < 1e-3;
                CHECK(ok);
                fn_tensor_free(o);
            }
        fn_tensor_free(t);
    }
}

static void test_same_size_is_identity(void) {
    fn_tensor *t = ramp(FN_U8, 3, 20, 30);
    for (int f = 0; f < 2; f++) {
        fn_tensor *o = fn_resize(t, 20, 30, (fn_rs_filter)f, -1, NULL);
        CHECK(memcmp(o->data, t->data, fn_tensor_bytes(t)) == 0);
        fn_tensor_free(o);
    }
    fn_tensor_free(t);
}

static void test_nearest_integer_factor(void) {
    fn_tensor *t = ramp(FN_U16, 1, 4, 6);
    fn_tensor *o = fn_resize(t, 8, 12, FN_RS_NEAREST, -1, NULL);
    int ok = 1;
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 12; x++)
            ok &= fn_tensor_get(o, (size_t)y * 12 + x) == fn_tensor_get(t, (size_t)(y / 2) * 6 + x / 2);
    CHECK(ok);
    fn_tensor *b = fn_resize(o, 4, 6, FN_RS_NEAREST, -1, NULL);
    CHECK(memcmp(b->data, t->data, fn_tensor_bytes(t)) == 0);
    fn_tensor_free(t), fn_tensor_free(o), fn_tensor_free(b);
}

/* the u8 result equals the rounded f32 result, up to the fixed point of the u8 path (14-bit weights,
 * 7 fraction bits between the passes) */
static void test_dtypes_agree(void) {
    fn_tensor *t = ramp(FN_U8, 3, 61, 47), *tf = fn_tensor_to_f32(t, NULL);
    fn_tensor *a = fn_resize(t, 23, 90, FN_RS_LINEAR, -1, NULL), *b = fn_resize(tf, 23, 90, FN_RS_LINEAR, -1, NULL);
    fn_tensor *c = fn_resize(t, 23, 90, FN_RS_LINEAR, FN_F32, NULL);
    double maxd = 0, maxc = 0;
    for (size_t i = 0; i < fn_tensor_numel(a); i++) {
        double d = fabs(fn_tensor_get(a, i) - fn_tensor_get(b, i)), dc = fabs(fn_tensor_get(b, i) - fn_tensor_get(c, i));
        if (d > maxd) maxd = d;
        if (dc > maxc) maxc = dc;
    }
    CHECK(maxd <= 0.6);
    CHECK(maxc < 1e-4);
    fn_tensor_free(t), fn_tensor_free(tf), fn_tensor_free(a), fn_tensor_free(b), fn_tensor_free(c);
}

/* the linear filter against its definition, out = sum_ky sum_kx wy * wx * in in double, from the
 * resampler's own weights: shrinking, growing along y (where the horizontal pass goes first, into a
 * buffer, and an f32 output row is summed in place), growing along x, both, several channels; f32 and
 * u16 inputs, f32 and u16 outputs (rounded) */
static void test_linear_definition(void) {
    const int shapes[][4] = {{8, 8, 63, 95}, {40, 33, 7, 11}, {16, 16, 16, 100}, {16, 100, 130, 20}, {5, 9, 37, 9}, {3, 2, 2016 / 8, 3024 / 8}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int ih = shapes[s][0], iw = shapes[s][1], oh = shapes[s][2], ow = shapes[s][3];
        fn_resampler *r = fn_resampler_new(ih, iw, oh, ow, FN_RS_LINEAR, NULL);
        for (int dt = 0; dt < 2; dt++) {
            fn_tensor *in = ramp(dt ? FN_U16 : FN_F32, 2, ih, iw), *out = fn_tensor_new(dt ? FN_U16 : FN_F32, 2, oh, ow, NULL);
            CHECK(!fn_resampler_run(r, in, out, NULL));
            double worst = 0;
            for (int c = 0; c < 2; c++)
                for (int y = 0; y < oh; y++)
                    for (int x = 0; x < ow; x++) {
                        double v = 0;
                        for (int ky = 0; ky < r->y.taps; ky++)
                            for (int kx = 0; kx < r->x.taps; kx++)
                                v += (double)r->y.w[y * r->y.taps + ky] * r->x.w[x * r->x.taps + kx] *
                                     fn_tensor_get(in, ((size_t)c * ih + r->y.start[y] + ky) * iw + r->x.start[x] + kx);
                        double d = fabs(fn_tensor_get(out, ((size_t)c * oh + y) * ow + x) - v);
                        if (d > worst) worst = d;
                    }
            CHECK(worst < (dt ? 0.5 + 1e-3 : 1e-3)); /* values up to 250: f32 sums of a few taps; u16 rounds */
            fn_tensor_free(in), fn_tensor_free(out);
        }
        fn_resampler_free(r);
    }
}

/* the u8 path (fixed point, vector kernels with plain C for the ends of rows) on many shapes: rows
 * narrower than a vector, 1-pixel sides, shrinks with more taps than the vector kernels take, frames
 * big enough for threads; always within 0.6 of the f32 result, and a flat image stays flat */
static void test_u8_sweep(void) {
    const int shapes[][4] = {{1, 1, 7, 9},     {7, 9, 1, 1},      {3, 5, 3, 11},     {17, 13, 16, 12},
                             {342, 512, 256, 256}, {512, 342, 256, 256}, {224, 224, 256, 256}, {584, 565, 256, 256},
                             {40, 3000, 40, 30}, {3000, 40, 30, 40}, {2016, 3024, 100, 150}, {9, 700, 13, 5},
                             {1000, 1000, 999, 1001}};
    uint64_t seed = 1;
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const int *S = shapes[s];
        for (int c = 1; c <= 3; c += 2) {
            fn_tensor *t = fn_tensor_new(FN_U8, c, S[0], S[1], NULL), *flat = fn_tensor_new(FN_U8, c, S[0], S[1], NULL);
            uint8_t *d = t->data;
            for (size_t i = 0; i < fn_tensor_numel(t); i++) {
                seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
                d[i] = (uint8_t)(s % 2 ? seed >> 56 : (i % 977) / 4);
            }
            memset(flat->data, 201, fn_tensor_bytes(flat));
            fn_tensor *a = fn_resize(t, S[2], S[3], FN_RS_LINEAR, -1, NULL), *b = fn_resize(t, S[2], S[3], FN_RS_LINEAR, FN_F32, NULL);
            fn_tensor *f = fn_resize(flat, S[2], S[3], FN_RS_LINEAR, -1, NULL);
            CHECK(a && b && f);
            double worst = 0;
            int flat_ok = 1;
            for (size_t i = 0; a && b && i < fn_tensor_numel(a); i++) {
                double e = fabs(((uint8_t *)a->data)[i] - ((float *)b->data)[i]);
                if (e > worst) worst = e;
                flat_ok &= ((uint8_t *)f->data)[i] == 201;
            }
            CHECKF(worst <= 0.6, "%dx%d -> %dx%d: %.3f", S[0], S[1], S[2], S[3], worst);
            CHECK(flat_ok);
            fn_tensor_free(t), fn_tensor_free(flat), fn_tensor_free(a), fn_tensor_free(b), fn_tensor_free(f);
        }
    }
}

static void test_crop_pad(void) {
    fn_tensor *t = ramp(FN_F32, 2, 5, 7);
    fn_tensor *p = fn_pad(t, 2, 3, 10, 12, NULL);
    CHECK(fn_tensor_get(p, 0) == 0 && fn_tensor_get(p, (size_t)2 * 12 + 3) == fn_tensor_get(t, 0));
    fn_tensor *c = fn_crop(p, 2, 3, 5, 7, NULL);
    CHECK(memcmp(c->data, t->data, fn_tensor_bytes(t)) == 0);
    fn_err e;
    CHECK(fn_crop(p, 8, 0, 5, 5, &e) == NULL);
    CHECK(fn_pad(t, 6, 0, 10, 12, &e) == NULL);
    fn_tensor_free(t), fn_tensor_free(p), fn_tensor_free(c);
}

static void test_bad_sizes(void) {
    fn_err e;
    CHECK(fn_resampler_new(0, 4, 4, 4, FN_RS_LINEAR, &e) == NULL);
    fn_resampler *r = fn_resampler_new(4, 4, 2, 2, FN_RS_LINEAR, &e);
    fn_tensor *t = fn_tensor_new(FN_U8, 1, 5, 4, NULL), *o = fn_tensor_new(FN_U8, 1, 2, 2, NULL);
    CHECK(fn_resampler_run(r, t, o, &e) == -1);
    fn_resampler_free(r), fn_tensor_free(t), fn_tensor_free(o);
}

int main(void) {
    RUN(test_weights_sum_to_one);
    RUN(test_halving_weights);
    RUN(test_constant_stays_constant);
    RUN(test_same_size_is_identity);
    RUN(test_nearest_integer_factor);
    RUN(test_dtypes_agree);
    RUN(test_linear_definition);
    RUN(test_u8_sweep);
    RUN(test_crop_pad);
    RUN(test_bad_sizes);
    return check_report();
}
