/* strbuf.c — growable NUL-terminated string builder (aborts on OOM). */
#include "support/dlc_support.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Shared empty string for buffers that own no memory yet (cap == 0); it is
 * never written to, so init never allocates. */
static char strbuf_empty[1];

static void strbuf_oom(size_t size) {
    fprintf(stderr, "dlc: fatal: out of memory growing a string to %zu bytes\n", size);
    abort();
}

/* A zeroed struct ({0}) is accepted everywhere as an empty buffer. */
static void strbuf_fix(dlc_strbuf_t *sb) {
    if (sb->data == NULL) {
        sb->data = strbuf_empty;
        sb->len = 0;
        sb->cap = 0;
    }
}

/* Ensures room for `extra` more bytes plus the NUL. */
static void strbuf_grow(dlc_strbuf_t *sb, size_t extra) {
    strbuf_fix(sb);
    if (extra > SIZE_MAX - sb->len - 1)
        strbuf_oom(SIZE_MAX);
    size_t need = sb->len + extra + 1;
    if (need <= sb->cap)
        return;
    size_t cap = sb->cap ? sb->cap : 64;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    char *d = sb->cap ? realloc(sb->data, cap) : malloc(cap);
    if (d == NULL)
        strbuf_oom(cap);
    if (sb->cap == 0)
        d[0] = '\0';
    sb->data = d;
    sb->cap = cap;
}

void dlc_strbuf_init(dlc_strbuf_t *sb) {
    sb->data = strbuf_empty;
    sb->len = 0;
    sb->cap = 0;
}

void dlc_strbuf_free(dlc_strbuf_t *sb) {
    if (sb == NULL)
        return;
    if (sb->cap && sb->data)
        free(sb->data);
    dlc_strbuf_init(sb);
}

void dlc_strbuf_clear(dlc_strbuf_t *sb) {
    strbuf_fix(sb);
    sb->len = 0;
    if (sb->cap)
        sb->data[0] = '\0';
}

void dlc_strbuf_appendn(dlc_strbuf_t *sb, const char *s, size_t n) {
    if (n == 0) {
        strbuf_fix(sb);
        return;
    }
    strbuf_fix(sb);
    /* s may point into our own buffer, which growing can move. */
    uintptr_t ps = (uintptr_t)s, pd = (uintptr_t)sb->data;
    int inside = sb->cap && ps >= pd && ps < pd + sb->cap;
    size_t off = inside ? (size_t)(ps - pd) : 0;
    strbuf_grow(sb, n);
    if (inside)
        s = sb->data + off;
    memmove(sb->data + sb->len, s, n);
    sb->len += n;
    sb->data[sb->len] = '\0';
}

void dlc_strbuf_append(dlc_strbuf_t *sb, const char *s) {
    if (s == NULL) {
        strbuf_fix(sb);
        return;
    }
    dlc_strbuf_appendn(sb, s, strlen(s));
}

void dlc_strbuf_vprintf(dlc_strbuf_t *sb, const char *fmt, va_list ap) {
    strbuf_fix(sb);
    va_list ap2;
    va_copy(ap2, ap);
    size_t avail = sb->cap ? sb->cap - sb->len : 0;
    int n = vsnprintf(avail ? sb->data + sb->len : NULL, avail, fmt, ap2);
    va_end(ap2);
    if (n < 0) {
        if (sb->cap)
            sb->data[sb->len] = '\0';
        return;
    }
    if ((size_t)n >= avail) {
        strbuf_grow(sb, (size_t)n);
        va_copy(ap2, ap);
        vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, ap2);
        va_end(ap2);
    }
    sb->len += (size_t)n;
}

void dlc_strbuf_printf(dlc_strbuf_t *sb, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    dlc_strbuf_vprintf(sb, fmt, ap);
    va_end(ap);
}

void dlc_strbuf_indent(dlc_strbuf_t *sb, int n) {
    strbuf_fix(sb);
    if (n <= 0)
        return;
    strbuf_grow(sb, (size_t)n);
    memset(sb->data + sb->len, ' ', (size_t)n);
    sb->len += (size_t)n;
    sb->data[sb->len] = '\0';
}

char *dlc_strbuf_take(dlc_strbuf_t *sb) {
    strbuf_fix(sb);
    char *s;
    if (sb->cap) {
        s = sb->data;
    } else {
        s = malloc(1);
        if (s == NULL)
            strbuf_oom(1);
        s[0] = '\0';
    }
    dlc_strbuf_init(sb);
    return s;
}
