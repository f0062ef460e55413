/* test_dlc_replay.c — dlc-build --replay: TopHub's llvm log rebuilt and
 * verified record by record, a subset of the arm_cpu log under qemu-aarch64
 * (for the arm templates the registry has), and hand-made logs with
 * malformed lines, unknown tasks, index mismatches and bad entities. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "schedule-templates/dlc_space.h"
#include "schedule-templates/dlc_templates.h"

#include "cli_run.h"

static char g_tophub[1024];

/* The TopHub logs beside the repository ($DLC_SOURCE_DIR/../shared/data/tophub,
 * or $DLC_TOPHUB_DIR); a clear failure when they are missing. */
static const char *tophub(const char *file) {
    static char path[1200];
    const char *dir = getenv("DLC_TOPHUB_DIR"), *src = getenv("DLC_SOURCE_DIR");
    if (dir)
        snprintf(g_tophub, sizeof g_tophub, "%s", dir);
    else
        snprintf(g_tophub, sizeof g_tophub, "%s/../shared/data/tophub", src ? src : DLC_SOURCE_DIR);
    snprintf(path, sizeof path, "%s/%s", g_tophub, file);
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "TopHub log %s is missing: the tests expect ../shared/data/tophub beside the repository "
                        "(or DLC_TOPHUB_DIR)\n", path);
        fail();
    }
    return path;
}

static const json_t *summary_of(const json_t *lines) {
    const json_t *last = json_array_get(lines, json_array_size(lines) - 1);
    const json_t *s = json_object_get(last, "summary");
    assert_non_null(s);
    return s;
}

static int64_t ival(const json_t *o, const char *key) {
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v)) {
        fprintf(stderr, "key '%s' missing or not an integer\n", key);
        fail();
    }
    return json_integer_value(v);
}

/* Every record of llvm_v0.04.log: built, run, checked, found at its index. */
static void test_replay_llvm_verify(void **state) {
    (void)state;
    if (!dlc_template_find("conv2d_NCHWc.x86"))
        skip();
    const char *log = tophub("llvm_v0.04.log");
    run_t r = dlc_build("--replay", log, "--verify", "--json", NULL);
    json_t *lines = parse_lines(&r, "llvm replay");
    if (r.exit_code != 0)
        fprintf(stderr, "%s\n%s\n", r.out, r.err);
    expect_exit(&r, 0, "llvm replay");
    assert_int_equal(json_array_size(lines), 36);
    for (size_t i = 0; i < 35; i++) {
        const json_t *e = json_array_get(lines, i);
        assert_string_equal(json_string_value(json_object_get(e, "task")), "conv2d_NCHWc.x86");
        assert_string_equal(json_string_value(json_object_get(e, "status")), "ok");
        assert_true(json_is_true(json_object_get(e, "verified")));
        assert_true(json_is_true(json_object_get(e, "index_match")));
        assert_int_equal(ival(e, "index"), ival(e, "dlc_index"));
        assert_int_equal(ival(e, "line"), (int64_t)i + 3); /* two comment lines first */
    }
    const json_t *s = summary_of(lines);
    assert_int_equal(ival(s, "records"), 35);
    assert_int_equal(ival(s, "known"), 35);
    assert_int_equal(ival(s, "built"), 35);
    assert_int_equal(ival(s, "verified"), 35);
    assert_int_equal(ival(s, "index_mismatches"), 0);
    assert_int_equal(json_object_size(json_object_get(s, "errors")), 0);
    json_decref(lines);
    run_free(&r);
}

/* ---- hand-made logs ---- */

/* A small conv2d_NCHWc.x86 record: data 1x8x10x10, kernel 16x8x3x3; the
 * entity's index in dlc's space is SMALL_INDEX. */
#define SMALL_ARGS                                                                                        \
    "[[\"TENSOR\", [1, 8, 10, 10], \"float32\"], [\"TENSOR\", [16, 8, 3, 3], \"float32\"], [1, 1], [1, 1, " \
    "1, 1], [1, 1], \"NCHW\", \"NCHW\", \"float32\"]"
#define SMALL_ENTITY \
    "[[\"tile_ic\", \"sp\", [2, 4]], [\"tile_oc\", \"sp\", [2, 8]], [\"tile_ow\", \"sp\", [2, 5]], [\"unroll_kw\", \"ot\", true]]"

static void record_line(FILE *f, const char *target, const char *task, const char *args, long long index,
                        const char *entity) {
    fprintf(f,
            "{\"input\": [\"%s\", \"%s\", %s, {}], \"config\": {\"index\": %lld, \"code_hash\": null, \"entity\": "
            "%s}, \"result\": [[0.001], 0, 1.0, 1539972731.0], \"version\": 0.2, \"tvm_version\": \"0.7.dev0\"}\n",
            target, task, args, index, entity);
}

static int64_t small_index(void) {
    dlc_target_t t;
    assert_int_equal(dlc_target_parse("llvm", &t), 0);
    json_t *args = dlc_json_parse(SMALL_ARGS, strlen(SMALL_ARGS)), *e = dlc_json_parse(SMALL_ENTITY, strlen(SMALL_ENTITY));
    dlc_task_t *task;
    dlc_config_t *cfg;
    assert_int_equal(dlc_task_create("conv2d_NCHWc.x86", args, &t, &task), 0);
    assert_int_equal(dlc_config_from_entity_json(dlc_task_space(task), e, &cfg), 0);
    int64_t idx = dlc_config_index(cfg);
    dlc_config_destroy(&cfg);
    dlc_task_destroy(&task);
    json_decref(args);
    json_decref(e);
    return idx;
}

static char *temp_log(void) {
    static char path[64];
    snprintf(path, sizeof path, "/tmp/dlc-replay-test-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    return path;
}

/* Malformed lines are reported with file:line and skipped; unknown tasks are
 * skipped and counted by name; an index that differs is counted, not
 * rejected. Lines: 1 comment, 2 ok, 3 not JSON, 4 blank, 5 unknown task,
 * 6 a record without "result", 7 ok with another index. */
static void write_mixed_log(const char *path, int64_t idx) {
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "# a hand-made log\n");
    record_line(f, "llvm -mcpu=skylake-avx512", "conv2d_NCHWc.x86", SMALL_ARGS, idx, SMALL_ENTITY);
    fprintf(f, "{\"input\": [this is not json\n\n");
    record_line(f, "llvm", "conv2d_nchw_winograd.frob", SMALL_ARGS, 3, "[]");
    fprintf(f, "{\"input\": [\"llvm\", \"conv2d_NCHWc.x86\", %s, {}], \"config\": {\"index\": 1, \"code_hash\": null, "
               "\"entity\": %s}, \"version\": 0.2}\n", SMALL_ARGS, SMALL_ENTITY);
    record_line(f, "llvm", "conv2d_NCHWc.x86", SMALL_ARGS, idx + 1, SMALL_ENTITY);
    fclose(f);
}

static void test_replay_malformed(void **state) {
    (void)state;
    if (!dlc_template_find("conv2d_NCHWc.x86"))
        skip();
    int64_t idx = small_index();
    char *log = temp_log();
    write_mixed_log(log, idx);
    char where[128];

    run_t r = dlc_build("--replay", log, "--verify", NULL);
    expect_exit(&r, 0, "mixed log");
    snprintf(where, sizeof where, "%s:3:", log);
    expect_contains(r.err, where, "malformed line 3");
    snprintf(where, sizeof where, "%s:6:", log);
    expect_contains(r.err, where, "malformed line 6");
    expect_contains(r.out, "2 malformed lines skipped", "summary");
    expect_contains(r.out, "1 index mismatches", "summary");
    expect_contains(r.out, "skipped: conv2d_nchw_winograd.frob 1", "summary");
    expect_contains(r.out, "2 verified", "summary");
    run_free(&r);

    r = dlc_build("--replay", log, "--verify", "--json", NULL);
    expect_exit(&r, 0, "mixed log --json");
    json_t *lines = parse_lines(&r, "mixed log --json");
    assert_int_equal(json_array_size(lines), 6); /* 2 ok, 2 malformed, 1 skipped, the summary */
    static const struct {
        int64_t line;
        const char *status;
    } want[] = {{2, "ok"}, {3, "malformed"}, {5, "skipped"}, {6, "malformed"}, {7, "ok"}};
    for (size_t i = 0; i < 5; i++) {
        const json_t *e = json_array_get(lines, i);
        assert_int_equal(ival(e, "line"), want[i].line);
        assert_string_equal(json_string_value(json_object_get(e, "status")), want[i].status);
    }
    assert_true(json_is_true(json_object_get(json_array_get(lines, 0), "index_match")));
    assert_true(json_is_false(json_object_get(json_array_get(lines, 4), "index_match")));
    assert_int_equal(ival(json_array_get(lines, 4), "dlc_index"), idx);
    const json_t *s = summary_of(lines);
    assert_int_equal(ival(s, "records"), 3);
    assert_int_equal(ival(s, "known"), 2);
    assert_int_equal(ival(s, "verified"), 2);
    assert_int_equal(ival(s, "malformed"), 2);
    assert_int_equal(ival(s, "index_mismatches"), 1);
    assert_int_equal(ival(json_object_get(s, "skipped"), "conv2d_nchw_winograd.frob"), 1);
    json_decref(lines);
    run_free(&r);

    /* --task and --limit */
    r = dlc_build("--replay", log, "--task", "conv2d_NCHWc.x86", "--limit", "1", "--json", NULL);
    expect_exit(&r, 0, "--task --limit");
    lines = parse_lines(&r, "--task --limit");
    s = summary_of(lines);
    assert_int_equal(ival(s, "known"), 1);
    assert_int_equal(ival(s, "built"), 1);
    assert_true(json_is_true(json_object_get(s, "limit_reached")));
    json_decref(lines);
    run_free(&r);
    unlink(log);
}

/* An entity outside dlc's space: INSTANTIATION_ERROR naming the knob, exit 1. */
static void test_replay_bad_entity(void **state) {
    (void)state;
    if (!dlc_template_find("conv2d_NCHWc.x86"))
        skip();
    char *log = temp_log();
    FILE *f = fopen(log, "w");
    assert_non_null(f);
    record_line(f, "llvm", "conv2d_NCHWc.x86", SMALL_ARGS, 0,
                "[[\"tile_ic\", \"sp\", [-1, 3]], [\"tile_oc\", \"sp\", [2, 8]], [\"tile_ow\", \"sp\", [2, 5]], "
                "[\"unroll_kw\", \"ot\", true]]");
    record_line(f, "llvm", "conv2d_NCHWc.x86", SMALL_ARGS, 0, SMALL_ENTITY);
    fclose(f);
    run_t r = dlc_build("--replay", log, "--json", NULL);
    expect_exit(&r, 1, "bad entity");
    json_t *lines = parse_lines(&r, "bad entity");
    const json_t *e = json_array_get(lines, 0);
    assert_string_equal(json_string_value(json_object_get(e, "status")), "INSTANTIATION_ERROR");
    expect_contains(json_string_value(json_object_get(e, "error")), "tile_ic", "bad entity");
    assert_string_equal(json_string_value(json_object_get(json_array_get(lines, 1), "status")), "ok");
    const json_t *s = summary_of(lines);
    assert_int_equal(ival(json_object_get(s, "errors"), "INSTANTIATION_ERROR"), 1);
    assert_int_equal(ival(s, "built"), 1);
    json_decref(lines);
    run_free(&r);

    r = dlc_build("--replay", log, NULL);
    expect_exit(&r, 1, "bad entity, text");
    expect_contains(r.out, "INSTANTIATION_ERROR", "bad entity, text");
    expect_contains(r.out, "errors: INSTANTIATION_ERROR 1", "bad entity, text");
    run_free(&r);
    unlink(log);
}

/* armv7 records (no armv7 cross compiler here: built for aarch64 with a
 * note) and --target-override, verified under qemu-aarch64. */
static void test_replay_arm_targets(void **state) {
    (void)state;
    if (!dlc_template_find("conv2d_NCHWc.x86"))
        skip();
    char *log = temp_log();
    FILE *f = fopen(log, "w");
    assert_non_null(f);
    record_line(f, "llvm -device=arm_cpu -model=bcm2837 -mtriple=armv7l-linux-gnueabihf -mattr=+neon",
                "conv2d_NCHWc.x86", SMALL_ARGS, small_index(), SMALL_ENTITY);
    fclose(f);
    run_t r = dlc_build("--replay", log, "--verify", "--json", NULL);
    expect_exit(&r, 0, "armv7 record");
    json_t *lines = parse_lines(&r, "armv7 record");
    const json_t *e = json_array_get(lines, 0);
    assert_true(json_is_true(json_object_get(e, "verified")));
    const char *bt = json_string_value(json_object_get(e, "build_target"));
    if (strstr(bt, "aarch64")) /* mapped: the summary says so */
        expect_contains(json_string_value(json_array_get(json_object_get(summary_of(lines), "notes"), 0)), "armv7",
                        "armv7 note");
    json_decref(lines);
    run_free(&r);

    const char *aarch64 = "llvm -device=arm_cpu -mtriple=aarch64-linux-gnu";
    r = dlc_build("--replay", log, "--verify", "--json", "--target-override", aarch64, NULL);
    expect_exit(&r, 0, "--target-override");
    lines = parse_lines(&r, "--target-override");
    e = json_array_get(lines, 0);
    assert_string_equal(json_string_value(json_object_get(e, "build_target")), aarch64);
    assert_true(json_is_true(json_object_get(e, "verified")));
    json_decref(lines);
    run_free(&r);
    unlink(log);
}

/* ---- TopHub's arm_cpu log: the smallest records of each arm task dlc has ---- */

typedef struct {
    double flops;
    char *line;
} pick_t;

static int by_flops(const void *a, const void *b) {
    double x = ((const pick_t *)a)->flops, y = ((const pick_t *)b)->flops;
    return x < y ? -1 : x > y;
}

/* FLOPs of a conv-style record (data, kernel, strides, padding), or 0. */
static double conv_flops(const json_t *args, int depthwise) {
    const json_t *d = json_array_get(json_array_get(args, 0), 1), *k = json_array_get(json_array_get(args, 1), 1);
    const json_t *st = json_array_get(args, 2), *pad = json_array_get(args, 3);
    if (json_array_size(d) != 4 || json_array_size(k) != 4)
        return 0;
    int64_t s = json_is_array(st) ? json_integer_value(json_array_get(st, 0)) : json_integer_value(st);
    int64_t p = json_is_array(pad) ? json_integer_value(json_array_get(pad, 0)) : json_integer_value(pad);
    if (s <= 0)
        return 0;
    double oh = (double)((json_integer_value(json_array_get(d, 2)) + 2 * p - json_integer_value(json_array_get(k, 2))) / s + 1);
    double ow = (double)((json_integer_value(json_array_get(d, 3)) + 2 * p - json_integer_value(json_array_get(k, 3))) / s + 1);
    double ch = depthwise ? 1 : (double)json_integer_value(json_array_get(d, 1));
    return 2.0 * (double)json_integer_value(json_array_get(k, 0)) * oh * ow * ch *
           (double)(json_integer_value(json_array_get(k, 2)) * json_integer_value(json_array_get(k, 3)));
}

static void test_replay_arm_tophub(void **state) {
    (void)state;
    static const char *const tasks[] = {"conv2d_nchw_spatial_pack.arm_cpu", "depthwise_conv2d_nchw.arm_cpu",
                                        "conv2d_nchw_winograd.arm_cpu"};
    enum { N_TASKS = sizeof tasks / sizeof tasks[0], PER_TASK = 3, LIMIT = 10 };
    const char *src = tophub("arm_cpu_v0.08.log");
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(dlc_file_read(src, &text, &len), 0);
    char *log = temp_log();
    FILE *f = fopen(log, "w");
    assert_non_null(f);
    int known = 0;
    for (int t = 0; t < N_TASKS; t++) {
        if (!dlc_template_find(tasks[t])) {
            fprintf(stderr, "note: %s is not registered yet: its records are not replayed\n", tasks[t]);
            continue;
        }
        pick_t *picks = NULL;
        int n = 0;
        char *save = NULL;
        for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            dlc_record_t rec;
            if (line[0] == '#' || dlc_record_parse(line, strlen(line), &rec) < 0)
                continue;
            if (strcmp(rec.task_name, tasks[t]) == 0) {
                picks = realloc(picks, sizeof *picks * (size_t)(n + 1));
                picks[n].flops = conv_flops(rec.args, t == 1);
                picks[n++].line = line;
            }
            dlc_record_clear(&rec);
        }
        qsort(picks, (size_t)n, sizeof *picks, by_flops);
        for (int i = 0, w = 0; i < n && w < PER_TASK; i++)
            if (picks[i].flops > 0) {
                fprintf(f, "%s\n", picks[i].line);
                w++;
                known++;
            }
        free(picks);
        free(text); /* strtok_r cut it up: read it again for the next task */
        assert_int_equal(dlc_file_read(src, &text, &len), 0);
    }
    fprintf(f, "%s\n", "# a record of a task dlc does not know (TVM's NNPACK winograd) follows");
    record_line(f, "llvm -device=arm_cpu -model=rk3399 -mtriple=aarch64-linux-gnu", "conv2d_nchw_winograd_nnpack.arm_cpu",
                SMALL_ARGS, 0, "[]");
    fclose(f);
    free(text);
    if (known == 0) {
        unlink(log);
        skip();
    }
    run_t r = dlc_build("--replay", log, "--verify", "--json", "--limit", "10", NULL);
    json_t *lines = parse_lines(&r, "arm replay");
    if (r.exit_code != 0)
        fprintf(stderr, "%s\n%s\n", r.out, r.err);
    expect_exit(&r, 0, "arm replay");
    const json_t *s = summary_of(lines);
    int want = known < LIMIT ? known : LIMIT;
    assert_int_equal(ival(s, "known"), want);
    assert_int_equal(ival(s, "verified"), want);
    assert_true(json_is_true(json_object_get(s, "limit_reached")) == (known >= LIMIT));
    int winograd = 0;
    for (size_t i = 0; i + 1 < json_array_size(lines); i++) {
        const json_t *e = json_array_get(lines, i);
        if (strcmp(json_string_value(json_object_get(e, "status")), "skipped") == 0)
            continue;
        assert_string_equal(json_string_value(json_object_get(e, "status")), "ok");
        assert_string_equal(json_string_value(json_object_get(e, "build_arch")), "aarch64");
        assert_true(json_is_true(json_object_get(e, "index_match")));
        winograd += strcmp(json_string_value(json_object_get(e, "task")), tasks[2]) == 0;
    }
    if (dlc_template_find(tasks[2]))
        assert_int_equal(winograd, PER_TASK);
    if (known < LIMIT)
        assert_int_equal(ival(json_object_get(s, "skipped"), "conv2d_nchw_winograd_nnpack.arm_cpu"), 1);
    json_decref(lines);
    run_free(&r);
    unlink(log);
}

static void test_replay_usage(void **state) {
    (void)state;
    run_t r = dlc_build("--replay", "/nonexistent/x.log", NULL);
    expect_exit(&r, 2, "missing log");
    expect_contains(r.err, "/nonexistent/x.log", "missing log");
    run_free(&r);
    static const char *const bad[][6] = {
        {"--replay", "x.log", "--op", "dense:4,4,4", NULL},
        {"--replay", "x.log", "--target", "llvm", NULL},
        {"--replay", "x.log", "--run", NULL},
        {"--op", "dense:4,4,4", "--verify", NULL},
        {"--op", "dense:4,4,4", "--limit", "3", NULL},
        {"--replay", "x.log", "--limit", "0", NULL},
        {"--replay", "x.log", "--target-override", "llvmx", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        r = dlc_build_argv(bad[i]);
        expect_exit(&r, 2, bad[i][2]);
        run_free(&r);
    }
}

int main(void) {
    run_timeout_s = 900;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_usage),       cmocka_unit_test(test_replay_malformed),
        cmocka_unit_test(test_replay_bad_entity),  cmocka_unit_test(test_replay_arm_targets),
        cmocka_unit_test(test_replay_llvm_verify), cmocka_unit_test(test_replay_arm_tophub),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
