/* tune_measure.c — the measure pipeline: configs → C (several configs per
 * translation unit, linked with the task's reference objects, built once per
 * argument layout in a run) → a pool of compiler processes → measurements,
 * locally with dlc-runner or on the fleet via dlc-tracker.
 * A batch is cut into sub-batches so that, with overlap on, the next one
 * compiles on a helper thread while the current one is measured. */
#include "tuner/tune_impl.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "tracker/dlc_client.h"

void dlc_measurer_opts_default(dlc_measurer_opts_t *o) {
    static const dlc_measure_opts_t mo = DLC_MEASURE_OPTS_DEFAULT;
    memset(o, 0, sizeof *o);
    o->mo = mo;
    o->mo.repeat = 3;
    o->mo.min_repeat_ms = 20;
    o->mo.timeout_s = 10;
    o->overlap = -1;
}

/* A reference object built earlier in this run, by its key (find_ref). */
typedef struct {
    uint64_t key;
    char obj[PATH_MAX];
} built_ref_t;

struct dlc_measurer {
    dlc_measurer_opts_t o;
    char tracker[256], key[64];
    dlc_client_t *client;
    int jobs, group, overlap;
    dlc_measurer_stats_t st;
    uv_mutex_t refs_lock;
    built_ref_t *refs;
    int n_refs, cap_refs;
};

static int ncpus(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

dlc_measurer_t *dlc_measurer_new(const dlc_measurer_opts_t *o) {
    dlc_measurer_t *m = calloc(1, sizeof *m);
    if (!m) {
        dlc_error(DLC_ENOMEM, "out of memory");
        return NULL;
    }
    m->o = *o;
    if (uv_mutex_init(&m->refs_lock) != 0) {
        free(m);
        dlc_error(DLC_ENOMEM, "cannot create a mutex");
        return NULL;
    }
    if (o->tracker) {
        if (!o->key || !*o->key) {
            dlc_error(DLC_EINVAL, "measuring through a tracker needs a device key (--key)");
            uv_mutex_destroy(&m->refs_lock);
            free(m);
            return NULL;
        }
        snprintf(m->tracker, sizeof m->tracker, "%s", o->tracker);
        snprintf(m->key, sizeof m->key, "%s", o->key);
        char *status = NULL; /* an unreachable tracker is told now, not after a batch's deadline */
        if (!(m->client = dlc_client_new(m->tracker)) || dlc_client_status(m->client, 5000, &status) < 0) {
            dlc_error(DLC_EIO, "tracker %s did not answer within 5 s: is dlc-tracker running there?", m->tracker);
            dlc_client_destroy(&m->client);
            uv_mutex_destroy(&m->refs_lock);
            free(m);
            return NULL;
        }
        free(status);
    }
    m->o.tracker = o->tracker ? m->tracker : NULL;
    m->o.key = o->tracker ? m->key : NULL;
    m->jobs = o->build_jobs > 0 ? o->build_jobs : ncpus();
    if (m->o.build_timeout_s <= 0)
        m->o.build_timeout_s = 10;
    if (m->o.max_c_bytes == 0)
        m->o.max_c_bytes = 512 * 1024;
    m->group = o->group > DLC__TUNE_MAX_GROUP ? DLC__TUNE_MAX_GROUP : o->group; /* 0: auto */
    if (o->overlap >= 0) {
        m->overlap = o->overlap;
    } else {
        /* Compiling beside a local measurement steals its cores and skews the
         * timing; only overlap when the kernel cannot feel it. */
        int threads = o->mo.threads > 0 ? o->mo.threads : ncpus();
        m->overlap = o->tracker != NULL || ncpus() >= 2 * threads;
    }
    return m;
}

void dlc_measurer_destroy(dlc_measurer_t **m) {
    if (!m || !*m)
        return;
    dlc_client_destroy(&(*m)->client);
    uv_mutex_destroy(&(*m)->refs_lock);
    free((*m)->refs);
    free(*m);
    *m = NULL;
}

void dlc_measurer_stats(const dlc_measurer_t *m, dlc_measurer_stats_t *out) { *out = m->st; }

/* ---- one sub-batch ---- */
/* A naive reference of the sub-batch: one per task and argument layout,
 * compiled once in a run into an object that each unit checking against it
 * links (a reference in every unit was a quarter of the compiler's time).
 * The first config with a layout gives the reference's compute: configs
 * with the same arguments compute the same function, though their graphs
 * may pad differently, so each config is checked against another's graph. */
typedef struct {
    uint64_t key;
    char name[24];
    char *src; /* its C, until built */
    size_t len;
    char obj[PATH_MAX]; /* the built object, "" if it failed */
    char msg[300];      /* why it failed */
} ref_t;

typedef struct {
    dlc_measurer_t *m;
    const dlc_task_t *task;
    const int64_t *index;   /* this sub-batch's configs */
    dlc_trial_t *out;       /* and their results */
    int n;
    char (*so)[PATH_MAX];   /* built object per config, "" if it failed */
    char (*entry)[32];
    double prepare_s, build_s, wall_s;
    int builds, cache_hits, ref_builds;
    ref_t *refs; /* the references of the units being built, at most n */
    int n_refs;
    uint64_t task_key; /* the task's part of its references' keys */
} sub_t;

static void fail(dlc_trial_t *t, int error_no, const char *msg) {
    t->error_no = error_no;
    t->mean_s = t->gflops = 0;
    size_t n = msg ? strlen(msg) : 0;
    if (n >= sizeof t->message)
        n = sizeof t->message - 1; /* long compiler output: its head says enough */
    memcpy(t->message, msg ? msg : "", n);
    t->message[n] = 0;
}

/* The argument shapes and dtypes of an op: configs of templates whose
 * inputs are laid out by the config (dense_pack's packed weight) differ. */
static uint64_t arg_signature(const dlc_op_t *op) {
    uint64_t h = dlc_hash64(&op->n_args, sizeof op->n_args, DLC_HASH_SEED);
    for (int a = 0; a < op->n_args; a++) {
        const dlc_tensor_t *t = op->args[a];
        h = dlc_hash64(&t->ndim, sizeof t->ndim, h);
        h = dlc_hash64(t->shape, (size_t)t->ndim * sizeof t->shape[0], h);
        h = dlc_hash64(&t->dtype, sizeof t->dtype, h);
    }
    return h;
}

/* The task a reference stands for: its template, target and args (the
 * argument layout is hashed in by find_ref). */
static uint64_t task_key(const dlc_task_t *task) {
    const char *name = dlc_task_template(task)->name, *target = dlc_task_target(task)->str;
    uint64_t h = dlc_hash64(name, strlen(name) + 1, DLC_HASH_SEED);
    h = dlc_hash64(target, strlen(target) + 1, h);
    char *args = dlc_json_dumps(dlc_task_args(task));
    if (args)
        h = dlc_hash64(args, strlen(args), h);
    free(args);
    return h;
}

/* The index of the sub-batch's reference for op (made on first use, built
 * already when an earlier sub-batch built it), or a negative code with
 * dlc_last_error(). ctx owns the lowered IR only while this runs. */
static int find_ref(sub_t *b, dlc_ctx_t *ctx, const dlc_op_t *op) {
    uint64_t sig = arg_signature(op), key = dlc_hash64(&sig, sizeof sig, b->task_key);
    for (int q = 0; q < b->n_refs; q++)
        if (b->refs[q].key == key)
            return q;
    if (b->n_refs == b->n) /* each config adds at most one */
        return dlc_error(DLC_EINVAL, "more argument layouts than configs");
    ref_t *r = &b->refs[b->n_refs];
    memset(r, 0, sizeof *r);
    r->key = key;
    snprintf(r->name, sizeof r->name, "ref_%016llx", (unsigned long long)key);
    dlc_measurer_t *m = b->m;
    uv_mutex_lock(&m->refs_lock);
    for (int i = 0; i < m->n_refs && !r->obj[0]; i++)
        if (m->refs[i].key == key && access(m->refs[i].obj, R_OK) == 0)
            memcpy(r->obj, m->refs[i].obj, sizeof r->obj);
    uv_mutex_unlock(&m->refs_lock);
    if (r->obj[0])
        return b->n_refs++;
    dlc_lowered_func_t *f = NULL;
    int rc = dlc_lower_reference(ctx, r->name, op->n_args, op->args, op->n_outputs, &f);
    if (rc < 0)
        return rc;
    f->flops = op->flops;
    dlc_strbuf_t c;
    dlc_strbuf_init(&c);
    if ((rc = dlc_codegen_c(&f, 1, dlc_task_target(b->task), &c)) < 0) {
        dlc_strbuf_free(&c);
        return rc;
    }
    r->len = c.len;
    r->src = dlc_strbuf_take(&c);
    dlc_strbuf_free(&c);
    return b->n_refs++;
}

/* Remembers a built reference for the run's later sub-batches. */
static void keep_ref(dlc_measurer_t *m, const ref_t *r) {
    uv_mutex_lock(&m->refs_lock);
    if (m->n_refs == m->cap_refs) {
        int cap = m->cap_refs ? 2 * m->cap_refs : 16;
        built_ref_t *p = realloc(m->refs, (size_t)cap * sizeof *p);
        if (p) {
            m->refs = p;
            m->cap_refs = cap;
        }
    }
    if (m->n_refs < m->cap_refs) { /* out of memory: it is rebuilt (a cache hit) next time */
        m->refs[m->n_refs].key = r->key;
        memcpy(m->refs[m->n_refs++].obj, r->obj, sizeof r->obj);
    }
    uv_mutex_unlock(&m->refs_lock);
}

typedef struct {
    int idx[DLC__TUNE_MAX_GROUP], in_unit[DLC__TUNE_MAX_GROUP], k, n_ok;
    int ref[DLC__TUNE_MAX_GROUP], n_ref; /* the references its configs check against */
    char *src;
    size_t len;
} unit_t;

/* C for configs u->idx[0..u->k) of the sub-batch in one translation unit,
 * each config's function named by its entry ("c<index>"). Configs that fail
 * to instantiate or lower get their error and in_unit[j] = 0. Returns the
 * number of configs in the unit (0: no unit), or a negative code when code
 * generation failed (their trials then carry it). */
static int gen_unit(sub_t *b, unit_t *u, dlc_strbuf_t *c) {
    dlc_ctx_t *ctx[DLC__TUNE_MAX_GROUP] = {0};
    dlc_lowered_func_t *f[DLC__TUNE_MAX_GROUP];
    int nf = 0;
    u->n_ref = 0;
    for (int j = 0; j < u->k; j++) {
        dlc_trial_t *t = &b->out[u->idx[j]];
        u->in_unit[j] = 0;
        dlc_config_t *cfg = NULL;
        if (dlc_space_get(dlc_task_space(b->task), t->index, &cfg) < 0) {
            fail(t, DLC_MEASURE_INSTANTIATION_ERROR, dlc_last_error());
            continue;
        }
        dlc_op_t op;
        dlc_schedule_t *s = NULL;
        ctx[j] = dlc_ctx_new();
        int r = ctx[j] ? dlc_task_instantiate(b->task, cfg, ctx[j], &op, &s) : dlc_error(DLC_ENOMEM, "out of memory");
        dlc_config_destroy(&cfg);
        if (r < 0) {
            fail(t, DLC_MEASURE_INSTANTIATION_ERROR, dlc_last_error());
            continue;
        }
        dlc_lowered_func_t *fj = NULL;
        int q = -1;
        if (dlc_lower(s, b->entry[u->idx[j]], op.n_args, op.args, op.n_outputs, &fj) < 0 ||
            (q = find_ref(b, ctx[j], &op)) < 0) {
            char msg[300];
            snprintf(msg, sizeof msg, "lowering: %s", dlc_last_error());
            fail(t, DLC_MEASURE_COMPILE_HOST, msg);
            continue;
        }
        int seen = 0;
        for (int i = 0; i < u->n_ref; i++)
            seen |= u->ref[i] == q;
        if (!seen)
            u->ref[u->n_ref++] = q;
        fj->flops = op.flops;
        fj->ref_name = b->refs[q].name;
        f[nf++] = fj;
        u->in_unit[j] = 1;
    }
    int rc = nf;
    if (nf > 0 && dlc_codegen_c(f, nf, dlc_task_target(b->task), c) < 0) {
        char msg[300];
        snprintf(msg, sizeof msg, "code generation: %s", dlc_last_error());
        for (int j = 0; j < u->k; j++)
            if (u->in_unit[j])
                fail(&b->out[u->idx[j]], DLC_MEASURE_COMPILE_HOST, msg);
        rc = DLC_ECODEGEN;
    }
    for (int j = 0; j < u->k; j++)
        dlc_ctx_destroy(&ctx[j]);
    return rc;
}

/* Builds the references gen_unit made that are not built yet (cached
 * objects after the first time a layout is seen). */
static void build_refs(sub_t *b) {
    const char *src[DLC__TUNE_MAX_GROUP];
    size_t len[DLC__TUNE_MAX_GROUP];
    int pos[DLC__TUNE_MAX_GROUP], n = 0;
    for (int q = 0; q < b->n_refs && n < DLC__TUNE_MAX_GROUP; q++)
        if (b->refs[q].src) {
            src[n] = b->refs[q].src;
            len[n] = b->refs[q].len;
            pos[n++] = q;
        }
    if (n == 0)
        return;
    dlc_build_result_t br[DLC__TUNE_MAX_GROUP];
    int st[DLC__TUNE_MAX_GROUP];
    dlc_build_objects(src, len, n, dlc_task_target(b->task), b->m->jobs, b->m->o.build_timeout_s, br, st);
    for (int i = 0; i < n; i++) {
        ref_t *r = &b->refs[pos[i]];
        if (st[i] == 0) {
            memcpy(r->obj, br[i].so_path, sizeof r->obj); /* both PATH_MAX */
            keep_ref(b->m, r);
        } else if (n == 1)
            snprintf(r->msg, sizeof r->msg, "reference: %s", dlc_last_error());
        else
            snprintf(r->msg, sizeof r->msg, "reference %s did not compile", r->name);
        b->ref_builds++;
        free(r->src);
        r->src = NULL;
    }
    build_refs(b); /* more than a stack's worth */
}

/* Puts the unit's reference objects in obj; NULL, or the first reference
 * that did not build. */
static const ref_t *unit_objects(const sub_t *b, const unit_t *u, const char **obj) {
    for (int i = 0; i < u->n_ref; i++) {
        const ref_t *r = &b->refs[u->ref[i]];
        if (!r->obj[0])
            return r;
        obj[i] = r->obj;
    }
    return NULL;
}

static void record_build(sub_t *b, unit_t *u, const dlc_build_result_t *br) {
    b->builds++;
    b->cache_hits += br->cache_hit;
    for (int j = 0; j < u->k; j++) {
        if (!u->in_unit[j])
            continue;
        dlc_trial_t *t = &b->out[u->idx[j]];
        snprintf(b->so[u->idx[j]], PATH_MAX, "%s", br->so_path);
        t->build_s = br->compile_s / u->n_ok;
        t->cache_hit = br->cache_hit;
    }
}

/* A unit that failed to compile: each config is built alone so that only
 * the config at fault carries the compiler's error. */
static void build_alone(sub_t *b, unit_t *u) {
    for (int j = 0; j < u->k; j++) {
        if (!u->in_unit[j])
            continue;
        unit_t one = {.idx = {u->idx[j]}, .k = 1};
        dlc_strbuf_t c;
        dlc_strbuf_init(&c);
        int n_ok = gen_unit(b, &one, &c);
        const char *obj[DLC__TUNE_MAX_GROUP];
        const ref_t *bad = NULL;
        if (n_ok == 1 && c.len > b->m->o.max_c_bytes) {
            char msg[160];
            snprintf(msg, sizeof msg, "not compiled: %zu KiB of C, over the %zu KiB limit", c.len / 1024,
                     b->m->o.max_c_bytes / 1024);
            fail(&b->out[u->idx[j]], DLC_MEASURE_BUILD_TIMEOUT, msg);
        } else if (n_ok == 1 && (bad = unit_objects(b, &one, obj)) != NULL) {
            fail(&b->out[u->idx[j]], DLC_MEASURE_COMPILE_HOST, bad->msg); /* its own layout's */
        } else if (n_ok == 1) {
            one.n_ok = 1;
            dlc_build_result_t br;
            int st = 0;
            dlc_build_unit_t bu = {.source = c.data, .len = c.len, .objects = obj, .n_objects = one.n_ref};
            dlc_build_units(&bu, 1, dlc_task_target(b->task), 1, b->m->o.build_timeout_s, &br, &st);
            if (st == 0) {
                record_build(b, &one, &br);
            } else {
                int timeout = st == DLC_ETIMEOUT;
                fail(&b->out[u->idx[j]], timeout ? DLC_MEASURE_BUILD_TIMEOUT : DLC_MEASURE_COMPILE_HOST,
                     dlc_last_error());
            }
        }
        dlc_strbuf_free(&c);
    }
}

/* Generates and compiles every config of the sub-batch (any thread). */
static void build_sub(sub_t *b) {
    double t0 = dlc_now();
    /* auto: one unit per compiler, at most 8 configs each (a unit that fails
     * to compile is retried config by config) */
    int g = b->m->group;
    if (g <= 0) {
        g = (b->n + b->m->jobs - 1) / b->m->jobs;
        g = g < 1 ? 1 : g > 8 ? 8 : g;
    }
    int n_units = (b->n + g - 1) / g, n_build = 0;
    unit_t *u = calloc((size_t)n_units, sizeof *u);
    const char **obj = calloc((size_t)n_units * DLC__TUNE_MAX_GROUP, sizeof *obj);
    dlc_build_unit_t *bu = calloc((size_t)n_units, sizeof *bu);
    int *status = calloc((size_t)n_units, sizeof *status), *map = calloc((size_t)n_units, sizeof *map);
    dlc_build_result_t *br = calloc((size_t)n_units, sizeof *br);
    b->refs = calloc((size_t)b->n, sizeof *b->refs);
    b->n_refs = 0;
    b->task_key = task_key(b->task);
    if (!u || !obj || !bu || !status || !map || !br || !b->refs) {
        for (int i = 0; i < b->n; i++)
            fail(&b->out[i], DLC_MEASURE_UNKNOWN_ERROR, "out of memory");
        goto cleanup;
    }
    for (int q = 0; q < n_units; q++) {
        u[q].k = q * g + g <= b->n ? g : b->n - q * g;
        for (int j = 0; j < u[q].k; j++)
            u[q].idx[j] = q * g + j;
        dlc_strbuf_t c;
        dlc_strbuf_init(&c);
        int n_ok = gen_unit(b, &u[q], &c);
        if (n_ok > 0) {
            u[q].n_ok = n_ok;
            u[q].len = c.len;
            u[q].src = dlc_strbuf_take(&c);
        }
        dlc_strbuf_free(&c);
    }
    double t1 = dlc_now();
    b->prepare_s += t1 - t0;
    build_refs(b);
    /* A unit gets the time of its configs together (the longest unit bounds
     * the call); one with more C than a config may have goes config by config. */
    int most = 1;
    for (int q = 0; q < n_units; q++) {
        if (!u[q].src)
            continue;
        /* a unit too big, or with a reference that did not build, goes config
         * by config: then only the configs of that layout carry its error */
        const char **uobj = obj + q * DLC__TUNE_MAX_GROUP;
        if ((u[q].len > b->m->o.max_c_bytes && u[q].n_ok > 1) || unit_objects(b, &u[q], uobj)) {
            build_alone(b, &u[q]);
            continue;
        }
        most = u[q].n_ok > most ? u[q].n_ok : most;
        bu[n_build] = (dlc_build_unit_t){.source = u[q].src, .len = u[q].len, .objects = uobj, .n_objects = u[q].n_ref};
        map[n_build++] = q;
    }
    dlc_build_units(bu, n_build, dlc_task_target(b->task), b->m->jobs, b->m->o.build_timeout_s * most, br, status);
    for (int i = 0; i < n_build; i++) {
        if (status[i] == 0)
            record_build(b, &u[map[i]], &br[i]);
        else
            build_alone(b, &u[map[i]]);
    }
    b->build_s += dlc_now() - t1;
cleanup:
    for (int q = 0; u && q < n_units; q++)
        free(u[q].src);
    for (int q = 0; b->refs && q < b->n_refs; q++)
        free(b->refs[q].src);
    free(b->refs);
    b->refs = NULL;
    b->n_refs = 0;
    free(u);
    free(obj);
    free(bu);
    free(status);
    free(map);
    free(br);
}

static void build_thread(void *arg) { build_sub(arg); }

/* ---- measuring ---- */
static void finish_trial(const dlc_task_t *task, dlc_trial_t *t) {
    t->all_cost = t->build_s + t->run_s;
    t->timestamp = (double)time(NULL);
    if (t->error_no == 0 && t->n_costs > 0) {
        double sum = 0;
        for (int i = 0; i < t->n_costs; i++)
            sum += t->costs[i];
        t->mean_s = sum / t->n_costs;
        t->gflops = t->mean_s > 0 ? dlc_task_flops(task) / t->mean_s / 1e9 : 0;
    } else {
        t->mean_s = t->gflops = 0;
        if (t->error_no == 0)
            fail(t, DLC_MEASURE_UNKNOWN_ERROR, "no costs measured");
    }
}

static void measure_local(sub_t *b, dlc_trial_fn cb, void *user) {
    for (int i = 0; i < b->n; i++) {
        dlc_trial_t *t = &b->out[i];
        if (b->so[i][0]) {
            dlc_measure_result_t mr;
            double t0 = dlc_now();
            int rc = dlc_measure(dlc_task_target(b->task), b->so[i], b->entry[i], &b->m->o.mo, &mr);
            t->run_s = dlc_now() - t0;
            char msg[sizeof t->message];
            int e = dlc_measure_error_no(rc, &mr, b->m->o.mo.check, msg, sizeof msg);
            if (e == DLC_MEASURE_NO_ERROR) {
                t->n_costs = mr.n_costs;
                memcpy(t->costs, mr.costs, sizeof t->costs);
            } else {
                fail(t, e, msg);
            }
        }
        finish_trial(b->task, t);
        if (cb)
            cb(t, user);
    }
}

static int measure_remote(sub_t *b, dlc_trial_fn cb, void *user) {
    dlc_measurer_t *m = b->m;
    uint64_t *ids = calloc((size_t)b->n, sizeof *ids);
    int rc = 0, pending = 0;
    if (!ids)
        return dlc_error(DLC_ENOMEM, "out of memory");
    dlc_msg_measure_t mm = dlc_msg_measure_default();
    mm.number = m->o.mo.number;
    mm.repeat = m->o.mo.repeat;
    mm.min_repeat_ms = m->o.mo.min_repeat_ms;
    mm.cooldown_s = m->o.mo.cooldown_s;
    mm.flush_cache = m->o.mo.flush_cache;
    mm.timeout_s = m->o.mo.timeout_s;
    for (int i = 0; i < b->n; i++) {
        if (!b->so[i][0]) {
            finish_trial(b->task, &b->out[i]);
            if (cb)
                cb(&b->out[i], user);
            continue;
        }
        char *data = NULL, manifest[512];
        size_t len = 0;
        if (dlc_file_read(b->so[i], &data, &len) < 0) {
            fail(&b->out[i], DLC_MEASURE_COMPILE_HOST, dlc_last_error());
            finish_trial(b->task, &b->out[i]);
            if (cb)
                cb(&b->out[i], user);
            continue;
        }
        snprintf(manifest, sizeof manifest, "{\"entry\":\"%s\",\"target\":\"%s\"}", b->entry[i],
                 dlc_task_target(b->task)->str);
        dlc_client_job_t job = {.key = m->key, .artifact = data, .artifact_len = len, .manifest = manifest,
                                .measure = mm};
        rc = dlc_client_submit(m->client, &job, &ids[i]);
        free(data);
        if (rc < 0)
            break;
        pending++;
    }
    /* The tracker answers every job (requeues, then RUN_TIMEOUT/RUNTIME_DEVICE);
     * the deadline only guards against a fleet with no server of this key. */
    double deadline = dlc_now() + 60 + (mm.timeout_s + 5) * (pending + 1);
    dlc_client_result_t res[16];
    while (rc == 0 && pending > 0) {
        int got = dlc_client_poll(m->client, 500, res, 16);
        if (got < 0) {
            rc = got;
            break;
        }
        for (int r = 0; r < got; r++)
            for (int i = 0; i < b->n; i++) {
                if (!ids[i] || ids[i] != res[r].job_id)
                    continue;
                dlc_trial_t *t = &b->out[i];
                ids[i] = 0;
                pending--;
                t->run_s = res[r].all_cost;
                if (res[r].error_no == 0) {
                    t->n_costs = res[r].n_costs < DLC_MEASURE_MAX_REPEAT ? res[r].n_costs : DLC_MEASURE_MAX_REPEAT;
                    memcpy(t->costs, res[r].costs, (size_t)t->n_costs * sizeof(double));
                } else {
                    fail(t, res[r].error_no, res[r].message);
                }
                finish_trial(b->task, t);
                if (cb)
                    cb(t, user);
            }
        if (pending > 0 && m->o.stop && *m->o.stop)
            break; /* interrupted: what has no result yet is cancelled below, unreported */
        if (pending > 0 && dlc_now() > deadline)
            rc = dlc_error(DLC_ETIMEOUT, "no result from tracker %s for %d job(s) of key '%s': is a server of that key connected?",
                           m->tracker, pending, m->key);
    }
    int interrupted = rc == 0 && pending > 0;
    for (int i = 0; i < b->n; i++)
        if (ids[i] && interrupted) {
            dlc_client_cancel(m->client, ids[i]);
            fail(&b->out[i], DLC_MEASURE_UNKNOWN_ERROR, "interrupted");
        } else if (ids[i]) {
            dlc_client_cancel(m->client, ids[i]);
            fail(&b->out[i], DLC_MEASURE_UNKNOWN_ERROR, dlc_last_error());
            finish_trial(b->task, &b->out[i]);
            if (cb)
                cb(&b->out[i], user);
        }
    free(ids);
    return rc;
}

/* ---- the batch ---- */
int dlc_measurer_run(dlc_measurer_t *m, const dlc_task_t *task, const int64_t *index, int n, dlc_trial_t *out,
                     dlc_trial_fn on_trial, void *user) {
    if (n <= 0)
        return 0;
    double t0 = dlc_now();
    char(*so)[PATH_MAX] = calloc((size_t)n, sizeof *so);
    char(*entry)[32] = calloc((size_t)n, sizeof *entry);
    if (!so || !entry) {
        free(so);
        free(entry);
        return dlc_error(DLC_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
        out[i].index = index[i];
        snprintf(entry[i], sizeof entry[i], "c%lld", (long long)index[i]);
    }
    /* Sub-batches of one round of compilers, so overlap has something to hide. */
    int per = m->overlap ? m->jobs * (m->group > 0 ? m->group : 4) : n;
    int n_sub = (n + per - 1) / per, rc = 0;
    sub_t *b = calloc((size_t)n_sub, sizeof *b);
    if (!b) {
        free(so);
        free(entry);
        return dlc_error(DLC_ENOMEM, "out of memory");
    }
    for (int k = 0; k < n_sub; k++) {
        int lo = k * per;
        b[k] = (sub_t){.m = m, .task = task, .index = index + lo, .out = out + lo, .n = lo + per <= n ? per : n - lo,
                       .so = so + lo, .entry = entry + lo};
    }
    build_sub(&b[0]);
    for (int k = 0; k < n_sub; k++) {
        uv_thread_t th;
        int threaded = 0;
        if (k + 1 < n_sub) {
            if (m->overlap && uv_thread_create(&th, build_thread, &b[k + 1]) == 0)
                threaded = 1;
        }
        double tm = dlc_now();
        if (m->client) {
            int r = measure_remote(&b[k], on_trial, user);
            if (r < 0 && rc == 0)
                rc = r;
        } else {
            measure_local(&b[k], on_trial, user);
        }
        m->st.measure_s += dlc_now() - tm;
        if (threaded)
            uv_thread_join(&th);
        else if (k + 1 < n_sub)
            build_sub(&b[k + 1]);
    }
    for (int k = 0; k < n_sub; k++) {
        m->st.prepare_s += b[k].prepare_s;
        m->st.build_s += b[k].build_s;
        m->st.builds += b[k].builds;
        m->st.cache_hits += b[k].cache_hits;
        m->st.ref_builds += b[k].ref_builds;
    }
    m->st.trials += n;
    m->st.wall_s += dlc_now() - t0;
    free(b);
    free(so);
    free(entry);
    return rc;
}
