/* search_ga.c — the genetic tuner, after AutoTVM's GATuner: a gene is the
 * vector of knob choices; each generation keeps elites, picks parents in
 * proportion to their throughput, crosses them at a knob and mutates each
 * knob with mutation_prob. Unlike AutoTVM, a child that was already visited is
 * drawn again (then replaced by a random unvisited index), so no index is
 * proposed twice, and a generation is bred from the results that arrived
 * (results are matched by index, so a driver may report in any order). */
#include <math.h>
#include <stdlib.h>

#include "tuner/search_impl.h"

#define CHILD_TRIES 64 /* draws of one child before falling back to random */

typedef struct {
    int pop;              /* genes per generation: min(pop_size, space size) */
    int64_t *gen;         /* this generation's indices */
    double *gen_score;    /* NaN until reported */
    int gen_n, pt;        /* genes, and the next one to propose */
    int64_t *elite;       /* the best genes so far, carried into breeding */
    double *elite_score;
    int elite_n;
    int64_t *pool;        /* breeding pool: scored genes + elites */
    double *weight;       /* selection weight per pool entry */
    int64_t *a, *b;       /* knob choices of the parents; a becomes the child */
} ga_t;

static void ga_destroy(dlc_tuner_t *t) {
    ga_t *g = t->impl;
    free(g->gen);
    free(g->gen_score);
    free(g->elite);
    free(g->elite_score);
    free(g->pool);
    free(g->weight);
    free(g->a);
    free(g->b);
    free(g);
    t->impl = NULL;
}

int dlc__ga_init(dlc_tuner_t *t) {
    ga_t *g = calloc(1, sizeof *g);
    if (!g) return dlc_error(DLC_ENOMEM, "tuner ga: out of memory");
    t->impl = g;
    g->pop = t->size < t->o.pop_size ? (int)t->size : t->o.pop_size;
    size_t np = (size_t)g->pop, ne = (size_t)t->o.elite_num + 1, nk = (size_t)t->n_knobs + 1;
    g->gen = malloc(np * sizeof *g->gen);
    g->gen_score = malloc(np * sizeof *g->gen_score);
    g->elite = malloc(ne * sizeof *g->elite);
    g->elite_score = malloc(ne * sizeof *g->elite_score);
    g->pool = malloc((np + ne) * sizeof *g->pool);
    g->weight = malloc((np + ne) * sizeof *g->weight);
    g->a = malloc(nk * sizeof *g->a);
    g->b = malloc(nk * sizeof *g->b);
    if (!g->gen || !g->gen_score || !g->elite || !g->elite_score || !g->pool || !g->weight || !g->a || !g->b)
        return dlc_error(DLC_ENOMEM, "tuner ga: out of memory");
    return 0;
}

static int in_gen(const ga_t *g, int64_t index) {
    for (int i = 0; i < g->gen_n; i++)
        if (g->gen[i] == index) return 1;
    return 0;
}

/* Roulette over pool weights, leaving out entry `skip` (-1: none). */
static int roulette(dlc_tuner_t *t, const ga_t *g, int n, int skip) {
    double total = 0;
    for (int i = 0; i < n; i++)
        if (i != skip) total += g->weight[i];
    double r = dlc__tuner_rand01(t) * total;
    int last = -1;
    for (int i = 0; i < n; i++) {
        if (i == skip) continue;
        last = i;
        if ((r -= g->weight[i]) < 0) return i;
    }
    return last; /* rounding left r just above zero */
}

/* Keeps the elite_num best of the pool as elites (a partial selection sort). */
static void keep_elites(dlc_tuner_t *t, ga_t *g, int n, const double *score) {
    int want = t->o.elite_num < n ? t->o.elite_num : n;
    char taken[n];
    for (int i = 0; i < n; i++) taken[i] = 0;
    g->elite_n = 0;
    for (int e = 0; e < want; e++) {
        int best = -1;
        for (int i = 0; i < n; i++)
            if (!taken[i] && (best < 0 || score[i] > score[best])) best = i;
        taken[best] = 1;
        g->elite[g->elite_n] = g->pool[best];
        g->elite_score[g->elite_n++] = score[best];
    }
}

/* One child by crossover and mutation; 1 and *out if it is new, else 0. */
static int breed(dlc_tuner_t *t, ga_t *g, int n_pool, int64_t *out) {
    int p1 = roulette(t, g, n_pool, -1), p2 = roulette(t, g, n_pool, p1);
    dlc_space_point2knob(t->sp, g->pool[p1], g->a);
    dlc_space_point2knob(t->sp, g->pool[p2], g->b);
    int point = (int)dlc__tuner_rand_below(t, t->n_knobs);
    for (int k = point; k < t->n_knobs; k++) g->a[k] = g->b[k];
    for (int k = 0; k < t->n_knobs; k++)
        if (t->dims[k] > 1 && dlc__tuner_rand01(t) < t->o.mutation_prob)
            g->a[k] = dlc__tuner_rand_below(t, t->dims[k]);
    int64_t idx;
    if (dlc_space_knob2point(t->sp, g->a, &idx) < 0) return 0;
    if (dlc__tuner_seen(t, idx) || in_gen(g, idx)) return 0;
    *out = idx;
    return 1;
}

static int next_generation(dlc_tuner_t *t, ga_t *g) {
    int n_pool = 0;
    double score[g->pop + t->o.elite_num + 1];
    for (int i = 0; i < g->gen_n; i++)
        if (!isnan(g->gen_score[i])) {
            g->pool[n_pool] = g->gen[i];
            score[n_pool++] = g->gen_score[i];
        }
    for (int i = 0; i < g->elite_n; i++) {
        g->pool[n_pool] = g->elite[i];
        score[n_pool++] = g->elite_score[i];
    }
    int64_t left = t->size - t->n_visited - t->n_invalid;
    int evolve = n_pool >= 2 && left > g->pop; /* else breeding has nothing to gain over random */
    if (evolve) {
        keep_elites(t, g, n_pool, score);
        double mx = 0;
        for (int i = 0; i < n_pool; i++) mx = score[i] > mx ? score[i] : mx;
        /* AutoTVM's (score + 1e-8) / max: failed genes keep a sliver of a chance. */
        for (int i = 0; i < n_pool; i++) g->weight[i] = (score[i] + 1e-8) / (mx + 1e-8);
    }
    g->gen_n = g->pt = 0;
    while (g->gen_n < g->pop && g->gen_n < left) { /* genes are unmarked and distinct: at most `left` */
        int64_t idx = -1;
        for (int k = 0; evolve && k < CHILD_TRIES && idx < 0; k++)
            if (!breed(t, g, n_pool, &idx)) idx = -1;
        if (idx < 0) {
            /* Random fill: the sampler never repeats, and in_gen guards
             * against a child bred earlier in this generation. */
            do {
                int rc = dlc__tuner_draw_unseen(t, &idx);
                if (rc < 0) return rc == DLC_ENOTFOUND ? 0 : rc; /* not found: the space is used up */
            } while (in_gen(g, idx));
        }
        g->gen[g->gen_n] = idx;
        g->gen_score[g->gen_n++] = NAN;
    }
    return 0;
}

static int ga_next(dlc_tuner_t *t, int64_t *out, int max) {
    ga_t *g = t->impl;
    int n = 0;
    while (n < max) {
        if (g->pt >= g->gen_n) {
            int rc = next_generation(t, g);
            if (rc < 0) return rc;
            if (g->gen_n == 0) break;
        }
        int64_t idx = g->gen[g->pt++];
        int rc = dlc__tuner_take(t, idx);
        if (rc < 0) return rc;
        if (rc) out[n++] = idx; /* 0: reported meanwhile (a resumed run) */
    }
    return n;
}

static int ga_update(dlc_tuner_t *t, const int64_t *index, const double *score, int n) {
    ga_t *g = t->impl;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < g->gen_n; j++)
            if (g->gen[j] == index[i]) g->gen_score[j] = score[i];
    return 0;
}

const dlc__tuner_ops_t dlc__ga_ops = {.next_batch = ga_next, .update = ga_update, .destroy = ga_destroy};
