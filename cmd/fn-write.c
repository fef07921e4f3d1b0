/* fn-write: an fn stream to picture files in a folder.
 *
 * For each frame: DIR/ID_image.png, DIR/ID_mask.png (0/255), DIR/ID_pred.png (probability x 255),
 * or .tif with --format tiff (image and pred keep their dtype), and with --overlay the montage
 * DIR/ID_overlay.png (input | truth | prediction). Each file is written atomically. See man/fn-write.1. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cli.h"
#include "codec.h"
#include "display.h"

static const char *prog = "fn-write";

enum { K_IMAGE = 1, K_MASK = 2, K_PRED = 4 };

typedef struct options {
    const char *dir, *input;
    fn_format fmt;
    int keys, overlay;
    double threshold;
} options;

_Noreturn static void usage(void) {
    printf("usage: fn-write [options] DIR [FILE]\n"
           "Write the frames of an fn stream (FILE or stdin) as pictures in folder DIR:\n"
           "ID_image.png, ID_mask.png, ID_pred.png, and ID_overlay.png with --overlay.\n"
           "  -f, --format png|tiff  file format of image, mask and pred (default png)\n"
           "  -k, --keys LIST        which of image,mask,pred to write where present\n"
           "                         (default: all three; none with --overlay)\n"
           "      --overlay          write the montage input | truth | prediction per frame\n"
           "  -t, --threshold T      prediction threshold of the overlay (default 0.5)\n"
           "  -h, --help             show this help\n"
           "      --version          show the version\n");
    exit(0);
}

static int parse_keys(const char *s) {
    int k = 0;
    char *copy = strdup(s), *save = NULL;
    if (!copy) fn_die(prog, "out of memory");
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "image")) k |= K_IMAGE;
        else if (!strcmp(t, "mask")) k |= K_MASK;
        else if (!strcmp(t, "pred")) k |= K_PRED;
        else fn_usage_die(prog, "--keys: unknown key '%s' (image, mask, pred)", t);
    }
    free(copy);
    return k;
}

static void parse(int argc, char **argv, options *o) {
    enum { O_OVERLAY = 256, O_VERSION };
    static const struct option lo[] = {{"format", required_argument, 0, 'f'}, {"keys", required_argument, 0, 'k'},
                                       {"overlay", no_argument, 0, O_OVERLAY}, {"threshold", required_argument, 0, 't'},
                                       {"help", no_argument, 0, 'h'},          {"version", no_argument, 0, O_VERSION},
                                       {0, 0, 0, 0}};
    *o = (options){.fmt = FN_FMT_PNG, .threshold = 0.5};
    int c, keys_given = 0;
    while ((c = getopt_long(argc, argv, ":f:k:t:h", lo, NULL)) != -1) {
        switch (c) {
        case 'f':
            if (!strcmp(optarg, "png")) o->fmt = FN_FMT_PNG;
            else if (!strcmp(optarg, "tiff") || !strcmp(optarg, "tif")) o->fmt = FN_FMT_TIFF;
            else fn_usage_die(prog, "--format: expected png or tiff, got '%s'", optarg);
            break;
        case 'k':
            o->keys = parse_keys(optarg);
            keys_given = 1;
            break;
        case O_OVERLAY: o->overlay = 1; break;
        case 't':
            if (fn_parse_double(optarg, &o->threshold)) fn_usage_die(prog, "--threshold: expected a number, got '%s'", optarg);
            break;
        case 'h': usage();
        case O_VERSION: fn_version(prog);
        default: fn_usage_getopt(prog, c, argv);
        }
    }
    if (optind >= argc) fn_usage_die(prog, "no output folder given");
    if (argc - optind > 2) fn_usage_die(prog, "too many operands");
    o->dir = argv[optind];
    o->input = optind + 1 < argc ? argv[optind + 1] : "-";
    if (!keys_given) o->keys = o->overlay ? 0 : K_IMAGE | K_MASK | K_PRED;
}

/* mkdir -p */
static void make_dir(const char *dir) {
    char *p = strdup(dir);
    if (!p) fn_die(prog, "out of memory");
    for (char *s = p + 1;; s++) {
        int end = !*s;
        if (*s == '/' || end) {
            *s = 0;
            if (mkdir(p, 0777) && errno != EEXIST) fn_die(prog, "%s: %s", p, strerror(errno));
            if (end) break;
            *s = '/';
        }
    }
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) fn_die(prog, "%s: not a folder", dir);
    free(p);
}

/* write t (owned, freed here) as DIR/ID_WHAT.EXT */
static int put(const options *o, const char *id, const char *what, fn_format fmt, fn_tensor *t, fn_err *e) {
    if (!t) return -1;
    size_t n = strlen(o->dir) + strlen(id) + strlen(what) + 8;
    char *path = malloc(n), *q;
    if (!path) {
        fn_tensor_free(t);
        return fn_seterr(e, "out of memory");
    }
    snprintf(path, n, "%s/", o->dir);
    q = path + strlen(path);
    snprintf(q, n - (size_t)(q - path), "%s_%s.%s", id, what, fmt == FN_FMT_PNG ? "png" : "tif");
    for (; *q; q++)
        if (*q == '/') *q = '_'; /* an id never reaches outside DIR */
    int rc = fn_image_write_file(path, fmt, t, e);
    free(path);
    fn_tensor_free(t);
    return rc;
}

static int write_frame(const options *o, const fn_frame *f, fn_err *e) {
    const fn_tensor *slot[3] = {f->image, f->mask, f->pred};
    static const char *name[3] = {"image", "mask", "pred"};
    for (int k = 0; k < 3; k++) {
        if (!(o->keys & (1 << k))) continue;
        const fn_tensor *t = slot[k];
        if (!t) continue;
        fn_tensor *v;
        if (o->fmt == FN_FMT_PNG && t->c != 1 && t->c != 3)
            return fn_seterr(e, "%s: %s has %d channels; PNG holds 1 or 3 (try --format tiff)", f->id, name[k], t->c);
        if (k == 1) v = fn_mask_u8(t, e);
        else if (o->fmt == FN_FMT_TIFF) v = fn_tensor_clone(t, e);
        else if (k == 2) v = fn_prob_u8(t, e);
        else v = t->dtype == FN_F32 ? fn_display_u8(t, e) : fn_tensor_clone(t, e);
        if (put(o, f->id, name[k], o->fmt, v, e)) return -1;
    }
    if (o->overlay) {
        if (!f->image) return fn_seterr(e, "%s: --overlay needs an image in the frame", f->id);
        fn_err oe;
        fn_tensor *v = fn_overlay(f->image, f->mask, f->pred, o->threshold, &oe);
        if (!v) return fn_seterr(e, "%s: %s", f->id, oe.msg);
        if (put(o, f->id, "overlay", FN_FMT_PNG, v, e)) return -1;
    }
    return 0;
}

static int write_one(void *ctx, fn_frame *f, fn_out *out, fn_err *e) {
    return write_frame(ctx, f, e) ? FN_FRAME_FAIL : FN_FRAME_DONE;
}

int main(int argc, char **argv) {
    options o;
    parse(argc, argv, &o);
    fn_err e;
    fn_reader *r = fn_reader_open_path(o.input, &e);
    if (!r) fn_die(prog, "%s", e.msg);
    make_dir(o.dir);
    fn_filter_run(prog, r, NULL, write_one, &o);
    return 0;
}
