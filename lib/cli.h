/* cli.h: what every tool does the same way: messages, input, output.
 *
 * Conventions (ARCHITECTURE.md): errors are one line "fn-xxx: what went wrong" on stderr and exit 1;
 * usage errors exit 2; a binary stream is never written to a terminal; an output file is written to a
 * temporary name and renamed when complete, so a failing tool leaves nothing half-written. */
#ifndef FN_CLI_H
#define FN_CLI_H

#include <stdio.h>
#include "err.h"
#include "stream.h"

#define FN_VERSION "0.1.0"

/* print "PROG: msg" and exit 1 / exit 2 (usage; adds "Try 'PROG --help'.") */
_Noreturn void fn_die(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
_Noreturn void fn_usage_die(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* print "PROG: msg" without exiting (warnings, notes) */
void fn_warn(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* print "PROG VERSION" and exit 0 */
_Noreturn void fn_version(const char *prog);

/* An output of frames: stdout (path NULL or "-"), refused when it is a terminal; or a file written as
 * PATH.tmpXXXXXX and renamed onto PATH by fn_out_close. fn_out_abort removes the temporary. */
typedef struct fn_out {
    int fd;
    char *path, *tmp; /* NULL for stdout */
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
    char *path, *tmp;
} fn_atomic;
int fn_atomic_open(fn_atomic *a, const char *path, fn_err *e);
int fn_atomic_commit(fn_atomic *a, fn_err *e);
void fn_atomic_abort(fn_atomic *a);

/* parse helpers: 0 ok, -1 bad. "HxW" sizes, comma lists of numbers */
int fn_parse_size(const char *s, int *h, int *w);
int fn_parse_int(const char *s, long lo, long hi, long *v);
int fn_parse_double(const char *s, double *v);
int fn_parse_list(const char *s, double *v, int max, int *n); /* "0.9,1.1" */

#endif
