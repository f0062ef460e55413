/* status.c — status-code names/messages and the thread-local last error. */
#include "support/dlc_support.h"

#include <stdio.h>
#include <string.h>

#define DLC__ERRMSG_SIZE 2048

static _Thread_local char tl_msg[DLC__ERRMSG_SIZE];
static _Thread_local int tl_status;

const char *dlc_strerror(int status) {
    switch (status) {
#define DLC__STATUS_MSG(name, code, msg) \
    case code:                           \
        return msg;
        DLC_STATUS_MAP(DLC__STATUS_MSG)
#undef DLC__STATUS_MSG
    default:
        return "unknown error";
    }
}

const char *dlc_status_name(int status) {
    switch (status) {
#define DLC__STATUS_NAME(name, code, msg) \
    case code:                            \
        return #name;
        DLC_STATUS_MAP(DLC__STATUS_NAME)
#undef DLC__STATUS_NAME
    default:
        return "UNKNOWN";
    }
}

int dlc_error(int status, const char *fmt, ...) {
    /* Format into a temporary first: callers often wrap the previous message,
     * as in dlc_error(DLC_EIO, "loading %s: %s", path, dlc_last_error()). */
    char tmp[DLC__ERRMSG_SIZE];
    if (fmt == NULL) {
        snprintf(tmp, sizeof tmp, "%s", dlc_strerror(status));
    } else {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
        va_end(ap);
        if (n < 0) {
            snprintf(tmp, sizeof tmp, "%s (bad error format)", dlc_strerror(status));
        } else if ((size_t)n >= sizeof tmp) {
            memcpy(tmp + sizeof tmp - 4, "...", 4); /* mark the truncation */
        }
    }
    memcpy(tl_msg, tmp, sizeof tl_msg);
    tl_status = status;
    return status;
}

const char *dlc_last_error(void) { return tl_msg; }

int dlc_last_status(void) { return tl_status; }

void dlc_clear_error(void) {
    tl_msg[0] = '\0';
    tl_status = 0;
}

/* ---- MeasureErrorNo ---- */
static const struct {
    int code;
    const char *name, *msg;
} measure_errors[] = {
#define DLC__X(e, n, m) {n, #e, m},
    DLC_MEASURE_ERROR_MAP(DLC__X)
#undef DLC__X
};
_Static_assert(sizeof measure_errors / sizeof *measure_errors == DLC_MEASURE_ERROR_COUNT,
               "MeasureErrorNo table: codes must be 0..COUNT-1");

const char *dlc_measure_error_name(int e) {
    return e >= 0 && e < DLC_MEASURE_ERROR_COUNT ? measure_errors[e].name : "?";
}
const char *dlc_measure_error_message(int e) {
    return e >= 0 && e < DLC_MEASURE_ERROR_COUNT ? measure_errors[e].msg : "?";
}
