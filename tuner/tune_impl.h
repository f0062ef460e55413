/* tune_impl.h — private to tuner/: what the tuning-run files share. */
#ifndef DLC_TUNE_IMPL_H
#define DLC_TUNE_IMPL_H

#include "tuner/dlc_tune.h"

/* Configs compiled in one translation unit at most (dlc_measurer_opts_t.group). */
#define DLC__TUNE_MAX_GROUP 16

/* GFLOP/s of a stored record (0 for a failure) for a task of `flops`. */
double dlc__tune_record_gflops(const dlc_record_t *rec, double flops);

/* Transfer learning: features and throughput of the error-free and failed
 * records of other tasks with the task's template and exact target in o->db
 * (at most o->transfer_max rows, one group per task) go to the tuner's
 * history. *rows gets the number used. Failures to read a record are skipped;
 * only db errors are returned. */
int dlc__tune_transfer(const dlc_task_t *task, const dlc_tune_opts_t *o, dlc_tuner_t *tuner, int64_t *rows);
/* Without history rows: the model stored by an earlier run of the template
 * and target (same loss and features) starts the tuner. 1 if one was loaded. */
int dlc__tune_load_model(const dlc_task_t *task, const dlc_tune_opts_t *o, dlc_tuner_t *tuner);
/* Stores the XGB tuner's model in o->db as (template name, target); a
 * failure is logged, not returned (the records are what matter). */
void dlc__tune_save_model(const dlc_task_t *task, const dlc_tune_opts_t *o, dlc_tuner_t *tuner);

#endif
