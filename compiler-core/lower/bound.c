/* bound.c — bound inference: which region of a producer a consumer reads
 * while some of its loops are fixed and the inner ones run. Intervals carry
 * symbolic ends and a constant bound on their width, so a region's extent is
 * a constant (buffers are sized statically) and its start an expression in
 * the enclosing loop variables. */
#include <string.h>
#include "lower_impl.h"

int dlc__iv_index(const dlc_stage_t *st, const dlc_iter_var_t *iv) {
    for (int i = 0; i < st->n_all; i++)
        if (st->all[i] == iv) return i;
    return -1;
}

dlc__tbuf_t *dlc__tbuf_find(dlc__lower_t *L, const dlc_tensor_t *t) {
    for (int i = L->n_tbufs - 1; i >= 0; i--)
        if (L->tbufs[i].tensor == t) return &L->tbufs[i];
    return NULL;
}

void dlc__sctx_init(dlc__lower_t *L, dlc__sctx_t *sc, dlc_stage_t *st, dlc_expr_t *const *root_min,
                    const int64_t *root_ext) {
    dlc_ctx_t *ctx = L->ctx;
    memset(sc, 0, sizeof *sc);
    sc->st = st;
    for (int i = 0; i < st->n_axis; i++) {
        sc->root_min[i] = root_min[i];
        sc->root_ext[i] = root_ext[i];
        sc->ext[dlc__iv_index(st, st->axis[i])] = root_ext[i];
    }
    for (int i = 0; i < st->n_raxis; i++) sc->ext[dlc__iv_index(st, st->raxis[i])] = st->raxis[i]->extent;
    /* extents flow from roots to leaves in creation order */
    for (int r = 0; r < st->n_rels; r++) {
        const dlc__relation_t *rel = &st->rels[r];
        if (rel->kind == DLC_REL_SPLIT) {
            int64_t pe = sc->ext[dlc__iv_index(st, rel->parent)];
            int64_t f = rel->factor < pe ? rel->factor : pe;
            sc->ext[dlc__iv_index(st, rel->inner)] = f;
            sc->ext[dlc__iv_index(st, rel->outer)] = (pe + f - 1) / f;
        } else {
            sc->ext[dlc__iv_index(st, rel->fused)] =
                sc->ext[dlc__iv_index(st, rel->outer)] * sc->ext[dlc__iv_index(st, rel->inner)];
        }
    }
    for (int i = 0; i < st->n_leaves; i++) {
        int k = dlc__iv_index(st, st->leaves[i]);
        sc->value[k] = st->leaves[i]->var;
        dlc_var_ranges_set(&L->ranges, st->leaves[i]->var, 0, sc->ext[k] - 1);
    }
    /* values flow from leaves to roots in reverse */
    for (int r = st->n_rels - 1; r >= 0; r--) {
        const dlc__relation_t *rel = &st->rels[r];
        if (rel->kind == DLC_REL_SPLIT) {
            int k = dlc__iv_index(st, rel->parent);
            int64_t f = sc->ext[dlc__iv_index(st, rel->inner)];
            sc->value[k] = dlc_add(ctx, dlc_mul(ctx, sc->value[dlc__iv_index(st, rel->outer)], dlc_int(ctx, f)),
                                   sc->value[dlc__iv_index(st, rel->inner)]);
        } else {
            dlc_expr_t *fv = sc->value[dlc__iv_index(st, rel->fused)];
            dlc_expr_t *ie = dlc_int(ctx, sc->ext[dlc__iv_index(st, rel->inner)]);
            sc->value[dlc__iv_index(st, rel->outer)] = dlc_div(ctx, fv, ie);
            sc->value[dlc__iv_index(st, rel->inner)] = dlc_mod(ctx, fv, ie);
        }
    }
    for (int i = 0; i < st->n_all; i++)
        if (sc->value[i]) sc->value[i] = dlc_simplify(ctx, sc->value[i], &L->ranges);
}

dlc_expr_t *dlc__sctx_root_value(dlc__lower_t *L, const dlc__sctx_t *sc, int i) {
    dlc_expr_t *v = sc->value[dlc__iv_index(sc->st, sc->st->axis[i])];
    return dlc_simplify(L->ctx, dlc_add(L->ctx, sc->root_min[i], v), &L->ranges);
}

/* ---- symbolic intervals ---- */
typedef struct {
    dlc_expr_t *lo, *hi;
    int64_t w; /* hi - lo <= w; -1: unbounded */
} itv_t;

typedef struct {
    dlc__lower_t *L;
    const dlc__sctx_t *sc;
    int fixed_pos;
} ictx_t;

static int is_free_var(const ictx_t *c, const dlc_expr_t *v, int64_t *ext) {
    const dlc_stage_t *st = c->sc->st;
    for (int i = c->fixed_pos + 1; i < st->n_leaves; i++)
        if (st->leaves[i]->var->id == v->id) {
            *ext = c->sc->ext[dlc__iv_index(st, st->leaves[i])];
            return 1;
        }
    return 0;
}

static int uses_free(const ictx_t *c, const dlc_expr_t *e) {
    int64_t ext;
    if (e->kind == DLC_EXPR_VAR) return is_free_var(c, e, &ext);
    for (int i = 0; i < e->n; i++)
        if (uses_free(c, e->a[i])) return 1;
    return 0;
}

static itv_t point(dlc_expr_t *e) { return (itv_t){e, e, 0}; }
static const itv_t UNBOUNDED = {NULL, NULL, -1};

static itv_t eval(const ictx_t *c, dlc_expr_t *e) {
    dlc_ctx_t *ctx = c->L->ctx;
    int64_t k, ext;
    if (!uses_free(c, e)) return point(e);
    if (e->kind == DLC_EXPR_VAR && is_free_var(c, e, &ext)) return (itv_t){dlc_int(ctx, 0), dlc_int(ctx, ext - 1), ext - 1};
    if (e->n != 2) return UNBOUNDED;
    itv_t a = eval(c, e->a[0]), b = eval(c, e->a[1]);
    if (a.w < 0 || b.w < 0) return UNBOUNDED;
    switch (e->kind) {
    case DLC_EXPR_ADD: return (itv_t){dlc_add(ctx, a.lo, b.lo), dlc_add(ctx, a.hi, b.hi), a.w + b.w};
    case DLC_EXPR_SUB: return (itv_t){dlc_sub(ctx, a.lo, b.hi), dlc_sub(ctx, a.hi, b.lo), a.w + b.w};
    case DLC_EXPR_MUL:
        if (b.w == 0 && dlc_expr_const_int(b.lo, &k) == 0) {
        scale:
            if (k >= 0) return (itv_t){dlc_mul(ctx, a.lo, b.lo), dlc_mul(ctx, a.hi, b.lo), a.w * k};
            return (itv_t){dlc_mul(ctx, a.hi, b.lo), dlc_mul(ctx, a.lo, b.lo), -a.w * k};
        }
        if (a.w == 0 && dlc_expr_const_int(a.lo, &k) == 0) {
            itv_t t = a;
            a = b;
            b = t;
            goto scale;
        }
        return UNBOUNDED;
    case DLC_EXPR_DIV:
        if (b.w == 0 && dlc_expr_const_int(b.lo, &k) == 0 && k > 0)
            return (itv_t){dlc_div(ctx, a.lo, b.lo), dlc_div(ctx, a.hi, b.lo), a.w / k + 1};
        return UNBOUNDED;
    case DLC_EXPR_MOD:
        if (b.w == 0 && dlc_expr_const_int(b.lo, &k) == 0 && k > 0) {
            /* not point(e): e may still name a free loop of extent 1 */
            if (a.w == 0) return point(dlc_mod(ctx, a.lo, b.lo));
            return (itv_t){dlc_int(ctx, 0), dlc_int(ctx, k - 1), k - 1};
        }
        return UNBOUNDED;
    case DLC_EXPR_MIN: case DLC_EXPR_MAX: {
        /* min/max of [a.lo, a.lo + a.w] and [b.lo, b.lo + b.w] spans at most the wider of the two */
        dlc_expr_t *(*mm)(dlc_ctx_t *, dlc_expr_t *, dlc_expr_t *) = e->kind == DLC_EXPR_MIN ? dlc_min : dlc_max;
        return (itv_t){mm(ctx, a.lo, b.lo), mm(ctx, a.hi, b.hi), a.w > b.w ? a.w : b.w};
    }
    default: return UNBOUNDED;
    }
}

typedef struct {
    const ictx_t *c;
    const dlc_tensor_t *p;
    int *have;
    dlc_expr_t **lo;
    int64_t *width;
    int found;
} reads_t;

static void union_dim(const ictx_t *c, reads_t *r, int d, itv_t v) {
    dlc_ctx_t *ctx = c->L->ctx;
    if (r->have[d] && r->width[d] < 0) return; /* already the whole dimension */
    if (v.w < 0) {
        r->width[d] = -1;
        r->have[d] = 1;
        return;
    }
    v.lo = dlc_simplify(ctx, v.lo, &c->L->ranges);
    if (!r->have[d]) {
        r->lo[d] = v.lo;
        r->width[d] = v.w;
        r->have[d] = 1;
        return;
    }
    /* both starts must differ by a constant to keep a constant width */
    int64_t diff;
    dlc_expr_t *de = dlc_simplify(ctx, dlc_sub(ctx, v.lo, r->lo[d]), &c->L->ranges);
    if (dlc_expr_const_int(de, &diff) != 0) {
        r->width[d] = -1;
        return;
    }
    int64_t end_old = r->width[d], end_new = diff + v.w; /* relative to the old start */
    int64_t start = diff < 0 ? diff : 0, end = end_new > end_old ? end_new : end_old;
    if (diff < 0) r->lo[d] = v.lo;
    r->width[d] = end - start;
}

static void reads_visit(const dlc_expr_t *e, void *u) {
    reads_t *r = u;
    if (e->kind != DLC_EXPR_READ || e->tensor != r->p) return;
    const ictx_t *c = r->c;
    const dlc_stage_t *st = c->sc->st;
    dlc_expr_t *vars[2 * DLC_MAX_DIMS], *vals[2 * DLC_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < st->n_axis; i++) {
        vars[n] = st->axis[i]->var;
        vals[n++] = dlc__sctx_root_value(c->L, c->sc, i);
    }
    for (int i = 0; i < st->n_raxis; i++) {
        vars[n] = st->raxis[i]->var;
        vals[n++] = c->sc->value[dlc__iv_index(st, st->raxis[i])];
    }
    for (int d = 0; d < e->n; d++) {
        dlc_expr_t *idx = dlc_expr_substitute(c->L->ctx, e->a[d], n, vars, vals);
        idx = dlc_simplify(c->L->ctx, idx, &c->L->ranges);
        union_dim(c, r, d, eval(c, idx));
    }
    r->found = 1;
}

int dlc__infer_reads(dlc__lower_t *L, const dlc__sctx_t *sc, int fixed_pos, const dlc_tensor_t *p, int *have,
                     dlc_expr_t **lo, int64_t *width) {
    ictx_t c = {L, sc, fixed_pos};
    reads_t r = {&c, p, have, lo, width, 0};
    dlc__expr_visit(sc->st->body, reads_visit, &r);
    return r.found ? 0 : 1;
}

void dlc__union_range(dlc__lower_t *L, const dlc__sctx_t *sc, int fixed_pos, int d, dlc_expr_t *start, int64_t w,
                      int *have, dlc_expr_t **lo, int64_t *width) {
    ictx_t c = {L, sc, fixed_pos};
    reads_t r = {&c, NULL, have, lo, width, 0};
    itv_t v = w < 0 ? UNBOUNDED : eval(&c, dlc_simplify(L->ctx, start, &L->ranges));
    if (v.w >= 0) v.w += w;
    union_dim(&c, &r, d, v);
}
