/* Layer lib/cpu: the CPU backend; uses backend/ and the folders below it.
 * The layers, each using only those before it: base < data < imgproc, eval < backend < cpu, nn, cuda/
 *   < train < mpi/ < cmd/ (folders of one rank never include each other; README "Layout", tests/layout.py). */
/* cpu.h: the CPU backend's private header (lib/cpu/ only; the graph sees lib/backend/backend.h).
 *
 * Device pointers are host pointers. Every op runs on ctx->threads OpenMP threads; the SGEMMs (cpu_sgemm:
 * oneDNN's or OpenBLAS's) are kept single-threaded (openblas_set_num_threads(1); oneDNN limited to the
 * calling thread) and called from inside our parallel regions on disjoint tiles, which avoids
 * oversubscribing the cores with several thread pools.
 *
 * Determinism: every reduction has a fixed partition of work and a fixed summation order, so two runs
 * with the same thread count give bitwise identical results. Most ops (all but the convolutions, whose
 * blocks of work follow the thread count) are even independent of the thread count.
 *
 * The context is not safe for concurrent calls from several threads (it owns the workspaces). */
#ifndef FN_CPU_H
#define FN_CPU_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include "backend/backend.h"

/* Run-time dispatch of the hot loops fn writes itself. The Winograd transforms and their row helpers
 * (winograd_f43.c, winograd_f32.c, winograd_rows.c) are compiled three times, once per vector ISA level
 * (enum cpu_isa: the Makefile's CPU_ISA_SRC, built with -DCPU_ISA=1 -mavx2 and -DCPU_ISA=2 -mavx512f
 * besides the plain x86-64 build), each copy's names suffixed by CPU_ISA_SYM; each context picks one
 * level when it is made (cpu_isa_pick: the CPU's best, capped by FN_CPU_ISA or ONEDNN_MAX_CPU_ISA, so
 * ONEDNN_MAX_CPU_ISA=AVX2 puts the whole backend on its AVX2 path). One binary for every x86-64, no
 * -march, no state outside the context. Within one level the results are the same bits, run after
 * run, and the same bits as the x86-64 code: these loops are elementwise and C11 mode keeps fp-contract
 * off, so no copy fuses a multiply and an add. The blocked sums (sum.c) have one copy: their omp simd
 * reductions would sum in another order on wider vectors. The channels-last sums per channel (chsum.c:
 * squeeze-excitation's pooling, the training batch norm and the convolution's bias gradient) spell that
 * copy's order out (4 lanes, CPU_SUM_LANES), so that they keep it at every level.
 * The rounding to bf16 (bf16.c), which runs only on CPUs with AVX512_BF16, is one function with GCC's
 * target_clones (CPU_CLONES), picked by the dynamic loader. */
enum cpu_isa { CPU_ISA_X86_64 = 0, CPU_ISA_AVX2 = 1, CPU_ISA_AVX512 = 2 };
#ifndef CPU_ISA
#define CPU_ISA 0 /* the level this file is compiled for (the Makefile sets it for CPU_ISA_SRC) */
#endif
#if CPU_ISA == 2
#define CPU_ISA_SYM(name) name##_avx512
#elif CPU_ISA == 1
#define CPU_ISA_SYM(name) name##_avx2
#else
#define CPU_ISA_SYM(name) name##_x86_64
#endif
/* the best level this CPU runs, capped by the environment: FN_CPU_ISA=x86-64|avx2|avx512 (fn's own
 * loops), else ONEDNN_MAX_CPU_ISA (AVX2 and below cap fn's loops too); unknown values do not cap */
int cpu_isa_pick(void);
const char *cpu_isa_name(int isa); /* "x86-64", "AVX2", "AVX-512" */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CPU_CLONES __attribute__((target_clones("default", "avx2", "avx512f")))
#else
#define CPU_CLONES
#endif

typedef struct cpu_ctx {
    int threads;       /* OpenMP threads for every op */
    float **ws;        /* [threads] per-thread workspace (im2col tiles, copies) */
    size_t *ws_cap;    /* [threads] floats allocated in ws[t] */
    float *part;       /* [threads * Co*K] conv_bwd_filter partial sums */
    float *epi;        /* [2 * Co] conv_bn_fwd_infer's scale and shift */
    size_t epi_cap;
    float *epi2;       /* [2 * C2] conv_bn_conv_fwd_infer's second batch norm's */
    size_t epi2_cap;
    float *pro;        /* [2 * Ci] conv_bwd_bn's scale and shift */
    size_t pro_cap;
    float *lay;        /* conv.c: a channels-last convolution's operands in NCHW, where no primitive takes it */
    size_t lay_cap;
    float *remade;     /* conv_bwd_bn's input where it is made whole (nothing lays it out or gathers it), or
                        * bn_relu_bwd's masked gradient under sync-BN */
    size_t remade_cap;
    long remade_n;     /* conv_bwd_bn calls that made it whole (the tests) */
    size_t part_cap;
    float *wino;       /* winograd.c: transformed kernels, or backward-filter partial sums */
    size_t wino_cap;
    int isa;           /* enum cpu_isa of the Winograd transforms (cpu_isa_pick) */
    int winograd;      /* 3x3 and 2x2 stride-1 convolutions by Winograd: 0 never (FN_CPU_CONV=im2col),
                        * 1 where it pays, but not in training forwards (the default),
                        * 2 always (FN_CPU_CONV=winograd) */
    int training;      /* set_training: the forwards that follow are training ones */
    int nhwc;          /* set_nhwc: the ops that follow take and give NHWC activations (backend.h) */
    size_t oom;        /* bytes of workspace that could not be had since the last error() (0: none) */
    char msg[96];      /* error()'s message */
    int gemm;          /* cpu_sgemm: 0 each kind its faster library, 1 oneDNN only, 2 OpenBLAS only */
    int prec;          /* set_precision (bf16.c): FN_PREC_FP32, or FN_PREC_BF16 (the products in bf16 by
                        * cpu_gemm_bf16, and every convolution by the direct method: no Winograd) */
    int dnnconv;       /* bf16 convolutions by oneDNN's convolution primitive (dnnconv.c): 0 never
                        * (FN_CPU_BF16=matmul), 1 where it measured faster (conv.c use_dnn), 2 always (=conv) */
    int amx;           /* bf16.c: oneDNN runs AMX kernels (where the primitive measured faster on every pass) */
    struct cpu_dnn *dnn; /* dnnconv.c: its engine, primitives and buffers (NULL: none yet) */
    long dnn_runs;     /* primitive calls run by dnnconv.c (the tests' count) */
    int dnn_layout;    /* 1: layout.c changes the layouts of dnnconv.c's operands; 0: oneDNN's reorders */
    long dnn_moved;    /* operands whose layout layout.c changed (the tests' count) */
    long dnn_shared;   /* of them, backward-data calls that took backward-filter's dy (cpu_dnn_bwd) */
    long dnn_unshared; /* cpu_dnn_bwd calls declined as the two passes' primitives take dy in different layouts */
    long dnn_chained;  /* calls of two convolutions with no NCHW tensor between them (cpu_dnn_fwd2) */
    long dnn_units;    /* of them, residual units: a shortcut convolution of the same source added (cpu_dnn_fwd2) */
    long dnn_ups;      /* convolutions of an upsampling laid out as it was upsampled (cpu_dnn_up_fwd) */
    long dnn_sums;     /* of the units, channels-last ones whose second convolution added its result to the
                        * shortcut's (the primitive's sum post-op) */
    long dnn_postops;  /* channels-last chained calls whose first primitive applied the batch norm and wrote
                        * bf16 (its post-ops) */
    long dnn_cats;     /* residual units' calls whose input was laid out from a concatenation's parts, and
                          convolutions' (cpu_dnn_cat_fwd) */
    int dnn_flip;      /* 1: a stride-1 backward-data pass by oneDNN's forward primitive of the kernels flipped
                        * (dnnconv.c); 0: by its backward-data primitive */
    long dnn_flipped;  /* backward-data calls run so (the tests' count) */
    long dnn_fwd_pro;  /* training forwards whose source the primitive took through a batch norm prologue
                        * (conv_bn_fwd_train), the norm's output never made */
    int keep_bf16;     /* FN_CPU_KEEP=bf16: training plans keep their values for the backward in bf16
                          (backend.h keep_bf16), in bf16 precision */
    size_t dnn_chunk;  /* dnnconv.c: bytes of a tensor's images per primitive call (CPU_DNN_CHUNK) */
    struct cpu_bf16 *bf; /* bf16.c: oneDNN's engine, primitives, per-thread streams and buffers (NULL: none) */
    fn_bn_sync bn_sync; /* set_bn_sync (norm_sync.c): sum NULL when off */
    /* kcache.c: the frozen parameters (params_frozen) and the Winograd kernels kept for them */
    const float *frozen;
    size_t frozen_n;
    uint64_t frozen_version;
    struct cpu_kern *kern;
    int nkern, kern_capn;
    size_t kern_floats, kern_max; /* floats kept, and the most that may be (FN_CPU_KCACHE_MB) */
} cpu_ctx;

/* C [M,N] = alpha op(A) op(B) + beta C, row-major, single-threaded (called inside parallel regions),
 * by the library lib: 0 the one that measured faster for the kind of product, 1 oneDNN, 2 OpenBLAS */
void cpu_sgemm_by(int lib, int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc);
/* the same by the context's choice (FN_CPU_GEMM) */
void cpu_sgemm(const struct cpu_ctx *c, int ta, int tb, int M, int N, int K, float alpha, const float *A,
               int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* bf16.c: set_precision; the product C = alpha op(A) op(B) + beta C with A and B rounded to bf16 and fp32
 * accumulation (alpha 1, beta 0 or 1, K > 0: cpu_sgemm sends only those, the others to cpu_sgemm_by), on
 * the calling thread;
 * cpu_bf16_failed: whether a bf16 buffer could not be had since the last call (the product skipped) */
int cpu_set_precision(void *ctx, int precision, fn_err *e);
void cpu_gemm_bf16(const struct cpu_ctx *c, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc);
int cpu_bf16_failed(cpu_ctx *c);
void cpu_bf16_free(cpu_ctx *c);
/* f rounded to bf16 (its upper 16 bits), to nearest, ties to even; a NaN stays a (quiet) NaN; a denormal
 * becomes a zero of its sign. That is what the CPUs' own conversion (AVX512_BF16's vcvtneps2bf16, which
 * treats denormal inputs as zero) and so oneDNN's reorders give, bit for bit: layout.c and bf16.c use the
 * instruction where the CPU has it, this elsewhere, with the same bits. */
static inline uint16_t cpu_bf16_round(float f) {
    union { float f; uint32_t u; } v = { f };
    const uint32_t r = (v.u + 0x7fffu + ((v.u >> 16) & 1u)) >> 16;
    if ((v.u & 0x7f800000u) == 0) return (uint16_t)((v.u >> 16) & 0x8000u);
    return (uint16_t)((v.u & 0x7fffffffu) > 0x7f800000u ? (v.u >> 16) | 0x40u : r);
}
/* the CPU has AVX512_BF16's conversions (layout.c, bf16.c take them then) */
static inline int cpu_has_bf16cvt(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16");
#else
    return 0;
#endif
}
static inline float cpu_bf16_float(uint16_t h) {
    union { uint32_t u; float f; } v = { (uint32_t)h << 16 };
    return v.f;
}

/* Workspaces are had before an op's parallel region: when one cannot be, the op records it in c->oom
 * and returns without computing, and the graph reports it through error(). */
/* *buf grown to at least n floats (64-byte aligned, contents not kept); NULL (and c->oom set) when
 * out of memory */
float *cpu_grow(cpu_ctx *c, float **buf, size_t *cap, size_t n);
/* every thread's workspace grown to at least n floats: 0, or -1 when out of memory */
int cpu_reserve(cpu_ctx *c, size_t n);

/* the default thread count (cpus.c): OMP_NUM_THREADS, else the CPUs of the affinity mask, capped by
 * the cgroup's CPU quota (cgroup v2 cpu.max, v1 cpu.cfs_quota_us / cpu.cfs_period_us), rounded up:
 * a container allowed 2 CPUs of a 64-core host starts 2 threads, not 64 */
int fn_cpu_count(void);
/* [lo, hi) = share t of nt of [0, n): a fixed contiguous part, so that sums do not depend on timing */
static inline void cpu_share(int n, int t, int nt, int *lo, int *hi) {
    *lo = (int)((long)n * t / nt), *hi = (int)((long)n * (t + 1) / nt);
}

/* the workspace of thread tid (cpu_reserve'd) */
static inline float *cpu_ws(cpu_ctx *c, int tid) { return c->ws[tid]; }

/* sum of n floats: float lanes over fixed blocks, the blocks summed in double (deterministic; the order
 * below, CPU_SUM_LANES) */
double cpu_sum(const float *x, size_t n);
/* sum of a[i]*b[i], the same way */
double cpu_dot(const float *a, const float *b, size_t n);
/* *acc += each block's float sum of (x[i] - mu)^2 (a variance's), of dy[i]*(x[i] - mu) (batch norm's
 * backward), in order: norm.c's flat sums over a channel's planes */
void cpu_acc_dev2(double *acc, const float *x, size_t n, float mu);
void cpu_acc_dyx(double *acc, const float *dy, const float *x, size_t n, float mu);

/* cpu_sum's order (sum.c), which the loops that sum in another layout keep (chsum.c's channels-last sums):
 * the order in which GCC had vectorised sum.c's and norm.c's omp simd reductions for x86-64 at -O2 (SSE2, 4
 * lanes; established by objdump) before sum.c spelled it out. The values in blocks of CPU_SUM_BLOCK; in
 * a block of m values, CPU_SUM_LANES float lanes from 0, lane j adding the values i < q (q = m rounded
 * down to a multiple of CPU_SUM_LANES) with i % CPU_SUM_LANES == j, in increasing i, then lane 0 the
 * values from q on; the lanes combined by cpu_sum_lanes; the blocks' floats added in order to a double
 * from 0. */
#define CPU_SUM_BLOCK 4096
#define CPU_SUM_LANES 4
static inline float cpu_sum_lanes(float l0, float l1, float l2, float l3) {
    return (((l0 + 0.0f) + l1) + l2) + l3;
}
/* the blocks of n values */
static inline int cpu_sum_blocks(int n) { return (n + CPU_SUM_BLOCK - 1) / CPU_SUM_BLOCK; }

/* e^x for x in [-87, 88] (the caller clamps) with a Cephes polynomial, about 1 ulp; NaN stays NaN.
 * Written to vectorize under omp simd (no branches). */
static inline float cpu_expf(float x) {
    const float t = x * 1.44269504088896341f + 12582912.0f; /* 1.5 * 2^23: rounds x/ln2 to an integer */
    const float n = t - 12582912.0f;
    union { float f; uint32_t u; } ti = {t}, sc;
    float r = x - n * 0.693359375f; /* ln 2 in two parts */
    r = r + n * 2.12194440e-4f;
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    p = p * r * r + r + 1.0f;
    sc.u = (ti.u - 0x4B400000u + 127u) << 23; /* 2^n (unsigned: NaN bits wrap, no UB) */
    return p * sc.f;
}

/* one normalised value: x*scale + shift, then ReLU when relu (t > 0 ? t : 0: NaN and -0 to 0) */
static inline float cpu_bn_value(float x, float scale, float shift, int relu) {
    const float t = x * scale + shift;
    return relu ? (t > 0 ? t : 0.0f) : t;
}

/* one plane of a normalised output: y = x*scale + shift, then ReLU when relu (y may be x) */
static inline void cpu_bn_plane(const float *xp, float *yp, int HW, float scale, float shift, int relu) {
    if (relu) { /* relu a constant in each loop */
#pragma omp simd
        for (int i = 0; i < HW; i++) yp[i] = cpu_bn_value(xp[i], scale, shift, 1);
    } else {
#pragma omp simd
        for (int i = 0; i < HW; i++) yp[i] = cpu_bn_value(xp[i], scale, shift, 0);
    }
}

/* the training batch norm of channel ch as y = x*scale + shift from the mean and invstd it saved: the
 * same bits as its forward (norm.c, norm_sync.c) */
static inline void cpu_bn_saved_coef(const float *gamma, const float *beta, const float *mean, const float *invstd,
                                     int ch, float *scale, float *shift) {
    *scale = gamma[ch] * invstd[ch];
    *shift = beta[ch] - mean[ch] * *scale;
}

/* the inference batch norm of channel ch as y = x*scale + shift */
static inline void cpu_bn_coef(const float *gamma, const float *beta, const float *rmean, const float *rvar,
                               float eps, int ch, float *scale, float *shift) {
    *scale = (float)(gamma[ch] / sqrt((double)rvar[ch] + eps));
    *shift = beta[ch] - rmean[ch] * *scale;
}

/* a convolution's epilogue, applied to each output channel co as it is stored (cpu_epi_plane): through
 * cpu_bn_plane(scale[co], shift[co], relu) (conv_bn_fwd_infer), or, when add, added to the addend z of
 * the output's shape at the same place, z = the output's address + zoff bytes (conv_add_fwd_infer) */
typedef struct cpu_epi {
    const float *scale, *shift;
    int relu;
    int add;        /* 0: the batch norm (and ReLU); 1: + z instead; 2: the batch norm (and ReLU), then + z */
    ptrdiff_t zoff; /* add: the addend z's values lie zoff bytes from the output's (cpu_epi_z) */
} cpu_epi;

/* the addend of the epilogue's output at dst */
static inline const float *cpu_epi_z(const cpu_epi *e, const float *dst) {
    return (const float *)((const char *)dst + e->zoff);
}

/* the epilogue of output channel co: dst[0, n) from the convolution's src (may be dst) */
static inline void cpu_epi_plane(const cpu_epi *e, const float *src, float *dst, int n, int co) {
    if (e->add == 1) {
        const float *z = cpu_epi_z(e, dst);
#pragma omp simd
        for (int i = 0; i < n; i++) dst[i] = src[i] + z[i];
    } else if (e->add) {
        const float *z = cpu_epi_z(e, dst);
        const float sc = e->scale[co], sh = e->shift[co];
#pragma omp simd
        for (int i = 0; i < n; i++) dst[i] = cpu_bn_value(src[i], sc, sh, e->relu) + z[i];
    } else {
        cpu_bn_plane(src, dst, n, e->scale[co], e->shift[co], e->relu);
    }
}

/* dst [N, C, HW] = src through the epilogue (or a prologue) epi, plane by plane; dst may be src */
static inline void cpu_epi_pass(const cpu_ctx *c, const cpu_epi *epi, const float *src, float *dst, int N, int C,
                                size_t HW) {
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (int i = 0; i < N * C; i++)
        cpu_epi_plane(epi, src + (size_t)i * HW, dst + (size_t)i * HW, (int)HW, i % C);
}

/* conv.c */
void cpu_conv_fwd(void *ctx, const float *x, const float *w, const float *b, float *y,
                  int N, int Ci, int H, int W, int Co, int k, int s);
void cpu_conv_bn_add_fwd_infer(void *ctx, const float *x, const float *w, const float *b, const float *z, float *y,
                               int N, int Ci, int H, int W, int Co, int k, int s, const float *gamma,
                               const float *beta, const float *rmean, const float *rvar, float eps, int relu);
void cpu_cat_conv_bn_fwd_infer(void *ctx, const float *x, const float *x2, int Ci2, float *u, const float *w,
                               const float *b, float *y, int N, int Ci, int H, int W, int Co, int k, int s,
                               const float *gamma, const float *beta, const float *rmean, const float *rvar, float eps,
                               int relu);
void cpu_conv_bn_fwd_infer(void *ctx, const float *x, const float *w, const float *b, float *y,
                           int N, int Ci, int H, int W, int Co, int k, int s, const float *gamma,
                           const float *beta, const float *rmean, const float *rvar, float eps, int relu);
int cpu_resid_pays(void *ctx); /* conv.c: in bf16 (fp32's add is a small share of its time) */
void cpu_conv_add_fwd_infer(void *ctx, const float *x, const float *w, const float *b, const float *z, float *y,
                            int N, int Ci, int H, int W, int Co, int k, int s);
void cpu_conv_bn_conv_fwd_infer(void *ctx, const float *x, const float *w1, const float *b1, float *y1, int N,
                                int Ci, int H, int W, int C1, int k1, int s1, const float *gamma, const float *beta,
                                const float *rmean, const float *rvar, float eps, int relu, const float *w2,
                                const float *b2, float *y2, int C2, int k2, int s2, const fn_bn_infer *bn2);
void cpu_unit_fwd_infer(void *ctx, const fn_unit *u, int N, int Ci, int H, int W);
void cpu_up_conv_fwd_infer(void *ctx, const float *x, float *u, const float *w, const float *b, float *y, int N,
                           int Ci, int H, int W, int Co, int k, int s);
void cpu_conv_bwd_data(void *ctx, const float *dy, const float *w, float *dx,
                       int N, int Ci, int H, int W, int Co, int k, int s, int acc);
void cpu_conv_bwd_filter(void *ctx, const float *x, const float *dy, float *dw,
                         int N, int Ci, int H, int W, int Co, int k, int s);
void cpu_conv_bwd(void *ctx, const float *x, const float *dy, const float *w, float *dw, float *dx,
                  int N, int Ci, int H, int W, int Co, int k, int s, int acc);
void cpu_conv_bwd_bias(void *ctx, const float *dy, float *db, int N, int Co, int HWo);

/* kcache.c: the transformed kernels U [n floats] of the convolution w [Co, Ci, k, k] in an inference
 * forward. Returns the kept ones (*fresh = 0), or room kept for them that the caller fills (*fresh = 1),
 * or NULL when w is not in the frozen parameters, in training, or over the budget (compute them into a
 * workspace as before). tag: 0 for Winograd transforms, else what dnnconv.c keeps (its layout). */
float *cpu_kcache_get(cpu_ctx *c, const float *w, int Co, int Ci, int k, size_t n, uint64_t tag, int *fresh);
void cpu_kcache_forget(cpu_ctx *c, const void *U); /* drop the kept U that could not be filled */
void cpu_params_frozen(void *ctx, const float *p, size_t n, uint64_t version);
/* the kernels [w, w + len) are those of an inference forward on frozen parameters, which kcache keeps */
int cpu_kcache_covers(const cpu_ctx *c, const float *w, size_t len);
void cpu_kcache_drop(cpu_ctx *c); /* forget the frozen parameters and what was kept of them */

/* dnnconv.c: a convolution pass by one oneDNN convolution primitive (the contracts of the conv_* ops),
 * called from the serial context; 0, or -1 when it has no optimised kernel for it or a buffer could not
 * be had (nothing written: conv.c's path runs it). The pass kinds of c->dnnconv: */
enum { CPU_DNN_FWD_INFER, CPU_DNN_FWD_TRAIN, CPU_DNN_BWD_DATA, CPU_DNN_BWD_FILTER };
#define CPU_DNN_FWD CPU_DNN_FWD_INFER
#define CPU_DNN_CHUNK ((size_t)8 << 20) /* the forward, inference or training (c->training) */
int cpu_dnn_fwd(cpu_ctx *c, const float *x, const float *w, const float *b, float *y, int N, int Ci, int H, int W,
                int Co, int k, int s, const cpu_epi *epi);
/* a residual unit's shortcut: a convolution of the unit's input x, w [C2,Ci,k,k], b [C2] or NULL (w NULL:
 * x itself), whose output is added to the unit's second convolution's into y [N,C2,H2,W2]; the unit's
 * input's second part: x2 [N,Ci2,H,W] concatenated to x along channels (NULL, 0: none; Ci counts both);
 * and a batch norm (and ReLU) that the first convolution's input goes through, as a prologue (NULL: none) */
typedef struct cpu_shortcut {
    const float *w, *b;
    int k, s;
    float *y;
    const float *x2;
    int Ci2;
    void *xc; /* with x2: the concatenation's storage [N,Ci,H,W], where its parts are laid out in bf16 for
                 every call before the first (the output may then overlap them) */
    const cpu_epi *pre;
} cpu_shortcut;
/* y2 = [epi2](conv2(epi(conv1(x)))), the inference forwards of two convolutions in a row, with no NCHW
 * tensor between them (conv_bn_conv_fwd_infer); with a shortcut sc (NULL: none), sc->y = conv2(..) +
 * conv3(x) instead, y2 not written (unit_fwd_infer) */
int cpu_dnn_fwd2(cpu_ctx *c, const float *x, const float *w1, const float *b1, int N, int Ci, int H, int W, int C1,
                 int k1, int s1, const cpu_epi *epi, const float *w2, const float *b2, float *y2, int C2, int k2,
                 int s2, const cpu_epi *epi2, const cpu_shortcut *sc);
/* y = conv(up2(x)), an inference forward of x [N,Ci,h,w] upsampled 2x (nearest), the upsampled tensor
 * laid out for the primitive as it is made (cpu_nhwc_up_bf16), never in NCHW (up_conv_fwd_infer) */
int cpu_dnn_up_fwd(cpu_ctx *c, const float *x, const float *w, const float *b, float *y, int N, int Ci, int h,
                   int wd, int Co, int k, int s);
/* y = epi(conv([xa, xb])), an inference forward of the concatenation of xa [N,Ca,H,W] and xb [N,Cb,H,W]
 * along channels, laid out for the primitive from its two parts, never made in fp32: every image in bf16
 * in u [N,Ca+Cb,H,W] (the concatenation's storage) before the first call, so y may overlap xa and xb
 * (cat_conv_bn_fwd_infer) */
int cpu_dnn_cat_fwd(cpu_ctx *c, const float *xa, int Ca, const float *xb, int Cb, float *u, const float *w,
                    const float *b, float *y, int N, int H, int W, int Co, int k, int s, const cpu_epi *epi);
int cpu_dnn_bwd_data(cpu_ctx *c, const float *dy, const float *w, float *dx, int N, int Ci, int H, int W, int Co,
                     int k, int s, int acc);
/* pro (NULL: none): x's values through it as they are laid out (conv_bwd_bn); -1 where the pass's layout
 * of x is not layout.c's */
int cpu_dnn_bwd_filter(cpu_ctx *c, const float *x, const float *dy, float *dw, int N, int Ci, int H, int W, int Co,
                       int k, int s, const cpu_epi *pro);
/* a forward (training or inference) of x through the prologue pro as it is laid out (conv_bn_fwd_train);
 * -1 where the pass's layout of x is not layout.c's */
int cpu_dnn_fwd_pro(cpu_ctx *c, const float *x, const float *w, const float *b, float *y, int N, int Ci, int H, int W,
                    int Co, int k, int s, const cpu_epi *pro);
/* both backward passes (conv_bwd), dy rounded and laid out once for the two */
int cpu_dnn_bwd(cpu_ctx *c, const float *x, const float *dy, const float *w, float *dw, float *dx, int N, int Ci,
                int H, int W, int Co, int k, int s, int acc, const cpu_epi *pro);
void cpu_dnn_free(cpu_ctx *c);

/* winograd.c: k 3 or 2, stride 1 (Ho = H, Wo = W); the same contracts as the conv_* ops */
void cpu_wino_fwd(cpu_ctx *c, const float *x, const float *w, const float *b, float *y,
                  int N, int Ci, int H, int W, int Co, int k, const cpu_epi *epi);
void cpu_wino_bwd_data(cpu_ctx *c, const float *dy, const float *w, float *dx,
                       int N, int Ci, int H, int W, int Co, int k, int acc);
/* backward-filter: x's values through the prologue pro (NULL: none; conv_bwd_bn) */
void cpu_wino_bwd_filter(cpu_ctx *c, const float *x, const cpu_epi *pro, const float *dy, float *dw,
                         int N, int Ci, int H, int W, int Co, int k);

/* norm.c */
/* the training batch norm's statistics of one channel (norm.c, norm_nhwc.c) from sum, the double sum of
 * its m values, and ss, the double sum of their squared deviations from the float mean (float)(sum / m):
 * the mean and invstd it saves, its running mean and variance updated by momentum, and its output
 * y = x*scale + shift */
static inline void cpu_bn_train_coef(double sum, double ss, double m, float eps, float momentum, float gamma,
                                     float beta, float *mean, float *invstd, float *rmean, float *rvar,
                                     float *scale, float *shift) {
    const double mu = sum / m;
    const float muf = (float)mu;
    /* the deviations were taken from the float mean: correct for its rounding */
    const double var = ss / m - (mu - muf) * (mu - muf);
    const double is = 1.0 / sqrt(var + eps);
    *mean = muf;
    *invstd = (float)is;
    *scale = gamma * (float)is;
    *shift = beta - muf * *scale;
    const double unbiased = m > 1 ? var * m / (m - 1) : var;
    *rmean = (float)((1.0 - momentum) * *rmean + momentum * mu);
    *rvar = (float)((1.0 - momentum) * *rvar + momentum * unbiased);
}

/* the batch norm backward's terms of one channel (norm.c, norm_sync.c, norm_nhwc.c) from sdy = sum dy and
 * sdyx = sum dy*(x - mean) over its m values: dx = a*dy + bb*(x - mean) + cst (cpu_bn_dx) */
static inline void cpu_bn_bwd_coef(double sdy, double sdyx, double m, float gamma, float is, float *a, float *bb,
                                   float *cst) {
    *a = gamma * is;
    *bb = (float)(-(double)gamma * is * is * is * sdyx / m);
    *cst = (float)(-(double)gamma * is * sdy / m);
}

/* batch norm's input gradient of channel ch, given its per-channel terms (norm.c, norm_sync.c):
 * dx = a*dy + bb*(x - mu) + cst over the channel's planes of x, dx [N,C,HW] (= or += by acc), dy's plane
 * n at dy + n*dys */
static inline void cpu_bn_dx(const float *x, const float *dy, size_t dys, float *dx, int N, int C, int HW, int ch,
                             float mu, float a, float bb, float cst, int acc) {
    for (int n = 0; n < N; n++) {
        const float *xp = x + ((size_t)n * C + ch) * HW, *dp = dy + (size_t)n * dys;
        float *o = dx + ((size_t)n * C + ch) * HW;
        if (acc) {
#pragma omp simd
            for (int i = 0; i < HW; i++) o[i] += a * dp[i] + bb * (xp[i] - mu) + cst;
        } else {
#pragma omp simd
            for (int i = 0; i < HW; i++) o[i] = a * dp[i] + bb * (xp[i] - mu) + cst;
        }
    }
}

void cpu_bn_fwd_train(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                      float *mean, float *invstd, float *rmean, float *rvar,
                      int N, int C, int HW, float momentum, float eps);
void cpu_bn_fwd_infer(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                      const float *rmean, const float *rvar, int N, int C, int HW, float eps);
void cpu_bn_relu_fwd_train(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                           float *mean, float *invstd, float *rmean, float *rvar,
                           int N, int C, int HW, float momentum, float eps);
void cpu_bn_relu_fwd_infer(void *ctx, const float *x, const float *gamma, const float *beta, float *y,
                           const float *rmean, const float *rvar, int N, int C, int HW, float eps);
void cpu_bn_saved_coefs(const float *gamma, const float *beta, const float *mean, const float *invstd, int C,
                        float *sc);
/* an inference batch norm over C channels (and ReLU) as an epilogue or prologue: its scale and shift per
 * channel (cpu_bn_coef) in the context buffer *buf (capacity *cap); 0, or -1 when out of memory (c->oom set) */
int cpu_bn_infer_coefs(cpu_ctx *c, float **buf, size_t *cap, const float *gamma, const float *beta,
                       const float *rmean, const float *rvar, float eps, int C, int relu, cpu_epi *epi);
void cpu_bn_relu_bwd(void *ctx, const float *x, const float *dy, const float *gamma, const float *beta,
                     const float *mean, const float *invstd, float *dx, float *dgamma, float *dbeta, int N, int C,
                     int HW, int acc);
void cpu_conv_bwd_bn(void *ctx, const float *xb, const float *gamma, const float *beta, const float *mean,
                     const float *invstd, int relu, const float *dy, const float *w, float *dw, float *dx, int N,
                     int Ci, int H, int W, int Co, int k, int s, int acc);
int cpu_bn_fold_pays(void *ctx);
void cpu_conv_bn_fwd_train(void *ctx, const float *xb, const float *gamma, const float *beta, const float *mean,
                           const float *invstd, int relu, const float *w, const float *b, float *y, int N, int Ci,
                           int H, int W, int Co, int k, int s);
void cpu_bn_bwd(void *ctx, const float *x, const float *dy, const float *gamma,
                const float *mean, const float *invstd, float *dx, float *dgamma, float *dbeta,
                int N, int C, int HW, int acc);
/* norm_sync.c: the same with the statistics summed over replicas (c->bn_sync set) */
void cpu_bn_sync_init(fn_backend *be);
void cpu_bn_fwd_train_sync(cpu_ctx *c, const float *x, const float *gamma, const float *beta, float *y,
                           float *mean, float *invstd, float *rmean, float *rvar, int N, int C, int HW,
                           float momentum, float eps);
void cpu_bn_bwd_sync(cpu_ctx *c, const float *x, const float *dy, const float *gamma, const float *mean,
                     const float *invstd, float *dx, float *dgamma, float *dbeta, int N, int C, int HW, int acc);

/* The ops below are compiled once per vector ISA level (see "Run-time dispatch" above): each declared
 * three times by CPU_ISA_FN, and its plain name is the copy of the level being compiled (outside the
 * files of CPU_ISA_SRC: the x86-64 copy). cpu.c fills the backend's table with its context's level
 * (CPU_ISA_PICK). */
#define CPU_ISA_FN(ret, name, params) ret name##_x86_64 params; ret name##_avx2 params; ret name##_avx512 params
#define CPU_ISA_PICK(isa, name) \
    ((isa) == CPU_ISA_AVX512 ? name##_avx512 : (isa) == CPU_ISA_AVX2 ? name##_avx2 : name##_x86_64)

/* layout.c: NCHW f32 -> NHWC bf16 (through pro when not NULL: cpu_bn_value's arithmetic, then
 * cpu_bf16_round), and NHWC f32 -> NCHW f32 (= or += by acc, or = through
 * epi when epi is not NULL: cpu_bn_plane's arithmetic, or = x + x2 when x2, NHWC f32, is not NULL), for
 * N images of C channels of HW pixels; and
 * NHWC f32 -> NHWC bf16 through epi (NULL: none) then cpu_bf16_round, for P pixels of C channels. On
 * threads threads (called from the serial context). */
CPU_ISA_FN(void, cpu_nhwc_bf16, (const float *x, uint16_t *y, int N, int C, size_t HW, const cpu_epi *pro,
                                  int threads));
#define cpu_nhwc_bf16 CPU_ISA_SYM(cpu_nhwc_bf16)
/* the same of the concatenation along channels of x [N,C,HW] (through pro) and x2 [N,C2,HW] (NULL: none)
 * into y [N,HW,C+C2] */
CPU_ISA_FN(void, cpu_nhwc_cat_bf16, (const float *x, int C, const float *x2, int C2, uint16_t *y, int N, size_t HW,
                                      const cpu_epi *pro, int threads));
#define cpu_nhwc_cat_bf16 CPU_ISA_SYM(cpu_nhwc_cat_bf16)
CPU_ISA_FN(void, cpu_nchw_from, (const float *x, const float *x2, float *y, int N, int C, size_t HW, int acc,
                                  const cpu_epi *epi, int threads));
#define cpu_nchw_from CPU_ISA_SYM(cpu_nchw_from)
CPU_ISA_FN(void, cpu_nhwc_bn_bf16, (const float *x, uint16_t *y, size_t P, int C, const cpu_epi *epi, int threads));
#define cpu_nhwc_bn_bf16 CPU_ISA_SYM(cpu_nhwc_bn_bf16)
/* layout.c: x [N,C,h,w] f32 upsampled 2x (nearest) into y [N,2h,2w,C] bf16, rounded as cpu_bf16_round */
CPU_ISA_FN(void, cpu_nhwc_up_bf16, (const float *x, uint16_t *y, int N, int C, int h, int w, int threads));
#define cpu_nhwc_up_bf16 CPU_ISA_SYM(cpu_nhwc_up_bf16)

/* layout.c, channels-last inference (set_nhwc): x [N,C,HW] f32 -> y [N,HW,C] f32, a transpose (the graph's
 * input; cpu_nchw_from the other way); y [P,C] = x through epi (cpu_bn_value's arithmetic per channel, or
 * x + the addend), y may be x; x [P,C] through pro (NULL: none) and x2 [P,C2] (NULL, 0: none) side by side
 * into y [P,C+C2] bf16, rounded as cpu_bf16_round (a convolution's source, of a concatenation's parts); x
 * [N,h,w,C] f32 upsampled 2x (nearest) into y [N,2h,2w,C] bf16 */
CPU_ISA_FN(void, cpu_nhwc_f32, (const float *x, float *y, int N, int C, size_t HW, int threads));
#define cpu_nhwc_f32 CPU_ISA_SYM(cpu_nhwc_f32)
CPU_ISA_FN(void, cpu_nhwc_epi, (const float *x, float *y, size_t P, int C, const cpu_epi *epi, int threads));
#define cpu_nhwc_epi CPU_ISA_SYM(cpu_nhwc_epi)
CPU_ISA_FN(void, cpu_nhwc_rows_bf16, (const float *x, int C, const float *x2, int C2, uint16_t *y, size_t P,
                                       const cpu_epi *pro, int threads));
#define cpu_nhwc_rows_bf16 CPU_ISA_SYM(cpu_nhwc_rows_bf16)
CPU_ISA_FN(void, cpu_nhwc_up2_bf16, (const float *x, uint16_t *y, int N, int C, int h, int w, int threads));
#define cpu_nhwc_up2_bf16 CPU_ISA_SYM(cpu_nhwc_up2_bf16)

/* layout.c: x [n] f32 rounded into y [n] bf16 as cpu_bf16_round; x [n] bf16 widened into y [n] f32 */
CPU_ISA_FN(void, cpu_to_bf16, (const float *x, uint16_t *y, size_t n, int threads));
#define cpu_to_bf16 CPU_ISA_SYM(cpu_to_bf16)
CPU_ISA_FN(void, cpu_from_bf16, (const uint16_t *x, float *y, size_t n, int threads));
#define cpu_from_bf16 CPU_ISA_SYM(cpu_from_bf16)

/* elementwise.c */
CPU_ISA_FN(void, cpu_act_fwd, (void *ctx, int act, const float *x, float *y, size_t n, float alpha));
#define cpu_act_fwd CPU_ISA_SYM(cpu_act_fwd)
CPU_ISA_FN(void, cpu_act_bwd, (void *ctx, int act, const float *y, const float *dy, float *dx, size_t n,
                 float alpha, int acc));
#define cpu_act_bwd CPU_ISA_SYM(cpu_act_bwd)
CPU_ISA_FN(void, cpu_relu_mask, (const float *x, const float *d, float *out, int n, float scale, float shift));
#define cpu_relu_mask CPU_ISA_SYM(cpu_relu_mask)
CPU_ISA_FN(void, cpu_add, (void *ctx, const float *a, const float *b, float *y, size_t n));
#define cpu_add CPU_ISA_SYM(cpu_add)
CPU_ISA_FN(void, cpu_mul, (void *ctx, const float *a, const float *b, float *y, size_t n, int acc));
#define cpu_mul CPU_ISA_SYM(cpu_mul)
CPU_ISA_FN(void, cpu_axpy, (void *ctx, float alpha, const float *x, float *y, size_t n));
#define cpu_axpy CPU_ISA_SYM(cpu_axpy)
CPU_ISA_FN(void, cpu_concat, (void *ctx, const float *a, const float *b, float *y, int N, int Ca, int Cb, int HW));
#define cpu_concat CPU_ISA_SYM(cpu_concat)
CPU_ISA_FN(void, cpu_split, (void *ctx, const float *dy, float *da, float *db, int N, int Ca, int Cb, int HW, int acc));
#define cpu_split CPU_ISA_SYM(cpu_split)
CPU_ISA_FN(void, cpu_up2_fwd, (void *ctx, const float *x, float *y, int N, int C, int H, int W));
#define cpu_up2_fwd CPU_ISA_SYM(cpu_up2_fwd)
CPU_ISA_FN(void, cpu_up2_bwd, (void *ctx, const float *dy, float *dx, int N, int C, int H, int W, int acc));
#define cpu_up2_bwd CPU_ISA_SYM(cpu_up2_bwd)
CPU_ISA_FN(void, cpu_dropout_fwd, (void *ctx, const float *x, float *y, float *mask, int N, int C, int HW, float p,
                                    uint64_t seed));
#define cpu_dropout_fwd CPU_ISA_SYM(cpu_dropout_fwd)
CPU_ISA_FN(void, cpu_dropout_bwd, (void *ctx, const float *dy, const float *mask, float *dx, size_t n, int acc));
#define cpu_dropout_bwd CPU_ISA_SYM(cpu_dropout_bwd)

/* chsum.c: per-channel sums of channels-last tensors in cpu_sum's order. The terms summed (kind), for each
 * value x of a channel c (and dy beside it): */
enum {
    CPU_CHSUM_X,       /* x */
    CPU_CHSUM_DOT,     /* x*dy (cpu_dot's products) */
    CPU_CHSUM_DEV2,    /* (x - mu[c])^2 */
    CPU_CHSUM_DY,      /* dy, and dy*(x - mu[c]) into the second sums */
    CPU_CHSUM_DY_RELU, /* the same of d = cpu_bn_value(x, scale[c], shift[c], 0) > 0 ? dy : 0 (cpu_relu_mask) */
};
typedef struct cpu_chsum {
    int kind;
    const float *x;             /* [N,HW,C] */
    const float *dy;            /* [N,HW,C] (CPU_CHSUM_DOT, CPU_CHSUM_DY*), else NULL */
    const float *mu;            /* [C] (CPU_CHSUM_DEV2, CPU_CHSUM_DY*), else NULL */
    const float *scale, *shift; /* [C] (CPU_CHSUM_DY_RELU), else NULL */
} cpu_chsum;
/* part [N, nb, C] (nb = cpu_sum_blocks(HW)) = the float sum of each (image, block of CPU_SUM_BLOCK pixels,
 * channel) in cpu_sum's lane order; part2 [N, nb, C] the second sums (CPU_CHSUM_DY*), else NULL. On
 * threads threads (called from the serial context) */
CPU_ISA_FN(void, cpu_chsum_blocks, (const cpu_chsum *t, float *part, float *part2, int N, int C, int HW,
                                     int threads));
#define cpu_chsum_blocks CPU_ISA_SYM(cpu_chsum_blocks)
/* from part [N, nb, C]: the double total of plane (n, ch), its blocks added in order (cpu_sum of it) */
static inline double cpu_chsum_plane(const float *part, int n, int nb, int C, int ch) {
    double total = 0;
    for (int b = 0; b < nb; b++) total += part[((size_t)n * nb + b) * C + ch];
    return total;
}
/* channel ch's total as norm.c's mean and conv.c's bias gradient sum: each plane's double total
 * (cpu_chsum_plane), those added in image order to another double */
static inline double cpu_chsum_nested(const float *part, int N, int nb, int C, int ch) {
    double sum = 0;
    for (int n = 0; n < N; n++) sum += cpu_chsum_plane(part, n, nb, C, ch);
    return sum;
}
/* channel ch's total as norm.c's inline reductions: all its blocks' floats, image after image, added in
 * order to one double */
static inline double cpu_chsum_flat(const float *part, int N, int nb, int C, int ch) {
    double sum = 0;
    for (size_t nbi = 0; nbi < (size_t)N * nb; nbi++) sum += part[nbi * C + ch];
    return sum;
}

/* norm_nhwc.c: the channels-last (set_nhwc) paths of norm.c's training ops and of conv.c's bias gradient,
 * with their NCHW bits: x, y, dy, dx [N,HW,C]; the per-channel vectors [C] as in NCHW. Called from the
 * serial context; on out of memory, c->oom set and nothing computed.
 * cpu_nhwc_bn_fwd_train: bn_fwd_train (relu: bn_relu_fwd_train), not under sync-BN;
 * cpu_nhwc_bn_bwd: bn_bwd (relu: bn_relu_bwd, with beta; else beta unused), not under sync-BN; dx may be
 * dy when acc = 0;
 * cpu_nhwc_bias_bwd: conv_bwd_bias, db [C] += the sums of dy [N,HW,C] */
CPU_ISA_FN(void, cpu_nhwc_bn_fwd_train, (cpu_ctx *c, const float *x, const float *gamma, const float *beta, float *y,
                                          float *mean, float *invstd, float *rmean, float *rvar, int N, int C,
                                          int HW, float momentum, float eps, int relu));
#define cpu_nhwc_bn_fwd_train CPU_ISA_SYM(cpu_nhwc_bn_fwd_train)
CPU_ISA_FN(void, cpu_nhwc_bn_bwd, (cpu_ctx *c, const float *x, const float *dy, const float *gamma,
                                    const float *beta, const float *mean, const float *invstd, float *dx,
                                    float *dgamma, float *dbeta, int N, int C, int HW, int acc, int relu));
#define cpu_nhwc_bn_bwd CPU_ISA_SYM(cpu_nhwc_bn_bwd)
CPU_ISA_FN(void, cpu_nhwc_bias_bwd, (cpu_ctx *c, const float *dy, float *db, int N, int C, int HW));
#define cpu_nhwc_bias_bwd CPU_ISA_SYM(cpu_nhwc_bias_bwd)

/* pool.c */
CPU_ISA_FN(void, cpu_pool2_fwd, (void *ctx, const float *x, float *y, int N, int C, int H, int W));
#define cpu_pool2_fwd CPU_ISA_SYM(cpu_pool2_fwd)
CPU_ISA_FN(void, cpu_pool2_bwd, (void *ctx, const float *x, const float *dy, float *dx, int N, int C, int H, int W, int acc));
#define cpu_pool2_bwd CPU_ISA_SYM(cpu_pool2_bwd)
CPU_ISA_FN(void, cpu_cmul_fwd, (void *ctx, const float *x, const float *a, float *y, int N, int C, int HW));
#define cpu_cmul_fwd CPU_ISA_SYM(cpu_cmul_fwd)
CPU_ISA_FN(void, cpu_cmul_bwd, (void *ctx, const float *x, const float *a, const float *dy, float *dx, float *da,
                  int N, int C, int HW, int acc_x, int acc_a));
#define cpu_cmul_bwd CPU_ISA_SYM(cpu_cmul_bwd)

/* se.c */
CPU_ISA_FN(void, cpu_se_fwd, (void *ctx, const float *x, const float *wa, const float *wb, float *y,
                float *pool, float *hid, float *gate, int N, int C, int HW, int Cr));
#define cpu_se_fwd CPU_ISA_SYM(cpu_se_fwd)
CPU_ISA_FN(void, cpu_se_bwd, (void *ctx, const float *x, const float *dy, const float *wa, const float *wb,
                const float *pool, const float *hid, const float *gate,
                float *dx, float *dwa, float *dwb, int N, int C, int HW, int Cr, int acc));
#define cpu_se_bwd CPU_ISA_SYM(cpu_se_bwd)

/* loss.c */
CPU_ISA_FN(float, cpu_dice_loss, (void *ctx, const float *p, const float *t, float *dp, int N, int HW, float smooth));
#define cpu_dice_loss CPU_ISA_SYM(cpu_dice_loss)
CPU_ISA_FN(double, cpu_sumsq, (void *ctx, const float *x, size_t n));
#define cpu_sumsq CPU_ISA_SYM(cpu_sumsq)

/* adam.c */
CPU_ISA_FN(void, cpu_adam, (void *ctx, float *w, const float *g, float *m, float *v, size_t n, float lr,
              float b1, float b2, float eps, float l2, long t));
#define cpu_adam CPU_ISA_SYM(cpu_adam)

#endif
