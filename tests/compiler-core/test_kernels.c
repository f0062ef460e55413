/* test_kernels.c — generated kernels checked numerically: every operator with
 * its default schedule, every schedule primitive alone and in combination on
 * odd shapes (1, primes, non-dividing factors), every operator with a
 * non-default schedule, other dtypes, math intrinsics and select. Most checks
 * compare against the naive schedule of the same compute (kernel_check); a
 * few compare against values computed here in plain C, so that a bug shared
 * by the kernel and its reference (simplifier, code generator) shows too. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <cmocka.h>
#include "kernel_check.h"
#include "schedule-templates/dlc_templates.h"

/* ---- helpers ---- */
#define OK(x) ok_((x), #x, __LINE__)
static void ok_(int rc, const char *what, int line) {
    if (rc < 0) {
        fprintf(stderr, "line %d: %s failed: %s\n", line, what, dlc_last_error());
        fail();
    }
}
#define NN(x) nn_((x), #x, __LINE__)
static void *nn_(void *p, const char *what, int line) {
    if (!p) {
        fprintf(stderr, "line %d: %s returned NULL: %s\n", line, what, dlc_last_error());
        fail();
    }
    return p;
}

/* An operator from a SPEC with an unscheduled schedule of its output. */
typedef struct {
    dlc_ctx_t *ctx;
    dlc_op_spec_t spec;
    dlc_op_t op;
    dlc_schedule_t *s;
    dlc_stage_t *out; /* the output's stage */
} kop_t;

static void kop_new(kop_t *k, const char *spec) {
    memset(k, 0, sizeof *k);
    k->ctx = dlc_ctx_new();
    if (dlc_op_parse(spec, &k->spec) < 0 || dlc_op_build(k->ctx, &k->spec, &k->op) < 0) {
        fprintf(stderr, "%s: %s\n", spec, dlc_last_error());
        fail();
    }
    k->s = NN(dlc_sched_create(k->ctx, 1, &k->op.out));
    k->out = dlc_sched_stage(k->s, k->op.out);
}

static void kop_check(kop_t *k, const char *what) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s [%s]", what, k->spec.text);
    kcheck_assert(k->s, k->op.n_args, k->op.args, k->op.n_outputs, NULL, buf);
    dlc_ctx_destroy(&k->ctx);
}

/* The stage whose tensor has this name (first match), or fail. */
static dlc_stage_t *stage_named(dlc_schedule_t *s, const char *name) {
    for (int i = 0; i < dlc_sched_num_stages(s); i++) {
        dlc_stage_t *st = dlc_sched_stage_at(s, i);
        if (strcmp(dlc_stage_name(st), name) == 0) return st;
    }
    fprintf(stderr, "no stage named %s\n", name);
    fail();
    return NULL;
}

static dlc_iter_var_t *ax(dlc_stage_t *st, int i) { return NN(dlc_stage_axis(st, i)); }
static dlc_iter_var_t *rax(dlc_stage_t *st, int i) { return NN(dlc_stage_reduce_axis(st, i)); }
static dlc_iter_var_t *leaf(dlc_stage_t *st, int i) {
    int n;
    dlc_iter_var_t *const *lv = dlc_stage_leaves(st, &n);
    if (i < 0) i += n;
    assert_true(i >= 0 && i < n);
    return lv[i];
}

/* Inlines every stage tagged injective except the output (pad, bias_add, relu). */
static void inline_injective(kop_t *k) {
    for (int i = 0; i < dlc_sched_num_stages(k->s); i++) {
        dlc_stage_t *st = dlc_sched_stage_at(k->s, i);
        const char *tag = dlc_stage_tensor(st)->tag;
        if (st != k->out && tag && strstr(tag, "injective")) OK(dlc_stage_compute_inline(st));
    }
}

/* ---- every operator with its default schedule ---- */
static void check_spec(const char *spec) {
    dlc_ctx_t *ctx = dlc_ctx_new();
    dlc_op_spec_t sp;
    dlc_op_t op;
    dlc_target_t tgt;
    assert_int_equal(dlc_target_parse("llvm", &tgt), 0);
    if (dlc_op_parse(spec, &sp) < 0 || dlc_op_build(ctx, &sp, &op) < 0) {
        fprintf(stderr, "%s: %s\n", spec, dlc_last_error());
        fail();
    }
    dlc_schedule_t *s = dlc_op_default_schedule(ctx, &sp, &op, &tgt);
    if (!s) {
        fprintf(stderr, "%s: schedule: %s\n", spec, dlc_last_error());
        fail();
    }
    kcheck_assert(s, op.n_args, op.args, op.n_outputs, NULL, spec);
    dlc_ctx_destroy(&ctx);
}

static void test_default_schedules(void **state) {
    (void)state;
    static const char *specs[] = {
        "dense:1,1,1", "dense:7,13,5", "dense:64,64,64", "dense:33,67,129", "dense:1,1000,512",
        "batch_matmul:3,7,11,13", "batch_matmul:1,16,32,8",
        "conv2d:1,3,17,19,5,3,3,1,1", "conv2d:2,4,9,9,8,3,3,2,1", "conv2d:1,8,7,7,16,1,1,1,0",
        "conv2d:1,3,23,23,4,7,7,2,3", "conv2d:1,2,11,11,3,3,3,1,2,2",
        "conv2d_nchwc:1,8,9,9,16,3,3,1,1,4,8", "conv2d_nchwc:1,6,7,11,6,3,3,2,1,3,2",
        "depthwise_conv2d:1,5,13,11,3,3,1,1", "depthwise_conv2d:2,8,14,14,3,3,2,1",
        "conv2d_transpose:1,4,5,7,3,3,3,2,1", "conv2d_transpose:1,3,4,4,2,4,4,2,1", "conv2d_transpose:1,2,3,5,3,3,3,1,0",
        "pool2d:1,3,13,11,3,3,2,1,max", "pool2d:2,4,8,8,2,2,2,0,avg", "pool2d:1,1,7,7,3,3,1,1,avg",
        "softmax:7,13", "softmax:1,1", "relu:37", "bias_relu:5,19",
    };
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) check_spec(specs[i]);
}

/* ---- split ---- */
static void test_split(void **state) {
    (void)state;
    kop_t k;
    char what[128];
    /* factor: dividing, not dividing, 1, equal to and larger than the extent; on data and reduce axes */
    static const int64_t factors[] = {1, 2, 4, 13, 20};
    for (size_t f = 0; f < sizeof factors / sizeof factors[0]; f++)
        for (int a = 0; a < 3; a++) {
            kop_new(&k, "dense:13,11,7");
            dlc_iter_var_t *iv = a < 2 ? ax(k.out, a) : rax(k.out, 0), *o, *i;
            OK(dlc_stage_split(k.out, iv, factors[f], &o, &i));
            snprintf(what, sizeof what, "split axis %d by %lld", a, (long long)factors[f]);
            kop_check(&k, what);
        }
    /* nparts */
    static const int64_t nparts[] = {1, 3, 11, 50};
    for (size_t p = 0; p < sizeof nparts / sizeof nparts[0]; p++) {
        kop_new(&k, "dense:13,11,7");
        dlc_iter_var_t *o, *i, *o2, *i2;
        OK(dlc_stage_split_nparts(k.out, ax(k.out, 1), nparts[p], &o, &i));
        OK(dlc_stage_split_nparts(k.out, rax(k.out, 0), nparts[p], &o2, &i2));
        snprintf(what, sizeof what, "split nparts %lld", (long long)nparts[p]);
        kop_check(&k, what);
    }
    /* dividing split on an even shape */
    kop_new(&k, "dense:16,8,8");
    dlc_iter_var_t *o, *i, *o2, *i2, *o3, *i3;
    OK(dlc_stage_split(k.out, ax(k.out, 0), 4, &o, &i));
    OK(dlc_stage_split(k.out, rax(k.out, 0), 2, &o2, &i2));
    kop_check(&k, "dividing splits");
    /* nested non-dividing splits of the same axis, inner and outer */
    kop_new(&k, "dense:29,6,5");
    OK(dlc_stage_split(k.out, ax(k.out, 0), 8, &o, &i));
    OK(dlc_stage_split(k.out, i, 3, &o2, &i2));
    OK(dlc_stage_split(k.out, o, 2, &o3, &i3));
    kop_check(&k, "nested splits 8 -> 3, outer 2");
    /* extent 1 everywhere */
    kop_new(&k, "dense:1,1,1");
    OK(dlc_stage_split(k.out, ax(k.out, 0), 4, &o, &i));
    OK(dlc_stage_split_nparts(k.out, rax(k.out, 0), 3, &o2, &i2));
    kop_check(&k, "splits of extent 1");
    /* batch_matmul: split the batch */
    kop_new(&k, "batch_matmul:5,3,4,2");
    OK(dlc_stage_split(k.out, ax(k.out, 0), 2, &o, &i));
    kop_check(&k, "split batch");
}

/* ---- fuse ---- */
static void test_fuse(void **state) {
    (void)state;
    kop_t k;
    dlc_iter_var_t *f, *o, *i, *o2, *i2;
    /* fuse then split the fused axis (not dividing) and vectorize its inner part */
    kop_new(&k, "bias_relu:5,19");
    inline_injective(&k);
    OK(dlc_stage_fuse(k.out, ax(k.out, 0), ax(k.out, 1), &f));
    OK(dlc_stage_split(k.out, f, 8, &o, &i));
    OK(dlc_stage_vectorize(k.out, i));
    kop_check(&k, "fuse, split 8, vectorize");
    /* fuse data axes of a reduction, split fused by a prime */
    kop_new(&k, "dense:7,9,4");
    OK(dlc_stage_fuse(k.out, ax(k.out, 0), ax(k.out, 1), &f));
    OK(dlc_stage_split(k.out, f, 5, &o, &i));
    kop_check(&k, "dense fuse m,n split 5");
    /* split both, fuse the inner of one with the outer of the other */
    kop_new(&k, "dense:10,9,3");
    OK(dlc_stage_split(k.out, ax(k.out, 0), 4, &o, &i));
    OK(dlc_stage_split(k.out, ax(k.out, 1), 2, &o2, &i2));
    OK(dlc_stage_fuse(k.out, i, o2, &f));
    kop_check(&k, "fuse m_i with n_o");
    /* fuse reduce axes of a conv (rc, ry), split the fused reduce axis */
    kop_new(&k, "conv2d:1,3,7,8,2,3,3,1,1");
    inline_injective(&k);
    OK(dlc_stage_fuse(k.out, rax(k.out, 0), rax(k.out, 1), &f));
    OK(dlc_stage_split(k.out, f, 4, &o, &i));
    kop_check(&k, "conv fuse rc,ry split 4");
    /* fuse three axes of batch_matmul */
    kop_new(&k, "batch_matmul:3,5,7,2");
    OK(dlc_stage_fuse(k.out, ax(k.out, 0), ax(k.out, 1), &f));
    OK(dlc_stage_fuse(k.out, f, ax(k.out, 2), &o));
    OK(dlc_stage_split(k.out, o, 16, &o2, &i2));
    kop_check(&k, "batch_matmul fuse b,m,n split 16");
    /* fuse of extent-1 axes */
    kop_new(&k, "batch_matmul:1,1,6,3");
    OK(dlc_stage_fuse(k.out, ax(k.out, 0), ax(k.out, 1), &f));
    kop_check(&k, "fuse 1 x 1");
}

/* ---- reorder ---- */
static void test_reorder(void **state) {
    (void)state;
    kop_t k;
    dlc_iter_var_t *o, *i, *ko, *ki;
    /* reduce axis outermost */
    kop_new(&k, "dense:7,5,11");
    OK(dlc_stage_reorder(k.out, 3, (dlc_iter_var_t *[]){rax(k.out, 0), ax(k.out, 1), ax(k.out, 0)}));
    kop_check(&k, "reorder k, n, m");
    /* split reduce, ko outermost, ki innermost, data between */
    kop_new(&k, "dense:6,7,13");
    OK(dlc_stage_split(k.out, rax(k.out, 0), 4, &ko, &ki));
    OK(dlc_stage_split(k.out, ax(k.out, 0), 4, &o, &i));
    OK(dlc_stage_reorder(k.out, 5, (dlc_iter_var_t *[]){ko, i, ax(k.out, 1), o, ki}));
    kop_check(&k, "reorder ko, m_i, n, m_o, ki");
    /* inner part of a non-dividing split outside its outer part */
    kop_new(&k, "dense:11,3,2");
    OK(dlc_stage_split(k.out, ax(k.out, 0), 4, &o, &i));
    OK(dlc_stage_reorder(k.out, 2, (dlc_iter_var_t *[]){i, o}));
    kop_check(&k, "reorder m_i outside m_o");
    /* conv: reduce axes outermost, in reverse */
    kop_new(&k, "conv2d:1,3,6,7,4,3,2,2,1");
    inline_injective(&k);
    dlc_stage_t *c = k.out;
    OK(dlc_stage_reorder(c, 7, (dlc_iter_var_t *[]){rax(c, 2), rax(c, 1), rax(c, 0), ax(c, 3), ax(c, 2), ax(c, 1), ax(c, 0)}));
    kop_check(&k, "conv reorder all reversed, reduce outermost");
}

/* ---- tile ---- */
static void test_tile(void **state) {
    (void)state;
    kop_t k;
    dlc_iter_var_t *xo, *yo, *xi, *yi;
    static const int64_t tiles[][2] = {{4, 8}, {3, 5}, {16, 16}, {1, 11}};
    for (size_t t = 0; t < sizeof tiles / sizeof tiles[0]; t++) {
        kop_new(&k, "dense:13,11,6");
        OK(dlc_stage_tile(k.out, ax(k.out, 0), ax(k.out, 1), tiles[t][0], tiles[t][1], &xo, &yo, &xi, &yi));
        char what[64];
        snprintf(what, sizeof what, "tile %lldx%lld", (long long)tiles[t][0], (long long)tiles[t][1]);
        kop_check(&k, what);
    }
    /* tile then k between the tile loops */
    kop_new(&k, "dense:9,10,7");
    OK(dlc_stage_tile(k.out, ax(k.out, 0), ax(k.out, 1), 2, 4, &xo, &yo, &xi, &yi));
    OK(dlc_stage_reorder(k.out, 3, (dlc_iter_var_t *[]){rax(k.out, 0), xi, yi}));
    kop_check(&k, "tile with k outside the tile");
    /* tile of the spatial axes of a pool */
    kop_new(&k, "pool2d:1,2,9,11,3,3,2,1,max");
    inline_injective(&k);
    OK(dlc_stage_tile(k.out, ax(k.out, 2), ax(k.out, 3), 2, 4, &xo, &yo, &xi, &yi));
    kop_check(&k, "max pool tile 2x4");
}

/* ---- vectorize ---- */
static void test_vectorize(void **state) {
    (void)state;
    kop_t k;
    dlc_iter_var_t *o, *i, *o2, *i2;
    char what[64];
    /* power-of-two and not, dividing and on a tail */
    static const int64_t lanes[] = {2, 3, 4, 8, 16};
    for (size_t l = 0; l < sizeof lanes / sizeof lanes[0]; l++) {
        kop_new(&k, "dense:5,19,6");
        OK(dlc_stage_split(k.out, ax(k.out, 1), lanes[l], &o, &i));
        OK(dlc_stage_reorder(k.out, 3, (dlc_iter_var_t *[]){o, rax(k.out, 0), i}));
        OK(dlc_stage_vectorize(k.out, i));
        snprintf(what, sizeof what, "dense vectorize n_i (%lld lanes, tail)", (long long)lanes[l]);
        kop_check(&k, what);
    }
    kop_new(&k, "dense:5,16,6");
    OK(dlc_stage_split(k.out, ax(k.out, 1), 8, &o, &i));
    OK(dlc_stage_reorder(k.out, 3, (dlc_iter_var_t *[]){o, rax(k.out, 0), i}));
    OK(dlc_stage_vectorize(k.out, i));
    kop_check(&k, "dense vectorize n_i (8 lanes, dividing)");
    /* a whole axis of odd extent; a reduce axis; an outer axis */
    kop_new(&k, "dense:3,7,5");
    OK(dlc_stage_reorder(k.out, 2, (dlc_iter_var_t *[]){rax(k.out, 0), ax(k.out, 1)}));
    OK(dlc_stage_vectorize(k.out, ax(k.out, 1)));
    kop_check(&k, "vectorize a whole axis of 7");
    kop_new(&k, "dense:3,7,8");
    OK(dlc_stage_vectorize(k.out, rax(k.out, 0)));
    kop_check(&k, "vectorize the reduce axis");
    kop_new(&k, "dense:4,3,2");
    OK(dlc_stage_vectorize(k.out, ax(k.out, 0)));
    kop_check(&k, "vectorize the outer axis");
    /* elementwise: fused chain with a vectorized tail, and the relu alone */
    static const char *ew[] = {"relu:37", "relu:1", "relu:64", "bias_relu:3,13"};
    for (size_t e = 0; e < sizeof ew / sizeof ew[0]; e++) {
        kop_new(&k, ew[e]);
        inline_injective(&k);
        OK(dlc_stage_split(k.out, leaf(k.out, -1), 8, &o, &i));
        OK(dlc_stage_vectorize(k.out, i));
        kop_check(&k, "elementwise split 8 vectorize");
    }
    /* a tail made by two splits: vectorize the innermost of a split of a split */
    kop_new(&k, "relu:45");
    OK(dlc_stage_split(k.out, ax(k.out, 0), 12, &o, &i));
    OK(dlc_stage_split(k.out, i, 4, &o2, &i2));
    OK(dlc_stage_vectorize(k.out, i2));
    kop_check(&k, "vectorize inner of 45 -> 12 -> 4");
    /* a stencil read with stride 2 (a gather) vectorized: pool along w */
    kop_new(&k, "pool2d:1,2,7,17,3,3,2,0,avg");
    dlc_stage_t *ps = stage_named(k.s, "pool_sum");
    OK(dlc_stage_reorder(ps, 2, (dlc_iter_var_t *[]){rax(ps, 1), ax(ps, 3)}));
    OK(dlc_stage_vectorize(ps, ax(ps, 3)));
    OK(dlc_stage_split(k.out, ax(k.out, 3), 4, &o, &i));
    OK(dlc_stage_vectorize(k.out, i));
    kop_check(&k, "pool vectorize w (stride 2)");
}

/* ---- unroll ---- */
static void test_unroll(void **state) {
    (void)state;
    kop_t k;
    dlc_iter_var_t *o, *i, *ko, *ki;
    kop_new(&k, "dense:5,7,13");
    OK(dlc_stage_split(k.out, rax(k.out, 0), 4, &ko, &ki));
    OK(dlc_stage_unroll(k.out, ki)); /* a tail: extent min(4, ...) */
    OK(dlc_stage_unroll(k.out, ax(k.out, 1)));
    kop_check(&k, "unroll k_i (tail) and n");
    kop_new(&k, "dense:5,7,12");
    OK(dlc_stage_split(k.out, rax(k.out, 0), 4, &ko, &ki));
    OK(dlc_stage_unroll(k.out, ki));
    OK(dlc_stage_split(k.out, ax(k.out, 0), 2, &o, &i));
    OK(dlc_stage_unroll(k.out, i));
    kop_check(&k, "unroll dividing k_i and m_i");
    kop_new(&k, "relu:100");
    OK(dlc_stage_unroll(k.out, ax(k.out, 0))); /* more than the explicit-unroll limit */
    kop_check(&k, "unroll 100");
    kop_new(&k, "dense:3,2,1");
    OK(dlc_stage_unroll(k.out, ax(k.out, 0)));
    OK(dlc_stage_unroll(k.out, ax(k.out, 1)));
    OK(dlc_stage_unroll(k.out, rax(k.out, 0)));
    kop_check(&k, "unroll everything");
    /* unroll + vectorize inside */
    kop_new(&k, "dense:6,16,3");
    OK(dlc_stage_split(k.out, ax(k.out, 1), 8, &o, &i));
    OK(dlc_stage_reorder(k.out, 4, (dlc_iter_var_t *[]){o, rax(k.out, 0), ax(k.out, 0), i}));
    OK(dlc_stage_unroll(k.out, ax(k.out, 0)));
    OK(dlc_stage_vectorize(k.out, i));
    kop_check(&k, "unroll m around vectorized n_i");
}

/* ---- parallel ---- */
static void test_parallel(void **state) {
    (void)state;
    kop_t k;
    dlc_iter_var_t *f, *o, *i, *o2, *i2;
    kop_new(&k, "dense:7,9,5");
    OK(dlc_stage_fuse(k.out, ax(k.out, 0), ax(k.out, 1), &f));
    OK(dlc_stage_parallel(k.out, f));
    kop_check(&k, "parallel on fused m,n");
    kop_new(&k, "dense:13,9,5");
    OK(dlc_stage_split(k.out, ax(k.out, 0), 4, &o, &i));
    OK(dlc_stage_parallel(k.out, o));
    OK(dlc_stage_parallel(k.out, i)); /* nested */
    kop_check(&k, "parallel m_o and m_i (nested)");
    kop_new(&k, "conv2d:2,3,9,9,5,3,3,1,1");
    inline_injective(&k);
    OK(dlc_stage_fuse(k.out, ax(k.out, 0), ax(k.out, 1), &f));
    OK(dlc_stage_fuse(k.out, f, ax(k.out, 2), &o));
    OK(dlc_stage_split(k.out, o, 7, &o2, &i2));
    OK(dlc_stage_parallel(k.out, o2));
    kop_check(&k, "conv parallel on split of fused n,k,h");
    kop_new(&k, "softmax:9,14");
    for (int s = 0; s < dlc_sched_num_stages(k.s); s++) OK(dlc_stage_parallel(dlc_sched_stage_at(k.s, s), leaf(dlc_sched_stage_at(k.s, s), 0)));
    kop_check(&k, "softmax every stage parallel on rows");
    kop_new(&k, "batch_matmul:3,4,5,6");
    OK(dlc_stage_parallel(k.out, ax(k.out, 0)));
    OK(dlc_stage_parallel(k.out, ax(k.out, 2)));
    kop_check(&k, "batch_matmul parallel b and n");
}

/* ---- compute_at ---- */
static void test_compute_at_levels(void **state) {
    (void)state;
    kop_t k;
    char what[128];
    /* bias_add attached to relu at every leaf of a tiled relu */
    for (int lv = 0; lv < 4; lv++) {
        kop_new(&k, "bias_relu:7,11");
        dlc_stage_t *ba = stage_named(k.s, "bias_add");
        dlc_iter_var_t *xo, *yo, *xi, *yi;
        OK(dlc_stage_tile(k.out, ax(k.out, 0), ax(k.out, 1), 3, 4, &xo, &yo, &xi, &yi));
        OK(dlc_stage_compute_at(ba, k.out, leaf(k.out, lv)));
        snprintf(what, sizeof what, "bias_add at relu leaf %d", lv);
        kop_check(&k, what);
    }
    /* a reduction (dense) attached to an elementwise consumer at each level */
    for (int lv = 0; lv < 4; lv++) {
        dlc_ctx_t *c = dlc_ctx_new();
        dlc_tensor_t *A = dlc_te_placeholder(c, "A", 2, (int64_t[]){9, 5}, DLC_FLOAT32);
        dlc_tensor_t *W = dlc_te_placeholder(c, "W", 2, (int64_t[]){7, 5}, DLC_FLOAT32);
        dlc_tensor_t *D = dlc_topi_dense(c, A, W, A->dtype), *R = dlc_topi_relu(c, D);
        dlc_schedule_t *s = NN(dlc_sched_create(c, 1, &R));
        dlc_stage_t *sr = dlc_sched_stage(s, R), *sd = dlc_sched_stage(s, D);
        dlc_iter_var_t *xo, *yo, *xi, *yi, *ko, *ki;
        OK(dlc_stage_tile(sr, ax(sr, 0), ax(sr, 1), 4, 2, &xo, &yo, &xi, &yi));
        OK(dlc_stage_split(sd, rax(sd, 0), 2, &ko, &ki));
        OK(dlc_stage_compute_at(sd, sr, leaf(sr, lv)));
        snprintf(what, sizeof what, "dense at relu leaf %d", lv);
        kcheck_assert(s, 3, (dlc_tensor_t *[]){A, W, R}, 1, NULL, what);
        dlc_ctx_destroy(&c);
    }
    /* the pad stage of a conv attached at each of its leaves (stride 1 and 2) */
    static const char *convs[] = {"conv2d:1,3,9,11,4,3,3,1,1", "conv2d:2,2,10,9,3,3,3,2,1"};
    for (int cv = 0; cv < 2; cv++)
        for (int lv = 0; lv < 7; lv++) {
            kop_new(&k, convs[cv]);
            dlc_stage_t *pad = stage_named(k.s, "pad");
            OK(dlc_stage_compute_at(pad, k.out, leaf(k.out, lv)));
            snprintf(what, sizeof what, "pad at conv leaf %d", lv);
            kop_check(&k, what);
        }
    /* pad attached inside a tiled conv (split h and w, rc outer) */
    kop_new(&k, "conv2d:1,4,13,12,3,3,3,1,1");
    {
        dlc_stage_t *c = k.out, *pad = stage_named(k.s, "pad");
        dlc_iter_var_t *ho, *hi, *wo, *wi;
        OK(dlc_stage_tile(c, ax(c, 2), ax(c, 3), 4, 5, &ho, &wo, &hi, &wi));
        OK(dlc_stage_reorder(c, 6, (dlc_iter_var_t *[]){ho, wo, rax(c, 0), hi, rax(c, 1), wi}));
        OK(dlc_stage_compute_at(pad, c, rax(c, 0)));
        OK(dlc_stage_vectorize(c, wi));
        kop_check(&k, "pad at rc of a tiled conv");
    }
    /* a buffer too large for the stack, attached inside a parallel loop */
    kop_new(&k, "conv2d:1,8,40,40,4,3,3,1,1");
    {
        dlc_stage_t *c = k.out;
        dlc_iter_var_t *f;
        OK(dlc_stage_fuse(c, ax(c, 0), ax(c, 1), &f));
        OK(dlc_stage_parallel(c, f));
        OK(dlc_stage_compute_at(stage_named(k.s, "pad"), c, f));
        kop_check(&k, "pad (heap buffer) inside a parallel loop");
    }
    /* pooling: the padded input at the row loop */
    kop_new(&k, "pool2d:1,3,11,9,3,3,2,1,max");
    OK(dlc_stage_compute_at(stage_named(k.s, "pad"), k.out, ax(k.out, 2)));
    kop_check(&k, "max pool pad at h");
}

/* A→B→C stencil chain: A = 2x, B[i] = A[i] + A[i+1], C[i] = B[i] * B[i+2] */
static dlc_expr_t *chain_a(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    return dlc_mul(c, dlc_read1(c, u, i[0]), dlc_const(c, 2, DLC_FLOAT32));
}
static dlc_expr_t *chain_b(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    return dlc_add(c, dlc_read1(c, u, i[0]), dlc_read1(c, u, dlc_add(c, i[0], dlc_int(c, 1))));
}
static dlc_expr_t *chain_c(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    return dlc_mul(c, dlc_read1(c, u, i[0]), dlc_read1(c, u, dlc_add(c, i[0], dlc_int(c, 2))));
}

static void test_compute_at_chain(void **state) {
    (void)state;
    /* modes: 0 B at C's outer, A at B's inner; 1 both at C's outer; 2 A at C's inner, B at C's outer;
     * 3 both at C's inner; 4 A at B's outer, B at C's inner */
    for (int mode = 0; mode < 5; mode++) {
        dlc_ctx_t *c = dlc_ctx_new();
        int64_t n = 29;
        dlc_tensor_t *X = dlc_te_placeholder(c, "X", 1, (int64_t[]){n + 3}, DLC_FLOAT32);
        dlc_tensor_t *A = dlc_te_compute(c, "A", 1, (int64_t[]){n + 3}, chain_a, X);
        dlc_tensor_t *B = dlc_te_compute(c, "B", 1, (int64_t[]){n + 2}, chain_b, A);
        dlc_tensor_t *C = dlc_te_compute(c, "C", 1, (int64_t[]){n}, chain_c, B);
        dlc_schedule_t *s = NN(dlc_sched_create(c, 1, &C));
        dlc_stage_t *sa = dlc_sched_stage(s, A), *sb = dlc_sched_stage(s, B), *sc = dlc_sched_stage(s, C);
        dlc_iter_var_t *co, *ci, *bo, *bi;
        OK(dlc_stage_split(sc, ax(sc, 0), 4, &co, &ci));
        OK(dlc_stage_split(sb, ax(sb, 0), 3, &bo, &bi));
        switch (mode) {
        case 0: OK(dlc_stage_compute_at(sb, sc, co)); OK(dlc_stage_compute_at(sa, sb, bi)); break;
        case 1: OK(dlc_stage_compute_at(sb, sc, co)); OK(dlc_stage_compute_at(sa, sc, co)); break;
        case 2: OK(dlc_stage_compute_at(sb, sc, co)); OK(dlc_stage_compute_at(sa, sb, bo)); break;
        case 3: OK(dlc_stage_compute_at(sb, sc, ci)); OK(dlc_stage_compute_at(sa, sc, ci)); break;
        default: OK(dlc_stage_compute_at(sb, sc, ci)); OK(dlc_stage_compute_at(sa, sb, bo)); break;
        }
        char what[64];
        snprintf(what, sizeof what, "chain A->B->C mode %d", mode);
        kcheck_assert(s, 2, (dlc_tensor_t *[]){X, C}, 1, NULL, what);
        dlc_ctx_destroy(&c);
    }
}

/* ---- compute_inline ---- */
static dlc_expr_t *scale_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    return dlc_mul(c, dlc_read(c, u, i), dlc_const(c, 0.5, DLC_FLOAT32));
}
static dlc_expr_t *final_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dlc_tensor_t **t = u;
    return dlc_sub(c, dlc_read(c, t[0], i), dlc_read1(c, t[1], i[1]));
}

static void test_compute_inline(void **state) {
    (void)state;
    /* dense → bias_add → relu → scale, inlined into a final stage that also reads the bias */
    for (int variant = 0; variant < 3; variant++) {
        dlc_ctx_t *c = dlc_ctx_new();
        dlc_tensor_t *A = dlc_te_placeholder(c, "A", 2, (int64_t[]){7, 6}, DLC_FLOAT32);
        dlc_tensor_t *W = dlc_te_placeholder(c, "W", 2, (int64_t[]){13, 6}, DLC_FLOAT32);
        dlc_tensor_t *bias = dlc_te_placeholder(c, "bias", 1, (int64_t[]){13}, DLC_FLOAT32);
        dlc_tensor_t *D = dlc_topi_dense(c, A, W, A->dtype);
        dlc_tensor_t *BA = dlc_topi_bias_add(c, D, bias), *R = dlc_topi_relu(c, BA);
        dlc_tensor_t *SC = dlc_te_compute(c, "scale", 2, D->shape, scale_fn, R);
        dlc_tensor_t *F = dlc_te_compute(c, "final", 2, D->shape, final_fn, (dlc_tensor_t *[]){SC, bias});
        dlc_schedule_t *s = NN(dlc_sched_create(c, 1, &F));
        assert_int_equal(dlc_sched_num_stages(s), 5);
        OK(dlc_stage_compute_inline(dlc_sched_stage(s, BA)));
        OK(dlc_stage_compute_inline(dlc_sched_stage(s, R)));
        OK(dlc_stage_compute_inline(dlc_sched_stage(s, SC)));
        dlc_stage_t *sf = dlc_sched_stage(s, F), *sd = dlc_sched_stage(s, D);
        dlc_iter_var_t *o, *i;
        if (variant >= 1) {
            OK(dlc_stage_split(sf, ax(sf, 1), 4, &o, &i));
            OK(dlc_stage_vectorize(sf, i));
        }
        if (variant == 2) OK(dlc_stage_compute_at(sd, sf, ax(sf, 0)));
        kcheck_assert(s, 4, (dlc_tensor_t *[]){A, W, bias, F}, 1, NULL, "bias_add→relu→scale inlined into final");
        dlc_ctx_destroy(&c);
    }
    /* softmax with exp inlined into the sum and the normalisation */
    for (int variant = 0; variant < 3; variant++) {
        kop_t k;
        kop_new(&k, variant == 2 ? "softmax:1,17" : "softmax:6,17");
        dlc_stage_t *ex = stage_named(k.s, "softmax_exp"), *mx = stage_named(k.s, "softmax_max");
        dlc_stage_t *sm = stage_named(k.s, "softmax_sum");
        OK(dlc_stage_compute_inline(ex));
        if (variant >= 1) {
            dlc_iter_var_t *o, *i;
            OK(dlc_stage_split(k.out, ax(k.out, 1), 8, &o, &i));
            OK(dlc_stage_vectorize(k.out, i));
            OK(dlc_stage_compute_at(sm, k.out, ax(k.out, 0)));
            OK(dlc_stage_compute_at(mx, k.out, ax(k.out, 0)));
            OK(dlc_stage_parallel(k.out, ax(k.out, 0)));
        }
        kop_check(&k, "softmax exp inlined");
    }
    /* the pad of a conv and of a depthwise conv inlined, and a chain of two inlined pads */
    kop_t k;
    kop_new(&k, "depthwise_conv2d:1,3,8,9,3,3,2,1");
    inline_injective(&k);
    kop_check(&k, "depthwise pad inlined");
    kop_new(&k, "conv2d_transpose:1,2,4,5,3,3,3,2,1");
    inline_injective(&k);
    kop_check(&k, "conv2d_transpose dilate+pad inlined");
}

/* ---- cache_read / cache_write ---- */
static void test_cache_read(void **state) {
    (void)state;
    for (int variant = 0; variant < 4; variant++) {
        dlc_ctx_t *c = dlc_ctx_new();
        dlc_tensor_t *A = dlc_te_placeholder(c, "A", 2, (int64_t[]){13, 11}, DLC_FLOAT32);
        dlc_tensor_t *W = dlc_te_placeholder(c, "W", 2, (int64_t[]){10, 11}, DLC_FLOAT32);
        dlc_tensor_t *D = dlc_topi_dense(c, A, W, A->dtype);
        dlc_schedule_t *s = NN(dlc_sched_create(c, 1, &D));
        dlc_tensor_t *AL = NN(dlc_sched_cache_read(s, A, variant & 1 ? DLC_SCOPE_SHARED : DLC_SCOPE_LOCAL, 1, &D));
        dlc_tensor_t *WL = NN(dlc_sched_cache_read(s, W, DLC_SCOPE_SHARED, 1, &D));
        assert_int_equal(dlc_sched_num_stages(s), 3);
        dlc_stage_t *sd = dlc_sched_stage(s, D), *sa = dlc_sched_stage(s, AL), *sw = dlc_sched_stage(s, WL);
        dlc_iter_var_t *mo, *no, *mi, *ni, *ko, *ki;
        OK(dlc_stage_tile(sd, ax(sd, 0), ax(sd, 1), 4, 8, &mo, &no, &mi, &ni));
        OK(dlc_stage_split(sd, rax(sd, 0), 4, &ko, &ki));
        OK(dlc_stage_reorder(sd, 6, (dlc_iter_var_t *[]){mo, no, ko, mi, ki, ni}));
        if (variant < 2) {
            /* at the reduce axis, like a GPU schedule */
            OK(dlc_stage_compute_at(sa, sd, ko));
            OK(dlc_stage_compute_at(sw, sd, ko));
        } else if (variant == 2) {
            OK(dlc_stage_compute_at(sa, sd, mo)); /* rows of A for a block of m */
            OK(dlc_stage_compute_at(sw, sd, ki));
        } /* variant 3: caches at root */
        OK(dlc_stage_vectorize(sd, ni));
        char what[64];
        snprintf(what, sizeof what, "dense cache_read variant %d", variant);
        kcheck_assert(s, 3, (dlc_tensor_t *[]){A, W, D}, 1, NULL, what);
        dlc_ctx_destroy(&c);
    }
    /* cache_read of the padded input of a conv, attached at the output row */
    kop_t k;
    kop_new(&k, "conv2d:1,2,9,8,3,3,3,1,1");
    dlc_stage_t *pad = stage_named(k.s, "pad");
    dlc_tensor_t *PL = NN(dlc_sched_cache_read(k.s, dlc_stage_tensor(pad), DLC_SCOPE_LOCAL, 1, &k.op.out));
    OK(dlc_stage_compute_inline(pad));
    OK(dlc_stage_compute_at(dlc_sched_stage(k.s, PL), k.out, ax(k.out, 2)));
    kop_check(&k, "conv cache_read of pad at h");
}

static void test_cache_write(void **state) {
    (void)state;
    static const char *specs[] = {"dense:13,11,7", "dense:16,16,4", "dense:1,5,3"};
    for (size_t sp = 0; sp < 3; sp++)
        for (int variant = 0; variant < 3; variant++) {
            kop_t k;
            kop_new(&k, specs[sp]);
            dlc_tensor_t *CL = NN(dlc_sched_cache_write(k.s, k.op.out, DLC_SCOPE_LOCAL));
            dlc_stage_t *cl = dlc_sched_stage(k.s, CL), *st = k.out;
            dlc_iter_var_t *mo, *no, *mi, *ni, *ko, *ki;
            if (variant > 0) {
                OK(dlc_stage_tile(st, ax(st, 0), ax(st, 1), 4, 8, &mo, &no, &mi, &ni));
                OK(dlc_stage_vectorize(st, ni));
                OK(dlc_stage_compute_at(cl, st, variant == 1 ? no : mo));
                OK(dlc_stage_split(cl, rax(cl, 0), 2, &ko, &ki));
                OK(dlc_stage_reorder(cl, 4, (dlc_iter_var_t *[]){ko, ki, ax(cl, 0), ax(cl, 1)}));
                OK(dlc_stage_unroll(cl, ki));
                OK(dlc_stage_vectorize(cl, ax(cl, 1)));
            }
            char what[64];
            snprintf(what, sizeof what, "cache_write variant %d", variant);
            kop_check(&k, what);
        }
    /* conv with a local output cache at the w tile (like conv2d_NCHWc) */
    kop_t k;
    kop_new(&k, "conv2d:1,3,9,10,4,3,3,1,1");
    inline_injective(&k);
    dlc_tensor_t *CL = NN(dlc_sched_cache_write(k.s, k.op.out, DLC_SCOPE_LOCAL));
    dlc_stage_t *cl = dlc_sched_stage(k.s, CL), *st = k.out;
    dlc_iter_var_t *wo, *wi;
    OK(dlc_stage_split(st, ax(st, 3), 4, &wo, &wi));
    OK(dlc_stage_compute_at(cl, st, wo));
    kop_check(&k, "conv cache_write at w_o");
}

/* ---- pragma, bind ---- */
static void test_pragma_bind(void **state) {
    (void)state;
    kop_t k;
    kop_new(&k, "dense:5,6,7");
    OK(dlc_stage_pragma(k.out, ax(k.out, 0), "auto_unroll_max_step", "16"));
    OK(dlc_stage_pragma(k.out, rax(k.out, 0), "unroll_explicit", NULL));
    kop_check(&k, "pragma");
    /* GPU-style dense: blocks and threads, a local output cache at the thread, shared input caches at ko */
    static const int64_t shapes[][3] = {{13, 19, 10}, {16, 16, 8}, {1, 7, 3}};
    for (int sh = 0; sh < 3; sh++) {
        dlc_ctx_t *c = dlc_ctx_new();
        dlc_tensor_t *A = dlc_te_placeholder(c, "A", 2, (int64_t[]){shapes[sh][0], shapes[sh][2]}, DLC_FLOAT32);
        dlc_tensor_t *W = dlc_te_placeholder(c, "W", 2, (int64_t[]){shapes[sh][1], shapes[sh][2]}, DLC_FLOAT32);
        dlc_tensor_t *D = dlc_topi_dense(c, A, W, A->dtype);
        dlc_schedule_t *s = NN(dlc_sched_create(c, 1, &D));
        dlc_tensor_t *DL = NN(dlc_sched_cache_write(s, D, DLC_SCOPE_LOCAL));
        dlc_tensor_t *AS = NN(dlc_sched_cache_read(s, A, DLC_SCOPE_SHARED, 1, &DL));
        dlc_tensor_t *WS = NN(dlc_sched_cache_read(s, W, DLC_SCOPE_SHARED, 1, &DL));
        dlc_stage_t *sd = dlc_sched_stage(s, D), *sl = dlc_sched_stage(s, DL);
        dlc_iter_var_t *by, *bx, *ty, *tx, *ko, *ki;
        OK(dlc_stage_tile(sd, ax(sd, 0), ax(sd, 1), 4, 8, &by, &bx, &ty, &tx));
        OK(dlc_stage_bind(sd, by, DLC_THREAD_BLOCK_Y));
        OK(dlc_stage_bind(sd, bx, DLC_THREAD_BLOCK_X));
        OK(dlc_stage_bind(sd, ty, DLC_THREAD_THREAD_Y));
        OK(dlc_stage_bind(sd, tx, DLC_THREAD_THREAD_X));
        OK(dlc_stage_compute_at(sl, sd, tx));
        OK(dlc_stage_split(sl, rax(sl, 0), 4, &ko, &ki));
        OK(dlc_stage_compute_at(dlc_sched_stage(s, AS), sl, ko));
        OK(dlc_stage_compute_at(dlc_sched_stage(s, WS), sl, ko));
        OK(dlc_stage_double_buffer(dlc_sched_stage(s, AS)));
        OK(dlc_stage_unroll(sl, ki));
        kcheck_assert(s, 3, (dlc_tensor_t *[]){A, W, D}, 1, NULL, "GPU-style bind + shared caches");
        dlc_ctx_destroy(&c);
    }
    /* TVM's GPU matmul: shared caches at ko, local caches of the shared ones at ki (deeper in the same stage) */
    for (int sh = 0; sh < 3; sh++) {
        dlc_ctx_t *c = dlc_ctx_new();
        dlc_tensor_t *A = dlc_te_placeholder(c, "A", 2, (int64_t[]){shapes[sh][0], shapes[sh][2]}, DLC_FLOAT32);
        dlc_tensor_t *W = dlc_te_placeholder(c, "W", 2, (int64_t[]){shapes[sh][1], shapes[sh][2]}, DLC_FLOAT32);
        dlc_tensor_t *D = dlc_topi_dense(c, A, W, A->dtype);
        dlc_schedule_t *s = NN(dlc_sched_create(c, 1, &D));
        dlc_tensor_t *DL = NN(dlc_sched_cache_write(s, D, DLC_SCOPE_LOCAL));
        dlc_tensor_t *AS = NN(dlc_sched_cache_read(s, A, DLC_SCOPE_SHARED, 1, &DL));
        dlc_tensor_t *WS = NN(dlc_sched_cache_read(s, W, DLC_SCOPE_SHARED, 1, &DL));
        dlc_tensor_t *AL = NN(dlc_sched_cache_read(s, AS, DLC_SCOPE_LOCAL, 1, &DL));
        dlc_tensor_t *WL = NN(dlc_sched_cache_read(s, WS, DLC_SCOPE_LOCAL, 1, &DL));
        dlc_stage_t *sd = dlc_sched_stage(s, D), *sl = dlc_sched_stage(s, DL);
        dlc_iter_var_t *by, *bx, *ty, *tx, *ko, *ki;
        OK(dlc_stage_tile(sd, ax(sd, 0), ax(sd, 1), 4, 8, &by, &bx, &ty, &tx));
        OK(dlc_stage_bind(sd, by, DLC_THREAD_BLOCK_Y));
        OK(dlc_stage_bind(sd, bx, DLC_THREAD_BLOCK_X));
        OK(dlc_stage_bind(sd, ty, DLC_THREAD_THREAD_Y));
        OK(dlc_stage_bind(sd, tx, DLC_THREAD_THREAD_X));
        OK(dlc_stage_compute_at(sl, sd, bx));
        OK(dlc_stage_split(sl, rax(sl, 0), 4, &ko, &ki));
        OK(dlc_stage_reorder(sl, 4, (dlc_iter_var_t *[]){ko, ki, ax(sl, 0), ax(sl, 1)}));
        OK(dlc_stage_compute_at(dlc_sched_stage(s, AS), sl, ko));
        OK(dlc_stage_compute_at(dlc_sched_stage(s, WS), sl, ko));
        OK(dlc_stage_compute_at(dlc_sched_stage(s, AL), sl, ki));
        OK(dlc_stage_compute_at(dlc_sched_stage(s, WL), sl, ki));
        /* the shared tile holds one k block of the rows of this block, not the whole of A */
        dlc_lowered_func_t *f;
        OK(dlc_lower(s, "nested_probe", 3, (dlc_tensor_t *[]){A, W, D}, 1, &f));
        dlc_strbuf_t ir;
        dlc_strbuf_init(&ir);
        dlc_func_print(f, &ir);
        char want[64];
        snprintf(want, sizeof want, "allocate A_shared[float32 * %lld] in shared",
                 (long long)((shapes[sh][0] < 4 ? shapes[sh][0] : 4) * (shapes[sh][2] < 4 ? shapes[sh][2] : 4)));
        if (!strstr(ir.data, want)) fail_msg("expected '%s' in\n%s", want, ir.data);
        dlc_strbuf_free(&ir);
        kcheck_assert(s, 3, (dlc_tensor_t *[]){A, W, D}, 1, NULL, "GPU matmul: shared at ko, local at ki");
        dlc_ctx_destroy(&c);
    }
    /* shared caches at the block level with threads inside, on a conv: pad inlined, data cached per block */
    kop_new(&k, "conv2d:1,4,8,9,6,3,3,1,1");
    inline_injective(&k);
    {
        dlc_stage_t *st = k.out;
        dlc_tensor_t *pad = dlc_stage_tensor(stage_named(k.s, "pad"));
        dlc_tensor_t *KS = NN(dlc_sched_cache_read(k.s, k.op.args[1], DLC_SCOPE_SHARED, 1, &k.op.out));
        dlc_iter_var_t *ko, *ki, *f;
        OK(dlc_stage_split(st, ax(st, 1), 2, &ko, &ki));
        OK(dlc_stage_bind(st, ko, DLC_THREAD_BLOCK_X));
        OK(dlc_stage_fuse(st, ax(st, 2), ax(st, 3), &f));
        OK(dlc_stage_reorder(st, 3, (dlc_iter_var_t *[]){ko, f, ki}));
        OK(dlc_stage_bind(st, f, DLC_THREAD_THREAD_X));
        OK(dlc_stage_compute_at(dlc_sched_stage(k.s, KS), st, ko));
        (void)pad;
        kop_check(&k, "conv bind with shared kernel cache per block");
    }
}

/* ---- tensorize ---- */
/* o[i, j] += sum_r a[i, r] * b[j, r] over a (m x n x k) tile */
static const dlc_intrin_decl_t gemm_acc = {
    "ukernel_gemm_acc",
    "static void ukernel_gemm_acc(int64_t m, int64_t n, int64_t k, float *o, const float *a, const float *b,\n"
    "                             int64_t ldo, int64_t lda, int64_t ldb) {\n"
    "  for (int64_t i = 0; i < m; i++)\n"
    "    for (int64_t j = 0; j < n; j++) {\n"
    "      float acc = 0.0f;\n"
    "      for (int64_t r = 0; r < k; r++) acc += a[i * lda + r] * b[j * ldb + r];\n"
    "      o[i * ldo + j] += acc;\n"
    "    }\n"
    "}\n",
    1};
/* the same, but overwriting: wrong when the reduction is split outside the tile */
static const dlc_intrin_decl_t gemm_overwrite = {
    "ukernel_gemm_overwrite",
    "static void ukernel_gemm_overwrite(int64_t m, int64_t n, int64_t k, float *o, const float *a, const float *b,\n"
    "                                   int64_t ldo, int64_t lda, int64_t ldb) {\n"
    "  for (int64_t i = 0; i < m; i++)\n"
    "    for (int64_t j = 0; j < n; j++) {\n"
    "      float acc = 0.0f;\n"
    "      for (int64_t r = 0; r < k; r++) acc += a[i * lda + r] * b[j * ldb + r];\n"
    "      o[i * ldo + j] = acc;\n"
    "    }\n"
    "}\n",
    1};
/* relu over an (m x n) tile, overwriting */
static const dlc_intrin_decl_t relu_tile = {
    "ukernel_relu",
    "static void ukernel_relu(int64_t m, int64_t n, float *o, const float *x, int64_t ldo, int64_t ldx) {\n"
    "  for (int64_t i = 0; i < m; i++)\n"
    "    for (int64_t j = 0; j < n; j++) o[i * ldo + j] = x[i * ldx + j] > 0.0f ? x[i * ldx + j] : 0.0f;\n"
    "}\n",
    0};

static void test_tensorize(void **state) {
    (void)state;
    /* (M, N, K, split k outside the tile) */
    static const int64_t cases[][4] = {{12, 16, 5, 0}, {10, 13, 7, 0}, {12, 16, 9, 4}, {10, 21, 11, 3}, {1, 3, 2, 0}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        char spec[64];
        snprintf(spec, sizeof spec, "dense:%lld,%lld,%lld", (long long)cases[t][0], (long long)cases[t][1],
                 (long long)cases[t][2]);
        kop_t k;
        kop_new(&k, spec);
        dlc_stage_t *st = k.out;
        dlc_iter_var_t *mo, *no, *mi, *ni, *ko, *ki;
        OK(dlc_stage_tile(st, ax(st, 0), ax(st, 1), 4, 8, &mo, &no, &mi, &ni));
        if (cases[t][3]) {
            OK(dlc_stage_split(st, rax(st, 0), cases[t][3], &ko, &ki));
            OK(dlc_stage_reorder(st, 6, (dlc_iter_var_t *[]){mo, no, ko, mi, ni, ki}));
        }
        OK(dlc_stage_parallel(st, mo));
        OK(dlc_stage_tensorize(st, mi, &gemm_acc));
        /* the nest really is replaced by the call */
        dlc_lowered_func_t *f;
        OK(dlc_lower(k.s, "tz_probe", k.op.n_args, k.op.args, 1, &f));
        assert_int_equal(f->n_intrins, 1);
        dlc_strbuf_t ir;
        dlc_strbuf_init(&ir);
        dlc_func_print(f, &ir);
        assert_non_null(strstr(ir.data, "ukernel_gemm_acc("));
        assert_null(strstr(ir.data, "for k "));
        assert_null(strstr(ir.data, "for k_i "));
        dlc_strbuf_free(&ir);
        kop_check(&k, "tensorize 4x8xk gemm");
    }
    /* the micro-kernel on a local accumulator tile (cache_write attached at the n tile): ld_out is the tile's */
    for (int t = 0; t < 2; t++) {
        kop_t k;
        kop_new(&k, t ? "dense:10,21,11" : "dense:8,16,6");
        dlc_tensor_t *CL = NN(dlc_sched_cache_write(k.s, k.op.out, DLC_SCOPE_LOCAL));
        dlc_stage_t *st = k.out, *cl = dlc_sched_stage(k.s, CL);
        dlc_iter_var_t *mo, *no, *mi, *ni;
        OK(dlc_stage_tile(st, ax(st, 0), ax(st, 1), 4, 8, &mo, &no, &mi, &ni));
        OK(dlc_stage_vectorize(st, ni));
        OK(dlc_stage_compute_at(cl, st, no));
        OK(dlc_stage_tensorize(cl, ax(cl, 0), &gemm_acc));
        kop_check(&k, "tensorize the local tile of a cache_write");
    }
    /* batch_matmul: the batch outside, the (m, n, k) tile tensorized */
    {
        kop_t k;
        kop_new(&k, "batch_matmul:3,9,10,5");
        dlc_stage_t *st = k.out;
        dlc_iter_var_t *mo, *no, *mi, *ni;
        OK(dlc_stage_tile(st, ax(st, 1), ax(st, 2), 4, 8, &mo, &no, &mi, &ni));
        OK(dlc_stage_tensorize(st, mi, &gemm_acc));
        kop_check(&k, "tensorize batch_matmul tiles");
    }
    /* a micro-kernel that overwrites instead of accumulating is caught when k is split outside it */
    kop_t k;
    kop_new(&k, "dense:8,8,12");
    {
        dlc_stage_t *st = k.out;
        dlc_iter_var_t *mo, *no, *mi, *ni, *ko, *ki;
        OK(dlc_stage_tile(st, ax(st, 0), ax(st, 1), 4, 8, &mo, &no, &mi, &ni));
        OK(dlc_stage_split(st, rax(st, 0), 4, &ko, &ki));
        OK(dlc_stage_reorder(st, 6, (dlc_iter_var_t *[]){mo, no, ko, mi, ni, ki}));
        OK(dlc_stage_tensorize(st, mi, &gemm_overwrite));
        kcheck_t r = kcheck_run(k.s, k.op.n_args, k.op.args, 1, NULL);
        assert_int_equal(r.status, DLC_EWRONG);
        assert_false(r.verified);
        dlc_ctx_destroy(&k.ctx);
    }
    /* a plain (non-reduction) compute tensorized: relu tiles, with a non-dividing split */
    dlc_ctx_t *c = dlc_ctx_new();
    dlc_tensor_t *X = dlc_te_placeholder(c, "X", 2, (int64_t[]){11, 10}, DLC_FLOAT32);
    dlc_tensor_t *R = dlc_topi_relu(c, X);
    dlc_schedule_t *s = NN(dlc_sched_create(c, 1, &R));
    dlc_stage_t *sr = dlc_sched_stage(s, R);
    dlc_iter_var_t *xo, *yo, *xi, *yi;
    OK(dlc_stage_tile(sr, ax(sr, 0), ax(sr, 1), 4, 4, &xo, &yo, &xi, &yi));
    OK(dlc_stage_tensorize(sr, xi, &relu_tile));
    kcheck_assert(s, 2, (dlc_tensor_t *[]){X, R}, 1, NULL, "tensorize relu 4x4 tiles");
    dlc_ctx_destroy(&c);
}

/* ---- every operator with a non-default schedule ---- */
static void test_ops_scheduled(void **state) {
    (void)state;
    kop_t k;
    dlc_iter_var_t *o, *i, *o2, *i2, *f, *xo, *yo, *xi, *yi;
    /* batch_matmul: cache_write, tile, fuse b with the m tile, parallel, vectorize */
    static const char *bmm[] = {"batch_matmul:3,7,11,13", "batch_matmul:2,1,9,4"};
    for (int b = 0; b < 2; b++) {
        kop_new(&k, bmm[b]);
        dlc_tensor_t *CL = NN(dlc_sched_cache_write(k.s, k.op.out, DLC_SCOPE_LOCAL));
        dlc_stage_t *st = k.out, *cl = dlc_sched_stage(k.s, CL);
        OK(dlc_stage_tile(st, ax(st, 1), ax(st, 2), 2, 4, &xo, &yo, &xi, &yi));
        OK(dlc_stage_fuse(st, ax(st, 0), xo, &f));
        OK(dlc_stage_parallel(st, f));
        OK(dlc_stage_vectorize(st, yi));
        OK(dlc_stage_compute_at(cl, st, yo));
        OK(dlc_stage_reorder(cl, 4, (dlc_iter_var_t *[]){ax(cl, 0), rax(cl, 0), ax(cl, 1), ax(cl, 2)}));
        OK(dlc_stage_vectorize(cl, ax(cl, 2)));
        kop_check(&k, "batch_matmul scheduled");
    }
    /* conv2d NCHW: tile k and w, reduce axes between, unroll rx, pad at the k tile */
    static const char *convs[] = {"conv2d:1,3,11,13,5,3,3,1,1", "conv2d:2,4,9,10,6,3,3,2,1", "conv2d:1,5,7,7,4,1,1,1,0",
                                  "conv2d:1,2,12,11,3,3,3,1,2,2"};
    for (int cv = 0; cv < 4; cv++) {
        kop_new(&k, convs[cv]);
        dlc_stage_t *st = k.out;
        OK(dlc_stage_split(st, ax(st, 1), 2, &o, &i));
        OK(dlc_stage_split(st, ax(st, 3), 4, &o2, &i2));
        OK(dlc_stage_reorder(st, 9, (dlc_iter_var_t *[]){ax(st, 0), o, ax(st, 2), o2, rax(st, 0), rax(st, 1), rax(st, 2),
                                                          i, i2}));
        OK(dlc_stage_unroll(st, rax(st, 2)));
        OK(dlc_stage_vectorize(st, i2));
        OK(dlc_stage_parallel(st, o));
        if (dlc_sched_num_stages(k.s) > 1) OK(dlc_stage_compute_at(stage_named(k.s, "pad"), st, ax(st, 2)));
        kop_check(&k, "conv2d scheduled");
    }
    /* conv2d NCHWc: oc block vectorized, ow split, a local cache */
    static const char *nchwc[] = {"conv2d_nchwc:1,8,7,9,8,3,3,1,1,4,4", "conv2d_nchwc:1,6,9,7,6,3,3,2,1,2,3"};
    for (int cv = 0; cv < 2; cv++) {
        kop_new(&k, nchwc[cv]);
        inline_injective(&k);
        dlc_stage_t *st = k.out;
        OK(dlc_stage_split(st, ax(st, 3), 3, &o, &i));
        OK(dlc_stage_fuse(st, ax(st, 0), ax(st, 1), &f));
        OK(dlc_stage_reorder(st, 7, (dlc_iter_var_t *[]){f, ax(st, 2), o, rax(st, 0), rax(st, 1), rax(st, 2), i}));
        OK(dlc_stage_reorder(st, 2, (dlc_iter_var_t *[]){i, ax(st, 4)}));
        OK(dlc_stage_vectorize(st, ax(st, 4)));
        OK(dlc_stage_unroll(st, i));
        OK(dlc_stage_parallel(st, f));
        kop_check(&k, "conv2d_NCHWc scheduled");
    }
    /* conv2d NCHWc: the ic reduction split so that an inner leaf has extent 1, pad attached there */
    kop_new(&k, "conv2d_nchwc:1,8,6,6,4,3,3,1,1,2,2");
    {
        dlc_stage_t *st = k.out;
        OK(dlc_stage_split(st, rax(st, 0), 3, &o, &i));
        OK(dlc_stage_split(st, i, 1, &o2, &i2));
        OK(dlc_stage_compute_at(stage_named(k.s, "pad"), st, o2));
        kop_check(&k, "conv2d_NCHWc pad attached above an extent-1 ic leaf");
    }
    /* depthwise: channels parallel, w vectorized with a tail, pad at h */
    static const char *dws[] = {"depthwise_conv2d:1,5,13,11,3,3,1,1", "depthwise_conv2d:2,3,10,12,5,3,2,2"};
    for (int d = 0; d < 2; d++) {
        kop_new(&k, dws[d]);
        dlc_stage_t *st = k.out;
        OK(dlc_stage_fuse(st, ax(st, 0), ax(st, 1), &f));
        OK(dlc_stage_parallel(st, f));
        OK(dlc_stage_split(st, ax(st, 3), 4, &o, &i));
        OK(dlc_stage_reorder(st, 6, (dlc_iter_var_t *[]){f, ax(st, 2), o, rax(st, 0), rax(st, 1), i}));
        OK(dlc_stage_vectorize(st, i));
        OK(dlc_stage_compute_at(stage_named(k.s, "pad"), st, ax(st, 2)));
        kop_check(&k, "depthwise scheduled");
    }
    /* conv2d_transpose: tile h, w; dilate+pad attached at the h tile */
    static const char *cts[] = {"conv2d_transpose:1,3,5,6,4,3,3,2,1", "conv2d_transpose:1,2,4,4,3,4,4,2,1"};
    for (int d = 0; d < 2; d++) {
        kop_new(&k, cts[d]);
        dlc_stage_t *st = k.out;
        OK(dlc_stage_tile(st, ax(st, 2), ax(st, 3), 3, 4, &xo, &yo, &xi, &yi));
        OK(dlc_stage_vectorize(st, yi));
        OK(dlc_stage_compute_at(stage_named(k.s, "data_dilate_pad"), st, xo));
        kop_check(&k, "conv2d_transpose scheduled");
    }
    /* pools: max with pad at the row, avg with the sum attached to the scale */
    kop_new(&k, "pool2d:2,3,13,11,3,3,2,1,max");
    {
        dlc_stage_t *st = k.out;
        OK(dlc_stage_fuse(st, ax(st, 0), ax(st, 1), &f));
        OK(dlc_stage_parallel(st, f));
        OK(dlc_stage_reorder(st, 4, (dlc_iter_var_t *[]){rax(st, 0), rax(st, 1), ax(st, 2), ax(st, 3)}));
        OK(dlc_stage_compute_at(stage_named(k.s, "pad"), st, f));
        kop_check(&k, "max pool scheduled");
    }
    kop_new(&k, "pool2d:1,4,9,10,3,2,2,1,avg");
    {
        dlc_stage_t *st = k.out, *ps = stage_named(k.s, "pool_sum");
        OK(dlc_stage_compute_inline(stage_named(k.s, "pad")));
        OK(dlc_stage_split(st, ax(st, 3), 4, &o, &i));
        OK(dlc_stage_vectorize(st, i));
        OK(dlc_stage_compute_at(ps, st, o));
        OK(dlc_stage_unroll(ps, rax(ps, 1)));
        kop_check(&k, "avg pool scheduled");
    }
    /* softmax: max and sum attached at the row, exp kept as a stage at the row too */
    kop_new(&k, "softmax:5,23");
    {
        dlc_stage_t *st = k.out;
        OK(dlc_stage_split(st, ax(st, 1), 8, &o, &i));
        OK(dlc_stage_vectorize(st, i));
        OK(dlc_stage_compute_at(stage_named(k.s, "softmax_sum"), st, ax(st, 0)));
        OK(dlc_stage_compute_at(stage_named(k.s, "softmax_exp"), st, ax(st, 0)));
        OK(dlc_stage_compute_at(stage_named(k.s, "softmax_max"), st, ax(st, 0)));
        kop_check(&k, "softmax rows attached");
    }
    /* elementwise chain: bias_add at the relu tile */
    kop_new(&k, "bias_relu:9,21");
    {
        dlc_stage_t *st = k.out;
        OK(dlc_stage_split(st, ax(st, 1), 8, &o, &i));
        OK(dlc_stage_vectorize(st, i));
        OK(dlc_stage_parallel(st, ax(st, 0)));
        OK(dlc_stage_compute_at(stage_named(k.s, "bias_add"), st, o));
        kop_check(&k, "bias_relu scheduled");
    }
}

/* ---- dtypes, intrinsics, select ---- */
static void test_dtypes(void **state) {
    (void)state;
    kop_t k;
    dlc_iter_var_t *o, *i, *xo, *yo, *xi, *yi;
    static const char *specs[] = {"dense:7,9,5:float16", "dense:6,10,7:int8", "dense:5,11,4:int32", "relu:37:float16",
                                  "relu:37:int32", "relu:21:int8", "bias_relu:4,13:int16", "dense:3,5,6:uint8"};
    for (size_t s = 0; s < sizeof specs / sizeof specs[0]; s++) {
        kop_new(&k, specs[s]);
        inline_injective(&k);
        dlc_stage_t *st = k.out;
        if (dlc_stage_num_axes(st) == 2) {
            OK(dlc_stage_tile(st, ax(st, 0), ax(st, 1), 2, 4, &xo, &yo, &xi, &yi));
            OK(dlc_stage_vectorize(st, yi));
        } else {
            OK(dlc_stage_split(st, ax(st, 0), 8, &o, &i));
            OK(dlc_stage_vectorize(st, i));
        }
        kop_check(&k, "dtype scheduled");
    }
}

/* int8 x int8 → int32 dense through casts */
static dlc_expr_t *qdense_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dlc_tensor_t **t = u;
    dlc_iter_var_t *k = dlc_te_reduce_axis(c, "k", t[0]->shape[1]);
    dlc_expr_t *a = dlc_cast(c, DLC_INT32, dlc_read2(c, t[0], i[0], k->var));
    dlc_expr_t *b = dlc_cast(c, DLC_INT32, dlc_read2(c, t[1], i[1], k->var));
    return dlc_sum(c, dlc_mul(c, a, b), 1, &k);
}

/* float16 storage, float math: y = float16(float32(x) * 3 - 1) */
static dlc_expr_t *half_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dlc_expr_t *x = dlc_cast(c, DLC_FLOAT32, dlc_read(c, u, i));
    return dlc_cast(c, DLC_FLOAT16, dlc_sub(c, dlc_mul(c, x, dlc_const(c, 3, DLC_FLOAT32)), dlc_const(c, 1, DLC_FLOAT32)));
}

/* every math intrinsic, on inputs in [-1, 1) */
static dlc_expr_t *intrin_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dlc_expr_t *x = dlc_read(c, u, i);
    dlc_expr_t *ax_ = dlc_call1(c, DLC_INTRIN_FABS, x);
    dlc_expr_t *pos = dlc_add(c, ax_, dlc_const(c, 0.5, DLC_FLOAT32)); /* > 0 */
    dlc_expr_t *terms[] = {
        dlc_call1(c, DLC_INTRIN_EXP, x),
        dlc_call1(c, DLC_INTRIN_LOG, pos),
        dlc_call1(c, DLC_INTRIN_SQRT, ax_),
        dlc_call1(c, DLC_INTRIN_TANH, x),
        dlc_call1(c, DLC_INTRIN_SIGMOID, x),
        dlc_call(c, DLC_INTRIN_POW, 2, (dlc_expr_t *[]){pos, dlc_const(c, 1.5, DLC_FLOAT32)}),
        dlc_call1(c, DLC_INTRIN_ERF, x),
        dlc_call1(c, DLC_INTRIN_RSQRT, pos),
        dlc_call1(c, DLC_INTRIN_FLOOR, dlc_mul(c, x, dlc_const(c, 4, DLC_FLOAT32))),
        dlc_call1(c, DLC_INTRIN_CEIL, dlc_mul(c, x, dlc_const(c, 4, DLC_FLOAT32))),
    };
    /* weights keep every term visible in the sum */
    dlc_expr_t *acc = NULL;
    for (size_t t = 0; t < sizeof terms / sizeof terms[0]; t++) {
        dlc_expr_t *w = dlc_mul(c, terms[t], dlc_const(c, 1.0 + 0.37 * (double)t, DLC_FLOAT32));
        acc = acc ? dlc_add(c, acc, w) : w;
    }
    return acc;
}

/* leaky relu by if_then_else, and a select on an index (a triangular mask) */
static dlc_expr_t *select_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dlc_expr_t *x = dlc_read(c, u, i);
    dlc_expr_t *lr = dlc_select(c, dlc_binary(c, DLC_EXPR_GT, x, dlc_const(c, 0, DLC_FLOAT32)), x,
                                dlc_mul(c, x, dlc_const(c, 0.125, DLC_FLOAT32)));
    return dlc_select(c, dlc_binary(c, DLC_EXPR_LE, i[1], i[0]), lr, dlc_const(c, -2, DLC_FLOAT32));
}

typedef dlc_expr_t *(*body_fn)(dlc_ctx_t *, dlc_expr_t *const *, void *);

/* An elementwise compute over a [rows, cols] input of dtype dt, scheduled:
 * 0 naive, 1 split 8 + vectorize + parallel, 2 fused + split 5 + unroll. */
static void check_elementwise(body_fn fn, dlc_dtype_t dt, int64_t rows, int64_t cols, int sched, const char *what) {
    dlc_ctx_t *c = dlc_ctx_new();
    dlc_tensor_t *X = dlc_te_placeholder(c, "X", 2, (int64_t[]){rows, cols}, dt);
    dlc_tensor_t *Y = NN(dlc_te_compute(c, "Y", 2, (int64_t[]){rows, cols}, fn, X));
    dlc_schedule_t *s = NN(dlc_sched_create(c, 1, &Y));
    dlc_stage_t *st = dlc_sched_stage(s, Y);
    dlc_iter_var_t *o, *i, *f;
    if (sched == 1) {
        OK(dlc_stage_split(st, ax(st, 1), 8, &o, &i));
        OK(dlc_stage_vectorize(st, i));
        OK(dlc_stage_parallel(st, ax(st, 0)));
    } else if (sched == 2) {
        OK(dlc_stage_fuse(st, ax(st, 0), ax(st, 1), &f));
        OK(dlc_stage_split(st, f, 5, &o, &i));
        OK(dlc_stage_unroll(st, i));
    }
    char buf[128];
    snprintf(buf, sizeof buf, "%s (schedule %d)", what, sched);
    kcheck_assert(s, 2, (dlc_tensor_t *[]){X, Y}, 1, NULL, buf);
    dlc_ctx_destroy(&c);
}

static void test_intrinsics_select(void **state) {
    (void)state;
    for (int sched = 0; sched < 3; sched++) {
        check_elementwise(intrin_fn, DLC_FLOAT32, 5, 19, sched, "math intrinsics");
        check_elementwise(select_fn, DLC_FLOAT32, 7, 13, sched, "if_then_else");
        check_elementwise(half_fn, DLC_FLOAT16, 3, 21, sched, "float16 casts");
    }
    for (int sched = 0; sched < 2; sched++) {
        dlc_ctx_t *c = dlc_ctx_new();
        dlc_tensor_t *A = dlc_te_placeholder(c, "A", 2, (int64_t[]){9, 17}, DLC_INT8);
        dlc_tensor_t *B = dlc_te_placeholder(c, "B", 2, (int64_t[]){11, 17}, DLC_INT8);
        dlc_tensor_t *C = NN(dlc_te_compute(c, "qdense", 2, (int64_t[]){9, 11}, qdense_fn, (dlc_tensor_t *[]){A, B}));
        assert_int_equal(C->dtype, DLC_INT32);
        dlc_schedule_t *s = NN(dlc_sched_create(c, 1, &C));
        dlc_stage_t *st = dlc_sched_stage(s, C);
        if (sched) {
            dlc_iter_var_t *xo, *yo, *xi, *yi, *ko, *ki;
            OK(dlc_stage_tile(st, ax(st, 0), ax(st, 1), 4, 8, &xo, &yo, &xi, &yi));
            OK(dlc_stage_split(st, rax(st, 0), 4, &ko, &ki));
            OK(dlc_stage_reorder(st, 6, (dlc_iter_var_t *[]){xo, yo, ko, xi, ki, yi}));
            OK(dlc_stage_vectorize(st, yi));
            OK(dlc_stage_unroll(st, ki));
        }
        kcheck_assert(s, 3, (dlc_tensor_t *[]){A, B, C}, 1, NULL, "int8 x int8 -> int32 dense");
        dlc_ctx_destroy(&c);
    }
}

/* ---- independent values: kernels run in process and compared with plain C ---- */
/* The host's C for s into src (initialised here; host_load frees it). */
static void host_c(dlc_schedule_t *s, const char *name, int n_args, dlc_tensor_t *const *args, dlc_strbuf_t *src) {
    dlc_lowered_func_t *f;
    OK(dlc_lower(s, name, n_args, args, 1, &f));
    dlc_target_t tgt;
    OK(dlc_target_parse("llvm", &tgt));
    dlc_strbuf_init(src);
    OK(dlc_codegen_c(&f, 1, &tgt, src));
}

/* Builds src for the host, frees it and loads the module. */
static dlc_module_t *host_load(dlc_strbuf_t *src) {
    dlc_target_t tgt;
    OK(dlc_target_parse("llvm", &tgt));
    dlc_build_result_t br;
    OK(dlc_build_so(src->data, src->len, &tgt, &br));
    dlc_strbuf_free(src);
    return NN(dlc_module_load(br.so_path));
}

static dlc_module_t *build_host(dlc_schedule_t *s, const char *name, int n_args, dlc_tensor_t *const *args) {
    dlc_strbuf_t src;
    host_c(s, name, n_args, args, &src);
    return host_load(&src);
}

static DLTensor dlt(void *data, dlc_dtype_t dt, int ndim, int64_t *shape) {
    DLTensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.device.device_type = kDLCPU;
    t.ndim = ndim;
    t.shape = shape;
    dlc_dtype_dlpack(dt, &t.dtype.code, &t.dtype.bits);
    t.dtype.lanes = 1;
    return t;
}

static float hval(uint64_t *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((*s >> 40) & 0xffff) / 32768.0f - 1.0f;
}

static void test_independent_values(void **state) {
    (void)state;
    uint64_t seed = 7;
    /* tiled, vectorized, parallel dense with a cache: C = A W^T */
    {
        enum { M = 13, N = 11, K = 9 };
        dlc_ctx_t *c = dlc_ctx_new();
        dlc_tensor_t *A = dlc_te_placeholder(c, "A", 2, (int64_t[]){M, K}, DLC_FLOAT32);
        dlc_tensor_t *W = dlc_te_placeholder(c, "W", 2, (int64_t[]){N, K}, DLC_FLOAT32);
        dlc_tensor_t *D = dlc_topi_dense(c, A, W, A->dtype);
        dlc_schedule_t *s = NN(dlc_sched_create(c, 1, &D));
        dlc_tensor_t *DL = NN(dlc_sched_cache_write(s, D, DLC_SCOPE_LOCAL));
        dlc_stage_t *st = dlc_sched_stage(s, D), *cl = dlc_sched_stage(s, DL);
        dlc_iter_var_t *mo, *no, *mi, *ni;
        OK(dlc_stage_tile(st, ax(st, 0), ax(st, 1), 4, 8, &mo, &no, &mi, &ni));
        OK(dlc_stage_parallel(st, mo));
        OK(dlc_stage_vectorize(st, ni));
        OK(dlc_stage_compute_at(cl, st, no));
        OK(dlc_stage_reorder(cl, 3, (dlc_iter_var_t *[]){rax(cl, 0), ax(cl, 0), ax(cl, 1)}));
        OK(dlc_stage_vectorize(cl, ax(cl, 1)));
        dlc_module_t *m = build_host(s, "indep_dense", 3, (dlc_tensor_t *[]){A, W, D});
        static float a[M * K], w[N * K], out[M * N];
        for (int x = 0; x < M * K; x++) a[x] = hval(&seed);
        for (int x = 0; x < N * K; x++) w[x] = hval(&seed);
        int64_t sa[2] = {M, K}, sw[2] = {N, K}, so[2] = {M, N};
        DLTensor t[3] = {dlt(a, DLC_FLOAT32, 2, sa), dlt(w, DLC_FLOAT32, 2, sw), dlt(out, DLC_FLOAT32, 2, so)};
        OK(dlc_module_call(m, "indep_dense", t, 3));
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double ref = 0;
                for (int r = 0; r < K; r++) ref += (double)a[i * K + r] * w[j * K + r];
                if (fabs(ref - out[i * N + j]) > 1e-4) fail_msg("dense[%d, %d] = %g, expected %g", i, j, out[i * N + j], ref);
            }
        dlc_module_destroy(&m);
        dlc_ctx_destroy(&c);
    }
    /* intrinsics and select, vectorized split with a tail */
    {
        enum { R = 3, C = 11 };
        dlc_ctx_t *c = dlc_ctx_new();
        dlc_tensor_t *X = dlc_te_placeholder(c, "X", 2, (int64_t[]){R, C}, DLC_FLOAT32);
        dlc_tensor_t *Y = NN(dlc_te_compute(c, "Y", 2, (int64_t[]){R, C}, intrin_fn, X));
        dlc_tensor_t *Z = NN(dlc_te_compute(c, "Z", 2, (int64_t[]){R, C}, select_fn, Y));
        dlc_schedule_t *s = NN(dlc_sched_create(c, 1, &Z));
        dlc_stage_t *st = dlc_sched_stage(s, Z);
        dlc_iter_var_t *o, *i;
        OK(dlc_stage_split(st, ax(st, 1), 4, &o, &i));
        OK(dlc_stage_vectorize(st, i));
        OK(dlc_stage_compute_inline(dlc_sched_stage(s, Y)));
        dlc_module_t *m = build_host(s, "indep_intrin", 2, (dlc_tensor_t *[]){X, Z});
        static float x[R * C], z[R * C];
        for (int e = 0; e < R * C; e++) x[e] = hval(&seed);
        int64_t sh[2] = {R, C};
        DLTensor t[2] = {dlt(x, DLC_FLOAT32, 2, sh), dlt(z, DLC_FLOAT32, 2, sh)};
        OK(dlc_module_call(m, "indep_intrin", t, 2));
        for (int r = 0; r < R; r++)
            for (int q = 0; q < C; q++) {
                double v = x[r * C + q], av = fabs(v), pos = av + 0.5;
                double terms[] = {exp(v),         log(pos),         sqrt(av),       tanh(v),         1 / (1 + exp(-v)),
                                  pow(pos, 1.5), erf(v),          1 / sqrt(pos), floor(4 * v),   ceil(4 * v)};
                double y = 0;
                for (int t2 = 0; t2 < 10; t2++) y += terms[t2] * (1.0 + 0.37 * t2);
                double want = q <= r ? (y > 0 ? y : y * 0.125) : -2.0;
                double got = z[r * C + q];
                if (fabs(got - want) > 1e-4 * (1 + fabs(want)))
                    fail_msg("intrinsics at x=%g [%d,%d]: got %.9g, expected %.9g", v, r, q, got, want);
            }
        dlc_module_destroy(&m);
        dlc_ctx_destroy(&c);
    }
    /* int8 → int32 quantized dense and float16 storage */
    {
        enum { M = 5, N = 7, K = 19 };
        dlc_ctx_t *c = dlc_ctx_new();
        dlc_tensor_t *A = dlc_te_placeholder(c, "A", 2, (int64_t[]){M, K}, DLC_INT8);
        dlc_tensor_t *B = dlc_te_placeholder(c, "B", 2, (int64_t[]){N, K}, DLC_INT8);
        dlc_tensor_t *Q = NN(dlc_te_compute(c, "qdense", 2, (int64_t[]){M, N}, qdense_fn, (dlc_tensor_t *[]){A, B}));
        dlc_schedule_t *s = NN(dlc_sched_create(c, 1, &Q));
        dlc_stage_t *st = dlc_sched_stage(s, Q);
        dlc_iter_var_t *o, *i;
        OK(dlc_stage_split(st, ax(st, 1), 4, &o, &i));
        OK(dlc_stage_reorder(st, 3, (dlc_iter_var_t *[]){o, rax(st, 0), i}));
        OK(dlc_stage_vectorize(st, i));
        dlc_module_t *m = build_host(s, "indep_q", 3, (dlc_tensor_t *[]){A, B, Q});
        static int8_t a[M * K], b[N * K];
        static int32_t q[M * N];
        for (int e = 0; e < M * K; e++) a[e] = (int8_t)(hval(&seed) * 127);
        for (int e = 0; e < N * K; e++) b[e] = (int8_t)(hval(&seed) * 127);
        int64_t sa[2] = {M, K}, sb[2] = {N, K}, sq[2] = {M, N};
        DLTensor t[3] = {dlt(a, DLC_INT8, 2, sa), dlt(b, DLC_INT8, 2, sb), dlt(q, DLC_INT32, 2, sq)};
        OK(dlc_module_call(m, "indep_q", t, 3));
        for (int r = 0; r < M; r++)
            for (int j = 0; j < N; j++) {
                int32_t want = 0;
                for (int e = 0; e < K; e++) want += (int32_t)a[r * K + e] * b[j * K + e];
                if (q[r * N + j] != want) fail_msg("qdense[%d, %d] = %d, expected %d", r, j, q[r * N + j], want);
            }
        dlc_module_destroy(&m);
        dlc_ctx_destroy(&c);
    }
    {
        enum { R = 2, C = 9 };
        dlc_ctx_t *c = dlc_ctx_new();
        dlc_tensor_t *X = dlc_te_placeholder(c, "X", 2, (int64_t[]){R, C}, DLC_FLOAT16);
        dlc_tensor_t *Y = NN(dlc_te_compute(c, "Y", 2, (int64_t[]){R, C}, half_fn, X));
        assert_int_equal(Y->dtype, DLC_FLOAT16);
        dlc_schedule_t *s = NN(dlc_sched_create(c, 1, &Y));
        dlc_module_t *m = build_host(s, "indep_half", 2, (dlc_tensor_t *[]){X, Y});
        /* 0.5 → 0.5, -1 → -4, 2 → 5, 0.25 → -0.25, 1000 → 2999 (3000 in half, ties to even), 0 → -1,
         * 1 → 2, -2 → -7, 0.33325 → -2^-12 */
        static const uint16_t in[R * C] = {0x3800, 0xbc00, 0x4000, 0x3400, 0x63d0, 0x0000, 0x3c00, 0xc000, 0x3555,
                                           0x3800, 0xbc00, 0x4000, 0x3400, 0x63d0, 0x0000, 0x3c00, 0xc000, 0x3555};
        static const uint16_t want[R * C] = {0x3800, 0xc400, 0x4500, 0xb400, 0x69dc, 0xbc00, 0x4000, 0xc700, 0x8c00};
        uint16_t out[R * C];
        int64_t sh[2] = {R, C};
        DLTensor t[2] = {dlt((void *)in, DLC_FLOAT16, 2, sh), dlt(out, DLC_FLOAT16, 2, sh)};
        OK(dlc_module_call(m, "indep_half", t, 2));
        for (int e = 0; e < 9; e++)
            if (out[e] != want[e]) fail_msg("float16 element %d: got 0x%04x, expected 0x%04x", e, out[e], want[e]);
        assert_int_equal(out[9], out[0]);
        dlc_module_destroy(&m);
        dlc_ctx_destroy(&c);
    }
}

/* ---- two outputs in one kernel ---- */
static void test_two_outputs(void **state) {
    (void)state;
    for (int variant = 0; variant < 2; variant++) {
        dlc_ctx_t *c = dlc_ctx_new();
        dlc_tensor_t *X = dlc_te_placeholder(c, "X", 2, (int64_t[]){6, 11}, DLC_FLOAT32);
        dlc_tensor_t *bias = dlc_te_placeholder(c, "bias", 1, (int64_t[]){11}, DLC_FLOAT32);
        dlc_tensor_t *B = dlc_topi_bias_add(c, X, bias), *R = dlc_topi_relu(c, B);
        dlc_schedule_t *s = NN(dlc_sched_create(c, 2, (dlc_tensor_t *[]){B, R}));
        if (variant) {
            dlc_stage_t *sb = dlc_sched_stage(s, B), *sr = dlc_sched_stage(s, R);
            dlc_iter_var_t *o, *i;
            OK(dlc_stage_split(sr, ax(sr, 1), 4, &o, &i));
            OK(dlc_stage_vectorize(sr, i));
            OK(dlc_stage_parallel(sb, ax(sb, 0)));
            assert_int_equal(dlc_stage_compute_inline(sb), DLC_ESCHEDULE); /* an output */
        }
        kcheck_assert(s, 4, (dlc_tensor_t *[]){X, bias, B, R}, 2, NULL, "two outputs");
        dlc_ctx_destroy(&c);
    }
}

/* ---- casts in vectorized loops: int8 / uint8 / int16 → int32, int32 / int8 → float32 ---- */
/* Y[r, c] = i32(A[r, c]) * i32(W[c, r]) + i32(U[r, c]) - i32(H[r, c]): contiguous narrow loads (A, U, H)
 * and a gathered one (W, stride R) */
static dlc_expr_t *icast_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dlc_tensor_t **t = u;
    dlc_expr_t *a = dlc_cast(c, DLC_INT32, dlc_read2(c, t[0], i[0], i[1]));
    dlc_expr_t *w = dlc_cast(c, DLC_INT32, dlc_read2(c, t[1], i[1], i[0]));
    dlc_expr_t *un = dlc_cast(c, DLC_INT32, dlc_read2(c, t[2], i[0], i[1]));
    dlc_expr_t *h = dlc_cast(c, DLC_INT32, dlc_read2(c, t[3], i[0], i[1]));
    return dlc_sub(c, dlc_add(c, dlc_mul(c, a, w), un), h);
}
/* F[r, c] = f32(X[r, c]) + f32(A[r, c]) */
static dlc_expr_t *fcast_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dlc_tensor_t **t = u;
    return dlc_add(c, dlc_cast(c, DLC_FLOAT32, dlc_read2(c, t[0], i[0], i[1])),
                   dlc_cast(c, DLC_FLOAT32, dlc_read2(c, t[1], i[0], i[1])));
}

/* Builds out (columns split by `lanes`, the inner part vectorized) for the
 * host; asserts the C converts vectors (no scalar fallback) and loads it. */
static dlc_module_t *build_vec_cast(dlc_ctx_t *c, dlc_tensor_t *out, int64_t lanes, const char *name, int n_args,
                                    dlc_tensor_t *const *args, const char *want) {
    dlc_schedule_t *s = NN(dlc_sched_create(c, 1, &out));
    dlc_stage_t *st = dlc_sched_stage(s, out);
    dlc_iter_var_t *o, *i;
    OK(dlc_stage_split(st, ax(st, 1), lanes, &o, &i));
    OK(dlc_stage_vectorize(st, i));
    kcheck_assert(s, n_args, args, 1, NULL, name); /* and against its reference, through dlc-runner */
    dlc_strbuf_t src;
    host_c(s, name, n_args, args, &src);
    if (!strstr(src.data, want)) fail_msg("%s: the C has no '%s':\n%s", name, want, src.data);
    char lanes_note[32];
    snprintf(lanes_note, sizeof lanes_note, ": %lld lanes", (long long)lanes);
    if (!strstr(src.data, lanes_note) || strstr(src.data, "ivdep"))
        fail_msg("%s: %lld lanes not vectorized:\n%s", name, (long long)lanes, src.data);
    return host_load(&src);
}

/* ---- unswitching: a padded copy vectorised on its innermost axis ----
 * P[h, w, c] = A[h - 1, w - 1, c] inside A, else 0 (TVM's pad, as the conv
 * templates' NCHWc pad stages have it): the condition is the same across c,
 * so the codegen emits if (inside) the vector copy else the vector zero. */
static dlc_expr_t *pad_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dlc_tensor_t *A = u;
    dlc_expr_t *h = dlc_sub(c, i[0], dlc_int(c, 1)), *w = dlc_sub(c, i[1], dlc_int(c, 1)), *in = NULL;
    dlc_expr_t *const lim[2][2] = {{h, dlc_int(c, A->shape[0])}, {w, dlc_int(c, A->shape[1])}};
    for (int d = 0; d < 2; d++) {
        dlc_expr_t *ok = dlc_binary(c, DLC_EXPR_AND, dlc_binary(c, DLC_EXPR_GE, lim[d][0], dlc_int(c, 0)),
                                    dlc_binary(c, DLC_EXPR_LT, lim[d][0], lim[d][1]));
        in = in ? dlc_binary(c, DLC_EXPR_AND, in, ok) : ok;
    }
    return dlc_select(c, in, dlc_read3(c, A, h, w, i[2]), dlc_const(c, 0, A->dtype));
}

static void test_unswitched_pad(void **state) {
    (void)state;
    static const int64_t shapes[][3] = {{5, 7, 8}, {3, 1, 13}, {1, 4, 1}, {6, 5, 16}};
    for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
        dlc_ctx_t *c = dlc_ctx_new();
        const int64_t *sh = shapes[k];
        dlc_tensor_t *A = dlc_te_placeholder(c, "A", 3, (int64_t *)sh, DLC_FLOAT32);
        dlc_tensor_t *P = NN(dlc_te_compute(c, "P", 3, (int64_t[]){sh[0] + 2, sh[1] + 2, sh[2]}, pad_fn, A));
        dlc_schedule_t *s = NN(dlc_sched_create(c, 1, &P));
        dlc_stage_t *st = dlc_sched_stage(s, P);
        OK(dlc_stage_vectorize(st, ax(st, 2)));
        kcheck_assert(s, 2, (dlc_tensor_t *[]){A, P}, 1, NULL, "padded copy");
        dlc_strbuf_t src;
        host_c(s, "padded_copy", 2, (dlc_tensor_t *[]){A, P}, &src);
        char *body = strstr(src.data, "padded_copy("), *end = body ? strstr(body, "padded_copy__desc") : NULL;
        if (end) *end = '\0'; /* the kernel alone */
        /* (a single c is a scalar copy: its loop is dropped, the select stays) */
        if (sh[2] > 1 && (!body || !strstr(body, "} else {") || !strstr(body, "vectorized") || strstr(body, "ivdep") ||
                          strstr(body, "? A_")))
            fail_msg("%lldx%lldx%lld: the padded copy is not unswitched:\n%s", (long long)sh[0], (long long)sh[1],
                     (long long)sh[2], body ? body : src.data + src.len / 2);
        dlc_strbuf_free(&src);
        dlc_ctx_destroy(&c);
    }
}

static void test_vector_casts(void **state) {
    (void)state;
    enum { R = 3, CMAX = 42 };
    static int8_t a[R * CMAX], w[CMAX * R];
    static uint8_t un[R * CMAX];
    static int16_t h[R * CMAX];
    static int32_t x[R * CMAX], y[R * CMAX];
    static float f[R * CMAX];
    uint64_t seed = 11;
    for (int e = 0; e < R * CMAX; e++) { /* full ranges; the extremes included */
        a[e] = (int8_t)(e == 0 ? -128 : e == 1 ? 127 : (int)(hval(&seed) * 128));
        w[e] = (int8_t)(e == 0 ? -128 : (int)(hval(&seed) * 128));
        un[e] = (uint8_t)(e == 0 ? 255 : (int)((hval(&seed) + 1) * 127.5f));
        h[e] = (int16_t)(e == 0 ? -32768 : (int)(hval(&seed) * 32767));
        x[e] = (int32_t)(hval(&seed) * 1e9f);
    }
    /* within a native vector, wider, and not a power of two (as chunks of
     * 4 + 2 + 1 and 8 + 4 + 2 lanes); 37 columns give a tail */
    static const int64_t cases[][2] = {{4, 37}, {16, 37}, {7, 42}, {14, 42}};
    for (int ci = 0; ci < 4; ci++) {
        int64_t lanes = cases[ci][0];
        const int C = (int)cases[ci][1];
        int64_t srow[2] = {R, C}, scol[2] = {C, R};
        dlc_ctx_t *c = dlc_ctx_new();
        dlc_tensor_t *A = dlc_te_placeholder(c, "A", 2, srow, DLC_INT8);
        dlc_tensor_t *W = dlc_te_placeholder(c, "W", 2, scol, DLC_INT8);
        dlc_tensor_t *U = dlc_te_placeholder(c, "U", 2, srow, DLC_UINT8);
        dlc_tensor_t *H = dlc_te_placeholder(c, "H", 2, srow, DLC_INT16);
        dlc_tensor_t *Y = NN(dlc_te_compute(c, "Y", 2, srow, icast_fn, (dlc_tensor_t *[]){A, W, U, H}));
        dlc_module_t *m = build_vec_cast(c, Y, lanes, "vcast_i", 5, (dlc_tensor_t *[]){A, W, U, H, Y},
                                         "__builtin_convertvector(dlc_vload_i8x");
        DLTensor t[5] = {dlt(a, DLC_INT8, 2, srow), dlt(w, DLC_INT8, 2, scol), dlt(un, DLC_UINT8, 2, srow),
                         dlt(h, DLC_INT16, 2, srow), dlt(y, DLC_INT32, 2, srow)};
        OK(dlc_module_call(m, "vcast_i", t, 5));
        for (int r = 0; r < R; r++)
            for (int q = 0; q < C; q++) {
                int32_t want = (int32_t)a[r * C + q] * w[q * R + r] + un[r * C + q] - h[r * C + q];
                if (y[r * C + q] != want)
                    fail_msg("lanes %lld: Y[%d, %d] = %d, expected %d", (long long)lanes, r, q, y[r * C + q], want);
            }
        dlc_module_destroy(&m);
        dlc_tensor_t *X = dlc_te_placeholder(c, "X", 2, srow, DLC_INT32);
        dlc_tensor_t *F = NN(dlc_te_compute(c, "F", 2, srow, fcast_fn, (dlc_tensor_t *[]){X, A}));
        m = build_vec_cast(c, F, lanes, "vcast_f", 3, (dlc_tensor_t *[]){X, A, F},
                           "__builtin_convertvector(dlc_vload_i32x");
        DLTensor tf[3] = {dlt(x, DLC_INT32, 2, srow), dlt(a, DLC_INT8, 2, srow), dlt(f, DLC_FLOAT32, 2, srow)};
        OK(dlc_module_call(m, "vcast_f", tf, 3));
        for (int e = 0; e < R * C; e++)
            if (f[e] != (float)x[e] + (float)a[e])
                fail_msg("lanes %lld: F[%d] = %.9g, expected %.9g", (long long)lanes, e, f[e], (float)x[e] + (float)a[e]);
        dlc_module_destroy(&m);
        dlc_ctx_destroy(&c);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_schedules),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_fuse),
        cmocka_unit_test(test_reorder),
        cmocka_unit_test(test_tile),
        cmocka_unit_test(test_vectorize),
        cmocka_unit_test(test_unroll),
        cmocka_unit_test(test_parallel),
        cmocka_unit_test(test_compute_at_levels),
        cmocka_unit_test(test_compute_at_chain),
        cmocka_unit_test(test_compute_inline),
        cmocka_unit_test(test_cache_read),
        cmocka_unit_test(test_cache_write),
        cmocka_unit_test(test_pragma_bind),
        cmocka_unit_test(test_tensorize),
        cmocka_unit_test(test_ops_scheduled),
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_intrinsics_select),
        cmocka_unit_test(test_independent_values),
        cmocka_unit_test(test_two_outputs),
        cmocka_unit_test(test_vector_casts),
        cmocka_unit_test(test_unswitched_pad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
