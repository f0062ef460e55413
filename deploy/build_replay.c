/* build_replay.c — dlc-build --replay LOG: every record of a TVM tuning log
 * whose task dlc knows is rebuilt with its args, target and entity, and with
 * --verify run and checked against the reference; one line per record, then
 * a summary. Three phases: read (task, config, instantiate, lower, generate C
 * for each record), build (the C of each target through dlc_build_many, in
 * parallel and through the cache), run (one record at a time). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "build_impl.h"

enum { ENTRY_RECORD, ENTRY_SKIPPED, ENTRY_MALFORMED };

/* What one log line became. */
typedef struct {
    int64_t line;
    int kind;
    char task[96];
    int64_t rec_index, dlc_index; /* dlc_index: -1 when the entity was not placed */
    int target;                   /* index into replay_t.targets; -1 if none */
    int error_no;                 /* dlc_measure_error_t: NO_ERROR while all goes well */
    char *msg;                    /* error detail or malformed reason (owned) */
    char *src;                    /* generated C until built (owned) */
    size_t len;
    char entry[32];               /* r<line> */
    double flops, rec_mean_s;     /* rec_mean_s: the log's mean cost (seconds; 0 if none) */
    char *so_path;                /* owned */
    double compile_s;
    int cache_hit, built, verified;
    double max_abs_err, mean_s;   /* seconds */
} rentry_t;

/* A record target and what dlc builds it for. */
typedef struct {
    char from[256];               /* the record's target string (or the override) */
    int ok;                       /* tgt is usable */
    char err[512];
    dlc_target_t tgt;
    char note[512];               /* why tgt differs from `from`; "" if not */
} rtarget_t;

typedef struct {
    const dlc__build_opts_t *o;
    dlc_target_t host;
    rentry_t *e;
    int n, cap;
    rtarget_t *targets;
    int n_targets;
    int64_t known, records, filtered;
    int limit_reached;
} replay_t;

static rentry_t *new_entry(replay_t *r, int64_t line, int kind) {
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 64;
        rentry_t *e = realloc(r->e, sizeof *e * (size_t)cap);
        if (!e)
            return NULL;
        r->e = e;
        r->cap = cap;
    }
    rentry_t *e = &r->e[r->n++];
    memset(e, 0, sizeof *e);
    e->line = line;
    e->kind = kind;
    e->dlc_index = -1;
    e->target = -1;
    return e;
}

static void fail_entry(rentry_t *e, int error_no, const char *msg) {
    e->error_no = error_no;
    free(e->msg);
    e->msg = strdup(msg);
}

static int on_path(const char *exe) {
    const char *path = getenv("PATH");
    char buf[4096];
    while (path && *path) {
        size_t n = strcspn(path, ":");
        if (n > 0 && snprintf(buf, sizeof buf, "%.*s/%s", (int)n, path, exe) < (int)sizeof buf &&
            access(buf, X_OK) == 0)
            return 1;
        path += n;
        if (*path == ':')
            path++;
    }
    return 0;
}

/* `in` without its tokens that start with `drop`, plus `add` (may be NULL). */
static void retarget(const char *in, const char *drop, const char *add, char *out, size_t cap) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", in);
    size_t len = 0;
    out[0] = '\0';
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save))
        if (strncmp(tok, drop, strlen(drop)) != 0 && len < cap)
            len += (size_t)snprintf(out + len, cap - len, "%s%s", len ? " " : "", tok);
    if (add && len < cap)
        snprintf(out + len, cap - len, " %s", add);
}

/* Parses a record's target once and decides what to build it for:
 * - armv7 without an armv7 cross compiler here: aarch64, run under qemu-aarch64;
 * - with --verify, an x86 -mcpu whose vectors this CPU lacks: this machine.
 * The records are about schedules, not about an ISA. */
static int resolve_target(replay_t *r, const char *text) {
    for (int i = 0; i < r->n_targets; i++)
        if (strcmp(r->targets[i].from, text) == 0)
            return i;
    rtarget_t *nt = realloc(r->targets, sizeof *nt * (size_t)(r->n_targets + 1));
    if (!nt)
        return -1;
    r->targets = nt;
    rtarget_t *t = &nt[r->n_targets];
    memset(t, 0, sizeof *t);
    snprintf(t->from, sizeof t->from, "%s", text);
    if (dlc_target_parse(text, &t->tgt) < 0) {
        snprintf(t->err, sizeof t->err, "%s", dlc_last_error());
        return r->n_targets++;
    }
    char alt[256];
    if (t->tgt.arch == DLC_ARCH_ARMV7 && !t->tgt.is_host && !on_path(t->tgt.cc)) {
        retarget(text, "-mtriple=", "-mtriple=aarch64-linux-gnu", alt, sizeof alt);
        if (dlc_target_parse(alt, &t->tgt) < 0) {
            snprintf(t->err, sizeof t->err, "%s", dlc_last_error());
            return r->n_targets++;
        }
        snprintf(t->note, sizeof t->note, "armv7 target '%s' is built as '%s' (no %s here; runs under qemu-aarch64)",
                 text, t->tgt.str, "arm-linux-gnueabihf-gcc");
    }
    if (r->o->verify && t->tgt.is_host && t->tgt.arch == DLC_ARCH_X86_64 && t->tgt.mcpu[0] &&
        t->tgt.vector_bytes > r->host.vector_bytes) {
        char mcpu[64];
        snprintf(mcpu, sizeof mcpu, "%s", t->tgt.mcpu);
        int vb = t->tgt.vector_bytes;
        retarget(t->tgt.str, "-mcpu=", NULL, alt, sizeof alt);
        if (dlc_target_parse(alt, &t->tgt) < 0) {
            snprintf(t->err, sizeof t->err, "%s", dlc_last_error());
            return r->n_targets++;
        }
        snprintf(t->note, sizeof t->note,
                 "-mcpu=%s has %d-byte vectors, this CPU %d: records for '%s' are built for this machine as '%s' "
                 "(-march=native)",
                 mcpu, vb, r->host.vector_bytes, text, t->tgt.str);
    }
    t->ok = 1;
    return r->n_targets++;
}

/* Task, config, instantiation, lowering and C for one known record. */
static void prepare(replay_t *r, rentry_t *e, const dlc_record_t *rec) {
    char msg[1024];
    e->target = resolve_target(r, r->o->target_override ? r->o->target_override : rec->target);
    if (e->target < 0) {
        fail_entry(e, DLC_MEASURE_UNKNOWN_ERROR, "out of memory");
        return;
    }
    const rtarget_t *t = &r->targets[e->target];
    if (!t->ok) {
        fail_entry(e, DLC_MEASURE_COMPILE_HOST, t->err);
        return;
    }
    dlc_task_t *task = NULL;
    dlc_config_t *cfg = NULL;
    dlc_ctx_t *ctx = NULL;
    if (dlc_task_create(rec->task_name, rec->args, &t->tgt, &task) < 0) {
        snprintf(msg, sizeof msg, "args: %s", dlc_last_error());
        fail_entry(e, DLC_MEASURE_INSTANTIATION_ERROR, msg);
        return;
    }
    if (dlc_config_from_entity_json(dlc_task_space(task), rec->entity, &cfg) < 0) {
        snprintf(msg, sizeof msg, "config not in dlc's space: %s", dlc_last_error());
        fail_entry(e, DLC_MEASURE_INSTANTIATION_ERROR, msg);
        goto out;
    }
    e->dlc_index = dlc_config_index(cfg);
    dlc_op_t op;
    dlc_schedule_t *s = NULL;
    ctx = dlc_ctx_new();
    int rc = ctx ? dlc_task_instantiate(task, cfg, ctx, &op, &s) : dlc_error(DLC_ENOMEM, "out of memory");
    if (rc < 0) {
        fail_entry(e, DLC_MEASURE_INSTANTIATION_ERROR, dlc_last_error());
        goto out;
    }
    e->flops = op.flops;
    char ref[48];
    snprintf(e->entry, sizeof e->entry, "r%lld", (long long)e->line);
    snprintf(ref, sizeof ref, "%s_ref", e->entry);
    dlc_lowered_func_t *f = NULL, *fr = NULL;
    dlc_strbuf_t c;
    dlc_strbuf_init(&c);
    rc = dlc_lower(s, e->entry, op.n_args, op.args, op.n_outputs, &f);
    if (rc == 0)
        rc = dlc_lower_reference(ctx, ref, op.n_args, op.args, op.n_outputs, &fr);
    if (rc == 0) {
        f->flops = fr->flops = op.flops;
        f->ref_name = ref;
        rc = dlc_codegen_c((dlc_lowered_func_t *[]){f, fr}, 2, &t->tgt, &c);
    }
    if (rc < 0) {
        snprintf(msg, sizeof msg, "%s: %s", f && fr ? "code generation" : "lowering", dlc_last_error());
        fail_entry(e, DLC_MEASURE_COMPILE_HOST, msg);
        dlc_strbuf_free(&c);
        goto out;
    }
    e->len = c.len;
    e->src = dlc_strbuf_take(&c);
    if (!e->src)
        fail_entry(e, DLC_MEASURE_UNKNOWN_ERROR, "out of memory");
out:
    dlc_ctx_destroy(&ctx);
    dlc_config_destroy(&cfg);
    dlc_task_destroy(&task);
}

static int on_record(const dlc_record_t *rec, int64_t line, void *user) {
    replay_t *r = user;
    if (r->o->task_filter && strcmp(rec->task_name, r->o->task_filter) != 0) {
        r->filtered++;
        return 0;
    }
    int known = dlc_template_find(rec->task_name) != NULL;
    rentry_t *e = new_entry(r, line, known ? ENTRY_RECORD : ENTRY_SKIPPED);
    if (!e)
        return dlc_error(DLC_ENOMEM, "out of memory");
    r->records++;
    snprintf(e->task, sizeof e->task, "%s", rec->task_name);
    e->rec_index = rec->index;
    if (!known)
        return 0;
    double sum = 0;
    for (int i = 0; i < rec->n_costs; i++)
        sum += rec->costs[i];
    e->rec_mean_s = rec->error_no == 0 && rec->n_costs > 0 ? sum / rec->n_costs : 0;
    prepare(r, e, rec);
    if (++r->known == r->o->limit) {
        r->limit_reached = 1;
        return 1; /* stops the read */
    }
    return 0;
}

static void on_error(const char *file, int64_t line, const char *reason, void *user) {
    replay_t *r = user;
    fprintf(stderr, "dlc-build: %s:%lld: %s (line skipped)\n", file, (long long)line, reason);
    rentry_t *e = new_entry(r, line, ENTRY_MALFORMED);
    if (e)
        e->msg = strdup(reason);
}

/* Builds the C of every prepared record, one dlc_build_many per target. */
static void build_all(replay_t *r) {
    const char **src = calloc((size_t)r->n + 1, sizeof *src);
    size_t *len = calloc((size_t)r->n + 1, sizeof *len);
    int *idx = calloc((size_t)r->n + 1, sizeof *idx), *status = calloc((size_t)r->n + 1, sizeof *status);
    dlc_build_result_t *br = calloc((size_t)r->n + 1, sizeof *br);
    if (!src || !len || !idx || !status || !br) {
        for (int i = 0; i < r->n; i++)
            if (r->e[i].src)
                fail_entry(&r->e[i], DLC_MEASURE_UNKNOWN_ERROR, "out of memory");
        goto out;
    }
    for (int t = 0; t < r->n_targets; t++) {
        int n = 0;
        for (int i = 0; i < r->n; i++)
            if (r->e[i].src && r->e[i].target == t) {
                idx[n] = i;
                src[n] = r->e[i].src;
                len[n++] = r->e[i].len;
            }
        if (n == 0)
            continue;
        dlc_build_many(src, len, n, &r->targets[t].tgt, 0, br, status);
        for (int k = 0; k < n; k++) {
            rentry_t *e = &r->e[idx[k]];
            if (status[k] < 0) { /* built alone again for its own message (dlc_build_many keeps the first only) */
                dlc_build_result_t one;
                int rc = dlc_build_so(e->src, e->len, &r->targets[t].tgt, &one);
                if (rc == 0)
                    br[k] = one;
                else
                    fail_entry(e, DLC_MEASURE_COMPILE_HOST, dlc_last_error());
                status[k] = rc;
            }
            if (status[k] == 0) {
                e->built = 1;
                e->so_path = strdup(br[k].so_path);
                e->compile_s = br[k].compile_s;
                e->cache_hit = br[k].cache_hit;
            }
            free(e->src);
            e->src = NULL;
        }
    }
out:
    free(src);
    free(len);
    free(idx);
    free(status);
    free(br);
}

static void run_one(replay_t *r, rentry_t *e) {
    dlc_measure_opts_t mo = r->o->mo;
    mo.check = 1;
    if (!r->o->repeat_given)
        mo.repeat = 1;
    if (!r->o->min_repeat_given)
        mo.min_repeat_ms = 10;
    dlc_measure_result_t mr;
    int rc = dlc_measure(&r->targets[e->target].tgt, e->so_path, e->entry, &mo, &mr);
    char msg[640];
    int err = dlc_measure_error_no(rc, &mr, 1, msg, sizeof msg);
    if (rc == 0) {
        e->max_abs_err = mr.max_abs_err;
        e->mean_s = mr.mean_s;
    }
    if (err == DLC_MEASURE_NO_ERROR)
        e->verified = 1;
    else
        fail_entry(e, err, msg);
}

static double gflops(double flops, double s) { return s > 0 ? flops / s / 1e9 : 0; }

static const char *status_of(const rentry_t *e) {
    if (e->kind == ENTRY_MALFORMED)
        return "malformed";
    if (e->kind == ENTRY_SKIPPED)
        return "skipped";
    return e->error_no ? dlc_measure_error_name(e->error_no) : "ok";
}

static void print_entry(const replay_t *r, const rentry_t *e) {
    if (r->o->json) {
        json_t *j = json_pack("{s:I, s:s}", "line", (json_int_t)e->line, "status", status_of(e));
        if (e->kind == ENTRY_MALFORMED) {
            json_object_set_new(j, "error", json_string(e->msg ? e->msg : ""));
            dlc__build_print_json(j);
            return;
        }
        json_object_set_new(j, "task", json_string(e->task));
        json_object_set_new(j, "index", json_integer(e->rec_index));
        if (e->kind == ENTRY_SKIPPED) {
            json_object_set_new(j, "reason", json_string("unknown task"));
            dlc__build_print_json(j);
            return;
        }
        const rtarget_t *t = e->target >= 0 ? &r->targets[e->target] : NULL;
        if (t) {
            json_object_set_new(j, "target", json_string(t->from));
            json_object_set_new(j, "build_target", t->ok ? json_string(t->tgt.str) : json_null());
            json_object_set_new(j, "build_arch", t->ok ? json_string(dlc_arch_name(t->tgt.arch)) : json_null());
        }
        json_object_set_new(j, "dlc_index", e->dlc_index >= 0 ? json_integer(e->dlc_index) : json_null());
        json_object_set_new(j, "index_match", json_boolean(e->dlc_index == e->rec_index));
        json_object_set_new(j, "error_no", json_integer(e->error_no));
        json_object_set_new(j, "built", json_boolean(e->built));
        json_object_set_new(j, "verified", json_boolean(e->verified));
        if (e->built) {
            json_object_set_new(j, "cache_hit", json_boolean(e->cache_hit));
            json_object_set_new(j, "compile_s", json_real(e->compile_s));
        }
        if (e->mean_s > 0) {
            json_object_set_new(j, "max_abs_err", dlc__build_json_finite(e->max_abs_err));
            json_object_set_new(j, "mean_ms", json_real(e->mean_s * 1e3));
            json_object_set_new(j, "gflops", json_real(gflops(e->flops, e->mean_s)));
        }
        if (e->rec_mean_s > 0)
            json_object_set_new(j, "record_gflops", json_real(gflops(e->flops, e->rec_mean_s)));
        if (e->msg)
            json_object_set_new(j, "error", json_string(e->msg));
        dlc__build_print_json(j);
        return;
    }
    if (e->kind == ENTRY_MALFORMED)
        return; /* reported on stderr as it was read */
    char idx[64];
    if (e->kind == ENTRY_SKIPPED)
        snprintf(idx, sizeof idx, "%lld/-", (long long)e->rec_index);
    else if (e->dlc_index < 0)
        snprintf(idx, sizeof idx, "%lld/?", (long long)e->rec_index);
    else
        snprintf(idx, sizeof idx, "%lld/%lld%s", (long long)e->rec_index, (long long)e->dlc_index,
                 e->dlc_index != e->rec_index ? "*" : "");
    printf("%6lld  %-34s %-16s %-20s", (long long)e->line, e->task, idx,
           e->kind == ENTRY_SKIPPED ? "skipped (unknown task)" : status_of(e));
    if (e->mean_s > 0)
        printf(" %-11.2g %8.2f", e->max_abs_err, gflops(e->flops, e->mean_s));
    else if (e->kind == ENTRY_RECORD && !e->error_no)
        printf(" %-11s %8s", "-", "-");
    if (e->kind == ENTRY_RECORD && !e->error_no && e->rec_mean_s > 0)
        printf(" %8.2f", gflops(e->flops, e->rec_mean_s));
    if (e->msg)
        printf("  %s", e->msg);
    printf("\n");
    fflush(stdout);
}

/* The summary line (or object); returns the exit code. */
static int summarize(const replay_t *r, const dlc_record_reader_t *rd, double t_prep, double t_build, double t_run) {
    int64_t built = 0, verified = 0, mismatches = 0, errors[DLC_MEASURE_ERROR_COUNT] = {0};
    json_t *skipped = json_object();
    for (int i = 0; i < r->n; i++) {
        const rentry_t *e = &r->e[i];
        if (e->kind == ENTRY_SKIPPED) {
            json_t *c = json_object_get(skipped, e->task);
            json_object_set_new(skipped, e->task, json_integer(c ? json_integer_value(c) + 1 : 1));
        }
        if (e->kind != ENTRY_RECORD)
            continue;
        built += e->built;
        verified += e->verified;
        mismatches += e->dlc_index >= 0 && e->dlc_index != e->rec_index;
        if (e->error_no > 0 && e->error_no < DLC_MEASURE_ERROR_COUNT)
            errors[e->error_no]++;
    }
    int failed = 0;
    json_t *errs = json_object();
    for (int k = 1; k < DLC_MEASURE_ERROR_COUNT; k++)
        if (errors[k]) {
            json_object_set_new(errs, dlc_measure_error_name(k), json_integer(errors[k]));
            failed = 1;
        }
    int code = failed ? DLC__EXIT_KERNEL : 0;
    if (r->o->json) {
        json_t *notes = json_array();
        for (int t = 0; t < r->n_targets; t++)
            if (r->targets[t].note[0])
                json_array_append_new(notes, json_string(r->targets[t].note));
        json_t *s = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:I, s:I, s:b, s:b, s:o, s:{s:f, s:f, s:f}}",
                              "log", r->o->replay_path, "records", (json_int_t)r->records, "known",
                              (json_int_t)r->known, "built", (json_int_t)built, "verified", (json_int_t)verified,
                              "index_mismatches", (json_int_t)mismatches, "errors", errs, "skipped", skipped,
                              "malformed", (json_int_t)rd->malformed, "filtered", (json_int_t)r->filtered,
                              "verify", r->o->verify, "limit_reached", r->limit_reached, "notes", notes, "seconds",
                              "prepare", t_prep, "build", t_build, "run", t_run);
        dlc__build_print_json(json_pack("{s:o, s:i}", "summary", s, "exit_code", code));
        return code;
    }
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    dlc_strbuf_printf(&sb, "summary: %lld records, %lld known, %lld built", (long long)r->records,
                       (long long)r->known, (long long)built);
    if (r->o->verify)
        dlc_strbuf_printf(&sb, ", %lld verified", (long long)verified);
    dlc_strbuf_printf(&sb, ", %lld index mismatches; errors:", (long long)mismatches);
    const char *key;
    json_t *v;
    int any = 0;
    json_object_foreach(errs, key, v) {
        dlc_strbuf_printf(&sb, "%s %s %lld", any++ ? "," : "", key, (long long)json_integer_value(v));
    }
    if (!any)
        dlc_strbuf_append(&sb, " none");
    dlc_strbuf_append(&sb, "; skipped:");
    any = 0;
    json_object_foreach(skipped, key, v) {
        dlc_strbuf_printf(&sb, "%s %s %lld", any++ ? "," : "", key, (long long)json_integer_value(v));
    }
    if (!any)
        dlc_strbuf_append(&sb, " none");
    if (rd->malformed)
        dlc_strbuf_printf(&sb, "; %lld malformed lines skipped", (long long)rd->malformed);
    if (r->filtered)
        dlc_strbuf_printf(&sb, "; %lld records of other tasks left out (--task)", (long long)r->filtered);
    if (r->limit_reached)
        dlc_strbuf_printf(&sb, "; stopped at --limit %lld", (long long)r->o->limit);
    printf("%s\n", sb.data);
    printf("time: %.1f s (prepare %.1f s, build %.1f s, run %.1f s)\n", t_prep + t_build + t_run, t_prep, t_build,
           t_run);
    dlc_strbuf_free(&sb);
    json_decref(errs);
    json_decref(skipped);
    return code;
}

int dlc__build_replay(const dlc__build_opts_t *o) {
    replay_t r;
    memset(&r, 0, sizeof r);
    r.o = o;
    if (dlc_target_parse("llvm", &r.host) < 0)
        return dlc__build_usage_error(o->json, "host target: %s", dlc_last_error());
    if (o->target_override) {
        dlc_target_t t;
        if (dlc_target_parse(o->target_override, &t) < 0)
            return dlc__build_usage_error(o->json, "bad --target-override '%s': %s", o->target_override,
                                          dlc_last_error());
    }
    if (access(o->replay_path, R_OK) != 0)
        return dlc__build_usage_error(o->json, "cannot read --replay '%s'", o->replay_path);

    dlc_record_reader_t rd;
    memset(&rd, 0, sizeof rd);
    rd.on_record = on_record;
    rd.on_error = on_error;
    rd.user = &r;
    double t0 = dlc_now();
    int rc = dlc_record_read_file(o->replay_path, &rd);
    double t_prep = dlc_now() - t0;
    int code;
    if (rc < 0) {
        code = dlc__build_usage_error(o->json, "--replay '%s': %s", o->replay_path, dlc_last_error());
        goto out;
    }
    if (!o->json)
        for (int t = 0; t < r.n_targets; t++)
            if (r.targets[t].note[0])
                printf("note: %s\n", r.targets[t].note);

    t0 = dlc_now();
    build_all(&r);
    double t_build = dlc_now() - t0;
    int64_t n_built = 0;
    for (int i = 0; i < r.n; i++)
        n_built += r.e[i].built;
    if (!o->json) {
        printf("%s: %lld records, %lld of tasks dlc knows; built %lld kernels in %.1f s\n", o->replay_path,
               (long long)r.records, (long long)r.known, (long long)n_built, t_build);
        printf("%6s  %-34s %-16s %-20s %-11s %8s %8s\n", "line", "task", "index log/dlc", "status", "max_abs_err",
               "GFLOP/s", "log");
    }
    t0 = dlc_now();
    for (int i = 0; i < r.n; i++) {
        rentry_t *e = &r.e[i];
        if (o->verify && e->kind == ENTRY_RECORD && e->built && !e->error_no)
            run_one(&r, e);
        print_entry(&r, e);
    }
    code = summarize(&r, &rd, t_prep, t_build, dlc_now() - t0);
out:
    for (int i = 0; i < r.n; i++) {
        free(r.e[i].msg);
        free(r.e[i].src);
        free(r.e[i].so_path);
    }
    free(r.e);
    free(r.targets);
    return code;
}
