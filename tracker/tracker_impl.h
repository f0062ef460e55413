/* tracker_impl.h — private to tracker/: a u64-keyed hash map, the broker's
 * state, CURVE keys and the tracker's ZAP handler, and the helpers
 * dlc-tracker, the client and dlc-rpc-server share. */
#ifndef DLC_TRACKER_IMPL_H
#define DLC_TRACKER_IMPL_H

#include <stddef.h>
#include <stdint.h>

#include <zmq.h>

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

/* ---- CURVE keys (keys.c): files hold 40 Z85 characters on a line ---- */
#define DLC__Z85_KEY 41 /* a key as Z85 text with its NUL: bytes */
typedef struct {
    char server_public[DLC__Z85_KEY]; /* the tracker's public key; "" without CURVE */
    char public_key[DLC__Z85_KEY];    /* this peer's pair */
    char secret_key[DLC__Z85_KEY];
} dlc__curve_t;
/* 1 when z85 is 40 valid Z85 characters. */
int dlc__key_valid(const char *z85);
/* One key from a key file; secret: the file must be private (mode 0600). */
int dlc__key_file_read(const char *path, int secret, char out[DLC__Z85_KEY]);
/* A public key given as its 40 Z85 characters or as a file (NAME.pub). */
int dlc__key_public(const char *file_or_z85, char out[DLC__Z85_KEY]);
/* A key pair from DIR/NAME.key, DIR/NAME (NAME.key beside it) or a DIR with
 * exactly one *.key; a NAME.pub beside NAME.key must match. */
int dlc__key_pair(const char *path, char pub[DLC__Z85_KEY], char sec[DLC__Z85_KEY]);
/* The client side of CURVE from the tracker's public key and our key pair
 * (NULL or "": $DLC_TRACKER_KEY, $DLC_KEY_FILE). Neither set: *out is all
 * empty (plain TCP); only one of them: DLC_EINVAL. */
int dlc__curve_load(const char *tracker_key, const char *key_file, dlc__curve_t *out);
/* Makes zsock a CURVE client (before zmq_connect); nothing without CURVE. */
int dlc__curve_client(void *zsock, const dlc__curve_t *k);
/* Writes DIR/NAME.key (mode 0600) and DIR/NAME.pub (0644), creating DIR;
 * existing files are an error unless force. pub gets the public key. */
int dlc__keygen(const char *dir, const char *name, int force, char pub[DLC__Z85_KEY]);

/* ---- the tracker's ZAP handler and handshake log (auth.c) ---- */
typedef struct dlc__auth dlc__auth_t;
/* Loads the allow-list (every *.pub in allow_dir), binds the ZAP handler in zctx and
 * watches router's handshakes; call before binding router. NULL on error. */
dlc__auth_t *dlc__auth_new(void *zctx, const char *allow_dir, void *router);
void dlc__auth_destroy(dlc__auth_t **a);
size_t dlc__auth_count(const dlc__auth_t *a); /* keys in the allow-list */
/* Fills items[0..1] with the sockets to poll; returns how many (0 for NULL). */
int dlc__auth_poll_items(dlc__auth_t *a, zmq_pollitem_t *items);
/* Answers waiting ZAP requests and logs failed handshakes, without blocking. */
void dlc__auth_handle(dlc__auth_t *a);

/* "host:port" → "tcp://host:port" (port defaults to 9190). */
int dlc__endpoint(const char *hostport, char *out, size_t cap);
/* 1 when host (no port) is a loopback address: 127.x.y.z, ::1, [::1] or
 * localhost. */
int dlc__is_loopback(const char *host);
/* Watches zsock's failed handshakes (ZMQ_EVENT_HANDSHAKE_FAILED_*): returns
 * a PAIR socket in zctx that receives them from endpoint (an inproc name
 * unique in zctx), or NULL. Call before zmq_connect / zmq_bind. */
void *dlc__handshake_monitor(void *zctx, void *zsock, const char *endpoint);
/* One event from that socket, without blocking: 0, or -1 when none waits.
 * value: ZMQ_PROTOCOL_ERROR_*, a ZAP status code or an errno (no detail). */
int dlc__handshake_event(void *mon, uint16_t *event, uint32_t *value, char *addr, size_t cap);
/* A random 64-bit number (never 0). */
uint64_t dlc__random64(void);
/* Encodes m and sends it on a ZeroMQ socket (one frame, DONTWAIT). */
int dlc__send_msg(void *zsock, const dlc_msg_t *m);

#endif
