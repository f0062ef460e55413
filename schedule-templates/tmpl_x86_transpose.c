/* tmpl_x86_transpose.c — conv2d_transpose_nchw.x86 (topi/x86/
 * conv2d_transpose.py): the input dilated and padded, the kernel flipped to
 * OIHW, then TVM's x86 conv2d_nchw, i.e. conv2d_NCHWc with data and kernel
 * packed in the graph (data_vec, kernel_vec) and the result unpacked to NCHW.
 * Its knobs are conv2d_NCHWc.x86's over that stride-1 convolution; TVM itself
 * logs such a task under the name conv2d_NCHWc.x86 with the transformed args,
 * dlc keeps the strategy's name and the transpose's args
 * [data, kernel [C, K, R, S], strides, padding, out_dtype, output_padding]. */
#include <string.h>
#include "templates_impl.h"

static int space_t(const dlc_task_t *t, dlc_space_t *sp) {
    const dlc_workload_t *w = &t->w;
    int64_t oh, ow;
    TRY(dlc__out_hw(w, &oh, &ow));
    return dlc__space_conv_nchwc(sp, w->data[1], w->kernel[1], oh, ow, w->kernel[2], w->kernel[3]);
}

typedef struct {
    dlc_tensor_t *src;
    int64_t icb, ocb, R, S;
} tp_t;

/* data_vec [N, C/ic, PH, PW, ic] of the dilated, padded input */
static dlc_expr_t *dvec_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    tp_t *x = u;
    return dlc_read4(c, x->src, i[0], dlc_add(c, dlc_mul(c, i[1], dlc_int(c, x->icb)), i[4]), i[2], i[3]);
}

/* kernel_vec [K/oc, C/ic, R, S, ic, oc] = kernel[ic][oc][R-1-r][S-1-s] (flipped, IOHW → OIHW) */
static dlc_expr_t *kvec_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    tp_t *x = u;
    dlc_expr_t *ci = dlc_add(c, dlc_mul(c, i[1], dlc_int(c, x->icb)), i[4]);
    dlc_expr_t *co = dlc_add(c, dlc_mul(c, i[0], dlc_int(c, x->ocb)), i[5]);
    return dlc_read4(c, x->src, ci, co, dlc_sub(c, dlc_int(c, x->R - 1), i[2]), dlc_sub(c, dlc_int(c, x->S - 1), i[3]));
}

/* unpack_NCHWc_to_nchw */
static dlc_expr_t *unpack_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    tp_t *x = u;
    dlc_expr_t *ocb = dlc_int(c, x->ocb);
    return dlc_read(c, x->src, (dlc_expr_t *[]){i[0], dlc_div(c, i[1], ocb), i[2], i[3], dlc_mod(c, i[1], ocb)});
}

static int inst_t(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op, dlc_schedule_t **out) {
    const dlc_workload_t *w = &t->w;
    int64_t ic[2], oc[2], oh, ow;
    TRY(dlc__split(cfg, "tile_ic", ic, 2));
    TRY(dlc__split(cfg, "tile_oc", oc, 2));
    TRY(dlc__out_hw(w, &oh, &ow));
    int64_t N = w->data[0], CI = w->data[1], CO = w->kernel[1], R = w->kernel[2], S = w->kernel[3];
    tp_t x = {.icb = ic[1], .ocb = oc[1], .R = R, .S = S};
    if (CI % x.icb || CO % x.ocb)
        return dlc_error(DLC_EINSTANTIATE, "tile_ic %lld / tile_oc %lld do not divide the channels", (long long)x.icb,
                         (long long)x.ocb);
    memset(op, 0, sizeof *op);
    dlc_tensor_t *data = dlc_te_placeholder(ctx, "data", 4, w->data, w->dtype);
    dlc_tensor_t *kernel = dlc_te_placeholder(ctx, "kernel", 4, w->kernel, w->dtype);
    dlc_tensor_t *dp = dlc_topi_conv2d_transpose_pad(ctx, data, R, S, &w->conv, w->output_padding);
    if (!dp) return dlc_last_status();
    x.src = dp;
    dlc_tensor_t *dv = dlc_te_compute(ctx, "data_vec", 5, (int64_t[]){N, CI / x.icb, dp->shape[2], dp->shape[3], x.icb},
                                      dvec_fn, &x);
    x.src = kernel;
    dlc_tensor_t *kv = dlc_te_compute(ctx, "kernel_vec", 6, (int64_t[]){CO / x.ocb, CI / x.icb, R, S, x.icb, x.ocb},
                                      kvec_fn, &x);
    if (!dv || !kv) return dlc_last_status();
    dlc_conv_params_t unit = dlc_conv_params(1, 0, 1);
    dlc_tensor_t *C = dlc_topi_conv2d_NCHWc(ctx, dv, kv, &unit, w->out_dtype);
    x.src = C;
    dlc_tensor_t *O = C ? dlc_te_compute(ctx, "conv2d_transpose_nchw", 4, (int64_t[]){N, CO, oh, ow}, unpack_fn, &x) : NULL;
    if (!O) return dlc_last_status();
    *op = (dlc_op_t){3, 1, {data, kernel, O}, O, 2.0 * N * CO * oh * ow * CI * R * S, "conv2d_transpose_nchw"};
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &O);
    if (!s) return dlc_last_status();
    TRY(dlc_stage_compute_inline(dlc_sched_stage(s, dp)));
    /* data_vec parallel over (batch, ic_chunk, ih); kernel_vec reordered, vectorised on oc_block */
    dlc_stage_t *sd = dlc_sched_stage(s, dv), *sk = dlc_sched_stage(s, kv);
    dlc_iter_var_t *f, *g;
    TRY(dlc_stage_fuse(sd, dlc_stage_axis(sd, 0), dlc_stage_axis(sd, 1), &f));
    TRY(dlc_stage_fuse(sd, f, dlc_stage_axis(sd, 2), &g));
    TRY(dlc_stage_parallel(sd, g));
    dlc_iter_var_t *ka[6];
    for (int i = 0; i < 6; i++) ka[i] = dlc_stage_axis(sk, i);
    TRY(dlc_stage_reorder(sk, 6, (dlc_iter_var_t *[]){ka[0], ka[2], ka[1], ka[3], ka[4], ka[5]}));
    if (x.ocb > 1) TRY(dlc_stage_vectorize(sk, ka[5]));
    TRY(dlc_stage_fuse(sk, ka[0], ka[2], &f));
    TRY(dlc_stage_parallel(sk, f));
    TRY(dlc__schedule_conv_nchwc(s, C, O, cfg, R == 1 && S == 1, x.icb));
    *out = s;
    return 0;
}

const dlc_template_t dlc__tmpl_conv2d_transpose_x86 = {
    "conv2d_transpose_nchw.x86", "x86", DLC_OPK_CONV2D_TRANSPOSE, dlc__parse_conv_transpose, dlc__conv_transpose_args,
    space_t, inst_t,
};
