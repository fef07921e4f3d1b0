/* batch.c: shuffled epochs, batch gathering, per-step dropout seeds. */
#include <string.h>
#include "base/rng.h"
#include "train/batch.h"

#define KEY_SHUFFLE 0x73687566666c65ULL /* "shuffle" */
#define KEY_DROPOUT 0x64726f706f7574ULL /* "dropout" */

void fn_epoch_order(uint64_t seed, long epoch, int n, int *perm) {
    fn_rng r;
    fn_rng_seed_key(&r, seed, KEY_SHUFFLE, (uint64_t)epoch);
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)fn_rng_below(&r, (uint64_t)i + 1);
        int t = perm[i]; perm[i] = perm[j]; perm[j] = t;
    }
}

int fn_nbatches(int n, int batch) { return (n + batch - 1) / batch; }

void fn_gather(const fn_dataset *ds, const int *idx, int nb, float *x, float *y) {
    size_t px = (size_t)ds->c * ds->h * ds->w, py = (size_t)ds->h * ds->w;
    for (int i = 0; i < nb; i++) {
        memcpy(x + px * i, ds->x + px * (size_t)idx[i], sizeof *x * px);
        if (ds->y && y) memcpy(y + py * i, ds->y + py * (size_t)idx[i], sizeof *y * py);
    }
}

uint64_t fn_dropout_seed(uint64_t seed, long step) {
    fn_rng r;
    fn_rng_seed_key(&r, seed, KEY_DROPOUT, (uint64_t)step);
    return fn_rng_u64(&r);
}
