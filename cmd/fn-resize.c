/* fn-resize: resize the image, mask, pred and roi of every frame, or restore them to the original size.
 *
 * Images and preds: antialiased bilinear (Pillow's BILINEAR); masks and rois: nearest, or bilinear
 * then threshold 0.5. Meta: orig_h/orig_w (set when absent), resize_from_h/resize_from_w, and with
 * --keep-aspect the padding pad_top/pad_left/pad_bottom/pad_right. --restore undoes the padding and
 * resizes back to orig_h x orig_w. --keep-native keeps the mask and roi as they were before the first
 * resize under native_mask/native_roi, and --restore puts them back in place of the resized ones, so
 * that a prediction is scored against the original annotation (man/fn-stream.5). */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/cli.h"
#include "imgproc/frame_resize.h"
#include "base/heap.h"

static const char *prog = "fn-resize";

static const char usage[] =
    "usage: fn-resize [options] HxW [FILE]\n"
    "usage: fn-resize [options] --scale F|--max-side N [FILE]\n"
    "usage: fn-resize [options] --restore [FILE]\n"
    "usage: fn-resize [options] --spacing MM [FILE]\n"
    "\n"
    "Resize the image, mask and pred of each frame of FILE (default stdin) to HxW, by a factor, or so\n"
    "that the longer side is at most N; or restore them to the size recorded in meta (orig_h, orig_w).\n"
    "Images and preds: antialiased bilinear (as Pillow's BILINEAR); masks and rois: nearest neighbour.\n"
    "\n"
    "  -s, --scale F          multiply both sides by F (> 0)\n"
    "  -m, --max-side N       shrink so that the longer side is N (smaller frames pass unchanged)\n"
    "      --spacing MM       resample to an in-plane pixel spacing of MM (from meta spacing_y,\n"
    "                         spacing_x, as fn-read sets for volumes); --restore brings it back\n"
    "  -k, --keep-aspect      fit inside HxW keeping the aspect ratio, pad with 0 (centred)\n"
    "      --mask-mode MODE   nearest (default) or bilinear (then threshold 0.5)\n"
    "  -n, --keep-native      keep the mask and roi as they are under native_mask, native_roi\n"
    "  -d, --drop-image       remove the image (scoring at native resolution needs none)\n"
    "  -r, --restore          resize back to orig_h x orig_w, removing --keep-aspect padding; the\n"
    "                         native_mask and native_roi kept by --keep-native replace mask and roi\n"
    "  -o, --output FILE      write to FILE (atomically) instead of stdout\n"
    "  -h, --help             show this help and exit\n"
    "      --version          show the version and exit\n";

enum { MODE_SIZE, MODE_SCALE, MODE_MAXSIDE, MODE_RESTORE, MODE_SPACING };

struct cmdline {
    int mode;
    int h, w;         /* MODE_SIZE */
    double scale;     /* MODE_SCALE */
    double spacing;   /* MODE_SPACING, mm */
    long max_side;    /* MODE_MAXSIDE */
    int keep_aspect;
    int mask_bilinear;
    int keep_native, drop_image;
    const char *input, *output;
};

static void parse_cmdline(int argc, char **argv, struct cmdline *cl) {
    enum { OPT_MASK_MODE = 256, OPT_VERSION, OPT_SPACING };
    static const struct option opts[] = {
        {"scale", required_argument, 0, 's'},         {"max-side", required_argument, 0, 'm'},
        {"keep-aspect", no_argument, 0, 'k'},         {"mask-mode", required_argument, 0, OPT_MASK_MODE},
        {"restore", no_argument, 0, 'r'},             {"output", required_argument, 0, 'o'},
        {"keep-native", no_argument, 0, 'n'},         {"drop-image", no_argument, 0, 'd'},
        {"help", no_argument, 0, 'h'},                {"version", no_argument, 0, OPT_VERSION},
        {"spacing", required_argument, 0, OPT_SPACING}, {0, 0, 0, 0},
    };
    *cl = (struct cmdline){.mode = -1, .input = "-"};
    int o, nmodes = 0;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":s:m:krndo:h", opts, NULL)) != -1) {
        switch (o) {
        case 's':
            if (fn_parse_double(optarg, &cl->scale) || cl->scale <= 0 || cl->scale > 1000)
                fn_usage_die(prog, "bad scale '%s' (want a number > 0)", optarg);
            cl->mode = MODE_SCALE, nmodes++;
            break;
        case 'm':
            if (fn_parse_int(optarg, 1, FN_MAX_HW, &cl->max_side)) fn_usage_die(prog, "bad max side '%s'", optarg);
            cl->mode = MODE_MAXSIDE, nmodes++;
            break;
        case OPT_SPACING:
            if (fn_parse_double(optarg, &cl->spacing) || !(cl->spacing > 0) || cl->spacing > 1e6)
                fn_usage_die(prog, "--spacing: expected a pixel spacing in mm > 0, got '%s'", optarg);
            cl->mode = MODE_SPACING, nmodes++;
            break;
        case 'k': cl->keep_aspect = 1; break;
        case OPT_MASK_MODE:
            if (!strcmp(optarg, "nearest")) cl->mask_bilinear = 0;
            else if (!strcmp(optarg, "bilinear")) cl->mask_bilinear = 1;
            else fn_usage_die(prog, "mask mode must be nearest or bilinear, not '%s'", optarg);
            break;
        case 'r': cl->mode = MODE_RESTORE, nmodes++; break;
        case 'n': cl->keep_native = 1; break;
        case 'd': cl->drop_image = 1; break;
        case 'o': cl->output = optarg; break;
        case 'h': fputs(usage, stdout); exit(0);
        case OPT_VERSION: fn_version(prog);
        default: fn_usage_getopt(prog, o, argv);
        }
    }
    if (nmodes > 1) fn_usage_die(prog, "--scale, --max-side, --spacing and --restore exclude each other");
    if (cl->mode < 0) {
        if (optind >= argc) fn_usage_die(prog, "missing size HxW");
        if (fn_parse_size(argv[optind], &cl->h, &cl->w))
            fn_usage_die(prog, "bad size '%s' (want HxW, e.g. 256x256)", argv[optind]);
        cl->mode = MODE_SIZE;
        optind++;
    }
    if (cl->keep_aspect && cl->mode != MODE_SIZE) fn_usage_die(prog, "--keep-aspect needs a size HxW");
    if (cl->keep_native && cl->mode == MODE_RESTORE) fn_usage_die(prog, "--keep-native and --restore exclude each other");
    cl->input = fn_input_operand(prog, argc, argv);
}

static int pad_slot(fn_tensor **t, int top, int left, int h, int w, fn_err *e) {
    fn_tensor *p = fn_pad(*t, top, left, h, w, e);
    if (!p) return -1;
    fn_frame_set_tensor(t, p);
    return 0;
}

/* ---- one frame -------------------------------------------------------------------------------- */

static long lround_pos(double v) {
    long r = lround(v);
    return r < 1 ? 1 : r > FN_MAX_HW ? FN_MAX_HW : r;
}

/* --keep-native: the mask and roi as they are now, unless a first resize kept them already */
static int keep_native(fn_frame *f, fn_err *e) {
    if (f->mask && !fn_frame_has_key(f, "native_mask") && fn_frame_put_tensor(f, "native_mask", f->mask, e)) return -1;
    if (f->roi && !fn_frame_has_key(f, "native_roi") && fn_frame_put_tensor(f, "native_roi", f->roi, e)) return -1;
    return 0;
}

static int do_frame(const struct cmdline *cl, fn_rs_cache *c, fn_frame *f, fn_err *e) {
    if (cl->drop_image) fn_frame_set_tensor(&f->image, NULL);
    if (cl->mode == MODE_RESTORE) return fn_frame_restore(c, f, e);
    fn_tensor **slot[FN_FRAME_SLOTS];
    fn_frame_slots(f, slot);
    const fn_resize_kind mk = cl->mask_bilinear ? FN_RESIZE_MASK_BILINEAR : FN_RESIZE_NEAREST;
    const fn_resize_kind kinds[FN_FRAME_SLOTS] = {FN_RESIZE_LINEAR, mk, FN_RESIZE_LINEAR, mk};
    int h, w, any = fn_frame_hw(f, &h, &w, e);
    if (any <= 0) return any; /* nothing to resize, or sizes that disagree */
    int64_t pad[4], x;
    if (cl->keep_native && keep_native(f, e)) return -1;
    if (fn_frame_padding(f, pad)) return fn_seterr(e, "frame is already padded by fn-resize --keep-aspect (restore it first)");
    int oh = cl->h, ow = cl->w, top = 0, left = 0, ch, cw;
    if (cl->mode == MODE_SCALE) oh = (int)lround_pos(h * cl->scale), ow = (int)lround_pos(w * cl->scale);
    else if (cl->mode == MODE_SPACING && fn_spacing_size(f, h, w, cl->spacing, &oh, &ow, e)) return -1;
    else if (cl->mode == MODE_MAXSIDE) {
        int m = h > w ? h : w;
        double s = m > cl->max_side ? (double)cl->max_side / m : 1.0;
        oh = s < 1 ? (int)lround_pos(h * s) : h, ow = s < 1 ? (int)lround_pos(w * s) : w;
    }
    ch = oh, cw = ow;
    if (cl->keep_aspect) {
        double s = fmin((double)oh / h, (double)ow / w);
        ch = (int)lround_pos(h * s), cw = (int)lround_pos(w * s);
        if (ch > oh) ch = oh;
        if (cw > ow) cw = ow;
        top = (oh - ch) / 2, left = (ow - cw) / 2;
    }
    for (int k = 0; k < FN_FRAME_SLOTS; k++)
        if (*slot[k] && fn_resize_slot(c, slot[k], ch, cw, kinds[k], e)) return -1;
    if (cl->keep_aspect)
        for (int k = 0; k < FN_FRAME_SLOTS; k++)
            if (*slot[k] && pad_slot(slot[k], top, left, oh, ow, e)) return -1;
    if (fn_meta_get_int(f, "orig_h", &x) || fn_meta_get_int(f, "orig_w", &x))
        if (fn_meta_set_int(f, "orig_h", h, e) || fn_meta_set_int(f, "orig_w", w, e)) return -1;
    if (fn_meta_set_int(f, "resize_from_h", h, e) || fn_meta_set_int(f, "resize_from_w", w, e)) return -1;
    if (cl->keep_aspect) {
        const int64_t pv[4] = {top, left, oh - ch - top, ow - cw - left};
        for (int i = 0; i < 4; i++)
            if (fn_meta_set_int(f, fn_pad_keys[i], pv[i], e)) return -1;
    }
    return 0;
}

struct job {
    const struct cmdline *cl;
    fn_rs_cache cache;
};

static int resize_frame(void *ctx, fn_frame *f, fn_out *out, fn_err *e) {
    struct job *j = ctx;
    return do_frame(j->cl, &j->cache, f, e) ? FN_FRAME_BAD : FN_FRAME_WRITE;
}

int main(int argc, char **argv) {
    fn_heap_for_frames((size_t)16 << 20);
    struct cmdline cl;
    signal(SIGPIPE, SIG_IGN); /* a closed pipe: EPIPE, one line, exit 1 */
    parse_cmdline(argc, argv, &cl);

    struct job j = {.cl = &cl};
    fn_filter_main(prog, cl.input, cl.output, resize_frame, &j);
    fn_rs_cache_free(&j.cache);
    return 0;
}
