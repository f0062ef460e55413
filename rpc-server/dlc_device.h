/* dlc_device.h — the device side of the fleet: describing this machine and
 * measuring an artifact in a sandbox (forked child, resource limits, seccomp,
 * wall-clock kill, private temp dir), with TVM's MeasureErrorNo outcomes.
 *
 * Usage:
 *   dlc_device_job_t job = DLC_DEVICE_JOB_DEFAULT;
 *   job.so_data = bytes; job.so_len = n; job.entry = "dense"; job.target = "llvm";
 *   job.opts.timeout_s = 5;
 *   dlc_device_result_t r;
 *   if (dlc_device_measure(&job, &r) < 0) die(dlc_last_error());
 *   printf("%s %g\n", dlc_measure_error_name(r.error_no), r.n_costs ? r.costs[0] : 0);
 *
 * The sandbox, in order:
 *   1. The server writes the artifact into a fresh 0700 directory under
 *      $TMPDIR (or /tmp) and makes sure the target's dlc-runner is built.
 *   2. It forks a child that leads its own process group, closes every
 *      inherited descriptor (the server's tracker connection included), sets
 *      RLIMIT_CORE 0, RLIMIT_FSIZE, RLIMIT_NOFILE, RLIMIT_CPU and (unless the
 *      server runs under ASan, whose shadow memory needs terabytes of address
 *      space) RLIMIT_AS, sets no_new_privs and installs a first seccomp filter:
 *      no sockets except AF_UNIX (libuv's pipes), no ptrace.
 *   3. The child runs dlc_measure(), which spawns dlc-runner (through the exec
 *      wrapper, e.g. qemu-aarch64, for cross targets) with LD_PRELOAD naming
 *      libdlc_sandbox_preload.so and DLC_SANDBOX_FILTER=1. The preload's
 *      constructor runs in the freshly exec'd runner (or emulator) before
 *      main() and before any kernel is loaded; it installs the second filter:
 *      no execve/execveat, no sockets at all, no fork (clone only with
 *      CLONE_THREAD, clone3 answers ENOSYS so libc falls back to clone), no
 *      setsid/setpgid (the kill must reach the whole group), no ptrace. A
 *      violation kills the runner with SIGSYS. This is why exactly one exec
 *      is allowed: the filter that forbids exec arrives with that exec.
 *   4. The server waits for the child's result on a pipe until the job's
 *      timeout plus a grace period, then SIGKILLs the process group; it also
 *      kills the group at once when job->cancel_fd turns readable (the
 *      tracker cancelled the job). It removes the directory in every case.
 * Outcomes: a result → NO_ERROR, WRONG_ANSWER (5), RUNTIME_DEVICE (4) for a
 * crash, a seccomp kill or a kernel error, RUN_TIMEOUT (7) for a hang.
 */
#ifndef DLC_DEVICE_H
#define DLC_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "compiler-core/dlc_module.h"
#include "tracker/dlc_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

/* This machine: arch, cpu model, OS, dlc version, cores, memory. Strings are
 * static (valid for the process lifetime). */
void dlc_device_info_get(dlc_device_info_t *out);

typedef struct {
    const void *so_data;      /* the artifact's shared object, bytes (caller owns) */
    size_t so_len;            /* bytes */
    const char *entry;        /* kernel entry symbol */
    const char *target;       /* target string ("llvm", "llvm -mtriple=aarch64-linux-gnu") */
    const char *exec_wrapper; /* replaces the target's wrapper when non-NULL ("" for native) */
    dlc_measure_opts_t opts;  /* opts.timeout_s is the wall-clock limit of the run */
    uint64_t mem_limit;       /* bytes of address space for the runner; 0: 8 GiB */
    int cancel_fd;            /* when it turns readable the run is killed (result UNKNOWN_ERROR,
                                 "cancelled"); the caller drains it. 0 or less: none (never stdin) */
} dlc_device_job_t;
#define DLC_DEVICE_JOB_DEFAULT {NULL, 0, NULL, "llvm", NULL, DLC_MEASURE_OPTS_DEFAULT, 0, 0}

typedef struct {
    int error_no;                        /* dlc_measure_error_t */
    int n_costs;
    double costs[DLC_MEASURE_MAX_REPEAT]; /* seconds per call */
    double all_cost;                     /* seconds, the whole sandboxed run */
    double timestamp;                    /* seconds since the Unix epoch, at the end */
    char message[512];                   /* error detail, "" on success */
} dlc_device_result_t;

/* Measures job in the sandbox described above. Returns 0 when res holds an
 * outcome (including failures of the kernel), or a negative code when the
 * sandbox itself could not be set up (no temp dir, no runner, no fork). */
int dlc_device_measure(const dlc_device_job_t *job, dlc_device_result_t *res);

/* Fills job->entry and job->target from an artifact manifest (JSON text as
 * dlc-build writes it). Strings point into *holder, which the caller
 * releases with json_decref. DLC_EPARSE names a missing field. */
int dlc_device_job_from_manifest(const char *manifest, dlc_device_job_t *job, void **holder);

#ifdef __cplusplus
}
#endif
#endif
