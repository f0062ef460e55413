/* dlc_support.h — the support module's public API: status codes and the
 * last-error message, logging, arena allocation, string builder, JSON helpers
 * (jansson), hashing, subprocesses (libuv) and a terminal progress bar.
 *
 * Usage:
 *   dlc_arena_t *a = dlc_arena_new(0);
 *   char *s = dlc_arena_strdup(a, "hello");
 *   dlc_strbuf_t sb; dlc_strbuf_init(&sb);
 *   dlc_strbuf_printf(&sb, "%s %d", s, 42);
 *   if (dlc_file_write("/tmp/x", sb.data, sb.len) < 0)
 *       fprintf(stderr, "%s\n", dlc_last_error());
 *   dlc_strbuf_free(&sb);
 *   dlc_arena_destroy(&a);
 *
 * Conventions: functions that can fail return int (0 ok, negative DLC_E*) and
 * leave a message for dlc_last_error(); constructors return NULL on failure;
 * destructors take T ** and accept NULL.
 */
#ifndef DLC_SUPPORT_H
#define DLC_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes: one table generates the enum, names and messages ---- */
#define DLC_STATUS_MAP(X)                                              \
    X(OK, 0, "ok")                                                     \
    X(EINVAL, -1, "invalid argument")                                  \
    X(ENOMEM, -2, "out of memory")                                     \
    X(EIO, -3, "input/output error")                                   \
    X(ENOTFOUND, -4, "not found")                                      \
    X(EPARSE, -5, "parse error")                                       \
    X(EUNSUPPORTED, -6, "unsupported")                                 \
    X(ETIMEOUT, -7, "timed out")                                       \
    X(ESUBPROCESS, -8, "subprocess failed")                            \
    X(ESCHEDULE, -20, "invalid schedule")                              \
    X(ELOWER, -21, "lowering failed")                                  \
    X(ECODEGEN, -22, "code generation failed")                         \
    X(ECOMPILE, -23, "compiler failed")                                \
    X(ELOAD, -24, "module load failed")                                \
    X(ERUNTIME, -25, "kernel run failed")                              \
    X(EWRONG, -26, "wrong answer")                                     \
    X(ETARGET, -27, "bad target")                                      \
    X(EINSTANTIATE, -28, "config not valid for this template")

typedef enum {
#define DLC__STATUS_ENUM(name, code, msg) DLC_##name = code,
    DLC_STATUS_MAP(DLC__STATUS_ENUM)
#undef DLC__STATUS_ENUM
} dlc_status_t;

/* Static description of a status code ("invalid argument"); never NULL. */
const char *dlc_strerror(int status);
/* Name of a status code ("EINVAL"); "UNKNOWN" for codes not in the table. */
const char *dlc_status_name(int status);

/* Sets the thread-local last-error message (printf-style) and returns
 * `status`, so callers can write: return dlc_error(DLC_EINVAL, "bad %s", x); */
int dlc_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The thread-local message of the last dlc_error() on this thread, or "" . */
const char *dlc_last_error(void);
/* The status passed to the last dlc_error() on this thread (0 if none). */
int dlc_last_status(void);
void dlc_clear_error(void);

/* ---- measurement outcomes: TVM's MeasureErrorNo ----
 * (python/tvm/autotvm/measure/measure.py), shared by records, the wire
 * protocol, the sandbox and the tuner. */
#define DLC_MEASURE_ERROR_MAP(X)                                              \
    X(NO_ERROR, 0, "no error")                                                \
    X(INSTANTIATION_ERROR, 1, "error instantiating the template with the config") \
    X(COMPILE_HOST, 2, "error compiling on the host")                          \
    X(COMPILE_DEVICE, 3, "error compiling on the device")                      \
    X(RUNTIME_DEVICE, 4, "error running on the device")                        \
    X(WRONG_ANSWER, 5, "wrong answer")                                        \
    X(BUILD_TIMEOUT, 6, "build timed out")                                    \
    X(RUN_TIMEOUT, 7, "run timed out")                                        \
    X(UNKNOWN_ERROR, 8, "unknown error")
typedef enum {
#define DLC__ME(e, n, msg) DLC_MEASURE_##e = n,
    DLC_MEASURE_ERROR_MAP(DLC__ME)
#undef DLC__ME
    DLC_MEASURE_ERROR_COUNT
} dlc_measure_error_t;
const char *dlc_measure_error_name(int error_no);    /* "RUN_TIMEOUT"; "?" if unknown */
const char *dlc_measure_error_message(int error_no); /* "run timed out"; "?" if unknown */

/* ---- logging ---- */
typedef enum { DLC_LOG_DEBUG, DLC_LOG_INFO, DLC_LOG_WARN, DLC_LOG_ERROR, DLC_LOG_OFF, DLC_LOG_LEVEL_COUNT } dlc_log_level_t;
/* Default level: WARN, or the DLC_LOG_LEVEL environment variable
 * (debug|info|warn|error|off) read on first use. Output goes to stderr. */
void dlc_log_set_level(dlc_log_level_t level);
dlc_log_level_t dlc_log_get_level(void);
/* Parses "debug".."off"; returns -1 for an unknown name. */
int dlc_log_level_parse(const char *name);
void dlc_log(dlc_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define DLC_DEBUG(...) dlc_log(DLC_LOG_DEBUG, __VA_ARGS__)
#define DLC_INFO(...) dlc_log(DLC_LOG_INFO, __VA_ARGS__)
#define DLC_WARN(...) dlc_log(DLC_LOG_WARN, __VA_ARGS__)
#define DLC_ERROR(...) dlc_log(DLC_LOG_ERROR, __VA_ARGS__)

/* ---- arena: bump allocation, freed all at once ---- */
typedef struct dlc_arena dlc_arena_t;
/* block_size 0 picks a default (64 KiB). Returns NULL on failure. */
dlc_arena_t *dlc_arena_new(size_t block_size);
/* Frees every allocation of the arena and the arena; *a becomes NULL. */
void dlc_arena_destroy(dlc_arena_t **a);
/* Zeroed memory aligned to 16 bytes (64 if size >= 64), owned by the arena.
 * Aborts on out-of-memory (IR construction treats OOM as fatal). */
void *dlc_arena_alloc(dlc_arena_t *a, size_t size);
char *dlc_arena_strdup(dlc_arena_t *a, const char *s);
char *dlc_arena_printf(dlc_arena_t *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
size_t dlc_arena_used(const dlc_arena_t *a); /* bytes handed out */

/* ---- growable string (owned by the caller: free with dlc_strbuf_free) ---- */
typedef struct {
    char *data; /* always NUL-terminated once initialised */
    size_t len; /* bytes, excluding the NUL */
    size_t cap;
} dlc_strbuf_t;
void dlc_strbuf_init(dlc_strbuf_t *sb);
void dlc_strbuf_free(dlc_strbuf_t *sb);
void dlc_strbuf_clear(dlc_strbuf_t *sb);
void dlc_strbuf_append(dlc_strbuf_t *sb, const char *s);
void dlc_strbuf_appendn(dlc_strbuf_t *sb, const char *s, size_t n);
void dlc_strbuf_printf(dlc_strbuf_t *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dlc_strbuf_vprintf(dlc_strbuf_t *sb, const char *fmt, va_list ap);
/* Appends `n` spaces (indentation helper for code generators). */
void dlc_strbuf_indent(dlc_strbuf_t *sb, int n);
/* Moves the buffer out: caller owns the returned malloc'd string; sb is reset. */
char *dlc_strbuf_take(dlc_strbuf_t *sb);

/* ---- files ---- */
/* Reads a whole file into a malloc'd NUL-terminated buffer (caller frees). */
int dlc_file_read(const char *path, char **data, size_t *len);
/* Writes atomically: to path.tmp.<pid> then rename. */
int dlc_file_write(const char *path, const void *data, size_t len);
/* mkdir -p; ok if it exists. */
int dlc_mkdirs(const char *path);
/* Cache root: $DLC_CACHE_DIR, else $XDG_CACHE_HOME/dlc, else $HOME/.cache/dlc,
 * else /tmp/dlc-cache-<uid>. Returned string is static; not created. */
const char *dlc_cache_dir(void);

/* ---- JSON helpers over jansson (strict: errors name the field) ---- */
/* Loads JSON text; on error returns NULL and sets the last error with line/column. */
json_t *dlc_json_parse(const char *text, size_t len);
/* Typed getters: return DLC_EPARSE with "field 'name': expected integer" etc. */
int dlc_json_get_int(const json_t *obj, const char *key, int64_t *out);
int dlc_json_get_double(const json_t *obj, const char *key, double *out);
int dlc_json_get_string(const json_t *obj, const char *key, const char **out);
int dlc_json_get_bool(const json_t *obj, const char *key, int *out);
/* Serialise compactly (no spaces, keys in insertion order); caller frees. */
char *dlc_json_dumps(const json_t *v);

/* ---- hashing ---- */
/* 64-bit FNV-1a; incremental: pass the previous result as seed (start with DLC_HASH_SEED). */
#define DLC_HASH_SEED 0xcbf29ce484222325ULL
uint64_t dlc_hash64(const void *data, size_t len, uint64_t seed);
/* SHA-256 of data as 64 lowercase hex chars + NUL into out[65] (code hashes). */
void dlc_sha256_hex(const void *data, size_t len, char out[65]);

/* ---- subprocesses (libuv) ---- */
typedef struct {
    const char *const *argv; /* NULL-terminated; argv[0] looked up in PATH */
    const char *cwd;         /* NULL: inherit */
    const char *stdin_data;  /* NULL: no stdin */
    size_t stdin_len;
    double timeout_s;        /* <= 0: no limit; on expiry the child is killed (SIGKILL) */
} dlc_proc_spec_t;

typedef struct {
    int exit_code;   /* exit status, or -1 if killed by a signal */
    int term_signal; /* signal number, 0 if none */
    int timed_out;   /* 1 if killed because of timeout_s */
    char *out;       /* captured stdout, malloc'd, NUL-terminated */
    size_t out_len;
    char *err;       /* captured stderr, malloc'd, NUL-terminated */
    size_t err_len;
    double wall_s;   /* seconds */
} dlc_proc_result_t;

/* Runs one process to completion, capturing output. Returns 0 if the process
 * could be started and waited for (inspect exit_code/term_signal/timed_out),
 * or DLC_ESUBPROCESS if it could not be spawned. */
int dlc_proc_run(const dlc_proc_spec_t *spec, dlc_proc_result_t *res);
/* Runs n processes with at most `jobs` at a time on one libuv loop;
 * res[i] belongs to spec[i]. Returns 0, or the first spawn failure. */
int dlc_proc_run_many(const dlc_proc_spec_t *specs, dlc_proc_result_t *res, size_t n, int jobs);
void dlc_proc_result_free(dlc_proc_result_t *res);

/* ---- time ---- */
double dlc_now(void); /* monotonic seconds */

/* ---- progress bar ---- */
/* Draws on stderr only when stderr is a terminal (or force is set);
 * otherwise all calls are no-ops. */
typedef struct dlc_progress dlc_progress_t;
dlc_progress_t *dlc_progress_new(const char *label, int64_t total, int force);
/* done: items completed; status: short free text shown at the right (may be NULL). */
void dlc_progress_update(dlc_progress_t *p, int64_t done, const char *status);
/* Finishes the line (newline) and frees; *p becomes NULL. */
void dlc_progress_destroy(dlc_progress_t **p);

#ifdef __cplusplus
}
#endif
#endif
