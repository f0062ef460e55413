/* space.c — config spaces: the knob tables, define_* for every knob kind, and
 * the mixed-radix map between indices and per-knob choices. */
#include <stdlib.h>
#include <string.h>

#include "schedule-templates/space_impl.h"

/* ---- tables ---- */

static const char *const knob_codes[] = {
#define DLC__X(e, code) code,
    DLC_KNOB_KIND_MAP(DLC__X)
#undef DLC__X
};
_Static_assert(sizeof knob_codes / sizeof *knob_codes == DLC_KNOB_KIND_COUNT, "knob kind table");

static const char *const ann_names[] = {
#define DLC__X(e, name) name,
    DLC_KNOB_ANN_MAP(DLC__X)
#undef DLC__X
};
_Static_assert(sizeof ann_names / sizeof *ann_names == DLC_KNOB_ANN_COUNT, "annotation table");

static const char *const split_policies[] = {
#define DLC__X(e, name) name,
    DLC_SPLIT_POLICY_MAP(DLC__X)
#undef DLC__X
};
_Static_assert(sizeof split_policies / sizeof *split_policies == DLC_SPLIT_POLICY_COUNT, "split policy table");

static const char *const reorder_policies[] = {
#define DLC__X(e, name) name,
    DLC_REORDER_POLICY_MAP(DLC__X)
#undef DLC__X
};
_Static_assert(sizeof reorder_policies / sizeof *reorder_policies == DLC_REORDER_POLICY_COUNT,
               "reorder policy table");

const char *dlc_knob_kind_code(dlc_knob_kind_t kind) {
    return (unsigned)kind < DLC_KNOB_KIND_COUNT ? knob_codes[kind] : "?";
}

const char *dlc_knob_ann_name(int ann) { return (unsigned)ann < DLC_KNOB_ANN_COUNT ? ann_names[ann] : NULL; }

static int table_find(const char *const *t, int n, const char *name) {
    for (int i = 0; name && i < n; i++)
        if (!strcmp(t[i], name)) return i;
    return -1;
}

int dlc_knob_ann_parse(const char *name) { return table_find(ann_names, DLC_KNOB_ANN_COUNT, name); }
const char *dlc_split_policy_name(dlc_split_policy_t p) {
    return (unsigned)p < DLC_SPLIT_POLICY_COUNT ? split_policies[p] : "?";
}
int dlc_split_policy_parse(const char *name) { return table_find(split_policies, DLC_SPLIT_POLICY_COUNT, name); }
const char *dlc_reorder_policy_name(dlc_reorder_policy_t p) {
    return (unsigned)p < DLC_REORDER_POLICY_COUNT ? reorder_policies[p] : "?";
}
int dlc_reorder_policy_parse(const char *name) {
    return table_find(reorder_policies, DLC_REORDER_POLICY_COUNT, name);
}

/* ---- lifecycle ---- */

dlc_space_t *dlc_space_new(void) {
    dlc_space_t *sp = calloc(1, sizeof *sp);
    if (sp) sp->size = 1;
    return sp;
}

static void knob_free(dlc__knob_t *kn) {
    free(kn->name);
    free(kn->vals);
    json_decref(kn->options);
    memset(kn, 0, sizeof *kn);
}

void dlc_space_destroy(dlc_space_t **psp) {
    if (!psp || !*psp) return;
    dlc_space_t *sp = *psp;
    for (int i = 0; i < sp->n_knobs; i++) knob_free(&sp->knobs[i]);
    free(sp->knobs);
    free(sp);
    *psp = NULL;
}

/* ---- adding knobs ---- */

static int check_name(const dlc_space_t *sp, const char *name) {
    if (!sp || !name || !*name) return dlc_error(DLC_EINVAL, "define: a space and a knob name are required");
    if (dlc_space_knob_find(sp, name) >= 0) return dlc_error(DLC_EINVAL, "define: knob '%s' already defined", name);
    return 0;
}

static int knob_feature_len(const dlc__knob_t *kn) {
    if (kn->kind == DLC_KNOB_ANNOTATE && !kn->ann_locate) return kn->width * DLC_KNOB_ANN_COUNT;
    return kn->width;
}

/* Takes ownership of kn's allocations (freed on failure too). */
static int add_knob(dlc_space_t *sp, dlc__knob_t *kn) {
    int64_t size;
    if (kn->dim <= 0) {
        int rc = dlc_error(DLC_EINVAL, "define: knob '%s' has no entity", kn->name);
        knob_free(kn);
        return rc;
    }
    if (__builtin_mul_overflow(sp->size, kn->dim, &size)) {
        int rc = dlc_error(DLC_EINVAL, "define: knob '%s' makes the space larger than 2^63", kn->name);
        knob_free(kn);
        return rc;
    }
    if (sp->n_knobs == sp->cap) {
        int ncap = sp->cap ? sp->cap * 2 : 8;
        dlc__knob_t *k = realloc(sp->knobs, ncap * sizeof *k);
        if (!k) {
            knob_free(kn);
            return dlc_error(DLC_ENOMEM, "define: out of memory");
        }
        sp->knobs = k;
        sp->cap = ncap;
    }
    sp->knobs[sp->n_knobs++] = *kn;
    sp->size = size;
    sp->total_width += kn->width;
    sp->feature_len += knob_feature_len(kn);
    return 0;
}

static int knob_start(dlc__knob_t *kn, const char *name, dlc_knob_kind_t kind, int width) {
    memset(kn, 0, sizeof *kn);
    kn->kind = kind;
    kn->width = width;
    kn->reorder_policy = -1;
    kn->name = strdup(name);
    return kn->name ? 0 : dlc_error(DLC_ENOMEM, "define: out of memory");
}

#define DLC__SPLIT_MAX_EXTENT (INT64_C(1) << 40)

int dlc_space_define_split(dlc_space_t *sp, const char *name, int64_t extent, dlc_split_policy_t policy,
                           int num_outputs, int64_t max_factor, dlc_split_filter_fn filter, void *filter_user) {
    int rc = check_name(sp, name);
    if (rc) return rc;
    if (extent < 1 || extent > DLC__SPLIT_MAX_EXTENT)
        return dlc_error(DLC_EINVAL, "define_split '%s': extent %lld outside [1, 2^40]", name, (long long)extent);
    if (num_outputs < 2 || num_outputs > 16)
        return dlc_error(DLC_EINVAL, "define_split '%s': num_outputs %d outside [2, 16]", name, num_outputs);
    if ((unsigned)policy >= DLC_SPLIT_CANDIDATE)
        return dlc_error(DLC_EINVAL, "define_split '%s': policy must be factors, power2 or verbose", name);
    dlc__knob_t kn;
    if ((rc = knob_start(&kn, name, DLC_KNOB_SPLIT, num_outputs))) return rc;
    kn.extent = extent;
    kn.split_policy = policy;
    rc = dlc__split_enumerate(&kn, max_factor, filter, filter_user);
    if (rc) {
        knob_free(&kn);
        return rc;
    }
    return add_knob(sp, &kn);
}

int dlc_space_define_split_candidates(dlc_space_t *sp, const char *name, int64_t extent, int num_outputs,
                                      const int64_t *sizes, int n_cand, dlc_split_filter_fn filter,
                                      void *filter_user) {
    int rc = check_name(sp, name);
    if (rc) return rc;
    if (extent < 1 || num_outputs < 1 || num_outputs > 16 || n_cand < 1 || !sizes ||
        (int64_t)n_cand * num_outputs > DLC__KNOB_MAX_VALUES)
        return dlc_error(DLC_EINVAL, "define_split '%s': bad candidate list", name);
    dlc__knob_t kn;
    if ((rc = knob_start(&kn, name, DLC_KNOB_SPLIT, num_outputs))) return rc;
    kn.extent = extent;
    kn.split_policy = DLC_SPLIT_CANDIDATE;
    kn.vals = malloc((size_t)n_cand * num_outputs * sizeof *kn.vals);
    if (!kn.vals) {
        knob_free(&kn);
        return dlc_error(DLC_ENOMEM, "define: out of memory");
    }
    for (int i = 0; i < n_cand; i++) {
        const int64_t *c = sizes + (size_t)i * num_outputs;
        if (filter && !filter(c, num_outputs, filter_user)) continue;
        memcpy(kn.vals + kn.dim * num_outputs, c, num_outputs * sizeof *c);
        kn.dim++;
    }
    return add_knob(sp, &kn);
}

static int64_t factorial(int n) {
    int64_t f = 1;
    for (int i = 2; i <= n; i++) f *= i;
    return f;
}

static int define_reorder_lazy(dlc_space_t *sp, const char *name, int n_axes, int policy, int begin, int end) {
    dlc__knob_t kn;
    int rc = knob_start(&kn, name, DLC_KNOB_REORDER, n_axes);
    if (rc) return rc;
    kn.reorder_policy = policy;
    kn.begin = begin;
    kn.end = end;
    kn.dim = factorial(end - begin);
    return add_knob(sp, &kn);
}

int dlc_space_define_reorder(dlc_space_t *sp, const char *name, int n_axes, dlc_reorder_policy_t policy) {
    int rc = check_name(sp, name);
    if (rc) return rc;
    if (n_axes < 1 || n_axes > 4096)
        return dlc_error(DLC_EINVAL, "define_reorder '%s': bad axis count %d", name, n_axes);
    if (policy == DLC_REORDER_ALL) {
        if (n_axes > DLC__REORDER_MAX_AXES)
            return dlc_error(DLC_EINVAL, "define_reorder '%s': 'all' over %d axes (at most %d)", name, n_axes,
                             DLC__REORDER_MAX_AXES);
        return define_reorder_lazy(sp, name, n_axes, DLC_REORDER_ALL, 0, n_axes);
    }
    if (policy == DLC_REORDER_IDENTITY) /* permutations of an empty interval: the identity */
        return define_reorder_lazy(sp, name, n_axes, DLC_REORDER_IDENTITY, 0, 0);
    return dlc_error(DLC_EINVAL, "define_reorder '%s': use _interval or _candidates for policy %s", name,
                     dlc_reorder_policy_name(policy));
}

int dlc_space_define_reorder_interval(dlc_space_t *sp, const char *name, int n_axes, int begin, int end) {
    int rc = check_name(sp, name);
    if (rc) return rc;
    if (n_axes < 1 || n_axes > 4096 || begin < 0 || begin >= end || end > n_axes ||
        end - begin > DLC__REORDER_MAX_AXES)
        return dlc_error(DLC_EINVAL, "define_reorder '%s': bad interval [%d, %d) of %d axes", name, begin, end,
                         n_axes);
    return define_reorder_lazy(sp, name, n_axes, DLC_REORDER_INTERVAL_ALL, begin, end);
}

int dlc_space_define_reorder_candidates(dlc_space_t *sp, const char *name, int n_axes, const int *perms,
                                        int n_cand) {
    int rc = check_name(sp, name);
    if (rc) return rc;
    if (n_axes < 1 || n_axes > 4096 || n_cand < 1 || !perms || (int64_t)n_cand * n_axes > DLC__KNOB_MAX_VALUES)
        return dlc_error(DLC_EINVAL, "define_reorder '%s': bad candidate list", name);
    char *seen = calloc(n_axes, 1);
    if (!seen) return dlc_error(DLC_ENOMEM, "define: out of memory");
    for (int i = 0; i < n_cand; i++) {
        memset(seen, 0, n_axes);
        for (int j = 0; j < n_axes; j++) {
            int a = perms[(size_t)i * n_axes + j];
            if (a < 0 || a >= n_axes || seen[a]) {
                free(seen);
                return dlc_error(DLC_EINVAL, "define_reorder '%s': candidate %d is not a permutation", name, i);
            }
            seen[a] = 1;
        }
    }
    free(seen);
    dlc__knob_t kn;
    if ((rc = knob_start(&kn, name, DLC_KNOB_REORDER, n_axes))) return rc;
    kn.reorder_policy = DLC_REORDER_CANDIDATE;
    kn.vals = malloc((size_t)n_cand * n_axes * sizeof *kn.vals);
    if (!kn.vals) {
        knob_free(&kn);
        return dlc_error(DLC_ENOMEM, "define: out of memory");
    }
    for (size_t i = 0; i < (size_t)n_cand * n_axes; i++) kn.vals[i] = perms[i];
    kn.dim = n_cand;
    return add_knob(sp, &kn);
}

/* ---- annotate ---- */

/* The DFS of AnnotateSpace._generate_space: axis 0 outermost; at most one "vec". */
static void ann_dfs(dlc__knob_t *kn, const int *opts, int n_opts, int now, int64_t *stack, int vec) {
    if (now == kn->width) {
        memcpy(kn->vals + kn->dim * kn->width, stack, kn->width * sizeof *stack);
        kn->dim++;
        return;
    }
    for (int i = 0; i < n_opts; i++) {
        int v = vec + (opts[i] == DLC_KNOB_ANN_VEC);
        if (v > 1) continue;
        stack[now] = opts[i];
        ann_dfs(kn, opts, n_opts, now + 1, stack, v);
    }
}

/* Number of entities of the DFS: sequences with at most one vec. */
static int64_t ann_count(int n_axes, int n_opts, int has_vec, int64_t limit) {
    int64_t no_vec = 1, one_vec = 0;
    int others = n_opts - has_vec;
    for (int a = 0; a < n_axes; a++) {
        one_vec = one_vec * others + (has_vec ? no_vec : 0);
        no_vec *= others;
        if (no_vec + one_vec > limit) return limit + 1;
    }
    return no_vec + one_vec;
}

static int define_ann_fixed(dlc_space_t *sp, const char *name, int n_axes, const int *anns) {
    dlc__knob_t kn;
    int rc = knob_start(&kn, name, DLC_KNOB_ANNOTATE, n_axes);
    if (rc) return rc;
    kn.vals = malloc(n_axes * sizeof *kn.vals);
    if (!kn.vals) {
        knob_free(&kn);
        return dlc_error(DLC_ENOMEM, "define: out of memory");
    }
    for (int i = 0; i < n_axes; i++) kn.vals[i] = anns[i];
    kn.dim = 1;
    return add_knob(sp, &kn);
}

/* bind_gpu / bind_gpu_virtual: "fuse" for the leading axes, then the bindings. */
static int define_bind_gpu(dlc_space_t *sp, const char *name, int n_axes, int virt) {
    static const int b6[] = {DLC_KNOB_ANN_BLOCK_Z, DLC_KNOB_ANN_BLOCK_Y, DLC_KNOB_ANN_BLOCK_X,
                             DLC_KNOB_ANN_THREAD_Z, DLC_KNOB_ANN_THREAD_Y, DLC_KNOB_ANN_THREAD_X};
    static const int b4[] = {DLC_KNOB_ANN_BLOCK_Y, DLC_KNOB_ANN_BLOCK_X, DLC_KNOB_ANN_THREAD_Y, DLC_KNOB_ANN_THREAD_X};
    static const int b2[] = {DLC_KNOB_ANN_BLOCK_X, DLC_KNOB_ANN_THREAD_X};
    static const int v9[] = {DLC_KNOB_ANN_BLOCK_Z, DLC_KNOB_ANN_BLOCK_Y, DLC_KNOB_ANN_BLOCK_X,
                             DLC_KNOB_ANN_VTHREAD, DLC_KNOB_ANN_VTHREAD, DLC_KNOB_ANN_VTHREAD,
                             DLC_KNOB_ANN_THREAD_Z, DLC_KNOB_ANN_THREAD_Y, DLC_KNOB_ANN_THREAD_X};
    static const int v6[] = {DLC_KNOB_ANN_BLOCK_Y, DLC_KNOB_ANN_BLOCK_X, DLC_KNOB_ANN_VTHREAD,
                             DLC_KNOB_ANN_VTHREAD, DLC_KNOB_ANN_THREAD_Y, DLC_KNOB_ANN_THREAD_X};
    static const int v3[] = {DLC_KNOB_ANN_BLOCK_X, DLC_KNOB_ANN_VTHREAD, DLC_KNOB_ANN_THREAD_X};
    const int *tail;
    int nt;
    if (!virt) {
        if (n_axes >= 6) tail = b6, nt = 6;
        else if (n_axes >= 4) tail = b4, nt = 4;
        else if (n_axes >= 2) tail = b2, nt = 2;
        else return dlc_error(DLC_EINVAL, "define_annotate '%s': bind_gpu needs 2 axes or more", name);
    } else {
        if (n_axes >= 9) tail = v9, nt = 9;
        else if (n_axes >= 6) tail = v6, nt = 6;
        else if (n_axes >= 3) tail = v3, nt = 3;
        else return dlc_error(DLC_EINVAL, "define_annotate '%s': bind_gpu_virtual needs 3 axes or more", name);
    }
    int anns[4096];
    for (int i = 0; i < n_axes - nt; i++) anns[i] = DLC_KNOB_ANN_FUSE;
    memcpy(anns + n_axes - nt, tail, nt * sizeof *tail);
    return define_ann_fixed(sp, name, n_axes, anns);
}

/* locate_cache: itertools.combinations(range(n_axes), num_anchor). */
static int define_locate_cache(dlc_space_t *sp, const char *name, int n_axes, int k) {
    if (k < 0 || k > n_axes) return dlc_error(DLC_EINVAL, "define_annotate '%s': bad num_anchor %d", name, k);
    int64_t count = 1; /* C(n, k), bounded */
    for (int i = 0; i < k; i++) {
        count = count * (n_axes - i) / (i + 1);
        if (count * (k ? k : 1) > DLC__KNOB_MAX_VALUES)
            return dlc_error(DLC_EINVAL, "define_annotate '%s': too many combinations", name);
    }
    dlc__knob_t kn;
    int rc = knob_start(&kn, name, DLC_KNOB_ANNOTATE, k);
    if (rc) return rc;
    kn.ann_locate = 1;
    kn.vals = malloc((size_t)(count * (k ? k : 1)) * sizeof *kn.vals);
    if (!kn.vals) {
        knob_free(&kn);
        return dlc_error(DLC_ENOMEM, "define: out of memory");
    }
    int64_t c[4096];
    for (int i = 0; i < k; i++) c[i] = i;
    for (;;) {
        memcpy(kn.vals + kn.dim * k, c, k * sizeof *c);
        kn.dim++;
        int i = k - 1;
        while (i >= 0 && c[i] == n_axes - k + i) i--;
        if (i < 0) break;
        c[i]++;
        for (int j = i + 1; j < k; j++) c[j] = c[j - 1] + 1;
    }
    return add_knob(sp, &kn);
}

int dlc_space_define_annotate(dlc_space_t *sp, const char *name, int n_axes, const char *policy, int num_anchor) {
    int rc = check_name(sp, name);
    if (rc) return rc;
    if (n_axes < 1 || n_axes > 4096 || !policy)
        return dlc_error(DLC_EINVAL, "define_annotate '%s': bad axis count or policy", name);
    if (!strcmp(policy, "locate_cache")) return define_locate_cache(sp, name, n_axes, num_anchor);
    if (!strcmp(policy, "bind_gpu")) return define_bind_gpu(sp, name, n_axes, 0);
    if (!strcmp(policy, "bind_gpu_virtual")) return define_bind_gpu(sp, name, n_axes, 1);

    /* policy.replace("try", "none").split("_") */
    int opts[64], n_opts = 0, has_vec = 0;
    const char *p = policy;
    for (;;) {
        size_t len = strcspn(p, "_");
        int a = -1;
        if ((len == 3 && !strncmp(p, "try", 3)) || (len == 4 && !strncmp(p, "none", 4))) a = DLC_KNOB_ANN_NONE;
        else if (len == 6 && !strncmp(p, "unroll", 6)) a = DLC_KNOB_ANN_UNROLL;
        else if (len == 3 && !strncmp(p, "vec", 3)) a = DLC_KNOB_ANN_VEC;
        if (a < 0 || n_opts == 64)
            return dlc_error(DLC_EINVAL, "define_annotate '%s': invalid policy '%s'", name, policy);
        has_vec |= a == DLC_KNOB_ANN_VEC;
        opts[n_opts++] = a;
        if (!p[len]) break;
        p += len + 1;
    }
    /* a repeated option (e.g. "vec_vec") would repeat entities in TVM too; keep them */
    int n_vec = 0;
    for (int i = 0; i < n_opts; i++) n_vec += opts[i] == DLC_KNOB_ANN_VEC;
    if (n_vec > 1) return dlc_error(DLC_EINVAL, "define_annotate '%s': 'vec' repeated in '%s'", name, policy);
    int64_t count = ann_count(n_axes, n_opts, has_vec, DLC__KNOB_MAX_VALUES / n_axes);
    if (count > DLC__KNOB_MAX_VALUES / n_axes)
        return dlc_error(DLC_EINVAL, "define_annotate '%s': too many entities", name);
    dlc__knob_t kn;
    if ((rc = knob_start(&kn, name, DLC_KNOB_ANNOTATE, n_axes))) return rc;
    kn.vals = malloc((size_t)count * n_axes * sizeof *kn.vals);
    int64_t *stack = malloc(n_axes * sizeof *stack);
    if (!kn.vals || !stack) {
        free(stack);
        knob_free(&kn);
        return dlc_error(DLC_ENOMEM, "define: out of memory");
    }
    ann_dfs(&kn, opts, n_opts, 0, stack, 0);
    free(stack);
    return add_knob(sp, &kn);
}

/* ---- other options ---- */

int dlc_space_define_knob(dlc_space_t *sp, const char *name, const json_t *candidates) {
    int rc = check_name(sp, name);
    if (rc) return rc;
    if (!json_is_array(candidates) || json_array_size(candidates) == 0)
        return dlc_error(DLC_EINVAL, "define_knob '%s': candidates must be a non-empty array", name);
    dlc__knob_t kn;
    if ((rc = knob_start(&kn, name, DLC_KNOB_OTHER, 1))) return rc;
    kn.options = json_deep_copy(candidates);
    if (!kn.options) {
        knob_free(&kn);
        return dlc_error(DLC_ENOMEM, "define: out of memory");
    }
    kn.dim = (int64_t)json_array_size(kn.options);
    return add_knob(sp, &kn);
}

static int define_knob_array(dlc_space_t *sp, const char *name, json_t *arr) {
    if (!arr) return dlc_error(DLC_ENOMEM, "define_knob '%s': out of memory", name ? name : "");
    int rc = dlc_space_define_knob(sp, name, arr);
    json_decref(arr);
    return rc;
}

int dlc_space_define_knob_int(dlc_space_t *sp, const char *name, const int64_t *vals, int n) {
    json_t *a = json_array();
    for (int i = 0; a && vals && i < n; i++) json_array_append_new(a, json_integer(vals[i]));
    return define_knob_array(sp, name, a);
}

int dlc_space_define_knob_bool(dlc_space_t *sp, const char *name, const int *vals, int n) {
    json_t *a = json_array();
    for (int i = 0; a && vals && i < n; i++) json_array_append_new(a, json_boolean(vals[i]));
    return define_knob_array(sp, name, a);
}

int dlc_space_define_knob_string(dlc_space_t *sp, const char *name, const char *const *vals, int n) {
    json_t *a = json_array();
    for (int i = 0; a && vals && i < n; i++) json_array_append_new(a, json_string(vals[i] ? vals[i] : ""));
    return define_knob_array(sp, name, a);
}

/* ---- queries ---- */

int64_t dlc_space_size(const dlc_space_t *sp) { return sp ? sp->size : 0; }
int dlc_space_knob_count(const dlc_space_t *sp) { return sp ? sp->n_knobs : 0; }

int dlc_space_knob_find(const dlc_space_t *sp, const char *name) {
    for (int i = 0; sp && name && i < sp->n_knobs; i++)
        if (!strcmp(sp->knobs[i].name, name)) return i;
    return -1;
}

const char *dlc_space_knob_name(const dlc_space_t *sp, int k) {
    return sp && k >= 0 && k < sp->n_knobs ? sp->knobs[k].name : NULL;
}
dlc_knob_kind_t dlc_space_knob_kind(const dlc_space_t *sp, int k) {
    return sp && k >= 0 && k < sp->n_knobs ? sp->knobs[k].kind : DLC_KNOB_KIND_COUNT;
}
int64_t dlc_space_knob_dim(const dlc_space_t *sp, int k) {
    return sp && k >= 0 && k < sp->n_knobs ? sp->knobs[k].dim : 0;
}

/* Unranks permutation i of [begin, end) in lexicographic order (the order of
 * itertools.permutations), leaving the other positions as the identity. */
static void reorder_unrank(const dlc__knob_t *kn, int64_t i, int64_t *out) {
    int n = kn->end - kn->begin;
    int64_t pool[DLC__REORDER_MAX_AXES];
    for (int a = 0; a < kn->width; a++) out[a] = a;
    for (int a = 0; a < n; a++) pool[a] = kn->begin + a;
    for (int a = 0; a < n; a++) {
        int64_t f = factorial(n - 1 - a);
        int64_t d = i / f;
        i %= f;
        out[kn->begin + a] = pool[d];
        memmove(pool + d, pool + d + 1, (n - 1 - a - d) * sizeof *pool);
    }
}

/* Rank of a permutation for a lazy reorder knob, or -1. */
static int64_t reorder_rank(const dlc__knob_t *kn, const int64_t *v) {
    int n = kn->end - kn->begin;
    for (int a = 0; a < kn->width; a++) {
        if (a >= kn->begin && a < kn->end) {
            if (v[a] < kn->begin || v[a] >= kn->end) return -1;
        } else if (v[a] != a) {
            return -1;
        }
    }
    int64_t rank = 0;
    for (int a = 0; a < n; a++) {
        int smaller = 0;
        for (int b = a + 1; b < n; b++) {
            if (v[kn->begin + b] == v[kn->begin + a]) return -1; /* repeated axis */
            smaller += v[kn->begin + b] < v[kn->begin + a];
        }
        rank += smaller * factorial(n - 1 - a);
    }
    return rank;
}

void dlc__knob_entity(const dlc__knob_t *kn, int64_t i, int64_t *out) {
    if (kn->kind == DLC_KNOB_REORDER && kn->reorder_policy != DLC_REORDER_CANDIDATE)
        reorder_unrank(kn, i, out);
    else if (kn->kind == DLC_KNOB_OTHER)
        out[0] = i; /* the value lives in kn->options */
    else
        memcpy(out, kn->vals + i * kn->width, kn->width * sizeof *out);
}

int64_t dlc__knob_find(const dlc__knob_t *kn, const int64_t *v) {
    int w = kn->width;
    if (kn->kind == DLC_KNOB_REORDER && kn->reorder_policy != DLC_REORDER_CANDIDATE) return reorder_rank(kn, v);
    if (kn->kind == DLC_KNOB_SPLIT) {
        for (int64_t i = 0; i < kn->dim; i++) {
            const int64_t *c = kn->vals + i * w;
            if (memcmp(c + 1, v + 1, (w - 1) * sizeof *v)) continue;
            if (v[0] == c[0] || v[0] == -1 || (c[0] == -1 && v[0] == dlc__split_outer(kn->extent, v, w)))
                return i;
        }
        return -1;
    }
    for (int64_t i = 0; i < kn->dim; i++)
        if (!memcmp(kn->vals + i * w, v, w * sizeof *v)) return i;
    return -1;
}

json_t *dlc_space_knob_entity_json(const dlc_space_t *sp, int k, int64_t i) {
    if (!sp || k < 0 || k >= sp->n_knobs || i < 0 || i >= sp->knobs[k].dim) return NULL;
    const dlc__knob_t *kn = &sp->knobs[k];
    if (kn->kind == DLC_KNOB_OTHER) return json_incref(json_array_get(kn->options, (size_t)i));
    int64_t v[4096];
    dlc__knob_entity(kn, i, v);
    json_t *a = json_array();
    for (int j = 0; a && j < kn->width; j++) {
        if (kn->kind == DLC_KNOB_ANNOTATE && !kn->ann_locate)
            json_array_append_new(a, json_string(dlc_knob_ann_name((int)v[j])));
        else
            json_array_append_new(a, json_integer(v[j]));
    }
    return a;
}

int dlc_space_point2knob(const dlc_space_t *sp, int64_t index, int64_t *choice) {
    if (!sp || index < 0 || index >= sp->size)
        return dlc_error(DLC_EINVAL, "index %lld outside the space [0, %lld)", (long long)index,
                         (long long)(sp ? sp->size : 0));
    for (int k = 0; k < sp->n_knobs; k++) {
        choice[k] = index % sp->knobs[k].dim;
        index /= sp->knobs[k].dim;
    }
    return 0;
}

int dlc_space_knob2point(const dlc_space_t *sp, const int64_t *choice, int64_t *index) {
    if (!sp) return dlc_error(DLC_EINVAL, "knob2point: no space");
    int64_t idx = 0;
    for (int k = sp->n_knobs - 1; k >= 0; k--) {
        if (choice[k] < 0 || choice[k] >= sp->knobs[k].dim)
            return dlc_error(DLC_EINVAL, "knob '%s': choice %lld outside [0, %lld)", sp->knobs[k].name,
                             (long long)choice[k], (long long)sp->knobs[k].dim);
        idx = idx * sp->knobs[k].dim + choice[k];
    }
    *index = idx;
    return 0;
}

int dlc_space_get(const dlc_space_t *sp, int64_t index, dlc_config_t **out) {
    *out = NULL;
    if (!sp) return dlc_error(DLC_EINVAL, "space_get: no space");
    int64_t stack_choice[64], *choice = stack_choice;
    if (sp->n_knobs > 64 && !(choice = malloc(sp->n_knobs * sizeof *choice)))
        return dlc_error(DLC_ENOMEM, "space_get: out of memory");
    int rc = dlc_space_point2knob(sp, index, choice);
    if (!rc && !(*out = dlc__config_make(sp, choice, index))) rc = dlc_error(DLC_ENOMEM, "space_get: out of memory");
    if (choice != stack_choice) free(choice);
    return rc;
}
