/* broker.c — the tracker's state machine: servers per key, per-client
 * priority queues, dispatch, heartbeats, requeue, exactly-once results,
 * cancel (a running job's server is told to abandon it). */
#include "tracker/tracker_impl.h"

#include <stdlib.h>
#include <string.h>

#include "support/dlc_support.h"

enum { PEER_UNKNOWN, PEER_SERVER, PEER_CLIENT };

typedef struct keyq keyq_t;
typedef struct job job_t;

typedef struct {
    uint8_t id[256];
    size_t id_len;
    uint64_t hash;
    int kind;
    char key[129], arch[65], cpu[257], os[257], version[65];
    int64_t cores, memory; /* memory: bytes */
    double last_seen, since; /* seconds (dlc_now) */
    job_t *job;        /* the job this server measures for us (deadline tracked) */
    uint64_t busy_id;  /* nonzero while the server measures anything */
    int64_t done, failed;
    keyq_t *kq;
} peer_t;

struct job {
    uint64_t id, client_hash, client_job_id, seq;
    int64_t priority;
    keyq_t *kq;
    uint8_t *artifact;
    size_t artifact_len; /* bytes */
    char *manifest;
    dlc_msg_measure_t measure;
    int queued, cancelled, attempts, last_fail; /* cancelled: no result will be delivered */
    peer_t *server;
    double deadline; /* seconds (dlc_now) */
};

typedef struct { /* one client's jobs for one key: a max-heap on (priority, -seq) */
    uint64_t client_hash, last_served;
    job_t **heap;
    size_t n, cap;
} cq_t;

struct keyq {
    char key[129];
    cq_t *cqs;
    size_t ncq;
    peer_t **servers;
    size_t nservers;
    int64_t queued;  /* live jobs in the heaps (cancelled ones wait there to be freed) */
    uint64_t clock; /* counts dispatches, for round robin between clients */
};

struct dlc__broker {
    dlc__broker_opts_t o;
    dlc__send_fn send;
    void *send_ctx;
    uint64_t epoch, next_id, next_seq;
    dlc__map_t peers, jobs, cjobs; /* identity hash → peer; id → job; (client, client id) → job */
    keyq_t **keys;
    size_t nkeys;
    double start, last_beat_check;
    int64_t submitted, done, failed, requeued, rejected, lost, cancelled;
};

/* ---- helpers ---- */

static int earlier(const job_t *a, const job_t *b) { /* a runs before b */
    return a->priority != b->priority ? a->priority > b->priority : a->seq < b->seq;
}

static int heap_push(cq_t *q, job_t *j) {
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        job_t **h = realloc(q->heap, cap * sizeof *h);
        if (h == NULL)
            return dlc_error(DLC_ENOMEM, "queue");
        q->heap = h, q->cap = cap;
    }
    size_t i = q->n++;
    for (; i > 0 && earlier(j, q->heap[(i - 1) / 2]); i = (i - 1) / 2)
        q->heap[i] = q->heap[(i - 1) / 2];
    q->heap[i] = j;
    return 0;
}

static job_t *heap_pop(cq_t *q) {
    job_t *top = q->heap[0], *last = q->heap[--q->n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->n)
            break;
        if (c + 1 < q->n && earlier(q->heap[c + 1], q->heap[c]))
            c++;
        if (!earlier(q->heap[c], last))
            break;
        q->heap[i] = q->heap[c];
        i = c;
    }
    if (q->n)
        q->heap[i] = last;
    return top;
}

static uint64_t cjob_key(uint64_t client_hash, uint64_t client_job_id) {
    return dlc_hash64(&client_job_id, sizeof client_job_id, client_hash);
}

static keyq_t *keyq_get(dlc__broker_t *b, const char *key) {
    for (size_t i = 0; i < b->nkeys; i++)
        if (strcmp(b->keys[i]->key, key) == 0)
            return b->keys[i];
    keyq_t **ks = realloc(b->keys, (b->nkeys + 1) * sizeof *ks);
    keyq_t *k = calloc(1, sizeof *k);
    if (ks)
        b->keys = ks;
    if (ks == NULL || k == NULL) {
        free(k);
        return NULL;
    }
    snprintf(k->key, sizeof k->key, "%s", key);
    b->keys[b->nkeys++] = k;
    return k;
}

static void send_msg(dlc__broker_t *b, const peer_t *p, const dlc_msg_t *m) {
    void *buf;
    size_t len;
    if (dlc_msg_encode(m, &buf, &len) < 0) {
        DLC_ERROR("tracker: cannot encode %s: %s", dlc_msg_type_name(m->type), dlc_last_error());
        return;
    }
    if (b->send(b->send_ctx, p->id, p->id_len, buf, len) < 0) {
        if (m->type == DLC_MSG_RESULT) {
            b->lost++;
            DLC_WARN("tracker: result of client job %llu lost: client gone", (unsigned long long)m->job_id);
        }
        if (p->kind == PEER_SERVER)
            ((peer_t *)p)->last_seen = -1e300; /* gone: the next tick removes it and requeues its job */
    }
    free(buf);
}

static void job_free(dlc__broker_t *b, job_t *j) {
    dlc__map_del(&b->jobs, j->id);
    if (dlc__map_get(&b->cjobs, cjob_key(j->client_hash, j->client_job_id)) == j)
        dlc__map_del(&b->cjobs, cjob_key(j->client_hash, j->client_job_id));
    free(j->artifact);
    free(j->manifest);
    free(j);
}

/* Delivers the one result of job j to its client and frees j. */
static void finish(dlc__broker_t *b, job_t *j, const dlc_msg_t *res) {
    peer_t *client = dlc__map_get(&b->peers, j->client_hash);
    dlc_msg_t out = *res;
    out.type = DLC_MSG_RESULT;
    out.job_id = j->client_job_id;
    if (res->error_no == 0)
        b->done++;
    else
        b->failed++;
    if (client)
        send_msg(b, client, &out);
    else
        b->lost++;
    job_free(b, j);
}

static void fail_job(dlc__broker_t *b, job_t *j, int error_no, const char *why) {
    dlc_msg_t r = {.type = DLC_MSG_RESULT, .error_no = error_no, .error_msg = why};
    finish(b, j, &r);
}

static int enqueue(dlc__broker_t *b, job_t *j) {
    keyq_t *k = j->kq;
    cq_t *q = NULL;
    for (size_t i = 0; i < k->ncq && q == NULL; i++)
        if (k->cqs[i].client_hash == j->client_hash)
            q = &k->cqs[i];
    if (q == NULL) {
        cq_t *cqs = realloc(k->cqs, (k->ncq + 1) * sizeof *cqs);
        if (cqs == NULL)
            return dlc_error(DLC_ENOMEM, "client queue");
        k->cqs = cqs;
        q = &k->cqs[k->ncq++];
        memset(q, 0, sizeof *q);
        q->client_hash = j->client_hash;
        q->last_served = k->clock;
    }
    int rc = heap_push(q, j);
    if (rc == 0)
        j->queued = 1, k->queued++;
    return rc;
}

/* The next job of key k: the highest priority at the head of any client's
 * queue; between equal priorities the client served longest ago. Cancelled
 * jobs met on the way are freed. */
static job_t *next_job(dlc__broker_t *b, keyq_t *k) {
    for (;;) {
        cq_t *best = NULL;
        for (size_t i = 0; i < k->ncq; i++) {
            cq_t *q = &k->cqs[i];
            if (q->n == 0)
                continue;
            if (best == NULL || q->heap[0]->priority > best->heap[0]->priority ||
                (q->heap[0]->priority == best->heap[0]->priority && q->last_served < best->last_served))
                best = q;
        }
        if (best == NULL)
            return NULL;
        job_t *j = heap_pop(best);
        j->queued = 0;
        if (j->cancelled) { /* k->queued no longer counted it */
            job_free(b, j);
            continue;
        }
        k->queued--;
        best->last_served = ++k->clock;
        return j;
    }
}

static void dispatch(dlc__broker_t *b, keyq_t *k, double now) {
    for (size_t i = 0; i < k->nservers && k->queued > 0; i++) {
        peer_t *s = k->servers[i];
        if (s->busy_id)
            continue;
        job_t *j = next_job(b, k);
        if (j == NULL)
            break;
        j->attempts++;
        j->server = s;
        j->deadline = now + j->measure.timeout_s + b->o.grace_s;
        s->job = j;
        s->busy_id = j->id;
        dlc_msg_t m = {.type = DLC_MSG_JOB, .job_id = j->id, .artifact = j->artifact, .artifact_len = j->artifact_len,
                       .manifest = j->manifest, .measure = j->measure};
        send_msg(b, s, &m);
    }
}

/* Puts a job that lost its server back in the queue, or fails it for good. */
static void requeue(dlc__broker_t *b, job_t *j, int error_no, const char *why, double now) {
    if (j->server && j->server->job == j)
        j->server->job = NULL;
    j->server = NULL;
    j->last_fail = error_no;
    if (j->cancelled) {
        job_free(b, j);
        return;
    }
    if (j->attempts >= b->o.max_attempts) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s; gave up after %d attempts", why, j->attempts);
        fail_job(b, j, error_no, msg);
        return;
    }
    b->requeued++;
    DLC_INFO("tracker: job %llu requeued (%s)", (unsigned long long)j->id, why);
    if (enqueue(b, j) < 0) {
        fail_job(b, j, DLC_MEASURE_UNKNOWN_ERROR, "tracker out of memory");
        return;
    }
    dispatch(b, j->kq, now);
}

static void server_remove(dlc__broker_t *b, peer_t *p, const char *why, double now) {
    DLC_INFO("tracker: server %s (%s) gone: %s", p->key, p->cpu, why);
    keyq_t *k = p->kq;
    for (size_t i = 0; k && i < k->nservers; i++)
        if (k->servers[i] == p) {
            k->servers[i] = k->servers[--k->nservers];
            break;
        }
    dlc__map_del(&b->peers, p->hash);
    job_t *j = p->job;
    p->job = NULL;
    if (j)
        requeue(b, j, DLC_MEASURE_RUNTIME_DEVICE, "device lost", now);
    free(p);
}

static peer_t *peer_get(dlc__broker_t *b, const void *id, size_t id_len, double now) {
    uint64_t h = dlc_hash64(id, id_len, DLC_HASH_SEED);
    peer_t *p = dlc__map_get(&b->peers, h);
    if (p)
        return p->id_len == id_len && memcmp(p->id, id, id_len) == 0 ? p : NULL;
    if (id_len > sizeof p->id || (p = calloc(1, sizeof *p)) == NULL)
        return NULL;
    memcpy(p->id, id, id_len);
    p->id_len = id_len;
    p->hash = h;
    p->since = now;
    if (dlc__map_put(&b->peers, h, p) < 0) {
        free(p);
        return NULL;
    }
    return p;
}

/* ---- messages ---- */

static void on_hello(dlc__broker_t *b, peer_t *p, const dlc_msg_t *m, double now) {
    if (p->kind == PEER_SERVER && strcmp(p->key, m->key) != 0) {
        server_remove(b, p, "changed its key", now); /* frees p: the next hello registers it anew */
        return;
    }
    if (p->kind == PEER_CLIENT || m->key[0] == '\0') {
        b->rejected++;
        DLC_WARN("tracker: rejected hello from a %s", p->kind == PEER_CLIENT ? "client" : "server without a key");
        return;
    }
    if (p->kind != PEER_SERVER) {
        keyq_t *k = keyq_get(b, m->key);
        peer_t **ss = k ? realloc(k->servers, (k->nservers + 1) * sizeof *ss) : NULL;
        if (ss == NULL) {
            DLC_ERROR("tracker: out of memory registering a server");
            return;
        }
        k->servers = ss;
        k->servers[k->nservers++] = p;
        p->kind = PEER_SERVER;
        p->kq = k;
        p->busy_id = m->job_id; /* measuring something from before a tracker restart */
        snprintf(p->key, sizeof p->key, "%s", m->key);
        snprintf(p->arch, sizeof p->arch, "%s", m->dev.arch);
        snprintf(p->cpu, sizeof p->cpu, "%s", m->dev.cpu);
        snprintf(p->os, sizeof p->os, "%s", m->dev.os);
        snprintf(p->version, sizeof p->version, "%s", m->dev.dlc_version);
        p->cores = m->dev.cores;
        p->memory = m->dev.memory;
        DLC_INFO("tracker: server for key %s: %s, %lld cores", p->key, p->cpu, (long long)p->cores);
    }
    dlc_msg_t r = {.type = DLC_MSG_HEARTBEAT, .epoch = b->epoch};
    send_msg(b, p, &r);
    dispatch(b, p->kq, now);
}

static void on_result(dlc__broker_t *b, peer_t *p, const dlc_msg_t *m, double now) {
    if (p->kind != PEER_SERVER) {
        b->rejected++;
        DLC_WARN("tracker: rejected a result from a peer that is not a server");
        return;
    }
    job_t *j = dlc__map_get(&b->jobs, m->job_id);
    if (p->busy_id == m->job_id)
        p->busy_id = 0;
    if (j && j->server == p) {
        p->job = NULL;
        if (j->cancelled) {
            job_free(b, j); /* the server's answer to our CANCEL, or a result that crossed it */
        } else {
            p->done += m->error_no == 0;
            p->failed += m->error_no != 0;
            finish(b, j, m);
        }
    } else {
        DLC_INFO("tracker: dropped a stale result for job %llu", (unsigned long long)m->job_id);
    }
    dispatch(b, p->kq, now);
}

static void on_submit(dlc__broker_t *b, peer_t *p, const dlc_msg_t *m, double now) {
    if (p->kind == PEER_SERVER || m->key[0] == '\0') {
        b->rejected++;
        DLC_WARN("tracker: rejected a submit %s", m->key[0] ? "from a server" : "without a key");
        return;
    }
    p->kind = PEER_CLIENT;
    uint64_t ck = cjob_key(p->hash, m->job_id);
    job_t *old = dlc__map_get(&b->cjobs, ck);
    if (old && old->client_hash == p->hash && old->client_job_id == m->job_id)
        return; /* a resubmission of a job we still hold */
    job_t *j = calloc(1, sizeof *j);
    keyq_t *k = keyq_get(b, m->key);
    if (j)
        j->artifact = malloc(m->artifact_len ? m->artifact_len : 1), j->manifest = strdup(m->manifest);
    if (j == NULL || k == NULL || j->artifact == NULL || j->manifest == NULL) {
        if (j)
            free(j->artifact), free(j->manifest), free(j);
        dlc_msg_t e = {.type = DLC_MSG_ERROR, .job_id = m->job_id, .error_msg = "tracker out of memory"};
        send_msg(b, p, &e);
        return;
    }
    memcpy(j->artifact, m->artifact, m->artifact_len);
    j->artifact_len = m->artifact_len;
    j->id = b->next_id++;
    j->client_hash = p->hash;
    j->client_job_id = m->job_id;
    j->priority = m->priority;
    j->seq = b->next_seq++;
    j->kq = k;
    j->measure = m->measure;
    if (dlc__map_put(&b->jobs, j->id, j) < 0 || dlc__map_put(&b->cjobs, ck, j) < 0 || enqueue(b, j) < 0) {
        fail_job(b, j, DLC_MEASURE_UNKNOWN_ERROR, "tracker out of memory");
        return;
    }
    b->submitted++;
    dispatch(b, k, now);
}

/* A queued job is dropped when it reaches the head of its queue. A running
 * one stays on its server, which is told to abandon it (CANCEL T→S) and
 * answers with a result that is dropped: the server stays busy until then,
 * so a job is never measured beside another one. */
static void on_cancel(dlc__broker_t *b, peer_t *p, const dlc_msg_t *m) {
    job_t *j = dlc__map_get(&b->cjobs, cjob_key(p->hash, m->job_id));
    if (j == NULL || j->client_hash != p->hash || j->client_job_id != m->job_id)
        return;
    j->cancelled = 1;
    b->cancelled++;
    dlc__map_del(&b->cjobs, cjob_key(p->hash, m->job_id));
    if (j->queued) {
        j->kq->queued--;
    } else if (j->server) {
        dlc_msg_t c = {.type = DLC_MSG_CANCEL, .job_id = j->id};
        DLC_INFO("tracker: job %llu cancelled while running on %s", (unsigned long long)j->id, j->server->key);
        send_msg(b, j->server, &c);
    }
}

void dlc__broker_on_frame(dlc__broker_t *b, const void *id, size_t id_len, const void *data, size_t len,
                          double now) {
    peer_t *p = peer_get(b, id, id_len, now);
    if (p == NULL) {
        b->rejected++;
        DLC_WARN("tracker: rejected a frame from an unusable routing id (%zu bytes)", id_len);
        return;
    }
    dlc_msg_t m;
    if (len > b->o.max_frame || dlc_msg_decode(data, len, &m) < 0) {
        b->rejected++;
        char why[256];
        snprintf(why, sizeof why, "%s", len > b->o.max_frame ? "frame too large" : dlc_last_error());
        DLC_WARN("tracker: rejected a %zu-byte frame: %s", len, why);
        dlc_msg_t e = {.type = DLC_MSG_ERROR, .error_msg = why};
        send_msg(b, p, &e);
        if (p->kind == PEER_UNKNOWN)
            free(dlc__map_del(&b->peers, p->hash));
        return;
    }
    p->last_seen = now;
    switch (m.type) {
    case DLC_MSG_HELLO:
        on_hello(b, p, &m, now);
        break;
    case DLC_MSG_HEARTBEAT: {
        if (p->kind == PEER_UNKNOWN)
            p->kind = PEER_CLIENT;
        dlc_msg_t r = {.type = DLC_MSG_HEARTBEAT, .epoch = b->epoch};
        send_msg(b, p, &r);
        break;
    }
    case DLC_MSG_RESULT:
        on_result(b, p, &m, now);
        break;
    case DLC_MSG_SUBMIT:
        on_submit(b, p, &m, now);
        break;
    case DLC_MSG_CANCEL:
        on_cancel(b, p, &m);
        break;
    case DLC_MSG_STATUS: {
        char *json = dlc__broker_status(b, now);
        dlc_msg_t r = {.type = DLC_MSG_STATUS_REPLY, .json = json ? json : "{}"};
        send_msg(b, p, &r);
        free(json);
        break;
    }
    default:
        b->rejected++;
        DLC_WARN("tracker: rejected a %s message: peers do not send it", dlc_msg_type_name(m.type));
        break;
    }
    dlc_msg_free(&m);
}

void dlc__broker_tick(dlc__broker_t *b, double now) {
    double dead_after = 3 * b->o.heartbeat_s;
    for (size_t k = 0; k < b->nkeys; k++) {
        keyq_t *kq = b->keys[k];
        for (size_t i = 0; i < kq->nservers;) {
            peer_t *s = kq->servers[i];
            if (now - s->last_seen > dead_after) {
                server_remove(b, s, "no heartbeat", now); /* swaps the last server into slot i */
                continue;
            }
            job_t *j = s->job;
            if (j && now > j->deadline) /* the server stays busy until it answers */
                requeue(b, j, DLC_MEASURE_RUN_TIMEOUT, "no result before the job's timeout", now);
            i++;
        }
    }
}

dlc__broker_t *dlc__broker_new(const dlc__broker_opts_t *opts, dlc__send_fn send, void *send_ctx) {
    dlc__broker_t *b = calloc(1, sizeof *b);
    if (b == NULL)
        return NULL;
    b->o = *opts;
    b->send = send;
    b->send_ctx = send_ctx;
    b->epoch = dlc__random64();
    b->next_id = 1;
    b->start = dlc_now();
    return b;
}

void dlc__broker_destroy(dlc__broker_t **bp) {
    dlc__broker_t *b = bp ? *bp : NULL;
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->jobs.cap; i++)
        if (b->jobs.vals[i]) {
            job_t *j = b->jobs.vals[i];
            free(j->artifact), free(j->manifest), free(j);
        }
    for (size_t i = 0; i < b->peers.cap; i++)
        free(b->peers.vals[i]);
    for (size_t k = 0; k < b->nkeys; k++) {
        for (size_t i = 0; i < b->keys[k]->ncq; i++)
            free(b->keys[k]->cqs[i].heap);
        free(b->keys[k]->cqs);
        free(b->keys[k]->servers);
        free(b->keys[k]);
    }
    free(b->keys);
    dlc__map_free(&b->jobs);
    dlc__map_free(&b->cjobs);
    dlc__map_free(&b->peers);
    free(b);
    *bp = NULL;
}

char *dlc__broker_status(dlc__broker_t *b, double now) {
    json_t *keys = json_array(), *servers = json_array();
    int64_t running = 0, clients = 0;
    for (size_t i = 0; i < b->peers.cap; i++)
        clients += b->peers.vals[i] && ((peer_t *)b->peers.vals[i])->kind == PEER_CLIENT;
    for (size_t k = 0; k < b->nkeys; k++) {
        keyq_t *kq = b->keys[k];
        int64_t busy = 0;
        for (size_t i = 0; i < kq->nservers; i++) {
            peer_t *s = kq->servers[i];
            busy += s->busy_id != 0;
            running += s->job != NULL;
            json_array_append_new(servers, json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:I, s:f}", "key",
                                                     s->key, "arch", s->arch, "cpu", s->cpu, "os", s->os,
                                                     "dlc_version", s->version, "cores", (json_int_t)s->cores,
                                                     "memory", (json_int_t)s->memory, "state",
                                                     s->busy_id ? "busy" : "free", "done", (json_int_t)s->done,
                                                     "failed", (json_int_t)s->failed, "connected_s", now - s->since));
        }
        json_array_append_new(keys, json_pack("{s:s, s:I, s:I, s:I, s:I}", "key", kq->key, "servers",
                                              (json_int_t)kq->nservers, "free", (json_int_t)(kq->nservers - busy),
                                              "busy", (json_int_t)busy, "queued", (json_int_t)kq->queued));
    }
    double up = now - b->start;
    json_t *j = json_pack("{s:I, s:f, s:o, s:o, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}, s:f}", "epoch",
                          (json_int_t)(b->epoch >> 1), "uptime_s", up, "keys", keys, "servers", servers, "clients",
                          (json_int_t)clients, "jobs", "submitted", (json_int_t)b->submitted, "done",
                          (json_int_t)b->done, "failed", (json_int_t)b->failed, "cancelled",
                          (json_int_t)b->cancelled, "running", (json_int_t)running,
                          "requeued", (json_int_t)b->requeued, "rejected_frames", (json_int_t)b->rejected, "lost",
                          (json_int_t)b->lost, "jobs_per_s", up > 0 ? (b->done + b->failed) / up : 0.0);
    char *text = j ? dlc_json_dumps(j) : NULL;
    json_decref(j);
    return text;
}
