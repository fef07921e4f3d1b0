/* fn-normalize: z-score the images of a stream (output f32), with statistics fitted on the stream
 * itself (--fit, written to a JSON file), loaded from such a file (--stats), or per image.
 *
 * --fit reads the whole stream first: frames are spilled to an unlinked temporary file in $TMPDIR
 * (never held in memory), then read back, normalised and written. Masks and preds pass untouched.
 * Meta: norm_mode, norm_mean, norm_std (numbers; comma-separated strings per channel), and
 * norm_clip_lo/norm_clip_hi with --clip-percentile, --clip or --ct. --clip LO,HI clips every value first (fit
 * and apply); --foreground fits over the pixels of mask > 0 only; --ct is nnU-Net's CT scheme, both of
 * --foreground and --clip-percentile 0.5,99.5. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "data/cli.h"
#include "data/normstats.h"

static const char *prog = "fn-normalize";

static const char usage[] =
    "usage: fn-normalize [options] --fit STATS [FILE]\n"
    "usage: fn-normalize [options] --stats STATS [FILE]\n"
    "usage: fn-normalize [options] --per-image [FILE]\n"
    "\n"
    "Z-score the image of each frame of FILE (default stdin): (x - mean) / std, as f32. Masks and\n"
    "preds pass untouched; what was done is recorded in meta (norm_mode, norm_mean, norm_std).\n"
    "\n"
    "  -f, --fit STATS            compute mean and std over all values of all images of the stream,\n"
    "                             write them to the JSON file STATS, and emit the normalised stream\n"
    "  -s, --stats STATS          apply the statistics saved in STATS by --fit\n"
    "  -i, --per-image            z-score each image by its own mean and std\n"
    "  -c, --per-channel          one mean and std per channel (with --fit or --per-image)\n"
    "      --clip-percentile LO,HI  with --fit: clip values to the LO-th and HI-th percentiles of the\n"
    "                             data before normalising, e.g. 0.5,99.5\n"
    "      --clip LO,HI           with --fit: clip every value to [LO,HI] first (a CT window, e.g.\n"
    "                             -1024,1500): the statistics are those of the clipped values\n"
    "      --foreground           with --fit: statistics (and percentiles) over the pixels whose mask\n"
    "                             is > 0 only; every frame needs a mask\n"
    "      --ct                   with --fit: nnU-Net's CT scheme, --foreground --clip-percentile 0.5,99.5\n"
    "                             (a --clip-percentile given too sets the percentiles)\n"
    "  -o, --output FILE          write to FILE (atomically) instead of stdout\n"
    "  -h, --help                 show this help and exit\n"
    "      --version              show the version and exit\n";

enum { MODE_FIT, MODE_STATS, MODE_PER_IMAGE };

struct cmdline {
    int mode;
    const char *stats;
    int per_channel;
    int clip, window, foreground, ct;
    double plo, phi, wlo, whi;
    const char *input, *output;
};

static void parse_cmdline(int argc, char **argv, struct cmdline *cl) {
    enum { OPT_CLIP = 256, OPT_VERSION, OPT_WINDOW, OPT_FG, OPT_CT };
    static const struct option opts[] = {
        {"fit", required_argument, 0, 'f'},     {"stats", required_argument, 0, 's'},
        {"per-image", no_argument, 0, 'i'},     {"per-channel", no_argument, 0, 'c'},
        {"clip-percentile", required_argument, 0, OPT_CLIP}, {"clip", required_argument, 0, OPT_WINDOW},
        {"foreground", no_argument, 0, OPT_FG},  {"ct", no_argument, 0, OPT_CT},
        {"output", required_argument, 0, 'o'},  {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, OPT_VERSION}, {0, 0, 0, 0},
    };
    *cl = (struct cmdline){.mode = -1, .input = "-"};
    int o, nmodes = 0;
    double v[3];
    int n;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":f:s:ico:h", opts, NULL)) != -1) {
        switch (o) {
        case 'f': cl->mode = MODE_FIT, cl->stats = optarg, nmodes++; break;
        case 's': cl->mode = MODE_STATS, cl->stats = optarg, nmodes++; break;
        case 'i': cl->mode = MODE_PER_IMAGE, nmodes++; break;
        case 'c': cl->per_channel = 1; break;
        case OPT_CLIP:
            if (fn_parse_list(optarg, v, 3, &n) || n != 2 || v[0] < 0 || v[1] > 100 || v[0] >= v[1])
                fn_usage_die(prog, "bad percentiles '%s' (want LO,HI with 0 <= LO < HI <= 100)", optarg);
            cl->clip = 1, cl->plo = v[0], cl->phi = v[1];
            break;
        case OPT_WINDOW:
            if (fn_parse_list(optarg, v, 3, &n) || n != 2 || !(v[0] < v[1]))
                fn_usage_die(prog, "bad --clip '%s' (want LO,HI with LO < HI)", optarg);
            cl->window = 1, cl->wlo = v[0], cl->whi = v[1];
            break;
        case OPT_FG: cl->foreground = 1; break;
        case OPT_CT: cl->ct = 1; break;
        case 'o': cl->output = optarg; break;
        case 'h': fputs(usage, stdout); exit(0);
        case OPT_VERSION: fn_version(prog);
        default: fn_usage_getopt(prog, o, argv);
        }
    }
    if (nmodes != 1) fn_usage_die(prog, "give exactly one of --fit, --stats and --per-image");
    if (cl->clip && cl->mode != MODE_FIT) fn_usage_die(prog, "--clip-percentile goes with --fit");
    if (cl->window && cl->mode != MODE_FIT) fn_usage_die(prog, "--clip goes with --fit (the stats file keeps it)");
    if ((cl->foreground || cl->ct) && cl->mode != MODE_FIT)
        fn_usage_die(prog, "%s goes with --fit (the stats file keeps it)", cl->ct ? "--ct" : "--foreground");
    if (cl->ct) {
        cl->foreground = 1;
        if (!cl->clip) cl->clip = 1, cl->plo = 0.5, cl->phi = 99.5;
    }
    if (cl->per_channel && cl->mode == MODE_STATS)
        fn_usage_die(prog, "--per-channel goes with --fit or --per-image (the stats file says its mode)");
    cl->input = fn_input_operand(prog, argc, argv);
}

/* record s in meta: one number, or comma-separated per-channel values */
static int set_vals(fn_frame *f, const char *key, const fn_normstats *s, const double *v, fn_err *e) {
    if (!s->per_channel) return fn_meta_set_num(f, key, v[0], e);
    char buf[FN_MAX_C * 24];
    fn_norm_format(s, v, buf, sizeof buf);
    return fn_meta_set_str(f, key, buf, e);
}

static int record(fn_frame *f, const fn_normstats *s, int per_image, fn_err *e) {
    if (fn_meta_set_str(f, "norm_mode", fn_norm_mode_name(per_image, s->per_channel), e) ||
        set_vals(f, "norm_mean", s, s->mean, e) || set_vals(f, "norm_std", s, s->std, e))
        return -1;
    if (s->clip && (set_vals(f, "norm_clip_lo", s, s->clip_lo, e) || set_vals(f, "norm_clip_hi", s, s->clip_hi, e)))
        return -1;
    return 0;
}

static int do_frame(const struct cmdline *cl, const fn_normstats *s, fn_frame *f, fn_err *e) {
    if (!f->image) return 0;
    if (cl->mode == MODE_PER_IMAGE) {
        fn_normstats own;
        return fn_norm_per_image(&f->image, cl->per_channel, &own, e) || record(f, &own, 1, e);
    }
    return fn_norm_apply(s, &f->image, e) || record(f, s, 0, e);
}

#define DIE_FRAME(r, f, e)                                                                                             \
    fn_die(prog, "%s: frame %ld (%s): %s", fn_reader_name(r), fn_reader_count(r), (f).id, (e).msg)

static const char *input_name(const struct cmdline *cl) { return strcmp(cl->input, "-") ? cl->input : "stdin"; }

/* --fit: the first pass, spilling every frame to an unlinked temporary file; returns its fd */
static int fit(const struct cmdline *cl, fn_normstats *s) {
    fn_err e;
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/fn-normalize.XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) fn_die(prog, "cannot create a temporary file in %s: %s", dir && *dir ? dir : "/tmp", strerror(errno));
    unlink(path);
    fn_normfit *nf = fn_normfit_new(cl->per_channel, cl->clip, cl->plo, cl->phi, &e);
    fn_reader *r = nf ? fn_reader_open_path(cl->input, &e) : NULL;
    if (!r) fn_die(prog, "%s", e.msg);
    if (cl->window) fn_normfit_set_window(nf, cl->wlo, cl->whi);
    if (cl->foreground) fn_normfit_set_foreground(nf);
    fn_frame f;
    int rc;
    while ((rc = fn_reader_next(r, &f, &e)) == 1) {
        if (f.image && fn_normfit_add_masked(nf, f.image, f.mask, &e)) DIE_FRAME(r, f, e);
        if (fn_frame_write(fd, &f, &e)) fn_die(prog, "temporary file: %s", e.msg);
        fn_frame_clear(&f);
    }
    if (rc < 0) fn_die(prog, "%s", e.msg);
    fn_reader_close(r);
    if (fn_normfit_passes(nf) == 2) { /* f32 percentiles: a histogram between min and max */
        if (lseek(fd, 0, SEEK_SET) < 0 || !(r = fn_reader_open(dup(fd), input_name(cl), &e)))
            fn_die(prog, "temporary file: %s", strerror(errno));
        while ((rc = fn_reader_next(r, &f, &e)) == 1) {
            if (f.image && fn_normfit_add2_masked(nf, f.image, f.mask, &e)) DIE_FRAME(r, f, e);
            fn_frame_clear(&f);
        }
        if (rc < 0) fn_die(prog, "%s", e.msg);
        fn_reader_close(r);
    }
    if (fn_normfit_finish(nf, s, &e)) fn_die(prog, "%s: %s", input_name(cl), e.msg);
    fn_normfit_free(nf);
    int z = fn_normstats_zero_std(s);
    if (z >= 0)
        fn_warn(prog, "warning: %s: %s has zero variance (every value is %g): it is only centred, to 0",
                input_name(cl), s->per_channel ? (snprintf(path, sizeof path, "channel %d", z), path) : "the data",
                s->mean[z]);
    if (fn_normstats_save(s, cl->stats, &e)) fn_die(prog, "%s", e.msg);
    if (lseek(fd, 0, SEEK_SET) < 0) fn_die(prog, "temporary file: %s", strerror(errno));
    return fd;
}

struct job {
    const struct cmdline *cl;
    const fn_normstats *s;
};

static int normalize_frame(void *ctx, fn_frame *f, fn_out *out, fn_err *e) {
    struct job *j = ctx;
    return do_frame(j->cl, j->s, f, e) ? FN_FRAME_BAD : FN_FRAME_WRITE;
}

int main(int argc, char **argv) {
    struct cmdline cl;
    fn_normstats s;
    fn_err e;
    fn_out out;
    fn_reader *r;
    signal(SIGPIPE, SIG_IGN); /* a closed pipe: EPIPE, one line, exit 1 */
    parse_cmdline(argc, argv, &cl);

    if (cl.mode == MODE_STATS && fn_normstats_load(&s, cl.stats, &e)) fn_die(prog, "%s", e.msg);
    int to_stdout = !cl.output || !strcmp(cl.output, "-");
    if (to_stdout && fn_out_open(&out, cl.output, &e)) fn_die(prog, "%s", e.msg); /* refuses a terminal early */
    if (cl.mode == MODE_FIT) {
        int fd = fit(&cl, &s);
        r = fn_reader_open(fd, input_name(&cl), &e);
    } else {
        r = fn_reader_open_path(cl.input, &e);
    }
    if (!r) fn_die(prog, "%s", e.msg);
    if (!to_stdout && fn_out_open(&out, cl.output, &e)) fn_die(prog, "%s", e.msg);
    struct job j = {.cl = &cl, .s = &s};
    fn_filter_run(prog, r, &out, normalize_frame, &j);
    return 0;
}
