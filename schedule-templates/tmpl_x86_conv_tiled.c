/* tmpl_x86_conv_tiled.c — conv2d_tiled.x86, dlc's own NCHWc convolution.
 *
 * Same layouts as TVM's conv2d_NCHWc.x86 (data NCHW[ic]c, kernel
 * OIHW[ic][oc], output NCHW[oc]c, all packed as during tuning), but the
 * register tile is searched directly: TVM's tile_ow takes only divisors of
 * the output width (14 gives 1, 2, 7, 14, so a 128→256 stride-2 layer has no
 * tile that both fills and fits the 16 AVX2 registers). Here:
 *
 *   knob tile       [oh_r, ow_r, oc_bn]: an oh_r×ow_r×oc_bn accumulator tile,
 *                   oc_bn a multiple of the vector lanes dividing the output
 *                   channels, ow_r and oh_r any size (tails compute whole
 *                   tiles over an output extended to whole tiles and padded
 *                   input; only the real part is stored)
 *   knob tile_ic    ic_bn, the input channel block (divisors)
 *   knob unroll_kw  kw unrolled inside the ic block loop, or the ic block
 *                   innermost
 *
 * Loops: (n, oc chunk, oh tile) fused and parallel, ow tiles, then the
 * reduction (ic chunk, kh, kw, ic block) around the unrolled tile. */
#include <string.h>
#include "templates_impl.h"

static void out_hw(const dlc_workload_t *w, int64_t *oh, int64_t *ow) {
    dlc_conv_out_hw(&w->conv, w->data[2], w->data[3], w->kernel[2], w->kernel[3], oh, ow);
}

static int space_tiled(const dlc_task_t *t, dlc_space_t *sp) {
    const dlc_workload_t *w = &t->w;
    int64_t oh, ow, OC = w->kernel[0], L = dlc__vector_lanes(t);
    out_hw(w, &oh, &ow);
    int regs = dlc__vector_regs(&t->target);
    /* oc_bn: multiples of the lanes dividing OC (else divisors of OC up to 4 lanes) */
    int64_t ocb[8];
    int n_ocb = 0;
    for (int64_t v = 1; v <= 4 && n_ocb < 8; v++)
        if (OC % (v * L) == 0) ocb[n_ocb++] = v * L;
    if (!n_ocb)
        for (int64_t b = 1; b <= 4 * L && b <= OC && n_ocb < 8; b++)
            if (OC % b == 0 && (b == OC || b >= L / 2)) ocb[n_ocb++] = b;
    json_t *tiles = json_array();
    for (int64_t hr = 1; hr <= 4 && hr <= oh; hr++)
        for (int64_t wr = 1; wr <= 16 && wr <= ow; wr++)
            for (int i = 0; i < n_ocb; i++) {
                int64_t v = (ocb[i] + L - 1) / L, acc = hr * wr * v;
                /* the accumulators and a broadcast must fit (FMAs can take the
                 * kernel vectors from memory); a tile that would still fit
                 * doubled leaves the FMA units waiting on their latency
                 * (unless it is the whole output) */
                if (acc + 2 > regs || (acc * 2 + 2 <= regs && (hr < oh || wr < ow))) continue;
                json_array_append_new(tiles, json_pack("[I, I, I]", (json_int_t)hr, (json_int_t)wr, (json_int_t)ocb[i]));
            }
    if (json_array_size(tiles) == 0) /* tiny outputs: the whole output per tile */
        json_array_append_new(tiles, json_pack("[I, I, I]", (json_int_t)oh, (json_int_t)ow, (json_int_t)ocb[0]));
    int rc = dlc_space_define_knob(sp, "tile", tiles);
    json_decref(tiles);
    TRY(rc);
    TRY(dlc_space_define_split(sp, "tile_ic", w->data[1], DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    static const int tf[] = {1, 0};
    return dlc_space_define_knob_bool(sp, "unroll_kw", tf, w->kernel[3] > 1 ? 2 : 1);
}

static dlc_expr_t *copy_c(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    return dlc_read(c, (dlc_tensor_t *)u, (dlc_expr_t *[]){i[0], i[1], i[2], i[3], i[4]});
}

static int inst_tiled(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op,
                      dlc_schedule_t **out) {
    const dlc_workload_t *w = &t->w;
    const json_t *tile = dlc_config_knob_json(cfg, "tile");
    if (!json_is_array(tile) || json_array_size(tile) != 3)
        return dlc_error(DLC_EINSTANTIATE, "conv2d_tiled: knob tile must be [oh_r, ow_r, oc_bn]");
    int64_t hr = json_integer_value(json_array_get(tile, 0)), wr = json_integer_value(json_array_get(tile, 1));
    int64_t ocb = json_integer_value(json_array_get(tile, 2)), ic[2];
    int unroll_kw = 0;
    TRY(dlc__split(cfg, "tile_ic", ic, 2));
    TRY(dlc_config_knob_bool(cfg, "unroll_kw", &unroll_kw) < 0 ? DLC_EINSTANTIATE : 0);
    int64_t icb = ic[1], IC = w->data[1], OC = w->kernel[0], oh, ow;
    out_hw(w, &oh, &ow);
    if (hr < 1 || wr < 1 || ocb < 1 || IC % icb || OC % ocb)
        return dlc_error(DLC_EINSTANTIATE, "conv2d_tiled: tile [%lld, %lld, %lld] / tile_ic %lld do not fit", (long long)hr,
                         (long long)wr, (long long)ocb, (long long)icb);
    int64_t ohx = (oh + hr - 1) / hr * hr, owx = (ow + wr - 1) / wr * wr;
    memset(op, 0, sizeof *op);
    dlc_tensor_t *data =
        dlc_te_placeholder(ctx, "data", 5, (int64_t[]){w->data[0], IC / icb, w->data[2], w->data[3], icb}, w->dtype);
    dlc_tensor_t *kernel = dlc_te_placeholder(
        ctx, "kernel", 6, (int64_t[]){OC / ocb, IC / icb, w->kernel[2], w->kernel[3], icb, ocb}, w->dtype);
    dlc_tensor_t *P = dlc_topi_conv2d_NCHWc_ext(ctx, data, kernel, &w->conv, w->out_dtype, ohx, owx);
    dlc_tensor_t *C = P ? dlc_te_compute(ctx, "conv2d_NCHWc", 5, (int64_t[]){w->data[0], OC / ocb, oh, ow, ocb}, copy_c, P)
                        : NULL;
    if (!C) return dlc_last_status();
    *op = (dlc_op_t){3, 1, {data, kernel, C}, C,
                     2.0 * (double)dlc_tensor_size(C) * (double)(IC * w->kernel[2] * w->kernel[3]), "conv2d_NCHWc"};
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &C);
    if (!s) return dlc_last_status();
    dlc_stage_t *sc = dlc_sched_stage(s, C), *sp = dlc_sched_stage(s, P);
    TRY(dlc_stage_set_scope(sp, DLC_SCOPE_LOCAL));
    dlc_iter_var_t *oho, *ohi, *owo, *owi, *f0, *par;
    TRY(dlc_stage_split(sc, dlc_stage_axis(sc, 2), hr, &oho, &ohi));
    TRY(dlc_stage_split(sc, dlc_stage_axis(sc, 3), wr, &owo, &owi));
    TRY(dlc_stage_reorder(sc, 7, (dlc_iter_var_t *[]){dlc_stage_axis(sc, 0), dlc_stage_axis(sc, 1), oho, owo, ohi, owi,
                                                        dlc_stage_axis(sc, 4)}));
    TRY(dlc_stage_fuse(sc, dlc_stage_axis(sc, 0), dlc_stage_axis(sc, 1), &f0));
    TRY(dlc_stage_fuse(sc, f0, oho, &par));
    TRY(dlc_stage_parallel(sc, par));
    TRY(dlc_stage_vectorize(sc, dlc_stage_axis(sc, 4)));
    TRY(dlc_stage_compute_at(sp, sc, owo));
    /* the pad stage, if any: the whole padded input up front, vectorised on
     * ic_block, parallel over (n, ic chunk, row). (Computed per parallel
     * iteration instead, its rows are copied once per oc chunk and per
     * overlapping row: 1.5x slower on 64→64 3×3 at 56.) */
    for (int i = 0; i < dlc_sched_num_stages(s); i++) {
        dlc_stage_t *ps = dlc_sched_stage_at(s, i);
        if (ps == sc || ps == sp) continue;
        dlc_iter_var_t *p0, *p1;
        TRY(dlc_stage_vectorize(ps, dlc_stage_axis(ps, 4)));
        TRY(dlc_stage_fuse(ps, dlc_stage_axis(ps, 0), dlc_stage_axis(ps, 1), &p0));
        TRY(dlc_stage_fuse(ps, p0, dlc_stage_axis(ps, 2), &p1));
        TRY(dlc_stage_parallel(ps, p1));
    }
    dlc_iter_var_t *ric = dlc_stage_reduce_axis(sp, 0), *rkh = dlc_stage_reduce_axis(sp, 1),
                   *rkw = dlc_stage_reduce_axis(sp, 2), *ic_chunk, *ic_block;
    dlc_iter_var_t *ph = dlc_stage_axis(sp, 2), *pw = dlc_stage_axis(sp, 3), *pc = dlc_stage_axis(sp, 4);
    TRY(dlc_stage_split(sp, ric, icb, &ic_chunk, &ic_block));
    dlc_iter_var_t *order[7] = {ic_chunk, rkh, unroll_kw ? ic_block : rkw, unroll_kw ? rkw : ic_block, ph, pw, pc};
    TRY(dlc__register_tile(sp, 7, order, 3, (dlc_iter_var_t *[]){unroll_kw ? rkw : NULL, ph, pw}));
    *out = s;
    return 0;
}

/* args and their parser are conv2d_NCHWc.x86's (TVM's conv2d args) */
const dlc_template_t dlc__tmpl_conv2d_tiled_x86 = {
    "conv2d_tiled.x86", "x86", DLC_OPK_CONV2D, dlc__parse_conv_x86, dlc__conv_x86_args, space_tiled, inst_tiled,
};
