/* test_curve.c — the fleet under CURVE, as real processes on 127.0.0.1:
 * `dlc-tracker keygen`, key files, a tracker with an allow-list serving an
 * allowed server and client while it rejects (and logs) a client with an
 * unknown key, a client without CURVE and one with a wrong tracker key, the
 * allow-list re-read, and the refusal to listen beyond loopback without keys. */
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
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zmq.h>

#include "support/dlc_support.h"
#include "tracker/dlc_client.h"
#include "fleet_procs.h"


static char g_dir[200]; /* scratch directory; fleet_log (the children's stderr) lies in it */

static void pathf(char *out, size_t cap, const char *name) { snprintf(out, cap, "%s/%s", g_dir, name); }

/* Runs a command to completion (10 s at most); returns its exit code and
 * leaves its stdout and stderr in *text (caller frees). */
static int run(const char *const *argv, char **text) {
    char out[300];
    pathf(out, sizeof out, "run.out");
    pid_t pid = fleet_spawn_to(argv, out, NULL, 1);
    int status = 0;
    for (int i = 0; i < 1000 && waitpid(pid, &status, WNOHANG) == 0; i++)
        usleep(10000);
    if (kill(pid, 0) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("%s %s did not finish", argv[0], argv[1]);
    }
    size_t len;
    if (dlc_file_read(out, text, &len) < 0)
        *text = strdup("");
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void read_key(const char *name, char out[41]) {
    char path[300], *text;
    size_t len;
    pathf(path, sizeof path, name);
    assert_int_equal(dlc_file_read(path, &text, &len), 0);
    assert_int_equal(len, 41);
    assert_int_equal(text[40], '\n');
    memcpy(out, text, 40);
    out[40] = '\0';
    free(text);
}

static void keygen(const char *name) {
    char out[300], *text;
    pathf(out, sizeof out, "keys");
    const char *argv[] = {"dlc-tracker", "keygen", "--out", out, "--name", name, "--force", NULL};
    int rc = run(argv, &text);
    if (rc != 0)
        fail_msg("keygen %s: %d %s", name, rc, text);
    free(text);
}

/* Starts a tracker with extra arguments; returns its pid and the port. */
static pid_t start_tracker(const char *const *extra, int *port) {
    const char *argv[32] = {"dlc-tracker", "--port", "0", "--heartbeat", FLEET_HB, "--log-level", "info"};
    int n = 7;
    while (*extra)
        argv[n++] = *extra++;
    argv[n] = NULL;
    int fd = -1; /* set when the spawn succeeds; -O3 cannot see through assert_true */
    pid_t pid = fleet_spawn(argv, &fd);
    assert_true(pid > 0);
    *port = fleet_read_port(fd);
    return pid;
}

static dlc_client_t *client(int port, const char *tracker_key, const char *key_file) {
    char tracker[64], tk[300], kf[300];
    snprintf(tracker, sizeof tracker, "127.0.0.1:%d", port);
    if (tracker_key)
        pathf(tk, sizeof tk, tracker_key);
    if (key_file)
        pathf(kf, sizeof kf, key_file);
    dlc_client_opts_t o = {tracker_key ? tk : NULL, key_file ? kf : NULL};
    dlc_client_t *c = dlc_client_new_opts(tracker, &o);
    if (c == NULL)
        fail_msg("client: %s", dlc_last_error());
    return c;
}

/* Submits n noop jobs; a rejected client's sends may fail (ZeroMQ drops
 * its pipe when the handshake fails), so only must_send asserts. */
static void submit_noops_to(dlc_client_t *c, int n, int must_send) {
    dlc_client_job_t job = {.key = "noop", .manifest = "{\"noop\":true,\"sleep_ms\":1}",
                            .measure = dlc_msg_measure_default()};
    job.measure.timeout_s = 2;
    for (int i = 0; i < n; i++) {
        int rc = dlc_client_submit(c, &job, NULL);
        if (must_send)
            assert_int_equal(rc, 0);
    }
}

static void submit_noops(dlc_client_t *c, int n) { submit_noops_to(c, n, 1); }

/* Results within seconds, up to want; every one must be a success. */
static int collect(dlc_client_t *c, int want, double seconds) {
    dlc_client_result_t r[64];
    int got = 0;
    double deadline = dlc_now() + seconds;
    while (got < want && dlc_now() < deadline) {
        int n = dlc_client_poll(c, 100, r, 64);
        assert_true(n >= 0);
        for (int i = 0; i < n; i++)
            if (r[i].error_no != 0)
                fail_msg("job %llu: error %d %s", (unsigned long long)r[i].job_id, r[i].error_no, r[i].message);
        got += n;
    }
    return got;
}

/* Polls a client the tracker must not serve for seconds: no result may come;
 * the first error (the client noticed the refusal) goes to why. */
static void expect_no_service(dlc_client_t *c, double seconds, char *why, size_t cap) {
    dlc_client_result_t r[8];
    double deadline = dlc_now() + seconds;
    why[0] = '\0';
    while (dlc_now() < deadline) {
        int n = dlc_client_poll(c, 100, r, 8);
        if (n < 0 && why[0] == '\0')
            snprintf(why, cap, "%s", dlc_last_error());
        if (n < 0)
            usleep(100000);
        assert_true(n <= 0);
    }
}

static int setup(void **state) {
    snprintf(g_dir, sizeof g_dir, "/tmp/dlc-test-curve-%ld", (long)getpid());
    pathf(fleet_log, sizeof fleet_log, "stderr.log");
    char allow[300];
    pathf(allow, sizeof allow, "allow");
    signal(SIGPIPE, SIG_IGN);
    unsetenv("DLC_TRACKER_KEY");
    unsetenv("DLC_KEY_FILE");
    return dlc_mkdirs(allow);
}

static int teardown(void **state) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_keygen(void **state) {
    char out[300], path[300], pub[41], sec[41], derived[41], *text;
    keygen("alice");
    pathf(path, sizeof path, "keys/alice.key");
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    pathf(path, sizeof path, "keys/alice.pub");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    read_key("keys/alice.key", sec);
    read_key("keys/alice.pub", pub);
    uint8_t bin[32];
    assert_non_null(zmq_z85_decode(bin, sec));
    assert_non_null(zmq_z85_decode(bin, pub));
    assert_int_equal(zmq_curve_public(derived, sec), 0);
    assert_string_equal(derived, pub);

    pathf(out, sizeof out, "keys");
    const char *again[] = {"dlc-tracker", "keygen", "--out", out, "--name", "alice", NULL};
    assert_int_equal(run(again, &text), 1); /* never over an existing pair */
    assert_non_null(strstr(text, "exists"));
    free(text);
    read_key("keys/alice.pub", derived);
    assert_string_equal(derived, pub);
    const char *force[] = {"dlc-tracker", "keygen", "--out", out, "--name", "alice", "--force", NULL};
    assert_int_equal(run(force, &text), 0);
    read_key("keys/alice.pub", derived);
    assert_string_not_equal(derived, pub);
    assert_non_null(strstr(text, derived)); /* printed */
    free(text);

    const char *bad_name[] = {"dlc-tracker", "keygen", "--out", out, "--name", "../x", NULL};
    const char *no_out[] = {"dlc-tracker", "keygen", "--name", "x", NULL};
    const char *extra[] = {"dlc-tracker", "keygen", "--out", out, "stray", NULL};
    const char *help[] = {"dlc-tracker", "keygen", "--help", NULL};
    assert_int_equal(run(bad_name, &text), 2), free(text);
    assert_int_equal(run(no_out, &text), 2), free(text);
    assert_int_equal(run(extra, &text), 2), free(text);
    assert_int_equal(run(help, &text), 0);
    assert_non_null(strstr(text, "keygen --out DIR"));
    free(text);

    /* key files as the client reads them */
    keygen("tracker");
    char tk[300], kf[300];
    pathf(tk, sizeof tk, "keys/tracker.pub");
    dlc_client_opts_t half = {tk, NULL};
    assert_null(dlc_client_new_opts("127.0.0.1:1", &half));
    assert_non_null(strstr(dlc_last_error(), "--key-file"));
    pathf(kf, sizeof kf, "keys"); /* a directory with two pairs */
    dlc_client_opts_t two = {tk, kf};
    assert_null(dlc_client_new_opts("127.0.0.1:1", &two));
    assert_non_null(strstr(dlc_last_error(), "2 *.key"));
    pathf(kf, sizeof kf, "keys/tracker.pub");
    dlc_client_opts_t pub_as_pair = {tk, kf};
    assert_null(dlc_client_new_opts("127.0.0.1:1", &pub_as_pair));
    pathf(kf, sizeof kf, "keys/alice.key");
    assert_int_equal(chmod(kf, 0644), 0);
    dlc_client_opts_t open_secret = {tk, kf};
    assert_null(dlc_client_new_opts("127.0.0.1:1", &open_secret));
    assert_non_null(strstr(dlc_last_error(), "chmod 600"));
    assert_int_equal(chmod(kf, 0600), 0);
    pathf(kf, sizeof kf, "keys/alice"); /* DIR/NAME */
    read_key("keys/tracker.pub", pub);
    dlc_client_opts_t ok = {pub, kf}; /* the tracker key as Z85 text */
    dlc_client_t *c = dlc_client_new_opts("127.0.0.1:1", &ok);
    if (c == NULL)
        fail_msg("%s", dlc_last_error());
    dlc_client_destroy(&c);
}

static void test_tracker_with_allow_list(void **state) {
    keygen("tracker");
    const char *names[] = {"server", "client", "intruder", "late"};
    for (int i = 0; i < 4; i++)
        keygen(names[i]);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp '%s/keys/server.pub' '%s/keys/client.pub' '%s/allow/'", g_dir, g_dir, g_dir);
    assert_int_equal(system(cmd), 0);
    char keys[300], allow[300], tracker_pub[41], intruder_pub[41], server_pair[300];
    pathf(keys, sizeof keys, "keys/tracker.key");
    pathf(allow, sizeof allow, "allow");
    pathf(server_pair, sizeof server_pair, "keys/server");
    read_key("keys/tracker.pub", tracker_pub);
    read_key("keys/intruder.pub", intruder_pub);
    int port;
    const char *targs[] = {"--keys", keys, "--allow", allow, NULL};
    pid_t tr = start_tracker(targs, &port);
    char tracker[64];
    snprintf(tracker, sizeof tracker, "127.0.0.1:%d", port);
    const char *sargs[] = {"dlc-rpc-server", "--tracker", tracker, "--key", "noop", "--heartbeat", FLEET_HB,
                           "--tracker-key", tracker_pub, "--key-file", server_pair, NULL};
    pid_t server = fleet_spawn(sargs, NULL);
    char intruder_pair[300];
    pathf(intruder_pair, sizeof intruder_pair, "keys/intruder.key");
    const char *iargs[] = {"dlc-rpc-server", "--tracker", tracker, "--key", "noop-intruder", "--heartbeat", FLEET_HB,
                           "--tracker-key", tracker_pub, "--key-file", intruder_pair, NULL};
    pid_t bad_server = fleet_spawn(iargs, NULL);

    dlc_client_t *ok = client(port, "keys/tracker.pub", "keys/client.key");
    submit_noops(ok, 20);
    assert_int_equal(collect(ok, 20, 15), 20);

    /* an unknown key, no CURVE, a wrong tracker key: no service at all */
    dlc_client_t *intruder = client(port, "keys/tracker.pub", "keys/intruder.key");
    dlc_client_t *plain = client(port, NULL, NULL);
    dlc_client_t *wrong = client(port, "keys/server.pub", "keys/client.key");
    dlc_client_t *bad[] = {intruder, plain, wrong};
    for (int i = 0; i < 3; i++)
        submit_noops_to(bad[i], 5, 0);
    double t0 = dlc_now();
    char why[3][512];
    for (int i = 0; i < 3; i++)
        expect_no_service(bad[i], 0.7, why[i], sizeof why[i]);
    print_message("rejected peers got nothing in %.1f s; they noticed: '%s' / '%s' / '%s'\n", dlc_now() - t0,
                  why[0], why[1], why[2]);
    assert_non_null(strstr(why[0], "refused this client's CURVE key")); /* fails fast, with the reason */
    char *json = NULL;
    assert_true(dlc_client_status(intruder, 500, &json) < 0);
    assert_non_null(strstr(dlc_last_error(), "refused"));
    assert_true(dlc_client_submit(intruder, &(dlc_client_job_t){.key = "noop", .manifest = "{}"}, NULL) < 0);

    /* the tracker still serves the allowed client, and saw none of those jobs */
    submit_noops(ok, 20);
    assert_int_equal(collect(ok, 20, 15), 20);
    assert_int_equal(dlc_client_status(ok, 3000, &json), 0);
    print_message("status: %s\n", json);
    assert_non_null(strstr(json, "\"submitted\":40,\"done\":40"));
    assert_non_null(strstr(json, "\"key\":\"noop\",\"servers\":1"));
    assert_null(strstr(json, "noop-intruder"));
    free(json);
    char want[200];
    snprintf(want, sizeof want, "rejected CURVE key %s from 127.0.0.1: not in the allow-list", intruder_pub);
    /* a peer without CURVE may hang up before the tracker sees the mismatch */
    int rejected = fleet_count_in_log(want), crypto = fleet_count_in_log("wrong --tracker-key"),
        no_curve = fleet_count_in_log("does not speak CURVE") + fleet_count_in_log("handshake broke off");
    print_message("log: %d rejections of the intruder's key, %d without CURVE, %d with a wrong tracker key\n",
                  rejected, no_curve, crypto);
    if (rejected < 1 || no_curve < 1 || crypto < 1) {
        char *log;
        size_t len;
        if (dlc_file_read(fleet_log, &log, &len) == 0)
            print_message("%s", log), free(log);
        fail_msg("a rejection was not logged");
    }
    for (int i = 0; i < 3; i++)
        dlc_client_destroy(&bad[i]);

    /* the command line and the environment */
    char tk[300], kf[300], *text;
    pathf(tk, sizeof tk, "keys/tracker.pub");
    pathf(kf, sizeof kf, "keys/client.key");
    const char *status_cli[] = {"dlc-tracker", "status", "--tracker", tracker, "--tracker-key", tk, "--key-file", kf,
                                "--json", NULL};
    assert_int_equal(run(status_cli, &text), 0);
    assert_non_null(strstr(text, "\"submitted\":40"));
    free(text);
    setenv("DLC_TRACKER_KEY", tracker_pub, 1);
    setenv("DLC_KEY_FILE", kf, 1);
    dlc_client_t *env = dlc_client_new(tracker);
    assert_non_null(env);
    assert_int_equal(dlc_client_status(env, 3000, &json), 0);
    free(json);
    dlc_client_destroy(&env);
    unsetenv("DLC_TRACKER_KEY");
    unsetenv("DLC_KEY_FILE");

    /* a key added to the allow-list is admitted without a restart (from its
     * next connection: ZeroMQ drops what a rejected socket had queued) */
    dlc_client_t *late = client(port, "keys/tracker.pub", "keys/late.key");
    submit_noops_to(late, 3, 0);
    expect_no_service(late, 0.5, why[0], sizeof why[0]);
    dlc_client_destroy(&late);
    usleep(20000); /* a later mtime for the directory */
    snprintf(cmd, sizeof cmd, "cp '%s/keys/late.pub' '%s/allow/'", g_dir, g_dir);
    assert_int_equal(system(cmd), 0);
    late = client(port, "keys/tracker.pub", "keys/late.key");
    submit_noops(late, 3);
    assert_int_equal(collect(late, 3, 10), 3);
    assert_true(fleet_count_in_log("reloaded: 3 keys") >= 1);
    dlc_client_destroy(&late);

    dlc_client_destroy(&ok);
    fleet_stop(bad_server, SIGTERM);
    fleet_stop(server, SIGTERM);
    fleet_stop(tr, SIGTERM);
}

static void test_refusals(void **state) {
    char *text, keys[300], allow[300], loose[300];
    keygen("refusals");
    pathf(keys, sizeof keys, "keys/refusals.key");
    pathf(allow, sizeof allow, "allow");
    pathf(loose, sizeof loose, "loose.key");
    const char *open_host[] = {"dlc-tracker", "--host", "0.0.0.0", "--port", "0", NULL};
    assert_int_equal(run(open_host, &text), 2);
    print_message("%s", text);
    assert_non_null(strstr(text, "refusing to listen on 0.0.0.0 without CURVE keys"));
    free(text);
    const char *lookalike[] = {"dlc-tracker", "--host", "127.example.com", "--port", "0", NULL};
    assert_int_equal(run(lookalike, &text), 2);
    assert_non_null(strstr(text, "refusing to listen"));
    free(text);
    const char *keys_alone[] = {"dlc-tracker", "--keys", keys, "--port", "0", NULL};
    assert_int_equal(run(keys_alone, &text), 2);
    assert_non_null(strstr(text, "--keys and --allow go together"));
    free(text);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s' && chmod 644 '%s'", keys, loose, loose);
    assert_int_equal(system(cmd), 0);
    const char *open_secret[] = {"dlc-tracker", "--keys", loose, "--allow", allow, "--port", "0", NULL};
    assert_int_equal(run(open_secret, &text), 2);
    assert_non_null(strstr(text, "chmod 600"));
    free(text);
    const char *no_allow[] = {"dlc-tracker", "--keys", keys, "--allow", "/nonexistent/allow", "--port", "0", NULL};
    assert_int_equal(run(no_allow, &text), 2);
    assert_non_null(strstr(text, "--allow"));
    free(text);
    const char *half[] = {"dlc-rpc-server", "--tracker", "127.0.0.1:1", "--key", "x", "--key-file", keys, NULL};
    assert_int_equal(run(half, &text), 2);
    assert_non_null(strstr(text, "--tracker-key"));
    free(text);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keygen),
        cmocka_unit_test(test_tracker_with_allow_list),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests_name("curve", tests, setup, teardown);
}
