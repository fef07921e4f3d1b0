/* dicom.h: DICOM images through DCMTK (dicom.cc, a thin C++ file behind this C interface): a single- or
 * multi-frame file, or a folder holding one series, as one volume for volume.c. dicom.cc is built into
 * libfn-dicom.so, which plugin.c (these functions) loads on the first fn_dcm_read (plugin.h).
 *
 * The slices are ordered by their position along the normal of the image plane (ImagePositionPatient
 * projected on the cross product of ImageOrientationPatient's two directions), never by file name; the
 * frames of a multi-frame file by their PlanePositionSequence when it has one. The slices must be evenly
 * spaced (within 1%): a gap, such as a file missing from the folder, is refused. Voxel (i, j, k) is column i,
 * row j of slice k; the affine maps it to RAS+ mm (DICOM's LPS with x and y negated), as dcm2niix and
 * nibabel do. Values: RescaleSlope and RescaleIntercept applied (CT in Hounsfield units), as f32.
 * Uncompressed transfer syntaxes only (a compressed file is refused, naming its syntax); 1 sample per
 * pixel, 8 or 16 bits allocated. */
#ifndef FN_DICOM_H
#define FN_DICOM_H

#include <stdint.h>
#include "base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fn_dcm_volume {
    int64_t dim[3];       /* columns, rows, slices */
    double spacing[3];    /* mm: between columns, between rows, between slices */
    double affine[3][4];  /* voxel to RAS+ mm */
    float *data;          /* dim[0] * dim[1] * dim[2] values, malloc'd; NULL after a probe */
    char modality[17];
} fn_dcm_volume;

/* 1 when the file has DICOM's preamble and "DICM" magic; a folder: 1 when one of its first files has */
int fn_is_dicom(const char *path);
int fn_dcm_has_magic(const char *path); /* a file only (dcmfile.c, as fn_dcm_free) */
/* a file or a series folder: the whole volume (want_pixels) or only its geometry, every check on the
 * headers made (a folder with two series is refused, naming them; a file without pixel data, slices of
 * different sizes or orientations). 0, or -1 with e naming the file. */
int fn_dcm_read(const char *path, int want_pixels, fn_dcm_volume *v, fn_err *e);
void fn_dcm_free(fn_dcm_volume *v);
void fn_dcm_quiet(void); /* DCMTK's log below FATAL off (process-wide, for the tools) */

#ifdef __cplusplus
}
#endif

#endif
