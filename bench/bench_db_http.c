/* bench_db_http.c — load test of the shared tuning database: best-config
 * queries (GET /v1/best) against a dlc-db server on 127.0.0.1 from a few
 * client threads, each with its own kept-alive libcurl connection; prints
 * queries/s and p50/p99 latency.
 *
 *   bench_db_http [--queries N (10000)] [--threads T (4)] [--server-threads S (4)]
 *                 [--url http://127.0.0.1:PORT] [--tophub DIR]
 *
 * Without --url it starts a server in this process on a free loopback port,
 * over a fresh database holding the TopHub logs of DIR (default
 * $DLC_SOURCE_DIR/../shared/data/tophub); the queries cycle through the
 * database's tasks (their own targets). Bounded: N queries, 5 s each at most. */
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <curl/curl.h>
#include <dirent.h>

#include "db/dlc_db_http.h"

#ifndef DLC_SOURCE_DIR
#define DLC_SOURCE_DIR "."
#endif

typedef struct {
    char **urls; /* one GET URL per task */
    int n_urls;
    int first, count;  /* this thread's queries */
    double *lat;       /* seconds, one per query */
    int errors;
} worker_t;

static size_t discard(char *p, size_t size, size_t n, void *user) {
    (void)p, (void)user;
    return size * n;
}

static void *run_worker(void *arg) {
    worker_t *w = arg;
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    for (int i = 0; i < w->count; i++) {
        int q = w->first + i;
        curl_easy_setopt(c, CURLOPT_URL, w->urls[(q * 7919) % w->n_urls]);
        double t0 = dlc_now();
        long status = 0;
        if (curl_easy_perform(c) != CURLE_OK || curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK ||
            status != 200)
            w->errors++;
        w->lat[i] = dlc_now() - t0;
    }
    curl_easy_cleanup(c);
    return NULL;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct {
    CURL *c;
    const char *base;
    char **urls;
    int n, cap;
} url_ctx_t;

/* One GET URL from each best-export line. */
static int add_url(const char *line, size_t len, void *user) {
    url_ctx_t *u = user;
    dlc_record_t r;
    if (dlc_record_parse(line, len, &r) < 0)
        return 0;
    char *args = json_dumps(r.args, JSON_COMPACT);
    char *et = curl_easy_escape(u->c, r.target, 0), *en = curl_easy_escape(u->c, r.task_name, 0);
    char *ea = curl_easy_escape(u->c, args, 0);
    if (u->n == u->cap)
        u->urls = realloc(u->urls, (size_t)(u->cap = u->cap ? 2 * u->cap : 1024) * sizeof *u->urls);
    size_t need = strlen(u->base) + strlen(et) + strlen(en) + strlen(ea) + 64;
    u->urls[u->n] = malloc(need);
    snprintf(u->urls[u->n++], need, "%s/v1/best?target=%s&task=%s&args=%s", u->base, et, en, ea);
    curl_free(et);
    curl_free(en);
    curl_free(ea);
    free(args);
    dlc_record_clear(&r);
    return 0;
}

static size_t collect(char *p, size_t size, size_t n, void *user) {
    dlc_strbuf_appendn(user, p, size * n);
    return size * n;
}

int main(int argc, char **argv) {
    int queries = 10000, threads = 4, server_threads = 4;
    const char *url = NULL, *tophub = NULL;
    static const struct option opts[] = {{"queries", required_argument, NULL, 'n'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"server-threads", required_argument, NULL, 's'},
                                         {"url", required_argument, NULL, 'u'},
                                         {"tophub", required_argument, NULL, 'd'},
                                         {0, 0, 0, 0}};
    int opt;
    while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (opt) {
        case 'n': queries = atoi(optarg); break;
        case 't': threads = atoi(optarg); break;
        case 's': server_threads = atoi(optarg); break;
        case 'u': url = optarg; break;
        case 'd': tophub = optarg; break;
        default: fprintf(stderr, "usage: see the top of bench/bench_db_http.c\n"); return 2;
        }
    }
    if (queries < 1 || threads < 1 || threads > 64 || server_threads < 1) {
        fprintf(stderr, "bench_db_http: bad --queries/--threads\n");
        return 2;
    }
    curl_global_init(CURL_GLOBAL_DEFAULT);
    dlc_db_server_t *srv = NULL;
    char base[256], dir[1100], db_path[1200];
    if (!url) {
        char src[1024];
        snprintf(src, sizeof src, "%s/../shared/data/tophub",
                 getenv("DLC_SOURCE_DIR") ? getenv("DLC_SOURCE_DIR") : DLC_SOURCE_DIR);
        if (!tophub)
            tophub = src;
        snprintf(dir, sizeof dir, "/tmp/bench_db_http-%d", (int)getpid());
        snprintf(db_path, sizeof db_path, "%s/tuning.db", dir);
        dlc_db_t *db = dlc_db_open(db_path, 0);
        DIR *d = opendir(tophub);
        struct dirent *e;
        int64_t files = 0;
        while (db && d && (e = readdir(d)) != NULL) {
            size_t len = strlen(e->d_name);
            if (len < 5 || strcmp(e->d_name + len - 4, ".log") != 0)
                continue;
            char path[2400];
            snprintf(path, sizeof path, "%s/%s", tophub, e->d_name);
            dlc_db_import_t st = {0};
            files += dlc_db_import_file(db, path, NULL, &st) == 0;
        }
        if (d)
            closedir(d);
        if (!db || files == 0) {
            fprintf(stderr, "bench_db_http: no TopHub logs imported from %s: %s\n", tophub, dlc_last_error());
            return 1;
        }
        printf("database: %lld records from %lld TopHub files\n", (long long)dlc_db_record_count(db),
               (long long)files);
        dlc_db_close(&db);
        dlc_db_server_opts_t o = {.db_path = db_path, .port = 0, .threads = server_threads};
        if (!(srv = dlc_db_server_new(&o))) {
            fprintf(stderr, "bench_db_http: %s\n", dlc_last_error());
            return 1;
        }
        snprintf(base, sizeof base, "http://127.0.0.1:%d", dlc_db_server_port(srv));
    } else {
        snprintf(base, sizeof base, "%s", url);
    }
    /* the tasks: the server's best export */
    url_ctx_t u = {curl_easy_init(), base, NULL, 0, 0};
    dlc_strbuf_t exp;
    dlc_strbuf_init(&exp);
    char ex_url[300];
    snprintf(ex_url, sizeof ex_url, "%s/v1/export?best=1", base);
    curl_easy_setopt(u.c, CURLOPT_URL, ex_url);
    curl_easy_setopt(u.c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(u.c, CURLOPT_WRITEDATA, &exp);
    curl_easy_setopt(u.c, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(u.c, CURLOPT_TIMEOUT_MS, 30000L);
    if (curl_easy_perform(u.c) != CURLE_OK) {
        fprintf(stderr, "bench_db_http: cannot reach %s\n", base);
        return 1;
    }
    for (char *line = exp.data, *nl; (nl = strchr(line, '\n')); line = nl + 1)
        add_url(line, (size_t)(nl - line), &u);
    if (u.n == 0) {
        fprintf(stderr, "bench_db_http: %s has no tasks\n", base);
        return 1;
    }
    worker_t w[64];
    pthread_t tid[64];
    double *lat = calloc((size_t)queries, sizeof *lat);
    double t0 = dlc_now();
    for (int i = 0, first = 0; i < threads; i++) {
        int count = queries / threads + (i < queries % threads);
        w[i] = (worker_t){u.urls, u.n, first, count, lat + first, 0};
        first += count;
        pthread_create(&tid[i], NULL, run_worker, &w[i]);
    }
    int errors = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(tid[i], NULL);
        errors += w[i].errors;
    }
    double wall = dlc_now() - t0;
    qsort(lat, (size_t)queries, sizeof *lat, cmp_double);
    printf("%d best-config queries over %d tasks, %d client threads (keep-alive), %d server threads, %s\n", queries,
           u.n, threads, server_threads, base);
    printf("%.0f queries/s  p50 %.3f ms  p99 %.3f ms  max %.3f ms  errors %d  (%.2f s)\n", queries / wall,
           lat[queries / 2] * 1e3, lat[(int)(queries * 0.99)] * 1e3, lat[queries - 1] * 1e3, errors, wall);
    for (int i = 0; i < u.n; i++)
        free(u.urls[i]);
    free(u.urls);
    free(lat);
    dlc_strbuf_free(&exp);
    curl_easy_cleanup(u.c);
    dlc_db_server_destroy(&srv);
    if (!url) {
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            fprintf(stderr, "bench_db_http: could not remove %s\n", dir);
    }
    curl_global_cleanup();
    return errors ? 1 : 0;
}
