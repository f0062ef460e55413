/* dlc_module.h — building generated C into shared objects (toolchain driver
 * with a code-hash cache and parallel compiles), loading them, calling
 * kernels with DLPack tensors, and measuring a kernel with dlc-runner
 * (natively or under an emulator such as qemu-aarch64).
 *
 * Usage:
 *   dlc_build_result_t br;
 *   if (dlc_build_so(src, strlen(src), &tgt, &br) < 0) die(dlc_last_error());
 *   dlc_module_t *m = dlc_module_load(br.so_path);          // host targets only
 *   dlc_module_call(m, "dense", tensors, 3);
 *   dlc_measure_opts_t mo = DLC_MEASURE_OPTS_DEFAULT;
 *   dlc_measure_result_t mr;
 *   dlc_measure(&tgt, br.so_path, "dense", &mo, &mr);        // any target
 *   dlc_module_destroy(&m);
 */
#ifndef DLC_MODULE_H
#define DLC_MODULE_H

#include <dlpack/dlpack.h>
#include <limits.h>
#include "compiler-core/dlc_codegen.h"
#include "compiler-core/dlc_kernel_abi.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- build ---- */
typedef struct {
    char so_path[PATH_MAX]; /* the cached shared object */
    char code_hash[65];     /* sha256 of source + compiler + flags */
    int cache_hit;          /* 1 if no compiler ran */
    double compile_s;       /* seconds spent (0 on a cache hit) */
} dlc_build_result_t;

/* Compiles one translation unit for the target into
 * <dlc_cache_dir()>/kernels/<hash>.so (and keeps <hash>.c beside it), unless
 * already there. On a compiler error returns DLC_ECOMPILE with the first
 * lines of the compiler's stderr in dlc_last_error(). */
int dlc_build_so(const char *source, size_t len, const dlc_target_t *target, dlc_build_result_t *out);
/* Compiles n units with up to `jobs` compilers at once (jobs <= 0: number of
 * CPUs). status[i] gets 0 or the error of unit i; returns 0 if all built. */
int dlc_build_many(const char *const *sources, const size_t *lens, int n, const dlc_target_t *target, int jobs,
                   dlc_build_result_t *out, int *status);
/* The same with a wall-clock limit per compiler invocation (seconds; the
 * compiler's process group is killed and the unit fails with DLC_ETIMEOUT).
 * dlc_build_many uses 120 s. */
int dlc_build_many_limit(const char *const *sources, const size_t *lens, int n, const dlc_target_t *target, int jobs,
                         double timeout_s, dlc_build_result_t *out, int *status);
/* One unit for dlc_build_units: its C, and objects from dlc_build_objects
 * linked into its shared object (paths without spaces; borrowed). */
typedef struct {
    const char *source;
    size_t len;
    const char *const *objects;
    int n_objects;
} dlc_build_unit_t;
/* dlc_build_many_limit for units that link objects in. */
int dlc_build_units(const dlc_build_unit_t *units, int n, const dlc_target_t *target, int jobs, double timeout_s,
                    dlc_build_result_t *out, int *status);
/* Compiles n units to position-independent objects, cached like shared
 * objects (out[i].so_path is <hash>.o). Code several shared objects share,
 * such as a tuning task's reference, is then compiled once. C targets only
 * (DLC_EUNSUPPORTED for CUDA). */
int dlc_build_objects(const char *const *sources, const size_t *lens, int n, const dlc_target_t *target, int jobs,
                      double timeout_s, dlc_build_result_t *out, int *status);
/* The compiler command line used for a target (for --verbose and tests). */
void dlc_build_command(const dlc_target_t *target, dlc_strbuf_t *out);

/* ---- module (host targets) ---- */
typedef struct dlc_module dlc_module_t;
/* dlopen()s the object; NULL with dlc_last_error() on failure. */
dlc_module_t *dlc_module_load(const char *so_path);
void dlc_module_destroy(dlc_module_t **m);
/* The descriptor of an entry, or NULL if the object has no such entry. */
const dlc_kernel_desc_t *dlc_module_desc(dlc_module_t *m, const char *entry);
dlc_kernel_fn dlc_module_func(dlc_module_t *m, const char *entry);
/* Checks each DLTensor (CPU device, dtype, ndim, shape, compact row-major
 * strides) against the descriptor, then calls. DLC_EINVAL names the first
 * mismatching argument; DLC_ERUNTIME if the kernel returns nonzero. */
int dlc_module_call(dlc_module_t *m, const char *entry, DLTensor *args, int nargs);
/* Sets the number of threads parallel loops use in this process (OpenMP). */
void dlc_module_set_threads(int n);

/* ---- measurement (dlc-runner, AutoTVM semantics) ---- */
typedef struct {
    int number;          /* calls per repeat (grown to reach min_repeat_ms) */
    int repeat;          /* costs reported */
    double min_repeat_ms;
    double cooldown_s;   /* sleep between repeats */
    int flush_cache;     /* write a large buffer between repeats */
    int check;           /* compare outputs with the reference entry */
    int threads;         /* 0: runner default (all cores) */
    double timeout_s;    /* wall-clock limit for the whole run */
    uint64_t seed;       /* random inputs */
} dlc_measure_opts_t;
#define DLC_MEASURE_OPTS_DEFAULT {1, 3, 0.0, 0.0, 0, 1, 0, 60.0, 42}

#define DLC_MEASURE_MAX_REPEAT 64
typedef struct {
    int status;          /* 0 ok; else a DLC_E* code (DLC_EWRONG, DLC_ERUNTIME, DLC_ETIMEOUT, ...) */
    int verified;        /* 1 if checked and within tolerance */
    int checked;
    double max_abs_err;
    int n_costs;
    double costs[DLC_MEASURE_MAX_REPEAT]; /* seconds per call */
    double mean_s;
    int number;          /* calls per repeat actually used */
    char message[512];   /* error detail */
} dlc_measure_result_t;

/* Runs `entry` of so_path in a dlc-runner child (through target->exec_wrapper
 * when not native). Returns 0 when a result was obtained (see res->status)
 * or a negative code when the runner could not be started. */
int dlc_measure(const dlc_target_t *target, const char *so_path, const char *entry, const dlc_measure_opts_t *opts,
                dlc_measure_result_t *res);
/* TVM's error number (dlc_measure_error_t) for the outcome of dlc_measure:
 * rc is what it returned, r its result. A failed run is RUNTIME_DEVICE, a
 * timeout RUN_TIMEOUT, a mismatch with the reference WRONG_ANSWER; a run
 * whose output was not verified counts as WRONG_ANSWER when it was checked,
 * or always with must_verify. msg (cap bytes; may be NULL) gets the reason
 * ("" for NO_ERROR). */
int dlc_measure_error_no(int rc, const dlc_measure_result_t *r, int must_verify, char *msg, size_t cap);
/* Path of the dlc-runner executable for a target (built on demand for cross
 * targets into the cache). */
int dlc_runner_path(const dlc_target_t *target, char out[PATH_MAX]);

#ifdef __cplusplus
}
#endif
#endif
