/* fuzz_dicom.c: the DICOM reader (lib/data/dicom.cc over DCMTK) on any bytes as a .dcm file (DCMTK takes a
 * path: a temporary file), geometry only and then with the pixels; a volume that reads is cut into its
 * slices and its header rebuilt for writing, as fn-read and fn-write --nifti do. The harnesses link the
 * codecs' objects (Makefile), so dicom.cc's code runs linked in, instrumented, without libfn-dicom.so. */
#include <stdlib.h>
#include <string.h>
#include "data/dicom.h"
#include "data/volume.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int quiet;
    if (!quiet) fn_volume_quiet(), quiet = 1;
    char path[] = "/tmp/fn-fuzz-dicomXXXXXX.dcm";
    if (fuzz_tmpfile(data, size, path, 4)) return 0;
    fn_dcm_volume d;
    fn_err e;
    if (!fn_dcm_read(path, 0, &d, &e)) fn_dcm_free(&d);
    fn_volume v;
    if (!fn_volume_read(path, &v, &e)) {
        for (int64_t k = 0; k < fn_volume_nslices(&v, 2); k++) {
            fn_tensor *t = fn_volume_slice(&v, 2, k, &e);
            fn_volume_out o;
            if (t && !fn_volume_out_begin(&o, v.header, 2, FN_F32, NULL, &e)) {
                fn_volume_out_put(&o, k, t, &e);
                fn_volume_out_free(&o);
            }
            fn_tensor_free(t);
        }
        fn_volume_free(&v);
    }
    unlink(path);
    return 0;
}
