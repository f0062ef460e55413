/* search_map.c — the int64 -> int32 hash map behind the tuners' visited
 * sets and feature cache (open addressing, linear probing, no deletion). */
#include <stdlib.h>
#include <string.h>

#include "tuner/search_impl.h"

static uint64_t mix(int64_t key) {
    uint64_t z = (uint64_t)key * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    return z ^ (z >> 31);
}

static int alloc_slots(dlc__imap_t *m, int64_t cap) {
    m->keys = malloc((size_t)cap * sizeof *m->keys);
    m->vals = malloc((size_t)cap * sizeof *m->vals);
    if (!m->keys || !m->vals) {
        free(m->keys);
        free(m->vals);
        m->keys = NULL;
        m->vals = NULL;
        return dlc_error(DLC_ENOMEM, "tuner: hash map of %lld slots", (long long)cap);
    }
    memset(m->keys, 0xff, (size_t)cap * sizeof *m->keys); /* every key -1 */
    m->cap = cap;
    m->n = 0;
    return 0;
}

int dlc__imap_init(dlc__imap_t *m, int64_t expect) {
    int64_t cap = 64;
    while (cap < 2 * expect) cap *= 2;
    return alloc_slots(m, cap);
}

void dlc__imap_free(dlc__imap_t *m) {
    free(m->keys);
    free(m->vals);
    memset(m, 0, sizeof *m);
}

void dlc__imap_clear(dlc__imap_t *m) {
    memset(m->keys, 0xff, (size_t)m->cap * sizeof *m->keys);
    m->n = 0;
}

int32_t *dlc__imap_find(const dlc__imap_t *m, int64_t key) {
    uint64_t mask = (uint64_t)m->cap - 1;
    for (uint64_t i = mix(key) & mask;; i = (i + 1) & mask) {
        if (m->keys[i] == key) return &m->vals[i];
        if (m->keys[i] < 0) return NULL;
    }
}

/* Insert into slots known to have room and not to hold key. */
static void insert_new(dlc__imap_t *m, int64_t key, int32_t val) {
    uint64_t mask = (uint64_t)m->cap - 1;
    uint64_t i = mix(key) & mask;
    while (m->keys[i] >= 0) i = (i + 1) & mask;
    m->keys[i] = key;
    m->vals[i] = val;
    m->n++;
}

int dlc__imap_put(dlc__imap_t *m, int64_t key, int32_t val) {
    int32_t *v = dlc__imap_find(m, key);
    if (v) {
        *v = val;
        return 0;
    }
    if (2 * (m->n + 1) > m->cap) { /* keep the load at most 1/2 so probes stay short */
        dlc__imap_t old = *m;
        if (alloc_slots(m, old.cap * 2) < 0) {
            *m = old;
            return DLC_ENOMEM;
        }
        for (int64_t i = 0; i < old.cap; i++)
            if (old.keys[i] >= 0) insert_new(m, old.keys[i], old.vals[i]);
        free(old.keys);
        free(old.vals);
    }
    insert_new(m, key, val);
    return 0;
}
