/* test_space.c — config spaces: each knob kind's entities in TVM's order,
 * index <-> config round trips, sampling without repeats, neighbours,
 * features, and entity JSON in and out. Expected lists are worked out by hand
 * from TVM's SplitSpace / ReorderSpace / AnnotateSpace algorithms. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schedule-templates/dlc_space.h"

/* All entities of knob k as compact JSON ("[[-1,1],[-1,2]]"); caller frees. */
static char *knob_entities(const dlc_space_t *sp, int k) {
    json_t *all = json_array();
    for (int64_t i = 0; i < dlc_space_knob_dim(sp, k); i++)
        json_array_append_new(all, dlc_space_knob_entity_json(sp, k, i));
    char *s = json_dumps(all, JSON_COMPACT);
    json_decref(all);
    return s;
}

static void expect_entities(const dlc_space_t *sp, const char *name, const char *expected) {
    int k = dlc_space_knob_find(sp, name);
    assert_true(k >= 0);
    char *got = knob_entities(sp, k);
    if (strcmp(got, expected)) fprintf(stderr, "knob %s:\n  got      %s\n  expected %s\n", name, got, expected);
    assert_string_equal(got, expected);
    free(got);
}

static int inner_le_64(const int64_t *size, int n, void *user) { return size[n - 1] <= 64; }
static int inner_le(const int64_t *size, int n, void *user) { return size[n - 1] <= *(int64_t *)user; }

/* ---- split ---- */

static void test_split_factors(void **state) {
    dlc_space_t *sp = dlc_space_new();
    /* get_factors(112), ascending; "factors" keeps products dividing 112 */
    assert_int_equal(dlc_space_define_split(sp, "a", 112, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL), 0);
    expect_entities(sp, "a", "[[-1,1],[-1,2],[-1,4],[-1,7],[-1,8],[-1,14],[-1,16],[-1,28],[-1,56],[-1,112]]");
    /* TopHub's tile_ow filter: inner <= 64 drops 112 */
    assert_int_equal(dlc_space_define_split(sp, "b", 112, DLC_SPLIT_FACTORS, 2, 0, inner_le_64, NULL), 0);
    expect_entities(sp, "b", "[[-1,1],[-1,2],[-1,4],[-1,7],[-1,8],[-1,14],[-1,16],[-1,28],[-1,56]]");
    /* max_factor */
    assert_int_equal(dlc_space_define_split(sp, "c", 112, DLC_SPLIT_FACTORS, 2, 16, NULL, NULL), 0);
    expect_entities(sp, "c", "[[-1,1],[-1,2],[-1,4],[-1,7],[-1,8],[-1,14],[-1,16]]");
    /* three outputs: the DFS picks the innermost factor in the outer loop, so
     * the last size varies slowest: [-1, f1, f0] for f0, then f1 ascending */
    assert_int_equal(dlc_space_define_split(sp, "d", 12, DLC_SPLIT_FACTORS, 3, 0, NULL, NULL), 0);
    expect_entities(sp, "d",
                    "[[-1,1,1],[-1,2,1],[-1,3,1],[-1,4,1],[-1,6,1],[-1,12,1],"
                    "[-1,1,2],[-1,2,2],[-1,3,2],[-1,6,2],"
                    "[-1,1,3],[-1,2,3],[-1,4,3],"
                    "[-1,1,4],[-1,3,4],"
                    "[-1,1,6],[-1,2,6],"
                    "[-1,1,12]]");
    /* a prime and 1 */
    assert_int_equal(dlc_space_define_split(sp, "e", 7, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL), 0);
    expect_entities(sp, "e", "[[-1,1],[-1,7]]");
    assert_int_equal(dlc_space_define_split(sp, "f", 1, DLC_SPLIT_FACTORS, 4, 0, NULL, NULL), 0);
    expect_entities(sp, "f", "[[-1,1,1,1]]");
    assert_int_equal(dlc_space_size(sp), 10 * 9 * 7 * 18 * 2 * 1);
    dlc_space_destroy(&sp);
    assert_null(sp);
    dlc_space_destroy(&sp); /* safe twice */
}

static void test_split_power2_verbose(void **state) {
    dlc_space_t *sp = dlc_space_new();
    /* power2 of 10: 1, 2, 4, 8; tails allowed while the product stays <= 10 */
    assert_int_equal(dlc_space_define_split(sp, "p", 10, DLC_SPLIT_POWER2, 2, 0, NULL, NULL), 0);
    expect_entities(sp, "p", "[[-1,1],[-1,2],[-1,4],[-1,8]]");
    assert_int_equal(dlc_space_define_split(sp, "p3", 10, DLC_SPLIT_POWER2, 3, 0, NULL, NULL), 0);
    expect_entities(sp, "p3",
                    "[[-1,1,1],[-1,2,1],[-1,4,1],[-1,8,1],[-1,1,2],[-1,2,2],[-1,4,2],[-1,1,4],[-1,2,4],[-1,1,8]]");
    /* verbose 6: set([1,2,3,6]) | set([1,2,4]) iterates 1,2,3,4,6 (small ints
     * sit in their own slots); 6 % prod == 0 or prod < 6 */
    assert_int_equal(dlc_space_define_split(sp, "v", 6, DLC_SPLIT_VERBOSE, 3, 0, NULL, NULL), 0);
    expect_entities(sp, "v",
                    "[[-1,1,1],[-1,2,1],[-1,3,1],[-1,4,1],[-1,6,1],"
                    "[-1,1,2],[-1,2,2],[-1,3,2],[-1,1,3],[-1,2,3],[-1,1,4],[-1,1,6]]");
    /* verbose 112: CPython's table puts 8 at slot 8 after the resize to 32
     * slots, 112 collides with 16 and probes on to slot 17, 56 lands on slot 24,
     * 32 on slot 0 and 64 probes to slot 3: 32 1 2 64 4 7 8 14 16 112 56 28 */
    assert_int_equal(dlc_space_define_split(sp, "v112", 112, DLC_SPLIT_VERBOSE, 2, 0, inner_le_64, NULL), 0);
    expect_entities(sp, "v112", "[[-1,32],[-1,1],[-1,2],[-1,64],[-1,4],[-1,7],[-1,8],[-1,14],[-1,16],[-1,56],[-1,28]]");
    /* candidates, with the filter */
    static const int64_t cand[] = {1, 4, 4, 4, 1, 4, 2, 2, 8};
    int64_t lim = 4;
    assert_int_equal(dlc_space_define_split_candidates(sp, "c", 16, 3, cand, 3, inner_le, &lim), 0);
    expect_entities(sp, "c", "[[1,4,4],[4,1,4]]");
    dlc_space_destroy(&sp);
}

static void test_verbose_matches_cpython(void **state) {
    /* The sizes of every verbose split over 1..300 against a count derived
     * independently: |divisors ∪ powers of two| entities for 2 outputs. */
    for (int64_t n = 1; n <= 300; n++) {
        dlc_space_t *sp = dlc_space_new();
        assert_int_equal(dlc_space_define_split(sp, "v", n, DLC_SPLIT_VERBOSE, 2, 0, NULL, NULL), 0);
        int64_t expect = 0;
        for (int64_t x = 1; x <= n; x++) expect += (n % x == 0) || ((x & (x - 1)) == 0);
        assert_int_equal(dlc_space_size(sp), expect);
        dlc_space_destroy(&sp);
    }
}

/* ---- reorder, annotate, other ---- */

static void test_reorder(void **state) {
    dlc_space_t *sp = dlc_space_new();
    assert_int_equal(dlc_space_define_reorder(sp, "all", 3, DLC_REORDER_ALL), 0);
    expect_entities(sp, "all", "[[0,1,2],[0,2,1],[1,0,2],[1,2,0],[2,0,1],[2,1,0]]");
    assert_int_equal(dlc_space_define_reorder_interval(sp, "iv", 5, 1, 4), 0);
    expect_entities(sp, "iv",
                    "[[0,1,2,3,4],[0,1,3,2,4],[0,2,1,3,4],[0,2,3,1,4],[0,3,1,2,4],[0,3,2,1,4]]");
    assert_int_equal(dlc_space_define_reorder(sp, "id", 4, DLC_REORDER_IDENTITY), 0);
    expect_entities(sp, "id", "[[0,1,2,3]]");
    /* arm_cpu spatial pack's reorder_0 */
    static const int cand[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 9, 7, 8};
    assert_int_equal(dlc_space_define_reorder_candidates(sp, "re", 10, cand, 2), 0);
    expect_entities(sp, "re", "[[0,1,2,3,4,5,6,7,8,9],[0,1,2,3,4,5,6,9,7,8]]");
    static const int bad[] = {0, 0, 1};
    assert_int_equal(dlc_space_define_reorder_candidates(sp, "bad", 3, bad, 1), DLC_EINVAL);
    /* 'all' over 10 axes is enumerated lazily: 10! entities, the last reversed */
    assert_int_equal(dlc_space_define_reorder(sp, "big", 10, DLC_REORDER_ALL), 0);
    int k = dlc_space_knob_find(sp, "big");
    assert_int_equal(dlc_space_knob_dim(sp, k), 3628800);
    json_t *last = dlc_space_knob_entity_json(sp, k, 3628799);
    char *s = json_dumps(last, JSON_COMPACT);
    assert_string_equal(s, "[9,8,7,6,5,4,3,2,1,0]");
    free(s);
    json_decref(last);
    assert_int_equal(dlc_space_define_reorder(sp, "huge", 21, DLC_REORDER_ALL), DLC_EINVAL);
    dlc_space_destroy(&sp);
}

static void test_annotate(void **state) {
    dlc_space_t *sp = dlc_space_new();
    /* "try_unroll" -> options [none, unroll] per axis, the first axis slowest */
    assert_int_equal(dlc_space_define_annotate(sp, "r", 2, "try_unroll", 0), 0);
    expect_entities(sp, "r", "[[\"none\",\"none\"],[\"none\",\"unroll\"],[\"unroll\",\"none\"],[\"unroll\",\"unroll\"]]");
    /* "try_vec": [vec, vec] has two vecs and is dropped */
    assert_int_equal(dlc_space_define_annotate(sp, "v", 2, "try_vec", 0), 0);
    expect_entities(sp, "v", "[[\"none\",\"none\"],[\"none\",\"vec\"],[\"vec\",\"none\"]]");
    /* "try_unroll_vec" over 3 axes: 27 - 7 (two or three vecs) = 20 */
    assert_int_equal(dlc_space_define_annotate(sp, "s", 3, "try_unroll_vec", 0), 0);
    expect_entities(sp, "s",
                    "[[\"none\",\"none\",\"none\"],[\"none\",\"none\",\"unroll\"],[\"none\",\"none\",\"vec\"],"
                    "[\"none\",\"unroll\",\"none\"],[\"none\",\"unroll\",\"unroll\"],[\"none\",\"unroll\",\"vec\"],"
                    "[\"none\",\"vec\",\"none\"],[\"none\",\"vec\",\"unroll\"],"
                    "[\"unroll\",\"none\",\"none\"],[\"unroll\",\"none\",\"unroll\"],[\"unroll\",\"none\",\"vec\"],"
                    "[\"unroll\",\"unroll\",\"none\"],[\"unroll\",\"unroll\",\"unroll\"],[\"unroll\",\"unroll\",\"vec\"],"
                    "[\"unroll\",\"vec\",\"none\"],[\"unroll\",\"vec\",\"unroll\"],"
                    "[\"vec\",\"none\",\"none\"],[\"vec\",\"none\",\"unroll\"],"
                    "[\"vec\",\"unroll\",\"none\"],[\"vec\",\"unroll\",\"unroll\"]]");
    assert_int_equal(dlc_space_define_annotate(sp, "u", 2, "unroll", 0), 0);
    expect_entities(sp, "u", "[[\"unroll\",\"unroll\"]]");
    /* "vec" over two axes leaves nothing: TVM fails too */
    assert_int_equal(dlc_space_define_annotate(sp, "vv", 2, "vec", 0), DLC_EINVAL);
    assert_int_equal(dlc_space_define_annotate(sp, "lc", 4, "locate_cache", 2), 0);
    expect_entities(sp, "lc", "[[0,1],[0,2],[0,3],[1,2],[1,3],[2,3]]");
    assert_int_equal(dlc_space_define_annotate(sp, "bg", 5, "bind_gpu", 0), 0);
    expect_entities(sp, "bg", "[[\"fuse\",\"blockIdx.y\",\"blockIdx.x\",\"threadIdx.y\",\"threadIdx.x\"]]");
    assert_int_equal(dlc_space_define_annotate(sp, "bgv", 3, "bind_gpu_virtual", 0), 0);
    expect_entities(sp, "bgv", "[[\"blockIdx.x\",\"vthread\",\"threadIdx.x\"]]");
    assert_int_equal(dlc_space_define_annotate(sp, "x", 2, "try_fuse", 0), DLC_EINVAL);
    assert_int_equal(dlc_space_size(sp), 4 * 3 * 20 * 1 * 6 * 1 * 1);
    dlc_space_destroy(&sp);
}

static void test_knobs_and_names(void **state) {
    dlc_space_t *sp = dlc_space_new();
    static const int tf[] = {1, 0};
    static const int64_t steps[] = {0, 512, 1500};
    static const char *const modes[] = {"a", "b"};
    assert_int_equal(dlc_space_define_knob_bool(sp, "unroll_kw", tf, 2), 0);
    assert_int_equal(dlc_space_define_knob_int(sp, "auto_unroll_max_step", steps, 3), 0);
    assert_int_equal(dlc_space_define_knob_string(sp, "mode", modes, 2), 0);
    expect_entities(sp, "unroll_kw", "[true,false]");
    expect_entities(sp, "auto_unroll_max_step", "[0,512,1500]");
    expect_entities(sp, "mode", "[\"a\",\"b\"]");
    assert_int_equal(dlc_space_define_knob_int(sp, "mode", steps, 3), DLC_EINVAL); /* duplicate */
    assert_int_equal(dlc_space_define_knob_int(sp, "empty", steps, 0), DLC_EINVAL);
    assert_int_equal(dlc_space_size(sp), 12);
    /* index 0 + 2*(2 + 3*1) = 10: unroll_kw true, step 1500, mode b */
    dlc_config_t *c;
    assert_int_equal(dlc_space_get(sp, 10, &c), 0);
    int b;
    int64_t v;
    const char *str;
    assert_int_equal(dlc_config_knob_bool(c, "unroll_kw", &b), 0);
    assert_int_equal(b, 1);
    assert_int_equal(dlc_config_knob_int(c, "auto_unroll_max_step", &v), 0);
    assert_int_equal(v, 1500);
    assert_int_equal(dlc_config_knob_string(c, "mode", &str), 0);
    assert_string_equal(str, "b");
    assert_int_equal(dlc_config_knob_string(c, "unroll_kw", &str), DLC_ENOTFOUND);
    assert_null(dlc_config_split(c, "mode", NULL));
    dlc_config_destroy(&c);
    assert_int_equal(dlc_space_get(sp, 12, &c), DLC_EINVAL);
    assert_int_equal(dlc_space_get(sp, -1, &c), DLC_EINVAL);
    assert_null(c);
    /* the tables */
    assert_string_equal(dlc_knob_kind_code(DLC_KNOB_ANNOTATE), "an");
    assert_string_equal(dlc_knob_ann_name(DLC_KNOB_ANN_UNROLL), "unroll");
    assert_int_equal(dlc_knob_ann_parse("threadIdx.x"), 6); /* TVM's _ann_to_number */
    assert_int_equal(dlc_knob_ann_parse("fuse"), 10);
    assert_int_equal(dlc_split_policy_parse("verbose"), DLC_SPLIT_VERBOSE);
    assert_int_equal(dlc_reorder_policy_parse("interval_all"), DLC_REORDER_INTERVAL_ALL);
    dlc_space_destroy(&sp);
}

/* ---- the mixed-radix index ---- */

/* A space with every kind: 18 * 6 * 20 * 2 * 3 = 12960 configs. */
static dlc_space_t *mixed_space(void) {
    dlc_space_t *sp = dlc_space_new();
    static const int64_t k[] = {0, 16, 64};
    static const int tf[] = {1, 0};
    assert_int_equal(dlc_space_define_split(sp, "tile", 12, DLC_SPLIT_FACTORS, 3, 0, NULL, NULL), 0);
    assert_int_equal(dlc_space_define_reorder(sp, "order", 3, DLC_REORDER_ALL), 0);
    assert_int_equal(dlc_space_define_annotate(sp, "ann", 3, "try_unroll_vec", 0), 0);
    assert_int_equal(dlc_space_define_knob_bool(sp, "flag", tf, 2), 0);
    assert_int_equal(dlc_space_define_knob_int(sp, "step", k, 3), 0);
    assert_int_equal(dlc_space_size(sp), 12960);
    return sp;
}

static void test_index_order(void **state) {
    dlc_space_t *sp = mixed_space();
    /* index = tile + 18*(order + 6*(ann + 20*(flag + 2*step))) */
    int64_t index = 5 + 18 * (3 + 6 * (13 + 20 * (1 + 2 * 2)));
    dlc_config_t *c;
    assert_int_equal(dlc_space_get(sp, index, &c), 0);
    json_t *e = dlc_config_to_entity_json(c);
    char *s = json_dumps(e, JSON_COMPACT);
    assert_string_equal(s, "[[\"tile\",\"sp\",[-1,12,1]],[\"order\",\"re\",[1,2,0]],"
                           "[\"ann\",\"an\",[\"unroll\",\"unroll\",\"vec\"]],[\"flag\",\"ot\",false],"
                           "[\"step\",\"ot\",64]]");
    free(s);
    json_decref(e);
    int n;
    const int64_t *t = dlc_config_split(c, "tile", &n);
    assert_int_equal(n, 3);
    assert_int_equal(t[0], -1);
    int64_t r[3];
    assert_int_equal(dlc_config_split_resolved(c, "tile", r), 0);
    assert_int_equal(r[0], 1);
    const int *perm = dlc_config_reorder(c, "order", &n);
    assert_int_equal(perm[0], 1);
    const int *ann = dlc_config_annotate(c, "ann", &n);
    assert_int_equal(ann[2], DLC_KNOB_ANN_VEC);
    int64_t choice[5];
    assert_int_equal(dlc_space_point2knob(sp, index, choice), 0);
    assert_int_equal(choice[0], 5);
    assert_int_equal(choice[2], 13);
    assert_int_equal(choice[4], 2);
    int64_t back;
    assert_int_equal(dlc_space_knob2point(sp, choice, &back), 0);
    assert_int_equal(back, index);
    /* features: 3 split sizes, 3 perm, 3x11 one-hot, 1, 1 */
    assert_int_equal(dlc_space_feature_len(sp), 3 + 3 + 33 + 2);
    float f[64];
    assert_int_equal(dlc_config_features(c, f, 64), 41);
    assert_true(f[0] == 1 && f[1] == 12 && f[2] == 1 && f[3] == 1 && f[4] == 2 && f[5] == 0);
    assert_true(f[6 + DLC_KNOB_ANN_UNROLL] == 1 && f[6 + DLC_KNOB_ANN_NONE] == 0);
    assert_true(f[6 + 22 + DLC_KNOB_ANN_VEC] == 1);
    assert_true(f[39] == 0 && f[40] == 64);
    dlc_config_destroy(&c);
    dlc_space_destroy(&sp);
}

static void test_round_trip_every_index(void **state) {
    dlc_space_t *sp = mixed_space();
    dlc_space_t *twin = mixed_space(); /* a second object with the same knobs */
    for (int64_t i = 0; i < dlc_space_size(sp); i++) {
        dlc_config_t *c, *d;
        assert_int_equal(dlc_space_get(sp, i, &c), 0);
        assert_int_equal(dlc_config_index(c), i);
        json_t *e = dlc_config_to_entity_json(c);
        assert_int_equal(dlc_config_from_entity_json(sp, e, &d), 0);
        assert_int_equal(dlc_config_index(d), i);
        int64_t j;
        assert_int_equal(dlc_space_index(twin, c, &j), 0);
        assert_int_equal(j, i);
        dlc_config_t *cl = dlc_config_clone(d);
        json_t *e2 = dlc_config_to_entity_json(cl);
        assert_true(json_equal(e, e2));
        json_decref(e);
        json_decref(e2);
        dlc_config_destroy(&c);
        dlc_config_destroy(&d);
        dlc_config_destroy(&cl);
    }
    dlc_space_destroy(&sp);
    dlc_space_destroy(&twin);
}

/* ---- entity JSON in ---- */

static int from_text(const dlc_space_t *sp, const char *text, int64_t *index) {
    json_t *e = json_loads(text, 0, NULL);
    assert_non_null(e);
    dlc_config_t *c = NULL;
    int rc = dlc_config_from_entity_json(sp, e, &c);
    if (!rc) *index = dlc_config_index(c);
    else assert_null(c);
    dlc_config_destroy(&c);
    json_decref(e);
    return rc;
}

static void test_entity_parse(void **state) {
    dlc_space_t *sp = dlc_space_new();
    static const int tf[] = {1, 0};
    assert_int_equal(dlc_space_define_split(sp, "tile_ic", 3, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL), 0);
    assert_int_equal(dlc_space_define_split(sp, "tile_oc", 64, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL), 0);
    assert_int_equal(dlc_space_define_split(sp, "tile_ow", 112, DLC_SPLIT_FACTORS, 2, 0, inner_le_64, NULL), 0);
    assert_int_equal(dlc_space_define_knob_bool(sp, "unroll_kw", tf, 2), 0);
    int64_t idx;
    /* TopHub llvm_v0.04.log line 3: full outer sizes, index 193 */
    const char *old = "[[\"tile_ic\",\"sp\",[1,3]],[\"tile_oc\",\"sp\",[2,32]],[\"tile_ow\",\"sp\",[14,8]],"
                      "[\"unroll_kw\",\"ot\",false]]";
    assert_int_equal(from_text(sp, old, &idx), 0);
    assert_int_equal(idx, 193);
    /* the same with -1, in another order */
    assert_int_equal(from_text(sp, "[[\"unroll_kw\",\"ot\",false],[\"tile_ow\",\"sp\",[-1,8]],"
                                   "[\"tile_oc\",\"sp\",[-1,32]],[\"tile_ic\",\"sp\",[-1,3]]]", &idx), 0);
    assert_int_equal(idx, 193);
    /* a wrong outer size, a filtered factor, a value of the wrong type */
    assert_int_equal(from_text(sp, "[[\"tile_ic\",\"sp\",[1,3]],[\"tile_oc\",\"sp\",[3,32]],[\"tile_ow\",\"sp\",[14,8]],"
                                   "[\"unroll_kw\",\"ot\",false]]", &idx), DLC_ENOTFOUND);
    assert_int_equal(from_text(sp, "[[\"tile_ic\",\"sp\",[1,3]],[\"tile_oc\",\"sp\",[2,32]],[\"tile_ow\",\"sp\",[1,112]],"
                                   "[\"unroll_kw\",\"ot\",false]]", &idx), DLC_ENOTFOUND);
    assert_int_equal(from_text(sp, "[[\"tile_ic\",\"sp\",[1,3]],[\"tile_oc\",\"sp\",[2,32]],[\"tile_ow\",\"sp\",[14,8]],"
                                   "[\"unroll_kw\",\"ot\",0]]", &idx), DLC_ENOTFOUND);
    /* missing, extra, repeated knobs; wrong kind; wrong shapes */
    assert_int_equal(from_text(sp, "[[\"tile_ic\",\"sp\",[1,3]]]", &idx), DLC_ENOTFOUND);
    assert_int_equal(from_text(sp, "[[\"tile_ic\",\"sp\",[1,3]],[\"tile_oc\",\"sp\",[2,32]],[\"tile_ow\",\"sp\",[14,8]],"
                                   "[\"unroll_kw\",\"ot\",false],[\"x\",\"ot\",1]]", &idx), DLC_ENOTFOUND);
    assert_int_equal(from_text(sp, "[[\"tile_ic\",\"sp\",[1,3]],[\"tile_ic\",\"sp\",[1,3]]]", &idx), DLC_EPARSE);
    assert_int_equal(from_text(sp, "[[\"tile_ic\",\"ot\",[1,3]]]", &idx), DLC_ENOTFOUND);
    assert_int_equal(from_text(sp, "[[\"tile_ic\",\"sp\",\"x\"]]", &idx), DLC_EPARSE);
    assert_int_equal(from_text(sp, "[[\"tile_ic\",\"sp\",[1.5,3]]]", &idx), DLC_EPARSE);
    assert_int_equal(from_text(sp, "[[\"tile_ic\",\"sp\"]]", &idx), DLC_EPARSE);
    assert_int_equal(from_text(sp, "{}", &idx), DLC_EPARSE);
    assert_int_equal(from_text(sp, "[[1,\"sp\",[1,3]]]", &idx), DLC_EPARSE);
    assert_int_equal(from_text(sp, "[[\"tile_ic\",\"sp\",[1,3,1]]]", &idx), DLC_ENOTFOUND);
    dlc_space_destroy(&sp);

    /* reorder and annotate values */
    sp = mixed_space();
    const char *good = "[[\"tile\",\"sp\",[6,2,1]],[\"order\",\"re\",[2,1,0]],[\"ann\",\"an\",[\"vec\",\"none\",\"none\"]],"
                       "[\"flag\",\"ot\",true],[\"step\",\"ot\",0]]";
    assert_int_equal(from_text(sp, good, &idx), 0);
    assert_int_equal(idx, 1 + 18 * (5 + 6 * 16));
    assert_int_equal(from_text(sp, "[[\"tile\",\"sp\",[6,2,1]],[\"order\",\"re\",[2,2,0]],[\"ann\",\"an\",[\"vec\",\"none\",\"none\"]],"
                                   "[\"flag\",\"ot\",true],[\"step\",\"ot\",0]]", &idx), DLC_ENOTFOUND);
    assert_int_equal(from_text(sp, "[[\"tile\",\"sp\",[6,2,1]],[\"order\",\"re\",[2,1,0]],[\"ann\",\"an\",[\"vec\",\"vec\",\"none\"]],"
                                   "[\"flag\",\"ot\",true],[\"step\",\"ot\",0]]", &idx), DLC_ENOTFOUND);
    assert_int_equal(from_text(sp, "[[\"tile\",\"sp\",[6,2,1]],[\"order\",\"re\",[2,1,0]],[\"ann\",\"an\",[\"vec\",\"bogus\",\"none\"]],"
                                   "[\"flag\",\"ot\",true],[\"step\",\"ot\",0]]", &idx), DLC_ENOTFOUND);
    dlc_space_destroy(&sp);
}

/* ---- sampling and neighbours ---- */

static void check_sampler_covers(const dlc_space_t *sp, uint64_t seed) {
    int64_t n = dlc_space_size(sp);
    char *seen = calloc(n, 1);
    dlc_space_sampler_t *s = dlc_space_sampler_new(sp, seed);
    int64_t idx, in_order = 0, prev = -1;
    for (int64_t i = 0; i < n; i++) {
        assert_int_equal(dlc_space_sampler_next(s, &idx), 0);
        assert_true(idx >= 0 && idx < n);
        assert_false(seen[idx]);
        seen[idx] = 1;
        in_order += idx == prev + 1;
        prev = idx;
    }
    assert_int_equal(dlc_space_sampler_next(s, &idx), DLC_ENOTFOUND);
    assert_int_equal(dlc_space_sampler_drawn(s), n);
    if (n >= 100) assert_true(in_order < n / 10); /* shuffled, not sequential */
    dlc_space_sampler_destroy(&s);
    assert_null(s);
    free(seen);
}

static int cmp64(const void *x, const void *y) {
    int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
    return (a > b) - (a < b);
}

static void test_sampler(void **state) {
    static const int64_t sizes[] = {1, 2, 3, 5, 17, 64, 100, 1000, 4097, 65537};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        dlc_space_t *sp = dlc_space_new();
        json_t *vals = json_array();
        for (int64_t v = 0; v < sizes[i]; v++) json_array_append_new(vals, json_integer(v));
        assert_int_equal(dlc_space_define_knob(sp, "k", vals), 0);
        json_decref(vals);
        check_sampler_covers(sp, 1);
        check_sampler_covers(sp, 0xdeadbeef);
        dlc_space_destroy(&sp);
    }
    dlc_space_t *sp = mixed_space();
    check_sampler_covers(sp, 42);
    /* different seeds, different orders; the same seed, the same order */
    dlc_space_sampler_t *a = dlc_space_sampler_new(sp, 1), *b = dlc_space_sampler_new(sp, 2),
                        *c = dlc_space_sampler_new(sp, 1);
    int same_ab = 0, same_ac = 0;
    for (int i = 0; i < 100; i++) {
        int64_t x, y, z;
        dlc_space_sampler_next(a, &x);
        dlc_space_sampler_next(b, &y);
        dlc_space_sampler_next(c, &z);
        same_ab += x == y;
        same_ac += x == z;
    }
    assert_true(same_ab < 10);
    assert_int_equal(same_ac, 100);
    dlc_space_sampler_destroy(&a);
    dlc_space_sampler_destroy(&b);
    dlc_space_sampler_destroy(&c);
    dlc_space_destroy(&sp);

    /* a space far larger than memory: 2^62 configs; no repeats in 200000 draws */
    sp = dlc_space_new();
    for (int i = 0; i < 31; i++) {
        char name[16];
        snprintf(name, sizeof name, "k%d", i);
        assert_int_equal(dlc_space_define_split(sp, name, 4, DLC_SPLIT_POWER2, 2, 2, NULL, NULL), 0);
        static const int64_t two[] = {0, 1};
        snprintf(name, sizeof name, "o%d", i);
        assert_int_equal(dlc_space_define_knob_int(sp, name, two, 2), 0);
    }
    assert_int_equal(dlc_space_size(sp), INT64_C(1) << 62);
    /* one more doubling overflows int64: refused, the space unchanged */
    static const int64_t two[] = {0, 1};
    assert_int_equal(dlc_space_define_knob_int(sp, "over", two, 2), DLC_EINVAL);
    assert_int_equal(dlc_space_size(sp), INT64_C(1) << 62);
    assert_int_equal(dlc_space_knob_find(sp, "over"), -1);
    int n = 200000;
    int64_t *draws = malloc(n * sizeof *draws);
    dlc_space_sampler_t *s = dlc_space_sampler_new(sp, 7);
    for (int i = 0; i < n; i++) {
        assert_int_equal(dlc_space_sampler_next(s, &draws[i]), 0);
        assert_true(draws[i] >= 0 && draws[i] < dlc_space_size(sp));
    }
    qsort(draws, n, sizeof *draws, cmp64);
    for (int i = 1; i < n; i++) assert_true(draws[i] != draws[i - 1]);
    assert_true(draws[0] < (INT64_C(1) << 50) && draws[n - 1] > (INT64_C(3) << 60)); /* spread over the range */
    free(draws);
    dlc_space_sampler_destroy(&s);
    dlc_space_destroy(&sp);
}

static int knobs_differing(const dlc_space_t *sp, int64_t a, int64_t b) {
    int64_t ca[8], cb[8];
    assert_int_equal(dlc_space_point2knob(sp, a, ca), 0);
    assert_int_equal(dlc_space_point2knob(sp, b, cb), 0);
    int d = 0;
    for (int k = 0; k < dlc_space_knob_count(sp); k++) d += ca[k] != cb[k];
    return d;
}

static void test_neighbors(void **state) {
    dlc_space_t *sp = mixed_space();
    int64_t count = dlc_space_neighbor_count(sp);
    assert_int_equal(count, 17 + 5 + 19 + 1 + 2);
    uint64_t rng = 3;
    char *seen = calloc(dlc_space_size(sp), 1);
    for (int64_t i = 0; i < dlc_space_size(sp); i += 7) {
        memset(seen, 0, dlc_space_size(sp));
        for (int64_t j = 0; j < count; j++) {
            int64_t nb;
            assert_int_equal(dlc_space_neighbor(sp, i, j, &nb), 0);
            assert_true(nb >= 0 && nb < dlc_space_size(sp));
            assert_int_equal(knobs_differing(sp, i, nb), 1);
            assert_false(seen[nb]); /* all distinct */
            seen[nb] = 1;
        }
        int64_t nb;
        assert_int_equal(dlc_space_neighbor(sp, i, count, &nb), DLC_EINVAL);
        for (int r = 0; r < 4; r++) {
            assert_int_equal(dlc_space_random_neighbor(sp, i, &rng, &nb), 0);
            assert_int_equal(knobs_differing(sp, i, nb), 1);
        }
    }
    free(seen);
    dlc_space_destroy(&sp);
    /* a space with one config has no neighbour */
    sp = dlc_space_new();
    assert_int_equal(dlc_space_size(sp), 1);
    int64_t nb;
    assert_int_equal(dlc_space_neighbor_count(sp), 0);
    assert_int_equal(dlc_space_random_neighbor(sp, 0, &rng, &nb), DLC_ENOTFOUND);
    dlc_space_destroy(&sp);
}

/* ---- hostile inputs: refused with a code, never a crash ---- */

static json_t *random_json(uint64_t *rng, int depth) {
    switch (dlc_space_rand64(rng) % (depth > 2 ? 5 : 7)) {
    case 0: return json_integer((json_int_t)(dlc_space_rand64(rng) % 40) - 4);
    case 1: {
        const char *name = dlc_knob_ann_name((int)(dlc_space_rand64(rng) % 12)); /* NULL for 11 */
        return json_string(name ? name : "x");
    }
    case 2: return json_boolean(dlc_space_rand64(rng) & 1);
    case 3: return json_null();
    case 4: return json_real(0.5);
    default: {
        json_t *a = json_array();
        int n = (int)(dlc_space_rand64(rng) % 5);
        for (int i = 0; i < n; i++) json_array_append_new(a, random_json(rng, depth + 1));
        return a;
    }
    }
}

static void test_hostile_inputs(void **state) {
    dlc_space_t *sp = dlc_space_new();
    assert_int_equal(dlc_space_define_split(sp, "a", 0, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL), DLC_EINVAL);
    assert_int_equal(dlc_space_define_split(sp, "a", -5, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL), DLC_EINVAL);
    assert_int_equal(dlc_space_define_split(sp, "a", (INT64_C(1) << 40) + 1, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL),
                     DLC_EINVAL);
    assert_int_equal(dlc_space_define_split(sp, "a", 8, DLC_SPLIT_FACTORS, 1, 0, NULL, NULL), DLC_EINVAL);
    assert_int_equal(dlc_space_define_split(sp, "a", 8, DLC_SPLIT_CANDIDATE, 2, 0, NULL, NULL), DLC_EINVAL);
    assert_int_equal(dlc_space_define_split(sp, "a", 8, (dlc_split_policy_t)99, 2, 0, NULL, NULL), DLC_EINVAL);
    assert_int_equal(dlc_space_define_split(sp, "", 8, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL), DLC_EINVAL);
    assert_int_equal(dlc_space_define_split(sp, NULL, 8, DLC_SPLIT_FACTORS, 2, 0, NULL, NULL), DLC_EINVAL);
    assert_int_equal(dlc_space_define_reorder_interval(sp, "r", 4, 3, 2), DLC_EINVAL);
    assert_int_equal(dlc_space_define_annotate(sp, "n", 0, "unroll", 0), DLC_EINVAL);
    assert_int_equal(dlc_space_define_annotate(sp, "n", 3, "locate_cache", 4), DLC_EINVAL);
    json_t *notarr = json_object();
    assert_int_equal(dlc_space_define_knob(sp, "k", notarr), DLC_EINVAL);
    json_decref(notarr);
    /* a large 4-way split still enumerates quickly: 720720 has 240 divisors */
    assert_int_equal(dlc_space_define_split(sp, "big", 720720, DLC_SPLIT_FACTORS, 4, 0, NULL, NULL), 0);
    assert_int_equal(dlc_space_knob_count(sp), 1);
    dlc_space_destroy(&sp);

    /* random entity JSON against a space with every kind */
    sp = mixed_space();
    uint64_t rng = 77;
    int accepted = 0;
    for (int t = 0; t < 20000; t++) {
        dlc_config_t *c = NULL;
        json_t *e = dlc_space_get(sp, (int64_t)(dlc_space_rand64(&rng) % 12960), &c) == 0
                        ? dlc_config_to_entity_json(c) : NULL;
        dlc_config_destroy(&c);
        /* replace one item's value (or the whole item) by random JSON */
        size_t i = dlc_space_rand64(&rng) % json_array_size(e);
        if (dlc_space_rand64(&rng) & 1) json_array_set_new(json_array_get(e, i), 2, random_json(&rng, 0));
        else json_array_set_new(e, i, random_json(&rng, 0));
        int rc = dlc_config_from_entity_json(sp, e, &c);
        assert_true(rc == 0 || rc == DLC_EPARSE || rc == DLC_ENOTFOUND);
        if (!rc) {
            accepted++;
            assert_true(dlc_config_index(c) >= 0 && dlc_config_index(c) < 12960);
        }
        dlc_config_destroy(&c);
        json_decref(e);
    }
    assert_true(accepted > 0 && accepted < 20000);
    dlc_space_destroy(&sp);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_factors),
        cmocka_unit_test(test_split_power2_verbose),
        cmocka_unit_test(test_verbose_matches_cpython),
        cmocka_unit_test(test_reorder),
        cmocka_unit_test(test_annotate),
        cmocka_unit_test(test_knobs_and_names),
        cmocka_unit_test(test_index_order),
        cmocka_unit_test(test_round_trip_every_index),
        cmocka_unit_test(test_entity_parse),
        cmocka_unit_test(test_sampler),
        cmocka_unit_test(test_neighbors),
        cmocka_unit_test(test_hostile_inputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
