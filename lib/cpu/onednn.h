/* onednn.h: what bf16.c and dnnconv.c share of oneDNN's C API (builds with FN_DNNL only). */
#ifndef FN_CPU_ONEDNN_H
#define FN_CPU_ONEDNN_H

#include <dnnl.h>

/* the attribute of a primitive that adds its result into the destination when acc (a sum post-op), or
 * a plain one; NULL when oneDNN cannot make it. The caller destroys it (dnnl_primitive_attr_destroy). */
dnnl_primitive_attr_t cpu_dnnl_attr(int acc);

#endif
