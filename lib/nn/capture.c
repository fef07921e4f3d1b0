/* capture.c: when an inference forward is recorded and replayed (capture.h). */
#include <string.h>
#include "nn/capture.h"

static int same_key(const fn_capture_key *a, const fn_capture_key *b) {
    if (a->N != b->N || a->H != b->H || a->W != b->W || a->version != b->version || a->plan != b->plan) return 0;
    for (int i = 0; i < 4; i++)
        if (a->bufs[i] != b->bufs[i]) return 0;
    return 1;
}

int fn_capture_next(fn_capture *c, const fn_capture_key *k) {
    if (c->state == 0 || !same_key(&c->key, k)) {
        c->key = *k;
        c->state = 1;
        c->id = -1;
        return FN_CAP_RUN;
    }
    if (c->state == 1) return FN_CAP_RECORD;
    if (c->state == 2) return FN_CAP_REPLAY;
    return FN_CAP_RUN; /* 3: recording failed for this key */
}

void fn_capture_recorded(fn_capture *c, long id) {
    c->id = id;
    c->state = id >= 0 ? 2 : 3;
}

void fn_capture_reset(fn_capture *c) {
    memset(c, 0, sizeof *c);
    c->id = -1;
}
