/* sandbox_impl.h — private to rpc-server/: what the sandbox and its preload share. */
#ifndef DLC_SANDBOX_IMPL_H
#define DLC_SANDBOX_IMPL_H

#include <seccomp.h>

/* Set to "1" in the runner's environment: the preload installs its filter. */
#define DLC__SANDBOX_ENV "DLC_SANDBOX_FILTER"
/* Exit status of a runner whose filter could not be installed. */
#define DLC__SANDBOX_EXIT_FILTER 97

/* Rules both filters carry: no ptrace, no reading other processes, no
 * kernel-wide operations. Returns 0 or a negative errno (libseccomp). */
int dlc__sandbox_add_common_rules(scmp_filter_ctx ctx);

#endif
