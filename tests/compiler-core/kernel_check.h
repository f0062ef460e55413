/* kernel_check.h — test helper: build a scheduled kernel together with its
 * naive reference into one object, run both on random inputs through
 * dlc-runner and report whether they agree. */
#ifndef DLC_KERNEL_CHECK_H
#define DLC_KERNEL_CHECK_H
#include "compiler-core/dlc_module.h"

typedef struct {
    int verified;
    double max_abs_err;
    int status;     /* 0 or the failing DLC_E* code */
    char msg[8192];
} kcheck_t;

/* Lowers s (args: inputs then n_outputs outputs) and the reference of the same
 * outputs, generates C for `target` (NULL: host), builds and runs. Prints the
 * failure detail (and the C file path) to stderr. */
kcheck_t kcheck_run(dlc_schedule_t *s, int n_args, dlc_tensor_t *const *args, int n_outputs, const char *target);
/* kcheck_run and assert verified, naming `what` on failure. */
void kcheck_assert(dlc_schedule_t *s, int n_args, dlc_tensor_t *const *args, int n_outputs, const char *target,
                   const char *what);
#endif
