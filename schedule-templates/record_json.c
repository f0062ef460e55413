/* record_json.c — JSON text as Python's json.dumps writes it (the text of TVM
 * log lines): ", " and ": " separators, floats as repr(), ensure_ascii. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedule-templates/dlc_space.h"

/* repr(float): the shortest decimal that reads back as d; positional when the
 * decimal exponent is in (-4, 16], else d.ddde±XX (at least two digits). */
static void put_float(double d, dlc_strbuf_t *out) {
    if (d == 0) {
        dlc_strbuf_append(out, signbit(d) ? "-0.0" : "0.0");
        return;
    }
    char buf[40];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, sizeof buf, "%.*e", prec - 1, d);
        if (strtod(buf, NULL) == d) break;
    }
    /* buf: [-]D[.DDD]e[+-]XX */
    const char *p = buf;
    if (*p == '-') {
        dlc_strbuf_append(out, "-");
        p++;
    }
    char digits[24];
    int nd = 0;
    for (; *p && *p != 'e'; p++)
        if (*p != '.') digits[nd++] = *p;
    while (nd > 1 && digits[nd - 1] == '0') nd--;
    digits[nd] = 0;
    int exp = atoi(p + 1), decpt = exp + 1;
    if (decpt > -4 && decpt <= 16) {
        if (decpt <= 0) {
            dlc_strbuf_append(out, "0.");
            for (int i = 0; i < -decpt; i++) dlc_strbuf_append(out, "0");
            dlc_strbuf_append(out, digits);
        } else if (decpt >= nd) {
            dlc_strbuf_append(out, digits);
            for (int i = nd; i < decpt; i++) dlc_strbuf_append(out, "0");
            dlc_strbuf_append(out, ".0");
        } else {
            dlc_strbuf_appendn(out, digits, decpt);
            dlc_strbuf_append(out, ".");
            dlc_strbuf_append(out, digits + decpt);
        }
    } else {
        dlc_strbuf_appendn(out, digits, 1);
        if (nd > 1) {
            dlc_strbuf_append(out, ".");
            dlc_strbuf_append(out, digits + 1);
        }
        dlc_strbuf_printf(out, "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    }
}

/* json.dumps(ensure_ascii=True): printable ASCII as is, the short escapes,
 * everything else as \uXXXX (UTF-16 surrogate pairs above U+FFFF). */
static void put_string(const char *s, size_t len, dlc_strbuf_t *out) {
    dlc_strbuf_append(out, "\"");
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p;
        if (c == '"') dlc_strbuf_append(out, "\\\"");
        else if (c == '\\') dlc_strbuf_append(out, "\\\\");
        else if (c == '\n') dlc_strbuf_append(out, "\\n");
        else if (c == '\r') dlc_strbuf_append(out, "\\r");
        else if (c == '\t') dlc_strbuf_append(out, "\\t");
        else if (c == '\b') dlc_strbuf_append(out, "\\b");
        else if (c == '\f') dlc_strbuf_append(out, "\\f");
        else if (c >= 0x20 && c < 0x7f) dlc_strbuf_appendn(out, (const char *)p, 1);
        else {
            /* jansson strings are valid UTF-8: decode one code point */
            unsigned cp = c;
            int extra = c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : 0;
            if (extra) cp = c & (0x3f >> extra);
            for (int i = 0; i < extra && p + 1 < end; i++) cp = (cp << 6) | (*++p & 0x3f);
            if (cp >= 0x10000) {
                cp -= 0x10000;
                dlc_strbuf_printf(out, "\\u%04x\\u%04x", 0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
            } else {
                dlc_strbuf_printf(out, "\\u%04x", cp);
            }
        }
        p++;
    }
    dlc_strbuf_append(out, "\"");
}

int dlc_json_dump_python(const json_t *v, dlc_strbuf_t *out) {
    if (!v) return dlc_error(DLC_EINVAL, "json dump: NULL value");
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        int first = 1;
        dlc_strbuf_append(out, "{");
        json_object_foreach((json_t *)v, key, val) {
            if (!first) dlc_strbuf_append(out, ", ");
            first = 0;
            put_string(key, strlen(key), out);
            dlc_strbuf_append(out, ": ");
            int rc = dlc_json_dump_python(val, out);
            if (rc) return rc;
        }
        dlc_strbuf_append(out, "}");
        return 0;
    }
    case JSON_ARRAY:
        dlc_strbuf_append(out, "[");
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i) dlc_strbuf_append(out, ", ");
            int rc = dlc_json_dump_python(json_array_get(v, i), out);
            if (rc) return rc;
        }
        dlc_strbuf_append(out, "]");
        return 0;
    case JSON_STRING:
        put_string(json_string_value(v), json_string_length(v), out);
        return 0;
    case JSON_INTEGER:
        dlc_strbuf_printf(out, "%lld", (long long)json_integer_value(v));
        return 0;
    case JSON_REAL: {
        double d = json_real_value(v);
        if (!isfinite(d)) return dlc_error(DLC_EINVAL, "json dump: non-finite number");
        put_float(d, out);
        return 0;
    }
    case JSON_TRUE:
        dlc_strbuf_append(out, "true");
        return 0;
    case JSON_FALSE:
        dlc_strbuf_append(out, "false");
        return 0;
    default:
        dlc_strbuf_append(out, "null");
        return 0;
    }
}
