/* tensor.c — placeholder and compute tensors. */
#include <string.h>
#include "compiler-core/core_impl.h"

static dlc_tensor_t *tensor_new(dlc_ctx_t *ctx, const char *name, int ndim, const int64_t *shape, dlc_dtype_t dt) {
    if (ndim < 0 || ndim > DLC_MAX_DIMS) {
        dlc_error(DLC_EINVAL, "tensor '%s': %d dimensions (at most %d)", name, ndim, DLC_MAX_DIMS);
        return NULL;
    }
    for (int i = 0; i < ndim; i++)
        if (shape[i] <= 0) {
            dlc_error(DLC_EINVAL, "tensor '%s': dimension %d has extent %lld", name, i, (long long)shape[i]);
            return NULL;
        }
    dlc_tensor_t *t = dlc_arena_alloc(ctx->arena, sizeof *t);
    t->name = dlc_arena_strdup(ctx->arena, name);
    t->ndim = ndim;
    memcpy(t->shape, shape, sizeof(int64_t) * (size_t)ndim);
    t->dtype = dt;
    t->id = ctx->next_tensor_id++;
    return t;
}

dlc_tensor_t *dlc_te_placeholder(dlc_ctx_t *ctx, const char *name, int ndim, const int64_t *shape, dlc_dtype_t dtype) {
    dlc_tensor_t *t = tensor_new(ctx, name, ndim, shape, dtype);
    if (t) t->op = DLC_OP_PLACEHOLDER;
    return t;
}

static const char *axis_names[] = {"i", "j", "k", "l", "m", "n", "o", "p"};

dlc_tensor_t *dlc_te_compute(dlc_ctx_t *ctx, const char *name, int ndim, const int64_t *shape, dlc_compute_fn fn,
                             void *user) {
    if (ndim < 0 || ndim > DLC_MAX_DIMS) {
        dlc_error(DLC_EINVAL, "compute '%s': %d dimensions", name, ndim);
        return NULL;
    }
    dlc_iter_var_t *axes[DLC_MAX_DIMS];
    dlc_expr_t *idx[DLC_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        axes[i] = dlc_te_axis(ctx, axis_names[i], shape[i]);
        idx[i] = axes[i]->var;
    }
    dlc_expr_t *body = fn(ctx, idx, user);
    if (!body) {
        dlc_error(DLC_EINVAL, "compute '%s': the body function returned NULL", name);
        return NULL;
    }
    return dlc_te_compute_body(ctx, name, ndim, shape, axes, body);
}

dlc_tensor_t *dlc_te_compute_body(dlc_ctx_t *ctx, const char *name, int ndim, const int64_t *shape,
                                  dlc_iter_var_t *const *axes, dlc_expr_t *body) {
    if (!body) {
        dlc_error(DLC_EINVAL, "compute '%s': no body", name);
        return NULL;
    }
    dlc_tensor_t *t = tensor_new(ctx, name, ndim, shape, body->dtype);
    if (!t) return NULL;
    t->op = DLC_OP_COMPUTE;
    for (int i = 0; i < ndim; i++) {
        if (axes[i]->extent != shape[i]) {
            dlc_error(DLC_EINVAL, "compute '%s': axis %d has extent %lld, shape says %lld", name, i,
                      (long long)axes[i]->extent, (long long)shape[i]);
            return NULL;
        }
        t->axis[i] = axes[i];
    }
    t->body = body;
    return t;
}

int64_t dlc_tensor_size(const dlc_tensor_t *t) {
    int64_t n = 1;
    for (int i = 0; i < t->ndim; i++) n *= t->shape[i];
    return n;
}
