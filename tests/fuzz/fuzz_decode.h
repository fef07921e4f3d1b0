/* fuzz_decode.h: one image decoder (FUZZ_DECODE) on any bytes as stored, then, when the file decodes,
 * the dispatcher fn_image_decode with a channel conversion and a size hint (JPEG's scaled decode). */
#include <string.h>
#include "data/codec.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fn_image img;
    fn_err e;
    fn_decode_opts o = { 0, 0, 0 };
    memset(&img, 0, sizeof img);
    int rc = FUZZ_DECODE(data, size, "fuzz", &o, &img, &e);
    int ok = !rc && img.n > 0, h = ok ? img.pages[0].t->h : 0, w = ok ? img.pages[0].t->w : 0;
    fn_image_free(&img);
    if (ok) {
        fn_decode_opts o2 = { size % 2 ? 1 : 3, h / 4 + 1, w / 4 + 1 };
        if (!fn_image_decode(data, size, "fuzz", &o2, &img, &e)) fn_image_free(&img);
    }
    return 0;
}
