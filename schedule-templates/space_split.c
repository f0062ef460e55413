/* space_split.c — define_split's entity enumeration, in TVM's order
 * (SplitSpace in python/tvm/autotvm/task/space.py), including the CPython
 * set-iteration order that policy "verbose" inherits. */
#include <stdlib.h>
#include <string.h>

#include "schedule-templates/space_impl.h"

/* ---- CPython's set for positive ints ----
 * TVM builds verbose candidates as list(set(divisors) | set(pow2s)), so their
 * order is the slot order of CPython's hash table: hash(i) == i, open
 * addressing with runs of LINEAR_PROBES slots and a perturbed jump, a table
 * that grows when 60% full. This reproduces Objects/setobject.c (3.7 and
 * later) for the operations involved: add, resize, and the merge behind `|`
 * (copy of the left set, then insertion of the right one). Checked against
 * CPython 3.11 for every n in [1, 20000]. */
#define PYSET_LINEAR_PROBES 9
#define PYSET_PERTURB_SHIFT 5
#define PYSET_MINSIZE 8

typedef struct {
    int64_t *slot; /* 0 = empty (keys are >= 1) */
    size_t mask, fill, used;
} pyset_t;

static int pyset_init(pyset_t *s) {
    s->mask = PYSET_MINSIZE - 1;
    s->fill = s->used = 0;
    s->slot = calloc(PYSET_MINSIZE, sizeof *s->slot);
    return s->slot ? 0 : DLC_ENOMEM;
}

/* set_insert_clean: into a table known to hold no dummies nor the key. */
static void pyset_insert_clean(int64_t *table, size_t mask, int64_t key) {
    size_t perturb = (size_t)key, i = (size_t)key & mask;
    for (;;) {
        if (!table[i]) {
            table[i] = key;
            return;
        }
        if (i + PYSET_LINEAR_PROBES <= mask) {
            for (size_t j = 1; j <= PYSET_LINEAR_PROBES; j++) {
                if (!table[i + j]) {
                    table[i + j] = key;
                    return;
                }
            }
        }
        perturb >>= PYSET_PERTURB_SHIFT;
        i = (i * 5 + 1 + perturb) & mask;
    }
}

/* set_table_resize: the smallest power of two above minused, re-inserting in
 * old slot order. */
static int pyset_resize(pyset_t *s, size_t minused) {
    size_t n = PYSET_MINSIZE;
    while (n <= minused) n <<= 1;
    int64_t *table = calloc(n, sizeof *table);
    if (!table) return DLC_ENOMEM;
    for (size_t i = 0; i <= s->mask; i++)
        if (s->slot[i]) pyset_insert_clean(table, n - 1, s->slot[i]);
    free(s->slot);
    s->slot = table;
    s->mask = n - 1;
    return 0;
}

/* set_add_entry. */
static int pyset_add(pyset_t *s, int64_t key) {
    size_t mask = s->mask, perturb = (size_t)key, i = (size_t)key & mask;
    for (;;) {
        size_t probes = (i + PYSET_LINEAR_PROBES <= mask) ? PYSET_LINEAR_PROBES : 0;
        for (size_t j = i;; j++) {
            if (!s->slot[j]) {
                s->slot[j] = key;
                s->fill++;
                s->used++;
                if (s->fill * 5 < mask * 3) return 0;
                return pyset_resize(s, s->used > 50000 ? s->used * 2 : s->used * 4);
            }
            if (s->slot[j] == key) return 0;
            if (probes-- == 0) break;
        }
        perturb >>= PYSET_PERTURB_SHIFT;
        i = (i * 5 + 1 + perturb) & mask;
    }
}

/* set_merge (set_update_internal with a set argument). */
static int pyset_merge(pyset_t *s, const pyset_t *o) {
    if (o->used == 0) return 0;
    if ((s->fill + o->used) * 5 >= s->mask * 3) {
        int rc = pyset_resize(s, (s->used + o->used) * 2);
        if (rc) return rc;
    }
    if (s->fill == 0 && s->mask == o->mask) { /* same size, no dummies: slot copy */
        memcpy(s->slot, o->slot, (o->mask + 1) * sizeof *s->slot);
        s->fill = o->fill;
        s->used = o->used;
        return 0;
    }
    if (s->fill == 0) {
        for (size_t i = 0; i <= o->mask; i++)
            if (o->slot[i]) pyset_insert_clean(s->slot, s->mask, o->slot[i]);
        s->fill = s->used = o->used;
        return 0;
    }
    for (size_t i = 0; i <= o->mask; i++) {
        if (o->slot[i]) {
            int rc = pyset_add(s, o->slot[i]);
            if (rc) return rc;
        }
    }
    return 0;
}

int dlc__pyset_union_order(const int64_t *a, int na, const int64_t *b, int nb, int64_t *out) {
    pyset_t sa = {0}, sb = {0}, u = {0};
    int rc = pyset_init(&sa);
    if (!rc) rc = pyset_init(&sb);
    if (!rc) rc = pyset_init(&u);
    for (int i = 0; !rc && i < na; i++) rc = pyset_add(&sa, a[i]);
    for (int i = 0; !rc && i < nb; i++) rc = pyset_add(&sb, b[i]);
    if (!rc) rc = pyset_merge(&u, &sa); /* set(a).copy() */
    if (!rc) rc = pyset_merge(&u, &sb); /* |= set(b) */
    int n = 0;
    if (!rc)
        for (size_t i = 0; i <= u.mask; i++)
            if (u.slot[i]) out[n++] = u.slot[i];
    free(sa.slot);
    free(sb.slot);
    free(u.slot);
    return rc ? rc : n;
}

/* ---- factor lists ---- */

/* get_factors: the divisors of n, ascending. Caller frees *out. */
static int get_factors(int64_t n, int64_t **out) {
    int64_t cap = 64, cnt = 0, *f = malloc(cap * sizeof *f);
    if (!f) return DLC_ENOMEM;
    int64_t hi_cnt = 0, hi_cap = 64, *hi = malloc(hi_cap * sizeof *hi);
    if (!hi) {
        free(f);
        return DLC_ENOMEM;
    }
    for (int64_t i = 1; i <= n / i; i++) {
        if (n % i) continue;
        if (cnt == cap) {
            int64_t *g = realloc(f, (cap *= 2) * sizeof *f);
            if (!g) goto oom;
            f = g;
        }
        f[cnt++] = i;
        if (i != n / i) {
            if (hi_cnt == hi_cap) {
                int64_t *g = realloc(hi, (hi_cap *= 2) * sizeof *hi);
                if (!g) goto oom;
                hi = g;
            }
            hi[hi_cnt++] = n / i;
        }
    }
    int64_t *g = realloc(f, (cnt + hi_cnt) * sizeof *f);
    if (!g) goto oom;
    f = g;
    for (int64_t i = hi_cnt - 1; i >= 0; i--) f[cnt++] = hi[i];
    free(hi);
    *out = f;
    return (int)cnt;
oom:
    free(f);
    free(hi);
    return DLC_ENOMEM;
}

/* get_pow2s: 1, 2, 4, ... <= n. */
static int get_pow2s(int64_t n, int64_t *out) {
    int cnt = 0;
    for (int64_t p = 1; p <= n; p *= 2) {
        out[cnt++] = p;
        if (p > INT64_MAX / 2) break;
    }
    return cnt;
}

int64_t dlc__split_outer(int64_t extent, const int64_t *size, int n) {
    int64_t prod = 1;
    for (int i = 1; i < n; i++) {
        if (size[i] <= 0) return -1;
        if (__builtin_mul_overflow(prod, size[i], &prod)) return 1;
    }
    return (extent + prod - 1) / prod;
}

/* ---- the DFS of SplitSpace._generate_space ---- */

typedef struct {
    dlc__knob_t *kn;
    const int64_t *factors;
    int n_factors;
    int no_tail;
    dlc_split_filter_fn filter;
    void *user;
    int64_t stack[16];
    int64_t cap;
    int rc;
} split_gen_t;

static void gen_push(split_gen_t *g, const int64_t *ent) {
    dlc__knob_t *kn = g->kn;
    int w = kn->width;
    if (g->filter && !g->filter(ent, w, g->user)) return;
    if ((kn->dim + 1) * w > DLC__KNOB_MAX_VALUES) {
        g->rc = dlc_error(DLC_EINVAL, "split '%s': more than %d values", kn->name, DLC__KNOB_MAX_VALUES);
        return;
    }
    if (kn->dim == g->cap) {
        int64_t ncap = g->cap ? g->cap * 2 : 16;
        int64_t *v = realloc(kn->vals, ncap * w * sizeof *v);
        if (!v) {
            g->rc = dlc_error(DLC_ENOMEM, "split '%s': out of memory", kn->name);
            return;
        }
        kn->vals = v;
        g->cap = ncap;
    }
    memcpy(kn->vals + kn->dim * w, ent, w * sizeof *ent);
    kn->dim++;
}

static void gen_dfs(split_gen_t *g, int now, int64_t prod) {
    int levels = g->kn->width - 1;
    int64_t extent = g->kn->extent;
    if (g->rc) return;
    if (now == levels) {
        if (extent % prod == 0 || (!g->no_tail && prod < extent)) {
            int64_t ent[16];
            ent[0] = -1;
            for (int i = 0; i < levels; i++) ent[1 + i] = g->stack[levels - 1 - i];
            gen_push(g, ent);
        }
        return;
    }
    for (int i = 0; i < g->n_factors && !g->rc; i++) {
        int64_t p;
        /* a prefix above the extent only leads to leaves TVM drops (prod > product) */
        if (__builtin_mul_overflow(prod, g->factors[i], &p) || p > extent) continue;
        g->stack[now] = g->factors[i];
        gen_dfs(g, now + 1, p);
    }
}

int dlc__split_enumerate(dlc__knob_t *kn, int64_t max_factor, dlc_split_filter_fn filter, void *user) {
    int64_t *div = NULL, pow2[64], *factors = NULL;
    int n_div = 0, n_pow2 = get_pow2s(kn->extent, pow2), n = 0, rc = 0;
    if (kn->split_policy != DLC_SPLIT_POWER2) {
        n_div = get_factors(kn->extent, &div);
        if (n_div < 0) return dlc_error(n_div, "split '%s': out of memory", kn->name);
    }
    factors = malloc((size_t)(n_div + n_pow2 + 1) * sizeof *factors);
    if (!factors) {
        free(div);
        return dlc_error(DLC_ENOMEM, "split '%s': out of memory", kn->name);
    }
    switch (kn->split_policy) {
    case DLC_SPLIT_FACTORS:
        memcpy(factors, div, n_div * sizeof *div);
        n = n_div;
        break;
    case DLC_SPLIT_POWER2:
        memcpy(factors, pow2, n_pow2 * sizeof *pow2);
        n = n_pow2;
        break;
    default: /* VERBOSE */
        n = dlc__pyset_union_order(div, n_div, pow2, n_pow2, factors);
        if (n < 0) rc = dlc_error(n, "split '%s': out of memory", kn->name);
        break;
    }
    free(div);
    if (!rc) {
        int m = 0;
        for (int i = 0; i < n; i++)
            if (max_factor <= 0 || factors[i] <= max_factor) factors[m++] = factors[i];
        split_gen_t g = {.kn = kn, .factors = factors, .n_factors = m,
                         .no_tail = kn->split_policy == DLC_SPLIT_FACTORS,
                         .filter = filter, .user = user};
        gen_dfs(&g, 0, 1);
        rc = g.rc;
    }
    free(factors);
    return rc;
}
