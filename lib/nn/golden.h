/* golden.h: the whole-network check of shared/design/golden.md, on any backend.
 *
 * fn_golden_run reads a golden file (the batch shape from its `input` tensor; the network from its
 * metadata `arch` and `width`, FocusNet at width 1 without them), fills a net on `be` by
 * golden.md's formula, checks the file's input and target against the same formula, runs the
 * training-mode forward (dropout off), the Dice loss, the backward pass, one Adam step (lr 1e-3,
 * betas 0.9/0.999, eps 1e-7, no L2) and the inference forward, and measures every field's relative
 * error ||ours - ref|| / ||ref|| (NaN when a value is not finite). A file may widen a field's tolerance
 * (metadata tol_FIELD, e.g. tol_grad_sample): the comparison networks without residual paths have
 * exploding gradients at initialisation, where PyTorch's own float32 path lands percents away from its
 * float64 one; tests/golden/make_unets.py measures that distance and records three times it. Used by tests/tools/check-golden and
 * the unit tests; the CUDA backend's checks can call it too. */
#ifndef FN_GOLDEN_H
#define FN_GOLDEN_H

#include "backend/backend.h"
#include "base/err.h"

enum { FN_GOLDEN_INPUT, FN_GOLDEN_TARGET, FN_GOLDEN_OUTPUT_TRAIN, FN_GOLDEN_LOSS, FN_GOLDEN_GRAD_L2,
       FN_GOLDEN_GRAD_SAMPLE, FN_GOLDEN_OUTPUT_EVAL, FN_GOLDEN_NFIELDS };

/* field names and the tolerances of golden.md (the input and target are exact formulas: 1e-6) */
extern const char *const fn_golden_field[FN_GOLDEN_NFIELDS];
extern const double fn_golden_tol[FN_GOLDEN_NFIELDS];

typedef struct fn_golden_result {
    int N, C, H, W;                    /* the batch of the file */
    double err[FN_GOLDEN_NFIELDS];     /* relative errors */
    double tol[FN_GOLDEN_NFIELDS];     /* the tolerances applied: fn_golden_tol, or the file's tol_FIELD
                                          when that is larger */
    int pass;                          /* every err below its tolerance (NaN fails) */
    int nconv;                         /* convolutions of the net (its 4-D parameters) */
} fn_golden_result;

/* The tolerances when the matrix products round their inputs with unit roundoff u (bf16: u = 2^-8, of which
 * check-golden passes half; see fn_precision in backend.h), and r->pass again. A product of rounded inputs
 * a(1+d1) b(1+d2), |d| <= u, is off by at most 2u relative, and so is a sum of such products without
 * cancellation; D products in sequence (D = r->nconv, a bound on the depth of any path through the net) are
 * off by at most about 2Du to first order. So the forward fields (output_train, loss,
 * output_eval_after_adam) get 2*D*u, the gradients (a forward and a backward pass: 2D products) 4*D*u; a
 * file that widens a field's fp32 tolerance (an ill-conditioned net: tol_FIELD) multiplies that field's
 * bound by its widening factor. Each is the larger of that bound and the fp32 tolerance. */
void fn_golden_tol_rounded(fn_golden_result *r, double u);

/* 0 when the comparison ran (see r->pass for the verdict), -1 on a bad file or a failure (e set) */
int fn_golden_run(fn_backend *be, const char *path, fn_golden_result *r, fn_err *e);

#endif
