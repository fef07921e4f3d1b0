/* cpu.c: the CPU backend: its context, memory and the function table (the ops' shared helpers are
 * sgemm.c's and scratch.c's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>
#include "backend/backend.h"
#include "cpu.h"

#define BIG 262144 /* element count above which memory ops run on all threads */

static const char *cpu_error(void *ctx) {
    cpu_ctx *c = ctx;
    if (cpu_bf16_failed(c)) {
        snprintf(c->msg, sizeof c->msg, "CPU backend out of memory (bf16 copies of a matrix product)");
        c->oom = 0;
        return c->msg;
    }
    if (!c->oom) return NULL;
    snprintf(c->msg, sizeof c->msg, "CPU backend out of memory (%zu MB of workspace)", (c->oom >> 20) + 1);
    c->oom = 0;
    return c->msg;
}

/* memory ------------------------------------------------------------------------------------------ */

static float *cpu_alloc(void *ctx, size_t n) {
    cpu_ctx *c = ctx;
    void *p = NULL;
    if (posix_memalign(&p, 64, (n ? n : 1) * sizeof(float))) return NULL;
    float *f = p;
    if (n < BIG) {
        memset(f, 0, n * sizeof(float));
    } else {
#pragma omp parallel for num_threads(c->threads) schedule(static)
        for (size_t i = 0; i < n; i += BIG) memset(f + i, 0, (n - i < BIG ? n - i : BIG) * sizeof(float));
    }
    return f;
}

static void cpu_free(void *ctx, float *p) {
    cpu_ctx *c = ctx;
    if (p && p == c->frozen) cpu_kcache_drop(c); /* the parameters are gone: so is what was kept */
    free(p);
}

static void cpu_copy(void *ctx, float *dst, const float *src, size_t n) {
    cpu_ctx *c = ctx;
    if (dst == src || n == 0) return;
    if (n < BIG) {
        memcpy(dst, src, n * sizeof(float));
        return;
    }
#pragma omp parallel for num_threads(c->threads) schedule(static)
    for (size_t i = 0; i < n; i += BIG) memcpy(dst + i, src + i, (n - i < BIG ? n - i : BIG) * sizeof(float));
}

static void cpu_fill(void *ctx, float *dst, float v, size_t n) {
    cpu_ctx *c = ctx;
#pragma omp parallel for num_threads(c->threads) schedule(static) if (n >= BIG)
    for (size_t i = 0; i < n; i++) dst[i] = v;
}

static void cpu_sync(void *ctx) {}

static void cpu_set_training(void *ctx, int training) {
    cpu_ctx *c = ctx;
    c->training = training;
    if (training) cpu_kcache_drop(c); /* the parameters will change */
}

/* backend.h nhwc_pays: channels-last inference where bf16 convolutions run by oneDNN's primitives with
 * layout.c's copies: no transposes between the ops then, and every convolution by the primitive (conv.c
 * use_dnn; without AMX the 1x1 ones otherwise take the matrix products, in NCHW). Measured on the Intel
 * Xeon VM (bench-net, FocusNet 256x256, 2 threads): with AMX batch 1 8.0-8.5 -> 9.1-9.8 img/s, batch 8
 * 8.4-9.0 -> 9.4-9.7; with ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 (a Zen 4/5's kernels) 1.48 -> 1.61-1.68
 * and 1.49-1.50 -> 1.62-1.65. Training plans too (forward and backward, norm_nhwc.c and the backward ops'
 * channels-last loops): with AMX, FocusNet train128b8 6.99-7.32 -> 7.76-7.93 img/s. */
static int cpu_nhwc_pays(void *ctx, int train) {
    const cpu_ctx *c = ctx;
#ifdef FN_DNNL
    /* training: with AMX only (without it, its 1x1 convolutions' backward passes by the primitives cost more
     * than the transposes saved: FocusNet train128b8 with ONEDNN_MAX_CPU_ISA=AVX512_CORE_BF16 1.84-1.90
     * img/s against NCHW's 2.00), and not under sync-BN, whose sums over replicas (norm_sync.c) are NCHW's */
    return c->prec == FN_PREC_BF16 && c->dnn_layout && c->dnnconv && !(train && (c->bn_sync.sum || !c->amx));
#else
    return 0;
#endif
}

/* backend.h keep_bf16: a training plan keeps the values its backward reads in bf16, in bf16 precision where
 * FN_CPU_KEEP=bf16 says so (c->keep_bf16). Not by default: FocusNet train128b8 (Intel Xeon AMX, 2 threads)
 * takes 1005 MB instead of 1262 but runs 5-8% slower, the rounding and the widening being two passes over
 * every value kept (the backward's ops read fp32). */
static int cpu_keep_bf16(void *ctx) {
    const cpu_ctx *c = ctx;
    return c->prec == FN_PREC_BF16 && c->keep_bf16;
}

static void cpu_to_bf16_op(void *ctx, const float *x, uint16_t *y, size_t n) {
    cpu_ctx *c = ctx;
    CPU_ISA_PICK(c->isa, cpu_to_bf16)(x, y, n, c->threads);
}

static void cpu_from_bf16_op(void *ctx, const uint16_t *x, float *y, size_t n) {
    cpu_ctx *c = ctx;
    CPU_ISA_PICK(c->isa, cpu_from_bf16)(x, y, n, c->threads);
}

static void cpu_set_nhwc(void *ctx, int on) {
    cpu_ctx *c = ctx;
    c->nhwc = on;
}

static void cpu_nhwc(void *ctx, const float *x, float *y, int N, int C, int HW, int to) {
    cpu_ctx *c = ctx;
    if (to) CPU_ISA_PICK(c->isa, cpu_nhwc_f32)(x, y, N, C, (size_t)HW, c->threads);
    else CPU_ISA_PICK(c->isa, cpu_nchw_from)(x, NULL, y, N, C, (size_t)HW, 0, NULL, c->threads);
}

/* the table ------------------------------------------------------------------------------------- */

static void cpu_destroy(fn_backend *be) {
    if (!be) return;
    cpu_ctx *c = be->ctx;
    if (c) {
        cpu_kcache_drop(c);
        cpu_bf16_free(c);
        cpu_dnn_free(c);
        for (int t = 0; t < c->threads; t++) free(c->ws[t]);
        free(c->ws);
        free(c->ws_cap);
        free(c->part);
        free(c->epi);
        free(c->epi2);
        free(c->pro);
        free(c->remade);
        free(c->lay);
        free(c->wino);
        free(c);
    }
    free(be);
}

/* FN_CPU_KCACHE_MB (see kcache.c) in floats: a whole number of megabytes up to 1048576 (1 TiB), any
 * other value (unset, negative, not a number) the default 1024 */
static size_t kcache_floats(const char *mb) {
    size_t v = 1024;
    if (mb && *mb && strspn(mb, "0123456789") == strlen(mb) && strlen(mb) <= 7) {
        unsigned long u = strtoul(mb, NULL, 10);
        if (u <= 1048576) v = u;
    }
    return v << 18;
}

fn_backend *fn_cpu_backend_new(int threads, fn_err *e) {
    if (threads <= 0) threads = fn_cpu_count();
    if (threads < 1) threads = 1;
    fn_backend *be = calloc(1, sizeof *be);
    cpu_ctx *c = calloc(1, sizeof *c);
    if (c) {
        c->threads = threads;
        c->isa = cpu_isa_pick();
        /* FN_CPU_CONV=im2col: the direct method only; =winograd: Winograd for every 3x3 stride-1
         * convolution, even tiny ones (tests and comparisons) */
        const char *gm = getenv("FN_CPU_GEMM"); /* see cpu_sgemm */
        c->gemm = !gm ? 0 : strcmp(gm, "onednn") == 0 ? 1 : strcmp(gm, "openblas") == 0 ? 2 : 0;
        const char *how = getenv("FN_CPU_CONV");
        c->winograd = !how ? 1 : strcmp(how, "im2col") == 0 ? 0 : strcmp(how, "winograd") == 0 ? 2 : 1;
        /* FN_CPU_BF16=conv: every bf16 convolution pass by oneDNN's convolution primitive; =matmul: by
         * im2col and oneDNN's bf16 matrix product; else each where it measured faster (conv.c use_dnn) */
        const char *bf = getenv("FN_CPU_BF16");
        c->dnnconv = bf && !strcmp(bf, "matmul") ? 0 : bf && !strcmp(bf, "conv") ? 2 : 1;
        c->dnn_chunk = CPU_DNN_CHUNK;
        c->dnn_layout = 1;
        c->dnn_flip = 1;
        const char *keep = getenv("FN_CPU_KEEP"); /* the values a training backward reads: fp32 or bf16 */
        c->keep_bf16 = keep && !strcmp(keep, "bf16");
        c->kern_max = kcache_floats(getenv("FN_CPU_KCACHE_MB"));
        c->ws = calloc((size_t)threads, sizeof *c->ws);
        c->ws_cap = calloc((size_t)threads, sizeof *c->ws_cap);
    }
    if (!be || !c || !c->ws || !c->ws_cap) {
        if (c) {
            free(c->ws);
            free(c->ws_cap);
        }
        free(c);
        free(be);
        fn_seterr(e, "out of memory creating the CPU backend");
        return NULL;
    }
    /* our OpenMP threads call single-threaded BLAS on disjoint tiles (process-wide OpenBLAS setting) */
    openblas_set_num_threads(1);

    be->name = "cpu";
    #ifdef FN_DNNL
    const char *blas = "oneDNN and OpenBLAS";
#else
    const char *blas = "OpenBLAS";
#endif
    snprintf(be->device, sizeof be->device, "CPU (%d thread%s, %s, %s)", threads, threads == 1 ? "" : "s", blas,
             cpu_isa_name(c->isa));
    be->ctx = c;
    be->destroy = cpu_destroy;
    be->alloc = cpu_alloc;
    be->free = cpu_free;
    be->upload = cpu_copy;
    be->download = cpu_copy;
    be->copy = cpu_copy;
    be->fill = cpu_fill;
    be->sync = cpu_sync;
    be->set_training = cpu_set_training;
    be->params_frozen = cpu_params_frozen;
    be->error = cpu_error;
    be->set_precision = cpu_set_precision;
    be->conv_fwd = cpu_conv_fwd;
    be->conv_bn_fwd_infer = cpu_conv_bn_fwd_infer;
    be->conv_bn_add_fwd_infer = cpu_conv_bn_add_fwd_infer;
    be->cat_conv_bn_fwd_infer = cpu_cat_conv_bn_fwd_infer;
    be->conv_bn_conv_fwd_infer = cpu_conv_bn_conv_fwd_infer;
    be->conv_add_fwd_infer = cpu_conv_add_fwd_infer;
    be->unit_fwd_infer = cpu_unit_fwd_infer;
    be->up_conv_fwd_infer = cpu_up_conv_fwd_infer;
    be->resid_pays = cpu_resid_pays;
    be->nhwc_pays = cpu_nhwc_pays;
    be->set_nhwc = cpu_set_nhwc;
    be->nhwc = cpu_nhwc;
    be->conv_bwd_data = cpu_conv_bwd_data;
    be->conv_bwd_filter = cpu_conv_bwd_filter;
    be->conv_bwd = cpu_conv_bwd;
    be->conv_bwd_bias = cpu_conv_bwd_bias;
    be->bn_fwd_train = cpu_bn_fwd_train;
    be->bn_fwd_infer = cpu_bn_fwd_infer;
    be->bn_bwd = cpu_bn_bwd;
    be->bn_relu_fwd_train = cpu_bn_relu_fwd_train;
    be->bn_relu_fwd_infer = cpu_bn_relu_fwd_infer;
    be->conv_bwd_bn = cpu_conv_bwd_bn;
    be->conv_bn_fwd_train = cpu_conv_bn_fwd_train;
    be->bn_relu_bwd = cpu_bn_relu_bwd;
    be->bn_fold_pays = cpu_bn_fold_pays;
    be->keep_bf16 = cpu_keep_bf16;
    be->to_bf16 = cpu_to_bf16_op;
    be->from_bf16 = cpu_from_bf16_op;
    cpu_bn_sync_init(be);
    be->act_fwd = CPU_ISA_PICK(c->isa, cpu_act_fwd);
    be->act_bwd = CPU_ISA_PICK(c->isa, cpu_act_bwd);
    be->add = CPU_ISA_PICK(c->isa, cpu_add);
    be->mul = CPU_ISA_PICK(c->isa, cpu_mul);
    be->axpy = CPU_ISA_PICK(c->isa, cpu_axpy);
    be->concat = CPU_ISA_PICK(c->isa, cpu_concat);
    be->split = CPU_ISA_PICK(c->isa, cpu_split);
    be->up2_fwd = CPU_ISA_PICK(c->isa, cpu_up2_fwd);
    be->up2_bwd = CPU_ISA_PICK(c->isa, cpu_up2_bwd);
    be->pool2_fwd = CPU_ISA_PICK(c->isa, cpu_pool2_fwd);
    be->pool2_bwd = CPU_ISA_PICK(c->isa, cpu_pool2_bwd);
    be->cmul_fwd = CPU_ISA_PICK(c->isa, cpu_cmul_fwd);
    be->cmul_bwd = CPU_ISA_PICK(c->isa, cpu_cmul_bwd);
    be->se_fwd = CPU_ISA_PICK(c->isa, cpu_se_fwd);
    be->se_bwd = CPU_ISA_PICK(c->isa, cpu_se_bwd);
    be->dropout_fwd = CPU_ISA_PICK(c->isa, cpu_dropout_fwd);
    be->dropout_bwd = CPU_ISA_PICK(c->isa, cpu_dropout_bwd);
    be->dice_loss = CPU_ISA_PICK(c->isa, cpu_dice_loss);
    be->sumsq = CPU_ISA_PICK(c->isa, cpu_sumsq);
    be->adam = CPU_ISA_PICK(c->isa, cpu_adam);
    return be;
}
