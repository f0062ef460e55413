/* test_db_http.c — dlc-db serve and the URL client as users meet them: the
 * server binary on a free 127.0.0.1 port, TopHub uploaded with the token and
 * best answers compared with a local database, bad requests (malformed JSON,
 * oversized bodies, wrong or missing token, unknown routes, wrong methods)
 * each answered with a 4xx and a JSON error while the server stays up,
 * malformed HTTP (ours: a JSON 400; libmicrohttpd's own replies pinned),
 * clients on six threads querying while uploads run, and
 * the client's cache answering, with one warning, once the server is gone. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <microhttpd.h>

#include "db/dlc_db.h"
#include "db/dlc_db_http.h"
#include "schedule-templates/dlc_templates.h"
#include "tests/db/db_testutil.h"

#define TOKEN "t0ken-for-tests"

static char g_dir[1024], g_ref[1100], g_srv_db[1100], g_tok[1100], g_cache[1100], g_url[64];
static pid_t g_pid;
static int g_port;
static dlc_db_t *g_refdb;

/* ---- the server process ---- */

/* Starts dlc-db serve on a free port (--port 0) and reads its port from the
 * "listening on" line; -1 when it did not come up within 60 s. */
static pid_t start_server(const char *db, const char *token_file, int *port) {
    int fd[2];
    if (pipe(fd) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        dup2(fd[1], 1);
        close(fd[0]);
        close(fd[1]);
        if (token_file)
            execl(DLC_DB_EXE, DLC_DB_EXE, "serve", "--db", db, "--port", "0", "--token-file", token_file, (char *)0);
        else
            execl(DLC_DB_EXE, DLC_DB_EXE, "serve", "--db", db, "--port", "0", (char *)0);
        _exit(127);
    }
    close(fd[1]);
    char buf[512];
    size_t n = 0;
    double end = dlc_now() + 60;
    while (n < sizeof buf - 1 && !memchr(buf, '\n', n) && dlc_now() < end) {
        struct pollfd p = {fd[0], POLLIN, 0};
        if (poll(&p, 1, 500) <= 0)
            continue;
        ssize_t k = read(fd[0], buf + n, sizeof buf - 1 - n);
        if (k <= 0)
            break;
        n += (size_t)k;
    }
    buf[n] = '\0';
    close(fd[0]);
    const char *at = strstr(buf, "listening on http://127.0.0.1:");
    if (!at || sscanf(at, "listening on http://127.0.0.1:%d", port) != 1) {
        fprintf(stderr, "server did not start: '%s'\n", buf);
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    return pid;
}

/* SIGTERM, then its exit status (SIGKILL after 20 s: -1). */
static int stop_server(pid_t pid) {
    kill(pid, SIGTERM);
    int st;
    for (double end = dlc_now() + 20; dlc_now() < end;) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        usleep(20000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* ---- raw HTTP over a socket, so requests can be as bad as we like ---- */

typedef struct {
    int status;  /* 0 when no answer */
    char *body;  /* malloc'd */
    json_t *json; /* the body parsed, or NULL */
} reply_t;

static void reply_free(reply_t *r) {
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* Sends head (and then `chunked_bytes` of zeros as a chunked body) on a new
 * connection and reads the answer to the end (the request says close). */
static reply_t raw_request(const char *head, size_t chunked_bytes) {
    reply_t r = {0, NULL, NULL};
    int s = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s >= 0);
    struct timeval tv = {20, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) { /* status 0: nobody listening */
        close(s);
        r.body = strdup("");
        return r;
    }
    send(s, head, strlen(head), MSG_NOSIGNAL);
    if (chunked_bytes) { /* the server may answer and close early: send errors are fine */
        static char chunk[65536 + 16];
        int h = snprintf(chunk, sizeof chunk, "%x\r\n", 65536);
        memset(chunk + h, 'x', 65536);
        memcpy(chunk + h + 65536, "\r\n", 2);
        for (size_t sent = 0; sent < chunked_bytes; sent += 65536)
            if (send(s, chunk, (size_t)h + 65536 + 2, MSG_NOSIGNAL) < 0)
                break;
        send(s, "0\r\n\r\n", 5, MSG_NOSIGNAL);
    }
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    char buf[65536];
    ssize_t k;
    while ((k = recv(s, buf, sizeof buf, 0)) > 0)
        dlc_strbuf_appendn(&sb, buf, (size_t)k);
    close(s);
    if (sb.len >= 12 && strncmp(sb.data, "HTTP/1.", 7) == 0)
        r.status = atoi(sb.data + 9);
    const char *body = strstr(sb.data, "\r\n\r\n");
    r.body = strdup(body ? body + 4 : "");
    r.json = json_loads(r.body, 0, NULL);
    dlc_strbuf_free(&sb);
    return r;
}

static reply_t get(const char *path) {
    char head[4096];
    snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", path);
    return raw_request(head, 0);
}

static void assert_healthy(void) {
    reply_t r = get("/healthz");
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "ok");
    reply_free(&r);
}

/* ---- fixtures ---- */

static int setup(void **state) {
    (void)state;
    const char *d = tu_scratch("http");
    if (!d)
        return -1;
    snprintf(g_dir, sizeof g_dir, "%s", d);
    snprintf(g_ref, sizeof g_ref, "%s/ref.db", g_dir);
    snprintf(g_srv_db, sizeof g_srv_db, "%s/server.db", g_dir);
    snprintf(g_tok, sizeof g_tok, "%s/token", g_dir);
    snprintf(g_cache, sizeof g_cache, "%s/cache.db", g_dir);
    if (dlc_file_write(g_tok, TOKEN "\n", strlen(TOKEN) + 1) < 0)
        return -1;
    /* the reference: TopHub imported locally */
    if (!(g_refdb = dlc_db_open(g_ref, 0)))
        return -1;
    char **logs;
    int n = tu_tophub_logs(&logs);
    for (int i = 0; i < n; i++) {
        dlc_db_import_t st = {0};
        if (dlc_db_import_file(g_refdb, logs[i], NULL, &st) < 0)
            return -1;
    }
    tu_free_list(logs, n);
    if ((g_pid = start_server(g_srv_db, g_tok, &g_port)) < 0)
        return -1;
    snprintf(g_url, sizeof g_url, "http://127.0.0.1:%d", g_port);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    if (g_pid > 0)
        stop_server(g_pid);
    dlc_db_close(&g_refdb);
    return 0;
}

/* ---- tests ---- */

static int collect_line(const char *line, size_t len, void *user) {
    dlc_strbuf_appendn(user, line, len);
    dlc_strbuf_appendn(user, "\n", 1);
    return 0;
}

/* Uploads TopHub with the token and compares best answers with the local db. */
static void test_upload_and_best(void **state) {
    (void)state;
    char **logs;
    int n = tu_tophub_logs(&logs);
    if (n == 0)
        skip();
    dlc_db_url_opts_t uo = {TOKEN, 30};
    dlc_db_t *c = dlc_db_open_url(g_url, g_cache, &uo);
    assert_non_null(c);
    int64_t added = 0;
    for (int i = 0; i < n; i++) {
        char *data;
        size_t len;
        assert_int_equal(dlc_file_read(logs[i], &data, &len), 0);
        dlc_db_import_t st = {0};
        if (dlc_db_upload(c, data, len, NULL, &st) < 0)
            fail_msg("upload %s: %s", logs[i], dlc_last_error());
        assert_int_equal(st.malformed, 0);
        added += st.added;
        free(data);
    }
    int64_t want = dlc_db_record_count(g_refdb);
    assert_int_equal(added, want);
    fprintf(stderr, "  uploaded %lld records from %d files\n", (long long)added, n);

    /* stats and export agree with the local db */
    reply_t r = get("/v1/stats");
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "records")), want);
    reply_free(&r);
    dlc_strbuf_t ref;
    dlc_strbuf_init(&ref);
    assert_int_equal(dlc_db_export(g_refdb, NULL, 1, collect_line, &ref), 0);
    r = get("/v1/export?best=1");
    assert_int_equal(r.status, 200);
    assert_true(strcmp(r.body, ref.data) == 0);
    reply_free(&r);

    /* best for every 17th task, under its own target and under a target that
     * only matches by key, through the client, against the local answer */
    int n_tasks = 0, n_found = 0;
    for (char *line = ref.data, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        if (n_tasks++ % 17)
            continue;
        dlc_record_t rec;
        assert_int_equal(dlc_record_parse(line, (size_t)(nl - line), &rec), 0);
        const char *targets[2] = {rec.target, strncmp(rec.target, "llvm", 4) == 0 ? "llvm -mcpu=unknowncpu" : "cuda"};
        for (int k = 0; k < 2; k++) {
            dlc_db_best_t a, b;
            int ra = dlc_db_best(g_refdb, targets[k], rec.task_name, rec.args, &a);
            int rb = dlc_db_best(c, targets[k], rec.task_name, rec.args, &b);
            if (ra != rb)
                fail_msg("%s %s: local %d, server %d (%s)", targets[k], rec.task_name, ra, rb, dlc_last_error());
            if (ra == 0) {
                assert_string_equal(a.line, b.line);
                assert_true(a.mean_cost == b.mean_cost);
                assert_int_equal(a.match, b.match);
                assert_string_equal(a.matched_key, b.matched_key);
                n_found++;
            }
            dlc_db_best_clear(&a);
            dlc_db_best_clear(&b);
        }
        dlc_record_clear(&rec);
    }
    assert_false(dlc_db_offline(c));
    assert_true(n_found > 200);
    fprintf(stderr, "  %d best answers agree with the local db\n", n_found);
    dlc_strbuf_free(&ref);
    dlc_db_close(&c);
    tu_free_list(logs, n);
    assert_healthy();
}

/* Every bad request: the right 4xx, a JSON error, and the server still up. */
static void test_bad_requests(void **state) {
    (void)state;
    static const struct {
        const char *head;
        size_t chunked; /* bytes of chunked body after head */
        int status;
    } cases[] = {
        {"GET /v1/best?target=llvm&task=conv2d_NCHWc.x86&args=%5B1%2C HTTP/1.1\r\n", 0, 400}, /* malformed JSON */
        {"GET /v1/best?target=llvm&task=x&args=%7B%22a%22%3A HTTP/1.1\r\n", 0, 400},
        {"GET /v1/best?target=llvm&task=x&args=%7B%7D HTTP/1.1\r\n", 0, 400}, /* not a list */
        {"GET /v1/best?target=llvm HTTP/1.1\r\n", 0, 400},                     /* missing parameters */
        {"GET /v1/best?target=llvm%20-keys%3D&task=x&args=%5B%5D HTTP/1.1\r\n", 0, 404},
        {"GET /v1/best?target=llvm&task=nosuch&args=%5B%5D HTTP/1.1\r\n", 0, 404}, /* no record */
        {"GET /v1/export?best=maybe HTTP/1.1\r\n", 0, 400},
        {"POST /v1/records HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]", 0, 401}, /* no token */
        {"POST /v1/records HTTP/1.1\r\nAuthorization: Bearer wrong\r\nContent-Length: 2\r\n\r\n[]", 0, 401},
        {"POST /v1/records HTTP/1.1\r\nAuthorization: Bearer " TOKEN "x\r\nContent-Length: 0\r\n", 0, 401},
        {"POST /v1/records HTTP/1.1\r\nAuthorization: Basic dXNlcjpwdw==\r\nContent-Length: 0\r\n", 0, 401},
        {"POST /v1/records HTTP/1.1\r\nAuthorization: Bearer " TOKEN "\r\nContent-Length: 9437184\r\n", 0, 413},
        {"POST /v1/records HTTP/1.1\r\nAuthorization: Bearer " TOKEN "\r\nTransfer-Encoding: chunked\r\n", 9u << 20,
         413}, /* no length given: the limit holds while the body streams */
        {"GET /nope HTTP/1.1\r\n", 0, 404},
        {"GET / HTTP/1.1\r\n", 0, 404},
        {"GET /v1/best/extra HTTP/1.1\r\n", 0, 404},
        {"DELETE /v1/best HTTP/1.1\r\n", 0, 405},
        {"POST /v1/stats HTTP/1.1\r\nContent-Length: 0\r\n", 0, 405},
        {"GET /v1/records HTTP/1.1\r\n", 0, 405},
        {"PUT /healthz HTTP/1.1\r\nContent-Length: 0\r\n", 0, 405},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char head[4096];
        const char *blank = strstr(cases[i].head, "\r\n\r\n");
        snprintf(head, sizeof head, "%.*sHost: 127.0.0.1\r\nConnection: close\r\n\r\n%s",
                 blank ? (int)(blank - cases[i].head + 2) : (int)strlen(cases[i].head), cases[i].head,
                 blank ? blank + 4 : "");
        reply_t r = raw_request(head, cases[i].chunked);
        if (r.status != cases[i].status || !json_is_string(json_object_get(r.json, "error")))
            fail_msg("case %zu (%.40s): status %d, body '%.200s'", i, cases[i].head, r.status, r.body);
        reply_free(&r);
        assert_healthy();
    }
    /* malformed lines in an upload are reported, not fatal */
    const char *body = "not json\n{\"input\": 1}\n\xff\xfe\n";
    char head[1024];
    snprintf(head, sizeof head,
             "POST /v1/records HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " TOKEN
             "\r\nContent-Length: %zu\r\n\r\n%s",
             strlen(body), body);
    reply_t r = raw_request(head, 0);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "malformed")), 3);
    assert_int_equal(json_integer_value(json_object_get(r.json, "added")), 0);
    assert_int_equal(json_array_size(json_object_get(r.json, "errors")), 3);
    reply_free(&r);
    assert_healthy();
    /* not HTTP at all, and a connection dropped mid-request */
    r = raw_request("GARBAGE\r\n\r\n", 0);
    assert_true(r.status == 0 || (r.status >= 400 && r.status < 500));
    reply_free(&r);
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(sock, (struct sockaddr *)&a, sizeof a), 0);
    const char *part = "POST /v1/records HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nAuthorization: Bearer " TOKEN
                       "\r\n\r\nshort";
    send(sock, part, strlen(part), MSG_NOSIGNAL);
    close(sock);
    assert_healthy();
    /* the binary: upload with the right and the wrong token, URLs where files belong */
    char **logs;
    int n = tu_tophub_logs(&logs);
    if (n > 0) {
        char bad_tok[1200];
        snprintf(bad_tok, sizeof bad_tok, "%s/bad_token", g_dir);
        assert_int_equal(dlc_file_write(bad_tok, "nope\n", 5), 0);
        const char *tok_files[2] = {g_tok, bad_tok};
        for (int k = 0; k < 2; k++) {
            const char *argv[] = {DLC_DB_EXE, "import", "--db", g_url, "--token-file", tok_files[k], "--json", logs[0],
                                  NULL};
            dlc_proc_spec_t spec = {argv, NULL, NULL, 0, 60};
            dlc_proc_result_t res;
            assert_int_equal(dlc_proc_run(&spec, &res), 0);
            if (res.exit_code != (k == 0 ? 0 : 2))
                fail_msg("import token %d: exit %d, %s", k, res.exit_code, res.err);
            if (k == 1)
                assert_non_null(strstr(res.err, "refused"));
            dlc_proc_result_free(&res);
        }
    }
    tu_free_list(logs, n);
    assert_healthy();
}

/* Malformed HTTP on raw sockets. What reaches our handler gets a JSON 400;
 * what libmicrohttpd 0.9.75 rejects while parsing gets its own reply (a
 * short HTML page, or no reply), which we cannot change: those are checked
 * for the status only. After each, the server answers a normal query. */
#define POST "POST /v1/records HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " TOKEN "\r\n"
static void test_malformed_http(void **state) {
    (void)state;
    static char long_uri[40100], long_header[40200];
    snprintf(long_uri, sizeof long_uri, "GET /%0*d HTTP/1.1\r\nHost: x\r\n\r\n", 40000, 0);
    snprintf(long_header, sizeof long_header, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: %0*d\r\n\r\n", 40000, 0);
    static const char *ours[] = { /* each: 400 with {"error": ...} */
        "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n",                          /* no Host */
        "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",       /* two */
        "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: v\r\nConnection: close\r\n\r\n",   /* not a token */
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\nConnection: close\r\n\r\n",    /* control char */
        POST "Content-Length: 2\r\nContent-Length: 3\r\n\r\n[]",
        POST "Transfer-Encoding: gzip\r\n\r\nabc",
        POST "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof ours / sizeof *ours; i++) {
        reply_t r = raw_request(ours[i], 0);
        if (r.status != 400 || !json_is_string(json_object_get(r.json, "error")))
            fail_msg("ours %zu (%.50s): status %d, body '%.200s'", i, ours[i], r.status, r.body);
        reply_free(&r);
        assert_healthy();
    }
    static const struct {
        const char *what, *req;
        int status; /* libmicrohttpd's; 0: it closes without a reply */
    } theirs[] = {
        {"request line without a space", "GARBAGE\r\n\r\n", 0},
        {"no HTTP version (HTTP/0.9 style)", "GET /healthz\r\n\r\n", 400},
        {"bad HTTP version", "GET /healthz HTTP/1.x\r\nHost: x\r\n\r\n", 400},
        {"HTTP/2.0 (a 5xx)", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", 505},
        {"header line without a colon", "GET /healthz HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400},
        {"Content-Length not a number", POST "Content-Length: abc\r\n\r\n", 400},
        {"Content-Length over 2^64", POST "Content-Length: 99999999999999999999999\r\n\r\n", 413},
        {"malformed chunk size", POST "Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n", 400},
        {"chunk size over 2^64", POST "Transfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFFFFF\r\nab\r\n0\r\n\r\n", 413},
        {"request line over 32 KiB", long_uri, 414},
        {"headers over 32 KiB", long_header, 431},
    };
    for (size_t i = 0; i < sizeof theirs / sizeof *theirs; i++) {
        reply_t r = raw_request(theirs[i].req, 0);
        int ok = MHD_VERSION == 0x00097500 ? r.status == theirs[i].status /* pinned: Debian 12's */
                                            : r.status == 0 || (r.status >= 400 && r.status <= 505);
        if (!ok)
            fail_msg("libmicrohttpd %zu (%s): status %d, want %d; body '%.200s'", i, theirs[i].what, r.status,
                     theirs[i].status, r.body);
        fprintf(stderr, "  %-34s -> %d (%s)\n", theirs[i].what, r.status,
                r.status == 0 ? "no reply" : r.json ? "JSON" : "libmicrohttpd's page");
        reply_free(&r);
        assert_healthy();
    }
    /* a normal query still gets its answer */
    dlc_record_t rec;
    const char *line = TU_LINE;
    assert_int_equal(dlc_record_parse(line, strlen(line), &rec), 0);
    char *args = json_dumps(rec.args, JSON_COMPACT), path[2048];
    int k = snprintf(path, sizeof path, "/v1/best?target=llvm%%20-mcpu%%3Dskylake-avx512&task=%s&args=", rec.task_name);
    for (const unsigned char *p = (const unsigned char *)args; *p && k < (int)sizeof path - 4; p++)
        k += isalnum(*p) ? snprintf(path + k, 2, "%c", *p) : snprintf(path + k, 4, "%%%02X", *p);
    dlc_db_best_t want;
    assert_int_equal(dlc_db_best(g_refdb, rec.target, rec.task_name, rec.args, &want), 0);
    reply_t r = get(path);
    if (r.status != 200)
        fail_msg("best after the malformed requests: %d %s", r.status, r.body);
    assert_string_equal(json_string_value(json_object_get(r.json, "line")), want.line);
    reply_free(&r);
    dlc_db_best_clear(&want);
    dlc_record_clear(&rec);
    free(args);
}

static void test_serve_usage(void **state) {
    (void)state;
    char empty_tok[1200], db[1200];
    snprintf(empty_tok, sizeof empty_tok, "%s/empty_token", g_dir);
    snprintf(db, sizeof db, "%s/usage.db", g_dir);
    assert_int_equal(dlc_file_write(empty_tok, "\n", 1), 0);
    static const char *const bad[][8] = {
        {"serve", "--bind", "0.0.0.0", "--port", "0", NULL}, /* beyond loopback without a token */
        {"serve", "--bind", "not-an-address", "--port", "0", NULL},
        {"serve", "--port", "70000", NULL},
        {"serve", "--port", "x", NULL},
        {"serve", "--threads", "0", NULL},
        {"serve", "--token-file", "/nonexistent/token", NULL},
        {"serve", "--token-file", NULL}, /* + empty_tok */
        {"stats", "--db", "http://127.0.0.1:1", NULL},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *argv[16] = {DLC_DB_EXE, "--db", db};
        int n = 3;
        for (int k = 0; bad[i][k]; k++)
            argv[n++] = bad[i][k];
        if (i == 6)
            argv[n++] = empty_tok;
        argv[n] = NULL;
        dlc_proc_spec_t spec = {argv, NULL, NULL, 0, 30};
        dlc_proc_result_t res;
        assert_int_equal(dlc_proc_run(&spec, &res), 0);
        if (res.exit_code != 2 || !*res.err)
            fail_msg("case %zu: exit %d, stderr '%s'", i, res.exit_code, res.err);
        dlc_proc_result_free(&res);
    }
    const char *argv[] = {DLC_DB_EXE, "serve", "--help", NULL};
    dlc_proc_spec_t spec = {argv, NULL, NULL, 0, 30};
    dlc_proc_result_t res;
    assert_int_equal(dlc_proc_run(&spec, &res), 0);
    assert_int_equal(res.exit_code, 0);
    static const char *const words[] = {"usage: dlc-db serve", "/v1/best", "/v1/stats", "/v1/export", "/v1/records",
                                        "/healthz", "Bearer", "413", "--token-file", "exit codes"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (!strstr(res.out, words[i]))
            fail_msg("serve --help lacks '%s'", words[i]);
    dlc_proc_result_free(&res);
    /* on loopback without a token, uploads are open */
    int port;
    char open_db[1200];
    snprintf(open_db, sizeof open_db, "%s/open.db", g_dir);
    pid_t pid = start_server(open_db, NULL, &port);
    assert_true(pid > 0);
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    dlc_db_t *c = dlc_db_open_url(url, NULL, NULL); /* default cache under $DLC_CACHE_DIR */
    assert_non_null(c);
    dlc_db_import_t st = {0};
    assert_int_equal(dlc_db_upload(c, TU_LINE, strlen(TU_LINE), NULL, &st), 0);
    assert_int_equal(st.added, 1);
    dlc_db_close(&c);
    assert_int_equal(stop_server(pid), 0);
}

/* Clients on six threads query while uploads run: every answer comes from
 * the server (none offline), and no uploaded record is lost. */
typedef struct {
    int id, errors;
    char cache[1200], err[512];
} conc_t;
static dlc_record_t g_recs[100];
static int g_n_recs;

static void *conc_worker(void *arg) {
    conc_t *w = arg;
    dlc_db_t *c = dlc_db_open_url(g_url, w->cache, NULL);
    for (int i = 0; c && i < 40; i++) {
        const dlc_record_t *r = &g_recs[(w->id * 13 + i) % g_n_recs];
        dlc_db_best_t b;
        int rc = dlc_db_best(c, r->target, r->task_name, r->args, &b);
        if (rc != 0 || dlc_db_offline(c)) {
            if (!w->errors++)
                snprintf(w->err, sizeof w->err, "%s: %d %s", r->task_name, rc, dlc_last_error());
        } else {
            dlc_db_best_clear(&b);
        }
    }
    if (!c)
        w->errors++;
    dlc_db_close(&c);
    return NULL;
}

static void test_concurrent(void **state) {
    (void)state;
    if (dlc_db_record_count(g_refdb) == 0)
        skip();
    dlc_strbuf_t lines;
    dlc_strbuf_init(&lines);
    assert_int_equal(dlc_db_export(g_refdb, NULL, 1, collect_line, &lines), 0);
    g_n_recs = 0;
    for (char *line = lines.data, *nl; g_n_recs < 100 && (nl = strchr(line, '\n')); line = nl + 1)
        assert_int_equal(dlc_record_parse(line, (size_t)(nl - line), &g_recs[g_n_recs++]), 0);
    reply_t r = get("/v1/stats");
    int64_t before = json_integer_value(json_object_get(r.json, "records"));
    reply_free(&r);
    char log[1200];
    snprintf(log, sizeof log, "%s/synthetic.log", g_dir);
    assert_int_equal(tu_write_synthetic(log, 2000, 11), 0);
    char *data;
    size_t len;
    assert_int_equal(dlc_file_read(log, &data, &len), 0);

    conc_t w[6];
    pthread_t tid[6];
    for (int i = 0; i < 6; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].id = i;
        snprintf(w[i].cache, sizeof w[i].cache, "%s/conc-cache-%d.db", g_dir, i);
        assert_int_equal(pthread_create(&tid[i], NULL, conc_worker, &w[i]), 0);
    }
    dlc_db_url_opts_t uo = {TOKEN, 30};
    dlc_db_t *c = dlc_db_open_url(g_url, NULL, &uo);
    assert_non_null(c);
    int64_t added = 0;
    for (int k = 0; k < 3; k++) { /* the second and third time: all duplicates */
        dlc_db_import_t st = {0};
        if (dlc_db_upload(c, data, len, NULL, &st) < 0)
            fail_msg("upload %d: %s", k, dlc_last_error());
        assert_int_equal(st.added + st.duplicates, 2000);
        added += st.added;
    }
    dlc_db_close(&c);
    for (int i = 0; i < 6; i++) {
        pthread_join(tid[i], NULL);
        if (w[i].errors)
            fail_msg("client %d: %d errors, first: %s", i, w[i].errors, w[i].err);
    }
    assert_int_equal(added, 2000);
    r = get("/v1/stats");
    assert_int_equal(r.status, 200);
    assert_int_equal(json_integer_value(json_object_get(r.json, "records")), before + 2000);
    reply_free(&r);
    free(data);
    for (int i = 0; i < g_n_recs; i++)
        dlc_record_clear(&g_recs[i]);
    dlc_strbuf_free(&lines);
}

/* dlc_db_apply_best on a URL handle: the config of the server's best record
 * (TopHub's config 188 for this conv2d on skylake), online and from the cache. */
static int64_t apply_index(dlc_db_t *db, const char *target) {
    dlc_op_spec_t spec;
    dlc_target_t tgt;
    dlc_task_t *task = NULL;
    assert_int_equal(dlc_op_parse("conv2d:1,64,56,56,64,3,3,1,1", &spec), 0);
    assert_int_equal(dlc_target_parse(target, &tgt), 0);
    assert_int_equal(dlc_task_from_spec(&spec, "conv2d_NCHWc.x86", &tgt, &task), 0); /* TopHub's template */
    dlc_config_t *cfg = NULL;
    int rc = dlc_db_apply_best(db, task, &cfg, NULL);
    int64_t index = rc == 0 ? dlc_config_index(cfg) : rc;
    dlc_config_destroy(&cfg);
    dlc_task_destroy(&task);
    return index;
}

/* Last: stops the server; the cache answers what was fetched, with a warning. */
static void test_cache_offline(void **state) {
    (void)state;
    if (dlc_db_record_count(g_refdb) == 0)
        skip();
    static const char *target = "llvm -mcpu=skylake-avx512";
    dlc_strbuf_t lines;
    dlc_strbuf_init(&lines);
    assert_int_equal(dlc_db_export(g_refdb, target, 1, collect_line, &lines), 0);
    dlc_record_t recs[5];
    char *line = lines.data;
    for (int i = 0; i < 5; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        assert_int_equal(dlc_record_parse(line, (size_t)(nl - line), &recs[i]), 0);
        line = nl + 1;
    }
    char cache[1200];
    snprintf(cache, sizeof cache, "%s/offline-cache.db", g_dir);
    dlc_db_t *c = dlc_db_open_url(g_url, cache, NULL);
    assert_non_null(c);
    char *online[5];
    for (int i = 0; i < 4; i++) { /* the fifth is never fetched */
        dlc_db_best_t b;
        assert_int_equal(dlc_db_best(c, target, recs[i].task_name, recs[i].args, &b), 0);
        online[i] = strdup(b.line);
        dlc_db_best_clear(&b);
    }
    int64_t applied = apply_index(c, target);
    assert_int_equal(applied, 188);
    dlc_db_close(&c);
    assert_int_equal(stop_server(g_pid), 0);
    g_pid = 0;
    reply_t r = get("/healthz");
    assert_int_equal(r.status, 0);
    reply_free(&r);

    c = dlc_db_open_url(g_url, cache, NULL);
    assert_non_null(c);
    for (int i = 0; i < 4; i++) {
        dlc_db_best_t b;
        assert_int_equal(dlc_db_best(c, target, recs[i].task_name, recs[i].args, &b), 0);
        assert_string_equal(b.line, online[i]);
        dlc_db_best_clear(&b);
        assert_true(dlc_db_offline(c));
    }
    dlc_db_best_t b;
    assert_int_equal(dlc_db_best(c, target, recs[4].task_name, recs[4].args, &b), DLC_ENOTFOUND);
    assert_int_equal(apply_index(c, target), applied);
    assert_int_equal(dlc_db_upload(c, TU_LINE, strlen(TU_LINE), NULL, NULL), DLC_EIO);
    dlc_db_close(&c);

    /* the binary: the same answer and one warning line naming the server and the cache */
    char *args = json_dumps(recs[0].args, JSON_COMPACT);
    setenv("DLC_DB_CACHE", cache, 1);
    const char *argv[] = {DLC_DB_EXE, "best", "--db", g_url, "--target", target, "--task", recs[0].task_name,
                          "--args", args, NULL};
    dlc_proc_spec_t spec = {argv, NULL, NULL, 0, 60};
    dlc_proc_result_t res;
    assert_int_equal(dlc_proc_run(&spec, &res), 0);
    unsetenv("DLC_DB_CACHE");
    if (res.exit_code != 0)
        fail_msg("offline best: exit %d, %s", res.exit_code, res.err);
    assert_true(strncmp(res.out, online[0], strlen(online[0])) == 0);
    assert_non_null(strstr(res.err, "unavailable"));
    assert_non_null(strstr(res.err, cache));
    int n_lines = 0;
    for (const char *p = res.err; *p; p++)
        n_lines += *p == '\n';
    assert_int_equal(n_lines, 1);
    fprintf(stderr, "  offline: %s", res.err);
    dlc_proc_result_free(&res);
    free(args);
    for (int i = 0; i < 4; i++)
        free(online[i]);
    for (int i = 0; i < 5; i++)
        dlc_record_clear(&recs[i]);
    dlc_strbuf_free(&lines);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_upload_and_best),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_malformed_http),
        cmocka_unit_test(test_serve_usage),
        cmocka_unit_test(test_concurrent),
        cmocka_unit_test(test_cache_offline),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
