/* dlc_tuner.h — search over a config space: random, grid, genetic (GA) and
 * XGB (an XGBoost cost model steering simulated annealing) tuners, as
 * AutoTVM's. A tuner proposes batches of config indices and learns from
 * their measured throughput; it never proposes the same index twice.
 *
 * Usage (the driver in dlc_tune.h does this with real measurements):
 *   dlc_tuner_opts_t o;
 *   dlc_tuner_opts_default(&o, DLC_TUNER_XGB);
 *   o.n_features = dlc_feature_len(DLC_FEATURE_KNOB, sp);
 *   o.features = my_features; o.feature_user = task;   // index -> vector
 *   dlc_tuner_t *t = dlc_tuner_new(sp, &o);
 *   int64_t idx[64];  double gflops[64];
 *   while (trials < budget && dlc_tuner_has_next(t)) {
 *       int n = dlc_tuner_next_batch(t, idx, 64);
 *       measure(idx, n, gflops);                   // 0 for a failed config
 *       dlc_tuner_update(t, idx, gflops, n);
 *       trials += n;
 *   }
 *   dlc_tuner_destroy(&t);
 *
 * Ownership: the tuner borrows the space (it must outlive the tuner) and
 * copies everything else. One thread at a time.
 */
#ifndef DLC_TUNER_H
#define DLC_TUNER_H

#include <stdint.h>

#include "cost-model/dlc_costmodel.h"
#include "schedule-templates/dlc_space.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DLC_TUNER_KIND_MAP(X) \
    X(RANDOM, "random")       \
    X(GRID, "grid")           \
    X(GA, "ga")               \
    X(XGB, "xgb")
typedef enum {
#define DLC__TK(e, n) DLC_TUNER_##e,
    DLC_TUNER_KIND_MAP(DLC__TK)
#undef DLC__TK
    DLC_TUNER_KIND_COUNT
} dlc_tuner_kind_t;
const char *dlc_tuner_kind_name(dlc_tuner_kind_t k); /* "xgb"; "?" if out of range */
int dlc_tuner_kind_parse(const char *name);          /* or -1 */

/* Features of the config at `index` into out (n_features floats): 0, or
 * DLC_EINSTANTIATE when the template rejects the config (the tuner then
 * treats it as invalid and does not propose it), or another error. */
typedef int (*dlc_tuner_feature_fn)(int64_t index, float *out, void *user);

typedef struct {
    dlc_tuner_kind_t kind;
    uint64_t seed;
    /* XGB */
    int plan_size;               /* configs per plan (64); a fit also starts a new plan */
    int first_fit;               /* results before the first fit (16; AutoTVM: plan_size), so
                                  * the model steers from trial 17, not 65 (the pipeline asks
                                  * for 16 at a time) */
    int fit_every;               /* later fits (and new plans) after this many more results or
                                  * a quarter of those so far, whichever is more, at most
                                  * plan_size (16: every batch of the first ~64 trials, AutoTVM's
                                  * cadence from ~256); 0: as the results double */
    double epsilon;              /* fraction of each plan drawn at random (0.05) */
    int n_features;              /* length of a feature vector */
    dlc_tuner_feature_fn features; /* required for XGB */
    void *feature_user;
    dlc_costmodel_loss_t loss;   /* DLC_COSTMODEL_RANK */
    int sa_parallel;             /* simulated-annealing chains (128) */
    int sa_steps;                /* at most this many steps per plan (500) */
    int sa_early_stop;           /* stop SA after this many steps without a new top config (50) */
    double sa_temp_start, sa_temp_end; /* temperature schedule (1.0 -> 0.0) */
    int diversity;               /* 1: pick the plan with a diversity filter (on) */
    /* GA */
    int pop_size;                /* population (100) */
    int elite_num;               /* elites kept each generation (3) */
    double mutation_prob;        /* per knob (0.1) */
} dlc_tuner_opts_t;
/* AutoTVM's defaults for kind (the values in parentheses above). */
void dlc_tuner_opts_default(dlc_tuner_opts_t *o, dlc_tuner_kind_t kind);

typedef struct dlc_tuner dlc_tuner_t;
/* NULL with the last error for bad options (e.g. XGB without features). */
dlc_tuner_t *dlc_tuner_new(const dlc_space_t *sp, const dlc_tuner_opts_t *o);
void dlc_tuner_destroy(dlc_tuner_t **t);
dlc_tuner_kind_t dlc_tuner_kind(const dlc_tuner_t *t);

/* Whether an index that was never proposed or reported remains. */
int dlc_tuner_has_next(const dlc_tuner_t *t);
/* Up to max new indices (never proposed or reported before) into out;
 * returns how many (0 when the space is exhausted), or a negative code. */
int dlc_tuner_next_batch(dlc_tuner_t *t, int64_t *out, int max);
/* Measured results: score[i] is the throughput of index[i] (higher is
 * better; 0 for a failed config). Indices the tuner never proposed (records
 * of an interrupted run) are accepted and marked as visited. The XGB tuner
 * retrains its model at first_fit results, then as fit_every says. */
int dlc_tuner_update(dlc_tuner_t *t, const int64_t *index, const double *score, int n);
/* Transfer learning (XGB; the others ignore it, returning 0): rows measured on
 * other tasks, n_features wide, grouped as in dlc_costmodel_fit. They join
 * every later training set, and the model is trained on them at once so the
 * first plan is already model-guided. */
int dlc_tuner_add_history(dlc_tuner_t *t, const float *X, const float *y, int n, const int *group_sizes,
                          int n_groups);
/* XGB: starts from a model saved by dlc_costmodel_save (e.g. stored in the
 * db by an earlier run of the same template and target) when nothing has
 * trained the tuner's model yet; the first plan is then model-guided and the
 * first fit replaces it. DLC_EPARSE for a blob of another feature length or
 * loss; the others ignore it (0). */
int dlc_tuner_load_model(dlc_tuner_t *t, const void *blob, size_t len);
int64_t dlc_tuner_visited(const dlc_tuner_t *t); /* indices proposed or reported */
/* The best (index, score) reported so far; DLC_ENOTFOUND before any success. */
int dlc_tuner_best(const dlc_tuner_t *t, int64_t *index, double *score);
/* The XGB tuner's model (borrowed; NULL for other kinds or before any fit). */
dlc_costmodel_t *dlc_tuner_model(dlc_tuner_t *t);

/* Where a tuner spent its effort, for the driver's report (all zero for the
 * kinds without a model). */
typedef struct {
    int64_t feature_calls; /* calls of the feature callback (each index at most once while cached) */
    int64_t invalid;       /* indices the callback rejected with DLC_EINSTANTIATE */
    int64_t scored;        /* configs scored by the model while planning */
    int64_t explored;      /* proposals of the epsilon share: random while a model exists */
    int fits;              /* model trainings */
    int plans;             /* plans built (random ones included) */
    double feature_s;      /* seconds inside the feature callback */
    double fit_s;          /* seconds training */
    double plan_s;         /* seconds planning (annealing and pick; feature time included) */
} dlc_tuner_stats_t;
void dlc_tuner_stats(const dlc_tuner_t *t, dlc_tuner_stats_t *out);

#ifdef __cplusplus
}
#endif
#endif
