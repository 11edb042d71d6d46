/*
 * log.c — leveled, structured log lines on stderr (see log.h).
 *
 * Formats: logfmt as go-logfmt writes it (a value is quoted when it is empty
 * or holds a space, '=', '"', '\' or a control byte; inside quotes \" \\ \n
 * \r \t and \u00XX), and JSON objects (RFC 8259 escaping; invalid UTF-8
 * becomes U+FFFD so the line always parses). A record longer than
 * LOG_LINE_MAX is cut at a field or character boundary and gets a last field
 * truncated=true, so it still parses.
 *
 * The log file (AGENT_LOG_FILE) is opened by root before the privilege drop, in
 * a directory other users may write: it is opened without following a
 * symbolic link, and what was opened must be a regular file with one link,
 * owned by the user the sensor runs as (a root-owned file is handed over with
 * fchown), so a planted link cannot make root append to another file, and the
 * unprivileged sensor can reopen the log after logrotate (SIGHUP).
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "timefmt.h"

/* The process-wide settings; written once by main before threads start. */
static _Atomic int log_threshold = LOG_INFO;
static _Atomic int log_fmt = LOG_FORMAT_LOGFMT;

/* The status line and the lock that keeps it below every log line; the lock
 * also guards switching the output file (AGENT_LOG_FILE, reopened on SIGHUP). */
static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;
static char status_text[256];
static int out_fd = STDERR_FILENO;       /* under status_lock */
static char out_path[4096];              /* "" = stderr */
static uid_t out_uid;                    /* who must own the file (log_open_file) */
static gid_t out_gid;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level) { atomic_store(&log_threshold, (int)level); }

void log_set_format(enum log_format format) { atomic_store(&log_fmt, (int)format); }

int log_enabled(enum log_level level) { return (int)level <= atomic_load_explicit(&log_threshold, memory_order_relaxed); }

/* ------------------------------------------------------------------------ */
/* A bounded line buffer: `cap` excludes the room kept for the trailer.     */

#define TRAILER_ROOM 32u   /* ' truncated=true' or ',"truncated":true}' plus '\n' */

struct lbuf {
    char  *p;
    size_t len, cap;
    bool   full;
};

static bool put(struct lbuf *b, const char *s, size_t n)
{
    if (b->full || n > b->cap - b->len) {
        b->full = true;
        return false;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    return true;
}

static bool puts_(struct lbuf *b, const char *s) { return put(b, s, strlen(s)); }

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is invalid. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

static bool logfmt_needs_quotes(const char *s)
{
    if (!*s)
        return true;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p == '=' || *p == '"' || *p == '\\' || *p == 0x7f)
            return true;
    return false;
}

/* Append s escaped; stops (b->full) at a character boundary when out of room. */
static void put_escaped(struct lbuf *b, const char *s, bool json)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p && !b->full) {
        char tmp[8];
        const char *out = tmp;
        size_t n = 1, adv = 1;
        unsigned char c = *p;
        if (c == '"' || c == '\\') {
            tmp[0] = '\\';
            tmp[1] = (char)c;
            n = 2;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            tmp[0] = '\\';
            tmp[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
            n = 2;
        } else if (c < 0x20 || c == 0x7f) {
            n = (size_t)snprintf(tmp, sizeof tmp, "\\u%04x", c);
        } else if (c >= 0x80) {
            adv = utf8_len(p);
            if (adv == 0) {
                adv = 1;
                out = json ? "\\ufffd" : "\xef\xbf\xbd";
                n = strlen(out);
            } else {
                out = (const char *)p;
                n = adv;
            }
        } else {
            out = (const char *)p;
        }
        if (!put(b, out, n))
            break;
        p += adv;
    }
}

/* A number or a boolean, bare in both formats. */
static void put_scalar(struct lbuf *b, const struct log_field *f)
{
    char tmp[40];
    int n;
    if (f->kind == LOG_KIND_BOOL)
        n = snprintf(tmp, sizeof tmp, "%s", f->num ? "true" : "false");
    else if (f->kind == LOG_KIND_I64)
        n = snprintf(tmp, sizeof tmp, "%lld", (long long)(int64_t)f->num);
    else if (f->kind == LOG_KIND_F64)
        n = snprintf(tmp, sizeof tmp, "%.17g", f->dbl);
    else
        n = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)f->num);
    put(b, tmp, (size_t)n);
}

/* One `key=value` (logfmt) or `"key":value` (JSON), preceded by its separator. */
static void put_field(struct lbuf *b, bool json, const char *key, const struct log_field *f)
{
    const char *str = f->str;
    enum log_kind kind = f->kind;
    char special[8];
    if (kind == LOG_KIND_F64 && !isfinite(f->dbl)) {   /* no JSON number for these */
        snprintf(special, sizeof special, "%s", isnan(f->dbl) ? "NaN" : f->dbl > 0 ? "+Inf" : "-Inf");
        str = special;
        kind = LOG_KIND_STR;
    }
    size_t mark = b->len;
    if (json) {
        put(b, ",\"", 2);
        put_escaped(b, key, true);
        put(b, "\":", 2);
    } else {
        put(b, " ", 1);
        put_escaped(b, key, false);
        put(b, "=", 1);
    }
    if (b->full) {
        b->len = mark;   /* not even the key fits: drop the field whole */
        return;
    }
    if (kind != LOG_KIND_STR) {
        put_scalar(b, f);
        if (b->full)
            b->len = mark;   /* a cut number would lie: drop the field */
        return;
    }
    if (!str)
        str = "";
    bool quote = json || logfmt_needs_quotes(str);
    if (quote)
        put(b, "\"", 1);
    put_escaped(b, str, json);
    if (quote && b->len < b->cap + TRAILER_ROOM)
        b->p[b->len++] = '"';   /* the trailer room always has space for the closing quote */
}

size_t log_format_line(char *buf, size_t len, enum log_format format, uint64_t ts_us,
                       enum log_level level, const char *msg,
                       const struct log_field *fields, size_t n)
{
    if (!buf || len < 128)
        return 0;
    bool json = format == LOG_FORMAT_JSON;
    struct lbuf b = {.p = buf, .len = 0, .cap = len - TRAILER_ROOM, .full = false};
    char ts[40];
    timefmt_rfc3339(ts_us, 3, ts, sizeof ts);
    const char *lvl = (unsigned)level < 4 ? level_names[level] : "info";
    if (json) {
        puts_(&b, "{\"ts\":\"");
        puts_(&b, ts);
        puts_(&b, "\",\"level\":\"");
        puts_(&b, lvl);
        puts_(&b, "\"");
    } else {
        puts_(&b, "ts=");
        puts_(&b, ts);
        puts_(&b, " level=");
        puts_(&b, lvl);
    }
    put_field(&b, json, "msg", &LOG_STR("msg", msg ? msg : ""));
    for (size_t i = 0; i < n && !b.full; i++)
        put_field(&b, json, fields[i].key ? fields[i].key : "?", &fields[i]);
    /* The trailer fits in the room kept for it. */
    const char *tail = b.full ? (json ? ",\"truncated\":true}\n" : " truncated=true\n") : (json ? "}\n" : "\n");
    size_t tl = strlen(tail);
    memcpy(buf + b.len, tail, tl);
    b.len += tl;
    buf[b.len < len ? b.len : len - 1] = '\0';
    return b.len;
}

/* ------------------------------------------------------------------------ */
/* Writing: one write(2) per record, the status line kept below.            */

static void write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(out_fd, p, n);
        if (w <= 0)
            return;   /* nowhere to report a failing stderr */
        p += w;
        n -= (size_t)w;
    }
}

static void emit(enum log_level level, const char *msg, const struct log_field *fields, size_t n)
{
    char line[LOG_LINE_MAX + 300];
    /* Room before the record for "\r\033[K" and after it for the status line. */
    size_t pre = 4;
    size_t l = log_format_line(line + pre, LOG_LINE_MAX, (enum log_format)atomic_load_explicit(&log_fmt, memory_order_relaxed),
                               timefmt_now_us(), level, msg, fields, n);
    pthread_mutex_lock(&status_lock);
    size_t start = pre, end = pre + l;
    if (status_text[0]) {
        memcpy(line, "\r\033[K", 4);
        start = 0;
        size_t sl = strlen(status_text);
        memcpy(line + end, status_text, sl);
        end += sl;
    }
    write_all(line + start, end - start);
    pthread_mutex_unlock(&status_lock);
}

/*
 * Opens `path` for appending (created 0600) and checks what it opened: never
 * through a symbolic link (O_NOFOLLOW), never a FIFO or device (O_NONBLOCK
 * keeps a FIFO from blocking the open; then it must be a regular file), never
 * a second name of another file (one link), and owned by `uid`: a file owned
 * by root is handed over (uid, gid) when we are root, any other owner is
 * refused. Returns the descriptor, or -1 with the reason in err (errno set).
 */
static int open_log(const char *path, uid_t uid, gid_t gid, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK, 0600);
    if (fd < 0) {
        int e = errno;
        if (e == ELOOP)
            snprintf(err, errlen, "is a symbolic link: refused (the log file is opened before the "
                     "privilege drop; give the real path)");
        else
            snprintf(err, errlen, "cannot open: %s", strerror(e));
        errno = e;
        return -1;
    }
    struct stat st;
    int e = 0;
    if (fstat(fd, &st) != 0) {
        e = errno;
        snprintf(err, errlen, "cannot stat: %s", strerror(e));
    } else if (!S_ISREG(st.st_mode)) {
        e = EINVAL;
        snprintf(err, errlen, "is not a regular file: refused");
    } else if (st.st_nlink != 1) {
        e = EMLINK;
        snprintf(err, errlen, "has %lu hard links: refused (must be a file of its own)",
                 (unsigned long)st.st_nlink);
    } else if (st.st_uid != uid && !(st.st_uid == 0 && geteuid() == 0)) {
        e = EPERM;
        snprintf(err, errlen, "is owned by uid %u: refused (must be owned by the sensor's user, uid %u)",
                 (unsigned)st.st_uid, (unsigned)uid);
    } else if (st.st_uid != uid && fchown(fd, uid, gid) != 0) {
        e = errno;
        snprintf(err, errlen, "cannot hand the file over to uid %u: %s", (unsigned)uid, strerror(e));
    } else {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
            e = errno;
            snprintf(err, errlen, "fcntl: %s", strerror(e));
        }
    }
    if (e != 0) {
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int log_open_file(const char *path, uid_t owner, gid_t group, char *err, size_t errlen)
{
    int fd = open_log(path, owner, group, err, errlen);
    if (fd < 0)
        return -1;
    pthread_mutex_lock(&status_lock);
    int old = out_fd;
    out_fd = fd;
    out_uid = owner;
    out_gid = group;
    snprintf(out_path, sizeof out_path, "%s", path);
    pthread_mutex_unlock(&status_lock);
    if (old != STDERR_FILENO)
        close(old);
    return 0;
}

int log_reopen(char *err, size_t errlen)
{
    pthread_mutex_lock(&status_lock);
    if (!out_path[0]) {
        pthread_mutex_unlock(&status_lock);
        return 1;
    }
    int fd = open_log(out_path, out_uid, out_gid, err, errlen);
    if (fd < 0) {
        int e = errno;
        pthread_mutex_unlock(&status_lock);
        errno = e;
        return -1;                     /* keep writing to the old file */
    }
    int old = out_fd;
    out_fd = fd;
    pthread_mutex_unlock(&status_lock);
    close(old);
    return 0;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char msg[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emit(level, msg, NULL, 0);
}

void log_fields(enum log_level level, const char *msg, const struct log_field *fields, size_t n)
{
    if (!log_enabled(level))
        return;
    emit(level, msg, fields, n);
}

void log_status(const char *text)
{
    char out[sizeof status_text + 16];
    pthread_mutex_lock(&status_lock);
    size_t n = 0;
    if (text && *text) {
        snprintf(status_text, sizeof status_text, "%s", text);
        for (char *p = status_text; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
        n = (size_t)snprintf(out, sizeof out, "\r%s\033[K", status_text);
    } else if (status_text[0]) {
        status_text[0] = '\0';
        n = (size_t)snprintf(out, sizeof out, "\r\033[K");
    }
    if (n)
        write_all(out, n < sizeof out ? n : sizeof out - 1);
    pthread_mutex_unlock(&status_lock);
}
