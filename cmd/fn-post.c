/* fn-post: post-process the pred of every frame into a binary mask (0/1 f32).
 *
 * Threshold (p > T), then remove components under N pixels, keep the K largest, fill holes
 * (lib/imgproc/post.c); pred keeps its key, dtype and shape, so fn-score and fn-write work unchanged. Meta
 * `post` records what was done. Everything else in a frame passes through unchanged. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/cli.h"
#include "base/heap.h"
#include "imgproc/post.h"

static const char *prog = "fn-post";

static const char usage[] =
    "usage: fn-post [options] [FILE]\n"
    "\n"
    "Turn the pred of each frame of FILE (default stdin) into a binary mask (0/1, f32): threshold,\n"
    "then remove small components, keep the largest ones, fill holes, in that order.\n"
    "\n"
    "  -t, --threshold T      foreground where p > T (default 0.5)\n"
    "  -s, --min-size N       remove components of fewer than N pixels\n"
    "  -k, --largest K        keep only the K largest components\n"
    "  -c, --connectivity C   4 or 8 (default 8); holes use the other one\n"
    "  -f, --fill-holes       fill background regions that do not touch the image border\n"
    "  -o, --output FILE      write to FILE (atomically) instead of stdout\n"
    "  -h, --help             show this help and exit\n"
    "      --version          show the version and exit\n";

struct cmdline {
    fn_post_opts po;
    const char *input, *output;
};

static void parse_cmdline(int argc, char **argv, struct cmdline *cl) {
    enum { OPT_VERSION = 256 };
    static const struct option opts[] = {
        {"threshold", required_argument, 0, 't'},    {"min-size", required_argument, 0, 's'},
        {"largest", required_argument, 0, 'k'},      {"connectivity", required_argument, 0, 'c'},
        {"fill-holes", no_argument, 0, 'f'},         {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},               {"version", no_argument, 0, OPT_VERSION},
        {0, 0, 0, 0},
    };
    *cl = (struct cmdline){.po = {.threshold = 0.5, .conn = 8}, .input = "-"};
    long v;
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":t:s:k:c:fo:h", opts, NULL)) != -1) {
        switch (o) {
        case 't':
            if (fn_parse_double(optarg, &cl->po.threshold) || cl->po.threshold < 0 || cl->po.threshold > 1)
                fn_usage_die(prog, "bad threshold '%s' (want a number from 0 to 1)", optarg);
            break;
        case 's':
            if (fn_parse_int(optarg, 0, (long)FN_MAX_HW * FN_MAX_HW, &v)) fn_usage_die(prog, "bad --min-size '%s'", optarg);
            cl->po.min_size = v;
            break;
        case 'k':
            if (fn_parse_int(optarg, 1, 1L << 30, &v)) fn_usage_die(prog, "bad --largest '%s' (want K >= 1)", optarg);
            cl->po.largest = (int)v;
            break;
        case 'c':
            if (fn_parse_int(optarg, 4, 8, &v) || (v != 4 && v != 8))
                fn_usage_die(prog, "connectivity must be 4 or 8, not '%s'", optarg);
            cl->po.conn = (int)v;
            break;
        case 'f': cl->po.fill_holes = 1; break;
        case 'o': cl->output = optarg; break;
        case 'h': fputs(usage, stdout); exit(0);
        case OPT_VERSION: fn_version(prog);
        default: fn_usage_getopt(prog, o, argv);
        }
    }
    cl->input = fn_input_operand(prog, argc, argv);
}

static int post_frame(void *ctx, fn_frame *f, fn_out *out, fn_err *e) {
    const fn_post_opts *po = ctx;
    if (!f->pred) return fn_seterr(e, "no pred to post-process"), FN_FRAME_BAD;
    fn_post_stats st;
    if (fn_post_f32(f->pred->data, f->pred->h, f->pred->w, po, &st, e)) return FN_FRAME_BAD;
    char desc[160];
    snprintf(desc, sizeof desc, "threshold %g, min-size %ld, largest %d, connectivity %d%s", po->threshold,
             po->min_size, po->largest, po->conn, po->fill_holes ? ", holes filled" : "");
    if (fn_meta_set_str(f, "post", desc, e)) return FN_FRAME_BAD;
    return FN_FRAME_WRITE;
}

int main(int argc, char **argv) {
    fn_heap_for_frames((size_t)32 << 20); /* native-resolution frames are tens of MB: keep the pages */
    struct cmdline cl;
    signal(SIGPIPE, SIG_IGN); /* a closed pipe: EPIPE, one line, exit 1 */
    parse_cmdline(argc, argv, &cl);
    fn_filter_main(prog, cl.input, cl.output, post_frame, &cl.po);
    return 0;
}
