/* net.c — small helpers the tracker, its client and the rpc-server share:
 * endpoints, loopback addresses, random numbers, sending an encoded message
 * on a ZeroMQ socket. */
#include "tracker/tracker_impl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <zmq.h>

#include "support/dlc_support.h"

int dlc__endpoint(const char *hostport, char *out, size_t cap) {
    if (hostport == NULL || hostport[0] == '\0')
        return dlc_error(DLC_EINVAL, "empty tracker address");
    const char *colon = strrchr(hostport, ':');
    int n = colon ? snprintf(out, cap, "tcp://%s", hostport)
                  : snprintf(out, cap, "tcp://%s:%d", hostport, DLC_TRACKER_DEFAULT_PORT);
    if (n < 0 || (size_t)n >= cap)
        return dlc_error(DLC_EINVAL, "tracker address too long");
    if (colon && (colon[1] == '\0' || strspn(colon + 1, "0123456789") != strlen(colon + 1)))
        return dlc_error(DLC_EINVAL, "bad port in '%s' (expected HOST:PORT)", hostport);
    return 0;
}

uint64_t dlc__random64(void) {
    uint64_t x = 0;
    if (getrandom(&x, sizeof x, 0) != (ssize_t)sizeof x)
        x = dlc_hash64(&x, sizeof x, (uint64_t)getpid() ^ (uint64_t)(dlc_now() * 1e9));
    return x ? x : 1;
}

int dlc__send_msg(void *zsock, const dlc_msg_t *m) {
    void *buf;
    size_t len;
    int rc = dlc_msg_encode(m, &buf, &len);
    if (rc < 0)
        return rc;
    rc = zmq_send(zsock, buf, len, ZMQ_DONTWAIT);
    free(buf);
    return rc < 0 ? dlc_error(DLC_EIO, "zmq_send %s: %s", dlc_msg_type_name(m->type), zmq_strerror(errno)) : 0;
}

int dlc__is_loopback(const char *host) {
    struct in_addr a4;
    if (host == NULL)
        return 0;
    if (inet_pton(AF_INET, host, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0;
}

void *dlc__handshake_monitor(void *zctx, void *zsock, const char *endpoint) {
    int zero = 0;
    void *mon = zmq_socket(zctx, ZMQ_PAIR);
    if (mon == NULL || zmq_setsockopt(mon, ZMQ_LINGER, &zero, sizeof zero) != 0 ||
        zmq_socket_monitor(zsock, endpoint,
                           ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                               ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0 ||
        zmq_connect(mon, endpoint) != 0) {
        dlc_error(DLC_EIO, "monitoring handshakes: %s", zmq_strerror(errno));
        if (mon)
            zmq_close(mon);
        return NULL;
    }
    return mon;
}

int dlc__handshake_event(void *mon, uint16_t *event, uint32_t *value, char *addr, size_t cap) {
    zmq_msg_t ev, ep;
    zmq_msg_init(&ev);
    zmq_msg_init(&ep);
    if (zmq_msg_recv(&ev, mon, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close(&ev);
        zmq_msg_close(&ep);
        return -1;
    }
    if (zmq_msg_more(&ev)) /* [event u16, value u32][endpoint] */
        zmq_msg_recv(&ep, mon, 0);
    *event = 0, *value = 0;
    if (zmq_msg_size(&ev) == 6) {
        memcpy(event, zmq_msg_data(&ev), 2);
        memcpy(value, (const uint8_t *)zmq_msg_data(&ev) + 2, 4);
    }
    snprintf(addr, cap, "%.*s", (int)zmq_msg_size(&ep), (const char *)zmq_msg_data(&ep));
    zmq_msg_close(&ev);
    zmq_msg_close(&ep);
    return 0;
}
