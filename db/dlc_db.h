/* dlc_db.h — the tuning database: TVM tuning records, their tasks and stored
 * cost models in one SQLite file that many tuners and builds share.
 *
 * Usage:
 *   dlc_db_t *db = dlc_db_open(dlc_db_default_path(), 0);
 *   if (!db) die(dlc_last_error());
 *   dlc_db_import_t st;
 *   dlc_db_import_file(db, "llvm_v0.04.log", NULL, &st);  // all-or-nothing per file
 *   dlc_db_best_t best;
 *   if (dlc_db_best(db, "llvm -mcpu=skylake-avx512", "conv2d_NCHWc.x86", args, &best) == 0) {
 *       // best.rec.entity, best.rec.index, best.line (the TVM log line)
 *       dlc_db_best_clear(&best);
 *   }
 *   dlc_config_t *cfg;                                    // at compile time:
 *   dlc_db_use_tophub(db, NULL);                          // TopHub when db has nothing
 *   if (dlc_db_apply_best(db, task, &cfg, NULL) == 0) ... // tuned config, else default
 *   dlc_db_close(&db);
 *
 * Records are TVM v0.1/v0.2 log lines (schedule-templates/dlc_space.h). Each
 * is stored with its fields in columns and its line as read (export gives a
 * log back byte for byte; a record added from a dlc_record_t gets the line
 * dlc_record_format writes). Records whose lines, written by
 * dlc_record_format, are equal are the same record: stored once (the first).
 *
 * Best config — ApplyHistoryBest's rule (TVM python/tvm/autotvm/task/
 * dispatcher.py) plus an exact-target step in front. For a query (target T,
 * task name, args), among the error-free records (error_no 0) of the same
 * workload (task name and args), the winner is the one with the lowest mean
 * cost in the first non-empty group of:
 *   1. records whose target string is T exactly (whitespace collapsed);
 *   2. records whose -model equals T's -model (skipped when T has no model or
 *      model "unknown", which TVM never indexes);
 *   3. for each key k of T in order (TVM's target keys: -keys=..., then
 *      -device, then the kind's defaults, e.g. arm_cpu, cpu), records whose
 *      target carries key k.
 * Ties go to the record stored first (TVM keeps the first on equal means).
 * It is one indexed SQL query.
 *
 * Concurrency: the file is in WAL mode with a busy timeout, so readers never
 * block and writers wait their turn; each import is one transaction.
 * Ownership: a dlc_db_t is owned by the thread that opened it (one
 * connection; open one per thread or process).
 *
 * Shared over HTTP: dlc_db_http.h (dlc-db serve; dlc_db_open_url gives a
 * dlc_db_t whose dlc_db_best asks the server, with this file as its cache).
 */
#ifndef DLC_DB_H
#define DLC_DB_H

#include <stdint.h>
#include <jansson.h>

#include "schedule-templates/dlc_space.h"
#include "support/dlc_support.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dlc_db dlc_db_t;

/* $DLC_DB if set, else <dlc_cache_dir()>/tuning.db (~/.cache/dlc/tuning.db).
 * Static storage; not created. */
const char *dlc_db_default_path(void);

enum {
    DLC_DB_READONLY = 1,   /* open an existing file for queries only */
};
/* Opens (creating it and its folder unless read-only) and migrates the schema
 * to the current version. NULL with the last error on failure, e.g. a file
 * that is not a database or has a schema newer than this build knows. */
dlc_db_t *dlc_db_open(const char *path, int flags);
void dlc_db_close(dlc_db_t **db); /* accepts NULL; *db becomes NULL */
int dlc_db_schema_version(dlc_db_t *db); /* the file's version, or negative */
#define DLC_DB_SCHEMA_VERSION 2

/* Where a record came from, stored with it. Any field may be NULL (""). */
typedef struct {
    const char *device_key;   /* the tracker key measured on, e.g. "rpi4" */
    const char *device_desc;  /* free text: board, OS, clocks */
    const char *tool_version; /* the measuring tool; NULL: the record's tvm_version */
} dlc_db_source_t;

/* Explicit transactions around many dlc_db_add calls (BEGIN IMMEDIATE: the
 * write lock is taken at once, waiting up to the busy timeout). */
int dlc_db_begin(dlc_db_t *db);
int dlc_db_commit(dlc_db_t *db);
int dlc_db_rollback(dlc_db_t *db);

/* Stores one record (its task created on first use). *added (may be NULL) is
 * 1 when stored, 0 when the same record was already there. */
int dlc_db_add(dlc_db_t *db, const dlc_record_t *rec, const dlc_db_source_t *src, int *added);

/* The same from a TVM log line (no newline needed), kept as given for
 * export; DLC_EPARSE for a malformed line. */
int dlc_db_add_line(dlc_db_t *db, const char *line, size_t len, const dlc_db_source_t *src, int *added);

/* Import of a TVM log: one transaction per file, so a file is imported
 * entirely or not at all (a process killed mid-import leaves the db as it
 * was). Malformed lines are reported as "file:line: reason" (to on_error,
 * else to the log at WARN) and skipped; with `strict` any malformed line
 * rolls the file back (DLC_EPARSE). */
typedef struct {
    int strict;
    void (*on_error)(const char *file, int64_t line, const char *reason, void *user);
    void *user;
    int64_t lines_read, added, duplicates, malformed; /* counts, set by the import */
} dlc_db_import_t;
int dlc_db_import_file(dlc_db_t *db, const char *path, const dlc_db_source_t *src, dlc_db_import_t *st);
/* The same over a buffer; `name` is used in messages ("<stdin>"). */
int dlc_db_import_buffer(dlc_db_t *db, const char *name, const char *data, size_t len, const dlc_db_source_t *src,
                         dlc_db_import_t *st);

typedef enum { DLC_DB_MATCH_EXACT, DLC_DB_MATCH_MODEL, DLC_DB_MATCH_KEY, DLC_DB_MATCH_COUNT } dlc_db_match_t;
const char *dlc_db_match_name(dlc_db_match_t m); /* "exact", "model", "key" */

typedef struct {
    dlc_record_t rec;       /* the winning record (owned) */
    char *line;             /* its TVM log line, no newline (owned) */
    int64_t id;             /* its row id */
    double mean_cost;       /* seconds */
    dlc_db_match_t match;   /* how its target matched */
    char matched_key[32];   /* the key for DLC_DB_MATCH_KEY, else "" */
    char device_key[64], tool_version[64];
    const char *origin;     /* "db", or "tophub": from a TopHub handle (static) */
} dlc_db_best_t;
void dlc_db_best_clear(dlc_db_best_t *b);

/* Whether a beats b among the best records of an op's candidate templates
 * (they compute the same op, so their costs compare): the closer target
 * match, then the lower mean cost. */
int dlc_db_best_beats(const dlc_db_best_t *a, const dlc_db_best_t *b);

/* The best error-free record for (target, task, args) by the rule above:
 * 0, DLC_ENOTFOUND (out cleared), or an error. */
int dlc_db_best(dlc_db_t *db, const char *target, const char *task_name, const json_t *args, dlc_db_best_t *out);

/* ---- compile time ----
 * The config to build a task with: the best record for (the task's target,
 * its template name, its args) by the rule above, as a config of the task's
 * space (*cfg, owned by the caller, borrows the task's space). best (may be
 * NULL) receives the record; best->origin says where it came from. When db
 * has no usable record and TopHub is its fallback (dlc_db_use_tophub), the
 * same rule runs over TopHub's records: the user's db always wins, even a
 * key match of it over an exact TopHub match. DLC_ENOTFOUND (*cfg NULL) when
 * neither has an error-free record whose entity is in dlc's space: the
 * caller builds the template's default config, and the first miss of each
 * task on this handle logs one warning (WARN) naming the task, the target,
 * whether TopHub had nothing too, and how to fix it. */
typedef struct dlc_task dlc_task_t;
int dlc_db_apply_best(dlc_db_t *db, const dlc_task_t *task, dlc_config_t **cfg, dlc_db_best_t *best);
/* The same over n tasks of one op (its candidate templates, tasks[0] the
 * default): the best record of any of them, the user's db before TopHub,
 * within one the closest target match and then the lowest mean cost (the
 * tasks compute the same op, so their costs compare); *chosen is its task's
 * index. A miss warns about tasks[0], and *chosen is 0. This is how TVM
 * picks among an op's implementations when tuned records exist. */
int dlc_db_apply_best_of(dlc_db_t *db, dlc_task_t *const *tasks, int n, int *chosen, dlc_config_t **cfg,
                         dlc_db_best_t *best);

/* ---- TopHub: TVM's pre-tuned packages as a built-in fallback ----
 * A TopHub handle is a database of the records of the *.log files in a
 * folder (TVM's TopHub packages, e.g. llvm_v0.04.log, arm_cpu_v0.08.log). They
 * are imported into a cache file on first use, once; when any file is added,
 * removed, or changes size or mtime, the cache is emptied and every file
 * imported again, in one transaction (other processes see the old set or the
 * new one). All packages are imported, not only the target's: the matching
 * rule above keeps other targets' records out (TVM's target keys). */

/* $DLC_TOPHUB_DIR if set, else the folder built in (CMake's DLC_TOPHUB_DIR,
 * by default the source tree's ../shared/data/tophub). Per-thread storage. */
const char *dlc_db_tophub_dir(void);
/* 0 when $DLC_NO_TOPHUB is set to anything but "" or "0". */
int dlc_db_tophub_enabled(void);
/* Opens TopHub's records from dir (NULL: dlc_db_tophub_dir()), importing into
 * cache_path first if needed (NULL: <dlc_cache_dir()>/tophub.db; a cache
 * that cannot be written is replaced by an in-memory import). dlc_db_best on
 * it gives best.origin "tophub". NULL with the last error: DLC_ENOTFOUND for a
 * missing folder or one without *.log files, else the import's error. */
dlc_db_t *dlc_db_open_tophub(const char *dir, const char *cache_path);
/* Makes TopHub in dir (NULL: dlc_db_tophub_dir()) the fallback of
 * dlc_db_apply_best on db. Nothing is opened until a task misses in db; a
 * TopHub that cannot be opened then logs one warning with the reason and
 * builds go on with default configs. Does nothing when dlc_db_tophub_enabled()
 * is 0. 0, or DLC_ENOMEM. */
int dlc_db_use_tophub(dlc_db_t *db, const char *dir);

/* Records as TVM log lines, in the order they were stored. target: only that
 * exact target string (NULL: all). best_only: one line per task (target, name,
 * args), its best error-free record. Stops at a nonzero return of fn. */
int dlc_db_export(dlc_db_t *db, const char *target, int best_only,
                  int (*fn)(const char *line, size_t len, void *user), void *user);

/* Every record (errors included) of the tasks with exactly this target
 * string (whitespace collapsed) and task name, and these args (NULL: any
 * args), in the order they were stored: what a tuner resumes from (one task)
 * or learns from (a template's other tasks). fn gets a record valid during
 * the call; a nonzero return stops the scan and is returned. Lines that no
 * longer parse are skipped with a warning. On a URL handle: the local cache. */
int dlc_db_records(dlc_db_t *db, const char *target, const char *task_name, const json_t *args,
                   int (*fn)(const dlc_record_t *rec, void *user), void *user);

/* Per target string: tasks, records and failed records (error_no != 0). */
typedef struct {
    const char *target;
    int64_t tasks, records, errors;
} dlc_db_target_stats_t;
int dlc_db_stats(dlc_db_t *db, int (*fn)(const dlc_db_target_stats_t *s, void *user), void *user);
int64_t dlc_db_record_count(dlc_db_t *db); /* or negative on error */

/* Cost models (opaque blobs, e.g. a serialised XGBoost-like model) for
 * transfer learning, one per (name, target); put replaces. get: *data is
 * malloc'd (caller frees); DLC_ENOTFOUND if absent. */
int dlc_db_model_put(dlc_db_t *db, const char *name, const char *target, const char *kind, const void *data,
                     size_t len);
int dlc_db_model_get(dlc_db_t *db, const char *name, const char *target, char **kind, void **data, size_t *len);

/* VACUUM and a WAL checkpoint. */
int dlc_db_vacuum(dlc_db_t *db);
/* PRAGMA integrity_check and foreign_key_check: 0 when both pass, else
 * DLC_EIO with the first problems in the last error. */
int dlc_db_check(dlc_db_t *db);

#ifdef __cplusplus
}
#endif
#endif
