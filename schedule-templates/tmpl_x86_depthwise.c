/* tmpl_x86_depthwise.c — depthwise_conv2d_NCHWc.x86 (topi/x86/
 * depthwise_conv2d.py). As during TVM's tuning, data and kernel come packed:
 * data [N, C/ic, H, W, ic], kernel [C/oc, 1, R, S, 1, oc]; the output is
 * NCHW[oc]c. Args are the NCHW ones of the strategy:
 * [data, kernel, strides, padding, dilation, layout, out_layout, out_dtype]. */
#include <string.h>
#include "templates_impl.h"

static int parse_dw(const json_t *args, dlc_workload_t *w) { return dlc__parse_conv_nchw(args, 1, 7, w); }

static json_t *dw_args(const dlc_op_spec_t *s) {
    json_t *a = s->kind == DLC_OPK_DEPTHWISE_CONV2D ? dlc__conv_nchw_args(s) : NULL;
    if (!a) return NULL;
    /* [data, kernel, strides, padding, dilation, dtype] → ..., "NCHW", "NCHW", dtype */
    json_array_insert_new(a, 5, json_string("NCHW"));
    json_array_insert_new(a, 5, json_string("NCHW"));
    return a;
}

static int inner_le_64(const int64_t *size, int n, void *user) {
    (void)user;
    return size[n - 1] <= 64;
}

/* tile_ic, tile_oc (channels), tile_ow (inner <= 64), unroll_kw [True, False] */
static int space_dw(const dlc_task_t *t, dlc_space_t *sp) {
    const dlc_workload_t *w = &t->w;
    int64_t oh, ow;
    TRY(dlc__out_hw(w, &oh, &ow));
    TRY(dlc_space_define_split(sp, "tile_ic", w->data[1], DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    TRY(dlc_space_define_split(sp, "tile_oc", w->kernel[0] * w->kernel[1], DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    TRY(dlc_space_define_split(sp, "tile_ow", ow, DLC_SPLIT_FACTORS, 2, 0, inner_le_64, NULL));
    static const int tf[] = {1, 0};
    return dlc_space_define_knob_bool(sp, "unroll_kw", tf, 2);
}

typedef struct {
    dlc_tensor_t *pad, *kernel;
    int64_t icb, ocb;
    dlc_conv_params_t p;
    dlc_dtype_t od; /* out_dtype */
} dwc_t;

/* out[b, oco, oh, ow, oci] = Σ pad[b, c / ic, oh*sh + kh*dh, ow*sw + kw*dw, c % ic] · kernel[oco, 0, kh, kw, 0, oci],
 * c = oco*oc + oci */
static dlc_expr_t *dwc_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dwc_t *x = u;
    dlc_iter_var_t *kh = dlc_te_reduce_axis(c, "kh", x->kernel->shape[2]), *kw = dlc_te_reduce_axis(c, "kw", x->kernel->shape[3]);
    dlc_expr_t *ch = dlc_add(c, dlc_mul(c, i[1], dlc_int(c, x->ocb)), i[4]), *icb = dlc_int(c, x->icb);
    dlc_expr_t *y = dlc_add(c, dlc_mul(c, i[2], dlc_int(c, x->p.stride_h)), dlc_mul(c, kh->var, dlc_int(c, x->p.dil_h)));
    dlc_expr_t *xx = dlc_add(c, dlc_mul(c, i[3], dlc_int(c, x->p.stride_w)), dlc_mul(c, kw->var, dlc_int(c, x->p.dil_w)));
    dlc_expr_t *a = dlc_read(c, x->pad, (dlc_expr_t *[]){i[0], dlc_div(c, ch, icb), y, xx, dlc_mod(c, ch, icb)});
    dlc_expr_t *b = dlc_read(c, x->kernel, (dlc_expr_t *[]){i[1], dlc_int(c, 0), kh->var, kw->var, dlc_int(c, 0), i[4]});
    return dlc_sum(c, dlc_topi_mul_out(c, x->od, a, b), 2, (dlc_iter_var_t *[]){kh, kw});
}

static int inst_dw(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op, dlc_schedule_t **out) {
    const dlc_workload_t *w = &t->w;
    int64_t ic[2], oc[2], owt[2], oh, ow;
    int unroll_kw;
    TRY(dlc__split(cfg, "tile_ic", ic, 2));
    TRY(dlc__split(cfg, "tile_oc", oc, 2));
    TRY(dlc__split(cfg, "tile_ow", owt, 2));
    if (dlc_config_knob_bool(cfg, "unroll_kw", &unroll_kw) < 0) return dlc_error(DLC_EINSTANTIATE, "no unroll_kw");
    TRY(dlc__out_hw(w, &oh, &ow));
    int64_t N = w->data[0], C = w->data[1], icb = ic[1], ocb = oc[1], reg_n = owt[1];
    if (C % icb || C % ocb)
        return dlc_error(DLC_EINSTANTIATE, "tile_ic %lld / tile_oc %lld do not divide %lld channels", (long long)icb,
                         (long long)ocb, (long long)C);
    memset(op, 0, sizeof *op);
    dlc_tensor_t *data = dlc_te_placeholder(ctx, "data", 5, (int64_t[]){N, C / icb, w->data[2], w->data[3], icb}, w->dtype);
    dwc_t x = {.icb = icb, .ocb = ocb, .p = w->conv, .od = w->out_dtype};
    x.kernel = dlc_te_placeholder(ctx, "kernel", 6, (int64_t[]){C / ocb, 1, w->kernel[2], w->kernel[3], 1, ocb}, w->dtype);
    x.pad = dlc_topi_pad2d4(ctx, data, 2, x.p.pad_top, x.p.pad_left, x.p.pad_bottom, x.p.pad_right, NULL);
    dlc_tensor_t *C5 = x.pad ? dlc_te_compute(ctx, "DepthwiseConv2d", 5, (int64_t[]){N, C / ocb, oh, ow, ocb}, dwc_fn, &x) : NULL;
    if (!C5) return dlc_last_status();
    *op = (dlc_op_t){3, 1, {data, x.kernel, C5}, C5, 2.0 * N * C * oh * ow * w->kernel[2] * w->kernel[3],
                     "depthwise_conv2d_NCHWc"};
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &C5);
    if (!s) return dlc_last_status();
    dlc_stage_t *sp = dlc_sched_stage(s, x.pad);
    if (sp) { /* pad: ic_block vectorised, (batch, ic_chunk, ih) fused and parallel */
        dlc_iter_var_t *f, *g;
        TRY(dlc_stage_vectorize(sp, dlc_stage_axis(sp, 4)));
        TRY(dlc_stage_fuse(sp, dlc_stage_axis(sp, 0), dlc_stage_axis(sp, 1), &f));
        TRY(dlc_stage_fuse(sp, f, dlc_stage_axis(sp, 2), &g));
        TRY(dlc_stage_parallel(sp, g));
    }
    dlc_tensor_t *CCt = dlc_sched_cache_write(s, C5, DLC_SCOPE_GLOBAL);
    if (!CCt) return dlc_last_status();
    dlc_stage_t *sc = dlc_sched_stage(s, C5), *cc = dlc_sched_stage(s, CCt);
    dlc_iter_var_t *owc, *owb, *par;
    TRY(dlc_stage_split(sc, dlc_stage_axis(sc, 3), reg_n, &owc, &owb));
    TRY(dlc_stage_reorder(sc, 5, (dlc_iter_var_t *[]){dlc_stage_axis(sc, 1), dlc_stage_axis(sc, 2), owc, owb,
                                                       dlc_stage_axis(sc, 4)}));
    TRY(dlc_stage_vectorize(sc, dlc_stage_axis(sc, 4)));
    TRY(dlc_stage_fuse(sc, dlc_stage_axis(sc, 1), dlc_stage_axis(sc, 2), &par));
    TRY(dlc_stage_parallel(sc, par));
    TRY(dlc_stage_compute_at(cc, sc, owc));
    /* the cache's ow is C's ow_block */
    dlc_iter_var_t *kh = dlc_stage_reduce_axis(cc, 0), *kw = dlc_stage_reduce_axis(cc, 1), *cow = dlc_stage_axis(cc, 3),
                   *cb = dlc_stage_axis(cc, 4);
    TRY(dlc_stage_reorder(cc, 6, (dlc_iter_var_t *[]){dlc_stage_axis(cc, 1), dlc_stage_axis(cc, 2), kh, kw, cow, cb}));
    if (unroll_kw) TRY(dlc_stage_unroll(cc, kw));
    TRY(dlc_stage_vectorize(cc, cb));
    TRY(dlc_stage_unroll(cc, cow));
    *out = s;
    return 0;
}

const dlc_template_t dlc__tmpl_depthwise_NCHWc_x86 = {
    "depthwise_conv2d_NCHWc.x86", "x86", DLC_OPK_DEPTHWISE_CONV2D, parse_dw, dw_args, space_dw, inst_dw,
};
