/* build_impl.h — what the parts of dlc-build share (private to deploy/):
 * the parsed options, usage errors, --list-templates and the parsing of
 * --config for --template. */
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
    const char *config_text;     /* --config: entity JSON, config object or index */
    int list_templates;
    int run, json, print_ir, print_c, verbose;
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

#endif
