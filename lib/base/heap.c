/* heap.c: see heap.h. Page faults are most of what a tool's first frames cost on some machines (a
 * virtual machine with memory cgroups: microseconds each), so the heap is grown once, marked for huge
 * pages and handed back to malloc, which carves the frames out of it. */
#include <malloc.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include "base/heap.h"

void fn_heap_for_frames(size_t reserve) {
    mallopt(M_MMAP_THRESHOLD, 1 << 30);
    mallopt(M_TRIM_THRESHOLD, 1 << 30);
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    char *p = reserve > huge ? malloc(reserve) : NULL;
    if (!p) return;
    uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1), end = (uintptr_t)p + reserve;
    if (a < end) (void)madvise((void *)a, end - a, MADV_HUGEPAGE); /* only a hint: errors do not matter */
    free(p);
#endif
}
