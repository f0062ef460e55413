/* bench_tracker.h — simulated dlc-rpc-servers for bench_tracker: many
 * DEALER sockets driven by a few threads, each socket one server that says
 * hello, keeps its heartbeat and answers every no-op job at once. */
#ifndef DLC_BENCH_TRACKER_H
#define DLC_BENCH_TRACKER_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bench_sim bench_sim_t;

/* Monotonic clock, nanoseconds. */
int64_t bench_ns(void);

/* Starts n servers for key on nthreads threads, connected to endpoint
 * ("tcp://127.0.0.1:P"), each saying hello every heartbeat_s. A job's
 * manifest carries "n": its number; when server receives job n it stores
 * bench_ns() in recv_ns[n] and adds 1 to receipts[n] (n < cap), then sends
 * the result. NULL on error. */
bench_sim_t *bench_sim_start(const char *endpoint, const char *key, int n, int nthreads, double heartbeat_s,
                             _Atomic int64_t *recv_ns, _Atomic int32_t *receipts, size_t cap);
/* Servers that measured at least one job, and the most jobs one measured. */
void bench_sim_spread(const bench_sim_t *s, int *used, int64_t *most);
/* Jobs whose manifest had no usable "n", and sends that failed. */
int64_t bench_sim_errors(const bench_sim_t *s);
/* Stops the threads and closes every socket; NULL-safe. */
void bench_sim_stop(bench_sim_t **s);

#endif
