/* target.c — TVM target strings ("llvm -mcpu=skylake-avx512") parsed into a
 * dlc_target_t: kind, architecture, template keys, toolchain and flags. */
#include "compiler-core/dlc_codegen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const kind_names[] = {"llvm", "cuda", "ext_dev", "opencl", "vulkan", "rocm"};
_Static_assert(sizeof kind_names / sizeof kind_names[0] == DLC_TARGET_KIND_COUNT, "kind_names");

static const char *const arch_names[] = {"x86_64", "aarch64", "riscv64", "armv7", "gpu", "vta"};
_Static_assert(sizeof arch_names / sizeof arch_names[0] == DLC_ARCH_COUNT, "arch_names");

const char *dlc_target_kind_name(dlc_target_kind_t k) {
    return (unsigned)k < DLC_TARGET_KIND_COUNT ? kind_names[k] : "unknown";
}

const char *dlc_arch_name(dlc_arch_t a) { return (unsigned)a < DLC_ARCH_COUNT ? arch_names[a] : "unknown"; }

static dlc_arch_t host_arch(void) {
#if defined(__x86_64__)
    return DLC_ARCH_X86_64;
#elif defined(__aarch64__)
    return DLC_ARCH_AARCH64;
#elif defined(__riscv) && __riscv_xlen == 64
    return DLC_ARCH_RISCV64;
#elif defined(__arm__)
    return DLC_ARCH_ARMV7;
#else
#error "dlc: unsupported host architecture"
#endif
}

/* How each architecture is compiled and run from an x86_64 (or other) host. */
typedef struct {
    const char *cc;
    const char *exec_wrapper;
} cross_tool_t;
static const cross_tool_t cross_tools[] = {
    [DLC_ARCH_X86_64] = {"x86_64-linux-gnu-gcc", "qemu-x86_64 -L /usr/x86_64-linux-gnu"},
    [DLC_ARCH_AARCH64] = {"aarch64-linux-gnu-gcc", "qemu-aarch64 -L /usr/aarch64-linux-gnu"},
    [DLC_ARCH_RISCV64] = {"riscv64-linux-gnu-gcc", "qemu-riscv64 -L /usr/riscv64-linux-gnu"},
    [DLC_ARCH_ARMV7] = {"arm-linux-gnueabihf-gcc", "qemu-arm -L /usr/arm-linux-gnueabihf"},
    [DLC_ARCH_GPU] = {"nvcc", ""},
    [DLC_ARCH_VTA] = {"cc", ""},
};
_Static_assert(sizeof cross_tools / sizeof cross_tools[0] == DLC_ARCH_COUNT, "cross_tools");

/* x86 -mcpu values whose widest vectors are 512 / 256 bits. */
static const char *const x86_avx512_cpus[] = {"skylake-avx512", "cascadelake",    "icelake-server", "icelake-client",
                                              "cooperlake",     "sapphirerapids", "znver4",         "znver5",
                                              "tigerlake",      "rocketlake"};
static const char *const x86_avx2_cpus[] = {"haswell", "broadwell", "skylake",  "core-avx2", "znver1",
                                            "znver2",  "znver3",    "alderlake"};

static int in_list(const char *s, const char *const *list, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

static int x86_vector_bytes(const dlc_target_t *t) {
    if (strstr(t->mattr, "+avx512f"))
        return 64;
    if (t->mcpu[0] == '\0') { /* -march=native: what this machine has */
#if defined(__x86_64__)
        __builtin_cpu_init();
        if (__builtin_cpu_supports("avx512f"))
            return 64;
        if (__builtin_cpu_supports("avx2"))
            return 32;
#endif
        return 16;
    }
    if (in_list(t->mcpu, x86_avx512_cpus, sizeof x86_avx512_cpus / sizeof x86_avx512_cpus[0]))
        return 64;
    if (in_list(t->mcpu, x86_avx2_cpus, sizeof x86_avx2_cpus / sizeof x86_avx2_cpus[0]))
        return 32;
    return 16;
}

static int prefix(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

/* Error helper: every message names the whole target string and the problem. */
#define TARGET_ERR(fmt, ...) dlc_error(DLC_ETARGET, "bad target \"%s\": " fmt, s, __VA_ARGS__)

static int add_key(dlc_target_t *t, const char *k, size_t len, const char *s) {
    if (len == 0)
        return 0;
    for (int i = 0; i < t->n_keys; i++)
        if (strlen(t->keys[i]) == len && strncmp(t->keys[i], k, len) == 0)
            return 0;
    if (t->n_keys >= (int)(sizeof t->keys / sizeof t->keys[0]))
        return TARGET_ERR("too many keys (at most %d)", (int)(sizeof t->keys / sizeof t->keys[0]));
    if (len >= sizeof t->keys[0])
        return TARGET_ERR("key '%.*s' too long", (int)len, k);
    memcpy(t->keys[t->n_keys], k, len);
    t->keys[t->n_keys][len] = '\0';
    t->n_keys++;
    return 0;
}

static int add_key_list(dlc_target_t *t, const char *list, const char *s) {
    const char *p = list;
    while (*p) {
        size_t n = strcspn(p, ",");
        int rc = add_key(t, p, n, s);
        if (rc < 0)
            return rc;
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

static int copy_value(char *dst, size_t cap, const char *name, const char *v, const char *s) {
    if (strlen(v) >= cap)
        return TARGET_ERR("value of -%s too long (at most %zu characters)", name, cap - 1);
    strcpy(dst, v);
    return 0;
}

static int check_int(const char *name, const char *v, const char *s) {
    char *end;
    long x = strtol(v, &end, 10);
    if (*v == '\0' || *end != '\0' || x < 0)
        return TARGET_ERR("-%s expects a non-negative integer, got '%s'", name, v);
    return 0;
}

/* Applies one "-name[=value]" option (tok without the leading '-'). */
static int apply_option(dlc_target_t *t, char *tok, char *user_keys, size_t user_keys_cap, const char *s) {
    char *eq = strchr(tok, '=');
    const char *v = NULL;
    if (eq) {
        *eq = '\0';
        v = eq + 1;
    }
    const char *name = tok;
    if (strcmp(name, "system-lib") == 0 || strcmp(name, "link-params") == 0) {
        if (v && strcmp(v, "0") && strcmp(v, "1") && strcmp(v, "true") && strcmp(v, "false"))
            return TARGET_ERR("-%s expects no value or 0/1, got '%s'", name, v);
        return 0;
    }
    static const char *const known[] = {"device", "model", "mcpu", "mtriple", "mattr", "keys", "libs", "max_num_threads",
                                        "thread_warp_size", "texture_spatial_limit", "opt-level", "arch"};
    if (!in_list(name, known, sizeof known / sizeof known[0]))
        return TARGET_ERR("unknown option -%s", name);
    if (v == NULL)
        return TARGET_ERR("option -%s needs a value (-%s=...)", name, name);
    if (*v == '\0')
        return TARGET_ERR("option -%s has an empty value", name);
    if (strcmp(name, "device") == 0)
        return copy_value(t->device, sizeof t->device, name, v, s);
    if (strcmp(name, "model") == 0)
        return copy_value(t->model, sizeof t->model, name, v, s);
    if (strcmp(name, "mcpu") == 0)
        return copy_value(t->mcpu, sizeof t->mcpu, name, v, s);
    if (strcmp(name, "mtriple") == 0)
        return copy_value(t->mtriple, sizeof t->mtriple, name, v, s);
    if (strcmp(name, "mattr") == 0)
        return copy_value(t->mattr, sizeof t->mattr, name, v, s);
    if (strcmp(name, "keys") == 0)
        return copy_value(user_keys, user_keys_cap, name, v, s);
    if (strcmp(name, "max_num_threads") == 0 || strcmp(name, "thread_warp_size") == 0 ||
        strcmp(name, "texture_spatial_limit") == 0 || strcmp(name, "opt-level") == 0)
        return check_int(name, v, s);
    if (strcmp(name, "arch") == 0) { /* cuda: -arch=sm_80 goes to nvcc */
        char flag[128];
        snprintf(flag, sizeof flag, "-arch=%s", v);
        return copy_value(t->cflags, sizeof t->cflags, name, flag, s);
    }
    return 0; /* libs: accepted, no effect on C code generation */
}

/* Architecture from -mtriple (llvm targets); -1 with an error if unsupported. */
static int triple_arch(const char *triple, const char *s) {
    if (prefix(triple, "x86_64") || prefix(triple, "amd64"))
        return DLC_ARCH_X86_64;
    if (prefix(triple, "aarch64") || prefix(triple, "arm64"))
        return DLC_ARCH_AARCH64;
    if (prefix(triple, "riscv64"))
        return DLC_ARCH_RISCV64;
    if (prefix(triple, "armv7") || prefix(triple, "arm-"))
        return DLC_ARCH_ARMV7;
    return TARGET_ERR("unsupported -mtriple=%s (x86_64, aarch64, riscv64 or armv7)", triple);
}

static void cpu_toolchain(dlc_target_t *t) {
    t->is_host = t->arch == host_arch();
    snprintf(t->cc, sizeof t->cc, "%s", t->is_host ? "cc" : cross_tools[t->arch].cc);
    snprintf(t->exec_wrapper, sizeof t->exec_wrapper, "%s", t->is_host ? "" : cross_tools[t->arch].exec_wrapper);
    switch (t->arch) {
    case DLC_ARCH_X86_64:
        if (t->mcpu[0])
            snprintf(t->cflags, sizeof t->cflags, "-march=%s", t->mcpu);
        else
            snprintf(t->cflags, sizeof t->cflags, "-march=native");
        t->vector_bytes = x86_vector_bytes(t);
        break;
    case DLC_ARCH_AARCH64:
        if (t->mcpu[0])
            snprintf(t->cflags, sizeof t->cflags, "-mcpu=%s", t->mcpu);
        else
            snprintf(t->cflags, sizeof t->cflags, "-march=armv8-a");
        t->vector_bytes = 16;
        break;
    case DLC_ARCH_RISCV64:
        snprintf(t->cflags, sizeof t->cflags, "-march=rv64gc -mabi=lp64d");
        t->vector_bytes = 16;
        break;
    case DLC_ARCH_ARMV7:
        snprintf(t->cflags, sizeof t->cflags, "-march=armv7-a -mfpu=neon -mfloat-abi=hard");
        t->vector_bytes = 16;
        break;
    default:
        break;
    }
}

int dlc_target_parse(const char *s, dlc_target_t *out) {
    dlc_target_t t;
    char buf[1024], user_keys[256] = "";
    memset(&t, 0, sizeof t);
    if (s == NULL)
        return dlc_error(DLC_ETARGET, "bad target: NULL string");
    if (strlen(s) >= sizeof buf)
        return dlc_error(DLC_ETARGET, "bad target: string too long (%zu characters)", strlen(s));
    strcpy(buf, s);

    /* Split on whitespace; rebuild the canonical string as we go. */
    char *save = NULL, *tok = strtok_r(buf, " \t\r\n\f\v", &save);
    if (tok == NULL)
        return dlc_error(DLC_ETARGET, "bad target \"%s\": empty target string", s);
    if (strcmp(tok, "c") == 0) {
        t.kind = DLC_TARGET_LLVM;
    } else {
        int k = -1;
        for (int i = 0; i < DLC_TARGET_KIND_COUNT; i++)
            if (strcmp(tok, kind_names[i]) == 0)
                k = i;
        if (k < 0)
            return TARGET_ERR("unknown kind '%s' (llvm, c, cuda, ext_dev, opencl, vulkan, rocm)", tok);
        t.kind = (dlc_target_kind_t)k;
    }
    size_t len = (size_t)snprintf(t.str, sizeof t.str, "%s", tok);
    while ((tok = strtok_r(NULL, " \t\r\n\f\v", &save)) != NULL) {
        if (len + 1 + strlen(tok) >= sizeof t.str)
            return TARGET_ERR("too long (at most %zu characters)", sizeof t.str - 1);
        len += (size_t)snprintf(t.str + len, sizeof t.str - len, " %s", tok);
        if (tok[0] != '-' || tok[1] == '\0')
            return TARGET_ERR("'%s' is not an option (options look like -name=value)", tok);
        int rc = apply_option(&t, tok + 1, user_keys, sizeof user_keys, s);
        if (rc < 0)
            return rc;
    }

    /* Keys as TVM builds them: user keys, then the device, then the kind's defaults. */
    int rc = add_key_list(&t, user_keys, s);
    if (rc == 0)
        rc = add_key(&t, t.device, strlen(t.device), s);
    switch (t.kind) {
    case DLC_TARGET_LLVM:
        if (rc == 0)
            rc = add_key(&t, "cpu", 3, s);
        break;
    case DLC_TARGET_CUDA:
        if (rc == 0)
            rc = add_key_list(&t, "cuda,gpu", s);
        break;
    case DLC_TARGET_OPENCL:
    case DLC_TARGET_VULKAN:
    case DLC_TARGET_ROCM:
        if (rc == 0)
            rc = add_key(&t, kind_names[t.kind], strlen(kind_names[t.kind]), s);
        if (rc == 0)
            rc = add_key(&t, "gpu", 3, s);
        break;
    default:
        break;
    }
    if (rc < 0)
        return rc;

    switch (t.kind) {
    case DLC_TARGET_LLVM: {
        int a = t.mtriple[0] ? triple_arch(t.mtriple, s) : (int)host_arch();
        if (a < 0)
            return a;
        t.arch = (dlc_arch_t)a;
        cpu_toolchain(&t);
        break;
    }
    case DLC_TARGET_EXT_DEV: /* VTA: host C calling the VTA runtime (simulator or board) */
        t.arch = DLC_ARCH_VTA;
        snprintf(t.cc, sizeof t.cc, "cc");
        t.vector_bytes = 16;
        break;
    case DLC_TARGET_CUDA:
        t.arch = DLC_ARCH_GPU;
        snprintf(t.cc, sizeof t.cc, "nvcc");
        t.vector_bytes = 16;
        break;
    default: /* opencl, vulkan, rocm: parsed for TopHub, no toolchain */
        t.arch = DLC_ARCH_GPU;
        t.vector_bytes = 16;
        break;
    }
    *out = t;
    return 0;
}
