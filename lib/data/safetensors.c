/* safetensors.c: F32 safetensors files through jansson (see safetensors.h). */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "data/cli.h"
#include "data/safetensors.h"

#define MAX_HEADER (100u << 20) /* the reference implementation's limit */
#define CRC_KEY "fn_data_crc32"     /* metadata: CRC-32 of the data section, 8 lowercase hex digits */

/* zlib's CRC-32 of n bytes (in pieces that fit its uInt) */
static unsigned long crc_update(unsigned long crc, const void *p, size_t n) {
    const unsigned char *b = p;
    while (n) {
        uInt k = n > (1u << 30) ? 1u << 30 : (uInt)n;
        crc = crc32(crc, b, k);
        b += k;
        n -= k;
    }
    return crc;
}

/* free what was read and report "PATH: msg" */
__attribute__((format(printf, 4, 5)))
static int fail(fn_st *st, fn_err *e, const char *path, const char *fmt, ...) {
    char m[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    fn_st_free(st);
    return fn_seterr(e, "%s: %s", path, m);
}

static int grow_tensors(fn_st *st, fn_err *e) {
    if (st->n < st->cap) return 0;
    int c = st->cap ? st->cap * 2 : 64;
    fn_st_tensor *t = realloc(st->t, sizeof *t * (size_t)c);
    if (!t) return fn_seterr(e, "out of memory");
    st->t = t;
    st->cap = c;
    return 0;
}

static int push_meta(fn_st *st, const char *k, const char *v, fn_err *e) {
    if (st->nmeta == st->capmeta) {
        int c = st->capmeta ? st->capmeta * 2 : 16;
        char **a = realloc(st->key, sizeof *a * (size_t)c), **b;
        if (!a) return fn_seterr(e, "out of memory");
        st->key = a;
        if (!(b = realloc(st->val, sizeof *b * (size_t)c))) return fn_seterr(e, "out of memory");
        st->val = b;
        st->capmeta = c;
    }
    char *ks = strdup(k), *vs = strdup(v);
    if (!ks || !vs) { free(ks); free(vs); return fn_seterr(e, "out of memory"); }
    st->key[st->nmeta] = ks;
    st->val[st->nmeta++] = vs;
    return 0;
}

static int read_all(const char *path, unsigned char **buf, size_t *len, fn_err *e) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return fn_seterr(e, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        close(fd);
        return fn_seterr(e, "%s: not a regular file", path);
    }
    size_t n = (size_t)sb.st_size;
    unsigned char *b = malloc(n + 16);
    if (!b) { close(fd); return fn_seterr(e, "%s: out of memory (%zu bytes)", path, n); }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, b + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got != n) { free(b); return fn_seterr(e, "%s: read error", path); }
    *buf = b;
    *len = n;
    return 0;
}

int fn_st_read(fn_st *st, const char *path, fn_err *e) {
    memset(st, 0, sizeof *st);
    unsigned char *b = NULL;
    size_t len = 0;
    if (read_all(path, &b, &len, e)) return -1;
    st->buf = b;
    if (len < 8) return fail(st, e, path, "truncated: %zu bytes, not a safetensors file", len);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | b[i];
    if (hl > MAX_HEADER || hl < 2 || (len > 8 && b[8] != '{'))
        return fail(st, e, path, "not a safetensors file (no JSON header after the 8-byte length)");
    if (hl > len - 8)
        return fail(st, e, path, "truncated: header length %llu beyond the end of the file (%zu bytes)",
                    (unsigned long long)hl, len);
    size_t dstart = 8 + (size_t)hl, dlen = len - dstart;
    if (dstart % 4) { /* move the data to a 4-byte boundary so that tensors can be used in place */
        size_t pad = 4 - dstart % 4;
        memmove(b + dstart + pad, b + dstart, dlen);
        dstart += pad;
    }
    json_error_t je;
    json_t *root = json_loadb((const char *)b + 8, (size_t)hl, JSON_REJECT_DUPLICATES, &je);
    if (!root) return fail(st, e, path, "not a safetensors file: header is not JSON (%s)", je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return fail(st, e, path, "not a safetensors file: header is not a JSON object");
    }
    const char *k;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, k, v) {
        if (!strcmp(k, "__metadata__")) {
            const char *mk;
            json_t *mv;
            if (!json_is_object(v)) { rc = fail(st, e, path, "__metadata__ is not a map"); break; }
            json_object_foreach(v, mk, mv) {
                if (!json_is_string(mv)) { rc = fail(st, e, path, "metadata %s is not a string", mk); break; }
                if (push_meta(st, mk, json_string_value(mv), e)) { rc = -1; break; }
            }
            if (rc) break;
            continue;
        }
        json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"), *of = json_object_get(v, "data_offsets");
        if (!json_is_object(v) || !json_is_string(dt) || !json_is_array(sh) || !json_is_array(of) || json_array_size(of) != 2) {
            rc = fail(st, e, path, "tensor %s: bad entry (needs dtype, shape, data_offsets)", k);
            break;
        }
        if (strcmp(json_string_value(dt), "F32")) {
            rc = fail(st, e, path, "tensor %s has dtype %s; only F32 is supported", k, json_string_value(dt));
            break;
        }
        if (json_array_size(sh) > FN_ST_MAX_DIMS) { rc = fail(st, e, path, "tensor %s: too many dimensions", k); break; }
        if (grow_tensors(st, e)) { rc = fail(st, e, path, "out of memory"); break; }
        fn_st_tensor *t = &st->t[st->n];
        memset(t, 0, sizeof *t);
        t->ndim = (int)json_array_size(sh);
        t->numel = 1;
        int bad = 0;
        for (int d = 0; d < t->ndim; d++) {
            json_t *x = json_array_get(sh, (size_t)d);
            if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > (1ll << 40)) { bad = 1; break; }
            t->shape[d] = json_integer_value(x);
            t->numel *= (size_t)t->shape[d];
            if (t->numel > ((size_t)1 << 40)) { bad = 1; break; }
        }
        if (bad) { rc = fail(st, e, path, "tensor %s: bad shape", k); break; }
        json_t *o0 = json_array_get(of, 0), *o1 = json_array_get(of, 1);
        if (!json_is_integer(o0) || !json_is_integer(o1)) { rc = fail(st, e, path, "tensor %s: bad data_offsets", k); break; }
        long long s0 = json_integer_value(o0), s1 = json_integer_value(o1);
        if (s0 < 0 || s1 < s0 || (unsigned long long)s1 > dlen) {
            rc = fail(st, e, path, "truncated or corrupt: tensor %s at bytes %lld..%lld of a %zu-byte data section",
                      k, s0, s1, dlen);
            break;
        }
        if ((unsigned long long)(s1 - s0) != t->numel * 4) {
            rc = fail(st, e, path, "tensor %s: data size does not match its shape", k);
            break;
        }
        if (s0 % 4) { rc = fail(st, e, path, "tensor %s: data not aligned to 4 bytes", k); break; }
        if (!(t->name = strdup(k))) { rc = fail(st, e, path, "out of memory"); break; }
        t->data = (float *)(void *)(b + dstart + s0);
        st->n++;
    }
    json_decref(root);
    const char *want = rc ? NULL : fn_st_meta(st, CRC_KEY);
    if (want) {
        char got[16];
        snprintf(got, sizeof got, "%08lx", crc_update(crc32(0, NULL, 0), b + dstart, dlen));
        if (strcmp(want, got))
            return fail(st, e, path, "corrupt: the tensor data does not match its checksum (%s %s, the data's %s): "
                        "the file was truncated or altered", CRC_KEY, want, got);
    }
    if (rc) fn_st_free(st);
    return rc;
}

const fn_st_tensor *fn_st_find(const fn_st *st, const char *name) {
    for (int i = 0; i < st->n; i++)
        if (!strcmp(st->t[i].name, name)) return &st->t[i];
    return NULL;
}

const char *fn_st_meta(const fn_st *st, const char *key) {
    for (int i = 0; i < st->nmeta; i++)
        if (!strcmp(st->key[i], key)) return st->val[i];
    return NULL;
}

void fn_st_free(fn_st *st) {
    if (!st) return;
    for (int i = 0; i < st->n; i++) free(st->t[i].name);
    for (int i = 0; i < st->nmeta; i++) { free(st->key[i]); free(st->val[i]); }
    free(st->t);
    free(st->key);
    free(st->val);
    free(st->buf);
    memset(st, 0, sizeof *st);
}

int fn_st_add(fn_st *st, const char *name, int ndim, const int64_t *shape, const float *data, fn_err *e) {
    if (ndim < 0 || ndim > FN_ST_MAX_DIMS) return fn_seterr(e, "tensor %s: bad rank %d", name, ndim);
    if (!strcmp(name, "__metadata__") || fn_st_find(st, name)) return fn_seterr(e, "tensor %s: duplicate name", name);
    if (grow_tensors(st, e)) return -1;
    fn_st_tensor *t = &st->t[st->n];
    memset(t, 0, sizeof *t);
    if (!(t->name = strdup(name))) return fn_seterr(e, "out of memory");
    t->ndim = ndim;
    t->numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) { free(t->name); return fn_seterr(e, "tensor %s: negative dimension", name); }
        t->shape[d] = shape[d];
        t->numel *= (size_t)shape[d];
    }
    t->data = (float *)data;
    st->n++;
    return 0;
}

int fn_st_set_meta(fn_st *st, const char *key, const char *val, fn_err *e) {
    for (int i = 0; i < st->nmeta; i++)
        if (!strcmp(st->key[i], key)) {
            char *v = strdup(val);
            if (!v) return fn_seterr(e, "out of memory");
            free(st->val[i]);
            st->val[i] = v;
            return 0;
        }
    return push_meta(st, key, val, e);
}

int fn_st_write(const fn_st *st, const char *path, fn_err *e) {
    json_t *root = json_object(), *meta = json_object();
    int bad = !root || !meta;
    unsigned long crc = crc32(0, NULL, 0);
    char crcs[16];
    for (int i = 0; i < st->n; i++) crc = crc_update(crc, st->t[i].data, st->t[i].numel * 4);
    snprintf(crcs, sizeof crcs, "%08lx", crc);
    for (int i = 0; !bad && i < st->nmeta; i++)
        if (strcmp(st->key[i], CRC_KEY)) bad |= json_object_set_new(meta, st->key[i], json_string(st->val[i]));
    if (!bad) bad |= json_object_set_new(meta, CRC_KEY, json_string(crcs));
    if (!bad) bad |= json_object_set(root, "__metadata__", meta);
    size_t off = 0;
    for (int i = 0; !bad && i < st->n; i++) {
        const fn_st_tensor *t = &st->t[i];
        json_t *sh = json_array(), *ent = json_object();
        bad |= !sh || !ent;
        for (int d = 0; !bad && d < t->ndim; d++) bad |= json_array_append_new(sh, json_integer(t->shape[d]));
        size_t nb = t->numel * 4;
        if (!bad) {
            bad |= json_object_set_new(ent, "dtype", json_string("F32"));
            bad |= json_object_set_new(ent, "shape", sh);
            bad |= json_object_set_new(ent, "data_offsets", json_pack("[II]", (json_int_t)off, (json_int_t)(off + nb)));
            bad |= json_object_set_new(root, t->name, ent);
        } else {
            json_decref(sh);
            json_decref(ent);
        }
        off += nb;
    }
    char *hdr = bad ? NULL : json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    json_decref(meta);
    json_decref(root);
    if (!hdr) return fn_seterr(e, "%s: out of memory building the header", path);
    size_t hl = strlen(hdr), padded = (hl + 7) / 8 * 8;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(padded >> (8 * i));
    fn_atomic a;
    if (fn_atomic_open(&a, path, e)) { free(hdr); return -1; }
    int ok = fwrite(len8, 1, 8, a.f) == 8 && fwrite(hdr, 1, hl, a.f) == hl;
    for (size_t i = hl; ok && i < padded; i++) ok = fputc(' ', a.f) != EOF;
    free(hdr);
    for (int i = 0; ok && i < st->n; i++)
        if (st->t[i].numel) ok = fwrite(st->t[i].data, 4, st->t[i].numel, a.f) == st->t[i].numel;
    if (!ok) {
        int er = errno;
        fn_atomic_abort(&a);
        return fn_seterr(e, "%s: %s", path, strerror(er));
    }
    return fn_atomic_commit(&a, e);
}
