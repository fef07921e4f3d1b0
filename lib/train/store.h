/* store.h: a training or validation set that stays on disk, with only an index in memory.
 *
 * fn_store_open reads a stream once: it checks every frame as fn_dataset_read does (one C x H x W,
 * H and W multiples of 16, finite values, masks of the image's size with values in [0, 1]) and
 * records where each frame lies. A regular file (a path, or stdin redirected from one) is itself the
 * store; a pipe is copied frame by frame into a spill file in $TMPDIR (else /tmp), unlinked at once
 * so that nothing is left behind. Memory: 12 bytes a frame plus one frame, however long the stream.
 *
 * fn_store_read converts one frame back to f32, as fn_input_image does. Reads use pread, so several
 * threads may read one store at once, each with its own fn_store_buf. */
#ifndef FN_TRAIN_STORE_H
#define FN_TRAIN_STORE_H

#include <stddef.h>
#include <stdint.h>
#include "base/err.h"
#include "train/frames.h"

typedef struct fn_store fn_store;

/* scratch of one reader (zero it before first use; fn_store_buf_free after) */
typedef struct fn_store_buf { unsigned char *p; size_t cap; } fn_store_buf;

/* Index path ("-": stdin) into a new store and fill ds (zeroed first) with its n, c, h, w, the
 * normalisation meta of the first frame, ds->store and ds->fp (the fingerprint of the values).
 * 0, or -1 with e set ("NAME: frame K (ID): what is wrong", as fn_dataset_read). */
int fn_store_open(fn_dataset *ds, const char *path, int need_mask, fn_err *e);
/* frame i as f32: x [c,h,w], y [1,h,w] (y may be NULL) */
int fn_store_read(const fn_store *s, int i, float *x, float *y, fn_store_buf *b, fn_err *e);
void fn_store_buf_free(fn_store_buf *b);
/* 1 when the frames were copied into a spill file (the input was not a regular file) */
int fn_store_spilled(const fn_store *s);
void fn_store_close(fn_store *s);

#endif
