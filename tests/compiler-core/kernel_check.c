/* kernel_check.c — see kernel_check.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "kernel_check.h"

static int counter;

kcheck_t kcheck_run(dlc_schedule_t *s, int n_args, dlc_tensor_t *const *args, int n_outputs, const char *target) {
    kcheck_t r;
    memset(&r, 0, sizeof r);
    dlc_ctx_t *ctx = dlc_sched_ctx(s);
    dlc_target_t tgt;
    char name[64], ref[64];
    snprintf(name, sizeof name, "k%d", counter);
    snprintf(ref, sizeof ref, "k%d_ref", counter++);
    dlc_lowered_func_t *f = NULL, *fr = NULL;
    dlc_strbuf_t c;
    dlc_strbuf_init(&c);
    if ((r.status = dlc_target_parse(target ? target : "llvm", &tgt)) < 0) goto done;
    if ((r.status = dlc_lower(s, name, n_args, args, n_outputs, &f)) < 0) goto done;
    if ((r.status = dlc_lower_reference(ctx, ref, n_args, args, n_outputs, &fr)) < 0) goto done;
    f->ref_name = ref;
    if ((r.status = dlc_codegen_c((dlc_lowered_func_t *[]){f, fr}, 2, &tgt, &c)) < 0) goto done;
    dlc_build_result_t br;
    if ((r.status = dlc_build_so(c.data, c.len, &tgt, &br)) < 0) goto done;
    dlc_measure_opts_t mo = DLC_MEASURE_OPTS_DEFAULT;
    mo.repeat = 1;
    mo.timeout_s = 120;
    dlc_measure_result_t mr;
    if ((r.status = dlc_measure(&tgt, br.so_path, name, &mo, &mr)) < 0) goto done;
    r.status = mr.status;
    r.verified = mr.verified;
    r.max_abs_err = mr.max_abs_err;
    snprintf(r.msg, sizeof r.msg, "%s (kernel %s in %s)", mr.message, name, br.so_path);
    if (!mr.verified && !r.status) r.status = DLC_EWRONG;
    if (r.status) goto done;
    dlc_strbuf_free(&c);
    return r;
done:
    if (!r.msg[0]) snprintf(r.msg, sizeof r.msg, "%s", dlc_last_error());
    if (getenv("DLC_TEST_VERBOSE") && f) {
        dlc_strbuf_t ir;
        dlc_strbuf_init(&ir);
        dlc_func_print(f, &ir);
        fprintf(stderr, "%s\n%s\n", ir.data, c.data ? c.data : "");
        dlc_strbuf_free(&ir);
    }
    dlc_strbuf_free(&c);
    return r;
}

void kcheck_assert(dlc_schedule_t *s, int n_args, dlc_tensor_t *const *args, int n_outputs, const char *target,
                   const char *what) {
    kcheck_t r = kcheck_run(s, n_args, args, n_outputs, target);
    if (r.status || !r.verified) {
        fprintf(stderr, "FAILED %s: status %d (%s), max_abs_err %g: %s\n", what, r.status, dlc_status_name(r.status),
                r.max_abs_err, r.msg);
        fail();
    }
}
