/* schedule.c — stages and the loop primitives: split, fuse, reorder, tile,
 * annotations (vectorize, unroll, parallel, pragma, bind, tensorize) and
 * attachment (compute_at, compute_inline, compute_root). */
#include <string.h>
#include "compiler-core/core_impl.h"

static const char *scope_names[] = {"global", "shared", "local"};
_Static_assert(sizeof scope_names / sizeof scope_names[0] == DLC_SCOPE_COUNT, "scope table");
static const char *thread_names[] = {"blockIdx.x", "blockIdx.y", "blockIdx.z", "threadIdx.x",
                                     "threadIdx.y", "threadIdx.z", "vthread"};
_Static_assert(sizeof thread_names / sizeof thread_names[0] == DLC_THREAD_COUNT, "thread tag table");

const char *dlc_scope_name(dlc_scope_t s) { return (unsigned)s < DLC_SCOPE_COUNT ? scope_names[s] : "?"; }
int dlc_scope_parse(const char *name, dlc_scope_t *out) {
    for (int i = 0; i < DLC_SCOPE_COUNT; i++)
        if (strcmp(name, scope_names[i]) == 0) {
            *out = (dlc_scope_t)i;
            return 0;
        }
    return dlc_error(DLC_EINVAL, "unknown storage scope '%s' (global, shared, local)", name);
}
const char *dlc_thread_tag_name(dlc_thread_tag_t t) { return (unsigned)t < DLC_THREAD_COUNT ? thread_names[t] : "?"; }
int dlc_thread_tag_parse(const char *name, dlc_thread_tag_t *out) {
    for (int i = 0; i < DLC_THREAD_COUNT; i++)
        if (strcmp(name, thread_names[i]) == 0) {
            *out = (dlc_thread_tag_t)i;
            return 0;
        }
    return dlc_error(DLC_EINVAL, "unknown thread tag '%s'", name);
}

/* ---- creation ---- */
static int find_stage(const dlc_schedule_t *s, const dlc_tensor_t *t) {
    for (int i = 0; i < s->n_stages; i++)
        if (s->stages[i]->tensor == t) return i;
    return -1;
}

dlc_stage_t *dlc__sched_add_stage(dlc_schedule_t *s, dlc_tensor_t *t, int pos) {
    dlc_arena_t *a = s->ctx->arena;
    if (s->n_stages == s->cap_stages) {
        int cap = s->cap_stages ? s->cap_stages * 2 : 8;
        dlc_stage_t **st = dlc_arena_alloc(a, sizeof *st * (size_t)cap);
        if (s->n_stages) memcpy(st, s->stages, sizeof *st * (size_t)s->n_stages);
        s->stages = st;
        s->cap_stages = cap;
    }
    dlc_stage_t *st = dlc_arena_alloc(a, sizeof *st);
    st->sched = s;
    st->tensor = t;
    st->body = t->body;
    st->n_axis = t->ndim;
    for (int i = 0; i < t->ndim; i++) st->axis[i] = t->axis[i];
    if (t->body->kind == DLC_EXPR_REDUCE) {
        st->n_raxis = t->body->n_raxis;
        for (int i = 0; i < st->n_raxis; i++) st->raxis[i] = t->body->raxis[i];
    }
    for (int i = 0; i < st->n_axis; i++) st->leaves[st->n_leaves++] = st->axis[i];
    for (int i = 0; i < st->n_raxis; i++) st->leaves[st->n_leaves++] = st->raxis[i];
    memcpy(st->all, st->leaves, sizeof(st->leaves[0]) * (size_t)st->n_leaves);
    st->n_all = st->n_leaves;
    st->scope = DLC_SCOPE_GLOBAL;
    if (pos < 0 || pos > s->n_stages) pos = s->n_stages;
    memmove(s->stages + pos + 1, s->stages + pos, sizeof *s->stages * (size_t)(s->n_stages - pos));
    s->stages[pos] = st;
    s->n_stages++;
    return st;
}

typedef struct {
    dlc_schedule_t *s;
    int err;
} collect_t;

static void collect_tensor(dlc_schedule_t *s, dlc_tensor_t *t);
static void collect_visit(const dlc_expr_t *e, void *u) {
    if (e->kind == DLC_EXPR_READ && e->tensor->op == DLC_OP_COMPUTE) collect_tensor(u, e->tensor);
}
static void collect_tensor(dlc_schedule_t *s, dlc_tensor_t *t) {
    if (find_stage(s, t) >= 0) return;
    dlc__expr_visit(t->body, collect_visit, s); /* producers first */
    if (find_stage(s, t) < 0) dlc__sched_add_stage(s, t, -1);
}

dlc_schedule_t *dlc_sched_create(dlc_ctx_t *ctx, int n_outputs, dlc_tensor_t *const *outputs) {
    dlc_schedule_t *s = dlc_arena_alloc(ctx->arena, sizeof *s);
    s->ctx = ctx;
    s->n_outputs = n_outputs;
    s->outputs = dlc_arena_alloc(ctx->arena, sizeof(dlc_tensor_t *) * (size_t)(n_outputs ? n_outputs : 1));
    for (int i = 0; i < n_outputs; i++) {
        if (!outputs[i] || outputs[i]->op != DLC_OP_COMPUTE) {
            dlc_error(DLC_ESCHEDULE, "output %d is not a compute tensor", i);
            return NULL;
        }
        s->outputs[i] = outputs[i];
        collect_tensor(s, outputs[i]);
    }
    for (int i = 0; i < n_outputs; i++) s->stages[find_stage(s, outputs[i])]->is_output = 1;
    return s;
}

dlc_ctx_t *dlc_sched_ctx(dlc_schedule_t *s) { return s->ctx; }
dlc_stage_t *dlc_sched_stage(dlc_schedule_t *s, const dlc_tensor_t *t) {
    int i = find_stage(s, t);
    return i < 0 ? NULL : s->stages[i];
}
int dlc_sched_num_stages(const dlc_schedule_t *s) { return s->n_stages; }
dlc_stage_t *dlc_sched_stage_at(dlc_schedule_t *s, int i) {
    return i >= 0 && i < s->n_stages ? s->stages[i] : NULL;
}
dlc_tensor_t *dlc_stage_tensor(dlc_stage_t *st) { return st->tensor; }
const char *dlc_stage_name(const dlc_stage_t *st) { return st->tensor->name; }
dlc_iter_var_t *dlc_stage_axis(dlc_stage_t *st, int i) { return i >= 0 && i < st->n_axis ? st->axis[i] : NULL; }
dlc_iter_var_t *dlc_stage_reduce_axis(dlc_stage_t *st, int i) {
    return i >= 0 && i < st->n_raxis ? st->raxis[i] : NULL;
}
int dlc_stage_num_axes(const dlc_stage_t *st) { return st->n_axis; }
int dlc_stage_num_reduce_axes(const dlc_stage_t *st) { return st->n_raxis; }
dlc_iter_var_t *const *dlc_stage_leaves(dlc_stage_t *st, int *n) {
    *n = st->n_leaves;
    return st->leaves;
}

/* ---- helpers ---- */
int dlc__stage_leaf_pos(const dlc_stage_t *st, const dlc_iter_var_t *iv) {
    for (int i = 0; i < st->n_leaves; i++)
        if (st->leaves[i] == iv) return i;
    return -1;
}

dlc__iv_attr_t *dlc__stage_attr(dlc_stage_t *st, const dlc_iter_var_t *iv, int create) {
    for (int i = 0; i < st->n_attrs; i++)
        if (st->attrs[i].iv == iv) return &st->attrs[i];
    if (!create || st->n_attrs == DLC__MAX_IVS) return NULL;
    dlc__iv_attr_t *a = &st->attrs[st->n_attrs++];
    memset(a, 0, sizeof *a);
    a->iv = (dlc_iter_var_t *)iv;
    return a;
}

static int need_leaf(dlc_stage_t *st, const dlc_iter_var_t *iv, const char *what) {
    if (!iv) return dlc_error(DLC_ESCHEDULE, "%s on stage %s: axis is NULL", what, dlc_stage_name(st));
    int p = dlc__stage_leaf_pos(st, iv);
    if (p < 0)
        return dlc_error(DLC_ESCHEDULE, "%s on stage %s: axis '%s' is not a leaf axis of this stage", what,
                         dlc_stage_name(st), iv->var->name);
    if (st->attach == DLC_ATTACH_INLINE)
        return dlc_error(DLC_ESCHEDULE, "%s on stage %s: the stage is inlined", what, dlc_stage_name(st));
    st->scheduled = 1;
    return p;
}

static dlc_iter_var_t *new_iv(dlc_stage_t *st, const char *name, int64_t extent, dlc_iv_kind_t kind) {
    dlc_iter_var_t *iv = dlc__iv_new(st->sched->ctx, name, extent, kind);
    if (st->n_all < DLC__MAX_IVS) st->all[st->n_all++] = iv;
    return iv;
}

/* ---- primitives ---- */
static int split(dlc_stage_t *st, dlc_iter_var_t *iv, int64_t factor, int64_t nparts, dlc_iter_var_t **outer,
                 dlc_iter_var_t **inner) {
    int p = need_leaf(st, iv, "split");
    if (p < 0) return p;
    if (st->n_leaves + 1 > DLC__MAX_IVS || st->n_rels == DLC__MAX_RELS || st->n_all + 2 > DLC__MAX_IVS)
        return dlc_error(DLC_ESCHEDULE, "split on stage %s: too many axes", dlc_stage_name(st));
    if (factor <= 0 && nparts <= 0)
        return dlc_error(DLC_ESCHEDULE, "split on stage %s: factor must be positive", dlc_stage_name(st));
    if (nparts > 0) factor = (iv->extent + nparts - 1) / nparts;
    if (factor > iv->extent) factor = iv->extent;
    if (factor < 1) factor = 1;
    dlc_arena_t *a = st->sched->ctx->arena;
    dlc_iter_var_t *o = new_iv(st, dlc_arena_printf(a, "%s_o", iv->var->name), (iv->extent + factor - 1) / factor,
                               iv->kind);
    dlc_iter_var_t *in = new_iv(st, dlc_arena_printf(a, "%s_i", iv->var->name), factor, iv->kind);
    dlc__relation_t *r = &st->rels[st->n_rels++];
    memset(r, 0, sizeof *r);
    r->kind = DLC_REL_SPLIT;
    r->parent = iv;
    r->outer = o;
    r->inner = in;
    r->factor = factor;
    memmove(st->leaves + p + 2, st->leaves + p + 1, sizeof(st->leaves[0]) * (size_t)(st->n_leaves - p - 1));
    st->leaves[p] = o;
    st->leaves[p + 1] = in;
    st->n_leaves++;
    if (outer) *outer = o;
    if (inner) *inner = in;
    return 0;
}

int dlc_stage_split(dlc_stage_t *st, dlc_iter_var_t *iv, int64_t factor, dlc_iter_var_t **outer,
                    dlc_iter_var_t **inner) {
    if (factor <= 0)
        return dlc_error(DLC_ESCHEDULE, "split on stage %s: factor %lld must be positive", dlc_stage_name(st),
                         (long long)factor);
    return split(st, iv, factor, 0, outer, inner);
}

int dlc_stage_split_nparts(dlc_stage_t *st, dlc_iter_var_t *iv, int64_t nparts, dlc_iter_var_t **outer,
                           dlc_iter_var_t **inner) {
    if (nparts <= 0)
        return dlc_error(DLC_ESCHEDULE, "split on stage %s: nparts %lld must be positive", dlc_stage_name(st),
                         (long long)nparts);
    return split(st, iv, 0, nparts, outer, inner);
}

int dlc_stage_fuse(dlc_stage_t *st, dlc_iter_var_t *outer, dlc_iter_var_t *inner, dlc_iter_var_t **fused) {
    int po = need_leaf(st, outer, "fuse");
    if (po < 0) return po;
    int pi = need_leaf(st, inner, "fuse");
    if (pi < 0) return pi;
    if (pi != po + 1)
        return dlc_error(DLC_ESCHEDULE, "fuse on stage %s: '%s' and '%s' are not adjacent (outer first)",
                         dlc_stage_name(st), outer->var->name, inner->var->name);
    if (outer->kind != inner->kind)
        return dlc_error(DLC_ESCHEDULE, "fuse on stage %s: cannot fuse a reduce axis with a data axis",
                         dlc_stage_name(st));
    if (st->n_rels == DLC__MAX_RELS || st->n_all == DLC__MAX_IVS)
        return dlc_error(DLC_ESCHEDULE, "fuse on stage %s: too many axes", dlc_stage_name(st));
    dlc_arena_t *a = st->sched->ctx->arena;
    dlc_iter_var_t *f = new_iv(st, dlc_arena_printf(a, "%s_%s_f", outer->var->name, inner->var->name),
                               outer->extent * inner->extent, outer->kind);
    dlc__relation_t *r = &st->rels[st->n_rels++];
    memset(r, 0, sizeof *r);
    r->kind = DLC_REL_FUSE;
    r->outer = outer;
    r->inner = inner;
    r->fused = f;
    st->leaves[po] = f;
    memmove(st->leaves + pi, st->leaves + pi + 1, sizeof(st->leaves[0]) * (size_t)(st->n_leaves - pi - 1));
    st->n_leaves--;
    if (fused) *fused = f;
    return 0;
}

int dlc_stage_reorder(dlc_stage_t *st, int n, dlc_iter_var_t *const *order) {
    int pos[DLC__MAX_IVS];
    if (n > DLC__MAX_IVS) return dlc_error(DLC_ESCHEDULE, "reorder: too many axes");
    for (int i = 0; i < n; i++) {
        pos[i] = need_leaf(st, order[i], "reorder");
        if (pos[i] < 0) return pos[i];
        for (int j = 0; j < i; j++)
            if (order[j] == order[i])
                return dlc_error(DLC_ESCHEDULE, "reorder on stage %s: axis '%s' given twice", dlc_stage_name(st),
                                 order[i]->var->name);
    }
    /* the positions the axes occupy, ascending, get the axes in the given order */
    int sorted[DLC__MAX_IVS];
    memcpy(sorted, pos, sizeof(int) * (size_t)n);
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
            int t = sorted[j];
            sorted[j] = sorted[j - 1];
            sorted[j - 1] = t;
        }
    for (int i = 0; i < n; i++) st->leaves[sorted[i]] = order[i];
    return 0;
}

int dlc_stage_tile(dlc_stage_t *st, dlc_iter_var_t *x, dlc_iter_var_t *y, int64_t xf, int64_t yf,
                   dlc_iter_var_t **xo, dlc_iter_var_t **yo, dlc_iter_var_t **xi, dlc_iter_var_t **yi) {
    dlc_iter_var_t *a, *b, *c, *d;
    int rc;
    if ((rc = dlc_stage_split(st, x, xf, &a, &b)) < 0) return rc;
    if ((rc = dlc_stage_split(st, y, yf, &c, &d)) < 0) return rc;
    if ((rc = dlc_stage_reorder(st, 4, (dlc_iter_var_t *[]){a, c, b, d})) < 0) return rc;
    if (xo) *xo = a;
    if (yo) *yo = c;
    if (xi) *xi = b;
    if (yi) *yi = d;
    return 0;
}

static int annotate(dlc_stage_t *st, dlc_iter_var_t *iv, dlc_ann_t ann, const char *what) {
    int p = need_leaf(st, iv, what);
    if (p < 0) return p;
    if (iv->kind == DLC_IV_REDUCE && (ann == DLC_ANN_PARALLEL || ann == DLC_ANN_THREAD))
        return dlc_error(DLC_ESCHEDULE, "%s on stage %s: '%s' is a reduce axis", what, dlc_stage_name(st),
                         iv->var->name);
    dlc__iv_attr_t *a = dlc__stage_attr(st, iv, 1);
    if (!a) return dlc_error(DLC_ESCHEDULE, "%s: too many annotations", what);
    a->ann = ann;
    return 0;
}

int dlc_stage_vectorize(dlc_stage_t *st, dlc_iter_var_t *iv) { return annotate(st, iv, DLC_ANN_VECTORIZE, "vectorize"); }
int dlc_stage_unroll(dlc_stage_t *st, dlc_iter_var_t *iv) { return annotate(st, iv, DLC_ANN_UNROLL, "unroll"); }
int dlc_stage_parallel(dlc_stage_t *st, dlc_iter_var_t *iv) { return annotate(st, iv, DLC_ANN_PARALLEL, "parallel"); }

int dlc_stage_bind(dlc_stage_t *st, dlc_iter_var_t *iv, dlc_thread_tag_t tag) {
    if ((unsigned)tag >= DLC_THREAD_COUNT) return dlc_error(DLC_ESCHEDULE, "bind: bad thread tag %d", (int)tag);
    int rc = annotate(st, iv, DLC_ANN_THREAD, "bind");
    if (rc < 0) return rc;
    dlc__stage_attr(st, iv, 0)->tag = tag;
    return 0;
}

int dlc_stage_tensorize(dlc_stage_t *st, dlc_iter_var_t *iv, const dlc_intrin_decl_t *intrin) {
    if (!intrin || !intrin->name || !intrin->c_source)
        return dlc_error(DLC_ESCHEDULE, "tensorize on stage %s: intrinsic needs a name and C source",
                         dlc_stage_name(st));
    int rc = annotate(st, iv, DLC_ANN_TENSORIZE, "tensorize");
    if (rc < 0) return rc;
    dlc__stage_attr(st, iv, 0)->intrin = intrin;
    return 0;
}

int dlc_stage_pragma(dlc_stage_t *st, dlc_iter_var_t *iv, const char *key, const char *value) {
    int p = need_leaf(st, iv, "pragma");
    if (p < 0) return p;
    dlc__iv_attr_t *a = dlc__stage_attr(st, iv, 1);
    if (!a) return dlc_error(DLC_ESCHEDULE, "pragma: too many annotations");
    a->pragma_key = dlc_arena_strdup(st->sched->ctx->arena, key);
    a->pragma_value = dlc_arena_strdup(st->sched->ctx->arena, value ? value : "");
    return 0;
}

static int stage_index(const dlc_stage_t *st) {
    for (int i = 0; i < st->sched->n_stages; i++)
        if (st->sched->stages[i] == st) return i;
    return -1;
}

/* Whether `reader`'s body reads `t`, directly or through other stages. */
typedef struct {
    const dlc_schedule_t *s;
    const dlc_tensor_t *t;
    int depth, found;
} consume_t;

static void consume_visit(const dlc_expr_t *e, void *u) {
    consume_t *c = u;
    if (c->found || e->kind != DLC_EXPR_READ) return;
    if (e->tensor == c->t) {
        c->found = 1;
        return;
    }
    int i = find_stage(c->s, e->tensor);
    if (i < 0 || c->depth > c->s->n_stages) return;
    c->depth++;
    dlc__expr_visit(c->s->stages[i]->body, consume_visit, c);
    c->depth--;
}

static int consumes(const dlc_stage_t *reader, const dlc_tensor_t *t) {
    consume_t c = {reader->sched, t, 0, 0};
    dlc__expr_visit(reader->body, consume_visit, &c);
    return c.found;
}

int dlc_stage_compute_at(dlc_stage_t *st, dlc_stage_t *parent, dlc_iter_var_t *iv) {
    if (!parent || parent->sched != st->sched || parent == st)
        return dlc_error(DLC_ESCHEDULE, "compute_at on stage %s: bad parent stage", dlc_stage_name(st));
    if (st->is_output)
        return dlc_error(DLC_ESCHEDULE, "compute_at on stage %s: an output cannot be attached", dlc_stage_name(st));
    if (stage_index(parent) < stage_index(st) || !consumes(parent, st->tensor))
        return dlc_error(DLC_ESCHEDULE, "compute_at on stage %s: '%s' is not a consumer of it", dlc_stage_name(st),
                         dlc_stage_name(parent));
    if (dlc__stage_leaf_pos(parent, iv) < 0)
        return dlc_error(DLC_ESCHEDULE, "compute_at on stage %s: '%s' is not a leaf axis of stage %s",
                         dlc_stage_name(st), iv ? iv->var->name : "(null)", dlc_stage_name(parent));
    /* no cycles: the parent chain must not lead back here */
    for (dlc_stage_t *p = parent; p; p = p->attach == DLC_ATTACH_AT ? p->attach_stage : NULL)
        if (p == st) return dlc_error(DLC_ESCHEDULE, "compute_at on stage %s: attachment cycle", dlc_stage_name(st));
    st->attach = DLC_ATTACH_AT;
    st->attach_stage = parent;
    st->attach_iv = iv;
    return 0;
}

int dlc_stage_compute_inline(dlc_stage_t *st) {
    if (st->is_output) return dlc_error(DLC_ESCHEDULE, "compute_inline on stage %s: it is an output", dlc_stage_name(st));
    if (st->body->kind == DLC_EXPR_REDUCE)
        return dlc_error(DLC_ESCHEDULE, "compute_inline on stage %s: a reduction cannot be inlined",
                         dlc_stage_name(st));
    st->attach = DLC_ATTACH_INLINE;
    return 0;
}

int dlc_stage_compute_root(dlc_stage_t *st) {
    st->attach = DLC_ATTACH_ROOT;
    st->attach_stage = NULL;
    st->attach_iv = NULL;
    return 0;
}

int dlc_stage_set_scope(dlc_stage_t *st, dlc_scope_t scope) {
    if ((unsigned)scope >= DLC_SCOPE_COUNT) return dlc_error(DLC_ESCHEDULE, "set_scope: bad scope");
    if (st->is_output && scope != DLC_SCOPE_GLOBAL)
        return dlc_error(DLC_ESCHEDULE, "set_scope on stage %s: outputs live in global memory", dlc_stage_name(st));
    st->scope = scope;
    return 0;
}

int dlc_stage_double_buffer(dlc_stage_t *st) {
    st->double_buffer = 1; /* a GPU hint; CPU code generation ignores it */
    return 0;
}
