/* fn-write: an fn stream to picture files in a folder.
 *
 * For each frame: DIR/ID_image.png, DIR/ID_mask.png (0/255), DIR/ID_pred.png (probability x 255),
 * or .tif with --format tiff (image and pred keep their dtype), and with --overlay the montage
 * DIR/ID_overlay.png (input | truth | prediction); with --pred-suffix SUF the binary prediction
 * (p > T as 0/255) at the image's own size as DIR/ID SUF.png, as a challenge wants it (ISIC:
 * ID_segmentation.png). Each file is written atomically. See man/fn-write.1. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include "data/cli.h"
#include "data/codec.h"
#include "data/volume.h"
#include "imgproc/display.h"

static const char *prog = "fn-write";

enum { K_IMAGE = 1, K_MASK = 2, K_PRED = 4 };

typedef struct options {
    const char *dir, *input;
    fn_format fmt;
    int keys, overlay;
    double threshold;
    const char *pred_suffix;
    int nifti, probabilities;
} options;

_Noreturn static void usage(void) {
    printf("usage: fn-write [options] DIR [FILE]\n"
           "Write the frames of an fn stream (FILE or stdin) as pictures in folder DIR:\n"
           "ID_image.png, ID_mask.png, ID_pred.png, and ID_overlay.png with --overlay.\n"
           "  -f, --format png|tiff  file format of image, mask and pred (default png)\n"
           "  -k, --keys LIST        which of image,mask,pred to write where present\n"
           "                         (default: all three; none with --overlay)\n"
           "      --overlay          write the montage input | truth | prediction per frame\n"
           "      --pred-suffix SUF  write the binary prediction (p > T, 0/255) at the image's own size\n"
           "                         (meta orig_h x orig_w) as ID SUF .png (ISIC: _segmentation)\n"
           "      --nifti            stack the slices of each volume read by fn-read back into DIR/NAME.nii.gz\n"
           "                         (.nii when the source was) with the source's header: pred as labels\n"
           "                         0/1 (p > T), or --keys mask|image; --pred-suffix SUF names it NAME SUF\n"
           "      --probabilities    with --nifti: pred as a float32 probability volume\n"
           "  -t, --threshold T      prediction threshold of the overlay and --pred-suffix (default 0.5)\n"
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
    enum { O_OVERLAY = 256, O_VERSION, O_SUFFIX, O_NIFTI, O_PROB };
    static const struct option lo[] = {{"format", required_argument, 0, 'f'}, {"keys", required_argument, 0, 'k'},
                                       {"overlay", no_argument, 0, O_OVERLAY}, {"threshold", required_argument, 0, 't'},
                                       {"help", no_argument, 0, 'h'},          {"version", no_argument, 0, O_VERSION},
                                       {"pred-suffix", required_argument, 0, O_SUFFIX},
                                       {"nifti", no_argument, 0, O_NIFTI},     {"probabilities", no_argument, 0, O_PROB},
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
        case O_NIFTI: o->nifti = 1; break;
        case O_PROB: o->probabilities = 1; break;
        case O_SUFFIX:
            if (strchr(optarg, '/')) fn_usage_die(prog, "--pred-suffix: no '/' in a suffix, got '%s'", optarg);
            o->pred_suffix = optarg;
            break;
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
    if (o->probabilities && !o->nifti) fn_usage_die(prog, "--probabilities needs --nifti");
    if (o->nifti) {
        if (o->overlay || o->fmt != FN_FMT_PNG) fn_usage_die(prog, "--nifti excludes --overlay and --format");
        if (!keys_given) o->keys = K_PRED;
        if (o->keys != K_IMAGE && o->keys != K_MASK && o->keys != K_PRED)
            fn_usage_die(prog, "--nifti writes one of image, mask, pred (--keys)");
        if (o->probabilities && o->keys != K_PRED) fn_usage_die(prog, "--probabilities is for pred");
        return;
    }
    if (!keys_given) o->keys = o->overlay || o->pred_suffix ? 0 : K_IMAGE | K_MASK | K_PRED;
}

/* before the first frame: DIR, when it exists, must be a folder (nothing is made here) */
static void check_dir(const char *dir) {
    struct stat st;
    if (stat(dir, &st)) {
        if (errno != ENOENT) fn_die(prog, "%s: %s", dir, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) fn_die(prog, "%s: not a folder", dir);
}

/* mkdir -p, once, just before the first file goes into DIR: bad input before it, an empty stream, or
 * frames with nothing to write leave no folder behind */
static void make_dir(const char *dir) {
    static int made;
    if (made) return;
    made = 1;
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

/* write t (owned, freed here) as DIR/ID SUFFIX.EXT */
static int put_as(const options *o, const char *id, const char *suffix, fn_format fmt, fn_tensor *t, fn_err *e) {
    if (!t) return -1;
    size_t n = strlen(o->dir) + strlen(id) + strlen(suffix) + 8;
    char *path = malloc(n), *q;
    if (!path) {
        fn_tensor_free(t);
        return fn_seterr(e, "out of memory");
    }
    snprintf(path, n, "%s/", o->dir);
    q = path + strlen(path);
    snprintf(q, n - (size_t)(q - path), "%s%s.%s", id, suffix, fmt == FN_FMT_PNG ? "png" : "tif");
    for (; *q; q++)
        if (*q == '/') *q = '_'; /* an id never reaches outside DIR */
    make_dir(o->dir);
    int rc = fn_image_write_file(path, fmt, t, e);
    free(path);
    fn_tensor_free(t);
    return rc;
}

/* write t (owned, freed here) as DIR/ID_WHAT.EXT */
static int put(const options *o, const char *id, const char *what, fn_format fmt, fn_tensor *t, fn_err *e) {
    char suffix[64];
    snprintf(suffix, sizeof suffix, "_%s", what);
    return put_as(o, id, suffix, fmt, t, e);
}

/* --pred-suffix: pred > T as a 0/255 PNG, at the size meta says the image had */
static int put_binary_pred(const options *o, const fn_frame *f, fn_err *e) {
    const fn_tensor *p = f->pred;
    int64_t oh, ow;
    if (!p) return fn_seterr(e, "%s: no pred to write", f->id);
    if (!fn_meta_get_int(f, "orig_h", &oh) && !fn_meta_get_int(f, "orig_w", &ow) && (p->h != oh || p->w != ow))
        return fn_seterr(e, "%s: pred is %dx%d, the image's own size %lldx%lld (run fn-resize --restore first)", f->id,
                         p->h, p->w, (long long)oh, (long long)ow);
    fn_tensor *b = fn_tensor_alloc(FN_U8, 1, p->h, p->w, e);
    if (!b) return -1;
    const float *v = p->data;
    uint8_t *d = b->data;
    float t = (float)o->threshold;
    for (size_t i = 0, n = (size_t)p->h * p->w; i < n; i++) d[i] = v[i] > t ? 255 : 0;
    return put_as(o, f->id, o->pred_suffix, FN_FMT_PNG, b, e);
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
    if (o->pred_suffix && put_binary_pred(o, f, e)) return -1;
    return 0;
}

static int write_one(void *ctx, fn_frame *f, fn_out *out, fn_err *e) {
    return write_frame(ctx, f, e) ? FN_FRAME_FAIL : FN_FRAME_DONE;
}

/* ---- --nifti: the slices of each volume stacked back with the source's header ------------------- */

typedef struct open_vol {
    char *name, *header, *path;
    fn_volume_out out;
} open_vol;

typedef struct nifti_job {
    const options *o;
    open_vol *v;
    int n;
} nifti_job;

static void close_vol(nifti_job *j, int i) {
    fn_volume_out_free(&j->v[i].out);
    free(j->v[i].name), free(j->v[i].header), free(j->v[i].path);
    j->v[i] = j->v[--j->n];
}

/* the open volume of frame f (begun at its first slice) */
static open_vol *vol_of(nifti_job *j, const fn_frame *f, const char *name, int axis, fn_err *e) {
    const options *o = j->o;
    char src[4096];
    for (int i = 0; i < j->n; i++)
        if (!strcmp(j->v[i].name, name)) {
            if (j->v[i].out.axis != axis) {
                fn_seterr(e, "%s: slices of volume %s along two axes", f->id, name);
                return NULL;
            }
            return &j->v[i];
        }
    int found = -1;
    for (int i = 0; i < f->nmeta; i++)
        if (!strcmp(f->meta[i].key, "nifti_header")) found = i;
    if (found < 0) {
        fn_seterr(e, "%s: no meta nifti_header (frames of a volume read by fn-read)", f->id);
        return NULL;
    }
    size_t hl = f->meta[found].len + 1;
    char *hdr = malloc(hl);
    if (!hdr || fn_meta_get_str(f, "nifti_header", hdr, hl)) {
        free(hdr);
        fn_seterr(e, "%s: meta nifti_header is not a string", f->id);
        return NULL;
    }
    size_t sl = fn_meta_get_str(f, "src", src, sizeof src) ? 0 : strlen(src);
    int gz = !(sl > 4 && !strcasecmp(src + sl - 4, ".nii")); /* .nii when the source was */
    const char *suf = o->pred_suffix ? o->pred_suffix : "";
    size_t pl = strlen(o->dir) + strlen(name) + strlen(suf) + 16;
    char *path = malloc(pl);
    open_vol *nv = realloc(j->v, (size_t)(j->n + 1) * sizeof *nv);
    if (!path || !nv) {
        free(hdr), free(path);
        if (nv) j->v = nv;
        fn_seterr(e, "out of memory");
        return NULL;
    }
    j->v = nv;
    snprintf(path, pl, "%s/", o->dir);
    char *q = path + strlen(path);
    snprintf(q, pl - (size_t)(q - path), "%s%s%s", name, suf, gz ? ".nii.gz" : ".nii");
    for (; *q; q++)
        if (*q == '/') *q = '_';
    struct stat a, b; /* never over the scan itself */
    if (!fn_meta_get_str(f, "src", src, sizeof src) && !stat(src, &a) && !stat(path, &b) && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino) {
        fn_seterr(e, "%s: %s is the source volume itself (give another folder or --pred-suffix)", f->id, path);
        free(hdr), free(path);
        return NULL;
    }
    fn_dtype dt = o->keys == K_MASK || (o->keys == K_PRED && !o->probabilities) ? FN_U8 : FN_F32;
    open_vol *ov = &j->v[j->n];
    *ov = (open_vol){.header = hdr, .path = path, .name = strdup(name)};
    fn_err ve;
    if (ov->name) make_dir(o->dir); /* fn_volume_out_begin opens its temporary file in DIR */
    if (!ov->name || fn_volume_out_begin(&ov->out, hdr, axis, dt, path, &ve)) {
        fn_seterr(e, "%s: %s", f->id, ov->name ? ve.msg : "out of memory");
        free(hdr), free(path), free(ov->name);
        return NULL;
    }
    j->n++;
    return ov;
}

/* the volumes not finished when the tool exits on an error: their temporary files removed */
static nifti_job *dying;
static void drop_unfinished(void) {
    while (dying && dying->n) close_vol(dying, dying->n - 1);
}

static int write_nifti(void *ctx, fn_frame *f, fn_out *out, fn_err *e) {
    nifti_job *j = ctx;
    const options *o = j->o;
    char name[1024], ax[8];
    int64_t k;
    if (fn_meta_get_str(f, "volume", name, sizeof name) || fn_meta_get_int(f, "slice", &k) ||
        fn_meta_get_str(f, "axis", ax, sizeof ax) || strlen(ax) != 1 || !strchr("xyz", ax[0])) {
        fn_seterr(e, "%s: no meta volume, slice and axis (frames of a volume read by fn-read)", f->id);
        return FN_FRAME_FAIL;
    }
    const fn_tensor *t = o->keys == K_PRED ? f->pred : o->keys == K_MASK ? f->mask : f->image;
    if (!t) {
        fn_seterr(e, "%s: no %s to write", f->id, o->keys == K_PRED ? "pred" : o->keys == K_MASK ? "mask" : "image");
        return FN_FRAME_FAIL;
    }
    open_vol *v = vol_of(j, f, name, (int)(strchr("xyz", ax[0]) - "xyz"), e);
    if (!v) return FN_FRAME_FAIL;
    fn_tensor *lab = NULL;
    if (o->keys == K_PRED && !o->probabilities) { /* labels: p > T (a u8 pred from fn-post: non-zero) */
        if (!(lab = fn_tensor_alloc(FN_U8, t->c, t->h, t->w, e))) return FN_FRAME_FAIL;
        uint8_t *d = lab->data;
        for (size_t i = 0, n = fn_tensor_numel(t); i < n; i++)
            d[i] = t->dtype == FN_F32 ? ((const float *)t->data)[i] > o->threshold : fn_tensor_get(t, i) != 0;
        t = lab;
    }
    fn_err ve;
    int rc = fn_volume_out_put(&v->out, k, t, &ve);
    fn_tensor_free(lab);
    if (rc) {
        fn_seterr(e, "%s: %s", f->id, ve.msg);
        return FN_FRAME_FAIL;
    }
    if (v->out.filled == v->out.n) {
        if (fn_volume_out_finish(&v->out, &ve)) {
            fn_seterr(e, "%s", ve.msg);
            return FN_FRAME_FAIL;
        }
        close_vol(j, (int)(v - j->v));
    }
    return FN_FRAME_DONE;
}

int main(int argc, char **argv) {
    options o;
    parse(argc, argv, &o);
    fn_err e;
    fn_reader *r = fn_reader_open_path(o.input, &e);
    if (!r) fn_die(prog, "%s", e.msg);
    check_dir(o.dir);
    if (o.nifti) {
        fn_volume_quiet();
        static nifti_job j; /* for drop_unfinished, when a failure exits from the frame loop */
        j.o = &o;
        dying = &j;
        atexit(drop_unfinished);
        fn_filter_run(prog, r, NULL, write_nifti, &j);
        if (j.n) {
            fn_err ve;
            fn_volume_out_finish(&j.v[0].out, &ve); /* names the missing slices */
            fn_die(prog, "%s: %s", j.v[0].name, ve.msg);
        }
        dying = NULL;
        free(j.v);
        return 0;
    }
    fn_filter_run(prog, r, NULL, write_one, &o);
    return 0;
}
