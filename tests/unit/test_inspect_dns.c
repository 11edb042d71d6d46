/*
 * test_inspect_dns.c — the DNS message parser (inspect_dns.c): a query and a
 * response with CNAME, A and AAAA answers behind compression pointers
 * (RFC 1035 §4.1.4), every truncation point, lying counts and lengths,
 * pointer loops (to itself, forward, two pointers chasing each other), and
 * overlong names.
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

/* Query: id 0x1234, RD, one question www.example.com AAAA. */
static const uint8_t query[] = {
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
    0x00, 0x1c, 0x00, 0x01,
};

/* Response: www.example.com A; answers: CNAME -> edge.example.com (pointer
 * into the question for "example.com"), A 93.184.216.34 and AAAA
 * 2606:2800:220:1::1 owned by the CNAME target (pointer), a TXT (not kept),
 * rcode 0. */
static const uint8_t response[] = {
    0xab, 0xcd, 0x81, 0x80, 0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00,
    /* 12: question */
    3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
    0x00, 0x01, 0x00, 0x01,
    /* 33: CNAME, owner -> 12, ttl 300, rdata "edge" + pointer -> 16 */
    0xc0, 0x0c, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x01, 0x2c, 0x00, 0x07,
    4, 'e', 'd', 'g', 'e', 0xc0, 0x10,
    /* 52: A, owner -> 45 (edge.example.com) */
    0xc0, 0x2d, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x04,
    93, 184, 216, 34,
    /* 68: AAAA */
    0xc0, 0x2d, 0x00, 0x1c, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x10,
    0x26, 0x06, 0x28, 0x00, 0x02, 0x20, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1,
    /* 96: TXT "hi" */
    0xc0, 0x0c, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00, 0x00, 0x3c, 0x00, 0x03,
    2, 'h', 'i',
};

static void test_query(void **state)
{
    (void)state;
    struct inspect_dns_msg m;
    assert_int_equal(inspect_dns_parse(query, sizeof query, &m), INSPECT_PARSED);
    assert_int_equal(m.id, 0x1234);
    assert_int_equal(m.is_response, 0);
    assert_string_equal(m.q.qname, "www.example.com");
    assert_int_equal(m.q.qtype, 28);
    assert_int_equal(m.q.n_answers, 0);
}

static void test_response(void **state)
{
    (void)state;
    struct inspect_dns_msg m;
    assert_int_equal(inspect_dns_parse(response, sizeof response, &m), INSPECT_PARSED);
    assert_int_equal(m.is_response, 1);
    assert_int_equal(m.rcode, 0);
    assert_int_equal(m.ancount, 4);
    assert_string_equal(m.q.qname, "www.example.com");
    assert_int_equal(m.q.qtype, 1);
    assert_int_equal(m.q.n_answers, INSPECT_DNS_ANSWERS);   /* 2 of the 3 kept types */
    assert_int_equal(m.q.answers[0].type, 5);
    assert_int_equal(m.q.answers[0].ttl, 300);
    assert_string_equal(m.q.answers[0].data, "edge.example.com");
    assert_int_equal(m.q.answers[1].type, 1);
    assert_string_equal(m.q.answers[1].data, "93.184.216.34");
    /* the AAAA when it comes first */
    uint8_t b[sizeof response];
    memcpy(b, response, sizeof response);
    b[36] = 0x10;                                /* the CNAME becomes a TXT: not kept */
    b[55] = 0x10;                                /* the A too */
    assert_int_equal(inspect_dns_parse(b, sizeof b, &m), INSPECT_PARSED);
    assert_int_equal(m.q.n_answers, 1);
    assert_int_equal(m.q.answers[0].type, 28);
    assert_string_equal(m.q.answers[0].data, "2606:2800:220:1::1");
    /* a CNAME target longer than the cap is cut */
    static const uint8_t longc[] = {0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0,
                                    1, 'a', 0, 0, 5, 0, 1,
                                    0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 1, 0, 52,
                                    50, 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j',
                                    'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j',
                                    'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j',
                                    'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j',
                                    'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 0};
    assert_int_equal(inspect_dns_parse(longc, sizeof longc, &m), INSPECT_PARSED);
    assert_int_equal(strlen(m.q.answers[0].data), INSPECT_DNS_DATA_LEN - 1);
    assert_memory_equal(m.q.answers[0].data, "abcdefghijabcdefghij", 20);
}

static void test_rcode_and_root(void **state)
{
    (void)state;
    /* NXDOMAIN for the root name, type NS */
    static const uint8_t nx[] = {0, 1, 0x81, 0x83, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1};
    struct inspect_dns_msg m;
    assert_int_equal(inspect_dns_parse(nx, sizeof nx, &m), INSPECT_PARSED);
    assert_int_equal(m.rcode, 3);
    assert_string_equal(m.q.qname, "<Root>");
    assert_int_equal(m.q.qtype, 2);
}

static void test_every_truncation(void **state)
{
    (void)state;
    struct inspect_dns_msg m;
    for (size_t cut = 0; cut < sizeof response; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, response, cut);
        assert_int_equal(inspect_dns_parse(p, cut, &m), INSPECT_MALFORMED);
        free(p);
    }
    for (size_t cut = 0; cut < sizeof query; cut++) {
        uint8_t *p = malloc(cut ? cut : 1);
        memcpy(p, query, cut);
        assert_int_equal(inspect_dns_parse(p, cut, &m), INSPECT_MALFORMED);
        free(p);
    }
}

static void test_pointer_loops(void **state)
{
    (void)state;
    struct inspect_dns_msg m;
    uint8_t b[sizeof response];

    /* the question's name is a pointer to itself */
    static const uint8_t self[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1};
    assert_int_equal(inspect_dns_parse(self, sizeof self, &m), INSPECT_MALFORMED);

    /* forward pointer (to the answers) */
    static const uint8_t fwd[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 14, 1, 'a', 0, 0, 1, 0, 1};
    assert_int_equal(inspect_dns_parse(fwd, sizeof fwd, &m), INSPECT_MALFORMED);

    /* two labels chasing each other: 12: "a" ptr->16, 16: "b" ptr->12 */
    static const uint8_t chase[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
                                    1, 'a', 0xc0, 16, 1, 'b', 0xc0, 12, 0, 1, 0, 1};
    assert_int_equal(inspect_dns_parse(chase, sizeof chase, &m), INSPECT_MALFORMED);

    /* an answer owner pointing forward into its own rdata */
    memcpy(b, response, sizeof response);
    b[34] = 50;
    assert_int_equal(inspect_dns_parse(b, sizeof b, &m), INSPECT_MALFORMED);

    /* a CNAME target pointing back at its own owner name's pointer: that one
     * points further back (12), so this is legal and ends */
    memcpy(b, response, sizeof response);
    b[51] = 33;
    assert_int_equal(inspect_dns_parse(b, sizeof b, &m), INSPECT_PARSED);
    assert_string_equal(m.q.answers[0].data, "edge.www.example.com");

    /* a pointer past the end of the message */
    memcpy(b, response, sizeof response);
    b[53] = 0xff;
    assert_int_equal(inspect_dns_parse(b, sizeof b, &m), INSPECT_MALFORMED);
}

static void test_lying_fields(void **state)
{
    (void)state;
    struct inspect_dns_msg m;
    uint8_t b[sizeof response];

    memcpy(b, response, sizeof response);       /* one answer more than there is */
    b[7] = 5;
    assert_int_equal(inspect_dns_parse(b, sizeof b, &m), INSPECT_MALFORMED);

    memcpy(b, response, sizeof response);       /* 65535 questions */
    b[4] = 0xff;
    b[5] = 0xff;
    assert_int_equal(inspect_dns_parse(b, sizeof b, &m), INSPECT_MALFORMED);

    memcpy(b, response, sizeof response);       /* rdlength beyond the message */
    b[78] = 0x40;
    assert_int_equal(inspect_dns_parse(b, sizeof b, &m), INSPECT_MALFORMED);

    memcpy(b, response, sizeof response);       /* an "A" record of 3 bytes: not kept */
    b[36] = 0x10;
    b[55] = 0x10;
    b[71] = 0x10;
    b[99] = 1;
    assert_int_equal(inspect_dns_parse(b, sizeof b, &m), INSPECT_PARSED);
    assert_int_equal(m.q.n_answers, 0);

    memcpy(b, response, sizeof response);       /* label type 0x40 (extended) */
    b[12] = 0x43;
    assert_int_equal(inspect_dns_parse(b, sizeof b, &m), INSPECT_MALFORMED);

    /* a name of more than 255 bytes on the wire */
    uint8_t big[12 + 5 * 64 + 5];
    memset(big, 0, sizeof big);
    big[5] = 1;
    size_t o = 12;
    for (int i = 0; i < 5; i++) {
        big[o] = 63;
        memset(big + o + 1, 'x', 63);
        o += 64;
    }
    big[o] = 0;
    assert_int_equal(inspect_dns_parse(big, o + 5, &m), INSPECT_MALFORMED);

    /* non-printable bytes in a label come out as '?' */
    static const uint8_t odd[] = {0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, 'a', 0x07, 0, 0, 1, 0, 1};
    assert_int_equal(inspect_dns_parse(odd, sizeof odd, &m), INSPECT_PARSED);
    assert_string_equal(m.q.qname, "a?");

    /* every byte 0xff in turn: no crash, answers within their cap */
    for (size_t i = 0; i < sizeof response; i++) {
        memcpy(b, response, sizeof response);
        b[i] = 0xff;
        if (inspect_dns_parse(b, sizeof b, &m) == INSPECT_PARSED)
            assert_true(m.q.n_answers <= INSPECT_DNS_ANSWERS);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_response),
        cmocka_unit_test(test_rcode_and_root),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_pointer_loops),
        cmocka_unit_test(test_lying_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
