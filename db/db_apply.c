/* db_apply.c — compile-time use of the database: the tuned config of a task
 * from the user's db, else from TopHub (the fallback), else one actionable
 * warning per task and the caller's default config. */
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

/* The task's config from db's best record: 0 (b filled), DLC_ENOTFOUND (b
 * cleared; `why` says so when a record was found but is not in dlc's space),
 * or an error. */
static int from_db(dlc_db_t *db, const dlc_task_t *task, dlc_config_t **cfg, dlc_db_best_t *b, char *why,
                   size_t cap) {
    const char *name = dlc_task_template(task)->name, *target = dlc_task_target(task)->str;
    int rc = dlc_db_best(db, target, name, dlc_task_args(task), b);
    if (rc < 0)
        return rc;
    if (dlc_config_from_entity_json(dlc_task_space(task), b->rec.entity, cfg) == 0) {
        if (b->match != DLC_DB_MATCH_EXACT)
            DLC_INFO("%s: using the %s record of target '%s' (matched by %s%s%s)", name, b->origin, b->rec.target,
                     dlc_db_match_name(b->match), b->matched_key[0] ? " " : "", b->matched_key);
        return 0;
    }
    snprintf(why, cap, "its best record (config %lld) is not in dlc's space: %s", (long long)b->rec.index,
             dlc_last_error());
    dlc_db_best_clear(b);
    return DLC_ENOTFOUND;
}

int dlc_db_best_beats(const dlc_db_best_t *a, const dlc_db_best_t *b) {
    if (a->match != b->match) return a->match < b->match;
    return a->mean_cost < b->mean_cost;
}

/* The best usable record of any of the tasks in one database: 0 (*chosen,
 * *cfg, *b set), DLC_ENOTFOUND (why says so for tasks[0]), or an error. */
static int best_of(dlc_db_t *db, dlc_task_t *const *tasks, int n, int *chosen, dlc_config_t **cfg, dlc_db_best_t *b,
                   char *why, size_t cap) {
    int have = 0;
    for (int i = 0; i < n; i++) {
        dlc_db_best_t cand;
        dlc_config_t *c = NULL;
        char tmp[512] = "";
        int rc = from_db(db, tasks[i], &c, &cand, tmp, sizeof tmp);
        if (rc == DLC_ENOTFOUND) {
            if (i == 0) snprintf(why, cap, "%s", tmp);
            continue;
        }
        if (rc < 0) {
            if (have) dlc_db_best_clear(b), dlc_config_destroy(cfg);
            return rc;
        }
        if (!have || dlc_db_best_beats(&cand, b)) {
            if (have) dlc_db_best_clear(b), dlc_config_destroy(cfg);
            *b = cand, *cfg = c, *chosen = i, have = 1;
        } else {
            dlc_db_best_clear(&cand);
            dlc_config_destroy(&c);
        }
    }
    return have ? 0 : DLC_ENOTFOUND;
}

int dlc_db_apply_best(dlc_db_t *db, const dlc_task_t *task, dlc_config_t **cfg, dlc_db_best_t *best) {
    int chosen;
    return dlc_db_apply_best_of(db, (dlc_task_t *const *)&task, 1, &chosen, cfg, best);
}

int dlc_db_apply_best_of(dlc_db_t *db, dlc_task_t *const *tasks, int n, int *chosen, dlc_config_t **cfg,
                         dlc_db_best_t *best) {
    *cfg = NULL;
    *chosen = 0;
    const dlc_task_t *task = tasks[0];
    const char *name = dlc_task_template(task)->name, *target = dlc_task_target(task)->str;
    dlc_db_best_t local, *b = best ? best : &local;
    memset(b, 0, sizeof *b);
    char why[512] = "", th_why[512] = "";
    int rc = best_of(db, tasks, n, chosen, cfg, b, why, sizeof why);
    if (rc == DLC_ENOTFOUND) {
        dlc_db_t *th = dlc__db_tophub(db, th_why, sizeof th_why);
        if (th) {
            char tmp[400] = "";
            rc = best_of(th, tasks, n, chosen, cfg, b, tmp, sizeof tmp);
            if (rc < 0 && rc != DLC_ENOTFOUND) { /* TopHub's trouble never fails a build */
                snprintf(th_why, sizeof th_why, "TopHub failed: %s", dlc_last_error());
                rc = DLC_ENOTFOUND;
            } else if (rc == DLC_ENOTFOUND) {
                snprintf(th_why, sizeof th_why, "nor in TopHub (%s)%s%s", db->tophub_dir, tmp[0] ? ": " : "", tmp);
            }
        }
    }
    if (rc == 0 && !best)
        dlc_db_best_clear(b);
    if (rc != DLC_ENOTFOUND)
        return rc;
    char *cargs = dlc__db_canonical_json(dlc_task_args(task)), hash[65];
    dlc__db_workload_hash(name, cargs ? cargs : "", hash);
    const char *where = db->url ? db->url : db->path; /* a URL handle: the server, not its cache */
    if (!warned_before(db, hash))
        DLC_WARN("no tuned config for %s %s on '%s' in %s%s%s%s%s; using the template's default config (slower). "
                 "Tune this task, or import TVM logs with: dlc-db import --db %s%s LOG",
                 name, cargs ? cargs : "", target, where, why[0] ? ": " : "", why, th_why[0] ? ", " : "", th_why,
                 where, db->url ? " --token-file F" : "");
    free(cargs);
    return dlc_error(DLC_ENOTFOUND, "no tuned config for %s on '%s'%s%s%s%s", name, target, why[0] ? ": " : "", why,
                     th_why[0] ? ", " : "", th_why);
}
