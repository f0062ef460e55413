/* dlc_te.h — tensor expressions: dtypes, index/value expressions, placeholder
 * and compute tensors, reductions. Everything lives in a dlc_ctx_t arena and is
 * freed with the context; expressions are immutable once built.
 *
 * Usage (dense: C[m, n] = sum_k A[m, k] * B[n, k]):
 *   dlc_ctx_t *ctx = dlc_ctx_new();
 *   int64_t as[2] = {M, K}, bs[2] = {N, K}, cs[2] = {M, N};
 *   dlc_tensor_t *A = dlc_te_placeholder(ctx, "A", 2, as, DLC_FLOAT32);
 *   dlc_tensor_t *B = dlc_te_placeholder(ctx, "B", 2, bs, DLC_FLOAT32);
 *   dlc_tensor_t *C = dlc_te_compute(ctx, "C", 2, cs, dense_body, (void *[]){A, B});
 *   // with: static dlc_expr_t *dense_body(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
 *   //   dlc_tensor_t **t = u; dlc_iter_var_t *k = dlc_te_reduce_axis(c, "k", t[0]->shape[1]);
 *   //   return dlc_sum(c, dlc_mul(c, dlc_read2(c, t[0], i[0], k->var),
 *   //                                  dlc_read2(c, t[1], i[1], k->var)), 1, &k); }
 *   ...
 *   dlc_ctx_destroy(&ctx);
 */
#ifndef DLC_TE_H
#define DLC_TE_H

#include <stdint.h>
#include "support/dlc_support.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DLC_MAX_DIMS 8

/* The dtype table: name, C type used in generated code, bytes, DLPack code/bits. */
#define DLC_DTYPE_MAP(X)                           \
    X(FLOAT32, "float32", "float", 4, 2, 32)       \
    X(FLOAT16, "float16", "uint16_t", 2, 2, 16)    \
    X(INT8, "int8", "int8_t", 1, 0, 8)             \
    X(UINT8, "uint8", "uint8_t", 1, 1, 8)          \
    X(INT16, "int16", "int16_t", 2, 0, 16)         \
    X(INT32, "int32", "int32_t", 4, 0, 32)         \
    X(INT64, "int64", "int64_t", 8, 0, 64)         \
    X(BOOL, "bool", "int32_t", 4, 1, 1)

typedef enum {
#define DLC__DT_ENUM(e, n, c, b, dc, db) DLC_##e,
    DLC_DTYPE_MAP(DLC__DT_ENUM)
#undef DLC__DT_ENUM
    DLC_DTYPE_COUNT
} dlc_dtype_t;

const char *dlc_dtype_name(dlc_dtype_t t);
const char *dlc_dtype_ctype(dlc_dtype_t t); /* storage type in generated C */
int dlc_dtype_bytes(dlc_dtype_t t);
int dlc_dtype_is_float(dlc_dtype_t t); /* float32, float16 */
/* Parses "float32" etc.; returns DLC_EINVAL for an unknown name. */
int dlc_dtype_parse(const char *name, dlc_dtype_t *out);
/* DLPack type code and bits of a dtype (float16 → kDLFloat, 16). */
void dlc_dtype_dlpack(dlc_dtype_t t, uint8_t *code, uint8_t *bits);

/* ---- expressions ---- */
typedef enum {
    DLC_EXPR_INT,    /* ival */
    DLC_EXPR_FLOAT,  /* fval */
    DLC_EXPR_VAR,    /* name, id */
    DLC_EXPR_ADD, DLC_EXPR_SUB, DLC_EXPR_MUL,
    DLC_EXPR_DIV,    /* integers: floor division; floats: true division */
    DLC_EXPR_MOD,    /* integers: floor modulo */
    DLC_EXPR_MIN, DLC_EXPR_MAX,
    DLC_EXPR_EQ, DLC_EXPR_NE, DLC_EXPR_LT, DLC_EXPR_LE, DLC_EXPR_GT, DLC_EXPR_GE,
    DLC_EXPR_AND, DLC_EXPR_OR, DLC_EXPR_NOT,
    DLC_EXPR_SELECT, /* a[0] ? a[1] : a[2] (if_then_else) */
    DLC_EXPR_CAST,   /* a[0] converted to dtype */
    DLC_EXPR_CALL,   /* math intrinsic `intrin` over a[0..n) */
    DLC_EXPR_READ,   /* tensor[a[0..n)] (before lowering) */
    DLC_EXPR_LOAD,   /* buffer[a[0]] flat (after lowering) */
    DLC_EXPR_REDUCE, /* only as the whole body of a compute */
    DLC_EXPR_ADDR,   /* &buffer[a[0]] (tensorize call arguments) */
    DLC_EXPR_KIND_COUNT
} dlc_expr_kind_t;

#define DLC_INTRIN_MAP(X)                                   \
    X(EXP, "exp", 1) X(LOG, "log", 1) X(SQRT, "sqrt", 1)     \
    X(TANH, "tanh", 1) X(SIGMOID, "sigmoid", 1)             \
    X(POW, "pow", 2) X(FABS, "fabs", 1) X(FLOOR, "floor", 1) \
    X(CEIL, "ceil", 1) X(ERF, "erf", 1) X(RSQRT, "rsqrt", 1)

typedef enum {
#define DLC__IN_ENUM(e, n, a) DLC_INTRIN_##e,
    DLC_INTRIN_MAP(DLC__IN_ENUM)
#undef DLC__IN_ENUM
    DLC_INTRIN_COUNT
} dlc_intrin_t;

typedef enum { DLC_REDUCE_SUM, DLC_REDUCE_MAX, DLC_REDUCE_MIN, DLC_REDUCE_COUNT } dlc_reduce_op_t;

typedef struct dlc_expr dlc_expr_t;
typedef struct dlc_tensor dlc_tensor_t;
typedef struct dlc_iter_var dlc_iter_var_t;
typedef struct dlc_buffer dlc_buffer_t;
typedef struct dlc_ctx dlc_ctx_t;

struct dlc_expr {
    dlc_expr_kind_t kind;
    dlc_dtype_t dtype;
    int n;               /* number of operands in a[] */
    dlc_expr_t **a;      /* operands */
    int64_t ival;
    double fval;
    const char *name;    /* VAR */
    int id;              /* VAR: unique per context */
    dlc_intrin_t intrin; /* CALL */
    dlc_tensor_t *tensor;   /* READ */
    dlc_buffer_t *buffer;   /* LOAD */
    dlc_reduce_op_t rop;    /* REDUCE: source is a[0] */
    int n_raxis;            /* REDUCE */
    dlc_iter_var_t **raxis; /* REDUCE */
};

typedef enum { DLC_IV_DATA, DLC_IV_REDUCE } dlc_iv_kind_t;

/* An iteration axis over [0, extent). */
struct dlc_iter_var {
    dlc_expr_t *var;
    int64_t extent;
    dlc_iv_kind_t kind;
};

typedef enum { DLC_OP_PLACEHOLDER, DLC_OP_COMPUTE } dlc_op_kind_t;

struct dlc_tensor {
    const char *name;
    int ndim;
    int64_t shape[DLC_MAX_DIMS];
    dlc_dtype_t dtype;
    dlc_op_kind_t op;
    int id;                            /* unique per context */
    dlc_iter_var_t *axis[DLC_MAX_DIMS]; /* COMPUTE: data-parallel axes */
    dlc_expr_t *body;                  /* COMPUTE: value (possibly a REDUCE) */
    const char *tag;                   /* free text, e.g. "injective" */
};

/* ---- context (arena owner) ---- */
dlc_ctx_t *dlc_ctx_new(void);
void dlc_ctx_destroy(dlc_ctx_t **ctx);
dlc_arena_t *dlc_ctx_arena(dlc_ctx_t *ctx);

/* ---- tensors ---- */
dlc_tensor_t *dlc_te_placeholder(dlc_ctx_t *ctx, const char *name, int ndim, const int64_t *shape, dlc_dtype_t dtype);
/* The body callback gets the axis variables (ndim of them) and returns the
 * element value; it may create reduce axes and return dlc_sum/max/min. */
typedef dlc_expr_t *(*dlc_compute_fn)(dlc_ctx_t *ctx, dlc_expr_t *const *idx, void *user);
dlc_tensor_t *dlc_te_compute(dlc_ctx_t *ctx, const char *name, int ndim, const int64_t *shape, dlc_compute_fn fn, void *user);
/* Same with an explicit body built over caller-created axes (dlc_te_axis). */
dlc_tensor_t *dlc_te_compute_body(dlc_ctx_t *ctx, const char *name, int ndim, const int64_t *shape,
                                  dlc_iter_var_t *const *axes, dlc_expr_t *body);
dlc_iter_var_t *dlc_te_axis(dlc_ctx_t *ctx, const char *name, int64_t extent);
dlc_iter_var_t *dlc_te_reduce_axis(dlc_ctx_t *ctx, const char *name, int64_t extent);
int64_t dlc_tensor_size(const dlc_tensor_t *t); /* elements */

/* ---- expression builders (operands are not copied; results owned by ctx) ---- */
dlc_expr_t *dlc_int(dlc_ctx_t *ctx, int64_t v);                       /* int64 index constant */
dlc_expr_t *dlc_const(dlc_ctx_t *ctx, double v, dlc_dtype_t dtype);  /* typed constant */
dlc_expr_t *dlc_var(dlc_ctx_t *ctx, const char *name);               /* int64 variable */
dlc_expr_t *dlc_add(dlc_ctx_t *ctx, dlc_expr_t *a, dlc_expr_t *b);
dlc_expr_t *dlc_sub(dlc_ctx_t *ctx, dlc_expr_t *a, dlc_expr_t *b);
dlc_expr_t *dlc_mul(dlc_ctx_t *ctx, dlc_expr_t *a, dlc_expr_t *b);
dlc_expr_t *dlc_div(dlc_ctx_t *ctx, dlc_expr_t *a, dlc_expr_t *b);
dlc_expr_t *dlc_mod(dlc_ctx_t *ctx, dlc_expr_t *a, dlc_expr_t *b);
dlc_expr_t *dlc_min(dlc_ctx_t *ctx, dlc_expr_t *a, dlc_expr_t *b);
dlc_expr_t *dlc_max(dlc_ctx_t *ctx, dlc_expr_t *a, dlc_expr_t *b);
dlc_expr_t *dlc_binary(dlc_ctx_t *ctx, dlc_expr_kind_t kind, dlc_expr_t *a, dlc_expr_t *b);
dlc_expr_t *dlc_not(dlc_ctx_t *ctx, dlc_expr_t *a);
dlc_expr_t *dlc_select(dlc_ctx_t *ctx, dlc_expr_t *cond, dlc_expr_t *t, dlc_expr_t *f); /* if_then_else */
dlc_expr_t *dlc_cast(dlc_ctx_t *ctx, dlc_dtype_t dtype, dlc_expr_t *a);
dlc_expr_t *dlc_call(dlc_ctx_t *ctx, dlc_intrin_t fn, int n, dlc_expr_t *const *args);
dlc_expr_t *dlc_call1(dlc_ctx_t *ctx, dlc_intrin_t fn, dlc_expr_t *a);
dlc_expr_t *dlc_read(dlc_ctx_t *ctx, dlc_tensor_t *t, dlc_expr_t *const *idx); /* t->ndim indices */
dlc_expr_t *dlc_read1(dlc_ctx_t *ctx, dlc_tensor_t *t, dlc_expr_t *i0);
dlc_expr_t *dlc_read2(dlc_ctx_t *ctx, dlc_tensor_t *t, dlc_expr_t *i0, dlc_expr_t *i1);
dlc_expr_t *dlc_read3(dlc_ctx_t *ctx, dlc_tensor_t *t, dlc_expr_t *i0, dlc_expr_t *i1, dlc_expr_t *i2);
dlc_expr_t *dlc_read4(dlc_ctx_t *ctx, dlc_tensor_t *t, dlc_expr_t *i0, dlc_expr_t *i1, dlc_expr_t *i2, dlc_expr_t *i3);
dlc_expr_t *dlc_reduce(dlc_ctx_t *ctx, dlc_reduce_op_t op, dlc_expr_t *src, int n_axes, dlc_iter_var_t *const *axes);
dlc_expr_t *dlc_sum(dlc_ctx_t *ctx, dlc_expr_t *src, int n_axes, dlc_iter_var_t *const *axes);
dlc_expr_t *dlc_max_reduce(dlc_ctx_t *ctx, dlc_expr_t *src, int n_axes, dlc_iter_var_t *const *axes);
dlc_expr_t *dlc_min_reduce(dlc_ctx_t *ctx, dlc_expr_t *src, int n_axes, dlc_iter_var_t *const *axes);
/* Identity element of a reduction for a dtype (0, lowest, highest). */
dlc_expr_t *dlc_reduce_identity(dlc_ctx_t *ctx, dlc_reduce_op_t op, dlc_dtype_t dtype);
const char *dlc_intrin_name(dlc_intrin_t fn);

/* ---- expression utilities ---- */
/* Structural equality (variables by identity). */
int dlc_expr_equal(const dlc_expr_t *a, const dlc_expr_t *b);
/* Replaces variables: vars[i] (by id) → repl[i]. Shares untouched subtrees. */
dlc_expr_t *dlc_expr_substitute(dlc_ctx_t *ctx, dlc_expr_t *e, int n, dlc_expr_t *const *vars, dlc_expr_t *const *repl);
/* Appends a readable rendering ("(A[i, k] * B[j, k])") to sb. */
void dlc_expr_print(const dlc_expr_t *e, dlc_strbuf_t *sb);
/* Evaluates a closed integer expression; returns 0 and *out, or DLC_EINVAL if
 * the expression is not a constant integer. */
int dlc_expr_const_int(const dlc_expr_t *e, int64_t *out);

/* Integer ranges of variables, for simplification and bound inference. */
/* Indexed by variable id; zero-initialise, free with dlc_var_ranges_free. */
typedef struct {
    int cap;
    unsigned char *has;
    int64_t *lo, *hi; /* inclusive */
} dlc_var_ranges_t;
void dlc_var_ranges_set(dlc_var_ranges_t *r, const dlc_expr_t *var, int64_t lo, int64_t hi);
void dlc_var_ranges_unset(dlc_var_ranges_t *r, const dlc_expr_t *var);
int dlc_var_ranges_get(const dlc_var_ranges_t *r, const dlc_expr_t *var, int64_t *lo, int64_t *hi);
void dlc_var_ranges_free(dlc_var_ranges_t *r);

/* Simplifies an integer or value expression: constant folding, canonical
 * linear form (sum of coefficient * term + constant), floor div/mod rules
 * using variable ranges (may be NULL), min/max and comparison folding. */
dlc_expr_t *dlc_simplify(dlc_ctx_t *ctx, dlc_expr_t *e, const dlc_var_ranges_t *ranges);
/* Constant bounds of an integer expression given variable ranges; returns 0
 * and sets lo/hi, or DLC_EINVAL if unbounded (a variable without range). */
int dlc_expr_bounds(const dlc_expr_t *e, const dlc_var_ranges_t *ranges, int64_t *lo, int64_t *hi);

#ifdef __cplusplus
}
#endif
#endif
