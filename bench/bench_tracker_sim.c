/* bench_tracker_sim.c — simulated dlc-rpc-servers for bench_tracker (see
 * bench_tracker.h): a few threads, each waiting with epoll on its share of
 * the DEALER sockets, answering jobs at once and spreading the hellos over
 * the heartbeat interval as a thousand real servers would. */
#include "bench_tracker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "support/dlc_support.h"
#include "tracker/dlc_protocol.h"

typedef struct {
    bench_sim_t *sim;
    pthread_t tid;
    int first, count; /* its servers: socks[first, first + count) */
    int running;
} sim_thread_t;

struct bench_sim {
    void *ctx;
    void **socks;
    int64_t *jobs; /* per server: jobs answered (written by its thread only) */
    int n, nthreads;
    double heartbeat_s; /* seconds */
    void *hello;        /* the encoded hello, the same for every server */
    size_t hello_len;   /* bytes */
    _Atomic int64_t *recv_ns;
    _Atomic int32_t *receipts;
    size_t cap;
    atomic_int stop;
    atomic_llong errors;
    sim_thread_t *threads;
};

int64_t bench_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* One frame for server i: a job is answered at once, the rest ignored. */
static void on_frame(bench_sim_t *s, int i, const void *data, size_t len) {
    int64_t now = bench_ns();
    dlc_msg_t m;
    if (dlc_msg_decode(data, len, &m) < 0) {
        s->errors++;
        return;
    }
    if (m.type == DLC_MSG_JOB) {
        const char *p = strstr(m.manifest, "\"n\":");
        long long n = p ? strtoll(p + 4, NULL, 10) : -1;
        if (n >= 0 && (size_t)n < s->cap) {
            atomic_store_explicit(&s->recv_ns[n], now, memory_order_relaxed);
            atomic_fetch_add_explicit(&s->receipts[n], 1, memory_order_relaxed);
        } else {
            s->errors++;
        }
        s->jobs[i]++;
        dlc_msg_t r = {.type = DLC_MSG_RESULT, .job_id = m.job_id, .n_costs = 1, .costs = {1e-6}, .error_msg = ""};
        void *buf;
        size_t blen;
        if (dlc_msg_encode(&r, &buf, &blen) < 0) {
            s->errors++;
        } else {
            if (zmq_send(s->socks[i], buf, blen, ZMQ_DONTWAIT) < 0)
                s->errors++;
            free(buf);
        }
    }
    dlc_msg_free(&m);
}

/* Receives what waits on server i's socket. ZMQ_FD only says that
 * something may have changed: ZMQ_EVENTS tells, and reading it also
 * re-arms the descriptor; a send can take the edge, hence after every send. */
static void drain(bench_sim_t *s, int i) {
    for (;;) {
        int events = 0;
        size_t len = sizeof events;
        if (zmq_getsockopt(s->socks[i], ZMQ_EVENTS, &events, &len) != 0 || !(events & ZMQ_POLLIN))
            return;
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, s->socks[i], ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        on_frame(s, i, zmq_msg_data(&msg), zmq_msg_size(&msg));
        zmq_msg_close(&msg);
    }
}

/* One thread's servers: epoll over their ZMQ_FDs, so a wake-up costs what
 * is ready, not a scan of every socket (zmq_poll would be O(servers)). */
static void *sim_main(void *arg) {
    sim_thread_t *t = arg;
    bench_sim_t *s = t->sim;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    for (int i = t->first; ep >= 0 && i < t->first + t->count; i++) {
        int fd = -1;
        size_t len = sizeof fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        if (zmq_getsockopt(s->socks[i], ZMQ_FD, &fd, &len) != 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) != 0)
            s->errors++;
        drain(s, i);
    }
    if (ep < 0) {
        s->errors++;
        return NULL;
    }
    int64_t start = bench_ns(), period = (int64_t)(s->heartbeat_s * 1e9), hellos = 0;
    int64_t gap = period / t->count > 0 ? period / t->count : 1; /* ns between two hellos of this thread */
    struct epoll_event evs[64];
    while (!atomic_load(&s->stop)) {
        /* server k's hellos go out at start + (k / count + j) * period, j = 0, 1, ... */
        for (int64_t due = (bench_ns() - start) / gap + 1; hellos < due; hellos++) {
            int i = t->first + (int)(hellos % t->count);
            if (zmq_send(s->socks[i], s->hello, s->hello_len, ZMQ_DONTWAIT) < 0)
                s->errors++;
            drain(s, i);
        }
        int n = epoll_wait(ep, evs, 64, 10);
        for (int k = 0; k < n; k++)
            drain(s, (int)evs[k].data.u32);
    }
    close(ep);
    return NULL;
}

bench_sim_t *bench_sim_start(const char *endpoint, const char *key, int n, int nthreads, double heartbeat_s,
                             _Atomic int64_t *recv_ns, _Atomic int32_t *receipts, size_t cap) {
    bench_sim_t *s = calloc(1, sizeof *s);
    if (s == NULL || n < 1 || nthreads < 1)
        goto fail;
    if (nthreads > n)
        nthreads = n;
    s->n = n, s->nthreads = nthreads, s->heartbeat_s = heartbeat_s;
    s->recv_ns = recv_ns, s->receipts = receipts, s->cap = cap;
    dlc_msg_t hello = {.type = DLC_MSG_HELLO, .key = key,
                       .dev = {.arch = "sim", .cpu = "simulated server", .os = "none", .dlc_version = "bench",
                               .cores = 1, .memory = 0}};
    s->ctx = zmq_ctx_new();
    s->socks = calloc((size_t)n, sizeof *s->socks);
    s->jobs = calloc((size_t)n, sizeof *s->jobs);
    s->threads = calloc((size_t)nthreads, sizeof *s->threads);
    if (s->ctx == NULL || s->socks == NULL || s->jobs == NULL || s->threads == NULL ||
        zmq_ctx_set(s->ctx, ZMQ_MAX_SOCKETS, n + 64) != 0 || dlc_msg_encode(&hello, &s->hello, &s->hello_len) < 0)
        goto fail;
    int zero = 0;
    for (int i = 0; i < n; i++) {
        s->socks[i] = zmq_socket(s->ctx, ZMQ_DEALER);
        if (s->socks[i] == NULL || zmq_setsockopt(s->socks[i], ZMQ_LINGER, &zero, sizeof zero) != 0 ||
            zmq_setsockopt(s->socks[i], ZMQ_SNDHWM, &zero, sizeof zero) != 0 || zmq_connect(s->socks[i], endpoint) != 0) {
            fprintf(stderr, "bench_tracker: simulated server %d: %s\n", i, zmq_strerror(zmq_errno()));
            goto fail;
        }
    }
    for (int t = 0; t < nthreads; t++) {
        sim_thread_t *th = &s->threads[t];
        th->sim = s;
        th->first = (int)((int64_t)n * t / nthreads);
        th->count = (int)((int64_t)n * (t + 1) / nthreads) - th->first;
        if (pthread_create(&th->tid, NULL, sim_main, th) != 0)
            goto fail;
        th->running = 1;
    }
    return s;
fail:
    bench_sim_stop(&s);
    return NULL;
}

void bench_sim_spread(const bench_sim_t *s, int *used, int64_t *most) {
    *used = 0, *most = 0;
    for (int i = 0; i < s->n; i++) {
        *used += s->jobs[i] > 0;
        if (s->jobs[i] > *most)
            *most = s->jobs[i];
    }
}

int64_t bench_sim_errors(const bench_sim_t *s) { return s->errors; }

void bench_sim_stop(bench_sim_t **sp) {
    bench_sim_t *s = sp ? *sp : NULL;
    if (s == NULL)
        return;
    atomic_store(&s->stop, 1);
    for (int t = 0; s->threads && t < s->nthreads; t++)
        if (s->threads[t].running)
            pthread_join(s->threads[t].tid, NULL);
    for (int i = 0; s->socks && i < s->n; i++)
        if (s->socks[i])
            zmq_close(s->socks[i]);
    if (s->ctx)
        zmq_ctx_term(s->ctx);
    free(s->socks);
    free(s->jobs);
    free(s->threads);
    free(s->hello);
    free(s);
    *sp = NULL;
}
