/* build_impl.h — what the parts of dlc-build share (private to deploy/):
 * the parsed options, usage errors, and the three modes besides a single
 * build: --list-templates, --config parsing for --template, and --replay. */
#ifndef DLC_BUILD_IMPL_H
#define DLC_BUILD_IMPL_H

#include "compiler-core/dlc_module.h"
#include "schedule-templates/dlc_space.h"
#include "schedule-templates/dlc_templates.h"

enum { DLC__EXIT_KERNEL = 1, DLC__EXIT_USAGE = 2 };

typedef struct {
    const char *op_text;         /* --op */
    const char *target_text;     /* --target ("llvm" unless given) */
    int target_given;
    const char *out_path;        /* -o, or NULL */
    const char *template_name;   /* --template */
    const char *db_text;         /* --db PATH_OR_URL: apply the best tuned config */
    int no_tophub;               /* --no-tophub: no TopHub fallback for --db */
    const char *config_text;     /* --config: entity JSON, config object or index */
    const char *replay_path;     /* --replay LOG */
    const char *target_override; /* --target-override (replay) */
    const char *task_filter;     /* --task NAME (replay) */
    const char *tracker, *key;   /* --tracker HOST:PORT --key KEY: --run on the fleet */
    int64_t limit;               /* --limit N (replay): known records at most; 0 = all */
    int list_templates, verify;
    int run, json, print_ir, print_c, verbose;
    int repeat_given, min_repeat_given;
    dlc_measure_opts_t mo;
} dlc__build_opts_t;

/* One line naming the problem on stderr (and, with json, {"error": ...,
 * "exit_code": 2} on stdout). Returns DLC__EXIT_USAGE. */
int dlc__build_usage_error(int json, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints j as one line on stdout; consumes the reference. */
void dlc__build_print_json(json_t *j);
/* A real, or null for NaN/inf (JSON has no such numbers). */
json_t *dlc__build_json_finite(double v);

/* --list-templates; returns the exit code. */
int dlc__build_list_templates(const dlc__build_opts_t *o);

/* Parses --config (NULL: index 0) against sp into *out (caller owns). On
 * failure returns DLC_EINVAL / DLC_ENOTFOUND / DLC_EPARSE with the reason in
 * dlc_last_error() (naming the knob). *given_index is the index a config
 * object carried (-1 if none). */
int dlc__build_config_parse(const dlc_space_t *sp, const char *text, dlc_config_t **out, int64_t *given_index);

/* --run through dlc-tracker on a dlc-rpc-server of o->key (build_remote.c):
 * 0 with *mr filled as dlc_measure would (max_abs_err is not reported by the
 * device), or a negative code when the fleet gave no result. */
int dlc__build_measure_remote(const dlc__build_opts_t *o, const dlc_target_t *tgt, const char *so_path,
                              const char *entry, dlc_measure_result_t *mr);

/* --replay; returns the exit code. */
int dlc__build_replay(const dlc__build_opts_t *o);

#endif
