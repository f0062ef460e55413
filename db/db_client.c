/* db_client.c — the tuning database by URL: best-config queries and uploads
 * to a dlc-db server (libcurl), answers kept in a local SQLite cache that
 * answers alone once the server is down (dlc_db_http.h). */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "db/db_impl.h"
#include "db/dlc_db_http.h"

typedef struct {
    char *url;        /* "http://host:port", no trailing slash */
    char *token;      /* NULL: none */
    char *cache_path;
    long timeout_ms, connect_ms;
    CURL *curl;       /* kept: its connection stays open between queries */
    int offline;      /* the server failed once: the cache answers alone */
} remote_t;

int dlc_db_is_url(const char *s) { return s && (strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0); }

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

static size_t collect(char *p, size_t size, size_t n, void *user) {
    dlc_strbuf_appendn(user, p, size * n);
    return size * n;
}

/* One request: GET when body is NULL, else POST. 0 with *status and the reply
 * in out, or DLC_EIO when no HTTP answer came (curl's reason). */
static int http(remote_t *r, const char *url, const char *body, size_t len, long *status, dlc_strbuf_t *out) {
    CURL *c = r->curl;
    char err[CURL_ERROR_SIZE] = "";
    curl_easy_reset(c); /* keeps the open connection */
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, out);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, r->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, r->connect_ms);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, err);
    /* a proxy from the environment never stands between us and a loopback server */
    char noproxy[512];
    const char *env_np = getenv("no_proxy") ? getenv("no_proxy") : getenv("NO_PROXY");
    snprintf(noproxy, sizeof noproxy, "localhost,127.0.0.1,::1%s%s", env_np && *env_np ? "," : "",
             env_np ? env_np : "");
    curl_easy_setopt(c, CURLOPT_NOPROXY, noproxy);
    struct curl_slist *h = NULL;
    char auth[600];
    if (body) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        h = curl_slist_append(h, "Content-Type: application/x-ndjson");
        if (r->token) {
            snprintf(auth, sizeof auth, "Authorization: Bearer %s", r->token);
            h = curl_slist_append(h, auth);
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    }
    CURLcode cc = curl_easy_perform(c);
    curl_slist_free_all(h);
    if (cc != CURLE_OK)
        return dlc_error(DLC_EIO, "%s", err[0] ? err : curl_easy_strerror(cc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
    return 0;
}

/* The server's {"error": ...} of a reply, or the reply's start. */
static void reply_error(const dlc_strbuf_t *reply, long status, char *out, size_t cap) {
    json_t *j = json_loadb(reply->data, reply->len, 0, NULL);
    const char *e = json_string_value(json_object_get(j, "error"));
    if (e)
        snprintf(out, cap, "%s (HTTP %ld)", e, status);
    else
        snprintf(out, cap, "HTTP %ld: %.80s", status, reply->len ? reply->data : "(empty reply)");
    json_decref(j);
}

static void go_offline(remote_t *r) {
    r->offline = 1;
    DLC_WARN("tuning server %s unavailable (%s); using the local cache %s from now on", r->url, dlc_last_error(),
             r->cache_path);
}

static void copy_str(char *dst, size_t cap, const char *s) { snprintf(dst, cap, "%s", s ? s : ""); }

/* The server's answer into out, and into the cache. 1 when the server is
 * unavailable (the reason in the last error), else 0 or a dlc status. */
static int ask_best(dlc_db_t *db, remote_t *r, const char *target, const char *task, const json_t *args,
                    dlc_db_best_t *out) {
    char *args_text = json_dumps(args, JSON_COMPACT);
    char *e_target = curl_easy_escape(r->curl, target, 0), *e_task = curl_easy_escape(r->curl, task, 0);
    char *e_args = args_text ? curl_easy_escape(r->curl, args_text, 0) : NULL;
    free(args_text);
    dlc_strbuf_t url, reply;
    dlc_strbuf_init(&url);
    dlc_strbuf_init(&reply);
    long status = 0;
    int rc = 0;
    if (!e_target || !e_task || !e_args) {
        rc = dlc_error(DLC_ENOMEM, "out of memory");
        goto done;
    }
    dlc_strbuf_printf(&url, "%s/v1/best?target=%s&task=%s&args=%s", r->url, e_target, e_task, e_args);
    if (http(r, url.data, NULL, 0, &status, &reply) < 0) {
        rc = 1;
        goto done;
    }
    char msg[700];
    if (status != 200) {
        reply_error(&reply, status, msg, sizeof msg);
        rc = status == 404   ? dlc_error(DLC_ENOTFOUND, "%s, says %s", msg, r->url)
             : status == 400 ? dlc_error(DLC_EINVAL, "%s, says %s", msg, r->url)
                             : (dlc_error(DLC_EIO, "%s", msg), 1);
        goto done;
    }
    json_t *j = json_loadb(reply.data, reply.len, 0, NULL);
    const char *line = json_string_value(json_object_get(j, "line"));
    const char *match = json_string_value(json_object_get(j, "match"));
    json_t *cost = json_object_get(j, "mean_cost");
    if (!line || !match || !json_is_number(cost)) {
        json_decref(j);
        rc = (dlc_error(DLC_EIO, "not a dlc-db reply: %.80s", reply.data), 1);
        goto done;
    }
    const char *dev = json_string_value(json_object_get(j, "device_key"));
    const char *tool = json_string_value(json_object_get(j, "tool_version"));
    dlc_db_source_t src = {dev && *dev ? dev : NULL, NULL, tool && *tool ? tool : NULL};
    if (dlc_db_add_line(db, line, strlen(line), &src, NULL) < 0)
        DLC_WARN("cannot keep the answer of %s in the cache %s: %s", r->url, r->cache_path, dlc_last_error());
    out->line = strdup(line);
    out->id = json_integer_value(json_object_get(j, "id"));
    out->mean_cost = json_number_value(cost);
    out->match = strcmp(match, "exact") == 0 ? DLC_DB_MATCH_EXACT
                 : strcmp(match, "model") == 0 ? DLC_DB_MATCH_MODEL
                                               : DLC_DB_MATCH_KEY;
    copy_str(out->matched_key, sizeof out->matched_key, json_string_value(json_object_get(j, "matched_key")));
    copy_str(out->device_key, sizeof out->device_key, dev);
    copy_str(out->tool_version, sizeof out->tool_version, tool);
    json_decref(j);
    rc = !out->line ? dlc_error(DLC_ENOMEM, "out of memory") : dlc_record_parse(out->line, strlen(out->line), &out->rec);
    if (rc < 0)
        dlc_db_best_clear(out);
done:
    curl_free(e_target);
    curl_free(e_task);
    curl_free(e_args);
    dlc_strbuf_free(&url);
    dlc_strbuf_free(&reply);
    return rc;
}

static int remote_best(dlc_db_t *db, const char *target, const char *task_name, const json_t *args,
                       dlc_db_best_t *out) {
    remote_t *r = db->remote;
    memset(out, 0, sizeof *out);
    dlc_record_init(&out->rec);
    if (!target || !task_name || !args)
        return dlc_error(DLC_EINVAL, "best: target, task name and args are required");
    if (!r->offline) {
        int rc = ask_best(db, r, target, task_name, args, out);
        if (rc <= 0)
            return rc;
        go_offline(r);
    }
    return dlc__db_best_local(db, target, task_name, args, out);
}

static void remote_free(void *p) {
    remote_t *r = p;
    if (!r)
        return;
    if (r->curl)
        curl_easy_cleanup(r->curl);
    free(r->url);
    free(r->token);
    free(r->cache_path);
    free(r);
}

/* <cache dir>/db-cache/<host>_<port>.db for http://host:port */
static char *default_cache(const char *url) {
    const char *env = getenv("DLC_DB_CACHE");
    if (env && *env)
        return strdup(env);
    const char *host = strstr(url, "://") + 3;
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    dlc_strbuf_printf(&sb, "%s/db-cache/", dlc_cache_dir());
    for (const char *p = host; *p; p++)
        dlc_strbuf_appendn(&sb, isalnum((unsigned char)*p) || *p == '.' || *p == '-' ? p : "_", 1);
    dlc_strbuf_append(&sb, ".db");
    return dlc_strbuf_take(&sb);
}

/* http(s)://HOST[:PORT] with at most a trailing slash */
static int url_ok(const char *url) {
    if (!dlc_db_is_url(url))
        return 0;
    const char *host = strstr(url, "://") + 3, *slash = strchr(host, '/');
    return *host && *host != '/' && (!slash || slash[1] == '\0');
}

dlc_db_t *dlc_db_open_url(const char *url, const char *cache_path, const dlc_db_url_opts_t *opts) {
    if (!url_ok(url)) {
        dlc_error(DLC_EINVAL, "bad server URL '%s' (expected http://HOST:PORT)", url ? url : "");
        return NULL;
    }
    pthread_once(&curl_once, curl_init);
    remote_t *r = calloc(1, sizeof *r);
    const char *token = opts && opts->token ? opts->token : getenv("DLC_DB_TOKEN");
    double t = opts && opts->timeout_s > 0 ? opts->timeout_s : 10.0;
    if (!r || !(r->url = strdup(url)) || !(r->cache_path = cache_path ? strdup(cache_path) : default_cache(url)) ||
        (token && *token && !(r->token = strdup(token))) || !(r->curl = curl_easy_init())) {
        remote_free(r);
        dlc_error(DLC_ENOMEM, "out of memory");
        return NULL;
    }
    size_t n = strlen(r->url);
    if (n && r->url[n - 1] == '/')
        r->url[n - 1] = '\0';
    r->timeout_ms = (long)(t * 1000);
    r->connect_ms = t < 3 ? r->timeout_ms : 3000;
    dlc_db_t *db = dlc_db_open(r->cache_path, 0);
    if (!db) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", dlc_last_error());
        dlc_error(DLC_EIO, "cache of %s: %s", url, msg);
        remote_free(r);
        return NULL;
    }
    db->remote = r;
    db->url = r->url;
    db->remote_best = remote_best;
    db->remote_free = remote_free;
    return db;
}

dlc_db_t *dlc_db_open_any(const char *path_or_url, int flags) {
    return dlc_db_is_url(path_or_url) ? dlc_db_open_url(path_or_url, NULL, NULL) : dlc_db_open(path_or_url, flags);
}

int dlc_db_offline(const dlc_db_t *db) { return db->remote && ((const remote_t *)db->remote)->offline; }

int dlc_db_upload(dlc_db_t *db, const char *data, size_t len, const dlc_db_source_t *src, dlc_db_import_t *st) {
    remote_t *r = db->remote;
    if (!r)
        return dlc_error(DLC_EINVAL, "upload: the database is a file, not a server URL");
    dlc_strbuf_t url, reply;
    dlc_strbuf_init(&url);
    dlc_strbuf_init(&reply);
    dlc_strbuf_printf(&url, "%s/v1/records", r->url);
    const char *sep = "?";
    const char *names[2] = {"device_key", "device_desc"};
    const char *vals[2] = {src ? src->device_key : NULL, src ? src->device_desc : NULL};
    for (int i = 0; i < 2; i++) {
        if (!vals[i] || !*vals[i])
            continue;
        char *e = curl_easy_escape(r->curl, vals[i], 0);
        dlc_strbuf_printf(&url, "%s%s=%s", sep, names[i], e ? e : "");
        curl_free(e);
        sep = "&";
    }
    long status = 0;
    int rc = http(r, url.data, data ? data : "", len, &status, &reply);
    if (rc == 0 && status != 200) {
        char msg[700];
        reply_error(&reply, status, msg, sizeof msg);
        rc = status == 401   ? dlc_error(DLC_EINVAL, "%s refused the upload: %s%s", r->url, msg,
                                         r->token ? "" : " (no token given: set $DLC_DB_TOKEN)")
             : status < 500 ? dlc_error(DLC_EINVAL, "%s refused the upload: %s", r->url, msg)
                            : dlc_error(DLC_EIO, "%s failed the upload: %s", r->url, msg);
    } else if (rc == 0) {
        json_t *j = json_loadb(reply.data, reply.len, 0, NULL);
        if (!json_is_integer(json_object_get(j, "added")))
            rc = dlc_error(DLC_EIO, "%s: not a dlc-db reply: %.80s", r->url, reply.data);
        else if (st) {
            st->lines_read = json_integer_value(json_object_get(j, "lines"));
            st->added = json_integer_value(json_object_get(j, "added"));
            st->duplicates = json_integer_value(json_object_get(j, "duplicates"));
            st->malformed = json_integer_value(json_object_get(j, "malformed"));
        }
        json_decref(j);
    } else {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", dlc_last_error());
        rc = dlc_error(DLC_EIO, "%s unavailable: %s", r->url, msg);
    }
    dlc_strbuf_free(&url);
    dlc_strbuf_free(&reply);
    return rc;
}
