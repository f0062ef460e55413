/* bench_tune_replay.h — tuners replayed on a task's measured space (see
 * bench_tune_replay.c). */
#ifndef BENCH_TUNE_REPLAY_H
#define BENCH_TUNE_REPLAY_H

#include "db/dlc_db.h"
#include "tuner/dlc_tune.h"

typedef struct {
    const char *name;
    dlc_tuner_kind_t kind;
    int first_fit; /* XGB: results before the first fit (0: the default) */
    int knob;      /* XGB: knob features instead of itervar ones */
    int fit_every; /* XGB: fit_every (0: the default; -1: 0, as the results double) */
} replay_variant_t;

/* Measures the task's whole space into db (once; resumed), then runs each
 * of the nv variants for seeds first_seed.. with `trials` each against the
 * stored GFLOP/s, and prints a Markdown row: the task, its space, the best,
 * how many configs are within 5% of it, and per variant the mean trials to
 * reach 95% of the best (a '*' when some seed never did; counted at the
 * budget). Adds each variant's total trials to sum[k], misses to never[k]
 * and seconds spent in the tuner to tuner_s[k], and random search's exact
 * expectation times `seeds` to *expected. 0, or -1 with a message on
 * stderr. */
int bench_replay_task(const char *label, const dlc_task_t *task, dlc_measurer_t *m, dlc_db_t *db, int64_t trials,
                      int first_seed, int seeds, const replay_variant_t *v, int nv, double *sum, int *never,
                      double *tuner_s, double *expected);

#endif
