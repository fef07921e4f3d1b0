/* Layer lib/nn (see lib/backend/backend.h for the order of the layers).
 * plan.h: the activation arena's plan, plain C with no backend (graph.c uses it; tests/unit/test_plan.c
 * checks it on the CPU): buffers with lifetimes get offsets in one allocation such that no two buffers
 * alive at the same time share an element.
 *
 * Greedy first fit: the buffers are taken in an order, and each goes to the lowest offset where it
 * overlaps, in address, no buffer already placed whose lifetime overlaps its own. Three orders are tried
 * (largest first, ties earlier start first; earliest start first; largest size x lifetime first) and the
 * smallest arena kept, stopping at one that reaches the largest sum of sizes alive at one time (no plan
 * is smaller). The arena is then at most the sum of the sizes and at least that bound; deterministic (the
 * same items in any order give the same offsets). */
#ifndef FN_NN_PLAN_H
#define FN_NN_PLAN_H

#include <stddef.h>

typedef struct fn_plan_item {
    size_t size;     /* in the caller's units (graph.c: floats, aligned) */
    size_t off;      /* out: the offset in the arena */
    int start, end;  /* the lifetime [start, end], both included, in the caller's time steps */
    int t, grad;     /* the caller's tags (graph.c: the tensor, and 1 for its gradient) */
} fn_plan_item;

/* place it[0..n) (reordered: in the order of the plan kept); returns the arena's size (the largest
 * off + size; 0 for none), or (size_t)-1 when out of memory */
size_t fn_plan_place(fn_plan_item *it, int n);

#endif
