/* kernel_check.c — see kernel_check.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "kernel_check.h"

static int counter;

kcheck_t kcheck_run(dlc_schedule_t *s, int n_args, dlc_tensor_t *const *args, int n_outputs, const char *target) {
    kcheck_t r;
    memset(&r, 0, sizeof r);
    dlc_ctx_t *ctx = dlc_sched_ctx(s);
    dlc_target_t tgt;
    char name[64], ref[64];
    snprintf(name, sizeof name, "k%d", counter);
    snprintf(ref, sizeof ref, "k%d_ref", counter++);
    dlc_lowered_func_t *f = NULL, *fr = NULL;
    dlc_strbuf_t c;
    dlc_strbuf_init(&c);
    if ((r.status = dlc_target_parse(target ? target : "llvm", &tgt)) < 0) goto done;
    if ((r.status = dlc_lower(s, name, n_args, args, n_outputs, &f)) < 0) goto done;
    if ((r.status = dlc_lower_reference(ctx, ref, n_args, args, n_outputs, &fr)) < 0) goto done;
    f->ref_name = ref;
    if ((r.status = dlc_codegen_c((dlc_lowered_func_t *[]){f, fr}, 2, &tgt, &c)) < 0) goto done;
    dlc_build_result_t br;
    if ((r.status = dlc_build_so(c.data, c.len, &tgt, &br)) < 0) goto done;
    dlc_measure_opts_t mo = DLC_MEASURE_OPTS_DEFAULT;
    mo.repeat = 1;
    mo.timeout_s = 120;
    dlc_measure_result_t mr;
    if ((r.status = dlc_measure(&tgt, br.so_path, name, &mo, &mr)) < 0) goto done;
    r.status = mr.status;
    r.verified = mr.verified;
    r.max_abs_err = mr.max_abs_err;
    snprintf(r.msg, sizeof r.msg, "%s (kernel %s in %s)", mr.message, name, br.so_path);
    if (!mr.verified && !r.status) r.status = DLC_EWRONG;
    if (r.status) goto done;
    dlc_strbuf_free(&c);
    return r;
done:
    if (!r.msg[0]) snprintf(r.msg, sizeof r.msg, "%s", dlc_last_error());
    if (getenv("DLC_TEST_VERBOSE") && f) {
        dlc_strbuf_t ir;
        dlc_strbuf_init(&ir);
        dlc_func_print(f, &ir);
        fprintf(stderr, "%s\n%s\n", ir.data, c.data ? c.data : "");
        dlc_strbuf_free(&ir);
    }
    dlc_strbuf_free(&c);
    return r;
}

void kcheck_assert(dlc_schedule_t *s, int n_args, dlc_tensor_t *const *args, int n_outputs, const char *target,
                   const char *what) {
    kcheck_t r = kcheck_run(s, n_args, args, n_outputs, target);
    if (r.status || !r.verified) {
        fprintf(stderr, "FAILED %s: status %d (%s), max_abs_err %g: %s\n", what, r.status, dlc_status_name(r.status),
                r.max_abs_err, r.msg);
        fail();
    }
}

/* ---- batches ---- */
typedef struct {
    dlc_ctx_t *ctx;
    dlc_lowered_func_t *f, *fr;
    char *what;
} kentry_t;

struct kbatch {
    dlc_target_t tgt;
    int per_unit;
    int n, cap;
    kentry_t *e;
    int lower_failures;
};

static int batch_counter;

kbatch_t *kbatch_new(const char *target, int per_unit) {
    kbatch_t *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    if (dlc_target_parse(target ? target : "llvm", &b->tgt) < 0) {
        free(b);
        return NULL;
    }
    b->per_unit = per_unit > 0 ? per_unit : 1;
    return b;
}

int kbatch_count(const kbatch_t *b) { return b->n + b->lower_failures; }

static void print_ir(const dlc_lowered_func_t *f) {
    if (!getenv("DLC_TEST_VERBOSE") || !f) return;
    dlc_strbuf_t ir;
    dlc_strbuf_init(&ir);
    dlc_func_print(f, &ir);
    fprintf(stderr, "%s\n", ir.data ? ir.data : "");
    dlc_strbuf_free(&ir);
}

int kbatch_add(kbatch_t *b, dlc_ctx_t *ctx, dlc_schedule_t *s, int n_args, dlc_tensor_t *const *args, int n_outputs,
               const char *what) {
    char name[64], ref[64];
    snprintf(name, sizeof name, "b%d", batch_counter);
    snprintf(ref, sizeof ref, "b%d_ref", batch_counter++);
    dlc_lowered_func_t *f = NULL, *fr = NULL;
    int rc = dlc_lower(s, name, n_args, args, n_outputs, &f);
    if (rc == 0) rc = dlc_lower_reference(ctx, ref, n_args, args, n_outputs, &fr);
    if (rc < 0) {
        fprintf(stderr, "FAILED %s: lowering: %s (%s)\n", what, dlc_status_name(rc), dlc_last_error());
        b->lower_failures++;
        dlc_ctx_destroy(&ctx);
        return rc;
    }
    f->ref_name = dlc_arena_strdup(dlc_ctx_arena(ctx), ref);
    if (b->n == b->cap) {
        int cap = b->cap ? 2 * b->cap : 64;
        kentry_t *e = realloc(b->e, sizeof *e * (size_t)cap);
        if (!e) abort();
        b->e = e;
        b->cap = cap;
    }
    kentry_t *e = &b->e[b->n++];
    e->ctx = ctx;
    e->f = f;
    e->fr = fr;
    e->what = strdup(what);
    return 0;
}

/* 0 if the entry passed; prints the failure otherwise */
static int measure_entry(kbatch_t *b, kentry_t *e, const char *so_path) {
    dlc_measure_opts_t mo = DLC_MEASURE_OPTS_DEFAULT;
    mo.repeat = 1;
    mo.timeout_s = 120;
    dlc_measure_result_t mr;
    int rc = dlc_measure(&b->tgt, so_path, e->f->name, &mo, &mr);
    if (rc == 0 && mr.status == 0 && mr.verified) return 0;
    fprintf(stderr, "FAILED %s: status %s, max_abs_err %g: %s (kernel %s in %s)\n", e->what,
            dlc_status_name(rc < 0 ? rc : mr.status ? mr.status : DLC_EWRONG), rc < 0 ? 0.0 : mr.max_abs_err,
            rc < 0 ? dlc_last_error() : mr.message, e->f->name, so_path);
    print_ir(e->f);
    return 1;
}

/* builds one entry alone, after its unit failed to build; 0 if it passes */
static int retry_alone(kbatch_t *b, kentry_t *e) {
    dlc_strbuf_t c;
    dlc_strbuf_init(&c);
    dlc_build_result_t br;
    int rc = dlc_codegen_c((dlc_lowered_func_t *[]){e->f, e->fr}, 2, &b->tgt, &c);
    if (rc == 0) rc = dlc_build_so(c.data, c.len, &b->tgt, &br);
    if (rc < 0) {
        fprintf(stderr, "FAILED %s: %s: %s\n", e->what, dlc_status_name(rc), dlc_last_error());
        print_ir(e->f);
        if (getenv("DLC_TEST_VERBOSE")) fprintf(stderr, "%s\n", c.data ? c.data : "");
        dlc_strbuf_free(&c);
        return 1;
    }
    dlc_strbuf_free(&c);
    return measure_entry(b, e, br.so_path);
}

int kbatch_run(kbatch_t *b) {
    int failed = b->lower_failures;
    int units = (b->n + b->per_unit - 1) / b->per_unit;
    if (!units) return failed;
    char **src = calloc((size_t)units, sizeof *src);
    size_t *len = calloc((size_t)units, sizeof *len);
    int *status = calloc((size_t)units, sizeof *status);
    int *gen_rc = calloc((size_t)units, sizeof *gen_rc);
    dlc_build_result_t *br = calloc((size_t)units, sizeof *br);
    dlc_lowered_func_t **funcs = calloc((size_t)(2 * b->per_unit), sizeof *funcs);
    if (!src || !len || !status || !gen_rc || !br || !funcs) abort();
    for (int u = 0; u < units; u++) {
        int lo = u * b->per_unit, hi = lo + b->per_unit < b->n ? lo + b->per_unit : b->n, nf = 0;
        for (int i = lo; i < hi; i++) {
            funcs[nf++] = b->e[i].f;
            funcs[nf++] = b->e[i].fr;
        }
        dlc_strbuf_t c;
        dlc_strbuf_init(&c);
        gen_rc[u] = dlc_codegen_c(funcs, nf, &b->tgt, &c);
        len[u] = c.len;
        src[u] = dlc_strbuf_take(&c);
        if (!src[u]) src[u] = strdup("");
    }
    dlc_build_many((const char *const *)src, len, units, &b->tgt, 0, br, status);
    for (int u = 0; u < units; u++) {
        int lo = u * b->per_unit, hi = lo + b->per_unit < b->n ? lo + b->per_unit : b->n;
        for (int i = lo; i < hi; i++)
            failed += (gen_rc[u] < 0 || status[u] < 0) ? retry_alone(b, &b->e[i]) : measure_entry(b, &b->e[i], br[u].so_path);
        free(src[u]);
    }
    free(src);
    free(len);
    free(status);
    free(gen_rc);
    free(br);
    free(funcs);
    return failed;
}

void kbatch_destroy(kbatch_t **b) {
    if (!b || !*b) return;
    for (int i = 0; i < (*b)->n; i++) {
        dlc_ctx_destroy(&(*b)->e[i].ctx);
        free((*b)->e[i].what);
    }
    free((*b)->e);
    free(*b);
    *b = NULL;
}

/* ---- random schedules ---- */
typedef struct {
    uint64_t s;
    dlc_strbuf_t *log;
    int ok;
} rs_t;

static uint64_t rs_next(rs_t *r) {
    r->s ^= r->s << 13;
    r->s ^= r->s >> 7;
    r->s ^= r->s << 17;
    return r->s;
}
static int rs_int(rs_t *r, int n) { return n <= 1 ? 0 : (int)(rs_next(r) % (uint64_t)n); }

static const char *ivn(const dlc_iter_var_t *iv) { return iv ? iv->var->name : "(null)"; }

/* records a step and whether it was accepted */
static void rs_step(rs_t *r, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void rs_step(rs_t *r, int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    dlc_strbuf_append(r->log, "  ");
    dlc_strbuf_vprintf(r->log, fmt, ap);
    va_end(ap);
    if (rc < 0) {
        dlc_strbuf_printf(r->log, "  -> REFUSED: %s", dlc_last_error());
        r->ok = 0;
    }
    dlc_strbuf_append(r->log, "\n");
}

static void rs_splits(rs_t *r, dlc_stage_t *st) {
    int n_splits = rs_int(r, 4);
    for (int k = 0; k < n_splits && r->ok; k++) {
        int n;
        dlc_iter_var_t *const *lv = dlc_stage_leaves(st, &n);
        if (n >= 14) return;
        dlc_iter_var_t *iv = lv[rs_int(r, n)], *o = NULL, *i = NULL;
        if (rs_int(r, 4) == 0) {
            const int64_t np[] = {1, 2, 3, iv->extent, iv->extent + 2};
            int64_t p = np[rs_int(r, 5)];
            int rc = dlc_stage_split_nparts(st, iv, p, &o, &i);
            rs_step(r, rc, "%s.split(%s, nparts=%lld) -> %s, %s", dlc_stage_name(st), ivn(iv), (long long)p, ivn(o),
                    ivn(i));
        } else {
            const int64_t fs[] = {1, 2, 3, 4, 5, 7, 8, 16, iv->extent, iv->extent + 3};
            int64_t f = fs[rs_int(r, 10)];
            int rc = dlc_stage_split(st, iv, f, &o, &i);
            rs_step(r, rc, "%s.split(%s, factor=%lld) -> %s, %s", dlc_stage_name(st), ivn(iv), (long long)f, ivn(o),
                    ivn(i));
        }
    }
}

static void rs_fuse(rs_t *r, dlc_stage_t *st) {
    if (!r->ok || rs_int(r, 3) != 0) return;
    int n, pairs[64], np = 0;
    dlc_iter_var_t *const *lv = dlc_stage_leaves(st, &n);
    for (int i = 0; i + 1 < n; i++)
        if (lv[i]->kind == lv[i + 1]->kind && (lv[i]->kind == DLC_IV_DATA || rs_int(r, 3) == 0)) pairs[np++] = i;
    if (!np) return;
    int p = pairs[rs_int(r, np)];
    dlc_iter_var_t *a = lv[p], *b = lv[p + 1], *f = NULL;
    int rc = dlc_stage_fuse(st, a, b, &f);
    rs_step(r, rc, "%s.fuse(%s, %s) -> %s", dlc_stage_name(st), ivn(a), ivn(b), ivn(f));
}

static void rs_reorder(rs_t *r, dlc_stage_t *st) {
    if (!r->ok || rs_int(r, 4) == 0) return;
    int n;
    dlc_iter_var_t *const *lv = dlc_stage_leaves(st, &n);
    dlc_iter_var_t *perm[64];
    memcpy(perm, lv, sizeof(perm[0]) * (size_t)n);
    for (int i = n - 1; i > 0; i--) {
        int j = rs_int(r, i + 1);
        dlc_iter_var_t *t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    dlc_strbuf_t names;
    dlc_strbuf_init(&names);
    for (int i = 0; i < n; i++) dlc_strbuf_printf(&names, "%s%s", i ? ", " : "", ivn(perm[i]));
    rs_step(r, dlc_stage_reorder(st, n, perm), "%s.reorder(%s)", dlc_stage_name(st), names.data ? names.data : "");
    dlc_strbuf_free(&names);
}

static void rs_annotate(rs_t *r, dlc_stage_t *st) {
    if (!r->ok) return;
    int n;
    dlc_iter_var_t *const *lv = dlc_stage_leaves(st, &n);
    dlc_iter_var_t *used[3] = {NULL, NULL, NULL};
    int first_reduce = n;
    for (int i = n - 1; i >= 0; i--)
        if (lv[i]->kind == DLC_IV_REDUCE) first_reduce = i;
    /* vectorize: the innermost leaf, or any */
    if (rs_int(r, 2) == 0) used[0] = lv[n - 1];
    else if (rs_int(r, 4) == 0) used[0] = lv[rs_int(r, n)];
    if (used[0])
        rs_step(r, dlc_stage_vectorize(st, used[0]), "%s.vectorize(%s)", dlc_stage_name(st), ivn(used[0]));
    /* unroll: a short loop */
    if (r->ok && rs_int(r, 3) == 0) {
        dlc_iter_var_t *c[64];
        int nc = 0;
        for (int i = 0; i < n; i++)
            if (lv[i]->extent <= 8 && lv[i] != used[0]) c[nc++] = lv[i];
        if (nc) {
            used[1] = c[rs_int(r, nc)];
            rs_step(r, dlc_stage_unroll(st, used[1]), "%s.unroll(%s)", dlc_stage_name(st), ivn(used[1]));
        }
    }
    /* parallel: data leaves outside every reduce leaf; sometimes two (nested) */
    for (int k = 0; k < 2 && r->ok && rs_int(r, k ? 4 : 2) == 0; k++) {
        dlc_iter_var_t *c[64];
        int nc = 0;
        for (int i = 0; i < first_reduce; i++)
            if (lv[i] != used[0] && lv[i] != used[1] && lv[i] != used[2]) c[nc++] = lv[i];
        if (!nc) break;
        dlc_iter_var_t *p = c[rs_int(r, nc)];
        if (!k) used[2] = p;
        rs_step(r, dlc_stage_parallel(st, p), "%s.parallel(%s)", dlc_stage_name(st), ivn(p));
    }
}

static void rs_stage(rs_t *r, dlc_stage_t *st) {
    rs_splits(r, st);
    rs_fuse(r, st);
    rs_reorder(r, st);
    rs_annotate(r, st);
}

static void rs_attach(rs_t *r, dlc_stage_t *st, dlc_stage_t *parent) {
    if (!r->ok) return;
    int n;
    dlc_iter_var_t *const *lv = dlc_stage_leaves(parent, &n);
    dlc_iter_var_t *at = lv[rs_int(r, n)];
    rs_step(r, dlc_stage_compute_at(st, parent, at), "%s.compute_at(%s, %s)", dlc_stage_name(st), dlc_stage_name(parent),
            ivn(at));
}

/* attaches st at a random leaf of parent at position >= min_pos; returns the position */
static int rs_attach_from(rs_t *r, dlc_stage_t *st, dlc_stage_t *parent, int min_pos) {
    if (!r->ok) return 0;
    int n;
    dlc_iter_var_t *const *lv = dlc_stage_leaves(parent, &n);
    int p = min_pos + rs_int(r, n - min_pos);
    rs_step(r, dlc_stage_compute_at(st, parent, lv[p]), "%s.compute_at(%s, %s)", dlc_stage_name(st),
            dlc_stage_name(parent), ivn(lv[p]));
    return p;
}

/* Sometimes stages input `t` through a cache read by `reader`, at root or at a
 * random leaf of it, sometimes with a second cache of the first one attached
 * at the same or a deeper leaf (shared at ko, local at ki on GPUs). */
static void rs_cache_read(rs_t *r, dlc_schedule_t *s, dlc_stage_t *reader, dlc_tensor_t *t) {
    if (!r->ok || rs_int(r, 3) != 0) return;
    dlc_tensor_t *rt = dlc_stage_tensor(reader);
    dlc_scope_t scope = rs_int(r, 2) ? DLC_SCOPE_SHARED : DLC_SCOPE_LOCAL;
    dlc_tensor_t *c = dlc_sched_cache_read(s, t, scope, 1, &rt);
    rs_step(r, c ? 0 : dlc_last_status(), "cache_read(%s, %s, [%s]) -> %s", t->name, dlc_scope_name(scope), rt->name,
            c ? c->name : "(null)");
    if (!c) return;
    dlc_stage_t *cs = dlc_sched_stage(s, c);
    int pos = 0;
    if (rs_int(r, 4) != 0) pos = rs_attach_from(r, cs, reader, 0);
    if (rs_int(r, 3) == 0) rs_stage(r, cs);
    if (r->ok && rs_int(r, 3) == 0) {
        dlc_tensor_t *c2 = dlc_sched_cache_read(s, c, DLC_SCOPE_LOCAL, 1, &rt);
        rs_step(r, c2 ? 0 : dlc_last_status(), "cache_read(%s, local, [%s]) -> %s", c->name, rt->name,
                c2 ? c2->name : "(null)");
        if (c2) rs_attach_from(r, dlc_sched_stage(s, c2), reader, pos);
    }
}

dlc_schedule_t *krandom_schedule(dlc_ctx_t *ctx, const dlc_op_t *op, uint64_t seed, dlc_strbuf_t *log) {
    rs_t r = {seed * 0x9E3779B97F4A7C15ULL + 1, log, 1};
    for (int i = 0; i < 4; i++) rs_next(&r);
    dlc_tensor_t *out = op->out;
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &out);
    if (!s) return NULL;
    dlc_stage_t *so = dlc_sched_stage(s, out), *reader = so, *pad = NULL;
    for (int i = 0; i < dlc_sched_num_stages(s); i++)
        if (strcmp(dlc_stage_name(dlc_sched_stage_at(s, i)), "pad") == 0) pad = dlc_sched_stage_at(s, i);
    dlc_stage_t *cl = NULL;
    if (rs_int(&r, 3) == 0) {
        dlc_tensor_t *c = dlc_sched_cache_write(s, out, DLC_SCOPE_LOCAL);
        rs_step(&r, c ? 0 : dlc_last_status(), "cache_write(%s, local) -> %s", out->name, c ? c->name : "(null)");
        if (!c) return NULL;
        reader = cl = dlc_sched_stage(s, c);
    }
    rs_stage(&r, so);
    if (cl) {
        rs_stage(&r, cl);
        if (rs_int(&r, 4) != 0) rs_attach(&r, cl, so);
    }
    /* caches of the placeholders the reduction reads (a conv's data goes through pad) */
    for (int i = 0; i < op->n_args - op->n_outputs; i++)
        if (!pad || i > 0) rs_cache_read(&r, s, reader, op->args[i]);
    if (pad) {
        int how = rs_int(&r, 3);
        if (how == 0) rs_step(&r, dlc_stage_compute_inline(pad), "pad.compute_inline()");
        else if (how == 1) rs_attach(&r, pad, reader);
        else if (rs_int(&r, 2) == 0) rs_stage(&r, pad);
    }
    return r.ok ? s : NULL;
}

void krandom_spec(uint64_t seed, int kind, char *out, size_t cap) {
    rs_t r = {seed * 0xD1B54A32D192ED03ULL + 7, NULL, 1};
    for (int i = 0; i < 4; i++) rs_next(&r);
    static const int64_t mnk[] = {1, 2, 3, 5, 7, 8, 13, 16, 17, 24};
    static const int64_t small[] = {1, 3, 5, 7, 8, 11};
    if (kind == 0) {
        snprintf(out, cap, "dense:%lld,%lld,%lld", (long long)mnk[rs_int(&r, 10)], (long long)mnk[rs_int(&r, 10)],
                 (long long)mnk[rs_int(&r, 10)]);
    } else if (kind == 1) {
        snprintf(out, cap, "batch_matmul:%d,%lld,%lld,%lld", 1 + rs_int(&r, 3), (long long)small[rs_int(&r, 6)],
                 (long long)small[rs_int(&r, 6)], (long long)small[rs_int(&r, 6)]);
    } else if (kind == 2) {
        int n = 1 + rs_int(&r, 2), c = 1 + rs_int(&r, 4), k = 1 + rs_int(&r, 5);
        int rk = 1 + rs_int(&r, 3), sk = 1 + rs_int(&r, 3);
        int stride = 1 + rs_int(&r, 2), pad = rs_int(&r, 2);
        int h = rk + 2 + rs_int(&r, 8), w = sk + 2 + rs_int(&r, 8);
        snprintf(out, cap, "conv2d:%d,%d,%d,%d,%d,%d,%d,%d,%d", n, c, h, w, k, rk, sk, stride, pad);
    } else if (kind == 3) {
        int rk = 1 + rs_int(&r, 3), sk = 1 + rs_int(&r, 3);
        snprintf(out, cap, "depthwise_conv2d:%d,%d,%d,%d,%d,%d,%d,%d", 1 + rs_int(&r, 2), 1 + rs_int(&r, 5),
                 rk + 1 + rs_int(&r, 9), sk + 1 + rs_int(&r, 9), rk, sk, 1 + rs_int(&r, 2), rs_int(&r, 2));
    } else if (kind == 4) {
        int rk = 2 + rs_int(&r, 3), pad = rs_int(&r, rk); /* H, W > pad keep the output positive */
        snprintf(out, cap, "conv2d_transpose:1,%d,%d,%d,%d,%d,%d,%d,%d", 1 + rs_int(&r, 3), 1 + pad + rs_int(&r, 5),
                 1 + pad + rs_int(&r, 5), 1 + rs_int(&r, 3), rk, rk, 1 + rs_int(&r, 2), pad);
    } else if (kind == 5) {
        int rk = 1 + rs_int(&r, 3), sk = 1 + rs_int(&r, 3);
        snprintf(out, cap, "pool2d:%d,%d,%d,%d,%d,%d,%d,%d,%s", 1 + rs_int(&r, 2), 1 + rs_int(&r, 3),
                 rk + 2 + rs_int(&r, 8), sk + 2 + rs_int(&r, 8), rk, sk, 1 + rs_int(&r, 2), rs_int(&r, 2),
                 rs_int(&r, 2) ? "max" : "avg");
    } else if (kind == 6) {
        snprintf(out, cap, "softmax:%d,%d", 1 + rs_int(&r, 7), 1 + rs_int(&r, 20));
    } else if (kind == 7) {
        int icb = 1 + rs_int(&r, 3), ocb = 1 + rs_int(&r, 3), rk = 1 + rs_int(&r, 3);
        snprintf(out, cap, "conv2d_nchwc:1,%d,%d,%d,%d,%d,%d,%d,%d,%d,%d", icb * (1 + rs_int(&r, 2)),
                 rk + 2 + rs_int(&r, 6), rk + 2 + rs_int(&r, 6), ocb * (1 + rs_int(&r, 2)), rk, rk, 1 + rs_int(&r, 2),
                 rs_int(&r, 2), icb, ocb);
    } else {
        snprintf(out, cap, "bias_relu:%d,%d", 1 + rs_int(&r, 9), 1 + rs_int(&r, 20));
    }
}

/* ---- random schedules of any operator graph ---- */
/* whether e reads p directly or through the bodies of inlined stages */
static int reads_through(dlc_schedule_t *s, const unsigned char *inl, const dlc_expr_t *e, const dlc_tensor_t *p) {
    if (!e) return 0;
    if (e->kind == DLC_EXPR_READ) {
        if (e->tensor == p) return 1;
        dlc_stage_t *st = dlc_sched_stage(s, e->tensor);
        for (int i = 0; st && i < dlc_sched_num_stages(s); i++)
            if (dlc_sched_stage_at(s, i) == st && inl[i] && reads_through(s, inl, e->tensor->body, p)) return 1;
    }
    for (int i = 0; i < e->n; i++)
        if (reads_through(s, inl, e->a[i], p)) return 1;
    return 0;
}

dlc_schedule_t *krandom_schedule_any(dlc_ctx_t *ctx, const dlc_op_t *op, uint64_t seed, dlc_strbuf_t *log) {
    rs_t r = {seed * 0xA24BAED4963EE407ULL + 3, log, 1};
    for (int i = 0; i < 4; i++) rs_next(&r);
    dlc_tensor_t *out = op->out;
    dlc_schedule_t *s = dlc_sched_create(ctx, 1, &out);
    if (!s) return NULL;
    dlc_stage_t *so = dlc_sched_stage(s, out);
    dlc_tensor_t *cw = NULL;
    if (out->body->kind == DLC_EXPR_REDUCE && rs_int(&r, 3) == 0) {
        cw = dlc_sched_cache_write(s, out, DLC_SCOPE_LOCAL);
        rs_step(&r, cw ? 0 : dlc_last_status(), "cache_write(%s, local) -> %s", out->name, cw ? cw->name : "(null)");
        if (!cw) return NULL;
    }
    int n = dlc_sched_num_stages(s);
    unsigned char inl[64] = {0};
    if (n > 64) return NULL;
    /* 1. inline some injective (non-reduction) producers */
    for (int i = 0; i < n && r.ok; i++) {
        dlc_stage_t *st = dlc_sched_stage_at(s, i);
        if (st == so || dlc_stage_tensor(st)->body->kind == DLC_EXPR_REDUCE || rs_int(&r, 3) != 0) continue;
        rs_step(&r, dlc_stage_compute_inline(st), "%s.compute_inline()", dlc_stage_name(st));
        inl[i] = 1;
    }
    /* 2. loops of every other stage */
    for (int i = 0; i < n && r.ok; i++)
        if (!inl[i]) rs_stage(&r, dlc_sched_stage_at(s, i));
    /* 3. a producer with one (effective) reader: sometimes at a random leaf of it; consumers first */
    for (int i = n - 1; i >= 0 && r.ok; i--) {
        dlc_stage_t *p = dlc_sched_stage_at(s, i), *reader = NULL;
        if (inl[i] || p == so || rs_int(&r, 3) == 0) continue;
        int readers = 0;
        for (int j = 0; j < n; j++) {
            dlc_stage_t *q = dlc_sched_stage_at(s, j);
            if (j == i || inl[j]) continue;
            /* after cache_write the output stage reads its cache only (its tensor keeps the original body) */
            int reads = q == so && cw ? dlc_stage_tensor(p) == cw
                                      : reads_through(s, inl, dlc_stage_tensor(q)->body, dlc_stage_tensor(p));
            if (reads) {
                reader = q;
                readers++;
            }
        }
        if (readers == 1) rs_attach(&r, p, reader);
    }
    return r.ok ? s : NULL;
}
