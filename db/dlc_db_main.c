/* dlc_db_main.c — dlc-db: the tuning database from the command line (import
 * and export TVM logs, best-config queries, statistics, maintenance) and the
 * shared server (serve).
 *
 * Exit codes: 0 ok; 1 not found (no record for the query, nothing to
 * export); 2 usage or input error (bad flag, unreadable or rejected log, bad
 * JSON); 3 database error (cannot open, busy past the timeout, disk). */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <math.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sqlite3.h>

#include "db/dlc_db.h"
#include "db/dlc_db_http.h"
#include "schedule-templates/dlc_templates.h"

#ifndef DLC_VERSION
#define DLC_VERSION "unknown"
#endif

enum { EXIT_NOTFOUND = 1, EXIT_USAGE = 2, EXIT_DB = 3 };

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv, const char *db_path);
    const char *summary;
    const char *help; /* the subcommand's --help text after its usage line */
} command_t;

static const char common_help[] =
    "  --db PATH   the database file (default: $DLC_DB, else ~/.cache/dlc/tuning.db\n"
    "              or $DLC_CACHE_DIR/tuning.db; created on first use); for best and\n"
    "              import also a server URL, http://HOST:PORT (dlc-db serve): best\n"
    "              then keeps answers in a local cache ($DLC_DB_CACHE, else\n"
    "              ~/.cache/dlc/db-cache/HOST_PORT.db) and answers from it, with a\n"
    "              warning, when the server is down; import uploads with the token\n"
    "              of --token-file or $DLC_DB_TOKEN\n"
    "  --help      this text\n"
    "exit codes: 0 ok, 1 not found, 2 usage or input error, 3 database error\n";

static int usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "dlc-db%s%s: ", cmd ? " " : "", cmd ? cmd : "");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\ntry 'dlc-db %s%s--help'\n", cmd ? cmd : "", cmd ? " " : "");
    return EXIT_USAGE;
}

static int db_error(const char *cmd) {
    fprintf(stderr, "dlc-db %s: %s\n", cmd, dlc_last_error());
    return EXIT_DB;
}

static void print_json(json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    printf("%s\n", s ? s : "{\"error\": \"out of memory\"}");
    free(s);
    json_decref(j);
}

static dlc_db_t *open_db(const char *cmd, const char *path, int flags) {
    dlc_db_t *db = dlc_db_open(path, flags);
    if (!db)
        fprintf(stderr, "dlc-db %s: %s\n", cmd, dlc_last_error());
    return db;
}

/* getopt_long over a subcommand's arguments (argv[0] is the subcommand).
 * Every subcommand takes --db and --help. */
enum { OPT_DB = 256, OPT_HELP, OPT_JSON, OPT_TARGET, OPT_BEST, OPT_OP, OPT_TASK, OPT_ARGS, OPT_TEMPLATE,
       OPT_DEVICE_KEY, OPT_DEVICE_DESC, OPT_STRICT, OPT_QUIET, OPT_TOOL_VERSION, OPT_PORT, OPT_BIND, OPT_TOKEN_FILE,
       OPT_THREADS };

/* The token in a file, surrounding whitespace removed; NULL with a message. */
static char *read_token(const char *cmd, const char *path) {
    char *data = NULL;
    size_t len = 0;
    if (dlc_file_read(path, &data, &len) < 0) {
        fprintf(stderr, "dlc-db %s: --token-file %s: %s\n", cmd, path, dlc_last_error());
        return NULL;
    }
    while (len && isspace((unsigned char)data[len - 1]))
        data[--len] = '\0';
    size_t start = 0;
    while (start < len && isspace((unsigned char)data[start]))
        start++;
    memmove(data, data + start, len - start + 1);
    if (!data[0] || strpbrk(data, "\r\n")) {
        fprintf(stderr, "dlc-db %s: --token-file %s: %s\n", cmd, path,
                data[0] ? "the token must be one line" : "the file is empty");
        free(data);
        return NULL;
    }
    return data;
}

#define COMMON_OPTS {"db", required_argument, NULL, OPT_DB}, {"help", no_argument, NULL, OPT_HELP}

static void print_cmd_help(const command_t *c);
static const command_t *find_command(const char *name);

/* Handles --db and --help; returns -1 to go on, an exit code otherwise. */
static int common_opt(int opt, char **argv, const char *cmd, const char **db_path) {
    if (opt == OPT_DB) {
        if (!*optarg)
            return usage_error(cmd, "--db needs a path");
        if (dlc_db_is_url(optarg) && strcmp(cmd, "best") != 0 && strcmp(cmd, "import") != 0)
            return usage_error(cmd, "--db %s: a server URL works with best and import; use a file here", optarg);
        *db_path = optarg;
        return -1;
    }
    if (opt == OPT_HELP) {
        print_cmd_help(find_command(cmd));
        return 0;
    }
    if (opt == ':')
        return usage_error(cmd, "option '%s' needs a value", argv[optind - 1]);
    return usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
}

/* ---- import ---- */

static void report_malformed(const char *file, int64_t line, const char *reason, void *user) {
    int *quiet = user;
    if (!*quiet)
        fprintf(stderr, "%s:%lld: %s\n", file, (long long)line, reason);
}

static int read_stdin(char **data, size_t *len) {
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, stdin)) > 0)
        dlc_strbuf_appendn(&sb, buf, n);
    if (ferror(stdin)) {
        dlc_strbuf_free(&sb);
        return dlc_error(DLC_EIO, "<stdin>: read error");
    }
    *len = sb.len;
    *data = dlc_strbuf_take(&sb);
    return 0;
}

/* A log must be a readable file (or a pipe): DLC_EINVAL naming why not. */
static int check_readable(const char *path) {
    struct stat sb;
    if (stat(path, &sb) != 0)
        return dlc_error(DLC_EINVAL, "%s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return dlc_error(DLC_EINVAL, "%s: is a directory", path);
    if (access(path, R_OK) != 0)
        return dlc_error(DLC_EINVAL, "%s: %s", path, strerror(errno));
    return 0;
}

static int cmd_import(int argc, char **argv, const char *db_path) {
    static const struct option opts[] = {
        COMMON_OPTS,
        {"device-key", required_argument, NULL, OPT_DEVICE_KEY},
        {"device-desc", required_argument, NULL, OPT_DEVICE_DESC},
        {"tool-version", required_argument, NULL, OPT_TOOL_VERSION},
        {"strict", no_argument, NULL, OPT_STRICT},
        {"quiet", no_argument, NULL, OPT_QUIET},
        {"json", no_argument, NULL, OPT_JSON},
        {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
        {0, 0, 0, 0}};
    dlc_db_source_t src = {NULL, NULL, NULL};
    const char *token_file = NULL;
    int strict = 0, quiet = 0, json = 0, opt, rc;
    while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_DEVICE_KEY: src.device_key = optarg; break;
        case OPT_DEVICE_DESC: src.device_desc = optarg; break;
        case OPT_TOOL_VERSION: src.tool_version = optarg; break;
        case OPT_STRICT: strict = 1; break;
        case OPT_QUIET: quiet = 1; break;
        case OPT_JSON: json = 1; break;
        case OPT_TOKEN_FILE: token_file = optarg; break;
        default:
            if ((rc = common_opt(opt, argv, "import", &db_path)) >= 0)
                return rc;
        }
    }
    if (optind >= argc)
        return usage_error("import", "no log file given (use - for stdin)");
    int n_stdin = 0;
    for (int i = optind; i < argc; i++)
        n_stdin += strcmp(argv[i], "-") == 0;
    if (n_stdin > 1)
        return usage_error("import", "- (stdin) given more than once");
    int url = dlc_db_is_url(db_path);
    if (url && strict)
        return usage_error("import", "--strict works on a database file, not a server URL");
    if (token_file && !url)
        return usage_error("import", "--token-file goes with --db URL");
    char *token = token_file ? read_token("import", token_file) : NULL;
    if (token_file && !token)
        return EXIT_USAGE;
    dlc_db_url_opts_t uo = {token, 0};
    dlc_db_t *db = url ? dlc_db_open_url(db_path, NULL, &uo) : open_db("import", db_path, 0);
    free(token);
    if (!db) {
        if (url)
            fprintf(stderr, "dlc-db import: %s\n", dlc_last_error());
        return EXIT_DB;
    }
    int status = 0;
    int64_t tot_added = 0, tot_dup = 0, tot_bad = 0;
    json_t *files = json ? json_array() : NULL;
    for (int i = optind; i < argc; i++) {
        const char *path = argv[i];
        dlc_db_import_t st = {.strict = strict, .on_error = report_malformed, .user = &quiet};
        if (strcmp(path, "-") == 0) {
            char *data = NULL;
            size_t len = 0;
            rc = read_stdin(&data, &len);
            if (rc == 0)
                rc = url ? dlc_db_upload(db, data, len, &src, &st)
                         : dlc_db_import_buffer(db, "<stdin>", data, len, &src, &st);
            free(data);
        } else if (url && (rc = check_readable(path)) == 0) {
            char *data = NULL;
            size_t len = 0;
            if ((rc = dlc_file_read(path, &data, &len)) < 0)
                rc = DLC_EINVAL;
            else
                rc = dlc_db_upload(db, data, len, &src, &st);
            free(data);
        } else if ((rc = check_readable(path)) == 0) {
            rc = dlc_db_import_file(db, path, &src, &st);
            if (rc == DLC_EIO && check_readable(path) < 0)
                rc = DLC_EINVAL; /* it went away while we read it */
        }
        /* bad input (unreadable, rejected by --strict) or the database failing */
        int file_status = rc == 0 ? 0 : rc == DLC_EINVAL || rc == DLC_EPARSE ? EXIT_USAGE : EXIT_DB;
        if (rc < 0)
            fprintf(stderr, "dlc-db import: %s; nothing imported from %s\n", dlc_last_error(), path);
        if (!json && !quiet)
            printf("%s: %lld added, %lld duplicate%s, %lld malformed%s\n", path, (long long)st.added,
                   (long long)st.duplicates, st.duplicates == 1 ? "" : "s", (long long)st.malformed,
                   rc < 0 ? " (rolled back)" : "");
        if (files)
            json_array_append_new(files, json_pack("{s:s, s:b, s:I, s:I, s:I, s:s?}", "file", path, "ok", rc == 0,
                                                   "added", (json_int_t)st.added, "duplicates",
                                                   (json_int_t)st.duplicates, "malformed", (json_int_t)st.malformed,
                                                   "error", rc < 0 ? dlc_last_error() : NULL));
        tot_added += st.added;
        tot_dup += st.duplicates;
        tot_bad += st.malformed;
        if (file_status > status)
            status = file_status;
        if (file_status == EXIT_DB)
            break; /* the database itself failed: later files would too */
    }
    int64_t total = url ? -1 : dlc_db_record_count(db); /* a server's total: GET /v1/stats */
    if (json)
        print_json(json_pack("{s:o, s:I, s:I, s:I, s:I}", "files", files, "added", (json_int_t)tot_added,
                             "duplicates", (json_int_t)tot_dup, "malformed", (json_int_t)tot_bad, "records",
                             (json_int_t)total));
    else if (!quiet && url)
        printf("total: %lld added, %lld duplicates, %lld malformed; uploaded to %s\n", (long long)tot_added,
               (long long)tot_dup, (long long)tot_bad, db_path);
    else if (!quiet)
        printf("total: %lld added, %lld duplicates, %lld malformed; %lld records in %s\n", (long long)tot_added,
               (long long)tot_dup, (long long)tot_bad, (long long)total, db_path);
    dlc_db_close(&db);
    return status;
}

/* ---- export ---- */

static int write_line(const char *line, size_t len, void *user) {
    int64_t *n = user;
    if (fwrite(line, 1, len, stdout) != len || fputc('\n', stdout) == EOF)
        return dlc_error(DLC_EIO, "stdout: write error");
    (*n)++;
    return 0;
}

static int cmd_export(int argc, char **argv, const char *db_path) {
    static const struct option opts[] = {
        COMMON_OPTS, {"best", no_argument, NULL, OPT_BEST}, {"target", required_argument, NULL, OPT_TARGET},
        {0, 0, 0, 0}};
    const char *target = NULL;
    int best = 0, opt, rc;
    while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_BEST: best = 1; break;
        case OPT_TARGET: target = optarg; break;
        default:
            if ((rc = common_opt(opt, argv, "export", &db_path)) >= 0)
                return rc;
        }
    }
    if (optind < argc)
        return usage_error("export", "unexpected argument '%s'", argv[optind]);
    dlc_db_t *db = open_db("export", db_path, DLC_DB_READONLY);
    if (!db)
        return EXIT_DB;
    int64_t n = 0;
    rc = dlc_db_export(db, target, best, write_line, &n);
    if (fflush(stdout) != 0 && rc == 0)
        rc = dlc_error(DLC_EIO, "stdout: write error");
    dlc_db_close(&db);
    if (rc < 0)
        return db_error("export");
    if (n == 0) {
        fprintf(stderr, "dlc-db export: no records%s%s%s\n", target ? " for target '" : "", target ? target : "",
                target ? "'" : "");
        return EXIT_NOTFOUND;
    }
    return 0;
}

/* ---- best ---- */

static int cmd_best(int argc, char **argv, const char *db_path) {
    static const struct option opts[] = {
        COMMON_OPTS,
        {"target", required_argument, NULL, OPT_TARGET},
        {"op", required_argument, NULL, OPT_OP},
        {"template", required_argument, NULL, OPT_TEMPLATE},
        {"task", required_argument, NULL, OPT_TASK},
        {"args", required_argument, NULL, OPT_ARGS},
        {"json", no_argument, NULL, OPT_JSON},
        {0, 0, 0, 0}};
    const char *target = NULL, *op = NULL, *tmpl = NULL, *task_name = NULL, *args_text = NULL;
    int json = 0, opt, rc;
    while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_TARGET: target = optarg; break;
        case OPT_OP: op = optarg; break;
        case OPT_TEMPLATE: tmpl = optarg; break;
        case OPT_TASK: task_name = optarg; break;
        case OPT_ARGS: args_text = optarg; break;
        case OPT_JSON: json = 1; break;
        default:
            if ((rc = common_opt(opt, argv, "best", &db_path)) >= 0)
                return rc;
        }
    }
    if (optind < argc)
        return usage_error("best", "unexpected argument '%s'", argv[optind]);
    if (!target)
        return usage_error("best", "missing --target TARGET");
    if (!op == !task_name)
        return usage_error("best", "give either --op SPEC or --task NAME --args JSON");
    if (task_name && !args_text)
        return usage_error("best", "--task needs --args JSON (the task's TVM arguments)");
    if (op && args_text)
        return usage_error("best", "--args goes with --task, not --op");
    if (tmpl && !op)
        return usage_error("best", "--template goes with --op");

    json_t *args = NULL;
    dlc_task_t *task = NULL;
    /* --op without --template: every candidate template's task (as dlc-build --db) */
    dlc_task_t *cands[16];
    int n_cands = 0;
    if (op) {
        dlc_op_spec_t spec;
        dlc_target_t tgt;
        if (dlc_op_parse(op, &spec) < 0)
            return usage_error("best", "bad --op '%s': %s", op, dlc_last_error());
        if (dlc_target_parse(target, &tgt) < 0)
            return usage_error("best", "--op needs a target dlc compiles for: %s", dlc_last_error());
        n_cands = dlc_task_candidates(&spec, tmpl, &tgt, 0, cands, 16);
        if (n_cands < 0)
            return usage_error("best", "no task for --op '%s' on '%s': %s", op, target, dlc_last_error());
        task = cands[0];
        task_name = dlc_task_template(task)->name;
        args = json_incref((json_t *)dlc_task_args(task));
    } else {
        json_error_t jerr;
        args = json_loads(args_text, JSON_DECODE_ANY, &jerr);
        if (!args)
            return usage_error("best", "bad --args JSON: %s (column %d)", jerr.text, jerr.column);
        if (!json_is_array(args)) {
            json_decref(args);
            return usage_error("best", "--args must be a JSON list, as in a TVM log's \"input\"[2]");
        }
    }
    dlc_db_t *db = dlc_db_is_url(db_path) ? dlc_db_open_url(db_path, NULL, NULL) : open_db("best", db_path, DLC_DB_READONLY);
    if (!db && dlc_db_is_url(db_path))
        fprintf(stderr, "dlc-db best: %s\n", dlc_last_error());
    if (!db) {
        json_decref(args);
        for (int i = 0; i < n_cands; i++)
            dlc_task_destroy(&cands[i]);
        return EXIT_DB;
    }
    dlc_db_best_t b;
    rc = dlc_db_best(db, target, task_name, args, &b);
    for (int i = 1; i < n_cands && (rc == 0 || rc == DLC_ENOTFOUND); i++) {
        dlc_db_best_t o;
        int orc = dlc_db_best(db, target, dlc_task_template(cands[i])->name, dlc_task_args(cands[i]), &o);
        if (orc < 0 && orc != DLC_ENOTFOUND) {
            if (rc == 0) dlc_db_best_clear(&b);
            rc = orc;
        } else if (orc == 0 && (rc == DLC_ENOTFOUND || dlc_db_best_beats(&o, &b))) {
            if (rc == 0) dlc_db_best_clear(&b);
            b = o;
            rc = 0;
            task_name = dlc_task_template(cands[i])->name;
            json_decref(args);
            args = json_incref((json_t *)dlc_task_args(cands[i]));
        } else if (orc == 0) {
            dlc_db_best_clear(&o);
        }
    }
    if (rc == DLC_ENOTFOUND && n_cands > 1) /* name the first candidate, as the miss did */
        dlc_error(DLC_ENOTFOUND, "no record for %s (nor for the op's other %d candidate template%s) on '%s'",
                  dlc_task_template(task)->name, n_cands - 1, n_cands == 2 ? "" : "s", target);
    int status = 0;
    if (rc == DLC_ENOTFOUND) {
        fprintf(stderr, "dlc-db best: %s\n", dlc_last_error());
        if (json)
            print_json(json_pack("{s:s, s:s, s:O, s:b}", "target", target, "task", task_name, "args", args, "found",
                                 0));
        status = EXIT_NOTFOUND;
    } else if (rc < 0) {
        status = db_error("best");
    } else if (json) {
        json_t *j = json_pack("{s:s, s:s, s:O, s:b, s:s, s:s?, s:s, s:f, s:I, s:O, s:s, s:s, s:s}", "target", target,
                              "task", task_name, "args", args, "found", 1, "match", dlc_db_match_name(b.match),
                              "matched_key", b.matched_key[0] ? b.matched_key : NULL, "record_target", b.rec.target,
                              "mean_cost", b.mean_cost, "config_index", (json_int_t)b.rec.index, "entity",
                              b.rec.entity, "device_key", b.device_key, "tool_version", b.tool_version, "line",
                              b.line);
        print_json(j);
    } else {
        printf("%s\n", b.line);
        if (b.match != DLC_DB_MATCH_EXACT)
            fprintf(stderr, "dlc-db best: matched by %s%s%s (record target '%s')\n", dlc_db_match_name(b.match),
                    b.matched_key[0] ? " " : "", b.matched_key, b.rec.target);
    }
    dlc_db_best_clear(&b);
    dlc_db_close(&db);
    json_decref(args);
    for (int i = 0; i < n_cands; i++)
        dlc_task_destroy(&cands[i]);
    return status;
}

/* ---- stats, vacuum, check ---- */

typedef struct {
    json_t *arr;
    int64_t tasks, records, errors;
} stats_ctx_t;

static int stats_row(const dlc_db_target_stats_t *s, void *user) {
    stats_ctx_t *c = user;
    if (c->arr)
        json_array_append_new(c->arr, json_pack("{s:s, s:I, s:I, s:I}", "target", s->target, "tasks",
                                                (json_int_t)s->tasks, "records", (json_int_t)s->records, "errors",
                                                (json_int_t)s->errors));
    else
        printf("%8lld %8lld %8lld  %s\n", (long long)s->tasks, (long long)s->records, (long long)s->errors,
               s->target);
    c->tasks += s->tasks;
    c->records += s->records;
    c->errors += s->errors;
    return 0;
}

static int cmd_stats(int argc, char **argv, const char *db_path) {
    static const struct option opts[] = {COMMON_OPTS, {"json", no_argument, NULL, OPT_JSON}, {0, 0, 0, 0}};
    int json = 0, opt, rc;
    while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        if (opt == OPT_JSON)
            json = 1;
        else if ((rc = common_opt(opt, argv, "stats", &db_path)) >= 0)
            return rc;
    }
    if (optind < argc)
        return usage_error("stats", "unexpected argument '%s'", argv[optind]);
    dlc_db_t *db = open_db("stats", db_path, DLC_DB_READONLY);
    if (!db)
        return EXIT_DB;
    stats_ctx_t c = {json ? json_array() : NULL, 0, 0, 0};
    if (!json)
        printf("%8s %8s %8s  %s\n", "tasks", "records", "errors", "target");
    rc = dlc_db_stats(db, stats_row, &c);
    dlc_db_close(&db);
    if (rc < 0) {
        json_decref(c.arr);
        return db_error("stats");
    }
    if (json)
        print_json(json_pack("{s:o, s:I, s:I, s:I}", "targets", c.arr, "tasks", (json_int_t)c.tasks, "records",
                             (json_int_t)c.records, "errors", (json_int_t)c.errors));
    else
        printf("%8lld %8lld %8lld  (all targets)\n", (long long)c.tasks, (long long)c.records, (long long)c.errors);
    return 0;
}

static int cmd_maint(int argc, char **argv, const char *db_path, const char *cmd, int (*fn)(dlc_db_t *)) {
    static const struct option opts[] = {COMMON_OPTS, {0, 0, 0, 0}};
    int opt, rc;
    while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1)
        if ((rc = common_opt(opt, argv, cmd, &db_path)) >= 0)
            return rc;
    if (optind < argc)
        return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    dlc_db_t *db = open_db(cmd, db_path, 0);
    if (!db)
        return EXIT_DB;
    rc = fn(db);
    dlc_db_close(&db);
    if (rc < 0)
        return db_error(cmd);
    printf("%s: ok\n", db_path);
    return 0;
}

static int cmd_vacuum(int argc, char **argv, const char *db_path) {
    return cmd_maint(argc, argv, db_path, "vacuum", dlc_db_vacuum);
}
static int cmd_check(int argc, char **argv, const char *db_path) {
    return cmd_maint(argc, argv, db_path, "check", dlc_db_check);
}

/* ---- serve ---- */

static int cmd_serve(int argc, char **argv, const char *db_path) {
    static const struct option opts[] = {
        COMMON_OPTS,
        {"port", required_argument, NULL, OPT_PORT},
        {"bind", required_argument, NULL, OPT_BIND},
        {"token-file", required_argument, NULL, OPT_TOKEN_FILE},
        {"threads", required_argument, NULL, OPT_THREADS},
        {0, 0, 0, 0}};
    dlc_db_server_opts_t o = {.db_path = db_path, .bind_addr = "127.0.0.1", .port = DLC_DB_HTTP_PORT};
    const char *token_file = NULL;
    int opt, rc;
    char *end;
    while ((opt = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
        switch (opt) {
        case OPT_PORT:
            o.port = (int)strtol(optarg, &end, 10);
            if (!*optarg || *end || o.port < 0 || o.port > 65535)
                return usage_error("serve", "bad --port '%s' (0..65535; 0 picks a free port)", optarg);
            break;
        case OPT_BIND: o.bind_addr = optarg; break;
        case OPT_TOKEN_FILE: token_file = optarg; break;
        case OPT_THREADS:
            o.threads = (int)strtol(optarg, &end, 10);
            if (!*optarg || *end || o.threads < 1 || o.threads > 256)
                return usage_error("serve", "bad --threads '%s' (1..256)", optarg);
            break;
        default:
            if ((rc = common_opt(opt, argv, "serve", &o.db_path)) >= 0)
                return rc;
        }
    }
    if (optind < argc)
        return usage_error("serve", "unexpected argument '%s'", argv[optind]);
    char *token = token_file ? read_token("serve", token_file) : NULL;
    if (token_file && !token)
        return EXIT_USAGE;
    o.token = token;
    /* the signals wait for sigwait here, not in the server's threads (which inherit the mask) */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    dlc_db_server_t *srv = dlc_db_server_new(&o);
    free(token);
    if (!srv) {
        fprintf(stderr, "dlc-db serve: %s\n", dlc_last_error());
        return dlc_last_status() == DLC_EINVAL ? EXIT_USAGE : EXIT_DB;
    }
    int v6 = strchr(o.bind_addr, ':') != NULL;
    printf("dlc-db serve: listening on http://%s%s%s:%d (database %s; uploads %s)\n", v6 ? "[" : "", o.bind_addr,
           v6 ? "]" : "", dlc_db_server_port(srv), o.db_path,
           token_file ? "need the token" : "open to this machine");
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "dlc-db serve: signal %d, stopping\n", sig);
    dlc_db_server_destroy(&srv);
    return 0;
}

/* ---- dispatch ---- */

static const command_t commands[] = {
    {"import", cmd_import, "add TVM log files (or - for stdin) to the database",
     "usage: dlc-db import [--db PATH] [--device-key K] [--device-desc TEXT] [--tool-version V]\n"
     "                     [--strict] [--quiet] [--json] LOG... | -\n"
     "\n"
     "Each file is imported in one transaction: entirely or not at all (a killed\n"
     "import leaves the database as it was before that file). Records already in\n"
     "the database are counted as duplicates and not stored again. Malformed lines\n"
     "are reported as FILE:LINE: reason and skipped; with --strict any malformed\n"
     "line rejects its whole file. Prints a summary per file and in total.\n"
     "\n"
     "  --device-key K      the tracker key the records were measured on\n"
     "  --device-desc TEXT  free text about the device, stored with each record\n"
     "  --tool-version V    the measuring tool (default: the record's tvm_version)\n"
     "  --strict            reject a file with any malformed line (exit 2)\n"
     "  --quiet             no per-line reports or summary\n"
     "  --json              the summary as one JSON object\n"
     "exit: 2 when a file could not be read or was rejected (the others are imported)\n"},
    {"export", cmd_export, "write records as TVM log lines on stdout",
     "usage: dlc-db export [--db PATH] [--best] [--target TARGET]\n"
     "\n"
     "Writes records in the order they were stored, one TVM log line each (the\n"
     "text TVM's json.dumps writes: TopHub lines come back byte for byte).\n"
     "\n"
     "  --best           only the best error-free record of each task\n"
     "  --target TARGET  only records of this exact target string\n"
     "exit: 1 when no record was written\n"},
    {"best", cmd_best, "the best config for a task",
     "usage: dlc-db best [--db PATH] --target TARGET (--op SPEC [--template NAME] | --task NAME --args JSON)\n"
     "                   [--json]\n"
     "\n"
     "Prints the TVM log line of the lowest-mean-cost error-free record of the\n"
     "task. Target matching: records of the exact target string first, then of\n"
     "the same -model, then of each of the target's keys in order (arm_cpu, cpu;\n"
     "cuda, gpu ...), as TVM's ApplyHistoryBest does.\n"
     "\n"
     "  --target TARGET  TVM target string, e.g. \"llvm -mcpu=skylake-avx512\"\n"
     "  --op SPEC        an operator (dlc-build's grammar): the best record of\n"
     "                   any of its candidate templates for the target (as\n"
     "                   dlc-build --db picks), or of --template NAME\n"
     "  --task NAME      a TVM task name, e.g. conv2d_NCHWc.x86, with\n"
     "  --args JSON      its arguments as a TVM log has them\n"
     "  --json           one JSON object: match, entity, config_index, mean_cost, line\n"
     "exit: 1 when no error-free record matches\n"},
    {"stats", cmd_stats, "tasks, records and failed records per target",
     "usage: dlc-db stats [--db PATH] [--json]\n"},
    {"vacuum", cmd_vacuum, "compact the database file", "usage: dlc-db vacuum [--db PATH]\n"},
    {"check", cmd_check, "PRAGMA integrity_check and foreign_key_check", "usage: dlc-db check [--db PATH]\n"},
    {"serve", cmd_serve, "share the database over HTTP JSON",
     "usage: dlc-db serve [--db PATH] [--port P] [--bind ADDR] [--token-file F] [--threads N]\n"
     "\n"
     "Serves the database until SIGINT or SIGTERM; prints 'listening on\n"
     "http://ADDR:PORT' on stdout once ready. Builds and tuners use it with\n"
     "--db http://ADDR:PORT. Routes (JSON; errors are 4xx/5xx {\"error\": \"...\"}):\n"
     "  GET  /healthz                              {\"status\": \"ok\", \"records\": N}\n"
     "  GET  /v1/best?target=T&task=NAME&args=JSON  the best record: \"record\" (the\n"
     "       TVM log line as JSON), \"line\", \"index\", \"entity\", \"mean_cost\",\n"
     "       \"match\"; 404 when none (as dlc-db best)\n"
     "  GET  /v1/stats                             as dlc-db stats --json\n"
     "  GET  /v1/export[?best=1][&target=T]        TVM log lines (ndjson)\n"
     "  POST /v1/records[?device_key=K]            body: TVM log lines, one\n"
     "       transaction; needs 'Authorization: Bearer TOKEN' when a token file is\n"
     "       set; answers the import counts\n"
     "400 bad parameters or args JSON, 401 wrong or missing token, 404 unknown\n"
     "route, 405 wrong method, 413 body over 8 MiB (refused from Content-Length,\n"
     "or while a chunked body streams in).\n"
     "\n"
     "  --port P          TCP port (default 9191; 0: any free port)\n"
     "  --bind ADDR       IPv4 or IPv6 address (default 127.0.0.1); beyond loopback\n"
     "                    the server refuses to start without --token-file\n"
     "  --token-file F    the upload token: the file's one line\n"
     "  --threads N       worker threads, each with its own connection (default 4)\n"
     "exit: 2 usage (bad flag, token file, address; no token off loopback),\n"
     "3 the database cannot be opened or the port is taken\n"},
};

static const command_t *find_command(const char *name) {
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

static void print_cmd_help(const command_t *c) {
    fputs(c->help, stdout);
    fputs("\n", stdout);
    fputs(common_help, stdout);
}

static void print_help(void) {
    printf("usage: dlc-db [--db PATH] COMMAND [ARGS]   (dlc-db COMMAND --help for each)\n\n"
           "The tuning database: TVM tuning records in one SQLite file.\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        printf("  %-8s %s\n", commands[i].name, commands[i].summary);
    printf("\n%s", common_help);
}

int main(int argc, char **argv) {
    const char *db_path = dlc_db_default_path();
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            print_help();
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("dlc-db %s (sqlite %s)\n", DLC_VERSION, sqlite3_libversion());
            return 0;
        } else if (strcmp(argv[i], "--db") == 0 && i + 1 < argc && argv[i + 1][0]) {
            db_path = argv[++i];
        } else if (strncmp(argv[i], "--db=", 5) == 0 && argv[i][5]) {
            db_path = argv[i] + 5;
        } else {
            return usage_error(NULL, "unknown option '%s' before the command", argv[i]);
        }
    }
    if (i >= argc)
        return usage_error(NULL, "missing command (import, export, best, stats, vacuum, check, serve)");
    const command_t *c = find_command(argv[i]);
    if (!c)
        return usage_error(NULL, "unknown command '%s'", argv[i]);
    /* (a --db after the command is checked by common_opt) */
    if (dlc_db_is_url(db_path) && c->run != cmd_best && c->run != cmd_import)
        return usage_error(c->name, "--db %s: a server URL works with best and import; "
                           "use a file here", db_path);
    opterr = 0; /* our own message names the option */
    optind = 0;
    return c->run(argc - i, argv + i, db_path);
}
