/* core_impl.h — compiler-core's private structures, shared by te/, schedule/,
 * lower/ and codegen/. Nothing outside compiler-core includes this. */
#ifndef DLC_CORE_IMPL_H
#define DLC_CORE_IMPL_H

#include "compiler-core/dlc_codegen.h"

struct dlc_ctx {
    dlc_arena_t *arena;
    int next_var_id;
    int next_tensor_id;
    int next_buffer_id;
};

/* How a leaf axis came to be. */
typedef enum { DLC_REL_SPLIT, DLC_REL_FUSE } dlc__rel_kind_t;
typedef struct {
    dlc__rel_kind_t kind;
    dlc_iter_var_t *parent, *outer, *inner; /* SPLIT: parent → outer, inner */
    dlc_iter_var_t *fused;                  /* FUSE: outer, inner → fused */
    int64_t factor;                         /* SPLIT: inner extent */
} dlc__relation_t;

typedef enum { DLC_ATTACH_ROOT, DLC_ATTACH_INLINE, DLC_ATTACH_AT } dlc__attach_t;

typedef struct {
    dlc_iter_var_t *iv;
    dlc_ann_t ann;
    dlc_thread_tag_t tag;
    const char *pragma_key, *pragma_value;
    const dlc_intrin_decl_t *intrin;
} dlc__iv_attr_t;

#define DLC__MAX_IVS 64
#define DLC__MAX_RELS 64

struct dlc_stage {
    dlc_schedule_t *sched;
    dlc_tensor_t *tensor;   /* output of this stage (never a placeholder) */
    dlc_expr_t *body;       /* value, after cache_read/write rewrites (may be REDUCE) */
    int n_axis, n_raxis;
    dlc_iter_var_t *axis[DLC_MAX_DIMS];
    dlc_iter_var_t *raxis[DLC_MAX_DIMS];
    int n_leaves;
    dlc_iter_var_t *leaves[DLC__MAX_IVS];
    int n_all;              /* every iv ever created for this stage */
    dlc_iter_var_t *all[DLC__MAX_IVS];
    int n_rels;
    dlc__relation_t rels[DLC__MAX_RELS];
    int n_attrs;
    dlc__iv_attr_t attrs[DLC__MAX_IVS];
    dlc__attach_t attach;
    dlc_stage_t *attach_stage;
    dlc_iter_var_t *attach_iv;
    dlc_scope_t scope;
    int double_buffer;
    int is_output;
    int scheduled;          /* a primitive touched it (cache_write forbids) */
};

struct dlc_schedule {
    dlc_ctx_t *ctx;
    int n_outputs;
    dlc_tensor_t **outputs;
    int n_stages, cap_stages;
    dlc_stage_t **stages;   /* topological: producers first */
};

/* te helpers shared inside the module */
dlc_expr_t *dlc__expr_new(dlc_ctx_t *ctx, dlc_expr_kind_t kind, dlc_dtype_t dtype, int n);
dlc_iter_var_t *dlc__iv_new(dlc_ctx_t *ctx, const char *name, int64_t extent, dlc_iv_kind_t kind);
dlc_buffer_t *dlc__buffer_new(dlc_ctx_t *ctx, const char *name, dlc_dtype_t dtype, int64_t size, dlc_scope_t scope);
/* Rebuilds e with operands replaced by f(operand); returns e itself if nothing changed. */
typedef dlc_expr_t *(*dlc__mutate_fn)(dlc_ctx_t *ctx, dlc_expr_t *e, void *user);
dlc_expr_t *dlc__expr_with_args(dlc_ctx_t *ctx, dlc_expr_t *e, dlc_expr_t **args);
/* Calls f on every node, pre-order. */
typedef void (*dlc__visit_fn)(const dlc_expr_t *e, void *user);
void dlc__expr_visit(const dlc_expr_t *e, dlc__visit_fn f, void *user);
/* Replaces reads of tensor `from` by reads of tensor `to` with the same indices. */
dlc_expr_t *dlc__replace_tensor(dlc_ctx_t *ctx, dlc_expr_t *e, const dlc_tensor_t *from, dlc_tensor_t *to);
int dlc__expr_uses_var(const dlc_expr_t *e, const dlc_expr_t *var);

/* schedule helpers */
dlc__iv_attr_t *dlc__stage_attr(dlc_stage_t *st, const dlc_iter_var_t *iv, int create);
int dlc__stage_leaf_pos(const dlc_stage_t *st, const dlc_iter_var_t *iv);
dlc_stage_t *dlc__sched_add_stage(dlc_schedule_t *s, dlc_tensor_t *t, int pos);

/* stmt builders (lower/) */
dlc_stmt_t *dlc__stmt_new(dlc_ctx_t *ctx, dlc_stmt_kind_t kind);
dlc_stmt_t *dlc__seq(dlc_ctx_t *ctx, int n, dlc_stmt_t *const *s);

#endif
