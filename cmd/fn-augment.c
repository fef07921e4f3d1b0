/* fn-augment: write K randomly augmented copies of every frame (ids ID~1 .. ID~K).
 *
 * Copy k of the frame at position i of the stream depends only on (--seed, i, k) and the options
 * (counter-based RNG streams, lib/imgproc/augment.c), so the output bytes do not depend on how the pipe is
 * chunked. One geometric transform (flips, rotation, zoom) is applied to image (bilinear), mask and roi
 * (nearest) and pred (bilinear); intensity ops touch the image only. Meta: aug (the ops drawn), aug_copy. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "imgproc/augment.h"
#include "data/cli.h"

static const char *prog = "fn-augment";

static const char usage[] =
    "usage: fn-augment [options] [FILE]\n"
    "\n"
    "Write K augmented copies of each frame of FILE (default stdin), with ids ID~1 .. ID~K. Each op\n"
    "happens with probability P (default 1 where ':P' may be given). Amounts for brightness and noise\n"
    "are fractions of the dtype's range (255 for u8, 65535 for u16, 1 for f32).\n"
    "\n"
    "  -n, --copies K             copies per input frame (default 1)\n"
    "  -k, --keep-original        also write each input frame unchanged, before its copies\n"
    "  -S, --seed S               seed, a non-negative integer (default 0)\n"
    "      --hflip P              mirror left-right with probability P\n"
    "      --vflip P              mirror top-bottom with probability P\n"
    "      --rotate DEG[:P]       rotate by an angle uniform in [-DEG, DEG] degrees\n"
    "      --zoom LO,HI[:P]       scale about the centre by a factor uniform in [LO, HI]\n"
    "      --channel-shift P      reverse the channel order (RGB <-> BGR) with probability P\n"
    "      --brightness B[:P]     add a value uniform in [-B, B]\n"
    "      --contrast C[:P]       scale about the image mean by a factor uniform in [1-C, 1+C]\n"
    "      --gamma G[:P]          gamma log-uniform in [1/(1+G), 1+G]\n"
    "      --noise SIGMA[:P]      add Gaussian noise of standard deviation SIGMA\n"
    "  -o, --output FILE          write to FILE (atomically) instead of stdout\n"
    "  -h, --help                 show this help and exit\n"
    "      --version              show the version and exit\n";

struct cmdline {
    long copies;
    int keep_original;
    uint64_t seed;
    fn_aug_opts aug;
    const char *input, *output;
};

/* "P" */
static double parse_p(const char *opt, const char *s) {
    double p;
    if (fn_parse_double(s, &p) || p < 0 || p > 1) fn_usage_die(prog, "bad probability '%s' for --%s", s, opt);
    return p;
}

/* "V[:P]" or, with two values, "LO,HI[:P]": fills v (n values) and returns P (1 when absent) */
static double parse_vp(const char *opt, const char *s, double *v, int n) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    char *colon = strchr(buf, ':');
    double p = 1.0;
    if (colon) {
        *colon = 0;
        p = parse_p(opt, colon + 1);
    }
    int got;
    if (fn_parse_list(buf, v, n, &got) || got != n)
        fn_usage_die(prog, "bad value '%s' for --%s (want %s[:P])", s, opt, n == 2 ? "LO,HI" : "X");
    return p;
}

static void parse_cmdline(int argc, char **argv, struct cmdline *cl) {
    enum { OPT_HFLIP = 256, OPT_VFLIP, OPT_ROTATE, OPT_ZOOM, OPT_CHSHIFT, OPT_BRIGHT, OPT_CONTRAST, OPT_GAMMA,
           OPT_NOISE, OPT_VERSION };
    static const struct option opts[] = {
        {"copies", required_argument, 0, 'n'},     {"keep-original", no_argument, 0, 'k'},
        {"seed", required_argument, 0, 'S'},       {"hflip", required_argument, 0, OPT_HFLIP},
        {"vflip", required_argument, 0, OPT_VFLIP}, {"rotate", required_argument, 0, OPT_ROTATE},
        {"zoom", required_argument, 0, OPT_ZOOM},  {"channel-shift", required_argument, 0, OPT_CHSHIFT},
        {"brightness", required_argument, 0, OPT_BRIGHT}, {"contrast", required_argument, 0, OPT_CONTRAST},
        {"gamma", required_argument, 0, OPT_GAMMA}, {"noise", required_argument, 0, OPT_NOISE},
        {"output", required_argument, 0, 'o'},     {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, OPT_VERSION},  {0, 0, 0, 0},
    };
    *cl = (struct cmdline){.copies = 1, .input = "-"};
    fn_aug_opts *a = &cl->aug;
    double x[2];
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":n:kS:o:h", opts, NULL)) != -1) {
        switch (o) {
        case 'n':
            if (fn_parse_int(optarg, 0, 100000, &cl->copies)) fn_usage_die(prog, "bad copy count '%s'", optarg);
            break;
        case 'k': cl->keep_original = 1; break;
        case 'S':
            if (fn_parse_seed(optarg, &cl->seed)) fn_usage_die(prog, "bad seed '%s'", optarg);
            break;
        case OPT_HFLIP: a->hflip_p = parse_p("hflip", optarg); break;
        case OPT_VFLIP: a->vflip_p = parse_p("vflip", optarg); break;
        case OPT_CHSHIFT: a->chshift_p = parse_p("channel-shift", optarg); break;
        case OPT_ROTATE:
            a->rotate_p = parse_vp("rotate", optarg, x, 1);
            if (x[0] < 0 || x[0] > 180) fn_usage_die(prog, "rotation must be 0 to 180 degrees, not '%s'", optarg);
            a->rotate = x[0];
            break;
        case OPT_ZOOM:
            a->zoom_p = parse_vp("zoom", optarg, x, 2);
            if (x[0] <= 0 || x[1] < x[0] || x[1] > 100) fn_usage_die(prog, "bad zoom range '%s' (want 0 < LO <= HI)", optarg);
            a->zoom_lo = x[0], a->zoom_hi = x[1];
            break;
        case OPT_BRIGHT:
            a->bright_p = parse_vp("brightness", optarg, x, 1);
            if (x[0] < 0) fn_usage_die(prog, "brightness must be >= 0, not '%s'", optarg);
            a->bright = x[0];
            break;
        case OPT_CONTRAST:
            a->contrast_p = parse_vp("contrast", optarg, x, 1);
            if (x[0] < 0 || x[0] >= 1) fn_usage_die(prog, "contrast must be in [0, 1), not '%s'", optarg);
            a->contrast = x[0];
            break;
        case OPT_GAMMA:
            a->gamma_p = parse_vp("gamma", optarg, x, 1);
            if (x[0] < 0 || x[0] > 10) fn_usage_die(prog, "gamma must be in [0, 10], not '%s'", optarg);
            a->gamma = x[0];
            break;
        case OPT_NOISE:
            a->noise_p = parse_vp("noise", optarg, x, 1);
            if (x[0] < 0) fn_usage_die(prog, "noise must be >= 0, not '%s'", optarg);
            a->noise = x[0];
            break;
        case 'o': cl->output = optarg; break;
        case 'h': fputs(usage, stdout); exit(0);
        case OPT_VERSION: fn_version(prog);
        default: fn_usage_getopt(prog, o, argv);
        }
    }
    if (cl->copies == 0 && !cl->keep_original) fn_usage_die(prog, "-n 0 writes nothing without --keep-original");
    cl->input = fn_input_operand(prog, argc, argv);
}

/* fn-resize --keep-native's copies of the mask and roi do not match an augmented copy: dropped */
static int drop_native(fn_frame *c, fn_err *e) {
    static const char *const keys[2] = {"native_mask", "native_roi"};
    for (int i = 0; i < 2; i++) {
        fn_tensor *t = NULL;
        if (fn_frame_take_tensor(c, keys[i], &t, e) < 0) return -1;
        fn_tensor_free(t);
    }
    return 0;
}

/* copy k (1-based) of frame number i (0-based) into c */
static int make_copy(const struct cmdline *cl, const fn_frame *f, long i, long k, fn_frame *c, fn_err *e) {
    if (f->mask && f->image && (f->mask->h != f->image->h || f->mask->w != f->image->w))
        return fn_seterr(e, "mask is %dx%d but image is %dx%d", f->mask->h, f->mask->w, f->image->h, f->image->w);
    if (f->pred && f->image && (f->pred->h != f->image->h || f->pred->w != f->image->w))
        return fn_seterr(e, "pred is %dx%d but image is %dx%d", f->pred->h, f->pred->w, f->image->h, f->image->w);
    if (f->roi && f->image && (f->roi->h != f->image->h || f->roi->w != f->image->w))
        return fn_seterr(e, "roi is %dx%d but image is %dx%d", f->roi->h, f->roi->w, f->image->h, f->image->w);
    if (fn_frame_copy(c, f, e)) return -1;
    char id[4096], ops[512];
    snprintf(id, sizeof id, "%s~%ld", f->id, k);
    fn_aug_draw d;
    fn_aug_draw_ops(&cl->aug, cl->seed, (uint64_t)i, (uint64_t)k, &d);
    if (fn_frame_set_id(c, id, e)) return -1;
    if (fn_aug_is_geometric(&d)) {
        if (c->image && fn_aug_geometric(&d, &c->image, 0, e)) return -1;
        if (c->mask && fn_aug_geometric(&d, &c->mask, 1, e)) return -1;
        if (c->pred && fn_aug_geometric(&d, &c->pred, 0, e)) return -1;
        if (c->roi && fn_aug_geometric(&d, &c->roi, 1, e)) return -1;
    }
    if (drop_native(c, e)) return -1;
    if (c->image && fn_aug_intensity(&d, c->image, e)) return -1;
    fn_aug_describe(&d, ops, sizeof ops);
    return fn_meta_set_str(c, "aug", ops, e) || fn_meta_set_int(c, "aug_copy", k, e);
}

struct job {
    const struct cmdline *cl;
    long index; /* of the frame in the stream, from 0 */
};

/* the original (with --keep-original) and the copies of one frame; f itself is not written again */
static int augment_frame(void *ctx, fn_frame *f, fn_out *out, fn_err *e) {
    struct job *j = ctx;
    long i = j->index++;
    if (j->cl->keep_original && fn_out_write(out, f, e)) return FN_FRAME_FAIL;
    for (long k = 1; k <= j->cl->copies; k++) {
        fn_frame c;
        fn_frame_init(&c);
        if (make_copy(j->cl, f, i, k, &c, e)) return FN_FRAME_BAD;
        int bad = fn_out_write(out, &c, e);
        fn_frame_clear(&c);
        if (bad) return FN_FRAME_FAIL;
    }
    return FN_FRAME_DONE;
}

int main(int argc, char **argv) {
    struct cmdline cl;
    signal(SIGPIPE, SIG_IGN); /* a closed pipe: EPIPE, one line, exit 1 */
    parse_cmdline(argc, argv, &cl);

    struct job j = {.cl = &cl};
    fn_filter_main(prog, cl.input, cl.output, augment_frame, &j);
    return 0;
}
