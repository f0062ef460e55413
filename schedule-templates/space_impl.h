/* space_impl.h — private structures of config spaces and configs, shared by
 * space*.c and record.c only. */
#ifndef DLC_SPACE_IMPL_H
#define DLC_SPACE_IMPL_H

#include "schedule-templates/dlc_space.h"

/* Largest number of values one knob may materialise (dim × width). */
#define DLC__KNOB_MAX_VALUES (1 << 24)
/* Most axes of a lazily enumerated reorder (20! fits in int64). */
#define DLC__REORDER_MAX_AXES 20

typedef struct {
    char *name;
    dlc_knob_kind_t kind;
    int64_t dim;   /* number of entities */
    int width;     /* values per entity: num_outputs, n_axes; 1 for other options */
    /* split */
    int64_t extent;
    int split_policy; /* dlc_split_policy_t */
    /* reorder: ALL and INTERVAL_ALL are computed, not stored */
    int reorder_policy; /* dlc_reorder_policy_t; -1 for other kinds */
    int begin, end;     /* INTERVAL_ALL: permuted axes [begin, end); ALL: [0, width) */
    /* annotate */
    int ann_locate; /* locate_cache: values are axis positions */
    int64_t *vals;  /* dim × width entity values when materialised (owned) */
    json_t *options; /* other option: the candidate array (owned) */
} dlc__knob_t;

struct dlc_space {
    dlc__knob_t *knobs;
    int n_knobs, cap;
    int64_t size;
    int total_width; /* sum of knob widths */
    int feature_len;
};

struct dlc_config {
    const dlc_space_t *space; /* borrowed */
    int64_t index;
    int64_t *choice;  /* n_knobs choices */
    int *off;         /* n_knobs offsets into vals / ivals */
    int64_t *vals;    /* total_width values: split sizes, perms, annotation codes */
    int *ivals;       /* the same as int (reorder / annotate accessors) */
};

/* Entity i of knob k into out[width]. */
void dlc__knob_entity(const dlc__knob_t *kn, int64_t i, int64_t *out);
/* Position of the entity `v` (width values) in knob k, or -1. Splits match
 * on the inner sizes, with v[0] == -1 or the outer extent. */
int64_t dlc__knob_find(const dlc__knob_t *kn, const int64_t *v);
/* Split enumeration (space_split.c): fills kn->vals/kn->dim. */
int dlc__split_enumerate(dlc__knob_t *kn, int64_t max_factor, dlc_split_filter_fn filter, void *user);
/* Outer extent of a split entity: ceil(extent / prod(size[1:])). */
int64_t dlc__split_outer(int64_t extent, const int64_t *size, int n);
/* Iteration order of CPython's set(a) | set(b) for positive ints (space_split.c);
 * out holds na + nb slots; returns the count written. */
int dlc__pyset_union_order(const int64_t *a, int na, const int64_t *b, int nb, int64_t *out);
/* Builds a config for choices (allocates; NULL on OOM). */
dlc_config_t *dlc__config_make(const dlc_space_t *sp, const int64_t *choice, int64_t index);

#endif
