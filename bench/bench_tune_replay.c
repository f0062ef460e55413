/* bench_tune_replay.c — tuner efficiency without measurement noise.
 *
 * The live efficiency benchmark measures every proposal, so a tuner's
 * trials-to-95% moves with the machine's noise as much as with its search
 * (README: the same random configs needed 89, then 68 trials). Here each
 * task's whole space is measured once (grid tuner, records in the db, so a
 * rerun resumes), and then the tuners run against that table: a proposal's
 * score is its stored GFLOP/s (0 for a failed config), everything else —
 * features, model fits, annealing, the GA's generations — runs as in
 * dlc-tune. Many seeds then cost seconds, and every tuner meets the same
 * landscape. */
#include "bench_tune_replay.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const dlc_task_t *task;
    int64_t size;
    double *gflops; /* per index; NAN: not measured */
    float *feat[2]; /* itervar, knob: per index, nf[k] floats; valid[i] says whether they exist */
    char *valid;
    int nf[2];
} table_t;

typedef struct {
    const table_t *tb;
    int k;
} feat_user_t;

static int take_record(const dlc_record_t *rec, void *user) {
    table_t *tb = user;
    if (rec->index < 0 || rec->index >= tb->size)
        return 0;
    double mean = 0;
    for (int i = 0; i < rec->n_costs; i++)
        mean += rec->costs[i] / rec->n_costs;
    tb->gflops[rec->index] =
        rec->error_no == 0 && mean > 0 ? dlc_task_flops(tb->task) / mean / 1e9 : 0;
    return 0;
}

static int feat_of(int64_t index, float *out, void *user) {
    const feat_user_t *u = user;
    if (!u->tb->valid[index])
        return DLC_EINSTANTIATE;
    memcpy(out, u->tb->feat[u->k] + index * u->tb->nf[u->k], (size_t)u->tb->nf[u->k] * sizeof *out);
    return 0;
}

/* The trial (1-based) at which the tuner first proposed a config of at
 * least `target` GFLOP/s, or 0 if it did not within `trials`. */
static int64_t run_one(table_t *tb, const replay_variant_t *v, uint64_t seed, int64_t trials, double target) {
    dlc_tuner_opts_t o;
    dlc_tuner_opts_default(&o, v->kind);
    feat_user_t u = {tb, v->knob != 0};
    o.seed = seed;
    o.n_features = tb->nf[u.k];
    o.features = feat_of;
    o.feature_user = &u;
    if (v->first_fit > 0)
        o.first_fit = v->first_fit;
    if (v->fit_every)
        o.fit_every = v->fit_every < 0 ? 0 : v->fit_every;
    dlc_tuner_t *t = dlc_tuner_new(dlc_task_space(tb->task), &o);
    if (!t)
        return -1;
    int64_t done = 0, hit = 0, idx[16];
    double score[16];
    while (done < trials && !hit && dlc_tuner_has_next(t)) {
        int want = trials - done < 16 ? (int)(trials - done) : 16; /* dlc-tune's batch */
        int n = dlc_tuner_next_batch(t, idx, want);
        if (n <= 0)
            break;
        for (int i = 0; i < n; i++) {
            score[i] = isnan(tb->gflops[idx[i]]) ? 0 : tb->gflops[idx[i]];
            if (!hit && score[i] >= target)
                hit = done + i + 1;
        }
        if (dlc_tuner_update(t, idx, score, n) < 0)
            break;
        done += n;
    }
    dlc_tuner_destroy(&t);
    return hit;
}

int bench_replay_task(const char *label, const dlc_task_t *task, dlc_measurer_t *m, dlc_db_t *db, int64_t trials,
                      int first_seed, int seeds, const replay_variant_t *v, int nv, double *sum, int *never,
                      double *tuner_s, double *expected) {
    table_t tb = {.task = task, .size = dlc_space_size(dlc_task_space(task))};
    int rc = -1;
    if (tb.size <= 0 || tb.size > 4096) {
        fprintf(stderr, "bench_tune replay: %s: a space of %lld configs (at most 4096 are measured whole)\n", label,
                (long long)tb.size);
        return -1;
    }
    /* measure the whole space once; a rerun resumes from the db */
    dlc_tune_opts_t to;
    dlc_tune_opts_default(&to);
    to.tuner = DLC_TUNER_GRID;
    to.trials = tb.size;
    to.resume = 1;
    to.db = db;
    dlc_tune_summary_t s;
    if (dlc_tune_task(task, m, &to, &s) < 0) {
        fprintf(stderr, "bench_tune replay: %s: %s\n", label, dlc_last_error());
        return -1;
    }
    dlc_tune_summary_clear(&s);
    tb.gflops = malloc((size_t)tb.size * sizeof *tb.gflops);
    static const dlc_feature_kind_t kinds[2] = {DLC_FEATURE_ITERVAR, DLC_FEATURE_KNOB};
    for (int k = 0; k < 2; k++) {
        tb.nf[k] = dlc_feature_len(kinds[k], dlc_task_space(task));
        tb.feat[k] = calloc((size_t)tb.size * (size_t)tb.nf[k], sizeof *tb.feat[k]);
    }
    tb.valid = calloc((size_t)tb.size, 1);
    if (!tb.gflops || !tb.feat[0] || !tb.feat[1] || !tb.valid)
        goto cleanup;
    for (int64_t i = 0; i < tb.size; i++)
        tb.gflops[i] = NAN;
    if (dlc_db_records(db, dlc_task_target(task)->str, dlc_task_template(task)->name, dlc_task_args(task), take_record,
                       &tb) < 0)
        goto cleanup;
    double best = 0;
    int64_t measured = 0, failed = 0;
    for (int64_t i = 0; i < tb.size; i++) {
        dlc_config_t *cfg = NULL;
        if (dlc_space_get(dlc_task_space(task), i, &cfg) == 0 &&
            dlc_feature_config(task, cfg, kinds[0], tb.feat[0] + i * tb.nf[0]) == 0 &&
            dlc_feature_config(task, cfg, kinds[1], tb.feat[1] + i * tb.nf[1]) == 0)
            tb.valid[i] = 1;
        dlc_config_destroy(&cfg);
        if (!isnan(tb.gflops[i])) {
            measured++;
            failed += tb.gflops[i] <= 0;
            best = fmax(best, tb.gflops[i]);
        }
    }
    int64_t near = 0;
    for (int64_t i = 0; i < tb.size; i++)
        near += !isnan(tb.gflops[i]) && tb.gflops[i] >= 0.95 * best;
    /* Drawing without replacement from the `drawable` valid configs, the
     * first of `near` good ones comes at (drawable + 1) / (near + 1) on
     * average (the tuner never proposes an invalid one). */
    int64_t drawable = 0;
    for (int64_t i = 0; i < tb.size; i++)
        drawable += tb.valid[i];
    double expect = (double)(drawable + 1) / (double)(near + 1);
    *expected += expect * seeds;
    printf("| %s | %s | %lld (%lld failed) | %.1f | %lld | %.1f |", label, dlc_task_template(task)->name,
           (long long)measured, (long long)failed, best, (long long)near, expect);
    for (int k = 0; k < nv; k++) {
        double need = 0;
        int miss = 0;
        for (int seed = first_seed; seed < first_seed + seeds; seed++) {
            double t0 = dlc_now();
            int64_t hit = run_one(&tb, &v[k], (uint64_t)seed, trials, 0.95 * best);
            tuner_s[k] += dlc_now() - t0;
            if (hit < 0)
                goto cleanup;
            need += hit ? (double)hit : (double)trials; /* a miss counts at the budget: a lower bound */
            miss += !hit;
        }
        sum[k] += need;
        never[k] += miss;
        printf(" %.1f%s |", need / seeds, miss ? "*" : "");
    }
    printf("\n");
    fflush(stdout);
    rc = 0;
cleanup:
    free(tb.gflops);
    free(tb.feat[0]);
    free(tb.feat[1]);
    free(tb.valid);
    return rc;
}
