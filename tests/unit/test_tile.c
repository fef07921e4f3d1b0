/* test_tile.c: inference at any size (lib/train/tile.c): reflect padding, tile placement, the Gaussian
 * blend (a constant stays constant; tiles of a smooth image, even ones that disagree by an offset, meet
 * without a visible seam), and fn_infer_images on a tiny net (one tile equals no tiling bit for bit;
 * padding equals running the padded image; an image smaller than the tile runs untiled, or along one
 * axis under one shrunk tile (fn_tile_fit); the tile batch size does not change the result). */
#include <stdlib.h>
#include "check.h"
#include "nn/net.h"
#include "train/predict.h"
#include "train/tile.h"

static void test_pad16(void) {
    CHECK(fn_pad16(1) == 16 && fn_pad16(16) == 16 && fn_pad16(17) == 32 && fn_pad16(565) == 576 && fn_pad16(584) == 592);
}

static void test_pad_reflect(void) {
    /* 1 channel 3x2 -> 5x4: rows 0 1 2 1 0, columns 0 1 0 1 */
    const float s[6] = {1, 2, 3, 4, 5, 6};
    float d[20];
    fn_pad_reflect(s, 1, 3, 2, d, 5, 4);
    const float want[20] = {1, 2, 1, 2, 3, 4, 3, 4, 5, 6, 5, 6, 3, 4, 3, 4, 1, 2, 1, 2};
    for (int i = 0; i < 20; i++) CHECKF(d[i] == want[i], "at %d: %g vs %g", i, d[i], want[i]);
    /* a 1x1 image repeats; two channels are padded alike */
    const float one[2] = {7, 9};
    float d2[2 * 16 * 16];
    fn_pad_reflect(one, 2, 1, 1, d2, 16, 16);
    for (int i = 0; i < 256; i++) CHECK(d2[i] == 7 && d2[256 + i] == 9);
}

static void test_tile_starts(void) {
    int pos[64];
    CHECK(fn_tile_starts(1024, 256, 0.5, pos) == 7);
    for (int i = 0; i < 7; i++) CHECK(pos[i] == 128 * i);
    CHECK(fn_tile_starts(256, 256, 0.5, pos) == 1 && pos[0] == 0);
    CHECK(fn_tile_starts(300, 256, 0.5, pos) == 2 && pos[0] == 0 && pos[1] == 44);
    CHECK(fn_tile_starts(1024, 256, 0, pos) == 4 && pos[3] == 768);
    int n = fn_tile_starts(565, 64, 0.25, pos); /* step 48: ceil(501/48)+1 = 12 */
    CHECK(n == 12 && pos[0] == 0 && pos[n - 1] == 565 - 64);
    for (int i = 1; i < n; i++) CHECK(pos[i] > pos[i - 1] && pos[i] - pos[i - 1] <= 48);
    CHECK(fn_tile_starts(20, 16, 0.99, pos) == 5); /* at most one tile per position */
}

static void test_gauss(void) {
    float g[48 * 32];
    fn_tile_gauss(48, 32, g);
    float mx = 0, mn = 1;
    for (int i = 0; i < 48 * 32; i++) mx = g[i] > mx ? g[i] : mx, mn = g[i] < mn ? g[i] : mn;
    CHECK_NEAR(mx, 1.0, 1e-6);
    CHECK(mn > 0 && mn < 1e-5); /* corners: exp(-8) per axis, never zero */
    for (int i = 0; i < 48; i++)
        for (int j = 0; j < 32; j++) {
            CHECK(g[i * 32 + j] == g[(47 - i) * 32 + j]);
            CHECK(g[i * 32 + j] == g[i * 32 + 31 - j]);
        }
}

/* blend an H x W image from tiles whose prediction is f(y, x) + bias(tile) */
static void blend_image(int H, int W, int T, double ov, double (*f)(int, int), double bias, float *out) {
    fn_err e;
    fn_blend b;
    int py[64], px[64];
    int ny = fn_tile_starts(H, T, ov, py), nx = fn_tile_starts(W, T, ov, px);
    float *g = malloc(sizeof *g * T * T), *p = malloc(sizeof *p * T * T);
    CHECK(!fn_blend_init(&b, H, W, &e));
    fn_tile_gauss(T, T, g);
    for (int a = 0; a < ny; a++)
        for (int c = 0; c < nx; c++) {
            double off = ((a + c) % 2 ? bias : -bias);
            for (int i = 0; i < T; i++)
                for (int j = 0; j < T; j++) p[i * T + j] = (float)(f(py[a] + i, px[c] + j) + off);
            fn_blend_add(&b, p, g, py[a], px[c], T, T);
        }
    fn_blend_finish(&b, out);
    fn_blend_free(&b);
    free(g);
    free(p);
}

static double constant(int y, int x) { return 0.7; }
static double smooth(int y, int x) { return 0.5 + 0.3 * sin(x / 37.0) * cos(y / 29.0); }

static void test_blend_constant(void) {
    enum { H = 200, W = 300 };
    float *o = malloc(sizeof *o * H * W);
    blend_image(H, W, 64, 0.5, constant, 0, o);
    for (int i = 0; i < H * W; i++) CHECKF(fabsf(o[i] - 0.7f) < 1e-6f, "pixel %d: %g", i, o[i]);
    blend_image(H, W, 48, 0.0, constant, 0, o); /* no overlap: still constant */
    for (int i = 0; i < H * W; i++) CHECKF(fabsf(o[i] - 0.7f) < 1e-6f, "pixel %d: %g", i, o[i]);
    free(o);
}

/* the largest step between neighbours of (out - f) along rows and columns */
static double max_step(const float *o, int H, int W, double (*f)(int, int)) {
    double m = 0;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) {
            double r = o[i * W + j] - f(i, j);
            if (j + 1 < W) m = fmax(m, fabs(o[i * W + j + 1] - f(i, j + 1) - r));
            if (i + 1 < H) m = fmax(m, fabs(o[(i + 1) * W + j] - f(i + 1, j) - r));
        }
    return m;
}

static void test_blend_seam(void) {
    enum { H = 256, W = 320 };
    float *o = malloc(sizeof *o * H * W);
    /* tiles that agree: the smooth image comes back exactly, whatever the weights */
    blend_image(H, W, 64, 0.5, smooth, 0, o);
    double err = 0;
    for (int i = 0; i < H; i++)
        for (int j = 0; j < W; j++) err = fmax(err, fabs(o[i * W + j] - smooth(i, j)));
    CHECKF(err < 1e-5, "max error %g", err);
    /* tiles that disagree by +-0.05 (a jump of 0.1 between neighbours): stitched at their borders a
     * seam of 0.1 would show; the Gaussian blend spreads it over the overlap */
    blend_image(H, W, 64, 0.5, smooth, 0.05, o);
    double step = max_step(o, H, W, smooth);
    CHECKF(step < 0.1 / 6, "largest step between neighbours %g", step);
    if (getenv("FN_TEST_VERBOSE")) printf("  seam: largest step %g for tiles 0.1 apart\n", step);
    free(o);
}

/* a tiny random net for fn_infer_images */
static fn_net *tiny_net(fn_backend **be) {
    fn_err e;
    *be = fn_cpu_backend_new(1, &e);
    fn_net_config nc = {2, 0.125f, FN_ARCH_FOCUSNET};
    fn_net *net = *be ? fn_net_new(*be, &nc, &e) : NULL;
    if (net && fn_net_init_he(net, 3, &e)) {
        fn_net_free(net);
        net = NULL;
    }
    return net;
}

static void fill(float *x, size_t n, unsigned s) {
    for (size_t i = 0; i < n; i++) {
        s = s * 1103515245u + 12345u;
        x[i] = (float)((s >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
}

static void test_infer_one_tile_is_untiled(void) {
    fn_err e;
    fn_backend *be;
    fn_net *net = tiny_net(&be);
    CHECK(net);
    if (!net) return;
    enum { N = 3, H = 32, W = 48 };
    float *x = malloc(sizeof *x * N * 2 * H * W), *a = malloc(sizeof *a * N * H * W), *b = malloc(sizeof *b * N * H * W);
    fill(x, (size_t)N * 2 * H * W, 1);
    for (int tta = 0; tta < 2; tta++) {
        fn_infer_opts plain = {0, 0, 0, tta, 8}, tiled = {H, W, 0.5, tta, 8};
        CHECK(!fn_infer_images(net, x, N, H, W, &plain, a, &e));
        CHECK(!fn_infer_images(net, x, N, H, W, &tiled, b, &e));
        CHECK(!memcmp(a, b, sizeof *a * N * H * W));
    }
    free(x), free(a), free(b);
    fn_net_free(net);
    fn_backend_close(be);
}

static void test_infer_padded(void) {
    fn_err e;
    fn_backend *be;
    fn_net *net = tiny_net(&be);
    CHECK(net);
    if (!net) return;
    enum { N = 2, H = 21, W = 37, PH = 32, PW = 48 };
    float *x = malloc(sizeof *x * N * 2 * H * W), *xp = malloc(sizeof *xp * N * 2 * PH * PW);
    float *y = malloc(sizeof *y * N * H * W), *yp = malloc(sizeof *yp * N * PH * PW);
    fill(x, (size_t)N * 2 * H * W, 2);
    for (int n = 0; n < N; n++) fn_pad_reflect(x + n * 2 * H * W, 2, H, W, xp + n * 2 * PH * PW, PH, PW);
    fn_infer_opts o = {0, 0, 0, 0, 8};
    CHECK(!fn_infer_images(net, x, N, H, W, &o, y, &e));
    CHECK(!fn_predict(net, xp, N, PH, PW, 0, yp, &e));
    for (int n = 0; n < N; n++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) CHECK(y[(n * H + i) * W + j] == yp[(n * PH + i) * PW + j]);
    free(x), free(xp), free(y), free(yp);
    fn_net_free(net);
    fn_backend_close(be);
}

static void test_tile_fit(void) {
    int p, t;
    fn_tile_fit(21, 64, &p, &t);
    CHECK(p == 32 && t == 32);
    fn_tile_fit(21, 32, &p, &t);
    CHECK(p == 32 && t == 32);
    fn_tile_fit(16, 64, &p, &t);
    CHECK(p == 16 && t == 16);
    fn_tile_fit(32, 32, &p, &t);
    CHECK(p == 32 && t == 32);
    fn_tile_fit(70, 32, &p, &t);
    CHECK(p == 70 && t == 32);
}

/* images smaller than the tile: along both axes, the untiled prediction bit for bit; along one, that
 * axis padded as untiled and spanned by one shrunk tile, the other tiled */
static void test_infer_smaller_than_tile(void) {
    fn_err e;
    fn_backend *be;
    fn_net *net = tiny_net(&be);
    CHECK(net);
    if (!net) return;
    enum { N = 2, H = 21, W = 37, SW = 70, PH = 32 };
    float *x = malloc(sizeof *x * N * 2 * H * SW), *a = malloc(sizeof *a * N * PH * SW);
    float *b = malloc(sizeof *b * N * PH * SW), *xp = malloc(sizeof *xp * N * 2 * PH * SW);
    fill(x, (size_t)N * 2 * H * SW, 4);
    for (int tta = 0; tta < 2; tta++) {
        fn_infer_opts plain = {0, 0, 0, tta, 8}, tiled = {64, 64, 0.5, tta, 3}, tall = {64, 16, 0.5, tta, 8};
        CHECK(!fn_infer_images(net, x, N, H, W, &plain, a, &e));
        CHECK(!fn_infer_images(net, x, N, H, W, &tiled, b, &e));
        CHECK(!memcmp(a, b, sizeof *a * N * H * W));
        /* 21x37 under a 64x16 tile: smaller along H only (32x16 tiles over the image padded to 32x37) */
        CHECK(!fn_infer_images(net, x, N, H, W, &tall, b, &e));
        for (int i = 0; i < N * H * W; i++) CHECK(b[i] >= 0 && b[i] <= 1);
    }
    /* 21x70: tiles of 64x32 and of 32x32 are the same tiles (32x32 over the image padded to 32x70),
     * and the same as tiling the padded image and cropping */
    fn_infer_opts t64 = {64, 32, 0.5, 0, 4}, t32 = {32, 32, 0.5, 0, 4};
    CHECK(!fn_infer_images(net, x, N, H, SW, &t64, a, &e));
    CHECK(!fn_infer_images(net, x, N, H, SW, &t32, b, &e));
    CHECK(!memcmp(a, b, sizeof *a * N * H * SW));
    for (int n = 0; n < N; n++) fn_pad_reflect(x + n * 2 * H * SW, 2, H, SW, xp + n * 2 * PH * SW, PH, SW);
    CHECK(!fn_infer_images(net, xp, N, PH, SW, &t32, b, &e));
    for (int n = 0; n < N; n++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < SW; j++) CHECK(a[(n * H + i) * SW + j] == b[(n * PH + i) * SW + j]);
    /* the same across: 70x21 under 32x64 */
    fn_infer_opts wide = {32, 64, 0.5, 0, 4};
    CHECK(!fn_infer_images(net, x, N, SW, H, &wide, a, &e));
    for (int i = 0; i < N * SW * H; i++) CHECK(a[i] >= 0 && a[i] <= 1);
    free(x), free(a), free(b), free(xp);
    fn_net_free(net);
    fn_backend_close(be);
}

static void test_infer_tiled_batches(void) {
    fn_err e;
    fn_backend *be;
    fn_net *net = tiny_net(&be);
    CHECK(net);
    if (!net) return;
    enum { N = 2, H = 50, W = 70 };
    float *x = malloc(sizeof *x * N * 2 * H * W), *a = malloc(sizeof *a * N * H * W), *b = malloc(sizeof *b * N * H * W);
    fill(x, (size_t)N * 2 * H * W, 3);
    fn_infer_opts o1 = {32, 32, 0.5, 1, 1}, o5 = {32, 32, 0.5, 1, 5};
    CHECK(!fn_infer_images(net, x, N, H, W, &o1, a, &e));
    CHECK(!fn_infer_images(net, x, N, H, W, &o5, b, &e));
    for (int i = 0; i < N * H * W; i++) {
        CHECK(a[i] >= 0 && a[i] <= 1);
        CHECKF(fabsf(a[i] - b[i]) < 1e-5f, "pixel %d: %g vs %g", i, a[i], b[i]);
    }
    free(x), free(a), free(b);
    fn_net_free(net);
    fn_backend_close(be);
}

int main(void) {
    RUN(test_pad16);
    RUN(test_pad_reflect);
    RUN(test_tile_starts);
    RUN(test_gauss);
    RUN(test_blend_constant);
    RUN(test_blend_seam);
    RUN(test_infer_one_tile_is_untiled);
    RUN(test_infer_padded);
    RUN(test_tile_fit);
    RUN(test_infer_smaller_than_tile);
    RUN(test_infer_tiled_batches);
    return check_report();
}
