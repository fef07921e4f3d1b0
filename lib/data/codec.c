/* codec.c: format detection, file I/O, channel conversion and the dispatch to the per-format decoders */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include "data/cli.h"
#include "data/codec.h"
#include "data/codec_gif.h"
#include "data/codec_jpeg.h"
#include "data/codec_png.h"
#include "data/codec_tiff.h"

fn_format fn_format_sniff(const void *buf, size_t len) {
    const unsigned char *b = buf;
    if (len >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) return FN_FMT_PNG;
    if (len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return FN_FMT_JPEG;
    if (len >= 4 && (!memcmp(b, "II*\0", 4) || !memcmp(b, "MM\0*", 4) || !memcmp(b, "II+\0", 4) ||
                     !memcmp(b, "MM\0+", 4)))
        return FN_FMT_TIFF;
    if (len >= 6 && (!memcmp(b, "GIF87a", 6) || !memcmp(b, "GIF89a", 6))) return FN_FMT_GIF;
    return FN_FMT_NONE;
}

fn_format fn_format_of_name(const char *path) {
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return FN_FMT_NONE;
    dot++;
    if (!strcasecmp(dot, "png")) return FN_FMT_PNG;
    if (!strcasecmp(dot, "jpg") || !strcasecmp(dot, "jpeg")) return FN_FMT_JPEG;
    if (!strcasecmp(dot, "tif") || !strcasecmp(dot, "tiff")) return FN_FMT_TIFF;
    if (!strcasecmp(dot, "gif")) return FN_FMT_GIF;
    return FN_FMT_NONE;
}

const char *fn_format_name(fn_format f) {
    static const char *names[] = {"?", "PNG", "JPEG", "TIFF", "GIF"};
    return f >= FN_FMT_NONE && f <= FN_FMT_GIF ? names[f] : "?";
}

int fn_file_slurp(const char *path, unsigned char **buf, size_t *len, fn_err *e) {
    *buf = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return fn_seterr(e, "%s: %s", path, strerror(errno));
    struct stat st;
    size_t cap = 0, n = 0;
    if (!fstat(fd, &st) && S_ISREG(st.st_mode)) cap = (size_t)st.st_size + 1;
    if (cap < 65536) cap = 65536;
    unsigned char *b = malloc(cap);
    for (;;) {
        if (!b) {
            close(fd);
            return fn_seterr(e, "%s: out of memory", path);
        }
        ssize_t r = read(fd, b + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int err = errno;
            free(b);
            close(fd);
            return fn_seterr(e, "%s: %s", path, strerror(err));
        }
        if (r == 0) break;
        n += (size_t)r;
        if (n == cap) {
            unsigned char *nb = realloc(b, cap *= 2);
            if (!nb) free(b);
            b = nb;
        }
    }
    close(fd);
    *buf = b;
    *len = n;
    return 0;
}

fn_tensor *fn_tensor_channels(const fn_tensor *t, int c, fn_err *e) {
    if ((t->c != 1 && t->c != 3) || (c != 1 && c != 3)) {
        fn_seterr(e, "cannot convert %d channels to %d", t->c, c);
        return NULL;
    }
    if (t->c == c) return fn_tensor_clone(t, e);
    fn_tensor *r = fn_tensor_new(t->dtype, c, t->h, t->w, e);
    if (!r) return NULL;
    size_t n = (size_t)t->h * t->w, es = fn_dtype_size(t->dtype);
    if (c == 3) {
        for (int k = 0; k < 3; k++) memcpy((char *)r->data + k * n * es, t->data, n * es);
        return r;
    }
    if (t->dtype == FN_U8) {
        const uint8_t *s = t->data;
        uint8_t *d = r->data;
        for (size_t i = 0; i < n; i++) d[i] = (uint8_t)((299u * s[i] + 587u * s[n + i] + 114u * s[2 * n + i] + 500) / 1000);
    } else if (t->dtype == FN_U16) {
        const uint16_t *s = t->data;
        uint16_t *d = r->data;
        for (size_t i = 0; i < n; i++)
            d[i] = (uint16_t)((299ull * s[i] + 587ull * s[n + i] + 114ull * s[2 * n + i] + 500) / 1000);
    } else {
        const float *s = t->data;
        float *d = r->data;
        for (size_t i = 0; i < n; i++) d[i] = 0.299f * s[i] + 0.587f * s[n + i] + 0.114f * s[2 * n + i];
    }
    return r;
}

int fn_image_decode(const void *buf, size_t len, const char *name, const fn_decode_opts *o, fn_image *img,
                    fn_err *e) {
    static const fn_decode_opts none = {0, 0, 0};
    if (!o) o = &none;
    memset(img, 0, sizeof *img);
    img->fmt = fn_format_sniff(buf, len);
    int rc;
    switch (img->fmt) {
    case FN_FMT_PNG: rc = fn_png_decode(buf, len, name, o, img, e); break;
    case FN_FMT_JPEG: rc = fn_jpeg_decode(buf, len, name, o, img, e); break;
    case FN_FMT_TIFF: rc = fn_tiff_decode(buf, len, name, o, img, e); break;
    case FN_FMT_GIF: rc = fn_gif_decode(buf, len, name, o, img, e); break;
    default: return fn_seterr(e, "%s: not a PNG/JPEG/TIFF/GIF file", name);
    }
    if (!rc && img->n == 0) rc = fn_seterr(e, "%s: no image in the file", name);
    for (int i = 0; !rc && o->channels && i < img->n; i++) {
        fn_tensor *t = img->pages[i].t;
        if (t->c == o->channels) continue;
        fn_tensor *r = fn_tensor_channels(t, o->channels, e);
        if (!r) {
            char why[sizeof e->msg];
            snprintf(why, sizeof why, "%s", e ? e->msg : "");
            rc = fn_seterr(e, "%s: %s", name, why);
            break;
        }
        fn_tensor_free(t);
        img->pages[i].t = r;
    }
    if (rc) fn_image_free(img);
    return rc;
}

int fn_image_read(const char *path, const fn_decode_opts *o, fn_image *img, fn_err *e) {
    unsigned char *buf;
    size_t len;
    memset(img, 0, sizeof *img);
    if (fn_file_slurp(path, &buf, &len, e)) return -1;
    int rc = fn_image_decode(buf, len, path, o, img, e);
    free(buf);
    return rc;
}

int fn_image_write_file(const char *path, fn_format fmt, const fn_tensor *t, fn_err *e) {
    unsigned char *buf = NULL;
    size_t len = 0;
    int rc = fmt == FN_FMT_PNG    ? fn_png_encode(t, path, &buf, &len, e)
             : fmt == FN_FMT_TIFF ? fn_tiff_encode(&t, 1, path, &buf, &len, e)
                                  : fn_seterr(e, "%s: cannot write %s files", path, fn_format_name(fmt));
    if (rc) return -1;
    fn_atomic a;
    if (fn_atomic_open(&a, path, e)) {
        free(buf);
        return -1;
    }
    if (fwrite(buf, 1, len, a.f) != len) {
        int err = errno;
        fn_atomic_abort(&a);
        free(buf);
        return fn_seterr(e, "%s: %s", path, strerror(err));
    }
    free(buf);
    return fn_atomic_commit(&a, e);
}
