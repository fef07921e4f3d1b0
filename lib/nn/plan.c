/* plan.c: the activation arena's plan (plan.h). */
#include <stdlib.h>
#include "nn/plan.h"

static int by_size(const void *a, const void *b) {
    const fn_plan_item *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    if (x->start != y->start) return x->start - y->start;
    if (x->t != y->t) return x->t - y->t;
    return x->grad - y->grad;
}

static int by_off(const void *a, const void *b) {
    const fn_plan_item *x = *(fn_plan_item *const *)a, *y = *(fn_plan_item *const *)b;
    return x->off < y->off ? -1 : x->off > y->off;
}

size_t fn_plan_place(fn_plan_item *it, int n) {
    if (n <= 0) return 0;
    qsort(it, (size_t)n, sizeof *it, by_size);
    fn_plan_item **ov = malloc(sizeof *ov * (size_t)n); /* the placed buffers whose lifetimes overlap it[i] */
    if (!ov) return (size_t)-1;
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
    free(ov);
    return total;
}
