/* tmpl_arm_depthwise.c — depthwise_conv2d_nchw.arm_cpu (topi/arm_cpu/
 * depthwise_conv2d.py): the padded data and the kernel parked in VC-wide
 * channel blocks, the convolution computed in that layout with h and w tiled
 * and the inner tile annotated, then copied out to NCHW. TVM gets the parked
 * layouts from cache_read + split + cache_write; dlc states them as stages
 * (data_vec, kernel_vec, conv, output), which gives the same loops. */
#include <string.h>
#include "templates_impl.h"

static int parse_dw(const json_t *args, dlc_workload_t *w) { return dlc__parse_conv_nchw(args, 1, 5, w); }
static json_t *dw_args(const dlc_op_spec_t *s) {
    return s->kind == DLC_OPK_DEPTHWISE_CONV2D ? dlc__conv_nchw_args(s) : NULL;
}

/* tile_c (channels × multiplier), tile_h, tile_w of the output, ann over [vh, vw, vc] */
static int space_dw(const dlc_task_t *t, dlc_space_t *sp) {
    const dlc_workload_t *w = &t->w;
    int64_t oh, ow;
    TRY(dlc__out_hw(w, &oh, &ow));
    TRY(dlc_space_define_split(sp, "tile_c", w->kernel[0] * w->kernel[1], DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    TRY(dlc_space_define_split(sp, "tile_h", oh, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    TRY(dlc_space_define_split(sp, "tile_w", ow, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    return dlc_space_define_annotate(sp, "ann", 3, "try_unroll_vec", 0);
}

typedef struct {
    dlc_tensor_t *data, *kernel, *dv, *kv, *conv;
    int64_t VC;
    dlc_conv_params_t p;
    dlc_dtype_t od; /* out_dtype */
} dw_t;

/* data_vec [N, C/VC, H + pads, W + pads, VC]: the padded input, parked */
static dlc_expr_t *dv_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dw_t *x = u;
    dlc_tensor_t *d = x->data;
    dlc_expr_t *y = dlc_sub(c, i[2], dlc_int(c, x->p.pad_top)), *xx = dlc_sub(c, i[3], dlc_int(c, x->p.pad_left));
    dlc_expr_t *ch = dlc_add(c, dlc_mul(c, i[1], dlc_int(c, x->VC)), i[4]);
    return dlc__read4_guarded(c, d, i[0], ch, y, xx);
}

/* kernel_vec [C/VC, 1, R, S, VC] */
static dlc_expr_t *kv_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dw_t *x = u;
    return dlc_read4(c, x->kernel, dlc_add(c, dlc_mul(c, i[0], dlc_int(c, x->VC)), i[4]), i[1], i[2], i[3]);
}

/* conv [N, C/VC, OH, OW, VC] */
static dlc_expr_t *conv_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dw_t *x = u;
    dlc_iter_var_t *dh = dlc_te_reduce_axis(c, "dh", x->kernel->shape[2]), *dw = dlc_te_reduce_axis(c, "dw", x->kernel->shape[3]);
    dlc_expr_t *y = dlc_add(c, dlc_mul(c, i[2], dlc_int(c, x->p.stride_h)), dlc_mul(c, dh->var, dlc_int(c, x->p.dil_h)));
    dlc_expr_t *xx = dlc_add(c, dlc_mul(c, i[3], dlc_int(c, x->p.stride_w)), dlc_mul(c, dw->var, dlc_int(c, x->p.dil_w)));
    dlc_expr_t *a = dlc_read(c, x->dv, (dlc_expr_t *[]){i[0], i[1], y, xx, i[4]});
    dlc_expr_t *b = dlc_read(c, x->kv, (dlc_expr_t *[]){i[1], dlc_int(c, 0), dh->var, dw->var, i[4]});
    return dlc_sum(c, dlc_topi_mul_out(c, x->od, a, b), 2, (dlc_iter_var_t *[]){dh, dw});
}

static dlc_expr_t *out_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dw_t *x = u;
    dlc_expr_t *vc = dlc_int(c, x->VC);
    return dlc_read(c, x->conv, (dlc_expr_t *[]){i[0], dlc_div(c, i[1], vc), i[2], i[3], dlc_mod(c, i[1], vc)});
}

static int inst_dw(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op, dlc_schedule_t **out) {
    const dlc_workload_t *w = &t->w;
    int64_t tc[2], th[2], tw[2], oh, ow;
    int ann[3];
    TRY(dlc__split(cfg, "tile_c", tc, 2));
    TRY(dlc__split(cfg, "tile_h", th, 2));
    TRY(dlc__split(cfg, "tile_w", tw, 2));
    TRY(dlc__ann(cfg, "ann", 3, ann));
    TRY(dlc__out_hw(w, &oh, &ow));
    int64_t N = w->data[0], C = w->data[1], VC = tc[1], lens[3] = {th[1], tw[1], tc[1]};
    if (C % VC) return dlc_error(DLC_EINSTANTIATE, "tile_c %lld does not divide %lld channels", (long long)VC, (long long)C);
    for (int i = 0; i < 3; i++) /* as TVM's apply(max_unroll=16) */
        if (ann[i] == DLC_KNOB_ANN_UNROLL && lens[i] > 16)
            return dlc_error(DLC_EINSTANTIATE, "Too large factor for unrolling (%lld)", (long long)lens[i]);
    memset(op, 0, sizeof *op);
    dw_t x = {.VC = VC, .p = w->conv, .od = w->out_dtype};
    x.data = dlc_te_placeholder(ctx, "data", 4, w->data, w->dtype);
    x.kernel = dlc_te_placeholder(ctx, "kernel", 4, w->kernel, w->dtype);
    int64_t ph = w->data[2] + x.p.pad_top + x.p.pad_bottom, pw = w->data[3] + x.p.pad_left + x.p.pad_right;
    x.dv = dlc_te_compute(ctx, "data_vec", 5, (int64_t[]){N, C / VC, ph, pw, VC}, dv_fn, &x);
    x.kv = dlc_te_compute(ctx, "kernel_vec", 5, (int64_t[]){C / VC, 1, w->kernel[2], w->kernel[3], VC}, kv_fn, &x);
    x.conv = x.dv && x.kv ? dlc_te_compute(ctx, "depthwise_conv2d_vec", 5, (int64_t[]){N, C / VC, oh, ow, VC}, conv_fn, &x) : NULL;
    dlc_tensor_t *O = x.conv ? dlc_te_compute(ctx, "depthwise_conv2d_nchw", 4, (int64_t[]){N, C, oh, ow}, out_fn, &x) : NULL;
    if (!O) return dlc_last_status();
    *op = (dlc_op_t){3, 1, {x.data, x.kernel, O}, O, 2.0 * N * C * oh * ow * w->kernel[2] * w->kernel[3],
                     "depthwise_conv2d_nchw"};
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &O);
    if (!s) return dlc_last_status();
    dlc_stage_t *sc = dlc_sched_stage(s, x.conv), *sd = dlc_sched_stage(s, x.dv), *sk = dlc_sched_stage(s, x.kv);
    dlc_iter_var_t *ho, *hi, *wo, *wi;
    TRY(dlc_stage_split(sc, dlc_stage_axis(sc, 2), th[1], &ho, &hi));
    TRY(dlc_stage_split(sc, dlc_stage_axis(sc, 3), tw[1], &wo, &wi));
    dlc_iter_var_t *vc = dlc_stage_axis(sc, 4);
    TRY(dlc_stage_reorder(sc, 8, (dlc_iter_var_t *[]){dlc_stage_axis(sc, 1), ho, wo, dlc_stage_reduce_axis(sc, 0),
                                                       dlc_stage_reduce_axis(sc, 1), hi, wi, vc}));
    TRY(dlc_stage_compute_at(sd, sc, ho));
    dlc_iter_var_t *ax[3] = {hi, wi, vc};
    for (int i = 0; i < 3; i++) {
        if (ann[i] == DLC_KNOB_ANN_UNROLL) TRY(dlc_stage_unroll(sc, ax[i]));
        else if (ann[i] == DLC_KNOB_ANN_VEC) TRY(dlc_stage_vectorize(sc, ax[i]));
    }
    dlc_stage_t *so = dlc_sched_stage(s, O);
    TRY(dlc_stage_parallel(so, dlc_stage_axis(so, 1)));
    TRY(dlc_stage_parallel(sc, dlc_stage_axis(sc, 1)));
    TRY(dlc_stage_parallel(sk, dlc_stage_axis(sk, 0)));
    *out = s;
    return 0;
}

const dlc_template_t dlc__tmpl_depthwise_arm = {
    "depthwise_conv2d_nchw.arm_cpu", "arm_cpu", DLC_OPK_DEPTHWISE_CONV2D, parse_dw, dw_args, space_dw, inst_dw,
};
