/* cli_run.c — see cli_run.h. */
#include "cli_run.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "support/dlc_support.h"

#ifndef DLC_BUILD_EXE
#error "DLC_BUILD_EXE (path of dlc-build) must be defined by CMake"
#endif

double run_timeout_s = 300;

run_t dlc_build_argv(const char *const *args) {
    const char *argv[64] = {DLC_BUILD_EXE};
    int n = 1;
    for (; args[n - 1]; n++) {
        assert_true(n < 63);
        argv[n] = args[n - 1];
    }
    argv[n] = NULL;
    dlc_proc_spec_t spec = {.argv = argv, .timeout_s = run_timeout_s};
    dlc_proc_result_t r;
    memset(&r, 0, sizeof r);
    assert_int_equal(dlc_proc_run(&spec, &r), 0);
    if (r.timed_out || r.term_signal) {
        fprintf(stderr, "dlc-build %s: timed out %d, signal %d\nstdout: %s\nstderr: %s\n", args[0] ? args[0] : "",
                r.timed_out, r.term_signal, r.out, r.err);
        fail();
    }
    run_t out = {r.exit_code, r.out, r.err};
    return out; /* out/err are the caller's (run_free) */
}

run_t dlc_build(const char *first, ...) {
    const char *args[63];
    int n = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) {
        assert_true(n < 62);
        args[n++] = a;
    }
    va_end(ap);
    args[n] = NULL;
    return dlc_build_argv(args);
}

void run_free(run_t *r) {
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

void expect_exit(const run_t *r, int code, const char *what) {
    if (r->exit_code != code) {
        fprintf(stderr, "%s: exit %d, expected %d\nstdout: %s\nstderr: %s\n", what, r->exit_code, code, r->out,
                r->err);
        fail();
    }
}

void expect_contains(const char *text, const char *needle, const char *what) {
    if (strstr(text, needle) == NULL) {
        fprintf(stderr, "%s: expected to find '%s' in:\n%s\n", what, needle, text);
        fail();
    }
}

json_t *parse_report(const run_t *r, const char *what) {
    size_t len = strlen(r->out);
    json_t *j = dlc_json_parse(r->out, len);
    if (j == NULL || !json_is_object(j) || len == 0 || r->out[len - 1] != '\n' ||
        strchr(r->out, '\n') != r->out + len - 1) {
        fprintf(stderr, "%s: stdout is not one JSON object line: %s\n%s\n", what, dlc_last_error(), r->out);
        fail();
    }
    return j;
}

json_t *parse_lines(const run_t *r, const char *what) {
    json_t *a = json_array();
    const char *p = r->out;
    while (*p) {
        const char *nl = strchr(p, '\n');
        if (!nl) {
            fprintf(stderr, "%s: stdout does not end with a newline:\n%s\n", what, r->out);
            fail();
        }
        json_t *j = dlc_json_parse(p, (size_t)(nl - p));
        if (!j || !json_is_object(j)) {
            fprintf(stderr, "%s: not a JSON object line: %.*s\n", what, (int)(nl - p), p);
            fail();
        }
        json_array_append_new(a, j);
        p = nl + 1;
    }
    return a;
}
