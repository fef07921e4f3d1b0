/* backend_open.c: pick a backend by name; the CUDA one is loaded with dlopen so that the tools run on
 * machines without CUDA. The library is looked for at $FN_CUDA_LIB, else beside the running program:
 * <exe dir>/../lib/fn/libfn-cuda.so (an install) and <exe dir>/../libfn-cuda.so (the build folder), by
 * fn_dlopen_beside (base/dlib.h), as the DICOM and TIFF codecs (data/plugin.h) and MPI are. */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "backend/backend.h"
#include "base/dlib.h"

/* "cuda" -> 0, "cuda:N" -> N; -1 when not a cuda name, -2 when the index is malformed */
static int cuda_index(const char *device) {
    if (strncmp(device, "cuda", 4) != 0) return -1;
    if (device[4] == 0) return 0;
    if (device[4] != ':' || device[5] < '0' || device[5] > '9') return -2;
    char *end;
    errno = 0;
    long v = strtol(device + 5, &end, 10);
    if (*end || errno || v < 0 || v > 1024) return -2;
    return (int)v;
}

/* the CUDA backend, or NULL with the reason in e */
static fn_backend *open_cuda(int index, fn_err *e) {
    char why[400];
    void *h = fn_dlopen_beside("FN_CUDA_LIB", "libfn-cuda.so", RTLD_NOW | RTLD_LOCAL, NULL, why, sizeof why);
    if (!h) {
        fn_seterr(e, "%s", why);
        return NULL;
    }
    void *sym = dlsym(h, FN_CUDA_ENTRY);
    if (!sym) {
        fn_seterr(e, "libfn-cuda.so: no symbol %s", FN_CUDA_ENTRY);
        dlclose(h);
        return NULL;
    }
    fn_cuda_backend_new_fn make;
    memcpy(&make, &sym, sizeof make); /* object pointer to function pointer, as POSIX allows */
    fn_err ce = {{0}};
    fn_backend *be = make(index, &ce);
    if (!be) {
        fn_seterr(e, "%s", ce.msg[0] ? ce.msg : "the CUDA backend failed to start");
        /* the library stays loaded: CUDA runtimes do not like being unloaded */
        return NULL;
    }
    return be;
}

fn_backend *fn_backend_open(const char *device, int threads, char *note, size_t note_len, fn_err *e) {
    if (note && note_len) note[0] = 0;
    if (!device || !*device) device = "auto";
    if (strcmp(device, "cpu") == 0) return fn_cpu_backend_new(threads, e);
    if (strcmp(device, "auto") == 0) {
        fn_err ce = {{0}};
        fn_backend *be = open_cuda(0, &ce);
        if (be) {
            if (note && note_len) snprintf(note, note_len, "using %s", be->device);
            return be;
        }
        be = fn_cpu_backend_new(threads, e);
        if (be && note && note_len) snprintf(note, note_len, "no GPU (%s); using the CPU", ce.msg);
        return be;
    }
    int idx = cuda_index(device);
    if (idx == -1 || idx == -2) {
        fn_seterr(e, "unknown device '%s' (expected auto, cpu, cuda or cuda:N)", device);
        return NULL;
    }
    fn_err ce = {{0}};
    fn_backend *be = open_cuda(idx, &ce);
    if (!be) fn_seterr(e, "no usable GPU: %s", ce.msg);
    return be;
}

void fn_backend_close(fn_backend *be) {
    if (be && be->destroy) be->destroy(be);
}

int fn_backend_set_precision(fn_backend *be, int precision, fn_err *e) {
    if (be->set_precision) return be->set_precision(be->ctx, precision, e);
    if (precision == FN_PREC_FP32) return 0;
    const char *name = fn_precision_name(precision);
    return fn_seterr(e, "--precision %s is not available on the %s backend (fp32 only)", name ? name : "?", be->name);
}
