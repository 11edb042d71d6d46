/*
 * log.c — leveled log lines on stderr (see log.h).
 */
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "timefmt.h"

/* The one process-wide setting; written once by main before threads start. */
static _Atomic int log_threshold = LOG_INFO;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level level) { atomic_store(&log_threshold, (int)level); }

int log_enabled(enum log_level level) { return (int)level <= atomic_load_explicit(&log_threshold, memory_order_relaxed); }

void log_msg(enum log_level level, const char *fmt, ...)
{
    if (!log_enabled(level))
        return;
    char ts[40], msg[1024];
    timefmt_rfc3339(timefmt_now_us(), 3, ts, sizeof ts);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s level=%s %s\n", ts, level_names[level], msg);
}
