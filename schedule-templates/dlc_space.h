/* dlc_space.h — AutoTVM-compatible config spaces (knobs), configs (entities)
 * and tuning records (TVM log lines, v0.1 and v0.2).
 *
 * Usage (the space of TopHub's conv2d_NCHWc.x86 for a 3x3 kernel):
 *   static int inner_le_64(const int64_t *size, int n, void *user) { return size[n - 1] <= 64; }
 *
 *   dlc_space_t *sp = dlc_space_new();
 *   dlc_space_define_split(sp, "tile_ic", 64, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL);
 *   dlc_space_define_split(sp, "tile_oc", 64, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL);
 *   dlc_space_define_split(sp, "tile_ow", 56, DLC_SPLIT_FACTORS, 2, 0, inner_le_64, NULL);
 *   static const int tf[] = {1, 0};
 *   dlc_space_define_knob_bool(sp, "unroll_kw", tf, 2);
 *   dlc_config_t *cfg;
 *   if (dlc_space_get(sp, 188, &cfg) == 0) {
 *       int64_t ow[2];
 *       dlc_config_split_resolved(cfg, "tile_ow", ow);    // {8, 7}
 *       json_t *e = dlc_config_to_entity_json(cfg);       // [["tile_ic","sp",[-1,64]], ...]
 *       json_decref(e);
 *       dlc_config_destroy(&cfg);
 *   }
 *   dlc_space_destroy(&sp);
 *
 * Semantics follow TVM's python/tvm/autotvm/task/space.py: knobs are
 * enumerated in definition order, and index = c0 + d0*(c1 + d1*(c2 + ...))
 * where ck is the choice of knob k and dk its number of entities (the first
 * knob varies fastest). Each knob kind enumerates its entities in TVM's order.
 *
 * Ownership: a space owns its knobs. A config borrows its space (destroy
 * configs before the space) and owns everything else. Records own their
 * strings and JSON values.
 */
#ifndef DLC_SPACE_H
#define DLC_SPACE_H

#include <stdint.h>
#include <stdio.h>

#include "support/dlc_support.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct dlc_space dlc_space_t;
typedef struct dlc_config dlc_config_t;

/* ---- tables: knob kinds, policies, annotations ---- */

/* Knob kinds and their entity codes in TVM's ConfigEntity JSON. */
#define DLC_KNOB_KIND_MAP(X) \
    X(SPLIT, "sp")           \
    X(REORDER, "re")         \
    X(ANNOTATE, "an")        \
    X(OTHER, "ot")
typedef enum {
#define DLC__KK(e, code) DLC_KNOB_##e,
    DLC_KNOB_KIND_MAP(DLC__KK)
#undef DLC__KK
    DLC_KNOB_KIND_COUNT
} dlc_knob_kind_t;
const char *dlc_knob_kind_code(dlc_knob_kind_t kind); /* "sp", ...; "?" if out of range */

/* define_split policies. FACTORS: divisors of the extent, products divide it
 * (no tails). POWER2: powers of two <= extent, tails allowed. VERBOSE: the
 * union of both, tails allowed, enumerated in CPython's set-iteration order as
 * TVM does (reproduced exactly; see space_split.c). CANDIDATE: a given list. */
#define DLC_SPLIT_POLICY_MAP(X) \
    X(FACTORS, "factors")       \
    X(POWER2, "power2")         \
    X(VERBOSE, "verbose")       \
    X(CANDIDATE, "candidate")
typedef enum {
#define DLC__SP(e, name) DLC_SPLIT_##e,
    DLC_SPLIT_POLICY_MAP(DLC__SP)
#undef DLC__SP
    DLC_SPLIT_POLICY_COUNT
} dlc_split_policy_t;

/* define_reorder policies. IDENTITY: one entity. ALL: every permutation, in
 * itertools.permutations (lexicographic) order. INTERVAL_ALL: permutations of
 * axes [begin, end), the rest fixed. CANDIDATE: a given list. (TVM's
 * interleave / interleave_cuda are not provided.) */
#define DLC_REORDER_POLICY_MAP(X) \
    X(IDENTITY, "identity")       \
    X(ALL, "all")                 \
    X(INTERVAL_ALL, "interval_all") \
    X(CANDIDATE, "candidate")
typedef enum {
#define DLC__RP(e, name) DLC_REORDER_##e,
    DLC_REORDER_POLICY_MAP(DLC__RP)
#undef DLC__RP
    DLC_REORDER_POLICY_COUNT
} dlc_reorder_policy_t;

/* Annotations; the numbers are TVM's _ann_to_number (the one-hot feature slot). */
#define DLC_KNOB_ANN_MAP(X)              \
    X(NONE, "none")                 \
    X(VEC, "vec")                   \
    X(UNROLL, "unroll")             \
    X(BLOCK_X, "blockIdx.x")        \
    X(BLOCK_Y, "blockIdx.y")        \
    X(BLOCK_Z, "blockIdx.z")        \
    X(THREAD_X, "threadIdx.x")      \
    X(THREAD_Y, "threadIdx.y")      \
    X(THREAD_Z, "threadIdx.z")      \
    X(VTHREAD, "vthread")           \
    X(FUSE, "fuse")
typedef enum {
#define DLC__KAN(e, name) DLC_KNOB_ANN_##e,
    DLC_KNOB_ANN_MAP(DLC__KAN)
#undef DLC__KAN
    DLC_KNOB_ANN_COUNT
} dlc_knob_ann_t;
const char *dlc_knob_ann_name(int ann); /* "unroll"; NULL if out of range */
int dlc_knob_ann_parse(const char *name); /* dlc_knob_ann_t, or -1 */

const char *dlc_split_policy_name(dlc_split_policy_t p);
int dlc_split_policy_parse(const char *name);   /* dlc_split_policy_t, or -1 */
const char *dlc_reorder_policy_name(dlc_reorder_policy_t p);
int dlc_reorder_policy_parse(const char *name); /* dlc_reorder_policy_t, or -1 */

/* ---- building a space ---- */

/* An empty space (size 1: the one empty config). NULL on out-of-memory. */
dlc_space_t *dlc_space_new(void);
/* Frees the space; *sp becomes NULL. Accepts NULL and is safe twice. */
void dlc_space_destroy(dlc_space_t **sp);

/* Every define_* returns 0, or DLC_EINVAL (bad arguments, a duplicate name, a
 * knob left with no entity, the space size overflowing int64) with a message.
 * Names are copied. A define that fails leaves the space unchanged. */

/* Split filter, as TVM's `filter=lambda x: ...` over a SplitEntity: `size` is
 * the entity (num_outputs values, size[0] == -1 meaning "the rest" for the
 * generated policies). Returns nonzero to keep the entity. */
typedef int (*dlc_split_filter_fn)(const int64_t *size, int num_outputs, void *user);

/* define_split(name, extent, policy, num_outputs, max_factor, filter): entities
 * are [-1, f1, ..., f_{n-1}] with f_{n-1} (innermost) varying slowest, as TVM's
 * DFS produces them; factors larger than max_factor are left out (max_factor <= 0:
 * no limit). policy must not be DLC_SPLIT_CANDIDATE (use _candidates). */
int dlc_space_define_split(dlc_space_t *sp, const char *name, int64_t extent, dlc_split_policy_t policy,
                           int num_outputs, int64_t max_factor, dlc_split_filter_fn filter, void *filter_user);
/* Candidate policy: `sizes` holds n_cand rows of num_outputs values (copied);
 * the filter (may be NULL) applies as for the other policies. */
int dlc_space_define_split_candidates(dlc_space_t *sp, const char *name, int64_t extent, int num_outputs,
                                      const int64_t *sizes, int n_cand, dlc_split_filter_fn filter,
                                      void *filter_user);

/* IDENTITY or ALL over n_axes axes (ALL: at most 20 axes; enumerated lazily). */
int dlc_space_define_reorder(dlc_space_t *sp, const char *name, int n_axes, dlc_reorder_policy_t policy);
/* INTERVAL_ALL: permutations of axes [begin, end), 0 <= begin < end <= n_axes. */
int dlc_space_define_reorder_interval(dlc_space_t *sp, const char *name, int n_axes, int begin, int end);
/* CANDIDATE: `perms` holds n_cand permutations of 0..n_axes-1 (axis positions,
 * what TVM computes with axes.index(x)); copied. */
int dlc_space_define_reorder_candidates(dlc_space_t *sp, const char *name, int n_axes, const int *perms,
                                        int n_cand);

/* define_annotate with TVM's policy strings: "unroll", "vec", "none",
 * "try_unroll", "try_vec", "try_unroll_vec" (and any "_"-joined list of
 * none/unroll/vec/try, "try" meaning "none": per-axis options in that order,
 * first axis varying slowest, entities with more than one "vec" left out);
 * "locate_cache" (every combination of num_anchor axis positions, entities are
 * lists of ints); "bind_gpu", "bind_gpu_virtual" (one entity). num_anchor is
 * used by locate_cache only. */
int dlc_space_define_annotate(dlc_space_t *sp, const char *name, int n_axes, const char *policy, int num_anchor);

/* define_knob (TVM's "other option"): the entity is the value itself.
 * `candidates` must be a non-empty JSON array (borrowed; deep-copied). */
int dlc_space_define_knob(dlc_space_t *sp, const char *name, const json_t *candidates);
int dlc_space_define_knob_int(dlc_space_t *sp, const char *name, const int64_t *vals, int n);
int dlc_space_define_knob_bool(dlc_space_t *sp, const char *name, const int *vals, int n);
int dlc_space_define_knob_string(dlc_space_t *sp, const char *name, const char *const *vals, int n);

/* ---- querying a space ---- */

/* Number of configs (the product of the knobs' entity counts). */
int64_t dlc_space_size(const dlc_space_t *sp);
int dlc_space_knob_count(const dlc_space_t *sp);
int dlc_space_knob_find(const dlc_space_t *sp, const char *name); /* knob position, or -1 */
const char *dlc_space_knob_name(const dlc_space_t *sp, int k);     /* owned by the space */
dlc_knob_kind_t dlc_space_knob_kind(const dlc_space_t *sp, int k);
int64_t dlc_space_knob_dim(const dlc_space_t *sp, int k);          /* its number of entities */
/* Entity i of knob k as TVM's JSON value ([-1, 8], [0, 2, 1], ["none", "vec"],
 * true): a new reference, or NULL if out of range. */
json_t *dlc_space_knob_entity_json(const dlc_space_t *sp, int k, int64_t i);

/* index <-> per-knob choices (TVM's point2knob / knob2point). `choice` has
 * dlc_space_knob_count() entries. DLC_EINVAL when out of range. */
int dlc_space_point2knob(const dlc_space_t *sp, int64_t index, int64_t *choice);
int dlc_space_knob2point(const dlc_space_t *sp, const int64_t *choice, int64_t *index);

/* The config at `index` (caller owns *out; destroy with dlc_config_destroy).
 * DLC_EINVAL when index is outside [0, size). */
int dlc_space_get(const dlc_space_t *sp, int64_t index, dlc_config_t **out);
/* The index of `cfg` in `sp`, matched by entity (cfg may come from another
 * space object with the same knobs). DLC_ENOTFOUND if it is not in sp. */
int dlc_space_index(const dlc_space_t *sp, const dlc_config_t *cfg, int64_t *index);

/* ---- sampling and neighbours ---- */

/* Draws indices uniformly without repeats: a seeded pseudo-random permutation
 * of [0, size) (a Feistel network with cycle walking), so it needs O(1)
 * memory for any size and yields every index exactly once. */
typedef struct dlc_space_sampler dlc_space_sampler_t;
dlc_space_sampler_t *dlc_space_sampler_new(const dlc_space_t *sp, uint64_t seed); /* borrows sp */
/* 0 and the next index, or DLC_ENOTFOUND once all size indices were drawn. */
int dlc_space_sampler_next(dlc_space_sampler_t *s, int64_t *index);
int64_t dlc_space_sampler_drawn(const dlc_space_sampler_t *s);
void dlc_space_sampler_destroy(dlc_space_sampler_t **s);

/* Neighbours: the configs that differ from `index` in exactly one knob's
 * choice (any other entity of that knob, not only the adjacent one: TVM's
 * random_walk moves this way). There are sum(dim_k - 1) of them; neighbour j
 * enumerates knob 0's other entities in order, then knob 1's, and so on. */
int64_t dlc_space_neighbor_count(const dlc_space_t *sp);
int dlc_space_neighbor(const dlc_space_t *sp, int64_t index, int64_t j, int64_t *out);
/* One neighbour drawn like TVM's random_walk (a uniform knob with more than
 * one entity, then a uniform other entity). *rng is a splitmix64 state,
 * advanced. DLC_ENOTFOUND when every knob has a single entity. */
int dlc_space_random_neighbor(const dlc_space_t *sp, int64_t index, uint64_t *rng, int64_t *out);
/* splitmix64: returns the next 64 random bits and advances *state. */
uint64_t dlc_space_rand64(uint64_t *state);

/* ---- features (for the knob cost model) ---- */

/* Length of the feature vector of any config of sp. */
int dlc_space_feature_len(const dlc_space_t *sp);
/* TVM's ConfigEntity.get_flatten_feature: knob by knob, split sizes (with the
 * -1 resolved to ceil(extent / product of the others), where TVM copies the
 * -1), reorder permutations, annotations one-hot over DLC_KNOB_ANN_COUNT slots per
 * axis (locate_cache: the axis positions), other options as numbers (bool 0/1,
 * int, real; strings and other JSON: the position among the candidates).
 * Writes min(cap, len) values and returns len. */
int dlc_config_features(const dlc_config_t *cfg, float *out, int cap);

/* ---- configs ---- */

void dlc_config_destroy(dlc_config_t **cfg); /* accepts NULL; *cfg becomes NULL */
dlc_config_t *dlc_config_clone(const dlc_config_t *cfg); /* caller owns; NULL on OOM */
const dlc_space_t *dlc_config_space(const dlc_config_t *cfg);
int64_t dlc_config_index(const dlc_config_t *cfg);
/* Choice (entity position) of knob k. */
int64_t dlc_config_choice(const dlc_config_t *cfg, int k);

/* Parses TVM entity JSON ([["tile_ic","sp",[1,3]], ["unroll_kw","ot",false]])
 * against sp: every knob of sp must appear once by name with its kind code,
 * and its value must be one of the knob's entities; the index is recomputed in
 * sp (it may differ from the index a record carries). Split values are
 * normalised: a first size that is -1 or the full outer extent (old records
 * write [14, 8] for [-1, 8]) both match. Returns DLC_EPARSE for JSON of the
 * wrong shape, DLC_ENOTFOUND when a value is not in the space; the message
 * names the knob. Caller owns *out. */
int dlc_config_from_entity_json(const dlc_space_t *sp, const json_t *entity, dlc_config_t **out);
/* The entity as TVM writes it (splits with -1 first): a new reference. */
json_t *dlc_config_to_entity_json(const dlc_config_t *cfg);
/* {"index": i, "code_hash": null, "entity": [...]}: a new reference. */
json_t *dlc_config_to_json(const dlc_config_t *cfg);

/* Accessors for templates; `name` is the knob name. Pointers are owned by the
 * config. NULL / DLC_ENOTFOUND when there is no such knob of that kind. */
/* Split sizes of the entity (size[0] may be -1: "the rest"); *n = num_outputs. */
const int64_t *dlc_config_split(const dlc_config_t *cfg, const char *name, int *n);
/* The same with size[0] resolved to ceil(extent / (size[1] * ... )), the outer
 * loop extent of TVM's SplitEntity.apply. out has num_outputs entries. */
int dlc_config_split_resolved(const dlc_config_t *cfg, const char *name, int64_t *out);
const int *dlc_config_reorder(const dlc_config_t *cfg, const char *name, int *n); /* axis positions */
/* dlc_knob_ann_t per axis; for locate_cache, the chosen axis positions. */
const int *dlc_config_annotate(const dlc_config_t *cfg, const char *name, int *n);
int dlc_config_knob_int(const dlc_config_t *cfg, const char *name, int64_t *out); /* int or bool */
int dlc_config_knob_bool(const dlc_config_t *cfg, const char *name, int *out);    /* bool or int */
int dlc_config_knob_string(const dlc_config_t *cfg, const char *name, const char **out);
const json_t *dlc_config_knob_json(const dlc_config_t *cfg, const char *name); /* borrowed */

/* ---- records: TVM tuning log lines ---- */

/* Error numbers of results: dlc_measure_error_t (support/dlc_support.h). */

/* Log layouts:
 *  v0.2: {"input": [target, task_name, args, kwargs],
 *         "config": {"index": i, "code_hash": h, "entity": [...]},
 *         "result": [costs, error_no, all_cost, timestamp],
 *         "version": 0.2, "tvm_version": "0.7.dev0"}
 *  v0.1: {"i": [target, task_name, args, kwargs, workload,
 *               {"i": index, "t": template_key, "c": code_hash, "e": [...]}],
 *         "r": [costs, error_no, all_cost, timestamp], "v": 0.1}
 * The layout is told by the keys ("input" or "i"). */
typedef struct {
    int layout;            /* 1: v0.1 keys, 2: v0.2 keys */
    int has_version;       /* the line carried "version" / "v" */
    double version;        /* its value (0.2, 0.1) */
    char *target;          /* "llvm -mcpu=skylake-avx512" */
    char *task_name;       /* "conv2d_NCHWc.x86" */
    json_t *args;          /* the task arguments, exactly as read (owned) */
    json_t *kwargs;        /* owned; usually {} */
    json_t *workload;      /* v0.1 only (owned), else NULL */
    int64_t index;         /* config index in the writer's space */
    char *code_hash;       /* NULL for JSON null */
    char *template_key;    /* v0.1 "t" ("direct"); NULL for null or in v0.2 */
    json_t *entity;        /* the entity list as read (owned) */
    double *costs;         /* seconds; 1e9 for failed measurements, as TVM writes */
    int n_costs;
    int error_no;          /* dlc_measure_error_t */
    double all_cost;       /* seconds spent on the measurement */
    double timestamp;      /* seconds since the epoch */
    char *tvm_version;     /* NULL when absent */
} dlc_record_t;

void dlc_record_init(dlc_record_t *r);   /* all empty; layout 2 */
void dlc_record_clear(dlc_record_t *r);  /* frees the fields; r is re-initialised */
int dlc_record_copy(dlc_record_t *dst, const dlc_record_t *src); /* dst initialised or cleared first */
/* Sets index and entity from cfg (the entity as TVM writes it). */
int dlc_record_set_config(dlc_record_t *r, const dlc_config_t *cfg);

/* Parses one log line (no newline needed; len bytes, NUL bytes make it
 * malformed). 0, or DLC_EPARSE with the reason; *out is left initialised and
 * empty on error. Strict: every field must be present with its type. */
int dlc_record_parse(const char *line, size_t len, dlc_record_t *out);
/* Appends the record as one line (no newline) in the text Python's json.dumps
 * writes for TVM (", " and ": " separators, floats as Python's repr, ASCII
 * escapes), so a TopHub line read and written comes back byte for byte.
 * DLC_EINVAL for a record that cannot be written (missing fields, non-finite
 * numbers). */
int dlc_record_format(const dlc_record_t *r, dlc_strbuf_t *out);
/* dlc_record_format plus "\n" to f; DLC_EIO on a write error. */
int dlc_record_write(FILE *f, const dlc_record_t *r);
/* Field-by-field equality (JSON values with json_equal, numbers exactly). */
int dlc_record_equal(const dlc_record_t *a, const dlc_record_t *b);

/* Reading a log: blank lines and lines starting with '#' are skipped; a
 * malformed line is reported as "file:line: reason" (to on_error, or to the
 * log at WARN when on_error is NULL), counted, and skipped. on_record gets a
 * record valid during the call only (dlc_record_copy to keep it) and its
 * 1-based line number; a nonzero return stops the read and is returned. */
typedef struct {
    int (*on_record)(const dlc_record_t *rec, int64_t line, void *user);
    void (*on_error)(const char *file, int64_t line, const char *reason, void *user);
    void *user;
    int64_t records, malformed, comments, blank; /* counts, set by the read */
} dlc_record_reader_t;
/* 0, the on_record value that stopped the read, or DLC_EIO if the file cannot be read. */
int dlc_record_read_file(const char *path, dlc_record_reader_t *rd);
/* The same over a buffer; `name` is used in messages. */
int dlc_record_read_buffer(const char *name, const char *data, size_t len, dlc_record_reader_t *rd);

/* JSON text as Python's json.dumps writes it (used by dlc_record_format):
 * appends v to out. DLC_EINVAL for non-finite reals. */
int dlc_json_dump_python(const json_t *v, dlc_strbuf_t *out);

#ifdef __cplusplus
}
#endif
#endif
