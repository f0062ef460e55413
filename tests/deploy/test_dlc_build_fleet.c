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
#include "../tracker/fleet_procs.h"

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
    fleet_setup("test-dlc-build-fleet");
    int port, cross = have("qemu-aarch64") && have("aarch64-linux-gnu-gcc");
    pid_t t = fleet_start_tracker("0", "83886080", &port), h = fleet_start_server(port, "host", NULL);
    pid_t a = cross ? fleet_start_server(port, "aarch64", "qemu-aarch64 -L /usr/aarch64-linux-gnu") : 0;
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
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
    fleet_stop(h, SIGTERM);
    fleet_stop(a, SIGTERM);
    fleet_stop(t, SIGTERM);
    fleet_teardown();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_measured_on_fleet),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
