/* bench_tracker.c — the fleet's broker under load: dlc-tracker with 1,000
 * simulated servers (bench_tracker_sim.c) and 50,000 no-op jobs from one
 * client; before that, one real measurement through the tracker and a
 * dlc-rpc-server against the same measurement made locally. Prints a
 * Markdown report on stdout, progress on stderr.
 *
 *   bench_tracker [--servers N] [--jobs N] [--window W,...] [--idle-jobs N]
 *                 [--threads T] [--real N] [--no-burst] [--time-limit S]
 *
 * What is measured, on one machine's CLOCK_MONOTONIC:
 *   dispatch: from the call of dlc_client_submit until a simulated server's
 *     thread holds the JOB frame: the client's encode and send, the
 *     tracker's receive, decode, queueing and dispatch, and the hop to the
 *     server;
 *   round trip: from the submit until dlc_client_poll returns the result;
 *   jobs/s: jobs / (first submit → last result).
 * Phases: "idle" keeps one job in flight (the floor of the overhead);
 * "loaded" runs --jobs once per --window W with at most W in flight, fewer
 * than the servers, so no job waits for a free server: with W in flight the
 * round trip is W / throughput (Little's law), so a small W shows the
 * overhead at high throughput and a large W the queues in the pipes;
 * "burst" submits --jobs at once (a deep queue: throughput and the
 * tracker's peak memory; its latency includes the wait in the queue).
 * Tracker memory is VmRSS/VmHWM of the dlc-tracker process, its CPU time
 * utime + stime, both from /proc/PID.
 * Real: dense 64x64x64 (default schedule, reference check, number 1, repeat
 * 3) measured --real times here with dlc_measure and --real times through
 * the tracker and one dlc-rpc-server (sandboxed), alternating; median wall
 * time each. The kernel runs on --kernel-threads OpenMP threads (default 1):
 * on a busy machine OpenMP's spinning barriers make the kernel's own time,
 * not the path to it, the largest and noisiest part.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_tracker.h"
#include "compiler-core/dlc_module.h"
#include "schedule-templates/dlc_templates.h"
#include "support/dlc_support.h"
#include "tracker/dlc_client.h"

#define MAX_WINDOWS 4

typedef struct {
    int servers, jobs, idle_jobs, threads, real, burst, kernel_threads;
    int windows[MAX_WINDOWS], nwindows; /* jobs in flight of each loaded phase */
    double time_limit_s, heartbeat_s; /* seconds */
} opts_t;

typedef struct {
    opts_t o;
    pid_t tracker, server;
    char hostport[64];
    dlc_client_t *client;
    bench_sim_t *sim;
    size_t cap;                /* job numbers */
    int64_t *submit_ns, *done_ns;
    _Atomic int64_t *recv_ns;
    _Atomic int32_t *receipts;
    int next;                  /* the next no-op job's number */
    int64_t id_base;           /* a no-op job's client id - 1 - its number (real jobs came first) */
    double deadline;           /* dlc_now() */
} bench_t;

typedef struct {
    const char *name;
    int jobs, window, done, errors, complete;
    double wall_s, cpu_s;      /* seconds: first submit → last result; the tracker's CPU */
    double disp[2], rtt[2];    /* seconds: p50, p99 */
} phase_t;

static pid_t spawn(const char *const *argv, int *out_fd) {
    int p[2];
    if (out_fd && pipe(p) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* interrupted, we leave no tracker behind */
        if (out_fd)
            dup2(p[1], 1), close(p[0]), close(p[1]);
        else
            freopen("/dev/null", "w", stdout); /* the report owns stdout */
        char path[512];
        snprintf(path, sizeof path, "%s/%s", DLC_BIN_DIR, argv[0]);
        execv(path, (char *const *)argv);
        _exit(127);
    }
    if (out_fd)
        close(p[1]), *out_fd = p[0];
    return pid;
}

static void stop(pid_t *pid) {
    if (*pid > 0)
        kill(*pid, SIGTERM), waitpid(*pid, NULL, 0);
    *pid = 0;
}

/* Starts dlc-tracker on a free port; 0 or -1. */
static int start_tracker(bench_t *b) {
    char hb[32];
    snprintf(hb, sizeof hb, "%g", b->o.heartbeat_s);
    const char *argv[] = {"dlc-tracker", "--port", "0", "--heartbeat", hb, "--log-level", "error", NULL};
    int fd;
    if ((b->tracker = spawn(argv, &fd)) < 0)
        return -1;
    char line[256] = "";
    size_t n = 0;
    struct pollfd pfd = {fd, POLLIN, 0};
    while (n < sizeof line - 1 && poll(&pfd, 1, 10000) > 0 && read(fd, line + n, 1) == 1 && line[n] != '\n')
        n++;
    line[n] = '\0';
    close(fd);
    const char *colon = strrchr(line, ':');
    if (colon == NULL) {
        fprintf(stderr, "bench_tracker: dlc-tracker did not start ('%s')\n", line);
        return -1;
    }
    snprintf(b->hostport, sizeof b->hostport, "127.0.0.1:%d", atoi(colon + 1));
    return 0;
}

/* Servers the tracker holds for key, or -1 without an answer. */
static long long key_servers(bench_t *b, const char *key) {
    char *text = NULL;
    if (dlc_client_status(b->client, 5000, &text) < 0)
        return -1;
    json_t *j = dlc_json_parse(text, strlen(text)), *k;
    size_t i;
    long long n = 0;
    json_array_foreach(json_object_get(j, "keys"), i, k) if (strcmp(json_string_value(json_object_get(k, "key")), key) == 0)
        n = json_integer_value(json_object_get(k, "servers"));
    json_decref(j);
    free(text);
    return n;
}

static int wait_servers(bench_t *b, const char *key, long long want, double timeout_s) {
    double until = dlc_now() + timeout_s;
    for (long long n; (n = key_servers(b, key)) != want; usleep(200000))
        if (dlc_now() > until || dlc_now() > b->deadline) {
            fprintf(stderr, "bench_tracker: %lld servers of key %s, expected %lld\n", n, key, want);
            return -1;
        }
    return 0;
}

static void proc_mem(pid_t pid, long *rss_kb, long *hwm_kb) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    *rss_kb = *hwm_kb = -1;
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0)
            *rss_kb = atol(line + 6);
        else if (strncmp(line, "VmHWM:", 6) == 0)
            *hwm_kb = atol(line + 6);
    }
    if (f)
        fclose(f);
}

static double proc_cpu_s(pid_t pid) { /* utime + stime: fields 14 and 15 of /proc/PID/stat */
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')');
    unsigned long long ut = 0, st = 0;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return 0;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* p50 and p99 of v[0..n) (sorted in place). */
static void percentiles(double *v, int n, double out[2]) {
    out[0] = out[1] = 0;
    if (n == 0)
        return;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    out[0] = v[n / 2];
    out[1] = v[(int)((n - 1) * 0.99)];
}

/* Runs ph->jobs no-op jobs with at most ph->window in flight (0: no limit). */
static int run_phase(bench_t *b, phase_t *ph) {
    int first = b->next, submitted = 0;
    char manifest[96];
    dlc_client_job_t job = {.key = "bench", .manifest = manifest, .measure = dlc_msg_measure_default()};
    dlc_client_result_t res[256];
    double cpu0 = proc_cpu_s(b->tracker);
    int64_t t0 = bench_ns(), last = t0;
    while (ph->done < ph->jobs && dlc_now() < b->deadline) {
        while (submitted < ph->jobs && (ph->window <= 0 || submitted - ph->done < ph->window)) {
            int n = first + submitted;
            uint64_t id;
            snprintf(manifest, sizeof manifest, "{\"noop\":true,\"sleep_ms\":0,\"n\":%d}", n);
            b->submit_ns[n] = bench_ns();
            if (dlc_client_submit(b->client, &job, &id) < 0) {
                fprintf(stderr, "bench_tracker: submit: %s\n", dlc_last_error());
                return -1;
            }
            if (n == 0)
                b->id_base = (int64_t)id - 1;
            else if ((int64_t)id != n + 1 + b->id_base)
                return fprintf(stderr, "bench_tracker: job %d got id %llu\n", n, (unsigned long long)id), -1;
            submitted++;
        }
        int got = dlc_client_poll(b->client, 100, res, 256);
        if (got < 0) {
            fprintf(stderr, "bench_tracker: poll: %s\n", dlc_last_error());
            return -1;
        }
        last = bench_ns();
        for (int i = 0; i < got; i++) {
            int64_t n = (int64_t)res[i].job_id - 1 - b->id_base;
            if (n < first || n >= first + ph->jobs)
                return fprintf(stderr, "bench_tracker: result for an unknown job %lld\n", (long long)n), -1;
            b->done_ns[n] = last;
            ph->errors += res[i].error_no != 0;
            ph->done++;
        }
    }
    b->next = first + submitted;
    ph->complete = ph->done == ph->jobs;
    ph->wall_s = (double)(last - t0) * 1e-9;
    ph->cpu_s = proc_cpu_s(b->tracker) - cpu0;
    double *disp = malloc((size_t)ph->jobs * sizeof *disp), *rtt = malloc((size_t)ph->jobs * sizeof *rtt);
    int nd = 0, nr = 0;
    for (int n = first; disp && rtt && n < first + submitted; n++) {
        int64_t r = atomic_load(&b->recv_ns[n]);
        if (r)
            disp[nd++] = (double)(r - b->submit_ns[n]) * 1e-9;
        if (b->done_ns[n])
            rtt[nr++] = (double)(b->done_ns[n] - b->submit_ns[n]) * 1e-9;
    }
    if (disp && rtt)
        percentiles(disp, nd, ph->disp), percentiles(rtt, nr, ph->rtt);
    free(disp);
    free(rtt);
    return ph->complete ? 0 : -1;
}

/* dense 64x64x64 with the host's default schedule and its reference. */
static int build_dense(dlc_target_t *tgt, char so_path[PATH_MAX]) {
    dlc_ctx_t *ctx = dlc_ctx_new();
    dlc_op_spec_t spec;
    dlc_op_t op;
    dlc_lowered_func_t *f, *fr;
    dlc_build_result_t br;
    dlc_strbuf_t c;
    dlc_schedule_t *s;
    dlc_strbuf_init(&c);
    int rc = dlc_target_parse("llvm", tgt);
    if (rc == 0)
        rc = dlc_op_parse("dense:64,64,64", &spec);
    if (rc == 0)
        rc = dlc_op_build(ctx, &spec, &op);
    if (rc == 0 && (s = dlc_op_default_schedule(ctx, &spec, &op, tgt)) == NULL)
        rc = -1;
    if (rc == 0)
        rc = dlc_lower(s, "dense64", op.n_args, op.args, op.n_outputs, &f);
    if (rc == 0)
        rc = dlc_lower_reference(ctx, "dense64_ref", op.n_args, op.args, op.n_outputs, &fr);
    if (rc == 0) {
        f->ref_name = "dense64_ref";
        f->flops = op.flops;
        rc = dlc_codegen_c((dlc_lowered_func_t *[]){f, fr}, 2, tgt, &c);
    }
    if (rc == 0)
        rc = dlc_build_so(c.data, c.len, tgt, &br);
    if (rc == 0)
        snprintf(so_path, PATH_MAX, "%s", br.so_path);
    else
        fprintf(stderr, "bench_tracker: building dense 64x64x64: %s\n", dlc_last_error());
    dlc_strbuf_free(&c);
    dlc_ctx_destroy(&ctx);
    return rc;
}

typedef struct {
    int n;
    double local_s, fleet_s, server_s;   /* medians of the wall time per measurement, seconds */
    double local_cost, fleet_cost;       /* medians of the kernel's own time (costs[0]), seconds */
} real_t;

static double median(double *v, int n) {
    double p[2];
    percentiles(v, n, p);
    return p[0];
}

/* One real measurement n times locally and n times through the fleet,
 * alternating so that both see the same load (one untimed warm-up each). */
static int run_real(bench_t *b, real_t *out) {
    dlc_target_t tgt;
    char so_path[PATH_MAX], *so = NULL;
    size_t len;
    int n = b->o.real, rc = -1;
    double *v = calloc(5 * ((size_t)n + 1), sizeof *v); /* [0] of each: the warm-up */
    double *local = v, *fleet = v + (n + 1), *server = v + 2 * (n + 1), *lcost = v + 3 * (n + 1), *fcost = v + 4 * (n + 1);
    const char *argv[] = {"dlc-rpc-server", "--tracker", b->hostport, "--key", "real", NULL};
    if (!v || build_dense(&tgt, so_path) < 0 || dlc_file_read(so_path, &so, &len) < 0 ||
        (b->server = spawn(argv, NULL)) < 0 || wait_servers(b, "real", 1, 30) < 0)
        goto cleanup;
    dlc_measure_opts_t mo = DLC_MEASURE_OPTS_DEFAULT; /* number 1, repeat 3, check: as the fleet's default job */
    mo.timeout_s = 10;
    dlc_client_job_t job = {.key = "real", .artifact = so, .artifact_len = len,
                            .manifest = "{\"entry\":\"dense64\",\"target\":\"llvm\"}", .measure = dlc_msg_measure_default()};
    for (int i = 0; i <= n; i++) {
        dlc_measure_result_t mr;
        double t = dlc_now();
        if (dlc_measure(&tgt, so_path, "dense64", &mo, &mr) < 0 || mr.status != 0 || !mr.verified) {
            fprintf(stderr, "bench_tracker: local measurement: %s %s\n", dlc_last_error(), mr.message);
            goto cleanup;
        }
        local[i] = dlc_now() - t;
        lcost[i] = mr.costs[0];
        dlc_client_result_t r;
        t = dlc_now();
        int got = dlc_client_submit(b->client, &job, NULL);
        while (got == 0 && dlc_now() < b->deadline)
            got = dlc_client_poll(b->client, 100, &r, 1);
        if (got != 1 || r.error_no != 0) {
            fprintf(stderr, "bench_tracker: measurement through the fleet: %s\n", got == 1 ? r.message : dlc_last_error());
            goto cleanup;
        }
        fleet[i] = dlc_now() - t;
        server[i] = r.all_cost;
        fcost[i] = r.costs[0];
    }
    out->n = n;
    out->local_s = median(local + 1, n);
    out->fleet_s = median(fleet + 1, n);
    out->server_s = median(server + 1, n);
    out->local_cost = median(lcost + 1, n);
    out->fleet_cost = median(fcost + 1, n);
    rc = 0;
cleanup:
    free(so);
    free(v);
    return rc;
}

/* ---- report ---- */

static void machine(char *out, size_t cap) {
    char cpu[256] = "unknown", line[512];
    long mem_kb = 0;
    FILE *f = fopen("/proc/cpuinfo", "r");
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0 && strchr(line, ':')) {
            snprintf(cpu, sizeof cpu, "%s", strchr(line, ':') + 2);
            cpu[strcspn(cpu, "\n")] = '\0';
            break;
        }
    if (f)
        fclose(f);
    if ((f = fopen("/proc/meminfo", "r")) && fgets(line, sizeof line, f))
        mem_kb = atol(line + 9);
    if (f)
        fclose(f);
    struct utsname u;
    uname(&u);
    snprintf(out, cap, "%s, %ld cores, %.1f GiB, %s %s", cpu, sysconf(_SC_NPROCESSORS_ONLN), mem_kb / 1048576.0,
             u.sysname, u.release);
}

static void loadavg(char *out, size_t cap) {
    FILE *f = fopen("/proc/loadavg", "r");
    double a = 0, b = 0, c = 0;
    if (f == NULL || fscanf(f, "%lf %lf %lf", &a, &b, &c) != 3)
        a = b = c = 0;
    if (f)
        fclose(f);
    snprintf(out, cap, "%.2f %.2f %.2f", a, b, c);
}

static void print_phase(const bench_t *b, const phase_t *ph) {
    char window[32];
    snprintf(window, sizeof window, ph->window == 1 ? "1" : ph->window > 0 ? "≤ %d" : "all", ph->window);
    printf("| %s%s | %d | %d | %s | %.0f | %.3f ms | %.3f ms | %.3f ms | %.3f ms | %.2f s (%.0f µs/job) |\n",
           ph->name, ph->complete ? "" : " (incomplete)", b->o.servers, ph->done, window,
           ph->wall_s > 0 ? ph->done / ph->wall_s : 0, ph->disp[0] * 1e3, ph->disp[1] * 1e3, ph->rtt[0] * 1e3,
           ph->rtt[1] * 1e3, ph->cpu_s, ph->done ? ph->cpu_s / ph->done * 1e6 : 0.0);
}

static const char usage[] =
    "usage: bench_tracker [--servers N] [--jobs N] [--window W,...] [--idle-jobs N] [--threads T]\n"
    "                     [--real N] [--kernel-threads N] [--no-burst] [--heartbeat S] [--time-limit S]\n"
    "dlc-tracker with N simulated servers (default 1000) on T threads (default 2) and --jobs\n"
    "no-op jobs (default 50000): once per window W (at most W in flight, default 16,500;\n"
    "fewer than the servers, so that none waits for a free one) and once all at once (unless\n"
    "--no-burst); before them --idle-jobs (default 1000) one at a time;\n"
    "first --real N (default 100) real measurements locally and through the tracker, the kernel\n"
    "on --kernel-threads OpenMP threads (default 1, OMP_NUM_THREADS; 0 leaves it alone).\n";

int main(int argc, char **argv) {
    bench_t b = {.o = {.servers = 1000, .jobs = 50000, .windows = {16, 500}, .nwindows = 2, .idle_jobs = 1000, .threads = 2, .real = 100,
                       .burst = 1, .time_limit_s = 600, .heartbeat_s = 1, .kernel_threads = 1}};
    static const struct option longopts[] = {
        {"servers", 1, 0, 's'}, {"jobs", 1, 0, 'j'},      {"window", 1, 0, 'w'},     {"idle-jobs", 1, 0, 'i'},
        {"threads", 1, 0, 't'}, {"real", 1, 0, 'r'},      {"no-burst", 0, 0, 'B'},   {"heartbeat", 1, 0, 'b'},
        {"time-limit", 1, 0, 'T'}, {"kernel-threads", 1, 0, 'k'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (c) {
        case 's': b.o.servers = atoi(optarg); break;
        case 'j': b.o.jobs = atoi(optarg); break;
        case 'w':
            b.o.nwindows = 0;
            for (char *p = optarg, *end; *p && b.o.nwindows < MAX_WINDOWS; p = end + (*end == ',')) {
                b.o.windows[b.o.nwindows++] = (int)strtol(p, &end, 10);
                if (end == p || (*end && *end != ','))
                    return fprintf(stderr, "bench_tracker: bad --window '%s'\n", optarg), 2;
            }
            break;
        case 'i': b.o.idle_jobs = atoi(optarg); break;
        case 't': b.o.threads = atoi(optarg); break;
        case 'r': b.o.real = atoi(optarg); break;
        case 'B': b.o.burst = 0; break;
        case 'b': b.o.heartbeat_s = atof(optarg); break;
        case 'T': b.o.time_limit_s = atof(optarg); break;
        case 'k': b.o.kernel_threads = atoi(optarg); break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    int bad_window = b.o.nwindows == 0;
    for (int i = 0; i < b.o.nwindows; i++)
        bad_window |= b.o.windows[i] < 1;
    if (b.o.servers < 1 || b.o.jobs < 1 || bad_window || b.o.idle_jobs < 0 || b.o.threads < 1 || b.o.real < 0 ||
        b.o.heartbeat_s <= 0 || b.o.time_limit_s <= 0) {
        fputs(usage, stderr);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (b.o.kernel_threads > 0) { /* the runners here and the rpc-server's inherit it */
        char nt[16];
        snprintf(nt, sizeof nt, "%d", b.o.kernel_threads);
        setenv("OMP_NUM_THREADS", nt, 1);
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) { /* a socket and a signaller per server */
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    char date[64], mach[512], load0[64], load1[64], endpoint[80];
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
    machine(mach, sizeof mach);
    loadavg(load0, sizeof load0);
    b.deadline = dlc_now() + b.o.time_limit_s;
    b.cap = (size_t)b.o.idle_jobs + (size_t)(b.o.nwindows + 1) * (size_t)b.o.jobs;
    b.submit_ns = calloc(b.cap, sizeof *b.submit_ns);
    b.done_ns = calloc(b.cap, sizeof *b.done_ns);
    b.recv_ns = calloc(b.cap, sizeof *b.recv_ns);
    b.receipts = calloc(b.cap, sizeof *b.receipts);
    phase_t ph[MAX_WINDOWS + 2] = {{.name = "idle", .jobs = b.o.idle_jobs, .window = 1}};
    int nph = 1, rc = 1, real_ok = -1, all_complete = 1;
    for (int i = 0; i < b.o.nwindows; i++)
        ph[nph++] = (phase_t){.name = "loaded", .jobs = b.o.jobs, .window = b.o.windows[i]};
    if (b.o.burst)
        ph[nph++] = (phase_t){.name = "burst", .jobs = b.o.jobs, .window = 0};
    long mem[3][2] = {{0}};
    real_t real = {0};
    if (!b.submit_ns || !b.done_ns || !b.recv_ns || !b.receipts || start_tracker(&b) < 0 ||
        (b.client = dlc_client_new(b.hostport)) == NULL)
        goto cleanup;
    proc_mem(b.tracker, &mem[0][0], &mem[0][1]);
    /* first, while this process is small (forking the runner costs more
     * from a large one) and the tracker idle */
    if (b.o.real > 0 && (real_ok = run_real(&b, &real)) < 0)
        goto cleanup;
    stop(&b.server);
    snprintf(endpoint, sizeof endpoint, "tcp://%s", b.hostport);
    double t_reg = dlc_now();
    if ((b.sim = bench_sim_start(endpoint, "bench", b.o.servers, b.o.threads, b.o.heartbeat_s, b.recv_ns, b.receipts,
                                 b.cap)) == NULL ||
        wait_servers(&b, "bench", b.o.servers, 60) < 0)
        goto cleanup;
    t_reg = dlc_now() - t_reg;
    proc_mem(b.tracker, &mem[1][0], &mem[1][1]);
    fprintf(stderr, "bench_tracker: %d servers registered in %.1f s\n", b.o.servers, t_reg);
    for (int i = 0; i < nph; i++) {
        if (ph[i].jobs == 0)
            continue;
        if (run_phase(&b, &ph[i]) < 0)
            break;
        fprintf(stderr, "bench_tracker: %s: %d jobs in %.2f s\n", ph[i].name, ph[i].done, ph[i].wall_s);
    }
    proc_mem(b.tracker, &mem[2][0], &mem[2][1]);
    int used;
    int64_t most, dup = 0, missing = 0, errors = 0;
    for (int i = 0; i < nph; i++)
        errors += ph[i].errors, all_complete &= ph[i].complete || ph[i].jobs == 0;
    bench_sim_spread(b.sim, &used, &most);
    int64_t sim_errors = bench_sim_errors(b.sim);
    bench_sim_stop(&b.sim);
    for (int n = 0; n < b.next; n++) {
        int32_t r = atomic_load(&b.receipts[n]);
        dup += r > 1, missing += r == 0;
    }
    loadavg(load1, sizeof load1);

    printf("### dlc-tracker: %d simulated servers, %d no-op jobs\n\n", b.o.servers, b.o.jobs);
    printf("`");
    for (int i = 0; i < argc; i++)
        printf("%s%s", i ? " " : "", argv[i]);
    printf("`\n\n");
    printf("| date | machine | load average (1/5/15 min) before → after |\n|---|---|---|\n");
    printf("| %s | %s | %s → %s |\n\n", date, mach, load0, load1);
    printf("| phase | servers | jobs | in flight | jobs/s | dispatch p50 | dispatch p99 | round trip p50 | "
           "round trip p99 | tracker CPU |\n|---|---|---|---|---|---|---|---|---|---|\n");
    for (int i = 0; i < nph; i++)
        if (ph[i].jobs)
            print_phase(&b, &ph[i]);
    printf("\nServers registered in %.1f s; %d of %d servers measured jobs (at most %lld each); "
           "%lld jobs received twice, %lld never, %lld errors.\n\n",
           t_reg, used, b.o.servers, (long long)most, (long long)dup, (long long)missing,
           (long long)(sim_errors + errors));
    printf("| dlc-tracker memory | VmRSS | VmHWM |\n|---|---|---|\n");
    static const char *const when[] = {"started", "servers registered", "after the runs"};
    for (int i = 0; i < 3; i++)
        printf("| %s | %.1f MiB | %.1f MiB |\n", when[i], mem[i][0] / 1024.0, mem[i][1] / 1024.0);
    if (real_ok == 0) {
        printf("\n| one real measurement (dense 64x64x64, check, number 1, repeat 3, OMP_NUM_THREADS=%s), "
               "median of %d | wall |\n|---|---|\n", getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS") : "unset",
               real.n);
        printf("| local: dlc_measure (dlc-runner) | %.2f ms |\n", real.local_s * 1e3);
        printf("| fleet: submit → result through dlc-tracker + dlc-rpc-server | %.2f ms |\n", real.fleet_s * 1e3);
        printf("| of which the server's sandboxed run (median all_cost) | %.2f ms |\n", real.server_s * 1e3);
        printf("| the rest: client, tracker, transport, rpc-server loop (difference of the medians) | %.2f ms |\n",
               (real.fleet_s - real.server_s) * 1e3);
        printf("| ratio fleet / local | %.2f |\n", real.local_s > 0 ? real.fleet_s / real.local_s : 0);
        printf("| the kernel's own time (costs[0]): local / on the server | %.1f µs / %.1f µs |\n",
               real.local_cost * 1e6, real.fleet_cost * 1e6);
    } else if (b.o.real > 0) {
        printf("\nThe real measurement did not complete (see stderr).\n");
    }
    rc = dup || missing || errors || !all_complete || (b.o.real > 0 && real_ok != 0) ? 1 : 0;
cleanup:
    bench_sim_stop(&b.sim);
    dlc_client_destroy(&b.client);
    stop(&b.server);
    stop(&b.tracker);
    free(b.submit_ns);
    free(b.done_ns);
    free(b.recv_ns);
    free(b.receipts);
    return rc;
}
