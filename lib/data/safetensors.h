/* safetensors.h: read and write safetensors files (https://github.com/huggingface/safetensors):
 * 8-byte little-endian header length, a JSON header (parsed with jansson), raw little-endian data.
 * Only F32 tensors are read or written; "__metadata__" is a map of strings. Files are written
 * atomically (PATH.tmpXXXXXX, fsync, rename); the header is padded with spaces to a multiple of 8
 * so that the data is aligned (PyTorch's safetensors.torch.load_file reads the result).
 * A reader validates everything it is given and names the file in each error.
 * Every file written records a CRC-32 (zlib) of its whole data section in the metadata, as
 * "fn_data_crc32" (8 hex digits); a reader that finds one checks it, so a truncated or altered file is
 * refused before use ("PATH: corrupt: ..."). Files without it (older ones, other writers') still load. */
#ifndef FN_SAFETENSORS_H
#define FN_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>
#include "base/err.h"

#define FN_ST_MAX_DIMS 8

typedef struct fn_st_tensor {
    char *name;
    int ndim;
    int64_t shape[FN_ST_MAX_DIMS];
    size_t numel;
    float *data; /* reading: points into the file's buffer; writing: borrowed from the caller */
} fn_st_tensor;

typedef struct fn_st {
    fn_st_tensor *t;
    int n, cap;
    char **key, **val; /* __metadata__, in file order */
    int nmeta, capmeta;
    void *buf;         /* reading: the whole file */
} fn_st;

/* read and validate PATH; 0 or -1 (e set: "PATH: what is wrong"). Free with fn_st_free. */
int fn_st_read(fn_st *st, const char *path, fn_err *e);
const fn_st_tensor *fn_st_find(const fn_st *st, const char *name); /* NULL when absent */
const char *fn_st_meta(const fn_st *st, const char *key);          /* NULL when absent */
void fn_st_free(fn_st *st);

/* writing: start from a zeroed fn_st (fn_st w = {0}), add tensors (data borrowed until the write)
 * and metadata (copied), then write. Tensors are stored in the order added. */
int fn_st_add(fn_st *st, const char *name, int ndim, const int64_t *shape, const float *data, fn_err *e);
int fn_st_set_meta(fn_st *st, const char *key, const char *val, fn_err *e);
int fn_st_write(const fn_st *st, const char *path, fn_err *e);

#endif
