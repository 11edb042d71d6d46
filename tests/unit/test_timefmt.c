/*
 * test_timefmt.c — RFC 3339 text: the arithmetic civil-date conversion agrees
 * with gmtime_r across its whole range, and the exact strings events carry.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "common/timefmt.h"

static void check_against_gmtime(uint64_t secs)
{
    char got[20], want[32];
    timefmt_civil(secs, got);
    got[19] = '\0';
    time_t t = (time_t)secs;
    struct tm tm;
    assert_non_null(gmtime_r(&t, &tm));
    snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
    if (strcmp(got, want) != 0)
        fail_msg("secs %llu: got %s, want %s", (unsigned long long)secs, got, want);
}

static void test_civil_matches_gmtime(void **state)
{
    (void)state;
    const uint64_t edges[] = {0, 59, 86399, 86400, 951782399, 951782400, 951868800, 2147483647u,
                              2147483648u, 4294967295u, 4294967296u, 4102444800u,
                              TIMEFMT_CIVIL_MAX_SECS - 1, TIMEFMT_CIVIL_MAX_SECS};
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++)
        check_against_gmtime(edges[i]);
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < 200000; i++) {          /* xorshift over the whole range */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        check_against_gmtime(x % (TIMEFMT_CIVIL_MAX_SECS + 1));
    }
}

static void test_rfc3339_strings(void **state)
{
    (void)state;
    char b[48];
    assert_string_equal(timefmt_rfc3339(0, 3, b, sizeof b), "1970-01-01T00:00:00.000Z");
    assert_string_equal(timefmt_rfc3339(1700000000123456ull, 3, b, sizeof b), "2023-11-14T22:13:20.123Z");
    assert_string_equal(timefmt_rfc3339(1700000000123456ull, 6, b, sizeof b), "2023-11-14T22:13:20.123456Z");
    assert_string_equal(timefmt_rfc3339(4294967295000999ull, 6, b, sizeof b), "2106-02-07T06:28:15.000999Z");
    /* Past 9999 the libc path takes over. */
    assert_string_equal(timefmt_rfc3339((TIMEFMT_CIVIL_MAX_SECS + 1) * 1000000ull, 3, b, sizeof b),
                        "10000-01-01T00:00:00.000Z");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_civil_matches_gmtime),
        cmocka_unit_test(test_rfc3339_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
