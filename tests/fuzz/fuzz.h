/* fuzz.h: what the harnesses of tests/fuzz share. Each harness defines LLVMFuzzerTestOneInput; it is
 * linked with libFuzzer by `make fuzz` (clang, ASan + UBSan) and with replay.c by the normal build,
 * which runs the kept inputs of tests/fuzz/regress/NAME/ in `make test`. */
#ifndef FN_FUZZ_H
#define FN_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the input as an in-memory file (for the parsers that take a path or a descriptor); its path
 * /proc/self/fd/N goes to path. -1 when it cannot be made. */
static inline int fuzz_memfd(const uint8_t *data, size_t size, char *path, size_t n) {
    int fd = memfd_create("fuzz", MFD_CLOEXEC);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) { close(fd); return -1; }
        off += (size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) < 0) { close(fd); return -1; }
    if (path) snprintf(path, n, "/proc/self/fd/%d", fd);
    return fd;
}

/* the input as a named temporary file, for the parsers that go by the file's name (its extension):
 * path is a mkstemps template ending in a suffix of sl characters, filled in; 0, or -1 when it cannot
 * be made. The caller unlinks it. */
static inline int fuzz_tmpfile(const uint8_t *data, size_t size, char *path, int sl) {
    int fd = mkstemps(path, sl);
    if (fd < 0) return -1;
    size_t off = 0;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(fd);
    return 0;
}

#endif
