/* db_open.c — opening the database: pragmas, schema migrations, prepared
 * statements, transactions and errors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/db_impl.h"

/* Each step migrates version i to i + 1; a new schema change is a new step
 * appended here (never an edit of an old one). */
static const char *const migrations[] = {
    /* 0 -> 1: tasks and records */
    "CREATE TABLE tasks ("
    "  id INTEGER PRIMARY KEY,"
    "  target TEXT NOT NULL,"        /* canonical target string */
    "  model TEXT NOT NULL,"         /* -model, '' for none */
    "  keys TEXT NOT NULL,"          /* TVM target keys as ',k1,k2,' */
    "  name TEXT NOT NULL,"          /* task (template) name */
    "  args TEXT NOT NULL,"          /* canonical args JSON (Python json.dumps) */
    "  workload_hash TEXT NOT NULL," /* sha256(name NUL args) */
    "  UNIQUE (target, name, args));"
    "CREATE INDEX tasks_workload ON tasks(workload_hash);"
    "CREATE TABLE records ("
    "  id INTEGER PRIMARY KEY,"
    "  task_id INTEGER NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,"
    "  config_index INTEGER NOT NULL,"
    "  entity TEXT NOT NULL,"        /* JSON */
    "  costs TEXT NOT NULL,"         /* JSON list, seconds */
    "  mean_cost REAL,"              /* seconds; NULL without costs */
    "  error_no INTEGER NOT NULL,"   /* TVM MeasureErrorNo */
    "  all_cost REAL NOT NULL,"      /* seconds */
    "  timestamp REAL NOT NULL,"     /* seconds since the epoch */
    "  device_key TEXT NOT NULL DEFAULT '',"
    "  device_desc TEXT NOT NULL DEFAULT '',"
    "  tool_version TEXT NOT NULL DEFAULT '',"
    "  line TEXT NOT NULL,"          /* the TVM log line */
    "  line_hash TEXT NOT NULL UNIQUE," /* sha256(line): one row per record */
    "  added REAL NOT NULL);"        /* when stored, seconds since the epoch */
    "CREATE INDEX records_best ON records(task_id, error_no, mean_cost);",
    /* 1 -> 2: cost models for transfer learning */
    "CREATE TABLE cost_models ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL,"
    "  target TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"          /* e.g. 'xgb-rank' */
    "  data BLOB NOT NULL,"
    "  updated REAL NOT NULL,"
    "  UNIQUE (name, target));",
};
_Static_assert(sizeof migrations / sizeof *migrations == DLC_DB_SCHEMA_VERSION, "one migration per schema version");

static const char *const stmt_sql[DLC__DB_STMT_COUNT] = {
#define DLC__DBS(e, sql) [DLC__DB_STMT_##e] = sql,
    DLC_DB_STMT_MAP(DLC__DBS)
#undef DLC__DBS
};

const char *dlc_db_default_path(void) {
    static char path[4096];
    const char *env = getenv("DLC_DB");
    if (env && *env)
        snprintf(path, sizeof path, "%s", env);
    else
        snprintf(path, sizeof path, "%s/tuning.db", dlc_cache_dir());
    return path;
}

int dlc__db_err(dlc_db_t *db, int src, const char *what) {
    int code = src & 0xff;
    const char *msg = db && db->h ? sqlite3_errmsg(db->h) : sqlite3_errstr(src);
    return dlc_error(code == SQLITE_BUSY || code == SQLITE_LOCKED ? DLC_ETIMEOUT : DLC_EIO, "database %s: %s: %s",
                     db && db->path ? db->path : "?", what, msg);
}

int dlc__db_exec(dlc_db_t *db, const char *sql) {
    int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : dlc__db_err(db, rc, "exec");
}

sqlite3_stmt *dlc__db_stmt(dlc_db_t *db, dlc__db_stmt_t which) {
    sqlite3_stmt *s = db->stmt[which];
    if (!s) {
        int rc = sqlite3_prepare_v3(db->h, stmt_sql[which], -1, SQLITE_PREPARE_PERSISTENT, &db->stmt[which], NULL);
        if (rc != SQLITE_OK) {
            dlc__db_err(db, rc, "prepare");
            return NULL;
        }
        return db->stmt[which];
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return s;
}

static int step_done(dlc_db_t *db, dlc__db_stmt_t which, const char *what) {
    sqlite3_stmt *s = dlc__db_stmt(db, which);
    if (!s)
        return DLC_EIO;
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? 0 : dlc__db_err(db, rc, what);
}

int dlc_db_begin(dlc_db_t *db) { return step_done(db, DLC__DB_STMT_BEGIN, "begin"); }
int dlc_db_commit(dlc_db_t *db) { return step_done(db, DLC__DB_STMT_COMMIT, "commit"); }
int dlc_db_rollback(dlc_db_t *db) {
    if (sqlite3_get_autocommit(db->h))
        return 0; /* nothing open (sqlite may have rolled back already) */
    return step_done(db, DLC__DB_STMT_ROLLBACK, "rollback");
}

static int query_int(dlc_db_t *db, const char *sql, int64_t *out) {
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(db->h, sql, -1, &s, NULL);
    if (rc != SQLITE_OK)
        return dlc__db_err(db, rc, "prepare");
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? DLC_ENOTFOUND : dlc__db_err(db, rc, sql);
}

int dlc_db_schema_version(dlc_db_t *db) {
    int64_t v = 0;
    int rc = query_int(db, "SELECT version FROM schema_version", &v);
    return rc == DLC_ENOTFOUND ? 0 : rc < 0 ? rc : (int)v;
}

/* Brings the schema to max_version in one write transaction; other processes
 * opening at the same time wait on the lock and then see the new version. */
static int migrate(dlc_db_t *db, int max_version) {
    int64_t v = 0;
    int rc = query_int(db, "SELECT count(*) FROM sqlite_schema WHERE name = 'schema_version'", &v);
    if (rc == 0 && v) {
        rc = query_int(db, "SELECT version FROM schema_version", &v);
        if (rc == 0 && v >= max_version)
            return v > DLC_DB_SCHEMA_VERSION
                       ? dlc_error(DLC_EUNSUPPORTED, "database %s: schema version %lld is newer than this dlc (%d)",
                                   db->path, (long long)v, DLC_DB_SCHEMA_VERSION)
                       : 0;
    }
    if (rc < 0 && rc != DLC_ENOTFOUND)
        return rc;
    if (db->readonly)
        return dlc_error(DLC_EUNSUPPORTED, "database %s: schema version %lld, needs %d (open it writable once)",
                         db->path, (long long)v, max_version);
    if ((rc = dlc_db_begin(db)) < 0)
        return rc;
    rc = dlc__db_exec(db, "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
    if (rc == 0) {
        rc = query_int(db, "SELECT version FROM schema_version", &v);
        if (rc == DLC_ENOTFOUND) {
            v = 0;
            rc = dlc__db_exec(db, "INSERT INTO schema_version VALUES (0)");
        }
    }
    if (rc == 0 && v > DLC_DB_SCHEMA_VERSION)
        rc = dlc_error(DLC_EUNSUPPORTED, "database %s: schema version %lld is newer than this dlc (%d)", db->path,
                       (long long)v, DLC_DB_SCHEMA_VERSION);
    for (; rc == 0 && v < max_version; v++) {
        rc = dlc__db_exec(db, migrations[v]);
        if (rc == 0) {
            char sql[64];
            snprintf(sql, sizeof sql, "UPDATE schema_version SET version = %lld", (long long)v + 1);
            rc = dlc__db_exec(db, sql);
        }
    }
    if (rc == 0)
        return dlc_db_commit(db);
    dlc_db_rollback(db);
    return rc;
}

/* Switching to WAL needs an exclusive lock and may answer SQLITE_BUSY
 * without waiting (several processes creating one file): retry for a while. */
static int set_wal(dlc_db_t *db) {
    for (int attempt = 0;; attempt++) {
        sqlite3_stmt *s;
        int rc = sqlite3_prepare_v2(db->h, "PRAGMA journal_mode=WAL", -1, &s, NULL);
        if (rc == SQLITE_OK) {
            rc = sqlite3_step(s);
            if (rc == SQLITE_ROW) {
                const char *mode = (const char *)sqlite3_column_text(s, 0);
                rc = mode && (!strcmp(mode, "wal") || !strcmp(mode, "memory")) ? SQLITE_OK : SQLITE_BUSY;
            }
            sqlite3_finalize(s);
        }
        if (rc == SQLITE_OK)
            return 0;
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            return dlc__db_err(db, rc, "journal_mode=WAL");
        if (attempt >= 3000)
            return dlc__db_err(db, rc, "journal_mode=WAL (busy for 30 s)");
        sqlite3_sleep(10);
    }
}

static int parent_dirs(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path)
        return 0;
    char dir[4096];
    size_t n = (size_t)(slash - path);
    if (n >= sizeof dir)
        return dlc_error(DLC_EINVAL, "database path too long");
    memcpy(dir, path, n);
    dir[n] = '\0';
    return dlc_mkdirs(dir);
}

dlc_db_t *dlc__db_open_version(const char *path, int flags, int max_version) {
    if (!path || !*path) {
        dlc_error(DLC_EINVAL, "database: empty path");
        return NULL;
    }
    dlc_db_t *db = calloc(1, sizeof *db);
    if (!db || !(db->path = strdup(path))) {
        free(db);
        dlc_error(DLC_ENOMEM, "database: out of memory");
        return NULL;
    }
    db->readonly = (flags & DLC_DB_READONLY) != 0;
    db->origin = "db";
    if (!db->readonly && parent_dirs(path) < 0) {
        dlc_db_close(&db);
        return NULL;
    }
    int oflags = db->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(path, &db->h, oflags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        dlc__db_err(db, rc, "open");
        dlc_db_close(&db);
        return NULL;
    }
    sqlite3_extended_result_codes(db->h, 1);
    sqlite3_busy_timeout(db->h, 30000); /* ms: writers queue behind a long import */
    /* journal_mode=WAL is persistent and needs the write lock once; the
     * others hold per connection. */
    if ((!db->readonly && set_wal(db) < 0) ||
        dlc__db_exec(db, "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL") < 0 ||
        migrate(db, max_version) < 0) {
        dlc_db_close(&db);
        return NULL;
    }
    return db;
}

dlc_db_t *dlc_db_open(const char *path, int flags) {
    return dlc__db_open_version(path, flags, DLC_DB_SCHEMA_VERSION);
}

void dlc_db_close(dlc_db_t **pdb) {
    if (!pdb || !*pdb)
        return;
    dlc_db_t *db = *pdb;
    if (db->remote_free)
        db->remote_free(db->remote);
    for (int i = 0; i < DLC__DB_STMT_COUNT; i++)
        sqlite3_finalize(db->stmt[i]);
    if (db->h)
        sqlite3_close(db->h);
    dlc_db_close(&db->tophub);
    free(db->tophub_dir);
    free(db->warned);
    free(db->path);
    free(db);
    *pdb = NULL;
}

int dlc_db_vacuum(dlc_db_t *db) {
    int rc = dlc__db_exec(db, "VACUUM");
    return rc < 0 ? rc : dlc__db_exec(db, "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA optimize");
}

static int collect_rows(void *user, int n, char **vals, char **names) {
    dlc_strbuf_t *sb = user;
    if (n > 0 && vals[0] && strcmp(vals[0], "ok") != 0 && sb->len < 2000)
        dlc_strbuf_printf(sb, "%s%s", sb->len ? "; " : "", vals[0]);
    else if (n > 1 && sb->len < 2000) /* foreign_key_check: table, rowid, parent, fkid */
        dlc_strbuf_printf(sb, "%sforeign key: %s row %s -> %s", sb->len ? "; " : "", vals[0] ? vals[0] : "?",
                          vals[1] ? vals[1] : "?", vals[2] ? vals[2] : "?");
    return 0;
}

int dlc_db_check(dlc_db_t *db) {
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    int rc = sqlite3_exec(db->h, "PRAGMA integrity_check", collect_rows, &sb, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(db->h, "PRAGMA foreign_key_check", collect_rows, &sb, NULL);
    int ret = rc != SQLITE_OK ? dlc__db_err(db, rc, "integrity check")
              : sb.len        ? dlc_error(DLC_EIO, "database %s: %s", db->path, sb.data)
                              : 0;
    dlc_strbuf_free(&sb);
    return ret;
}
