/* tracker_main.c — dlc-tracker: the broker on a ZeroMQ ROUTER socket (with
 * CURVE and an allow-list when given keys), `dlc-tracker status` that asks a
 * running tracker what it holds, and `dlc-tracker keygen`. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "support/dlc_support.h"
#include "tracker/dlc_client.h"
#include "tracker/tracker_impl.h"

static const char usage[] =
    "usage: dlc-tracker [serve] [--host H] [--port P] [--keys PATH --allow DIR] [options]\n"
    "       dlc-tracker status --tracker HOST:PORT [--json] [--tracker-key KEY --key-file PATH]\n"
    "       dlc-tracker keygen --out DIR [--name NAME] [--force]\n"
    "Serves measurement jobs to dlc-rpc-server devices (one ROUTER socket).\n"
    "  --host H           address to bind (default 127.0.0.1; any other needs --keys and --allow)\n"
    "  --port P           port (default 9190; 0 picks a free one and prints it)\n"
    "  --keys PATH        the tracker's CURVE key pair: DIR/NAME.key, DIR/NAME or a DIR with one\n"
    "                     *.key (from keygen); every connection is then encrypted and authenticated\n"
    "  --allow DIR        with --keys: admit only peers whose public key is a DIR/*.pub file\n"
    "                     (re-read when DIR changes); rejected keys are logged\n"
    "  --heartbeat S      seconds between device heartbeats (default 1; dead after 3)\n"
    "  --grace S          seconds beyond a job's timeout before it is requeued (default 5)\n"
    "  --max-attempts N   dispatches of one job before it fails (default 3)\n"
    "  --max-frame BYTES  largest accepted frame (default 80 MiB)\n"
    "  --log-level L      debug|info|warn|error (default warn)\n"
    "status: prints servers per key, queues and throughput; --tracker-key (the tracker's\n"
    "  public key: NAME.pub or its 40 Z85 characters) and --key-file (this side's pair) for a\n"
    "  CURVE tracker, or $DLC_TRACKER_KEY and $DLC_KEY_FILE.\n"
    "keygen: writes a CURVE key pair, DIR/NAME.key (secret, mode 0600) and DIR/NAME.pub\n"
    "  (NAME defaults to this host's name); prints the public key. --force replaces a pair.\n"
    "Exit codes: 0 ok, 1 failure, 2 usage error.\n";

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = sig; }

static int send_frame(void *sock, const void *id, size_t id_len, const void *data, size_t len) {
    if (zmq_send(sock, id, id_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return -1; /* EHOSTUNREACH with ZMQ_ROUTER_MANDATORY: the peer is gone */
    return zmq_send(sock, data, len, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

/* Receives one [id][payload] message; extra frames make it a rejected one. */
static int recv_one(void *sock, dlc__broker_t *b) {
    zmq_msg_t id, body;
    zmq_msg_init(&id);
    zmq_msg_init(&body);
    int rc = zmq_msg_recv(&id, sock, ZMQ_DONTWAIT);
    if (rc < 0) {
        zmq_msg_close(&id);
        zmq_msg_close(&body);
        return -1;
    }
    int frames = 1;
    if (zmq_msg_more(&id) && zmq_msg_recv(&body, sock, 0) >= 0)
        frames++;
    while (zmq_msg_more(frames > 1 ? &body : &id)) { /* drain what does not belong to the protocol */
        zmq_msg_t extra;
        zmq_msg_init(&extra);
        int more = zmq_msg_recv(&extra, sock, 0) >= 0 && zmq_msg_more(&extra);
        zmq_msg_close(&extra);
        frames++;
        if (!more)
            break;
    }
    if (frames != 2)
        DLC_WARN("tracker: rejected a message of %d frames (expected 1 after the routing id)", frames - 1);
    else
        dlc__broker_on_frame(b, zmq_msg_data(&id), zmq_msg_size(&id), zmq_msg_data(&body), zmq_msg_size(&body),
                             dlc_now());
    zmq_msg_close(&id);
    zmq_msg_close(&body);
    return 0;
}

static char curve_public[DLC__Z85_KEY];

/* Makes sock a CURVE server with the pair at keys and starts the ZAP handler
 * over the allow-list; returns 0 or the exit code. */
static int curve_server(void *ctx, void *sock, const char *keys, const char *allow, dlc__auth_t **auth) {
    char secret[DLC__Z85_KEY];
    int one = 1, rc = 0;
    if (dlc__key_pair(keys, curve_public, secret) < 0) {
        fprintf(stderr, "dlc-tracker: --keys: %s\n", dlc_last_error());
        return 2;
    }
    if ((*auth = dlc__auth_new(ctx, allow, sock)) == NULL) {
        fprintf(stderr, "dlc-tracker: --allow: %s\n", dlc_last_error());
        rc = 2;
    } else if (zmq_setsockopt(sock, ZMQ_CURVE_SERVER, &one, sizeof one) != 0 ||
               zmq_setsockopt(sock, ZMQ_CURVE_SECRETKEY, secret, sizeof secret) != 0 ||
               zmq_setsockopt(sock, ZMQ_ZAP_DOMAIN, "dlc", 3) != 0) {
        fprintf(stderr, "dlc-tracker: CURVE: %s (libzmq without CURVE?)\n", zmq_strerror(errno));
        dlc__auth_destroy(auth);
        rc = 1;
    }
    explicit_bzero(secret, sizeof secret);
    return rc;
}

static int serve(int argc, char **argv) {
    const char *host = "127.0.0.1", *keys = NULL, *allow = NULL;
    long port = DLC_TRACKER_DEFAULT_PORT;
    dlc__broker_opts_t o = {.heartbeat_s = 1.0, .grace_s = 5.0, .max_attempts = 3, .max_frame = DLC_MSG_MAX_FRAME};
    static const struct option longopts[] = {
        {"host", 1, 0, 'H'},      {"port", 1, 0, 'p'},      {"heartbeat", 1, 0, 'b'}, {"grace", 1, 0, 'g'},
        {"max-attempts", 1, 0, 'a'}, {"max-frame", 1, 0, 'f'}, {"log-level", 1, 0, 'l'}, {"help", 0, 0, 'h'},
        {"keys", 1, 0, 'K'},      {"allow", 1, 0, 'A'},     {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (c) {
        case 'H': host = optarg; break;
        case 'K': keys = optarg; break;
        case 'A': allow = optarg; break;
        case 'p': port = strtol(optarg, NULL, 10); break;
        case 'b': o.heartbeat_s = strtod(optarg, NULL); break;
        case 'g': o.grace_s = strtod(optarg, NULL); break;
        case 'a': o.max_attempts = atoi(optarg); break;
        case 'f': o.max_frame = strtoull(optarg, NULL, 10); break;
        case 'l':
            if (dlc_log_level_parse(optarg) < 0) {
                fprintf(stderr, "dlc-tracker: unknown log level '%s'\n%s", optarg, usage);
                return 2;
            }
            dlc_log_set_level((dlc_log_level_t)dlc_log_level_parse(optarg));
            break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (port < 0 || port > 65535 || o.heartbeat_s <= 0 || o.max_attempts < 1 || o.max_frame < 64 ||
        o.max_frame > DLC_MSG_MAX_FRAME) {
        fprintf(stderr, "dlc-tracker: bad option value\n%s", usage);
        return 2;
    }
    if (!keys != !allow) {
        fprintf(stderr, "dlc-tracker: --keys and --allow go together\n%s", usage);
        return 2;
    }
    if (keys == NULL && !dlc__is_loopback(host)) {
        fprintf(stderr, "dlc-tracker: refusing to listen on %s without CURVE keys: only 127.0.0.1 is served "
                        "unauthenticated (give --keys PATH --allow DIR; `dlc-tracker keygen` writes keys)\n", host);
        return 2;
    }
    void *ctx = zmq_ctx_new(), *sock = zmq_socket(ctx, ZMQ_ROUTER);
    dlc__auth_t *auth = NULL;
    int rc = keys ? curve_server(ctx, sock, keys, allow, &auth) : 0;
    if (rc != 0) {
        zmq_close(sock);
        zmq_ctx_term(ctx);
        return rc;
    }
    int one = 1, zero = 0;
    int64_t maxmsg = (int64_t)o.max_frame + 4096; /* bigger frames drop the connection inside ZeroMQ */
    zmq_setsockopt(sock, ZMQ_ROUTER_MANDATORY, &one, sizeof one);
    zmq_setsockopt(sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(sock, ZMQ_SNDHWM, &zero, sizeof zero); /* results are never dropped for a full queue */
    zmq_setsockopt(sock, ZMQ_LINGER, &zero, sizeof zero);
    char ep[256], bound[256];
    size_t bound_len = sizeof bound;
    if (port)
        snprintf(ep, sizeof ep, "tcp://%s:%ld", host, port);
    else
        snprintf(ep, sizeof ep, "tcp://%s:*", host);
    if (zmq_bind(sock, ep) != 0 || zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, bound, &bound_len) != 0) {
        fprintf(stderr, "dlc-tracker: cannot bind %s: %s\n", ep, zmq_strerror(errno));
        dlc__auth_destroy(&auth);
        zmq_close(sock);
        zmq_ctx_term(ctx);
        return 1;
    }
    printf("dlc-tracker listening on %s\n", bound);
    if (auth)
        printf("CURVE on: public key %s; %zu peers allowed (%s/*.pub)\n", curve_public, dlc__auth_count(auth), allow);
    fflush(stdout);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    dlc__broker_t *b = dlc__broker_new(&o, send_frame, sock);
    double last_tick = 0;
    while (!g_stop && b) {
        zmq_pollitem_t items[3] = {{sock, 0, ZMQ_POLLIN, 0}};
        int nitems = 1 + dlc__auth_poll_items(auth, items + 1);
        int tick_ms = (int)(o.heartbeat_s * 250);
        if (zmq_poll(items, nitems, tick_ms < 1 ? 1 : tick_ms > 100 ? 100 : tick_ms) > 0) {
            dlc__auth_handle(auth); /* first: handshakes wait for it */
            for (int i = 0; i < 1000 && recv_one(sock, b) == 0; i++)
                ;
        }
        double now = dlc_now();
        if (now - last_tick >= o.heartbeat_s / 4) {
            dlc__broker_tick(b, now);
            last_tick = now;
        }
    }
    dlc__broker_destroy(&b);
    dlc__auth_destroy(&auth);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return 0;
}

static int status(int argc, char **argv) {
    const char *tracker = NULL;
    dlc_client_opts_t co = {0};
    int json = 0;
    static const struct option longopts[] = {{"tracker", 1, 0, 't'},     {"json", 0, 0, 'j'},
                                             {"tracker-key", 1, 0, 'T'}, {"key-file", 1, 0, 'F'},
                                             {"help", 0, 0, 'h'},        {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (c) {
        case 't': tracker = optarg; break;
        case 'j': json = 1; break;
        case 'T': co.tracker_key = optarg; break;
        case 'F': co.key_file = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (tracker == NULL) {
        fprintf(stderr, "dlc-tracker status: missing --tracker HOST:PORT\n");
        return 2;
    }
    dlc_client_t *c = dlc_client_new_opts(tracker, &co);
    if (c == NULL) {
        fprintf(stderr, "dlc-tracker status: %s\n", dlc_last_error());
        return dlc_last_status() == DLC_EINVAL ? 2 : 1;
    }
    char *text = NULL;
    if (c == NULL || dlc_client_status(c, 3000, &text) < 0) {
        fprintf(stderr, "dlc-tracker status: %s\n", dlc_last_error());
        dlc_client_destroy(&c);
        return 1;
    }
    dlc_client_destroy(&c);
    json_t *j = dlc_json_parse(text, strlen(text));
    if (json || j == NULL) {
        printf("%s\n", text);
    } else {
        json_t *jobs = json_object_get(j, "jobs"), *v;
        size_t i;
        printf("Tracker up %.0f s, %lld clients\n", json_number_value(json_object_get(j, "uptime_s")),
               (long long)json_integer_value(json_object_get(j, "clients")));
        printf("%-24s %8s %6s %6s %8s\n", "key", "servers", "free", "busy", "queued");
        json_array_foreach(json_object_get(j, "keys"), i, v) {
            printf("%-24s %8lld %6lld %6lld %8lld\n", json_string_value(json_object_get(v, "key")),
                   (long long)json_integer_value(json_object_get(v, "servers")),
                   (long long)json_integer_value(json_object_get(v, "free")),
                   (long long)json_integer_value(json_object_get(v, "busy")),
                   (long long)json_integer_value(json_object_get(v, "queued")));
        }
        printf("jobs: %lld submitted, %lld done, %lld failed, %lld cancelled, %lld running, %lld requeued; "
               "%.1f jobs/s\n",
               (long long)json_integer_value(json_object_get(jobs, "submitted")),
               (long long)json_integer_value(json_object_get(jobs, "done")),
               (long long)json_integer_value(json_object_get(jobs, "failed")),
               (long long)json_integer_value(json_object_get(jobs, "cancelled")),
               (long long)json_integer_value(json_object_get(jobs, "running")),
               (long long)json_integer_value(json_object_get(jobs, "requeued")),
               json_number_value(json_object_get(j, "jobs_per_s")));
    }
    json_decref(j);
    free(text);
    return 0;
}

static int name_ok(const char *name) {
    size_t n = strlen(name);
    return n > 0 && n <= 64 && name[0] != '.' && name[0] != '-' &&
           strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") == n;
}

static int keygen(int argc, char **argv) {
    const char *out = NULL;
    char name[256] = "dlc", pub[DLC__Z85_KEY];
    int force = 0, named = 0;
    static const struct option longopts[] = {{"out", 1, 0, 'o'}, {"name", 1, 0, 'n'}, {"force", 0, 0, 'f'},
                                             {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'n': snprintf(name, sizeof name, "%s", optarg), named = 1; break;
        case 'f': force = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fprintf(stderr, "try 'dlc-tracker --help'\n"); return 2;
        }
    }
    if (!named && gethostname(name, sizeof name) == 0)
        name[sizeof name - 1] = '\0';
    if (!named && !name_ok(name))
        snprintf(name, sizeof name, "dlc");
    if (out == NULL || optind < argc || !name_ok(name)) {
        fprintf(stderr, "dlc-tracker keygen: %s\ntry 'dlc-tracker --help'\n",
                out == NULL    ? "missing --out DIR"
                : optind < argc ? "unexpected argument"
                                : "bad --name: letters, digits, '.', '_' and '-' (at most 64; not first '.' or '-')");
        return 2;
    }
    if (dlc__keygen(out, name, force, pub) < 0) {
        fprintf(stderr, "dlc-tracker keygen: %s\n", dlc_last_error());
        return 1;
    }
    printf("wrote %s/%s.key (secret: keep it private) and %s/%s.pub\n%s\n", out, name, out, name, pub);
    return 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "status") == 0)
        return status(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "keygen") == 0)
        return keygen(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "serve") == 0)
        return serve(argc - 1, argv + 1);
    return serve(argc, argv);
}
