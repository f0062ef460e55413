/* kernel_check.h — test helper: build a scheduled kernel together with its
 * naive reference into one object, run both on random inputs through
 * dlc-runner and report whether they agree. */
#ifndef DLC_KERNEL_CHECK_H
#define DLC_KERNEL_CHECK_H
#include "compiler-core/dlc_module.h"
#include "schedule-templates/dlc_templates.h"

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

/* A batch: many scheduled kernels, each with its reference, generated into a
 * few translation units, built in parallel and measured one by one. Cheaper
 * than kcheck_run per kernel when compiles dominate. */
typedef struct kbatch kbatch_t;
/* target NULL: host; per_unit: kernels per translation unit. */
kbatch_t *kbatch_new(const char *target, int per_unit);
/* Lowers s (args: inputs then outputs) and its reference now and takes
 * ownership of ctx (the context of s and the tensors; destroyed with the
 * batch). `what` is printed if this kernel fails. Returns 0, or the lowering
 * error after printing it (the kernel then counts as failed). */
int kbatch_add(kbatch_t *b, dlc_ctx_t *ctx, dlc_schedule_t *s, int n_args, dlc_tensor_t *const *args, int n_outputs,
               const char *what);
/* Builds and measures everything added; prints each failing kernel's `what`
 * and detail. Returns the number of failed kernels. */
int kbatch_run(kbatch_t *b);
int kbatch_count(const kbatch_t *b);
void kbatch_destroy(kbatch_t **b);

/* A random valid schedule for a matmul (dense, batch_matmul) or conv2d NCHW
 * operator built in ctx: random splits (factor or nparts, dividing or not),
 * fuses of adjacent axes, a random permutation of the leaves, vectorize /
 * unroll / parallel (parallel only on data axes outside every reduce axis),
 * sometimes a local cache_write attached at a random leaf of the output,
 * sometimes shared/local cache_reads of the inputs at root or at a random leaf
 * of the reduction (with a second-level cache at the same or a deeper leaf),
 * and for conv2d the pad stage inlined, attached at a random leaf of its
 * reader, or left at root. The steps are appended to log, one per line. Returns NULL
 * (with the failing step in log) if a primitive refused a step. */
dlc_schedule_t *krandom_schedule(dlc_ctx_t *ctx, const dlc_op_t *op, uint64_t seed, dlc_strbuf_t *log);
/* A random valid schedule for any operator: sometimes a local cache_write of
 * a reduction output, injective producers inlined at random, random loops
 * (as above) on every other stage, and a producer with a single reader
 * sometimes attached at a random leaf of that reader. */
dlc_schedule_t *krandom_schedule_any(dlc_ctx_t *ctx, const dlc_op_t *op, uint64_t seed, dlc_strbuf_t *log);
/* A random small spec of kind 0 dense, 1 batch_matmul, 2 conv2d, 3 depthwise_conv2d,
 * 4 conv2d_transpose, 5 pool2d (max or avg), 6 softmax, 7 conv2d_nchwc, 8 bias_relu. */
void krandom_spec(uint64_t seed, int kind, char *out, size_t cap);
#endif
