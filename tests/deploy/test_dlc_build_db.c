/* test_dlc_build_db.c — dlc-build --db applies the best tuned config of the
 * op's task (the best TopHub record's entity), and with no record falls back
 * to the default schedule with one warning naming the task. */
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

static char dbpath[256];

static int setup(void **state) {
    (void)state;
    snprintf(dbpath, sizeof dbpath, "/tmp/dlc-build-db-%d.db", (int)getpid());
    unlink(dbpath);
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
    char p[300];
    unlink(dbpath);
    snprintf(p, sizeof p, "%s-wal", dbpath);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", dbpath);
    unlink(p);
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

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tuned_config_applied),
        cmocka_unit_test(test_fallback_warns_once),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
