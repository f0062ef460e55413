/* bench_peers.c — OpenBLAS sgemm and oneDNN convolution as peers of dlc's
 * kernels, with the same timing method as dlc-runner (see bench_peers.h). */
#define _GNU_SOURCE
#include "bench_peers.h"

#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>

void openblas_set_num_threads(int);

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void peer_time(void (*fn)(void *), void *u, const peer_timing_t *t, peer_result_t *out) {
    fn(u); /* warm-up */
    long number = 1;
    for (;;) {
        double t0 = now_s();
        for (long i = 0; i < number; i++) fn(u);
        double dt = now_s() - t0;
        if (dt * 1e3 >= t->min_repeat_ms || number >= 10000000L) break;
        double scale = dt > 0 ? t->min_repeat_ms / (dt * 1e3) * 1.2 : 10.0;
        long next = (long)ceil((double)number * scale);
        number = next > number ? next : number + 1;
    }
    int n = t->repeat > 0 ? t->repeat : 1;
    double *c = calloc((size_t)n, sizeof *c);
    if (!c) abort();
    for (int r = 0; r < n; r++) {
        double t0 = now_s();
        for (long i = 0; i < number; i++) fn(u);
        c[r] = (now_s() - t0) / (double)number;
    }
    qsort(c, (size_t)n, sizeof *c, cmp_d);
    out->best_s = c[0];
    out->median_s = c[n / 2];
    out->number = (int)number;
    free(c);
}

static uint64_t rng(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}
static void fill(float *p, int64_t n, uint64_t seed) {
    uint64_t s = seed * 0x9E3779B97F4A7C15ULL + 1;
    for (int64_t i = 0; i < n; i++) p[i] = (float)(rng(&s) >> 40) * (2.0f / 16777216.0f) - 1.0f;
}
static float *falloc(int64_t n) {
    float *p = aligned_alloc(64, ((size_t)n * 4 + 63) / 64 * 64);
    if (!p) abort();
    return p;
}

/* ---- OpenBLAS ---- */
typedef struct {
    int64_t M, N, K;
    float *A, *B, *C;
} gemm_t;

static void run_sgemm(void *u) {
    gemm_t *g = u;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)g->M, (int)g->N, (int)g->K, 1.0f, g->A, (int)g->K, g->B,
                (int)g->K, 0.0f, g->C, (int)g->N);
}

/* C[1,N] = B[N,K]·A[K]: batch-1 dense as a matrix-vector product. */
static void run_sgemv(void *u) {
    gemm_t *g = u;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)g->N, (int)g->K, 1.0f, g->B, (int)g->K, g->A, 1, 0.0f, g->C, 1);
}

int peer_sgemm_nt(int64_t M, int64_t N, int64_t K, int threads, const peer_timing_t *t, peer_result_t *out) {
    memset(out, 0, sizeof *out);
    gemm_t g = {M, N, K, falloc(M * K), falloc(N * K), falloc(M * N)};
    fill(g.A, M * K, 1);
    fill(g.B, N * K, 2);
    openblas_set_num_threads(threads);
    peer_time(run_sgemm, &g, t, out);
    int gemv = 0;
    if (M == 1) { /* the peer at its best: OpenBLAS's sgemm is slow for one row, sgemv is made for it */
        peer_result_t v;
        memset(&v, 0, sizeof v);
        peer_time(run_sgemv, &g, t, &v);
        if (v.best_s < out->best_s) {
            *out = v;
            gemv = 1;
        } else {
            peer_time(run_sgemm, &g, t, out); /* C holds sgemm's result again for the check */
        }
    }
    uint64_t s = 7;
    for (int i = 0; i < 256; i++) {
        int64_t m = (int64_t)(rng(&s) % (uint64_t)M), n = (int64_t)(rng(&s) % (uint64_t)N);
        double acc = 0;
        for (int64_t k = 0; k < K; k++) acc += (double)g.A[m * K + k] * g.B[n * K + k];
        double e = fabs(acc - g.C[m * N + n]);
        if (e > out->max_err) out->max_err = e;
    }
    snprintf(out->impl, sizeof out->impl, "OpenBLAS %s (%s)", gemv ? "sgemv (faster than sgemm here)" : "sgemm NT",
             openblas_get_corename());
    free(g.A);
    free(g.B);
    free(g.C);
    return 0;
}

void peer_openblas_at_its_best(char **argv) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[8192];
    int avx512f = 0;
    while (f && !avx512f && fgets(line, sizeof line, f))
        avx512f = !strncmp(line, "flags", 5) && strstr(line, " avx512f") != NULL;
    if (f)
        fclose(f);
    if (avx512f && !getenv("OPENBLAS_CORETYPE")) {
        setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
        execv("/proc/self/exe", argv);
    }
}

void peer_sgemm_describe(char *out, size_t cap) {
    snprintf(out, cap, "%s, core %s", openblas_get_config(), openblas_get_corename());
}

/* ---- oneDNN ---- */
/* oneDNN's layout name of a blocked descriptor: dims outer to inner by stride
 * (upper case when also blocked), then the inner blocks, e.g. aBcd8b. */
static void layout_name(const dnnl_memory_desc_t *md, char *out, size_t cap) {
    if (md->format_kind != dnnl_blocked) {
        snprintf(out, cap, "%s", dnnl_fmt_kind2str(md->format_kind));
        return;
    }
    const dnnl_blocking_desc_t *b = &md->format_desc.blocking;
    int order[DNNL_MAX_NDIMS], n = md->ndims;
    for (int i = 0; i < n; i++) order[i] = i;
    for (int i = 1; i < n; i++) /* stable insertion sort, larger stride first */
        for (int j = i; j > 0 && b->strides[order[j]] > b->strides[order[j - 1]]; j--) {
            int x = order[j];
            order[j] = order[j - 1];
            order[j - 1] = x;
        }
    size_t len = 0;
    for (int i = 0; i < n && len + 1 < cap; i++) {
        int blocked = 0;
        for (int k = 0; k < b->inner_nblks; k++) blocked |= b->inner_idxs[k] == order[i];
        out[len++] = (char)((blocked ? 'A' : 'a') + order[i]);
    }
    out[len] = '\0';
    for (int k = 0; k < b->inner_nblks && len + 1 < cap; k++)
        len += (size_t)snprintf(out + len, cap - len, "%lld%c", (long long)b->inner_blks[k], 'a' + (int)b->inner_idxs[k]);
}

typedef struct {
    dnnl_primitive_t prim;
    dnnl_stream_t stream;
    dnnl_exec_arg_t args[3];
} conv_run_t;

static void run_conv(void *u) {
    conv_run_t *c = u;
    dnnl_primitive_execute(c->prim, c->stream, 3, c->args);
    dnnl_stream_wait(c->stream);
}

#define DN(x)                                                                                   \
    do {                                                                                        \
        dnnl_status_t s_ = (x);                                                                 \
        if (s_ != dnnl_success) {                                                               \
            snprintf(out->impl, sizeof out->impl, "oneDNN: %s: %s", #x, dnnl_status2str(s_)); \
            goto done;                                                                          \
        }                                                                                       \
    } while (0)

/* Reorders user memory (plain layout) into a new memory of layout md. */
static dnnl_status_t reorder_into(dnnl_engine_t eng, dnnl_stream_t st, dnnl_memory_t user, const dnnl_memory_desc_t *md,
                                  dnnl_memory_t *res) {
    const dnnl_memory_desc_t *umd;
    dnnl_primitive_desc_t rpd = NULL;
    dnnl_primitive_t r = NULL;
    dnnl_status_t s = dnnl_memory_get_memory_desc(user, &umd);
    if (s == dnnl_success) s = dnnl_memory_create(res, md, eng, DNNL_MEMORY_ALLOCATE);
    if (s == dnnl_success) s = dnnl_reorder_primitive_desc_create(&rpd, umd, eng, md, eng, NULL);
    if (s == dnnl_success) s = dnnl_primitive_create(&r, rpd);
    if (s == dnnl_success) {
        dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, *res}};
        s = dnnl_primitive_execute(r, st, 2, a);
    }
    if (s == dnnl_success) s = dnnl_stream_wait(st);
    if (r) dnnl_primitive_destroy(r);
    if (rpd) dnnl_primitive_desc_destroy(rpd);
    return s;
}

/* One algorithm: 0 with out filled, -1 with the reason in out->impl. */
static int dnnl_conv_alg(const int64_t *p, dnnl_alg_kind_t alg, const peer_timing_t *t, peer_result_t *out) {
    int64_t N = p[0], C = p[1], H = p[2], W = p[3], K = p[4], R = p[5], S = p[6], st = p[7], pad = p[8];
    int64_t OH = (H + 2 * pad - R) / st + 1, OW = (W + 2 * pad - S) / st + 1;
    int rc = -1;
    dnnl_engine_t eng = NULL;
    dnnl_stream_t stream = NULL;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t conv = NULL;
    dnnl_memory_t u_src = NULL, u_wei = NULL, u_dst = NULL, src = NULL, wei = NULL, dst = NULL;
    float *x = falloc(N * C * H * W), *w = falloc(K * C * R * S), *y = falloc(N * K * OH * OW);
    fill(x, N * C * H * W, 3);
    fill(w, K * C * R * S, 4);
    DN(dnnl_engine_create(&eng, dnnl_cpu, 0));
    DN(dnnl_stream_create(&stream, eng, dnnl_stream_default_flags));
    dnnl_memory_desc_t src_any, wei_any, dst_any, src_u, wei_u, dst_u;
    dnnl_dims_t sd = {N, C, H, W}, wd = {K, C, R, S}, dd = {N, K, OH, OW};
    DN(dnnl_memory_desc_init_by_tag(&src_any, 4, sd, dnnl_f32, dnnl_format_tag_any));
    DN(dnnl_memory_desc_init_by_tag(&wei_any, 4, wd, dnnl_f32, dnnl_format_tag_any));
    DN(dnnl_memory_desc_init_by_tag(&dst_any, 4, dd, dnnl_f32, dnnl_format_tag_any));
    DN(dnnl_memory_desc_init_by_tag(&src_u, 4, sd, dnnl_f32, dnnl_nchw));
    DN(dnnl_memory_desc_init_by_tag(&wei_u, 4, wd, dnnl_f32, dnnl_oihw));
    DN(dnnl_memory_desc_init_by_tag(&dst_u, 4, dd, dnnl_f32, dnnl_nchw));
    dnnl_convolution_desc_t cd;
    dnnl_dims_t strides = {st, st}, pl = {pad, pad}, pr = {pad, pad};
    DN(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, alg, &src_any, &wei_any, NULL, &dst_any, strides,
                                          pl, pr));
    DN(dnnl_primitive_desc_create(&pd, &cd, NULL, eng, NULL));
    const dnnl_memory_desc_t *smd = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0),
                             *wmd = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0),
                             *dmd = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    const char *impl = "?";
    DN(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    DN(dnnl_memory_create(&u_src, &src_u, eng, x));
    DN(dnnl_memory_create(&u_wei, &wei_u, eng, w));
    DN(dnnl_memory_create(&u_dst, &dst_u, eng, y));
    DN(reorder_into(eng, stream, u_src, smd, &src));
    DN(reorder_into(eng, stream, u_wei, wmd, &wei));
    DN(dnnl_memory_create(&dst, dmd, eng, DNNL_MEMORY_ALLOCATE));
    DN(dnnl_primitive_create(&conv, pd));
    conv_run_t cr = {conv, stream, {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, dst}}};
    peer_time(run_conv, &cr, t, out);
    /* the result back in NCHW, spot-checked against a naive convolution */
    {
        dnnl_primitive_desc_t rpd = NULL;
        dnnl_primitive_t r = NULL;
        DN(dnnl_reorder_primitive_desc_create(&rpd, dmd, eng, &dst_u, eng, NULL));
        dnnl_status_t s = dnnl_primitive_create(&r, rpd);
        dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, dst}, {DNNL_ARG_TO, u_dst}};
        if (s == dnnl_success) s = dnnl_primitive_execute(r, stream, 2, a);
        if (s == dnnl_success) s = dnnl_stream_wait(stream);
        if (r) dnnl_primitive_destroy(r);
        dnnl_primitive_desc_destroy(rpd);
        DN(s);
    }
    uint64_t rs = 11;
    out->max_err = 0;
    for (int i = 0; i < 256; i++) {
        int64_t n = (int64_t)(rng(&rs) % (uint64_t)N), k = (int64_t)(rng(&rs) % (uint64_t)K),
                oh = (int64_t)(rng(&rs) % (uint64_t)OH), ow = (int64_t)(rng(&rs) % (uint64_t)OW);
        double acc = 0;
        for (int64_t c = 0; c < C; c++)
            for (int64_t r = 0; r < R; r++)
                for (int64_t s = 0; s < S; s++) {
                    int64_t ih = oh * st - pad + r, iw = ow * st - pad + s;
                    if (ih >= 0 && ih < H && iw >= 0 && iw < W)
                        acc += (double)x[((n * C + c) * H + ih) * W + iw] * w[((k * C + c) * R + r) * S + s];
                }
        double e = fabs(acc - y[((n * K + k) * OH + oh) * OW + ow]);
        if (e > out->max_err) out->max_err = e;
    }
    char ls[32], lw[32], ld[32];
    layout_name(smd, ls, sizeof ls);
    layout_name(wmd, lw, sizeof lw);
    layout_name(dmd, ld, sizeof ld);
    snprintf(out->impl, sizeof out->impl, "oneDNN %s %s (src %s, wei %s, dst %s)", dnnl_alg_kind2str(alg), impl, ls, lw,
             ld);
    rc = 0;
done:
    if (conv) dnnl_primitive_destroy(conv);
    if (pd) dnnl_primitive_desc_destroy(pd);
    dnnl_memory_t mems[] = {u_src, u_wei, u_dst, src, wei, dst};
    for (size_t i = 0; i < sizeof mems / sizeof mems[0]; i++)
        if (mems[i]) dnnl_memory_destroy(mems[i]);
    if (stream) dnnl_stream_destroy(stream);
    if (eng) dnnl_engine_destroy(eng);
    free(x);
    free(w);
    free(y);
    return rc;
}

/* oneDNN here runs on OpenMP (libgomp, loaded with libdnnl). */
static void omp_threads(int n) {
    void (*set)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "omp_set_num_threads");
    if (set) set(n);
}

int peer_dnnl_conv(const int64_t shape[9], int threads, const peer_timing_t *t, peer_result_t *out) {
    memset(out, 0, sizeof *out);
    omp_threads(threads); /* before the primitive is created: it blocks for the thread count */
    peer_result_t d, a;
    int rd = dnnl_conv_alg(shape, dnnl_convolution_direct, t, &d);
    int ra = dnnl_conv_alg(shape, dnnl_convolution_auto, t, &a);
    if (rd < 0 && ra < 0) {
        *out = d;
        return -1;
    }
    *out = rd < 0 ? a : ra < 0 ? d : a.best_s < d.best_s ? a : d;
    return 0;
}

void peer_dnnl_describe(char *out, size_t cap) {
    const dnnl_version_t *v = dnnl_version();
    snprintf(out, cap, "oneDNN %d.%d.%d (%s runtime)", v->major, v->minor, v->patch, dnnl_runtime2str(v->cpu_runtime));
}
