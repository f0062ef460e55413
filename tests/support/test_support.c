/* test_support.c — unit tests for support/: status, log, arena, strbuf,
 * files, JSON, hashing, subprocesses and the progress bar. */
#define _GNU_SOURCE /* nftw */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/dlc_support.h"

static char g_tmp[256]; /* per-run scratch directory */

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    return remove(path);
}

static int group_setup(void **state) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/dlc-test-support-XXXXXX");
    return mkdtemp(g_tmp) ? 0 : -1;
}

static int group_teardown(void **state) {
    return nftw(g_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- stderr capture ---- */
typedef struct {
    int saved;
    char path[300];
} capture_t;

static void capture_begin(capture_t *c, const char *name) {
    snprintf(c->path, sizeof c->path, "%s/%s", g_tmp, name);
    fflush(stderr);
    c->saved = dup(STDERR_FILENO);
    assert_true(c->saved >= 0);
    int fd = open(c->path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    close(fd);
}

/* Returns what was written to stderr (caller frees). */
static char *capture_end(capture_t *c) {
    fflush(stderr);
    dup2(c->saved, STDERR_FILENO);
    close(c->saved);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(dlc_file_read(c->path, &data, &len), 0);
    assert_int_equal(strlen(data), len);
    return data;
}

/* ---- status ---- */
static void test_status_table(void **state) {
    struct {
        int code;
        const char *name, *msg;
    } table[] = {
#define ROW(name, code, msg) {code, #name, msg},
        DLC_STATUS_MAP(ROW)
#undef ROW
    };
    size_t n = sizeof table / sizeof table[0];
    assert_int_equal(n, 18);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(dlc_status_name(table[i].code), table[i].name);
        assert_string_equal(dlc_strerror(table[i].code), table[i].msg);
    }
    assert_int_equal(DLC_OK, 0);
    assert_int_equal(DLC_ETARGET, -27);
    assert_int_equal(DLC_EINSTANTIATE, -28);
    assert_string_equal(dlc_status_name(DLC_ESUBPROCESS), "ESUBPROCESS");
    assert_string_equal(dlc_strerror(DLC_EWRONG), "wrong answer");
    assert_string_equal(dlc_status_name(12345), "UNKNOWN");
    assert_string_equal(dlc_status_name(-9), "UNKNOWN");
    assert_non_null(dlc_strerror(-9));
    assert_string_not_equal(dlc_strerror(-9), "");
}

static void test_error_message(void **state) {
    dlc_clear_error();
    assert_string_equal(dlc_last_error(), "");
    assert_int_equal(dlc_last_status(), 0);
    assert_int_equal(dlc_error(DLC_EIO, "cannot open %s: %d", "x.txt", 7), DLC_EIO);
    assert_string_equal(dlc_last_error(), "cannot open x.txt: 7");
    assert_int_equal(dlc_last_status(), DLC_EIO);
    /* wrapping the previous message (source and destination overlap) */
    assert_int_equal(dlc_error(DLC_ELOAD, "loading m: %s", dlc_last_error()), DLC_ELOAD);
    assert_string_equal(dlc_last_error(), "loading m: cannot open x.txt: 7");
    assert_int_equal(dlc_last_status(), DLC_ELOAD);
    /* long messages hold at least 1024 bytes and are truncated safely */
    char big[5000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    dlc_error(DLC_EINVAL, "%s", big);
    size_t len = strlen(dlc_last_error());
    assert_true(len >= 1023);
    assert_true(len < sizeof big);
    dlc_clear_error();
    assert_string_equal(dlc_last_error(), "");
    assert_int_equal(dlc_last_status(), 0);
}

typedef struct {
    char seen_before[64];
    int status_before;
    char seen_after[64];
} thread_err_t;

static void *error_thread(void *arg) {
    thread_err_t *t = arg;
    snprintf(t->seen_before, sizeof t->seen_before, "%s", dlc_last_error());
    t->status_before = dlc_last_status();
    dlc_error(DLC_ETIMEOUT, "thread error");
    snprintf(t->seen_after, sizeof t->seen_after, "%s", dlc_last_error());
    return NULL;
}

static void test_error_per_thread(void **state) {
    dlc_error(DLC_EPARSE, "main error");
    thread_err_t t = {{0}, 99, {0}};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, error_thread, &t), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_string_equal(t.seen_before, "");
    assert_int_equal(t.status_before, 0);
    assert_string_equal(t.seen_after, "thread error");
    assert_string_equal(dlc_last_error(), "main error");
    assert_int_equal(dlc_last_status(), DLC_EPARSE);
    dlc_clear_error();
}

/* ---- log ---- */
static void test_log(void **state) {
    assert_int_equal(dlc_log_level_parse("debug"), DLC_LOG_DEBUG);
    assert_int_equal(dlc_log_level_parse("info"), DLC_LOG_INFO);
    assert_int_equal(dlc_log_level_parse("warn"), DLC_LOG_WARN);
    assert_int_equal(dlc_log_level_parse("error"), DLC_LOG_ERROR);
    assert_int_equal(dlc_log_level_parse("off"), DLC_LOG_OFF);
    assert_int_equal(dlc_log_level_parse("loud"), -1);
    assert_int_equal(dlc_log_level_parse(""), -1);

    dlc_log_level_t saved = dlc_log_get_level();
    dlc_log_set_level(DLC_LOG_WARN);
    assert_int_equal(dlc_log_get_level(), DLC_LOG_WARN);
    capture_t c;
    capture_begin(&c, "log.txt");
    DLC_INFO("hidden %d", 1);
    DLC_WARN("shown %d", 2);
    DLC_ERROR("also shown\n");
    dlc_log_set_level(DLC_LOG_OFF);
    DLC_ERROR("not shown when off");
    char *out = capture_end(&c);
    assert_null(strstr(out, "hidden"));
    assert_non_null(strstr(out, "shown 2\n"));
    assert_non_null(strstr(out, "also shown\n"));
    assert_null(strstr(out, "also shown\n\n")); /* no doubled newline */
    assert_null(strstr(out, "not shown"));
    free(out);
    dlc_log_set_level(saved);
}

/* ---- arena ---- */
static void test_arena_alignment(void **state) {
    dlc_arena_t *a = dlc_arena_new(0);
    assert_non_null(a);
    for (size_t size = 0; size < 300; size++) {
        unsigned char *p = dlc_arena_alloc(a, size);
        assert_non_null(p);
        uintptr_t align = size >= 64 ? 64 : 16;
        assert_int_equal((uintptr_t)p % align, 0);
        for (size_t i = 0; i < size; i++)
            assert_int_equal(p[i], 0);
        memset(p, 0xab, size);
    }
    dlc_arena_destroy(&a);
    assert_null(a);
    dlc_arena_destroy(&a); /* NULL is fine */
    dlc_arena_destroy(NULL);
}

static void test_arena_many(void **state) {
    dlc_arena_t *a = dlc_arena_new(1024); /* small blocks: many block switches */
    enum { N = 20000 };
    uint32_t **ptrs = malloc(N * sizeof *ptrs);
    size_t expect_used = 0;
    for (uint32_t i = 0; i < N; i++) {
        size_t words = 1 + i % 7;
        ptrs[i] = dlc_arena_alloc(a, words * sizeof(uint32_t));
        expect_used += words * sizeof(uint32_t);
        for (size_t w = 0; w < words; w++) {
            assert_int_equal(ptrs[i][w], 0);
            ptrs[i][w] = i * 31 + (uint32_t)w;
        }
    }
    assert_int_equal(dlc_arena_used(a), expect_used);
    for (uint32_t i = 0; i < N; i++) /* nothing was overwritten */
        for (size_t w = 0; w < 1 + i % 7; w++)
            assert_int_equal(ptrs[i][w], i * 31 + (uint32_t)w);
    free(ptrs);
    dlc_arena_destroy(&a);
}

static void test_arena_large(void **state) {
    dlc_arena_t *a = dlc_arena_new(4096);
    char *small1 = dlc_arena_alloc(a, 10);
    memset(small1, 'a', 10);
    size_t big = 3u << 20;
    unsigned char *b1 = dlc_arena_alloc(a, big);
    assert_int_equal((uintptr_t)b1 % 64, 0);
    assert_int_equal(b1[0], 0);
    assert_int_equal(b1[big - 1], 0);
    memset(b1, 0x5a, big);
    char *small2 = dlc_arena_alloc(a, 10); /* still served from the first block */
    assert_true(small2 > small1 && small2 < small1 + 4096);
    unsigned char *b2 = dlc_arena_alloc(a, 5000); /* larger than a block */
    memset(b2, 0x33, 5000);
    assert_int_equal(b1[big / 2], 0x5a);
    assert_int_equal(b1[big - 1], 0x5a);
    assert_int_equal(dlc_arena_used(a), 10 + big + 10 + 5000);

    char *s = dlc_arena_strdup(a, "hello");
    assert_string_equal(s, "hello");
    char *f = dlc_arena_printf(a, "%s-%d-%.1f", "x", 42, 1.5);
    assert_string_equal(f, "x-42-1.5");
    char longs[1000];
    memset(longs, 'q', sizeof longs - 1);
    longs[sizeof longs - 1] = '\0';
    char *g = dlc_arena_printf(a, "<%s>", longs);
    assert_int_equal(strlen(g), 1001);
    assert_int_equal(g[0], '<');
    assert_int_equal(g[1000], '>');
    dlc_arena_destroy(&a);

    a = dlc_arena_new(0); /* a large first allocation, then small ones */
    void *first = dlc_arena_alloc(a, 1 << 20);
    assert_non_null(first);
    for (int i = 0; i < 100; i++)
        assert_non_null(dlc_arena_alloc(a, 100));
    dlc_arena_destroy(&a);
}

/* ---- strbuf ---- */
static void test_strbuf(void **state) {
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    assert_non_null(sb.data);
    assert_string_equal(sb.data, "");
    assert_int_equal(sb.len, 0);
    for (int i = 0; i < 10000; i++)
        dlc_strbuf_append(&sb, "ab");
    assert_int_equal(sb.len, 20000);
    assert_int_equal(strlen(sb.data), 20000);
    assert_true(sb.cap > sb.len);
    assert_memory_equal(sb.data + 19996, "abab", 5);
    dlc_strbuf_clear(&sb);
    assert_int_equal(sb.len, 0);
    assert_string_equal(sb.data, "");

    dlc_strbuf_printf(&sb, "%d-%s", 12, "x");
    dlc_strbuf_indent(&sb, 3);
    dlc_strbuf_appendn(&sb, "hello world", 5);
    dlc_strbuf_printf(&sb, "%s", "");
    assert_string_equal(sb.data, "12-x   hello");
    assert_int_equal(sb.len, 12);

    char big[3000];
    memset(big, 'z', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    dlc_strbuf_printf(&sb, "[%s]", big);
    assert_int_equal(sb.len, 12 + 3001);
    assert_int_equal(sb.data[sb.len - 1], ']');
    assert_int_equal(sb.data[sb.len], '\0');

    /* appending a piece of itself survives reallocation */
    dlc_strbuf_clear(&sb);
    dlc_strbuf_append(&sb, "xyz");
    for (int i = 0; i < 12; i++)
        dlc_strbuf_appendn(&sb, sb.data, sb.len);
    assert_int_equal(sb.len, 3 << 12);
    assert_memory_equal(sb.data + sb.len - 3, "xyz", 3);

    char *taken = dlc_strbuf_take(&sb);
    assert_int_equal(strlen(taken), 3 << 12);
    free(taken);
    assert_int_equal(sb.len, 0);
    assert_string_equal(sb.data, "");
    char *empty = dlc_strbuf_take(&sb); /* an empty buffer still gives a string */
    assert_non_null(empty);
    assert_string_equal(empty, "");
    free(empty);
    dlc_strbuf_free(&sb);
    dlc_strbuf_free(&sb); /* twice is fine */

    dlc_strbuf_t z = {0}; /* a zeroed struct works too */
    dlc_strbuf_append(&z, "ok");
    assert_string_equal(z.data, "ok");
    dlc_strbuf_free(&z);
}

/* ---- files ---- */
static void test_files(void **state) {
    char dir[400], path[500];
    snprintf(dir, sizeof dir, "%s/a/b//c/", g_tmp);
    assert_int_equal(dlc_mkdirs(dir), 0);
    assert_int_equal(dlc_mkdirs(dir), 0); /* already there */
    struct stat st;
    snprintf(path, sizeof path, "%s/a/b/c", g_tmp);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    unsigned char data[5000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (unsigned char)(i * 7);
    snprintf(path, sizeof path, "%s/a/b/c/blob.bin", g_tmp);
    assert_int_equal(dlc_file_write(path, data, sizeof data), 0);
    char *back = NULL;
    size_t len = 0;
    assert_int_equal(dlc_file_read(path, &back, &len), 0);
    assert_int_equal(len, sizeof data);
    assert_memory_equal(back, data, sizeof data);
    assert_int_equal(back[len], '\0');
    free(back);

    /* overwrite with something shorter; no temporary files are left */
    assert_int_equal(dlc_file_write(path, "hi", 2), 0);
    assert_int_equal(dlc_file_read(path, &back, &len), 0);
    assert_string_equal(back, "hi");
    assert_int_equal(len, 2);
    free(back);
    assert_int_equal(dlc_file_write(path, NULL, 0), 0);
    assert_int_equal(dlc_file_read(path, &back, &len), 0);
    assert_int_equal(len, 0);
    assert_string_equal(back, "");
    free(back);
    snprintf(dir, sizeof dir, "%s/a/b/c", g_tmp);
    DIR *d = opendir(dir);
    assert_non_null(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        if (e->d_name[0] != '.') {
            entries++;
            assert_string_equal(e->d_name, "blob.bin");
        }
    closedir(d);
    assert_int_equal(entries, 1);

    /* errors */
    snprintf(path, sizeof path, "%s/does-not-exist", g_tmp);
    back = (char *)1;
    assert_int_equal(dlc_file_read(path, &back, &len), DLC_ENOTFOUND);
    assert_null(back);
    assert_non_null(strstr(dlc_last_error(), "does-not-exist"));
    assert_int_equal(dlc_file_read(g_tmp, &back, &len), DLC_EIO); /* a directory */
    snprintf(path, sizeof path, "%s/no/such/dir/f", g_tmp);
    assert_true(dlc_file_write(path, "x", 1) < 0);
    snprintf(path, sizeof path, "%s/a/b/c/blob.bin/sub", g_tmp);
    assert_int_equal(dlc_mkdirs(path), DLC_EIO); /* a file is in the way */
    assert_non_null(strstr(dlc_last_error(), "blob.bin"));
    assert_int_equal(dlc_mkdirs(""), DLC_EINVAL);

    /* cache dir follows the environment */
    const char *old = getenv("DLC_CACHE_DIR");
    char *saved = old ? strdup(old) : NULL;
    setenv("DLC_CACHE_DIR", "/some/where", 1);
    assert_string_equal(dlc_cache_dir(), "/some/where");
    unsetenv("DLC_CACHE_DIR");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    assert_string_equal(dlc_cache_dir(), "/xdg/dlc");
    unsetenv("XDG_CACHE_HOME");
    assert_non_null(strstr(dlc_cache_dir(), "dlc"));
    if (saved) {
        setenv("DLC_CACHE_DIR", saved, 1);
        free(saved);
    }
}

/* ---- JSON ---- */
static void test_json(void **state) {
    const char *bad = "{\n  \"a\": 1,\n  \"b\": }";
    dlc_clear_error();
    assert_null(dlc_json_parse(bad, strlen(bad)));
    assert_int_equal(dlc_last_status(), DLC_EPARSE);
    assert_non_null(strstr(dlc_last_error(), "line 3"));
    assert_non_null(strstr(dlc_last_error(), "column"));
    const char *dup = "{\"a\":1,\"a\":2}";
    assert_null(dlc_json_parse(dup, strlen(dup)));
    assert_non_null(strstr(dlc_last_error(), "line"));

    const char *text = "{\"name\":\"conv\",\"index\":\"3\",\"n\":7,\"x\":2.5,\"ok\":true,\"arr\":[1,2]}";
    json_t *v = dlc_json_parse(text, strlen(text));
    assert_non_null(v);
    int64_t i = 0;
    double d = 0;
    const char *s = NULL;
    int b = 0;
    assert_int_equal(dlc_json_get_int(v, "n", &i), 0);
    assert_int_equal(i, 7);
    assert_int_equal(dlc_json_get_int(v, "index", &i), DLC_EPARSE);
    assert_non_null(strstr(dlc_last_error(), "field 'index': expected integer"));
    assert_int_equal(dlc_json_get_int(v, "x", &i), DLC_EPARSE);
    assert_int_equal(dlc_json_get_double(v, "x", &d), 0);
    assert_true(d == 2.5);
    assert_int_equal(dlc_json_get_double(v, "n", &d), 0); /* integers are numbers */
    assert_true(d == 7.0);
    assert_int_equal(dlc_json_get_double(v, "name", &d), DLC_EPARSE);
    assert_non_null(strstr(dlc_last_error(), "field 'name': expected number"));
    assert_int_equal(dlc_json_get_string(v, "name", &s), 0);
    assert_string_equal(s, "conv");
    assert_int_equal(dlc_json_get_string(v, "n", &s), DLC_EPARSE);
    assert_non_null(strstr(dlc_last_error(), "field 'n': expected string"));
    assert_int_equal(dlc_json_get_bool(v, "ok", &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(dlc_json_get_bool(v, "arr", &b), DLC_EPARSE);
    assert_non_null(strstr(dlc_last_error(), "field 'arr': expected boolean"));
    /* a missing field is DLC_ENOTFOUND, so optional fields can be told apart */
    assert_int_equal(dlc_json_get_int(v, "missing", &i), DLC_ENOTFOUND);
    assert_non_null(strstr(dlc_last_error(), "field 'missing'"));
    assert_true(dlc_json_get_int(json_object_get(v, "arr"), "n", &i) < 0); /* not an object */

    char *out = dlc_json_dumps(v);
    assert_string_equal(out, text); /* compact, insertion order kept */
    free(out);
    json_decref(v);

    json_t *o = json_object();
    json_object_set_new(o, "zeta", json_integer(1));
    json_object_set_new(o, "alpha", json_real(0.5));
    json_object_set_new(o, "s", json_string("a b"));
    out = dlc_json_dumps(o);
    assert_string_equal(out, "{\"zeta\":1,\"alpha\":0.5,\"s\":\"a b\"}");
    free(out);
    json_decref(o);
}

/* ---- hashing ---- */
static void test_sha256(void **state) {
    char hex[65];
    dlc_sha256_hex("", 0, hex);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    dlc_sha256_hex("abc", 3, hex);
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *m448 = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    dlc_sha256_hex(m448, strlen(m448), hex);
    assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    const char *m896 = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    dlc_sha256_hex(m896, strlen(m896), hex);
    assert_string_equal(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    size_t n = 1000000;
    char *million = malloc(n);
    memset(million, 'a', n);
    dlc_sha256_hex(million, n, hex);
    assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
    /* padding edge cases: 55, 56 and 64 bytes of 'a' */
    char buf[64];
    memset(buf, 'a', sizeof buf);
    dlc_sha256_hex(buf, 55, hex);
    assert_string_equal(hex, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318");
    dlc_sha256_hex(buf, 56, hex);
    assert_string_equal(hex, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
    dlc_sha256_hex(buf, 64, hex);
    assert_string_equal(hex, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb");
    assert_int_equal(hex[64], '\0');
}

static void test_fnv(void **state) {
    assert_true(dlc_hash64("", 0, DLC_HASH_SEED) == 0xcbf29ce484222325ULL);
    assert_true(dlc_hash64("a", 1, DLC_HASH_SEED) == 0xaf63dc4c8601ec8cULL);
    assert_true(dlc_hash64("foobar", 6, DLC_HASH_SEED) == 0x85944171f73967e8ULL);
    /* incremental == one shot */
    uint64_t h = dlc_hash64("foo", 3, DLC_HASH_SEED);
    h = dlc_hash64("bar", 3, h);
    assert_true(h == dlc_hash64("foobar", 6, DLC_HASH_SEED));
    assert_true(dlc_hash64("ab", 2, DLC_HASH_SEED) != dlc_hash64("ba", 2, DLC_HASH_SEED));
}

/* ---- subprocesses ---- */
static void test_proc_echo(void **state) {
    const char *argv[] = {"echo", "hi", NULL};
    dlc_proc_spec_t spec = {.argv = argv};
    dlc_proc_result_t r;
    assert_int_equal(dlc_proc_run(&spec, &r), 0);
    assert_string_equal(r.out, "hi\n");
    assert_int_equal(r.out_len, 3);
    assert_string_equal(r.err, "");
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(r.term_signal, 0);
    assert_int_equal(r.timed_out, 0);
    assert_true(r.wall_s >= 0 && r.wall_s < 5);
    dlc_proc_result_free(&r);
    assert_null(r.out);
    dlc_proc_result_free(&r); /* twice is fine */

    const char *argv2[] = {"sh", "-c", "echo out; echo err >&2; exit 3", NULL};
    spec.argv = argv2;
    assert_int_equal(dlc_proc_run(&spec, &r), 0);
    assert_int_equal(r.exit_code, 3);
    assert_string_equal(r.out, "out\n");
    assert_string_equal(r.err, "err\n");
    dlc_proc_result_free(&r);

    const char *argv3[] = {"sh", "-c", "kill -TERM $$", NULL};
    spec.argv = argv3;
    assert_int_equal(dlc_proc_run(&spec, &r), 0);
    assert_int_equal(r.exit_code, -1);
    assert_int_equal(r.term_signal, 15);
    assert_int_equal(r.timed_out, 0);
    dlc_proc_result_free(&r);

    const char *argv4[] = {"pwd", NULL};
    spec.argv = argv4;
    spec.cwd = "/";
    assert_int_equal(dlc_proc_run(&spec, &r), 0);
    assert_string_equal(r.out, "/\n");
    dlc_proc_result_free(&r);

    const char *argv5[] = {"cat", NULL}; /* no stdin: reads /dev/null */
    dlc_proc_spec_t s5 = {.argv = argv5, .timeout_s = 5};
    assert_int_equal(dlc_proc_run(&s5, &r), 0);
    assert_int_equal(r.exit_code, 0);
    assert_int_equal(r.out_len, 0);
    dlc_proc_result_free(&r);
}

static void test_proc_timeout(void **state) {
    const char *argv[] = {"sleep", "10", NULL};
    dlc_proc_spec_t spec = {.argv = argv, .timeout_s = 0.3};
    dlc_proc_result_t r;
    double t0 = dlc_now();
    assert_int_equal(dlc_proc_run(&spec, &r), 0);
    double dt = dlc_now() - t0;
    assert_int_equal(r.timed_out, 1);
    assert_int_equal(r.term_signal, 9);
    assert_int_equal(r.exit_code, -1);
    assert_true(dt >= 0.25 && dt < 2.0);
    assert_true(r.wall_s >= 0.25 && r.wall_s < 2.0);
    dlc_proc_result_free(&r);

    /* a grandchild keeps the output pipes open: still returns promptly */
    const char *argv2[] = {"sh", "-c", "echo started; sleep 3; echo never", NULL};
    spec.argv = argv2;
    t0 = dlc_now();
    assert_int_equal(dlc_proc_run(&spec, &r), 0);
    dt = dlc_now() - t0;
    assert_int_equal(r.timed_out, 1);
    assert_true(dt < 2.0);
    assert_null(strstr(r.out, "never"));
    dlc_proc_result_free(&r);

    /* the timeout kills the child's whole process group: a grandchild that
     * would outlive it (as cc1 outlived a killed cc) is gone too */
    char marker[64];
    snprintf(marker, sizeof marker, "/tmp/dlc-proc-grandchild-%d", (int)getpid());
    unlink(marker);
    char script[160];
    snprintf(script, sizeof script, "(sleep 1; touch %s) & wait", marker);
    const char *argv4[] = {"sh", "-c", script, NULL};
    spec.argv = argv4;
    assert_int_equal(dlc_proc_run(&spec, &r), 0);
    assert_int_equal(r.timed_out, 1);
    dlc_proc_result_free(&r);
    usleep(1500 * 1000);
    assert_int_not_equal(access(marker, F_OK), 0);
    unlink(marker);

    /* finishing in time is not a timeout */
    const char *argv3[] = {"true", NULL};
    spec.argv = argv3;
    spec.timeout_s = 5;
    assert_int_equal(dlc_proc_run(&spec, &r), 0);
    assert_int_equal(r.timed_out, 0);
    assert_int_equal(r.exit_code, 0);
    dlc_proc_result_free(&r);
}

static void test_proc_stdin(void **state) {
    const char *argv[] = {"cat", NULL};
    dlc_proc_spec_t spec = {.argv = argv, .stdin_data = "line1\nline2", .stdin_len = 11, .timeout_s = 5};
    dlc_proc_result_t r;
    assert_int_equal(dlc_proc_run(&spec, &r), 0);
    assert_string_equal(r.out, "line1\nline2");
    assert_int_equal(r.exit_code, 0);
    dlc_proc_result_free(&r);

    /* 2 MB through cat: the write and the reads must interleave */
    size_t n = 2u << 20;
    char *big = malloc(n);
    for (size_t i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    spec.stdin_data = big;
    spec.stdin_len = n;
    assert_int_equal(dlc_proc_run(&spec, &r), 0);
    assert_int_equal(r.out_len, n);
    assert_memory_equal(r.out, big, n);
    dlc_proc_result_free(&r);

    /* a child that ignores its stdin must not kill us with SIGPIPE */
    const char *argv2[] = {"true", NULL};
    spec.argv = argv2;
    assert_int_equal(dlc_proc_run(&spec, &r), 0);
    assert_int_equal(r.exit_code, 0);
    dlc_proc_result_free(&r);
    free(big);

    /* empty stdin: EOF at once */
    spec.argv = argv;
    spec.stdin_data = "";
    spec.stdin_len = 0;
    assert_int_equal(dlc_proc_run(&spec, &r), 0);
    assert_int_equal(r.out_len, 0);
    dlc_proc_result_free(&r);
}

/* A program that does not exist: dlc_proc_run returns DLC_ESUBPROCESS (the
 * exec failure is reported by uv_spawn), and the result says exit_code 127
 * like a shell, with the reason in err. */
static void test_proc_nonexistent(void **state) {
    const char *argv[] = {"dlc-no-such-program-xyz", "arg", NULL};
    dlc_proc_spec_t spec = {.argv = argv};
    dlc_proc_result_t r;
    assert_int_equal(dlc_proc_run(&spec, &r), DLC_ESUBPROCESS);
    assert_int_equal(r.exit_code, 127);
    assert_non_null(r.out);
    assert_non_null(strstr(r.err, "dlc-no-such-program-xyz"));
    assert_non_null(strstr(dlc_last_error(), "dlc-no-such-program-xyz"));
    dlc_proc_result_free(&r);

    /* in a batch: the others still run, the first failure is returned */
    const char *ok[] = {"echo", "fine", NULL};
    dlc_proc_spec_t specs[3] = {{.argv = ok}, {.argv = argv}, {.argv = ok}};
    dlc_proc_result_t res[3];
    assert_int_equal(dlc_proc_run_many(specs, res, 3, 2), DLC_ESUBPROCESS);
    assert_string_equal(res[0].out, "fine\n");
    assert_int_equal(res[1].exit_code, 127);
    assert_string_equal(res[2].out, "fine\n");
    for (int i = 0; i < 3; i++)
        dlc_proc_result_free(&res[i]);
}

static void test_proc_many(void **state) {
    enum { N = 6 };
    char scripts[N][64];
    const char *argvs[N][4];
    dlc_proc_spec_t specs[N];
    dlc_proc_result_t res[N];
    for (int i = 0; i < N; i++) {
        snprintf(scripts[i], sizeof scripts[i], "sleep 0.2; echo %d", i);
        argvs[i][0] = "sh";
        argvs[i][1] = "-c";
        argvs[i][2] = scripts[i];
        argvs[i][3] = NULL;
        specs[i] = (dlc_proc_spec_t){.argv = argvs[i], .timeout_s = 5};
    }
    double t0 = dlc_now();
    assert_int_equal(dlc_proc_run_many(specs, res, N, 3), 0);
    double dt = dlc_now() - t0;
    for (int i = 0; i < N; i++) {
        char want[8];
        snprintf(want, sizeof want, "%d\n", i);
        assert_string_equal(res[i].out, want);
        assert_int_equal(res[i].exit_code, 0);
        assert_true(res[i].wall_s >= 0.15);
        dlc_proc_result_free(&res[i]);
    }
    /* 3 at a time: two rounds of 0.2 s; one at a time would take >= 1.2 s,
     * all six at once about 0.2 s */
    assert_true(dt >= 0.38);
    assert_true(dt < 1.1);
    assert_int_equal(dlc_proc_run_many(specs, res, 0, 3), 0);
}

static void *proc_thread(void *arg) {
    const char *argv[] = {"sh", "-c", "echo $0", (const char *)arg, NULL};
    dlc_proc_spec_t spec = {.argv = argv, .timeout_s = 5};
    dlc_proc_result_t r;
    intptr_t ok = 0;
    for (int i = 0; i < 5; i++) {
        if (dlc_proc_run(&spec, &r) != 0)
            return (void *)0;
        char want[32];
        snprintf(want, sizeof want, "%s\n", (const char *)arg);
        ok += strcmp(r.out, want) == 0;
        dlc_proc_result_free(&r);
    }
    return (void *)ok;
}

static void test_proc_threads(void **state) {
    const char *names[4] = {"t0", "t1", "t2", "t3"};
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, proc_thread, (void *)names[i]), 0);
    for (int i = 0; i < 4; i++) {
        void *ret;
        assert_int_equal(pthread_join(th[i], &ret), 0);
        assert_int_equal((intptr_t)ret, 5);
    }
}

/* ---- progress ---- */
static void test_progress(void **state) {
    capture_t c;
    capture_begin(&c, "progress.txt");
    dlc_progress_t *p = dlc_progress_new("tuning", 100, 1);
    assert_non_null(p);
    for (int i = 0; i <= 100; i++)
        dlc_progress_update(p, i, i % 2 ? "odd" : "even\nline");
    dlc_log_level_t saved = dlc_log_get_level();
    dlc_log_set_level(DLC_LOG_WARN);
    DLC_WARN("a warning while the bar is up");
    dlc_log_set_level(saved);
    dlc_progress_update(p, 100, "done");
    dlc_progress_destroy(&p);
    assert_null(p);
    dlc_progress_destroy(&p);
    char *out = capture_end(&c);
    assert_non_null(strstr(out, "tuning"));
    assert_non_null(strstr(out, "100/100"));
    assert_non_null(strstr(out, "100%"));
    assert_non_null(strstr(out, "done"));
    assert_non_null(strstr(out, "a warning while the bar is up\n"));
    assert_null(strstr(out, "even\nline")); /* status text stays on one line */
    assert_int_equal(out[strlen(out) - 1], '\n');
    /* throttled: far fewer than 100 redraws */
    int redraws = 0;
    for (char *s = out; (s = strstr(s, "tuning [")); s++)
        redraws++;
    assert_true(redraws >= 2 && redraws < 20);
    free(out);

    /* not a terminal and not forced: nothing at all */
    capture_begin(&c, "progress2.txt");
    p = dlc_progress_new("quiet", 10, 0);
    assert_non_null(p);
    dlc_progress_update(p, 5, "x");
    dlc_progress_destroy(&p);
    out = capture_end(&c);
    assert_string_equal(out, "");
    free(out);

    /* unknown total */
    capture_begin(&c, "progress3.txt");
    p = dlc_progress_new("scan", 0, 1);
    dlc_progress_update(p, 7, NULL);
    dlc_progress_destroy(&p);
    out = capture_end(&c);
    assert_non_null(strstr(out, "scan 7"));
    free(out);
}

static void test_now(void **state) {
    double a = dlc_now();
    usleep(20000);
    double b = dlc_now();
    assert_true(b - a >= 0.015 && b - a < 1.0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_table),
        cmocka_unit_test(test_error_message),
        cmocka_unit_test(test_error_per_thread),
        cmocka_unit_test(test_log),
        cmocka_unit_test(test_arena_alignment),
        cmocka_unit_test(test_arena_many),
        cmocka_unit_test(test_arena_large),
        cmocka_unit_test(test_strbuf),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_sha256),
        cmocka_unit_test(test_fnv),
        cmocka_unit_test(test_proc_echo),
        cmocka_unit_test(test_proc_timeout),
        cmocka_unit_test(test_proc_stdin),
        cmocka_unit_test(test_proc_nonexistent),
        cmocka_unit_test(test_proc_many),
        cmocka_unit_test(test_proc_threads),
        cmocka_unit_test(test_progress),
        cmocka_unit_test(test_now),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
