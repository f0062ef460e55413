/* test_runtime.c — targets, the toolchain driver and its cache, the module
 * loader, and measurement with dlc-runner natively and under qemu. */
#define _GNU_SOURCE /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "compiler-core/dlc_module.h"
#include "support/dlc_support.h"

extern const char dlc__kernel_abi_text[];

static char g_tmp_cache[256]; /* our own cache dir when DLC_CACHE_DIR was unset ("" otherwise) */

/* ---- hand-written kernels obeying dlc_kernel_abi.h ---- */

static const char suite_body[] =
    "#include <stdio.h>\n"
    "#include <unistd.h>\n"
    "#define R 37\n"
    "#define C 53\n"
    "#define DESC3(fn, ref, dt) const dlc_kernel_desc_t fn##__desc = {.abi_version = DLC_KERNEL_ABI_VERSION, \\\n"
    "    .nargs = 3, .ndim = {2, 2, 2}, .shape = {{R, C}, {R, C}, {R, C}}, .dtype = {dt, dt, dt}, \\\n"
    "    .is_output = {0, 0, 1}, .flops = R * C, .name = #fn, .ref_name = ref}\n"
    "int32_t vadd_ref(void *const *d) {\n"
    "    const float *a = d[0], *b = d[1]; float *c = d[2];\n"
    "    for (int i = 0; i < R * C; i++) c[i] = a[i] + b[i];\n"
    "    return 0;\n"
    "}\n"
    "DESC3(vadd_ref, \"\", DLC_KDT_FLOAT32);\n"
    "int32_t vadd(void *const *d) {\n"
    "    const float *restrict a = d[0], *restrict b = d[1]; float *restrict c = d[2];\n"
    "    for (int i = 0; i < R; i++)\n"
    "        for (int j = 0; j < C; j++) c[i * C + j] = a[i * C + j] + b[i * C + j];\n"
    "    return 0;\n"
    "}\n"
    "DESC3(vadd, \"vadd_ref\", DLC_KDT_FLOAT32);\n"
    "int32_t vadd_omp(void *const *d) {\n"
    "    const float *a = d[0], *b = d[1]; float *c = d[2];\n"
    "#pragma omp parallel for\n"
    "    for (int i = 0; i < R; i++)\n"
    "        for (int j = 0; j < C; j++) c[i * C + j] = a[i * C + j] + b[i * C + j];\n"
    "    return 0;\n"
    "}\n"
    "DESC3(vadd_omp, \"vadd_ref\", DLC_KDT_FLOAT32);\n"
    "int32_t vadd_wrong(void *const *d) {\n"
    "    vadd(d); ((float *)d[2])[7] += 1.0f;\n"
    "    return 0;\n"
    "}\n"
    "DESC3(vadd_wrong, \"vadd_ref\", DLC_KDT_FLOAT32);\n"
    "int32_t vadd_partial(void *const *d) {\n" /* leaves the last element unwritten */
    "    const float *a = d[0], *b = d[1]; float *c = d[2];\n"
    "    for (int i = 0; i < R * C - 1; i++) c[i] = a[i] + b[i];\n"
    "    return 0;\n"
    "}\n"
    "DESC3(vadd_partial, \"vadd_ref\", DLC_KDT_FLOAT32);\n"
    "int32_t vadd_crash(void *const *d) {\n"
    "    volatile float *volatile p = 0; *p = 1.0f;\n"
    "    return 0;\n"
    "}\n"
    "DESC3(vadd_crash, \"vadd_ref\", DLC_KDT_FLOAT32);\n"
    "int32_t vadd_hang(void *const *d) {\n"
    "    volatile int forever = 1; while (forever) {}\n"
    "    return 0;\n"
    "}\n"
    "DESC3(vadd_hang, \"vadd_ref\", DLC_KDT_FLOAT32);\n"
    "int32_t vadd_fail(void *const *d) { return 7; }\n"
    "DESC3(vadd_fail, \"vadd_ref\", DLC_KDT_FLOAT32);\n"
    "int32_t vadd_noise(void *const *d) {\n" /* breaks the runner's output */
    "    printf(\"{not json\\n\"); fflush(stdout); _exit(0);\n"
    "}\n"
    "DESC3(vadd_noise, \"\", DLC_KDT_FLOAT32);\n"
    "int32_t ivadd_ref(void *const *d) {\n"
    "    const int32_t *a = d[0], *b = d[1]; int32_t *c = d[2];\n"
    "    for (int i = 0; i < R * C; i++) c[i] = a[i] + b[i];\n"
    "    return 0;\n"
    "}\n"
    "int32_t ivadd(void *const *d) {\n"
    "    const int32_t *a = d[0], *b = d[1]; int32_t *c = d[2];\n"
    "    for (int i = R * C - 1; i >= 0; i--) c[i] = b[i] + a[i];\n"
    "    return 0;\n"
    "}\n"
    "DESC3(ivadd, \"ivadd_ref\", DLC_KDT_INT32);\n"
    "int32_t ivadd_wrong(void *const *d) { ivadd(d); ((int32_t *)d[2])[100] ^= 1; return 0; }\n"
    "DESC3(ivadd_wrong, \"ivadd_ref\", DLC_KDT_INT32);\n"
    /* float16 as uint16 storage: a copy is exact, so the reference agrees. */
    "int32_t hcopy_ref(void *const *d) {\n"
    "    const uint16_t *a = d[0]; uint16_t *b = d[1];\n"
    "    for (int i = 0; i < 101; i++) b[i] = a[i];\n"
    "    return 0;\n"
    "}\n"
    "int32_t hcopy(void *const *d) { return hcopy_ref(d); }\n"
    "const dlc_kernel_desc_t hcopy__desc = {.abi_version = DLC_KERNEL_ABI_VERSION, .nargs = 2, .ndim = {1, 1},\n"
    "    .shape = {{101}, {101}}, .dtype = {DLC_KDT_FLOAT16, DLC_KDT_FLOAT16}, .is_output = {0, 1},\n"
    "    .name = \"hcopy\", .ref_name = \"hcopy_ref\"};\n"
    "int32_t old_abi(void *const *d) { return 0; }\n"
    "const dlc_kernel_desc_t old_abi__desc = {.abi_version = 999, .nargs = 1, .ndim = {1}, .shape = {{4}},\n"
    "    .dtype = {DLC_KDT_FLOAT32}, .is_output = {1}, .name = \"old_abi\", .ref_name = \"\"};\n";

/* The ABI header followed by body (+ a nonce comment); caller frees. */
static char *kernel_source(const char *body, const char *nonce) {
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    dlc_strbuf_append(&sb, dlc__kernel_abi_text);
    dlc_strbuf_append(&sb, body);
    if (nonce)
        dlc_strbuf_printf(&sb, "/* %s */\n", nonce);
    return dlc_strbuf_take(&sb);
}

/* A comment that makes a source unique to this run, so its first build misses the cache. */
static void run_nonce(char *out, size_t cap, int i) {
    snprintf(out, cap, "run %ld %.9f unit %d", (long)getpid(), dlc_now(), i);
}

/* Builds the suite for a target string; asserts success. */
static void build_suite(const char *tstr, dlc_target_t *t, dlc_build_result_t *br) {
    assert_int_equal(dlc_target_parse(tstr, t), 0);
    char *src = kernel_source(suite_body, NULL);
    int rc = dlc_build_so(src, strlen(src), t, br);
    if (rc < 0)
        fail_msg("building the suite for %s: %s", tstr, dlc_last_error());
    free(src);
}

/* ---- setup ---- */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) { return remove(path); }

static int group_setup(void **state) {
    const char *env = getenv("DLC_CACHE_DIR");
    if (env && *env)
        return 0;
    snprintf(g_tmp_cache, sizeof g_tmp_cache, "/tmp/dlc-test-runtime-XXXXXX");
    if (mkdtemp(g_tmp_cache) == NULL)
        return -1;
    return setenv("DLC_CACHE_DIR", g_tmp_cache, 1);
}

static int group_teardown(void **state) {
    if (g_tmp_cache[0])
        nftw(g_tmp_cache, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* ---- targets ---- */

typedef struct {
    const char *str;
    dlc_target_kind_t kind;
    dlc_arch_t arch;
    const char *keys; /* comma-joined */
    const char *cc;
    const char *cflags;
    int vector_bytes; /* 0: host dependent */
    int is_host;
    const char *exec_wrapper;
} target_case_t;

static void join_keys(const dlc_target_t *t, char *out, size_t cap) {
    out[0] = '\0';
    for (int i = 0; i < t->n_keys; i++)
        snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? "," : "", t->keys[i]);
}

static void test_target_parse_good(void **state) {
#if !defined(__x86_64__)
    skip(); /* the expectations below assume an x86_64 host */
#endif
    static const target_case_t cases[] = {
        {"llvm", DLC_TARGET_LLVM, DLC_ARCH_X86_64, "cpu", "cc", "-march=native", 0, 1, ""},
        {"c", DLC_TARGET_LLVM, DLC_ARCH_X86_64, "cpu", "cc", "-march=native", 0, 1, ""},
        {"llvm -mcpu=skylake-avx512", DLC_TARGET_LLVM, DLC_ARCH_X86_64, "cpu", "cc", "-march=skylake-avx512", 64, 1, ""},
        {"llvm -mcpu=core-avx2", DLC_TARGET_LLVM, DLC_ARCH_X86_64, "cpu", "cc", "-march=core-avx2", 32, 1, ""},
        {"llvm -mcpu=znver3", DLC_TARGET_LLVM, DLC_ARCH_X86_64, "cpu", "cc", "-march=znver3", 32, 1, ""},
        {"llvm -mcpu=x86-64 -mattr=+avx512f", DLC_TARGET_LLVM, DLC_ARCH_X86_64, "cpu", "cc", "-march=x86-64", 64, 1,
         ""},
        {"llvm -mcpu=sandybridge", DLC_TARGET_LLVM, DLC_ARCH_X86_64, "cpu", "cc", "-march=sandybridge", 16, 1, ""},
        {"llvm -mtriple=x86_64-linux-gnu -mcpu=haswell", DLC_TARGET_LLVM, DLC_ARCH_X86_64, "cpu", "cc",
         "-march=haswell", 32, 1, ""},
        {"llvm -device=arm_cpu -model=bcm2837 -mtriple=armv7l-linux-gnueabihf -mattr=+neon", DLC_TARGET_LLVM,
         DLC_ARCH_ARMV7, "arm_cpu,cpu", "arm-linux-gnueabihf-gcc", "-march=armv7-a -mfpu=neon -mfloat-abi=hard", 16,
         0, "qemu-arm -L /usr/arm-linux-gnueabihf"},
        {"llvm -device=arm_cpu -mtriple=aarch64-linux-gnu", DLC_TARGET_LLVM, DLC_ARCH_AARCH64, "arm_cpu,cpu",
         "aarch64-linux-gnu-gcc", "-march=armv8-a", 16, 0, "qemu-aarch64 -L /usr/aarch64-linux-gnu"},
        {"llvm -device=arm_cpu -mtriple=aarch64-linux-gnu -mcpu=cortex-a72", DLC_TARGET_LLVM, DLC_ARCH_AARCH64,
         "arm_cpu,cpu", "aarch64-linux-gnu-gcc", "-mcpu=cortex-a72", 16, 0, "qemu-aarch64 -L /usr/aarch64-linux-gnu"},
        {"llvm -mtriple=riscv64-linux-gnu", DLC_TARGET_LLVM, DLC_ARCH_RISCV64, "cpu", "riscv64-linux-gnu-gcc",
         "-march=rv64gc -mabi=lp64d", 16, 0, "qemu-riscv64 -L /usr/riscv64-linux-gnu"},
        {"llvm -mtriple=arm-linux-gnueabihf", DLC_TARGET_LLVM, DLC_ARCH_ARMV7, "cpu", "arm-linux-gnueabihf-gcc",
         "-march=armv7-a -mfpu=neon -mfloat-abi=hard", 16, 0, "qemu-arm -L /usr/arm-linux-gnueabihf"},
        {"llvm -keys=x86,cpu -system-lib -link-params=0 -opt-level=3", DLC_TARGET_LLVM, DLC_ARCH_X86_64, "x86,cpu",
         "cc", "-march=native", 0, 1, ""},
        {"cuda -model=titanx", DLC_TARGET_CUDA, DLC_ARCH_GPU, "cuda,gpu", "nvcc", "", 16, 0, ""},
        {"cuda -keys=cuda,gpu -arch=sm_80 -max_num_threads=1024 -thread_warp_size=32 -libs=cudnn", DLC_TARGET_CUDA,
         DLC_ARCH_GPU, "cuda,gpu", "nvcc", "-arch=sm_80", 16, 0, ""},
        {"opencl -model=rk3399 -device=mali", DLC_TARGET_OPENCL, DLC_ARCH_GPU, "mali,opencl,gpu", "", "", 16, 0, ""},
        {"opencl -device=intel_graphics -model=unknown", DLC_TARGET_OPENCL, DLC_ARCH_GPU,
         "intel_graphics,opencl,gpu", "", "", 16, 0, ""},
        {"opencl -keys=adreno,opencl,gpu -device=adreno -max_num_threads=256 -texture_spatial_limit=16384 "
         "-thread_warp_size=1",
         DLC_TARGET_OPENCL, DLC_ARCH_GPU, "adreno,opencl,gpu", "", "", 16, 0, ""},
        {"rocm -model=gfx900", DLC_TARGET_ROCM, DLC_ARCH_GPU, "rocm,gpu", "", "", 16, 0, ""},
        {"vulkan -model=v1000", DLC_TARGET_VULKAN, DLC_ARCH_GPU, "vulkan,gpu", "", "", 16, 0, ""},
        {"ext_dev -device=vta", DLC_TARGET_EXT_DEV, DLC_ARCH_VTA, "vta", "cc", "", 16, 0, ""},
        {"ext_dev -device=vta -keys=cpu -model=pynq_1x16_i8w8a32_15_15_18_17", DLC_TARGET_EXT_DEV, DLC_ARCH_VTA,
         "cpu,vta", "cc", "", 16, 0, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const target_case_t *c = &cases[i];
        dlc_target_t t;
        int rc = dlc_target_parse(c->str, &t);
        if (rc != 0)
            fail_msg("parse \"%s\": %d %s", c->str, rc, dlc_last_error());
        char keys[512];
        join_keys(&t, keys, sizeof keys);
        if (t.kind != c->kind || t.arch != c->arch || strcmp(keys, c->keys) || strcmp(t.cc, c->cc) ||
            strcmp(t.cflags, c->cflags) || (c->vector_bytes && t.vector_bytes != c->vector_bytes) ||
            t.is_host != c->is_host || strcmp(t.exec_wrapper, c->exec_wrapper) || strcmp(t.str, c->str))
            fail_msg("\"%s\": got kind %s arch %s keys [%s] cc '%s' cflags '%s' vector %d host %d wrapper '%s' "
                     "str '%s'",
                     c->str, dlc_target_kind_name(t.kind), dlc_arch_name(t.arch), keys, t.cc, t.cflags,
                     t.vector_bytes, t.is_host, t.exec_wrapper, t.str);
    }
    /* Fields of a TopHub ARM target. */
    dlc_target_t t;
    assert_int_equal(dlc_target_parse("llvm -device=arm_cpu -model=bcm2837 -mtriple=armv7l-linux-gnueabihf "
                                      "-mattr=+neon",
                                      &t),
                     0);
    assert_string_equal(t.device, "arm_cpu");
    assert_string_equal(t.model, "bcm2837");
    assert_string_equal(t.mtriple, "armv7l-linux-gnueabihf");
    assert_string_equal(t.mattr, "+neon");
}

static void test_target_native_vector(void **state) {
#if !defined(__x86_64__)
    skip(); /* the expectations below assume an x86_64 host */
#endif
    dlc_target_t t;
    assert_int_equal(dlc_target_parse("llvm", &t), 0);
    __builtin_cpu_init();
    int want = __builtin_cpu_supports("avx512f") ? 64 : __builtin_cpu_supports("avx2") ? 32 : 16;
    assert_int_equal(t.vector_bytes, want);
}

static void test_target_normalise_and_names(void **state) {
    dlc_target_t t;
    assert_int_equal(dlc_target_parse("  llvm \t -mcpu=haswell   -device=arm_cpu\n", &t), 0);
    assert_string_equal(t.str, "llvm -mcpu=haswell -device=arm_cpu");
    assert_string_equal(dlc_arch_name(DLC_ARCH_AARCH64), "aarch64");
    assert_string_equal(dlc_arch_name(DLC_ARCH_X86_64), "x86_64");
    assert_string_equal(dlc_target_kind_name(DLC_TARGET_EXT_DEV), "ext_dev");
    assert_string_equal(dlc_target_kind_name(DLC_TARGET_LLVM), "llvm");
    /* Duplicate user keys collapse onto the defaults. */
    assert_int_equal(dlc_target_parse("llvm -keys=cpu,arm_cpu,cpu -device=arm_cpu", &t), 0);
    assert_int_equal(t.n_keys, 2);
    assert_string_equal(t.keys[0], "cpu");
    assert_string_equal(t.keys[1], "arm_cpu");
}

static void test_target_parse_bad(void **state) {
    static const struct {
        const char *str, *needle;
    } bad[] = {
        {"", "empty"},
        {"   ", "empty"},
        {"llvmx", "llvmx"},
        {"llvm -bogus=1", "-bogus"},
        {"llvm mcpu", "mcpu"},
        {"llvm -mcpu", "-mcpu"},
        {"llvm -mcpu=", "-mcpu"},
        {"llvm -", "'-'"},
        {"cuda -max_num_threads=lots", "max_num_threads"},
        {"llvm -mtriple=mips-linux-gnu", "mips"},
        {"llvm -keys=a,b,c,d,e,f,g,h,i", "keys"},
        {"llvm -system-lib=maybe", "system-lib"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        dlc_target_t t;
        int rc = dlc_target_parse(bad[i].str, &t);
        const char *msg = dlc_last_error();
        if (rc != DLC_ETARGET || strstr(msg, bad[i].needle) == NULL || strchr(msg, '\n'))
            fail_msg("\"%s\": rc %d, message '%s' should name '%s' on one line", bad[i].str, rc, msg, bad[i].needle);
    }
    /* Too long for str: an error, not a truncation. */
    char longs[600] = "llvm";
    while (strlen(longs) < 500)
        strcat(longs, " -model=abcdefgh");
    dlc_target_t t;
    assert_int_equal(dlc_target_parse(longs, &t), DLC_ETARGET);
    assert_non_null(strstr(dlc_last_error(), "too long"));
    char huge[2000];
    memset(huge, 'x', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    assert_int_equal(dlc_target_parse(huge, &t), DLC_ETARGET);
    assert_int_equal(dlc_target_parse("llvm -model=0123456789012345678901234567890123456789012345678901234567890123456789", &t),
                     DLC_ETARGET);
}

/* ---- build ---- */

static void test_build_command(void **state) {
    dlc_target_t t;
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    assert_int_equal(dlc_target_parse("llvm -mcpu=haswell", &t), 0);
    dlc_build_command(&t, &sb);
    assert_non_null(strstr(sb.data, "cc -O2 -fno-tree-bit-ccp -march=haswell -std=gnu11 -pipe -fPIC -shared -fno-use-linker-plugin -nostdlib -fopenmp -fno-math-errno -o "));
    assert_non_null(strstr(sb.data, " -lm -lgcc"));
    dlc_strbuf_clear(&sb);
    assert_int_equal(dlc_target_parse("llvm -mtriple=aarch64-linux-gnu -mcpu=cortex-a53", &t), 0);
    dlc_build_command(&t, &sb);
    assert_non_null(strstr(sb.data, "aarch64-linux-gnu-gcc -O2 -fno-tree-bit-ccp -mcpu=cortex-a53 "));
    dlc_strbuf_free(&sb);
}

static void test_build_cache(void **state) {
    dlc_target_t t;
    assert_int_equal(dlc_target_parse("llvm", &t), 0);
    char nonce[128];
    run_nonce(nonce, sizeof nonce, 0);
    char *src = kernel_source(suite_body, nonce);
    dlc_build_result_t a, b;
    int rc = dlc_build_so(src, strlen(src), &t, &a);
    if (rc < 0)
        fail_msg("%s", dlc_last_error());
    assert_int_equal(a.cache_hit, 0);
    assert_true(a.compile_s > 0.0);
    assert_int_equal(strlen(a.code_hash), 64);
    assert_int_equal(access(a.so_path, R_OK), 0);
    char expect_dir[PATH_MAX];
    snprintf(expect_dir, sizeof expect_dir, "%s/kernels/%s.so", dlc_cache_dir(), a.code_hash);
    assert_string_equal(a.so_path, expect_dir);
    /* The source is kept beside the object. */
    char c_path[PATH_MAX];
    snprintf(c_path, sizeof c_path, "%s/kernels/%s.c", dlc_cache_dir(), a.code_hash);
    char *kept = NULL;
    size_t kept_len = 0;
    assert_int_equal(dlc_file_read(c_path, &kept, &kept_len), 0);
    assert_int_equal(kept_len, strlen(src));
    assert_memory_equal(kept, src, kept_len);
    free(kept);

    assert_int_equal(dlc_build_so(src, strlen(src), &t, &b), 0);
    assert_int_equal(b.cache_hit, 1);
    assert_true(b.compile_s == 0.0);
    assert_string_equal(a.so_path, b.so_path);
    assert_string_equal(a.code_hash, b.code_hash);

    /* Another target (flags) is another object. */
    dlc_target_t t2;
    assert_int_equal(dlc_target_parse("llvm -mcpu=x86-64", &t2), 0);
    assert_int_equal(dlc_build_so(src, strlen(src), &t2, &b), 0);
    assert_string_not_equal(a.code_hash, b.code_hash);
    free(src);
    /* No temporary files left behind. */
    dlc_strbuf_t dir;
    dlc_strbuf_init(&dir);
    dlc_strbuf_printf(&dir, "%s/kernels/%s.so.tmp.%ld.0", dlc_cache_dir(), a.code_hash, (long)getpid());
    assert_int_not_equal(access(dir.data, F_OK), 0);
    dlc_strbuf_free(&dir);
}

static void test_build_compile_error(void **state) {
    dlc_target_t t;
    assert_int_equal(dlc_target_parse("llvm", &t), 0);
    char nonce[128];
    run_nonce(nonce, sizeof nonce, 1);
    char *src = kernel_source("int32_t broken(void *const *d) { return undeclared_thing_xyz; }\n", nonce);
    dlc_build_result_t br;
    assert_int_equal(dlc_build_so(src, strlen(src), &t, &br), DLC_ECOMPILE);
    const char *msg = dlc_last_error();
    assert_non_null(strstr(msg, "undeclared_thing_xyz"));
    assert_non_null(strstr(msg, "error"));
    assert_non_null(strstr(msg, br.code_hash)); /* names the kept .c file */
    assert_int_not_equal(access(br.so_path, F_OK), 0);
    free(src);

    /* A missing compiler is named, with the package to install. */
    snprintf(t.cc, sizeof t.cc, "dlc-no-such-compiler");
    src = kernel_source("int x;\n", nonce);
    assert_int_equal(dlc_build_so(src, strlen(src), &t, &br), DLC_ECOMPILE);
    assert_non_null(strstr(dlc_last_error(), "dlc-no-such-compiler not found"));
    free(src);

    /* Kinds without a toolchain refuse to build. */
    assert_int_equal(dlc_target_parse("opencl -device=mali", &t), 0);
    assert_true(dlc_build_so("x", 1, &t, &br) < 0);
}

static void test_build_many(void **state) {
    dlc_target_t t;
    assert_int_equal(dlc_target_parse("llvm", &t), 0);
    enum { N = 6 };
    char *src[N];
    size_t len[N];
    char nonce[128];
    for (int i = 0; i < 4; i++) {
        run_nonce(nonce, sizeof nonce, 100 + i);
        src[i] = kernel_source(suite_body, nonce);
        len[i] = strlen(src[i]);
    }
    src[4] = strdup(src[1]); /* a duplicate of unit 1 */
    len[4] = len[1];
    run_nonce(nonce, sizeof nonce, 200);
    src[5] = kernel_source("int32_t bad(void) { return no_such_symbol_abc; }\n", nonce);
    len[5] = strlen(src[5]);

    dlc_build_result_t out[N];
    int status[N];
    /* First the four distinct good units. */
    int rc = dlc_build_many((const char *const *)src, len, 4, &t, 0, out, status);
    if (rc < 0)
        fail_msg("%s", dlc_last_error());
    for (int i = 0; i < 4; i++) {
        assert_int_equal(status[i], 0);
        assert_int_equal(out[i].cache_hit, 0);
        assert_int_equal(access(out[i].so_path, R_OK), 0);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(out[i].so_path, out[j].so_path);
    }
    /* Then all six: four hits, a duplicate, a failure. */
    rc = dlc_build_many((const char *const *)src, len, N, &t, 3, out, status);
    assert_int_equal(rc, DLC_ECOMPILE);
    assert_non_null(strstr(dlc_last_error(), "no_such_symbol_abc"));
    assert_non_null(strstr(dlc_last_error(), "unit 5"));
    for (int i = 0; i < 5; i++) {
        assert_int_equal(status[i], 0);
        assert_int_equal(out[i].cache_hit, 1);
    }
    assert_string_equal(out[4].so_path, out[1].so_path);
    assert_int_equal(status[5], DLC_ECOMPILE);
    for (int i = 0; i < N; i++)
        free(src[i]);

    /* A duplicate inside one batch is compiled once and shared. */
    run_nonce(nonce, sizeof nonce, 300);
    char *fresh = kernel_source(suite_body, nonce);
    const char *pair[2] = {fresh, fresh};
    size_t pair_len[2] = {strlen(fresh), strlen(fresh)};
    assert_int_equal(dlc_build_many(pair, pair_len, 2, &t, 2, out, status), 0);
    assert_int_equal(out[0].cache_hit, 0);
    assert_int_equal(out[1].cache_hit, 1);
    assert_string_equal(out[0].so_path, out[1].so_path);
    free(fresh);
}

/* ---- module ---- */

static void make_tensor(DLTensor *t, void *data, DLDataType dt, int ndim, int64_t *shape) {
    memset(t, 0, sizeof *t);
    t->data = data;
    t->device.device_type = kDLCPU;
    t->ndim = ndim;
    t->dtype = dt;
    t->shape = shape;
}

static void expect_einval(dlc_module_t *m, const char *entry, DLTensor *args, int n, const char *n1, const char *n2) {
    int rc = dlc_module_call(m, entry, args, n);
    const char *msg = dlc_last_error();
    if (rc != DLC_EINVAL || strstr(msg, n1) == NULL || strstr(msg, n2) == NULL)
        fail_msg("expected EINVAL naming '%s' and '%s', got %d '%s'", n1, n2, rc, msg);
}

static void test_module(void **state) {
    dlc_target_t t;
    dlc_build_result_t br;
    build_suite("llvm", &t, &br);
    dlc_module_t *m = dlc_module_load(br.so_path);
    assert_non_null(m);
    const dlc_kernel_desc_t *d = dlc_module_desc(m, "vadd");
    assert_non_null(d);
    assert_int_equal(d->abi_version, DLC_KERNEL_ABI_VERSION);
    assert_int_equal(d->nargs, 3);
    assert_string_equal(d->ref_name, "vadd_ref");
    assert_int_equal(d->shape[2][1], 53);
    assert_non_null(dlc_module_func(m, "vadd"));
    assert_null(dlc_module_desc(m, "no_such_entry"));
    assert_null(dlc_module_func(m, "no_such_entry"));

    enum { R = 37, C = 53, N = R * C };
    static float a[N], b[N], c[N + 8];
    for (int i = 0; i < N; i++) {
        a[i] = (float)i * 0.5f;
        b[i] = (float)(N - i);
    }
    int64_t shape[2] = {R, C};
    DLDataType f32 = {kDLFloat, 32, 1};
    DLTensor args[3];
    make_tensor(&args[0], a, f32, 2, shape);
    make_tensor(&args[1], b, f32, 2, shape);
    make_tensor(&args[2], c, f32, 2, shape);
    /* byte_offset is honoured, explicit compact strides accepted. */
    args[2].byte_offset = 8 * sizeof(float);
    int64_t strides[2] = {C, 1};
    args[1].strides = strides;
    c[0] = -1.0f;
    if (dlc_module_call(m, "vadd", args, 3) < 0)
        fail_msg("%s", dlc_last_error());
    assert_true(c[0] == -1.0f);
    for (int i = 0; i < N; i++)
        if (c[8 + i] != a[i] + b[i])
            fail_msg("c[%d] = %g, expected %g", i, c[8 + i], a[i] + b[i]);
    args[2].byte_offset = 0;

    /* The OpenMP kernel with a thread count set. */
    dlc_module_set_threads(2);
    memset(c, 0, sizeof c);
    assert_int_equal(dlc_module_call(m, "vadd_omp", args, 3), 0);
    for (int i = 0; i < N; i++)
        assert_true(c[i] == a[i] + b[i]);
    dlc_module_set_threads(0);

    /* int32 */
    static int32_t ia[N], ib[N], ic[N];
    for (int i = 0; i < N; i++) {
        ia[i] = i;
        ib[i] = 3 * i - 7;
    }
    DLDataType i32 = {kDLInt, 32, 1};
    DLTensor iargs[3];
    make_tensor(&iargs[0], ia, i32, 2, shape);
    make_tensor(&iargs[1], ib, i32, 2, shape);
    make_tensor(&iargs[2], ic, i32, 2, shape);
    assert_int_equal(dlc_module_call(m, "ivadd", iargs, 3), 0);
    for (int i = 0; i < N; i++)
        assert_int_equal(ic[i], 4 * i - 7);

    /* Mismatches name the argument and what differs. */
    expect_einval(m, "vadd", iargs, 3, "argument 0", "dtype int32, expected float32");
    int64_t bad_shape[2] = {R, C + 1};
    args[1].shape = bad_shape;
    args[1].strides = NULL;
    expect_einval(m, "vadd", args, 3, "argument 1", "shape[1] is 54, expected 53");
    args[1].shape = shape;
    args[2].ndim = 1;
    expect_einval(m, "vadd", args, 3, "argument 2", "ndim 1, expected 2");
    args[2].ndim = 2;
    int64_t col_major[2] = {1, R};
    args[0].strides = col_major;
    expect_einval(m, "vadd", args, 3, "argument 0", "strides");
    args[0].strides = NULL;
    args[1].device.device_type = kDLCUDA;
    expect_einval(m, "vadd", args, 3, "argument 1", "device");
    args[1].device.device_type = kDLCPU;
    DLDataType f32x4 = {kDLFloat, 32, 4};
    args[2].dtype = f32x4;
    expect_einval(m, "vadd", args, 3, "argument 2", "lanes 4");
    args[2].dtype = f32;
    expect_einval(m, "vadd", args, 2, "3 arguments", "got 2");
    assert_int_equal(dlc_module_call(m, "no_such_entry", args, 3), DLC_ENOTFOUND);
    assert_int_equal(dlc_module_call(m, "vadd_fail", args, 3), DLC_ERUNTIME);
    assert_non_null(strstr(dlc_last_error(), "returned 7"));
    float one[4];
    int64_t four = 4;
    DLTensor o;
    make_tensor(&o, one, f32, 1, &four);
    assert_int_equal(dlc_module_call(m, "old_abi", &o, 1), DLC_ELOAD);
    assert_int_equal(dlc_module_call(m, "vadd", args, 3), 0); /* still fine after errors */

    dlc_module_destroy(&m);
    assert_null(m);
    dlc_module_destroy(&m); /* safe twice */

    assert_null(dlc_module_load("/nonexistent/dir/x.so"));
    assert_int_equal(dlc_last_status(), DLC_ELOAD);
    assert_non_null(strstr(dlc_last_error(), "/nonexistent/dir/x.so"));
}

/* ---- measure ---- */

static dlc_measure_result_t measure(const dlc_target_t *t, const char *so, const char *entry,
                                    const dlc_measure_opts_t *o) {
    dlc_measure_result_t r;
    int rc = dlc_measure(t, so, entry, o, &r);
    if (rc < 0)
        fail_msg("measure %s on %s: %s", entry, t->str, dlc_last_error());
    return r;
}

static void expect_ok(const dlc_measure_result_t *r, const char *what, int repeat) {
    if (r->status != 0 || !r->verified || !r->checked || r->n_costs != repeat || !(r->mean_s > 0))
        fail_msg("%s: status %d verified %d checked %d n_costs %d mean %g message '%s'", what, r->status, r->verified,
                 r->checked, r->n_costs, r->mean_s, r->message);
    for (int i = 0; i < r->n_costs; i++)
        assert_true(r->costs[i] > 0 && r->costs[i] < 1.0);
}

static void expect_status(const dlc_measure_result_t *r, int status, const char *needle) {
    if (r->status != status || (needle && strstr(r->message, needle) == NULL))
        fail_msg("expected status %s with '%s', got %s: '%s'", dlc_status_name(status), needle ? needle : "",
                 dlc_status_name(r->status), r->message);
}

static void test_measure_native(void **state) {
    dlc_target_t t;
    dlc_build_result_t br;
    build_suite("llvm", &t, &br);
    dlc_measure_opts_t o = DLC_MEASURE_OPTS_DEFAULT;
    dlc_measure_result_t r = measure(&t, br.so_path, "vadd", &o);
    expect_ok(&r, "vadd", 3);
    assert_true(r.max_abs_err <= 1e-6);
    assert_int_equal(r.number, 1);
    double sum = 0;
    for (int i = 0; i < r.n_costs; i++)
        sum += r.costs[i];
    assert_true(fabs(sum / r.n_costs - r.mean_s) < 1e-12);

    r = measure(&t, br.so_path, "ivadd", &o);
    expect_ok(&r, "ivadd", 3);
    r = measure(&t, br.so_path, "hcopy", &o);
    expect_ok(&r, "hcopy", 3);
    o.threads = 2;
    o.repeat = 5;
    o.flush_cache = 1;
    o.cooldown_s = 0.001;
    r = measure(&t, br.so_path, "vadd_omp", &o);
    expect_ok(&r, "vadd_omp", 5);

    /* No check: timed but not verified. */
    dlc_measure_opts_t nc = DLC_MEASURE_OPTS_DEFAULT;
    nc.check = 0;
    r = measure(&t, br.so_path, "vadd_wrong", &nc);
    expect_status(&r, 0, NULL);
    assert_int_equal(r.checked, 0);
    assert_int_equal(r.verified, 0);
    assert_int_equal(r.n_costs, 3);
    /* No reference named: nothing to check against. */
    r = measure(&t, br.so_path, "vadd_ref", &o);
    expect_status(&r, 0, NULL);
    assert_int_equal(r.checked, 0);

    /* Bad options are refused before anything runs. */
    o.repeat = DLC_MEASURE_MAX_REPEAT + 1;
    assert_int_equal(dlc_measure(&t, br.so_path, "vadd", &o, &r), DLC_EINVAL);
}

/* A reference compiled once as an object (dlc_build_objects) and linked
 * into shared objects (dlc_build_units): the runner finds it by name as if
 * it were in the unit, a wrong kernel is caught, the object is cached, and
 * the link is part of a unit's cache key. */
static void test_linked_reference(void **state) {
    dlc_target_t t;
    assert_int_equal(dlc_target_parse("llvm", &t), 0);
    static const char ref_body[] =
        "#define N 1009\n"
        "int32_t lref(void *const *d) {\n"
        "    const float *a = d[0], *b = d[1]; float *c = d[2];\n"
        "    for (int i = 0; i < N; i++) c[i] = a[i] * b[i];\n"
        "    return 0;\n"
        "}\n";
    static const char units_body[] =
        "#define N 1009\n"
        "#define DESC(fn) const dlc_kernel_desc_t fn##__desc = {.abi_version = DLC_KERNEL_ABI_VERSION, \\\n"
        "    .nargs = 3, .ndim = {1, 1, 1}, .shape = {{N}, {N}, {N}}, .dtype = {0, 0, 0}, \\\n"
        "    .is_output = {0, 0, 1}, .flops = N, .name = #fn, .ref_name = \"lref\"}\n"
        "int32_t vmul(void *const *d) {\n"
        "    const float *a = d[0], *b = d[1]; float *c = d[2];\n"
        "    for (int i = N - 1; i >= 0; i--) c[i] = b[i] * a[i];\n"
        "    return 0;\n"
        "}\n"
        "DESC(vmul);\n"
        "int32_t vmul_wrong(void *const *d) { vmul(d); ((float *)d[2])[N - 1] += 0.5f; return 0; }\n"
        "DESC(vmul_wrong);\n";
    char nonce[128];
    run_nonce(nonce, sizeof nonce, 400);
    char *ref = kernel_source(ref_body, nonce), *units = kernel_source(units_body, nonce);
    const char *rs[1] = {ref};
    size_t rl[1] = {strlen(ref)};
    dlc_build_result_t ob, ob2, ub[2];
    int st[2] = {1, 1};
    assert_int_equal(dlc_build_objects(rs, rl, 1, &t, 1, 60, &ob, st), 0);
    assert_int_equal(ob.cache_hit, 0);
    assert_non_null(strstr(ob.so_path, ".o"));
    assert_int_equal(dlc_build_objects(rs, rl, 1, &t, 1, 60, &ob2, st), 0);
    assert_int_equal(ob2.cache_hit, 1);
    assert_string_equal(ob2.so_path, ob.so_path);

    const char *objs[1] = {ob.so_path};
    dlc_build_unit_t u[2] = {{.source = units, .len = strlen(units), .objects = objs, .n_objects = 1},
                             {.source = units, .len = strlen(units)}};
    /* Without the object the unit builds too (a shared object may leave
     * symbols undefined), but as another cache entry. */
    assert_int_equal(dlc_build_units(u, 2, &t, 2, 60, ub, st), 0);
    assert_string_not_equal(ub[0].so_path, ub[1].so_path);
    dlc_measure_opts_t o = DLC_MEASURE_OPTS_DEFAULT;
    dlc_measure_result_t r = measure(&t, ub[0].so_path, "vmul", &o);
    expect_ok(&r, "vmul", 3);
    r = measure(&t, ub[0].so_path, "vmul_wrong", &o);
    expect_status(&r, DLC_EWRONG, "element 1008");
    r = measure(&t, ub[1].so_path, "vmul", &o); /* no lref linked: said so, not passed */
    assert_true(r.status != 0);

    /* A broken object is the unit's compile error, and CUDA has no objects. */
    static const char bad[] = "int32_t x(void) { return undefined_here; }\n";
    const char *bs[1] = {bad};
    size_t bl[1] = {strlen(bad)};
    assert_int_equal(dlc_build_objects(bs, bl, 1, &t, 1, 60, &ob, st), DLC_ECOMPILE);
    assert_non_null(strstr(dlc_last_error(), "undefined_here"));
    dlc_target_t cuda;
    assert_int_equal(dlc_target_parse("cuda", &cuda), 0);
    assert_int_equal(dlc_build_objects(rs, rl, 1, &cuda, 1, 60, &ob, st), DLC_EUNSUPPORTED);
    assert_int_equal(dlc_build_units(u, 1, &cuda, 1, 60, ub, st), DLC_EUNSUPPORTED); /* refused, not dropped */
    free(ref);
    free(units);
}

static void test_measure_failures(void **state) {
    dlc_target_t t;
    dlc_build_result_t br;
    build_suite("llvm", &t, &br);
    dlc_measure_opts_t o = DLC_MEASURE_OPTS_DEFAULT;
    dlc_measure_result_t r = measure(&t, br.so_path, "vadd_wrong", &o);
    expect_status(&r, DLC_EWRONG, NULL);
    assert_int_equal(r.checked, 1);
    assert_int_equal(r.verified, 0);
    assert_true(fabs(r.max_abs_err - 1.0) < 1e-5);
    assert_non_null(strstr(r.message, "element 7"));

    r = measure(&t, br.so_path, "ivadd_wrong", &o);
    expect_status(&r, DLC_EWRONG, "element 100");

    r = measure(&t, br.so_path, "vadd_partial", &o); /* the NaN sentinel survives */
    expect_status(&r, DLC_EWRONG, "element 1960");

    r = measure(&t, br.so_path, "vadd_crash", &o);
    expect_status(&r, DLC_ERUNTIME, "kernel crashed (signal 11: SIGSEGV)");

    r = measure(&t, br.so_path, "vadd_fail", &o);
    expect_status(&r, DLC_ERUNTIME, "returned 7");

    r = measure(&t, br.so_path, "vadd_noise", &o);
    expect_status(&r, DLC_ERUNTIME, "{not json");

    r = measure(&t, br.so_path, "no_such_entry", &o);
    expect_status(&r, DLC_ERUNTIME, "no_such_entry");

    r = measure(&t, br.so_path, "old_abi", &o);
    expect_status(&r, DLC_ERUNTIME, "ABI 999");

    r = measure(&t, "/nonexistent/x.so", "vadd", &o);
    expect_status(&r, DLC_ERUNTIME, "/nonexistent/x.so");

    o.timeout_s = 1.0;
    double t0 = dlc_now();
    r = measure(&t, br.so_path, "vadd_hang", &o);
    double took = dlc_now() - t0;
    expect_status(&r, DLC_ETIMEOUT, NULL);
    assert_true(took < 5.0);
}

static void test_measure_min_repeat(void **state) {
    dlc_target_t t;
    dlc_build_result_t br;
    build_suite("llvm", &t, &br);
    dlc_measure_opts_t o = DLC_MEASURE_OPTS_DEFAULT;
    o.min_repeat_ms = 5.0;
    dlc_measure_result_t r = measure(&t, br.so_path, "vadd", &o);
    expect_ok(&r, "vadd min_repeat_ms", 3);
    assert_true(r.number > 1);
    /* Each repeat lasted about min_repeat_ms (allow for timer noise). */
    assert_true(r.mean_s * r.number > 0.5 * 5e-3);
}

static void test_runner_cli(void **state) {
    dlc_target_t t;
    dlc_build_result_t br;
    build_suite("llvm", &t, &br);
    char runner[PATH_MAX];
    assert_int_equal(dlc_runner_path(&t, runner), 0);
    assert_int_equal(access(runner, X_OK), 0);
    char again[PATH_MAX];
    assert_int_equal(dlc_runner_path(&t, again), 0);
    assert_string_equal(runner, again);

    dlc_proc_result_t r;
    const char *help[] = {runner, "--help", NULL};
    dlc_proc_spec_t s = {.argv = help, .timeout_s = 10};
    assert_int_equal(dlc_proc_run(&s, &r), 0);
    assert_int_equal(r.exit_code, 0);
    assert_non_null(strstr(r.out, "usage: dlc-runner"));
    dlc_proc_result_free(&r);

    const char *bad[] = {runner, "--number", "zero", br.so_path, "vadd", NULL};
    s.argv = bad;
    assert_int_equal(dlc_proc_run(&s, &r), 0);
    assert_int_equal(r.exit_code, 2);
    dlc_proc_result_free(&r);

    const char *missing[] = {runner, "/nonexistent/y.so", "vadd", NULL};
    s.argv = missing;
    assert_int_equal(dlc_proc_run(&s, &r), 0);
    assert_int_equal(r.exit_code, 3);
    assert_non_null(strstr(r.out, "{\"status\":\"error\""));
    dlc_proc_result_free(&r);

    /* Inputs depend only on the seed: the same seed gives the same result line shape. */
    const char *ok[] = {runner, "--seed", "7", "--repeat", "2", "--threads", "1", br.so_path, "vadd", NULL};
    s.argv = ok;
    assert_int_equal(dlc_proc_run(&s, &r), 0);
    assert_int_equal(r.exit_code, 0);
    json_t *j = dlc_json_parse(r.out, r.out_len);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
    assert_true(json_is_true(json_object_get(j, "verified")));
    assert_int_equal(json_array_size(json_object_get(j, "costs")), 2);
    json_decref(j);
    dlc_proc_result_free(&r);
}

static void measure_cross(const char *tstr) {
    dlc_target_t t;
    dlc_build_result_t br;
    build_suite(tstr, &t, &br);
    assert_int_equal(t.is_host, 0);
    dlc_measure_opts_t o = DLC_MEASURE_OPTS_DEFAULT;
    o.timeout_s = 30;
    dlc_measure_result_t r = measure(&t, br.so_path, "vadd", &o);
    expect_ok(&r, tstr, 3);
    o.threads = 2;
    r = measure(&t, br.so_path, "vadd_omp", &o);
    expect_ok(&r, tstr, 3);
    r = measure(&t, br.so_path, "hcopy", &o);
    expect_ok(&r, tstr, 3);
    r = measure(&t, br.so_path, "vadd_wrong", &o);
    expect_status(&r, DLC_EWRONG, NULL);
    r = measure(&t, br.so_path, "vadd_crash", &o);
    expect_status(&r, DLC_ERUNTIME, "SIGSEGV");
    /* The object is for another machine: this process cannot load it. */
    dlc_module_t *m = dlc_module_load(br.so_path);
    assert_null(m);
}

static void test_cross_aarch64(void **state) { measure_cross("llvm -device=arm_cpu -mtriple=aarch64-linux-gnu"); }

static void test_cross_riscv64(void **state) { measure_cross("llvm -mtriple=riscv64-linux-gnu"); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_target_parse_good),
        cmocka_unit_test(test_target_native_vector),
        cmocka_unit_test(test_target_normalise_and_names),
        cmocka_unit_test(test_target_parse_bad),
        cmocka_unit_test(test_build_command),
        cmocka_unit_test(test_build_cache),
        cmocka_unit_test(test_build_compile_error),
        cmocka_unit_test(test_build_many),
        cmocka_unit_test(test_linked_reference),
        cmocka_unit_test(test_module),
        cmocka_unit_test(test_measure_native),
        cmocka_unit_test(test_measure_failures),
        cmocka_unit_test(test_measure_min_repeat),
        cmocka_unit_test(test_runner_cli),
        cmocka_unit_test(test_cross_aarch64),
        cmocka_unit_test(test_cross_riscv64),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
