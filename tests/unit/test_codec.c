/* test_codec.c: image decoders and encoders, masks, display conversions.
 * Files of kinds our encoders do not make (palette/RGBA/1-bit/interlaced PNG, tiled and planar TIFF,
 * JPEG, GIF) are written here with libpng, libtiff, libjpeg and giflib directly. */
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <gif_lib.h>
#include <jpeglib.h>
#include <png.h>
#include <tiffio.h>
#include "check.h"
#include "data/codec.h"
#include "imgproc/display.h"
#include "imgproc/mask.h"

static char tmpdir[] = "/tmp/test_codec.XXXXXX";

static const char *tmp(const char *name) {
    static char path[4][256];
    static int k;
    k = (k + 1) % 4;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    return path[k];
}

static fn_tensor *ramp(fn_dtype dt, int c, int h, int w) {
    fn_tensor *t = fn_tensor_new(dt, c, h, w, NULL);
    for (size_t i = 0; i < fn_tensor_numel(t); i++) {
        double v = dt == FN_U8 ? (i * 7) % 256 : dt == FN_U16 ? (i * 4099) % 65536 : (double)i * 0.37 - 50.25;
        fn_tensor_set(t, i, v);
    }
    return t;
}

static int same(const fn_tensor *a, const fn_tensor *b) {
    return a->dtype == b->dtype && a->c == b->c && a->h == b->h && a->w == b->w &&
           !memcmp(a->data, b->data, fn_tensor_bytes(a));
}

static int decode(const unsigned char *buf, size_t len, fn_image *img, fn_err *e) {
    return fn_image_decode(buf, len, "mem", NULL, img, e);
}

/* ---- our encoders, read back ------------------------------------------------------------------- */

static void test_tiff_u16_f32_roundtrip(void) {
    fn_dtype dts[3] = {FN_U8, FN_U16, FN_F32};
    int cs[3] = {1, 3, 5};
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            fn_tensor *t = ramp(dts[i], cs[j], 37, 53);
            unsigned char *buf;
            size_t len;
            fn_err e;
            const fn_tensor *pages[1] = {t};
            CHECK(fn_tiff_encode(pages, 1, "t.tif", &buf, &len, &e) == 0);
            fn_image img;
            CHECK(fn_format_sniff(buf, len) == FN_FMT_TIFF);
            CHECKF(decode(buf, len, &img, &e) == 0, "%s", e.msg);
            CHECK(img.n == 1 && same(img.pages[0].t, t));
            CHECK(img.pages[0].orig_h == 37 && img.pages[0].orig_w == 53);
            fn_image_free(&img);
            free(buf);
            fn_tensor_free(t);
        }
}

static void test_tiff_multipage(void) {
    fn_tensor *a = ramp(FN_U16, 1, 10, 20), *b = ramp(FN_U16, 1, 30, 15), *c = ramp(FN_F32, 1, 5, 5);
    const fn_tensor *pages[3] = {a, b, c};
    unsigned char *buf;
    size_t len;
    fn_err e;
    CHECK(fn_tiff_encode(pages, 3, "m.tif", &buf, &len, &e) == 0);
    fn_image img;
    CHECKF(decode(buf, len, &img, &e) == 0, "%s", e.msg);
    CHECK(img.n == 3);
    for (int i = 0; i < img.n && i < 3; i++) CHECK(same(img.pages[i].t, pages[i]));
    fn_image_free(&img);
    free(buf);
    fn_tensor_free(a);
    fn_tensor_free(b);
    fn_tensor_free(c);
}

static void test_png_roundtrip(void) {
    fn_dtype dts[2] = {FN_U8, FN_U16};
    for (int i = 0; i < 2; i++)
        for (int c = 1; c <= 3; c += 2) {
            fn_tensor *t = ramp(dts[i], c, 33, 41);
            unsigned char *buf;
            size_t len;
            fn_err e;
            CHECK(fn_png_encode(t, "t.png", &buf, &len, &e) == 0);
            fn_image img;
            CHECKF(decode(buf, len, &img, &e) == 0, "%s", e.msg);
            CHECK(img.n == 1 && same(img.pages[0].t, t));
            fn_image_free(&img);
            free(buf);
            fn_tensor_free(t);
        }
    fn_tensor *f = ramp(FN_F32, 1, 4, 4);
    unsigned char *buf;
    size_t len;
    fn_err e;
    CHECK(fn_png_encode(f, "f.png", &buf, &len, &e) == -1 && strstr(e.msg, "f.png"));
    fn_tensor_free(f);
}

static void test_write_file_and_read(void) {
    fn_tensor *t = ramp(FN_U16, 1, 12, 9);
    fn_err e;
    CHECK(fn_image_write_file(tmp("w.png"), FN_FMT_PNG, t, &e) == 0);
    CHECK(fn_image_write_file(tmp("w.tif"), FN_FMT_TIFF, t, &e) == 0);
    fn_image img;
    CHECK(fn_image_read(tmp("w.png"), NULL, &img, &e) == 0 && same(img.pages[0].t, t));
    fn_image_free(&img);
    CHECK(fn_image_read(tmp("w.tif"), NULL, &img, &e) == 0 && same(img.pages[0].t, t));
    fn_image_free(&img);
    CHECK(fn_image_read(tmp("nonexistent.png"), NULL, &img, &e) == -1 && strstr(e.msg, "nonexistent.png: No such file"));
    fn_tensor_free(t);
}

/* ---- files made with the libraries themselves ----------------------------------------------------- */

/* a PNG of w x h with the given type and depth; rows hold packed samples */
static void write_png(const char *path, int w, int h, int type, int depth, int interlace, png_colorp pal, int npal,
                      const png_byte *trns, int ntrns, unsigned char *rows) {
    FILE *f = fopen(path, "wb");
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(p);
    png_init_io(p, f);
    png_set_IHDR(p, info, w, h, depth, type, interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (pal) png_set_PLTE(p, info, pal, npal);
    if (trns) png_set_tRNS(p, info, trns, ntrns, NULL);
    png_write_info(p, info);
    size_t stride = png_get_rowbytes(p, info);
    png_bytep *rp = malloc(h * sizeof *rp);
    for (int y = 0; y < h; y++) rp[y] = rows + y * stride;
    png_write_image(p, rp);
    png_write_end(p, NULL);
    png_destroy_write_struct(&p, &info);
    fclose(f);
    free(rp);
}

static void test_png_palette(void) {
    png_color pal[3] = {{10, 20, 30}, {200, 100, 50}, {0, 255, 0}};
    png_byte trns[1] = {0}; /* index 0 transparent: alpha must still be dropped */
    unsigned char rows[4 * 2] = {0, 1, 2, 0, 2, 2, 1, 0};
    write_png(tmp("pal.png"), 4, 2, PNG_COLOR_TYPE_PALETTE, 8, PNG_INTERLACE_NONE, pal, 3, trns, 1, rows);
    fn_image img;
    fn_err e;
    CHECKF(fn_image_read(tmp("pal.png"), NULL, &img, &e) == 0, "%s", e.msg);
    fn_tensor *t = img.pages[0].t;
    CHECK(t->dtype == FN_U8 && t->c == 3 && t->h == 2 && t->w == 4);
    const uint8_t *d = t->data;
    for (int i = 0; i < 8; i++) {
        CHECK(d[i] == pal[rows[i]].red);
        CHECK(d[8 + i] == pal[rows[i]].green);
        CHECK(d[16 + i] == pal[rows[i]].blue);
    }
    fn_image_free(&img);
}

static void test_png_rgba_gray_alpha_lowbit(void) {
    unsigned char rgba[2 * 4] = {1, 2, 3, 99, 4, 5, 6, 0};
    write_png(tmp("rgba.png"), 2, 1, PNG_COLOR_TYPE_RGBA, 8, PNG_INTERLACE_NONE, NULL, 0, NULL, 0, rgba);
    fn_image img;
    fn_err e;
    CHECKF(fn_image_read(tmp("rgba.png"), NULL, &img, &e) == 0, "%s", e.msg);
    const uint8_t *d = img.pages[0].t->data;
    CHECK(img.pages[0].t->c == 3 && d[0] == 1 && d[1] == 4 && d[2] == 2 && d[3] == 5 && d[4] == 3 && d[5] == 6);
    fn_image_free(&img);

    unsigned char ga[3 * 2 * 2] = {0, 0, 0x12, 0x34, 0xff, 0xff, 0, 0, 0x80, 0x01, 0xff, 0xff}; /* 16-bit GA */
    write_png(tmp("ga16.png"), 3, 1, PNG_COLOR_TYPE_GRAY_ALPHA, 16, PNG_INTERLACE_NONE, NULL, 0, NULL, 0, ga);
    CHECKF(fn_image_read(tmp("ga16.png"), NULL, &img, &e) == 0, "%s", e.msg);
    const uint16_t *g = img.pages[0].t->data;
    CHECK(img.pages[0].t->c == 1 && img.pages[0].t->dtype == FN_U16 && g[0] == 0 && g[1] == 0xffff && g[2] == 0x8001);
    fn_image_free(&img);

    unsigned char bits[1] = {0xa0}; /* 1-bit: 1 0 1 0 */
    write_png(tmp("bits.png"), 4, 1, PNG_COLOR_TYPE_GRAY, 1, PNG_INTERLACE_NONE, NULL, 0, NULL, 0, bits);
    CHECKF(fn_image_read(tmp("bits.png"), NULL, &img, &e) == 0, "%s", e.msg);
    d = img.pages[0].t->data;
    CHECK(img.pages[0].t->dtype == FN_U8 && d[0] == 255 && d[1] == 0 && d[2] == 255 && d[3] == 0);
    fn_image_free(&img);

    unsigned char nib[2] = {0x0f, 0x80}; /* 4-bit: 0 15 8 0 -> x17 */
    write_png(tmp("nib.png"), 4, 1, PNG_COLOR_TYPE_GRAY, 4, PNG_INTERLACE_NONE, NULL, 0, NULL, 0, nib);
    CHECKF(fn_image_read(tmp("nib.png"), NULL, &img, &e) == 0, "%s", e.msg);
    d = img.pages[0].t->data;
    CHECK(d[0] == 0 && d[1] == 255 && d[2] == 136 && d[3] == 0);
    fn_image_free(&img);
}

static void test_png_interlaced(void) {
    int w = 13, h = 11;
    unsigned char *rows = malloc(w * h * 3);
    for (int i = 0; i < w * h * 3; i++) rows[i] = (unsigned char)(i * 5);
    write_png(tmp("adam7.png"), w, h, PNG_COLOR_TYPE_RGB, 8, PNG_INTERLACE_ADAM7, NULL, 0, NULL, 0, rows);
    fn_image img;
    fn_err e;
    CHECKF(fn_image_read(tmp("adam7.png"), NULL, &img, &e) == 0, "%s", e.msg);
    const uint8_t *d = img.pages[0].t->data;
    int ok = 1;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < w * h; i++) ok &= d[c * w * h + i] == rows[i * 3 + c];
    CHECK(ok);
    fn_image_free(&img);
    free(rows);
}

static void write_tiff(const char *path, int w, int h, int spp, int bps, int fmt, int photo, int planar, int tile,
                       int compression, const void *samples) {
    TIFF *t = TIFFOpen(path, "w");
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, spp);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bps);
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, fmt);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, photo);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, planar);
    TIFFSetField(t, TIFFTAG_COMPRESSION, compression);
    int bytes = bps / 8;
    if (tile) {
        TIFFSetField(t, TIFFTAG_TILEWIDTH, 16);
        TIFFSetField(t, TIFFTAG_TILELENGTH, 16);
        unsigned char *tb = calloc(16 * 16 * spp, bytes);
        int planes = planar == PLANARCONFIG_SEPARATE ? spp : 1, per = planes > 1 ? 1 : spp;
        for (int p = 0; p < planes; p++)
            for (int y = 0; y < h; y += 16)
                for (int x = 0; x < w; x += 16) {
                    for (int r = 0; r < 16; r++)
                        for (int c = 0; c < 16 * per; c++) {
                            int yy = y + r, xs = x * per + c;
                            if (yy < h && xs < w * per)
                                memcpy(tb + (r * 16 * per + c) * bytes,
                                       (const char *)samples + ((size_t)p * h * w + (size_t)yy * w * per + xs) * bytes, bytes);
                        }
                    TIFFWriteTile(t, tb, x, y, 0, p);
                }
        free(tb);
    } else {
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 3);
        int planes = planar == PLANARCONFIG_SEPARATE ? spp : 1, per = planes > 1 ? 1 : spp;
        for (int p = 0; p < planes; p++)
            for (int y = 0; y < h; y++)
                TIFFWriteScanline(t, (char *)samples + ((size_t)p * h * w + (size_t)y * w * per) * bytes, y, p);
    }
    TIFFClose(t);
}

static void test_tiff_tiled_planar_signed(void) {
    int w = 37, h = 21;
    uint16_t *s = malloc(sizeof *s * w * h * 3);
    for (int i = 0; i < w * h * 3; i++) s[i] = (uint16_t)(i * 31);
    /* separate planes, tiled, LZW: s is plane after plane */
    write_tiff(tmp("tp.tif"), w, h, 3, 16, SAMPLEFORMAT_UINT, PHOTOMETRIC_RGB, PLANARCONFIG_SEPARATE, 1, COMPRESSION_LZW, s);
    fn_image img;
    fn_err e;
    CHECKF(fn_image_read(tmp("tp.tif"), NULL, &img, &e) == 0, "%s", e.msg);
    CHECK(img.pages[0].t->dtype == FN_U16 && img.pages[0].t->c == 3 && !memcmp(img.pages[0].t->data, s, w * h * 3 * 2));
    fn_image_free(&img);
    /* contiguous, strips, PackBits, RGB */
    write_tiff(tmp("cs.tif"), w, h, 3, 16, SAMPLEFORMAT_UINT, PHOTOMETRIC_RGB, PLANARCONFIG_CONTIG, 0, COMPRESSION_PACKBITS, s);
    CHECKF(fn_image_read(tmp("cs.tif"), NULL, &img, &e) == 0, "%s", e.msg);
    const uint16_t *d = img.pages[0].t->data;
    int ok = 1;
    for (int c = 0; c < 3; c++)
        for (int i = 0; i < w * h; i++) ok &= d[c * w * h + i] == s[i * 3 + c];
    CHECK(ok);
    fn_image_free(&img);
    /* signed 16-bit gray -> f32 */
    int16_t *si = (int16_t *)s;
    for (int i = 0; i < w * h; i++) si[i] = (int16_t)(i - 300);
    write_tiff(tmp("i16.tif"), w, h, 1, 16, SAMPLEFORMAT_INT, PHOTOMETRIC_MINISBLACK, PLANARCONFIG_CONTIG, 0, COMPRESSION_NONE, si);
    CHECKF(fn_image_read(tmp("i16.tif"), NULL, &img, &e) == 0, "%s", e.msg);
    CHECK(img.pages[0].t->dtype == FN_F32 && ((float *)img.pages[0].t->data)[0] == -300 &&
          ((float *)img.pages[0].t->data)[w * h - 1] == w * h - 301);
    fn_image_free(&img);
    /* 1-bit min-is-white: through TIFFReadRGBAImage, gray u8 */
    unsigned char bits[5 * 2] = {0};
    bits[0] = 0x80;
    write_tiff(tmp("b1.tif"), 8, 2, 1, 1, SAMPLEFORMAT_UINT, PHOTOMETRIC_MINISWHITE, PLANARCONFIG_CONTIG, 0, COMPRESSION_NONE, bits);
    CHECKF(fn_image_read(tmp("b1.tif"), NULL, &img, &e) == 0, "%s", e.msg);
    const uint8_t *b = img.pages[0].t->data;
    CHECK(img.pages[0].t->c == 1 && b[0] == 0 && b[1] == 255 && b[15] == 255);
    fn_image_free(&img);
    free(s);
}

static void write_jpeg(const char *path, const fn_tensor *t, J_COLOR_SPACE cs, int comps) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    FILE *f = fopen(path, "wb");
    jpeg_stdio_dest(&c, f);
    c.image_width = t->w;
    c.image_height = t->h;
    c.input_components = comps;
    c.in_color_space = cs;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 95, TRUE);
    jpeg_start_compress(&c, TRUE);
    unsigned char *row = malloc(t->w * comps);
    size_t plane = (size_t)t->h * t->w;
    while (c.next_scanline < c.image_height) {
        int y = c.next_scanline;
        for (int x = 0; x < t->w; x++)
            for (int k = 0; k < comps; k++) row[x * comps + k] = ((uint8_t *)t->data)[(k % t->c) * plane + y * t->w + x];
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    fclose(f);
    free(row);
}

static fn_tensor *smooth(int c, int h, int w) {
    fn_tensor *t = fn_tensor_new(FN_U8, c, h, w, NULL);
    for (int k = 0; k < c; k++)
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) ((uint8_t *)t->data)[(k * h + y) * w + x] = (uint8_t)(40 + 2 * x + y + 30 * k);
    return t;
}

static double mad(const fn_tensor *a, const fn_tensor *b) {
    double s = 0;
    for (size_t i = 0; i < fn_tensor_numel(a); i++) s += fabs(fn_tensor_get(a, i) - fn_tensor_get(b, i));
    return s / fn_tensor_numel(a);
}

static void test_jpeg_gray_rgb_hint_cmyk(void) {
    fn_tensor *g = smooth(1, 48, 64), *c = smooth(3, 48, 64);
    write_jpeg(tmp("g.jpg"), g, JCS_GRAYSCALE, 1);
    write_jpeg(tmp("c.jpg"), c, JCS_RGB, 3);
    fn_image img;
    fn_err e;
    CHECKF(fn_image_read(tmp("g.jpg"), NULL, &img, &e) == 0, "%s", e.msg);
    CHECK(img.fmt == FN_FMT_JPEG && img.pages[0].t->c == 1 && mad(img.pages[0].t, g) < 1.5);
    fn_image_free(&img);
    CHECKF(fn_image_read(tmp("c.jpg"), NULL, &img, &e) == 0, "%s", e.msg);
    CHECK(img.pages[0].t->c == 3 && mad(img.pages[0].t, c) < 2.5);
    fn_image_free(&img);
    /* --gray through libjpeg's own conversion; --rgb of a gray JPEG */
    fn_decode_opts o = {1, 0, 0};
    CHECK(fn_image_read(tmp("c.jpg"), &o, &img, &e) == 0 && img.pages[0].t->c == 1);
    fn_image_free(&img);
    o.channels = 3;
    CHECK(fn_image_read(tmp("g.jpg"), &o, &img, &e) == 0 && img.pages[0].t->c == 3);
    fn_image_free(&img);
    /* size hint: 48x64 with hint 12x16 -> 1/4; hint 13x16 -> 1/2; orig kept */
    fn_decode_opts h = {0, 12, 16};
    CHECK(fn_image_read(tmp("c.jpg"), &h, &img, &e) == 0);
    CHECK(img.pages[0].t->h == 12 && img.pages[0].t->w == 16 && img.pages[0].denom == 4);
    CHECK(img.pages[0].orig_h == 48 && img.pages[0].orig_w == 64);
    fn_image_free(&img);
    h.hint_h = 13;
    CHECK(fn_image_read(tmp("c.jpg"), &h, &img, &e) == 0 && img.pages[0].t->h == 24 && img.pages[0].denom == 2);
    fn_image_free(&img);
    write_jpeg(tmp("k.jpg"), c, JCS_CMYK, 4);
    CHECK(fn_image_read(tmp("k.jpg"), NULL, &img, &e) == -1 && strstr(e.msg, "k.jpg: CMYK"));
    fn_tensor_free(g);
    fn_tensor_free(c);
}

static void write_gif(const char *path, int gray) {
    int err;
    GifFileType *g = EGifOpenFileName(path, false, &err);
    GifColorType col[4] = {{0, 0, 0}, {255, 255, 255}, {128, 128, 128}, {gray ? 7 : 200, 7, 7}};
    ColorMapObject *cm = GifMakeMapObject(4, col);
    EGifPutScreenDesc(g, 5, 3, 2, 0, cm);
    EGifPutImageDesc(g, 0, 0, 5, 3, false, NULL);
    GifPixelType line[5] = {0, 1, 2, 3, 1};
    for (int y = 0; y < 3; y++) EGifPutLine(g, line, 5);
    EGifCloseFile(g, &err);
    GifFreeMapObject(cm);
}

static void test_gif(void) {
    write_gif(tmp("g.gif"), 1);
    write_gif(tmp("c.gif"), 0);
    fn_image img;
    fn_err e;
    CHECKF(fn_image_read(tmp("g.gif"), NULL, &img, &e) == 0, "%s", e.msg);
    const uint8_t *d = img.pages[0].t->data;
    CHECK(img.fmt == FN_FMT_GIF && img.pages[0].t->c == 1 && d[0] == 0 && d[1] == 255 && d[2] == 128 && d[3] == 7);
    fn_image_free(&img);
    CHECKF(fn_image_read(tmp("c.gif"), NULL, &img, &e) == 0, "%s", e.msg);
    d = img.pages[0].t->data;
    CHECK(img.pages[0].t->c == 3 && d[3] == 200 && d[15 + 3] == 7);
    fn_image_free(&img);
}

/* ---- corrupt input: errors, never crashes -------------------------------------------------------- */

/* every cut before len - slack must fail */
static void check_truncations(const char *path, const char *kind, size_t slack) {
    unsigned char *buf;
    size_t len;
    fn_err e;
    CHECK(fn_file_slurp(path, &buf, &len, &e) == 0);
    int errors = 0, tries = 0;
    for (size_t cut = 0; cut + slack < len; cut += cut < 64 ? 1 : len / 50 + 1) {
        fn_image img;
        tries++;
        if (fn_image_decode(buf, cut, "cut", NULL, &img, &e)) {
            errors++;
            CHECKF(!strncmp(e.msg, "cut: ", 5), "%s", e.msg);
        } else {
            fprintf(stderr, "  %s: cut at %zu of %zu decoded\n", kind, cut, len);
            fn_image_free(&img);
        }
    }
    CHECKF(errors == tries, "%s: %d of %d truncations decoded", kind, tries - errors, tries);
    /* flipped bytes after the header: error or image, not a crash */
    for (int k = 0; k < 50; k++) {
        unsigned char *b = malloc(len);
        memcpy(b, buf, len);
        for (int j = 0; j < 8; j++) b[16 + (size_t)(k * 7919 + j * 104729) % (len - 16)] ^= (unsigned char)(k * 37 + j + 1);
        fn_image img;
        if (!fn_image_decode(b, len, "flip", NULL, &img, &e)) fn_image_free(&img);
        free(b);
    }
    free(buf);
}

static void test_corrupt(void) {
    check_truncations(tmp("adam7.png"), "PNG", 0);
    check_truncations(tmp("c.jpg"), "JPEG", 0);
    check_truncations(tmp("cs.tif"), "TIFF", 0);
    check_truncations(tmp("g.gif"), "GIF", 1); /* the trailer byte after the frame is not needed */
    fn_image img;
    fn_err e;
    CHECK(fn_image_decode("hello world", 11, "x.png", NULL, &img, &e) == -1);
    CHECK(!strcmp(e.msg, "x.png: not a PNG/JPEG/TIFF/GIF file"));
    CHECK(fn_image_decode("", 0, "empty", NULL, &img, &e) == -1);
    CHECK(fn_image_decode("\x89PNG\r\n\x1a\nxxxxxxxxxxxxxxxxxx", 26, "p", NULL, &img, &e) == -1 && strstr(e.msg, "p: corrupt PNG: "));
}

/* ---- conversions, masks, display ----------------------------------------------------------------- */

static void test_channels(void) {
    fn_tensor *c = fn_tensor_new(FN_U8, 3, 1, 2, NULL);
    uint8_t *d = c->data;
    d[0] = 255, d[2] = 0, d[4] = 0; /* pixel 0 red */
    d[1] = 10, d[3] = 10, d[5] = 10;
    fn_tensor *g = fn_tensor_channels(c, 1, NULL), *back = fn_tensor_channels(g, 3, NULL);
    CHECK(((uint8_t *)g->data)[0] == 76 && ((uint8_t *)g->data)[1] == 10);
    CHECK(back->c == 3 && ((uint8_t *)back->data)[2] == 76 && ((uint8_t *)back->data)[5] == 10);
    fn_tensor_free(c);
    fn_tensor_free(g);
    fn_tensor_free(back);
}

static void test_maskify(void) {
    fn_tensor *m = fn_tensor_new(FN_U8, 1, 1, 6, NULL);
    uint8_t v[6] = {0, 150, 200, 250, 127, 128};
    memcpy(m->data, v, 6);
    fn_mask_rule any = {0}, lungs = {.values = {150, 200}, .nvalues = 2}, thr = {.has_threshold = 1, .threshold = 128};
    fn_tensor *a = fn_maskify(m, &any, NULL), *b = fn_maskify(m, &lungs, NULL), *c = fn_maskify(m, &thr, NULL);
    CHECK(!memcmp(a->data, "\0\1\1\1\1\1", 6));
    CHECK(!memcmp(b->data, "\0\1\1\0\0\0", 6));
    CHECK(!memcmp(c->data, "\0\1\1\1\0\1", 6));
    fn_tensor_free(a), fn_tensor_free(b), fn_tensor_free(c), fn_tensor_free(m);
    /* RGB: the largest channel counts */
    fn_tensor *rgb = fn_tensor_new(FN_U16, 3, 1, 2, NULL);
    ((uint16_t *)rgb->data)[3] = 300; /* pixel 1, green */
    fn_tensor *r = fn_maskify(rgb, &thr, NULL);
    CHECK(r->c == 1 && !memcmp(r->data, "\0\1", 2));
    fn_tensor_free(r), fn_tensor_free(rgb);
    /* reduce by 2 with an odd edge: 3x3 -> 2x2 */
    fn_tensor *k = fn_tensor_new(FN_U8, 1, 3, 3, NULL);
    uint8_t kv[9] = {1, 1, 0, 1, 0, 0, 0, 0, 1};
    memcpy(k->data, kv, 9);
    fn_tensor *s = fn_mask_reduce(k, 2, NULL);
    CHECK(s->h == 2 && s->w == 2 && !memcmp(s->data, "\1\0\0\1", 4));
    fn_tensor_free(s), fn_tensor_free(k);
}

static void test_display_overlay(void) {
    fn_tensor *f = fn_tensor_new(FN_F32, 1, 2, 2, NULL);
    float fv[4] = {-1, 0, 1, NAN};
    memcpy(f->data, fv, sizeof fv);
    fn_tensor *d = fn_display_u8(f, NULL), *p = fn_prob_u8(f, NULL);
    CHECK(!memcmp(d->data, "\0\x80\xff\0", 4));
    CHECK(!memcmp(p->data, "\0\0\xff\0", 4));
    fn_tensor *img = smooth(1, 20, 30), *mask = fn_tensor_new(FN_U8, 1, 20, 30, NULL), *pred = fn_tensor_new(FN_F32, 1, 20, 30, NULL);
    for (int i = 0; i < 100; i++) ((uint8_t *)mask->data)[200 + i] = 1, ((float *)pred->data)[220 + i] = 0.9f;
    fn_err e;
    fn_tensor *o = fn_overlay(img, mask, pred, 0.5, &e);
    CHECK(o && o->c == 3 && o->h == 20 && o->w == 3 * 30 + 2 * 4);
    fn_tensor_free(o);
    o = fn_overlay(img, NULL, pred, 0.5, &e);
    CHECK(o && o->w == 64);
    fn_tensor_free(o);
    CHECK(fn_overlay(img, f, NULL, 0.5, &e) == NULL && strstr(e.msg, "mask is 2x2 but image is 20x30"));
    fn_tensor_free(f), fn_tensor_free(d), fn_tensor_free(p), fn_tensor_free(img), fn_tensor_free(mask), fn_tensor_free(pred);
}

int main(void) {
    if (!mkdtemp(tmpdir)) return 1;
    RUN(test_tiff_u16_f32_roundtrip);
    RUN(test_tiff_multipage);
    RUN(test_png_roundtrip);
    RUN(test_write_file_and_read);
    RUN(test_png_palette);
    RUN(test_png_rgba_gray_alpha_lowbit);
    RUN(test_png_interlaced);
    RUN(test_tiff_tiled_planar_signed);
    RUN(test_jpeg_gray_rgb_hint_cmyk);
    RUN(test_gif);
    RUN(test_corrupt);
    RUN(test_channels);
    RUN(test_maskify);
    RUN(test_display_overlay);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", tmpdir);
    return check_report();
}
