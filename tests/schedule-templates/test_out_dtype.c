/* test_out_dtype.c — TVM's out_dtype in every template: int8 (and uint8)
 * inputs over their whole range, out_dtype int32, small odd shapes, sampled
 * configs. Each kernel runs in this process on inputs made here and is
 * compared exactly with a plain-C int32 reference written here, and its own
 * naive reference (the same compute) too; then dlc-runner checks it against
 * that reference on its own full-range inputs. Every product of two such
 * int8 values already leaves int8, so int8 accumulation (the code before
 * out_dtype was applied) fails here. Also: the --op grammar's out_dtype and a
 * TopHub vtacpu int8 spatial_pack record built through its task. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "compiler-core/dlc_module.h"
#include "schedule-templates/dlc_space.h"
#include "schedule-templates/dlc_templates.h"

#define ARM_HOST "llvm -device=arm_cpu" /* the arm_cpu templates, built for this machine */

/* ---- the operators in plain C: logical layouts, int32 sums of int32 products ---- */
typedef struct {
    dlc_opk_t kind; /* conv2d_nchwc is checked as the conv2d it packs */
    int64_t d[4], k[4], o[4]; /* logical shapes: data, kernel (OIHW; transpose IOHW; depthwise C1RS), output */
    int nd;                   /* 2 (dense), 3 (batch_matmul) or 4 */
    dlc_conv_params_t p;
    int64_t opad;
} prob_t;

static int64_t numel(const int64_t *s, int nd) {
    int64_t n = 1;
    for (int i = 0; i < nd; i++) n *= s[i];
    return n;
}

static prob_t prob_of(const dlc_op_spec_t *sp) {
    const int64_t *p = sp->p;
    prob_t x = {.kind = sp->kind, .nd = 4};
    switch (sp->kind) {
    case DLC_OPK_DENSE:
        x.nd = 2;
        memcpy(x.d, (int64_t[]){p[0], p[2]}, 2 * sizeof(int64_t));
        memcpy(x.k, (int64_t[]){p[1], p[2]}, 2 * sizeof(int64_t));
        memcpy(x.o, (int64_t[]){p[0], p[1]}, 2 * sizeof(int64_t));
        return x;
    case DLC_OPK_BATCH_MATMUL:
        x.nd = 3;
        memcpy(x.d, (int64_t[]){p[0], p[1], p[3]}, 3 * sizeof(int64_t));
        memcpy(x.k, (int64_t[]){p[0], p[2], p[3]}, 3 * sizeof(int64_t));
        memcpy(x.o, (int64_t[]){p[0], p[1], p[2]}, 3 * sizeof(int64_t));
        return x;
    case DLC_OPK_DEPTHWISE_CONV2D:
        x.p = dlc_conv_params(p[6], p[7], sp->n > 8 ? p[8] : 1);
        memcpy(x.d, p, 4 * sizeof(int64_t));
        memcpy(x.k, (int64_t[]){p[1], 1, p[4], p[5]}, 4 * sizeof(int64_t));
        x.o[1] = p[1];
        break;
    case DLC_OPK_CONV2D_TRANSPOSE:
        x.p = dlc_conv_params(p[7], p[8], 1);
        x.opad = sp->n > 9 ? p[9] : 0;
        memcpy(x.d, p, 4 * sizeof(int64_t));
        memcpy(x.k, (int64_t[]){p[1], p[4], p[5], p[6]}, 4 * sizeof(int64_t));
        x.o[1] = p[4];
        break;
    default: /* conv2d, conv2d_nchwc */
        x.kind = DLC_OPK_CONV2D;
        x.p = dlc_conv_params(p[7], p[8], sp->kind == DLC_OPK_CONV2D && sp->n > 9 ? p[9] : 1);
        memcpy(x.d, p, 4 * sizeof(int64_t));
        memcpy(x.k, (int64_t[]){p[4], p[1], p[5], p[6]}, 4 * sizeof(int64_t));
        x.o[1] = p[4];
    }
    x.o[0] = p[0];
    int64_t r = x.k[2], s = x.k[3];
    if (x.kind == DLC_OPK_CONV2D_TRANSPOSE) {
        x.o[2] = (x.d[2] - 1) * x.p.stride_h - 2 * x.p.pad_top + r + x.opad;
        x.o[3] = (x.d[3] - 1) * x.p.stride_w - 2 * x.p.pad_left + s + x.opad;
    } else {
        assert_int_equal(dlc_conv_out_hw(&x.p, x.d[2], x.d[3], r, s, &x.o[2], &x.o[3]), 0);
    }
    return x;
}

#define AT4(a, s, i, j, k, l) (a)[(((i) * (s)[1] + (j)) * (s)[2] + (k)) * (s)[3] + (l)]

/* out[n, oc, y, x] of a convolution: Σ data · kernel over the window, in int32 */
static int32_t conv_at(const prob_t *x, const int32_t *a, const int32_t *b, int64_t n, int64_t oc, int64_t y,
                       int64_t xx) {
    const int64_t *d = x->d, *k = x->k;
    const dlc_conv_params_t *p = &x->p;
    int dw = x->kind == DLC_OPK_DEPTHWISE_CONV2D, tr = x->kind == DLC_OPK_CONV2D_TRANSPOSE;
    int32_t acc = 0;
    for (int64_t c = dw ? oc : 0; c < (dw ? oc + 1 : d[1]); c++)
        for (int64_t r = 0; r < k[2]; r++)
            for (int64_t s = 0; s < k[3]; s++) {
                int64_t iy = y * p->stride_h + r * p->dil_h - p->pad_top;
                int64_t ix = xx * p->stride_w + s * p->dil_w - p->pad_left;
                if (tr) { /* out[y] gathers data[i] where i * stride + r = y + pad */
                    int64_t ty = y + p->pad_top - r, tx = xx + p->pad_left - s;
                    if (ty < 0 || tx < 0 || ty % p->stride_h || tx % p->stride_w) continue;
                    iy = ty / p->stride_h, ix = tx / p->stride_w;
                }
                if (iy < 0 || ix < 0 || iy >= d[2] || ix >= d[3]) continue;
                int32_t kv = tr ? AT4(b, k, c, oc, r, s) : dw ? AT4(b, k, oc, 0, r, s) : AT4(b, k, oc, c, r, s);
                acc += AT4(a, d, n, c, iy, ix) * kv;
            }
    return acc;
}

static void reference(const prob_t *x, const int32_t *a, const int32_t *b, int32_t *out) {
    const int64_t *d = x->d, *k = x->k, *o = x->o;
    if (x->nd < 4) { /* out[bt, m, n] = Σ a[bt, m, kk] b[bt, n, kk]; dense: bt = 0 */
        int64_t B = x->nd == 3 ? d[0] : 1, M = d[x->nd - 2], K = d[x->nd - 1], N = k[x->nd - 2];
        for (int64_t bt = 0; bt < B; bt++)
            for (int64_t m = 0; m < M; m++)
                for (int64_t n = 0; n < N; n++) {
                    int32_t acc = 0;
                    for (int64_t kk = 0; kk < K; kk++) acc += a[(bt * M + m) * K + kk] * b[(bt * N + n) * K + kk];
                    out[(bt * M + m) * N + n] = acc;
                }
        return;
    }
    for (int64_t n = 0; n < o[0]; n++)
        for (int64_t oc = 0; oc < o[1]; oc++)
            for (int64_t y = 0; y < o[2]; y++)
                for (int64_t xx = 0; xx < o[3]; xx++) AT4(out, o, n, oc, y, xx) = conv_at(x, a, b, n, oc, y, xx);
}

/* ---- the templates' layouts ----
 * Where a template's tensor has more dimensions than the logical one, axes
 * are blocked and their blocks appended: data / output [N, C/b, H, W, b];
 * a spatial_pack kernel [K/b, C, R, S, b], dense_pack's weight [N/b, K, b];
 * an NCHWc kernel [K/ob, C/ib, R, S, ib, ob]. Offset of a logical element: */
static int64_t phys_offset(const dlc_tensor_t *t, int nd, int is_kernel, const int64_t *li) {
    int64_t idx[DLC_MAX_DIMS];
    memcpy(idx, li, sizeof(int64_t) * (size_t)nd);
    int extra = t->ndim - nd;
    assert_true(extra >= 0 && extra <= 2);
    if (extra == 2) { /* [K/ob, C/ib, R, S, ib, ob] */
        int64_t ib = t->shape[nd], ob = t->shape[nd + 1];
        idx[nd] = li[1] % ib, idx[nd + 1] = li[0] % ob;
        idx[0] = li[0] / ob, idx[1] = li[1] / ib;
    } else if (extra == 1) {
        int ax = is_kernel ? 0 : 1;
        int64_t bl = t->shape[nd];
        idx[nd] = li[ax] % bl;
        idx[ax] = li[ax] / bl;
    }
    int64_t off = 0;
    for (int i = 0; i < t->ndim; i++) {
        assert_true(idx[i] >= 0 && idx[i] < t->shape[i]);
        off = off * t->shape[i] + idx[i];
    }
    return off;
}

/* visits every logical index of shape s (nd dims) in row-major order */
static int next_index(int64_t *li, const int64_t *s, int nd) {
    for (int i = nd - 1; i >= 0; i--) {
        if (++li[i] < s[i]) return 1;
        li[i] = 0;
    }
    return 0;
}

/* ---- one kernel: built, run in process, checked ---- */
typedef struct {
    dlc_ctx_t *ctx;
    dlc_op_t op;
    prob_t prob;
    dlc_lowered_func_t *f, *fr;
    char what[200];
} entry_t;

static uint64_t g_rng = 0x9e3779b97f4a7c15ULL;
static int32_t rnd(int lo, int hi) { /* uniform in [lo, hi] */
    g_rng ^= g_rng << 13, g_rng ^= g_rng >> 7, g_rng ^= g_rng << 17;
    return lo + (int32_t)(g_rng % (uint64_t)(hi - lo + 1));
}

static DLTensor dlt(void *data, const dlc_tensor_t *t) {
    DLTensor d;
    memset(&d, 0, sizeof d);
    d.data = data;
    d.device.device_type = kDLCPU;
    d.ndim = t->ndim;
    d.shape = (int64_t *)t->shape;
    dlc_dtype_dlpack(t->dtype, &d.dtype.code, &d.dtype.bits);
    d.dtype.lanes = 1;
    return d;
}

/* Runs entry e (kernel and its naive reference) of module m on full-range
 * inputs and compares both with reference(); returns the number of output
 * elements an int8 result could not hold. */
static int64_t run_entry(dlc_module_t *m, const entry_t *e) {
    const prob_t *x = &e->prob;
    const dlc_tensor_t *ta = e->op.args[0], *tb = e->op.args[1], *to = e->op.args[2];
    int64_t na = numel(x->d, x->nd), nb = numel(x->k, x->nd), no = numel(x->o, x->nd);
    assert_int_equal(numel(ta->shape, ta->ndim), na);
    /* a packed weight may pad its last block (dense_tiled.cpu): the padding
     * holds a poison value the result must not depend on */
    int64_t nb_phys = numel(tb->shape, tb->ndim);
    assert_true(nb_phys >= nb);
    assert_int_equal(numel(to->shape, to->ndim), no);
    int32_t *a = malloc(sizeof *a * (size_t)na), *b = malloc(sizeof *b * (size_t)nb);
    int32_t *want = malloc(sizeof *want * (size_t)no), *got = malloc(sizeof *got * (size_t)no);
    int32_t *got_ref = malloc(sizeof *got_ref * (size_t)no);
    uint8_t *pa = malloc((size_t)na), *pb = malloc((size_t)nb_phys); /* int8 or uint8 */
    assert_true(a && b && want && got && got_ref && pa && pb);
    int is_u8 = ta->dtype == DLC_UINT8;
    for (int64_t i = 0; i < na; i++) a[i] = i == 0 ? (is_u8 ? 255 : -128) : is_u8 ? rnd(0, 255) : rnd(-128, 127);
    for (int64_t i = 0; i < nb; i++) b[i] = i == 0 ? (is_u8 ? 255 : -128) : is_u8 ? rnd(0, 255) : rnd(-128, 127);
    if (pb) memset(pb, 0x7f, (size_t)nb_phys);
    int64_t li[4] = {0};
    int64_t i = 0;
    do pa[phys_offset(ta, x->nd, 0, li)] = (uint8_t)a[i++]; while (next_index(li, x->d, x->nd));
    i = 0;
    do pb[phys_offset(tb, x->nd, 1, li)] = (uint8_t)b[i++]; while (next_index(li, x->k, x->nd));
    reference(x, a, b, want);
    for (int pass = 0; pass < 2; pass++) { /* the kernel, then its naive reference */
        int32_t *out = pass ? got_ref : got;
        DLTensor t[3] = {dlt(pa, ta), dlt(pb, tb), dlt(out, to)};
        int rc = dlc_module_call(m, pass ? e->fr->name : e->f->name, t, 3);
        if (rc < 0) fail_msg("%s: call: %s", e->what, dlc_last_error());
        i = 0;
        do {
            int32_t v = out[phys_offset(to, x->nd, 0, li)];
            if (v != want[i])
                fail_msg("%s%s: output %lld (%lld, %lld, %lld, %lld) is %d, expected %d", e->what,
                         pass ? " (its naive reference)" : "", (long long)i, (long long)li[0], (long long)li[1],
                         (long long)li[2], (long long)li[3], v, want[i]);
            i++;
        } while (next_index(li, x->o, x->nd));
    }
    int64_t wide = 0;
    for (int64_t j = 0; j < no; j++) wide += want[j] < -128 || want[j] > 127;
    free(a), free(b), free(want), free(got), free(got_ref), free(pa), free(pb);
    return wide;
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Up to per_spec sampled configs of template `name` for each spec (all with
 * out_dtype int32), built for target in one translation unit, each run here
 * and through dlc-runner. */
static void check_template(const char *name, const char *target, const char *const *specs, int n_specs, int per_spec) {
    double t0 = now_s();
    dlc_target_t tgt;
    assert_int_equal(dlc_target_parse(target, &tgt), 0);
    entry_t e[32];
    int n = 0;
    static int counter;
    for (int si = 0; si < n_specs; si++) {
        dlc_op_spec_t spec;
        if (dlc_op_parse(specs[si], &spec) < 0) fail_msg("%s: %s", specs[si], dlc_last_error());
        assert_int_equal(spec.out_dtype, DLC_INT32);
        dlc_task_t *task;
        if (dlc_task_from_spec(&spec, name, &tgt, &task) < 0) fail_msg("%s %s: %s", name, specs[si], dlc_last_error());
        assert_int_equal(dlc_task_workload(task)->out_dtype, DLC_INT32);
        dlc_space_t *sp = dlc_task_space(task);
        dlc_space_sampler_t *smp = dlc_space_sampler_new(sp, 77 + (uint64_t)si);
        int64_t idx;
        for (int got = 0; got < per_spec && n < 32 && dlc_space_sampler_next(smp, &idx) == 0;) {
            dlc_config_t *cfg;
            assert_int_equal(dlc_space_get(sp, idx, &cfg), 0);
            entry_t *x = &e[n];
            x->ctx = dlc_ctx_new();
            dlc_schedule_t *s;
            int rc = dlc_task_instantiate(task, cfg, x->ctx, &x->op, &s);
            dlc_config_destroy(&cfg);
            if (rc == DLC_EINSTANTIATE) {
                dlc_ctx_destroy(&x->ctx);
                continue;
            }
            if (rc < 0) fail_msg("%s %s config %lld: %s", name, specs[si], (long long)idx, dlc_last_error());
            snprintf(x->what, sizeof x->what, "%s %s config %lld", name, specs[si], (long long)idx);
            assert_int_equal(x->op.n_args, 3);
            assert_int_equal(x->op.args[0]->dtype, spec.dtype);
            assert_int_equal(x->op.args[1]->dtype, spec.dtype);
            assert_int_equal(x->op.out->dtype, DLC_INT32);
            x->prob = prob_of(&spec);
            char fn[32], ref[32];
            snprintf(fn, sizeof fn, "od%d", counter);
            snprintf(ref, sizeof ref, "od%d_ref", counter++);
            if (dlc_lower(s, fn, 3, x->op.args, 1, &x->f) < 0 ||
                dlc_lower_reference(x->ctx, ref, 3, x->op.args, 1, &x->fr) < 0)
                fail_msg("%s: lowering: %s", x->what, dlc_last_error());
            x->f->ref_name = x->fr->name;
            n++, got++;
        }
        dlc_space_sampler_destroy(&smp);
        dlc_task_destroy(&task);
    }
    assert_true(n >= 2 * n_specs);
    dlc_lowered_func_t *funcs[64];
    for (int i = 0; i < n; i++) funcs[2 * i] = e[i].f, funcs[2 * i + 1] = e[i].fr;
    dlc_strbuf_t c;
    dlc_strbuf_init(&c);
    assert_int_equal(dlc_codegen_c(funcs, 2 * n, &tgt, &c), 0);
    dlc_build_result_t br;
    if (dlc_build_so(c.data, c.len, &tgt, &br) < 0) fail_msg("%s: build: %s", name, dlc_last_error());
    dlc_strbuf_free(&c);
    dlc_module_t *m = dlc_module_load(br.so_path);
    assert_non_null(m);
    for (int i = 0; i < n; i++) {
        int64_t wide = run_entry(m, &e[i]);
        /* most sums leave int8: an int8 accumulation could not have passed */
        if (2 * wide < numel(e[i].prob.o, e[i].prob.nd))
            fail_msg("%s: only %lld outputs beyond int8", e[i].what, (long long)wide);
        dlc_measure_opts_t mo = DLC_MEASURE_OPTS_DEFAULT;
        mo.repeat = 1;
        mo.timeout_s = 60;
        dlc_measure_result_t mr;
        assert_int_equal(dlc_measure(&tgt, br.so_path, e[i].f->name, &mo, &mr), 0);
        if (mr.status || !mr.verified)
            fail_msg("%s: dlc-runner: status %d, verified %d: %s (%s)", e[i].what, mr.status, mr.verified, mr.message,
                     br.so_path);
        dlc_ctx_destroy(&e[i].ctx);
    }
    dlc_module_destroy(&m);
    fprintf(stderr, "  %s: %d configs exact, %.1f s\n", name, n, now_s() - t0);
}

/* ---- the templates ---- */
static const char *const conv_specs[] = {"conv2d:1,3,7,9,4,3,3,1,1:int8:int32",
                                         "conv2d:1,2,6,5,6,3,3,1,1,2:int8:int32"}; /* dilation 2 */
static const char *const conv1x1_specs[] = {"conv2d:1,3,7,9,4,3,3,1,1:int8:int32",
                                            "conv2d:1,4,5,5,6,1,1,2,0:int8:int32"}; /* 1x1: x86's other schedule */
static const char *const dw_specs[] = {"depthwise_conv2d:1,6,7,7,3,3,1,1:int8:int32",
                                       "depthwise_conv2d:1,4,9,7,3,3,2,1,2:int8:int32"};
static const char *const convt_specs[] = {"conv2d_transpose:1,3,3,3,4,3,3,2,1:int8:int32",
                                          "conv2d_transpose:1,2,2,3,3,4,4,2,1,1:int8:int32"};
static const char *const dense_specs[] = {"dense:5,7,9:int8:int32", "dense:3,16,17:uint8:int32"};
static const char *const bmm_specs[] = {"batch_matmul:2,5,7,9:int8:int32", "batch_matmul:1,3,16,11:int8:int32"};
static const char *const nchwc_specs[] = {"conv2d_nchwc:1,4,7,5,6,3,3,1,1,2,3:int8:int32",
                                          "conv2d_nchwc:1,3,5,9,4,3,3,2,1,1,2:int8:int32"};

/* Each template on two specs of its op, three configs each. */
typedef struct {
    const char *tmpl, *target;
    const char *const *specs;
} case_t;

static void check_cases(const case_t *c, size_t n) {
    for (size_t i = 0; i < n; i++)
        check_template(c[i].tmpl, c[i].target, c[i].specs, 2, 3);
}

static void test_x86_templates(void **state) {
    (void)state;
    static const case_t c[] = {
        {"conv2d_NCHWc.x86", "llvm", conv1x1_specs},        {"conv2d_tiled.x86", "llvm", conv1x1_specs},
        {"depthwise_conv2d_NCHWc.x86", "llvm", dw_specs},    {"conv2d_transpose_nchw.x86", "llvm", convt_specs},
        {"dense_nopack.x86", "llvm", dense_specs},           {"dense_pack.x86", "llvm", dense_specs},
        {"dense_tiled.cpu", "llvm", dense_specs},            {"batch_matmul.x86", "llvm", bmm_specs},
    };
    check_cases(c, sizeof c / sizeof *c);
}

static void test_arm_templates(void **state) {
    (void)state;
    static const case_t c[] = {
        {"conv2d_nchw_spatial_pack.arm_cpu", ARM_HOST, conv_specs},
        {"depthwise_conv2d_nchw.arm_cpu", ARM_HOST, dw_specs},
        {"conv2d_transpose_nchw.arm_cpu", ARM_HOST, convt_specs},
    };
    check_cases(c, sizeof c / sizeof *c);
}

static void test_generic_templates(void **state) {
    (void)state;
    static const case_t c[] = {
        {"dense.generic", "llvm", dense_specs},
        {"batch_matmul.generic", "llvm", bmm_specs},
        {"conv2d_nchw.generic", "llvm", conv_specs},
        {"depthwise_conv2d_nchw.generic", "llvm", dw_specs},
        {"conv2d_transpose_nchw.generic", "llvm", convt_specs},
        {"conv2d_NCHWc.generic", "llvm", nchwc_specs},
    };
    check_cases(c, sizeof c / sizeof *c);
}

/* ---- the grammar: out_dtype given, defaulted, refused; carried into the TVM args ---- */
static void test_spec_grammar(void **state) {
    (void)state;
    dlc_op_spec_t s;
    assert_int_equal(dlc_op_parse("conv2d:1,3,17,19,5,3,3,1,1:int8:int32", &s), 0);
    assert_int_equal(s.dtype, DLC_INT8);
    assert_int_equal(s.out_dtype, DLC_INT32);
    assert_int_equal(dlc_op_parse("dense:4,4,4:int8", &s), 0); /* relay's default: the input dtype */
    assert_int_equal(s.out_dtype, DLC_INT8);
    assert_int_equal(dlc_op_parse("dense:4,4,4", &s), 0);
    assert_int_equal(s.dtype, DLC_FLOAT32);
    assert_int_equal(s.out_dtype, DLC_FLOAT32);
    assert_int_equal(dlc_op_parse("dense:4,4,4:int8:int33", &s), DLC_EINVAL);
    assert_non_null(strstr(dlc_last_error(), "out_dtype"));
    assert_int_equal(dlc_op_parse("relu:8:int8:int32", &s), DLC_EINVAL); /* relu has no out_dtype */
    assert_non_null(strstr(dlc_last_error(), "no out_dtype"));
    assert_int_equal(dlc_op_parse("relu:8:int8:int8", &s), 0);
    assert_int_equal(dlc_op_parse("dense:4,4,4:int8:int32:x", &s), DLC_EINVAL);
    dlc_strbuf_t g;
    dlc_strbuf_init(&g);
    dlc_op_grammar(&g);
    assert_non_null(strstr(g.data, "conv2d:N,C,H,W,K,R,S,stride,pad[,dilation][:dtype[:out_dtype]]"));
    assert_non_null(strstr(g.data, "pool2d:N,C,H,W,R,S,stride,pad,max|avg[:dtype]\n"));
    dlc_strbuf_free(&g);
    /* the op's name says both dtypes; its output has out_dtype */
    assert_int_equal(dlc_op_parse("dense:4,5,6:int8:int32", &s), 0);
    dlc_ctx_t *ctx = dlc_ctx_new();
    dlc_op_t op;
    assert_int_equal(dlc_op_build(ctx, &s, &op), 0);
    assert_string_equal(op.name, "dense_4_5_6_int8_int32");
    assert_int_equal(op.out->dtype, DLC_INT32);
    dlc_ctx_destroy(&ctx);
    /* every template's args carry out_dtype where TVM's do */
    static const struct {
        const char *tmpl, *target, *spec;
        int at; /* index of out_dtype in the args */
    } cases[] = {
        {"conv2d_NCHWc.x86", "llvm", "conv2d:1,3,17,19,5,3,3,1,1:int8:int32", 7},
        {"conv2d_tiled.x86", "llvm", "conv2d:1,3,17,19,5,3,3,1,1:int8:int32", 7},
        {"depthwise_conv2d_NCHWc.x86", "llvm", "depthwise_conv2d:1,3,9,9,3,3,1,1:int8:int32", 7},
        {"conv2d_transpose_nchw.x86", "llvm", "conv2d_transpose:1,3,5,5,4,3,3,2,1:int8:int32", 4},
        {"dense_pack.x86", "llvm", "dense:4,5,6:int8:int32", 3},
        {"dense_tiled.cpu", "llvm", "dense:4,5,6:int8:int32", 3},
        {"batch_matmul.x86", "llvm", "batch_matmul:2,4,5,6:int8:int32", 3},
        {"conv2d_nchw_spatial_pack.arm_cpu", ARM_HOST, "conv2d:1,3,17,19,5,3,3,1,1:int8:int32", 5},
        {"depthwise_conv2d_nchw.arm_cpu", ARM_HOST, "depthwise_conv2d:1,3,9,9,3,3,1,1:int8:int32", 5},
        {"conv2d_NCHWc.generic", "llvm", "conv2d_nchwc:1,4,9,9,4,3,3,1,1,2,2:int8:int32", 7},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dlc_target_t t;
        assert_int_equal(dlc_target_parse(cases[i].target, &t), 0);
        assert_int_equal(dlc_op_parse(cases[i].spec, &s), 0);
        dlc_task_t *task;
        assert_int_equal(dlc_task_from_spec(&s, cases[i].tmpl, &t, &task), 0);
        const json_t *args = dlc_task_args(task);
        assert_string_equal(json_string_value(json_array_get(args, (size_t)cases[i].at)), "int32");
        assert_string_equal(json_string_value(json_array_get(json_array_get(args, 0), 2)), "int8");
        assert_int_equal(dlc_task_workload(task)->out_dtype, DLC_INT32);
        dlc_task_destroy(&task);
    }
}

/* ---- TopHub: arm_cpu_v0.08.log line 1113, model vtacpu, int8 → int32; vc vectorised innermost ---- */
static const char vtacpu_record[] =
    "{\"input\": [\"llvm -device=arm_cpu -model=vtacpu -mtriple=armv7a-linux-eabi\", "
    "\"conv2d_nchw_spatial_pack.arm_cpu\", [[\"TENSOR\", [1, 256, 14, 14], \"int8\"], [\"TENSOR\", [512, 256, "
    "1, 1], \"int8\"], [2, 2], [0, 0, 0, 0], [1, 1], \"int32\"], {}], \"config\": {\"index\": 3444, "
    "\"code_hash\": null, \"entity\": [[\"tile_co\", \"sp\", [32, 16]], [\"tile_oh\", \"sp\", [7, 1]], "
    "[\"tile_ow\", \"sp\", [7, 1]], [\"reorder_0\", \"re\", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]], [\"ann_reduce\", "
    "\"an\", [\"unroll\", \"unroll\"]], [\"ann_spatial\", \"an\", [\"unroll\", \"none\", \"vec\"]]]}, "
    "\"result\": [[0.006798731], 0, 0.47246456146240234, 1533139549.1411946], \"version\": 0.2, "
    "\"tvm_version\": \"0.7.dev0\"}";

/* the line as it stands in the log, where the log is beside the repository */
static void check_record_in_log(void) {
    char path[1024], line[2048];
    const char *dir = getenv("DLC_TOPHUB_DIR");
    snprintf(path, sizeof path, "%s/arm_cpu_v0.08.log", dir ? dir : DLC_SOURCE_DIR "/../shared/data/tophub");
    FILE *f = fopen(path, "r");
    if (!f) return;
    for (int i = 1; fgets(line, sizeof line, f); i++)
        if (i == 1113) {
            line[strcspn(line, "\n")] = 0;
            assert_string_equal(line, vtacpu_record);
        }
    fclose(f);
}

static void test_tophub_vtacpu_record(void **state) {
    (void)state;
    double t0 = now_s();
    check_record_in_log();
    json_error_t je;
    json_t *rec = json_loads(vtacpu_record, 0, &je);
    assert_non_null(rec);
    json_t *input = json_object_get(rec, "input"), *config = json_object_get(rec, "config");
    dlc_target_t tgt; /* the record's target without its armv7 triple: this machine, key arm_cpu */
    assert_int_equal(dlc_target_parse(ARM_HOST " -model=vtacpu", &tgt), 0);
    dlc_task_t *task;
    const char *tmpl = json_string_value(json_array_get(input, 1));
    assert_int_equal(dlc_task_create(tmpl, json_array_get(input, 2), &tgt, &task), 0);
    assert_int_equal(dlc_task_workload(task)->dtype, DLC_INT8);
    assert_int_equal(dlc_task_workload(task)->out_dtype, DLC_INT32);
    dlc_config_t *cfg;
    assert_int_equal(dlc_config_from_entity_json(dlc_task_space(task), json_object_get(config, "entity"), &cfg), 0);
    assert_int_equal(dlc_config_index(cfg), json_integer_value(json_object_get(config, "index")));
    entry_t e;
    memset(&e, 0, sizeof e);
    e.ctx = dlc_ctx_new();
    dlc_schedule_t *s;
    assert_int_equal(dlc_task_instantiate(task, cfg, e.ctx, &e.op, &s), 0);
    assert_int_equal(e.op.out->dtype, DLC_INT32);
    dlc_op_spec_t spec; /* the same convolution as an --op spec, for the plain-C reference */
    assert_int_equal(dlc_op_parse("conv2d:1,256,14,14,512,1,1,2,0:int8:int32", &spec), 0);
    e.prob = prob_of(&spec);
    snprintf(e.what, sizeof e.what, "vtacpu record (line 1113)");
    assert_int_equal(dlc_lower(s, "vtacpu", 3, e.op.args, 1, &e.f), 0);
    assert_int_equal(dlc_lower_reference(e.ctx, "vtacpu_ref", 3, e.op.args, 1, &e.fr), 0);
    e.f->ref_name = e.fr->name;
    dlc_strbuf_t c;
    dlc_strbuf_init(&c);
    assert_int_equal(dlc_codegen_c((dlc_lowered_func_t *[]){e.f, e.fr}, 2, &tgt, &c), 0);
    assert_non_null(strstr(c.data, "__builtin_convertvector")); /* its "vec" annotation stays a vector loop */
    dlc_build_result_t br;
    if (dlc_build_so(c.data, c.len, &tgt, &br) < 0) fail_msg("build: %s", dlc_last_error());
    dlc_strbuf_free(&c);
    dlc_module_t *m = dlc_module_load(br.so_path);
    assert_non_null(m);
    int64_t wide = run_entry(m, &e);
    assert_true(2 * wide > numel(e.prob.o, 4));
    dlc_module_destroy(&m);
    dlc_measure_opts_t mo = DLC_MEASURE_OPTS_DEFAULT;
    mo.repeat = 1;
    dlc_measure_result_t mr;
    assert_int_equal(dlc_measure(&tgt, br.so_path, "vtacpu", &mo, &mr), 0);
    if (mr.status || !mr.verified) fail_msg("dlc-runner: status %d: %s", mr.status, mr.message);
    dlc_ctx_destroy(&e.ctx);
    dlc_config_destroy(&cfg);
    dlc_task_destroy(&task);
    json_decref(rec);
    fprintf(stderr, "  vtacpu int8 record: exact, %.1f s\n", now_s() - t0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_grammar),          cmocka_unit_test(test_x86_templates),
        cmocka_unit_test(test_arm_templates),         cmocka_unit_test(test_generic_templates),
        cmocka_unit_test(test_tophub_vtacpu_record),
    };
    setenv("OMP_WAIT_POLICY", "passive", 0); /* see test_templates.c */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
