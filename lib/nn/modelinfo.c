/* modelinfo.c: describe a model file (modelinfo.h). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "nn/modelinfo.h"
#include "data/safetensors.h"

static int ends_with(const char *s, const char *suffix) {
    size_t l = strlen(s), m = strlen(suffix);
    return l >= m && !strcmp(s + l - m, suffix);
}

/* a regular file that starts as safetensors does: an 8-byte header length within the file, then '{' */
static int looks_like_safetensors(const char *path) {
    struct stat sb;
    unsigned char h[9];
    if (!strcmp(path, "-") || stat(path, &sb) || !S_ISREG(sb.st_mode) || sb.st_size < 10) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(h, 1, sizeof h, f);
    fclose(f);
    if (got != sizeof h || h[8] != '{') return 0;
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = len << 8 | h[i];
    return len + 8 <= (uint64_t)sb.st_size;
}

int fn_model_probe(const char *path, fn_model_info *mi, fn_err *e) {
    if (!looks_like_safetensors(path)) return 0;
    fn_st st;
    if (fn_st_read(&st, path, e)) return -1;
    const char *fmt = fn_st_meta(&st, "format");
    if (!fmt || strcmp(fmt, "fn-model")) { fn_st_free(&st); return 0; }
    memset(mi, 0, sizeof *mi);
    const char *arch = fn_st_meta(&st, "arch"), *cin = fn_st_meta(&st, "in_channels"), *w = fn_st_meta(&st, "width");
    const char *ep = fn_st_meta(&st, "epoch"), *vl = fn_st_meta(&st, "val_loss"), *nm = fn_st_meta(&st, "norm_mode");
    snprintf(mi->arch, sizeof mi->arch, "%s", arch ? arch : "?");
    mi->cin = cin ? atoi(cin) : 0;
    snprintf(mi->width, sizeof mi->width, "%s", w ? w : "1");
    mi->epoch = ep ? atoi(ep) : -1;
    snprintf(mi->val_loss, sizeof mi->val_loss, "%s", vl && strcmp(vl, "nan") ? vl : "");
    snprintf(mi->norm_mode, sizeof mi->norm_mode, "%s", nm ? nm : "");
    for (int i = 0; i < st.n; i++) {
        if (ends_with(st.t[i].name, ".running_mean") || ends_with(st.t[i].name, ".running_var")) continue;
        mi->params += st.t[i].numel;
        mi->tensors++;
    }
    fn_st_free(&st);
    return 1;
}
