/* record.c — TVM tuning records: parsing and writing log lines (v0.1 and
 * v0.2 layouts, python/tvm/autotvm/record.py) and reading whole logs. */
#define _GNU_SOURCE /* getline */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "schedule-templates/space_impl.h"

/* ---- lifecycle ---- */

void dlc_record_init(dlc_record_t *r) {
    memset(r, 0, sizeof *r);
    r->layout = 2;
}

void dlc_record_clear(dlc_record_t *r) {
    free(r->target);
    free(r->task_name);
    json_decref(r->args);
    json_decref(r->kwargs);
    json_decref(r->workload);
    free(r->code_hash);
    free(r->template_key);
    json_decref(r->entity);
    free(r->costs);
    free(r->tvm_version);
    dlc_record_init(r);
}

static int dup_str(char **dst, const char *src) {
    *dst = NULL;
    if (!src) return 0;
    *dst = strdup(src);
    return *dst ? 0 : -1;
}

static int dup_json(json_t **dst, const json_t *src) {
    *dst = NULL;
    if (!src) return 0;
    *dst = json_deep_copy(src);
    return *dst ? 0 : -1;
}

int dlc_record_copy(dlc_record_t *dst, const dlc_record_t *src) {
    dlc_record_clear(dst);
    *dst = *src;
    dst->costs = NULL;
    int bad = dup_str(&dst->target, src->target) | dup_str(&dst->task_name, src->task_name) |
              dup_json(&dst->args, src->args) | dup_json(&dst->kwargs, src->kwargs) |
              dup_json(&dst->workload, src->workload) | dup_str(&dst->code_hash, src->code_hash) |
              dup_str(&dst->template_key, src->template_key) | dup_json(&dst->entity, src->entity) |
              dup_str(&dst->tvm_version, src->tvm_version);
    if (src->n_costs > 0) {
        dst->costs = malloc(src->n_costs * sizeof *dst->costs);
        if (dst->costs) memcpy(dst->costs, src->costs, src->n_costs * sizeof *dst->costs);
        else bad = 1;
    }
    if (bad) {
        dlc_record_clear(dst);
        return dlc_error(DLC_ENOMEM, "record copy: out of memory");
    }
    return 0;
}

int dlc_record_set_config(dlc_record_t *r, const dlc_config_t *cfg) {
    json_t *e = dlc_config_to_entity_json(cfg);
    if (!e) return dlc_error(DLC_EINVAL, "record: no config");
    json_decref(r->entity);
    r->entity = e;
    r->index = dlc_config_index(cfg);
    return 0;
}

static int json_eq(const json_t *a, const json_t *b) {
    return (!a && !b) || (a && b && json_equal((json_t *)a, (json_t *)b));
}
static int str_eq(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

int dlc_record_equal(const dlc_record_t *a, const dlc_record_t *b) {
    if (a->layout != b->layout || a->has_version != b->has_version ||
        (a->has_version && a->version != b->version) || !str_eq(a->target, b->target) ||
        !str_eq(a->task_name, b->task_name) || !json_eq(a->args, b->args) || !json_eq(a->kwargs, b->kwargs) ||
        !json_eq(a->workload, b->workload) || a->index != b->index || !str_eq(a->code_hash, b->code_hash) ||
        !str_eq(a->template_key, b->template_key) || !json_eq(a->entity, b->entity) ||
        a->n_costs != b->n_costs || a->error_no != b->error_no || a->all_cost != b->all_cost ||
        a->timestamp != b->timestamp || !str_eq(a->tvm_version, b->tvm_version))
        return 0;
    for (int i = 0; i < a->n_costs; i++)
        if (a->costs[i] != b->costs[i]) return 0;
    return 1;
}

/* ---- parsing ---- */

static int want(const json_t *v, int ok, const char *field, const char *what) {
    if (!v) return dlc_error(DLC_EPARSE, "'%s' missing", field);
    return ok ? 0 : dlc_error(DLC_EPARSE, "'%s': expected %s", field, what);
}

static int get_str(const json_t *v, const char *field, char **out) {
    int rc = want(v, json_is_string(v), field, "a string");
    if (rc) return rc;
    return (*out = strdup(json_string_value(v))) ? 0 : dlc_error(DLC_ENOMEM, "out of memory");
}

/* A string, or NULL for JSON null. */
static int get_str_or_null(const json_t *v, const char *field, char **out) {
    *out = NULL;
    if (json_is_null(v)) return 0;
    return get_str(v, field, out);
}

static int get_json(const json_t *v, int ok, const char *field, const char *what, json_t **out) {
    int rc = want(v, ok, field, what);
    if (!rc) *out = json_incref((json_t *)v);
    return rc;
}

/* [costs, error_no, all_cost, timestamp] */
static int parse_result(const json_t *res, const char *field, dlc_record_t *r) {
    int rc = want(res, json_is_array(res) && json_array_size(res) == 4, field, "[costs, error_no, all_cost, timestamp]");
    if (rc) return rc;
    const json_t *costs = json_array_get(res, 0), *err = json_array_get(res, 1);
    const json_t *all = json_array_get(res, 2), *ts = json_array_get(res, 3);
    if ((rc = want(costs, json_is_array(costs), "result costs", "a list of numbers"))) return rc;
    size_t n = json_array_size(costs);
    if (n > 1000000) return dlc_error(DLC_EPARSE, "result costs: %zu entries", n);
    r->costs = malloc((n ? n : 1) * sizeof *r->costs);
    if (!r->costs) return dlc_error(DLC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const json_t *c = json_array_get(costs, i);
        if (!json_is_number(c)) return dlc_error(DLC_EPARSE, "result costs[%zu]: expected a number", i);
        r->costs[i] = json_number_value(c);
    }
    r->n_costs = (int)n;
    if ((rc = want(err, json_is_integer(err) && json_integer_value(err) >= 0 && json_integer_value(err) <= INT32_MAX,
                   "result error_no", "a non-negative integer")))
        return rc;
    r->error_no = (int)json_integer_value(err);
    if ((rc = want(all, json_is_number(all), "result all_cost", "a number"))) return rc;
    r->all_cost = json_number_value(all);
    if ((rc = want(ts, json_is_number(ts), "result timestamp", "a number"))) return rc;
    r->timestamp = json_number_value(ts);
    return 0;
}

static int get_index(const json_t *v, const char *field, int64_t *out) {
    int rc = want(v, json_is_integer(v) && json_integer_value(v) >= 0, field, "a non-negative integer");
    if (!rc) *out = json_integer_value(v);
    return rc;
}

static int parse_v02(const json_t *root, dlc_record_t *r) {
    const json_t *in = json_object_get(root, "input"), *cfg = json_object_get(root, "config");
    int rc = want(in, json_is_array(in) && json_array_size(in) == 4, "input", "[target, task_name, args, kwargs]");
    if (!rc) rc = get_str(json_array_get(in, 0), "input target", &r->target);
    if (!rc) rc = get_str(json_array_get(in, 1), "input task_name", &r->task_name);
    if (!rc) rc = get_json(json_array_get(in, 2), json_is_array(json_array_get(in, 2)), "input args", "a list", &r->args);
    if (!rc)
        rc = get_json(json_array_get(in, 3), json_is_object(json_array_get(in, 3)), "input kwargs", "an object",
                      &r->kwargs);
    if (!rc) rc = want(cfg, json_is_object(cfg), "config", "an object");
    if (!rc) rc = get_index(json_object_get(cfg, "index"), "config index", &r->index);
    if (!rc) rc = want(json_object_get(cfg, "code_hash"), 1, "config code_hash", "");
    if (!rc) rc = get_str_or_null(json_object_get(cfg, "code_hash"), "config code_hash", &r->code_hash);
    if (!rc) {
        const json_t *e = json_object_get(cfg, "entity");
        rc = get_json(e, json_is_array(e), "config entity", "a list", &r->entity);
    }
    if (!rc) rc = parse_result(json_object_get(root, "result"), "result", r);
    const json_t *ver = json_object_get(root, "version"), *tv = json_object_get(root, "tvm_version");
    if (!rc && ver) {
        rc = want(ver, json_is_number(ver), "version", "a number");
        r->has_version = 1;
        r->version = json_number_value(ver);
    }
    if (!rc && tv) rc = get_str(tv, "tvm_version", &r->tvm_version);
    return rc;
}

static int parse_v01(const json_t *root, dlc_record_t *r) {
    const json_t *in = json_object_get(root, "i");
    int rc = want(in, json_is_array(in) && json_array_size(in) == 6, "i",
                  "[target, task_name, args, kwargs, workload, config]");
    if (!rc) rc = get_str(json_array_get(in, 0), "i target", &r->target);
    if (!rc) rc = get_str(json_array_get(in, 1), "i task_name", &r->task_name);
    if (!rc) rc = get_json(json_array_get(in, 2), json_is_array(json_array_get(in, 2)), "i args", "a list", &r->args);
    if (!rc)
        rc = get_json(json_array_get(in, 3), json_is_object(json_array_get(in, 3)), "i kwargs", "an object", &r->kwargs);
    if (!rc) rc = get_json(json_array_get(in, 4), 1, "i workload", "", &r->workload);
    const json_t *cfg = json_array_get(in, 5);
    if (!rc) rc = want(cfg, json_is_object(cfg), "i config", "an object");
    if (!rc) rc = get_index(json_object_get(cfg, "i"), "config i", &r->index);
    if (!rc) rc = want(json_object_get(cfg, "t"), 1, "config t", "");
    if (!rc) rc = get_str_or_null(json_object_get(cfg, "t"), "config t", &r->template_key);
    if (!rc) rc = want(json_object_get(cfg, "c"), 1, "config c", "");
    if (!rc) rc = get_str_or_null(json_object_get(cfg, "c"), "config c", &r->code_hash);
    if (!rc) {
        const json_t *e = json_object_get(cfg, "e");
        rc = get_json(e, json_is_array(e), "config e", "a list", &r->entity);
    }
    if (!rc) rc = parse_result(json_object_get(root, "r"), "r", r);
    const json_t *ver = json_object_get(root, "v");
    if (!rc && ver) {
        rc = want(ver, json_is_number(ver), "v", "a number");
        r->has_version = 1;
        r->version = json_number_value(ver);
    }
    return rc;
}

int dlc_record_parse(const char *line, size_t len, dlc_record_t *out) {
    dlc_record_init(out);
    if (!line) return dlc_error(DLC_EPARSE, "no line");
    if (memchr(line, 0, len)) return dlc_error(DLC_EPARSE, "NUL byte in the line");
    json_error_t err;
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &err);
    if (!root) return dlc_error(DLC_EPARSE, "JSON error at column %d: %s", err.column, err.text);
    int rc;
    if (!json_is_object(root)) rc = dlc_error(DLC_EPARSE, "expected a JSON object");
    else if (json_object_get(root, "input")) rc = parse_v02(root, out);
    else if (json_object_get(root, "i")) {
        out->layout = 1;
        rc = parse_v01(root, out);
    } else rc = dlc_error(DLC_EPARSE, "neither 'input' (v0.2) nor 'i' (v0.1)");
    json_decref(root);
    if (rc) {
        dlc_record_clear(out);
        return rc;
    }
    return 0;
}

/* ---- writing ---- */

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *result_json(const dlc_record_t *r) {
    json_t *costs = json_array();
    for (int i = 0; costs && i < r->n_costs; i++) json_array_append_new(costs, json_real(r->costs[i]));
    return json_pack("[o, i, f, f]", costs, r->error_no, r->all_cost, r->timestamp);
}

int dlc_record_format(const dlc_record_t *r, dlc_strbuf_t *out) {
    if (!r->target || !r->task_name || !r->args || !r->kwargs || !r->entity || (r->n_costs && !r->costs))
        return dlc_error(DLC_EINVAL, "record: missing fields");
    int finite = isfinite(r->all_cost) && isfinite(r->timestamp) && (!r->has_version || isfinite(r->version));
    for (int i = 0; i < r->n_costs; i++) finite &= isfinite(r->costs[i]) != 0;
    if (!finite) return dlc_error(DLC_EINVAL, "record: non-finite number (JSON has none)");
    json_t *root = NULL;
    /* json_pack "O" takes a new reference, "o" steals one; "s?" writes null for NULL */
    if (r->layout == 1) {
        json_t *cfg = json_pack("{s:I, s:o, s:o, s:O}", "i", (json_int_t)r->index, "t", str_or_null(r->template_key),
                                "c", str_or_null(r->code_hash), "e", r->entity);
        root = json_pack("{s:[s, s, O, O, O, o], s:o}", "i", r->target, r->task_name, r->args, r->kwargs,
                         r->workload ? r->workload : json_null(), cfg, "r", result_json(r));
    } else {
        json_t *cfg = json_pack("{s:I, s:o, s:O}", "index", (json_int_t)r->index, "code_hash",
                                str_or_null(r->code_hash), "entity", r->entity);
        root = json_pack("{s:[s, s, O, O], s:o, s:o}", "input", r->target, r->task_name, r->args, r->kwargs,
                         "config", cfg, "result", result_json(r));
    }
    if (!root) return dlc_error(DLC_EINVAL, "record: cannot build the JSON");
    if (r->has_version) json_object_set_new(root, r->layout == 1 ? "v" : "version", json_real(r->version));
    if (r->tvm_version && r->layout == 2) json_object_set_new(root, "tvm_version", json_string(r->tvm_version));
    int rc = dlc_json_dump_python(root, out);
    json_decref(root);
    return rc;
}

int dlc_record_write(FILE *f, const dlc_record_t *r) {
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    int rc = dlc_record_format(r, &sb);
    if (!rc) {
        dlc_strbuf_append(&sb, "\n");
        if (fwrite(sb.data, 1, sb.len, f) != sb.len) rc = dlc_error(DLC_EIO, "record: write failed");
    }
    dlc_strbuf_free(&sb);
    return rc;
}

/* ---- reading logs ---- */

static int read_line(const char *name, const char *line, size_t len, int64_t lineno, dlc_record_reader_t *rd) {
    while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) len--;
    size_t i = 0;
    while (i < len && (line[i] == ' ' || line[i] == '\t')) i++;
    if (i == len) {
        rd->blank++;
        return 0;
    }
    if (line[i] == '#') {
        rd->comments++;
        return 0;
    }
    dlc_record_t rec;
    if (dlc_record_parse(line, len, &rec)) {
        rd->malformed++;
        if (rd->on_error) rd->on_error(name, lineno, dlc_last_error(), rd->user);
        else DLC_WARN("%s:%lld: %s", name, (long long)lineno, dlc_last_error());
        return 0;
    }
    rd->records++;
    int rc = rd->on_record ? rd->on_record(&rec, lineno, rd->user) : 0;
    dlc_record_clear(&rec);
    return rc;
}

static void reader_reset(dlc_record_reader_t *rd) { rd->records = rd->malformed = rd->comments = rd->blank = 0; }

int dlc_record_read_buffer(const char *name, const char *data, size_t len, dlc_record_reader_t *rd) {
    reader_reset(rd);
    int64_t lineno = 0;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(data + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - data) : len;
        int rc = read_line(name, data + pos, end - pos, ++lineno, rd);
        if (rc) return rc;
        pos = end + 1;
    }
    return 0;
}

int dlc_record_read_file(const char *path, dlc_record_reader_t *rd) {
    reader_reset(rd);
    FILE *f = fopen(path, "rb");
    if (!f) return dlc_error(DLC_EIO, "%s: cannot open", path);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int64_t lineno = 0;
    int rc = 0;
    while (!rc && (n = getline(&line, &cap, f)) >= 0) rc = read_line(path, line, (size_t)n, ++lineno, rd);
    if (!rc && ferror(f)) rc = dlc_error(DLC_EIO, "%s: read error", path);
    free(line);
    fclose(f);
    return rc;
}
