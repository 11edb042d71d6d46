/*
 * timefmt.c — time in microseconds and its RFC 3339 text (see timefmt.h).
 */
#include "timefmt.h"

#include <stdio.h>
#include <time.h>

uint64_t timefmt_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t timefmt_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

char *timefmt_rfc3339(uint64_t us, int digits, char *buf, size_t buflen)
{
    time_t secs = (time_t)(us / 1000000u);
    unsigned frac = (unsigned)(us % 1000000u);
    struct tm tm;
    if (!gmtime_r(&secs, &tm)) {
        snprintf(buf, buflen, "1970-01-01T00:00:00Z");
        return buf;
    }
    if (digits == 3)
        snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac / 1000u);
    else
        snprintf(buf, buflen, "%04d-%02d-%02dT%02d:%02d:%02d.%06uZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, frac);
    return buf;
}
