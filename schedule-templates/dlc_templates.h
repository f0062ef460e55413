/* dlc_templates.h — operators: the `--op SPEC` grammar, compute definitions
 * (TVM topi semantics), FLOP counts and default CPU schedules. The template
 * registry and config spaces (AutoTVM knobs) build on these.
 *
 * Usage:
 *   dlc_op_spec_t spec;
 *   if (dlc_op_parse("conv2d:1,64,56,56,64,3,3,1,1", &spec) < 0) die(dlc_last_error());
 *   dlc_op_t op;
 *   dlc_op_build(ctx, &spec, &op);           // tensors: op.args (inputs then outputs)
 *   dlc_schedule_t *s = dlc_op_default_schedule(ctx, &op, &target);
 *
 * SPEC grammar (all integers; N batch, C in channels, K out channels, R×S kernel):
 *   dense:M,N,K                       data[M,K] · weight[N,K]ᵀ → [M,N]
 *   batch_matmul:B,M,N,K              A[B,M,K] · B[B,N,K]ᵀ → [B,M,N]
 *   conv2d:N,C,H,W,K,R,S,stride,pad[,dilation]           NCHW, kernel [K,C,R,S]
 *   conv2d_nchwc:N,C,H,W,K,R,S,stride,pad,ic_bn,oc_bn    NCHW[ic]c, kernel [K/oc,C/ic,R,S,ic,oc]
 *   depthwise_conv2d:N,C,H,W,R,S,stride,pad[,dilation]   kernel [C,1,R,S]
 *   conv2d_transpose:N,C,H,W,K,R,S,stride,pad[,output_padding]   kernel [C,K,R,S]
 *   pool2d:N,C,H,W,R,S,stride,pad,max|avg                avg counts padding (count_include_pad)
 *   softmax:M,N                       along the last axis
 *   relu:N  |  bias_relu:M,N          elementwise (injective) chains
 * An optional trailing ":dtype" (float32 default) applies to the inputs; a
 * second one, ":dtype:out_dtype", gives the output dtype of the operators
 * that take one as TVM does (dense, batch_matmul and the convolutions: the
 * operands are cast to out_dtype before the multiply and summed in it), e.g.
 * conv2d:1,64,56,56,64,3,3,1,1:int8:int32. Without it out_dtype is the input
 * dtype (relay's default), so int8 sums wrap in int8: give int32 for int8.
 */
#ifndef DLC_TEMPLATES_H
#define DLC_TEMPLATES_H

#include <jansson.h>
#include "compiler-core/dlc_codegen.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(enum, name, min params, max params, has out_dtype, grammar) */
#define DLC_OP_MAP(X)                                                            \
    X(DENSE, "dense", 3, 3, 1, "M,N,K")                                          \
    X(BATCH_MATMUL, "batch_matmul", 4, 4, 1, "B,M,N,K")                          \
    X(CONV2D, "conv2d", 9, 10, 1, "N,C,H,W,K,R,S,stride,pad[,dilation]")         \
    X(CONV2D_NCHWC, "conv2d_nchwc", 11, 11, 1, "N,C,H,W,K,R,S,stride,pad,ic_bn,oc_bn") \
    X(DEPTHWISE_CONV2D, "depthwise_conv2d", 8, 9, 1, "N,C,H,W,R,S,stride,pad[,dilation]") \
    X(CONV2D_TRANSPOSE, "conv2d_transpose", 9, 10, 1, "N,C,H,W,K,R,S,stride,pad[,output_padding]") \
    X(POOL2D, "pool2d", 8, 8, 0, "N,C,H,W,R,S,stride,pad,max|avg")               \
    X(SOFTMAX, "softmax", 2, 2, 0, "M,N")                                        \
    X(RELU, "relu", 1, 1, 0, "N")                                                \
    X(BIAS_RELU, "bias_relu", 2, 2, 0, "M,N")

typedef enum {
#define DLC__OPK(e, n, lo, hi, od, g) DLC_OPK_##e,
    DLC_OP_MAP(DLC__OPK)
#undef DLC__OPK
    DLC_OPK_COUNT
} dlc_opk_t;

typedef struct {
    dlc_opk_t kind;
    int n;            /* parameters given */
    int64_t p[12];    /* in grammar order */
    int pool_max;     /* pool2d: 1 max, 0 avg */
    dlc_dtype_t dtype;     /* of the inputs */
    dlc_dtype_t out_dtype; /* of the output: dtype unless given */
    char text[128];   /* the spec as given */
} dlc_op_spec_t;

const char *dlc_op_name(dlc_opk_t k);
/* Parses SPEC; on error DLC_EINVAL with a one-line message naming the problem
 * and the expected grammar. */
int dlc_op_parse(const char *spec, dlc_op_spec_t *out);
/* Writes the grammar of every operator, one per line. */
void dlc_op_grammar(dlc_strbuf_t *out);

typedef struct {
    int n_args, n_outputs;
    dlc_tensor_t *args[8];   /* inputs, then outputs */
    dlc_tensor_t *out;       /* the (single) output */
    double flops;
    const char *name;        /* a C identifier, e.g. "dense_64_64_64" */
} dlc_op_t;

/* Builds the compute definition in ctx. */
int dlc_op_build(dlc_ctx_t *ctx, const dlc_op_spec_t *spec, dlc_op_t *out);
/* A sensible schedule for CPUs (tiling, vectorisation for the target's SIMD
 * width, parallel outer loops). NULL with an error if scheduling failed. */
dlc_schedule_t *dlc_op_default_schedule(dlc_ctx_t *ctx, const dlc_op_spec_t *spec, const dlc_op_t *op,
                                        const dlc_target_t *target);

/* ---- compute definitions (topi) ---- */
/* 2-D convolution parameters as TVM's args carry them (4-sided padding). */
typedef struct {
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_left, pad_bottom, pad_right;
    int64_t dil_h, dil_w;
} dlc_conv_params_t;
dlc_conv_params_t dlc_conv_params(int64_t stride, int64_t pad, int64_t dilation); /* symmetric */
/* Output height/width; DLC_EINVAL if not positive. */
int dlc_conv_out_hw(const dlc_conv_params_t *p, int64_t h, int64_t w, int64_t r, int64_t s, int64_t *oh, int64_t *ow);
dlc_tensor_t *dlc_topi_pad2d4(dlc_ctx_t *ctx, dlc_tensor_t *x, int h_axis, int64_t top, int64_t left, int64_t bottom,
                              int64_t right, dlc_expr_t *value);
/* a * b with each operand cast to out_dtype first (TVM's a.astype(out_dtype) *
 * b.astype(out_dtype)), so the product and a sum of it are in out_dtype; no
 * cast where an operand has that dtype. The computes below use it. */
dlc_expr_t *dlc_topi_mul_out(dlc_ctx_t *ctx, dlc_dtype_t out_dtype, dlc_expr_t *a, dlc_expr_t *b);
/* out_dtype (here and in dense, batch_matmul, conv2d_transpose): the dtype of
 * the output, which the products are computed and summed in (TVM's
 * sum(data.astype(out_dtype) * kernel.astype(out_dtype))); padding stays in
 * the input dtype. The input dtype gives exactly the compute without casts. */
dlc_tensor_t *dlc_topi_conv2d(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel, const dlc_conv_params_t *p,
                              dlc_dtype_t out_dtype);
dlc_tensor_t *dlc_topi_conv2d_NCHWc(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel,
                                    const dlc_conv_params_t *p, dlc_dtype_t out_dtype);
/* The same over an output extended to oh_ext x ow_ext (>= the real output):
 * the padding grows at the bottom and right so every extended output reads
 * inside the padded input (zeros); tiles with tails compute whole tiles. */
dlc_tensor_t *dlc_topi_conv2d_NCHWc_ext(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel,
                                        const dlc_conv_params_t *p, dlc_dtype_t out_dtype, int64_t oh_ext,
                                        int64_t ow_ext);
dlc_tensor_t *dlc_topi_depthwise_conv2d(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel,
                                        const dlc_conv_params_t *p, dlc_dtype_t out_dtype);
/* conv2d_transpose (TVM's conv2d_transpose_nchw): kernel [C, K, R, S]; p gives the
 * strides and 4-sided padding (each side below the kernel size; dilation 1);
 * output_padding[2] (each below its stride) adds rows/columns at the bottom/right.
 * Output [N, K, (H-1)*sh - pt - pb + R + oph, (W-1)*sw - pl - pr + S + opw]. */
int dlc_conv_transpose_out_hw(const dlc_conv_params_t *p, int64_t h, int64_t w, int64_t r, int64_t s,
                              const int64_t *output_padding, int64_t *oh, int64_t *ow);
dlc_tensor_t *dlc_topi_conv2d_transpose(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel,
                                        const dlc_conv_params_t *p, const int64_t *output_padding,
                                        dlc_dtype_t out_dtype);
/* Its input as one stage "data_dilate_pad" (tag "injective,pad"): data dilated by
 * the strides and padded so that a stride-1 unpadded convolution with the
 * flipped kernel gives the result, [N, C, OH + R - 1, OW + S - 1]. */
dlc_tensor_t *dlc_topi_conv2d_transpose_pad(dlc_ctx_t *ctx, dlc_tensor_t *data, int64_t r, int64_t s,
                                            const dlc_conv_params_t *p, const int64_t *output_padding);
/* Max or average (padding counted) pooling with strides, 4-sided padding and dilation. */
dlc_tensor_t *dlc_topi_pool2d_general(dlc_ctx_t *ctx, dlc_tensor_t *data, int64_t r, int64_t s,
                                      const dlc_conv_params_t *p, int is_max);
dlc_tensor_t *dlc_topi_dense(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *weight, dlc_dtype_t out_dtype);
dlc_tensor_t *dlc_topi_batch_matmul(dlc_ctx_t *ctx, dlc_tensor_t *a, dlc_tensor_t *b, dlc_dtype_t out_dtype);
/* The symmetric shorthands below call the general versions above (out_dtype:
 * the input dtype). */
/* Zero (or `value`) padding of the last two axes of a 4-D/5-D tensor. */
dlc_tensor_t *dlc_topi_pad2d(dlc_ctx_t *ctx, dlc_tensor_t *x, int h_axis, int64_t pad_h, int64_t pad_w, dlc_expr_t *value);
dlc_tensor_t *dlc_topi_conv2d_nchw(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel, int64_t stride,
                                   int64_t pad, int64_t dilation);
dlc_tensor_t *dlc_topi_conv2d_nchwc(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel, int64_t stride,
                                    int64_t pad);
dlc_tensor_t *dlc_topi_depthwise_conv2d_nchw(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel, int64_t stride,
                                             int64_t pad);
dlc_tensor_t *dlc_topi_conv2d_transpose_nchw(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *kernel, int64_t stride,
                                             int64_t pad);
dlc_tensor_t *dlc_topi_pool2d(dlc_ctx_t *ctx, dlc_tensor_t *data, int64_t r, int64_t s, int64_t stride, int64_t pad,
                              int is_max);
dlc_tensor_t *dlc_topi_softmax(dlc_ctx_t *ctx, dlc_tensor_t *x);
dlc_tensor_t *dlc_topi_relu(dlc_ctx_t *ctx, dlc_tensor_t *x);
dlc_tensor_t *dlc_topi_bias_add(dlc_ctx_t *ctx, dlc_tensor_t *x, dlc_tensor_t *bias); /* bias along the last axis */

/* ---- tasks and templates (AutoTVM) ----
 * A task is (template, args, target): args are TVM's task arguments as they
 * stand in tuning logs, e.g. for conv2d_NCHWc.x86
 *   [["TENSOR", [1, 64, 56, 56], "float32"], ["TENSOR", [64, 64, 3, 3], "float32"],
 *    [1, 1], [1, 1, 1, 1], [1, 1], "NCHW", "NCHW", "float32"]
 * A template defines the config space for the args and, for one config,
 * builds the compute and its schedule. Usage:
 *   dlc_task_t *task;
 *   dlc_task_create("conv2d_NCHWc.x86", args, &target, &task);
 *   dlc_config_t *cfg;  dlc_space_get(dlc_task_space(task), 188, &cfg);
 *   dlc_op_t op;  dlc_schedule_t *s;
 *   rc = dlc_task_instantiate(task, cfg, ctx, &op, &s);  // DLC_EINSTANTIATE: config not valid
 *   ...
 *   dlc_config_destroy(&cfg);  dlc_task_destroy(&task);
 */
typedef struct dlc_task dlc_task_t;
typedef struct dlc_space dlc_space_t;
typedef struct dlc_config dlc_config_t;

/* What a template's args describe, parsed once per task. */
typedef struct {
    dlc_opk_t op;
    dlc_dtype_t dtype, out_dtype;
    int64_t data[DLC_MAX_DIMS], kernel[DLC_MAX_DIMS]; /* shapes as in the args */
    int data_ndim, kernel_ndim;
    dlc_conv_params_t conv;
    int64_t output_padding[2];                      /* conv2d_transpose */
    int64_t pool[2];                                /* pool kernel (R, S) */
    int pool_max;
} dlc_workload_t;

typedef struct dlc_template {
    const char *name;  /* TVM task name, e.g. "conv2d_NCHWc.x86" */
    const char *key;   /* "x86", "arm_cpu" or "cpu" (generic): which targets it serves */
    dlc_opk_t op;      /* the operator it implements */
    /* Parses TVM args into w; DLC_EINVAL naming the bad argument. */
    int (*parse_args)(const json_t *args, dlc_workload_t *w);
    /* TVM args for an operator spec (new reference), for tuning an --op. */
    json_t *(*args_from_spec)(const dlc_op_spec_t *spec);
    /* Defines the knobs of the task's space. */
    int (*define_space)(const dlc_task_t *task, dlc_space_t *sp);
    /* Builds compute (op: inputs then outputs, flops) and schedule for cfg in
     * ctx; DLC_EINSTANTIATE when the config does not fit the workload. */
    int (*instantiate)(const dlc_task_t *task, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op,
                       dlc_schedule_t **s);
} dlc_template_t;

/* Every registered template, NULL-terminated. */
const dlc_template_t *const *dlc_template_list(void);
const dlc_template_t *dlc_template_find(const char *name);
/* Whether a template serves a target (x86: llvm on x86_64 without
 * -device=arm_cpu; arm_cpu: targets with the arm_cpu key; cpu: any llvm). */
int dlc_template_matches(const dlc_template_t *t, const dlc_target_t *target);
/* Candidate templates for an operator on a target, best first (as TVM's
 * strategy orders them); returns the count written (at most cap). */
int dlc_template_candidates(dlc_opk_t op, const dlc_target_t *target, const dlc_template_t **out, int cap);

/* Creates a task (copies args and target; builds the space). */
int dlc_task_create(const char *template_name, const json_t *args, const dlc_target_t *target, dlc_task_t **out);
/* A task for an --op spec with the given template (NULL: the first candidate). */
int dlc_task_from_spec(const dlc_op_spec_t *spec, const char *template_name, const dlc_target_t *target,
                       dlc_task_t **out);
/* Tasks for an --op spec: with template_name, that template's task alone
 * (as dlc_task_from_spec); without, one under each of the op's candidate
 * templates on the target, in dlc_template_candidates' order (out[0] is the
 * default task), without_fallbacks leaving out dlc's .generic templates
 * unless nothing else serves the op. The default template must express the
 * spec (else its error); another that cannot is skipped. cap >= 1. The
 * count (>= 1; at most cap) or an error; out[0..count) owned by the caller. */
int dlc_task_candidates(const dlc_op_spec_t *spec, const char *template_name, const dlc_target_t *target,
                        int without_fallbacks, dlc_task_t **out, int cap);
void dlc_task_destroy(dlc_task_t **task);
const dlc_template_t *dlc_task_template(const dlc_task_t *task);
const dlc_workload_t *dlc_task_workload(const dlc_task_t *task);
const dlc_target_t *dlc_task_target(const dlc_task_t *task);
const json_t *dlc_task_args(const dlc_task_t *task);      /* borrowed */
dlc_space_t *dlc_task_space(const dlc_task_t *task);      /* owned by the task */
double dlc_task_flops(const dlc_task_t *task);
/* Compute and schedule for one config (see dlc_template_t.instantiate). */
int dlc_task_instantiate(const dlc_task_t *task, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op,
                         dlc_schedule_t **s);

#ifdef __cplusplus
}
#endif
#endif
