/* Layer lib/nn (see lib/backend/backend.h for the order of the layers).
 * capture.h: when an inference forward runs as a replay of a recorded one (the backend's optional
 * capture_begin, capture_end and replay: CUDA graphs), plain C (net.c uses it; tests/unit/test_plan.c
 * checks it on the CPU).
 *
 * A recording holds the ops with their arguments (pointers, sizes, scalars), and reads the memory they
 * name when it is replayed; so it may be replayed only while everything it was recorded with stays: the
 * batch shape, the arena, its plan and the other buffers of the net, and the parameters' version (the backend may
 * keep what it derives from the parameters, as the CUDA backend's bf16 weights, outside the recording).
 * That is the key. A forward with a new key runs plainly (it also grows the backend's workspaces and
 * chooses its algorithms, which a recording must not do); the next one with the same key records (then
 * replays, since recording does not run the ops); later ones replay. A recording that failed is not tried
 * again for its key; a replay that failed (the backend dropped the recording: a new precision, memory freed
 * or regrown) starts over. */
#ifndef FN_NN_CAPTURE_H
#define FN_NN_CAPTURE_H

#include <stdint.h>

typedef struct fn_capture_key {
    int N, H, W;
    const void *bufs[4]; /* the net's device buffers the forward reads or writes (arena, aux, params, stats) */
    uint64_t version;    /* of the parameters */
    uint64_t plan;       /* which plan of the arena (tensor offsets): a new one for every planning */
} fn_capture_key;

enum { FN_CAP_RUN = 0, FN_CAP_RECORD = 1, FN_CAP_REPLAY = 2 };

typedef struct fn_capture {
    fn_capture_key key;
    int state; /* 0: no key; 1: ran once plainly with key; 2: recorded (id); 3: recording failed for key */
    long id;   /* the backend's id of the recording */
} fn_capture;

/* what the forward with key k does: FN_CAP_RUN, FN_CAP_RECORD or FN_CAP_REPLAY */
int fn_capture_next(fn_capture *c, const fn_capture_key *k);
/* after FN_CAP_RECORD: the backend's id of the recording, or < 0 when it failed */
void fn_capture_recorded(fn_capture *c, long id);
/* after a failed FN_CAP_REPLAY, or when the net's buffers change: forget the key */
void fn_capture_reset(fn_capture *c);

#endif
