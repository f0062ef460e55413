/* space_search.c — moving through a space: sampling without repeats (a
 * seeded pseudo-random permutation of the indices) and neighbours. */
#include <stdlib.h>

#include "schedule-templates/space_impl.h"

uint64_t dlc_space_rand64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [0, n), n >= 1 (rejection removes the modulo bias). */
static int64_t rand_below(uint64_t *state, int64_t n) {
    uint64_t un = (uint64_t)n, limit = UINT64_MAX - UINT64_MAX % un;
    uint64_t r;
    do r = dlc_space_rand64(state);
    while (r >= limit);
    return (int64_t)(r % un);
}

/* ---- sampler ----
 * A balanced Feistel network permutes [0, 2^bits) (bits even, 2^bits >= size,
 * so at most 4x the size); values >= size are skipped by walking on to the
 * next counter ("cycle walking"). Drawing counter 0, 1, 2, ... through the
 * permutation therefore yields every index below size exactly once. */
#define FEISTEL_ROUNDS 6

struct dlc_space_sampler {
    int64_t size;
    int half;          /* bits per half */
    uint64_t mask;     /* (1 << half) - 1 */
    uint64_t key[FEISTEL_ROUNDS];
    uint64_t counter;  /* next input of the permutation */
    int64_t drawn;
};

dlc_space_sampler_t *dlc_space_sampler_new(const dlc_space_t *sp, uint64_t seed) {
    dlc_space_sampler_t *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->size = dlc_space_size(sp);
    int bits = 2;
    while (bits < 64 && (UINT64_C(1) << bits) < (uint64_t)s->size) bits += 2;
    s->half = bits / 2;
    s->mask = (UINT64_C(1) << s->half) - 1;
    for (int r = 0; r < FEISTEL_ROUNDS; r++) s->key[r] = dlc_space_rand64(&seed);
    return s;
}

static uint64_t feistel(const dlc_space_sampler_t *s, uint64_t x) {
    uint64_t l = (x >> s->half) & s->mask, r = x & s->mask;
    for (int i = 0; i < FEISTEL_ROUNDS; i++) {
        uint64_t st = r ^ s->key[i];
        uint64_t f = dlc_space_rand64(&st) & s->mask;
        uint64_t t = l ^ f;
        l = r;
        r = t;
    }
    return (l << s->half) | r;
}

int dlc_space_sampler_next(dlc_space_sampler_t *s, int64_t *index) {
    if (!s || s->drawn >= s->size) return DLC_ENOTFOUND;
    for (;;) {
        uint64_t y = feistel(s, s->counter++);
        if (y < (uint64_t)s->size) {
            s->drawn++;
            *index = (int64_t)y;
            return 0;
        }
    }
}

int64_t dlc_space_sampler_drawn(const dlc_space_sampler_t *s) { return s ? s->drawn : 0; }

void dlc_space_sampler_destroy(dlc_space_sampler_t **s) {
    if (!s || !*s) return;
    free(*s);
    *s = NULL;
}

/* ---- neighbours ---- */

int64_t dlc_space_neighbor_count(const dlc_space_t *sp) {
    int64_t n = 0;
    for (int k = 0; sp && k < sp->n_knobs; k++) n += sp->knobs[k].dim - 1;
    return n;
}

int dlc_space_neighbor(const dlc_space_t *sp, int64_t index, int64_t j, int64_t *out) {
    if (!sp || index < 0 || index >= sp->size)
        return dlc_error(DLC_EINVAL, "neighbor: index %lld outside the space", (long long)index);
    if (j < 0) return dlc_error(DLC_EINVAL, "neighbor: negative position");
    int64_t stride = 1;
    for (int k = 0; k < sp->n_knobs; k++) {
        int64_t dim = sp->knobs[k].dim;
        if (j < dim - 1) {
            int64_t cur = index / stride % dim;
            int64_t c = j < cur ? j : j + 1; /* the other entities, in order */
            *out = index + (c - cur) * stride;
            return 0;
        }
        j -= dim - 1;
        stride *= dim;
    }
    return dlc_error(DLC_EINVAL, "neighbor: position beyond the %lld neighbours", (long long)dlc_space_neighbor_count(sp));
}

int dlc_space_random_neighbor(const dlc_space_t *sp, int64_t index, uint64_t *rng, int64_t *out) {
    if (!sp || index < 0 || index >= sp->size)
        return dlc_error(DLC_EINVAL, "neighbor: index %lld outside the space", (long long)index);
    int movable = 0;
    for (int k = 0; k < sp->n_knobs; k++) movable += sp->knobs[k].dim > 1;
    if (!movable) return dlc_error(DLC_ENOTFOUND, "neighbor: every knob has a single entity");
    int pick = (int)rand_below(rng, movable), k = 0;
    for (;; k++)
        if (sp->knobs[k].dim > 1 && pick-- == 0) break;
    int64_t stride = 1;
    for (int i = 0; i < k; i++) stride *= sp->knobs[i].dim;
    int64_t cur = index / stride % sp->knobs[k].dim;
    int64_t c = rand_below(rng, sp->knobs[k].dim - 1);
    if (c >= cur) c++; /* uniform over the other entities */
    *out = index + (c - cur) * stride;
    return 0;
}
