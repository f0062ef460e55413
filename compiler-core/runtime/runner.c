/* runner.c — dlc-runner: loads a kernel object, checks it against its
 * reference and times it with AutoTVM's semantics; prints one JSON line.
 * Standalone (libc, libdl, libm only): dlc compiles it per target with the
 * target's compiler and runs it natively or under qemu (runtime/measure.c). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Beside this file in the runner cache (measure.c writes it there); in the
 * source tree it is reached through the repository root on the include path. */
#if __has_include("dlc_kernel_abi.h")
#include "dlc_kernel_abi.h"
#else
#include "compiler-core/dlc_kernel_abi.h"
#endif

#define MAX_NUMBER 10000000L
#define FLUSH_BYTES (64u << 20)

static const char usage[] =
    "usage: dlc-runner [options] SO ENTRY\n"
    "Runs ENTRY of the kernel object SO: checks it against its reference entry,\n"
    "times it, and prints one JSON line on stdout.\n"
    "  --number N          calls per repeat (default 1)\n"
    "  --repeat R          timed repeats (default 3)\n"
    "  --min-repeat-ms MS  grow number until one repeat takes MS milliseconds\n"
    "  --cooldown S        seconds to sleep between repeats\n"
    "  --flush-cache       write a 64 MiB buffer before each repeat\n"
    "  --no-check          skip the comparison with the reference\n"
    "  --threads N         OpenMP threads (default: all cores)\n"
    "  --seed S            seed of the random inputs (default 42)\n"
    "Exit status: 0 result printed, 2 usage error, 3 load error.\n";

typedef struct {
    long number, repeat;
    double min_repeat_ms, cooldown_s;
    int flush_cache, check;
    long threads;
    uint64_t seed;
    const char *so, *entry;
} opts_t;

/* ---- the one output line ---- */

static void json_str(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", stdout);
        else if (*p < 0x20 || *p == 0x7f)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    putchar('"');
}

static void json_num(double x) {
    if (isfinite(x))
        printf("%.9g", x);
    else
        fputs("null", stdout);
}

static void emit(const char *status, int verified, int checked, double max_err, long number, const double *costs,
                 long n_costs, const char *message) {
    printf("{\"status\":\"%s\",\"verified\":%s,\"checked\":%s,\"max_abs_err\":", status, verified ? "true" : "false",
           checked ? "true" : "false");
    json_num(max_err);
    printf(",\"number\":%ld,\"costs\":[", number);
    for (long i = 0; i < n_costs; i++) {
        if (i)
            putchar(',');
        json_num(costs[i]);
    }
    fputs("],\"message\":", stdout);
    json_str(message ? message : "");
    fputs("}\n", stdout);
    fflush(stdout);
}

static int load_error(const char *msg) {
    emit("error", 0, 0, 0.0, 0, NULL, 0, msg);
    return 3;
}

/* ---- inputs: xorshift64* ---- */

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static float rng_unit(uint64_t *s) { /* uniform in [-1, 1) */
    return (float)(rng_next(s) >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

static int64_t rng_int(uint64_t *s, int64_t lo, int64_t hi) { /* uniform in [lo, hi] */
    return lo + (int64_t)((rng_next(s) >> 11) % (uint64_t)(hi - lo + 1));
}

/* IEEE binary16 <-> float, round to nearest even. */
static uint16_t f2h(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u)
        return (uint16_t)(sign | (ax > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (ax >= 0x477ff000u) /* >= 65520 rounds to infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) { /* below 2^-14: subnormal half, units of 2^-24 */
        float v;
        memcpy(&v, &ax, 4);
        return (uint16_t)(sign | (uint32_t)nearbyintf(v * 16777216.0f));
    }
    uint32_t e = ax - 0x38000000u; /* rebias the exponent from 127 to 15 */
    return (uint16_t)(sign | ((e + 0xfffu + ((e >> 13) & 1u)) >> 13));
}

static float h2f(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, x;
    if (e == 0) {
        float f = ldexpf((float)m, -24);
        return sign ? -f : f;
    }
    x = sign | (e == 31 ? 0x7f800000u | (m << 13) : ((e + 112u) << 23) | (m << 13));
    float f;
    memcpy(&f, &x, 4);
    return f;
}

static const size_t elem_bytes[] = {4, 2, 1, 1, 2, 4, 8, 1};
static const char *const dtype_names[] = {"float32", "float16", "int8", "uint8", "int16", "int32", "int64", "bool"};
_Static_assert(sizeof elem_bytes / sizeof elem_bytes[0] == DLC_KDT_BOOL + 1, "elem_bytes");
_Static_assert(sizeof dtype_names / sizeof dtype_names[0] == DLC_KDT_BOOL + 1, "dtype_names");

/* 8-bit integers span their whole range, so that int8 products summed in
 * int8 instead of the kernel's out_dtype (int32) wrap and show; wider
 * integers stay small enough for their sums not to overflow. */
static void fill_input(void *p, int dt, int64_t n, uint64_t *s) {
    for (int64_t i = 0; i < n; i++) {
        switch (dt) {
        case DLC_KDT_FLOAT32: ((float *)p)[i] = rng_unit(s); break;
        case DLC_KDT_FLOAT16: ((uint16_t *)p)[i] = f2h(rng_unit(s)); break;
        case DLC_KDT_INT8: ((int8_t *)p)[i] = (int8_t)rng_int(s, -128, 127); break;
        case DLC_KDT_UINT8: ((uint8_t *)p)[i] = (uint8_t)rng_int(s, 0, 255); break;
        case DLC_KDT_INT16: ((int16_t *)p)[i] = (int16_t)rng_int(s, -100, 100); break;
        case DLC_KDT_INT32: ((int32_t *)p)[i] = (int32_t)rng_int(s, -100, 100); break;
        case DLC_KDT_INT64: ((int64_t *)p)[i] = rng_int(s, -100, 100); break;
        default: ((uint8_t *)p)[i] = (uint8_t)(rng_next(s) >> 63); break;
        }
    }
}

/* NaN for floats, 0x5A bytes for integers: an output the kernel never wrote shows. */
static void fill_sentinel(void *p, int dt, int64_t n) {
    if (dt == DLC_KDT_FLOAT32)
        for (int64_t i = 0; i < n; i++)
            ((float *)p)[i] = NAN;
    else if (dt == DLC_KDT_FLOAT16)
        for (int64_t i = 0; i < n; i++)
            ((uint16_t *)p)[i] = 0x7e00u;
    else
        memset(p, 0x5a, (size_t)n * elem_bytes[dt]);
}

static double get_elem(const void *p, int dt, int64_t i) {
    switch (dt) {
    case DLC_KDT_FLOAT32: return ((const float *)p)[i];
    case DLC_KDT_FLOAT16: return h2f(((const uint16_t *)p)[i]);
    case DLC_KDT_INT8: return ((const int8_t *)p)[i];
    case DLC_KDT_UINT8: return ((const uint8_t *)p)[i];
    case DLC_KDT_INT16: return ((const int16_t *)p)[i];
    case DLC_KDT_INT32: return ((const int32_t *)p)[i];
    case DLC_KDT_INT64: return (double)((const int64_t *)p)[i];
    default: return ((const uint8_t *)p)[i];
    }
}

static int elem_equal(const void *a, const void *b, int dt, int64_t i) {
    size_t w = elem_bytes[dt];
    return memcmp((const char *)a + (size_t)i * w, (const char *)b + (size_t)i * w, w) == 0;
}

/* Compares output arg `k` (kernel a, reference b). Returns 1 if within
 * tolerance; updates *max_err and describes the first mismatch in msg. */
static int compare(const void *a, const void *b, int dt, int64_t n, int k, double *max_err, char *msg, size_t cap) {
    int ok = 1;
    int is_float = dt == DLC_KDT_FLOAT32 || dt == DLC_KDT_FLOAT16;
    double rtol = dt == DLC_KDT_FLOAT16 ? 1e-2 : 1e-3;
    for (int64_t i = 0; i < n; i++) {
        double x = get_elem(a, dt, i), y = get_elem(b, dt, i);
        int bad;
        if (is_float) {
            if (!isfinite(x) || !isfinite(y)) {
                /* Both NaN, or the same infinity, agree; anything else does not. */
                bad = !((isnan(x) && isnan(y)) || (isinf(x) && x == y));
            } else {
                double d = fabs(x - y);
                if (d > *max_err)
                    *max_err = d;
                bad = d > rtol * (1.0 + fabs(y));
            }
        } else {
            bad = !elem_equal(a, b, dt, i);
            double d = fabs(x - y);
            if (d > *max_err)
                *max_err = d;
        }
        if (bad && ok && msg) {
            snprintf(msg, cap, "argument %d (%s) element %lld: got %.9g, expected %.9g", k, dtype_names[dt],
                     (long long)i, x, y);
        }
        if (bad)
            ok = 0;
    }
    return ok;
}

/* ---- timing ---- */

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds for `number` calls, or -1 if the kernel returned nonzero (*rc). */
static double time_calls(dlc_kernel_fn fn, void *const *data, long number, int32_t *rc) {
    double t0 = now_s();
    for (long i = 0; i < number; i++) {
        *rc = fn(data);
        if (*rc != 0)
            return -1.0;
    }
    return now_s() - t0;
}

static void sleep_s(double s) {
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0) {
    }
}

static int parse_long(const char *s, long lo, long hi, long *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out) {
    char *end;
    double v = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(v >= 0) || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static int bad_usage(const char *fmt, const char *arg) {
    fprintf(stderr, "dlc-runner: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage);
    return 2;
}

static int parse_args(int argc, char **argv, opts_t *o) {
    const char *pos[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if (strcmp(a, "--flush-cache") == 0) {
            o->flush_cache = 1;
            continue;
        }
        if (strcmp(a, "--no-check") == 0) {
            o->check = 0;
            continue;
        }
        if (a[0] == '-' && a[1] == '-') {
            if (i + 1 >= argc)
                return bad_usage("option %s needs a value", a);
            const char *v = argv[++i];
            int bad = 0;
            if (strcmp(a, "--number") == 0)
                bad = parse_long(v, 1, MAX_NUMBER, &o->number);
            else if (strcmp(a, "--repeat") == 0)
                bad = parse_long(v, 1, 100000, &o->repeat);
            else if (strcmp(a, "--min-repeat-ms") == 0)
                bad = parse_double(v, &o->min_repeat_ms);
            else if (strcmp(a, "--cooldown") == 0)
                bad = parse_double(v, &o->cooldown_s);
            else if (strcmp(a, "--threads") == 0)
                bad = parse_long(v, 0, 1 << 16, &o->threads);
            else if (strcmp(a, "--seed") == 0) {
                char *end;
                o->seed = strtoull(v, &end, 10);
                bad = *v == '\0' || *end != '\0' || *v == '-';
            } else
                return bad_usage("unknown option %s", a);
            if (bad)
                return bad_usage("bad value for %s", a);
            continue;
        }
        if (npos == 2)
            return bad_usage("unexpected argument %s", a);
        pos[npos++] = a;
    }
    if (npos != 2)
        return bad_usage("%s", "expected SO and ENTRY");
    o->so = pos[0];
    o->entry = pos[1];
    return 0;
}

/* Every buffer the run allocates, freed by main when the run ends. */
static void *g_owned[2 * DLC_KERNEL_MAX_ARGS + 2];
static int g_n_owned;

static void *owned(void *p) {
    if (p)
        g_owned[g_n_owned++] = p;
    return p;
}

static void *aligned_buffer(size_t bytes) {
    void *p = NULL;
    size_t n = (bytes + 63) & ~(size_t)63;
    if (posix_memalign(&p, 64, n ? n : 64) != 0)
        return NULL;
    memset(p, 0, n ? n : 64);
    return owned(p);
}

static dlc_kernel_fn lookup_fn(void *h, const char *name) {
    void *p = dlsym(h, name);
    dlc_kernel_fn fn;
    memcpy(&fn, &p, sizeof fn);
    return fn;
}

/* Loads, checks and times; prints the result line; returns the exit status. */
static int run(opts_t o) {
    char msg[1024] = "";

    void *h = dlopen(o.so, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        snprintf(msg, sizeof msg, "cannot load %s: %s", o.so, dlerror());
        return load_error(msg);
    }
    char sym[512];
    snprintf(sym, sizeof sym, "%s__desc", o.entry);
    const dlc_kernel_desc_t *d = dlsym(h, sym);
    dlc_kernel_fn fn = lookup_fn(h, o.entry);
    if (d == NULL || fn == NULL) {
        snprintf(msg, sizeof msg, "%s has no entry %s (or no %s)", o.so, o.entry, sym);
        return load_error(msg);
    }
    if (d->abi_version != DLC_KERNEL_ABI_VERSION) {
        snprintf(msg, sizeof msg, "%s was built for kernel ABI %d, this runner speaks %d", o.entry, (int)d->abi_version,
                 DLC_KERNEL_ABI_VERSION);
        return load_error(msg);
    }
    int nargs = d->nargs;
    if (nargs < 1 || nargs > DLC_KERNEL_MAX_ARGS) {
        snprintf(msg, sizeof msg, "%s: bad descriptor: nargs %d", o.entry, nargs);
        return load_error(msg);
    }
    int64_t count[DLC_KERNEL_MAX_ARGS];
    for (int i = 0; i < nargs; i++) {
        if (d->dtype[i] < 0 || d->dtype[i] > DLC_KDT_BOOL || d->ndim[i] < 0 || d->ndim[i] > DLC_KERNEL_MAX_DIMS) {
            snprintf(msg, sizeof msg, "%s: bad descriptor for argument %d (dtype %d, ndim %d)", o.entry, i,
                     (int)d->dtype[i], (int)d->ndim[i]);
            return load_error(msg);
        }
        count[i] = 1;
        for (int k = 0; k < d->ndim[i]; k++) {
            if (d->shape[i][k] < 0 || (d->shape[i][k] > 0 && count[i] > ((int64_t)1 << 40) / d->shape[i][k])) {
                snprintf(msg, sizeof msg, "%s: bad shape for argument %d", o.entry, i);
                return load_error(msg);
            }
            count[i] *= d->shape[i][k];
        }
    }
    int checked = o.check && d->ref_name && d->ref_name[0];
    dlc_kernel_fn ref = NULL;
    if (checked && (ref = lookup_fn(h, d->ref_name)) == NULL) {
        snprintf(msg, sizeof msg, "%s has no reference entry %s", o.so, d->ref_name);
        return load_error(msg);
    }
    if (o.threads > 0) {
        void (*set)(int) = (void (*)(int))dlsym(h, "omp_set_num_threads");
        if (set)
            set((int)o.threads);
    }

    void *data[DLC_KERNEL_MAX_ARGS] = {0}, *ref_data[DLC_KERNEL_MAX_ARGS] = {0};
    uint64_t state = o.seed ? o.seed : 0x9E3779B97F4A7C15ULL;
    for (int i = 0; i < nargs; i++) {
        size_t bytes = (size_t)count[i] * elem_bytes[d->dtype[i]];
        data[i] = aligned_buffer(bytes);
        ref_data[i] = d->is_output[i] ? aligned_buffer(bytes) : data[i];
        if (data[i] == NULL || ref_data[i] == NULL) {
            snprintf(msg, sizeof msg, "cannot allocate %zu bytes for argument %d", bytes, i);
            emit("error", 0, 0, 0.0, o.number, NULL, 0, msg);
            return 0;
        }
        if (!d->is_output[i])
            fill_input(data[i], d->dtype[i], count[i], &state);
    }

    double max_err = 0.0;
    int verified = 0;
    int32_t krc = 0;
    if (checked) {
        for (int i = 0; i < nargs; i++) {
            if (d->is_output[i]) {
                fill_sentinel(data[i], d->dtype[i], count[i]);
                fill_sentinel(ref_data[i], d->dtype[i], count[i]);
            }
        }
        /* The reference runs first, so it sees inputs no candidate has touched. */
        if ((krc = ref(ref_data)) != 0) {
            snprintf(msg, sizeof msg, "reference %s returned %d", d->ref_name, (int)krc);
            emit("error", 0, 1, 0.0, o.number, NULL, 0, msg);
            return 0;
        }
        if ((krc = fn(data)) != 0) {
            snprintf(msg, sizeof msg, "kernel %s returned %d", o.entry, (int)krc);
            emit("error", 0, 1, 0.0, o.number, NULL, 0, msg);
            return 0;
        }
        verified = 1;
        for (int i = 0; i < nargs; i++)
            if (d->is_output[i] && !compare(data[i], ref_data[i], d->dtype[i], count[i], i, &max_err,
                                            verified ? msg : NULL, sizeof msg))
                verified = 0;
        if (!verified) {
            emit("wrong_answer", 0, 1, max_err, o.number, NULL, 0, msg);
            return 0;
        }
    }

    /* Timing, as AutoTVM's time_evaluator: warm up, grow number, repeat. */
    if (time_calls(fn, data, 1, &krc) < 0)
        goto kernel_failed;
    long number = o.number;
    if (o.min_repeat_ms > 0) {
        for (;;) {
            double t = time_calls(fn, data, number, &krc);
            if (t < 0)
                goto kernel_failed;
            if (t * 1e3 >= o.min_repeat_ms || number >= MAX_NUMBER)
                break;
            double scale = t > 0 ? o.min_repeat_ms / (t * 1e3) * 1.2 : 10.0;
            double next = ceil((double)number * scale);
            number = next > (double)MAX_NUMBER ? MAX_NUMBER : next <= (double)number ? number + 1 : (long)next;
        }
    }
    double *costs = owned(calloc((size_t)o.repeat, sizeof *costs));
    unsigned char *flush = o.flush_cache ? owned(malloc(FLUSH_BYTES)) : NULL;
    if (costs == NULL || (o.flush_cache && flush == NULL)) {
        emit("error", 0, checked, max_err, number, NULL, 0, "cannot allocate timing buffers");
        return 0;
    }
    for (long r = 0; r < o.repeat; r++) {
        if (r > 0)
            sleep_s(o.cooldown_s);
        if (flush) {
            memset(flush, (int)r, FLUSH_BYTES);
            __asm__ __volatile__("" : : "r"(flush) : "memory"); /* keep the writes */
        }
        double t = time_calls(fn, data, number, &krc);
        if (t < 0)
            goto kernel_failed;
        costs[r] = t / (double)number;
    }
    emit("ok", verified, checked, max_err, number, costs, o.repeat, "");
    return 0;

kernel_failed:
    snprintf(msg, sizeof msg, "kernel %s returned %d", o.entry, (int)krc);
    emit("error", 0, checked, max_err, o.number, NULL, 0, msg);
    return 0;
}

int main(int argc, char **argv) {
    opts_t o = {1, 3, 0.0, 0.0, 0, 1, 0, 42, NULL, NULL};
    int rc = parse_args(argc, argv, &o);
    if (rc)
        return rc;
    rc = run(o);
    /* The object stays loaded: OpenMP's threads may still run its runtime. */
    for (int i = 0; i < g_n_owned; i++)
        free(g_owned[i]);
    return rc;
}
