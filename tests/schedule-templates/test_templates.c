/* test_templates.c — every template: tasks from TVM args and from --op specs,
 * then sampled configs instantiated, built and checked against the naive
 * reference (odd and non-dividing shapes included); invalid configs give
 * DLC_EINSTANTIATE, never a crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <cmocka.h>
#include "../compiler-core/kernel_check.h"
#include "compiler-core/dlc_module.h"
#include "schedule-templates/dlc_space.h"

/* Adds up to n sampled configs of a task to the batch; returns how many were added. */
static int sample_into(kbatch_t *b, dlc_task_t *task, int n, uint64_t seed, int *n_inst_err) {
    dlc_space_t *sp = dlc_task_space(task);
    dlc_space_sampler_t *smp = dlc_space_sampler_new(sp, seed);
    assert_non_null(smp);
    int added = 0;
    int64_t idx;
    while (added < n && dlc_space_sampler_next(smp, &idx) == 0) {
        dlc_config_t *cfg;
        assert_int_equal(dlc_space_get(sp, idx, &cfg), 0);
        dlc_ctx_t *ctx = dlc_ctx_new();
        dlc_op_t op;
        dlc_schedule_t *s;
        int rc = dlc_task_instantiate(task, cfg, ctx, &op, &s);
        if (rc == DLC_EINSTANTIATE) {
            (*n_inst_err)++;
            dlc_ctx_destroy(&ctx);
        } else {
            if (rc < 0) fprintf(stderr, "%s config %lld: %s\n", dlc_task_template(task)->name, (long long)idx, dlc_last_error());
            assert_int_equal(rc, 0);
            char what[256];
            json_t *e = dlc_config_to_entity_json(cfg);
            char *es = json_dumps(e, JSON_COMPACT);
            snprintf(what, sizeof what, "%s #%lld %s", dlc_task_template(task)->name, (long long)idx, es);
            free(es);
            json_decref(e);
            assert_int_equal(kbatch_add(b, ctx, s, op.n_args, op.args, op.n_outputs, what), 0);
            added++;
        }
        dlc_config_destroy(&cfg);
    }
    dlc_space_sampler_destroy(&smp);
    return added;
}

#define ARM_TARGET "llvm -device=arm_cpu -mtriple=aarch64-linux-gnu"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU seconds of this process and its finished children (the compilers, the runners) */
static double cpu_s(void) {
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    getrusage(RUSAGE_CHILDREN, &b);
    return (double)(a.ru_utime.tv_sec + a.ru_stime.tv_sec + b.ru_utime.tv_sec + b.ru_stime.tv_sec) +
           1e-6 * (double)(a.ru_utime.tv_usec + a.ru_stime.tv_usec + b.ru_utime.tv_usec + b.ru_stime.tv_usec);
}

/* Builds and checks per_spec sampled configs of template `name` for each spec
 * on `target` (NULL: the host); asserts at least `min_total` were checked.
 * per_unit: kernels per translation unit (larger units: fewer compiler runs). */
static void check_template_on(const char *name, const char *target, const char *const *specs, int n_specs,
                              int per_spec, int min_total, int per_unit) {
    dlc_target_t t;
    assert_int_equal(dlc_target_parse(target ? target : "llvm", &t), 0);
    kbatch_t *b = kbatch_new(target, per_unit);
    assert_non_null(b);
    int total = 0, inst_err = 0;
    for (int i = 0; i < n_specs; i++) {
        dlc_op_spec_t spec;
        if (dlc_op_parse(specs[i], &spec) < 0) fprintf(stderr, "%s: %s\n", specs[i], dlc_last_error());
        assert_int_equal(dlc_op_parse(specs[i], &spec), 0);
        dlc_task_t *task;
        int rc = dlc_task_from_spec(&spec, name, &t, &task);
        if (rc < 0) fprintf(stderr, "%s %s: %s\n", name, specs[i], dlc_last_error());
        assert_int_equal(rc, 0);
        assert_true(dlc_space_size(dlc_task_space(task)) >= 1);
        assert_true(dlc_task_flops(task) > 0);
        total += sample_into(b, task, per_spec, 1000 + (uint64_t)i, &inst_err);
        dlc_task_destroy(&task);
    }
    assert_true(total >= min_total);
    double wall = now_s(), cpu = cpu_s();
    assert_int_equal(kbatch_run(b), 0);
    kbatch_destroy(&b);
    fprintf(stderr, "  %s%s%s: %d configs built and checked (%d rejected as INSTANTIATION_ERROR), %.1f s, %.1f s CPU\n",
            name, target ? " on " : "", target ? target : "", total, inst_err, now_s() - wall, cpu_s() - cpu);
}

static void check_template(const char *name, const char *const *specs, int n_specs, int per_spec) {
    check_template_on(name, NULL, specs, n_specs, per_spec, 100, 10);
}

static void test_conv2d_nchwc_x86(void **state) {
    (void)state;
    static const char *specs[] = {"conv2d:1,8,9,9,16,3,3,1,1", "conv2d:1,6,11,7,12,3,3,2,1", "conv2d:1,4,7,7,8,1,1,1,0",
                                  "conv2d:2,3,13,13,4,5,5,2,2", "conv2d:1,16,5,5,6,1,1,2,0"};
    check_template("conv2d_NCHWc.x86", specs, 5, 24);
    /* dlc's: ow/oh tails (tiles over an extended output, extra padding),
     * strides, 1x1, dilation 2, 12 output channels (not a lane multiple) */
    static const char *tiled[] = {"conv2d:1,8,9,9,16,3,3,1,1", "conv2d:1,6,11,7,12,3,3,2,1", "conv2d:1,4,7,7,8,1,1,1,0",
                                  "conv2d:2,3,13,13,8,5,5,2,2", "conv2d:1,16,5,5,24,1,1,2,0",
                                  "conv2d:1,8,10,10,8,3,3,1,2,2"};
    check_template("conv2d_tiled.x86", tiled, 6, 20);
}

static void test_dense_x86(void **state) {
    (void)state;
    static const char *specs[] = {"dense:12,20,16", "dense:1,30,24", "dense:9,7,15", "dense:16,32,8"};
    check_template("dense_nopack.x86", specs, 4, 30);
    check_template("dense_pack.x86", specs, 4, 30);
    /* dlc's: primes and 1 give row, panel and block tails; N 7 and 30 pad the last panel */
    static const char *tiled[] = {"dense:13,7,11", "dense:1,30,24", "dense:9,37,16", "dense:17,20,5"};
    check_template("dense_tiled.cpu", tiled, 4, 30);
}

static void test_batch_matmul_x86(void **state) {
    (void)state;
    static const char *specs[] = {"batch_matmul:2,12,20,16", "batch_matmul:3,7,9,5", "batch_matmul:1,16,8,24",
                                  "batch_matmul:2,18,10,12"};
    check_template("batch_matmul.x86", specs, 4, 36);
}

/* A task built from TVM args as they stand in TopHub's llvm log. */
static void test_task_from_tvm_args(void **state) {
    (void)state;
    dlc_target_t t;
    assert_int_equal(dlc_target_parse("llvm -mcpu=skylake-avx512", &t), 0);
    json_error_t je;
    json_t *args = json_loads("[[\"TENSOR\", [1, 64, 56, 56], \"float32\"], [\"TENSOR\", [64, 64, 3, 3], \"float32\"], "
                              "[1, 1], [1, 1, 1, 1], [1, 1], \"NCHW\", \"NCHW\", \"float32\"]", 0, &je);
    assert_non_null(args);
    dlc_task_t *task;
    assert_int_equal(dlc_task_create("conv2d_NCHWc.x86", args, &t, &task), 0);
    /* the record's entity is found at the record's index */
    json_t *e = json_loads("[[\"tile_ic\", \"sp\", [1, 64]], [\"tile_oc\", \"sp\", [2, 32]], [\"tile_ow\", \"sp\", [8, 7]], "
                           "[\"unroll_kw\", \"ot\", true]]", 0, &je);
    dlc_config_t *cfg;
    assert_int_equal(dlc_config_from_entity_json(dlc_task_space(task), e, &cfg), 0);
    assert_int_equal(dlc_config_index(cfg), 188);
    assert_true(dlc_task_flops(task) == 2.0 * 64 * 56 * 56 * 64 * 9);
    dlc_config_destroy(&cfg);
    json_decref(e);
    /* an entity the template cannot take (tile_ic 5 does not divide 64) is rejected, not instantiated */
    e = json_loads("[[\"tile_ic\", \"sp\", [-1, 5]], [\"tile_oc\", \"sp\", [2, 32]], [\"tile_ow\", \"sp\", [8, 7]], "
                   "[\"unroll_kw\", \"ot\", true]]", 0, &je);
    cfg = NULL;
    assert_int_equal(dlc_config_from_entity_json(dlc_task_space(task), e, &cfg), DLC_ENOTFOUND);
    assert_null(cfg);
    json_decref(e);
    dlc_task_destroy(&task);
    /* bad args name the problem */
    json_t *bad = json_loads("[[\"TENSOR\", [1, 64, 56], \"float32\"], [\"TENSOR\", [64, 64, 3, 3], \"float32\"], "
                             "[1, 1], [1, 1, 1, 1], [1, 1], \"NCHW\", \"NCHW\", \"float32\"]", 0, &je);
    assert_int_equal(dlc_task_create("conv2d_NCHWc.x86", bad, &t, &task), DLC_EINVAL);
    assert_null(task);
    assert_int_equal(dlc_task_create("no_such.x86", args, &t, &task), DLC_ENOTFOUND);
    json_decref(bad);
    json_decref(args);
}

/* Every operator of the --op grammar has a template on every CPU target, and
 * each candidate builds a task for a small spec and instantiates its config 0
 * (or rejects it as INSTANTIATION_ERROR). */
static void test_candidates(void **state) {
    (void)state;
    static const char *targets[] = {"llvm", "llvm -mcpu=skylake-avx512", ARM_TARGET,
                                    "llvm -mtriple=riscv64-linux-gnu"};
    static const char *specs[DLC_OPK_COUNT] = {
        [DLC_OPK_DENSE] = "dense:5,7,9",
        [DLC_OPK_BATCH_MATMUL] = "batch_matmul:2,5,7,9",
        [DLC_OPK_CONV2D] = "conv2d:1,4,7,7,6,3,3,1,1",
        [DLC_OPK_CONV2D_NCHWC] = "conv2d_nchwc:1,8,7,7,8,3,3,1,1,4,4",
        [DLC_OPK_DEPTHWISE_CONV2D] = "depthwise_conv2d:1,6,7,7,3,3,1,1",
        [DLC_OPK_CONV2D_TRANSPOSE] = "conv2d_transpose:1,4,5,5,6,3,3,2,1",
        [DLC_OPK_POOL2D] = "pool2d:1,3,7,7,3,3,2,1,max",
        [DLC_OPK_SOFTMAX] = "softmax:3,10",
        [DLC_OPK_RELU] = "relu:33",
        [DLC_OPK_BIAS_RELU] = "bias_relu:3,10",
    };
    for (size_t ti = 0; ti < sizeof targets / sizeof *targets; ti++) {
        dlc_target_t t;
        assert_int_equal(dlc_target_parse(targets[ti], &t), 0);
        int is_arm = strstr(targets[ti], "arm_cpu") != NULL, is_x86 = t.arch == DLC_ARCH_X86_64 && !is_arm;
        for (int k = 0; k < DLC_OPK_COUNT; k++) {
            const dlc_template_t *c[16];
            int n = dlc_template_candidates((dlc_opk_t)k, &t, c, 16);
            if (n < 1) fprintf(stderr, "no template for %s on %s\n", dlc_op_name((dlc_opk_t)k), targets[ti]);
            assert_true(n >= 1);
            assert_string_equal(c[n - 1]->key, "cpu"); /* a generic one comes last */
            for (int i = 0; i < n; i++) {
                assert_int_equal(c[i]->op, k);
                if (!is_x86) assert_true(strcmp(c[i]->key, "x86") != 0);
                if (!is_arm) assert_true(strcmp(c[i]->key, "arm_cpu") != 0);
                dlc_op_spec_t spec;
                assert_int_equal(dlc_op_parse(specs[k], &spec), 0);
                dlc_task_t *task;
                int rc = dlc_task_from_spec(&spec, c[i]->name, &t, &task);
                if (rc < 0) fprintf(stderr, "%s %s: %s\n", c[i]->name, specs[k], dlc_last_error());
                assert_int_equal(rc, 0);
                dlc_config_t *cfg;
                assert_int_equal(dlc_space_get(dlc_task_space(task), 0, &cfg), 0);
                dlc_ctx_t *ctx = dlc_ctx_new();
                dlc_op_t op;
                dlc_schedule_t *s;
                rc = dlc_task_instantiate(task, cfg, ctx, &op, &s);
                if (rc < 0 && rc != DLC_EINSTANTIATE) fprintf(stderr, "%s: %s\n", c[i]->name, dlc_last_error());
                assert_true(rc == 0 || rc == DLC_EINSTANTIATE);
                dlc_ctx_destroy(&ctx);
                dlc_config_destroy(&cfg);
                dlc_task_destroy(&task);
            }
        }
    }
    /* TVM's order: the arm_cpu template first, then the generic one; dense on arm gets TVM's x86 templates */
    dlc_target_t arm;
    assert_int_equal(dlc_target_parse(ARM_TARGET, &arm), 0);
    const dlc_template_t *c[8];
    assert_true(dlc_template_candidates(DLC_OPK_CONV2D, &arm, c, 8) >= 2);
    assert_string_equal(c[0]->name, "conv2d_nchw_spatial_pack.arm_cpu");
    assert_string_equal(c[1]->name, "conv2d_nchw_winograd.arm_cpu"); /* plevel 5 after spatial_pack's 10 */
    assert_true(dlc_template_candidates(DLC_OPK_DENSE, &arm, c, 8) == 4);
    assert_string_equal(c[0]->name, "dense_tiled.cpu");
    assert_string_equal(c[1]->name, "dense_pack.x86");
    assert_string_equal(c[2]->name, "dense_nopack.x86");
    assert_string_equal(c[3]->name, "dense.generic");
}

/* ---- the TVM templates added for x86 and arm_cpu ---- */
/* small outputs (at most 6 wide, 6 channels): fully unrolled register tiles stay cheap to compile */
static const char *const conv_specs[] = {
    "conv2d:1,3,4,4,4,3,3,1,1", "conv2d:1,4,7,7,4,3,3,2,1", "conv2d:1,2,6,5,6,3,3,1,1,2",
    "conv2d:1,5,5,5,3,1,1,1,0", "conv2d:2,3,7,5,4,3,3,2,0",
};
/* the last one has tiles of 17, which depthwise_conv2d_nchw.arm_cpu will not unroll */
static const char *const dw_specs[] = {
    "depthwise_conv2d:1,6,7,7,3,3,1,1", "depthwise_conv2d:1,8,7,9,3,3,2,1", "depthwise_conv2d:1,4,8,8,3,3,1,2,2",
    "depthwise_conv2d:2,6,5,5,5,5,1,2", "depthwise_conv2d:1,2,17,17,3,3,1,1",
};
static const char *const convt_specs[] = {
    "conv2d_transpose:1,4,2,2,4,3,3,2,1", "conv2d_transpose:1,3,2,2,4,4,4,2,2,1", "conv2d_transpose:1,6,4,4,4,1,1,1,0",
    "conv2d_transpose:1,2,2,3,3,3,3,1,0", "conv2d_transpose:2,3,2,2,2,3,3,3,1,2",
};

static void test_spatial_pack_arm(void **state) {
    (void)state;
    check_template("conv2d_nchw_spatial_pack.arm_cpu", conv_specs, 5, 22);
}
static void test_depthwise_arm(void **state) {
    (void)state;
    check_template("depthwise_conv2d_nchw.arm_cpu", dw_specs, 5, 22);
}
static void test_conv2d_transpose_arm(void **state) {
    (void)state;
    check_template("conv2d_transpose_nchw.arm_cpu", convt_specs, 5, 22);
}
static void test_depthwise_x86(void **state) {
    (void)state;
    check_template("depthwise_conv2d_NCHWc.x86", dw_specs, 5, 22);
}
static void test_conv2d_transpose_x86(void **state) {
    (void)state;
    check_template("conv2d_transpose_nchw.x86", convt_specs, 5, 22);
}

/* ---- conv2d_nchw_winograd.arm_cpu ----
 * Its kernels are large: TVM's schedule unrolls the 6x6 input and 4x4 output
 * transforms fully (1296 + 576 statements), about 0.5 s of GCC per config.
 * P = N·⌈H/4⌉·⌈W/4⌉ is 9 in the last spec, so VP (a factor of P, the vector
 * axis) takes widths that are not powers of two (3, 9: vectors of 2 + 1 and
 * 8 + 1 lanes). */
static const char *const wg_specs[] = {
    "conv2d:1,1,7,7,5,3,3,1,1", "conv2d:2,3,5,5,7,3,3,1,1", "conv2d:1,5,13,2,3,3,3,1,1",
    "conv2d:1,2,6,5,2,3,3,1,0", "conv2d:1,3,15,7,4,3,3,1,1", "conv2d:1,2,11,9,3,3,3,1,1",
};
static void test_winograd_arm(void **state) {
    (void)state;
    check_template_on("conv2d_nchw_winograd.arm_cpu", NULL, wg_specs, 6, 17, 100, 5);
}

/* G of topi's winograd_util for F(4x4, 3x3) (points 0, -1, 1, 1/2, -2): U = GgGᵀ */
static const double wg_G[6][3] = {{1, 0, 0}, {-1 / 3., 1 / 3., -1 / 3.}, {1 / 3., 1 / 3., 1 / 3.},
                                  {-16 / 15., -8 / 15., -4 / 15.}, {1 / 15., -2 / 15., 4 / 15.}, {0, 0, 1}};

typedef struct {
    const char *args, *entity;
} wg_case_t;

static float frand(uint64_t *s) { return (float)(dlc_space_rand64(s) >> 40) * (2.0f / 16777216.0f) - 1.0f; }

/* Runs kernel `fn` of m on random data and kernel g (U = GgGᵀ made here) and
 * compares with the direct convolution; returns the largest error relative
 * to 1 + |expected|. */
static double wg_run_direct(dlc_module_t *m, const char *fn, const dlc_op_t *op, const dlc_conv_params_t *p) {
    const dlc_tensor_t *td = op->args[0], *tu = op->args[1], *to = op->args[2];
    const int64_t *ds = td->shape, *us = tu->shape, *os = to->shape;
    int64_t N = ds[0], C = ds[1], IH = ds[2], IW = ds[3], K = os[1], OH = os[2], OW = os[3], VK = us[4];
    float *d = malloc(sizeof *d * (size_t)dlc_tensor_size(td)), *u = malloc(sizeof *u * (size_t)dlc_tensor_size(tu));
    float *o = malloc(sizeof *o * (size_t)dlc_tensor_size(to)), *g = malloc(sizeof *g * (size_t)(K * C * 9));
    assert_true(d && u && o && g);
    uint64_t rng = 7;
    for (int64_t i = 0; i < dlc_tensor_size(td); i++) d[i] = frand(&rng);
    for (int64_t i = 0; i < K * C * 9; i++) g[i] = frand(&rng);
    for (int64_t k = 0; k < K; k++) /* U [6, 6, K/VK, C, VK] */
        for (int64_t c = 0; c < C; c++)
            for (int e = 0; e < 6; e++)
                for (int n = 0; n < 6; n++) {
                    double acc = 0;
                    for (int r = 0; r < 3; r++)
                        for (int s = 0; s < 3; s++) acc += wg_G[e][r] * g[(k * C + c) * 9 + r * 3 + s] * wg_G[n][s];
                    u[(((e * 6 + n) * (K / VK) + k / VK) * C + c) * VK + k % VK] = (float)acc;
                }
    DLTensor t[3];
    const dlc_tensor_t *ts[3] = {td, tu, to};
    void *data[3] = {d, u, o};
    for (int i = 0; i < 3; i++) {
        memset(&t[i], 0, sizeof t[i]);
        t[i].data = data[i];
        t[i].device.device_type = kDLCPU;
        t[i].ndim = ts[i]->ndim;
        t[i].shape = (int64_t *)ts[i]->shape;
        dlc_dtype_dlpack(ts[i]->dtype, &t[i].dtype.code, &t[i].dtype.bits);
        t[i].dtype.lanes = 1;
    }
    if (dlc_module_call(m, fn, t, 3) < 0) fail_msg("%s: %s", fn, dlc_last_error());
    double worst = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < K; k++)
            for (int64_t y = 0; y < OH; y++)
                for (int64_t x = 0; x < OW; x++) {
                    double want = 0;
                    for (int64_t c = 0; c < C; c++)
                        for (int r = 0; r < 3; r++)
                            for (int s = 0; s < 3; s++) {
                                int64_t iy = y + r - p->pad_top, ix = x + s - p->pad_left;
                                if (iy >= 0 && ix >= 0 && iy < IH && ix < IW)
                                    want += (double)d[((n * C + c) * IH + iy) * IW + ix] * g[(k * C + c) * 9 + r * 3 + s];
                            }
                    double err = fabs(o[((n * K + k) * OH + y) * OW + x] - want) / (1 + fabs(want));
                    if (!(err <= worst)) worst = err; /* NaN too */
                }
    free(d), free(u), free(o), free(g);
    return worst;
}

/* The transforms themselves: a few configs (batch 2 with VP spanning both
 * images, asymmetric padding, C = 1, K prime) and their naive references run
 * in this process with U = GgGᵀ of a random kernel g, against the direct
 * convolution. F(4x4, 3x3) in float32 loses more than a direct sum (the
 * transforms scale by up to 8 before they cancel; ~5e-6 of 1 + |expected|
 * here): 1e-4 allows for other vector widths and FMA contraction, and a wrong
 * transform entry is off by order 1. */
static void test_winograd_direct(void **state) {
    (void)state;
    static const wg_case_t cases[] = {
        {"[[\"TENSOR\", [2, 3, 5, 5], \"float32\"], [\"TENSOR\", [3, 3, 3, 3], \"float32\"], [1, 1], [1, 1, 1, 1], [1, 1], \"float32\"]",
         "[[\"tile_p\", \"sp\", [-1, 8]], [\"tile_k\", \"sp\", [-1, 3]], [\"tile_c\", \"sp\", [-1, 3]], "
         "[\"ann_reduce\", \"an\", [\"unroll\"]], [\"ann_spatial\", \"an\", [\"unroll\", \"vec\"]]]"},
        {"[[\"TENSOR\", [1, 1, 7, 7], \"float32\"], [\"TENSOR\", [5, 1, 3, 3], \"float32\"], [1, 1], [0, 1, 1, 0], [1, 1], \"float32\"]",
         "[[\"tile_p\", \"sp\", [-1, 2]], [\"tile_k\", \"sp\", [-1, 5]], [\"tile_c\", \"sp\", [-1, 1]], "
         "[\"ann_reduce\", \"an\", [\"none\"]], [\"ann_spatial\", \"an\", [\"vec\", \"none\"]]]"},
        {"[[\"TENSOR\", [1, 4, 13, 2], \"float32\"], [\"TENSOR\", [2, 4, 3, 3], \"float32\"], [1, 1], [1, 1, 1, 1], [1, 1], \"float32\"]",
         "[[\"tile_p\", \"sp\", [-1, 4]], [\"tile_k\", \"sp\", [-1, 1]], [\"tile_c\", \"sp\", [-1, 2]], "
         "[\"ann_reduce\", \"an\", [\"unroll\"]], [\"ann_spatial\", \"an\", [\"none\", \"unroll\"]]]"},
        {"[[\"TENSOR\", [3, 2, 3, 3], \"float32\"], [\"TENSOR\", [7, 2, 3, 3], \"float32\"], [1, 1], [1, 1, 1, 1], [1, 1], \"float32\"]",
         "[[\"tile_p\", \"sp\", [-1, 1]], [\"tile_k\", \"sp\", [-1, 7]], [\"tile_c\", \"sp\", [-1, 2]], "
         "[\"ann_reduce\", \"an\", [\"none\"]], [\"ann_spatial\", \"an\", [\"vec\", \"none\"]]]"},
    };
    enum { NC = sizeof cases / sizeof cases[0] };
    double wall = now_s();
    dlc_target_t tgt;
    assert_int_equal(dlc_target_parse("llvm -device=arm_cpu", &tgt), 0);
    dlc_ctx_t *ctx[NC];
    dlc_op_t op[NC];
    dlc_conv_params_t prm[NC];
    dlc_lowered_func_t *funcs[2 * NC];
    for (int i = 0; i < NC; i++) {
        json_t *args = dlc_json_parse(cases[i].args, strlen(cases[i].args));
        json_t *ent = dlc_json_parse(cases[i].entity, strlen(cases[i].entity));
        dlc_task_t *task;
        dlc_config_t *cfg;
        assert_int_equal(dlc_task_create("conv2d_nchw_winograd.arm_cpu", args, &tgt, &task), 0);
        if (dlc_config_from_entity_json(dlc_task_space(task), ent, &cfg) < 0) fail_msg("case %d: %s", i, dlc_last_error());
        ctx[i] = dlc_ctx_new();
        dlc_schedule_t *s;
        if (dlc_task_instantiate(task, cfg, ctx[i], &op[i], &s) < 0) fail_msg("case %d: %s", i, dlc_last_error());
        assert_true(op[i].flops == dlc_task_flops(task)); /* TVM's add_flop: the direct convolution's count */
        prm[i] = dlc_task_workload(task)->conv;
        char fn[16], ref[16];
        snprintf(fn, sizeof fn, "wg%d", i);
        snprintf(ref, sizeof ref, "wg%d_ref", i);
        assert_int_equal(dlc_lower(s, fn, 3, op[i].args, 1, &funcs[2 * i]), 0);
        assert_int_equal(dlc_lower_reference(ctx[i], ref, 3, op[i].args, 1, &funcs[2 * i + 1]), 0);
        dlc_config_destroy(&cfg);
        dlc_task_destroy(&task);
        json_decref(args);
        json_decref(ent);
    }
    dlc_strbuf_t c;
    dlc_strbuf_init(&c);
    assert_int_equal(dlc_codegen_c(funcs, 2 * NC, &tgt, &c), 0);
    dlc_build_result_t br;
    if (dlc_build_so(c.data, c.len, &tgt, &br) < 0) fail_msg("build: %s", dlc_last_error());
    dlc_strbuf_free(&c);
    dlc_module_t *m = dlc_module_load(br.so_path);
    assert_non_null(m);
    double worst = 0;
    for (int i = 0; i < 2 * NC; i++) {
        double e = wg_run_direct(m, funcs[i]->name, &op[i / 2], &prm[i / 2]);
        if (!(e <= 1e-4)) fail_msg("%s (case %d): relative error %g against the direct convolution", funcs[i]->name, i / 2, e);
        if (e > worst) worst = e;
    }
    dlc_module_destroy(&m);
    for (int i = 0; i < NC; i++) dlc_ctx_destroy(&ctx[i]);
    fprintf(stderr, "  conv2d_nchw_winograd.arm_cpu: %d configs and their references match the direct convolution "
                    "(largest error %.2g of 1 + |expected|), %.1f s\n", NC, worst, now_s() - wall);
}

/* Where TVM's arm_cpu strategy does not offer winograd (a kernel other than
 * 3x3, stride or dilation other than 1, integer data) the task still has its
 * space, and every config is an INSTANTIATION_ERROR. */
static void test_winograd_rejects(void **state) {
    (void)state;
    static const char *const specs[] = {"conv2d:1,4,9,9,4,5,5,1,2", "conv2d:1,4,9,9,4,3,3,2,1",
                                        "conv2d:1,4,9,9,4,3,3,1,2,2", "conv2d:1,4,9,9,4,3,3,1,1:int8:int32"};
    dlc_target_t t;
    assert_int_equal(dlc_target_parse(ARM_TARGET, &t), 0);
    for (int i = 0; i < 4; i++) {
        dlc_op_spec_t spec;
        assert_int_equal(dlc_op_parse(specs[i], &spec), 0);
        dlc_task_t *task;
        assert_int_equal(dlc_task_from_spec(&spec, "conv2d_nchw_winograd.arm_cpu", &t, &task), 0);
        dlc_space_t *sp = dlc_task_space(task);
        for (int64_t idx = 0; idx < dlc_space_size(sp) && idx < 40; idx += 7) {
            dlc_config_t *cfg;
            assert_int_equal(dlc_space_get(sp, idx, &cfg), 0);
            dlc_ctx_t *ctx = dlc_ctx_new();
            dlc_op_t op;
            dlc_schedule_t *s;
            assert_int_equal(dlc_task_instantiate(task, cfg, ctx, &op, &s), DLC_EINSTANTIATE);
            assert_non_null(strstr(dlc_last_error(), "winograd"));
            assert_null(s);
            dlc_ctx_destroy(&ctx);
            dlc_config_destroy(&cfg);
        }
        dlc_task_destroy(&task);
    }
}

/* a few configs of each arm_cpu template cross-compiled for aarch64 and run under qemu */
static void test_arm_templates_aarch64(void **state) {
    (void)state;
    check_template_on("conv2d_nchw_spatial_pack.arm_cpu", ARM_TARGET, conv_specs, 3, 2, 5, 8);
    check_template_on("depthwise_conv2d_nchw.arm_cpu", ARM_TARGET, dw_specs, 3, 2, 5, 8);
    check_template_on("conv2d_transpose_nchw.arm_cpu", ARM_TARGET, convt_specs, 3, 2, 5, 8);
    check_template_on("conv2d_nchw_winograd.arm_cpu", ARM_TARGET, wg_specs, 3, 1, 3, 8);
}

/* ---- generic templates ---- */
static void test_generic_conv(void **state) {
    (void)state;
    /* the spaces are small: wider outputs give the 100 configs */
    static const char *conv[] = {conv_specs[0], conv_specs[1], conv_specs[2], conv_specs[3], conv_specs[4],
                                 "conv2d:1,2,5,33,8,3,3,1,1", "conv2d:1,3,4,20,16,1,1,1,0"};
    check_template_on("conv2d_nchw.generic", NULL, conv, 7, 18, 100, 20);
    static const char *dw[] = {dw_specs[0], dw_specs[1], dw_specs[2], dw_specs[3], dw_specs[4],
                               "depthwise_conv2d:1,16,4,33,3,3,1,1"};
    check_template_on("depthwise_conv2d_nchw.generic", NULL, dw, 6, 22, 100, 20);
    static const char *convt[] = {convt_specs[0], convt_specs[1], convt_specs[2], convt_specs[3], convt_specs[4],
                                  "conv2d_transpose:1,2,3,17,8,3,3,2,1", "conv2d_transpose:1,3,2,9,16,3,3,2,1,1"};
    check_template_on("conv2d_transpose_nchw.generic", NULL, convt, 7, 22, 100, 20);
    static const char *nchwc[] = {"conv2d_nchwc:1,8,7,7,8,3,3,1,1,4,4", "conv2d_nchwc:1,6,9,5,12,3,3,2,1,3,2",
                                  "conv2d_nchwc:1,4,6,6,16,1,1,1,0,2,2", "conv2d_nchwc:2,2,5,7,6,3,3,1,0,1,3",
                                  "conv2d_nchwc:1,4,11,13,16,3,3,1,1,4,4", "conv2d_nchwc:1,3,17,19,4,3,3,1,1,1,2",
                                  "conv2d_nchwc:1,2,9,23,5,3,3,2,1,2,1"};
    check_template_on("conv2d_NCHWc.generic", NULL, nchwc, 7, 18, 100, 20);
}

static void test_generic_other(void **state) {
    (void)state;
    static const char *dense[] = {"dense:12,20,16", "dense:1,30,24", "dense:9,7,15", "dense:17,33,5"};
    check_template_on("dense.generic", NULL, dense, 4, 30, 100, 20);
    static const char *bmm[] = {"batch_matmul:2,12,20,16", "batch_matmul:3,7,9,5", "batch_matmul:1,17,33,6"};
    check_template_on("batch_matmul.generic", NULL, bmm, 3, 40, 100, 20);
    static const char *pool[] = {"pool2d:1,3,9,9,3,3,2,1,max", "pool2d:1,2,11,7,2,2,2,0,avg", "pool2d:2,3,13,21,3,3,1,1,avg",
                                 "pool2d:1,4,17,33,3,3,2,1,max", "pool2d:1,2,40,70,2,3,1,0,max", "pool2d:1,2,30,67,3,2,1,1,avg",
                                 "pool2d:1,1,8,100,1,1,1,0,avg", "pool2d:1,2,6,129,3,3,1,1,max"};
    check_template_on("pool2d.generic", NULL, pool, 8, 14, 100, 20);
    static const char *softmax[] = {"softmax:3,10", "softmax:5,33", "softmax:2,100", "softmax:4,129", "softmax:1,7",
                                    "softmax:7,70", "softmax:3,257", "softmax:2,40", "softmax:6,19", "softmax:2,64"};
    check_template_on("softmax.generic", NULL, softmax, 10, 14, 100, 20);
    static const char *relu[] = {"relu:33", "relu:100", "relu:257", "relu:7"};
    check_template_on("relu.generic", NULL, relu, 4, 40, 100, 20);
    static const char *br[] = {"bias_relu:3,10", "bias_relu:5,33", "bias_relu:2,100", "bias_relu:4,129", "bias_relu:1,7",
                               "bias_relu:7,70", "bias_relu:3,257", "bias_relu:2,40", "bias_relu:6,19", "bias_relu:2,64"};
    check_template_on("bias_relu.generic", NULL, br, 10, 14, 100, 20);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_task_from_tvm_args),
        cmocka_unit_test(test_candidates),
        cmocka_unit_test(test_conv2d_nchwc_x86),
        cmocka_unit_test(test_dense_x86),
        cmocka_unit_test(test_batch_matmul_x86),
        cmocka_unit_test(test_spatial_pack_arm),
        cmocka_unit_test(test_winograd_arm),
        cmocka_unit_test(test_winograd_direct),
        cmocka_unit_test(test_winograd_rejects),
        cmocka_unit_test(test_depthwise_arm),
        cmocka_unit_test(test_conv2d_transpose_arm),
        cmocka_unit_test(test_depthwise_x86),
        cmocka_unit_test(test_conv2d_transpose_x86),
        cmocka_unit_test(test_arm_templates_aarch64),
        cmocka_unit_test(test_generic_conv),
        cmocka_unit_test(test_generic_other),
    };
    /* the kernels run once each, for their answer: OpenMP threads that spin
     * while waiting cost more than the kernels on a loaded machine */
    setenv("OMP_WAIT_POLICY", "passive", 0);
    if (getenv("DLC_TEST_FILTER")) cmocka_set_test_filter(getenv("DLC_TEST_FILTER")); /* e.g. "test_generic*" */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
