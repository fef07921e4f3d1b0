/* fn-score: segmentation metrics of frames holding pred and mask.
 *
 * A pred pixel is foreground when p > threshold (0.5 counts as background, as TensorFlow's rounding);
 * a mask pixel when it is non-zero. Dice and Jaccard per image, then averaged (empty truth and empty
 * prediction score 1); accuracy, sensitivity and specificity from pixel counts pooled over all frames;
 * HD95 (medpy's definition, in pixels; 0 when both are empty) averaged over the frames where it is
 * defined (undefined when exactly one of pred and mask is empty). */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "metrics.h"

static const char *prog = "fn-score";

static const char usage[] =
    "usage: fn-score [options] [FILE]\n"
    "\n"
    "Score the pred of each frame of FILE (default stdin) against its mask: mean per-image Dice and\n"
    "Jaccard, and accuracy, sensitivity and specificity from the pixel counts of all frames. A pred\n"
    "pixel is foreground when p > T; a mask pixel when it is non-zero. Prints a table.\n"
    "\n"
    "  -t, --threshold T      foreground when p > T (default 0.5)\n"
    "      --hd95             also the 95th percentile Hausdorff distance in pixels, averaged over\n"
    "                         the frames where it is defined (0 when both are empty; frames where\n"
    "                         only one is empty are left out and counted by hd95_frames)\n"
    "  -p, --per-image FILE   write one TSV line per frame to FILE (atomically)\n"
    "  -j, --json             print one JSON object instead of the table\n"
    "  -h, --help             show this help and exit\n"
    "      --version          show the version and exit\n";

struct cmdline {
    double threshold;
    int hd95, json;
    const char *per_image, *input;
};

static void parse_cmdline(int argc, char **argv, struct cmdline *cl) {
    enum { OPT_HD95 = 256, OPT_VERSION };
    static const struct option opts[] = {
        {"threshold", required_argument, 0, 't'}, {"hd95", no_argument, 0, OPT_HD95},
        {"per-image", required_argument, 0, 'p'}, {"json", no_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'},            {"version", no_argument, 0, OPT_VERSION},
        {0, 0, 0, 0},
    };
    *cl = (struct cmdline){.threshold = 0.5, .input = "-"};
    int o;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":t:p:jh", opts, NULL)) != -1) {
        switch (o) {
        case 't':
            if (fn_parse_double(optarg, &cl->threshold) || cl->threshold < 0 || cl->threshold > 1)
                fn_usage_die(prog, "bad threshold '%s' (want a number from 0 to 1)", optarg);
            break;
        case OPT_HD95: cl->hd95 = 1; break;
        case 'p': cl->per_image = optarg; break;
        case 'j': cl->json = 1; break;
        case 'h': fputs(usage, stdout); exit(0);
        case OPT_VERSION: fn_version(prog);
        default: fn_usage_getopt(prog, o, argv);
        }
    }
    cl->input = fn_input_operand(prog, argc, argv);
}

struct totals {
    long frames, hd_frames;
    double dice, jaccard, hd95; /* sums */
    fn_confusion pooled;
};

/* score one frame; the per-image TSV line goes to tsv when not NULL */
static int score(const struct cmdline *cl, const fn_frame *f, struct totals *t, FILE *tsv, fn_err *e) {
    if (!f->pred) return fn_seterr(e, "no pred to score");
    if (!f->mask) return fn_seterr(e, "no mask to score against");
    size_t n = (size_t)f->pred->h * f->pred->w;
    uint8_t *pb = NULL, *mb = NULL;
    if (cl->hd95 && (!(pb = malloc(n ? n : 1)) || !(mb = malloc(n ? n : 1)))) {
        free(pb);
        return fn_seterr(e, "out of memory");
    }
    fn_confusion c;
    double hd = NAN;
    int rc = fn_confusion_count(f->pred, f->mask, cl->threshold, &c, pb, mb, e);
    if (!rc && cl->hd95) {
        e->msg[0] = 0;
        hd = fn_hd95(pb, mb, f->pred->h, f->pred->w, e);
        if (e->msg[0]) rc = -1;
    }
    free(pb);
    free(mb);
    if (rc) return -1;
    double d = fn_dice(&c), j = fn_jaccard(&c);
    t->frames++;
    t->dice += d;
    t->jaccard += j;
    fn_confusion_add(&t->pooled, &c);
    if (!isnan(hd)) t->hd95 += hd, t->hd_frames++;
    if (tsv) {
        fprintf(tsv, "%s\t%.6f\t%.6f\t%llu\t%llu\t%llu\t%llu", f->id, d, j, (unsigned long long)c.tp,
                (unsigned long long)c.fp, (unsigned long long)c.fn, (unsigned long long)c.tn);
        if (cl->hd95) fprintf(tsv, isnan(hd) ? "\tnan" : "\t%.4f", hd);
        fputc('\n', tsv);
    }
    return 0;
}

static void json_num(const char *key, double v, int comma) {
    if (isnan(v)) printf("\"%s\":null", key);
    else printf("\"%s\":%.6f", key, v);
    if (comma) putchar(',');
}

static void report(const struct cmdline *cl, const struct totals *t) {
    double dice = t->dice / t->frames, jac = t->jaccard / t->frames;
    double acc = fn_accuracy(&t->pooled), se = fn_sensitivity(&t->pooled), sp = fn_specificity(&t->pooled);
    double hd = t->hd_frames ? t->hd95 / t->hd_frames : NAN;
    if (cl->json) {
        printf("{\"frames\":%ld,", t->frames);
        json_num("dice", dice, 1);
        json_num("jaccard", jac, 1);
        json_num("accuracy", acc, 1);
        json_num("sensitivity", se, 1);
        json_num("specificity", sp, cl->hd95);
        if (cl->hd95) {
            json_num("hd95", hd, 1);
            printf("\"hd95_frames\":%ld", t->hd_frames);
        }
        puts("}");
        return;
    }
    printf("%-12s %ld\n", "frames", t->frames);
    printf("%-12s %.6f\n", "dice", dice);
    printf("%-12s %.6f\n", "jaccard", jac);
    printf("%-12s %.6f\n", "accuracy", acc);
    printf("%-12s %.6f\n", "sensitivity", se);
    printf("%-12s %.6f\n", "specificity", sp);
    if (cl->hd95) {
        printf("%-12s %.4f\n", "hd95", hd);
        printf("%-12s %ld\n", "hd95_frames", t->hd_frames);
    }
}

int main(int argc, char **argv) {
    struct cmdline cl;
    struct totals t = {0};
    fn_err e;
    fn_atomic tsv = {0};
    signal(SIGPIPE, SIG_DFL);
    parse_cmdline(argc, argv, &cl);

    fn_reader *r = fn_reader_open_path(cl.input, &e);
    if (!r) fn_die(prog, "%s", e.msg);
    if (cl.per_image) {
        if (fn_atomic_open(&tsv, cl.per_image, &e)) fn_die(prog, "%s", e.msg);
        fprintf(tsv.f, "id\tdice\tjaccard\ttp\tfp\tfn\ttn%s\n", cl.hd95 ? "\thd95" : "");
    }
    fn_frame f;
    int rc;
    while ((rc = fn_reader_next(r, &f, &e)) == 1) {
        if (score(&cl, &f, &t, tsv.f, &e)) {
            if (cl.per_image) fn_atomic_abort(&tsv);
            fn_die(prog, "%s: frame %ld (%s): %s", fn_reader_name(r), fn_reader_count(r), f.id, e.msg);
        }
        fn_frame_clear(&f);
    }
    if (rc < 0 || (!t.frames && fn_seterr(&e, "%s: no frames to score", fn_reader_name(r)))) {
        if (cl.per_image) fn_atomic_abort(&tsv);
        fn_die(prog, "%s", e.msg);
    }
    fn_reader_close(r);
    if (cl.per_image && fn_atomic_commit(&tsv, &e)) fn_die(prog, "%s", e.msg);
    report(&cl, &t);
    if (fflush(stdout) || ferror(stdout)) fn_die(prog, "write error on stdout");
    return 0;
}
