/* test_fleet.c — dlc-tracker, dlc-rpc-server and the client API as real
 * processes on 127.0.0.1: exactly-once results through a server kill and a
 * tracker restart, bad frames, and real sandboxed measurements. */
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
#include <zmq.h>

#include "rpc-server/dlc_device.h"
#include "support/dlc_support.h"
#include "tracker/dlc_client.h"

#define HB "0.2" /* heartbeat seconds of every process in these tests */

static char g_log[256]; /* the tracker's stderr */

/* Starts argv[0] from the build's bin/ with stdout to a pipe (*out_fd, or
 * /dev/null when NULL) and stderr appended to g_log. */
static pid_t spawn(const char *const *argv, int *out_fd) {
    int p[2] = {-1, -1};
    if (out_fd && pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int out = out_fd ? p[1] : open("/dev/null", O_WRONLY);
        int err = open(g_log, O_WRONLY | O_CREAT | O_APPEND, 0644);
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

static void stop(pid_t pid, int sig) {
    if (pid > 0) {
        kill(pid, sig);
        waitpid(pid, NULL, 0);
    }
}

/* Starts dlc-tracker on port ("0": any) and returns its pid; *port_out gets the port. */
static pid_t start_tracker(const char *port, const char *max_frame, int *port_out) {
    const char *argv[] = {"dlc-tracker", "--port", port, "--heartbeat", HB, "--grace", "2", "--max-frame", max_frame,
                          "--log-level", "info", NULL};
    int fd;
    pid_t pid = spawn(argv, &fd);
    assert_true(pid > 0);
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
    *port_out = atoi(colon + 1);
    return pid;
}

static pid_t start_server(int port, const char *key, const char *wrapper) {
    char tracker[64];
    snprintf(tracker, sizeof tracker, "127.0.0.1:%d", port);
    const char *argv[] = {"dlc-rpc-server", "--tracker", tracker, "--key", key, "--heartbeat", HB,
                          wrapper ? "--exec-wrapper" : NULL, wrapper, NULL};
    pid_t pid = spawn(argv, NULL);
    assert_true(pid > 0);
    return pid;
}

static dlc_client_t *client_for(int port) {
    char tracker[64];
    snprintf(tracker, sizeof tracker, "127.0.0.1:%d", port);
    dlc_client_t *c = dlc_client_new(tracker);
    assert_non_null(c);
    return c;
}

static int count_in_log(const char *what) {
    char *text;
    size_t len;
    if (dlc_file_read(g_log, &text, &len) < 0)
        return 0;
    int n = 0;
    for (const char *p = text; (p = strstr(p, what)); p++)
        n++;
    free(text);
    return n;
}

static void submit_noops(dlc_client_t *c, int n, int sleep_ms) {
    char manifest[64];
    snprintf(manifest, sizeof manifest, "{\"noop\":true,\"sleep_ms\":%d}", sleep_ms);
    dlc_client_job_t job = {.key = "noop", .manifest = manifest, .measure = dlc_msg_measure_default()};
    job.measure.timeout_s = 2;
    for (int i = 0; i < n; i++)
        assert_int_equal(dlc_client_submit(c, &job, NULL), 0);
}

/* Polls until `want` results or the deadline; counts[id] += 1 per result. */
static int collect(dlc_client_t *c, int *counts, int max_id, int want, double deadline, int *errors) {
    dlc_client_result_t r[64];
    int got = 0;
    while (got < want && dlc_now() < deadline) {
        int n = dlc_client_poll(c, 200, r, 64);
        assert_true(n >= 0);
        for (int i = 0; i < n; i++) {
            assert_true(r[i].job_id >= 1 && r[i].job_id <= (uint64_t)max_id);
            counts[r[i].job_id]++;
            *errors += r[i].error_no != 0;
        }
        got += n;
    }
    return got;
}

static int setup(void **state) {
    snprintf(g_log, sizeof g_log, "/tmp/dlc-test-fleet-%ld.log", (long)getpid());
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int teardown(void **state) {
    unlink(g_log);
    return 0;
}

static void test_server_killed_mid_run(void **state) {
    enum { N = 300 };
    int port, counts[N + 1] = {0}, errors = 0;
    pid_t tr = start_tracker("0", "83886080", &port);
    pid_t s[4] = {start_server(port, "noop", NULL), start_server(port, "noop", NULL), start_server(port, "noop", NULL)};
    dlc_client_t *c = client_for(port);
    submit_noops(c, N, 15);
    double deadline = dlc_now() + 40;
    int got = collect(c, counts, N, N / 3, deadline, &errors);
    stop(s[0], SIGKILL); /* mid-job: each server is always busy here */
    s[3] = start_server(port, "noop", NULL);
    got += collect(c, counts, N, N - got, deadline, &errors);
    char *status = NULL;
    assert_int_equal(dlc_client_status(c, 3000, &status), 0);
    print_message("%d results, %d errors; tracker: %s\n", got, errors, status);
    for (int id = 1; id <= N; id++)
        if (counts[id] != 1)
            fail_msg("job %d has %d results", id, counts[id]);
    assert_int_equal(errors, 0);
    assert_int_equal(dlc_client_pending(c), 0);
    assert_non_null(strstr(status, "\"done\":300"));
    free(status);
    dlc_client_destroy(&c);
    for (int i = 0; i < 4; i++)
        stop(s[i], SIGTERM);
    stop(tr, SIGTERM);
}

static void test_tracker_restarted_mid_run(void **state) {
    enum { N = 200 };
    int port, port2, counts[N + 1] = {0}, errors = 0;
    pid_t tr = start_tracker("0", "83886080", &port);
    pid_t s[2] = {start_server(port, "noop", NULL), start_server(port, "noop", NULL)};
    dlc_client_t *c = client_for(port);
    submit_noops(c, N, 10);
    double deadline = dlc_now() + 50;
    int got = collect(c, counts, N, N / 4, deadline, &errors);
    stop(tr, SIGKILL);
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    tr = start_tracker(p, "83886080", &port2);
    assert_int_equal(port2, port);
    got += collect(c, counts, N, N - got, deadline, &errors);
    print_message("%d results after a tracker restart; %lld jobs resubmitted\n", got,
                  (long long)dlc_client_resubmitted(c));
    for (int id = 1; id <= N; id++)
        if (counts[id] != 1)
            fail_msg("job %d has %d results", id, counts[id]);
    assert_int_equal(errors, 0);
    assert_true(dlc_client_resubmitted(c) > 0);
    dlc_client_destroy(&c);
    for (int i = 0; i < 2; i++)
        stop(s[i], SIGTERM);
    stop(tr, SIGTERM);
}

static void test_bad_frames_rejected(void **state) {
    int port;
    int before = count_in_log("rejected");
    pid_t tr = start_tracker("0", "65536", &port);
    pid_t s = start_server(port, "noop", NULL);
    void *ctx = zmq_ctx_new(), *raw = zmq_socket(ctx, ZMQ_DEALER);
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    assert_int_equal(zmq_connect(raw, ep), 0);
    static const uint8_t garbage[] = {0xc1, 0xff, 0x00, 0x13};
    static const uint8_t oversized_count[] = {0xdf, 0xff, 0xff, 0xff, 0xff};
    dlc_msg_t cancel = {.type = DLC_MSG_CANCEL, .job_id = 7};
    void *valid;
    size_t vlen;
    assert_int_equal(dlc_msg_encode(&cancel, &valid, &vlen), 0);
    const char unknown_type[] = "\x82\xa1v\x01\xa1t\xa4nuke";
    zmq_send(raw, garbage, sizeof garbage, 0);
    zmq_send(raw, oversized_count, sizeof oversized_count, 0);
    zmq_send(raw, valid, vlen - 1, 0); /* truncated */
    zmq_send(raw, unknown_type, sizeof unknown_type - 1, 0);
    zmq_send(raw, "a", 1, ZMQ_SNDMORE), zmq_send(raw, "b", 1, 0); /* two frames */
    free(valid);
    char *big = calloc(1, 100000); /* larger than --max-frame: ZeroMQ drops the connection */
    zmq_send(raw, big, 100000, 0);
    free(big);
    usleep(300000);
    zmq_close(raw);
    zmq_ctx_term(ctx);

    dlc_client_t *c = client_for(port); /* the tracker still serves */
    int counts[3] = {0}, errors = 0;
    submit_noops(c, 2, 1);
    assert_int_equal(collect(c, counts, 2, 2, dlc_now() + 10, &errors), 2);
    dlc_client_destroy(&c);
    int rejected = count_in_log("rejected") - before;
    print_message("%d 'rejected' log lines\n", rejected);
    assert_true(rejected >= 5);
    stop(s, SIGTERM);
    stop(tr, SIGTERM);
}

/* ---- real measurements through the fleet ---- */

extern const char dlc__kernel_abi_text[];

static const char kernels[] =
    "#define N 64\n"
    "#define DESC(fn, ref) const dlc_kernel_desc_t fn##__desc = {.abi_version = DLC_KERNEL_ABI_VERSION, \\\n"
    "    .nargs = 2, .ndim = {1, 1}, .shape = {{N}, {N}}, .dtype = {0, 0}, \\\n"
    "    .is_output = {0, 1}, .flops = N, .name = #fn, .ref_name = ref}\n"
    "int32_t twice_ref(void *const *d) { const float *a = d[0]; float *b = d[1];\n"
    "    for (int i = 0; i < N; i++) b[i] = 2 * a[i]; return 0; }\n"
    "DESC(twice_ref, \"\");\n"
    "int32_t twice(void *const *d) { return twice_ref(d); }\n"
    "DESC(twice, \"twice_ref\");\n"
    "int32_t twice_wrong(void *const *d) { twice_ref(d); ((float *)d[1])[0] = 7; return 0; }\n"
    "DESC(twice_wrong, \"twice_ref\");\n"
    "int32_t twice_crash(void *const *d) { volatile float *volatile p = 0; *p = 1; return 0; }\n"
    "DESC(twice_crash, \"twice_ref\");\n"
    "int32_t twice_hang(void *const *d) { volatile int x = 1; while (x) {} return 0; }\n"
    "DESC(twice_hang, \"twice_ref\");\n";

static void test_real_measurements(void **state) {
    dlc_target_t t;
    dlc_build_result_t br;
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    dlc_strbuf_printf(&sb, "%s%s", dlc__kernel_abi_text, kernels);
    assert_int_equal(dlc_target_parse("llvm", &t), 0);
    if (dlc_build_so(sb.data, sb.len, &t, &br) < 0)
        fail_msg("build: %s", dlc_last_error());
    dlc_strbuf_free(&sb);
    char *so;
    size_t len;
    assert_int_equal(dlc_file_read(br.so_path, &so, &len), 0);
    int port;
    pid_t tr = start_tracker("0", "83886080", &port);
    pid_t s = start_server(port, "x86", NULL);
    dlc_client_t *c = client_for(port);
    static const struct {
        const char *entry;
        int error_no;
    } cases[] = {{"twice", 0}, {"twice_crash", 4}, {"twice_wrong", 5}, {"twice_hang", 7}, {"twice", 0}};
    enum { NC = sizeof cases / sizeof cases[0] };
    for (int i = 0; i < NC; i++) {
        char manifest[128];
        snprintf(manifest, sizeof manifest, "{\"entry\":\"%s\",\"target\":\"llvm\"}", cases[i].entry);
        dlc_client_job_t job = {.key = "x86", .artifact = so, .artifact_len = len, .manifest = manifest,
                                .measure = dlc_msg_measure_default()};
        job.measure.timeout_s = 1;
        job.priority = -i; /* in submission order */
        assert_int_equal(dlc_client_submit(c, &job, NULL), 0);
    }
    dlc_client_result_t r[NC];
    int got = 0;
    double deadline = dlc_now() + 30;
    while (got < NC && dlc_now() < deadline) {
        int n = dlc_client_poll(c, 500, r + got, NC - got);
        assert_true(n >= 0);
        got += n;
    }
    assert_int_equal(got, NC);
    for (int i = 0; i < NC; i++) {
        int k = (int)r[i].job_id - 1;
        print_message("%-12s → %d %s\n", cases[k].entry, r[i].error_no, r[i].message);
        assert_int_equal(r[i].error_no, cases[k].error_no);
        if (r[i].error_no == 0)
            assert_true(r[i].n_costs == 3 && r[i].costs[0] > 0);
    }
    free(so);
    dlc_client_destroy(&c);
    stop(s, SIGTERM);
    stop(tr, SIGTERM);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_killed_mid_run),
        cmocka_unit_test(test_tracker_restarted_mid_run),
        cmocka_unit_test(test_bad_frames_rejected),
        cmocka_unit_test(test_real_measurements),
    };
    return cmocka_run_group_tests_name("fleet", tests, setup, teardown);
}
