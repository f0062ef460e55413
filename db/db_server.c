/* db_server.c — the tuning database over HTTP JSON (libmicrohttpd): a pool of
 * worker threads, each with its own SQLite connection, and one request state
 * per connection. The routes and their answers are listed in dlc_db_http.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <microhttpd.h>

#include "db/dlc_db_http.h"

struct dlc_db_server {
    struct MHD_Daemon *d;
    char *db_path, *token;
    size_t max_body; /* bytes */
    int port;
    pthread_mutex_t mu;   /* guards conns */
    dlc_db_t **conns;     /* every worker's connection, closed by destroy */
    int n_conns, cap_conns;
};

typedef enum { R_HEALTH, R_BEST, R_STATS, R_EXPORT, R_RECORDS, R_COUNT } route_t;
static const struct {
    const char *path, *method;
} routes[] = {
    [R_HEALTH] = {"/healthz", "GET"},   [R_BEST] = {"/v1/best", "GET"},       [R_STATS] = {"/v1/stats", "GET"},
    [R_EXPORT] = {"/v1/export", "GET"}, [R_RECORDS] = {"/v1/records", "POST"},
};
_Static_assert(sizeof routes / sizeof *routes == R_COUNT, "one row per route");

/* One request (MHD's con_cls), freed by request_done. */
typedef struct {
    route_t route;
    int too_big;       /* the body passed max_body: the rest is discarded */
    dlc_strbuf_t body; /* the body so far */
} req_t;

/* The connection of this worker thread, opened on its first request. */
static _Thread_local struct {
    const dlc_db_server_t *srv;
    dlc_db_t *db;
} tl;

static dlc_db_t *worker_db(dlc_db_server_t *s) {
    if (tl.srv == s && tl.db)
        return tl.db;
    dlc_db_t *db = dlc_db_open(s->db_path, 0);
    if (!db)
        return NULL;
    pthread_mutex_lock(&s->mu);
    if (s->n_conns == s->cap_conns) {
        int cap = s->cap_conns ? 2 * s->cap_conns : 8;
        dlc_db_t **v = realloc(s->conns, (size_t)cap * sizeof *v);
        if (!v) {
            pthread_mutex_unlock(&s->mu);
            dlc_db_close(&db);
            dlc_error(DLC_ENOMEM, "out of memory");
            return NULL;
        }
        s->conns = v;
        s->cap_conns = cap;
    }
    s->conns[s->n_conns++] = db;
    pthread_mutex_unlock(&s->mu);
    tl.srv = s;
    tl.db = db;
    return db;
}

/* ---- responses ---- */

/* Queues body (malloc'd; taken) with the status. */
static enum MHD_Result send_body(struct MHD_Connection *c, unsigned status, const char *type, char *body,
                                 size_t len) {
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

/* Queues j (taken) as the JSON body. */
static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(j);
    if (!s)
        s = strdup("{\"error\":\"out of memory\"}");
    if (!s)
        return MHD_NO;
    size_t n = strlen(s);
    char *t = realloc(s, n + 2); /* a newline, for people using curl */
    if (t) {
        t[n++] = '\n';
        s = t;
    }
    return send_body(c, status, "application/json", s, n);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return send_json(c, status, json_pack("{s:s}", "error", msg));
}

/* A dlc status from the database as an HTTP error (the last error as text). */
static enum MHD_Result send_db_error(struct MHD_Connection *c, int rc) {
    unsigned status = rc == DLC_ENOTFOUND                                            ? MHD_HTTP_NOT_FOUND
                      : rc == DLC_EINVAL || rc == DLC_EPARSE || rc == DLC_ETARGET ? MHD_HTTP_BAD_REQUEST
                      : rc == DLC_ETIMEOUT                                         ? MHD_HTTP_SERVICE_UNAVAILABLE
                                                                                   : MHD_HTTP_INTERNAL_SERVER_ERROR;
    return send_error(c, status, "%s", dlc_last_error()[0] ? dlc_last_error() : dlc_strerror(rc));
}

static const char *query_arg(struct MHD_Connection *c, const char *name) {
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- routes ---- */

static enum MHD_Result do_health(dlc_db_server_t *s, struct MHD_Connection *c) {
    dlc_db_t *db = worker_db(s);
    int64_t n = db ? dlc_db_record_count(db) : -1;
    if (n < 0)
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "database: %s", dlc_last_error());
    return send_json(c, MHD_HTTP_OK, json_pack("{s:s, s:I}", "status", "ok", "records", (json_int_t)n));
}

static enum MHD_Result do_best(dlc_db_server_t *s, struct MHD_Connection *c) {
    const char *target = query_arg(c, "target"), *task = query_arg(c, "task"), *args_text = query_arg(c, "args");
    if (!target || !*target || !task || !*task || !args_text)
        return send_error(c, MHD_HTTP_BAD_REQUEST, "/v1/best needs the parameters target, task and args "
                                                   "(args: the task's arguments as a JSON list)");
    json_error_t je;
    json_t *args = json_loads(args_text, JSON_DECODE_ANY, &je);
    if (!args)
        return send_error(c, MHD_HTTP_BAD_REQUEST, "malformed args JSON: %s (column %d)", je.text, je.column);
    if (!json_is_array(args)) {
        json_decref(args);
        return send_error(c, MHD_HTTP_BAD_REQUEST, "args must be a JSON list, as a TVM log's \"input\"[2]");
    }
    dlc_db_t *db = worker_db(s);
    if (!db) {
        json_decref(args);
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "database: %s", dlc_last_error());
    }
    dlc_db_best_t b;
    int rc = dlc_db_best(db, target, task, args, &b);
    if (rc < 0) {
        json_decref(args);
        return send_db_error(c, rc);
    }
    json_t *j = json_pack("{s:s, s:s, s:O, s:s, s:s?, s:s, s:f, s:I, s:O, s:s, s:s, s:I, s:o, s:s}", "target",
                          target, "task", task, "args", args, "match", dlc_db_match_name(b.match), "matched_key",
                          b.matched_key[0] ? b.matched_key : NULL, "record_target", b.rec.target, "mean_cost",
                          b.mean_cost, "index", (json_int_t)b.rec.index, "entity", b.rec.entity, "device_key",
                          b.device_key, "tool_version", b.tool_version, "id", (json_int_t)b.id, "record",
                          json_loads(b.line, 0, NULL), "line", b.line);
    dlc_db_best_clear(&b);
    json_decref(args);
    return j ? send_json(c, MHD_HTTP_OK, j) : send_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot encode");
}

static int stats_row(const dlc_db_target_stats_t *st, void *user) {
    json_t *arr = user;
    return json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:I}", "target", st->target, "tasks",
                                                 (json_int_t)st->tasks, "records", (json_int_t)st->records,
                                                 "errors", (json_int_t)st->errors)) == 0
               ? 0
               : dlc_error(DLC_ENOMEM, "out of memory");
}

static enum MHD_Result do_stats(dlc_db_server_t *s, struct MHD_Connection *c) {
    dlc_db_t *db = worker_db(s);
    if (!db)
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "database: %s", dlc_last_error());
    json_t *arr = json_array();
    int rc = dlc_db_stats(db, stats_row, arr);
    if (rc < 0) {
        json_decref(arr);
        return send_db_error(c, rc);
    }
    json_int_t tasks = 0, records = 0, errors = 0;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        tasks += json_integer_value(json_object_get(v, "tasks"));
        records += json_integer_value(json_object_get(v, "records"));
        errors += json_integer_value(json_object_get(v, "errors"));
    }
    return send_json(c, MHD_HTTP_OK, json_pack("{s:o, s:I, s:I, s:I}", "targets", arr, "tasks", tasks, "records",
                                               records, "errors", errors));
}

static int export_line(const char *line, size_t len, void *user) {
    dlc_strbuf_appendn(user, line, len);
    dlc_strbuf_appendn(user, "\n", 1);
    return 0;
}

static enum MHD_Result do_export(dlc_db_server_t *s, struct MHD_Connection *c) {
    const char *best = query_arg(c, "best"), *target = query_arg(c, "target");
    int best_only = best && (strcmp(best, "1") == 0 || strcmp(best, "true") == 0);
    if (best && !best_only && strcmp(best, "0") != 0 && strcmp(best, "false") != 0)
        return send_error(c, MHD_HTTP_BAD_REQUEST, "best must be 1 or 0, not '%s'", best);
    dlc_db_t *db = worker_db(s);
    if (!db)
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "database: %s", dlc_last_error());
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    int rc = dlc_db_export(db, target && *target ? target : NULL, best_only, export_line, &sb);
    if (rc < 0) {
        dlc_strbuf_free(&sb);
        return send_db_error(c, rc);
    }
    size_t len = sb.len;
    return send_body(c, MHD_HTTP_OK, "application/x-ndjson", dlc_strbuf_take(&sb), len);
}

static void upload_error(const char *file, int64_t line, const char *reason, void *user) {
    json_t *errors = user;
    if (json_array_size(errors) < 20) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s:%lld: %s", file, (long long)line, reason);
        json_array_append_new(errors, json_string(msg));
    }
}

static enum MHD_Result do_records(dlc_db_server_t *s, struct MHD_Connection *c, req_t *q) {
    dlc_db_t *db = worker_db(s);
    if (!db)
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "database: %s", dlc_last_error());
    dlc_db_source_t src = {query_arg(c, "device_key"), query_arg(c, "device_desc"), NULL};
    json_t *errors = json_array();
    dlc_db_import_t st = {.on_error = upload_error, .user = errors};
    int rc = dlc_db_import_buffer(db, "<upload>", q->body.data, q->body.len, &src, &st);
    if (rc < 0) {
        json_decref(errors);
        return send_db_error(c, rc);
    }
    int64_t total = dlc_db_record_count(db);
    return send_json(c, MHD_HTTP_OK,
                     json_pack("{s:I, s:I, s:I, s:I, s:I, s:o}", "lines", (json_int_t)st.lines_read, "added",
                               (json_int_t)st.added, "duplicates", (json_int_t)st.duplicates, "malformed",
                               (json_int_t)st.malformed, "records", (json_int_t)total, "errors", errors));
}

/* ---- the MHD callbacks ---- */

/* "Authorization: Bearer TOKEN", compared in constant time. */
static int token_ok(const dlc_db_server_t *s, struct MHD_Connection *c) {
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!h || strncmp(h, "Bearer ", 7) != 0)
        return 0;
    h += 7;
    size_t n = strlen(h), m = strlen(s->token);
    unsigned diff = n != m;
    for (size_t i = 0; i < m; i++)
        diff |= (unsigned char)s->token[i] ^ (unsigned char)(i < n ? h[i] : 0);
    return diff == 0;
}

/* ---- header checks libmicrohttpd leaves to us (it is lenient by default) ---- */

typedef struct {
    char problem[160]; /* the first problem, or "" */
    int hosts, lengths, encodings;
    const char *length, *encoding;
} head_check_t;

static int is_tchar(unsigned char ch) { /* RFC 9110 token characters */
    return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
           (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static enum MHD_Result check_header(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                    const char *value, size_t value_size) {
    (void)kind;
    head_check_t *h = cls;
    size_t i = 0;
    while (i < key_size && is_tchar((unsigned char)key[i]))
        i++;
    if (key_size == 0 || i < key_size) {
        snprintf(h->problem, sizeof h->problem, "malformed header name '%.40s'", key);
        return MHD_NO;
    }
    for (i = 0; i < value_size; i++) {
        unsigned char ch = (unsigned char)value[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
            snprintf(h->problem, sizeof h->problem, "control character in the value of header %.40s", key);
            return MHD_NO;
        }
    }
    if (strcasecmp(key, MHD_HTTP_HEADER_HOST) == 0)
        h->hosts++;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
        if (h->lengths++ && strcmp(h->length, value) != 0) {
            snprintf(h->problem, sizeof h->problem, "conflicting Content-Length headers");
            return MHD_NO;
        }
        h->length = value;
    }
    if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
        h->encodings++;
        h->encoding = value;
    }
    return MHD_YES;
}

/* What libmicrohttpd let through but HTTP forbids (RFC 9112): header names
 * that are not tokens, control characters in values, HTTP/1.1 without
 * exactly one Host, differing Content-Lengths, a Transfer-Encoding other than
 * "chunked" (the body's end could not be found) or with a Content-Length.
 * Returns the problem, or NULL. */
static const char *head_problem(struct MHD_Connection *c, const char *version, head_check_t *h) {
    memset(h, 0, sizeof *h);
    MHD_get_connection_values_n(c, MHD_HEADER_KIND, check_header, h);
    if (h->problem[0])
        return h->problem;
    if (strcmp(version, MHD_HTTP_VERSION_1_0) != 0 && h->hosts != 1)
        return h->hosts ? "more than one Host header" : "HTTP/1.1 requests need a Host header";
    if (h->encodings > 1 || (h->encodings && strcasecmp(h->encoding, "chunked") != 0))
        return "unsupported Transfer-Encoding (only chunked)";
    if (h->encodings && h->lengths)
        return "both Transfer-Encoding and Content-Length";
    return NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    dlc_db_server_t *s = cls;
    req_t *q = *con_cls;
    if (!q) { /* headers in: route, method, token and declared size are checked before any body is read */
        if (!(q = calloc(1, sizeof *q)))
            return MHD_NO;
        dlc_strbuf_init(&q->body);
        *con_cls = q;
        head_check_t h;
        const char *bad = head_problem(c, version, &h);
        if (bad)
            return send_error(c, MHD_HTTP_BAD_REQUEST, "malformed request: %s", bad);
        int r = 0;
        while (r < R_COUNT && strcmp(url, routes[r].path) != 0)
            r++;
        if (r == R_COUNT)
            return send_error(c, MHD_HTTP_NOT_FOUND,
                              "no route %s (routes: /healthz, /v1/best, /v1/stats, /v1/export, /v1/records)", url);
        q->route = (route_t)r;
        int head_ok = strcmp(routes[r].method, "GET") == 0 && strcmp(method, "HEAD") == 0;
        if (strcmp(method, routes[r].method) != 0 && !head_ok)
            return send_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "%s takes %s, not %s", url, routes[r].method, method);
        if (q->route == R_RECORDS && s->token && !token_ok(s, c))
            return send_error(c, MHD_HTTP_UNAUTHORIZED,
                              "uploads need the header 'Authorization: Bearer TOKEN' with the server's token");
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > s->max_body)
            return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "body of %s bytes is over the limit of %zu bytes", cl,
                              s->max_body);
        return MHD_YES;
    }
    if (*upload_size) { /* a piece of the body: kept up to the limit, then discarded */
        if (!q->too_big && q->body.len + *upload_size > s->max_body) {
            q->too_big = 1;
            dlc_strbuf_free(&q->body);
            dlc_strbuf_init(&q->body);
        }
        if (!q->too_big)
            dlc_strbuf_appendn(&q->body, upload, *upload_size);
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->too_big)
        return send_error(c, MHD_HTTP_CONTENT_TOO_LARGE, "body over the limit of %zu bytes", s->max_body);
    switch (q->route) {
    case R_HEALTH: return do_health(s, c);
    case R_BEST: return do_best(s, c);
    case R_STATS: return do_stats(s, c);
    case R_EXPORT: return do_export(s, c);
    case R_RECORDS: return do_records(s, c, q);
    case R_COUNT: break;
    }
    return MHD_NO;
}

static void request_done(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t) {
    (void)cls, (void)c, (void)t;
    req_t *q = *con_cls;
    if (q) {
        dlc_strbuf_free(&q->body);
        free(q);
        *con_cls = NULL;
    }
}

/* ---- lifecycle ---- */

static int is_loopback(const struct sockaddr_storage *ss) {
    if (ss->ss_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
    const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
}

dlc_db_server_t *dlc_db_server_new(const dlc_db_server_opts_t *o) {
    const char *addr = o->bind_addr ? o->bind_addr : "127.0.0.1";
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)o->port);
    } else if (inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)o->port);
    } else {
        dlc_error(DLC_EINVAL, "bad bind address '%s' (an IPv4 or IPv6 address, e.g. 127.0.0.1)", addr);
        return NULL;
    }
    if (o->port < 0 || o->port > 65535) {
        dlc_error(DLC_EINVAL, "bad port %d", o->port);
        return NULL;
    }
    if (!is_loopback(&ss) && (!o->token || !*o->token)) {
        dlc_error(DLC_EINVAL, "refusing to serve on %s without a token (anyone could upload records): "
                              "give --token-file, or bind 127.0.0.1", addr);
        return NULL;
    }
    dlc_db_t *db = dlc_db_open(o->db_path, 0); /* create and migrate now: fail before listening */
    if (!db)
        return NULL;
    dlc_db_close(&db);
    dlc_db_server_t *s = calloc(1, sizeof *s);
    if (!s) {
        dlc_error(DLC_ENOMEM, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->mu, NULL);
    if (!(s->db_path = strdup(o->db_path)) || (o->token && !(s->token = strdup(o->token)))) {
        dlc_db_server_destroy(&s);
        dlc_error(DLC_ENOMEM, "out of memory");
        return NULL;
    }
    s->max_body = o->max_body ? o->max_body : DLC_DB_HTTP_MAX_BODY;
    unsigned threads = o->threads > 0 ? (unsigned)o->threads : 4;
    unsigned flags = MHD_USE_AUTO_INTERNAL_THREAD | (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    errno = 0;
    s->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, &ss,
                            MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_NOTIFY_COMPLETED, request_done, s,
                            MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_CONNECTION_LIMIT, 1000u, MHD_OPTION_END);
    if (!s->d) {
        int e = errno;
        dlc_db_server_destroy(&s);
        dlc_error(DLC_EIO, "cannot listen on %s port %d%s%s", addr, o->port, e ? ": " : "", e ? strerror(e) : "");
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info && info->port ? info->port : o->port;
    return s;
}

int dlc_db_server_port(const dlc_db_server_t *s) { return s->port; }

void dlc_db_server_destroy(dlc_db_server_t **ps) {
    if (!ps || !*ps)
        return;
    dlc_db_server_t *s = *ps;
    if (s->d)
        MHD_stop_daemon(s->d); /* joins the workers: their connections are idle now */
    for (int i = 0; i < s->n_conns; i++)
        dlc_db_close(&s->conns[i]);
    pthread_mutex_destroy(&s->mu);
    free(s->conns);
    free(s->db_path);
    free(s->token);
    free(s);
    *ps = NULL;
}
