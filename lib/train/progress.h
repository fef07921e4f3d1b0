/* progress.h: the text of fn-train's progress line (the tool prints it), and its clock. */
#ifndef FN_TRAIN_PROGRESS_H
#define FN_TRAIN_PROGRESS_H

#include <stddef.h>

double fn_clock(void); /* seconds, monotonic */

/* "4m12s", "1h03m", "12s", "?" for a negative or non-finite value */
void fn_format_duration(double s, char *buf, size_t n);

/* "epoch 3/80 step 12/32 loss 0.1234 41.2 img/s ETA 4m12s" */
void fn_progress_format(char *buf, size_t n, int epoch, int epochs, int step, int nsteps, double loss,
                        double ips, double eta_s);

#endif
