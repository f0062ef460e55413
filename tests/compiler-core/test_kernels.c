/* test_kernels.c — every operator with its default schedule, on odd shapes,
 * checked against the naive reference. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include "kernel_check.h"
#include "schedule-templates/dlc_templates.h"

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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_schedules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
