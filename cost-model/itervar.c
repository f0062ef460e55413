/* itervar.c — AutoTVM's itervar features of a lowered function: one walk of
 * the loop IR fills per-loop slots (for the loops of the nest with the most
 * work) with extents, annotations, nesting products and per-buffer access
 * patterns, and counts the function's arithmetic weighted by trip counts.
 * The layout is documented next to DLC_FV_* in dlc_costmodel.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cost-model/costmodel_impl.h"

/* A stride the index arithmetic cannot give (indirect or unbound): large, so
 * the model sees it as "far apart" rather than as contiguous. */
#define UNKNOWN_STRIDE ((int64_t)1 << 30)

/* Loop annotation → one-hot position (none/unroll/vectorize/parallel/thread);
 * tensorized loops are replaced by calls before features see them. */
static const int ann_slot[DLC_ANN_COUNT] = {
    [DLC_ANN_NONE] = 0, [DLC_ANN_UNROLL] = 1, [DLC_ANN_VECTORIZE] = 2,
    [DLC_ANN_PARALLEL] = 3, [DLC_ANN_THREAD] = 4, [DLC_ANN_TENSORIZE] = 0,
};
_Static_assert(DLC_ANN_COUNT == 6, "ann_slot covers every dlc_ann_t");

/* ---- choosing the loop slots ---- */

/* The loops from the root down the heaviest branch at every SEQ/IF, then
 * trimmed to DLC_FEATURE_MAX_LOOPS (extent-1 loops first, outermost first). */
static void choose_path(dlc__fx_t *w, const dlc_stmt_t *s) {
    const dlc_stmt_t *path[DLC__FX_MAX_STACK];
    double bottomup[DLC__FX_MAX_STACK];
    int n = 0;
    while (s && n < DLC__FX_MAX_STACK) {
        if (s->kind == DLC_STMT_FOR) {
            path[n++] = s;
            s = s->body;
        } else if (s->kind == DLC_STMT_LET || s->kind == DLC_STMT_ALLOC) {
            s = s->body;
        } else if (s->kind == DLC_STMT_IF) {
            s = dlc__fx_work(s->else_s) > dlc__fx_work(s->then_s) ? s->else_s : s->then_s;
        } else if (s->kind == DLC_STMT_SEQ) {
            const dlc_stmt_t *best = NULL;
            double best_w = -1;
            for (int i = 0; i < s->n; i++) {
                double wi = dlc__fx_work(s->seq[i]);
                if (wi > best_w) {
                    best_w = wi;
                    best = s->seq[i];
                }
            }
            s = best;
        } else {
            break;
        }
    }
    double prod = 1;
    for (int i = n - 1; i >= 0; i--)
        bottomup[i] = prod *= (double)dlc__fx_extent(NULL, path[i]);
    int keep[DLC__FX_MAX_STACK];
    for (int i = 0; i < n; i++)
        keep[i] = 1;
    int excess = n - DLC_FEATURE_MAX_LOOPS;
    for (int i = 0; i < n && excess > 0; i++)
        if (dlc__fx_extent(NULL, path[i]) == 1) {
            keep[i] = 0;
            excess--;
        }
    for (int i = 0; i < n && excess > 0; i++)
        if (keep[i]) {
            keep[i] = 0;
            excess--;
        }
    w->n_slots = 0;
    for (int i = 0; i < n; i++)
        if (keep[i]) {
            dlc__fx_slot_t *sl = &w->slots[w->n_slots++];
            sl->loop = path[i];
            sl->bottomup = bottomup[i];
        }
}

static int slot_of(const dlc__fx_t *w, const dlc_stmt_t *loop) {
    for (int i = 0; i < w->n_slots; i++)
        if (w->slots[i].loop == loop)
            return i;
    return -1;
}

/* ---- accesses ---- */

static dlc__fx_buf_t *slot_buf(dlc__fx_slot_t *sl, const dlc_buffer_t *b) {
    for (int i = 0; i < sl->n_bufs; i++)
        if (sl->bufs[i].buf == b)
            return &sl->bufs[i];
    if (sl->n_bufs == DLC__FX_MAX_TRACK)
        return NULL;
    dlc__fx_buf_t *e = &sl->bufs[sl->n_bufs++];
    memset(e, 0, sizeof *e);
    e->buf = b;
    return e;
}

/* One access b[index] at the current point of the walk: for every enclosing
 * slot loop, the accesses and distinct elements over the loops from it
 * inward (a loop multiplies the accesses by its extent and the elements by
 * the values its variable gives the index), and the index's step when that
 * loop's variable steps. */
static void record_access(dlc__fx_t *w, const dlc_buffer_t *b, const dlc_expr_t *index) {
    int any = 0;
    for (int i = 0; i < w->depth && !any; i++)
        any = w->stack[i].slot >= 0;
    if (!any || !b)
        return;
    dlc__fx_deps_t deps;
    dlc__fx_deps(w, index, &deps);
    int64_t base = 0;
    int base_ok = dlc__fx_eval(w, index, &base) == 0;
    double iters = 1, distinct = 1;
    for (int i = w->depth - 1; i >= 0; i--) {
        dlc__fx_frame_t *fr = &w->stack[i];
        int64_t values = dlc__fx_deps_distinct(&deps, fr->var_id, fr->extent);
        int uses = values > 0;
        iters *= (double)fr->extent;
        if (uses)
            distinct *= (double)values;
        if (fr->slot < 0)
            continue;
        int64_t stride = 0, next = 0, diff = 0;
        if (uses) {
            fr->value++;
            int ok = base_ok && dlc__fx_eval(w, index, &next) == 0 && !__builtin_sub_overflow(next, base, &diff) &&
                     diff != INT64_MIN;
            stride = ok ? llabs(diff) : UNKNOWN_STRIDE;
            fr->value--;
        }
        dlc__fx_buf_t *e = slot_buf(&w->slots[fr->slot], b);
        if (!e)
            continue;
        double touched = b->size > 0 ? fmin(distinct, (double)b->size) : distinct; /* never more than it holds */
        e->count += iters;
        if (iters > e->hot_iters) {
            e->hot_iters = iters;
            e->hot_distinct = touched;
            e->hot_stride = stride;
        }
        double bytes = touched * dlc_dtype_bytes(b->dtype);
        if (bytes > e->bytes)
            e->bytes = bytes;
    }
}

/* ---- arithmetic ---- */

static int is_fmul(const dlc_expr_t *e) { return e->kind == DLC_EXPR_MUL && dlc_dtype_is_float(e->dtype); }

static void visit_expr(dlc__fx_t *w, const dlc_expr_t *e, double trips) {
    double *g = w->global;
    int fl = dlc_dtype_is_float(e->dtype);
    switch (e->kind) {
    case DLC_EXPR_LOAD:
    case DLC_EXPR_ADDR:
        g[DLC_FV_LOAD] += e->kind == DLC_EXPR_LOAD ? trips : 0;
        record_access(w, e->buffer, e->a[0]);
        break;
    case DLC_EXPR_ADD:
    case DLC_EXPR_SUB:
        if (fl && (is_fmul(e->a[0]) || is_fmul(e->a[1]))) {
            /* a * b + c: one fused op; visit the product's operands, not the product */
            const dlc_expr_t *m = is_fmul(e->a[0]) ? e->a[0] : e->a[1], *c = m == e->a[0] ? e->a[1] : e->a[0];
            g[DLC_FV_FMA] += trips;
            visit_expr(w, m->a[0], trips);
            visit_expr(w, m->a[1], trips);
            visit_expr(w, c, trips);
            return;
        }
        g[fl ? DLC_FV_FADD : DLC_FV_INT] += trips;
        break;
    case DLC_EXPR_MIN:
    case DLC_EXPR_MAX:
        g[fl ? DLC_FV_FADD : DLC_FV_INT] += trips;
        break;
    case DLC_EXPR_MUL:
        g[fl ? DLC_FV_FMUL : DLC_FV_INT] += trips;
        break;
    case DLC_EXPR_DIV:
        g[fl ? DLC_FV_FDIV : DLC_FV_INT] += trips;
        break;
    case DLC_EXPR_MOD:
    case DLC_EXPR_CAST:
        g[DLC_FV_INT] += trips;
        break;
    case DLC_EXPR_EQ: case DLC_EXPR_NE: case DLC_EXPR_LT: case DLC_EXPR_LE: case DLC_EXPR_GT:
    case DLC_EXPR_GE: case DLC_EXPR_AND: case DLC_EXPR_OR: case DLC_EXPR_NOT: case DLC_EXPR_SELECT:
        g[DLC_FV_CMP] += trips;
        break;
    case DLC_EXPR_CALL:
        g[DLC_FV_FMATH] += trips;
        break;
    default:
        break;
    }
    for (int i = 0; i < e->n; i++)
        visit_expr(w, e->a[i], trips);
}

/* ---- the walk ---- */

static void walk(dlc__fx_t *w, const dlc_stmt_t *s, double trips) {
    if (!s)
        return;
    switch (s->kind) {
    case DLC_STMT_FOR: {
        int64_t ext = dlc__fx_extent(w, s), min = 0;
        if (w->depth == DLC__FX_MAX_STACK) { /* unbound: indices using it read as unknown */
            walk(w, s->body, trips * (double)ext);
            return;
        }
        if (dlc__fx_eval(w, s->min, &min) < 0)
            min = 0;
        int slot = slot_of(w, s);
        w->stack[w->depth++] = (dlc__fx_frame_t){s->var->id, slot, min, ext};
        if (slot >= 0) {
            dlc__fx_slot_t *sl = &w->slots[slot];
            sl->depth = w->depth;
            sl->extent = ext;
            sl->topdown = trips * (double)ext;
        }
        walk(w, s->body, trips * (double)ext);
        w->depth--;
        return;
    }
    case DLC_STMT_LET:
        visit_expr(w, s->value, trips);
        if (w->n_lets < DLC__FX_MAX_LETS) {
            w->lets[w->n_lets].var_id = s->var->id;
            w->lets[w->n_lets++].value = s->value;
            walk(w, s->body, trips);
            w->n_lets--;
        } else {
            walk(w, s->body, trips);
        }
        return;
    case DLC_STMT_STORE:
        w->global[DLC_FV_STORE] += trips;
        visit_expr(w, s->index, trips);
        visit_expr(w, s->value, trips);
        record_access(w, s->buffer, s->index);
        return;
    case DLC_STMT_IF:
        w->global[DLC_FV_CMP] += trips;
        visit_expr(w, s->cond, trips);
        walk(w, s->then_s, trips);
        walk(w, s->else_s, trips);
        return;
    case DLC_STMT_SEQ:
        for (int i = 0; i < s->n; i++)
            walk(w, s->seq[i], trips);
        return;
    case DLC_STMT_ALLOC:
        if (s->buffer)
            w->global[DLC_FV_ALLOC_BYTES] += (double)s->buffer->size * dlc_dtype_bytes(s->buffer->dtype);
        walk(w, s->body, trips);
        return;
    case DLC_STMT_CALL:
        w->global[DLC_FV_FMATH] += trips; /* a micro-kernel: its cost is not visible here */
        for (int i = 0; i < s->n; i++)
            visit_expr(w, s->args[i], trips);
        return;
    default:
        return;
    }
}

/* ---- output ---- */

static float lg(double x) { return x > 0 ? (float)log2(1 + x) : 0.0f; }

/* Arguments first in argument order, then internal buffers by id. */
static int buf_before(const dlc_buffer_t *a, const dlc_buffer_t *b) {
    int ia = a->arg_index >= 0, ib = b->arg_index >= 0;
    if (ia != ib)
        return ia;
    return ia ? a->arg_index < b->arg_index : a->id < b->id;
}

static void sort_bufs(dlc__fx_slot_t *sl) {
    for (int i = 1; i < sl->n_bufs; i++) /* insertion sort: at most DLC__FX_MAX_TRACK */
        for (int j = i; j > 0 && buf_before(sl->bufs[j].buf, sl->bufs[j - 1].buf); j--) {
            dlc__fx_buf_t t = sl->bufs[j];
            sl->bufs[j] = sl->bufs[j - 1];
            sl->bufs[j - 1] = t;
        }
}

int dlc_feature_itervar(const dlc_lowered_func_t *f, float *out) {
    memset(out, 0, DLC_FEATURE_ITERVAR_LEN * sizeof *out);
    if (!f || !f->body)
        return dlc_error(DLC_EINVAL, "itervar features: no function body");
    dlc__fx_t *w = calloc(1, sizeof *w); /* ~20 KiB: off the stack for callers on small threads */
    if (!w)
        return dlc_error(DLC_ENOMEM, "out of memory");
    choose_path(w, f->body);
    walk(w, f->body, 1);
    for (int l = 0; l < w->n_slots; l++) {
        dlc__fx_slot_t *sl = &w->slots[l];
        float *o = out + l * DLC_FV_LOOP_LEN;
        o[DLC_FV_EXTENT] = lg((double)sl->extent);
        o[DLC_FV_DEPTH] = lg(sl->depth);
        o[DLC_FV_ANN + ann_slot[sl->loop->ann]] = 1;
        o[DLC_FV_TOPDOWN] = lg(sl->topdown);
        o[DLC_FV_BOTTOMUP] = lg(sl->bottomup);
        sort_bufs(sl);
        for (int b = 0; b < sl->n_bufs && b < DLC_FEATURE_MAX_BUFS; b++) {
            const dlc__fx_buf_t *e = &sl->bufs[b];
            float *ob = o + DLC_FV_BUF + b * DLC_FV_BUF_LEN;
            ob[DLC_FV_STRIDE] = lg((double)e->hot_stride);
            ob[DLC_FV_BYTES] = lg(e->bytes);
            ob[DLC_FV_REUSE] = lg(e->hot_distinct > 0 ? e->hot_iters / e->hot_distinct : 0);
            ob[DLC_FV_COUNT] = lg(e->count);
        }
    }
    for (int i = 0; i < DLC_FV_GLOBAL_COUNT; i++)
        out[DLC_FV_GLOBAL + i] = lg(w->global[i]);
    free(w);
    return 0;
}
