/* fn-split: send each frame to the training or the validation part by a hash of its id and a seed.
 *
 * The assignment depends only on (seed, id), never on the order of frames; augmented copies ID~k
 * go where ID goes (lib/base/split.c). Two output files are written atomically, or one part to stdout. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/cli.h"
#include "base/split.h"

static const char *prog = "fn-split";

static const char usage[] =
    "usage: fn-split [options] TRAIN VAL [FILE]\n"
    "usage: fn-split [options] --part train|val [FILE]\n"
    "\n"
    "Split the frames of FILE (default stdin) into a training and a validation part by a hash of\n"
    "each frame's id (up to any '~') and the seed: write both parts to the files TRAIN and VAL, or one\n"
    "part to stdout with --part.\n"
    "\n"
    "  -r, --ratio R        the fraction of ids that go to training, 0 to 1 (default 0.8)\n"
    "  -S, --seed S         seed, a non-negative integer (default 0)\n"
    "  -p, --part PART      write only the train or the val part, to stdout (or -o FILE)\n"
    "  -o, --output FILE    with --part: write to FILE (atomically) instead of stdout\n"
    "  -h, --help           show this help and exit\n"
    "      --version        show the version and exit\n";

struct cmdline {
    double ratio;
    uint64_t seed;
    int part; /* -1: both to files; 1: train; 0: val */
    const char *train, *val, *input, *output;
};

static void parse_cmdline(int argc, char **argv, struct cmdline *cl) {
    enum { OPT_VERSION = 256 };
    static const struct option opts[] = {
        {"ratio", required_argument, 0, 'r'}, {"seed", required_argument, 0, 'S'},
        {"part", required_argument, 0, 'p'},  {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},        {"version", no_argument, 0, OPT_VERSION},
        {0, 0, 0, 0},
    };
    *cl = (struct cmdline){.ratio = 0.8, .part = -1, .input = "-"};
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":r:S:p:o:h", opts, NULL)) != -1) {
        switch (o) {
        case 'r':
            if (fn_parse_double(optarg, &cl->ratio) || cl->ratio < 0 || cl->ratio > 1)
                fn_usage_die(prog, "bad ratio '%s' (want a number from 0 to 1)", optarg);
            break;
        case 'S':
            if (fn_parse_seed(optarg, &cl->seed)) fn_usage_die(prog, "bad seed '%s'", optarg);
            break;
        case 'p':
            if (!strcmp(optarg, "train")) cl->part = 1;
            else if (!strcmp(optarg, "val")) cl->part = 0;
            else fn_usage_die(prog, "part must be train or val, not '%s'", optarg);
            break;
        case 'o': cl->output = optarg; break;
        case 'h': fputs(usage, stdout); exit(0);
        case OPT_VERSION: fn_version(prog);
        default: fn_usage_getopt(prog, o, argv);
        }
    }
    if (cl->part < 0) {
        if (cl->output) fn_usage_die(prog, "-o goes with --part");
        if (argc - optind < 2) fn_usage_die(prog, "missing output files TRAIN and VAL (or --part)");
        cl->train = argv[optind++];
        cl->val = argv[optind++];
        if (!strcmp(cl->train, "-") || !strcmp(cl->val, "-") || !strcmp(cl->train, cl->val))
            fn_usage_die(prog, "TRAIN and VAL must be two different files (use --part for stdout)");
    }
    cl->input = fn_input_operand(prog, argc, argv);
}

int main(int argc, char **argv) {
    struct cmdline cl;
    fn_err e;
    fn_out out[2]; /* [0] val, [1] train */
    int nout = 0;
    signal(SIGPIPE, SIG_IGN); /* a closed pipe: EPIPE, one line, exit 1 */
    parse_cmdline(argc, argv, &cl);

    fn_reader *r = fn_reader_open_path(cl.input, &e);
    if (!r) fn_die(prog, "%s", e.msg);
    if (cl.part < 0) {
        if (fn_out_open(&out[1], cl.train, &e)) fn_die(prog, "%s", e.msg);
        nout = 1;
        if (fn_out_open(&out[0], cl.val, &e)) {
            fn_out_abort(&out[1]);
            fn_die(prog, "%s", e.msg);
        }
        nout = 2;
    } else {
        if (fn_out_open(&out[cl.part], cl.output, &e)) fn_die(prog, "%s", e.msg);
    }
    fn_frame f;
    int rc;
    while ((rc = fn_reader_next(r, &f, &e)) == 1) {
        int t = fn_split_is_train(cl.seed, f.id, cl.ratio);
        if ((cl.part < 0 || cl.part == t) && fn_out_write(&out[t], &f, &e)) break;
        fn_frame_clear(&f);
    }
    if (rc != 0) { /* a read or a write error */
        fn_frame_clear(&f);
        if (cl.part < 0)
            for (int i = 0; i < nout; i++) fn_out_abort(&out[i]);
        else fn_out_abort(&out[cl.part]);
        fn_die(prog, "%s", e.msg);
    }
    fn_reader_close(r);
    if (cl.part < 0) {
        if (fn_out_close(&out[1], &e) || fn_out_close(&out[0], &e)) fn_die(prog, "%s", e.msg);
    } else if (fn_out_close(&out[cl.part], &e)) {
        fn_die(prog, "%s", e.msg);
    }
    return 0;
}
