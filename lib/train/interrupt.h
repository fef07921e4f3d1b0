/* interrupt.h: SIGINT and SIGTERM during training.
 *
 * fn-train catches the two signals once its run is set up; the training loop then asks between steps
 * (fn_train_epoch, where the ranks of a data-parallel run agree through their loss sum) and, in one
 * process, before an epoch's files are written; a pending signal stops it at that point: the epoch under way is dropped whole, the files of the last finished epoch (state, best
 * model, log) stay as they are, and --resume repeats the dropped epoch exactly. A signal that arrives
 * while an epoch's files are being written waits for them to be complete. A signal that was ignored
 * when the process started (a background job of a non-interactive shell) stays ignored.
 *
 * The caught signal is process-wide by nature: it and whether fn-train catches yet are the only mutable
 * global state in lib/ (two sig_atomic_t: the handler writes the first, fn_interrupt_catch the second). */
#ifndef FN_TRAIN_INTERRUPT_H
#define FN_TRAIN_INTERRUPT_H

#include <stddef.h>
#include "base/err.h"
#include "train/state.h"

/* first thing in main, before any thread starts: the handlers (SA_RESTART), a thread that takes the
 * signals, and the signals blocked in the calling thread, so in every thread it starts after (OpenMP's,
 * the loader's): none is ever interrupted in its vector code. Until fn_interrupt_catch a signal has
 * its default action (fn-train dies as it would without this). 0, or -1 with e set */
int fn_interrupt_block(fn_err *e);
/* from now on a signal is caught, for fn_interrupt_signal */
void fn_interrupt_catch(void);
/* the first caught signal (SIGINT or SIGTERM), or 0 */
int fn_interrupt_signal(void);
/* the exit status of a process stopped by sig: 128 + sig (130 for SIGINT, 143 for SIGTERM) */
int fn_interrupt_status(int sig);
/* what a stop by sig during epoch st->epoch + 1 left behind, as one line (no program name), e.g.
 * "interrupted by SIGINT during epoch 5: stopped; the state of epoch 4 is in S and the best model
 * (epoch 3) in M; --resume S continues the run" */
void fn_interrupt_message(int sig, const fn_train_state *st, const char *state_path, char *buf, size_t n);

#endif
