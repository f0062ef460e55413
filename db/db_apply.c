/* db_apply.c — compile-time use of the database: the tuned config of a task,
 * or one actionable warning per task and the caller's default config. */
#include <stdlib.h>
#include <string.h>

#include "db/db_impl.h"
#include "schedule-templates/dlc_templates.h"

/* Whether this task was warned about on this handle; marks it if not. */
static int warned_before(dlc_db_t *db, const char *hash) {
    for (int i = 0; i < db->n_warned; i++)
        if (strcmp(db->warned[i], hash) == 0)
            return 1;
    if (db->n_warned == db->cap_warned) {
        int cap = db->cap_warned ? 2 * db->cap_warned : 16;
        char(*v)[65] = realloc(db->warned, (size_t)cap * sizeof *v);
        if (!v)
            return 0; /* warn again rather than fail */
        db->warned = v;
        db->cap_warned = cap;
    }
    memcpy(db->warned[db->n_warned++], hash, 65);
    return 0;
}

int dlc_db_apply_best(dlc_db_t *db, const dlc_task_t *task, dlc_config_t **cfg, dlc_db_best_t *best) {
    *cfg = NULL;
    const char *name = dlc_task_template(task)->name, *target = dlc_task_target(task)->str;
    const json_t *args = dlc_task_args(task);
    dlc_db_best_t local, *b = best ? best : &local;
    int rc = dlc_db_best(db, target, name, args, b);
    char why[512] = "";
    if (rc == 0) {
        if (dlc_config_from_entity_json(dlc_task_space(task), b->rec.entity, cfg) == 0) {
            if (b->match != DLC_DB_MATCH_EXACT)
                DLC_INFO("%s: using the record of target '%s' (matched by %s%s%s)", name, b->rec.target,
                         dlc_db_match_name(b->match), b->matched_key[0] ? " " : "", b->matched_key);
            if (!best)
                dlc_db_best_clear(b);
            return 0;
        }
        snprintf(why, sizeof why, "its best record (config %lld) is not in dlc's space: %s", (long long)b->rec.index,
                 dlc_last_error());
        dlc_db_best_clear(b);
    } else if (rc != DLC_ENOTFOUND) {
        return rc;
    }
    char *cargs = dlc__db_canonical_json(args), hash[65];
    dlc__db_workload_hash(name, cargs ? cargs : "", hash);
    const char *where = db->url ? db->url : db->path; /* a URL handle: the server, not its cache */
    if (!warned_before(db, hash))
        DLC_WARN("no tuned config for %s %s on '%s' in %s%s%s; using the template's default config (slower). "
                 "Tune this task, or import TVM logs with: dlc-db import --db %s%s LOG",
                 name, cargs ? cargs : "", target, where, why[0] ? ": " : "", why, where,
                 db->url ? " --token-file F" : "");
    free(cargs);
    return dlc_error(DLC_ENOTFOUND, "no tuned config for %s on '%s'%s%s", name, target, why[0] ? ": " : "", why);
}
