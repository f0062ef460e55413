/* log.c — leveled logging to stderr, level from DLC_LOG_LEVEL by default. */
#include "support/dlc_support.h"
#include "support/support_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const level_names[DLC_LOG_LEVEL_COUNT] = {"debug", "info", "warn", "error", "off"};

static atomic_int g_level = -1; /* -1: not yet read from the environment */
static pthread_once_t g_level_once = PTHREAD_ONCE_INIT;

static void level_init(void) {
    const char *env = getenv("DLC_LOG_LEVEL");
    int level = (env && *env) ? dlc_log_level_parse(env) : -1;
    int bad_env = env && *env && level < 0;
    if (level < 0)
        level = DLC_LOG_WARN;
    int expected = -1; /* an explicit dlc_log_set_level() wins */
    atomic_compare_exchange_strong(&g_level, &expected, level);
    if (bad_env)
        fprintf(stderr, "dlc: warn: ignoring unknown DLC_LOG_LEVEL '%s' (debug|info|warn|error|off)\n", env);
}

int dlc_log_level_parse(const char *name) {
    if (name == NULL)
        return -1;
    for (int i = 0; i < DLC_LOG_LEVEL_COUNT; i++)
        if (strcasecmp(name, level_names[i]) == 0)
            return i;
    if (strcasecmp(name, "warning") == 0)
        return DLC_LOG_WARN;
    return -1;
}

void dlc_log_set_level(dlc_log_level_t level) {
    if ((int)level < 0 || level >= DLC_LOG_LEVEL_COUNT)
        level = DLC_LOG_OFF;
    atomic_store(&g_level, (int)level);
}

dlc_log_level_t dlc_log_get_level(void) {
    int level = atomic_load(&g_level);
    if (level < 0) {
        pthread_once(&g_level_once, level_init);
        level = atomic_load(&g_level);
    }
    return (dlc_log_level_t)level;
}

void dlc_log(dlc_log_level_t level, const char *fmt, ...) {
    if ((int)level < 0 || level >= DLC_LOG_OFF || level < dlc_log_get_level())
        return;
    dlc_strbuf_t sb;
    dlc_strbuf_init(&sb);
    dlc_strbuf_printf(&sb, "dlc: %s: ", level_names[level]);
    va_list ap;
    va_start(ap, fmt);
    dlc_strbuf_vprintf(&sb, fmt, ap);
    va_end(ap);
    if (sb.len == 0 || sb.data[sb.len - 1] != '\n')
        dlc_strbuf_append(&sb, "\n");
    flockfile(stderr); /* one whole line per call, even across threads */
    dlc__progress_clear_line();
    fputs(sb.data, stderr);
    fflush(stderr);
    funlockfile(stderr);
    dlc_strbuf_free(&sb);
}
