/* fn-infer: add a model's prediction `pred` (f32 probabilities [1,H,W]) to every frame.
 *
 * Frames are run through the network in batches of consecutive frames of one size; everything else in
 * a frame passes through unchanged (an existing pred is replaced). Frames come out in input order. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "backend/backend.h"
#include "data/cli.h"
#include "nn/net.h"
#include "nn/model.h"
#include "train/dataset.h"
#include "train/predict.h"
#include "train/tile.h"

static const char *prog = "fn-infer";

static const char usage[] =
    "usage: fn-infer [options] -m MODEL [FILE]\n"
    "\n"
    "Add the prediction of MODEL (pred, f32 probabilities [1,H,W]) to each frame of FILE or stdin.\n"
    "Images must have the model's channel count; any H x W (padded by reflection to multiples of 16\n"
    "and cropped back, or run in overlapping tiles with --tile).\n"
    "\n"
    "  -m, --model MODEL   the model file written by fn-train (required)\n"
    "  -b, --batch N       frames per forward pass (default 8)\n"
    "      --tta           average the predictions over flips (none, horizontal, vertical, both)\n"
    "      --tile HxW      sliding window: tiles of HxW (multiples of 16) blended with Gaussian\n"
    "                      weights; --batch counts tiles. An image no larger than the tile runs\n"
    "                      whole, as without --tile; one shorter along one axis, one tile across it\n"
    "      --overlap F     overlap of neighbouring tiles, 0 <= F < 1 (default 0.5)\n"
    "      --device D      auto, cpu, cuda or cuda:N (default auto)\n"
    "      --threads N     CPU threads (default: all)\n"
    "      --precision P   fp32, tf32 (CUDA) or bf16: the convolutions' products with tf32 or bf16 inputs\n"
    "                      and fp32 sums; bf16 on a CPU with bf16 instructions or a GPU (default fp32)\n"
    "  -o, --output FILE   write to FILE (atomically) instead of stdout\n"
    "  -h, --help          show this help and exit\n"
    "      --version       show the version and exit\n";

struct cmdline {
    const char *input, *model, *output, *device;
    int batch, tta, threads, precision;
    int tile_h, tile_w, overlap_set;
    double overlap;
};

enum { O_TTA = 256, O_DEVICE, O_THREADS, O_VERSION, O_TILE, O_OVERLAP, O_PRECISION };

static void parse_cmdline(int argc, char **argv, struct cmdline *cl) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"batch", required_argument, 0, 'b'},
        {"tta", no_argument, 0, O_TTA},       {"device", required_argument, 0, O_DEVICE},
        {"threads", required_argument, 0, O_THREADS}, {"output", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},        {"version", no_argument, 0, O_VERSION},
        {"tile", required_argument, 0, O_TILE}, {"overlap", required_argument, 0, O_OVERLAP},
        {"precision", required_argument, 0, O_PRECISION},
        {0, 0, 0, 0},
    };
    *cl = (struct cmdline){ .input = "-", .device = "auto", .batch = 8, .overlap = 0.5 };
    long v;
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":m:b:o:h", opts, NULL)) != -1) {
        switch (o) {
        case 'm': cl->model = optarg; break;
        case 'b':
            if (fn_parse_int(optarg, 1, 65536, &v)) fn_usage_die(prog, "bad --batch '%s'", optarg);
            cl->batch = (int)v;
            break;
        case O_TTA: cl->tta = 1; break;
        case O_DEVICE: cl->device = optarg; break;
        case O_PRECISION:
            if ((cl->precision = fn_precision_parse(optarg)) < 0)
                fn_usage_die(prog, "--precision takes fp32, tf32 or bf16, not '%s'", optarg);
            break;
        case O_THREADS:
            if (fn_parse_int(optarg, 1, 4096, &v)) fn_usage_die(prog, "bad --threads '%s'", optarg);
            cl->threads = (int)v;
            break;
        case 'o': cl->output = optarg; break;
        case O_TILE:
            if (fn_parse_size(optarg, &cl->tile_h, &cl->tile_w) || cl->tile_h % 16 || cl->tile_w % 16)
                fn_usage_die(prog, "bad --tile '%s' (want HxW, multiples of 16)", optarg);
            break;
        case O_OVERLAP:
            if (fn_parse_double(optarg, &cl->overlap) || !(cl->overlap >= 0 && cl->overlap < 1))
                fn_usage_die(prog, "bad --overlap '%s' (want 0 <= F < 1)", optarg);
            cl->overlap_set = 1;
            break;
        case 'h': fputs(usage, stdout); exit(0);
        case O_VERSION: fn_version(prog);
        case ':': fn_usage_die(prog, "option '%s' needs a value", argv[optind - 1]);
        default: fn_usage_die(prog, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) cl->input = argv[optind++];
    if (optind < argc) fn_usage_die(prog, "unexpected operand '%s'", argv[optind]);
    if (!cl->model) fn_usage_die(prog, "-m/--model MODEL is required");
    if (cl->overlap_set && !cl->tile_h) fn_usage_die(prog, "--overlap needs --tile");
}

/* frames waiting for their forward pass: all of one H x W */
typedef struct {
    fn_frame *f;
    int n, cap, h, w;
    float *x, *y; /* [cap,cin,h,w] inputs, [cap,1,h,w] predictions */
} pending;

static void batch_run(pending *p, fn_net *net, const fn_infer_opts *io, fn_out *out) {
    fn_err e;
    if (!p->n) return;
    size_t hw = (size_t)p->h * p->w;
    if (fn_infer_images(net, p->x, p->n, p->h, p->w, io, p->y, &e)) {
        fn_out_abort(out);
        fn_die(prog, "%s", e.msg);
    }
    for (int i = 0; i < p->n; i++) {
        fn_tensor *t = fn_tensor_new(FN_F32, 1, p->h, p->w, &e);
        if (!t) { fn_out_abort(out); fn_die(prog, "%s", e.msg); }
        memcpy(t->data, p->y + hw * i, sizeof(float) * hw);
        fn_frame_set_tensor(&p->f[i].pred, t);
        if (fn_out_write(out, &p->f[i], &e)) { fn_out_abort(out); fn_die(prog, "%s", e.msg); }
        fn_frame_clear(&p->f[i]);
    }
    p->n = 0;
}

/* frames per batch: tiled, as many frames as their tiles fill --batch (at least one); an image no
 * larger than the tile is one tile (it runs untiled, --batch frames at a time, as without --tile) */
static int tiled_cap(const struct cmdline *cl, int h, int w) {
    if (!cl->tile_h) return cl->batch;
    long tiles = (long)fn_tile_starts(h, cl->tile_h, cl->overlap, NULL) * fn_tile_starts(w, cl->tile_w, cl->overlap, NULL);
    return tiles >= cl->batch ? 1 : (int)(cl->batch / tiles);
}

/* the first frame whose normalisation differs from the model's gets one warning */
static void check_norm(const fn_frame *f, const fn_model_meta *m, long k, int *warned) {
    char mode[64], mean[512], std[512];
    if (*warned) return;
    fn_frame_meta_text(f, "norm_mode", mode, sizeof mode);
    fn_frame_meta_text(f, "norm_mean", mean, sizeof mean);
    fn_frame_meta_text(f, "norm_std", std, sizeof std);
    if (!strcmp(mode, m->norm_mode) && !strcmp(mean, m->norm_mean) && !strcmp(std, m->norm_std)) return;
    *warned = 1;
    fn_warn(prog, "warning: frame %ld (%s) is normalised as '%s %s %s', the model's training data as '%s %s %s'",
            k, f->id, mode[0] ? mode : "none", mean, std, m->norm_mode[0] ? m->norm_mode : "none", m->norm_mean,
            m->norm_std);
}

int main(int argc, char **argv) {
    struct cmdline cl;
    fn_err e;
    char note[512];
    signal(SIGPIPE, SIG_IGN); /* a closed pipe: EPIPE, one line, exit 1 */
    parse_cmdline(argc, argv, &cl);

    fn_backend *be = fn_backend_open(cl.device, cl.threads, note, sizeof note, &e);
    if (!be) fn_die(prog, "%s", e.msg);
    if (note[0]) fn_warn(prog, "%s", note);
    if (fn_backend_set_precision(be, cl.precision, &e)) fn_die(prog, "%s", e.msg);
    fn_model_meta meta;
    fn_net *net = fn_model_load(be, cl.model, &meta, &e);
    if (!net) fn_die(prog, "%s", e.msg);
    int cin = fn_net_cfg(net)->cin;

    fn_reader *r = fn_reader_open_path(cl.input, &e);
    fn_out out;
    if (!r || fn_out_open(&out, cl.output, &e)) fn_die(prog, "%s", e.msg);
    pending p = { .cap = cl.batch };
    const fn_infer_opts io = { cl.tile_h, cl.tile_w, cl.overlap, cl.tta, cl.batch };
    if (!(p.f = calloc((size_t)cl.batch, sizeof *p.f))) fn_die(prog, "out of memory");
    int rc, warned = 0;
    fn_frame f;
    fn_frame_init(&f);
    while ((rc = fn_reader_next(r, &f, &e)) == 1) {
        long k = fn_reader_count(r);
        if (f.image && f.image->c != cin)
            fn_seterr(&e, "%s: frame %ld (%s): image has %d channels, the model %s takes %d", fn_reader_name(r), k,
                      f.id, f.image->c, cl.model, cin);
        else if (fn_infer_input(&f, fn_reader_name(r), k, NULL, &e) == 0)
            e.msg[0] = 0;
        if (e.msg[0]) { /* frames before a bad one are written whole */
            batch_run(&p, net, &io, &out);
            fn_out_abort(&out);
            fn_die(prog, "%s", e.msg);
        }
        check_norm(&f, &meta, k, &warned);
        if (p.n && (f.image->h != p.h || f.image->w != p.w)) batch_run(&p, net, &io, &out);
        if (!p.n && (f.image->h != p.h || f.image->w != p.w)) {
            p.h = f.image->h;
            p.w = f.image->w;
            p.cap = tiled_cap(&cl, p.h, p.w);
            free(p.x);
            free(p.y);
            p.x = malloc(sizeof(float) * (size_t)p.cap * cin * p.h * p.w);
            p.y = malloc(sizeof(float) * (size_t)p.cap * p.h * p.w);
            if (!p.x || !p.y) fn_die(prog, "out of memory for a batch of %d frames of %dx%d", p.cap, p.h, p.w);
        }
        fn_infer_input(&f, fn_reader_name(r), k, p.x + (size_t)p.n * cin * p.h * p.w, &e);
        p.f[p.n++] = f;
        fn_frame_init(&f);
        if (p.n == p.cap) batch_run(&p, net, &io, &out);
    }
    if (rc < 0) {
        batch_run(&p, net, &io, &out);
        fn_out_abort(&out);
        fn_die(prog, "%s", e.msg);
    }
    batch_run(&p, net, &io, &out);
    if (fn_out_close(&out, &e)) fn_die(prog, "%s", e.msg);
    fn_reader_close(r);
    free(p.f); free(p.x); free(p.y);
    fn_net_free(net);
    fn_backend_close(be);
    return 0;
}
