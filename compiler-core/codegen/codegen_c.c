/* codegen_c.c — C for CPUs from the loop IR: readable loops, OpenMP for the
 * outermost parallel loop, explicit unrolling, GCC vector extensions for
 * vectorised loops whose bodies are loads/stores and arithmetic (other
 * vectorised loops are left to GCC's vectoriser with ivdep), restrict
 * pointers, float16 as uint16 storage, and the kernel descriptor. Casts of
 * loads in vectorised loops (int8 products summed in int32) convert whole
 * vectors with __builtin_convertvector. */
#include <ctype.h>
#include <math.h>
#include <string.h>
#include "compiler-core/core_impl.h"
#include "compiler-core/dlc_kernel_abi.h"

extern const char dlc__kernel_abi_text[];

typedef struct {
    dlc_ctx_t *ctx;
    dlc_strbuf_t *out;
    const dlc_target_t *target;
    dlc_var_ranges_t ranges;
    int n_names;
    int name_ids[512];
    const char *names[512];
    int n_bufs;
    int buf_ids[256]; /* buffers by order of first use: their names' numbers */
    int in_parallel;
    unsigned narrow_used; /* bit i: the function loads vectors of narrow[i] */
    int err;
} cg_t;

static const char *PREAMBLE =
    /* builtins instead of <math.h>/<stdlib.h>/<string.h>: parsing those headers
     * was a third of a kernel's compile time */
    "#include <stdint.h>\n"
    "void *aligned_alloc(__SIZE_TYPE__, __SIZE_TYPE__);\nvoid free(void *);\n"
    "#define memcpy __builtin_memcpy\n"
    "#define DLC_MIN(a, b) ((a) < (b) ? (a) : (b))\n"
    "#define DLC_MAX(a, b) ((a) > (b) ? (a) : (b))\n"
    "static inline int64_t dlc_fdiv(int64_t a, int64_t b) { int64_t q = a / b; return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q; }\n"
    "static inline int64_t dlc_fmod(int64_t a, int64_t b) { return a - dlc_fdiv(a, b) * b; }\n"
    "static inline float dlc_sigmoidf(float x) { return 1.0f / (1.0f + __builtin_expf(-x)); }\n"
    "static inline float dlc_f16_to_f32(uint16_t h) {\n"
    "  uint32_t s = (uint32_t)(h & 0x8000) << 16, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;\n"
    "  if (e == 0) { if (m == 0) u = s; else { e = 113; while (!(m & 0x400)) { m <<= 1; e--; } m &= 0x3ff; u = s | (e << 23) | (m << 13); } }\n"
    "  else if (e == 31) u = s | 0x7f800000u | (m << 13);\n"
    "  else u = s | ((e + 112) << 23) | (m << 13);\n"
    "  float f; memcpy(&f, &u, 4); return f;\n}\n"
    "static inline uint16_t dlc_f32_to_f16(float f) {\n"
    "  uint32_t u; memcpy(&u, &f, 4); uint32_t s = (u >> 16) & 0x8000; int32_t e = (int32_t)((u >> 23) & 0xff) - 112; uint32_t m = u & 0x7fffff;\n"
    "  if (((u >> 23) & 0xff) == 0xff) return (uint16_t)(s | 0x7c00 | (m ? 0x200 : 0));\n"
    "  if (e >= 31) return (uint16_t)(s | 0x7c00);\n"
    "  if (e <= 0) { if (e < -10) return (uint16_t)s; m |= 0x800000; uint32_t sh = (uint32_t)(14 - e), r = m >> sh, rem = m & ((1u << sh) - 1), half = 1u << (sh - 1);\n"
    "    if (rem > half || (rem == half && (r & 1))) r++; return (uint16_t)(s | r); }\n"
    "  uint32_t r = ((uint32_t)e << 10) | (m >> 13), rem = m & 0x1fff;\n"
    "  if (rem > 0x1000 || (rem == 0x1000 && (r & 1))) r++; return (uint16_t)(s | r);\n}\n";

/* ---- names ---- */
static const char *var_name(cg_t *g, const dlc_expr_t *v) {
    for (int i = 0; i < g->n_names; i++)
        if (g->name_ids[i] == v->id) return g->names[i];
    char base[64];
    size_t j = 0;
    for (const char *p = v->name; *p && j < sizeof base - 1; p++) base[j++] = isalnum((unsigned char)*p) ? *p : '_';
    base[j] = 0;
    const char *name = dlc_arena_strdup(g->ctx->arena, base);
    for (int k = 1;; k++) {
        int clash = 0;
        for (int i = 0; i < g->n_names && !clash; i++) clash = strcmp(g->names[i], name) == 0;
        if (!clash) break;
        name = dlc_arena_printf(g->ctx->arena, "%s_%d", base, k);
    }
    if (g->n_names < 512) {
        g->name_ids[g->n_names] = v->id;
        g->names[g->n_names++] = name;
    }
    return name;
}

static const char *buf_name(cg_t *g, const dlc_buffer_t *b) {
    char base[80];
    size_t j = 0;
    for (const char *p = b->name; *p && j < sizeof base - 12; p++) base[j++] = isalnum((unsigned char)*p) ? *p : '_';
    base[j] = 0;
    /* Numbered within the function, not by the context's running id, so the
     * same function has the same C whatever was built before it (a shared
     * reference is then compiled once, and the kernel cache hits). */
    int k = 0;
    while (k < g->n_bufs && g->buf_ids[k] != b->id)
        k++;
    if (k == g->n_bufs && k < (int)(sizeof g->buf_ids / sizeof g->buf_ids[0]))
        g->buf_ids[g->n_bufs++] = b->id;
    if (k == g->n_bufs)
        return dlc_arena_printf(g->ctx->arena, "%s_g%d", base, b->id);
    return dlc_arena_printf(g->ctx->arena, "%s_b%d", base, k);
}

static const char *ctype_of(dlc_dtype_t t) { return dlc_dtype_ctype(t); }
/* the C type an expression of dtype t is computed in (float16 as float) */
static const char *vtype_of(dlc_dtype_t t) { return t == DLC_FLOAT16 ? "float" : dlc_dtype_ctype(t); }

/* ---- scalar expressions ---- */
static int nonneg(cg_t *g, const dlc_expr_t *e) {
    int64_t lo, hi;
    return dlc_expr_bounds(e, &g->ranges, &lo, &hi) == 0 && lo >= 0;
}

static void emit_expr(cg_t *g, const dlc_expr_t *e);

static void emit_bin(cg_t *g, const char *op, const dlc_expr_t *e) {
    dlc_strbuf_append(g->out, "(");
    emit_expr(g, e->a[0]);
    dlc_strbuf_printf(g->out, " %s ", op);
    emit_expr(g, e->a[1]);
    dlc_strbuf_append(g->out, ")");
}

static void emit_call(cg_t *g, const char *fn, const dlc_expr_t *e) {
    dlc_strbuf_printf(g->out, "%s(", fn);
    for (int i = 0; i < e->n; i++) {
        if (i) dlc_strbuf_append(g->out, ", ");
        emit_expr(g, e->a[i]);
    }
    dlc_strbuf_append(g->out, ")");
}

static void emit_float(cg_t *g, double v, dlc_dtype_t dt) {
    if (isinf(v)) dlc_strbuf_append(g->out, v < 0 ? "(-__builtin_inff())" : "__builtin_inff()");
    else if (isnan(v)) dlc_strbuf_append(g->out, "__builtin_nanf(\"\")");
    else dlc_strbuf_printf(g->out, "((%s)%.17g)", vtype_of(dt), v);
}

static void emit_expr(cg_t *g, const dlc_expr_t *e) {
    dlc_strbuf_t *o = g->out;
    int fl = dlc_dtype_is_float(e->dtype);
    switch (e->kind) {
    case DLC_EXPR_INT:
        if (e->ival == INT64_MIN) dlc_strbuf_append(o, "INT64_MIN");
        else if (e->ival > INT32_MAX || e->ival < -INT32_MAX) dlc_strbuf_printf(o, "%lldLL", (long long)e->ival);
        else if (e->ival < 0) dlc_strbuf_printf(o, "(%lld)", (long long)e->ival);
        else dlc_strbuf_printf(o, "%lld", (long long)e->ival);
        return;
    case DLC_EXPR_FLOAT: emit_float(g, e->fval, e->dtype); return;
    case DLC_EXPR_VAR: dlc_strbuf_append(o, var_name(g, e)); return;
    case DLC_EXPR_ADD: emit_bin(g, "+", e); return;
    case DLC_EXPR_SUB: emit_bin(g, "-", e); return;
    case DLC_EXPR_MUL: emit_bin(g, "*", e); return;
    case DLC_EXPR_DIV: case DLC_EXPR_MOD:
        if (fl && e->kind == DLC_EXPR_DIV) emit_bin(g, "/", e);
        else if (fl) emit_call(g, "__builtin_fmodf", e);
        else if (nonneg(g, e->a[0]) && nonneg(g, e->a[1])) emit_bin(g, e->kind == DLC_EXPR_DIV ? "/" : "%", e);
        else emit_call(g, e->kind == DLC_EXPR_DIV ? "dlc_fdiv" : "dlc_fmod", e);
        return;
    case DLC_EXPR_MIN: emit_call(g, "DLC_MIN", e); return;
    case DLC_EXPR_MAX: emit_call(g, "DLC_MAX", e); return;
    case DLC_EXPR_EQ: emit_bin(g, "==", e); return;
    case DLC_EXPR_NE: emit_bin(g, "!=", e); return;
    case DLC_EXPR_LT: emit_bin(g, "<", e); return;
    case DLC_EXPR_LE: emit_bin(g, "<=", e); return;
    case DLC_EXPR_GT: emit_bin(g, ">", e); return;
    case DLC_EXPR_GE: emit_bin(g, ">=", e); return;
    case DLC_EXPR_AND: emit_bin(g, "&&", e); return;
    case DLC_EXPR_OR: emit_bin(g, "||", e); return;
    case DLC_EXPR_NOT: dlc_strbuf_append(o, "(!"); emit_expr(g, e->a[0]); dlc_strbuf_append(o, ")"); return;
    case DLC_EXPR_SELECT:
        dlc_strbuf_append(o, "(");
        emit_expr(g, e->a[0]);
        dlc_strbuf_append(o, " ? ");
        emit_expr(g, e->a[1]);
        dlc_strbuf_append(o, " : ");
        emit_expr(g, e->a[2]);
        dlc_strbuf_append(o, ")");
        return;
    case DLC_EXPR_CAST:
        dlc_strbuf_printf(o, "((%s)", vtype_of(e->dtype));
        emit_expr(g, e->a[0]);
        dlc_strbuf_append(o, ")");
        return;
    case DLC_EXPR_CALL: {
        static const char *fns[] = {"__builtin_expf", "__builtin_logf", "__builtin_sqrtf", "__builtin_tanhf",
                                    "dlc_sigmoidf", "__builtin_powf", "__builtin_fabsf", "__builtin_floorf",
                                    "__builtin_ceilf", "__builtin_erff", "1.0f / __builtin_sqrtf"};
        _Static_assert(sizeof fns / sizeof fns[0] == DLC_INTRIN_COUNT, "intrinsic C names");
        if (e->intrin == DLC_INTRIN_RSQRT) dlc_strbuf_append(o, "(");
        emit_call(g, fns[e->intrin], e);
        if (e->intrin == DLC_INTRIN_RSQRT) dlc_strbuf_append(o, ")");
        return;
    }
    case DLC_EXPR_LOAD:
        if (e->buffer->dtype == DLC_FLOAT16) dlc_strbuf_append(o, "dlc_f16_to_f32(");
        dlc_strbuf_printf(o, "%s[", buf_name(g, e->buffer));
        emit_expr(g, e->a[0]);
        dlc_strbuf_append(o, e->buffer->dtype == DLC_FLOAT16 ? "])" : "]");
        return;
    case DLC_EXPR_ADDR:
        dlc_strbuf_printf(o, "&%s[", buf_name(g, e->buffer));
        emit_expr(g, e->a[0]);
        dlc_strbuf_append(o, "]");
        return;
    default:
        dlc_error(DLC_ECODEGEN, "C codegen: unexpected expression kind %d", (int)e->kind);
        g->err = DLC_ECODEGEN;
        return;
    }
}

/* ---- statement rewriting: substitution and explicit unrolling ---- */
static dlc_expr_t *sub_e(dlc_ctx_t *ctx, dlc_expr_t *e, dlc_expr_t *var, dlc_expr_t *val) {
    return e ? dlc_simplify(ctx, dlc_expr_substitute(ctx, e, 1, &var, &val), NULL) : NULL;
}

static dlc_stmt_t *subst_stmt(dlc_ctx_t *ctx, const dlc_stmt_t *s, dlc_expr_t *var, dlc_expr_t *val) {
    if (!s) return NULL;
    dlc_stmt_t *c = dlc__stmt_new(ctx, s->kind);
    *c = *s;
    c->min = sub_e(ctx, s->min, var, val);
    c->extent = sub_e(ctx, s->extent, var, val);
    c->value = sub_e(ctx, s->value, var, val);
    c->index = sub_e(ctx, s->index, var, val);
    c->cond = sub_e(ctx, s->cond, var, val);
    c->then_s = subst_stmt(ctx, s->then_s, var, val);
    c->else_s = subst_stmt(ctx, s->else_s, var, val);
    c->body = subst_stmt(ctx, s->body, var, val);
    if (s->kind == DLC_STMT_SEQ) {
        c->seq = dlc_arena_alloc(ctx->arena, sizeof(dlc_stmt_t *) * (size_t)s->n);
        for (int i = 0; i < s->n; i++) c->seq[i] = subst_stmt(ctx, s->seq[i], var, val);
    }
    if (s->kind == DLC_STMT_CALL) {
        c->args = dlc_arena_alloc(ctx->arena, sizeof(dlc_expr_t *) * (size_t)s->n);
        for (int i = 0; i < s->n; i++) c->args[i] = sub_e(ctx, s->args[i], var, val);
    }
    return c;
}

#define MAX_UNROLL 64

/* ---- vectorised loops ---- */
typedef struct {
    cg_t *g;
    const dlc_expr_t *v;
    int lanes;
    const char *vt; /* vector type name */
} vec_t;

static int uses(const dlc_expr_t *e, const dlc_expr_t *v) { return dlc__expr_uses_var(e, v); }

/* stride of an index in v (constant difference between consecutive lanes), or 0 with ok=0 */
static int stride_of(cg_t *g, const dlc_expr_t *idx, const dlc_expr_t *v, int64_t *stride) {
    dlc_ctx_t *ctx = g->ctx;
    dlc_expr_t *vp1 = dlc_add(ctx, (dlc_expr_t *)v, dlc_int(ctx, 1));
    dlc_expr_t *d = dlc_simplify(ctx, dlc_sub(ctx, dlc_expr_substitute(ctx, (dlc_expr_t *)idx, 1, (dlc_expr_t **)&v, &vp1),
                                              (dlc_expr_t *)idx), NULL);
    return dlc_expr_const_int(d, stride) == 0;
}

/* Vector loads of integers narrower than a lane (int8 → int32 accumulation):
 * types emitted only where a function uses them, so the C of other kernels
 * stays as it was. */
static const struct {
    dlc_dtype_t dt;
    const char *prefix, *ctype;
    int bytes;
} narrow[] = {{DLC_INT8, "i8", "int8_t", 1}, {DLC_UINT8, "u8", "uint8_t", 1}, {DLC_INT16, "i16", "int16_t", 2}};
#define N_NARROW ((int)(sizeof narrow / sizeof narrow[0]))

/* the vector type prefix of a load a cast may convert lane by lane, or NULL */
static const char *cast_src_prefix(const dlc_expr_t *ld, int *narrow_bit) {
    *narrow_bit = 0;
    if (ld->kind != DLC_EXPR_LOAD) return NULL;
    if (ld->buffer->dtype == DLC_FLOAT32) return "f32";
    if (ld->buffer->dtype == DLC_INT32) return "i32";
    for (int i = 0; i < N_NARROW; i++)
        if (ld->buffer->dtype == narrow[i].dt) {
            *narrow_bit = 1 << i;
            return narrow[i].prefix;
        }
    return NULL;
}

static int vec_ok_expr(vec_t *V, const dlc_expr_t *e, dlc_dtype_t dt) {
    int bit;
    if (!uses(e, V->v)) return e->dtype == dt || e->kind == DLC_EXPR_INT || e->kind == DLC_EXPR_FLOAT || !dlc_dtype_is_float(dt) == !dlc_dtype_is_float(e->dtype);
    switch (e->kind) {
    case DLC_EXPR_LOAD: return e->buffer->dtype == dt;
    case DLC_EXPR_ADD: case DLC_EXPR_SUB: case DLC_EXPR_MUL:
        return e->dtype == dt && vec_ok_expr(V, e->a[0], dt) && vec_ok_expr(V, e->a[1], dt);
    case DLC_EXPR_DIV: return dlc_dtype_is_float(dt) && vec_ok_expr(V, e->a[0], dt) && vec_ok_expr(V, e->a[1], dt);
    case DLC_EXPR_CAST: return e->dtype == dt && cast_src_prefix(e->a[0], &bit) != NULL;
    default: return 0;
    }
}

static int vec_ok_stmt(vec_t *V, const dlc_stmt_t *s, dlc_dtype_t *dt) {
    if (s->kind == DLC_STMT_SEQ) {
        for (int i = 0; i < s->n; i++)
            if (!vec_ok_stmt(V, s->seq[i], dt)) return 0;
        return 1;
    }
    if (s->kind != DLC_STMT_STORE) return 0;
    dlc_dtype_t t = s->buffer->dtype;
    if (t != DLC_FLOAT32 && t != DLC_INT32) return 0;
    if (*dt != DLC_DTYPE_COUNT && *dt != t) return 0;
    *dt = t;
    int64_t st;
    if (!stride_of(V->g, s->index, V->v, &st) || st != 1) return 0;
    return vec_ok_expr(V, s->value, t);
}

static dlc_expr_t *at_zero(cg_t *g, const dlc_expr_t *e, const dlc_expr_t *v) {
    dlc_expr_t *z = dlc_int(g->ctx, 0);
    return dlc_simplify(g->ctx, dlc_expr_substitute(g->ctx, (dlc_expr_t *)e, 1, (dlc_expr_t **)&v, &z), &g->ranges);
}

/* A load in v, its lanes contiguous (one vector load) or gathered; with
 * convert (a cast of the load), converted to the loop's vector type
 * (__builtin_convertvector of the load; a gather converts element by element
 * as it initialises). */
static void emit_vload(vec_t *V, const dlc_expr_t *e, int convert) {
    cg_t *g = V->g;
    dlc_strbuf_t *o = g->out;
    int64_t st;
    const char *bn = buf_name(g, e->buffer);
    if (stride_of(g, e->a[0], V->v, &st) && st == 1) {
        int bit = 0;
        const char *src = convert ? cast_src_prefix(e, &bit) : NULL;
        g->narrow_used |= (unsigned)bit;
        if (convert) dlc_strbuf_printf(o, "__builtin_convertvector(dlc_vload_%sx%d(&%s[", src, V->lanes, bn);
        else dlc_strbuf_printf(o, "dlc_vload_%s(&%s[", V->vt, bn);
        emit_expr(g, at_zero(g, e->a[0], V->v));
        if (convert) dlc_strbuf_printf(o, "]), %s)", V->vt);
        else dlc_strbuf_append(o, "])");
        return;
    }
    dlc_strbuf_printf(o, "((%s){", V->vt);
    for (int l = 0; l < V->lanes; l++) {
        dlc_expr_t *lv = dlc_int(g->ctx, l);
        dlc_expr_t *ix = dlc_simplify(g->ctx, dlc_expr_substitute(g->ctx, e->a[0], 1, (dlc_expr_t **)&V->v, &lv), &g->ranges);
        dlc_strbuf_printf(o, "%s%s[", l ? ", " : "", bn);
        emit_expr(g, ix);
        dlc_strbuf_append(o, "]");
    }
    dlc_strbuf_append(o, "})");
}

static void emit_vexpr(vec_t *V, const dlc_expr_t *e) {
    cg_t *g = V->g;
    dlc_strbuf_t *o = g->out;
    if (!uses(e, V->v)) {
        emit_expr(g, e);
        return;
    }
    switch (e->kind) {
    case DLC_EXPR_LOAD: emit_vload(V, e, 0); return;
    case DLC_EXPR_CAST: emit_vload(V, e->a[0], 1); return;
    default: {
        const char *op = e->kind == DLC_EXPR_ADD ? "+" : e->kind == DLC_EXPR_SUB ? "-" : e->kind == DLC_EXPR_MUL ? "*" : "/";
        dlc_strbuf_append(o, "(");
        emit_vexpr(V, e->a[0]);
        dlc_strbuf_printf(o, " %s ", op);
        emit_vexpr(V, e->a[1]);
        dlc_strbuf_append(o, ")");
    }
    }
}

static void emit_vstores(vec_t *V, const dlc_stmt_t *s, int ind) {
    cg_t *g = V->g;
    if (s->kind == DLC_STMT_SEQ) {
        for (int i = 0; i < s->n; i++) emit_vstores(V, s->seq[i], ind);
        return;
    }
    dlc_strbuf_indent(g->out, ind);
    dlc_strbuf_printf(g->out, "dlc_vstore_%s(&%s[", V->vt, buf_name(g, s->buffer));
    emit_expr(g, at_zero(g, s->index, V->v));
    dlc_strbuf_append(g->out, "], ");
    /* a lane-invariant value is broadcast; adding it to a zero vector is exact */
    if (!uses(s->value, V->v)) dlc_strbuf_printf(g->out, "((%s){0}) + ", V->vt);
    emit_vexpr(V, s->value);
    dlc_strbuf_append(g->out, ");\n");
}

/* ---- statements ---- */
static void emit_stmt(cg_t *g, const dlc_stmt_t *s, int ind);

static void emit_for_header(cg_t *g, const dlc_stmt_t *s, const char *v, int ind) {
    dlc_strbuf_indent(g->out, ind);
    dlc_strbuf_printf(g->out, "for (int64_t %s = ", v);
    emit_expr(g, s->min);
    dlc_strbuf_printf(g->out, "; %s < ", v);
    if (s->min->kind == DLC_EXPR_INT && s->min->ival == 0) emit_expr(g, s->extent);
    else {
        dlc_strbuf_append(g->out, "(");
        emit_expr(g, s->min);
        dlc_strbuf_append(g->out, " + ");
        emit_expr(g, s->extent);
        dlc_strbuf_append(g->out, ")");
    }
    dlc_strbuf_printf(g->out, "; ++%s) {\n", v);
}

static void set_range(cg_t *g, const dlc_stmt_t *s) {
    int64_t lo, hi, elo, ehi;
    if (dlc_expr_bounds(s->min, &g->ranges, &lo, &hi) == 0 && dlc_expr_bounds(s->extent, &g->ranges, &elo, &ehi) == 0)
        dlc_var_ranges_set(&g->ranges, s->var, lo, hi + ehi - 1);
    else dlc_var_ranges_unset(&g->ranges, s->var);
}

static int vector_lanes(const dlc_stmt_t *s, int64_t *lanes) {
    int64_t lo, hi;
    /* constant extent, or min(L, rest) with a constant cap */
    if (dlc_expr_const_int(s->extent, lanes) == 0) return 1;
    if (s->extent->kind == DLC_EXPR_MIN && dlc_expr_const_int(s->extent->a[0], &lo) == 0) { *lanes = lo; return 2; }
    if (s->extent->kind == DLC_EXPR_MIN && dlc_expr_const_int(s->extent->a[1], &hi) == 0) { *lanes = hi; return 2; }
    return 0;
}

/* The body of a vector loop of `lanes` lanes as vectors of powers of two,
 * widest first (at most the machine's width, so register tiles map onto
 * registers one to one), and a last scalar lane: 16 → 8 + 8, 14 → 8 + 4 + 2,
 * 7 → 4 + 2 + 1. TVM's splits take any factor; as a loop under ivdep inside
 * unrolled code, a width of 7 took GCC ~10 s on one winograd config. */
static void emit_vector_chunks(cg_t *g, const dlc_stmt_t *s, vec_t *V, dlc_dtype_t dt, int64_t lanes, int ind) {
    int native = g->target && g->target->vector_bytes >= 8 ? g->target->vector_bytes / 4 : 8;
    dlc_strbuf_indent(g->out, ind);
    dlc_strbuf_printf(g->out, "/* vectorized %s: %lld lanes */\n", var_name(g, s->var), (long long)lanes);
    for (int64_t off = 0; off < lanes;) {
        int64_t w = 1;
        while (w * 2 <= native && w * 2 <= lanes - off) w *= 2;
        if (w == 1) {
            emit_stmt(g, subst_stmt(g->ctx, s->body, s->var, dlc_int(g->ctx, off)), ind);
        } else {
            const dlc_stmt_t *part = s->body;
            if (off) part = subst_stmt(g->ctx, s->body, s->var, dlc_add(g->ctx, s->var, dlc_int(g->ctx, off)));
            V->lanes = (int)w;
            V->vt = dlc_arena_printf(g->ctx->arena, "%sx%d", dt == DLC_FLOAT32 ? "f32" : "i32", (int)w);
            emit_vstores(V, part, ind);
        }
        off += w;
    }
}

static void emit_for(cg_t *g, const dlc_stmt_t *s, int ind) {
    dlc_strbuf_t *o = g->out;
    int64_t n;
    const char *v = var_name(g, s->var);
    if (s->pragma_key) {
        dlc_strbuf_indent(o, ind);
        dlc_strbuf_printf(o, "/* pragma %s = %s */\n", s->pragma_key, s->pragma_value);
    }
    /* A loop of one iteration is its body (TVM's lowering drops them too):
     * splits by 1 and size-1 axes made hundreds of such loops per kernel,
     * each a loop for GCC's loop passes to analyse. Not for GPU threads. */
    if (s->ann != DLC_ANN_THREAD && dlc_expr_const_int(s->extent, &n) == 0 && n == 1 &&
        s->min->kind == DLC_EXPR_INT) {
        dlc_strbuf_indent(o, ind);
        dlc_strbuf_printf(o, "{ /* %s = %lld */\n", v, (long long)s->min->ival); /* a scope, as the loop's */
        emit_stmt(g, subst_stmt(g->ctx, s->body, s->var, s->min), ind + 2);
        dlc_strbuf_indent(o, ind);
        dlc_strbuf_append(o, "}\n");
        return;
    }
    if (s->ann == DLC_ANN_UNROLL && dlc_expr_const_int(s->extent, &n) == 0 && n <= MAX_UNROLL &&
        s->min->kind == DLC_EXPR_INT) {
        dlc_strbuf_indent(o, ind);
        dlc_strbuf_printf(o, "/* unrolled %s: %lld */\n", v, (long long)n);
        for (int64_t k = 0; k < n; k++)
            emit_stmt(g, subst_stmt(g->ctx, s->body, s->var, dlc_int(g->ctx, s->min->ival + k)), ind);
        return;
    }
    /* Unswitching: a loop storing select(c, a, b) with c the same in every
     * iteration (a padded copy: the row or column in bounds or not) becomes
     * if (c) the loop storing a, else the one storing b, so each side is a
     * plain copy that vectorises. GCC -O2 does not unswitch, and cannot
     * speculate the guarded load: the select copied element by element made
     * conv2d's pad pass 7% of a 64→64 3×3 layer at 56. */
    const dlc_stmt_t *b = s->body;
    if ((s->ann == DLC_ANN_VECTORIZE || s->ann == DLC_ANN_NONE) && b->kind == DLC_STMT_STORE &&
        b->value->kind == DLC_EXPR_SELECT && !uses(b->value->a[0], s->var)) {
        dlc_strbuf_indent(o, ind);
        dlc_strbuf_append(o, "if (");
        emit_expr(g, b->value->a[0]);
        dlc_strbuf_append(o, ") {\n");
        for (int side = 1; side <= 2; side++) {
            dlc_stmt_t *loop = dlc__stmt_new(g->ctx, DLC_STMT_FOR), *st = dlc__stmt_new(g->ctx, DLC_STMT_STORE);
            *loop = *s;
            *st = *b;
            st->value = b->value->a[side];
            loop->body = st;
            emit_for(g, loop, ind + 2);
            dlc_strbuf_indent(o, ind);
            dlc_strbuf_append(o, side == 1 ? "} else {\n" : "}\n");
        }
        return;
    }
    set_range(g, s);
    if (s->ann == DLC_ANN_VECTORIZE && s->min->kind == DLC_EXPR_INT && s->min->ival == 0) {
        int64_t lanes;
        int kind = vector_lanes(s, &lanes);
        dlc_dtype_t dt = DLC_DTYPE_COUNT;
        vec_t V = {g, s->var, (int)lanes, NULL};
        /* a constant width of 2..64; min(L, rest) (a split's tail) for L a power of two */
        if (kind && lanes >= 2 && lanes <= 64 && (kind == 1 || (lanes & (lanes - 1)) == 0) &&
            vec_ok_stmt(&V, s->body, &dt)) {
            if (kind == 2) {
                dlc_strbuf_indent(o, ind);
                dlc_strbuf_append(o, "if (");
                emit_expr(g, s->extent);
                dlc_strbuf_printf(o, " == %lld) {\n", (long long)lanes);
            }
            emit_vector_chunks(g, s, &V, dt, lanes, ind + (kind == 2) * 2);
            if (kind == 2) {
                dlc_strbuf_indent(o, ind);
                dlc_strbuf_append(o, "} else {\n");
                emit_for_header(g, s, v, ind + 2);
                emit_stmt(g, s->body, ind + 4);
                dlc_strbuf_indent(o, ind + 2);
                dlc_strbuf_append(o, "}\n");
                dlc_strbuf_indent(o, ind);
                dlc_strbuf_append(o, "}\n");
            }
            return;
        }
        dlc_strbuf_indent(o, ind);
        dlc_strbuf_append(o, "#pragma GCC ivdep\n");
    }
    int par = s->ann == DLC_ANN_PARALLEL && !g->in_parallel;
    if (par) {
        dlc_strbuf_indent(o, ind);
        dlc_strbuf_append(o, "#pragma omp parallel for schedule(static)\n");
        g->in_parallel = 1;
    }
    if (s->ann == DLC_ANN_UNROLL) {
        dlc_strbuf_indent(o, ind);
        dlc_strbuf_append(o, "#pragma GCC unroll 8\n");
    }
    if (s->ann == DLC_ANN_THREAD) {
        dlc_strbuf_indent(o, ind);
        dlc_strbuf_printf(o, "/* %s, run serially on the CPU */\n", dlc_thread_tag_name(s->tag));
    }
    emit_for_header(g, s, v, ind);
    emit_stmt(g, s->body, ind + 2);
    dlc_strbuf_indent(o, ind);
    dlc_strbuf_append(o, "}\n");
    if (par) g->in_parallel = 0;
}

#define STACK_LIMIT (32 * 1024)

static void emit_stmt(cg_t *g, const dlc_stmt_t *s, int ind) {
    dlc_strbuf_t *o = g->out;
    if (!s || g->err) return;
    switch (s->kind) {
    case DLC_STMT_FOR: emit_for(g, s, ind); return;
    case DLC_STMT_LET:
        dlc_strbuf_indent(o, ind);
        dlc_strbuf_printf(o, "{ const int64_t %s = ", var_name(g, s->var));
        emit_expr(g, s->value);
        dlc_strbuf_append(o, ";\n");
        emit_stmt(g, s->body, ind + 2);
        dlc_strbuf_indent(o, ind);
        dlc_strbuf_append(o, "}\n");
        return;
    case DLC_STMT_STORE:
        dlc_strbuf_indent(o, ind);
        dlc_strbuf_printf(o, "%s[", buf_name(g, s->buffer));
        emit_expr(g, s->index);
        dlc_strbuf_append(o, "] = ");
        if (s->buffer->dtype == DLC_FLOAT16) dlc_strbuf_append(o, "dlc_f32_to_f16(");
        else if (s->value->dtype != s->buffer->dtype) dlc_strbuf_printf(o, "(%s)", ctype_of(s->buffer->dtype));
        emit_expr(g, s->value);
        dlc_strbuf_append(o, s->buffer->dtype == DLC_FLOAT16 ? ");\n" : ";\n");
        return;
    case DLC_STMT_IF:
        dlc_strbuf_indent(o, ind);
        dlc_strbuf_append(o, "if (");
        emit_expr(g, s->cond);
        dlc_strbuf_append(o, ") {\n");
        emit_stmt(g, s->then_s, ind + 2);
        if (s->else_s) {
            dlc_strbuf_indent(o, ind);
            dlc_strbuf_append(o, "} else {\n");
            emit_stmt(g, s->else_s, ind + 2);
        }
        dlc_strbuf_indent(o, ind);
        dlc_strbuf_append(o, "}\n");
        return;
    case DLC_STMT_SEQ:
        for (int i = 0; i < s->n; i++) emit_stmt(g, s->seq[i], ind);
        return;
    case DLC_STMT_ALLOC: {
        const dlc_buffer_t *b = s->buffer;
        const char *bn = buf_name(g, b);
        int64_t bytes = b->size * dlc_dtype_bytes(b->dtype);
        int heap = b->scope == DLC_SCOPE_GLOBAL || bytes > STACK_LIMIT;
        dlc_strbuf_indent(o, ind);
        if (heap) {
            dlc_strbuf_printf(o, "{ %s *restrict %s = (%s *)aligned_alloc(64, %lld);\n", ctype_of(b->dtype), bn,
                              ctype_of(b->dtype), (long long)((bytes + 63) / 64 * 64));
            dlc_strbuf_indent(o, ind + 2);
            /* no return out of an OpenMP region: flag the failure, skip the iteration */
            if (g->in_parallel)
                dlc_strbuf_printf(o, "if (!%s) { __atomic_store_n(&dlc_alloc_failed, 1, __ATOMIC_RELAXED); continue; }\n", bn);
            else
                dlc_strbuf_printf(o, "if (!%s) return -1;\n", bn);
        } else {
            dlc_strbuf_printf(o, "{ %s %s[%lld] __attribute__((aligned(64)));\n", ctype_of(b->dtype), bn,
                              (long long)b->size);
        }
        emit_stmt(g, s->body, ind + 2);
        if (heap) {
            dlc_strbuf_indent(o, ind + 2);
            dlc_strbuf_printf(o, "free(%s);\n", bn);
        }
        dlc_strbuf_indent(o, ind);
        dlc_strbuf_append(o, "}\n");
        return;
    }
    case DLC_STMT_CALL:
        dlc_strbuf_indent(o, ind);
        dlc_strbuf_printf(o, "%s(", s->callee);
        for (int i = 0; i < s->n; i++) {
            if (i) dlc_strbuf_append(o, ", ");
            emit_expr(g, s->args[i]);
        }
        dlc_strbuf_append(o, ");\n");
        return;
    default:
        g->err = dlc_error(DLC_ECODEGEN, "C codegen: unexpected statement kind %d", (int)s->kind);
    }
}

static void emit_vector_types(dlc_strbuf_t *o) {
    /* unaligned, may_alias vector types: plain dereferences let GCC keep
     * register tiles in registers (memcpy-based accesses got split by SRA) */
    static const struct { const char *n, *t; } base[] = {{"f32", "float"}, {"i32", "int32_t"}};
    for (int b = 0; b < 2; b++)
        for (int l = 2; l <= 64; l *= 2) {
            dlc_strbuf_printf(o, "typedef %s %sx%d __attribute__((vector_size(%d)));\n", base[b].t, base[b].n, l, l * 4);
            dlc_strbuf_printf(o, "typedef %s %sx%du __attribute__((vector_size(%d), aligned(4), may_alias));\n",
                              base[b].t, base[b].n, l, l * 4);
            dlc_strbuf_printf(o, "#define dlc_vload_%sx%d(p) (*(const %sx%du *)(p))\n", base[b].n, l, base[b].n, l);
            dlc_strbuf_printf(o, "#define dlc_vstore_%sx%d(p, v) (*(%sx%du *)(p) = (v))\n", base[b].n, l, base[b].n, l);
        }
}

static void emit_narrow_vector_types(dlc_strbuf_t *o, unsigned which) {
    for (int b = 0; b < N_NARROW; b++)
        if (which & (1u << b))
            for (int l = 2; l <= 64; l *= 2) {
                dlc_strbuf_printf(o, "typedef %s %sx%du __attribute__((vector_size(%d), aligned(%d), may_alias));\n",
                                  narrow[b].ctype, narrow[b].prefix, l, l * narrow[b].bytes, narrow[b].bytes);
                dlc_strbuf_printf(o, "#define dlc_vload_%sx%d(p) (*(const %sx%du *)(p))\n", narrow[b].prefix, l,
                                  narrow[b].prefix, l);
            }
}

static int emit_func(cg_t *g, const dlc_lowered_func_t *f) {
    dlc_strbuf_t *o = g->out;
    dlc_strbuf_printf(o, "\n/* %s */\n__attribute__((visibility(\"default\"))) int32_t %s(void *const *data) {\n", f->name,
                      f->name);
    for (int i = 0; i < f->n_args; i++) {
        const dlc_buffer_t *b = f->args[i];
        int is_out = i >= f->n_args - f->n_outputs;
        dlc_strbuf_printf(o, "  %s%s *restrict %s = (%s%s *)__builtin_assume_aligned(data[%d], 64);\n",
                          is_out ? "" : "const ", ctype_of(b->dtype), buf_name(g, b), is_out ? "" : "const ",
                          ctype_of(b->dtype), i);
    }
    dlc_strbuf_append(o, "  int32_t dlc_alloc_failed = 0; (void)dlc_alloc_failed;\n");
    emit_stmt(g, f->body, 2);
    dlc_strbuf_append(o, "  return dlc_alloc_failed ? -1 : 0;\n}\n");
    /* descriptor */
    dlc_strbuf_printf(o, "__attribute__((visibility(\"default\"))) const dlc_kernel_desc_t %s__desc = {\n", f->name);
    dlc_strbuf_printf(o, "  DLC_KERNEL_ABI_VERSION, %d,\n  {", f->n_args);
    for (int i = 0; i < f->n_args; i++) dlc_strbuf_printf(o, "%s%d", i ? ", " : "", f->args[i]->ndim);
    dlc_strbuf_append(o, "},\n  {");
    for (int i = 0; i < f->n_args; i++) {
        dlc_strbuf_append(o, i ? ", {" : "{");
        for (int d = 0; d < f->args[i]->ndim; d++)
            dlc_strbuf_printf(o, "%s%lld", d ? ", " : "", (long long)f->args[i]->shape[d]);
        dlc_strbuf_append(o, "}");
    }
    dlc_strbuf_append(o, "},\n  {");
    for (int i = 0; i < f->n_args; i++) dlc_strbuf_printf(o, "%s%d", i ? ", " : "", (int)f->args[i]->dtype);
    dlc_strbuf_append(o, "},\n  {");
    for (int i = 0; i < f->n_args; i++) dlc_strbuf_printf(o, "%s%d", i ? ", " : "", i >= f->n_args - f->n_outputs);
    dlc_strbuf_printf(o, "},\n  %.17g, \"%s\", \"%s\"\n};\n", f->flops, f->name, f->ref_name ? f->ref_name : "");
    return g->err;
}

int dlc_codegen_c(dlc_lowered_func_t *const *funcs, int n, const dlc_target_t *target, dlc_strbuf_t *out) {
    if (target && target->kind != DLC_TARGET_LLVM)
        return dlc_error(DLC_ECODEGEN, "C code generation needs a CPU target (llvm/c), not '%s'", target->str);
    for (int i = 0; i < n; i++)
        if (funcs[i]->n_args > DLC_KERNEL_MAX_ARGS)
            return dlc_error(DLC_ECODEGEN, "%s: %d arguments (at most %d)", funcs[i]->name, funcs[i]->n_args,
                             DLC_KERNEL_MAX_ARGS);
    dlc_strbuf_printf(out, "/* generated by dlc %s for %s */\n", DLC_VERSION, target ? target->str : "c");
    dlc_strbuf_append(out, PREAMBLE);
    dlc_strbuf_append(out, dlc__kernel_abi_text);
    emit_vector_types(out);
    /* micro-kernels, once each */
    const char *seen[64];
    int n_seen = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < funcs[i]->n_intrins; k++) {
            const dlc_intrin_decl_t *in = funcs[i]->intrins[k];
            int dup = 0;
            for (int j = 0; j < n_seen; j++) dup |= strcmp(seen[j], in->name) == 0;
            if (dup || n_seen == 64) continue;
            seen[n_seen++] = in->name;
            dlc_strbuf_printf(out, "\n/* tensorize intrinsic %s */\n%s\n", in->name, in->c_source);
        }
    unsigned narrow_emitted = 0;
    for (int i = 0; i < n; i++) {
        cg_t g;
        memset(&g, 0, sizeof g);
        dlc_arena_t *a = dlc_arena_new(0);
        dlc_ctx_t tmp = {.arena = a};
        dlc_strbuf_t fn; /* the function, after the narrow vector types it turns out to use */
        dlc_strbuf_init(&fn);
        g.ctx = &tmp;
        g.out = &fn;
        g.target = target;
        int rc = emit_func(&g, funcs[i]);
        emit_narrow_vector_types(out, g.narrow_used & ~narrow_emitted);
        narrow_emitted |= g.narrow_used;
        if (fn.len) dlc_strbuf_appendn(out, fn.data, fn.len);
        dlc_strbuf_free(&fn);
        dlc_var_ranges_free(&g.ranges);
        dlc_arena_destroy(&a);
        if (rc) return rc;
    }
    return 0;
}
