/* test_cross.c — scheduled kernels cross-compiled for aarch64 and riscv64
 * (aarch64-linux-gnu-gcc, riscv64-linux-gnu-gcc) and checked against their
 * naive references under qemu-user: dlc_measure runs dlc-runner through the
 * target's exec_wrapper. Kernels are batched into a few translation units. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "kernel_check.h"

#define OK(x) ok_((x), #x, __LINE__)
static void ok_(int rc, const char *what, int line) {
    if (rc < 0) {
        fprintf(stderr, "line %d: %s failed: %s\n", line, what, dlc_last_error());
        fail();
    }
}

typedef struct {
    dlc_ctx_t *ctx;
    dlc_op_spec_t spec;
    dlc_op_t op;
    dlc_schedule_t *s;
    dlc_stage_t *out;
} kop_t;

static void kop_new(kop_t *k, const char *spec) {
    memset(k, 0, sizeof *k);
    k->ctx = dlc_ctx_new();
    if (dlc_op_parse(spec, &k->spec) < 0 || dlc_op_build(k->ctx, &k->spec, &k->op) < 0) {
        fprintf(stderr, "%s: %s\n", spec, dlc_last_error());
        fail();
    }
    k->s = dlc_sched_create(k->ctx, 1, &k->op.out);
    assert_non_null(k->s);
    k->out = dlc_sched_stage(k->s, k->op.out);
}

static void kop_add(kbatch_t *b, kop_t *k, const char *what) {
    char buf[2400];
    snprintf(buf, sizeof buf, "%s [%s]", what, k->spec.text);
    kbatch_add(b, k->ctx, k->s, k->op.n_args, k->op.args, k->op.n_outputs, buf); /* takes the context */
    k->ctx = NULL;
}

static dlc_stage_t *stage_named(dlc_schedule_t *s, const char *name) {
    for (int i = 0; i < dlc_sched_num_stages(s); i++)
        if (strcmp(dlc_stage_name(dlc_sched_stage_at(s, i)), name) == 0) return dlc_sched_stage_at(s, i);
    fail_msg("no stage %s", name);
    return NULL;
}

static dlc_iter_var_t *ax(dlc_stage_t *st, int i) { return dlc_stage_axis(st, i); }
static dlc_iter_var_t *rax(dlc_stage_t *st, int i) { return dlc_stage_reduce_axis(st, i); }

static const dlc_intrin_decl_t gemm_acc = {
    "xk_gemm_acc",
    "static void xk_gemm_acc(int64_t m, int64_t n, int64_t k, float *o, const float *a, const float *b,\n"
    "                        int64_t ldo, int64_t lda, int64_t ldb) {\n"
    "  for (int64_t i = 0; i < m; i++)\n"
    "    for (int64_t j = 0; j < n; j++) {\n"
    "      float acc = 0.0f;\n"
    "      for (int64_t r = 0; r < k; r++) acc += a[i * lda + r] * b[j * ldb + r];\n"
    "      o[i * ldo + j] += acc;\n"
    "    }\n"
    "}\n",
    1};

/* Adds the cross-target kernel set to b; returns how many were added. */
static int add_kernels(kbatch_t *b, const char *target) {
    dlc_target_t tgt;
    OK(dlc_target_parse(target, &tgt));
    int n = 0;
    kop_t k;
    dlc_iter_var_t *mo, *no, *mi, *ni, *o, *i, *f;

    /* 1. dense tiled + vectorized + parallel, with a local accumulator tile */
    kop_new(&k, "dense:33,67,29");
    {
        dlc_tensor_t *CL = dlc_sched_cache_write(k.s, k.op.out, DLC_SCOPE_LOCAL);
        assert_non_null(CL);
        dlc_stage_t *st = k.out, *cl = dlc_sched_stage(k.s, CL);
        OK(dlc_stage_tile(st, ax(st, 0), ax(st, 1), 4, 16, &mo, &no, &mi, &ni));
        OK(dlc_stage_parallel(st, mo));
        OK(dlc_stage_vectorize(st, ni));
        OK(dlc_stage_compute_at(cl, st, no));
        OK(dlc_stage_split(cl, rax(cl, 0), 4, &o, &i));
        OK(dlc_stage_reorder(cl, 4, (dlc_iter_var_t *[]){o, i, ax(cl, 0), ax(cl, 1)}));
        OK(dlc_stage_unroll(cl, i));
        OK(dlc_stage_vectorize(cl, ax(cl, 1)));
        kop_add(b, &k, "dense tiled+vectorized+parallel");
        n++;
    }
    /* 2-5. default schedules for this target (its SIMD width) */
    static const char *defaults[] = {"dense:7,13,5", "batch_matmul:3,7,11,13", "conv2d_nchwc:1,8,9,9,16,3,3,1,1,4,8",
                                     "pool2d:2,4,8,8,2,2,2,0,avg", "conv2d:2,4,9,9,8,3,3,2,1"};
    for (size_t d = 0; d < sizeof defaults / sizeof defaults[0]; d++) {
        kop_new(&k, defaults[d]);
        k.s = dlc_op_default_schedule(k.ctx, &k.spec, &k.op, &tgt);
        assert_non_null(k.s);
        kop_add(b, &k, "default schedule");
        n++;
    }
    /* 6. conv2d NCHW: pad attached at the row, w split and vectorized, k parallel */
    kop_new(&k, "conv2d:1,3,11,13,5,3,3,1,1");
    {
        dlc_stage_t *st = k.out;
        OK(dlc_stage_fuse(st, ax(st, 0), ax(st, 1), &f));
        OK(dlc_stage_split(st, ax(st, 3), 4, &o, &i));
        OK(dlc_stage_reorder(st, 7, (dlc_iter_var_t *[]){f, ax(st, 2), o, rax(st, 0), rax(st, 1), rax(st, 2), i}));
        OK(dlc_stage_vectorize(st, i));
        OK(dlc_stage_parallel(st, f));
        OK(dlc_stage_compute_at(stage_named(k.s, "pad"), st, ax(st, 2)));
        kop_add(b, &k, "conv2d scheduled");
        n++;
    }
    /* 7. depthwise: channels parallel, w vectorized on a tail, pad inlined */
    kop_new(&k, "depthwise_conv2d:1,5,13,11,3,3,1,1");
    {
        dlc_stage_t *st = k.out;
        OK(dlc_stage_compute_inline(stage_named(k.s, "pad")));
        OK(dlc_stage_fuse(st, ax(st, 0), ax(st, 1), &f));
        OK(dlc_stage_parallel(st, f));
        OK(dlc_stage_split(st, ax(st, 3), 8, &o, &i));
        OK(dlc_stage_reorder(st, 6, (dlc_iter_var_t *[]){f, ax(st, 2), o, rax(st, 0), rax(st, 1), i}));
        OK(dlc_stage_vectorize(st, i));
        kop_add(b, &k, "depthwise scheduled");
        n++;
    }
    /* 8. max pool: pad at the channel, tiles */
    kop_new(&k, "pool2d:1,3,13,11,3,3,2,1,max");
    {
        dlc_stage_t *st = k.out;
        dlc_iter_var_t *xo, *yo, *xi, *yi;
        OK(dlc_stage_tile(st, ax(st, 2), ax(st, 3), 2, 4, &xo, &yo, &xi, &yi));
        OK(dlc_stage_parallel(st, ax(st, 1)));
        OK(dlc_stage_compute_at(stage_named(k.s, "pad"), st, ax(st, 1)));
        kop_add(b, &k, "max pool scheduled");
        n++;
    }
    /* 9. softmax: exp inlined, max and sum at the row, vectorized normalisation */
    kop_new(&k, "softmax:7,29");
    {
        dlc_stage_t *st = k.out;
        OK(dlc_stage_compute_inline(stage_named(k.s, "softmax_exp")));
        OK(dlc_stage_split(st, ax(st, 1), 8, &o, &i));
        OK(dlc_stage_vectorize(st, i));
        OK(dlc_stage_parallel(st, ax(st, 0)));
        OK(dlc_stage_compute_at(stage_named(k.s, "softmax_sum"), st, ax(st, 0)));
        OK(dlc_stage_compute_at(stage_named(k.s, "softmax_max"), st, ax(st, 0)));
        kop_add(b, &k, "softmax scheduled");
        n++;
    }
    /* 10. tensorize: the 4x8xk tile by a C micro-kernel, non-dividing */
    kop_new(&k, "dense:10,21,11");
    {
        dlc_stage_t *st = k.out;
        OK(dlc_stage_tile(st, ax(st, 0), ax(st, 1), 4, 8, &mo, &no, &mi, &ni));
        OK(dlc_stage_tensorize(st, mi, &gemm_acc));
        kop_add(b, &k, "tensorize");
        n++;
    }
    /* 11-12. other dtypes */
    static const char *dtypes[] = {"dense:6,10,7:int8", "relu:37:float16"};
    for (int d = 0; d < 2; d++) {
        kop_new(&k, dtypes[d]);
        OK(dlc_stage_split(k.out, ax(k.out, dlc_stage_num_axes(k.out) - 1), 4, &o, &i));
        OK(dlc_stage_vectorize(k.out, i));
        kop_add(b, &k, "dtype");
        n++;
    }
    /* 13-16. random schedules */
    static const uint64_t seeds[] = {5, 11, 23, 40};
    for (int r = 0; r < 4; r++) {
        char spec[128];
        krandom_spec(seeds[r], r % 3, spec, sizeof spec);
        kop_new(&k, spec);
        dlc_strbuf_t log;
        dlc_strbuf_init(&log);
        k.s = krandom_schedule(k.ctx, &k.op, seeds[r], &log);
        if (!k.s) fail_msg("random schedule %llu: %s", (unsigned long long)seeds[r], log.data);
        char what[2048];
        snprintf(what, sizeof what, "random seed %llu, steps:\n%s", (unsigned long long)seeds[r], log.data ? log.data : "");
        dlc_strbuf_free(&log);
        kop_add(b, &k, what);
        n++;
    }
    return n;
}

static void check_target(const char *target) {
    kbatch_t *b = kbatch_new(target, 6);
    assert_non_null(b);
    int n = add_kernels(b, target);
    assert_true(n >= 8);
    int failed = kbatch_run(b);
    fprintf(stderr, "%s: %d kernels, %d failed\n", target, n, failed);
    kbatch_destroy(&b);
    assert_int_equal(failed, 0);
}

static void test_aarch64(void **state) {
    (void)state;
    dlc_target_t t;
    OK(dlc_target_parse("llvm -device=arm_cpu -mtriple=aarch64-linux-gnu", &t));
    assert_int_equal(t.arch, DLC_ARCH_AARCH64);
    assert_false(t.is_host);
    assert_non_null(strstr(t.exec_wrapper, "qemu-aarch64"));
    check_target("llvm -device=arm_cpu -mtriple=aarch64-linux-gnu");
}

static void test_riscv64(void **state) {
    (void)state;
    dlc_target_t t;
    OK(dlc_target_parse("llvm -mtriple=riscv64-linux-gnu", &t));
    assert_int_equal(t.arch, DLC_ARCH_RISCV64);
    assert_non_null(strstr(t.exec_wrapper, "qemu-riscv64"));
    check_target("llvm -mtriple=riscv64-linux-gnu");
}

/* a wrong kernel is caught under qemu too: a micro-kernel that overwrites a split reduction */
static const dlc_intrin_decl_t gemm_overwrite = {
    "xk_gemm_overwrite",
    "static void xk_gemm_overwrite(int64_t m, int64_t n, int64_t k, float *o, const float *a, const float *b,\n"
    "                              int64_t ldo, int64_t lda, int64_t ldb) {\n"
    "  for (int64_t i = 0; i < m; i++)\n"
    "    for (int64_t j = 0; j < n; j++) {\n"
    "      float acc = 0.0f;\n"
    "      for (int64_t r = 0; r < k; r++) acc += a[i * lda + r] * b[j * ldb + r];\n"
    "      o[i * ldo + j] = acc;\n"
    "    }\n"
    "}\n",
    1};

static void test_wrong_answer_detected(void **state) {
    (void)state;
    kop_t k;
    kop_new(&k, "dense:8,8,12");
    dlc_iter_var_t *mo, *no, *mi, *ni, *ko, *ki;
    dlc_stage_t *st = k.out;
    OK(dlc_stage_tile(st, ax(st, 0), ax(st, 1), 4, 8, &mo, &no, &mi, &ni));
    OK(dlc_stage_split(st, rax(st, 0), 4, &ko, &ki));
    OK(dlc_stage_reorder(st, 6, (dlc_iter_var_t *[]){mo, no, ko, mi, ni, ki}));
    OK(dlc_stage_tensorize(st, mi, &gemm_overwrite));
    kcheck_t r = kcheck_run(k.s, k.op.n_args, k.op.args, 1, "llvm -device=arm_cpu -mtriple=aarch64-linux-gnu");
    assert_int_equal(r.status, DLC_EWRONG);
    assert_false(r.verified);
    dlc_ctx_destroy(&k.ctx);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aarch64),
        cmocka_unit_test(test_riscv64),
        cmocka_unit_test(test_wrong_answer_detected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
