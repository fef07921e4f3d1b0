/* test_stream.c: the fn stream library (lib/data/stream.c) and the atomic outputs of lib/data/cli.c.
 *
 * Round trips of every dtype, concatenated and empty streams, byte-for-byte pass-through of unknown
 * keys and meta, partial reads through a pipe, and the reader's refusals (truncated stream, random
 * bytes, wrong data length, shapes over the limits, missing id), each naming the input and frame. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>
#include <msgpack.h>
#include "check.h"
#include "data/cli.h"
#include "data/stream.h"

/* ---- helpers ------------------------------------------------------------------------------------ */

static uint64_t rs = 88172645463325252ull;
static uint64_t rnd(void) { /* xorshift64: test data only */
    rs ^= rs << 13;
    rs ^= rs >> 7;
    rs ^= rs << 17;
    return rs;
}

static fn_tensor *rand_tensor(fn_dtype dt, int c, int h, int w) {
    fn_tensor *t = fn_tensor_new(dt, c, h, w, NULL);
    unsigned char *p = t->data;
    for (size_t i = 0; i < fn_tensor_bytes(t); i++) p[i] = (unsigned char)rnd();
    return t;
}

/* a frame with the given id and tensors (ownership taken) */
static void make_frame(fn_frame *f, const char *id, fn_tensor *img, fn_tensor *mask, fn_tensor *pred) {
    fn_frame_init(f);
    fn_frame_set_id(f, id, NULL);
    f->image = img;
    f->mask = mask;
    f->pred = pred;
}

/* append the packed bytes of f to a growing buffer */
static void append_frame(unsigned char **buf, size_t *len, const fn_frame *f) {
    unsigned char *b;
    size_t n;
    fn_err e;
    if (fn_frame_pack(f, &b, &n, &e)) {
        fprintf(stderr, "pack: %s\n", e.msg);
        abort();
    }
    *buf = realloc(*buf, *len + n);
    memcpy(*buf + *len, b, n);
    *len += n;
    free(b);
}

/* an fd positioned at the start of a temporary file holding the bytes */
static int fd_of_bytes(const void *b, size_t n) {
    FILE *t = tmpfile();
    if (n) fwrite(b, 1, n, t);
    fflush(t);
    int fd = dup(fileno(t));
    fclose(t);
    lseek(fd, 0, SEEK_SET);
    return fd;
}

/* a pipe whose write end is fed by a thread in chunks of `chunk` bytes (0: random 1..65536) */
struct feeder {
    int fd;
    const unsigned char *b;
    size_t n, chunk;
    pthread_t th;
};

static void *feed(void *arg) {
    struct feeder *fd = arg;
    size_t off = 0;
    while (off < fd->n) {
        size_t k = fd->chunk ? fd->chunk : 1 + rnd() % 65536;
        if (k > fd->n - off) k = fd->n - off;
        if (fn_write_all(fd->fd, fd->b + off, k)) break;
        off += k;
    }
    close(fd->fd);
    return NULL;
}

static int fd_of_feeder(struct feeder *fe, const void *b, size_t n, size_t chunk) {
    int p[2];
    if (pipe(p)) abort();
    *fe = (struct feeder){p[1], b, n, chunk, 0};
    pthread_create(&fe->th, NULL, feed, fe);
    return p[0];
}

/* read every frame of fd into fs (at most max); returns the last fn_reader_next result */
static int read_all(int fd, const char *name, fn_frame *fs, int max, int *n, fn_err *e, uint64_t *bytes) {
    fn_reader *r = fn_reader_open(fd, name, e);
    int rc;
    *n = 0;
    fn_frame tmp;
    while ((rc = fn_reader_next(r, *n < max ? &fs[*n] : &tmp, e)) == 1) {
        if (*n < max) (*n)++;
        else fn_frame_clear(&tmp);
    }
    if (bytes) *bytes = fn_reader_bytes(r);
    fn_reader_close(r);
    return rc;
}

static int tensor_eq(const fn_tensor *a, const fn_tensor *b) {
    if (!a || !b) return a == b;
    return a->dtype == b->dtype && a->c == b->c && a->h == b->h && a->w == b->w &&
           !memcmp(a->data, b->data, fn_tensor_bytes(a));
}

static int frame_eq(const fn_frame *a, const fn_frame *b) {
    unsigned char *x, *y;
    size_t nx, ny;
    if (fn_frame_pack(a, &x, &nx, NULL) || fn_frame_pack(b, &y, &ny, NULL)) return 0;
    int eq = nx == ny && !memcmp(x, y, nx) && tensor_eq(a->image, b->image) && tensor_eq(a->mask, b->mask) &&
             tensor_eq(a->pred, b->pred) && !strcmp(a->id, b->id);
    free(x);
    free(y);
    return eq;
}

/* msgpack packing helpers for crafted frames */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} mp;

static void mp_init(mp *m) {
    msgpack_sbuffer_init(&m->sb);
    msgpack_packer_init(&m->pk, &m->sb, msgpack_sbuffer_write);
}
static void mp_str(mp *m, const char *s) {
    msgpack_pack_str(&m->pk, strlen(s));
    msgpack_pack_str_body(&m->pk, s, strlen(s));
}
/* a tensor map with an explicit shape and data length */
static void mp_tensor(mp *m, const char *dtype, int64_t c, int64_t h, int64_t w, size_t nbytes) {
    msgpack_pack_map(&m->pk, 3);
    mp_str(m, "dtype");
    mp_str(m, dtype);
    mp_str(m, "shape");
    msgpack_pack_array(&m->pk, 3);
    msgpack_pack_int64(&m->pk, c);
    msgpack_pack_int64(&m->pk, h);
    msgpack_pack_int64(&m->pk, w);
    mp_str(m, "data");
    unsigned char *z = calloc(1, nbytes ? nbytes : 1);
    msgpack_pack_bin(&m->pk, nbytes);
    msgpack_pack_bin_body(&m->pk, z, nbytes);
    free(z);
}
/* one frame {id: ID, image: tensor(...)} */
static void mp_image_frame(mp *m, const char *id, const char *dtype, int64_t c, int64_t h, int64_t w, size_t nbytes) {
    msgpack_pack_map(&m->pk, 2);
    mp_str(m, "id");
    mp_str(m, id);
    mp_str(m, "image");
    mp_tensor(m, dtype, c, h, w, nbytes);
}

/* expect reading these bytes to fail at frame `at` after at-1 good frames, with `what` in the message */
static void expect_error(const void *b, size_t n, int at, const char *what) {
    fn_frame fs[8];
    int got;
    fn_err e = {""};
    int rc = read_all(fd_of_bytes(b, n), "bad.fns", fs, 8, &got, &e, NULL);
    CHECKF(rc == -1, "rc %d", rc);
    CHECKF(got == at - 1, "read %d frames before the error, want %d", got, at - 1);
    char pre[64];
    snprintf(pre, sizeof pre, "bad.fns: frame %d: ", at);
    CHECKF(!strncmp(e.msg, pre, strlen(pre)), "message '%s' does not start '%s'", e.msg, pre);
    CHECKF(strstr(e.msg, what) != NULL, "message '%s' lacks '%s'", e.msg, what);
    CHECKF(!strchr(e.msg, '\n'), "message has a newline: '%s'", e.msg);
    for (int i = 0; i < got; i++) fn_frame_clear(&fs[i]);
}

/* ---- round trips -------------------------------------------------------------------------------- */

static void test_roundtrip_every_dtype(void) {
    fn_frame in[3], out[3];
    make_frame(&in[0], "a", rand_tensor(FN_U8, 3, 5, 7), rand_tensor(FN_U8, 1, 5, 7), rand_tensor(FN_F32, 1, 5, 7));
    make_frame(&in[1], "b/\xc3\xa9 x", rand_tensor(FN_U16, 2, 4, 3), NULL, NULL);
    fn_tensor *f = fn_tensor_new(FN_F32, 1, 1, 6, NULL);
    float special[6] = {-0.0f, 1e-45f, 3.4e38f, -1.5f, INFINITY, NAN};
    memcpy(f->data, special, sizeof special);
    make_frame(&in[2], "c", f, NULL, NULL);
    fn_meta_set_str(&in[2], "src", "x.tif", NULL);
    unsigned char *buf = NULL;
    size_t len = 0;
    for (int i = 0; i < 3; i++) append_frame(&buf, &len, &in[i]);
    int n;
    fn_err e;
    uint64_t bytes;
    int rc = read_all(fd_of_bytes(buf, len), "rt", out, 3, &n, &e, &bytes);
    CHECK(rc == 0);
    CHECK(n == 3);
    CHECK(bytes == len);
    for (int i = 0; i < n; i++) {
        CHECKF(frame_eq(&in[i], &out[i]), "frame %d differs", i);
        fn_frame_clear(&out[i]);
    }
    CHECK(n < 3 || !in[1].mask);
    for (int i = 0; i < 3; i++) fn_frame_clear(&in[i]);
    free(buf);
}

static void test_concatenated_streams(void) {
    unsigned char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    fn_frame f;
    char id[16];
    for (int i = 0; i < 5; i++) {
        snprintf(id, sizeof id, "f%d", i);
        make_frame(&f, id, rand_tensor(FN_U8, 1, 3 + i, 2), NULL, NULL);
        append_frame(i < 2 ? &a : &b, i < 2 ? &na : &nb, &f);
        fn_frame_clear(&f);
    }
    unsigned char *ab = malloc(na + nb);
    memcpy(ab, a, na);
    memcpy(ab + na, b, nb);
    fn_frame out[5];
    int n;
    fn_err e;
    uint64_t bytes;
    CHECK(read_all(fd_of_bytes(ab, na + nb), "cat", out, 5, &n, &e, &bytes) == 0);
    CHECK(n == 5);
    CHECK(bytes == na + nb);
    for (int i = 0; i < n; i++) {
        snprintf(id, sizeof id, "f%d", i);
        CHECK(!strcmp(out[i].id, id));
        CHECK(out[i].image->h == 3 + i);
        fn_frame_clear(&out[i]);
    }
    free(a);
    free(b);
    free(ab);
}

static void test_empty_stream(void) {
    fn_err e;
    fn_reader *r = fn_reader_open(fd_of_bytes("", 0), "empty", &e);
    fn_frame f;
    CHECK(fn_reader_next(r, &f, &e) == 0);
    CHECK(fn_reader_next(r, &f, &e) == 0);
    CHECK(fn_reader_count(r) == 0);
    CHECK(fn_reader_bytes(r) == 0);
    CHECK(!strcmp(fn_reader_name(r), "empty"));
    fn_reader_close(r);
}

/* every kind of msgpack value under meta and unknown keys comes back as the same bytes */
static void test_passthrough_bytes(void) {
    mp m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 9);
    mp_str(&m, "id");
    mp_str(&m, "p1");
    mp_str(&m, "image");
    mp_tensor(&m, "u8", 1, 2, 2, 4);
    mp_str(&m, "meta");
    msgpack_pack_map(&m.pk, 7);
    mp_str(&m, "src");
    mp_str(&m, "/data/a b.png");
    mp_str(&m, "orig_h");
    msgpack_pack_int(&m.pk, 300);
    mp_str(&m, "norm_mean");
    msgpack_pack_double(&m.pk, 0.123456789);
    mp_str(&m, "f32");
    msgpack_pack_float(&m.pk, 2.5f);
    mp_str(&m, "neg");
    msgpack_pack_int(&m.pk, -129);
    mp_str(&m, "big");
    msgpack_pack_uint64(&m.pk, UINT64_MAX);
    mp_str(&m, "aug");
    msgpack_pack_array(&m.pk, 2);
    mp_str(&m, "hflip");
    msgpack_pack_double(&m.pk, -0.0);
    /* unknown keys */
    mp_str(&m, "score");
    msgpack_pack_float(&m.pk, 0.75f);
    mp_str(&m, "tags");
    msgpack_pack_array(&m.pk, 5);
    msgpack_pack_nil(&m.pk);
    msgpack_pack_true(&m.pk);
    msgpack_pack_false(&m.pk);
    mp_str(&m, "x");
    msgpack_pack_int(&m.pk, -32);
    mp_str(&m, "nested");
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "a");
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_bin(&m.pk, 3);
    msgpack_pack_bin_body(&m.pk, "\0\1\2", 3);
    msgpack_pack_ext(&m.pk, 4, 7);
    msgpack_pack_ext_body(&m.pk, "abcd", 4);
    mp_str(&m, "ext16");
    msgpack_pack_ext(&m.pk, 300, -3);
    char *big = malloc(70000);
    memset(big, 'q', 70000);
    msgpack_pack_ext_body(&m.pk, big, 300);
    mp_str(&m, "longstr");
    msgpack_pack_str(&m.pk, 70000);
    msgpack_pack_str_body(&m.pk, big, 70000);
    mp_str(&m, "s255");
    msgpack_pack_str(&m.pk, 255);
    msgpack_pack_str_body(&m.pk, big, 255);
    free(big);

    fn_frame f;
    int n;
    fn_err e;
    CHECK(read_all(fd_of_bytes(m.sb.data, m.sb.size), "pt", &f, 1, &n, &e, NULL) == 0);
    CHECK(n == 1);
    if (n == 1) {
        CHECK(f.nmeta == 7);
        CHECK(f.nextra == 6);
        CHECK(f.nextra < 1 || !strcmp(f.extra[0].key, "score"));
        unsigned char *b;
        size_t len;
        CHECK(!fn_frame_pack(&f, &b, &len, &e));
        CHECKF(len == m.sb.size && !memcmp(b, m.sb.data, len), "re-packed %zu bytes vs %zu read", len, m.sb.size);
        free(b);
        double v;
        CHECK(!fn_meta_get_num(&f, "f32", &v) && v == 2.5);
        CHECK(!fn_meta_get_num(&f, "big", &v) && v == 18446744073709551615.0);
        int64_t iv;
        CHECK(fn_meta_get_int(&f, "big", &iv) == -1); /* does not fit int64 */
        CHECK(!fn_meta_get_int(&f, "neg", &iv) && iv == -129);
        CHECK(fn_meta_get_num(&f, "aug", &v) == -1);
        fn_frame_clear(&f);
    }
    msgpack_sbuffer_destroy(&m.sb);
}

/* ---- partial reads ------------------------------------------------------------------------------ */

static void test_pipe_one_byte_at_a_time(void) {
    fn_frame in[3], out[3];
    unsigned char *buf = NULL;
    size_t len = 0;
    make_frame(&in[0], "s0", rand_tensor(FN_U8, 1, 9, 11), rand_tensor(FN_U8, 1, 9, 11), NULL);
    make_frame(&in[1], "s1", rand_tensor(FN_U16, 3, 4, 5), NULL, rand_tensor(FN_F32, 1, 4, 5));
    make_frame(&in[2], "s2", NULL, NULL, NULL);
    fn_meta_set_int(&in[2], "orig_w", 7, NULL);
    for (int i = 0; i < 3; i++) append_frame(&buf, &len, &in[i]);
    struct feeder fe;
    int n;
    fn_err e;
    int rc = read_all(fd_of_feeder(&fe, buf, len, 1), "pipe", out, 3, &n, &e, NULL);
    pthread_join(fe.th, NULL);
    CHECK(rc == 0);
    CHECK(n == 3);
    for (int i = 0; i < n; i++) {
        CHECKF(frame_eq(&in[i], &out[i]), "frame %d differs", i);
        fn_frame_clear(&out[i]);
    }
    for (int i = 0; i < 3; i++) fn_frame_clear(&in[i]);
    free(buf);
}

static void test_pipe_random_chunks_large_frames(void) {
    fn_frame in[3], out[3];
    unsigned char *buf = NULL;
    size_t len = 0;
    make_frame(&in[0], "L0", rand_tensor(FN_F32, 3, 200, 300), rand_tensor(FN_U8, 1, 200, 300), NULL);
    make_frame(&in[1], "L1", rand_tensor(FN_U8, 1, 1, 1), NULL, NULL);
    make_frame(&in[2], "L2", rand_tensor(FN_U16, 3, 700, 500), NULL, NULL);
    for (int i = 0; i < 3; i++) append_frame(&buf, &len, &in[i]);
    struct feeder fe;
    int n;
    fn_err e;
    uint64_t bytes;
    int rc = read_all(fd_of_feeder(&fe, buf, len, 0), "pipe", out, 3, &n, &e, &bytes);
    pthread_join(fe.th, NULL);
    CHECK(rc == 0);
    CHECK(n == 3);
    CHECK(bytes == len);
    for (int i = 0; i < n; i++) {
        CHECKF(frame_eq(&in[i], &out[i]), "frame %d differs", i);
        fn_frame_clear(&out[i]);
    }
    for (int i = 0; i < 3; i++) fn_frame_clear(&in[i]);
    free(buf);
}

/* ---- refusals ----------------------------------------------------------------------------------- */

/* every prefix of a two-frame stream: whole frames come out, then "truncated" for the cut frame */
static void test_truncated_every_prefix(void) {
    fn_frame in[2];
    unsigned char *buf = NULL;
    size_t len = 0, len1;
    make_frame(&in[0], "t0", rand_tensor(FN_U8, 1, 3, 4), NULL, NULL);
    fn_meta_set_str(&in[0], "src", "a.png", NULL);
    append_frame(&buf, &len, &in[0]);
    len1 = len;
    make_frame(&in[1], "t1", rand_tensor(FN_F32, 1, 2, 2), rand_tensor(FN_U8, 1, 2, 2), NULL);
    append_frame(&buf, &len, &in[1]);
    int bad = 0;
    for (size_t cut = 1; cut < len; cut++) {
        fn_frame out[2];
        int n;
        fn_err e = {""};
        int rc = read_all(fd_of_bytes(buf, cut), "cut", out, 2, &n, &e, NULL);
        int want_n = cut >= len1;
        const char *want = cut < len1 ? "cut: frame 1: truncated" : "cut: frame 2: truncated";
        if (cut == len1) {
            if (rc != 0 || n != 1) bad++;
        } else if (rc != -1 || n != want_n || strncmp(e.msg, want, strlen(want))) {
            if (!bad) fprintf(stderr, "  cut %zu: rc %d n %d msg '%s'\n", cut, rc, n, e.msg);
            bad++;
        }
        if (n >= 1) CHECK(frame_eq(&out[0], &in[0]));
        for (int i = 0; i < n; i++) fn_frame_clear(&out[i]);
    }
    CHECKF(bad == 0, "%d prefixes misread", bad);
    fn_frame_clear(&in[0]);
    fn_frame_clear(&in[1]);
    free(buf);
}

static void test_random_bytes(void) {
    unsigned char b[4096];
    int bad = 0;
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 1 + rnd() % sizeof b;
        for (size_t i = 0; i < n; i++) b[i] = (unsigned char)rnd();
        fn_frame out[4];
        int got;
        fn_err e = {""};
        int rc = read_all(fd_of_bytes(b, n), "rnd", out, 4, &got, &e, NULL);
        if (rc != -1 || got != 0 || strncmp(e.msg, "rnd: frame 1: ", 14)) {
            if (!bad) fprintf(stderr, "  trial %d: rc %d frames %d msg '%s'\n", trial, rc, got, e.msg);
            bad++;
        }
        for (int i = 0; i < got; i++) fn_frame_clear(&out[i]);
    }
    CHECKF(bad == 0, "%d random inputs not refused", bad);
    /* random bytes after two good frames: the error names frame 3 */
    unsigned char *buf = NULL;
    size_t len = 0;
    fn_frame f;
    make_frame(&f, "g", rand_tensor(FN_U8, 1, 2, 2), NULL, NULL);
    append_frame(&buf, &len, &f);
    append_frame(&buf, &len, &f);
    fn_frame_clear(&f);
    buf = realloc(buf, len + 2);
    buf[len] = 0xc1; /* never used in msgpack */
    buf[len + 1] = 0x00;
    expect_error(buf, len + 2, 3, "malformed");
    free(buf);
}

/* a few bytes that declare a huge array or map are a truncated frame, not a huge allocation (under
 * AddressSanitizer such an allocation would abort); containers nested deeper than 32 are refused */
static void test_hostile_lengths_and_nesting(void) {
    const unsigned char arr32[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0};
    expect_error(arr32, sizeof arr32, 1, "truncated");
    const unsigned char map32[] = {0x82, 0xa2, 'i', 'd', 0xa1, 'x', 0xa1, 'k', 0xdf, 0x7f, 0xff, 0xff, 0xff, 1, 2};
    expect_error(map32, sizeof map32, 1, "truncated");
    const unsigned char bin32[] = {0x81, 0xa1, 'k', 0xc6, 0xff, 0xff, 0xff, 0xf0, 0};
    expect_error(bin32, sizeof bin32, 1, "truncated");
    unsigned char deep[64];
    for (int i = 0; i < 40; i++) deep[i] = 0x91; /* [[[[...]]]] */
    deep[40] = 0xc0;
    expect_error(deep, 41, 1, "nested deeper than 32");
    /* 31 levels inside a frame are fine (the frame's own map is the 32nd) */
    mp m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "id");
    mp_str(&m, "deep");
    mp_str(&m, "k");
    for (int i = 0; i < 31; i++) msgpack_pack_array(&m.pk, 1);
    msgpack_pack_nil(&m.pk);
    fn_frame f;
    int n;
    fn_err e;
    CHECK(read_all(fd_of_bytes(m.sb.data, m.sb.size), "deep", &f, 1, &n, &e, NULL) == 0 && n == 1);
    if (n == 1) {
        unsigned char *b;
        size_t len;
        CHECK(!fn_frame_pack(&f, &b, &len, &e) && len == m.sb.size && !memcmp(b, m.sb.data, len));
        free(b);
        fn_frame_clear(&f);
    }
    msgpack_sbuffer_destroy(&m.sb);
}

static void test_wrong_data_length(void) {
    size_t sizes[] = {4 * 5 * 6 - 1, 4 * 5 * 6 + 1, 0};
    for (int i = 0; i < 3; i++) {
        mp m;
        mp_init(&m);
        mp_image_frame(&m, "ok", "u16", 1, 2, 3, 12);
        mp_image_frame(&m, "w", "f32", 1, 5, 6, sizes[i]);
        expect_error(m.sb.data, m.sb.size, 2, "'image' data has");
        msgpack_sbuffer_destroy(&m.sb);
    }
}

static void test_shape_limits(void) {
    struct { const char *dt; int64_t c, h, w; const char *what; } cases[] = {
        {"u8", 17, 1, 1, "outside the limits"},   {"u8", 1, 65537, 1, "outside the limits"},
        {"u8", 1, 1, 65537, "outside the limits"}, {"u8", 0, 4, 4, "outside the limits"},
        {"u8", 1, -1, 4, "shape is not 3 positive integers"}, {"f64", 1, 1, 1, "unknown dtype"},
        {"u8", 1, 4294967296LL, 1, "outside the limits"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        mp m;
        mp_init(&m);
        mp_image_frame(&m, "x", cases[i].dt, cases[i].c, cases[i].h, cases[i].w, 1);
        expect_error(m.sb.data, m.sb.size, 1, cases[i].what);
        msgpack_sbuffer_destroy(&m.sb);
    }
    /* a shape of two numbers, a tensor that is not a map, a tensor without data */
    mp m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "id");
    mp_str(&m, "x");
    mp_str(&m, "mask");
    msgpack_pack_map(&m.pk, 3);
    mp_str(&m, "dtype");
    mp_str(&m, "u8");
    mp_str(&m, "shape");
    msgpack_pack_array(&m.pk, 2);
    msgpack_pack_int(&m.pk, 2);
    msgpack_pack_int(&m.pk, 2);
    mp_str(&m, "data");
    msgpack_pack_bin(&m.pk, 4);
    msgpack_pack_bin_body(&m.pk, "abcd", 4);
    expect_error(m.sb.data, m.sb.size, 1, "shape is not [C, H, W]");
    msgpack_sbuffer_clear(&m.sb);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "id");
    mp_str(&m, "x");
    mp_str(&m, "pred");
    msgpack_pack_int(&m.pk, 5);
    expect_error(m.sb.data, m.sb.size, 1, "'pred' is not a tensor map");
    msgpack_sbuffer_destroy(&m.sb);
}

static void test_missing_or_bad_id(void) {
    mp m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "image");
    mp_tensor(&m, "u8", 1, 1, 1, 1);
    expect_error(m.sb.data, m.sb.size, 1, "no 'id'");
    msgpack_sbuffer_clear(&m.sb);
    mp_image_frame(&m, "good", "u8", 1, 1, 1, 1);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "id");
    msgpack_pack_int(&m.pk, 3);
    expect_error(m.sb.data, m.sb.size, 2, "'id' is not a non-empty string");
    msgpack_sbuffer_clear(&m.sb);
    msgpack_pack_map(&m.pk, 1);
    mp_str(&m, "id");
    mp_str(&m, "");
    expect_error(m.sb.data, m.sb.size, 1, "'id' is not a non-empty string");
    msgpack_sbuffer_clear(&m.sb);
    msgpack_pack_array(&m.pk, 0); /* not a map at all */
    expect_error(m.sb.data, m.sb.size, 1, "not a frame");
    msgpack_sbuffer_destroy(&m.sb);
}

static void test_mask_and_pred_types(void) {
    mp m;
    mp_init(&m);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "id");
    mp_str(&m, "m");
    mp_str(&m, "mask");
    mp_tensor(&m, "u16", 1, 2, 2, 8);
    expect_error(m.sb.data, m.sb.size, 1, "'mask' must be u8 with 1 channel");
    msgpack_sbuffer_clear(&m.sb);
    msgpack_pack_map(&m.pk, 2);
    mp_str(&m, "id");
    mp_str(&m, "m");
    mp_str(&m, "pred");
    mp_tensor(&m, "f32", 2, 2, 2, 32);
    expect_error(m.sb.data, m.sb.size, 1, "'pred' must be f32 with 1 channel");
    msgpack_sbuffer_destroy(&m.sb);
}

static void test_open_path_errors(void) {
    fn_err e = {""};
    CHECK(fn_reader_open_path("/nonexistent/x.fns", &e) == NULL);
    CHECK(strstr(e.msg, "/nonexistent/x.fns") != NULL);
    fn_reader *r = fn_reader_open_path("-", &e);
    CHECK(r && !strcmp(fn_reader_name(r), "stdin"));
    fn_reader_close(r);
}

/* ---- meta --------------------------------------------------------------------------------------- */

static void test_meta_get_set_del(void) {
    fn_frame f;
    fn_err e;
    char s[64];
    int64_t iv;
    double dv;
    make_frame(&f, "m", NULL, NULL, NULL);
    CHECK(!f.has_meta);
    CHECK(fn_meta_get_str(&f, "src", s, sizeof s) == -1);
    CHECK(fn_meta_del(&f, "src") == -1);
    CHECK(!fn_meta_set_str(&f, "src", "dir/img.png", &e));
    CHECK(f.has_meta);
    CHECK(!fn_meta_set_int(&f, "orig_h", 584, &e));
    CHECK(!fn_meta_set_num(&f, "norm_mean", 0.25, &e));
    CHECK(!fn_meta_set_int(&f, "neg", -70000, &e));
    CHECK(!fn_meta_get_str(&f, "src", s, sizeof s) && !strcmp(s, "dir/img.png"));
    CHECK(!fn_meta_get_str(&f, "src", s, 4) && !strcmp(s, "dir")); /* truncated, terminated */
    CHECK(!fn_meta_get_int(&f, "orig_h", &iv) && iv == 584);
    CHECK(!fn_meta_get_num(&f, "orig_h", &dv) && dv == 584);
    CHECK(!fn_meta_get_int(&f, "neg", &iv) && iv == -70000);
    CHECK(!fn_meta_get_num(&f, "norm_mean", &dv) && dv == 0.25);
    CHECK(fn_meta_get_int(&f, "norm_mean", &iv) == -1);
    CHECK(fn_meta_get_str(&f, "orig_h", s, sizeof s) == -1);
    CHECK(fn_meta_get_num(&f, "src", &dv) == -1);
    /* replacing keeps the position; the type may change */
    CHECK(!fn_meta_set_str(&f, "orig_h", "tall", &e));
    CHECK(f.nmeta == 4 && !strcmp(f.meta[1].key, "orig_h"));
    CHECK(!fn_meta_get_str(&f, "orig_h", s, sizeof s) && !strcmp(s, "tall"));
    CHECK(fn_meta_get_int(&f, "orig_h", &iv) == -1);
    CHECK(!fn_meta_del(&f, "orig_h"));
    CHECK(f.nmeta == 3 && !strcmp(f.meta[0].key, "src") && !strcmp(f.meta[1].key, "norm_mean") &&
          !strcmp(f.meta[2].key, "neg"));
    CHECK(fn_meta_get_str(&f, "orig_h", s, sizeof s) == -1);
    /* meta survives a round trip, in order */
    unsigned char *b;
    size_t n;
    CHECK(!fn_frame_pack(&f, &b, &n, &e));
    fn_frame g;
    int got;
    CHECK(read_all(fd_of_bytes(b, n), "meta", &g, 1, &got, &e, NULL) == 0 && got == 1);
    if (got == 1) {
        CHECK(g.has_meta && g.nmeta == 3);
        CHECK(!fn_meta_get_num(&g, "norm_mean", &dv) && dv == 0.25);
        CHECK(frame_eq(&f, &g));
        fn_frame_clear(&g);
    }
    free(b);
    /* deleting the last key keeps an empty meta map */
    fn_meta_del(&f, "src");
    fn_meta_del(&f, "norm_mean");
    fn_meta_del(&f, "neg");
    CHECK(f.nmeta == 0 && f.has_meta);
    fn_frame_clear(&f);
}

static void test_frame_copy_is_deep(void) {
    fn_frame a, b;
    fn_err e;
    make_frame(&a, "orig", rand_tensor(FN_U8, 1, 4, 4), rand_tensor(FN_U8, 1, 4, 4), NULL);
    fn_meta_set_str(&a, "src", "a", NULL);
    CHECK(!fn_frame_copy(&b, &a, &e));
    CHECK(frame_eq(&a, &b));
    CHECK(b.image->data != a.image->data);
    ((uint8_t *)b.image->data)[0] ^= 1;
    fn_meta_set_str(&b, "src", "b", NULL);
    fn_frame_set_id(&b, "copy", NULL);
    char s[8];
    CHECK(!fn_meta_get_str(&a, "src", s, sizeof s) && !strcmp(s, "a"));
    CHECK(!strcmp(a.id, "orig"));
    CHECK(!frame_eq(&a, &b));
    fn_frame_clear(&a);
    fn_frame_clear(&b);
}

/* ---- atomic outputs ----------------------------------------------------------------------------- */

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.') n++;
    closedir(d);
    return n;
}

static void test_out_atomic_file(void) {
    char dir[] = "/tmp/fn-test-stream.XXXXXX", path[128], bogus[160];
    fn_err e;
    fn_out o;
    if (!mkdtemp(dir)) abort();
    snprintf(path, sizeof path, "%s/out.fns", dir);
    fn_frame f;
    make_frame(&f, "o", rand_tensor(FN_U8, 1, 2, 2), NULL, NULL);

    CHECK(!fn_out_open(&o, path, &e));
    CHECK(!fn_out_write(&o, &f, &e));
    CHECK(!fn_out_write(&o, &f, &e));
    CHECK(o.frames == 2);
    CHECK(access(path, F_OK) != 0);       /* nothing under the name before close */
    CHECK(count_entries(dir) == 1);       /* just the temporary */
    CHECK(!fn_out_close(&o, &e));
    CHECK(count_entries(dir) == 1);
    fn_frame out[3];
    int n;
    CHECK(read_all(open(path, O_RDONLY), path, out, 3, &n, &e, NULL) == 0 && n == 2);
    for (int i = 0; i < n; i++) fn_frame_clear(&out[i]);

    /* an aborted output leaves the old file as it was and no temporary */
    struct stat st0, st1;
    stat(path, &st0);
    CHECK(!fn_out_open(&o, path, &e));
    CHECK(!fn_out_write(&o, &f, &e));
    fn_out_abort(&o);
    stat(path, &st1);
    CHECK(st0.st_size == st1.st_size && st0.st_ino == st1.st_ino);
    CHECK(count_entries(dir) == 1);

    /* a folder that does not exist: the message names the path */
    snprintf(bogus, sizeof bogus, "%s/no/such.fns", dir);
    CHECK(fn_out_open(&o, bogus, &e) == -1);
    CHECK(strstr(e.msg, bogus) != NULL);

    /* fn_atomic: the same for side files */
    fn_atomic a;
    char side[160];
    snprintf(side, sizeof side, "%s/stats.json", dir);
    CHECK(!fn_atomic_open(&a, side, &e));
    fprintf(a.f, "{\"mean\": 1}\n");
    CHECK(access(side, F_OK) != 0);
    CHECK(!fn_atomic_commit(&a, &e));
    CHECK(access(side, F_OK) == 0);
    CHECK(!fn_atomic_open(&a, side, &e));
    fprintf(a.f, "half");
    fn_atomic_abort(&a);
    stat(side, &st1);
    CHECK(st1.st_size == 12);
    CHECK(count_entries(dir) == 2);

    unlink(side);
    unlink(path);
    rmdir(dir);
    fn_frame_clear(&f);
}

/* outputs that are not regular files are written in place, never renamed over (as root, a rename
 * onto /dev/null would replace the device); a symlink stays a symlink and its target is replaced */
static void test_out_special_files(void) {
    char dir[] = "/tmp/fn-test-stream.XXXXXX", fifo[128], target[128], link[128];
    fn_err e;
    fn_out o;
    fn_atomic a;
    struct stat st;
    if (!mkdtemp(dir)) abort();
    fn_frame f;
    make_frame(&f, "s", rand_tensor(FN_U8, 1, 2, 2), NULL, NULL);

    CHECK(!fn_out_open(&o, "/dev/null", &e));
    CHECK(o.tmp == NULL);
    CHECK(!fn_out_write(&o, &f, &e));
    CHECK(!fn_out_close(&o, &e));
    CHECK(!fn_atomic_open(&a, "/dev/null", &e));
    fprintf(a.f, "x");
    CHECK(!fn_atomic_commit(&a, &e));
    CHECK(!stat("/dev/null", &st) && S_ISCHR(st.st_mode));

    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    CHECK(!mkfifo(fifo, 0600));
    int rd = open(fifo, O_RDONLY | O_NONBLOCK);
    CHECK(!fn_out_open(&o, fifo, &e));
    CHECK(!fn_out_write(&o, &f, &e));
    CHECK(!fn_out_close(&o, &e));
    char buf[256];
    CHECK(read(rd, buf, sizeof buf) > 0);
    close(rd);
    CHECK(!stat(fifo, &st) && S_ISFIFO(st.st_mode));

    snprintf(target, sizeof target, "%s/target.fns", dir);
    snprintf(link, sizeof link, "%s/link.fns", dir);
    CHECK(!symlink("target.fns", link));
    CHECK(!fn_out_open(&o, link, &e));
    CHECK(!fn_out_write(&o, &f, &e));
    CHECK(!fn_out_close(&o, &e));
    CHECK(!lstat(link, &st) && S_ISLNK(st.st_mode));
    CHECK(!stat(target, &st) && S_ISREG(st.st_mode) && st.st_size > 0);
    CHECK(count_entries(dir) == 3);

    unlink(link);
    unlink(target);
    unlink(fifo);
    rmdir(dir);
    fn_frame_clear(&f);
}

/* stdout on a terminal is refused */
static void test_out_refuses_terminal(void) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) || unlockpt(m)) {
        printf("  (no pty: skipped)\n");
        return;
    }
    int s = open(ptsname(m), O_RDWR | O_NOCTTY);
    int saved = dup(1);
    fflush(stdout);
    dup2(s, 1);
    fn_out o;
    fn_err e = {""};
    int rc = fn_out_open(&o, NULL, &e);
    dup2(saved, 1);
    close(saved);
    close(s);
    close(m);
    CHECK(rc == -1);
    CHECK(strstr(e.msg, "terminal") != NULL);
    /* and a pipe is fine */
    int p[2];
    if (pipe(p)) abort();
    saved = dup(1);
    dup2(p[1], 1);
    rc = fn_out_open(&o, "-", &e);
    dup2(saved, 1);
    close(saved);
    close(p[0]);
    close(p[1]);
    CHECK(rc == 0);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN); /* a feeder thread must not kill the test if the reader stops early */
    RUN(test_roundtrip_every_dtype);
    RUN(test_concatenated_streams);
    RUN(test_empty_stream);
    RUN(test_passthrough_bytes);
    RUN(test_pipe_one_byte_at_a_time);
    RUN(test_pipe_random_chunks_large_frames);
    RUN(test_truncated_every_prefix);
    RUN(test_random_bytes);
    RUN(test_hostile_lengths_and_nesting);
    RUN(test_wrong_data_length);
    RUN(test_shape_limits);
    RUN(test_missing_or_bad_id);
    RUN(test_mask_and_pred_types);
    RUN(test_open_path_errors);
    RUN(test_meta_get_set_del);
    RUN(test_frame_copy_is_deep);
    RUN(test_out_atomic_file);
    RUN(test_out_special_files);
    RUN(test_out_refuses_terminal);
    return check_report();
}
