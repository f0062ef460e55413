/* proc.c — run subprocesses with captured output, stdin and timeouts (libuv). */
#include "support/dlc_support.h"

#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

/* Output beyond this many bytes per stream is read and dropped, so a runaway
 * child cannot exhaust memory. */
#define PROC_MAX_CAPTURE ((size_t)256 * 1024 * 1024)
#define PROC_READ_CHUNK ((size_t)64 * 1024)

typedef struct proc_pool proc_pool_t;

typedef struct {
    proc_pool_t *pool;
    size_t idx;
    uv_process_t proc;
    uv_pipe_t out_pipe, err_pipe, in_pipe;
    uv_timer_t timer;
    uv_write_t write_req;
    dlc_strbuf_t out, err;
    int open_handles; /* handles initialised and not yet through close_cb */
    int has_in, has_timer;
    int exited, timed_out, truncated;
    double start;
} proc_job_t;

struct proc_pool {
    uv_loop_t loop;
    const dlc_proc_spec_t *specs;
    dlc_proc_result_t *res;
    proc_job_t *jobs;
    size_t n, next, running;
    size_t max_running;
    int first_err;
    char first_msg[512]; /* dlc_last_error() of the first spawn failure */
    char readbuf[PROC_READ_CHUNK]; /* libuv pairs each alloc_cb with its read_cb */
};

static void pool_fill(proc_pool_t *pool);

static void on_close(uv_handle_t *h) {
    proc_job_t *job = h->data;
    if (--job->open_handles > 0)
        return;
    /* Every handle of the job is closed: publish the result, start the next. */
    proc_pool_t *pool = job->pool;
    dlc_proc_result_t *r = &pool->res[job->idx];
    r->timed_out = job->timed_out;
    r->out_len = job->out.len;
    r->out = dlc_strbuf_take(&job->out);
    r->err_len = job->err.len;
    r->err = dlc_strbuf_take(&job->err);
    if (job->truncated)
        dlc_log(DLC_LOG_WARN, "subprocess '%s': output over %zu bytes was dropped", pool->specs[job->idx].argv[0],
                PROC_MAX_CAPTURE);
    pool->running--;
    pool_fill(pool);
}

static void close_handle(void *handle) {
    uv_handle_t *h = handle;
    if (!uv_is_closing(h))
        uv_close(h, on_close);
}

/* Closes the timer once the process has exited and both outputs hit EOF. */
static void maybe_finish(proc_job_t *job) {
    if (!job->exited || !uv_is_closing((uv_handle_t *)&job->out_pipe) ||
        !uv_is_closing((uv_handle_t *)&job->err_pipe))
        return;
    if (job->has_timer)
        close_handle(&job->timer);
    if (job->has_in) /* child exited without reading all of its stdin */
        close_handle(&job->in_pipe);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf) {
    proc_job_t *job = h->data;
    buf->base = job->pool->readbuf;
    buf->len = sizeof job->pool->readbuf;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
    proc_job_t *job = s->data;
    if (nread > 0) {
        dlc_strbuf_t *sb = s == (uv_stream_t *)&job->out_pipe ? &job->out : &job->err;
        size_t n = (size_t)nread;
        if (sb->len + n > PROC_MAX_CAPTURE) {
            n = sb->len < PROC_MAX_CAPTURE ? PROC_MAX_CAPTURE - sb->len : 0;
            job->truncated = 1;
        }
        dlc_strbuf_appendn(sb, buf->base, n);
    } else if (nread < 0) { /* UV_EOF or a read error: this stream is done */
        close_handle(s);
        maybe_finish(job);
    }
}

static void on_exit_cb(uv_process_t *p, int64_t exit_status, int term_signal) {
    proc_job_t *job = p->data;
    dlc_proc_result_t *r = &job->pool->res[job->idx];
    r->wall_s = dlc_now() - job->start;
    r->exit_code = term_signal ? -1 : (int)exit_status;
    r->term_signal = term_signal;
    job->exited = 1;
    close_handle(p);
    if (job->timed_out) {
        /* Killed: don't wait for EOF, a grandchild may still hold the pipes. */
        close_handle(&job->out_pipe);
        close_handle(&job->err_pipe);
    }
    maybe_finish(job);
}

static void on_timeout(uv_timer_t *t) {
    proc_job_t *job = t->data;
    /* libuv's timers run on the loop's cached coarse clock; a test once saw a
     * 120 s limit reported after a few seconds. Only our own clock decides. */
    double left = job->pool->specs[job->idx].timeout_s - (dlc_now() - job->start);
    if (!job->exited && left > 0.001) {
        uv_update_time(t->loop);
        uv_timer_start(t, on_timeout, (uint64_t)(left * 1000.0) + 1, 0);
        return;
    }
    if (!job->exited) {
        job->timed_out = 1;
        if (job->proc.pid > 0)
            kill(-job->proc.pid, SIGKILL); /* the whole group; on_exit_cb follows */
        else
            uv_process_kill(&job->proc, SIGKILL);
    } else {
        /* The child exited in time but something it started still holds the
         * pipes open: stop waiting for EOF. */
        close_handle(&job->out_pipe);
        close_handle(&job->err_pipe);
        maybe_finish(job);
    }
}

static void on_written(uv_write_t *req, int status) {
    proc_job_t *job = req->data;
    /* Errors (EPIPE: the child did not read it all) are not ours to report.
     * Closing the pipe gives the child EOF. */
    close_handle(&job->in_pipe);
}

static void job_spawn_failed(proc_job_t *job, int uverr) {
    proc_pool_t *pool = job->pool;
    const dlc_proc_spec_t *spec = &pool->specs[job->idx];
    dlc_proc_result_t *r = &pool->res[job->idx];
    const char *prog = spec->argv && spec->argv[0] ? spec->argv[0] : "(null)";
    /* Mimic the shell: 127 not found, 126 found but not runnable. */
    r->exit_code = uverr == UV_ENOENT ? 127 : 126;
    const char *in = spec->cwd ? " in " : "", *cwd = spec->cwd ? spec->cwd : "";
    dlc_strbuf_printf(&job->err, "cannot spawn '%s'%s%s: %s\n", prog, in, cwd, uv_strerror(uverr));
    int rc = dlc_error(DLC_ESUBPROCESS, "cannot spawn '%s'%s%s: %s", prog, in, cwd, uv_strerror(uverr));
    if (pool->first_err == 0) {
        pool->first_err = rc;
        snprintf(pool->first_msg, sizeof pool->first_msg, "%s", dlc_last_error());
    }
}

static void job_start(proc_pool_t *pool, size_t idx) {
    proc_job_t *job = &pool->jobs[idx];
    const dlc_proc_spec_t *spec = &pool->specs[idx];
    int uverr;
    job->pool = pool;
    job->idx = idx;
    dlc_strbuf_init(&job->out);
    dlc_strbuf_init(&job->err);
    pool->running++;

    uv_pipe_init(&pool->loop, &job->out_pipe, 0);
    uv_pipe_init(&pool->loop, &job->err_pipe, 0);
    job->out_pipe.data = job->err_pipe.data = job->proc.data = job;
    job->open_handles = 3; /* out, err, proc */
    job->has_in = spec->stdin_data != NULL;
    if (job->has_in) {
        uv_pipe_init(&pool->loop, &job->in_pipe, 0);
        job->in_pipe.data = job;
        job->open_handles++;
    }

    if (spec->argv == NULL || spec->argv[0] == NULL) {
        uverr = UV_EINVAL;
        goto fail;
    }
    uv_stdio_container_t stdio[3];
    memset(stdio, 0, sizeof stdio);
    if (job->has_in) {
        stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
        stdio[0].data.stream = (uv_stream_t *)&job->in_pipe;
    } else {
        stdio[0].flags = UV_IGNORE; /* the child reads /dev/null */
    }
    stdio[1].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[1].data.stream = (uv_stream_t *)&job->out_pipe;
    stdio[2].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
    stdio[2].data.stream = (uv_stream_t *)&job->err_pipe;

    uv_process_options_t opt;
    memset(&opt, 0, sizeof opt);
    opt.exit_cb = on_exit_cb;
    opt.file = spec->argv[0]; /* searched in PATH like execvp */
    opt.args = (char **)spec->argv;
    opt.cwd = spec->cwd;
    opt.stdio_count = 3;
    opt.stdio = stdio;
    /* Its own process group (setsid), so a timeout kills what it started too:
     * `cc` runs cc1 and as, and killing the driver alone left cc1 running. */
    opt.flags = UV_PROCESS_DETACHED;

    job->start = dlc_now();
    uverr = uv_spawn(&pool->loop, &job->proc, &opt);
    if (uverr != 0)
        goto fail;

    uv_read_start((uv_stream_t *)&job->out_pipe, on_alloc, on_read);
    uv_read_start((uv_stream_t *)&job->err_pipe, on_alloc, on_read);
    if (job->has_in) {
        if (spec->stdin_len > 0) {
            uv_buf_t buf = uv_buf_init((char *)spec->stdin_data, (unsigned)spec->stdin_len);
            job->write_req.data = job;
            if (uv_write(&job->write_req, (uv_stream_t *)&job->in_pipe, &buf, 1, on_written) != 0)
                close_handle(&job->in_pipe);
        } else {
            close_handle(&job->in_pipe);
        }
    }
    if (spec->timeout_s > 0) {
        uv_timer_init(&pool->loop, &job->timer);
        job->timer.data = job;
        job->has_timer = 1;
        job->open_handles++;
        double ms = spec->timeout_s * 1000.0;
        uv_timer_start(&job->timer, on_timeout, ms < 1 ? 1 : (uint64_t)ms, 0);
    }
    return;

fail:
    job_spawn_failed(job, uverr);
    /* The process handle must be closed even though spawning failed. */
    if (spec->argv == NULL || spec->argv[0] == NULL) {
        job->open_handles--; /* the process handle was never initialised */
    } else {
        close_handle(&job->proc);
    }
    close_handle(&job->out_pipe);
    close_handle(&job->err_pipe);
    if (job->has_in)
        close_handle(&job->in_pipe);
}

static void pool_fill(proc_pool_t *pool) {
    while (pool->running < pool->max_running && pool->next < pool->n)
        job_start(pool, pool->next++);
}

int dlc_proc_run_many(const dlc_proc_spec_t *specs, dlc_proc_result_t *res, size_t n, int jobs) {
    if (n == 0)
        return 0;
    if (specs == NULL || res == NULL)
        return dlc_error(DLC_EINVAL, "dlc_proc_run_many: NULL argument");
    memset(res, 0, n * sizeof *res); /* dlc_proc_result_free() is safe on every slot */
    for (size_t i = 0; i < n; i++)
        res[i].exit_code = -1;
    for (size_t i = 0; i < n; i++)
        if (specs[i].stdin_len > UINT_MAX)
            return dlc_error(DLC_EINVAL, "subprocess %zu: stdin of %zu bytes is too large", i, specs[i].stdin_len);

    int rc = 0;
    proc_pool_t *pool = calloc(1, sizeof *pool);
    proc_job_t *job_mem = calloc(n, sizeof *job_mem);
    if (pool == NULL || job_mem == NULL) {
        rc = dlc_error(DLC_ENOMEM, "cannot allocate %zu subprocess slots", n);
        goto cleanup;
    }
    if (jobs <= 0) { /* default: one per online CPU */
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = cpus > 0 ? (int)cpus : 1;
    }
    pool->specs = specs;
    pool->res = res;
    pool->jobs = job_mem;
    pool->n = n;
    pool->max_running = (size_t)jobs;
    int uverr = uv_loop_init(&pool->loop); /* private loop: thread-safe */
    if (uverr != 0) {
        rc = dlc_error(DLC_ESUBPROCESS, "cannot create event loop: %s", uv_strerror(uverr));
        goto cleanup;
    }

    /* Writing stdin to a child that exited raises SIGPIPE, which would kill
     * us: block it on this thread while the loop runs, then discard any that
     * became pending. (Children get a clean signal mask from libuv.) */
    sigset_t pipeset, oldset;
    sigemptyset(&pipeset);
    sigaddset(&pipeset, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipeset, &oldset);

    pool_fill(pool);
    uv_run(&pool->loop, UV_RUN_DEFAULT);

    if (!sigismember(&oldset, SIGPIPE)) {
        sigset_t pending;
        sigpending(&pending);
        if (sigismember(&pending, SIGPIPE)) {
            struct timespec zero = {0, 0};
            sigtimedwait(&pipeset, NULL, &zero);
        }
        pthread_sigmask(SIG_SETMASK, &oldset, NULL);
    }

    uverr = uv_loop_close(&pool->loop);
    if (uverr != 0) /* a handle still open means a bug above */
        dlc_log(DLC_LOG_ERROR, "subprocess event loop not closed cleanly: %s", uv_strerror(uverr));
    rc = pool->first_err;
    if (rc < 0) /* later failures may have overwritten the message */
        dlc_error(rc, "%s", pool->first_msg);

cleanup:
    free(job_mem);
    free(pool);
    return rc;
}

int dlc_proc_run(const dlc_proc_spec_t *spec, dlc_proc_result_t *res) {
    return dlc_proc_run_many(spec, res, 1, 1);
}

void dlc_proc_result_free(dlc_proc_result_t *res) {
    if (res == NULL)
        return;
    free(res->out);
    free(res->err);
    memset(res, 0, sizeof *res);
}
