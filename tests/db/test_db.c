/* test_db.c — the tuning database library: every TopHub log imported and
 * exported back (same set of records, lines byte for byte), dlc_db_best
 * against a brute-force scan of the logs for every task and against an
 * emulation of TVM's ApplyHistoryBest for targets matched by model or key,
 * target keys, duplicates, malformed input, schema migrations, cost models,
 * the query plan, and four forked processes sharing one file. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <sys/wait.h>

#include "db/db_impl.h"
#include "schedule-templates/dlc_templates.h"
#include "tests/db/db_testutil.h"

/* ---- the TopHub logs, read line by line independently of dlc's reader ---- */

typedef struct {
    char *line;        /* the raw line, no newline */
    dlc_record_t rec;  /* parsed */
    char *target, *wl; /* record target; workload key "name args" (compact JSON) */
    double mean;
    int64_t order;     /* position across all files */
} entry_t;

static entry_t *g_entries;
static int g_n;
static char **g_logs;
static int g_n_logs;
static dlc_db_t *g_db; /* every TopHub file imported, in sorted file order */
static char g_dir[1024];

static int load_logs(void) {
    int cap = 0;
    for (int f = 0; f < g_n_logs; f++) {
        FILE *fp = fopen(g_logs[f], "r");
        if (!fp)
            return -1;
        char *buf = NULL;
        size_t bcap = 0;
        ssize_t len;
        while ((len = getline(&buf, &bcap, fp)) > 0) {
            while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
                buf[--len] = '\0';
            if (len == 0 || buf[0] == '#')
                continue;
            if (g_n == cap)
                g_entries = realloc(g_entries, (size_t)(cap = cap ? 2 * cap : 4096) * sizeof *g_entries);
            entry_t *e = &g_entries[g_n];
            memset(e, 0, sizeof *e);
            if (dlc_record_parse(buf, (size_t)len, &e->rec) < 0)
                return -1;
            e->line = strdup(buf);
            e->target = e->rec.target;
            char *args = json_dumps(e->rec.args, JSON_COMPACT);
            size_t need = strlen(e->rec.task_name) + strlen(args) + 2;
            e->wl = malloc(need);
            snprintf(e->wl, need, "%s %s", e->rec.task_name, args);
            free(args);
            double s = 0;
            for (int i = 0; i < e->rec.n_costs; i++)
                s += e->rec.costs[i];
            e->mean = s / e->rec.n_costs;
            e->order = g_n++;
        }
        free(buf);
        fclose(fp);
    }
    return 0;
}

static int group_setup(void **state) {
    g_n_logs = tu_tophub_logs(&g_logs);
    if (g_n_logs == 0)
        return 0; /* the TopHub tests skip */
    if (load_logs() < 0)
        return -1;
    const char *dir = tu_scratch("tophub");
    if (!dir)
        return -1;
    snprintf(g_dir, sizeof g_dir, "%s", dir);
    char path[1100];
    snprintf(path, sizeof path, "%s/tophub.db", g_dir);
    g_db = dlc_db_open(path, 0);
    if (!g_db)
        return -1;
    for (int f = 0; f < g_n_logs; f++) {
        dlc_db_import_t st = {0};
        if (dlc_db_import_file(g_db, g_logs[f], NULL, &st) < 0 || st.malformed != 0)
            return -1;
    }
    return 0;
}

static int group_teardown(void **state) {
    dlc_db_close(&g_db);
    for (int i = 0; i < g_n; i++) {
        free(g_entries[i].line);
        free(g_entries[i].wl);
        dlc_record_clear(&g_entries[i].rec);
    }
    free(g_entries);
    tu_free_list(g_logs, g_n_logs);
    return 0;
}

/* ---- import then export: the same set of records ---- */

static char *canon(const char *line, size_t len) {
    json_error_t err;
    json_t *j = json_loadb(line, len, 0, &err);
    assert_non_null(j);
    char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(j);
    return s;
}

typedef struct {
    char **v;
    int n, cap;
} strvec_t;

static void sv_push(strvec_t *sv, char *s) {
    if (sv->n == sv->cap)
        sv->v = realloc(sv->v, (size_t)(sv->cap = sv->cap ? 2 * sv->cap : 4096) * sizeof *sv->v);
    sv->v[sv->n++] = s;
}

static int sv_unique(strvec_t *sv) {
    qsort(sv->v, (size_t)sv->n, sizeof *sv->v, tu_cmp_str);
    int m = 0;
    for (int i = 0; i < sv->n; i++) {
        if (m > 0 && strcmp(sv->v[m - 1], sv->v[i]) == 0)
            free(sv->v[i]);
        else
            sv->v[m++] = sv->v[i];
    }
    return sv->n = m;
}

static void sv_free(strvec_t *sv) {
    for (int i = 0; i < sv->n; i++)
        free(sv->v[i]);
    free(sv->v);
}

static int collect_export(const char *line, size_t len, void *user) {
    strvec_t *pair = user; /* [0] parsed-canonical, [1] raw */
    sv_push(&pair[0], canon(line, len));
    sv_push(&pair[1], strndup(line, len));
    return 0;
}

static void test_tophub_round_trip(void **state) {
    if (!g_db)
        skip();
    strvec_t logged = {0}, raw_logged = {0}, exported[2] = {{0}, {0}};
    for (int i = 0; i < g_n; i++) {
        sv_push(&logged, canon(g_entries[i].line, strlen(g_entries[i].line)));
        sv_push(&raw_logged, strdup(g_entries[i].line));
    }
    int unique = sv_unique(&logged);
    sv_unique(&raw_logged);
    assert_int_equal(dlc_db_export(g_db, NULL, 0, collect_export, exported), 0);
    int n_exported = exported[0].n;
    fprintf(stderr, "  %d log records (%d files), %d distinct, %d exported\n", g_n, g_n_logs, unique, n_exported);
    assert_int_equal(n_exported, unique); /* nothing stored twice */
    assert_int_equal(dlc_db_record_count(g_db), unique);
    assert_int_equal(sv_unique(&exported[0]), unique);
    for (int i = 0; i < unique; i++)
        assert_string_equal(exported[0].v[i], logged.v[i]);
    /* and byte for byte: every exported line is a line of the logs */
    for (int i = 0; i < exported[1].n; i++)
        assert_non_null(bsearch(&exported[1].v[i], raw_logged.v, (size_t)raw_logged.n, sizeof(char *), tu_cmp_str));
    sv_free(&logged);
    sv_free(&raw_logged);
    sv_free(&exported[0]);
    sv_free(&exported[1]);

    /* --best: one line per task (target, name, args) */
    strvec_t tasks = {0}, best[2] = {{0}, {0}};
    for (int i = 0; i < g_n; i++) {
        size_t need = strlen(g_entries[i].target) + strlen(g_entries[i].wl) + 2;
        char *k = malloc(need);
        snprintf(k, need, "%s|%s", g_entries[i].target, g_entries[i].wl);
        sv_push(&tasks, k);
    }
    int n_tasks = sv_unique(&tasks);
    assert_int_equal(dlc_db_export(g_db, NULL, 1, collect_export, best), 0);
    assert_int_equal(best[0].n, n_tasks);
    fprintf(stderr, "  %d tasks, export --best gives %d lines\n", n_tasks, best[0].n);
    sv_free(&tasks);
    sv_free(&best[0]);
    sv_free(&best[1]);
}

/* ---- best against a brute-force scan, for every task of the logs ---- */

static int cmp_task(const void *a, const void *b) {
    const entry_t *x = *(entry_t *const *)a, *y = *(entry_t *const *)b;
    int c = strcmp(x->target, y->target);
    if (!c)
        c = strcmp(x->wl, y->wl);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static void test_best_brute_force(void **state) {
    if (!g_db)
        skip();
    entry_t **v = malloc((size_t)g_n * sizeof *v);
    for (int i = 0; i < g_n; i++)
        v[i] = &g_entries[i];
    qsort(v, (size_t)g_n, sizeof *v, cmp_task);
    int tasks = 0;
    for (int i = 0; i < g_n;) {
        int j = i;
        const entry_t *win = NULL;
        for (; j < g_n && strcmp(v[j]->target, v[i]->target) == 0 && strcmp(v[j]->wl, v[i]->wl) == 0; j++)
            if (v[j]->rec.error_no == 0 && (!win || v[j]->mean < win->mean)) /* TVM keeps the first on ties */
                win = v[j];
        assert_non_null(win); /* TopHub has no failed records */
        dlc_db_best_t b;
        int rc = dlc_db_best(g_db, v[i]->target, v[i]->rec.task_name, v[i]->rec.args, &b);
        if (rc != 0)
            fail_msg("best of %s %s: %s", v[i]->target, v[i]->wl, dlc_last_error());
        if (strcmp(b.line, win->line) != 0)
            fail_msg("best of %s %s:\n  db:    %s\n  brute: %s", v[i]->target, v[i]->wl, b.line, win->line);
        assert_int_equal(b.match, DLC_DB_MATCH_EXACT);
        assert_true(b.mean_cost == win->mean);
        assert_int_equal(b.rec.index, win->rec.index);
        assert_true(json_equal(b.rec.entity, win->rec.entity));
        dlc_db_best_clear(&b);
        tasks++;
        i = j;
    }
    fprintf(stderr, "  best agrees with the brute-force scan for %d tasks\n", tasks);
    free(v);
}

/* ---- target matching by model and keys: TVM's ApplyHistoryBest ---- */

static int has_key(const dlc__db_target_t *t, const char *k) {
    for (int i = 0; i < t->n_keys; i++)
        if (strcmp(t->keys[i], k) == 0)
            return 1;
    return 0;
}

/* ApplyHistoryBest.load + _query_inside for one workload: best_by_model and
 * best_by_targetkey built over records in load order, then model first,
 * then each key of the query target. */
static const entry_t *tvm_query(entry_t *const *wl, int n, const dlc__db_target_t *q, char *how, size_t how_cap) {
    const entry_t *best = NULL;
    if (q->model[0]) {
        for (int i = 0; i < n; i++) {
            dlc__db_target_t rt;
            assert_int_equal(dlc__db_target_info(wl[i]->target, &rt), 0);
            if (wl[i]->rec.error_no == 0 && strcmp(rt.model, q->model) == 0 && (!best || wl[i]->mean < best->mean))
                best = wl[i];
        }
        if (best) {
            snprintf(how, how_cap, "model");
            return best;
        }
    }
    for (int k = 0; k < q->n_keys; k++) {
        for (int i = 0; i < n; i++) {
            dlc__db_target_t rt;
            assert_int_equal(dlc__db_target_info(wl[i]->target, &rt), 0);
            if (wl[i]->rec.error_no == 0 && has_key(&rt, q->keys[k]) && (!best || wl[i]->mean < best->mean))
                best = wl[i];
        }
        if (best) {
            snprintf(how, how_cap, "key %s", q->keys[k]);
            return best;
        }
    }
    return NULL;
}

static int cmp_wl(const void *a, const void *b) {
    const entry_t *x = *(entry_t *const *)a, *y = *(entry_t *const *)b;
    int c = strcmp(x->wl, y->wl);
    return c ? c : (x->order > y->order) - (x->order < y->order);
}

static void test_best_matches_apply_history_best(void **state) {
    if (!g_db)
        skip();
    /* none of these is a TopHub target string, so TVM's rule decides */
    static const char *const queries[] = {
        "llvm -mcpu=haswell",
        "llvm -model=rk3399 -device=arm_cpu -mtriple=aarch64-linux-gnu",
        "llvm -device=arm_cpu -mtriple=aarch64-linux-gnu",
        "llvm -model=bcm2837",
        "cuda",
        "cuda -model=v100 -arch=sm_70",
        "nvptx -model=titanx",
        "opencl -device=mali",
        "opencl -device=intel_graphics",
        "opencl -keys=adreno,opencl,gpu -device=adreno",
        "opencl -keys=gpu",
        "vulkan",
        "rocm -model=gfx906 -mcpu=gfx906",
        "ext_dev -device=vta",
        "ext_dev -keys=cpu -device=vta -model=pynq_1x16_i8w8a32_15_15_18_17",
        "metal",
        "hexagon",
    };
    entry_t **v = malloc((size_t)g_n * sizeof *v);
    for (int i = 0; i < g_n; i++)
        v[i] = &g_entries[i];
    qsort(v, (size_t)g_n, sizeof *v, cmp_wl);
    int counts[DLC_DB_MATCH_COUNT + 1] = {0}, workloads = 0;
    for (int i = 0; i < g_n;) {
        int j = i;
        while (j < g_n && strcmp(v[j]->wl, v[i]->wl) == 0)
            j++;
        workloads++;
        for (size_t q = 0; q < sizeof queries / sizeof *queries; q++) {
            dlc__db_target_t qt;
            assert_int_equal(dlc__db_target_info(queries[q], &qt), 0);
            char how[64] = "";
            const entry_t *want = tvm_query(v + i, j - i, &qt, how, sizeof how);
            dlc_db_best_t b;
            int rc = dlc_db_best(g_db, queries[q], v[i]->rec.task_name, v[i]->rec.args, &b);
            if (!want) {
                if (rc != DLC_ENOTFOUND)
                    fail_msg("%s for %s: TVM finds nothing, db gives %s", v[i]->wl, queries[q], rc ? "an error" : b.line);
                counts[DLC_DB_MATCH_COUNT]++;
                continue;
            }
            if (rc != 0)
                fail_msg("%s for %s: TVM picks (%s) %s, db: %s", v[i]->wl, queries[q], how, want->line,
                         dlc_last_error());
            if (strcmp(b.line, want->line) != 0)
                fail_msg("%s for %s (%s):\n  db:  %s\n  tvm: %s", v[i]->wl, queries[q], how, b.line, want->line);
            if (b.match == DLC_DB_MATCH_EXACT)
                fail_msg("%s: exact match for %s (record %s)", v[i]->wl, queries[q], b.rec.target);
            assert_int_equal(b.match, how[0] == 'm' ? DLC_DB_MATCH_MODEL : DLC_DB_MATCH_KEY);
            if (b.match == DLC_DB_MATCH_KEY)
                assert_string_equal(b.matched_key, how + 4);
            counts[b.match]++;
            dlc_db_best_clear(&b);
        }
        i = j;
    }
    fprintf(stderr, "  %d workloads x %zu targets: %d by model, %d by key, %d not found (as TVM)\n", workloads,
            sizeof queries / sizeof *queries, counts[DLC_DB_MATCH_MODEL], counts[DLC_DB_MATCH_KEY],
            counts[DLC_DB_MATCH_COUNT]);
    assert_true(counts[DLC_DB_MATCH_MODEL] > 100 && counts[DLC_DB_MATCH_KEY] > 100);
    free(v);
}

/* Exact target beats a faster record of the same model or key. */
static void test_exact_first(void **state) {
    const char *dir = tu_scratch("exact");
    char path[1100];
    snprintf(path, sizeof path, "%s/e.db", dir);
    dlc_db_t *db = dlc_db_open(path, 0);
    assert_non_null(db);
    dlc_record_t r;
    assert_int_equal(dlc_record_parse(TU_LINE, strlen(TU_LINE), &r), 0);
    static const struct {
        const char *target;
        double cost;
        int error_no;
    } rows[] = {
        {"llvm -mcpu=skylake-avx512 -model=a", 3e-4, 0},
        {"llvm   -mcpu=skylake-avx512  -model=a", 2e-4, 0}, /* the same target, spaced out */
        {"llvm -mcpu=haswell -model=a", 1e-4, 0},
        {"llvm -mcpu=znver2", 0.5e-4, 0},
        {"llvm -mcpu=skylake-avx512 -model=a", 0.1e-4, DLC_MEASURE_RUNTIME_DEVICE}, /* failed: never best */
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        free(r.target);
        r.target = strdup(rows[i].target);
        r.costs[0] = rows[i].cost;
        r.error_no = rows[i].error_no;
        r.index = (int64_t)i;
        int added = 0;
        assert_int_equal(dlc_db_add(db, &r, NULL, &added), 0);
        assert_int_equal(added, 1);
    }
    dlc_db_best_t b;
    assert_int_equal(dlc_db_best(db, "llvm -mcpu=skylake-avx512 -model=a", r.task_name, r.args, &b), 0);
    assert_int_equal(b.match, DLC_DB_MATCH_EXACT);
    assert_int_equal(b.rec.index, 1);
    dlc_db_best_clear(&b);
    assert_int_equal(dlc_db_best(db, "llvm -model=a", r.task_name, r.args, &b), 0);
    assert_int_equal(b.match, DLC_DB_MATCH_MODEL);
    assert_int_equal(b.rec.index, 2);
    dlc_db_best_clear(&b);
    assert_int_equal(dlc_db_best(db, "llvm -model=b", r.task_name, r.args, &b), 0);
    assert_int_equal(b.match, DLC_DB_MATCH_KEY);
    assert_string_equal(b.matched_key, "cpu");
    assert_int_equal(b.rec.index, 3);
    dlc_db_best_clear(&b);
    assert_int_equal(dlc_db_best(db, "cuda", r.task_name, r.args, &b), DLC_ENOTFOUND);
    assert_null(b.line);
    json_t *other = json_pack("[i]", 1);
    assert_int_equal(dlc_db_best(db, "llvm", r.task_name, other, &b), DLC_ENOTFOUND);
    assert_int_equal(dlc_db_best(db, "llvm", "dense_pack.x86", r.args, &b), DLC_ENOTFOUND);
    json_decref(other);
    dlc_record_clear(&r);
    dlc_db_close(&db);
}

/* dlc_db_records: a task's records (failures too) in stored order, by exact
 * target and name, with or without args. */
static int collect_index(const dlc_record_t *rec, void *user) {
    int64_t *got = user;
    got[++got[0]] = rec->index * 10 + rec->error_no;
    return got[0] == got[7] ? 7 : 0; /* got[7]: stop there (a nonzero return stops the scan) */
}

static void test_task_records(void **state) {
    const char *dir = tu_scratch("records");
    char path[1100];
    snprintf(path, sizeof path, "%s/r.db", dir);
    dlc_db_t *db = dlc_db_open(path, 0);
    assert_non_null(db);
    dlc_record_t r;
    assert_int_equal(dlc_record_parse(TU_LINE, strlen(TU_LINE), &r), 0);
    json_t *args = json_deep_copy(r.args), *other = json_pack("[i]", 5);
    static const struct {
        const char *target;
        int other_args, error_no;
    } rows[] = {
        {"llvm -mcpu=znver2", 0, 0}, {"llvm -mcpu=znver2", 0, DLC_MEASURE_WRONG_ANSWER},
        {"llvm -mcpu=haswell", 0, 0}, {"llvm -mcpu=znver2", 1, 0}, {"llvm  -mcpu=znver2", 0, 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        free(r.target);
        r.target = strdup(rows[i].target);
        json_decref(r.args);
        r.args = json_deep_copy(rows[i].other_args ? other : args);
        r.error_no = rows[i].error_no;
        r.index = (int64_t)i;
        assert_int_equal(dlc_db_add(db, &r, NULL, NULL), 0);
    }
    int64_t got[8] = {0};
    assert_int_equal(dlc_db_records(db, "llvm -mcpu=znver2", r.task_name, args, collect_index, got), 0);
    assert_int_equal(got[0], 3); /* rows 0, 1 and 4 (the same target spaced out), not haswell nor other args */
    assert_int_equal(got[1], 0);
    assert_int_equal(got[2], 10 + DLC_MEASURE_WRONG_ANSWER);
    assert_int_equal(got[3], 40);
    memset(got, 0, sizeof got);
    got[7] = 3;
    assert_int_equal(dlc_db_records(db, "llvm -mcpu=znver2", r.task_name, NULL, collect_index, got), 7);
    assert_int_equal(got[3], 30); /* any args: row 3 comes before row 4, and the scan stopped there */
    memset(got, 0, sizeof got);
    assert_int_equal(dlc_db_records(db, "llvm", r.task_name, NULL, collect_index, got), 0);
    assert_int_equal(got[0], 0);
    assert_int_equal(dlc_db_records(db, "llvm", NULL, NULL, collect_index, got), DLC_EINVAL);
    json_decref(args);
    json_decref(other);
    dlc_record_clear(&r);
    dlc_db_close(&db);
}

static void test_target_keys(void **state) {
    static const struct {
        const char *target, *text, *model, *keys;
    } cases[] = {
        {"llvm -mcpu=skylake-avx512", "llvm -mcpu=skylake-avx512", "", ",cpu,"},
        {" llvm\t-device=arm_cpu  -model=rk3399 ", "llvm -device=arm_cpu -model=rk3399", "rk3399", ",arm_cpu,cpu,"},
        {"cuda -model=titanx", "cuda -model=titanx", "titanx", ",cuda,gpu,"},
        {"opencl -device=intel_graphics -model=unknown", "opencl -device=intel_graphics -model=unknown", "",
         ",intel_graphics,opencl,gpu,"},
        {"opencl -keys=adreno,opencl,gpu -device=adreno", NULL, "", ",adreno,opencl,gpu,"},
        {"opencl -keys=opencl,gpu -max_num_threads=256", NULL, "", ",opencl,gpu,"},
        {"ext_dev -device=vta -keys=cpu -model=pynq", NULL, "pynq", ",cpu,vta,"}, /* user keys: no defaults */
        {"ext_dev", NULL, "", ","},
        {"vulkan -model=v1000", NULL, "v1000", ",vulkan,gpu,"},
        {"hexagon -mcpu=hexagonv68", NULL, "", ",hexagon,cpu,"},
        {"c -keys=arm_cpu -device=arm_cpu", NULL, "", ",arm_cpu,"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        dlc__db_target_t t;
        char keys[300];
        assert_int_equal(dlc__db_target_info(cases[i].target, &t), 0);
        dlc__db_keys_text(&t, keys, sizeof keys);
        if (cases[i].text)
            assert_string_equal(t.text, cases[i].text);
        assert_string_equal(t.model, cases[i].model);
        assert_string_equal(keys, cases[i].keys);
    }
    dlc__db_target_t t;
    assert_int_equal(dlc__db_target_info("   ", &t), DLC_EINVAL);
    assert_int_equal(dlc__db_target_info(NULL, &t), DLC_EINVAL);
}

/* ---- duplicates, sources, malformed input ---- */

static void test_add_duplicates_and_source(void **state) {
    const char *dir = tu_scratch("dup");
    char path[1100];
    snprintf(path, sizeof path, "%s/d.db", dir);
    dlc_db_t *db = dlc_db_open(path, 0);
    assert_non_null(db);
    dlc_record_t r;
    assert_int_equal(dlc_record_parse(TU_LINE, strlen(TU_LINE), &r), 0);
    dlc_db_source_t src = {"rpi4", "Raspberry Pi 4, 1.5 GHz", "dlc 0.1"};
    int added = -1;
    assert_int_equal(dlc_db_add(db, &r, &src, &added), 0);
    assert_int_equal(added, 1);
    assert_int_equal(dlc_db_add(db, &r, NULL, &added), 0);
    assert_int_equal(added, 0);
    /* the same line with other spacing is the same record */
    char *spaced = malloc(strlen(TU_LINE) * 2);
    size_t k = 0;
    for (const char *p = TU_LINE; *p; p++) {
        spaced[k++] = *p;
        if (*p == ',')
            spaced[k++] = ' ';
    }
    spaced[k] = '\0';
    dlc_db_import_t st = {0};
    assert_int_equal(dlc_db_import_buffer(db, "spaced", spaced, k, NULL, &st), 0);
    assert_int_equal(st.added, 0);
    assert_int_equal(st.duplicates, 1);
    free(spaced);
    assert_int_equal(dlc_db_record_count(db), 1);
    dlc_db_best_t b;
    assert_int_equal(dlc_db_best(db, r.target, r.task_name, r.args, &b), 0);
    assert_string_equal(b.device_key, "rpi4");
    assert_string_equal(b.tool_version, "dlc 0.1");
    assert_string_equal(b.line, TU_LINE);
    dlc_db_best_clear(&b);
    /* a record nobody can write back is refused, not stored */
    r.costs[0] = NAN;
    assert_true(dlc_db_add(db, &r, NULL, &added) < 0);
    assert_int_equal(dlc_db_record_count(db), 1);
    dlc_record_clear(&r);
    dlc_db_close(&db);
}

typedef struct {
    int64_t lines[16];
    int n;
} errs_t;

static void on_err(const char *file, int64_t line, const char *reason, void *user) {
    errs_t *e = user;
    assert_string_equal(file, "bad.log");
    assert_true(strlen(reason) > 0);
    if (e->n < 16)
        e->lines[e->n++] = line;
}

static void test_malformed(void **state) {
    const char *dir = tu_scratch("bad");
    char path[1100];
    snprintf(path, sizeof path, "%s/m.db", dir);
    dlc_db_t *db = dlc_db_open(path, 0);
    assert_non_null(db);
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    dlc_strbuf_printf(&sb, "# a comment\n%s\n", TU_LINE);                   /* 1, 2 */
    dlc_strbuf_append(&sb, "{\"input\": [\"llvm\", \"x\"]}\n");              /* 3: fields missing */
    dlc_strbuf_append(&sb, "not json at all\n");                             /* 4 */
    dlc_strbuf_appendn(&sb, TU_LINE, strlen(TU_LINE) / 2);                   /* 5: truncated */
    dlc_strbuf_append(&sb, "\n\n");                                          /* 6 blank */
    char *wrong = strdup(TU_LINE);
    memcpy(strstr(wrong, "\"index\": 193"), "\"index\": \"x\"", 12);         /* 7: index a string */
    dlc_strbuf_printf(&sb, "%s\n", wrong);
    char *other = strdup(TU_LINE);
    memcpy(strstr(other, "\"index\": 193"), "\"index\": 194", 12);           /* 8: a second good one */
    dlc_strbuf_printf(&sb, "%s\r\n", other);
    dlc_strbuf_append(&sb, "[1, 2, 3]\n");                                   /* 9 */
    dlc_strbuf_appendn(&sb, "{\"a\": \0}\n", 9);                              /* 10: a NUL byte */
    errs_t e = {{0}, 0};
    dlc_db_import_t st = {.on_error = on_err, .user = &e};
    assert_int_equal(dlc_db_import_buffer(db, "bad.log", sb.data, sb.len, NULL, &st), 0);
    assert_int_equal(st.added, 2);
    assert_int_equal(st.malformed, 6);
    assert_int_equal(e.n, 6);
    static const int64_t want[] = {3, 4, 5, 7, 9, 10};
    for (int i = 0; i < 6; i++)
        assert_int_equal(e.lines[i], want[i]);
    assert_int_equal(dlc_db_record_count(db), 2);
    /* strict: the whole buffer is rejected, nothing of it stored */
    memcpy(strstr(other, "\"index\": 194"), "\"index\": 195", 12);
    dlc_strbuf_printf(&sb, "%s\n", other);
    e.n = 0;
    dlc_db_import_t strict = {.strict = 1, .on_error = on_err, .user = &e};
    assert_int_equal(dlc_db_import_buffer(db, "bad.log", sb.data, sb.len, NULL, &strict), DLC_EPARSE);
    assert_int_equal(strict.added, 0);
    assert_int_equal(dlc_db_record_count(db), 2);
    /* unreadable and empty inputs */
    dlc_db_import_t st2 = {0};
    assert_int_equal(dlc_db_import_file(db, "/nonexistent/x.log", NULL, &st2), DLC_EIO);
    assert_int_equal(dlc_db_import_buffer(db, "empty", "", 0, NULL, &st2), 0);
    assert_int_equal(st2.added, 0);
    assert_int_equal(dlc_db_record_count(db), 2);
    assert_int_equal(dlc_db_check(db), 0);
    /* a failed file inside the caller's transaction rolls back only itself */
    assert_int_equal(dlc_db_begin(db), 0);
    assert_int_equal(dlc_db_import_buffer(db, "bad.log", sb.data, sb.len, NULL, &strict), DLC_EPARSE);
    dlc_db_import_t ok = {0};
    assert_int_equal(dlc_db_import_buffer(db, "good", other, strlen(other), NULL, &ok), 0);
    assert_int_equal(ok.added, 1);
    assert_int_equal(dlc_db_commit(db), 0);
    assert_int_equal(dlc_db_record_count(db), 3);
    free(wrong);
    free(other);
    dlc_strbuf_free(&sb);
    dlc_db_close(&db);
}

/* ---- schema versions ---- */

static void test_migrations(void **state) {
    const char *dir = tu_scratch("mig");
    char path[1100];
    snprintf(path, sizeof path, "%s/v.db", dir);
    dlc_db_t *db = dlc__db_open_version(path, 0, 1); /* as an older dlc made it */
    assert_non_null(db);
    assert_int_equal(dlc_db_schema_version(db), 1);
    dlc_db_import_t st = {0};
    assert_int_equal(dlc_db_import_buffer(db, "one", TU_LINE, strlen(TU_LINE), NULL, &st), 0);
    assert_true(dlc_db_model_put(db, "m", "llvm", "xgb", "x", 1) < 0); /* no such table yet */
    dlc_db_close(&db);
    assert_null(dlc_db_open(path, DLC_DB_READONLY)); /* read-only cannot migrate */
    assert_non_null(strstr(dlc_last_error(), "needs 2"));
    db = dlc_db_open(path, 0);
    assert_non_null(db);
    assert_int_equal(dlc_db_schema_version(db), DLC_DB_SCHEMA_VERSION);
    assert_int_equal(dlc_db_record_count(db), 1);
    assert_int_equal(dlc_db_model_put(db, "m", "llvm", "xgb", "x", 1), 0);
    assert_int_equal(dlc__db_exec(db, "UPDATE schema_version SET version = 99"), 0);
    dlc_db_close(&db);
    assert_null(dlc_db_open(path, 0));
    assert_int_equal(dlc_last_status(), DLC_EUNSUPPORTED);
    assert_non_null(strstr(dlc_last_error(), "newer"));
    /* not a database */
    snprintf(path, sizeof path, "%s/junk.db", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < 100; i++)
        fputs("this is not an sqlite file\n", f);
    fclose(f);
    assert_null(dlc_db_open(path, 0));
    assert_true(strlen(dlc_last_error()) > 0);
    snprintf(path, sizeof path, "%s/absent.db", dir);
    assert_null(dlc_db_open(path, DLC_DB_READONLY));
    assert_null(dlc_db_open("", 0));
}

static void test_cost_models(void **state) {
    const char *dir = tu_scratch("models");
    char path[1100];
    snprintf(path, sizeof path, "%s/c.db", dir);
    dlc_db_t *db = dlc_db_open(path, 0);
    assert_non_null(db);
    unsigned char blob[4096];
    for (size_t i = 0; i < sizeof blob; i++)
        blob[i] = (unsigned char)(i * 31 + 7); /* NUL bytes included */
    assert_int_equal(dlc_db_model_put(db, "conv2d", "llvm -mcpu=skylake-avx512", "xgb-rank", blob, sizeof blob), 0);
    char *kind;
    void *data;
    size_t len;
    assert_int_equal(dlc_db_model_get(db, "conv2d", "llvm -mcpu=skylake-avx512", &kind, &data, &len), 0);
    assert_string_equal(kind, "xgb-rank");
    assert_int_equal(len, sizeof blob);
    assert_memory_equal(data, blob, sizeof blob);
    free(kind);
    free(data);
    assert_int_equal(dlc_db_model_put(db, "conv2d", "llvm -mcpu=skylake-avx512", "xgb-reg", "ab", 2), 0);
    assert_int_equal(dlc_db_model_get(db, "conv2d", "llvm -mcpu=skylake-avx512", &kind, &data, &len), 0);
    assert_string_equal(kind, "xgb-reg");
    assert_int_equal(len, 2);
    free(kind);
    free(data);
    assert_int_equal(dlc_db_model_put(db, "empty", "llvm", "none", NULL, 0), 0);
    assert_int_equal(dlc_db_model_get(db, "empty", "llvm", NULL, &data, &len), 0);
    assert_int_equal(len, 0);
    free(data);
    assert_int_equal(dlc_db_model_get(db, "conv2d", "cuda", &kind, &data, &len), DLC_ENOTFOUND);
    assert_null(data);
    assert_int_equal(dlc_db_model_put(db, NULL, "llvm", "x", "a", 1), DLC_EINVAL);
    dlc_db_close(&db);
}

/* The best query is one statement that searches indexes (no table scan). */
static void test_query_plan(void **state) {
    if (!g_db)
        skip();
    sqlite3_stmt *s = dlc__db_stmt(g_db, DLC__DB_STMT_BEST);
    assert_non_null(s);
    char sql[4096];
    snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s", sqlite3_sql(s));
    sqlite3_stmt *plan;
    assert_int_equal(sqlite3_prepare_v2(g_db->h, sql, -1, &plan, NULL), SQLITE_OK);
    int rows = 0;
    while (sqlite3_step(plan) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(plan, 3);
        fprintf(stderr, "  plan: %s\n", detail);
        assert_null(strstr(detail, "SCAN"));
        rows++;
    }
    sqlite3_finalize(plan);
    assert_true(rows >= 2);
}

/* ---- compile time: the tuned config of a task ---- */

static void test_apply_best(void **state) {
    if (!g_db)
        skip();
    int applied = 0;
    for (int i = 0; i < g_n; i++) {
        const entry_t *e = &g_entries[i];
        if (strcmp(e->target, "llvm -mcpu=skylake-avx512") != 0)
            continue;
        dlc_target_t tgt;
        assert_int_equal(dlc_target_parse(e->target, &tgt), 0);
        dlc_task_t *task = NULL;
        if (dlc_task_create(e->rec.task_name, e->rec.args, &tgt, &task) < 0)
            fail_msg("task %s: %s", e->wl, dlc_last_error());
        dlc_config_t *cfg = NULL;
        dlc_db_best_t b;
        if (dlc_db_apply_best(g_db, task, &cfg, &b) != 0)
            fail_msg("apply %s: %s", e->wl, dlc_last_error());
        /* the chosen config is the best record's entity, at its TVM index */
        assert_int_equal(dlc_config_index(cfg), b.rec.index);
        dlc_config_t *want = NULL;
        assert_int_equal(dlc_config_from_entity_json(dlc_task_space(task), b.rec.entity, &want), 0);
        assert_int_equal(dlc_config_index(cfg), dlc_config_index(want));
        assert_int_equal(b.match, DLC_DB_MATCH_EXACT);
        dlc_config_destroy(&want);
        dlc_config_destroy(&cfg);
        dlc_db_best_clear(&b);
        dlc_task_destroy(&task);
        applied++;
    }
    fprintf(stderr, "  dlc_db_apply_best: %d llvm TopHub tasks get their record's config\n", applied);
    assert_int_equal(applied, 35);
}

/* Counts "no tuned config" warnings written to stderr while fn runs. */
static int count_warnings(void (*fn)(void *), void *arg) {
    char path[1200];
    snprintf(path, sizeof path, "%s/stderr.txt", g_dir[0] ? g_dir : "/tmp");
    fflush(stderr);
    int saved = dup(2);
    FILE *f = fopen(path, "w+");
    assert_non_null(f);
    dup2(fileno(f), 2);
    fn(arg);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    rewind(f);
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, "no tuned config for dense_pack.x86") != NULL;
    fclose(f);
    return n;
}

typedef struct {
    dlc_db_t *db;
    dlc_task_t *task;
    int calls;
} apply_arg_t;

static void apply_n(void *p) {
    apply_arg_t *a = p;
    for (int i = 0; i < a->calls; i++) {
        dlc_config_t *cfg = (dlc_config_t *)1;
        assert_int_equal(dlc_db_apply_best(a->db, a->task, &cfg, NULL), DLC_ENOTFOUND);
        assert_null(cfg);
    }
}

static void test_apply_fallback_warns_once(void **state) {
    const char *dir = tu_scratch("apply");
    char path[1100];
    snprintf(path, sizeof path, "%s/empty.db", dir);
    dlc_db_t *db = dlc_db_open(path, 0);
    assert_non_null(db);
    dlc_target_t tgt;
    assert_int_equal(dlc_target_parse("llvm -mcpu=skylake-avx512", &tgt), 0);
    dlc_op_spec_t spec;
    assert_int_equal(dlc_op_parse("dense:64,64,64", &spec), 0);
    dlc_task_t *task = NULL;
    assert_int_equal(dlc_task_from_spec(&spec, "dense_pack.x86", &tgt, &task), 0);
    apply_arg_t a = {db, task, 3};
    assert_int_equal(count_warnings(apply_n, &a), 1); /* once per task, not per call */
    assert_int_equal(count_warnings(apply_n, &a), 0);
    dlc_task_t *other = NULL;
    assert_int_equal(dlc_op_parse("dense:32,64,64", &spec), 0);
    assert_int_equal(dlc_task_from_spec(&spec, "dense_pack.x86", &tgt, &other), 0);
    a.task = other;
    assert_int_equal(count_warnings(apply_n, &a), 1); /* another task warns once too */
    dlc_task_destroy(&other);
    dlc_task_destroy(&task);
    dlc_db_close(&db);
}

/* ---- four processes, one file ---- */

static int child_work(const char *db_path, const char *log_a, const char *log_b, int n) {
    dlc_db_t *db = dlc_db_open(db_path, 0);
    if (!db) {
        fprintf(stderr, "child %d: open: %s\n", (int)getpid(), dlc_last_error());
        return 1;
    }
    dlc_record_t r;
    dlc_record_parse(TU_LINE, strlen(TU_LINE), &r);
    int rc = 0;
    for (int round = 0; round < 2 && rc == 0; round++) {
        dlc_db_import_t st = {0};
        rc = dlc_db_import_file(db, round ? log_b : log_a, NULL, &st);
        if (rc == 0 && st.added != n)
            rc = dlc_error(DLC_EIO, "imported %lld of %d", (long long)st.added, n);
        for (int q = 0; q < 200 && rc == 0; q++) {
            dlc_db_best_t b;
            rc = dlc_db_best(db, "llvm -mcpu=skylake-avx512", r.task_name, r.args, &b);
            if (rc == 0 && b.rec.error_no != 0)
                rc = dlc_error(DLC_EIO, "best returned a failed record");
            dlc_db_best_clear(&b);
            if (rc == 0 && dlc_db_record_count(db) < n)
                rc = dlc_error(DLC_EIO, "count went backwards");
        }
    }
    if (rc < 0)
        fprintf(stderr, "child %d: %s\n", (int)getpid(), dlc_last_error());
    dlc_record_clear(&r);
    dlc_db_close(&db);
    return rc < 0;
}

static void test_four_processes(void **state) {
    const char *d = tu_scratch("procs");
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", d);
    char db_path[1100], logs[8][1100];
    snprintf(db_path, sizeof db_path, "%s/shared.db", dir);
    enum { N = 1500, P = 4 };
    for (int i = 0; i < 2 * P; i++) {
        snprintf(logs[i], sizeof logs[i], "%s/p%d.log", dir, i);
        assert_int_equal(tu_write_synthetic(logs[i], N, i + 1), 0);
    }
    pid_t pids[P];
    double t0 = dlc_now();
    for (int p = 0; p < P; p++) {
        pids[p] = fork();
        assert_true(pids[p] >= 0);
        if (pids[p] == 0) {
            alarm(120); /* bounded even if something hangs */
            _exit(child_work(db_path, logs[2 * p], logs[2 * p + 1], N));
        }
    }
    for (int p = 0; p < P; p++) {
        int status = 0;
        assert_int_equal(waitpid(pids[p], &status, 0), pids[p]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("child %d failed (status 0x%x)", p, status);
    }
    dlc_db_t *db = dlc_db_open(db_path, 0);
    assert_non_null(db);
    assert_int_equal(dlc_db_record_count(db), 2 * P * N);
    assert_int_equal(dlc_db_check(db), 0);
    fprintf(stderr, "  %d processes imported %d records and ran %d queries in %.2f s; integrity ok\n", P, 2 * P * N,
            P * 400, dlc_now() - t0);
    dlc_db_close(&db);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tophub_round_trip),
        cmocka_unit_test(test_best_brute_force),
        cmocka_unit_test(test_best_matches_apply_history_best),
        cmocka_unit_test(test_query_plan),
        cmocka_unit_test(test_apply_best),
        cmocka_unit_test(test_apply_fallback_warns_once),
        cmocka_unit_test(test_exact_first),
        cmocka_unit_test(test_target_keys),
        cmocka_unit_test(test_task_records),
        cmocka_unit_test(test_add_duplicates_and_source),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_migrations),
        cmocka_unit_test(test_cost_models),
        cmocka_unit_test(test_four_processes),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
