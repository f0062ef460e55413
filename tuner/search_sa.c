/* search_sa.c — finding the model's best unvisited configs: AutoTVM's
 * parallel simulated annealing (SimulatedAnnealingOptimizer) over random
 * single-knob moves, and its submodular_pick, which trades predicted score
 * against knob values the plan does not cover yet. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tuner/search_impl.h"

/* The best `num` (score, index) pairs seen: a min-heap on score, so the
 * weakest is at the root and is the one replaced. Placeholders have index
 * < 0 and score -inf. */
typedef struct {
    float *s;
    int64_t *i;
    int n;
} heap_t;

static void sift_down(heap_t *h, int at) {
    for (;;) {
        int l = 2 * at + 1, r = l + 1, m = at;
        if (l < h->n && h->s[l] < h->s[m]) m = l;
        if (r < h->n && h->s[r] < h->s[m]) m = r;
        if (m == at) return;
        float ts = h->s[at];
        h->s[at] = h->s[m];
        h->s[m] = ts;
        int64_t ti = h->i[at];
        h->i[at] = h->i[m];
        h->i[m] = ti;
        at = m;
    }
}

/* Offers index with score s; 1 if it entered the heap. Only unmarked indices
 * qualify: visited ones are known and invalid ones can't be built. */
static int heap_offer(dlc_tuner_t *t, heap_t *h, float s, int64_t index) {
    if (!(s > h->s[0]) || dlc__tuner_seen(t, index)) return 0;
    for (int k = 0; k < h->n; k++) /* rare: only scores above the weakest get here */
        if (h->i[k] == index) return 0;
    h->s[0] = s;
    h->i[0] = index;
    sift_down(h, 0);
    return 1;
}

/* Anneals n_points chains (points is updated in place to their end states)
 * and writes up to num distinct unmarked indices, best predicted first, to
 * out / out_score. Returns how many, or a negative code. */
int dlc__sa_find_maximums(dlc_tuner_t *t, int64_t *points, int n_points, int num, int64_t *out, float *out_score) {
    const dlc_tuner_opts_t *o = &t->o;
    heap_t h = {malloc((size_t)num * sizeof(float)), malloc((size_t)num * sizeof(int64_t)), num};
    float *score = malloc((size_t)n_points * sizeof *score), *nscore = malloc((size_t)n_points * sizeof *nscore);
    int64_t *next = malloc((size_t)n_points * sizeof *next);
    int rc = 0;
    if (!h.s || !h.i || !score || !nscore || !next) {
        rc = dlc_error(DLC_ENOMEM, "tuner sa: out of memory");
        goto cleanup;
    }
    for (int k = 0; k < num; k++) {
        h.s[k] = -INFINITY;
        h.i[k] = -1 - k;
    }
    if ((rc = dlc__xgb_score_points(t, points, n_points, score)) < 0) goto cleanup;
    for (int p = 0; p < n_points; p++) heap_offer(t, &h, score[p], points[p]);

    double temp = o->sa_temp_start, cool = (o->sa_temp_start - o->sa_temp_end) / (o->sa_steps + 1);
    int early = o->sa_early_stop > 0 ? o->sa_early_stop : o->sa_steps + 1;
    for (int k = 0, last = 0; k < o->sa_steps && k < last + early; k++, temp -= cool) {
        for (int p = 0; p < n_points; p++)
            if (dlc_space_random_neighbor(t->sp, points[p], &t->rng, &next[p]) < 0) next[p] = points[p];
        if ((rc = dlc__xgb_score_points(t, next, n_points, nscore)) < 0) goto cleanup;
        for (int p = 0; p < n_points; p++) {
            /* Metropolis: always up, down with exp(delta / temp); an invalid
             * neighbour (-inf) is never taken, an invalid start always left. */
            double delta = (double)nscore[p] - (double)score[p];
            double accept = exp(fmin(delta / (temp + 1e-5), 1.0));
            if (dlc__tuner_rand01(t) < accept) {
                points[p] = next[p];
                score[p] = nscore[p];
            }
            if (heap_offer(t, &h, nscore[p], next[p])) last = k;
        }
    }

    /* Best first: sort the heap's real entries by descending score. */
    int n = 0;
    for (int k = 0; k < num; k++)
        if (h.i[k] >= 0 && isfinite(h.s[k])) {
            int j = n++;
            for (; j > 0 && out_score[j - 1] < h.s[k]; j--) {
                out_score[j] = out_score[j - 1];
                out[j] = out[j - 1];
            }
            out_score[j] = h.s[k];
            out[j] = h.i[k];
        }
    rc = n;
cleanup:
    free(h.s);
    free(h.i);
    free(score);
    free(nscore);
    free(next);
    return rc;
}

/* Greedy maximisation of sum(score) + knob_weight * (distinct knob values
 * covered), a monotone submodular objective (AutoTVM's submodular_pick).
 * Scores are rescaled to [0, 1] over the candidates first, because ranking
 * losses give margins of arbitrary scale. cand is ordered best first, so ties
 * go to the better predicted config. Writes the n_pick picked indices to out
 * in cand's order, best predicted first: the greedy order is that of new
 * knob values, and with a fit every few results only a plan's head is
 * measured (bench_tune replay, 100 seeds: 39.5 trials to 95% of the best
 * instead of 42.2 in the greedy order). */
int dlc__submodular_pick(dlc_tuner_t *t, const int64_t *cand, const float *score, int n_cand, int n_pick,
                         double knob_weight, int64_t *out) {
    int nk = t->n_knobs, rc = 0;
    int64_t *knob = malloc(((size_t)n_cand * (size_t)nk + 1) * sizeof *knob);
    double *s = malloc((size_t)n_cand * sizeof *s);
    char *taken = calloc((size_t)n_cand, 1);
    dlc__imap_t covered = {0}; /* key: value * nk + knob */
    if (!knob || !s || !taken || dlc__imap_init(&covered, (int64_t)n_pick * nk) < 0) {
        rc = dlc_error(DLC_ENOMEM, "tuner: diversity pick of %d", n_cand);
        goto cleanup;
    }
    float lo = score[0], hi = score[0];
    for (int c = 0; c < n_cand; c++) {
        lo = fminf(lo, score[c]);
        hi = fmaxf(hi, score[c]);
        dlc_space_point2knob(t->sp, cand[c], knob + (int64_t)c * nk);
    }
    for (int c = 0; c < n_cand; c++) s[c] = hi > lo ? (score[c] - lo) / (hi - lo) : 0;
    for (int p = 0; p < n_pick && p < n_cand; p++) {
        int best = -1;
        double best_v = -INFINITY;
        for (int c = 0; c < n_cand; c++) {
            if (taken[c]) continue;
            double v = s[c];
            for (int k = 0; k < nk; k++)
                if (!dlc__imap_find(&covered, knob[(int64_t)c * nk + k] * nk + k)) v += knob_weight;
            if (v > best_v) {
                best_v = v;
                best = c;
            }
        }
        taken[best] = 1;
        for (int k = 0; k < nk; k++)
            if ((rc = dlc__imap_put(&covered, knob[(int64_t)best * nk + k] * nk + k, 1)) < 0) goto cleanup;
    }
    for (int c = 0, p = 0; c < n_cand; c++)
        if (taken[c]) out[p++] = cand[c];
cleanup:
    free(knob);
    free(s);
    free(taken);
    if (covered.keys) dlc__imap_free(&covered);
    return rc;
}
