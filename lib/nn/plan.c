/* plan.c: the activation arena's plan (plan.h). */
#include <stdlib.h>
#include <string.h>
#include "nn/plan.h"

static int by_size(const void *a, const void *b) {
    const fn_plan_item *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    if (x->start != y->start) return x->start - y->start;
    if (x->t != y->t) return x->t - y->t;
    return x->grad - y->grad;
}

static int by_start(const void *a, const void *b) {
    const fn_plan_item *x = a, *y = b;
    if (x->start != y->start) return x->start - y->start;
    return by_size(a, b);
}

static int by_size_late(const void *a, const void *b) { /* largest first, ties later start first */
    const fn_plan_item *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    if (x->start != y->start) return y->start - x->start;
    return by_size(a, b);
}

static int by_off(const void *a, const void *b) {
    const fn_plan_item *x = *(fn_plan_item *const *)a, *y = *(fn_plan_item *const *)b;
    return x->off < y->off ? -1 : x->off > y->off;
}

/* first fit in the order of it: each buffer at the lowest offset where it overlaps no placed buffer
 * that lives at the same time; the arena's size */
static size_t first_fit(fn_plan_item *it, int n, fn_plan_item **ov) {
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        int m = 0;
        for (int j = 0; j < i; j++)
            if (it[j].start <= it[i].end && it[i].start <= it[j].end) ov[m++] = &it[j];
        qsort(ov, (size_t)m, sizeof *ov, by_off);
        size_t cand = 0; /* the lowest offset past every overlapping buffer below it that it would touch */
        for (int j = 0; j < m; j++) {
            if (cand + it[i].size <= ov[j]->off) break;
            if (ov[j]->off + ov[j]->size > cand) cand = ov[j]->off + ov[j]->size;
        }
        it[i].off = cand;
        if (cand + it[i].size > total) total = cand + it[i].size;
    }
    return total;
}

/* The greedy first fit in three orders (largest first, ties by earlier or by later start; earliest start
 * first), the smallest arena kept; it stops at the first that reaches the bound no plan can beat (the
 * most bytes alive at once). Each order wins on some net: largest-first alone left FocusNet's inference
 * 10% above the bound once a fused call (graph.c) moved one tensor's birth a step earlier, and the later
 * start first alone left R2U-Net's 20% above it (tests/unit/test_plan.c). */
size_t fn_plan_place(fn_plan_item *it, int n) {
    if (n <= 0) return 0;
    int (*const order[])(const void *, const void *) = { by_size, by_size_late, by_start };
    fn_plan_item **ov = malloc(sizeof *ov * (size_t)n), *work = malloc(sizeof *work * (size_t)n);
    int tmax = 0;
    for (int i = 0; i < n; i++) tmax = it[i].end > tmax ? it[i].end : tmax;
    size_t *live = calloc((size_t)tmax + 2, sizeof *live);
    if (!ov || !work || !live) {
        free(ov), free(work), free(live);
        return (size_t)-1;
    }
    for (int i = 0; i < n; i++) /* the bytes alive at each step: +size at start, -size after end */
        if (it[i].start >= 0 && it[i].start <= it[i].end) live[it[i].start] += it[i].size, live[it[i].end + 1] -= it[i].size;
    size_t bound = 0, run = 0;
    for (int t = 0; t <= tmax; t++) run += live[t], bound = run > bound ? run : bound;
    size_t best = (size_t)-1;
    for (size_t k = 0; k < sizeof order / sizeof *order && best > bound; k++) {
        memcpy(work, it, sizeof *work * (size_t)n);
        qsort(work, (size_t)n, sizeof *work, order[k]);
        const size_t total = first_fit(work, n, ov);
        if (total < best) {
            best = total;
            memcpy(it, work, sizeof *work * (size_t)n); /* it keeps its items; order and offsets of this plan */
        }
    }
    free(ov), free(work), free(live);
    return best;
}
