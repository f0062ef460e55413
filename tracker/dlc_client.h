/* dlc_client.h — the tuner's side of the fleet: submit measurement jobs for a
 * device key to a dlc-tracker, collect results, cancel.
 *
 * Usage:
 *   dlc_client_t *c = dlc_client_new("127.0.0.1:9190");
 *   dlc_client_job_t job = {.key = "x86", .artifact = so, .artifact_len = n,
 *                           .manifest = manifest_json, .measure = dlc_msg_measure_default()};
 *   uint64_t id;
 *   dlc_client_submit(c, &job, &id);
 *   dlc_client_result_t r[16];
 *   while (dlc_client_pending(c) > 0) {
 *       int n = dlc_client_poll(c, 1000, r, 16);
 *       for (int i = 0; i < n; i++) use(r[i].job_id, r[i].error_no, r[i].costs);
 *   }
 *   dlc_client_destroy(&c);
 *
 * Delivery: each submitted job yields exactly one result from poll (unless
 * cancelled). The client keeps a copy of every pending job; when the
 * tracker's epoch changes (it restarted and lost its queue) it resubmits
 * them all under the same ids, and it drops any result for an id that is
 * not pending, so a result that arrives twice is still delivered once.
 * A client is used from one thread.
 *
 * Security: against a tracker that runs CURVE (`dlc-tracker --keys --allow`)
 * the client needs the tracker's public key and a key pair of its own whose
 * public half is in the tracker's allow-list (`dlc-tracker keygen` writes
 * pairs):
 *   dlc_client_opts_t o = {.tracker_key = "keys/tracker.pub", .key_file = "keys/tuner.key"};
 *   dlc_client_t *c = dlc_client_new_opts("tracker.lan:9190", &o);
 * dlc_client_new reads the same two from $DLC_TRACKER_KEY and $DLC_KEY_FILE,
 * so every program that takes --tracker speaks CURVE when they are set.
 * When the tracker refuses this client's key, or one side runs CURVE and the
 * other does not, submit, poll and status fail from then on with DLC_EIO and
 * the reason; with a wrong tracker key nothing arrives (status times out).
 */
#ifndef DLC_CLIENT_H
#define DLC_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "tracker/dlc_protocol.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dlc_client dlc_client_t;

typedef struct {
    const char *key;           /* device key ("x86", "rasp4b") */
    int64_t priority;          /* higher runs first among this client's jobs */
    const void *artifact;      /* the shared object, bytes (copied) */
    size_t artifact_len;       /* bytes */
    const char *manifest;      /* JSON with "entry" and "target" (copied) */
    dlc_msg_measure_t measure;
} dlc_client_job_t;

typedef struct {
    uint64_t job_id;
    int error_no;              /* dlc_measure_error_t */
    int n_costs;
    double costs[DLC_MSG_MAX_COSTS]; /* seconds */
    double all_cost;           /* seconds */
    double timestamp;          /* seconds since the Unix epoch, on the device */
    char message[512];
} dlc_client_result_t;

/* CURVE settings; a NULL (or "") field falls back to its environment
 * variable, and with neither set the connection is plain TCP. */
typedef struct {
    const char *tracker_key; /* the tracker's public key: 40 Z85 characters or a file holding them
                                (its NAME.pub); $DLC_TRACKER_KEY */
    const char *key_file;    /* this client's key pair: DIR/NAME.key (the secret, mode 0600, NAME.pub
                                beside it), DIR/NAME, or a DIR with one *.key; $DLC_KEY_FILE */
} dlc_client_opts_t;

/* Connects (lazily, with ZeroMQ's reconnect) to "host:port"; NULL on error
 * (a bad address, an unreadable or mismatched key). opts may be NULL. */
dlc_client_t *dlc_client_new_opts(const char *tracker, const dlc_client_opts_t *opts);
/* dlc_client_new_opts(tracker, NULL): CURVE only through the environment. */
dlc_client_t *dlc_client_new(const char *tracker);
void dlc_client_destroy(dlc_client_t **c);
/* Queues one job; *job_id (may be NULL) gets its id (1, 2, ...). */
int dlc_client_submit(dlc_client_t *c, const dlc_client_job_t *job, uint64_t *job_id);
/* Submits n jobs; ids[i] (may be NULL) gets the id of jobs[i]. */
int dlc_client_submit_batch(dlc_client_t *c, const dlc_client_job_t *jobs, int n, uint64_t *ids);
/* Forgets a pending job; its result will not be delivered. The tracker
 * drops it from its queue or, when a server already runs it, tells that
 * server to abandon it (the measurement is killed) and drops its answer;
 * `dlc-tracker status` counts it under jobs.cancelled. */
int dlc_client_cancel(dlc_client_t *c, uint64_t job_id);
/* Waits up to timeout_ms for results; returns how many were stored in out
 * (0 on timeout), or a negative code. Keeps the heartbeat going. */
int dlc_client_poll(dlc_client_t *c, int timeout_ms, dlc_client_result_t *out, int max);
/* Calls cb for each result until nothing is pending or timeout_ms passes;
 * returns the number of results delivered. */
int dlc_client_run(dlc_client_t *c, int timeout_ms, void (*cb)(const dlc_client_result_t *r, void *ud), void *ud);
/* Jobs submitted and neither answered nor cancelled. */
size_t dlc_client_pending(const dlc_client_t *c);
/* How many times pending jobs were resubmitted after a tracker restart. */
int64_t dlc_client_resubmitted(const dlc_client_t *c);
/* Asks the tracker for its status document (JSON text; caller frees). */
int dlc_client_status(dlc_client_t *c, int timeout_ms, char **json);

#ifdef __cplusplus
}
#endif
#endif
