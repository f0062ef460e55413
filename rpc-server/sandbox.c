/* sandbox.c — measuring an artifact in a forked, limited, filtered child (see dlc_device.h). */
#define _GNU_SOURCE
#include "rpc-server/dlc_device.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rpc-server/sandbox_impl.h"
#include "support/dlc_support.h"

#define GRACE_S 5.0                       /* beyond the job's timeout before the group is killed */
#define DEFAULT_MEM_LIMIT (8ull << 30)    /* bytes of address space */
#define FILE_LIMIT (64ull << 20)          /* bytes any file may grow to */
#define NOFILE_LIMIT 256

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

/* What the child sends back through the pipe. */
typedef struct {
    int rc; /* dlc_measure's return */
    dlc_measure_result_t mr;
    char error[256]; /* dlc_last_error() when rc < 0 */
} report_t;

/* The preload library: $DLC_SANDBOX_PRELOAD, else beside the executable
 * (../lib/), else where the build put it. */
static int preload_path(char out[PATH_MAX]) {
    const char *env = getenv("DLC_SANDBOX_PRELOAD");
    if (env && *env) {
        snprintf(out, PATH_MAX, "%s", env);
        return access(out, R_OK) == 0 ? 0 : dlc_error(DLC_ENOTFOUND, "DLC_SANDBOX_PRELOAD=%s: not readable", env);
    }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            if (snprintf(out, PATH_MAX, "%s/../lib/libdlc_sandbox_preload.so", exe) < PATH_MAX &&
                access(out, R_OK) == 0)
                return 0;
        }
    }
#ifdef DLC_SANDBOX_PRELOAD_BUILT
    snprintf(out, PATH_MAX, "%s", DLC_SANDBOX_PRELOAD_BUILT);
    if (access(out, R_OK) == 0)
        return 0;
#endif
    return dlc_error(DLC_ENOTFOUND, "libdlc_sandbox_preload.so not found (set DLC_SANDBOX_PRELOAD)");
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) { return remove(path); }

static void set_limit(int resource, rlim_t v) {
    struct rlimit rl = {v, v};
    setrlimit(resource, &rl); /* best effort: a limit above the hard one stays at the hard one */
}

/* The sandbox child: never returns. */
static void child_main(int report_fd, const char *dir, const char *preload, const dlc_target_t *tgt,
                       const char *so_path, const dlc_device_job_t *job, double timeout_s) {
    report_t rep;
    memset(&rep, 0, sizeof rep);
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    /* Descriptors stay open here: libuv re-creates its signal pipe at fork
     * and needs it. The report pipe and libuv's and ZeroMQ's descriptors are
     * close-on-exec; the preload closes whatever else reaches the runner. */
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
        dup2(devnull, 0);
        if (devnull != 0)
            close(devnull);
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    set_limit(RLIMIT_CORE, 0);
    set_limit(RLIMIT_FSIZE, FILE_LIMIT);
    set_limit(RLIMIT_NOFILE, NOFILE_LIMIT);
    set_limit(RLIMIT_CPU, (rlim_t)ceil((timeout_s + GRACE_S) * (ncpu > 0 ? ncpu : 1)) + 1);
    if (!UNDER_ASAN && (tgt->exec_wrapper[0] == '\0'))
        set_limit(RLIMIT_AS, job->mem_limit ? job->mem_limit : DEFAULT_MEM_LIMIT);
    int rc = chdir(dir) == 0 ? 0 : -errno;
    if (rc == 0 && (setenv("LD_PRELOAD", preload, 1) != 0 || setenv(DLC__SANDBOX_ENV, "1", 1) != 0))
        rc = -ENOMEM;
    scmp_filter_ctx ctx = NULL;
    if (rc == 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
        rc = -errno;
    if (rc == 0 && (ctx = seccomp_init(SCMP_ACT_ALLOW)) == NULL)
        rc = -ENOMEM;
    if (rc == 0)
        rc = dlc__sandbox_add_common_rules(ctx);
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(socket), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
    if (rc == 0)
        rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(socketpair), 1, SCMP_A0(SCMP_CMP_NE, AF_UNIX));
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0) {
        rep.rc = DLC_ESUBPROCESS;
        snprintf(rep.error, sizeof rep.error, "sandbox setup: %s", strerror(-rc));
    } else {
        dlc_measure_opts_t opts = job->opts;
        opts.timeout_s = timeout_s;
        rep.rc = dlc_measure(tgt, so_path, job->entry, &opts, &rep.mr);
        if (rep.rc < 0)
            snprintf(rep.error, sizeof rep.error, "%s", dlc_last_error());
    }
    const char *p = (const char *)&rep;
    for (size_t left = sizeof rep; left > 0;) {
        ssize_t n = write(report_fd, p, left);
        if (n <= 0)
            break;
        p += n, left -= (size_t)n;
    }
    _exit(0);
}

/* Reads the child's report until EOF or the deadline; 1 if complete, 0 if
 * the pipe closed early, -1 on the deadline, -2 when cancel_fd (if > 0)
 * turned readable. */
static int read_report(int fd, int cancel_fd, report_t *rep, double deadline) {
    size_t got = 0;
    for (;;) {
        double left = deadline - dlc_now();
        if (left <= 0)
            return -1;
        struct pollfd pfd[2] = {{fd, POLLIN, 0}, {cancel_fd, POLLIN, 0}};
        int n = poll(pfd, cancel_fd > 0 ? 2 : 1, (int)(left * 1000) + 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            continue; /* timeout rechecked above */
        if (cancel_fd > 0 && (pfd[1].revents & (POLLIN | POLLHUP)))
            return -2;
        ssize_t r = got < sizeof *rep ? read(fd, (char *)rep + got, sizeof *rep - got) : 0;
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return got == sizeof *rep;
        got += (size_t)r;
    }
}

static void fill_outcome(const report_t *rep, int got, int wstatus, double timeout_s, dlc_device_result_t *res) {
    int complete = got == 1, timed_out = got == -1;
    if (got == -2) {
        res->error_no = DLC_MEASURE_UNKNOWN_ERROR;
        snprintf(res->message, sizeof res->message, "cancelled");
    } else if (timed_out) {
        res->error_no = DLC_MEASURE_RUN_TIMEOUT;
        snprintf(res->message, sizeof res->message, "sandbox killed after %g s", timeout_s + GRACE_S);
    } else if (!complete) {
        res->error_no = DLC_MEASURE_RUNTIME_DEVICE;
        snprintf(res->message, sizeof res->message, "sandbox child died (%s %d)",
                 WIFSIGNALED(wstatus) ? "signal" : "exit", WIFSIGNALED(wstatus) ? WTERMSIG(wstatus) : WEXITSTATUS(wstatus));
    } else if (rep->rc < 0) {
        res->error_no = DLC_MEASURE_RUNTIME_DEVICE;
        snprintf(res->message, sizeof res->message, "%s", rep->error);
    } else {
        const dlc_measure_result_t *mr = &rep->mr;
        res->error_no = mr->status == 0              ? DLC_MEASURE_NO_ERROR
                        : mr->status == DLC_EWRONG   ? DLC_MEASURE_WRONG_ANSWER
                        : mr->status == DLC_ETIMEOUT ? DLC_MEASURE_RUN_TIMEOUT
                        : mr->status == DLC_ERUNTIME ? DLC_MEASURE_RUNTIME_DEVICE
                                                     : DLC_MEASURE_UNKNOWN_ERROR;
        snprintf(res->message, sizeof res->message, "%s", mr->status ? mr->message : "");
        int n = mr->n_costs < 0 ? 0 : mr->n_costs > DLC_MEASURE_MAX_REPEAT ? DLC_MEASURE_MAX_REPEAT : mr->n_costs;
        if (res->error_no == DLC_MEASURE_NO_ERROR) {
            res->n_costs = n;
            memcpy(res->costs, mr->costs, (size_t)n * sizeof res->costs[0]);
        }
    }
}

int dlc_device_measure(const dlc_device_job_t *job, dlc_device_result_t *res) {
    if (job == NULL || res == NULL || job->entry == NULL || job->so_data == NULL || job->target == NULL)
        return dlc_error(DLC_EINVAL, "dlc_device_measure: NULL argument");
    memset(res, 0, sizeof *res);
    double t0 = dlc_now(), timeout_s = job->opts.timeout_s > 0 ? job->opts.timeout_s : 10.0;
    dlc_target_t tgt;
    char preload[PATH_MAX], runner[PATH_MAX], dir[PATH_MAX], so_path[PATH_MAX + 16];
    int rc = dlc_target_parse(job->target, &tgt);
    if (rc < 0)
        return rc;
    if (job->exec_wrapper)
        snprintf(tgt.exec_wrapper, sizeof tgt.exec_wrapper, "%s", job->exec_wrapper);
    if ((rc = preload_path(preload)) < 0 || (rc = dlc_runner_path(&tgt, runner)) < 0)
        return rc; /* the runner is built here, outside the timed sandbox */
    const char *tmp = getenv("TMPDIR");
    if (snprintf(dir, sizeof dir, "%s/dlc-job-XXXXXX", tmp && *tmp ? tmp : "/tmp") >= (int)sizeof dir ||
        mkdtemp(dir) == NULL)
        return dlc_error(DLC_EIO, "cannot create a job directory under %s: %s", tmp ? tmp : "/tmp", strerror(errno));
    snprintf(so_path, sizeof so_path, "%s/kernel.so", dir);
    int fds[2] = {-1, -1};
    pid_t pid = -1;
    if ((rc = dlc_file_write(so_path, job->so_data, job->so_len)) < 0)
        goto cleanup;
    if (pipe2(fds, O_CLOEXEC) != 0) {
        rc = dlc_error(DLC_EIO, "pipe: %s", strerror(errno));
        goto cleanup;
    }
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        rc = dlc_error(DLC_ESUBPROCESS, "fork: %s", strerror(errno));
        goto cleanup;
    }
    if (pid == 0) {
        close(fds[0]);
        child_main(fds[1], dir, preload, &tgt, so_path, job, timeout_s);
    }
    setpgid(pid, pid); /* also in the child: whichever runs first */
    close(fds[1]);
    fds[1] = -1;
    report_t rep;
    memset(&rep, 0, sizeof rep);
    int got = read_report(fds[0], job->cancel_fd, &rep, t0 + timeout_s + GRACE_S);
    if (got < 0)
        kill(-pid, SIGKILL);
    int wstatus = 0;
    while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR)
        ;
    kill(-pid, SIGKILL); /* stragglers of the group, if any */
    fill_outcome(&rep, got, wstatus, timeout_s, res);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    res->timestamp = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
    res->all_cost = dlc_now() - t0;
    rc = 0;
cleanup:
    if (fds[0] >= 0)
        close(fds[0]);
    if (fds[1] >= 0)
        close(fds[1]);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

int dlc_device_job_from_manifest(const char *manifest, dlc_device_job_t *job, void **holder) {
    *holder = NULL;
    json_t *j = dlc_json_parse(manifest, strlen(manifest));
    if (j == NULL)
        return dlc_error(DLC_EPARSE, "manifest: %s", dlc_last_error());
    const char *entry, *target;
    if (dlc_json_get_string(j, "entry", &entry) < 0 || dlc_json_get_string(j, "target", &target) < 0) {
        int rc = dlc_error(DLC_EPARSE, "manifest: %s", dlc_last_error());
        json_decref(j);
        return rc;
    }
    job->entry = entry;
    job->target = target;
    *holder = j;
    return 0;
}
