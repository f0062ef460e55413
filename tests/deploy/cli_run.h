/* cli_run.h — running the built dlc-build binary from a test, as a user
 * would, and checking what it printed. Each test executable defines
 * DLC_BUILD_EXE (CMake) and links cli_run.c. */
#ifndef DLC_TEST_CLI_RUN_H
#define DLC_TEST_CLI_RUN_H

#include <jansson.h>

typedef struct {
    int exit_code;
    char *out, *err; /* owned: run_free */
} run_t;

/* Wall-clock limit for one dlc-build run (seconds; default 300). */
extern double run_timeout_s;

/* Runs dlc-build with the NULL-terminated arguments; fails the test if it
 * cannot be started, crashes or times out. */
run_t dlc_build(const char *first, ...);
/* The same with an argument vector (NULL-terminated, without the program). */
run_t dlc_build_argv(const char *const *args);
void run_free(run_t *r);

void expect_exit(const run_t *r, int code, const char *what);
void expect_contains(const char *text, const char *needle, const char *what);
/* stdout as exactly one JSON object on one line. Caller decrefs. */
json_t *parse_report(const run_t *r, const char *what);
/* stdout as JSON lines: an array of the objects, in order. Caller decrefs. */
json_t *parse_lines(const run_t *r, const char *what);

#endif
