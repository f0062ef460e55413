/* test_db_tophub.c — TopHub as the built-in fallback: its packages imported
 * into a cache once (and again when a file changes, also with four processes
 * racing), dlc_db_best on it against a brute-force scan of the logs, and
 * dlc_db_apply_best's order — the user's db, then TopHub, then the default
 * with one warning — with the fallback missing or switched off. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>
#include <sys/wait.h>

#include "db/db_impl.h"
#include "schedule-templates/dlc_templates.h"
#include "tests/db/db_testutil.h"

#define SKYLAKE "llvm -mcpu=skylake-avx512"

static char g_dir[1024];

/* ---- brute force: the best line of a workload over the TopHub logs ---- */

typedef int (*target_ok_fn)(const char *record_target);
static int exact_skylake(const char *t) { return strcmp(t, SKYLAKE) == 0; }
static int any_llvm(const char *t) { return strncmp(t, "llvm", 4) == 0 && (t[4] == '\0' || t[4] == ' '); }

/* Every record of the TopHub logs in sorted file order, read once. */
static struct {
    char *line;
    dlc_record_t rec;
} *g_all;
static int g_n_all;

static void load_all(void) {
    char **logs;
    int n = tu_tophub_logs(&logs), cap = 0;
    for (int f = 0; f < n; f++) {
        FILE *fp = fopen(logs[f], "r");
        assert_non_null(fp);
        char *buf = NULL;
        size_t bcap = 0;
        ssize_t len;
        while ((len = getline(&buf, &bcap, fp)) > 0) {
            while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
                buf[--len] = '\0';
            if (g_n_all == cap)
                g_all = realloc(g_all, (size_t)(cap = cap ? 2 * cap : 4096) * sizeof *g_all);
            if (len == 0 || buf[0] == '#' || dlc_record_parse(buf, (size_t)len, &g_all[g_n_all].rec) < 0)
                continue;
            g_all[g_n_all++].line = strdup(buf);
        }
        free(buf);
        fclose(fp);
    }
    tu_free_list(logs, n);
}

/* The line of the lowest mean cost among error-free records of (name, args)
 * whose target passes ok, over every log in sorted order, first on ties.
 * malloc'd; NULL when none. */
static char *scan_best(const char *name, const json_t *args, target_ok_fn ok) {
    if (!g_all)
        load_all();
    const char *best = NULL;
    double best_mean = 0;
    for (int i = 0; i < g_n_all; i++) {
        const dlc_record_t *r = &g_all[i].rec;
        if (r->error_no != 0 || r->n_costs == 0 || strcmp(r->task_name, name) != 0 || !json_equal(r->args, args) ||
            !ok(r->target))
            continue;
        double s = 0;
        for (int k = 0; k < r->n_costs; k++)
            s += r->costs[k];
        if (!best || s / r->n_costs < best_mean) {
            best = g_all[i].line;
            best_mean = s / r->n_costs;
        }
    }
    return best ? strdup(best) : NULL;
}

/* The records of llvm_v0.04.log (conv2d_NCHWc.x86 for skylake-avx512), in
 * file order: *out malloc'd, the count returned. */
static int llvm_records(dlc_record_t **out) {
    char path[1200], *data;
    size_t len;
    snprintf(path, sizeof path, "%s/llvm_v0.04.log", tu_tophub_dir());
    *out = NULL;
    if (dlc_file_read(path, &data, &len) < 0)
        return 0;
    int n = 0;
    for (char *line = data, *nl; line < data + len; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(data + len - line));
        if (!nl)
            nl = data + len;
        *out = realloc(*out, (size_t)(n + 1) * sizeof **out);
        if (nl > line && line[0] != '#' && dlc_record_parse(line, (size_t)(nl - line), &(*out)[n]) == 0)
            n++;
    }
    free(data);
    return n;
}

static int setup(void **state) {
    (void)state;
    char path[1200];
    snprintf(path, sizeof path, "%s/llvm_v0.04.log", tu_tophub_dir());
    if (access(path, R_OK) != 0) {
        fprintf(stderr, "TopHub log %s is missing (../shared beside the repository)\n", path);
        return -1;
    }
    const char *d = tu_scratch("tophub-fallback");
    if (!d)
        return -1;
    snprintf(g_dir, sizeof g_dir, "%s", d);
    unsetenv("DLC_NO_TOPHUB");
    return 0;
}

/* ---- the TopHub handle ---- */

static void test_best_vs_scan(void **state) {
    (void)state;
    char cache[1200];
    snprintf(cache, sizeof cache, "%s/scan.db", g_dir);
    double t0 = dlc_now();
    dlc_db_t *th = dlc_db_open_tophub(tu_tophub_dir(), cache);
    if (!th)
        fail_msg("open TopHub: %s", dlc_last_error());
    fprintf(stderr, "  TopHub: %lld records imported in %.2f s\n", (long long)dlc_db_record_count(th),
            dlc_now() - t0);
    dlc_record_t *recs;
    int n = llvm_records(&recs), checked = 0;
    assert_true(n >= 35);
    /* the exact target, and one that matches only by TVM's key cpu */
    const char *targets[] = {SKYLAKE, "llvm -mcpu=znver2"};
    target_ok_fn oks[] = {exact_skylake, any_llvm};
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < n; i++) {
            if (strcmp(recs[i].task_name, "conv2d_NCHWc.x86") != 0)
                continue;
            char *want = scan_best(recs[i].task_name, recs[i].args, oks[t]);
            assert_non_null(want);
            dlc_db_best_t b;
            if (dlc_db_best(th, targets[t], recs[i].task_name, recs[i].args, &b) != 0)
                fail_msg("best on '%s': %s", targets[t], dlc_last_error());
            assert_string_equal(b.line, want);
            assert_string_equal(b.origin, "tophub");
            assert_int_equal(b.match, t == 0 ? DLC_DB_MATCH_EXACT : DLC_DB_MATCH_KEY);
            dlc_db_best_clear(&b);
            free(want);
            checked++;
        }
    }
    fprintf(stderr, "  %d conv2d_NCHWc.x86 queries agree with the scan\n", checked);
    assert_true(checked >= 70);
    for (int i = 0; i < n; i++)
        dlc_record_clear(&recs[i]);
    free(recs);
    assert_int_equal(dlc_db_check(th), 0);
    dlc_db_close(&th);
}

static double newest_added(dlc_db_t *db) {
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_prepare_v2(db->h, "SELECT max(added) FROM records", -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    double v = sqlite3_column_double(s, 0);
    sqlite3_finalize(s);
    return v;
}

static int64_t best_index(dlc_db_t *db, const dlc_record_t *r) {
    dlc_db_best_t b;
    if (dlc_db_best(db, SKYLAKE, r->task_name, r->args, &b) != 0)
        return -1;
    int64_t idx = b.rec.index;
    dlc_db_best_clear(&b);
    return idx;
}

/* Imported once; again when a file changes, is added or goes away. */
static void test_import_once_and_on_change(void **state) {
    (void)state;
    char dir[1200], log[1300], extra[1300], cache[1200];
    snprintf(dir, sizeof dir, "%s/pkg", g_dir);
    snprintf(log, sizeof log, "%s/llvm_v0.04.log", dir);
    snprintf(extra, sizeof extra, "%s/extra_v0.01.log", dir);
    snprintf(cache, sizeof cache, "%s/change.db", g_dir);
    assert_int_equal(dlc_mkdirs(dir), 0);
    char src[1200], *data;
    size_t len;
    snprintf(src, sizeof src, "%s/llvm_v0.04.log", tu_tophub_dir());
    assert_int_equal(dlc_file_read(src, &data, &len), 0);
    assert_int_equal(dlc_file_write(log, data, len), 0);
    assert_int_equal(dlc_file_write(extra, "# nothing yet\n", 14), 0);

    dlc_db_t *th = dlc_db_open_tophub(dir, cache);
    assert_non_null(th);
    int64_t n0 = dlc_db_record_count(th);
    double added0 = newest_added(th);
    dlc_db_close(&th);
    usleep(20000);
    th = dlc_db_open_tophub(dir, cache); /* unchanged: nothing imported */
    assert_non_null(th);
    assert_int_equal(dlc_db_record_count(th), n0);
    assert_true(newest_added(th) == added0);

    /* a faster record of the first workload appears in the extra file */
    dlc_record_t *recs;
    int n = llvm_records(&recs);
    assert_true(n > 0);
    int64_t old_index = best_index(th, &recs[0]);
    dlc_db_close(&th);
    dlc_record_t faster = recs[0];
    double cost = faster.costs[0] / 4;
    faster.costs = &cost;
    faster.n_costs = 1;
    faster.index = old_index + 1;
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    assert_int_equal(dlc_record_format(&faster, &sb), 0);
    dlc_strbuf_append(&sb, "\n");
    assert_int_equal(dlc_file_write(extra, sb.data, sb.len), 0);
    dlc_strbuf_free(&sb);
    th = dlc_db_open_tophub(dir, cache);
    assert_non_null(th);
    assert_int_equal(dlc_db_record_count(th), n0 + 1);
    assert_true(newest_added(th) > added0);
    assert_int_equal(best_index(th, &recs[0]), old_index + 1);
    dlc_db_close(&th);

    /* the file goes away: so do its records */
    assert_int_equal(unlink(extra), 0);
    th = dlc_db_open_tophub(dir, cache);
    assert_non_null(th);
    assert_int_equal(dlc_db_record_count(th), n0);
    assert_int_equal(best_index(th, &recs[0]), old_index);
    dlc_db_close(&th);
    for (int i = 0; i < n; i++)
        dlc_record_clear(&recs[i]);
    free(recs);
    free(data);
}

/* Four processes opening a fresh cache at once: one imports, none fails. */
static void test_concurrent_first_use(void **state) {
    (void)state;
    char cache[1200];
    snprintf(cache, sizeof cache, "%s/race.db", g_dir);
    enum { P = 4 };
    pid_t pids[P];
    for (int p = 0; p < P; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            alarm(120);
            dlc_db_t *th = dlc_db_open_tophub(tu_tophub_dir(), cache);
            if (!th)
                fprintf(stderr, "child %d: %s\n", p, dlc_last_error());
            int64_t count = th ? dlc_db_record_count(th) : -1;
            dlc_db_close(&th);
            _exit(count > 0 ? 0 : 1);
        }
    }
    for (int p = 0; p < P; p++) {
        int st = 0;
        assert_int_equal(waitpid(pids[p], &st, 0), pids[p]);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("child %d failed (status 0x%x)", p, st);
    }
    dlc_db_t *th = dlc_db_open_tophub(tu_tophub_dir(), cache);
    assert_non_null(th);
    assert_int_equal(dlc_db_check(th), 0);
    dlc_db_close(&th);
}

/* ---- dlc_db_apply_best: user's db, then TopHub, then the default ---- */

typedef struct {
    dlc_db_t *db;
    dlc_task_t *task;
    int want_rc;
    const char *want_origin;
} apply_t;

/* Runs apply_best with stderr captured into text (cap bytes). */
static void apply_capture(apply_t *a, int64_t *index, char *text, size_t cap) {
    char path[1200];
    snprintf(path, sizeof path, "%s/stderr.txt", g_dir);
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(path, "w+");
    assert_non_null(f);
    dup2(fileno(f), 2);
    dlc_config_t *cfg = NULL;
    dlc_db_best_t b;
    int rc = dlc_db_apply_best(a->db, a->task, &cfg, &b);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    size_t k = fread(text, 1, cap - 1, f);
    text[k] = '\0';
    fclose(f);
    if (rc != a->want_rc)
        fail_msg("apply_best: %d (%s), want %d; stderr: %s", rc, dlc_last_error(), a->want_rc, text);
    if (rc == 0) {
        assert_string_equal(b.origin, a->want_origin);
        *index = dlc_config_index(cfg);
        dlc_db_best_clear(&b);
    }
    dlc_config_destroy(&cfg);
}

static void test_apply_order(void **state) {
    (void)state;
    char user[1200], text[8192];
    snprintf(user, sizeof user, "%s/user.db", g_dir);
    dlc_db_t *db = dlc_db_open(user, 0);
    assert_non_null(db);
    assert_int_equal(dlc_db_use_tophub(db, NULL), 0);
    dlc_record_t *recs;
    int n = llvm_records(&recs);
    assert_true(n > 0);
    dlc_target_t tgt;
    assert_int_equal(dlc_target_parse(SKYLAKE, &tgt), 0);
    dlc_task_t *task = NULL;
    assert_int_equal(dlc_task_create(recs[0].task_name, recs[0].args, &tgt, &task), 0);

    /* empty user db: TopHub's best record (the scan's), no warning */
    char *want = scan_best(recs[0].task_name, recs[0].args, exact_skylake);
    dlc_record_t wr;
    assert_int_equal(dlc_record_parse(want, strlen(want), &wr), 0);
    dlc_config_t *wcfg = NULL;
    assert_int_equal(dlc_config_from_entity_json(dlc_task_space(task), wr.entity, &wcfg), 0);
    apply_t a = {db, task, 0, "tophub"};
    int64_t idx = -1;
    apply_capture(&a, &idx, text, sizeof text);
    assert_int_equal(idx, dlc_config_index(wcfg));
    assert_null(strstr(text, "no tuned config"));

    /* a user's record wins, even a slower one matched only by key */
    dlc_record_t mine = recs[0];
    mine.target = "llvm";
    double cost = 1.0;
    mine.costs = &cost;
    mine.n_costs = 1;
    json_t *ent = json_deep_copy(recs[0].entity);
    json_t *last = json_array_get(ent, json_array_size(ent) - 1); /* ["unroll_kw", "ot", bool] */
    json_array_set_new(last, 2, json_boolean(!json_is_true(json_array_get(last, 2))));
    mine.entity = ent;
    assert_int_equal(dlc_db_add(db, &mine, NULL, NULL), 0);
    dlc_config_t *mcfg = NULL;
    assert_int_equal(dlc_config_from_entity_json(dlc_task_space(task), ent, &mcfg), 0);
    assert_true(dlc_config_index(mcfg) != dlc_config_index(wcfg));
    a.want_origin = "db";
    apply_capture(&a, &idx, text, sizeof text);
    assert_int_equal(idx, dlc_config_index(mcfg));

    /* a task TopHub lacks too: the default, one warning saying so */
    dlc_op_spec_t spec;
    assert_int_equal(dlc_op_parse("dense:24,40,16", &spec), 0);
    dlc_task_t *dense = NULL;
    assert_int_equal(dlc_task_from_spec(&spec, "dense_pack.x86", &tgt, &dense), 0);
    apply_t d = {db, dense, DLC_ENOTFOUND, NULL};
    apply_capture(&d, &idx, text, sizeof text);
    assert_non_null(strstr(text, "no tuned config for dense_pack.x86"));
    assert_non_null(strstr(text, "nor in TopHub"));
    apply_capture(&d, &idx, text, sizeof text);
    assert_null(strstr(text, "no tuned config")); /* once per task */
    dlc_db_close(&db);

    /* TopHub switched off, or missing: the default and a warning; missing is a
     * note once, never a failure */
    snprintf(user, sizeof user, "%s/empty.db", g_dir);
    for (int k = 0; k < 2; k++) {
        db = dlc_db_open(user, 0);
        assert_non_null(db);
        if (k == 0)
            setenv("DLC_NO_TOPHUB", "1", 1);
        assert_int_equal(dlc_db_use_tophub(db, k == 0 ? NULL : "/nonexistent/tophub"), 0);
        unsetenv("DLC_NO_TOPHUB");
        a.db = db;
        a.want_rc = DLC_ENOTFOUND;
        apply_capture(&a, &idx, text, sizeof text);
        assert_non_null(strstr(text, "no tuned config for conv2d_NCHWc.x86"));
        if (k == 0) {
            assert_null(strstr(text, "TopHub"));
        } else {
            assert_non_null(strstr(text, "no TopHub fallback: TopHub folder /nonexistent/tophub"));
            assert_non_null(strstr(text, "TopHub unavailable"));
            d.db = db;
            apply_capture(&d, &idx, text, sizeof text); /* the note came once */
            assert_null(strstr(text, "no TopHub fallback"));
            assert_non_null(strstr(text, "TopHub unavailable"));
        }
        dlc_db_close(&db);
    }
    assert_null(dlc_db_open_tophub("/nonexistent/tophub", NULL));
    assert_int_equal(dlc_last_status(), DLC_ENOTFOUND);

    dlc_config_destroy(&mcfg);
    dlc_config_destroy(&wcfg);
    json_decref(ent);
    dlc_record_clear(&wr);
    free(want);
    dlc_task_destroy(&dense);
    dlc_task_destroy(&task);
    for (int i = 0; i < n; i++)
        dlc_record_clear(&recs[i]);
    free(recs);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_best_vs_scan),
        cmocka_unit_test(test_import_once_and_on_change),
        cmocka_unit_test(test_concurrent_first_use),
        cmocka_unit_test(test_apply_order),
    };
    int rc = cmocka_run_group_tests(tests, setup, NULL);
    for (int i = 0; i < g_n_all; i++) {
        free(g_all[i].line);
        dlc_record_clear(&g_all[i].rec);
    }
    free(g_all);
    return rc;
}
