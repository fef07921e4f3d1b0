/* stream-cat: copy the fn stream on stdin to stdout frame by frame through the stream library
 * (read, decode, re-pack, write). The interop tests use it to check pass-through byte for byte. */
#include <signal.h>
#include "data/cli.h"

int main(void) {
    fn_err e;
    fn_out out;
    fn_frame f;
    int rc;
    signal(SIGPIPE, SIG_DFL);
    fn_reader *r = fn_reader_open(0, "stdin", &e);
    if (!r || fn_out_open(&out, NULL, &e)) fn_die("stream-cat", "%s", e.msg);
    while ((rc = fn_reader_next(r, &f, &e)) == 1) {
        if (fn_out_write(&out, &f, &e)) fn_die("stream-cat", "%s", e.msg);
        fn_frame_clear(&f);
    }
    if (rc < 0) fn_die("stream-cat", "%s", e.msg);
    fn_reader_close(r);
    if (fn_out_close(&out, &e)) fn_die("stream-cat", "%s", e.msg);
    return 0;
}
