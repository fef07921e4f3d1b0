/* fuzz_list.c: fn-read --list's TSV (image<TAB>mask lines) on any bytes. */
#include "fuzz.h"
#include "data/imglist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfd(data, size, path, sizeof path);
    if (fd < 0) return 0;
    fn_err e;
    fn_items l = { 0 };
    fn_items_add_list(&l, path, &e);
    fn_items_free(&l);
    close(fd);
    return 0;
}
