/* client.c — the tuner's connection to dlc-tracker: submit, poll, cancel,
 * resubmission after a tracker restart, exactly-once delivery, CURVE, and
 * failing fast when the tracker refuses us (dlc_client.h). */
#include "tracker/dlc_client.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "support/dlc_support.h"
#include "tracker/tracker_impl.h"

#define HEARTBEAT_S 0.25

typedef struct {
    uint64_t id;
    char *key, *manifest;
    int64_t priority;
    uint8_t *artifact;
    size_t artifact_len; /* bytes */
    dlc_msg_measure_t measure;
} pjob_t;

struct dlc_client {
    void *ctx, *sock, *mon; /* mon: the socket's failed handshakes */
    uint64_t epoch, next_id;
    double last_beat; /* seconds (dlc_now) */
    dlc__map_t pending; /* id → pjob_t */
    dlc_client_result_t *ready; /* received, not yet polled */
    size_t nready, capready;
    char *status; /* the last status reply */
    int64_t resubmitted;
    int curve;    /* connected with CURVE */
    char endpoint[300];
    char refused[512]; /* why the tracker will never serve us; "" while it may */
};

static void watch_handshakes(dlc_client_t *c);

static void pjob_free(pjob_t *j) {
    if (j)
        free(j->key), free(j->manifest), free(j->artifact), free(j);
}

dlc_client_t *dlc_client_new(const char *tracker) { return dlc_client_new_opts(tracker, NULL); }

dlc_client_t *dlc_client_new_opts(const char *tracker, const dlc_client_opts_t *opts) {
    char ep[300];
    dlc__curve_t keys;
    if (dlc__endpoint(tracker, ep, sizeof ep) < 0 ||
        dlc__curve_load(opts ? opts->tracker_key : NULL, opts ? opts->key_file : NULL, &keys) < 0)
        return NULL;
    dlc_client_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        explicit_bzero(&keys, sizeof keys);
        dlc_error(DLC_ENOMEM, "client");
        return NULL;
    }
    c->next_id = 1;
    c->curve = keys.server_public[0] != '\0';
    snprintf(c->endpoint, sizeof c->endpoint, "%s", ep);
    c->ctx = zmq_ctx_new();
    c->sock = c->ctx ? zmq_socket(c->ctx, ZMQ_DEALER) : NULL;
    uint8_t rid[16];
    for (int i = 0; i < 2; i++) {
        uint64_t r = dlc__random64();
        memcpy(rid + 8 * i, &r, 8);
    }
    rid[0] |= 1; /* ids starting with 0 are ZeroMQ's own */
    int zero = 0, ivl = 100, ivl_max = 1000;
    int64_t maxmsg = DLC_MSG_MAX_FRAME + 4096;
    if (c->sock == NULL || zmq_setsockopt(c->sock, ZMQ_ROUTING_ID, rid, sizeof rid) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_SNDHWM, &zero, sizeof zero) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_RECONNECT_IVL_MAX, &ivl_max, sizeof ivl_max) != 0 ||
        zmq_setsockopt(c->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg) != 0) {
        dlc_error(DLC_EIO, "connecting to %s: %s", ep, zmq_strerror(errno));
        goto fail;
    }
    if (dlc__curve_client(c->sock, &keys) < 0 ||
        (c->mon = dlc__handshake_monitor(c->ctx, c->sock, "inproc://dlc-client-handshakes")) == NULL)
        goto fail;
    if (zmq_connect(c->sock, ep) != 0) {
        dlc_error(DLC_EIO, "connecting to %s: %s", ep, zmq_strerror(errno));
        goto fail;
    }
    explicit_bzero(&keys, sizeof keys);
    return c;
fail:
    explicit_bzero(&keys, sizeof keys);
    dlc_client_destroy(&c);
    return NULL;
}

void dlc_client_destroy(dlc_client_t **cp) {
    dlc_client_t *c = cp ? *cp : NULL;
    if (c == NULL)
        return;
    for (size_t i = 0; i < c->pending.cap; i++)
        pjob_free(c->pending.vals[i]);
    dlc__map_free(&c->pending);
    if (c->mon)
        zmq_close(c->mon);
    if (c->sock)
        zmq_close(c->sock);
    if (c->ctx)
        zmq_ctx_term(c->ctx);
    free(c->ready);
    free(c->status);
    free(c);
    *cp = NULL;
}

static int send_job(dlc_client_t *c, const pjob_t *j) {
    dlc_msg_t m = {.type = DLC_MSG_SUBMIT, .job_id = j->id, .key = j->key, .priority = j->priority,
                   .artifact = j->artifact, .artifact_len = j->artifact_len, .manifest = j->manifest,
                   .measure = j->measure};
    return dlc__send_msg(c->sock, &m);
}

int dlc_client_submit(dlc_client_t *c, const dlc_client_job_t *job, uint64_t *job_id) {
    if (c == NULL || job == NULL || job->key == NULL || job->manifest == NULL || (job->artifact_len && !job->artifact))
        return dlc_error(DLC_EINVAL, "dlc_client_submit: NULL argument");
    watch_handshakes(c);
    if (c->refused[0])
        return dlc_error(DLC_EIO, "%s", c->refused);
    pjob_t *j = calloc(1, sizeof *j);
    if (j == NULL)
        return dlc_error(DLC_ENOMEM, "job");
    j->id = c->next_id;
    j->key = strdup(job->key);
    j->manifest = strdup(job->manifest);
    j->artifact = malloc(job->artifact_len ? job->artifact_len : 1);
    j->artifact_len = job->artifact_len;
    j->priority = job->priority;
    j->measure = job->measure;
    int rc = j->key && j->manifest && j->artifact ? 0 : dlc_error(DLC_ENOMEM, "job");
    if (rc == 0) {
        if (job->artifact_len)
            memcpy(j->artifact, job->artifact, job->artifact_len);
        rc = send_job(c, j); /* also validates every field */
    }
    if (rc == 0)
        rc = dlc__map_put(&c->pending, j->id, j);
    if (rc < 0) {
        pjob_free(j);
        return rc;
    }
    c->next_id++;
    if (job_id)
        *job_id = j->id;
    return 0;
}

int dlc_client_submit_batch(dlc_client_t *c, const dlc_client_job_t *jobs, int n, uint64_t *ids) {
    for (int i = 0; i < n; i++) {
        int rc = dlc_client_submit(c, &jobs[i], ids ? &ids[i] : NULL);
        if (rc < 0)
            return rc;
    }
    return 0;
}

int dlc_client_cancel(dlc_client_t *c, uint64_t job_id) {
    pjob_t *j = dlc__map_del(&c->pending, job_id);
    if (j == NULL)
        return dlc_error(DLC_ENOTFOUND, "job %llu is not pending", (unsigned long long)job_id);
    pjob_free(j);
    if (c->refused[0])
        return 0; /* the tracker never saw it (and the last error stays the reason) */
    dlc_msg_t m = {.type = DLC_MSG_CANCEL, .job_id = job_id};
    return dlc__send_msg(c->sock, &m);
}

size_t dlc_client_pending(const dlc_client_t *c) { return c ? c->pending.len : 0; }
int64_t dlc_client_resubmitted(const dlc_client_t *c) { return c ? c->resubmitted : 0; }

static void push_result(dlc_client_t *c, const dlc_msg_t *m, int error_no, const char *message) {
    pjob_t *j = dlc__map_del(&c->pending, m->job_id);
    if (j == NULL)
        return; /* cancelled, or a second copy of a delivered result */
    pjob_free(j);
    if (c->nready == c->capready) {
        size_t cap = c->capready ? 2 * c->capready : 64;
        dlc_client_result_t *r = realloc(c->ready, cap * sizeof *r);
        if (r == NULL) {
            DLC_ERROR("client: out of memory; result of job %llu dropped", (unsigned long long)m->job_id);
            return;
        }
        c->ready = r, c->capready = cap;
    }
    dlc_client_result_t *r = &c->ready[c->nready++];
    memset(r, 0, sizeof *r);
    r->job_id = m->job_id;
    r->error_no = error_no;
    r->n_costs = (int)m->n_costs;
    memcpy(r->costs, m->costs, sizeof r->costs);
    r->all_cost = m->all_cost;
    r->timestamp = m->timestamp;
    snprintf(r->message, sizeof r->message, "%s", message ? message : "");
}

static void on_message(dlc_client_t *c, const dlc_msg_t *m) {
    switch (m->type) {
    case DLC_MSG_HEARTBEAT:
        if (c->epoch && m->epoch != c->epoch) { /* a new tracker: it never saw our jobs */
            DLC_INFO("client: tracker restarted; resubmitting %zu jobs", c->pending.len);
            for (size_t i = 0; i < c->pending.cap; i++)
                if (c->pending.vals[i] && send_job(c, c->pending.vals[i]) == 0)
                    c->resubmitted++;
        }
        c->epoch = m->epoch;
        break;
    case DLC_MSG_RESULT:
        push_result(c, m, (int)m->error_no, m->error_msg);
        break;
    case DLC_MSG_ERROR:
        if (m->job_id)
            push_result(c, m, DLC_MEASURE_UNKNOWN_ERROR, m->error_msg);
        else
            DLC_WARN("client: tracker says: %s", m->error_msg);
        break;
    case DLC_MSG_STATUS_REPLY:
        free(c->status);
        c->status = strdup(m->json);
        break;
    default:
        DLC_WARN("client: ignored a %s message", dlc_msg_type_name(m->type));
    }
}

/* Notes a handshake the tracker will never accept: our key is not in its
 * allow-list, or one side runs CURVE and the other does not. Other failures
 * (a connection cut mid-handshake) may pass, and ZeroMQ retries them. */
static void watch_handshakes(dlc_client_t *c) {
    uint16_t event;
    uint32_t value;
    char ep[256];
    while (c->refused[0] == '\0' && dlc__handshake_event(c->mon, &event, &value, ep, sizeof ep) == 0) {
        if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
            snprintf(c->refused, sizeof c->refused,
                     "the tracker at %s refused this client's CURVE key (ZAP status %u): its public key (.pub) "
                     "must be in the tracker's --allow directory", c->endpoint, (unsigned)value);
        else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
            snprintf(c->refused, sizeof c->refused, "the tracker at %s %s", c->endpoint,
                     c->curve ? "runs without CURVE keys, and this client uses them"
                              : "requires CURVE: give its public key and this client's key pair (--tracker-key and "
                                "--key-file, or $DLC_TRACKER_KEY and $DLC_KEY_FILE)");
    }
}

/* Heartbeat if due, then wait up to timeout_ms for traffic and handle it. */
static int pump(dlc_client_t *c, int timeout_ms) {
    watch_handshakes(c);
    if (c->refused[0])
        return dlc_error(DLC_EIO, "%s", c->refused);
    double now = dlc_now();
    if (now - c->last_beat >= HEARTBEAT_S) {
        dlc_msg_t hb = {.type = DLC_MSG_HEARTBEAT, .epoch = c->epoch};
        dlc__send_msg(c->sock, &hb);
        c->last_beat = now;
    }
    int wait_ms = (int)((c->last_beat + HEARTBEAT_S - now) * 1000) + 1;
    if (wait_ms > timeout_ms)
        wait_ms = timeout_ms;
    zmq_pollitem_t items[2] = {{c->sock, 0, ZMQ_POLLIN, 0}, {c->mon, 0, ZMQ_POLLIN, 0}};
    if (zmq_poll(items, 2, wait_ms < 0 ? 0 : wait_ms) < 0 && errno != EINTR)
        return dlc_error(DLC_EIO, "zmq_poll: %s", zmq_strerror(errno));
    if (items[1].revents & ZMQ_POLLIN) {
        watch_handshakes(c);
        if (c->refused[0])
            return dlc_error(DLC_EIO, "%s", c->refused);
    }
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, c->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            break;
        }
        dlc_msg_t m;
        if (dlc_msg_decode(zmq_msg_data(&msg), zmq_msg_size(&msg), &m) == 0) {
            on_message(c, &m);
            dlc_msg_free(&m);
        } else {
            DLC_WARN("client: rejected a frame from the tracker: %s", dlc_last_error());
        }
        zmq_msg_close(&msg);
    }
    return 0;
}

int dlc_client_poll(dlc_client_t *c, int timeout_ms, dlc_client_result_t *out, int max) {
    if (c == NULL || out == NULL || max < 1)
        return dlc_error(DLC_EINVAL, "dlc_client_poll: bad argument");
    double deadline = dlc_now() + timeout_ms / 1000.0;
    int rc = 0;
    while (c->nready == 0 && rc == 0) {
        int left = (int)((deadline - dlc_now()) * 1000);
        rc = pump(c, left > 0 ? left : 0);
        if (left <= 0)
            break;
    }
    if (rc < 0)
        return rc;
    int n = c->nready < (size_t)max ? (int)c->nready : max;
    if (n == 0)
        return 0; /* c->ready may still be NULL */
    memcpy(out, c->ready, (size_t)n * sizeof *out);
    memmove(c->ready, c->ready + n, (c->nready - (size_t)n) * sizeof *out);
    c->nready -= (size_t)n;
    return n;
}

int dlc_client_run(dlc_client_t *c, int timeout_ms, void (*cb)(const dlc_client_result_t *r, void *ud), void *ud) {
    double deadline = dlc_now() + timeout_ms / 1000.0;
    int total = 0;
    dlc_client_result_t r[32];
    while ((dlc_client_pending(c) > 0 || c->nready > 0) && dlc_now() < deadline) {
        int n = dlc_client_poll(c, (int)((deadline - dlc_now()) * 1000) + 1, r, 32);
        if (n < 0)
            return n;
        for (int i = 0; i < n; i++)
            cb(&r[i], ud);
        total += n;
    }
    return total;
}

int dlc_client_status(dlc_client_t *c, int timeout_ms, char **json) {
    free(c->status);
    c->status = NULL;
    dlc_msg_t m = {.type = DLC_MSG_STATUS};
    double deadline = dlc_now() + timeout_ms / 1000.0;
    int rc = pump(c, 0), sent = 0; /* a refusal seen already ends it here */
    while (rc == 0 && c->status == NULL && dlc_now() < deadline) {
        if (!sent) /* ZeroMQ has no pipe to send on while it reconnects */
            sent = dlc__send_msg(c->sock, &m) == 0;
        rc = pump(c, (int)((deadline - dlc_now()) * 1000) + 1);
    }
    if (rc < 0)
        return rc;
    if (c->status == NULL && !sent)
        return dlc_error(DLC_EIO, "could not send to the tracker at %s within %d ms", c->endpoint, timeout_ms);
    if (c->status == NULL)
        return dlc_error(DLC_ETIMEOUT, "no status reply from the tracker within %d ms%s", timeout_ms,
                         c->curve ? " (CURVE: is this client's public key in the tracker's allow-list, and "
                                    "--tracker-key the tracker's public key?)"
                                  : " (a tracker with CURVE keys answers only CURVE clients)");
    *json = c->status;
    c->status = NULL;
    return 0;
}
