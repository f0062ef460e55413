/* sandbox_rules.c — the seccomp rules shared by the sandbox child and the runner preload. */
#include "rpc-server/sandbox_impl.h"

#include <stddef.h>

int dlc__sandbox_add_common_rules(scmp_filter_ctx ctx) {
    static const int killed[] = {SCMP_SYS(ptrace),       SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev),
                                 SCMP_SYS(kexec_load),   SCMP_SYS(bpf),              SCMP_SYS(perf_event_open),
                                 SCMP_SYS(mount),        SCMP_SYS(umount2),          SCMP_SYS(unshare),
                                 SCMP_SYS(setns),        SCMP_SYS(keyctl),           SCMP_SYS(add_key),
                                 SCMP_SYS(request_key), SCMP_SYS(init_module),      SCMP_SYS(finit_module),
                                 SCMP_SYS(reboot),       SCMP_SYS(swapon),           SCMP_SYS(swapoff)};
    int rc = 0;
    for (size_t i = 0; i < sizeof killed / sizeof killed[0] && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, killed[i], 0);
    return rc;
}
