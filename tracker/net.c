/* net.c — small helpers the tracker, its client and the rpc-server share:
 * endpoints, random numbers, sending an encoded message on a ZeroMQ socket. */
#include "tracker/tracker_impl.h"

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
