/* json.c — strict JSON helpers over jansson whose errors name the field. */
#include "support/dlc_support.h"

static const char *json_type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "real";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    case JSON_NULL: return "null";
    }
    return "unknown";
}

json_t *dlc_json_parse(const char *text, size_t len) {
    if (text == NULL) {
        dlc_error(DLC_EINVAL, "dlc_json_parse: NULL text");
        return NULL;
    }
    json_error_t err;
    json_t *v = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    if (v == NULL)
        dlc_error(DLC_EPARSE, "JSON parse error at line %d, column %d: %s", err.line, err.column, err.text);
    return v;
}

/* Finds `key` in `obj`. DLC_EPARSE if obj is not an object, DLC_ENOTFOUND
 * if the field is missing (so callers can treat optional fields). */
static int json_field(const json_t *obj, const char *key, json_t **out) {
    *out = NULL;
    if (key == NULL)
        return dlc_error(DLC_EINVAL, "JSON getter: NULL key");
    if (obj == NULL || !json_is_object(obj))
        return dlc_error(DLC_EPARSE, "field '%s': expected an enclosing object, got %s", key,
                         obj ? json_type_name(obj) : "no value");
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return dlc_error(DLC_ENOTFOUND, "field '%s': missing", key);
    *out = v;
    return 0;
}

int dlc_json_get_int(const json_t *obj, const char *key, int64_t *out) {
    json_t *v;
    int rc = json_field(obj, key, &v);
    if (rc < 0)
        return rc;
    if (!json_is_integer(v))
        return dlc_error(DLC_EPARSE, "field '%s': expected integer, got %s", key, json_type_name(v));
    if (out)
        *out = (int64_t)json_integer_value(v);
    return 0;
}

/* Accepts integers too (1 is a fine double). */
int dlc_json_get_double(const json_t *obj, const char *key, double *out) {
    json_t *v;
    int rc = json_field(obj, key, &v);
    if (rc < 0)
        return rc;
    if (!json_is_number(v))
        return dlc_error(DLC_EPARSE, "field '%s': expected number, got %s", key, json_type_name(v));
    if (out)
        *out = json_number_value(v);
    return 0;
}

/* *out points into obj and lives as long as obj does. */
int dlc_json_get_string(const json_t *obj, const char *key, const char **out) {
    json_t *v;
    int rc = json_field(obj, key, &v);
    if (rc < 0)
        return rc;
    if (!json_is_string(v))
        return dlc_error(DLC_EPARSE, "field '%s': expected string, got %s", key, json_type_name(v));
    if (out)
        *out = json_string_value(v);
    return 0;
}

int dlc_json_get_bool(const json_t *obj, const char *key, int *out) {
    json_t *v;
    int rc = json_field(obj, key, &v);
    if (rc < 0)
        return rc;
    if (!json_is_boolean(v))
        return dlc_error(DLC_EPARSE, "field '%s': expected boolean, got %s", key, json_type_name(v));
    if (out)
        *out = json_is_true(v);
    return 0;
}

/* JSON_COMPACT gives "," and ":" separators with no spaces; scalars allowed.
 * The string comes from jansson's allocator, which is malloc unless
 * json_set_alloc_funcs() was called: free() it. */
char *dlc_json_dumps(const json_t *v) {
    if (v == NULL) {
        dlc_error(DLC_EINVAL, "dlc_json_dumps: NULL value");
        return NULL;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);
    if (s == NULL)
        dlc_error(DLC_EINVAL, "cannot serialise JSON value (invalid UTF-8 or non-finite number?)");
    return s;
}
