/* xgb.c — the cost model: an XGBoost booster (C API) trained on feature rows
 * and normalised throughput, its predictions, and its serialised form. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <xgboost/c_api.h>

#include "cost-model/costmodel_impl.h"

/* AutoTVM trains up to 8000 rounds and stops early on recall@N. A fixed count
 * is simpler and deterministic: on a noisy synthetic ranking (400 rows, 8
 * features) held-out Spearman was 0.93 at 20 rounds, 0.974 at 80, 0.975 at
 * 150 and 0.971 at 300, and 80 rounds fit 2000 rows of itervar features in
 * about 0.25 s on one core. */
#define DLC_COSTMODEL_DEFAULT_ROUNDS 80

/* ---- names ---- */

static const char *const loss_names[] = {"rank", "reg"};
_Static_assert(sizeof loss_names / sizeof *loss_names == DLC_COSTMODEL_LOSS_COUNT, "loss_names");

const char *dlc_costmodel_loss_name(dlc_costmodel_loss_t l) {
    return (unsigned)l < DLC_COSTMODEL_LOSS_COUNT ? loss_names[l] : "?";
}

int dlc_costmodel_loss_parse(const char *name) {
    for (int i = 0; name && i < DLC_COSTMODEL_LOSS_COUNT; i++)
        if (strcmp(name, loss_names[i]) == 0)
            return i;
    return -1;
}

/* ---- XGBoost plumbing ---- */

/* XGBoost prints warnings (e.g. about parameters) on stderr unless told not to. */
static void quiet_xgboost(void) { XGBSetGlobalConfig("{\"verbosity\": 0}"); }
static pthread_once_t quiet_once = PTHREAD_ONCE_INIT;

int dlc__xgb_fail(int status, const char *what) {
    return dlc_error(status, "xgboost %s: %s", what, XGBGetLastError());
}

dlc_costmodel_t *dlc_costmodel_new(dlc_costmodel_loss_t loss, int n_features, uint64_t seed) {
    if ((unsigned)loss >= DLC_COSTMODEL_LOSS_COUNT || n_features <= 0) {
        dlc_error(DLC_EINVAL, "cost model: bad loss %d or feature count %d", (int)loss, n_features);
        return NULL;
    }
    pthread_once(&quiet_once, quiet_xgboost);
    dlc_costmodel_t *m = calloc(1, sizeof *m);
    if (!m) {
        dlc_error(DLC_ENOMEM, "out of memory");
        return NULL;
    }
    m->loss = loss;
    m->n_features = n_features;
    m->seed = seed;
    m->rounds = DLC_COSTMODEL_DEFAULT_ROUNDS;
    return m;
}

void dlc_costmodel_destroy(dlc_costmodel_t **m) {
    if (!m || !*m)
        return;
    if ((*m)->booster)
        XGBoosterFree((*m)->booster);
    free(*m);
    *m = NULL;
}

int dlc_costmodel_n_features(const dlc_costmodel_t *m) { return m->n_features; }
int dlc_costmodel_trained(const dlc_costmodel_t *m) { return m->booster != NULL; }

int dlc_costmodel_set_rounds(dlc_costmodel_t *m, int rounds) {
    if (rounds < 1 || rounds > 10000)
        return dlc_error(DLC_EINVAL, "cost model: %d boosting rounds (1..10000)", rounds);
    m->rounds = rounds;
    return 0;
}

/* AutoTVM's XGBoostCostModel parameters (but colsample_bytree), with the
 * histogram tree method:
 * exact splits took 1.3-1.5 s for 2000 rows of 310 features on one core of
 * the shared 2-core VM, histograms 0.25 s for trees of the same depth. */
static int set_params(BoosterHandle b, dlc_costmodel_loss_t loss, uint64_t seed, int n_features) {
    char seed_s[24];
    snprintf(seed_s, sizeof seed_s, "%u", (unsigned)(seed & 0x7fffffff));
    /* Half the columns per tree where there are many (itervar features: a
     * few hundred, largely redundant): trees that cannot all split on the
     * same feature rank better from few rows. On the replayed spaces
     * (bench_tune replay, 3 × 100-200 seeds) 3.5% fewer trials to 95% of the
     * best; on knob features (a handful) it cost 4%. */
    const char *colsample = n_features >= 32 ? "0.5" : "1.0";
    const char *kv[][2] = {
        {"max_depth", "3"}, {"gamma", "0.0001"}, {"min_child_weight", "1"}, {"subsample", "1.0"},
        {"colsample_bytree", colsample},
        {"eta", "0.3"}, {"lambda", "1.00"}, {"alpha", "0"}, {"tree_method", "hist"},
        {"nthread", DLC__XGB_NTHREAD}, {"verbosity", "0"}, {"seed", seed_s},
        {"objective", loss == DLC_COSTMODEL_RANK ? "rank:pairwise" : "reg:squarederror"},
    };
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
        if (XGBoosterSetParam(b, kv[i][0], kv[i][1]) != 0)
            return dlc__xgb_fail(DLC_EINVAL, "parameter");
    return 0;
}

/* Labels: y / max(y) within each group, so tasks of different speeds train
 * together; failed (<= 0) or non-finite throughputs count as 0. */
static void normalise(const float *y, int n, const int *group_sizes, int n_groups, float *out) {
    int start = 0;
    for (int g = 0; g < n_groups; g++) {
        int len = group_sizes ? group_sizes[g] : n;
        float mx = 0;
        for (int i = start; i < start + len; i++)
            if (isfinite(y[i]) && y[i] > mx)
                mx = y[i];
        for (int i = start; i < start + len; i++)
            out[i] = mx > 0 && isfinite(y[i]) && y[i] > 0 ? y[i] / mx : 0.0f;
        start += len;
    }
}

int dlc_costmodel_fit(dlc_costmodel_t *m, const float *X, const float *y, int n, const int *group_sizes,
                      int n_groups) {
    if (n <= 0)
        return dlc_error(DLC_EINVAL, "cost model: fit on %d rows", n);
    if (!group_sizes)
        n_groups = 1;
    if (n_groups <= 0)
        return dlc_error(DLC_EINVAL, "cost model: %d groups", n_groups);
    int64_t total = 0;
    for (int g = 0; group_sizes && g < n_groups; g++) {
        if (group_sizes[g] <= 0)
            return dlc_error(DLC_EINVAL, "cost model: group %d has %d rows", g, group_sizes[g]);
        total += group_sizes[g];
    }
    if (group_sizes && total != n)
        return dlc_error(DLC_EINVAL, "cost model: groups hold %lld rows, not %d", (long long)total, n);

    int rc = 0;
    DMatrixHandle dm = NULL;
    BoosterHandle b = NULL;
    float *label = malloc((size_t)n * sizeof *label);
    unsigned *groups = malloc((size_t)n_groups * sizeof *groups);
    if (!label || !groups) {
        rc = dlc_error(DLC_ENOMEM, "out of memory");
        goto cleanup;
    }
    normalise(y, n, group_sizes, n_groups, label);
    for (int g = 0; g < n_groups; g++)
        groups[g] = group_sizes ? (unsigned)group_sizes[g] : (unsigned)n;
    if (XGDMatrixCreateFromMat(X, (bst_ulong)n, (bst_ulong)m->n_features, NAN, &dm) != 0 ||
        XGDMatrixSetFloatInfo(dm, "label", label, (bst_ulong)n) != 0 ||
        XGDMatrixSetUIntInfo(dm, "group", groups, (bst_ulong)n_groups) != 0) {
        rc = dlc__xgb_fail(DLC_EINVAL, "training data");
        goto cleanup;
    }
    if (XGBoosterCreate(&dm, 1, &b) != 0) {
        rc = dlc__xgb_fail(DLC_ENOMEM, "booster");
        goto cleanup;
    }
    if ((rc = set_params(b, m->loss, m->seed, m->n_features)) < 0)
        goto cleanup;
    for (int it = 0; it < m->rounds; it++)
        if (XGBoosterUpdateOneIter(b, it, dm) != 0) {
            rc = dlc__xgb_fail(DLC_EINVAL, "training");
            goto cleanup;
        }
    /* Replace the old booster only once the new one is trained. */
    if (m->booster)
        XGBoosterFree(m->booster);
    m->booster = b;
    b = NULL;
cleanup:
    if (b)
        XGBoosterFree(b);
    if (dm)
        XGDMatrixFree(dm);
    free(label);
    free(groups);
    return rc;
}

int dlc_costmodel_predict(dlc_costmodel_t *m, const float *X, int n, float *out) {
    if (!m->booster)
        return dlc_error(DLC_EINVAL, "cost model: predict before any fit");
    if (n < 0)
        return dlc_error(DLC_EINVAL, "cost model: predict %d rows", n);
    if (n == 0)
        return 0;
    int rc = 0;
    DMatrixHandle dm = NULL;
    bst_ulong len = 0;
    const float *res = NULL;
    if (XGDMatrixCreateFromMat(X, (bst_ulong)n, (bst_ulong)m->n_features, NAN, &dm) != 0) {
        rc = dlc__xgb_fail(DLC_EINVAL, "prediction data");
        goto cleanup;
    }
    if (XGBoosterPredict(m->booster, dm, 0, 0, 0, &len, &res) != 0) {
        rc = dlc__xgb_fail(DLC_EINVAL, "prediction");
        goto cleanup;
    }
    if (len != (bst_ulong)n) {
        rc = dlc_error(DLC_EINVAL, "xgboost prediction: %llu values for %d rows", (unsigned long long)len, n);
        goto cleanup;
    }
    memcpy(out, res, (size_t)n * sizeof *out); /* res belongs to the booster */
cleanup:
    if (dm)
        XGDMatrixFree(dm);
    return rc;
}
