/* dataset.h: a stream of frames held in memory once, as f32, for training and validation (or, through
 * train/store.h, kept on disk). The record and the checks of one frame are in train/frames.h. */
#ifndef FN_TRAIN_DATASET_H
#define FN_TRAIN_DATASET_H

#include "train/frames.h"

/* Read every frame of r into ds (zeroed first). need_mask: every frame must have a mask.
 * An empty stream, a frame without image (or mask), a C/H/W that differs from the first frame,
 * H or W not a multiple of 16, a NaN or Inf: -1 with e set. */
int fn_dataset_read(fn_dataset *ds, fn_reader *r, int need_mask, fn_err *e);
void fn_dataset_free(fn_dataset *ds);

/* a 64-bit fingerprint of the values, frame by frame (image, then mask), and the shapes (to check
 * that a resumed run sees the same data); a set in a store has it from fn_store_open */
uint64_t fn_dataset_fingerprint(const fn_dataset *ds);

#endif
