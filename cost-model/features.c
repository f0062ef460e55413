/* features.c — the feature kinds, their lengths, and the features of one
 * config of a task (instantiate, lower, extract in a private context). */
#include <string.h>

#include "cost-model/costmodel_impl.h"

static const char *const kind_names[] = {"itervar", "knob"};
_Static_assert(sizeof kind_names / sizeof *kind_names == DLC_FEATURE_KIND_COUNT, "kind_names");

const char *dlc_feature_kind_name(dlc_feature_kind_t k) {
    return (unsigned)k < DLC_FEATURE_KIND_COUNT ? kind_names[k] : "?";
}

int dlc_feature_kind_parse(const char *name) {
    for (int i = 0; name && i < DLC_FEATURE_KIND_COUNT; i++)
        if (strcmp(name, kind_names[i]) == 0)
            return i;
    return -1;
}

int dlc_feature_len(dlc_feature_kind_t kind, const dlc_space_t *sp) {
    if (kind == DLC_FEATURE_ITERVAR)
        return DLC_FEATURE_ITERVAR_LEN;
    if (kind == DLC_FEATURE_KNOB && sp)
        return dlc_space_feature_len(sp);
    return dlc_error(DLC_EINVAL, "feature length: kind %d%s", (int)kind, sp ? "" : " without a space");
}

int dlc_feature_config(const dlc_task_t *task, const dlc_config_t *cfg, dlc_feature_kind_t kind, float *out) {
    const dlc_space_t *sp = dlc_task_space(task);
    int len = dlc_feature_len(kind, sp);
    if (len < 0)
        return len;
    memset(out, 0, (size_t)len * sizeof *out);
    if (dlc_config_space(cfg) != sp && dlc_space_feature_len(dlc_config_space(cfg)) != dlc_space_feature_len(sp))
        return dlc_error(DLC_EINVAL, "features: the config is not of the task's space");
    if (kind == DLC_FEATURE_KNOB) {
        dlc_config_features(cfg, out, len);
        return 0;
    }
    int rc;
    dlc_op_t op;
    dlc_schedule_t *s = NULL;
    dlc_lowered_func_t *f = NULL;
    dlc_ctx_t *ctx = dlc_ctx_new();
    if (!ctx)
        return dlc_error(DLC_ENOMEM, "out of memory");
    if ((rc = dlc_task_instantiate(task, cfg, ctx, &op, &s)) < 0)
        goto cleanup;
    if ((rc = dlc_lower(s, "f", op.n_args, op.args, op.n_outputs, &f)) < 0)
        goto cleanup;
    rc = dlc_feature_itervar(f, out);
cleanup:
    if (rc < 0)
        memset(out, 0, (size_t)len * sizeof *out);
    dlc_ctx_destroy(&ctx);
    return rc;
}
