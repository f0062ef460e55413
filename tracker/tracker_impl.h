/* tracker_impl.h — private to tracker/: a u64-keyed hash map, the broker's
 * state and the helpers dlc-tracker and the client share. */
#ifndef DLC_TRACKER_IMPL_H
#define DLC_TRACKER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include "tracker/dlc_protocol.h"

/* ---- hash map: uint64 key → pointer (open addressing, backward-shift delete) ---- */
typedef struct {
    uint64_t *keys;
    void **vals; /* NULL marks an empty slot: values are never NULL */
    size_t cap;  /* power of two */
    size_t len;
} dlc__map_t;
void *dlc__map_get(const dlc__map_t *m, uint64_t key);
int dlc__map_put(dlc__map_t *m, uint64_t key, void *val); /* replaces; DLC_ENOMEM */
void *dlc__map_del(dlc__map_t *m, uint64_t key);          /* returns the removed value or NULL */
void dlc__map_free(dlc__map_t *m);

/* ---- broker ---- */
typedef struct {
    double heartbeat_s;   /* peers are dead after 3 intervals without a message */
    double grace_s;       /* beyond a job's timeout before it is requeued */
    int max_attempts;     /* dispatches of one job before it fails */
    size_t max_frame;     /* bytes */
} dlc__broker_opts_t;

typedef struct dlc__broker dlc__broker_t;
/* Sends one payload to the peer with routing id (id, id_len); returns 0 or
 * -1 when the peer is gone. */
typedef int (*dlc__send_fn)(void *ctx, const void *id, size_t id_len, const void *data, size_t len);

dlc__broker_t *dlc__broker_new(const dlc__broker_opts_t *opts, dlc__send_fn send, void *send_ctx);
void dlc__broker_destroy(dlc__broker_t **b);
/* One frame from a peer. A dead peer is noticed by its silence (3 heartbeat
 * intervals) or by a failed send (ZMQ_ROUTER_MANDATORY): libzmq as packaged
 * has no ZMQ_ROUTER_NOTIFY (a draft option). */
void dlc__broker_on_frame(dlc__broker_t *b, const void *id, size_t id_len, const void *data, size_t len, double now);
/* Heartbeat and job deadlines; call at least every heartbeat_s / 4. */
void dlc__broker_tick(dlc__broker_t *b, double now);
/* The status document (JSON text, caller frees). */
char *dlc__broker_status(dlc__broker_t *b, double now);

/* "host:port" → "tcp://host:port" (port defaults to 9190). */
int dlc__endpoint(const char *hostport, char *out, size_t cap);
/* A random 64-bit number (never 0). */
uint64_t dlc__random64(void);
/* Encodes m and sends it on a ZeroMQ socket (one frame, DONTWAIT). */
int dlc__send_msg(void *zsock, const dlc_msg_t *m);

#endif
