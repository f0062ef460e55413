/* file.c — whole-file read, atomic write, mkdir -p and the cache directory. */
#include "support/dlc_support.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* Returns DLC_ENOTFOUND for a missing file (so callers can tell a cache miss
 * from a real error), DLC_EIO otherwise. */
int dlc_file_read(const char *path, char **data, size_t *len) {
    int rc = 0, fd = -1;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    if (data)
        *data = NULL;
    if (len)
        *len = 0;
    if (path == NULL || data == NULL)
        return dlc_error(DLC_EINVAL, "dlc_file_read: NULL argument");

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = dlc_error(errno == ENOENT ? DLC_ENOTFOUND : DLC_EIO, "cannot open %s: %s", path, strerror(errno));
        goto cleanup;
    }
    struct stat st;
    if (fstat(fd, &st) < 0) {
        rc = dlc_error(DLC_EIO, "cannot stat %s: %s", path, strerror(errno));
        goto cleanup;
    }
    if (S_ISDIR(st.st_mode)) {
        rc = dlc_error(DLC_EIO, "cannot read %s: is a directory", path);
        goto cleanup;
    }
    /* st_size is a hint only (0 for /proc files, pipes): read until EOF. */
    cap = (S_ISREG(st.st_mode) && st.st_size > 0) ? (size_t)st.st_size + 1 : 4096;
    buf = malloc(cap);
    if (buf == NULL) {
        rc = dlc_error(DLC_ENOMEM, "cannot allocate %zu bytes to read %s", cap, path);
        goto cleanup;
    }
    for (;;) {
        if (n + 1 >= cap) {
            size_t ncap = cap * 2;
            char *nb = realloc(buf, ncap);
            if (nb == NULL) {
                rc = dlc_error(DLC_ENOMEM, "cannot allocate %zu bytes to read %s", ncap, path);
                goto cleanup;
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + n, cap - n - 1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = dlc_error(DLC_EIO, "cannot read %s: %s", path, strerror(errno));
            goto cleanup;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *data = buf;
    buf = NULL;
    if (len)
        *len = n;

cleanup:
    free(buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

int dlc_file_write(const char *path, const void *data, size_t len) {
    static atomic_uint counter;
    int rc = 0, fd = -1;
    char tmp[PATH_MAX];
    if (path == NULL || (data == NULL && len > 0))
        return dlc_error(DLC_EINVAL, "dlc_file_write: NULL argument");
    /* path.tmp.<pid>.<n>: the counter keeps concurrent writers in one
     * process (threads) apart. */
    int m = snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), atomic_fetch_add(&counter, 1));
    if (m < 0 || (size_t)m >= sizeof tmp)
        return dlc_error(DLC_EINVAL, "path too long: %s", path);

    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        rc = dlc_error(errno == ENOENT ? DLC_ENOTFOUND : DLC_EIO, "cannot create %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = dlc_error(DLC_EIO, "cannot write %s: %s", tmp, strerror(errno));
            goto cleanup;
        }
        p += w;
        left -= (size_t)w;
    }
    if (close(fd) < 0) {
        fd = -1;
        rc = dlc_error(DLC_EIO, "cannot write %s: %s", tmp, strerror(errno));
        goto cleanup;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        rc = dlc_error(DLC_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
        goto cleanup;
    }

cleanup:
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(tmp);
    return rc;
}

int dlc_mkdirs(const char *path) {
    char buf[PATH_MAX];
    if (path == NULL || path[0] == '\0')
        return dlc_error(DLC_EINVAL, "dlc_mkdirs: empty path");
    size_t n = strlen(path);
    if (n >= sizeof buf)
        return dlc_error(DLC_EINVAL, "path too long: %s", path);
    memcpy(buf, path, n + 1);

    /* Create each prefix ending just before a '/', then the whole path. */
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        if (buf[i - 1] == '/') /* "a//b" or trailing '/' */
            continue;
        char saved = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) < 0) {
            int err = errno;
            struct stat st; /* an existing directory is fine, whatever errno says */
            if (stat(buf, &st) < 0 || !S_ISDIR(st.st_mode)) {
                if (err == EEXIST)
                    return dlc_error(DLC_EIO, "cannot create directory %s: exists and is not a directory", buf);
                return dlc_error(DLC_EIO, "cannot create directory %s: %s", buf, strerror(err));
            }
        }
        buf[i] = saved;
    }
    return 0;
}

/* Recomputed on each call (so a DLC_CACHE_DIR set at startup, after an
 * earlier call, is honoured); the buffer is per thread and stays valid until
 * this thread calls dlc_cache_dir() again. */
const char *dlc_cache_dir(void) {
    static _Thread_local char dir[PATH_MAX];
    const char *env = getenv("DLC_CACHE_DIR");
    if (env && *env) {
        snprintf(dir, sizeof dir, "%s", env);
        return dir;
    }
    env = getenv("XDG_CACHE_HOME");
    if (env && env[0] == '/') { /* the XDG spec ignores relative paths */
        snprintf(dir, sizeof dir, "%s/dlc", env);
        return dir;
    }
    env = getenv("HOME");
    if (env && *env) {
        snprintf(dir, sizeof dir, "%s/.cache/dlc", env);
        return dir;
    }
    snprintf(dir, sizeof dir, "/tmp/dlc-cache-%ld", (long)getuid());
    return dir;
}
