/* fn-info: describe the frames of fn streams, one line per frame, and a summary line.
 *
 * Text: "ID<TAB>keys K,K..<TAB>image DTYPE [C,H,W] min X max X mean X<TAB>...<TAB>meta k=v ..."
 * then "N frames, B bytes". With --json, one JSON object per frame and {"frames":N,"bytes":B}. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>
#include "data/cli.h"
#include "nn/modelinfo.h"

static const char *prog = "fn-info";

static const char usage[] =
    "usage: fn-info [options] [FILE...]\n"
    "\n"
    "Print one line per frame of the fn streams FILE... (default stdin, '-' is stdin): id, keys,\n"
    "and the dtype, shape, min, max and mean of each tensor; then a summary line (frames, bytes).\n"
    "A FILE that is a model (fn-train's) gets one line instead: its network, input channels,\n"
    "width, parameter count, epoch and validation loss.\n"
    "\n"
    "  -j, --json      one JSON object per line instead of text\n"
    "  -h, --help      show this help and exit\n"
    "      --version   show the version and exit\n";

struct cmdline {
    int json;
    char **inputs;
    int ninputs;
};

static void parse_cmdline(int argc, char **argv, struct cmdline *cl) {
    static const struct option opts[] = {
        {"json", no_argument, 0, 'j'}, {"help", no_argument, 0, 'h'}, {"version", no_argument, 0, 'V'}, {0, 0, 0, 0},
    };
    static char *stdin_only[] = {"-"};
    *cl = (struct cmdline){0};
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
        switch (o) {
        case 'j': cl->json = 1; break;
        case 'h': fputs(usage, stdout); exit(0);
        case 'V': fn_version(prog);
        default: fn_usage_getopt(prog, o, argv);
        }
    }
    cl->inputs = optind < argc ? argv + optind : stdin_only;
    cl->ninputs = optind < argc ? argc - optind : 1;
}

/* ---- one frame as text -------------------------------------------------------------------------- */

static const char *const tensor_names[4] = {"image", "mask", "pred", "roi"};

static void tensors_of(const fn_frame *f, const fn_tensor *t[4]) {
    t[0] = f->image;
    t[1] = f->mask;
    t[2] = f->pred;
    t[3] = f->roi;
}

static void print_text(const fn_frame *f) {
    const fn_tensor *t[4];
    tensors_of(f, t);
    printf("%s\tkeys id", f->id);
    for (int k = 0; k < 4; k++)
        if (t[k]) printf(",%s", tensor_names[k]);
    if (f->has_meta) fputs(",meta", stdout);
    for (int i = 0; i < f->nextra; i++) printf(",%s", f->extra[i].key);
    for (int k = 0; k < 4; k++) {
        if (!t[k]) continue;
        double lo, hi, mean;
        size_t bad = fn_tensor_stats(t[k], &lo, &hi, &mean);
        printf("\t%s %s [%d,%d,%d] min %g max %g mean %g", tensor_names[k], fn_dtype_name(t[k]->dtype), t[k]->c,
               t[k]->h, t[k]->w, lo, hi, mean);
        if (bad) printf(" nonfinite %zu", bad);
    }
    if (f->has_meta) {
        fputs("\tmeta", stdout);
        for (int i = 0; i < f->nmeta; i++) {
            const char *key = f->meta[i].key;
            char s[256];
            int64_t iv;
            double dv;
            if (!fn_meta_get_str(f, key, s, sizeof s)) printf(" %s=%s", key, s);
            else if (!fn_meta_get_int(f, key, &iv)) printf(" %s=%" PRId64, key, iv);
            else if (!fn_meta_get_num(f, key, &dv)) printf(" %s=%g", key, dv);
            else printf(" %s=?", key);
        }
    }
    putchar('\n');
}

/* ---- one frame as JSON -------------------------------------------------------------------------- */

static json_t *tensor_json(const fn_tensor *t) {
    double lo, hi, mean;
    size_t bad = fn_tensor_stats(t, &lo, &hi, &mean);
    int integral = t->dtype != FN_F32;
    return json_pack("{s:s, s:[i,i,i], s:o, s:o, s:f, s:I}", "dtype", fn_dtype_name(t->dtype), "shape", t->c, t->h,
                     t->w, "min", integral ? json_integer((json_int_t)lo) : json_real(lo), "max",
                     integral ? json_integer((json_int_t)hi) : json_real(hi), "mean", mean, "nonfinite",
                     (json_int_t)bad);
}

static json_t *meta_json(const fn_frame *f) {
    json_t *m = json_object();
    for (int i = 0; m && i < f->nmeta; i++) {
        const char *key = f->meta[i].key;
        char s[4096];
        int64_t iv;
        double dv;
        json_t *v;
        if (!fn_meta_get_str(f, key, s, sizeof s)) v = json_string(s);
        else if (!fn_meta_get_int(f, key, &iv)) v = json_integer((json_int_t)iv);
        else if (!fn_meta_get_num(f, key, &dv)) v = json_real(dv);
        else v = json_null();
        json_object_set_new(m, key, v ? v : json_null());
    }
    return m;
}

static void print_json(const fn_frame *f) {
    const fn_tensor *t[4];
    tensors_of(f, t);
    json_t *o = json_object(), *keys = json_array();
    json_object_set_new(o, "id", json_string(f->id));
    json_array_append_new(keys, json_string("id"));
    for (int k = 0; k < 4; k++)
        if (t[k]) json_array_append_new(keys, json_string(tensor_names[k]));
    if (f->has_meta) json_array_append_new(keys, json_string("meta"));
    for (int i = 0; i < f->nextra; i++) json_array_append_new(keys, json_string(f->extra[i].key));
    json_object_set_new(o, "keys", keys);
    for (int k = 0; k < 4; k++)
        if (t[k]) json_object_set_new(o, tensor_names[k], tensor_json(t[k]));
    if (f->has_meta) json_object_set_new(o, "meta", meta_json(f));
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
    if (!s) fn_die(prog, "out of memory");
    puts(s);
    free(s);
    json_decref(o);
}

/* ---- a model file -------------------------------------------------------------------------------- */

static void print_model(const char *path, const fn_model_info *m, int json) {
    if (json) {
        json_t *o = json_pack("{s:s, s:s, s:i, s:s, s:I, s:i, s:i, s:s, s:s}", "model", path, "arch", m->arch,
                              "in_channels", m->cin, "width", m->width, "parameters", (json_int_t)m->params,
                              "tensors", m->tensors, "epoch", m->epoch, "val_loss", m->val_loss, "norm_mode",
                              m->norm_mode);
        char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
        if (!s) fn_die(prog, "out of memory");
        puts(s);
        free(s);
        json_decref(o);
        return;
    }
    printf("%s	model arch=%s in_channels=%d width=%s parameters=%zu tensors=%d epoch=%d val_loss=%s norm=%s\n", path,
           m->arch, m->cin, m->width, m->params, m->tensors, m->epoch, m->val_loss[0] ? m->val_loss : "-",
           m->norm_mode[0] ? m->norm_mode : "-");
}

/* ---- main --------------------------------------------------------------------------------------- */

int main(int argc, char **argv) {
    struct cmdline cl;
    fn_err e;
    long frames = 0;
    uint64_t bytes = 0;
    signal(SIGPIPE, SIG_IGN); /* a closed pipe: EPIPE, one line, exit 1 */
    parse_cmdline(argc, argv, &cl);

    for (int i = 0; i < cl.ninputs; i++) {
        fn_model_info mi;
        int is_model = fn_model_probe(cl.inputs[i], &mi, &e);
        if (is_model < 0) fn_die(prog, "%s", e.msg);
        if (is_model) { print_model(cl.inputs[i], &mi, cl.json); continue; }
        fn_reader *r = fn_reader_open_path(cl.inputs[i], &e);
        if (!r) fn_die(prog, "%s", e.msg);
        fn_frame f;
        int rc;
        while ((rc = fn_reader_next(r, &f, &e)) == 1) {
            if (cl.json) print_json(&f);
            else print_text(&f);
            fn_frame_clear(&f);
        }
        if (rc < 0) fn_die(prog, "%s", e.msg);
        frames += fn_reader_count(r);
        bytes += fn_reader_bytes(r);
        fn_reader_close(r);
    }
    if (cl.json) printf("{\"frames\":%ld,\"bytes\":%" PRIu64 "}\n", frames, bytes);
    else printf("%ld frames, %" PRIu64 " bytes\n", frames, bytes);
    if (fflush(stdout) || ferror(stdout)) fn_die(prog, "stdout: write error: %s", strerror(errno ? errno : EIO));
    return 0;
}
