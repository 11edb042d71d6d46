/*
 * identity.c — the sensor's stable identity (see identity.h).
 *
 * The id file is tiny and read once at start-up; what matters is that it is
 * never half-written (a temporary file is linked into place, so two sensors
 * starting at once on one state directory agree on the id that won) and that a
 * damaged file stops the start with its name rather than silently giving the
 * sensor a new identity.
 */
#define _GNU_SOURCE 1
#include "identity.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

bool identity_valid(const char *s)
{
    size_t n = 0;
    if (!s)
        return false;
    for (; s[n]; n++) {
        char c = s[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok || n >= IDENTITY_MAX)
            return false;
    }
    return n > 0;
}

int identity_make(char *out, size_t outlen, char *err, size_t errlen)
{
    uint8_t b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t r = getrandom(b + got, sizeof b - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(err, errlen, "no random bytes for the sensor id: %s", strerror(errno));
            return -1;
        }
        got += (size_t)r;
    }
    if (outlen < 37) {
        snprintf(err, errlen, "sensor id buffer too small");
        return -1;
    }
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);   /* version 4 */
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);   /* RFC 4122 variant */
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < sizeof b; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
    return 0;
}

/* Read the id at `path`. 1 = read, 0 = no such file, -1 = error (in err). */
static int read_id(const char *path, char *out, size_t outlen, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;   /* nothing stored (yet): the caller makes one */
        snprintf(err, errlen, "%s: cannot read the sensor id: %s", path, strerror(errno));
        return -1;
    }
    char buf[IDENTITY_MAX + 3];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, sizeof buf - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: cannot read the sensor id: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (r == 0 || (n += (size_t)r) == sizeof buf - 1)
            break;
    }
    close(fd);
    buf[n] = '\0';
    if (n > 0 && buf[n - 1] == '\n')
        buf[--n] = '\0';
    if (!identity_valid(buf) || n + 1 > outlen) {
        snprintf(err, errlen, "%s: not a sensor id (1-%d characters from A-Z a-z 0-9 . _ : -); "
                 "restore it from a backup, or delete it to make a new identity", path, IDENTITY_MAX);
        return -1;
    }
    memcpy(out, buf, n + 1);
    return 1;
}

/* Write `id` to `path` through a temporary file linked into place. 1 = written, 0 = someone
 * else's id got there first (read it instead), -1 = error (in err). */
static int store_id(const char *dir, const char *path, const char *id, char *err, size_t errlen)
{
    char tmp[4200];
    if ((size_t)snprintf(tmp, sizeof tmp, "%s/.%s.%ld", dir, IDENTITY_FILE, (long)getpid()) >= sizeof tmp) {
        snprintf(err, errlen, "%s: path too long", dir);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot write the sensor id: %s", dir, strerror(errno));
        return -1;
    }
    char line[IDENTITY_MAX + 2];
    int len = snprintf(line, sizeof line, "%s\n", id);
    bool ok = write(fd, line, (size_t)len) == len && fsync(fd) == 0;
    int saved = errno;
    ok = close(fd) == 0 && ok;
    int rc = -1;
    if (!ok)
        snprintf(err, errlen, "%s: cannot write the sensor id: %s", dir, strerror(saved ? saved : EIO));
    else if (link(tmp, path) == 0)
        rc = 1;
    else if (errno == EEXIST)
        rc = 0;
    else
        snprintf(err, errlen, "%s: cannot store the sensor id: %s", path, strerror(errno));
    unlink(tmp);
    return rc;
}

int identity_load(const char *dir, bool dir_explicit, char *out, size_t outlen,
                  char *err, size_t errlen)
{
    char path[4200];
    if (!dir || !*dir || (size_t)snprintf(path, sizeof path, "%s/%s", dir, IDENTITY_FILE) >= sizeof path) {
        snprintf(err, errlen, "state directory name empty or too long");
        return -1;
    }
    int r = read_id(path, out, outlen, err, errlen);
    if (r != 0)
        return r > 0 ? IDENTITY_READ : -1;

    char id[37];
    if (identity_make(id, sizeof id, err, errlen) != 0)
        return -1;
    if (outlen < sizeof id) {
        snprintf(err, errlen, "sensor id buffer too small");
        return -1;
    }
    char why[4400];
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        snprintf(why, sizeof why, "%s: cannot create the state directory: %s", dir, strerror(errno));
    } else {
        int s = store_id(dir, path, id, why, sizeof why);
        if (s > 0) {
            memcpy(out, id, sizeof id);
            return IDENTITY_CREATED;
        }
        if (s == 0)
            return read_id(path, out, outlen, err, errlen) > 0 ? IDENTITY_READ : -1;
    }
    snprintf(err, errlen, "%s", why);
    if (dir_explicit)
        return -1;
    memcpy(out, id, sizeof id);
    return IDENTITY_EPHEMERAL;
}
