/* capture.cu: inference forwards recorded as a CUDA graph and replayed (capture_begin, capture_end, replay
 * of lib/backend/backend.h; lib/nn/capture.h decides when).
 *
 * capture_begin starts a stream capture (cudaStreamCaptureModeRelaxed: a weight cast may still allocate
 * its buffer); while c->capturing, the ops queue as usual, and anything that would synchronise the stream
 * or free memory instead marks the capture bad (cu_scratch growing a buffer, a cuDNN algorithm failing and
 * wanting a fallback); capture_end then discards it. The one recording kept (its graph instantiated) is
 * dropped whenever memory it may name goes away or changes meaning: any device buffer freed, a scratch
 * buffer regrown, the bf16 weight cache dropped, a new precision or determinism (cu_capture_drop). Set
 * FN_CUDA_GRAPH=0 to never record. */
#include <stdio.h>
#include <stdlib.h>
#include "cu.h"

void cu_capture_drop(cu_ctx *c) {
    if (c->graph_exec) {
        cudaGraphExecDestroy((cudaGraphExec_t)c->graph_exec);
        c->graph_exec = NULL;
    }
}

int cu_capture_begin(void *ctx) {
    cu_ctx *c = cu_enter(ctx);
    if (c->capturing || c->no_graph) return -1;
    if (cudaStreamBeginCapture(c->stream, cudaStreamCaptureModeRelaxed) != cudaSuccess) {
        (void)cudaGetLastError();
        return -1;
    }
    c->capturing = 1;
    c->capture_bad = 0;
    return 0;
}

long cu_capture_end(void *ctx) {
    cu_ctx *c = cu_enter(ctx);
    if (!c->capturing) return -1;
    cudaGraph_t g = NULL;
    cudaError_t err = cudaStreamEndCapture(c->stream, &g);
    c->capturing = 0;
    if (err != cudaSuccess || !g || c->capture_bad) {
        if (err != cudaSuccess) (void)cudaGetLastError();
        if (g) cudaGraphDestroy(g);
        if (getenv("FN_CUDA_VERBOSE"))
            fprintf(stderr, "fn: CUDA graph capture failed (%s); running the ops instead\n",
                    err != cudaSuccess ? cudaGetErrorString(err) : "an op could not be recorded");
        return -1;
    }
    cudaGraphExec_t x = NULL;
    err = cudaGraphInstantiate(&x, g, 0);
    cudaGraphDestroy(g);
    if (err != cudaSuccess) {
        (void)cudaGetLastError();
        return -1;
    }
    cu_capture_drop(c);
    c->graph_exec = x;
    return ++c->graph_id;
}

int cu_replay(void *ctx, long id) {
    cu_ctx *c = cu_enter(ctx);
    if (!c->graph_exec || id != c->graph_id || c->capturing) return -1;
    CK(cudaGraphLaunch((cudaGraphExec_t)c->graph_exec, c->stream));
    return 0;
}
