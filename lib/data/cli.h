/* cli.h: what every tool does the same way: messages, input, output.
 *
 * Conventions (ARCHITECTURE.md): errors are one line "fn-xxx: what went wrong" on stderr and exit 1;
 * usage errors exit 2; a binary stream is never written to a terminal; an output file is written to a
 * temporary name and renamed when complete, so a failing tool leaves nothing half-written. */
#ifndef FN_CLI_H
#define FN_CLI_H

#include <stdint.h>
#include <stdio.h>
#include "base/err.h"
#include "data/stream.h"

#define FN_VERSION "0.1.0"

/* print "PROG: msg" and exit 1 / exit 2 (usage; adds "Try 'PROG --help'.") */
_Noreturn void fn_die(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void fn_usage_die(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* print "PROG: msg" without exiting (warnings, notes) */
void fn_warn(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* print "PROG VERSION" and exit 0 */
_Noreturn void fn_version(const char *prog);

/* An output of frames: stdout (path NULL or "-"), refused when it is a terminal; or a file written as
 * PATH.tmpXXXXXX and renamed onto PATH by fn_out_close. fn_out_abort removes the temporary. An existing
 * PATH that is not a regular file (/dev/null, a FIFO) is written in place (tmp NULL); through a symlink
 * the temporary is made beside, and renamed onto, the file it points to (dest). */
typedef struct fn_out {
    int fd;
    char *path, *tmp, *dest; /* NULL for stdout */
    long frames;
} fn_out;
int fn_out_open(fn_out *o, const char *path, fn_err *e);
int fn_out_write(fn_out *o, const fn_frame *f, fn_err *e);
int fn_out_close(fn_out *o, fn_err *e); /* fsync + rename for files; checks stdout's close */
void fn_out_abort(fn_out *o);

/* Atomic whole-file helpers for side outputs (stats JSON, models, TSV): write PATH.tmpXXXXXX, fsync,
 * rename. fn_atomic_open returns a FILE* to write; fn_atomic_commit closes and renames (0 or -1). */
typedef struct fn_atomic {
    FILE *f;
    char *path, *tmp, *dest; /* as in fn_out */
} fn_atomic;
int fn_atomic_open(fn_atomic *a, const char *path, fn_err *e);
int fn_atomic_commit(fn_atomic *a, fn_err *e);
void fn_atomic_abort(fn_atomic *a);

/* The frame loop of a filter: each frame of r goes to fn, which may change it in place and may write
 * frames of its own to out (copies); it returns
 *   FN_FRAME_WRITE  the loop writes f to out (out NULL: nothing is written)
 *   FN_FRAME_DONE   nothing more to do for f (fn wrote what it wanted, or drops it)
 *   FN_FRAME_BAD    f is wrong: e says why; the message gets "INPUT: frame N (ID): " before it
 *   FN_FRAME_FAIL   e is the whole message (a failed fn_out_write, say)
 * fn NULL passes every frame through. At the end r is closed and out committed. On any error out is
 * aborted (frames already on a pipe stay whole, a file is not left half-written) and the tool dies
 * with one line. fn_filter_main opens INPUT ("-": stdin) and then OUTPUT (NULL or "-": stdout) first. */
enum { FN_FRAME_WRITE = 0, FN_FRAME_DONE = 1, FN_FRAME_BAD = -1, FN_FRAME_FAIL = -2 };
typedef int (*fn_frame_fn)(void *ctx, fn_frame *f, fn_out *out, fn_err *e);
void fn_filter_run(const char *prog, fn_reader *r, fn_out *out, fn_frame_fn fn, void *ctx);
void fn_filter_main(const char *prog, const char *input, const char *output, fn_frame_fn fn, void *ctx);

/* getopt_long's failures, with an optstring that starts with ':': c is ':' (an option without its
 * value) or '?' (an unknown option). Prints the usage error naming the option and exits 2. */
_Noreturn void fn_usage_getopt(const char *prog, int c, char **argv);
/* the optional FILE operand left after the options (default "-"); a second one is a usage error */
const char *fn_input_operand(const char *prog, int argc, char **argv);

/* parse helpers: 0 ok, -1 bad. "HxW" sizes, comma lists of numbers */
int fn_parse_size(const char *s, int *h, int *w);
int fn_parse_int(const char *s, long lo, long hi, long *v);
int fn_parse_double(const char *s, double *v);
int fn_parse_list(const char *s, double *v, int max, int *n); /* "0.9,1.1" */
int fn_parse_seed(const char *s, uint64_t *seed);              /* a non-negative integer */

#endif
