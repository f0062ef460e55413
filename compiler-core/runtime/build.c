/* build.c — the toolchain driver: generated C → cached shared objects, with
 * compilers run in parallel and results keyed by a hash of source + command. */
#include "compiler-core/runtime/runtime_impl.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef DLC_VERSION
#define DLC_VERSION "unknown"
#endif

#define OUT_WORD "<out.so>"
#define IN_WORD "<in.c>"

/* ---- helpers shared with measure.c ---- */

void dlc__argv_init(dlc__argv_t *a) { memset(a, 0, sizeof *a); }

void dlc__argv_push(dlc__argv_t *a, const char *word) {
    size_t n = strlen(word) + 1;
    if (a->argc >= DLC__ARGV_MAX || a->used + n > sizeof a->store) {
        a->overflow = 1;
        return;
    }
    memcpy(a->store + a->used, word, n);
    a->argv[a->argc++] = a->store + a->used;
    a->argv[a->argc] = NULL;
    a->used += n;
}

void dlc__argv_push_words(dlc__argv_t *a, const char *s) {
    char word[1024];
    while (*s) {
        s += strspn(s, " \t");
        size_t n = strcspn(s, " \t");
        if (n == 0)
            break;
        if (n >= sizeof word) {
            a->overflow = 1;
            return;
        }
        memcpy(word, s, n);
        word[n] = '\0';
        dlc__argv_push(a, word);
        s += n;
    }
}

void dlc__first_word(const char *s, char *out, size_t cap) {
    s += strspn(s, " \t");
    size_t n = strcspn(s, " \t");
    if (n >= cap)
        n = cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

int dlc__program_exists(const char *prog) {
    if (prog[0] == '\0')
        return 0;
    if (strchr(prog, '/'))
        return access(prog, X_OK) == 0;
    const char *path = getenv("PATH");
    if (path == NULL)
        path = "/usr/local/bin:/usr/bin:/bin";
    char buf[4096];
    while (*path) {
        size_t n = strcspn(path, ":");
        int m = snprintf(buf, sizeof buf, "%.*s/%s", (int)n, n ? path : ".", prog);
        struct stat st;
        if (m > 0 && (size_t)m < sizeof buf && stat(buf, &st) == 0 && S_ISREG(st.st_mode) && access(buf, X_OK) == 0)
            return 1;
        path += n;
        if (*path == ':')
            path++;
    }
    return 0;
}

const char *dlc__install_hint(const char *prog) {
    static const struct {
        const char *prog, *hint;
    } hints[] = {
        {"aarch64-linux-gnu-gcc", "install gcc-aarch64-linux-gnu libc6-dev-arm64-cross"},
        {"riscv64-linux-gnu-gcc", "install gcc-riscv64-linux-gnu libc6-dev-riscv64-cross"},
        {"arm-linux-gnueabihf-gcc", "install gcc-arm-linux-gnueabihf libc6-dev-armhf-cross"},
        {"x86_64-linux-gnu-gcc", "install gcc-x86-64-linux-gnu"},
        {"qemu-aarch64", "install qemu-user"},
        {"qemu-riscv64", "install qemu-user"},
        {"qemu-arm", "install qemu-user"},
        {"nvcc", "install the CUDA toolkit (nvidia-cuda-toolkit)"},
        {"cc", "install build-essential"},
        {"gcc", "install build-essential"},
    };
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++)
        if (strcmp(prog, hints[i].prog) == 0)
            return hints[i].hint;
    return "install it or fix PATH";
}

void dlc__tmp_name(const char *path, char *out, size_t cap) {
    static atomic_uint counter;
    snprintf(out, cap, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
}

/* Appends the first `max_lines` lines of text to sb. */
static void first_lines(const char *text, int max_lines, dlc_strbuf_t *sb) {
    const char *p = text;
    for (int i = 0; i < max_lines && p && *p; i++) {
        size_t n = strcspn(p, "\n");
        dlc_strbuf_appendn(sb, p, n);
        dlc_strbuf_append(sb, "\n");
        p += n;
        if (*p == '\n')
            p++;
    }
    if (p && *p)
        dlc_strbuf_append(sb, "...\n");
}

int dlc__finish_compile(int spawn_rc, const dlc_proc_result_t *r, const char *cc, const char *src_path,
                        const char *tmp_path, const char *final_path) {
    struct stat st;
    /* Judged on this run alone: a batch's spawn_rc may describe another unit. */
    int ok = r->exit_code == 0 && !r->timed_out && r->term_signal == 0 && stat(tmp_path, &st) == 0;
    if (ok) {
        if (rename(tmp_path, final_path) < 0) {
            int err = errno;
            unlink(tmp_path);
            return dlc_error(DLC_EIO, "cannot rename %s to %s: %s", tmp_path, final_path, strerror(err));
        }
        return 0;
    }
    unlink(tmp_path);
    char prog[256];
    dlc__first_word(cc, prog, sizeof prog);
    if (!dlc__program_exists(prog))
        return dlc_error(DLC_ECOMPILE, "%s not found: %s", prog, dlc__install_hint(prog));
    if (spawn_rc < 0 && r->err == NULL)
        return dlc_error(DLC_ECOMPILE, "cannot run %s for %s: %s", prog, src_path, dlc_last_error());
    if (r->timed_out)
        return dlc_error(DLC_ETIMEOUT, "%s timed out after %.1f s compiling %s", prog, r->wall_s, src_path);
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    if (r->term_signal)
        dlc_strbuf_printf(&sb, "%s killed by signal %d compiling %s\n", prog, r->term_signal, src_path);
    else
        dlc_strbuf_printf(&sb, "%s failed (exit %d) compiling %s\n", prog, r->exit_code, src_path);
    const char *err = r->err && r->err[0] ? r->err : (r->out ? r->out : "");
    first_lines(err, 20, &sb);
    /* A cross gcc without its libc headers fails on the first #include. */
    if (strstr(err, "libc-header-start.h") || strstr(err, "stdint.h: No such file") ||
        strstr(err, "stdio.h: No such file") || strstr(err, "cannot find crt"))
        dlc_strbuf_printf(&sb, "hint: the C library for this compiler seems missing (%s)\n", dlc__install_hint(prog));
    if (sb.len && sb.data[sb.len - 1] == '\n')
        sb.data[--sb.len] = '\0';
    int rc = dlc_error(DLC_ECOMPILE, "%s", sb.data);
    dlc_strbuf_free(&sb);
    return rc;
}

/* ---- the compile command and the cache key ---- */

void dlc_build_command(const dlc_target_t *target, dlc_strbuf_t *out) {
    if (target->arch == DLC_ARCH_GPU && target->kind == DLC_TARGET_CUDA) {
        dlc_strbuf_printf(out, "%s -O3%s%s -Xcompiler -fPIC,-fopenmp -shared -o " OUT_WORD " <in.cu> -lm", target->cc,
                          target->cflags[0] ? " " : "", target->cflags);
        return;
    }
    /* Compile time is tuning time. -fno-tree-bit-ccp: GCC's known-bits
     * propagation took a quarter of cc1's time on our long unrolled index
     * arithmetic and changed the code of 12 in 298 cached kernels, by register
     * choice or an aligned move. Kernels never use LTO, so the linker need not
     * load its plugin; -nostdlib skips libc's link script and start files
     * (12 ms of a 26 ms link): a kernel has no constructors, and the libc
     * functions it calls (aligned_alloc, free, memcpy) bind at dlopen to the
     * loading program's libc, which every loader has. */
    dlc_strbuf_printf(out,
                      "%s -O2 -fno-tree-bit-ccp%s%s -std=gnu11 -pipe -fPIC -shared -fno-use-linker-plugin -nostdlib "
                      "-fopenmp -fno-math-errno -o " OUT_WORD " " IN_WORD " -lm -lgcc",
                      target->cc, target->cflags[0] ? " " : "", target->cflags);
}

/* A reference compiled once and linked into every unit that checks against
 * it: the same flags, without the link. */
static void object_command(const dlc_target_t *target, dlc_strbuf_t *out) {
    dlc_strbuf_printf(out,
                      "%s -O2 -fno-tree-bit-ccp%s%s -std=gnu11 -pipe -fPIC -fopenmp -fno-math-errno -c -o " OUT_WORD
                      " " IN_WORD,
                      target->cc, target->cflags[0] ? " " : "", target->cflags);
}

/* "-march=native" code depends on this machine's CPU, which the command line
 * does not show: key it by the CPU's model and flags too, so a cache shared
 * between machines never hands out a .so built for another CPU. */
static char native_id[8192];
static pthread_once_t native_once = PTHREAD_ONCE_INIT;
static void native_id_init(void) {
    char *info = NULL;
    size_t len = 0;
    if (dlc_file_read("/proc/cpuinfo", &info, &len) < 0) {
        dlc_clear_error();
        return;
    }
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    const char *want[] = {"model name", "flags", "Features", "CPU part"};
    for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
        const char *p = strstr(info, want[w]);
        if (p) {
            dlc_strbuf_appendn(&sb, p, strcspn(p, "\n"));
            dlc_strbuf_append(&sb, "\n");
        }
    }
    snprintf(native_id, sizeof native_id, "%s", sb.data);
    dlc_strbuf_free(&sb);
    free(info);
}

const char *dlc__native_cpu_id(void) {
    pthread_once(&native_once, native_id_init);
    return native_id;
}

static void code_hash(const char *src, size_t len, const char *command, char out[65]) {
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    dlc_strbuf_appendn(&sb, src, len);
    dlc_strbuf_append(&sb, "\n");
    dlc_strbuf_append(&sb, command);
    dlc_strbuf_append(&sb, DLC_VERSION);
    if (strstr(command, "native"))
        dlc_strbuf_append(&sb, dlc__native_cpu_id());
    dlc_sha256_hex(sb.data, sb.len, out);
    dlc_strbuf_free(&sb);
}

/* ---- building ---- */

typedef struct {
    char src_path[PATH_MAX];
    char tmp_path[PATH_MAX + 32];
    dlc__argv_t argv;
    int dup_of; /* index of an earlier unit with the same hash, or -1 */
    int spec;   /* index into the compile specs, or -1 */
} unit_t;

/* The unit's command: the target's with the unit's objects right after its
 * source (before the libraries they may need; part of the cache key too). */
static void unit_command(const dlc_build_unit_t *unit, const char *command, dlc_strbuf_t *out) {
    const char *at = strstr(command, " " IN_WORD);
    if (at == NULL || unit->objects == NULL || unit->n_objects == 0) {
        dlc_strbuf_append(out, command);
        return;
    }
    at += strlen(" " IN_WORD);
    dlc_strbuf_appendn(out, command, (size_t)(at - command));
    for (int i = 0; i < unit->n_objects; i++) {
        dlc_strbuf_append(out, " ");
        dlc_strbuf_append(out, unit->objects[i]);
    }
    dlc_strbuf_append(out, at);
}

static int prepare_unit(const dlc_build_unit_t *unit, const dlc_target_t *t, const char *command, int object,
                        const char *dir, dlc_build_result_t *out, unit_t *u) {
    const char *src = unit->source;
    size_t len = unit->len;
    memset(out, 0, sizeof *out);
    for (int i = 0; unit->objects && i < unit->n_objects; i++)
        if (strpbrk(unit->objects[i], " \t"))
            return dlc_error(DLC_EINVAL, "object path with a space: %s", unit->objects[i]);
    code_hash(src, len, command, out->code_hash);
    const char *ext = t->kind == DLC_TARGET_CUDA ? "cu" : "c";
    if (snprintf(u->src_path, sizeof u->src_path, "%s/%s.%s", dir, out->code_hash, ext) >= (int)sizeof u->src_path ||
        snprintf(out->so_path, sizeof out->so_path, "%s/%s.%s", dir, out->code_hash, object ? "o" : "so") >=
            (int)sizeof out->so_path)
        return dlc_error(DLC_EINVAL, "cache path too long: %s", dir);
    if (access(out->so_path, F_OK) == 0) {
        out->cache_hit = 1;
        return 0;
    }
    /* Keep the source beside the object so a person can look at it. */
    if (access(u->src_path, F_OK) != 0) {
        int rc = dlc_file_write(u->src_path, src, len);
        if (rc < 0)
            return rc;
    }
    dlc__tmp_name(out->so_path, u->tmp_path, sizeof u->tmp_path);
    dlc__argv_init(&u->argv);
    dlc_strbuf_t words;
    dlc_strbuf_init(&words);
    dlc_strbuf_append(&words, command);
    /* Substitute after splitting so paths with spaces stay one word. */
    char *save = NULL;
    for (char *w = strtok_r(words.data, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
        if (strcmp(w, OUT_WORD) == 0)
            dlc__argv_push(&u->argv, u->tmp_path);
        else if (strcmp(w, IN_WORD) == 0 || strcmp(w, "<in.cu>") == 0)
            dlc__argv_push(&u->argv, u->src_path);
        else
            dlc__argv_push(&u->argv, w);
    }
    dlc_strbuf_free(&words);
    if (u->argv.overflow)
        return dlc_error(DLC_EINVAL, "compiler command too long: %s", command);
    return 0;
}

int dlc_build_many(const char *const *sources, const size_t *lens, int n, const dlc_target_t *target, int jobs,
                   dlc_build_result_t *out, int *status) {
    return dlc_build_many_limit(sources, lens, n, target, jobs, DLC__COMPILE_TIMEOUT_S, out, status);
}

static int build_units(const dlc_build_unit_t *in, int n, const dlc_target_t *target, int jobs, double timeout_s,
                       int object, dlc_build_result_t *out, int *status) {
    if (n <= 0)
        return 0;
    int links = 0; /* CUDA's command has no place for objects: refuse them, not drop them */
    for (int i = 0; i < n && !links; i++)
        links = in[i].objects && in[i].n_objects > 0;
    if (target->cc[0] == '\0' || ((object || links) && target->kind == DLC_TARGET_CUDA)) {
        int rc = target->cc[0] == '\0'
                     ? dlc_error(DLC_EUNSUPPORTED, "no toolchain for target kind %s (%s)",
                                 dlc_target_kind_name(target->kind), target->str)
                     : dlc_error(DLC_EUNSUPPORTED, "objects are not supported for %s", target->str);
        for (int i = 0; i < n; i++) {
            memset(&out[i], 0, sizeof out[i]);
            status[i] = rc;
        }
        return rc;
    }
    char dir[PATH_MAX];
    int rc = 0;
    if (snprintf(dir, sizeof dir, "%s/kernels", dlc_cache_dir()) >= (int)sizeof dir)
        rc = dlc_error(DLC_EINVAL, "cache directory path too long");
    else
        rc = dlc_mkdirs(dir);
    if (rc < 0) {
        for (int i = 0; i < n; i++)
            status[i] = rc;
        return rc;
    }
    if (jobs <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        jobs = c > 0 ? (int)c : 1;
    }
    dlc_strbuf_t command, unit_cmd;
    dlc_strbuf_init(&command);
    dlc_strbuf_init(&unit_cmd);
    if (object)
        object_command(target, &command);
    else
        dlc_build_command(target, &command);

    unit_t *units = calloc((size_t)n, sizeof *units);
    dlc_proc_spec_t *specs = calloc((size_t)n, sizeof *specs);
    dlc_proc_result_t *res = calloc((size_t)n, sizeof *res);
    if (units == NULL || specs == NULL || res == NULL) {
        free(units);
        free(specs);
        free(res);
        dlc_strbuf_free(&command);
        dlc_strbuf_free(&unit_cmd);
        return dlc_error(DLC_ENOMEM, "out of memory building %d units", n);
    }
    /* The first failing unit's message is what dlc_last_error() reports. */
    int first_bad = n;
    char first_msg[2048] = "";
    int n_specs = 0;
    for (int i = 0; i < n; i++) {
        unit_t *u = &units[i];
        u->dup_of = u->spec = -1;
        unit_cmd.len = 0;
        unit_command(&in[i], command.data, &unit_cmd);
        status[i] = prepare_unit(&in[i], target, unit_cmd.data, object, dir, &out[i], u);
        if (status[i] < 0 && i < first_bad) {
            first_bad = i;
            snprintf(first_msg, sizeof first_msg, "%s", dlc_last_error());
        }
        if (status[i] < 0 || out[i].cache_hit)
            continue;
        for (int j = 0; j < i && u->dup_of < 0; j++)
            if (units[j].spec >= 0 && strcmp(out[j].code_hash, out[i].code_hash) == 0)
                u->dup_of = j;
        if (u->dup_of >= 0)
            continue;
        u->spec = n_specs;
        specs[n_specs].argv = u->argv.argv;
        specs[n_specs].timeout_s = timeout_s > 0 ? timeout_s : DLC__COMPILE_TIMEOUT_S;
        n_specs++;
    }

    double t0 = dlc_now();
    int spawn_rc = n_specs > 0 ? dlc_proc_run_many(specs, res, (size_t)n_specs, jobs) : 0;
    double batch_s = dlc_now() - t0;
    for (int i = 0; i < n; i++) {
        unit_t *u = &units[i];
        if (u->spec >= 0) {
            dlc_proc_result_t *r = &res[u->spec];
            status[i] = dlc__finish_compile(spawn_rc, r, target->cc, u->src_path, u->tmp_path, out[i].so_path);
            out[i].compile_s = r->wall_s > 0 ? r->wall_s : batch_s;
        } else if (u->dup_of >= 0) { /* the same code as an earlier unit: share its outcome */
            status[i] = status[u->dup_of];
            out[i].cache_hit = 1;
        }
        if (status[i] < 0 && i < first_bad) {
            first_bad = i;
            snprintf(first_msg, sizeof first_msg, "%s", dlc_last_error());
        }
    }
    int first_rc = 0;
    if (first_bad < n)
        first_rc = n > 1 ? dlc_error(status[first_bad], "unit %d: %s", first_bad, first_msg)
                         : dlc_error(status[first_bad], "%s", first_msg);
    for (int i = 0; i < n_specs; i++)
        dlc_proc_result_free(&res[i]);
    free(units);
    free(specs);
    free(res);
    dlc_strbuf_free(&command);
    dlc_strbuf_free(&unit_cmd);
    return first_rc;
}

int dlc_build_units(const dlc_build_unit_t *units, int n, const dlc_target_t *target, int jobs, double timeout_s,
                    dlc_build_result_t *out, int *status) {
    return build_units(units, n, target, jobs, timeout_s, 0, out, status);
}

/* Sources without objects to link, as units. */
static int build_sources(const char *const *sources, const size_t *lens, int n, const dlc_target_t *target, int jobs,
                         double timeout_s, int object, dlc_build_result_t *out, int *status) {
    dlc_build_unit_t *u = calloc(n > 0 ? (size_t)n : 1, sizeof *u);
    if (!u)
        return dlc_error(DLC_ENOMEM, "out of memory");
    for (int i = 0; i < n; i++)
        u[i] = (dlc_build_unit_t){.source = sources[i], .len = lens[i]};
    int rc = build_units(u, n, target, jobs, timeout_s, object, out, status);
    free(u);
    return rc;
}

int dlc_build_objects(const char *const *sources, const size_t *lens, int n, const dlc_target_t *target, int jobs,
                      double timeout_s, dlc_build_result_t *out, int *status) {
    return build_sources(sources, lens, n, target, jobs, timeout_s, 1, out, status);
}

int dlc_build_many_limit(const char *const *sources, const size_t *lens, int n, const dlc_target_t *target, int jobs,
                         double timeout_s, dlc_build_result_t *out, int *status) {
    return build_sources(sources, lens, n, target, jobs, timeout_s, 0, out, status);
}

int dlc_build_so(const char *source, size_t len, const dlc_target_t *target, dlc_build_result_t *out) {
    int status = 0;
    double t0 = dlc_now();
    int rc = dlc_build_many(&source, &len, 1, target, 1, out, &status);
    if (rc == 0 && !out->cache_hit)
        out->compile_s = dlc_now() - t0;
    return rc;
}
