/* codec_tiff.c: TIFF to [C,H,W] tensors and back, with libtiff, on memory buffers. Built into libfn-tiff.so
 * (with its own copies of err.c, tensor.c and image.c), which plugin.c loads on the first TIFF read or
 * written: these are fn_tiff_decode and fn_tiff_encode of codec_tiff.h behind the table fn_tiff_plugin.
 *
 * Read, every page of the main IFD chain (reduced-resolution pages such as thumbnails are skipped):
 *   - 8/16-bit unsigned -> u8/u16; 32-bit float -> f32; signed or 32-bit integer and 64-bit float
 *     samples -> f32; min-is-black, min-is-white (inverted) or RGB; strips or tiles, contiguous or
 *     separate planes; every compression this libtiff decodes;
 *   - anything else libtiff can render as RGBA (palette, 1/2/4-bit, YCbCr, CMYK, ...) goes through
 *     TIFFReadRGBAImage and gives u8 (C=1 when the photometric is grey, else RGB).
 *   Alpha extra samples are dropped; unspecified extra samples are kept as channels.
 * Write: u8/u16/f32, contiguous, Deflate with a predictor; C=3 as RGB, else min-is-black with C-1
 * unspecified extra samples. n tensors make n pages.
 * libtiff's messages go to handlers given through TIFFOpenOptions (no global handler is touched);
 * the first error is kept for our message. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include "data/image.h"
#include "data/plugin.h"

typedef struct tiff_mem {
    unsigned char *buf;
    size_t len, pos, cap; /* cap > 0: writable, growing */
    char msg[256];
    int nerr;
} tiff_mem;

static tmsize_t mem_read(thandle_t h, void *dst, tmsize_t n) {
    tiff_mem *m = h;
    size_t k = m->pos < m->len ? m->len - m->pos : 0;
    if ((size_t)n < k) k = (size_t)n;
    memcpy(dst, m->buf + m->pos, k);
    m->pos += k;
    return (tmsize_t)k;
}

static tmsize_t mem_write(thandle_t h, void *src, tmsize_t n) {
    tiff_mem *m = h;
    if (!m->cap) return -1;
    size_t end = m->pos + (size_t)n;
    if (end > m->cap) {
        size_t cap = m->cap;
        while (cap < end) cap *= 2;
        unsigned char *b = realloc(m->buf, cap);
        if (!b) return -1;
        memset(b + m->cap, 0, cap - m->cap);
        m->buf = b;
        m->cap = cap;
    }
    memcpy(m->buf + m->pos, src, (size_t)n);
    m->pos = end;
    if (end > m->len) m->len = end;
    return n;
}

static toff_t mem_seek(thandle_t h, toff_t off, int whence) {
    tiff_mem *m = h;
    uint64_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->len : 0;
    m->pos = (size_t)(base + off);
    return m->pos;
}

static int mem_close(thandle_t h) { return 0; }
static toff_t mem_size(thandle_t h) { return ((tiff_mem *)h)->len; }

static int mem_map(thandle_t h, void **base, toff_t *size) {
    tiff_mem *m = h;
    if (m->cap) return 0;
    *base = m->buf;
    *size = m->len;
    return 1;
}

static void mem_unmap(thandle_t h, void *base, toff_t size) {}

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    tiff_mem *m = user;
    if (!m->nerr++) vsnprintf(m->msg, sizeof m->msg, fmt, ap);
    return 1;
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) { return 1; }

static TIFF *mem_open(tiff_mem *m, const char *name, const char *mode) {
    TIFFOpenOptions *o = TIFFOpenOptionsAlloc();
    if (!o) return NULL;
    TIFFOpenOptionsSetErrorHandlerExtR(o, on_error, m);
    TIFFOpenOptionsSetWarningHandlerExtR(o, on_warning, m);
    TIFF *tif = TIFFClientOpenExt(name, mode, (thandle_t)m, mem_read, mem_write, mem_seek, mem_close, mem_size,
                                  mem_map, mem_unmap, o);
    TIFFOpenOptionsFree(o);
    return tif;
}

/* ---- reading ----------------------------------------------------------------------------------- */

typedef struct tiff_dir {
    uint32_t w, h;
    uint16_t spp, bps, fmt, photo, planar;
    int keep; /* samples kept per pixel */
} tiff_dir;

/* the whole page's samples into raw: interleaved (contig) or plane after plane (separate) */
static int read_raw(TIFF *tif, const tiff_dir *d, unsigned char *raw) {
    size_t bytes = d->bps / 8, per = d->planar == PLANARCONFIG_CONTIG ? d->spp : 1;
    size_t row = (size_t)d->w * per * bytes;
    int planes = d->planar == PLANARCONFIG_CONTIG ? 1 : d->spp;
    if (TIFFIsTiled(tif)) {
        uint32_t tw, th;
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
        /* a tile larger than the page's samples and 64 MiB is refused (fuzzing: a 196-byte file with
         * 65535x65535 tiles asked for 16 GB) */
        tmsize_t ts = TIFFTileSize(tif);
        double page = (double)d->w * d->h * per * bytes;
        if (ts <= 0 || (double)ts > (page > FN_DECODE_FREE_BYTES ? page : FN_DECODE_FREE_BYTES)) return -1;
        unsigned char *tb = tw && th ? malloc((size_t)ts) : NULL;
        if (!tb) return -1;
        size_t trow = (size_t)tw * per * bytes;
        for (int p = 0; p < planes; p++)
            for (uint32_t y = 0; y < d->h; y += th)
                for (uint32_t x = 0; x < d->w; x += tw) {
                    if (TIFFReadTile(tif, tb, x, y, 0, (uint16_t)p) < 0) { free(tb); return -1; }
                    uint32_t nx = d->w - x < tw ? d->w - x : tw, ny = d->h - y < th ? d->h - y : th;
                    for (uint32_t r = 0; r < ny; r++)
                        memcpy(raw + ((size_t)p * d->h + y + r) * row + (size_t)x * per * bytes, tb + r * trow,
                               nx * per * bytes);
                }
        free(tb);
        return 0;
    }
    uint32_t rps = d->h;
    TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rps);
    if (rps == 0 || rps > d->h) rps = d->h;
    for (int p = 0; p < planes; p++)
        for (uint32_t y = 0; y < d->h; y += rps) {
            uint32_t ny = d->h - y < rps ? d->h - y : rps;
            tmsize_t want = (tmsize_t)(ny * row);
            if (TIFFReadEncodedStrip(tif, TIFFComputeStrip(tif, y, (uint16_t)p),
                                     raw + ((size_t)p * d->h + y) * row, want) != want)
                return -1;
        }
    return 0;
}

/* sample (c, i) of raw, i = y*w + x, as type T */
#define CONVERT(ST, DT)                                                                  \
    do {                                                                                 \
        const ST *s = (const ST *)raw;                                                   \
        DT *o = t->data;                                                                 \
        for (int c = 0; c < t->c; c++)                                                   \
            for (size_t i = 0; i < n; i++) o[c * n + i] = (DT)s[c * cstep + i * pstep]; \
    } while (0)

static void convert(const unsigned char *raw, const tiff_dir *d, fn_tensor *t) {
    size_t n = (size_t)d->w * d->h;
    size_t pstep = d->planar == PLANARCONFIG_CONTIG ? d->spp : 1, cstep = d->planar == PLANARCONFIG_CONTIG ? 1 : n;
    int k = d->bps;
    if (t->dtype == FN_U8) CONVERT(uint8_t, uint8_t);
    else if (t->dtype == FN_U16) CONVERT(uint16_t, uint16_t);
    else if (d->fmt == SAMPLEFORMAT_IEEEFP && k == 32) CONVERT(float, float);
    else if (d->fmt == SAMPLEFORMAT_IEEEFP) CONVERT(double, float);
    else if (d->fmt == SAMPLEFORMAT_INT && k == 8) CONVERT(int8_t, float);
    else if (d->fmt == SAMPLEFORMAT_INT && k == 16) CONVERT(int16_t, float);
    else if (d->fmt == SAMPLEFORMAT_INT) CONVERT(int32_t, float);
    else CONVERT(uint32_t, float);
    if (d->photo == PHOTOMETRIC_MINISWHITE && t->dtype != FN_F32) {
        size_t m = fn_tensor_numel(t);
        if (t->dtype == FN_U8) for (size_t i = 0; i < m; i++) ((uint8_t *)t->data)[i] ^= 0xff;
        else for (size_t i = 0; i < m; i++) ((uint16_t *)t->data)[i] ^= 0xffff;
    }
}

static int direct_ok(const tiff_dir *d) {
    int fmt_ok = (d->fmt == SAMPLEFORMAT_UINT || d->fmt == SAMPLEFORMAT_INT) ? (d->bps == 8 || d->bps == 16 || d->bps == 32)
                 : d->fmt == SAMPLEFORMAT_IEEEFP ? (d->bps == 32 || d->bps == 64)
                                                 : 0;
    int photo_ok = d->photo == PHOTOMETRIC_MINISBLACK || d->photo == PHOTOMETRIC_MINISWHITE ||
                   (d->photo == PHOTOMETRIC_RGB && d->spp >= 3);
    return fmt_ok && photo_ok;
}

/* The bytes of image data the page's strips or tiles claim, each count and the sum cut to the len
 * bytes of the file: a page is refused before anything is allocated for it when it would decode to
 * more than 64 MiB plus 4096 times that (Deflate, the best of TIFF's usual compressions, stops near
 * 1032:1; a page that compresses better still, such as a blank fax page, passes when it decodes to
 * under 64 MiB). Fuzzing: a 164-byte file claiming 64004x9222 pixels made a 2.4 GB allocation. */
static double data_bytes(TIFF *tif, size_t len) {
    int tiled = TIFFIsTiled(tif);
    uint32_t n = tiled ? TIFFNumberOfTiles(tif) : TIFFNumberOfStrips(tif);
    uint64_t *bc = NULL;
    if (!TIFFGetField(tif, tiled ? TIFFTAG_TILEBYTECOUNTS : TIFFTAG_STRIPBYTECOUNTS, &bc) || !bc) return 0;
    double sum = 0;
    for (uint32_t i = 0; i < n && sum < (double)len; i++) sum += bc[i] < len ? (double)bc[i] : (double)len;
    return sum < (double)len ? sum : (double)len;
}

static int too_big_for_data(TIFF *tif, const tiff_dir *d, size_t len) {
    double px = (double)d->w * d->h, bytes = px * (d->spp * (double)d->bps / 8 > 4 ? d->spp * (double)d->bps / 8 : 4);
    return fn_beyond_data(bytes, data_bytes(tif, len), 4096);
}

/* one page: 0, or -1 with why set (when libtiff gave no message) */
static fn_tensor *read_page(TIFF *tif, size_t len, const char **why) {
    tiff_dir d = {0};
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &d.w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &d.h);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &d.spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &d.bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &d.fmt);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &d.planar);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &d.photo)) d.photo = d.spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
    fn_err e;
    if (d.w < 1 || d.h < 1 || d.w > FN_MAX_HW || d.h > FN_MAX_HW) { *why = "bad or too large image size"; return NULL; }
    if (too_big_for_data(tif, &d, len)) { *why = "image larger than its data could hold"; return NULL; }
    if (direct_ok(&d)) {
        uint16_t nextra = 0, *extra = NULL;
        TIFFGetField(tif, TIFFTAG_EXTRASAMPLES, &nextra, &extra);
        int alpha = 0;
        for (int i = 0; i < nextra; i++) alpha += extra[i] != EXTRASAMPLE_UNSPECIFIED;
        d.keep = d.photo == PHOTOMETRIC_RGB ? 3 : d.spp - alpha;
        if (d.keep < 1) d.keep = 1;
        if (d.keep > FN_MAX_C) { *why = "too many samples per pixel"; return NULL; }
        fn_dtype dt = d.fmt == SAMPLEFORMAT_UINT && d.bps == 8 ? FN_U8 : d.fmt == SAMPLEFORMAT_UINT && d.bps == 16 ? FN_U16 : FN_F32;
        size_t rawlen = (size_t)d.w * d.h * d.spp * (d.bps / 8);
        unsigned char *raw = malloc(rawlen);
        fn_tensor *t = raw ? fn_tensor_new(dt, d.keep, (int)d.h, (int)d.w, &e) : NULL;
        if (!t || read_raw(tif, &d, raw)) {
            *why = t ? "cannot read the pixels" : "out of memory";
            free(raw);
            fn_tensor_free(t);
            return NULL;
        }
        convert(raw, &d, t);
        free(raw);
        return t;
    }
    char emsg[1024];
    if (!TIFFRGBAImageOK(tif, emsg)) { *why = "unsupported kind of TIFF"; return NULL; }
    int gray = d.photo == PHOTOMETRIC_MINISBLACK || d.photo == PHOTOMETRIC_MINISWHITE;
    uint32_t *px = malloc((size_t)d.w * d.h * 4);
    fn_tensor *t = px ? fn_tensor_new(FN_U8, gray ? 1 : 3, (int)d.h, (int)d.w, &e) : NULL;
    if (!t || !TIFFReadRGBAImageOriented(tif, d.w, d.h, px, ORIENTATION_TOPLEFT, 1)) { /* stop at a missing strip */
        *why = t ? "cannot read the pixels" : "out of memory";
        free(px);
        fn_tensor_free(t);
        return NULL;
    }
    for (uint32_t y = 0; y < d.h; y++) fn_deinterleave_row(px + (size_t)y * d.w, 4, t, (int)y);
    free(px);
    return t;
}

int fn_tiffio_decode(const unsigned char *buf, size_t len, const char *name, const fn_decode_opts *o,
                     fn_image *img, fn_err *e) {
    tiff_mem m = {(unsigned char *)buf, len, 0, 0, "", 0};
    TIFF *tif = mem_open(&m, name, "r");
    if (!tif) return fn_seterr(e, "%s: corrupt TIFF: %s", name, m.nerr ? m.msg : "cannot open");
    int rc = 0;
    do {
        uint32_t sub = 0;
        if (TIFFGetField(tif, TIFFTAG_SUBFILETYPE, &sub) && (sub & FILETYPE_REDUCEDIMAGE)) continue;
        const char *why = "";
        fn_tensor *t = read_page(tif, len, &why);
        if (!t || m.nerr) {
            fn_tensor_free(t);
            if (img->n) rc = fn_seterr(e, "%s: corrupt TIFF: page %d: %s", name, img->n, m.nerr ? m.msg : why);
            else rc = fn_seterr(e, "%s: corrupt TIFF: %s", name, m.nerr ? m.msg : why);
            break;
        }
        if ((rc = fn_image_add_page(img, t, t->h, t->w, 1, e))) break;
    } while (TIFFReadDirectory(tif));
    if (!rc && m.nerr) rc = fn_seterr(e, "%s: corrupt TIFF: %s", name, m.msg);
    TIFFClose(tif);
    return rc;
}

/* ---- writing ----------------------------------------------------------------------------------- */

static int write_page(TIFF *tif, const fn_tensor *t, int page, int n) {
    int bytes = (int)fn_dtype_size(t->dtype);
    TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)t->w);
    TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)t->h);
    TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)t->c);
    TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)(8 * bytes));
    TIFFSetField(tif, TIFFTAG_SAMPLEFORMAT, t->dtype == FN_F32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT);
    TIFFSetField(tif, TIFFTAG_PHOTOMETRIC, t->c == 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
    TIFFSetField(tif, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(tif, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    TIFFSetField(tif, TIFFTAG_PREDICTOR, t->dtype == FN_F32 ? PREDICTOR_FLOATINGPOINT : PREDICTOR_HORIZONTAL);
    if (t->c != 1 && t->c != 3) {
        uint16_t extra[FN_MAX_C] = {0}; /* EXTRASAMPLE_UNSPECIFIED */
        TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, (uint16_t)(t->c - 1), extra);
    }
    if (n > 1) {
        TIFFSetField(tif, TIFFTAG_SUBFILETYPE, FILETYPE_PAGE);
        TIFFSetField(tif, TIFFTAG_PAGENUMBER, (uint16_t)page, (uint16_t)n);
    }
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tif, 0));
    size_t plane = (size_t)t->h * t->w, es = (size_t)bytes;
    unsigned char *row = malloc((size_t)t->w * t->c * es);
    if (!row) return -1;
    for (int y = 0; y < t->h; y++) {
        for (int c = 0; c < t->c; c++) {
            const unsigned char *s = (const unsigned char *)t->data + (c * plane + (size_t)y * t->w) * es;
            for (int x = 0; x < t->w; x++) memcpy(row + ((size_t)x * t->c + c) * es, s + x * es, es);
        }
        if (TIFFWriteScanline(tif, row, (uint32_t)y, 0) < 0) { free(row); return -1; }
    }
    free(row);
    return TIFFWriteDirectory(tif) ? 0 : -1;
}

int fn_tiffio_encode(const fn_tensor *const *pages, int n, const char *name, unsigned char **buf, size_t *len,
                     fn_err *e) {
    *buf = NULL;
    *len = 0;
    tiff_mem m = {malloc(65536), 0, 0, 65536, "", 0};
    if (!m.buf) return fn_seterr(e, "%s: out of memory", name);
    memset(m.buf, 0, m.cap);
    TIFF *tif = mem_open(&m, name, "w");
    int rc = tif ? 0 : -1;
    for (int i = 0; !rc && i < n; i++) rc = write_page(tif, pages[i], i, n);
    if (tif) TIFFClose(tif);
    if (rc || m.nerr) {
        free(m.buf);
        return fn_seterr(e, "%s: writing TIFF: %s", name, m.nerr ? m.msg : "failed");
    }
    *buf = m.buf;
    *len = m.len;
    return 0;
}

const fn_tiff_plugin_table fn_tiff_plugin = {FN_PLUGIN_VERSION, fn_tiffio_decode, fn_tiffio_encode};
