/* dlc_tune.h — the tuning run: a measure pipeline that builds batches of
 * configs with a pool of compiler processes while the previous batch is
 * measured (locally with dlc-runner, or on a fleet through dlc-tracker), and
 * a driver that ties a tuner (dlc_tuner.h), the measurements and the tuning
 * database together, one task at a time. dlc-tune is a thin CLI over this.
 *
 * Usage:
 *   dlc_measurer_opts_t mo;  dlc_measurer_opts_default(&mo);
 *   dlc_measurer_t *m = dlc_measurer_new(&mo);
 *   dlc_tune_opts_t to;  dlc_tune_opts_default(&to);
 *   to.trials = 200;  to.db = db;  to.resume = 1;
 *   dlc_tune_summary_t sum;
 *   dlc_tune_task(task, m, &to, &sum);     // sum.best_gflops, sum.best_entity
 *   dlc_tune_summary_clear(&sum);
 *   dlc_measurer_destroy(&m);
 *
 * Records: every result is written to the db as soon as it arrives (one
 * transaction per result) as a TVM v0.2 log line of the task's target, task
 * name and args, so a run killed at any moment keeps all it measured; with
 * resume, the stored records of the task count as trials of this run and are
 * never measured again.
 */
#ifndef DLC_TUNE_H
#define DLC_TUNE_H

#include <stdint.h>

#include "compiler-core/dlc_module.h"
#include "cost-model/dlc_costmodel.h"
#include "db/dlc_db.h"
#include "schedule-templates/dlc_templates.h"
#include "tuner/dlc_tuner.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- one measured config ---- */
typedef struct {
    int64_t index;          /* in the task's space */
    int error_no;           /* dlc_measure_error_t */
    int n_costs;
    double costs[DLC_MEASURE_MAX_REPEAT]; /* seconds per call */
    double mean_s;          /* mean of costs; 0 on error */
    double gflops;          /* task FLOPs / mean_s; 0 on error */
    double build_s;         /* this config's share of compile time */
    double run_s;           /* wall time of its measurement */
    double all_cost;        /* build_s + run_s, as TVM's all_cost */
    double timestamp;       /* seconds since the epoch, when it finished */
    int cache_hit;          /* the build came from the code-hash cache */
    char message[256];      /* error detail */
} dlc_trial_t;

/* ---- measure pipeline ---- */
typedef struct {
    dlc_measure_opts_t mo;  /* number, repeat, min_repeat_ms, cooldown, timeout, threads, check */
    const char *tracker;    /* "host:port": measure on the fleet; NULL: locally */
    const char *key;        /* device key on the tracker */
    int build_jobs;         /* compilers at once (0: number of CPUs) */
    int group;              /* configs per compiler invocation (0: auto) */
    double build_timeout_s; /* compile limit per config, as AutoTVM's LocalBuilder (0: 10 s);
                               a unit of n configs gets n times this */
    size_t max_c_bytes;     /* a config whose C alone is larger is BUILD_TIMEOUT without
                               compiling (0: 512 KiB): fully unrolled nests take cc1
                               minutes and gigabytes */
    volatile int *stop;     /* nonzero (e.g. set by SIGINT): stop waiting for the fleet; jobs
                               without a result are cancelled and not reported */
    int overlap;            /* build the next sub-batch while measuring: 1 on, 0 off, -1 auto
                               (on with a tracker or when the host has spare cores) */
} dlc_measurer_opts_t;
void dlc_measurer_opts_default(dlc_measurer_opts_t *o);

typedef struct dlc_measurer dlc_measurer_t;
/* NULL with the last error (e.g. an unreachable tracker address). Copies o. */
dlc_measurer_t *dlc_measurer_new(const dlc_measurer_opts_t *o);
void dlc_measurer_destroy(dlc_measurer_t **m);

/* Instantiates, lowers, compiles and measures the n configs of task at
 * index[] and fills out[n] (in index order). on_trial (may be NULL) is
 * called for each as soon as its measurement is done. A config the template
 * rejects is INSTANTIATION_ERROR, a compiler failure COMPILE_HOST, a timeout
 * BUILD/RUN_TIMEOUT, a crash RUNTIME_DEVICE, a mismatch with the reference
 * WRONG_ANSWER: all are results, not errors. Returns 0, or a negative code
 * when measuring itself failed (results then carry UNKNOWN_ERROR). */
typedef void (*dlc_trial_fn)(const dlc_trial_t *t, void *user);
int dlc_measurer_run(dlc_measurer_t *m, const dlc_task_t *task, const int64_t *index, int n, dlc_trial_t *out,
                     dlc_trial_fn on_trial, void *user);

/* Where the time went, summed over every run of this measurer. */
typedef struct {
    int64_t trials, builds, cache_hits; /* builds: translation units of configs */
    int64_t ref_builds; /* reference objects built or found cached: one per task and layout in a run */
    double prepare_s;   /* instantiate + lower + C generation */
    double build_s;     /* wall time of compiler invocations (overlapped part included) */
    double measure_s;   /* wall time of measurements */
    double wall_s;      /* wall time inside dlc_measurer_run */
} dlc_measurer_stats_t;
void dlc_measurer_stats(const dlc_measurer_t *m, dlc_measurer_stats_t *out);

/* ---- the tuning driver ---- */
typedef struct {
    const dlc_task_t *task;
    int64_t done, total;      /* trials of this run (resumed included) */
    double best_gflops;
    int64_t best_index;       /* -1 before a success */
    double elapsed_s;
} dlc_tune_progress_t;

typedef struct {
    dlc_tuner_kind_t tuner;   /* DLC_TUNER_XGB */
    int64_t trials;           /* budget per task (1000) */
    int64_t early_stopping;   /* stop after this many trials without improvement; 0: never */
    dlc_feature_kind_t features; /* for XGB (DLC_FEATURE_ITERVAR) */
    dlc_costmodel_loss_t loss;   /* for XGB (DLC_COSTMODEL_RANK) */
    uint64_t seed;
    int batch;                /* configs measured per round (0: 16) */
    int resume;               /* continue from the task's records in db */
    int transfer;             /* XGB: learn first from other tasks of the template and target in db (on) */
    int64_t transfer_max;     /* rows of history at most (2000) */
    dlc_db_t *db;             /* NULL: results are only reported */
    dlc_db_source_t source;   /* stored with each record */
    /* Called after each trial (progress) and with each trial's result. */
    void (*on_trial)(const dlc_tune_progress_t *p, const dlc_trial_t *t, void *user);
    void *user;
    /* Called with each result's TVM record (valid during the call), after it
     * was stored in db: for a log file or an upload. */
    void (*on_record)(const dlc_record_t *rec, void *user);
    volatile int *stop;       /* set nonzero (e.g. from SIGINT) to end after the current trial */
} dlc_tune_opts_t;
void dlc_tune_opts_default(dlc_tune_opts_t *o);

typedef struct {
    int64_t trials;           /* measured in this run */
    int64_t resumed;          /* taken from the db (resume) */
    int64_t history;          /* transfer rows used */
    int model_loaded;         /* no history: the model stored in the db by an earlier run started the tuner */
    int64_t errors[DLC_MEASURE_ERROR_COUNT]; /* by error number, over trials */
    double best_gflops;       /* 0 if nothing succeeded */
    int64_t best_index;       /* -1 if nothing succeeded */
    json_t *best_entity;      /* owned; NULL if nothing succeeded */
    int early_stopped, exhausted, interrupted;
    double elapsed_s, model_s; /* model_s: time in the tuner (features, training, annealing) */
} dlc_tune_summary_t;
void dlc_tune_summary_clear(dlc_tune_summary_t *s);

/* Tunes one task within o->trials. Returns 0 (also when stopped early or
 * interrupted; see the summary) or a negative code for a failure that is
 * not a measurement result (db write, tuner). */
int dlc_tune_task(const dlc_task_t *task, dlc_measurer_t *m, const dlc_tune_opts_t *o, dlc_tune_summary_t *out);

#ifdef __cplusplus
}
#endif
#endif
