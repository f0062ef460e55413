/* search_xgb.c — the model-based tuner, after AutoTVM's ModelBasedTuner with
 * XGBoostCostModel: features come from the caller's callback, fetched only
 * for points that are scored and cached per index; the model is retrained on
 * every result (plus transfer-learning history, as separate groups) after
 * first_fit results, then every fit_every or more (see xgb_update); a plan
 * is the annealing's best predicted unvisited configs, thinned by a
 * diversity filter and handed out best first, plus an epsilon share of
 * random ones. Before any model exists
 * plans are random. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/search_impl.h"

#define CACHE_MAX_ROWS 100000           /* AutoTVM clears its feature cache at this size */
#define CACHE_MAX_BYTES (256u << 20)    /* and a bound for long (itervar) feature vectors */
#define DIVERSITY_RATIO 2               /* annealing keeps this many candidates per plan slot */
/* Worth of one new knob value, in units of the candidates' score range: at 1
 * the pick maximises new knob values first and the score breaks ties, which
 * is what AutoTVM's submodular_pick(0 * scores, ...) does with candidates
 * sorted best first. Smaller weights (0, 0.1, 0.3, 0.6) needed more trials
 * to reach the optimum in test_tuners (20 seeds: worst 418/269/265 vs 165). */
#define DIVERSITY_KNOB_WEIGHT 1.0
#define START_TRIES 16 /* random draws for a valid chain start */

typedef struct {
    int nf;                   /* features per row */
    dlc_costmodel_t *model;
    int trained;
    dlc__imap_t fcache;       /* index -> row of frows */
    float *frows;
    int64_t frow_n, frow_cap; /* rows */
    /* this task's results with valid features */
    float *X, *y;
    int64_t n_rows, cap_rows;
    int64_t n_results;        /* results reported, valid or not */
    double y_max;
    int64_t next_fit;         /* results at which the model is trained next */
    /* transfer-learning rows, kept for every fit */
    float *hX, *hy;
    int hn;
    int *hgroups;
    int hng;
    /* the plan being handed out */
    int64_t *plan;
    char *plan_random; /* per plan entry: the epsilon share (counted as explored) */
    int plan_n, plan_pt;
    /* annealing chains, kept between plans as AutoTVM's persistent=True */
    int64_t *points;
    int n_points;
    int chains;               /* min(sa_parallel, space size) */
    float *batch, *pred;      /* scoring scratch: `chains` rows */
    int *slot;
} xgb_t;

static void xgb_destroy(dlc_tuner_t *t) {
    xgb_t *x = t->impl;
    dlc_costmodel_destroy(&x->model);
    if (x->fcache.keys) dlc__imap_free(&x->fcache);
    free(x->frows);
    free(x->X);
    free(x->y);
    free(x->hX);
    free(x->hy);
    free(x->hgroups);
    free(x->plan);
    free(x->plan_random);
    free(x->points);
    free(x->batch);
    free(x->pred);
    free(x->slot);
    free(x);
    t->impl = NULL;
}

int dlc__xgb_init(dlc_tuner_t *t) {
    xgb_t *x = calloc(1, sizeof *x);
    if (!x) return dlc_error(DLC_ENOMEM, "tuner xgb: out of memory");
    t->impl = x;
    x->nf = t->o.n_features;
    x->frow_cap = CACHE_MAX_BYTES / (4 * (int64_t)x->nf);
    if (x->frow_cap > CACHE_MAX_ROWS) x->frow_cap = CACHE_MAX_ROWS;
    if (x->frow_cap < 1024) x->frow_cap = 1024;
    x->chains = t->size < t->o.sa_parallel ? (int)t->size : t->o.sa_parallel;
    x->next_fit = t->o.first_fit > 0 && t->o.first_fit < t->o.plan_size ? t->o.first_fit : t->o.plan_size;
    size_t np = (size_t)x->chains;
    x->plan = malloc((size_t)t->o.plan_size * sizeof *x->plan);
    x->plan_random = malloc((size_t)t->o.plan_size);
    x->points = malloc(np * sizeof *x->points);
    x->batch = malloc(np * (size_t)x->nf * sizeof *x->batch);
    x->pred = malloc(np * sizeof *x->pred);
    x->slot = malloc(np * sizeof *x->slot);
    if (!x->plan || !x->plan_random || !x->points || !x->batch || !x->pred || !x->slot || dlc__imap_init(&x->fcache, 1024) < 0)
        return dlc_error(DLC_ENOMEM, "tuner xgb: out of memory");
    x->model = dlc_costmodel_new(t->o.loss, x->nf, t->o.seed);
    if (!x->model) return dlc_last_status() < 0 ? dlc_last_status() : dlc_error(DLC_EINVAL, "tuner xgb: no model");
    return 0;
}

/* Features of one index into out: from the cache, or from the callback (then
 * cached). DLC_EINSTANTIATE marks the index invalid, so it is never proposed
 * and the callback is not asked again. */
static int fetch(dlc_tuner_t *t, xgb_t *x, int64_t index, float *out) {
    if (dlc__tuner_seen(t, index) == DLC__SEEN_INVALID) return DLC_EINSTANTIATE;
    const int32_t *row = dlc__imap_find(&x->fcache, index);
    if (row) {
        memcpy(out, x->frows + (int64_t)*row * x->nf, (size_t)x->nf * sizeof *out);
        return 0;
    }
    double t0 = dlc__now();
    int rc = t->o.features(index, out, t->o.feature_user);
    t->stats.feature_s += dlc__now() - t0;
    t->stats.feature_calls++;
    if (rc == DLC_EINSTANTIATE) {
        int mrc = dlc__tuner_mark_invalid(t, index);
        return mrc < 0 ? mrc : rc;
    }
    if (rc < 0) return rc;
    if (!x->frows && !(x->frows = malloc((size_t)(x->frow_cap * x->nf) * sizeof *x->frows)))
        return dlc_error(DLC_ENOMEM, "tuner xgb: feature cache");
    if (x->frow_n == x->frow_cap) { /* full: start over, as AutoTVM does */
        dlc__imap_clear(&x->fcache);
        x->frow_n = 0;
    }
    memcpy(x->frows + x->frow_n * x->nf, out, (size_t)x->nf * sizeof *out);
    if (dlc__imap_put(&x->fcache, index, (int32_t)x->frow_n) < 0) return DLC_ENOMEM;
    x->frow_n++;
    return 0;
}

int dlc__xgb_score_points(dlc_tuner_t *t, const int64_t *index, int n, float *score) {
    xgb_t *x = t->impl;
    for (int done = 0; done < n;) {
        int m = 0;
        for (; done < n && m < x->chains; done++) {
            int rc = fetch(t, x, index[done], x->batch + (int64_t)m * x->nf);
            if (rc == DLC_EINSTANTIATE) {
                score[done] = -INFINITY;
                continue;
            }
            if (rc < 0) return rc;
            x->slot[m++] = done;
        }
        if (m == 0) continue;
        int rc = dlc_costmodel_predict(x->model, x->batch, m, x->pred);
        if (rc < 0) return rc;
        for (int i = 0; i < m; i++) score[x->slot[i]] = isfinite(x->pred[i]) ? x->pred[i] : -INFINITY;
        t->stats.scored += m;
    }
    return 0;
}

static int fit(dlc_tuner_t *t, xgb_t *x) {
    int64_t n = x->hn + x->n_rows;
    int ng = x->hng + (x->n_rows > 0), rc = 0;
    float *X = malloc((size_t)(n * x->nf + 1) * sizeof *X), *y = malloc((size_t)(n + 1) * sizeof *y);
    int *groups = malloc((size_t)(ng + 1) * sizeof *groups);
    if (!X || !y || !groups) {
        rc = dlc_error(DLC_ENOMEM, "tuner xgb: training set of %lld rows", (long long)n);
        goto cleanup;
    }
    if (x->hn) { /* history first, one group per task, then this task as the last group */
        memcpy(X, x->hX, (size_t)x->hn * (size_t)x->nf * sizeof *X);
        memcpy(y, x->hy, (size_t)x->hn * sizeof *y);
        memcpy(groups, x->hgroups, (size_t)x->hng * sizeof *groups);
    }
    if (x->n_rows) {
        memcpy(X + (int64_t)x->hn * x->nf, x->X, (size_t)(x->n_rows * x->nf) * sizeof *X);
        memcpy(y + x->hn, x->y, (size_t)x->n_rows * sizeof *y);
        groups[x->hng] = (int)x->n_rows;
    }
    double t0 = dlc__now();
    rc = dlc_costmodel_fit(x->model, X, y, (int)n, x->hng ? groups : NULL, x->hng ? ng : 0);
    t->stats.fit_s += dlc__now() - t0;
    if (rc < 0) goto cleanup;
    t->stats.fits++;
    x->trained = 1;
    x->plan_n = x->plan_pt = 0; /* the next batch plans with the new model */
cleanup:
    free(X);
    free(y);
    free(groups);
    return rc;
}

static int in_plan(const xgb_t *x, int64_t index) {
    for (int i = 0; i < x->plan_n; i++)
        if (x->plan[i] == index) return 1;
    return 0;
}

/* Appends random unvisited valid indices until the plan holds `upto`. */
static int fill_random(dlc_tuner_t *t, xgb_t *x, int upto) {
    float *row = x->batch; /* scratch; not in use between scorings */
    int64_t idx;
    /* Plan entries are unmarked and distinct, so the plan can't outgrow the
     * unmarked indices (fewer as fetch finds invalid ones). */
    while (x->plan_n < upto && x->plan_n < t->size - t->n_visited - t->n_invalid) {
        int rc = dlc__tuner_draw_unseen(t, &idx);
        if (rc == DLC_ENOTFOUND) break;
        if (rc < 0) return rc;
        if (in_plan(x, idx)) continue;
        rc = fetch(t, x, idx, row);
        if (rc == DLC_EINSTANTIATE) continue;
        if (rc < 0) return rc;
        x->plan[x->plan_n++] = idx;
    }
    return 0;
}

/* Chain starts: the previous annealing's end points (AutoTVM's
 * persistent=True), then random valid points. */
static int start_points(dlc_tuner_t *t, xgb_t *x) {
    for (int n = x->n_points; n < x->chains; n++) {
        int64_t idx = dlc__tuner_rand_below(t, t->size);
        int rc = 0;
        for (int k = 0; k < START_TRIES; k++) {
            if ((rc = fetch(t, x, idx, x->batch)) != DLC_EINSTANTIATE) break;
            idx = dlc__tuner_rand_below(t, t->size);
        }
        if (rc < 0 && rc != DLC_EINSTANTIATE) return rc;
        x->points[n] = idx; /* an invalid start scores -inf, so its chain leaves at once */
    }
    x->n_points = x->chains;
    return 0;
}

static int plan_with_model(dlc_tuner_t *t, xgb_t *x, int n_model) {
    int n_cand = t->o.diversity ? DIVERSITY_RATIO * n_model : n_model, rc, found;
    int64_t *cand = malloc((size_t)n_cand * sizeof *cand);
    float *cs = malloc((size_t)n_cand * sizeof *cs);
    if (!cand || !cs) {
        rc = dlc_error(DLC_ENOMEM, "tuner xgb: out of memory");
        goto cleanup;
    }
    if ((rc = start_points(t, x)) < 0) goto cleanup;
    if ((rc = found = dlc__sa_find_maximums(t, x->points, x->n_points, n_cand, cand, cs)) < 0) goto cleanup;
    if (t->o.diversity && found > n_model) {
        rc = dlc__submodular_pick(t, cand, cs, found, n_model, DIVERSITY_KNOB_WEIGHT, x->plan + x->plan_n);
        if (rc < 0) goto cleanup;
        x->plan_n += n_model;
    } else {
        for (int i = 0; i < found && i < n_model; i++) x->plan[x->plan_n++] = cand[i];
    }
    rc = 0;
cleanup:
    free(cand);
    free(cs);
    return rc;
}

static int build_plan(dlc_tuner_t *t, xgb_t *x) {
    double t0 = dlc__now();
    int rc = 0, size = t->o.plan_size;
    x->plan_n = x->plan_pt = 0;
    int n_model = 0;
    if (x->trained) {
        int n_rand = (int)ceil(t->o.epsilon * size);
        if (n_rand > size) n_rand = size;
        if (size - n_rand > 0 && (rc = plan_with_model(t, x, size - n_rand)) < 0) goto done;
        n_model = x->plan_n;
    }
    rc = fill_random(t, x, size); /* the epsilon share, and whatever the annealing did not find */
    memset(x->plan_random, 0, (size_t)size);
    if (rc == 0 && n_model > 0 && x->plan_n > n_model) {
        /* Spread the random share through the plan: a fit comes before the
         * plan's tail is reached, and exploration at the tail never ran. */
        int n_rand = x->plan_n - n_model, gap = x->plan_n / n_rand;
        for (int k = 0; k < n_rand; k++) {
            int from = n_model + k, to = k * gap + (int)dlc__tuner_rand_below(t, gap);
            int64_t v = x->plan[from];
            memmove(x->plan + to + 1, x->plan + to, (size_t)(from - to) * sizeof *x->plan);
            memmove(x->plan_random + to + 1, x->plan_random + to, (size_t)(from - to));
            x->plan[to] = v;
            x->plan_random[to] = 1;
        }
    }
done:
    t->stats.plans++;
    t->stats.plan_s += dlc__now() - t0;
    return rc;
}

static int xgb_next(dlc_tuner_t *t, int64_t *out, int max) {
    xgb_t *x = t->impl;
    int n = 0;
    while (n < max) {
        if (x->plan_pt >= x->plan_n) {
            int rc = build_plan(t, x);
            if (rc < 0) return rc;
            if (x->plan_n == 0) break;
        }
        int random = x->plan_random[x->plan_pt];
        int64_t idx = x->plan[x->plan_pt++];
        if (dlc__tuner_seen(t, idx)) continue; /* reported since the plan was made */
        int rc = dlc__tuner_take(t, idx);
        if (rc < 0) return rc;
        t->stats.explored += random;
        out[n++] = idx;
    }
    return n;
}

static int grow_rows(xgb_t *x) {
    if (x->n_rows < x->cap_rows) return 0;
    int64_t cap = x->cap_rows ? 2 * x->cap_rows : 256;
    float *X = realloc(x->X, (size_t)(cap * x->nf) * sizeof *X);
    if (X) x->X = X;
    float *y = realloc(x->y, (size_t)cap * sizeof *y);
    if (y) x->y = y;
    if (!X || !y) return dlc_error(DLC_ENOMEM, "tuner xgb: training rows");
    x->cap_rows = cap;
    return 0;
}

static int xgb_update(dlc_tuner_t *t, const int64_t *index, const double *score, int n) {
    xgb_t *x = t->impl;
    for (int i = 0; i < n; i++) {
        int rc = grow_rows(x);
        if (rc < 0) return rc;
        x->n_results++;
        rc = fetch(t, x, index[i], x->X + x->n_rows * x->nf);
        if (rc == DLC_EINSTANTIATE) continue; /* no features: nothing to learn from */
        if (rc < 0) return rc;
        x->y[x->n_rows++] = (float)score[i];
        if (score[i] > x->y_max) x->y_max = score[i];
    }
    /* AutoTVM fits after each plan_size results. Fitting first after a few
     * results and then often lets the model steer the first hundred trials,
     * where most of the gain is; a plan is rebuilt after every fit. The
     * steps grow with the results (a quarter of them) so that long runs,
     * whose fits cost more, return to AutoTVM's cadence. */
    if (x->n_results >= x->next_fit && x->y_max > 1e-6) {
        int64_t step = t->o.fit_every > 0 ? (x->n_results / 4 > t->o.fit_every ? x->n_results / 4 : t->o.fit_every)
                                          : x->n_results; /* 0: as the results double */
        x->next_fit = x->n_results + (step < t->o.plan_size ? step : t->o.plan_size);
        return fit(t, x);
    }
    return 0;
}

static int xgb_add_history(dlc_tuner_t *t, const float *X, const float *y, int n, const int *group_sizes,
                           int n_groups) {
    xgb_t *x = t->impl;
    if (n <= 0) return 0;
    if (!X || !y || (group_sizes && n_groups <= 0))
        return dlc_error(DLC_EINVAL, "tuner add_history: missing rows, targets or groups");
    int one = n, ng = group_sizes ? n_groups : 1;
    const int *gs = group_sizes ? group_sizes : &one;
    int64_t sum = 0;
    for (int g = 0; g < ng; g++) {
        if (gs[g] <= 0) return dlc_error(DLC_EINVAL, "tuner add_history: group %d has %d rows", g, gs[g]);
        sum += gs[g];
    }
    if (sum != n) return dlc_error(DLC_EINVAL, "tuner add_history: groups hold %lld rows, not %d", (long long)sum, n);
    float *hX = realloc(x->hX, (size_t)(x->hn + n) * (size_t)x->nf * sizeof *hX);
    if (hX) x->hX = hX;
    float *hy = realloc(x->hy, (size_t)(x->hn + n) * sizeof *hy);
    if (hy) x->hy = hy;
    int *hg = realloc(x->hgroups, (size_t)(x->hng + ng) * sizeof *hg);
    if (hg) x->hgroups = hg;
    if (!hX || !hy || !hg) return dlc_error(DLC_ENOMEM, "tuner add_history: %d rows", n);
    memcpy(x->hX + (int64_t)x->hn * x->nf, X, (size_t)n * (size_t)x->nf * sizeof *X);
    memcpy(x->hy + x->hn, y, (size_t)n * sizeof *y);
    memcpy(x->hgroups + x->hng, gs, (size_t)ng * sizeof *gs);
    x->hn += n;
    x->hng += ng;
    return fit(t, x);
}

/* A stored model plans until the first fit replaces it (which it does not
 * join: a booster cannot be merged into a new training set, its rows are
 * gone); a model that does not load leaves the tuner as it was. */
static int xgb_load_model(dlc_tuner_t *t, const void *blob, size_t len) {
    xgb_t *x = t->impl;
    if (x->trained) return 0; /* history or results already trained a model on this task */
    int rc = dlc_costmodel_load(x->model, blob, len);
    if (rc < 0) return rc;
    x->trained = 1;
    x->plan_n = x->plan_pt = 0;
    return 0;
}

static dlc_costmodel_t *xgb_model(dlc_tuner_t *t) {
    xgb_t *x = t->impl;
    return x->trained ? x->model : NULL;
}

const dlc__tuner_ops_t dlc__xgb_ops = {
    .next_batch = xgb_next,
    .update = xgb_update,
    .add_history = xgb_add_history,
    .model = xgb_model,
    .load_model = xgb_load_model,
    .destroy = xgb_destroy,
};
