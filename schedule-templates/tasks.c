/* tasks.c — the template registry and tasks: TVM args parsed into a
 * workload, the config space built once, and instantiation of a config. */
#include <string.h>
#include "templates_impl.h"

/* In the order candidates are offered: per operator, TVM's plevel order;
 * dlc's tiled conv2d and dense first (their spaces hold the
 * register tiles TVM's cannot express), then TVM's; within the "cpu" key,
 * dlc's generic ones last. dlc-build --db picks among the candidates by
 * their best records. */
static const dlc_template_t *const registry[] = {
    /* x86 */
    /* dlc's NCHWc conv ahead of TVM's: its register tiles fit AVX2 (see README) */
    &dlc__tmpl_conv2d_tiled_x86, &dlc__tmpl_conv2d_NCHWc_x86, &dlc__tmpl_depthwise_NCHWc_x86,
    &dlc__tmpl_conv2d_transpose_x86,
    /* arm_cpu */
    &dlc__tmpl_spatial_pack_arm, &dlc__tmpl_winograd_arm, &dlc__tmpl_depthwise_arm, &dlc__tmpl_conv2d_transpose_arm,
    /* cpu: dlc's dense, ahead of TVM's (its space holds the register tiles
     * theirs cannot express; 1.07x OpenBLAS on dense 1024^3, see README) */
    &dlc__tmpl_dense_tiled,
    /* cpu: TVM's x86 dense templates, which its strategy gives every CPU */
    &dlc__tmpl_dense_pack_x86, &dlc__tmpl_dense_nopack_x86, &dlc__tmpl_batch_matmul_x86,
    /* cpu: dlc's generic templates, one for every operator */
    &dlc__tmpl_dense_generic, &dlc__tmpl_batch_matmul_generic, &dlc__tmpl_conv2d_generic,
    &dlc__tmpl_conv2d_nchwc_generic, &dlc__tmpl_depthwise_generic, &dlc__tmpl_conv2d_transpose_generic,
    &dlc__tmpl_pool2d_generic, &dlc__tmpl_softmax_generic, &dlc__tmpl_relu_generic, &dlc__tmpl_bias_relu_generic,
    NULL,
};

const dlc_template_t *const *dlc_template_list(void) { return registry; }

const dlc_template_t *dlc_template_find(const char *name) {
    for (int i = 0; registry[i]; i++)
        if (name && strcmp(registry[i]->name, name) == 0) return registry[i];
    return NULL;
}

static int has_key(const dlc_target_t *t, const char *key) {
    for (int i = 0; i < t->n_keys; i++)
        if (strcmp(t->keys[i], key) == 0) return 1;
    return 0;
}

int dlc_template_matches(const dlc_template_t *tp, const dlc_target_t *t) {
    if (t->kind != DLC_TARGET_LLVM) return 0;
    if (strcmp(tp->key, "arm_cpu") == 0) return has_key(t, "arm_cpu");
    if (strcmp(tp->key, "x86") == 0) return t->arch == DLC_ARCH_X86_64 && !has_key(t, "arm_cpu");
    return 1; /* generic cpu */
}

int dlc_template_candidates(dlc_opk_t op, const dlc_target_t *t, const dlc_template_t **out, int cap) {
    int n = 0;
    /* target-specific templates first, generic ones last */
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; registry[i] && n < cap; i++) {
            const dlc_template_t *tp = registry[i];
            int generic = strcmp(tp->key, "cpu") == 0;
            if (tp->op == op && generic == pass && dlc_template_matches(tp, t)) out[n++] = tp;
        }
    return n;
}

/* ---- argument helpers ---- */
int dlc__arg_tensor(const json_t *v, const char *what, int64_t *shape, int *ndim, dlc_dtype_t *dtype) {
    const json_t *sh = json_array_get(v, 1), *dt = json_array_get(v, 2);
    if (!json_is_array(v) || json_array_size(v) != 3 || !json_is_string(json_array_get(v, 0)) ||
        strcmp(json_string_value(json_array_get(v, 0)), "TENSOR") != 0 || !json_is_array(sh) || !json_is_string(dt))
        return dlc_error(DLC_EINVAL, "%s: expected [\"TENSOR\", [shape], \"dtype\"]", what);
    size_t n = json_array_size(sh);
    if (n == 0 || n > DLC_MAX_DIMS) return dlc_error(DLC_EINVAL, "%s: %zu dimensions", what, n);
    for (size_t i = 0; i < n; i++) {
        const json_t *d = json_array_get(sh, i);
        if (!json_is_integer(d) || json_integer_value(d) <= 0 || json_integer_value(d) > (1 << 24))
            return dlc_error(DLC_EINVAL, "%s: dimension %zu is not a positive integer", what, i);
        shape[i] = json_integer_value(d);
    }
    *ndim = (int)n;
    if (dlc_dtype_parse(json_string_value(dt), dtype) < 0) return dlc_error(DLC_EINVAL, "%s: %s", what, dlc_last_error());
    return 0;
}

int dlc__arg_ints(const json_t *v, const char *what, int want, int64_t *out) {
    int64_t vals[4];
    int n = 0;
    if (json_is_integer(v)) vals[n++] = json_integer_value(v);
    else if (json_is_array(v) && json_array_size(v) >= 1 && json_array_size(v) <= 4) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (!json_is_integer(json_array_get(v, i))) return dlc_error(DLC_EINVAL, "%s: expected integers", what);
            vals[n++] = json_integer_value(json_array_get(v, i));
        }
    } else {
        return dlc_error(DLC_EINVAL, "%s: expected an integer or a list of integers", what);
    }
    for (int i = 0; i < n; i++)
        if (vals[i] < 0 || vals[i] > (1 << 20)) return dlc_error(DLC_EINVAL, "%s: value %lld out of range", what, (long long)vals[i]);
    if (want == 2) {
        if (n == 1) out[0] = out[1] = vals[0];
        else if (n == 2) out[0] = vals[0], out[1] = vals[1];
        else return dlc_error(DLC_EINVAL, "%s: expected 1 or 2 values", what);
    } else { /* 4: TVM's get_pad_tuple: (top, left, bottom, right) */
        if (n == 1) out[0] = out[1] = out[2] = out[3] = vals[0];
        else if (n == 2) out[0] = out[2] = vals[0], out[1] = out[3] = vals[1];
        else if (n == 4) memcpy(out, vals, sizeof vals);
        else return dlc_error(DLC_EINVAL, "%s: expected 1, 2 or 4 values", what);
    }
    return 0;
}

json_t *dlc__tensor_json(const int64_t *shape, int ndim, dlc_dtype_t dt) {
    json_t *sh = json_array();
    for (int i = 0; i < ndim; i++) json_array_append_new(sh, json_integer(shape[i]));
    return json_pack("[s, o, s]", "TENSOR", sh, dlc_dtype_name(dt));
}

int dlc__parse_conv_args(const json_t *args, int i_stride, int i_pad, int i_dil, dlc_workload_t *w) {
    if (!json_is_array(args) || (int)json_array_size(args) <= (i_dil > i_pad ? i_dil : i_pad))
        return dlc_error(DLC_EINVAL, "args: expected [data, kernel, strides, padding, ...]");
    int rc;
    if ((rc = dlc__arg_tensor(json_array_get(args, 0), "data", w->data, &w->data_ndim, &w->dtype)) < 0) return rc;
    dlc_dtype_t kdt;
    if ((rc = dlc__arg_tensor(json_array_get(args, 1), "kernel", w->kernel, &w->kernel_ndim, &kdt)) < 0) return rc;
    int64_t st[2], pad[4], dil[2] = {1, 1};
    if ((rc = dlc__arg_ints(json_array_get(args, i_stride), "strides", 2, st)) < 0) return rc;
    if ((rc = dlc__arg_ints(json_array_get(args, i_pad), "padding", 4, pad)) < 0) return rc;
    if (i_dil >= 0 && (rc = dlc__arg_ints(json_array_get(args, i_dil), "dilation", 2, dil)) < 0) return rc;
    if (st[0] == 0 || st[1] == 0 || dil[0] == 0 || dil[1] == 0)
        return dlc_error(DLC_EINVAL, "args: strides and dilation must be positive");
    w->conv = (dlc_conv_params_t){st[0], st[1], pad[0], pad[1], pad[2], pad[3], dil[0], dil[1]};
    w->out_dtype = w->dtype;
    return 0;
}

int dlc__split(const dlc_config_t *cfg, const char *name, int64_t *sizes, int n) {
    int got = 0;
    if (!dlc_config_split(cfg, name, &got) || got != n)
        return dlc_error(DLC_EINSTANTIATE, "config has no %d-way split '%s'", n, name);
    return dlc_config_split_resolved(cfg, name, sizes) < 0 ? dlc_error(DLC_EINSTANTIATE, "split '%s'", name) : 0;
}

int dlc__apply_split(dlc_stage_t *st, dlc_iter_var_t *iv, const int64_t *sizes, int n, dlc_iter_var_t **out) {
    /* as TVM's SplitEntity.apply: split off the innermost factors one by one */
    dlc_iter_var_t *rest = iv;
    for (int i = n - 1; i >= 1; i--) {
        dlc_iter_var_t *o, *in;
        int rc = dlc_stage_split(st, rest, sizes[i], &o, &in);
        if (rc < 0) return rc;
        out[i] = in;
        rest = o;
    }
    out[0] = rest;
    return 0;
}

/* ---- tasks ---- */
static double workload_flops(const dlc_workload_t *w) {
    int64_t oh, ow;
    const int64_t *d = w->data, *k = w->kernel;
    switch (w->op) {
    case DLC_OPK_CONV2D: case DLC_OPK_CONV2D_NCHWC: case DLC_OPK_DEPTHWISE_CONV2D: case DLC_OPK_CONV2D_TRANSPOSE:
    case DLC_OPK_POOL2D:
        if (dlc__out_hw(w, &oh, &ow) < 0) return 0;
        break;
    default: break;
    }
    switch (w->op) {
    case DLC_OPK_CONV2D: return 2.0 * d[0] * k[0] * oh * ow * k[1] * k[2] * k[3];
    case DLC_OPK_CONV2D_NCHWC: return 2.0 * d[0] * k[0] * k[5] * oh * ow * d[1] * d[4] * k[2] * k[3];
    case DLC_OPK_DEPTHWISE_CONV2D: return 2.0 * d[0] * d[1] * k[1] * oh * ow * k[2] * k[3];
    case DLC_OPK_CONV2D_TRANSPOSE: return 2.0 * d[0] * k[1] * oh * ow * k[0] * k[2] * k[3];
    case DLC_OPK_POOL2D: return (double)d[0] * d[1] * oh * ow * w->pool[0] * w->pool[1];
    case DLC_OPK_DENSE: return 2.0 * d[0] * k[0] * d[1];
    case DLC_OPK_BATCH_MATMUL: return 2.0 * d[0] * d[1] * k[1] * d[2];
    case DLC_OPK_SOFTMAX: return 5.0 * d[0] * d[1];
    case DLC_OPK_RELU: return (double)d[0];
    case DLC_OPK_BIAS_RELU: return 2.0 * d[0] * d[1];
    default: return 0; /* set when instantiated */
    }
}

int dlc_task_create(const char *name, const json_t *args, const dlc_target_t *target, dlc_task_t **out) {
    *out = NULL;
    const dlc_template_t *tp = dlc_template_find(name);
    if (!tp) return dlc_error(DLC_ENOTFOUND, "no template named '%s' (dlc-build --list-templates shows them)", name ? name : "");
    dlc_task_t *t = calloc(1, sizeof *t);
    if (!t) return dlc_error(DLC_ENOMEM, "out of memory");
    t->tmpl = tp;
    t->target = *target;
    t->args = json_deep_copy(args);
    t->w.op = tp->op;
    int rc = tp->parse_args(args, &t->w);
    if (rc < 0) {
        rc = dlc_error(DLC_EINVAL, "%s: %s", name, dlc_last_error());
        goto fail;
    }
    t->space = dlc_space_new();
    if (!t->space) {
        rc = dlc_error(DLC_ENOMEM, "out of memory");
        goto fail;
    }
    t->flops = workload_flops(&t->w);
    if ((rc = tp->define_space(t, t->space)) < 0) {
        rc = dlc_error(rc, "%s: config space: %s", name, dlc_last_error());
        goto fail;
    }
    *out = t;
    return 0;
fail:
    dlc_task_destroy(&t);
    return rc;
}

int dlc_task_from_spec(const dlc_op_spec_t *spec, const char *name, const dlc_target_t *target, dlc_task_t **out) {
    const dlc_template_t *tp;
    if (name) {
        tp = dlc_template_find(name);
        if (!tp) return dlc_error(DLC_ENOTFOUND, "no template named '%s'", name);
        if (tp->op != spec->kind)
            return dlc_error(DLC_EINVAL, "template %s implements %s, not %s", name, dlc_op_name(tp->op),
                             dlc_op_name(spec->kind));
    } else if (dlc_template_candidates(spec->kind, target, &tp, 1) < 1) {
        return dlc_error(DLC_ENOTFOUND, "no template for %s on target '%s'", dlc_op_name(spec->kind), target->str);
    }
    if (!tp->args_from_spec) return dlc_error(DLC_EUNSUPPORTED, "template %s cannot take an --op spec", tp->name);
    json_t *args = tp->args_from_spec(spec);
    if (!args) return dlc_error(DLC_EINVAL, "template %s: cannot express '%s'", tp->name, spec->text);
    int rc = dlc_task_create(tp->name, args, target, out);
    json_decref(args);
    return rc;
}

int dlc_task_candidates(const dlc_op_spec_t *spec, const char *template_name, const dlc_target_t *target,
                        int without_fallbacks, dlc_task_t **out, int cap) {
    if (template_name) {
        int rc = dlc_task_from_spec(spec, template_name, target, out);
        return rc < 0 ? rc : 1;
    }
    const dlc_template_t *tps[32];
    int nc = dlc_template_candidates(spec->kind, target, tps, 32), n = 0, rc = 0;
    for (int k = 0; k < nc && n < cap; k++) {
        if (without_fallbacks && strstr(tps[k]->name, ".generic") && !(k == 0 && nc == 1)) continue;
        rc = dlc_task_from_spec(spec, tps[k]->name, target, &out[n]);
        if (rc < 0 && n == 0) return rc; /* the default must serve; the others may not */
        if (rc == 0) n++;
    }
    if (n == 0)
        return dlc_error(DLC_ENOTFOUND, "no template for %s on target '%s'", dlc_op_name(spec->kind), target->str);
    return n;
}

void dlc_task_destroy(dlc_task_t **task) {
    if (!task || !*task) return;
    dlc_space_destroy(&(*task)->space);
    json_decref((*task)->args);
    free(*task);
    *task = NULL;
}

const dlc_template_t *dlc_task_template(const dlc_task_t *t) { return t->tmpl; }
const dlc_workload_t *dlc_task_workload(const dlc_task_t *t) { return &t->w; }
const dlc_target_t *dlc_task_target(const dlc_task_t *t) { return &t->target; }
const json_t *dlc_task_args(const dlc_task_t *t) { return t->args; }
dlc_space_t *dlc_task_space(const dlc_task_t *t) { return t->space; }
double dlc_task_flops(const dlc_task_t *t) { return t->flops; }

int dlc_task_instantiate(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op,
                         dlc_schedule_t **s) {
    *s = NULL;
    if (dlc_config_space(cfg) != t->space) return dlc_error(DLC_EINVAL, "config belongs to another space");
    int rc = t->tmpl->instantiate(t, cfg, ctx, op, s);
    if (rc < 0) return rc;
    if (!*s) return dlc_error(DLC_EINSTANTIATE, "%s: no schedule", t->tmpl->name);
    if (t->flops == 0) ((dlc_task_t *)t)->flops = op->flops;
    return 0;
}
