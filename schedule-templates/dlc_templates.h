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
 *   depthwise_conv2d:N,C,H,W,R,S,stride,pad              kernel [C,1,R,S]
 *   conv2d_transpose:N,C,H,W,K,R,S,stride,pad            kernel [C,K,R,S]
 *   pool2d:N,C,H,W,R,S,stride,pad,max|avg                avg counts padding (count_include_pad)
 *   softmax:M,N                       along the last axis
 *   relu:N  |  bias_relu:M,N          elementwise (injective) chains
 * An optional trailing ":dtype" (float32 default) applies to the inputs.
 */
#ifndef DLC_TEMPLATES_H
#define DLC_TEMPLATES_H

#include "compiler-core/dlc_codegen.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DLC_OP_MAP(X)                                                         \
    X(DENSE, "dense", 3, 3, "M,N,K")                                          \
    X(BATCH_MATMUL, "batch_matmul", 4, 4, "B,M,N,K")                          \
    X(CONV2D, "conv2d", 9, 10, "N,C,H,W,K,R,S,stride,pad[,dilation]")         \
    X(CONV2D_NCHWC, "conv2d_nchwc", 11, 11, "N,C,H,W,K,R,S,stride,pad,ic_bn,oc_bn") \
    X(DEPTHWISE_CONV2D, "depthwise_conv2d", 8, 8, "N,C,H,W,R,S,stride,pad")   \
    X(CONV2D_TRANSPOSE, "conv2d_transpose", 9, 9, "N,C,H,W,K,R,S,stride,pad") \
    X(POOL2D, "pool2d", 8, 8, "N,C,H,W,R,S,stride,pad,max|avg")               \
    X(SOFTMAX, "softmax", 2, 2, "M,N")                                        \
    X(RELU, "relu", 1, 1, "N")                                                \
    X(BIAS_RELU, "bias_relu", 2, 2, "M,N")

typedef enum {
#define DLC__OPK(e, n, lo, hi, g) DLC_OPK_##e,
    DLC_OP_MAP(DLC__OPK)
#undef DLC__OPK
    DLC_OPK_COUNT
} dlc_opk_t;

typedef struct {
    dlc_opk_t kind;
    int n;            /* parameters given */
    int64_t p[12];    /* in grammar order */
    int pool_max;     /* pool2d: 1 max, 0 avg */
    dlc_dtype_t dtype;
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
dlc_tensor_t *dlc_topi_dense(dlc_ctx_t *ctx, dlc_tensor_t *data, dlc_tensor_t *weight);
dlc_tensor_t *dlc_topi_batch_matmul(dlc_ctx_t *ctx, dlc_tensor_t *a, dlc_tensor_t *b);
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

#ifdef __cplusplus
}
#endif
#endif
