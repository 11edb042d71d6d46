/*
 * test_ipfix_encode.c — the IPFIX (libfixbuf) and NetFlow v9 encoder: the
 * exact bytes of a known flow's record and message, the template message,
 * microsecond timestamps (NTP format), message-full handling and refusal of a
 * record it cannot encode. The flow is the one of ndpi's 443-curl.pcap, which
 * the e2e test (test_ipfix.py) also sees through nfcapd.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "sender/ipfix_encode.h"

/* memmem is a GNU extension: a small search instead. */
static bool contains(const uint8_t *hay, size_t n, const uint8_t *needle, size_t k)
{
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return true;
    return false;
}

#define EXPORT_S 1700000000u   /* 0x6553f100 */

static struct flow_event curl_flow(void)
{
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    ev.first_us = 1581113120474299ull;   /* 2020-02-07T22:05:20.474299Z */
    ev.last_us = 1581113121570392ull;    /* 2020-02-07T22:05:21.570392Z */
    ev.src_packets = 51;
    ev.src_bytes = 4260;
    ev.dst_packets = 58;
    ev.dst_bytes = 69722;
    memcpy(ev.src_ip, "\xc0\xa8\x01\x0d", 4);   /* 192.168.1.13 */
    memcpy(ev.dst_ip, "\xb2\x3e\xc5\x82", 4);   /* 178.62.197.130 */
    ev.src_port = 55523;
    ev.dst_port = 443;
    ev.ip_version = 4;
    ev.protocol = 6;
    ev.src_tcp_flags = 0x1f;   /* FIN SYN RST PSH ACK */
    ev.dst_tcp_flags = 0x1b;   /* FIN SYN PSH ACK */
    ev.end_reason = FLOW_END_FIN;
    ev.final = 1;
    return ev;
}

static ipfix_encoder *make(enum ipfix_enc_protocol p, bool us, uint16_t max)
{
    char err[256];
    struct ipfix_enc_opts o = {.protocol = p, .microseconds = us, .domain_id = 7, .max_message = max};
    ipfix_encoder *e = ipfix_encoder_create(&o, err, sizeof err);
    if (!e)
        print_error("%s\n", err);
    assert_non_null(e);
    return e;
}

/* The data message of the curl flow (after its template message). */
static const uint8_t IPFIX_DATA[] = {
    0x00, 0x0a, 0x00, 0x77,                          /* version 10, length 119 */
    0x65, 0x53, 0xf1, 0x00,                          /* export time 1700000000 */
    0x00, 0x00, 0x00, 0x00,                          /* sequence 0 (data records before) */
    0x00, 0x00, 0x00, 0x07,                          /* observation domain 7 */
    0x01, 0x00, 0x00, 0x67,                          /* set 256 (IPv4, ports), length 103 */
    0x00, 0x00, 0x01, 0x70, 0x21, 0xaf, 0x96, 0xda,  /* flowStartMilliseconds 1581113120474 */
    0x00, 0x00, 0x01, 0x70, 0x21, 0xaf, 0x9b, 0x22,  /* flowEndMilliseconds 1581113121570 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0xa4,  /* octetDeltaCount 4260 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x33,  /* packetDeltaCount 51 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x10, 0x5a,  /* reverseOctetDeltaCount 69722 */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3a,  /* reversePacketDeltaCount 58 */
    0xc0, 0xa8, 0x01, 0x0d, 0xb2, 0x3e, 0xc5, 0x82,  /* sourceIPv4Address, destinationIPv4Address */
    0xd8, 0xe3, 0x01, 0xbb, 0x00, 0x00,              /* ports 55523, 443; vlanId 0 */
    0x00, 0x1b, 0x00, 0x1f,                          /* reverseTcpControlBits SAFP, tcpControlBits SAFRP */
    0x06, 0x04, 0x03,                                /* TCP, IPv4, flowEndReason 3 (end of flow) */
    '1', ':', 'R', '7', 'u', 'R', 'z', 'R', 'A', 'q', 'E', '8', '9', 'z', '8',   /* Community ID, */
    'b', 'j', 'a', 'M', 'F', 'o', '1', '3', 'P', 'j', '5', 'o', 'q', 'g', '=',   /* PEN 32473 */
};

static void test_ipfix_record_bytes(void **state)
{
    (void)state;
    ipfix_encoder *e = make(IPFIX_ENC_IPFIX, false, 1400);
    struct flow_event ev = curl_flow();
    const uint8_t *m;

    /* First the templates, in a message of their own. */
    assert_int_equal(ipfix_encoder_add(e, &ev, EXPORT_S), IPFIX_ENC_FULL);
    assert_true(ipfix_encoder_has_templates(e));
    assert_int_equal(ipfix_encoder_pending(e), 0);
    size_t n = ipfix_encoder_take(e, &m);
    assert_true(n > 20);
    assert_int_equal(m[0] << 8 | m[1], 10);
    assert_int_equal(m[2] << 8 | m[3], n);
    assert_int_equal(m[16] << 8 | m[17], 2);                 /* template set */
    assert_int_equal(m[18] << 8 | m[19], n - 16);            /* the only set */
    /* Among the four templates (libfixbuf's order), 256: 17 fields, from
     * flowStartMilliseconds (152, 8), and 258 (ICMP): 16 (no ports). */
    static const uint8_t t256[] = {0x01, 0x00, 0x00, 0x11, 0x00, 0x98, 0x00, 0x08};
    static const uint8_t t258[] = {0x01, 0x02, 0x00, 0x10, 0x00, 0x98, 0x00, 0x08};
    assert_true(contains(m + 20, n - 20, t256, sizeof t256));
    assert_true(contains(m + 20, n - 20, t258, sizeof t258));

    assert_int_equal(ipfix_encoder_add(e, &ev, EXPORT_S), IPFIX_ENC_OK);
    assert_false(ipfix_encoder_has_templates(e));
    assert_int_equal(ipfix_encoder_pending(e), 1);
    n = ipfix_encoder_take(e, &m);
    assert_int_equal(n, sizeof IPFIX_DATA);
    assert_memory_equal(m, IPFIX_DATA, sizeof IPFIX_DATA);
    assert_int_equal(ipfix_encoder_take(e, &m), 0);         /* nothing pending */
    assert_null(m);

    /* The next data message: sequence 1 (one data record exported before). */
    assert_int_equal(ipfix_encoder_add(e, &ev, EXPORT_S), IPFIX_ENC_OK);
    n = ipfix_encoder_take(e, &m);
    assert_int_equal(n, sizeof IPFIX_DATA);
    assert_int_equal(m[11], 1);
    assert_memory_equal(m + 16, IPFIX_DATA + 16, sizeof IPFIX_DATA - 16);
    ipfix_encoder_destroy(e);
}

static void test_ipfix_microseconds_and_icmp(void **state)
{
    (void)state;
    ipfix_encoder *e = make(IPFIX_ENC_IPFIX, true, 1400);
    struct flow_event ev = curl_flow();
    ev.protocol = 1;
    ev.src_port = ev.dst_port = 0;
    ev.has_icmp = 1;
    ev.icmp_type = 8;
    ev.icmp_code = 0;
    const uint8_t *m;
    assert_int_equal(ipfix_encoder_add(e, &ev, EXPORT_S), IPFIX_ENC_FULL);
    (void)ipfix_encoder_take(e, &m);
    assert_int_equal(ipfix_encoder_add(e, &ev, EXPORT_S), IPFIX_ENC_OK);
    size_t n = ipfix_encoder_take(e, &m);
    assert_int_equal(m[16] << 8 | m[17], IPFIX_ENC_TID_V4_ICMP);
    /* flowStartMicroseconds: NTP seconds 3790101920 (+2208988800), fraction
     * ceil(474299 * 2^32 / 10^6) rounded up to 2048 (low 11 bits zero, RFC 7011 6.1.9),
     * which reads back as exactly .474299. */
    static const uint8_t start[] = {0xe1, 0xe8, 0x5d, 0xa0, 0x79, 0x6b, 0xb0, 0x00,
                                    0xe1, 0xe8, 0x5d, 0xa1, 0x92, 0x05, 0x38, 0x00};
    assert_memory_equal(m + 20, start, sizeof start);
    /* No ports: addresses, then vlanId, icmpTypeCodeIPv4 0x0800, flags 0 (not TCP). */
    static const uint8_t mid[] = {0xc0, 0xa8, 0x01, 0x0d, 0xb2, 0x3e, 0xc5, 0x82, 0x00, 0x00, 0x08, 0x00,
                                  0x00, 0x00, 0x00, 0x00, 0x01, 0x04, 0x03};
    assert_memory_equal(m + 20 + 48, mid, sizeof mid);
    assert_int_equal(n, 16 + 4 + 48 + sizeof mid + 30);
    ipfix_encoder_destroy(e);
}

/* NetFlow v9: the templates and both directions' records in one packet. */
static const uint8_t V9_PACKET[] = {
    0x00, 0x09, 0x00, 0x04,                          /* version 9, 4 records (2 templates, 2 data) */
    0x29, 0x32, 0xe7, 0xd0,                          /* sysUpTime 691202000 = unix_secs*1000 - boot */
    0x5e, 0x3d, 0xdf, 0x22,                          /* unix_secs 1581113122 (last end, rounded up) */
    0x00, 0x00, 0x00, 0x00,                          /* sequence 0 */
    0x00, 0x00, 0x00, 0x07,                          /* source id 7 */
    0x00, 0x00, 0x00, 0x7c,                          /* template flowset, length 124 (4 + 2 x 60) */
    0x01, 0x00, 0x00, 0x0e,                          /* template 256, 14 fields */
    0x00, 0x01, 0x00, 0x08, 0x00, 0x02, 0x00, 0x08,  /* IN_BYTES 8, IN_PKTS 8 */
    0x00, 0x16, 0x00, 0x04, 0x00, 0x15, 0x00, 0x04,  /* FIRST_SWITCHED 4, LAST_SWITCHED 4 */
    0x00, 0x08, 0x00, 0x04, 0x00, 0x0c, 0x00, 0x04,  /* IPV4_SRC_ADDR, IPV4_DST_ADDR */
    0x00, 0x07, 0x00, 0x02, 0x00, 0x0b, 0x00, 0x02,  /* L4_SRC_PORT, L4_DST_PORT */
    0x00, 0x3a, 0x00, 0x02, 0x00, 0x20, 0x00, 0x02,  /* SRC_VLAN, ICMP_TYPE */
    0x00, 0x04, 0x00, 0x01, 0x00, 0x06, 0x00, 0x01,  /* PROTOCOL, TCP_FLAGS */
    0x00, 0x3c, 0x00, 0x01, 0x00, 0x88, 0x00, 0x01,  /* IP_PROTOCOL_VERSION, flowEndReason */
    0x01, 0x01, 0x00, 0x0e,                          /* template 257, 14 fields */
    0x00, 0x01, 0x00, 0x08, 0x00, 0x02, 0x00, 0x08,
    0x00, 0x16, 0x00, 0x04, 0x00, 0x15, 0x00, 0x04,
    0x00, 0x1b, 0x00, 0x10, 0x00, 0x1c, 0x00, 0x10,  /* IPV6_SRC_ADDR 16, IPV6_DST_ADDR 16 */
    0x00, 0x07, 0x00, 0x02, 0x00, 0x0b, 0x00, 0x02,
    0x00, 0x3a, 0x00, 0x02, 0x00, 0x20, 0x00, 0x02,
    0x00, 0x04, 0x00, 0x01, 0x00, 0x06, 0x00, 0x01,
    0x00, 0x3c, 0x00, 0x01, 0x00, 0x88, 0x00, 0x01,
    0x01, 0x00, 0x00, 0x5c,                          /* data flowset 256, length 92 (4 + 2 x 44) */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0xa4,  /* initiator -> responder: 4260 bytes */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x33,  /* 51 packets */
    0x29, 0x32, 0xe1, 0xda, 0x29, 0x32, 0xe6, 0x22,  /* first/last: ms since boot (first - 8 days, floored) */
    0xc0, 0xa8, 0x01, 0x0d, 0xb2, 0x3e, 0xc5, 0x82,
    0xd8, 0xe3, 0x01, 0xbb, 0x00, 0x00, 0x00, 0x00,  /* ports, vlan, icmp */
    0x06, 0x1f, 0x04, 0x03,                          /* TCP, SAFRP, IPv4, end of flow */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x10, 0x5a,  /* responder -> initiator: 69722 bytes */
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x3a,  /* 58 packets */
    0x29, 0x32, 0xe1, 0xda, 0x29, 0x32, 0xe6, 0x22,
    0xb2, 0x3e, 0xc5, 0x82, 0xc0, 0xa8, 0x01, 0x0d,  /* addresses swapped */
    0x01, 0xbb, 0xd8, 0xe3, 0x00, 0x00, 0x00, 0x00,  /* ports swapped */
    0x06, 0x1b, 0x04, 0x03,                          /* TCP, SAFP */
};

static void test_netflow9_packet_bytes(void **state)
{
    (void)state;
    ipfix_encoder *e = make(IPFIX_ENC_NETFLOW9, false, 1400);
    struct flow_event ev = curl_flow();
    const uint8_t *m;
    assert_int_equal(ipfix_encoder_add(e, &ev, EXPORT_S), IPFIX_ENC_OK);
    assert_true(ipfix_encoder_has_templates(e));
    size_t n = ipfix_encoder_take(e, &m);
    assert_int_equal(n, sizeof V9_PACKET);
    assert_memory_equal(m, V9_PACKET, sizeof V9_PACKET);

    /* Next packet: no templates, sequence 1, one record when the responder was silent. */
    ev.dst_packets = ev.dst_bytes = 0;
    assert_int_equal(ipfix_encoder_add(e, &ev, EXPORT_S), IPFIX_ENC_OK);
    assert_false(ipfix_encoder_has_templates(e));
    n = ipfix_encoder_take(e, &m);
    assert_int_equal(n, 20 + 4 + 44);
    assert_int_equal(m[3], 1);
    assert_int_equal(m[15], 1);
    assert_int_equal(m[20] << 8 | m[21], 256);
    assert_int_equal(m[22] << 8 | m[23], 48);
    assert_memory_equal(m + 24, V9_PACKET + 20 + 124 + 4, 44);  /* the initiator's record as before */
    ipfix_encoder_destroy(e);
}

/* A full message is reported before anything is added; nothing is lost. */
static void test_full_then_take(void **state)
{
    (void)state;
    for (int p = 0; p < 2; p++) {
        ipfix_encoder *e = make(p ? IPFIX_ENC_NETFLOW9 : IPFIX_ENC_IPFIX, false, 512);
        struct flow_event ev = curl_flow();
        const uint8_t *m;
        uint32_t records = 0, in_msgs = 0;
        for (int i = 0; i < 40; i++) {
            enum ipfix_enc_status st = ipfix_encoder_add(e, &ev, EXPORT_S);
            if (st == IPFIX_ENC_FULL) {
                in_msgs += ipfix_encoder_pending(e);
                size_t n = ipfix_encoder_take(e, &m);
                assert_true(n > 0 && n <= 512);
                if (!p)
                    assert_int_equal(m[2] << 8 | m[3], n);   /* IPFIX: the length field */
                st = ipfix_encoder_add(e, &ev, EXPORT_S);
            }
            assert_int_equal(st, IPFIX_ENC_OK);
            records++;
        }
        in_msgs += ipfix_encoder_pending(e);
        assert_true(ipfix_encoder_take(e, &m) > 0);
        assert_int_equal(in_msgs, records);
        ipfix_encoder_destroy(e);
    }
}

static void test_refusals(void **state)
{
    (void)state;
    char err[128];
    struct ipfix_enc_opts o = {.protocol = IPFIX_ENC_IPFIX, .max_message = 100};
    assert_null(ipfix_encoder_create(&o, err, sizeof err));
    assert_string_equal(err, "ipfix: invalid encoder options");
    assert_null(ipfix_encoder_create(NULL, NULL, 0));
    ipfix_encoder_destroy(NULL);
    for (int p = 0; p < 2; p++) {
        ipfix_encoder *e = make(p ? IPFIX_ENC_NETFLOW9 : IPFIX_ENC_IPFIX, false, 1400);
        struct flow_event ev = curl_flow();
        ev.ip_version = 5;
        const uint8_t *m;
        enum ipfix_enc_status st = ipfix_encoder_add(e, &ev, EXPORT_S);
        if (st == IPFIX_ENC_FULL) {    /* IPFIX: the templates first */
            (void)ipfix_encoder_take(e, &m);
            st = ipfix_encoder_add(e, &ev, EXPORT_S);
        }
        assert_int_equal(st, IPFIX_ENC_ERROR);
        assert_int_equal(ipfix_encoder_pending(e), 0);
        ipfix_encoder_destroy(e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipfix_record_bytes),
        cmocka_unit_test(test_ipfix_microseconds_and_icmp),
        cmocka_unit_test(test_netflow9_packet_bytes),
        cmocka_unit_test(test_full_then_take),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
