/* arch.c: the architectures by name, and which description builds each. */
#include <string.h>
#include "nn/build.h"

static const struct {
    const char *name;
    void (*build)(fn_net *n);
    float bn_eps; /* FocusNet's is Keras's; the U-Nets' PyTorch's default, as in their definitions */
} archs[FN_ARCH_COUNT] = {
    [FN_ARCH_FOCUSNET] = { "focusnet", fn_build_focusnet, FN_BN_EPS },
    [FN_ARCH_UNET] = { "unet", fn_build_unet, 1e-5f },
    [FN_ARCH_RESUNET] = { "resunet", fn_build_unet, 1e-5f },
    [FN_ARCH_RUNET] = { "runet", fn_build_r2unet, 1e-5f },
    [FN_ARCH_R2UNET] = { "r2unet", fn_build_r2unet, 1e-5f },
    [FN_ARCH_ATTUNET] = { "attunet", fn_build_attunet, 1e-5f },
};

const char *fn_arch_name(int arch) { return arch >= 0 && arch < FN_ARCH_COUNT ? archs[arch].name : NULL; }

int fn_arch_parse(const char *name) {
    for (int a = 0; a < FN_ARCH_COUNT; a++)
        if (name && !strcmp(name, archs[a].name)) return a;
    return -1;
}

int fn_arch_build(fn_net *n, fn_err *e) {
    int a = n->cfg.arch;
    if (a < 0 || a >= FN_ARCH_COUNT) return fn_seterr(e, "unknown architecture %d", a);
    n->bn_eps = archs[a].bn_eps;
    archs[a].build(n);
    return 0;
}
