/* normstats.h: intensity normalisation: fitting dataset statistics, saving/loading them as JSON,
 * and applying them (fn-normalize).
 *
 * Statistics are the population mean and standard deviation (numpy's std, ddof 0) of every value of
 * every image (scalar mode, the paper's protocol) or of each channel (per-channel mode). Optional clip
 * percentiles (nnU-Net's CT normalisation): values are clipped to [clip_lo, clip_hi], the LO-th and
 * HI-th percentiles of the training values, before (x - mean) / std; mean and std are those of the
 * unclipped values, as nnU-Net does. Percentiles follow numpy's default (linear interpolation between
 * order statistics): exact for u8/u16 (exact histograms); for f32 they are read from a histogram of
 * FN_NORM_F32_BINS bins between the minimum and maximum seen, so they are within (max-min)/FN_NORM_F32_BINS
 * of numpy's value.
 *
 * Two more options of the fit, kept in the statistics so that applying them does the same:
 *   - a window (fixed clip, fn-normalize --clip LO,HI): every value is clipped to [LO, HI] first, in
 *     the fit (mean, std and percentiles are those of the clipped values) and when applied;
 *   - foreground statistics (nnU-Net's CT scheme, --ct): mean, std and percentiles over the pixels
 *     whose mask is > 0 only (fn_normfit_add_masked with the frame's mask); applied to every pixel. */
#ifndef FN_NORMSTATS_H
#define FN_NORMSTATS_H

#include <stdint.h>
#include "base/err.h"
#include "base/tensor.h"

#define FN_NORM_F32_BINS (1 << 18)

typedef struct fn_normstats {
    int per_channel;            /* 0: one mean/std for all channels (index 0 used) */
    int channels;               /* channel count of the fitted images */
    double mean[FN_MAX_C], std[FN_MAX_C];
    uint64_t count;             /* values seen */
    fn_dtype dtype;             /* dtype of the fitted images */
    int clip;                   /* clip percentiles fitted */
    double clip_p[2];           /* the percentiles, e.g. 0.5, 99.5 */
    double clip_lo[FN_MAX_C], clip_hi[FN_MAX_C];
    int clip_pct;               /* clip_lo/clip_hi are fitted percentiles (clip_p) */
    int window;                 /* values clipped to win[0]..win[1] before anything (clip is set too) */
    double win[2];
    int foreground;             /* fitted over the pixels of mask > 0 */
} fn_normstats;

/* fitting: add every training image once (fn_normfit_add); if fn_normfit_passes() is 2, add every
 * image again with fn_normfit_add2 (f32 percentiles need a histogram between min and max); then finish. */
typedef struct fn_normfit fn_normfit;
fn_normfit *fn_normfit_new(int per_channel, int clip, double plo, double phi, fn_err *e);
/* before the first add: clip every value to [lo, hi] first (lo < hi); fit over mask > 0 pixels only */
void fn_normfit_set_window(fn_normfit *f, double lo, double hi);
void fn_normfit_set_foreground(fn_normfit *f);
int fn_normfit_add(fn_normfit *f, const fn_tensor *t, fn_err *e);
int fn_normfit_passes(const fn_normfit *f);
int fn_normfit_add2(fn_normfit *f, const fn_tensor *t, fn_err *e);
/* the same with the frame's mask (u8, [1,H,W] or more channels, the first used): needed, and used, with
 * foreground statistics; ignored otherwise (NULL allowed then) */
int fn_normfit_add_masked(fn_normfit *f, const fn_tensor *t, const fn_tensor *mask, fn_err *e);
int fn_normfit_add2_masked(fn_normfit *f, const fn_tensor *t, const fn_tensor *mask, fn_err *e);
int fn_normfit_finish(fn_normfit *f, fn_normstats *s, fn_err *e);
void fn_normfit_free(fn_normfit *f);

/* JSON file (jansson): {"format":"fn-normalize","mode":"dataset"|"dataset-per-channel","mean":x|[..],
 * "std":x|[..],"count":N,"dtype":"u8","channels":C[,"clip_percentile":[lo,hi]][,"clip_window":[lo,hi]]
 * [,"clip_lo":..,"clip_hi":..][,"foreground":true]}: clip_lo/clip_hi with either clip field */
int fn_normstats_save(const fn_normstats *s, const char *path, fn_err *e);
int fn_normstats_load(fn_normstats *s, const char *path, fn_err *e);

/* the first channel (per-channel statistics) or 0 (one mean/std) whose std is 0: every fitted value
 * equals its mean, so fn_norm_apply only centres it (to 0); -1 when every std is positive */
int fn_normstats_zero_std(const fn_normstats *s);

/* "dataset", "dataset-per-channel", "per-image", "per-image-per-channel" */
const char *fn_norm_mode_name(int per_image, int per_channel);

/* Replace *t by (clip(x) - mean) / std as f32 (in place when *t is f32). Error on NaN/Inf values or a
 * channel count that differs from per-channel stats. */
int fn_norm_apply(const fn_normstats *s, fn_tensor **t, fn_err *e);
/* z-score *t by its own mean and std (per channel if asked); the values used go to s (count, mean,
 * std, channels). A constant image (std 0) is only centred. */
int fn_norm_per_image(fn_tensor **t, int per_channel, fn_normstats *s, fn_err *e);

/* mean/std (or clip bounds) as meta values: one number, or "a,b,c" for per-channel */
void fn_norm_format(const fn_normstats *s, const double *v, char *buf, size_t n);

#endif
