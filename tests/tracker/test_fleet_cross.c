/* test_fleet_cross.c — a heterogeneous fleet on 127.0.0.1: the host CPU,
 * an rpc-server measuring through qemu-aarch64 and one through qemu-riscv64,
 * each under its own key. A client submits dense 8x8x8 built for each
 * target (default schedule plus the naive reference); every result comes
 * back verified, and the tracker's status shows which device measured it. */
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
#include <sys/utsname.h>
#include <unistd.h>

#include "compiler-core/dlc_module.h"
#include "fleet_procs.h"
#include "schedule-templates/dlc_templates.h"

#define PER_KEY 3 /* jobs per device */

typedef struct {
    const char *key, *target, *wrapper; /* wrapper: the server's --exec-wrapper, NULL on the host */
    const char *tools[2];               /* what must be on PATH */
    char arch[64];                      /* what the server reports */
    char *so;                           /* dense 8x8x8 for target, bytes */
    size_t so_len;
    char manifest[256];
} device_t;

static device_t g_dev[] = {
    {"host", "llvm", NULL, {NULL, NULL}, "", NULL, 0, ""},
    {"qemu-aarch64", "llvm -device=arm_cpu -mtriple=aarch64-linux-gnu", "qemu-aarch64 -L /usr/aarch64-linux-gnu",
     {"qemu-aarch64", "aarch64-linux-gnu-gcc"}, "aarch64", NULL, 0, ""},
    {"qemu-riscv64", "llvm -mtriple=riscv64-linux-gnu", "qemu-riscv64 -L /usr/riscv64-linux-gnu",
     {"qemu-riscv64", "riscv64-linux-gnu-gcc"}, "riscv64", NULL, 0, ""},
};
enum { NDEV = sizeof g_dev / sizeof g_dev[0] };

static int on_path(const char *prog) {
    const char *path = getenv("PATH");
    char dir[4096], file[4200];
    for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
        size_t n = strcspn(p, ":");
        snprintf(dir, sizeof dir, "%.*s", (int)n, p);
        snprintf(file, sizeof file, "%s/%s", n ? dir : ".", prog);
        if (access(file, X_OK) == 0)
            return 1;
        p += n + (p[n] == ':');
    }
    return 0;
}

/* dense 8x8x8 with the target's default schedule and its reference in one
 * object; the runner for the target is built too (outside any job's time). */
static void build_dense(device_t *d) {
    dlc_ctx_t *ctx = dlc_ctx_new();
    dlc_op_spec_t spec;
    dlc_op_t op;
    dlc_target_t tgt;
    dlc_lowered_func_t *f, *fr;
    dlc_build_result_t br;
    dlc_strbuf_t c;
    char runner[PATH_MAX];
    dlc_strbuf_init(&c);
    assert_int_equal(dlc_target_parse(d->target, &tgt), 0);
    assert_int_equal(dlc_op_parse("dense:8,8,8", &spec), 0);
    assert_int_equal(dlc_op_build(ctx, &spec, &op), 0);
    dlc_schedule_t *s = dlc_op_default_schedule(ctx, &spec, &op, &tgt);
    assert_non_null(s);
    if (dlc_lower(s, "dense8", op.n_args, op.args, op.n_outputs, &f) < 0 ||
        dlc_lower_reference(ctx, "dense8_ref", op.n_args, op.args, op.n_outputs, &fr) < 0)
        fail_msg("%s: lowering: %s", d->key, dlc_last_error());
    f->ref_name = "dense8_ref";
    f->flops = op.flops;
    if (dlc_codegen_c((dlc_lowered_func_t *[]){f, fr}, 2, &tgt, &c) < 0 || dlc_build_so(c.data, c.len, &tgt, &br) < 0 ||
        dlc_runner_path(&tgt, runner) < 0)
        fail_msg("%s: building: %s", d->key, dlc_last_error());
    assert_int_equal(dlc_file_read(br.so_path, &d->so, &d->so_len), 0);
    snprintf(d->manifest, sizeof d->manifest, "{\"entry\":\"dense8\",\"target\":\"%s\"}", d->target);
    dlc_strbuf_free(&c);
    dlc_ctx_destroy(&ctx);
}

static int setup(void **state) {
    fleet_setup("test-fleet-cross");
    struct utsname u;
    snprintf(g_dev[0].arch, sizeof g_dev[0].arch, "%.60s", uname(&u) == 0 ? u.machine : "unknown");
    return 0;
}

static int teardown(void **state) {
    for (int i = 0; i < NDEV; i++)
        free(g_dev[i].so);
    fleet_teardown();
    return 0;
}

static void submit(dlc_client_t *c, const char *key, const device_t *art, uint64_t *id) {
    dlc_client_job_t job = {.key = key, .artifact = art->so, .artifact_len = art->so_len, .manifest = art->manifest,
                            .measure = dlc_msg_measure_default()};
    job.measure.timeout_s = 30;
    assert_int_equal(dlc_client_submit(c, &job, id), 0);
}

static void test_heterogeneous_fleet(void **state) {
    for (int i = 0; i < NDEV; i++)
        for (int t = 0; t < 2; t++)
            if (g_dev[i].tools[t] && !on_path(g_dev[i].tools[t])) {
                print_message("skipped: %s is not installed (scripts/install-deps.sh installs qemu-user and the "
                              "cross compilers)\n", g_dev[i].tools[t]);
                skip();
            }
    double t0 = dlc_now();
    for (int i = 0; i < NDEV; i++)
        build_dense(&g_dev[i]);
    print_message("built dense 8x8x8 for %d targets in %.1f s\n", NDEV, dlc_now() - t0);
    int port;
    pid_t tr = fleet_start_tracker("0", "83886080", &port), srv[NDEV];
    for (int i = 0; i < NDEV; i++)
        srv[i] = fleet_start_server(port, g_dev[i].key, g_dev[i].wrapper);
    dlc_client_t *c = fleet_client(port);

    /* jobs interleaved over the keys, and one aarch64 artifact sent to the
     * riscv64 device: its wrapper cannot run it, which shows the key decides */
    enum { NJOBS = NDEV * PER_KEY + 1 };
    uint64_t ids[NJOBS];
    int dev_of[NJOBS + 1], seen[NJOBS + 1] = {0};
    for (int r = 0; r < PER_KEY; r++)
        for (int i = 0; i < NDEV; i++) {
            submit(c, g_dev[i].key, &g_dev[i], &ids[r * NDEV + i]);
            dev_of[ids[r * NDEV + i]] = i;
        }
    submit(c, g_dev[2].key, &g_dev[1], &ids[NJOBS - 1]);
    dev_of[ids[NJOBS - 1]] = -1;
    dlc_client_result_t res[NJOBS];
    assert_int_equal(fleet_collect(c, res, NJOBS, 120), NJOBS);
    for (int k = 0; k < NJOBS; k++) {
        uint64_t id = res[k].job_id;
        assert_true(id >= 1 && id <= NJOBS);
        seen[id]++;
        int i = dev_of[id];
        print_message("job %llu %-13s → %d %s%s%.3g us\n", (unsigned long long)id, i < 0 ? "aarch64→riscv" : g_dev[i].key,
                      res[k].error_no, res[k].message, res[k].message[0] ? "; " : "",
                      res[k].n_costs ? res[k].costs[0] * 1e6 : 0.0);
        if (i < 0) {
            assert_int_not_equal(res[k].error_no, 0);
        } else {
            if (res[k].error_no != 0)
                fail_msg("%s: error_no %d: %s", g_dev[i].key, res[k].error_no, res[k].message);
            assert_true(res[k].n_costs == 3 && res[k].costs[0] > 0);
        }
    }
    for (int id = 1; id <= NJOBS; id++)
        assert_int_equal(seen[id], 1);

    /* the tracker's account: each key's one server, of the right arch, measured its jobs */
    json_t *st = fleet_status(c), *s;
    size_t k;
    int matched = 0;
    json_array_foreach(json_object_get(st, "servers"), k, s) {
        const char *key = json_string_value(json_object_get(s, "key"));
        for (int i = 0; i < NDEV; i++) {
            if (strcmp(key, g_dev[i].key) != 0)
                continue;
            matched++;
            long long done = json_integer_value(json_object_get(s, "done"));
            long long failed = json_integer_value(json_object_get(s, "failed"));
            print_message("server %-13s arch %-8s done %lld failed %lld\n", key,
                          json_string_value(json_object_get(s, "arch")), done, failed);
            assert_string_equal(json_string_value(json_object_get(s, "arch")), g_dev[i].arch);
            assert_int_equal(done, PER_KEY);
            assert_int_equal(failed, i == 2);
        }
    }
    assert_int_equal(matched, NDEV);
    assert_int_equal(fleet_jobs(st, "done"), NDEV * PER_KEY);
    json_decref(st);
    dlc_client_destroy(&c);
    for (int i = 0; i < NDEV; i++)
        fleet_stop(srv[i], SIGTERM);
    fleet_stop(tr, SIGTERM);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heterogeneous_fleet),
    };
    return cmocka_run_group_tests_name("fleet_cross", tests, setup, teardown);
}
