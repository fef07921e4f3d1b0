/* bf16.c: the matrix products in bf16 (set_precision FN_PREC_BF16; declared in cpu.h).
 *
 * Every product C = A B (+ C) of the convolutions rounds its two inputs to bf16 (round to nearest even:
 * 8 bits of mantissa, a relative error of at most u = 2^-9 each) into this thread's buffers and runs
 * oneDNN's matmul primitive with bf16 src and weights and an f32 dst, which accumulates in fp32 with
 * the CPU's bf16 dot-product instructions (AVX512_BF16's vdpbf16ps, or AMX). oneDNN 2.6 (Debian 12's
 * libdnnl) has no bf16 GEMM call (dnnl_sgemm is f32 only), so the primitive is made once per kind (C =,
 * C +=) with run-time sizes and strides and handed each product's sizes when it runs; oneDNN picks its
 * JIT GEMM for it ("gemm:jit"). The tensors, the bias, the epilogues and every other op stay fp32.
 *
 * Each OpenMP thread of the context has its own stream and buffers, and every call runs on the calling
 * thread only (oneDNN on the OpenMP runtime, limited to it as sgemm.c does), so products on disjoint
 * tiles run side by side and the results are deterministic as in fp32.
 *
 * A CPU without bf16 instructions (oneDNN's effective ISA below avx512_core_bf16, which
 * ONEDNN_MAX_CPU_ISA=AVX2 forces) refuses bf16 in one line; so does a build without oneDNN (DNNL=0).
 * No emulation: rounding the inputs and multiplying in fp32 would cost more than fp32 itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#ifdef FN_DNNL
#include "onednn.h"
#endif
#include "cpu.h"

#ifdef FN_DNNL
struct cpu_bf16 {
    dnnl_engine_t eng;
    dnnl_primitive_t mm[2]; /* C = A B (beta 0), C += A B (beta 1): run-time sizes and strides */
    int threads;
    dnnl_stream_t *st;      /* [threads] a stream per OpenMP thread */
    void **buf;             /* [threads] the bf16 copies of A [M*K] and B [K*N], one after the other */
    size_t *cap;            /* [threads] bytes allocated in buf[t] */
    void **dense;           /* [threads] f32 C [M*N] of a product whose C has gaps between its rows */
    size_t *dcap;           /* [threads] bytes allocated in dense[t] */
    int *fail;              /* [threads] a copy could not be had (reported by error()) */
    struct shape *shapes;   /* [threads * NSHAPES] each thread's primitives for fixed sizes */
    int *next;              /* [threads] the entry of shapes to replace next */
    int hw;                 /* the CPU converts to bf16 itself (round_rows_hw) */
};

/* Primitives made for one product's sizes, kept per thread (no lock): oneDNN's brgemm kernels for them
 * run small products in microseconds, where the run-time-sized primitive (its JIT GEMM) took
 * milliseconds for each of the convolutions' small tiles. A convolution makes a few sizes (its tiles,
 * the last shorter); NSHAPES per thread hold a net's, the oldest replaced when full. */
#define NSHAPES 512
struct shape {
    int M, N, K, ldc, acc;
    dnnl_primitive_t p;
};

static dnnl_primitive_t make_matmul(dnnl_engine_t eng, int acc, int M, int N, int K, int ldc);
static dnnl_primitive_t shaped(struct cpu_bf16 *b, int tid, int M, int N, int K, int ldc, int acc) {
    struct shape *s = b->shapes + (size_t)tid * NSHAPES;
    for (int i = 0; i < NSHAPES && s[i].p; i++)
        if (s[i].M == M && s[i].N == N && s[i].K == K && s[i].ldc == ldc && s[i].acc == acc) return s[i].p;
    dnnl_primitive_t p = make_matmul(b->eng, acc, M, N, K, ldc);
    if (!p) return b->mm[acc]; /* the run-time-sized one */
    struct shape *e = s + b->next[tid];
    b->next[tid] = (b->next[tid] + 1) % NSHAPES;
    if (e->p) dnnl_primitive_destroy(e->p);
    *e = (struct shape){ M, N, K, ldc, acc, p };
    return p;
}

/* the matrix [rows, cols] of src (row stride ld; stored transposed, [cols, rows], when t) to bf16 in
 * dst [rows, cols] row-major: oneDNN's JIT GEMM takes plain row-major operands only (transposed strides
 * sent it to its reference code, 100x slower) */
CPU_CLONES static void round_rows(const float *src, int ld, int t, int rows, int cols, uint16_t *dst) {
    if (t) {
        for (int c0 = 0; c0 < cols; c0 += 16) { /* blocks of 16 source rows: reads and writes stay cached */
            const int c1 = c0 + 16 < cols ? c0 + 16 : cols;
            for (int r = 0; r < rows; r++)
                for (int c = c0; c < c1; c++) dst[(size_t)r * cols + c] = cpu_bf16_round(src[(size_t)c * ld + r]);
        }
        return;
    }
    for (int r = 0; r < rows; r++) {
        const float *s = src + (size_t)r * ld;
        uint16_t *d = dst + (size_t)r * cols;
#pragma omp simd
        for (int i = 0; i < cols; i++) d[i] = cpu_bf16_round(s[i]);
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
/* round_rows of a plain (not transposed) src by AVX512_BF16's conversion, on a CPU that has it: the same
 * bits as cpu_bf16_round (cpu.h), 16 values an instruction */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16"))) static void round_rows_hw(const float *src, int ld,
                                                                                       int rows, int cols,
                                                                                       uint16_t *dst) {
    for (int r = 0; r < rows; r++) {
        const float *s = src + (size_t)r * ld;
        uint16_t *d = dst + (size_t)r * cols;
        int i = 0;
        for (; i + 16 <= cols; i += 16) {
            const __m256bh h = _mm512_cvtneps_pbh(_mm512_loadu_ps(s + i));
            _mm256_storeu_si256((__m256i *)(d + i), (__m256i)h);
        }
        for (; i < cols; i++) d[i] = cpu_bf16_round(s[i]);
    }
}
#endif

/* round_rows, by the CPU's conversion where it has it (b->hw) and src is plain */
static void round_into(const struct cpu_bf16 *b, const float *src, int ld, int t, int rows, int cols, uint16_t *dst) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (b->hw && !t) {
        round_rows_hw(src, ld, rows, cols, dst);
        return;
    }
#endif
    round_rows(src, ld, t, rows, cols, dst);
}

/* C [M,N] (row stride ldc) = (or += when acc) D [M,N] (dense) */
CPU_CLONES static void add_rows(const float *D, int M, int N, int acc, float *C, int ldc) {
    for (int r = 0; r < M; r++) {
        const float *d = D + (size_t)r * N;
        float *o = C + (size_t)r * ldc;
        if (acc) {
#pragma omp simd
            for (int i = 0; i < N; i++) o[i] += d[i];
        } else {
            memcpy(o, d, (size_t)N * sizeof(float));
        }
    }
}

/* C [M,N] (row stride ldc) (+)= A [M,K] B [K,N] (row-major): for these sizes, or run-time ones (M 0) */
static dnnl_primitive_t make_matmul(dnnl_engine_t eng, int acc, int M, int N, int K, int ldc) {
    const dnnl_dim_t R = DNNL_RUNTIME_DIM_VAL;
    dnnl_dims_t da = { M ? M : R, M ? K : R }, db = { M ? K : R, M ? N : R }, dc = { M ? M : R, M ? N : R };
    dnnl_dims_t sa = { M ? K : R, M ? 1 : R }, sb = { M ? N : R, M ? 1 : R }, sc = { M ? ldc : R, M ? 1 : R };
    dnnl_memory_desc_t a, b, c;
    dnnl_matmul_desc_t md;
    dnnl_primitive_attr_t attr;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    if (dnnl_memory_desc_init_by_strides(&a, 2, da, dnnl_bf16, sa) ||
        dnnl_memory_desc_init_by_strides(&b, 2, db, dnnl_bf16, sb) ||
        dnnl_memory_desc_init_by_strides(&c, 2, dc, dnnl_f32, sc) ||
        dnnl_matmul_desc_init(&md, &a, &b, NULL, &c) || !(attr = cpu_dnnl_attr(acc)))
        return NULL;
    if (dnnl_primitive_desc_create(&pd, &md, attr, eng, NULL) == dnnl_success && dnnl_primitive_create(&p, pd))
        p = NULL;
    if (pd) dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return p;
}

dnnl_primitive_attr_t cpu_dnnl_attr(int acc) {
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    if (dnnl_primitive_attr_create(&attr)) return NULL;
    if (acc && (dnnl_post_ops_create(&po) || dnnl_post_ops_append_sum(po, 1.0f) ||
                dnnl_primitive_attr_set_post_ops(attr, po))) { /* the attribute keeps a copy of po */
        dnnl_primitive_attr_destroy(attr);
        attr = NULL;
    }
    if (po) dnnl_post_ops_destroy(po);
    return attr;
}

void cpu_bf16_free(cpu_ctx *c) {
    struct cpu_bf16 *b = c->bf;
    if (!b) return;
    for (int t = 0; t < b->threads; t++) {
        if (b->st && b->st[t]) dnnl_stream_destroy(b->st[t]);
        if (b->buf) free(b->buf[t]);
        if (b->dense) free(b->dense[t]);
    }
    for (int i = 0; i < 2; i++)
        if (b->mm[i]) dnnl_primitive_destroy(b->mm[i]);
    for (size_t i = 0; b->shapes && i < (size_t)b->threads * NSHAPES; i++)
        if (b->shapes[i].p) dnnl_primitive_destroy(b->shapes[i].p);
    free(b->shapes);
    free(b->next);
    if (b->eng) dnnl_engine_destroy(b->eng);
    free(b->st);
    free(b->buf);
    free(b->cap);
    free(b->dense);
    free(b->dcap);
    free(b->fail);
    free(b);
    c->bf = NULL;
}

/* oneDNN's name for the ISA it will use */
static const char *isa_name(dnnl_cpu_isa_t isa) {
    switch ((int)isa) {
    case dnnl_cpu_isa_sse41: return "SSE4.1";
    case dnnl_cpu_isa_avx: return "AVX";
    case dnnl_cpu_isa_avx2: return "AVX2";
    case dnnl_cpu_isa_avx2_vnni: return "AVX2 with VNNI";
    case dnnl_cpu_isa_avx512_core: return "AVX-512";
    case dnnl_cpu_isa_avx512_core_vnni: return "AVX-512 with VNNI";
    default: return "no AVX-512 bf16";
    }
}

static int bf16_open(cpu_ctx *c, fn_err *e) {
    const dnnl_cpu_isa_t isa = dnnl_get_effective_cpu_isa();
    if (((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_bf16) != (unsigned)dnnl_cpu_isa_avx512_core_bf16) {
        const char *cap = getenv("ONEDNN_MAX_CPU_ISA");
        if (!cap || !*cap) cap = getenv("DNNL_MAX_CPU_ISA");
        return fn_seterr(e, "--precision bf16 needs a CPU with bf16 instructions (AVX512_BF16 or AMX); oneDNN "
                            "finds %s%s%s%s; use --precision fp32", isa_name(isa), cap && *cap ? " (limited by " : "",
                         cap && *cap ? cap : "", cap && *cap ? ")" : "");
    }
    struct cpu_bf16 *b = calloc(1, sizeof *b);
    if (!b) return fn_seterr(e, "out of memory");
    c->bf = b;
    c->amx = ((unsigned)isa & (unsigned)dnnl_cpu_isa_avx512_core_amx) == (unsigned)dnnl_cpu_isa_avx512_core_amx;
    b->threads = c->threads;
    b->hw = cpu_has_bf16cvt();
    b->st = calloc((size_t)c->threads, sizeof *b->st);
    b->buf = calloc((size_t)c->threads, sizeof *b->buf);
    b->cap = calloc((size_t)c->threads, sizeof *b->cap);
    b->fail = calloc((size_t)c->threads, sizeof *b->fail);
    b->shapes = calloc((size_t)c->threads * NSHAPES, sizeof *b->shapes);
    b->next = calloc((size_t)c->threads, sizeof *b->next);
    b->dense = calloc((size_t)c->threads, sizeof *b->dense);
    b->dcap = calloc((size_t)c->threads, sizeof *b->dcap);
    if (!b->st || !b->buf || !b->cap || !b->fail || !b->shapes || !b->next || !b->dense || !b->dcap) {
        cpu_bf16_free(c);
        return fn_seterr(e, "out of memory");
    }
    if (dnnl_engine_create(&b->eng, dnnl_cpu, 0)) {
        cpu_bf16_free(c);
        return fn_seterr(e, "--precision bf16: oneDNN has no CPU engine");
    }
    for (int t = 0; t < c->threads; t++)
        if (dnnl_stream_create(&b->st[t], b->eng, dnnl_stream_default_flags)) {
            cpu_bf16_free(c);
            return fn_seterr(e, "--precision bf16: oneDNN cannot make a stream");
        }
    b->mm[0] = make_matmul(b->eng, 0, 0, 0, 0, 0);
    b->mm[1] = make_matmul(b->eng, 1, 0, 0, 0, 0);
    if (!b->mm[0] || !b->mm[1]) {
        cpu_bf16_free(c);
        return fn_seterr(e, "--precision bf16: this oneDNN has no bf16 matrix product for this CPU (%s)",
                         isa_name(isa));
    }
    return 0;
}

int cpu_bf16_failed(cpu_ctx *c) {
    int f = 0;
    if (c->bf)
        for (int t = 0; t < c->bf->threads; t++) f |= c->bf->fail[t], c->bf->fail[t] = 0;
    return f;
}

/* *p grown to at least n bytes (contents not kept); NULL when out of memory */
static void *grown(void **p, size_t *cap, size_t n) {
    if (*cap < n) {
        free(*p);
        *cap = 0;
        if (!(*p = malloc(n))) return NULL;
        *cap = n;
    }
    return *p;
}

/* a 2-D memory [rows, cols] with the strides (srow, scol) over p */
static dnnl_memory_t mem2(dnnl_engine_t eng, dnnl_data_type_t dt, int rows, int cols, long srow, long scol,
                          void *p) {
    dnnl_dims_t d = { rows, cols }, s = { srow, scol };
    dnnl_memory_desc_t md;
    dnnl_memory_t m = NULL;
    if (dnnl_memory_desc_init_by_strides(&md, 2, d, dt, s) || dnnl_memory_create(&m, &md, eng, p)) return NULL;
    return m;
}

void cpu_gemm_bf16(const cpu_ctx *c, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc) {
    struct cpu_bf16 *b = c->bf;
    const int tid = omp_get_thread_num();
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha != 1.0f || (beta != 0.0f && beta != 1.0f) || tid >= b->threads) { /* cpu_sgemm's to check */
        b->fail[tid < b->threads ? tid : 0] = 1;
        return;
    }
    const size_t na = (size_t)M * K;
    uint16_t *a16 = grown(&b->buf[tid], &b->cap[tid], (na + (size_t)K * N) * sizeof(uint16_t));
    /* C with gaps between its rows (ldc > N: a tile of an image's rows, the 1x1 convolutions): oneDNN 2.6
     * has no brgemm kernel for a strided dst and takes its JIT GEMM, 2x to 4x slower on AMX; the product
     * goes to a dense C [M,N] of this thread, then into C (added: the sum post-op's one addition) */
    float *Cd = ldc != N ? grown(&b->dense[tid], &b->dcap[tid], (size_t)M * N * sizeof(float)) : C;
    const int ldd = ldc != N ? N : ldc, accd = ldc != N ? 0 : beta != 0.0f;
    if (!a16 || !Cd) {
        b->fail[tid] = 1;
        return;
    }
    uint16_t *b16 = a16 + na;
    round_into(b, A, lda, ta, M, K, a16); /* a16 [M,K] */
    round_into(b, B, ldb, tb, K, N, b16); /* b16 [K,N] */
    if (omp_get_max_threads() != 1) omp_set_num_threads(1); /* this thread's setting, as sgemm.c */
    dnnl_memory_t ma = mem2(b->eng, dnnl_bf16, M, K, K, 1, a16);
    dnnl_memory_t mb = mem2(b->eng, dnnl_bf16, K, N, N, 1, b16);
    dnnl_memory_t mc = mem2(b->eng, dnnl_f32, M, N, ldd, 1, Cd);
    dnnl_primitive_t p = ma && mb && mc ? shaped(b, tid, M, N, K, ldd, accd) : NULL;
    if (p) {
        dnnl_exec_arg_t args[3] = { { DNNL_ARG_SRC, ma }, { DNNL_ARG_WEIGHTS, mb }, { DNNL_ARG_DST, mc } };
        if (dnnl_primitive_execute(p, b->st[tid], 3, args)) b->fail[tid] = 1;
        else if (Cd != C) add_rows(Cd, M, N, beta != 0.0f, C, ldc);
    } else {
        b->fail[tid] = 1;
    }
    if (ma) dnnl_memory_destroy(ma);
    if (mb) dnnl_memory_destroy(mb);
    if (mc) dnnl_memory_destroy(mc);
}
#else
void cpu_bf16_free(cpu_ctx *c) { (void)c; }
int cpu_bf16_failed(cpu_ctx *c) { return 0; }
static int bf16_open(cpu_ctx *c, fn_err *e) {
    return fn_seterr(e, "--precision bf16 needs oneDNN, and this fn was built without it (DNNL=0)");
}
void cpu_gemm_bf16(const cpu_ctx *c, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                   const float *B, int ldb, float beta, float *C, int ldc) {} /* never called: no bf16 without oneDNN */
#endif

int cpu_set_precision(void *ctx, int precision, fn_err *e) {
    cpu_ctx *c = ctx;
    if (precision == FN_PREC_FP32) {
        c->prec = FN_PREC_FP32;
        return 0;
    }
    if (precision != FN_PREC_BF16) {
        const char *n = fn_precision_name(precision);
        return fn_seterr(e, "--precision %s is not available on the CPU (fp32 or bf16)", n ? n : "?");
    }
    if (!c->bf && bf16_open(c, e)) return -1;
    c->prec = FN_PREC_BF16;
    cpu_kcache_drop(c); /* the kept Winograd kernels are of no use to the direct method */
    return 0;
}
