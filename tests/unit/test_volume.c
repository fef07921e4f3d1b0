/* test_volume.c: lib/data/volume.c on a small volume written with nifticlib itself: the slices along each
 * axis hold the voxels they should (row and column of each), scaling makes f32 and its absence keeps u8,
 * the slices stacked back along each axis give the same voxels and geometry, a missing slice is named and
 * its temporary file removed;
 * and fn_spacing_size of lib/imgproc/frame_resize.c. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <nifti2_io.h>
#include "check.h"
#include "data/volume.h"
#include "imgproc/frame_resize.h"

enum { NX = 5, NY = 4, NZ = 3 };

static unsigned char vox(int i, int j, int k) { return (unsigned char)(i + 10 * j + 60 * k + 1); }

/* a NX x NY x NZ uint8 volume with an sform, as path (.nii), scaled or not */
static void make(const char *path, double slope) {
    const int64_t dims[8] = {3, NX, NY, NZ, 1, 1, 1, 1};
    nifti_image *nim = nifti_make_new_nim(dims, DT_UINT8, 1);
    unsigned char *d = nim->data;
    for (int k = 0; k < NZ; k++)
        for (int j = 0; j < NY; j++)
            for (int i = 0; i < NX; i++) d[i + NX * (j + NY * k)] = vox(i, j, k);
    nim->scl_slope = slope, nim->scl_inter = slope ? -1 : 0;
    nim->sform_code = 1;
    nim->sto_xyz.m[0][0] = 0.5, nim->sto_xyz.m[1][1] = 0.75, nim->sto_xyz.m[2][2] = 2, nim->sto_xyz.m[3][3] = 1;
    nim->sto_xyz.m[0][3] = 10, nim->sto_xyz.m[1][3] = -20, nim->sto_xyz.m[2][3] = 30;
    nifti_set_filenames(nim, path, 0, 1);
    nifti_image_write(nim);
    nifti_image_free(nim);
}

static void test_slices(void) {
    char path[] = "/tmp/fn-test-volumeXXXXXX.nii";
    int fd = mkstemps(path, 4);
    CHECK(fd >= 0);
    close(fd);
    make(path, 0);
    fn_volume v;
    fn_err e;
    CHECKF(!fn_volume_read(path, &v, &e), "%s", e.msg);
    CHECK(v.dim[0] == NX && v.dim[1] == NY && v.dim[2] == NZ && v.dtype == FN_U8);
    for (int axis = 0; axis < 3; axis++) {
        CHECK(fn_volume_nslices(&v, axis) == v.dim[axis]);
        fn_volume_out o;
        char out[] = "/tmp/fn-test-volume-outXXXXXX.nii.gz";
        fd = mkstemps(out, 7);
        close(fd);
        CHECKF(!fn_volume_out_begin(&o, v.header, axis, FN_U8, out, &e), "%s", e.msg);
        for (int64_t k = 0; k < v.dim[axis]; k++) {
            fn_tensor *t = fn_volume_slice(&v, axis, k, &e);
            CHECK(t != NULL);
            if (!t) continue;
            int h = axis == 2 ? NY : NZ, w = axis == 0 ? NY : NX;
            CHECK(t->c == 1 && t->h == h && t->w == w);
            for (int r = 0; r < h; r++)
                for (int c = 0; c < w; c++) {
                    int i = axis == 0 ? (int)k : c, j = axis == 2 ? r : axis == 1 ? (int)k : c, kk = axis == 2 ? (int)k : r;
                    CHECK(((uint8_t *)t->data)[r * w + c] == vox(i, j, kk));
                }
            if (k != 1 || axis != 2) CHECK(!fn_volume_out_put(&o, k, t, &e)); /* slice 1 of z left out */
            fn_tensor_free(t);
        }
        double xyz[3];
        fn_volume_world(&v, axis, 1, 2, 3, xyz); /* row 2, column 3 of slice 1 */
        double i = axis == 0 ? 1 : 3, j = axis == 2 ? 2 : axis == 1 ? 1 : 3, k = axis == 2 ? 1 : 2;
        CHECK_NEAR(xyz[0], 10 + 0.5 * i, 1e-9);
        CHECK_NEAR(xyz[1], -20 + 0.75 * j, 1e-9);
        CHECK_NEAR(xyz[2], 30 + 2 * k, 1e-9);
        int rc = fn_volume_out_finish(&o, &e);
        if (axis == 2) {
            CHECK(rc == -1);
            CHECKF(!strcmp(e.msg, "missing slice 1 of 3 along z"), "%s", e.msg);
        } else {
            CHECKF(!rc, "%s", e.msg);
            fn_volume b;
            CHECKF(!fn_volume_read(out, &b, &e), "%s", e.msg);
            CHECK(b.dim[0] == NX && b.dim[1] == NY && b.dim[2] == NZ && !memcmp(b.affine, v.affine, sizeof b.affine));
            CHECK(!memcmp(((nifti_image *)b.nim)->data, ((nifti_image *)v.nim)->data, NX * NY * NZ));
            fn_volume_free(&b);
        }
        fn_volume_out_free(&o);
        if (axis == 2) CHECK(access(out, F_OK) == 0); /* the unfinished volume's temporary removed, out as it was */
        unlink(out);
    }
    fn_volume_free(&v);
    make(path, 2); /* scaled: f32, 2 v - 1 */
    CHECKF(!fn_volume_read(path, &v, &e), "%s", e.msg);
    CHECK(v.dtype == FN_F32);
    fn_tensor *t = fn_volume_slice(&v, 2, 2, &e);
    CHECK(t && ((float *)t->data)[NX + 2] == 2.0f * vox(2, 1, 2) - 1);
    fn_tensor_free(t);
    fn_volume_free(&v);
    unlink(path);
}

static void test_spacing_size(void) {
    fn_frame f;
    fn_err e;
    int oh, ow;
    fn_frame_init(&f);
    CHECK(fn_spacing_size(&f, 10, 10, 1, &oh, &ow, &e) == -1);
    fn_meta_set_num(&f, "spacing_y", 0.8, &e);
    fn_meta_set_num(&f, "spacing_x", 0.5, &e);
    CHECK(!fn_spacing_size(&f, 100, 200, 1, &oh, &ow, &e) && oh == 80 && ow == 100);
    fn_meta_set_int(&f, "orig_h", 200, &e); /* a frame at half its original size: twice the spacing */
    fn_meta_set_int(&f, "orig_w", 400, &e);
    CHECK(!fn_spacing_size(&f, 100, 200, 1, &oh, &ow, &e) && oh == 160 && ow == 200);
    fn_frame_clear(&f);
}

int main(void) {
    fn_volume_quiet();
    RUN(test_slices);
    RUN(test_spacing_size);
    return check_report();
}
