/* test_dlc_build.c — runs the built dlc-build binary as a user would and
 * checks its exit codes, messages, JSON report and artifacts. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "support/dlc_support.h"

#include "cli_run.h"

#define AARCH64 "llvm -device=arm_cpu -mtriple=aarch64-linux-gnu"

/* --run --json on spec/target: exit 0, verified, positive GFLOP/s, every key. */
static void expect_verified(const char *spec, const char *target) {
    run_t r = dlc_build("--op", spec, "--target", target, "--run", "--json", "--repeat", "2", NULL);
    expect_exit(&r, 0, spec);
    json_t *j = parse_report(&r, spec);
    static const char *keys[] = {"op",       "target", "entry",       "so",      "code_hash", "compile_ms",
                                 "cache_hit", "verified", "max_abs_err", "mean_ms", "gflops",    "costs", "number"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (json_object_get(j, keys[i]) == NULL) {
            fprintf(stderr, "%s: key '%s' missing in %s\n", spec, keys[i], r.out);
            fail();
        }
    int verified = 0;
    double gflops = 0, err = -1;
    const char *op = NULL;
    assert_int_equal(dlc_json_get_bool(j, "verified", &verified), 0);
    assert_int_equal(dlc_json_get_double(j, "gflops", &gflops), 0);
    assert_int_equal(dlc_json_get_double(j, "max_abs_err", &err), 0);
    assert_int_equal(dlc_json_get_string(j, "op", &op), 0);
    assert_true(verified);
    assert_true(gflops > 0);
    assert_true(err >= 0 && err < 1e-2);
    assert_string_equal(op, spec);
    assert_null(json_object_get(j, "error"));
    assert_int_equal(json_array_size(json_object_get(j, "costs")), 2);
    assert_int_equal(access(json_string_value(json_object_get(j, "so")), R_OK), 0);
    json_decref(j);
    run_free(&r);
}

static void test_dense_run_json(void **state) {
    (void)state;
    expect_verified("dense:33,17,9", "llvm");
}

static void test_conv2d_pool2d(void **state) {
    (void)state;
    expect_verified("conv2d:1,3,17,19,5,3,3,1,1", "llvm");
    expect_verified("pool2d:1,3,13,11,3,3,2,1,max", "llvm");
    expect_verified("pool2d:2,4,8,8,2,2,2,0,avg", "llvm");
    expect_verified("depthwise_conv2d:1,5,13,11,3,3,1,1", "llvm");
}

static void test_human_output(void **state) {
    (void)state;
    run_t r = dlc_build("--op", "dense:7,13,5", "--run", "--print-ir", "--print-c", NULL);
    expect_exit(&r, 0, "human output");
    expect_contains(r.out, "verified", "human output");
    expect_contains(r.out, "GFLOP/s", "human output");
    expect_contains(r.out, "for ", "--print-ir");
    expect_contains(r.out, "dense_7_13_5__desc", "--print-c");
    run_free(&r);
}

static void test_bad_spec(void **state) {
    (void)state;
    run_t r = dlc_build("--op", "dense:1,x", "--run", NULL);
    expect_exit(&r, 2, "bad spec");
    expect_contains(r.err, "dense:1,x", "bad spec");
    expect_contains(r.err, "--help", "bad spec");
    assert_string_equal(r.out, "");
    run_free(&r);

    r = dlc_build("--op", "conv2d:1,1,3,3,1,5,5,1,0", NULL); /* kernel larger than the input */
    expect_exit(&r, 2, "impossible conv2d");
    expect_contains(r.err, "conv2d:1,1,3,3,1,5,5,1,0", "impossible conv2d");
    run_free(&r);

    r = dlc_build("--op", "frob:1", "--json", NULL); /* --json: the error is also the one JSON object */
    expect_exit(&r, 2, "unknown op --json");
    json_t *j = parse_report(&r, "unknown op --json");
    const char *msg = NULL;
    assert_int_equal(dlc_json_get_string(j, "error", &msg), 0);
    expect_contains(msg, "frob", "unknown op --json");
    json_decref(j);
    run_free(&r);
}

static void test_bad_target(void **state) {
    (void)state;
    run_t r = dlc_build("--op", "dense:4,4,4", "--target", "llvmx", NULL);
    expect_exit(&r, 2, "bad target");
    expect_contains(r.err, "llvmx", "bad target");
    run_free(&r);
}

static void test_bad_flags(void **state) {
    (void)state;
    run_t r = dlc_build("--op", "dense:4,4,4", "--frobnicate", NULL);
    expect_exit(&r, 2, "unknown flag");
    expect_contains(r.err, "--frobnicate", "unknown flag");
    run_free(&r);

    r = dlc_build("--op", NULL);
    expect_exit(&r, 2, "missing value");
    expect_contains(r.err, "--op", "missing value");
    run_free(&r);

    r = dlc_build("--run", NULL);
    expect_exit(&r, 2, "missing --op");
    expect_contains(r.err, "--op", "missing --op");
    run_free(&r);

    r = dlc_build("--op", "dense:4,4,4", "--repeat", "zero", NULL);
    expect_exit(&r, 2, "bad --repeat");
    expect_contains(r.err, "--repeat", "bad --repeat");
    run_free(&r);
}

static void test_help_version(void **state) {
    (void)state;
    run_t r = dlc_build("--help", NULL);
    expect_exit(&r, 0, "--help");
    expect_contains(r.out, "conv2d:", "--help");
    expect_contains(r.out, "pool2d:", "--help");
    expect_contains(r.out, "--target", "--help");
    run_free(&r);
    r = dlc_build("--version", NULL);
    expect_exit(&r, 0, "--version");
    expect_contains(r.out, "dlc-build", "--version");
    run_free(&r);
}

/* A compiler error is the kernel failing (exit 1), not a usage error. */
static void test_compile_error(void **state) {
    (void)state;
    run_t r = dlc_build("--op", "dense:4,4,4", "--target", "llvm -mcpu=no-such-cpu", "--json", NULL);
    expect_exit(&r, 1, "compile error");
    json_t *j = parse_report(&r, "compile error");
    const char *msg = NULL;
    assert_int_equal(dlc_json_get_string(j, "error", &msg), 0);
    expect_contains(msg, "compile", "compile error");
    json_decref(j);
    run_free(&r);
}

static void test_output_artifact(void **state) {
    (void)state;
    char dir[] = "/tmp/dlc-build-test-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char so[256], manifest[256];
    snprintf(so, sizeof so, "%s/x.so", dir);
    snprintf(manifest, sizeof manifest, "%s/x.json", dir);
    run_t r = dlc_build("--op", "dense:8,8,8", "-o", so, "--json", NULL);
    expect_exit(&r, 0, "-o");
    assert_int_equal(access(so, R_OK), 0);

    char *text = NULL;
    size_t len = 0;
    assert_int_equal(dlc_file_read(manifest, &text, &len), 0);
    json_t *m = dlc_json_parse(text, len);
    assert_non_null(m);
    const char *entry = NULL, *ref = NULL, *target = NULL, *hash = NULL;
    double flops = 0;
    assert_int_equal(dlc_json_get_string(m, "entry", &entry), 0);
    assert_int_equal(dlc_json_get_string(m, "ref", &ref), 0);
    assert_int_equal(dlc_json_get_string(m, "target", &target), 0);
    assert_int_equal(dlc_json_get_string(m, "code_hash", &hash), 0);
    assert_int_equal(dlc_json_get_double(m, "flops", &flops), 0);
    assert_string_equal(entry, "dense_8_8_8");
    assert_string_equal(ref, "dense_8_8_8_ref");
    assert_string_equal(target, "llvm");
    assert_int_equal(strlen(hash), 64);
    assert_true(flops == 2.0 * 8 * 8 * 8);
    json_t *args = json_object_get(m, "args");
    assert_int_equal(json_array_size(args), 3);
    json_t *out = json_array_get(args, 2);
    assert_string_equal(json_string_value(json_object_get(out, "dtype")), "float32");
    assert_int_equal(json_array_size(json_object_get(out, "shape")), 2);
    assert_true(json_is_true(json_object_get(out, "output")));

    json_t *rep = parse_report(&r, "-o");
    assert_string_equal(json_string_value(json_object_get(rep, "code_hash")), hash);
    json_decref(rep);
    json_decref(m);
    free(text);
    run_free(&r);
    unlink(so);
    unlink(manifest);
    rmdir(dir);
}

static void test_cross_aarch64(void **state) {
    (void)state;
    expect_verified("dense:33,17,9", AARCH64);
    expect_verified("conv2d:1,3,9,9,4,3,3,2,1", AARCH64);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_run_json), cmocka_unit_test(test_conv2d_pool2d),
        cmocka_unit_test(test_human_output),   cmocka_unit_test(test_bad_spec),
        cmocka_unit_test(test_bad_target),     cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_help_version),   cmocka_unit_test(test_compile_error),
        cmocka_unit_test(test_output_artifact), cmocka_unit_test(test_cross_aarch64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
