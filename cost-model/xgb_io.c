/* xgb_io.c — the cost model's saved form (a dlc header around XGBoost's UBJSON
 * model, for the tuning database's blobs) and Spearman's rank correlation. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cost-model/costmodel_impl.h"

/* Header, little-endian: magic[8], version u32, loss u32, n_features u32,
 * reserved u32, body length u64, FNV-1a of the body u64. The hash makes a
 * truncated or damaged blob fail here rather than deep inside XGBoost's
 * parser, which is not written for hostile input. */
static const char magic[8] = {'D', 'L', 'C', 'X', 'G', 'B', 'M', '\0'};
#define IO_VERSION 1u
#define HEADER_LEN 40

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}
static uint32_t get_u32(const unsigned char *p) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}
static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

int dlc_costmodel_save(const dlc_costmodel_t *m, void **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    if (!m->booster)
        return dlc_error(DLC_EINVAL, "cost model: save before any fit");
    bst_ulong body_len = 0;
    const char *body = NULL; /* owned by the booster until its next call */
    if (XGBoosterSaveModelToBuffer(m->booster, "{\"format\": \"ubj\"}", &body_len, &body) != 0)
        return dlc__xgb_fail(DLC_EIO, "save");
    unsigned char *out = malloc(HEADER_LEN + (size_t)body_len);
    if (!out)
        return dlc_error(DLC_ENOMEM, "out of memory");
    memcpy(out, magic, sizeof magic);
    put_u32(out + 8, IO_VERSION);
    put_u32(out + 12, (uint32_t)m->loss);
    put_u32(out + 16, (uint32_t)m->n_features);
    put_u32(out + 20, 0);
    put_u64(out + 24, body_len);
    put_u64(out + 32, dlc_hash64(body, body_len, DLC_HASH_SEED));
    memcpy(out + HEADER_LEN, body, body_len);
    *buf = out;
    *len = HEADER_LEN + (size_t)body_len;
    return 0;
}

int dlc_costmodel_load(dlc_costmodel_t *m, const void *buf, size_t len) {
    const unsigned char *p = buf;
    if (!buf || len < HEADER_LEN || memcmp(p, magic, sizeof magic) != 0)
        return dlc_error(DLC_EPARSE, "cost model blob: not a dlc cost model (bad magic or %zu bytes)", len);
    uint32_t version = get_u32(p + 8), loss = get_u32(p + 12), nf = get_u32(p + 16);
    uint64_t body_len = get_u64(p + 24), hash = get_u64(p + 32);
    if (version != IO_VERSION)
        return dlc_error(DLC_EPARSE, "cost model blob: version %u, expected %u", version, IO_VERSION);
    if (loss >= DLC_COSTMODEL_LOSS_COUNT)
        return dlc_error(DLC_EPARSE, "cost model blob: unknown loss %u", loss);
    if (nf != (uint32_t)m->n_features)
        return dlc_error(DLC_EPARSE, "cost model blob: %u features, the model has %d", nf, m->n_features);
    if (body_len != len - HEADER_LEN || body_len == 0)
        return dlc_error(DLC_EPARSE, "cost model blob: body of %llu bytes in %zu", (unsigned long long)body_len,
                         len - HEADER_LEN);
    if (dlc_hash64(p + HEADER_LEN, body_len, DLC_HASH_SEED) != hash)
        return dlc_error(DLC_EPARSE, "cost model blob: checksum mismatch (damaged)");
    if (p[HEADER_LEN] != '{') /* UBJSON object: anything else would take XGBoost's legacy binary path */
        return dlc_error(DLC_EPARSE, "cost model blob: body is not an XGBoost UBJSON model");

    int rc = 0;
    BoosterHandle b = NULL;
    bst_ulong got = 0;
    if (XGBoosterCreate(NULL, 0, &b) != 0) {
        rc = dlc__xgb_fail(DLC_ENOMEM, "booster");
        goto cleanup;
    }
    if (XGBoosterLoadModelFromBuffer(b, p + HEADER_LEN, (bst_ulong)body_len) != 0) {
        rc = dlc__xgb_fail(DLC_EPARSE, "load");
        goto cleanup;
    }
    if (XGBoosterGetNumFeature(b, &got) != 0 || got != (bst_ulong)m->n_features) {
        rc = dlc_error(DLC_EPARSE, "cost model blob: booster has %llu features, the model %d",
                       (unsigned long long)got, m->n_features);
        goto cleanup;
    }
    /* Run-time parameters are not part of a saved model. */
    if (XGBoosterSetParam(b, "nthread", DLC__XGB_NTHREAD) != 0 || XGBoosterSetParam(b, "verbosity", "0") != 0) {
        rc = dlc__xgb_fail(DLC_EINVAL, "parameter");
        goto cleanup;
    }
    if (m->booster)
        XGBoosterFree(m->booster);
    m->booster = b;
    m->loss = (dlc_costmodel_loss_t)loss; /* the booster carries its objective */
    b = NULL;
cleanup:
    if (b)
        XGBoosterFree(b);
    return rc;
}

/* ---- Spearman ---- */

typedef struct {
    float v;
    int i;
} ranked_t;

static int cmp_ranked(const void *a, const void *b) {
    float x = ((const ranked_t *)a)->v, y = ((const ranked_t *)b)->v;
    return (x > y) - (x < y);
}

/* Ranks 1..n, ties sharing their average rank. */
static int average_ranks(const float *v, int n, double *rank) {
    ranked_t *t = malloc((size_t)n * sizeof *t);
    if (!t)
        return -1;
    for (int i = 0; i < n; i++)
        t[i] = (ranked_t){isnan(v[i]) ? -INFINITY : v[i], i};
    qsort(t, (size_t)n, sizeof *t, cmp_ranked);
    for (int i = 0; i < n;) {
        int j = i;
        while (j + 1 < n && t[j + 1].v == t[i].v)
            j++;
        for (int k = i; k <= j; k++)
            rank[t[k].i] = (i + j) / 2.0 + 1;
        i = j + 1;
    }
    free(t);
    return 0;
}

double dlc_rank_correlation(const float *a, const float *b, int n) {
    if (n < 2)
        return 0;
    double *ra = malloc((size_t)n * sizeof *ra), *rb = malloc((size_t)n * sizeof *rb);
    double r = 0;
    if (!ra || !rb || average_ranks(a, n, ra) < 0 || average_ranks(b, n, rb) < 0)
        goto cleanup;
    double ma = (n + 1) / 2.0, sab = 0, saa = 0, sbb = 0; /* both rank vectors have mean (n+1)/2 */
    for (int i = 0; i < n; i++) {
        sab += (ra[i] - ma) * (rb[i] - ma);
        saa += (ra[i] - ma) * (ra[i] - ma);
        sbb += (rb[i] - ma) * (rb[i] - ma);
    }
    r = saa > 0 && sbb > 0 ? sab / sqrt(saa * sbb) : 0;
cleanup:
    free(ra);
    free(rb);
    return r;
}
