/* cache.c — cache_read and cache_write: new stages that stage data through a
 * buffer in another storage scope, rewriting the readers or the writer. */
#include <string.h>
#include "compiler-core/core_impl.h"

static int stage_pos(dlc_schedule_t *s, const dlc_stage_t *st) {
    for (int i = 0; i < s->n_stages; i++)
        if (s->stages[i] == st) return i;
    return -1;
}

static const char *axis_names[] = {"ax0", "ax1", "ax2", "ax3", "ax4", "ax5", "ax6", "ax7"};

dlc_tensor_t *dlc_sched_cache_read(dlc_schedule_t *s, dlc_tensor_t *t, dlc_scope_t scope, int n_readers,
                                   dlc_tensor_t *const *readers) {
    dlc_ctx_t *ctx = s->ctx;
    if (!t || n_readers <= 0) {
        dlc_error(DLC_ESCHEDULE, "cache_read: needs a tensor and at least one reader");
        return NULL;
    }
    dlc_stage_t *rs[n_readers];
    int first_reader = s->n_stages;
    for (int i = 0; i < n_readers; i++) {
        rs[i] = dlc_sched_stage(s, readers[i]);
        if (!rs[i]) {
            dlc_error(DLC_ESCHEDULE, "cache_read of %s: reader %s has no stage", t->name, readers[i]->name);
            return NULL;
        }
        int p = stage_pos(s, rs[i]);
        if (p < first_reader) first_reader = p;
    }
    dlc_iter_var_t *axes[DLC_MAX_DIMS];
    dlc_expr_t *idx[DLC_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++) {
        axes[i] = dlc_te_axis(ctx, axis_names[i], t->shape[i]);
        idx[i] = axes[i]->var;
    }
    const char *name = dlc_arena_printf(ctx->arena, "%s_%s", t->name, dlc_scope_name(scope));
    dlc_tensor_t *c = dlc_te_compute_body(ctx, name, t->ndim, t->shape, axes, dlc_read(ctx, t, idx));
    if (!c) return NULL;
    dlc_stage_t *cs = dlc__sched_add_stage(s, c, first_reader);
    cs->scope = scope;
    for (int i = 0; i < n_readers; i++) rs[i]->body = dlc__replace_tensor(ctx, rs[i]->body, t, c);
    return c;
}

dlc_tensor_t *dlc_sched_cache_write(dlc_schedule_t *s, dlc_tensor_t *t, dlc_scope_t scope) {
    dlc_ctx_t *ctx = s->ctx;
    dlc_stage_t *st = t ? dlc_sched_stage(s, t) : NULL;
    if (!st) {
        dlc_error(DLC_ESCHEDULE, "cache_write: tensor has no stage in this schedule");
        return NULL;
    }
    if (st->scheduled || st->n_leaves != st->n_axis + st->n_raxis) {
        dlc_error(DLC_ESCHEDULE, "cache_write of %s: call it before scheduling the stage", t->name);
        return NULL;
    }
    /* the cache stage takes over the body (and the reduce axes) on fresh axes */
    dlc_iter_var_t *axes[DLC_MAX_DIMS];
    dlc_expr_t *old[DLC_MAX_DIMS], *idx[DLC_MAX_DIMS];
    for (int i = 0; i < st->n_axis; i++) {
        axes[i] = dlc_te_axis(ctx, st->axis[i]->var->name, st->axis[i]->extent);
        old[i] = st->axis[i]->var;
        idx[i] = axes[i]->var;
    }
    dlc_expr_t *body = dlc_expr_substitute(ctx, st->body, st->n_axis, old, idx);
    const char *name = dlc_arena_printf(ctx->arena, "%s_%s", t->name, dlc_scope_name(scope));
    dlc_tensor_t *c = dlc_te_compute_body(ctx, name, t->ndim, t->shape, axes, body);
    if (!c) return NULL;
    dlc_stage_t *cs = dlc__sched_add_stage(s, c, stage_pos(s, st));
    cs->scope = scope;
    /* the original stage becomes a copy out of the cache, on fresh axes */
    for (int i = 0; i < st->n_axis; i++) {
        st->axis[i] = dlc_te_axis(ctx, axis_names[i], t->shape[i]);
        idx[i] = st->axis[i]->var;
    }
    st->body = dlc_read(ctx, c, idx);
    st->n_raxis = 0;
    st->n_leaves = st->n_all = st->n_axis;
    memcpy(st->leaves, st->axis, sizeof(st->axis[0]) * (size_t)st->n_axis);
    memcpy(st->all, st->axis, sizeof(st->axis[0]) * (size_t)st->n_axis);
    st->n_rels = 0;
    st->n_attrs = 0;
    return c;
}
