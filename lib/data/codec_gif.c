/* codec_gif.c: the first frame of a GIF to a u8 tensor, with giflib.
 *
 * The frame is placed on the logical screen (zeros around it). Indices go through the frame's colour
 * map (local, else global): when every colour used is grey the result is C=1 holding that grey
 * (DRIVE's vessel masks: 255 = vessel), else C=3 RGB. Without any colour map the index itself is
 * the grey value. Only the trailer after the first frame may be missing. giflib returns error codes and
 * prints nothing. */
#include <stdlib.h>
#include <string.h>
#include <gif_lib.h>
#include "data/codec_gif.h"
#include "data/image.h"

typedef struct gif_src {
    const unsigned char *buf;
    size_t len, pos;
    int short_read; /* giflib ignores some failed reads: a cut file must still be an error */
} gif_src;

static int src_read(GifFileType *g, GifByteType *dst, int n) {
    gif_src *s = g->UserData;
    size_t k = s->len - s->pos < (size_t)n ? s->len - s->pos : (size_t)n;
    if (k < (size_t)n) s->short_read = 1;
    memcpy(dst, s->buf + s->pos, k);
    s->pos += k;
    return (int)k;
}

/* LZW: a code of at least 3 bits stands for at most 4096 pixels, so len bytes hold fewer than
 * len * 8 / 3 * 4096 pixels. A frame beyond that is cut off; a screen beyond it (zeros around a small
 * frame) is refused too, so that a few bytes cannot ask for gigabytes. */
static double max_pixels(size_t len) { return (double)len * (8.0 / 3 * 4096); }

/* the first image's indices onto a zeroed W x H canvas, allocated (*canvas) once its descriptor is read,
 * so that a file that ends before any image costs no canvas; 0 or a giflib error code */
static int read_first(GifFileType *g, size_t len, unsigned char **canvasp, int W, int H) {
    GifRecordType type;
    do {
        if (DGifGetRecordType(g, &type) == GIF_ERROR) return g->Error;
        if (type == EXTENSION_RECORD_TYPE) {
            int code;
            GifByteType *ext;
            if (DGifGetExtension(g, &code, &ext) == GIF_ERROR) return g->Error;
            while (ext)
                if (DGifGetExtensionNext(g, &ext) == GIF_ERROR) return g->Error;
        } else if (type == IMAGE_DESC_RECORD_TYPE) {
            if (DGifGetImageDesc(g) == GIF_ERROR) return g->Error;
            if ((double)g->Image.Width * g->Image.Height > max_pixels(len)) return D_GIF_ERR_DATA_TOO_BIG;
            unsigned char *canvas = *canvasp = calloc((size_t)W * H, 1);
            if (!canvas) return D_GIF_ERR_NOT_ENOUGH_MEM;
            GifImageDesc *d = &g->Image;
            int w = d->Width, h = d->Height;
            GifPixelType *line = malloc(w > 0 ? (size_t)w : 1);
            if (!line) return D_GIF_ERR_NOT_ENOUGH_MEM;
            static const int start[4] = {0, 4, 2, 1}, step[4] = {8, 8, 4, 2};
            int passes = d->Interlace ? 4 : 1;
            for (int p = 0; p < passes; p++)
                for (int y = d->Interlace ? start[p] : 0; y < h; y += d->Interlace ? step[p] : 1) {
                    if (DGifGetLine(g, line, w) == GIF_ERROR) {
                        free(line);
                        return g->Error;
                    }
                    int cy = d->Top + y;
                    if (cy < 0 || cy >= H) continue;
                    for (int x = 0; x < w; x++) {
                        int cx = d->Left + x;
                        if (cx >= 0 && cx < W) canvas[(size_t)cy * W + cx] = line[x];
                    }
                }
            free(line);
            return 0;
        }
    } while (type != TERMINATE_RECORD_TYPE);
    return -1;
}

static fn_tensor *colour(const unsigned char *idx, int W, int H, const ColorMapObject *cm, fn_err *e) {
    size_t n = (size_t)W * H;
    int used[256] = {0}, gray = 1;
    for (size_t i = 0; i < n; i++) used[idx[i]] = 1;
    for (int k = 0; cm && k < 256; k++) {
        if (!used[k]) continue;
        if (k >= cm->ColorCount) {
            fn_seterr(e, "pixel index %d outside the colour map", k);
            return NULL;
        }
        GifColorType c = cm->Colors[k];
        if (c.Red != c.Green || c.Green != c.Blue) gray = 0;
    }
    fn_tensor *t = fn_tensor_new(FN_U8, gray ? 1 : 3, H, W, e);
    if (!t) return NULL;
    uint8_t *o = t->data;
    for (size_t i = 0; i < n; i++) {
        if (!cm) { o[i] = idx[i]; continue; }
        GifColorType c = cm->Colors[idx[i]];
        o[i] = c.Red;
        if (!gray) {
            o[n + i] = c.Green;
            o[2 * n + i] = c.Blue;
        }
    }
    return t;
}

int fn_gif_decode(const unsigned char *buf, size_t len, const char *name, const fn_decode_opts *o, fn_image *img,
                  fn_err *e) {
    gif_src s = {buf, len, 0, 0};
    int err = 0;
    GifFileType *g = DGifOpen(&s, src_read, &err);
    if (!g) return fn_seterr(e, "%s: corrupt GIF: %s", name, GifErrorString(err));
    int W = g->SWidth, H = g->SHeight, rc = -1;
    unsigned char *canvas = NULL;
    if (W < 1 || H < 1 || W > FN_MAX_HW || H > FN_MAX_HW) {
        fn_seterr(e, "%s: corrupt GIF: bad screen size %dx%d", name, W, H);
    } else if ((double)W * H > max_pixels(len)) {
        fn_seterr(e, "%s: corrupt GIF: a screen of %dx%d from %zu bytes", name, W, H, len);
    } else if ((err = read_first(g, len, &canvas, W, H))) {
        if (err == D_GIF_ERR_NOT_ENOUGH_MEM) fn_seterr(e, "%s: out of memory", name);
        else fn_seterr(e, "%s: corrupt GIF: %s", name, err < 0 ? "no image in the file" : GifErrorString(err));
    } else if (s.short_read) {
        fn_seterr(e, "%s: corrupt GIF: unexpected end of file", name);
    } else {
        fn_err ce;
        fn_tensor *t = colour(canvas, W, H, g->Image.ColorMap ? g->Image.ColorMap : g->SColorMap, &ce);
        if (!t) fn_seterr(e, "%s: corrupt GIF: %s", name, ce.msg);
        else rc = fn_image_add_page(img, t, H, W, 1, e);
    }
    free(canvas);
    DGifCloseFile(g, &err);
    return rc;
}
