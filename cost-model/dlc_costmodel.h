/* dlc_costmodel.h — the tuner's cost model: features of a config (AutoTVM's
 * itervar features from the lowered loop IR, or the config's knob vector) and
 * an XGBoost model over them (rank:pairwise by default), saved as a blob in
 * the tuning database for transfer learning.
 *
 * Usage:
 *   int len = dlc_feature_len(DLC_FEATURE_ITERVAR, space);
 *   float *x = malloc(n * len * sizeof *x);
 *   for (i...) dlc_feature_config(task, cfg[i], DLC_FEATURE_ITERVAR, x + i * len);
 *   dlc_costmodel_t *m = dlc_costmodel_new(DLC_COSTMODEL_RANK, len, 42);
 *   dlc_costmodel_fit(m, x, gflops, n, NULL, 0);   // y: throughput, 0 = failed
 *   dlc_costmodel_predict(m, xq, nq, score);         // higher = faster
 *   dlc_costmodel_destroy(&m);
 *
 * Ownership: the model owns its XGBoost booster; callers own every array.
 * A model is used from one thread at a time.
 */
#ifndef DLC_COSTMODEL_H
#define DLC_COSTMODEL_H

#include <stddef.h>
#include <stdint.h>

#include "compiler-core/dlc_codegen.h"
#include "schedule-templates/dlc_space.h"
#include "schedule-templates/dlc_templates.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- features ---- */
typedef enum {
    DLC_FEATURE_ITERVAR, /* loop-IR features, fixed length for every task */
    DLC_FEATURE_KNOB,    /* dlc_config_features: the space's knob vector */
    DLC_FEATURE_KIND_COUNT
} dlc_feature_kind_t;
const char *dlc_feature_kind_name(dlc_feature_kind_t k); /* "itervar", "knob" */
int dlc_feature_kind_parse(const char *name);            /* or -1 */

/* Length of the feature vector: for ITERVAR a constant (sp may be NULL), for
 * KNOB dlc_space_feature_len(sp). */
int dlc_feature_len(dlc_feature_kind_t kind, const dlc_space_t *sp);

/* Itervar features of a lowered function: per loop (outermost first, the
 * DLC_FEATURE_MAX_LOOPS loops of the nest with the most work) the extent, the
 * annotation one-hot (none/unroll/vectorize/parallel/thread), the top-down
 * and bottom-up extent products; per buffer touched inside that loop (up to
 * DLC_FEATURE_MAX_BUFS, arguments first) the stride w.r.t. the loop variable,
 * the bytes touched and the reuse ratio; and arithmetic counts for the whole
 * function (float add/mul/fma/div/math, int ops, loads/stores). Values are
 * log2(1 + x) scaled as AutoTVM does; missing slots are zero.
 * Writes dlc_feature_len(DLC_FEATURE_ITERVAR, NULL) floats. */
#define DLC_FEATURE_MAX_LOOPS 12
#define DLC_FEATURE_MAX_BUFS 4
int dlc_feature_itervar(const dlc_lowered_func_t *f, float *out);

/* Layout of the itervar vector (for tests and reports). Loop slot l starts at
 * l * DLC_FV_LOOP_LEN; buffer slot b of it at DLC_FV_BUF + b * DLC_FV_BUF_LEN.
 * The function-wide counts follow the last loop slot at DLC_FV_GLOBAL. Every
 * value is log2(1 + x) except the annotation one-hot. When a nest is deeper
 * than DLC_FEATURE_MAX_LOOPS, loops of extent 1 are left out first (outermost
 * first), then the outermost loops. */
enum {
    DLC_FV_STRIDE,  /* elements the index moves per step of the loop (2^30: not computable) */
    DLC_FV_BYTES,   /* bytes touched during one run of the loop */
    DLC_FV_REUSE,   /* accesses per distinct element during one run of the loop */
    DLC_FV_COUNT,   /* accesses during one run of the loop */
    DLC_FV_BUF_LEN
};
enum {
    DLC_FV_EXTENT,        /* trip count */
    DLC_FV_DEPTH,         /* nesting level in the whole nest, 1 = outermost */
    DLC_FV_ANN,           /* 5 slots: none, unroll, vectorize, parallel, thread (0/1) */
    DLC_FV_TOPDOWN = DLC_FV_ANN + 5, /* product of the extents of this loop and those around it */
    DLC_FV_BOTTOMUP,      /* product of the extents of this loop and those inside it on the path */
    DLC_FV_BUF,           /* DLC_FEATURE_MAX_BUFS buffer slots of DLC_FV_BUF_LEN */
    DLC_FV_LOOP_LEN = DLC_FV_BUF + DLC_FV_BUF_LEN * DLC_FEATURE_MAX_BUFS
};
enum { /* function-wide counts weighted by trip counts, at DLC_FV_GLOBAL + i */
    DLC_FV_FADD, DLC_FV_FMUL, DLC_FV_FMA, DLC_FV_FDIV, DLC_FV_FMATH, /* float add/sub/min/max, mul, a*b+c, div, calls */
    DLC_FV_INT,                                                     /* integer and cast ops (indices included) */
    DLC_FV_CMP,                                                     /* compares, logic, select, if */
    DLC_FV_LOAD, DLC_FV_STORE,
    DLC_FV_ALLOC_BYTES,                                             /* bytes of buffers allocated in the function */
    DLC_FV_GLOBAL_COUNT
};
#define DLC_FV_GLOBAL (DLC_FEATURE_MAX_LOOPS * DLC_FV_LOOP_LEN)
#define DLC_FEATURE_ITERVAR_LEN (DLC_FV_GLOBAL + DLC_FV_GLOBAL_COUNT)

/* Features of one config of a task: KNOB is dlc_config_features; ITERVAR
 * instantiates the template for cfg in a private context, lowers it and calls
 * dlc_feature_itervar. DLC_EINSTANTIATE (and the template's message) for a
 * config the template rejects; out is then all zero. Thread-safe. */
int dlc_feature_config(const dlc_task_t *task, const dlc_config_t *cfg, dlc_feature_kind_t kind, float *out);

/* ---- model (XGBoost C API) ---- */
typedef enum {
    DLC_COSTMODEL_RANK, /* rank:pairwise (default) */
    DLC_COSTMODEL_REG,  /* reg:squarederror on normalised throughput */
    DLC_COSTMODEL_LOSS_COUNT
} dlc_costmodel_loss_t;
const char *dlc_costmodel_loss_name(dlc_costmodel_loss_t l); /* "rank", "reg" */
int dlc_costmodel_loss_parse(const char *name);              /* or -1 */

typedef struct dlc_costmodel dlc_costmodel_t;
/* A model over n_features columns; NULL with the last error on failure. */
dlc_costmodel_t *dlc_costmodel_new(dlc_costmodel_loss_t loss, int n_features, uint64_t seed);
void dlc_costmodel_destroy(dlc_costmodel_t **m);
int dlc_costmodel_n_features(const dlc_costmodel_t *m);
int dlc_costmodel_trained(const dlc_costmodel_t *m); /* 1 after a successful fit or load */
/* Boosting rounds of later fits (default 80; 1..10000). */
int dlc_costmodel_set_rounds(dlc_costmodel_t *m, int rounds);

/* Trains a fresh booster (AutoTVM's XGBoost parameters) on n rows of X
 * (row-major n x n_features) with targets y (throughput, e.g. GFLOP/s; 0 for
 * failed configs). y is normalised by its maximum within each group. Groups:
 * rows are ordered by group and group_sizes[0..n_groups) sums to n (NULL: one
 * group); pairs for rank:pairwise are formed within a group only, so rows of
 * several tasks (transfer learning) can train one model. */
int dlc_costmodel_fit(dlc_costmodel_t *m, const float *X, const float *y, int n, const int *group_sizes,
                      int n_groups);
/* Scores n rows (higher = predicted faster). DLC_EINVAL before any fit. */
int dlc_costmodel_predict(dlc_costmodel_t *m, const float *X, int n, float *out);

/* Serialises the booster (XGBoost's JSON/UBJ buffer) plus dlc's header
 * (loss, n_features); *buf is malloc'd, caller frees. */
int dlc_costmodel_save(const dlc_costmodel_t *m, void **buf, size_t *len);
/* Replaces m's booster with a saved one; DLC_EPARSE for a bad blob or one
 * with another feature count. */
int dlc_costmodel_load(dlc_costmodel_t *m, const void *buf, size_t len);

/* Spearman rank correlation of a and b (n values; ties get average ranks);
 * 0 when either is constant. For tests and reports. */
double dlc_rank_correlation(const float *a, const float *b, int n);

#ifdef __cplusplus
}
#endif
#endif
