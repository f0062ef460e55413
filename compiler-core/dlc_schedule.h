/* dlc_schedule.h — schedules: one stage per compute tensor with the loop
 * primitives AutoTVM's CPU and GPU templates use. A schedule is built in the
 * tensors' context and freed with it.
 *
 * Usage (tile a dense and vectorise the inner axis):
 *   dlc_schedule_t *s = dlc_sched_create(ctx, 1, &C);
 *   dlc_stage_t *st = dlc_sched_stage(s, C);
 *   dlc_iter_var_t *mo, *mi, *no, *ni;
 *   dlc_stage_tile(st, dlc_stage_axis(st, 0), dlc_stage_axis(st, 1), 8, 16, &mo, &no, &mi, &ni);
 *   dlc_stage_reorder(st, 5, (dlc_iter_var_t *[]){mo, no, dlc_stage_reduce_axis(st, 0), mi, ni});
 *   dlc_stage_vectorize(st, ni);
 *   dlc_stage_parallel(st, mo);
 *
 * Every primitive returns 0 or a negative DLC_ESCHEDULE with a message in
 * dlc_last_error() (an axis not a leaf of the stage, a reduce axis made
 * parallel, ...). Splits need not divide: lowering adds guards or tail loops.
 */
#ifndef DLC_SCHEDULE_H
#define DLC_SCHEDULE_H

#include "compiler-core/dlc_te.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dlc_schedule dlc_schedule_t;
typedef struct dlc_stage dlc_stage_t;

/* Storage scopes; CPUs treat local and shared as stack/heap buffers. */
typedef enum { DLC_SCOPE_GLOBAL, DLC_SCOPE_SHARED, DLC_SCOPE_LOCAL, DLC_SCOPE_COUNT } dlc_scope_t;
const char *dlc_scope_name(dlc_scope_t s);
int dlc_scope_parse(const char *name, dlc_scope_t *out);

/* Loop annotations as lowering sees them. */
typedef enum {
    DLC_ANN_NONE, DLC_ANN_UNROLL, DLC_ANN_VECTORIZE, DLC_ANN_PARALLEL, DLC_ANN_THREAD, DLC_ANN_TENSORIZE,
    DLC_ANN_COUNT
} dlc_ann_t;

/* Thread tags for bind(): blockIdx.{x,y,z}, threadIdx.{x,y,z}, vthread. */
typedef enum {
    DLC_THREAD_BLOCK_X, DLC_THREAD_BLOCK_Y, DLC_THREAD_BLOCK_Z,
    DLC_THREAD_THREAD_X, DLC_THREAD_THREAD_Y, DLC_THREAD_THREAD_Z,
    DLC_THREAD_VTHREAD, DLC_THREAD_COUNT
} dlc_thread_tag_t;
const char *dlc_thread_tag_name(dlc_thread_tag_t t);
int dlc_thread_tag_parse(const char *name, dlc_thread_tag_t *out);

/* A tensorize intrinsic: a micro-kernel in C replacing a loop nest.
 * The call made in place of the nest is
 *   name(ext_0, ..., ext_{k-1}, out, in_0, ..., in_{m-1}, ld_out, ld_in_0, ..., ld_in_{m-1})
 * where ext_i (int64_t) are the runtime extents of the k replaced leaf loops
 * (outer to inner; smaller than declared on tails), out/in_j point at the
 * first element of the region each tensor touches (output first, then inputs
 * in order of first appearance in the body) and ld_* (int64_t) is the stride
 * in elements of each buffer's second-to-last dimension (1 for 1-D). The
 * kernel must ACCUMULATE into out for reductions (the init is generated
 * separately) and overwrite for plain computes. */
typedef struct {
    const char *name;     /* C function name */
    const char *c_source; /* definition, emitted once per translation unit */
    int accumulate;       /* informational: 1 if it is an update of a reduction */
} dlc_intrin_decl_t;

/* Creates a schedule for the outputs and every compute tensor they read. */
dlc_schedule_t *dlc_sched_create(dlc_ctx_t *ctx, int n_outputs, dlc_tensor_t *const *outputs);
dlc_ctx_t *dlc_sched_ctx(dlc_schedule_t *s);
/* The stage computing tensor t, or NULL (placeholder, not in the schedule). */
dlc_stage_t *dlc_sched_stage(dlc_schedule_t *s, const dlc_tensor_t *t);
int dlc_sched_num_stages(const dlc_schedule_t *s);
dlc_stage_t *dlc_sched_stage_at(dlc_schedule_t *s, int i); /* topological order */

dlc_tensor_t *dlc_stage_tensor(dlc_stage_t *st);
const char *dlc_stage_name(const dlc_stage_t *st);
/* Original (root) axes; valid until the stage is rebuilt by cache_write. */
dlc_iter_var_t *dlc_stage_axis(dlc_stage_t *st, int i);
dlc_iter_var_t *dlc_stage_reduce_axis(dlc_stage_t *st, int i);
int dlc_stage_num_axes(const dlc_stage_t *st);
int dlc_stage_num_reduce_axes(const dlc_stage_t *st);
/* Current leaf axes outer to inner; *n gets the count. Owned by the stage. */
dlc_iter_var_t *const *dlc_stage_leaves(dlc_stage_t *st, int *n);

int dlc_stage_split(dlc_stage_t *st, dlc_iter_var_t *iv, int64_t factor, dlc_iter_var_t **outer, dlc_iter_var_t **inner);
int dlc_stage_split_nparts(dlc_stage_t *st, dlc_iter_var_t *iv, int64_t nparts, dlc_iter_var_t **outer, dlc_iter_var_t **inner);
/* outer and inner must be adjacent leaves, outer first. */
int dlc_stage_fuse(dlc_stage_t *st, dlc_iter_var_t *outer, dlc_iter_var_t *inner, dlc_iter_var_t **fused);
/* The given leaves take, in the given order, the positions they occupy. */
int dlc_stage_reorder(dlc_stage_t *st, int n, dlc_iter_var_t *const *order);
int dlc_stage_tile(dlc_stage_t *st, dlc_iter_var_t *x, dlc_iter_var_t *y, int64_t xf, int64_t yf,
                   dlc_iter_var_t **xo, dlc_iter_var_t **yo, dlc_iter_var_t **xi, dlc_iter_var_t **yi);
int dlc_stage_vectorize(dlc_stage_t *st, dlc_iter_var_t *iv);
int dlc_stage_unroll(dlc_stage_t *st, dlc_iter_var_t *iv);
int dlc_stage_parallel(dlc_stage_t *st, dlc_iter_var_t *iv);
/* Free-form loop pragma, emitted as a comment/attribute ("auto_unroll_max_step", "16"). */
int dlc_stage_pragma(dlc_stage_t *st, dlc_iter_var_t *iv, const char *key, const char *value);
int dlc_stage_bind(dlc_stage_t *st, dlc_iter_var_t *iv, dlc_thread_tag_t tag);
int dlc_stage_tensorize(dlc_stage_t *st, dlc_iter_var_t *iv, const dlc_intrin_decl_t *intrin);

int dlc_stage_compute_at(dlc_stage_t *st, dlc_stage_t *parent, dlc_iter_var_t *iv);
int dlc_stage_compute_inline(dlc_stage_t *st);
int dlc_stage_compute_root(dlc_stage_t *st);
int dlc_stage_set_scope(dlc_stage_t *st, dlc_scope_t scope);
int dlc_stage_double_buffer(dlc_stage_t *st);

/* New stage copying t in `scope`, read by `readers` instead of t. */
dlc_tensor_t *dlc_sched_cache_read(dlc_schedule_t *s, dlc_tensor_t *t, dlc_scope_t scope, int n_readers,
                                   dlc_tensor_t *const *readers);
/* New stage computing t's body in `scope`; t becomes a copy of it. Must be
 * called before t's stage is scheduled. Returns the new tensor. */
dlc_tensor_t *dlc_sched_cache_write(dlc_schedule_t *s, dlc_tensor_t *t, dlc_scope_t scope);

#ifdef __cplusplus
}
#endif
#endif
