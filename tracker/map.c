/* map.c — a small uint64 → pointer hash map for the broker and the client. */
#include "tracker/tracker_impl.h"

#include <stdlib.h>

#include "support/dlc_support.h"

static size_t slot_of(uint64_t key, size_t cap) {
    key ^= key >> 33, key *= 0xff51afd7ed558ccdull, key ^= key >> 33; /* murmur3 finaliser */
    return (size_t)key & (cap - 1);
}

void *dlc__map_get(const dlc__map_t *m, uint64_t key) {
    if (m->cap == 0)
        return NULL;
    for (size_t i = slot_of(key, m->cap); m->vals[i]; i = (i + 1) & (m->cap - 1))
        if (m->keys[i] == key)
            return m->vals[i];
    return NULL;
}

static int grow(dlc__map_t *m) {
    dlc__map_t n = {calloc(m->cap ? m->cap * 2 : 16, sizeof(uint64_t)), calloc(m->cap ? m->cap * 2 : 16, sizeof(void *)),
                    m->cap ? m->cap * 2 : 16, 0};
    if (n.keys == NULL || n.vals == NULL) {
        dlc__map_free(&n);
        return dlc_error(DLC_ENOMEM, "map of %zu entries", m->len);
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->vals[i])
            dlc__map_put(&n, m->keys[i], m->vals[i]);
    dlc__map_free(m);
    *m = n;
    return 0;
}

int dlc__map_put(dlc__map_t *m, uint64_t key, void *val) {
    if ((m->len + 1) * 4 > m->cap * 3 && grow(m) < 0)
        return DLC_ENOMEM;
    size_t i = slot_of(key, m->cap);
    for (; m->vals[i]; i = (i + 1) & (m->cap - 1))
        if (m->keys[i] == key) {
            m->vals[i] = val;
            return 0;
        }
    m->keys[i] = key;
    m->vals[i] = val;
    m->len++;
    return 0;
}

void *dlc__map_del(dlc__map_t *m, uint64_t key) {
    if (m->cap == 0)
        return NULL;
    size_t mask = m->cap - 1, i = slot_of(key, m->cap);
    for (; m->vals[i] && m->keys[i] != key; i = (i + 1) & mask)
        ;
    void *val = m->vals[i];
    if (val == NULL)
        return NULL;
    m->vals[i] = NULL;
    m->len--;
    /* Backward shift: move later members of the run into the hole when their
     * home slot does not lie cyclically in (hole, j]. */
    for (size_t j = (i + 1) & mask; m->vals[j]; j = (j + 1) & mask) {
        size_t home = slot_of(m->keys[j], m->cap);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->keys[i] = m->keys[j], m->vals[i] = m->vals[j];
            m->vals[j] = NULL;
            i = j;
        }
    }
    return val;
}

void dlc__map_free(dlc__map_t *m) {
    free(m->keys);
    free(m->vals);
    m->keys = NULL, m->vals = NULL, m->cap = m->len = 0;
}
