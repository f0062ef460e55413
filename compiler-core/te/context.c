/* context.c — the arena that owns every expression, tensor, schedule and IR
 * node of one compilation, plus the dtype table. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "compiler-core/core_impl.h"

dlc_ctx_t *dlc_ctx_new(void) {
    dlc_arena_t *a = dlc_arena_new(0);
    if (!a) return NULL;
    dlc_ctx_t *ctx = dlc_arena_alloc(a, sizeof *ctx);
    ctx->arena = a;
    return ctx;
}

void dlc_ctx_destroy(dlc_ctx_t **ctx) {
    if (!ctx || !*ctx) return;
    dlc_arena_t *a = (*ctx)->arena;
    dlc_arena_destroy(&a);
    *ctx = NULL;
}

dlc_arena_t *dlc_ctx_arena(dlc_ctx_t *ctx) { return ctx->arena; }

static const struct {
    const char *name, *ctype;
    int bytes;
    uint8_t code, bits;
} dtypes[] = {
#define X(e, n, c, b, dc, db) {n, c, b, dc, db},
    DLC_DTYPE_MAP(X)
#undef X
};
_Static_assert(sizeof dtypes / sizeof dtypes[0] == DLC_DTYPE_COUNT, "dtype table");

const char *dlc_dtype_name(dlc_dtype_t t) { return (unsigned)t < DLC_DTYPE_COUNT ? dtypes[t].name : "?"; }
const char *dlc_dtype_ctype(dlc_dtype_t t) { return (unsigned)t < DLC_DTYPE_COUNT ? dtypes[t].ctype : "?"; }
int dlc_dtype_bytes(dlc_dtype_t t) { return (unsigned)t < DLC_DTYPE_COUNT ? dtypes[t].bytes : 0; }
int dlc_dtype_is_float(dlc_dtype_t t) { return t == DLC_FLOAT32 || t == DLC_FLOAT16; }

int dlc_dtype_parse(const char *name, dlc_dtype_t *out) {
    for (int i = 0; i < DLC_DTYPE_COUNT; i++)
        if (name && strcmp(name, dtypes[i].name) == 0) {
            *out = (dlc_dtype_t)i;
            return 0;
        }
    return dlc_error(DLC_EINVAL, "unknown dtype '%s' (float32, float16, int8, uint8, int16, int32, int64)",
                     name ? name : "(null)");
}

void dlc_dtype_dlpack(dlc_dtype_t t, uint8_t *code, uint8_t *bits) {
    *code = dtypes[t].code;
    *bits = dtypes[t].bits;
}

dlc_iter_var_t *dlc__iv_new(dlc_ctx_t *ctx, const char *name, int64_t extent, dlc_iv_kind_t kind) {
    dlc_iter_var_t *iv = dlc_arena_alloc(ctx->arena, sizeof *iv);
    iv->var = dlc_var(ctx, name);
    iv->extent = extent;
    iv->kind = kind;
    return iv;
}

dlc_iter_var_t *dlc_te_axis(dlc_ctx_t *ctx, const char *name, int64_t extent) {
    return dlc__iv_new(ctx, name, extent, DLC_IV_DATA);
}

dlc_iter_var_t *dlc_te_reduce_axis(dlc_ctx_t *ctx, const char *name, int64_t extent) {
    return dlc__iv_new(ctx, name, extent, DLC_IV_REDUCE);
}

dlc_buffer_t *dlc__buffer_new(dlc_ctx_t *ctx, const char *name, dlc_dtype_t dtype, int64_t size, dlc_scope_t scope) {
    dlc_buffer_t *b = dlc_arena_alloc(ctx->arena, sizeof *b);
    b->name = dlc_arena_strdup(ctx->arena, name);
    b->dtype = dtype;
    b->size = size;
    b->scope = scope;
    b->arg_index = -1;
    b->id = ctx->next_buffer_id++;
    return b;
}
