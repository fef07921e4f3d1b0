/* store.c: frames indexed in a file (the input itself, or a spill file for a pipe). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "train/store.h"

struct fn_store {
    int fd;          /* pread from here: the input file, or the spill file */
    int spilled;
    char name[256];  /* the input's name, for messages */
    int n, cap;
    uint64_t *off;   /* [n] byte offset of frame i in fd */
    uint32_t *len;   /* [n] its length (a frame is at most FN_MAX_FRAME_BYTES = 4 GiB) */
};

static int add(fn_store *s, uint64_t off, uint64_t len, fn_err *e) {
    if (len > UINT32_MAX) return fn_seterr(e, "%s: frame %d: larger than 4 GiB", s->name, s->n + 1);
    if (s->n == s->cap) {
        int cap = s->cap ? s->cap * 2 : 1024;
        uint64_t *o = realloc(s->off, sizeof *o * (size_t)cap);
        if (o) s->off = o;
        uint32_t *l = o ? realloc(s->len, sizeof *l * (size_t)cap) : NULL;
        if (!l) return fn_seterr(e, "out of memory indexing %d frames", cap);
        s->len = l;
        s->cap = cap;
    }
    s->off[s->n] = off;
    s->len[s->n++] = (uint32_t)len;
    return 0;
}

/* an unlinked spill file in $TMPDIR or /tmp */
static int spill_open(fn_store *s, fn_err *e) {
    const char *dir = getenv("TMPDIR");
    char path[4200];
    snprintf(path, sizeof path, "%s/fn-train-spill-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) return fn_seterr(e, "%s: cannot create a spill file: %s (set TMPDIR)", path, strerror(errno));
    unlink(path);
    s->fd = fd;
    s->spilled = 1;
    return 0;
}

/* frame f (already read) goes to the end of the spill file: its offset and length in *off, *len */
static int spill_frame(fn_store *s, const fn_frame *f, uint64_t *off, uint64_t *len, fn_err *e) {
    unsigned char *buf;
    size_t n;
    if (fn_frame_pack(f, &buf, &n, e)) return -1;
    off_t at = lseek(s->fd, 0, SEEK_END);
    int rc = at < 0 || fn_write_all(s->fd, buf, n) ? fn_seterr(e, "%s: writing the spill file: %s (set TMPDIR)",
                                                               s->name, strerror(errno))
                                                   : 0;
    free(buf);
    *off = (uint64_t)at;
    *len = n;
    return rc;
}

int fn_store_open(fn_dataset *ds, const char *path, int need_mask, fn_err *e) {
    memset(ds, 0, sizeof *ds);
    fn_store *s = calloc(1, sizeof *s);
    if (!s) return fn_seterr(e, "out of memory");
    s->fd = -1;
    fn_reader *r = fn_reader_open_path(path, e);
    if (!r) { free(s); return -1; }
    snprintf(s->name, sizeof s->name, "%s", fn_reader_name(r));
    int in = strcmp(path, "-") ? open(path, O_RDONLY | O_CLOEXEC) : dup(0);
    struct stat st;
    off_t base = 0;
    if (in >= 0 && fstat(in, &st) == 0 && S_ISREG(st.st_mode) && (base = lseek(in, 0, SEEK_CUR)) >= 0) {
        s->fd = in; /* the file is the store */
    } else {
        if (in >= 0) close(in);
        if (spill_open(s, e)) goto fail;
    }
    float *x = NULL, *y = NULL;
    fn_frame f;
    fn_frame_init(&f);
    int rc;
    uint64_t h = 0, prev = 0;
    while ((rc = fn_reader_next(r, &f, e)) == 1) {
        long k = fn_reader_count(r);
        uint64_t end = fn_reader_bytes(r), off = 0, len = 0;
        if (fn_dataset_frame(ds, &f, s->name, k, need_mask, NULL, NULL, e)) break;
        size_t px = (size_t)ds->c * ds->h * ds->w, py = (size_t)ds->h * ds->w;
        if (!x && (!(x = malloc(sizeof *x * px)) || !(y = malloc(sizeof *y * py)))) {
            fn_seterr(e, "out of memory");
            break;
        }
        if (fn_dataset_frame(ds, &f, s->name, k, need_mask, x, y, e)) break;
        h = fn_fingerprint_frame(h, x, px, need_mask ? y : NULL, py);
        if (s->spilled ? spill_frame(s, &f, &off, &len, e) : 0) break;
        if (!s->spilled) { /* frames follow each other with nothing between them */
            off = (uint64_t)base + prev;
            len = end - prev;
        }
        prev = end;
        if (add(s, off, len, e)) break;
        ds->n++;
        fn_frame_clear(&f);
    }
    fn_frame_clear(&f);
    free(x);
    free(y);
    fn_reader_close(r);
    r = NULL;
    if (rc != 0) goto fail;
    if (ds->n == 0) {
        fn_seterr(e, "%s: no frames", s->name);
        goto fail;
    }
    ds->fp = fn_fingerprint_end(h, ds);
    ds->store = s;
    if (!s->spilled) posix_fadvise(s->fd, 0, 0, POSIX_FADV_RANDOM);
    return 0;
fail:
    if (r) fn_reader_close(r);
    fn_store_close(s);
    memset(ds, 0, sizeof *ds);
    return -1;
}

int fn_store_read(const fn_store *s, int i, float *x, float *y, fn_store_buf *b, fn_err *e) {
    size_t len = s->len[i];
    if (b->cap < len) {
        unsigned char *p = realloc(b->p, len);
        if (!p) return fn_seterr(e, "out of memory");
        b->p = p;
        b->cap = len;
    }
    for (size_t got = 0; got < len;) {
        ssize_t k = pread(s->fd, b->p + got, len - got, (off_t)(s->off[i] + got));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0)
            return fn_seterr(e, "%s: frame %d: %s", s->name, i + 1,
                             k < 0 ? strerror(errno) : "the file became shorter while training");
        got += (size_t)k;
    }
    fn_frame f;
    fn_err fe;
    if (fn_frame_unpack(b->p, len, &f, &fe))
        return fn_seterr(e, "%s: frame %d: %s (the file changed while training?)", s->name, i + 1, fe.msg);
    fn_dataset one = { 0 };
    int rc = fn_dataset_frame(&one, &f, s->name, i + 1, y != NULL, x, y, e);
    fn_frame_clear(&f);
    return rc;
}

void fn_store_buf_free(fn_store_buf *b) {
    free(b->p);
    b->p = NULL;
    b->cap = 0;
}

int fn_store_spilled(const fn_store *s) { return s->spilled; }

void fn_store_close(fn_store *s) {
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    free(s->off);
    free(s->len);
    free(s);
}
