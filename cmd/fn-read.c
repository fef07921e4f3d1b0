/* fn-read: image files (and their masks) to an fn stream.
 *
 * Operands are image files or folders (their image files, sorted by name); --list adds the pairs of
 * a TSV list. Masks come from the list or from --masks DIR by name (ID SUFFIX .EXT). Each file gives
 * one frame (a multi-page TIFF one per page, ids ID#0, ID#1...) with `image`, `mask` (u8 0/1), `roi`
 * (u8 0/1, from --roi DIR: a field-of-view mask, non-zero inside) and meta src, orig_h, orig_w (and
 * mask_src, roi_src). See man/fn-read.1. */
#include <dirent.h>
#include <getopt.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "data/cli.h"
#include "base/heap.h"
#include "data/codec.h"
#include "data/imglist.h"
#include "data/volume.h"
#include "imgproc/mask.h"
#include "base/ordered.h"

static const char *prog = "fn-read";

typedef struct options {
    char **inputs;
    int ninputs;
    const char *list, *masks, *suffix, *out, *roi, *roi_suffix;
    fn_mask_rule rule;
    fn_decode_opts dec;
    int allow_missing;
    int threads;
    int axis; /* volumes: 0, 1, 2 = x, y, z */
} options;

_Noreturn static void usage(void) {
    printf("usage: fn-read [options] FILE|DIR...\n"
           "usage: fn-read [options] --list LIST.tsv [FILE|DIR...]\n"
           "usage: fn-read [options] VOLUME|DIR...\n"
           "Read images (PNG, JPEG, TIFF, GIF) and their masks as an fn stream on stdout; or volumes\n"
           "(NIfTI .nii/.nii.gz, DICOM files and series folders) as one frame per slice.\n"
           "  -l, --list FILE          TSV list of image<TAB>mask lines (mask optional; '-' is stdin)\n"
           "  -m, --masks DIR          masks in DIR named ID SUFFIX .EXT (any image extension)\n"
           "  -s, --mask-suffix SUF    mask name suffix after the image's base name (ISIC: _segmentation)\n"
           "      --mask-values LIST   foreground labels of the mask, e.g. 150,200 (default: any non-zero)\n"
           "      --mask-threshold T   foreground where the mask is >= T (lossy JPEG masks: 128)\n"
           "      --allow-missing-masks  write frames without mask for images that have none\n"
           "      --roi DIR            a region of interest per image in DIR named ID SUFFIX .EXT\n"
           "                           (DRIVE's field of view; non-zero inside), as key roi\n"
           "      --roi-suffix SUF     roi name suffix after the image's base name\n"
           "      --gray               convert images to 1 channel (BT.601 luma)\n"
           "      --rgb                convert images to 3 channels\n"
           "      --size-hint HxW      let JPEG decode at 1/2, 1/4 or 1/8 size, staying >= HxW\n"
           "      --axis x|y|z         volumes: the axis to slice along (default z: the third voxel index)\n"
           "  -j, --threads N          decode N files at a time (default: the CPUs available, at most 4)\n"
           "  -o, --output FILE        write the stream to FILE (atomically) instead of stdout\n"
           "  -h, --help               show this help\n"
           "      --version            show the version\n");
    exit(0);
}

static void parse(int argc, char **argv, options *o) {
    enum { O_VALUES = 256, O_THRESH, O_ALLOW, O_GRAY, O_RGB, O_HINT, O_VERSION, O_ROI, O_ROI_SUFFIX, O_AXIS };
    static const struct option lo[] = {
        {"list", required_argument, 0, 'l'},         {"masks", required_argument, 0, 'm'},
        {"mask-suffix", required_argument, 0, 's'},  {"mask-values", required_argument, 0, O_VALUES},
        {"mask-threshold", required_argument, 0, O_THRESH}, {"allow-missing-masks", no_argument, 0, O_ALLOW},
        {"gray", no_argument, 0, O_GRAY},            {"grey", no_argument, 0, O_GRAY},
        {"rgb", no_argument, 0, O_RGB},              {"size-hint", required_argument, 0, O_HINT},
        {"output", required_argument, 0, 'o'},       {"threads", required_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},               {"roi", required_argument, 0, O_ROI},
        {"roi-suffix", required_argument, 0, O_ROI_SUFFIX}, {"axis", required_argument, 0, O_AXIS},
        {"version", no_argument, 0, O_VERSION},      {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->threads = omp_get_max_threads() < 4 ? omp_get_max_threads() : 4;
    o->axis = -1;
    int c;
    while ((c = getopt_long(argc, argv, ":l:m:s:o:j:h", lo, NULL)) != -1) {
        switch (c) {
        case 'l': o->list = optarg; break;
        case 'm': o->masks = optarg; break;
        case 's': o->suffix = optarg; break;
        case 'o': o->out = optarg; break;
        case 'j': {
            long v;
            if (fn_parse_int(optarg, 1, 256, &v)) fn_usage_die(prog, "-j: expected a number of threads 1..256, got '%s'", optarg);
            o->threads = (int)v;
            break;
        }
        case O_VALUES:
            if (fn_parse_list(optarg, o->rule.values, FN_MASK_MAX_VALUES, &o->rule.nvalues))
                fn_usage_die(prog, "--mask-values: expected a comma list of numbers, got '%s'", optarg);
            break;
        case O_THRESH:
            if (fn_parse_double(optarg, &o->rule.threshold))
                fn_usage_die(prog, "--mask-threshold: expected a number, got '%s'", optarg);
            o->rule.has_threshold = 1;
            break;
        case O_ALLOW: o->allow_missing = 1; break;
        case O_ROI: o->roi = optarg; break;
        case O_AXIS:
            if (!strcmp(optarg, "x")) o->axis = 0;
            else if (!strcmp(optarg, "y")) o->axis = 1;
            else if (!strcmp(optarg, "z")) o->axis = 2;
            else fn_usage_die(prog, "--axis: expected x, y or z, got '%s'", optarg);
            break;
        case O_ROI_SUFFIX: o->roi_suffix = optarg; break;
        case O_GRAY:
        case O_RGB: {
            int ch = c == O_GRAY ? 1 : 3;
            if (o->dec.channels && o->dec.channels != ch) fn_usage_die(prog, "--gray and --rgb exclude each other");
            o->dec.channels = ch;
            break;
        }
        case O_HINT:
            if (fn_parse_size(optarg, &o->dec.hint_h, &o->dec.hint_w))
                fn_usage_die(prog, "--size-hint: expected HxW, got '%s'", optarg);
            break;
        case 'h': usage();
        case O_VERSION: fn_version(prog);
        default: fn_usage_getopt(prog, c, argv);
        }
    }
    if (o->rule.nvalues && o->rule.has_threshold)
        fn_usage_die(prog, "--mask-values and --mask-threshold exclude each other");
    if (o->suffix && !o->masks) fn_usage_die(prog, "--mask-suffix needs --masks DIR");
    if (o->roi_suffix && !o->roi) fn_usage_die(prog, "--roi-suffix needs --roi DIR");
    o->inputs = argv + optind;
    o->ninputs = argc - optind;
    if (!o->ninputs && !o->list) fn_usage_die(prog, "no input: give image files, folders or --list");
}

/* the items to read, with their masks; dies on any problem found before decoding */
static void collect(const options *o, fn_items *items) {
    fn_err e;
    for (int i = 0; i < o->ninputs; i++)
        if (fn_items_add_path(items, o->inputs[i], &e)) fn_die(prog, "%s", e.msg);
    if (o->list && fn_items_add_list(items, o->list, &e)) fn_die(prog, "%s", e.msg);
    if (o->masks && fn_items_pair_masks(items, o->masks, o->suffix, &e)) fn_die(prog, "%s", e.msg);
    if (o->roi && fn_items_pair_rois(items, o->roi, o->roi_suffix, &e)) fn_die(prog, "%s", e.msg);
    int want_masks = o->masks != NULL;
    for (int i = 0; i < items->n; i++) want_masks |= items->v[i].mask != NULL;
    for (int i = 0; want_masks && !o->allow_missing && i < items->n; i++)
        if (!items->v[i].mask)
            fn_die(prog, "%s: no mask%s%s%s%s (use --allow-missing-masks to go on without)", items->v[i].image,
                   o->masks ? " " : "", o->masks ? items->v[i].id : "", o->suffix ? o->suffix : "",
                   o->masks ? ".* in the mask folder" : " in the list");
}

/* the roi of page k: any non-zero value is inside; reduced like the image by a JPEG size hint */
static int make_roi(fn_frame *f, const fn_item *it, const fn_page *p, fn_image *ri, int k, fn_err *e) {
    static const fn_mask_rule any = {0};
    fn_page *q = &ri->pages[ri->n == 1 ? 0 : k];
    if (q->t->h != p->orig_h || q->t->w != p->orig_w)
        return fn_seterr(e, "%s: roi is %dx%d but image %s is %dx%d", it->roi, q->t->h, q->t->w, it->image, p->orig_h,
                         p->orig_w);
    fn_tensor *m = fn_maskify(q->t, &any, e);
    if (m && p->denom > 1) {
        fn_tensor *r = fn_mask_reduce(m, p->denom, e);
        fn_tensor_free(m);
        m = r;
    }
    if (!m) return -1;
    fn_frame_set_tensor(&f->roi, m);
    return fn_meta_set_str(f, "roi_src", it->roi, e);
}

/* the frame of page k of an item: image, mask, roi, meta */
static int make_frame(fn_frame *f, const fn_item *it, fn_image *im, fn_image *mk, fn_image *ri, int k,
                      const options *o, fn_err *e) {
    fn_page *p = &im->pages[k];
    char id[4096];
    if (im->n > 1) snprintf(id, sizeof id, "%s#%d", it->id, k);
    else snprintf(id, sizeof id, "%s", it->id);
    if (fn_frame_set_id(f, id, e)) return -1;
    fn_frame_set_tensor(&f->image, p->t);
    p->t = NULL;
    if (mk->n) {
        fn_page *q = &mk->pages[mk->n == 1 ? 0 : k];
        if (q->t->h != p->orig_h || q->t->w != p->orig_w)
            return fn_seterr(e, "%s: mask is %dx%d but image %s is %dx%d", it->mask, q->t->h, q->t->w, it->image,
                             p->orig_h, p->orig_w);
        fn_tensor *m = fn_maskify(q->t, &o->rule, e);
        if (m && p->denom > 1) {
            fn_tensor *r = fn_mask_reduce(m, p->denom, e);
            fn_tensor_free(m);
            m = r;
        }
        if (!m) return -1;
        fn_frame_set_tensor(&f->mask, m);
    }
    if (fn_meta_set_str(f, "src", it->image, e) || fn_meta_set_int(f, "orig_h", p->orig_h, e) ||
        fn_meta_set_int(f, "orig_w", p->orig_w, e) || (it->mask && fn_meta_set_str(f, "mask_src", it->mask, e)))
        return -1;
    return ri->n ? make_roi(f, it, p, ri, k, e) : 0;
}

/* every frame of one item, decoded; 0, or -1 with e set (frames holds nothing then) */
static int load_item(const fn_item *it, const options *o, fn_frame **frames, int *n, fn_err *e) {
    static const fn_decode_opts mask_dec = {0, 0, 0};
    fn_image im, mk = {0}, ri = {0};
    *frames = NULL;
    *n = 0;
    int bad = fn_image_read(it->image, &o->dec, &im, e);
    if (!bad && it->mask && !(bad = fn_image_read(it->mask, &mask_dec, &mk, e)) && mk.n != 1 && mk.n != im.n)
        bad = fn_seterr(e, "%s: mask has %d pages but image %s has %d", it->mask, mk.n, it->image, im.n);
    if (!bad && it->roi && !(bad = fn_image_read(it->roi, &mask_dec, &ri, e)) && ri.n != 1 && ri.n != im.n)
        bad = fn_seterr(e, "%s: roi has %d pages but image %s has %d", it->roi, ri.n, it->image, im.n);
    if (!bad && !(*frames = calloc((size_t)im.n, sizeof **frames))) bad = fn_seterr(e, "out of memory");
    for (int k = 0; !bad && k < im.n; k++) {
        bad = make_frame(&(*frames)[k], it, &im, &mk, &ri, k, o, e);
        *n = k + 1;
    }
    fn_image_free(&im);
    fn_image_free(&mk);
    fn_image_free(&ri);
    if (bad) {
        for (int k = 0; k < *n; k++) fn_frame_clear(&(*frames)[k]);
        free(*frames);
        *frames = NULL;
        *n = 0;
    }
    return bad ? -1 : 0;
}

/* the decoded frames of one item, between a decoding thread and the writer */
typedef struct decoded {
    fn_frame *frames;
    int n;
} decoded;

typedef struct job {
    const options *o;
    const fn_items *items;
    fn_out *out;
} job;

static void drop_decoded(void *ctx, void *res) {
    decoded *d = res;
    for (int k = 0; k < d->n; k++) fn_frame_clear(&d->frames[k]);
    free(d->frames);
    free(d);
}

static int decode_item(void *ctx, int i, void **res, fn_err *e) {
    const job *j = ctx;
    decoded *d = malloc(sizeof *d);
    if (!d) return fn_seterr(e, "out of memory");
    if (load_item(&j->items->v[i], j->o, &d->frames, &d->n, e)) {
        free(d);
        return -1;
    }
    *res = d;
    return 0;
}

static int write_item(void *ctx, int i, void *res, fn_err *e) {
    const job *j = ctx;
    decoded *d = res;
    int rc = 0;
    for (int k = 0; !rc && k < d->n; k++) rc = fn_out_write(j->out, &d->frames[k], e);
    drop_decoded(ctx, d);
    return rc;
}

/* ---- volumes: NIfTI files (and folders of them), DICOM files and series folders; a frame per slice -- */

typedef struct vol_item {
    char *path, *mask, *name;
    int64_t dim[3];
} vol_item;

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* the .nii/.nii.gz files of dir, sorted (NULL when it is not a folder); *n of them */
static char **volume_files(const char *dir, int *n) {
    struct stat st;
    *n = 0;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) return NULL;
    DIR *d = opendir(dir);
    if (!d) return NULL;
    char **v = NULL;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !fn_is_nifti_name(de->d_name)) continue;
        char **nv = realloc(v, (size_t)(*n + 1) * sizeof *v);
        size_t len = strlen(dir) + strlen(de->d_name) + 2;
        char *p = malloc(len);
        if (!nv || !p) fn_die(prog, "out of memory");
        v = nv;
        snprintf(p, len, "%s/%s", dir, de->d_name);
        v[(*n)++] = p;
    }
    closedir(d);
    if (*n) qsort(v, (size_t)*n, sizeof *v, cmp_str);
    return v;
}

/* 1 when the operand is a volume or a folder of them: a .nii/.nii.gz file, a DICOM file, a folder of
 * NIfTI files or a DICOM series folder */
static int is_volume_operand(const char *path) {
    if (fn_is_volume(path)) return 1;
    int n;
    char **v = volume_files(path, &n);
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
    return n > 0;
}

/* DIR/NAME SUFFIX .nii.gz or .nii */
static char *find_label(const options *o, const char *name) {
    static const char *const ext[] = {".nii.gz", ".nii"};
    char *found = NULL;
    for (int i = 0; i < 2; i++) {
        size_t len = strlen(o->masks) + strlen(name) + (o->suffix ? strlen(o->suffix) : 0) + 10;
        char *p = malloc(len);
        if (!p) fn_die(prog, "out of memory");
        snprintf(p, len, "%s/%s%s%s", o->masks, name, o->suffix ? o->suffix : "", ext[i]);
        if (access(p, F_OK)) {
            free(p);
            continue;
        }
        if (found) fn_die(prog, "%s and %s: two label volumes for %s", found, p, name);
        found = p;
    }
    return found;
}

/* every volume of the operands, with its label volume, their headers checked before anything is written */
static vol_item *collect_volumes(const options *o, int *n) {
    vol_item *v = NULL;
    *n = 0;
    fn_err e;
    for (int i = 0; i < o->ninputs; i++) {
        int k = 0;
        char **files = volume_files(o->inputs[i], &k);
        if (!k) { /* a file, or a DICOM series folder: one volume */
            free(files);
            files = NULL;
        }
        if (!files) {
            if (!fn_is_volume(o->inputs[i]))
                fn_die(prog, "%s: not a volume (.nii, .nii.gz, DICOM) or a folder of them", o->inputs[i]);
            files = malloc(sizeof *files);
            if (!files || !(files[0] = strdup(o->inputs[i]))) fn_die(prog, "out of memory");
            k = 1;
        }
        if (!(v = realloc(v, (size_t)(*n + k) * sizeof *v))) fn_die(prog, "out of memory");
        for (int j = 0; j < k; j++) v[(*n)++] = (vol_item){.path = files[j], .name = fn_volume_stem(files[j])};
        free(files);
    }
    for (int i = 0; i < *n; i++) {
        vol_item *it = &v[i];
        if (!it->name) fn_die(prog, "out of memory");
        for (int j = 0; j < i; j++)
            if (!strcmp(v[j].name, it->name)) fn_die(prog, "%s and %s: two volumes named %s", v[j].path, it->path, it->name);
        if (fn_volume_probe(it->path, it->dim, &e)) fn_die(prog, "%s", e.msg);
        if (!o->masks) continue;
        if (!(it->mask = find_label(o, it->name))) {
            if (o->allow_missing) continue;
            fn_die(prog, "%s: no label volume %s%s.nii.gz or .nii in %s (use --allow-missing-masks to go on without)",
                   it->path, it->name, o->suffix ? o->suffix : "", o->masks);
        }
        int64_t d[3];
        if (fn_volume_probe(it->mask, d, &e)) fn_die(prog, "%s", e.msg);
        if (d[0] != it->dim[0] || d[1] != it->dim[1] || d[2] != it->dim[2])
            fn_die(prog, "%s: label volume is %lldx%lldx%lld but %s is %lldx%lldx%lld", it->mask, (long long)d[0],
                   (long long)d[1], (long long)d[2], it->path, (long long)it->dim[0], (long long)it->dim[1],
                   (long long)it->dim[2]);
    }
    return v;
}

/* the frame of slice k: image, mask, meta */
static int volume_frame(fn_frame *f, const vol_item *it, const fn_volume *vol, const fn_volume *lab, int axis,
                        int64_t k, const options *o, fn_err *e) {
    static const char axes[] = "xyz";
    char id[4096];
    snprintf(id, sizeof id, "%s_%c%04lld", it->name, axes[axis], (long long)k);
    if (fn_frame_set_id(f, id, e)) return -1;
    fn_tensor *t = fn_volume_slice(vol, axis, k, e);
    if (!t) return -1;
    fn_frame_set_tensor(&f->image, t);
    if (lab->nim) {
        fn_tensor *l = fn_volume_slice(lab, axis, k, e), *m = l ? fn_maskify(l, &o->rule, e) : NULL;
        fn_tensor_free(l);
        if (!m) return -1;
        fn_frame_set_tensor(&f->mask, m);
    }
    /* the pixel spacing along columns (x) and rows (y) of the slice, and between slices (z) */
    const int col = axis == 0 ? 1 : 0, row = axis == 2 ? 1 : 2;
    double pos[3];
    fn_volume_world(vol, axis, k, 0, 0, pos);
    char axs[2] = {axes[axis], 0};
    if (fn_meta_set_str(f, "src", it->path, e) || fn_meta_set_int(f, "orig_h", t->h, e) ||
        fn_meta_set_int(f, "orig_w", t->w, e) || fn_meta_set_str(f, "volume", it->name, e) ||
        fn_meta_set_int(f, "slice", k, e) || fn_meta_set_str(f, "axis", axs, e) ||
        fn_meta_set_int(f, "nslices", vol->dim[axis], e) || fn_meta_set_num(f, "spacing_x", vol->pixdim[col], e) ||
        fn_meta_set_num(f, "spacing_y", vol->pixdim[row], e) || fn_meta_set_num(f, "spacing_z", vol->pixdim[axis], e) ||
        fn_meta_set_num(f, "pos_x", pos[0], e) || fn_meta_set_num(f, "pos_y", pos[1], e) ||
        fn_meta_set_num(f, "pos_z", pos[2], e) || fn_meta_set_str(f, "nifti_header", vol->header, e) ||
        (it->mask && fn_meta_set_str(f, "mask_src", it->mask, e)))
        return -1;
    return 0;
}

/* read each volume (and its labels) whole and write its slices in order */
static void read_volumes(const options *o) {
    if (o->list || o->roi) fn_usage_die(prog, "--list and --roi are for images, not volumes");
    if (o->dec.channels || o->dec.hint_h) fn_usage_die(prog, "--gray, --rgb and --size-hint are for images, not volumes");
    fn_volume_quiet();
    int n;
    vol_item *v = collect_volumes(o, &n);
    int axis = o->axis < 0 ? 2 : o->axis;
    fn_out out;
    fn_err e;
    if (fn_out_open(&out, o->out, &e)) fn_die(prog, "%s", e.msg);
    int bad = 0;
    for (int i = 0; !bad && i < n; i++) {
        fn_volume vol, lab = {0};
        if ((bad = fn_volume_read(v[i].path, &vol, &e))) break;
        if (v[i].mask && (bad = fn_volume_read(v[i].mask, &lab, &e))) {
            fn_volume_free(&vol);
            break;
        }
        for (int64_t k = 0; !bad && k < vol.dim[axis]; k++) {
            fn_frame f;
            fn_frame_init(&f);
            bad = volume_frame(&f, &v[i], &vol, &lab, axis, k, o, &e) || fn_out_write(&out, &f, &e);
            fn_frame_clear(&f);
        }
        fn_volume_free(&vol);
        fn_volume_free(&lab);
    }
    if (bad) {
        fn_out_abort(&out);
        fn_die(prog, "%s", e.msg);
    }
    if (fn_out_close(&out, &e)) fn_die(prog, "%s", e.msg);
    for (int i = 0; i < n; i++) free(v[i].path), free(v[i].mask), free(v[i].name);
    free(v);
}

int main(int argc, char **argv) {
    /* frames are big and short-lived: keep freed memory for the next one instead of unmapping it
     * and faulting fresh pages in again (a quarter of the time on 1024-px JPEGs otherwise) */
    fn_heap_for_frames((size_t)32 << 20);
    options o;
    signal(SIGPIPE, SIG_IGN); /* a closed pipe: EPIPE, one line, exit 1 */
    parse(argc, argv, &o);
    int volumes = 0;
    for (int i = 0; i < o.ninputs; i++) volumes += is_volume_operand(o.inputs[i]);
    if (volumes && volumes < o.ninputs) fn_usage_die(prog, "volumes and images in one run: read them in two");
    if (volumes) {
        read_volumes(&o);
        return 0;
    }
    if (o.axis >= 0) fn_usage_die(prog, "--axis is for volumes (.nii, .nii.gz, DICOM)");
    fn_items items = {0};
    collect(&o, &items);
    fn_out out;
    fn_err e;
    if (fn_out_open(&out, o.out, &e)) fn_die(prog, "%s", e.msg);
    /* threads decode items as they come; the frames are written in item order; after a failure no
     * new item is started and the frames of the items before it are written whole */
    job j = {&o, &items, &out};
    if (fn_ordered_map(items.n, o.threads, decode_item, write_item, drop_decoded, &j, &e)) {
        fn_out_abort(&out);
        fn_die(prog, "%s", e.msg);
    }
    fn_items_free(&items);
    if (fn_out_close(&out, &e)) fn_die(prog, "%s", e.msg);
    return 0;
}
