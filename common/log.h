/*
 * log.h — leveled, structured log lines on stderr.
 *
 * Every module reports through here so users get one format and one LOG_LEVEL
 * knob. A line is one record, in one of two formats (LOG_FORMAT):
 *
 *   logfmt (default): ts=2026-11-23T10:00:00.123Z level=warn msg="sender: ..." key=value ...
 *   json:             {"ts":"2026-11-23T10:00:00.123Z","level":"warn","msg":"sender: ...","key":"value"}
 *
 * log_msg() is printf-style: the text becomes `msg`. log_fields() adds named
 * fields after `msg`: strings, integers (JSON numbers) and booleans (JSON
 * true/false), so a JSON log carries values with their types, never JSON or
 * numbers inside a string. A value that matters (a counter, an address, a
 * name) belongs in a field, not only in the sentence. Values are quoted and escaped as each format requires, so a line
 * never spans two lines and always parses. Level and format are the process's
 * only global settings: main sets them once, before any thread starts, and
 * they are only read afterwards. Never call from the per-packet path.
 * Thread-safe: a line is built in a local buffer and written with one write.
 *
 * A status line (log_status: the pcap replay's progress on a terminal) stays
 * below the log lines: each line written while it is shown erases it first
 * and draws it again after itself.
 */
#ifndef TRACER_LOG_H
#define TRACER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };
enum log_format { LOG_FORMAT_LOGFMT = 0, LOG_FORMAT_JSON = 1 };

/* Set the threshold; main thread, before threads start. */
void log_set_level(enum log_level level);

/* Set the line format; main thread, before threads start. */
void log_set_format(enum log_format format);

/* Whether a message at `level` would be printed. */
int log_enabled(enum log_level level);

/*
 * Write log lines to `path` (created 0600, appended) instead of stderr. The
 * file must end up owned by `owner` (the user the sensor runs as after the
 * privilege drop, so it can reopen it): a root-owned file is handed over to
 * owner:group when called as root. Refused: a symbolic link (never followed),
 * anything but a regular file, a file with more than one link, another owner.
 * Main thread, before threads start. Returns 0, or -1 with errno set and the
 * reason in err (without the path).
 */
int log_open_file(const char *path, uid_t owner, gid_t group, char *err, size_t errlen);

/*
 * Reopen the log file by its path (after logrotate moved it; main calls it on
 * SIGHUP), with log_open_file's checks and owner. Returns 0, 1 when logging
 * goes to stderr, or -1 (errno set, reason in err) when the file cannot be
 * opened or is refused: the old one stays in use. Any thread.
 */
int log_reopen(char *err, size_t errlen);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

/* What a field's value is; JSON writes each as its own type. */
enum log_kind { LOG_KIND_STR = 0, LOG_KIND_U64, LOG_KIND_I64, LOG_KIND_BOOL, LOG_KIND_F64 };

/* One named value of a structured line. `key` should be [a-z0-9_.]+. */
struct log_field {
    const char   *key;
    const char   *str;   /* LOG_KIND_STR: the value (NULL prints as "") */
    uint64_t      num;   /* LOG_KIND_U64; LOG_KIND_I64 (two's complement); LOG_KIND_BOOL (0/1) */
    double        dbl;   /* LOG_KIND_F64 (NaN and infinities print as strings: JSON has no such numbers) */
    enum log_kind kind;
};
#define LOG_STR(k, v)  ((struct log_field){.key = (k), .str = (v), .kind = LOG_KIND_STR})
#define LOG_U64(k, v)  ((struct log_field){.key = (k), .num = (uint64_t)(v), .kind = LOG_KIND_U64})
#define LOG_I64(k, v)  ((struct log_field){.key = (k), .num = (uint64_t)(int64_t)(v), .kind = LOG_KIND_I64})
#define LOG_BOOL(k, v) ((struct log_field){.key = (k), .num = (v) ? 1u : 0u, .kind = LOG_KIND_BOOL})
#define LOG_F64(k, v)  ((struct log_field){.key = (k), .dbl = (double)(v), .kind = LOG_KIND_F64})

/* A line with `msg` and then the n fields in order. */
void log_fields(enum log_level level, const char *msg, const struct log_field *fields, size_t n);

/*
 * Show `text` (one line, no newline) as the status line, replacing the last
 * one; NULL or "" erases it. Main thread; only for a terminal on stderr.
 */
void log_status(const char *text);

/* Bytes of the longest line; a longer record is cut and marked truncated. */
#define LOG_LINE_MAX 16384u

/*
 * Format one record into buf (len >= 128) as the `format` prescribes, ending
 * with '\n'; returns its length. The writer behind log_msg/log_fields; public
 * so the formats can be tested byte for byte. Any thread.
 */
size_t log_format_line(char *buf, size_t len, enum log_format format, uint64_t ts_us,
                       enum log_level level, const char *msg,
                       const struct log_field *fields, size_t n);

#endif
