/*
 * test_hostport.c — the listen-address forms of AGENT_METRICS_ADDR and AGENT_API_ADDR.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/hostport.h"

static void test_forms(void **state)
{
    (void)state;
    char host[16];
    unsigned long port = 1;
    assert_true(hostport_split("127.0.0.1:9108", host, sizeof host, &port));
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(port, 9108);
    assert_true(hostport_split("[::1]:0", host, sizeof host, &port));
    assert_string_equal(host, "::1");
    assert_int_equal(port, 0);
    assert_true(hostport_split(":65535", host, sizeof host, &port));
    assert_string_equal(host, "");
    assert_int_equal(port, 65535);
}

static void test_refused(void **state)
{
    (void)state;
    char host[16];
    unsigned long port = 0;
    static const char *const bad[] = {"127.0.0.1", "::1:80", "[]:80", "[::1]80", "h:", "h:+1", "h: 1",
                                      "h:65536", "h:80x", "a-very-long-host-name:80", "[::1]:"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (hostport_split(bad[i], host, sizeof host, &port))
            fail_msg("accepted %s", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
