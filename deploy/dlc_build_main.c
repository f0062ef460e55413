/* dlc_build_main.c — dlc-build: compiles one operator for a target, with its
 * default schedule or with a template and one of its configs (--template,
 * --config), optionally runs it (natively, or under qemu for cross targets)
 * against the naive reference, and reports time and GFLOP/s as a few lines of
 * text or as one JSON object. --list-templates (build_templates.c) and
 * --replay (build_replay.c) are the other modes.
 *
 * Exit codes: 0 ok (and verified with --run); 1 the kernel failed (template
 * instantiation, lowering, compiling, crash, timeout, wrong answer); 2 a usage
 * error (bad SPEC, bad target, bad config, unknown flag, missing or bad value). */
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "build_impl.h"
#include "db/dlc_db.h"
#include "db/dlc_db_http.h"

#ifndef DLC_VERSION
#define DLC_VERSION "unknown"
#endif

enum { EXIT_KERNEL = DLC__EXIT_KERNEL, EXIT_USAGE = DLC__EXIT_USAGE };
typedef dlc__build_opts_t opts_t;

static const char usage_head[] =
    "usage: dlc-build --op SPEC [--target TARGET] [--template NAME [--config CFG]]\n"
    "                 [--db PATH_OR_URL [--no-tophub]] [--run] [--json] [-o OUT.so]\n"
    "                 [--print-ir] [--print-c] [--threads N] [--number N] [--repeat N]\n"
    "                 [--min-repeat-ms MS] [--timeout S] [--verbose]\n"
    "       dlc-build --list-templates [--target TARGET] [--op SPEC] [--json]\n"
    "       dlc-build --replay LOG [--verify] [--json] [--target-override TARGET]\n"
    "                 [--limit N] [--task NAME] [--threads N] [--repeat N] [--timeout S]\n"
    "       dlc-build --help | --version\n"
    "\n"
    "Compiles one operator for TARGET, with its default schedule or with a tuning\n"
    "template and one config of its space; with --run, runs it on random inputs,\n"
    "checks it against the naive reference and reports time and GFLOP/s.\n"
    "\n"
    "  --op SPEC           the operator (grammar below)\n"
    "  --target TARGET     TVM target string (default \"llvm\": this machine's CPU)\n"
    "  --db PATH_OR_URL    apply the best tuned config of the op's task from a tuning\n"
    "                      database (a dlc-db file, or http://host:port of dlc-db\n"
    "                      serve); without a record there, TopHub's pre-tuned record\n"
    "                      (the *.log files in $DLC_TOPHUB_DIR, by default\n"
    "                      ../shared/data/tophub); without either, the default\n"
    "                      schedule and one warning naming the task; ignored with\n"
    "                      --config. The report says which: \"config_source\" db,\n"
    "                      tophub or default\n"
    "  --no-tophub         no TopHub fallback for --db (also: DLC_NO_TOPHUB=1)\n"
    "  --template NAME     build with this AutoTVM template (TVM task name, e.g.\n"
    "                      conv2d_NCHWc.x86; --list-templates shows them)\n"
    "  --config CFG        the template's config: a TVM entity list\n"
    "                      '[[\"tile_ic\",\"sp\",[-1,8]],...]', a config object\n"
    "                      '{\"index\":N,\"entity\":[...]}' or an index into the space.\n"
    "                      Default: index 0 of the space\n"
    "  --run               run and check the kernel (cross targets run under qemu)\n"
    "  --tracker HOST:PORT with --run: measure on a dlc-rpc-server of --key KEY\n"
    "  --key KEY           through that dlc-tracker (CURVE keys: $DLC_TRACKER_KEY,\n"
    "                      $DLC_KEY_FILE) instead of on this machine\n"
    "  --json              print exactly one JSON object on stdout\n"
    "  -o OUT.so           copy the shared object to OUT.so and write its manifest\n"
    "                      OUT.json (entry, ref, args, flops, target, code_hash)\n"
    "  --print-ir          print the lowered loop IR\n"
    "  --print-c           print the generated C\n"
    "  --threads N         threads for parallel loops (default: all cores)\n"
    "  --number N          calls per timed repeat (grown to reach --min-repeat-ms; default 1)\n"
    "  --repeat N          timed repeats (1..64, default 3; --replay: 1)\n"
    "  --min-repeat-ms MS  minimum time per repeat (default 50; --replay: 10)\n"
    "  --timeout S         wall-clock limit for a run in seconds (default 120)\n"
    "  --verbose           print the compiler command and the shared object's path\n"
    "\n"
    "  --list-templates    list the registered templates serving TARGET (all of them\n"
    "                      without --target); with --op, the candidates for that\n"
    "                      operator on TARGET (default llvm), best first, with the\n"
    "                      size of each one's config space\n"
    "\n"
    "  --replay LOG        rebuild every record of a TVM tuning log whose task dlc\n"
    "                      knows, with the record's args, target and entity; one line\n"
    "                      per record (JSON lines with --json), then a summary\n"
    "  --verify            also run each record's kernel and check it against the\n"
    "                      reference. A record for an x86 -mcpu whose vectors this\n"
    "                      CPU lacks (e.g. skylake-avx512 on an AVX2 machine) is\n"
    "                      built for this machine (-march=native) instead, with a note\n"
    "  --target-override T build every record for T instead of its own target\n"
    "  --limit N           stop after N records of known tasks\n"
    "  --task NAME         only records of this task (TVM task name)\n"
    "  Each record is built for its own target; armv7 records for aarch64 (run under\n"
    "  qemu-aarch64, with a note) when arm-linux-gnueabihf-gcc is not installed.\n"
    "\n"
    "SPEC (integers; N batch, C in channels, K out channels, R x S kernel; an\n"
    "optional trailing :dtype of the inputs, default float32, then for dense,\n"
    "batch_matmul and the convolutions an optional :out_dtype, the dtype the\n"
    "products are summed in and the output has, default the input dtype, as in\n"
    "TVM: give int32 for int8, e.g. conv2d:1,64,56,56,64,3,3,1,1:int8:int32):\n";

static const char usage_tail[] =
    "\n"
    "examples:\n"
    "  dlc-build --op dense:512,512,512 --run\n"
    "  dlc-build --op conv2d:1,64,56,56,64,3,3,1,1 --target \"llvm -mcpu=skylake-avx512\" --run --json\n"
    "  dlc-build --op pool2d:1,16,32,32,3,3,2,1,max --target \"llvm -device=arm_cpu -mtriple=aarch64-linux-gnu\" --run\n"
    "  dlc-build --op depthwise_conv2d:1,32,28,28,3,3,1,1 --print-c -o dw.so\n"
    "  dlc-build --list-templates --op dense:64,64,64\n"
    "  dlc-build --op dense:64,64,64 --template dense_nopack.x86 --config 17 --run\n"
    "  dlc-build --replay tophub/llvm_v0.04.log --verify\n"
    "\n"
    "targets: llvm (alias c; the host CPU), llvm -mcpu=CPU, llvm -device=arm_cpu\n"
    "  -mtriple=aarch64-linux-gnu, llvm -mtriple=riscv64-linux-gnu (both run under qemu-user)\n"
    "exit codes: 0 ok (verified with --run / --verify), 1 the kernel failed (a config the\n"
    "  template rejects: INSTANTIATION_ERROR; --replay: any known record failed),\n"
    "  2 usage error (including a --config that is not in the space)\n";

static void print_help(void) {
    dlc_strbuf_t g;
    dlc_strbuf_init(&g);
    dlc_op_grammar(&g);
    fputs(usage_head, stdout);
    fputs(g.data, stdout);
    fputs(usage_tail, stdout);
    dlc_strbuf_free(&g);
}

int dlc__build_usage_error(int json, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "dlc-build: %s\ntry 'dlc-build --help'\n", msg);
    if (json)
        dlc__build_print_json(json_pack("{s:s, s:i}", "error", msg, "exit_code", EXIT_USAGE));
    return EXIT_USAGE;
}
#define usage_error dlc__build_usage_error

void dlc__build_print_json(json_t *j) {
    char *s = j ? dlc_json_dumps(j) : NULL;
    printf("%s\n", s ? s : "{\"error\":\"out of memory\"}");
    fflush(stdout);
    free(s);
    json_decref(j);
}

json_t *dlc__build_json_finite(double v) { return isfinite(v) ? json_real(v) : json_null(); }

/* msg without a leading `prefix` (the library repeats the input we already name). */
static const char *strip_prefix(const char *msg, const char *prefix) {
    size_t n = strlen(prefix);
    return strncmp(msg, prefix, n) == 0 ? msg + n : msg;
}

static int parse_int(const char *s, long lo, long hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_double(const char *s, double lo, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !isfinite(v) || v < lo)
        return -1;
    *out = v;
    return 0;
}

enum { OPT_RUN = 256, OPT_JSON, OPT_PRINT_IR, OPT_PRINT_C, OPT_THREADS, OPT_NUMBER, OPT_REPEAT, OPT_MIN_REPEAT_MS,
       OPT_TIMEOUT, OPT_VERBOSE, OPT_HELP, OPT_VERSION, OPT_OP, OPT_TARGET, OPT_TEMPLATE, OPT_CONFIG, OPT_DB,
       OPT_LIST_TEMPLATES, OPT_REPLAY, OPT_VERIFY, OPT_TARGET_OVERRIDE, OPT_LIMIT, OPT_TASK, OPT_NO_TOPHUB,
       OPT_TRACKER, OPT_KEY };

/* Which flags each mode takes besides the common ones (a flag of another mode
 * is a usage error rather than silently ignored). */
static int check_modes(const opts_t *o) {
    int modes = (o->op_text && !o->list_templates) + o->list_templates + (o->replay_path != NULL);
    if (modes > 1)
        return usage_error(o->json, "--list-templates, --replay and a build with --op are separate modes: give one");
    if (modes == 0)
        return usage_error(o->json, "missing --op SPEC (e.g. --op dense:64,64,64), --list-templates or --replay LOG");
    const char *single = o->out_path ? "-o" : o->run ? "--run" : o->print_ir ? "--print-ir" : o->print_c ? "--print-c"
                       : o->template_name ? "--template" : o->config_text ? "--config" : NULL;
    const char *replay = o->verify ? "--verify" : o->target_override ? "--target-override" : o->limit ? "--limit"
                       : o->task_filter ? "--task" : NULL;
    if (o->list_templates && (single || replay))
        return usage_error(o->json, "%s does not go with --list-templates", single ? single : replay);
    if (o->replay_path && single)
        return usage_error(o->json, "%s does not go with --replay", single);
    if (o->replay_path && o->target_given)
        return usage_error(o->json, "--replay builds each record for its own target: use --target-override");
    if (!o->replay_path && replay)
        return usage_error(o->json, "%s goes with --replay LOG", replay);
    if (o->config_text && !o->template_name)
        return usage_error(o->json, "--config needs --template NAME");
    if (!!o->tracker != !!o->key)
        return usage_error(o->json, "--tracker HOST:PORT and --key KEY go together");
    if (o->tracker && !o->run)
        return usage_error(o->json, "--tracker measures the kernel: it goes with --run");
    if (o->no_tophub && !o->db_text)
        return usage_error(o->json, "--no-tophub goes with --db PATH_OR_URL");
    return -1;
}

/* Returns -1 to go on, or an exit code (help, version, usage error). */
static int parse_args(int argc, char **argv, opts_t *o) {
    static const struct option longopts[] = {
        {"op", required_argument, NULL, OPT_OP},
        {"target", required_argument, NULL, OPT_TARGET},
        {"template", required_argument, NULL, OPT_TEMPLATE},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"db", required_argument, NULL, OPT_DB},
        {"no-tophub", no_argument, NULL, OPT_NO_TOPHUB},
        {"list-templates", no_argument, NULL, OPT_LIST_TEMPLATES},
        {"replay", required_argument, NULL, OPT_REPLAY},
        {"verify", no_argument, NULL, OPT_VERIFY},
        {"target-override", required_argument, NULL, OPT_TARGET_OVERRIDE},
        {"limit", required_argument, NULL, OPT_LIMIT},
        {"task", required_argument, NULL, OPT_TASK},
        {"run", no_argument, NULL, OPT_RUN},
        {"tracker", required_argument, NULL, OPT_TRACKER},
        {"key", required_argument, NULL, OPT_KEY},
        {"json", no_argument, NULL, OPT_JSON},
        {"output", required_argument, NULL, 'o'},
        {"print-ir", no_argument, NULL, OPT_PRINT_IR},
        {"print-c", no_argument, NULL, OPT_PRINT_C},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"number", required_argument, NULL, OPT_NUMBER},
        {"repeat", required_argument, NULL, OPT_REPEAT},
        {"min-repeat-ms", required_argument, NULL, OPT_MIN_REPEAT_MS},
        {"timeout", required_argument, NULL, OPT_TIMEOUT},
        {"verbose", no_argument, NULL, OPT_VERBOSE},
        {"help", no_argument, NULL, OPT_HELP},
        {"version", no_argument, NULL, OPT_VERSION},
        {NULL, 0, NULL, 0},
    };
    static const dlc_measure_opts_t mo_default = DLC_MEASURE_OPTS_DEFAULT;
    memset(o, 0, sizeof *o);
    o->target_text = "llvm";
    o->mo = mo_default;
    o->mo.min_repeat_ms = 50;
    o->mo.timeout_s = 120;
    /* --json decides where usage errors go, wherever it appears. */
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
        if (strcmp(argv[i], "--json") == 0)
            o->json = 1;

    opterr = 0; /* we print our own one-line errors */
    optind = 1;
    int c, limit;
    while ((c = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_OP: o->op_text = optarg; break;
        case OPT_TARGET: o->target_text = optarg; o->target_given = 1; break;
        case OPT_TEMPLATE: o->template_name = optarg; break;
        case OPT_CONFIG: o->config_text = optarg; break;
        case OPT_DB: o->db_text = optarg; break;
        case OPT_NO_TOPHUB: o->no_tophub = 1; break;
        case OPT_LIST_TEMPLATES: o->list_templates = 1; break;
        case OPT_REPLAY: o->replay_path = optarg; break;
        case OPT_VERIFY: o->verify = 1; break;
        case OPT_TARGET_OVERRIDE: o->target_override = optarg; break;
        case OPT_TASK: o->task_filter = optarg; break;
        case OPT_LIMIT:
            if (parse_int(optarg, 1, 1000000000, &limit) < 0)
                return usage_error(o->json, "bad --limit '%s': expected a positive integer", optarg);
            o->limit = limit;
            break;
        case 'o': o->out_path = optarg; break;
        case OPT_RUN: o->run = 1; break;
        case OPT_TRACKER: o->tracker = optarg; break;
        case OPT_KEY: o->key = optarg; break;
        case OPT_JSON: o->json = 1; break;
        case OPT_PRINT_IR: o->print_ir = 1; break;
        case OPT_PRINT_C: o->print_c = 1; break;
        case OPT_VERBOSE: o->verbose = 1; break;
        case OPT_THREADS:
            if (parse_int(optarg, 1, 1024, &o->mo.threads) < 0)
                return usage_error(o->json, "bad --threads '%s': expected an integer in [1, 1024]", optarg);
            break;
        case OPT_NUMBER:
            if (parse_int(optarg, 1, 1000000000, &o->mo.number) < 0)
                return usage_error(o->json, "bad --number '%s': expected a positive integer", optarg);
            break;
        case OPT_REPEAT:
            if (parse_int(optarg, 1, DLC_MEASURE_MAX_REPEAT, &o->mo.repeat) < 0)
                return usage_error(o->json, "bad --repeat '%s': expected an integer in [1, %d]", optarg,
                                   DLC_MEASURE_MAX_REPEAT);
            o->repeat_given = 1;
            break;
        case OPT_MIN_REPEAT_MS:
            if (parse_double(optarg, 0, &o->mo.min_repeat_ms) < 0)
                return usage_error(o->json, "bad --min-repeat-ms '%s': expected a number >= 0", optarg);
            o->min_repeat_given = 1;
            break;
        case OPT_TIMEOUT:
            if (parse_double(optarg, 0, &o->mo.timeout_s) < 0 || o->mo.timeout_s <= 0)
                return usage_error(o->json, "bad --timeout '%s': expected a number of seconds > 0", optarg);
            break;
        case 'h':
        case OPT_HELP: print_help(); return 0;
        case OPT_VERSION: printf("dlc-build %s\n", DLC_VERSION); return 0;
        case ':': return usage_error(o->json, "option '%s' needs a value", argv[optind - 1]);
        default:
            if (optopt)
                return usage_error(o->json, "unknown option '-%c'", optopt);
            return usage_error(o->json, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error(o->json, "unexpected argument '%s'", argv[optind]);
    return check_modes(o);
}

/* Copies the shared object to out_path and writes the artifact manifest
 * (DESIGN.md "Artifact") beside it: OUT.so → OUT.json (else OUT + ".json"). */
static int write_artifact(const opts_t *o, const dlc_target_t *tgt, const dlc_op_t *op, const char *entry,
                          const char *ref, const dlc_build_result_t *br) {
    char *data = NULL, dir[4096];
    size_t len = 0;
    snprintf(dir, sizeof dir, "%s", o->out_path);
    char *slash = strrchr(dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = '\0';
        rc = dlc_mkdirs(dir);
    }
    if (rc == 0)
        rc = dlc_file_read(br->so_path, &data, &len);
    if (rc == 0)
        rc = dlc_file_write(o->out_path, data, len);
    free(data);
    if (rc < 0)
        return rc;

    dlc_strbuf_t mpath;
    dlc_strbuf_init(&mpath);
    size_t n = strlen(o->out_path);
    if (n > 3 && strcmp(o->out_path + n - 3, ".so") == 0)
        dlc_strbuf_appendn(&mpath, o->out_path, n - 3);
    else
        dlc_strbuf_append(&mpath, o->out_path);
    dlc_strbuf_append(&mpath, ".json");

    json_t *args = json_array();
    for (int i = 0; i < op->n_args; i++) {
        const dlc_tensor_t *t = op->args[i];
        json_t *shape = json_array();
        for (int d = 0; d < t->ndim; d++)
            json_array_append_new(shape, json_integer(t->shape[d]));
        json_array_append_new(args, json_pack("{s:s, s:o, s:s, s:b}", "name", t->name, "shape", shape, "dtype",
                                              dlc_dtype_name(t->dtype), "output", i >= op->n_args - op->n_outputs));
    }
    const char *so_name = strrchr(o->out_path, '/') ? strrchr(o->out_path, '/') + 1 : o->out_path; /* beside it */
    json_t *m = json_pack("{s:i, s:s, s:s, s:s, s:o, s:i, s:f, s:s, s:s, s:s, s:s}", "abi_version",
                          DLC_KERNEL_ABI_VERSION, "entry", entry, "ref", ref, "op", op->name, "args", args,
                          "n_outputs", op->n_outputs, "flops", op->flops, "target", tgt->str, "code_hash",
                          br->code_hash, "so", so_name, "dlc_version", DLC_VERSION);
    char *text = dlc_json_dumps(m);
    json_decref(m);
    rc = text ? dlc_file_write(mpath.data, text, strlen(text)) : dlc_error(DLC_ENOMEM, "manifest");
    if (rc == 0 && o->verbose && !o->json)
        printf("wrote %s and %s\n", o->out_path, mpath.data);
    free(text);
    dlc_strbuf_free(&mpath);
    return rc;
}

/* Prints the final report; `err` is NULL on success. Returns the exit code. */
static int report(const opts_t *o, json_t *j, const char *err) {
    if (o->json) {
        if (err)
            json_object_set_new(j, "error", json_string(err));
        dlc__build_print_json(j);
        return err ? EXIT_KERNEL : 0;
    }
    if (err)
        fprintf(stderr, "dlc-build: %s\n", err);
    json_decref(j);
    return err ? EXIT_KERNEL : 0;
}

/* --template NAME [--config CFG]: the task for the spec and the chosen config.
 * Returns -1 to go on, or the exit code of a usage error (reported). */
static int select_template(const opts_t *o, const dlc_op_spec_t *spec, const dlc_target_t *tgt, dlc_task_t **task,
                           dlc_config_t **cfg, int64_t *given_index) {
    if (dlc_task_from_spec(spec, o->template_name, tgt, task) < 0)
        return usage_error(o->json, "--template %s for '%s': %s", o->template_name, spec->text, dlc_last_error());
    const dlc_template_t *tp = dlc_task_template(*task);
    if (!dlc_template_matches(tp, tgt))
        fprintf(stderr, "dlc-build: note: template %s is for %s targets; building it for '%s' anyway\n", tp->name,
                tp->key, tgt->str);
    const dlc_space_t *sp = dlc_task_space(*task);
    if (dlc__build_config_parse(sp, o->config_text, cfg, given_index) < 0)
        return usage_error(o->json, "bad --config for %s (space of %lld configs): %s", tp->name,
                           (long long)dlc_space_size(sp), dlc_last_error());
    return -1;
}

/* --db: the task of the spec (with --template, that template; else the
 * candidate template whose best record is best, as TVM picks an op's
 * implementation, or the first candidate when none has one) and the best
 * record's config, from the database or else from TopHub. Returns 1 when a tuned config was found (*origin "db" or "tophub",
 * record_target the record's target, cap bytes), 0 to build without one (the
 * database or the task gave a warning), -1 for a usage error (a --template
 * that does not fit the op). */
static int apply_db(const opts_t *o, const dlc_op_spec_t *spec, const dlc_target_t *tgt, dlc_task_t **task,
                    dlc_config_t **cfg, const char **origin, char *record_target, size_t cap) {
    /* without --template, every candidate template's task competes */
    dlc_task_t *cands[16];
    int n_cands = dlc_task_candidates(spec, o->template_name, tgt, 0, cands, 16), chosen = 0;
    if (n_cands < 0) {
        if (o->template_name) return dlc_error(DLC_EINVAL, "--template %s for '%s': %s", o->template_name, spec->text,
                                               dlc_last_error());
        fprintf(stderr, "dlc-build: warning: --db: %s; building the default schedule\n", dlc_last_error());
        return 0;
    }
    dlc_db_t *db = dlc_db_open_any(o->db_text, DLC_DB_READONLY);
    dlc_db_best_t best;
    int rc = db && !o->no_tophub ? dlc_db_use_tophub(db, NULL) : 0;
    if (!db) {
        int tophub = !o->no_tophub && dlc_db_tophub_enabled();
        fprintf(stderr, "dlc-build: warning: --db %s: %s; building without tuned configs%s\n", o->db_text,
                dlc_last_error(), tophub ? " except TopHub's" : "");
        if (tophub && !(db = dlc_db_open_tophub(NULL, NULL)))
            fprintf(stderr, "dlc-build: warning: no TopHub fallback either: %s\n", dlc_last_error());
    }
    if (db && rc == 0)
        rc = dlc_db_apply_best_of(db, cands, n_cands, &chosen, cfg, &best);
    *task = cands[chosen];
    for (int i = 0; i < n_cands; i++)
        if (i != chosen)
            dlc_task_destroy(&cands[i]);
    if (db && rc == 0) {
        *origin = best.origin; /* static */
        snprintf(record_target, cap, "%s", best.rec.target ? best.rec.target : "");
        dlc_db_best_clear(&best);
        dlc_db_close(&db);
        return 1;
    } else if (db && rc != DLC_ENOTFOUND) { /* a miss was warned about, naming the task */
        fprintf(stderr, "dlc-build: warning: --db %s: %s; building without tuned configs\n", o->db_text,
                dlc_last_error());
    }
    dlc_db_close(&db);
    dlc_task_destroy(task); /* with --template, select_template makes it again */
    return 0;
}

int main(int argc, char **argv) {
    opts_t o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    if (o.verbose && dlc_log_get_level() > DLC_LOG_INFO)
        dlc_log_set_level(DLC_LOG_INFO);
    if (o.list_templates)
        return dlc__build_list_templates(&o);
    if (o.replay_path)
        return dlc__build_replay(&o);

    char prefix[512];
    dlc_target_t tgt;
    if (dlc_target_parse(o.target_text, &tgt) < 0) {
        snprintf(prefix, sizeof prefix, "bad target \"%s\": ", o.target_text);
        return usage_error(o.json, "bad --target '%s': %s", o.target_text, strip_prefix(dlc_last_error(), prefix));
    }
    snprintf(prefix, sizeof prefix, "op spec '%s': ", o.op_text);
    dlc_op_spec_t spec;
    if (dlc_op_parse(o.op_text, &spec) < 0)
        return usage_error(o.json, "bad --op '%s': %s", o.op_text, strip_prefix(dlc_last_error(), prefix));
    dlc_task_t *task = NULL;
    dlc_config_t *cfg = NULL;
    int64_t given_index = -1;
    int tuned = 0;
    const char *origin = "default"; /* with --db: where the config came from */
    char record_target[512] = "";
    if (o.db_text && !o.config_text) {
        tuned = apply_db(&o, &spec, &tgt, &task, &cfg, &origin, record_target, sizeof record_target);
        if (tuned < 0) return usage_error(o.json, "%s", dlc_last_error());
    }
    if (!tuned && o.template_name && (rc = select_template(&o, &spec, &tgt, &task, &cfg, &given_index)) >= 0) {
        dlc_task_destroy(&task);
        return rc;
    }
    dlc_ctx_t *ctx = dlc_ctx_new();
    if (ctx == NULL) {
        fprintf(stderr, "dlc-build: out of memory\n");
        dlc_config_destroy(&cfg);
        dlc_task_destroy(&task);
        return EXIT_KERNEL;
    }
    dlc_op_t op;
    memset(&op, 0, sizeof op);
    if (!task && dlc_op_build(ctx, &spec, &op) < 0) { /* e.g. a kernel larger than the padded input */
        rc = usage_error(o.json, "bad --op '%s': %s", o.op_text, strip_prefix(dlc_last_error(), prefix));
        dlc_ctx_destroy(&ctx);
        return rc;
    }

    char ref[256], err[1024] = "";
    json_t *j = json_pack("{s:s, s:s}", "op", spec.text, "target", tgt.str);
    if (o.db_text) json_object_set_new(j, "db", json_string(o.db_text));
    if (o.db_text && !task) json_object_set_new(j, "tuned", json_false());
    if (o.db_text && !o.config_text) json_object_set_new(j, "config_source", json_string(origin));
    if (tuned) json_object_set_new(j, "record_target", json_string(record_target));
    dlc_strbuf_t ir, c;
    dlc_strbuf_init(&ir);
    dlc_strbuf_init(&c);
    dlc_lowered_func_t *f = NULL, *fr = NULL;
    dlc_build_result_t br;
    memset(&br, 0, sizeof br);

    double t0 = dlc_now();
    dlc_schedule_t *s = NULL;
    if (task) {
        const char *tname = dlc_task_template(task)->name;
        json_object_set_new(j, "template", json_string(tname));
        json_t *cj = dlc_config_to_json(cfg);
        json_object_del(cj, "code_hash");
        json_object_set_new(j, "config", cj);
        json_object_set_new(j, "space_size", json_integer(dlc_space_size(dlc_task_space(task))));
        if (o.db_text) json_object_set_new(j, "tuned", json_boolean(tuned));
        if (given_index >= 0 && given_index != dlc_config_index(cfg)) {
            json_object_set_new(j, "config_index_given", json_integer(given_index));
            if (!o.json)
                printf("note: --config says index %lld; the entity is at index %lld in dlc's space (the entity "
                       "decides)\n",
                       (long long)given_index, (long long)dlc_config_index(cfg));
        }
        rc = dlc_task_instantiate(task, cfg, ctx, &op, &s);
        if (rc < 0) {
            snprintf(err, sizeof err, "%s: %s config %lld: %s",
                     rc == DLC_EINSTANTIATE ? "INSTANTIATION_ERROR" : "template", tname,
                     (long long)dlc_config_index(cfg), dlc_last_error());
            json_object_set_new(j, "error_no", json_integer(DLC_MEASURE_INSTANTIATION_ERROR));
            goto done;
        }
    } else {
        s = dlc_op_default_schedule(ctx, &spec, &op, &tgt);
        if (s == NULL) {
            snprintf(err, sizeof err, "default schedule: %s", dlc_last_error());
            goto done;
        }
    }
    snprintf(ref, sizeof ref, "%s_ref", op.name);
    json_object_set_new(j, "entry", json_string(op.name));
    json_object_set_new(j, "flops", json_real(op.flops));
    if (dlc_lower(s, op.name, op.n_args, op.args, op.n_outputs, &f) < 0 ||
        dlc_lower_reference(ctx, ref, op.n_args, op.args, op.n_outputs, &fr) < 0) {
        snprintf(err, sizeof err, "lowering: %s", dlc_last_error());
        goto done;
    }
    f->flops = fr->flops = op.flops;
    f->ref_name = ref;
    if (dlc_codegen_c((dlc_lowered_func_t *[]){f, fr}, 2, &tgt, &c) < 0) {
        snprintf(err, sizeof err, "code generation: %s", dlc_last_error());
        goto done;
    }
    double codegen_ms = (dlc_now() - t0) * 1e3;
    json_object_set_new(j, "codegen_ms", json_real(codegen_ms));
    if (o.print_ir) {
        dlc_func_print(f, &ir);
        if (o.json)
            json_object_set_new(j, "ir", json_string(ir.data));
        else
            printf("%s\n", ir.data);
    }
    if (o.print_c) {
        if (o.json)
            json_object_set_new(j, "c", json_string(c.data));
        else
            printf("%s\n", c.data);
    }
    if (o.verbose && !o.json) {
        dlc_strbuf_t cmd;
        dlc_strbuf_init(&cmd);
        dlc_build_command(&tgt, &cmd);
        printf("compiler: %s\n", cmd.data);
        dlc_strbuf_free(&cmd);
    }

    t0 = dlc_now();
    rc = dlc_build_so(c.data, c.len, &tgt, &br);
    double compile_ms = (dlc_now() - t0) * 1e3; /* wall time: the compiler, or the cache lookup on a hit */
    if (rc < 0) {
        snprintf(err, sizeof err, "compile: %s", dlc_last_error());
        goto done;
    }
    json_object_set_new(j, "so", json_string(br.so_path));
    json_object_set_new(j, "code_hash", json_string(br.code_hash));
    json_object_set_new(j, "compile_ms", json_real(compile_ms));
    json_object_set_new(j, "cache_hit", json_boolean(br.cache_hit));
    if (!o.json) {
        printf("%s on %s (%s): entry %s, %.4g MFLOP\n", spec.text, tgt.str, dlc_arch_name(tgt.arch), op.name,
               op.flops / 1e6);
        if (task) {
            char *e = dlc_json_dumps(json_object_get(json_object_get(j, "config"), "entity"));
            char how[700] = "";
            if (tuned)
                snprintf(how, sizeof how, "tuned (%s; record target '%s') ",
                         strcmp(origin, "tophub") == 0 ? "TopHub's pre-tuned record" : "best in the database",
                         record_target);
            else if (o.db_text && !o.config_text)
                snprintf(how, sizeof how, "default (no tuned record) ");
            printf("template %s, %sconfig %lld of %lld: %s\n", dlc_task_template(task)->name, how,
                   (long long)dlc_config_index(cfg),
                   (long long)dlc_space_size(dlc_task_space(task)), e ? e : "?");
            free(e);
        }
        printf("built in %.1f ms (%s), code hash %.16s\n", compile_ms, br.cache_hit ? "cache hit" : "compiled",
               br.code_hash);
        if (o.verbose)
            printf("shared object: %s\n", br.so_path);
    }
    if (o.out_path) {
        if (write_artifact(&o, &tgt, &op, op.name, ref, &br) < 0) {
            snprintf(err, sizeof err, "-o %s: %s", o.out_path, dlc_last_error());
            goto done;
        }
        json_object_set_new(j, "output", json_string(o.out_path));
    }

    if (o.run) {
        dlc_measure_result_t mr;
        o.mo.check = 1;
        if ((o.tracker ? dlc__build_measure_remote(&o, &tgt, br.so_path, op.name, &mr)
                       : dlc_measure(&tgt, br.so_path, op.name, &o.mo, &mr)) < 0) {
            snprintf(err, sizeof err, "run: %s", dlc_last_error());
            goto done;
        }
        double gflops = mr.mean_s > 0 ? op.flops / mr.mean_s / 1e9 : 0.0;
        json_t *costs = json_array();
        for (int i = 0; i < mr.n_costs; i++)
            json_array_append_new(costs, json_real(mr.costs[i]));
        json_object_set_new(j, "verified", json_boolean(mr.verified));
        json_object_set_new(j, "max_abs_err", dlc__build_json_finite(mr.max_abs_err));
        json_object_set_new(j, "mean_ms", json_real(mr.mean_s * 1e3));
        json_object_set_new(j, "gflops", json_real(gflops));
        json_object_set_new(j, "costs", costs);
        json_object_set_new(j, "number", json_integer(mr.number));
        if (mr.status != 0) {
            snprintf(err, sizeof err, "run failed (%s): %s", dlc_status_name(mr.status), mr.message);
        } else if (!mr.verified) {
            snprintf(err, sizeof err, "run: wrong answer: max_abs_err %g%s%s", mr.max_abs_err,
                     mr.message[0] ? ": " : "", mr.message);
        } else if (!o.json) {
            if (o.tracker)
                printf("measured on a '%s' device through %s\n", o.key, o.tracker);
            else if (tgt.exec_wrapper[0])
                printf("ran under %s (emulated: timings are not the device's)\n", tgt.exec_wrapper);
            printf("verified against %s (max_abs_err %.3g)\n", ref, mr.max_abs_err);
            printf("mean %.4g ms over %d repeats x %d calls: %.3g GFLOP/s\n", mr.mean_s * 1e3, mr.n_costs, mr.number,
                   gflops);
        }
    }

done:
    rc = report(&o, j, err[0] ? err : NULL);
    dlc_strbuf_free(&ir);
    dlc_strbuf_free(&c);
    dlc_ctx_destroy(&ctx);
    dlc_config_destroy(&cfg);
    dlc_task_destroy(&task);
    return rc;
}
