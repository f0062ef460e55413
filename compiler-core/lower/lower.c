/* lower.c — from a schedule to the loop IR: inlining, buffers, loop nests in
 * leaf order with guards or tightened extents for non-dividing splits,
 * reduction init/update, attached stages with inferred regions, tensorize
 * calls, and storage flattening. */
#include <string.h>
#include "lower_impl.h"
#include "compiler-core/dlc_kernel_abi.h"

dlc_stmt_t *dlc__stmt_new(dlc_ctx_t *ctx, dlc_stmt_kind_t kind) {
    dlc_stmt_t *s = dlc_arena_alloc(ctx->arena, sizeof *s);
    s->kind = kind;
    return s;
}

dlc_stmt_t *dlc__seq(dlc_ctx_t *ctx, int n, dlc_stmt_t *const *in) {
    int m = 0;
    for (int i = 0; i < n; i++) m += in[i] != NULL;
    if (m == 1)
        for (int i = 0; i < n; i++)
            if (in[i]) return in[i];
    dlc_stmt_t *s = dlc__stmt_new(ctx, DLC_STMT_SEQ);
    s->seq = dlc_arena_alloc(ctx->arena, sizeof(dlc_stmt_t *) * (size_t)(m ? m : 1));
    for (int i = 0; i < n; i++)
        if (in[i]) s->seq[s->n++] = in[i];
    return s;
}

static dlc_stmt_t *mk_if(dlc_ctx_t *ctx, dlc_expr_t *cond, dlc_stmt_t *then_s) {
    dlc_stmt_t *s = dlc__stmt_new(ctx, DLC_STMT_IF);
    s->cond = cond;
    s->then_s = then_s;
    return s;
}

static dlc_stmt_t *mk_alloc(dlc_ctx_t *ctx, dlc_buffer_t *b, dlc_stmt_t *body) {
    dlc_stmt_t *s = dlc__stmt_new(ctx, DLC_STMT_ALLOC);
    s->buffer = b;
    s->body = body;
    return s;
}

/* ---- inlining ---- */
static dlc_expr_t *inline_rec(dlc_ctx_t *ctx, dlc_expr_t *e, const dlc_stage_t *st) {
    if (e->n == 0) return e;
    dlc_expr_t *args[e->n];
    for (int i = 0; i < e->n; i++) args[i] = inline_rec(ctx, e->a[i], st);
    e = dlc__expr_with_args(ctx, e, args);
    if (e->kind == DLC_EXPR_READ && e->tensor == st->tensor) {
        dlc_expr_t *vars[DLC_MAX_DIMS];
        for (int i = 0; i < st->n_axis; i++) vars[i] = st->axis[i]->var;
        return dlc_expr_substitute(ctx, st->body, st->n_axis, vars, e->a);
    }
    return e;
}

/* ---- expressions ---- */
static const dlc_tensor_t *missing_tensor;

static dlc_expr_t *flat_index(dlc__lower_t *L, const dlc__tbuf_t *tb, dlc_expr_t *const *idx) {
    dlc_ctx_t *ctx = L->ctx;
    dlc_expr_t *acc = dlc_int(ctx, 0);
    for (int d = 0; d < tb->ndim; d++) {
        acc = dlc_mul(ctx, acc, dlc_int(ctx, tb->ext[d]));
        acc = dlc_add(ctx, acc, dlc_sub(ctx, idx[d], tb->min[d]));
    }
    return dlc_simplify(ctx, acc, &L->ranges);
}

static dlc_expr_t *to_loads(dlc__lower_t *L, dlc_expr_t *e) {
    if (e->n == 0) return e;
    dlc_expr_t *args[e->n];
    for (int i = 0; i < e->n; i++) args[i] = to_loads(L, e->a[i]);
    if (e->kind == DLC_EXPR_READ) {
        dlc__tbuf_t *tb = dlc__tbuf_find(L, e->tensor);
        if (!tb) {
            missing_tensor = e->tensor;
            return e;
        }
        dlc_expr_t *ld = dlc__expr_new(L->ctx, DLC_EXPR_LOAD, e->dtype, 1);
        ld->buffer = tb->buf;
        ld->a[0] = flat_index(L, tb, args);
        return ld;
    }
    return dlc__expr_with_args(L->ctx, e, args);
}

/* Stage body value (or reduce source) with axes bound to the nest's values. */
static dlc_expr_t *bind_axes(dlc__lower_t *L, const dlc__sctx_t *sc, dlc_expr_t *e) {
    const dlc_stage_t *st = sc->st;
    dlc_expr_t *vars[2 * DLC_MAX_DIMS], *vals[2 * DLC_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < st->n_axis; i++) {
        vars[n] = st->axis[i]->var;
        vals[n++] = dlc__sctx_root_value(L, sc, i);
    }
    for (int i = 0; i < st->n_raxis; i++) {
        vars[n] = st->raxis[i]->var;
        vals[n++] = sc->value[dlc__iv_index(st, st->raxis[i])];
    }
    return dlc_expr_substitute(L->ctx, e, n, vars, vals);
}

static dlc_expr_t *lower_value(dlc__lower_t *L, const dlc__sctx_t *sc, dlc_expr_t *e) {
    missing_tensor = NULL;
    dlc_expr_t *r = to_loads(L, dlc_simplify(L->ctx, bind_axes(L, sc, e), &L->ranges));
    if (missing_tensor) {
        dlc_stage_t *ms = dlc_sched_stage(L->s, missing_tensor);
        if (ms && ms->attach == DLC_ATTACH_AT)
            dlc_error(DLC_ELOWER, "stage %s reads %s, which is attached inside %s and not computed where %s runs",
                      dlc_stage_name(sc->st), missing_tensor->name, dlc_stage_name(ms->attach_stage),
                      dlc_stage_name(sc->st));
        else
            dlc_error(DLC_ELOWER, "stage %s reads %s where it is not computed (check compute_at)",
                      dlc_stage_name(sc->st), missing_tensor->name);
        return NULL;
    }
    return dlc_simplify(L->ctx, r, &L->ranges);
}

static dlc_expr_t *own_index(dlc__lower_t *L, const dlc__sctx_t *sc) {
    dlc_expr_t *idx[DLC_MAX_DIMS];
    for (int i = 0; i < sc->st->n_axis; i++) idx[i] = dlc__sctx_root_value(L, sc, i);
    return flat_index(L, dlc__tbuf_find(L, sc->st->tensor), idx);
}

/* ---- one stage's nest ---- */
#define MAX_PREDS 32
typedef struct {
    dlc__lower_t *L;
    dlc__sctx_t *sc;
    int n_preds;
    dlc_expr_t *pred[MAX_PREDS];
    int pred_pos[MAX_PREDS];       /* innermost leaf position it depends on */
    dlc_expr_t *ext[DLC__MAX_IVS]; /* per leaf position: loop extent (maybe tightened) */
    int first_reduce;              /* leaf position, n_leaves if none */
    int tensorize_pos;             /* -1 if none */
    int is_reduce;
} nest_t;

static dlc_stmt_t *make_nest(dlc__lower_t *L, dlc__sctx_t *sc);

static int leaf_pos_of_var(const dlc_stage_t *st, const dlc_expr_t *v) {
    for (int i = 0; i < st->n_leaves; i++)
        if (st->leaves[i]->var->id == v->id) return i;
    return -1;
}

static void innermost_visit(const dlc_expr_t *e, void *u) {
    void **p = u;
    if (e->kind != DLC_EXPR_VAR) return;
    int pos = leaf_pos_of_var(p[0], e);
    if (pos > *(int *)p[1]) *(int *)p[1] = pos;
}

static int plan_predicates(nest_t *N) {
    dlc__lower_t *L = N->L;
    dlc_ctx_t *ctx = L->ctx;
    const dlc_stage_t *st = N->sc->st;
    for (int i = 0; i < st->n_leaves; i++) N->ext[i] = dlc_int(ctx, N->sc->ext[dlc__iv_index(st, st->leaves[i])]);
    for (int r = 0; r < st->n_rels; r++) {
        const dlc__relation_t *rel = &st->rels[r];
        if (rel->kind != DLC_REL_SPLIT) continue;
        int64_t pe = N->sc->ext[dlc__iv_index(st, rel->parent)];
        int64_t f = N->sc->ext[dlc__iv_index(st, rel->inner)];
        if (pe % f == 0) continue;
        dlc_expr_t *v = N->sc->value[dlc__iv_index(st, rel->parent)];
        dlc_expr_t *cond = dlc_simplify(ctx, dlc_binary(ctx, DLC_EXPR_LT, v, dlc_int(ctx, pe)), &L->ranges);
        int64_t k;
        if (dlc_expr_const_int(cond, &k) == 0 && k) continue;
        int pos = -1;
        dlc__expr_visit(v, innermost_visit, (void *[]){(void *)st, &pos});
        if (pos < 0) continue;
        dlc_expr_t *var = st->leaves[pos]->var;
        dlc_expr_t *rest = dlc_simplify(ctx, dlc_sub(ctx, v, var), &L->ranges);
        if (!dlc__expr_uses_var(rest, var)) {
            /* v = rest + var < pe  ⇔  var < pe - rest: tighten the loop */
            dlc_expr_t *bound = dlc_simplify(ctx, dlc_sub(ctx, dlc_int(ctx, pe), rest), &L->ranges);
            N->ext[pos] = dlc_simplify(ctx, dlc_min(ctx, N->ext[pos], bound), &L->ranges);
            continue;
        }
        if (N->n_preds == MAX_PREDS) return dlc_error(DLC_ELOWER, "stage %s: too many guards", dlc_stage_name(st));
        N->pred[N->n_preds] = cond;
        N->pred_pos[N->n_preds++] = pos;
    }
    return 0;
}

static dlc_stmt_t *mk_for(nest_t *N, int pos, dlc_stmt_t *body, int keep_parallel) {
    dlc_ctx_t *ctx = N->L->ctx;
    dlc_stage_t *st = N->sc->st;
    dlc_iter_var_t *leaf = st->leaves[pos];
    dlc_stmt_t *f = dlc__stmt_new(ctx, DLC_STMT_FOR);
    f->var = leaf->var;
    f->min = dlc_int(ctx, 0);
    f->extent = N->ext[pos];
    f->body = body;
    dlc__iv_attr_t *a = dlc__stage_attr(st, leaf, 0);
    if (a) {
        f->ann = a->ann == DLC_ANN_TENSORIZE ? DLC_ANN_NONE : a->ann;
        if (f->ann == DLC_ANN_PARALLEL && !keep_parallel) f->ann = DLC_ANN_NONE;
        f->tag = a->tag;
        f->pragma_key = a->pragma_key;
        f->pragma_value = a->pragma_value;
    }
    return f;
}

static dlc_stmt_t *wrap_preds(nest_t *N, int pos, dlc_stmt_t *body) {
    for (int i = 0; i < N->n_preds; i++)
        if (N->pred_pos[i] == pos) body = mk_if(N->L->ctx, N->pred[i], body);
    return body;
}

/* init nest: the data leaves at positions >= pos, storing the identity */
static dlc_stmt_t *emit_init(nest_t *N, int pos) {
    dlc_ctx_t *ctx = N->L->ctx;
    dlc_stage_t *st = N->sc->st;
    dlc_stmt_t *s = dlc__stmt_new(ctx, DLC_STMT_STORE);
    s->buffer = dlc__tbuf_find(N->L, st->tensor)->buf;
    s->index = own_index(N->L, N->sc);
    s->value = dlc_reduce_identity(ctx, st->body->rop, st->body->dtype);
    for (int p = st->n_leaves - 1; p >= pos; p--) {
        if (st->leaves[p]->kind == DLC_IV_REDUCE) continue;
        s = mk_for(N, p, wrap_preds(N, p, s), 0);
    }
    return s;
}

static dlc_stmt_t *emit(nest_t *N, int pos);

static int add_intrin(dlc__lower_t *L, const dlc_intrin_decl_t *in) {
    for (int i = 0; i < L->n_intrins; i++)
        if (strcmp(L->intrins[i]->name, in->name) == 0) return 0;
    if (L->n_intrins == 16) return dlc_error(DLC_ELOWER, "too many tensorize intrinsics");
    L->intrins[L->n_intrins++] = in;
    return 0;
}

typedef struct {
    int n;
    const dlc_tensor_t *t[DLC_KERNEL_MAX_ARGS];
} tset_t;
static void collect_reads(const dlc_expr_t *e, void *u) {
    tset_t *ts = u;
    if (e->kind != DLC_EXPR_READ) return;
    for (int i = 0; i < ts->n; i++)
        if (ts->t[i] == e->tensor) return;
    if (ts->n < DLC_KERNEL_MAX_ARGS) ts->t[ts->n++] = e->tensor;
}

static dlc_expr_t *first_read_index(const dlc_expr_t *e, const dlc_tensor_t *t) {
    if (e->kind == DLC_EXPR_READ && e->tensor == t) return (dlc_expr_t *)e;
    for (int i = 0; i < e->n; i++) {
        dlc_expr_t *r = first_read_index(e->a[i], t);
        if (r) return r;
    }
    return NULL;
}

static dlc_expr_t *buf_ld(dlc__lower_t *L, const dlc__tbuf_t *tb) {
    return dlc_int(L->ctx, tb->ndim >= 2 ? tb->ext[tb->ndim - 1] : 1);
}

/* the call replacing leaves [pos, n) */
static dlc_stmt_t *emit_tensorize(nest_t *N, int pos) {
    dlc__lower_t *L = N->L;
    dlc_ctx_t *ctx = L->ctx;
    dlc_stage_t *st = N->sc->st;
    const dlc__iv_attr_t *a = dlc__stage_attr(st, st->leaves[pos], 0);
    for (int i = 0; i < N->n_preds; i++)
        if (N->pred_pos[i] >= pos) {
            dlc_error(DLC_ELOWER, "tensorize on stage %s: a non-dividing split inside the tensorized loops",
                      dlc_stage_name(st));
            return NULL;
        }
    if (add_intrin(L, a->intrin) < 0) return NULL;
    /* region starts: inner leaves at zero */
    dlc_expr_t *vars[DLC__MAX_IVS], *zeros[DLC__MAX_IVS];
    int nz = 0;
    for (int p = pos; p < st->n_leaves; p++) {
        vars[nz] = st->leaves[p]->var;
        zeros[nz++] = dlc_int(ctx, 0);
    }
    dlc_stmt_t *call = dlc__stmt_new(ctx, DLC_STMT_CALL);
    call->callee = a->intrin->name;
    tset_t ts = {0};
    dlc__expr_visit(st->body, collect_reads, &ts);
    int nargs = (st->n_leaves - pos) + 2 * (1 + ts.n);
    call->args = dlc_arena_alloc(ctx->arena, sizeof(dlc_expr_t *) * (size_t)nargs);
    for (int p = pos; p < st->n_leaves; p++) call->args[call->n++] = N->ext[p];
    dlc__tbuf_t *own = dlc__tbuf_find(L, st->tensor);
    dlc_expr_t *lds[DLC_KERNEL_MAX_ARGS + 1];
    int nld = 0;
    dlc_expr_t *addr = dlc__expr_new(ctx, DLC_EXPR_ADDR, st->tensor->dtype, 1);
    addr->buffer = own->buf;
    addr->a[0] = dlc_simplify(ctx, dlc_expr_substitute(ctx, own_index(L, N->sc), nz, vars, zeros), &L->ranges);
    call->args[call->n++] = addr;
    lds[nld++] = buf_ld(L, own);
    for (int i = 0; i < ts.n; i++) {
        dlc_expr_t *rd = first_read_index(st->body, ts.t[i]);
        dlc_expr_t *ld = lower_value(L, N->sc, rd);
        if (!ld) return NULL;
        ld = dlc_simplify(ctx, dlc_expr_substitute(ctx, ld, nz, vars, zeros), &L->ranges);
        dlc_expr_t *ad = dlc__expr_new(ctx, DLC_EXPR_ADDR, ld->dtype, 1);
        ad->buffer = ld->buffer;
        ad->a[0] = ld->a[0];
        call->args[call->n++] = ad;
        lds[nld++] = buf_ld(L, dlc__tbuf_find(L, ts.t[i]));
    }
    for (int i = 0; i < nld; i++) call->args[call->n++] = lds[i];
    if (N->is_reduce && N->first_reduce >= pos) return dlc__seq(ctx, 2, (dlc_stmt_t *[]){emit_init(N, pos), call});
    return call;
}

static dlc_stmt_t *emit_body(nest_t *N) {
    dlc__lower_t *L = N->L;
    dlc_ctx_t *ctx = L->ctx;
    dlc_stage_t *st = N->sc->st;
    dlc_stmt_t *s = dlc__stmt_new(ctx, DLC_STMT_STORE);
    s->buffer = dlc__tbuf_find(L, st->tensor)->buf;
    s->index = own_index(L, N->sc);
    if (!N->is_reduce) {
        s->value = lower_value(L, N->sc, st->body);
    } else {
        dlc_expr_t *src = lower_value(L, N->sc, st->body->a[0]);
        if (!src) return NULL;
        dlc_expr_t *cur = dlc__expr_new(ctx, DLC_EXPR_LOAD, st->body->dtype, 1);
        cur->buffer = s->buffer;
        cur->a[0] = s->index;
        static const dlc_expr_kind_t comb[] = {DLC_EXPR_ADD, DLC_EXPR_MAX, DLC_EXPR_MIN};
        s->value = dlc_binary(ctx, comb[st->body->rop], cur, dlc_cast(ctx, st->body->dtype, src));
    }
    return s->value ? s : NULL;
}

/* Stages attached at one leaf: their regions are inferred (consumers first)
 * before the leaf's body is lowered, their nests emitted (producers first)
 * in front of it. */
typedef struct {
    int n;
    dlc_stage_t *att[32];
    dlc__sctx_t *scs;
    dlc_buffer_t *bufs[32];
} attach_t;

static int stage_pos(const dlc_schedule_t *s, const dlc_stage_t *st) {
    for (int i = 0; i < s->n_stages; i++)
        if (s->stages[i] == st) return i;
    return -1;
}

/* Whether stage r, attached to N's stage, runs inside the scope of a stage
 * attached at leaf `pos` with schedule position `p_idx`: deeper, or at the
 * same leaf and later (consumers come later). */
static int attached_inside(const nest_t *N, const dlc_stage_t *r, int pos, int p_idx) {
    const dlc_stage_t *st = N->sc->st;
    if (r->attach != DLC_ATTACH_AT || r->attach_stage != st) return 0;
    int pr = dlc__stage_leaf_pos(st, r->attach_iv);
    return pr > pos || (pr == pos && stage_pos(N->L->s, r) > p_idx);
}

static int window_of(nest_t *N, int pos, dlc_stage_t *ps, dlc_expr_t **mins, int64_t *exts, int64_t *size, int depth);

/* The region of ps's tensor read inside leaf `pos` of N's stage: by the
 * stage's own body (inner leaves free) and by the stages attached inside that
 * scope (their whole nests, moved over the free leaves). Unions into
 * have/lo/width; returns 0, 1 if nothing there reads it, or an error. */
static int region_inside(nest_t *N, int pos, dlc_stage_t *ps, int *have, dlc_expr_t **lo, int64_t *width, int depth) {
    dlc__lower_t *L = N->L;
    dlc_schedule_t *s = L->s;
    const dlc_tensor_t *p = ps->tensor;
    int found = dlc__infer_reads(L, N->sc, pos, p, have, lo, width) == 0;
    int p_idx = stage_pos(s, ps);
    for (int i = 0; i < s->n_stages; i++) {
        dlc_stage_t *r = s->stages[i];
        if (!attached_inside(N, r, pos, p_idx) || !first_read_index(r->body, p)) continue;
        if (depth > 2 * s->n_stages) return dlc_error(DLC_ELOWER, "attachment too deep at stage %s", dlc_stage_name(r));
        dlc_expr_t *mins[DLC_MAX_DIMS];
        int64_t exts[DLC_MAX_DIMS];
        int rpos = dlc__stage_leaf_pos(N->sc->st, r->attach_iv);
        int rc = window_of(N, rpos, r, mins, exts, NULL, depth + 1);
        if (rc < 0) return rc;
        dlc__sctx_t *tmp = dlc_arena_alloc(L->ctx->arena, sizeof *tmp);
        dlc__sctx_init(L, tmp, r, mins, exts);
        int h2[DLC_MAX_DIMS] = {0};
        dlc_expr_t *lo2[DLC_MAX_DIMS];
        int64_t w2[DLC_MAX_DIMS] = {0};
        if (dlc__infer_reads(L, tmp, -1, p, h2, lo2, w2) != 0) continue;
        for (int d = 0; d < p->ndim; d++)
            if (h2[d]) dlc__union_range(L, N->sc, pos, d, lo2[d], w2[d], have, lo, width);
        found = 1;
    }
    return found ? 0 : 1;
}

/* The window [mins, mins + exts) of ps's tensor computed at leaf `pos`. */
static int window_of(nest_t *N, int pos, dlc_stage_t *ps, dlc_expr_t **mins, int64_t *exts, int64_t *size, int depth) {
    dlc__lower_t *L = N->L;
    dlc_ctx_t *ctx = L->ctx;
    const dlc_tensor_t *p = ps->tensor;
    int have[DLC_MAX_DIMS] = {0};
    dlc_expr_t *lo[DLC_MAX_DIMS];
    int64_t width[DLC_MAX_DIMS] = {0};
    int rc = region_inside(N, pos, ps, have, lo, width, depth);
    if (rc < 0) return rc;
    if (rc == 1)
        return dlc_error(DLC_ELOWER, "stage %s is attached to %s, which does not read it", dlc_stage_name(ps),
                         dlc_stage_name(N->sc->st));
    int64_t n = 1;
    for (int d = 0; d < p->ndim; d++) {
        int64_t S = p->shape[d];
        if (!have[d] || width[d] < 0 || width[d] + 1 >= S) {
            exts[d] = S;
            mins[d] = dlc_int(ctx, 0);
        } else {
            exts[d] = width[d] + 1;
            /* shifted to lie inside [0, S): covers [lo, lo + width] without guards */
            mins[d] = dlc_simplify(
                ctx, dlc_max(ctx, dlc_int(ctx, 0), dlc_min(ctx, lo[d], dlc_int(ctx, S - exts[d]))), &L->ranges);
        }
        n *= exts[d];
    }
    if (size) *size = n;
    return 0;
}

static int prepare_attached(nest_t *N, int pos, attach_t *A) {
    dlc__lower_t *L = N->L;
    dlc_ctx_t *ctx = L->ctx;
    dlc_stage_t *st = N->sc->st;
    dlc_schedule_t *s = L->s;
    A->n = 0;
    for (int i = 0; i < s->n_stages && A->n < 32; i++)
        if (s->stages[i]->attach == DLC_ATTACH_AT && s->stages[i]->attach_stage == st &&
            s->stages[i]->attach_iv == st->leaves[pos])
            A->att[A->n++] = s->stages[i];
    if (!A->n) return 0;
    int n = A->n;
    A->scs = dlc_arena_alloc(ctx->arena, sizeof(dlc__sctx_t) * (size_t)n);
    for (int a = n - 1; a >= 0; a--) {
        dlc_tensor_t *p = A->att[a]->tensor;
        int p_idx = stage_pos(s, A->att[a]);
        for (int i = 0; i < s->n_stages; i++) {
            dlc_stage_t *r = s->stages[i];
            int ok = r == st || r->attach == DLC_ATTACH_INLINE || attached_inside(N, r, pos, p_idx);
            if (!ok && first_read_index(r->body, p))
                return dlc_error(DLC_ELOWER, "stage %s is attached inside %s but also read by %s",
                                 dlc_stage_name(A->att[a]), dlc_stage_name(st), dlc_stage_name(r));
        }
        dlc_expr_t *mins[DLC_MAX_DIMS];
        int64_t exts[DLC_MAX_DIMS];
        int64_t size = 1;
        int rc = window_of(N, pos, A->att[a], mins, exts, &size, 0);
        if (rc < 0) return rc;
        dlc__sctx_init(L, &A->scs[a], A->att[a], mins, exts);
        dlc_scope_t scope = A->att[a]->scope == DLC_SCOPE_GLOBAL ? DLC_SCOPE_LOCAL : A->att[a]->scope;
        A->bufs[a] = dlc__buffer_new(ctx, p->name, p->dtype, size, scope);
        if (L->n_tbufs == 128) return dlc_error(DLC_ELOWER, "too many buffers");
        dlc__tbuf_t *tb = &L->tbufs[L->n_tbufs++];
        tb->tensor = p;
        tb->buf = A->bufs[a];
        tb->ndim = p->ndim;
        memcpy(tb->ext, exts, sizeof(int64_t) * (size_t)p->ndim);
        memcpy(tb->min, mins, sizeof(dlc_expr_t *) * (size_t)p->ndim);
    }
    return 0;
}

static dlc_stmt_t *finish_attached(nest_t *N, attach_t *A, dlc_stmt_t *body) {
    if (!A->n) return body;
    dlc_stmt_t *parts[33];
    for (int a = 0; a < A->n; a++) {
        parts[a] = make_nest(N->L, &A->scs[a]);
        if (!parts[a]) return NULL;
    }
    parts[A->n] = body;
    dlc_stmt_t *r = dlc__seq(N->L->ctx, A->n + 1, parts);
    for (int a = A->n - 1; a >= 0; a--) r = mk_alloc(N->L->ctx, A->bufs[a], r);
    return r;
}

static dlc_stmt_t *emit_loop(nest_t *N, int pos) {
    attach_t A;
    if (prepare_attached(N, pos, &A) < 0) return NULL;
    dlc_stmt_t *body = emit(N, pos + 1);
    if (!body) return NULL;
    body = wrap_preds(N, pos, body);
    body = finish_attached(N, &A, body);
    if (!body) return NULL;
    return mk_for(N, pos, body, 1);
}

static dlc_stmt_t *emit(nest_t *N, int pos) {
    dlc_ctx_t *ctx = N->L->ctx;
    if (pos == N->tensorize_pos) return emit_tensorize(N, pos);
    if (pos == N->sc->st->n_leaves) return emit_body(N);
    if (N->is_reduce && pos == N->first_reduce && !(N->tensorize_pos >= 0 && N->tensorize_pos < pos)) {
        dlc_stmt_t *loop = emit_loop(N, pos);
        return loop ? dlc__seq(ctx, 2, (dlc_stmt_t *[]){emit_init(N, pos), loop}) : NULL;
    }
    return emit_loop(N, pos);
}

static dlc_stmt_t *make_nest(dlc__lower_t *L, dlc__sctx_t *sc) {
    nest_t N;
    memset(&N, 0, sizeof N);
    N.L = L;
    N.sc = sc;
    dlc_stage_t *st = sc->st;
    N.is_reduce = st->body->kind == DLC_EXPR_REDUCE;
    N.first_reduce = st->n_leaves;
    N.tensorize_pos = -1;
    for (int i = st->n_leaves - 1; i >= 0; i--) {
        if (st->leaves[i]->kind == DLC_IV_REDUCE) N.first_reduce = i;
        const dlc__iv_attr_t *a = dlc__stage_attr(st, st->leaves[i], 0);
        if (a && a->ann == DLC_ANN_TENSORIZE) N.tensorize_pos = i;
    }
    if (plan_predicates(&N) < 0) return NULL;
    return emit(&N, 0);
}

/* ---- entry points ---- */
static dlc_buffer_t *tensor_buffer(dlc__lower_t *L, const dlc_tensor_t *t, int arg_index) {
    dlc_buffer_t *b = dlc__buffer_new(L->ctx, t->name, t->dtype, dlc_tensor_size(t), DLC_SCOPE_GLOBAL);
    b->arg_index = arg_index;
    b->ndim = t->ndim;
    memcpy(b->shape, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    dlc__tbuf_t *tb = &L->tbufs[L->n_tbufs++];
    tb->tensor = t;
    tb->buf = b;
    tb->ndim = t->ndim;
    memcpy(tb->ext, t->shape, sizeof(int64_t) * (size_t)t->ndim);
    for (int d = 0; d < t->ndim; d++) tb->min[d] = dlc_int(L->ctx, 0);
    return b;
}

int dlc_lower(dlc_schedule_t *s, const char *name, int n_args, dlc_tensor_t *const *args, int n_outputs,
              dlc_lowered_func_t **out) {
    dlc_ctx_t *ctx = s->ctx;
    dlc__lower_t L;
    memset(&L, 0, sizeof L);
    L.ctx = ctx;
    L.s = s;
    int rc = DLC_ELOWER;
    if (n_args <= 0 || n_args > DLC_KERNEL_MAX_ARGS || n_outputs <= 0 || n_outputs > n_args)
        return dlc_error(DLC_ELOWER, "lower %s: %d arguments with %d outputs (1..%d arguments)", name, n_args,
                         n_outputs, DLC_KERNEL_MAX_ARGS);
    /* inline in producer order so chains of inlined stages collapse */
    for (int i = 0; i < s->n_stages; i++) {
        dlc_stage_t *st = s->stages[i];
        if (st->attach != DLC_ATTACH_INLINE) continue;
        for (int j = i + 1; j < s->n_stages; j++) s->stages[j]->body = inline_rec(ctx, s->stages[j]->body, st);
    }
    for (int i = 0; i < s->n_stages; i++) {
        dlc_stage_t *st = s->stages[i];
        if (st->attach == DLC_ATTACH_AT && st->attach_stage->attach == DLC_ATTACH_INLINE)
            return dlc_error(DLC_ELOWER, "stage %s is attached to %s, which is inlined", dlc_stage_name(st),
                             dlc_stage_name(st->attach_stage));
    }
    dlc_lowered_func_t *f = dlc_arena_alloc(ctx->arena, sizeof *f);
    f->name = dlc_arena_strdup(ctx->arena, name);
    f->n_args = n_args;
    f->n_outputs = n_outputs;
    f->args = dlc_arena_alloc(ctx->arena, sizeof(dlc_buffer_t *) * (size_t)n_args);
    for (int i = 0; i < n_args; i++) {
        const dlc_tensor_t *t = args[i];
        dlc_stage_t *st = dlc_sched_stage(s, t);
        if (i >= n_args - n_outputs) {
            if (!st) return dlc_error(DLC_ELOWER, "lower %s: output %s is not computed by the schedule", name, t->name);
            if (st->attach != DLC_ATTACH_ROOT)
                return dlc_error(DLC_ELOWER, "lower %s: output %s must be computed at root", name, t->name);
        } else if (t->op != DLC_OP_PLACEHOLDER && st && st->attach != DLC_ATTACH_INLINE) {
            return dlc_error(DLC_ELOWER, "lower %s: input %s is computed by the schedule", name, t->name);
        }
        for (int j = 0; j < i; j++)
            if (args[j] == t) return dlc_error(DLC_ELOWER, "lower %s: argument %s given twice", name, t->name);
        f->args[i] = tensor_buffer(&L, t, i);
    }
    int cap = s->n_stages * 2 + 1, n = 0;
    dlc_stmt_t **parts = dlc_arena_alloc(ctx->arena, sizeof(dlc_stmt_t *) * (size_t)cap);
    dlc_buffer_t **roots = dlc_arena_alloc(ctx->arena, sizeof(dlc_buffer_t *) * (size_t)cap);
    int n_roots = 0;
    for (int i = 0; i < s->n_stages; i++) {
        dlc_stage_t *st = s->stages[i];
        if (st->attach != DLC_ATTACH_ROOT) continue;
        if (!dlc__tbuf_find(&L, st->tensor)) {
            if (L.n_tbufs >= 120) {
                dlc_error(DLC_ELOWER, "too many buffers");
                goto cleanup;
            }
            roots[n_roots] = tensor_buffer(&L, st->tensor, -1);
            roots[n_roots]->scope = st->scope;
            n_roots++;
        }
        dlc__sctx_t *sc = dlc_arena_alloc(ctx->arena, sizeof *sc);
        dlc_expr_t *mins[DLC_MAX_DIMS];
        for (int d = 0; d < st->n_axis; d++) mins[d] = dlc_int(ctx, 0);
        dlc__sctx_init(&L, sc, st, mins, st->tensor->shape);
        parts[n] = make_nest(&L, sc);
        if (!parts[n]) goto cleanup;
        n++;
    }
    f->body = dlc__seq(ctx, n, parts);
    for (int i = n_roots - 1; i >= 0; i--) f->body = mk_alloc(ctx, roots[i], f->body);
    f->n_intrins = L.n_intrins;
    f->intrins = dlc_arena_alloc(ctx->arena, sizeof(void *) * (size_t)(L.n_intrins ? L.n_intrins : 1));
    memcpy(f->intrins, L.intrins, sizeof(void *) * (size_t)L.n_intrins);
    *out = f;
    rc = 0;
cleanup:
    if (rc && dlc_last_status() == 0) dlc_error(rc, "lower %s failed", name);
    dlc_var_ranges_free(&L.ranges);
    return rc ? dlc_last_status() : 0;
}

int dlc_lower_reference(dlc_ctx_t *ctx, const char *name, int n_args, dlc_tensor_t *const *args, int n_outputs,
                        dlc_lowered_func_t **out) {
    dlc_schedule_t *s = dlc_sched_create(ctx, n_outputs, args + (n_args - n_outputs));
    if (!s) return dlc_last_status();
    return dlc_lower(s, name, n_args, args, n_outputs, out);
}
