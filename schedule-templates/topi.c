/* topi.c — compute definitions of the operators, with TVM topi's semantics. */
#include <string.h>
#include "schedule-templates/dlc_templates.h"

typedef struct {
    dlc_tensor_t *a, *b;
    int64_t stride, pad, dil, r, s, h, w;
    int64_t sh, sw, dh, dw;   /* conv strides and dilations */
    int64_t hb, wb;           /* pad2d: bottom and right (h, w: top and left) */
    int is_max;
    dlc_expr_t *value;
    int h_axis;
    dlc_dtype_t od;           /* out_dtype of a multiply-accumulate */
} args_t;

dlc_expr_t *dlc_topi_mul_out(dlc_ctx_t *c, dlc_dtype_t out_dtype, dlc_expr_t *a, dlc_expr_t *b) {
    return dlc_mul(c, dlc_cast(c, out_dtype, a), dlc_cast(c, out_dtype, b));
}

static dlc_expr_t *dense_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    args_t *x = u;
    dlc_iter_var_t *k = dlc_te_reduce_axis(c, "k", x->a->shape[1]);
    dlc_expr_t *a = dlc_read2(c, x->a, i[0], k->var), *b = dlc_read2(c, x->b, i[1], k->var);
    return dlc_sum(c, dlc_topi_mul_out(c, x->od, a, b), 1, &k);
}

dlc_tensor_t *dlc_topi_dense(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *weight, dlc_dtype_t out_dtype) {
    args_t x = {.a = data, .b = weight, .od = out_dtype};
    return dlc_te_compute(ctx, "dense", 2, (int64_t[]){data->shape[0], weight->shape[0]}, dense_fn, &x);
}

static dlc_expr_t *bmm_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    args_t *x = u;
    dlc_iter_var_t *k = dlc_te_reduce_axis(c, "k", x->a->shape[2]);
    dlc_expr_t *a = dlc_read3(c, x->a, i[0], i[1], k->var), *b = dlc_read3(c, x->b, i[0], i[2], k->var);
    return dlc_sum(c, dlc_topi_mul_out(c, x->od, a, b), 1, &k);
}

dlc_tensor_t *dlc_topi_batch_matmul(dlc_ctx_t *ctx, dlc_tensor_t *a, dlc_tensor_t *b, dlc_dtype_t out_dtype) {
    args_t x = {.a = a, .b = b, .od = out_dtype};
    return dlc_te_compute(ctx, "batch_matmul", 3, (int64_t[]){a->shape[0], a->shape[1], b->shape[1]}, bmm_fn, &x);
}

static dlc_expr_t *pad_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    args_t *x = u;
    int ha = x->h_axis, wa = x->h_axis + 1;
    dlc_expr_t *idx[DLC_MAX_DIMS];
    for (int d = 0; d < x->a->ndim; d++) idx[d] = i[d];
    idx[ha] = dlc_sub(c, i[ha], dlc_int(c, x->h));
    idx[wa] = dlc_sub(c, i[wa], dlc_int(c, x->w));
    dlc_expr_t *in = dlc_binary(c, DLC_EXPR_AND,
                                dlc_binary(c, DLC_EXPR_AND, dlc_binary(c, DLC_EXPR_GE, idx[ha], dlc_int(c, 0)),
                                           dlc_binary(c, DLC_EXPR_LT, idx[ha], dlc_int(c, x->a->shape[ha]))),
                                dlc_binary(c, DLC_EXPR_AND, dlc_binary(c, DLC_EXPR_GE, idx[wa], dlc_int(c, 0)),
                                           dlc_binary(c, DLC_EXPR_LT, idx[wa], dlc_int(c, x->a->shape[wa]))));
    return dlc_select(c, in, dlc_read(c, x->a, idx), x->value ? x->value : dlc_const(c, 0, x->a->dtype));
}

dlc_tensor_t *dlc_topi_pad2d(dlc_ctx_t *ctx, dlc_tensor_t *t, int h_axis, int64_t ph, int64_t pw, dlc_expr_t *value) {
    return dlc_topi_pad2d4(ctx, t, h_axis, ph, pw, ph, pw, value);
}

dlc_tensor_t *dlc_topi_pad2d4(dlc_ctx_t *ctx, dlc_tensor_t *t, int h_axis, int64_t top, int64_t left, int64_t bottom,
                              int64_t right, dlc_expr_t *value) {
    if (top == 0 && left == 0 && bottom == 0 && right == 0) return t;
    int64_t shape[DLC_MAX_DIMS];
    memcpy(shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    shape[h_axis] += top + bottom;
    shape[h_axis + 1] += left + right;
    args_t x = {.a = t, .h = top, .w = left, .value = value, .h_axis = h_axis};
    dlc_tensor_t *p = dlc_te_compute(ctx, "pad", t->ndim, shape, pad_fn, &x);
    if (p) p->tag = "injective,pad";
    return p;
}

static dlc_expr_t *mad(dlc_ctx_t *c, dlc_expr_t *a, dlc_expr_t *b, int64_t k) {
    return dlc_add(c, dlc_mul(c, a, dlc_int(c, k)), b);
}

static dlc_expr_t *conv_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    args_t *x = u;
    dlc_tensor_t *k = x->b;
    dlc_iter_var_t *rc = dlc_te_reduce_axis(c, "rc", k->shape[1]);
    dlc_iter_var_t *ry = dlc_te_reduce_axis(c, "ry", k->shape[2]);
    dlc_iter_var_t *rx = dlc_te_reduce_axis(c, "rx", k->shape[3]);
    dlc_expr_t *h = mad(c, i[2], dlc_mul(c, ry->var, dlc_int(c, x->dh)), x->sh);
    dlc_expr_t *w = mad(c, i[3], dlc_mul(c, rx->var, dlc_int(c, x->dw)), x->sw);
    dlc_expr_t *src = dlc_topi_mul_out(c, x->od, dlc_read4(c, x->a, i[0], rc->var, h, w),
                                   dlc_read4(c, k, i[1], rc->var, ry->var, rx->var));
    return dlc_sum(c, src, 3, (dlc_iter_var_t *[]){rc, ry, rx});
}

dlc_conv_params_t dlc_conv_params(int64_t stride, int64_t pad, int64_t dilation) {
    return (dlc_conv_params_t){stride, stride, pad, pad, pad, pad, dilation, dilation};
}

int dlc_conv_out_hw(const dlc_conv_params_t *p, int64_t h, int64_t w, int64_t r, int64_t s, int64_t *oh, int64_t *ow) {
    *oh = (h + p->pad_top + p->pad_bottom - ((r - 1) * p->dil_h + 1)) / p->stride_h + 1;
    *ow = (w + p->pad_left + p->pad_right - ((s - 1) * p->dil_w + 1)) / p->stride_w + 1;
    if (*oh <= 0 || *ow <= 0 || p->stride_h <= 0 || p->stride_w <= 0 || p->dil_h <= 0 || p->dil_w <= 0)
        return dlc_error(DLC_EINVAL, "conv2d: output would be %lldx%lld", (long long)*oh, (long long)*ow);
    return 0;
}

dlc_tensor_t *dlc_topi_conv2d_nchw(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel, int64_t stride,
                                   int64_t pad, int64_t dil) {
    dlc_conv_params_t p = dlc_conv_params(stride, pad, dil);
    return dlc_topi_conv2d(ctx, data, kernel, &p, data->dtype);
}

dlc_tensor_t *dlc_topi_conv2d(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel, const dlc_conv_params_t *cp,
                              dlc_dtype_t out_dtype) {
    int64_t oh, ow;
    if (dlc_conv_out_hw(cp, data->shape[2], data->shape[3], kernel->shape[2], kernel->shape[3], &oh, &ow) < 0)
        return NULL;
    dlc_tensor_t *p = dlc_topi_pad2d4(ctx, data, 2, cp->pad_top, cp->pad_left, cp->pad_bottom, cp->pad_right, NULL);
    args_t x = {.a = p, .b = kernel, .sh = cp->stride_h, .sw = cp->stride_w, .dh = cp->dil_h, .dw = cp->dil_w,
                .od = out_dtype};
    return dlc_te_compute(ctx, "conv2d", 4, (int64_t[]){data->shape[0], kernel->shape[0], oh, ow}, conv_fn, &x);
}

/* data [N, C/ic, H, W, ic], kernel [K/oc, C/ic, R, S, ic, oc] → [N, K/oc, OH, OW, oc] */
static dlc_expr_t *conv_nchwc_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    args_t *x = u;
    dlc_tensor_t *k = x->b;
    int64_t icb = k->shape[4];
    dlc_iter_var_t *ic = dlc_te_reduce_axis(c, "ic", k->shape[1] * icb);
    dlc_iter_var_t *ry = dlc_te_reduce_axis(c, "ry", k->shape[2]);
    dlc_iter_var_t *rx = dlc_te_reduce_axis(c, "rx", k->shape[3]);
    dlc_expr_t *ico = dlc_div(c, ic->var, dlc_int(c, icb)), *ici = dlc_mod(c, ic->var, dlc_int(c, icb));
    dlc_expr_t *h = mad(c, i[2], dlc_mul(c, ry->var, dlc_int(c, x->dh)), x->sh);
    dlc_expr_t *w = mad(c, i[3], dlc_mul(c, rx->var, dlc_int(c, x->dw)), x->sw);
    dlc_expr_t *src = dlc_topi_mul_out(c, x->od, dlc_read(c, x->a, (dlc_expr_t *[]){i[0], ico, h, w, ici}),
                                   dlc_read(c, k, (dlc_expr_t *[]){i[1], ico, ry->var, rx->var, ici, i[4]}));
    return dlc_sum(c, src, 3, (dlc_iter_var_t *[]){ic, ry, rx});
}

dlc_tensor_t *dlc_topi_conv2d_nchwc(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel, int64_t stride,
                                    int64_t pad) {
    dlc_conv_params_t p = dlc_conv_params(stride, pad, 1);
    return dlc_topi_conv2d_NCHWc(ctx, data, kernel, &p, data->dtype);
}

dlc_tensor_t *dlc_topi_conv2d_NCHWc(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel,
                                    const dlc_conv_params_t *cp, dlc_dtype_t out_dtype) {
    int64_t oh, ow;
    if (dlc_conv_out_hw(cp, data->shape[2], data->shape[3], kernel->shape[2], kernel->shape[3], &oh, &ow) < 0)
        return NULL;
    return dlc_topi_conv2d_NCHWc_ext(ctx, data, kernel, cp, out_dtype, oh, ow);
}

dlc_tensor_t *dlc_topi_conv2d_NCHWc_ext(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel,
                                        const dlc_conv_params_t *cp, dlc_dtype_t out_dtype, int64_t oh_ext,
                                        int64_t ow_ext) {
    int64_t oh, ow;
    if (dlc_conv_out_hw(cp, data->shape[2], data->shape[3], kernel->shape[2], kernel->shape[3], &oh, &ow) < 0)
        return NULL;
    if (oh_ext < oh || ow_ext < ow) {
        dlc_error(DLC_EINVAL, "conv2d_NCHWc: extended output %lldx%lld is smaller than %lldx%lld", (long long)oh_ext,
                  (long long)ow_ext, (long long)oh, (long long)ow);
        return NULL;
    }
    /* rows/columns the extended output reads past the padded input */
    int64_t need_h = (oh_ext - 1) * cp->stride_h + (kernel->shape[2] - 1) * cp->dil_h + 1;
    int64_t need_w = (ow_ext - 1) * cp->stride_w + (kernel->shape[3] - 1) * cp->dil_w + 1;
    int64_t eh = need_h - (data->shape[2] + cp->pad_top + cp->pad_bottom);
    int64_t ew = need_w - (data->shape[3] + cp->pad_left + cp->pad_right);
    dlc_tensor_t *p = dlc_topi_pad2d4(ctx, data, 2, cp->pad_top, cp->pad_left, cp->pad_bottom + (eh > 0 ? eh : 0),
                                      cp->pad_right + (ew > 0 ? ew : 0), NULL);
    args_t x = {.a = p, .b = kernel, .sh = cp->stride_h, .sw = cp->stride_w, .dh = cp->dil_h, .dw = cp->dil_w,
                .od = out_dtype};
    return dlc_te_compute(ctx, "conv2d_NCHWc", 5,
                          (int64_t[]){data->shape[0], kernel->shape[0], oh_ext, ow_ext, kernel->shape[5]},
                          conv_nchwc_fn, &x);
}

static dlc_expr_t *dw_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    args_t *x = u;
    dlc_iter_var_t *ry = dlc_te_reduce_axis(c, "ry", x->b->shape[2]);
    dlc_iter_var_t *rx = dlc_te_reduce_axis(c, "rx", x->b->shape[3]);
    dlc_expr_t *h = mad(c, i[2], dlc_mul(c, ry->var, dlc_int(c, x->dh)), x->sh);
    dlc_expr_t *w = mad(c, i[3], dlc_mul(c, rx->var, dlc_int(c, x->dw)), x->sw);
    dlc_expr_t *src = dlc_topi_mul_out(c, x->od, dlc_read4(c, x->a, i[0], i[1], h, w),
                                   dlc_read4(c, x->b, i[1], dlc_int(c, 0), ry->var, rx->var));
    return dlc_sum(c, src, 2, (dlc_iter_var_t *[]){ry, rx});
}

dlc_tensor_t *dlc_topi_depthwise_conv2d_nchw(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel, int64_t stride,
                                             int64_t pad) {
    dlc_conv_params_t p = dlc_conv_params(stride, pad, 1);
    return dlc_topi_depthwise_conv2d(ctx, data, kernel, &p, data->dtype);
}

dlc_tensor_t *dlc_topi_depthwise_conv2d(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel,
                                        const dlc_conv_params_t *cp, dlc_dtype_t out_dtype) {
    int64_t oh, ow;
    if (dlc_conv_out_hw(cp, data->shape[2], data->shape[3], kernel->shape[2], kernel->shape[3], &oh, &ow) < 0)
        return NULL;
    dlc_tensor_t *p = dlc_topi_pad2d4(ctx, data, 2, cp->pad_top, cp->pad_left, cp->pad_bottom, cp->pad_right, NULL);
    args_t x = {.a = p, .b = kernel, .sh = cp->stride_h, .sw = cp->stride_w, .dh = cp->dil_h, .dw = cp->dil_w,
                .od = out_dtype};
    return dlc_te_compute(ctx, "depthwise_conv2d", 4, (int64_t[]){data->shape[0], data->shape[1], oh, ow}, dw_fn, &x);
}

/* data dilated by the strides and padded, read as one guarded stage: x->h, x->w
 * rows/columns before, x->hb, x->wb after */
static dlc_expr_t *dilpad_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    args_t *x = u;
    dlc_tensor_t *d = x->a;
    dlc_expr_t *y = dlc_sub(c, i[2], dlc_int(c, x->h)), *xx = dlc_sub(c, i[3], dlc_int(c, x->w));
    dlc_expr_t *sh = dlc_int(c, x->sh), *sw = dlc_int(c, x->sw);
    dlc_expr_t *ok = dlc_binary(c, DLC_EXPR_GE, y, dlc_int(c, 0));
    ok = dlc_binary(c, DLC_EXPR_AND, ok, dlc_binary(c, DLC_EXPR_LE, y, dlc_int(c, (d->shape[2] - 1) * x->sh)));
    ok = dlc_binary(c, DLC_EXPR_AND, ok, dlc_binary(c, DLC_EXPR_EQ, dlc_mod(c, y, sh), dlc_int(c, 0)));
    ok = dlc_binary(c, DLC_EXPR_AND, ok, dlc_binary(c, DLC_EXPR_GE, xx, dlc_int(c, 0)));
    ok = dlc_binary(c, DLC_EXPR_AND, ok, dlc_binary(c, DLC_EXPR_LE, xx, dlc_int(c, (d->shape[3] - 1) * x->sw)));
    ok = dlc_binary(c, DLC_EXPR_AND, ok, dlc_binary(c, DLC_EXPR_EQ, dlc_mod(c, xx, sw), dlc_int(c, 0)));
    /* clamp the read so it stays in bounds where the guard is false */
    dlc_expr_t *ry = dlc_max(c, dlc_int(c, 0), dlc_min(c, dlc_div(c, y, sh), dlc_int(c, d->shape[2] - 1)));
    dlc_expr_t *rx = dlc_max(c, dlc_int(c, 0), dlc_min(c, dlc_div(c, xx, sw), dlc_int(c, d->shape[3] - 1)));
    return dlc_select(c, ok, dlc_read4(c, d, i[0], i[1], ry, rx), dlc_const(c, 0, d->dtype));
}

static dlc_expr_t *convt_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    args_t *x = u;
    dlc_tensor_t *k = x->b;
    dlc_iter_var_t *rc = dlc_te_reduce_axis(c, "rc", k->shape[0]);
    dlc_iter_var_t *ry = dlc_te_reduce_axis(c, "ry", k->shape[2]);
    dlc_iter_var_t *rx = dlc_te_reduce_axis(c, "rx", k->shape[3]);
    dlc_expr_t *fy = dlc_sub(c, dlc_int(c, k->shape[2] - 1), ry->var);
    dlc_expr_t *fx = dlc_sub(c, dlc_int(c, k->shape[3] - 1), rx->var);
    dlc_expr_t *d = dlc_read4(c, x->a, i[0], rc->var, dlc_add(c, i[2], ry->var), dlc_add(c, i[3], rx->var));
    dlc_expr_t *src = dlc_topi_mul_out(c, x->od, d, dlc_read4(c, k, rc->var, i[1], fy, fx));
    return dlc_sum(c, src, 3, (dlc_iter_var_t *[]){rc, ry, rx});
}

int dlc_conv_transpose_out_hw(const dlc_conv_params_t *p, int64_t h, int64_t w, int64_t r, int64_t s,
                              const int64_t *opad, int64_t *oh, int64_t *ow) {
    *oh = (h - 1) * p->stride_h - p->pad_top - p->pad_bottom + r + opad[0];
    *ow = (w - 1) * p->stride_w - p->pad_left - p->pad_right + s + opad[1];
    if (p->stride_h <= 0 || p->stride_w <= 0 || p->dil_h != 1 || p->dil_w != 1)
        return dlc_error(DLC_EINVAL, "conv2d_transpose: strides must be positive and dilation 1");
    if (opad[0] < 0 || opad[1] < 0 || opad[0] >= p->stride_h || opad[1] >= p->stride_w)
        return dlc_error(DLC_EINVAL, "conv2d_transpose: output_padding (%lld, %lld) must be below the strides",
                         (long long)opad[0], (long long)opad[1]);
    if (p->pad_top > r - 1 || p->pad_bottom > r - 1 || p->pad_left > s - 1 || p->pad_right > s - 1)
        return dlc_error(DLC_EINVAL, "conv2d_transpose: padding must be below the kernel size");
    if (*oh <= 0 || *ow <= 0)
        return dlc_error(DLC_EINVAL, "conv2d_transpose: output would be %lldx%lld", (long long)*oh, (long long)*ow);
    return 0;
}

dlc_tensor_t *dlc_topi_conv2d_transpose_pad(dlc_ctx_t *ctx, dlc_tensor_t *data, int64_t r, int64_t s,
                                            const dlc_conv_params_t *p, const int64_t *opad) {
    int64_t oh, ow;
    if (dlc_conv_transpose_out_hw(p, data->shape[2], data->shape[3], r, s, opad, &oh, &ow) < 0) return NULL;
    args_t d = {.a = data, .sh = p->stride_h, .sw = p->stride_w, .h = r - 1 - p->pad_top, .w = s - 1 - p->pad_left};
    /* the dilated input, padded: out size + kernel - 1 */
    dlc_tensor_t *dp = dlc_te_compute(ctx, "data_dilate_pad", 4,
                                      (int64_t[]){data->shape[0], data->shape[1], oh + r - 1, ow + s - 1}, dilpad_fn, &d);
    if (dp) dp->tag = "injective,pad";
    return dp;
}

dlc_tensor_t *dlc_topi_conv2d_transpose(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel,
                                        const dlc_conv_params_t *p, const int64_t *opad, dlc_dtype_t out_dtype) {
    dlc_tensor_t *dp = dlc_topi_conv2d_transpose_pad(ctx, data, kernel->shape[2], kernel->shape[3], p, opad);
    if (!dp) return NULL;
    args_t x = {.a = dp, .b = kernel, .od = out_dtype};
    return dlc_te_compute(ctx, "conv2d_transpose", 4,
                          (int64_t[]){data->shape[0], kernel->shape[1], dp->shape[2] - kernel->shape[2] + 1,
                                      dp->shape[3] - kernel->shape[3] + 1},
                          convt_fn, &x);
}

dlc_tensor_t *dlc_topi_conv2d_transpose_nchw(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel, int64_t stride,
                                             int64_t pad) {
    dlc_conv_params_t p = dlc_conv_params(stride, pad, 1);
    return dlc_topi_conv2d_transpose(ctx, data, kernel, &p, (int64_t[]){0, 0}, data->dtype);
}

static dlc_expr_t *pool_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    args_t *x = u;
    dlc_iter_var_t *ry = dlc_te_reduce_axis(c, "ry", x->r), *rx = dlc_te_reduce_axis(c, "rx", x->s);
    dlc_expr_t *h = mad(c, i[2], dlc_mul(c, ry->var, dlc_int(c, x->dh)), x->sh);
    dlc_expr_t *w = mad(c, i[3], dlc_mul(c, rx->var, dlc_int(c, x->dw)), x->sw);
    dlc_expr_t *src = dlc_read4(c, x->a, i[0], i[1], h, w);
    return dlc_reduce(c, x->is_max ? DLC_REDUCE_MAX : DLC_REDUCE_SUM, src, 2, (dlc_iter_var_t *[]){ry, rx});
}

static dlc_expr_t *scale_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    args_t *x = u;
    return dlc_div(c, dlc_read(c, x->a, i), dlc_const(c, (double)(x->r * x->s), x->a->dtype));
}

dlc_tensor_t *dlc_topi_pool2d(dlc_ctx_t *ctx, dlc_tensor_t *data, int64_t r, int64_t s, int64_t stride, int64_t pad,
                              int is_max) {
    dlc_conv_params_t p = dlc_conv_params(stride, pad, 1);
    return dlc_topi_pool2d_general(ctx, data, r, s, &p, is_max);
}

dlc_tensor_t *dlc_topi_pool2d_general(dlc_ctx_t *ctx, dlc_tensor_t *data, int64_t r, int64_t s,
                                      const dlc_conv_params_t *cp, int is_max) {
    int64_t oh, ow;
    if (dlc_conv_out_hw(cp, data->shape[2], data->shape[3], r, s, &oh, &ow) < 0) {
        dlc_error(DLC_EINVAL, "pool2d: output would be %lldx%lld", (long long)oh, (long long)ow);
        return NULL;
    }
    dlc_expr_t *fill = is_max ? dlc_reduce_identity(ctx, DLC_REDUCE_MAX, data->dtype) : NULL;
    dlc_tensor_t *p = dlc_topi_pad2d4(ctx, data, 2, cp->pad_top, cp->pad_left, cp->pad_bottom, cp->pad_right, fill);
    args_t x = {.a = p, .r = r, .s = s, .sh = cp->stride_h, .sw = cp->stride_w, .dh = cp->dil_h, .dw = cp->dil_w,
                .is_max = is_max};
    int64_t shape[4] = {data->shape[0], data->shape[1], oh, ow};
    dlc_tensor_t *t = dlc_te_compute(ctx, is_max ? "max_pool" : "pool_sum", 4, shape, pool_fn, &x);
    if (!t || is_max) return t;
    args_t y = {.a = t, .r = r, .s = s};
    return dlc_te_compute(ctx, "avg_pool", 4, shape, scale_fn, &y);
}

static dlc_expr_t *rowmax_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    args_t *x = u;
    dlc_iter_var_t *k = dlc_te_reduce_axis(c, "k", x->a->shape[1]);
    return dlc_max_reduce(c, dlc_read2(c, x->a, i[0], k->var), 1, &k);
}
static dlc_expr_t *expsub_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    args_t *x = u;
    return dlc_call1(c, DLC_INTRIN_EXP, dlc_sub(c, dlc_read2(c, x->a, i[0], i[1]), dlc_read1(c, x->b, i[0])));
}
static dlc_expr_t *rowsum_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    args_t *x = u;
    dlc_iter_var_t *k = dlc_te_reduce_axis(c, "k", x->a->shape[1]);
    return dlc_sum(c, dlc_read2(c, x->a, i[0], k->var), 1, &k);
}
static dlc_expr_t *norm_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    args_t *x = u;
    return dlc_div(c, dlc_read2(c, x->a, i[0], i[1]), dlc_read1(c, x->b, i[0]));
}

dlc_tensor_t *dlc_topi_softmax(dlc_ctx_t *ctx, dlc_tensor_t *x) {
    int64_t m = x->shape[0];
    args_t a = {.a = x};
    dlc_tensor_t *mx = dlc_te_compute(ctx, "softmax_max", 1, &m, rowmax_fn, &a);
    args_t b = {.a = x, .b = mx};
    dlc_tensor_t *e = dlc_te_compute(ctx, "softmax_exp", 2, x->shape, expsub_fn, &b);
    args_t c = {.a = e};
    dlc_tensor_t *s = dlc_te_compute(ctx, "softmax_sum", 1, &m, rowsum_fn, &c);
    args_t d = {.a = e, .b = s};
    return dlc_te_compute(ctx, "softmax", 2, x->shape, norm_fn, &d);
}

static dlc_expr_t *relu_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    args_t *x = u;
    return dlc_max(c, dlc_read(c, x->a, i), dlc_const(c, 0, x->a->dtype));
}
dlc_tensor_t *dlc_topi_relu(dlc_ctx_t *ctx, dlc_tensor_t *x) {
    args_t a = {.a = x};
    dlc_tensor_t *t = dlc_te_compute(ctx, "relu", x->ndim, x->shape, relu_fn, &a);
    if (t) t->tag = "injective";
    return t;
}

static dlc_expr_t *bias_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    args_t *x = u;
    return dlc_add(c, dlc_read(c, x->a, i), dlc_read1(c, x->b, i[x->a->ndim - 1]));
}
dlc_tensor_t *dlc_topi_bias_add(dlc_ctx_t *ctx, dlc_tensor_t *x, dlc_tensor_t *bias) {
    args_t a = {.a = x, .b = bias};
    dlc_tensor_t *t = dlc_te_compute(ctx, "bias_add", x->ndim, x->shape, bias_fn, &a);
    if (t) t->tag = "injective";
    return t;
}
