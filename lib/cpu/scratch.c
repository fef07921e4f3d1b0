/* scratch.c: the CPU ops' working memory: aligned buffers grown on demand, and each thread's
 * workspace (declared in cpu.h). */
#include <stdlib.h>
#include "cpu.h"

float *cpu_grow(cpu_ctx *c, float **buf, size_t *cap, size_t n) {
    if (*cap < n) {
        free(*buf);
        *buf = NULL, *cap = 0;
        size_t want = n + n / 4;
        void *p = NULL;
        if (posix_memalign(&p, 64, want * sizeof(float))) {
            c->oom = want * sizeof(float);
            return NULL;
        }
        *buf = p, *cap = want;
    }
    return *buf;
}

int cpu_reserve(cpu_ctx *c, size_t n) {
    for (int t = 0; t < c->threads; t++)
        if (!cpu_grow(c, &c->ws[t], &c->ws_cap[t], n)) return -1;
    return 0;
}
