/* fn-score: segmentation metrics of frames holding pred and mask.
 *
 * A pred pixel is foreground when p > threshold (0.5 counts as background, as TensorFlow's rounding);
 * a mask pixel when it is non-zero. Dice and Jaccard per image, then averaged (empty truth and empty
 * prediction score 1); accuracy, sensitivity and specificity from pixel counts pooled over all frames;
 * HD95 (medpy's definition, in pixels; 0 when both are empty) averaged over the frames where it is
 * defined (undefined when exactly one of pred and mask is empty). A frame with a roi is scored inside it
 * only. The spread of the per-image scores (median, worst), ISIC 2018's thresholded Jaccard and
 * bootstrap intervals of the means come from lib/eval/challenge.c. --restore scores at the native size: each
 * frame restored in-process (lib/imgproc/frame_resize.c, the code of fn-resize --restore), so that no
 * native-size f32 pred goes through a pipe. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "eval/challenge.h"
#include "data/cli.h"
#include "imgproc/frame_resize.h"
#include "base/heap.h"
#include "eval/metrics.h"

static const char *prog = "fn-score";

static const char usage[] =
    "usage: fn-score [options] [FILE]\n"
    "\n"
    "Score the pred of each frame of FILE (default stdin) against its mask: mean per-image Dice and\n"
    "Jaccard (and their median and worst), and accuracy, sensitivity and specificity from the pixel\n"
    "counts of all frames. A pred pixel is foreground when p > T; a mask pixel when it is non-zero.\n"
    "Frames with a roi are scored inside it only. Prints a table.\n"
    "\n"
    "  -r, --restore          score at the size the frames had before fn-resize (orig_h x orig_w):\n"
    "                         each frame restored first as fn-resize --restore does, so against the\n"
    "                         original mask and roi that fn-resize --keep-native kept (the same\n"
    "                         scores as fn-resize --restore --drop-image | fn-score, faster)\n"
    "  -t, --threshold T      foreground when p > T (default 0.5)\n"
    "      --hd95             also the 95th percentile Hausdorff distance in pixels, averaged over\n"
    "                         the frames where it is defined (0 when both are empty; frames where\n"
    "                         only one is empty are left out and counted by hd95_frames)\n"
    "      --jaccard-threshold T  also the mean Jaccard with per-image values under T counted as 0\n"
    "                         (ISIC 2018: 0.65)\n"
    "      --ci               also 95% bootstrap intervals of the mean Dice and Jaccard\n"
    "      --ci-samples B     bootstrap resamples (default 2000)\n"
    "  -S, --seed S           seed of the bootstrap (default 0)\n"
    "  -p, --per-image FILE   write one TSV line per frame to FILE (atomically)\n"
    "  -j, --json             print one JSON object instead of the table\n"
    "  -h, --help             show this help and exit\n"
    "      --version          show the version and exit\n";

struct cmdline {
    double threshold, jaccard_threshold; /* jaccard_threshold < 0: not asked */
    int hd95, json, ci, ci_samples, restore;
    uint64_t seed;
    const char *per_image, *input;
};

static void parse_cmdline(int argc, char **argv, struct cmdline *cl) {
    enum { OPT_HD95 = 256, OPT_VERSION, OPT_JT, OPT_CI, OPT_CI_SAMPLES };
    static const struct option opts[] = {
        {"threshold", required_argument, 0, 't'}, {"hd95", no_argument, 0, OPT_HD95},
        {"jaccard-threshold", required_argument, 0, OPT_JT}, {"ci", no_argument, 0, OPT_CI},
        {"ci-samples", required_argument, 0, OPT_CI_SAMPLES}, {"seed", required_argument, 0, 'S'},
        {"per-image", required_argument, 0, 'p'}, {"json", no_argument, 0, 'j'},
        {"restore", no_argument, 0, 'r'},         {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, OPT_VERSION}, {0, 0, 0, 0},
    };
    *cl = (struct cmdline){.threshold = 0.5, .jaccard_threshold = -1, .ci_samples = 2000, .input = "-"};
    int o;
    long v;
    opterr = 0;
    while ((o = getopt_long(argc, argv, ":t:p:jS:rh", opts, NULL)) != -1) {
        switch (o) {
        case 't':
            if (fn_parse_double(optarg, &cl->threshold) || cl->threshold < 0 || cl->threshold > 1)
                fn_usage_die(prog, "bad threshold '%s' (want a number from 0 to 1)", optarg);
            break;
        case OPT_HD95: cl->hd95 = 1; break;
        case OPT_JT:
            if (fn_parse_double(optarg, &cl->jaccard_threshold) || cl->jaccard_threshold < 0 || cl->jaccard_threshold > 1)
                fn_usage_die(prog, "bad --jaccard-threshold '%s' (want a number from 0 to 1)", optarg);
            break;
        case OPT_CI: cl->ci = 1; break;
        case OPT_CI_SAMPLES:
            if (fn_parse_int(optarg, 10, 1000000, &v)) fn_usage_die(prog, "bad --ci-samples '%s' (want 10 to 1000000)", optarg);
            cl->ci_samples = (int)v;
            break;
        case 'S':
            if (fn_parse_seed(optarg, &cl->seed)) fn_usage_die(prog, "bad seed '%s'", optarg);
            break;
        case 'p': cl->per_image = optarg; break;
        case 'j': cl->json = 1; break;
        case 'r': cl->restore = 1; break;
        case 'h': fputs(usage, stdout); exit(0);
        case OPT_VERSION: fn_version(prog);
        default: fn_usage_getopt(prog, o, argv);
        }
    }
    cl->input = fn_input_operand(prog, argc, argv);
}

struct totals {
    long frames, hd_frames, roi_frames;
    double dice, jaccard, hd95; /* sums */
    fn_confusion pooled;
    double *dv, *jv; /* [frames] per-image Dice and Jaccard */
    long cap;
    char *worst_dice_id, *worst_jaccard_id;
    double worst_dice, worst_jaccard;
};

/* keep the per-image scores for the median, the worst case and the bootstrap */
static int keep_scores(struct totals *t, const char *id, double d, double j, fn_err *e) {
    if (t->frames == t->cap) {
        long cap = t->cap ? 2 * t->cap : 256;
        double *a = realloc(t->dv, sizeof *a * (size_t)cap);
        if (a) t->dv = a;
        double *b = a ? realloc(t->jv, sizeof *b * (size_t)cap) : NULL;
        if (b) t->jv = b;
        if (!a || !b) return fn_seterr(e, "out of memory");
        t->cap = cap;
    }
    t->dv[t->frames] = d;
    t->jv[t->frames] = j;
    if (!t->worst_dice_id || d < t->worst_dice) {
        free(t->worst_dice_id);
        if (!(t->worst_dice_id = strdup(id))) return fn_seterr(e, "out of memory");
        t->worst_dice = d;
    }
    if (!t->worst_jaccard_id || j < t->worst_jaccard) {
        free(t->worst_jaccard_id);
        if (!(t->worst_jaccard_id = strdup(id))) return fn_seterr(e, "out of memory");
        t->worst_jaccard = j;
    }
    return 0;
}

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
    int rc = fn_confusion_count_roi(f->pred, f->mask, f->roi, cl->threshold, &c, pb, mb, e);
    if (!rc && cl->hd95) {
        e->msg[0] = 0;
        hd = fn_hd95(pb, mb, f->pred->h, f->pred->w, e);
        if (e->msg[0]) rc = -1;
    }
    free(pb);
    free(mb);
    if (rc) return -1;
    double d = fn_dice(&c), j = fn_jaccard(&c);
    if (keep_scores(t, f->id, d, j, e)) return -1;
    t->roi_frames += f->roi != NULL;
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

/* the challenge figures: spread, thresholded Jaccard, intervals */
struct extra {
    double dice_med, jac_med, jac_thr, dice_lo, dice_hi, jac_lo, jac_hi;
};

static int extras(const struct cmdline *cl, const struct totals *t, struct extra *x, fn_err *e) {
    size_t n = (size_t)t->frames;
    x->dice_med = fn_median(t->dv, n);
    x->jac_med = fn_median(t->jv, n);
    x->jac_thr = cl->jaccard_threshold >= 0 ? fn_thresholded_mean(t->jv, n, cl->jaccard_threshold) : NAN;
    x->dice_lo = x->dice_hi = x->jac_lo = x->jac_hi = NAN;
    if (cl->ci && (fn_bootstrap_mean_ci(t->dv, n, cl->ci_samples, 0.95, cl->seed, &x->dice_lo, &x->dice_hi, e) ||
                   fn_bootstrap_mean_ci(t->jv, n, cl->ci_samples, 0.95, cl->seed, &x->jac_lo, &x->jac_hi, e)))
        return -1;
    return 0;
}

static void json_str(const char *key, const char *v) {
    printf(",\"%s\":\"", key);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if ((unsigned char)*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

static void report(const struct cmdline *cl, const struct totals *t, const struct extra *x) {
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
        putchar(',');
        json_num("dice_median", x->dice_med, 1);
        json_num("dice_worst", t->worst_dice, 0);
        json_str("dice_worst_id", t->worst_dice_id);
        putchar(',');
        json_num("jaccard_median", x->jac_med, 1);
        json_num("jaccard_worst", t->worst_jaccard, 0);
        json_str("jaccard_worst_id", t->worst_jaccard_id);
        if (cl->jaccard_threshold >= 0) {
            printf(",\"jaccard_threshold\":%g,", cl->jaccard_threshold);
            json_num("jaccard_thresholded", x->jac_thr, 0);
        }
        if (cl->ci) {
            printf(",\"ci_level\":0.95,\"ci_samples\":%d,\"ci_seed\":%llu,", cl->ci_samples,
                   (unsigned long long)cl->seed);
            json_num("dice_ci_lo", x->dice_lo, 1);
            json_num("dice_ci_hi", x->dice_hi, 1);
            json_num("jaccard_ci_lo", x->jac_lo, 1);
            json_num("jaccard_ci_hi", x->jac_hi, 0);
        }
        if (t->roi_frames) printf(",\"roi_frames\":%ld", t->roi_frames);
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
    printf("%-12s %.6f\n", "dice_median", x->dice_med);
    printf("%-12s %.6f %s\n", "dice_worst", t->worst_dice, t->worst_dice_id);
    printf("%-12s %.6f\n", "jaccard_median", x->jac_med);
    printf("%-12s %.6f %s\n", "jaccard_worst", t->worst_jaccard, t->worst_jaccard_id);
    if (cl->jaccard_threshold >= 0)
        printf("%-12s %.6f (per-image Jaccard under %g counted as 0)\n", "jaccard_thresholded", x->jac_thr,
               cl->jaccard_threshold);
    if (cl->ci) {
        printf("%-12s %.6f %.6f (95%%, %d bootstrap resamples, seed %llu)\n", "dice_ci", x->dice_lo, x->dice_hi,
               cl->ci_samples, (unsigned long long)cl->seed);
        printf("%-12s %.6f %.6f\n", "jaccard_ci", x->jac_lo, x->jac_hi);
    }
    if (t->roi_frames) printf("%-12s %ld (scored inside their roi)\n", "roi_frames", t->roi_frames);
}

int main(int argc, char **argv) {
    fn_heap_for_frames((size_t)32 << 20); /* native-resolution frames are tens of MB: keep the pages */
    struct cmdline cl;
    struct totals t = {0};
    fn_err e;
    fn_atomic tsv = {0};
    signal(SIGPIPE, SIG_IGN); /* a closed pipe: EPIPE, one line, exit 1 */
    parse_cmdline(argc, argv, &cl);

    fn_reader *r = fn_reader_open_path(cl.input, &e);
    if (!r) fn_die(prog, "%s", e.msg);
    if (cl.per_image) {
        if (fn_atomic_open(&tsv, cl.per_image, &e)) fn_die(prog, "%s", e.msg);
        fprintf(tsv.f, "id\tdice\tjaccard\ttp\tfp\tfn\ttn%s\n", cl.hd95 ? "\thd95" : "");
    }
    fn_frame f;
    fn_rs_cache rs = {0};
    int rc;
    while ((rc = fn_reader_next(r, &f, &e)) == 1) {
        if (cl.restore) fn_frame_set_tensor(&f.image, NULL); /* scoring needs none: not resized */
        if ((cl.restore && fn_frame_restore(&rs, &f, &e)) || score(&cl, &f, &t, tsv.f, &e)) {
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
    fn_rs_cache_free(&rs);
    struct extra x;
    if (extras(&cl, &t, &x, &e)) {
        if (cl.per_image) fn_atomic_abort(&tsv);
        fn_die(prog, "%s", e.msg);
    }
    if (cl.per_image && fn_atomic_commit(&tsv, &e)) fn_die(prog, "%s", e.msg);
    report(&cl, &t, &x);
    free(t.dv), free(t.jv), free(t.worst_dice_id), free(t.worst_jaccard_id);
    if (fflush(stdout) || ferror(stdout)) fn_die(prog, "stdout: write error: %s", strerror(errno ? errno : EIO));
    return 0;
}
