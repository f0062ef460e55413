/* tmpl_x86_dense.c — dense_nopack.x86, dense_pack.x86 and batch_matmul.x86,
 * with TVM's knobs (tile_y, tile_x, tile_k, tile_inner). dense_pack takes the
 * weight pre-packed as [N/bn, K, bn], as TVM measures it during tuning.
 * Key "cpu": TVM registers these strategies for every CPU target (x86.py's
 * dense/batch_matmul strategies under "cpu"; arm_cpu has no dense schedule of
 * its own and its strategy adds these two), so an arm_cpu log names its dense
 * tasks dense_pack.x86 / dense_nopack.x86. */
#include <string.h>
#include "templates_impl.h"

/* ---- dense: args [data [M,K], weight [N,K], bias, out_dtype] ---- */
int dlc__parse_dense(const json_t *args, dlc_workload_t *w) {
    if (!json_is_array(args) || json_array_size(args) < 2)
        return dlc_error(DLC_EINVAL, "args: expected [data, weight, bias, out_dtype]");
    dlc_dtype_t wdt;
    TRY(dlc__arg_tensor(json_array_get(args, 0), "data", w->data, &w->data_ndim, &w->dtype));
    TRY(dlc__arg_tensor(json_array_get(args, 1), "weight", w->kernel, &w->kernel_ndim, &wdt));
    if (w->data_ndim != 2 || w->kernel_ndim != 2 || w->data[1] != w->kernel[1])
        return dlc_error(DLC_EINVAL, "expected data [M, K] and weight [N, K]");
    if (json_array_size(args) >= 3 && !json_is_null(json_array_get(args, 2)))
        return dlc_error(DLC_EUNSUPPORTED, "dense with a fused bias is not supported yet");
    w->out_dtype = w->dtype;
    if (json_array_size(args) >= 4 && json_is_string(json_array_get(args, 3)) &&
        dlc_dtype_parse(json_string_value(json_array_get(args, 3)), &w->out_dtype) < 0)
        return dlc_error(DLC_EINVAL, "out_dtype: %s", dlc_last_error());
    return 0;
}

json_t *dlc__dense_args(const dlc_op_spec_t *s) {
    if (s->kind != DLC_OPK_DENSE) return NULL;
    return json_pack("[o, o, n, s]", dlc__tensor_json((int64_t[]){s->p[0], s->p[2]}, 2, s->dtype),
                     dlc__tensor_json((int64_t[]){s->p[1], s->p[2]}, 2, s->dtype), dlc_dtype_name(s->out_dtype));
}

static int space_nopack(const dlc_task_t *t, dlc_space_t *sp) {
    const dlc_workload_t *w = &t->w;
    TRY(dlc_space_define_split(sp, "tile_y", w->data[0], DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    TRY(dlc_space_define_split(sp, "tile_x", w->kernel[0], DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    TRY(dlc_space_define_split(sp, "tile_k", w->data[1], DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    return 0;
}

typedef struct {
    dlc_tensor_t *a, *b, *c;
    int64_t vec, bn;
    dlc_dtype_t od; /* out_dtype */
} dn_t;

static dlc_expr_t *nopack_cc(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dn_t *d = u;
    dlc_iter_var_t *k = dlc_te_reduce_axis(c, "k", d->a->shape[1] / d->vec);
    dlc_expr_t *kk = dlc_add(c, dlc_mul(c, k->var, dlc_int(c, d->vec)), i[2]);
    return dlc_sum(c, dlc_topi_mul_out(c, d->od, dlc_read2(c, d->a, i[0], kk), dlc_read2(c, d->b, i[1], kk)), 1, &k);
}
static dlc_expr_t *nopack_c(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dn_t *d = u;
    dlc_iter_var_t *kk = dlc_te_reduce_axis(c, "kk", d->vec);
    return dlc_sum(c, dlc_read3(c, d->c, i[0], i[1], kk->var), 1, &kk);
}

static int inst_nopack(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op,
                       dlc_schedule_t **out) {
    const dlc_workload_t *w = &t->w;
    int64_t ty[2], tx[2], tk[2];
    TRY(dlc__split(cfg, "tile_y", ty, 2));
    TRY(dlc__split(cfg, "tile_x", tx, 2));
    TRY(dlc__split(cfg, "tile_k", tk, 2));
    int64_t M = w->data[0], K = w->data[1], N = w->kernel[0], vec = tk[1];
    if (K % vec) return dlc_error(DLC_EINSTANTIATE, "tile_k %lld does not divide K %lld", (long long)vec, (long long)K);
    memset(op, 0, sizeof *op);
    dlc_tensor_t *A = dlc_te_placeholder(ctx, "data", 2, (int64_t[]){M, K}, w->dtype);
    dlc_tensor_t *B = dlc_te_placeholder(ctx, "weight", 2, (int64_t[]){N, K}, w->dtype);
    dn_t d = {A, B, NULL, vec, 0, w->out_dtype};
    d.c = dlc_te_compute(ctx, "dense_cc", 3, (int64_t[]){M, N, vec}, nopack_cc, &d);
    dlc_tensor_t *C = d.c ? dlc_te_compute(ctx, "dense_nopack", 2, (int64_t[]){M, N}, nopack_c, &d) : NULL;
    if (!C) return dlc_last_status();
    *op = (dlc_op_t){3, 1, {A, B, C}, C, 2.0 * M * N * K, "dense_nopack"};
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &C);
    if (!s) return dlc_last_status();
    dlc_stage_t *sc = dlc_sched_stage(s, C), *cc = dlc_sched_stage(s, d.c);
    dlc_iter_var_t *yo, *yi, *xo, *xi, *xyo, *yz;
    TRY(dlc_stage_split(sc, dlc_stage_axis(sc, 0), ty[1], &yo, &yi));
    TRY(dlc_stage_split(sc, dlc_stage_axis(sc, 1), tx[1], &xo, &xi));
    TRY(dlc_stage_reorder(sc, 4, (dlc_iter_var_t *[]){yo, xo, yi, xi}));
    TRY(dlc_stage_fuse(sc, yo, xo, &xyo));
    TRY(dlc_stage_parallel(sc, xyo));
    TRY(dlc_stage_unroll(sc, dlc_stage_reduce_axis(sc, 0)));
    TRY(dlc_stage_compute_at(cc, sc, xyo));
    TRY(dlc_stage_fuse(cc, dlc_stage_axis(cc, 0), dlc_stage_axis(cc, 1), &yz));
    TRY(dlc_stage_reorder(cc, 3, (dlc_iter_var_t *[]){dlc_stage_reduce_axis(cc, 0), yz, dlc_stage_axis(cc, 2)}));
    TRY(dlc_stage_unroll(cc, yz));
    TRY(dlc_stage_vectorize(cc, dlc_stage_axis(cc, 2)));
    *out = s;
    return 0;
}

/* ---- dense_pack ---- */
static int le16(const int64_t *size, int n, void *user) { return size[n - 1] <= 16; }

static int space_pack(const dlc_task_t *t, dlc_space_t *sp) {
    const dlc_workload_t *w = &t->w;
    TRY(dlc_space_define_split(sp, "tile_y", w->data[0], DLC_SPLIT_FACTORS, 3, 0, NULL, NULL));
    TRY(dlc_space_define_split(sp, "tile_x", w->kernel[0], DLC_SPLIT_FACTORS, 3, 0, NULL, NULL));
    TRY(dlc_space_define_split(sp, "tile_k", w->data[1], DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    TRY(dlc_space_define_split(sp, "tile_inner", w->data[0], DLC_SPLIT_FACTORS, 2, 0, le16, NULL));
    return 0;
}

static dlc_expr_t *pack_c(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dn_t *d = u;
    dlc_iter_var_t *k = dlc_te_reduce_axis(c, "k", d->a->shape[1]);
    dlc_expr_t *bn = dlc_int(c, d->bn);
    dlc_expr_t *b = dlc_read3(c, d->b, dlc_div(c, i[1], bn), k->var, dlc_mod(c, i[1], bn));
    return dlc_sum(c, dlc_topi_mul_out(c, d->od, dlc_read2(c, d->a, i[0], k->var), b), 1, &k);
}

static int inst_pack(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op,
                     dlc_schedule_t **out) {
    const dlc_workload_t *w = &t->w;
    int64_t ty[3], tx[3], tk[2], ti[2];
    TRY(dlc__split(cfg, "tile_y", ty, 3));
    TRY(dlc__split(cfg, "tile_x", tx, 3));
    TRY(dlc__split(cfg, "tile_k", tk, 2));
    TRY(dlc__split(cfg, "tile_inner", ti, 2));
    int64_t M = w->data[0], K = w->data[1], N = w->kernel[0], bn = tx[2];
    if (N % bn) return dlc_error(DLC_EINSTANTIATE, "tile_x inner %lld does not divide N %lld", (long long)bn, (long long)N);
    memset(op, 0, sizeof *op);
    dlc_tensor_t *A = dlc_te_placeholder(ctx, "data", 2, (int64_t[]){M, K}, w->dtype);
    dlc_tensor_t *B = dlc_te_placeholder(ctx, "packed_weight", 3, (int64_t[]){N / bn, K, bn}, w->dtype);
    dn_t d = {A, B, NULL, 0, bn, w->out_dtype};
    dlc_tensor_t *C = dlc_te_compute(ctx, "dense_pack", 2, (int64_t[]){M, N}, pack_c, &d);
    if (!C) return dlc_last_status();
    *op = (dlc_op_t){3, 1, {A, B, C}, C, 2.0 * M * N * K, "dense_pack"};
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &C);
    if (!s) return dlc_last_status();
    dlc_tensor_t *CCt = dlc_sched_cache_write(s, C, DLC_SCOPE_GLOBAL);
    if (!CCt) return dlc_last_status();
    dlc_stage_t *sc = dlc_sched_stage(s, C), *cc = dlc_sched_stage(s, CCt);
    dlc_iter_var_t *y[3], *x[3], *xyt, *xyo;
    TRY(dlc__apply_split(sc, dlc_stage_axis(sc, 0), ty, 3, y));
    TRY(dlc__apply_split(sc, dlc_stage_axis(sc, 1), tx, 3, x));
    TRY(dlc_stage_reorder(sc, 6, (dlc_iter_var_t *[]){x[0], y[0], y[1], x[1], y[2], x[2]}));
    TRY(dlc_stage_fuse(sc, x[0], y[0], &xyt));
    TRY(dlc_stage_parallel(sc, xyt));
    TRY(dlc_stage_fuse(sc, y[1], x[1], &xyo));
    TRY(dlc_stage_unroll(sc, y[2]));
    TRY(dlc_stage_vectorize(sc, x[2]));
    TRY(dlc_stage_compute_at(cc, sc, xyo));
    dlc_iter_var_t *cy = dlc_stage_axis(cc, 0), *cx = dlc_stage_axis(cc, 1), *ko, *ki;
    TRY(dlc_stage_split(cc, dlc_stage_reduce_axis(cc, 0), tk[1], &ko, &ki));
    TRY(dlc_stage_reorder(cc, 4, (dlc_iter_var_t *[]){ko, ki, cy, cx}));
    TRY(dlc_stage_vectorize(cc, cx));
    if (ti[1] > 1) {
        dlc_iter_var_t *yo, *yi;
        TRY(dlc_stage_split(cc, cy, ti[1], &yo, &yi));
        TRY(dlc_stage_reorder(cc, 5, (dlc_iter_var_t *[]){ko, yo, ki, yi, cx}));
        TRY(dlc_stage_unroll(cc, yo));
        TRY(dlc_stage_unroll(cc, ki));
        TRY(dlc_stage_unroll(cc, yi));
    } else {
        TRY(dlc_stage_unroll(cc, ki));
        TRY(dlc_stage_unroll(cc, cy));
    }
    *out = s;
    return 0;
}

/* ---- batch_matmul: args [A [B,M,K], B [B,N,K], out_shape, out_dtype, transpose_a, transpose_b] ---- */
int dlc__parse_bmm(const json_t *args, dlc_workload_t *w) {
    if (!json_is_array(args) || json_array_size(args) < 2)
        return dlc_error(DLC_EINVAL, "args: expected [A, B, out_shape, out_dtype, transpose_a, transpose_b]");
    dlc_dtype_t bdt;
    TRY(dlc__arg_tensor(json_array_get(args, 0), "A", w->data, &w->data_ndim, &w->dtype));
    TRY(dlc__arg_tensor(json_array_get(args, 1), "B", w->kernel, &w->kernel_ndim, &bdt));
    const json_t *ta = json_array_get(args, 4), *tb = json_array_get(args, 5);
    if ((ta && json_is_true(ta)) || (tb && json_is_false(tb)))
        return dlc_error(DLC_EUNSUPPORTED, "batch_matmul: only transpose_a=False, transpose_b=True (NT) is supported");
    if (w->data_ndim != 3 || w->kernel_ndim != 3 || w->data[2] != w->kernel[2] ||
        (w->data[0] != w->kernel[0] && w->kernel[0] != 1))
        return dlc_error(DLC_EINVAL, "expected A [B, M, K] and B [B, N, K]");
    if (w->kernel[0] != w->data[0]) return dlc_error(DLC_EUNSUPPORTED, "batch_matmul: broadcasting B is not supported");
    w->out_dtype = w->dtype;
    const json_t *od = json_array_get(args, 3);
    if (json_is_string(od) && dlc_dtype_parse(json_string_value(od), &w->out_dtype) < 0)
        return dlc_error(DLC_EINVAL, "out_dtype: %s", dlc_last_error());
    return 0;
}

json_t *dlc__bmm_args(const dlc_op_spec_t *s) {
    if (s->kind != DLC_OPK_BATCH_MATMUL) return NULL;
    return json_pack("[o, o, n, s, b, b]", dlc__tensor_json((int64_t[]){s->p[0], s->p[1], s->p[3]}, 3, s->dtype),
                     dlc__tensor_json((int64_t[]){s->p[0], s->p[2], s->p[3]}, 3, s->dtype),
                     dlc_dtype_name(s->out_dtype), 0, 1);
}

static int space_bmm(const dlc_task_t *t, dlc_space_t *sp) {
    const dlc_workload_t *w = &t->w;
    TRY(dlc_space_define_split(sp, "tile_y", w->data[1], DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    TRY(dlc_space_define_split(sp, "tile_x", w->kernel[1], DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    TRY(dlc_space_define_split(sp, "tile_k", w->data[2], DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    return 0;
}

static int inst_bmm(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op,
                    dlc_schedule_t **out) {
    const dlc_workload_t *w = &t->w;
    int64_t ty[2], tx[2], tk[2];
    TRY(dlc__split(cfg, "tile_y", ty, 2));
    TRY(dlc__split(cfg, "tile_x", tx, 2));
    TRY(dlc__split(cfg, "tile_k", tk, 2));
    int64_t Bt = w->data[0], M = w->data[1], K = w->data[2], N = w->kernel[1];
    memset(op, 0, sizeof *op);
    dlc_tensor_t *A = dlc_te_placeholder(ctx, "A", 3, (int64_t[]){Bt, M, K}, w->dtype);
    dlc_tensor_t *B = dlc_te_placeholder(ctx, "B", 3, (int64_t[]){Bt, N, K}, w->dtype);
    dlc_tensor_t *C = dlc_topi_batch_matmul(ctx, A, B, w->out_dtype);
    if (!C) return dlc_last_status();
    *op = (dlc_op_t){3, 1, {A, B, C}, C, 2.0 * Bt * M * N * K, "batch_matmul"};
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &C);
    if (!s) return dlc_last_status();
    dlc_tensor_t *CCt = dlc_sched_cache_write(s, C, DLC_SCOPE_GLOBAL);
    if (!CCt) return dlc_last_status();
    dlc_stage_t *so = dlc_sched_stage(s, C), *cc = dlc_sched_stage(s, CCt);
    dlc_iter_var_t *yo, *yi, *xo, *xi, *byo, *bxyo;
    TRY(dlc_stage_split(so, dlc_stage_axis(so, 1), ty[1], &yo, &yi));
    TRY(dlc_stage_split(so, dlc_stage_axis(so, 2), tx[1], &xo, &xi));
    TRY(dlc_stage_reorder(so, 5, (dlc_iter_var_t *[]){dlc_stage_axis(so, 0), yo, xo, yi, xi}));
    TRY(dlc_stage_fuse(so, dlc_stage_axis(so, 0), yo, &byo));
    TRY(dlc_stage_fuse(so, byo, xo, &bxyo));
    TRY(dlc_stage_parallel(so, bxyo));
    TRY(dlc_stage_vectorize(so, xi));
    TRY(dlc_stage_pragma(so, bxyo, "auto_unroll_max_step", "16"));
    TRY(dlc_stage_compute_at(cc, so, bxyo));
    /* TVM rfactors k here; dlc keeps the reduction in registers instead:
     * k split by tile_k, the inner part unrolled, x vectorised innermost */
    dlc_iter_var_t *ko, *ki;
    TRY(dlc_stage_split(cc, dlc_stage_reduce_axis(cc, 0), tk[1], &ko, &ki));
    TRY(dlc_stage_reorder(cc, 5, (dlc_iter_var_t *[]){dlc_stage_axis(cc, 0), ko, ki, dlc_stage_axis(cc, 1), dlc_stage_axis(cc, 2)}));
    TRY(dlc_stage_unroll(cc, ki));
    TRY(dlc_stage_vectorize(cc, dlc_stage_axis(cc, 2)));
    *out = s;
    return 0;
}

const dlc_template_t dlc__tmpl_dense_nopack_x86 = {
    "dense_nopack.x86", "cpu", DLC_OPK_DENSE, dlc__parse_dense, dlc__dense_args, space_nopack, inst_nopack,
};
const dlc_template_t dlc__tmpl_dense_pack_x86 = {
    "dense_pack.x86", "cpu", DLC_OPK_DENSE, dlc__parse_dense, dlc__dense_args, space_pack, inst_pack,
};
const dlc_template_t dlc__tmpl_batch_matmul_x86 = {
    "batch_matmul.x86", "cpu", DLC_OPK_BATCH_MATMUL, dlc__parse_bmm, dlc__bmm_args, space_bmm, inst_bmm,
};
