/* expr.c — building, comparing, substituting and printing expressions. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "compiler-core/core_impl.h"

dlc_expr_t *dlc__expr_new(dlc_ctx_t *ctx, dlc_expr_kind_t kind, dlc_dtype_t dtype, int n) {
    dlc_expr_t *e = dlc_arena_alloc(ctx->arena, sizeof *e);
    e->kind = kind;
    e->dtype = dtype;
    e->n = n;
    if (n) e->a = dlc_arena_alloc(ctx->arena, sizeof(dlc_expr_t *) * (size_t)n);
    return e;
}

dlc_expr_t *dlc_int(dlc_ctx_t *ctx, int64_t v) {
    dlc_expr_t *e = dlc__expr_new(ctx, DLC_EXPR_INT, DLC_INT64, 0);
    e->ival = v;
    e->fval = (double)v;
    return e;
}

dlc_expr_t *dlc_const(dlc_ctx_t *ctx, double v, dlc_dtype_t dtype) {
    if (!dlc_dtype_is_float(dtype)) {
        dlc_expr_t *e = dlc_int(ctx, (int64_t)v);
        e->dtype = dtype;
        return e;
    }
    dlc_expr_t *e = dlc__expr_new(ctx, DLC_EXPR_FLOAT, dtype, 0);
    e->fval = v;
    return e;
}

dlc_expr_t *dlc_var(dlc_ctx_t *ctx, const char *name) {
    dlc_expr_t *e = dlc__expr_new(ctx, DLC_EXPR_VAR, DLC_INT64, 0);
    e->name = dlc_arena_strdup(ctx->arena, name);
    e->id = ctx->next_var_id++;
    return e;
}

static int is_cmp(dlc_expr_kind_t k) { return k >= DLC_EXPR_EQ && k <= DLC_EXPR_GE; }

/* An untyped integer literal takes the dtype of the other operand. */
static dlc_expr_t *coerce_const(dlc_ctx_t *ctx, dlc_expr_t *c, dlc_dtype_t to) {
    if (c->kind == DLC_EXPR_INT && c->dtype == DLC_INT64 && to != DLC_INT64) return dlc_const(ctx, (double)c->ival, to);
    return c;
}

dlc_expr_t *dlc_binary(dlc_ctx_t *ctx, dlc_expr_kind_t kind, dlc_expr_t *a, dlc_expr_t *b) {
    a = coerce_const(ctx, a, b->dtype);
    b = coerce_const(ctx, b, a->dtype);
    dlc_dtype_t dt = a->dtype;
    if (a->dtype != b->dtype) {
        /* floats win over integers; among integers the wider one */
        if (dlc_dtype_is_float(b->dtype) && !dlc_dtype_is_float(a->dtype)) dt = b->dtype;
        else if (dlc_dtype_is_float(a->dtype) && !dlc_dtype_is_float(b->dtype)) dt = a->dtype;
        else if (a->dtype == DLC_FLOAT16 || b->dtype == DLC_FLOAT16) dt = DLC_FLOAT32;
        else dt = dlc_dtype_bytes(a->dtype) >= dlc_dtype_bytes(b->dtype) ? a->dtype : b->dtype;
    }
    if (is_cmp(kind) || kind == DLC_EXPR_AND || kind == DLC_EXPR_OR) dt = DLC_BOOL;
    dlc_expr_t *e = dlc__expr_new(ctx, kind, dt, 2);
    e->a[0] = a;
    e->a[1] = b;
    return e;
}

dlc_expr_t *dlc_add(dlc_ctx_t *c, dlc_expr_t *a, dlc_expr_t *b) { return dlc_binary(c, DLC_EXPR_ADD, a, b); }
dlc_expr_t *dlc_sub(dlc_ctx_t *c, dlc_expr_t *a, dlc_expr_t *b) { return dlc_binary(c, DLC_EXPR_SUB, a, b); }
dlc_expr_t *dlc_mul(dlc_ctx_t *c, dlc_expr_t *a, dlc_expr_t *b) { return dlc_binary(c, DLC_EXPR_MUL, a, b); }
dlc_expr_t *dlc_div(dlc_ctx_t *c, dlc_expr_t *a, dlc_expr_t *b) { return dlc_binary(c, DLC_EXPR_DIV, a, b); }
dlc_expr_t *dlc_mod(dlc_ctx_t *c, dlc_expr_t *a, dlc_expr_t *b) { return dlc_binary(c, DLC_EXPR_MOD, a, b); }
dlc_expr_t *dlc_min(dlc_ctx_t *c, dlc_expr_t *a, dlc_expr_t *b) { return dlc_binary(c, DLC_EXPR_MIN, a, b); }
dlc_expr_t *dlc_max(dlc_ctx_t *c, dlc_expr_t *a, dlc_expr_t *b) { return dlc_binary(c, DLC_EXPR_MAX, a, b); }

dlc_expr_t *dlc_not(dlc_ctx_t *ctx, dlc_expr_t *a) {
    dlc_expr_t *e = dlc__expr_new(ctx, DLC_EXPR_NOT, DLC_BOOL, 1);
    e->a[0] = a;
    return e;
}

dlc_expr_t *dlc_select(dlc_ctx_t *ctx, dlc_expr_t *cond, dlc_expr_t *t, dlc_expr_t *f) {
    t = coerce_const(ctx, t, f->dtype);
    f = coerce_const(ctx, f, t->dtype);
    dlc_expr_t *e = dlc__expr_new(ctx, DLC_EXPR_SELECT, t->dtype, 3);
    e->a[0] = cond;
    e->a[1] = t;
    e->a[2] = f;
    return e;
}

dlc_expr_t *dlc_cast(dlc_ctx_t *ctx, dlc_dtype_t dtype, dlc_expr_t *a) {
    if (a->dtype == dtype) return a;
    dlc_expr_t *e = dlc__expr_new(ctx, DLC_EXPR_CAST, dtype, 1);
    e->a[0] = a;
    return e;
}

static const struct {
    const char *name;
    int arity;
} intrins[] = {
#define X(e, n, a) {n, a},
    DLC_INTRIN_MAP(X)
#undef X
};
_Static_assert(sizeof intrins / sizeof intrins[0] == DLC_INTRIN_COUNT, "intrinsic table");

const char *dlc_intrin_name(dlc_intrin_t fn) { return (unsigned)fn < DLC_INTRIN_COUNT ? intrins[fn].name : "?"; }

dlc_expr_t *dlc_call(dlc_ctx_t *ctx, dlc_intrin_t fn, int n, dlc_expr_t *const *args) {
    if ((unsigned)fn >= DLC_INTRIN_COUNT || n != intrins[fn].arity) {
        dlc_error(DLC_EINVAL, "intrinsic %s takes %d arguments, got %d", dlc_intrin_name(fn),
                  (unsigned)fn < DLC_INTRIN_COUNT ? intrins[fn].arity : 0, n);
        return NULL;
    }
    dlc_dtype_t dt = args[0]->dtype;
    if (!dlc_dtype_is_float(dt)) dt = DLC_FLOAT32;
    dlc_expr_t *e = dlc__expr_new(ctx, DLC_EXPR_CALL, dt, n);
    e->intrin = fn;
    for (int i = 0; i < n; i++) e->a[i] = coerce_const(ctx, args[i], dt);
    return e;
}

dlc_expr_t *dlc_call1(dlc_ctx_t *ctx, dlc_intrin_t fn, dlc_expr_t *a) { return dlc_call(ctx, fn, 1, &a); }

dlc_expr_t *dlc_read(dlc_ctx_t *ctx, dlc_tensor_t *t, dlc_expr_t *const *idx) {
    dlc_expr_t *e = dlc__expr_new(ctx, DLC_EXPR_READ, t->dtype, t->ndim);
    e->tensor = t;
    for (int i = 0; i < t->ndim; i++) e->a[i] = idx[i];
    return e;
}
dlc_expr_t *dlc_read1(dlc_ctx_t *c, dlc_tensor_t *t, dlc_expr_t *i0) { return dlc_read(c, t, (dlc_expr_t *[]){i0}); }
dlc_expr_t *dlc_read2(dlc_ctx_t *c, dlc_tensor_t *t, dlc_expr_t *i0, dlc_expr_t *i1) {
    return dlc_read(c, t, (dlc_expr_t *[]){i0, i1});
}
dlc_expr_t *dlc_read3(dlc_ctx_t *c, dlc_tensor_t *t, dlc_expr_t *i0, dlc_expr_t *i1, dlc_expr_t *i2) {
    return dlc_read(c, t, (dlc_expr_t *[]){i0, i1, i2});
}
dlc_expr_t *dlc_read4(dlc_ctx_t *c, dlc_tensor_t *t, dlc_expr_t *i0, dlc_expr_t *i1, dlc_expr_t *i2,
                      dlc_expr_t *i3) {
    return dlc_read(c, t, (dlc_expr_t *[]){i0, i1, i2, i3});
}

dlc_expr_t *dlc_reduce(dlc_ctx_t *ctx, dlc_reduce_op_t op, dlc_expr_t *src, int n_axes, dlc_iter_var_t *const *axes) {
    dlc_expr_t *e = dlc__expr_new(ctx, DLC_EXPR_REDUCE, src->dtype, 1);
    e->a[0] = src;
    e->rop = op;
    e->n_raxis = n_axes;
    e->raxis = dlc_arena_alloc(ctx->arena, sizeof(dlc_iter_var_t *) * (size_t)(n_axes ? n_axes : 1));
    for (int i = 0; i < n_axes; i++) e->raxis[i] = axes[i];
    return e;
}
dlc_expr_t *dlc_sum(dlc_ctx_t *c, dlc_expr_t *s, int n, dlc_iter_var_t *const *ax) {
    return dlc_reduce(c, DLC_REDUCE_SUM, s, n, ax);
}
dlc_expr_t *dlc_max_reduce(dlc_ctx_t *c, dlc_expr_t *s, int n, dlc_iter_var_t *const *ax) {
    return dlc_reduce(c, DLC_REDUCE_MAX, s, n, ax);
}
dlc_expr_t *dlc_min_reduce(dlc_ctx_t *c, dlc_expr_t *s, int n, dlc_iter_var_t *const *ax) {
    return dlc_reduce(c, DLC_REDUCE_MIN, s, n, ax);
}

dlc_expr_t *dlc_reduce_identity(dlc_ctx_t *ctx, dlc_reduce_op_t op, dlc_dtype_t dt) {
    if (op == DLC_REDUCE_SUM) return dlc_const(ctx, 0, dt);
    int mx = op == DLC_REDUCE_MAX;
    double v;
    switch (dt) {
    case DLC_FLOAT32: case DLC_FLOAT16: v = mx ? -INFINITY : INFINITY; break;
    case DLC_INT8: v = mx ? -128 : 127; break;
    case DLC_UINT8: v = mx ? 0 : 255; break;
    case DLC_INT16: v = mx ? -32768 : 32767; break;
    case DLC_INT32: v = mx ? -2147483648.0 : 2147483647.0; break;
    default: {
        dlc_expr_t *e = dlc_int(ctx, mx ? INT64_MIN : INT64_MAX);
        e->dtype = dt;
        return e;
    }
    }
    return dlc_const(ctx, v, dt);
}

/* ---- traversal ---- */
void dlc__expr_visit(const dlc_expr_t *e, dlc__visit_fn f, void *user) {
    if (!e) return;
    f(e, user);
    for (int i = 0; i < e->n; i++) dlc__expr_visit(e->a[i], f, user);
}

dlc_expr_t *dlc__expr_with_args(dlc_ctx_t *ctx, dlc_expr_t *e, dlc_expr_t **args) {
    int same = 1;
    for (int i = 0; i < e->n; i++) same &= args[i] == e->a[i];
    if (same) return e;
    dlc_expr_t *c = dlc_arena_alloc(ctx->arena, sizeof *c);
    *c = *e;
    c->a = dlc_arena_alloc(ctx->arena, sizeof(dlc_expr_t *) * (size_t)e->n);
    memcpy(c->a, args, sizeof(dlc_expr_t *) * (size_t)e->n);
    return c;
}

typedef struct {
    int n;
    dlc_expr_t *const *vars, *const *repl;
    const dlc_tensor_t *from;
    dlc_tensor_t *to;
} subst_t;

static dlc_expr_t *subst_rec(dlc_ctx_t *ctx, dlc_expr_t *e, const subst_t *s) {
    if (e->kind == DLC_EXPR_VAR) {
        for (int i = 0; i < s->n; i++)
            if (s->vars[i]->id == e->id) return s->repl[i];
        return e;
    }
    if (e->n == 0) return e;
    dlc_expr_t *args[e->n];
    for (int i = 0; i < e->n; i++) args[i] = subst_rec(ctx, e->a[i], s);
    dlc_expr_t *r = dlc__expr_with_args(ctx, e, args);
    if (r->kind == DLC_EXPR_READ && r->tensor == s->from) {
        if (r == e) {
            r = dlc_arena_alloc(ctx->arena, sizeof *r);
            *r = *e;
        }
        r->tensor = s->to;
    }
    return r;
}

dlc_expr_t *dlc_expr_substitute(dlc_ctx_t *ctx, dlc_expr_t *e, int n, dlc_expr_t *const *vars,
                                dlc_expr_t *const *repl) {
    subst_t s = {n, vars, repl, NULL, NULL};
    return subst_rec(ctx, e, &s);
}

dlc_expr_t *dlc__replace_tensor(dlc_ctx_t *ctx, dlc_expr_t *e, const dlc_tensor_t *from, dlc_tensor_t *to) {
    subst_t s = {0, NULL, NULL, from, to};
    return subst_rec(ctx, e, &s);
}

int dlc__expr_uses_var(const dlc_expr_t *e, const dlc_expr_t *var) {
    if (!e) return 0;
    if (e->kind == DLC_EXPR_VAR) return e->id == var->id;
    for (int i = 0; i < e->n; i++)
        if (dlc__expr_uses_var(e->a[i], var)) return 1;
    return 0;
}

int dlc_expr_equal(const dlc_expr_t *a, const dlc_expr_t *b) {
    if (a == b) return 1;
    if (!a || !b || a->kind != b->kind || a->dtype != b->dtype || a->n != b->n) return 0;
    switch (a->kind) {
    case DLC_EXPR_INT: return a->ival == b->ival;
    case DLC_EXPR_FLOAT: return a->fval == b->fval;
    case DLC_EXPR_VAR: return a->id == b->id;
    case DLC_EXPR_CALL: if (a->intrin != b->intrin) return 0; break;
    case DLC_EXPR_READ: if (a->tensor != b->tensor) return 0; break;
    case DLC_EXPR_LOAD: case DLC_EXPR_ADDR: if (a->buffer != b->buffer) return 0; break;
    case DLC_EXPR_REDUCE: if (a->rop != b->rop || a->n_raxis != b->n_raxis) return 0; break;
    default: break;
    }
    for (int i = 0; i < a->n; i++)
        if (!dlc_expr_equal(a->a[i], b->a[i])) return 0;
    return 1;
}

int dlc_expr_const_int(const dlc_expr_t *e, int64_t *out) {
    if (e->kind == DLC_EXPR_INT) {
        *out = e->ival;
        return 0;
    }
    return DLC_EINVAL;
}

/* ---- printing ---- */
static const char *binop_sym(dlc_expr_kind_t k) {
    switch (k) {
    case DLC_EXPR_ADD: return "+";
    case DLC_EXPR_SUB: return "-";
    case DLC_EXPR_MUL: return "*";
    case DLC_EXPR_DIV: return "/";
    case DLC_EXPR_MOD: return "%";
    case DLC_EXPR_EQ: return "==";
    case DLC_EXPR_NE: return "!=";
    case DLC_EXPR_LT: return "<";
    case DLC_EXPR_LE: return "<=";
    case DLC_EXPR_GT: return ">";
    case DLC_EXPR_GE: return ">=";
    case DLC_EXPR_AND: return "&&";
    case DLC_EXPR_OR: return "||";
    default: return NULL;
    }
}

void dlc_expr_print(const dlc_expr_t *e, dlc_strbuf_t *sb) {
    if (!e) {
        dlc_strbuf_append(sb, "(null)");
        return;
    }
    const char *sym = binop_sym(e->kind);
    if (sym) {
        dlc_strbuf_append(sb, "(");
        dlc_expr_print(e->a[0], sb);
        dlc_strbuf_printf(sb, " %s ", sym);
        dlc_expr_print(e->a[1], sb);
        dlc_strbuf_append(sb, ")");
        return;
    }
    switch (e->kind) {
    case DLC_EXPR_INT: dlc_strbuf_printf(sb, "%lld", (long long)e->ival); break;
    case DLC_EXPR_FLOAT: dlc_strbuf_printf(sb, "%.9gf", e->fval); break;
    case DLC_EXPR_VAR: dlc_strbuf_append(sb, e->name); break;
    case DLC_EXPR_MIN: case DLC_EXPR_MAX:
        dlc_strbuf_append(sb, e->kind == DLC_EXPR_MIN ? "min(" : "max(");
        dlc_expr_print(e->a[0], sb);
        dlc_strbuf_append(sb, ", ");
        dlc_expr_print(e->a[1], sb);
        dlc_strbuf_append(sb, ")");
        break;
    case DLC_EXPR_NOT: dlc_strbuf_append(sb, "!"); dlc_expr_print(e->a[0], sb); break;
    case DLC_EXPR_SELECT:
        dlc_strbuf_append(sb, "select(");
        for (int i = 0; i < 3; i++) {
            if (i) dlc_strbuf_append(sb, ", ");
            dlc_expr_print(e->a[i], sb);
        }
        dlc_strbuf_append(sb, ")");
        break;
    case DLC_EXPR_CAST:
        dlc_strbuf_printf(sb, "%s(", dlc_dtype_name(e->dtype));
        dlc_expr_print(e->a[0], sb);
        dlc_strbuf_append(sb, ")");
        break;
    case DLC_EXPR_CALL:
        dlc_strbuf_printf(sb, "%s(", dlc_intrin_name(e->intrin));
        for (int i = 0; i < e->n; i++) {
            if (i) dlc_strbuf_append(sb, ", ");
            dlc_expr_print(e->a[i], sb);
        }
        dlc_strbuf_append(sb, ")");
        break;
    case DLC_EXPR_READ:
        dlc_strbuf_printf(sb, "%s[", e->tensor->name);
        for (int i = 0; i < e->n; i++) {
            if (i) dlc_strbuf_append(sb, ", ");
            dlc_expr_print(e->a[i], sb);
        }
        dlc_strbuf_append(sb, "]");
        break;
    case DLC_EXPR_LOAD: case DLC_EXPR_ADDR:
        dlc_strbuf_printf(sb, "%s%s[", e->kind == DLC_EXPR_ADDR ? "&" : "", e->buffer->name);
        dlc_expr_print(e->a[0], sb);
        dlc_strbuf_append(sb, "]");
        break;
    case DLC_EXPR_REDUCE: {
        static const char *names[] = {"sum", "max", "min"};
        dlc_strbuf_printf(sb, "%s(", names[e->rop]);
        dlc_expr_print(e->a[0], sb);
        dlc_strbuf_append(sb, ", axis=[");
        for (int i = 0; i < e->n_raxis; i++)
            dlc_strbuf_printf(sb, "%s%s", i ? ", " : "", e->raxis[i]->var->name);
        dlc_strbuf_append(sb, "])");
        break;
    }
    default: dlc_strbuf_append(sb, "?"); break;
    }
}

/* ---- variable ranges ---- */
void dlc_var_ranges_set(dlc_var_ranges_t *r, const dlc_expr_t *var, int64_t lo, int64_t hi) {
    int id = var->id;
    if (id >= r->cap) {
        int cap = r->cap ? r->cap : 64;
        while (cap <= id) cap *= 2;
        r->has = realloc(r->has, (size_t)cap);
        r->lo = realloc(r->lo, sizeof(int64_t) * (size_t)cap);
        r->hi = realloc(r->hi, sizeof(int64_t) * (size_t)cap);
        if (!r->has || !r->lo || !r->hi) abort();
        memset(r->has + r->cap, 0, (size_t)(cap - r->cap));
        r->cap = cap;
    }
    r->has[id] = 1;
    r->lo[id] = lo;
    r->hi[id] = hi;
}

void dlc_var_ranges_unset(dlc_var_ranges_t *r, const dlc_expr_t *var) {
    if (var->id < r->cap) r->has[var->id] = 0;
}

int dlc_var_ranges_get(const dlc_var_ranges_t *r, const dlc_expr_t *var, int64_t *lo, int64_t *hi) {
    if (!r || var->kind != DLC_EXPR_VAR || var->id >= r->cap || !r->has[var->id]) return 0;
    *lo = r->lo[var->id];
    *hi = r->hi[var->id];
    return 1;
}

void dlc_var_ranges_free(dlc_var_ranges_t *r) {
    free(r->has);
    free(r->lo);
    free(r->hi);
    memset(r, 0, sizeof *r);
}
