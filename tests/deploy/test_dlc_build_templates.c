/* test_dlc_build_templates.c — dlc-build --list-templates and builds with a
 * template and one config (--template, --config), checked against the
 * template registry of the library. Written against the registry API: new
 * templates are picked up, none is named unless the test needs one. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "schedule-templates/dlc_space.h"
#include "schedule-templates/dlc_templates.h"

#include "cli_run.h"

#define CONV "conv2d:1,8,10,10,16,3,3,1,1"
#define DENSE "dense:24,20,12"

static dlc_target_t target(const char *s) {
    dlc_target_t t;
    assert_int_equal(dlc_target_parse(s, &t), 0);
    return t;
}

static const json_t *find_template(const json_t *list, const char *name) {
    size_t i;
    const json_t *t;
    json_array_foreach(list, i, t) {
        if (strcmp(json_string_value(json_object_get(t, "name")), name) == 0)
            return t;
    }
    return NULL;
}

/* Every registered template is listed with its key and op, in human and JSON
 * output; --target keeps those serving it. */
static void test_list_templates(void **state) {
    (void)state;
    const dlc_template_t *const *all = dlc_template_list();
    run_t r = dlc_build("--list-templates", NULL);
    expect_exit(&r, 0, "--list-templates");
    for (int i = 0; all[i]; i++)
        expect_contains(r.out, all[i]->name, "--list-templates");
    run_free(&r);

    r = dlc_build("--list-templates", "--json", NULL);
    expect_exit(&r, 0, "--list-templates --json");
    json_t *j = parse_report(&r, "--list-templates --json");
    json_t *list = json_object_get(j, "templates");
    int n = 0;
    for (; all[n]; n++) {
        const json_t *t = find_template(list, all[n]->name);
        assert_non_null(t);
        assert_string_equal(json_string_value(json_object_get(t, "key")), all[n]->key);
        assert_string_equal(json_string_value(json_object_get(t, "op")), dlc_op_name(all[n]->op));
    }
    assert_int_equal(json_array_size(list), n);
    json_decref(j);
    run_free(&r);

    static const char *const targets[] = {"llvm", "llvm -device=arm_cpu -mtriple=aarch64-linux-gnu"};
    for (int k = 0; k < 2; k++) {
        dlc_target_t tgt = target(targets[k]);
        r = dlc_build("--list-templates", "--target", targets[k], "--json", NULL);
        expect_exit(&r, 0, targets[k]);
        j = parse_report(&r, targets[k]);
        list = json_object_get(j, "templates");
        int want = 0;
        for (int i = 0; all[i]; i++)
            if (dlc_template_matches(all[i], &tgt)) {
                want++;
                assert_non_null(find_template(list, all[i]->name));
            }
        assert_int_equal(json_array_size(list), want);
        json_decref(j);
        run_free(&r);
    }
}

/* With --op: the candidates in the library's order, each with its space size
 * and knobs as a task built here has them. */
static void check_candidates(const char *spec_text, const char *target_text) {
    dlc_op_spec_t spec;
    assert_int_equal(dlc_op_parse(spec_text, &spec), 0);
    dlc_target_t tgt = target(target_text);
    const dlc_template_t *cand[64];
    int n = dlc_template_candidates(spec.kind, &tgt, cand, 64);
    run_t r = dlc_build("--list-templates", "--op", spec_text, "--target", target_text, "--json", NULL);
    expect_exit(&r, 0, spec_text);
    json_t *j = parse_report(&r, spec_text);
    json_t *list = json_object_get(j, "templates");
    assert_int_equal(json_array_size(list), n);
    for (int i = 0; i < n; i++) {
        const json_t *t = json_array_get(list, i);
        assert_string_equal(json_string_value(json_object_get(t, "name")), cand[i]->name);
        dlc_task_t *task;
        if (dlc_task_from_spec(&spec, cand[i]->name, &tgt, &task) < 0) {
            assert_non_null(json_object_get(t, "error"));
            continue;
        }
        const dlc_space_t *sp = dlc_task_space(task);
        assert_int_equal(json_integer_value(json_object_get(t, "space_size")), dlc_space_size(sp));
        const json_t *knobs = json_object_get(t, "knobs");
        assert_int_equal(json_array_size(knobs), dlc_space_knob_count(sp));
        for (int k = 0; k < dlc_space_knob_count(sp); k++) {
            const json_t *kn = json_array_get(knobs, k);
            assert_string_equal(json_string_value(json_object_get(kn, "name")), dlc_space_knob_name(sp, k));
            assert_int_equal(json_integer_value(json_object_get(kn, "dim")), dlc_space_knob_dim(sp, k));
        }
        dlc_task_destroy(&task);
    }
    json_decref(j);
    run_free(&r);

    r = dlc_build("--list-templates", "--op", spec_text, "--target", target_text, NULL);
    expect_exit(&r, 0, spec_text);
    for (int i = 0; i < n; i++)
        expect_contains(r.out, cand[i]->name, spec_text);
    run_free(&r);
}

static void test_list_candidates(void **state) {
    (void)state;
    static const char *const specs[] = {CONV, DENSE, "batch_matmul:2,12,10,8", "depthwise_conv2d:1,8,10,10,3,3,1,1",
                                        "conv2d_transpose:1,8,6,6,4,3,3,2,1", "pool2d:1,4,9,9,3,3,2,1,max"};
    for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
        check_candidates(specs[i], "llvm");
        check_candidates(specs[i], "llvm -device=arm_cpu -mtriple=aarch64-linux-gnu");
    }
    /* TopHub's conv2d_NCHWc space for ResNet's 64x56x56 3x3 layer has 784 configs */
    if (dlc_template_find("conv2d_NCHWc.x86")) {
        run_t r = dlc_build("--list-templates", "--op", "conv2d:1,64,56,56,64,3,3,1,1", NULL);
        expect_exit(&r, 0, "conv2d 64x56x56");
        expect_contains(r.out, "784", "conv2d 64x56x56");
        expect_contains(r.out, "tile_ow 8", "conv2d 64x56x56");
        run_free(&r);
    }
}

/* --template NAME --config CFG --run --json: verified, with the template and
 * the config (index and entity) in the report. */
static json_t *run_config(const char *spec, const char *tmpl, const char *cfg) {
    const char *args[16] = {"--op", spec, "--template", tmpl, "--run", "--json", "--repeat", "1"};
    int n = 8;
    if (cfg) {
        args[n++] = "--config";
        args[n++] = cfg;
    }
    args[n] = NULL;
    run_t r = dlc_build_argv(args);
    expect_exit(&r, 0, cfg ? cfg : tmpl);
    json_t *j = parse_report(&r, tmpl);
    assert_true(json_is_true(json_object_get(j, "verified")));
    assert_string_equal(json_string_value(json_object_get(j, "template")), tmpl);
    assert_non_null(json_object_get(json_object_get(j, "config"), "entity"));
    run_free(&r);
    return j;
}

/* The first candidate of an op on the host, or NULL. */
static const dlc_template_t *first_candidate(const char *spec_text) {
    dlc_op_spec_t spec;
    assert_int_equal(dlc_op_parse(spec_text, &spec), 0);
    dlc_target_t tgt = target("llvm");
    const dlc_template_t *t = NULL;
    return dlc_template_candidates(spec.kind, &tgt, &t, 1) == 1 ? t : NULL;
}

static void test_config_index_and_entity(void **state) {
    (void)state;
    static const char *const specs[] = {DENSE, CONV};
    for (int s = 0; s < 2; s++) {
        const dlc_template_t *tp = first_candidate(specs[s]);
        if (!tp)
            continue;
        dlc_op_spec_t spec;
        assert_int_equal(dlc_op_parse(specs[s], &spec), 0);
        dlc_target_t tgt = target("llvm");
        dlc_task_t *task;
        assert_int_equal(dlc_task_from_spec(&spec, tp->name, &tgt, &task), 0);
        int64_t size = dlc_space_size(dlc_task_space(task)), idx = size / 3;
        /* by index */
        char ibuf[32];
        snprintf(ibuf, sizeof ibuf, "%lld", (long long)idx);
        json_t *j = run_config(specs[s], tp->name, ibuf);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "config"), "index")), idx);
        assert_int_equal(json_integer_value(json_object_get(j, "space_size")), size);
        json_decref(j);
        /* by entity (TVM's form: the split's first size written out, as old logs do) */
        dlc_config_t *cfg;
        assert_int_equal(dlc_space_get(dlc_task_space(task), size - 1, &cfg), 0);
        json_t *e = dlc_config_to_entity_json(cfg);
        char *etext = dlc_json_dumps(e);
        j = run_config(specs[s], tp->name, etext);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "config"), "index")), size - 1);
        assert_true(json_equal(json_object_get(json_object_get(j, "config"), "entity"), e));
        json_decref(j);
        /* a config object whose index is not the entity's: the entity decides, the difference is reported */
        char obuf[4096];
        snprintf(obuf, sizeof obuf, "{\"index\": %lld, \"code_hash\": null, \"entity\": %s}", (long long)idx, etext);
        j = run_config(specs[s], tp->name, obuf);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "config"), "index")), size - 1);
        assert_int_equal(json_integer_value(json_object_get(j, "config_index_given")), idx);
        json_decref(j);
        /* no --config: index 0 */
        j = run_config(specs[s], tp->name, NULL);
        assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "config"), "index")), 0);
        json_decref(j);
        free(etext);
        json_decref(e);
        dlc_config_destroy(&cfg);
        dlc_task_destroy(&task);
    }
}

/* Human output names the template and the config. */
static void test_config_human(void **state) {
    (void)state;
    const dlc_template_t *tp = first_candidate(DENSE);
    if (!tp)
        skip();
    run_t r = dlc_build("--op", DENSE, "--template", tp->name, "--config", "1", "--run", "--repeat", "1", NULL);
    expect_exit(&r, 0, "human");
    expect_contains(r.out, tp->name, "human");
    expect_contains(r.out, "config 1 of ", "human");
    expect_contains(r.out, "verified", "human");
    run_free(&r);
}

/* A config outside the space, or not a config at all, is a usage error that
 * names the problem (the knob for an entity). */
static void test_bad_config(void **state) {
    (void)state;
    const dlc_template_t *tp = first_candidate(DENSE);
    if (!tp)
        skip();
    dlc_op_spec_t spec;
    assert_int_equal(dlc_op_parse(DENSE, &spec), 0);
    dlc_target_t tgt = target("llvm");
    dlc_task_t *task;
    assert_int_equal(dlc_task_from_spec(&spec, tp->name, &tgt, &task), 0);
    const dlc_space_t *sp = dlc_task_space(task);
    /* the first knob's entity of config 0, with a value no knob of these extents holds */
    dlc_config_t *cfg;
    assert_int_equal(dlc_space_get(sp, 0, &cfg), 0);
    json_t *e = dlc_config_to_entity_json(cfg);
    const char *knob = dlc_space_knob_name(sp, 0);
    json_array_set_new(json_array_get(e, 0), 2, json_string("no such value"));
    char *etext = dlc_json_dumps(e);
    run_t r = dlc_build("--op", DENSE, "--template", tp->name, "--config", etext, NULL);
    expect_exit(&r, 2, "entity not in the space");
    expect_contains(r.err, knob, "entity not in the space");
    run_free(&r);
    char big[32];
    snprintf(big, sizeof big, "%lld", (long long)dlc_space_size(sp));
    static const char *const bad[] = {"-1", "[1, 2", "{\"index\": 0}", "[[\"nope\", \"sp\", [-1, 1]]]"};
    const char *cases[] = {big, bad[0], bad[1], bad[2], bad[3]};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        r = dlc_build("--op", DENSE, "--template", tp->name, "--config", cases[i], "--json", NULL);
        expect_exit(&r, 2, cases[i]);
        expect_contains(r.err, "--config", cases[i]);
        json_t *j = parse_report(&r, cases[i]);
        assert_non_null(json_object_get(j, "error"));
        json_decref(j);
        run_free(&r);
    }
    free(etext);
    json_decref(e);
    dlc_config_destroy(&cfg);
    dlc_task_destroy(&task);

    r = dlc_build("--op", DENSE, "--template", "no_such_template.x86", NULL);
    expect_exit(&r, 2, "unknown template");
    expect_contains(r.err, "no_such_template.x86", "unknown template");
    run_free(&r);
    r = dlc_build("--op", "softmax:4,4", "--template", tp->name, NULL); /* a template of another op */
    expect_exit(&r, 2, "template of another op");
    run_free(&r);
    r = dlc_build("--op", DENSE, "--config", "0", NULL);
    expect_exit(&r, 2, "--config without --template");
    expect_contains(r.err, "--template", "--config without --template");
    run_free(&r);
    r = dlc_build("--list-templates", "--run", NULL);
    expect_exit(&r, 2, "--list-templates --run");
    run_free(&r);
}

/* A config in the space that the template rejects is the kernel failing
 * (exit 1, INSTANTIATION_ERROR), not a usage error. Looked for among the
 * registered templates; skipped while none rejects any config. */
static void test_instantiation_error(void **state) {
    (void)state;
    static const char *const specs[] = {DENSE, CONV, "batch_matmul:2,12,10,8", "depthwise_conv2d:1,8,10,10,3,3,1,1",
                                        "conv2d_transpose:1,8,6,6,4,3,3,2,1", "conv2d:1,6,9,7,10,3,3,2,1",
                                        "depthwise_conv2d:1,32,20,20,3,3,1,1"};
    static const char *const targets[] = {"llvm", "llvm -device=arm_cpu -mtriple=aarch64-linux-gnu"};
    const dlc_template_t *const *all = dlc_template_list();
    for (int ti = 0; ti < 2; ti++)
        for (size_t si = 0; si < sizeof specs / sizeof specs[0]; si++)
            for (int k = 0; all[k]; k++) {
                dlc_op_spec_t spec;
                assert_int_equal(dlc_op_parse(specs[si], &spec), 0);
                dlc_target_t tgt = target(targets[ti]);
                dlc_task_t *task;
                if (all[k]->op != spec.kind || !dlc_template_matches(all[k], &tgt) ||
                    dlc_task_from_spec(&spec, all[k]->name, &tgt, &task) < 0)
                    continue;
                int64_t size = dlc_space_size(dlc_task_space(task)), found = -1;
                int64_t step = size > 3000 ? size / 3000 : 1; /* spread over the whole space */
                for (int64_t i = 0; i < size && found < 0; i += step) {
                    dlc_config_t *cfg;
                    assert_int_equal(dlc_space_get(dlc_task_space(task), i, &cfg), 0);
                    dlc_ctx_t *ctx = dlc_ctx_new();
                    dlc_op_t op;
                    dlc_schedule_t *s;
                    if (dlc_task_instantiate(task, cfg, ctx, &op, &s) == DLC_EINSTANTIATE)
                        found = i;
                    dlc_ctx_destroy(&ctx);
                    dlc_config_destroy(&cfg);
                }
                dlc_task_destroy(&task);
                if (found < 0)
                    continue;
                char ibuf[32];
                snprintf(ibuf, sizeof ibuf, "%lld", (long long)found);
                run_t r = dlc_build("--op", specs[si], "--target", targets[ti], "--template", all[k]->name,
                                    "--config", ibuf, "--json", NULL);
                expect_exit(&r, 1, all[k]->name);
                json_t *j = parse_report(&r, all[k]->name);
                expect_contains(json_string_value(json_object_get(j, "error")), "INSTANTIATION_ERROR", all[k]->name);
                assert_int_equal(json_integer_value(json_object_get(j, "error_no")), 1);
                json_decref(j);
                run_free(&r);
                return;
            }
    skip();
}

/* A template's config built for aarch64 runs under qemu. */
static void test_config_cross(void **state) {
    (void)state;
    const char *aarch64 = "llvm -device=arm_cpu -mtriple=aarch64-linux-gnu";
    dlc_op_spec_t spec;
    assert_int_equal(dlc_op_parse(DENSE, &spec), 0);
    dlc_target_t tgt = target(aarch64);
    const dlc_template_t *tp = NULL;
    if (dlc_template_candidates(spec.kind, &tgt, &tp, 1) < 1)
        skip();
    run_t r = dlc_build("--op", DENSE, "--target", aarch64, "--template", tp->name, "--config", "2", "--run",
                        "--json", "--repeat", "1", NULL);
    expect_exit(&r, 0, "aarch64");
    json_t *j = parse_report(&r, "aarch64");
    assert_true(json_is_true(json_object_get(j, "verified")));
    json_decref(j);
    run_free(&r);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_list_templates),   cmocka_unit_test(test_list_candidates),
        cmocka_unit_test(test_config_index_and_entity), cmocka_unit_test(test_config_human),
        cmocka_unit_test(test_bad_config),       cmocka_unit_test(test_instantiation_error),
        cmocka_unit_test(test_config_cross),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
