/*
 * log.h — leveled log lines on stderr.
 *
 * Every module reports through here so users get one format
 * ("2026-11-23T10:00:00.123Z level=warn msg...") and one LOG_LEVEL knob. The
 * level is the process's one global setting: main sets it once, before any
 * thread starts, and it is only read afterwards. Never call from the
 * per-packet path. Thread-safe (one fprintf per line).
 */
#ifndef TRACER_LOG_H
#define TRACER_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/* Set the threshold; main thread, before threads start. */
void log_set_level(enum log_level level);

/* Whether a message at `level` would be printed. */
int log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
