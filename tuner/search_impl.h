/* search_impl.h — private to tuner/search_*.c: the tuner state every kind
 * shares (visited set, best result, random draws), the per-kind operations,
 * and the small int64 hash map they all use. */
#ifndef DLC_SEARCH_IMPL_H
#define DLC_SEARCH_IMPL_H

#include <stdint.h>

#include "tuner/dlc_tuner.h"

/* ---- int64 -> int32 hash map ----
 * Open addressing with linear probing, keys >= 0, no deletion (callers clear
 * the whole map instead). Preferred over uthash because the annealing looks
 * up tens of thousands of indices per plan: a flat array needs no allocation
 * per entry and probes stay in cache. */
typedef struct {
    int64_t *keys; /* -1: empty slot */
    int32_t *vals;
    int64_t cap;   /* slots, a power of two */
    int64_t n;     /* keys stored */
} dlc__imap_t;

int dlc__imap_init(dlc__imap_t *m, int64_t expect); /* 0 or DLC_ENOMEM */
void dlc__imap_free(dlc__imap_t *m);
void dlc__imap_clear(dlc__imap_t *m); /* keeps the slots */
/* The value slot of key, or NULL when absent; valid until the next put. */
int32_t *dlc__imap_find(const dlc__imap_t *m, int64_t key);
int dlc__imap_put(dlc__imap_t *m, int64_t key, int32_t val); /* inserts or overwrites; 0 or DLC_ENOMEM */

/* ---- the tuner ---- */

/* States of an index in dlc_tuner.seen; absent means never touched. */
enum {
    DLC__SEEN_VISITED = 1, /* proposed or reported */
    DLC__SEEN_INVALID = 2  /* the feature callback said DLC_EINSTANTIATE; never proposed */
};

typedef struct {
    /* Proposes up to max unseen indices; marks each with dlc__tuner_take. */
    int (*next_batch)(dlc_tuner_t *t, int64_t *out, int max);
    /* Learns from results; the common code already marked them visited and
     * updated the best. NULL: nothing to learn. */
    int (*update)(dlc_tuner_t *t, const int64_t *index, const double *score, int n);
    int (*add_history)(dlc_tuner_t *t, const float *X, const float *y, int n, const int *group_sizes,
                       int n_groups); /* NULL: ignored */
    dlc_costmodel_t *(*model)(dlc_tuner_t *t); /* NULL: none */
    int (*load_model)(dlc_tuner_t *t, const void *blob, size_t len); /* NULL: ignored */
    void (*destroy)(dlc_tuner_t *t);         /* frees t->impl; NULL: nothing to free */
} dlc__tuner_ops_t;

struct dlc_tuner {
    dlc_tuner_opts_t o;
    const dlc_space_t *sp; /* borrowed */
    int64_t size;
    int n_knobs;
    int64_t *dims;         /* entities per knob */
    dlc__imap_t seen;      /* index -> DLC__SEEN_* */
    int64_t n_visited, n_invalid;
    dlc_space_sampler_t *sampler; /* one permutation for every random unseen draw */
    uint64_t rng;                 /* splitmix64 state */
    int64_t best_index;           /* -1 before any success */
    double best_score;
    dlc_tuner_stats_t stats;
    const dlc__tuner_ops_t *ops;
    void *impl; /* the kind's state, owned */
};

extern const dlc__tuner_ops_t dlc__random_ops, dlc__grid_ops, dlc__ga_ops, dlc__xgb_ops;
int dlc__ga_init(dlc_tuner_t *t);  /* sets t->impl */
int dlc__xgb_init(dlc_tuner_t *t); /* sets t->impl */

/* DLC__SEEN_* of index, 0 if never touched. */
static inline int dlc__tuner_seen(const dlc_tuner_t *t, int64_t index) {
    const int32_t *v = dlc__imap_find(&t->seen, index);
    return v ? *v : 0;
}
/* Marks index visited (an invalid mark becomes visited: it was measured
 * after all). 1 if it was new, 0 if already visited, or DLC_ENOMEM. */
int dlc__tuner_take(dlc_tuner_t *t, int64_t index);
int dlc__tuner_mark_invalid(dlc_tuner_t *t, int64_t index); /* 0 or DLC_ENOMEM */
/* A uniformly drawn index that is neither visited nor invalid (not marked);
 * DLC_ENOTFOUND when none is left. */
int dlc__tuner_draw_unseen(dlc_tuner_t *t, int64_t *index);
uint64_t dlc__tuner_rand(dlc_tuner_t *t);
int64_t dlc__tuner_rand_below(dlc_tuner_t *t, int64_t n); /* uniform in [0, n), n >= 1 */
double dlc__tuner_rand01(dlc_tuner_t *t);                 /* uniform in [0, 1) */
double dlc__now(void);                                    /* monotonic seconds */

/* Simulated annealing over the model (search_sa.c) and AutoTVM's
 * diversity-aware pick; see there. */
int dlc__xgb_score_points(dlc_tuner_t *t, const int64_t *index, int n, float *score);
int dlc__sa_find_maximums(dlc_tuner_t *t, int64_t *points, int n_points, int num, int64_t *out, float *out_score);
int dlc__submodular_pick(dlc_tuner_t *t, const int64_t *cand, const float *score, int n_cand, int n_pick,
                         double knob_weight, int64_t *out);

#endif
