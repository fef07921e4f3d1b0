/* dcmfile.c: the parts of dicom.h that need no DCMTK, in one place for both sides: libfn.a (plugin.c's
 * fn_is_dicom) and libfn-dicom.so (dicom.cc, which links a position-independent copy of this file). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/dicom.h"

int fn_dcm_has_magic(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char b[132];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    return n == 132 && !memcmp(b + 128, "DICM", 4);
}

void fn_dcm_free(fn_dcm_volume *v) {
    free(v->data);
    memset(v, 0, sizeof *v);
}
