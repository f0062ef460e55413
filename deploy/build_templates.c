/* build_templates.c — dlc-build --list-templates (the template registry as a
 * target and an operator see it) and the parsing of --config. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "build_impl.h"

#define MAX_TEMPLATES 128

/* {"name": "tile_ic", "kind": "sp", "dim": 7} for every knob: a new reference. */
static json_t *knobs_json(const dlc_space_t *sp) {
    json_t *a = json_array();
    for (int k = 0; k < dlc_space_knob_count(sp); k++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:I}", "name", dlc_space_knob_name(sp, k), "kind",
                                           dlc_knob_kind_code(dlc_space_knob_kind(sp, k)), "dim",
                                           (json_int_t)dlc_space_knob_dim(sp, k)));
    return a;
}

/* One template as JSON; with a spec, its task's space (or why there is none). */
static json_t *template_json(const dlc_template_t *tp, const dlc_op_spec_t *spec, const dlc_target_t *tgt) {
    json_t *t = json_pack("{s:s, s:s, s:s}", "name", tp->name, "key", tp->key, "op", dlc_op_name(tp->op));
    if (!spec)
        return t;
    dlc_task_t *task = NULL;
    if (dlc_task_from_spec(spec, tp->name, tgt, &task) < 0) {
        json_object_set_new(t, "error", json_string(dlc_last_error()));
        return t;
    }
    const dlc_space_t *sp = dlc_task_space(task);
    json_object_set_new(t, "space_size", json_integer(dlc_space_size(sp)));
    json_object_set_new(t, "knobs", knobs_json(sp));
    dlc_task_destroy(&task);
    return t;
}

static void print_template(const json_t *t, int with_space) {
    printf("  %-36s %-8s %-*s", json_string_value(json_object_get(t, "name")),
           json_string_value(json_object_get(t, "key")), with_space ? 18 : 0,
           json_string_value(json_object_get(t, "op")));
    if (with_space) {
        const json_t *err = json_object_get(t, "error"), *knobs = json_object_get(t, "knobs");
        if (err) {
            printf(" -   (%s)", json_string_value(err));
        } else {
            printf(" %-10lld", (long long)json_integer_value(json_object_get(t, "space_size")));
            size_t i;
            const json_t *k;
            json_array_foreach(knobs, i, k) {
                printf("%s%s %lld", i ? " x " : " ", json_string_value(json_object_get(k, "name")),
                       (long long)json_integer_value(json_object_get(k, "dim")));
            }
        }
    }
    printf("\n");
}

int dlc__build_list_templates(const dlc__build_opts_t *o) {
    dlc_target_t tgt;
    int have_target = o->target_given || o->op_text;
    if (have_target && dlc_target_parse(o->target_text, &tgt) < 0)
        return dlc__build_usage_error(o->json, "bad --target '%s': %s", o->target_text, dlc_last_error());
    dlc_op_spec_t spec;
    if (o->op_text && dlc_op_parse(o->op_text, &spec) < 0)
        return dlc__build_usage_error(o->json, "bad --op '%s': %s", o->op_text, dlc_last_error());

    const dlc_template_t *list[MAX_TEMPLATES];
    int n = 0;
    if (o->op_text) { /* the candidates, best first */
        n = dlc_template_candidates(spec.kind, &tgt, list, MAX_TEMPLATES);
    } else {
        const dlc_template_t *const *all = dlc_template_list();
        for (int i = 0; all[i] && n < MAX_TEMPLATES; i++)
            if (!have_target || dlc_template_matches(all[i], &tgt))
                list[n++] = all[i];
    }
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, template_json(list[i], o->op_text ? &spec : NULL, &tgt));

    if (o->json) {
        json_t *j = json_object();
        json_object_set_new(j, "target", have_target ? json_string(tgt.str) : json_null());
        json_object_set_new(j, "op", o->op_text ? json_string(spec.text) : json_null());
        json_object_set_new(j, "templates", arr);
        dlc__build_print_json(j);
        return 0;
    }
    const char *end = n ? ":" : ".";
    if (o->op_text)
        printf("%d candidate template%s for %s on %s%s\n", n, n == 1 ? "" : "s", spec.text, tgt.str,
               n ? ", best first:" : ".");
    else if (have_target)
        printf("%d registered template%s serve%s %s%s\n", n, n == 1 ? "" : "s", n == 1 ? "s" : "", tgt.str, end);
    else
        printf("%d registered template%s%s\n", n, n == 1 ? "" : "s", end);
    if (n > 0) {
        printf("  %-36s %-8s %s\n", "name", "key", o->op_text ? "op                 space      knobs (entities)" : "op");
        for (int i = 0; i < n; i++)
            print_template(json_array_get(arr, i), o->op_text != NULL);
    } else if (o->op_text) {
        printf("  none: dlc-build --op %s without --template uses the default schedule\n", spec.text);
    }
    json_decref(arr);
    return 0;
}

int dlc__build_config_parse(const dlc_space_t *sp, const char *text, dlc_config_t **out, int64_t *given_index) {
    *out = NULL;
    *given_index = -1;
    if (text == NULL) /* the documented default: the first config of the space */
        return dlc_space_get(sp, 0, out);
    const char *p = text;
    while (*p == ' ' || *p == '\t')
        p++;
    if ((*p >= '0' && *p <= '9') || *p == '-') { /* an index */
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        while (*end == ' ' || *end == '\t' || *end == '\n')
            end++;
        if (errno || *end != '\0' || v < 0 || v >= dlc_space_size(sp))
            return dlc_error(DLC_EINVAL, "'%s' is not an index in [0, %lld)", text, (long long)dlc_space_size(sp));
        return dlc_space_get(sp, v, out);
    }
    json_t *j = dlc_json_parse(text, strlen(text));
    if (j == NULL)
        return dlc_error(DLC_EPARSE, "not an index, an entity list or a config object: %s", dlc_last_error());
    const json_t *entity = j;
    int rc = 0;
    if (json_is_object(j)) { /* {"index": i, "code_hash": .., "entity": [...]} as in a log's "config" */
        entity = json_object_get(j, "entity");
        const json_t *idx = json_object_get(j, "index");
        if (!entity)
            rc = dlc_error(DLC_EPARSE, "config object without \"entity\"");
        else if (idx && !json_is_integer(idx))
            rc = dlc_error(DLC_EPARSE, "config object: \"index\" is not an integer");
        else if (idx)
            *given_index = json_integer_value(idx);
    }
    if (rc == 0)
        rc = dlc_config_from_entity_json(sp, entity, out);
    json_decref(j);
    return rc;
}
