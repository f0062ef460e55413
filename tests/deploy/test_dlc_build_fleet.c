/* test_dlc_build_fleet.c — dlc-build --run --tracker --key: a kernel built
 * here and measured on a fleet on 127.0.0.1 (a tracker, a host server and,
 * when qemu-aarch64 is installed, an emulated aarch64 board), as a user runs
 * it; and the usage errors of the flags. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "cli_run.h"

static pid_t spawn(const char *const *argv) {
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1);
        dup2(fd, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    return pid;
}

static int have(const char *prog) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "command -v %s >/dev/null 2>&1", prog);
    return system(cmd) == 0;
}

static void test_usage(void **state) {
    run_t r = dlc_build("--op", "dense:8,8,8", "--run", "--tracker", "127.0.0.1:9", NULL);
    expect_exit(&r, 2, "--tracker without --key");
    expect_contains(r.err, "go together", "message");
    run_free(&r);
    r = dlc_build("--op", "dense:8,8,8", "--tracker", "127.0.0.1:9", "--key", "x", NULL);
    expect_exit(&r, 2, "--tracker without --run");
    run_free(&r);
}

static void test_measured_on_fleet(void **state) {
    char port[16], addr[32];
    snprintf(port, sizeof port, "%d", 21000 + (int)(getpid() % 20000));
    snprintf(addr, sizeof addr, "127.0.0.1:%s", port);
    const char *tr[] = {DLC_TRACKER_EXE, "--port", port, NULL};
    const char *host[] = {DLC_RPC_SERVER_EXE, "--tracker", addr, "--key", "host", NULL};
    const char *arm[] = {DLC_RPC_SERVER_EXE, "--tracker", addr, "--key", "aarch64", "--exec-wrapper",
                         "qemu-aarch64 -L /usr/aarch64-linux-gnu", NULL};
    int cross = have("qemu-aarch64") && have("aarch64-linux-gnu-gcc");
    pid_t t = spawn(tr), h = spawn(host), a = cross ? spawn(arm) : 0;
    run_t r = dlc_build("--op", "dense:5,17,9", "--run", "--json", "--repeat", "2", "--tracker", addr, "--key", "host",
                        NULL);
    expect_exit(&r, 0, "measured on the host server");
    json_t *j = parse_report(&r, "host");
    assert_true(json_is_true(json_object_get(j, "verified")));
    assert_true(json_real_value(json_object_get(j, "gflops")) > 0);
    json_decref(j);
    run_free(&r);
    if (cross) {
        r = dlc_build("--op", "dense:5,17,9", "--target", "llvm -device=arm_cpu -mtriple=aarch64-linux-gnu", "--run",
                      "--repeat", "1", "--tracker", addr, "--key", "aarch64", NULL);
        expect_exit(&r, 0, "measured on the emulated aarch64 server");
        expect_contains(r.out, "measured on a 'aarch64' device", "text report");
        run_free(&r);
    } else {
        print_message("qemu-aarch64 or aarch64-linux-gnu-gcc missing: aarch64 server not tested\n");
    }
    kill(h, SIGTERM);
    if (a > 0)
        kill(a, SIGTERM);
    kill(t, SIGTERM);
    waitpid(h, NULL, 0);
    if (a > 0)
        waitpid(a, NULL, 0);
    waitpid(t, NULL, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_measured_on_fleet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
