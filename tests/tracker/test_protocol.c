/* test_protocol.c — wire messages: round trips of every type, strict
 * rejections, and a time-bounded fuzz over the decoder. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "support/dlc_support.h"
#include "tracker/dlc_protocol.h"

#define FUZZ_SECONDS 2.0

static const uint8_t g_art[] = {0x7f, 'E', 'L', 'F', 0, 1, 2, 3};

/* A message of each type with every field set to something recognisable. */
static dlc_msg_t sample(int type) {
    dlc_msg_t m = {.type = (dlc_msg_type_t)type};
    m.key = "x86-test";
    m.dev = (dlc_device_info_t){"x86_64", "Some CPU @ 3GHz", "Linux 6.1", "0.1.0", 16, 64ll << 30};
    m.epoch = 0xfedcba9876543210ull;
    m.job_id = 1234567890123ull;
    m.priority = -5;
    m.artifact = g_art;
    m.artifact_len = sizeof g_art;
    m.manifest = "{\"entry\":\"dense\"}";
    m.measure = (dlc_msg_measure_t){.number = 4, .repeat = 3, .min_repeat_ms = 100, .cooldown_s = 0.5,
                                    .flush_cache = 1, .timeout_s = 20};
    m.n_costs = 3;
    m.costs[0] = 1e-3, m.costs[1] = 2e-3, m.costs[2] = 0.5;
    m.error_no = DLC_MEASURE_WRONG_ANSWER;
    m.error_msg = "max abs err 0.5";
    m.all_cost = 1.25;
    m.timestamp = 1.7e9;
    m.json = "{\"servers\":[]}";
    return m;
}

static void encode_ok(const dlc_msg_t *m, void **buf, size_t *len) {
    if (dlc_msg_encode(m, buf, len) < 0)
        fail_msg("encode %s: %s", dlc_msg_type_name(m->type), dlc_last_error());
}

static void test_roundtrip_every_type(void **state) {
    for (int t = 0; t < DLC_MSG_TYPE_COUNT; t++) {
        dlc_msg_t m = sample(t), d;
        void *buf;
        size_t len;
        encode_ok(&m, &buf, &len);
        if (dlc_msg_decode(buf, len, &d) < 0)
            fail_msg("decode %s: %s", dlc_msg_type_name(t), dlc_last_error());
        assert_int_equal(d.type, t);
        switch (t) {
        case DLC_MSG_HELLO:
            assert_string_equal(d.key, m.key);
            assert_string_equal(d.dev.cpu, m.dev.cpu);
            assert_string_equal(d.dev.os, m.dev.os);
            assert_int_equal(d.dev.memory, m.dev.memory);
            assert_int_equal(d.dev.cores, 16);
            break;
        case DLC_MSG_HEARTBEAT:
            assert_true(d.epoch == m.epoch);
            break;
        case DLC_MSG_SUBMIT:
            assert_int_equal(d.priority, -5);
            assert_string_equal(d.key, m.key);
            /* fall through */
        case DLC_MSG_JOB:
            assert_true(d.job_id == m.job_id);
            assert_int_equal(d.artifact_len, sizeof g_art);
            assert_memory_equal(d.artifact, g_art, sizeof g_art);
            assert_string_equal(d.manifest, m.manifest);
            assert_int_equal(d.measure.number, 4);
            assert_int_equal(d.measure.flush_cache, 1);
            assert_true(d.measure.min_repeat_ms == 100 && d.measure.timeout_s == 20 && d.measure.cooldown_s == 0.5);
            break;
        case DLC_MSG_RESULT:
            assert_int_equal(d.n_costs, 3);
            assert_true(d.costs[2] == 0.5 && d.all_cost == 1.25 && d.timestamp == 1.7e9);
            assert_int_equal(d.error_no, 5);
            assert_string_equal(d.error_msg, m.error_msg);
            break;
        case DLC_MSG_STATUS_REPLY:
            assert_string_equal(d.json, m.json);
            break;
        default:
            break;
        }
        dlc_msg_free(&d);
        dlc_msg_free(&d); /* safe twice */
        free(buf);
    }
    assert_string_equal(dlc_measure_error_name(7), "RUN_TIMEOUT");
    assert_string_equal(dlc_measure_error_name(9), "?");
}

static void test_encode_rejects_out_of_range(void **state) {
    dlc_msg_t m = sample(DLC_MSG_JOB);
    void *buf;
    size_t len;
    m.measure.repeat = 0;
    assert_int_equal(dlc_msg_encode(&m, &buf, &len), DLC_EINVAL);
    m = sample(DLC_MSG_HELLO);
    m.key = NULL;
    assert_int_equal(dlc_msg_encode(&m, &buf, &len), DLC_EINVAL);
    m = sample(DLC_MSG_RESULT);
    m.error_no = 9;
    assert_int_equal(dlc_msg_encode(&m, &buf, &len), DLC_EINVAL);
}

/* Packs a map from alternating key/value pack callbacks: a tiny DSL for bad frames. */
typedef struct {
    msgpack_sbuffer sb;
    msgpack_packer pk;
} packer_t;

static void pk_init(packer_t *p, size_t n) {
    msgpack_sbuffer_init(&p->sb);
    msgpack_packer_init(&p->pk, &p->sb, msgpack_sbuffer_write);
    msgpack_pack_map(&p->pk, n);
}
static void pk_str(packer_t *p, const char *s) {
    msgpack_pack_str(&p->pk, strlen(s));
    msgpack_pack_str_body(&p->pk, s, strlen(s));
}
static void expect_reject(packer_t *p, const char *why) {
    dlc_msg_t d;
    int rc = dlc_msg_decode(p->sb.data, p->sb.size, &d);
    if (rc != DLC_EPARSE)
        fail_msg("%s: decode returned %d", why, rc);
    if (strstr(dlc_last_error(), why) == NULL)
        fail_msg("expected '%s' in '%s'", why, dlc_last_error());
    msgpack_sbuffer_destroy(&p->sb);
}

static void test_decode_rejects(void **state) {
    packer_t p;
    pk_init(&p, 2); /* version mismatch */
    pk_str(&p, "v"), msgpack_pack_uint32(&p.pk, 99), pk_str(&p, "t"), pk_str(&p, "status");
    expect_reject(&p, "protocol version");
    pk_init(&p, 2); /* unknown type */
    pk_str(&p, "v"), msgpack_pack_uint32(&p.pk, 1), pk_str(&p, "t"), pk_str(&p, "launch_missiles");
    expect_reject(&p, "unknown message type");
    pk_init(&p, 3); /* extra key */
    pk_str(&p, "v"), msgpack_pack_uint32(&p.pk, 1), pk_str(&p, "t"), pk_str(&p, "status");
    pk_str(&p, "job"), msgpack_pack_uint64(&p.pk, 3);
    expect_reject(&p, "unexpected key 'job'");
    pk_init(&p, 2); /* missing field */
    pk_str(&p, "v"), msgpack_pack_uint32(&p.pk, 1), pk_str(&p, "t"), pk_str(&p, "cancel");
    expect_reject(&p, "missing field 'job'");
    pk_init(&p, 3); /* wrong value type */
    pk_str(&p, "v"), msgpack_pack_uint32(&p.pk, 1), pk_str(&p, "t"), pk_str(&p, "cancel");
    pk_str(&p, "job"), pk_str(&p, "seven");
    expect_reject(&p, "expected an unsigned integer");
    pk_init(&p, 4); /* duplicate field */
    pk_str(&p, "v"), msgpack_pack_uint32(&p.pk, 1), pk_str(&p, "t"), pk_str(&p, "cancel");
    pk_str(&p, "job"), msgpack_pack_uint64(&p.pk, 3), pk_str(&p, "job"), msgpack_pack_uint64(&p.pk, 4);
    expect_reject(&p, "duplicate key 'job'");
    pk_init(&p, 3); /* a NaN where a number goes */
    pk_str(&p, "v"), msgpack_pack_uint32(&p.pk, 1), pk_str(&p, "t"), pk_str(&p, "status_reply");
    pk_str(&p, "json"), msgpack_pack_double(&p.pk, 0.0 / 0.0);
    expect_reject(&p, "expected a string");
    pk_init(&p, 0); /* root is not a map → not even "v" */
    expect_reject(&p, "exactly one 'v'");

    /* Hand-made byte strings: oversized lengths and counts, ext types, trailing bytes. */
    static const struct {
        const char *why;
        size_t len;
        uint8_t bytes[16];
    } raw[] = {
        {"exceeds the frame", 6, {0x81, 0xdb, 0xff, 0xff, 0xff, 0xff}},  /* str32 of 4 GiB */
        {"exceeds the frame", 6, {0x81, 0xc6, 0x7f, 0xff, 0xff, 0xff}},  /* bin32 of 2 GiB */
        {"too large", 5, {0xdd, 0xff, 0xff, 0xff, 0xff}},                /* array32 of 4G elements */
        {"too large", 5, {0xdf, 0x00, 0x01, 0x00, 0x00}},                /* map32 of 64K pairs */
        {"unsupported msgpack byte 0xc7", 4, {0x81, 0xa1, 'v', 0xc7}},   /* ext8 */
        {"unsupported msgpack byte 0xc1", 1, {0xc1}},                    /* never used */
        {"trailing bytes", 2, {0x80, 0x80}},
        {"truncated", 2, {0xda, 0x00}},                             /* str16 without its length */
        {"too large", 3, {0x82, 0xa1, 'v'}},                           /* 2 pairs cannot fit in 2 bytes */
        {"nested deeper", 4, {0x91, 0x91, 0x91, 0x90}},
        {"frame of 0 bytes", 0, {0}},
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        dlc_msg_t d;
        uint8_t *copy = malloc(raw[i].len ? raw[i].len : 1); /* exact size: ASan sees overreads */
        memcpy(copy, raw[i].bytes, raw[i].len);
        assert_int_equal(dlc_msg_decode(copy, raw[i].len, &d), DLC_EPARSE);
        if (strstr(dlc_last_error(), raw[i].why) == NULL)
            fail_msg("case %zu: expected '%s' in '%s'", i, raw[i].why, dlc_last_error());
        free(copy);
    }
}

static uint64_t rng(uint64_t *s) {
    *s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
    return *s;
}

/* Decodes a private exact-size copy; a success must re-encode. */
static int try_decode(const uint8_t *bytes, size_t len) {
    uint8_t *copy = malloc(len ? len : 1);
    if (len)
        memcpy(copy, bytes, len);
    dlc_msg_t d;
    int rc = dlc_msg_decode(copy, len, &d);
    if (rc == 0) {
        void *buf;
        size_t n;
        if (dlc_msg_encode(&d, &buf, &n) < 0)
            fail_msg("a decoded %s does not re-encode: %s", dlc_msg_type_name(d.type), dlc_last_error());
        free(buf);
        dlc_msg_free(&d);
    } else {
        assert_int_equal(rc, DLC_EPARSE);
    }
    free(copy);
    return rc;
}

static void test_fuzz_decoder(void **state) {
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    void *frames[DLC_MSG_TYPE_COUNT];
    size_t lens[DLC_MSG_TYPE_COUNT];
    for (int t = 0; t < DLC_MSG_TYPE_COUNT; t++) {
        dlc_msg_t m = sample(t);
        encode_ok(&m, &frames[t], &lens[t]);
        for (size_t cut = 0; cut < lens[t]; cut++) /* every truncation fails */
            assert_int_equal(try_decode(frames[t], cut), DLC_EPARSE);
    }
    long rounds = 0, accepted = 0;
    uint8_t buf[512];
    double t0 = dlc_now();
    while (dlc_now() - t0 < FUZZ_SECONDS) {
        for (int k = 0; k < 256; k++, rounds++) {
            int t = (int)(rng(&seed) % DLC_MSG_TYPE_COUNT);
            size_t len = lens[t] < sizeof buf ? lens[t] : sizeof buf;
            memcpy(buf, frames[t], len);
            switch (rng(&seed) % 4) {
            case 0: /* pure noise */
                len = rng(&seed) % 64;
                for (size_t i = 0; i < len; i++)
                    buf[i] = (uint8_t)rng(&seed);
                break;
            case 1: /* flip a few bytes */
                for (int n = 1 + (int)(rng(&seed) % 4); n > 0; n--)
                    buf[rng(&seed) % len] ^= (uint8_t)(1 + rng(&seed) % 255);
                break;
            case 2: /* stamp a length/count header with a huge value */
            {
                static const uint8_t heads[] = {0xdb, 0xc6, 0xdd, 0xdf, 0xda, 0xdc};
                size_t at = rng(&seed) % len;
                buf[at] = heads[rng(&seed) % sizeof heads];
                for (size_t i = at + 1; i < at + 5 && i < len; i++)
                    buf[i] = 0xff;
                break;
            }
            default: /* mutate then truncate */
                buf[rng(&seed) % len] = (uint8_t)rng(&seed);
                len = rng(&seed) % (len + 1);
                break;
            }
            accepted += try_decode(buf, len) == 0;
        }
    }
    for (int t = 0; t < DLC_MSG_TYPE_COUNT; t++)
        free(frames[t]);
    print_message("fuzz: %ld frames in %.1f s, %ld accepted (all re-encoded)\n", rounds, dlc_now() - t0, accepted);
    assert_true(rounds > 1000);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_every_type),
        cmocka_unit_test(test_encode_rejects_out_of_range),
        cmocka_unit_test(test_decode_rejects),
        cmocka_unit_test(test_fuzz_decoder),
    };
    return cmocka_run_group_tests_name("protocol", tests, NULL, NULL);
}
