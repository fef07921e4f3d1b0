/* post.c: connected-component post-processing on row runs (see post.h). */
#include <stdlib.h>
#include <string.h>
#include "imgproc/post.h"

typedef struct run {
    int y, s, e; /* row, first column, one past the last */
} run;

typedef struct runs {
    run *r;
    int n, cap;
    int *row;    /* [h+1]: the runs of row y are r[row[y]..row[y+1]) */
    int *parent; /* [n] union-find, then the component of each run */
} runs;

static int push(runs *R, int y, int s, int e) {
    if (R->n == R->cap) {
        int cap = R->cap ? 2 * R->cap : 1024;
        run *x = realloc(R->r, sizeof *x * (size_t)cap);
        if (!x) return -1;
        R->r = x, R->cap = cap;
    }
    R->r[R->n++] = (run){y, s, e};
    return 0;
}

static void runs_free(runs *R) {
    free(R->r);
    free(R->row);
    free(R->parent);
    memset(R, 0, sizeof *R);
}

/* the row's threshold as bytes: one vectorised pass (AVX2 chosen at run time) */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("default", "avx2"), optimize("tree-vectorize", "vect-cost-model=dynamic",
                                                              "no-trapping-math")))
#endif
static void threshold_row(const float *restrict p, int w, float t, uint8_t *restrict b) {
    for (int j = 0; j < w; j++) b[j] = p[j] > t;
}

/* the foreground runs of a row of bytes (non-zero), passing over uniform stretches 8 bytes at a time */
static int scan_u8(runs *R, const uint8_t *b, int y, int w) {
    int j = 0;
    while (j < w) {
        while (j + 8 <= w) {
            uint64_t v;
            memcpy(&v, b + j, 8);
            if (v) break;
            j += 8;
        }
        while (j < w && !b[j]) j++;
        if (j == w) break;
        int s = j;
        while (j + 8 <= w) { /* all 8 non-zero: no zero byte in v (the classic haszero test) */
            uint64_t v;
            memcpy(&v, b + j, 8);
            if ((v - 0x0101010101010101u) & ~v & 0x8080808080808080u) break;
            j += 8;
        }
        while (j < w && b[j]) j++;
        if (push(R, y, s, j)) return -1;
    }
    return 0;
}

static int find(int *p, int i) {
    while (p[i] != i) i = p[i] = p[p[i]];
    return i;
}

/* union-find over runs touching in consecutive rows; afterwards parent[i] is a component index
 * 0..ncomp-1 in raster order of first appearance. Returns ncomp, or -1 out of memory. */
static int label(runs *R, int h, int conn) {
    int n = R->n, d = conn == 8 ? 1 : 0; /* 8-connected runs may touch diagonally */
    if (!(R->parent = malloc(sizeof *R->parent * (size_t)(n ? n : 1)))) return -1;
    for (int i = 0; i < n; i++) R->parent[i] = i;
    for (int y = 1; y < h; y++) {
        int i = R->row[y - 1], ie = R->row[y], j = R->row[y], je = R->row[y + 1];
        while (i < ie && j < je) {
            const run *a = &R->r[i], *b = &R->r[j];
            if (a->s < b->e + d && b->s < a->e + d) {
                int ra = find(R->parent, i), rb = find(R->parent, j);
                if (ra != rb) R->parent[ra > rb ? ra : rb] = ra < rb ? ra : rb;
            }
            if (a->e < b->e) i++;
            else j++;
        }
    }
    /* every link points to a smaller index, so in raster order a run's parent already holds its
     * component when the run is reached; roots (the first run of each component) number them */
    int nc = 0;
    for (int i = 0; i < n; i++) {
        int p = R->parent[i];
        R->parent[i] = p == i ? nc++ : R->parent[p];
    }
    return nc;
}

/* the row index of the runs (row[y] .. row[y+1]) */
static int index_rows(runs *R, int h) {
    free(R->row);
    if (!(R->row = malloc(sizeof *R->row * (size_t)(h + 1)))) return -1;
    int k = 0;
    for (int y = 0; y <= h; y++) {
        while (k < R->n && R->r[k].y < y) k++;
        R->row[y] = k;
    }
    return 0;
}

static int cmp_size_desc(const void *a, const void *b, void *sz) {
    const int64_t *s = sz;
    int x = *(const int *)a, y = *(const int *)b;
    return s[x] != s[y] ? (s[x] < s[y] ? 1 : -1) : (x > y) - (x < y);
}

/* the whole pipeline on the foreground runs F of an h x w image; F ends as the output's runs plus
 * hole runs in H. */
static int process(runs *F, runs *Hl, int h, int w, const fn_post_opts *o, fn_post_stats *st) {
    if (index_rows(F, h)) return -1;
    int nc = label(F, h, o->conn);
    if (nc < 0) return -1;
    st->components = nc;
    if (o->min_size > 0 || o->largest > 0) {
        int64_t *size = calloc((size_t)(nc ? nc : 1), sizeof *size);
        int *order = malloc(sizeof *order * (size_t)(nc ? nc : 1));
        uint8_t *keep = malloc((size_t)(nc ? nc : 1));
        if (!size || !order || !keep) {
            free(size), free(order), free(keep);
            return -1;
        }
        for (int i = 0; i < F->n; i++) size[F->parent[i]] += F->r[i].e - F->r[i].s;
        int nk = 0;
        for (int c = 0; c < nc; c++) {
            keep[c] = size[c] >= o->min_size;
            if (keep[c]) order[nk++] = c;
        }
        if (o->largest > 0 && nk > o->largest) {
            qsort_r(order, (size_t)nk, sizeof *order, cmp_size_desc, size);
            for (int k = o->largest; k < nk; k++) keep[order[k]] = 0;
        }
        int m = 0;
        for (int i = 0; i < F->n; i++)
            if (keep[F->parent[i]]) F->r[m++] = F->r[i];
        for (int c = 0; c < nc; c++) st->removed += !keep[c];
        F->n = m;
        free(size), free(order), free(keep);
        free(F->parent), F->parent = NULL;
        if (index_rows(F, h)) return -1;
    }
    if (!o->fill_holes) return 0;
    /* the background runs: the gaps between the foreground runs of each row */
    for (int y = 0; y < h; y++) {
        int x = 0;
        for (int i = F->row[y]; i < F->row[y + 1]; i++) {
            if (F->r[i].s > x && push(Hl, y, x, F->r[i].s)) return -1;
            x = F->r[i].e;
        }
        if (x < w && push(Hl, y, x, w)) return -1;
    }
    if (index_rows(Hl, h)) return -1;
    int nb = label(Hl, h, o->conn == 8 ? 4 : 8);
    if (nb < 0) return -1;
    uint8_t *border = calloc((size_t)(nb ? nb : 1), 1);
    if (!border) return -1;
    for (int i = 0; i < Hl->n; i++) {
        const run *r = &Hl->r[i];
        if (r->y == 0 || r->y == h - 1 || r->s == 0 || r->e == w) border[Hl->parent[i]] = 1;
    }
    int m = 0;
    for (int i = 0; i < Hl->n; i++)
        if (!border[Hl->parent[i]]) Hl->r[m++] = Hl->r[i];
    Hl->n = m;
    for (int c = 0; c < nb; c++) st->holes += !border[c];
    free(border);
    return 0;
}

/* the rows of the result, each zeroed and then set over its runs of F and H while it is in cache */
static void write_f32(float *dst, int h, int w, const runs *F, const runs *H) {
    int a = 0, c = 0;
    for (int y = 0; y < h; y++) {
        float *r = dst + (size_t)y * w;
        memset(r, 0, sizeof *r * (size_t)w);
        for (; a < F->n && F->r[a].y == y; a++)
            for (int x = F->r[a].s; x < F->r[a].e; x++) r[x] = 1.0f;
        for (; c < H->n && H->r[c].y == y; c++)
            for (int x = H->r[c].s; x < H->r[c].e; x++) r[x] = 1.0f;
    }
}

static void write_u8(uint8_t *dst, int h, int w, const runs *F, const runs *H) {
    memset(dst, 0, (size_t)h * w);
    const runs *lists[2] = {F, H};
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < lists[l]->n; i++) {
            const run *r = &lists[l]->r[i];
            memset(dst + (size_t)r->y * w + r->s, 1, (size_t)(r->e - r->s));
        }
}

int fn_post_f32(float *p, int h, int w, const fn_post_opts *o, fn_post_stats *st, fn_err *e) {
    runs F = {0}, Hl = {0};
    fn_post_stats s0 = {0};
    uint8_t *row = malloc((size_t)w);
    int rc = row ? 0 : -1;
    float t = (float)o->threshold;
    for (int y = 0; y < h && !rc; y++) {
        threshold_row(p + (size_t)y * w, w, t, row);
        rc = scan_u8(&F, row, y, w);
    }
    free(row);
    if (!rc) rc = process(&F, &Hl, h, w, o, &s0);
    if (!rc) write_f32(p, h, w, &F, &Hl);
    runs_free(&F);
    runs_free(&Hl);
    if (rc) return fn_seterr(e, "out of memory for the components of a %dx%d image", h, w);
    if (st) *st = s0;
    return 0;
}

int fn_post_u8(uint8_t *b, int h, int w, const fn_post_opts *o, fn_post_stats *st, fn_err *e) {
    runs F = {0}, Hl = {0};
    fn_post_stats s0 = {0};
    int rc = 0;
    for (int y = 0; y < h && !rc; y++) rc = scan_u8(&F, b + (size_t)y * w, y, w);
    if (!rc) rc = process(&F, &Hl, h, w, o, &s0);
    if (!rc) write_u8(b, h, w, &F, &Hl);
    runs_free(&F);
    runs_free(&Hl);
    if (rc) return fn_seterr(e, "out of memory for the components of a %dx%d image", h, w);
    if (st) *st = s0;
    return 0;
}
