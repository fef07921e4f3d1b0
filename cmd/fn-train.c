/* fn-train: train FocusNet on the frames of stdin (or FILE), validating on --val FILE each epoch.
 *
 * The paper's recipe (shared/design/focusnet.md): Dice loss, Adam 1e-3, batch 8, the rate halved after
 * 5 epochs without a 0.001 improvement of the validation loss, 80 epochs; the model with the best
 * validation loss is kept in --out. After every epoch the whole training state goes to --state, so
 * that --resume continues exactly where a stopped run was. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "backend/backend.h"
#include "data/cli.h"
#include "nn/net.h"
#include "nn/model.h"
#include "data/safetensors.h"
#include "train/dataset.h"
#include "train/dist.h"
#include "train/store.h"
#include "train/epoch.h"
#include "train/epochlog.h"
#include "train/evaluate.h"
#include "train/interrupt.h"
#include "train/progress.h"
#include "train/state.h"

static const char *prog = "fn-train";

static const char usage[] =
    "usage: fn-train [options] --val FILE -o MODEL [FILE]\n"
    "usage: fn-train [options] --val FILE --resume STATE [FILE]\n"
    "\n"
    "Train FocusNet (or --arch NET) on the frames of FILE or stdin (image and mask) and keep the\n"
    "model with the best validation loss in MODEL (safetensors).\n"
    "\n"
    "  -o, --out MODEL     the model file to write (required unless --resume)\n"
    "      --val FILE      validation frames (image and mask), scored after every epoch (required)\n"
    "      --epochs N      epochs to train (default 80)\n"
    "      --batch N       images per step (default 8)\n"
    "      --lr F          Adam learning rate (default 0.001)\n"
    "      --plateau N     halve the rate after N epochs without a 0.001 improvement of the\n"
    "                      validation loss; 0 never (default 5)\n"
    "      --l2 on|off     the L2 weight penalties of FocusNet (default on)\n"
    "      --bn-recompute  before each validation, recompute the batch-norm statistics as averages\n"
    "                      over the training set (the recipes' default; without it: the paper's running\n"
    "                      averages, which lag behind the weights)\n"
    "      --seed S        seed of the initial weights, the shuffling and dropout (default 1)\n"
    "      --arch NET      the network: focusnet, unet, resunet, runet, r2unet or attunet (default\n"
    "                      focusnet; parameter counts in man fn-train)\n"
    "      --width F       scale every channel count of the network (default 1 = the paper)\n"
    "      --device D      auto, cpu, cuda or cuda:N (default auto; under mpirun, cuda is the rank's\n"
    "                      local GPU)\n"
    "      --sync-bn       under mpirun: batch-norm statistics over the whole batch of all ranks\n"
    "      --threads N     CPU threads (default: all)\n"
    "      --precision P   fp32, tf32 (CUDA) or bf16: the convolutions' products with tf32 or bf16 inputs\n"
    "                      and fp32 sums; bf16 on a CPU with bf16 instructions or a GPU (default fp32;\n"
    "                      the model file is fp32 either way)\n"
    "      --deterministic on CUDA, deterministic convolution algorithms only: bit-reproducible runs and\n"
    "                      resumes, slower (the CPU always is)\n"
    "      --log FILE      write a TSV row per epoch: epoch, lr, train_loss, val_loss, val_dice, seconds\n"
    "      --progress      show progress on stderr even when it is not a terminal\n"
    "      --state STATE   where the training state goes after each epoch (default MODEL.state)\n"
    "      --resume STATE  continue the run that wrote STATE (when STATE does not exist yet, start a\n"
    "                      new run that writes its state there)\n"
    "  -h, --help          show this help and exit\n"
    "      --version       show the version and exit\n";

struct cmdline {
    const char *input, *val, *out, *log, *state, *resume, *device;
    fn_train_config cfg;
    int threads, progress;
    /* options given explicitly (a resume takes the others from its state) */
    int given_epochs, given_batch, given_lr, given_plateau, given_l2, given_seed, given_width, given_bn, given_arch, given_sync, given_prec,
        given_det;
};

enum { O_VAL = 256, O_EPOCHS, O_BATCH, O_LR, O_PLATEAU, O_L2, O_SEED, O_WIDTH, O_DEVICE, O_THREADS, O_LOG,
       O_PROGRESS, O_STATE, O_RESUME, O_VERSION, O_BN_RECOMPUTE, O_SYNC_BN,
       O_ARCH, O_PRECISION, O_DETERMINISTIC };

static void parse_cmdline(int argc, char **argv, struct cmdline *cl) {
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},      {"val", required_argument, 0, O_VAL},
        {"epochs", required_argument, 0, O_EPOCHS}, {"batch", required_argument, 0, O_BATCH},
        {"lr", required_argument, 0, O_LR},      {"plateau", required_argument, 0, O_PLATEAU},
        {"l2", required_argument, 0, O_L2},      {"seed", required_argument, 0, O_SEED},
        {"width", required_argument, 0, O_WIDTH}, {"device", required_argument, 0, O_DEVICE},
        {"threads", required_argument, 0, O_THREADS}, {"log", required_argument, 0, O_LOG},
        {"progress", no_argument, 0, O_PROGRESS}, {"state", required_argument, 0, O_STATE},
        {"resume", required_argument, 0, O_RESUME}, {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, O_VERSION},  {"bn-recompute", no_argument, 0, O_BN_RECOMPUTE},
        {"sync-bn", no_argument, 0, O_SYNC_BN},
        {"arch", required_argument, 0, O_ARCH},
        {"precision", required_argument, 0, O_PRECISION},
        {"deterministic", no_argument, 0, O_DETERMINISTIC},
        {0, 0, 0, 0},
    };
    *cl = (struct cmdline){ .input = "-", .device = "auto",
                            .cfg = { .width = 1.0f, .batch = 8, .lr = 1e-3f, .patience = 5, .l2 = 1, .seed = 1,
                                     .epochs = 80 } };
    long v;
    double d;
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":o:h", opts, NULL)) != -1) {
        switch (o) {
        case 'o': cl->out = optarg; break;
        case O_VAL: cl->val = optarg; break;
        case O_EPOCHS:
            if (fn_parse_int(optarg, 0, 1000000, &v)) fn_usage_die(prog, "bad --epochs '%s'", optarg);
            cl->cfg.epochs = (int)v; cl->given_epochs = 1;
            break;
        case O_BATCH:
            if (fn_parse_int(optarg, 1, 65536, &v)) fn_usage_die(prog, "bad --batch '%s'", optarg);
            cl->cfg.batch = (int)v; cl->given_batch = 1;
            break;
        case O_LR:
            if (fn_parse_double(optarg, &d) || !(d > 0) || !isfinite((float)d))
                fn_usage_die(prog, "bad --lr '%s' (want a positive number)", optarg);
            cl->cfg.lr = (float)d; cl->given_lr = 1;
            break;
        case O_PLATEAU:
            if (fn_parse_int(optarg, 0, 1000000, &v)) fn_usage_die(prog, "bad --plateau '%s'", optarg);
            cl->cfg.patience = (int)v; cl->given_plateau = 1;
            break;
        case O_L2:
            if (strcmp(optarg, "on") && strcmp(optarg, "off")) fn_usage_die(prog, "--l2 takes on or off, not '%s'", optarg);
            cl->cfg.l2 = !strcmp(optarg, "on"); cl->given_l2 = 1;
            break;
        case O_SEED:
            if (fn_parse_int(optarg, 0, LONG_MAX, &v)) fn_usage_die(prog, "bad --seed '%s'", optarg);
            cl->cfg.seed = (uint64_t)v; cl->given_seed = 1;
            break;
        case O_WIDTH:
            if (fn_parse_double(optarg, &d) || !(d > 0) || d > 64) fn_usage_die(prog, "bad --width '%s' (want 0 < F <= 64)", optarg);
            cl->cfg.width = (float)d; cl->given_width = 1;
            break;
        case O_BN_RECOMPUTE: cl->cfg.bn_recompute = 1; cl->given_bn = 1; break;
        case O_SYNC_BN: cl->cfg.sync_bn = 1; cl->given_sync = 1; break;
        case O_ARCH:
            if ((cl->cfg.arch = fn_arch_parse(optarg)) < 0)
                fn_usage_die(prog, "unknown --arch '%s' (focusnet, unet, resunet, runet, r2unet, attunet)", optarg);
            cl->given_arch = 1;
            break;
        case O_DEVICE: cl->device = optarg; break;
        case O_PRECISION:
            if ((cl->cfg.precision = fn_precision_parse(optarg)) < 0)
                fn_usage_die(prog, "--precision takes fp32, tf32 or bf16, not '%s'", optarg);
            cl->given_prec = 1;
            break;
        case O_DETERMINISTIC: cl->cfg.deterministic = 1; cl->given_det = 1; break;
        case O_THREADS:
            if (fn_parse_int(optarg, 1, 4096, &v)) fn_usage_die(prog, "bad --threads '%s'", optarg);
            cl->threads = (int)v;
            break;
        case O_LOG: cl->log = optarg; break;
        case O_PROGRESS: cl->progress = 1; break;
        case O_STATE: cl->state = optarg; break;
        case O_RESUME: cl->resume = optarg; break;
        case 'h': fputs(usage, stdout); exit(0);
        case O_VERSION: fn_version(prog);
        case ':': fn_usage_die(prog, "option '%s' needs a value", argv[optind - 1]);
        default: fn_usage_die(prog, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) cl->input = argv[optind++];
    if (optind < argc) fn_usage_die(prog, "unexpected operand '%s'", argv[optind]);
    if (!cl->val) fn_usage_die(prog, "--val FILE is required");
    if (!cl->out && !cl->resume) fn_usage_die(prog, "-o/--out MODEL is required");
    if (!strcmp(cl->val, "-") && !strcmp(cl->input, "-")) fn_usage_die(prog, "training and validation frames cannot both be stdin");
}

/* ---- progress ---------------------------------------------------------------------------------- */

typedef struct {
    int on, tty;
    int epoch, epochs, ntrain;
    double t_start, t_last;
    long images;        /* trained in this run */
    long images_left;   /* until the last epoch's end */
} progress;

static void on_step(void *ctx, int step, int nsteps, double loss, int images) {
    progress *p = ctx;
    p->images += images;
    p->images_left -= images;
    if (!p->on) return;
    double now = fn_clock();
    if (now - p->t_last < (p->tty ? 0.2 : 10.0) && step < nsteps) return;
    p->t_last = now;
    double ips = p->images / (now - p->t_start);
    char line[256];
    fn_progress_format(line, sizeof line, p->epoch, p->epochs, step, nsteps, loss, ips, p->images_left / ips);
    if (p->tty) fprintf(stderr, "\r%s: %s\033[K", prog, line);
    else fprintf(stderr, "%s: %s\n", prog, line);
}

static void epoch_summary(progress *p, int epoch, double lr, double tl, double vl, double vd, double secs, int best) {
    if (!p->on) return;
    char eta[32];
    double ips = p->images / (fn_clock() - p->t_start);
    fn_format_duration(p->images_left / ips, eta, sizeof eta);
    fprintf(stderr, "%s%s: epoch %d/%d lr %.3g train_loss %.4f val_loss %.4f val_dice %.4f %.1fs ETA %s%s%s\n",
            p->tty ? "\r" : "", prog, epoch, p->epochs, lr, tl, vl, vd, secs, eta, best ? " (best)" : "",
            p->tty ? "\033[K" : "");
}

/* ---- the steps of main ------------------------------------------------------------------------- */

/* the frames stay in the file (or a spill file for a pipe); FN_TRAIN_MEMORY=1 holds them in memory */
static void read_set(const char *path, fn_dataset *ds, const fn_dist *d) {
    fn_err e;
    const char *mem = getenv("FN_TRAIN_MEMORY");
    if (fn_dist_size(d) > 1 && !strcmp(path, "-"))
        fn_die(prog, "under mpirun the frames must come from files, not stdin (it reaches rank 0 only)");
    if (mem && !strcmp(mem, "1")) {
        fn_reader *r = fn_reader_open_path(path, &e);
        if (!r || fn_dataset_read(ds, r, 1, &e)) fn_die(prog, "%s", e.msg);
        fn_reader_close(r);
    } else if (fn_store_open(ds, path, 1, &e)) {
        fn_die(prog, "%s", e.msg);
    }
}

/* fail now, not after hours of training, when an output cannot be written */
static void check_writable(const char *path, int lead) {
    fn_atomic a;
    fn_err e;
    if (!path || !lead) return;
    if (fn_atomic_open(&a, path, &e)) fn_die(prog, "%s", e.msg);
    fn_atomic_abort(&a);
}

/* a resume: the model file must hold the state's best model (or a later one that the interrupted run
 * wrote before its state) */
static void check_best_model(const char *out, const fn_train_state *st) {
    if (st->best_epoch == 0) return;
    fn_st m;
    fn_err e;
    if (fn_st_read(&m, out, &e)) fn_die(prog, "%s (the best model so far, of epoch %d, should be there)", e.msg, st->best_epoch);
    const char *fmt = fn_st_meta(&m, "format"), *ep = fn_st_meta(&m, "epoch");
    int ok = fmt && !strcmp(fmt, "fn-model") && ep && atoi(ep) >= st->best_epoch;
    fn_st_free(&m);
    if (!ok) fn_die(prog, "%s: not the best model of the state (epoch %d)", out, st->best_epoch);
}

/* a resume takes the run's settings from the state; an explicit different one is an error */
static void merge_resume_config(const struct cmdline *cl, fn_train_state *st) {
    const fn_train_config *a = &cl->cfg;
    fn_train_config *s = &st->cfg;
    const char *bad = NULL;
    if (cl->given_batch && a->batch != s->batch) bad = "--batch";
    if (cl->given_plateau && a->patience != s->patience) bad = "--plateau";
    if (cl->given_l2 && a->l2 != s->l2) bad = "--l2";
    if (cl->given_seed && a->seed != s->seed) bad = "--seed";
    if (cl->given_width && a->width != s->width) bad = "--width";
    if (cl->given_bn && a->bn_recompute != s->bn_recompute) bad = "--bn-recompute";
    if (cl->given_arch && a->arch != s->arch) bad = "--arch";
    if (cl->given_sync && a->sync_bn != s->sync_bn) bad = "--sync-bn";
    if (cl->given_prec && a->precision != s->precision) bad = "--precision";
    if (bad) fn_die(prog, "%s: %s differs from the resumed run's; a resume keeps the run's settings", cl->resume, bad);
    if (cl->given_epochs) s->epochs = a->epochs;
    if (cl->given_det) s->deterministic = 1; /* a mode of running, not of the run: a resume may turn it on */
    /* a resume may set a new current rate; the run's own initial rate again changes nothing */
    if (cl->given_lr && a->lr != s->lr) st->sched.lr = a->lr;
}

static _Noreturn void diverged(const fn_err *e, const fn_train_state *st) {
    if (st->best_epoch)
        fn_die(prog, "%s; stopped, keeping the best model (epoch %d, val_loss %.4f) in %s", e->msg, st->best_epoch,
               st->best_loss, st->out);
    fn_die(prog, "%s; stopped before any model was written", e->msg);
}

/* SIGINT or SIGTERM: the epoch under way is dropped, the last epoch's files are kept */
static _Noreturn void interrupted(int sig, const fn_train_state *st, const char *state_path) {
    char m[9000];
    fn_interrupt_message(sig, st, state_path, m, sizeof m);
    if (isatty(2)) fputc('\n', stderr);
    fn_warn(prog, "%s", m);
    exit(fn_interrupt_status(sig));
}

int main(int argc, char **argv) {
    struct cmdline cl;
    fn_err e;
    char note[512];
    signal(SIGPIPE, SIG_IGN); /* a closed pipe: EPIPE, one line, exit 1 */
    if (fn_interrupt_block(&e)) fn_die(prog, "%s", e.msg); /* before any thread starts */
    parse_cmdline(argc, argv, &cl);
    fn_dist *dist = fn_dist_open(&e); /* the ranks of mpirun, or one */
    if (!dist) fn_die(prog, "%s", e.msg);
    char rankname[64], devname[32];
    const int lead = fn_dist_rank(dist) == 0; /* only rank 0 writes and reports */
    if (fn_dist_size(dist) > 1)
        prog = (snprintf(rankname, sizeof rankname, "fn-train: rank %d", fn_dist_rank(dist)), rankname);

    fn_backend *be = fn_backend_open(fn_dist_device(dist, cl.device, devname, sizeof devname),
                                     fn_dist_threads(dist, cl.threads), note, sizeof note, &e);
    if (!be) fn_die(prog, "%s", e.msg);
    if (note[0] && lead) fn_warn(prog, "%s", note);
    if (fn_backend_set_precision(be, cl.cfg.precision, &e)) fn_die(prog, "%s", e.msg); /* before reading */
    if (be->set_deterministic) be->set_deterministic(be->ctx, cl.cfg.deterministic);

    fn_reader *vr = fn_reader_open_path(cl.val, &e); /* a missing --val file fails before training reads */
    if (!vr) fn_die(prog, "%s", e.msg);
    fn_reader_close(vr);
    fn_dataset train, val;
    read_set(cl.input, &train, dist);
    read_set(cl.val, &val, dist);
    if (val.c != train.c)
        fn_die(prog, "%s: the validation images have %d channels, the training images %d", cl.val, val.c, train.c);
    if (strcmp(val.norm_mode, train.norm_mode) || strcmp(val.norm_mean, train.norm_mean) ||
        strcmp(val.norm_std, train.norm_std))
        fn_warn(prog, "warning: the validation frames are normalised differently from the training frames");

    fn_train_state st;
    fn_net *net;
    if (cl.resume && access(cl.resume, F_OK) != 0 && errno == ENOENT) { /* nothing to resume yet: start */
        if (!cl.out) fn_die(prog, "%s: no such state file to resume (give -o MODEL to start a new run)", cl.resume);
        cl.state = cl.state ? cl.state : cl.resume;
        cl.resume = NULL;
    }
    if (cl.resume) {
        if (fn_state_load(cl.resume, be, &net, &st, &e)) fn_die(prog, "%s", e.msg);
        merge_resume_config(&cl, &st);
        if (st.cfg.cin != train.c || st.data_fp != fn_dataset_fingerprint(&train))
            fn_die(prog, "%s: the training frames differ from those of the resumed run", cl.resume);
        if (cl.out) snprintf(st.out, sizeof st.out, "%s", cl.out);
        check_best_model(st.out, &st);
    } else {
        memset(&st, 0, sizeof st);
        st.cfg = cl.cfg;
        st.cfg.cin = train.c;
        fn_plateau_init(&st.sched, st.cfg.lr, st.cfg.patience);
        st.best_loss = INFINITY;
        st.data_fp = fn_dataset_fingerprint(&train);
        snprintf(st.out, sizeof st.out, "%s", cl.out);
        fn_net_config nc = { train.c, st.cfg.width, st.cfg.arch };
        if (!(net = fn_net_new(be, &nc, &e)) || fn_net_init_he(net, st.cfg.seed, &e)) fn_die(prog, "%s", e.msg);
    }
    if (fn_backend_set_precision(be, st.cfg.precision, &e)) fn_die(prog, "%s", e.msg); /* a resume's */
    if (be->set_deterministic) be->set_deterministic(be->ctx, st.cfg.deterministic);
    char state_path[4200];
    snprintf(state_path, sizeof state_path, "%s", cl.state ? cl.state : cl.resume ? cl.resume : "");
    if (!state_path[0]) snprintf(state_path, sizeof state_path, "%s.state", st.out);
    check_writable(st.out, lead);
    check_writable(state_path, lead);
    check_writable(cl.log, lead);
    if (fn_dist_attach(dist, net, st.cfg.sync_bn, &e)) fn_die(prog, "%s", e.msg);
    if (fn_net_reserve(net, st.cfg.batch < train.n ? st.cfg.batch : train.n, train.h, train.w, 1, &e))
        fn_die(prog, "%s", e.msg);

    fn_model_meta meta;
    fn_model_meta_init(&meta);
    snprintf(meta.norm_mode, sizeof meta.norm_mode, "%s", train.norm_mode);
    snprintf(meta.norm_mean, sizeof meta.norm_mean, "%s", train.norm_mean);
    snprintf(meta.norm_std, sizeof meta.norm_std, "%s", train.norm_std);
    fn_train_options_string(&st.cfg, meta.options, sizeof meta.options);

    progress pr = { .on = lead && (cl.progress || isatty(2)), .tty = isatty(2), .epochs = st.cfg.epochs, .ntrain = train.n,
                    .t_start = fn_clock() };
    pr.images_left = (long)(st.cfg.epochs - st.epoch) * train.n;
    if (pr.on) fn_warn(prog, "device: %s%s%s%s; %d training and %d validation frames of %dx%dx%d", be->device,
                       st.cfg.precision ? ", " : "", st.cfg.precision ? fn_precision_name(st.cfg.precision) : "",
                       st.cfg.deterministic && be->set_deterministic ? ", deterministic" : "", train.n,
                       val.n, train.c, train.h, train.w);
    if (pr.on && fn_dist_size(dist) > 1)
        fn_warn(prog, "%d ranks, %s batch norm", fn_dist_size(dist), st.cfg.sync_bn ? "synchronised" : "per-rank");

    fn_interrupt_catch();
    for (int ep = st.epoch + 1; ep <= st.cfg.epochs; ep++) {
        double t0 = fn_clock(), tl, vl, vd;
        float lr = st.sched.lr;
        pr.epoch = ep;
        int rc = fn_train_epoch(net, &train, &st.cfg, dist, ep, lr, on_step, &pr, &tl, &e);
        if (rc < 0) fn_die(prog, "%s", e.msg);
        if (rc == 2) interrupted(fn_interrupt_signal() ? fn_interrupt_signal() : SIGTERM, &st, state_path); /* a rank's */
        if (rc > 0) diverged(&e, &st);
        if (st.cfg.bn_recompute ? fn_train_bn_recompute(net, &train, st.cfg.batch, dist, &e)
                                : fn_dist_average_stats(dist, net, &e))
            fn_die(prog, "%s", e.msg);
        if (fn_evaluate(net, &val, st.cfg.batch, dist, &vl, &vd, &e)) fn_die(prog, "%s", e.msg);
        if (!isfinite(vl)) {
            fn_seterr(&e, "the training diverged: validation loss %g at epoch %d", vl, ep);
            diverged(&e, &st);
        }
        if (fn_dist_size(dist) <= 1 && fn_interrupt_signal()) interrupted(fn_interrupt_signal(), &st, state_path);
        int best = vl < st.best_loss;
        st.epoch = ep;
        st.step = fn_net_step(net);
        if (best) { /* the model first, then the state that points at it */
            st.best_loss = vl;
            st.best_epoch = ep;
            meta.epoch = ep;
            meta.val_loss = vl;
            if (lead && fn_model_save(net, st.out, &meta, &e)) fn_die(prog, "%s", e.msg);
        }
        fn_plateau_update(&st.sched, vl);
        double secs = fn_clock() - t0;
        if (fn_epochlog_add(&st.log, ep, lr, tl, vl, vd, secs, &e) ||
            (lead && (fn_state_save(state_path, net, &st, &e) || (cl.log && fn_epochlog_write(cl.log, st.log, &e)))))
            fn_die(prog, "%s", e.msg);
        epoch_summary(&pr, ep, lr, tl, vl, vd, secs, best);
    }
    if (pr.on && st.best_epoch)
        fn_warn(prog, "best: epoch %d, val_loss %.4f; model in %s", st.best_epoch, st.best_loss, st.out);

    fn_dist_close(dist);
    fn_net_free(net);
    fn_backend_close(be);
    fn_state_free(&st);
    fn_dataset_free(&train);
    fn_dataset_free(&val);
    return 0;
}
