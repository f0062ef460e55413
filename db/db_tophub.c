/* db_tophub.c — TVM's TopHub packages as a built-in fallback: the *.log files
 * of a folder imported into a cache database on first use, and again when a
 * file changes; dlc_db_apply_best consults it when the user's db has nothing. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "db/db_impl.h"

#ifndef DLC_TOPHUB_DEFAULT_DIR
#define DLC_TOPHUB_DEFAULT_DIR DLC_SOURCE_DIR "/../shared/data/tophub"
#endif

const char *dlc_db_tophub_dir(void) {
    static _Thread_local char dir[4096];
    const char *env = getenv("DLC_TOPHUB_DIR");
    snprintf(dir, sizeof dir, "%s", env && *env ? env : DLC_TOPHUB_DEFAULT_DIR);
    return dir;
}

int dlc_db_tophub_enabled(void) {
    const char *env = getenv("DLC_NO_TOPHUB");
    return !env || !*env || strcmp(env, "0") == 0;
}

/* One *.log file of the folder, as the cache remembers it. */
typedef struct {
    char *path;       /* malloc'd */
    int64_t size;     /* bytes */
    int64_t mtime_ns; /* nanoseconds since the epoch */
} log_file_t;

static int cmp_file(const void *a, const void *b) {
    return strcmp(((const log_file_t *)a)->path, ((const log_file_t *)b)->path);
}

static void free_files(log_file_t *v, int n) {
    for (int i = 0; i < n; i++)
        free(v[i].path);
    free(v);
}

/* The regular *.log files of dir, sorted by path. Returns the count, or
 * DLC_ENOTFOUND (no such folder, or no log in it) / DLC_ENOMEM. */
static int list_logs(const char *dir, log_file_t **out) {
    *out = NULL;
    DIR *d = opendir(dir);
    if (!d)
        return dlc_error(DLC_ENOTFOUND, "TopHub folder %s: %s", dir, strerror(errno));
    log_file_t *v = NULL;
    int n = 0, cap = 0, rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".log") != 0)
            continue;
        dlc_strbuf_t p;
        dlc_strbuf_init(&p);
        dlc_strbuf_printf(&p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p.data, &st) != 0 || !S_ISREG(st.st_mode)) {
            dlc_strbuf_free(&p);
            continue;
        }
        if (n == cap) {
            int c2 = cap ? 2 * cap : 16;
            log_file_t *v2 = realloc(v, (size_t)c2 * sizeof *v2);
            if (!v2) {
                dlc_strbuf_free(&p);
                rc = dlc_error(DLC_ENOMEM, "out of memory");
                break;
            }
            v = v2;
            cap = c2;
        }
        v[n].path = dlc_strbuf_take(&p);
        v[n].size = (int64_t)st.st_size;
        v[n].mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
        n++;
    }
    closedir(d);
    if (rc == 0 && n == 0)
        rc = dlc_error(DLC_ENOTFOUND, "TopHub folder %s holds no *.log file", dir);
    if (rc < 0) {
        free_files(v, n);
        return rc;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_file);
    *out = v;
    return n;
}

/* 1 when the cache holds exactly these files (path, size, mtime), 0 when not
 * (or it has no file table yet), or an error. */
static int cache_current(dlc_db_t *db, const log_file_t *v, int n) {
    sqlite3_stmt *s;
    int src = sqlite3_prepare_v2(db->h, "SELECT path, size, mtime_ns FROM tophub_files ORDER BY path", -1, &s, NULL);
    if (src != SQLITE_OK)
        return strstr(sqlite3_errmsg(db->h), "no such table") ? 0 : dlc__db_err(db, src, "tophub files");
    int i = 0, same = 1;
    while (same && (src = sqlite3_step(s)) == SQLITE_ROW) {
        const char *p = (const char *)sqlite3_column_text(s, 0);
        same = i < n && p && strcmp(p, v[i].path) == 0 && sqlite3_column_int64(s, 1) == v[i].size &&
               sqlite3_column_int64(s, 2) == v[i].mtime_ns;
        i++;
    }
    int rc = same && src != SQLITE_DONE ? dlc__db_err(db, src, "tophub files") : same && i == n;
    sqlite3_finalize(s);
    return rc;
}

static void quiet_error(const char *file, int64_t line, const char *reason, void *user) {
    (void)file, (void)line, (void)reason, (void)user; /* counted in malformed; TopHub's logs parse */
}

/* Empties the cache and imports every file, all in one write transaction,
 * unless another process did it while this one waited for the lock. */
static int reimport(dlc_db_t *db, const log_file_t *v, int n) {
    int rc = dlc_db_begin(db);
    if (rc < 0)
        return rc;
    rc = dlc__db_exec(db, "CREATE TABLE IF NOT EXISTS tophub_files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, "
                          "mtime_ns INTEGER NOT NULL, records INTEGER NOT NULL)");
    int current = rc == 0 ? cache_current(db, v, n) : rc;
    if (current != 0) {
        dlc_db_rollback(db);
        return current < 0 ? current : 0;
    }
    double t0 = dlc_now();
    int64_t added = 0;
    rc = dlc__db_exec(db, "DELETE FROM records; DELETE FROM tasks; DELETE FROM tophub_files");
    for (int i = 0; rc == 0 && i < n; i++) {
        dlc_db_import_t st = {.on_error = quiet_error};
        dlc_db_source_t src = {NULL, "TopHub", NULL};
        rc = dlc_db_import_file(db, v[i].path, &src, &st);
        sqlite3_stmt *s = NULL;
        if (rc == 0 && sqlite3_prepare_v2(db->h, "INSERT INTO tophub_files VALUES (?1, ?2, ?3, ?4)", -1, &s,
                                          NULL) != SQLITE_OK)
            rc = dlc__db_err(db, sqlite3_errcode(db->h), "tophub files");
        if (rc == 0) {
            sqlite3_bind_text(s, 1, v[i].path, -1, SQLITE_STATIC);
            sqlite3_bind_int64(s, 2, v[i].size);
            sqlite3_bind_int64(s, 3, v[i].mtime_ns);
            sqlite3_bind_int64(s, 4, st.added);
            int src_rc = sqlite3_step(s);
            if (src_rc != SQLITE_DONE)
                rc = dlc__db_err(db, src_rc, "tophub files");
        }
        sqlite3_finalize(s);
        added += st.added;
    }
    if (rc == 0)
        rc = dlc_db_commit(db);
    if (rc < 0) {
        dlc_db_rollback(db);
        return rc;
    }
    DLC_INFO("TopHub: imported %lld records of %d files into %s in %.2f s (again only when a file changes)",
             (long long)added, n, db->path, dlc_now() - t0);
    return 0;
}

dlc_db_t *dlc_db_open_tophub(const char *dir, const char *cache_path) {
    if (!dir)
        dir = dlc_db_tophub_dir();
    char cache[4096];
    if (!cache_path) {
        snprintf(cache, sizeof cache, "%s/tophub.db", dlc_cache_dir());
        cache_path = cache;
    }
    log_file_t *v;
    int n = list_logs(dir, &v);
    if (n < 0)
        return NULL;
    dlc_db_t *db = dlc_db_open(cache_path, 0);
    if (!db) { /* e.g. a read-only cache folder: import into memory, in this process only */
        DLC_INFO("TopHub cache %s: %s; importing into memory", cache_path, dlc_last_error());
        db = dlc_db_open(":memory:", 0);
    }
    int rc = db ? cache_current(db, v, n) : dlc_last_status();
    if (rc == 0)
        rc = reimport(db, v, n);
    free_files(v, n);
    if (rc < 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dlc_last_error());
        dlc_db_close(&db);
        dlc_error(rc, "TopHub %s: %s", dir, msg);
        return NULL;
    }
    db->origin = "tophub";
    return db;
}

int dlc_db_use_tophub(dlc_db_t *db, const char *dir) {
    free(db->tophub_dir);
    db->tophub_dir = NULL;
    dlc_db_close(&db->tophub);
    db->tophub_failed = 0;
    if (!dlc_db_tophub_enabled())
        return 0;
    if (!(db->tophub_dir = strdup(dir ? dir : dlc_db_tophub_dir())))
        return dlc_error(DLC_ENOMEM, "out of memory");
    return 0;
}

dlc_db_t *dlc__db_tophub(dlc_db_t *db, char *why, size_t cap) {
    if (db->tophub || !db->tophub_dir)
        return db->tophub;
    if (!db->tophub_failed && !(db->tophub = dlc_db_open_tophub(db->tophub_dir, NULL))) {
        db->tophub_failed = 1;
        DLC_WARN("no TopHub fallback: %s (set DLC_TOPHUB_DIR to TopHub's folder of *.log files; "
                 "DLC_NO_TOPHUB=1 turns the fallback off)",
                 dlc_last_error());
    }
    if (!db->tophub)
        snprintf(why, cap, "TopHub unavailable");
    return db->tophub;
}
