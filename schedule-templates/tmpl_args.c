/* tmpl_args.c — TVM argument formats that several templates share: NCHW
 * conv2d / depthwise with six args (arm_cpu, generic), conv2d_transpose, and
 * the output size and annotate helpers. */
#include <string.h>
#include "templates_impl.h"

static int out_dtype_at(const json_t *args, int i, dlc_workload_t *w) {
    const json_t *v = json_array_get(args, (size_t)i);
    if (i >= 0 && json_is_string(v) && dlc_dtype_parse(json_string_value(v), &w->out_dtype) < 0)
        return dlc_error(DLC_EINVAL, "out_dtype: %s", dlc_last_error());
    return 0;
}

int dlc__out_hw(const dlc_workload_t *w, int64_t *oh, int64_t *ow) {
    *oh = *ow = 0;
    switch (w->op) {
    case DLC_OPK_CONV2D: case DLC_OPK_CONV2D_NCHWC: case DLC_OPK_DEPTHWISE_CONV2D:
        return dlc_conv_out_hw(&w->conv, w->data[2], w->data[3], w->kernel[2], w->kernel[3], oh, ow);
    case DLC_OPK_CONV2D_TRANSPOSE:
        return dlc_conv_transpose_out_hw(&w->conv, w->data[2], w->data[3], w->kernel[2], w->kernel[3],
                                         w->output_padding, oh, ow);
    case DLC_OPK_POOL2D: return dlc_conv_out_hw(&w->conv, w->data[2], w->data[3], w->pool[0], w->pool[1], oh, ow);
    default: return dlc_error(DLC_EINVAL, "%s has no output height and width", dlc_op_name(w->op));
    }
}

int dlc__parse_conv_nchw(const json_t *args, int depthwise, int i_out_dtype, dlc_workload_t *w) {
    TRY(dlc__parse_conv_args(args, 2, 3, 4, w));
    if (w->data_ndim != 4 || w->kernel_ndim != 4) return dlc_error(DLC_EINVAL, "expected NCHW data and a 4-D kernel");
    if (depthwise) {
        if (w->kernel[0] != w->data[1])
            return dlc_error(DLC_EINVAL, "kernel has %lld channels, data %lld", (long long)w->kernel[0],
                             (long long)w->data[1]);
        if (w->kernel[1] != 1)
            return dlc_error(DLC_EUNSUPPORTED, "depthwise channel multiplier %lld (only 1)", (long long)w->kernel[1]);
    } else if (w->kernel[1] != w->data[1]) {
        return dlc_error(DLC_EINVAL, "kernel has %lld input channels, data %lld", (long long)w->kernel[1],
                         (long long)w->data[1]);
    }
    TRY(out_dtype_at(args, i_out_dtype, w));
    int64_t oh, ow;
    return dlc__out_hw(w, &oh, &ow);
}

json_t *dlc__conv_nchw_args(const dlc_op_spec_t *s) {
    const int64_t *p = s->p;
    if (s->kind == DLC_OPK_CONV2D) {
        int64_t d = s->n > 9 ? p[9] : 1;
        return json_pack("[o, o, [I, I], [I, I, I, I], [I, I], s]",
                         dlc__tensor_json((int64_t[]){p[0], p[1], p[2], p[3]}, 4, s->dtype),
                         dlc__tensor_json((int64_t[]){p[4], p[1], p[5], p[6]}, 4, s->dtype), p[7], p[7], p[8], p[8],
                         p[8], p[8], d, d, dlc_dtype_name(s->out_dtype));
    }
    if (s->kind == DLC_OPK_DEPTHWISE_CONV2D) {
        int64_t d = s->n > 8 ? p[8] : 1;
        return json_pack("[o, o, [I, I], [I, I, I, I], [I, I], s]",
                         dlc__tensor_json((int64_t[]){p[0], p[1], p[2], p[3]}, 4, s->dtype),
                         dlc__tensor_json((int64_t[]){p[1], 1, p[4], p[5]}, 4, s->dtype), p[6], p[6], p[7], p[7], p[7],
                         p[7], d, d, dlc_dtype_name(s->out_dtype));
    }
    return NULL;
}

int dlc__parse_conv_transpose(const json_t *args, dlc_workload_t *w) {
    TRY(dlc__parse_conv_args(args, 2, 3, -1, w));
    if (w->data_ndim != 4 || w->kernel_ndim != 4) return dlc_error(DLC_EINVAL, "expected NCHW data and an IOHW kernel");
    if (w->kernel[0] != w->data[1])
        return dlc_error(DLC_EINVAL, "kernel has %lld input channels, data %lld", (long long)w->kernel[0],
                         (long long)w->data[1]);
    TRY(out_dtype_at(args, 4, w));
    w->output_padding[0] = w->output_padding[1] = 0;
    const json_t *op = json_array_get(args, 5);
    if (op) TRY(dlc__arg_ints(op, "output_padding", 2, w->output_padding));
    int64_t oh, ow;
    return dlc__out_hw(w, &oh, &ow);
}

json_t *dlc__conv_transpose_args(const dlc_op_spec_t *s) {
    if (s->kind != DLC_OPK_CONV2D_TRANSPOSE) return NULL;
    const int64_t *p = s->p;
    int64_t op = s->n > 9 ? p[9] : 0;
    return json_pack("[o, o, [I, I], [I, I, I, I], s, [I, I]]",
                     dlc__tensor_json((int64_t[]){p[0], p[1], p[2], p[3]}, 4, s->dtype),
                     dlc__tensor_json((int64_t[]){p[1], p[4], p[5], p[6]}, 4, s->dtype), p[7], p[7], p[8], p[8], p[8],
                     p[8], dlc_dtype_name(s->out_dtype), op, op);
}

int dlc__ann(const dlc_config_t *cfg, const char *name, int n_axes, int *anns) {
    int n = 0;
    const int *a = dlc_config_annotate(cfg, name, &n);
    if (!a || n != n_axes) return dlc_error(DLC_EINSTANTIATE, "config has no %d-axis annotation '%s'", n_axes, name);
    memcpy(anns, a, sizeof *anns * (size_t)n);
    return 0;
}

dlc_expr_t *dlc__read4_guarded(dlc_ctx_t *c, dlc_tensor_t *d, dlc_expr_t *n, dlc_expr_t *ch, dlc_expr_t *y,
                               dlc_expr_t *x) {
    dlc_expr_t *ok = dlc_binary(c, DLC_EXPR_AND, dlc_binary(c, DLC_EXPR_GE, y, dlc_int(c, 0)),
                                dlc_binary(c, DLC_EXPR_LT, y, dlc_int(c, d->shape[2])));
    ok = dlc_binary(c, DLC_EXPR_AND, ok,
                    dlc_binary(c, DLC_EXPR_AND, dlc_binary(c, DLC_EXPR_GE, x, dlc_int(c, 0)),
                               dlc_binary(c, DLC_EXPR_LT, x, dlc_int(c, d->shape[3]))));
    dlc_expr_t *cy = dlc_max(c, dlc_int(c, 0), dlc_min(c, y, dlc_int(c, d->shape[2] - 1)));
    dlc_expr_t *cx = dlc_max(c, dlc_int(c, 0), dlc_min(c, x, dlc_int(c, d->shape[3] - 1)));
    return dlc_select(c, ok, dlc_read4(c, d, n, ch, cy, cx), dlc_const(c, 0, d->dtype));
}

int64_t dlc__vector_lanes(const dlc_task_t *t) {
    int64_t l = (t->target.vector_bytes > 0 ? t->target.vector_bytes : 16) / dlc_dtype_bytes(t->w.dtype);
    return l > 0 ? l : 1;
}

int dlc__vector_regs(const dlc_target_t *t) { return t->arch == DLC_ARCH_X86_64 && t->vector_bytes < 64 ? 16 : 32; }

int dlc__register_tile(dlc_stage_t *s, int n, dlc_iter_var_t **order, int n_unroll, dlc_iter_var_t **unroll) {
    int rc = dlc_stage_reorder(s, n, order);
    for (int i = 0; rc == 0 && i < n_unroll; i++)
        if (unroll[i]) rc = dlc_stage_unroll(s, unroll[i]);
    return rc < 0 ? rc : dlc_stage_vectorize(s, order[n - 1]);
}
