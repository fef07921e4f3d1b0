/* test_augment.c: keyed draws, exact flips, the geometry of rotations, intensity ops' ranges. */
#include <stdlib.h>
#include "imgproc/augment.h"
#include "check.h"

static fn_tensor *ramp(fn_dtype dt, int c, int h, int w) {
    fn_tensor *t = fn_tensor_new(dt, c, h, w, NULL);
    for (size_t i = 0; i < fn_tensor_numel(t); i++) fn_tensor_set(t, i, (double)((i * 7) % 200));
    return t;
}

static void test_draws_are_keyed(void) {
    fn_aug_opts o = {.hflip_p = 0.5, .rotate = 30, .rotate_p = 1, .noise = 0.1, .noise_p = 0.5};
    fn_aug_draw a, b, c;
    fn_aug_draw_ops(&o, 1, 5, 2, &a);
    fn_aug_draw_ops(&o, 1, 5, 2, &b);
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    fn_aug_draw_ops(&o, 1, 5, 3, &c);
    CHECK(c.angle != a.angle);
    CHECK(a.angle >= -30 && a.angle <= 30);
    /* enabling another op does not change the draws of the others */
    fn_aug_opts o2 = o;
    o2.vflip_p = 1;
    o2.gamma = 0.5, o2.gamma_p = 1;
    fn_aug_draw_ops(&o2, 1, 5, 2, &b);
    CHECK(b.angle == a.angle && b.hflip == a.hflip && b.noise == a.noise);
    CHECK(b.gamma_v >= 1 / 1.5 && b.gamma_v <= 1.5);
    char buf[256];
    fn_aug_describe(&b, buf, sizeof buf);
    CHECK(strstr(buf, "vflip") && strstr(buf, "rotate=") && strstr(buf, "gamma="));
    fn_aug_draw none = {0};
    fn_aug_describe(&none, buf, sizeof buf);
    CHECK(strcmp(buf, "none") == 0);
}

static void test_flips_exact(void) {
    fn_tensor *t = ramp(FN_U16, 2, 5, 7), *u = fn_tensor_clone(t, NULL);
    fn_aug_draw d = {.hflip = 1};
    CHECK(fn_aug_geometric(&d, &u, 0, NULL) == 0);
    int ok = 1;
    for (int c = 0; c < 2; c++)
        for (int y = 0; y < 5; y++)
            for (int x = 0; x < 7; x++)
                ok &= fn_tensor_get(u, (size_t)(c * 5 + y) * 7 + x) == fn_tensor_get(t, (size_t)(c * 5 + y) * 7 + 6 - x);
    CHECK(ok);
    d = (fn_aug_draw){.vflip = 1};
    CHECK(fn_aug_geometric(&d, &u, 1, NULL) == 0);
    CHECK(fn_aug_geometric(&d, &u, 1, NULL) == 0);
    d = (fn_aug_draw){.hflip = 1};
    CHECK(fn_aug_geometric(&d, &u, 1, NULL) == 0);
    CHECK(memcmp(u->data, t->data, fn_tensor_bytes(t)) == 0);
    fn_tensor_free(t), fn_tensor_free(u);
}

/* a quarter turn maps pixel centres onto pixel centres: bilinear and nearest agree with an index rotation */
static void test_quarter_turn(void) {
    int n = 6;
    fn_tensor *t = ramp(FN_F32, 1, n, n), *a = fn_tensor_clone(t, NULL), *b = fn_tensor_clone(t, NULL);
    fn_aug_draw d = {.rot = 1, .angle = 90};
    CHECK(fn_aug_geometric(&d, &a, 0, NULL) == 0);
    CHECK(fn_aug_geometric(&d, &b, 1, NULL) == 0);
    const float *s = t->data, *x = a->data, *y = b->data;
    /* find which of the two quarter turns it is, then check every pixel */
    int cw = fabsf(x[0] - s[(n - 1) * n]) < 1e-3f;
    int ok = 1;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            float want = cw ? s[(n - 1 - j) * n + i] : s[j * n + (n - 1 - i)];
            ok &= fabsf(x[i * n + j] - want) < 1e-3f && y[i * n + j] == want;
        }
    CHECK(ok);
    fn_tensor_free(t), fn_tensor_free(a), fn_tensor_free(b);
}

static void test_zoom_out_pads_zero_and_keeps_centre(void) {
    fn_tensor *t = fn_tensor_new(FN_U8, 1, 20, 20, NULL);
    memset(t->data, 100, 400);
    fn_aug_draw d = {.zoomed = 1, .zoom = 0.5};
    CHECK(fn_aug_geometric(&d, &t, 0, NULL) == 0);
    const uint8_t *p = t->data;
    CHECK(p[0] == 0 && p[10 * 20 + 10] == 100 && p[7 * 20 + 7] == 100);
    fn_tensor_free(t);
}

static void test_intensity_clamps_integers(void) {
    fn_tensor *t = ramp(FN_U8, 3, 8, 8);
    fn_aug_draw d = {.bright = 1, .bright_v = 0.9, .noise = 1, .noise_v = 0.5, .chshift = 1};
    CHECK(fn_aug_intensity(&d, t, NULL) == 0);
    double lo, hi, mean;
    fn_tensor_stats(t, &lo, &hi, &mean);
    CHECK(lo >= 0 && hi <= 255 && mean > 200);
    fn_tensor *f = fn_tensor_new(FN_F32, 1, 4, 4, NULL);
    d = (fn_aug_draw){.gamma = 1, .gamma_v = 2.0};
    for (int i = 0; i < 16; i++) ((float *)f->data)[i] = (float)i - 5;
    CHECK(fn_aug_intensity(&d, f, NULL) == 0);
    CHECK_NEAR(((float *)f->data)[0], -5, 1e-5);  /* min and max stay */
    CHECK_NEAR(((float *)f->data)[15], 10, 1e-4);
    CHECK_NEAR(((float *)f->data)[5], -5 + 15 * (5.0 / 15) * (5.0 / 15), 1e-4);
    fn_tensor_free(t), fn_tensor_free(f);
}

int main(void) {
    RUN(test_draws_are_keyed);
    RUN(test_flips_exact);
    RUN(test_quarter_turn);
    RUN(test_zoom_out_pads_zero_and_keeps_centre);
    RUN(test_intensity_clamps_integers);
    return check_report();
}
