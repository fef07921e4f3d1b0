/* Layer lib/base: the basics everything may use (errors, heap, RNG, tensors, the ordered map, the split
 * hash, the look-up of the libraries loaded with dlopen); includes no other folder of fn's.
 * The layers, each using only those before it: base < data < imgproc, eval < backend < cpu, nn, cuda/
 *   < train < mpi/ < cmd/ (folders of one rank never include each other; README "Layout", tests/layout.py). */
/* err.h: error reports from lib/ to the tools.
 *
 * lib/ never prints and never exits: a function that can fail returns -1 (or NULL) and fills an
 * fn_err with one line of text (no program name, no newline). The tool prints it as
 * "fn-xxx: <msg>" and exits 1 (see cli.h). */
#ifndef FN_ERR_H
#define FN_ERR_H

typedef struct fn_err {
    char msg[512];
} fn_err;

/* printf-style; always returns -1 so callers can `return fn_seterr(e, ...)`. e may be NULL. */
int fn_seterr(fn_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
