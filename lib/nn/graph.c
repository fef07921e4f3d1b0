/* graph.c: running the tape. Each op type is a pair op_fwd/op_bwd over the backend; the arena of
 * activations (and, for training, their gradients) is planned from the tensors' lifetimes.
 *
 * Gradient rule (lib/backend/backend.h): parameter gradients accumulate; an activation gradient is written by
 * the first op that reaches it in the backward pass (the last reader in the forward) and accumulated
 * by the others: net->gw[t] says whether tensor t's gradient has been written yet.
 *
 * Timeline for the plan: forward op i runs at time i, its backward at time 2*nops-1-i; the loss sits at
 * time nops, with the backward of the last op. A value lives from its op to its last reader (forward
 * or backward); a gradient from the backward of its last reader to the backward of its producer.
 * What a training plan keeps for the backward, and how the backward runs, the same bits either way:
 *  - the copies (upsampling, concatenation) and squeeze-excitations' outputs that a backward reads are
 *    made again in backward instead of kept (recomputed);
 *  - a batch norm's backward takes the in-place ReLU's after it, the mask from the norm's input
 *    (relu_bwd_fused: bn_relu_bwd);
 *  - where the backend folds a batch norm into the backward of the convolutions that read its output
 *    (conv_bwd_bn, where bn_fold_pays: bf16 on the CPU), that output is not kept at all (unkept);
 *  - an addition whose backward is the first to write an input's gradient hands that input its output's
 *    gradient, in the same storage, instead of copying it (grad_alias). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "nn/plan.h"
#include "nn/tape.h"

#define ALIGN 64 /* floats: 256 bytes */

static size_t hw(const fn_net *n, int t) {
    int l = n->T[t].lvl;
    return (size_t)(n->pH >> l) * (size_t)(n->pW >> l);
}

size_t fn_graph_tsize(const fn_net *n, int t) {
    return (size_t)n->pN * (size_t)n->T[t].C * hw(n, t);
}

static int root(const fn_net *n, int t) { return n->T[t].alias >= 0 ? n->T[t].alias : t; }

/* which inputs an op's backward reads: bit 0 x, bit 1 x2, bit 2 its own output y */
static int bwd_reads(const fn_op *o) {
    switch (o->type) {
    case OP_CONV: case OP_BN: case OP_SE: return 1;
    case OP_MUL: case OP_CMUL: return 3;
    case OP_POOL2: return 1;
    case OP_ACT: return 4;
    default: return 0;
    }
}

/* op i + 1 is an in-place ReLU of op i's output */
static int relu_follows(const fn_net *n, int i) {
    const fn_op *o = &n->O[i], *a = i + 1 < n->no ? &n->O[i + 1] : NULL;
    return a && a->type == OP_ACT && a->act == FN_ACT_RELU && a->x == o->y;
}

/* a tensor is stored in t (an in-place op's output) */
static int stored_in(const fn_net *n, int t) {
    for (int u = 0; u < n->nt; u++)
        if (n->T[u].alias == t) return 1;
    return 0;
}

/* tensor t is read by no op but a and b (a == b: one) */
static int read_only_by(const fn_net *n, int t, int a, int b) {
    for (int k = 0; k < n->no; k++)
        if (k != a && k != b && (n->O[k].x == t || n->O[k].x2 == t)) return 0;
    return 1;
}

/* tensor t is read by op k alone, and no tensor is stored in it (in place) */
static int only_reader(const fn_net *n, int t, int k) {
    return read_only_by(n, t, k, k) && !stored_in(n, t);
}

/* the in-place activations right after op i, each over the one before: how many */
static int inplace_acts(const fn_net *n, int i) {
    int k = 0;
    while (i + k + 1 < n->no) {
        const fn_op *a = &n->O[i + k + 1];
        if (a->type != OP_ACT || a->x != n->O[i + k].y || root(n, a->y) != n->O[i].y) break;
        k++;
    }
    return k;
}

/* Training: the output of op i when it is a copy (upsampling, concatenation) or a squeeze-excitation's
 * scaled input that some op's backward reads, of inputs that no later op overwrites in place and that the
 * plan keeps until then (an input made again itself is made again first: at the same op's backward, or an
 * earlier one's). Its value then need not live from the forward to the backward: the backward of its last
 * reader that reads it makes it again (T[t].recomp - 1, that op), into a slot (rv) that lives through its
 * readers' backwards; the op's inputs live until then instead. In FocusNet they live then anyway (the
 * skip connection, a ReLU's output that its backward reads, an upsampling's input a quarter the size, the
 * input that squeeze-excitation's own backward reads). A squeeze-excitation made again runs whole: its
 * pooled means, hidden values and gates in aux are written again with the same values. A convolution
 * that reads a normalised output never kept (unkept: conv_bwd_bn) reads the norm's input in its
 * backward. Returns the op whose backward makes it again, or -1 (kept as usual). */
static int recomputed(const fn_net *n, int i) {
    const fn_op *p = &n->O[i];
    const int t = p->y;
    if ((p->type != OP_UP2 && p->type != OP_CONCAT && p->type != OP_SE) || t < 0 || n->T[t].alias >= 0 ||
        root(n, n->out) == t || stored_in(n, t) || n->T[root(n, p->x)].unkept ||
        (p->x2 >= 0 && n->T[root(n, p->x2)].unkept))
        return -1;
    for (int u = 0; u < n->nt; u++) /* an input's storage written again later (in place): not the same copy */
        if (n->T[u].producer > i && (root(n, u) == root(n, p->x) || (p->x2 >= 0 && root(n, u) == root(n, p->x2))))
            return -1;
    int last = -1;
    for (int j = i + 1; j < n->no; j++) {
        const fn_op *o = &n->O[j];
        const fn_tdesc *in = o->x >= 0 ? &n->T[root(n, o->x)] : NULL;
        if ((o->x == t && (bwd_reads(o) & 1)) || (o->x2 == t && (bwd_reads(o) & 2)) ||
            (o->type == OP_CONV && in->unkept && n->O[in->producer].x == t))
            last = j;
    }
    return last;
}

/* Training: batch norm op i with an in-place ReLU right after it, which alone reads the norm's output:
 * when the backend has bn_relu_bwd, the norm's backward takes the ReLU's (from the ReLU output's gradient,
 * the norm's output's never made), and the ReLU's backward does nothing. 1, else 0. */
static int relu_bwd_fused(const fn_net *n, int i) {
    const fn_op *o = &n->O[i];
    if (o->type != OP_BN || !n->be->bn_relu_bwd || !relu_follows(n, i) || root(n, n->O[i + 1].y) != o->y) return 0;
    return read_only_by(n, o->y, i + 1, i + 1);
}

/* Training: batch norm op i whose output (with, maybe, the in-place ReLU right after it, its backward
 * fused with the norm's: relu_bwd_fused) only convolutions read, as their input, where the backend
 * folds the norm into their backward (conv_bwd_bn: the input made from the norm's input and saved
 * statistics as the backward lays it out) and says it pays (bn_fold_pays): the plan does not keep the
 * output for the backward. The norm's input lives until the norm's backward anyway. 1; 2 where additions
 * read it too (R2U-Net's and RU-Net's recurrent layers' outputs), whose backwards read no values: the
 * output is made in the forward (not in the convolutions' sources: unmade), and still not kept for the
 * backward; else 0. */
static int unkept(const fn_net *n, int i) {
    const fn_backend *be = n->be;
    const fn_op *p = &n->O[i];
    const int t = p->y, acts = inplace_acts(n, i);
    if (p->type != OP_BN || !be->conv_bwd_bn || !fn_graph_fold_pays(n)) return 0;
    if (t < 0 || n->T[t].alias >= 0 || root(n, n->out) == t || acts > 1 || (acts && !p->rbwd)) return 0;
    for (int u = 0; u < n->nt; u++)
        if (u != t && root(n, u) == t && n->T[u].producer > i + acts) return 0; /* written again later */
    int made = 0;
    for (int j = i + acts + 1; j < n->no; j++) {
        const fn_op *o = &n->O[j];
        const int rx = o->x >= 0 && root(n, o->x) == t, rx2 = o->x2 >= 0 && root(n, o->x2) == t;
        if (rx || rx2) {
            if (o->type == OP_ADD) made = 1;
            else if (rx2 || o->type != OP_CONV || n->T[o->x].nograd) return 0;
        }
    }
    return made ? 2 : 1;
}

/* Inference: a convolution whose output only its batch norm reads (and then, maybe, an in-place ReLU)
 * runs as one conv_bn_fwd_infer call when the backend has it. Returns the ops after op i that the call
 * takes on (1 or 2), else 0. */
static int conv_bn_fusable(const fn_net *n, int i) {
    const fn_op *o = &n->O[i], *b = i + 1 < n->no ? &n->O[i + 1] : NULL;
    if (o->type != OP_CONV || !b || b->type != OP_BN || b->x != o->y || o->y == n->out) return 0;
    if (root(n, o->x) == root(n, b->y) || !only_reader(n, o->y, i + 1)) return 0;
    return 1 + relu_follows(n, i + 1);
}

/* the other input z of addition a, one of whose inputs is t, where a fused call that reads x (and t's
 * values as it makes them) can write the sum itself: the sum's storage none of x's, t's or z's; else -1 */
static int addend(const fn_net *n, const fn_op *a, int t, int x) {
    if (!a || a->type != OP_ADD || (a->x != t && a->x2 != t)) return -1;
    const int z = a->x == t ? a->x2 : a->x, s = root(n, a->y);
    if (z < 0 || z == t || s == root(n, z) || s == root(n, x) || s == root(n, t)) return -1;
    return z;
}

/* Inference: convolution j whose output only the add right after it reads (the residual sum), that add
 * writing neither the convolution's input nor the other addend: both run as one conv_add_fwd_infer
 * call when the backend has it, the convolution's output never stored. 1, else 0. */
static int conv_residual(const fn_net *n, int j) {
    const fn_op *o = &n->O[j], *a = j + 1 < n->no ? &n->O[j + 1] : NULL;
    if (o->type != OP_CONV || o->y == n->out || addend(n, a, o->y, o->x) < 0) return 0;
    return only_reader(n, o->y, j + 1);
}

/* Inference: op i, fused with its batch norm (and ReLU) over the fuse ops after it and not chained, is
 * followed by an addition that alone reads the normalised output, of another tensor z (R2U-Net's
 * x + f(..), and its blocks' residual sums; Attention U-Net's W_g g + W_x x): the three run as one
 * conv_bn_add_fwd_infer call when the backend has it, writing the sum at op i's time; the normalised
 * output is never stored. 1, else 0. */
static int conv_bn_add(const fn_net *n, int i, int fuse) {
    const int j = i + fuse + 1, t = n->O[i + fuse].y;
    if (root(n, t) == root(n, n->out) || addend(n, j < n->no ? &n->O[j] : NULL, t, n->O[i].x) < 0) return 0;
    for (int k = 0; k < n->no; k++) { /* the normalised output: read by the ReLU in place over it and the add */
        const fn_op *r = &n->O[k];
        if ((k <= i + 1 || k > i + fuse) && k != j &&
            ((r->x >= 0 && root(n, r->x) == root(n, t)) || (r->x2 >= 0 && root(n, r->x2) == root(n, t))))
            return 0;
    }
    return 1;
}

/* conv_bn_add where the plan takes it: in the plans with residual sums, on a backend with the call */
static int takes_add(const fn_net *n, int i, int fuse) {
    return n->presid && n->be->conv_bn_add_fwd_infer && conv_bn_add(n, i, fuse);
}

/* Inference: op i reads a concatenation made right before it, which it alone reads: 1, else 0 */
static int cat_before(const fn_net *n, int i) {
    const fn_op *c = i > 0 ? &n->O[i - 1] : NULL;
    if (!c || c->type != OP_CONCAT || c->y != n->O[i].x) return 0;
    return c->y != n->out && only_reader(n, c->y, i) && !stored_in(n, c->y);
}

/* Inference: op i, a convolution fused with its batch norm and no more, reads a concatenation made right
 * before it, which it alone reads (U-Net's decoders): both run as one cat_conv_bn_fwd_infer call when the
 * backend has it, the concatenation laid out from its two parts. 1, else 0. */
static int cat_conv(const fn_net *n, int i) {
    const fn_op *o = &n->O[i];
    return o->fuse && !o->chain && !o->badd && !o->unit && cat_before(n, i);
}

/* Inference: op i, fused with its batch norm (and ReLU) over the fuse ops after it, is followed by a
 * convolution j that alone reads the normalised output: both run as one conv_bn_conv_fwd_infer call when
 * the backend has it, j with its own batch norm (and ReLU) where it is fused with them (conv_bn_fusable),
 * unless an addition after them takes j's call (conv_bn_add), or op i the concatenation before it
 * (cat_conv: a chained call of U-Net's decoders' pairs, from the concatenation's parts, measured slower,
 * its calls of fewer images). Returns the ops after op i + fuse that the call takes on: 1, or 1 + j's
 * fused ops; else 0. */
static int conv_chainable(const fn_net *n, int i, int fuse) {
    const int j = i + fuse + 1, t = n->O[i + fuse].y;
    if (j >= n->no || n->O[j].type != OP_CONV || n->O[j].x != t || t == n->out || root(n, t) == root(n, n->out))
        return 0;
    const int f2 = conv_bn_fusable(n, j);
    if (f2 && (takes_add(n, j, f2) || (n->presid && n->be->cat_conv_bn_fwd_infer && cat_before(n, i)))) return 0;
    if (root(n, n->O[j + f2].y) == root(n, n->O[i].x)) return 0;
    for (int k = 0; k < n->no; k++) { /* the norm's output, the ReLU's in place, is read by the ReLU and op j only */
        const fn_op *o = &n->O[k];
        if (k > i && k <= j) continue;
        if ((o->x >= 0 && root(n, o->x) == root(n, t)) || (o->x2 >= 0 && root(n, o->x2) == root(n, t))) return 0;
    }
    return 1 + f2;
}

/* Inference: op i's input is made by the batch norm two ops before it and the in-place ReLU right before
 * it, which op i alone reads: 1, else 0 */
static int pre_norm(const fn_net *n, int i) {
    if (i < 2) return 0;
    const fn_op *b = &n->O[i - 2], *a = &n->O[i - 1];
    if (b->type != OP_BN || !relu_follows(n, i - 2) || n->O[i].x != a->y || b->y == n->out) return 0;
    return read_only_by(n, b->y, i - 1, i - 1) && only_reader(n, a->y, i);
}

/* Inference: op i, chained with the convolution j after its fused ops (conv_chainable), starts a residual
 * unit: the unit's input (op i's, or the input of the batch norm and ReLU before it: *pre, pre_norm) is
 * read by a shortcut convolution right after op j (and the chain's ops after it: its batch norm and ReLU),
 * which takes the residual sum of its output and op j's (conv_residual): 2; or is added to op j's output
 * by the add right after them (the identity), in a tensor of its own: 1. Op j's output is read by that sum
 * alone. All run as one unit_fwd_infer call when the backend has it; else 0. */
static int res_unit(const fn_net *n, int i, int fuse, int chain, int *pre) {
    const int p = i + fuse + chain + 1, y2 = n->O[p - 1].y; /* y2: op j's output (through its norm) */
    *pre = pre_norm(n, i);
    const int in = *pre ? n->O[i - 2].x : n->O[i].x;
    if (p >= n->no) return 0;
    const fn_op *c = &n->O[p];
    if (c->type == OP_CONV) {
        if (p + 1 >= n->no || c->x != in || !conv_residual(n, p)) return 0;
        const fn_op *a = &n->O[p + 1];
        return (a->x == c->y ? a->x2 : a->x) == y2 && only_reader(n, y2, p + 1) ? 2 : 0;
    }
    if (c->type != OP_ADD || !((c->x == in && c->x2 == y2) || (c->x2 == in && c->x == y2))) return 0;
    if (root(n, c->y) == root(n, in) || root(n, c->y) == root(n, y2) || c->y == n->out) return 0;
    return only_reader(n, y2, p) && n->T[in].C == n->T[y2].C && n->T[in].lvl == n->T[y2].lvl;
}

/* Inference: op i starts a residual unit with a shortcut convolution (res_unit 2) whose input is the
 * output of the concatenation right before it, read by the unit's first convolution and shortcut alone:
 * the unit's call takes the concatenation's two inputs instead. 1, else 0. */
static int cat_unit(const fn_net *n, int i, int fuse, int chain) {
    const fn_op *c = i > 0 ? &n->O[i - 1] : NULL;
    const int t = n->O[i].x, p = i + fuse + chain + 1;
    return c && c->type == OP_CONCAT && c->y == t && t != n->out && !stored_in(n, t) && read_only_by(n, t, i, p);
}

/* Inference: op i, an upsampling, is read only by the convolution right after it, which no other fused
 * call takes on (no batch norm, no residual sum after it): both run as one up_conv_fwd_infer call when the
 * backend has it. 1, else 0. */
static int up_conv(const fn_net *n, int i) {
    const fn_op *o = &n->O[i], *c = i + 1 < n->no ? &n->O[i + 1] : NULL;
    if (o->type != OP_UP2 || !c || c->type != OP_CONV || c->x != o->y || o->y == n->out || c->y == n->out) return 0;
    return only_reader(n, o->y, i + 1) && !conv_bn_fusable(n, i + 1) && !conv_residual(n, i + 1);
}

int fn_graph_fold_pays(const fn_net *n) {
    return !n->be->bn_fold_pays || n->be->bn_fold_pays(n->be->ctx);
}

int fn_graph_resid_pays(const fn_net *n) {
    const fn_backend *be = n->be;
    return be->conv_add_fwd_infer && (!be->resid_pays || be->resid_pays(be->ctx));
}

/* the backend's nhwc_pays, for a net whose output has one channel (the same in both layouts) */
int fn_graph_nhwc_pays(const fn_net *n, int train) {
    const fn_backend *be = n->be;
    return be->nhwc_pays && be->set_nhwc && be->nhwc && n->T[n->out].C == 1 && be->nhwc_pays(be->ctx, train);
}

float *fn_graph_input(const fn_net *n) {
    return n->pnhwc ? n->aux + n->in_off : n->T[n->in].v;
}

/* extend the lifetime [s[t], e[t]] to cover time */
static void use(int *s, int *e, int t, int time) {
    if (time < s[t]) s[t] = time;
    if (time > e[t]) e[t] = time;
}

/* tensor t read by a backward at time bt: its value, or its backward copy where it is made again (or
 * nothing: a normalised output the backward makes from the norm's input); bm: the value's first backward
 * read */
static void backward_read(const fn_net *n, int *vs, int *ve, int *rs, int *re, int *bm, int t, int bt) {
    const int r = root(n, t);
    if (n->T[r].recomp) use(rs, re, r, bt);
    else if (!n->T[r].unkept) use(vs, ve, r, bt), bm[r] = bt < bm[r] ? bt : bm[r];
}

/* Training, bf16: tensor t, whose value a backward reads and the plan keeps until then (not made again,
 * nor unkept), is kept in bf16 from its last forward use (time fl) to its first backward read (bm), when
 * the backend keeps values so (keep_bf16): rounded into a slot of half the size after that forward op,
 * widened again into a slot (rv) that lives through its backward reads, as a copy made again is
 * (recomputed). The backward then reads the values rounded to bf16, as PyTorch's autocast keeps them;
 * the convolutions' backward-filter passes, which round their sources to bf16 themselves, read the same
 * bits. Not the input (read at the very end), the output (the loss's), nor the dropout mask. 1, else 0. */
static int halved(const fn_net *n, int t, int fl, int bm) {
    const fn_tdesc *d = &n->T[t];
    return d->alias < 0 && !d->recomp && !d->unkept && !d->train_only && t != n->in && t != root(n, n->out) &&
           bm < (1 << 30) && fl < bm;
}

static size_t up_align(size_t v) { return (v + ALIGN - 1) / ALIGN * ALIGN; }

/* op i is the last op that reads tensor t (as either input) */
static int last_reader(const fn_net *n, int t, int i) {
    for (int j = i + 1; j < n->no; j++)
        if (n->O[j].x == t || n->O[j].x2 == t) return 0;
    return 1;
}

/* the tensor whose gradient storage t's is (itself where it has its own) */
static int groot(const fn_net *n, int t) {
    while (n->T[t].galias >= 0) t = n->T[t].galias;
    return t;
}

/* Training: the input of addition op i whose gradient can be its output's, in the same storage: the
 * addition is the input's last reader, so its backward writes the input's gradient first (a copy of the
 * output's, which nothing reads after that backward); the other readers' backwards then add to it. The
 * first input that can, else -1. The same values as the copy, so the same bits. */
static int grad_alias(const fn_net *n, int i, const int *ge) {
    const fn_op *o = &n->O[i];
    if (o->type != OP_ADD || o->x == o->x2 || n->T[o->y].nograd || ge[groot(n, o->y)] < 0) return -1;
    const int in[2] = { o->x, o->x2 };
    for (int k = 0; k < 2; k++)
        if (!n->T[in[k]].nograd && ge[in[k]] >= 0 && last_reader(n, in[k], i)) return in[k];
    return -1;
}

int fn_graph_plan(fn_net *n, int N, int H, int W, int train, fn_err *e) {
    fn_backend *be = n->be;
    int nops = n->no, nt = n->nt;
    n->pN = N; n->pH = H; n->pW = W; n->ptrain = train;
    /* value, gradient and (recomputed) backward copy lifetimes */
    int *vs = malloc(sizeof *vs * (size_t)nt * 10), *ve = vs + nt, *gs = vs + 2 * nt, *ge = vs + 3 * nt,
        *rs = vs + 4 * nt, *re = vs + 5 * nt, *fl = vs + 6 * nt, *bm = vs + 7 * nt, *hs = vs + 8 * nt,
        *he = vs + 9 * nt; /* fl, bm: a value's last forward use and first backward read; hs, he: its bf16 */
    fn_plan_item *it = malloc(sizeof *it * (size_t)nt * 4);
    if (!vs || !it) { free(vs); free(it); return fn_seterr(e, "out of memory planning the network"); }
    for (int t = 0; t < nt; t++) {
        vs[t] = gs[t] = rs[t] = bm[t] = hs[t] = 1 << 30;
        ve[t] = ge[t] = re[t] = fl[t] = he[t] = -1;
    }
    for (int t = 0; t < nt; t++) n->T[t].recomp = n->T[t].unkept = n->T[t].half = 0, n->T[t].galias = -1;
    for (int i = 0; i < nops; i++) n->O[i].taken = 0;
    n->pfold = fn_graph_fold_pays(n);
    for (int i = 0; i < nops; i++) n->O[i].rbwd = train && !n->plain_bwd && relu_bwd_fused(n, i);
    for (int i = 0; i < nops && train && !n->plain_bwd; i++) {
        const int k = unkept(n, i);
        if (k) n->T[n->O[i].y].unkept = k;
    }
    for (int i = 0; i < nops && train && !n->plain_bwd; i++) {
        if (n->O[i].y >= 0 && n->T[n->O[i].y].unkept) continue;
        const int last = recomputed(n, i);
        if (last < 0) continue;
        n->T[n->O[i].y].recomp = last + 1;
        const int ins[2] = { n->O[i].x, n->O[i].x2 };
        for (int k = 0; k < 2; k++) { /* an input made again: by then */
            fn_tdesc *u = ins[k] >= 0 ? &n->T[root(n, ins[k])] : NULL;
            if (u && u->recomp && u->recomp < last + 1) u->recomp = last + 1;
        }
    }
    int second = -1; /* the second convolution of the last chained call */
    n->presid = fn_graph_resid_pays(n);
    /* channels last: every tensor but the input, which is uploaded as it comes */
    n->pnhwc = fn_graph_nhwc_pays(n, train);
    for (int i = 0; i < nops; i++) {
        fn_op *o = &n->O[i];
        /* a ReLU whose backward its norm's takes (rbwd) reads nothing then, and needs no input gradient */
        const int quiet = i > 0 && n->O[i - 1].rbwd;
        int bt = 2 * nops - 1 - i, r = quiet ? 0 : bwd_reads(o);
        /* a fused call writes the norm's output while it reads x: x lives until the last op it runs */
        /* (the second convolution of a chained call is that call's) */
        o->fuse = !train && i != second && be->conv_bn_fwd_infer ? conv_bn_fusable(n, i) : 0;
        o->chain = o->fuse && be->conv_bn_conv_fwd_infer ? conv_chainable(n, i, o->fuse) : 0;
        if (o->fuse) use(vs, ve, root(n, o->x), i + o->fuse + o->chain);
        if (o->chain) second = i + o->fuse + 1;
        /* the second through its own norm writes that norm's output while it reads the first's */
        if (o->chain > 1) use(vs, ve, root(n, n->O[i + o->fuse].y), i + o->fuse + o->chain);
        /* a residual unit's call writes the sum's output before its time, at the shortcut's (resid) or the
         * identity's add: the only tensors that can then share its storage are the first's normalised
         * output (the unit's scratch) and its in-place ReLU's, and the normalised input of a batch norm
         * the unit takes, which the backend lets it overlap */
        int pre = 0;
        o->unit = o->chain && n->presid && be->unit_fwd_infer ? res_unit(n, i, o->fuse, o->chain, &pre) : 0;
        if (o->unit && pre) n->O[i - 2].taken = n->O[i - 1].taken = 1;
        /* a unit that takes the concatenation before it reads that concatenation's inputs at its own time (all
         * of them before it writes its output, which may take their storage: backend.h fn_unit) */
        if (o->unit == 2 && !pre && cat_unit(n, i, o->fuse, o->chain)) {
            n->O[i - 1].taken = 1;
            use(vs, ve, root(n, n->O[i - 1].x), i);
            use(vs, ve, root(n, n->O[i - 1].x2), i);
        }
        /* a convolution that takes the addition after its batch norm writes the sum at its own time, and reads
         * the addend then */
        o->badd = o->fuse && !o->chain && takes_add(n, i, o->fuse);
        if (o->badd) {
            const fn_op *a = &n->O[i + o->fuse + 1];
            use(vs, ve, root(n, a->y), i);
            use(vs, ve, root(n, addend(n, a, n->O[i + o->fuse].y, o->x)), i);
        }
        /* a convolution that takes the concatenation before it reads the concatenation's inputs at its own time
         * (all of them before it writes its output, which may take their storage: backend.h) */
        o->catin = !train && n->presid && be->cat_conv_bn_fwd_infer ? cat_conv(n, i) : 0;
        if (o->catin) {
            n->O[i - 1].taken = 1;
            use(vs, ve, root(n, n->O[i - 1].x), i);
            use(vs, ve, root(n, n->O[i - 1].x2), i);
        }
        /* an upsampling that takes its convolution writes the convolution's output at its own time */
        o->upc = !train && n->presid && be->up_conv_fwd_infer ? up_conv(n, i) : 0;
        if (o->upc) use(vs, ve, root(n, n->O[i + 1].y), i);
        /* a convolution that takes its residual sum writes the sum's output at its own time */
        o->resid = !train && !o->fuse && i != second && n->presid ? conv_residual(n, i) : 0;
        if (o->resid) use(vs, ve, root(n, n->O[i + 1].y), i);
        int ins[2] = { o->x, o->x2 };
        /* a recomputed output is made again at the backward of op recomp - 1: its inputs live until then */
        const int remade = o->y >= 0 && n->T[o->y].recomp ? 2 * nops - 1 - (n->T[o->y].recomp - 1) : -1;
        for (int k = 0; k < 2; k++) {
            if (ins[k] < 0) continue;
            use(vs, ve, root(n, ins[k]), i);
            fl[root(n, ins[k])] = i;
            if (train && (r >> k & 1)) backward_read(n, vs, ve, rs, re, bm, ins[k], bt);
            if (remade >= 0) backward_read(n, vs, ve, rs, re, bm, ins[k], remade);
            if (train && !n->T[ins[k]].nograd && !quiet) use(gs, ge, ins[k], bt);
        }
        /* a convolution of an unkept normalised output reads the norm's input, in both passes (conv_bn_fwd_train,
         * conv_bwd_bn) */
        if (train && o->type == OP_CONV && n->T[root(n, o->x)].unkept) {
            const int xb = root(n, n->O[n->T[root(n, o->x)].producer].x);
            use(vs, ve, xb, i);
            fl[xb] = i;
            backward_read(n, vs, ve, rs, re, bm, xb, bt);
        }
        if (o->y >= 0) {
            use(vs, ve, root(n, o->y), i);
            fl[root(n, o->y)] = i;
            if (train && (r & 4)) backward_read(n, vs, ve, rs, re, bm, o->y, bt);
            /* the norm's backward reads the gradient of the ReLU's output instead of its own output's */
            const int gy = o->rbwd ? n->O[i + 1].y : o->y;
            if (train && !n->T[gy].nograd && !quiet) use(gs, ge, gy, bt);
        }
        if (train && o->mask >= 0) { use(vs, ve, o->mask, i); use(vs, ve, o->mask, bt); }
    }
    for (int t = 0; t < nt; t++) /* a value made again in backward: from then */
        if (n->T[t].recomp) use(rs, re, t, 2 * nops - 1 - (n->T[t].recomp - 1));
    /* values kept in bf16 (halved): the value through the forward, its bf16 until its first backward read,
     * then widened again by the backward of the op at that time, into a slot through its backward reads */
    const int keep = train && !n->plain_bwd &&
                     (n->half_exact || (be->keep_bf16 && be->to_bf16 && be->from_bf16 && be->keep_bf16(be->ctx)));
    for (int t = 0; t < nt && keep; t++) {
        if (!halved(n, t, fl[t], bm[t])) continue;
        n->T[t].half = 1;
        n->T[t].hafter = fl[t];
        n->T[t].recomp = 2 * nops - 1 - bm[t] + 1;
        use(rs, re, t, bm[t]);
        use(rs, re, t, ve[t]);
        hs[t] = fl[t], he[t] = bm[t];
        ve[t] = fl[t];
    }
    /* a convolution that takes its residual sum never stores its own output (only the sum read it), nor one
     * that takes the sum after its batch norm the normalised output */
    for (int i = 0; i < nops; i++) {
        if (n->O[i].resid) vs[root(n, n->O[i].y)] = 1 << 30, ve[root(n, n->O[i].y)] = -1;
        if (n->O[i].badd) vs[root(n, n->O[i + n->O[i].fuse].y)] = 1 << 30, ve[root(n, n->O[i + n->O[i].fuse].y)] = -1;
    }
    /* the output is read by the download (inference) or the loss */
    use(vs, ve, root(n, n->out), train ? nops : nops - 1);
    if (train) use(gs, ge, n->out, nops);
    /* an addition's input gradient in its output's storage (the root's, along a chain of additions: the
     * later ones come first): that storage lives through both */
    for (int i = nops - 1; i >= 0 && train && !n->plain_bwd; i--) {
        const int t = grad_alias(n, i, ge);
        if (t < 0) continue;
        n->T[t].galias = n->O[i].y;
        const int r = groot(n, t);
        use(gs, ge, r, gs[t]);
        use(gs, ge, r, ge[t]);
        ge[t] = -1; /* no storage of its own */
    }
    int ni = 0;
    for (int t = 0; t < nt; t++) {
        if (ve[t] >= 0 && n->T[t].alias < 0)
            it[ni++] = (fn_plan_item){ up_align(fn_graph_tsize(n, t)), 0, vs[t], ve[t], t, 0 };
        if (train && ge[t] >= 0)
            it[ni++] = (fn_plan_item){ up_align(fn_graph_tsize(n, t)), 0, gs[t], ge[t], t, 1 };
        if (re[t] >= 0) it[ni++] = (fn_plan_item){ up_align(fn_graph_tsize(n, t)), 0, rs[t], re[t], t, 2 };
        if (he[t] >= 0) /* bf16: half the floats (in full: half_exact's copies) */
            it[ni++] = (fn_plan_item){ up_align(n->half_exact ? fn_graph_tsize(n, t) : (fn_graph_tsize(n, t) + 1) / 2),
                                       0, hs[t], he[t], t, 3 };
    }
    size_t total = fn_plan_place(it, ni); /* plan.h */
    free(vs);
    if (total == (size_t)-1) {
        free(it);
        n->pN = 0;
        return fn_seterr(e, "out of memory planning the network");
    }

    /* aux: bn mean, invstd [C] each; se pool [N,C], hid [N,Cr], gate [N,C]; the target [N,1,H,W] */
    size_t aux = 0;
    for (int i = 0; i < nops; i++) {
        fn_op *o = &n->O[i];
        int C = n->T[o->x < 0 ? 0 : o->x].C;
        if (o->type == OP_BN) { o->aux = aux; aux += up_align(2 * (size_t)C); }
        if (o->type == OP_SE) { o->aux = aux; aux += up_align((size_t)N * (2 * (size_t)C + (size_t)o->Cr)); }
    }
    n->target_off = aux;
    aux += up_align((size_t)N * H * W);
    n->in_off = aux;
    if (n->pnhwc) aux += up_align(fn_graph_tsize(n, n->in));

    if (total > n->arena_cap) {
        if (n->arena) be->free(be->ctx, n->arena);
        n->arena = be->alloc(be->ctx, total);
        n->arena_cap = n->arena ? total : 0;
    }
    if (aux > n->aux_cap) {
        if (n->aux) be->free(be->ctx, n->aux);
        n->aux = be->alloc(be->ctx, aux);
        n->aux_cap = n->aux ? aux : 0;
    }
    if (!n->arena || !n->aux) {
        free(it);
        n->pN = 0;
        return fn_seterr(e, "out of memory for the activations of a batch of %d at %dx%d (%.1f GB)", N, H, W,
                         (double)(total + aux) * 4 / 1e9);
    }
    n->arena_used = total;
    n->aux_used = aux;
    n->plan_gen++;
    for (int t = 0; t < nt; t++) n->T[t].v = n->T[t].g = n->T[t].rv = NULL, n->T[t].h = NULL;
    for (int i = 0; i < ni; i++) {
        float *p = n->arena + it[i].off;
        if (it[i].grad == 1) n->T[it[i].t].g = p;
        else if (it[i].grad == 2) n->T[it[i].t].rv = p;
        else if (it[i].grad == 3) n->T[it[i].t].h = (uint16_t *)(void *)p;
        else n->T[it[i].t].v = p;
    }
    for (int t = 0; t < nt; t++)
        if (n->T[t].alias >= 0) n->T[t].v = n->T[n->T[t].alias].v;
    for (int t = 0; t < nt && train; t++)
        if (n->T[t].galias >= 0) n->T[t].g = n->T[groot(n, t)].g;
    free(it);
    return 0;
}

/* ---------------------------------------------------------------------------------------------- */
/* the ops, forward and backward */

#define V(t) (n->T[t].v)
#define G(t) (n->T[t].g)
#define PAR(i) (n->params + n->P[i].offset)
#define GRD(i) (n->grads + n->P[i].offset)

/* gradient accumulate flag for tensor t, marking it written */
static int acc(fn_net *n, int t) {
    int a = n->gw[t];
    n->gw[t] = 1;
    return a;
}

/* batch norm, with the ReLU that follows fused into it when relu (the backend has the fused call) */
/* the running mean and variance [C] of batch norm o */
static float *bn_running(const fn_net *n, const fn_op *o, float **rv) {
    *rv = n->stats + n->S[2 * o->bn + 1].offset;
    return n->stats + n->S[2 * o->bn].offset;
}

/* A training forward's normalised output t that the plan does not keep (unkept), in a channels-last plan
 * whose backend makes the convolutions that read it from the norm's input (conv_bn_fwd_train: the norm as
 * the prologue of the convolution's source, laid out anyway): t is never made. 1, else 0 */
static int unmade(const fn_net *n, int t, int train) {
    return train && n->pnhwc && n->be->conv_bn_fwd_train && n->T[root(n, t)].unkept == 1;
}

static void bn_fwd(fn_net *n, const fn_op *o, int train, int relu) {
    fn_backend *be = n->be;
    void *c = be->ctx;
    int N = n->pN, C = n->T[o->x].C;
    float *rv, *rm = bn_running(n, o, &rv);
    float *mean = n->aux + o->aux, *invstd = mean + C;
    float *y = unmade(n, o->y, train) ? NULL : V(o->y); /* NULL: the statistics only */
    if (train && relu)
        be->bn_relu_fwd_train(c, V(o->x), PAR(o->p0), PAR(o->p1), y, mean, invstd, rm, rv, N, C, (int)hw(n, o->x),
                              n->bn_momentum, n->bn_eps);
    else if (train)
        be->bn_fwd_train(c, V(o->x), PAR(o->p0), PAR(o->p1), y, mean, invstd, rm, rv, N, C, (int)hw(n, o->x),
                         n->bn_momentum, n->bn_eps);
    else if (relu)
        be->bn_relu_fwd_infer(c, V(o->x), PAR(o->p0), PAR(o->p1), V(o->y), rm, rv, N, C, (int)hw(n, o->x), n->bn_eps);
    else
        be->bn_fwd_infer(c, V(o->x), PAR(o->p0), PAR(o->p1), V(o->y), rm, rv, N, C, (int)hw(n, o->x), n->bn_eps);
}

/* op i is a batch norm whose output only the in-place ReLU of op i + 1 reads, and the backend fuses the
 * two: 1 (both run, as one call: the ReLU's storage is the norm's output), else 0 */
static int bn_relu_fwd(fn_net *n, int i, int train) {
    const fn_op *o = &n->O[i];
    if (o->type != OP_BN || !relu_follows(n, i)) return 0;
    if (train ? !n->be->bn_relu_fwd_train : !n->be->bn_relu_fwd_infer) return 0;
    bn_fwd(n, o, train, 1);
    return 1;
}

/* the batch norm (and ReLU) of chained op o's second convolution, into *bn: bn, or NULL where it has none */
static const fn_bn_infer *second_bn(fn_net *n, const fn_op *o, fn_bn_infer *bn) {
    if (o->chain < 2) return NULL;
    const fn_op *b2 = o + o->fuse + 2;
    float *rv, *rm = bn_running(n, b2, &rv);
    *bn = (fn_bn_infer){ PAR(b2->p0), PAR(b2->p1), rm, rv, n->bn_eps, o->chain == 3 };
    return bn;
}

/* op i is a convolution the plan fused with its batch norm (and ReLU), and maybe the convolution after
 * them (chain, with its own), and a residual unit's sum (unit): one call; the ops it took on */
static int conv_bn_fwd(fn_net *n, int i) {
    const fn_op *o = &n->O[i], *b = &n->O[i + 1];
    const fn_tdesc *x = &n->T[o->x], *y = &n->T[o->y];
    float *rv, *rm = bn_running(n, b, &rv);
    if (o->unit) {
        const fn_op *o2 = &n->O[i + o->fuse + 1], *p = o2 + o->chain, *a = o->unit == 2 ? p + 1 : p; /* a: the sum */
        fn_bn_infer bn2;
        const fn_bn_infer *b2 = second_bn(n, o, &bn2);
        const fn_op *cat = i > 0 && n->O[i - 1].taken && n->O[i - 1].type == OP_CONCAT ? &n->O[i - 1] : NULL;
        const fn_op *b0 = i > 1 && n->O[i - 2].taken && n->O[i - 2].type == OP_BN ? &n->O[i - 2] : NULL;
        const fn_tdesc *in = &n->T[b0 ? b0->x : o->x]; /* the unit's input */
        float *pv = NULL, *pm = b0 ? bn_running(n, b0, &pv) : NULL;
        const fn_unit u = {
            .x = V(cat ? cat->x : b0 ? b0->x : o->x), .x2 = cat ? V(cat->x2) : NULL, .Ci2 = cat ? n->T[cat->x2].C : 0,
            .xc = cat ? V(o->x) : NULL, .pre_gamma = b0 ? PAR(b0->p0) : NULL, .pre_beta = b0 ? PAR(b0->p1) : NULL,
            .pre_mean = pm, .pre_var = pv, .pre_relu = b0 != NULL, .h = b0 ? V(o->x) : NULL,
            .w1 = PAR(o->p0), .b1 = o->p1 >= 0 ? PAR(o->p1) : NULL, .C1 = y->C, .k1 = o->k, .s1 = o->s,
            .gamma = PAR(b->p0), .beta = PAR(b->p1), .rmean = rm, .rvar = rv, .relu = o->fuse == 2, .y1 = V(b->y),
            .w2 = PAR(o2->p0), .b2 = o2->p1 >= 0 ? PAR(o2->p1) : NULL, .C2 = n->T[o2->y].C, .k2 = o2->k, .s2 = o2->s,
            .bn2 = b2, .y2 = V((b2 ? o2 + 1 : o2)->y), .w3 = o->unit == 2 ? PAR(p->p0) : NULL,
            .b3 = o->unit == 2 && p->p1 >= 0 ? PAR(p->p1) : NULL, .k3 = p->k, .s3 = p->s, .eps = n->bn_eps,
            .y = V(a->y) };
        n->be->unit_fwd_infer(n->be->ctx, &u, n->pN, in->C, n->pH >> in->lvl, n->pW >> in->lvl);
        return o->fuse + o->chain + o->unit;
    }
    if (o->chain) {
        const fn_op *o2 = &n->O[i + o->fuse + 1];
        fn_bn_infer bn2;
        const fn_bn_infer *b2 = second_bn(n, o, &bn2);
        n->be->conv_bn_conv_fwd_infer(n->be->ctx, V(o->x), PAR(o->p0), o->p1 >= 0 ? PAR(o->p1) : NULL, V(b->y),
                                      n->pN, x->C, n->pH >> x->lvl, n->pW >> x->lvl, y->C, o->k, o->s, PAR(b->p0),
                                      PAR(b->p1), rm, rv, n->bn_eps, o->fuse == 2, PAR(o2->p0),
                                      o2->p1 >= 0 ? PAR(o2->p1) : NULL, V((b2 ? o2 + 1 : o2)->y), n->T[o2->y].C, o2->k,
                                      o2->s, b2);
        return o->fuse + o->chain;
    }
    if (o->catin) {
        const fn_op *c = &n->O[i - 1];
        n->be->cat_conv_bn_fwd_infer(n->be->ctx, V(c->x), V(c->x2), n->T[c->x2].C, V(c->y), PAR(o->p0),
                                     o->p1 >= 0 ? PAR(o->p1) : NULL, V(b->y), n->pN, x->C, n->pH >> x->lvl,
                                     n->pW >> x->lvl, y->C, o->k, o->s, PAR(b->p0), PAR(b->p1), rm, rv, n->bn_eps,
                                     o->fuse == 2);
        return o->fuse;
    }
    if (o->badd) {
        const fn_op *a = &n->O[i + o->fuse + 1];
        const int z = addend(n, a, n->O[i + o->fuse].y, o->x);
        n->be->conv_bn_add_fwd_infer(n->be->ctx, V(o->x), PAR(o->p0), o->p1 >= 0 ? PAR(o->p1) : NULL, V(z), V(a->y),
                                     n->pN, x->C, n->pH >> x->lvl, n->pW >> x->lvl, y->C, o->k, o->s, PAR(b->p0),
                                     PAR(b->p1), rm, rv, n->bn_eps, o->fuse == 2);
        return o->fuse + 1;
    }
    n->be->conv_bn_fwd_infer(n->be->ctx, V(o->x), PAR(o->p0), o->p1 >= 0 ? PAR(o->p1) : NULL, V(b->y), n->pN,
                             x->C, n->pH >> x->lvl, n->pW >> x->lvl, y->C, o->k, o->s, PAR(b->p0), PAR(b->p1),
                             rm, rv, n->bn_eps, o->fuse == 2);
    return o->fuse;
}

/* op i is an upsampling the plan fused with the convolution after it: one call; the ops it took on */
static int up_conv_fwd(fn_net *n, int i) {
    const fn_op *o = &n->O[i], *c = &n->O[i + 1];
    const fn_tdesc *x = &n->T[o->x];
    n->be->up_conv_fwd_infer(n->be->ctx, V(o->x), V(o->y), PAR(c->p0), c->p1 >= 0 ? PAR(c->p1) : NULL, V(c->y), n->pN,
                             x->C, n->pH >> x->lvl, n->pW >> x->lvl, n->T[c->y].C, c->k, c->s);
    return 1;
}

/* op i is a convolution the plan fused with the residual sum after it: one call; the ops it took on */
static int conv_add_fwd(fn_net *n, int i) {
    const fn_op *o = &n->O[i], *a = &n->O[i + 1];
    const fn_tdesc *x = &n->T[o->x];
    const int z = addend(n, a, o->y, o->x);
    n->be->conv_add_fwd_infer(n->be->ctx, V(o->x), PAR(o->p0), o->p1 >= 0 ? PAR(o->p1) : NULL, V(z), V(a->y), n->pN,
                              x->C, n->pH >> x->lvl, n->pW >> x->lvl, n->T[o->y].C, o->k, o->s);
    return 1;
}

static void op_fwd(fn_net *n, const fn_op *o, int train, uint64_t seed) {
    fn_backend *be = n->be;
    void *c = be->ctx;
    int N = n->pN;
    switch (o->type) {
    case OP_INPUT:
        break;
    case OP_CONV: {
        const fn_tdesc *x = &n->T[o->x], *y = &n->T[o->y];
        if (unmade(n, o->x, train)) { /* x = [relu](bn(its input)), never made */
            const int p = n->T[root(n, o->x)].producer;
            const fn_op *b = &n->O[p];
            be->conv_bn_fwd_train(c, V(b->x), PAR(b->p0), PAR(b->p1), n->aux + b->aux, n->aux + b->aux + x->C,
                                  inplace_acts(n, p), PAR(o->p0), o->p1 >= 0 ? PAR(o->p1) : NULL, V(o->y), N, x->C,
                                  n->pH >> x->lvl, n->pW >> x->lvl, y->C, o->k, o->s);
            break;
        }
        be->conv_fwd(c, V(o->x), PAR(o->p0), o->p1 >= 0 ? PAR(o->p1) : NULL, V(o->y),
                     N, x->C, n->pH >> x->lvl, n->pW >> x->lvl, y->C, o->k, o->s);
        break;
    }
    case OP_BN:
        bn_fwd(n, o, train, 0);
        break;
    case OP_ACT:
        be->act_fwd(c, o->act, V(o->x), V(o->y), fn_graph_tsize(n, o->x), o->alpha);
        break;
    case OP_ADD:
        be->add(c, V(o->x), V(o->x2), V(o->y), fn_graph_tsize(n, o->y));
        break;
    case OP_MUL:
        be->mul(c, V(o->x), V(o->x2), V(o->y), fn_graph_tsize(n, o->y), 0);
        break;
    case OP_CONCAT:
        be->concat(c, V(o->x), V(o->x2), V(o->y), N, n->T[o->x].C, n->T[o->x2].C, (int)hw(n, o->y));
        break;
    case OP_UP2:
        be->up2_fwd(c, V(o->x), V(o->y), N, n->T[o->x].C, n->pH >> n->T[o->x].lvl, n->pW >> n->T[o->x].lvl);
        break;
    case OP_POOL2:
        be->pool2_fwd(c, V(o->x), V(o->y), N, n->T[o->x].C, n->pH >> n->T[o->x].lvl, n->pW >> n->T[o->x].lvl);
        break;
    case OP_CMUL:
        be->cmul_fwd(c, V(o->x), V(o->x2), V(o->y), N, n->T[o->x].C, (int)hw(n, o->x));
        break;
    case OP_SE: {
        int C = n->T[o->x].C;
        float *pool = n->aux + o->aux, *hid = pool + (size_t)N * C, *gate = hid + (size_t)N * o->Cr;
        be->se_fwd(c, V(o->x), PAR(o->p0), PAR(o->p1), V(o->y), pool, hid, gate, N, C, (int)hw(n, o->x), o->Cr);
        break;
    }
    case OP_DROPOUT:
        if (n->drop_used > 0)
            /* fn_dropout_u(seed + K*j, i) = fn_dropout_u(seed, i + j): a replica's frames get the masks
             * they have in the whole batch */
            be->dropout_fwd(c, V(o->x), V(o->y), V(o->mask), N, n->T[o->x].C, (int)hw(n, o->x), n->dropout,
                            seed + 0x9E3779B97F4A7C15ull * (uint64_t)n->rep_offset * (fn_graph_tsize(n, o->x) / N));
        else
            be->copy(c, V(o->y), V(o->x), fn_graph_tsize(n, o->x));
        break;
    }
}

/* dst (=|+=) src */
static void pass(fn_net *n, int t, const float *src, size_t len) {
    if (acc(n, t)) n->be->axpy(n->be->ctx, 1.0f, src, G(t), len);
    else n->be->copy(n->be->ctx, G(t), src, len);
}

static void op_bwd(fn_net *n, const fn_op *o) {
    fn_backend *be = n->be;
    void *c = be->ctx;
    int N = n->pN;
    switch (o->type) {
    case OP_INPUT:
        break;
    case OP_CONV: {
        const fn_tdesc *x = &n->T[o->x], *y = &n->T[o->y];
        int H = n->pH >> x->lvl, W = n->pW >> x->lvl;
        if (o->p1 >= 0) be->conv_bwd_bias(c, G(o->y), GRD(o->p1), N, y->C, (int)hw(n, o->y));
        if (n->T[root(n, o->x)].unkept) { /* x = [relu](bn(its input)), not kept (graph.c unkept) */
            const int p = n->T[root(n, o->x)].producer;
            const fn_op *b = &n->O[p];
            be->conv_bwd_bn(c, V(b->x), PAR(b->p0), PAR(b->p1), n->aux + b->aux, n->aux + b->aux + x->C,
                            inplace_acts(n, p), G(o->y), PAR(o->p0), GRD(o->p0), G(o->x), N, x->C, H, W, y->C, o->k,
                            o->s, acc(n, o->x));
            break;
        }
        if (!x->nograd && be->conv_bwd) {
            be->conv_bwd(c, V(o->x), G(o->y), PAR(o->p0), GRD(o->p0), G(o->x), N, x->C, H, W, y->C, o->k, o->s,
                         acc(n, o->x));
            break;
        }
        be->conv_bwd_filter(c, V(o->x), G(o->y), GRD(o->p0), N, x->C, H, W, y->C, o->k, o->s);
        if (!x->nograd)
            be->conv_bwd_data(c, G(o->y), PAR(o->p0), G(o->x), N, x->C, H, W, y->C, o->k, o->s, acc(n, o->x));
        break;
    }
    case OP_BN: {
        int C = n->T[o->x].C;
        if (o->rbwd) /* and the ReLU's after it (relu_bwd_fused), from its output's gradient */
            be->bn_relu_bwd(c, V(o->x), G(o[1].y), PAR(o->p0), PAR(o->p1), n->aux + o->aux, n->aux + o->aux + C,
                            G(o->x), GRD(o->p0), GRD(o->p1), N, C, (int)hw(n, o->x), acc(n, o->x));
        else
            be->bn_bwd(c, V(o->x), G(o->y), PAR(o->p0), n->aux + o->aux, n->aux + o->aux + C, G(o->x),
                       GRD(o->p0), GRD(o->p1), N, C, (int)hw(n, o->x), acc(n, o->x));
        break;
    }
    case OP_ACT:
        if (o > n->O && o[-1].rbwd) break; /* the norm's backward takes it (relu_bwd_fused) */
        be->act_bwd(c, o->act, V(o->y), G(o->y), G(o->x), fn_graph_tsize(n, o->y), o->alpha, acc(n, o->x));
        break;
    case OP_ADD: /* an input whose gradient is the output's (grad_alias) has it, written */
        if (n->T[o->x].galias == o->y) acc(n, o->x);
        else pass(n, o->x, G(o->y), fn_graph_tsize(n, o->y));
        if (n->T[o->x2].galias == o->y) acc(n, o->x2);
        else pass(n, o->x2, G(o->y), fn_graph_tsize(n, o->y));
        break;
    case OP_MUL: {
        size_t len = fn_graph_tsize(n, o->y);
        be->mul(c, G(o->y), V(o->x2), G(o->x), len, acc(n, o->x));
        be->mul(c, G(o->y), V(o->x), G(o->x2), len, acc(n, o->x2));
        break;
    }
    case OP_CONCAT: {
        int Ca = n->T[o->x].C, Cb = n->T[o->x2].C, HW = (int)hw(n, o->y);
        int aa = acc(n, o->x), ab = acc(n, o->x2);
        if (aa == ab) {
            be->split(c, G(o->y), G(o->x), G(o->x2), N, Ca, Cb, HW, aa);
        } else {
            be->split(c, G(o->y), G(o->x), NULL, N, Ca, Cb, HW, aa);
            be->split(c, G(o->y), NULL, G(o->x2), N, Ca, Cb, HW, ab);
        }
        break;
    }
    case OP_UP2:
        be->up2_bwd(c, G(o->y), G(o->x), N, n->T[o->x].C, n->pH >> n->T[o->x].lvl, n->pW >> n->T[o->x].lvl,
                    acc(n, o->x));
        break;
    case OP_POOL2:
        be->pool2_bwd(c, V(o->x), G(o->y), G(o->x), N, n->T[o->x].C, n->pH >> n->T[o->x].lvl,
                      n->pW >> n->T[o->x].lvl, acc(n, o->x));
        break;
    case OP_CMUL: {
        int ax = acc(n, o->x), aa = acc(n, o->x2);
        be->cmul_bwd(c, V(o->x), V(o->x2), G(o->y), G(o->x), G(o->x2), N, n->T[o->x].C, (int)hw(n, o->x), ax, aa);
        break;
    }
    case OP_SE: {
        int C = n->T[o->x].C;
        float *pool = n->aux + o->aux, *hid = pool + (size_t)N * C, *gate = hid + (size_t)N * o->Cr;
        be->se_bwd(c, V(o->x), G(o->y), PAR(o->p0), PAR(o->p1), pool, hid, gate, G(o->x), GRD(o->p0), GRD(o->p1),
                   N, C, (int)hw(n, o->x), o->Cr, acc(n, o->x));
        break;
    }
    case OP_DROPOUT:
        if (n->drop_used > 0)
            be->dropout_bwd(c, G(o->y), V(o->mask), G(o->x), fn_graph_tsize(n, o->x), acc(n, o->x));
        else
            pass(n, o->x, G(o->y), fn_graph_tsize(n, o->x));
        break;
    }
}

/* ---------------------------------------------------------------------------------------------- */
/* profiling */

static const char *op_names[] = { "input", "conv", "batchnorm", "activation", "add", "mul", "concat",
                                  "upsample", "se", "dropout", "maxpool", "cmul" };

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

/* multiply-adds of a conv forward (backward data and filter: the same each) */
static double conv_flop(const fn_net *n, const fn_op *o) {
    return 2.0 * (double)fn_graph_tsize(n, o->y) * n->T[o->x].C * o->k * o->k;
}

static void prof(fn_net *n, const fn_op *o, int dir, double t0) {
    n->be->sync(n->be->ctx);
    n->prof_s[o->type][dir] += now() - t0;
    n->prof_n[o->type][dir]++;
    if (o->type == OP_CONV) n->prof_flop[o->type][dir] += conv_flop(n, o) * (dir ? 2 : 1);
    if (o->type == OP_CONV && !dir && !n->ptrain && o->chain) { /* the second convolution of the call */
        n->prof_n[OP_CONV][0]++;
        n->prof_flop[OP_CONV][0] += conv_flop(n, o + o->fuse + 1);
        if (o->unit == 2) { /* and its shortcut */
            n->prof_n[OP_CONV][0]++;
            n->prof_flop[OP_CONV][0] += conv_flop(n, o + o->fuse + o->chain + 1);
        }
    }
}

void fn_net_set_profile(fn_net *n, int on) { n->prof_on = on; }
void fn_net_profile_reset(fn_net *n) {
    memset(n->prof_s, 0, sizeof n->prof_s);
    memset(n->prof_n, 0, sizeof n->prof_n);
    memset(n->prof_flop, 0, sizeof n->prof_flop);
}

int fn_net_profile(const fn_net *n, fn_net_prof *out, int max) {
    int k = 0;
    for (int d = 0; d < 2; d++)
        for (int t = 0; t < (int)(sizeof op_names / sizeof *op_names); t++) {
            if (!n->prof_n[t][d] || k >= max) continue;
            snprintf(out[k].what, sizeof out[k].what, "%s %s", op_names[t], d ? "bwd" : "fwd");
            out[k].seconds = n->prof_s[t][d];
            out[k].gflop = n->prof_flop[t][d] * 1e-9;
            out[k].calls = n->prof_n[t][d];
            k++;
        }
    return k;
}

void fn_net_profile_print(const fn_net *n, FILE *f, int runs) {
    fn_net_prof p[32];
    int k = fn_net_profile(n, p, 32);
    double tot = 0;
    for (int i = 0; i < k; i++) tot += p[i].seconds;
    for (int i = 0; i < k; i++) {
        fprintf(f, "    %-16s %8.3f s %5.1f%% %5ld calls", p[i].what, p[i].seconds / runs,
                tot > 0 ? 100 * p[i].seconds / tot : 0.0, p[i].calls / runs);
        if (p[i].gflop > 0) fprintf(f, " %6.1f GFLOP/s", p[i].gflop / p[i].seconds);
        fputc('\n', f);
    }
}

/* the values kept in bf16 (halved) whose last forward use was one of ops [i0, i1] (one call): into their
 * bf16 slots, in the order of those uses (a slot from op i1 may be a value's until op i0) */
static void keep_halves(fn_net *n, int i0, int i1) {
    for (int i = i0; i <= i1; i++)
        for (int t = 0; t < n->nt; t++) {
            const fn_tdesc *d = &n->T[t];
            if (!d->half || d->hafter != i) continue;
            if (n->half_exact) n->be->copy(n->be->ctx, (float *)(void *)d->h, d->v, fn_graph_tsize(n, t));
            else n->be->to_bf16(n->be->ctx, d->v, d->h, fn_graph_tsize(n, t));
        }
}

void fn_graph_forward(fn_net *n, int train, uint64_t seed) {
    n->drop_used = train ? n->dropout : 0;
    if (n->be->set_training) n->be->set_training(n->be->ctx, train);
    if (!train && n->be->params_frozen) n->be->params_frozen(n->be->ctx, n->params, n->numel, n->params_version);
    const int nhwc = n->pnhwc;
    if (nhwc) {
        n->be->set_nhwc(n->be->ctx, 1);
        n->be->nhwc(n->be->ctx, fn_graph_input(n), V(n->in), n->pN, n->T[n->in].C, n->pH * n->pW, 1);
    }
    for (int i = 0; i < n->no; i++) {
        if (!train && n->O[i].taken) continue; /* the residual unit after it takes it */
        double t0 = n->prof_on ? (n->be->sync(n->be->ctx), now()) : 0;
        /* profiled as the convolution's time, or the batch norm's (an upsampling's call: its convolution's) */
        const fn_op *po = !train && n->O[i].upc ? &n->O[i + 1] : &n->O[i];
        int fused = train ? bn_relu_fwd(n, i, train)
                    : n->O[i].fuse ? conv_bn_fwd(n, i)
                    : n->O[i].resid ? conv_add_fwd(n, i)
                    : n->O[i].upc   ? up_conv_fwd(n, i)
                                    : bn_relu_fwd(n, i, train);
        if (!fused) op_fwd(n, &n->O[i], train, seed);
        if (train) keep_halves(n, i, i + fused);
        if (n->prof_on) prof(n, po, 0, t0);
        i += fused;
    }
    if (nhwc) n->be->set_nhwc(n->be->ctx, 0);
}

/* tensor t (recomputed) and the in-place outputs stored in it: their values now in its backward slot (or
 * back in the forward's, the two slots swapped again) */
static void swap_slots(fn_net *n, int t) {
    float *f = n->T[t].v;
    n->T[t].v = n->T[t].rv, n->T[t].rv = f;
    for (int u = 0; u < n->nt; u++)
        if (n->T[u].alias == t) n->T[u].v = n->T[t].v;
}

/* the copies that op i's backward makes again (graph.c recomputed), and the values kept in bf16 that it
 * widens (halved), into their backward slots */
static void remake(fn_net *n, int i) {
    for (int t = 0; t < n->nt; t++) {
        fn_tdesc *d = &n->T[t];
        if (d->recomp != i + 1) continue;
        swap_slots(n, t);
        if (!d->half) op_fwd(n, &n->O[d->producer], 1, 0); /* a copy: no seed */
        else if (n->half_exact) n->be->copy(n->be->ctx, d->v, (const float *)(const void *)d->h, fn_graph_tsize(n, t));
        else n->be->from_bf16(n->be->ctx, d->h, d->v, fn_graph_tsize(n, t));
    }
}

void fn_graph_backward(fn_net *n) {
    if (n->pnhwc) n->be->set_nhwc(n->be->ctx, 1);
    for (int i = n->no - 1; i >= 0; i--) {
        double t0 = n->prof_on ? (n->be->sync(n->be->ctx), now()) : 0;
        remake(n, i); /* profiled as this op's backward */
        op_bwd(n, &n->O[i]);
        if (n->prof_on) prof(n, &n->O[i], 1, t0);
    }
    for (int t = 0; t < n->nt; t++)
        if (n->T[t].recomp) swap_slots(n, t);
    if (n->pnhwc) n->be->set_nhwc(n->be->ctx, 0);
}
