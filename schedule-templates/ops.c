/* ops.c — the --op SPEC grammar, building an operator's tensors, FLOP counts
 * and default CPU schedules. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "schedule-templates/dlc_templates.h"

static const struct {
    const char *name;
    int min_params, max_params;
    int has_out_dtype; /* TVM's compute takes an out_dtype */
    const char *grammar;
} ops[] = {
#define X(e, n, lo, hi, od, g) {n, lo, hi, od, g},
    DLC_OP_MAP(X)
#undef X
};
_Static_assert(sizeof ops / sizeof ops[0] == DLC_OPK_COUNT, "op table");

const char *dlc_op_name(dlc_opk_t k) { return (unsigned)k < DLC_OPK_COUNT ? ops[k].name : "?"; }

void dlc_op_grammar(dlc_strbuf_t *out) {
    for (int i = 0; i < DLC_OPK_COUNT; i++)
        dlc_strbuf_printf(out, "  %s:%s%s\n", ops[i].name, ops[i].grammar,
                          ops[i].has_out_dtype ? "[:dtype[:out_dtype]]" : "[:dtype]");
}

int dlc_op_parse(const char *spec, dlc_op_spec_t *out) {
    memset(out, 0, sizeof *out);
    out->dtype = out->out_dtype = DLC_FLOAT32;
    if (!spec || !*spec) return dlc_error(DLC_EINVAL, "empty op spec (expected e.g. dense:64,64,64)");
    if (strlen(spec) >= sizeof out->text) return dlc_error(DLC_EINVAL, "op spec too long");
    strcpy(out->text, spec);
    char buf[128];
    strcpy(buf, spec);
    char *colon = strchr(buf, ':');
    if (!colon) return dlc_error(DLC_EINVAL, "op spec '%s': expected NAME:PARAMS, e.g. dense:64,64,64", spec);
    *colon = 0;
    int k = -1;
    for (int i = 0; i < DLC_OPK_COUNT; i++)
        if (strcmp(buf, ops[i].name) == 0) k = i;
    if (k < 0) {
        dlc_strbuf_t names;
        dlc_strbuf_init(&names);
        for (int i = 0; i < DLC_OPK_COUNT; i++) dlc_strbuf_printf(&names, "%s%s", i ? ", " : "", ops[i].name);
        int rc = dlc_error(DLC_EINVAL, "unknown operator '%s' (known: %s)", buf, names.data);
        dlc_strbuf_free(&names);
        return rc;
    }
    out->kind = (dlc_opk_t)k;
    char *params = colon + 1;
    char *dt = strchr(params, ':');
    if (dt) {
        *dt++ = 0;
        char *odt = strchr(dt, ':');
        if (odt) *odt++ = 0;
        if (dlc_dtype_parse(dt, &out->dtype) < 0) return dlc_error(DLC_EINVAL, "op spec '%s': %s", spec, dlc_last_error());
        out->out_dtype = out->dtype; /* relay's default */
        if (odt && dlc_dtype_parse(odt, &out->out_dtype) < 0)
            return dlc_error(DLC_EINVAL, "op spec '%s': out_dtype: %s", spec, dlc_last_error());
        if (out->out_dtype != out->dtype && !ops[k].has_out_dtype)
            return dlc_error(DLC_EINVAL, "op spec '%s': %s has no out_dtype (its output has the input dtype)", spec,
                             ops[k].name);
    }
    char *save = NULL;
    for (char *tok = strtok_r(params, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (out->kind == DLC_OPK_POOL2D && out->n == 8) {
            if (strcmp(tok, "max") == 0) out->pool_max = 1;
            else if (strcmp(tok, "avg") == 0) out->pool_max = 0;
            else return dlc_error(DLC_EINVAL, "op spec '%s': pool type '%s' must be max or avg", spec, tok);
            out->n++;
            continue;
        }
        if (out->n == 12) return dlc_error(DLC_EINVAL, "op spec '%s': too many parameters", spec);
        char *end;
        errno = 0;
        long long v = strtoll(tok, &end, 10);
        if (*tok == 0 || *end || errno)
            return dlc_error(DLC_EINVAL, "op spec '%s': parameter %d '%s' is not an integer (%s:%s)", spec, out->n + 1,
                             tok, ops[k].name, ops[k].grammar);
        out->p[out->n++] = v;
    }
    int need_lo = ops[k].min_params, need_hi = ops[k].max_params;
    int got = out->n - (out->kind == DLC_OPK_POOL2D && out->n == 9);
    if (out->kind == DLC_OPK_POOL2D) {
        if (out->n != 9)
            return dlc_error(DLC_EINVAL, "op spec '%s': %s takes %s", spec, ops[k].name, ops[k].grammar);
        got = 8;
    }
    if (got < need_lo || got > need_hi)
        return dlc_error(DLC_EINVAL, "op spec '%s': %s takes %d parameters (%s), got %d", spec, ops[k].name, need_lo,
                         ops[k].grammar, got);
    for (int i = 0; i < got; i++) {
        /* pad may be 0; everything else positive */
        /* (conv2d_transpose's output_padding too) */
        int is_pad = (out->kind == DLC_OPK_CONV2D || out->kind == DLC_OPK_CONV2D_NCHWC) ? i == 8
                     : out->kind == DLC_OPK_CONV2D_TRANSPOSE ? i == 8 || i == 9
                     : (out->kind == DLC_OPK_DEPTHWISE_CONV2D || out->kind == DLC_OPK_POOL2D) ? i == 7 : 0;
        if (out->p[i] < (is_pad ? 0 : 1) || out->p[i] > (1 << 20))
            return dlc_error(DLC_EINVAL, "op spec '%s': parameter %d is %lld (must be %s and at most 2^20)", spec, i + 1,
                             (long long)out->p[i], is_pad ? ">= 0" : ">= 1");
    }
    if (out->kind == DLC_OPK_CONV2D_TRANSPOSE && out->n == 10 && out->p[9] >= out->p[7])
        return dlc_error(DLC_EINVAL, "op spec '%s': output_padding must be below the stride", spec);
    if (out->kind == DLC_OPK_CONV2D_NCHWC && (out->p[1] % out->p[9] || out->p[4] % out->p[10]))
        return dlc_error(DLC_EINVAL, "op spec '%s': ic_bn must divide C and oc_bn must divide K", spec);
    return 0;
}

static dlc_tensor_t *ph(dlc_ctx_t *ctx, const char *name, int nd, const int64_t *shape, dlc_dtype_t dt) {
    return dlc_te_placeholder(ctx, name, nd, shape, dt);
}

int dlc_op_build(dlc_ctx_t *ctx, const dlc_op_spec_t *s, dlc_op_t *op) {
    memset(op, 0, sizeof *op);
    const int64_t *p = s->p;
    dlc_dtype_t dt = s->dtype;
    dlc_tensor_t *out = NULL;
    dlc_conv_params_t cp;
    dlc_strbuf_t nm;
    dlc_strbuf_init(&nm);
    dlc_strbuf_append(&nm, ops[s->kind].name);
    int np = s->kind == DLC_OPK_POOL2D ? 8 : s->n; /* pool2d's 9th parameter is its type */
    for (int i = 0; i < np && i < 12; i++) dlc_strbuf_printf(&nm, "_%lld", (long long)p[i]);
    if (s->kind == DLC_OPK_POOL2D) dlc_strbuf_append(&nm, s->pool_max ? "_max" : "_avg");
    if (dt != DLC_FLOAT32) dlc_strbuf_printf(&nm, "_%s", dlc_dtype_name(dt));
    if (s->out_dtype != dt) dlc_strbuf_printf(&nm, "_%s", dlc_dtype_name(s->out_dtype));
    op->name = dlc_arena_strdup(dlc_ctx_arena(ctx), nm.data);
    dlc_strbuf_free(&nm);
    switch (s->kind) {
    case DLC_OPK_DENSE:
        op->args[0] = ph(ctx, "data", 2, (int64_t[]){p[0], p[2]}, dt);
        op->args[1] = ph(ctx, "weight", 2, (int64_t[]){p[1], p[2]}, dt);
        out = dlc_topi_dense(ctx, op->args[0], op->args[1], s->out_dtype);
        op->n_args = 2;
        op->flops = 2.0 * p[0] * p[1] * p[2];
        break;
    case DLC_OPK_BATCH_MATMUL:
        op->args[0] = ph(ctx, "A", 3, (int64_t[]){p[0], p[1], p[3]}, dt);
        op->args[1] = ph(ctx, "B", 3, (int64_t[]){p[0], p[2], p[3]}, dt);
        out = dlc_topi_batch_matmul(ctx, op->args[0], op->args[1], s->out_dtype);
        op->n_args = 2;
        op->flops = 2.0 * p[0] * p[1] * p[2] * p[3];
        break;
    case DLC_OPK_CONV2D:
        op->args[0] = ph(ctx, "data", 4, (int64_t[]){p[0], p[1], p[2], p[3]}, dt);
        op->args[1] = ph(ctx, "kernel", 4, (int64_t[]){p[4], p[1], p[5], p[6]}, dt);
        cp = dlc_conv_params(p[7], p[8], s->n > 9 ? p[9] : 1);
        out = dlc_topi_conv2d(ctx, op->args[0], op->args[1], &cp, s->out_dtype);
        op->n_args = 2;
        if (out) op->flops = 2.0 * dlc_tensor_size(out) * p[1] * p[5] * p[6];
        break;
    case DLC_OPK_CONV2D_NCHWC: {
        int64_t icb = p[9], ocb = p[10];
        op->args[0] = ph(ctx, "data", 5, (int64_t[]){p[0], p[1] / icb, p[2], p[3], icb}, dt);
        op->args[1] = ph(ctx, "kernel", 6, (int64_t[]){p[4] / ocb, p[1] / icb, p[5], p[6], icb, ocb}, dt);
        cp = dlc_conv_params(p[7], p[8], 1);
        out = dlc_topi_conv2d_NCHWc(ctx, op->args[0], op->args[1], &cp, s->out_dtype);
        op->n_args = 2;
        if (out) op->flops = 2.0 * dlc_tensor_size(out) * p[1] * p[5] * p[6];
        break;
    }
    case DLC_OPK_DEPTHWISE_CONV2D:
        op->args[0] = ph(ctx, "data", 4, (int64_t[]){p[0], p[1], p[2], p[3]}, dt);
        op->args[1] = ph(ctx, "kernel", 4, (int64_t[]){p[1], 1, p[4], p[5]}, dt);
        cp = dlc_conv_params(p[6], p[7], s->n > 8 ? p[8] : 1);
        out = dlc_topi_depthwise_conv2d(ctx, op->args[0], op->args[1], &cp, s->out_dtype);
        op->n_args = 2;
        if (out) op->flops = 2.0 * dlc_tensor_size(out) * p[4] * p[5];
        break;
    case DLC_OPK_CONV2D_TRANSPOSE:
        op->args[0] = ph(ctx, "data", 4, (int64_t[]){p[0], p[1], p[2], p[3]}, dt);
        op->args[1] = ph(ctx, "kernel", 4, (int64_t[]){p[1], p[4], p[5], p[6]}, dt);
        cp = dlc_conv_params(p[7], p[8], 1);
        out = dlc_topi_conv2d_transpose(ctx, op->args[0], op->args[1], &cp,
                                        (int64_t[]){s->n > 9 ? p[9] : 0, s->n > 9 ? p[9] : 0}, s->out_dtype);
        op->n_args = 2;
        if (out) op->flops = 2.0 * dlc_tensor_size(out) * p[1] * p[5] * p[6];
        break;
    case DLC_OPK_POOL2D:
        op->args[0] = ph(ctx, "data", 4, (int64_t[]){p[0], p[1], p[2], p[3]}, dt);
        out = dlc_topi_pool2d(ctx, op->args[0], p[4], p[5], p[6], p[7], s->pool_max);
        op->n_args = 1;
        if (out) op->flops = (double)dlc_tensor_size(out) * p[4] * p[5];
        break;
    case DLC_OPK_SOFTMAX:
        op->args[0] = ph(ctx, "x", 2, (int64_t[]){p[0], p[1]}, dt);
        out = dlc_topi_softmax(ctx, op->args[0]);
        op->n_args = 1;
        op->flops = 5.0 * p[0] * p[1];
        break;
    case DLC_OPK_RELU:
        op->args[0] = ph(ctx, "x", 1, (int64_t[]){p[0]}, dt);
        out = dlc_topi_relu(ctx, op->args[0]);
        op->n_args = 1;
        op->flops = (double)p[0];
        break;
    case DLC_OPK_BIAS_RELU:
        op->args[0] = ph(ctx, "x", 2, (int64_t[]){p[0], p[1]}, dt);
        op->args[1] = ph(ctx, "bias", 1, (int64_t[]){p[1]}, dt);
        out = dlc_topi_relu(ctx, dlc_topi_bias_add(ctx, op->args[0], op->args[1]));
        op->n_args = 2;
        op->flops = 2.0 * p[0] * p[1];
        break;
    default: return dlc_error(DLC_EINVAL, "op kind %d", (int)s->kind);
    }
    for (int i = 0; i < op->n_args; i++)
        if (!op->args[i]) return dlc_last_status() ? dlc_last_status() : DLC_EINVAL;
    if (!out) return dlc_last_status() ? dlc_last_status() : DLC_EINVAL;
    op->out = out;
    op->args[op->n_args++] = out;
    op->n_outputs = 1;
    return 0;
}
