/* tune_run.c — the tuning driver: a tuner proposes configs, the measurer
 * measures them, every result goes to the db at once; resume from the
 * task's stored records, transfer from other tasks of the same template. */
#include "tuner/tune_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void dlc_tune_opts_default(dlc_tune_opts_t *o) {
    memset(o, 0, sizeof *o);
    o->tuner = DLC_TUNER_XGB;
    o->trials = 1000;
    o->features = DLC_FEATURE_ITERVAR;
    o->loss = DLC_COSTMODEL_RANK;
    o->batch = 16;
    o->transfer = 1;
    o->transfer_max = 2000;
}

void dlc_tune_summary_clear(dlc_tune_summary_t *s) {
    json_decref(s->best_entity);
    memset(s, 0, sizeof *s);
    s->best_index = -1;
}

typedef struct {
    const dlc_task_t *task;
    dlc_feature_kind_t kind;
} feat_ctx_t;

static int features_of(int64_t index, float *out, void *user) {
    feat_ctx_t *fc = user;
    dlc_config_t *cfg = NULL;
    int rc = dlc_space_get(dlc_task_space(fc->task), index, &cfg);
    if (rc == 0)
        rc = dlc_feature_config(fc->task, cfg, fc->kind, out);
    dlc_config_destroy(&cfg);
    return rc;
}

typedef struct {
    const dlc_task_t *task;
    const dlc_tune_opts_t *o;
    dlc_tune_summary_t *sum;
    dlc_tuner_t *tuner;
    int64_t done, total, best_at;
    double t0;
    int db_rc; /* the first db write failure */
} run_t;

static void note_best(run_t *r, int64_t index, double gflops) {
    if (gflops <= 0 || gflops <= r->sum->best_gflops)
        return;
    r->sum->best_gflops = gflops;
    r->sum->best_index = index;
    r->best_at = r->done;
    json_decref(r->sum->best_entity);
    r->sum->best_entity = NULL;
    dlc_config_t *cfg = NULL;
    if (dlc_space_get(dlc_task_space(r->task), index, &cfg) == 0)
        r->sum->best_entity = dlc_config_to_entity_json(cfg);
    dlc_config_destroy(&cfg);
}

/* The trial as a TVM v0.2 record of the task (errors cost 1e9, as TVM writes). */
static int store(run_t *r, const dlc_trial_t *t) {
    dlc_record_t rec;
    dlc_record_init(&rec);
    dlc_config_t *cfg = NULL;
    static const double failed = 1e9;
    int rc = dlc_space_get(dlc_task_space(r->task), t->index, &cfg);
    if (rc == 0)
        rc = dlc_record_set_config(&rec, cfg);
    if (rc == 0) {
        rec.layout = 2;
        rec.has_version = 1;
        rec.version = 0.2;
        rec.target = strdup(dlc_task_target(r->task)->str);
        rec.task_name = strdup(dlc_task_template(r->task)->name);
        rec.args = json_deep_copy(dlc_task_args(r->task));
        rec.kwargs = json_object();
        rec.tvm_version = strdup("dlc-" DLC_VERSION);
        int n = t->error_no == 0 && t->n_costs > 0 ? t->n_costs : 1;
        rec.costs = malloc((size_t)n * sizeof *rec.costs);
        if (!rec.target || !rec.task_name || !rec.args || !rec.kwargs || !rec.tvm_version || !rec.costs) {
            rc = dlc_error(DLC_ENOMEM, "out of memory");
        } else {
            memcpy(rec.costs, t->error_no == 0 && t->n_costs > 0 ? t->costs : &failed, (size_t)n * sizeof *rec.costs);
            rec.n_costs = n;
            rec.error_no = t->error_no;
            rec.all_cost = t->all_cost;
            rec.timestamp = t->timestamp;
            if (r->o->db)
                rc = dlc_db_add(r->o->db, &rec, &r->o->source, NULL);
            if (rc == 0 && r->o->on_record)
                r->o->on_record(&rec, r->o->user);
        }
    }
    dlc_record_clear(&rec);
    dlc_config_destroy(&cfg);
    return rc;
}

static void on_trial(const dlc_trial_t *t, void *user) {
    run_t *r = user;
    r->done++;
    r->sum->trials++;
    if (t->error_no >= 0 && t->error_no < DLC_MEASURE_ERROR_COUNT)
        r->sum->errors[t->error_no]++;
    if (r->o->db || r->o->on_record) {
        int rc = store(r, t);
        if (rc < 0 && r->db_rc == 0) {
            r->db_rc = rc;
            dlc_log(DLC_LOG_ERROR, "tune: storing a result failed: %s", dlc_last_error());
        }
    }
    note_best(r, t->index, t->gflops);
    if (r->o->on_trial) {
        dlc_tune_progress_t p = {.task = r->task, .done = r->done, .total = r->total,
                                 .best_gflops = r->sum->best_gflops, .best_index = r->sum->best_index,
                                 .elapsed_s = dlc_now() - r->t0};
        r->o->on_trial(&p, t, r->o->user);
    }
}

/* ---- resume: the task's stored records are trials already done ---- */
typedef struct {
    run_t *r;
    int64_t *idx;
    double *score;
    int n, cap;
} resume_t;

double dlc__tune_record_gflops(const dlc_record_t *rec, double flops) {
    if (rec->error_no != 0 || rec->n_costs <= 0)
        return 0;
    double sum = 0;
    for (int i = 0; i < rec->n_costs; i++)
        sum += rec->costs[i];
    double mean = sum / rec->n_costs;
    return mean > 0 && mean < 1e8 ? flops / mean / 1e9 : 0; /* 1e9: TVM's cost of a failure */
}

static int on_stored(const dlc_record_t *rec, void *user) {
    resume_t *rs = user;
    dlc_config_t *cfg = NULL;
    if (dlc_config_from_entity_json(dlc_task_space(rs->r->task), rec->entity, &cfg) < 0)
        return 0; /* written by another space version: not ours to resume */
    int64_t index = dlc_config_index(cfg);
    dlc_config_destroy(&cfg);
    for (int i = 0; i < rs->n; i++)
        if (rs->idx[i] == index)
            return 0; /* measured twice in the past: counted once */
    if (rs->n == rs->cap) {
        int cap = rs->cap ? 2 * rs->cap : 256;
        int64_t *ni = realloc(rs->idx, (size_t)cap * sizeof *ni);
        if (ni)
            rs->idx = ni;
        double *ns = realloc(rs->score, (size_t)cap * sizeof *ns);
        if (ns)
            rs->score = ns;
        if (!ni || !ns)
            return dlc_error(DLC_ENOMEM, "out of memory");
        rs->cap = cap;
    }
    rs->idx[rs->n] = index;
    rs->score[rs->n++] = dlc__tune_record_gflops(rec, dlc_task_flops(rs->r->task));
    if (rec->error_no >= 0 && rec->error_no < DLC_MEASURE_ERROR_COUNT)
        rs->r->sum->errors[rec->error_no]++;
    return 0;
}

static int resume(run_t *r) {
    resume_t rs = {.r = r};
    const dlc_task_t *task = r->task;
    int rc = dlc_db_records(r->o->db, dlc_task_target(task)->str, dlc_task_template(task)->name,
                            dlc_task_args(task), on_stored, &rs);
    if (rc == 0 && rs.n > 0) {
        rc = dlc_tuner_update(r->tuner, rs.idx, rs.score, rs.n);
        for (int i = 0; i < rs.n; i++) {
            r->done++;
            note_best(r, rs.idx[i], rs.score[i]);
        }
        r->sum->resumed = rs.n;
    }
    free(rs.idx);
    free(rs.score);
    return rc;
}

/* ---- the run ---- */
int dlc_tune_task(const dlc_task_t *task, dlc_measurer_t *m, const dlc_tune_opts_t *o, dlc_tune_summary_t *out) {
    memset(out, 0, sizeof *out);
    out->best_index = -1;
    const dlc_space_t *sp = dlc_task_space(task);
    feat_ctx_t fc = {.task = task, .kind = o->features};
    dlc_tuner_opts_t to;
    dlc_tuner_opts_default(&to, o->tuner);
    to.seed = o->seed;
    to.loss = o->loss;
    to.n_features = dlc_feature_len(o->features, sp);
    to.features = features_of;
    to.feature_user = &fc;
    run_t r = {.task = task, .o = o, .sum = out, .total = o->trials, .t0 = dlc_now()};
    int64_t *idx = NULL;
    dlc_trial_t *trials = NULL;
    double *score = NULL, model_t0;
    int rc = 0, batch = o->batch > 0 ? o->batch : 16;
    if (!(r.tuner = dlc_tuner_new(sp, &to)))
        return dlc_last_status() < 0 ? dlc_last_status() : DLC_EINVAL;
    idx = malloc((size_t)batch * sizeof *idx);
    score = malloc((size_t)batch * sizeof *score);
    trials = calloc((size_t)batch, sizeof *trials);
    if (!idx || !score || !trials) {
        rc = dlc_error(DLC_ENOMEM, "out of memory");
        goto cleanup;
    }
    if (o->resume && o->db && (rc = resume(&r)) < 0)
        goto cleanup;
    if (o->transfer && o->db && o->tuner == DLC_TUNER_XGB) {
        model_t0 = dlc_now();
        int64_t rows = 0;
        if ((rc = dlc__tune_transfer(task, o, r.tuner, &rows)) < 0)
            goto cleanup;
        out->history = rows;
        if (rows == 0 && dlc__tune_load_model(task, o, r.tuner) == 1)
            out->model_loaded = 1;
        out->model_s += dlc_now() - model_t0;
    }
    while (r.done < o->trials) {
        if (o->stop && *o->stop) {
            out->interrupted = 1;
            break;
        }
        if (o->early_stopping > 0 && r.sum->best_index >= 0 && r.done - r.best_at >= o->early_stopping) {
            out->early_stopped = 1;
            break;
        }
        if (!dlc_tuner_has_next(r.tuner)) {
            out->exhausted = 1;
            break;
        }
        int want = o->trials - r.done < batch ? (int)(o->trials - r.done) : batch;
        model_t0 = dlc_now();
        int n = dlc_tuner_next_batch(r.tuner, idx, want);
        out->model_s += dlc_now() - model_t0;
        if (n < 0) {
            rc = n;
            goto cleanup;
        }
        if (n == 0) {
            out->exhausted = 1;
            break;
        }
        if ((rc = dlc_measurer_run(m, task, idx, n, trials, on_trial, &r)) < 0)
            goto cleanup;
        if (r.db_rc < 0) {
            rc = r.db_rc;
            goto cleanup;
        }
        for (int i = 0; i < n; i++)
            score[i] = trials[i].gflops;
        model_t0 = dlc_now();
        rc = dlc_tuner_update(r.tuner, idx, score, n);
        out->model_s += dlc_now() - model_t0;
        if (rc < 0)
            goto cleanup;
    }
    if (o->db && o->tuner == DLC_TUNER_XGB)
        dlc__tune_save_model(task, o, r.tuner);
cleanup:
    out->elapsed_s = dlc_now() - r.t0;
    free(idx);
    free(score);
    free(trials);
    dlc_tuner_destroy(&r.tuner);
    return rc;
}
