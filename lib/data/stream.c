/* stream.c: reading and writing fn frames (msgpack maps) on file descriptors.
 *
 * Reading uses msgpack-c's streaming unpacker, fed with whatever read() returns, so partial reads
 * from pipes are fine; a small framing scanner finds where each frame ends first (see fn_scan).
 * Values of unknown keys and meta entries are kept re-packed from the parsed object: for any stream
 * written by a standard (minimal-encoding) msgpack packer that is the same bytes as were read. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/uio.h>
#include <msgpack.h>
#include "data/stream.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "fn streams are little-endian and this code assumes a little-endian host"
#endif

/* reads go into the unpacker's buffer READ_CHUNK at a time (the fuzzing build makes it small, so
 * that the buffer's growth is exercised and an input does not cost a 1 MiB allocation), and all of a
 * payload of up to READ_LARGE at once (below) */
#ifndef FN_READ_CHUNK
#define FN_READ_CHUNK (1u << 20)
#endif
#define READ_CHUNK ((size_t)FN_READ_CHUNK)
#define READ_LARGE ((size_t)256 << 20)

/* The framing scanner: walks the msgpack structure of the bytes as they arrive, without building
 * anything, to find where each frame ends. The unpacker is only asked for a frame once the scanner
 * has seen all of it, so every array or map length it allocates for is backed by bytes that were
 * really read (a few bytes that claim a 2^32-element array cannot make it allocate 64 GiB), and it
 * parses each frame in one go, which keeps it from copying a partly parsed frame on every read. */
#define SCAN_DEPTH 32 /* msgpack-c's limit (MSGPACK_EMBED_STACK_SIZE) */

typedef struct {
    uint64_t skip;          /* payload bytes still to pass over */
    unsigned char hdr[9];   /* a header split across reads */
    int hlen, hneed;
    int depth;              /* open non-empty containers */
    uint64_t left[SCAN_DEPTH]; /* items still to come in each */
    uint64_t msg;           /* bytes of the frame being scanned so far */
    int bad;                /* 1: not msgpack, 2: nested too deeply, 3: frame too large */
} fn_scan;

struct fn_reader {
    int fd;
    char *name;
    long frames;
    uint64_t bytes;
    int eof;
    long ready; /* whole frames in the unpacker's buffer, not yet returned */
    fn_scan scan;
    msgpack_unpacker unp;
    msgpack_unpacked res;
};

/* ---- frames ------------------------------------------------------------------------------------ */

void fn_frame_init(fn_frame *f) { memset(f, 0, sizeof *f); }

static void raw_free(fn_raw *r, int n) {
    for (int i = 0; i < n; i++) {
        free(r[i].key);
        free(r[i].val);
    }
    free(r);
}

void fn_frame_clear(fn_frame *f) {
    free(f->id);
    fn_tensor_free(f->image);
    fn_tensor_free(f->mask);
    fn_tensor_free(f->pred);
    fn_tensor_free(f->roi);
    raw_free(f->meta, f->nmeta);
    raw_free(f->extra, f->nextra);
    fn_frame_init(f);
}

static int raw_copy(fn_raw **dst, const fn_raw *src, int n) {
    *dst = NULL;
    if (!n) return 0;
    if (!(*dst = calloc(n, sizeof **dst))) return -1;
    for (int i = 0; i < n; i++) {
        (*dst)[i].key = strdup(src[i].key);
        (*dst)[i].val = malloc(src[i].len ? src[i].len : 1);
        (*dst)[i].len = src[i].len;
        if (!(*dst)[i].key || !(*dst)[i].val) return -1;
        memcpy((*dst)[i].val, src[i].val, src[i].len);
    }
    return 0;
}

int fn_frame_copy(fn_frame *dst, const fn_frame *src, fn_err *e) {
    fn_frame_init(dst);
    dst->has_meta = src->has_meta;
    dst->nmeta = src->nmeta;
    dst->nextra = src->nextra;
    int bad = (src->id && !(dst->id = strdup(src->id)));
    const fn_tensor *s[4] = {src->image, src->mask, src->pred, src->roi};
    fn_tensor **d[4] = {&dst->image, &dst->mask, &dst->pred, &dst->roi};
    for (int i = 0; i < 4 && !bad; i++)
        if (s[i] && !(*d[i] = fn_tensor_clone(s[i], e))) bad = 1;
    if (!bad && (raw_copy(&dst->meta, src->meta, src->nmeta) || raw_copy(&dst->extra, src->extra, src->nextra)))
        bad = 1;
    if (bad) {
        fn_frame_clear(dst);
        return fn_seterr(e, "out of memory copying a frame");
    }
    return 0;
}

int fn_frame_set_id(fn_frame *f, const char *id, fn_err *e) {
    char *s = strdup(id);
    if (!s) return fn_seterr(e, "out of memory");
    free(f->id);
    f->id = s;
    return 0;
}

void fn_frame_set_tensor(fn_tensor **slot, fn_tensor *t) {
    if (*slot != t) fn_tensor_free(*slot);
    *slot = t;
}

/* ---- meta -------------------------------------------------------------------------------------- */

static fn_raw *meta_find(const fn_frame *f, const char *key) {
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta[i].key, key)) return &f->meta[i];
    return NULL;
}

static int meta_unpack(const fn_raw *r, msgpack_unpacked *u) {
    msgpack_unpacked_init(u);
    size_t off = 0;
    if (msgpack_unpack_next(u, (const char *)r->val, r->len, &off) != MSGPACK_UNPACK_SUCCESS) {
        msgpack_unpacked_destroy(u);
        return -1;
    }
    return 0;
}

int fn_meta_get_str(const fn_frame *f, const char *key, char *buf, size_t n) {
    fn_raw *r = meta_find(f, key);
    msgpack_unpacked u;
    if (!r || meta_unpack(r, &u)) return -1;
    int rc = -1;
    if (u.data.type == MSGPACK_OBJECT_STR && n > 0) {
        size_t l = u.data.via.str.size < n - 1 ? u.data.via.str.size : n - 1;
        if (l) memcpy(buf, u.data.via.str.ptr, l);
        buf[l] = 0;
        rc = 0;
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

int fn_meta_get_int(const fn_frame *f, const char *key, int64_t *v) {
    fn_raw *r = meta_find(f, key);
    msgpack_unpacked u;
    if (!r || meta_unpack(r, &u)) return -1;
    int rc = 0;
    if (u.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER && u.data.via.u64 <= INT64_MAX) *v = (int64_t)u.data.via.u64;
    else if (u.data.type == MSGPACK_OBJECT_NEGATIVE_INTEGER) *v = u.data.via.i64;
    else rc = -1;
    msgpack_unpacked_destroy(&u);
    return rc;
}

int fn_meta_get_num(const fn_frame *f, const char *key, double *v) {
    fn_raw *r = meta_find(f, key);
    msgpack_unpacked u;
    if (!r || meta_unpack(r, &u)) return -1;
    int rc = 0;
    switch (u.data.type) {
    case MSGPACK_OBJECT_POSITIVE_INTEGER: *v = (double)u.data.via.u64; break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER: *v = (double)u.data.via.i64; break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64: *v = u.data.via.f64; break;
    default: rc = -1;
    }
    msgpack_unpacked_destroy(&u);
    return rc;
}

/* put a packed value under key, replacing in place or appending; takes ownership of val */
static int meta_put(fn_frame *f, const char *key, msgpack_sbuffer *sb, fn_err *e) {
    fn_raw *r = meta_find(f, key);
    if (!r) {
        fn_raw *m = realloc(f->meta, (f->nmeta + 1) * sizeof *m);
        if (!m) goto nomem;
        f->meta = m;
        r = &m[f->nmeta];
        if (!(r->key = strdup(key))) goto nomem;
        r->val = NULL;
        f->nmeta++;
    }
    free(r->val);
    r->val = (unsigned char *)sb->data;
    r->len = sb->size;
    f->has_meta = 1;
    return 0;
nomem:
    msgpack_sbuffer_destroy(sb);
    return fn_seterr(e, "out of memory");
}

int fn_meta_set_str(fn_frame *f, const char *key, const char *v, fn_err *e) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    size_t n = strlen(v);
    msgpack_pack_str(&pk, n);
    msgpack_pack_str_body(&pk, v, n);
    return meta_put(f, key, &sb, e);
}

int fn_meta_set_int(fn_frame *f, const char *key, int64_t v, fn_err *e) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_int64(&pk, v);
    return meta_put(f, key, &sb, e);
}

int fn_meta_set_num(fn_frame *f, const char *key, double v, fn_err *e) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_double(&pk, v);
    return meta_put(f, key, &sb, e);
}

int fn_meta_del(fn_frame *f, const char *key) {
    fn_raw *r = meta_find(f, key);
    if (!r) return -1;
    free(r->key);
    free(r->val);
    int i = (int)(r - f->meta);
    memmove(r, r + 1, (f->nmeta - i - 1) * sizeof *r);
    f->nmeta--;
    return 0;
}

/* ---- decoding one frame from a parsed object -------------------------------------------------- */

static int key_is(const msgpack_object *k, const char *s) {
    size_t n = strlen(s);
    return k->type == MSGPACK_OBJECT_STR && k->via.str.size == n && !memcmp(k->via.str.ptr, s, n);
}

static char *obj_strdup(const msgpack_object *o) {
    char *s = malloc(o->via.str.size + 1);
    if (s) {
        if (o->via.str.size) memcpy(s, o->via.str.ptr, o->via.str.size); /* an empty str may have no ptr */
        s[o->via.str.size] = 0;
    }
    return s;
}

/* at least the bytes o packs to: the buffer pack_obj starts with, so that a value holding a large
 * tensor (native_mask) is packed without growing and copying it a dozen times */
static size_t packed_bound(const msgpack_object *o) {
    size_t n = 9;
    switch (o->type) {
    case MSGPACK_OBJECT_STR: return n + o->via.str.size;
    case MSGPACK_OBJECT_BIN: return n + o->via.bin.size;
    case MSGPACK_OBJECT_EXT: return n + 1 + o->via.ext.size;
    case MSGPACK_OBJECT_ARRAY:
        for (uint32_t i = 0; i < o->via.array.size; i++) n += packed_bound(&o->via.array.ptr[i]);
        return n;
    case MSGPACK_OBJECT_MAP:
        for (uint32_t i = 0; i < o->via.map.size; i++)
            n += packed_bound(&o->via.map.ptr[i].key) + packed_bound(&o->via.map.ptr[i].val);
        return n;
    default: return n;
    }
}

static int pack_obj(const msgpack_object *o, fn_raw *r, const msgpack_object *key) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    size_t bound = packed_bound(o);
    if (bound > 4096 && (sb.data = malloc(bound))) sb.alloc = bound;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, *o);
    r->val = (unsigned char *)sb.data;
    r->len = sb.size;
    r->key = obj_strdup(key);
    return r->key && (r->val || !sb.size) ? 0 : -1;
}

/* a tensor map {"dtype","shape","data"}; what names the key in messages */
static int decode_tensor(const msgpack_object *o, const char *what, fn_tensor **out, fn_err *e) {
    if (o->type != MSGPACK_OBJECT_MAP) return fn_seterr(e, "'%s' is not a tensor map", what);
    const msgpack_object *dt = NULL, *sh = NULL, *da = NULL;
    for (uint32_t i = 0; i < o->via.map.size; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (key_is(&kv->key, "dtype")) dt = &kv->val;
        else if (key_is(&kv->key, "shape")) sh = &kv->val;
        else if (key_is(&kv->key, "data")) da = &kv->val;
    }
    if (!dt || !sh || !da) return fn_seterr(e, "'%s' lacks %s", what, !dt ? "dtype" : !sh ? "shape" : "data");
    char dts[8] = "";
    fn_dtype t;
    if (dt->type == MSGPACK_OBJECT_STR && dt->via.str.size && dt->via.str.size < sizeof dts)
        memcpy(dts, dt->via.str.ptr, dt->via.str.size);
    if (fn_dtype_parse(dts, &t)) return fn_seterr(e, "'%s' has an unknown dtype (u8, u16 or f32)", what);
    if (sh->type != MSGPACK_OBJECT_ARRAY || sh->via.array.size != 3)
        return fn_seterr(e, "'%s' shape is not [C, H, W]", what);
    int64_t d[3];
    for (int i = 0; i < 3; i++) {
        const msgpack_object *v = &sh->via.array.ptr[i];
        if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER) return fn_seterr(e, "'%s' shape is not 3 positive integers", what);
        d[i] = v->via.u64 > INT_MAX ? INT_MAX : (int64_t)v->via.u64;
    }
    if (d[0] < 1 || d[1] < 1 || d[2] < 1 || d[0] > FN_MAX_C || d[1] > FN_MAX_HW || d[2] > FN_MAX_HW)
        return fn_seterr(e, "'%s' shape [%lld,%lld,%lld] is outside the limits (C <= %d, H, W <= %d)", what,
                         (long long)d[0], (long long)d[1], (long long)d[2], FN_MAX_C, FN_MAX_HW);
    if (da->type != MSGPACK_OBJECT_BIN) return fn_seterr(e, "'%s' data is not binary", what);
    size_t want = (size_t)d[0] * d[1] * d[2] * fn_dtype_size(t);
    if (da->via.bin.size != want)
        return fn_seterr(e, "'%s' data has %u bytes, shape [%lld,%lld,%lld] %s needs %zu", what, da->via.bin.size,
                         (long long)d[0], (long long)d[1], (long long)d[2], dts, want);
    fn_tensor *x = fn_tensor_alloc(t, (int)d[0], (int)d[1], (int)d[2], e); /* copied over whole below */
    if (!x) return -1;
    memcpy(x->data, da->via.bin.ptr, want);
    *out = x;
    return 0;
}

static int decode_frame(const msgpack_object *o, fn_frame *f, fn_err *e) {
    if (o->type != MSGPACK_OBJECT_MAP) return fn_seterr(e, "not a frame (a msgpack map)");
    uint32_t n = o->via.map.size;
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key, *v = &o->via.map.ptr[i].val;
        if (k->type != MSGPACK_OBJECT_STR) return fn_seterr(e, "a key is not a string");
        if (key_is(k, "id")) {
            if (v->type != MSGPACK_OBJECT_STR || !v->via.str.size) return fn_seterr(e, "'id' is not a non-empty string");
            free(f->id);
            if (!(f->id = obj_strdup(v))) return fn_seterr(e, "out of memory");
        } else if (key_is(k, "image") || key_is(k, "mask") || key_is(k, "pred") || key_is(k, "roi")) {
            fn_tensor **slot = key_is(k, "image") ? &f->image : key_is(k, "mask") ? &f->mask
                             : key_is(k, "pred")  ? &f->pred  : &f->roi;
            const char *nm = slot == &f->image ? "image" : slot == &f->mask ? "mask" : slot == &f->pred ? "pred" : "roi";
            fn_tensor *t = NULL;
            if (decode_tensor(v, nm, &t, e)) return -1;
            fn_frame_set_tensor(slot, t);
        } else if (key_is(k, "meta")) {
            if (v->type != MSGPACK_OBJECT_MAP) return fn_seterr(e, "'meta' is not a map");
            f->has_meta = 1;
            uint32_t m = v->via.map.size;
            raw_free(f->meta, f->nmeta);
            f->nmeta = 0;
            if (!(f->meta = calloc(m ? m : 1, sizeof *f->meta))) return fn_seterr(e, "out of memory");
            for (uint32_t j = 0; j < m; j++) {
                if (v->via.map.ptr[j].key.type != MSGPACK_OBJECT_STR) return fn_seterr(e, "a 'meta' key is not a string");
                if (pack_obj(&v->via.map.ptr[j].val, &f->meta[j], &v->via.map.ptr[j].key)) return fn_seterr(e, "out of memory");
                f->nmeta++;
            }
        } else {
            fn_raw *x = realloc(f->extra, (f->nextra + 1) * sizeof *x);
            if (!x) return fn_seterr(e, "out of memory");
            f->extra = x;
            memset(&x[f->nextra], 0, sizeof *x);
            f->nextra++;
            if (pack_obj(v, &x[f->nextra - 1], k)) return fn_seterr(e, "out of memory");
        }
    }
    if (!f->id) return fn_seterr(e, "frame has no 'id'");
    if (f->mask && (f->mask->dtype != FN_U8 || f->mask->c != 1))
        return fn_seterr(e, "'mask' must be u8 with 1 channel, got %s with %d", fn_dtype_name(f->mask->dtype), f->mask->c);
    if (f->pred && (f->pred->dtype != FN_F32 || f->pred->c != 1))
        return fn_seterr(e, "'pred' must be f32 with 1 channel, got %s with %d", fn_dtype_name(f->pred->dtype), f->pred->c);
    if (f->roi && (f->roi->dtype != FN_U8 || f->roi->c != 1))
        return fn_seterr(e, "'roi' must be u8 with 1 channel, got %s with %d", fn_dtype_name(f->roi->dtype), f->roi->c);
    return 0;
}

/* ---- reader ------------------------------------------------------------------------------------ */

fn_reader *fn_reader_open(int fd, const char *name, fn_err *e) {
    fn_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->name = strdup(name)) || !msgpack_unpacker_init(&r->unp, READ_CHUNK)) {
        if (r) free(r->name);
        free(r);
        fn_seterr(e, "out of memory");
        return NULL;
    }
    msgpack_unpacked_init(&r->res);
    r->fd = fd;
    return r;
}

fn_reader *fn_reader_open_path(const char *path, fn_err *e) {
    if (!path || !strcmp(path, "-")) return fn_reader_open(0, "stdin", e);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fn_seterr(e, "%s: %s", path, strerror(errno));
        return NULL;
    }
    fn_reader *r = fn_reader_open(fd, path, e);
    if (!r) close(fd);
    return r;
}

/* one item (a scalar, a string, or a container's last item) is complete: close finished containers;
 * returns 1 when that completed a whole frame */
static int scan_item_done(fn_scan *s) {
    while (s->depth > 0) {
        if (--s->left[s->depth - 1] > 0) return 0;
        s->depth--;
    }
    return 1;
}

/* the bytes of the header that starts with type byte b (b included) */
static int scan_hlen(unsigned b) {
    switch (b) {
    case 0xc4: case 0xd9: return 2;             /* bin8, str8: 1 length byte */
    case 0xc5: case 0xda: case 0xdc: case 0xde: return 3; /* 16-bit lengths and counts */
    case 0xc6: case 0xdb: case 0xdd: case 0xdf: return 5; /* 32-bit */
    case 0xc7: return 2;                        /* ext8: length, then type in the payload */
    case 0xc8: return 3;
    case 0xc9: return 5;
    default: return 1;
    }
}

static uint64_t be(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = v << 8 | p[i];
    return v;
}

/* act on the complete header in s->hdr: returns 1 if it completed a frame, 0 if not, -1 on a byte that
 * msgpack never uses, -2 when containers nest too deeply */
static int scan_header(fn_scan *s) {
    const unsigned char *h = s->hdr;
    unsigned b = h[0];
    uint64_t n = 0;
    int container = 0; /* 1 array, 2 map */
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) return scan_item_done(s);
    if (b == 0xc1) return -1;
    if (b >= 0x80 && b <= 0x8f) n = b & 0x0f, container = 2;
    else if (b >= 0x90 && b <= 0x9f) n = b & 0x0f, container = 1;
    else if (b >= 0xa0 && b <= 0xbf) s->skip = b & 0x1f;
    else if (b == 0xca) s->skip = 4;
    else if (b == 0xcb) s->skip = 8;
    else if (b >= 0xcc && b <= 0xcf) s->skip = 1u << (b - 0xcc);
    else if (b >= 0xd0 && b <= 0xd3) s->skip = 1u << (b - 0xd0);
    else if (b >= 0xd4 && b <= 0xd8) s->skip = 1 + (1u << (b - 0xd4)); /* fixext: type + data */
    else if (b == 0xc4 || b == 0xc5 || b == 0xc6 || b == 0xd9 || b == 0xda || b == 0xdb)
        s->skip = be(h + 1, s->hneed - 1);
    else if (b == 0xc7 || b == 0xc8 || b == 0xc9) s->skip = be(h + 1, s->hneed - 1) + 1;
    else if (b == 0xdc || b == 0xdd) n = be(h + 1, s->hneed - 1), container = 1;
    else n = be(h + 1, s->hneed - 1), container = 2; /* 0xde, 0xdf */
    if (container) {
        if (n == 0) return scan_item_done(s);
        if (s->depth == SCAN_DEPTH) return -2;
        s->left[s->depth++] = container == 2 ? 2 * n : n;
        return 0;
    }
    return s->skip ? 0 : scan_item_done(s);
}

/* scan n new bytes; returns the number of frames they complete (before an error, if s->bad is set) */
static long scan_feed(fn_scan *s, const unsigned char *p, size_t n) {
    long done = 0;
    size_t i = 0;
    while (i < n) {
        size_t start = i;
        int rc = 0;
        if (s->skip) {
            size_t k = n - i < s->skip ? n - i : (size_t)s->skip;
            s->skip -= k;
            i += k;
            if (!s->skip) rc = scan_item_done(s);
        } else {
            if (!s->hlen) s->hneed = scan_hlen(p[i]);
            while (i < n && s->hlen < s->hneed) s->hdr[s->hlen++] = p[i++];
            if (s->hlen == s->hneed) {
                s->hlen = 0;
                rc = scan_header(s);
            }
        }
        s->msg += i - start;
        if (rc < 0 || s->msg > FN_MAX_FRAME_BYTES) {
            s->bad = rc == -1 ? 1 : rc == -2 ? 2 : 3;
            return done;
        }
        if (rc == 1) {
            done++;
            s->msg = 0;
        }
    }
    return done;
}

int fn_reader_next(fn_reader *r, fn_frame *f, fn_err *e) {
    fn_frame_init(f);
    long no = r->frames + 1;
    for (;;) {
        if (r->ready > 0) {
            size_t len = 0;
            msgpack_unpack_return rc = msgpack_unpacker_next_with_size(&r->unp, &r->res, &len);
            if (rc == MSGPACK_UNPACK_NOMEM_ERROR)
                return fn_seterr(e, "%s: frame %ld: out of memory (or nested too deeply)", r->name, no);
            if (rc != MSGPACK_UNPACK_SUCCESS)
                return fn_seterr(e, "%s: frame %ld: malformed msgpack (not an fn stream?)", r->name, no);
            r->ready--;
            if (decode_frame(&r->res.data, f, e)) {
                char why[sizeof e->msg];
                snprintf(why, sizeof why, "%s", e ? e->msg : "");
                fn_frame_clear(f);
                return fn_seterr(e, "%s: frame %ld: %s", r->name, no, why);
            }
            r->frames++;
            r->bytes += len;
            return 1;
        }
        if (r->scan.bad == 1)
            return fn_seterr(e, "%s: frame %ld: malformed msgpack (not an fn stream?)", r->name, no);
        if (r->scan.bad == 2)
            return fn_seterr(e, "%s: frame %ld: nested deeper than %d levels", r->name, no, SCAN_DEPTH);
        if (r->scan.bad == 3)
            return fn_seterr(e, "%s: frame %ld: larger than %zu bytes", r->name, no, FN_MAX_FRAME_BYTES);
        if (r->eof) {
            if (r->scan.msg > 0)
                return fn_seterr(e, "%s: frame %ld: truncated (the stream ends inside a frame)", r->name, no);
            return 0;
        }
        /* room for all of a large payload the scanner is inside (a native-size tensor), up to
         * READ_LARGE: read in big pieces, and the buffer grown once rather than doubled and copied.
         * Bytes that only claim a payload get an allocation that nothing is written to (untouched
         * pages cost no memory), and at most READ_LARGE of it. */
        size_t want = r->scan.skip > READ_CHUNK ? (r->scan.skip < READ_LARGE ? (size_t)r->scan.skip : READ_LARGE) : READ_CHUNK;
        if (!msgpack_unpacker_reserve_buffer(&r->unp, want))
            return fn_seterr(e, "%s: frame %ld: out of memory", r->name, no);
        ssize_t got;
        do got = read(r->fd, msgpack_unpacker_buffer(&r->unp), msgpack_unpacker_buffer_capacity(&r->unp));
        while (got < 0 && errno == EINTR);
        if (got < 0) return fn_seterr(e, "%s: %s", r->name, strerror(errno));
        if (got == 0) {
            r->eof = 1;
            continue;
        }
        r->ready += scan_feed(&r->scan, (const unsigned char *)msgpack_unpacker_buffer(&r->unp), (size_t)got);
        msgpack_unpacker_buffer_consumed(&r->unp, (size_t)got);
        if (r->scan.bad) r->eof = 1; /* read no further: return the whole frames before, then the error */
    }
}

int fn_frame_unpack(const void *buf, size_t len, fn_frame *f, fn_err *e) {
    msgpack_unpacked u;
    size_t off = 0;
    fn_frame_init(f);
    msgpack_unpacked_init(&u);
    int rc = msgpack_unpack_next(&u, buf, len, &off) == MSGPACK_UNPACK_SUCCESS && off == len
                 ? decode_frame(&u.data, f, e)
                 : fn_seterr(e, "malformed msgpack (not one fn frame)");
    msgpack_unpacked_destroy(&u);
    if (rc) fn_frame_clear(f);
    return rc;
}

long fn_reader_count(const fn_reader *r) { return r->frames; }
uint64_t fn_reader_bytes(const fn_reader *r) { return r->bytes; }
const char *fn_reader_name(const fn_reader *r) { return r->name; }

void fn_reader_close(fn_reader *r) {
    if (!r) return;
    msgpack_unpacked_destroy(&r->res);
    msgpack_unpacker_destroy(&r->unp);
    if (r->fd > 0) close(r->fd);
    free(r->name);
    free(r);
}

/* ---- writer ------------------------------------------------------------------------------------ */

static void pack_cstr(msgpack_packer *pk, const char *s) {
    size_t n = strlen(s);
    msgpack_pack_str(pk, n);
    msgpack_pack_str_body(pk, s, n);
}

/* where fn_frame_write leaves out the tensors' data from the packed bytes, to send it from the tensors */
typedef struct fn_bodies {
    int n;
    size_t at[4];       /* offsets in the packed bytes */
    const void *ptr[4]; /* the data that goes there */
    size_t len[4];
} fn_bodies;

static void pack_tensor(msgpack_packer *pk, const char *key, const fn_tensor *t, fn_bodies *bo) {
    pack_cstr(pk, key);
    msgpack_pack_map(pk, 3);
    pack_cstr(pk, "dtype");
    pack_cstr(pk, fn_dtype_name(t->dtype));
    pack_cstr(pk, "shape");
    msgpack_pack_array(pk, 3);
    msgpack_pack_int(pk, t->c);
    msgpack_pack_int(pk, t->h);
    msgpack_pack_int(pk, t->w);
    pack_cstr(pk, "data");
    size_t n = fn_tensor_bytes(t);
    msgpack_pack_bin(pk, n);
    if (bo) {
        bo->at[bo->n] = ((msgpack_sbuffer *)pk->data)->size;
        bo->ptr[bo->n] = t->data;
        bo->len[bo->n++] = n;
    } else {
        msgpack_pack_bin_body(pk, t->data, n);
    }
}

static void pack_raw(msgpack_sbuffer *sb, msgpack_packer *pk, const fn_raw *r) {
    pack_cstr(pk, r->key);
    msgpack_sbuffer_write(sb, (const char *)r->val, r->len);
}

/* the frame's bytes, or (bo not NULL) all but the tensors' data, which bo says where to put */
static int pack_frame(const fn_frame *f, unsigned char **buf, size_t *len, fn_bodies *bo, fn_err *e) {
    if (!f->id) return fn_seterr(e, "internal: frame without id");
    msgpack_sbuffer sb;
    msgpack_packer pk;
    size_t est = 256 + (bo ? 0
                           : (f->image ? fn_tensor_bytes(f->image) : 0) + (f->mask ? fn_tensor_bytes(f->mask) : 0) +
                                 (f->pred ? fn_tensor_bytes(f->pred) : 0) + (f->roi ? fn_tensor_bytes(f->roi) : 0));
    msgpack_sbuffer_init(&sb);
    if (!(sb.data = malloc(est))) return fn_seterr(e, "out of memory");
    sb.alloc = est;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    uint32_t n = 1 + !!f->image + !!f->mask + !!f->pred + !!f->roi + !!f->has_meta + (uint32_t)f->nextra;
    msgpack_pack_map(&pk, n);
    pack_cstr(&pk, "id");
    pack_cstr(&pk, f->id);
    if (f->image) pack_tensor(&pk, "image", f->image, bo);
    if (f->mask) pack_tensor(&pk, "mask", f->mask, bo);
    if (f->pred) pack_tensor(&pk, "pred", f->pred, bo);
    if (f->roi) pack_tensor(&pk, "roi", f->roi, bo);
    if (f->has_meta) {
        pack_cstr(&pk, "meta");
        msgpack_pack_map(&pk, (uint32_t)f->nmeta);
        for (int i = 0; i < f->nmeta; i++) pack_raw(&sb, &pk, &f->meta[i]);
    }
    for (int i = 0; i < f->nextra; i++) pack_raw(&sb, &pk, &f->extra[i]);
    if (!sb.data) return fn_seterr(e, "out of memory");
    *buf = (unsigned char *)sb.data;
    *len = sb.size;
    return 0;
}

int fn_frame_pack(const fn_frame *f, unsigned char **buf, size_t *len, fn_err *e) {
    return pack_frame(f, buf, len, NULL, e);
}

/* all of iov[0..n), whatever the kernel takes per call; 0 or -1 with errno */
static int writev_all(int fd, struct iovec *iov, int n) {
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) w -= (ssize_t)iov->iov_len, iov++, n--;
        if (n > 0) iov->iov_base = (char *)iov->iov_base + w, iov->iov_len -= (size_t)w;
    }
    return 0;
}

int fn_write_all(int fd, const void *buf, size_t len) {
    struct iovec v = {(void *)buf, len};
    return writev_all(fd, &v, 1);
}

/* the bytes of fn_frame_pack, with the tensors' data written from the tensors (no copy of it) */
int fn_frame_write(int fd, const fn_frame *f, fn_err *e) {
    unsigned char *buf;
    size_t len;
    fn_bodies bo = {0};
    if (pack_frame(f, &buf, &len, &bo, e)) return -1;
    struct iovec iov[9];
    int n = 0;
    size_t from = 0;
    for (int i = 0; i < bo.n; i++) {
        iov[n++] = (struct iovec){buf + from, bo.at[i] - from};
        iov[n++] = (struct iovec){(void *)bo.ptr[i], bo.len[i]};
        from = bo.at[i];
    }
    iov[n++] = (struct iovec){buf + from, len - from};
    int rc = writev_all(fd, iov, n);
    int err = errno;
    free(buf);
    if (rc) {
        errno = err;
        return fn_seterr(e, "write error: %s", strerror(err));
    }
    return 0;
}

/* ---- tensors under extra keys ------------------------------------------------------------------ */

static int extra_find(const fn_frame *f, const char *key) {
    for (int i = 0; i < f->nextra; i++)
        if (!strcmp(f->extra[i].key, key)) return i;
    return -1;
}

int fn_frame_has_key(const fn_frame *f, const char *key) { return extra_find(f, key) >= 0; }

int fn_frame_take_tensor(fn_frame *f, const char *key, fn_tensor **t, fn_err *e) {
    int i = extra_find(f, key);
    *t = NULL;
    if (i < 0) return 0;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    int rc = msgpack_unpack_next(&u, (const char *)f->extra[i].val, f->extra[i].len, &off) == MSGPACK_UNPACK_SUCCESS
                 ? decode_tensor(&u.data, key, t, e)
                 : fn_seterr(e, "'%s' is not a tensor map", key);
    msgpack_unpacked_destroy(&u);
    if (rc) return -1;
    free(f->extra[i].key);
    free(f->extra[i].val);
    memmove(&f->extra[i], &f->extra[i + 1], (size_t)(f->nextra - i - 1) * sizeof *f->extra);
    f->nextra--;
    return 1;
}

int fn_frame_put_tensor(fn_frame *f, const char *key, const fn_tensor *t, fn_err *e) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_tensor(&pk, key, t, NULL);
    size_t klen = 0; /* pack_tensor packs the key first: keep only the value */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    if (sb.data && msgpack_unpack_next(&u, sb.data, sb.size, &klen) != MSGPACK_UNPACK_SUCCESS) klen = 0;
    msgpack_unpacked_destroy(&u);
    char *k = strdup(key);
    unsigned char *v = sb.data && klen ? malloc(sb.size - klen) : NULL;
    if (!k || !v) {
        free(k);
        free(v);
        msgpack_sbuffer_destroy(&sb);
        return fn_seterr(e, "out of memory");
    }
    memcpy(v, sb.data + klen, sb.size - klen);
    size_t vlen = sb.size - klen;
    msgpack_sbuffer_destroy(&sb);
    int i = extra_find(f, key);
    if (i < 0) {
        fn_raw *x = realloc(f->extra, (size_t)(f->nextra + 1) * sizeof *x);
        if (!x) {
            free(k);
            free(v);
            return fn_seterr(e, "out of memory");
        }
        f->extra = x;
        i = f->nextra++;
    } else {
        free(f->extra[i].key);
        free(f->extra[i].val);
    }
    f->extra[i] = (fn_raw){k, v, vlen};
    return 0;
}
