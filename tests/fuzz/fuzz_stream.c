/* fuzz_stream.c: the stream reader (frame scanner and msgpack unpacker) on any bytes, through a
 * descriptor as the tools read it; every frame read is packed again and its meta read. */
#include <stdlib.h>
#include "fuzz.h"
#include "data/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int fd = fuzz_memfd(data, size, NULL, 0);
    if (fd < 0) return 0;
    fn_err e;
    fn_reader *r = fn_reader_open(fd, "fuzz", &e);
    if (!r) { close(fd); return 0; }
    fn_frame f;
    while (fn_reader_next(r, &f, &e) == 1) {
        unsigned char *buf;
        size_t len;
        if (!fn_frame_pack(&f, &buf, &len, &e)) free(buf);
        char s[64];
        int64_t i;
        double v;
        fn_meta_get_str(&f, "norm_mode", s, sizeof s);
        fn_meta_get_int(&f, "epoch", &i);
        fn_meta_get_num(&f, "norm_mean", &v);
        fn_frame_clear(&f);
    }
    fn_reader_close(r);
    return 0;
}
