/* sandbox_preload.c — LD_PRELOAD'ed into dlc-runner (or its emulator) by the
 * sandbox: before main() it installs the seccomp filter that forbids exec,
 * sockets, fork and leaving the process group (see rpc-server/dlc_device.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rpc-server/sandbox_impl.h"

static void die(const char *what, int rc) {
    /* The runner must not run unfiltered: this line becomes the job's error. */
    fprintf(stderr, "dlc sandbox: %s failed (%s)\n", what, strerror(rc < 0 ? -rc : rc));
    _exit(DLC__SANDBOX_EXIT_FILTER);
}

__attribute__((constructor)) static void dlc_sandbox_preload(void) {
    const char *flag = getenv(DLC__SANDBOX_ENV);
    if (flag == NULL || strcmp(flag, "1") != 0)
        return; /* loaded by accident: stay inert */
    /* An emulator hands its environment to the guest; the guest's loader must
     * not try to preload a host object. */
    unsetenv("LD_PRELOAD");
    unsetenv(DLC__SANDBOX_ENV);
    /* Nothing the server had open (its tracker connection, files) reaches a
     * kernel: only stdin, stdout and stderr, which dlc_measure set up. */
    syscall(SYS_close_range, 3u, ~0u, 0u);
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        die("prctl", errno);
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (ctx == NULL)
        die("seccomp_init", ENOMEM);
    int rc = dlc__sandbox_add_common_rules(ctx);
    static const int killed[] = {SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(socket), SCMP_SYS(socketpair),
                                 SCMP_SYS(fork),   SCMP_SYS(vfork),    SCMP_SYS(setsid), SCMP_SYS(setpgid)};
    for (size_t i = 0; i < sizeof killed / sizeof killed[0] && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, killed[i], 0);
    /* Threads (CLONE_THREAD) yes, processes no. clone3 passes its flags in
     * memory a filter cannot read, so it says ENOSYS and libc uses clone. */
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(clone), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, 0));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0)
        die("seccomp", rc);
}
