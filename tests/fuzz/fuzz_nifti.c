/* fuzz_nifti.c: the NIfTI volume reader (lib/data/volume.c over nifticlib) on any bytes, named .nii and
 * .nii.gz in turn (nifticlib goes by the name: a temporary file, since it takes a path); a volume that
 * reads is cut into its first and last slices along each axis and its header rebuilt for writing. */
#include <stdlib.h>
#include <string.h>
#include "data/volume.h"
#include "fuzz.h"

static void one(const uint8_t *data, size_t size, const char *ext) {
    char path[] = "/tmp/fn-fuzz-niftiXXXXXX.nii.gz";
    int sl = (int)strlen(ext);
    strcpy(path + strlen("/tmp/fn-fuzz-niftiXXXXXX"), ext);
    if (fuzz_tmpfile(data, size, path, sl)) return;
    fn_volume v;
    fn_err e;
    if (!fn_volume_read(path, &v, &e)) {
        for (int axis = 0; axis < 3; axis++) {
            int64_t n = fn_volume_nslices(&v, axis);
            int64_t ks[2] = {0, n - 1};
            for (int i = 0; i < 2; i++) {
                fn_tensor *t = fn_volume_slice(&v, axis, ks[i], &e);
                fn_volume_out o;
                if (t && !fn_volume_out_begin(&o, v.header, axis, FN_U8, NULL, &e)) {
                    fn_volume_out_put(&o, ks[i], t, &e);
                    fn_volume_out_free(&o);
                }
                fn_tensor_free(t);
            }
        }
        fn_volume_free(&v);
    }
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int quiet;
    if (!quiet) fn_volume_quiet(), quiet = 1;
    one(data, size, ".nii");
    one(data, size, ".nii.gz");
    return 0;
}
