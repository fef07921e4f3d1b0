/* cli.c: what every tool does the same way: messages, output files, option values */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cli.h"

static void vmsg(const char *prog, const char *fmt, va_list ap) {
    fflush(stdout);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void fn_die(const char *prog, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmsg(prog, fmt, ap);
    va_end(ap);
    exit(1);
}

void fn_usage_die(const char *prog, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fflush(stdout);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (try '%s --help')\n", prog);
    va_end(ap);
    exit(2);
}

void fn_warn(const char *prog, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vmsg(prog, fmt, ap);
    va_end(ap);
}

void fn_version(const char *prog) {
    printf("%s %s\n", prog, FN_VERSION);
    exit(0);
}

/* ---- atomic files ------------------------------------------------------------------------------ */

static int tmp_create(const char *path, char **tmp, fn_err *e) {
    size_t n = strlen(path) + 16;
    if (!(*tmp = malloc(n))) return fn_seterr(e, "out of memory");
    snprintf(*tmp, n, "%s.tmpXXXXXX", path);
    int fd = mkstemp(*tmp);
    if (fd >= 0) { /* mkstemp makes 0600: give the file the mode a plain creat() would */
        mode_t um = umask(022);
        umask(um);
        if (fchmod(fd, 0666 & ~um)) { /* not fatal */ }
    }
    if (fd < 0) {
        fn_seterr(e, "%s: %s", path, strerror(errno));
        free(*tmp);
        *tmp = NULL;
        return -1;
    }
    return fd;
}

static int tmp_commit(int fd, const char *tmp, const char *path, fn_err *e) {
    if (fsync(fd) && errno != EINVAL) {
        int err = errno;
        close(fd);
        unlink(tmp);
        return fn_seterr(e, "%s: %s", path, strerror(err));
    }
    if (close(fd)) {
        unlink(tmp);
        return fn_seterr(e, "%s: %s", path, strerror(errno));
    }
    if (rename(tmp, path)) {
        int err = errno;
        unlink(tmp);
        return fn_seterr(e, "%s: %s", path, strerror(err));
    }
    return 0;
}

int fn_out_open(fn_out *o, const char *path, fn_err *e) {
    memset(o, 0, sizeof *o);
    if (!path || !strcmp(path, "-")) {
        o->fd = 1;
        if (isatty(1)) return fn_seterr(e, "refusing to write a binary stream to a terminal (redirect or pipe it)");
        return 0;
    }
    if (!(o->path = strdup(path))) return fn_seterr(e, "out of memory");
    o->fd = tmp_create(path, &o->tmp, e);
    if (o->fd < 0) {
        free(o->path);
        o->path = NULL;
        return -1;
    }
    return 0;
}

int fn_out_write(fn_out *o, const fn_frame *f, fn_err *e) {
    if (fn_frame_write(o->fd, f, e)) {
        if (o->path) {
            char why[sizeof e->msg];
            snprintf(why, sizeof why, "%s", e ? e->msg : "");
            fn_seterr(e, "%s: %s", o->path, why);
        }
        return -1;
    }
    o->frames++;
    return 0;
}

int fn_out_close(fn_out *o, fn_err *e) {
    int rc = 0;
    if (o->path) {
        rc = tmp_commit(o->fd, o->tmp, o->path, e);
        free(o->path);
        free(o->tmp);
    }
    memset(o, 0, sizeof *o);
    return rc;
}

void fn_out_abort(fn_out *o) {
    if (o->path) {
        close(o->fd);
        unlink(o->tmp);
        free(o->path);
        free(o->tmp);
    }
    memset(o, 0, sizeof *o);
}

int fn_atomic_open(fn_atomic *a, const char *path, fn_err *e) {
    memset(a, 0, sizeof *a);
    if (!(a->path = strdup(path))) return fn_seterr(e, "out of memory");
    int fd = tmp_create(path, &a->tmp, e);
    if (fd < 0 || !(a->f = fdopen(fd, "wb"))) {
        if (fd >= 0) {
            close(fd);
            unlink(a->tmp);
            fn_seterr(e, "%s: %s", path, strerror(errno));
        }
        free(a->path);
        free(a->tmp);
        memset(a, 0, sizeof *a);
        return -1;
    }
    return 0;
}

int fn_atomic_commit(fn_atomic *a, fn_err *e) {
    int rc;
    if (fflush(a->f) || ferror(a->f)) {
        rc = fn_seterr(e, "%s: %s", a->path, strerror(errno));
        fclose(a->f);
        unlink(a->tmp);
    } else {
        int fd = dup(fileno(a->f));
        fclose(a->f);
        rc = tmp_commit(fd, a->tmp, a->path, e);
    }
    free(a->path);
    free(a->tmp);
    memset(a, 0, sizeof *a);
    return rc;
}

void fn_atomic_abort(fn_atomic *a) {
    if (a->f) {
        fclose(a->f);
        unlink(a->tmp);
    }
    free(a->path);
    free(a->tmp);
    memset(a, 0, sizeof *a);
}

/* ---- option values ----------------------------------------------------------------------------- */

int fn_parse_size(const char *s, int *h, int *w) {
    char *end;
    errno = 0;
    long a = strtol(s, &end, 10);
    if (end == s || (*end != 'x' && *end != 'X')) return -1;
    const char *p = end + 1;
    long b = strtol(p, &end, 10);
    if (end == p || *end || errno || a < 1 || b < 1 || a > FN_MAX_HW || b > FN_MAX_HW) return -1;
    *h = (int)a;
    *w = (int)b;
    return 0;
}

int fn_parse_int(const char *s, long lo, long hi, long *v) {
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (end == s || *end || errno || x < lo || x > hi) return -1;
    *v = x;
    return 0;
}

int fn_parse_double(const char *s, double *v) {
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(x)) return -1;
    *v = x;
    return 0;
}

int fn_parse_list(const char *s, double *v, int max, int *n) {
    *n = 0;
    const char *p = s;
    for (;;) {
        char *end;
        errno = 0;
        double x = strtod(p, &end);
        if (end == p || errno || !isfinite(x) || *n >= max) return -1;
        v[(*n)++] = x;
        if (*end == 0) return 0;
        if (*end != ',') return -1;
        p = end + 1;
    }
}
