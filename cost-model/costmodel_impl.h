/* costmodel_impl.h — private to cost-model/: the model struct shared by the
 * training (xgb.c) and serialisation (xgb_io.c) files. */
#ifndef DLC_COSTMODEL_IMPL_H
#define DLC_COSTMODEL_IMPL_H

#include <xgboost/c_api.h>

#include "cost-model/dlc_costmodel.h"

/* One OpenMP thread: the tuner measures kernels on the same (small) machine
 * while it trains, and a single thread leaves no spinning workers behind. */
#define DLC__XGB_NTHREAD "1"

struct dlc_costmodel {
    dlc_costmodel_loss_t loss;
    int n_features;
    uint64_t seed;
    int rounds;
    BoosterHandle booster; /* owned; NULL until a fit or load */
};

/* dlc_error(status, "xgboost <what>: <XGBoost's last error>"). */
int dlc__xgb_fail(int status, const char *what);

/* ---- itervar feature extraction (itervar.c, itervar_expr.c) ---- */
#define DLC__FX_MAX_STACK 64 /* loops deeper than this are walked but not bound */
#define DLC__FX_MAX_LETS 64
#define DLC__FX_MAX_TRACK 16 /* buffers followed per loop slot; the first DLC_FEATURE_MAX_BUFS are kept */
#define DLC__FX_MAX_DEPS 32

typedef struct {
    int var_id;
    int slot;       /* loop slot of the features, -1 when the loop is not on the chosen path */
    int64_t value;  /* the variable's binding while evaluating indices: the loop's min */
    int64_t extent;
} dlc__fx_frame_t;

typedef struct {
    const dlc_buffer_t *buf;
    double count;       /* accesses during one run of the slot's loop */
    double hot_iters;   /* the most frequent access: its trip count, distinct elements, stride */
    double hot_distinct;
    int64_t hot_stride;
    double bytes;       /* most bytes any access touches */
} dlc__fx_buf_t;

typedef struct {
    const dlc_stmt_t *loop;
    int depth;
    int64_t extent;
    double topdown, bottomup;
    int n_bufs;
    dlc__fx_buf_t bufs[DLC__FX_MAX_TRACK];
} dlc__fx_slot_t;

/* The walk's state: the loops and LETs around the current statement. */
typedef struct {
    int depth;
    dlc__fx_frame_t stack[DLC__FX_MAX_STACK];
    int n_lets;
    struct { int var_id; const dlc_expr_t *value; } lets[DLC__FX_MAX_LETS];
    int n_slots;
    dlc__fx_slot_t slots[DLC_FEATURE_MAX_LOOPS];
    double global[DLC_FV_GLOBAL_COUNT];
} dlc__fx_t;

/* The loop variables an index uses, and how: fused loops leave v / c and
 * v % c behind, which take ceil(extent / c) and c values, not extent. */
typedef struct {
    int n, overflow; /* overflow: more variables than ids[] holds (then every loop counts as used, fully) */
    int ids[DLC__FX_MAX_DEPS];
    unsigned char bare[DLC__FX_MAX_DEPS]; /* used outside v / c and v % c */
    int64_t div[DLC__FX_MAX_DEPS];        /* smallest c of a v / c, 0 if none */
    int64_t mod[DLC__FX_MAX_DEPS];        /* largest c of a v % c, 0 if none */
} dlc__fx_deps_t;

/* Evaluates an integer expression with the bindings of w (NULL: every
 * variable 0); -1 when it cannot (a load, a call, an unbound variable). */
int dlc__fx_eval(const dlc__fx_t *w, const dlc_expr_t *e, int64_t *out);
/* The loop variables e uses, following LET bindings of w. */
void dlc__fx_deps(const dlc__fx_t *w, const dlc_expr_t *e, dlc__fx_deps_t *d);
/* How many distinct values the index's use of the variable takes while it
 * runs over [0, extent): 0 when the index does not use it. */
int64_t dlc__fx_deps_distinct(const dlc__fx_deps_t *d, int var_id, int64_t extent);
/* Trip count of a FOR under w's bindings (w NULL: variables at 0). */
int64_t dlc__fx_extent(const dlc__fx_t *w, const dlc_stmt_t *loop);
/* Expression nodes executed by a statement, weighted by trip counts. */
double dlc__fx_work(const dlc_stmt_t *s);

#endif
