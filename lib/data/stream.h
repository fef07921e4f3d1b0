/* Layer lib/data: the data plane (the stream, the CLI helpers, the codecs, image pages and lists, the
 * safetensors and statistics files); may use base/.
 * The layers, each using only those before it: base < data < imgproc, eval < backend < cpu, nn, cuda/
 *   < train < mpi/ < cmd/ (folders of one rank never include each other; README "Layout", tests/layout.py). */
/* stream.h: the fn stream (man/fn-stream.5): a sequence of msgpack maps, one per frame.
 *
 * A frame's known keys are parsed: id (str), image/mask/pred (tensors), meta (map of str to
 * str/int/float). Every other key is kept as its key and the exact msgpack bytes of its value, and
 * written back byte-for-byte. Meta entries are kept as key + packed value too, in order, so a filter
 * that does not touch meta passes it through unchanged. */
#ifndef FN_STREAM_H
#define FN_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include "base/err.h"
#include "base/tensor.h"

/* a frame bigger than this is refused by readers (bytes) */
#define FN_MAX_FRAME_BYTES ((size_t)4 << 30)

typedef struct fn_raw {
    char *key;          /* NUL-terminated */
    unsigned char *val; /* the value as packed msgpack bytes */
    size_t len;
} fn_raw;

typedef struct fn_frame {
    char *id;                   /* required */
    fn_tensor *image, *mask, *pred; /* NULL when absent */
    fn_tensor *roi;             /* region of interest (u8 0/1, C=1, the mask's size), NULL when absent */
    int has_meta;               /* meta key present (possibly empty) */
    fn_raw *meta; int nmeta;    /* meta entries in order */
    fn_raw *extra; int nextra;  /* unknown keys in order */
} fn_frame;

/* An empty frame (all zero). fn_frame_clear frees everything a frame owns and zeroes it. */
void fn_frame_init(fn_frame *f);
void fn_frame_clear(fn_frame *f);
int fn_frame_copy(fn_frame *dst, const fn_frame *src, fn_err *e); /* deep copy */
int fn_frame_set_id(fn_frame *f, const char *id, fn_err *e);
/* replace a tensor slot (frees the old one, takes ownership of t, t may be NULL) */
void fn_frame_set_tensor(fn_tensor **slot, fn_tensor *t);

/* meta: get returns 0 when found and of a compatible type, -1 otherwise.
 * set replaces an existing key in place or appends. Ints read as doubles too. */
int fn_meta_get_str(const fn_frame *f, const char *key, char *buf, size_t n);
int fn_meta_get_int(const fn_frame *f, const char *key, int64_t *v);
int fn_meta_get_num(const fn_frame *f, const char *key, double *v);
int fn_meta_set_str(fn_frame *f, const char *key, const char *v, fn_err *e);
int fn_meta_set_int(fn_frame *f, const char *key, int64_t v, fn_err *e);
int fn_meta_set_num(fn_frame *f, const char *key, double v, fn_err *e);
int fn_meta_del(fn_frame *f, const char *key); /* 0 removed, -1 absent */

/* Reading: from any file descriptor (pipes give partial reads). `name` is used in messages
 * ("stdin" or a path). fn_reader_next returns 1 with a frame (caller clears it), 0 at the clean end of
 * the stream, -1 on error (e says "NAME: frame K: what is wrong"; frame numbers count from 1). */
typedef struct fn_reader fn_reader;
fn_reader *fn_reader_open(int fd, const char *name, fn_err *e);
fn_reader *fn_reader_open_path(const char *path, fn_err *e); /* "-" is stdin */
int fn_reader_next(fn_reader *r, fn_frame *f, fn_err *e);
long fn_reader_count(const fn_reader *r); /* frames returned so far */
uint64_t fn_reader_bytes(const fn_reader *r); /* stream bytes of the frames returned so far */
const char *fn_reader_name(const fn_reader *r);
void fn_reader_close(fn_reader *r); /* closes the fd unless it is 0 */

/* one whole frame from the len bytes at buf (a frame as a reader returns it: fn_reader_bytes tells
 * where each one lies in a file); 0, or -1 with e set (no name or frame number in the message) */
int fn_frame_unpack(const void *buf, size_t len, fn_frame *f, fn_err *e);

/* Writing: whole frames. fn_frame_pack packs into a malloc'd buffer; fn_frame_write writes one
 * frame to fd with a full write loop. Returns 0, or -1 with e set (EPIPE included: errno is kept). */
int fn_frame_pack(const fn_frame *f, unsigned char **buf, size_t *len, fn_err *e);
int fn_frame_write(int fd, const fn_frame *f, fn_err *e);
int fn_write_all(int fd, const void *buf, size_t len); /* 0 or -1 with errno */

/* Tensors kept under keys of their own among the extra keys (fn-resize's native_mask, native_roi):
 * fn_frame_take_tensor decodes and removes key (1 found, *t set; 0 absent; -1 e set: not a tensor);
 * fn_frame_put_tensor packs t under key, replacing any value it had (t stays the caller's). */
int fn_frame_take_tensor(fn_frame *f, const char *key, fn_tensor **t, fn_err *e);
int fn_frame_put_tensor(fn_frame *f, const char *key, const fn_tensor *t, fn_err *e);
int fn_frame_has_key(const fn_frame *f, const char *key); /* among the extra keys */

#endif
