/* tune_transfer.c — what a tuning run learns from the db before measuring
 * anything: the records of other tasks of the same template on the same
 * target become history rows for the XGB tuner (features of their configs
 * in their own spaces, their throughput), and the trained model is stored
 * back afterwards. AutoTVM's transfer learning does the same from a log. */
#include "tuner/tune_impl.h"

#include <stdlib.h>
#include <string.h>

/* Records grouped by their task args, in the order they were stored. */
typedef struct {
    json_t *args;
    dlc_record_t *rec;
    int n, cap;
} bucket_t;

typedef struct {
    const dlc_task_t *task;
    bucket_t *b;
    int n, cap;
    int64_t total, max;
} gather_t;

static int on_record(const dlc_record_t *rec, void *user) {
    gather_t *g = user;
    if (json_equal(rec->args, dlc_task_args(g->task)))
        return 0; /* this task's own records are resume's business */
    if (g->total >= g->max)
        return 1;
    bucket_t *b = NULL;
    for (int i = 0; i < g->n && !b; i++)
        if (json_equal(g->b[i].args, rec->args))
            b = &g->b[i];
    if (!b) {
        if (g->n == g->cap) {
            int cap = g->cap ? 2 * g->cap : 8;
            bucket_t *nb = realloc(g->b, (size_t)cap * sizeof *nb);
            if (!nb)
                return dlc_error(DLC_ENOMEM, "out of memory");
            g->b = nb;
            g->cap = cap;
        }
        b = &g->b[g->n++];
        memset(b, 0, sizeof *b);
        b->args = json_deep_copy(rec->args);
    }
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        dlc_record_t *nr = realloc(b->rec, (size_t)cap * sizeof *nr);
        if (!nr)
            return dlc_error(DLC_ENOMEM, "out of memory");
        b->rec = nr;
        b->cap = cap;
    }
    dlc_record_init(&b->rec[b->n]);
    if (dlc_record_copy(&b->rec[b->n], rec) < 0)
        return dlc_last_status();
    b->n++;
    g->total++;
    return 0;
}

int dlc__tune_transfer(const dlc_task_t *task, const dlc_tune_opts_t *o, dlc_tuner_t *tuner, int64_t *rows) {
    *rows = 0;
    gather_t g = {.task = task, .max = o->transfer_max > 0 ? o->transfer_max : 2000};
    const char *target = dlc_task_target(task)->str, *name = dlc_task_template(task)->name;
    int rc = dlc_db_records(o->db, target, name, NULL, on_record, &g);
    if (rc == 1)
        rc = 0;
    int len = dlc_feature_len(o->features, dlc_task_space(task));
    float *X = NULL, *y = NULL;
    int *groups = NULL, n_groups = 0, n = 0;
    if (rc < 0 || g.total == 0)
        goto cleanup;
    X = malloc((size_t)g.total * (size_t)len * sizeof *X);
    y = malloc((size_t)g.total * sizeof *y);
    groups = calloc((size_t)g.n, sizeof *groups);
    if (!X || !y || !groups) {
        rc = dlc_error(DLC_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (int i = 0; i < g.n; i++) {
        dlc_task_t *other = NULL;
        if (dlc_task_create(name, g.b[i].args, dlc_task_target(task), &other) < 0)
            continue;
        if (dlc_feature_len(o->features, dlc_task_space(other)) != len) {
            dlc_task_destroy(&other); /* knob vectors of another shape */
            continue;
        }
        int start = n, ok = 0;
        for (int j = 0; j < g.b[i].n; j++) {
            dlc_config_t *cfg = NULL;
            if (dlc_config_from_entity_json(dlc_task_space(other), g.b[i].rec[j].entity, &cfg) < 0)
                continue;
            if (dlc_feature_config(other, cfg, o->features, X + (size_t)n * len) == 0) {
                y[n] = (float)dlc__tune_record_gflops(&g.b[i].rec[j], dlc_task_flops(other));
                ok += y[n] > 0;
                n++;
            }
            dlc_config_destroy(&cfg);
        }
        dlc_task_destroy(&other);
        if (ok < 2) { /* nothing to rank within this task */
            n = start;
            continue;
        }
        groups[n_groups++] = n - start;
    }
    if (n > 0) {
        rc = dlc_tuner_add_history(tuner, X, y, n, groups, n_groups);
        if (rc == 0)
            *rows = n;
    }
cleanup:
    for (int i = 0; i < g.n; i++) {
        for (int j = 0; j < g.b[i].n; j++)
            dlc_record_clear(&g.b[i].rec[j]);
        free(g.b[i].rec);
        json_decref(g.b[i].args);
    }
    free(g.b);
    free(X);
    free(y);
    free(groups);
    return rc;
}

static void model_kind(const dlc_tune_opts_t *o, char *out, size_t cap) {
    snprintf(out, cap, "xgb-%s-%s", dlc_costmodel_loss_name(o->loss), dlc_feature_kind_name(o->features));
}

int dlc__tune_load_model(const dlc_task_t *task, const dlc_tune_opts_t *o, dlc_tuner_t *tuner) {
    char want[64], *kind = NULL;
    void *blob = NULL;
    size_t len = 0;
    model_kind(o, want, sizeof want);
    int rc = dlc_db_model_get(o->db, dlc_task_template(task)->name, dlc_task_target(task)->str, &kind, &blob, &len);
    if (rc == 0 && strcmp(kind ? kind : "", want) == 0)
        rc = dlc_tuner_load_model(tuner, blob, len) == 0 ? 1 : 0; /* a model that does not fit: ignored */
    else
        rc = 0;
    free(kind);
    free(blob);
    return rc;
}

void dlc__tune_save_model(const dlc_task_t *task, const dlc_tune_opts_t *o, dlc_tuner_t *tuner) {
    dlc_costmodel_t *model = dlc_tuner_model(tuner);
    if (!model || !dlc_costmodel_trained(model))
        return;
    void *blob = NULL;
    size_t len = 0;
    char kind[64];
    model_kind(o, kind, sizeof kind);
    if (dlc_costmodel_save(model, &blob, &len) < 0 ||
        dlc_db_model_put(o->db, dlc_task_template(task)->name, dlc_task_target(task)->str, kind, blob, len) < 0)
        dlc_log(DLC_LOG_WARN, "tune: the cost model was not stored: %s", dlc_last_error());
    free(blob);
}
