/* volume.h: medical volumes (NIfTI-1 and NIfTI-2 through nifticlib; DICOM files and series folders
 * through DCMTK, dicom.h, given a NIfTI header of their geometry) read whole, cut into 2D slices, and
 * slices stacked back into a volume with the source's header (fn-read, fn-write --nifti).
 *
 * Orientation: the file's own storage order, as nnU-Net keeps it; nothing is reoriented. A volume has
 * voxel indices (i, j, k) = dims 1, 2, 3 of the header. Slicing along k (axis "z", the default) gives
 * [1, dim2, dim1] tensors: row = j, column = i; along j (axis "y") [1, dim3, dim1]: row = k, column = i;
 * along i (axis "x") [1, dim3, dim2]: row = k, column = j. A slice thus shows the voxels exactly as they
 * lie in the file (what nibabel's `img.dataobj[:, :, k].T` gives), and the world position of each pixel
 * comes from the volume's affine (sform when its code is set, else qform), given in meta.
 *
 * Values: the header's scl_slope/scl_inter are applied (CT in Hounsfield units). A u8 or u16 volume
 * without scaling stays u8 or u16; every other type becomes f32 (int16/int8/u32 ≤ 2^24 are exact).
 * Dimensions past the third must be 1 (a 4D series is refused). */
#ifndef FN_VOLUME_H
#define FN_VOLUME_H

#include <stdint.h>
#include "base/err.h"
#include "base/tensor.h"

typedef struct fn_volume {
    int64_t dim[3];     /* voxels along i, j, k */
    double pixdim[3];   /* voxel size along i, j, k (the header's units, mm for scans) */
    double affine[3][4]; /* voxel (i, j, k, 1) to world (x, y, z) in RAS+ mm: sform, else qform, else pixdim */
    fn_dtype dtype;     /* of the slices */
    char *header;       /* the volume's header (NIfTI-1 or -2, as nifticlib canonicalises it) in hex,
                           for meta nifti_header; fn_volume_out_begin rebuilds the geometry from it */
    void *nim;          /* the nifti_image (data loaded) */
} fn_volume;

/* 1 when the name ends in .nii or .nii.gz (any case) */
int fn_is_nifti_name(const char *path);
/* 1 for a NIfTI name, a DICOM file (its magic, or a .dcm name) or a folder holding DICOM files */
int fn_is_volume(const char *path);
/* the name of a volume file without its folder and its .nii / .nii.gz / .dcm (malloc'd) */
char *fn_volume_stem(const char *path);

/* Read a whole volume (NIfTI, or DICOM: see dicom.h); 0, or -1 with e naming the file (not a NIfTI file, truncated or corrupt data,
 * dimensions the file cannot hold, a 4D series, a type fn cannot hold). v holds nothing after an error.
 * nifticlib prints its own diagnostics unless its debug level is 0 (nifti_set_debug_level, left to the
 * tools: fn_volume_quiet). */
int fn_volume_read(const char *path, fn_volume *v, fn_err *e);
void fn_volume_free(fn_volume *v);
/* the checks of fn_volume_read that need only the header (and the file's size); dim set; 0 or -1 */
int fn_volume_probe(const char *path, int64_t dim[3], fn_err *e);
void fn_volume_quiet(void); /* nifticlib's messages off (its debug level 0) */

/* axis 0, 1, 2 = "x", "y", "z" (i, j, k); the number of slices along it and the [1,H,W] of one */
int64_t fn_volume_nslices(const fn_volume *v, int axis);
void fn_volume_slice_hw(const int64_t dim[3], int axis, int *h, int *w);
/* slice k along axis as a new tensor of v->dtype (values scaled as above); NULL with e set */
fn_tensor *fn_volume_slice(const fn_volume *v, int axis, int64_t k, fn_err *e);
/* the world position (RAS+ mm) of the voxel at row r, column c of slice k along axis */
void fn_volume_world(const fn_volume *v, int axis, int64_t k, double r, double c, double xyz[3]);

/* Writing: a volume of the geometry of a header from fn_volume.header, filled slice by slice, to path
 * (.nii or .nii.gz; NULL: in memory only) through a temporary file beside it (PATH minus its extension,
 * .tmpXXXXXX, the extension), renamed onto path by fn_volume_out_finish and removed by fn_volume_out_free
 * otherwise. Along z the slices go to the file as soon as those before them are there. dtype FN_U8
 * (labels) or FN_F32 (probabilities); gzip level 1. */
typedef struct fn_volume_out {
    void *nim;
    int64_t dim[3];
    int axis;
    int64_t n, filled, written; /* slices along axis, put, in the file */
    unsigned char *have;        /* [n] */
    int nifti2;
    char *path, *tmp;
    void *fp; /* the znzFile of tmp while it is written */
} fn_volume_out;
int fn_volume_out_begin(fn_volume_out *o, const char *header, int axis, fn_dtype dtype, const char *path, fn_err *e);
/* put slice k ([1,H,W] of the slice's shape; converted to the volume's dtype); 0 or -1 */
int fn_volume_out_put(fn_volume_out *o, int64_t k, const fn_tensor *t, fn_err *e);
/* the rest written, the file closed, synced and renamed onto path; a slice not put is an error naming the
 * first missing ones ("missing slices 3, 4 of 120 along z"). 0 or -1 (the temporary stays until free). */
int fn_volume_out_finish(fn_volume_out *o, fn_err *e);
void fn_volume_out_free(fn_volume_out *o); /* removes an unfinished temporary */

#endif
