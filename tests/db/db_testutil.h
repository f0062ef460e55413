/* db_testutil.h — helpers shared by the db tests: TopHub file paths,
 * scratch directories, synthetic logs. Header-only (static functions). */
#ifndef DLC_DB_TESTUTIL_H
#define DLC_DB_TESTUTIL_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schedule-templates/dlc_space.h"

/* $DLC_SOURCE_DIR/../shared/data/tophub (ctest sets DLC_SOURCE_DIR). */
static const char *tu_tophub_dir(void) {
    static char dir[1024];
    const char *src = getenv("DLC_SOURCE_DIR");
    snprintf(dir, sizeof dir, "%s/../shared/data/tophub", src && *src ? src : DLC_SOURCE_DIR);
    return dir;
}

static int tu_cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The *.log files of the TopHub folder, sorted, as malloc'd full paths;
 * returns the count (0 when the folder is absent). */
static int tu_tophub_logs(char ***out) {
    DIR *d = opendir(tu_tophub_dir());
    int n = 0, cap = 0;
    char **v = NULL;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".log") != 0)
            continue;
        if (n == cap)
            v = realloc(v, (size_t)(cap = cap ? 2 * cap : 16) * sizeof *v);
        size_t need = strlen(tu_tophub_dir()) + len + 2;
        v[n] = malloc(need);
        snprintf(v[n++], need, "%s/%s", tu_tophub_dir(), e->d_name);
    }
    if (d)
        closedir(d);
    qsort(v, (size_t)n, sizeof *v, tu_cmp_str);
    *out = v;
    return n;
}

static void tu_free_list(char **v, int n) {
    for (int i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* A fresh scratch directory under the build's test cache (or /tmp). */
static const char *tu_scratch(const char *name) {
    static char dir[1024];
    const char *base = getenv("DLC_CACHE_DIR");
    snprintf(dir, sizeof dir, "%s/db-%s-%d", base && *base ? base : "/tmp", name, (int)getpid());
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd) != 0)
        return NULL;
    return dir;
}

static const char *TU_LINE =
    "{\"input\": [\"llvm -mcpu=skylake-avx512\", \"conv2d_NCHWc.x86\", [[\"TENSOR\", [1, 3, 224, 224], \"float32\"], "
    "[\"TENSOR\", [64, 3, 7, 7], \"float32\"], [2, 2], [3, 3, 3, 3], [1, 1], \"NCHW\", \"NCHW\", \"float32\"], {}], "
    "\"config\": {\"index\": 193, \"code_hash\": null, \"entity\": [[\"tile_ic\", \"sp\", [1, 3]], [\"tile_oc\", \"sp\", "
    "[2, 32]], [\"tile_ow\", \"sp\", [14, 8]], [\"unroll_kw\", \"ot\", false]]}, \"result\": [[9.593498664366054e-05], 0, "
    "1.757516860961914, 1539972731.352305], \"version\": 0.2, \"tvm_version\": \"0.7.dev0\"}";

/* Writes n distinct records (TU_LINE with index, cost and timestamp varied
 * by `seed` and i; every 7th one failed) to path. 0 or -1. */
__attribute__((unused)) static int tu_write_synthetic(const char *path, int n, int seed) {
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    dlc_record_t r;
    if (dlc_record_parse(TU_LINE, strlen(TU_LINE), &r) < 0) {
        fclose(f);
        return -1;
    }
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        r.index = (int64_t)seed * 1000000 + i;
        r.costs[0] = 1e-4 + 1e-9 * ((i * 7919 + seed * 104729) % 100000);
        r.error_no = i % 7 == 6 ? DLC_MEASURE_RUNTIME_DEVICE : 0;
        r.timestamp = 1.6e9 + seed * 1e6 + i;
        rc = dlc_record_write(f, &r);
    }
    dlc_record_clear(&r);
    return fclose(f) == 0 && rc == 0 ? 0 : -1;
}

#endif
