/* test_dlc_build_db.c — dlc-build --db applies the best tuned config of the
 * op's task (the best TopHub record's entity); with an empty db it takes
 * TopHub's record (the built-in fallback) unless the user's db has one, and
 * with neither (or --no-tophub, DLC_NO_TOPHUB, a missing TopHub folder) it
 * builds the default schedule with one warning naming the task. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include "cli_run.h"
#include "db/dlc_db.h"
#include "schedule-templates/dlc_space.h"

static char dbpath[256], emptypath[256], userpath[256];

static void unlink_db(const char *path) {
    char p[300];
    unlink(path);
    snprintf(p, sizeof p, "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", path);
    unlink(p);
}

static int setup(void **state) {
    (void)state;
    snprintf(dbpath, sizeof dbpath, "/tmp/dlc-build-db-%d.db", (int)getpid());
    snprintf(emptypath, sizeof emptypath, "/tmp/dlc-build-db-%d-empty.db", (int)getpid());
    snprintf(userpath, sizeof userpath, "/tmp/dlc-build-db-%d-user.db", (int)getpid());
    unlink(dbpath);
    unsetenv("DLC_NO_TOPHUB");
    unsetenv("DLC_TOPHUB_DIR");
    const char *src = getenv("DLC_SOURCE_DIR");
    char log[1024];
    snprintf(log, sizeof log, "%s/../shared/data/tophub/llvm_v0.04.log", src ? src : ".");
    if (access(log, R_OK) != 0) {
        fprintf(stderr, "TopHub log not found at %s (../shared beside the repo)\n", log);
        return -1;
    }
    dlc_db_t *db = dlc_db_open(dbpath, 0);
    if (!db) return -1;
    dlc_db_import_t st;
    int rc = dlc_db_import_file(db, log, NULL, &st);
    dlc_db_close(&db);
    return rc;
}

static int teardown(void **state) {
    (void)state;
    unlink_db(dbpath);
    unlink_db(emptypath);
    unlink_db(userpath);
    return 0;
}

static void test_tuned_config_applied(void **state) {
    (void)state;
    /* TopHub's record for this workload: index 188, tile_ow [8, 7], unroll_kw true */
    run_t r = dlc_build("--op", "conv2d:1,64,56,56,64,3,3,1,1", "--target", "llvm -mcpu=skylake-avx512", "--db", dbpath,
                        "--json", NULL);
    expect_exit(&r, 0, "build with --db");
    json_t *j = parse_report(&r, "--db report");
    assert_string_equal(json_string_value(json_object_get(j, "template")), "conv2d_NCHWc.x86");
    assert_true(json_is_true(json_object_get(j, "tuned")));
    json_t *cfg = json_object_get(j, "config");
    assert_int_equal(json_integer_value(json_object_get(cfg, "index")), 188);
    char *e = json_dumps(json_object_get(cfg, "entity"), JSON_COMPACT);
    assert_non_null(strstr(e, "[\"tile_ow\",\"sp\",[-1,7]]"));
    assert_non_null(strstr(e, "[\"unroll_kw\",\"ot\",true]"));
    free(e);
    json_decref(j);
    run_free(&r);
}

static void test_fallback_warns_once(void **state) {
    (void)state;
    run_t r = dlc_build("--op", "dense:24,40,16", "--db", dbpath, "--run", "--json", NULL);
    expect_exit(&r, 0, "fallback build");
    json_t *j = parse_report(&r, "fallback report");
    assert_true(json_is_false(json_object_get(j, "tuned")));
    assert_true(json_is_true(json_object_get(j, "verified")));
    expect_contains(r.err, "no tuned config for dense", "fallback warning");
    const char *first = strstr(r.err, "no tuned config");
    assert_null(strstr(first + 1, "no tuned config")); /* once */
    json_decref(j);
    run_free(&r);
    /* an unusable database is a warning too, never a failed build */
    r = dlc_build("--op", "dense:8,8,8", "--db", "/nonexistent/dir/x.db", NULL);
    expect_exit(&r, 0, "missing db");
    expect_contains(r.err, "x.db", "missing db warning names the database");
    run_free(&r);
}

#define RESNET_CONV "conv2d:1,64,56,56,64,3,3,1,1"
#define SKYLAKE "llvm -mcpu=skylake-avx512"

/* Builds RESNET_CONV for skylake with --db path (and extra, may be NULL):
 * the report, its config_source checked, the config's entity as text in
 * entity (cap bytes; "" without a template). */
static json_t *build_conv(const char *path, const char *extra, const char *source, char *entity, size_t cap,
                          run_t *r) {
    *r = extra ? dlc_build("--op", RESNET_CONV, "--target", SKYLAKE, "--db", path, extra, "--json", NULL)
               : dlc_build("--op", RESNET_CONV, "--target", SKYLAKE, "--db", path, "--json", NULL);
    expect_exit(r, 0, "build with --db");
    json_t *j = parse_report(r, "--db report");
    const char *got = json_string_value(json_object_get(j, "config_source"));
    if (!got || strcmp(got, source) != 0)
        fail_msg("config_source '%s', want '%s'; stderr: %s", got ? got : "(none)", source, r->err);
    char *e = json_dumps(json_object_get(json_object_get(j, "config"), "entity"), JSON_COMPACT);
    snprintf(entity, cap, "%s", e ? e : "");
    free(e);
    return j;
}

static void test_tophub_fallback(void **state) {
    (void)state;
    dlc_db_t *db = dlc_db_open(emptypath, 0);
    assert_non_null(db);
    dlc_db_close(&db);
    /* TopHub's best record for the conv: the one the db built from TopHub picks */
    char want[1024], got[1024];
    run_t r;
    json_t *j = build_conv(dbpath, NULL, "db", want, sizeof want, &r);
    json_decref(j);
    run_free(&r);
    j = build_conv(emptypath, NULL, "tophub", got, sizeof got, &r);
    assert_string_equal(got, want);
    assert_true(json_is_true(json_object_get(j, "tuned")));
    assert_string_equal(json_string_value(json_object_get(j, "record_target")), SKYLAKE);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "config"), "index")), 188);
    assert_null(strstr(r.err, "no tuned config"));
    json_decref(j);
    run_free(&r);
    /* the text output says where the config came from */
    r = dlc_build("--op", RESNET_CONV, "--target", SKYLAKE, "--db", emptypath, NULL);
    expect_exit(&r, 0, "text build");
    expect_contains(r.out, "TopHub's pre-tuned record", "text names TopHub");
    run_free(&r);

    /* the user's record wins over TopHub's, even a slower one */
    db = dlc_db_open(userpath, 0);
    assert_non_null(db);
    dlc_record_t rec;
    const char *line =
        "{\"input\": [\"llvm -mcpu=skylake-avx512\", \"conv2d_NCHWc.x86\", [[\"TENSOR\", [1, 64, 56, 56], \"float32\"], "
        "[\"TENSOR\", [64, 64, 3, 3], \"float32\"], [1, 1], [1, 1, 1, 1], [1, 1], \"NCHW\", \"NCHW\", \"float32\"], {}], "
        "\"config\": {\"index\": 12, \"code_hash\": null, \"entity\": [[\"tile_ic\", \"sp\", [-1, 8]], [\"tile_oc\", "
        "\"sp\", [-1, 16]], [\"tile_ow\", \"sp\", [-1, 8]], [\"unroll_kw\", \"ot\", false]]}, \"result\": [[1.0], 0, "
        "2.0, 1700000000.0], \"version\": 0.2, \"tvm_version\": \"0.8.0\"}";
    assert_int_equal(dlc_record_parse(line, strlen(line), &rec), 0);
    assert_int_equal(dlc_db_add(db, &rec, NULL, NULL), 0);
    dlc_record_clear(&rec);
    dlc_db_close(&db);
    j = build_conv(userpath, NULL, "db", got, sizeof got, &r);
    assert_string_equal(got, "[[\"tile_ic\",\"sp\",[-1,8]],[\"tile_oc\",\"sp\",[-1,16]],[\"tile_ow\",\"sp\",[-1,8]],"
                             "[\"unroll_kw\",\"ot\",false]]");
    json_decref(j);
    run_free(&r);

    /* switched off (flag or environment), or missing: the default and one
     * warning per task; a missing folder is a note, never a failure */
    for (int k = 0; k < 3; k++) {
        if (k == 1)
            setenv("DLC_NO_TOPHUB", "1", 1);
        if (k == 2)
            setenv("DLC_TOPHUB_DIR", "/nonexistent/tophub", 1);
        j = build_conv(emptypath, k == 0 ? "--no-tophub" : NULL, "default", got, sizeof got, &r);
        unsetenv("DLC_NO_TOPHUB");
        unsetenv("DLC_TOPHUB_DIR");
        assert_true(json_is_false(json_object_get(j, "tuned")));
        expect_contains(r.err, "no tuned config for conv2d_tiled.x86", "fallback warning"); /* the first candidate */
        const char *first = strstr(r.err, "no tuned config");
        assert_null(strstr(first + 1, "no tuned config"));
        if (k < 2) {
            assert_null(strstr(r.err, "TopHub"));
        } else {
            expect_contains(r.err, "no TopHub fallback: TopHub folder /nonexistent/tophub", "missing TopHub note");
            expect_contains(r.err, "TopHub unavailable", "warning says TopHub had nothing");
        }
        json_decref(j);
        run_free(&r);
    }
    r = dlc_build("--op", "dense:8,8,8", "--no-tophub", NULL);
    expect_exit(&r, 2, "--no-tophub without --db");
    run_free(&r);
}

/* Without --template, every candidate template's best record competes (the
 * op is the same, so the costs compare): the faster one is built. */
static void add_line(const char *path, const char *tmpl, const char *entity, double cost) {
    char line[2048];
    snprintf(line, sizeof line,
             "{\"input\": [\"llvm -mcpu=skylake-avx512\", \"%s\", [[\"TENSOR\", [1, 64, 56, 56], \"float32\"], "
             "[\"TENSOR\", [64, 64, 3, 3], \"float32\"], [1, 1], [1, 1, 1, 1], [1, 1], \"NCHW\", \"NCHW\", "
             "\"float32\"], {}], \"config\": {\"index\": 0, \"code_hash\": null, \"entity\": %s}, "
             "\"result\": [[%g], 0, 2.0, 1700000000.0], \"version\": 0.2, \"tvm_version\": \"0.8.0\"}",
             tmpl, entity, cost);
    dlc_db_t *db = dlc_db_open(path, 0);
    assert_non_null(db);
    dlc_record_t rec;
    assert_int_equal(dlc_record_parse(line, strlen(line), &rec), 0);
    assert_int_equal(dlc_db_add(db, &rec, NULL, NULL), 0);
    dlc_record_clear(&rec);
    dlc_db_close(&db);
}

static void test_best_template_wins(void **state) {
    (void)state;
    char path[256];
    snprintf(path, sizeof path, "/tmp/dlc-build-db-%d-both.db", (int)getpid());
    unlink_db(path);
    static const char *nchwc = "[[\"tile_ic\", \"sp\", [-1, 8]], [\"tile_oc\", \"sp\", [-1, 16]], "
                               "[\"tile_ow\", \"sp\", [-1, 8]], [\"unroll_kw\", \"ot\", false]]";
    static const char *tiled = "[[\"tile\", \"ot\", [4, 7, 16]], [\"tile_ic\", \"sp\", [-1, 8]], "
                               "[\"unroll_kw\", \"ot\", false]]";
    add_line(path, "conv2d_NCHWc.x86", nchwc, 1.0);
    add_line(path, "conv2d_tiled.x86", tiled, 2.0); /* slower: TVM's template is built */
    for (int pass = 0; pass < 2; pass++) {
        run_t r = dlc_build("--op", RESNET_CONV, "--target", SKYLAKE, "--db", path, "--no-tophub", "--json", NULL);
        expect_exit(&r, 0, "build with both templates tuned");
        json_t *j = parse_report(&r, "--db report");
        assert_string_equal(json_string_value(json_object_get(j, "template")),
                            pass ? "conv2d_tiled.x86" : "conv2d_NCHWc.x86");
        assert_true(json_is_true(json_object_get(j, "tuned")));
        json_decref(j);
        run_free(&r);
        if (!pass) add_line(path, "conv2d_tiled.x86", tiled, 0.5); /* now dlc's is faster */
    }
    unlink_db(path);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tuned_config_applied),
        cmocka_unit_test(test_best_template_wins),
        cmocka_unit_test(test_fallback_warns_once),
        cmocka_unit_test(test_tophub_fallback),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
