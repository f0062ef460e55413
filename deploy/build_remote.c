/* build_remote.c — dlc-build --run --tracker HOST:PORT --key KEY: the built
 * kernel measured by a dlc-rpc-server of that key through dlc-tracker (the
 * same job a tuner submits), its result shaped like a local measurement. */
#include <stdlib.h>
#include <string.h>

#include "build_impl.h"
#include "tracker/dlc_client.h"

int dlc__build_measure_remote(const dlc__build_opts_t *o, const dlc_target_t *tgt, const char *so_path,
                              const char *entry, dlc_measure_result_t *mr) {
    memset(mr, 0, sizeof *mr);
    char *data = NULL, manifest[640];
    size_t len = 0;
    int rc = dlc_file_read(so_path, &data, &len);
    if (rc < 0)
        return rc;
    dlc_client_t *c = dlc_client_new(o->tracker);
    if (!c) {
        free(data);
        return dlc_last_status() < 0 ? dlc_last_status() : DLC_EIO;
    }
    char *status = NULL; /* a tracker that does not answer is told in seconds, not after the job's deadline */
    if (dlc_client_status(c, 5000, &status) < 0) {
        rc = dlc_error(DLC_EIO, "tracker %s did not answer within 5 s: is dlc-tracker running there?", o->tracker);
        dlc_client_destroy(&c);
        free(data);
        return rc;
    }
    free(status);
    snprintf(manifest, sizeof manifest, "{\"entry\":\"%s\",\"target\":\"%s\"}", entry, tgt->str);
    dlc_msg_measure_t mm = dlc_msg_measure_default();
    mm.number = o->mo.number;
    mm.repeat = o->mo.repeat;
    mm.min_repeat_ms = o->mo.min_repeat_ms;
    mm.timeout_s = o->mo.timeout_s;
    dlc_client_job_t job = {.key = o->key, .artifact = data, .artifact_len = len, .manifest = manifest, .measure = mm};
    uint64_t id = 0;
    rc = dlc_client_submit(c, &job, &id);
    free(data);
    /* The tracker answers every job (requeued, then RUN_TIMEOUT/RUNTIME_DEVICE
     * after its retries); the deadline only covers a key with no server. */
    double deadline = dlc_now() + 3 * (o->mo.timeout_s + 10) + 30;
    dlc_client_result_t r;
    int got = 0;
    while (rc == 0 && !got) {
        int n = dlc_client_poll(c, 500, &r, 1);
        if (n < 0)
            rc = n;
        else if (n == 1 && r.job_id == id)
            got = 1;
        else if (dlc_now() > deadline)
            rc = dlc_error(DLC_ETIMEOUT, "no result from tracker %s for key '%s': is a dlc-rpc-server of that key "
                                         "connected? (dlc-tracker status --tracker %s)", o->tracker, o->key, o->tracker);
    }
    dlc_client_destroy(&c);
    if (rc < 0)
        return rc;
    mr->n_costs = r.n_costs < DLC_MEASURE_MAX_REPEAT ? r.n_costs : DLC_MEASURE_MAX_REPEAT;
    double sum = 0;
    for (int i = 0; i < mr->n_costs; i++)
        sum += (mr->costs[i] = r.costs[i]);
    mr->mean_s = mr->n_costs ? sum / mr->n_costs : 0;
    mr->number = o->mo.number;
    snprintf(mr->message, sizeof mr->message, "%s", r.message);
    /* The server checks against the reference inside the sandbox: no error is verified. */
    mr->checked = r.error_no == DLC_MEASURE_NO_ERROR || r.error_no == DLC_MEASURE_WRONG_ANSWER;
    mr->verified = r.error_no == DLC_MEASURE_NO_ERROR;
    mr->status = r.error_no == DLC_MEASURE_NO_ERROR     ? 0
                 : r.error_no == DLC_MEASURE_WRONG_ANSWER ? DLC_EWRONG
                 : r.error_no == DLC_MEASURE_RUN_TIMEOUT  ? DLC_ETIMEOUT
                                                          : DLC_ERUNTIME;
    if (r.error_no && !mr->message[0])
        snprintf(mr->message, sizeof mr->message, "%s on the device", dlc_measure_error_name(r.error_no));
    return 0;
}
