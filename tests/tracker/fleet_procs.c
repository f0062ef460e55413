/* fleet_procs.c — see fleet_procs.h. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fleet_procs.h"

char fleet_log[256];

void fleet_setup(const char *name) {
    snprintf(fleet_log, sizeof fleet_log, "/tmp/dlc-%s-%ld.log", name, (long)getpid());
    signal(SIGPIPE, SIG_IGN);
}

void fleet_teardown(void) { unlink(fleet_log); }

pid_t fleet_spawn(const char *const *argv, int *out_fd) { return fleet_spawn_to(argv, NULL, out_fd, 0); }

pid_t fleet_spawn_to(const char *const *argv, const char *out_path, int *out_fd, int err_to_out) {
    int p[2] = {-1, -1};
    if (out_fd && pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int out = out_fd     ? p[1]
                  : out_path ? open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644)
                             : open("/dev/null", O_WRONLY);
        int err = err_to_out ? out : open(fleet_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        dup2(out, 1);
        if (err >= 0)
            dup2(err, 2);
        char path[512];
        snprintf(path, sizeof path, "%s/%s", DLC_BIN_DIR, argv[0]);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    if (out_fd) {
        close(p[1]);
        *out_fd = p[0];
    }
    return pid;
}

void fleet_stop(pid_t pid, int sig) {
    if (pid > 0) {
        kill(pid, sig);
        waitpid(pid, NULL, 0);
    }
}

pid_t fleet_start_tracker(const char *port, const char *max_frame, int *port_out) {
    const char *argv[] = {"dlc-tracker", "--port", port, "--heartbeat", FLEET_HB, "--grace", "2", "--max-frame",
                          max_frame, "--log-level", "info", NULL};
    int fd = -1; /* set when the spawn succeeds; -O3 cannot see through assert_true */
    pid_t pid = fleet_spawn(argv, &fd);
    assert_true(pid > 0);
    *port_out = fleet_read_port(fd);
    return pid;
}

int fleet_read_port(int fd) {
    char line[256] = "";
    size_t n = 0;
    struct pollfd pfd = {fd, POLLIN, 0};
    while (n < sizeof line - 1 && poll(&pfd, 1, 10000) > 0) { /* "dlc-tracker listening on tcp://127.0.0.1:P\n" */
        ssize_t r = read(fd, line + n, 1);
        if (r <= 0 || line[n] == '\n')
            break;
        n += (size_t)r;
    }
    line[n] = '\0';
    close(fd);
    const char *colon = strrchr(line, ':');
    if (colon == NULL)
        fail_msg("tracker did not start: '%s'", line);
    return atoi(colon + 1);
}

pid_t fleet_start_server(int port, const char *key, const char *wrapper) {
    char tracker[64];
    snprintf(tracker, sizeof tracker, "127.0.0.1:%d", port);
    const char *argv[] = {"dlc-rpc-server", "--tracker", tracker, "--key", key, "--heartbeat", FLEET_HB,
                          wrapper ? "--exec-wrapper" : NULL, wrapper, NULL};
    pid_t pid = fleet_spawn(argv, NULL);
    assert_true(pid > 0);
    return pid;
}

dlc_client_t *fleet_client(int port) {
    char tracker[64];
    snprintf(tracker, sizeof tracker, "127.0.0.1:%d", port);
    dlc_client_t *c = dlc_client_new(tracker);
    assert_non_null(c);
    return c;
}

int fleet_count_in_log(const char *what) {
    char *text;
    size_t len;
    if (dlc_file_read(fleet_log, &text, &len) < 0)
        return 0;
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p++)
        n++;
    free(text);
    return n;
}

json_t *fleet_status(dlc_client_t *c) {
    char *text = NULL;
    if (dlc_client_status(c, 3000, &text) < 0)
        fail_msg("status: %s", dlc_last_error());
    json_t *j = dlc_json_parse(text, strlen(text));
    if (j == NULL)
        fail_msg("status is not JSON: %s", text);
    free(text);
    return j;
}

long long fleet_jobs(json_t *status, const char *name) {
    return (long long)json_integer_value(json_object_get(json_object_get(status, "jobs"), name));
}

long long fleet_wait_jobs(dlc_client_t *c, const char *name, long long want, double timeout_s) {
    double deadline = dlc_now() + timeout_s;
    long long v;
    for (;;) {
        json_t *j = fleet_status(c);
        v = fleet_jobs(j, name);
        json_decref(j);
        if (v >= want || dlc_now() > deadline)
            return v;
        usleep(20000);
    }
}

int fleet_collect(dlc_client_t *c, dlc_client_result_t *r, int n, double seconds) {
    int got = 0;
    double deadline = dlc_now() + seconds;
    while (got < n && dlc_now() < deadline) {
        int k = dlc_client_poll(c, 500, r + got, n - got);
        assert_true(k >= 0);
        got += k;
    }
    return got;
}
