/* epochlog.c: the per-epoch TSV log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "data/cli.h"
#include "train/epochlog.h"

int fn_epochlog_add(char **rows, int epoch, double lr, double train_loss, double val_loss, double val_dice,
                    double seconds, fn_err *e) {
    char row[256];
    int n = snprintf(row, sizeof row, "%d\t%.6g\t%.6f\t%.6f\t%.6f\t%.2f\n", epoch, lr, train_loss, val_loss,
                     val_dice, seconds);
    size_t old = *rows ? strlen(*rows) : 0;
    char *r = realloc(*rows, old + (size_t)n + 1);
    if (!r) return fn_seterr(e, "out of memory");
    memcpy(r + old, row, (size_t)n + 1);
    *rows = r;
    return 0;
}

int fn_epochlog_write(const char *path, const char *rows, fn_err *e) {
    fn_atomic a;
    if (fn_atomic_open(&a, path, e)) return -1;
    fputs(FN_EPOCHLOG_HEADER, a.f);
    if (rows) fputs(rows, a.f);
    return fn_atomic_commit(&a, e);
}
