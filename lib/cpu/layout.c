/* layout.c: the two layout changes that carry nearly all the bytes of the bf16 convolutions (dnnconv.c),
 * in place of oneDNN's reorders for them (declared in cpu.h):
 *   cpu_nhwc_bf16   fn's NCHW f32 tensors into the primitives' NHWC bf16 source (and diff_dst), each
 *                   value rounded to nearest even as cpu_bf16_round (the matrix-product path's rounding),
 *                   maybe through a prologue first: a batch norm and ReLU the source is the output of
 *                   (conv_bwd_bn: a training backward's source made from the norm's input as it goes);
 *                   cpu_nhwc_cat_bf16 the same of two tensors' concatenation along channels, which is never
 *                   made itself (a residual unit's input: cpu_dnn_fwd2)
 *   cpu_nchw_from   the primitives' NHWC f32 results back into NCHW f32, written or added (acc), or
 *                   written through the convolution's epilogue as they go (epi: cpu_epi_plane's batch
 *                   norm and ReLU, or sum with an addend), or summed with a second result in NHWC (x2:
 *                   a residual unit's two branches, cpu_dnn_fwd2)
 *   cpu_nhwc_bn_bf16 an NHWC f32 result through a batch norm epilogue into NHWC bf16, with no transpose: one
 *                   convolution's result as the next one's source (cpu_dnn_fwd2)
 *   cpu_nhwc_up_bf16 fn's NCHW f32 tensor upsampled 2x (nearest) into NHWC bf16 as it is laid out: an
 *                   upsampling's output as a convolution's source, never made itself (cpu_dnn_up_fwd)
 * and, for channels-last inference (set_nhwc: fn's tensors NHWC f32 themselves), the copies without a
 * transpose: cpu_nhwc_rows_bf16 (a source rounded, through a prologue, from a concatenation's two parts),
 * cpu_nhwc_up2_bf16 (an upsampling into a convolution's source), cpu_nhwc_epi (an epilogue over a
 * result the primitive wrote in place), and cpu_nhwc_f32 (the graph's NCHW input into NHWC); and, any
 * layout, cpu_to_bf16 and cpu_from_bf16 (a training plan's values kept for its backward in bf16).
 * One image's tensor is [C, HW] one way and [HW, C] the other: a transpose. The work is cut into tiles of
 * PT pixels, each taken by one thread 16 channels at a time, so that the reads and the writes of the
 * channel-major side run along 1 KB of each channel (one stream per channel would have the prefetchers
 * lose track at 64 channels and more) while the pixel-major side of the tile stays in L2. Compiled per
 * ISA level (CPU_ISA_SRC): the AVX-512 copy transposes 16x16 blocks in registers, rounding them by
 * AVX512_BF16's conversion where the CPU has it (all CPUs that run bf16); the others, and the edges
 * (channels or pixels short of 16), go value by value. Every level gives the same bits: a transpose,
 * cpu_bf16_round's rounding (the instruction's), the batch norm's multiply and add, one addition. */
#include <stddef.h>
#include <stdint.h>
#if CPU_ISA == 2 && defined(__AVX512F__)
#include <immintrin.h>
#define LAYOUT_AVX512 1
#endif
#include "cpu.h"

#define PT 256 /* pixels per tile */

#ifdef LAYOUT_AVX512
/* A 16x16 block's transpose from its 16 rows of 16 floats at x + i*ld: o[j] = column j. Lane a (128
 * bits) of register 4b+s is loaded with row 4a+s, columns 4b..4b+3 (inserts run on any port, while the
 * shuffles have one), and a 4x4 transpose within the lanes finishes it: half the shuffles of a transpose
 * of 16 whole rows in registers, which measured 10-20% slower here (Intel Xeon, AMX). */
static inline __attribute__((always_inline)) void tr16_from(const float *x, size_t ld, __m512 o[16]) {
    for (int b = 0; b < 4; b++) {
        __m512 z[4];
        for (int s = 0; s < 4; s++) {
            __m512 v = _mm512_castps128_ps512(_mm_loadu_ps(x + (size_t)s * ld + 4 * b));
            v = _mm512_insertf32x4(v, _mm_loadu_ps(x + (size_t)(4 + s) * ld + 4 * b), 1);
            v = _mm512_insertf32x4(v, _mm_loadu_ps(x + (size_t)(8 + s) * ld + 4 * b), 2);
            z[s] = _mm512_insertf32x4(v, _mm_loadu_ps(x + (size_t)(12 + s) * ld + 4 * b), 3);
        }
        const __m512 t0 = _mm512_unpacklo_ps(z[0], z[1]), t1 = _mm512_unpackhi_ps(z[0], z[1]);
        const __m512 t2 = _mm512_unpacklo_ps(z[2], z[3]), t3 = _mm512_unpackhi_ps(z[2], z[3]);
        o[4 * b + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
        o[4 * b + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t2)));
        o[4 * b + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
        o[4 * b + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t1), _mm512_castps_pd(t3)));
    }
}

/* cpu_bf16_round of 16 values, as AVX512_BF16's instruction gives them (cpu.h) */
#define BF16CVT __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
BF16CVT static inline __m256i bf16x16(__m512 v) {
    return (__m256i)_mm512_cvtneps_pbh(v);
}
/* The functions that round come in two copies: _hw, compiled for AVX512_BF16 (BF16CVT) and called only
 * where the CPU has it, converts 16 values at a time; _sw, value by value (cpu_bf16_round), runs where
 * it has not: no bf16 precision there, only the tests. hw is a constant where the body is inlined. */
#define TWO_COPIES(name, params, args)                                                    \
    static void name##_sw params { name(args, 0); }                                       \
    BF16CVT static void name##_hw params { name(args, 1); }
#else
#define TWO_COPIES(name, params, args)                                                    \
    static void name##_sw params { name(args, 0); }                                       \
    static void name##_hw params { name(args, 0); }
#endif

/* value p of channel c through the prologue pro (NULL: none), rounded */
static inline uint16_t pro_round(const float *x, size_t HW, int c, size_t p, const cpu_epi *pro) {
    const float v = x[(size_t)c * HW + p];
    return cpu_bf16_round(pro ? cpu_bn_value(v, pro->scale[c], pro->shift[c], pro->relu) : v);
}

/* x [C, HW] (one image) -> y [HW, ldc] bf16 (channels [0, C) of its ldc), each value through the prologue
 * pro (NULL: none; a batch norm's scale and shift per channel, and ReLU) and then rounded: pixels
 * [p0, p1) */
static inline __attribute__((always_inline)) void nhwc_tile(const float *x, uint16_t *y, int C, int ldc, size_t HW,
                                                            size_t p0, size_t p1, const cpu_epi *pro, int hw) {
    int c0 = 0;
    size_t q1 = p0; /* the vector blocks cover [p0, q1) */
#ifdef LAYOUT_AVX512
    if (hw) {
        q1 = p0 + (p1 - p0) / 16 * 16;
        for (; c0 + 16 <= C; c0 += 16) {
            const __m512 sc = pro ? _mm512_loadu_ps(pro->scale + c0) : _mm512_setzero_ps(),
                         sh = pro ? _mm512_loadu_ps(pro->shift + c0) : _mm512_setzero_ps();
            for (size_t q = p0; q < q1; q += 16) {
                __m512 r[16];
                tr16_from(x + (size_t)c0 * HW + q, HW, r); /* r[j]: pixel q + j, channels c0.. */
                for (int j = 0; j < 16; j++) {
                    if (pro) { /* x*scale + shift, then max(t, 0): t > 0 ? t : 0, NaN and -0 included */
                        r[j] = _mm512_add_ps(_mm512_mul_ps(r[j], sc), sh);
                        if (pro->relu) r[j] = _mm512_max_ps(r[j], _mm512_setzero_ps());
                    }
                    _mm256_storeu_si256((__m256i *)(y + (q + j) * ldc + c0), bf16x16(r[j]));
                }
            }
        }
    }
#endif
    for (int c = c0; c < C; c++) /* the channels short of a block of 16 */
        for (size_t p = p0; p < q1; p++) y[p * ldc + c] = pro_round(x, HW, c, p, pro);
    for (int c = 0; c < C; c++) /* the pixels short of one */
        for (size_t p = q1; p < p1; p++) y[p * ldc + c] = pro_round(x, HW, c, p, pro);
}

#define NHWC_ARGS x, y, C, ldc, HW, p0, p1, pro
TWO_COPIES(nhwc_tile,
           (const float *x, uint16_t *y, int C, int ldc, size_t HW, size_t p0, size_t p1, const cpu_epi *pro),
           NHWC_ARGS)

/* x [HW, C] (one image) -> y [C, HW] (= or +=, or = through epi, or = x + x2 where x2 [HW, C] is not
 * NULL): pixels [p0, p1) */
static void nchw_tile(const float *x, const float *x2, float *y, int C, size_t HW, size_t p0, size_t p1, int acc,
                      const cpu_epi *epi) {
    int c0 = 0;
    size_t q1 = p0;
#ifdef LAYOUT_AVX512
    q1 = p0 + (p1 - p0) / 16 * 16;
    for (; c0 + 16 <= C; c0 += 16)
        for (size_t q = p0; q < q1; q += 16) {
            __m512 r[16], r2[16];
            tr16_from(x + q * C + c0, (size_t)C, r);
            if (x2) tr16_from(x2 + q * C + c0, (size_t)C, r2);
            for (int j = 0; j < 16; j++) {
                float *o = y + (size_t)(c0 + j) * HW + q;
                if (x2) {
                    _mm512_storeu_ps(o, _mm512_add_ps(r[j], r2[j]));
                } else if (epi && epi->add == 1) {
                    _mm512_storeu_ps(o, _mm512_add_ps(r[j], _mm512_loadu_ps(cpu_epi_z(epi, o))));
                } else if (epi) { /* x*scale + shift, then max(t, 0): t > 0 ? t : 0, NaN and -0 included */
                    __m512 t = _mm512_add_ps(_mm512_mul_ps(r[j], _mm512_set1_ps(epi->scale[c0 + j])),
                                             _mm512_set1_ps(epi->shift[c0 + j]));
                    if (epi->relu) t = _mm512_max_ps(t, _mm512_setzero_ps());
                    if (epi->add) t = _mm512_add_ps(t, _mm512_loadu_ps(cpu_epi_z(epi, o))); /* then + z */
                    _mm512_storeu_ps(o, t);
                } else {
                    _mm512_storeu_ps(o, acc ? _mm512_add_ps(_mm512_loadu_ps(o), r[j]) : r[j]);
                }
            }
        }
#endif
    for (int c = 0; c < C; c++) {
        float *o = y + (size_t)c * HW;
        const size_t from = c < c0 ? q1 : p0; /* what the vector blocks left of this channel */
        if (x2)
            for (size_t p = from; p < p1; p++) o[p] = x[p * C + c] + x2[p * C + c];
        else if (epi && epi->add == 1)
            for (size_t p = from; p < p1; p++) o[p] = x[p * C + c] + cpu_epi_z(epi, o)[p];
        else if (epi && epi->add)
            for (size_t p = from; p < p1; p++)
                o[p] = cpu_bn_value(x[p * C + c], epi->scale[c], epi->shift[c], epi->relu) + cpu_epi_z(epi, o)[p];
        else if (epi)
            for (size_t p = from; p < p1; p++)
                o[p] = cpu_bn_value(x[p * C + c], epi->scale[c], epi->shift[c], epi->relu);
        else if (acc)
            for (size_t p = from; p < p1; p++) o[p] += x[p * C + c];
        else
            for (size_t p = from; p < p1; p++) o[p] = x[p * C + c];
    }
}

void cpu_nhwc_bf16(const float *x, uint16_t *y, int N, int C, size_t HW, const cpu_epi *pro, int threads) {
    cpu_nhwc_cat_bf16(x, C, NULL, 0, y, N, HW, pro, threads);
}

void cpu_nhwc_cat_bf16(const float *x, int C, const float *x2, int C2, uint16_t *y, int N, size_t HW,
                       const cpu_epi *pro, int threads) {
    const size_t nt = (HW + PT - 1) / PT;
    const int ldc = C + C2;
    void (*tile)(const float *, uint16_t *, int, int, size_t, size_t, size_t, const cpu_epi *) =
        cpu_has_bf16cvt() ? nhwc_tile_hw : nhwc_tile_sw;
    const long items = (long)N * (long)nt;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long i = 0; i < items; i++) {
        const size_t n = (size_t)(i / (long)nt), p0 = (size_t)(i % (long)nt) * PT, p1 = p0 + PT < HW ? p0 + PT : HW;
        tile(x + n * C * HW, y + n * ldc * HW, C, ldc, HW, p0, p1, pro);
        if (x2) tile(x2 + n * C2 * HW, y + n * ldc * HW + C, C2, ldc, HW, p0, p1, NULL);
    }
}

void cpu_nchw_from(const float *x, const float *x2, float *y, int N, int C, size_t HW, int acc, const cpu_epi *epi,
                   int threads) {
    const size_t nt = (HW + PT - 1) / PT;
    const long items = (long)N * (long)nt;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long i = 0; i < items; i++) {
        const size_t n = (size_t)(i / (long)nt), p0 = (size_t)(i % (long)nt) * PT;
        nchw_tile(x + n * C * HW, x2 ? x2 + n * C * HW : NULL, y + n * C * HW, C, HW, p0,
                  p0 + PT < HW ? p0 + PT : HW, acc, epi);
    }
}

/* x [P, C] -> y [P, ldc] bf16 (channels [0, C) of its ldc), each value through epi (NULL: none) and then
 * rounded: pixels [p0, p1) */
static inline __attribute__((always_inline)) void bn_bf16_rows(const float *x, uint16_t *y, int C, int ldc, size_t p0,
                                                               size_t p1, const cpu_epi *epi, int hw) {
    for (size_t p = p0; p < p1; p++) {
        const float *xp = x + p * C;
        uint16_t *yp = y + p * ldc;
        int c = 0;
#ifdef LAYOUT_AVX512
        for (; hw && c + 16 <= C; c += 16) {
            __m512 v = _mm512_loadu_ps(xp + c);
            if (epi) {
                v = _mm512_add_ps(_mm512_mul_ps(v, _mm512_loadu_ps(epi->scale + c)), _mm512_loadu_ps(epi->shift + c));
                if (epi->relu) v = _mm512_max_ps(v, _mm512_setzero_ps());
            }
            _mm256_storeu_si256((__m256i *)(yp + c), bf16x16(v));
        }
#endif
        for (; c < C; c++)
            yp[c] = cpu_bf16_round(epi ? cpu_bn_value(xp[c], epi->scale[c], epi->shift[c], epi->relu) : xp[c]);
    }
}

#define ROWS_ARGS x, y, C, ldc, p0, p1, epi
TWO_COPIES(bn_bf16_rows, (const float *x, uint16_t *y, int C, int ldc, size_t p0, size_t p1, const cpu_epi *epi),
           ROWS_ARGS)

void cpu_nhwc_bn_bf16(const float *x, uint16_t *y, size_t P, int C, const cpu_epi *epi, int threads) {
    cpu_nhwc_rows_bf16(x, C, NULL, 0, y, P, epi, threads);
}

void cpu_nhwc_rows_bf16(const float *x, int C, const float *x2, int C2, uint16_t *y, size_t P, const cpu_epi *pro,
                        int threads) {
    const long items = (long)((P + PT - 1) / PT);
    void (*rows)(const float *, uint16_t *, int, int, size_t, size_t, const cpu_epi *) =
        cpu_has_bf16cvt() ? bn_bf16_rows_hw : bn_bf16_rows_sw;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long i = 0; i < items; i++) {
        const size_t p0 = (size_t)i * PT, p1 = p0 + PT < P ? p0 + PT : P;
        rows(x, y, C, C + C2, p0, p1, pro);
        if (x2) rows(x2, y + C, C2, C + C2, p0, p1, NULL);
    }
}

/* x [n] -> y [n] bf16, rounded as cpu_bf16_round (backend.h to_bf16: a training plan's values kept for its
 * backward), in rows of KR values, a row per item of work; y [n] -> x [n] f32 back, exactly (from_bf16) */
#define KR 4096
void cpu_to_bf16(const float *x, uint16_t *y, size_t n, int threads) {
    const long items = (long)((n + KR - 1) / KR);
    void (*rows)(const float *, uint16_t *, int, int, size_t, size_t, const cpu_epi *) =
        cpu_has_bf16cvt() ? bn_bf16_rows_hw : bn_bf16_rows_sw;
#pragma omp parallel for num_threads(threads) schedule(static) if (items > 4)
    for (long i = 0; i < items; i++) {
        const size_t p0 = (size_t)i * KR, len = p0 + KR < n ? KR : n - p0;
        rows(x + p0, y + p0, (int)len, (int)len, 0, 1, NULL);
    }
}

void cpu_from_bf16(const uint16_t *x, float *y, size_t n, int threads) {
#pragma omp parallel for simd num_threads(threads) schedule(static) if (n > 4 * KR)
    for (size_t i = 0; i < n; i++) y[i] = cpu_bf16_float(x[i]);
}

/* x [P, C] -> y [P, C], each value through epi (a batch norm's scale and shift per channel, and ReLU; or
 * the addend's value added): pixels [p0, p1); y may be x */
static void epi_rows(const float *x, float *y, int C, size_t p0, size_t p1, const cpu_epi *epi) {
    for (size_t p = p0; p < p1; p++) {
        const float *xp = x + p * C;
        float *yp = y + p * C;
        if (epi->add == 1) {
            const float *z = cpu_epi_z(epi, yp);
#pragma omp simd
            for (int c = 0; c < C; c++) yp[c] = xp[c] + z[c];
        } else if (epi->add) {
            const float *z = cpu_epi_z(epi, yp);
#pragma omp simd
            for (int c = 0; c < C; c++) yp[c] = cpu_bn_value(xp[c], epi->scale[c], epi->shift[c], epi->relu) + z[c];
        } else {
#pragma omp simd
            for (int c = 0; c < C; c++) yp[c] = cpu_bn_value(xp[c], epi->scale[c], epi->shift[c], epi->relu);
        }
    }
}

void cpu_nhwc_epi(const float *x, float *y, size_t P, int C, const cpu_epi *epi, int threads) {
    const long items = (long)((P + PT - 1) / PT);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long i = 0; i < items; i++) {
        const size_t p0 = (size_t)i * PT;
        epi_rows(x, y, C, p0, p0 + PT < P ? p0 + PT : P, epi);
    }
}

/* An image's [C, HW] to [HW, C] is cpu_nchw_from's transpose of an image of HW "channels" of C "pixels"
 * (tiles along C: the graph's 1 to 3 input channels make one tile an image; the convolutions' rare
 * fallback through NCHW, conv.c, is the other caller) */
void cpu_nhwc_f32(const float *x, float *y, int N, int C, size_t HW, int threads) {
    cpu_nchw_from(x, NULL, y, N, (int)HW, (size_t)C, 0, NULL, threads);
}

/* x [h, w, C] (one image) -> y [2h, 2w, C] bf16, nearest 2x, rounded: source rows [i0, i1). Each pixel's
 * values rounded once and stored four times. */
static inline __attribute__((always_inline)) void up2_rows(const float *x, uint16_t *y, int C, int w, int i0, int i1,
                                                           int hw) {
    const size_t W2 = 2 * (size_t)w;
    for (int i = i0; i < i1; i++) {
        uint16_t *r0 = y + (size_t)(2 * i) * W2 * C, *r1 = r0 + W2 * C; /* output rows 2i and 2i+1 */
        for (int j = 0; j < w; j++) {
            const float *xp = x + ((size_t)i * w + j) * C;
            const size_t o = (size_t)(2 * j) * C;
            int c = 0;
#ifdef LAYOUT_AVX512
            for (; hw && c + 16 <= C; c += 16) {
                const __m256i v = bf16x16(_mm512_loadu_ps(xp + c));
                _mm256_storeu_si256((__m256i *)(r0 + o + c), v);
                _mm256_storeu_si256((__m256i *)(r0 + o + C + c), v);
                _mm256_storeu_si256((__m256i *)(r1 + o + c), v);
                _mm256_storeu_si256((__m256i *)(r1 + o + C + c), v);
            }
#endif
            for (; c < C; c++) r0[o + c] = r0[o + C + c] = r1[o + c] = r1[o + C + c] = cpu_bf16_round(xp[c]);
        }
    }
}

#define UP2_ARGS x, y, C, w, i0, i1
TWO_COPIES(up2_rows, (const float *x, uint16_t *y, int C, int w, int i0, int i1), UP2_ARGS)

void cpu_nhwc_up2_bf16(const float *x, uint16_t *y, int N, int C, int h, int w, int threads) {
    const int rows = w >= 64 ? 1 : (64 + w - 1) / w; /* source rows per item: at least 64 pixels */
    const int per = (h + rows - 1) / rows;
    const long items = (long)N * per;
    void (*tile)(const float *, uint16_t *, int, int, int, int) = cpu_has_bf16cvt() ? up2_rows_hw : up2_rows_sw;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long it = 0; it < items; it++) {
        const size_t n = (size_t)(it / per);
        const int i0 = (int)(it % per) * rows, i1 = i0 + rows < h ? i0 + rows : h;
        tile(x + n * C * h * w, y + n * C * 4 * (size_t)h * w, C, w, i0, i1);
    }
}

/* x [C, h, w] (one image) -> y [2h, 2w, C] bf16, nearest 2x (output pixel (2i+a, 2j+b) is x's (i, j)),
 * rounded: source rows [i0, i1). Each 16x16 block of channels and source pixels is transposed and rounded
 * once and stored four times. */
static inline __attribute__((always_inline)) void up_rows(const float *x, uint16_t *y, int C, int h, int w,
                                                          int i0, int i1, int hw) {
    const size_t HW = (size_t)h * w, W2 = 2 * (size_t)w;
    for (int i = i0; i < i1; i++) {
        uint16_t *r0 = y + (size_t)(2 * i) * W2 * C, *r1 = r0 + W2 * C; /* output rows 2i and 2i+1 */
        int c0 = 0, q1 = 0;
#ifdef LAYOUT_AVX512
        if (hw) {
            q1 = w / 16 * 16;
            for (; c0 + 16 <= C; c0 += 16)
                for (int q = 0; q < q1; q += 16) {
                    __m512 r[16];
                    tr16_from(x + (size_t)c0 * HW + (size_t)i * w + q, HW, r); /* r[j]: pixel (i, q+j) */
                    for (int j = 0; j < 16; j++) {
                        const __m256i v = bf16x16(r[j]);
                        const size_t o = (size_t)(2 * (q + j)) * C + c0;
                        _mm256_storeu_si256((__m256i *)(r0 + o), v);
                        _mm256_storeu_si256((__m256i *)(r0 + o + C), v);
                        _mm256_storeu_si256((__m256i *)(r1 + o), v);
                        _mm256_storeu_si256((__m256i *)(r1 + o + C), v);
                    }
                }
        }
#endif
        for (int c = 0; c < C; c++) /* what the vector blocks left: channels short of 16, then pixels */
            for (int j = c < c0 ? q1 : 0; j < w; j++) {
                const uint16_t v = cpu_bf16_round(x[(size_t)c * HW + (size_t)i * w + j]);
                const size_t o = (size_t)(2 * j) * C + c;
                r0[o] = r0[o + C] = r1[o] = r1[o + C] = v;
            }
    }
}

#define UP_ARGS x, y, C, h, w, i0, i1
TWO_COPIES(up_rows, (const float *x, uint16_t *y, int C, int h, int w, int i0, int i1), UP_ARGS)

void cpu_nhwc_up_bf16(const float *x, uint16_t *y, int N, int C, int h, int w, int threads) {
    const int rows = w >= 64 ? 1 : (64 + w - 1) / w; /* source rows per item: at least 64 pixels */
    const int per = (h + rows - 1) / rows;
    const long items = (long)N * per;
    void (*tile)(const float *, uint16_t *, int, int, int, int, int) = cpu_has_bf16cvt() ? up_rows_hw : up_rows_sw;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long it = 0; it < items; it++) {
        const size_t n = (size_t)(it / per);
        const int i0 = (int)(it % per) * rows, i1 = i0 + rows < h ? i0 + rows : h;
        tile(x + n * C * h * w, y + n * C * 4 * (size_t)h * w, C, h, w, i0, i1);
    }
}
