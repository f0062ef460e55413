/* dlc_protocol.h — the fleet's wire protocol: msgpack maps with a protocol
 * version and a message type, one table declaring every type and its fields.
 *
 * Usage:
 *   dlc_msg_t m = {.type = DLC_MSG_CANCEL, .job_id = 42};
 *   void *buf; size_t len;
 *   if (dlc_msg_encode(&m, &buf, &len) < 0) die(dlc_last_error());
 *   dlc_msg_t in;
 *   if (dlc_msg_decode(buf, len, &in) == 0) { ... in.job_id ...; dlc_msg_free(&in); }
 *   free(buf);
 *
 * On the wire a message is one ZeroMQ frame holding one msgpack map:
 *   {"v": DLC_PROTOCOL_VERSION, "t": "<type name>", <every field of the type>}
 * Every field a type declares is required, no other key is allowed, each
 * value has a fixed msgpack type and a bounded size or range. Decoders reject
 * anything else with DLC_EPARSE and never read outside the frame.
 */
#ifndef DLC_PROTOCOL_H
#define DLC_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "support/dlc_support.h"

#ifdef __cplusplus
extern "C" {
#endif

#define DLC_PROTOCOL_VERSION 1
#define DLC_TRACKER_DEFAULT_PORT 9190
#define DLC_MSG_MAX_FRAME (80u << 20) /* bytes: the largest frame a peer accepts */
#define DLC_MSG_MAX_COSTS 64

/* Result error numbers: dlc_measure_error_t (support/dlc_support.h). */

/* Fields: X(ID, wire name, kind, member of dlc_msg_t, min, max).
 * STR: NUL-free UTF-8 text, max bytes; BIN: bytes, max bytes; INT: integer in
 * [min, max]; U64: unsigned 64-bit; DBL: finite number in [min, max]; BOOL;
 * DBLS: array of at most max finite numbers (costs, n_costs). */
#define DLC_MSG_FIELD_MAP(X)                                                    \
    X(KEY, "key", STR, key, 0, 128)                                             \
    X(ARCH, "arch", STR, dev.arch, 0, 64)                                       \
    X(CPU, "cpu", STR, dev.cpu, 0, 256)                                         \
    X(OS, "os", STR, dev.os, 0, 256)                                            \
    X(DLC_VERSION, "dlc_version", STR, dev.dlc_version, 0, 64)                  \
    X(CORES, "cores", INT, dev.cores, 0, 1 << 20)                               \
    X(MEMORY, "memory", INT, dev.memory, 0, INT64_MAX)                          \
    X(EPOCH, "epoch", U64, epoch, 0, 0)                                         \
    X(JOB_ID, "job", U64, job_id, 0, 0)                                         \
    X(PRIORITY, "priority", INT, priority, -1000000, 1000000)                   \
    X(ARTIFACT, "artifact", BIN, artifact, 0, 64 << 20)                         \
    X(MANIFEST, "manifest", STR, manifest, 0, 1 << 20)                          \
    X(NUMBER, "number", INT, measure.number, 1, 10000000)                       \
    X(REPEAT, "repeat", INT, measure.repeat, 1, DLC_MSG_MAX_COSTS)              \
    X(MIN_REPEAT_MS, "min_repeat_ms", DBL, measure.min_repeat_ms, 0, 1e6)       \
    X(COOLDOWN, "cooldown", DBL, measure.cooldown_s, 0, 3600)                   \
    X(FLUSH_CACHE, "flush_cache", BOOL, measure.flush_cache, 0, 1)              \
    X(TIMEOUT, "timeout", DBL, measure.timeout_s, 0, 86400)                     \
    X(COSTS, "costs", DBLS, costs, 0, DLC_MSG_MAX_COSTS)                        \
    X(ERROR_NO, "error_no", INT, error_no, 0, DLC_MEASURE_ERROR_COUNT - 1)               \
    X(ERROR_MSG, "error_msg", STR, error_msg, 0, 4096)                          \
    X(ALL_COST, "all_cost", DBL, all_cost, 0, 1e9)                              \
    X(TIMESTAMP, "timestamp", DBL, timestamp, 0, 1e12)                          \
    X(JSON, "json", STR, json, 0, 16 << 20)

typedef enum {
#define DLC__FIELD_ENUM(id, name, kind, member, lo, hi) DLC_FIELD_##id,
    DLC_MSG_FIELD_MAP(DLC__FIELD_ENUM)
#undef DLC__FIELD_ENUM
    DLC_FIELD_COUNT
} dlc_msg_field_t;
#define DLC_F(id) (1ull << DLC_FIELD_##id)
#define DLC_F_MEASURE \
    (DLC_F(NUMBER) | DLC_F(REPEAT) | DLC_F(MIN_REPEAT_MS) | DLC_F(COOLDOWN) | DLC_F(FLUSH_CACHE) | DLC_F(TIMEOUT))

/* Types: X(ID, wire name, fields). Directions: S server, T tracker, C client.
 * HELLO S→T registers a device and, repeated every heartbeat interval, keeps
 * it registered (job: what it measures now, 0 if idle; a restarted tracker
 * learns the device from it); HEARTBEAT C→T, and T→S/C as the answer to
 * HELLO/HEARTBEAT carrying the tracker's epoch, a random number per tracker
 * run, so clients notice a restart and resubmit; JOB T→S;
 * RESULT S→T (job = tracker job id) and T→C (job = the client's id);
 * SUBMIT/CANCEL/STATUS C→T; CANCEL T→S (job = tracker job id): abandon the
 * job now (kill its measurement) and answer with a RESULT, which the tracker
 * drops; STATUS_REPLY T→C (json text); ERROR T→any. */
#define DLC_MSG_TYPE_MAP(X)                                                                                  \
    X(HELLO, "hello", DLC_F(KEY) | DLC_F(ARCH) | DLC_F(CPU) | DLC_F(OS) | DLC_F(DLC_VERSION) | DLC_F(CORES) | \
                          DLC_F(MEMORY) | DLC_F(JOB_ID))                                                     \
    X(HEARTBEAT, "heartbeat", DLC_F(EPOCH))                                                                  \
    X(JOB, "job", DLC_F(JOB_ID) | DLC_F(ARTIFACT) | DLC_F(MANIFEST) | DLC_F_MEASURE)                         \
    X(RESULT, "result",                                                                                      \
      DLC_F(JOB_ID) | DLC_F(COSTS) | DLC_F(ERROR_NO) | DLC_F(ERROR_MSG) | DLC_F(ALL_COST) | DLC_F(TIMESTAMP)) \
    X(SUBMIT, "submit",                                                                                      \
      DLC_F(JOB_ID) | DLC_F(KEY) | DLC_F(PRIORITY) | DLC_F(ARTIFACT) | DLC_F(MANIFEST) | DLC_F_MEASURE)     \
    X(CANCEL, "cancel", DLC_F(JOB_ID))                                                                       \
    X(STATUS, "status", 0)                                                                                   \
    X(STATUS_REPLY, "status_reply", DLC_F(JSON))                                                             \
    X(ERROR, "error", DLC_F(JOB_ID) | DLC_F(ERROR_MSG))

typedef enum {
#define DLC__TYPE_ENUM(id, name, fields) DLC_MSG_##id,
    DLC_MSG_TYPE_MAP(DLC__TYPE_ENUM)
#undef DLC__TYPE_ENUM
    DLC_MSG_TYPE_COUNT
} dlc_msg_type_t;

typedef struct {
    const char *arch, *cpu, *os, *dlc_version;
    int64_t cores;
    int64_t memory; /* bytes */
} dlc_device_info_t;

typedef struct {
    int64_t number;       /* calls per repeat */
    int64_t repeat;       /* costs reported */
    double min_repeat_ms; /* milliseconds */
    double cooldown_s;    /* seconds between repeats */
    int64_t flush_cache;  /* 0 or 1 */
    double timeout_s;     /* seconds, wall clock for the whole measurement */
} dlc_msg_measure_t;

/* One message: only the fields of `type` are meaningful. For encoding the
 * caller owns every pointer; a decoded message owns them (one block, freed by
 * dlc_msg_free). Strings are NUL-terminated. */
typedef struct {
    dlc_msg_type_t type;
    const char *key;
    dlc_device_info_t dev;
    uint64_t epoch, job_id;
    int64_t priority;
    const uint8_t *artifact;
    size_t artifact_len; /* bytes */
    const char *manifest;
    dlc_msg_measure_t measure;
    double costs[DLC_MSG_MAX_COSTS]; /* seconds */
    int64_t n_costs;
    int64_t error_no;  /* dlc_measure_error_t */
    const char *error_msg;
    double all_cost;   /* seconds, whole measurement */
    double timestamp;  /* seconds since the epoch, on the device */
    const char *json;
    void *storage_;    /* decoded messages: the block holding strings and bytes */
} dlc_msg_t;

/* The wire name of a type ("hello"); "?" if out of range. */
const char *dlc_msg_type_name(int type);
/* Measure options a job starts with (number 1, repeat 3, timeout 10 s). */
dlc_msg_measure_t dlc_msg_measure_default(void);

/* Serialises m; *data is malloc'd (caller frees). DLC_EINVAL if a field is
 * NULL or outside its bounds (the same rules the decoder applies). */
int dlc_msg_encode(const dlc_msg_t *m, void **data, size_t *len);
/* Parses one frame into out (zeroed first). 0 or DLC_EPARSE with the reason
 * in dlc_last_error(); out needs dlc_msg_free only on success. */
int dlc_msg_decode(const void *data, size_t len, dlc_msg_t *out);
/* Frees what a decode allocated; safe on encode-side messages and twice. */
void dlc_msg_free(dlc_msg_t *m);

#ifdef __cplusplus
}
#endif
#endif
