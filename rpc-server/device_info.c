/* device_info.c — describing this machine for the tracker's hello message. */
#include "rpc-server/dlc_device.h"

#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef DLC_VERSION
#define DLC_VERSION "unknown"
#endif

/* The "model name" line of /proc/cpuinfo (x86), else "Hardware"/"uarch" lines, else "unknown". */
static void cpu_model(char *out, size_t cap) {
    snprintf(out, cap, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f == NULL)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) && strncmp(line, "Hardware", 8) && strncmp(line, "uarch", 5))
            continue;
        const char *colon = strchr(line, ':');
        if (colon == NULL)
            continue;
        colon += 1 + (colon[1] == ' ');
        snprintf(out, cap, "%.*s", (int)strcspn(colon, "\n"), colon);
        break;
    }
    fclose(f);
}

void dlc_device_info_get(dlc_device_info_t *out) {
    static char arch[64], os[256], cpu[256];
    struct utsname u;
    if (uname(&u) == 0) {
        snprintf(arch, sizeof arch, "%.60s", u.machine);
        snprintf(os, sizeof os, "%.100s %.100s", u.sysname, u.release);
    } else {
        snprintf(arch, sizeof arch, "unknown");
        snprintf(os, sizeof os, "unknown");
    }
    cpu_model(cpu, sizeof cpu);
    long cores = sysconf(_SC_NPROCESSORS_ONLN), pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    out->arch = arch;
    out->cpu = cpu;
    out->os = os;
    out->dlc_version = DLC_VERSION;
    out->cores = cores > 0 ? cores : 1;
    out->memory = pages > 0 && page > 0 ? (int64_t)pages * page : 0;
}
