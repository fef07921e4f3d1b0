/* err.c: filling an fn_err */
#include <stdarg.h>
#include <stdio.h>
#include "base/err.h"

int fn_seterr(fn_err *e, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}
