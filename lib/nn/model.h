/* model.h: the model file (ARCHITECTURE.md "The model file"): a safetensors file holding every
 * parameter and the batch-norm running statistics under their canonical names (conv OIHW, dense
 * [out,in]), with __metadata__:
 *   format=fn-model, version=1, arch (fn_arch_name: focusnet, unet, ...), in_channels, width,
 *   norm_mode, norm_mean, norm_std (strings as fn-normalize's meta gives them),
 *   epoch, val_loss, options (the training options, one string).
 * Written atomically. PyTorch reads it with safetensors.torch.load_file. */
#ifndef FN_MODEL_H
#define FN_MODEL_H

#include "backend/backend.h"
#include "base/err.h"
#include "nn/net.h"

typedef struct fn_model_meta {
    char norm_mode[64];  /* "" when the data were not normalised */
    char norm_mean[512];
    char norm_std[512];
    int epoch;           /* -1 unknown */
    double val_loss;     /* NaN unknown */
    char options[2048];
} fn_model_meta;

#define FN_MODEL_VERSION 1

/* an empty meta: empty strings, epoch -1, val_loss NaN */
void fn_model_meta_init(fn_model_meta *m);
/* write net (parameters + running statistics) and meta (may be NULL) to path */
int fn_model_save(fn_net *net, const char *path, const fn_model_meta *m, fn_err *e);
/* read path, build a net of the stored config on be and fill it; meta (may be NULL) receives the
 * metadata. NULL and e set ("PATH: ...") for a truncated file, a file that is not an fn model, a
 * version from the future, a missing or misshapen tensor. */
fn_net *fn_model_load(fn_backend *be, const char *path, fn_model_meta *m, fn_err *e);

#endif
