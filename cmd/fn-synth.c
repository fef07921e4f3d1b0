/* fn-synth: write a deterministic synthetic image/mask data set as an fn stream.
 *
 * Frame i depends only on the seed, i, the size and the channels (lib/imgproc/synth.c), so the output is the
 * same bytes on every machine and `-n 10` is a prefix of `-n 50`. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include "data/cli.h"
#include "imgproc/synth.h"

static const char *prog = "fn-synth";

static const char usage[] =
    "usage: fn-synth [options]\n"
    "\n"
    "Write N synthetic frames (image u8, mask u8 0/1, meta) to stdout or FILE.\n"
    "\n"
    "  -n, --count N       frames to write (default 16)\n"
    "  -s, --size HxW      image size (default 64x64)\n"
    "  -c, --channels 1|3  gray or RGB images (default 1)\n"
    "  -S, --seed S        seed, a non-negative integer (default 1)\n"
    "  -o, --output FILE   write to FILE (atomically) instead of stdout\n"
    "  -h, --help          show this help and exit\n"
    "      --version       show the version and exit\n";

struct cmdline {
    long n;
    fn_synth_opts synth;
    const char *output;
};

static void parse_cmdline(int argc, char **argv, struct cmdline *cl) {
    static const struct option opts[] = {
        {"count", required_argument, 0, 'n'},   {"size", required_argument, 0, 's'},
        {"channels", required_argument, 0, 'c'}, {"seed", required_argument, 0, 'S'},
        {"output", required_argument, 0, 'o'},  {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},       {0, 0, 0, 0},
    };
    *cl = (struct cmdline){.n = 16, .synth = {.h = 64, .w = 64, .c = 1, .seed = 1}};
    long v;
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":n:s:c:S:o:h", opts, NULL)) != -1) {
        switch (o) {
        case 'n':
            if (fn_parse_int(optarg, 0, 100000000, &cl->n)) fn_usage_die(prog, "bad count '%s'", optarg);
            break;
        case 's':
            if (fn_parse_size(optarg, &cl->synth.h, &cl->synth.w))
                fn_usage_die(prog, "bad size '%s' (want HxW, e.g. 64x64)", optarg);
            break;
        case 'c':
            if (fn_parse_int(optarg, 1, 3, &v) || v == 2) fn_usage_die(prog, "channels must be 1 or 3, not '%s'", optarg);
            cl->synth.c = (int)v;
            break;
        case 'S':
            if (fn_parse_seed(optarg, &cl->synth.seed)) fn_usage_die(prog, "bad seed '%s'", optarg);
            break;
        case 'o': cl->output = optarg; break;
        case 'h': fputs(usage, stdout); exit(0);
        case 'V': fn_version(prog);
        default: fn_usage_getopt(prog, o, argv);
        }
    }
    if (optind < argc) fn_usage_die(prog, "unexpected operand '%s'", argv[optind]);
}

int main(int argc, char **argv) {
    struct cmdline cl;
    fn_err e;
    fn_out out;
    signal(SIGPIPE, SIG_IGN); /* a closed pipe: EPIPE, one line, exit 1 */
    parse_cmdline(argc, argv, &cl);

    if (fn_out_open(&out, cl.output, &e)) fn_die(prog, "%s", e.msg);
    for (long i = 0; i < cl.n; i++) {
        fn_frame f;
        fn_frame_init(&f);
        if (fn_synth_frame(&cl.synth, i, &f, &e) || fn_out_write(&out, &f, &e)) {
            fn_frame_clear(&f);
            fn_out_abort(&out);
            fn_die(prog, "%s", e.msg);
        }
        fn_frame_clear(&f);
    }
    if (fn_out_close(&out, &e)) fn_die(prog, "%s", e.msg);
    return 0;
}
