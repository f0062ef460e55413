/* test_tuners.c — the search algorithms on synthetic spaces whose throughput
 * is a known function of the knobs with one best config: every tuner finds
 * it, none proposes an index twice, results of unproposed indices count as
 * visited, small spaces run dry, XGB beats random, never proposes a config
 * its feature callback rejects, and starts better with history. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tuner/dlc_tuner.h"

/* ---- synthetic tasks ---- */

/* Throughput = scale * exp(-penalty) * knob factors. The penalty is a sum of
 * squares of log2 split factors around targets (with one coupled term, as
 * register tiles interact), so it is smooth and unimodal; the factor tables
 * each have one best entry, so the optimum is unique. */
typedef struct {
    double t_in, t_mid, t_b, t_c; /* log2 targets: tile_a inner / middle, tile_b inner, tile_c inner */
    double unroll_f[4];           /* for unroll 0, 16, 64, 512 */
    double vec_f[2];
    double order_f[6];            /* per permutation, lexicographic */
    double scale;                 /* GFLOP/s at the optimum */
} task_t;

static const task_t TASK = {3, 1, 4, 2.585, {0.80, 0.93, 1.0, 0.96}, {0.88, 1.0}, {0.90, 0.85, 0.94, 1.0, 0.80, 0.82}, 100};
/* A similar task (another shape): optimum moved by one step in two splits
 * and in unroll, slower overall. */
static const task_t TASK_SHIFTED = {2, 1, 5, 2.585, {0.80, 0.90, 0.96, 1.0}, {0.88, 1.0}, {0.90, 0.85, 0.94, 1.0, 0.80, 0.82}, 40};

static double sq(double x) { return x * x; }

static double perf(const dlc_config_t *cfg, const task_t *tk) {
    int64_t s[3];
    int n = 0;
    double pen = 0;
    assert_non_null(dlc_config_split(cfg, "tile_a", &n));
    assert_int_equal(dlc_config_split_resolved(cfg, "tile_a", s), 0);
    double la = log2((double)s[n - 1]);
    pen += 0.03 * sq(la - tk->t_in);
    if (n == 3) pen += 0.03 * sq(log2((double)s[1]) - tk->t_mid);
    if (dlc_config_split_resolved(cfg, "tile_b", s) == 0) {
        double lb = log2((double)s[1]);
        pen += 0.03 * sq(lb - tk->t_b) + 0.02 * sq(la + lb - tk->t_in - tk->t_b);
    }
    assert_int_equal(dlc_config_split_resolved(cfg, "tile_c", s), 0);
    pen += 0.05 * sq(log2((double)s[1]) - tk->t_c);
    double f = tk->scale * exp(-pen);
    int64_t u;
    assert_int_equal(dlc_config_knob_int(cfg, "unroll", &u), 0);
    f *= tk->unroll_f[u == 0 ? 0 : u == 16 ? 1 : u == 64 ? 2 : 3];
    int v;
    assert_int_equal(dlc_config_knob_bool(cfg, "vec", &v), 0);
    f *= tk->vec_f[v];
    const int *p = dlc_config_reorder(cfg, "order", &n);
    if (p) {
        static const int perms[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
        for (int i = 0; i < 6; i++)
            if (!memcmp(p, perms[i], sizeof perms[i])) f *= tk->order_f[i];
    }
    return f;
}

/* ~250 configs. */
static dlc_space_t *small_space(void) {
    static const int64_t unroll[] = {0, 16, 64};
    static const int vec[] = {0, 1};
    dlc_space_t *sp = dlc_space_new();
    assert_int_equal(dlc_space_define_split(sp, "tile_a", 64, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL), 0);
    assert_int_equal(dlc_space_define_split(sp, "tile_c", 12, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL), 0);
    assert_int_equal(dlc_space_define_knob_int(sp, "unroll", unroll, 3), 0);
    assert_int_equal(dlc_space_define_knob_bool(sp, "vec", vec, 2), 0);
    return sp;
}

/* ~97k configs. */
static dlc_space_t *big_space(void) {
    static const int64_t unroll[] = {0, 16, 64, 512};
    static const int vec[] = {0, 1};
    dlc_space_t *sp = dlc_space_new();
    assert_int_equal(dlc_space_define_split(sp, "tile_a", 128, DLC_SPLIT_FACTORS, 3, 0, NULL, NULL), 0);
    assert_int_equal(dlc_space_define_split(sp, "tile_b", 64, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL), 0);
    assert_int_equal(dlc_space_define_split(sp, "tile_c", 24, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL), 0);
    assert_int_equal(dlc_space_define_reorder(sp, "order", 3, DLC_REORDER_ALL), 0);
    assert_int_equal(dlc_space_define_knob_int(sp, "unroll", unroll, 4), 0);
    assert_int_equal(dlc_space_define_knob_bool(sp, "vec", vec, 2), 0);
    return sp;
}

/* A space with every config's throughput, and which ones the "template"
 * rejects (the feature callback says DLC_EINSTANTIATE). */
typedef struct {
    dlc_space_t *sp;
    int64_t size;
    double *y;     /* throughput per index; 0 for invalid */
    char *invalid; /* NULL: all valid */
    int64_t best;  /* the best valid index */
    double best_y;
    int nf;
    int64_t feature_calls;
} world_t;

/* Rejects configs whose inner tiles of tile_a and tile_b (tile_c in the
 * small space) multiply beyond 128. */
static int too_big(const dlc_config_t *cfg) {
    int64_t a[3], b[2];
    int n;
    dlc_config_split(cfg, "tile_a", &n);
    dlc_config_split_resolved(cfg, "tile_a", a);
    if (dlc_config_split_resolved(cfg, "tile_b", b) < 0) dlc_config_split_resolved(cfg, "tile_c", b);
    return a[n - 1] * b[1] > 128;
}

static void world_init(world_t *w, dlc_space_t *sp, const task_t *tk, int with_invalid) {
    memset(w, 0, sizeof *w);
    w->sp = sp;
    w->size = dlc_space_size(sp);
    w->nf = dlc_space_feature_len(sp);
    w->y = calloc((size_t)w->size, sizeof *w->y);
    if (with_invalid) w->invalid = calloc((size_t)w->size, 1);
    double second = 0;
    w->best = -1;
    for (int64_t i = 0; i < w->size; i++) {
        dlc_config_t *cfg;
        assert_int_equal(dlc_space_get(sp, i, &cfg), 0);
        if (w->invalid && too_big(cfg)) w->invalid[i] = 1;
        else w->y[i] = perf(cfg, tk);
        dlc_config_destroy(&cfg);
        if (w->y[i] > w->best_y) {
            second = w->best_y;
            w->best_y = w->y[i];
            w->best = i;
        } else if (w->y[i] > second) {
            second = w->y[i];
        }
    }
    assert_true(w->best > 0 && second < w->best_y); /* one optimum, not at index 0 */
}

static void world_free(world_t *w) {
    free(w->y);
    free(w->invalid);
}

/* Counts configs within `frac` of the optimum. */
static int64_t count_above(const world_t *w, double frac) {
    int64_t n = 0;
    for (int64_t i = 0; i < w->size; i++) n += w->y[i] >= frac * w->best_y;
    return n;
}

/* Knob features computed live, as the driver does for DLC_FEATURE_KNOB. */
static int features(int64_t index, float *out, void *user) {
    world_t *w = user;
    w->feature_calls++;
    if (w->invalid && w->invalid[index]) return DLC_EINSTANTIATE;
    dlc_config_t *cfg;
    int rc = dlc_space_get(w->sp, index, &cfg);
    if (rc < 0) return rc;
    memset(out, 0, (size_t)w->nf * sizeof *out); /* the knob-less space has no features at all */
    dlc_config_features(cfg, out, w->nf);
    dlc_config_destroy(&cfg);
    return 0;
}

static void opts(dlc_tuner_opts_t *o, dlc_tuner_kind_t kind, world_t *w, uint64_t seed) {
    dlc_tuner_opts_default(o, kind);
    o->seed = seed;
    o->n_features = w->nf;
    o->features = features;
    o->feature_user = w;
}

/* ---- the tuning loop ---- */

typedef struct {
    int64_t trials;
    int64_t to95, to99, to_best; /* trials when 95% / 99% / the optimum was first reached; -1: never */
    double best;
    double seconds;
} outcome_t;

/* Runs t for up to `budget` trials in batches, checking that no index comes
 * twice and none is invalid. `proposed` (size bytes, zeroed by the caller,
 * may hold 1s for indices reported beforehand) records the proposals. */
static outcome_t run(world_t *w, dlc_tuner_t *t, int64_t budget, int batch, char *proposed) {
    outcome_t r = {0, -1, -1, -1, 0, 0};
    int64_t idx[128];
    double y[128];
    double t0 = (double)clock() / CLOCKS_PER_SEC;
    while (r.trials < budget && dlc_tuner_has_next(t)) {
        int want = budget - r.trials < batch ? (int)(budget - r.trials) : batch;
        int n = dlc_tuner_next_batch(t, idx, want);
        if (n < 0) fprintf(stderr, "next_batch: %s\n", dlc_last_error());
        assert_true(n > 0);
        for (int i = 0; i < n; i++) {
            assert_true(idx[i] >= 0 && idx[i] < w->size);
            if (proposed[idx[i]]) fprintf(stderr, "index %lld proposed twice\n", (long long)idx[i]);
            assert_false(proposed[idx[i]]);
            proposed[idx[i]] = 1;
            assert_false(w->invalid && w->invalid[idx[i]]);
            y[i] = w->y[idx[i]];
            r.trials++;
            if (y[i] > r.best) r.best = y[i];
            if (r.to95 < 0 && r.best >= 0.95 * w->best_y) r.to95 = r.trials;
            if (r.to99 < 0 && r.best >= 0.99 * w->best_y) r.to99 = r.trials;
            if (r.to_best < 0 && idx[i] == w->best) r.to_best = r.trials;
        }
        assert_int_equal(dlc_tuner_update(t, idx, y, n), 0);
    }
    r.seconds = (double)clock() / CLOCKS_PER_SEC - t0;
    return r;
}

/* ---- names, options ---- */

static void test_names_and_options(void **state) {
    for (int k = 0; k < DLC_TUNER_KIND_COUNT; k++)
        assert_int_equal(dlc_tuner_kind_parse(dlc_tuner_kind_name((dlc_tuner_kind_t)k)), k);
    assert_string_equal(dlc_tuner_kind_name(DLC_TUNER_XGB), "xgb");
    assert_string_equal(dlc_tuner_kind_name(DLC_TUNER_KIND_COUNT), "?");
    assert_int_equal(dlc_tuner_kind_parse("simulated"), -1);
    dlc_tuner_opts_t o;
    dlc_tuner_opts_default(&o, DLC_TUNER_XGB);
    assert_int_equal(o.plan_size, 64);
    assert_int_equal(o.sa_parallel, 128);
    assert_int_equal(o.pop_size, 100);

    dlc_space_t *sp = small_space();
    dlc_tuner_opts_default(&o, DLC_TUNER_XGB); /* no feature callback */
    dlc_clear_error();
    assert_null(dlc_tuner_new(sp, &o));
    assert_int_equal(dlc_last_status(), DLC_EINVAL);
    assert_non_null(strstr(dlc_last_error(), "feature"));
    dlc_tuner_opts_default(&o, DLC_TUNER_GA);
    o.elite_num = 200;
    assert_null(dlc_tuner_new(sp, &o));
    assert_int_equal(dlc_last_status(), DLC_EINVAL);
    o.kind = (dlc_tuner_kind_t)99;
    assert_null(dlc_tuner_new(sp, &o));

    /* bad updates change nothing */
    dlc_tuner_opts_default(&o, DLC_TUNER_RANDOM);
    dlc_tuner_t *t = dlc_tuner_new(sp, &o);
    assert_non_null(t);
    int64_t idx[2] = {3, dlc_space_size(sp)};
    double y[2] = {1, 1};
    assert_int_equal(dlc_tuner_update(t, idx, y, 2), DLC_EINVAL);
    idx[1] = 4;
    y[1] = NAN;
    assert_int_equal(dlc_tuner_update(t, idx, y, 2), DLC_EINVAL);
    assert_int_equal(dlc_tuner_visited(t), 0);
    assert_int_equal(dlc_tuner_best(t, NULL, NULL), DLC_ENOTFOUND);
    assert_null(dlc_tuner_model(t));
    assert_int_equal(dlc_tuner_add_history(t, NULL, NULL, 0, NULL, 0), 0); /* ignored */
    dlc_tuner_destroy(&t);
    dlc_tuner_destroy(&t);
    assert_null(t);
    dlc_space_destroy(&sp);
}

/* ---- small space: every kind finds the optimum and runs dry ---- */

static void test_small_space_exhausted(void **state) {
    dlc_space_t *sp = small_space();
    world_t w;
    world_init(&w, sp, &TASK, 0);
    for (int k = 0; k < DLC_TUNER_KIND_COUNT; k++) {
        dlc_tuner_opts_t o;
        opts(&o, (dlc_tuner_kind_t)k, &w, 7);
        o.plan_size = 16; /* several fits within 250 configs */
        o.pop_size = 20;
        dlc_tuner_t *t = dlc_tuner_new(sp, &o);
        assert_non_null(t);
        char *proposed = calloc((size_t)w.size, 1);
        outcome_t r = run(&w, t, w.size, 24, proposed);
        printf("small space (%lld): %-6s optimum after %lld trials\n", (long long)w.size,
               dlc_tuner_kind_name((dlc_tuner_kind_t)k), (long long)r.to_best);
        assert_int_equal(r.trials, w.size); /* every config once */
        assert_true(r.to_best > 0);
        assert_false(dlc_tuner_has_next(t));
        int64_t idx[4];
        assert_int_equal(dlc_tuner_next_batch(t, idx, 4), 0);
        assert_int_equal(dlc_tuner_visited(t), w.size);
        int64_t bi;
        double by;
        assert_int_equal(dlc_tuner_best(t, &bi, &by), 0);
        assert_int_equal(bi, w.best);
        assert_true(by == w.best_y);
        dlc_tuner_destroy(&t);
        free(proposed);
    }
    world_free(&w);

    /* XGB with configs its callback rejects: the valid ones, each once */
    world_init(&w, sp, &TASK, 1);
    int64_t n_invalid = 0;
    for (int64_t i = 0; i < w.size; i++) n_invalid += w.invalid[i];
    dlc_tuner_opts_t o;
    opts(&o, DLC_TUNER_XGB, &w, 7);
    o.plan_size = 16;
    dlc_tuner_t *t = dlc_tuner_new(sp, &o);
    char *proposed = calloc((size_t)w.size, 1);
    outcome_t r = run(&w, t, w.size, 24, proposed);
    dlc_tuner_stats_t st;
    dlc_tuner_stats(t, &st);
    printf("small space, %lld invalid: xgb proposed %lld, optimum after %lld trials\n", (long long)n_invalid,
           (long long)r.trials, (long long)r.to_best);
    assert_true(n_invalid > 0);
    assert_int_equal(r.trials, w.size - n_invalid);
    assert_int_equal(st.invalid, n_invalid);
    assert_true(r.to_best > 0);
    assert_false(dlc_tuner_has_next(t));
    assert_int_equal(dlc_tuner_visited(t), w.size - n_invalid);
    dlc_tuner_destroy(&t);
    free(proposed);
    world_free(&w);
    dlc_space_destroy(&sp);
}

static void test_grid_order(void **state) {
    dlc_space_t *sp = small_space();
    dlc_tuner_opts_t o;
    dlc_tuner_opts_default(&o, DLC_TUNER_GRID);
    dlc_tuner_t *t = dlc_tuner_new(sp, &o);
    int64_t rep[2] = {1, 3}, idx[8];
    double y[2] = {0, 5};
    assert_int_equal(dlc_tuner_update(t, rep, y, 2), 0);
    assert_int_equal(dlc_tuner_next_batch(t, idx, 5), 5);
    static const int64_t want[] = {0, 2, 4, 5, 6};
    assert_memory_equal(idx, want, sizeof want);
    dlc_tuner_destroy(&t);
    dlc_space_destroy(&sp);
}

/* A space of one config (no knobs): each kind proposes it once. */
static void test_single_config(void **state) {
    dlc_space_t *sp = dlc_space_new();
    world_t w = {.sp = sp, .size = 1, .nf = 1};
    for (int k = 0; k < DLC_TUNER_KIND_COUNT; k++) {
        dlc_tuner_opts_t o;
        opts(&o, (dlc_tuner_kind_t)k, &w, 1);
        dlc_tuner_t *t = dlc_tuner_new(sp, &o);
        assert_non_null(t);
        int64_t idx[4];
        double y = 2.5;
        assert_true(dlc_tuner_has_next(t));
        assert_int_equal(dlc_tuner_next_batch(t, idx, 4), 1);
        assert_int_equal(idx[0], 0);
        assert_int_equal(dlc_tuner_update(t, idx, &y, 1), 0);
        assert_false(dlc_tuner_has_next(t));
        assert_int_equal(dlc_tuner_next_batch(t, idx, 4), 0);
        dlc_tuner_destroy(&t);
    }
    dlc_space_destroy(&sp);
}

/* Results of a resumed run: indices never proposed are visited and are not
 * proposed later, whatever the kind. */
static void test_update_unproposed(void **state) {
    dlc_space_t *sp = small_space();
    world_t w;
    world_init(&w, sp, &TASK, 0);
    int64_t rep[20];
    double y[20];
    for (int i = 0; i < 20; i++) {
        rep[i] = (i * 37 + 11) % w.size;
        y[i] = w.y[rep[i]];
    }
    for (int k = 0; k < DLC_TUNER_KIND_COUNT; k++) {
        dlc_tuner_opts_t o;
        opts(&o, (dlc_tuner_kind_t)k, &w, 3);
        o.plan_size = 16;
        o.pop_size = 20;
        dlc_tuner_t *t = dlc_tuner_new(sp, &o);
        assert_int_equal(dlc_tuner_update(t, rep, y, 20), 0);
        assert_int_equal(dlc_tuner_visited(t), 20);
        char *proposed = calloc((size_t)w.size, 1);
        for (int i = 0; i < 20; i++) proposed[rep[i]] = 1; /* run() fails on any of them */
        outcome_t r = run(&w, t, w.size, 16, proposed);
        assert_int_equal(r.trials, w.size - 20);
        assert_false(dlc_tuner_has_next(t));
        dlc_tuner_destroy(&t);
        free(proposed);
    }
    world_free(&w);
    dlc_space_destroy(&sp);
}

/* Several batches before any result (a pipelined driver), then all results:
 * still no repeats. */
static void test_pipelined_batches(void **state) {
    dlc_space_t *sp = big_space();
    world_t w;
    world_init(&w, sp, &TASK, 0);
    for (int k = 0; k < DLC_TUNER_KIND_COUNT; k++) {
        dlc_tuner_opts_t o;
        opts(&o, (dlc_tuner_kind_t)k, &w, 5);
        dlc_tuner_t *t = dlc_tuner_new(sp, &o);
        char *proposed = calloc((size_t)w.size, 1);
        int64_t idx[400];
        double y[400];
        for (int round = 0; round < 2; round++) {
            int n = 0;
            for (int b = 0; b < 5; b++) {
                int got = dlc_tuner_next_batch(t, idx + n, 80);
                assert_int_equal(got, 80);
                n += got;
            }
            for (int i = 0; i < n; i++) {
                assert_false(proposed[idx[i]]);
                proposed[idx[i]] = 1;
                y[i] = w.y[idx[i]];
            }
            assert_int_equal(dlc_tuner_update(t, idx, y, n), 0);
        }
        assert_int_equal(dlc_tuner_visited(t), 800);
        dlc_tuner_destroy(&t);
        free(proposed);
    }
    world_free(&w);
    dlc_space_destroy(&sp);
}

/* ---- big space: GA and XGB find the optimum early; XGB beats random ---- */

#define N_SEEDS 3
/* Trials each may take to reach 99% of the optimum: over seeds 1..20 the
 * worst were 165 (XGB) and 3228 (GA); random needs ~10^4. */
#define XGB_BUDGET 300
#define GA_BUDGET 5000

/* The XGB tuner's fits over 400 results in batches of 16: dlc's cadence
 * (first at 16, then every 16 or a quarter of the results, at most 64
 * apart: 16 32 48 64 80 112 144 192 240 304 368), as the results double
 * (16 32 64 128 192 256 320 384), and AutoTVM's (every plan of 64). */
static void test_xgb_fit_cadence(void **state) {
    (void)state;
    dlc_space_t *sp = big_space();
    world_t w;
    world_init(&w, sp, &TASK, 0);
    static const struct {
        int first_fit, fit_every, fits;
    } c[] = {{16, 16, 11}, {16, 0, 8}, {64, 64, 6}};
    for (size_t i = 0; i < sizeof c / sizeof *c; i++) {
        dlc_tuner_opts_t o;
        opts(&o, DLC_TUNER_XGB, &w, 3);
        o.first_fit = c[i].first_fit;
        o.fit_every = c[i].fit_every;
        dlc_tuner_t *t = dlc_tuner_new(sp, &o);
        assert_non_null(t);
        char *proposed = calloc((size_t)w.size, 1);
        outcome_t r = run(&w, t, 400, 16, proposed);
        dlc_tuner_stats_t st;
        dlc_tuner_stats(t, &st);
        assert_int_equal(r.trials, 400);
        if (st.fits != c[i].fits)
            fail_msg("first_fit %d, fit_every %d: %d fits, expected %d", c[i].first_fit, c[i].fit_every, st.fits,
                     c[i].fits);
        dlc_tuner_destroy(&t);
        free(proposed);
    }
    dlc_tuner_opts_t o;
    opts(&o, DLC_TUNER_XGB, &w, 3);
    o.fit_every = -1;
    assert_null(dlc_tuner_new(sp, &o));
    world_free(&w);
    dlc_space_destroy(&sp);
}

/* After a fit the plan is handed out best predicted first (only its head is
 * measured before the next fit), and the epsilon share is spread through it
 * rather than left at its tail, which a fit every 16 results never reaches. */
static void test_xgb_plan_order(void **state) {
    (void)state;
    dlc_space_t *sp = big_space();
    world_t w;
    world_init(&w, sp, &TASK, 0);
    for (int eps = 0; eps <= 1; eps++) {
        dlc_tuner_opts_t o;
        opts(&o, DLC_TUNER_XGB, &w, 11);
        o.epsilon = eps ? 0.25 : 0; /* 16 of each plan of 64 */
        dlc_tuner_t *t = dlc_tuner_new(sp, &o);
        assert_non_null(t);
        char *proposed = calloc((size_t)w.size, 1);
        run(&w, t, 16, 16, proposed); /* random, then the first fit */
        dlc_costmodel_t *m = dlc_tuner_model(t);
        assert_non_null(m);
        int64_t idx[16];
        assert_int_equal(dlc_tuner_next_batch(t, idx, 16), 16);
        float X[16 * 64], pred[16];
        assert_true(w.nf <= 64);
        for (int i = 0; i < 16; i++) assert_int_equal(features(idx[i], X + i * w.nf, &w), 0);
        assert_int_equal(dlc_costmodel_predict(m, X, 16, pred), 0);
        dlc_tuner_stats_t st;
        dlc_tuner_stats(t, &st);
        if (!eps) {
            for (int i = 1; i < 16; i++)
                if (pred[i] > pred[i - 1]) fail_msg("proposal %d predicted %g after %g", i, pred[i], pred[i - 1]);
            assert_int_equal(st.explored, 0);
        } else {
            assert_int_equal(st.explored, 4); /* one in every 4 of the plan's head */
        }
        dlc_tuner_destroy(&t);
        free(proposed);
    }
    world_free(&w);
    dlc_space_destroy(&sp);
}

static void test_big_space_search(void **state) {
    dlc_space_t *sp = big_space();
    world_t w;
    world_init(&w, sp, &TASK, 0);
    printf("big space: %lld configs, optimum %.2f at %lld, %lld within 5%%, %lld within 1%%\n", (long long)w.size,
           w.best_y, (long long)w.best, (long long)count_above(&w, 0.95), (long long)count_above(&w, 0.99));
    /* DLC_TUNER_TEST_SEEDS=n runs more seeds (to choose budgets). */
    const char *env = getenv("DLC_TUNER_TEST_SEEDS");
    int n_seeds = env && atoi(env) > 0 ? atoi(env) : N_SEEDS;
    double sum95[DLC_TUNER_KIND_COUNT] = {0};
    char *proposed = malloc((size_t)w.size);
    for (uint64_t seed = 1; seed <= (uint64_t)n_seeds; seed++) {
        static const dlc_tuner_kind_t kinds[] = {DLC_TUNER_RANDOM, DLC_TUNER_GA, DLC_TUNER_XGB};
        for (int ki = 0; ki < 3; ki++) {
            dlc_tuner_kind_t k = kinds[ki];
            dlc_tuner_opts_t o;
            opts(&o, k, &w, seed);
            dlc_tuner_t *t = dlc_tuner_new(sp, &o);
            assert_non_null(t);
            memset(proposed, 0, (size_t)w.size);
            int64_t budget = k == DLC_TUNER_XGB ? XGB_BUDGET : k == DLC_TUNER_GA ? GA_BUDGET : w.size;
            w.feature_calls = 0;
            outcome_t r = run(&w, t, budget, 16, proposed);
            dlc_tuner_stats_t st;
            dlc_tuner_stats(t, &st);
            printf("seed %llu %-6s: 95%% after %5lld, 99%% after %5lld, optimum after %5lld trials (best %.2f), "
                   "%.2f s",
                   (unsigned long long)seed, dlc_tuner_kind_name(k), (long long)r.to95, (long long)r.to99,
                   (long long)r.to_best, r.best, r.seconds);
            if (k == DLC_TUNER_XGB)
                printf("; %d fits %.2f s, %d plans %.2f s, %lld scored (%.0f/s), %lld feature calls", st.fits,
                       st.fit_s, st.plans, st.plan_s, (long long)st.scored, st.scored / (st.plan_s + 1e-9),
                       (long long)st.feature_calls);
            printf("\n");
            assert_int_equal(st.feature_calls, w.feature_calls);
            if (k == DLC_TUNER_RANDOM) assert_int_equal(r.trials, w.size); /* the whole space, each once */
            assert_true(r.to95 > 0);
            sum95[k] += (double)r.to95;
            if (k == DLC_TUNER_XGB) assert_true(r.to_best > 0); /* the optimum itself, within XGB_BUDGET */
            if (k == DLC_TUNER_GA) assert_true(r.to99 > 0 && r.to99 <= GA_BUDGET);
            dlc_tuner_destroy(&t);
        }
    }
    printf("mean trials to 95%%: random %.0f, ga %.0f, xgb %.0f\n", sum95[DLC_TUNER_RANDOM] / n_seeds,
           sum95[DLC_TUNER_GA] / n_seeds, sum95[DLC_TUNER_XGB] / n_seeds);
    assert_true(sum95[DLC_TUNER_XGB] <= 0.25 * sum95[DLC_TUNER_RANDOM]);
    free(proposed);
    world_free(&w);
    dlc_space_destroy(&sp);
}

/* ---- XGB: invalid configs, history ---- */

static void test_xgb_invalid_never_proposed(void **state) {
    dlc_space_t *sp = big_space();
    world_t w;
    world_init(&w, sp, &TASK, 1);
    int64_t n_invalid = 0;
    for (int64_t i = 0; i < w.size; i++) n_invalid += w.invalid[i];
    dlc_tuner_opts_t o;
    opts(&o, DLC_TUNER_XGB, &w, 11);
    dlc_tuner_t *t = dlc_tuner_new(sp, &o);
    char *proposed = calloc((size_t)w.size, 1);
    outcome_t r = run(&w, t, XGB_BUDGET, 64, proposed); /* asserts no invalid index comes */
    dlc_tuner_stats_t st;
    dlc_tuner_stats(t, &st);
    printf("invalid: %lld of %lld configs rejected; the tuner met %lld, reached 99%% of the best valid after %lld "
           "trials\n",
           (long long)n_invalid, (long long)w.size, (long long)st.invalid, (long long)r.to99);
    assert_true(st.invalid > 0);
    assert_true(r.to99 > 0);
    assert_true(dlc_tuner_visited(t) == r.trials);
    dlc_tuner_destroy(&t);
    free(proposed);
    world_free(&w);
    dlc_space_destroy(&sp);
}

static void test_xgb_history(void **state) {
    dlc_space_t *sp = big_space();
    world_t w, hist;
    world_init(&w, sp, &TASK, 0);
    world_init(&hist, sp, &TASK_SHIFTED, 0);
    /* 500 random records of the other task, as the db would give them */
    enum { NH = 500 };
    float *X = malloc((size_t)NH * (size_t)w.nf * sizeof *X), y[NH];
    uint64_t rng = 99;
    for (int i = 0; i < NH; i++) {
        int64_t idx = (int64_t)(dlc_space_rand64(&rng) % (uint64_t)w.size);
        assert_int_equal(features(idx, X + (int64_t)i * w.nf, &hist), 0);
        y[i] = (float)hist.y[idx];
    }
    double mean_first[2] = {0, 0}, max_first[2] = {0, 0};
    for (uint64_t seed = 1; seed <= N_SEEDS; seed++) {
        for (int with = 0; with < 2; with++) {
            dlc_tuner_opts_t o;
            opts(&o, DLC_TUNER_XGB, &w, seed);
            dlc_tuner_t *t = dlc_tuner_new(sp, &o);
            if (with) {
                int groups[2] = {200, 300};
                assert_int_equal(dlc_tuner_add_history(t, X, y, NH, groups, 2), 0);
                assert_non_null(dlc_tuner_model(t));
            } else {
                assert_null(dlc_tuner_model(t));
            }
            int64_t idx[64];
            assert_int_equal(dlc_tuner_next_batch(t, idx, 64), 64);
            double sum = 0, mx = 0;
            for (int i = 0; i < 64; i++) {
                sum += w.y[idx[i]];
                mx = fmax(mx, w.y[idx[i]]);
            }
            mean_first[with] += sum / 64 / N_SEEDS;
            max_first[with] += mx / N_SEEDS;
            dlc_tuner_destroy(&t);
        }
    }
    printf("first plan: without history mean %.2f best %.2f; with history mean %.2f best %.2f (optimum %.2f)\n",
           mean_first[0], max_first[0], mean_first[1], max_first[1], w.best_y);
    assert_true(mean_first[1] >= 1.3 * mean_first[0]);
    assert_true(max_first[1] > max_first[0]);
    int bad_groups[1] = {NH - 1};
    dlc_tuner_opts_t o;
    opts(&o, DLC_TUNER_XGB, &w, 1);
    dlc_tuner_t *t = dlc_tuner_new(sp, &o);
    assert_int_equal(dlc_tuner_add_history(t, X, y, NH, bad_groups, 1), DLC_EINVAL);
    dlc_tuner_destroy(&t);
    free(X);
    world_free(&w);
    world_free(&hist);
    dlc_space_destroy(&sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_and_options),
        cmocka_unit_test(test_small_space_exhausted),
        cmocka_unit_test(test_grid_order),
        cmocka_unit_test(test_single_config),
        cmocka_unit_test(test_update_unproposed),
        cmocka_unit_test(test_pipelined_batches),
        cmocka_unit_test(test_xgb_fit_cadence),
        cmocka_unit_test(test_xgb_plan_order),
        cmocka_unit_test(test_big_space_search),
        cmocka_unit_test(test_xgb_invalid_never_proposed),
        cmocka_unit_test(test_xgb_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
