/* interrupt.c: SIGINT and SIGTERM during training (see interrupt.h). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include "train/interrupt.h"

static volatile sig_atomic_t caught; /* the first signal caught; written only by on_signal */

static void on_signal(int sig) {
    if (!caught) caught = sig;
}

int fn_interrupt_catch(fn_err *e) {
    static const int sigs[] = { SIGINT, SIGTERM };
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old, sa;
        if (sigaction(sigs[i], NULL, &old)) return fn_seterr(e, "sigaction: %s", strerror(errno));
        if (old.sa_handler == SIG_IGN) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(sigs[i], &sa, NULL)) return fn_seterr(e, "sigaction: %s", strerror(errno));
    }
    return 0;
}

int fn_interrupt_signal(void) {
    return caught;
}

int fn_interrupt_status(int sig) {
    return 128 + sig;
}

void fn_interrupt_message(int sig, const fn_train_state *st, const char *state_path, char *buf, size_t n) {
    const char *name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "a signal";
    char best[4300] = "";
    if (st->best_epoch) snprintf(best, sizeof best, " and the best model (epoch %d) in %s", st->best_epoch, st->out);
    if (st->epoch == 0)
        snprintf(buf, n, "interrupted by %s during epoch 1: stopped before any state or model was written", name);
    else
        snprintf(buf, n, "interrupted by %s during epoch %d: stopped; the state of epoch %d is in %s%s; "
                 "--resume %s continues the run", name, st->epoch + 1, st->epoch, state_path, best, state_path);
}
