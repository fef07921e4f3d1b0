/* imglist.c: image files from operands, folders and TSV lists; masks paired by name */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "data/codec.h"
#include "data/imglist.h"

char *fn_path_stem(const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    const char *dot = strrchr(b, '.');
    size_t n = dot && dot != b ? (size_t)(dot - b) : strlen(b);
    return strndup(b, n);
}

static char *join(const char *dir, const char *name) {
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p) return NULL;
    memcpy(p, dir, a);
    size_t k = a;
    if (a && dir[a - 1] != '/') p[k++] = '/';
    memcpy(p + k, name, b + 1);
    return p;
}

static int add(fn_items *l, char *image, char *mask, fn_err *e) {
    fn_item *v = realloc(l->v, (size_t)(l->n + 1) * sizeof *v);
    char *id = image ? fn_path_stem(image) : NULL;
    if (!v || !id) {
        if (v) l->v = v;
        free(image);
        free(mask);
        free(id);
        return fn_seterr(e, "out of memory");
    }
    l->v = v;
    v[l->n++] = (fn_item){.image = image, .mask = mask, .id = id};
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* names of the image files in dir (by extension, not hidden), sorted; NULL-free array of n */
static char **list_dir(const char *dir, int *n, fn_err *e) {
    DIR *d = opendir(dir);
    if (!d) {
        fn_seterr(e, "%s: %s", dir, strerror(errno));
        return NULL;
    }
    char **v = NULL;
    int cap = 0;
    *n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || fn_format_of_name(de->d_name) == FN_FMT_NONE) continue;
        if (*n == cap) {
            char **nv = realloc(v, (size_t)(cap = cap ? 2 * cap : 64) * sizeof *v);
            if (!nv) break;
            v = nv;
        }
        if (!(v[*n] = strdup(de->d_name))) break;
        (*n)++;
    }
    int bad = de != NULL;
    closedir(d);
    if (bad) {
        for (int i = 0; i < *n; i++) free(v[i]);
        free(v);
        fn_seterr(e, "out of memory");
        return NULL;
    }
    if (*n) qsort(v, (size_t)*n, sizeof *v, cmp_str);
    if (!v) v = malloc(1);
    return v;
}

int fn_items_add_path(fn_items *l, const char *path, fn_err *e) {
    struct stat st;
    if (stat(path, &st) || !S_ISDIR(st.st_mode)) {
        char *p = strdup(path);
        return p ? add(l, p, NULL, e) : fn_seterr(e, "out of memory");
    }
    int n;
    char **names = list_dir(path, &n, e);
    if (!names) return -1;
    if (!n) {
        free(names);
        return fn_seterr(e, "%s: no image files (PNG, JPEG, TIFF, GIF) in this folder", path);
    }
    int rc = 0;
    for (int i = 0; i < n; i++) {
        char *p = rc ? NULL : join(path, names[i]);
        if (!rc) rc = p ? add(l, p, NULL, e) : fn_seterr(e, "out of memory");
        free(names[i]);
    }
    free(names);
    return rc;
}

static char *resolve(const char *base, const char *p) {
    return p[0] == '/' || !base ? strdup(p) : join(base, p);
}

int fn_items_add_list(fn_items *l, const char *tsv, fn_err *e) {
    int is_stdin = !strcmp(tsv, "-");
    FILE *f = is_stdin ? stdin : fopen(tsv, "r");
    if (!f) return fn_seterr(e, "%s: %s", tsv, strerror(errno));
    const char *slash = is_stdin ? NULL : strrchr(tsv, '/');
    char *base = slash ? strndup(tsv, (size_t)(slash - tsv + 1)) : NULL;
    char *line = NULL;
    size_t cap = 0;
    long lineno = 0;
    int rc = 0;
    ssize_t len;
    while (!rc && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (!len || line[0] == '#') continue;
        char *tab = strchr(line, '\t'), *mask = NULL;
        if (tab) {
            *tab = 0;
            mask = tab + 1;
            if (strchr(mask, '\t')) {
                rc = fn_seterr(e, "%s: line %ld: more than two fields (expected image<TAB>mask)", tsv, lineno);
                break;
            }
        }
        if (!line[0]) {
            rc = fn_seterr(e, "%s: line %ld: no image path", tsv, lineno);
            break;
        }
        char *ip = resolve(base, line), *mp = mask && mask[0] ? resolve(base, mask) : NULL;
        if (!ip || (mask && mask[0] && !mp)) {
            free(ip);
            free(mp);
            rc = fn_seterr(e, "out of memory");
        } else {
            rc = add(l, ip, mp, e);
        }
    }
    if (!rc && ferror(f)) rc = fn_seterr(e, "%s: %s", tsv, strerror(errno));
    free(line);
    free(base);
    if (!is_stdin) fclose(f);
    return rc;
}

typedef struct stem_entry {
    char *stem, *name;
} stem_entry;

static int cmp_stem(const void *a, const void *b) {
    return strcmp(((const stem_entry *)a)->stem, ((const stem_entry *)b)->stem);
}

/* give each item without a file in the slot at `off` (mask or roi) DIR/ID SUFFIX.EXT when there is one */
static int pair_files(fn_items *l, const char *dir, const char *suffix, size_t off, const char *what, fn_err *e) {
    int n;
    char **names = list_dir(dir, &n, e);
    if (!names) return -1;
    stem_entry *s = calloc((size_t)n + 1, sizeof *s);
    int rc = s ? 0 : fn_seterr(e, "out of memory");
    for (int i = 0; !rc && i < n; i++) {
        s[i] = (stem_entry){fn_path_stem(names[i]), names[i]};
        if (!s[i].stem) rc = fn_seterr(e, "out of memory");
    }
    if (!rc && n) qsort(s, (size_t)n, sizeof *s, cmp_stem);
    size_t slen = suffix ? strlen(suffix) : 0;
    for (int i = 0; !rc && i < l->n; i++) {
        fn_item *it = &l->v[i];
        char **slot = (char **)((char *)it + off);
        if (*slot) continue;
        size_t il = strlen(it->id);
        char *want = malloc(il + slen + 1);
        if (!want) {
            rc = fn_seterr(e, "out of memory");
            break;
        }
        memcpy(want, it->id, il);
        memcpy(want + il, suffix ? suffix : "", slen + 1);
        stem_entry key = {want, NULL}, *hit = n ? bsearch(&key, s, (size_t)n, sizeof *s, cmp_stem) : NULL;
        if (hit) {
            while (hit > s && !strcmp(hit[-1].stem, want)) hit--;
            if (hit + 1 < s + n && !strcmp(hit[1].stem, want))
                rc = fn_seterr(e, "%s: more than one %s for %s in %s: %s, %s", it->image, what, it->id, dir,
                               hit[0].name, hit[1].name);
            else if (!(*slot = join(dir, hit->name)))
                rc = fn_seterr(e, "out of memory");
        }
        free(want);
    }
    for (int i = 0; i < n; i++) {
        if (s) free(s[i].stem);
        free(names[i]);
    }
    free(s);
    free(names);
    return rc;
}

int fn_items_pair_masks(fn_items *l, const char *dir, const char *suffix, fn_err *e) {
    return pair_files(l, dir, suffix, offsetof(fn_item, mask), "mask", e);
}

int fn_items_pair_rois(fn_items *l, const char *dir, const char *suffix, fn_err *e) {
    if (pair_files(l, dir, suffix, offsetof(fn_item, roi), "roi", e)) return -1;
    for (int i = 0; i < l->n; i++)
        if (!l->v[i].roi)
            return fn_seterr(e, "%s: no roi %s%s.* in %s", l->v[i].image, l->v[i].id, suffix ? suffix : "", dir);
    return 0;
}

void fn_items_free(fn_items *l) {
    for (int i = 0; i < l->n; i++) {
        free(l->v[i].image);
        free(l->v[i].mask);
        free(l->v[i].roi);
        free(l->v[i].id);
    }
    free(l->v);
    l->v = NULL;
    l->n = 0;
}
