/* tmpl_generic.c — generic CPU templates (key "cpu", dlc's names and small
 * spaces, power2 splits so tails occur) for the other operators:
 *   dense.generic          [data, weight, bias, out_dtype]      tile_y, tile_x, tile_k
 *   batch_matmul.generic   [A, B, out_shape, out_dtype, ta, tb]  tile_y, tile_x, tile_k
 *   pool2d.generic         [data, [R, S], strides, dilation, padding, "max"|"avg", ceil_mode,
 *                           layout, count_include_pad]          tile_ow, fuse_h, unroll_kw
 *   softmax.generic        [x, axis]                            tile_x, attach
 *   relu.generic           [x]                                  tile_x (3-way), parallel
 *   bias_relu.generic      [x, bias]                            tile_x, fuse_x
 * Pool args follow topi.nn.pool2d (only ceil_mode false, NCHW and, for avg,
 * count_include_pad true). */
#include <string.h>
#include "templates_impl.h"

static int split_knob(dlc_space_t *sp, const char *name, int64_t extent, int n, int64_t max_factor) {
    return dlc_space_define_split(sp, name, extent, DLC_SPLIT_POWER2, n, max_factor, NULL, NULL);
}

static const int g_tf[] = {1, 0};

/* ---- dense, batch_matmul: C[.., y, x] = Σk A[.., y, k] B[.., x, k]; loops (b·yo parallel, xo, ko, yi, ki, xi vector) ---- */
static int space_mm(const dlc_task_t *t, dlc_space_t *sp) {
    const dlc_workload_t *w = &t->w;
    int b = w->op == DLC_OPK_BATCH_MATMUL;
    TRY(split_knob(sp, "tile_y", w->data[b], 2, 0));
    TRY(split_knob(sp, "tile_x", w->kernel[b], 2, 64));
    return split_knob(sp, "tile_k", w->data[b + 1], 2, 16);
}

static int inst_mm(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op, dlc_schedule_t **out) {
    const dlc_workload_t *w = &t->w;
    int b = w->op == DLC_OPK_BATCH_MATMUL;
    int64_t ty[2], tx[2], tk[2];
    TRY(dlc__split(cfg, "tile_y", ty, 2));
    TRY(dlc__split(cfg, "tile_x", tx, 2));
    TRY(dlc__split(cfg, "tile_k", tk, 2));
    memset(op, 0, sizeof *op);
    dlc_tensor_t *A = dlc_te_placeholder(ctx, b ? "A" : "data", w->data_ndim, w->data, w->dtype);
    dlc_tensor_t *B = dlc_te_placeholder(ctx, b ? "B" : "weight", w->kernel_ndim, w->kernel, w->dtype);
    dlc_tensor_t *C = b ? dlc_topi_batch_matmul(ctx, A, B, w->out_dtype) : dlc_topi_dense(ctx, A, B, w->out_dtype);
    if (!C) return dlc_last_status();
    *op = (dlc_op_t){3, 1, {A, B, C}, C, 2.0 * (double)dlc_tensor_size(C) * (double)w->data[b + 1], C->name};
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &C);
    if (!s) return dlc_last_status();
    dlc_stage_t *st = dlc_sched_stage(s, C);
    dlc_iter_var_t *yo, *yi, *xo, *xi, *ko, *ki, *par;
    TRY(dlc_stage_split(st, dlc_stage_axis(st, b), ty[1], &yo, &yi));
    TRY(dlc_stage_split(st, dlc_stage_axis(st, b + 1), tx[1], &xo, &xi));
    TRY(dlc_stage_split(st, dlc_stage_reduce_axis(st, 0), tk[1], &ko, &ki));
    TRY(dlc_stage_reorder(st, 6, (dlc_iter_var_t *[]){yo, xo, ko, yi, ki, xi}));
    TRY(dlc_stage_unroll(st, ki));
    TRY(dlc_stage_vectorize(st, xi));
    par = yo;
    if (b) TRY(dlc_stage_fuse(st, dlc_stage_axis(st, 0), yo, &par));
    TRY(dlc_stage_parallel(st, par));
    *out = s;
    return 0;
}

/* ---- pool2d ---- */
static int parse_pool(const json_t *args, dlc_workload_t *w) {
    if (!json_is_array(args) || json_array_size(args) < 6)
        return dlc_error(DLC_EINVAL, "args: expected [data, kernel, strides, dilation, padding, pool_type, ...]");
    TRY(dlc__arg_tensor(json_array_get(args, 0), "data", w->data, &w->data_ndim, &w->dtype));
    if (w->data_ndim != 4) return dlc_error(DLC_EINVAL, "expected NCHW data");
    int64_t k[2], st[2], dil[2], pad[4];
    TRY(dlc__arg_ints(json_array_get(args, 1), "kernel", 2, k));
    TRY(dlc__arg_ints(json_array_get(args, 2), "strides", 2, st));
    TRY(dlc__arg_ints(json_array_get(args, 3), "dilation", 2, dil));
    TRY(dlc__arg_ints(json_array_get(args, 4), "padding", 4, pad));
    if (k[0] == 0 || k[1] == 0 || st[0] == 0 || st[1] == 0 || dil[0] == 0 || dil[1] == 0)
        return dlc_error(DLC_EINVAL, "kernel, strides and dilation must be positive");
    const char *type = json_string_value(json_array_get(args, 5));
    if (!type || (strcmp(type, "max") && strcmp(type, "avg"))) return dlc_error(DLC_EINVAL, "pool_type must be max or avg");
    const json_t *ceil = json_array_get(args, 6), *layout = json_array_get(args, 7), *cip = json_array_get(args, 8);
    if (json_is_true(ceil)) return dlc_error(DLC_EUNSUPPORTED, "pool2d: ceil_mode");
    if (json_is_string(layout) && strcmp(json_string_value(layout), "NCHW"))
        return dlc_error(DLC_EUNSUPPORTED, "pool2d: layout %s (only NCHW)", json_string_value(layout));
    w->pool_max = type[0] == 'm';
    if (!w->pool_max && json_is_false(cip)) return dlc_error(DLC_EUNSUPPORTED, "pool2d: count_include_pad false");
    w->pool[0] = k[0], w->pool[1] = k[1];
    w->conv = (dlc_conv_params_t){st[0], st[1], pad[0], pad[1], pad[2], pad[3], dil[0], dil[1]};
    w->out_dtype = w->dtype;
    int64_t oh, ow;
    return dlc__out_hw(w, &oh, &ow);
}

static json_t *pool_args(const dlc_op_spec_t *s) {
    if (s->kind != DLC_OPK_POOL2D) return NULL;
    const int64_t *p = s->p;
    return json_pack("[o, [I, I], [I, I], [i, i], [I, I, I, I], s, b, s, b]",
                     dlc__tensor_json((int64_t[]){p[0], p[1], p[2], p[3]}, 4, s->dtype), p[4], p[5], p[6], p[6], 1, 1,
                     p[7], p[7], p[7], p[7], s->pool_max ? "max" : "avg", 0, "NCHW", 1);
}

static int space_pool(const dlc_task_t *t, dlc_space_t *sp) {
    int64_t oh, ow;
    TRY(dlc__out_hw(&t->w, &oh, &ow));
    TRY(split_knob(sp, "tile_ow", ow, 2, 64));
    TRY(dlc_space_define_knob_bool(sp, "fuse_h", g_tf, 2));
    return dlc_space_define_knob_bool(sp, "unroll_kw", g_tf, 2);
}

/* pad inlined; the output's (n·c[·h]) fused and parallel, ow split with its inner part vectorised,
 * the window loops between (the inner one unrolled or not); avg pooling's sum computed at the
 * output's ow_outer */
static int inst_pool(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op, dlc_schedule_t **out) {
    const dlc_workload_t *w = &t->w;
    int64_t tw[2];
    int fuse_h, unroll_kw;
    TRY(dlc__split(cfg, "tile_ow", tw, 2));
    if (dlc_config_knob_bool(cfg, "fuse_h", &fuse_h) < 0 || dlc_config_knob_bool(cfg, "unroll_kw", &unroll_kw) < 0)
        return dlc_error(DLC_EINSTANTIATE, "no fuse_h / unroll_kw");
    memset(op, 0, sizeof *op);
    dlc_tensor_t *data = dlc_te_placeholder(ctx, "data", 4, w->data, w->dtype);
    dlc_tensor_t *P = dlc_topi_pool2d_general(ctx, data, w->pool[0], w->pool[1], &w->conv, w->pool_max);
    if (!P) return dlc_last_status();
    *op = (dlc_op_t){2, 1, {data, P}, P, (double)dlc_tensor_size(P) * w->pool[0] * w->pool[1], P->name};
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &P);
    if (!s) return dlc_last_status();
    dlc_stage_t *so = dlc_sched_stage(s, P), *sum = NULL;
    for (int i = 0; i < dlc_sched_num_stages(s); i++) {
        dlc_stage_t *st = dlc_sched_stage_at(s, i);
        const char *tag = dlc_stage_tensor(st)->tag;
        if (tag && strstr(tag, "pad")) TRY(dlc_stage_compute_inline(st));
        else if (st != so) sum = st;
    }
    dlc_iter_var_t *wo, *wi, *nc, *par;
    TRY(dlc_stage_split(so, dlc_stage_axis(so, 3), tw[1], &wo, &wi));
    TRY(dlc_stage_fuse(so, dlc_stage_axis(so, 0), dlc_stage_axis(so, 1), &nc));
    par = nc;
    if (fuse_h) TRY(dlc_stage_fuse(so, nc, dlc_stage_axis(so, 2), &par));
    TRY(dlc_stage_parallel(so, par));
    if (sum) {
        TRY(dlc_stage_vectorize(so, wi));
        TRY(dlc_stage_compute_at(sum, so, wo));
        so = sum;
        wi = dlc_stage_axis(so, 3);
    }
    TRY(dlc_stage_reorder(so, 3, (dlc_iter_var_t *[]){dlc_stage_reduce_axis(so, 0), dlc_stage_reduce_axis(so, 1), wi}));
    TRY(dlc_stage_vectorize(so, wi));
    if (unroll_kw) TRY(dlc_stage_unroll(so, dlc_stage_reduce_axis(so, 1)));
    *out = s;
    return 0;
}

/* ---- softmax along the last axis ---- */
static int parse_2d(const json_t *args, dlc_workload_t *w, int want_ndim) {
    if (!json_is_array(args) || json_array_size(args) < 1) return dlc_error(DLC_EINVAL, "args: expected [x, ...]");
    TRY(dlc__arg_tensor(json_array_get(args, 0), "x", w->data, &w->data_ndim, &w->dtype));
    if (w->data_ndim != want_ndim) return dlc_error(DLC_EINVAL, "x: expected %d dimensions", want_ndim);
    w->out_dtype = w->dtype;
    return 0;
}

static int parse_softmax(const json_t *args, dlc_workload_t *w) {
    TRY(parse_2d(args, w, 2));
    const json_t *axis = json_array_get(args, 1);
    if (axis && !(json_is_integer(axis) && (json_integer_value(axis) == -1 || json_integer_value(axis) == 1)))
        return dlc_error(DLC_EUNSUPPORTED, "softmax: only along the last axis");
    return 0;
}

static json_t *softmax_args(const dlc_op_spec_t *s) {
    if (s->kind != DLC_OPK_SOFTMAX) return NULL;
    return json_pack("[o, i]", dlc__tensor_json(s->p, 2, s->dtype), -1);
}

static int space_softmax(const dlc_task_t *t, dlc_space_t *sp) {
    TRY(split_knob(sp, "tile_x", t->w.data[1], 2, 64));
    return dlc_space_define_knob_bool(sp, "attach", g_tf, 2);
}

/* rows parallel; max, exp and sum attached to the output's row (or at root, each parallel over rows);
 * the elementwise stages split along the row, inner part vectorised */
static int inst_softmax(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op,
                        dlc_schedule_t **out) {
    const dlc_workload_t *w = &t->w;
    int64_t tx[2];
    int attach;
    TRY(dlc__split(cfg, "tile_x", tx, 2));
    if (dlc_config_knob_bool(cfg, "attach", &attach) < 0) return dlc_error(DLC_EINSTANTIATE, "no attach");
    memset(op, 0, sizeof *op);
    dlc_tensor_t *x = dlc_te_placeholder(ctx, "x", 2, w->data, w->dtype);
    dlc_tensor_t *Y = dlc_topi_softmax(ctx, x);
    if (!Y) return dlc_last_status();
    *op = (dlc_op_t){2, 1, {x, Y}, Y, 5.0 * w->data[0] * w->data[1], "softmax"};
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &Y);
    if (!s) return dlc_last_status();
    dlc_stage_t *so = dlc_sched_stage(s, Y);
    dlc_iter_var_t *row = dlc_stage_axis(so, 0);
    int n = dlc_sched_num_stages(s);
    for (int i = 0; i < n; i++) {
        dlc_stage_t *st = dlc_sched_stage_at(s, i);
        if (dlc_stage_num_axes(st) == 2) { /* exp and the output: split the row, vectorise */
            dlc_iter_var_t *xo, *xi;
            TRY(dlc_stage_split(st, dlc_stage_axis(st, 1), tx[1], &xo, &xi));
            TRY(dlc_stage_vectorize(st, xi));
        }
        if (st == so) continue;
        if (attach) TRY(dlc_stage_compute_at(st, so, row));
        else TRY(dlc_stage_parallel(st, dlc_stage_axis(st, 0)));
    }
    TRY(dlc_stage_parallel(so, row));
    *out = s;
    return 0;
}

/* ---- relu [x], bias_relu [x, bias] ---- */
static int parse_relu(const json_t *args, dlc_workload_t *w) { return parse_2d(args, w, 1); }

static json_t *relu_args(const dlc_op_spec_t *s) {
    return s->kind == DLC_OPK_RELU ? json_pack("[o]", dlc__tensor_json(s->p, 1, s->dtype)) : NULL;
}

static int space_relu(const dlc_task_t *t, dlc_space_t *sp) {
    TRY(split_knob(sp, "tile_x", t->w.data[0], 3, 64));
    return dlc_space_define_knob_bool(sp, "parallel", g_tf, 2);
}

/* x split three ways: outer (parallel or not), middle (unrolled), inner (vectorised) */
static int inst_relu(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op, dlc_schedule_t **out) {
    int64_t tx[3];
    int par;
    TRY(dlc__split(cfg, "tile_x", tx, 3));
    if (dlc_config_knob_bool(cfg, "parallel", &par) < 0) return dlc_error(DLC_EINSTANTIATE, "no parallel");
    memset(op, 0, sizeof *op);
    dlc_tensor_t *x = dlc_te_placeholder(ctx, "x", 1, t->w.data, t->w.dtype);
    dlc_tensor_t *Y = dlc_topi_relu(ctx, x);
    if (!Y) return dlc_last_status();
    *op = (dlc_op_t){2, 1, {x, Y}, Y, (double)t->w.data[0], "relu"};
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &Y);
    if (!s) return dlc_last_status();
    dlc_stage_t *st = dlc_sched_stage(s, Y);
    dlc_iter_var_t *ax[3];
    TRY(dlc__apply_split(st, dlc_stage_axis(st, 0), tx, 3, ax));
    if (par) TRY(dlc_stage_parallel(st, ax[0]));
    TRY(dlc_stage_unroll(st, ax[1]));
    TRY(dlc_stage_vectorize(st, ax[2]));
    *out = s;
    return 0;
}

static int parse_bias_relu(const json_t *args, dlc_workload_t *w) {
    TRY(parse_2d(args, w, 2));
    dlc_dtype_t bdt;
    TRY(dlc__arg_tensor(json_array_get(args, 1), "bias", w->kernel, &w->kernel_ndim, &bdt));
    if (w->kernel_ndim != 1 || w->kernel[0] != w->data[1]) return dlc_error(DLC_EINVAL, "bias: expected [N] for x [M, N]");
    return 0;
}

static json_t *bias_relu_args(const dlc_op_spec_t *s) {
    if (s->kind != DLC_OPK_BIAS_RELU) return NULL;
    return json_pack("[o, o]", dlc__tensor_json(s->p, 2, s->dtype), dlc__tensor_json(&s->p[1], 1, s->dtype));
}

static int space_bias_relu(const dlc_task_t *t, dlc_space_t *sp) {
    TRY(split_knob(sp, "tile_x", t->w.data[1], 2, 64));
    return dlc_space_define_knob_bool(sp, "fuse_x", g_tf, 2);
}

/* bias_add inlined; rows (fused with the outer x part, or alone) parallel, inner x vectorised */
static int inst_bias_relu(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op,
                          dlc_schedule_t **out) {
    const dlc_workload_t *w = &t->w;
    int64_t tx[2];
    int fuse;
    TRY(dlc__split(cfg, "tile_x", tx, 2));
    if (dlc_config_knob_bool(cfg, "fuse_x", &fuse) < 0) return dlc_error(DLC_EINSTANTIATE, "no fuse_x");
    memset(op, 0, sizeof *op);
    dlc_tensor_t *x = dlc_te_placeholder(ctx, "x", 2, w->data, w->dtype);
    dlc_tensor_t *b = dlc_te_placeholder(ctx, "bias", 1, w->kernel, w->dtype);
    dlc_tensor_t *xb = dlc_topi_bias_add(ctx, x, b), *Y = xb ? dlc_topi_relu(ctx, xb) : NULL;
    if (!Y) return dlc_last_status();
    *op = (dlc_op_t){3, 1, {x, b, Y}, Y, 2.0 * w->data[0] * w->data[1], "bias_relu"};
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &Y);
    if (!s) return dlc_last_status();
    for (int i = 0; i < dlc_sched_num_stages(s); i++)
        if (dlc_stage_tensor(dlc_sched_stage_at(s, i)) != Y) TRY(dlc_stage_compute_inline(dlc_sched_stage_at(s, i)));
    dlc_stage_t *st = dlc_sched_stage(s, Y);
    dlc_iter_var_t *xo, *xi, *par = dlc_stage_axis(st, 0);
    TRY(dlc_stage_split(st, dlc_stage_axis(st, 1), tx[1], &xo, &xi));
    if (fuse) TRY(dlc_stage_fuse(st, par, xo, &par));
    TRY(dlc_stage_parallel(st, par));
    TRY(dlc_stage_vectorize(st, xi));
    *out = s;
    return 0;
}

const dlc_template_t dlc__tmpl_dense_generic = {
    "dense.generic", "cpu", DLC_OPK_DENSE, dlc__parse_dense, dlc__dense_args, space_mm, inst_mm,
};
const dlc_template_t dlc__tmpl_batch_matmul_generic = {
    "batch_matmul.generic", "cpu", DLC_OPK_BATCH_MATMUL, dlc__parse_bmm, dlc__bmm_args, space_mm, inst_mm,
};
const dlc_template_t dlc__tmpl_pool2d_generic = {
    "pool2d.generic", "cpu", DLC_OPK_POOL2D, parse_pool, pool_args, space_pool, inst_pool,
};
const dlc_template_t dlc__tmpl_softmax_generic = {
    "softmax.generic", "cpu", DLC_OPK_SOFTMAX, parse_softmax, softmax_args, space_softmax, inst_softmax,
};
const dlc_template_t dlc__tmpl_relu_generic = {
    "relu.generic", "cpu", DLC_OPK_RELU, parse_relu, relu_args, space_relu, inst_relu,
};
const dlc_template_t dlc__tmpl_bias_relu_generic = {
    "bias_relu.generic", "cpu", DLC_OPK_BIAS_RELU, parse_bias_relu, bias_relu_args, space_bias_relu, inst_bias_relu,
};
