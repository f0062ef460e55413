/* test_tune.c — the tuning run with real kernels: the measure pipeline
 * (several configs per compiler call, every config verified), the driver
 * writing every result to the db, resume after SIGKILL measuring nothing
 * twice, transfer learning from another task, and dlc-tune as a user runs it
 * (usage errors, --json lines and summaries, exit codes). */
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "db/dlc_db.h"
#include "tuner/dlc_tune.h"
#include "../tracker/fleet_procs.h"

static char g_dir[1024];

static const char *scratch(const char *name) {
    static char path[1200];
    snprintf(path, sizeof path, "%s/%s", g_dir, name);
    unlink(path);
    return path;
}

static dlc_measurer_opts_t quick_opts(void) {
    dlc_measurer_opts_t mo;
    dlc_measurer_opts_default(&mo);
    mo.mo.repeat = 1;
    mo.mo.min_repeat_ms = 2;
    mo.mo.threads = 1;
    mo.mo.timeout_s = 20;
    return mo;
}

static dlc_task_t *task_of(const char *spec_text, const char *template_name) {
    dlc_op_spec_t spec;
    dlc_target_t tgt;
    dlc_task_t *task = NULL;
    assert_int_equal(dlc_op_parse(spec_text, &spec), 0);
    assert_int_equal(dlc_target_parse("llvm", &tgt), 0);
    if (dlc_task_from_spec(&spec, template_name, &tgt, &task) < 0)
        fail_msg("%s: %s", spec_text, dlc_last_error());
    return task;
}

/* ---- the measure pipeline ---- */
static int g_seen;
static void count_trial(const dlc_trial_t *t, void *user) {
    (void)t;
    (void)user;
    g_seen++;
}

static void test_measure_batch(void **state) {
    dlc_task_t *task = task_of("dense:7,33,19", "dense_pack.x86"); /* primes: tails everywhere */
    int64_t size = dlc_space_size(dlc_task_space(task));
    assert_true(size > 12);
    int64_t idx[12];
    for (int i = 0; i < 12; i++)
        idx[i] = (i * 7919) % size;
    for (int overlap = 0; overlap <= 1; overlap++) {
        dlc_measurer_opts_t mo = quick_opts();
        mo.group = 3 + overlap; /* 12 = 4 units of 3, or 3 of 4 */
        mo.overlap = overlap;
        mo.build_jobs = 2;
        dlc_measurer_t *m = dlc_measurer_new(&mo);
        assert_non_null(m);
        dlc_trial_t out[12];
        g_seen = 0;
        assert_int_equal(dlc_measurer_run(m, task, idx, 12, out, count_trial, NULL), 0);
        assert_int_equal(g_seen, 12);
        for (int i = 0; i < 12; i++) {
            if (out[i].error_no)
                fail_msg("config %lld: %s: %s", (long long)idx[i], dlc_measure_error_name(out[i].error_no),
                         out[i].message);
            assert_int_equal(out[i].index, idx[i]);
            assert_true(out[i].gflops > 0 && out[i].mean_s > 0);
            assert_true(out[i].n_costs == 1);
        }
        dlc_measurer_stats_t st;
        dlc_measurer_stats(m, &st);
        assert_int_equal(st.trials, 12);
        assert_true(st.builds <= 4 && st.builds >= 1); /* grouped: not one compiler call per config */
        assert_true(st.ref_builds >= 1 && st.ref_builds <= 12); /* one per packed-weight layout */
        dlc_measurer_destroy(&m);
    }
    dlc_task_destroy(&task);
}

/* A task's reference is built once per argument layout in a run, not once
 * per unit: dense_nopack's configs all take the same arguments, and every
 * config must pass against the one reference (test_runtime checks that a
 * linked reference catches a wrong kernel). */
static void test_measure_shares_reference(void **state) {
    dlc_task_t *task = task_of("dense:5,60,42", "dense_nopack.x86");
    int64_t size = dlc_space_size(dlc_task_space(task));
    assert_true(size > 16);
    dlc_measurer_opts_t mo = quick_opts();
    mo.group = 2;
    mo.overlap = 1;
    mo.build_jobs = 2;
    dlc_measurer_t *m = dlc_measurer_new(&mo);
    assert_non_null(m);
    for (int round = 0; round < 2; round++) {
        int64_t idx[8];
        dlc_trial_t out[8];
        for (int i = 0; i < 8; i++)
            idx[i] = (round * 8 + i) * (size / 16);
        assert_int_equal(dlc_measurer_run(m, task, idx, 8, out, NULL, NULL), 0);
        for (int i = 0; i < 8; i++)
            if (out[i].error_no)
                fail_msg("config %lld: %s: %s", (long long)idx[i], dlc_measure_error_name(out[i].error_no),
                         out[i].message);
        dlc_measurer_stats_t st;
        dlc_measurer_stats(m, &st);
        assert_int_equal(st.builds, 4 * (round + 1)); /* units of 2 configs */
        assert_int_equal(st.ref_builds, 1);
    }
    dlc_measurer_destroy(&m);
    dlc_task_destroy(&task);
}

/* ---- the driver and the db ---- */
typedef struct {
    int64_t n;
    double best;
} scan_t;

static int scan(const dlc_record_t *rec, void *user) {
    scan_t *s = user;
    s->n++;
    if (rec->error_no == 0 && rec->n_costs > 0 && (s->best == 0 || rec->costs[0] < s->best))
        s->best = rec->costs[0];
    return 0;
}

static void test_tune_task_stores_every_result(void **state) {
    dlc_db_t *db = dlc_db_open(scratch("driver.db"), 0);
    assert_non_null(db);
    dlc_task_t *task = task_of("dense:8,32,24", "dense_nopack.x86");
    dlc_measurer_opts_t mo = quick_opts();
    dlc_measurer_t *m = dlc_measurer_new(&mo);
    dlc_tune_opts_t to;
    dlc_tune_opts_default(&to);
    to.tuner = DLC_TUNER_RANDOM;
    to.trials = 20;
    to.db = db;
    to.seed = 3;
    dlc_tune_summary_t sum;
    assert_int_equal(dlc_tune_task(task, m, &to, &sum), 0);
    assert_int_equal(sum.trials, 20);
    assert_true(sum.best_gflops > 0);
    assert_non_null(sum.best_entity);
    scan_t s = {0};
    assert_int_equal(dlc_db_records(db, dlc_task_target(task)->str, "dense_nopack.x86", dlc_task_args(task), scan, &s), 0);
    assert_int_equal(s.n, 20);
    /* the summary's best is the db's best: the same cost, and what dlc-build would apply */
    double gflops = dlc_task_flops(task) / s.best / 1e9;
    assert_true(fabs(gflops - sum.best_gflops) <= 1e-6 * gflops);
    dlc_config_t *cfg = NULL;
    assert_int_equal(dlc_db_apply_best(db, task, &cfg, NULL), 0);
    assert_int_equal(dlc_config_index(cfg), sum.best_index);
    dlc_config_destroy(&cfg);
    dlc_tune_summary_clear(&sum);

    /* resume with a larger budget: the 20 stored count, 10 more are measured */
    to.trials = 30;
    to.resume = 1;
    assert_int_equal(dlc_tune_task(task, m, &to, &sum), 0);
    assert_int_equal(sum.resumed, 20);
    assert_int_equal(sum.trials, 10);
    s = (scan_t){0};
    assert_int_equal(dlc_db_records(db, dlc_task_target(task)->str, "dense_nopack.x86", dlc_task_args(task), scan, &s), 0);
    assert_int_equal(s.n, 30);
    dlc_tune_summary_clear(&sum);

    /* early stopping ends a run that stopped improving */
    to.resume = 0;
    to.trials = 400;
    to.early_stopping = 5;
    to.db = NULL;
    assert_int_equal(dlc_tune_task(task, m, &to, &sum), 0);
    assert_true(sum.early_stopped || sum.exhausted);
    assert_true(sum.trials < 400);
    dlc_tune_summary_clear(&sum);
    dlc_measurer_destroy(&m);
    dlc_task_destroy(&task);
    dlc_db_close(&db);
}

/* ---- transfer learning ---- */
static void sum_gflops(const dlc_tune_progress_t *p, const dlc_trial_t *t, void *user) {
    (void)p;
    *(double *)user += t->gflops;
}

/* The mean throughput of the first 16 configs an XGB run measures (failed
 * ones count 0): what its first plan was worth. */
static double first_plan_mean(dlc_task_t *task, dlc_db_t *db, int transfer, uint64_t seed) {
    dlc_measurer_opts_t mo = quick_opts();
    dlc_measurer_t *m = dlc_measurer_new(&mo);
    dlc_tune_opts_t to;
    dlc_tune_opts_default(&to);
    to.trials = 16;
    to.batch = 16;
    to.db = db;
    to.transfer = transfer;
    to.seed = seed;
    double total = 0;
    to.on_trial = sum_gflops;
    to.user = &total;
    dlc_tune_summary_t sum;
    assert_int_equal(dlc_tune_task(task, m, &to, &sum), 0);
    assert_int_equal(sum.trials, 16);
    if (transfer)
        assert_true(sum.history > 0);
    else
        assert_int_equal(sum.history, 0);
    dlc_tune_summary_clear(&sum);
    dlc_measurer_destroy(&m);
    return total / 16;
}

static void test_transfer_helps(void **state) {
    /* history: 96 random configs of one dense layer */
    dlc_db_t *hist = dlc_db_open(scratch("transfer.db"), 0);
    assert_non_null(hist);
    dlc_task_t *a = task_of("dense:16,128,96", "dense_pack.x86");
    dlc_measurer_opts_t mo = quick_opts();
    dlc_measurer_t *m = dlc_measurer_new(&mo);
    dlc_tune_opts_t to;
    dlc_tune_opts_default(&to);
    to.tuner = DLC_TUNER_RANDOM;
    to.trials = 96;
    to.batch = 32;
    to.db = hist;
    dlc_tune_summary_t sum;
    assert_int_equal(dlc_tune_task(a, m, &to, &sum), 0);
    dlc_tune_summary_clear(&sum);
    dlc_measurer_destroy(&m);
    /* a similar layer: the first plan with the history's model against a
     * first plan without it (random, since nothing is measured yet), each
     * into a db of its own so neither sees the other's records */
    dlc_task_t *b = task_of("dense:16,160,112", "dense_pack.x86");
    double with = 0, without = 0;
    for (uint64_t seed = 1; seed <= 2; seed++) {
        with += first_plan_mean(b, hist, 1, seed);
        dlc_db_t *empty = dlc_db_open(scratch("empty.db"), 0);
        without += first_plan_mean(b, empty, 0, seed);
        dlc_db_close(&empty);
    }
    print_message("mean of the first 16 configs (sum of 2 seeds): %.2f GFLOP/s with transfer, %.2f without\n", with,
                  without);
    assert_true(with > without);

    /* the XGB runs stored their model; a db holding only that model starts
     * the next run of the template from it */
    char *kind = NULL;
    void *blob = NULL;
    size_t len = 0;
    assert_int_equal(dlc_db_model_get(hist, "dense_pack.x86", dlc_task_target(b)->str, &kind, &blob, &len), 0);
    assert_string_equal(kind, "xgb-rank-itervar");
    dlc_db_t *only_model = dlc_db_open(scratch("model.db"), 0);
    assert_int_equal(dlc_db_model_put(only_model, "dense_pack.x86", dlc_task_target(b)->str, kind, blob, len), 0);
    dlc_measurer_t *m2 = dlc_measurer_new(&mo);
    to.tuner = DLC_TUNER_XGB;
    to.trials = 16;
    to.batch = 16;
    to.db = only_model;
    assert_int_equal(dlc_tune_task(b, m2, &to, &sum), 0);
    assert_int_equal(sum.history, 0);
    assert_int_equal(sum.model_loaded, 1);
    dlc_tune_summary_clear(&sum);
    dlc_measurer_destroy(&m2);
    dlc_db_close(&only_model);
    free(kind);
    free(blob);
    dlc_task_destroy(&a);
    dlc_task_destroy(&b);
    dlc_db_close(&hist);
}

/* ---- dlc-tune as a user runs it ---- */
typedef struct {
    int code;
    char *out, *err;
} cli_t;

static cli_t cli(const char *first, ...) {
    const char *argv[64] = {DLC_TUNE_EXE};
    int n = 1;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && n < 63; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    dlc_proc_spec_t spec = {.argv = argv, .timeout_s = 300};
    dlc_proc_result_t r;
    assert_int_equal(dlc_proc_run(&spec, &r), 0);
    if (r.term_signal || r.timed_out)
        fail_msg("dlc-tune %s: signal %d, timed out %d\n%s", first, r.term_signal, r.timed_out, r.err);
    cli_t c = {r.exit_code, r.out, r.err};
    return c;
}

static void cli_free(cli_t *c) {
    free(c->out);
    free(c->err);
}

static void test_cli_usage(void **state) {
    cli_t c = cli("--help", NULL);
    assert_int_equal(c.code, 0);
    assert_non_null(strstr(c.out, "--early-stopping"));
    cli_free(&c);
    static const char *const bad[][4] = {
        {"--trials", "5", NULL},                                     /* nothing to tune */
        {"--op", "dense:1,2", NULL},                                 /* bad SPEC */
        {"--op", "dense:8,8,8", "--tuner", "anneal"},                /* unknown tuner */
        {"--op", "dense:8,8,8", "--trials", "0"},                    /* bad budget */
        {"--op", "dense:8,8,8", "--target", "llvm -mcpu"},           /* bad target */
        {"--task", "dense_pack.x86", "--args", "[1,"},               /* bad JSON */
        {"--op", "dense:8,8,8", "--tracker", "127.0.0.1:1"},         /* --tracker without --key */
        {"--op", "dense:8,8,8", "--bogus", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        c = cli(bad[i][0], bad[i][1], bad[i][2], bad[i][3], NULL);
        if (c.code != 2)
            fail_msg("case %zu: exit %d, expected 2; stderr: %s", i, c.code, c.err);
        assert_non_null(strstr(c.err, "dlc-tune: "));
        cli_free(&c);
    }
}

/* --json output: an array of its lines, each parsed (the test fails on one
 * that is not JSON); the caller owns it. */
static json_t *json_lines(char *out) {
    json_t *a = json_array();
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t e;
        json_t *j = json_loads(line, 0, &e);
        if (!j)
            fail_msg("not JSON: %s (%s)", line, e.text);
        json_array_append_new(a, j);
    }
    return a;
}

static void test_cli_json(void **state) {
    const char *db = scratch("cli.db");
    cli_t c = cli("--op", "dense:4,24,16", "--op", "relu:100", "--trials", "6", "--tuner", "random", "--db", db,
                  "--repeat", "1", "--min-repeat-ms", "1", "--threads", "1", "--json", NULL);
    if (c.code != 0)
        fail_msg("exit %d: %s", c.code, c.err);
    int results = 0, summaries = 0;
    json_t *lines = json_lines(c.out), *j;
    size_t i;
    json_array_foreach(lines, i, j) {
        if (json_object_get(j, "best_config")) {
            summaries++;
            assert_int_equal(json_integer_value(json_object_get(j, "trials")), 6);
            assert_true(json_real_value(json_object_get(j, "best_gflops")) > 0);
            assert_true(json_is_array(json_object_get(j, "best_config")));
            assert_true(json_is_object(json_object_get(j, "errors")));
        } else {
            results++;
            assert_non_null(json_object_get(j, "gflops"));
            assert_non_null(json_object_get(j, "config"));
            assert_string_equal(json_string_value(json_object_get(j, "error")), "NO_ERROR");
        }
    }
    json_decref(lines);
    assert_int_equal(results, 12);
    assert_int_equal(summaries, 2);
    cli_free(&c);
}

/* SIGKILL in the middle of a run, then --resume: nothing stored is measured again. */
static int64_t count_records(const char *path) {
    dlc_db_t *db = dlc_db_open(path, DLC_DB_READONLY);
    int64_t n = db ? dlc_db_record_count(db) : 0;
    dlc_db_close(&db);
    return n;
}

/* --template all: one task per candidate template (dlc's, then TVM's; not
 * the .generic fallback), each with the whole budget, all in the db. */
static void test_cli_template_all(void **state) {
    const char *db = scratch("all.db");
    cli_t c = cli("--op", "dense:5,24,16", "--template", "all", "--trials", "4", "--tuner", "random", "--db", db,
                  "--repeat", "1", "--min-repeat-ms", "1", "--threads", "1", "--json", NULL);
    if (c.code != 0)
        fail_msg("exit %d: %s", c.code, c.err);
    const char *want[] = {"dense_tiled.cpu", "dense_pack.x86", "dense_nopack.x86"};
    int summaries = 0;
    json_t *lines = json_lines(c.out), *j;
    size_t i;
    json_array_foreach(lines, i, j) {
        if (json_object_get(j, "best_config")) {
            assert_true(summaries < 3);
            assert_string_equal(json_string_value(json_object_get(j, "task")), want[summaries]);
            assert_int_equal(json_integer_value(json_object_get(j, "trials")), 4);
            summaries++;
        }
    }
    json_decref(lines);
    assert_int_equal(summaries, 3);
    assert_int_equal(count_records(db), 12);
    cli_free(&c);
}


static void test_cli_resume_after_kill(void **state) {
    const char *db = scratch("kill.db");
    char dbp[1200];
    snprintf(dbp, sizeof dbp, "%s", db);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execl(DLC_TUNE_EXE, DLC_TUNE_EXE, "--op", "dense:8,40,24", "--trials", "40", "--tuner", "random", "--batch",
              "4", "--db", dbp, "--repeat", "1", "--min-repeat-ms", "1", "--threads", "1", (char *)NULL);
        _exit(127);
    }
    double t0 = dlc_now();
    while (count_records(dbp) < 8 && dlc_now() - t0 < 120)
        usleep(50 * 1000);
    kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    int64_t stored = count_records(dbp);
    assert_true(stored >= 8 && stored < 40);
    cli_t c = cli("--op", "dense:8,40,24", "--trials", "40", "--tuner", "random", "--db", dbp, "--resume", "--repeat",
                  "1", "--min-repeat-ms", "1", "--threads", "1", "--json", NULL);
    if (c.code != 0)
        fail_msg("exit %d: %s", c.code, c.err);
    int results = 0;
    json_t *lines = json_lines(c.out), *j;
    size_t i;
    json_array_foreach(lines, i, j) {
        if (json_object_get(j, "best_config"))
            assert_int_equal(json_integer_value(json_object_get(j, "resumed")), stored);
        else
            results++;
    }
    json_decref(lines);
    assert_int_equal(results, 40 - stored);
    /* every config is in the db once: nothing stored was measured again */
    assert_int_equal(count_records(dbp), 40);
    print_message("killed after %lld stored results; the resumed run measured the other %d\n", (long long)stored,
                  results);
    cli_free(&c);
}

/* The same pipeline measuring on a fleet: a tracker and one server on
 * 127.0.0.1, started and stopped by the test. */
static void test_tune_on_fleet(void **state) {
    fleet_setup("test-tune");
    int port;
    pid_t t = fleet_start_tracker("0", "83886080", &port), r = fleet_start_server(port, "host", NULL);
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    dlc_db_t *db = dlc_db_open(scratch("fleet.db"), 0);
    dlc_task_t *task = task_of("dense:5,24,16", "dense_pack.x86");
    dlc_measurer_opts_t mo = quick_opts();
    mo.tracker = addr;
    mo.key = "host";
    dlc_measurer_t *m = dlc_measurer_new(&mo);
    assert_non_null(m);
    dlc_tune_opts_t to;
    dlc_tune_opts_default(&to);
    to.tuner = DLC_TUNER_RANDOM;
    to.trials = 10;
    to.db = db;
    to.source.device_key = "host";
    dlc_tune_summary_t sum;
    assert_int_equal(dlc_tune_task(task, m, &to, &sum), 0);
    assert_int_equal(sum.trials, 10);
    assert_int_equal(sum.errors[0], 10); /* every config measured and verified by the server */
    assert_true(sum.best_gflops > 0);
    dlc_tune_summary_clear(&sum);
    scan_t sc = {0};
    assert_int_equal(dlc_db_records(db, dlc_task_target(task)->str, "dense_pack.x86", dlc_task_args(task), scan, &sc), 0);
    assert_int_equal(sc.n, 10);
    dlc_measurer_destroy(&m);
    dlc_task_destroy(&task);
    dlc_db_close(&db);
    fleet_stop(r, SIGTERM);
    fleet_stop(t, SIGTERM);
    fleet_teardown();
}

int main(void) {
    setenv("OMP_WAIT_POLICY", "passive", 1);
    const char *base = getenv("DLC_CACHE_DIR");
    snprintf(g_dir, sizeof g_dir, "%s/tune-%d", base && *base ? base : "/tmp", (int)getpid());
    dlc_mkdirs(g_dir);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_usage),
        cmocka_unit_test(test_measure_batch),
        cmocka_unit_test(test_measure_shares_reference),
        cmocka_unit_test(test_tune_task_stores_every_result),
        cmocka_unit_test(test_cli_json),
        cmocka_unit_test(test_cli_template_all),
        cmocka_unit_test(test_cli_resume_after_kill),
        cmocka_unit_test(test_transfer_helps),
        cmocka_unit_test(test_tune_on_fleet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
