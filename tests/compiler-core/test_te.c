/* test_te.c — unit tests of the expression layer (dtypes, builders, printing,
 * the simplifier and dlc_expr_bounds) and of the schedule API (primitive
 * errors, leaf order and extents, what lowering prints). No compiler runs. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "compiler-core/dlc_codegen.h"
#include "schedule-templates/dlc_templates.h"

/* ---- helpers ---- */
static char g_str[4][1024];
static int g_slot;

/* e printed into a rotating static buffer (valid for the next 3 calls) */
static const char *S(const dlc_expr_t *e) {
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    dlc_expr_print(e, &sb);
    char *out = g_str[g_slot++ & 3];
    snprintf(out, sizeof g_str[0], "%s", sb.data ? sb.data : "");
    dlc_strbuf_free(&sb);
    return out;
}

#define assert_prints(e, text)                                                           \
    do {                                                                                 \
        const char *got_ = S(e);                                                         \
        if (strcmp(got_, (text)) != 0) {                                                 \
            fprintf(stderr, "expected '%s', got '%s' (%s:%d)\n", (text), got_, __FILE__, __LINE__); \
            fail();                                                                      \
        }                                                                                \
    } while (0)

#define assert_same(a, b)                                                                      \
    do {                                                                                       \
        const dlc_expr_t *a_ = (a), *b_ = (b);                                                 \
        if (!dlc_expr_equal(a_, b_)) {                                                         \
            fprintf(stderr, "expected %s == %s (%s:%d)\n", S(a_), S(b_), __FILE__, __LINE__); \
            fail();                                                                            \
        }                                                                                      \
    } while (0)

static void assert_int_expr(const dlc_expr_t *e, int64_t v, int line) {
    int64_t got;
    if (dlc_expr_const_int(e, &got) != 0 || got != v) {
        fprintf(stderr, "line %d: expected constant %lld, got %s\n", line, (long long)v, S(e));
        fail();
    }
}
#define assert_const(e, v) assert_int_expr((e), (v), __LINE__)

static dlc_expr_t *I(dlc_ctx_t *c, int64_t v) { return dlc_int(c, v); }

static dlc_expr_t *simp(dlc_ctx_t *c, dlc_expr_t *e, const dlc_var_ranges_t *r) {
    dlc_expr_t *s = dlc_simplify(c, e, r);
    assert_non_null(s);
    return s;
}

static void assert_error(int rc, const char *needle, int line) {
    if (rc != DLC_ESCHEDULE) {
        fprintf(stderr, "line %d: expected DLC_ESCHEDULE, got %d (%s)\n", line, rc, dlc_status_name(rc));
        fail();
    }
    const char *msg = dlc_last_error();
    if (!msg || !*msg || (needle && !strstr(msg, needle))) {
        fprintf(stderr, "line %d: error message '%s' should mention '%s'\n", line, msg ? msg : "(null)",
                needle ? needle : "something");
        fail();
    }
}
#define assert_sched_error(rc, needle) assert_error((rc), (needle), __LINE__)

/* ---- dtypes ---- */
static void test_dtypes(void **state) {
    (void)state;
    static const struct {
        dlc_dtype_t t;
        const char *name, *ctype;
        int bytes, is_float;
        uint8_t code, bits;
    } want[] = {
        {DLC_FLOAT32, "float32", "float", 4, 1, 2, 32}, {DLC_FLOAT16, "float16", "uint16_t", 2, 1, 2, 16},
        {DLC_INT8, "int8", "int8_t", 1, 0, 0, 8},        {DLC_UINT8, "uint8", "uint8_t", 1, 0, 1, 8},
        {DLC_INT16, "int16", "int16_t", 2, 0, 0, 16},    {DLC_INT32, "int32", "int32_t", 4, 0, 0, 32},
        {DLC_INT64, "int64", "int64_t", 8, 0, 0, 64},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_string_equal(dlc_dtype_name(want[i].t), want[i].name);
        assert_string_equal(dlc_dtype_ctype(want[i].t), want[i].ctype);
        assert_int_equal(dlc_dtype_bytes(want[i].t), want[i].bytes);
        assert_int_equal(!!dlc_dtype_is_float(want[i].t), want[i].is_float);
        dlc_dtype_t parsed = DLC_DTYPE_COUNT;
        assert_int_equal(dlc_dtype_parse(want[i].name, &parsed), 0);
        assert_int_equal(parsed, want[i].t);
        uint8_t code = 99, bits = 99;
        dlc_dtype_dlpack(want[i].t, &code, &bits);
        assert_int_equal(code, want[i].code);
        assert_int_equal(bits, want[i].bits);
    }
    dlc_dtype_t t = DLC_INT8;
    assert_int_equal(dlc_dtype_parse("float", &t), DLC_EINVAL);
    assert_non_null(strstr(dlc_last_error(), "float"));
    assert_int_equal(dlc_dtype_parse("", &t), DLC_EINVAL);
    assert_int_equal(dlc_dtype_parse(NULL, &t), DLC_EINVAL);
    assert_int_equal(t, DLC_INT8); /* untouched on error */
    assert_string_equal(dlc_dtype_name(DLC_DTYPE_COUNT), "?");
}

/* ---- builders: dtype promotion, casts, intrinsics ---- */
static void test_builders(void **state) {
    (void)state;
    dlc_ctx_t *c = dlc_ctx_new();
    int64_t sh[1] = {4};
    dlc_tensor_t *f = dlc_te_placeholder(c, "F", 1, sh, DLC_FLOAT32);
    dlc_tensor_t *h = dlc_te_placeholder(c, "H", 1, sh, DLC_FLOAT16);
    dlc_tensor_t *b = dlc_te_placeholder(c, "B", 1, sh, DLC_INT8);
    dlc_tensor_t *w = dlc_te_placeholder(c, "W", 1, sh, DLC_INT32);
    dlc_expr_t *i = dlc_var(c, "i");
    dlc_expr_t *rf = dlc_read1(c, f, i), *rh = dlc_read1(c, h, i), *rb = dlc_read1(c, b, i), *rw = dlc_read1(c, w, i);
    assert_int_equal(rf->dtype, DLC_FLOAT32);
    assert_int_equal(dlc_add(c, rb, rf)->dtype, DLC_FLOAT32);  /* float wins */
    assert_int_equal(dlc_add(c, rb, rw)->dtype, DLC_INT32);    /* wider integer wins */
    assert_int_equal(dlc_mul(c, rh, rf)->dtype, DLC_FLOAT32);  /* float16 computes as float32 */
    assert_int_equal(dlc_mul(c, rh, rh)->dtype, DLC_FLOAT16);
    assert_int_equal(dlc_add(c, rb, I(c, 3))->dtype, DLC_INT8); /* literals take the other side's type */
    assert_int_equal(dlc_add(c, rb, I(c, 3))->a[1]->dtype, DLC_INT8);
    assert_int_equal(dlc_binary(c, DLC_EXPR_LT, rf, rf)->dtype, DLC_BOOL);
    assert_int_equal(dlc_select(c, dlc_binary(c, DLC_EXPR_GT, rf, I(c, 0)), rf, I(c, 0))->dtype, DLC_FLOAT32);
    dlc_expr_t *cast = dlc_cast(c, DLC_INT32, rb);
    assert_int_equal(cast->kind, DLC_EXPR_CAST);
    assert_int_equal(cast->dtype, DLC_INT32);
    assert_ptr_equal(dlc_cast(c, DLC_INT8, rb), rb); /* no-op cast is the operand */
    /* intrinsics: float result, arity checked */
    dlc_expr_t *ex = dlc_call1(c, DLC_INTRIN_EXP, rb);
    assert_non_null(ex);
    assert_int_equal(ex->dtype, DLC_FLOAT32);
    assert_string_equal(dlc_intrin_name(DLC_INTRIN_SIGMOID), "sigmoid");
    assert_null(dlc_call(c, DLC_INTRIN_POW, 1, &rf));
    assert_int_equal(dlc_last_status(), DLC_EINVAL);
    assert_non_null(strstr(dlc_last_error(), "pow"));
    assert_non_null(dlc_call(c, DLC_INTRIN_POW, 2, (dlc_expr_t *[]){rf, I(c, 2)}));
    /* reduce identities */
    assert_true(dlc_reduce_identity(c, DLC_REDUCE_MAX, DLC_FLOAT32)->fval < -1e300);
    assert_const(dlc_reduce_identity(c, DLC_REDUCE_MAX, DLC_INT8), -128);
    assert_const(dlc_reduce_identity(c, DLC_REDUCE_MIN, DLC_INT32), 2147483647);
    assert_const(dlc_reduce_identity(c, DLC_REDUCE_SUM, DLC_INT32), 0);
    /* substitution and structural equality */
    dlc_expr_t *j = dlc_var(c, "j");
    dlc_expr_t *e = dlc_add(c, dlc_mul(c, i, I(c, 4)), j);
    dlc_expr_t *e2 = dlc_expr_substitute(c, e, 1, &j, (dlc_expr_t *[]){I(c, 3)});
    assert_prints(e2, "((i * 4) + 3)");
    assert_prints(e, "((i * 4) + j)"); /* the original is untouched */
    assert_true(dlc_expr_equal(e, dlc_add(c, dlc_mul(c, i, I(c, 4)), j)));
    assert_false(dlc_expr_equal(e, dlc_add(c, dlc_mul(c, j, I(c, 4)), i)));
    assert_false(dlc_expr_equal(i, dlc_var(c, "i"))); /* variables compare by identity */
    int64_t v;
    assert_int_equal(dlc_expr_const_int(i, &v), DLC_EINVAL);
    /* tensors */
    assert_null(dlc_te_placeholder(c, "bad", 1, (int64_t[]){0}, DLC_FLOAT32));
    assert_int_equal(dlc_tensor_size(dlc_te_placeholder(c, "T", 3, (int64_t[]){2, 3, 5}, DLC_FLOAT32)), 30);
    dlc_ctx_destroy(&c);
    assert_null(c);
    dlc_ctx_destroy(&c); /* safe twice */
}

/* ---- printing ---- */
static void test_print(void **state) {
    (void)state;
    dlc_ctx_t *c = dlc_ctx_new();
    dlc_tensor_t *A = dlc_te_placeholder(c, "A", 2, (int64_t[]){4, 4}, DLC_FLOAT32);
    dlc_tensor_t *B = dlc_te_placeholder(c, "B", 2, (int64_t[]){4, 4}, DLC_FLOAT32);
    dlc_expr_t *i = dlc_var(c, "i"), *j = dlc_var(c, "j"), *k = dlc_var(c, "k");
    assert_prints(dlc_mul(c, dlc_read2(c, A, i, k), dlc_read2(c, B, j, k)), "(A[i, k] * B[j, k])");
    assert_prints(dlc_min(c, i, dlc_sub(c, j, I(c, 1))), "min(i, (j - 1))");
    assert_prints(dlc_max(c, i, I(c, -3)), "max(i, -3)");
    assert_prints(dlc_div(c, i, I(c, 16)), "(i / 16)");
    assert_prints(dlc_mod(c, i, I(c, 16)), "(i % 16)");
    assert_prints(dlc_binary(c, DLC_EXPR_AND, dlc_binary(c, DLC_EXPR_GE, i, I(c, 0)), dlc_binary(c, DLC_EXPR_NE, j, k)),
                  "((i >= 0) && (j != k))");
    assert_prints(dlc_not(c, dlc_binary(c, DLC_EXPR_LT, i, j)), "!(i < j)");
    assert_prints(dlc_select(c, dlc_binary(c, DLC_EXPR_LE, i, j), dlc_read2(c, A, i, j), dlc_const(c, 0.5, DLC_FLOAT32)),
                  "select((i <= j), A[i, j], 0.5f)");
    assert_prints(dlc_cast(c, DLC_FLOAT32, i), "float32(i)");
    assert_prints(dlc_call1(c, DLC_INTRIN_EXP, dlc_read2(c, A, i, j)), "exp(A[i, j])");
    assert_prints(dlc_call(c, DLC_INTRIN_POW, 2, (dlc_expr_t *[]){dlc_read2(c, A, i, j), dlc_const(c, 2, DLC_FLOAT32)}),
                  "pow(A[i, j], 2f)");
    dlc_iter_var_t *r = dlc_te_reduce_axis(c, "r", 4);
    assert_prints(dlc_sum(c, dlc_read2(c, A, i, r->var), 1, &r), "sum(A[i, r], axis=[r])");
    assert_prints(dlc_max_reduce(c, dlc_read2(c, A, i, r->var), 1, &r), "max(A[i, r], axis=[r])");
    assert_prints(NULL, "(null)");
    dlc_ctx_destroy(&c);
}

/* ---- simplifier: constant folding ---- */
static void test_simplify_constants(void **state) {
    (void)state;
    dlc_ctx_t *c = dlc_ctx_new();
    assert_const(simp(c, dlc_mul(c, dlc_add(c, I(c, 3), I(c, 4)), I(c, 2)), NULL), 14);
    assert_const(simp(c, dlc_sub(c, I(c, 3), I(c, 10)), NULL), -7);
    assert_const(simp(c, dlc_div(c, I(c, 17), I(c, 5)), NULL), 3);
    assert_const(simp(c, dlc_mod(c, I(c, 17), I(c, 5)), NULL), 2);
    /* floor semantics for negative operands */
    assert_const(simp(c, dlc_div(c, I(c, -7), I(c, 2)), NULL), -4);
    assert_const(simp(c, dlc_mod(c, I(c, -7), I(c, 2)), NULL), 1);
    assert_const(simp(c, dlc_div(c, dlc_sub(c, I(c, 0), I(c, 7)), I(c, 2)), NULL), -4);
    assert_const(simp(c, dlc_div(c, I(c, 7), I(c, -2)), NULL), -4);
    assert_const(simp(c, dlc_mod(c, I(c, 7), I(c, -2)), NULL), -1);
    assert_const(simp(c, dlc_div(c, I(c, -7), I(c, -2)), NULL), 3);
    assert_const(simp(c, dlc_mod(c, I(c, -7), I(c, -2)), NULL), -1);
    assert_const(simp(c, dlc_div(c, I(c, -8), I(c, 2)), NULL), -4);
    assert_const(simp(c, dlc_mod(c, I(c, -8), I(c, 2)), NULL), 0);
    assert_const(simp(c, dlc_min(c, I(c, 3), I(c, -5)), NULL), -5);
    assert_const(simp(c, dlc_max(c, I(c, 3), I(c, -5)), NULL), 3);
    assert_const(simp(c, dlc_binary(c, DLC_EXPR_LT, I(c, 3), I(c, 5)), NULL), 1);
    assert_const(simp(c, dlc_binary(c, DLC_EXPR_GE, I(c, 3), I(c, 5)), NULL), 0);
    assert_const(simp(c, dlc_binary(c, DLC_EXPR_EQ, I(c, 5), I(c, 5)), NULL), 1);
    assert_const(simp(c, dlc_not(c, dlc_binary(c, DLC_EXPR_NE, I(c, 5), I(c, 5))), NULL), 1);
    dlc_expr_t *x = dlc_var(c, "x");
    dlc_expr_t *cmp = dlc_binary(c, DLC_EXPR_LT, x, I(c, 3));
    assert_ptr_equal(simp(c, dlc_binary(c, DLC_EXPR_AND, dlc_binary(c, DLC_EXPR_LT, I(c, 1), I(c, 2)), cmp), NULL), cmp);
    assert_const(simp(c, dlc_binary(c, DLC_EXPR_AND, cmp, dlc_binary(c, DLC_EXPR_GT, I(c, 1), I(c, 2))), NULL), 0);
    assert_const(simp(c, dlc_binary(c, DLC_EXPR_OR, cmp, dlc_binary(c, DLC_EXPR_LT, I(c, 1), I(c, 2))), NULL), 1);
    assert_ptr_equal(simp(c, dlc_select(c, dlc_binary(c, DLC_EXPR_LT, I(c, 1), I(c, 2)), x, I(c, 9)), NULL), x);
    assert_const(simp(c, dlc_select(c, dlc_binary(c, DLC_EXPR_GT, I(c, 1), I(c, 2)), x, I(c, 9)), NULL), 9);
    /* float folding: exact constants only, and casts of constants */
    dlc_expr_t *f = simp(c, dlc_add(c, dlc_const(c, 1.5, DLC_FLOAT32), dlc_const(c, 2.25, DLC_FLOAT32)), NULL);
    assert_int_equal(f->kind, DLC_EXPR_FLOAT);
    assert_true(f->fval == 3.75);
    f = simp(c, dlc_div(c, dlc_const(c, 1, DLC_FLOAT32), dlc_const(c, 4, DLC_FLOAT32)), NULL);
    assert_int_equal(f->kind, DLC_EXPR_FLOAT);
    assert_true(f->fval == 0.25);
    f = simp(c, dlc_cast(c, DLC_FLOAT32, dlc_add(c, I(c, 2), I(c, 3))), NULL);
    assert_int_equal(f->kind, DLC_EXPR_FLOAT);
    assert_int_equal(f->dtype, DLC_FLOAT32);
    assert_true(f->fval == 5.0);
    /* float math is not reassociated: (a + 1) - 1 stays */
    dlc_tensor_t *A = dlc_te_placeholder(c, "A", 1, (int64_t[]){4}, DLC_FLOAT32);
    dlc_expr_t *a = dlc_read1(c, A, x);
    dlc_expr_t *fe = simp(c, dlc_sub(c, dlc_add(c, a, dlc_const(c, 1, DLC_FLOAT32)), dlc_const(c, 1, DLC_FLOAT32)), NULL);
    assert_int_equal(fe->kind, DLC_EXPR_SUB);
    /* integer division by zero is left alone, not folded */
    dlc_expr_t *dz = simp(c, dlc_div(c, I(c, 7), I(c, 0)), NULL);
    assert_int_equal(dz->kind, DLC_EXPR_DIV);
    dlc_ctx_destroy(&c);
}

/* ---- simplifier: linear canonical form ---- */
static void test_simplify_linear(void **state) {
    (void)state;
    dlc_ctx_t *c = dlc_ctx_new();
    dlc_expr_t *i = dlc_var(c, "i"), *j = dlc_var(c, "j"), *k = dlc_var(c, "k");
    /* (i*4 + j) - (j + i*4) -> 0 */
    dlc_expr_t *e = dlc_sub(c, dlc_add(c, dlc_mul(c, i, I(c, 4)), j), dlc_add(c, j, dlc_mul(c, I(c, 4), i)));
    assert_const(simp(c, e, NULL), 0);
    /* i*4 + 2 + i == i*5 + 2 */
    dlc_expr_t *a = simp(c, dlc_add(c, dlc_add(c, dlc_mul(c, i, I(c, 4)), I(c, 2)), i), NULL);
    dlc_expr_t *b = simp(c, dlc_add(c, dlc_mul(c, i, I(c, 5)), I(c, 2)), NULL);
    assert_same(a, b);
    assert_prints(a, "((i * 5) + 2)");
    /* term order does not matter */
    assert_same(simp(c, dlc_add(c, dlc_add(c, k, j), i), NULL), simp(c, dlc_add(c, i, dlc_add(c, j, k)), NULL));
    assert_same(simp(c, dlc_add(c, dlc_mul(c, j, I(c, 3)), dlc_mul(c, i, I(c, 2))), NULL),
                simp(c, dlc_add(c, dlc_mul(c, I(c, 2), i), dlc_mul(c, I(c, 3), j)), NULL));
    /* distribution of constants and cancellation */
    assert_same(simp(c, dlc_sub(c, dlc_mul(c, I(c, 2), dlc_add(c, i, I(c, 3))), I(c, 6)), NULL),
                simp(c, dlc_mul(c, i, I(c, 2)), NULL));
    assert_same(simp(c, dlc_sub(c, dlc_mul(c, dlc_add(c, i, j), I(c, 3)), dlc_mul(c, j, I(c, 3))), NULL),
                simp(c, dlc_mul(c, i, I(c, 3)), NULL));
    assert_ptr_equal(simp(c, dlc_add(c, dlc_sub(c, i, j), j), NULL), i);
    assert_const(simp(c, dlc_sub(c, i, i), NULL), 0);
    assert_const(simp(c, dlc_mul(c, dlc_sub(c, i, i), k), NULL), 0);
    assert_prints(simp(c, dlc_sub(c, I(c, 5), i), NULL), "(5 - i)");
    assert_prints(simp(c, dlc_sub(c, i, dlc_add(c, j, I(c, 1))), NULL), "((i - j) - 1)");
    /* non-linear products are kept as terms and still cancel */
    dlc_expr_t *ij = dlc_mul(c, i, j);
    assert_const(simp(c, dlc_sub(c, dlc_add(c, ij, k), dlc_add(c, k, dlc_mul(c, i, j))), NULL), 0);
    assert_same(simp(c, dlc_add(c, ij, ij), NULL), simp(c, dlc_mul(c, dlc_mul(c, i, j), I(c, 2)), NULL));
    dlc_ctx_destroy(&c);
}

/* ---- simplifier: floor division and modulo under ranges ---- */
static void test_simplify_divmod(void **state) {
    (void)state;
    dlc_ctx_t *c = dlc_ctx_new();
    dlc_expr_t *io = dlc_var(c, "io"), *ii = dlc_var(c, "ii"), *x = dlc_var(c, "x"), *hi = dlc_var(c, "hi");
    dlc_var_ranges_t r = {0};
    dlc_var_ranges_set(&r, io, 0, 7);
    dlc_var_ranges_set(&r, ii, 0, 15);
    dlc_var_ranges_set(&r, hi, 16, 31);
    dlc_expr_t *fused = dlc_add(c, dlc_mul(c, io, I(c, 16)), ii);
    assert_ptr_equal(simp(c, dlc_div(c, fused, I(c, 16)), &r), io);
    assert_ptr_equal(simp(c, dlc_mod(c, fused, I(c, 16)), &r), ii);
    /* order of the sum does not matter */
    assert_ptr_equal(simp(c, dlc_div(c, dlc_add(c, ii, dlc_mul(c, I(c, 16), io)), I(c, 16)), &r), io);
    /* a constant offset of whole periods moves into the quotient */
    assert_same(simp(c, dlc_div(c, dlc_add(c, fused, I(c, 32)), I(c, 16)), &r), simp(c, dlc_add(c, io, I(c, 2)), &r));
    assert_ptr_equal(simp(c, dlc_mod(c, dlc_add(c, fused, I(c, 32)), I(c, 16)), &r), ii);
    /* ... but not a partial one: ii + 3 crosses a period boundary */
    assert_int_equal(simp(c, dlc_div(c, dlc_add(c, fused, I(c, 35)), I(c, 16)), &r)->kind, DLC_EXPR_DIV);
    assert_int_equal(simp(c, dlc_mod(c, dlc_add(c, fused, I(c, 35)), I(c, 16)), &r)->kind, DLC_EXPR_MOD);
    /* without a range for ii nothing can be said */
    dlc_expr_t *free_ii = dlc_var(c, "jj");
    dlc_expr_t *e = simp(c, dlc_div(c, dlc_add(c, dlc_mul(c, io, I(c, 16)), free_ii), I(c, 16)), &r);
    assert_int_equal(e->kind, DLC_EXPR_DIV);
    e = simp(c, dlc_div(c, fused, I(c, 16)), NULL);
    assert_int_equal(e->kind, DLC_EXPR_DIV);
    /* multiples of the divisor */
    assert_same(simp(c, dlc_div(c, dlc_add(c, dlc_mul(c, io, I(c, 32)), ii), I(c, 16)), &r),
                simp(c, dlc_mul(c, io, I(c, 2)), &r));
    assert_const(simp(c, dlc_mod(c, dlc_mul(c, x, I(c, 12)), I(c, 4)), NULL), 0);
    assert_same(simp(c, dlc_div(c, dlc_mul(c, x, I(c, 12)), I(c, 4)), NULL), simp(c, dlc_mul(c, x, I(c, 3)), NULL));
    /* a range inside one shifted period: hi in [16, 31] */
    assert_const(simp(c, dlc_div(c, hi, I(c, 16)), &r), 1);
    assert_same(simp(c, dlc_mod(c, hi, I(c, 16)), &r), simp(c, dlc_sub(c, hi, I(c, 16)), &r));
    assert_const(simp(c, dlc_div(c, ii, I(c, 16)), &r), 0);
    assert_ptr_equal(simp(c, dlc_mod(c, ii, I(c, 16)), &r), ii);
    /* negative ranges: (ii - 16) / 16 = -1 for ii in [0, 15] */
    assert_const(simp(c, dlc_div(c, dlc_sub(c, ii, I(c, 16)), I(c, 16)), &r), -1);
    assert_ptr_equal(simp(c, dlc_mod(c, dlc_sub(c, ii, I(c, 16)), I(c, 16)), &r), ii);
    /* by one */
    assert_ptr_equal(simp(c, dlc_div(c, x, I(c, 1)), NULL), x);
    assert_const(simp(c, dlc_mod(c, x, I(c, 1)), NULL), 0);
    /* nested division */
    assert_same(simp(c, dlc_div(c, dlc_div(c, x, I(c, 4)), I(c, 8)), NULL), simp(c, dlc_div(c, x, I(c, 32)), NULL));
    /* a split of a fused axis: ((f / 7) * 7 + f % 7) recombines only as terms; its bounds are exact */
    dlc_var_ranges_free(&r);
    dlc_ctx_destroy(&c);
}

/* ---- simplifier: min/max/comparisons decided by ranges ---- */
static void test_simplify_minmax_cmp(void **state) {
    (void)state;
    dlc_ctx_t *c = dlc_ctx_new();
    dlc_expr_t *i = dlc_var(c, "i"), *j = dlc_var(c, "j"), *u = dlc_var(c, "u");
    dlc_var_ranges_t r = {0};
    dlc_var_ranges_set(&r, i, 0, 15);
    dlc_var_ranges_set(&r, j, 0, 3);
    assert_ptr_equal(simp(c, dlc_min(c, i, I(c, 16)), &r), i);
    assert_const(simp(c, dlc_max(c, i, I(c, 16)), &r), 16);
    assert_ptr_equal(simp(c, dlc_max(c, i, I(c, 0)), &r), i);
    assert_const(simp(c, dlc_min(c, i, I(c, 0)), &r), 0);
    assert_ptr_equal(simp(c, dlc_min(c, u, dlc_add(c, u, I(c, 1))), NULL), u); /* no range needed */
    assert_ptr_equal(simp(c, dlc_min(c, u, u), NULL), u);
    assert_same(simp(c, dlc_max(c, dlc_mul(c, i, I(c, 2)), i), &r), simp(c, dlc_mul(c, i, I(c, 2)), &r));
    assert_same(simp(c, dlc_min(c, I(c, 4), dlc_sub(c, I(c, 19), i)), &r), I(c, 4));
    dlc_expr_t *mm = simp(c, dlc_min(c, i, I(c, 8)), &r);
    assert_int_equal(mm->kind, DLC_EXPR_MIN); /* undecided */
    assert_int_equal(simp(c, dlc_min(c, u, I(c, 3)), &r)->kind, DLC_EXPR_MIN);
    /* comparisons */
    assert_const(simp(c, dlc_binary(c, DLC_EXPR_LT, i, I(c, 16)), &r), 1);
    assert_const(simp(c, dlc_binary(c, DLC_EXPR_GE, i, I(c, 16)), &r), 0);
    assert_const(simp(c, dlc_binary(c, DLC_EXPR_LE, dlc_add(c, dlc_mul(c, j, I(c, 4)), j), I(c, 15)), &r), 1);
    assert_const(simp(c, dlc_binary(c, DLC_EXPR_GT, dlc_sub(c, i, I(c, 16)), I(c, -1)), &r), 0);
    assert_const(simp(c, dlc_binary(c, DLC_EXPR_EQ, i, I(c, 20)), &r), 0);
    assert_const(simp(c, dlc_binary(c, DLC_EXPR_NE, i, I(c, -1)), &r), 1);
    assert_const(simp(c, dlc_binary(c, DLC_EXPR_LT, u, dlc_add(c, u, I(c, 1))), NULL), 1);
    assert_const(simp(c, dlc_binary(c, DLC_EXPR_EQ, dlc_add(c, u, I(c, 2)), dlc_add(c, I(c, 2), u)), NULL), 1);
    assert_int_equal(simp(c, dlc_binary(c, DLC_EXPR_LT, i, I(c, 8)), &r)->kind, DLC_EXPR_LT);
    assert_int_equal(simp(c, dlc_binary(c, DLC_EXPR_EQ, i, I(c, 8)), &r)->kind, DLC_EXPR_EQ);
    assert_int_equal(simp(c, dlc_binary(c, DLC_EXPR_LT, u, I(c, 8)), &r)->kind, DLC_EXPR_LT);
    /* a guard the way lowering builds it: io*4 + ii < 10 with io in [0, 2], ii in [0, 3] is undecided,
     * and decided once io is known to be <= 1 */
    dlc_expr_t *io = dlc_var(c, "io"), *ii = dlc_var(c, "ii");
    dlc_var_ranges_set(&r, io, 0, 2);
    dlc_var_ranges_set(&r, ii, 0, 3);
    dlc_expr_t *g = dlc_binary(c, DLC_EXPR_LT, dlc_add(c, dlc_mul(c, io, I(c, 4)), ii), I(c, 10));
    assert_int_equal(simp(c, g, &r)->kind, DLC_EXPR_LT);
    dlc_var_ranges_set(&r, io, 0, 1);
    assert_const(simp(c, g, &r), 1);
    dlc_var_ranges_unset(&r, io);
    assert_int_equal(simp(c, g, &r)->kind, DLC_EXPR_LT);
    dlc_var_ranges_free(&r);
    dlc_ctx_destroy(&c);
}

/* ---- dlc_expr_bounds ---- */
static void bounds_are(const dlc_expr_t *e, const dlc_var_ranges_t *r, int64_t lo, int64_t hi, int line) {
    int64_t l = 0, h = 0;
    int rc = dlc_expr_bounds(e, r, &l, &h);
    if (rc != 0 || l != lo || h != hi) {
        fprintf(stderr, "line %d: bounds of %s: rc %d [%lld, %lld], expected [%lld, %lld]\n", line, S(e), rc,
                (long long)l, (long long)h, (long long)lo, (long long)hi);
        fail();
    }
}
#define assert_bounds(e, r, lo, hi) bounds_are((e), (r), (lo), (hi), __LINE__)

static void test_bounds(void **state) {
    (void)state;
    dlc_ctx_t *c = dlc_ctx_new();
    dlc_expr_t *i = dlc_var(c, "i"), *j = dlc_var(c, "j"), *u = dlc_var(c, "u");
    dlc_var_ranges_t r = {0};
    dlc_var_ranges_set(&r, i, 0, 15);
    dlc_var_ranges_set(&r, j, 0, 3);
    int64_t lo, hi;
    assert_true(dlc_var_ranges_get(&r, j, &lo, &hi));
    assert_int_equal(hi, 3);
    assert_false(dlc_var_ranges_get(&r, u, &lo, &hi));
    assert_bounds(I(c, -5), &r, -5, -5);
    assert_bounds(i, &r, 0, 15);
    assert_bounds(dlc_add(c, dlc_mul(c, i, I(c, 4)), j), &r, 0, 63);
    assert_bounds(dlc_sub(c, i, j), &r, -3, 15);
    assert_bounds(dlc_mul(c, i, I(c, -2)), &r, -30, 0);
    assert_bounds(dlc_mul(c, dlc_sub(c, j, I(c, 1)), dlc_sub(c, i, I(c, 2))), &r, -13, 26);
    assert_bounds(dlc_div(c, dlc_add(c, i, I(c, 3)), I(c, 2)), &r, 1, 9);
    assert_bounds(dlc_div(c, dlc_sub(c, I(c, 0), i), I(c, 4)), &r, -4, 0);
    assert_bounds(dlc_mod(c, i, I(c, 5)), &r, 0, 4);
    assert_bounds(dlc_mod(c, dlc_add(c, i, I(c, 16)), I(c, 32)), &r, 16, 31); /* one period: exact */
    assert_bounds(dlc_mod(c, dlc_sub(c, j, I(c, 4)), I(c, 8)), &r, 4, 7);
    assert_bounds(dlc_min(c, i, j), &r, 0, 3);
    assert_bounds(dlc_max(c, i, dlc_add(c, j, I(c, 10))), &r, 10, 15);
    assert_bounds(dlc_binary(c, DLC_EXPR_LT, i, j), &r, 0, 1);
    assert_bounds(dlc_select(c, dlc_binary(c, DLC_EXPR_LT, i, j), I(c, -1), j), &r, -1, 3);
    assert_int_equal(dlc_expr_bounds(dlc_add(c, i, u), &r, &lo, &hi), DLC_EINVAL);
    assert_int_equal(dlc_expr_bounds(i, NULL, &lo, &hi), DLC_EINVAL);
    assert_int_equal(dlc_expr_bounds(dlc_div(c, i, j), &r, &lo, &hi), DLC_EINVAL); /* non-constant divisor */
    assert_int_equal(dlc_expr_bounds(dlc_const(c, 1.5, DLC_FLOAT32), &r, &lo, &hi), DLC_EINVAL);
    dlc_var_ranges_free(&r);
    dlc_ctx_destroy(&c);
}

/* ---- randomized: the simplifier preserves values, bounds contain them ---- */
static uint64_t rng_state;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}
static int64_t rnd_in(int64_t lo, int64_t hi) { return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1)); }

static int64_t fdiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

#define NV 3
typedef struct {
    dlc_expr_t *var[NV];
    int64_t val[NV];
} env_t;

/* evaluates an integer expression; *ok = 0 on a division by zero */
static int64_t eval(const dlc_expr_t *e, const env_t *env, int *ok) {
    int64_t a = 0, b = 0;
    if (e->n >= 1 && e->kind != DLC_EXPR_SELECT) a = eval(e->a[0], env, ok);
    if (e->n >= 2 && e->kind != DLC_EXPR_SELECT) b = eval(e->a[1], env, ok);
    switch (e->kind) {
    case DLC_EXPR_INT: return e->ival;
    case DLC_EXPR_VAR:
        for (int i = 0; i < NV; i++)
            if (env->var[i]->id == e->id) return env->val[i];
        fail_msg("unknown variable %s", e->name);
        return 0;
    case DLC_EXPR_ADD: return a + b;
    case DLC_EXPR_SUB: return a - b;
    case DLC_EXPR_MUL: return a * b;
    case DLC_EXPR_DIV: if (!b) { *ok = 0; return 0; } return fdiv(a, b);
    case DLC_EXPR_MOD: if (!b) { *ok = 0; return 0; } return a - fdiv(a, b) * b;
    case DLC_EXPR_MIN: return a < b ? a : b;
    case DLC_EXPR_MAX: return a > b ? a : b;
    case DLC_EXPR_EQ: return a == b;
    case DLC_EXPR_NE: return a != b;
    case DLC_EXPR_LT: return a < b;
    case DLC_EXPR_LE: return a <= b;
    case DLC_EXPR_GT: return a > b;
    case DLC_EXPR_GE: return a >= b;
    case DLC_EXPR_AND: return a && b;
    case DLC_EXPR_OR: return a || b;
    case DLC_EXPR_NOT: return !a;
    case DLC_EXPR_SELECT: return eval(e->a[0], env, ok) ? eval(e->a[1], env, ok) : eval(e->a[2], env, ok);
    default: fail_msg("cannot evaluate kind %d", (int)e->kind); return 0;
    }
}

static dlc_expr_t *gen(dlc_ctx_t *c, const env_t *env, int depth) {
    int k = (int)rnd_in(0, depth <= 0 ? 1 : 11);
    switch (k) {
    case 0: return env->var[rnd_in(0, NV - 1)];
    case 1: return I(c, rnd_in(-20, 20));
    case 2: return dlc_add(c, gen(c, env, depth - 1), gen(c, env, depth - 1));
    case 3: return dlc_sub(c, gen(c, env, depth - 1), gen(c, env, depth - 1));
    case 4: return dlc_mul(c, gen(c, env, depth - 1), I(c, rnd_in(-5, 17)));
    case 5: return dlc_mul(c, gen(c, env, depth - 1), env->var[rnd_in(0, NV - 1)]); /* non-linear term */
    case 6: {
        int64_t d = rnd_in(1, 17) * (rnd() % 5 == 0 ? -1 : 1);
        return dlc_div(c, gen(c, env, depth - 1), I(c, d));
    }
    case 7: {
        int64_t d = rnd_in(1, 17) * (rnd() % 5 == 0 ? -1 : 1);
        return dlc_mod(c, gen(c, env, depth - 1), I(c, d));
    }
    case 8: return dlc_min(c, gen(c, env, depth - 1), gen(c, env, depth - 1));
    case 9: return dlc_max(c, gen(c, env, depth - 1), gen(c, env, depth - 1));
    case 10: {
        static const dlc_expr_kind_t cmps[] = {DLC_EXPR_EQ, DLC_EXPR_NE, DLC_EXPR_LT, DLC_EXPR_LE, DLC_EXPR_GT, DLC_EXPR_GE};
        dlc_expr_t *cond = dlc_binary(c, cmps[rnd_in(0, 5)], gen(c, env, depth - 1), gen(c, env, depth - 1));
        return dlc_select(c, cond, gen(c, env, depth - 1), gen(c, env, depth - 1));
    }
    default:
        /* the shapes lowering produces: (o * f + i) with i in its range, divided or reduced by f */
        {
            int64_t f = rnd_in(2, 8);
            dlc_expr_t *lin = dlc_add(c, dlc_mul(c, env->var[0], I(c, f)), env->var[1]);
            return rnd() & 1 ? dlc_div(c, dlc_add(c, lin, gen(c, env, depth - 2)), I(c, f))
                             : dlc_mod(c, dlc_add(c, lin, gen(c, env, depth - 2)), I(c, f));
        }
    }
}

/* TE_SEEDS=N runs N seeds instead of 1500 (for a longer search). */
static void test_simplify_random(void **state) {
    (void)state;
    static const int64_t ranges[][2] = {{0, 7}, {0, 3}, {-5, 9}};
    int checked = 0;
    for (uint64_t seed = 1; seed <= (getenv("TE_SEEDS") ? strtoull(getenv("TE_SEEDS"), 0, 10) : 1500); seed++) {
        rng_state = seed * 0x9E3779B97F4A7C15ULL;
        dlc_ctx_t *c = dlc_ctx_new();
        env_t env;
        dlc_var_ranges_t r = {0};
        const char *names[NV] = {"x", "y", "z"};
        for (int v = 0; v < NV; v++) {
            env.var[v] = dlc_var(c, names[v]);
            dlc_var_ranges_set(&r, env.var[v], ranges[v][0], ranges[v][1]);
        }
        dlc_expr_t *e = gen(c, &env, 4);
        dlc_expr_t *s_r = dlc_simplify(c, e, &r), *s_n = dlc_simplify(c, e, NULL);
        int64_t blo = 0, bhi = 0;
        int have_bounds = dlc_expr_bounds(e, &r, &blo, &bhi) == 0;
        for (env.val[0] = ranges[0][0]; env.val[0] <= ranges[0][1]; env.val[0]++)
            for (env.val[1] = ranges[1][0]; env.val[1] <= ranges[1][1]; env.val[1]++)
                for (env.val[2] = ranges[2][0]; env.val[2] <= ranges[2][1]; env.val[2]++) {
                    int ok = 1;
                    int64_t want = eval(e, &env, &ok);
                    if (!ok) continue;
                    int64_t got_r = eval(s_r, &env, &ok), got_n = eval(s_n, &env, &ok);
                    if (!ok || got_r != want || got_n != want ||
                        (have_bounds && (want < blo || want > bhi))) {
                        fprintf(stderr, "seed %llu: x=%lld y=%lld z=%lld\n  e    = %s = %lld\n",
                                (unsigned long long)seed, (long long)env.val[0], (long long)env.val[1],
                                (long long)env.val[2], S(e), (long long)want);
                        fprintf(stderr, "  simplify(ranges) = %s = %lld\n  simplify(NULL)   = %s = %lld\n", S(s_r),
                                (long long)got_r, S(s_n), (long long)got_n);
                        if (have_bounds) fprintf(stderr, "  bounds [%lld, %lld]\n", (long long)blo, (long long)bhi);
                        fail();
                    }
                    checked++;
                }
        dlc_var_ranges_free(&r);
        dlc_ctx_destroy(&c);
    }
    assert_true(checked > 100000);
}

/* ---- schedules ---- */

typedef struct {
    dlc_ctx_t *ctx;
    dlc_tensor_t *A, *W, *D, *R;
    dlc_schedule_t *s;
    dlc_stage_t *sd, *sr;
} dense_relu_t;

/* D = dense(A[M, K], W[N, K]), R = relu(D), scheduled for R */
static void dense_relu(dense_relu_t *x, int64_t M, int64_t N, int64_t K) {
    x->ctx = dlc_ctx_new();
    x->A = dlc_te_placeholder(x->ctx, "A", 2, (int64_t[]){M, K}, DLC_FLOAT32);
    x->W = dlc_te_placeholder(x->ctx, "W", 2, (int64_t[]){N, K}, DLC_FLOAT32);
    x->D = dlc_topi_dense(x->ctx, x->A, x->W, x->A->dtype);
    x->R = dlc_topi_relu(x->ctx, x->D);
    assert_non_null(x->R);
    x->s = dlc_sched_create(x->ctx, 1, &x->R);
    assert_non_null(x->s);
    x->sd = dlc_sched_stage(x->s, x->D);
    x->sr = dlc_sched_stage(x->s, x->R);
    assert_non_null(x->sd);
    assert_non_null(x->sr);
}

static void leaves_are(dlc_stage_t *st, int n, dlc_iter_var_t *const *want, const int64_t *ext, int line) {
    int got;
    dlc_iter_var_t *const *lv = dlc_stage_leaves(st, &got);
    int ok = got == n;
    for (int i = 0; ok && i < n; i++) ok = lv[i] == want[i] && lv[i]->extent == ext[i];
    if (!ok) {
        fprintf(stderr, "line %d: leaves of %s:", line, dlc_stage_name(st));
        for (int i = 0; i < got; i++) fprintf(stderr, " %s(%lld)", lv[i]->var->name, (long long)lv[i]->extent);
        fprintf(stderr, "\n  expected:");
        for (int i = 0; i < n; i++) fprintf(stderr, " %s(%lld)", want[i]->var->name, (long long)ext[i]);
        fprintf(stderr, "\n");
        fail();
    }
}
#define assert_leaves(st, n, ...) \
    leaves_are((st), (n), (dlc_iter_var_t *[]){__VA_ARGS__}, (const int64_t *)leaf_ext, __LINE__)
static int64_t leaf_ext[16];
#define EXT(...) memcpy(leaf_ext, (int64_t[]){__VA_ARGS__}, sizeof((int64_t[]){__VA_ARGS__}))

static void test_schedule_basics(void **state) {
    (void)state;
    dense_relu_t x;
    dense_relu(&x, 10, 7, 6);
    assert_int_equal(dlc_sched_num_stages(x.s), 2);
    assert_ptr_equal(dlc_sched_stage_at(x.s, 0), x.sd); /* producers first */
    assert_ptr_equal(dlc_sched_stage_at(x.s, 1), x.sr);
    assert_null(dlc_sched_stage_at(x.s, 2));
    assert_null(dlc_sched_stage(x.s, x.A));
    assert_ptr_equal(dlc_stage_tensor(x.sd), x.D);
    assert_string_equal(dlc_stage_name(x.sd), "dense");
    assert_int_equal(dlc_stage_num_axes(x.sd), 2);
    assert_int_equal(dlc_stage_num_reduce_axes(x.sd), 1);
    assert_int_equal(dlc_stage_num_reduce_axes(x.sr), 0);
    assert_ptr_equal(dlc_sched_ctx(x.s), x.ctx);
    assert_string_equal(dlc_scope_name(DLC_SCOPE_SHARED), "shared");
    dlc_scope_t sc;
    assert_int_equal(dlc_scope_parse("local", &sc), 0);
    assert_int_equal(sc, DLC_SCOPE_LOCAL);
    assert_int_equal(dlc_scope_parse("texture", &sc), DLC_EINVAL);
    dlc_thread_tag_t tg;
    assert_int_equal(dlc_thread_tag_parse("threadIdx.y", &tg), 0);
    assert_int_equal(tg, DLC_THREAD_THREAD_Y);
    assert_string_equal(dlc_thread_tag_name(DLC_THREAD_BLOCK_Z), "blockIdx.z");
    assert_int_equal(dlc_thread_tag_parse("warp", &tg), DLC_EINVAL);
    dlc_ctx_destroy(&x.ctx);
}

static void test_schedule_leaves(void **state) {
    (void)state;
    dense_relu_t x;
    dense_relu(&x, 10, 7, 6);
    dlc_stage_t *st = x.sd;
    dlc_iter_var_t *i = dlc_stage_axis(st, 0), *j = dlc_stage_axis(st, 1), *k = dlc_stage_reduce_axis(st, 0);
    assert_null(dlc_stage_axis(st, 2));
    assert_null(dlc_stage_reduce_axis(st, 1));
    EXT(10, 7, 6);
    assert_leaves(st, 3, i, j, k);
    assert_int_equal(k->kind, DLC_IV_REDUCE);
    dlc_iter_var_t *io, *ii, *jo, *ji, *ko, *ki, *f;
    /* non-dividing factor: outer = ceil(10 / 4) */
    assert_int_equal(dlc_stage_split(st, i, 4, &io, &ii), 0);
    EXT(3, 4, 7, 6);
    assert_leaves(st, 4, io, ii, j, k);
    assert_int_equal(io->kind, DLC_IV_DATA);
    /* nparts: inner = ceil(7 / 3) = 3, outer = ceil(7 / 3) = 3 */
    assert_int_equal(dlc_stage_split_nparts(st, j, 3, &jo, &ji), 0);
    EXT(3, 4, 3, 3, 6);
    assert_leaves(st, 5, io, ii, jo, ji, k);
    /* factor larger than the extent: one outer iteration */
    assert_int_equal(dlc_stage_split(st, k, 10, &ko, &ki), 0);
    EXT(3, 4, 3, 3, 1, 6);
    assert_leaves(st, 6, io, ii, jo, ji, ko, ki);
    assert_int_equal(ko->kind, DLC_IV_REDUCE);
    assert_int_equal(ki->kind, DLC_IV_REDUCE);
    /* fuse adjacent data leaves */
    assert_int_equal(dlc_stage_fuse(st, ii, jo, &f), 0);
    EXT(3, 12, 3, 1, 6);
    assert_leaves(st, 5, io, f, ji, ko, ki);
    /* reorder: the named leaves swap into the positions they occupy */
    assert_int_equal(dlc_stage_reorder(st, 2, (dlc_iter_var_t *[]){ki, io}), 0);
    EXT(6, 12, 3, 1, 3);
    assert_leaves(st, 5, ki, f, ji, ko, io);
    assert_int_equal(dlc_stage_reorder(st, 3, (dlc_iter_var_t *[]){io, ji, f}), 0);
    EXT(6, 3, 3, 1, 12);
    assert_leaves(st, 5, ki, io, ji, ko, f);
    /* split the fused axis again */
    dlc_iter_var_t *fo, *fi;
    assert_int_equal(dlc_stage_split(st, f, 5, &fo, &fi), 0);
    EXT(6, 3, 3, 1, 3, 5);
    assert_leaves(st, 6, ki, io, ji, ko, fo, fi);
    /* nparts larger than the extent: inner 1 */
    dlc_iter_var_t *a, *b;
    assert_int_equal(dlc_stage_split_nparts(st, ji, 20, &a, &b), 0);
    assert_int_equal(a->extent, 3);
    assert_int_equal(b->extent, 1);
    /* tile on the relu stage */
    dlc_stage_t *sr = x.sr;
    dlc_iter_var_t *ri = dlc_stage_axis(sr, 0), *rj = dlc_stage_axis(sr, 1), *xo, *yo, *xi, *yi;
    assert_int_equal(dlc_stage_tile(sr, ri, rj, 4, 3, &xo, &yo, &xi, &yi), 0);
    EXT(3, 3, 4, 3);
    assert_leaves(sr, 4, xo, yo, xi, yi);
    dlc_iter_var_t *t;
    assert_int_equal(dlc_stage_fuse(sr, xo, yo, &t), 0);
    assert_int_equal(t->extent, 9);
    EXT(9, 4, 3);
    assert_leaves(sr, 3, t, xi, yi);
    dlc_ctx_destroy(&x.ctx);
}

static void test_schedule_errors(void **state) {
    (void)state;
    dense_relu_t x;
    dense_relu(&x, 8, 5, 6);
    dlc_stage_t *sd = x.sd, *sr = x.sr;
    dlc_iter_var_t *m = dlc_stage_axis(sd, 0), *n = dlc_stage_axis(sd, 1), *k = dlc_stage_reduce_axis(sd, 0);
    dlc_iter_var_t *rm = dlc_stage_axis(sr, 0), *o1, *o2;
    assert_sched_error(dlc_stage_split(sd, m, 0, &o1, &o2), "factor");
    assert_sched_error(dlc_stage_split(sd, m, -3, &o1, &o2), "factor");
    assert_sched_error(dlc_stage_split_nparts(sd, m, 0, &o1, &o2), "nparts");
    assert_sched_error(dlc_stage_split(sd, NULL, 2, &o1, &o2), "split");
    assert_sched_error(dlc_stage_split(sd, rm, 2, &o1, &o2), "not a leaf");
    assert_sched_error(dlc_stage_parallel(sd, k), "reduce axis");
    assert_sched_error(dlc_stage_bind(sd, k, DLC_THREAD_THREAD_X), "reduce axis");
    assert_sched_error(dlc_stage_bind(sd, m, DLC_THREAD_COUNT), "tag");
    assert_sched_error(dlc_stage_fuse(sd, n, k, &o1), "reduce");
    assert_sched_error(dlc_stage_fuse(sd, m, k, &o1), "adjacent");
    assert_sched_error(dlc_stage_fuse(sd, n, m, &o1), "adjacent"); /* inner first */
    assert_sched_error(dlc_stage_reorder(sd, 2, (dlc_iter_var_t *[]){m, rm}), "not a leaf");
    assert_sched_error(dlc_stage_reorder(sd, 2, (dlc_iter_var_t *[]){m, m}), "twice");
    assert_sched_error(dlc_stage_vectorize(sd, rm), "not a leaf");
    assert_sched_error(dlc_stage_pragma(sd, rm, "k", "v"), "not a leaf");
    assert_sched_error(dlc_stage_tensorize(sd, m, NULL), "tensorize");
    assert_sched_error(dlc_stage_compute_inline(sd), "reduction");
    assert_sched_error(dlc_stage_compute_inline(sr), "output");
    assert_sched_error(dlc_stage_compute_at(sr, sd, m), "output");
    assert_sched_error(dlc_stage_compute_at(sd, sd, m), "parent");
    assert_sched_error(dlc_stage_compute_at(sd, NULL, m), "parent");
    assert_sched_error(dlc_stage_compute_at(sd, sr, m), "not a leaf"); /* m belongs to dense */
    assert_sched_error(dlc_stage_set_scope(sr, DLC_SCOPE_SHARED), "output");
    /* a split axis is no longer a leaf */
    dlc_iter_var_t *mo, *mi;
    assert_int_equal(dlc_stage_split(sd, m, 4, &mo, &mi), 0);
    assert_sched_error(dlc_stage_split(sd, m, 2, &o1, &o2), "not a leaf");
    assert_sched_error(dlc_stage_vectorize(sd, m), "not a leaf");
    assert_sched_error(dlc_stage_fuse(sd, mo, n, &o1), "adjacent");
    /* cache_write after scheduling the stage */
    assert_null(dlc_sched_cache_write(x.s, x.D, DLC_SCOPE_LOCAL));
    assert_sched_error(dlc_last_status(), "before");
    assert_null(dlc_sched_cache_write(x.s, x.A, DLC_SCOPE_LOCAL)); /* a placeholder has no stage */
    assert_sched_error(dlc_last_status(), "stage");
    assert_null(dlc_sched_cache_read(x.s, x.A, DLC_SCOPE_LOCAL, 0, NULL));
    assert_sched_error(dlc_last_status(), "reader");
    assert_null(dlc_sched_cache_read(x.s, x.A, DLC_SCOPE_LOCAL, 1, &x.W)); /* a reader without a stage */
    assert_sched_error(dlc_last_status(), "stage");
    assert_null(dlc_sched_create(x.ctx, 1, &x.A));
    assert_sched_error(dlc_last_status(), "compute");
    /* an error leaves the stage as it was */
    int nl;
    dlc_stage_leaves(sd, &nl);
    assert_int_equal(nl, 4);
    dlc_ctx_destroy(&x.ctx);

    /* compute_at to a stage that does not consume the producer */
    dlc_ctx_t *c = dlc_ctx_new();
    int64_t sh[2] = {6, 5};
    dlc_tensor_t *A = dlc_te_placeholder(c, "A", 2, sh, DLC_FLOAT32);
    dlc_tensor_t *B = dlc_te_placeholder(c, "B", 2, sh, DLC_FLOAT32);
    dlc_tensor_t *X = dlc_topi_relu(c, A), *Y = dlc_topi_relu(c, B);
    dlc_iter_var_t *ax[2] = {dlc_te_axis(c, "i", 6), dlc_te_axis(c, "j", 5)};
    dlc_tensor_t *O = dlc_te_compute_body(c, "O", 2, sh, ax,
                                          dlc_add(c, dlc_read2(c, X, ax[0]->var, ax[1]->var),
                                                  dlc_read2(c, Y, ax[0]->var, ax[1]->var)));
    dlc_schedule_t *s = dlc_sched_create(c, 1, &O);
    assert_int_equal(dlc_sched_num_stages(s), 3);
    dlc_stage_t *sx = dlc_sched_stage(s, X), *sy = dlc_sched_stage(s, Y), *so = dlc_sched_stage(s, O);
    assert_sched_error(dlc_stage_compute_at(sx, sy, dlc_stage_axis(sy, 0)), "consumer");
    assert_sched_error(dlc_stage_compute_at(sy, sx, dlc_stage_axis(sx, 0)), "consumer");
    assert_int_equal(dlc_stage_compute_at(sx, so, dlc_stage_axis(so, 0)), 0);
    /* a stage inlined cannot be scheduled any more */
    assert_int_equal(dlc_stage_compute_inline(sy), 0);
    assert_sched_error(dlc_stage_split(sy, dlc_stage_axis(sy, 0), 2, &o1, &o2), "inlined");
    dlc_ctx_destroy(&c);
}

/* ---- lowering: the IR text shows the schedule ---- */
static char *lower_text(dlc_schedule_t *s, int n_args, dlc_tensor_t *const *args, int line) {
    dlc_lowered_func_t *f = NULL;
    int rc = dlc_lower(s, "kern", n_args, args, 1, &f);
    if (rc != 0 || !f) {
        fprintf(stderr, "line %d: lowering failed: %s\n", line, dlc_last_error());
        fail();
    }
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    dlc_func_print(f, &sb);
    return dlc_strbuf_take(&sb);
}

static void text_has(const char *text, const char *needle, int want, int line) {
    if ((strstr(text, needle) != NULL) != want) {
        fprintf(stderr, "line %d: IR should %scontain '%s':\n%s\n", line, want ? "" : "not ", needle, text);
        fail();
    }
}
#define assert_has(text, needle) text_has((text), (needle), 1, __LINE__)
#define assert_lacks(text, needle) text_has((text), (needle), 0, __LINE__)

static const dlc_intrin_decl_t test_gemm = {
    "test_gemm_4x8",
    "static void test_gemm_4x8(int64_t m, int64_t n, int64_t k, float *o, const float *a, const float *b,\n"
    "                          int64_t ldo, int64_t lda, int64_t ldb) {\n"
    "  for (int64_t i = 0; i < m; i++) for (int64_t j = 0; j < n; j++) for (int64_t r = 0; r < k; r++)\n"
    "    o[i * ldo + j] += a[i * lda + r] * b[j * ldb + r];\n}\n",
    1};

static void test_lower_ir(void **state) {
    (void)state;
    /* naive: three loops, init and update */
    dense_relu_t x;
    dense_relu(&x, 8, 16, 4);
    dlc_tensor_t *args[3] = {x.A, x.W, x.R};
    char *t = lower_text(x.s, 3, args, __LINE__);
    assert_has(t, "func kern(A: float32[8, 4], W: float32[16, 4], relu: float32[8, 16])");
    assert_has(t, "for i in [0, +8)");
    assert_has(t, "for k in [0, +4)");
    assert_has(t, "allocate dense");
    assert_lacks(t, "vectorized");
    free(t);
    /* annotations */
    dlc_iter_var_t *jo, *ji;
    assert_int_equal(dlc_stage_split(x.sr, dlc_stage_axis(x.sr, 1), 8, &jo, &ji), 0);
    assert_int_equal(dlc_stage_vectorize(x.sr, ji), 0);
    assert_int_equal(dlc_stage_parallel(x.sr, dlc_stage_axis(x.sr, 0)), 0);
    assert_int_equal(dlc_stage_unroll(x.sd, dlc_stage_reduce_axis(x.sd, 0)), 0);
    assert_int_equal(dlc_stage_pragma(x.sd, dlc_stage_axis(x.sd, 0), "auto_unroll_max_step", "16"), 0);
    t = lower_text(x.s, 3, args, __LINE__);
    assert_has(t, "vectorized for j_i in [0, +8)");
    assert_has(t, "for j_o in [0, +2)");
    assert_has(t, "parallel for i in [0, +8)");
    assert_has(t, "unroll for k in [0, +4)");
    assert_has(t, "pragma auto_unroll_max_step = 16");
    free(t);
    dlc_ctx_destroy(&x.ctx);

    /* non-dividing split: the loop is tightened or guarded */
    dense_relu(&x, 10, 5, 3);
    dlc_iter_var_t *io, *ii;
    assert_int_equal(dlc_stage_split(x.sd, dlc_stage_axis(x.sd, 0), 4, &io, &ii), 0);
    args[0] = x.A, args[1] = x.W, args[2] = x.R;
    t = lower_text(x.s, 3, args, __LINE__);
    assert_has(t, "for i_o in [0, +3)");
    assert_true(strstr(t, "min(") || strstr(t, "if "));
    free(t);
    dlc_ctx_destroy(&x.ctx);

    /* cache_write + compute_at, bind, tensorize */
    dense_relu(&x, 8, 16, 4);
    args[0] = x.A, args[1] = x.W, args[2] = x.R;
    dlc_tensor_t *DL = dlc_sched_cache_write(x.s, x.D, DLC_SCOPE_LOCAL);
    assert_non_null(DL);
    assert_string_equal(DL->name, "dense_local");
    assert_int_equal(dlc_sched_num_stages(x.s), 3);
    dlc_stage_t *sl = dlc_sched_stage(x.s, DL);
    assert_ptr_equal(dlc_sched_stage_at(x.s, 0), sl);
    assert_int_equal(dlc_stage_num_reduce_axes(x.sd), 0); /* the copy */
    assert_int_equal(dlc_stage_num_reduce_axes(sl), 1);
    dlc_iter_var_t *mo, *no, *mi, *ni;
    dlc_stage_t *sd = x.sd;
    assert_int_equal(dlc_stage_tile(sd, dlc_stage_axis(sd, 0), dlc_stage_axis(sd, 1), 4, 8, &mo, &no, &mi, &ni), 0);
    assert_int_equal(dlc_stage_bind(sd, mo, DLC_THREAD_BLOCK_X), 0);
    assert_int_equal(dlc_stage_bind(sd, mi, DLC_THREAD_THREAD_X), 0);
    assert_int_equal(dlc_stage_compute_at(sl, sd, no), 0);
    assert_int_equal(dlc_stage_tensorize(sl, dlc_stage_axis(sl, 0), &test_gemm), 0);
    assert_int_equal(dlc_stage_compute_inline(x.sd), 0); /* not an output: may go inline... */
    assert_int_equal(dlc_stage_compute_root(x.sd), 0);   /* ...and back */
    t = lower_text(x.s, 3, args, __LINE__);
    assert_has(t, "blockIdx.x for ");
    assert_has(t, "threadIdx.x for ");
    assert_has(t, "allocate dense_local");
    assert_has(t, "in local");
    assert_has(t, "test_gemm_4x8(");
    free(t);
    dlc_ctx_destroy(&x.ctx);

    /* lowering errors */
    dense_relu(&x, 4, 4, 4);
    dlc_lowered_func_t *f;
    assert_int_equal(dlc_lower(x.s, "bad", 2, (dlc_tensor_t *[]){x.A, x.D}, 1, &f), DLC_ELOWER); /* D is not an output */
    assert_int_equal(dlc_lower(x.s, "bad", 3, (dlc_tensor_t *[]){x.A, x.A, x.R}, 1, &f), DLC_ELOWER);
    assert_int_equal(dlc_lower(x.s, "bad", 3, (dlc_tensor_t *[]){x.A, x.W, x.R}, 0, &f), DLC_ELOWER);
    /* a producer attached inside one consumer but read by another at root */
    dlc_ctx_destroy(&x.ctx);
    dlc_ctx_t *c = dlc_ctx_new();
    dlc_op_spec_t sp;
    dlc_op_t op;
    assert_int_equal(dlc_op_parse("softmax:4,5", &sp), 0);
    assert_int_equal(dlc_op_build(c, &sp, &op), 0);
    dlc_schedule_t *s = dlc_sched_create(c, 1, &op.out);
    dlc_stage_t *ex = NULL, *out = dlc_sched_stage(s, op.out);
    for (int i = 0; i < dlc_sched_num_stages(s); i++)
        if (strcmp(dlc_stage_name(dlc_sched_stage_at(s, i)), "softmax_exp") == 0) ex = dlc_sched_stage_at(s, i);
    assert_non_null(ex);
    assert_int_equal(dlc_stage_compute_at(ex, out, dlc_stage_axis(out, 0)), 0);
    assert_int_equal(dlc_lower(s, "bad", op.n_args, op.args, 1, &f), DLC_ELOWER);
    if (!strstr(dlc_last_error(), "softmax_sum reads softmax_exp, which is attached inside softmax"))
        fail_msg("message: %s", dlc_last_error());
    /* ... fine once the other reader is attached there too */
    dlc_stage_t *sm = NULL;
    for (int i = 0; i < dlc_sched_num_stages(s); i++)
        if (strcmp(dlc_stage_name(dlc_sched_stage_at(s, i)), "softmax_sum") == 0) sm = dlc_sched_stage_at(s, i);
    assert_int_equal(dlc_stage_compute_at(sm, out, dlc_stage_axis(out, 0)), 0);
    assert_int_equal(dlc_lower(s, "good", op.n_args, op.args, 1, &f), 0);
    dlc_ctx_destroy(&c);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dtypes),
        cmocka_unit_test(test_builders),
        cmocka_unit_test(test_print),
        cmocka_unit_test(test_simplify_constants),
        cmocka_unit_test(test_simplify_linear),
        cmocka_unit_test(test_simplify_divmod),
        cmocka_unit_test(test_simplify_minmax_cmp),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_simplify_random),
        cmocka_unit_test(test_schedule_basics),
        cmocka_unit_test(test_schedule_leaves),
        cmocka_unit_test(test_schedule_errors),
        cmocka_unit_test(test_lower_ir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
