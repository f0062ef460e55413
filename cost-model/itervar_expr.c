/* itervar_expr.c — index arithmetic for the itervar features: evaluating an
 * index with the loop variables bound to numbers (strides come from finite
 * differences, which handles the div/mod forms fused loops leave behind),
 * the loop variables an index depends on, and a subtree's amount of work. */
#include <stdint.h>

#include "cost-model/costmodel_impl.h"

/* LET values are evaluated in place; a chain deeper than this is not expected
 * from lowering and is treated as unknown rather than recursing further. */
#define MAX_LET_DEPTH 16

static int lookup(const dlc__fx_t *w, int id, int64_t *val, const dlc_expr_t **let) {
    for (int i = w ? w->depth - 1 : -1; i >= 0; i--)
        if (w->stack[i].var_id == id) {
            *val = w->stack[i].value;
            return 1;
        }
    for (int i = w ? w->n_lets - 1 : -1; i >= 0; i--)
        if (w->lets[i].var_id == id) {
            *let = w->lets[i].value;
            return 2;
        }
    return 0;
}

static int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static int eval_rec(const dlc__fx_t *w, const dlc_expr_t *e, int64_t *out, int let_depth) {
    int64_t a = 0, b = 0, c = 0;
    switch (e->kind) {
    case DLC_EXPR_INT:
        *out = e->ival;
        return 0;
    case DLC_EXPR_FLOAT:
        *out = (int64_t)e->fval;
        return 0;
    case DLC_EXPR_VAR: {
        const dlc_expr_t *let = NULL;
        int k = lookup(w, e->id, out, &let);
        if (k == 2)
            return let_depth < MAX_LET_DEPTH ? eval_rec(w, let, out, let_depth + 1) : -1;
        if (k == 0 && w) /* a variable bound nowhere: not an index we can follow */
            return -1;
        if (k == 0)
            *out = 0; /* no bindings given: every variable at 0 */
        return 0;
    }
    case DLC_EXPR_NOT:
    case DLC_EXPR_CAST:
        if (eval_rec(w, e->a[0], &a, let_depth) < 0)
            return -1;
        *out = e->kind == DLC_EXPR_NOT ? !a : a;
        return 0;
    case DLC_EXPR_SELECT:
        if (eval_rec(w, e->a[0], &c, let_depth) < 0)
            return -1;
        return eval_rec(w, e->a[c ? 1 : 2], out, let_depth);
    default:
        break;
    }
    if (e->n != 2 || eval_rec(w, e->a[0], &a, let_depth) < 0 || eval_rec(w, e->a[1], &b, let_depth) < 0)
        return -1; /* loads (indirect indices), calls, reductions */
    /* IR from outside lowering may hold anything: overflow is "unknown", not UB */
    switch (e->kind) {
    case DLC_EXPR_ADD: return __builtin_add_overflow(a, b, out) ? -1 : 0;
    case DLC_EXPR_SUB: return __builtin_sub_overflow(a, b, out) ? -1 : 0;
    case DLC_EXPR_MUL: return __builtin_mul_overflow(a, b, out) ? -1 : 0;
    case DLC_EXPR_DIV:
    case DLC_EXPR_MOD:
        if (b == 0 || (a == INT64_MIN && b == -1))
            return -1;
        *out = e->kind == DLC_EXPR_DIV ? floordiv(a, b) : a - floordiv(a, b) * b;
        break;
    case DLC_EXPR_MIN: *out = a < b ? a : b; break;
    case DLC_EXPR_MAX: *out = a > b ? a : b; break;
    case DLC_EXPR_EQ: *out = a == b; break;
    case DLC_EXPR_NE: *out = a != b; break;
    case DLC_EXPR_LT: *out = a < b; break;
    case DLC_EXPR_LE: *out = a <= b; break;
    case DLC_EXPR_GT: *out = a > b; break;
    case DLC_EXPR_GE: *out = a >= b; break;
    case DLC_EXPR_AND: *out = a && b; break;
    case DLC_EXPR_OR: *out = a || b; break;
    default: return -1;
    }
    return 0;
}

int dlc__fx_eval(const dlc__fx_t *w, const dlc_expr_t *e, int64_t *out) { return eval_rec(w, e, out, 0); }

/* Records variable `id` used under `parent` (the node holding it, or NULL). */
static void deps_add(dlc__fx_deps_t *d, int id, const dlc_expr_t *parent) {
    int i = 0;
    while (i < d->n && d->ids[i] != id)
        i++;
    if (i == d->n) {
        if (d->n == DLC__FX_MAX_DEPS) {
            d->overflow = 1;
            return;
        }
        d->ids[i] = id;
        d->bare[i] = 0;
        d->div[i] = d->mod[i] = 0;
        d->n++;
    }
    int64_t c = 0;
    int by_const = parent && parent->n == 2 && parent->a[0]->kind == DLC_EXPR_VAR && parent->a[0]->id == id &&
                   dlc_expr_const_int(parent->a[1], &c) == 0 && c > 0;
    if (by_const && parent->kind == DLC_EXPR_DIV)
        d->div[i] = d->div[i] == 0 || c < d->div[i] ? c : d->div[i];
    else if (by_const && parent->kind == DLC_EXPR_MOD)
        d->mod[i] = c > d->mod[i] ? c : d->mod[i];
    else
        d->bare[i] = 1;
}

static void deps_rec(const dlc__fx_t *w, const dlc_expr_t *e, const dlc_expr_t *parent, dlc__fx_deps_t *d,
                     int let_depth) {
    if (e->kind == DLC_EXPR_VAR) {
        int64_t v;
        const dlc_expr_t *let = NULL;
        if (lookup(w, e->id, &v, &let) == 2) {
            if (let_depth < MAX_LET_DEPTH)
                deps_rec(w, let, NULL, d, let_depth + 1);
            return;
        }
        deps_add(d, e->id, parent);
        return;
    }
    for (int i = 0; i < e->n; i++)
        deps_rec(w, e->a[i], e, d, let_depth);
}

void dlc__fx_deps(const dlc__fx_t *w, const dlc_expr_t *e, dlc__fx_deps_t *d) {
    d->n = 0;
    d->overflow = 0;
    deps_rec(w, e, NULL, d, 0);
}

int64_t dlc__fx_deps_distinct(const dlc__fx_deps_t *d, int id, int64_t extent) {
    if (d->overflow)
        return extent;
    for (int i = 0; i < d->n; i++) {
        if (d->ids[i] != id)
            continue;
        if (d->bare[i])
            return extent;
        int64_t n = d->div[i] ? (extent + d->div[i] - 1) / d->div[i] : 1;
        if (d->mod[i])
            n *= d->mod[i] < extent ? d->mod[i] : extent;
        return n < extent ? n : extent;
    }
    return 0;
}

static double expr_nodes(const dlc_expr_t *e) {
    double n = 1;
    for (int i = 0; i < e->n; i++)
        n += expr_nodes(e->a[i]);
    return n;
}

int64_t dlc__fx_extent(const dlc__fx_t *w, const dlc_stmt_t *loop) {
    int64_t ext = 0;
    if (dlc_expr_const_int(loop->extent, &ext) < 0 && dlc__fx_eval(w, loop->extent, &ext) < 0)
        ext = 1; /* unknown: count one trip rather than none */
    return ext > 0 ? ext : 0;
}

double dlc__fx_work(const dlc_stmt_t *s) {
    if (!s)
        return 0;
    double w = 0;
    switch (s->kind) {
    case DLC_STMT_FOR: /* extents evaluated with every variable at 0: tails count full */
        return (double)dlc__fx_extent(NULL, s) * (1 + dlc__fx_work(s->body));
    case DLC_STMT_LET:
        return expr_nodes(s->value) + dlc__fx_work(s->body);
    case DLC_STMT_STORE:
        return expr_nodes(s->index) + expr_nodes(s->value);
    case DLC_STMT_IF:
        return expr_nodes(s->cond) + dlc__fx_work(s->then_s) + dlc__fx_work(s->else_s);
    case DLC_STMT_SEQ:
        for (int i = 0; i < s->n; i++)
            w += dlc__fx_work(s->seq[i]);
        return w;
    case DLC_STMT_ALLOC:
        return dlc__fx_work(s->body);
    case DLC_STMT_CALL:
        return 1 + s->n;
    default:
        return 0;
    }
}
