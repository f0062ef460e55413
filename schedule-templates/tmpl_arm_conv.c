/* tmpl_arm_conv.c — conv2d_nchw_spatial_pack.arm_cpu and
 * conv2d_transpose_nchw.arm_cpu: TVM's ARM spatial-pack convolution
 * (topi/arm_cpu/conv2d_spatial_pack.py, conv2d_transpose.py). Data is packed
 * into output tiles (data_vec), the kernel into VC-wide output-channel blocks
 * (kernel_vec), the convolution computed per tile (conv) and unpacked to NCHW.
 * As during TVM's tuning, conv2d takes its kernel pre-packed
 * [K/VC, C, R, S, VC]; conv2d_transpose packs its IOHW kernel itself. */
#include <string.h>
#include "templates_impl.h"

/* ---- args ---- */
static int parse_spatial(const json_t *args, dlc_workload_t *w) { return dlc__parse_conv_nchw(args, 0, 5, w); }
static json_t *spatial_args(const dlc_op_spec_t *s) { return s->kind == DLC_OPK_CONV2D ? dlc__conv_nchw_args(s) : NULL; }

/* output channels of the workload (conv2d: kernel OIHW, transpose: IOHW) */
static int64_t out_channels(const dlc_workload_t *w) {
    return w->op == DLC_OPK_CONV2D_TRANSPOSE ? w->kernel[1] : w->kernel[0];
}

/* tile_co, tile_oh, tile_ow (num_tile 2), reorder_0 of [n, co, oh, ow, ci, kh,
 * kw, vh, vw, vc] with vc optionally before vh, vw, ann_reduce over [kh, kw],
 * ann_spatial over [vh, vw, vc] */
static int space_spatial(const dlc_task_t *t, dlc_space_t *sp) {
    int64_t oh, ow;
    TRY(dlc__out_hw(&t->w, &oh, &ow));
    TRY(dlc_space_define_split(sp, "tile_co", out_channels(&t->w), DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    TRY(dlc_space_define_split(sp, "tile_oh", oh, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    TRY(dlc_space_define_split(sp, "tile_ow", ow, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    static const int cand[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 9, 7, 8};
    TRY(dlc_space_define_reorder_candidates(sp, "reorder_0", 10, cand, 2));
    TRY(dlc_space_define_annotate(sp, "ann_reduce", 2, "try_unroll", 0));
    return dlc_space_define_annotate(sp, "ann_spatial", 3, "try_unroll_vec", 0);
}

/* ---- compute ---- */
typedef struct {
    dlc_tensor_t *src, *dv, *kv;
    int64_t VH, VW, VC, sh, sw, dh, dw, pt, pl, KH, KW;
    int dilated, transpose;
    dlc_dtype_t od; /* out_dtype */
} sp_t;


static dlc_expr_t *mad(dlc_ctx_t *c, dlc_expr_t *a, int64_t k, dlc_expr_t *b) {
    return dlc_add(c, dlc_mul(c, a, dlc_int(c, k)), b);
}

/* conv2d: [N, OH/VH, OW/VW, C, VH*sh+KH-1, VW*sw+KW-1] (dilated: [N, OH/VH,
 * OW/VW, C, KH, KW, VH, VW]); transpose: [N, OH/VH, OW/VW, C, VH+KH-1,
 * VW+KW-1] of the dilated, padded input */
static dlc_expr_t *data_vec_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    sp_t *x = u;
    if (x->transpose)
        return dlc_read4(c, x->src, i[0], i[3], mad(c, i[1], x->VH, i[4]), mad(c, i[2], x->VW, i[5]));
    dlc_expr_t *y, *xx;
    if (x->dilated) {
        y = dlc_add(c, dlc_mul(c, mad(c, i[1], x->VH, i[6]), dlc_int(c, x->sh)), dlc_mul(c, i[4], dlc_int(c, x->dh)));
        xx = dlc_add(c, dlc_mul(c, mad(c, i[2], x->VW, i[7]), dlc_int(c, x->sw)), dlc_mul(c, i[5], dlc_int(c, x->dw)));
    } else {
        y = mad(c, i[1], x->VH * x->sh, i[4]);
        xx = mad(c, i[2], x->VW * x->sw, i[5]);
    }
    return dlc__read4_guarded(c, x->src, i[0], i[3], dlc_sub(c, y, dlc_int(c, x->pt)), dlc_sub(c, xx, dlc_int(c, x->pl)));
}

/* kernel_vec_conv2d_transpose [K/VC, C, R, S, VC] = kernel[c][co*VC + vc][r][s] */
static dlc_expr_t *kernel_vec_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    sp_t *x = u;
    return dlc_read4(c, x->src, i[1], mad(c, i[0], x->VC, i[4]), i[2], i[3]);
}

/* conv [N, K/VC, OH/VH, OW/VW, VH, VW, VC], reduced over ci, kh, kw */
static dlc_expr_t *conv_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    sp_t *x = u;
    dlc_iter_var_t *ci = dlc_te_reduce_axis(c, "ci", x->kv->shape[1]);
    dlc_iter_var_t *kh = dlc_te_reduce_axis(c, "kh", x->KH), *kw = dlc_te_reduce_axis(c, "kw", x->KW);
    dlc_expr_t *d, *k;
    if (x->dilated) {
        d = dlc_read(c, x->dv, (dlc_expr_t *[]){i[0], i[2], i[3], ci->var, kh->var, kw->var, i[4], i[5]});
    } else {
        int64_t sh = x->transpose ? 1 : x->sh, sw = x->transpose ? 1 : x->sw;
        d = dlc_read(c, x->dv, (dlc_expr_t *[]){i[0], i[2], i[3], ci->var, mad(c, i[4], sh, kh->var), mad(c, i[5], sw, kw->var)});
    }
    if (x->transpose)
        k = dlc_read(c, x->kv, (dlc_expr_t *[]){i[1], ci->var, dlc_sub(c, dlc_int(c, x->KH - 1), kh->var),
                                                dlc_sub(c, dlc_int(c, x->KW - 1), kw->var), i[6]});
    else
        k = dlc_read(c, x->kv, (dlc_expr_t *[]){i[1], ci->var, kh->var, kw->var, i[6]});
    return dlc_sum(c, dlc_topi_mul_out(c, x->od, d, k), 3, (dlc_iter_var_t *[]){ci, kh, kw});
}

typedef struct {
    dlc_tensor_t *conv;
    int64_t VH, VW, VC;
} unpack_t;

static dlc_expr_t *unpack_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    unpack_t *x = u;
    dlc_expr_t *vh = dlc_int(c, x->VH), *vw = dlc_int(c, x->VW), *vc = dlc_int(c, x->VC);
    return dlc_read(c, x->conv, (dlc_expr_t *[]){i[0], dlc_div(c, i[1], vc), dlc_div(c, i[2], vh), dlc_div(c, i[3], vw),
                                                 dlc_mod(c, i[2], vh), dlc_mod(c, i[3], vw), dlc_mod(c, i[1], vc)});
}

/* ---- schedule (schedule_conv2d_spatial_pack_nchw) ---- */
static int apply_ann(dlc_stage_t *st, const int *anns, int n, dlc_iter_var_t *const *axes) {
    for (int i = 0; i < n; i++) {
        if (anns[i] == DLC_KNOB_ANN_UNROLL) TRY(dlc_stage_unroll(st, axes[i]));
        else if (anns[i] == DLC_KNOB_ANN_VEC) TRY(dlc_stage_vectorize(st, axes[i]));
        else if (anns[i] != DLC_KNOB_ANN_NONE) return dlc_error(DLC_EINSTANTIATE, "annotation %s on a CPU", dlc_knob_ann_name(anns[i]));
    }
    return 0;
}

static int schedule_spatial(dlc_schedule_t *s, const dlc_config_t *cfg, const sp_t *x, dlc_tensor_t *conv,
                            dlc_tensor_t *out) {
    int reorder_n = 0, ann_r[2], ann_s[3];
    const int *perm = dlc_config_reorder(cfg, "reorder_0", &reorder_n);
    if (!perm || reorder_n != 10) return dlc_error(DLC_EINSTANTIATE, "config has no 10-axis reorder 'reorder_0'");
    TRY(dlc__ann(cfg, "ann_reduce", 2, ann_r));
    TRY(dlc__ann(cfg, "ann_spatial", 3, ann_s));
    /* the dilated, padded input of conv2d_transpose is inlined into data_vec */
    for (int i = 0; i < dlc_sched_num_stages(s); i++) {
        dlc_stage_t *st = dlc_sched_stage_at(s, i);
        const char *tag = dlc_stage_tensor(st)->tag;
        if (tag && strstr(tag, "pad")) TRY(dlc_stage_compute_inline(st));
    }
    dlc_stage_t *sc = dlc_sched_stage(s, conv);
    dlc_iter_var_t *ax[10];
    for (int i = 0; i < 7; i++) ax[i < 4 ? i : i + 3] = dlc_stage_axis(sc, i);
    for (int i = 0; i < 3; i++) ax[4 + i] = dlc_stage_reduce_axis(sc, i);
    dlc_iter_var_t *order[10];
    for (int i = 0; i < 10; i++) order[i] = ax[perm[i]];
    TRY(dlc_stage_reorder(sc, 10, order));
    TRY(apply_ann(sc, ann_r, 2, (dlc_iter_var_t *[]){ax[5], ax[6]}));
    TRY(apply_ann(sc, ann_s, 3, (dlc_iter_var_t *[]){ax[7], ax[8], ax[9]}));
    dlc_stage_t *so = dlc_sched_stage(s, out);
    dlc_iter_var_t *co, *vc, *oh, *vh, *ow, *vw;
    TRY(dlc_stage_split(so, dlc_stage_axis(so, 1), x->VC, &co, &vc));
    TRY(dlc_stage_split(so, dlc_stage_axis(so, 2), x->VH, &oh, &vh));
    TRY(dlc_stage_split(so, dlc_stage_axis(so, 3), x->VW, &ow, &vw));
    TRY(dlc_stage_reorder(so, 7, (dlc_iter_var_t *[]){dlc_stage_axis(so, 0), co, oh, ow, vh, vw, vc}));
    TRY(dlc_stage_compute_at(sc, so, ow));
    TRY(dlc_stage_parallel(so, co));
    dlc_stage_t *sd = dlc_sched_stage(s, x->dv);
    TRY(dlc_stage_parallel(sd, dlc_stage_axis(sd, 1)));
    dlc_stage_t *sk = dlc_sched_stage(s, x->kv); /* NULL for a pre-packed kernel */
    if (sk) TRY(dlc_stage_parallel(sk, dlc_stage_axis(sk, 0)));
    return 0;
}

static int inst_spatial(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op,
                        dlc_schedule_t **out) {
    const dlc_workload_t *w = &t->w;
    const dlc_conv_params_t *p = &w->conv;
    int transpose = w->op == DLC_OPK_CONV2D_TRANSPOSE;
    int64_t co[2], th[2], tw[2], oh, ow;
    TRY(dlc__split(cfg, "tile_co", co, 2));
    TRY(dlc__split(cfg, "tile_oh", th, 2));
    TRY(dlc__split(cfg, "tile_ow", tw, 2));
    TRY(dlc__out_hw(w, &oh, &ow));
    int64_t N = w->data[0], CI = w->data[1], CO = out_channels(w), KH = w->kernel[2], KW = w->kernel[3];
    int64_t VC = co[1], VH = th[1], VW = tw[1];
    if (CO % VC || oh % VH || ow % VW)
        return dlc_error(DLC_EINSTANTIATE, "tiles %lld, %lld, %lld do not divide the output", (long long)VC,
                         (long long)VH, (long long)VW);
    memset(op, 0, sizeof *op);
    sp_t x = {.VH = VH, .VW = VW, .VC = VC, .sh = p->stride_h, .sw = p->stride_w, .dh = p->dil_h, .dw = p->dil_w,
              .pt = p->pad_top, .pl = p->pad_left, .KH = KH, .KW = KW, .transpose = transpose, .od = w->out_dtype};
    x.dilated = !transpose && (p->dil_h != 1 || p->dil_w != 1);
    dlc_tensor_t *data = dlc_te_placeholder(ctx, "data", 4, w->data, w->dtype), *kernel;
    if (transpose) {
        kernel = dlc_te_placeholder(ctx, "kernel", 4, w->kernel, w->dtype);
        x.src = kernel;
        x.kv = dlc_te_compute(ctx, "kernel_vec_conv2d_transpose", 5, (int64_t[]){CO / VC, CI, KH, KW, VC},
                              kernel_vec_fn, &x);
        x.src = dlc_topi_conv2d_transpose_pad(ctx, data, KH, KW, p, w->output_padding);
        if (!x.kv || !x.src) return dlc_last_status();
    } else {
        kernel = x.kv = dlc_te_placeholder(ctx, "kernel_vec", 5, (int64_t[]){CO / VC, CI, KH, KW, VC}, w->dtype);
        x.src = data;
    }
    int64_t gh = oh / VH, gw = ow / VW;
    if (x.dilated)
        x.dv = dlc_te_compute(ctx, "data_vec_undilated", 8, (int64_t[]){N, gh, gw, CI, KH, KW, VH, VW}, data_vec_fn, &x);
    else if (transpose)
        x.dv = dlc_te_compute(ctx, "data_vec", 6, (int64_t[]){N, gh, gw, CI, VH + KH - 1, VW + KW - 1}, data_vec_fn, &x);
    else
        x.dv = dlc_te_compute(ctx, "data_vec", 6,
                              (int64_t[]){N, gh, gw, CI, VH * x.sh + KH - 1, VW * x.sw + KW - 1}, data_vec_fn, &x);
    dlc_tensor_t *conv = x.dv ? dlc_te_compute(ctx, "conv", 7, (int64_t[]){N, CO / VC, gh, gw, VH, VW, VC}, conv_fn, &x) : NULL;
    unpack_t u = {conv, VH, VW, VC};
    dlc_tensor_t *O = conv ? dlc_te_compute(ctx, "output_unpack", 4, (int64_t[]){N, CO, oh, ow}, unpack_fn, &u) : NULL;
    if (!O) return dlc_last_status();
    O->tag = "spatial_conv2d_output";
    *op = (dlc_op_t){3, 1, {data, kernel, O}, O, 2.0 * N * CO * oh * ow * CI * KH * KW,
                     transpose ? "conv2d_transpose_nchw_spatial_pack" : "conv2d_nchw_spatial_pack"};
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &O);
    if (!s) return dlc_last_status();
    TRY(schedule_spatial(s, cfg, &x, conv, O));
    *out = s;
    return 0;
}

/* ---- conv2d_transpose: args [data, kernel, strides, padding, out_dtype, output_padding] ---- */
static int parse_transpose(const json_t *args, dlc_workload_t *w) { return dlc__parse_conv_transpose(args, w); }

const dlc_template_t dlc__tmpl_spatial_pack_arm = {
    "conv2d_nchw_spatial_pack.arm_cpu", "arm_cpu", DLC_OPK_CONV2D, parse_spatial, spatial_args, space_spatial,
    inst_spatial,
};
const dlc_template_t dlc__tmpl_conv2d_transpose_arm = {
    "conv2d_transpose_nchw.arm_cpu", "arm_cpu", DLC_OPK_CONV2D_TRANSPOSE, parse_transpose, dlc__conv_transpose_args,
    space_spatial, inst_spatial,
};
