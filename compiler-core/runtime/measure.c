/* measure.c — measuring a kernel in a dlc-runner child process (natively or
 * under the target's emulator), and building that runner per target. */
#include "compiler-core/runtime/runtime_impl.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef DLC_VERSION
#define DLC_VERSION "unknown"
#endif

int dlc_runner_path(const dlc_target_t *target, char out[PATH_MAX]) {
    if (target->arch == DLC_ARCH_GPU)
        return dlc_error(DLC_EUNSUPPORTED, "measuring %s kernels is not supported yet", target->str);
    /* VTA objects are host code (the runtime drives the device or its simulator). */
    const char *cc = target->arch == DLC_ARCH_VTA ? "cc" : target->cc;
    const char *cflags = target->arch == DLC_ARCH_VTA ? "" : target->cflags;

    dlc_strbuf_t key;
    dlc_strbuf_init(&key);
    dlc_strbuf_printf(&key, "%s\n%s\n%s\n%s\n%s\n", dlc__runner_text, dlc__kernel_abi_text, cc, cflags, DLC_VERSION);
    if (strstr(cflags, "native"))
        dlc_strbuf_append(&key, dlc__native_cpu_id());
    char hash[65];
    dlc_sha256_hex(key.data, key.len, hash);
    dlc_strbuf_free(&key);

    char dir[PATH_MAX], src[PATH_MAX], hdr[PATH_MAX], tmp[PATH_MAX];
    if (snprintf(dir, sizeof dir, "%s/runner/%s-%.16s", dlc_cache_dir(), dlc_arch_name(target->arch), hash) >=
            (int)sizeof dir ||
        snprintf(out, PATH_MAX, "%s/dlc-runner", dir) >= PATH_MAX ||
        snprintf(src, sizeof src, "%s/runner.c", dir) >= (int)sizeof src ||
        snprintf(hdr, sizeof hdr, "%s/dlc_kernel_abi.h", dir) >= (int)sizeof hdr)
        return dlc_error(DLC_EINVAL, "cache directory path too long");
    if (access(out, X_OK) == 0)
        return 0;

    int rc = dlc_mkdirs(dir);
    if (rc == 0)
        rc = dlc_file_write(src, dlc__runner_text, strlen(dlc__runner_text));
    if (rc == 0)
        rc = dlc_file_write(hdr, dlc__kernel_abi_text, strlen(dlc__kernel_abi_text));
    if (rc < 0)
        return rc;
    dlc__tmp_name(out, tmp, sizeof tmp);
    dlc__argv_t a;
    dlc__argv_init(&a);
    dlc__argv_push_words(&a, cc);
    dlc__argv_push(&a, "-O2");
    dlc__argv_push_words(&a, cflags);
    const char *tail[] = {"-std=gnu11", "-o", tmp, src, "-ldl", "-lm"};
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++)
        dlc__argv_push(&a, tail[i]);
    if (a.overflow)
        return dlc_error(DLC_EINVAL, "runner compile command too long");
    dlc_proc_spec_t spec = {.argv = a.argv, .cwd = dir, .timeout_s = DLC__COMPILE_TIMEOUT_S};
    dlc_proc_result_t r;
    memset(&r, 0, sizeof r);
    int spawn_rc = dlc_proc_run(&spec, &r);
    rc = dlc__finish_compile(spawn_rc, &r, cc, src, tmp, out);
    dlc_proc_result_free(&r);
    return rc;
}

static const char *signal_name(int sig) {
    static const struct {
        int sig;
        const char *name;
    } names[] = {{SIGSEGV, "SIGSEGV"}, {SIGBUS, "SIGBUS"},   {SIGFPE, "SIGFPE"},   {SIGILL, "SIGILL"},
                 {SIGABRT, "SIGABRT"}, {SIGKILL, "SIGKILL"}, {SIGTRAP, "SIGTRAP"}, {SIGTERM, "SIGTERM"},
                 {SIGSYS, "SIGSYS"},   {SIGXCPU, "SIGXCPU"}, {SIGPIPE, "SIGPIPE"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].sig == sig)
            return names[i].name;
    return "signal";
}

/* The first line of text (for messages), at most cap-1 bytes. */
static void first_line(const char *text, char *out, size_t cap) {
    text = text ? text : "";
    size_t n = strcspn(text, "\n");
    snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), text);
}

/* The last line of out that starts with '{' (the runner's result), or NULL. */
static const char *result_line(const char *out, size_t *len) {
    const char *found = NULL;
    for (const char *p = out; p && *p;) {
        if (*p == '{')
            found = p;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    if (found)
        *len = strcspn(found, "\n");
    return found;
}

/* Fills res from the runner's JSON line; -1 if it is malformed. */
static int parse_result(const char *line, size_t len, dlc_measure_result_t *res) {
    json_t *j = dlc_json_parse(line, len);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        return -1;
    }
    const char *status = NULL, *message = NULL;
    int64_t number = 0;
    int verified = 0, checked = 0, rc = -1;
    json_t *costs = json_object_get(j, "costs");
    json_t *err = json_object_get(j, "max_abs_err");
    if (dlc_json_get_string(j, "status", &status) < 0 || dlc_json_get_bool(j, "verified", &verified) < 0 ||
        dlc_json_get_bool(j, "checked", &checked) < 0 || dlc_json_get_int(j, "number", &number) < 0 ||
        dlc_json_get_string(j, "message", &message) < 0 || !json_is_array(costs) ||
        !(err == NULL || json_is_null(err) || json_is_number(err)))
        goto done;
    if (strcmp(status, "ok") == 0)
        res->status = 0;
    else if (strcmp(status, "wrong_answer") == 0)
        res->status = DLC_EWRONG;
    else if (strcmp(status, "error") == 0)
        res->status = DLC_ERUNTIME;
    else
        goto done;
    res->verified = verified;
    res->checked = checked;
    res->max_abs_err = err == NULL ? 0.0 : json_is_null(err) ? INFINITY : json_number_value(err);
    res->number = (int)number;
    snprintf(res->message, sizeof res->message, "%s", message);
    size_t n = json_array_size(costs);
    double sum = 0.0;
    for (size_t i = 0; i < n && res->n_costs < DLC_MEASURE_MAX_REPEAT; i++) {
        json_t *c = json_array_get(costs, i);
        if (!json_is_number(c))
            goto done;
        res->costs[res->n_costs++] = json_number_value(c);
        sum += json_number_value(c);
    }
    res->mean_s = res->n_costs ? sum / res->n_costs : 0.0;
    rc = 0;
done:
    json_decref(j);
    return rc;
}

int dlc_measure_error_no(int rc, const dlc_measure_result_t *r, int must_verify, char *msg, size_t cap) {
    char buf[800];
    int e;
    if (rc < 0) {
        e = DLC_MEASURE_RUNTIME_DEVICE;
        snprintf(buf, sizeof buf, "%s", dlc_last_error());
    } else if (r->status == 0 && (r->verified || (!must_verify && !r->checked))) {
        e = DLC_MEASURE_NO_ERROR;
        buf[0] = '\0';
    } else if (r->status == DLC_ETIMEOUT) {
        e = DLC_MEASURE_RUN_TIMEOUT;
        snprintf(buf, sizeof buf, "%s", r->message);
    } else if (r->status == 0 || r->status == DLC_EWRONG) {
        e = DLC_MEASURE_WRONG_ANSWER;
        snprintf(buf, sizeof buf, "max_abs_err %g%s%s", r->max_abs_err, r->message[0] ? ": " : "", r->message);
    } else {
        e = DLC_MEASURE_RUNTIME_DEVICE;
        snprintf(buf, sizeof buf, "%s: %s", dlc_status_name(r->status), r->message);
    }
    if (msg && cap > 0) {
        size_t n = strlen(buf) < cap ? strlen(buf) : cap - 1; /* long runner messages: the head is enough */
        memcpy(msg, buf, n);
        msg[n] = '\0';
    }
    return e;
}

int dlc_measure(const dlc_target_t *target, const char *so_path, const char *entry, const dlc_measure_opts_t *opts,
                dlc_measure_result_t *res) {
    static const dlc_measure_opts_t defaults = DLC_MEASURE_OPTS_DEFAULT;
    if (target == NULL || so_path == NULL || entry == NULL || res == NULL)
        return dlc_error(DLC_EINVAL, "dlc_measure: NULL argument");
    if (opts == NULL)
        opts = &defaults;
    memset(res, 0, sizeof *res);
    if (opts->number < 1 || opts->repeat < 1 || opts->repeat > DLC_MEASURE_MAX_REPEAT)
        return dlc_error(DLC_EINVAL, "dlc_measure: number %d must be >= 1 and repeat %d in [1, %d]", opts->number,
                         opts->repeat, DLC_MEASURE_MAX_REPEAT);
    char runner[PATH_MAX];
    int rc = dlc_runner_path(target, runner);
    if (rc < 0)
        return rc;
    char wrapper[128];
    dlc__first_word(target->exec_wrapper, wrapper, sizeof wrapper);
    if (wrapper[0] && !dlc__program_exists(wrapper))
        return dlc_error(DLC_ESUBPROCESS, "%s not found: %s", wrapper, dlc__install_hint(wrapper));

    dlc__argv_t a;
    char num[64];
    dlc__argv_init(&a);
    dlc__argv_push_words(&a, target->exec_wrapper);
    dlc__argv_push(&a, runner);
#define PUSH_OPT(flag, fmt, v)                   \
    do {                                         \
        dlc__argv_push(&a, flag);                \
        snprintf(num, sizeof num, fmt, v);       \
        dlc__argv_push(&a, num);                 \
    } while (0)
    PUSH_OPT("--number", "%d", opts->number);
    PUSH_OPT("--repeat", "%d", opts->repeat);
    PUSH_OPT("--min-repeat-ms", "%.17g", opts->min_repeat_ms > 0 ? opts->min_repeat_ms : 0.0);
    PUSH_OPT("--cooldown", "%.17g", opts->cooldown_s > 0 ? opts->cooldown_s : 0.0);
    PUSH_OPT("--threads", "%d", opts->threads > 0 ? opts->threads : 0);
    PUSH_OPT("--seed", "%llu", (unsigned long long)opts->seed);
#undef PUSH_OPT
    if (opts->flush_cache)
        dlc__argv_push(&a, "--flush-cache");
    if (!opts->check)
        dlc__argv_push(&a, "--no-check");
    dlc__argv_push(&a, so_path);
    dlc__argv_push(&a, entry);
    if (a.overflow)
        return dlc_error(DLC_EINVAL, "runner command too long");

    dlc_proc_spec_t spec = {.argv = a.argv, .timeout_s = opts->timeout_s};
    dlc_proc_result_t r;
    memset(&r, 0, sizeof r);
    rc = dlc_proc_run(&spec, &r);
    if (rc < 0) {
        dlc_proc_result_free(&r);
        return dlc_error(rc, "cannot run %s: %s", a.argv[0], dlc_last_error());
    }
    res->number = opts->number;
    size_t len = 0;
    const char *line = result_line(r.out, &len);
    char detail[256];
    if (r.timed_out) {
        res->status = DLC_ETIMEOUT;
        snprintf(res->message, sizeof res->message, "timed out after %g s", opts->timeout_s);
    } else if (r.term_signal) {
        res->status = DLC_ERUNTIME;
        snprintf(res->message, sizeof res->message, "kernel crashed (signal %d: %s)", r.term_signal,
                 signal_name(r.term_signal));
    } else if (line == NULL || parse_result(line, len, res) < 0) {
        memset(res, 0, sizeof *res);
        res->status = DLC_ERUNTIME;
        res->number = opts->number;
        first_line(r.out && r.out[0] ? r.out : r.err, detail, sizeof detail);
        snprintf(res->message, sizeof res->message, "malformed runner output (exit %d): %s", r.exit_code, detail);
    } else if (res->status == DLC_ERUNTIME && res->message[0] == '\0') {
        first_line(r.err, detail, sizeof detail);
        snprintf(res->message, sizeof res->message, "%s", detail);
    }
    dlc_proc_result_free(&r);
    return 0;
}
