/* tmpl_dense_tiled.c — dense_tiled.cpu, dlc's own dense template for CPUs.
 *
 * TVM's dense_pack.x86 takes its register tile from factor splits, so for
 * 1024 only power-of-two tiles exist (8×32, 16×16 ...), none of which fits
 * the 16 AVX2 registers as well as 6×16 or 4×24 does. This template searches
 * the micro-kernel shape directly, tails allowed, and blocks rows so a
 * weight panel is reused from L2 across a block:
 *
 *   knob tile    [mr, nr]: register tile, nr a multiple of the vector lanes,
 *                mr·nr/lanes accumulators within the register file
 *   knob unroll_k  k unroll of the micro-kernel (divisors of K up to 8)
 *   knob block_y   mr-tiles per row block (the panel's reuse in L2)
 *   knob order     "yx": row blocks outermost, "xy": weight panels outermost
 *
 * The weight is taken pre-packed as [ceil(N/nr), K, nr], zero-padded, as TVM
 * measures dense_pack (a constant weight is packed once at build time);
 * loops: fused outer pair (parallel), block row tiles, then the k loop of an
 * mr×nr accumulator tile (ki, rows unrolled, nr vectorised). */
#include <string.h>
#include "templates_impl.h"

static int space_tiled(const dlc_task_t *t, dlc_space_t *sp) {
    const dlc_workload_t *w = &t->w;
    int64_t M = w->data[0], K = w->data[1], N = w->kernel[0], L = dlc__vector_lanes(t);
    int regs = dlc__vector_regs(&t->target);
    json_t *tiles = json_array();
    for (int64_t mr = 1; mr <= 12 && mr <= M; mr++)
        for (int64_t v = 1; v <= 8; v++) {
            int64_t nr = v * L, acc = mr * v;
            if (v > 1 && nr >= N + L) break; /* wider than N needs */
            /* one row needs no weight registers: its FMAs take the weight
             * vectors from memory */
            if (acc + 1 + (mr > 1 ? v : 0) > regs || v == 5 || v == 7) continue;
            json_array_append_new(tiles, json_pack("[I, I]", (json_int_t)mr, (json_int_t)nr));
        }
    int rc = dlc_space_define_knob(sp, "tile", tiles);
    json_decref(tiles);
    TRY(rc);
    int64_t ku[4];
    int nk = 0;
    for (int64_t u = 1; u <= 8; u *= 2)
        if (K % u == 0) ku[nk++] = u;
    TRY(dlc_space_define_knob_int(sp, "unroll_k", ku, nk));
    int64_t by[6];
    int nb = 0;
    for (int64_t b = 1; b <= 32 && (b == 1 || b <= M); b *= 2) by[nb++] = b;
    TRY(dlc_space_define_knob_int(sp, "block_y", by, nb));
    static const char *const orders[] = {"yx", "xy"};
    return dlc_space_define_knob_string(sp, "order", orders, 2);
}

typedef struct {
    dlc_tensor_t *a, *b;
    int64_t nr;
    dlc_dtype_t od;
} dt_t;

static dlc_expr_t *tiled_c(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dt_t *d = u;
    dlc_iter_var_t *k = dlc_te_reduce_axis(c, "k", d->a->shape[1]);
    dlc_expr_t *nr = dlc_int(c, d->nr);
    dlc_expr_t *b = dlc_read3(c, d->b, dlc_div(c, i[1], nr), k->var, dlc_mod(c, i[1], nr));
    return dlc_sum(c, dlc_topi_mul_out(c, d->od, dlc_read2(c, d->a, i[0], k->var), b), 1, &k);
}

static dlc_expr_t *copy_c(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    return dlc_read2(c, (dlc_tensor_t *)u, i[0], i[1]);
}

static int inst_tiled(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op,
                      dlc_schedule_t **out) {
    const dlc_workload_t *w = &t->w;
    const json_t *tile = dlc_config_knob_json(cfg, "tile");
    int64_t ku, by;
    const char *order;
    if (!json_is_array(tile) || json_array_size(tile) != 2)
        return dlc_error(DLC_EINSTANTIATE, "dense_tiled: knob tile must be [mr, nr]");
    int64_t mr = json_integer_value(json_array_get(tile, 0)), nr = json_integer_value(json_array_get(tile, 1));
    TRY(dlc_config_knob_int(cfg, "unroll_k", &ku));
    TRY(dlc_config_knob_int(cfg, "block_y", &by));
    TRY(dlc_config_knob_string(cfg, "order", &order));
    int64_t M = w->data[0], K = w->data[1], N = w->kernel[0];
    if (mr < 1 || nr < 1 || ku < 1 || by < 1 || K % ku)
        return dlc_error(DLC_EINSTANTIATE, "dense_tiled: bad tile %lldx%lld, unroll_k %lld or block_y %lld",
                         (long long)mr, (long long)nr, (long long)ku, (long long)by);
    int64_t tiles_y = (M + mr - 1) / mr;
    if (by > tiles_y) by = tiles_y;
    memset(op, 0, sizeof *op);
    dlc_tensor_t *A = dlc_te_placeholder(ctx, "data", 2, (int64_t[]){M, K}, w->dtype);
    dlc_tensor_t *B = dlc_te_placeholder(ctx, "packed_weight", 3, (int64_t[]){(N + nr - 1) / nr, K, nr}, w->dtype);
    dt_t d = {A, B, nr, w->out_dtype};
    /* the accumulator tile is computed over N padded to whole panels: a tile
     * clamped into [0, N) would start mid-panel and turn the packed weight's
     * vector loads into gathers */
    dlc_tensor_t *P = dlc_te_compute(ctx, "dense_tiled_acc", 2, (int64_t[]){M, (N + nr - 1) / nr * nr}, tiled_c, &d);
    dlc_tensor_t *C = P ? dlc_te_compute(ctx, "dense_tiled", 2, (int64_t[]){M, N}, copy_c, P) : NULL;
    if (!C) return dlc_last_status();
    *op = (dlc_op_t){3, 1, {A, B, C}, C, 2.0 * M * N * K, "dense_tiled"};
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &C);
    if (!s) return dlc_last_status();
    dlc_stage_t *sc = dlc_sched_stage(s, C), *sl = dlc_sched_stage(s, P);
    TRY(dlc_stage_set_scope(sl, DLC_SCOPE_LOCAL));
    dlc_iter_var_t *mo, *mi, *no, *ni, *mb, *mt, *outer;
    TRY(dlc_stage_split(sc, dlc_stage_axis(sc, 0), mr, &mo, &mi));
    TRY(dlc_stage_split(sc, dlc_stage_axis(sc, 1), nr, &no, &ni));
    TRY(dlc_stage_split(sc, mo, by, &mb, &mt));
    int yx = strcmp(order, "xy") != 0;
    TRY(dlc_stage_reorder(sc, 5, (dlc_iter_var_t *[]){yx ? mb : no, yx ? no : mb, mt, mi, ni}));
    TRY(dlc_stage_fuse(sc, yx ? mb : no, yx ? no : mb, &outer));
    TRY(dlc_stage_parallel(sc, outer));
    TRY(dlc_stage_unroll(sc, mi));
    TRY(dlc_stage_vectorize(sc, ni));
    TRY(dlc_stage_compute_at(sl, sc, mt));
    dlc_iter_var_t *ko, *ki, *ly = dlc_stage_axis(sl, 0), *lx = dlc_stage_axis(sl, 1);
    TRY(dlc_stage_split(sl, dlc_stage_reduce_axis(sl, 0), ku, &ko, &ki));
    TRY(dlc__register_tile(sl, 4, (dlc_iter_var_t *[]){ko, ki, ly, lx}, 2, (dlc_iter_var_t *[]){ki, ly}));
    *out = s;
    return 0;
}

const dlc_template_t dlc__tmpl_dense_tiled = {
    "dense_tiled.cpu", "cpu", DLC_OPK_DENSE, dlc__parse_dense, dlc__dense_args, space_tiled, inst_tiled,
};
