/* runtime_impl.h — helpers shared by build.c and measure.c (private to runtime/). */
#ifndef DLC_RUNTIME_IMPL_H
#define DLC_RUNTIME_IMPL_H

#include "compiler-core/dlc_module.h"
#include "support/dlc_support.h"

/* The texts the build embeds (compiler-core/CMakeLists.txt, dlc_embed). */
extern const char dlc__kernel_abi_text[];
extern const char dlc__runner_text[];

#define DLC__ARGV_MAX 64

/* A command line built from words; owns copies of the words. */
typedef struct {
    const char *argv[DLC__ARGV_MAX + 1]; /* NULL-terminated */
    int argc;
    char store[8192];
    size_t used; /* bytes of store */
    int overflow;
} dlc__argv_t;

void dlc__argv_init(dlc__argv_t *a);
void dlc__argv_push(dlc__argv_t *a, const char *word);
/* Pushes each whitespace-separated word of s. */
void dlc__argv_push_words(dlc__argv_t *a, const char *s);

/* 1 if `prog` (a path, or a name looked up in PATH) is an executable. */
int dlc__program_exists(const char *prog);
/* The first word of s into out (the program of a command). */
void dlc__first_word(const char *s, char *out, size_t cap);
/* "install gcc-aarch64-linux-gnu" style advice for a missing tool. */
const char *dlc__install_hint(const char *prog);

/* Turns the outcome of one compiler run into 0 or an error (DLC_ECOMPILE,
 * DLC_ETIMEOUT) whose message holds the first lines of its stderr and names
 * src_path. On success renames tmp_path to final_path; on failure removes it. */
int dlc__finish_compile(int spawn_rc, const dlc_proc_result_t *r, const char *cc, const char *src_path,
                        const char *tmp_path, const char *final_path);

/* A unique temporary name beside path: path.tmp.<pid>.<n>. */
void dlc__tmp_name(const char *path, char *out, size_t cap);

/* Text identifying this machine's CPU (model, feature flags): part of the
 * cache key of anything built with -march=native. Static; never NULL. */
const char *dlc__native_cpu_id(void);

#define DLC__COMPILE_TIMEOUT_S 120.0

#endif
