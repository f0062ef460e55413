/* bench_templates.c — dlc's x86 templates against OpenBLAS and oneDNN in one
 * run. For dense 1024³ (dense_pack.x86, dense_nopack.x86) and three ResNet-18
 * 3×3 conv2d layers (conv2d_NCHWc.x86): N random configs per template (the
 * random tuner of AutoTVM, no cost model) are generated several per
 * translation unit, built two compilers at a time, then measured one by one
 * with dlc-runner. The best few are built again, checked against the naive
 * reference and measured longer at 1 and 2 threads, each next to its peer.
 * Prints a Markdown table on stdout, progress on stderr. Exit status: 0, 1 if
 * a best config failed verification, 2 on another error.
 *
 * usage: bench_templates [--configs N] [--quick] [--top K] [--only SUBSTR]
 *            [--jobs J] [--per-unit U] [--build-timeout S] [--max-c-kib K]
 *            [--search-threads T] [--cutoff F] [--seed S] [--log FILE]
 *            [--from-log FILE] [--check-all]
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "bench_build.h"
#include "bench_peers.h"

typedef enum { PEER_SGEMM, PEER_DNNL } peer_kind_t;

typedef struct {
    const char *label; /* for the table */
    const char *spec;  /* dlc-build --op grammar */
    const char *tmpl;  /* TVM task name */
    peer_kind_t peer;
} bench_task_t;

static const bench_task_t k_tasks[] = {
    {"dense 1024×1024×1024", "dense:1024,1024,1024", "dense_pack.x86", PEER_SGEMM},
    {"dense 1024×1024×1024", "dense:1024,1024,1024", "dense_nopack.x86", PEER_SGEMM},
    {"conv2d 64×56×56, k64 3×3", "conv2d:1,64,56,56,64,3,3,1,1", "conv2d_NCHWc.x86", PEER_DNNL},
    {"conv2d 128×28×28, k128 3×3", "conv2d:1,128,28,28,128,3,3,1,1", "conv2d_NCHWc.x86", PEER_DNNL},
    {"conv2d 256×14×14, k256 3×3", "conv2d:1,256,14,14,256,3,3,1,1", "conv2d_NCHWc.x86", PEER_DNNL},
};
#define N_TASKS (int)(sizeof k_tasks / sizeof k_tasks[0])

typedef struct {
    int configs;        /* random configs per task */
    int top;            /* best configs of the search measured again and checked */
    bench_build_opts_t build;
    int search_threads; /* threads while searching */
    int search_repeat;
    double search_ms;   /* min_repeat_ms while searching */
    double timeout_s;   /* per measurement while searching (AutoTVM's default is 10) */
    double cutoff;      /* stop a config that runs cutoff× longer than the best so far (0: never) */
    int final_repeat;
    double final_ms;    /* min_repeat_ms of the final measurements and of the peers */
    int check_all;      /* check every config against the reference while searching */
    uint64_t seed;
    const char *only, *log_path, *from_log;
} opts_t;

static dlc_target_t g_target;

/* ---- measuring ---- */

/* Appends one TVM v0.2 record for a trial to the log. */
static void log_trial(FILE *log, dlc_task_t *task, const bench_trial_t *t, const dlc_measure_result_t *r, double all_cost) {
    if (!log) return;
    dlc_config_t *cfg;
    if (dlc_space_get(dlc_task_space(task), t->index, &cfg) < 0) return;
    dlc_record_t rec;
    dlc_record_init(&rec);
    rec.target = strdup(g_target.str);
    rec.task_name = strdup(dlc_task_template(task)->name);
    rec.args = json_deep_copy(dlc_task_args(task));
    rec.kwargs = json_object();
    dlc_record_set_config(&rec, cfg);
    rec.n_costs = t->error_no || !r ? 1 : r->n_costs;
    rec.costs = calloc((size_t)rec.n_costs, sizeof *rec.costs);
    for (int i = 0; i < rec.n_costs; i++) rec.costs[i] = t->error_no || !r ? 1e9 : r->costs[i];
    rec.error_no = t->error_no;
    rec.all_cost = all_cost;
    rec.timestamp = (double)time(NULL);
    if (dlc_record_write(log, &rec) < 0) fprintf(stderr, "log: %s\n", dlc_last_error());
    dlc_record_clear(&rec);
    dlc_config_destroy(&cfg);
}

/* Measures the built trials one by one; returns how many the cutoff stopped. */
static int measure_trials(dlc_task_t *task, bench_trial_t *trials, int n, const opts_t *o, const char *what, FILE *log) {
    char label[160], status[96];
    int cut = 0;
    snprintf(label, sizeof label, "measure %s", what);
    dlc_progress_t *bar = dlc_progress_new(label, n, 0);
    double best = INFINITY, flops = dlc_task_flops(task);
    for (int i = 0; i < n; i++) {
        bench_trial_t *t = &trials[i];
        t->cost = INFINITY;
        dlc_measure_result_t r;
        double t0 = dlc_now();
        if (!t->error_no) {
            dlc_measure_opts_t mo = DLC_MEASURE_OPTS_DEFAULT;
            mo.repeat = o->search_repeat;
            mo.min_repeat_ms = o->search_ms;
            mo.check = o->check_all;
            mo.threads = o->search_threads;
            mo.timeout_s = o->timeout_s;
            /* a run that cannot come near the best: about 2 + repeat calls, plus start-up */
            int cutting = 0;
            double limit = o->cutoff * best * (2 + mo.repeat) + 0.3;
            if (o->cutoff > 0 && !o->check_all && isfinite(best) && limit < mo.timeout_s) {
                mo.timeout_s = limit;
                cutting = 1;
            }
            char entry[32];
            bench_entry_name(t->index, entry, sizeof entry);
            int rc = dlc_measure(&g_target, t->so, entry, &mo, &r);
            t->error_no = dlc_measure_error_no(rc, &r, 0, NULL, 0);
            cut += cutting && t->error_no == DLC_MEASURE_RUN_TIMEOUT;
            if (!t->error_no) t->cost = r.mean_s;
            else if (t->error_no == DLC_MEASURE_WRONG_ANSWER)
                fprintf(stderr, "\n%s config %lld: WRONG ANSWER (max abs err %g): %s\n", dlc_task_template(task)->name,
                        (long long)t->index, r.max_abs_err, r.message);
        }
        log_trial(log, task, t, t->error_no ? NULL : &r, dlc_now() - t0);
        if (t->cost < best) best = t->cost;
        snprintf(status, sizeof status, "best %.1f GFLOP/s", isfinite(best) ? flops / best * 1e-9 : 0.0);
        dlc_progress_update(bar, i + 1, status);
    }
    dlc_progress_destroy(&bar);
    return cut;
}

/* The final measurement of one object's entry at `threads`, with the check on.
 * Returns the best repeat (seconds per call) or INFINITY; *wrong set on a wrong answer. */
static double measure_final(const char *so, int64_t index, int threads, const opts_t *o, int *wrong, double *err) {
    dlc_measure_opts_t mo = DLC_MEASURE_OPTS_DEFAULT;
    mo.repeat = o->final_repeat;
    mo.min_repeat_ms = o->final_ms;
    mo.check = 1;
    mo.threads = threads;
    mo.timeout_s = 600;
    char entry[32];
    bench_entry_name(index, entry, sizeof entry);
    dlc_measure_result_t r;
    int rc = dlc_measure(&g_target, so, entry, &mo, &r);
    *err = rc == 0 ? r.max_abs_err : 0;
    int e = dlc_measure_error_no(rc, &r, 1, NULL, 0); /* not checked counts as wrong here */
    *wrong = e == DLC_MEASURE_WRONG_ANSWER;
    if (e) {
        fprintf(stderr, "config %lld at %d threads: %s: %s\n", (long long)index, threads, dlc_measure_error_name(e),
                rc < 0 ? dlc_last_error() : r.message);
        return INFINITY;
    }
    double best = INFINITY;
    for (int i = 0; i < r.n_costs; i++)
        if (r.costs[i] < best) best = r.costs[i];
    return best;
}

/* ---- the search's best configs from an earlier log (--from-log) ---- */

typedef struct {
    dlc_task_t *task;
    bench_trial_t *trials;
    int n, cap;
} log_pick_t;

static int on_record(const dlc_record_t *rec, int64_t line, void *user) {
    log_pick_t *p = user;
    if (rec->error_no || strcmp(rec->task_name, dlc_task_template(p->task)->name) ||
        !json_equal(rec->args, (json_t *)dlc_task_args(p->task)) || rec->n_costs < 1)
        return 0;
    dlc_config_t *cfg;
    if (dlc_config_from_entity_json(dlc_task_space(p->task), rec->entity, &cfg) < 0) return 0;
    double sum = 0;
    for (int i = 0; i < rec->n_costs; i++) sum += rec->costs[i];
    if (p->n == p->cap) {
        p->cap = p->cap ? 2 * p->cap : 64;
        p->trials = realloc(p->trials, sizeof *p->trials * (size_t)p->cap);
        if (!p->trials) abort();
    }
    p->trials[p->n++] = (bench_trial_t){dlc_config_index(cfg), 0, sum / rec->n_costs, NULL, 0};
    dlc_config_destroy(&cfg);
    return 0;
}

static int cmp_cost(const void *a, const void *b) {
    const bench_trial_t *x = a, *y = b;
    return x->cost < y->cost ? -1 : x->cost > y->cost;
}

/* ---- main ---- */

static void usage(FILE *f) {
    fputs("usage: bench_templates [--configs N] [--quick] [--top K] [--only SUBSTR] [--jobs J]\n"
          "           [--per-unit U] [--build-timeout S] [--max-c-kib K] [--search-threads T] [--cutoff F]\n"
          "           [--seed S] [--log FILE] [--from-log FILE] [--check-all]\n"
          "  --configs N         random configs per template (default 300; fewer if the space is smaller)\n"
          "  --quick             smoke run: 6 configs, top 2, short final measurements\n"
          "  --top K             best configs of the search measured again and checked (default 4)\n"
          "  --only SUBSTR       only tasks whose template or spec contains SUBSTR\n"
          "  --jobs J            compilers at once (default 2)\n"
          "  --per-unit U        configs per translation unit (default 8)\n"
          "  --build-timeout S   compile time limit per config (default 10 s, as AutoTVM's LocalBuilder)\n"
          "  --max-c-kib K       configs with more generated C are not compiled: BUILD_TIMEOUT (default 512,\n"
          "                      0: no limit)\n"
          "  --search-threads T  threads while searching (default 2)\n"
          "  --cutoff F          stop a config once it runs F times longer than the best so far would\n"
          "                      (RUN_TIMEOUT; default 2, 0: only the 10 s timeout)\n"
          "  --seed S            seed of the config sampler (default 1)\n"
          "  --log FILE          append every measured config as a TVM v0.2 log line\n"
          "  --from-log FILE     no search: take the best configs of each task from FILE\n"
          "  --check-all         check every config against the reference while searching\n",
          f);
}

static void cpu_model(char *out, size_t cap) {
    snprintf(out, cap, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[4096], model[256] = "", fam[32] = "", mod[32] = "";
    int avx2 = 0, avx512 = 0;
    while (fgets(line, sizeof line, f)) {
        char *v = strchr(line, ':');
        if (!v) continue;
        v += 1 + (v[1] == ' ');
        v[strcspn(v, "\n")] = '\0';
        if (!model[0] && !strncmp(line, "model name", 10)) snprintf(model, sizeof model, "%s", v);
        else if (!fam[0] && !strncmp(line, "cpu family", 10)) snprintf(fam, sizeof fam, "%s", v);
        else if (!mod[0] && !strncmp(line, "model\t", 6)) snprintf(mod, sizeof mod, "%s", v);
        else if (!strncmp(line, "flags", 5)) {
            avx2 = strstr(v, " avx2") != NULL;
            avx512 = strstr(v, " avx512f") != NULL;
        }
    }
    fclose(f);
    snprintf(out, cap, "%s (family %s model %s), %ld CPUs, %s%s", model, fam, mod, sysconf(_SC_NPROCESSORS_ONLN),
             avx2 ? "AVX2" : "no AVX2", avx512 ? ", AVX-512" : ", no AVX-512");
}

static void loadavg(char *out, size_t cap) {
    snprintf(out, cap, "?");
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f) return;
    double a, b, c;
    if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3) snprintf(out, cap, "%.2f %.2f %.2f", a, b, c);
    fclose(f);
}

static int parse_opts(int argc, char **argv, opts_t *o) {
    *o = (opts_t){300, 4, BENCH_BUILD_OPTS_DEFAULT, 2, 3, 20.0, 10.0, 2.0, 20, 50.0, 0, 1, NULL, NULL, NULL};
    for (int i = 1; i < argc; i++) /* --quick sets defaults; other flags override them */
        if (!strcmp(argv[i], "--quick")) {
            o->configs = 6;
            o->top = 2;
            o->final_repeat = 3;
            o->final_ms = 20.0;
        }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--quick")) {
        } else if (!strcmp(a, "--check-all")) {
            o->check_all = 1;
        } else if (v && !strcmp(a, "--configs")) o->configs = atoi(argv[++i]);
        else if (v && !strcmp(a, "--top")) o->top = atoi(argv[++i]);
        else if (v && !strcmp(a, "--jobs")) o->build.jobs = atoi(argv[++i]);
        else if (v && !strcmp(a, "--per-unit")) o->build.per_unit = atoi(argv[++i]);
        else if (v && !strcmp(a, "--build-timeout")) o->build.timeout_s = atof(argv[++i]);
        else if (v && !strcmp(a, "--max-c-kib")) o->build.max_bytes = (size_t)atol(argv[++i]) * 1024;
        else if (v && !strcmp(a, "--search-threads")) o->search_threads = atoi(argv[++i]);
        else if (v && !strcmp(a, "--cutoff")) o->cutoff = atof(argv[++i]);
        else if (v && !strcmp(a, "--seed")) o->seed = strtoull(argv[++i], NULL, 10);
        else if (v && !strcmp(a, "--only")) o->only = argv[++i];
        else if (v && !strcmp(a, "--log")) o->log_path = argv[++i];
        else if (v && !strcmp(a, "--from-log")) o->from_log = argv[++i];
        else {
            fprintf(stderr, "bench_templates: bad argument '%s'\n", a);
            usage(stderr);
            return -1;
        }
    }
    if (o->configs < 1 || o->top < 1 || o->top > 32 || o->build.jobs < 1 || o->build.jobs > 32 ||
        o->build.per_unit < 1 || o->build.per_unit > 32 || o->build.timeout_s <= 0 || o->search_threads < 0) {
        fprintf(stderr, "bench_templates: --configs, --top, --jobs, --per-unit (<= 32) and --build-timeout must be positive\n");
        return -1;
    }
    return 0;
}

typedef struct {
    char entity[512];
    double dlc_gflops, peer_gflops, dlc_err, peer_err;
    char peer_impl[160];
    int threads;
    int checked, wrong; /* configs of the final set checked against the reference, and how many failed */
} row_t;

typedef struct {
    row_t rows[2];      /* 1 and 2 threads */
    int ran;
    char summary[512];  /* what the search found */
} task_result_t;

/* Search (or log pick), then the final measurements of one task; fills rows[0..1]. */
static int run_task(const bench_task_t *bt, const opts_t *o, FILE *log, task_result_t *res) {
    row_t *rows = res->rows;
    dlc_op_spec_t spec;
    dlc_task_t *task = NULL;
    if (dlc_op_parse(bt->spec, &spec) < 0 || dlc_task_from_spec(&spec, bt->tmpl, &g_target, &task) < 0) {
        fprintf(stderr, "%s %s: %s\n", bt->tmpl, bt->spec, dlc_last_error());
        return 2;
    }
    dlc_space_t *sp = dlc_task_space(task);
    double flops = dlc_task_flops(task), t0 = dlc_now();
    char what[128];
    snprintf(what, sizeof what, "%s %s", bt->tmpl, bt->spec + strcspn(bt->spec, ":") + 1);
    bench_trial_t *trials = NULL;
    int n = 0;
    if (o->from_log) {
        log_pick_t p = {task, NULL, 0, 0};
        dlc_record_reader_t rd = {on_record, NULL, &p, 0, 0, 0, 0};
        if (dlc_record_read_file(o->from_log, &rd) < 0) {
            fprintf(stderr, "%s: %s\n", o->from_log, dlc_last_error());
            dlc_task_destroy(&task);
            return 2;
        }
        trials = p.trials;
        n = p.n;
        snprintf(res->summary, sizeof res->summary, "%d records in %s", n, o->from_log);
    } else {
        int64_t size = dlc_space_size(sp);
        n = (int64_t)o->configs < size ? o->configs : (int)size;
        trials = calloc((size_t)n, sizeof *trials);
        dlc_space_sampler_t *smp = dlc_space_sampler_new(sp, o->seed);
        if (!trials || !smp) abort();
        for (int i = 0; i < n; i++)
            if (dlc_space_sampler_next(smp, &trials[i].index) < 0) n = i;
        dlc_space_sampler_destroy(&smp);
        int too_big = bench_build(task, &g_target, trials, n, &o->build, what);
        double tb = dlc_now();
        int cut = measure_trials(task, trials, n, o, what, log);
        int errs[DLC_MEASURE_ERROR_COUNT] = {0};
        for (int i = 0; i < n; i++) errs[trials[i].error_no]++;
        dlc_strbuf_t sb;
        dlc_strbuf_init(&sb);
        dlc_strbuf_printf(&sb, "space %lld, %d random configs built in %.0f s and measured in %.0f s:", (long long)size,
                          n, tb - t0, dlc_now() - tb);
        for (int e = 0; e < DLC_MEASURE_ERROR_COUNT; e++)
            if (errs[e]) dlc_strbuf_printf(&sb, " %s %d,", dlc_measure_error_name(e), errs[e]);
        dlc_strbuf_printf(&sb, " %d not compiled (C over %zu KiB), %d stopped by the cutoff", too_big,
                          o->build.max_bytes / 1024, cut);
        snprintf(res->summary, sizeof res->summary, "%s", sb.data);
        dlc_strbuf_free(&sb);
    }
    fprintf(stderr, "%s: %s\n", what, res->summary);
    /* the best few, rebuilt together and measured again with the check on */
    qsort(trials, (size_t)n, sizeof *trials, cmp_cost);
    int k = 0;
    for (int i = 0; i < n && k < o->top && isfinite(trials[i].cost); i++) {
        int dup = 0; /* a log may hold a config more than once */
        for (int j = 0; j < k; j++) dup |= trials[j].index == trials[i].index;
        if (!dup) trials[k++].index = trials[i].index;
    }
    int rc = 0;
    if (k == 0) {
        fprintf(stderr, "%s: no config ran\n", what);
        rc = 2;
    }
    bench_trial_t *best = calloc((size_t)(k ? k : 1), sizeof *best);
    if (!best) abort();
    for (int i = 0; i < k; i++) best[i].index = trials[i].index;
    bench_build_opts_t one = o->build;
    one.per_unit = k ? k : 1;
    one.unit_bytes = (size_t)-1;
    if (k) bench_build(task, &g_target, best, k, &one, what);
    for (int th = 1; th <= 2 && k; th++) {
        row_t *row = &rows[th - 1];
        memset(row, 0, sizeof *row);
        row->threads = th;
        double bc = INFINITY, berr = 0;
        int64_t bi = -1;
        for (int i = 0; i < k; i++) {
            if (best[i].error_no || !best[i].so) continue;
            int wrong = 0;
            double err, c = measure_final(best[i].so, best[i].index, th, o, &wrong, &err);
            row->checked++;
            if (wrong) {
                fprintf(stderr, "%s config %lld FAILED verification at %d threads (max abs err %g)\n", what,
                        (long long)best[i].index, th, err);
                row->wrong++;
                rc = rc ? rc : 1;
            }
            if (c < bc) bc = c, bi = best[i].index, berr = err;
        }
        if (bi < 0) {
            rc = rc ? rc : 2;
            continue;
        }
        dlc_config_t *cfg;
        if (dlc_space_get(sp, bi, &cfg) == 0) {
            json_t *e = dlc_config_to_entity_json(cfg);
            char *s = dlc_json_dumps(e);
            snprintf(row->entity, sizeof row->entity, "%s", s ? s : "?");
            free(s);
            json_decref(e);
            dlc_config_destroy(&cfg);
        }
        row->dlc_gflops = flops / bc * 1e-9;
        row->dlc_err = berr;
        peer_timing_t pt = {o->final_repeat, o->final_ms};
        peer_result_t pr;
        int prc = bt->peer == PEER_SGEMM ? peer_sgemm_nt(spec.p[0], spec.p[1], spec.p[2], th, &pt, &pr)
                                         : peer_dnnl_conv(spec.p, th, &pt, &pr);
        snprintf(row->peer_impl, sizeof row->peer_impl, "%s", pr.impl);
        if (prc < 0) {
            fprintf(stderr, "%s: peer failed: %s\n", what, pr.impl);
            rc = rc ? rc : 2;
        } else {
            row->peer_gflops = flops / pr.best_s * 1e-9;
            row->peer_err = pr.max_err;
        }
        fprintf(stderr, "%s, %d thread%s: dlc %.1f GFLOP/s (config %lld), peer %.1f GFLOP/s\n", what, th,
                th > 1 ? "s" : "", row->dlc_gflops, (long long)bi, row->peer_gflops);
    }
    for (int i = 0; i < n; i++) free(trials[i].so);
    for (int i = 0; i < k; i++) free(best[i].so);
    free(trials);
    free(best);
    dlc_task_destroy(&task);
    return rc;
}

int main(int argc, char **argv) {
    peer_openblas_at_its_best(argv);
    opts_t o;
    if (parse_opts(argc, argv, &o) < 0) return 2;
    if (dlc_target_parse("llvm", &g_target) < 0) {
        fprintf(stderr, "%s\n", dlc_last_error());
        return 2;
    }
    FILE *log = NULL;
    if (o.log_path && !(log = fopen(o.log_path, "a"))) {
        perror(o.log_path);
        return 2;
    }
    double t0 = dlc_now();
    char cpu[512], load0[64], date[64], blas[512], dnnl[128];
    cpu_model(cpu, sizeof cpu);
    loadavg(load0, sizeof load0);
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M %Z", localtime(&now));
    peer_sgemm_describe(blas, sizeof blas);
    peer_dnnl_describe(dnnl, sizeof dnnl);

    static task_result_t res[N_TASKS];
    int rc = 0;
    for (int t = 0; t < N_TASKS; t++) {
        if (o.only && !strstr(k_tasks[t].tmpl, o.only) && !strstr(k_tasks[t].spec, o.only)) continue;
        res[t].ran = 1;
        int r = run_task(&k_tasks[t], &o, log, &res[t]);
        if (r && (!rc || r < rc)) rc = r;
    }
    if (log) fclose(log);
    char load1[64];
    loadavg(load1, sizeof load1);

    printf("bench_templates — %s\n\n", date);
    printf("- machine: %s\n", cpu);
    printf("- command: `");
    for (int i = 0; i < argc; i++) printf("%s%s", i ? " " : "", argv[i]);
    printf("`\n");
    printf("- target `%s` (cc %s), search: %s, %d threads, repeat %d, min_repeat_ms %g, timeout %g s, seed %llu\n",
           g_target.str, g_target.cflags, o.from_log ? "configs from the log" : "random configs", o.search_threads,
           o.search_repeat, o.search_ms, o.timeout_s, (unsigned long long)o.seed);
    printf("- final: the best %d configs of the search measured again with dlc-runner and checked against the "
           "naive reference; dlc and peers: best of %d repeats, each repeat >= %g ms of calls\n",
           o.top, o.final_repeat, o.final_ms);
    printf("- peers: %s; %s\n", blas, dnnl);
    printf("- load average: %s at start, %s at end; wall time %.0f s\n\n", load0, load1, dlc_now() - t0);
    printf("| task | template | threads | dlc GFLOP/s | peer | peer GFLOP/s | dlc / peer | checked | best config (entity) |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (int t = 0; t < N_TASKS; t++)
        for (int th = 0; th < 2; th++) {
            const row_t *r = &res[t].rows[th];
            if (!res[t].ran || !r->threads) continue;
            printf("| %s | %s | %d | %.1f | %s | %.1f | %.2f | %d/%d ok | `%s` |\n", k_tasks[t].label, k_tasks[t].tmpl,
                   r->threads, r->dlc_gflops, k_tasks[t].peer == PEER_SGEMM ? "OpenBLAS" : "oneDNN", r->peer_gflops,
                   r->peer_gflops > 0 ? r->dlc_gflops / r->peer_gflops : 0.0, r->checked - r->wrong, r->checked,
                   r->entity);
        }
    printf("\nsearch:\n");
    for (int t = 0; t < N_TASKS; t++)
        if (res[t].ran) printf("- %s, %s: %s\n", k_tasks[t].label, k_tasks[t].tmpl, res[t].summary);
    printf("\npeers (each spot-checked against a naive loop: max abs err) and dlc's max abs err against its reference:\n");
    for (int t = 0; t < N_TASKS; t++)
        for (int th = 0; th < 2; th++) {
            const row_t *r = &res[t].rows[th];
            if (res[t].ran && r->threads)
                printf("- %s, %s, %d thread%s: %s (err %.2g); dlc err %.2g\n", k_tasks[t].label, k_tasks[t].tmpl,
                       r->threads, th ? "s" : "", r->peer_impl, r->peer_err, r->dlc_err);
        }
    return rc;
}
