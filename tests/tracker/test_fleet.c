/* test_fleet.c — dlc-tracker, dlc-rpc-server and the client API as real
 * processes on 127.0.0.1: exactly-once results through a server kill and a
 * tracker restart, bad frames, real sandboxed measurements, and cancelling
 * jobs that a server is running. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "fleet_procs.h"
#include "rpc-server/dlc_device.h"

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
    fleet_setup("test-fleet");
    return 0;
}

static int teardown(void **state) {
    fleet_teardown();
    return 0;
}

static void test_server_killed_mid_run(void **state) {
    enum { N = 300 };
    int port, counts[N + 1] = {0}, errors = 0;
    pid_t tr = fleet_start_tracker("0", "83886080", &port);
    pid_t s[4] = {fleet_start_server(port, "noop", NULL), fleet_start_server(port, "noop", NULL), fleet_start_server(port, "noop", NULL)};
    dlc_client_t *c = fleet_client(port);
    submit_noops(c, N, 15);
    double deadline = dlc_now() + 40;
    int got = collect(c, counts, N, N / 3, deadline, &errors);
    fleet_stop(s[0], SIGKILL); /* mid-job: each server is always busy here */
    s[3] = fleet_start_server(port, "noop", NULL);
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
        fleet_stop(s[i], SIGTERM);
    fleet_stop(tr, SIGTERM);
}

static void test_tracker_restarted_mid_run(void **state) {
    enum { N = 200 };
    int port, port2, counts[N + 1] = {0}, errors = 0;
    pid_t tr = fleet_start_tracker("0", "83886080", &port);
    pid_t s[2] = {fleet_start_server(port, "noop", NULL), fleet_start_server(port, "noop", NULL)};
    dlc_client_t *c = fleet_client(port);
    submit_noops(c, N, 10);
    double deadline = dlc_now() + 50;
    int got = collect(c, counts, N, N / 4, deadline, &errors);
    fleet_stop(tr, SIGKILL);
    char p[16];
    snprintf(p, sizeof p, "%d", port);
    tr = fleet_start_tracker(p, "83886080", &port2);
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
        fleet_stop(s[i], SIGTERM);
    fleet_stop(tr, SIGTERM);
}

static void test_bad_frames_rejected(void **state) {
    int port;
    int before = fleet_count_in_log("rejected");
    pid_t tr = fleet_start_tracker("0", "65536", &port);
    pid_t s = fleet_start_server(port, "noop", NULL);
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

    dlc_client_t *c = fleet_client(port); /* the tracker still serves */
    int counts[3] = {0}, errors = 0;
    submit_noops(c, 2, 1);
    assert_int_equal(collect(c, counts, 2, 2, dlc_now() + 10, &errors), 2);
    dlc_client_destroy(&c);
    int rejected = fleet_count_in_log("rejected") - before;
    print_message("%d 'rejected' log lines\n", rejected);
    assert_true(rejected >= 5);
    fleet_stop(s, SIGTERM);
    fleet_stop(tr, SIGTERM);
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

/* The kernels above built for the host; the bytes are the caller's. */
static char *build_kernels(size_t *len) {
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
    assert_int_equal(dlc_file_read(br.so_path, &so, len), 0);
    return so;
}

static void test_real_measurements(void **state) {
    size_t len;
    char *so = build_kernels(&len);
    int port;
    pid_t tr = fleet_start_tracker("0", "83886080", &port);
    pid_t s = fleet_start_server(port, "x86", NULL);
    dlc_client_t *c = fleet_client(port);
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
    assert_int_equal(fleet_collect(c, r, NC, 30), NC);
    for (int i = 0; i < NC; i++) {
        int k = (int)r[i].job_id - 1;
        print_message("%-12s → %d %s\n", cases[k].entry, r[i].error_no, r[i].message);
        assert_int_equal(r[i].error_no, cases[k].error_no);
        if (r[i].error_no == 0)
            assert_true(r[i].n_costs == 3 && r[i].costs[0] > 0);
    }
    free(so);
    dlc_client_destroy(&c);
    fleet_stop(s, SIGTERM);
    fleet_stop(tr, SIGTERM);
}

/* ---- cancelling a job that a server runs ---- */

/* A DEALER socket speaking the protocol as a client does, so that the test
 * sees every frame the tracker sends, not only what dlc_client lets through. */
static void *raw_client(void *ctx, int port) {
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    int zero = 0;
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    assert_int_equal(zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal(zmq_connect(sock, ep), 0);
    return sock;
}

static void raw_send(void *sock, const dlc_msg_t *m) {
    void *buf;
    size_t len;
    assert_int_equal(dlc_msg_encode(m, &buf, &len), 0);
    assert_int_equal(zmq_send(sock, buf, len, 0), (int)len);
    free(buf);
}

static void raw_submit_noop(void *sock, uint64_t id, int sleep_ms) {
    char manifest[64];
    snprintf(manifest, sizeof manifest, "{\"noop\":true,\"sleep_ms\":%d}", sleep_ms);
    dlc_msg_t m = {.type = DLC_MSG_SUBMIT, .job_id = id, .key = "noop", .manifest = manifest,
                   .measure = dlc_msg_measure_default()};
    m.measure.timeout_s = 60;
    raw_send(sock, &m);
}

/* Every RESULT the tracker sends within timeout_ms: counts[job]++ (jobs 1..2);
 * *when gets the time job 2's arrived. */
static void raw_results(void *sock, int timeout_ms, int counts[3], double *when) {
    double deadline = dlc_now() + timeout_ms / 1000.0;
    for (double left; (left = deadline - dlc_now()) > 0;) {
        zmq_pollitem_t it = {sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&it, 1, (long)(left * 1000) + 1) <= 0)
            continue;
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        assert_true(zmq_msg_recv(&msg, sock, 0) >= 0);
        dlc_msg_t m;
        assert_int_equal(dlc_msg_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &m), 0);
        if (m.type == DLC_MSG_RESULT) {
            assert_true(m.job_id == 1 || m.job_id == 2);
            counts[m.job_id]++;
            if (m.job_id == 2) {
                *when = dlc_now();
                assert_int_equal(m.error_no, 0);
                deadline = dlc_now() + 0.5; /* and a while longer for a stray result of job 1 */
            }
        }
        dlc_msg_free(&m);
        zmq_msg_close(&msg);
    }
}

/* Job 1 sleeps 30 s on the only server; cancelled while it runs, the server
 * drops it and runs job 2 at once; the tracker sends no result for job 1. */
static void test_cancel_running_noop(void **state) {
    int port, counts[3] = {0};
    pid_t tr = fleet_start_tracker("0", "83886080", &port);
    pid_t s = fleet_start_server(port, "noop", NULL);
    dlc_client_t *c = fleet_client(port); /* for status */
    void *ctx = zmq_ctx_new(), *raw = raw_client(ctx, port);
    raw_submit_noop(raw, 1, 30000);
    assert_int_equal(fleet_wait_jobs(c, "running", 1, 10), 1);
    double t0 = dlc_now(), t2 = 0;
    raw_send(raw, &(dlc_msg_t){.type = DLC_MSG_CANCEL, .job_id = 1});
    raw_submit_noop(raw, 2, 1);
    raw_results(raw, 10000, counts, &t2);
    print_message("job 2 done %.3f s after job 1 was cancelled; results: job 1 %d, job 2 %d\n", t2 - t0, counts[1],
                  counts[2]);
    assert_int_equal(counts[1], 0);
    assert_int_equal(counts[2], 1);
    assert_true(t2 - t0 < 3.0); /* not after job 1's 30 s */
    json_t *st = fleet_status(c);
    json_t *key = json_array_get(json_object_get(st, "keys"), 0);
    assert_int_equal(fleet_jobs(st, "cancelled"), 1);
    assert_int_equal(fleet_jobs(st, "done"), 1);
    assert_int_equal(fleet_jobs(st, "failed"), 0);
    assert_int_equal(fleet_jobs(st, "running"), 0);
    assert_int_equal(json_integer_value(json_object_get(key, "free")), 1);
    json_decref(st);
    zmq_close(raw);
    zmq_ctx_term(ctx);
    dlc_client_destroy(&c);
    fleet_stop(s, SIGTERM);
    fleet_stop(tr, SIGTERM);
}

/* A hanging kernel measured in the sandbox, cancelled through the client
 * API: the sandbox kills it, and the next measurement runs at once. */
static void test_cancel_running_measurement(void **state) {
    size_t len;
    char *so = build_kernels(&len);
    int port;
    pid_t tr = fleet_start_tracker("0", "83886080", &port);
    pid_t s = fleet_start_server(port, "x86", NULL);
    dlc_client_t *c = fleet_client(port);
    dlc_client_job_t job = {.key = "x86", .artifact = so, .artifact_len = len,
                            .manifest = "{\"entry\":\"twice_hang\",\"target\":\"llvm\"}",
                            .measure = dlc_msg_measure_default()};
    job.measure.timeout_s = 30;
    uint64_t hang, good;
    assert_int_equal(dlc_client_submit(c, &job, &hang), 0);
    assert_int_equal(fleet_wait_jobs(c, "running", 1, 10), 1);
    usleep(300000); /* the runner is spinning by now */
    double t0 = dlc_now();
    assert_int_equal(dlc_client_cancel(c, hang), 0);
    assert_int_equal(dlc_client_pending(c), 0);
    job.manifest = "{\"entry\":\"twice\",\"target\":\"llvm\"}";
    job.measure.timeout_s = 10;
    assert_int_equal(dlc_client_submit(c, &job, &good), 0);
    dlc_client_result_t r[4];
    int n = 0;
    while (n == 0 && dlc_now() < t0 + 20)
        n = dlc_client_poll(c, 500, r, 4);
    double t = dlc_now() - t0;
    print_message("the next measurement came %.2f s after the cancel: %d %s\n", t, n ? r[0].error_no : -1,
                  n ? r[0].message : "");
    assert_int_equal(n, 1);
    assert_true(r[0].job_id == good);
    assert_int_equal(r[0].error_no, 0);
    assert_true(t < 10); /* the hang would hold the server for 30 s + the grace */
    assert_int_equal(dlc_client_poll(c, 300, r, 4), 0);
    json_t *st = fleet_status(c);
    assert_int_equal(fleet_jobs(st, "cancelled"), 1);
    assert_int_equal(fleet_jobs(st, "done"), 1);
    assert_int_equal(fleet_jobs(st, "running"), 0);
    json_decref(st);
    free(so);
    dlc_client_destroy(&c);
    fleet_stop(s, SIGTERM);
    fleet_stop(tr, SIGTERM);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_killed_mid_run),
        cmocka_unit_test(test_tracker_restarted_mid_run),
        cmocka_unit_test(test_bad_frames_rejected),
        cmocka_unit_test(test_real_measurements),
        cmocka_unit_test(test_cancel_running_noop),
        cmocka_unit_test(test_cancel_running_measurement),
    };
    return cmocka_run_group_tests_name("fleet", tests, setup, teardown);
}
