/* test_record.c — TVM log records: every TopHub file loads and writes back
 * byte for byte, v0.1 lines, strict and crash-free parsing (malformed lines,
 * truncations, random mutations, deep nesting, huge numbers), and the config
 * space compatibility check: TopHub entities are in the spaces of dlc's
 * templates (tasks built from the records' args) at the indices TVM gave them. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "schedule-templates/dlc_space.h"
#include "schedule-templates/dlc_templates.h"

static const struct {
    const char *file;
    int64_t records; /* the README's count */
} tophub[] = {
    {"adreno_v0.02.log", 580}, {"amd_apu_v0.01.log", 109}, {"arm_cpu_v0.08.log", 1164},
    {"cuda_v0.10.log", 825},   {"intel_graphics_v0.02.log", 73}, {"llvm_v0.04.log", 35},
    {"mali_v0.06.log", 528},   {"opencl_v0.04.log", 97},    {"rocm_v0.05.log", 217},
    {"vta_v0.10.log", 106},
};
#define N_TOPHUB (sizeof tophub / sizeof *tophub)

static char g_dir[512];

static int have_tophub(void) {
    const char *env = getenv("DLC_TOPHUB_DIR");
    snprintf(g_dir, sizeof g_dir, "%s", env ? env : DLC_SOURCE_DIR "/../shared/data/tophub");
    char p[600];
    snprintf(p, sizeof p, "%s/llvm_v0.04.log", g_dir);
    return access(p, R_OK) == 0;
}

static char *tophub_path(const char *file) {
    static char p[600];
    snprintf(p, sizeof p, "%s/%s", g_dir, file);
    return p;
}

static const char *LLVM_LINE =
    "{\"input\": [\"llvm -mcpu=skylake-avx512\", \"conv2d_NCHWc.x86\", [[\"TENSOR\", [1, 3, 224, 224], \"float32\"], "
    "[\"TENSOR\", [64, 3, 7, 7], \"float32\"], [2, 2], [3, 3, 3, 3], [1, 1], \"NCHW\", \"NCHW\", \"float32\"], {}], "
    "\"config\": {\"index\": 193, \"code_hash\": null, \"entity\": [[\"tile_ic\", \"sp\", [1, 3]], [\"tile_oc\", \"sp\", "
    "[2, 32]], [\"tile_ow\", \"sp\", [14, 8]], [\"unroll_kw\", \"ot\", false]]}, \"result\": [[9.593498664366054e-05], 0, "
    "1.757516860961914, 1539972731.352305], \"version\": 0.2, \"tvm_version\": \"0.7.dev0\"}";

/* A v0.1 line (record.py before 2020: "i" holds target, task, args, kwargs,
 * workload and the config {"i","t","c","e"}; "r" the result; "v" 0.1). */
static const char *V01_LINE =
    "{\"i\": [\"llvm -device=arm_cpu -target=armv7l-none-linux-gnueabihf\", \"topi_nn_conv2d\", [[\"TENSOR\", "
    "[1, 3, 224, 224], \"float32\"], [\"TENSOR\", [64, 3, 7, 7], \"float32\"], [2, 2], [3, 3], \"NCHW\", \"float32\"], "
    "{}, [\"conv2d\", [1, 3, 224, 224, \"float32\"], [64, 3, 7, 7, \"float32\"], [2, 2], [3, 3], \"NCHW\", \"float32\"], "
    "{\"i\": 58242, \"t\": \"direct\", \"c\": null, \"e\": [[\"tile_co\", \"sp\", [16, 4]], [\"tile_oh\", \"sp\", [112, 1]], "
    "[\"reorder_0\", \"re\", [0, 1, 2, 3, 4, 5, 6, 9, 7, 8]], [\"ann_reduce\", \"an\", [\"none\", \"unroll\"]]]}], "
    "\"r\": [[0.0202839052, 0.02031], 0, 1.0239202976226807, 1535933156.928128], \"v\": 0.1}";

static char *format(const dlc_record_t *r) {
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    assert_int_equal(dlc_record_format(r, &sb), 0);
    return dlc_strbuf_take(&sb);
}

static void test_parse_v02(void **state) {
    dlc_record_t r;
    assert_int_equal(dlc_record_parse(LLVM_LINE, strlen(LLVM_LINE), &r), 0);
    assert_int_equal(r.layout, 2);
    assert_string_equal(r.target, "llvm -mcpu=skylake-avx512");
    assert_string_equal(r.task_name, "conv2d_NCHWc.x86");
    assert_int_equal(json_array_size(r.args), 8);
    assert_int_equal(json_object_size(r.kwargs), 0);
    assert_null(r.workload);
    assert_int_equal(r.index, 193);
    assert_null(r.code_hash);
    assert_int_equal(json_array_size(r.entity), 4);
    assert_int_equal(r.n_costs, 1);
    assert_true(r.costs[0] == 9.593498664366054e-05);
    assert_int_equal(r.error_no, DLC_MEASURE_NO_ERROR);
    assert_true(r.all_cost == 1.757516860961914 && r.timestamp == 1539972731.352305);
    assert_true(r.has_version && r.version == 0.2);
    assert_string_equal(r.tvm_version, "0.7.dev0");
    char *out = format(&r);
    assert_string_equal(out, LLVM_LINE);
    free(out);
    dlc_record_t c;
    dlc_record_init(&c);
    assert_int_equal(dlc_record_copy(&c, &r), 0);
    assert_true(dlc_record_equal(&c, &r));
    c.error_no = 7;
    assert_false(dlc_record_equal(&c, &r));
    dlc_record_clear(&c);
    dlc_record_clear(&r);
    dlc_record_clear(&r); /* safe twice */
}

static void test_parse_v01(void **state) {
    dlc_record_t r, r2;
    assert_int_equal(dlc_record_parse(V01_LINE, strlen(V01_LINE), &r), 0);
    assert_int_equal(r.layout, 1);
    assert_true(r.has_version && r.version == 0.1);
    assert_string_equal(r.task_name, "topi_nn_conv2d");
    assert_string_equal(r.template_key, "direct");
    assert_null(r.code_hash);
    assert_int_equal(r.index, 58242);
    assert_true(json_is_array(r.workload));
    assert_int_equal(r.n_costs, 2);
    assert_null(r.tvm_version);
    char *out = format(&r);
    assert_string_equal(out, V01_LINE);
    assert_int_equal(dlc_record_parse(out, strlen(out), &r2), 0);
    assert_true(dlc_record_equal(&r, &r2));
    free(out);
    dlc_record_clear(&r);
    dlc_record_clear(&r2);
}

static void test_error_table(void **state) {
    static const char *names[] = {"NO_ERROR", "INSTANTIATION_ERROR", "COMPILE_HOST", "COMPILE_DEVICE",
                                  "RUNTIME_DEVICE", "WRONG_ANSWER", "BUILD_TIMEOUT", "RUN_TIMEOUT",
                                  "UNKNOWN_ERROR"};
    assert_int_equal(DLC_MEASURE_ERROR_COUNT, 9);
    for (int i = 0; i < 9; i++) {
        assert_string_equal(dlc_measure_error_name(i), names[i]);
        assert_non_null(dlc_measure_error_message(i));
    }
    assert_string_equal(dlc_measure_error_name(9), "?");
    assert_string_equal(dlc_measure_error_name(-1), "?");
    assert_int_equal(DLC_MEASURE_RUN_TIMEOUT, 7);
}

static void test_python_floats(void **state) {
    /* repr() of floats, as Python 3 prints them */
    static const struct {
        double d;
        const char *s;
    } cases[] = {
        {0.0, "0.0"},         {-0.0, "-0.0"},          {1.0, "1.0"},
        {0.2, "0.2"},         {1e9, "1000000000.0"},   {1e16, "1e+16"},
        {1234567890123456.0, "1234567890123456.0"},    {0.0001, "0.0001"},
        {0.00001, "1e-05"},   {9.593498664366054e-05, "9.593498664366054e-05"},
        {1.5e300, "1.5e+300"}, {-2.5, "-2.5"},         {0.1 + 0.2, "0.30000000000000004"},
        {5e-324, "5e-324"},   {1539972731.352305, "1539972731.352305"}, {123.456, "123.456"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        json_t *v = json_real(cases[i].d);
        dlc_strbuf_t sb;
        dlc_strbuf_init(&sb);
        assert_int_equal(dlc_json_dump_python(v, &sb), 0);
        assert_string_equal(sb.data, cases[i].s);
        dlc_strbuf_free(&sb);
        json_decref(v);
    }
    /* strings: ensure_ascii escapes */
    json_t *v = json_string("a\"b\\c\n\t\x01 \xc3\xa9 \xf0\x9f\x98\x80 \x7f");
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    assert_int_equal(dlc_json_dump_python(v, &sb), 0);
    assert_string_equal(sb.data, "\"a\\\"b\\\\c\\n\\t\\u0001 \\u00e9 \\ud83d\\ude00 \\u007f\"");
    dlc_strbuf_free(&sb);
    json_decref(v);
}

/* ---- every TopHub file ---- */

typedef struct {
    int64_t malformed_lines[16];
    int n_errors;
} errs_t;

static void on_error_collect(const char *file, int64_t line, const char *reason, void *user) {
    errs_t *e = user;
    if (e->n_errors < 16) e->malformed_lines[e->n_errors] = line;
    e->n_errors++;
    fprintf(stderr, "  %s:%lld: %s\n", file, (long long)line, reason);
}

static void test_tophub_loads(void **state) {
    if (!have_tophub()) skip();
    int64_t total = 0, bad = 0;
    for (size_t i = 0; i < N_TOPHUB; i++) {
        errs_t e = {0};
        dlc_record_reader_t rd = {.on_error = on_error_collect, .user = &e};
        assert_int_equal(dlc_record_read_file(tophub_path(tophub[i].file), &rd), 0);
        fprintf(stderr, "  %-26s %5lld records, %lld malformed, %lld comment lines, %lld blank\n", tophub[i].file,
                (long long)rd.records, (long long)rd.malformed, (long long)rd.comments, (long long)rd.blank);
        assert_int_equal(rd.records, tophub[i].records);
        assert_int_equal(rd.malformed, 0);
        total += rd.records;
        bad += rd.malformed;
    }
    fprintf(stderr, "  TopHub: %lld records, %lld malformed lines\n", (long long)total, (long long)bad);
    dlc_record_reader_t rd = {0};
    assert_int_equal(dlc_record_read_file("/nonexistent/x.log", &rd), DLC_EIO);
}

/* Every line written back is the line read, byte for byte, except for lines
 * whose keys were in another order (24 lines of amd_apu_v0.01.log: the
 * record keeps the fields, not the key order); parsing the written line
 * gives the same record and the same JSON. */
static void test_tophub_write_back(void **state) {
    if (!have_tophub()) skip();
    int64_t lines = 0, identical = 0, reordered = 0;
    for (size_t f = 0; f < N_TOPHUB; f++) {
        char *data;
        size_t len;
        assert_int_equal(dlc_file_read(tophub_path(tophub[f].file), &data, &len), 0);
        char *save = NULL;
        for (char *line = strtok_r(data, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
            if (line[0] == '#') continue;
            dlc_record_t r, r2;
            assert_int_equal(dlc_record_parse(line, strlen(line), &r), 0);
            char *out = format(&r);
            lines++;
            if (!strcmp(out, line)) {
                identical++;
            } else {
                /* only lines whose keys were in another order than TVM's encode() writes */
                const char *res = strstr(line, "\"result\": "), *cfg = strstr(line, "\"config\": ");
                assert_true(res && cfg && res < cfg);
                reordered++;
            }
            assert_int_equal(dlc_record_parse(out, strlen(out), &r2), 0);
            assert_true(dlc_record_equal(&r, &r2));
            /* the same as parsed JSON too */
            json_t *a = json_loads(line, 0, NULL), *b = json_loads(out, 0, NULL);
            assert_true(json_equal(a, b));
            json_decref(a);
            json_decref(b);
            free(out);
            dlc_record_clear(&r);
            dlc_record_clear(&r2);
        }
        free(data);
    }
    fprintf(stderr,
            "  write-back: %lld of %lld lines byte-identical; %lld had their keys in another order (identical as "
            "JSON)\n",
            (long long)identical, (long long)lines, (long long)reordered);
    assert_int_equal(identical + reordered, lines);
}

/* Writing a whole log with dlc_record_write and reading it again. */
typedef struct {
    dlc_record_t *recs;
    int n, cap;
} rec_list_t;

static int collect(const dlc_record_t *r, int64_t line, void *user) {
    rec_list_t *l = user;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->recs = realloc(l->recs, l->cap * sizeof *l->recs);
    }
    dlc_record_init(&l->recs[l->n]);
    assert_int_equal(dlc_record_copy(&l->recs[l->n], r), 0);
    l->n++;
    return 0;
}

static void free_list(rec_list_t *l) {
    for (int i = 0; i < l->n; i++) dlc_record_clear(&l->recs[i]);
    free(l->recs);
    memset(l, 0, sizeof *l);
}

static void test_file_round_trip(void **state) {
    if (!have_tophub()) skip();
    rec_list_t a = {0}, b = {0};
    dlc_record_reader_t rd = {.on_record = collect, .user = &a};
    assert_int_equal(dlc_record_read_file(tophub_path("arm_cpu_v0.08.log"), &rd), 0);
    char path[] = "/tmp/dlc-test-record-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    for (int i = 0; i < a.n; i++) assert_int_equal(dlc_record_write(f, &a.recs[i]), 0);
    fclose(f);
    rd = (dlc_record_reader_t){.on_record = collect, .user = &b};
    assert_int_equal(dlc_record_read_file(path, &rd), 0);
    assert_int_equal(b.n, a.n);
    for (int i = 0; i < a.n; i++) assert_true(dlc_record_equal(&a.recs[i], &b.recs[i]));
    unlink(path);
    free_list(&a);
    free_list(&b);
}

/* ---- strict, safe parsing ---- */

static int count_stop(const dlc_record_t *r, int64_t line, void *user) {
    return ++*(int *)user == 2 ? 42 : 0;
}

static void test_reader_lines(void **state) {
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    dlc_strbuf_printf(&sb, "# a comment\n\n%s\r\n   \n{\"input\": 1}\n%s\n  # indented comment\n[1, 2]\n%s",
                      LLVM_LINE, V01_LINE, LLVM_LINE); /* last line without a newline */
    errs_t e = {0};
    dlc_record_reader_t rd = {.on_error = on_error_collect, .user = &e};
    assert_int_equal(dlc_record_read_buffer("buf", sb.data, sb.len, &rd), 0);
    assert_int_equal(rd.records, 3);
    assert_int_equal(rd.malformed, 2);
    assert_int_equal(rd.comments, 2);
    assert_int_equal(rd.blank, 2);
    assert_int_equal(e.malformed_lines[0], 5);
    assert_int_equal(e.malformed_lines[1], 8);
    /* a nonzero callback return stops the read */
    int seen = 0;
    rd = (dlc_record_reader_t){.on_record = count_stop, .on_error = on_error_collect, .user = &seen};
    errs_t e2 = {0};
    (void)e2;
    rd.on_error = NULL; /* malformed lines go to the log */
    dlc_log_set_level(DLC_LOG_OFF);
    assert_int_equal(dlc_record_read_buffer("buf", sb.data, sb.len, &rd), 42);
    dlc_log_set_level(DLC_LOG_WARN);
    assert_int_equal(seen, 2);
    dlc_strbuf_free(&sb);
}

static void expect_bad(const char *line) {
    dlc_record_t r;
    int rc = dlc_record_parse(line, strlen(line), &r);
    if (rc != DLC_EPARSE) fprintf(stderr, "accepted: %s\n", line);
    assert_int_equal(rc, DLC_EPARSE);
    assert_true(strlen(dlc_last_error()) > 0);
    assert_null(r.target);
    assert_null(r.args);
}

/* LLVM_LINE with one substring replaced. */
static char *variant(const char *from, const char *to) {
    const char *p = strstr(LLVM_LINE, from);
    assert_non_null(p);
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    dlc_strbuf_appendn(&sb, LLVM_LINE, p - LLVM_LINE);
    dlc_strbuf_append(&sb, to);
    dlc_strbuf_append(&sb, p + strlen(from));
    return dlc_strbuf_take(&sb);
}

static void test_malformed(void **state) {
    static const char *bad[] = {
        "", "{", "}", "null", "[]", "\"x\"", "{}", "{\"input\": 1}", "{\"i\": []}", "nonsense",
        "{\"input\": [\"t\", \"n\", [], {}], \"config\": {\"index\": 0, \"code_hash\": null, \"entity\": []}}",
        "{\"input\": [\"t\", \"n\", [], {}], \"config\": {\"index\": 0, \"code_hash\": null, \"entity\": []}, "
        "\"result\": [[1.0], 0, 1.0]}",
        "{\"input\": [\"t\", \"n\", [], {}], \"input\": [\"t\", \"n\", [], {}]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) expect_bad(bad[i]);
    /* wrong types and values, one field at a time */
    static const char *subst[][2] = {
        {"\"llvm -mcpu=skylake-avx512\"", "1"},
        {"\"conv2d_NCHWc.x86\"", "null"},
        {"[[\"TENSOR\", [1, 3, 224, 224], \"float32\"], [\"TENSOR\"", "{\"a\": [[\"TENSOR\", [1, 3, 224, 224], \"float32\"]], \"b\": [[\"TENSOR\""},
        {"{}]", "[]]"},
        {"\"index\": 193", "\"index\": -1"},
        {"\"index\": 193", "\"index\": 1.5"},
        {"\"index\": 193", "\"index\": \"193\""},
        {"\"index\": 193", "\"index\": 1e30"},
        {"\"index\": 193", "\"index\": 99999999999999999999999"},
        {"\"code_hash\": null", "\"code_hash\": 5"},
        {"\"code_hash\": null, ", ""},
        {"\"entity\": [[", "\"entity\": {\"a\": [["},
        {"[[9.593498664366054e-05], 0,", "[9.593498664366054e-05, 0,"},
        {"[[9.593498664366054e-05], 0,", "[[\"x\"], 0,"},
        {"[[9.593498664366054e-05], 0,", "[[1e400], 0,"},
        {"[[9.593498664366054e-05], 0,", "[[9.593498664366054e-05], -3,"},
        {"[[9.593498664366054e-05], 0,", "[[9.593498664366054e-05], 0.0,"},
        {"[[9.593498664366054e-05], 0,", "[[9.593498664366054e-05], 99999999999,"},
        {"1539972731.352305]", "\"now\"]"},
        {"1.757516860961914,", "null,"},
        {"\"version\": 0.2", "\"version\": \"0.2\""},
        {"\"tvm_version\": \"0.7.dev0\"", "\"tvm_version\": 7"},
        {"\"float32\"], {}]", "\"float32\"], {}, 5]"},
    };
    for (size_t i = 0; i < sizeof subst / sizeof *subst; i++) {
        char *line = variant(subst[i][0], subst[i][1]);
        expect_bad(line);
        free(line);
    }
    /* NUL bytes and invalid UTF-8 */
    char buf[2048];
    size_t n = strlen(LLVM_LINE);
    memcpy(buf, LLVM_LINE, n);
    buf[20] = 0;
    dlc_record_t r;
    assert_int_equal(dlc_record_parse(buf, n, &r), DLC_EPARSE);
    memcpy(buf, LLVM_LINE, n);
    buf[14] = (char)0xff;
    assert_int_equal(dlc_record_parse(buf, n, &r), DLC_EPARSE);
    /* extra keys are ignored, as TVM does */
    char *extra = variant("\"version\": 0.2", "\"extra\": [1], \"version\": 0.2");
    assert_int_equal(dlc_record_parse(extra, strlen(extra), &r), 0);
    dlc_record_clear(&r);
    free(extra);
    /* a record without version keys writes back without them */
    char *nover = variant(", \"version\": 0.2, \"tvm_version\": \"0.7.dev0\"", "");
    assert_int_equal(dlc_record_parse(nover, strlen(nover), &r), 0);
    assert_false(r.has_version);
    char *out = format(&r);
    assert_string_equal(out, nover);
    free(out);
    dlc_record_clear(&r);
    free(nover);
    /* a record that cannot be written */
    dlc_record_init(&r);
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    assert_int_equal(dlc_record_format(&r, &sb), DLC_EINVAL);
    assert_int_equal(dlc_record_parse(LLVM_LINE, strlen(LLVM_LINE), &r), 0);
    r.costs[0] = 1.0 / 0.0;
    assert_int_equal(dlc_record_format(&r, &sb), DLC_EINVAL);
    dlc_strbuf_free(&sb);
    dlc_record_clear(&r);
}

/* Parses `line` and, when it is accepted, checks that writing and reading it
 * again is stable. Must never crash. */
static int parse_any(const char *line, size_t len) {
    dlc_record_t r, r2;
    if (dlc_record_parse(line, len, &r)) return 0;
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    if (dlc_record_format(&r, &sb) == 0) {
        assert_int_equal(dlc_record_parse(sb.data, sb.len, &r2), 0);
        assert_true(dlc_record_equal(&r, &r2));
        dlc_record_clear(&r2);
    }
    dlc_strbuf_free(&sb);
    dlc_record_clear(&r);
    return 1;
}

static void test_fuzz(void **state) {
    const char *seeds[] = {LLVM_LINE, V01_LINE};
    /* every truncation */
    for (int s = 0; s < 2; s++) {
        size_t n = strlen(seeds[s]);
        for (size_t k = 0; k < n; k++) assert_int_equal(parse_any(seeds[s], k), 0);
        assert_int_equal(parse_any(seeds[s], n), 1);
    }
    /* deep nesting in the args and at the top */
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    for (int i = 0; i < 100000; i++) dlc_strbuf_append(&sb, "[");
    assert_int_equal(parse_any(sb.data, sb.len), 0);
    char *deep = variant("[2, 2], [3, 3, 3, 3]", sb.data);
    assert_int_equal(parse_any(deep, strlen(deep)), 0);
    free(deep);
    dlc_strbuf_clear(&sb);
    for (int i = 0; i < 1000; i++) dlc_strbuf_append(&sb, "[");
    for (int i = 0; i < 1000; i++) dlc_strbuf_append(&sb, "]");
    deep = variant("[2, 2]", sb.data); /* deep but within the parser's limit: accepted */
    assert_int_equal(parse_any(deep, strlen(deep)), 1);
    free(deep);
    dlc_strbuf_free(&sb);
    /* random mutations: flips, insertions of JSON punctuation, deletions, duplications */
    uint64_t rng = 12345;
    static const char punct[] = "[]{}\",:0123456789.e-tfn \\\x80\xff";
    int accepted = 0, tries = 30000;
    char *buf = malloc(4096);
    for (int t = 0; t < tries; t++) {
        const char *seed = seeds[t & 1];
        size_t n = strlen(seed);
        memcpy(buf, seed, n);
        int edits = 1 + (int)(dlc_space_rand64(&rng) % 4);
        for (int e = 0; e < edits; e++) {
            size_t pos = dlc_space_rand64(&rng) % n;
            switch (dlc_space_rand64(&rng) % 4) {
            case 0:
                buf[pos] ^= (char)(1u << (dlc_space_rand64(&rng) % 8));
                break;
            case 1:
                if (n < 4000) {
                    memmove(buf + pos + 1, buf + pos, n - pos);
                    buf[pos] = punct[dlc_space_rand64(&rng) % (sizeof punct - 1)];
                    n++;
                }
                break;
            case 2: {
                size_t k = dlc_space_rand64(&rng) % 16;
                if (pos + k > n) k = n - pos;
                memmove(buf + pos, buf + pos + k, n - pos - k);
                n -= k;
                break;
            }
            default: {
                size_t k = dlc_space_rand64(&rng) % 32;
                if (pos + k > n) k = n - pos;
                if (n + k < 4000) {
                    memmove(buf + pos + k, buf + pos, n - pos);
                    n += k;
                }
            }
            }
            if (n == 0) break;
        }
        accepted += parse_any(buf, n);
    }
    free(buf);
    fprintf(stderr, "  fuzz: %d of %d mutated lines still parse (and round-trip)\n", accepted, tries);
}

/* ---- config space compatibility with TopHub ---- */

/* The space of the record's task comes from dlc's template of that name
 * (dlc_task_create with the record's args and target). */
typedef struct {
    const char *task;
    int64_t seen, in_space, index_equal;
    char first_miss[512];
} compat_t;

static int check_compat(const dlc_record_t *r, int64_t line, void *user) {
    compat_t *c = user;
    if (strcmp(r->task_name, c->task)) return 0;
    c->seen++;
    dlc_target_t target;
    assert_int_equal(dlc_target_parse(r->target, &target), 0);
    dlc_task_t *task;
    int rc = dlc_task_create(r->task_name, r->args, &target, &task);
    if (rc < 0) fprintf(stderr, "line %lld: %s\n", (long long)line, dlc_last_error());
    assert_int_equal(rc, 0);
    const dlc_space_t *sp = dlc_task_space(task);
    dlc_config_t *cfg;
    if (dlc_config_from_entity_json(sp, r->entity, &cfg) == 0) {
        c->in_space++;
        if (dlc_config_index(cfg) == r->index) c->index_equal++;
        else if (!c->first_miss[0])
            snprintf(c->first_miss, sizeof c->first_miss, "line %lld: index %lld, dlc %lld", (long long)line,
                     (long long)r->index, (long long)dlc_config_index(cfg));
        /* the entity also round-trips through dlc's JSON (normalised to -1) */
        json_t *e = dlc_config_to_entity_json(cfg);
        dlc_config_t *again;
        assert_int_equal(dlc_config_from_entity_json(sp, e, &again), 0);
        assert_int_equal(dlc_config_index(again), dlc_config_index(cfg));
        dlc_config_destroy(&again);
        json_decref(e);
        dlc_config_destroy(&cfg);
    } else if (!c->first_miss[0]) {
        snprintf(c->first_miss, sizeof c->first_miss, "line %lld: %s", (long long)line, dlc_last_error());
    }
    dlc_task_destroy(&task);
    return 0;
}

static compat_t run_compat(const char *file, const char *task) {
    compat_t c = {.task = task};
    dlc_record_reader_t rd = {.on_record = check_compat, .user = &c};
    assert_int_equal(dlc_record_read_file(tophub_path(file), &rd), 0);
    fprintf(stderr, "  %s %s: %lld records, entity in dlc's space %lld, index equal %lld%s\n", file, task,
            (long long)c.seen, (long long)c.in_space, (long long)c.index_equal,
            c.first_miss[0] ? "" : " (all)");
    if (c.first_miss[0]) fprintf(stderr, "    first miss: %s\n", c.first_miss);
    return c;
}

/* conv2d_NCHWc.x86 as TVM 0.7.dev0 defined it (see DESIGN.md): all 35 at their index */
static void test_tophub_llvm_spaces(void **state) {
    if (!have_tophub()) skip();
    compat_t c = run_compat("llvm_v0.04.log", "conv2d_NCHWc.x86");
    assert_int_equal(c.seen, 35);
    assert_int_equal(c.in_space, 35);
    assert_int_equal(c.index_equal, 35);
}

static void test_tophub_arm_spaces(void **state) {
    if (!have_tophub()) skip();
    compat_t sp = run_compat("arm_cpu_v0.08.log", "conv2d_nchw_spatial_pack.arm_cpu");
    compat_t dw = run_compat("arm_cpu_v0.08.log", "depthwise_conv2d_nchw.arm_cpu");
    compat_t tr = run_compat("arm_cpu_v0.08.log", "conv2d_transpose_nchw.arm_cpu");
    compat_t wg = run_compat("arm_cpu_v0.08.log", "conv2d_nchw_winograd.arm_cpu");
    assert_int_equal(sp.seen, 961);
    assert_int_equal(dw.seen, 90);
    assert_int_equal(tr.seen, 8);
    /* Two records (lines 1103 and 1115, model vtacpu, tuned 2018-08-01) carry
     * entities whose sizes multiply to other extents than their args give
     * (tile_co 8x4 = 32 for 64 output channels, tile_ow 56x8 = 448 for an
     * output width of 112): tuned on another workload, in no space of these
     * args. Every other entity is in the space at its record's index. */
    assert_int_equal(sp.in_space, sp.seen - 2);
    assert_int_equal(sp.index_equal, sp.in_space);
    assert_int_equal(dw.in_space, dw.seen);
    assert_int_equal(dw.index_equal, dw.seen);
    assert_int_equal(tr.in_space, tr.seen);
    assert_int_equal(tr.index_equal, tr.seen);
    /* winograd: tile_p over P = N·⌈H/4⌉·⌈W/4⌉, tile_k, tile_c (factors, inner
     * at most 16), ann_reduce, ann_spatial, as TVM defines them: all at their index */
    assert_int_equal(wg.seen, 105);
    assert_int_equal(wg.in_space, wg.seen);
    assert_int_equal(wg.index_equal, wg.seen);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_v02),
        cmocka_unit_test(test_parse_v01),
        cmocka_unit_test(test_error_table),
        cmocka_unit_test(test_python_floats),
        cmocka_unit_test(test_tophub_loads),
        cmocka_unit_test(test_tophub_write_back),
        cmocka_unit_test(test_file_round_trip),
        cmocka_unit_test(test_reader_lines),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_tophub_llvm_spaces),
        cmocka_unit_test(test_tophub_arm_spaces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
