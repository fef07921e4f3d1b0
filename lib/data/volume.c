/* volume.c: see volume.h. NIfTI-1 and NIfTI-2 through nifticlib (nifti2_io.h), gzip through its znzlib. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <fcntl.h>
#include <nifti2_io.h>
#include "data/dicom.h"
#include "data/image.h"
#include "data/volume.h"

/* a gzip stream inflates at most about 1032:1 (deflate's limit); anything claiming more is a lie */
#define GZ_MAX_RATIO 1100.0

static int ends_with(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcasecmp(s + a - b, suf);
}

int fn_is_nifti_name(const char *path) { return ends_with(path, ".nii") || ends_with(path, ".nii.gz"); }


char *fn_volume_stem(const char *path) {
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/') len--; /* a series folder given as DIR/ */
    const char *b = path + len;
    while (b > path && b[-1] != '/') b--;
    size_t n = (size_t)(path + len - b);
    static const char *const exts[] = {".nii.gz", ".nii", ".dcm"};
    for (int i = 0; i < 3; i++)
        if (n > strlen(exts[i]) && !strncasecmp(b + n - strlen(exts[i]), exts[i], strlen(exts[i]))) {
            n -= strlen(exts[i]);
            break;
        }
    return strndup(b, n);
}

void fn_volume_quiet(void) {
    nifti_set_debug_level(0);
    fn_dcm_quiet();
}

static const char hexd[] = "0123456789abcdef";

static char *to_hex(const void *p, size_t n) {
    const unsigned char *b = p;
    char *s = malloc(2 * n + 1);
    if (!s) return NULL;
    for (size_t i = 0; i < n; i++) s[2 * i] = hexd[b[i] >> 4], s[2 * i + 1] = hexd[b[i] & 15];
    s[2 * n] = 0;
    return s;
}

static int unhex(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* the header of nim, canonical (NIfTI-1 or -2 single file), in hex */
static char *header_hex(nifti_image *nim, int two) {
    int t = nim->nifti_type;
    char *s = NULL;
    nim->nifti_type = NIFTI_FTYPE_NIFTI1_1; /* nifticlib 3.0.1 says 1 for a single-file NIfTI-2 too */
    if (two) {
        nifti_2_header h;
        if (!nifti_convert_nim2n2hdr(nim, &h)) s = to_hex(&h, sizeof h);
    } else {
        nifti_1_header h;
        if (!nifti_convert_nim2n1hdr(nim, &h)) s = to_hex(&h, sizeof h);
    }
    nim->nifti_type = t;
    return s;
}

static int supported_type(int dt) {
    switch (dt) {
    case DT_UINT8: case DT_INT8: case DT_UINT16: case DT_INT16: case DT_UINT32: case DT_INT32:
    case DT_UINT64: case DT_INT64: case DT_FLOAT32: case DT_FLOAT64: return 1;
    default: return 0;
    }
}

static void scaling(const nifti_image *nim, double *slope, double *inter) {
    *slope = nim->scl_slope, *inter = nim->scl_inter;
    if (*slope == 0 || !isfinite(*slope) || !isfinite(*inter)) *slope = 1, *inter = 0; /* NIfTI: 0 means none */
}

/* dims of nim checked: 1..FN_MAX_HW along i, j, k, 1 beyond */
static int check_dims(const nifti_image *nim, const char *path, int64_t dim[3], fn_err *e) {
    if (nim->ndim < 1 || nim->ndim > 7) return fn_seterr(e, "%s: bad number of dimensions %lld", path, (long long)nim->ndim);
    for (int d = 1; d <= 7; d++) {
        int64_t v = d <= nim->ndim ? nim->dim[d] : 1;
        if (v < 1 || v > FN_MAX_HW)
            return fn_seterr(e, "%s: dimension %d is %lld (1..%d)", path, d, (long long)v, FN_MAX_HW);
        if (d > 3 && v > 1)
            return fn_seterr(e, "%s: a %lld-D volume (dimension %d is %lld): fn reads 3D volumes", path,
                             (long long)nim->ndim, d, (long long)v);
        if (d <= 3) dim[d - 1] = v;
    }
    return 0;
}

/* The header's fields that nifticlib trusts checked first: nifti_image_read of nifticlib 3.0.1 reads out of
 * bounds on a NIfTI-2 dim[0] outside 1..7 (found by tests/fuzz/fuzz_nifti.c) and prints on a datatype it
 * does not know. The header is read through znzlib and byte-swapped by nifticlib. */
static int precheck(const char *path, fn_err *e) {
    union {
        nifti_1_header h1;
        nifti_2_header h2;
        unsigned char b[sizeof(nifti_2_header)];
    } u;
    memset(&u, 0, sizeof u);
    znzFile fp = znzopen(path, "rb", nifti_is_gzfile(path));
    if (znz_isnull(fp)) return fn_seterr(e, "%s: %s", path, strerror(errno));
    size_t n = znzread(&u, 1, sizeof u, fp);
    znzclose(fp);
    if (n > sizeof u) n = 0;
    int ver = n >= sizeof u.h1 ? nifti_header_version((const char *)u.b, n) : -1;
    if ((ver != 1 && ver != 2) || (ver == 2 && n < sizeof u.h2))
        return fn_seterr(e, "%s: not a NIfTI-1/NIfTI-2 file, or its header is truncated or corrupt", path);
    if (ver == 1 && u.h1.sizeof_hdr != (int)sizeof u.h1) swap_nifti_header(&u.h1, 1);
    if (ver == 2 && u.h2.sizeof_hdr != (int)sizeof u.h2) swap_nifti_header(&u.h2, 2);
    int64_t nd = ver == 1 ? u.h1.dim[0] : u.h2.dim[0];
    int dt = ver == 1 ? u.h1.datatype : u.h2.datatype;
    if (nd < 1 || nd > 7) return fn_seterr(e, "%s: bad number of dimensions %lld", path, (long long)nd);
    for (int d = 1; d <= nd; d++) {
        int64_t v = ver == 1 ? u.h1.dim[d] : u.h2.dim[d];
        if (v < 1 || v > FN_MAX_HW) return fn_seterr(e, "%s: dimension %d is %lld (1..%d)", path, d, (long long)v, FN_MAX_HW);
    }
    if (!supported_type(dt)) return fn_seterr(e, "%s: voxel type %d is not supported (integers and floats are)", path, dt);
    return 0;
}

/* the header of path read and checked against the file (dims, type, the bytes it claims); NULL with e set */
static nifti_image *open_checked(const char *path, int64_t dim[3], fn_err *e) {
    struct stat st;
    if (stat(path, &st)) {
        fn_seterr(e, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (S_ISDIR(st.st_mode)) {
        fn_seterr(e, "%s: a folder, not a NIfTI file", path);
        return NULL;
    }
    if (precheck(path, e)) return NULL;
    nifti_image *nim = nifti_image_read(path, 0);
    if (!nim) {
        fn_seterr(e, "%s: not a NIfTI-1/NIfTI-2 file, or its header is truncated or corrupt", path);
        return NULL;
    }
    int rc = check_dims(nim, path, dim, e);
    if (!rc && !supported_type(nim->datatype))
        rc = fn_seterr(e, "%s: voxel type %s is not supported (integers and floats are)", path,
                       nifti_datatype_string(nim->datatype));
    if (!rc) { /* the data the header claims against the data the file has, before allocating anything */
        double bytes = (double)dim[0] * dim[1] * dim[2] * nim->nbyper;
        int64_t fsz = nim->iname ? nifti_get_filesize(nim->iname) : -1;
        int gz = nim->iname && nifti_is_gzfile(nim->iname);
        if (fsz < 0) rc = fn_seterr(e, "%s: cannot read its image file", path);
        else if (!gz && (double)fsz < (double)nim->iname_offset + bytes)
            rc = fn_seterr(e, "%s: truncated: the header says %.0f bytes of voxels from offset %lld, the file has %lld bytes",
                           path, bytes, (long long)nim->iname_offset, (long long)fsz);
        else if (gz && fn_beyond_data(bytes, (double)fsz, GZ_MAX_RATIO))
            rc = fn_seterr(e, "%s: the header's dimensions %lldx%lldx%lld need more voxel data than %lld compressed bytes can hold",
                           path, (long long)dim[0], (long long)dim[1], (long long)dim[2], (long long)fsz);
    }
    if (rc) {
        nifti_image_free(nim);
        return NULL;
    }
    return nim;
}

/* the voxels into nim->data through znzlib, in the CPU's byte order. Unlike nifti_image_load, a gzip
 * stream is read to its end so that its length and CRC are checked: a truncated or corrupt file fails. */
static int load_data(nifti_image *nim, const char *path, fn_err *e) {
    size_t nb = (size_t)nim->nvox * (size_t)nim->nbyper;
    void *d = malloc(nb ? nb : 1);
    if (!d) return fn_seterr(e, "%s: out of memory for %zu bytes of voxels", path, nb);
    znzFile fp = znzopen(nim->iname, "rb", nifti_is_gzfile(nim->iname));
    int rc = 0;
    if (znz_isnull(fp)) rc = fn_seterr(e, "%s: %s", nim->iname, strerror(errno));
    else {
        unsigned char extra[16];
        if (znzseek(fp, (long)nim->iname_offset, SEEK_SET) < 0 || znzread(d, 1, nb, fp) != nb)
            rc = fn_seterr(e, "%s: truncated or corrupt voxel data", path);
        else if (nifti_is_gzfile(nim->iname) && znzread(extra, 1, sizeof extra, fp) != 0)
            rc = fn_seterr(e, "%s: corrupt gzip data after the voxels (or data past the end of the volume)", path);
        znzclose(fp);
    }
    if (rc) {
        free(d);
        return -1;
    }
    if (nim->swapsize > 1 && nim->byteorder != nifti_short_order()) nifti_swap_Nbytes((int64_t)nim->nvox, nim->swapsize, d);
    nim->data = d;
    return 0;
}

/* a DICOM file or series as a nifti_image of f32 (its data NULL unless pixels): the geometry of dicom.h in
 * both sform and qform (code 1, scanner), as dcm2niix writes it */
static nifti_image *dicom_nim(const char *path, int pixels, int64_t dim[3], fn_err *e) {
    fn_dcm_volume d;
    if (fn_dcm_read(path, pixels, &d, e)) return NULL;
    const int64_t dims[8] = {3, d.dim[0], d.dim[1], d.dim[2], 1, 1, 1, 1};
    nifti_image *nim = nifti_make_new_nim(dims, DT_FLOAT32, 0);
    if (!nim) {
        fn_dcm_free(&d);
        fn_seterr(e, "%s: out of memory", path);
        return NULL;
    }
    nifti_dmat44 a;
    memset(&a, 0, sizeof a);
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++) a.m[r][c] = d.affine[r][c];
    a.m[3][3] = 1;
    nim->sto_xyz = a;
    nim->sto_ijk = nifti_dmat44_inverse(a);
    nim->sform_code = nim->qform_code = NIFTI_XFORM_SCANNER_ANAT;
    nifti_dmat44_to_quatern(a, &nim->quatern_b, &nim->quatern_c, &nim->quatern_d, &nim->qoffset_x, &nim->qoffset_y,
                            &nim->qoffset_z, &nim->dx, &nim->dy, &nim->dz, &nim->qfac);
    nim->qto_xyz = nifti_quatern_to_dmat44(nim->quatern_b, nim->quatern_c, nim->quatern_d, nim->qoffset_x, nim->qoffset_y,
                                           nim->qoffset_z, nim->dx, nim->dy, nim->dz, nim->qfac);
    nim->qto_ijk = nifti_dmat44_inverse(nim->qto_xyz);
    nim->pixdim[1] = nim->dx, nim->pixdim[2] = nim->dy, nim->pixdim[3] = nim->dz;
    nim->xyz_units = NIFTI_UNITS_MM;
    snprintf(nim->descrip, sizeof nim->descrip, "fn-read of DICOM %s", d.modality);
    nim->data = d.data; /* nifti_image_free frees it */
    for (int i = 0; i < 3; i++) dim[i] = d.dim[i];
    return nim;
}

static int is_dicom_path(const char *path) {
    return !fn_is_nifti_name(path) && (fn_is_dicom(path) || ends_with(path, ".dcm"));
}

int fn_is_volume(const char *path) { return fn_is_nifti_name(path) || is_dicom_path(path); }

int fn_volume_probe(const char *path, int64_t dim[3], fn_err *e) {
    nifti_image *nim = is_dicom_path(path) ? dicom_nim(path, 0, dim, e) : open_checked(path, dim, e);
    if (!nim) return -1;
    nifti_image_free(nim);
    return 0;
}

int fn_volume_read(const char *path, fn_volume *v, fn_err *e) {
    memset(v, 0, sizeof *v);
    int dicom = is_dicom_path(path);
    nifti_image *nim = dicom ? dicom_nim(path, 1, v->dim, e) : open_checked(path, v->dim, e);
    if (!nim) return -1;
    int rc = dicom ? 0 : load_data(nim, path, e);
    int nver = 1; /* nifticlib's nifti_type says NIfTI-1 for either: the version from the header itself */
    if (!dicom) free(nifti_read_header(path, &nver, 0));
    if (!rc && !(v->header = header_hex(nim, nver == 2))) rc = fn_seterr(e, "%s: cannot convert its header", path);
    if (rc) {
        free(v->header);
        nifti_image_free(nim);
        memset(v, 0, sizeof *v);
        return -1;
    }
    double slope, inter;
    scaling(nim, &slope, &inter);
    int scaled = slope != 1 || inter != 0;
    v->dtype = !scaled && nim->datatype == DT_UINT8 ? FN_U8 : !scaled && nim->datatype == DT_UINT16 ? FN_U16 : FN_F32;
    v->pixdim[0] = nim->dx, v->pixdim[1] = nim->dy, v->pixdim[2] = nim->dz;
    const nifti_dmat44 *a = nim->sform_code > 0 ? &nim->sto_xyz : &nim->qto_xyz; /* qto_xyz: pixdim when no qform */
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 4; c++) v->affine[r][c] = a->m[r][c];
    v->nim = nim;
    return 0;
}

void fn_volume_free(fn_volume *v) {
    if (v->nim) nifti_image_free(v->nim);
    free(v->header);
    memset(v, 0, sizeof *v);
}

int64_t fn_volume_nslices(const fn_volume *v, int axis) { return v->dim[axis]; }

void fn_volume_slice_hw(const int64_t dim[3], int axis, int *h, int *w) {
    *h = (int)(axis == 2 ? dim[1] : dim[2]);
    *w = (int)(axis == 0 ? dim[1] : dim[0]);
}

/* where slice k along axis lies in storage order: element (r, c) is at base + r * sr + c * sc */
static void layout(const int64_t dim[3], int axis, int64_t k, size_t *base, size_t *sr, size_t *sc) {
    size_t nx = (size_t)dim[0], ny = (size_t)dim[1];
    if (axis == 2) *base = nx * ny * (size_t)k, *sr = nx, *sc = 1;
    else if (axis == 1) *base = nx * (size_t)k, *sr = nx * ny, *sc = 1;
    else *base = (size_t)k, *sr = nx * ny, *sc = nx;
}

#define GATHER(T)                                                                                         \
    do {                                                                                                  \
        const T *s = (const T *)nim->data + base;                                                         \
        for (int r = 0; r < h; r++)                                                                       \
            for (int c = 0; c < w; c++) {                                                                 \
                double x = (double)s[(size_t)r * sr + (size_t)c * sc];                                    \
                o[(size_t)r * w + c] = (float)(scaled ? x * slope + inter : x);                           \
            }                                                                                             \
    } while (0)

/* f32 fast path for the common stored types without double arithmetic when not scaled */
#define GATHER_F(T)                                                                                       \
    do {                                                                                                  \
        const T *s = (const T *)nim->data + base;                                                         \
        if (scaled)                                                                                       \
            for (int r = 0; r < h; r++)                                                                   \
                for (int c = 0; c < w; c++)                                                               \
                    o[(size_t)r * w + c] = (float)((double)s[(size_t)r * sr + (size_t)c * sc] * slope + inter); \
        else                                                                                              \
            for (int r = 0; r < h; r++)                                                                   \
                for (int c = 0; c < w; c++) o[(size_t)r * w + c] = (float)s[(size_t)r * sr + (size_t)c * sc]; \
    } while (0)

fn_tensor *fn_volume_slice(const fn_volume *v, int axis, int64_t k, fn_err *e) {
    const nifti_image *nim = v->nim;
    if (axis < 0 || axis > 2 || k < 0 || k >= v->dim[axis]) {
        fn_seterr(e, "slice %lld out of range", (long long)k);
        return NULL;
    }
    int h, w;
    fn_volume_slice_hw(v->dim, axis, &h, &w);
    size_t base, sr, sc;
    layout(v->dim, axis, k, &base, &sr, &sc);
    fn_tensor *t = fn_tensor_alloc(v->dtype, 1, h, w, e);
    if (!t) return NULL;
    if (v->dtype != FN_F32) { /* u8/u16 as stored */
        size_t es = fn_dtype_size(v->dtype);
        const unsigned char *s = (const unsigned char *)nim->data + base * es;
        unsigned char *d = t->data;
        for (int r = 0; r < h; r++) {
            if (sc == 1) memcpy(d + (size_t)r * w * es, s + (size_t)r * sr * es, (size_t)w * es);
            else
                for (int c = 0; c < w; c++)
                    memcpy(d + ((size_t)r * w + c) * es, s + ((size_t)r * sr + (size_t)c * sc) * es, es);
        }
        return t;
    }
    double slope, inter;
    scaling(nim, &slope, &inter);
    int scaled = slope != 1 || inter != 0;
    float *o = t->data;
    switch (nim->datatype) {
    case DT_UINT8: GATHER_F(uint8_t); break;
    case DT_INT8: GATHER_F(int8_t); break;
    case DT_UINT16: GATHER_F(uint16_t); break;
    case DT_INT16: GATHER_F(int16_t); break;
    case DT_UINT32: GATHER(uint32_t); break;
    case DT_INT32: GATHER(int32_t); break;
    case DT_UINT64: GATHER(uint64_t); break;
    case DT_INT64: GATHER(int64_t); break;
    case DT_FLOAT32: GATHER_F(float); break;
    case DT_FLOAT64: GATHER(double); break;
    }
    return t;
}

static void ijk_of(int axis, int64_t k, double r, double c, double ijk[3]) {
    if (axis == 2) ijk[0] = c, ijk[1] = r, ijk[2] = (double)k;
    else if (axis == 1) ijk[0] = c, ijk[1] = (double)k, ijk[2] = r;
    else ijk[0] = (double)k, ijk[1] = c, ijk[2] = r;
}

void fn_volume_world(const fn_volume *v, int axis, int64_t k, double r, double c, double xyz[3]) {
    double p[3];
    ijk_of(axis, k, r, c, p);
    for (int i = 0; i < 3; i++)
        xyz[i] = v->affine[i][0] * p[0] + v->affine[i][1] * p[1] + v->affine[i][2] * p[2] + v->affine[i][3];
}

/* ---- writing ----------------------------------------------------------------------------------- */

/* the temporary file beside o->path, its header written: the header as nifticlib converts it, then the
 * data, through znzlib (gzip for .gz); nifticlib's own writer cannot write a single-file NIfTI-2 (3.0.1
 * writes its data alone) and tells no failure */
static int out_open(fn_volume_out *o, fn_err *e) {
    nifti_image *nim = o->nim;
    const char *path = o->path, *ext = ends_with(path, ".nii.gz") ? ".nii.gz" : ".nii";
    size_t n = strlen(path) + 32;
    if (!(o->tmp = malloc(n))) return fn_seterr(e, "out of memory");
    snprintf(o->tmp, n, "%.*s.tmpXXXXXX%s", (int)(strlen(path) - strlen(ext)), path, ext);
    int fd = mkstemps(o->tmp, (int)strlen(ext));
    if (fd < 0) {
        int err = errno;
        free(o->tmp);
        o->tmp = NULL;
        return fn_seterr(e, "%s: %s", path, strerror(err));
    }
    mode_t um = umask(022); /* the permissions a plain create gives, as fn_atomic does */
    umask(um);
    if (fchmod(fd, 0666 & ~um)) { /* not fatal */ }
    close(fd);
    union {
        nifti_1_header h1;
        nifti_2_header h2;
    } u;
    size_t hl;
    int rc;
    if (o->nifti2) {
        rc = nifti_convert_nim2n2hdr(nim, &u.h2);
        memcpy(u.h2.magic, "n+2\0\r\n\032\n", 8);
        u.h2.vox_offset = 544;
        hl = sizeof u.h2;
    } else {
        rc = nifti_convert_nim2n1hdr(nim, &u.h1);
        memcpy(u.h1.magic, "n+1\0", 4);
        u.h1.vox_offset = 352;
        hl = sizeof u.h1;
    }
    if (rc) return fn_seterr(e, "%s: nifticlib cannot convert the header", path);
    /* gzip level 1, as nibabel writes: a label volume compresses well at any level, and 6 took half
     * again as long for a third of the size (tests/bench/volume.sh) */
    znzFile fp = znzopen(o->tmp, "wb1", ends_with(path, ".gz"));
    if (znz_isnull(fp)) return fn_seterr(e, "%s: %s", path, strerror(errno));
    o->fp = fp;
    static const char ext4[4] = {0}; /* no extensions */
    if (znzwrite(&u, 1, hl, fp) != hl || znzwrite(ext4, 1, 4, fp) != 4)
        return fn_seterr(e, "%s: write failed: %s", path, errno ? strerror(errno) : "short write");
    return 0;
}

/* the slices from o->written on that are all there, in storage order: along z each is a contiguous run of
 * the data, so they go to the file as they come (the compression overlaps the reading of the stream);
 * along x and y the data is written whole at the end (all = 1) */
static int out_flush(fn_volume_out *o, int all, fn_err *e) {
    nifti_image *nim = o->nim;
    if (!o->fp) return 0;
    size_t slice = (size_t)o->dim[0] * (size_t)o->dim[1] * (size_t)nim->nbyper;
    const unsigned char *d = nim->data;
    int64_t from = o->written, to = from;
    if (o->axis == 2)
        while (to < o->n && o->have[to]) to++;
    else if (all)
        from = 0, to = o->dim[2];
    if (to == from) return 0;
    size_t nb = (size_t)(to - from) * slice;
    if (znzwrite(d + (size_t)from * slice, 1, nb, o->fp) != nb)
        return fn_seterr(e, "%s: write failed: %s", o->path, errno ? strerror(errno) : "short write");
    if (o->axis == 2) o->written = to;
    return 0;
}

static int out_missing(const fn_volume_out *o, fn_err *e) {
    char list[160] = "";
    int shown = 0;
    size_t len = 0;
    for (int64_t k = 0; k < o->n && shown < 8; k++)
        if (!o->have[k]) {
            len += (size_t)snprintf(list + len, sizeof list - len, "%s%lld", shown ? ", " : "", (long long)k);
            shown++;
            if (len >= sizeof list) break;
        }
    int64_t more = o->n - o->filled - shown;
    char tail[64] = "";
    if (more > 0) snprintf(tail, sizeof tail, " and %lld more", (long long)more);
    return fn_seterr(e, "missing slice%s %s%s of %lld along %c", o->n - o->filled > 1 ? "s" : "", list, tail,
                     (long long)o->n, "xyz"[o->axis]);
}

int fn_volume_out_begin(fn_volume_out *o, const char *header, int axis, fn_dtype dtype, const char *path, fn_err *e) {
    memset(o, 0, sizeof *o);
    if (path && !fn_is_nifti_name(path)) return fn_seterr(e, "%s: a NIfTI file name ends in .nii or .nii.gz", path);
    size_t n = strlen(header);
    union {
        nifti_1_header h1;
        nifti_2_header h2;
        unsigned char b[sizeof(nifti_2_header)];
    } u;
    if (n != 2 * sizeof u.h1 && n != 2 * sizeof u.h2)
        return fn_seterr(e, "meta nifti_header is not a NIfTI header (%zu hex digits)", n);
    for (size_t i = 0; i < n / 2; i++) {
        int a = unhex(header[2 * i]), b = unhex(header[2 * i + 1]);
        if (a < 0 || b < 0) return fn_seterr(e, "meta nifti_header is not hex");
        u.b[i] = (unsigned char)(a << 4 | b);
    }
    int two = n == 2 * sizeof u.h2;
    if (nifti_header_version((const char *)u.b, n / 2) != (two ? 2 : 1))
        return fn_seterr(e, "meta nifti_header is not a NIfTI-%d header", two ? 2 : 1);
    /* the type written, set before nifticlib converts (it complains of a type it does not know) */
    const int dt = dtype == FN_U8 ? DT_UINT8 : DT_FLOAT32, bits = dtype == FN_U8 ? 8 : 32;
    if (two) u.h2.datatype = (int16_t)dt, u.h2.bitpix = (int16_t)bits;
    else u.h1.datatype = (short)dt, u.h1.bitpix = (short)bits;
    nifti_image *nim = two ? nifti_convert_n2hdr2nim(u.h2, NULL) : nifti_convert_n1hdr2nim(u.h1, NULL);
    if (!nim) return fn_seterr(e, "meta nifti_header: nifticlib refuses it");
    int rc = check_dims(nim, "meta nifti_header", o->dim, e);
    if (!rc && (axis < 0 || axis > 2)) rc = fn_seterr(e, "bad axis %d", axis);
    if (rc) {
        nifti_image_free(nim);
        return -1;
    }
    nim->datatype = dtype == FN_U8 ? DT_UINT8 : DT_FLOAT32;
    nifti_datatype_sizes(nim->datatype, &nim->nbyper, &nim->swapsize);
    nim->scl_slope = 1, nim->scl_inter = 0;
    nim->cal_min = 0, nim->cal_max = dtype == FN_U8 ? 0 : 1;
    nim->nifti_type = NIFTI_FTYPE_NIFTI1_1; /* nifticlib 3.0.1 says 1 for a single-file NIfTI-2 too */
    nim->byteorder = nifti_short_order();
    nim->num_ext = 0, nim->ext_list = NULL;
    nim->data = calloc((size_t)nim->nvox, (size_t)nim->nbyper);
    o->axis = axis;
    o->n = o->dim[axis];
    o->have = calloc((size_t)o->n, 1);
    o->nim = nim;
    o->nifti2 = two;
    if (!nim->data || !o->have || (path && !(o->path = strdup(path)))) {
        fn_volume_out_free(o);
        return fn_seterr(e, "out of memory");
    }
    if (path && out_open(o, e)) {
        fn_volume_out_free(o);
        return -1;
    }
    return 0;
}

int fn_volume_out_put(fn_volume_out *o, int64_t k, const fn_tensor *t, fn_err *e) {
    nifti_image *nim = o->nim;
    int h, w;
    fn_volume_slice_hw(o->dim, o->axis, &h, &w);
    if (k < 0 || k >= o->n) return fn_seterr(e, "slice %lld is outside the volume's %lld", (long long)k, (long long)o->n);
    if (t->c != 1 || t->h != h || t->w != w)
        return fn_seterr(e, "[%d,%d,%d] does not fit the volume's slices [1,%d,%d] (restore the size first)", t->c, t->h,
                         t->w, h, w);
    if (o->have[k]) return fn_seterr(e, "slice %lld comes twice", (long long)k);
    size_t base, sr, sc;
    layout(o->dim, o->axis, k, &base, &sr, &sc);
    if (nim->datatype == DT_UINT8) {
        uint8_t *d = (uint8_t *)nim->data + base;
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++) {
                double x = fn_tensor_get(t, (size_t)r * w + c);
                d[(size_t)r * sr + (size_t)c * sc] = x != x || x <= 0 ? 0 : x >= 255 ? 255 : (uint8_t)lrint(x);
            }
    } else {
        float *d = (float *)nim->data + base;
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++) d[(size_t)r * sr + (size_t)c * sc] = (float)fn_tensor_get(t, (size_t)r * w + c);
    }
    o->have[k] = 1;
    o->filled++;
    return out_flush(o, 0, e);
}

int fn_volume_out_finish(fn_volume_out *o, fn_err *e) {
    if (o->filled < o->n) return out_missing(o, e);
    if (!o->path) return fn_seterr(e, "no file to write the volume to");
    if (out_flush(o, 1, e)) return -1;
    znzFile fp = o->fp;
    o->fp = NULL;
    int cerr = znzclose(fp);
    if (cerr) return fn_seterr(e, "%s: write failed: %s", o->path, strerror(errno));
    int f = open(o->tmp, O_RDONLY);
    int rc = f < 0 || fsync(f) ? fn_seterr(e, "%s: %s", o->path, strerror(errno)) : 0;
    if (f >= 0) close(f);
    if (!rc && rename(o->tmp, o->path)) rc = fn_seterr(e, "%s: %s", o->path, strerror(errno));
    if (!rc) free(o->tmp), o->tmp = NULL; /* committed: nothing for fn_volume_out_free to remove */
    return rc;
}

void fn_volume_out_free(fn_volume_out *o) {
    if (o->fp) {
        znzFile fp = o->fp;
        znzclose(fp);
    }
    if (o->tmp) unlink(o->tmp), free(o->tmp);
    free(o->path);
    if (o->nim) nifti_image_free(o->nim);
    free(o->have);
    memset(o, 0, sizeof *o);
}
