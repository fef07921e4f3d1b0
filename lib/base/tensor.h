/* tensor.h: host tensors of the stream, [C, H, W] row-major, little-endian. */
#ifndef FN_TENSOR_H
#define FN_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include "base/err.h"

typedef enum { FN_U8 = 0, FN_U16 = 1, FN_F32 = 2 } fn_dtype;

/* limits a reader enforces (ARCHITECTURE.md) */
#define FN_MAX_C 16
#define FN_MAX_HW 65536

typedef struct fn_tensor {
    fn_dtype dtype;
    int c, h, w;
    void *data; /* c*h*w elements of dtype, owned by the tensor (malloc) */
} fn_tensor;

size_t fn_dtype_size(fn_dtype t);
const char *fn_dtype_name(fn_dtype t);          /* "u8", "u16", "f32" */
int fn_dtype_parse(const char *s, fn_dtype *t); /* 0 ok, -1 unknown */
size_t fn_tensor_numel(const fn_tensor *t);
size_t fn_tensor_bytes(const fn_tensor *t);

/* new zeroed tensor; NULL (and e set) on bad shape or no memory */
fn_tensor *fn_tensor_new(fn_dtype dt, int c, int h, int w, fn_err *e);
/* the same, its data not zeroed: for a tensor about to be written whole (a decoder's output, a copy) */
fn_tensor *fn_tensor_alloc(fn_dtype dt, int c, int h, int w, fn_err *e);
fn_tensor *fn_tensor_clone(const fn_tensor *t, fn_err *e);
void fn_tensor_free(fn_tensor *t);

/* element i as double, whatever the dtype; set element i from double (rounded and clamped for ints) */
double fn_tensor_get(const fn_tensor *t, size_t i);
void fn_tensor_set(fn_tensor *t, size_t i, double v);

/* a new f32 copy of any tensor */
fn_tensor *fn_tensor_to_f32(const fn_tensor *t, fn_err *e);

/* min, max, mean over all elements; 0s for an empty tensor. Returns the count of NaN/Inf values. */
size_t fn_tensor_stats(const fn_tensor *t, double *min, double *max, double *mean);

#endif
