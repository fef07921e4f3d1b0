/* modelinfo.h: what a model file holds, read from its header and tensor table alone (no backend):
 * for fn-info, which describes model files beside fn streams. */
#ifndef FN_MODELINFO_H
#define FN_MODELINFO_H

#include <stddef.h>
#include "base/err.h"

typedef struct fn_model_info {
    char arch[32];       /* "focusnet", "unet", ... */
    int cin;
    char width[32];      /* as stored */
    size_t params;       /* parameter values (running statistics excluded) */
    int tensors;         /* parameter tensors */
    int epoch;           /* -1 unknown */
    char val_loss[32];   /* as stored, "" unknown */
    char norm_mode[64];  /* "" not normalised */
} fn_model_info;

/* 1 and *mi filled when path is an fn model file; 0 when it is not one (another file, a stream, a pipe:
 * nothing is consumed from a pipe); -1 and e set when it looks like a model file but cannot be read. */
int fn_model_probe(const char *path, fn_model_info *mi, fn_err *e);

#endif
