/*
 * test_hostaddr.c — the host address set behind flow `direction`.
 *
 * Loopback addresses are present on every Linux host (and in containers), so
 * they prove getifaddrs was read; hostaddr_set must replace, not merge.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdlib.h>

#include "common/hostaddr.h"

static void addr(int v, const char *txt, uint8_t out[16])
{
    memset(out, 0, 16);
    assert_int_equal(inet_pton(v == 4 ? AF_INET : AF_INET6, txt, out), 1);
}

/* Whether the kernel has ::1 configured (IPv6 can be disabled in containers). */
static int have_ipv6_loopback(void)
{
    int fd = socket(AF_INET6, SOCK_DGRAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof sa);
    sa.sin6_family = AF_INET6;
    sa.sin6_addr = in6addr_loopback;
    int ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

static void test_create_has_loopback(void **state)
{
    (void)state;
    char err[128] = "";
    hostaddr *h = hostaddr_create(err, sizeof err);
    assert_non_null(h);
    uint8_t a[16];
    addr(4, "127.0.0.1", a);
    assert_true(hostaddr_contains(h, 4, a));
    if (have_ipv6_loopback()) {
        addr(6, "::1", a);
        assert_true(hostaddr_contains(h, 6, a));
    } else {
        print_message("note: IPv6 loopback not configured here; ::1 check skipped\n");
    }
    addr(4, "192.0.2.99", a);
    assert_false(hostaddr_contains(h, 4, a));
    addr(6, "2001:db8::99", a);
    assert_false(hostaddr_contains(h, 6, a));
    /* 127.0.0.1 asked as IPv6 is a different address. */
    addr(4, "127.0.0.1", a);
    assert_false(hostaddr_contains(h, 6, a));
    assert_false(hostaddr_contains(h, 5, a));
    assert_int_equal(hostaddr_refresh(h), 0);
    addr(4, "127.0.0.1", a);
    assert_true(hostaddr_contains(h, 4, a));
    hostaddr_destroy(h);
    hostaddr_destroy(NULL);
}

static void test_set_replaces(void **state)
{
    (void)state;
    hostaddr *h = hostaddr_create(NULL, 0);
    assert_non_null(h);
    uint8_t list[3][16];
    uint8_t vers[3] = {4, 6, 4};
    addr(4, "192.0.2.99", list[0]);
    addr(6, "2001:db8::1", list[1]);
    addr(4, "198.51.100.7", list[2]);
    /* Bytes 4..15 of an IPv4 entry are ignored. */
    list[2][9] = 0xee;
    assert_int_equal(hostaddr_set(h, (const uint8_t(*)[16])list, vers, 3), 0);

    uint8_t a[16];
    addr(4, "192.0.2.99", a);
    assert_true(hostaddr_contains(h, 4, a));
    addr(6, "2001:db8::1", a);
    assert_true(hostaddr_contains(h, 6, a));
    addr(4, "198.51.100.7", a);
    assert_true(hostaddr_contains(h, 4, a));
    addr(4, "127.0.0.1", a);
    assert_false(hostaddr_contains(h, 4, a));   /* replaced, not merged */

    /* A bad version rejects the whole call and keeps the set. */
    uint8_t bad[1] = {5};
    assert_int_equal(hostaddr_set(h, (const uint8_t(*)[16])list, bad, 1), -1);
    addr(4, "192.0.2.99", a);
    assert_true(hostaddr_contains(h, 4, a));

    /* Empty set: nothing is ours. */
    assert_int_equal(hostaddr_set(h, NULL, NULL, 0), 0);
    assert_false(hostaddr_contains(h, 4, a));

    /* refresh brings the real addresses back. */
    assert_int_equal(hostaddr_refresh(h), 0);
    addr(4, "127.0.0.1", a);
    assert_true(hostaddr_contains(h, 4, a));
    hostaddr_destroy(h);
}

/* The topology hook bumps the signal; the owner sees "stale" until it refreshes. */
static void test_signal_marks_stale(void **state)
{
    (void)state;
    char err[128];
    hostaddr *h = hostaddr_create(err, sizeof err);
    hostaddr_signal *sig = hostaddr_signal_create();
    assert_non_null(h);
    assert_non_null(sig);
    hostaddr_signal_bump(sig);                 /* before attaching: not a change for h */
    hostaddr_attach(h, sig);
    assert_false(hostaddr_stale(h));
    hostaddr_signal_bump(sig);
    assert_true(hostaddr_stale(h));
    hostaddr_signal_bump(sig);
    assert_true(hostaddr_stale(h));
    assert_int_equal(hostaddr_refresh(h), 0);
    assert_false(hostaddr_stale(h));
    assert_false(hostaddr_stale(NULL));
    hostaddr_signal_bump(NULL);                /* NULL-safe */
    hostaddr_attach(h, NULL);                  /* detached: never stale */
    hostaddr_signal_bump(sig);
    assert_false(hostaddr_stale(h));
    hostaddr_destroy(h);
    hostaddr_signal_destroy(sig);
}

/* AGENT_LOCAL_NETWORKS: prefixes decide, for IPv4 and IPv6; the host's own addresses no longer count. */
static void test_local_networks(void **state)
{
    (void)state;
    char err[160] = "";
    hostaddr *h = hostaddr_create(err, sizeof err);
    assert_non_null(h);
    assert_int_equal(hostaddr_use_networks(h, "10.0.0.0/8, 192.168.1.77/24,fd00::/8,2001:db8::1,0.0.0.0/0x", err,
                                           sizeof err), -1);
    assert_string_equal(err, "\"0.0.0.0/0x\": prefix length must be in [0, 32]");
    assert_int_equal(hostaddr_use_networks(h, "10.0.0.0/8, 192.168.1.77/24,fd00::/8,2001:db8::1", err,
                                           sizeof err), 0);
    static const struct { int v; const char *a; int local; } cases[] = {
        {4, "10.0.0.1", 1}, {4, "10.255.255.255", 1}, {4, "11.0.0.0", 0}, {4, "9.255.255.255", 0},
        {4, "192.168.1.0", 1}, {4, "192.168.1.255", 1}, {4, "192.168.2.1", 0},   /* host bits cleared */
        {4, "127.0.0.1", 0},                       /* the host's loopback is not in the list */
        {6, "fd00::1", 1}, {6, "fdff:ffff::1", 1}, {6, "fc00::1", 0}, {6, "fe80::1", 0},
        {6, "2001:db8::1", 1}, {6, "2001:db8::2", 0}, {6, "::1", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t a[16];
        addr(cases[i].v, cases[i].a, a);
        if (hostaddr_contains(h, cases[i].v, a) != cases[i].local)
            fail_msg("%s: want %d", cases[i].a, cases[i].local);
    }
    /* an IPv4 network never matches an IPv6 address with the same leading bytes */
    uint8_t a[16];
    addr(6, "a00::1", a);   /* first byte 10 */
    assert_false(hostaddr_contains(h, 6, a));
    /* refreshes keep the networks: getifaddrs is not read any more */
    assert_int_equal(hostaddr_refresh(h), 0);
    addr(4, "127.0.0.1", a);
    assert_false(hostaddr_contains(h, 4, a));
    addr(4, "10.1.2.3", a);
    assert_true(hostaddr_contains(h, 4, a));
    hostaddr_destroy(h);
}

/* The list syntax and its messages (config.c shows them for AGENT_LOCAL_NETWORKS). */
static void test_parse_networks(void **state)
{
    (void)state;
    char err[160];
    struct hostaddr_net *v = NULL;
    size_t n = 0;
    assert_int_equal(hostaddr_parse_networks("0.0.0.0/0,::/0, 172.16.0.0/12 ,fe80::/10", &v, &n, err, sizeof err), 0);
    assert_int_equal(n, 4);
    assert_int_equal(v[0].version, 4);
    assert_int_equal(v[0].prefix, 0);
    assert_int_equal(v[1].version, 6);
    assert_int_equal(v[2].prefix, 12);
    assert_int_equal(v[2].addr[0], 172);
    assert_int_equal(v[2].addr[1], 16);
    assert_int_equal(v[3].prefix, 10);
    assert_int_equal(v[3].addr[0], 0xfe);
    assert_int_equal(v[3].addr[1], 0x80);
    free(v);
    static const struct { const char *in, *msg; } bad[] = {
        {"", "\"\": empty item"},
        {"10.0.0.0/8,", "\"\": empty item"},
        {"10.0.0.0/33", "\"10.0.0.0/33\": prefix length must be in [0, 32]"},
        {"fd00::/129", "\"fd00::/129\": prefix length must be in [0, 128]"},
        {"10.0.0.0/", "\"10.0.0.0/\": prefix length must be in [0, 32]"},
        {"10.0.0.0/-1", "\"10.0.0.0/-1\": prefix length must be in [0, 32]"},
        {"10.0.0/8", "\"10.0.0/8\": not an IPv4 or IPv6 address"},
        {"eth0", "\"eth0\": not an IPv4 or IPv6 address"},
        {"10.0.0.0 8", "\"10.0.0.0 8\": not an IPv4 or IPv6 address"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert_int_equal(hostaddr_parse_networks(bad[i].in, NULL, NULL, err, sizeof err), -1);
        assert_string_equal(err, bad[i].msg);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_has_loopback),
        cmocka_unit_test(test_set_replaces),
        cmocka_unit_test(test_signal_marks_stale),
        cmocka_unit_test(test_local_networks),
        cmocka_unit_test(test_parse_networks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
