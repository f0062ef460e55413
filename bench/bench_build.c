/* bench_build.c — see bench_build.h. */
#define _GNU_SOURCE
#include "bench_build.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void bench_entry_name(int64_t index, char *out, size_t cap) { snprintf(out, cap, "c%lld", (long long)index); }

/* Instantiates configs idx[0..n), lowers each as c<index> with its reference
 * c<index>_ref and writes one translation unit into out. err[i] gets config
 * i's error (0, INSTANTIATION_ERROR or COMPILE_HOST). Returns the number of
 * configs in the unit, or -1 if code generation failed. */
static int gen_unit(dlc_task_t *task, const dlc_target_t *target, const int64_t *idx, int n, dlc_strbuf_t *out,
                    int *err) {
    dlc_ctx_t **ctxs = calloc((size_t)n, sizeof *ctxs);
    dlc_lowered_func_t **fs = calloc((size_t)(2 * n), sizeof *fs);
    if (!ctxs || !fs) abort();
    int nf = 0, nk = 0;
    for (int i = 0; i < n; i++) {
        dlc_config_t *cfg = NULL;
        err[i] = DLC_MEASURE_INSTANTIATION_ERROR;
        if (dlc_space_get(dlc_task_space(task), idx[i], &cfg) < 0) continue;
        dlc_ctx_t *ctx = ctxs[i] = dlc_ctx_new();
        dlc_op_t op;
        dlc_schedule_t *s;
        char name[32], ref[40];
        bench_entry_name(idx[i], name, sizeof name);
        snprintf(ref, sizeof ref, "%s_ref", name);
        dlc_lowered_func_t *f = NULL, *fr = NULL;
        if (dlc_task_instantiate(task, cfg, ctx, &op, &s) == 0) {
            err[i] = DLC_MEASURE_COMPILE_HOST;
            if (dlc_lower(s, name, op.n_args, op.args, op.n_outputs, &f) == 0 &&
                dlc_lower_reference(ctx, ref, op.n_args, op.args, op.n_outputs, &fr) == 0) {
                f->ref_name = dlc_arena_strdup(dlc_ctx_arena(ctx), ref);
                f->flops = op.flops;
                fs[nf++] = f;
                fs[nf++] = fr;
                err[i] = 0;
                nk++;
            }
        }
        if (err[i])
            fprintf(stderr, "%s config %lld: %s: %s\n", dlc_task_template(task)->name, (long long)idx[i],
                    dlc_measure_error_name(err[i]), dlc_last_error());
        dlc_config_destroy(&cfg);
    }
    int rc = nf ? dlc_codegen_c(fs, nf, target, out) : 0;
    for (int i = 0; i < n; i++) dlc_ctx_destroy(&ctxs[i]);
    free(ctxs);
    free(fs);
    return rc < 0 ? -1 : nk;
}

/* ---- builds in child processes under a time limit ---- */

typedef struct {
    int rc;
    dlc_build_result_t br;
    char msg[512];
} build_msg_t;

typedef struct {
    int member[32];    /* positions in the trial array */
    int n;
    char *src;         /* owned */
    size_t len;
    double limit_s;
    int rc;            /* 0, DLC_ETIMEOUT or the build's error */
    char so[PATH_MAX];
} unit_t;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Starts the build of u in a child in its own process group; returns its pid
 * (the read end of its result pipe in *fd) or -1. */
static pid_t start_build(const unit_t *u, const dlc_target_t *target, int *fd) {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) return -1;
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        close(p[0]);
        build_msg_t m;
        memset(&m, 0, sizeof m);
        m.rc = dlc_build_so(u->src, u->len, target, &m.br);
        if (m.rc < 0) snprintf(m.msg, sizeof m.msg, "%s", dlc_last_error());
        const char *b = (const char *)&m;
        for (size_t off = 0; off < sizeof m;) {
            ssize_t w = write(p[1], b + off, sizeof m - off);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) break;
            off += (size_t)w;
        }
        _exit(0);
    }
    setpgid(pid, pid); /* also here: no race with the kill below */
    close(p[1]);
    *fd = p[0];
    return pid;
}

static void finish_build(unit_t *u, int fd) {
    build_msg_t m;
    size_t got = 0;
    while (got < sizeof m) {
        ssize_t r = read(fd, (char *)&m + got, sizeof m - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        got += (size_t)r;
    }
    close(fd);
    if (got < sizeof m) {
        u->rc = DLC_ESUBPROCESS;
        fprintf(stderr, "build process died\n");
        return;
    }
    u->rc = m.rc;
    if (m.rc == 0) snprintf(u->so, sizeof u->so, "%s", m.br.so_path);
    else fprintf(stderr, "build failed: %.400s\n", m.msg);
}

/* Builds units u[0..n), `jobs` at a time; kills a unit's process group when
 * it runs over its limit (rc DLC_ETIMEOUT). */
static void build_units(unit_t *u, int n, const dlc_target_t *target, int jobs) {
    pid_t pid[64];
    int fd[64], which[64], running = 0, next = 0;
    double t0[64];
    if (jobs > 64) jobs = 64;
    while (next < n || running) {
        while (running < jobs && next < n) {
            if (u[next].rc) { /* no source to build */
                next++;
                continue;
            }
            int f = -1;
            pid_t p = start_build(&u[next], target, &f);
            if (p < 0) {
                u[next++].rc = DLC_ESUBPROCESS;
                continue;
            }
            pid[running] = p;
            fd[running] = f;
            which[running] = next++;
            t0[running++] = now_s();
        }
        for (int j = 0; j < running; j++) {
            int st;
            pid_t r = waitpid(pid[j], &st, WNOHANG);
            unit_t *uj = &u[which[j]];
            if (r == 0 && now_s() - t0[j] <= uj->limit_s) continue;
            if (r == 0) { /* over its limit: the child, cc and cc's children */
                kill(-pid[j], SIGKILL);
                waitpid(pid[j], &st, 0);
                close(fd[j]);
                uj->rc = DLC_ETIMEOUT;
            } else {
                finish_build(uj, fd[j]);
            }
            pid[j] = pid[running - 1];
            fd[j] = fd[running - 1];
            which[j] = which[running - 1];
            t0[j] = t0[running - 1];
            running--;
            j--;
        }
        if (running) usleep(5000);
    }
}

/* ---- packing configs into units ---- */

static void unit_source(dlc_task_t *task, const dlc_target_t *target, bench_trial_t *t, unit_t *u, int *err) {
    int64_t idx[32];
    for (int i = 0; i < u->n; i++) idx[i] = t[u->member[i]].index;
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    if (gen_unit(task, target, idx, u->n, &sb, err) < 0) u->rc = DLC_ECODEGEN;
    u->len = sb.len;
    u->src = dlc_strbuf_take(&sb);
    if (!u->src) u->src = strdup("");
}

int bench_build(dlc_task_t *task, const dlc_target_t *target, bench_trial_t *t, int n, const bench_build_opts_t *o,
                const char *label) {
    int too_big = 0;
    int per = o->per_unit < 1 ? 1 : o->per_unit > 32 ? 32 : o->per_unit;
    int chunk = 2 * per * (o->jobs > 0 ? o->jobs : 1); /* configs generated and built together */
    unit_t *u = calloc((size_t)chunk, sizeof *u), *retry = calloc((size_t)chunk, sizeof *retry);
    int err[32];
    if (!u || !retry) abort();
    int verbose = getenv("DLC_BENCH_VERBOSE") != NULL;
    dlc_progress_t *bar = dlc_progress_new(label, n, 0);
    for (int c0 = 0; c0 < n; c0 += chunk) {
        int c1 = c0 + chunk < n ? c0 + chunk : n, nu = 0;
        /* each config alone first: its size decides its unit */
        double tg = now_s();
        for (int i = c0; i < c1; i++) {
            dlc_strbuf_t sb;
            dlc_strbuf_init(&sb);
            int e = 0;
            if (gen_unit(task, target, &t[i].index, 1, &sb, &e) < 0 && !e) e = DLC_MEASURE_COMPILE_HOST;
            t[i].error_no = e;
            t[i].c_bytes = sb.len;
            if (!e && o->max_bytes && sb.len > o->max_bytes) {
                t[i].error_no = DLC_MEASURE_BUILD_TIMEOUT;
                too_big++;
            }
            dlc_strbuf_free(&sb);
        }
        /* large configs alone; the others in order, as many as fit in a unit */
        size_t bytes = 0;
        for (int i = c0; i < c1; i++)
            if (!t[i].error_no && t[i].c_bytes > o->alone_bytes) {
                memset(&u[nu], 0, sizeof *u);
                u[nu].member[u[nu].n++] = i;
                nu++;
            }
        for (int i = c0, first = nu; i < c1; i++) {
            if (t[i].error_no || t[i].c_bytes > o->alone_bytes) continue;
            if (nu == first || u[nu - 1].n == per || bytes + t[i].c_bytes > o->unit_bytes) {
                memset(&u[nu++], 0, sizeof *u);
                bytes = 0;
            }
            u[nu - 1].member[u[nu - 1].n++] = i;
            bytes += t[i].c_bytes;
        }
        for (int k = 0; k < nu; k++) {
            unit_source(task, target, t, &u[k], err);
            u[k].limit_s = o->timeout_s * u[k].n;
        }
        double tb = now_s();
        build_units(u, nu, target, o->jobs);
        /* configs of failed units, one by one */
        int nr = 0;
        for (int k = 0; k < nu; k++) {
            if (verbose)
                fprintf(stderr, "unit of %d configs, %zu bytes: %s\n", u[k].n, u[k].len,
                        u[k].rc ? dlc_status_name(u[k].rc) : "ok");
            for (int m = 0; m < u[k].n; m++) {
                bench_trial_t *tm = &t[u[k].member[m]];
                if (u[k].rc == 0) tm->so = strdup(u[k].so);
                else if (u[k].n == 1) tm->error_no = u[k].rc == DLC_ETIMEOUT ? DLC_MEASURE_BUILD_TIMEOUT : DLC_MEASURE_COMPILE_HOST;
                else {
                    memset(&retry[nr], 0, sizeof *retry);
                    retry[nr].member[0] = u[k].member[m];
                    retry[nr].n = 1;
                    unit_source(task, target, t, &retry[nr], err);
                    retry[nr++].limit_s = o->timeout_s;
                }
            }
            free(u[k].src);
        }
        build_units(retry, nr, target, o->jobs);
        for (int k = 0; k < nr; k++) {
            bench_trial_t *tm = &t[retry[k].member[0]];
            if (retry[k].rc == 0) tm->so = strdup(retry[k].so);
            else tm->error_no = retry[k].rc == DLC_ETIMEOUT ? DLC_MEASURE_BUILD_TIMEOUT : DLC_MEASURE_COMPILE_HOST;
            free(retry[k].src);
        }
        if (verbose)
            fprintf(stderr, "chunk %d..%d: %d units, %d retried; generate %.1f s, build %.1f s\n", c0, c1, nu, nr,
                    tb - tg, now_s() - tb);
        dlc_progress_update(bar, c1, NULL);
    }
    dlc_progress_destroy(&bar);
    free(u);
    free(retry);
    return too_big;
}
