/* rpc_server_main.c — dlc-rpc-server: a libuv loop around a ZeroMQ DEALER
 * socket to the tracker (CURVE when given keys); measures one job at a time
 * in the sandbox and abandons it when the tracker cancels it. */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include <zmq.h>

#include "rpc-server/dlc_device.h"
#include "support/dlc_support.h"
#include "tracker/tracker_impl.h"

static const char usage[] =
    "usage: dlc-rpc-server --tracker HOST:PORT --key KEY [options]\n"
    "Registers this device with a dlc-tracker and measures the jobs it sends,\n"
    "each in a sandboxed child.\n"
    "  --exec-wrapper W   run the runner through W (\"qemu-aarch64 -L /usr/aarch64-linux-gnu\")\n"
    "  --arch A           device architecture to report (default: the host's, or qemu-A's)\n"
    "  --heartbeat S      seconds between hellos (default 1; the tracker is lost after 3)\n"
    "  --tracker-key K    the tracker's CURVE public key: its NAME.pub, or the 40 Z85 characters\n"
    "                     (default $DLC_TRACKER_KEY); jobs then come only from that tracker\n"
    "  --key-file PATH    this server's key pair: DIR/NAME.key, DIR/NAME or a DIR with one *.key\n"
    "                     (default $DLC_KEY_FILE); its NAME.pub goes in the tracker's --allow DIR\n"
    "  --log-level L      debug|info|warn|error (default warn)\n"
    "A job whose manifest holds {\"noop\": true, \"sleep_ms\": N} is answered after N ms\n"
    "without running anything (fleet tests and benchmarks).\n"
    "Exit codes: 0 stopped by a signal, 1 failure, 2 usage error (bad option or key).\n";

#define MAX_BACKOFF_S 5.0

typedef struct {
    uv_loop_t *loop;
    uv_poll_t poll;
    uv_timer_t beat, reconnect, noop;
    uv_signal_t sigint, sigterm;
    uv_work_t work;
    void *zctx, *sock;
    int polling, draining, again;
    char endpoint[300], key[129], arch[64];
    const char *exec_wrapper;
    dlc_device_info_t dev;
    dlc__curve_t curve; /* empty: plain TCP */
    double heartbeat_s, last_heard, backoff_s; /* seconds */
    /* the job in progress and those the tracker sent while busy */
    int busy, noop_running, work_running;
    int cancel_pipe[2]; /* a byte in it kills the running measurement (sandbox's cancel_fd) */
    dlc_msg_t job;
    dlc_msg_t *waiting;
    size_t nwaiting;
    dlc_device_job_t djob;
    dlc_device_result_t dres;
    void *manifest_holder;
    int job_rc;
} server_t;

static void drain(server_t *s);
static void start_next(server_t *s);

static void send_msg(server_t *s, const dlc_msg_t *m) {
    if (s->sock == NULL)
        return;
    if (dlc__send_msg(s->sock, m) < 0)
        DLC_WARN("rpc-server: %s", dlc_last_error());
    drain(s); /* a send can swallow ZMQ_FD's edge: look for input now */
}

static void send_hello(server_t *s) {
    dlc_msg_t m = {.type = DLC_MSG_HELLO, .key = s->key, .dev = s->dev, .job_id = s->busy ? s->job.job_id : 0};
    send_msg(s, &m);
}

static void finish_job(server_t *s, const dlc_device_result_t *r) {
    dlc_msg_t m = {.type = DLC_MSG_RESULT, .job_id = s->job.job_id, .n_costs = r->n_costs, .error_no = r->error_no,
                   .error_msg = r->message, .all_cost = r->all_cost, .timestamp = r->timestamp};
    memcpy(m.costs, r->costs, sizeof m.costs);
    DLC_INFO("rpc-server: job %llu → %s %s", (unsigned long long)m.job_id, dlc_measure_error_name(r->error_no),
             r->message);
    send_msg(s, &m);
    dlc_msg_free(&s->job);
    json_decref(s->manifest_holder);
    s->manifest_holder = NULL;
    s->busy = 0;
    start_next(s);
}

static void measure_work(uv_work_t *w) {
    server_t *s = w->data;
    s->job_rc = dlc_device_measure(&s->djob, &s->dres);
    if (s->job_rc < 0) {
        memset(&s->dres, 0, sizeof s->dres);
        s->dres.error_no = DLC_MEASURE_RUNTIME_DEVICE;
        snprintf(s->dres.message, sizeof s->dres.message, "sandbox: %s", dlc_last_error());
    }
}

static void measure_done(uv_work_t *w, int status) {
    server_t *s = w->data;
    s->work_running = 0;
    finish_job(s, &s->dres);
}

static void noop_done(uv_timer_t *t) {
    server_t *s = t->data;
    s->noop_running = 0;
    dlc_device_result_t r = {.error_no = 0, .n_costs = 1, .costs = {1e-6}};
    r.timestamp = (double)time(NULL);
    finish_job(s, &r);
}

/* Starts the job in s->job (decoded, owned). */
static void start_job(server_t *s) {
    s->busy = 1;
    json_t *j = dlc_json_parse(s->job.manifest, strlen(s->job.manifest));
    dlc_device_result_t r = {.error_no = DLC_MEASURE_UNKNOWN_ERROR};
    if (j && json_is_true(json_object_get(j, "noop"))) {
        json_int_t ms = json_integer_value(json_object_get(j, "sleep_ms"));
        json_decref(j);
        s->noop_running = 1;
        uv_timer_start(&s->noop, noop_done, ms > 0 ? (uint64_t)ms : 0, 0);
        return;
    }
    json_decref(j);
    dlc_device_job_t dj = DLC_DEVICE_JOB_DEFAULT;
    if (dlc_device_job_from_manifest(s->job.manifest, &dj, &s->manifest_holder) < 0) {
        snprintf(r.message, sizeof r.message, "%s", dlc_last_error());
        finish_job(s, &r);
        return;
    }
    dj.so_data = s->job.artifact;
    dj.so_len = s->job.artifact_len;
    dj.exec_wrapper = s->exec_wrapper;
    dj.opts.number = (int)s->job.measure.number;
    dj.opts.repeat = (int)s->job.measure.repeat;
    dj.opts.min_repeat_ms = s->job.measure.min_repeat_ms;
    dj.opts.cooldown_s = s->job.measure.cooldown_s;
    dj.opts.flush_cache = (int)s->job.measure.flush_cache;
    dj.opts.timeout_s = s->job.measure.timeout_s;
    char stale[64];
    while (read(s->cancel_pipe[0], stale, sizeof stale) > 0) /* a cancel that came after its job ended */
        ;
    dj.cancel_fd = s->cancel_pipe[0];
    s->djob = dj;
    s->work.data = s;
    s->work_running = 1;
    uv_queue_work(s->loop, &s->work, measure_work, measure_done);
}

/* The tracker cancelled job id: a waiting one is dropped, a running one
 * stopped (the sandbox kills its process group). Either way the tracker
 * gets a result for it, which it drops, and we take the next job. */
static void cancel_job(server_t *s, uint64_t id) {
    for (size_t i = 0; i < s->nwaiting; i++) {
        if (s->waiting[i].job_id != id)
            continue;
        dlc_msg_t m = {.type = DLC_MSG_RESULT, .job_id = id, .error_no = DLC_MEASURE_UNKNOWN_ERROR,
                       .error_msg = "cancelled", .timestamp = (double)time(NULL)};
        dlc_msg_free(&s->waiting[i]);
        memmove(s->waiting + i, s->waiting + i + 1, (--s->nwaiting - i) * sizeof *s->waiting);
        send_msg(s, &m);
        return;
    }
    if (!s->busy || s->job.job_id != id)
        return; /* finished already: its result is on its way */
    DLC_INFO("rpc-server: job %llu cancelled by the tracker", (unsigned long long)id);
    if (s->noop_running) {
        uv_timer_stop(&s->noop);
        s->noop_running = 0;
        dlc_device_result_t r = {.error_no = DLC_MEASURE_UNKNOWN_ERROR, .message = "cancelled"};
        r.timestamp = (double)time(NULL);
        finish_job(s, &r);
    } else if (s->work_running && write(s->cancel_pipe[1], "c", 1) < 0 && errno != EAGAIN) {
        DLC_WARN("rpc-server: cannot stop job %llu: %s", (unsigned long long)id, strerror(errno));
    }
}

static void start_next(server_t *s) {
    if (s->busy || s->nwaiting == 0)
        return;
    s->job = s->waiting[0];
    memmove(s->waiting, s->waiting + 1, --s->nwaiting * sizeof *s->waiting);
    start_job(s);
}

static void on_message(server_t *s, dlc_msg_t *m) {
    s->last_heard = dlc_now();
    s->backoff_s = s->heartbeat_s;
    switch (m->type) {
    case DLC_MSG_JOB: {
        dlc_msg_t *w = realloc(s->waiting, (s->nwaiting + 1) * sizeof *w);
        if (w == NULL) {
            DLC_ERROR("rpc-server: out of memory; job %llu dropped", (unsigned long long)m->job_id);
            dlc_msg_free(m);
            return;
        }
        s->waiting = w;
        s->waiting[s->nwaiting++] = *m; /* takes ownership */
        memset(m, 0, sizeof *m);
        start_next(s);
        return;
    }
    case DLC_MSG_HEARTBEAT:
        break;
    case DLC_MSG_CANCEL:
        cancel_job(s, m->job_id);
        break;
    case DLC_MSG_ERROR:
        DLC_WARN("rpc-server: tracker says: %s", m->error_msg);
        break;
    default:
        DLC_WARN("rpc-server: ignored a %s message", dlc_msg_type_name(m->type));
    }
    dlc_msg_free(m);
}

static void drain(server_t *s) {
    if (s->draining) {
        s->again = 1;
        return;
    }
    s->draining = 1;
    do {
        s->again = 0;
        while (s->sock) {
            int events = 0;
            size_t len = sizeof events;
            if (zmq_getsockopt(s->sock, ZMQ_EVENTS, &events, &len) != 0 || !(events & ZMQ_POLLIN))
                break;
            zmq_msg_t msg;
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, s->sock, ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&msg);
                break;
            }
            dlc_msg_t m;
            if (dlc_msg_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &m) == 0)
                on_message(s, &m);
            else
                DLC_WARN("rpc-server: rejected a frame from the tracker: %s", dlc_last_error());
            zmq_msg_close(&msg);
        }
    } while (s->again);
    s->draining = 0;
}

static void on_poll(uv_poll_t *p, int status, int events) { drain(p->data); }

static int open_socket(server_t *s) {
    s->sock = zmq_socket(s->zctx, ZMQ_DEALER);
    int zero = 0, ivl = 100, ivl_max = (int)(MAX_BACKOFF_S * 1000), fd = -1;
    int64_t maxmsg = DLC_MSG_MAX_FRAME + 4096;
    size_t len = sizeof fd;
    if (s->sock == NULL || zmq_setsockopt(s->sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(s->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) != 0 ||
        zmq_setsockopt(s->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) != 0 ||
        zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0 ||
        dlc__curve_client(s->sock, &s->curve) < 0 || zmq_connect(s->sock, s->endpoint) != 0 ||
        zmq_getsockopt(s->sock, ZMQ_FD, &fd, &len) != 0)
        return dlc_error(DLC_EIO, "connecting to %s: %s", s->endpoint, zmq_strerror(errno));
    uv_poll_init(s->loop, &s->poll, fd);
    s->poll.data = s;
    uv_poll_start(&s->poll, UV_READABLE, on_poll);
    s->polling = 1;
    s->last_heard = dlc_now();
    send_hello(s);
    return 0;
}

static void on_reconnect(uv_timer_t *t) {
    server_t *s = t->data;
    if (open_socket(s) < 0)
        DLC_ERROR("rpc-server: %s", dlc_last_error());
}

static void on_poll_closed(uv_handle_t *h) {
    server_t *s = h->data;
    zmq_close(s->sock);
    s->sock = NULL;
    s->polling = 0;
    DLC_WARN("rpc-server: no word from the tracker; reconnecting in %.1f s%s", s->backoff_s,
             s->curve.server_public[0] ? " (CURVE: is our public key in the tracker's --allow directory?)" : "");
    uv_timer_start(&s->reconnect, on_reconnect, (uint64_t)(s->backoff_s * 1000), 0);
    s->backoff_s = s->backoff_s * 2 > MAX_BACKOFF_S ? MAX_BACKOFF_S : s->backoff_s * 2;
}

static void on_beat(uv_timer_t *t) {
    server_t *s = t->data;
    if (!s->polling)
        return;
    if (dlc_now() - s->last_heard > 3 * s->heartbeat_s) { /* a fresh socket, after a backoff */
        uv_poll_stop(&s->poll);
        uv_close((uv_handle_t *)&s->poll, on_poll_closed);
        s->polling = 0;
        return;
    }
    send_hello(s);
}

static void on_signal(uv_signal_t *h, int sig) { uv_stop(h->loop); }

int main(int argc, char **argv) {
    server_t s;
    memset(&s, 0, sizeof s);
    const char *tracker = NULL, *key = NULL, *arch = NULL, *tracker_key = NULL, *key_file = NULL;
    s.heartbeat_s = 1.0;
    static const struct option longopts[] = {{"tracker", 1, 0, 't'},   {"key", 1, 0, 'k'},
                                             {"exec-wrapper", 1, 0, 'w'}, {"arch", 1, 0, 'a'},
                                             {"heartbeat", 1, 0, 'b'}, {"log-level", 1, 0, 'l'},
                                             {"tracker-key", 1, 0, 'T'}, {"key-file", 1, 0, 'F'},
                                             {"help", 0, 0, 'h'},      {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (c) {
        case 't': tracker = optarg; break;
        case 'k': key = optarg; break;
        case 'w': s.exec_wrapper = optarg; break;
        case 'a': arch = optarg; break;
        case 'b': s.heartbeat_s = strtod(optarg, NULL); break;
        case 'T': tracker_key = optarg; break;
        case 'F': key_file = optarg; break;
        case 'l':
            if (dlc_log_level_parse(optarg) < 0) {
                fprintf(stderr, "dlc-rpc-server: unknown log level '%s'\n", optarg);
                return 2;
            }
            dlc_log_set_level((dlc_log_level_t)dlc_log_level_parse(optarg));
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (tracker == NULL || key == NULL || key[0] == '\0' || strlen(key) > 128 || s.heartbeat_s <= 0 ||
        dlc__endpoint(tracker, s.endpoint, sizeof s.endpoint) < 0) {
        fprintf(stderr, "dlc-rpc-server: %s\n%s", tracker && key ? dlc_last_error() : "--tracker and --key are required",
                usage);
        return 2;
    }
    if (dlc__curve_load(tracker_key, key_file, &s.curve) < 0) {
        fprintf(stderr, "dlc-rpc-server: %s\n", dlc_last_error());
        return 2;
    }
    char host[300];
    snprintf(host, sizeof host, "%s", tracker);
    if (strrchr(host, ':'))
        *strrchr(host, ':') = '\0'; /* HOST:PORT */
    if (!s.curve.server_public[0] && !dlc__is_loopback(host))
        fprintf(stderr, "dlc-rpc-server: warning: no CURVE keys (--tracker-key, --key-file): whoever answers at %s "
                        "can send this device jobs\n", tracker);
    snprintf(s.key, sizeof s.key, "%s", key);
    dlc_device_info_get(&s.dev);
    if (arch == NULL && s.exec_wrapper && strncmp(s.exec_wrapper, "qemu-", 5) == 0)
        snprintf(s.arch, sizeof s.arch, "%.*s", (int)strcspn(s.exec_wrapper + 5, " "), s.exec_wrapper + 5);
    else
        snprintf(s.arch, sizeof s.arch, "%s", arch ? arch : s.dev.arch);
    s.dev.arch = s.arch;
    s.backoff_s = s.heartbeat_s;
    if (pipe2(s.cancel_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
        fprintf(stderr, "dlc-rpc-server: pipe: %s\n", strerror(errno));
        return 1;
    }
    s.loop = uv_default_loop();
    s.zctx = zmq_ctx_new();
    uv_timer_init(s.loop, &s.beat);
    uv_timer_init(s.loop, &s.reconnect);
    uv_timer_init(s.loop, &s.noop);
    s.beat.data = s.reconnect.data = s.noop.data = &s;
    uv_signal_init(s.loop, &s.sigint);
    uv_signal_init(s.loop, &s.sigterm);
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    if (open_socket(&s) < 0) {
        fprintf(stderr, "dlc-rpc-server: %s\n", dlc_last_error());
        return 1;
    }
    uint64_t beat_ms = (uint64_t)(s.heartbeat_s * 1000);
    uv_timer_start(&s.beat, on_beat, beat_ms ? beat_ms : 1, beat_ms ? beat_ms : 1);
    printf("dlc-rpc-server: key %s (%s, %s) → %s%s\n", s.key, s.arch, s.dev.cpu, s.endpoint,
           s.curve.server_public[0] ? " (CURVE)" : "");
    fflush(stdout);
    uv_run(s.loop, UV_RUN_DEFAULT);
    /* Stopped by a signal: a measurement still running dies with us (PDEATHSIG). */
    if (s.sock)
        zmq_close(s.sock);
    _exit(0);
}
