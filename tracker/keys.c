/* keys.c — CURVE key files: `dlc-tracker keygen`, reading public keys and
 * key pairs, and making a socket a CURVE client of the tracker.
 *
 * A key file holds one key as 40 Z85 characters on a line (blank lines and
 * lines starting with '#' are skipped). NAME.key holds the secret key and
 * must be private to its owner (mode 0600 or stricter, as ssh demands);
 * NAME.pub holds the public key, which is what the tracker's allow-list and
 * `--tracker-key` take. The public key is always derived from the secret
 * (zmq_curve_public); a NAME.pub beside NAME.key must match it. */
#include "tracker/tracker_impl.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "support/dlc_support.h"

#define MAX_KEY_FILE 4096 /* bytes */

static int ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int dlc__key_valid(const char *z85) {
    uint8_t bin[32];
    return z85 && strlen(z85) == DLC__Z85_KEY - 1 && zmq_z85_decode(bin, z85) != NULL;
}

/* The first key line of text into out; text is not NUL-terminated past len. */
static int parse_key(const char *text, size_t len, const char *path, char out[DLC__Z85_KEY]) {
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        const char *line = p, *stop = eol ? eol : end;
        p = eol ? eol + 1 : end;
        while (line < stop && (*line == ' ' || *line == '\t'))
            line++;
        while (stop > line && (stop[-1] == ' ' || stop[-1] == '\t' || stop[-1] == '\r'))
            stop--;
        if (line == stop || *line == '#')
            continue;
        if (stop - line == DLC__Z85_KEY - 1) {
            memcpy(out, line, DLC__Z85_KEY - 1);
            out[DLC__Z85_KEY - 1] = '\0';
            if (dlc__key_valid(out))
                return 0;
        }
        memset(out, 0, DLC__Z85_KEY);
        return dlc_error(DLC_EPARSE, "%s: not a CURVE key (expected 40 Z85 characters)", path);
    }
    return dlc_error(DLC_EPARSE, "%s: no key in the file", path);
}

int dlc__key_file_read(const char *path, int secret, char out[DLC__Z85_KEY]) {
    char buf[MAX_KEY_FILE];
    struct stat st;
    int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return dlc_error(DLC_EIO, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_KEY_FILE) {
        rc = dlc_error(DLC_EINVAL, "%s: not a key file (a regular file of at most %d bytes)", path, MAX_KEY_FILE);
        goto cleanup;
    }
    if (secret && (st.st_mode & 077)) {
        rc = dlc_error(DLC_EINVAL, "%s: a secret key readable or writable by others (mode %04o): chmod 600 it",
                       path, (unsigned)(st.st_mode & 07777));
        goto cleanup;
    }
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
        rc = dlc_error(DLC_EIO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    rc = parse_key(buf, (size_t)n, path, out);
cleanup:
    explicit_bzero(buf, sizeof buf);
    close(fd);
    return rc;
}

int dlc__key_public(const char *file_or_z85, char out[DLC__Z85_KEY]) {
    struct stat st;
    if (file_or_z85 == NULL || file_or_z85[0] == '\0')
        return dlc_error(DLC_EINVAL, "empty public key");
    if (dlc__key_valid(file_or_z85) && stat(file_or_z85, &st) != 0) {
        memcpy(out, file_or_z85, DLC__Z85_KEY);
        return 0;
    }
    if (ends_with(file_or_z85, ".key"))
        return dlc_error(DLC_EINVAL, "%s is a secret key: give the public one (.pub)", file_or_z85);
    return dlc__key_file_read(file_or_z85, 0, out);
}

/* The one *.key file in dir, into path. */
static int find_pair_in_dir(const char *dir, char *path, size_t cap) {
    DIR *d = opendir(dir);
    if (d == NULL)
        return dlc_error(DLC_EIO, "%s: %s", dir, strerror(errno));
    int found = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.' && ends_with(e->d_name, ".key") && found++ == 0)
            snprintf(path, cap, "%s/%s", dir, e->d_name);
    closedir(d);
    if (found != 1)
        return dlc_error(DLC_EINVAL, "%s holds %d *.key files: name the key pair (DIR/NAME.key)", dir, found);
    return 0;
}

int dlc__key_pair(const char *path, char pub[DLC__Z85_KEY], char sec[DLC__Z85_KEY]) {
    char file[4096], sibling[4096];
    struct stat st;
    if (path == NULL || path[0] == '\0')
        return dlc_error(DLC_EINVAL, "empty key file name");
    int rc = 0;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        rc = find_pair_in_dir(path, file, sizeof file);
    else if (stat(path, &st) != 0 && !ends_with(path, ".key")) /* DIR/NAME: the pair NAME.key, NAME.pub */
        snprintf(file, sizeof file, "%s.key", path);
    else
        snprintf(file, sizeof file, "%s", path);
    if (rc == 0 && ends_with(file, ".pub"))
        rc = dlc_error(DLC_EINVAL, "%s is a public key: give the secret one (.key)", file);
    if (rc == 0)
        rc = dlc__key_file_read(file, 1, sec);
    if (rc == 0 && zmq_curve_public(pub, sec) != 0)
        rc = dlc_error(DLC_EINVAL, "%s: cannot derive the public key: %s", file, zmq_strerror(errno));
    if (rc == 0 && ends_with(file, ".key")) {
        char given[DLC__Z85_KEY];
        snprintf(sibling, sizeof sibling, "%.*s.pub", (int)(strlen(file) - 4), file);
        if (stat(sibling, &st) == 0 && (dlc__key_file_read(sibling, 0, given) < 0 || strcmp(given, pub) != 0))
            rc = dlc_error(DLC_EINVAL, "%s does not hold the public key of %s", sibling, file);
    }
    if (rc < 0)
        explicit_bzero(sec, DLC__Z85_KEY);
    return rc;
}

int dlc__curve_load(const char *tracker_key, const char *key_file, dlc__curve_t *out) {
    memset(out, 0, sizeof *out);
    if (tracker_key == NULL || tracker_key[0] == '\0')
        tracker_key = getenv("DLC_TRACKER_KEY");
    if (key_file == NULL || key_file[0] == '\0')
        key_file = getenv("DLC_KEY_FILE");
    int has_tracker = tracker_key && tracker_key[0], has_own = key_file && key_file[0];
    if (!has_tracker && !has_own)
        return 0;
    if (!has_tracker || !has_own)
        return dlc_error(DLC_EINVAL, "CURVE needs both the tracker's public key (--tracker-key, $DLC_TRACKER_KEY) "
                                     "and this peer's key pair (--key-file, $DLC_KEY_FILE)");
    int rc = dlc__key_public(tracker_key, out->server_public);
    if (rc == 0)
        rc = dlc__key_pair(key_file, out->public_key, out->secret_key);
    if (rc < 0)
        explicit_bzero(out, sizeof *out);
    return rc;
}

int dlc__curve_client(void *zsock, const dlc__curve_t *k) {
    if (k == NULL || k->server_public[0] == '\0')
        return 0;
    if (zmq_setsockopt(zsock, ZMQ_CURVE_SERVERKEY, k->server_public, DLC__Z85_KEY) != 0 ||
        zmq_setsockopt(zsock, ZMQ_CURVE_PUBLICKEY, k->public_key, DLC__Z85_KEY) != 0 ||
        zmq_setsockopt(zsock, ZMQ_CURVE_SECRETKEY, k->secret_key, DLC__Z85_KEY) != 0)
        return dlc_error(DLC_EUNSUPPORTED, "CURVE client: %s (libzmq without CURVE?)", zmq_strerror(errno));
    return 0;
}

/* Writes text to a fresh temporary file in dir with mode; *tmp gets its path. */
static int write_temp(const char *dir, const char *text, mode_t mode, char *tmp, size_t cap) {
    snprintf(tmp, cap, "%s/.dlc-key.XXXXXX", dir);
    int fd = mkstemp(tmp);
    if (fd < 0)
        return dlc_error(DLC_EIO, "%s: %s", dir, strerror(errno));
    size_t len = strlen(text);
    int ok = fchmod(fd, mode) == 0 && write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
    int err = errno;
    if (close(fd) != 0 || !ok) {
        unlink(tmp);
        return dlc_error(DLC_EIO, "writing a key in %s: %s", dir, strerror(err));
    }
    return 0;
}

/* Moves tmp to path: never over an existing file unless force. */
static int install(const char *tmp, const char *path, int force) {
    int rc = force ? rename(tmp, path) : link(tmp, path);
    int err = errno;
    if (!force || rc != 0)
        unlink(tmp);
    if (rc != 0)
        return dlc_error(err == EEXIST ? DLC_EINVAL : DLC_EIO, "%s: %s%s", path, strerror(err),
                         err == EEXIST ? " (--force replaces it)" : "");
    return 0;
}

int dlc__keygen(const char *dir, const char *name, int force, char pub[DLC__Z85_KEY]) {
    char sec[DLC__Z85_KEY], text[DLC__Z85_KEY + 1], key_path[4096], pub_path[4096], tmp_key[4096], tmp_pub[4096];
    struct stat st;
    int rc = 0;
    if (zmq_curve_keypair(pub, sec) != 0)
        return dlc_error(DLC_EUNSUPPORTED, "zmq_curve_keypair: %s (libzmq built without CURVE?)",
                         zmq_strerror(errno));
    snprintf(key_path, sizeof key_path, "%s/%s.key", dir, name);
    snprintf(pub_path, sizeof pub_path, "%s/%s.pub", dir, name);
    if (!force && (stat(key_path, &st) == 0 || stat(pub_path, &st) == 0)) {
        rc = dlc_error(DLC_EINVAL, "%s/%s.{key,pub} exists (--force replaces it)", dir, name);
        goto cleanup;
    }
    if ((rc = dlc_mkdirs(dir)) < 0)
        goto cleanup;
    snprintf(text, sizeof text, "%s\n", sec);
    if ((rc = write_temp(dir, text, 0600, tmp_key, sizeof tmp_key)) < 0)
        goto cleanup;
    snprintf(text, sizeof text, "%s\n", pub);
    if ((rc = write_temp(dir, text, 0644, tmp_pub, sizeof tmp_pub)) < 0) {
        unlink(tmp_key);
        goto cleanup;
    }
    if ((rc = install(tmp_key, key_path, force)) < 0) {
        unlink(tmp_pub);
        goto cleanup;
    }
    if ((rc = install(tmp_pub, pub_path, force)) < 0 && !force)
        unlink(key_path); /* someone made NAME.pub meanwhile: leave no half pair */
cleanup:
    explicit_bzero(sec, sizeof sec);
    explicit_bzero(text, sizeof text);
    return rc;
}
