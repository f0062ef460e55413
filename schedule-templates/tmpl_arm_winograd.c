/* tmpl_arm_winograd.c — conv2d_nchw_winograd.arm_cpu: TVM's ARM Winograd
 * convolution F(4x4, 3x3) (topi/arm_cpu/conv2d.py, _decl_winograd and
 * _schedule_winograd, tile_size 4). Input tiles d are transformed to V = BᵀdB,
 * multiplied with the transformed kernel U channel-wise as a batched GEMM M,
 * transformed back (Y = AᵀMA) and cropped to NCHW. As during TVM's tuning,
 * the kernel comes pre-transformed: U [6, 6, K/VK, C, VK] is an input.
 * TVM's arm_cpu strategy offers it for float 3x3 kernels with stride 1 and
 * dilation 1; for other workloads every config is an INSTANTIATION_ERROR. */
#include <string.h>
#include "templates_impl.h"

enum { WG_M = 4, WG_R = 3, WG_ALPHA = WG_M + WG_R - 1 };

/* topi.nn.winograd_util.winograd_transform_matrices(4, 3): Cook-Toom with the
 * interpolation points 0, -1, 1, 1/2, -2. (G, for U = GgGᵀ, is the caller's.) */
static const double wg_A[WG_ALPHA][WG_M] = {
    {1, 0, 0, 0}, {1, -1, 1, -1}, {1, 1, 1, 1}, {1, 0.5, 0.25, 0.125}, {1, -2, 4, -8}, {0, 0, 0, 1},
};
static const double wg_B[WG_ALPHA][WG_ALPHA] = {
    {1, 0, 0, 0, 0, 0},          {-1.5, 1, -1, -2, 0.5, 1},    {-2, -2.5, 0.5, -1, -1, -1.5},
    {1.5, 0.5, 2.5, 2, -0.5, -2}, {1, 1, 1, 1, 1, 1.5},         {0, 0, 0, 0, 0, 1},
};

static int parse_wg(const json_t *args, dlc_workload_t *w) { return dlc__parse_conv_nchw(args, 0, 5, w); }
static json_t *wg_args(const dlc_op_spec_t *s) { return s->kind == DLC_OPK_CONV2D ? dlc__conv_nchw_args(s) : NULL; }

/* Output size and tile counts: nH x nW tiles of 4x4 per image, P in all. */
typedef struct {
    int64_t H, W, nH, nW, P;
} wg_dims_t;

static int wg_dims(const dlc_workload_t *w, wg_dims_t *d) {
    TRY(dlc__out_hw(w, &d->H, &d->W));
    d->nH = (d->H + WG_M - 1) / WG_M;
    d->nW = (d->W + WG_M - 1) / WG_M;
    d->P = w->data[0] * d->nH * d->nW;
    return 0;
}

static int inner_le_16(const int64_t *size, int n, void *user) { return size[n - 1] <= 16; }

/* tile_p over P, tile_k over K (the compute's), tile_c over C (the schedule's),
 * each 2-way with the inner factor at most 16; ann_reduce [ci] try_unroll,
 * ann_spatial [k, xi] try_unroll_vec. */
static int space_wg(const dlc_task_t *t, dlc_space_t *sp) {
    wg_dims_t d;
    TRY(wg_dims(&t->w, &d));
    TRY(dlc_space_define_split(sp, "tile_p", d.P, DLC_SPLIT_FACTORS, 2, 0, inner_le_16, NULL));
    TRY(dlc_space_define_split(sp, "tile_k", t->w.kernel[0], DLC_SPLIT_FACTORS, 2, 0, inner_le_16, NULL));
    TRY(dlc_space_define_split(sp, "tile_c", t->w.data[1], DLC_SPLIT_FACTORS, 2, 0, inner_le_16, NULL));
    TRY(dlc_space_define_annotate(sp, "ann_reduce", 1, "try_unroll", 0));
    return dlc_space_define_annotate(sp, "ann_spatial", 2, "try_unroll_vec", 0);
}

/* ---- compute ---- */
typedef struct {
    dlc_tensor_t *data, *A, *B, *d, *U, *V, *M, *Y;
    int64_t VP, VK, nH, nW, pt, pl;
    dlc_dtype_t odt;
    const double *mat; /* const_matrix: row-major values */
    int cols;
} wg_t;

/* TVM's const_matrix: a select over every (row, column), inlined by the schedule */
static dlc_expr_t *const_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    wg_t *x = u;
    dlc_expr_t *e = dlc_const(c, 0, x->odt);
    for (int r = 0; r < WG_ALPHA; r++)
        for (int k = 0; k < x->cols; k++) {
            dlc_expr_t *hit = dlc_binary(c, DLC_EXPR_AND, dlc_binary(c, DLC_EXPR_EQ, i[0], dlc_int(c, r)),
                                         dlc_binary(c, DLC_EXPR_EQ, i[1], dlc_int(c, k)));
            e = dlc_select(c, hit, dlc_const(c, x->mat[r * x->cols + k], x->odt), e);
        }
    return e;
}

static dlc_expr_t *mad(dlc_ctx_t *c, dlc_expr_t *a, int64_t k, dlc_expr_t *b) {
    return dlc_add(c, dlc_mul(c, a, dlc_int(c, k)), b);
}

/* d [C, P/VP, 6, 6, VP]: the padded input tile of tile b*VP + bb (0 outside the data) */
static dlc_expr_t *tile_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    wg_t *x = u;
    dlc_tensor_t *in = x->data;
    dlc_expr_t *p = mad(c, i[1], x->VP, i[4]);
    dlc_expr_t *n = dlc_div(c, p, dlc_int(c, x->nH * x->nW));
    dlc_expr_t *y = dlc_sub(c, mad(c, dlc_mod(c, dlc_div(c, p, dlc_int(c, x->nW)), dlc_int(c, x->nH)), WG_M, i[2]),
                            dlc_int(c, x->pt));
    dlc_expr_t *xx = dlc_sub(c, mad(c, dlc_mod(c, p, dlc_int(c, x->nW)), WG_M, i[3]), dlc_int(c, x->pl));
    return dlc__read4_guarded(c, in, n, i[0], y, xx);
}

/* V [6, 6, P/VP, C, VP] = Σ d[c][b][r_eps][r_nu][bb] · B[r_eps][eps] · B[r_nu][nu]
 * (the two constants multiplied first: exact, and one product after unrolling) */
static dlc_expr_t *v_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    wg_t *x = u;
    dlc_iter_var_t *re = dlc_te_reduce_axis(c, "r_eps", WG_ALPHA), *rn = dlc_te_reduce_axis(c, "r_nu", WG_ALPHA);
    dlc_expr_t *t = dlc_read(c, x->d, (dlc_expr_t *[]){i[3], i[2], re->var, rn->var, i[4]});
    dlc_expr_t *b = dlc_mul(c, dlc_read2(c, x->B, re->var, i[0]), dlc_read2(c, x->B, rn->var, i[1]));
    return dlc_sum(c, dlc_topi_mul_out(c, x->odt, t, b), 2, (dlc_iter_var_t *[]){re, rn});
}

/* M [6, 6, K, P] = Σ_c U[eps][nu][k/VK][c][k%VK] · V[eps][nu][b/VP][c][b%VP] */
static dlc_expr_t *m_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    wg_t *x = u;
    dlc_iter_var_t *ch = dlc_te_reduce_axis(c, "c", x->U->shape[3]);
    dlc_expr_t *vk = dlc_int(c, x->VK), *vp = dlc_int(c, x->VP);
    dlc_expr_t *a = dlc_read(c, x->U, (dlc_expr_t *[]){i[0], i[1], dlc_div(c, i[2], vk), ch->var, dlc_mod(c, i[2], vk)});
    dlc_expr_t *b = dlc_read(c, x->V, (dlc_expr_t *[]){i[0], i[1], dlc_div(c, i[3], vp), ch->var, dlc_mod(c, i[3], vp)});
    return dlc_sum(c, dlc_topi_mul_out(c, x->odt, a, b), 1, &ch);
}

/* Y [K, P, 4, 4] = Σ M[r_eps][r_nu][k][b] · A[r_eps][vh] · A[r_nu][vw] */
static dlc_expr_t *y_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    wg_t *x = u;
    dlc_iter_var_t *re = dlc_te_reduce_axis(c, "r_eps", WG_ALPHA), *rn = dlc_te_reduce_axis(c, "r_nu", WG_ALPHA);
    dlc_expr_t *m = dlc_read4(c, x->M, re->var, rn->var, i[0], i[1]);
    dlc_expr_t *a = dlc_mul(c, dlc_read2(c, x->A, re->var, i[2]), dlc_read2(c, x->A, rn->var, i[3]));
    return dlc_sum(c, dlc_mul(c, m, a), 2, (dlc_iter_var_t *[]){re, rn});
}

/* output [N, K, H, W] = Y[k][n·nH·nW + (h/4)·nW + w/4][h%4][w%4] */
static dlc_expr_t *out_fn(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    wg_t *x = u;
    dlc_expr_t *m = dlc_int(c, WG_M);
    dlc_expr_t *b = mad(c, i[0], x->nH * x->nW, mad(c, dlc_div(c, i[2], m), x->nW, dlc_div(c, i[3], m)));
    return dlc_read4(c, x->Y, i[1], b, dlc_mod(c, i[2], m), dlc_mod(c, i[3], m));
}

static dlc_tensor_t *const_matrix(dlc_ctx_t *ctx, wg_t *x, const char *name, const double *vals, int cols) {
    x->mat = vals;
    x->cols = cols;
    dlc_tensor_t *t = dlc_te_compute(ctx, name, 2, (int64_t[]){WG_ALPHA, cols}, const_fn, x);
    if (t) t->tag = "const_matrix";
    return t;
}

/* ---- schedule (_schedule_winograd) ---- */
static int annotate(dlc_stage_t *st, const int *anns, int n, dlc_iter_var_t *const *axes) {
    for (int i = 0; i < n; i++) {
        if (anns[i] == DLC_KNOB_ANN_UNROLL) TRY(dlc_stage_unroll(st, axes[i]));
        else if (anns[i] == DLC_KNOB_ANN_VEC) TRY(dlc_stage_vectorize(st, axes[i]));
    }
    return 0;
}

static int unroll_all(dlc_stage_t *st, int n, dlc_iter_var_t *const *axes) {
    for (int i = 0; i < n; i++) TRY(dlc_stage_unroll(st, axes[i]));
    return 0;
}

static int schedule_wg(dlc_schedule_t *s, const dlc_config_t *cfg, const wg_t *x, dlc_tensor_t *out) {
    int64_t tp[2], tk[2], tc[2];
    int ann_r[1], ann_s[2];
    TRY(dlc__split(cfg, "tile_p", tp, 2));
    TRY(dlc__split(cfg, "tile_k", tk, 2));
    TRY(dlc__split(cfg, "tile_c", tc, 2));
    TRY(dlc__ann(cfg, "ann_reduce", 1, ann_r));
    TRY(dlc__ann(cfg, "ann_spatial", 2, ann_s));
    if (ann_r[0] == DLC_KNOB_ANN_UNROLL && tc[1] > 16) /* as TVM's apply(max_unroll=16) */
        return dlc_error(DLC_EINSTANTIATE, "Too large factor for unrolling (%lld)", (long long)tc[1]);
    /* the constant matrices are inlined; TVM's DD (a cache_read of the inlined
     * input tile d) is d itself, computed per (b, c) of V */
    TRY(dlc_stage_compute_inline(dlc_sched_stage(s, x->A)));
    TRY(dlc_stage_compute_inline(dlc_sched_stage(s, x->B)));
    dlc_stage_t *sv = dlc_sched_stage(s, x->V);
    dlc_iter_var_t *eps = dlc_stage_axis(sv, 0), *nu = dlc_stage_axis(sv, 1), *b = dlc_stage_axis(sv, 2);
    dlc_iter_var_t *c = dlc_stage_axis(sv, 3), *bb = dlc_stage_axis(sv, 4);
    dlc_iter_var_t *re = dlc_stage_reduce_axis(sv, 0), *rn = dlc_stage_reduce_axis(sv, 1);
    TRY(dlc_stage_reorder(sv, 7, (dlc_iter_var_t *[]){b, c, eps, nu, re, rn, bb}));
    TRY(unroll_all(sv, 4, (dlc_iter_var_t *[]){eps, nu, re, rn}));
    TRY(dlc_stage_compute_at(dlc_sched_stage(s, x->d), sv, c));
    TRY(dlc_stage_vectorize(sv, bb));
    TRY(dlc_stage_parallel(sv, b));

    /* batched GEMM */
    dlc_stage_t *sm = dlc_sched_stage(s, x->M);
    dlc_iter_var_t *mc[2], *mp[2];
    dlc_iter_var_t *k = dlc_stage_axis(sm, 2);
    TRY(dlc__apply_split(sm, dlc_stage_reduce_axis(sm, 0), tc, 2, mc));
    TRY(dlc__apply_split(sm, dlc_stage_axis(sm, 3), tp, 2, mp));
    TRY(dlc_stage_reorder(sm, 7, (dlc_iter_var_t *[]){dlc_stage_axis(sm, 0), dlc_stage_axis(sm, 1), mp[0], mc[0], k,
                                                      mc[1], mp[1]}));
    TRY(annotate(sm, ann_r, 1, &mc[1]));
    TRY(annotate(sm, ann_s, 2, (dlc_iter_var_t *[]){k, mp[1]}));

    /* inverse transform, read through MM (TVM's cache_read of M for Y) */
    dlc_tensor_t *MM = dlc_sched_cache_read(s, x->M, DLC_SCOPE_GLOBAL, 1, (dlc_tensor_t *const *)&x->Y);
    if (!MM) return dlc_last_status();
    dlc_stage_t *sy = dlc_sched_stage(s, x->Y);
    TRY(unroll_all(sy, 4, (dlc_iter_var_t *[]){dlc_stage_axis(sy, 2), dlc_stage_axis(sy, 3),
                                                dlc_stage_reduce_axis(sy, 0), dlc_stage_reduce_axis(sy, 1)}));

    /* output: (n, k outer) fused and parallel, M computed per iteration; Y and
     * MM per 4x4 output tile */
    dlc_stage_t *so = dlc_sched_stage(s, out);
    dlc_iter_var_t *ok[2], *p, *ho, *wo, *hi, *wi;
    TRY(dlc__apply_split(so, dlc_stage_axis(so, 1), tk, 2, ok));
    TRY(dlc_stage_fuse(so, dlc_stage_axis(so, 0), ok[0], &p));
    TRY(dlc_stage_compute_at(sm, so, p));
    TRY(dlc_stage_parallel(so, p));
    TRY(dlc_stage_tile(so, dlc_stage_axis(so, 2), dlc_stage_axis(so, 3), WG_M, WG_M, &ho, &wo, &hi, &wi));
    TRY(dlc_stage_compute_at(sy, so, wo));
    return dlc_stage_compute_at(dlc_sched_stage(s, MM), so, wo);
}

static int inst_wg(const dlc_task_t *t, const dlc_config_t *cfg, dlc_ctx_t *ctx, dlc_op_t *op, dlc_schedule_t **out) {
    const dlc_workload_t *w = &t->w;
    const dlc_conv_params_t *p = &w->conv;
    if (w->kernel[2] != WG_R || w->kernel[3] != WG_R || p->stride_h != 1 || p->stride_w != 1 || p->dil_h != 1 ||
        p->dil_w != 1 || !dlc_dtype_is_float(w->dtype) || !dlc_dtype_is_float(w->out_dtype))
        return dlc_error(DLC_EINSTANTIATE, "winograd takes float 3x3 kernels with stride 1 and dilation 1 (as TVM's "
                                           "arm_cpu strategy offers it)");
    wg_dims_t d;
    int64_t tp[2], tk[2];
    TRY(wg_dims(w, &d));
    TRY(dlc__split(cfg, "tile_p", tp, 2));
    TRY(dlc__split(cfg, "tile_k", tk, 2));
    int64_t N = w->data[0], C = w->data[1], K = w->kernel[0], VP = tp[1], VK = tk[1];
    if (d.P % VP || K % VK)
        return dlc_error(DLC_EINSTANTIATE, "tiles %lld, %lld do not divide P %lld, K %lld", (long long)VP, (long long)VK,
                         (long long)d.P, (long long)K);
    memset(op, 0, sizeof *op);
    wg_t x = {.VP = VP, .VK = VK, .nH = d.nH, .nW = d.nW, .pt = p->pad_top, .pl = p->pad_left, .odt = w->out_dtype};
    x.data = dlc_te_placeholder(ctx, "data", 4, w->data, w->dtype);
    x.U = dlc_te_placeholder(ctx, "U", 5, (int64_t[]){WG_ALPHA, WG_ALPHA, K / VK, C, VK}, w->dtype);
    x.A = const_matrix(ctx, &x, "A", &wg_A[0][0], WG_M);
    x.B = const_matrix(ctx, &x, "B", &wg_B[0][0], WG_ALPHA);
    x.d = dlc_te_compute(ctx, "d", 5, (int64_t[]){C, d.P / VP, WG_ALPHA, WG_ALPHA, VP}, tile_fn, &x);
    x.V = x.d && x.B ? dlc_te_compute(ctx, "V", 5, (int64_t[]){WG_ALPHA, WG_ALPHA, d.P / VP, C, VP}, v_fn, &x) : NULL;
    x.M = x.V ? dlc_te_compute(ctx, "M", 4, (int64_t[]){WG_ALPHA, WG_ALPHA, K, d.P}, m_fn, &x) : NULL;
    x.Y = x.M && x.A ? dlc_te_compute(ctx, "Y", 4, (int64_t[]){K, d.P, WG_M, WG_M}, y_fn, &x) : NULL;
    dlc_tensor_t *O = x.Y ? dlc_te_compute(ctx, "output", 4, (int64_t[]){N, K, d.H, d.W}, out_fn, &x) : NULL;
    if (!O) return dlc_last_status();
    O->tag = "winograd_conv2d_output";
    /* TVM's cfg.add_flop: the direct convolution's count */
    *op = (dlc_op_t){3, 1, {x.data, x.U, O}, O, 2.0 * N * K * d.H * d.W * WG_R * WG_R * C, "conv2d_nchw_winograd"};
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &O);
    if (!s) return dlc_last_status();
    TRY(schedule_wg(s, cfg, &x, O));
    *out = s;
    return 0;
}

const dlc_template_t dlc__tmpl_winograd_arm = {
    "conv2d_nchw_winograd.arm_cpu", "arm_cpu", DLC_OPK_CONV2D, parse_wg, wg_args, space_wg, inst_wg,
};
