/* fuzz_options.c: the option values of fn-resize (HxW sizes, --scale F, --max-side N) and the other
 * number parsers of cli.h, on any string. */
#include <stdlib.h>
#include <string.h>
#include "data/cli.h"
#include "fuzz.h"
#include "base/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = 0;
    int h, w, n;
    long v;
    double d, list[8];
    uint64_t seed;
    if (!fn_parse_size(s, &h, &w) && (h < 1 || w < 1 || h > FN_MAX_HW || w > FN_MAX_HW)) abort();
    if (!fn_parse_double(s, &d) && (d != d)) abort();
    if (!fn_parse_int(s, 1, FN_MAX_HW, &v) && (v < 1 || v > FN_MAX_HW)) abort();
    if (!fn_parse_list(s, list, 8, &n) && (n < 1 || n > 8)) abort();
    fn_parse_seed(s, &seed);
    free(s);
    return 0;
}
