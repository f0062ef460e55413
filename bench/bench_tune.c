/* bench_tune.c — the tuner's benchmarks, each peer in the same run:
 *
 *   peers       tune (dlc_tune_task, XGB by default, records in --db so a rerun
 *               resumes) dense 1024³, batch-1 dense 1×512·512×1000 and the
 *               ResNet-18 conv2d layers, with dlc's template and TVM's where
 *               both exist (each --trials), then measure the db's best config
 *               at 1 and 2 threads next to OpenBLAS sgemm / oneDNN's best
 *               convolution, in --rounds rounds of (dlc, peer) with each
 *               side's best kept; prints the ratios and the conv geomean.
 *   efficiency  XGB (cold, and with transfer learning from a db holding
 *               XGB-tuned records of other tasks of the same templates) vs
 *               random vs GA on 4 tasks × S seeds: trials each needs to reach
 *               95% of the best GFLOP/s any tuner found on that task.
 *   replay      the same comparison without measurement noise: each task's
 *               whole space measured once (records in --db), then every tuner
 *               run for many seeds against the stored GFLOP/s
 *               (bench_tune_replay.c).
 *   throughput  trials per second on small kernels, with where the time goes
 *               (generate, compile, measure, tuner).
 *
 * Markdown on stdout, progress on stderr. Exit: 0, 1 a best config failed its
 * check or a peer failed, 2 usage error. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_peers.h"
#include "bench_tune_replay.h"
#include "db/dlc_db.h"
#include "tuner/dlc_tune.h"

typedef enum { PEER_SGEMM, PEER_DNNL } peer_kind_t;
typedef struct {
    const char *label, *spec, *tmpl;
    peer_kind_t peer;
    const char *tmpl2; /* peers: a second template tuned too, the better one measured */
} btask_t;

/* ResNet-18's conv2d layers (batch 1, 224×224 input): conv1, the 3×3 layers of
 * each stage, the strided 3×3 that opens stages 2–4 and their 1×1 downsamples. */
static const btask_t k_peers[] = {
    {"dense 1024×1024×1024", "dense:1024,1024,1024", "dense_tiled.cpu", PEER_SGEMM, "dense_pack.x86"},
    {"dense 1×512·512×1000", "dense:1,1000,512", "dense_tiled.cpu", PEER_SGEMM, NULL},
    {"conv1 3→64 7×7/2 224", "conv2d:1,3,224,224,64,7,7,2,3", "conv2d_tiled.x86", PEER_DNNL, "conv2d_NCHWc.x86"},
    {"64→64 3×3 56", "conv2d:1,64,56,56,64,3,3,1,1", "conv2d_tiled.x86", PEER_DNNL, "conv2d_NCHWc.x86"},
    {"64→128 3×3/2 56", "conv2d:1,64,56,56,128,3,3,2,1", "conv2d_tiled.x86", PEER_DNNL, "conv2d_NCHWc.x86"},
    {"64→128 1×1/2 56", "conv2d:1,64,56,56,128,1,1,2,0", "conv2d_tiled.x86", PEER_DNNL, "conv2d_NCHWc.x86"},
    {"128→128 3×3 28", "conv2d:1,128,28,28,128,3,3,1,1", "conv2d_tiled.x86", PEER_DNNL, "conv2d_NCHWc.x86"},
    {"128→256 3×3/2 28", "conv2d:1,128,28,28,256,3,3,2,1", "conv2d_tiled.x86", PEER_DNNL, "conv2d_NCHWc.x86"},
    {"128→256 1×1/2 28", "conv2d:1,128,28,28,256,1,1,2,0", "conv2d_tiled.x86", PEER_DNNL, "conv2d_NCHWc.x86"},
    {"256→256 3×3 14", "conv2d:1,256,14,14,256,3,3,1,1", "conv2d_tiled.x86", PEER_DNNL, "conv2d_NCHWc.x86"},
    {"256→512 3×3/2 14", "conv2d:1,256,14,14,512,3,3,2,1", "conv2d_tiled.x86", PEER_DNNL, "conv2d_NCHWc.x86"},
    {"256→512 1×1/2 14", "conv2d:1,256,14,14,512,1,1,2,0", "conv2d_tiled.x86", PEER_DNNL, "conv2d_NCHWc.x86"},
    {"512→512 3×3 7", "conv2d:1,512,7,7,512,3,3,1,1", "conv2d_tiled.x86", PEER_DNNL, "conv2d_NCHWc.x86"},
};
#define N_PEERS (int)(sizeof k_peers / sizeof k_peers[0])

/* Tuner efficiency: mid-sized tasks whose spaces are large. */
static const btask_t k_eff[] = {
    {"dense 256×256×256", "dense:256,256,256", "dense_pack.x86", PEER_SGEMM, NULL},
    {"conv 64→64 3×3 28", "conv2d:1,64,28,28,64,3,3,1,1", "conv2d_NCHWc.x86", PEER_DNNL, NULL},
    {"conv 128→128 3×3 14", "conv2d:1,128,14,14,128,3,3,1,1", "conv2d_NCHWc.x86", PEER_DNNL, NULL},
    {"conv 64→128 1×1/2 28", "conv2d:1,64,28,28,128,1,1,2,0", "conv2d_NCHWc.x86", PEER_DNNL, NULL},
};
#define N_EFF (int)(sizeof k_eff / sizeof k_eff[0])

typedef struct {
    const char *mode, *db_path, *only;
    int64_t trials;
    int seeds, first_seed, threads, final_repeat, rounds;
    double final_ms;
    dlc_tuner_kind_t tuner;
} opts_t;

static dlc_target_t g_target;

static void usage(FILE *f) {
    fputs("usage: bench_tune peers|efficiency|replay|throughput [--trials N] [--tuner KIND] [--db PATH]\n"
          "                  [--only SUBSTR] [--seeds S] [--first-seed F] [--threads T] [--rounds R]\n"
          "  peers       tune the dense and ResNet-18 conv2d tasks (default 1000 trials each; rerun with\n"
          "              the same --db resumes), then best config vs OpenBLAS / oneDNN at 1 and 2 threads\n"
          "  efficiency  xgb, random and ga on 4 tasks x --seeds (default 3) runs of --trials (default 300):\n"
          "              trials to reach 95% of the best any tuner found (seeds F..F+S-1, F default 1)\n"
          "  replay      the efficiency tasks' whole spaces measured once into --db (a rerun resumes), then\n"
          "              xgb (dlc's defaults, AutoTVM's fit cadence, knob features, ...), random and ga\n"
          "              replayed on them for --seeds\n"
          "              (default 3) runs of --trials (default 192): trials to 95% of the space's best\n"
          "  throughput  trials/s for small kernels (--trials, default 128), and where the time goes\n"
          "  --threads T threads of the kernels while tuning (default 2)\n"
          "  --rounds R  peers: the final measurement as R rounds of (dlc, peer), each side's best (default 3)\n",
          f);
}

static int parse(int argc, char **argv, opts_t *o) {
    *o = (opts_t){.db_path = "bench-tune.db", .seeds = 3, .first_seed = 1, .threads = 2, .final_repeat = 10, .final_ms = 50, .rounds = 3,
                  .tuner = DLC_TUNER_XGB};
    if (argc < 2 || (strcmp(argv[1], "peers") && strcmp(argv[1], "efficiency") && strcmp(argv[1], "replay") &&
                     strcmp(argv[1], "throughput")))
        return -1;
    o->mode = argv[1];
    o->trials = !strcmp(o->mode, "peers") ? 1000 : !strcmp(o->mode, "efficiency") ? 300
                : !strcmp(o->mode, "replay")                                     ? 192
                                                                                 : 128;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v)
            return -1;
        if (!strcmp(a, "--trials"))
            o->trials = atoll(v);
        else if (!strcmp(a, "--tuner") && dlc_tuner_kind_parse(v) >= 0)
            o->tuner = (dlc_tuner_kind_t)dlc_tuner_kind_parse(v);
        else if (!strcmp(a, "--db"))
            o->db_path = v;
        else if (!strcmp(a, "--only"))
            o->only = v;
        else if (!strcmp(a, "--seeds"))
            o->seeds = atoi(v);
        else if (!strcmp(a, "--first-seed"))
            o->first_seed = atoi(v);
        else if (!strcmp(a, "--threads"))
            o->threads = atoi(v);
        else if (!strcmp(a, "--rounds"))
            o->rounds = atoi(v);
        else
            return -1;
        i++;
    }
    return o->trials > 0 && o->seeds > 0 && o->threads > 0 && o->rounds > 0 ? 0 : -1;
}

static dlc_task_t *make_task(const btask_t *bt) {
    dlc_op_spec_t spec;
    dlc_task_t *task = NULL;
    if (dlc_op_parse(bt->spec, &spec) < 0 || dlc_task_from_spec(&spec, bt->tmpl, &g_target, &task) < 0)
        fprintf(stderr, "bench_tune: %s: %s\n", bt->spec, dlc_last_error());
    return task;
}

/* check: compare with the naive reference. Off while searching large tasks
 * (AutoTVM's default; the naive reference of dense 1024³ alone takes seconds),
 * always on for the final measurement of the best config. */
static dlc_measurer_t *measurer(int threads, int repeat, double min_ms, int check) {
    dlc_measurer_opts_t mo;
    dlc_measurer_opts_default(&mo);
    mo.mo.check = check;
    mo.mo.threads = threads;
    mo.mo.repeat = repeat;
    mo.mo.min_repeat_ms = min_ms;
    mo.mo.timeout_s = 60;
    return dlc_measurer_new(&mo);
}

static void progress(const dlc_tune_progress_t *p, const dlc_trial_t *t, void *user) {
    (void)t;
    if (p->done % 16 == 0 || p->done == p->total)
        fprintf(stderr, "\r  %s: %lld/%lld trials, best %.2f GFLOP/s, %.0f s   ", (const char *)user,
                (long long)p->done, (long long)p->total, p->best_gflops, p->elapsed_s);
}

/* ---- peers ---- */
static double peer_gflops(const btask_t *bt, const dlc_op_spec_t *spec, int threads, double flops, char *impl,
                          size_t cap) {
    peer_timing_t pt = {10, 50.0};
    peer_result_t pr;
    int rc = bt->peer == PEER_SGEMM ? peer_sgemm_nt(spec->p[0], spec->p[1], spec->p[2], threads, &pt, &pr)
                                    : peer_dnnl_conv(spec->p, threads, &pt, &pr);
    snprintf(impl, cap, "%s", pr.impl);
    return rc == 0 && pr.best_s > 0 ? flops / pr.best_s / 1e9 : 0;
}

static int run_peers(const opts_t *o) {
    dlc_db_t *db = dlc_db_open(o->db_path, 0);
    if (!db) {
        fprintf(stderr, "bench_tune: %s: %s\n", o->db_path, dlc_last_error());
        return 2;
    }
    int code = 0, n_conv = 0;
    double log_sum[2] = {0, 0};
    printf("| task | template | trials | threads | dlc GFLOP/s | peer GFLOP/s | dlc/peer | peer |\n"
           "|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < N_PEERS; i++) {
        const btask_t *bt = &k_peers[i];
        if (o->only && !strstr(bt->label, o->only) && !strstr(bt->spec, o->only))
            continue;
        /* each of the task's templates tuned in turn (what dlc-tune --template
         * all does), then the db's best across them, as dlc-build --db picks */
        dlc_task_t *tasks[2] = {NULL, NULL};
        int n_t = 0;
        int64_t trials = 0;
        for (int k = 0; k < 2; k++) {
            btask_t one = *bt;
            one.tmpl = k ? bt->tmpl2 : bt->tmpl;
            if (k && !one.tmpl)
                break;
            dlc_task_t *t = make_task(&one);
            if (!t)
                return 2;
            dlc_measurer_t *m = measurer(o->threads, 3, 20, 0);
            dlc_tune_opts_t to;
            dlc_tune_opts_default(&to);
            to.tuner = o->tuner;
            to.trials = o->trials;
            to.db = db;
            to.resume = 1;
            to.early_stopping = o->trials / 2 > 200 ? o->trials / 2 : 200;
            to.on_trial = progress;
            to.user = (void *)bt->label;
            dlc_tune_summary_t sum;
            int rc = dlc_tune_task(t, m, &to, &sum);
            fprintf(stderr, "\n");
            dlc_measurer_destroy(&m);
            if (rc < 0 || sum.best_index < 0) {
                fprintf(stderr, "bench_tune: %s (%s): tuning failed: %s\n", bt->label, one.tmpl ? one.tmpl : "default",
                        rc < 0 ? dlc_last_error() : "no valid config");
                dlc_task_destroy(&t);
                code = 1;
            } else {
                tasks[n_t++] = t;
                trials += sum.trials + sum.resumed;
            }
            dlc_tune_summary_clear(&sum);
        }
        if (n_t == 0)
            continue;
        dlc_config_t *cfg = NULL;
        int chosen = 0;
        int64_t best = -1;
        if (dlc_db_apply_best_of(db, tasks, n_t, &chosen, &cfg, NULL) == 0)
            best = dlc_config_index(cfg);
        dlc_config_destroy(&cfg);
        dlc_task_t *task = tasks[chosen];
        for (int k = 0; k < n_t; k++)
            if (k != chosen)
                dlc_task_destroy(&tasks[k]);
        if (best < 0) {
            fprintf(stderr, "bench_tune: %s: no best record: %s\n", bt->label, dlc_last_error());
            dlc_task_destroy(&task);
            code = 1;
            continue;
        }
        dlc_op_spec_t spec;
        dlc_op_parse(bt->spec, &spec);
        for (int th = 1; th <= 2; th++) {
            /* rounds of (dlc, peer), each side's best over them: a burst of
             * another tenant's work then costs one round, not one side */
            double mine = 0, peer = 0;
            char impl[160] = "";
            dlc_measurer_t *fm = measurer(th, o->final_repeat, o->final_ms, 1);
            for (int round = 0; round < o->rounds; round++) {
                dlc_trial_t t;
                dlc_measurer_run(fm, task, &best, 1, &t, NULL, NULL);
                for (int k = 0; k < t.n_costs; k++) /* the best repeat, as the peer reports it */
                    mine = fmax(mine, dlc_task_flops(task) / t.costs[k] / 1e9);
                if (t.error_no) {
                    fprintf(stderr, "bench_tune: %s: best config %lld: %s: %s\n", bt->label, (long long)best,
                            dlc_measure_error_name(t.error_no), t.message);
                    code = 1;
                }
                char pi[160];
                double p = peer_gflops(bt, &spec, th, dlc_task_flops(task), pi, sizeof pi);
                if (p > peer) {
                    peer = p;
                    snprintf(impl, sizeof impl, "%s", pi);
                }
            }
            dlc_measurer_destroy(&fm);
            if (peer <= 0)
                code = 1;
            double ratio = peer > 0 ? mine / peer : 0;
            if (bt->peer == PEER_DNNL && ratio > 0) {
                log_sum[th - 1] += log(ratio);
                n_conv += th == 1;
            }
            printf("| %s | %s | %lld | %d | %.1f | %.1f | %.2f× | %s |\n", bt->label, dlc_task_template(task)->name,
                   (long long)trials, th, mine, peer, ratio, impl);
            fflush(stdout);
        }
        dlc_task_destroy(&task);
    }
    if (n_conv > 0)
        printf("\nconv2d geomean dlc/oneDNN over %d layers: %.2f× at 1 thread, %.2f× at 2 threads\n", n_conv,
               exp(log_sum[0] / n_conv), exp(log_sum[1] / n_conv));
    dlc_db_close(&db);
    return code;
}

/* ---- efficiency ---- */
typedef struct {
    double *curve; /* best GFLOP/s after each trial */
    int64_t n;
} curve_t;

static void on_curve(const dlc_tune_progress_t *p, const dlc_trial_t *t, void *user) {
    (void)t;
    curve_t *c = user;
    if (p->done - 1 < c->n)
        c->curve[p->done - 1] = p->best_gflops;
}

/* Transfer learning's history: records of other tasks of the same templates,
 * tuned by the XGB tuner (what a user who tuned other layers with dlc-tune
 * first has in the db). None of them is an efficiency task. */
static const btask_t k_warm[] = {
    {"dense 128×128×128", "dense:128,128,128", "dense_pack.x86", PEER_SGEMM, NULL},
    {"conv 32→32 3×3 28", "conv2d:1,32,28,28,32,3,3,1,1", "conv2d_NCHWc.x86", PEER_DNNL, NULL},
    {"conv 32→64 1×1/2 28", "conv2d:1,32,28,28,64,1,1,2,0", "conv2d_NCHWc.x86", PEER_DNNL, NULL},
};

static int copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = a ? fopen(to, "wb") : NULL;
    char buf[65536];
    size_t n;
    int ok = a && b;
    while (ok && (n = fread(buf, 1, sizeof buf, a)) > 0)
        ok = fwrite(buf, 1, n, b) == n;
    if (a) fclose(a);
    if (b && fclose(b) != 0) ok = 0;
    return ok ? 0 : -1;
}

/* The history db (path hist): the warm-up tasks, 128 XGB trials each. */
static int make_history(const opts_t *o, const char *hist) {
    dlc_db_t *db = dlc_db_open(hist, 0);
    if (!db) {
        fprintf(stderr, "bench_tune: %s: %s\n", hist, dlc_last_error());
        return -1;
    }
    for (size_t i = 0; i < sizeof k_warm / sizeof *k_warm; i++) {
        dlc_task_t *task = make_task(&k_warm[i]);
        if (!task) {
            dlc_db_close(&db);
            return -1;
        }
        dlc_measurer_t *m = measurer(o->threads, 3, 20, 0);
        dlc_tune_opts_t to;
        dlc_tune_opts_default(&to);
        to.tuner = DLC_TUNER_XGB;
        to.trials = 128;
        to.db = db;
        to.seed = 1000 + (uint64_t)i;
        dlc_tune_summary_t sum;
        int rc = dlc_tune_task(task, m, &to, &sum);
        fprintf(stderr, "history: %s, %lld XGB trials, best %.2f GFLOP/s\n", k_warm[i].label, (long long)sum.trials,
                sum.best_gflops);
        dlc_tune_summary_clear(&sum);
        dlc_measurer_destroy(&m);
        dlc_task_destroy(&task);
        if (rc < 0) {
            dlc_db_close(&db);
            return -1;
        }
    }
    dlc_db_close(&db);
    return 0;
}

static int run_efficiency(const opts_t *o) {
    /* xgb twice: cold, and with transfer from the history db (a fresh copy
     * for every run, so no run learns from another efficiency run) */
    static const dlc_tuner_kind_t kinds[] = {DLC_TUNER_XGB, DLC_TUNER_XGB, DLC_TUNER_RANDOM, DLC_TUNER_GA};
    static const char *const names[] = {"xgb", "xgb+transfer", "random", "ga"};
    enum { NK = 4, K_XFER = 1 };
    double need_sum[NK] = {0};
    int need_n[NK] = {0}, never[NK] = {0};
    char hist[96], scratch[112];
    snprintf(hist, sizeof hist, "/tmp/bench-tune-history-%d.db", (int)getpid());
    snprintf(scratch, sizeof scratch, "%s.run", hist);
    remove(hist);
    if (make_history(o, hist) < 0)
        return 2;
    printf("| task | seed | best GFLOP/s | 95%% target | trials: xgb | xgb+transfer | random | ga |\n"
           "|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < N_EFF; i++) {
        const btask_t *bt = &k_eff[i];
        if (o->only && !strstr(bt->label, o->only))
            continue;
        dlc_task_t *task = make_task(bt);
        if (!task)
            return 2;
        for (int seed = o->first_seed; seed < o->first_seed + o->seeds; seed++) {
            curve_t c[NK];
            double best = 0;
            for (int k = 0; k < NK; k++) {
                c[k].n = o->trials;
                c[k].curve = calloc((size_t)o->trials, sizeof(double));
                dlc_measurer_t *m = measurer(o->threads, 3, 20, 0);
                dlc_tune_opts_t to;
                dlc_tune_opts_default(&to);
                to.tuner = kinds[k];
                to.trials = o->trials;
                to.seed = (uint64_t)seed;
                to.on_trial = on_curve;
                to.user = &c[k];
                dlc_db_t *db = NULL;
                if (k == K_XFER) {
                    remove(scratch);
                    if (copy_file(hist, scratch) < 0 || !(db = dlc_db_open(scratch, 0)))
                        fprintf(stderr, "bench_tune: history copy %s: failed\n", scratch);
                    to.db = db;
                    to.transfer = 1;
                }
                dlc_tune_summary_t sum;
                dlc_tune_task(task, m, &to, &sum);
                fprintf(stderr, "%s seed %d %s: best %.2f GFLOP/s in %lld trials (%lld history rows), %.0f s\n", bt->label,
                        seed, names[k], sum.best_gflops, (long long)sum.trials, (long long)sum.history, sum.elapsed_s);
                for (int64_t t = 1; t < o->trials; t++) /* a run that ended early keeps its best */
                    if (c[k].curve[t] < c[k].curve[t - 1])
                        c[k].curve[t] = c[k].curve[t - 1];
                best = fmax(best, sum.best_gflops);
                dlc_tune_summary_clear(&sum);
                dlc_measurer_destroy(&m);
                dlc_db_close(&db);
            }
            printf("| %s | %d | %.1f | %.1f |", bt->label, seed, best, 0.95 * best);
            for (int k = 0; k < NK; k++) {
                int64_t t = 0;
                while (t < o->trials && c[k].curve[t] < 0.95 * best)
                    t++;
                if (t < o->trials) {
                    printf(" %lld |", (long long)t + 1);
                    need_sum[k] += (double)(t + 1);
                    need_n[k]++;
                } else {
                    printf(" >%lld |", (long long)o->trials);
                    need_sum[k] += (double)o->trials; /* counted at the budget: a lower bound */
                    need_n[k]++;
                    never[k]++;
                }
                free(c[k].curve);
            }
            printf("\n");
            fflush(stdout);
        }
        dlc_task_destroy(&task);
    }
    remove(scratch);
    remove(hist);
    printf("\nmean trials to 95%% of the best (runs that never got there counted at the budget):");
    for (int k = 0; k < NK; k++)
        printf(" %s %.0f (%d of %d never)%s", names[k], need_n[k] ? need_sum[k] / need_n[k] : 0, never[k], need_n[k],
               k + 1 < NK ? "," : "\n");
    if (need_n[0] && need_n[2])
        printf("xgb/random: %.2f, xgb+transfer/random: %.2f\n", (need_sum[0] / need_n[0]) / (need_sum[2] / need_n[2]),
               (need_sum[1] / need_n[1]) / (need_sum[2] / need_n[2]));
    return 0;
}

/* ---- replay ---- */
static int run_replay(const opts_t *o) {
    /* the efficiency tasks; dense on dlc's template (dense_pack.x86's 91125
     * configs are too many to measure whole) */
    static const btask_t tasks[] = {
        {"dense 256×256×256", "dense:256,256,256", "dense_tiled.cpu", PEER_SGEMM, NULL},
        {"conv 64→64 3×3 28", "conv2d:1,64,28,28,64,3,3,1,1", "conv2d_NCHWc.x86", PEER_DNNL, NULL},
        {"conv 128→128 3×3 14", "conv2d:1,128,14,14,128,3,3,1,1", "conv2d_NCHWc.x86", PEER_DNNL, NULL},
        {"conv 64→128 1×1/2 28", "conv2d:1,64,28,28,128,1,1,2,0", "conv2d_NCHWc.x86", PEER_DNNL, NULL},
    };
    static const replay_variant_t v[] = {
        {"xgb", DLC_TUNER_XGB, 0, 0, 0},                   /* the defaults: first fit at 16, then every 16+ */
        {"xgb as AutoTVM", DLC_TUNER_XGB, 64, 0, 64},      /* a fit every plan of 64 */
        {"xgb fit@32, doubling", DLC_TUNER_XGB, 32, 0, -1}, /* dlc's earlier default */
        {"xgb knob", DLC_TUNER_XGB, 0, 1, 0},              /* knob features instead of itervar */
        {"random", DLC_TUNER_RANDOM, 0, 0, 0},
        {"ga", DLC_TUNER_GA, 0, 0, 0},
    };
    enum { NV = sizeof v / sizeof *v, K_RANDOM = 4 };
    double sum[NV] = {0}, tuner_s[NV] = {0}, expected = 0; /* expected: random search's mean, exactly */
    int never[NV] = {0}, runs = 0;
    dlc_db_t *db = dlc_db_open(o->db_path, 0);
    if (!db) {
        fprintf(stderr, "bench_tune: %s: %s\n", o->db_path, dlc_last_error());
        return 2;
    }
    dlc_measurer_t *m = measurer(o->threads, 3, 20, 0);
    printf("seeds %d..%d, %lld trials each; mean trials to 95%% of the space's best (* some seed never got there,"
           " counted at the budget)\n\n| task | template | configs measured | best GFLOP/s | within 5%% |"
           " random, expected |",
           o->first_seed, o->first_seed + o->seeds - 1, (long long)o->trials);
    for (int k = 0; k < NV; k++)
        printf(" %s |", v[k].name);
    printf("\n|---|---|---|---|---|---|");
    for (int k = 0; k < NV; k++)
        printf("---|");
    printf("\n");
    int code = 0;
    for (size_t i = 0; i < sizeof tasks / sizeof *tasks && code == 0; i++) {
        if (o->only && !strstr(tasks[i].label, o->only))
            continue;
        dlc_task_t *task = make_task(&tasks[i]);
        if (!task || bench_replay_task(tasks[i].label, task, m, db, o->trials, o->first_seed, o->seeds, v, NV, sum,
                                       never, tuner_s, &expected) < 0)
            code = 1;
        runs += o->seeds;
        dlc_task_destroy(&task);
    }
    dlc_measurer_destroy(&m);
    dlc_db_close(&db);
    if (code || !runs)
        return code;
    printf("\nmean over %d runs:", runs);
    for (int k = 0; k < NV; k++)
        printf(" %s %.1f (%d never; tuner %.1f s a run)%s", v[k].name, sum[k] / runs, never[k], tuner_s[k] / runs,
               k + 1 < NV ? "," : "\n");
    for (int k = 0; k < NV; k++)
        if (k != K_RANDOM)
            printf("%s/random: %.2f%s", v[k].name, sum[k] / sum[K_RANDOM], k + 1 < NV ? ", " : "\n");
    /* The random runs' mean moves with the seeds (seeds 1..20 drew luckily
     * slow ones); its expectation over all orders does not. */
    printf("random search's expectation: %.1f trials; against it:", expected / runs);
    for (int k = 0; k < NV; k++)
        if (k != K_RANDOM)
            printf(" %s %.2f%s", v[k].name, sum[k] / expected, k + 1 < NV ? "," : "\n");
    return 0;
}

/* ---- throughput ---- */
static int run_throughput(const opts_t *o) {
    static const btask_t small[] = {
        {"dense 64×64×64", "dense:64,64,64", NULL, PEER_SGEMM, NULL}, /* the default templates */
        {"relu 4096", "relu:4096", NULL, PEER_SGEMM, NULL},
        {"conv 16→16 3×3 14", "conv2d:1,16,14,14,16,3,3,1,1", NULL, PEER_DNNL, NULL},
    };
    printf("| task | template | trials | trials/s | generate s | compile s (calls) | measure s | tuner s | wall s |\n"
           "|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof small / sizeof *small; i++) {
        dlc_task_t *task = make_task(&small[i]);
        if (!task)
            return 2;
        /* AutoTVM's measurement for small kernels: a few short repeats */
        dlc_measurer_t *m = measurer(1, 2, 5, 1);
        dlc_tune_opts_t to;
        dlc_tune_opts_default(&to);
        to.tuner = o->tuner;
        to.trials = o->trials;
        to.seed = (uint64_t)time(NULL); /* fresh configs: no compile-cache hits */
        dlc_tune_summary_t sum;
        dlc_tune_task(task, m, &to, &sum);
        dlc_measurer_stats_t st;
        dlc_measurer_stats(m, &st);
        printf("| %s | %s | %lld | %.1f | %.1f | %.1f (%lld + %lld refs, %lld cached) | %.1f | %.1f | %.1f |\n",
               small[i].label, dlc_task_template(task)->name, (long long)sum.trials, sum.trials / sum.elapsed_s,
               st.prepare_s, st.build_s, (long long)st.builds, (long long)st.ref_builds, (long long)st.cache_hits,
               st.measure_s, sum.model_s, sum.elapsed_s);
        fflush(stdout);
        dlc_tune_summary_clear(&sum);
        dlc_measurer_destroy(&m);
        dlc_task_destroy(&task);
    }
    return 0;
}

int main(int argc, char **argv) {
    peer_openblas_at_its_best(argv);
    opts_t o;
    if (parse(argc, argv, &o) < 0) {
        usage(stderr);
        return 2;
    }
    if (dlc_target_parse("llvm", &g_target) < 0)
        return 2;
    char line[256] = "";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(line, sizeof line, f))
            line[0] = 0;
        fclose(f);
    }
    time_t now = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    printf("bench_tune %s, %s, load %s\n", o.mode, date, line);
    if (!strcmp(o.mode, "peers"))
        return run_peers(&o);
    if (!strcmp(o.mode, "efficiency"))
        return run_efficiency(&o);
    if (!strcmp(o.mode, "replay"))
        return run_replay(&o);
    return run_throughput(&o);
}
