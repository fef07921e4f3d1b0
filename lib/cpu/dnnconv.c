/* dnnconv.c: the convolutions by oneDNN's convolution primitives (declared in cpu.h).
 *
 * In bf16 (set_precision FN_PREC_BF16) a convolution pass may run as one oneDNN convolution primitive
 * instead of conv.c's tiles of im2col + bf16 matrix product: bf16 source and weights (diff_dst), fp32
 * accumulation, an fp32 result (forward dst, backward-data diff_src, backward-filter diff_weights). The
 * primitive takes its operands in the blocked layouts it chooses (format_tag any); reorders bring fn's
 * fp32 NCHW / OIHW tensors into them, rounding to bf16 on the way (to nearest even, as cpu_bf16_round),
 * and bring the result back (adding it, for the passes that accumulate: acc, dw +=). So the rounding is
 * the matmul path's: each product of rounded inputs, summed in fp32 (in another order). Where the layout
 * is NHWC (an activation, its gradient or a result; the AMX kernels' choice), layout.c's transposes do it
 * instead of oneDNN's reorders, with the same bits. cpu_dnn_bwd runs a convolution's two backward passes
 * call by call, backward-data taking the dy that backward-filter rounded and laid out.
 *
 * One entry per (pass, shape) keeps the primitive, its reorders and its layouts for the context's life
 * (no global state); the inference forward keeps its rounded, blocked kernels of frozen parameters in
 * kcache.c as the Winograd transforms are kept. Each primitive is made and run from the serial context
 * (not inside an op's parallel region), with the team of the context's threads: oneDNN (on OpenMP)
 * runs its own parallel region of omp_get_max_threads() threads, set to c->threads around each call.
 * Only oneDNN's optimised kernels are taken (its implementation name is not "ref:..."): for a shape it
 * has none for, the entry says so and the op takes conv.c's path. Padding is fn_same's (TensorFlow
 * 'same': padding_l = total/2, padding_r the rest). The bias goes to the primitive; conv_bn_fwd_infer's
 * batch norm and ReLU run as fn's own pass over the result (cpu_bn_plane, as bn_fwd_infer).
 * Channels last (set_nhwc: inference, fn's activations NHWC f32): the user's layouts are NHWC, so a
 * source is only rounded (layout.c cpu_nhwc_rows_bf16) and the primitive writes its NHWC f32 result into
 * fn's tensor itself, with no reorder or transpose; a residual unit's shortcut writes y and its second
 * convolution adds to it (oneDNN's sum post-op). The primitives and their bits are those of NCHW. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>
#ifdef FN_DNNL
#include "onednn.h"
#endif
#include "cpu.h"

#ifdef FN_DNNL
/* an entry's acc: the forward's result added to r by its primitive (the sum post-op, scale 1: r must be in
 * the primitive's own layout); acc 1: by the reorder of the result into r (r +=) */
#define CPU_DNN_SUM 2
/* an entry's po (a channels-last chained call's first convolution, cpu_dnn_fwd2): its primitive applies an
 * inference batch norm to its result (binary post-ops: times the scale, plus the shift of the channel, from
 * the epilogue's cpu_epi), then ReLU (PO_RELU, eltwise), the epilogue's operations one by one, so its bits,
 * and writes it in bf16: the next convolution's source, rounded as cpu_bf16_round (PO_BN) */
enum { PO_BN = 1, PO_RELU = 2 };

/* one convolution pass for one shape: the primitive's operands a, b and result r are
 *   forward          a = src x, b = weights w, r = dst y (bias: the user's b, f32)
 *   backward-data    a = diff_dst dy, b = weights w, r = diff_src dx
 *   backward-filter  a = src x, b = diff_dst dy, r = diff_weights dw */
typedef struct dconv {
    int pass, N, Ci, H, W, Co, k, s, bias, acc, dt, training;
    int nhwc;                   /* the user's activations are NHWC (set_nhwc), not NCHW */
    int po;                     /* PO_ flags: the post-ops of a channels-last forward (0: none) */
    int ok;                     /* 0: no optimised kernel for it (conv.c's path) */
    int flip;                   /* a stride-1 backward-data pass made by the forward primitive of dy with the
                                   kernels transposed and flipped (make_flip): a, b, r its src, weights, dst */
    int posum;                  /* acc 1 by the primitive's sum post-op (r in its own layout), not rr */
    int flips;                  /* c->dnn_flip as it was made (a key: flip is tried where it is 1) */
    int fa, fb, fr;             /* layout.c changes a, b (NCHW f32 to NHWC bf16), r (NHWC f32 to NCHW f32)
                                   in place of ra, rb, rr; with nhwc, fa: a rounded to bf16 in NHWC, fr: r
                                   NHWC f32 (the primitive writes the user's r itself where rr is NULL) */
    dnnl_primitive_t conv;
    dnnl_primitive_t ra, rb;    /* reorders of the user's a, b into the primitive's layout (NULL: none) */
    dnnl_primitive_t rr;        /* the result back into the user's layout (+= when acc) (NULL: in place) */
    dnnl_memory_desc_t ua, ub, ur, pa, pb, pr; /* user and primitive layouts */
    size_t na, nb, nr, scratch; /* bytes of the primitive's a, b, r and of its scratchpad */
    uint64_t wtag;              /* the weights' layout, as kcache.c keys the kept kernels */
    char impl[32];
} dconv;

struct cpu_dnn {
    dnnl_engine_t eng;
    dnnl_stream_t st;
    dconv *e;
    int n, cap;
    void *buf[7];               /* a, b, r, scratchpad; b of a pass whose a was given (cpu_dnn_bwd); a result
                                   kept while another is made (cpu_dnn_fwd2's residual unit); the flipped
                                   kernels (make_flip) */
    size_t bufcap[7];
};

/* an entry's primitives gone (the context's end; a make_flip that did not come to be: the
 * backward-data primitive next) */
static void drop(dconv *e) {
    if (e->conv) dnnl_primitive_destroy(e->conv);
    if (e->ra) dnnl_primitive_destroy(e->ra);
    if (e->rb) dnnl_primitive_destroy(e->rb);
    if (e->rr) dnnl_primitive_destroy(e->rr);
    e->conv = e->ra = e->rb = e->rr = NULL;
    e->ok = e->flip = e->posum = 0;
}

void cpu_dnn_free(cpu_ctx *c) {
    struct cpu_dnn *d = c->dnn;
    if (!d) return;
    for (int i = 0; i < d->n; i++) drop(&d->e[i]);
    for (int i = 0; i < 7; i++) free(d->buf[i]);
    free(d->e);
    if (d->st) dnnl_stream_destroy(d->st);
    if (d->eng) dnnl_engine_destroy(d->eng);
    free(d);
    c->dnn = NULL;
}

static int dnn_open(cpu_ctx *c) {
    if (c->dnn) return 0;
    struct cpu_dnn *d = calloc(1, sizeof *d);
    if (!d) return -1;
    c->dnn = d;
    if (dnnl_engine_create(&d->eng, dnnl_cpu, 0) || dnnl_stream_create(&d->st, d->eng, dnnl_stream_default_flags)) {
        cpu_dnn_free(c);
        return -1;
    }
    return 0;
}

/* FNV-1a of a memory descriptor's bytes (made by oneDNN from zeroed structures) */
static uint64_t md_hash(const dnnl_memory_desc_t *m) {
    const unsigned char *p = (const unsigned char *)m;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < sizeof *m; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h | 1; /* never 0 (the Winograd transforms' tag) */
}

/* a reorder from -> to, adding into to when acc; NULL when not made */
static dnnl_primitive_t make_reorder(dnnl_engine_t eng, const dnnl_memory_desc_t *from,
                                     const dnnl_memory_desc_t *to, int acc) {
    dnnl_primitive_attr_t attr = cpu_dnnl_attr(acc);
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t p = NULL;
    if (!attr) return NULL;
    if (dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, attr) == dnnl_success &&
        dnnl_primitive_create(&p, pd))
        p = NULL;
    if (pd) dnnl_primitive_desc_destroy(pd);
    dnnl_primitive_attr_destroy(attr);
    return p;
}

static int md4(dnnl_memory_desc_t *m, int a, int b, int h, int w, dnnl_data_type_t dt, dnnl_format_tag_t tag) {
    dnnl_dims_t d = { a, b, h, w };
    return dnnl_memory_desc_init_by_tag(m, 4, d, dt, tag) != dnnl_success;
}

/* m is the NHWC layout of its dims, in dt */
static int is_nhwc(const dnnl_memory_desc_t *m, dnnl_data_type_t dt) {
    dnnl_memory_desc_t t;
    return m->ndims == 4 && !md4(&t, (int)m->dims[0], (int)m->dims[1], (int)m->dims[2], (int)m->dims[3], dt, dnnl_nhwc) &&
           dnnl_memory_desc_equal(m, &t);
}

/* the entry from its primitive descriptor pd: the primitive, its operands' layouts (queries qa, qb, qr)
 * and the user's (ua, ub, ur), the reorders between them; e->ok = 1, or -1 (no optimised kernel, or out
 * of memory). e->posum: the primitive adds its result to r (acc 1), in r's layout */
static int finish(cpu_ctx *c, dconv *e, dnnl_primitive_desc_t pd, dnnl_query_t qa, dnnl_query_t qb, dnnl_query_t qr,
                  const dnnl_memory_desc_t *ua, const dnnl_memory_desc_t *ub, const dnnl_memory_desc_t *ur) {
    struct cpu_dnn *d = c->dnn;
    const dnnl_data_type_t lo = e->dt == FN_PREC_BF16 ? dnnl_bf16 : dnnl_f32;
    const char *impl = "";
    if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) || !impl) impl = "";
    snprintf(e->impl, sizeof e->impl, "%s", impl);
    if (!strncmp(impl, "ref", 3) || !*impl) return -1; /* reference code: conv.c is faster */
    e->pa = *dnnl_primitive_desc_query_md(pd, qa, 0);
    e->pb = *dnnl_primitive_desc_query_md(pd, qb, 0);
    e->pr = *dnnl_primitive_desc_query_md(pd, qr, 0);
    e->ua = *ua, e->ub = *ub, e->ur = *ur;
    e->na = dnnl_memory_desc_get_size(&e->pa);
    e->nb = dnnl_memory_desc_get_size(&e->pb);
    e->nr = dnnl_memory_desc_get_size(&e->pr);
    e->scratch = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
    e->wtag = md_hash(&e->pb);
    const int inplace = (e->acc != 1 || e->posum) && dnnl_memory_desc_equal(&e->pr, &e->ur);
    if ((e->acc == CPU_DNN_SUM || e->posum) && !inplace) return -1; /* the sum reads the user's r in its layout */
    if (dnnl_primitive_create(&e->conv, pd)) {
        e->conv = NULL;
        return -1;
    }
    if ((!dnnl_memory_desc_equal(&e->pa, &e->ua) && !(e->ra = make_reorder(d->eng, &e->ua, &e->pa, 0))) ||
        (!dnnl_memory_desc_equal(&e->pb, &e->ub) && !(e->rb = make_reorder(d->eng, &e->ub, &e->pb, 0))) ||
        (!inplace && !(e->rr = make_reorder(d->eng, &e->pr, &e->ur, e->acc == 1))))
        return -1;
    /* the user's a, b and r are NCHW (or with nhwc NHWC) f32 here except the weights (OIHW) and their
     * gradient */
    e->fa = e->ra && lo == dnnl_bf16 && is_nhwc(&e->pa, dnnl_bf16);
    e->fb = e->rb && lo == dnnl_bf16 && e->pass == CPU_DNN_BWD_FILTER && is_nhwc(&e->pb, dnnl_bf16);
    e->fr = (e->rr || e->nhwc) && e->pass != CPU_DNN_BWD_FILTER && is_nhwc(&e->pr, dnnl_f32);
    e->ok = 1;
    return 0;
}

/* A stride-1 backward-data pass as a forward convolution: dx[n,i,y,x] = sum over o, a, b of
 * dy[n,o,y+a-(k-1-pt),x+b-(k-1-pl)] * w[o,i,k-1-a,k-1-b], the forward of dy (Co channels) with the
 * kernels wf[i,o,a,b] = w[o,i,k-1-a,k-1-b] (flip_kernels) and the padding mirrored. oneDNN 2.6's forward
 * kernels on AMX (brgconv) measured faster than its backward-data ones (jit), and the forward adds its
 * result to dx itself (acc, channels last: its sum post-op) where the backward-data primitive needed a
 * reorder: Intel Xeon AMX, FocusNet's shapes, 2-23% less time a call (one 3x3 shape 2% more), a 1x1
 * 34%. The same products of the same rounded values, summed in another order. 0, or -1 (e->ok 0) */
static int make_flip(cpu_ctx *c, dconv *e) {
    struct cpu_dnn *d = c->dnn;
    const dnnl_data_type_t lo = e->dt == FN_PREC_BF16 ? dnnl_bf16 : dnnl_f32;
    int pt, pl;
    fn_same(e->H, e->k, 1, &pt); /* stride 1: the output H x W; the padding before, pt and pl */
    fn_same(e->W, e->k, 1, &pl);
    dnnl_dims_t strides = { 1, 1 }, pad_l = { e->k - 1 - pt, e->k - 1 - pl }, pad_r = { pt, pl };
    const dnnl_format_tag_t act = e->nhwc ? dnnl_nhwc : dnnl_nchw;
    dnnl_memory_desc_t ux, uw, uy, ax, aw, ay;
    if (md4(&uy, e->N, e->Co, e->H, e->W, dnnl_f32, act) || md4(&uw, e->Ci, e->Co, e->k, e->k, dnnl_f32, dnnl_oihw) ||
        md4(&ux, e->N, e->Ci, e->H, e->W, dnnl_f32, act) || md4(&ay, e->N, e->Co, e->H, e->W, lo, dnnl_format_tag_any) ||
        md4(&aw, e->Ci, e->Co, e->k, e->k, lo, dnnl_format_tag_any) ||
        md4(&ax, e->N, e->Ci, e->H, e->W, dnnl_f32, dnnl_format_tag_any))
        return -1;
    dnnl_convolution_desc_t fd;
    if (dnnl_convolution_forward_desc_init(&fd, dnnl_forward_training, dnnl_convolution_direct, &ay, &aw, NULL, &ax,
                                           strides, pad_l, pad_r))
        return -1;
    /* dx += by the sum post-op where the primitive writes dx in the user's layout (finish), else by the
     * reorder */
    for (int sum = e->acc == 1; sum >= 0; sum--) {
        dnnl_primitive_attr_t attr = NULL;
        dnnl_post_ops_t po = NULL;
        dnnl_primitive_desc_t pd = NULL;
        int bad = dnnl_primitive_attr_create(&attr) ||
                  dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
        if (!bad && sum)
            bad = dnnl_post_ops_create(&po) || dnnl_post_ops_append_sum(po, 1.0f) ||
                  dnnl_primitive_attr_set_post_ops(attr, po);
        if (!bad) bad = dnnl_primitive_desc_create(&pd, &fd, attr, d->eng, NULL) != dnnl_success;
        e->flip = 1, e->posum = sum;
        if (!bad)
            bad = finish(c, e, pd, dnnl_query_src_md, dnnl_query_weights_md, dnnl_query_dst_md, &uy, &uw, &ux);
        if (po) dnnl_post_ops_destroy(po);
        if (pd) dnnl_primitive_desc_destroy(pd);
        if (attr) dnnl_primitive_attr_destroy(attr);
        if (!bad) return 0;
        drop(e);
    }
    return -1;
}

/* wf [Ci,Co,k,k] = the kernels of w [Co,Ci,k,k], each transposed and flipped (make_flip) */
static void flip_kernels(const float *w, float *wf, int Co, int Ci, int k, int threads) {
    const int kk = k * k;
    #pragma omp parallel for num_threads(threads) schedule(static)
    for (int i = 0; i < Ci; i++)
        for (int o = 0; o < Co; o++) {
            const float *src = w + ((size_t)o * Ci + i) * kk;
            float *dst = wf + ((size_t)i * Co + o) * kk;
            for (int t = 0; t < kk; t++) dst[t] = src[kk - 1 - t];
        }
}

/* make the entry's primitive and reorders (e->ok 0 when there is no optimised kernel for it) */
static void make_dconv(cpu_ctx *c, dconv *e) {
    struct cpu_dnn *d = c->dnn;
    if (e->pass == CPU_DNN_BWD_DATA && e->s == 1 && c->dnn_flip && !make_flip(c, e)) return;
    const dnnl_data_type_t lo = e->dt == FN_PREC_BF16 ? dnnl_bf16 : dnnl_f32;
    int pt, pl;
    const int Ho = fn_same(e->H, e->k, e->s, &pt), Wo = fn_same(e->W, e->k, e->s, &pl);
    int th = (Ho - 1) * e->s + e->k - e->H, tw = (Wo - 1) * e->s + e->k - e->W;
    th = th < 0 ? 0 : th, tw = tw < 0 ? 0 : tw;
    dnnl_dims_t strides = { e->s, e->s }, pad_l = { pt, pl }, pad_r = { th - pt, tw - pl };
    dnnl_memory_desc_t ux, uw, uy, ub, ax, aw, ay;
    const dnnl_format_tag_t act = e->nhwc ? dnnl_nhwc : dnnl_nchw; /* the activations' layout */
    if (md4(&ux, e->N, e->Ci, e->H, e->W, dnnl_f32, act) || md4(&uw, e->Co, e->Ci, e->k, e->k, dnnl_f32, dnnl_oihw) ||
        md4(&uy, e->N, e->Co, Ho, Wo, e->po ? lo : dnnl_f32, act))
        return;
    dnnl_dims_t bd = { e->Co };
    if (dnnl_memory_desc_init_by_tag(&ub, 1, bd, dnnl_f32, dnnl_a)) return;
    /* fp32 results; bf16 (or fp32) inputs */
    const dnnl_data_type_t tx = e->pass == CPU_DNN_BWD_DATA ? dnnl_f32 : lo,
                           tw_ = e->pass == CPU_DNN_BWD_FILTER ? dnnl_f32 : lo,
                           ty = e->pass == CPU_DNN_FWD && !e->po ? dnnl_f32 : lo;
    if (md4(&ax, e->N, e->Ci, e->H, e->W, tx, dnnl_format_tag_any) ||
        md4(&aw, e->Co, e->Ci, e->k, e->k, tw_, dnnl_format_tag_any) ||
        md4(&ay, e->N, e->Co, Ho, Wo, ty, dnnl_format_tag_any))
        return;
    dnnl_convolution_desc_t cd;
    dnnl_primitive_desc_t fpd = NULL, pd = NULL;
    dnnl_primitive_attr_t attr = NULL;
    if (dnnl_primitive_attr_create(&attr) || dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user))
        goto done;
    if (e->acc == CPU_DNN_SUM || e->po) {
        /* dst += the result, by the primitive (its sum post-op, scale 1); or the batch norm: times the
         * scale, plus the shift ([1,Co,1,1] each, broadcast), then ReLU */
        dnnl_post_ops_t po = NULL;
        dnnl_memory_desc_t ch;
        int bad = dnnl_post_ops_create(&po) || md4(&ch, 1, e->Co, 1, 1, dnnl_f32, dnnl_nchw);
        if (!bad && e->acc == CPU_DNN_SUM) bad = dnnl_post_ops_append_sum(po, 1.0f) != dnnl_success;
        else if (!bad)
            bad = dnnl_post_ops_append_binary(po, dnnl_binary_mul, &ch) ||
                  dnnl_post_ops_append_binary(po, dnnl_binary_add, &ch) ||
                  ((e->po & PO_RELU) && dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f));
        if (!bad) bad = dnnl_primitive_attr_set_post_ops(attr, po) != dnnl_success;
        if (po) dnnl_post_ops_destroy(po);
        if (bad) goto done;
    }
    /* the backward passes need the forward's descriptor as a hint */
    dnnl_memory_desc_t fy;
    if (md4(&fy, e->N, e->Co, Ho, Wo, e->pass == CPU_DNN_FWD ? ty : lo, dnnl_format_tag_any)) goto done;
    {
        dnnl_memory_desc_t fx, fw;
        if (md4(&fx, e->N, e->Ci, e->H, e->W, lo, dnnl_format_tag_any) ||
            md4(&fw, e->Co, e->Ci, e->k, e->k, lo, dnnl_format_tag_any))
            goto done;
        dnnl_convolution_desc_t fd;
        if (dnnl_convolution_forward_desc_init(&fd, e->pass == CPU_DNN_FWD && !c->training ? dnnl_forward_inference
                                                                                       : dnnl_forward_training,
                                               dnnl_convolution_direct, &fx, &fw, e->bias ? &ub : NULL, &fy, strides,
                                               pad_l, pad_r))
            goto done;
        if (e->pass == CPU_DNN_FWD) {
            if (dnnl_primitive_desc_create(&pd, &fd, attr, d->eng, NULL)) goto done;
        } else if (dnnl_primitive_desc_create(&fpd, &fd, NULL, d->eng, NULL)) {
            goto done;
        }
    }
    if (e->pass == CPU_DNN_BWD_DATA) {
        if (dnnl_convolution_backward_data_desc_init(&cd, dnnl_convolution_direct, &ax, &aw, &ay, strides, pad_l,
                                                     pad_r) ||
            dnnl_primitive_desc_create(&pd, &cd, attr, d->eng, fpd))
            goto done;
    } else if (e->pass == CPU_DNN_BWD_FILTER) {
        if (dnnl_convolution_backward_weights_desc_init(&cd, dnnl_convolution_direct, &ax, &aw, NULL, &ay, strides,
                                                        pad_l, pad_r) ||
            dnnl_primitive_desc_create(&pd, &cd, attr, d->eng, fpd))
            goto done;
    }
    const dnnl_query_t qa = e->pass == CPU_DNN_BWD_DATA ? dnnl_query_diff_dst_md : dnnl_query_src_md,
                       qb = e->pass == CPU_DNN_BWD_FILTER ? dnnl_query_diff_dst_md : dnnl_query_weights_md,
                       qr = e->pass == CPU_DNN_FWD         ? dnnl_query_dst_md
                            : e->pass == CPU_DNN_BWD_DATA ? dnnl_query_diff_src_md
                                                          : dnnl_query_diff_weights_md;
    if (finish(c, e, pd, qa, qb, qr, e->pass == CPU_DNN_BWD_DATA ? &uy : &ux, e->pass == CPU_DNN_BWD_FILTER ? &uy : &uw,
               e->pass == CPU_DNN_FWD ? &uy : e->pass == CPU_DNN_BWD_DATA ? &ux : &uw))
        goto done;
done:
    if (pd) dnnl_primitive_desc_destroy(pd);
    if (fpd) dnnl_primitive_desc_destroy(fpd);
    if (attr) dnnl_primitive_attr_destroy(attr);
}

/* the entry of this pass and shape (its index), made on first use; -1 when out of memory */
static int find(cpu_ctx *c, int pass, int N, int Ci, int H, int W, int Co, int k, int s, int bias, int acc, int po) {
    struct cpu_dnn *d = c->dnn;
    for (int i = 0; i < d->n; i++) {
        dconv *e = &d->e[i];
        if (e->pass == pass && e->N == N && e->Ci == Ci && e->H == H && e->W == W && e->Co == Co && e->k == k &&
            e->s == s && e->bias == bias && e->acc == acc && e->dt == c->prec && e->training == c->training &&
            e->nhwc == c->nhwc && e->po == po && e->flips == c->dnn_flip)
            return i;
    }
    if (d->n == d->cap) {
        int cap = d->cap ? 2 * d->cap : 64;
        dconv *g = realloc(d->e, sizeof *g * (size_t)cap);
        if (!g) return -1;
        d->e = g, d->cap = cap;
    }
    dconv *e = &d->e[d->n++];
    *e = (dconv){ .pass = pass, .N = N, .Ci = Ci, .H = H, .W = W, .Co = Co, .k = k, .s = s, .bias = bias,
                  .acc = acc, .dt = c->prec, .training = c->training, .nhwc = c->nhwc, .po = po,
                  .flips = c->dnn_flip };
    make_dconv(c, e);
    if (getenv("FN_CPU_DNN_VERBOSE"))
        fprintf(stderr, "fn: oneDNN conv pass %d N%d Ci%d %dx%d Co%d k%d s%d%s%s%s: %s%s\n", pass, N, Ci, H, W, Co, k, s,
                acc == CPU_DNN_SUM || e->posum ? " sum" : "", po ? " bn" : "", e->flip ? " flipped" : "", e->impl,
                e->ok ? "" : " (not used)");
    return d->n - 1;
}

/* the entries of a pass whose N images go in calls of per: e[0] the full calls', e[1] the last, shorter
 * call's (e[0] when per divides N); -1 where out of memory */
static void entries(cpu_ctx *c, int pass, int N, int per, int Ci, int H, int W, int Co, int k, int s, int bias,
                    int acc, int po, int e[2]) {
    e[0] = find(c, pass, per, Ci, H, W, Co, k, s, bias, acc, po);
    e[1] = N % per && e[0] >= 0 ? find(c, pass, N % per, Ci, H, W, Co, k, s, bias, acc, po) : e[0];
}

static void *grow(cpu_ctx *c, int i, size_t n) {
    struct cpu_dnn *d = c->dnn;
    if (d->bufcap[i] < n) {
        free(d->buf[i]);
        d->buf[i] = NULL, d->bufcap[i] = 0;
        void *p = NULL;
        if (posix_memalign(&p, 64, n ? n : 64)) return NULL; /* not an error: conv.c's path */
        d->buf[i] = p, d->bufcap[i] = n;
    }
    return d->buf[i];
}

/* buffers i and j trade places */
static void swap_buf(struct cpu_dnn *d, int i, int j) {
    void *b = d->buf[i];
    const size_t n = d->bufcap[i];
    d->buf[i] = d->buf[j], d->bufcap[i] = d->bufcap[j], d->buf[j] = b, d->bufcap[j] = n;
}

static dnnl_memory_t mem(struct cpu_dnn *d, const dnnl_memory_desc_t *m, const void *p) {
    dnnl_memory_t r = NULL;
    if (dnnl_memory_create(&r, m, d->eng, (void *)p)) return NULL;
    return r;
}

static int exec2(struct cpu_dnn *d, dnnl_primitive_t p, dnnl_memory_t from, dnnl_memory_t to) {
    dnnl_exec_arg_t args[2] = { { DNNL_ARG_FROM, from }, { DNNL_ARG_TO, to } };
    return dnnl_primitive_execute(p, d->st, 2, args) != dnnl_success;
}

/* the NCHW (with set_nhwc: NHWC) f32 tensor x, through the prologue pro (NULL: none), into the
 * primitive's NHWC bf16 layout m at y (layout.c: a transpose, or a rounding in place of one) */
static void to_nhwc(cpu_ctx *c, const dnnl_memory_desc_t *m, const float *x, void *y, const cpu_epi *pro) {
    c->dnn_moved++;
    const size_t HW = (size_t)(m->dims[2] * m->dims[3]);
    if (c->nhwc) CPU_ISA_PICK(c->isa, cpu_nhwc_rows_bf16)(x, (int)m->dims[1], NULL, 0, y, (size_t)m->dims[0] * HW, pro,
                                                          c->threads);
    else CPU_ISA_PICK(c->isa, cpu_nhwc_bf16)(x, y, (int)m->dims[0], (int)m->dims[1], HW, pro, c->threads);
}

/* entry e's source can go through a prologue: it is laid out by layout.c's copy, which applies it */
static int takes_pro(const cpu_ctx *c, const dconv *e) {
    return e->ra && e->fa && c->dnn_layout;
}

/* run the entry: r (+)= conv(a, b) (+ bias) in the user's layouts, a forward's result through epi (NULL:
 * none); an inference forward's kernels of frozen parameters are rounded and laid out once (kept by
 * kcache.c). given: a already in the primitive's layout (NULL: reordered from a here), through the
 * prologue pro (NULL: none; takes_pro). r NULL: the result stays in the primitive's layout in buf[2] (an
 * entry with e->fr only; epi not applied). 0, or -1 (nothing written) */
static int run(cpu_ctx *c, dconv *e, const float *a, const float *b, const float *bias, float *r,
               const void *given, const cpu_epi *epi, const cpu_epi *pro) {
    struct cpu_dnn *d = c->dnn;
    if (pro && (given || !takes_pro(c, e))) return -1;
    int fresh = 1;
    void *kb = NULL;
    if (e->rb && e->pass == CPU_DNN_FWD)
        kb = cpu_kcache_get(c, b, e->Co, e->Ci, e->k, (e->nb + 3) / 4, e->wtag, &fresh);
    if (!kb) fresh = 1;
    if (e->flip && e->rb && fresh) { /* the kernels transposed and flipped, then laid out by rb */
        float *wf = grow(c, 6, (size_t)e->Co * e->Ci * e->k * e->k * sizeof *wf);
        if (!wf) return -1;
        flip_kernels(b, wf, e->Co, e->Ci, e->k, c->threads);
        b = wf;
    }
    void *pa = given ? (void *)given : e->ra ? grow(c, 0, e->na) : (void *)a;
    void *pb = kb ? kb : e->rb ? grow(c, given ? 4 : 1, e->nb) : (void *)b;
    void *pr = e->rr || !r ? grow(c, 2, e->nr) : (void *)r; /* r NULL: buf[2], also where no reorder is */
    void *ps = e->scratch ? grow(c, 3, e->scratch) : NULL;
    if (!pa || !pb || !pr || (e->scratch && !ps)) return -1;
    if (e->po && (!epi || epi->add)) return -1; /* the post-ops take the epilogue's scale and shift */
    dnnl_memory_t m[11] = { 0 };
    int rc = -1;
    m[0] = mem(d, &e->ua, a), m[1] = mem(d, &e->pa, pa), m[2] = mem(d, &e->ub, b), m[3] = mem(d, &e->pb, pb);
    m[4] = mem(d, &e->pr, pr), m[5] = mem(d, &e->ur, r); /* r NULL: a memory with no buffer */
    dnnl_memory_desc_t sm, bm;
    dnnl_dims_t sd = { (dnnl_dim_t)e->scratch }, bd = { e->Co };
    if (dnnl_memory_desc_init_by_tag(&sm, 1, sd, dnnl_u8, dnnl_a) ||
        dnnl_memory_desc_init_by_tag(&bm, 1, bd, dnnl_f32, dnnl_a))
        goto done;
    m[6] = e->scratch ? mem(d, &sm, ps) : NULL;
    m[7] = e->bias ? mem(d, &bm, bias) : NULL;
    if (e->po) { /* the batch norm's scale and shift, [1,Co,1,1] */
        dnnl_memory_desc_t ch;
        if (md4(&ch, 1, e->Co, 1, 1, dnnl_f32, dnnl_nchw) || !(m[8] = mem(d, &ch, epi->scale)) ||
            !(m[9] = mem(d, &ch, epi->shift)))
            goto done;
    }
    for (int i = 0; i < 6; i++)
        if (!m[i]) goto done;
    if ((e->scratch && !m[6]) || (e->bias && !m[7])) goto done;
    if (e->ra && !given) {
        if (e->fa && c->dnn_layout) to_nhwc(c, &e->pa, a, pa, pro);
        else if (exec2(d, e->ra, m[0], m[1])) goto done;
    }
    if (e->rb && fresh) {
        if (e->fb && c->dnn_layout) to_nhwc(c, &e->pb, b, pb, NULL);
        else if (exec2(d, e->rb, m[2], m[3])) goto done;
    }
    {
        const int aa = e->pass == CPU_DNN_BWD_DATA && !e->flip ? DNNL_ARG_DIFF_DST : DNNL_ARG_SRC,
                  ab = e->pass == CPU_DNN_BWD_FILTER ? DNNL_ARG_DIFF_DST : DNNL_ARG_WEIGHTS,
                  ar = e->pass == CPU_DNN_FWD || e->flip ? DNNL_ARG_DST
                       : e->pass == CPU_DNN_BWD_DATA ? DNNL_ARG_DIFF_SRC
                                                     : DNNL_ARG_DIFF_WEIGHTS;
        dnnl_exec_arg_t args[7] = { { aa, m[1] }, { ab, m[3] }, { ar, m[4] } };
        int na = 3;
        if (e->scratch) args[na++] = (dnnl_exec_arg_t){ DNNL_ARG_SCRATCHPAD, m[6] };
        if (e->bias) args[na++] = (dnnl_exec_arg_t){ DNNL_ARG_BIAS, m[7] };
        if (e->po) { /* the batch norm's post-ops 0 and 1 */
            args[na++] = (dnnl_exec_arg_t){ DNNL_ARG_ATTR_MULTIPLE_POST_OP(0) | DNNL_ARG_SRC_1, m[8] };
            args[na++] = (dnnl_exec_arg_t){ DNNL_ARG_ATTR_MULTIPLE_POST_OP(1) | DNNL_ARG_SRC_1, m[9] };
        }
        if (dnnl_primitive_execute(e->conv, d->st, na, args)) goto done;
    }
    const dnnl_dim_t *r4 = e->pr.dims;
    if (!r || (e->nhwc && !e->rr)) {
        /* the caller takes the result from buf[2], or the primitive wrote r */
    } else if (e->fr && c->dnn_layout && !e->nhwc) {
        if (dnnl_stream_wait(d->st)) goto done;
        c->dnn_moved++;
        CPU_ISA_PICK(c->isa, cpu_nchw_from)(pr, NULL, r, (int)r4[0], (int)r4[1], (size_t)(r4[2] * r4[3]), e->acc, epi,
                                            c->threads);
        epi = NULL; /* applied */
    } else if (e->rr && exec2(d, e->rr, m[4], m[5])) {
        goto done;
    }
    if (dnnl_stream_wait(d->st)) goto done;
    if (e->po) epi = NULL; /* applied by the primitive */
    if (e->flip) c->dnn_flipped++;
    if (r && epi && e->nhwc)
        CPU_ISA_PICK(c->isa, cpu_nhwc_epi)(r, r, (size_t)(r4[0] * r4[2] * r4[3]), (int)r4[1], epi, c->threads);
    else if (r && epi) cpu_epi_pass(c, epi, r, r, (int)r4[0], (int)r4[1], (size_t)(r4[2] * r4[3]));
    c->dnn_runs++;
    rc = 0;
done:
    for (int i = 0; i < 11; i++)
        if (m[i]) dnnl_memory_destroy(m[i]);
    if (rc && kb && fresh) cpu_kcache_forget(c, kb); /* not filled */
    return rc;
}

/* Images per primitive call: a batch is cut into calls of whole images whose operands and results take at
 * most c->dnn_chunk bytes each (CPU_DNN_CHUNK; at least one image), so that the copies in the primitive's
 * layouts (bf16 source, fp32 result) stay a small fraction of the tensors: at 256x256, batch 8, whole-batch
 * copies had put bf16's peak memory above fp32's. The cut depends on the shapes only (deterministic).
 * oneDNN sizes its work by omp_get_max_threads() when a primitive is made and when it runs: the context's
 * threads, around both (this thread's setting, put back after). */
static int images_per_call(const cpu_ctx *c, int N, int Ci, int H, int W, int Co, int k, int s, size_t *sx,
                           size_t *sy) {
    int pt;
    const size_t HW = (size_t)H * W, HWo = (size_t)fn_same(H, k, s, &pt) * fn_same(W, k, s, &pt);
    const size_t img = 4 * (Ci * HW > Co * HWo ? Ci * HW : Co * HWo);
    const size_t cb = c->dnn_chunk;
    *sx = (size_t)Ci * HW, *sy = (size_t)Co * HWo; /* floats of one image of x and of y */
    return img * N <= cb ? N : img >= cb ? 1 : (int)(cb / img);
}

static int with_threads(cpu_ctx *c, int pass, int N, int Ci, int H, int W, int Co, int k, int s, int acc,
                        const float *a, const float *b, const float *bias, float *r, const cpu_epi *epi,
                        const cpu_epi *pro) {
    if (dnn_open(c)) return -1;
    size_t sx, sy;
    const int per = images_per_call(c, N, Ci, H, W, Co, k, s, &sx, &sy);
    /* each operand's images: [a, b, r] floats per image, 0 for the weights */
    const size_t step[3] = { pass == CPU_DNN_BWD_DATA ? sy : sx, pass == CPU_DNN_BWD_FILTER ? sy : 0,
                             pass == CPU_DNN_FWD ? sy : pass == CPU_DNN_BWD_DATA ? sx : 0 };
    const int old = omp_get_max_threads();
    if (old != c->threads) omp_set_num_threads(c->threads);
    /* the primitives of both call sizes first: either all run, or conv.c's path runs the whole pass */
    int ie[2];
    entries(c, pass, N, per, Ci, H, W, Co, k, s, bias != NULL, acc, 0, ie);
    dconv *e1 = ie[0] >= 0 ? &c->dnn->e[ie[0]] : NULL, *e2 = ie[1] >= 0 ? &c->dnn->e[ie[1]] : NULL;
    int rc = !e1 || !e2 || !e1->ok || !e2->ok || (pro && (!takes_pro(c, e1) || !takes_pro(c, e2))) ? -1 : 0;
    for (int n0 = 0; n0 < N && !rc; n0 += per) {
        dconv *e = N - n0 < per ? e2 : e1;
        if (run(c, e, a + step[0] * n0, b + step[1] * n0, bias, r + step[2] * n0, NULL, epi, pro)) {
            /* a buffer could not be had (or oneDNN failed): before any image, conv.c's path takes the
             * pass; after some, where the pass adds (acc, dw +=), it cannot: an error (error()) */
            if (n0 > 0 && (acc || pass == CPU_DNN_BWD_FILTER)) c->oom = c->oom ? c->oom : 1;
            else rc = -1;
            break;
        }
    }
    if (old != c->threads) omp_set_num_threads(old);
    return rc;
}

int cpu_dnn_fwd(cpu_ctx *c, const float *x, const float *w, const float *b, float *y, int N, int Ci, int H, int W,
                int Co, int k, int s, const cpu_epi *epi) {
    /* A batch norm epilogue by the primitive's post-ops here measured slower than fn's pass after it
     * (post-ops onto an f32 result: unet bf16 128x128 batch 1 140-154 against 166-170 img/s, Intel Xeon
     * AMX): only cpu_dnn_fwd2's first convolution takes them, where they save the pass to bf16. */
    return with_threads(c, CPU_DNN_FWD, N, Ci, H, W, Co, k, s, 0, x, w, b, y, epi, NULL);
}

int cpu_dnn_fwd_pro(cpu_ctx *c, const float *x, const float *w, const float *b, float *y, int N, int Ci, int H, int W,
                    int Co, int k, int s, const cpu_epi *pro) {
    const int rc = with_threads(c, CPU_DNN_FWD, N, Ci, H, W, Co, k, s, 0, x, w, b, y, NULL, pro);
    if (!rc) c->dnn_fwd_pro++;
    return rc;
}

/* a concatenation's two parts xa [N,Ca,H,W], xb [N,Cb,H,W] (channels last: [N,H,W,C]) */
typedef struct { const float *xa, *xb; int Ca, Cb; size_t HW; } cat_src;

static void lay_cat(const cpu_ctx *c, const void *arg, int n0, int n, uint16_t *pa) {
    const cat_src *u = arg;
    const float *xa = u->xa + (size_t)u->Ca * u->HW * n0, *xb = u->xb + (size_t)u->Cb * u->HW * n0;
    if (c->nhwc)
        CPU_ISA_PICK(c->isa, cpu_nhwc_rows_bf16)(xa, u->Ca, xb, u->Cb, pa, (size_t)n * u->HW, NULL, c->threads);
    else CPU_ISA_PICK(c->isa, cpu_nhwc_cat_bf16)(xa, u->Ca, xb, u->Cb, pa, n, u->HW, NULL, c->threads);
}

/* Two inference convolutions in a row, the second reading only the first's result through epi: where the
 * first's primitive leaves its result in NHWC f32 and the second takes its source in NHWC bf16, the
 * result goes through epi and the rounding in that layout (cpu_nhwc_bn_bf16) straight into the second's
 * source, with neither transpose (nor y1) between them. The same bits as the two calls: each value of
 * y1 is the same float, rounded the same way. Calls of whole images, as many as both convolutions'
 * chunks allow. epi2 (not NULL): y2 through it, as run applies an epilogue; in a unit (channels last
 * only), before the sum, in the one pass that adds the shortcut's result (the epilogue's add 2).
 * With a shortcut sc (not NULL: a residual unit), a third convolution of x, sc->y = conv2(..) + conv3(x):
 * conv3 takes the source that conv1's primitive was given (x rounded and laid out once for the two), and
 * both results, NHWC f32, go back to NCHW in one transpose that adds them (cpu_nchw_from's x2); y2 is
 * not written. The bits of conv_add_fwd_infer(x, conv3, z = y2): the same products, one addition. Where
 * the unit's input is a concatenation (sc->x2), its two parts are laid out side by side in the source
 * (lay_cat), with the bits of the concatenated tensor's, in sc->xc, every image before the first call (y
 * may take their storage). A prologue (sc->pre: the unit's
 * first batch norm and ReLU) goes into conv1's source as it is laid out, and conv3 then lays x out on
 * its own. With the identity (sc->w NULL), sc->y = conv2(..) + x, x added as conv2's result goes back.
 * 0, or -1 (nothing written: the caller makes the calls). */
int cpu_dnn_fwd2(cpu_ctx *c, const float *x, const float *w1, const float *b1, int N, int Ci, int H, int W, int C1,
                 int k1, int s1, const cpu_epi *epi, const float *w2, const float *b2, float *y2, int C2, int k2,
                 int s2, const cpu_epi *epi2, const cpu_shortcut *sc) {
    if (!c->dnn_layout || c->training || (sc && epi2 && !c->nhwc) || dnn_open(c)) return -1;
    const int conv3 = sc && sc->w, pre = sc && sc->pre;
    /* not made here: a concatenation through a prologue, or as the identity's addend */
    if (sc && sc->x2 && (sc->Ci2 <= 0 || sc->Ci2 >= Ci || pre || !conv3)) return -1;
    int pt;
    const int H1 = fn_same(H, k1, s1, &pt), W1 = fn_same(W, k1, s1, &pt);
    size_t sx, s1y, s2x, sy, s3x, s3y;
    int per = images_per_call(c, N, Ci, H, W, C1, k1, s1, &sx, &s1y);
    const int per2 = images_per_call(c, N, C1, H1, W1, C2, k2, s2, &s2x, &sy);
    const int per3 = conv3 ? images_per_call(c, N, Ci, H, W, C2, sc->k, sc->s, &s3x, &s3y) : per;
    if (sc && !conv3 && sx != sy) return -1; /* the identity: x of y2's shape */
    per = per2 < per ? per2 : per;
    per = per3 < per ? per3 : per;
    const int old = omp_get_max_threads();
    if (old != c->threads) omp_set_num_threads(c->threads);
    int i1[2], i2[2], i3[2] = { -1, -1 };
    /* channels last: conv1's primitive applies the batch norm (and ReLU) and writes bf16, conv2's source
     * itself (where it takes the post-ops, and writes the layout conv2 reads: else the pass below). Intel
     * Xeon AMX, paired: unet bf16 128x128 batch 1 162-173 -> 174-179 img/s, batch 8 174-176 -> 181-185;
     * FocusNet 256x256 level within the VM's noise, 7 MB less. */
    if (conv3) entries(c, CPU_DNN_FWD, N, per, Ci, H, W, C2, sc->k, sc->s, sc->b != NULL, 0, 0, i3);
    /* channels last, with a shortcut: the shortcut's primitive writes y, and conv2's adds to it (its sum
     * post-op: conv2's entry), where both take y in its own layout; else the add's pass after them */
    int sum = c->nhwc && conv3 && !epi2;
    if (sum) {
        entries(c, CPU_DNN_FWD, N, per, C1, H1, W1, C2, k2, s2, b2 != NULL, CPU_DNN_SUM, 0, i2);
        for (int i = 0; i < 2; i++)
            if (i2[i] < 0 || !c->dnn->e[i2[i]].ok || i3[i] < 0 || c->dnn->e[i3[i]].rr) sum = 0;
    }
    if (!sum) entries(c, CPU_DNN_FWD, N, per, C1, H1, W1, C2, k2, s2, b2 != NULL, 0, 0, i2);
    /* conv1 with the post-ops where its bf16 result is conv2's source as it is (in buf[2], which conv2 then
     * does not write); else without them, and the pass */
    int po = c->nhwc ? PO_BN | (epi->relu ? PO_RELU : 0) : 0;
    if (po) entries(c, CPU_DNN_FWD, N, per, Ci, H, W, C1, k1, s1, b1 != NULL, 0, po, i1);
    for (int i = 0; i < 2 && po; i++) {
        const dconv *e = i1[i] >= 0 ? &c->dnn->e[i1[i]] : NULL, *f = i2[i] >= 0 ? &c->dnn->e[i2[i]] : NULL;
        if (!e || !e->ok || !f || f->rr || !dnnl_memory_desc_equal(&e->pr, &f->pa)) po = 0;
    }
    if (!po) entries(c, CPU_DNN_FWD, N, per, Ci, H, W, C1, k1, s1, b1 != NULL, 0, 0, i1);
    int rc = 0;
    for (int i = 0; i < 2 && !rc; i++) {
        const dconv *e = i1[i] >= 0 ? &c->dnn->e[i1[i]] : NULL, *f = i2[i] >= 0 ? &c->dnn->e[i2[i]] : NULL;
        if (!e || !f || !e->ok || !f->ok || (!po && !e->fr) || !f->fa || (sc && !f->fr) || (pre && !takes_pro(c, e)) ||
            (sc && sc->x2 && !e->fa))
            rc = -1;
        /* the shortcut's primitive takes x in the first's layout (where no prologue is between), and leaves its
         * result in the second's */
        const dconv *g = conv3 && i3[i] >= 0 ? &c->dnn->e[i3[i]] : NULL;
        if (!rc && conv3 &&
            (!g || !g->ok || !g->fr || !dnnl_memory_desc_equal(&f->pr, &g->pr) ||
             (!pre && (!e->fa || !g->fa || !dnnl_memory_desc_equal(&e->pa, &g->pa)))))
            rc = -1;
    }
    struct cpu_dnn *d = c->dnn;
    if (!rc && sc && sc->x2) { /* every image laid out before the first call (laid_fwd's whole) */
        c->dnn_moved++;
        const cat_src u = { x, sc->x2, Ci - sc->Ci2, sc->Ci2, (size_t)H * W };
        lay_cat(c, &u, 0, N, (uint16_t *)sc->xc);
    }
    for (int n0 = 0; n0 < N && !rc; n0 += per) {
        const int last = N - n0 < per;
        dconv *e = &d->e[i1[last]], *f = &d->e[i2[last]];
        /* conv1: x laid out in buf[0] (the concatenation with x2 laid out in sc->xc, never made in NCHW; or
         * through the prologue), its result in buf[2] */
        const void *given = NULL;
        if (sc && sc->x2) given = (const uint16_t *)sc->xc + sx * n0, c->dnn_cats++;
        if (run(c, e, given ? NULL : x + sx * n0, w1, b1, NULL, given, po ? epi : NULL, pre ? sc->pre : NULL)) {
            rc = -1; /* the caller's calls write all of their outputs again */
            break;
        }
        if (conv3) { /* the shortcut takes buf[0] (x laid out again after a prologue); its result to y (sum),
                      * or conv1's to buf[5] and its own to buf[2] */
            if (!sum) swap_buf(d, 2, 5);
            if (run(c, &d->e[i3[last]], pre ? x + sx * n0 : NULL, sc->w, sc->b, sum ? sc->y + sy * n0 : NULL,
                    pre ? NULL : given ? given : d->buf[0], NULL, NULL)) {
                rc = -1;
                break;
            }
        }
        const int moved = conv3 && !sum; /* conv1's result in buf[5] */
        uint16_t *mid = po ? NULL : grow(c, 0, f->na); /* conv2's source, in place of x's */
        if (!po && !mid) {
            rc = -1;
            break;
        }
        const dnnl_dim_t *m = e->pr.dims;
        if (!po)
            CPU_ISA_PICK(c->isa, cpu_nhwc_bn_bf16)(d->buf[moved ? 5 : 2], mid, (size_t)(m[0] * m[2] * m[3]), (int)m[1],
                                                   epi, c->threads);
        if (moved) swap_buf(d, 2, 5); /* the shortcut's result to buf[5] (conv1's, with po, to buf[2]) */
        if (po) mid = d->buf[2], c->dnn_postops++;
        /* with set_nhwc the unit's conv2 writes y itself, and the other branch (or x) is added to it there (or
         * it adds itself to the shortcut's there: sum) */
        float *out = !sc ? y2 + sy * n0 : c->nhwc ? sc->y + sy * n0 : NULL;
        if (run(c, f, NULL, w2, b2, out, mid, sc ? NULL : epi2, NULL)) {
            rc = -1;
            break;
        }
        if (sum) {
            c->dnn_units++, c->dnn_sums++;
        } else if (sc && c->nhwc) { /* conv2 + shortcut, or conv2 + x: one addition, in either order the same */
            const dnnl_dim_t *r4 = f->pr.dims;
            const void *z = conv3 ? (const void *)d->buf[5] : (const void *)(x + sx * n0);
            cpu_epi add = epi2 ? *epi2 : (cpu_epi){ 0 }; /* epi2 (its add 2), then + z */
            add.add = epi2 ? 2 : 1, add.zoff = (const char *)z - (const char *)out;
            CPU_ISA_PICK(c->isa, cpu_nhwc_epi)(out, out, (size_t)(r4[0] * r4[2] * r4[3]), (int)r4[1], &add, c->threads);
            c->dnn_units++;
        } else if (sc) { /* shortcut + conv2, in conv_add_fwd_infer's order; or conv2 + x, the identity's sum */
            const dnnl_dim_t *r4 = f->pr.dims;
            const cpu_epi add = { NULL, NULL, 0, 1, (const char *)(x + sx * n0) - (const char *)(sc->y + sy * n0) };
            CPU_ISA_PICK(c->isa, cpu_nchw_from)(d->buf[conv3 ? 5 : 2], conv3 ? d->buf[2] : NULL, sc->y + sy * n0,
                                                (int)r4[0], (int)r4[1], (size_t)(r4[2] * r4[3]), 0,
                                                conv3 ? NULL : &add, c->threads);
            c->dnn_moved++, c->dnn_units++;
        }
        c->dnn_chained++;
    }
    if (old != c->threads) omp_set_num_threads(old);
    return rc;
}

/* An inference convolution whose source layout.c lays out for the primitive from what it is made of,
 * never made itself: lay(c, arg, n0, n, pa) writes images n0 .. n0 + n - 1 of it into pa, the primitive's
 * NHWC bf16; y = epi(conv(that)) (epi NULL: none), count counts the calls. Calls of whole images as
 * cpu_dnn_fwd's. whole (not NULL: N*Ci*H*W bf16 values of room) takes every image before the first call,
 * so y may overlap what lay reads (a concatenation's parts, whose storage the plan may give the output:
 * the concatenation's own, whole, it does not); else each call's images are laid out in turn. 0, or -1
 * (nothing written: the caller makes the calls it stands for). */
typedef void (*lay_fn)(const cpu_ctx *c, const void *arg, int n0, int n, uint16_t *pa);

static int laid_fwd(cpu_ctx *c, int N, int Ci, int H, int W, int Co, int k, int s, const float *w, const float *b,
                    float *y, const cpu_epi *epi, lay_fn lay, const void *arg, void *whole, long *count) {
    if (!c->dnn_layout || c->training || dnn_open(c)) return -1;
    size_t sx, sy;
    const int per = images_per_call(c, N, Ci, H, W, Co, k, s, &sx, &sy);
    const int old = omp_get_max_threads();
    if (old != c->threads) omp_set_num_threads(c->threads);
    int ie[2];
    entries(c, CPU_DNN_FWD, N, per, Ci, H, W, Co, k, s, b != NULL, 0, 0, ie);
    int rc = 0;
    for (int i = 0; i < 2; i++)
        if (ie[i] < 0 || !c->dnn->e[ie[i]].ok || !c->dnn->e[ie[i]].fa) rc = -1;
    if (!rc && whole) c->dnn_moved++, lay(c, arg, 0, N, whole);
    for (int n0 = 0; n0 < N && !rc; n0 += per) {
        dconv *e = &c->dnn->e[ie[N - n0 < per]];
        uint16_t *pa = whole ? (uint16_t *)whole + (size_t)n0 * Ci * H * W : grow(c, 0, e->na);
        if (!pa) {
            rc = -1;
            break;
        }
        if (!whole) c->dnn_moved++, lay(c, arg, n0, (int)e->pa.dims[0], pa);
        if (run(c, e, NULL, w, b, y + sy * n0, pa, epi, NULL)) {
            rc = -1; /* the caller's calls write all of y again */
            break;
        }
        (*count)++;
    }
    if (old != c->threads) omp_set_num_threads(old);
    return rc;
}

/* an upsampling's input x [N,Ci,h,w] (channels last: [N,h,w,Ci]) */
typedef struct { const float *x; int Ci, h, w; } up_src;

static void lay_up(const cpu_ctx *c, const void *arg, int n0, int n, uint16_t *pa) {
    const up_src *u = arg;
    const float *x = u->x + (size_t)u->Ci * u->h * u->w * n0;
    if (c->nhwc) CPU_ISA_PICK(c->isa, cpu_nhwc_up2_bf16)(x, pa, n, u->Ci, u->h, u->w, c->threads);
    else CPU_ISA_PICK(c->isa, cpu_nhwc_up_bf16)(x, pa, n, u->Ci, u->h, u->w, c->threads);
}

/* A convolution of an upsampling, in inference: x [N,Ci,h,w] goes through the nearest 2x upsampling as
 * layout.c lays it out for the primitive (cpu_nhwc_up_bf16), each value read once and stored four
 * times, and the upsampled tensor is never made in NCHW. The same bits as up2_fwd then cpu_dnn_fwd: the
 * same values rounded, the same primitive. */
int cpu_dnn_up_fwd(cpu_ctx *c, const float *x, const float *w, const float *b, float *y, int N, int Ci, int h,
                   int wd, int Co, int k, int s) {
    const up_src u = { x, Ci, h, wd };
    return laid_fwd(c, N, Ci, 2 * h, 2 * wd, Co, k, s, w, b, y, NULL, lay_up, &u, NULL, &c->dnn_ups);
}

/* A convolution of a concatenation, in inference: [xa, xb] laid out for the primitive from its two parts
 * side by side (cpu_nhwc_rows_bf16 channels last, cpu_nhwc_cat_bf16 from NCHW), never made, in the
 * concatenation's storage u (every image first: laid_fwd's whole): the same values rounded, the same
 * primitive, so the bits of concat then cpu_dnn_fwd. */
int cpu_dnn_cat_fwd(cpu_ctx *c, const float *xa, int Ca, const float *xb, int Cb, float *u, const float *w,
                    const float *b, float *y, int N, int H, int W, int Co, int k, int s, const cpu_epi *epi) {
    const cat_src src = { xa, xb, Ca, Cb, (size_t)H * W };
    return laid_fwd(c, N, Ca + Cb, H, W, Co, k, s, w, b, y, epi, lay_cat, &src, u, &c->dnn_cats);
}

int cpu_dnn_bwd_data(cpu_ctx *c, const float *dy, const float *w, float *dx, int N, int Ci, int H, int W, int Co,
                     int k, int s, int acc) {
    return with_threads(c, CPU_DNN_BWD_DATA, N, Ci, H, W, Co, k, s, acc, dy, w, NULL, dx, NULL, NULL);
}

int cpu_dnn_bwd_filter(cpu_ctx *c, const float *x, const float *dy, float *dw, int N, int Ci, int H, int W, int Co,
                       int k, int s, const cpu_epi *pro) {
    return with_threads(c, CPU_DNN_BWD_FILTER, N, Ci, H, W, Co, k, s, 1, x, dy, NULL, dw, NULL, pro);
}

/* the backward-data entry f's dy can come from the backward-filter entry g: both take it in one layout */
static int shares_dy(const dconv *g, const dconv *f) {
    return g->ok && f->ok && g->rb && f->ra && dnnl_memory_desc_equal(&g->pb, &f->pa);
}

/* Both backward passes, call by call: backward-filter reorders the call's dy into the primitives' layout
 * (buf[1], rounding it to bf16), and backward-data takes it from there instead of reordering it again;
 * its own kernels go to buf[4]. The same calls, cut and results as cpu_dnn_bwd_filter then
 * cpu_dnn_bwd_data: each output is made by the same operations in the same order. */
int cpu_dnn_bwd(cpu_ctx *c, const float *x, const float *dy, const float *w, float *dw, float *dx, int N, int Ci,
                int H, int W, int Co, int k, int s, int acc, const cpu_epi *pro) {
    if (dnn_open(c)) return -1;
    size_t sx, sy;
    const int per = images_per_call(c, N, Ci, H, W, Co, k, s, &sx, &sy);
    const int old = omp_get_max_threads();
    if (old != c->threads) omp_set_num_threads(c->threads);
    int ig[2], id[2];
    entries(c, CPU_DNN_BWD_FILTER, N, per, Ci, H, W, Co, k, s, 0, 1, 0, ig);
    entries(c, CPU_DNN_BWD_DATA, N, per, Ci, H, W, Co, k, s, 0, acc, 0, id);
    int rc = 0;
    for (int i = 0; i < 2; i++) {
        if (ig[i] < 0 || id[i] < 0 || (pro && !takes_pro(c, &c->dnn->e[ig[i]]))) rc = -1;
        else if (!shares_dy(&c->dnn->e[ig[i]], &c->dnn->e[id[i]])) rc = -1, c->dnn_unshared++;
    }
    for (int n0 = 0; n0 < N && !rc; n0 += per) {
        const int last = N - n0 < per;
        dconv *g = &c->dnn->e[ig[last]], *f = &c->dnn->e[id[last]];
        if (run(c, g, x + sx * n0, dy + sy * n0, NULL, dw, NULL, NULL, pro)) {
            if (n0 > 0) c->oom = c->oom ? c->oom : 1; /* dw has had calls added: error() */
            else rc = -1;
            break;
        }
        if (run(c, f, dy + sy * n0, w, NULL, dx + sx * n0, c->dnn->buf[1], NULL, NULL)) {
            c->oom = c->oom ? c->oom : 1; /* dw has this call added */
            break;
        }
        c->dnn_shared++;
    }
    if (old != c->threads) omp_set_num_threads(old);
    return rc;
}
#else
void cpu_dnn_free(cpu_ctx *c) { (void)c; }
int cpu_dnn_fwd(cpu_ctx *c, const float *x, const float *w, const float *b, float *y, int N, int Ci, int H, int W,
                int Co, int k, int s, const cpu_epi *epi) {
    return -1;
}
int cpu_dnn_fwd2(cpu_ctx *c, const float *x, const float *w1, const float *b1, int N, int Ci, int H, int W, int C1,
                 int k1, int s1, const cpu_epi *epi, const float *w2, const float *b2, float *y2, int C2, int k2,
                 int s2, const cpu_epi *epi2, const cpu_shortcut *sc) {
    return -1;
}
int cpu_dnn_up_fwd(cpu_ctx *c, const float *x, const float *w, const float *b, float *y, int N, int Ci, int h,
                   int wd, int Co, int k, int s) {
    return -1;
}
int cpu_dnn_fwd_pro(cpu_ctx *c, const float *x, const float *w, const float *b, float *y, int N, int Ci, int H, int W,
                    int Co, int k, int s, const cpu_epi *pro) {
    return -1;
}
int cpu_dnn_cat_fwd(cpu_ctx *c, const float *xa, int Ca, const float *xb, int Cb, float *u, const float *w,
                    const float *b, float *y, int N, int H, int W, int Co, int k, int s, const cpu_epi *epi) {
    return -1;
}
int cpu_dnn_bwd_data(cpu_ctx *c, const float *dy, const float *w, float *dx, int N, int Ci, int H, int W, int Co,
                     int k, int s, int acc) {
    return -1;
}
int cpu_dnn_bwd_filter(cpu_ctx *c, const float *x, const float *dy, float *dw, int N, int Ci, int H, int W, int Co,
                       int k, int s, const cpu_epi *pro) {
    return -1;
}
int cpu_dnn_bwd(cpu_ctx *c, const float *x, const float *dy, const float *w, float *dw, float *dx, int N, int Ci,
                int H, int W, int Co, int k, int s, int acc, const cpu_epi *pro) {
    return -1;
}
#endif
