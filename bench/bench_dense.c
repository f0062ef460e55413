/* bench_dense.c — dense (C = A·Bᵀ) with a hand-written schedule built through
 * the public schedule API, against OpenBLAS cblas_sgemm in the same run, at 1
 * and 2 threads. Also the compile time of the kernel (cold, median) and the
 * cache-hit time. Usage: bench_dense [M N K] [--mr R] [--nr R] [--kb K] */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "compiler-core/dlc_module.h"

void openblas_set_num_threads(int);

typedef struct {
    dlc_tensor_t *a, *bp;
    int64_t nr;
} dn_t;

static int64_t g_nr;
static dlc_tensor_t *g_B;
static dlc_expr_t *pack_body(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    (void)u;
    dlc_expr_t *n = dlc_add(c, dlc_mul(c, i[0], dlc_int(c, g_nr)), i[2]);
    dlc_expr_t *ok = dlc_binary(c, DLC_EXPR_LT, n, dlc_int(c, g_B->shape[0]));
    dlc_expr_t *nc = dlc_min(c, n, dlc_int(c, g_B->shape[0] - 1));
    return dlc_select(c, ok, dlc_read2(c, g_B, nc, i[1]), dlc_const(c, 0, DLC_FLOAT32));
}

static dlc_expr_t *dense_body(dlc_ctx_t *c, dlc_expr_t *const *i, void *u) {
    dn_t *d = u;
    dlc_iter_var_t *k = dlc_te_reduce_axis(c, "k", d->a->shape[1]);
    dlc_expr_t *nr = dlc_int(c, d->nr);
    dlc_expr_t *b = dlc_read3(c, d->bp, dlc_div(c, i[1], nr), k->var, dlc_mod(c, i[1], nr));
    return dlc_sum(c, dlc_mul(c, dlc_read2(c, d->a, i[0], k->var), b), 1, &k);
}

#define CHECK(x)                                                               \
    do {                                                                       \
        if ((x) < 0) {                                                         \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, dlc_last_error()); \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

/* Lowers the scheduled kernel as entry `name` in ctx. */
static dlc_lowered_func_t *make_func(dlc_ctx_t *ctx, const char *name, int64_t M, int64_t N, int64_t K, int64_t mr,
                                     int64_t nr, int64_t kb) {
    dlc_tensor_t *A = dlc_te_placeholder(ctx, "A", 2, (int64_t[]){M, K}, DLC_FLOAT32);
    dlc_tensor_t *B = dlc_te_placeholder(ctx, "B", 2, (int64_t[]){N, K}, DLC_FLOAT32);
    g_nr = nr;
    g_B = B;
    dlc_tensor_t *Bp = dlc_te_compute(ctx, "Bpack", 3, (int64_t[]){(N + nr - 1) / nr, K, nr}, pack_body, NULL);
    dn_t d = {A, Bp, nr};
    dlc_tensor_t *C = dlc_te_compute(ctx, "C", 2, (int64_t[]){M, N}, dense_body, &d);
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &C);
    dlc_tensor_t *CL = dlc_sched_cache_write(s, C, DLC_SCOPE_LOCAL);
    dlc_stage_t *sc = dlc_sched_stage(s, C), *sl = dlc_sched_stage(s, CL), *sp = dlc_sched_stage(s, Bp);
    dlc_iter_var_t *mo, *no, *mi, *ni;
    CHECK(dlc_stage_tile(sc, dlc_stage_axis(sc, 0), dlc_stage_axis(sc, 1), mr, nr, &mo, &no, &mi, &ni));
    CHECK(dlc_stage_parallel(sc, mo));
    CHECK(dlc_stage_vectorize(sc, ni));
    CHECK(dlc_stage_compute_at(sl, sc, no));
    dlc_iter_var_t *k = dlc_stage_reduce_axis(sl, 0), *ko, *ki;
    CHECK(dlc_stage_split(sl, k, kb, &ko, &ki));
    CHECK(dlc_stage_reorder(sl, 4, (dlc_iter_var_t *[]){ko, ki, dlc_stage_axis(sl, 0), dlc_stage_axis(sl, 1)}));
    CHECK(dlc_stage_unroll(sl, ki));
    CHECK(dlc_stage_unroll(sl, dlc_stage_axis(sl, 0)));
    CHECK(dlc_stage_vectorize(sl, dlc_stage_axis(sl, 1)));
    CHECK(dlc_stage_parallel(sp, dlc_stage_axis(sp, 0)));
    CHECK(dlc_stage_vectorize(sp, dlc_stage_axis(sp, 2)));
    dlc_lowered_func_t *f;
    CHECK(dlc_lower(s, name, 3, (dlc_tensor_t *[]){A, B, C}, 1, &f));
    f->flops = 2.0 * M * N * K;
    return f;
}

/* The C source of n variants (k unroll 1..n) in one translation unit. */
static char *make_source_n(int n, int64_t M, int64_t N, int64_t K, int64_t mr, int64_t nr, int64_t kb,
                           const dlc_target_t *t, const char *tag) {
    dlc_ctx_t *ctx = dlc_ctx_new();
    dlc_lowered_func_t *fs[16];
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, i ? "dense_bench_%d" : "dense_bench", i);
        fs[i] = make_func(ctx, name, M, N, K, mr, nr, i ? i : kb);
    }
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    if (tag) dlc_strbuf_printf(&sb, "/* %s */\n", tag);
    CHECK(dlc_codegen_c(fs, n, t, &sb));
    if (getenv("DLC_BENCH_PRINT")) fputs(sb.data, stdout);
    dlc_ctx_destroy(&ctx);
    return dlc_strbuf_take(&sb);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double best_of(int reps, void (*fn)(void *), void *u) {
    fn(u); /* warm-up */
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = dlc_now();
        fn(u);
        double t = dlc_now() - t0;
        if (t < best) best = t;
    }
    return best;
}

typedef struct {
    dlc_kernel_fn fn;
    void *data[3];
    int64_t M, N, K;
    float *A, *B, *C;
} run_t;
static void run_dlc(void *u) {
    run_t *r = u;
    r->fn(r->data);
}
static void run_blas(void *u) {
    run_t *r = u;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)r->M, (int)r->N, (int)r->K, 1.0f, r->A, (int)r->K, r->B,
                (int)r->K, 0.0f, r->C, (int)r->N);
}

int main(int argc, char **argv) {
    int64_t M = 1024, N = 1024, K = 1024, mr = 6, nr = 16, kb = 4;
    int pos = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--mr") && i + 1 < argc) mr = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--nr") && i + 1 < argc) nr = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--kb") && i + 1 < argc) kb = atoll(argv[++i]);
        else if (pos < 3) (pos == 0 ? (M = atoll(argv[i])) : pos == 1 ? (N = atoll(argv[i])) : (K = atoll(argv[i]))), pos++;
    }
    dlc_target_t t;
    CHECK(dlc_target_parse("llvm", &t));
    /* compile time: cold builds of distinct sources in a private cache */
    char tmpl[] = "/tmp/dlc-bench-XXXXXX";
    if (!mkdtemp(tmpl)) return 1;
    setenv("DLC_CACHE_DIR", tmpl, 1);
    double ct[5], gen[5], hit = 0;
    dlc_build_result_t br;
    for (int i = 0; i < 5; i++) {
        char tag[64];
        snprintf(tag, sizeof tag, "compile-time sample %d pid %d", i, (int)getpid());
        double t0 = dlc_now();
        char *src = make_source_n(1, M, N, K, mr, nr, kb, &t, tag);
        gen[i] = dlc_now() - t0;
        CHECK(dlc_build_so(src, strlen(src), &t, &br));
        ct[i] = dlc_now() - t0;
        if (i == 4) {
            double t1 = dlc_now();
            CHECK(dlc_build_so(src, strlen(src), &t, &br));
            hit = dlc_now() - t1;
            if (!br.cache_hit) fprintf(stderr, "warning: second build was not a cache hit\n");
        }
        free(src);
    }
    /* several candidates in one compiler invocation amortise cc's start-up */
    double batch = 0;
    {
        char tag[64];
        snprintf(tag, sizeof tag, "batch sample pid %d", (int)getpid());
        double t0 = dlc_now();
        char *src = make_source_n(8, M, N, K, mr, nr, kb, &t, tag);
        dlc_build_result_t bb;
        CHECK(dlc_build_so(src, strlen(src), &t, &bb));
        batch = (dlc_now() - t0) / 8;
        free(src);
    }
    qsort(ct, 5, sizeof ct[0], cmp_d);
    qsort(gen, 5, sizeof gen[0], cmp_d);
    dlc_module_t *mod = dlc_module_load(br.so_path);
    if (!mod) CHECK(-1);
    run_t r = {dlc_module_func(mod, "dense_bench"), {0}, M, N, K, NULL, NULL, NULL};
    r.A = aligned_alloc(64, (size_t)(M * K * 4 + 63) / 64 * 64);
    r.B = aligned_alloc(64, (size_t)(N * K * 4 + 63) / 64 * 64);
    float *Cd = aligned_alloc(64, (size_t)(M * N * 4 + 63) / 64 * 64);
    r.C = aligned_alloc(64, (size_t)(M * N * 4 + 63) / 64 * 64);
    srand(1);
    for (int64_t i = 0; i < M * K; i++) r.A[i] = (float)rand() / RAND_MAX - 0.5f;
    for (int64_t i = 0; i < N * K; i++) r.B[i] = (float)rand() / RAND_MAX - 0.5f;
    r.data[0] = r.A;
    r.data[1] = r.B;
    r.data[2] = Cd;
    double flops = 2.0 * M * N * K;
    printf("dense %lldx%lldx%lld float32 (C = A·B^T), register tile %lldx%lld, k unroll %lld\n", (long long)M,
           (long long)N, (long long)K, (long long)mr, (long long)nr, (long long)kb);
    printf("compile time (cold, median of 5): %.1f ms (dlc lower+codegen %.1f ms, cc the rest)   cache hit: %.2f ms\n",
           ct[2] * 1e3, gen[2] * 1e3, hit * 1e3);
    printf("compile time per kernel, 8 candidates in one cc invocation: %.1f ms\n", batch * 1e3);
    printf("%-8s %14s %16s %8s\n", "threads", "dlc GFLOP/s", "OpenBLAS GFLOP/s", "ratio");
    for (int th = 1; th <= 2; th++) {
        dlc_module_set_threads(th);
        openblas_set_num_threads(th);
        double td = best_of(10, run_dlc, &r), tb = best_of(10, run_blas, &r);
        printf("%-8d %14.1f %16.1f %8.2f\n", th, flops / td * 1e-9, flops / tb * 1e-9, tb / td);
    }
    double maxerr = 0;
    for (int64_t i = 0; i < M * N; i++) {
        double e = Cd[i] - r.C[i];
        if (e < 0) e = -e;
        if (e > maxerr) maxerr = e;
    }
    printf("max |dlc - OpenBLAS| = %.3g %s\n", maxerr, maxerr < 1e-2 ? "(ok)" : "(MISMATCH)");
    dlc_module_destroy(&mod);
    free(r.A);
    free(r.B);
    free(r.C);
    free(Cd);
    return maxerr < 1e-2 ? 0 : 1;
}
