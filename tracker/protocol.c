/* protocol.c — table-driven msgpack encoder and strict decoder of wire messages. */
#include "tracker/dlc_protocol.h"

#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "support/dlc_support.h"

typedef enum { K_STR, K_BIN, K_INT, K_U64, K_DBL, K_BOOL, K_DBLS } kind_t;

typedef struct {
    const char *name;
    kind_t kind;
    size_t off; /* of the member in dlc_msg_t */
    int64_t ilo, ihi;
    double dlo, dhi;
} field_t;

static const field_t fields[] = {
#define DLC__FIELD_ROW(id, wire, kind, member, lo, hi) \
    {wire, K_##kind, offsetof(dlc_msg_t, member), (int64_t)(lo), (int64_t)(hi), (double)(lo), (double)(hi)},
    DLC_MSG_FIELD_MAP(DLC__FIELD_ROW)
#undef DLC__FIELD_ROW
};
_Static_assert(sizeof fields / sizeof fields[0] == DLC_FIELD_COUNT, "one row per field");
_Static_assert(DLC_FIELD_COUNT <= 64, "field masks are 64-bit");

static const struct {
    const char *name;
    uint64_t fields;
} types[] = {
#define DLC__TYPE_ROW(id, wire, mask) {wire, mask},
    DLC_MSG_TYPE_MAP(DLC__TYPE_ROW)
#undef DLC__TYPE_ROW
};
_Static_assert(sizeof types / sizeof types[0] == DLC_MSG_TYPE_COUNT, "one row per type");

const char *dlc_msg_type_name(int type) { return type >= 0 && type < DLC_MSG_TYPE_COUNT ? types[type].name : "?"; }

dlc_msg_measure_t dlc_msg_measure_default(void) {
    return (dlc_msg_measure_t){.number = 1, .repeat = 3, .timeout_s = 10.0};
}

#define MEMBER(m, f, T) ((T *)((char *)(m) + fields[f].off))
#define CMEMBER(m, f, T) ((const T *)((const char *)(m) + fields[f].off))

/* ---- encoding ---- */

/* Checks one field of an outgoing message against the rules the decoder applies. */
static int check_out(const dlc_msg_t *m, int f) {
    const field_t *fd = &fields[f];
    switch (fd->kind) {
    case K_STR: {
        const char *s = *CMEMBER(m, f, const char *);
        if (s == NULL || strlen(s) > (size_t)fd->ihi)
            return dlc_error(DLC_EINVAL, "field '%s': %s", fd->name, s ? "too long" : "NULL");
        return 0;
    }
    case K_BIN:
        if (m->artifact == NULL && m->artifact_len)
            return dlc_error(DLC_EINVAL, "field '%s': NULL", fd->name);
        return m->artifact_len > (size_t)fd->ihi ? dlc_error(DLC_EINVAL, "field '%s': too long", fd->name) : 0;
    case K_INT:
    case K_BOOL: {
        int64_t v = *CMEMBER(m, f, int64_t);
        return v < fd->ilo || v > fd->ihi ? dlc_error(DLC_EINVAL, "field '%s': %lld out of range", fd->name,
                                                      (long long)v)
                                          : 0;
    }
    case K_DBL: {
        double v = *CMEMBER(m, f, double);
        return !(v >= fd->dlo && v <= fd->dhi) ? dlc_error(DLC_EINVAL, "field '%s': %g out of range", fd->name, v)
                                               : 0;
    }
    case K_DBLS:
        if (m->n_costs < fd->ilo || m->n_costs > fd->ihi)
            return dlc_error(DLC_EINVAL, "field '%s': %lld values", fd->name, (long long)m->n_costs);
        for (int64_t i = 0; i < m->n_costs; i++)
            if (!(m->costs[i] >= 0 && isfinite(m->costs[i])))
                return dlc_error(DLC_EINVAL, "field '%s': value %g", fd->name, m->costs[i]);
        return 0;
    case K_U64:
        return 0;
    }
    return 0;
}

static int pack_str(msgpack_packer *pk, const char *s, size_t n) {
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

static int pack_field(msgpack_packer *pk, const dlc_msg_t *m, int f) {
    const field_t *fd = &fields[f];
    if (pack_str(pk, fd->name, strlen(fd->name)))
        return -1;
    switch (fd->kind) {
    case K_STR: {
        const char *s = *CMEMBER(m, f, const char *);
        return pack_str(pk, s, strlen(s));
    }
    case K_BIN:
        return msgpack_pack_bin(pk, m->artifact_len) || msgpack_pack_bin_body(pk, m->artifact, m->artifact_len);
    case K_INT:
        return msgpack_pack_int64(pk, *CMEMBER(m, f, int64_t));
    case K_U64:
        return msgpack_pack_uint64(pk, *CMEMBER(m, f, uint64_t));
    case K_DBL:
        return msgpack_pack_double(pk, *CMEMBER(m, f, double));
    case K_BOOL:
        return *CMEMBER(m, f, int64_t) ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
    case K_DBLS:
        if (msgpack_pack_array(pk, (size_t)m->n_costs))
            return -1;
        for (int64_t i = 0; i < m->n_costs; i++)
            if (msgpack_pack_double(pk, m->costs[i]))
                return -1;
        return 0;
    }
    return -1;
}

int dlc_msg_encode(const dlc_msg_t *m, void **data, size_t *len) {
    if (m == NULL || data == NULL || len == NULL || (unsigned)m->type >= DLC_MSG_TYPE_COUNT)
        return dlc_error(DLC_EINVAL, "dlc_msg_encode: bad message");
    uint64_t mask = types[m->type].fields;
    int rc;
    for (int f = 0; f < DLC_FIELD_COUNT; f++)
        if ((mask >> f & 1) && (rc = check_out(m, f)) < 0)
            return dlc_error(rc, "%s message: %s", types[m->type].name, dlc_last_error());
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    int bad = msgpack_pack_map(&pk, 2 + (size_t)__builtin_popcountll(mask)) || pack_str(&pk, "v", 1) ||
              msgpack_pack_uint32(&pk, DLC_PROTOCOL_VERSION) || pack_str(&pk, "t", 1) ||
              pack_str(&pk, types[m->type].name, strlen(types[m->type].name));
    for (int f = 0; f < DLC_FIELD_COUNT && !bad; f++)
        if (mask >> f & 1)
            bad = pack_field(&pk, m, f);
    if (bad || sb.size > DLC_MSG_MAX_FRAME) {
        msgpack_sbuffer_destroy(&sb);
        return dlc_error(bad ? DLC_ENOMEM : DLC_EINVAL, "%s message: %s", types[m->type].name,
                         bad ? "out of memory" : "larger than the frame limit");
    }
    *data = sb.data; /* malloc'd by the sbuffer */
    *len = sb.size;
    return 0;
}

/* ---- decoding ---- */

#define SCAN_MAX_DEPTH 3
#define SCAN_MAX_ITEMS 64   /* per container (pairs for maps) */
#define SCAN_MAX_OBJECTS 4096

/* Reads an n-byte big-endian length at p[*pos]. */
static int read_len(const uint8_t *p, size_t len, size_t *pos, int n, uint64_t *out) {
    if ((size_t)n > len - *pos)
        return dlc_error(DLC_EPARSE, "truncated frame at byte %zu", *pos);
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[(*pos)++];
    *out = v;
    return 0;
}

/* Walks the msgpack bytes before msgpack-c sees them: every length and count
 * must fit in what is left of the frame, nesting and counts are bounded, no
 * ext types, no trailing bytes. This bounds what the unpacker allocates. */
static int scan(const uint8_t *p, size_t len) {
    uint64_t left[SCAN_MAX_DEPTH + 1] = {1};
    int depth = 1, objects = 0;
    size_t pos = 0;
    while (depth > 0) {
        if (left[depth - 1] == 0) {
            depth--;
            continue;
        }
        left[depth - 1]--;
        if (pos >= len)
            return dlc_error(DLC_EPARSE, "truncated frame at byte %zu", pos);
        if (++objects > SCAN_MAX_OBJECTS)
            return dlc_error(DLC_EPARSE, "more than %d objects", SCAN_MAX_OBJECTS);
        uint8_t b = p[pos++];
        uint64_t n = 0, skip = 0;
        int container = 0, rc = 0; /* 1 array, 2 map */
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
            ;
        else if (b <= 0x8f)
            container = 2, n = b & 0x0f;
        else if (b <= 0x9f)
            container = 1, n = b & 0x0f;
        else if (b <= 0xbf)
            skip = b & 0x1f;
        else if (b >= 0xc4 && b <= 0xc6) /* bin 8/16/32 */
            rc = read_len(p, len, &pos, 1 << (b - 0xc4), &skip);
        else if (b >= 0xd9 && b <= 0xdb) /* str 8/16/32 */
            rc = read_len(p, len, &pos, 1 << (b - 0xd9), &skip);
        else if (b == 0xca || b == 0xcb) /* float 32/64 */
            skip = b == 0xca ? 4 : 8;
        else if (b >= 0xcc && b <= 0xd3) /* uint/int 8..64 */
            skip = 1u << ((b - 0xcc) & 3);
        else if (b == 0xdc || b == 0xdd)
            container = 1, rc = read_len(p, len, &pos, b == 0xdc ? 2 : 4, &n);
        else if (b == 0xde || b == 0xdf)
            container = 2, rc = read_len(p, len, &pos, b == 0xde ? 2 : 4, &n);
        else
            return dlc_error(DLC_EPARSE, "unsupported msgpack byte 0x%02x at %zu", b, pos - 1);
        if (rc < 0)
            return rc;
        if (skip > len - pos)
            return dlc_error(DLC_EPARSE, "length %llu at byte %zu exceeds the frame", (unsigned long long)skip, pos);
        pos += skip;
        if (container) {
            if (n > SCAN_MAX_ITEMS || n * container > len - pos)
                return dlc_error(DLC_EPARSE, "count %llu at byte %zu too large", (unsigned long long)n, pos);
            if (depth >= SCAN_MAX_DEPTH)
                return dlc_error(DLC_EPARSE, "nested deeper than %d", SCAN_MAX_DEPTH - 1);
            left[depth++] = n * container;
        }
    }
    if (pos != len)
        return dlc_error(DLC_EPARSE, "%zu trailing bytes", len - pos);
    return 0;
}

static int str_is(const msgpack_object *o, const char *s) {
    return o->type == MSGPACK_OBJECT_STR && o->via.str.size == strlen(s) && memcmp(o->via.str.ptr, s, o->via.str.size) == 0;
}

static int find_field(const msgpack_object *key) {
    for (int f = 0; f < DLC_FIELD_COUNT; f++)
        if (str_is(key, fields[f].name))
            return f;
    return -1;
}

static int get_number(const msgpack_object *v, double *out) {
    if (v->type == MSGPACK_OBJECT_FLOAT32 || v->type == MSGPACK_OBJECT_FLOAT64)
        *out = v->via.f64;
    else if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER)
        *out = (double)v->via.u64;
    else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
        *out = (double)v->via.i64;
    else
        return -1;
    return isfinite(*out) ? 0 : -1;
}

/* Checks value v of field f and stores it in out; strings and bytes are
 * copied to *heap (advanced). */
static int take_field(dlc_msg_t *out, int f, const msgpack_object *v, char **heap) {
    const field_t *fd = &fields[f];
    double d;
    switch (fd->kind) {
    case K_STR:
        if (v->type != MSGPACK_OBJECT_STR || v->via.str.size > (uint64_t)fd->ihi ||
            memchr(v->via.str.ptr, 0, v->via.str.size))
            return dlc_error(DLC_EPARSE, "field '%s': expected a string of at most %lld bytes without NUL", fd->name,
                             (long long)fd->ihi);
        memcpy(*heap, v->via.str.ptr, v->via.str.size);
        (*heap)[v->via.str.size] = '\0';
        *MEMBER(out, f, const char *) = *heap;
        *heap += v->via.str.size + 1;
        return 0;
    case K_BIN:
        if (v->type != MSGPACK_OBJECT_BIN || v->via.bin.size > (uint64_t)fd->ihi)
            return dlc_error(DLC_EPARSE, "field '%s': expected at most %lld bytes", fd->name, (long long)fd->ihi);
        if (v->via.bin.size)
            memcpy(*heap, v->via.bin.ptr, v->via.bin.size);
        out->artifact = (const uint8_t *)*heap;
        out->artifact_len = v->via.bin.size;
        *heap += v->via.bin.size;
        return 0;
    case K_INT: {
        int64_t x;
        if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER && v->via.u64 <= INT64_MAX)
            x = (int64_t)v->via.u64;
        else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            x = v->via.i64;
        else
            return dlc_error(DLC_EPARSE, "field '%s': expected an integer", fd->name);
        if (x < fd->ilo || x > fd->ihi)
            return dlc_error(DLC_EPARSE, "field '%s': %lld not in [%lld, %lld]", fd->name, (long long)x,
                             (long long)fd->ilo, (long long)fd->ihi);
        *MEMBER(out, f, int64_t) = x;
        return 0;
    }
    case K_U64:
        if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return dlc_error(DLC_EPARSE, "field '%s': expected an unsigned integer", fd->name);
        *MEMBER(out, f, uint64_t) = v->via.u64;
        return 0;
    case K_DBL:
        if (get_number(v, &d) < 0 || d < fd->dlo || d > fd->dhi)
            return dlc_error(DLC_EPARSE, "field '%s': expected a number in [%g, %g]", fd->name, fd->dlo, fd->dhi);
        *MEMBER(out, f, double) = d;
        return 0;
    case K_BOOL:
        if (v->type != MSGPACK_OBJECT_BOOLEAN)
            return dlc_error(DLC_EPARSE, "field '%s': expected a boolean", fd->name);
        *MEMBER(out, f, int64_t) = v->via.boolean ? 1 : 0;
        return 0;
    case K_DBLS:
        if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > (uint64_t)fd->ihi)
            return dlc_error(DLC_EPARSE, "field '%s': expected an array of at most %lld numbers", fd->name,
                             (long long)fd->ihi);
        for (uint32_t i = 0; i < v->via.array.size; i++) {
            if (get_number(&v->via.array.ptr[i], &d) < 0 || d < 0)
                return dlc_error(DLC_EPARSE, "field '%s': element %u is not a finite number >= 0", fd->name, i);
            out->costs[i] = d;
        }
        out->n_costs = v->via.array.size;
        return 0;
    }
    return dlc_error(DLC_EPARSE, "field '%s': bad kind", fd->name);
}

/* Finds "v" and "t" in the root map and returns the type, or an error. */
static int header(const msgpack_object_map *map) {
    int have_v = 0, type = -1;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr[i].key, *v = &map->ptr[i].val;
        if (str_is(k, "v")) {
            if (v->type != MSGPACK_OBJECT_POSITIVE_INTEGER || v->via.u64 != DLC_PROTOCOL_VERSION)
                return dlc_error(DLC_EPARSE, "protocol version is not %d", DLC_PROTOCOL_VERSION);
            have_v++;
        } else if (str_is(k, "t")) {
            if (type != -1)
                return dlc_error(DLC_EPARSE, "duplicate key 't'");
            for (int t = 0; t < DLC_MSG_TYPE_COUNT && type < 0; t++)
                if (str_is(v, types[t].name))
                    type = t;
            if (type < 0)
                return dlc_error(DLC_EPARSE, "unknown message type");
        }
    }
    if (have_v != 1 || type < 0)
        return dlc_error(DLC_EPARSE, "message without exactly one 'v' and 't'");
    return type;
}

int dlc_msg_decode(const void *data, size_t len, dlc_msg_t *out) {
    if (out == NULL)
        return dlc_error(DLC_EINVAL, "dlc_msg_decode: NULL output");
    memset(out, 0, sizeof *out);
    if (data == NULL || len == 0 || len > DLC_MSG_MAX_FRAME)
        return dlc_error(DLC_EPARSE, "frame of %zu bytes (limit %u)", data ? len : 0, DLC_MSG_MAX_FRAME);
    int rc = scan(data, len);
    if (rc < 0)
        return rc;
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    size_t off = 0;
    char *block = NULL;
    if (msgpack_unpack_next(&u, data, len, &off) != MSGPACK_UNPACK_SUCCESS || off != len) {
        rc = dlc_error(DLC_EPARSE, "not one msgpack object");
        goto cleanup;
    }
    if (u.data.type != MSGPACK_OBJECT_MAP) {
        rc = dlc_error(DLC_EPARSE, "message is not a map");
        goto cleanup;
    }
    const msgpack_object_map *map = &u.data.via.map;
    int type = header(map);
    if (type < 0) {
        rc = type;
        goto cleanup;
    }
    out->type = (dlc_msg_type_t)type;
    size_t heap_size = 1; /* strings and bytes all fit: they came from the frame */
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *v = &map->ptr[i].val;
        heap_size += v->type == MSGPACK_OBJECT_STR ? v->via.str.size + 1 : v->type == MSGPACK_OBJECT_BIN ? v->via.bin.size : 0;
    }
    block = malloc(heap_size);
    if (block == NULL) {
        rc = dlc_error(DLC_ENOMEM, "decoding a %zu-byte frame", len);
        goto cleanup;
    }
    char *heap = block;
    uint64_t seen = 0, want = types[type].fields;
    for (uint32_t i = 0; i < map->size; i++) {
        const msgpack_object *k = &map->ptr[i].key;
        if (str_is(k, "v") || str_is(k, "t"))
            continue;
        int f = find_field(k);
        if (f < 0 || !(want >> f & 1) || (seen >> f & 1)) {
            rc = dlc_error(DLC_EPARSE, "%s message: %s key '%.*s'", types[type].name,
                           f < 0 || !(want >> f & 1) ? "unexpected" : "duplicate",
                           k->type == MSGPACK_OBJECT_STR ? (int)(k->via.str.size > 64 ? 64 : k->via.str.size) : 1,
                           k->type == MSGPACK_OBJECT_STR ? k->via.str.ptr : "?");
            goto cleanup;
        }
        seen |= 1ull << f;
        if ((rc = take_field(out, f, &map->ptr[i].val, &heap)) < 0) {
            rc = dlc_error(rc, "%s message: %s", types[type].name, dlc_last_error());
            goto cleanup;
        }
    }
    if (seen != want) {
        int f = __builtin_ctzll(want & ~seen);
        rc = dlc_error(DLC_EPARSE, "%s message: missing field '%s'", types[type].name, fields[f].name);
        goto cleanup;
    }
    out->storage_ = block;
    block = NULL;
    rc = 0;
cleanup:
    free(block);
    msgpack_unpacked_destroy(&u);
    if (rc < 0)
        memset(out, 0, sizeof *out);
    return rc;
}

void dlc_msg_free(dlc_msg_t *m) {
    if (m == NULL)
        return;
    free(m->storage_);
    m->storage_ = NULL;
}
