/* simplify.c — the arithmetic simplifier: constant folding, canonical linear
 * forms (Σ coef·term + const), floor div/mod rules under known variable
 * ranges, and folding of min/max/comparisons that ranges decide. Lowering runs
 * it on every index so equal bounds compare equal and extents become constants. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "compiler-core/core_impl.h"

static int64_t fdiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}
static int64_t fmod_i(int64_t a, int64_t b) { return a - fdiv(a, b) * b; }

static int is_int(const dlc_expr_t *e) { return !dlc_dtype_is_float(e->dtype); }
static int is_iconst(const dlc_expr_t *e, int64_t *v) {
    if (e->kind == DLC_EXPR_INT) {
        if (v) *v = e->ival;
        return 1;
    }
    return 0;
}

/* ---- constant bounds ---- */
int dlc_expr_bounds(const dlc_expr_t *e, const dlc_var_ranges_t *r, int64_t *lo, int64_t *hi) {
    int64_t al, ah, bl, bh;
    switch (e->kind) {
    case DLC_EXPR_INT: *lo = *hi = e->ival; return 0;
    case DLC_EXPR_VAR: return dlc_var_ranges_get(r, e, lo, hi) ? 0 : DLC_EINVAL;
    case DLC_EXPR_EQ: case DLC_EXPR_NE: case DLC_EXPR_LT: case DLC_EXPR_LE: case DLC_EXPR_GT: case DLC_EXPR_GE:
    case DLC_EXPR_AND: case DLC_EXPR_OR: case DLC_EXPR_NOT:
        *lo = 0; *hi = 1; return 0;
    case DLC_EXPR_CAST:
        if (!is_int(e) || !is_int(e->a[0])) return DLC_EINVAL;
        return dlc_expr_bounds(e->a[0], r, lo, hi);
    case DLC_EXPR_SELECT:
        if (dlc_expr_bounds(e->a[1], r, &al, &ah) || dlc_expr_bounds(e->a[2], r, &bl, &bh)) return DLC_EINVAL;
        *lo = al < bl ? al : bl; *hi = ah > bh ? ah : bh; return 0;
    default: break;
    }
    if (e->n != 2 || !is_int(e)) return DLC_EINVAL;
    if (dlc_expr_bounds(e->a[0], r, &al, &ah) || dlc_expr_bounds(e->a[1], r, &bl, &bh)) return DLC_EINVAL;
    switch (e->kind) {
    case DLC_EXPR_ADD: *lo = al + bl; *hi = ah + bh; return 0;
    case DLC_EXPR_SUB: *lo = al - bh; *hi = ah - bl; return 0;
    case DLC_EXPR_MUL: {
        int64_t p[4] = {al * bl, al * bh, ah * bl, ah * bh};
        *lo = *hi = p[0];
        for (int i = 1; i < 4; i++) {
            if (p[i] < *lo) *lo = p[i];
            if (p[i] > *hi) *hi = p[i];
        }
        return 0;
    }
    case DLC_EXPR_DIV:
        if (bl != bh || bl <= 0) return DLC_EINVAL;
        *lo = fdiv(al, bl); *hi = fdiv(ah, bl); return 0;
    case DLC_EXPR_MOD:
        if (bl != bh || bl <= 0) return DLC_EINVAL;
        if (fdiv(al, bl) == fdiv(ah, bl)) { *lo = fmod_i(al, bl); *hi = fmod_i(ah, bl); }
        else { *lo = 0; *hi = bl - 1; }
        return 0;
    case DLC_EXPR_MIN: *lo = al < bl ? al : bl; *hi = ah < bh ? ah : bh; return 0;
    case DLC_EXPR_MAX: *lo = al > bl ? al : bl; *hi = ah > bh ? ah : bh; return 0;
    default: return DLC_EINVAL;
    }
}

/* ---- linear forms ---- */
#define MAX_TERMS 32
typedef struct {
    int n;
    int64_t coef[MAX_TERMS];
    dlc_expr_t *term[MAX_TERMS];
    int64_t c;
    int ok; /* 0 if it overflowed MAX_TERMS */
} lin_t;

static uint64_t expr_key(const dlc_expr_t *e) {
    if (e->kind == DLC_EXPR_VAR) return (uint64_t)e->id;
    /* non-variable terms after variables, ordered by a structural hash */
    uint64_t h = dlc_hash64(&e->kind, sizeof e->kind, DLC_HASH_SEED);
    h = dlc_hash64(&e->ival, sizeof e->ival, h);
    if (e->tensor) h = dlc_hash64(&e->tensor->id, sizeof(int), h);
    if (e->buffer) h = dlc_hash64(&e->buffer->id, sizeof(int), h);
    for (int i = 0; i < e->n; i++) {
        uint64_t k = expr_key(e->a[i]);
        h = dlc_hash64(&k, sizeof k, h);
    }
    return h | (1ULL << 63);
}

static void lin_add_term(lin_t *l, int64_t coef, dlc_expr_t *t) {
    if (coef == 0) return;
    for (int i = 0; i < l->n; i++)
        if (dlc_expr_equal(l->term[i], t)) {
            l->coef[i] += coef;
            return;
        }
    if (l->n == MAX_TERMS) {
        l->ok = 0;
        return;
    }
    l->coef[l->n] = coef;
    l->term[l->n++] = t;
}

static void lin_of(const dlc_expr_t *e, int64_t scale, lin_t *l) {
    int64_t v;
    switch (e->kind) {
    case DLC_EXPR_INT: l->c += scale * e->ival; return;
    case DLC_EXPR_ADD: lin_of(e->a[0], scale, l); lin_of(e->a[1], scale, l); return;
    case DLC_EXPR_SUB: lin_of(e->a[0], scale, l); lin_of(e->a[1], -scale, l); return;
    case DLC_EXPR_MUL:
        if (is_iconst(e->a[1], &v)) { lin_of(e->a[0], scale * v, l); return; }
        if (is_iconst(e->a[0], &v)) { lin_of(e->a[1], scale * v, l); return; }
        break;
    default: break;
    }
    lin_add_term(l, scale, (dlc_expr_t *)e);
}

static void lin_sort(lin_t *l) {
    /* insertion sort by key; n is small */
    uint64_t key[MAX_TERMS];
    int j = 0;
    for (int i = 0; i < l->n; i++)
        if (l->coef[i] != 0) {
            l->coef[j] = l->coef[i];
            l->term[j] = l->term[i];
            key[j++] = expr_key(l->term[i]);
        }
    l->n = j;
    for (int i = 1; i < l->n; i++) {
        uint64_t k = key[i];
        int64_t c = l->coef[i];
        dlc_expr_t *t = l->term[i];
        int p = i - 1;
        while (p >= 0 && key[p] > k) {
            key[p + 1] = key[p];
            l->coef[p + 1] = l->coef[p];
            l->term[p + 1] = l->term[p];
            p--;
        }
        key[p + 1] = k;
        l->coef[p + 1] = c;
        l->term[p + 1] = t;
    }
}

static dlc_expr_t *mk_bin(dlc_ctx_t *ctx, dlc_expr_kind_t k, dlc_expr_t *a, dlc_expr_t *b, dlc_dtype_t dt) {
    dlc_expr_t *e = dlc__expr_new(ctx, k, dt, 2);
    e->a[0] = a;
    e->a[1] = b;
    return e;
}

static dlc_expr_t *iconst(dlc_ctx_t *ctx, int64_t v, dlc_dtype_t dt) {
    dlc_expr_t *e = dlc_int(ctx, v);
    e->dtype = dt;
    return e;
}

/* Positive terms first, then the constant if nothing positive came before
 * (so 7 - x prints as such, not (0 - x) + 7), then negative terms. */
static dlc_expr_t *lin_build(dlc_ctx_t *ctx, lin_t *l, dlc_dtype_t dt) {
    lin_sort(l);
    dlc_expr_t *acc = NULL;
    int const_done = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < l->n; i++) {
            int64_t c = l->coef[i];
            if ((pass == 0) != (c > 0)) continue;
            int64_t ac = c < 0 ? -c : c;
            dlc_expr_t *t = ac == 1 ? l->term[i] : mk_bin(ctx, DLC_EXPR_MUL, l->term[i], iconst(ctx, ac, dt), dt);
            if (!acc) acc = c < 0 ? mk_bin(ctx, DLC_EXPR_SUB, iconst(ctx, 0, dt), t, dt) : t;
            else acc = mk_bin(ctx, c < 0 ? DLC_EXPR_SUB : DLC_EXPR_ADD, acc, t, dt);
        }
        if (pass == 0 && !acc && l->c > 0) {
            acc = iconst(ctx, l->c, dt);
            const_done = 1;
        }
    }
    if (!acc) return iconst(ctx, l->c, dt);
    if (!const_done && l->c > 0) acc = mk_bin(ctx, DLC_EXPR_ADD, acc, iconst(ctx, l->c, dt), dt);
    if (!const_done && l->c < 0) acc = mk_bin(ctx, DLC_EXPR_SUB, acc, iconst(ctx, -l->c, dt), dt);
    return acc;
}

static int lin_bounds(const lin_t *l, const dlc_var_ranges_t *r, int64_t *lo, int64_t *hi) {
    *lo = *hi = l->c;
    for (int i = 0; i < l->n; i++) {
        int64_t tl, th;
        if (dlc_expr_bounds(l->term[i], r, &tl, &th)) return DLC_EINVAL;
        int64_t c = l->coef[i];
        if (c >= 0) { *lo += c * tl; *hi += c * th; }
        else { *lo += c * th; *hi += c * tl; }
    }
    return 0;
}

/* floor(L / c) and L mod c for a positive constant c */
static dlc_expr_t *simplify_divmod(dlc_ctx_t *ctx, dlc_expr_t *e, const dlc_var_ranges_t *r) {
    int64_t c, lo, hi;
    if (!is_iconst(e->a[1], &c) || c <= 0) return e;
    int is_div = e->kind == DLC_EXPR_DIV;
    if (c == 1) return is_div ? e->a[0] : iconst(ctx, 0, e->dtype);
    /* (x / a) / b == x / (a * b) */
    int64_t a2;
    if (is_div && e->a[0]->kind == DLC_EXPR_DIV && is_iconst(e->a[0]->a[1], &a2) && a2 > 0)
        return simplify_divmod(ctx, mk_bin(ctx, DLC_EXPR_DIV, e->a[0]->a[0], iconst(ctx, a2 * c, e->dtype), e->dtype), r);
    lin_t l = {.ok = 1};
    lin_of(e->a[0], 1, &l);
    if (!l.ok) return e;
    lin_t q = {.ok = 1}, rem = {.ok = 1};
    for (int i = 0; i < l.n; i++) {
        if (l.coef[i] % c == 0) lin_add_term(&q, l.coef[i] / c, l.term[i]);
        else lin_add_term(&rem, l.coef[i], l.term[i]);
    }
    q.c = fdiv(l.c, c);
    rem.c = fmod_i(l.c, c);
    if (rem.n == 0) return is_div ? lin_build(ctx, &q, e->dtype) : iconst(ctx, rem.c, e->dtype);
    if (lin_bounds(&rem, r, &lo, &hi) == 0) {
        if (lo >= 0 && hi < c) return is_div ? lin_build(ctx, &q, e->dtype) : lin_build(ctx, &rem, e->dtype);
        /* the remainder spans a fixed window of periods: shift it */
        if (fdiv(lo, c) == fdiv(hi, c)) {
            int64_t k = fdiv(lo, c);
            q.c += k;
            rem.c -= k * c;
            return is_div ? lin_build(ctx, &q, e->dtype) : lin_build(ctx, &rem, e->dtype);
        }
    }
    if (q.n == 0 && q.c == 0) return mk_bin(ctx, e->kind, lin_build(ctx, &rem, e->dtype), e->a[1], e->dtype);
    return e;
}

static double fold_float(dlc_expr_kind_t k, double a, double b, int *ok) {
    *ok = 1;
    switch (k) {
    case DLC_EXPR_ADD: return a + b;
    case DLC_EXPR_SUB: return a - b;
    case DLC_EXPR_MUL: return a * b;
    case DLC_EXPR_DIV: return a / b;
    case DLC_EXPR_MIN: return a < b ? a : b;
    case DLC_EXPR_MAX: return a > b ? a : b;
    default: *ok = 0; return 0;
    }
}

static int fold_cmp(dlc_expr_kind_t k, double d) {
    switch (k) {
    case DLC_EXPR_EQ: return d == 0;
    case DLC_EXPR_NE: return d != 0;
    case DLC_EXPR_LT: return d < 0;
    case DLC_EXPR_LE: return d <= 0;
    case DLC_EXPR_GT: return d > 0;
    default: return d >= 0;
    }
}

/* Decides a comparison from the bounds of a - b, or returns -1. */
static int decide_cmp(dlc_ctx_t *ctx, dlc_expr_kind_t k, dlc_expr_t *a, dlc_expr_t *b, const dlc_var_ranges_t *r) {
    lin_t l = {.ok = 1};
    lin_of(a, 1, &l);
    lin_of(b, -1, &l);
    if (!l.ok) return -1;
    lin_sort(&l);
    int64_t lo, hi;
    if (lin_bounds(&l, r, &lo, &hi)) return -1;
    int at_lo = fold_cmp(k, (double)lo), at_hi = fold_cmp(k, (double)hi);
    if (lo == hi) return at_lo;
    switch (k) {
    case DLC_EXPR_LT: case DLC_EXPR_LE: case DLC_EXPR_GT: case DLC_EXPR_GE:
        return at_lo == at_hi ? at_lo : -1;
    case DLC_EXPR_EQ: return (lo > 0 || hi < 0) ? 0 : -1;
    case DLC_EXPR_NE: return (lo > 0 || hi < 0) ? 1 : -1;
    default: return -1;
    }
    (void)ctx;
}

dlc_expr_t *dlc_simplify(dlc_ctx_t *ctx, dlc_expr_t *e, const dlc_var_ranges_t *r) {
    if (!e || e->n == 0) return e;
    if (e->kind == DLC_EXPR_REDUCE) {
        dlc_expr_t *src = dlc_simplify(ctx, e->a[0], r);
        return dlc__expr_with_args(ctx, e, &src);
    }
    dlc_expr_t *args[e->n];
    for (int i = 0; i < e->n; i++) args[i] = dlc_simplify(ctx, e->a[i], r);
    e = dlc__expr_with_args(ctx, e, args);
    int64_t x, y;
    int ok;
    switch (e->kind) {
    case DLC_EXPR_ADD: case DLC_EXPR_SUB: case DLC_EXPR_MUL:
        if (is_int(e)) {
            if (e->kind == DLC_EXPR_MUL && !is_iconst(e->a[0], NULL) && !is_iconst(e->a[1], NULL)) return e;
            lin_t l = {.ok = 1};
            lin_of(e, 1, &l);
            return l.ok ? lin_build(ctx, &l, e->dtype) : e;
        }
        break;
    case DLC_EXPR_DIV: case DLC_EXPR_MOD:
        if (is_int(e)) {
            if (is_iconst(e->a[0], &x) && is_iconst(e->a[1], &y) && y != 0)
                return iconst(ctx, e->kind == DLC_EXPR_DIV ? fdiv(x, y) : fmod_i(x, y), e->dtype);
            return simplify_divmod(ctx, e, r);
        }
        break;
    case DLC_EXPR_MIN: case DLC_EXPR_MAX:
        if (is_int(e)) {
            if (dlc_expr_equal(e->a[0], e->a[1])) return e->a[0];
            int le = decide_cmp(ctx, DLC_EXPR_LE, e->a[0], e->a[1], r);
            if (le == 1) return e->kind == DLC_EXPR_MIN ? e->a[0] : e->a[1];
            if (le == 0) return e->kind == DLC_EXPR_MIN ? e->a[1] : e->a[0];
            /* a >= b decides it too when they may be equal (max(i, 0) with i >= 0) */
            if (decide_cmp(ctx, DLC_EXPR_GE, e->a[0], e->a[1], r) == 1)
                return e->kind == DLC_EXPR_MIN ? e->a[1] : e->a[0];
            return e;
        }
        break;
    case DLC_EXPR_EQ: case DLC_EXPR_NE: case DLC_EXPR_LT: case DLC_EXPR_LE: case DLC_EXPR_GT: case DLC_EXPR_GE:
        if (is_int(e->a[0]) && is_int(e->a[1])) {
            int d = decide_cmp(ctx, e->kind, e->a[0], e->a[1], r);
            if (d >= 0) return iconst(ctx, d, DLC_BOOL);
        }
        return e;
    case DLC_EXPR_AND: case DLC_EXPR_OR: {
        int is_and = e->kind == DLC_EXPR_AND;
        for (int i = 0; i < 2; i++)
            if (is_iconst(e->a[i], &x)) {
                if ((x != 0) == is_and) return e->a[1 - i]; /* identity element */
                return iconst(ctx, !is_and, DLC_BOOL);      /* absorbing element */
            }
        return e;
    }
    case DLC_EXPR_NOT:
        if (is_iconst(e->a[0], &x)) return iconst(ctx, !x, DLC_BOOL);
        return e;
    case DLC_EXPR_SELECT:
        if (is_iconst(e->a[0], &x)) return x ? e->a[1] : e->a[2];
        return e;
    case DLC_EXPR_CAST:
        if (is_iconst(e->a[0], &x)) return dlc_const(ctx, (double)x, e->dtype);
        if (e->a[0]->kind == DLC_EXPR_FLOAT) return dlc_const(ctx, e->a[0]->fval, e->dtype);
        return e;
    default: return e;
    }
    /* floating-point constant folding only; no reassociation of float math */
    if (e->n == 2 && e->a[0]->kind == DLC_EXPR_FLOAT && e->a[1]->kind == DLC_EXPR_FLOAT) {
        double v = fold_float(e->kind, e->a[0]->fval, e->a[1]->fval, &ok);
        if (ok) return dlc_const(ctx, v, e->dtype);
    }
    return e;
}
