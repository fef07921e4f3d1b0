/* test_post.c: the run-based components of lib/imgproc/post.c against a plain pixel flood fill on random
 * images (both connectivities, every option), and small cases drawn by hand: diagonal neighbours,
 * a ring's hole under 4 and 8 connectivity, ties among the largest, the float threshold. */
#include <stdint.h>
#include <stdlib.h>
#include "check.h"
#include "imgproc/post.h"

/* ---- the reference: pixel flood fill -------------------------------------------------------------- */

static int flood(const uint8_t *b, uint8_t val, int h, int w, int conn, int *lab, int start, int id, int *stack) {
    int n = 0, top = 0;
    stack[top++] = start;
    lab[start] = id;
    while (top) {
        int p = stack[--top], y = p / w, x = p % w;
        n++;
        for (int dy = -1; dy <= 1; dy++)
            for (int dx = -1; dx <= 1; dx++) {
                if (!dy && !dx) continue;
                if (conn == 4 && dy && dx) continue;
                int yy = y + dy, xx = x + dx;
                if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                int q = yy * w + xx;
                if (lab[q] < 0 && b[q] == val) lab[q] = id, stack[top++] = q;
            }
    }
    return n;
}

static void reference(uint8_t *b, int h, int w, const fn_post_opts *o) {
    int n = h * w, *lab = malloc(sizeof *lab * n), *stack = malloc(sizeof *stack * n * 8), *size = malloc(sizeof *size * n);
    for (int i = 0; i < n; i++) lab[i] = -1, b[i] = b[i] != 0;
    int nc = 0;
    for (int i = 0; i < n; i++)
        if (b[i] && lab[i] < 0) size[nc] = flood(b, 1, h, w, o->conn, lab, i, nc, stack), nc++;
    uint8_t *keep = malloc(nc + 1);
    for (int c = 0; c < nc; c++) keep[c] = size[c] >= o->min_size;
    if (o->largest > 0)
        for (int c = 0; c < nc; c++) { /* rank: bigger first, then earlier */
            if (!keep[c]) continue;
            int rank = 0;
            for (int d = 0; d < nc; d++)
                if (keep[d] && (size[d] > size[c] || (size[d] == size[c] && d < c))) rank++;
            if (rank >= o->largest) keep[c] = 2; /* dropped after the ranking */
        }
    for (int i = 0; i < n; i++)
        if (b[i] && keep[lab[i]] != 1) b[i] = 0;
    if (o->fill_holes) {
        for (int i = 0; i < n; i++) lab[i] = -1;
        int bc = o->conn == 8 ? 4 : 8;
        for (int i = 0; i < n; i++) {
            int y = i / w, x = i % w;
            if (!b[i] && lab[i] < 0 && (y == 0 || y == h - 1 || x == 0 || x == w - 1)) flood(b, 0, h, w, bc, lab, i, 0, stack);
        }
        for (int i = 0; i < n; i++)
            if (!b[i] && lab[i] < 0) b[i] = 1;
    }
    free(lab), free(stack), free(size), free(keep);
}

static unsigned rnd(unsigned *s) {
    *s = *s * 1103515245u + 12345u;
    return (*s >> 16) & 0x7fff;
}

static void test_random_against_flood_fill(void) {
    unsigned s = 7;
    int cases = 0;
    for (int it = 0; it < 300; it++) {
        int h = 1 + rnd(&s) % 40, w = 1 + rnd(&s) % 40, dens = 20 + rnd(&s) % 60;
        uint8_t *a = malloc(h * w), *b = malloc(h * w);
        for (int i = 0; i < h * w; i++) a[i] = (int)(rnd(&s) % 100) < dens ? (uint8_t)(1 + rnd(&s) % 200) : 0;
        fn_post_opts o = {0.5, (int)(rnd(&s) % 4), rnd(&s) % 2 ? 8 : 4, (int)(rnd(&s) % 2), (long)(rnd(&s) % 6)};
        memcpy(b, a, h * w);
        fn_err e;
        CHECK(!fn_post_u8(a, h, w, &o, NULL, &e));
        reference(b, h, w, &o);
        if (memcmp(a, b, h * w)) {
            CHECKF(0, "%dx%d largest %d conn %d fill %d min %ld", h, w, o.largest, o.conn, o.fill_holes, o.min_size);
            break;
        }
        cases++;
        free(a), free(b);
    }
    CHECK(cases == 300);
}

static void test_diagonal(void) {
    /* two pixels touching at a corner: one component under 8, two under 4 */
    uint8_t b[9] = {1, 0, 0, 0, 1, 0, 0, 0, 0};
    fn_post_stats st;
    fn_err e;
    fn_post_opts o8 = {0.5, 0, 8, 0, 0}, o4 = {0.5, 0, 4, 0, 0};
    CHECK(!fn_post_u8(b, 3, 3, &o8, &st, &e) && st.components == 1);
    CHECK(!fn_post_u8(b, 3, 3, &o4, &st, &e) && st.components == 2);
    o4.largest = 1; /* a tie: the first in raster order stays */
    CHECK(!fn_post_u8(b, 3, 3, &o4, &st, &e) && st.removed == 1 && b[0] == 1 && b[4] == 0);
}

static void test_ring_hole(void) {
    /* a diamond ring closed only diagonally: under 8 its inside is a hole (background taken with 4);
     * under 4 the ring is four pieces and the inside leaks out diagonally (background with 8) */
    const uint8_t ring[25] = {0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0};
    uint8_t b[25];
    fn_post_stats st;
    fn_err e;
    fn_post_opts o = {0.5, 0, 8, 1, 0};
    memcpy(b, ring, 25);
    CHECK(!fn_post_u8(b, 5, 5, &o, &st, &e) && st.holes == 1 && b[12] == 1 && b[7] == 1 && b[0] == 0);
    o.conn = 4;
    memcpy(b, ring, 25);
    CHECK(!fn_post_u8(b, 5, 5, &o, &st, &e) && st.holes == 0 && st.components == 8 && b[12] == 0);
}

static void test_f32_threshold(void) {
    /* p > T is foreground; the output is 0/1 */
    float p[8] = {0.2f, 0.5f, 0.51f, 0.9f, 0, 0, 0.7f, 1};
    fn_post_opts o = {0.5, 0, 8, 0, 0};
    fn_post_stats st;
    fn_err e;
    CHECK(!fn_post_f32(p, 2, 4, &o, &st, &e) && st.components == 1);
    const float want[8] = {0, 0, 1, 1, 0, 0, 1, 1};
    for (int i = 0; i < 8; i++) CHECK(p[i] == want[i]);
    o.min_size = 5; /* the one component has 4 pixels */
    CHECK(!fn_post_f32(p, 2, 4, &o, &st, &e) && st.removed == 1);
    for (int i = 0; i < 8; i++) CHECK(p[i] == 0);
}

int main(void) {
    RUN(test_random_against_flood_fill);
    RUN(test_diagonal);
    RUN(test_ring_hole);
    RUN(test_f32_threshold);
    return check_report();
}
