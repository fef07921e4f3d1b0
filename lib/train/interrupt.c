/* interrupt.c: SIGINT and SIGTERM during training (see interrupt.h). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "train/interrupt.h"

static volatile sig_atomic_t caught; /* the first signal caught; written only by on_signal */
static volatile sig_atomic_t armed;  /* fn_interrupt_catch was called: catch, rather than die */

/* runs in the watcher thread (or a library's thread that does not block the signals) */
static void on_signal(int sig) {
    if (!armed) { /* still setting up: the default action, as if fn-train caught nothing */
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    if (!caught) caught = sig;
}

/* the one thread that takes the signals: the computing threads block them, so that no signal frame
 * ever interrupts their vector code (oneDNN's AVX-512 kernels, interrupted by SIGINT, corrupted the
 * heap in about one run in 20 on an AMD EPYC Zen 4 VM; never with ONEDNN_MAX_CPU_ISA=AVX2) */
static void *watcher(void *arg) {
    (void)arg;
    for (;;) pause();
    return NULL;
}

int fn_interrupt_block(fn_err *e) {
    static const int sigs[] = { SIGINT, SIGTERM };
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        struct sigaction old, sa;
        if (sigaction(sigs[i], NULL, &old)) return fn_seterr(e, "sigaction: %s", strerror(errno));
        if (old.sa_handler == SIG_IGN) continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        if (sigaction(sigs[i], &sa, NULL)) return fn_seterr(e, "sigaction: %s", strerror(errno));
        sigaddset(&set, sigs[i]);
    }
    pthread_attr_t at;
    pthread_t th;
    int rc = pthread_attr_init(&at);
    if (!rc) {
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        rc = pthread_create(&th, &at, watcher, NULL); /* before the block: it keeps the signals open */
        pthread_attr_destroy(&at);
    }
    if (rc) return fn_seterr(e, "cannot start the signal thread: %s", strerror(rc));
    if ((rc = pthread_sigmask(SIG_BLOCK, &set, NULL))) return fn_seterr(e, "pthread_sigmask: %s", strerror(rc));
    return 0;
}

void fn_interrupt_catch(void) {
    armed = 1;
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
