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

/* H. Hinnant's days -> civil date (public domain algorithm), for non-negative
 * day numbers; no libc time zone machinery, no locks, no snprintf. */
void timefmt_civil(uint64_t secs, char t[19])
{
    uint64_t days = secs / 86400u;
    unsigned sod = (unsigned)(secs % 86400u);
    uint64_t z = days + 719468u;
    uint64_t era = z / 146097u;
    unsigned doe = (unsigned)(z - era * 146097u);
    unsigned yoe = (doe - doe / 1460u + doe / 36524u - doe / 146096u) / 365u;
    unsigned doy = doe - (365u * yoe + yoe / 4u - yoe / 100u);
    unsigned mp = (5u * doy + 2u) / 153u;
    unsigned day = doy - (153u * mp + 2u) / 5u + 1u;
    unsigned mon = mp < 10u ? mp + 3u : mp - 9u;
    unsigned year = (unsigned)(yoe + era * 400u) + (mon <= 2u);
    unsigned hh = sod / 3600u, mm = sod / 60u % 60u, ss = sod % 60u;
    t[0] = (char)('0' + year / 1000u);
    t[1] = (char)('0' + year / 100u % 10u);
    t[2] = (char)('0' + year / 10u % 10u);
    t[3] = (char)('0' + year % 10u);
    t[4] = '-';
    t[5] = (char)('0' + mon / 10u);
    t[6] = (char)('0' + mon % 10u);
    t[7] = '-';
    t[8] = (char)('0' + day / 10u);
    t[9] = (char)('0' + day % 10u);
    t[10] = 'T';
    t[11] = (char)('0' + hh / 10u);
    t[12] = (char)('0' + hh % 10u);
    t[13] = ':';
    t[14] = (char)('0' + mm / 10u);
    t[15] = (char)('0' + mm % 10u);
    t[16] = ':';
    t[17] = (char)('0' + ss / 10u);
    t[18] = (char)('0' + ss % 10u);
}

char *timefmt_rfc3339(uint64_t us, int digits, char *buf, size_t buflen)
{
    uint64_t secs = us / 1000000u;
    unsigned frac = (unsigned)(us % 1000000u);
    char dt[72];   /* "YYYY-MM-DDTHH:MM:SS"; room for any int in each field, so no cut is possible */
    if (secs <= TIMEFMT_CIVIL_MAX_SECS) {
        timefmt_civil(secs, dt);
        dt[19] = '\0';
    } else {
        time_t t = (time_t)secs;
        struct tm tm;
        if (!gmtime_r(&t, &tm)) {
            snprintf(buf, buflen, "1970-01-01T00:00:00Z");
            return buf;
        }
        snprintf(dt, sizeof dt, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    }
    if (digits == 3)
        snprintf(buf, buflen, "%s.%03uZ", dt, frac / 1000u);
    else
        snprintf(buf, buflen, "%s.%06uZ", dt, frac);
    return buf;
}
