/* test_dlc_db.c — the dlc-db command run as a user would: help and exit
 * codes of every subcommand, TopHub import/export/best/stats through the
 * binary, stdin and malformed input, processes killed with SIGKILL in the
 * middle of a large import (the db keeps the before or the after state), and
 * eight dlc-db processes importing and querying one file at once. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "db/dlc_db.h"
#include "tests/db/db_testutil.h"

static char g_dir[1024], g_db[1100];

typedef struct {
    int code;
    char *out, *err;
} run_t;

/* Runs dlc-db with the given arguments (NULL-terminated), stdin from `in`. */
static run_t run_in(const char *in, const char *arg0, ...) {
    const char *argv[64] = {DLC_DB_EXE};
    int n = 1;
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a && n < 63; a = va_arg(ap, const char *))
        argv[n++] = a;
    va_end(ap);
    argv[n] = NULL;
    dlc_proc_spec_t spec = {argv, NULL, in, in ? strlen(in) : 0, 120};
    dlc_proc_result_t res;
    assert_int_equal(dlc_proc_run(&spec, &res), 0);
    run_t r = {res.exit_code, res.out, res.err};
    res.out = res.err = NULL;
    dlc_proc_result_free(&res);
    return r;
}
#define RUN(...) run_in(NULL, __VA_ARGS__, NULL)

static void run_free(run_t *r) {
    free(r->out);
    free(r->err);
}

static int count_lines(const char *s) {
    int n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static int setup(void **state) {
    const char *d = tu_scratch("cli");
    if (!d)
        return -1;
    snprintf(g_dir, sizeof g_dir, "%s", d);
    snprintf(g_db, sizeof g_db, "%s/cli.db", g_dir);
    return 0;
}

static void test_help_and_usage(void **state) {
    run_t r = RUN("--help");
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "usage: dlc-db"));
    run_free(&r);
    static const char *const cmds[] = {"import", "export", "best", "stats", "vacuum", "check"};
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
        r = RUN(cmds[i], "--help");
        assert_int_equal(r.code, 0);
        char want[64];
        snprintf(want, sizeof want, "usage: dlc-db %s", cmds[i]);
        assert_non_null(strstr(r.out, want));
        assert_non_null(strstr(r.out, "--db PATH"));
        assert_non_null(strstr(r.out, "exit codes"));
        run_free(&r);
    }
    static const char *const bad[][8] = {
        {NULL},                                       /* no command */
        {"frobnicate", NULL},                         /* unknown command */
        {"--nope", "stats", NULL},                    /* unknown global option */
        {"stats", "--nope", NULL},                    /* unknown option */
        {"stats", "extra", NULL},                     /* stray argument */
        {"import", NULL},                             /* no files */
        {"import", "-", "-", NULL},                   /* stdin twice */
        {"best", "--op", "dense:1,2,3", NULL},        /* no target */
        {"best", "--target", "llvm", NULL},           /* neither --op nor --task */
        {"best", "--target", "llvm", "--task", "x", NULL},                  /* --task without --args */
        {"best", "--target", "llvm", "--task", "x", "--args", "[1,", NULL}, /* bad JSON */
        {"best", "--target", "llvm", "--task", "x", "--args", "{}", NULL},  /* not a list */
        {"best", "--target", "llvm", "--op", "dense:1,2", NULL},            /* bad spec */
        {"best", "--target", "llvm", "--op", NULL},                         /* missing value */
        {"export", "--target", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *argv[16] = {DLC_DB_EXE, "--db", g_db};
        int n = 3;
        for (int k = 0; bad[i][k]; k++)
            argv[n++] = bad[i][k];
        argv[n] = NULL;
        dlc_proc_spec_t spec = {argv, NULL, NULL, 0, 60};
        dlc_proc_result_t res;
        assert_int_equal(dlc_proc_run(&spec, &res), 0);
        if (res.exit_code != 2)
            fail_msg("case %zu (%s ...): exit %d, stderr %s", i, bad[i][0] ? bad[i][0] : "-", res.exit_code, res.err);
        assert_true(strlen(res.err) > 0 && strlen(res.out) == 0);
        dlc_proc_result_free(&res);
    }
    /* a database that does not exist is not created by queries */
    char absent[1200];
    snprintf(absent, sizeof absent, "%s/absent.db", g_dir);
    r = RUN("--db", absent, "stats");
    assert_int_equal(r.code, 3);
    run_free(&r);
    struct stat sb;
    assert_int_equal(stat(absent, &sb), -1);
}

static void test_tophub_through_the_binary(void **state) {
    char **logs;
    int n_logs = tu_tophub_logs(&logs);
    if (n_logs == 0)
        skip();
    const char *argv[40] = {DLC_DB_EXE, "--db", g_db, "import", "--json"};
    int n = 5;
    for (int i = 0; i < n_logs && n < 39; i++)
        argv[n++] = logs[i];
    argv[n] = NULL;
    dlc_proc_spec_t spec = {argv, NULL, NULL, 0, 120};
    dlc_proc_result_t res;
    assert_int_equal(dlc_proc_run(&spec, &res), 0);
    assert_int_equal(res.exit_code, 0);
    json_t *j = json_loads(res.out, 0, NULL);
    assert_non_null(j);
    int64_t records = json_integer_value(json_object_get(j, "records"));
    assert_int_equal(json_array_size(json_object_get(j, "files")), n_logs);
    assert_int_equal(json_integer_value(json_object_get(j, "malformed")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "added")), records);
    fprintf(stderr, "  imported %lld records from %d files\n", (long long)records, n_logs);
    json_decref(j);
    dlc_proc_result_free(&res);
    /* again: all duplicates */
    assert_int_equal(dlc_proc_run(&spec, &res), 0);
    assert_int_equal(res.exit_code, 0);
    j = json_loads(res.out, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(j, "added")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "records")), records);
    json_decref(j);
    dlc_proc_result_free(&res);

    run_t r = RUN("--db", g_db, "export");
    assert_int_equal(r.code, 0);
    assert_int_equal(count_lines(r.out), records);
    run_free(&r);
    r = RUN("export", "--db", g_db, "--target", "llvm -mcpu=skylake-avx512");
    assert_int_equal(r.code, 0);
    assert_int_equal(count_lines(r.out), 35);
    run_free(&r);
    r = RUN("export", "--db", g_db, "--best", "--target", "llvm -mcpu=skylake-avx512");
    assert_int_equal(r.code, 0);
    assert_int_equal(count_lines(r.out), 35);
    run_free(&r);
    r = RUN("export", "--db", g_db, "--target", "llvm -mcpu=nosuchcpu");
    assert_int_equal(r.code, 1);
    assert_int_equal(strlen(r.out), 0);
    run_free(&r);

    r = RUN("stats", "--db", g_db, "--json");
    assert_int_equal(r.code, 0);
    j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_int_equal(json_integer_value(json_object_get(j, "records")), records);
    assert_true(json_array_size(json_object_get(j, "targets")) >= 20);
    json_decref(j);
    run_free(&r);
    r = RUN("stats", "--db", g_db);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "llvm -mcpu=skylake-avx512"));
    run_free(&r);

    /* best by --op (the task dlc builds for the spec) and by --task/--args */
    r = RUN("best", "--db", g_db, "--target", "llvm -mcpu=skylake-avx512", "--op", "conv2d:1,64,56,56,64,3,3,1,1",
            "--json");
    assert_int_equal(r.code, 0);
    j = json_loads(r.out, 0, NULL);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "task")), "conv2d_NCHWc.x86");
    assert_string_equal(json_string_value(json_object_get(j, "match")), "exact");
    assert_int_equal(json_integer_value(json_object_get(j, "config_index")), 188);
    const char *line = json_string_value(json_object_get(j, "line"));
    dlc_record_t rec;
    assert_int_equal(dlc_record_parse(line, strlen(line), &rec), 0);
    char *args = json_dumps(rec.args, JSON_COMPACT);
    run_t r2 = RUN("best", "--db", g_db, "--target", "llvm -mcpu=skylake-avx512", "--task", "conv2d_NCHWc.x86",
                   "--args", args);
    assert_int_equal(r2.code, 0);
    assert_int_equal(strncmp(r2.out, line, strlen(line)), 0);
    run_free(&r2);
    /* another x86 CPU: matched by key, said on stderr */
    r2 = RUN("best", "--db", g_db, "--target", "llvm -mcpu=haswell", "--task", "conv2d_NCHWc.x86", "--args", args);
    assert_int_equal(r2.code, 0);
    assert_non_null(strstr(r2.err, "matched by key cpu"));
    run_free(&r2);
    r2 = RUN("best", "--db", g_db, "--target", "cuda", "--task", "conv2d_NCHWc.x86", "--args", args, "--json");
    assert_int_equal(r2.code, 1);
    json_t *nf = json_loads(r2.out, 0, NULL);
    assert_non_null(nf);
    assert_true(json_is_false(json_object_get(nf, "found")));
    json_decref(nf);
    run_free(&r2);
    free(args);
    dlc_record_clear(&rec);
    json_decref(j);
    run_free(&r);

    r = RUN("check", "--db", g_db);
    assert_int_equal(r.code, 0);
    run_free(&r);
    r = RUN("vacuum", "--db", g_db);
    assert_int_equal(r.code, 0);
    run_free(&r);
    tu_free_list(logs, n_logs);
}

static void test_stdin_and_malformed(void **state) {
    char db[1200];
    snprintf(db, sizeof db, "%s/stdin.db", g_dir);
    dlc_strbuf_t in;
    dlc_strbuf_init(&in);
    dlc_strbuf_printf(&in, "%s\n{\"input\": 1}\n\n# note\nnot json\n", TU_LINE);
    run_t r = run_in(in.data, "--db", db, "import", "-", NULL);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.err, "<stdin>:2:"));
    assert_non_null(strstr(r.err, "<stdin>:5:"));
    assert_non_null(strstr(r.out, "1 added, 0 duplicates, 2 malformed"));
    run_free(&r);
    r = run_in(in.data, "--db", db, "import", "--strict", "-", NULL);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.out, "rolled back"));
    run_free(&r);
    /* one unreadable file: exit 2, the readable one still imported */
    char good[1200];
    snprintf(good, sizeof good, "%s/good.log", g_dir);
    assert_int_equal(tu_write_synthetic(good, 10, 42), 0);
    r = RUN("--db", db, "import", "--quiet", "/nonexistent/x.log", good);
    assert_int_equal(r.code, 2);
    assert_non_null(strstr(r.err, "/nonexistent/x.log"));
    run_free(&r);
    r = RUN("--db", db, "export");
    assert_int_equal(r.code, 0);
    assert_int_equal(count_lines(r.out), 11);
    run_free(&r);
    /* binary junk, an empty file, a directory */
    char junk[1200];
    snprintf(junk, sizeof junk, "%s/junk.log", g_dir);
    FILE *f = fopen(junk, "wb");
    for (int i = 0; i < 5000; i++)
        fputc((i * 131) % 256, f);
    fclose(f);
    r = RUN("--db", db, "import", junk);
    assert_int_equal(r.code, 0);
    assert_non_null(strstr(r.out, "0 added"));
    run_free(&r);
    r = RUN("--db", db, "import", "--strict", junk, g_dir);
    assert_int_equal(r.code, 2);
    run_free(&r);
    r = RUN("--db", db, "check");
    assert_int_equal(r.code, 0);
    run_free(&r);
    dlc_strbuf_free(&in);
}

static int64_t count_records(const char *db_path) {
    dlc_db_t *db = dlc_db_open(db_path, 0);
    assert_non_null(db);
    int64_t n = dlc_db_record_count(db);
    assert_int_equal(dlc_db_check(db), 0);
    dlc_db_close(&db);
    return n;
}

static off_t file_size(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? sb.st_size : 0;
}

/* SIGKILL while a large file imports: the db has all of it or none of it. */
static void test_sigkill_mid_import(void **state) {
    char db[1200], wal[1300], big[1200];
    snprintf(db, sizeof db, "%s/kill.db", g_dir);
    snprintf(wal, sizeof wal, "%s-wal", db);
    snprintf(big, sizeof big, "%s/big.log", g_dir);
    enum { N = 60000 };
    assert_int_equal(tu_write_synthetic(big, N, 7), 0);
    char small[1200];
    snprintf(small, sizeof small, "%s/small.log", g_dir);
    assert_int_equal(tu_write_synthetic(small, 100, 8), 0);
    run_t r = RUN("--db", db, "import", small);
    assert_int_equal(r.code, 0);
    run_free(&r);
    int64_t before = count_records(db);
    assert_int_equal(before, 100);
    static const off_t thresholds[] = {1 << 20, 4 << 20, 12 << 20};
    int mid = 0;
    for (size_t t = 0; t < sizeof thresholds / sizeof *thresholds; t++) {
        off_t wal0 = file_size(wal);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int devnull = open("/dev/null", 1);
            dup2(devnull, 1);
            execl(DLC_DB_EXE, DLC_DB_EXE, "--db", db, "import", "--quiet", big, (char *)NULL);
            _exit(127);
        }
        /* wait until the transaction has spilled this much into the WAL */
        double t0 = dlc_now();
        int status = 0, exited = 0;
        while (dlc_now() - t0 < 120) {
            if (waitpid(pid, &status, WNOHANG) == pid) {
                exited = 1;
                break;
            }
            if (file_size(wal) - wal0 >= thresholds[t])
                break;
            struct timespec ts = {0, 2000000};
            nanosleep(&ts, NULL);
        }
        if (!exited) {
            kill(pid, SIGKILL);
            assert_int_equal(waitpid(pid, &status, 0), pid);
        }
        int killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
        int64_t after = count_records(db);
        fprintf(stderr, "  WAL +%lld bytes: %s; records %lld\n", (long long)thresholds[t],
                killed ? "killed mid-import" : "import finished first", (long long)after);
        if (killed) {
            assert_int_equal(after, before); /* none of it */
            mid++;
        } else {
            assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
            assert_int_equal(after, before + N); /* all of it */
            before = after;
        }
    }
    assert_true(mid >= 1);
    /* and a complete import afterwards stores everything once */
    r = RUN("--db", db, "import", "--quiet", big);
    assert_int_equal(r.code, 0);
    run_free(&r);
    assert_int_equal(count_records(db), 100 + N);
}

/* Four importers and four queriers on one file at once. */
static void test_concurrent_processes(void **state) {
    char db[1200], logs[4][1200], seed[1200];
    snprintf(db, sizeof db, "%s/conc.db", g_dir);
    snprintf(seed, sizeof seed, "%s/seed.log", g_dir);
    assert_int_equal(tu_write_synthetic(seed, 50, 100), 0);
    run_t r = RUN("--db", db, "import", seed);
    assert_int_equal(r.code, 0);
    run_free(&r);
    enum { N = 4000 };
    const char *argvs[8][16];
    dlc_record_t rec;
    assert_int_equal(dlc_record_parse(TU_LINE, strlen(TU_LINE), &rec), 0);
    char *args = json_dumps(rec.args, JSON_COMPACT);
    for (int i = 0; i < 4; i++) {
        snprintf(logs[i], sizeof logs[i], "%s/conc%d.log", g_dir, i);
        assert_int_equal(tu_write_synthetic(logs[i], N, 200 + i), 0);
        const char *imp[] = {DLC_DB_EXE, "--db", db, "import", "--quiet", logs[i], NULL};
        const char *best[] = {DLC_DB_EXE, "--db", db, "best", "--target", "llvm -mcpu=skylake-avx512", "--task",
                              "conv2d_NCHWc.x86", "--args", args, "--json", NULL};
        memcpy(argvs[2 * i], imp, sizeof imp);
        memcpy(argvs[2 * i + 1], best, sizeof best);
    }
    dlc_proc_spec_t specs[8];
    dlc_proc_result_t res[8];
    for (int i = 0; i < 8; i++)
        specs[i] = (dlc_proc_spec_t){argvs[i], NULL, NULL, 0, 120};
    double t0 = dlc_now();
    assert_int_equal(dlc_proc_run_many(specs, res, 8, 8), 0);
    for (int i = 0; i < 8; i++) {
        if (res[i].exit_code != 0)
            fail_msg("process %d (%s) exit %d: %s", i, argvs[i][3], res[i].exit_code, res[i].err);
        dlc_proc_result_free(&res[i]);
    }
    int64_t n = count_records(db);
    fprintf(stderr, "  8 processes (4 imports of %d records, 4 queries) in %.2f s: %lld records, integrity ok\n", N,
            dlc_now() - t0, (long long)n);
    assert_int_equal(n, 50 + 4 * N);
    free(args);
    dlc_record_clear(&rec);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_help_and_usage),
        cmocka_unit_test(test_tophub_through_the_binary),
        cmocka_unit_test(test_stdin_and_malformed),
        cmocka_unit_test(test_sigkill_mid_import),
        cmocka_unit_test(test_concurrent_processes),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
