/* db_record.c — storing records: target keys, canonical forms, one insert
 * per record, and TVM log import (one transaction per file). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db_impl.h"

static void add_key(dlc__db_target_t *t, const char *k, size_t len) {
    if (len == 0 || len >= sizeof t->keys[0] || t->n_keys >= (int)(sizeof t->keys / sizeof t->keys[0]))
        return;
    for (int i = 0; i < t->n_keys; i++)
        if (strlen(t->keys[i]) == len && memcmp(t->keys[i], k, len) == 0)
            return;
    memcpy(t->keys[t->n_keys], k, len);
    t->keys[t->n_keys++][len] = '\0';
}

static void add_key_list(dlc__db_target_t *t, const char *list) {
    while (*list) {
        size_t n = strcspn(list, ",");
        add_key(t, list, n);
        list += n + (list[n] == ',');
    }
}

/* Default keys per target kind (TVM src/target/target_kind.cc). */
static const struct {
    const char *kind, *keys;
} default_keys[] = {
    {"llvm", "cpu"}, {"c", "cpu"}, {"stackvm", "cpu"}, {"hexagon", "hexagon,cpu"},
    {"cuda", "cuda,gpu"}, {"nvptx", "cuda,gpu"}, {"rocm", "rocm,gpu"}, {"opencl", "opencl,gpu"},
    {"metal", "metal,gpu"}, {"vulkan", "vulkan,gpu"}, {"webgpu", "webgpu,gpu"},
    {"sdaccel", "sdaccel,hls"}, {"aocl", "aocl,hls"}, {"aocl_sw_emu", "aocl,hls"},
};

/* Keys as TVM's Target builds them (src/target/target.cc, FromConfig): the
 * -keys list, then -device, then the kind's default keys only when no -keys
 * was given; duplicates dropped. */
int dlc__db_target_info(const char *target, dlc__db_target_t *out) {
    memset(out, 0, sizeof *out);
    char kind[32] = "", device[32] = "", keys[256] = "";
    int has_keys = 0;
    size_t len = 0;
    const char *p = target ? target : "";
    while (*p) {
        p += strspn(p, " \t\r\n\f\v");
        size_t n = strcspn(p, " \t\r\n\f\v");
        if (n == 0)
            break;
        if (len + n + 1 >= sizeof out->text)
            return dlc_error(DLC_EINVAL, "target too long (at most %zu characters)", sizeof out->text - 2);
        if (len)
            out->text[len++] = ' ';
        memcpy(out->text + len, p, n);
        out->text[len + n] = '\0';
        const char *tok = out->text + len;
        len += n;
        p += n;
        if (!kind[0]) {
            snprintf(kind, sizeof kind, "%.*s", (int)n, tok);
            continue;
        }
        const char *eq = strchr(tok, '=');
        if (tok[0] != '-' || !eq)
            continue; /* flags without values carry nothing we match on */
        size_t name_len = (size_t)(eq - tok - 1);
        const char *v = eq + 1;
        if (name_len == 5 && strncmp(tok + 1, "model", 5) == 0)
            snprintf(out->model, sizeof out->model, "%s", v);
        else if (name_len == 6 && strncmp(tok + 1, "device", 6) == 0)
            snprintf(device, sizeof device, "%s", v);
        else if (name_len == 4 && strncmp(tok + 1, "keys", 4) == 0) {
            snprintf(keys, sizeof keys, "%s", v);
            has_keys = 1;
        }
    }
    if (!kind[0])
        return dlc_error(DLC_EINVAL, "empty target string");
    if (strcmp(out->model, "unknown") == 0)
        out->model[0] = '\0'; /* TVM's default model: never matched */
    add_key_list(out, keys);
    add_key(out, device, strlen(device));
    if (!has_keys)
        for (size_t i = 0; i < sizeof default_keys / sizeof *default_keys; i++)
            if (strcmp(kind, default_keys[i].kind) == 0)
                add_key_list(out, default_keys[i].keys);
    return 0;
}

void dlc__db_keys_text(const dlc__db_target_t *t, char *out, size_t cap) {
    size_t len = (size_t)snprintf(out, cap, ",");
    for (int i = 0; i < t->n_keys && len < cap; i++)
        len += (size_t)snprintf(out + len, cap - len, "%s,", t->keys[i]);
}

void dlc__db_workload_hash(const char *name, const char *args, char out[65]) {
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    dlc_strbuf_append(&sb, name);
    dlc_strbuf_appendn(&sb, "", 1);
    dlc_strbuf_append(&sb, args);
    dlc_sha256_hex(sb.data, sb.len, out);
    dlc_strbuf_free(&sb);
}

char *dlc__db_canonical_json(const json_t *v) {
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    if (dlc_json_dump_python(v, &sb) < 0) {
        dlc_strbuf_free(&sb);
        return NULL;
    }
    return dlc_strbuf_take(&sb);
}

/* np.mean: a plain left-to-right sum is what numpy's pairwise sum gives for
 * fewer than 8 values (every TVM record); the order is fixed either way. */
double dlc__db_mean_cost(const double *costs, int n) {
    if (n <= 0)
        return NAN;
    double s = 0;
    for (int i = 0; i < n; i++)
        s += costs[i];
    return s / n;
}

static double wall_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int task_id(dlc_db_t *db, const dlc__db_target_t *t, const char *name, const char *args, int64_t *id) {
    char keys[300], hash[65];
    dlc__db_keys_text(t, keys, sizeof keys);
    dlc__db_workload_hash(name, args, hash);
    sqlite3_stmt *s = dlc__db_stmt(db, DLC__DB_STMT_TASK_INSERT);
    if (!s)
        return DLC_EIO;
    sqlite3_bind_text(s, 1, t->text, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, t->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, keys, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 4, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 5, args, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 6, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return dlc__db_err(db, rc, "insert task");
    if (!(s = dlc__db_stmt(db, DLC__DB_STMT_TASK_FIND)))
        return DLC_EIO;
    sqlite3_bind_text(s, 1, t->text, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(s, 3, args, -1, SQLITE_STATIC);
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        *id = sqlite3_column_int64(s, 0);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 0 : dlc__db_err(db, rc, "find task");
}

static char *costs_json(const dlc_record_t *rec) {
    json_t *a = json_array();
    for (int i = 0; a && i < rec->n_costs; i++)
        json_array_append_new(a, json_real(rec->costs[i]));
    char *s = a ? dlc__db_canonical_json(a) : NULL;
    json_decref(a);
    return s;
}

/* Stores rec; `raw` (may be NULL) is the line as read, kept for export so a
 * log comes back byte for byte. The duplicate key is the hash of the line as
 * dlc_record_format writes it, so spacing or key order do not make a record
 * new. */
static int add_record(dlc_db_t *db, const dlc_record_t *rec, const char *raw, size_t raw_len,
                      const dlc_db_source_t *src, int *added) {
    if (added)
        *added = 0;
    if (!rec->target || !rec->task_name || !rec->args || !rec->entity)
        return dlc_error(DLC_EINVAL, "record without target, task, args or entity");
    dlc__db_target_t t;
    int rc = dlc__db_target_info(rec->target, &t);
    if (rc < 0)
        return rc;
    dlc_strbuf_t line;
    dlc_strbuf_init(&line);
    char *args = dlc__db_canonical_json(rec->args), *entity = dlc__db_canonical_json(rec->entity);
    char *costs = costs_json(rec);
    int64_t tid = 0;
    if (!args || !entity || !costs)
        rc = dlc_last_status() < 0 ? dlc_last_status() : DLC_ENOMEM;
    if (rc == 0)
        rc = dlc_record_format(rec, &line);
    if (rc == 0)
        rc = task_id(db, &t, rec->task_name, args, &tid);
    if (rc == 0) {
        char hash[65];
        dlc_sha256_hex(line.data, line.len, hash);
        double mean = dlc__db_mean_cost(rec->costs, rec->n_costs);
        const char *tool = src && src->tool_version ? src->tool_version : rec->tvm_version ? rec->tvm_version : "";
        sqlite3_stmt *s = dlc__db_stmt(db, DLC__DB_STMT_RECORD_INSERT);
        if (!s) {
            rc = DLC_EIO;
        } else {
            sqlite3_bind_int64(s, 1, tid);
            sqlite3_bind_int64(s, 2, rec->index);
            sqlite3_bind_text(s, 3, entity, -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 4, costs, -1, SQLITE_STATIC);
            if (isfinite(mean))
                sqlite3_bind_double(s, 5, mean);
            sqlite3_bind_int(s, 6, rec->error_no);
            sqlite3_bind_double(s, 7, rec->all_cost);
            sqlite3_bind_double(s, 8, rec->timestamp);
            sqlite3_bind_text(s, 9, src && src->device_key ? src->device_key : "", -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 10, src && src->device_desc ? src->device_desc : "", -1, SQLITE_STATIC);
            sqlite3_bind_text(s, 11, tool, -1, SQLITE_STATIC);
            if (raw)
                sqlite3_bind_text(s, 12, raw, (int)raw_len, SQLITE_STATIC);
            else
                sqlite3_bind_text(s, 12, line.data, (int)line.len, SQLITE_STATIC);
            sqlite3_bind_text(s, 13, hash, -1, SQLITE_STATIC);
            sqlite3_bind_double(s, 14, wall_now());
            int src_rc = sqlite3_step(s);
            sqlite3_reset(s);
            if (src_rc != SQLITE_DONE)
                rc = dlc__db_err(db, src_rc, "insert record");
            else if (added)
                *added = sqlite3_changes(db->h) > 0;
        }
    }
    free(args);
    free(entity);
    free(costs);
    dlc_strbuf_free(&line);
    return rc;
}

int dlc_db_add(dlc_db_t *db, const dlc_record_t *rec, const dlc_db_source_t *src, int *added) {
    return add_record(db, rec, NULL, 0, src, added);
}

int dlc_db_add_line(dlc_db_t *db, const char *line, size_t len, const dlc_db_source_t *src, int *added) {
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
        len--;
    if (len > INT32_MAX)
        return dlc_error(DLC_EINVAL, "line too long");
    dlc_record_t rec;
    int rc = dlc_record_parse(line, len, &rec);
    if (rc == 0)
        rc = add_record(db, &rec, line, len, src, added);
    dlc_record_clear(&rec);
    return rc;
}

/* ---- import ---- */

/* Splits data into lines as dlc_record_read_buffer does (blank lines and
 * '#' comments skipped, malformed lines reported and counted) and stores
 * each record with its line as read. */
static int import_lines(dlc_db_t *db, const char *name, const char *data, size_t len, const dlc_db_source_t *src,
                        dlc_db_import_t *st) {
    int64_t lineno = 0;
    for (size_t pos = 0; pos < len;) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len, n = end - pos;
        const char *line = data + pos;
        pos = end + 1;
        lineno++;
        st->lines_read++;
        while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            n--;
        size_t i = 0;
        while (i < n && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == n || line[i] == '#')
            continue;
        dlc_record_t rec;
        if (n > INT32_MAX || dlc_record_parse(line, n, &rec) < 0) {
            st->malformed++;
            const char *why = n > INT32_MAX ? "line too long" : dlc_last_error();
            if (st->on_error)
                st->on_error(name, lineno, why, st->user);
            else
                DLC_WARN("%s:%lld: %s", name, (long long)lineno, why);
            continue;
        }
        int added = 0;
        int rc = add_record(db, &rec, line, n, src, &added);
        dlc_record_clear(&rec);
        if (rc < 0)
            return rc;
        st->added += added;
        st->duplicates += !added;
    }
    return 0;
}

/* Runs the read inside one transaction (a savepoint when the caller has one
 * open) and commits only if every record was stored. */
static int import_run(dlc_db_t *db, const char *name, const char *data, size_t len, const char *path,
                      const dlc_db_source_t *src, dlc_db_import_t *st) {
    st->lines_read = st->added = st->duplicates = st->malformed = 0;
    if (db->readonly)
        return dlc_error(DLC_EINVAL, "database %s: opened read-only", db->path);
    char *file_data = NULL;
    if (path) {
        int rc = dlc_file_read(path, &file_data, &len);
        if (rc < 0)
            return dlc_error(DLC_EIO, "%s: cannot read: %s", path, dlc_last_error());
        data = file_data;
    }
    int nested = !sqlite3_get_autocommit(db->h);
    int rc = nested ? dlc__db_exec(db, "SAVEPOINT dlc_import") : dlc_db_begin(db);
    if (rc == 0)
        rc = import_lines(db, name, data, len, src, st);
    free(file_data);
    if (rc == 0 && st->strict && st->malformed)
        rc = dlc_error(DLC_EPARSE, "%s: %lld malformed line(s); nothing imported (strict)", name,
                       (long long)st->malformed);
    if (rc == 0)
        rc = nested ? dlc__db_exec(db, "RELEASE dlc_import") : dlc_db_commit(db);
    if (rc != 0) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", dlc_last_error());
        if (nested)
            dlc__db_exec(db, "ROLLBACK TO dlc_import; RELEASE dlc_import");
        else
            dlc_db_rollback(db);
        st->added = st->duplicates = 0;
        return dlc_error(rc, "%s", msg);
    }
    return 0;
}

int dlc_db_import_file(dlc_db_t *db, const char *path, const dlc_db_source_t *src, dlc_db_import_t *st) {
    return import_run(db, path, NULL, 0, path, src, st);
}

int dlc_db_import_buffer(dlc_db_t *db, const char *name, const char *data, size_t len, const dlc_db_source_t *src,
                         dlc_db_import_t *st) {
    return import_run(db, name, data, len, NULL, src, st);
}
