/* templates_impl.h — helpers shared by the template files (private). */
#ifndef DLC_TEMPLATES_IMPL_H
#define DLC_TEMPLATES_IMPL_H
#include "schedule-templates/dlc_space.h"
#include "schedule-templates/dlc_templates.h"

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

extern const dlc_template_t dlc__tmpl_conv2d_NCHWc_x86, dlc__tmpl_dense_nopack_x86, dlc__tmpl_dense_pack_x86,
    dlc__tmpl_batch_matmul_x86;
#endif
