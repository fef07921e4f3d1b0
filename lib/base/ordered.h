/* ordered.h: a parallel map whose results come out in order (fn-read: decode files on several threads,
 * write their frames in the order of the files).
 *
 * fn_ordered_map runs work(ctx, i, &res, e) for i = 0 .. n-1 on `threads` threads and hands each result
 * to emit(ctx, i, res, e) in order of i, on the calling thread, as soon as it and every one before it
 * are done. At most `threads` finished results wait to be emitted (memory stays bounded). Waiting
 * threads sleep on a condition variable (no spinning: on a busy machine a spinning waiter takes the
 * CPU from the thread it waits for). threads <= 1 runs everything on the calling thread.
 *
 * work returns 0 with *res set, or -1 with its e set and nothing left to free; emit takes the result
 * over and returns 0, or -1 with e set. The first failure in order of i stops the map: nothing after it
 * is emitted, no new work starts, results done but not emitted go to drop (may be NULL), and that
 * failure's error is copied to e and -1 returned. */
#ifndef FN_ORDERED_H
#define FN_ORDERED_H

#include "base/err.h"

typedef int (*fn_work_fn)(void *ctx, int i, void **res, fn_err *e);
typedef int (*fn_emit_fn)(void *ctx, int i, void *res, fn_err *e);
typedef void (*fn_drop_fn)(void *ctx, void *res);

int fn_ordered_map(int n, int threads, fn_work_fn work, fn_emit_fn emit, fn_drop_fn drop, void *ctx, fn_err *e);

#endif
