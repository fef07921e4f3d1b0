/* dlib.c: see dlib.h. */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/dlib.h"

void *fn_dlopen_beside(const char *env, const char *name, int flags, const char *hint, char *why,
                       size_t why_len) {
    const char *path_env = env ? getenv(env) : NULL;
    if (path_env && *path_env) {
        void *h = dlopen(path_env, flags);
        if (!h) snprintf(why, why_len, "%s", dlerror());
        return h;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        snprintf(why, why_len, "%s: cannot find the program's folder", name);
        return NULL;
    }
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    const char *rel[] = {"/../lib/fn/", "/../"};
    char first_err[256] = "";
    for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
        char path[PATH_MAX + 64];
        if (snprintf(path, sizeof path, "%s%s%s", exe, rel[i], name) >= (int)sizeof path) continue;
        if (access(path, F_OK) != 0) continue;
        void *h = dlopen(path, flags);
        if (h) return h;
        if (!first_err[0]) snprintf(first_err, sizeof first_err, "%s", dlerror());
    }
    if (first_err[0]) snprintf(why, why_len, "%s", first_err);
    else snprintf(why, why_len, "%s: not found%s%s%s", name, hint ? " (" : "", hint ? hint : "", hint ? ")" : "");
    return NULL;
}
