/* tile.h: inference on images of any size: reflect padding to a multiple of 16, or overlapping tiles
 * blended with Gaussian weights (nnU-Net's sliding window).
 *
 * Padding: an image whose sides are not multiples of 16 is padded at the bottom and on the right to
 * the next multiple of 16 by reflection about the last row and column (numpy's "reflect": row H-1+k
 * reads row H-1-k; repeated for images narrower than the pad), run, and the prediction cropped back.
 *
 * Tiles (nnU-Net, Isensee et al. 2021): along each axis of length S with tile T and overlap F the
 * tiles start at round(i * (S - T) / (n - 1)), i = 0..n-1, n = ceil((S - T) / (T (1 - F))) + 1 (one
 * tile at 0 when S = T). Each tile's prediction is weighted by a Gaussian centred on the tile with
 * sigma T/8 per axis (scaled to a peak of 1) and the weighted sum divided by the summed weights. An
 * image covered by one tile gets that tile's prediction unweighted, so it equals untiled inference.
 *
 * Images smaller than the tile: one no larger than the tile along both axes runs whole, untiled (padded
 * to multiples of 16 as above), so its prediction is the untiled one bit for bit. One shorter than the
 * tile along one axis only is padded along that axis as untiled (to the next multiple of 16) and the
 * tile shrunk to the padded side there (fn_tile_fit): one tile spans that axis, tiles slide along the
 * other, and the prediction is cropped back. */
#ifndef FN_TRAIN_TILE_H
#define FN_TRAIN_TILE_H

#include <stddef.h>
#include "base/err.h"
#include "nn/net.h"
#include "data/stream.h"

typedef struct fn_infer_opts {
    int tile_h, tile_w; /* 0: no tiling (pad the whole image); else multiples of 16 */
    double overlap;     /* of tiles, in [0, 1) */
    int tta;            /* flip averaging per forward (fn_predict) */
    int batch;          /* images (untiled) or tiles per forward */
} fn_infer_opts;

/* x [N,cin,H,W] -> y [N,1,H,W] probabilities, for any H, W, tiled or not (images smaller than the
 * tile: see above). 0, or -1 with e set. */
int fn_infer_images(fn_net *net, const float *x, int N, int H, int W, const fn_infer_opts *o, float *y, fn_err *e);

/* the next multiple of 16 of n (n >= 1) */
int fn_pad16(int n);
/* src [C,H,W] -> dst [C,PH,PW] (PH >= H, PW >= W): src at the top left, reflected below and right */
void fn_pad_reflect(const float *src, int C, int H, int W, float *dst, int PH, int PW);

/* the tile starts along an axis of length S (one, at 0, when S <= T): writes them to pos (may be NULL)
 * and returns their count */
int fn_tile_starts(int S, int T, double overlap, int *pos);
/* along an axis of length S with tile T (a multiple of 16), in an image larger than the tile along the
 * other axis: *P the side it is padded to (S, or the next multiple of 16 when S < T), *TS the tile's
 * side there (T, or *P when S < T) */
void fn_tile_fit(int S, int T, int *P, int *TS);
/* g [th,tw]: the Gaussian weights of a tile (peak 1, sigma th/8 and tw/8, centre (t-1)/2) */
void fn_tile_gauss(int th, int tw, float *g);

/* The blend of one image: acc and wsum [H,W] zeroed by fn_blend_init; fn_blend_add adds the tile
 * prediction p [th,tw] at (y0,x0) weighted by g [th,tw]; fn_blend_finish writes acc / wsum to out. */
typedef struct fn_blend {
    int h, w;
    float *acc, *wsum; /* [h,w] each */
} fn_blend;
int fn_blend_init(fn_blend *b, int h, int w, fn_err *e);
void fn_blend_add(fn_blend *b, const float *p, const float *g, int y0, int x0, int th, int tw);
void fn_blend_finish(const fn_blend *b, float *out);
void fn_blend_free(fn_blend *b);

/* fn_input_image without the multiple-of-16 rule: image present, finite, converted into dst (may be
 * NULL to check only) */
int fn_infer_input(const fn_frame *f, const char *name, long k, float *dst, fn_err *e);

#endif
