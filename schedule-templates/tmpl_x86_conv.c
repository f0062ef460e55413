/* tmpl_x86_conv.c — conv2d_NCHWc.x86: TVM's x86 convolution template. Data
 * and kernel come packed (NCHW[ic]c, OIHW[ic][oc]) as during tuning, the
 * output is NCHW[oc]c; knobs as TopHub's llvm_v0.04.log (tvm 0.7.dev0). */
#include <string.h>
#include "templates_impl.h"

int dlc__parse_conv_x86(const json_t *args, dlc_workload_t *w) {
    TRY(dlc__parse_conv_args(args, 2, 3, 4, w));
    if (w->data_ndim != 4 || w->kernel_ndim != 4) return dlc_error(DLC_EINVAL, "expected NCHW data and OIHW kernel");
    if (w->kernel[1] != w->data[1])
        return dlc_error(DLC_EINVAL, "kernel has %lld input channels, data %lld", (long long)w->kernel[1],
                         (long long)w->data[1]);
    size_t n = json_array_size(args);
    if (n >= 8 && json_is_string(json_array_get(args, 7)) &&
        dlc_dtype_parse(json_string_value(json_array_get(args, 7)), &w->out_dtype) < 0)
        return dlc_error(DLC_EINVAL, "out_dtype: %s", dlc_last_error());
    int64_t oh, ow;
    return dlc_conv_out_hw(&w->conv, w->data[2], w->data[3], w->kernel[2], w->kernel[3], &oh, &ow);
}

json_t *dlc__conv_x86_args(const dlc_op_spec_t *s) {
    if (s->kind != DLC_OPK_CONV2D) return NULL;
    const int64_t *p = s->p;
    int64_t d = s->n > 9 ? p[9] : 1;
    return json_pack("[o, o, [I, I], [I, I, I, I], [I, I], s, s, s]",
                     dlc__tensor_json((int64_t[]){p[0], p[1], p[2], p[3]}, 4, s->dtype),
                     dlc__tensor_json((int64_t[]){p[4], p[1], p[5], p[6]}, 4, s->dtype), p[7], p[7], p[8], p[8], p[8],
                     p[8], d, d, "NCHW", "NCHW", dlc_dtype_name(s->out_dtype));
}

static int inner_le_64(const int64_t *size, int n, void *user) { return size[n - 1] <= 64; }

static void out_hw(const dlc_workload_t *w, int64_t *oh, int64_t *ow) {
    dlc_conv_out_hw(&w->conv, w->data[2], w->data[3], w->kernel[2], w->kernel[3], oh, ow);
}

/* tile_ic, tile_oc, tile_ow (inner <= 64), then tile_oh for 1x1 kernels or unroll_kw */
int dlc__space_conv_nchwc(dlc_space_t *sp, int64_t ic, int64_t oc, int64_t oh, int64_t ow, int64_t kh, int64_t kw) {
    TRY(dlc_space_define_split(sp, "tile_ic", ic, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    TRY(dlc_space_define_split(sp, "tile_oc", oc, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL));
    TRY(dlc_space_define_split(sp, "tile_ow", ow, DLC_SPLIT_FACTORS, 2, 0, inner_le_64, NULL));
    if (kh == 1 && kw == 1) {
        static const int64_t both[] = {1, 2};
        TRY(dlc_space_define_knob_int(sp, "tile_oh", both, oh > 1 ? 2 : 1));
    } else {
        static const int tf[] = {1, 0};
        TRY(dlc_space_define_knob_bool(sp, "unroll_kw", tf, 2));
    }
    return 0;
}

static int space_nchwc(const dlc_task_t *t, dlc_space_t *sp) {
    const dlc_workload_t *w = &t->w;
    int64_t oh, ow;
    out_hw(w, &oh, &ow);
    return dlc__space_conv_nchwc(sp, w->data[1], w->kernel[0], oh, ow, w->kernel[2], w->kernel[3]);
}

static dlc_iter_var_t *fuse3(dlc_stage_t *st, dlc_iter_var_t *a, dlc_iter_var_t *b, dlc_iter_var_t *c) {
    dlc_iter_var_t *ab, *abc;
    if (dlc_stage_fuse(st, a, b, &ab) < 0 || dlc_stage_fuse(st, ab, c, &abc) < 0) return NULL;
    return abc;
}

/* O [N, K, OH, OW] unpacks C: tiled like C, C computed at its parallel axis */
static int schedule_unpack(dlc_schedule_t *s, dlc_tensor_t *C, dlc_tensor_t *O, int64_t ocb, int64_t oh_factor,
                           int64_t reg_n) {
    dlc_stage_t *so = dlc_sched_stage(s, O);
    dlc_iter_var_t *oco, *oci, *oho, *ohi, *owo, *owi;
    TRY(dlc_stage_split(so, dlc_stage_axis(so, 1), ocb, &oco, &oci));
    TRY(dlc_stage_split(so, dlc_stage_axis(so, 2), oh_factor, &oho, &ohi));
    TRY(dlc_stage_split(so, dlc_stage_axis(so, 3), reg_n, &owo, &owi));
    TRY(dlc_stage_reorder(so, 6, (dlc_iter_var_t *[]){oco, oho, owo, ohi, owi, oci}));
    dlc_iter_var_t *par = fuse3(so, dlc_stage_axis(so, 0), oco, oho);
    if (!par) return dlc_last_status();
    TRY(dlc_stage_compute_at(dlc_sched_stage(s, C), so, par));
    TRY(dlc_stage_vectorize(so, oci));
    return dlc_stage_parallel(so, par);
}

int dlc__schedule_conv_nchwc(dlc_schedule_t *s, dlc_tensor_t *C, dlc_tensor_t *O, const dlc_config_t *cfg,
                             int is_1x1, int64_t icb) {
    int64_t oc[2], owt[2], oh_factor = 1;
    int unroll_kw = 0;
    TRY(dlc__split(cfg, "tile_oc", oc, 2));
    TRY(dlc__split(cfg, "tile_ow", owt, 2));
    if (is_1x1) TRY(dlc_config_knob_int(cfg, "tile_oh", &oh_factor) < 0 ? DLC_EINSTANTIATE : 0);
    else TRY(dlc_config_knob_bool(cfg, "unroll_kw", &unroll_kw) < 0 ? DLC_EINSTANTIATE : 0);
    int64_t reg_n = owt[1];
    dlc_tensor_t *CCt = dlc_sched_cache_write(s, C, DLC_SCOPE_GLOBAL);
    if (!CCt) return dlc_last_status();
    dlc_stage_t *sc = dlc_sched_stage(s, C), *cc = dlc_sched_stage(s, CCt);
    dlc_iter_var_t *b = dlc_stage_axis(sc, 0), *ocn = dlc_stage_axis(sc, 1), *oh = dlc_stage_axis(sc, 2),
                   *ow = dlc_stage_axis(sc, 3), *ocbk = dlc_stage_axis(sc, 4);
    dlc_iter_var_t *cb = dlc_stage_axis(cc, 0), *cocn = dlc_stage_axis(cc, 1), *coh = dlc_stage_axis(cc, 2),
                   *cow = dlc_stage_axis(cc, 3), *cocb = dlc_stage_axis(cc, 4);
    dlc_iter_var_t *ric = dlc_stage_reduce_axis(cc, 0), *rkh = dlc_stage_reduce_axis(cc, 1),
                   *rkw = dlc_stage_reduce_axis(cc, 2);
    dlc_iter_var_t *ic_chunk, *ic_block;
    if (!is_1x1) {
        dlc_iter_var_t *ow_chunk, *ow_block;
        TRY(dlc_stage_split(sc, ow, reg_n, &ow_chunk, &ow_block));
        TRY(dlc_stage_reorder(sc, 5, (dlc_iter_var_t *[]){ocn, oh, ow_chunk, ow_block, ocbk}));
        dlc_iter_var_t *par = fuse3(sc, b, ocn, oh);
        if (!par) return dlc_last_status();
        TRY(dlc_stage_vectorize(sc, ocbk));
        if (C == O) TRY(dlc_stage_parallel(sc, par));
        TRY(dlc_stage_compute_at(cc, sc, ow_chunk));
        dlc_iter_var_t *cow_chunk, *cow_block;
        TRY(dlc_stage_split(cc, cow, reg_n, &cow_chunk, &cow_block));
        TRY(dlc_stage_split(cc, ric, icb, &ic_chunk, &ic_block));
        if (unroll_kw) {
            TRY(dlc_stage_reorder(cc, 10, (dlc_iter_var_t *[]){cb, cocn, coh, cow_chunk, ic_chunk, rkh, ic_block, rkw,
                                                                cow_block, cocb}));
            TRY(dlc_stage_unroll(cc, rkw));
        } else {
            TRY(dlc_stage_reorder(cc, 10, (dlc_iter_var_t *[]){cb, cocn, coh, cow_chunk, ic_chunk, rkh, rkw, ic_block,
                                                                cow_block, cocb}));
        }
        TRY(dlc_stage_vectorize(cc, cocb));
        TRY(dlc_stage_unroll(cc, cow_block));
    } else {
        dlc_iter_var_t *oho, *ohi, *owo, *owi;
        TRY(dlc_stage_split(sc, oh, oh_factor, &oho, &ohi));
        TRY(dlc_stage_split(sc, ow, reg_n, &owo, &owi));
        TRY(dlc_stage_reorder(sc, 6, (dlc_iter_var_t *[]){ocn, oho, owo, ohi, owi, ocbk}));
        TRY(dlc_stage_vectorize(sc, ocbk));
        dlc_iter_var_t *par = fuse3(sc, b, ocn, oho);
        if (!par) return dlc_last_status();
        TRY(dlc_stage_compute_at(cc, sc, par));
        if (C == O) TRY(dlc_stage_parallel(sc, par));
        TRY(dlc_stage_split(cc, ric, icb, &ic_chunk, &ic_block));
        dlc_iter_var_t *coho, *cohi, *cowo, *cowi;
        TRY(dlc_stage_split(cc, coh, oh_factor, &coho, &cohi));
        TRY(dlc_stage_split(cc, cow, reg_n, &cowo, &cowi));
        TRY(dlc_stage_reorder(cc, 11, (dlc_iter_var_t *[]){cb, cocn, coho, cowo, ic_chunk, ic_block, rkh, rkw, cohi,
                                                            cowi, cocb}));
        TRY(dlc_stage_vectorize(cc, cocb));
        TRY(dlc_stage_unroll(cc, cowi));
        TRY(dlc_stage_unroll(cc, cohi));
    }
    return C == O ? 0 : schedule_unpack(s, C, O, oc[1], oh_factor, reg_n);
}

static int inst_nchwc(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op,
                      dlc_schedule_t **out) {
    const dlc_workload_t *w = &t->w;
    int64_t ic[2], oc[2];
    TRY(dlc__split(cfg, "tile_ic", ic, 2));
    TRY(dlc__split(cfg, "tile_oc", oc, 2));
    int64_t icb = ic[1], ocb = oc[1];
    if (w->data[1] % icb || w->kernel[0] % ocb)
        return dlc_error(DLC_EINSTANTIATE, "tile_ic %lld / tile_oc %lld do not divide the channels", (long long)icb,
                         (long long)ocb);
    memset(op, 0, sizeof *op);
    dlc_tensor_t *data = dlc_te_placeholder(ctx, "data", 5, (int64_t[]){w->data[0], w->data[1] / icb, w->data[2], w->data[3], icb}, w->dtype);
    dlc_tensor_t *kernel = dlc_te_placeholder(
        ctx, "kernel", 6, (int64_t[]){w->kernel[0] / ocb, w->data[1] / icb, w->kernel[2], w->kernel[3], icb, ocb}, w->dtype);
    dlc_tensor_t *C = dlc_topi_conv2d_NCHWc(ctx, data, kernel, &w->conv, w->out_dtype);
    if (!C) return dlc_last_status();
    op->args[0] = data;
    op->args[1] = kernel;
    op->args[2] = op->out = C;
    op->n_args = 3;
    op->n_outputs = 1;
    op->flops = 2.0 * (double)dlc_tensor_size(C) * (double)(w->data[1] * w->kernel[2] * w->kernel[3]);
    op->name = "conv2d_NCHWc";
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &C);
    if (!s) return dlc_last_status();
    /* the pad stage, if any: vectorised on ic_block, parallel over (n, ic_chunk, ih) */
    for (int i = 0; i < dlc_sched_num_stages(s); i++) {
        dlc_stage_t *ps = dlc_sched_stage_at(s, i);
        if (dlc_stage_tensor(ps) == C) continue;
        TRY(dlc_stage_vectorize(ps, dlc_stage_axis(ps, 4)));
        dlc_iter_var_t *f = fuse3(ps, dlc_stage_axis(ps, 0), dlc_stage_axis(ps, 1), dlc_stage_axis(ps, 2));
        if (!f) return dlc_last_status();
        TRY(dlc_stage_parallel(ps, f));
    }
    TRY(dlc__schedule_conv_nchwc(s, C, C, cfg, w->kernel[2] == 1 && w->kernel[3] == 1, icb));
    *out = s;
    return 0;
}

const dlc_template_t dlc__tmpl_conv2d_NCHWc_x86 = {
    "conv2d_NCHWc.x86", "x86", DLC_OPK_CONV2D, dlc__parse_conv_x86, dlc__conv_x86_args, space_nchwc, inst_nchwc,
};
