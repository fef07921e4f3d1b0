/* image.c: the pages of a decoded image and the row helper every decoder shares */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "data/image.h"

int fn_image_add_page(fn_image *img, fn_tensor *t, int orig_h, int orig_w, int denom, fn_err *e) {
    fn_page *p = realloc(img->pages, (size_t)(img->n + 1) * sizeof *p);
    if (!p) {
        fn_tensor_free(t);
        return fn_seterr(e, "out of memory");
    }
    img->pages = p;
    p[img->n++] = (fn_page){t, orig_h, orig_w, denom};
    return 0;
}

void fn_image_free(fn_image *img) {
    for (int i = 0; i < img->n; i++) fn_tensor_free(img->pages[i].t);
    free(img->pages);
    memset(img, 0, sizeof *img);
}

/* RGB to three planes: the hot loop of every colour decode. GCC vectorises it (pshufb) when it may
 * use SSSE3 or AVX2, chosen at run time; elsewhere it is the plain loop. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
__attribute__((target_clones("default", "ssse3", "avx2"), optimize("tree-vectorize", "vect-cost-model=dynamic")))
#endif
static void rgb_planes(const uint8_t *restrict s, uint8_t *restrict r, uint8_t *restrict g, uint8_t *restrict b, int w) {
    for (int x = 0; x < w; x++) {
        r[x] = s[3 * x];
        g[x] = s[3 * x + 1];
        b[x] = s[3 * x + 2];
    }
}

void fn_deinterleave_row(const void *src, int n, fn_tensor *t, int y) {
    size_t plane = (size_t)t->h * t->w, off = (size_t)y * t->w;
    int w = t->w;
    if (t->dtype == FN_U8 && t->c == 3 && n == 3) {
        uint8_t *r = (uint8_t *)t->data + off;
        rgb_planes(src, r, r + plane, r + 2 * plane, w);
        return;
    }
    for (int c = 0; c < t->c; c++) {
        if (t->dtype == FN_U8) {
            const uint8_t *s = (const uint8_t *)src + c;
            uint8_t *d = (uint8_t *)t->data + c * plane + off;
            if (n == 1) memcpy(d, s, (size_t)w);
            else for (int x = 0; x < w; x++) d[x] = s[(size_t)x * n];
        } else if (t->dtype == FN_U16) {
            const uint16_t *s = (const uint16_t *)src + c;
            uint16_t *d = (uint16_t *)t->data + c * plane + off;
            for (int x = 0; x < w; x++) d[x] = s[(size_t)x * n];
        } else {
            const float *s = (const float *)src + c;
            float *d = (float *)t->data + c * plane + off;
            for (int x = 0; x < w; x++) d[x] = s[(size_t)x * n];
        }
    }
}
