/* time.c — monotonic wall clock in seconds. */
#include "support/dlc_support.h"

#include <time.h>

double dlc_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
