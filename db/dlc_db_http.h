/* dlc_db_http.h — the tuning database shared over HTTP: a server
 * (libmicrohttpd) in front of one database file, and a client (libcurl) that
 * builds and tuners use by URL, with a local SQLite cache.
 *
 * Usage (client):
 *   dlc_db_t *db = dlc_db_open_url("http://dbhost:9191", NULL, NULL); // cache: default path
 *   dlc_db_best_t best;
 *   if (dlc_db_best(db, target, "conv2d_NCHWc.x86", args, &best) == 0) { ... } // as for a file
 *   dlc_db_close(&db);
 * Usage (server; `dlc-db serve` wraps this):
 *   dlc_db_server_opts_t o = {.db_path = "tuning.db", .port = 9191, .token = tok};
 *   dlc_db_server_t *s = dlc_db_server_new(&o);   // serving on its own threads
 *   ... wait for a signal ...
 *   dlc_db_server_destroy(&s);
 *
 * Routes (JSON; every error is a 4xx/5xx with {"error": "..."}):
 *   GET  /healthz                          {"status": "ok", "records": N}
 *   GET  /v1/best?target=T&task=NAME&args=JSON
 *        200 {"target", "task", "args", "match", "matched_key", "record_target",
 *             "mean_cost", "index", "entity", "device_key", "tool_version",
 *             "record": <the TVM log line as JSON>, "line": <the line as text>}
 *        404 when no error-free record matches (dlc_db_best's rule)
 *   GET  /v1/stats                         as `dlc-db stats --json`
 *   GET  /v1/export[?best=1][&target=T]    TVM log lines (application/x-ndjson)
 *   POST /v1/records[?device_key=K&device_desc=D]  body: TVM log lines; with a
 *        token set, needs "Authorization: Bearer TOKEN" (else 401). One
 *        transaction: 200 {"lines", "added", "duplicates", "malformed",
 *        "records", "errors": ["<upload>:LINE: reason", ... (first 20)]}
 * 400 bad query (missing parameter, malformed args JSON) or malformed
 * request (HTTP/1.1 without exactly one Host, a header name that is not a
 * token, a control character in a header value, differing Content-Lengths, a
 * Transfer-Encoding other than chunked or together with a Content-Length),
 * 401 token, 404 unknown route, 405 wrong method, 413 body over the limit
 * (checked against Content-Length before reading, and while a chunked body
 * streams in), 500/503 database errors. The server answers every request and
 * stays up.
 * Exceptions: libmicrohttpd (0.9.75, Debian 12) rejects some malformed HTTP
 * while parsing, before any handler of ours runs, with its own short HTML
 * page and "Connection: close"; it has no option to replace those replies.
 * They are: no reply at all (the connection closed) for a request line
 * without a space; 400 for a request line without a version or with a bad
 * one, a header line without a colon, a Content-Length that is not a number
 * (0.9.75 sends its status line and headers twice there), a malformed chunk
 * size; 413 for a Content-Length or chunk size over 2^64; 414 for a request
 * line and 431 for headers over its 32 KiB per-connection buffer; 505 for
 * HTTP/0.x and HTTP/2+. Bytes that are not HTTP (e.g. a TLS hello) get no
 * reply and are closed after the 30 s idle timeout.
 *
 * Client and cache: a URL handle is a dlc_db_t whose file is the local cache.
 * dlc_db_best asks the server; an answer is stored in the cache (with the
 * record's line, so the cache is an ordinary database) and returned as the
 * server gave it (best.id is the server's row id). A server that cannot be
 * reached or fails (5xx, a reply that is not ours) logs one warning line per
 * handle and the handle then answers from the cache alone (offline): a build
 * works after one fetch and a server down never fails it. The server's 404 is
 * DLC_ENOTFOUND. Every other dlc_db_* call works on the cache file.
 * Ownership: as dlc_db_t — one thread (one curl handle and one connection).
 */
#ifndef DLC_DB_HTTP_H
#define DLC_DB_HTTP_H

#include <stddef.h>

#include "db/dlc_db.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DLC_DB_HTTP_PORT 9191
#define DLC_DB_HTTP_MAX_BODY (8u << 20) /* bytes */

/* ---- server ---- */
typedef struct {
    const char *db_path;   /* the database file (created and migrated at start) */
    const char *bind_addr; /* IPv4 or IPv6 address; NULL: 127.0.0.1 */
    int port;              /* 0: any free port (see dlc_db_server_port) */
    const char *token;     /* bearer token for POST; NULL: writes open, loopback only */
    size_t max_body;       /* bytes; 0: DLC_DB_HTTP_MAX_BODY */
    int threads;           /* worker threads, each with its own db connection; 0: 4 */
} dlc_db_server_opts_t;

typedef struct dlc_db_server dlc_db_server_t;
/* Starts serving on the server's own threads. NULL with the last error: the
 * database cannot be opened, the address is bad or in use, or a non-loopback
 * address without a token (DLC_EINVAL). */
dlc_db_server_t *dlc_db_server_new(const dlc_db_server_opts_t *opts);
int dlc_db_server_port(const dlc_db_server_t *s); /* the port bound */
/* Stops (finishing requests in flight) and closes the connections. */
void dlc_db_server_destroy(dlc_db_server_t **s);

/* ---- client ---- */
/* 1 when s names a server ("http://..." or "https://..."). */
int dlc_db_is_url(const char *s);

typedef struct {
    const char *token;  /* for uploads; NULL: $DLC_DB_TOKEN */
    double timeout_s;   /* per request; 0: 10 (connecting: at most 3) */
} dlc_db_url_opts_t;

/* A handle on the server at url ("http://host:port", no path) with its cache
 * at cache_path (NULL: <dlc_cache_dir()>/db-cache/<host>_<port>.db, created).
 * Nothing is sent yet: a server down is noticed by the first query. opts may
 * be NULL. NULL with the last error (bad URL, cache not openable). */
dlc_db_t *dlc_db_open_url(const char *url, const char *cache_path, const dlc_db_url_opts_t *opts);
/* dlc_db_open_url for a URL (its default cache), dlc_db_open otherwise. */
dlc_db_t *dlc_db_open_any(const char *path_or_url, int flags);

/* POST /v1/records: TVM log lines to the server (with the token). st (may
 * be NULL) gets the server's counts. DLC_EINVAL for a refused token (401), a
 * rejected body or a handle that is not a URL handle; DLC_EIO when the server
 * cannot be reached or fails (nothing is queued for later). */
int dlc_db_upload(dlc_db_t *db, const char *data, size_t len, const dlc_db_source_t *src, dlc_db_import_t *st);

/* 1 after the server failed on this handle (answers now come from the cache). */
int dlc_db_offline(const dlc_db_t *db);

#ifdef __cplusplus
}
#endif
#endif
