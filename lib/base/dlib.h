/* dlib.h: the libraries that fn loads with dlopen only when it needs them (the CUDA backend, MPI, the DICOM
 * and TIFF codecs), found the same way for each: one place for the look-up. */
#ifndef FN_DLIB_H
#define FN_DLIB_H

#include <stddef.h>

/* dlopen NAME (e.g. "libfn-cuda.so") with FLAGS: from the path in the environment variable ENV when it is
 * set and not empty, else beside the running program: <exe dir>/../lib/fn/NAME (an install), then
 * <exe dir>/../NAME (the build folder: build/bin/ and build/tests/). The handle, or NULL with why (one
 * phrase): dlerror's message for the first file that exists but does not load, else "NAME: not found"
 * followed by " (HINT)" when hint is not NULL. */
void *fn_dlopen_beside(const char *env, const char *name, int flags, const char *hint, char *why,
                       size_t why_len);

#endif
