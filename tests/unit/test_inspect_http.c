/*
 * test_inspect_http.c — the line-based parsers (inspect_http.c): HTTP/1.x
 * request heads and status lines, SSH identification lines; every
 * truncation point, lines that never end, headers in odd case, a target
 * longer than its cap, and preamble lines before an SSH banner.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "inspect/inspect.h"
#include "inspect/inspect_proto.h"

static const char req[] = "GET /index.html?q=1 HTTP/1.1\r\n"
                          "host: www.example.com\r\n"
                          "Accept: */*\r\n"
                          "USER-AGENT:\tcurl/7.88.1\r\n"
                          "\r\n";

static void test_request(void **state)
{
    (void)state;
    struct inspect_http h;
    memset(&h, 0, sizeof h);
    assert_int_equal(inspect_http_request_parse((const uint8_t *)req, strlen(req), 0, &h),
                     INSPECT_PARSED);
    assert_string_equal(h.method, "GET");
    assert_string_equal(h.path, "/index.html?q=1");
    assert_string_equal(h.host, "www.example.com");
    assert_string_equal(h.user_agent, "curl/7.88.1");
    assert_int_equal(h.has_request, 1);
}

static void test_request_truncations(void **state)
{
    (void)state;
    size_t n = strlen(req);
    for (size_t cut = 0; cut < n; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, req, cut);
        struct inspect_http h;
        memset(&h, 0, sizeof h);
        assert_int_equal(inspect_http_request_parse(p, cut, 0, &h), INSPECT_NEED_MORE);
        /* as the last bytes the buffer will get: fields so far, never past the cut */
        memset(&h, 0, sizeof h);
        enum inspect_status st = inspect_http_request_parse(p, cut, 1, &h);
        if (cut >= 4)
            assert_int_equal(st, INSPECT_PARSED);
        free(p);
    }
    /* cut in the middle of the Host line, final: the host is not invented */
    struct inspect_http h;
    memset(&h, 0, sizeof h);
    const char *hostcut = "GET / HTTP/1.1\r\nHost: www.exa";
    assert_int_equal(inspect_http_request_parse((const uint8_t *)hostcut, strlen(hostcut), 1, &h),
                     INSPECT_PARSED);
    assert_string_equal(h.path, "/");
    assert_string_equal(h.host, "");
}

static void test_request_caps_and_junk(void **state)
{
    (void)state;
    char big[600];
    strcpy(big, "POST /");
    memset(big + 6, 'a', 300);
    strcpy(big + 306, " HTTP/1.0\r\n\r\n");
    struct inspect_http h;
    memset(&h, 0, sizeof h);
    assert_int_equal(inspect_http_request_parse((const uint8_t *)big, strlen(big), 0, &h),
                     INSPECT_PARSED);
    assert_string_equal(h.method, "POST");
    assert_int_equal(strlen(h.path), INSPECT_PATH_LEN - 1);
    assert_memory_equal(h.path, "/aaaa", 5);

    /* not HTTP: unknown method, method without a space, missing version */
    const char *bad[] = {"FOO / HTTP/1.1\r\n\r\n", "GET/ HTTP/1.1\r\n\r\n", "GET / FTP\r\n\r\n",
                         "GET /\r\n\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&h, 0, sizeof h);
        assert_int_equal(inspect_http_request_parse((const uint8_t *)bad[i], strlen(bad[i]), 0, &h),
                         INSPECT_MALFORMED);
    }
    /* control bytes in a header come out as '?' */
    const char *ctl = "GET / HTTP/1.1\r\nUser-Agent: a\x01z\r\n\r\n";
    memset(&h, 0, sizeof h);
    assert_int_equal(inspect_http_request_parse((const uint8_t *)ctl, strlen(ctl), 0, &h),
                     INSPECT_PARSED);
    assert_string_equal(h.user_agent, "a?z");
}

static void test_response(void **state)
{
    (void)state;
    const char *r = "HTTP/1.1 301 Moved Permanently\r\nLocation: /\r\n\r\n";
    struct inspect_http h;
    memset(&h, 0, sizeof h);
    assert_int_equal(inspect_http_response_parse((const uint8_t *)r, strlen(r), &h),
                     INSPECT_PARSED);
    assert_int_equal(h.status, 301);
    for (size_t cut = 0; cut < 12; cut++) {
        memset(&h, 0, sizeof h);
        assert_int_equal(inspect_http_response_parse((const uint8_t *)r, cut, &h),
                         INSPECT_NEED_MORE);
    }
    const char *bad[] = {"HTTP/1.1 3x1 OK\r\n", "HTTP/2.0 200 OK\r\n", "HTTP/1.1 099 X\r\n",
                         "HTTP/1.1-200 OK\r\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(inspect_http_response_parse((const uint8_t *)bad[i], strlen(bad[i]), &h),
                         INSPECT_MALFORMED);
}

static void test_ssh(void **state)
{
    (void)state;
    const char *b = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n";
    char out[INSPECT_BANNER_LEN];
    assert_int_equal(inspect_ssh_banner_parse((const uint8_t *)b, strlen(b), out, sizeof out),
                     INSPECT_PARSED);
    assert_string_equal(out, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3");
    for (size_t cut = 0; cut < strlen(b); cut++)
        assert_int_equal(inspect_ssh_banner_parse((const uint8_t *)b, cut, out, sizeof out),
                         INSPECT_NEED_MORE);
    /* LF only, and lines before the banner (RFC 4253 §4.2) */
    const char *pre = "Welcome\r\nto host\nSSH-1.99-Cisco-1.25\n";
    assert_int_equal(inspect_ssh_banner_parse((const uint8_t *)pre, strlen(pre), out, sizeof out),
                     INSPECT_PARSED);
    assert_string_equal(out, "SSH-1.99-Cisco-1.25");
    /* cut to the cap */
    char small[8];
    assert_int_equal(inspect_ssh_banner_parse((const uint8_t *)b, strlen(b), small, sizeof small),
                     INSPECT_PARSED);
    assert_string_equal(small, "SSH-2.0");
    /* a line of more than 255 bytes, with or without its end */
    char longline[400];
    memset(longline, 'x', sizeof longline);
    assert_int_equal(inspect_ssh_banner_parse((const uint8_t *)longline, sizeof longline, out,
                                              sizeof out),
                     INSPECT_MALFORMED);
    longline[300] = '\n';
    assert_int_equal(inspect_ssh_banner_parse((const uint8_t *)longline, sizeof longline, out,
                                              sizeof out),
                     INSPECT_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_request_truncations),
        cmocka_unit_test(test_request_caps_and_junk),
        cmocka_unit_test(test_response),
        cmocka_unit_test(test_ssh),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
