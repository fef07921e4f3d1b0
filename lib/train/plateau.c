/* plateau.c: reduce the learning rate when the validation loss stops improving. */
#include <math.h>
#include "train/plateau.h"

void fn_plateau_init(fn_plateau *p, float lr, int patience) {
    p->lr = lr;
    p->factor = 0.5f;
    p->min_delta = 0.001;
    p->patience = patience;
    p->best = INFINITY;
    p->wait = 0;
}

int fn_plateau_update(fn_plateau *p, double val_loss) {
    if (val_loss < p->best - p->min_delta) {
        p->best = val_loss;
        p->wait = 0;
        return 0;
    }
    if (p->patience <= 0 || ++p->wait < p->patience) return 0;
    p->lr *= p->factor;
    p->wait = 0;
    return 1;
}
