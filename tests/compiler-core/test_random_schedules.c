/* test_random_schedules.c — random valid schedules (kernel_check's
 * krandom_schedule) applied to dense, batch_matmul and conv2d NCHW on small
 * odd shapes, and (krandom_schedule_any) to every operator kind, every one
 * built and checked against its naive reference. A
 * fixed list of seeds; a failure prints the seed, the operator and the steps.
 * DLC_RANDOM_SEEDS=FIRST:COUNT runs other seeds (to search for bugs);
 * DLC_RANDOM_PRINT=1 prints every schedule. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "kernel_check.h"

#define DEFAULT_FIRST 1
#define DEFAULT_COUNT 300

static void seed_range(uint64_t *first, uint64_t *count) {
    *first = DEFAULT_FIRST;
    *count = DEFAULT_COUNT;
    const char *e = getenv("DLC_RANDOM_SEEDS");
    unsigned long long f, c;
    if (e && sscanf(e, "%llu:%llu", &f, &c) == 2) {
        *first = f;
        *count = c;
    }
}

/* Adds the schedule of `seed` to the batch; returns 1 if it could not be made.
 * any: krandom_schedule_any instead of krandom_schedule. */
static int add_seed(kbatch_t *b, uint64_t seed, int kind, int any) {
    char spec[128];
    krandom_spec(seed, kind, spec, sizeof spec);
    dlc_ctx_t *ctx = dlc_ctx_new();
    dlc_op_spec_t sp;
    dlc_op_t op;
    if (dlc_op_parse(spec, &sp) < 0 || dlc_op_build(ctx, &sp, &op) < 0) {
        fprintf(stderr, "FAILED seed %llu: %s: %s\n", (unsigned long long)seed, spec, dlc_last_error());
        dlc_ctx_destroy(&ctx);
        return 1;
    }
    dlc_strbuf_t log;
    dlc_strbuf_init(&log);
    dlc_schedule_t *s = any ? krandom_schedule_any(ctx, &op, seed, &log) : krandom_schedule(ctx, &op, seed, &log);
    char *what = NULL;
    size_t n = strlen(spec) + (log.data ? log.len : 0) + 64;
    what = malloc(n);
    assert_non_null(what);
    snprintf(what, n, "seed %llu, %s, steps:\n%s", (unsigned long long)seed, spec, log.data ? log.data : "  (none)\n");
    dlc_strbuf_free(&log);
    if (getenv("DLC_RANDOM_PRINT")) fprintf(stderr, "%s", what);
    int bad = 0;
    if (!s) {
        fprintf(stderr, "FAILED %s", what);
        dlc_ctx_destroy(&ctx);
        bad = 1;
    } else {
        bad = kbatch_add(b, ctx, s, op.n_args, op.args, op.n_outputs, what) < 0;
    }
    free(what);
    return bad;
}

static void run_kind(int kind) {
    uint64_t first, count;
    seed_range(&first, &count);
    kbatch_t *b = kbatch_new(NULL, 8);
    assert_non_null(b);
    int failed = 0, made = 0;
    for (uint64_t seed = first; seed < first + count; seed++) {
        if ((int)(seed % 3) != kind) continue;
        failed += add_seed(b, seed, kind, 0);
        made++;
    }
    failed += kbatch_run(b);
    kbatch_destroy(&b);
    fprintf(stderr, "%d random %s schedules, %d failed\n", made, kind == 0 ? "dense" : kind == 1 ? "batch_matmul" : "conv2d",
            failed);
    assert_int_equal(failed, 0);
    assert_true(made >= (int)(count / 3));
}

/* every operator kind, multi-stage graphs (softmax, avg pool, transposed conv) included */
static void test_random_any_op(void **state) {
    (void)state;
    uint64_t first, count;
    seed_range(&first, &count);
    count = count / 3;
    kbatch_t *b = kbatch_new(NULL, 8);
    assert_non_null(b);
    int failed = 0;
    for (uint64_t seed = first; seed < first + count; seed++) failed += add_seed(b, seed, (int)(seed % 9), 1);
    failed += kbatch_run(b);
    kbatch_destroy(&b);
    fprintf(stderr, "%llu random schedules of any operator, %d failed\n", (unsigned long long)count, failed);
    assert_int_equal(failed, 0);
}

static void test_random_dense(void **state) {
    (void)state;
    run_kind(0);
}
static void test_random_batch_matmul(void **state) {
    (void)state;
    run_kind(1);
}
static void test_random_conv2d(void **state) {
    (void)state;
    run_kind(2);
}

/* the generator is deterministic: the same seed gives the same steps */
static void test_deterministic(void **state) {
    (void)state;
    char a[128], b[128];
    krandom_spec(17, 2, a, sizeof a);
    krandom_spec(17, 2, b, sizeof b);
    assert_string_equal(a, b);
    dlc_strbuf_t la, lb;
    dlc_strbuf_init(&la);
    dlc_strbuf_init(&lb);
    for (int rep = 0; rep < 2; rep++) {
        dlc_ctx_t *ctx = dlc_ctx_new();
        dlc_op_spec_t sp;
        dlc_op_t op;
        assert_int_equal(dlc_op_parse(a, &sp), 0);
        assert_int_equal(dlc_op_build(ctx, &sp, &op), 0);
        assert_non_null(krandom_schedule(ctx, &op, 17, rep ? &lb : &la));
        dlc_ctx_destroy(&ctx);
    }
    assert_string_equal(la.data ? la.data : "", lb.data ? lb.data : "");
    dlc_strbuf_free(&la);
    dlc_strbuf_free(&lb);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_random_dense),
        cmocka_unit_test(test_random_batch_matmul),
        cmocka_unit_test(test_random_conv2d),
        cmocka_unit_test(test_random_any_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
