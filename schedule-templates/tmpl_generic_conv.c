/* tmpl_generic_conv.c — generic CPU templates (key "cpu") for the
 * convolutions: conv2d_nchw.generic, depthwise_conv2d_nchw.generic,
 * conv2d_transpose_nchw.generic and conv2d_NCHWc.generic. dlc's own small
 * spaces, not TVM's: tile_co, the output channels (conv2d_NCHWc: channel
 * chunks) split (power2, inner <= 16, tails allowed), tile_ow, the output
 * width split for the vector loop (power2, inner <= 64, tails), and
 * unroll_kw, whether the kernel's width loop is unrolled. Schedule: padding
 * inlined, loops (n·co_outer parallel, oh, ow_outer, reductions, co_inner
 * unrolled, ow_inner vectorised); conv2d_NCHWc keeps its oc block innermost
 * and vectorised, ow_inner unrolled.
 * Args: TVM's formats (conv2d/depthwise as arm_cpu's six, transpose as
 * conv2d_transpose's, conv2d_NCHWc as x86's with packed tensors). */
#include <stdio.h>
#include <string.h>
#include "templates_impl.h"

static int parse_conv(const json_t *args, dlc_workload_t *w) { return dlc__parse_conv_nchw(args, 0, 5, w); }
static int parse_dw(const json_t *args, dlc_workload_t *w) { return dlc__parse_conv_nchw(args, 1, 5, w); }
static json_t *conv_args(const dlc_op_spec_t *s) { return s->kind == DLC_OPK_CONV2D ? dlc__conv_nchw_args(s) : NULL; }
static json_t *dw_args(const dlc_op_spec_t *s) {
    return s->kind == DLC_OPK_DEPTHWISE_CONV2D ? dlc__conv_nchw_args(s) : NULL;
}

/* ---- conv2d_NCHWc: [data [N, C/ic, H, W, ic], kernel [K/oc, C/ic, R, S, ic, oc], strides, padding, dilation,
 *      layout, out_layout, out_dtype] ---- */
static int parse_nchwc(const json_t *args, dlc_workload_t *w) {
    TRY(dlc__parse_conv_args(args, 2, 3, 4, w));
    if (w->data_ndim != 5 || w->kernel_ndim != 6 || w->kernel[1] != w->data[1] || w->kernel[4] != w->data[4])
        return dlc_error(DLC_EINVAL, "expected data [N, C/ic, H, W, ic] and kernel [K/oc, C/ic, R, S, ic, oc]");
    const json_t *od = json_array_get(args, 7);
    if (json_is_string(od) && dlc_dtype_parse(json_string_value(od), &w->out_dtype) < 0)
        return dlc_error(DLC_EINVAL, "out_dtype: %s", dlc_last_error());
    int64_t oh, ow;
    return dlc__out_hw(w, &oh, &ow);
}

static json_t *nchwc_args(const dlc_op_spec_t *s) {
    if (s->kind != DLC_OPK_CONV2D_NCHWC) return NULL;
    const int64_t *p = s->p;
    int64_t icb = p[9], ocb = p[10];
    char lin[32], lout[32];
    snprintf(lin, sizeof lin, "NCHW%lldc", (long long)icb);
    snprintf(lout, sizeof lout, "NCHW%lldc", (long long)ocb);
    return json_pack("[o, o, [I, I], [I, I, I, I], [I, I], s, s, s]",
                     dlc__tensor_json((int64_t[]){p[0], p[1] / icb, p[2], p[3], icb}, 5, s->dtype),
                     dlc__tensor_json((int64_t[]){p[4] / ocb, p[1] / icb, p[5], p[6], icb, ocb}, 6, s->dtype), p[7], p[7],
                     p[8], p[8], p[8], p[8], 1, 1, lin, lout, dlc_dtype_name(s->out_dtype));
}

static int le64(const int64_t *size, int n, void *user) {
    (void)user;
    return size[n - 1] <= 64;
}

static int64_t out_channels(const dlc_workload_t *w) {
    switch (w->op) {
    case DLC_OPK_CONV2D_TRANSPOSE: return w->kernel[1];
    case DLC_OPK_DEPTHWISE_CONV2D: return w->data[1];
    case DLC_OPK_CONV2D_NCHWC: return w->kernel[0]; /* oc chunks */
    default: return w->kernel[0];
    }
}

static int space_generic(const dlc_task_t *t, dlc_space_t *sp) {
    int64_t oh, ow;
    TRY(dlc__out_hw(&t->w, &oh, &ow));
    TRY(dlc_space_define_split(sp, "tile_co", out_channels(&t->w), DLC_SPLIT_POWER2, 2, 16, NULL, NULL));
    TRY(dlc_space_define_split(sp, "tile_ow", ow, DLC_SPLIT_POWER2, 2, 0, le64, NULL));
    static const int tf[] = {1, 0};
    return dlc_space_define_knob_bool(sp, "unroll_kw", tf, 2);
}

/* the compute as dlc's topi defines it, inputs as the workload gives them */
static dlc_tensor_t *build(const dlc_workload_t *w, dlc_ctx_t *ctx, dlc_tensor_t **data, dlc_tensor_t **kernel) {
    *data = dlc_te_placeholder(ctx, "data", w->data_ndim, w->data, w->dtype);
    *kernel = dlc_te_placeholder(ctx, "kernel", w->kernel_ndim, w->kernel, w->dtype);
    dlc_dtype_t od = w->out_dtype;
    switch (w->op) {
    case DLC_OPK_CONV2D: return dlc_topi_conv2d(ctx, *data, *kernel, &w->conv, od);
    case DLC_OPK_DEPTHWISE_CONV2D: return dlc_topi_depthwise_conv2d(ctx, *data, *kernel, &w->conv, od);
    case DLC_OPK_CONV2D_TRANSPOSE:
        return dlc_topi_conv2d_transpose(ctx, *data, *kernel, &w->conv, w->output_padding, od);
    case DLC_OPK_CONV2D_NCHWC: return dlc_topi_conv2d_NCHWc(ctx, *data, *kernel, &w->conv, od);
    default: dlc_error(DLC_EINVAL, "not a convolution"); return NULL;
    }
}

static int inst_generic(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op,
                        dlc_schedule_t **out) {
    const dlc_workload_t *w = &t->w;
    int nchwc = w->op == DLC_OPK_CONV2D_NCHWC;
    int64_t tco[2], tow[2];
    int unroll_kw;
    TRY(dlc__split(cfg, "tile_co", tco, 2));
    TRY(dlc__split(cfg, "tile_ow", tow, 2));
    if (dlc_config_knob_bool(cfg, "unroll_kw", &unroll_kw) < 0) return dlc_error(DLC_EINSTANTIATE, "no unroll_kw");
    memset(op, 0, sizeof *op);
    dlc_tensor_t *data, *kernel, *C = build(w, ctx, &data, &kernel);
    if (!C) return dlc_last_status();
    /* multiply-adds per output element: input channels × kernel */
    int64_t cin = w->op == DLC_OPK_DEPTHWISE_CONV2D ? 1
                  : w->op == DLC_OPK_CONV2D_TRANSPOSE ? w->kernel[0]
                  : nchwc ? w->data[1] * w->data[4] : w->data[1];
    *op = (dlc_op_t){3, 1, {data, kernel, C}, C, 2.0 * (double)dlc_tensor_size(C) * cin * w->kernel[2] * w->kernel[3],
                     C->name};
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &C);
    if (!s) return dlc_last_status();
    for (int i = 0; i < dlc_sched_num_stages(s); i++) {
        dlc_stage_t *st = dlc_sched_stage_at(s, i);
        const char *tag = dlc_stage_tensor(st)->tag;
        if (dlc_stage_tensor(st) != C && tag && strstr(tag, "pad")) TRY(dlc_stage_compute_inline(st));
    }
    dlc_stage_t *sc = dlc_sched_stage(s, C);
    dlc_iter_var_t *coo, *coi, *owo, *owi, *par, *order[10];
    int nr = dlc_stage_num_reduce_axes(sc), n = 0;
    TRY(dlc_stage_split(sc, dlc_stage_axis(sc, 1), tco[1], &coo, &coi));
    TRY(dlc_stage_split(sc, dlc_stage_axis(sc, 3), tow[1], &owo, &owi));
    order[n++] = dlc_stage_axis(sc, 0);
    order[n++] = coo;
    order[n++] = dlc_stage_axis(sc, 2);
    order[n++] = owo;
    for (int r = 0; r < nr; r++) order[n++] = dlc_stage_reduce_axis(sc, r);
    order[n++] = coi;
    order[n++] = owi;
    if (nchwc) order[n++] = dlc_stage_axis(sc, 4);
    TRY(dlc_stage_reorder(sc, n, order));
    if (unroll_kw) TRY(dlc_stage_unroll(sc, dlc_stage_reduce_axis(sc, nr - 1)));
    TRY(dlc_stage_unroll(sc, coi));
    if (nchwc) {
        TRY(dlc_stage_unroll(sc, owi));
        TRY(dlc_stage_vectorize(sc, dlc_stage_axis(sc, 4)));
    } else {
        TRY(dlc_stage_vectorize(sc, owi));
    }
    TRY(dlc_stage_fuse(sc, dlc_stage_axis(sc, 0), coo, &par));
    TRY(dlc_stage_parallel(sc, par));
    *out = s;
    return 0;
}

const dlc_template_t dlc__tmpl_conv2d_generic = {
    "conv2d_nchw.generic", "cpu", DLC_OPK_CONV2D, parse_conv, conv_args, space_generic, inst_generic,
};
const dlc_template_t dlc__tmpl_depthwise_generic = {
    "depthwise_conv2d_nchw.generic", "cpu", DLC_OPK_DEPTHWISE_CONV2D, parse_dw, dw_args, space_generic, inst_generic,
};
const dlc_template_t dlc__tmpl_conv2d_transpose_generic = {
    "conv2d_transpose_nchw.generic", "cpu", DLC_OPK_CONV2D_TRANSPOSE, dlc__parse_conv_transpose,
    dlc__conv_transpose_args, space_generic, inst_generic,
};
const dlc_template_t dlc__tmpl_conv2d_nchwc_generic = {
    "conv2d_NCHWc.generic", "cpu", DLC_OPK_CONV2D_NCHWC, parse_nchwc, nchwc_args, space_generic, inst_generic,
};
