/* imglist.h: the (image, mask) file pairs that fn-read turns into frames.
 *
 * Items come from files, folders (the image files inside, by extension, sorted by name, not
 * recursive, hidden files skipped) and TSV lists ("image<TAB>mask" per line, the mask optional,
 * '#' comments and blank lines skipped, relative paths taken from the list's folder). Masks for the
 * items that have none are found in a mask folder by name: ID + SUFFIX + any image extension. */
#ifndef FN_IMGLIST_H
#define FN_IMGLIST_H

#include "base/err.h"

typedef struct fn_item {
    char *image; /* path */
    char *mask;  /* path, NULL when none */
    char *roi;   /* region of interest (fn-read --roi), NULL when none */
    char *id;    /* the image's base name without its extension */
} fn_item;

typedef struct fn_items {
    fn_item *v;
    int n;
} fn_items;

int fn_items_add_path(fn_items *l, const char *path, fn_err *e);  /* a file or a folder */
int fn_items_add_list(fn_items *l, const char *tsv, fn_err *e);   /* "-" reads stdin */
/* give each item without a mask DIR/ID SUFFIX.EXT when there is one; two candidates (a.png, a.gif)
 * are an error. Returns 0 or -1. */
int fn_items_pair_masks(fn_items *l, const char *dir, const char *suffix, fn_err *e);
/* the same for regions of interest: each item gets DIR/ID SUFFIX.EXT; an item without one is an error */
int fn_items_pair_rois(fn_items *l, const char *dir, const char *suffix, fn_err *e);
void fn_items_free(fn_items *l);

/* base name of path without its last extension (malloc'd) */
char *fn_path_stem(const char *path);

#endif
