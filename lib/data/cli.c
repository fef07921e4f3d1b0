/* cli.c: what every tool does the same way: messages, output files, option values */
#include <errno.h>
#include <getopt.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "data/cli.h"

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

/* ---- OpenMP's idle threads ---------------------------------------------------------------------- */

/* GNU OpenMP's threads spin at each barrier for a while before they sleep (OMP_WAIT_POLICY unset).
 * Two multi-threaded fn processes on the same cores (fn-parallel -j 2, two recipes at once, a shared
 * machine) then spend their time slices spinning against each other. So every tool starts with
 * OMP_WAIT_POLICY=passive unless OMP_WAIT_POLICY or GOMP_SPINCOUNT is set (OMP_WAIT_POLICY=active
 * restores the spinning). libgomp reads the variable in its own initialiser, before main; this runs
 * from the executable's .preinit_array, which comes before the initialisers of shared libraries. The
 * tools all use this file, so the linker always takes it in. */
static void omp_wait_passive(int argc, char **argv, char **envp) {
    if (!getenv("OMP_WAIT_POLICY") && !getenv("GOMP_SPINCOUNT")) setenv("OMP_WAIT_POLICY", "passive", 0);
}
__attribute__((section(".preinit_array"), used)) static void (*const preinit_omp_wait)(int, char **, char **) =
    omp_wait_passive;

/* ---- atomic files ------------------------------------------------------------------------------ */

/* the file a symlink names, also when it does not exist yet (then one level, relative to the link) */
static char *link_target(const char *path) {
    char *r = realpath(path, NULL), to[PATH_MAX];
    if (r) return r;
    ssize_t n = readlink(path, to, sizeof to - 1);
    if (n <= 0) return NULL;
    to[n] = 0;
    const char *slash = strrchr(path, '/');
    int dirlen = to[0] == '/' || !slash ? 0 : (int)(slash - path + 1);
    size_t len = (size_t)dirlen + (size_t)n + 1;
    if (!(r = malloc(len))) return NULL;
    snprintf(r, len, "%.*s%s", dirlen, path, to);
    return r;
}

/* Where an output named PATH goes. An existing PATH that is not a regular file (a device such as
 * /dev/null, a FIFO, a socket) is written in place: renaming a temporary onto it would replace the
 * device. Otherwise a temporary beside the real file (through a symlink) is made, to be renamed onto it
 * by tmp_commit. Returns the descriptor, with *tmp NULL for in-place and *dest the name to rename onto. */
static int tmp_create(const char *path, char **tmp, char **dest, fn_err *e) {
    struct stat st, lst;
    *tmp = *dest = NULL;
    if (!stat(path, &st) && !S_ISREG(st.st_mode)) {
        int fd = open(path, O_WRONLY | O_CLOEXEC);
        if (fd < 0) return fn_seterr(e, "%s: %s", path, strerror(errno));
        return fd;
    }
    if (!lstat(path, &lst) && S_ISLNK(lst.st_mode)) *dest = link_target(path);
    if (!*dest && !(*dest = strdup(path))) return fn_seterr(e, "out of memory");
    size_t n = strlen(*dest) + 16;
    if (!(*tmp = malloc(n))) {
        free(*dest);
        *dest = NULL;
        return fn_seterr(e, "out of memory");
    }
    snprintf(*tmp, n, "%s.tmpXXXXXX", *dest);
    int fd = mkstemp(*tmp);
    if (fd < 0) {
        fn_seterr(e, "%s: %s", path, strerror(errno));
        free(*tmp);
        free(*dest);
        *tmp = *dest = NULL;
        return -1;
    }
    /* mkstemp makes 0600: give the file the mode a plain creat() would */
    mode_t um = umask(022);
    umask(um);
    if (fchmod(fd, 0666 & ~um)) { /* not fatal */ }
    return fd;
}

/* finish an output: fsync, close, rename the temporary onto dest (in-place outputs: just close) */
static int tmp_commit(int fd, const char *tmp, const char *dest, const char *path, fn_err *e) {
    if (!tmp) {
        if (close(fd)) return fn_seterr(e, "%s: %s", path, strerror(errno));
        return 0;
    }
    if (fsync(fd) && errno != EINVAL) {
        int err = errno;
        close(fd);
        unlink(tmp);
        return fn_seterr(e, "%s: %s", path, strerror(err));
    }
    if (close(fd)) {
        int err = errno;
        unlink(tmp);
        return fn_seterr(e, "%s: %s", path, strerror(err));
    }
    if (rename(tmp, dest)) {
        int err = errno;
        unlink(tmp);
        return fn_seterr(e, "%s: %s", path, strerror(err));
    }
    return 0;
}

static void tmp_discard(int fd, const char *tmp) {
    if (fd >= 0) close(fd);
    if (tmp) unlink(tmp);
}

int fn_out_open(fn_out *o, const char *path, fn_err *e) {
    memset(o, 0, sizeof *o);
    if (!path || !strcmp(path, "-")) {
        o->fd = 1;
        if (isatty(1)) return fn_seterr(e, "refusing to write a binary stream to a terminal (redirect or pipe it)");
        return 0;
    }
    if (!(o->path = strdup(path))) return fn_seterr(e, "out of memory");
    o->fd = tmp_create(path, &o->tmp, &o->dest, e);
    if (o->fd < 0) {
        free(o->path);
        memset(o, 0, sizeof *o);
        return -1;
    }
    if (!o->tmp && isatty(o->fd)) {
        fn_seterr(e, "%s: refusing to write a binary stream to a terminal", path);
        fn_out_abort(o);
        return -1;
    }
    return 0;
}

int fn_out_write(fn_out *o, const fn_frame *f, fn_err *e) {
    if (fn_frame_write(o->fd, f, e)) {
        char why[sizeof e->msg];
        snprintf(why, sizeof why, "%s", e ? e->msg : "");
        fn_seterr(e, "%s: %s", o->path ? o->path : "stdout", why);
        return -1;
    }
    o->frames++;
    return 0;
}

int fn_out_close(fn_out *o, fn_err *e) {
    int rc = 0;
    if (o->path) rc = tmp_commit(o->fd, o->tmp, o->dest, o->path, e);
    free(o->path);
    free(o->tmp);
    free(o->dest);
    memset(o, 0, sizeof *o);
    return rc;
}

void fn_out_abort(fn_out *o) {
    if (o->path) tmp_discard(o->fd, o->tmp);
    free(o->path);
    free(o->tmp);
    free(o->dest);
    memset(o, 0, sizeof *o);
}

int fn_atomic_open(fn_atomic *a, const char *path, fn_err *e) {
    memset(a, 0, sizeof *a);
    if (!(a->path = strdup(path))) return fn_seterr(e, "out of memory");
    int fd = tmp_create(path, &a->tmp, &a->dest, e);
    if (fd >= 0 && !(a->f = fdopen(fd, "wb"))) {
        fn_seterr(e, "%s: %s", path, strerror(errno));
        tmp_discard(fd, a->tmp);
        fd = -1;
    }
    if (fd < 0) {
        free(a->path);
        free(a->tmp);
        free(a->dest);
        memset(a, 0, sizeof *a);
        return -1;
    }
    return 0;
}

int fn_atomic_commit(fn_atomic *a, fn_err *e) {
    int rc;
    if (fflush(a->f) || ferror(a->f)) {
        rc = fn_seterr(e, "%s: %s", a->path, strerror(errno ? errno : EIO));
        fclose(a->f);
        if (a->tmp) unlink(a->tmp);
    } else {
        int fd = dup(fileno(a->f));
        fclose(a->f);
        rc = fd < 0 ? fn_seterr(e, "%s: %s", a->path, strerror(errno))
                    : tmp_commit(fd, a->tmp, a->dest, a->path, e);
        if (fd < 0 && a->tmp) unlink(a->tmp);
    }
    free(a->path);
    free(a->tmp);
    free(a->dest);
    memset(a, 0, sizeof *a);
    return rc;
}

void fn_atomic_abort(fn_atomic *a) {
    if (a->f) {
        fclose(a->f);
        if (a->tmp) unlink(a->tmp);
    }
    free(a->path);
    free(a->tmp);
    free(a->dest);
    memset(a, 0, sizeof *a);
}

/* ---- the frame loop of a filter ---------------------------------------------------------------- */

void fn_filter_run(const char *prog, fn_reader *r, fn_out *out, fn_frame_fn fn, void *ctx) {
    fn_err e;
    fn_frame f;
    int rc;
    while ((rc = fn_reader_next(r, &f, &e)) == 1) {
        int what = fn ? fn(ctx, &f, out, &e) : FN_FRAME_WRITE;
        if (what == FN_FRAME_WRITE && out && fn_out_write(out, &f, &e)) what = FN_FRAME_FAIL;
        if (what < 0) {
            if (out) fn_out_abort(out);
            if (what == FN_FRAME_BAD)
                fn_die(prog, "%s: frame %ld (%s): %s", fn_reader_name(r), fn_reader_count(r), f.id, e.msg);
            fn_die(prog, "%s", e.msg);
        }
        fn_frame_clear(&f);
    }
    if (rc < 0) {
        if (out) fn_out_abort(out);
        fn_die(prog, "%s", e.msg);
    }
    fn_reader_close(r);
    if (out && fn_out_close(out, &e)) fn_die(prog, "%s", e.msg);
}

void fn_filter_main(const char *prog, const char *input, const char *output, fn_frame_fn fn, void *ctx) {
    fn_err e;
    fn_out out;
    fn_reader *r = fn_reader_open_path(input, &e);
    if (!r) fn_die(prog, "%s", e.msg);
    if (fn_out_open(&out, output, &e)) fn_die(prog, "%s", e.msg);
    fn_filter_run(prog, r, &out, fn, ctx);
}

/* ---- options and operands ---------------------------------------------------------------------- */

void fn_usage_getopt(const char *prog, int c, char **argv) {
    /* a long option is named as written (up to any '='); a short one by its letter, also in a bundle */
    const char *arg = optind > 0 ? argv[optind - 1] : "";
    char shortopt[3] = {'-', (char)optopt, 0};
    int is_long = !strncmp(arg, "--", 2);
    int len = is_long ? (int)strcspn(arg, "=") : 2;
    const char *name = is_long || !optopt ? arg : shortopt;
    if (!is_long && !optopt) len = (int)strlen(arg);
    if (c == ':') fn_usage_die(prog, "option '%.*s' needs a value", len, name);
    if (is_long && optopt) fn_usage_die(prog, "option '%.*s' takes no value", len, name);
    fn_usage_die(prog, "unknown option '%.*s'", len, name);
}

const char *fn_input_operand(const char *prog, int argc, char **argv) {
    if (optind >= argc) return "-";
    if (optind + 1 < argc) fn_usage_die(prog, "unexpected operand '%s'", argv[optind + 1]);
    return argv[optind++];
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

int fn_parse_seed(const char *s, uint64_t *seed) {
    long v;
    if (fn_parse_int(s, 0, LONG_MAX, &v)) return -1;
    *seed = (uint64_t)v;
    return 0;
}
