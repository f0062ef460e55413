/* lower_impl.h — state shared by the lowering files (lower.c, bound.c). */
#ifndef DLC_LOWER_IMPL_H
#define DLC_LOWER_IMPL_H
#include "compiler-core/core_impl.h"

/* Where a tensor's elements live while lowering: a buffer holding the region
 * [min_i, min_i + ext_i) of each dimension, row-major. */
typedef struct {
    const dlc_tensor_t *tensor;
    dlc_buffer_t *buf;
    int ndim;
    int64_t ext[DLC_MAX_DIMS];
    dlc_expr_t *min[DLC_MAX_DIMS];
} dlc__tbuf_t;

/* One stage instantiated over a region: extents and values of its axes. */
typedef struct {
    dlc_stage_t *st;
    int64_t ext[DLC__MAX_IVS];     /* per st->all[i] */
    dlc_expr_t *value[DLC__MAX_IVS]; /* per st->all[i], in terms of leaf vars (relative to the region) */
    dlc_expr_t *root_min[DLC_MAX_DIMS];
    int64_t root_ext[DLC_MAX_DIMS];
} dlc__sctx_t;

typedef struct {
    dlc_ctx_t *ctx;
    dlc_schedule_t *s;
    dlc_var_ranges_t ranges;       /* every loop variable in scope (and out of it: ids are unique) */
    int n_tbufs;
    dlc__tbuf_t tbufs[128];
    int n_intrins;
    const dlc_intrin_decl_t *intrins[16];
} dlc__lower_t;

int dlc__iv_index(const dlc_stage_t *st, const dlc_iter_var_t *iv);
dlc__tbuf_t *dlc__tbuf_find(dlc__lower_t *L, const dlc_tensor_t *t);
/* Extents and leaf-relative values of every axis of st over a region. */
void dlc__sctx_init(dlc__lower_t *L, dlc__sctx_t *sc, dlc_stage_t *st, dlc_expr_t *const *root_min,
                    const int64_t *root_ext);
/* The value of root axis i (absolute: region min + relative value). */
dlc_expr_t *dlc__sctx_root_value(dlc__lower_t *L, const dlc__sctx_t *sc, int i);
/* Region of tensor `p` read by stage sc->st when the leaves at positions
 * > fixed_pos range freely (fixed_pos = -1: all leaves free). Unions into
 * lo/hi/width; returns 0, or 1 if `p` is not read. */
int dlc__infer_reads(dlc__lower_t *L, const dlc__sctx_t *sc, int fixed_pos, const dlc_tensor_t *p, int *have,
                     dlc_expr_t **lo, int64_t *width);
/* Unions into dimension d of lo/width the range [start, start + w] (w < 0:
 * the whole dimension) as it moves while the leaves of sc after fixed_pos run. */
void dlc__union_range(dlc__lower_t *L, const dlc__sctx_t *sc, int fixed_pos, int d, dlc_expr_t *start, int64_t w,
                      int *have, dlc_expr_t **lo, int64_t *width);

#endif
