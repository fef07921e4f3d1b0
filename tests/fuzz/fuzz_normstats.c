/* fuzz_normstats.c: the normalisation statistics JSON (fn-normalize --stats) on any bytes; statistics
 * that load are applied to a small u8 image of their channel count. */
#include "fuzz.h"
#include "data/normstats.h"
#include "base/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfd(data, size, path, sizeof path);
    if (fd < 0) return 0;
    fn_err e;
    fn_normstats s;
    if (!fn_normstats_load(&s, path, &e)) {
        fn_tensor *t = fn_tensor_new(FN_U8, s.per_channel ? s.channels : 1, 4, 4, &e);
        if (t) {
            for (size_t i = 0; i < fn_tensor_numel(t); i++) ((uint8_t *)t->data)[i] = (uint8_t)(i * 37);
            fn_norm_apply(&s, &t, &e);
            fn_tensor_free(t);
        }
    }
    close(fd);
    return 0;
}
