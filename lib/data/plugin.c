/* plugin.c: see plugin.h. The public functions of dicom.h and codec_tiff.h, which load their library on
 * first use. fn_is_dicom (the preamble and "DICM" magic, of a file or of a folder's first files; dcmfile.c
 * as fn_dcm_free) is plain C and loads nothing; fn_dcm_quiet records the wish and applies it when DCMTK is
 * loaded (or at once when it is). */
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "base/dlib.h"
#include "data/plugin.h"

/* defined only in a program that links the codec's object itself (see plugin.h) */
#pragma weak fn_dicom_plugin
#pragma weak fn_tiff_plugin

typedef struct plugin {
    const char *what, *lib, *env, *sym, *hint;
    const void *linked;        /* the table linked into the program, or NULL */
    const void *table;         /* after the load: the table, or NULL with why */
    char why[400];
} plugin;

static void load(plugin *p) {
    if (p->linked) {
        p->table = p->linked;
        return;
    }
    void *h = fn_dlopen_beside(p->env, p->lib, RTLD_NOW | RTLD_LOCAL, p->hint, p->why, sizeof p->why);
    if (!h) return;
    const int *t = dlsym(h, p->sym);
    if (!t) snprintf(p->why, sizeof p->why, "%s has no symbol %s", p->lib, p->sym);
    else if (*t != FN_PLUGIN_VERSION)
        snprintf(p->why, sizeof p->why, "%s is of another version of fn (table version %d, expected %d)", p->lib, *t,
                 FN_PLUGIN_VERSION);
    else {
        p->table = t;
        return;
    }
    dlclose(h);
}

static int load_failed(const plugin *p, const char *name, fn_err *e) {
    return fn_seterr(e, "%s: %s support (%s) cannot be loaded: %s", name ? name : "?", p->what, p->lib, p->why);
}

/* DICOM ------------------------------------------------------------------------------------------- */

static plugin dicom = {"DICOM", "libfn-dicom.so", "FN_DICOM_LIB", FN_DICOM_PLUGIN,
                       "looked for beside the program; FN_DICOM_LIB may give its path", NULL, NULL, ""};
static pthread_once_t dicom_once = PTHREAD_ONCE_INIT;
static const fn_dicom_plugin_table *_Atomic dicom_loaded; /* the table once loaded, for fn_dcm_quiet */
static atomic_int dicom_quiet_wish;

static void dicom_load(void) {
    dicom.linked = &fn_dicom_plugin;
    load(&dicom);
    const fn_dicom_plugin_table *t = dicom.table;
    if (!t) return;
    atomic_store(&dicom_loaded, t); /* then the wish: a concurrent fn_dcm_quiet sees one or the other */
    if (atomic_load(&dicom_quiet_wish)) t->quiet();
}

static const fn_dicom_plugin_table *dicom_table(const char *name, fn_err *e) {
    pthread_once(&dicom_once, dicom_load);
    if (!dicom.table) load_failed(&dicom, name, e);
    return dicom.table;
}

void fn_dcm_quiet(void) {
    atomic_store(&dicom_quiet_wish, 1);
    const fn_dicom_plugin_table *t = atomic_load(&dicom_loaded);
    if (t) t->quiet();
}

int fn_dcm_read(const char *path, int want_pixels, fn_dcm_volume *v, fn_err *e) {
    memset(v, 0, sizeof *v);
    const fn_dicom_plugin_table *t = dicom_table(path, e);
    return t ? t->read(path, want_pixels, v, e) : -1;
}

static int not_hidden(const struct dirent *d) { return d->d_name[0] != '.'; }
static int by_name(const struct dirent **a, const struct dirent **b) { return strcmp((*a)->d_name, (*b)->d_name); }

int fn_is_dicom(const char *path) {
    struct stat st;
    if (stat(path, &st)) return 0;
    if (!S_ISDIR(st.st_mode)) return fn_dcm_has_magic(path);
    /* a folder: one of its first 8 regular, not hidden files by name */
    struct dirent **names;
    int n = scandir(path, &names, not_hidden, by_name), found = 0, seen = 0;
    if (n < 0) return 0;
    for (int i = 0; i < n; i++) {
        char p[PATH_MAX];
        if (!found && seen < 8 && snprintf(p, sizeof p, "%s/%s", path, names[i]->d_name) < (int)sizeof p &&
            !stat(p, &st) && S_ISREG(st.st_mode)) {
            seen++;
            found = fn_dcm_has_magic(p);
        }
        free(names[i]);
    }
    free(names);
    return found;
}

/* TIFF -------------------------------------------------------------------------------------------- */

static plugin tiff = {"TIFF", "libfn-tiff.so", "FN_TIFF_LIB", FN_TIFF_PLUGIN,
                      "looked for beside the program; FN_TIFF_LIB may give its path", NULL, NULL, ""};
static pthread_once_t tiff_once = PTHREAD_ONCE_INIT;

static void tiff_load(void) {
    tiff.linked = &fn_tiff_plugin;
    load(&tiff);
}

static const fn_tiff_plugin_table *tiff_table(const char *name, fn_err *e) {
    pthread_once(&tiff_once, tiff_load);
    if (!tiff.table) load_failed(&tiff, name, e);
    return tiff.table;
}

int fn_tiff_decode(const unsigned char *buf, size_t len, const char *name, const fn_decode_opts *o, fn_image *img,
                   fn_err *e) {
    const fn_tiff_plugin_table *t = tiff_table(name, e);
    return t ? t->decode(buf, len, name, o, img, e) : -1;
}

int fn_tiff_encode(const fn_tensor *const *pages, int n, const char *name, unsigned char **buf, size_t *len,
                   fn_err *e) {
    *buf = NULL;
    *len = 0;
    const fn_tiff_plugin_table *t = tiff_table(name, e);
    return t ? t->encode(pages, n, name, buf, len, e) : -1;
}
