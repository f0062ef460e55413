/* fleet_procs.h — test helper: dlc-tracker and dlc-rpc-server from the
 * build's bin/ as child processes on 127.0.0.1, a client for them, and the
 * tracker's status document. */
#ifndef DLC_FLEET_PROCS_H
#define DLC_FLEET_PROCS_H

#include <sys/types.h>

#include "support/dlc_support.h"
#include "tracker/dlc_client.h"

#define FLEET_HB "0.2" /* heartbeat seconds of every process these helpers start */

/* Where the children's stderr goes (appended); set by fleet_setup. */
extern char fleet_log[256];

/* Names the log after the test program and the pid; ignores SIGPIPE. */
void fleet_setup(const char *name);
/* Removes the log. */
void fleet_teardown(void);
/* Starts argv[0] from bin/ with stdout to a pipe (*out_fd, or /dev/null when
 * NULL) and stderr appended to fleet_log. */
pid_t fleet_spawn(const char *const *argv, int *out_fd);
/* The same with stdout to out_path (created or truncated) when out_fd is
 * NULL and out_path is not, and stderr to stdout when err_to_out. */
pid_t fleet_spawn_to(const char *const *argv, const char *out_path, int *out_fd, int err_to_out);
/* Sends sig and reaps; nothing for pid <= 0. */
void fleet_stop(pid_t pid, int sig);
/* Starts dlc-tracker on port ("0": any free one; max_frame in bytes) and
 * returns its pid; *port_out gets the port it listens on. */
pid_t fleet_start_tracker(const char *port, const char *max_frame, int *port_out);
/* Reads the tracker's first stdout line ("... listening on tcp://H:P") from
 * fd within 10 s, closes fd and returns P; fails the test without one. */
int fleet_read_port(int fd);
/* Starts dlc-rpc-server for key (wrapper: --exec-wrapper, or NULL). */
pid_t fleet_start_server(int port, const char *key, const char *wrapper);
dlc_client_t *fleet_client(int port);
/* Polls c until n results are in r or `seconds` pass; returns how many came
 * (fails the test on a poll error). */
int fleet_collect(dlc_client_t *c, dlc_client_result_t *r, int n, double seconds);
/* How many times `what` occurs in fleet_log. */
int fleet_count_in_log(const char *what);
/* The tracker's status document, parsed (json_decref it); fails the test
 * when there is no answer within 3 s. */
json_t *fleet_status(dlc_client_t *c);
/* jobs.<name> of a status document. */
long long fleet_jobs(json_t *status, const char *name);
/* Waits up to timeout_s until jobs.<name> of the status reaches want;
 * returns the last value seen. */
long long fleet_wait_jobs(dlc_client_t *c, const char *name, long long want, double timeout_s);

#endif
