/* bench_features.c — how many configs per second the cost model's feature
 * extraction handles (dlc_feature_config, itervar and knob) on dense_pack.x86
 * (dense 1024^3) and conv2d_NCHWc.x86 (ResNet-18's 64x56x56 3x3 layer), and
 * where the itervar time goes: instantiating the template, lowering, or
 * extracting features from the loop IR.
 *
 *   bench_features [N]     N random configs per task (default 1000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cost-model/dlc_costmodel.h"

typedef struct {
    const char *spec, *tmpl;
} bench_task_t;

static const bench_task_t tasks[] = {
    {"dense:1024,1024,1024", "dense_pack.x86"},
    {"conv2d:1,64,56,56,64,3,3,1,1", "conv2d_NCHWc.x86"},
};

/* Draws n configs of the task's space (caller destroys them). */
static int sample(const dlc_task_t *t, int n, dlc_config_t **cfgs) {
    dlc_space_sampler_t *s = dlc_space_sampler_new(dlc_task_space(t), 7);
    int got = 0;
    int64_t idx;
    while (got < n && dlc_space_sampler_next(s, &idx) == 0)
        if (dlc_space_get(dlc_task_space(t), idx, &cfgs[got]) == 0)
            got++;
    dlc_space_sampler_destroy(&s);
    return got;
}

/* Seconds per config of dlc_feature_config; *failed counts rejected configs. */
static double time_features(const dlc_task_t *t, dlc_config_t **cfgs, int n, dlc_feature_kind_t kind, float *buf,
                            int *failed) {
    *failed = 0;
    double t0 = dlc_now();
    for (int i = 0; i < n; i++)
        *failed += dlc_feature_config(t, cfgs[i], kind, buf) < 0;
    return (dlc_now() - t0) / n;
}

/* The itervar pipeline step by step: context + instantiate, lower, extract. */
static void time_phases(const dlc_task_t *t, dlc_config_t **cfgs, int n, float *buf, double *ph) {
    memset(ph, 0, 3 * sizeof *ph);
    for (int i = 0; i < n; i++) {
        double a = dlc_now();
        dlc_ctx_t *ctx = dlc_ctx_new();
        dlc_op_t op;
        dlc_schedule_t *s;
        dlc_lowered_func_t *f = NULL;
        int ok = dlc_task_instantiate(t, cfgs[i], ctx, &op, &s) == 0;
        double b = dlc_now();
        ok = ok && dlc_lower(s, "f", op.n_args, op.args, op.n_outputs, &f) == 0;
        double c = dlc_now();
        if (ok)
            dlc_feature_itervar(f, buf);
        double d = dlc_now();
        dlc_ctx_destroy(&ctx);
        ph[0] += b - a + (dlc_now() - d); /* the context's teardown belongs to the setup */
        ph[1] += c - b;
        ph[2] += d - c;
    }
    for (int k = 0; k < 3; k++)
        ph[k] /= n;
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 1000;
    if (n <= 0) {
        fprintf(stderr, "usage: bench_features [N]\n");
        return 2;
    }
    dlc_target_t tgt;
    if (dlc_target_parse("llvm", &tgt) < 0) {
        fprintf(stderr, "bench_features: %s\n", dlc_last_error());
        return 1;
    }
    float *buf = malloc(sizeof(float) * 65536);
    dlc_config_t **cfgs = calloc((size_t)n, sizeof *cfgs);
    printf("%-18s %-30s %6s %12s %12s   itervar per config: setup+instantiate / lower / extract\n", "template",
           "op", "n", "itervar/s", "knob/s");
    for (size_t k = 0; k < sizeof tasks / sizeof *tasks; k++) {
        dlc_op_spec_t spec;
        dlc_task_t *t = NULL;
        if (dlc_op_parse(tasks[k].spec, &spec) < 0 || dlc_task_from_spec(&spec, tasks[k].tmpl, &tgt, &t) < 0) {
            fprintf(stderr, "bench_features: %s: %s\n", tasks[k].tmpl, dlc_last_error());
            return 1;
        }
        int got = sample(t, n, cfgs), fi, fk;
        time_features(t, cfgs, got < 20 ? got : 20, DLC_FEATURE_ITERVAR, buf, &fi); /* warm caches */
        double si = time_features(t, cfgs, got, DLC_FEATURE_ITERVAR, buf, &fi);
        double sk = time_features(t, cfgs, got, DLC_FEATURE_KNOB, buf, &fk);
        double ph[3];
        time_phases(t, cfgs, got, buf, ph);
        printf("%-18s %-30s %6d %12.0f %12.0f   %.3f / %.3f / %.3f ms", tasks[k].tmpl, tasks[k].spec, got, 1 / si,
               1 / sk, ph[0] * 1e3, ph[1] * 1e3, ph[2] * 1e3);
        if (fi)
            printf("  (%d rejected)", fi);
        printf("\n");
        for (int i = 0; i < got; i++)
            dlc_config_destroy(&cfgs[i]);
        dlc_task_destroy(&t);
    }
    free(cfgs);
    free(buf);
    return 0;
}
