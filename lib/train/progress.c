/* progress.c: progress text and timing. */
#include <math.h>
#include <stdio.h>
#include <time.h>
#include "train/progress.h"

double fn_clock(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

void fn_format_duration(double s, char *buf, size_t n) {
    if (!isfinite(s) || s < 0) { snprintf(buf, n, "?"); return; }
    long t = lround(s);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, n, "%lds", t);
}

void fn_progress_format(char *buf, size_t n, int epoch, int epochs, int step, int nsteps, double loss,
                        double ips, double eta_s) {
    char eta[32];
    fn_format_duration(eta_s, eta, sizeof eta);
    snprintf(buf, n, "epoch %d/%d step %d/%d loss %.4f %.1f img/s ETA %s", epoch, epochs, step, nsteps, loss, ips,
             eta);
}
