/* space_config.c — configs (one entity per knob): construction, accessors for
 * templates, TVM ConfigEntity JSON in and out, and the knob feature vector. */
#include <stdlib.h>
#include <string.h>

#include "schedule-templates/space_impl.h"

dlc_config_t *dlc__config_make(const dlc_space_t *sp, const int64_t *choice, int64_t index) {
    int n = sp->n_knobs, w = sp->total_width;
    dlc_config_t *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->space = sp;
    c->index = index;
    c->choice = malloc((n ? n : 1) * sizeof *c->choice);
    c->off = malloc((n ? n : 1) * sizeof *c->off);
    c->vals = malloc((w ? w : 1) * sizeof *c->vals);
    c->ivals = malloc((w ? w : 1) * sizeof *c->ivals);
    if (!c->choice || !c->off || !c->vals || !c->ivals) {
        dlc_config_destroy(&c);
        return NULL;
    }
    int off = 0;
    for (int k = 0; k < n; k++) {
        const dlc__knob_t *kn = &sp->knobs[k];
        c->choice[k] = choice[k];
        c->off[k] = off;
        dlc__knob_entity(kn, choice[k], c->vals + off);
        for (int j = 0; j < kn->width; j++) c->ivals[off + j] = (int)c->vals[off + j];
        off += kn->width;
    }
    return c;
}

void dlc_config_destroy(dlc_config_t **pc) {
    if (!pc || !*pc) return;
    dlc_config_t *c = *pc;
    free(c->choice);
    free(c->off);
    free(c->vals);
    free(c->ivals);
    free(c);
    *pc = NULL;
}

dlc_config_t *dlc_config_clone(const dlc_config_t *c) {
    return c ? dlc__config_make(c->space, c->choice, c->index) : NULL;
}

const dlc_space_t *dlc_config_space(const dlc_config_t *c) { return c ? c->space : NULL; }
int64_t dlc_config_index(const dlc_config_t *c) { return c ? c->index : -1; }
int64_t dlc_config_choice(const dlc_config_t *c, int k) {
    return c && k >= 0 && k < c->space->n_knobs ? c->choice[k] : -1;
}

int dlc_space_index(const dlc_space_t *sp, const dlc_config_t *cfg, int64_t *index) {
    if (!sp || !cfg) return dlc_error(DLC_EINVAL, "space_index: no space or config");
    if (cfg->space == sp) {
        *index = cfg->index;
        return 0;
    }
    json_t *e = dlc_config_to_entity_json(cfg);
    dlc_config_t *m = NULL;
    int rc = e ? dlc_config_from_entity_json(sp, e, &m) : dlc_error(DLC_ENOMEM, "space_index: out of memory");
    json_decref(e);
    if (!rc) *index = m->index;
    dlc_config_destroy(&m);
    return rc;
}

/* ---- accessors ---- */

static int knob_of(const dlc_config_t *c, const char *name, dlc_knob_kind_t kind) {
    if (!c) return -1;
    int k = dlc_space_knob_find(c->space, name);
    return k >= 0 && c->space->knobs[k].kind == kind ? k : -1;
}

const int64_t *dlc_config_split(const dlc_config_t *c, const char *name, int *n) {
    int k = knob_of(c, name, DLC_KNOB_SPLIT);
    if (k < 0) return NULL;
    if (n) *n = c->space->knobs[k].width;
    return c->vals + c->off[k];
}

int dlc_config_split_resolved(const dlc_config_t *c, const char *name, int64_t *out) {
    int k = knob_of(c, name, DLC_KNOB_SPLIT);
    if (k < 0) return dlc_error(DLC_ENOTFOUND, "config has no split knob '%s'", name ? name : "");
    const dlc__knob_t *kn = &c->space->knobs[k];
    const int64_t *v = c->vals + c->off[k];
    memcpy(out, v, kn->width * sizeof *v);
    if (v[0] == -1) out[0] = dlc__split_outer(kn->extent, v, kn->width);
    return 0;
}

const int *dlc_config_reorder(const dlc_config_t *c, const char *name, int *n) {
    int k = knob_of(c, name, DLC_KNOB_REORDER);
    if (k < 0) return NULL;
    if (n) *n = c->space->knobs[k].width;
    return c->ivals + c->off[k];
}

const int *dlc_config_annotate(const dlc_config_t *c, const char *name, int *n) {
    int k = knob_of(c, name, DLC_KNOB_ANNOTATE);
    if (k < 0) return NULL;
    if (n) *n = c->space->knobs[k].width;
    return c->ivals + c->off[k];
}

const json_t *dlc_config_knob_json(const dlc_config_t *c, const char *name) {
    int k = knob_of(c, name, DLC_KNOB_OTHER);
    return k < 0 ? NULL : json_array_get(c->space->knobs[k].options, (size_t)c->choice[k]);
}

int dlc_config_knob_int(const dlc_config_t *c, const char *name, int64_t *out) {
    const json_t *v = dlc_config_knob_json(c, name);
    if (json_is_integer(v)) *out = json_integer_value(v);
    else if (json_is_boolean(v)) *out = json_is_true(v);
    else return dlc_error(DLC_ENOTFOUND, "config has no int knob '%s'", name ? name : "");
    return 0;
}

int dlc_config_knob_bool(const dlc_config_t *c, const char *name, int *out) {
    const json_t *v = dlc_config_knob_json(c, name);
    if (json_is_boolean(v)) *out = json_is_true(v);
    else if (json_is_integer(v)) *out = json_integer_value(v) != 0;
    else return dlc_error(DLC_ENOTFOUND, "config has no bool knob '%s'", name ? name : "");
    return 0;
}

int dlc_config_knob_string(const dlc_config_t *c, const char *name, const char **out) {
    const json_t *v = dlc_config_knob_json(c, name);
    if (!json_is_string(v)) return dlc_error(DLC_ENOTFOUND, "config has no string knob '%s'", name ? name : "");
    *out = json_string_value(v);
    return 0;
}

/* ---- entity JSON ---- */

json_t *dlc_config_to_entity_json(const dlc_config_t *c) {
    if (!c) return NULL;
    json_t *list = json_array();
    for (int k = 0; list && k < c->space->n_knobs; k++) {
        const dlc__knob_t *kn = &c->space->knobs[k];
        json_t *v = dlc_space_knob_entity_json(c->space, k, c->choice[k]);
        json_t *item = json_pack("[s, s, o]", kn->name, dlc_knob_kind_code(kn->kind), v);
        if (!item || json_array_append_new(list, item)) {
            json_decref(list);
            return NULL;
        }
    }
    return list;
}

json_t *dlc_config_to_json(const dlc_config_t *c) {
    json_t *e = dlc_config_to_entity_json(c);
    if (!e) return NULL;
    return json_pack("{s:I, s:n, s:o}", "index", (json_int_t)c->index, "code_hash", "entity", e);
}

/* Reads an entity value of knob kn into v[width]. 0, DLC_EPARSE (wrong shape)
 * or DLC_ENOTFOUND (a well-formed value no entity has). */
static int entity_value(const dlc__knob_t *kn, const json_t *val, int64_t *v) {
    if (kn->kind == DLC_KNOB_OTHER) {
        for (size_t i = 0; i < json_array_size(kn->options); i++) {
            if (json_equal(json_array_get(kn->options, i), (json_t *)val)) {
                v[0] = (int64_t)i;
                return 0;
            }
        }
        return dlc_error(DLC_ENOTFOUND, "knob '%s': value is not one of its candidates", kn->name);
    }
    if (!json_is_array(val))
        return dlc_error(DLC_EPARSE, "knob '%s': expected a list", kn->name);
    if (json_array_size(val) != (size_t)kn->width)
        return dlc_error(DLC_ENOTFOUND, "knob '%s': %zu values, the space has %d", kn->name,
                         json_array_size(val), kn->width);
    for (int j = 0; j < kn->width; j++) {
        const json_t *x = json_array_get(val, j);
        if (kn->kind == DLC_KNOB_ANNOTATE && !kn->ann_locate) {
            if (!json_is_string(x)) return dlc_error(DLC_EPARSE, "knob '%s': expected annotation names", kn->name);
            int a = dlc_knob_ann_parse(json_string_value(x));
            if (a < 0)
                return dlc_error(DLC_ENOTFOUND, "knob '%s': unknown annotation '%s'", kn->name,
                                 json_string_value(x));
            v[j] = a;
        } else {
            if (!json_is_integer(x)) return dlc_error(DLC_EPARSE, "knob '%s': expected integers", kn->name);
            v[j] = json_integer_value(x);
        }
    }
    return 0;
}

int dlc_config_from_entity_json(const dlc_space_t *sp, const json_t *entity, dlc_config_t **out) {
    *out = NULL;
    if (!sp) return dlc_error(DLC_EINVAL, "entity: no space");
    if (!json_is_array(entity)) return dlc_error(DLC_EPARSE, "entity: expected a list of [name, kind, value]");
    int n = sp->n_knobs, rc = 0;
    int64_t *choice = calloc(n ? n : 1, sizeof *choice);
    char *seen = calloc(n ? n : 1, 1);
    int64_t *v = malloc(4096 * sizeof *v);
    if (!choice || !seen || !v) {
        rc = dlc_error(DLC_ENOMEM, "entity: out of memory");
        goto done;
    }
    for (size_t i = 0; i < json_array_size(entity); i++) {
        const json_t *item = json_array_get(entity, i);
        const json_t *jn = json_array_get(item, 0), *jk = json_array_get(item, 1), *jv = json_array_get(item, 2);
        if (!json_is_array(item) || json_array_size(item) != 3 || !json_is_string(jn) || !json_is_string(jk)) {
            rc = dlc_error(DLC_EPARSE, "entity item %zu: expected [name, kind, value]", i);
            goto done;
        }
        const char *name = json_string_value(jn);
        int k = dlc_space_knob_find(sp, name);
        if (k < 0) {
            rc = dlc_error(DLC_ENOTFOUND, "entity: knob '%s' is not in the space", name);
            goto done;
        }
        const dlc__knob_t *kn = &sp->knobs[k];
        if (seen[k]) {
            rc = dlc_error(DLC_EPARSE, "entity: knob '%s' appears twice", name);
            goto done;
        }
        if (strcmp(json_string_value(jk), dlc_knob_kind_code(kn->kind))) {
            rc = dlc_error(DLC_ENOTFOUND, "entity: knob '%s' is '%s' in the space, '%s' in the entity", name,
                           dlc_knob_kind_code(kn->kind), json_string_value(jk));
            goto done;
        }
        if ((rc = entity_value(kn, jv, v))) goto done;
        int64_t c = kn->kind == DLC_KNOB_OTHER ? v[0] : dlc__knob_find(kn, v);
        if (c < 0) {
            char *txt = json_dumps(jv, JSON_COMPACT | JSON_ENCODE_ANY);
            rc = dlc_error(DLC_ENOTFOUND, "entity: knob '%s': %s is not in the space", name, txt ? txt : "?");
            free(txt);
            goto done;
        }
        seen[k] = 1;
        choice[k] = c;
    }
    for (int k = 0; k < n; k++) {
        if (!seen[k]) {
            rc = dlc_error(DLC_ENOTFOUND, "entity: knob '%s' is missing", sp->knobs[k].name);
            goto done;
        }
    }
    int64_t index;
    if (!(rc = dlc_space_knob2point(sp, choice, &index)) && !(*out = dlc__config_make(sp, choice, index)))
        rc = dlc_error(DLC_ENOMEM, "entity: out of memory");
done:
    free(choice);
    free(seen);
    free(v);
    return rc;
}

/* ---- features ---- */

int dlc_space_feature_len(const dlc_space_t *sp) { return sp ? sp->feature_len : 0; }

int dlc_config_features(const dlc_config_t *c, float *out, int cap) {
    if (!c) return 0;
    const dlc_space_t *sp = c->space;
    int len = 0;
#define PUT(x) do { if (len < cap) out[len] = (float)(x); len++; } while (0)
    for (int k = 0; k < sp->n_knobs; k++) {
        const dlc__knob_t *kn = &sp->knobs[k];
        const int64_t *v = c->vals + c->off[k];
        switch (kn->kind) {
        case DLC_KNOB_SPLIT:
            PUT(v[0] == -1 ? dlc__split_outer(kn->extent, v, kn->width) : v[0]);
            for (int j = 1; j < kn->width; j++) PUT(v[j]);
            break;
        case DLC_KNOB_REORDER:
            for (int j = 0; j < kn->width; j++) PUT(v[j]);
            break;
        case DLC_KNOB_ANNOTATE:
            for (int j = 0; j < kn->width; j++) {
                if (kn->ann_locate) {
                    PUT(v[j]);
                    continue;
                }
                for (int a = 0; a < DLC_KNOB_ANN_COUNT; a++) PUT(a == v[j]);
            }
            break;
        default: {
            const json_t *x = json_array_get(kn->options, (size_t)c->choice[k]);
            if (json_is_boolean(x)) PUT(json_is_true(x));
            else if (json_is_number(x)) PUT(json_number_value(x));
            else PUT(c->choice[k]);
        }
        }
    }
#undef PUT
    return len;
}
