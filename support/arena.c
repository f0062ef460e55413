/* arena.c — bump allocator: zeroed, aligned allocations freed all at once. */
#include "support/dlc_support.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_DEFAULT_BLOCK ((size_t)64 * 1024)
#define ARENA_MAX_ALIGN ((size_t)64)

typedef struct arena_block {
    struct arena_block *next;
    size_t cap;  /* usable bytes in data[] */
    size_t used; /* bytes consumed, including alignment padding */
    _Alignas(16) unsigned char data[];
} arena_block_t;

struct dlc_arena {
    arena_block_t *head; /* current bump block first; dedicated blocks after it */
    size_t block_size;
    size_t handed_out;
};

static void arena_oom(size_t size) {
    fprintf(stderr, "dlc: fatal: arena out of memory allocating %zu bytes\n", size);
    abort();
}

static arena_block_t *block_new(size_t cap) {
    if (cap > SIZE_MAX - sizeof(arena_block_t))
        arena_oom(cap);
    /* calloc: blocks are never reused, so everything handed out is zeroed. */
    arena_block_t *b = calloc(1, sizeof(arena_block_t) + cap);
    if (b == NULL)
        arena_oom(cap);
    b->cap = cap;
    return b;
}

/* Offset of the first `align`-aligned address at or after data + used. */
static size_t aligned_offset(const arena_block_t *b, size_t align) {
    uintptr_t p = (uintptr_t)(b->data + b->used);
    uintptr_t q = (p + (align - 1)) & ~(uintptr_t)(align - 1);
    return b->used + (size_t)(q - p);
}

dlc_arena_t *dlc_arena_new(size_t block_size) {
    dlc_arena_t *a = calloc(1, sizeof *a);
    if (a == NULL) {
        dlc_error(DLC_ENOMEM, "cannot allocate arena");
        return NULL;
    }
    a->block_size = block_size ? block_size : ARENA_DEFAULT_BLOCK;
    if (a->block_size < 4 * ARENA_MAX_ALIGN)
        a->block_size = 4 * ARENA_MAX_ALIGN;
    return a;
}

void dlc_arena_destroy(dlc_arena_t **a) {
    if (a == NULL || *a == NULL)
        return;
    arena_block_t *b = (*a)->head;
    while (b) {
        arena_block_t *next = b->next;
        free(b);
        b = next;
    }
    free(*a);
    *a = NULL;
}

void *dlc_arena_alloc(dlc_arena_t *a, size_t size) {
    if (a == NULL) {
        fprintf(stderr, "dlc: fatal: dlc_arena_alloc on a NULL arena\n");
        abort();
    }
    size_t align = size >= 64 ? 64 : 16;
    size_t need = size ? size : 1; /* distinct pointers even for size 0 */
    if (need > SIZE_MAX - ARENA_MAX_ALIGN)
        arena_oom(size);

    arena_block_t *b = a->head;
    if (b) {
        size_t off = aligned_offset(b, align);
        if (off <= b->cap && need <= b->cap - off) {
            b->used = off + need;
            a->handed_out += size;
            return b->data + off;
        }
    }

    if (need > a->block_size / 4) {
        /* Large request: its own block, linked behind the current one so the
         * current block's free space stays usable. */
        arena_block_t *big = block_new(need + ARENA_MAX_ALIGN);
        size_t off = aligned_offset(big, align);
        big->used = off + need;
        if (a->head) {
            big->next = a->head->next;
            a->head->next = big;
        } else {
            a->head = big;
            big->used = big->cap; /* don't bump-allocate from a dedicated block */
        }
        a->handed_out += size;
        return big->data + off;
    }

    arena_block_t *nb = block_new(a->block_size);
    nb->next = a->head;
    a->head = nb;
    size_t off = aligned_offset(nb, align);
    nb->used = off + need;
    a->handed_out += size;
    return nb->data + off;
}

char *dlc_arena_strdup(dlc_arena_t *a, const char *s) {
    if (s == NULL)
        return NULL;
    size_t n = strlen(s);
    char *d = dlc_arena_alloc(a, n + 1);
    memcpy(d, s, n + 1);
    return d;
}

char *dlc_arena_printf(dlc_arena_t *a, const char *fmt, ...) {
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        dlc_error(DLC_EINVAL, "dlc_arena_printf: bad format '%s'", fmt);
        return NULL;
    }
    char *d = dlc_arena_alloc(a, (size_t)n + 1);
    if ((size_t)n < sizeof small) {
        memcpy(d, small, (size_t)n + 1);
    } else {
        va_start(ap, fmt);
        vsnprintf(d, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    return d;
}

size_t dlc_arena_used(const dlc_arena_t *a) { return a ? a->handed_out : 0; }
