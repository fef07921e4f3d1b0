/* test_arch.c: the comparison networks (fn-train --arch): names, parameter counts at 1 and 3 input
 * channels (man fn-train's ARCHITECTURES table, which tests/golden/torch_unets.py also prints), shared weights of the
 * recurrent blocks, a directional gradient check and a training step of each, and the model file's
 * arch. The exact functions and gradients are checked against the golden files (make check-golden). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "backend/backend.h"
#include "check.h"
#include "netcheck.h"
#include "nn/net.h"
#include "nn/golden.h"
#include "nn/model.h"
#include "data/safetensors.h"

static fn_backend *be;

static const char *const names[] = { "focusnet", "unet", "resunet", "runet", "r2unet", "attunet" };

/* man fn-train's ARCHITECTURES table: "arch<TAB>1,234<TAB>5,678" -> the two counts (0 when absent) */
static void man_counts(const char *arch, size_t *c1, size_t *c3) {
    FILE *f = fopen("man/fn-train.1", "r");
    char line[256];
    *c1 = *c3 = 0;
    if (!f) return;
    while (fgets(line, sizeof line, f)) {
        size_t l = strlen(arch);
        if (strncmp(line, arch, l) || line[l] != '\t') continue;
        size_t v[2] = { 0, 0 };
        int k = 0;
        for (const char *p = line + l + 1; *p && *p != '\n' && k < 2; p++) {
            if (*p == '\t') k++;
            else if (*p >= '0' && *p <= '9') v[k] = v[k] * 10 + (size_t)(*p - '0');
        }
        *c1 = v[0], *c3 = v[1];
    }
    fclose(f);
}

static fn_net *mknet(int arch, int cin, float width) {
    fn_err e;
    fn_net_config c = { cin, width, arch };
    fn_net *n = fn_net_new(be, &c, &e);
    if (!n) fprintf(stderr, "  fn_net_new: %s\n", e.msg);
    return n;
}

static void test_names(void) {
    CHECK(FN_ARCH_COUNT == (int)(sizeof names / sizeof *names));
    for (int a = 0; a < FN_ARCH_COUNT; a++) {
        CHECK(!strcmp(fn_arch_name(a), names[a]));
        CHECK(fn_arch_parse(names[a]) == a);
    }
    CHECK(fn_arch_parse("UNet") == -1 && fn_arch_parse("") == -1 && fn_arch_parse(NULL) == -1);
    CHECK(fn_arch_name(FN_ARCH_COUNT) == NULL && fn_arch_name(-1) == NULL);
    fn_err e;
    fn_net_config c = { 3, 1.0f, FN_ARCH_COUNT };
    CHECK(fn_net_new(be, &c, &e) == NULL && strstr(e.msg, "unknown architecture"));
}

/* the counts man fn-train states (run from the repository's root, as make test does) */
static void test_param_counts(void) {
    for (int a = 0; a < FN_ARCH_COUNT; a++)
        for (int cin = 1; cin <= 3; cin += 2) {
            fn_net *n = mknet(a, cin, 1.0f);
            if (!n) { CHECK(0); continue; }
            size_t c1, c3;
            man_counts(names[a], &c1, &c3);
            size_t want = cin == 1 ? c1 : c3;
            CHECKF(fn_net_numel(n) == want, "%s cin %d: %zu parameters, man fn-train says %zu", names[a], cin,
                   fn_net_numel(n), want);
            fn_net_free(n);
        }
}

static size_t numel_of(fn_net *n, const char *name) {
    int i = fn_net_find_param(n, name);
    return i < 0 ? 0 : fn_net_param(n, i)->numel;
}

/* the layers that tell the variants apart, at width 1 and 3 channels */
static void test_layers(void) {
    fn_net *u = mknet(FN_ARCH_UNET, 3, 1.0f), *r = mknet(FN_ARCH_RESUNET, 3, 1.0f);
    fn_net *ru = mknet(FN_ARCH_RUNET, 3, 1.0f), *at = mknet(FN_ARCH_ATTUNET, 3, 1.0f);
    if (!u || !r || !ru || !at) { CHECK(0); goto out; }
    CHECK(numel_of(u, "e1.c1.weight") == 64 * 3 * 9 && numel_of(u, "e5.c2.weight") == 1024 * 1024 * 9);
    CHECK(numel_of(u, "u5.c.weight") == 512 * 1024 * 9 && numel_of(u, "d5.c1.weight") == 512 * 1024 * 9);
    CHECK(numel_of(u, "out.weight") == 64 && numel_of(u, "e1.proj.weight") == 0);
    CHECK(!strcmp(fn_net_param(u, 0)->name, "e1.c1.weight") && !strcmp(fn_net_param(u, 1)->name, "e1.c1.bias"));
    CHECK(numel_of(r, "e1.proj.weight") == 64 * 3 && numel_of(r, "d2.proj.weight") == 64 * 128);
    /* one conv + BN per recurrent layer, applied three times */
    CHECK(numel_of(ru, "e2.c0.weight") == 128 * 64 && numel_of(ru, "e2.r1.c.weight") == 128 * 128 * 9);
    CHECK(numel_of(ru, "e2.r2.bn.weight") == 128 && fn_net_find_param(ru, "e2.r3.c.weight") < 0);
    CHECK(numel_of(at, "att5.wg.weight") == 256 * 512 && numel_of(at, "att2.psi.weight") == 32);
    CHECK(numel_of(at, "att2.psibn.weight") == 1 && fn_net_find_stat(at, "att2.psibn.running_var") >= 0);
out:
    fn_net_free(u); fn_net_free(r); fn_net_free(ru); fn_net_free(at);
}

#define TN 2
#define TC 2
#define TH 32
#define TW 48

static void fill_batch(float *x, float *t) {
    for (int i = 0; i < TN * TC * TH * TW; i++) x[i] = (float)fn_golden_u("x", (uint64_t)i);
    for (int i = 0; i < TN * TH * TW; i++) t[i] = fn_golden_u("t", (uint64_t)i) > 0.2 ? 1.0f : 0.0f;
}

/* d loss / d t along the gradient direction, by central differences, against ||g||^2; then an Adam step
 * lowers the loss of the same batch */
static void check_gradient(int arch) {
    fn_err e;
    fn_net *n = mknet(arch, TC, 0.125f);
    if (!n) { CHECK(0); return; }
    CHECK(fn_net_init_he(n, 3, &e) == 0);
    static float x[TN * TC * TH * TW], t[TN * TH * TW];
    fill_batch(x, t);
    float l0 = 0, l1 = 0;
    double fd = NAN, gn = NAN;
    CHECK(directional_fd(n, x, t, TN, TH, TW, &l0, &fd, &gn) == 0);
    /* Only the residual nets are smooth enough for this: the plain BN-ReLU stacks (unet, runet, attunet)
     * have exploding gradients at initialisation (float32 PyTorch differs from float64 PyTorch by 1-40%
     * on them); their exact gradients are checked op by op (test_cpu_ops) and the forward by golden. */
    if (arch == FN_ARCH_RESUNET || arch == FN_ARCH_R2UNET)
        CHECKF(gn > 0 && fabs(fd - gn) < 0.03 * gn, "%s: finite difference %g, gradient norm %g", fn_arch_name(arch), fd, gn);
    else
        CHECKF(gn > 0 && isfinite(fd), "%s: finite difference %g, gradient norm %g", fn_arch_name(arch), fd, gn);
    /* a few steps from the original weights lower the training loss */
    for (int s = 0; s < 5; s++) {
        CHECK(fn_net_forward(n, x, TN, TH, TW, 1, 0, NULL, &e) == 0 && fn_net_backward(n, t, &l1, &e) == 0);
        CHECK(fn_net_adam_step(n, 1e-2f, 0.9f, 0.999f, 1e-7f, 1, &e) == 0);
    }
    CHECKF(l1 < l0, "%s: loss %g after 5 steps, %g before", fn_arch_name(arch), l1, l0);
    /* inference: probabilities, deterministic */
    static float y1[TN * TH * TW], y2[TN * TH * TW];
    CHECK(fn_net_forward(n, x, TN, TH, TW, 0, 0, y1, &e) == 0 && fn_net_forward(n, x, TN, TH, TW, 0, 0, y2, &e) == 0);
    int ok = !memcmp(y1, y2, sizeof y1);
    for (int i = 0; i < TN * TH * TW; i++) ok &= y1[i] >= 0 && y1[i] <= 1;
    CHECK(ok);
    fn_net_free(n);
}

static void test_gradients(void) {
    for (int a = FN_ARCH_UNET; a < FN_ARCH_COUNT; a++) check_gradient(a);
}

static void test_model_file(void) {
    char dir[] = "/tmp/fn-test-arch-XXXXXX", path[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    for (int a = FN_ARCH_UNET; a < FN_ARCH_COUNT; a++) {
        fn_err e;
        fn_net *n = mknet(a, 1, 0.0625f);
        if (!n) { CHECK(0); continue; }
        fn_net_init_he(n, 5, &e);
        CHECK(fn_model_save(n, path, NULL, &e) == 0);
        fn_st st;
        CHECK(fn_st_read(&st, path, &e) == 0);
        CHECK(!strcmp(fn_st_meta(&st, "arch"), fn_arch_name(a)));
        fn_st_free(&st);
        fn_net *l = fn_model_load(be, path, NULL, &e);
        CHECKF(l, "%s", e.msg);
        if (l) {
            CHECK(fn_net_cfg(l)->arch == a && fn_net_numel(l) == fn_net_numel(n));
            size_t np = fn_net_numel(n);
            float *p = malloc(sizeof *p * np), *q = malloc(sizeof *q * np);
            fn_net_get(n, FN_BUF_PARAMS, p, &e);
            fn_net_get(l, FN_BUF_PARAMS, q, &e);
            CHECK(!memcmp(p, q, sizeof *p * np));
            free(p); free(q);
        }
        fn_net_free(l);
        fn_net_free(n);
    }
    unlink(path);
    rmdir(dir);
}

int main(void) {
    fn_err e;
    be = fn_cpu_backend_new(2, &e);
    if (!be) { fprintf(stderr, "test_arch: %s\n", e.msg); return 1; }
    RUN(test_names);
    RUN(test_param_counts);
    RUN(test_layers);
    RUN(test_gradients);
    RUN(test_model_file);
    fn_backend_close(be);
    return check_report();
}
