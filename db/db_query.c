/* db_query.c — reading the database: the best config for a task, export,
 * per-target statistics and stored cost models. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db_impl.h"

static const char *const match_names[] = {"exact", "model", "key"};
_Static_assert(sizeof match_names / sizeof *match_names == DLC_DB_MATCH_COUNT, "a name per match kind");

const char *dlc_db_match_name(dlc_db_match_t m) {
    return (unsigned)m < DLC_DB_MATCH_COUNT ? match_names[m] : "?";
}

void dlc_db_best_clear(dlc_db_best_t *b) {
    if (!b)
        return;
    dlc_record_clear(&b->rec);
    free(b->line);
    memset(b, 0, sizeof *b);
    dlc_record_init(&b->rec);
}

static void copy_col(char *dst, size_t cap, sqlite3_stmt *s, int col) {
    const unsigned char *v = sqlite3_column_text(s, col);
    snprintf(dst, cap, "%s", v ? (const char *)v : "");
}

int dlc_db_best(dlc_db_t *db, const char *target, const char *task_name, const json_t *args, dlc_db_best_t *out) {
    int rc = db->remote_best ? db->remote_best(db, target, task_name, args, out)
                             : dlc__db_best_local(db, target, task_name, args, out);
    if (rc == 0)
        out->origin = db->origin;
    return rc;
}

int dlc__db_best_local(dlc_db_t *db, const char *target, const char *task_name, const json_t *args,
                       dlc_db_best_t *out) {
    memset(out, 0, sizeof *out);
    dlc_record_init(&out->rec);
    if (!target || !task_name || !args)
        return dlc_error(DLC_EINVAL, "best: target, task name and args are required");
    dlc__db_target_t t;
    int rc = dlc__db_target_info(target, &t);
    if (rc < 0)
        return rc;
    char *cargs = dlc__db_canonical_json(args);
    if (!cargs)
        return dlc_last_status() < 0 ? dlc_last_status() : DLC_ENOMEM;
    char hash[65], keys[8][40];
    dlc__db_workload_hash(task_name, cargs, hash);
    sqlite3_stmt *s = dlc__db_stmt(db, DLC__DB_STMT_BEST);
    if (!s) {
        free(cargs);
        return DLC_EIO;
    }
    sqlite3_bind_text(s, 1, t.text, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, t.model, -1, SQLITE_STATIC);
    for (int i = 0; i < t.n_keys && i < 8; i++) {
        snprintf(keys[i], sizeof keys[i], ",%s,", t.keys[i]);
        sqlite3_bind_text(s, 3 + i, keys[i], -1, SQLITE_STATIC);
    }
    sqlite3_bind_text(s, 11, hash, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 12, task_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 13, cargs, -1, SQLITE_STATIC);
    int src = sqlite3_step(s);
    if (src == SQLITE_ROW) {
        out->id = sqlite3_column_int64(s, 0);
        const char *line = (const char *)sqlite3_column_text(s, 1);
        out->line = strdup(line ? line : "");
        out->mean_cost = sqlite3_column_double(s, 2);
        copy_col(out->device_key, sizeof out->device_key, s, 3);
        copy_col(out->tool_version, sizeof out->tool_version, s, 4);
        int rank = sqlite3_column_int(s, 5);
        out->match = rank == 0 ? DLC_DB_MATCH_EXACT : rank == 1 ? DLC_DB_MATCH_MODEL : DLC_DB_MATCH_KEY;
        if (rank >= 2)
            snprintf(out->matched_key, sizeof out->matched_key, "%s", t.keys[rank - 2]);
        rc = !out->line ? dlc_error(DLC_ENOMEM, "best: out of memory")
                        : dlc_record_parse(out->line, strlen(out->line), &out->rec);
    } else if (src == SQLITE_DONE) {
        rc = dlc_error(DLC_ENOTFOUND, "no error-free record of %s %s for target '%s'", task_name, cargs, t.text);
    } else {
        rc = dlc__db_err(db, src, "best");
    }
    sqlite3_reset(s);
    free(cargs);
    if (rc < 0)
        dlc_db_best_clear(out);
    return rc;
}

int dlc_db_export(dlc_db_t *db, const char *target, int best_only,
                  int (*fn)(const char *line, size_t len, void *user), void *user) {
    dlc__db_target_t t;
    if (target) {
        int rc = dlc__db_target_info(target, &t);
        if (rc < 0)
            return rc;
    }
    sqlite3_stmt *s = dlc__db_stmt(db, best_only ? DLC__DB_STMT_EXPORT_BEST : DLC__DB_STMT_EXPORT_ALL);
    if (!s)
        return DLC_EIO;
    if (target)
        sqlite3_bind_text(s, 1, t.text, -1, SQLITE_STATIC);
    int rc = 0, src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(s, 0);
        if ((rc = fn(line ? line : "", (size_t)sqlite3_column_bytes(s, 0), user)) != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = dlc__db_err(db, src, "export");
    sqlite3_reset(s);
    return rc;
}

int dlc_db_records(dlc_db_t *db, const char *target, const char *task_name, const json_t *args,
                   int (*fn)(const dlc_record_t *rec, void *user), void *user) {
    if (!target || !task_name || !fn)
        return dlc_error(DLC_EINVAL, "records: target, task name and a callback are required");
    dlc__db_target_t t;
    int rc = dlc__db_target_info(target, &t);
    if (rc < 0)
        return rc;
    char *cargs = NULL;
    if (args && !(cargs = dlc__db_canonical_json(args)))
        return dlc_last_status() < 0 ? dlc_last_status() : DLC_ENOMEM;
    sqlite3_stmt *s = dlc__db_stmt(db, DLC__DB_STMT_TASK_RECORDS);
    if (!s) {
        free(cargs);
        return DLC_EIO;
    }
    sqlite3_bind_text(s, 1, t.text, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, task_name, -1, SQLITE_STATIC);
    if (cargs)
        sqlite3_bind_text(s, 3, cargs, -1, SQLITE_STATIC);
    dlc_record_t rec;
    dlc_record_init(&rec);
    int src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        const char *line = (const char *)sqlite3_column_text(s, 0);
        if (dlc_record_parse(line ? line : "", (size_t)sqlite3_column_bytes(s, 0), &rec) < 0) {
            dlc_log(DLC_LOG_WARN, "db: skipping a stored record that no longer parses: %s", dlc_last_error());
            continue;
        }
        rc = fn(&rec, user);
        dlc_record_clear(&rec);
        if (rc != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE && src != SQLITE_ROW)
        rc = dlc__db_err(db, src, "records");
    sqlite3_reset(s);
    free(cargs);
    return rc;
}

int dlc_db_stats(dlc_db_t *db, int (*fn)(const dlc_db_target_stats_t *s, void *user), void *user) {
    sqlite3_stmt *s = dlc__db_stmt(db, DLC__DB_STMT_STATS);
    if (!s)
        return DLC_EIO;
    int rc = 0, src;
    while ((src = sqlite3_step(s)) == SQLITE_ROW) {
        const char *target = (const char *)sqlite3_column_text(s, 0);
        dlc_db_target_stats_t st = {target ? target : "", sqlite3_column_int64(s, 1), sqlite3_column_int64(s, 2),
                                    sqlite3_column_int64(s, 3)};
        if ((rc = fn(&st, user)) != 0)
            break;
    }
    if (rc == 0 && src != SQLITE_DONE)
        rc = dlc__db_err(db, src, "stats");
    sqlite3_reset(s);
    return rc;
}

int64_t dlc_db_record_count(dlc_db_t *db) {
    sqlite3_stmt *s = dlc__db_stmt(db, DLC__DB_STMT_RECORD_COUNT);
    if (!s)
        return DLC_EIO;
    int src = sqlite3_step(s);
    int64_t n = src == SQLITE_ROW ? sqlite3_column_int64(s, 0) : dlc__db_err(db, src, "count");
    sqlite3_reset(s);
    return n;
}

int dlc_db_model_put(dlc_db_t *db, const char *name, const char *target, const char *kind, const void *data,
                     size_t len) {
    if (!name || !target || !kind || (!data && len))
        return dlc_error(DLC_EINVAL, "model put: name, target and kind are required");
    if (len > 1000000000)
        return dlc_error(DLC_EINVAL, "model put: %zu bytes is too large", len);
    sqlite3_stmt *s = dlc__db_stmt(db, DLC__DB_STMT_MODEL_PUT);
    if (!s)
        return DLC_EIO;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, target, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_blob(s, 4, data ? data : "", (int)len, SQLITE_STATIC);
    sqlite3_bind_double(s, 5, (double)ts.tv_sec + ts.tv_nsec * 1e-9);
    int src = sqlite3_step(s);
    sqlite3_reset(s);
    return src == SQLITE_DONE ? 0 : dlc__db_err(db, src, "model put");
}

int dlc_db_model_get(dlc_db_t *db, const char *name, const char *target, char **kind, void **data, size_t *len) {
    *data = NULL;
    *len = 0;
    if (kind)
        *kind = NULL;
    sqlite3_stmt *s = dlc__db_stmt(db, DLC__DB_STMT_MODEL_GET);
    if (!s)
        return DLC_EIO;
    sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, target, -1, SQLITE_STATIC);
    int src = sqlite3_step(s), rc = 0;
    if (src == SQLITE_ROW) {
        size_t n = (size_t)sqlite3_column_bytes(s, 1);
        const void *blob = sqlite3_column_blob(s, 1);
        *data = malloc(n ? n : 1);
        if (kind)
            *kind = strdup((const char *)sqlite3_column_text(s, 0));
        if (!*data || (kind && !*kind)) {
            free(*data);
            *data = NULL;
            if (kind) {
                free(*kind);
                *kind = NULL;
            }
            rc = dlc_error(DLC_ENOMEM, "model get: out of memory");
        } else {
            if (n)
                memcpy(*data, blob, n);
            *len = n;
        }
    } else {
        rc = src == SQLITE_DONE ? dlc_error(DLC_ENOTFOUND, "no cost model '%s' for target '%s'", name, target)
                                : dlc__db_err(db, src, "model get");
    }
    sqlite3_reset(s);
    return rc;
}
