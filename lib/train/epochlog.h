/* epochlog.h: fn-train's --log file: a TSV with a header line and one row per epoch
 *   epoch  lr  train_loss  val_loss  val_dice  seconds
 * The rows live in a string (kept in the training state so a resumed run continues the same file)
 * and the whole file is rewritten atomically after each epoch. */
#ifndef FN_TRAIN_EPOCHLOG_H
#define FN_TRAIN_EPOCHLOG_H

#include "base/err.h"

#define FN_EPOCHLOG_HEADER "epoch\tlr\ttrain_loss\tval_loss\tval_dice\tseconds\n"

/* append one row to *rows (malloc'd, may start NULL) */
int fn_epochlog_add(char **rows, int epoch, double lr, double train_loss, double val_loss, double val_dice,
                    double seconds, fn_err *e);
/* write header + rows to path atomically */
int fn_epochlog_write(const char *path, const char *rows, fn_err *e);

#endif
