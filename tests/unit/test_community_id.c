/*
 * test_community_id.c — Community ID v1 against the spec's reference data.
 *
 * The vectors are the corelight/community-id-spec baseline files
 * (baseline/baseline_deflt.json for seed 0, baseline_seed1.json for seed 1):
 * for ICMP/ICMPv6 rows "sport"/"dport" are the type and then the counterpart
 * type (request/reply pairs) or the code (one-way types), which is exactly
 * what community_id_v1 takes as (type, code) for the types that matter here.
 * Port-less rows (RSVP, protocol 46) pass 0/0.
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

#include "models/community_id.h"

struct vec {
    uint8_t proto;
    const char *saddr, *daddr;
    uint16_t sport, dport;
    const char *seed0, *seed1;
};

static const struct vec vectors[] = {
    /* ICMPv6 neighbor solicitation / advertisement, both directions */
    {58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136,
     "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="},
    {58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 135,
     "1:dGHyGvjMfljg6Bppwm3bg0LO8TY=", "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="},
    {58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136,
     "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM="},
    {58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 136, 135,
     "1:zavyT/cezQr1fmImYCwYnMXbgck=", "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM="},
    /* ICMPv6 one-way: time exceeded (3/0), destination unreachable (1/4) */
    {58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0,
     "1:2ObVBgIn28oZvibYZhZMBgh7WdQ=", "1:lVEtCZpYu84Xqaa++3lXFyuu2n4="},
    {58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4,
     "1:hLZd0XGWojozrvxqE0dWB1iM6R0=", "1:W8MHwXpWzpoSTD+cGcaJr4u0ys8="},
    /* ICMPv6 echo request / reply */
    {58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 129,
     "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ="},
    {58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 128,
     "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=", "1:GfZxjAkDk2MkegpBYHV6tadtFXQ="},
    /* ICMPv6 router solicitation / advertisement to multicast */
    {58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 134,
     "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0=", "1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8="},
    {58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 133,
     "1:pkvHqCL88/tg1k4cPigmZXUtL00=", "1:K/ee5UCqAMAQXDorP5nSa2CGLjc="},
    /* ICMP echo request / reply */
    {1, "192.168.0.89", "192.168.0.1", 8, 0,
     "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA="},
    {1, "192.168.0.1", "192.168.0.89", 0, 8,
     "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=", "1:03g6IloqVBdcZlPyX8r0hgoE7kA="},
    /* ICMP one-way: time exceeded (11/0) */
    {1, "10.0.0.1", "10.0.0.2", 11, 0,
     "1:YHxtAirCG//0OzkcVAukqKQN9xM=", "1:XjUibYHaafLQ3pxQeiMI8g25q20="},
    /* TCP over IPv6, both directions */
    {6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25,
     "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
    {6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943,
     "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4=", "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
    /* SCTP, both directions */
    {132, "192.168.170.8", "192.168.170.56", 7, 7,
     "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="},
    {132, "192.168.170.56", "192.168.170.8", 7, 7,
     "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs=", "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="},
    /* TCP over IPv4, both directions */
    {6, "128.232.110.120", "66.35.250.204", 34855, 80,
     "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
    {6, "66.35.250.204", "128.232.110.120", 80, 34855,
     "1:LQU9qZlK+B5F3KDmev6m5PMibrg=", "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
    /* UDP, both directions */
    {17, "192.168.1.52", "8.8.8.8", 54585, 53,
     "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="},
    {17, "8.8.8.8", "192.168.1.52", 53, 54585,
     "1:d/FP5EW3wiY1vCndhwleRRKHowQ=", "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="},
    /* RSVP (46): no ports */
    {46, "10.1.12.1", "10.1.12.2", 0, 0,
     "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI="},
    {46, "10.1.12.2", "10.1.12.1", 0, 0,
     "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=", "1:rYir8gphR31noO9iDRQmF/BteEI="},
};

/* Parse text into pkt_record layout; returns the IP version. */
static int parse_addr(const char *txt, uint8_t out[16])
{
    memset(out, 0, 16);
    if (inet_pton(AF_INET, txt, out) == 1)
        return 4;
    assert_int_equal(inet_pton(AF_INET6, txt, out), 1);
    return 6;
}

static void compute(const struct vec *v, uint16_t seed, char *out, size_t outlen)
{
    uint8_t s[16], d[16];
    int vs = parse_addr(v->saddr, s), vd = parse_addr(v->daddr, d);
    assert_int_equal(vs, vd);
    assert_int_equal(community_id_v1(seed, vs, s, d, v->proto, v->sport, v->dport, out, outlen), 0);
}

static void test_baseline_seed0(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        char id[COMMUNITY_ID_LEN];
        compute(&vectors[i], 0, id, sizeof id);
        if (strcmp(id, vectors[i].seed0) != 0)
            fail_msg("vector %zu (%s -> %s proto %u): got %s, want %s", i, vectors[i].saddr,
                     vectors[i].daddr, vectors[i].proto, id, vectors[i].seed0);
    }
}

static void test_baseline_seed1(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
        char id[COMMUNITY_ID_LEN];
        compute(&vectors[i], 1, id, sizeof id);
        if (strcmp(id, vectors[i].seed1) != 0)
            fail_msg("vector %zu (%s -> %s proto %u): got %s, want %s", i, vectors[i].saddr,
                     vectors[i].daddr, vectors[i].proto, id, vectors[i].seed1);
    }
}

/* The sender's reusable hasher gives the spec's ids too, call after call. */
static void test_hasher_matches_baselines(void **state)
{
    (void)state;
    community_id_hasher *h = community_id_hasher_create();
    assert_non_null(h);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < sizeof vectors / sizeof vectors[0]; i++) {
            const struct vec *v = &vectors[i];
            uint8_t s[16], d[16];
            int ver = parse_addr(v->saddr, s);
            assert_int_equal(parse_addr(v->daddr, d), ver);
            char id[COMMUNITY_ID_LEN];
            assert_int_equal(community_id_v1_hash(h, 0, ver, s, d, v->proto, v->sport, v->dport, id,
                                                  sizeof id), 0);
            assert_string_equal(id, v->seed0);
            assert_int_equal(community_id_v1_hash(h, 1, ver, s, d, v->proto, v->sport, v->dport, id,
                                                  sizeof id), 0);
            assert_string_equal(id, v->seed1);
        }
    }
    community_id_hasher_destroy(h);
    community_id_hasher_destroy(NULL);
}

static void test_tcp_v4_exact(void **state)
{
    (void)state;
    uint8_t a[16] = {128, 232, 110, 120}, b[16] = {66, 35, 250, 204};
    char id[COMMUNITY_ID_LEN];
    assert_int_equal(community_id_v1(0, 4, a, b, 6, 34855, 80, id, sizeof id), 0);
    assert_string_equal(id, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    assert_int_equal(community_id_v1(0, 4, b, a, 6, 80, 34855, id, sizeof id), 0);
    assert_string_equal(id, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    assert_int_equal(strlen(id), COMMUNITY_ID_LEN - 1);
}

/* ICMP echo: the reply's code is irrelevant for request/reply types; both
 * directions give the same id. A one-way type is not reordered, so swapping
 * the endpoints changes the id. */
static void test_icmp_rules(void **state)
{
    (void)state;
    uint8_t a[16] = {192, 168, 0, 89}, b[16] = {192, 168, 0, 1};
    char req[COMMUNITY_ID_LEN], rep[COMMUNITY_ID_LEN], x[COMMUNITY_ID_LEN], y[COMMUNITY_ID_LEN];
    assert_int_equal(community_id_v1(0, 4, a, b, 1, 8, 0, req, sizeof req), 0);
    assert_int_equal(community_id_v1(0, 4, b, a, 1, 0, 0, rep, sizeof rep), 0);
    assert_string_equal(req, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
    assert_string_equal(rep, req);

    uint8_t c[16] = {10, 0, 0, 1}, d[16] = {10, 0, 0, 2};
    assert_int_equal(community_id_v1(0, 4, c, d, 1, 11, 0, x, sizeof x), 0);
    assert_int_equal(community_id_v1(0, 4, d, c, 1, 11, 0, y, sizeof y), 0);
    assert_string_equal(x, "1:YHxtAirCG//0OzkcVAukqKQN9xM=");
    assert_string_not_equal(x, y);
}

/* Other protocols ignore the ports entirely. */
static void test_portless_ignores_ports(void **state)
{
    (void)state;
    uint8_t a[16] = {10, 1, 12, 1}, b[16] = {10, 1, 12, 2};
    char x[COMMUNITY_ID_LEN];
    assert_int_equal(community_id_v1(0, 4, a, b, 46, 1234, 80, x, sizeof x), 0);
    assert_string_equal(x, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw=");
}

static void test_errors(void **state)
{
    (void)state;
    uint8_t a[16] = {1, 2, 3, 4}, b[16] = {5, 6, 7, 8};
    char id[COMMUNITY_ID_LEN];
    assert_int_equal(community_id_v1(0, 5, a, b, 6, 1, 2, id, sizeof id), -1);
    assert_int_equal(community_id_v1(0, 4, a, b, 6, 1, 2, id, COMMUNITY_ID_LEN - 1), -1);
    assert_int_equal(community_id_v1(0, 0, a, b, 6, 1, 2, id, sizeof id), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baseline_seed0),
        cmocka_unit_test(test_baseline_seed1),
        cmocka_unit_test(test_hasher_matches_baselines),
        cmocka_unit_test(test_tcp_v4_exact),
        cmocka_unit_test(test_icmp_rules),
        cmocka_unit_test(test_portless_ignores_ports),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
