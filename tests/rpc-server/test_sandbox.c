/* test_sandbox.c — sandboxed measurement: good, crashing, hanging and wrong
 * kernels, kernels that try to open a socket, exec a shell or fork, and a
 * hanging kernel stopped through the job's cancel descriptor. */
#define _GNU_SOURCE /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <sys/time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rpc-server/dlc_device.h"
#include "support/dlc_support.h"

extern const char dlc__kernel_abi_text[];

static const char kernels[] =
    "#include <sys/socket.h>\n"
    "#include <unistd.h>\n"
    "#define N 257\n"
    "#define DESC(fn, ref) const dlc_kernel_desc_t fn##__desc = {.abi_version = DLC_KERNEL_ABI_VERSION, \\\n"
    "    .nargs = 3, .ndim = {1, 1, 1}, .shape = {{N}, {N}, {N}}, .dtype = {0, 0, 0}, \\\n"
    "    .is_output = {0, 0, 1}, .flops = N, .name = #fn, .ref_name = ref}\n"
    "int32_t add_ref(void *const *d) {\n"
    "    const float *a = d[0], *b = d[1]; float *c = d[2];\n"
    "    for (int i = 0; i < N; i++) c[i] = a[i] + b[i];\n"
    "    return 0;\n"
    "}\n"
    "DESC(add_ref, \"\");\n"
    "int32_t add(void *const *d) { return add_ref(d); }\n"
    "DESC(add, \"add_ref\");\n"
    "int32_t add_wrong(void *const *d) { add_ref(d); ((float *)d[2])[3] += 1.0f; return 0; }\n"
    "DESC(add_wrong, \"add_ref\");\n"
    "int32_t add_crash(void *const *d) { volatile float *volatile p = 0; *p = 1.0f; return 0; }\n"
    "DESC(add_crash, \"add_ref\");\n"
    "int32_t add_hang(void *const *d) { volatile int forever = 1; while (forever) {} return 0; }\n"
    "DESC(add_hang, \"add_ref\");\n"
    /* If the sandbox let these through they would compute the right answer. */
    "int32_t add_socket(void *const *d) {\n"
    "    if (socket(AF_INET, SOCK_STREAM, 0) < 0 && socket(AF_UNIX, SOCK_STREAM, 0) < 0) return 9;\n"
    "    return add_ref(d);\n"
    "}\n"
    "DESC(add_socket, \"add_ref\");\n"
    "int32_t add_exec(void *const *d) {\n"
    "    static int done;\n"
    "    if (!done++) { char *argv[] = {\"/bin/sh\", \"-c\", \"exit 0\", 0}; execve(\"/bin/sh\", argv, 0); }\n"
    "    return add_ref(d);\n"
    "}\n"
    "DESC(add_exec, \"add_ref\");\n"
    "int32_t add_fork(void *const *d) {\n"
    "    static int done;\n"
    "    if (!done++ && fork() == 0) _exit(0);\n"
    "    return add_ref(d);\n"
    "}\n"
    "DESC(add_fork, \"add_ref\");\n";

static char *g_so;
static size_t g_so_len;
static char g_tmp[256];

static int count_entries(const char *dir) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) { return remove(path); }

static int setup(void **state) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/dlc-test-sandbox-XXXXXX");
    if (mkdtemp(g_tmp) == NULL || setenv("TMPDIR", g_tmp, 1) != 0)
        return -1;
    dlc_target_t t;
    dlc_build_result_t br;
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    dlc_strbuf_append(&sb, dlc__kernel_abi_text);
    dlc_strbuf_append(&sb, kernels);
    int rc = dlc_target_parse("llvm", &t);
    if (rc == 0)
        rc = dlc_build_so(sb.data, sb.len, &t, &br);
    if (rc == 0)
        rc = dlc_file_read(br.so_path, &g_so, &g_so_len);
    if (rc < 0)
        fprintf(stderr, "setup: %s\n", dlc_last_error());
    dlc_strbuf_free(&sb);
    return rc;
}

static int teardown(void **state) {
    free(g_so);
    nftw(g_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

static dlc_device_result_t measure(const char *entry, double timeout_s) {
    dlc_device_job_t job = DLC_DEVICE_JOB_DEFAULT;
    job.so_data = g_so;
    job.so_len = g_so_len;
    job.entry = entry;
    job.opts.timeout_s = timeout_s;
    dlc_device_result_t r;
    if (dlc_device_measure(&job, &r) < 0)
        fail_msg("%s: %s", entry, dlc_last_error());
    print_message("%-10s → %d %s (%s) in %.2f s\n", entry, r.error_no, dlc_measure_error_name(r.error_no), r.message,
                  r.all_cost);
    assert_int_equal(count_entries(g_tmp), 0); /* the job directory is gone */
    return r;
}

static void expect(const char *entry, int error_no, const char *in_message, double timeout_s) {
    dlc_device_result_t r = measure(entry, timeout_s);
    if (r.error_no != error_no)
        fail_msg("%s: error_no %d (%s), expected %d", entry, r.error_no, r.message, error_no);
    if (in_message && strstr(r.message, in_message) == NULL)
        fail_msg("%s: expected '%s' in '%s'", entry, in_message, r.message);
}

static void test_good_kernel(void **state) {
    dlc_device_result_t r = measure("add", 10);
    assert_int_equal(r.error_no, DLC_MEASURE_NO_ERROR);
    assert_int_equal(r.n_costs, 3);
    assert_true(r.costs[0] > 0 && r.costs[0] < 0.1);
    assert_true(r.timestamp > 1.6e9);
}

static void test_failures_map_to_error_numbers(void **state) {
    expect("add_wrong", DLC_MEASURE_WRONG_ANSWER, NULL, 10);
    expect("add_crash", DLC_MEASURE_RUNTIME_DEVICE, "SIGSEGV", 10);
    expect("add_hang", DLC_MEASURE_RUN_TIMEOUT, NULL, 1);
    expect("add", DLC_MEASURE_NO_ERROR, NULL, 10); /* and the next job runs */
}

static void test_seccomp_blocks(void **state) {
    expect("add_socket", DLC_MEASURE_RUNTIME_DEVICE, "SIGSYS", 10);
    expect("add_exec", DLC_MEASURE_RUNTIME_DEVICE, "SIGSYS", 10);
    expect("add_fork", DLC_MEASURE_RUNTIME_DEVICE, "SIGSYS", 10);
    expect("no_such_entry", DLC_MEASURE_RUNTIME_DEVICE, NULL, 10);
    expect("add", DLC_MEASURE_NO_ERROR, NULL, 10);
}

/* The same blocks hold for an aarch64 runner under qemu-user: the preload
 * filters the emulator, which performs the guest's system calls. */
static void test_aarch64_under_qemu(void **state) {
    if (access("/usr/bin/qemu-aarch64", X_OK) != 0 || access("/usr/bin/aarch64-linux-gnu-gcc", X_OK) != 0)
        skip();
    dlc_target_t t;
    dlc_build_result_t br;
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    dlc_strbuf_append(&sb, dlc__kernel_abi_text);
    dlc_strbuf_append(&sb, kernels);
    const char *tstr = "llvm -device=arm_cpu -mtriple=aarch64-linux-gnu";
    assert_int_equal(dlc_target_parse(tstr, &t), 0);
    if (dlc_build_so(sb.data, sb.len, &t, &br) < 0)
        fail_msg("aarch64 build: %s", dlc_last_error());
    dlc_strbuf_free(&sb);
    char *so;
    size_t len;
    assert_int_equal(dlc_file_read(br.so_path, &so, &len), 0);
    static const struct {
        const char *entry;
        int error_no;
    } cases[] = {{"add", 0}, {"add_exec", 4}, {"add_socket", 4}, {"add_wrong", 5}, {"add", 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        dlc_device_job_t job = DLC_DEVICE_JOB_DEFAULT;
        job.so_data = so, job.so_len = len, job.entry = cases[i].entry, job.target = tstr;
        job.opts.timeout_s = 30;
        dlc_device_result_t r;
        if (dlc_device_measure(&job, &r) < 0)
            fail_msg("%s: %s", cases[i].entry, dlc_last_error());
        print_message("aarch64 %-10s → %d (%s) in %.2f s\n", cases[i].entry, r.error_no, r.message, r.all_cost);
        if (r.error_no != cases[i].error_no)
            fail_msg("aarch64 %s: error_no %d (%s), expected %d", cases[i].entry, r.error_no, r.message,
                     cases[i].error_no);
    }
    free(so);
}

static int g_cancel_w = -1;
static void on_alarm(int sig) { (void)!write(g_cancel_w, "c", 1); }

/* A byte on cancel_fd 0.3 s into a 20 s hang kills the run at once. */
static void test_cancel_fd(void **state) {
    int p[2];
    assert_int_equal(pipe(p), 0);
    g_cancel_w = p[1];
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old);
    struct itimerval it = {.it_value = {0, 300000}};
    setitimer(ITIMER_REAL, &it, NULL);
    dlc_device_job_t job = DLC_DEVICE_JOB_DEFAULT;
    job.so_data = g_so, job.so_len = g_so_len, job.entry = "add_hang", job.cancel_fd = p[0];
    job.opts.timeout_s = 20;
    dlc_device_result_t r;
    double t0 = dlc_now();
    assert_int_equal(dlc_device_measure(&job, &r), 0);
    double t = dlc_now() - t0;
    sigaction(SIGALRM, &old, NULL);
    print_message("add_hang cancelled → %d (%s) after %.2f s\n", r.error_no, r.message, t);
    assert_int_equal(r.error_no, DLC_MEASURE_UNKNOWN_ERROR);
    assert_string_equal(r.message, "cancelled");
    assert_true(t >= 0.25 && t < 5);
    assert_int_equal(count_entries(g_tmp), 0);
    close(p[0]);
    close(p[1]);
    expect("add", DLC_MEASURE_NO_ERROR, NULL, 10); /* a job without cancel_fd: 0 means none */
}

static void test_manifest(void **state) {
    dlc_device_job_t job = DLC_DEVICE_JOB_DEFAULT;
    void *holder;
    assert_int_equal(dlc_device_job_from_manifest("{\"entry\":\"add\",\"target\":\"llvm\"}", &job, &holder), 0);
    assert_string_equal(job.entry, "add");
    json_decref(holder);
    assert_int_equal(dlc_device_job_from_manifest("{\"entry\":1}", &job, &holder), DLC_EPARSE);
    assert_int_equal(dlc_device_job_from_manifest("{", &job, &holder), DLC_EPARSE);
    dlc_device_info_t info;
    dlc_device_info_get(&info);
    assert_true(info.cores >= 1 && info.memory > 0 && info.arch[0]);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_kernel),
        cmocka_unit_test(test_failures_map_to_error_numbers),
        cmocka_unit_test(test_seccomp_blocks),
        cmocka_unit_test(test_aarch64_under_qemu),
        cmocka_unit_test(test_cancel_fd),
        cmocka_unit_test(test_manifest),
    };
    return cmocka_run_group_tests_name("sandbox", tests, setup, teardown);
}
