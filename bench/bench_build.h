/* bench_build.h — building many candidate configs of one task for the
 * benchmarks: each config instantiated and lowered with its naive reference,
 * several per translation unit (a config whose C alone is large gets a unit of
 * its own), `jobs` compilers at once. Each build runs in a child process in
 * its own process group under a time limit, so a unit over its limit is killed
 * together with the compiler's own children (cc1, as); its configs are then
 * built one by one, and one that still runs over is a BUILD_TIMEOUT. A config
 * whose C is larger than max_bytes is a BUILD_TIMEOUT without a compile: such
 * sources (fully unrolled loop nests of dense_pack.x86) take minutes and GBs
 * of memory in cc1, never the 10 s a config gets.
 * DLC_BENCH_VERBOSE=1 prints each unit (configs, bytes, result) and each
 * chunk's generation and build times on stderr.
 *
 * Usage:
 *   bench_trial_t t[2] = {{.index = 17}, {.index = 42}};
 *   bench_build_opts_t bo = BENCH_BUILD_OPTS_DEFAULT;
 *   bench_build(task, &target, t, 2, &bo, "dense_pack.x86");
 *   // t[i].error_no == 0: t[i].so holds entry c17 (and c17_ref); free(t[i].so)
 */
#ifndef DLC_BENCH_BUILD_H
#define DLC_BENCH_BUILD_H
#include "compiler-core/dlc_module.h"
#include "schedule-templates/dlc_space.h"
#include "schedule-templates/dlc_templates.h"

typedef struct {
    int64_t index;   /* config index in the task's space */
    int error_no;    /* dlc_measure_error_t: 0, INSTANTIATION_ERROR, COMPILE_HOST, BUILD_TIMEOUT, then the run's */
    double cost;     /* seconds per call; INFINITY when not measured */
    char *so;        /* the object holding the config's entry (owned; NULL if not built) */
    size_t c_bytes;  /* bytes of generated C for the config alone (with its reference) */
} bench_trial_t;

typedef struct {
    int per_unit;        /* configs per translation unit at most */
    int jobs;            /* compilers at once */
    double timeout_s;    /* per config: a unit of n configs gets n times this */
    size_t alone_bytes;  /* a config with more C than this gets a unit of its own */
    size_t unit_bytes;   /* a unit holds at most this much C (unless one config alone does) */
    size_t max_bytes;    /* a config with more C than this is not compiled: BUILD_TIMEOUT (0: no limit) */
} bench_build_opts_t;
#define BENCH_BUILD_OPTS_DEFAULT {8, 2, 10.0, 96 * 1024, 384 * 1024, 512 * 1024}

/* The entry name of a config: c<index> (its reference: c<index>_ref). */
void bench_entry_name(int64_t index, char *out, size_t cap);
/* Builds trials t[0..n) (index set, the rest zero); fills error_no, so and
 * c_bytes. Shows a progress bar labelled `label` on a terminal. Returns how
 * many configs were not compiled because of max_bytes. */
int bench_build(dlc_task_t *task, const dlc_target_t *target, bench_trial_t *t, int n, const bench_build_opts_t *o,
                 const char *label);
#endif
