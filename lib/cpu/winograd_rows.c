/* winograd_rows.c: the row helpers every Winograd kind (winograd_f43.c, winograd_f32.c) shares with
 * winograd.c's driver: an input row gathered with its zero padding, and output tile rows stored into the
 * image (declared in winograd.h). */
#include <string.h>
#include "cpu.h"
#include "winograd.h"

void wino_store(const wgeom *g, float *y, int ti, int j0, int n, const float *o, int acc,
                const cpu_epi *epi, int c) {
    const int m = g->m, x0 = m * j0, w = m * n < g->W - x0 ? m * n : g->W - x0;
    for (int a = 0; a < m && m * ti + a < g->H; a++) {
        float *dst = y + (size_t)(m * ti + a) * g->W + x0;
        const float *src = o + (size_t)a * g->len;
        if (epi) {
            cpu_epi_plane(epi, src, dst, w, c);
        } else if (acc) {
#pragma omp simd
            for (int k = 0; k < w; k++) dst[k] += src[k];
        } else {
            memcpy(dst, src, (size_t)w * sizeof(float));
        }
    }
}

void wino_gather_row(const float *src, int H, int W, int r, int c0, int len, float *out, const cpu_epi *pro,
                     int c) {
    if (r < 0 || r >= H) {
        memset(out, 0, (size_t)len * sizeof(float));
        return;
    }
    int lo = c0 < 0 ? -c0 : 0, hi = W - c0 < len ? W - c0 : len;
    if (hi < lo) hi = lo;
    memset(out, 0, (size_t)lo * sizeof(float));
    if (pro)
        cpu_bn_plane(src + (size_t)r * W + c0 + lo, out + lo, hi - lo, pro->scale[c], pro->shift[c], pro->relu);
    else
        memcpy(out + lo, src + (size_t)r * W + c0 + lo, (size_t)(hi - lo) * sizeof(float));
    memset(out + hi, 0, (size_t)(len - hi) * sizeof(float));
}
