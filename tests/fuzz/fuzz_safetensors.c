/* fuzz_safetensors.c: the safetensors reader on any bytes, then the loader its format names: a model
 * (fn_model_load builds and fills the net) or a training state (fn_state_load). */
#include <string.h>
#include "backend/backend.h"
#include "fuzz.h"
#include "nn/model.h"
#include "data/safetensors.h"
#include "train/state.h"

static fn_backend *backend(void) {
    static fn_backend *be; /* one CPU backend for the whole run */
    fn_err e;
    if (!be) be = fn_cpu_backend_new(1, &e);
    return be;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfd(data, size, path, sizeof path);
    if (fd < 0) return 0;
    fn_err e;
    fn_st st;
    if (!fn_st_read(&st, path, &e)) {
        const char *fmt = fn_st_meta(&st, "format");
        int model = fmt && !strcmp(fmt, "fn-model"), state = fmt && !strcmp(fmt, "fn-train-state");
        fn_st_free(&st);
        if (model) {
            fn_model_meta m;
            fn_net_free(fn_model_load(backend(), path, &m, &e));
        } else if (state) {
            fn_net *net;
            fn_train_state ts;
            if (!fn_state_load(path, backend(), &net, &ts, &e)) {
                fn_net_free(net);
                fn_state_free(&ts);
            }
        }
    }
    close(fd);
    return 0;
}
