/* cuda.cu: the CUDA backend's context, memory, device information, the function table and the one
 * exported symbol, fn_cuda_backend_new (lib/backend/backend.h). Everything else in this library is hidden
 * (-fvisibility=hidden, static archives' symbols excluded at link time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cu.h"

#define FN_EXPORT __attribute__((visibility("default")))

void cu_fail(const char *what, const char *why, const char *file, int line) {
    fprintf(stderr, "fn: CUDA backend: %s: %s (%s:%d)\n", what, why, file, line);
    abort();
}

void *cu_scratch(cu_ctx *c, int slot, size_t bytes) {
    if (bytes == 0) bytes = 1;
    if (c->scr_cap[slot] < bytes && c->capturing) {
        /* no synchronising, freeing or allocating while recording: the recording is discarded, and the
         * buffer as it is serves the ops recorded (which never run) */
        c->capture_bad = 1;
        return c->scr[slot];
    }
    if (c->scr_cap[slot] < bytes) {
        cu_capture_drop(c); /* the recording names the old buffer */
        if (c->scr[slot]) {
            CK(cudaStreamSynchronize(c->stream)); /* queued work may still read the old buffer */
            CK(cudaFree(c->scr[slot]));
            c->scr[slot] = NULL;
            c->scr_cap[slot] = 0;
        }
        size_t cap = bytes + bytes / 4;
        void *p = NULL;
        cudaError_t err = cudaMalloc(&p, cap);
        if (err != cudaSuccess) {
            char why[160];
            snprintf(why, sizeof why, "%s (%zu bytes of scratch)", cudaGetErrorString(err), cap);
            cu_fail("cudaMalloc", why, __FILE__, __LINE__);
        }
        c->scr[slot] = p;
        c->scr_cap[slot] = cap;
    }
    return c->scr[slot];
}

/* memory --------------------------------------------------------------------------------------------- */

static float *cu_alloc(void *ctx, size_t n) {
    cu_ctx *c = cu_enter(ctx);
    void *p = NULL;
    size_t bytes = (n ? n : 1) * sizeof(float);
    if (cudaMalloc(&p, bytes) != cudaSuccess) {
        (void)cudaGetLastError(); /* clear the error: out of memory is reported by returning NULL */
        return NULL;
    }
    CK(cudaMemsetAsync(p, 0, bytes, c->stream));
    return (float *)p;
}

static void cu_free(void *ctx, float *p) {
    if (!p) return;
    cu_ctx *c = cu_enter(ctx);
    CK(cudaStreamSynchronize(c->stream));
    cu_wcache_free(c); /* weights cast from p may be among them; the next allocation may reuse its address */
    cu_capture_drop(c);
    CK(cudaFree(p));
}

static void cu_upload(void *ctx, float *dst, const float *host, size_t n) {
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    cu_written(c, dst, n * sizeof(float));
    CK(cudaMemcpyAsync(dst, host, n * sizeof(float), cudaMemcpyHostToDevice, c->stream));
    CK(cudaStreamSynchronize(c->stream)); /* the caller may reuse host at once */
}

static void cu_download(void *ctx, float *host, const float *src, size_t n) {
    if (!n) return;
    cu_ctx *c = cu_enter(ctx);
    CK(cudaMemcpyAsync(host, src, n * sizeof(float), cudaMemcpyDeviceToHost, c->stream));
    CK(cudaStreamSynchronize(c->stream));
}

static void cu_copy(void *ctx, float *dst, const float *src, size_t n) {
    if (!n || dst == src) return;
    cu_ctx *c = cu_enter(ctx);
    cu_written(c, dst, n * sizeof(float));
    cudaError_t err = cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, c->stream);
    if (err != cudaSuccess && c->capturing) c->capture_bad = 1, (void)cudaGetLastError();
    else CK(err);
}

static void cu_sync(void *ctx) {
    cu_ctx *c = cu_enter(ctx);
    CK(cudaStreamSynchronize(c->stream));
}

/* precision and determinism ------------------------------------------------------------------------------ */

/* set_precision (lib/backend/backend.h): the convolutions' precision (conv.cu); a change drops the plans,
 * whose descriptors and algorithms are the precision's */
static int cu_set_precision(void *ctx, int precision, fn_err *e) {
    cu_ctx *c = cu_enter(ctx);
    const char *name = fn_precision_name(precision);
    if (!name) {
        if (e) snprintf(e->msg, sizeof e->msg, "unknown precision %d (fp32, tf32 or bf16)", precision);
        return -1;
    }
    if (precision != FN_PREC_FP32 && c->cc < 80) {
        if (e)
            snprintf(e->msg, sizeof e->msg,
                     "--precision %s needs a GPU of compute capability 8.0 or later (this one: sm_%d); use "
                     "--precision fp32",
                     name, c->cc);
        return -1;
    }
    if (precision == c->prec) return 0;
    CK(cudaStreamSynchronize(c->stream));
    cu_conv_plans_free(c);
    cu_capture_drop(c);
    c->prec = precision;
    return 0;
}

/* set_deterministic: 1: deterministic cuDNN algorithms only (the other kernels always are) */
static void cu_set_deterministic(void *ctx, int on) {
    cu_ctx *c = cu_enter(ctx);
    if (c->nondet == !on) return;
    CK(cudaStreamSynchronize(c->stream));
    cu_conv_plans_free(c);
    cu_capture_drop(c);
    c->nondet = !on;
}

static int cu_mem_info(void *ctx, size_t *used, size_t *total) {
    cu_enter(ctx);
    size_t fr = 0, tot = 0;
    if (cudaMemGetInfo(&fr, &tot) != cudaSuccess) {
        (void)cudaGetLastError();
        return -1;
    }
    *used = tot - fr;
    *total = tot;
    return 0;
}

/* the table ------------------------------------------------------------------------------------------ */

static void cu_ctx_free(cu_ctx *c) {
    if (!c) return;
    if (c->stream) cudaStreamSynchronize(c->stream);
    cu_capture_drop(c);
    cu_conv_plans_free(c);
    cu_wcache_free(c);
    cu_adam_free(c);
    if (c->dice_count) cudaFree(c->dice_count);
    cu_comm_free(c);
    for (int i = 0; i < CU_SCR_N; i++)
        if (c->scr[i]) cudaFree(c->scr[i]);
    if (c->host_res) cudaFreeHost(c->host_res);
    if (c->dnn) cudnnDestroy(c->dnn);
    if (c->stream) cudaStreamDestroy(c->stream);
    free(c);
}

static void cu_destroy(fn_backend *be) {
    if (!be) return;
    cu_ctx *c = (cu_ctx *)be->ctx;
    if (c && c->dev != 0) cudaSetDevice(c->dev);
    cu_ctx_free(c);
    free(be);
}

static int env_flag(const char *name) {
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

static void seterr(fn_err *e, const char *what, const char *why) {
    if (e) snprintf(e->msg, sizeof e->msg, "%s: %s", what, why);
}

__global__ static void probe_kernel(int *out) {
    if (threadIdx.x == 0 && blockIdx.x == 0) *out = 42;
}

extern "C" FN_EXPORT fn_backend *fn_cuda_backend_new(int device_index, fn_err *e) {
    int count = 0;
    cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
        seterr(e, "cudaGetDeviceCount", cudaGetErrorString(err));
        return NULL;
    }
    if (count < 1) {
        seterr(e, "cudaGetDeviceCount", "no CUDA device");
        return NULL;
    }
    if (device_index < 0 || device_index >= count) {
        if (e)
            snprintf(e->msg, sizeof e->msg, "cuda:%d: this machine has %d CUDA device%s (cuda:0%s)", device_index,
                     count, count == 1 ? "" : "s", count == 1 ? "" : " ..");
        return NULL;
    }
    if ((err = cudaSetDevice(device_index)) != cudaSuccess) {
        seterr(e, "cudaSetDevice", cudaGetErrorString(err));
        return NULL;
    }
    cudaDeviceProp prop;
    if ((err = cudaGetDeviceProperties(&prop, device_index)) != cudaSuccess) {
        seterr(e, "cudaGetDeviceProperties", cudaGetErrorString(err));
        return NULL;
    }
    size_t dnn_version = cudnnGetVersion();
    if (dnn_version < 90000) {
        if (e) snprintf(e->msg, sizeof e->msg, "cuDNN %zu is too old (9.0 or later needed)", dnn_version);
        return NULL;
    }

    cu_ctx *c = (cu_ctx *)calloc(1, sizeof *c);
    fn_backend *be = (fn_backend *)calloc(1, sizeof *be);
    if (!c || !be) {
        free(c);
        free(be);
        if (e) snprintf(e->msg, sizeof e->msg, "out of memory creating the CUDA backend");
        return NULL;
    }
    c->dev = device_index;
    c->prec = FN_PREC_FP32;
    c->nondet = 1; /* the fastest algorithms, as PyTorch's default; set_deterministic(1) for reproducible runs */
    c->cc = prop.major * 10 + prop.minor;
    c->find = getenv("FN_CUDA_FIND") ? env_flag("FN_CUDA_FIND") : 1;
    c->no_graph = getenv("FN_CUDA_GRAPH") && !env_flag("FN_CUDA_GRAPH");
    /* the largest cuDNN workspace an algorithm may have: FN_CUDA_WS_MB, else a quarter of the free
     * memory, between 256 MiB and 8 GiB (FocusNet's fastest 256x256 algorithms at batch 32 take 1.6 GiB) */
    const char *wsmb = getenv("FN_CUDA_WS_MB");
    size_t mem_free = 0, mem_total = 0;
    if (cudaMemGetInfo(&mem_free, &mem_total) != cudaSuccess) mem_free = (size_t)4 << 30;
    size_t lim = mem_free / 4;
    if (lim < ((size_t)256 << 20)) lim = (size_t)256 << 20;
    if (lim > ((size_t)8 << 30)) lim = (size_t)8 << 30;
    c->ws_limit = wsmb && atol(wsmb) > 0 ? (size_t)atol(wsmb) << 20 : lim;

    /* a kernel must run: this catches a binary without code for this GPU, and a broken driver */
    int *probe = NULL, got = 0;
    const char *what = NULL;
    cudnnStatus_t st;
    if ((err = cudaStreamCreateWithFlags(&c->stream, cudaStreamNonBlocking)) != cudaSuccess) {
        c->stream = NULL;
        what = "cudaStreamCreate";
    }
    else if ((err = cudaMalloc(&probe, sizeof(int))) != cudaSuccess) what = "cudaMalloc";
    else {
        probe_kernel<<<1, 32, 0, c->stream>>>(probe);
        if ((err = cudaGetLastError()) != cudaSuccess) what = "a first kernel";
        else if ((err = cudaMemcpyAsync(&got, probe, sizeof got, cudaMemcpyDeviceToHost, c->stream)) != cudaSuccess)
            what = "cudaMemcpy";
        else if ((err = cudaStreamSynchronize(c->stream)) != cudaSuccess) what = "a first kernel";
        cudaFree(probe);
        if (!what && got != 42) {
            seterr(e, "a first kernel", "wrong result");
            cu_ctx_free(c);
            free(be);
            return NULL;
        }
    }
    if (!what && (err = cudaMallocHost(&c->host_res, 16 * sizeof(double))) != cudaSuccess) what = "cudaMallocHost";
    if (what) {
        char why[200];
        snprintf(why, sizeof why, "%.100s (GPU %.64s, sm_%d%d)", cudaGetErrorString(err), prop.name, prop.major,
                 prop.minor);
        seterr(e, what, why);
        cu_ctx_free(c);
        free(be);
        return NULL;
    }
    if ((st = cudnnCreate(&c->dnn)) != CUDNN_STATUS_SUCCESS) {
        c->dnn = NULL;
        seterr(e, "cudnnCreate", cudnnGetErrorString(st));
        cu_ctx_free(c);
        free(be);
        return NULL;
    }
    if ((st = cudnnSetStream(c->dnn, c->stream)) != CUDNN_STATUS_SUCCESS) {
        seterr(e, "cudnnSetStream", cudnnGetErrorString(st));
        cu_ctx_free(c);
        free(be);
        return NULL;
    }

    be->name = "cuda";
    char desc[512];
    snprintf(desc, sizeof desc, "%.64s (cuda:%d, sm_%d%d, %.0f GiB, cuDNN %d.%d.%d)", prop.name, device_index,
             prop.major, prop.minor, (double)prop.totalGlobalMem / (1 << 30), (int)(dnn_version / 10000),
             (int)(dnn_version / 100 % 100), (int)(dnn_version % 100));
    snprintf(be->device, sizeof be->device, "%.127s", desc);
    be->ctx = c;
    be->destroy = cu_destroy;
    be->alloc = cu_alloc;
    be->free = cu_free;
    be->upload = cu_upload;
    be->download = cu_download;
    be->copy = cu_copy;
    be->fill = cu_fill;
    be->sync = cu_sync;
    be->set_precision = cu_set_precision;
    be->set_deterministic = cu_set_deterministic;
    be->mem_info = cu_mem_info;
    be->capture_begin = cu_capture_begin;
    be->capture_end = cu_capture_end;
    be->replay = cu_replay;
    be->conv_fwd = cu_conv_fwd;
    be->conv_bwd_data = cu_conv_bwd_data;
    be->conv_bwd_filter = cu_conv_bwd_filter;
    be->conv_bwd_bias = cu_conv_bwd_bias;
    be->bn_fwd_train = cu_bn_fwd_train;
    be->bn_fwd_infer = cu_bn_fwd_infer;
    be->bn_bwd = cu_bn_bwd;
    be->act_fwd = cu_act_fwd;
    be->act_bwd = cu_act_bwd;
    be->add = cu_add;
    be->mul = cu_mul;
    be->axpy = cu_axpy;
    be->concat = cu_concat;
    be->split = cu_split_op;
    be->up2_fwd = cu_up2_fwd;
    be->up2_bwd = cu_up2_bwd;
    be->pool2_fwd = cu_pool2_fwd;
    be->pool2_bwd = cu_pool2_bwd;
    be->cmul_fwd = cu_cmul_fwd;
    be->cmul_bwd = cu_cmul_bwd;
    be->se_fwd = cu_se_fwd;
    be->se_bwd = cu_se_bwd;
    be->dropout_fwd = cu_dropout_fwd;
    be->dropout_bwd = cu_dropout_bwd;
    be->dice_loss = cu_dice_loss;
    be->sumsq = cu_sumsq;
    be->adam = cu_adam;
    be->adam_segs = cu_adam_segs;
    cu_comm_init_table(be);
    return be;
}
