/* db_impl.h — private to db/: the connection, its prepared statements and
 * the helpers the db files share. */
#ifndef DLC_DB_IMPL_H
#define DLC_DB_IMPL_H

#include <sqlite3.h>

#include "db/dlc_db.h"

/* Prepared statements, prepared once per connection on first use. */
#define DLC_DB_STMT_MAP(X)                                                                              \
    X(TASK_INSERT, "INSERT OR IGNORE INTO tasks(target, model, keys, name, args, workload_hash) "       \
                   "VALUES (?1, ?2, ?3, ?4, ?5, ?6)")                                                   \
    X(TASK_FIND, "SELECT id FROM tasks WHERE target = ?1 AND name = ?2 AND args = ?3")                  \
    X(RECORD_INSERT, "INSERT OR IGNORE INTO records(task_id, config_index, entity, costs, mean_cost, "  \
                     "error_no, all_cost, timestamp, device_key, device_desc, tool_version, line, "     \
                     "line_hash, added) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)") \
    X(BEST, "SELECT r.id, r.line, r.mean_cost, r.device_key, r.tool_version, "                          \
            "CASE WHEN t.target = ?1 THEN 0 WHEN ?2 <> '' AND t.model = ?2 THEN 1 "                     \
            "WHEN instr(t.keys, ?3) THEN 2 WHEN instr(t.keys, ?4) THEN 3 WHEN instr(t.keys, ?5) THEN 4 " \
            "WHEN instr(t.keys, ?6) THEN 5 WHEN instr(t.keys, ?7) THEN 6 WHEN instr(t.keys, ?8) THEN 7 " \
            "WHEN instr(t.keys, ?9) THEN 8 WHEN instr(t.keys, ?10) THEN 9 ELSE 99 END AS rank "          \
            "FROM tasks t JOIN records r ON r.task_id = t.id "                                          \
            "WHERE t.workload_hash = ?11 AND t.name = ?12 AND t.args = ?13 AND r.error_no = 0 "          \
            "AND r.mean_cost IS NOT NULL AND rank < 99 ORDER BY rank, r.mean_cost, r.id LIMIT 1")       \
    X(EXPORT_ALL, "SELECT r.line FROM records r JOIN tasks t ON t.id = r.task_id "                      \
                  "WHERE ?1 IS NULL OR t.target = ?1 ORDER BY r.id")                                    \
    X(EXPORT_BEST, "SELECT line FROM (SELECT r.id, r.line, row_number() OVER "                          \
                   "(PARTITION BY r.task_id ORDER BY r.mean_cost, r.id) AS rn "                         \
                   "FROM records r JOIN tasks t ON t.id = r.task_id WHERE r.error_no = 0 "              \
                   "AND r.mean_cost IS NOT NULL AND (?1 IS NULL OR t.target = ?1)) "                    \
                   "WHERE rn = 1 ORDER BY id")                                                          \
    X(STATS, "SELECT t.target, count(DISTINCT t.id), count(r.id), coalesce(sum(r.error_no <> 0), 0) "   \
             "FROM tasks t LEFT JOIN records r ON r.task_id = t.id GROUP BY t.target ORDER BY t.target") \
    X(TASK_RECORDS, "SELECT r.line FROM records r JOIN tasks t ON t.id = r.task_id "                    \
                    "WHERE t.target = ?1 AND t.name = ?2 AND (?3 IS NULL OR t.args = ?3) ORDER BY r.id") \
    X(RECORD_COUNT, "SELECT count(*) FROM records")                                                            \
    X(MODEL_PUT, "INSERT INTO cost_models(name, target, kind, data, updated) VALUES (?1, ?2, ?3, ?4, ?5) " \
                 "ON CONFLICT (name, target) DO UPDATE SET kind = ?3, data = ?4, updated = ?5")         \
    X(MODEL_GET, "SELECT kind, data FROM cost_models WHERE name = ?1 AND target = ?2")                  \
    X(BEGIN, "BEGIN IMMEDIATE")                                                                         \
    X(COMMIT, "COMMIT")                                                                                 \
    X(ROLLBACK, "ROLLBACK")
typedef enum {
#define DLC__DBS(e, sql) DLC__DB_STMT_##e,
    DLC_DB_STMT_MAP(DLC__DBS)
#undef DLC__DBS
    DLC__DB_STMT_COUNT
} dlc__db_stmt_t;

struct dlc_db {
    sqlite3 *h;
    char *path;
    int readonly;
    sqlite3_stmt *stmt[DLC__DB_STMT_COUNT];
    char (*warned)[65]; /* workload hashes of tasks warned about (apply_best) */
    int n_warned, cap_warned;
    /* A shared server in front of this connection, which is then its local
     * cache (db_client.c, dlc_db_open_url): dlc_db_best asks remote_best,
     * dlc_db_close calls remote_free. NULL for a plain file. */
    void *remote;
    const char *url; /* the server of a URL handle (owned by remote), else NULL */
    int (*remote_best)(dlc_db_t *db, const char *target, const char *task_name, const json_t *args,
                       dlc_db_best_t *out);
    void (*remote_free)(void *remote);
    const char *origin; /* what dlc_db_best reports as best.origin: "db", or "tophub" */
    /* dlc_db_use_tophub: the fallback of dlc_db_apply_best (db_tophub.c) */
    char *tophub_dir;  /* its folder, or NULL for no fallback */
    dlc_db_t *tophub;  /* opened at the first miss (owned) */
    int tophub_failed; /* opening it failed (noted once): not tried again */
};

/* The TopHub fallback of db (dlc_db_use_tophub), opened on first use; NULL
 * when there is none or it is unavailable (then `why` says so, and the first
 * failure logged one warning with the reason). */
dlc_db_t *dlc__db_tophub(dlc_db_t *db, char *why, size_t cap);

/* dlc_db_best on this connection's file only (the cache of a URL handle). */
int dlc__db_best_local(dlc_db_t *db, const char *target, const char *task_name, const json_t *args,
                       dlc_db_best_t *out);

/* The statement, reset and with its bindings cleared; NULL with the last error. */
sqlite3_stmt *dlc__db_stmt(dlc_db_t *db, dlc__db_stmt_t which);
/* DLC_EIO with "what: sqlite's message" (DLC_ETIMEOUT for SQLITE_BUSY). */
int dlc__db_err(dlc_db_t *db, int src, const char *what);
/* Runs SQL without results. */
int dlc__db_exec(dlc_db_t *db, const char *sql);

/* What target matching needs from a target string: its canonical text
 * (whitespace collapsed), -model ("" for none or "unknown") and TVM's keys.
 * Works for kinds dlc_target_parse does not know (from -keys and -device). */
typedef struct {
    char text[512];
    char model[64];
    char keys[8][32];
    int n_keys;
} dlc__db_target_t;
int dlc__db_target_info(const char *target, dlc__db_target_t *out);
/* ",k1,k2," as stored in tasks.keys. */
void dlc__db_keys_text(const dlc__db_target_t *t, char *out, size_t cap);

/* Workload hash: SHA-256 hex of name, NUL, canonical args. */
void dlc__db_workload_hash(const char *name, const char *args, char out[65]);
/* Canonical args: json.dumps as Python writes it. Caller frees; NULL on error. */
char *dlc__db_canonical_json(const json_t *v);
/* np.mean of the costs; NAN for none. */
double dlc__db_mean_cost(const double *costs, int n);

/* Opens with an upper bound on migrations (tests build older schemas). */
dlc_db_t *dlc__db_open_version(const char *path, int flags, int max_version);

#endif
