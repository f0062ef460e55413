/* dlc_tune_main.c — dlc-tune: tunes one or more tasks (operators given as
 * --op SPECs, or a TVM task name and args) for a target, measuring locally or
 * on a fleet, writing every result to the tuning database as it arrives.
 *
 * Exit codes: 0 every task found at least one valid config; 1 a task found
 * none, or tuning failed (db, tracker); 2 usage error; 130 interrupted
 * (Ctrl-C; what was measured is stored: rerun with --resume). */
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/dlc_db_http.h"
#include "tuner/dlc_tune.h"

enum { EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_INTERRUPTED = 130 };
#define MAX_TASKS 32

static const char usage[] =
    "usage: dlc-tune (--op SPEC... | --task NAME --args JSON) [--target TARGET]\n"
    "                [--trials N] [--tuner xgb|ga|random|grid] [--early-stopping N]\n"
    "                [--db PATH_OR_URL] [--resume] [--tracker HOST:PORT --key KEY]\n"
    "                [--number N] [--repeat N] [--min-repeat-ms MS] [--timeout S] [--json]\n"
    "       dlc-tune --help | --version\n"
    "\n"
    "Tunes each task: a tuner proposes configs of the task's template, they are\n"
    "compiled (several per compiler call, compilers in parallel), measured and\n"
    "checked against the naive reference, and every result is written to the\n"
    "tuning database at once. dlc-build --db then builds with the best config.\n"
    "\n"
    "tasks:\n"
    "  --op SPEC           an operator (dlc-build's grammar, see dlc-build --help);\n"
    "                      repeatable: each becomes a task, tuned in turn\n"
    "  --template NAME     the template for the --op tasks (default: the target's\n"
    "                      first candidate; dlc-build --list-templates --op SPEC);\n"
    "                      all: a task per candidate (not the .generic fallbacks),\n"
    "                      each with the --trials budget; dlc-build --db then\n"
    "                      builds the template whose best record is fastest\n"
    "  --task NAME --args JSON   a TVM task by name with its args as in a log line\n"
    "  --target TARGET     TVM target string (default \"llvm\": this machine)\n"
    "\n"
    "search:\n"
    "  --trials N          trials per task (default 200)\n"
    "  --tuner KIND        xgb (default: XGBoost model + simulated annealing),\n"
    "                      ga, random or grid\n"
    "  --early-stopping N  stop a task after N trials without a better config\n"
    "  --features KIND     itervar (default: loop-IR features) or knob\n"
    "  --loss KIND         rank (default: rank:pairwise) or reg\n"
    "  --seed N            random seed (default 0)\n"
    "  --batch N           configs per measured batch (default 16)\n"
    "  --no-transfer       do not learn from other tasks of the template in the db\n"
    "\n"
    "records:\n"
    "  --db PATH_OR_URL    tuning database (default $DLC_DB or ~/.cache/dlc/tuning.db);\n"
    "                      an http://host:port of dlc-db serve is used through its\n"
    "                      local cache, and each task's records are uploaded when\n"
    "                      the task ends (token from $DLC_DB_TOKEN)\n"
    "  --resume            count the task's records already in the db as trials\n"
    "                      of this run and never measure them again\n"
    "  --log FILE          also append every record to FILE as a TVM log line\n"
    "\n"
    "measurement:\n"
    "  --tracker HOST:PORT measure on the fleet (dlc-tracker) ...\n"
    "  --key KEY           ... on the servers of this device key\n"
    "  --tracker-key K     a CURVE tracker's public key (its .pub file or 40 Z85\n"
    "                      characters; default $DLC_TRACKER_KEY) ...\n"
    "  --key-file PATH     ... and this tuner's key pair (DIR/NAME.key, DIR/NAME or a\n"
    "                      DIR with one *.key; default $DLC_KEY_FILE); see dlc-tracker keygen\n"
    "  --number N          calls per timed repeat (grown to --min-repeat-ms; default 1)\n"
    "  --repeat N          timed repeats per config (default 3)\n"
    "  --min-repeat-ms MS  minimum duration of a repeat (default 20)\n"
    "  --timeout S         wall-clock limit per measurement (default 10)\n"
    "  --threads N         threads of the kernels' parallel loops (default: all cores)\n"
    "  --build-jobs N      compilers at once (default: number of CPUs)\n"
    "  --no-check          do not compare each config's output with the naive\n"
    "                      reference (AutoTVM's default; saves the reference's run\n"
    "                      time on large tasks; dlc-build --db ... --run checks the best)\n"
    "  --overlap on|off    compile the next configs while measuring (default: on\n"
    "                      with a tracker or spare cores, off otherwise)\n"
    "\n"
    "output:\n"
    "  --json              one JSON line per result, then a summary object per task\n"
    "                      (task, trials, best_gflops, best_config, errors)\n"
    "  --quiet             no progress bar\n"
    "\n"
    "examples:\n"
    "  dlc-tune --op dense:512,512,512 --trials 200\n"
    "  dlc-tune --op conv2d:1,64,56,56,64,3,3,1,1 --op dense:1,1000,512 --trials 500 --db tune.db\n"
    "  dlc-tune --task conv2d_NCHWc.x86 --args '[[\"TENSOR\",[1,64,56,56],\"float32\"],...]' --resume\n"
    "  dlc-tune --op dense:64,64,64 --target \"llvm -device=arm_cpu -mtriple=aarch64-linux-gnu\" \\\n"
    "           --tracker 127.0.0.1:9190 --key qemu-aarch64\n"
    "\n"
    "exit codes: 0 every task found a valid config, 1 a task found none or tuning\n"
    "  failed (database, tracker), 2 usage error, 130 interrupted (rerun with --resume)\n";

static volatile int g_stop;
static void on_sigint(int sig) {
    (void)sig;
    if (g_stop)
        _exit(EXIT_INTERRUPTED); /* the second Ctrl-C: every stored result is already committed */
    g_stop = 1;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("dlc-tune: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\ntry 'dlc-tune --help'\n", stderr);
    return EXIT_USAGE;
}

static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out) {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (!*s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_real(const char *s, double lo, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (!*s || *end || !(v >= lo) || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

typedef struct {
    int json, quiet, task_i, n_tasks;
    dlc_progress_t *bar;
    FILE *log;
    int upload;
    dlc_strbuf_t pending; /* log lines not yet uploaded */
    const char *task_label;
} ui_t;

static json_t *real_or_null(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static void print_json(json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT);
    if (s)
        puts(s);
    fflush(stdout);
    free(s);
    json_decref(j);
}

static void on_trial(const dlc_tune_progress_t *p, const dlc_trial_t *t, void *user) {
    ui_t *ui = user;
    if (ui->json) {
        json_t *j = json_object();
        dlc_config_t *cfg = NULL;
        json_object_set_new(j, "task", json_string(ui->task_label));
        json_object_set_new(j, "trial", json_integer(p->done));
        json_object_set_new(j, "index", json_integer(t->index));
        if (dlc_space_get(dlc_task_space(p->task), t->index, &cfg) == 0)
            json_object_set_new(j, "config", dlc_config_to_entity_json(cfg));
        dlc_config_destroy(&cfg);
        json_object_set_new(j, "error_no", json_integer(t->error_no));
        json_object_set_new(j, "error", json_string(dlc_measure_error_name(t->error_no)));
        json_object_set_new(j, "gflops", real_or_null(t->gflops));
        json_object_set_new(j, "mean_s", real_or_null(t->mean_s));
        json_object_set_new(j, "build_s", real_or_null(t->build_s));
        json_object_set_new(j, "run_s", real_or_null(t->run_s));
        json_object_set_new(j, "best_gflops", real_or_null(p->best_gflops));
        if (t->error_no)
            json_object_set_new(j, "message", json_string(t->message));
        print_json(j);
    }
    if (ui->bar) {
        char status[96];
        snprintf(status, sizeof status, "best %.1f GFLOP/s", p->best_gflops);
        dlc_progress_update(ui->bar, p->done, status);
    }
}

static json_t *errors_json(const int64_t *errors) {
    json_t *e = json_object();
    for (int k = 1; k < DLC_MEASURE_ERROR_COUNT; k++)
        if (errors[k])
            json_object_set_new(e, dlc_measure_error_name(k), json_integer(errors[k]));
    return e;
}

static void on_record(const dlc_record_t *rec, void *user) {
    ui_t *ui = user;
    dlc_strbuf_t line;
    dlc_strbuf_init(&line);
    if (dlc_record_format(rec, &line) == 0) {
        if (ui->log) {
            fprintf(ui->log, "%s\n", line.data);
            fflush(ui->log);
        }
        if (ui->upload)
            dlc_strbuf_printf(&ui->pending, "%s\n", line.data);
    }
    dlc_strbuf_free(&line);
}

/* The task's new records to the shared server; a failure leaves them in the
 * local cache and says so. */
static void upload(ui_t *ui, dlc_db_t *db, const char *url) {
    if (!ui->upload || ui->pending.len == 0)
        return;
    dlc_db_import_t st = {0};
    if (dlc_db_upload(db, ui->pending.data, ui->pending.len, NULL, &st) < 0)
        fprintf(stderr, "dlc-tune: warning: uploading to %s failed (%s); the records are in the local cache\n", url,
                dlc_last_error());
    dlc_strbuf_free(&ui->pending);
    dlc_strbuf_init(&ui->pending);
}

int main(int argc, char **argv) {
    static const struct option longopts[] = {
        {"op", required_argument, 0, 'o'},          {"template", required_argument, 0, 'T'},
        {"task", required_argument, 0, 'n'},        {"args", required_argument, 0, 'a'},
        {"target", required_argument, 0, 't'},      {"trials", required_argument, 0, 'N'},
        {"tuner", required_argument, 0, 'u'},       {"early-stopping", required_argument, 0, 'E'},
        {"features", required_argument, 0, 'F'},    {"loss", required_argument, 0, 'L'},
        {"seed", required_argument, 0, 's'},        {"batch", required_argument, 0, 'B'},
        {"no-transfer", no_argument, 0, 'X'},       {"db", required_argument, 0, 'd'},
        {"resume", no_argument, 0, 'R'},            {"log", required_argument, 0, 'l'},
        {"tracker", required_argument, 0, 'k'},     {"key", required_argument, 0, 'K'},
        {"number", required_argument, 0, '1'},      {"repeat", required_argument, 0, '2'},
        {"min-repeat-ms", required_argument, 0, '3'}, {"timeout", required_argument, 0, '4'},
        {"threads", required_argument, 0, '5'},     {"build-jobs", required_argument, 0, '6'},
        {"overlap", required_argument, 0, '7'},     {"json", no_argument, 0, 'j'},
        {"no-check", no_argument, 0, 'C'},
        {"tracker-key", required_argument, 0, 'P'}, {"key-file", required_argument, 0, 'S'},
        {"quiet", no_argument, 0, 'q'},             {"help", no_argument, 0, 'h'},
        {"version", no_argument, 0, 'V'},           {0, 0, 0, 0}};
    const char *ops[MAX_TASKS], *template_name = NULL, *task_name = NULL, *args_text = NULL;
    const char *target_text = "llvm", *db_text = NULL, *log_path = NULL;
    int n_ops = 0;
    dlc_tune_opts_t to;
    dlc_tune_opts_default(&to);
    to.trials = 200;
    dlc_measurer_opts_t mo;
    dlc_measurer_opts_default(&mo);
    ui_t ui = {0};
    int c, v;
    int64_t iv;
    double dv;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (n_ops == MAX_TASKS)
                return usage_error("at most %d --op", MAX_TASKS);
            ops[n_ops++] = optarg;
            break;
        case 'T': template_name = optarg; break;
        case 'n': task_name = optarg; break;
        case 'a': args_text = optarg; break;
        case 't': target_text = optarg; break;
        case 'N':
            if (parse_int(optarg, 1, 100000000, &iv) < 0)
                return usage_error("--trials: expected a positive integer, got '%s'", optarg);
            to.trials = iv;
            break;
        case 'u':
            if ((v = dlc_tuner_kind_parse(optarg)) < 0)
                return usage_error("--tuner: expected xgb, ga, random or grid, got '%s'", optarg);
            to.tuner = (dlc_tuner_kind_t)v;
            break;
        case 'E':
            if (parse_int(optarg, 0, 100000000, &iv) < 0)
                return usage_error("--early-stopping: expected a non-negative integer, got '%s'", optarg);
            to.early_stopping = iv;
            break;
        case 'F':
            if ((v = dlc_feature_kind_parse(optarg)) < 0)
                return usage_error("--features: expected itervar or knob, got '%s'", optarg);
            to.features = (dlc_feature_kind_t)v;
            break;
        case 'L':
            if ((v = dlc_costmodel_loss_parse(optarg)) < 0)
                return usage_error("--loss: expected rank or reg, got '%s'", optarg);
            to.loss = (dlc_costmodel_loss_t)v;
            break;
        case 's':
            if (parse_int(optarg, 0, INT64_MAX, &iv) < 0)
                return usage_error("--seed: expected a non-negative integer, got '%s'", optarg);
            to.seed = (uint64_t)iv;
            break;
        case 'B':
            if (parse_int(optarg, 1, 1024, &iv) < 0)
                return usage_error("--batch: expected 1..1024, got '%s'", optarg);
            to.batch = (int)iv;
            break;
        case 'X': to.transfer = 0; break;
        case 'd': db_text = optarg; break;
        case 'R': to.resume = 1; break;
        case 'l': log_path = optarg; break;
        case 'k': mo.tracker = optarg; break;
        case 'K': mo.key = optarg; break;
        case 'P': setenv("DLC_TRACKER_KEY", optarg, 1); break; /* dlc_client_new reads them */
        case 'S': setenv("DLC_KEY_FILE", optarg, 1); break;
        case '1':
            if (parse_int(optarg, 1, 1000000000, &iv) < 0)
                return usage_error("--number: expected a positive integer, got '%s'", optarg);
            mo.mo.number = (int)iv;
            break;
        case '2':
            if (parse_int(optarg, 1, DLC_MEASURE_MAX_REPEAT, &iv) < 0)
                return usage_error("--repeat: expected 1..%d, got '%s'", DLC_MEASURE_MAX_REPEAT, optarg);
            mo.mo.repeat = (int)iv;
            break;
        case '3':
            if (parse_real(optarg, 0, &dv) < 0)
                return usage_error("--min-repeat-ms: expected a non-negative number, got '%s'", optarg);
            mo.mo.min_repeat_ms = dv;
            break;
        case '4':
            if (parse_real(optarg, 0.001, &dv) < 0)
                return usage_error("--timeout: expected a positive number of seconds, got '%s'", optarg);
            mo.mo.timeout_s = dv;
            break;
        case '5':
            if (parse_int(optarg, 1, 1024, &iv) < 0)
                return usage_error("--threads: expected 1..1024, got '%s'", optarg);
            mo.mo.threads = (int)iv;
            break;
        case '6':
            if (parse_int(optarg, 1, 256, &iv) < 0)
                return usage_error("--build-jobs: expected 1..256, got '%s'", optarg);
            mo.build_jobs = (int)iv;
            break;
        case '7':
            if (strcmp(optarg, "on") && strcmp(optarg, "off"))
                return usage_error("--overlap: expected on or off, got '%s'", optarg);
            mo.overlap = strcmp(optarg, "on") == 0;
            break;
        case 'C': mo.mo.check = 0; break;
        case 'j': ui.json = 1; break;
        case 'q': ui.quiet = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        case 'V': printf("dlc-tune %s\n", DLC_VERSION); return 0;
        case ':': return usage_error("%s needs a value", argv[optind - 1]);
        default: return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument '%s'", argv[optind]);
    if (!n_ops && !task_name)
        return usage_error("nothing to tune: give --op SPEC or --task NAME --args JSON");
    if (task_name && (!args_text || n_ops))
        return usage_error("--task needs --args JSON (and no --op)");
    if (args_text && !task_name)
        return usage_error("--args needs --task NAME");
    if (!!mo.tracker != !!mo.key)
        return usage_error("--tracker and --key go together");

    dlc_target_t target;
    if (dlc_target_parse(target_text, &target) < 0)
        return usage_error("--target: %s", dlc_last_error());
    /* --template all: a task per candidate template of each op */
    dlc_task_t *tasks[MAX_TASKS * 4] = {0};
    const char *task_op[MAX_TASKS * 4] = {0};
    int n_tasks = 0, code = 0, all = template_name && strcmp(template_name, "all") == 0;
    if (task_name) {
        json_t *args = dlc_json_parse(args_text, strlen(args_text));
        if (!args)
            return usage_error("--args: %s", dlc_last_error());
        int rc = dlc_task_create(task_name, args, &target, &tasks[0]);
        json_decref(args);
        if (rc < 0)
            return usage_error("--task %s: %s", task_name, dlc_last_error());
        n_tasks = 1;
    }
    for (int i = 0; i < n_ops; i++) {
        dlc_op_spec_t spec;
        /* --template all: the op's candidates, dlc's generic fallbacks only when
         * nothing else serves it; else the named template's task, or the default one */
        int n = dlc_op_parse(ops[i], &spec) < 0 ? -1
                : all ? dlc_task_candidates(&spec, NULL, &target, 1, &tasks[n_tasks], MAX_TASKS * 4 - n_tasks)
                      : dlc_task_candidates(&spec, template_name, &target, 0, &tasks[n_tasks], 1);
        if (n < 0) {
            code = usage_error("--op %s: %s", ops[i], dlc_last_error());
            goto cleanup;
        }
        for (int k = 0; k < n; k++)
            task_op[n_tasks++] = ops[i];
    }

    dlc_db_t *db = db_text ? dlc_db_open_any(db_text, 0) : dlc_db_open(dlc_db_default_path(), 0);
    if (!db) {
        fprintf(stderr, "dlc-tune: database %s: %s\n", db_text ? db_text : dlc_db_default_path(), dlc_last_error());
        code = EXIT_FAILED;
        goto cleanup;
    }
    if (log_path && !(ui.log = fopen(log_path, "a"))) {
        fprintf(stderr, "dlc-tune: --log %s: cannot open for appending\n", log_path);
        code = EXIT_USAGE;
        goto close_db;
    }
    mo.stop = &g_stop;
    dlc_measurer_t *m = dlc_measurer_new(&mo);
    if (!m) {
        fprintf(stderr, "dlc-tune: %s\n", dlc_last_error());
        code = EXIT_FAILED;
        goto close_db;
    }
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    to.db = db;
    to.source.device_key = mo.key ? mo.key : "local";
    to.on_trial = on_trial;
    to.on_record = on_record;
    ui.upload = db_text && dlc_db_is_url(db_text);
    dlc_strbuf_init(&ui.pending);
    to.user = &ui;
    to.stop = &g_stop;
    ui.n_tasks = n_tasks;
    for (int i = 0; i < n_tasks && !g_stop; i++) {
        const dlc_task_t *task = tasks[i];
        char label[160];
        snprintf(label, sizeof label, "%s%s%s", dlc_task_template(task)->name, task_op[i] ? " " : "",
                 task_op[i] ? task_op[i] : "");
        ui.task_label = dlc_task_template(task)->name;
        char bar_label[200];
        snprintf(bar_label, sizeof bar_label, "[%d/%d] %s", i + 1, n_tasks, label);
        if (!ui.quiet && !ui.json)
            ui.bar = dlc_progress_new(bar_label, to.trials, 0);
        dlc_tune_summary_t sum;
        dlc_measurer_stats_t st0, st1;
        dlc_measurer_stats(m, &st0);
        int rc = dlc_tune_task(task, m, &to, &sum);
        dlc_measurer_stats(m, &st1);
        dlc_progress_destroy(&ui.bar);
        if (rc < 0) {
            fprintf(stderr, "dlc-tune: %s: %s\n", label, dlc_last_error());
            code = EXIT_FAILED;
        } else if (sum.best_index < 0 && !sum.interrupted) {
            code = EXIT_FAILED;
        }
        upload(&ui, db, db_text);
        if (ui.json) {
            json_t *j = json_object();
            json_object_set_new(j, "task", json_string(dlc_task_template(task)->name));
            json_object_set_new(j, "args", json_deep_copy(dlc_task_args(task)));
            json_object_set_new(j, "target", json_string(target.str));
            json_object_set_new(j, "trials", json_integer(sum.trials));
            json_object_set_new(j, "resumed", json_integer(sum.resumed));
            json_object_set_new(j, "history", json_integer(sum.history));
            json_object_set_new(j, "model_loaded", json_boolean(sum.model_loaded));
            json_object_set_new(j, "best_gflops", real_or_null(sum.best_gflops));
            json_object_set_new(j, "best_index", json_integer(sum.best_index));
            json_object_set_new(j, "best_config", sum.best_entity ? json_incref(sum.best_entity) : json_null());
            json_object_set_new(j, "errors", errors_json(sum.errors));
            json_object_set_new(j, "elapsed_s", json_real(sum.elapsed_s));
            json_t *tm = json_object();
            json_object_set_new(tm, "generate_s", json_real(st1.prepare_s - st0.prepare_s));
            json_object_set_new(tm, "compile_s", json_real(st1.build_s - st0.build_s));
            json_object_set_new(tm, "measure_s", json_real(st1.measure_s - st0.measure_s));
            json_object_set_new(tm, "tuner_s", json_real(sum.model_s));
            json_object_set_new(tm, "compiler_calls", json_integer(st1.builds - st0.builds));
            json_object_set_new(tm, "references", json_integer(st1.ref_builds - st0.ref_builds));
            json_object_set_new(j, "time", tm);
            json_object_set_new(j, "stopped", json_string(sum.interrupted ? "interrupted"
                                                          : sum.early_stopped ? "early_stopping"
                                                          : sum.exhausted ? "space_exhausted" : "trials"));
            print_json(j);
        } else {
            int64_t failed = 0;
            for (int k = 1; k < DLC_MEASURE_ERROR_COUNT; k++)
                failed += sum.errors[k];
            fprintf(stderr, "%s: %lld trials%s, best %.2f GFLOP/s (index %lld), %lld failed, %.1f s%s\n", label,
                    (long long)sum.trials, sum.resumed ? " (+ resumed)" : "", sum.best_gflops,
                    (long long)sum.best_index, (long long)failed, sum.elapsed_s,
                    sum.early_stopped ? ", stopped early" : sum.exhausted ? ", space exhausted" : "");
            fprintf(stderr,
                    "  time: generate %.1f s, compile %.1f s (%lld compiler calls + %lld references), measure %.1f s, "
                    "tuner %.1f s\n",
                    st1.prepare_s - st0.prepare_s, st1.build_s - st0.build_s, (long long)(st1.builds - st0.builds),
                    (long long)(st1.ref_builds - st0.ref_builds), st1.measure_s - st0.measure_s, sum.model_s);
        }
        dlc_tune_summary_clear(&sum);
    }
    if (g_stop) {
        fprintf(stderr, "dlc-tune: interrupted; every result so far is in %s — rerun with --resume\n",
                db_text ? db_text : dlc_db_default_path());
        code = EXIT_INTERRUPTED;
    }
    dlc_measurer_destroy(&m);
    dlc_strbuf_free(&ui.pending);
close_db:
    if (ui.log)
        fclose(ui.log);
    dlc_db_close(&db);
cleanup:
    for (int i = 0; i < n_tasks; i++)
        dlc_task_destroy(&tasks[i]);
    return code;
}
