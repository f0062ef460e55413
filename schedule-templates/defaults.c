/* defaults.c — default CPU schedules: what dlc-build uses without a tuned
 * config. Register tiles sized from the target's SIMD width. */
#include <string.h>
#include "schedule-templates/dlc_templates.h"

#define TRY(x)                  \
    do {                        \
        if ((x) < 0) return NULL; \
    } while (0)

/* inline every injective producer tagged "pad" (and bias_add) */
static int inline_injective(dlc_schedule_t *s) {
    int n = dlc_sched_num_stages(s);
    for (int i = 0; i < n - 1; i++) { /* the last stage is the output */
        dlc_stage_t *st = dlc_sched_stage_at(s, i);
        const char *tag = dlc_stage_tensor(st)->tag;
        if (tag && strstr(tag, "injective")) {
            int rc = dlc_stage_compute_inline(st);
            if (rc < 0) return rc;
        }
    }
    return 0;
}

/* C[..., m, n] += A[..., m, k] B[..., n, k]: a register tile of mr × nr in a local cache */
static dlc_schedule_t *sched_matmul(dlc_ctx_t *ctx, dlc_tensor_t *C, int lanes, int batched) {
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &C);
    if (!s) return NULL;
    dlc_tensor_t *CL = dlc_sched_cache_write(s, C, DLC_SCOPE_LOCAL);
    if (!CL) return NULL;
    dlc_stage_t *st = dlc_sched_stage(s, C), *cl = dlc_sched_stage(s, CL);
    int b = batched;
    dlc_iter_var_t *mo, *no, *mi, *ni, *par;
    TRY(dlc_stage_tile(st, dlc_stage_axis(st, b), dlc_stage_axis(st, b + 1), 4, 2 * lanes, &mo, &no, &mi, &ni));
    par = mo;
    if (batched) TRY(dlc_stage_fuse(st, dlc_stage_axis(st, 0), mo, &par));
    TRY(dlc_stage_parallel(st, par));
    TRY(dlc_stage_vectorize(st, ni));
    TRY(dlc_stage_compute_at(cl, st, no));
    dlc_iter_var_t *k = dlc_stage_reduce_axis(cl, 0), *ko, *ki;
    TRY(dlc_stage_split(cl, k, 4, &ko, &ki));
    dlc_iter_var_t *ci = dlc_stage_axis(cl, b), *cj = dlc_stage_axis(cl, b + 1);
    TRY(dlc_stage_reorder(cl, 4, (dlc_iter_var_t *[]){ko, ki, ci, cj}));
    TRY(dlc_stage_unroll(cl, ki));
    TRY(dlc_stage_unroll(cl, ci));
    TRY(dlc_stage_vectorize(cl, cj));
    return s;
}

dlc_schedule_t *dlc_op_default_schedule(dlc_ctx_t *ctx, const dlc_op_spec_t *spec, const dlc_op_t *op,
                                        const dlc_target_t *target) {
    int lanes = target && target->vector_bytes ? target->vector_bytes / 4 : 8;
    dlc_tensor_t *C = op->out;
    switch (spec->kind) {
    case DLC_OPK_DENSE: return sched_matmul(ctx, C, lanes, 0);
    case DLC_OPK_BATCH_MATMUL: return sched_matmul(ctx, C, lanes, 1);
    default: break;
    }
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &C);
    if (!s) return NULL;
    TRY(inline_injective(s));
    dlc_stage_t *st = dlc_sched_stage(s, C);
    switch (spec->kind) {
    case DLC_OPK_CONV2D: case DLC_OPK_DEPTHWISE_CONV2D: case DLC_OPK_CONV2D_TRANSPOSE: {
        dlc_iter_var_t *nk, *wo, *wi;
        TRY(dlc_stage_fuse(st, dlc_stage_axis(st, 0), dlc_stage_axis(st, 1), &nk));
        TRY(dlc_stage_split(st, dlc_stage_axis(st, 3), lanes, &wo, &wi));
        dlc_iter_var_t *order[8];
        int n = 0;
        order[n++] = nk;
        order[n++] = dlc_stage_axis(st, 2);
        order[n++] = wo;
        for (int r = 0; r < dlc_stage_num_reduce_axes(st); r++) order[n++] = dlc_stage_reduce_axis(st, r);
        order[n++] = wi;
        TRY(dlc_stage_reorder(st, n, order));
        TRY(dlc_stage_vectorize(st, wi));
        TRY(dlc_stage_parallel(st, nk));
        return s;
    }
    case DLC_OPK_CONV2D_NCHWC: {
        dlc_tensor_t *CL = dlc_sched_cache_write(s, C, DLC_SCOPE_LOCAL);
        if (!CL) return NULL;
        dlc_stage_t *cl = dlc_sched_stage(s, CL);
        dlc_iter_var_t *nk, *wo, *wi;
        TRY(dlc_stage_fuse(st, dlc_stage_axis(st, 0), dlc_stage_axis(st, 1), &nk));
        TRY(dlc_stage_split(st, dlc_stage_axis(st, 3), 4, &wo, &wi));
        TRY(dlc_stage_reorder(st, 5, (dlc_iter_var_t *[]){nk, dlc_stage_axis(st, 2), wo, wi, dlc_stage_axis(st, 4)}));
        TRY(dlc_stage_vectorize(st, dlc_stage_axis(st, 4)));
        TRY(dlc_stage_parallel(st, nk));
        TRY(dlc_stage_compute_at(cl, st, wo));
        dlc_iter_var_t *cw = dlc_stage_axis(cl, 3), *cwo, *cwi;
        TRY(dlc_stage_split(cl, cw, 4, &cwo, &cwi));
        TRY(dlc_stage_reorder(cl, 8, (dlc_iter_var_t *[]){dlc_stage_axis(cl, 0), dlc_stage_axis(cl, 1), dlc_stage_axis(cl, 2), cwo,
                                                           dlc_stage_reduce_axis(cl, 0), dlc_stage_reduce_axis(cl, 1),
                                                           dlc_stage_reduce_axis(cl, 2), cwi}));
        TRY(dlc_stage_reorder(cl, 2, (dlc_iter_var_t *[]){cwi, dlc_stage_axis(cl, 4)}));
        TRY(dlc_stage_unroll(cl, cwi));
        TRY(dlc_stage_vectorize(cl, dlc_stage_axis(cl, 4)));
        return s;
    }
    case DLC_OPK_POOL2D: case DLC_OPK_SOFTMAX: case DLC_OPK_RELU: case DLC_OPK_BIAS_RELU:
    default:
        /* every root stage: parallel over its outermost axis, vectorised innermost */
        for (int i = 0; i < dlc_sched_num_stages(s); i++) {
            dlc_stage_t *x = dlc_sched_stage_at(s, i);
            const char *tag = dlc_stage_tensor(x)->tag;
            if (tag && strstr(tag, "injective") && x != st) continue; /* inlined */
            int n;
            dlc_stage_leaves(x, &n);
            int na = dlc_stage_num_axes(x);
            if (na == 0) continue;
            if (dlc_stage_num_reduce_axes(x) == 0 && na >= 1) {
                dlc_iter_var_t *o, *in;
                TRY(dlc_stage_split(x, dlc_stage_axis(x, na - 1), lanes, &o, &in));
                TRY(dlc_stage_vectorize(x, in));
            }
            TRY(dlc_stage_parallel(x, dlc_stage_leaves(x, &n)[0]));
        }
        return s;
    }
}
