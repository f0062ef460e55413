/* templates_impl.h — helpers shared by the template files (private). */
#ifndef DLC_TEMPLATES_IMPL_H
#define DLC_TEMPLATES_IMPL_H
#include "schedule-templates/dlc_space.h"
#include "schedule-templates/dlc_templates.h"

/* Returns a negative status from the enclosing int function. */
#define TRY(x)                   \
    do {                         \
        int rc_ = (x);           \
        if (rc_ < 0) return rc_; \
    } while (0)

struct dlc_task {
    const dlc_template_t *tmpl;
    dlc_target_t target;
    json_t *args;
    dlc_workload_t w;
    dlc_space_t *space;
    double flops;
};

/* ["TENSOR", [shape], "dtype"] → shape/ndim/dtype; DLC_EINVAL names `what`. */
int dlc__arg_tensor(const json_t *v, const char *what, int64_t *shape, int *ndim, dlc_dtype_t *dtype);
/* an int or a list of n ints (n = 1, 2 or 4: expanded to `want` values as TVM's get_pad_tuple does) */
int dlc__arg_ints(const json_t *v, const char *what, int want, int64_t *out);
json_t *dlc__tensor_json(const int64_t *shape, int ndim, dlc_dtype_t dt);
/* conv-style args: data, kernel, strides, padding, dilation (index of each). */
int dlc__parse_conv_args(const json_t *args, int i_stride, int i_pad, int i_dil, dlc_workload_t *w);
/* the split sizes of a knob, outermost resolved; DLC_EINSTANTIATE if absent */
int dlc__split(const dlc_config_t *cfg, const char *name, int64_t *sizes, int n);
/* Applies a split entity with n sizes to iv: out[0..n) outer to inner. */
int dlc__apply_split(dlc_stage_t *st, dlc_iter_var_t *iv, const int64_t *sizes, int n, dlc_iter_var_t **out);

/* Output height and width of a workload's convolution or pooling (conv2d,
 * conv2d_nchwc, depthwise, conv2d_transpose, pool2d); 0 and DLC_EINVAL when empty. */
int dlc__out_hw(const dlc_workload_t *w, int64_t *oh, int64_t *ow);

/* ---- argument formats shared by templates (tmpl_args.c, tmpl_x86_dense.c) ---- */
/* [data, kernel, strides, padding, dilation, out_dtype ...]: NCHW conv2d
 * (kernel OIHW) or, with depthwise, depthwise conv2d (kernel [C, 1, R, S]);
 * out_dtype at i_out_dtype when that is a string. */
int dlc__parse_conv_nchw(const json_t *args, int depthwise, int i_out_dtype, dlc_workload_t *w);
/* TVM's 6 args above for a conv2d / depthwise_conv2d spec. */
json_t *dlc__conv_nchw_args(const dlc_op_spec_t *s);
/* conv2d_transpose: [data, kernel [C, K, R, S], strides, padding, out_dtype, output_padding] */
int dlc__parse_conv_transpose(const json_t *args, dlc_workload_t *w);
json_t *dlc__conv_transpose_args(const dlc_op_spec_t *s);
int dlc__parse_dense(const json_t *args, dlc_workload_t *w); /* [data, weight, bias, out_dtype] */
/* Lanes of the target's preferred vector for the task's dtype, and the
 * vector registers of the target (AVX2 and SSE: 16; AVX-512, NEON, RVV: 32):
 * what the tiled templates size their register tiles by. */
int64_t dlc__vector_lanes(const dlc_task_t *t);
int dlc__vector_regs(const dlc_target_t *t);
/* The register tile of a tiled template's accumulator stage: its axes put in
 * `order` (n of them, the reduction loops first), then the loops in
 * `unroll` (n_unroll, NULLs skipped) unrolled and the last of `order` — the
 * tile's vector — vectorized. */
int dlc__register_tile(dlc_stage_t *s, int n, dlc_iter_var_t **order, int n_unroll, dlc_iter_var_t **unroll);
/* conv2d_NCHWc.x86's args: [data, kernel, strides, padding, dilation, layout, out_layout, out_dtype] */
int dlc__parse_conv_x86(const json_t *args, dlc_workload_t *w);
json_t *dlc__conv_x86_args(const dlc_op_spec_t *s);
/* d[n, ch, y, x] (NCHW) where (y, x) is inside d, else 0; the read itself is
 * clamped into bounds, so padded stages never load outside the input (tiles
 * of strided convolutions reach a row or column past it, unused). */
dlc_expr_t *dlc__read4_guarded(dlc_ctx_t *c, dlc_tensor_t *d, dlc_expr_t *n, dlc_expr_t *ch, dlc_expr_t *y,
                               dlc_expr_t *x);
json_t *dlc__dense_args(const dlc_op_spec_t *s);
int dlc__parse_bmm(const json_t *args, dlc_workload_t *w); /* [A, B, out_shape, out_dtype, ta, tb] */
json_t *dlc__bmm_args(const dlc_op_spec_t *s);
/* The annotation an entity gives axis i of annotate knob `name` (dlc_knob_ann_t);
 * DLC_EINSTANTIATE if the config has no such knob. */
int dlc__ann(const dlc_config_t *cfg, const char *name, int n_axes, int *anns);

/* conv2d_NCHWc.x86's knobs over a convolution with these sizes (also used by
 * conv2d_transpose_nchw.x86, which TVM computes as that convolution). */
int dlc__space_conv_nchwc(dlc_space_t *sp, int64_t ic, int64_t oc, int64_t oh, int64_t ow, int64_t kh, int64_t kw);
/* TVM's x86 NCHWc convolution schedule (conv2d_avx_common / conv2d_avx_1x1) of
 * C [N, K/oc, OH, OW, oc] with its reduce axes (ic, kh, kw), and of O, its
 * 4-D NCHW unpack, when O != C. Caches C; schedules no other stage. */
int dlc__schedule_conv_nchwc(dlc_schedule_t *s, dlc_tensor_t *C, dlc_tensor_t *O, const dlc_config_t *cfg,
                             int is_1x1, int64_t ic_bn);

extern const dlc_template_t dlc__tmpl_conv2d_NCHWc_x86, dlc__tmpl_dense_nopack_x86, dlc__tmpl_dense_pack_x86,
    dlc__tmpl_batch_matmul_x86, dlc__tmpl_dense_tiled,
    dlc__tmpl_conv2d_tiled_x86;
extern const dlc_template_t dlc__tmpl_depthwise_NCHWc_x86, dlc__tmpl_conv2d_transpose_x86;
extern const dlc_template_t dlc__tmpl_spatial_pack_arm, dlc__tmpl_conv2d_transpose_arm, dlc__tmpl_depthwise_arm,
    dlc__tmpl_winograd_arm;
extern const dlc_template_t dlc__tmpl_dense_generic, dlc__tmpl_batch_matmul_generic, dlc__tmpl_conv2d_generic,
    dlc__tmpl_conv2d_nchwc_generic, dlc__tmpl_depthwise_generic, dlc__tmpl_conv2d_transpose_generic,
    dlc__tmpl_pool2d_generic, dlc__tmpl_softmax_generic, dlc__tmpl_relu_generic, dlc__tmpl_bias_relu_generic;
#endif
