/* search_tuner.c — what every tuner kind shares: options, the visited set
 * (no index is proposed twice), the best result, random draws without
 * repeats, and the random and grid tuners, which need nothing more. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tuner/search_impl.h"

static const char *const kind_names[] = {
#define DLC__TKN(e, n) n,
    DLC_TUNER_KIND_MAP(DLC__TKN)
#undef DLC__TKN
};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == DLC_TUNER_KIND_COUNT, "one name per tuner kind");

const char *dlc_tuner_kind_name(dlc_tuner_kind_t k) {
    return (unsigned)k < DLC_TUNER_KIND_COUNT ? kind_names[k] : "?";
}

int dlc_tuner_kind_parse(const char *name) {
    for (int k = 0; name && k < DLC_TUNER_KIND_COUNT; k++)
        if (!strcmp(name, kind_names[k])) return k;
    return -1;
}

void dlc_tuner_opts_default(dlc_tuner_opts_t *o, dlc_tuner_kind_t kind) {
    memset(o, 0, sizeof *o);
    o->kind = kind;
    o->seed = 42;
    o->plan_size = 64;
    o->first_fit = 16; /* with fit_every 16: 0.35 of random's trials, 0.46 at 32/doubling (bench_tune replay) */
    o->fit_every = 16;
    o->epsilon = 0.05;
    o->loss = DLC_COSTMODEL_RANK;
    o->sa_parallel = 128;
    o->sa_steps = 500;
    o->sa_early_stop = 50;
    o->sa_temp_start = 1.0;
    o->sa_temp_end = 0.0;
    o->diversity = 1;
    o->pop_size = 100;
    o->elite_num = 3;
    o->mutation_prob = 0.1;
}

double dlc__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

uint64_t dlc__tuner_rand(dlc_tuner_t *t) { return dlc_space_rand64(&t->rng); }

int64_t dlc__tuner_rand_below(dlc_tuner_t *t, int64_t n) {
    uint64_t un = (uint64_t)n, limit = UINT64_MAX - UINT64_MAX % un, r;
    do r = dlc__tuner_rand(t);
    while (r >= limit); /* rejection removes the modulo bias */
    return (int64_t)(r % un);
}

double dlc__tuner_rand01(dlc_tuner_t *t) { return (double)(dlc__tuner_rand(t) >> 11) * 0x1.0p-53; }

int dlc__tuner_take(dlc_tuner_t *t, int64_t index) {
    int s = dlc__tuner_seen(t, index);
    if (s == DLC__SEEN_VISITED) return 0;
    if (dlc__imap_put(&t->seen, index, DLC__SEEN_VISITED) < 0) return DLC_ENOMEM;
    if (s == DLC__SEEN_INVALID) t->n_invalid--;
    t->n_visited++;
    return 1;
}

int dlc__tuner_mark_invalid(dlc_tuner_t *t, int64_t index) {
    if (dlc__tuner_seen(t, index)) return 0;
    if (dlc__imap_put(&t->seen, index, DLC__SEEN_INVALID) < 0) return DLC_ENOMEM;
    t->n_invalid++;
    t->stats.invalid++;
    return 0;
}

/* The sampler is one permutation of the whole space; an index it yields that
 * is already marked is skipped for good, since marks are never removed. But
 * a caller may draw an index and drop it unproposed (the XGB tuner drops the
 * rest of a plan when its model is retrained), so when the permutation runs
 * out while unmarked indices remain, a fresh one is started: one full pass
 * meets every index, so it finds them. */
int dlc__tuner_draw_unseen(dlc_tuner_t *t, int64_t *index) {
    int64_t i;
    for (int pass = 0; pass < 2; pass++) {
        while (dlc_space_sampler_next(t->sampler, &i) == 0)
            if (!dlc__tuner_seen(t, i)) {
                *index = i;
                return 0;
            }
        if (!dlc_tuner_has_next(t)) break;
        dlc_space_sampler_t *fresh = dlc_space_sampler_new(t->sp, dlc__tuner_rand(t));
        if (!fresh) return dlc_error(DLC_ENOMEM, "tuner: out of memory");
        dlc_space_sampler_destroy(&t->sampler);
        t->sampler = fresh;
    }
    return DLC_ENOTFOUND;
}

/* ---- random: the sampler's order ---- */

static int random_next(dlc_tuner_t *t, int64_t *out, int max) {
    int n = 0, rc = 0;
    int64_t i;
    while (n < max && (rc = dlc__tuner_draw_unseen(t, &i)) == 0) {
        if ((rc = dlc__tuner_take(t, i)) < 0) return rc;
        out[n++] = i;
    }
    return rc < 0 && rc != DLC_ENOTFOUND ? rc : n;
}
const dlc__tuner_ops_t dlc__random_ops = {.next_batch = random_next};

/* ---- grid: 0, 1, 2, ... ---- */

typedef struct {
    int64_t next; /* the first index not yet passed */
} grid_t;

static int grid_next(dlc_tuner_t *t, int64_t *out, int max) {
    grid_t *g = t->impl;
    int n = 0;
    for (; n < max && g->next < t->size; g->next++) {
        if (dlc__tuner_seen(t, g->next)) continue;
        int rc = dlc__tuner_take(t, g->next);
        if (rc < 0) return rc;
        out[n++] = g->next;
    }
    return n;
}
static void grid_destroy(dlc_tuner_t *t) { free(t->impl); }
const dlc__tuner_ops_t dlc__grid_ops = {.next_batch = grid_next, .destroy = grid_destroy};

/* ---- lifecycle and the public calls ---- */

static int check_opts(const dlc_space_t *sp, const dlc_tuner_opts_t *o) {
    if (!sp || !o) return dlc_error(DLC_EINVAL, "tuner: no space or no options");
    if ((unsigned)o->kind >= DLC_TUNER_KIND_COUNT) return dlc_error(DLC_EINVAL, "tuner: unknown kind %d", o->kind);
    if (o->kind == DLC_TUNER_GA) {
        if (o->pop_size < 2) return dlc_error(DLC_EINVAL, "tuner ga: pop_size %d below 2", o->pop_size);
        if (o->elite_num < 0 || o->elite_num > o->pop_size)
            return dlc_error(DLC_EINVAL, "tuner ga: elite_num %d not in [0, pop_size %d]", o->elite_num, o->pop_size);
        if (!(o->mutation_prob >= 0 && o->mutation_prob <= 1))
            return dlc_error(DLC_EINVAL, "tuner ga: mutation_prob %g not in [0, 1]", o->mutation_prob);
    }
    if (o->kind == DLC_TUNER_XGB) {
        if (!o->features || o->n_features <= 0)
            return dlc_error(DLC_EINVAL, "tuner xgb: needs a feature callback and n_features > 0 (have %d)",
                             o->n_features);
        if (o->plan_size < 1) return dlc_error(DLC_EINVAL, "tuner xgb: plan_size %d below 1", o->plan_size);
        if (o->first_fit < 0) return dlc_error(DLC_EINVAL, "tuner xgb: first_fit %d below 0", o->first_fit);
        if (o->fit_every < 0) return dlc_error(DLC_EINVAL, "tuner xgb: fit_every %d below 0", o->fit_every);
        if (!(o->epsilon >= 0 && o->epsilon <= 1))
            return dlc_error(DLC_EINVAL, "tuner xgb: epsilon %g not in [0, 1]", o->epsilon);
        if (o->sa_parallel < 1 || o->sa_steps < 0)
            return dlc_error(DLC_EINVAL, "tuner xgb: sa_parallel %d / sa_steps %d", o->sa_parallel, o->sa_steps);
        if ((unsigned)o->loss >= DLC_COSTMODEL_LOSS_COUNT)
            return dlc_error(DLC_EINVAL, "tuner xgb: unknown loss %d", o->loss);
    }
    return 0;
}

dlc_tuner_t *dlc_tuner_new(const dlc_space_t *sp, const dlc_tuner_opts_t *o) {
    if (check_opts(sp, o) < 0) return NULL;
    dlc_tuner_t *t = calloc(1, sizeof *t);
    if (!t) goto oom;
    t->o = *o;
    t->sp = sp;
    t->size = dlc_space_size(sp);
    t->n_knobs = dlc_space_knob_count(sp);
    t->best_index = -1;
    t->rng = o->seed ^ 0x6a09e667f3bcc909ULL; /* the sampler gets the plain seed */
    t->dims = calloc((size_t)(t->n_knobs ? t->n_knobs : 1), sizeof *t->dims);
    t->sampler = dlc_space_sampler_new(sp, o->seed);
    if (!t->dims || !t->sampler || dlc__imap_init(&t->seen, 256) < 0) goto oom;
    for (int k = 0; k < t->n_knobs; k++) t->dims[k] = dlc_space_knob_dim(sp, k);
    switch (o->kind) {
    case DLC_TUNER_RANDOM: t->ops = &dlc__random_ops; break;
    case DLC_TUNER_GRID:
        t->ops = &dlc__grid_ops;
        if (!(t->impl = calloc(1, sizeof(grid_t)))) goto oom;
        break;
    case DLC_TUNER_GA:
        t->ops = &dlc__ga_ops;
        if (dlc__ga_init(t) < 0) goto fail;
        break;
    case DLC_TUNER_XGB:
        t->ops = &dlc__xgb_ops;
        if (dlc__xgb_init(t) < 0) goto fail;
        break;
    default: break;
    }
    return t;
oom:
    dlc_error(DLC_ENOMEM, "tuner: out of memory");
fail:
    dlc_tuner_destroy(&t);
    return NULL;
}

void dlc_tuner_destroy(dlc_tuner_t **tp) {
    if (!tp || !*tp) return;
    dlc_tuner_t *t = *tp;
    if (t->ops && t->ops->destroy && t->impl) t->ops->destroy(t);
    dlc_space_sampler_destroy(&t->sampler);
    if (t->seen.keys) dlc__imap_free(&t->seen);
    free(t->dims);
    free(t);
    *tp = NULL;
}

dlc_tuner_kind_t dlc_tuner_kind(const dlc_tuner_t *t) { return t->o.kind; }

int dlc_tuner_has_next(const dlc_tuner_t *t) { return t->n_visited + t->n_invalid < t->size; }

int dlc_tuner_next_batch(dlc_tuner_t *t, int64_t *out, int max) {
    if (!t || (max > 0 && !out)) return dlc_error(DLC_EINVAL, "tuner next_batch: no tuner or no output");
    if (max <= 0 || !dlc_tuner_has_next(t)) return 0;
    return t->ops->next_batch(t, out, max);
}

int dlc_tuner_update(dlc_tuner_t *t, const int64_t *index, const double *score, int n) {
    if (!t || n < 0 || (n > 0 && (!index || !score))) return dlc_error(DLC_EINVAL, "tuner update: bad arguments");
    /* Check everything first so a bad batch changes nothing. */
    for (int i = 0; i < n; i++) {
        if (index[i] < 0 || index[i] >= t->size)
            return dlc_error(DLC_EINVAL, "tuner update: index %lld outside the space of %lld", (long long)index[i],
                             (long long)t->size);
        if (!(score[i] >= 0) || isinf(score[i]))
            return dlc_error(DLC_EINVAL, "tuner update: score %g of index %lld is not a finite throughput >= 0",
                             score[i], (long long)index[i]);
    }
    for (int i = 0; i < n; i++) {
        int rc = dlc__tuner_take(t, index[i]);
        if (rc < 0) return rc;
        if (score[i] > 0 && (t->best_index < 0 || score[i] > t->best_score)) {
            t->best_index = index[i];
            t->best_score = score[i];
        }
    }
    return t->ops->update ? t->ops->update(t, index, score, n) : 0;
}

int dlc_tuner_add_history(dlc_tuner_t *t, const float *X, const float *y, int n, const int *group_sizes,
                          int n_groups) {
    if (!t) return dlc_error(DLC_EINVAL, "tuner add_history: no tuner");
    return t->ops->add_history ? t->ops->add_history(t, X, y, n, group_sizes, n_groups) : 0;
}

int64_t dlc_tuner_visited(const dlc_tuner_t *t) { return t->n_visited; }

int dlc_tuner_best(const dlc_tuner_t *t, int64_t *index, double *score) {
    if (t->best_index < 0) return dlc_error(DLC_ENOTFOUND, "tuner: no successful result yet");
    if (index) *index = t->best_index;
    if (score) *score = t->best_score;
    return 0;
}

int dlc_tuner_load_model(dlc_tuner_t *t, const void *blob, size_t len) {
    if (!t) return dlc_error(DLC_EINVAL, "tuner load_model: no tuner");
    return t->ops->load_model ? t->ops->load_model(t, blob, len) : 0;
}

dlc_costmodel_t *dlc_tuner_model(dlc_tuner_t *t) { return t && t->ops->model ? t->ops->model(t) : NULL; }

void dlc_tuner_stats(const dlc_tuner_t *t, dlc_tuner_stats_t *out) { *out = t->stats; }
