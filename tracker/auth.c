/* auth.c — the tracker's gatekeeper under CURVE: a ZAP handler (ZAP 1.0,
 * RFC 27, on inproc://zeromq.zap.01) that admits only the public keys of an
 * allow-list directory, and a monitor that logs failed handshakes (peers
 * without CURVE, or with a wrong tracker key). Both sockets are polled by the
 * tracker's loop; libzmq holds a connection's handshake until ZAP answers.
 *
 * The allow-list is every *.pub file in a directory; it is read again when
 * the directory's mtime changes (a key added or removed) and applies to new
 * connections. */
#include "tracker/tracker_impl.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zmq.h>

#include "support/dlc_support.h"

#define ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define MONITOR_ENDPOINT "inproc://dlc-tracker-handshakes"
#define LOG_EVERY_S 10.0 /* repeated rejections of one key (or kind) are logged this often */
#define RECENT 16

typedef struct {
    uint8_t key[32];
    char name[64]; /* the file name without .pub */
} allowed_t;

typedef struct {
    uint8_t key[32];
    double logged;  /* seconds (dlc_now) */
    int64_t missed; /* rejections since then, not logged */
} recent_t;

struct dlc__auth {
    void *zap, *mon;
    char dir[4096];
    struct timespec mtime;
    allowed_t *keys;
    size_t n;
    recent_t recent[RECENT]; /* the last rejected keys, for rate-limited logs */
    struct {
        uint32_t error;  /* ZMQ_PROTOCOL_ERROR_* */
        double logged;   /* seconds (dlc_now) */
        int64_t missed;
    } failures[RECENT]; /* the same for failed handshakes, per protocol error */
};

/* Reads dir's *.pub files; on error the old list stays. */
static int load(dlc__auth_t *a) {
    struct stat st;
    DIR *d = opendir(a->dir);
    if (d == NULL || stat(a->dir, &st) != 0) {
        if (d)
            closedir(d);
        return dlc_error(DLC_EIO, "allow-list %s: %s", a->dir, strerror(errno));
    }
    allowed_t *keys = NULL;
    size_t n = 0;
    int rc = 0;
    for (struct dirent *e; rc == 0 && (e = readdir(d)) != NULL;) {
        size_t len = strlen(e->d_name);
        if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".pub") != 0)
            continue;
        char path[8192], z85[DLC__Z85_KEY];
        snprintf(path, sizeof path, "%s/%s", a->dir, e->d_name);
        allowed_t *k = realloc(keys, (n + 1) * sizeof *k);
        if (k == NULL) {
            rc = dlc_error(DLC_ENOMEM, "allow-list");
            break;
        }
        keys = k;
        if ((rc = dlc__key_file_read(path, 0, z85)) < 0)
            break;
        zmq_z85_decode(keys[n].key, z85);
        snprintf(keys[n].name, sizeof keys[n].name, "%.*s", (int)(len - 4), e->d_name);
        n++;
    }
    closedir(d);
    if (rc < 0) {
        free(keys);
        return rc;
    }
    free(a->keys);
    a->keys = keys, a->n = n;
    a->mtime = st.st_mtim;
    return 0;
}

static void reload_if_changed(dlc__auth_t *a) {
    struct stat st;
    if (stat(a->dir, &st) != 0 ||
        (st.st_mtim.tv_sec == a->mtime.tv_sec && st.st_mtim.tv_nsec == a->mtime.tv_nsec))
        return;
    if (load(a) < 0)
        DLC_ERROR("tracker: keeping the old allow-list: %s", dlc_last_error());
    else
        DLC_WARN("tracker: allow-list %s reloaded: %zu keys", a->dir, a->n);
}

static const allowed_t *lookup(const dlc__auth_t *a, const uint8_t *key) {
    for (size_t i = 0; i < a->n; i++)
        if (memcmp(a->keys[i].key, key, 32) == 0)
            return &a->keys[i];
    return NULL;
}

/* Logs a rejected key: the first time, then once per LOG_EVERY_S with a count. */
static void log_rejected(dlc__auth_t *a, const uint8_t *key, const char *address) {
    char z85[DLC__Z85_KEY];
    zmq_z85_encode(z85, key, 32);
    double now = dlc_now();
    recent_t *r = NULL, *oldest = &a->recent[0];
    for (int i = 0; i < RECENT && r == NULL; i++) {
        if (memcmp(a->recent[i].key, key, 32) == 0 && a->recent[i].logged > 0)
            r = &a->recent[i];
        else if (a->recent[i].logged < oldest->logged)
            oldest = &a->recent[i];
    }
    if (r && now - r->logged < LOG_EVERY_S) {
        r->missed++;
        return;
    }
    if (r == NULL) {
        r = oldest;
        memcpy(r->key, key, 32);
        r->missed = 0;
    }
    char more[64] = "";
    if (r->missed)
        snprintf(more, sizeof more, " (and %lld times since the last report)", (long long)r->missed);
    DLC_WARN("tracker: rejected CURVE key %s from %s: not in the allow-list %s%s", z85, address, a->dir, more);
    r->logged = now, r->missed = 0;
}

/* Answers one ZAP request; returns 0, or -1 when none was waiting. */
static int answer(dlc__auth_t *a) {
    enum { MAX_FRAMES = 8 };
    zmq_msg_t f[MAX_FRAMES];
    int n = 0, more = 1;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, a->zap, n == 0 ? ZMQ_DONTWAIT : 0) < 0) {
            zmq_msg_close(&part);
            if (n == 0)
                return -1;
            break;
        }
        more = zmq_msg_more(&part);
        if (n < MAX_FRAMES)
            f[n++] = part;
        else
            zmq_msg_close(&part);
    }
    /* version, request id, domain, address, routing id, mechanism, credentials */
    const char *code = "400", *text = "not in the allow-list", *user = "";
    char address[64] = "?";
    if (n >= 4)
        snprintf(address, sizeof address, "%.*s", (int)zmq_msg_size(&f[3]), (const char *)zmq_msg_data(&f[3]));
    if (n < 7 || zmq_msg_size(&f[0]) != 3 || memcmp(zmq_msg_data(&f[0]), "1.0", 3) != 0 ||
        zmq_msg_size(&f[5]) != 5 || memcmp(zmq_msg_data(&f[5]), "CURVE", 5) != 0 || zmq_msg_size(&f[6]) != 32) {
        code = "500", text = "not a ZAP 1.0 CURVE request";
        DLC_WARN("tracker: rejected a connection from %s: %s", address, text);
    } else {
        reload_if_changed(a);
        const allowed_t *k = lookup(a, zmq_msg_data(&f[6]));
        if (k) {
            code = "200", text = "OK", user = k->name;
            DLC_INFO("tracker: CURVE key '%s' connected from %s", k->name, address);
        } else {
            log_rejected(a, zmq_msg_data(&f[6]), address);
        }
    }
    const char *reply[] = {"1.0", NULL, code, text, user, ""};
    for (int i = 0; i < 6; i++) {
        int flags = i < 5 ? ZMQ_SNDMORE : 0;
        if (i == 1)
            zmq_send(a->zap, n >= 2 ? zmq_msg_data(&f[1]) : "", n >= 2 ? zmq_msg_size(&f[1]) : 0, flags);
        else
            zmq_send(a->zap, reply[i], strlen(reply[i]), flags);
    }
    for (int i = 0; i < n; i++)
        zmq_msg_close(&f[i]);
    return 0;
}

/* Logs one failed handshake event; returns 0, or -1 when none was waiting. */
static int handshake_event(dlc__auth_t *a) {
    uint16_t event;
    uint32_t value;
    char ep[256];
    if (dlc__handshake_event(a->mon, &event, &value, ep, sizeof ep) < 0)
        return -1;
    char why[160];
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL) /* value: an errno; a peer without CURVE may hang up first */
        snprintf(why, sizeof why, "the handshake broke off (%s): a peer without CURVE, or with a wrong key?",
                 strerror((int)value));
    else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        snprintf(why, sizeof why, "the peer does not speak CURVE (no --tracker-key/--key-file?)");
    else if (value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
        snprintf(why, sizeof why, "CURVE cryptographic error (the peer has a wrong --tracker-key?)");
    else
        snprintf(why, sizeof why, "CURVE handshake failed, protocol error 0x%x", (unsigned)value);
    double now = dlc_now();
    int slot = 0;
    for (int i = 0; i < RECENT; i++)
        if (a->failures[i].error == value || a->failures[i].logged < a->failures[slot].logged) {
            slot = i;
            if (a->failures[i].error == value)
                break;
        }
    if (a->failures[slot].error != value)
        a->failures[slot].error = value, a->failures[slot].logged = 0, a->failures[slot].missed = 0;
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
        /* the ZAP handler logged it, with the key */
    } else if (now - a->failures[slot].logged < LOG_EVERY_S) {
        a->failures[slot].missed++;
    } else {
        char more[64] = "";
        if (a->failures[slot].missed)
            snprintf(more, sizeof more, " (and %lld times since the last report)",
                     (long long)a->failures[slot].missed);
        DLC_WARN("tracker: rejected a connection on %s: %s%s", ep, why, more);
        a->failures[slot].logged = now, a->failures[slot].missed = 0;
    }
    return 0;
}

dlc__auth_t *dlc__auth_new(void *zctx, const char *allow_dir, void *router) {
    dlc__auth_t *a = calloc(1, sizeof *a);
    if (a == NULL) {
        dlc_error(DLC_ENOMEM, "auth");
        return NULL;
    }
    snprintf(a->dir, sizeof a->dir, "%s", allow_dir);
    if (load(a) < 0)
        goto fail;
    if (a->n == 0)
        DLC_WARN("tracker: the allow-list %s holds no *.pub file: nobody can connect until one is added", a->dir);
    int zero = 0;
    a->zap = zmq_socket(zctx, ZMQ_REP);
    if (a->zap == NULL || zmq_setsockopt(a->zap, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_bind(a->zap, ZAP_ENDPOINT) != 0) {
        dlc_error(DLC_EIO, "ZAP handler: %s", zmq_strerror(errno));
        goto fail;
    }
    if ((a->mon = dlc__handshake_monitor(zctx, router, MONITOR_ENDPOINT)) == NULL)
        goto fail;
    return a;
fail:
    dlc__auth_destroy(&a);
    return NULL;
}

void dlc__auth_destroy(dlc__auth_t **ap) {
    dlc__auth_t *a = ap ? *ap : NULL;
    if (a == NULL)
        return;
    if (a->zap)
        zmq_close(a->zap);
    if (a->mon)
        zmq_close(a->mon);
    free(a->keys);
    free(a);
    *ap = NULL;
}

size_t dlc__auth_count(const dlc__auth_t *a) { return a ? a->n : 0; }

int dlc__auth_poll_items(dlc__auth_t *a, zmq_pollitem_t *items) {
    if (a == NULL)
        return 0;
    items[0] = (zmq_pollitem_t){a->zap, 0, ZMQ_POLLIN, 0};
    items[1] = (zmq_pollitem_t){a->mon, 0, ZMQ_POLLIN, 0};
    return 2;
}

void dlc__auth_handle(dlc__auth_t *a) {
    if (a == NULL)
        return;
    for (int i = 0; i < 1000 && answer(a) == 0; i++)
        ;
    for (int i = 0; i < 1000 && handshake_event(a) == 0; i++)
        ;
}
