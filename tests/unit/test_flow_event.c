/*
 * test_flow_event.c — FlowEvent JSON: exact keys, values and JSON types.
 *
 * go-Tracer's backend reads these objects, so each test prints the object the
 * way the sender does (compact), parses the text back and checks every key's
 * value and JSON type, that no other key is present, and that integers are
 * printed as plain digits (no fraction, no exponent) even near 2^53.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>

#include "common/ifnames.h"
#include "models/community_id.h"
#include "models/flow_event.h"
#include "models/tunnel.h"

enum kind { K_STR, K_INT, K_NUM, K_BOOL };

struct kv {
    const char *key;
    enum kind kind;
    const char *s;  /* K_STR */
    double num;     /* K_INT, K_NUM */
    bool b;         /* K_BOOL */
};

#define S(k, v) {(k), K_STR, (v), 0, false}
#define I(k, v) {(k), K_INT, NULL, (double)(v), false}
#define N(k, v) {(k), K_NUM, NULL, (v), false}
#define B(k, v) {(k), K_BOOL, NULL, 0, (v)}

/* The printed text of key's value in compact JSON `txt` (up to ',' or '}'). */
static void raw_value(const char *txt, const char *key, char *out, size_t outlen)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(txt, pat);
    assert_non_null(p);
    p += strlen(pat);
    size_t n = strcspn(p, ",}");
    assert_true(n < outlen);
    memcpy(out, p, n);
    out[n] = '\0';
}

static bool all_digits(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s))
            return false;
    return true;
}

/* Print `obj` compactly, parse it back, and check it against exp exactly. */
static void check_json(cJSON *obj, const struct kv *exp, size_t n)
{
    assert_non_null(obj);
    char *txt = cJSON_PrintUnformatted(obj);
    assert_non_null(txt);
    /* The sender's printer gives the same bytes as cJSON's for these values. */
    char mine[4096];
    size_t plen = flow_event_json_print(obj, mine, sizeof mine);
    assert_int_equal(plen, strlen(txt));
    assert_string_equal(mine, txt);
    cJSON *back = cJSON_Parse(txt);
    assert_non_null(back);
    assert_true(cJSON_IsObject(back));

    for (size_t i = 0; i < n; i++) {
        const cJSON *it = cJSON_GetObjectItemCaseSensitive(back, exp[i].key);
        if (!it)
            fail_msg("key %s missing in %s", exp[i].key, txt);
        char raw[64];
        switch (exp[i].kind) {
        case K_STR:
            if (!cJSON_IsString(it))
                fail_msg("key %s is not a string", exp[i].key);
            if (strcmp(it->valuestring, exp[i].s) != 0)
                fail_msg("key %s: got \"%s\", want \"%s\"", exp[i].key, it->valuestring, exp[i].s);
            break;
        case K_INT:
            if (!cJSON_IsNumber(it))
                fail_msg("key %s is not a number", exp[i].key);
            if (it->valuedouble != exp[i].num)
                fail_msg("key %s: got %.17g, want %.17g", exp[i].key, it->valuedouble, exp[i].num);
            raw_value(txt, exp[i].key, raw, sizeof raw);
            if (!all_digits(raw))
                fail_msg("key %s printed as %s, not an integer", exp[i].key, raw);
            break;
        case K_NUM:
            if (!cJSON_IsNumber(it))
                fail_msg("key %s is not a number", exp[i].key);
            if (it->valuedouble != exp[i].num)
                fail_msg("key %s: got %.17g, want %.17g", exp[i].key, it->valuedouble, exp[i].num);
            break;
        case K_BOOL:
            if (!cJSON_IsBool(it))
                fail_msg("key %s is not a bool", exp[i].key);
            assert_int_equal(cJSON_IsTrue(it) ? 1 : 0, exp[i].b ? 1 : 0);
            break;
        }
    }
    /* Exact key set: no extra keys, no duplicates. */
    size_t count = 0;
    for (const cJSON *it = back->child; it; it = it->next) {
        count++;
        bool known = false;
        for (size_t i = 0; i < n; i++)
            if (strcmp(it->string, exp[i].key) == 0)
                known = true;
        if (!known)
            fail_msg("unexpected key %s", it->string);
    }
    assert_int_equal(count, n);
    cJSON_Delete(back);
    free(txt);
}

static void set_addr(struct flow_event *ev, int v, const char *s, const char *d)
{
    ev->ip_version = (uint8_t)v;
    int af = v == 4 ? AF_INET : AF_INET6;
    assert_int_equal(inet_pton(af, s, ev->src_ip), 1);
    assert_int_equal(inet_pton(af, d, ev->dst_ip), 1);
}

/* 2023-11-14T22:13:20.123456Z */
#define T0 1700000000123456ULL

static void test_tcp_ipv4(void **state)
{
    (void)state;
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    set_addr(&ev, 4, "128.232.110.120", "66.35.250.204");
    ev.first_us = T0;
    ev.last_us = T0 + 2500543;   /* 22:13:22.623999 */
    ev.src_port = 34855;
    ev.dst_port = 80;
    ev.protocol = 6;
    ev.vlan_id = 42;
    ev.src_packets = 6;
    ev.src_bytes = 600;
    ev.dst_packets = 4;
    ev.dst_bytes = 3000;
    ev.src_tcp_flags = 0x02 | 0x10 | 0x01 | 0x08;  /* S A F P */
    ev.dst_tcp_flags = 0x02 | 0x10 | 0x01 | 0x04;  /* S A F R */
    ev.end_reason = FLOW_END_FIN;
    ev.final = 1;
    struct flow_event_ctx ctx = {.interface = "eth0", .hostname = "sensor-1", .community_seed = 0,
                                 .sensor_id = "7d444840-9dc0-41d5-8b9e-1e2a3f4b5c6d"};

    const struct kv exp[] = {
        S("flow_id", "128.232.110.120:34855-66.35.250.204:80-TCP"),
        S("timestamp", "2023-11-14T22:13:22.623Z"),
        S("interface", "eth0"),
        S("hostname", "sensor-1"),
        S("direction", "outbound"),
        S("src_ip", "128.232.110.120"),
        S("dst_ip", "66.35.250.204"),
        S("src_port", "34855"),
        S("dst_port", "80"),
        S("protocol", "TCP"),
        N("flow_duration", 2.500543),
        I("packet_count", 10),
        I("byte_count", 3600),
        N("avg_packet_size", 360.0),
        S("type", "flow"),
        I("schema_version", 2),
        S("sensor_id", "7d444840-9dc0-41d5-8b9e-1e2a3f4b5c6d"),
        S("event_id", "0123456789abcdef-1"),
        S("start_time", "2023-11-14T22:13:20.123456Z"),
        S("end_time", "2023-11-14T22:13:22.623999Z"),
        I("ip_version", 4),
        I("protocol_number", 6),
        I("vlan_id", 42),
        I("src_packets", 6),
        I("src_bytes", 600),
        I("dst_packets", 4),
        I("dst_bytes", 3000),
        S("src_tcp_flags", "SAFP"),
        S("dst_tcp_flags", "SAFR"),
        S("end_reason", "fin"),
        B("final", true),
        S("community_id", "1:LQU9qZlK+B5F3KDmev6m5PMibrg="),
    };
    cJSON *o = flow_event_to_json(&ev, &ctx, FLOW_DIR_OUTBOUND, "0123456789abcdef-1");
    check_json(o, exp, sizeof exp / sizeof exp[0]);
    cJSON_Delete(o);
}

static void test_udp_ipv6(void **state)
{
    (void)state;
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    set_addr(&ev, 6, "2001:db8::1", "2001:db8::2");
    ev.first_us = T0;
    ev.last_us = T0;             /* one packet: zero duration */
    ev.src_port = 5353;
    ev.dst_port = 53;
    ev.protocol = 17;
    ev.src_packets = 1;
    ev.src_bytes = 93;
    ev.end_reason = FLOW_END_ACTIVE;
    ev.final = 0;
    struct flow_event_ctx ctx = {.interface = "any", .hostname = "h", .community_seed = 7};

    const struct kv exp[] = {
        S("flow_id", "[2001:db8::1]:5353-[2001:db8::2]:53-UDP"),
        S("timestamp", "2023-11-14T22:13:20.123Z"),
        S("interface", "any"),
        S("hostname", "h"),
        S("direction", "inbound"),
        S("src_ip", "2001:db8::1"),
        S("dst_ip", "2001:db8::2"),
        S("src_port", "5353"),
        S("dst_port", "53"),
        S("protocol", "UDP"),
        N("flow_duration", 0.0),
        I("packet_count", 1),
        I("byte_count", 93),
        N("avg_packet_size", 93.0),
        S("type", "flow"),
        I("schema_version", 2),
        S("event_id", "e-2"),
        S("start_time", "2023-11-14T22:13:20.123456Z"),
        S("end_time", "2023-11-14T22:13:20.123456Z"),
        I("ip_version", 6),
        I("protocol_number", 17),
        I("vlan_id", 0),
        I("src_packets", 1),
        I("src_bytes", 93),
        I("dst_packets", 0),
        I("dst_bytes", 0),
        S("src_tcp_flags", ""),
        S("dst_tcp_flags", ""),
        S("end_reason", "active"),
        B("final", false),
        S("community_id", "1:1o4a7/nJ1p2MhtQt32l4nNBSKgg="),   /* seed 7 */
    };
    cJSON *o = flow_event_to_json(&ev, &ctx, FLOW_DIR_INBOUND, "e-2");
    check_json(o, exp, sizeof exp / sizeof exp[0]);
    cJSON_Delete(o);

    /* Seed 0 gives the seed-0 id. */
    ctx.community_seed = 0;
    o = flow_event_to_json(&ev, &ctx, FLOW_DIR_INBOUND, "e-2");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "community_id")->valuestring,
                        "1:sEzqFsMvqwEs2PgSeOAwGpzkZJo=");
    cJSON_Delete(o);
}

static void test_icmp(void **state)
{
    (void)state;
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    set_addr(&ev, 4, "192.168.0.89", "192.168.0.1");
    ev.first_us = T0;
    ev.last_us = T0 + 1000000;
    ev.protocol = 1;
    ev.has_icmp = 1;
    ev.icmp_type = 8;
    ev.icmp_code = 0;
    ev.src_packets = 3;
    ev.src_bytes = 294;
    ev.dst_packets = 3;
    ev.dst_bytes = 294;
    ev.end_reason = FLOW_END_IDLE;
    ev.final = 1;
    struct flow_event_ctx ctx = {.interface = "eth1", .hostname = "h2", .community_seed = 1};

    const struct kv exp[] = {
        S("flow_id", "192.168.0.89:0-192.168.0.1:0-ICMP"),
        S("timestamp", "2023-11-14T22:13:21.123Z"),
        S("interface", "eth1"),
        S("hostname", "h2"),
        S("direction", "local"),
        S("src_ip", "192.168.0.89"),
        S("dst_ip", "192.168.0.1"),
        S("src_port", "0"),
        S("dst_port", "0"),
        S("protocol", "ICMP"),
        N("flow_duration", 1.0),
        I("packet_count", 6),
        I("byte_count", 588),
        N("avg_packet_size", 98.0),
        S("type", "flow"),
        I("schema_version", 2),
        S("event_id", "x-3"),
        S("start_time", "2023-11-14T22:13:20.123456Z"),
        S("end_time", "2023-11-14T22:13:21.123456Z"),
        I("ip_version", 4),
        I("protocol_number", 1),
        I("vlan_id", 0),
        I("src_packets", 3),
        I("src_bytes", 294),
        I("dst_packets", 3),
        I("dst_bytes", 294),
        S("src_tcp_flags", ""),
        S("dst_tcp_flags", ""),
        I("icmp_type", 8),
        I("icmp_code", 0),
        S("end_reason", "idle"),
        B("final", true),
        S("community_id", "1:03g6IloqVBdcZlPyX8r0hgoE7kA="),   /* spec baseline, seed 1 */
    };
    cJSON *o = flow_event_to_json(&ev, &ctx, FLOW_DIR_LOCAL, "x-3");
    check_json(o, exp, sizeof exp / sizeof exp[0]);
    cJSON_Delete(o);
}

static void test_gre_portless(void **state)
{
    (void)state;
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    set_addr(&ev, 4, "10.1.12.1", "10.1.12.2");
    ev.first_us = 0;
    ev.last_us = 250000;
    ev.protocol = 47;
    ev.src_packets = 2;
    ev.src_bytes = 3;
    ev.dst_packets = 2;
    ev.dst_bytes = 2;
    ev.end_reason = FLOW_END_EVICTED;
    ev.final = 1;
    struct flow_event_ctx ctx = {.interface = "trace.pcap", .hostname = "h3"};

    const struct kv exp[] = {
        S("flow_id", "10.1.12.1:0-10.1.12.2:0-47"),
        S("timestamp", "1970-01-01T00:00:00.250Z"),
        S("interface", "trace.pcap"),
        S("hostname", "h3"),
        S("direction", "unknown"),
        S("src_ip", "10.1.12.1"),
        S("dst_ip", "10.1.12.2"),
        S("src_port", "0"),
        S("dst_port", "0"),
        S("protocol", "47"),
        N("flow_duration", 0.25),
        I("packet_count", 4),
        I("byte_count", 5),
        N("avg_packet_size", 1.25),
        S("type", "flow"),
        I("schema_version", 2),
        S("event_id", "g-4"),
        S("start_time", "1970-01-01T00:00:00.000000Z"),
        S("end_time", "1970-01-01T00:00:00.250000Z"),
        I("ip_version", 4),
        I("protocol_number", 47),
        I("vlan_id", 0),
        I("src_packets", 2),
        I("src_bytes", 3),
        I("dst_packets", 2),
        I("dst_bytes", 2),
        S("src_tcp_flags", ""),
        S("dst_tcp_flags", ""),
        S("end_reason", "evicted"),
        B("final", true),
        S("community_id", "1:DGkR+bCBNxKYP4mTZ2jyjj/8dck="),
    };
    cJSON *o = flow_event_to_json(&ev, &ctx, FLOW_DIR_UNKNOWN, "g-4");
    check_json(o, exp, sizeof exp / sizeof exp[0]);
    cJSON_Delete(o);
}

/* No packets at all: avg_packet_size is 0, not NaN (which cJSON prints as null). */
static void test_zero_packets(void **state)
{
    (void)state;
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    set_addr(&ev, 4, "10.0.0.1", "10.0.0.2");
    ev.protocol = 6;
    ev.end_reason = FLOW_END_SHUTDOWN;
    cJSON *o = flow_event_to_json(&ev, NULL, FLOW_DIR_UNKNOWN, "z-1");
    assert_non_null(o);
    const cJSON *avg = cJSON_GetObjectItemCaseSensitive(o, "avg_packet_size");
    assert_true(cJSON_IsNumber(avg));
    assert_true(avg->valuedouble == 0.0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "end_reason")->valuestring, "shutdown");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "interface")->valuestring, "");
    assert_true(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(o, "final")));
    char *txt = cJSON_PrintUnformatted(o);
    assert_non_null(strstr(txt, "\"avg_packet_size\":0,"));
    free(txt);
    cJSON_Delete(o);
}

/* Integers up to 2^53 (and beyond, up to UINT64_MAX) print as exact digits. */
static void test_big_integers(void **state)
{
    (void)state;
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    set_addr(&ev, 4, "10.0.0.1", "10.0.0.2");
    ev.protocol = 6;
    ev.src_packets = 1234567890123ULL;
    ev.src_bytes = 9007199254740991ULL;     /* 2^53 - 1 */
    ev.dst_packets = 1000000000000000ULL;   /* 10^15: cJSON alone prints "1e+15" */
    ev.dst_bytes = 0;
    ev.final = 1;
    cJSON *o = flow_event_to_json(&ev, NULL, FLOW_DIR_UNKNOWN, "b-1");
    assert_non_null(o);
    char *txt = cJSON_PrintUnformatted(o);
    assert_non_null(txt);
    assert_non_null(strstr(txt, "\"src_packets\":1234567890123,"));
    assert_non_null(strstr(txt, "\"src_bytes\":9007199254740991,"));
    assert_non_null(strstr(txt, "\"dst_packets\":1000000000000000,"));
    assert_non_null(strstr(txt, "\"dst_bytes\":0,"));
    assert_non_null(strstr(txt, "\"byte_count\":9007199254740991,"));
    assert_non_null(strstr(txt, "\"packet_count\":1001234567890123,"));
    /* Still valid JSON with the right values. */
    cJSON *back = cJSON_Parse(txt);
    assert_non_null(back);
    assert_true(cJSON_GetObjectItemCaseSensitive(back, "src_bytes")->valuedouble == 9007199254740991.0);
    assert_true(cJSON_GetObjectItemCaseSensitive(back, "src_packets")->valuedouble == 1234567890123.0);
    cJSON_Delete(back);
    free(txt);
    cJSON_Delete(o);

    /* Counters beyond 2^53 are still printed exactly. */
    memset(&ev, 0, sizeof ev);
    set_addr(&ev, 4, "10.0.0.1", "10.0.0.2");
    ev.protocol = 17;
    ev.src_bytes = UINT64_MAX;
    o = flow_event_to_json(&ev, NULL, FLOW_DIR_UNKNOWN, "b-2");
    txt = cJSON_PrintUnformatted(o);
    assert_non_null(strstr(txt, "\"src_bytes\":18446744073709551615,"));
    back = cJSON_Parse(txt);
    assert_non_null(back);
    cJSON_Delete(back);
    free(txt);
    cJSON_Delete(o);
}

static void test_tcp_flags_string(void **state)
{
    (void)state;
    char b[9];
    flow_tcp_flags_string(0, b, sizeof b);
    assert_string_equal(b, "");
    flow_tcp_flags_string(0xff, b, sizeof b);
    assert_string_equal(b, "SAFRPUEC");
    flow_tcp_flags_string(0x12, b, sizeof b);
    assert_string_equal(b, "SA");
    flow_tcp_flags_string(0x11, b, sizeof b);
    assert_string_equal(b, "AF");
    flow_tcp_flags_string(0x04, b, sizeof b);
    assert_string_equal(b, "R");
    flow_tcp_flags_string(0x01 | 0x02 | 0x04 | 0x08, b, sizeof b);
    assert_string_equal(b, "SFRP");
    flow_tcp_flags_string(0x20 | 0x40 | 0x80, b, sizeof b);
    assert_string_equal(b, "UEC");
    /* A short buffer is truncated, never overrun. */
    char small[3] = {'x', 'x', 'x'};
    flow_tcp_flags_string(0xff, small, sizeof small);
    assert_string_equal(small, "SA");
}

static void test_names(void **state)
{
    (void)state;
    char b[4];
    assert_string_equal(flow_protocol_name(1, b, sizeof b), "ICMP");
    assert_string_equal(flow_protocol_name(6, b, sizeof b), "TCP");
    assert_string_equal(flow_protocol_name(17, b, sizeof b), "UDP");
    assert_string_equal(flow_protocol_name(58, b, sizeof b), "ICMPv6");
    assert_string_equal(flow_protocol_name(132, b, sizeof b), "SCTP");
    assert_string_equal(flow_protocol_name(47, b, sizeof b), "47");
    assert_string_equal(flow_protocol_name(0, b, sizeof b), "0");
    assert_string_equal(flow_protocol_name(255, b, sizeof b), "255");

    assert_string_equal(flow_end_reason_name(FLOW_END_FIN), "fin");
    assert_string_equal(flow_end_reason_name(FLOW_END_RST), "rst");
    assert_string_equal(flow_end_reason_name(FLOW_END_IDLE), "idle");
    assert_string_equal(flow_end_reason_name(FLOW_END_ACTIVE), "active");
    assert_string_equal(flow_end_reason_name(FLOW_END_EVICTED), "evicted");
    assert_string_equal(flow_end_reason_name(FLOW_END_SHUTDOWN), "shutdown");
    assert_string_equal(flow_end_reason_name(FLOW_END_COUNT), "unknown");

    assert_string_equal(flow_direction_name(FLOW_DIR_UNKNOWN), "unknown");
    assert_string_equal(flow_direction_name(FLOW_DIR_INBOUND), "inbound");
    assert_string_equal(flow_direction_name(FLOW_DIR_OUTBOUND), "outbound");
    assert_string_equal(flow_direction_name(FLOW_DIR_LOCAL), "local");
}

/* ICMPv6 echo in a flow record hashes like the spec's ICMPv6 echo vector. */
static void test_icmpv6_community_id(void **state)
{
    (void)state;
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    set_addr(&ev, 6, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da");
    ev.protocol = 58;
    ev.has_icmp = 1;
    ev.icmp_type = 129;   /* echo reply seen first: still the same id */
    cJSON *o = flow_event_to_json(&ev, NULL, FLOW_DIR_UNKNOWN, "v6-1");
    assert_non_null(o);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "protocol")->valuestring, "ICMPv6");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "community_id")->valuestring,
                        "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg=");
    assert_true(cJSON_GetObjectItemCaseSensitive(o, "icmp_type")->valuedouble == 129.0);
    cJSON_Delete(o);
}

/* flow_event_json_print: exact integers, cJSON-identical strings, snprintf semantics. */
static void test_json_print(void **state)
{
    (void)state;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "max53", 9007199254740991.0);
    cJSON_AddNumberToObject(o, "e15", 1e15);
    cJSON_AddNumberToObject(o, "i", 1234567890123.0);
    cJSON_AddNumberToObject(o, "neg", -5);
    cJSON_AddNumberToObject(o, "zero", 0);
    cJSON_AddNumberToObject(o, "half", 0.5);
    cJSON_AddNumberToObject(o, "third", 1.0 / 3.0);
    cJSON_AddNumberToObject(o, "dur", 2.500543);
    cJSON_AddNumberToObject(o, "big", 1e300);
    cJSON_AddNumberToObject(o, "nan", NAN);
    cJSON_AddRawToObject(o, "raw", "18446744073709551615");
    cJSON_AddBoolToObject(o, "t", 1);
    cJSON_AddBoolToObject(o, "f", 0);
    cJSON_AddNullToObject(o, "n");
    cJSON *a = cJSON_AddArrayToObject(o, "arr");
    cJSON_AddItemToArray(a, cJSON_CreateString("x"));
    cJSON_AddItemToArray(a, cJSON_CreateObject());
    cJSON_AddItemToArray(a, cJSON_CreateArray());
    cJSON_AddStringToObject(o, "esc", "q\"b\\n\nr\rt\tc\x01\x1f\x7f\xc3\xa9/");
    const char *want =
        "{\"max53\":9007199254740991,\"e15\":1000000000000000,\"i\":1234567890123,"
        "\"neg\":-5,\"zero\":0,\"half\":0.5,\"third\":0.33333333333333331,"
        "\"dur\":2.500543,\"big\":1e+300,\"nan\":null,"
        "\"raw\":18446744073709551615,\"t\":true,\"f\":false,\"n\":null,"
        "\"arr\":[\"x\",{},[]],"
        "\"esc\":\"q\\\"b\\\\n\\nr\\rt\\tc\\u0001\\u001f\x7f\xc3\xa9/\"}";
    char buf[1024];
    size_t n = flow_event_json_print(o, buf, sizeof buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));

    /* Strings escape exactly like cJSON's printer. */
    cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "esc");
    char *cj = cJSON_PrintUnformatted(e);
    assert_int_equal(flow_event_json_print(e, buf, sizeof buf), strlen(cj));
    assert_string_equal(buf, cj);
    free(cj);

    /* Too small: the full length comes back, the text is cut and terminated. */
    char small[10];
    memset(small, 'x', sizeof small);
    assert_int_equal(flow_event_json_print(o, small, sizeof small), strlen(want));
    assert_int_equal(small[9], '\0');
    assert_memory_equal(small, want, 9);
    assert_int_equal(flow_event_json_print(o, NULL, 0), strlen(want));

    assert_int_equal(flow_event_json_print(NULL, buf, sizeof buf), SIZE_MAX);
    cJSON_Delete(o);
}

/* flow_event_format must give, byte for byte, what the cJSON path gives:
 * random records (addresses, ports, times, counters, flags, every protocol and
 * end reason, tiny and huge durations and averages), fixed seed. */
static uint64_t fmt_rng = 88172645463325252ull;
static uint64_t fmt_rand(void)
{
    fmt_rng ^= fmt_rng << 13;
    fmt_rng ^= fmt_rng >> 7;
    fmt_rng ^= fmt_rng << 17;
    return fmt_rng;
}

/* "initiator_inferred": true only when the TCP start was missed; absent otherwise. */
static void test_initiator_inferred(void **state)
{
    (void)state;
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    ev.ip_version = 4;
    ev.protocol = 6;
    ev.src_port = 40100;
    ev.dst_port = 443;
    ev.final = 1;
    static char buf[4096];
    flow_event_format(&ev, NULL, FLOW_DIR_UNKNOWN, "i-1", buf, sizeof buf);
    assert_null(strstr(buf, "initiator_inferred"));
    ev.initiator_inferred = 1;
    flow_event_format(&ev, NULL, FLOW_DIR_UNKNOWN, "i-1", buf, sizeof buf);
    assert_non_null(strstr(buf, "\"final\":true,\"initiator_inferred\":true,\"community_id\":"));
    cJSON *o = flow_event_to_json(&ev, NULL, FLOW_DIR_UNKNOWN, "i-1");
    assert_non_null(o);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "initiator_inferred")));
    cJSON_Delete(o);
}

/* Interface names, MACs, DSCP, TTL (issue 14 items 7-8): exact text, both builders. */
static void test_l2l3_fields(void **state)
{
    (void)state;
    ifnames *names = ifnames_create();
    assert_non_null(names);
    assert_int_equal(ifnames_add(names, 3, "veth-a"), 1);
    assert_int_equal(ifnames_add(names, 4, "veth-b"), 2);
    assert_int_equal(ifnames_add(names, 3, "veth-a"), 1);       /* the same pair: the same id */
    assert_string_equal(ifnames_name(names, 2), "veth-b");
    assert_null(ifnames_name(names, 0));
    assert_null(ifnames_name(names, 3));
    assert_int_equal(ifnames_find(names, 4), 2);
    assert_int_equal(ifnames_find(names, 9), 0);
    assert_int_equal(ifnames_find(names, 0), 0);
    struct flow_event_ctx ctx = {.interface = "any", .hostname = "h", .ifnames = names};
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    ev.ip_version = 4;
    ev.protocol = 17;
    ev.final = 1;
    ev.iface = 2;
    ev.iface_other = 1;
    const uint8_t sm[6] = {0x02, 0x00, 0x5e, 0x10, 0xab, 0xcd}, dm[6] = {0xff, 0xee, 0, 1, 2, 3};
    memcpy(ev.src_mac, sm, 6);
    memcpy(ev.dst_mac, dm, 6);
    ev.mac_known = 3;
    ev.side_seen = 3;
    ev.src_dscp = 46;
    ev.dst_dscp = 10;
    ev.src_ttl_min = 1;
    ev.src_ttl_max = 255;
    ev.dst_ttl_min = 63;
    ev.dst_ttl_max = 64;
    static char a[4096], b[4096];
    cJSON *o = flow_event_to_json(&ev, &ctx, FLOW_DIR_UNKNOWN, "e-1");
    assert_non_null(o);
    flow_event_json_print(o, a, sizeof a);
    cJSON_Delete(o);
    flow_event_format(&ev, &ctx, FLOW_DIR_UNKNOWN, "e-1", b, sizeof b);
    assert_string_equal(a, b);
    assert_non_null(strstr(b, "\"interface\":\"veth-b\","));
    const char *tail = strstr(b, "\"other_interface\"");
    assert_non_null(tail);
    assert_string_equal(tail, "\"other_interface\":\"veth-a\",\"src_mac\":\"02:00:5e:10:ab:cd\","
                              "\"dst_mac\":\"ff:ee:00:01:02:03\",\"src_dscp\":46,\"src_ttl_min\":1,"
                              "\"src_ttl_max\":255,\"dst_dscp\":10,\"dst_ttl_min\":63,\"dst_ttl_max\":64}");
    /* nothing known: none of them, and the capture's own name */
    ev.iface = ev.iface_other = 0;
    ev.mac_known = 0;
    ev.side_seen = 1;
    flow_event_format(&ev, &ctx, FLOW_DIR_UNKNOWN, "e-1", b, sizeof b);
    assert_non_null(strstr(b, "\"interface\":\"any\","));
    assert_null(strstr(b, "other_interface"));
    assert_null(strstr(b, "_mac"));
    assert_null(strstr(b, "dst_dscp"));
    assert_non_null(strstr(b, "\"src_dscp\":46,\"src_ttl_min\":1,\"src_ttl_max\":255}"));
    ifnames_destroy(names);
}

/* Random statistics / TCP health / process groups (issue 15 items 4-6). */
static void random_xstats(struct flow_xstats *x)
{
    static const double odd[] = {0.0, 0.5, 1.0 / 3.0, 1e-7, 123456.789, 1e15 + 0.5, 2e20, 7.0};
    x->have = (uint8_t)(fmt_rand() & 0x3f);
    for (int d = 0; d < 3; d++) {
        struct flow_dir_stats *s = &x->dir[d];
        s->size_min = (uint32_t)fmt_rand() % 70000;
        s->size_max = (uint32_t)fmt_rand();
        s->size_mean = fmt_rand() % 2 ? odd[fmt_rand() % 8] : (double)fmt_rand() / 7.0;
        s->size_stddev = odd[fmt_rand() % 8];
        s->iat_min_us = fmt_rand() % 3 ? fmt_rand() % 1000000 : fmt_rand();
        s->iat_max_us = fmt_rand();
        s->iat_mean_us = (double)fmt_rand() / 3.0;
        s->iat_stddev_us = odd[fmt_rand() % 8];
        s->payload_bytes = fmt_rand();
        for (int i = 0; i < FLAG_IX_COUNT; i++)
            s->flag_count[i] = (uint32_t)fmt_rand();
    }
    x->early_n = (uint8_t)(fmt_rand() % 3 ? 0 : fmt_rand() % (FLOW_EARLY_MAX + 1));
    x->early_dirs = (uint32_t)fmt_rand();
    for (unsigned i = 0; i < FLOW_EARLY_MAX; i++) {
        x->early_iat_us[i] = (uint32_t)fmt_rand();
        x->early_size[i] = (uint16_t)fmt_rand();
    }
    x->rtt_syn_synack_us = (uint32_t)fmt_rand();
    x->rtt_synack_ack_us = (uint32_t)fmt_rand();
    for (int i = 0; i < 2; i++) {
        x->retransmissions[i] = (uint32_t)fmt_rand();
        x->out_of_order[i] = (uint32_t)fmt_rand();
        x->zero_window[i] = (uint32_t)fmt_rand();
        x->proc_pid[i] = (int32_t)(fmt_rand() % 4194304);
        for (unsigned k = 0; k < FLOW_PROC_NAME_LEN; k++)   /* any bytes, unterminated */
            x->proc_name[i][k] = (char)(fmt_rand() % 5 ? 'a' + fmt_rand() % 26 : fmt_rand() % 256);
    }
}

/* The groups' exact JSON, and their absence when off. */
static void test_xstats_json(void **state)
{
    (void)state;
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    ev.ip_version = 4;
    ev.protocol = 6;
    ev.src_packets = 3;
    struct flow_event_ctx ctx = {"eth0", "h", 0};
    char buf[8192];
    flow_event_format(&ev, &ctx, FLOW_DIR_UNKNOWN, "id", buf, sizeof buf);
    assert_null(strstr(buf, "\"stats\""));
    assert_null(strstr(buf, "\"tcp\""));
    struct flow_xstats *x = &ev.xs;
    x->have = XS_STATS | XS_TCP | XS_RTT_ACK | XS_PROC_DST;
    x->dir[0] = (struct flow_dir_stats){.size_min = 40, .size_max = 1500, .size_mean = 513.5,
                                        .size_stddev = 0.25, .iat_min_us = 1, .iat_max_us = 9,
                                        .iat_mean_us = 5, .iat_stddev_us = 1.0 / 3.0,
                                        .payload_bytes = 1460, .flag_count = {1, 2, 3, 4, 5, 6, 7, 8}};
    x->early_n = 3;
    x->early_dirs = 2;
    x->early_size[0] = 60;
    x->early_size[1] = 60;
    x->early_size[2] = 52;
    x->early_iat_us[1] = 250;
    x->early_iat_us[2] = 7;
    x->rtt_synack_ack_us = 150;
    x->retransmissions[0] = 2;
    x->zero_window[1] = 1;
    x->proc_pid[1] = 4242;
    memcpy(x->proc_name[1], "nginx\"x", 8);
    size_t n = flow_event_format(&ev, &ctx, FLOW_DIR_UNKNOWN, "id", buf, sizeof buf);
    assert_true(n < sizeof buf);
    assert_non_null(strstr(buf,
        ",\"stats\":{\"src\":{\"size_min\":40,\"size_mean\":513.5,\"size_stddev\":0.25,"
        "\"size_max\":1500,\"iat_min_us\":1,\"iat_mean_us\":5,"
        "\"iat_stddev_us\":0.33333333333333331,\"iat_max_us\":9,\"payload_bytes\":1460,"
        "\"syn_count\":1,\"ack_count\":2,\"fin_count\":3,\"rst_count\":4,\"psh_count\":5,"
        "\"urg_count\":6,\"ece_count\":7,\"cwr_count\":8},\"dst\":{\"size_min\":0,"));
    assert_non_null(strstr(buf,
        "},\"early_packets\":{\"size\":[60,60,52],\"direction\":[0,1,0],\"iat_us\":[0,250,7]},"
        "\"tcp\":{\"rtt_synack_ack_us\":150,\"src_retransmissions\":2,\"dst_retransmissions\":0,"
        "\"src_out_of_order\":0,\"dst_out_of_order\":0,\"src_zero_window\":0,"
        "\"dst_zero_window\":1},\"process\":{\"dst_pid\":4242,\"dst_name\":\"nginx\\\"x\"}}"));
    cJSON *o = flow_event_to_json(&ev, &ctx, FLOW_DIR_UNKNOWN, "id");
    char a[8192];
    flow_event_json_print(o, a, sizeof a);
    cJSON_Delete(o);
    assert_string_equal(a, buf);
}

/* A double of any kind: tricky fixed values, "mean of integers" ratios, and
 * random bit patterns across every exponent. */
static double stat_double(void)
{
    static const double tricky[] = {
        0.0, -0.0, 1.0, 0.5, 0.1, 1.0 / 3.0, 2.0 / 3.0, 1e-4, 9.9999999999999991e-5, 1e-5,
        4.9406564584124654e-324, 2.2250738585072014e-308, -2.2250738585072014e-308,
        1.7976931348623157e308, 9.9999999999999995, 9.9999999999999982, 99999999999999.99,
        999999999999999.9, 999999999999999.5, 1e15 - 1.0, 1e15, 1e15 + 0.5, 1e16, 1e17,
        9007199254740991.0, 9007199254740992.0, 9007199254740994.0, 18446744073709551615.0,
        123456.789, 8046.6666666666661, 244.9, 1500.0, 40.0, 0.99999999999999989,
        1.0000000000000002, 4294967295.5, -1.5, -7.0, 1e300, 5e-300};
    switch (fmt_rand() % 6) {
    case 0:
        return tricky[fmt_rand() % (sizeof tricky / sizeof tricky[0])];
    case 1:                                            /* a mean of integers */
        return (double)(fmt_rand() % 100000000ull) / (double)(1 + fmt_rand() % 1000);
    case 2:                                            /* a standard deviation */
        return sqrt((double)(fmt_rand() % 10000000000ull) / (double)(1 + fmt_rand() % 1000));
    case 3: {                                          /* any finite bit pattern */
        uint64_t b = fmt_rand();
        double v;
        memcpy(&v, &b, sizeof v);
        return isfinite(v) ? v : 0.25;
    }
    case 4:
        return fmt_rand() % 2 ? INFINITY : NAN;
    default: {                                         /* around 1 .. 10^17, any fraction */
        uint64_t b = (fmt_rand() & ((1ull << 52) - 1u)) | ((uint64_t)(1023 + fmt_rand() % 57) << 52);
        double v;
        memcpy(&v, &b, sizeof v);
        return v;
    }
    }
}

/* The statistics' numbers, which flow_event_format writes on its own fast
 * path (whole values, 1 <= v < 10^15 with 15 or 17 digits, the rest as
 * jw_num): byte for byte the cJSON path, for every kind of double, the
 * widest integers and every early-packet count; and cut at every length. */
static void test_stats_numbers_match_cjson(void **state)
{
    (void)state;
    struct flow_event_ctx ctx = {.interface = "eth0", .hostname = "h"};
    static char a[16384], b[16384];
    for (int i = 0; i < 10000; i++) {
        struct flow_event ev;
        memset(&ev, 0, sizeof ev);
        ev.ip_version = 4;
        ev.protocol = 6;
        ev.src_packets = 1 + fmt_rand() % 1000;
        struct flow_xstats *x = &ev.xs;
        x->have = XS_STATS;
        bool wide = i % 1000 == 0;                      /* every field at its longest */
        for (int d = 0; d < 3; d++) {
            struct flow_dir_stats *st = &x->dir[d];
            st->size_min = wide ? UINT32_MAX : (uint32_t)(fmt_rand() % 3 ? fmt_rand() % 1600 : fmt_rand());
            st->size_max = wide ? UINT32_MAX : (uint32_t)fmt_rand();
            st->iat_min_us = wide ? UINT64_MAX : fmt_rand() % 4 ? fmt_rand() % 100 : fmt_rand();
            st->iat_max_us = wide ? UINT64_MAX : fmt_rand() >> (fmt_rand() % 64);
            st->payload_bytes = wide ? UINT64_MAX : fmt_rand() >> (fmt_rand() % 64);
            double *dv[4] = {&st->size_mean, &st->size_stddev, &st->iat_mean_us, &st->iat_stddev_us};
            for (int k = 0; k < 4; k++)
                *dv[k] = wide ? -2.2250738585072014e-308 : stat_double();
            for (int f = 0; f < FLAG_IX_COUNT; f++)
                st->flag_count[f] = wide ? UINT32_MAX : (uint32_t)(fmt_rand() >> (fmt_rand() % 64));
        }
        x->early_n = (uint8_t)(wide ? FLOW_EARLY_MAX : fmt_rand() % (FLOW_EARLY_MAX + 1));
        x->early_dirs = (uint32_t)fmt_rand();
        for (unsigned k = 0; k < FLOW_EARLY_MAX; k++) {
            x->early_size[k] = wide ? UINT16_MAX : (uint16_t)fmt_rand();
            x->early_iat_us[k] = wide ? UINT32_MAX : (uint32_t)(fmt_rand() >> (fmt_rand() % 64));
        }
        if (i % 7 == 0)
            x->have = 0;                               /* early packets without "stats" */
        cJSON *o = flow_event_to_json(&ev, &ctx, FLOW_DIR_UNKNOWN, "id");
        assert_non_null(o);
        size_t n1 = flow_event_json_print(o, a, sizeof a);
        cJSON_Delete(o);
        size_t n2 = flow_event_format(&ev, &ctx, FLOW_DIR_UNKNOWN, "id", b, sizeof b);
        assert_true(n1 < sizeof a);
        assert_int_equal(n1, n2);
        assert_string_equal(a, b);
        if (i % 5000 == 1 || wide) {                   /* every cut, into a buffer of just that size */
            for (size_t len = 0; len <= n1 + 1; len++) {
                char *cut = len ? malloc(len) : NULL;
                assert_true(len == 0 || cut != NULL);
                assert_int_equal(flow_event_format(&ev, &ctx, FLOW_DIR_UNKNOWN, "id", cut, len), n1);
                if (len) {
                    size_t keep = len - 1 < n1 ? len - 1 : n1;
                    assert_memory_equal(cut, a, keep);
                    assert_int_equal(cut[keep], '\0');
                }
                free(cut);
            }
        }
    }
}

/* "app" (issue 15): nDPI's label as one object after the existing fields; absent without DPI. */
static void test_app(void **state)
{
    (void)state;
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    ev.ip_version = 4;
    ev.protocol = 6;
    ev.final = 1;
    static char buf[4096];
    flow_event_format(&ev, NULL, FLOW_DIR_UNKNOWN, "i-1", buf, sizeof buf);
    assert_null(strstr(buf, "\"app\""));
    ev.has_app = 1;
    strcpy(ev.app_protocol, "TLS");
    strcpy(ev.app_name, "YouTube");
    strcpy(ev.app_category, "Media");
    flow_event_format(&ev, NULL, FLOW_DIR_UNKNOWN, "i-1", buf, sizeof buf);
    const char *want = ",\"app\":{\"protocol\":\"TLS\",\"application\":\"YouTube\","
                       "\"category\":\"Media\",\"guessed\":false}}";
    assert_string_equal(buf + strlen(buf) - strlen(want), want);
    ev.app_guessed = 1;
    cJSON *o = flow_event_to_json(&ev, NULL, FLOW_DIR_UNKNOWN, "i-1");
    assert_non_null(o);
    cJSON *a = cJSON_GetObjectItemCaseSensitive(o, "app");
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(a, "application")->valuestring, "YouTube");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(a, "guessed")));
    cJSON_Delete(o);
}

static void test_format_matches_cjson(void **state)
{
    (void)state;
    static const uint8_t protos[] = {6, 17, 1, 58, 132, 47, 0, 255};
    struct flow_event_ctx ctx = {.interface = "eth0", .hostname = "host\"x\n", .community_seed = 7,
                                  .sensor_id = "5c1e\"d"};
    ifnames *names = ifnames_create();
    assert_non_null(names);
    assert_int_equal(ifnames_add(names, 2, "eth1"), 1);
    assert_int_equal(ifnames_add(names, 0, "we\"ird\\"), 2);
    ctx.ifnames = names;
    static char a[8192], b[8192];
    for (int i = 0; i < 50000; i++) {
        struct flow_event ev;
        memset(&ev, 0, sizeof ev);
        ev.ip_version = fmt_rand() % 10 == 0 ? 6 : (fmt_rand() % 50 == 0 ? 5 : 4);
        for (int k = 0; k < 16; k++) {
            ev.src_ip[k] = (uint8_t)fmt_rand();
            ev.dst_ip[k] = (uint8_t)fmt_rand();
        }
        if (ev.ip_version == 4) {
            memset(ev.src_ip + 4, 0, 12);
            memset(ev.dst_ip + 4, 0, 12);
        }
        ev.src_port = (uint16_t)fmt_rand();
        ev.dst_port = fmt_rand() % 3 ? (uint16_t)fmt_rand() : 0;
        ev.protocol = protos[fmt_rand() % 8];
        uint64_t t0 = 1704067200000000ull + fmt_rand() % 100000000000ull;
        uint64_t d = fmt_rand() % 5 == 0 ? fmt_rand() % 200
                   : (fmt_rand() % 3 ? fmt_rand() % 10000000ull : fmt_rand() % 1000000000000ull);
        if (fmt_rand() % 50 == 0)
            t0 = fmt_rand() % 4000000000000000000ull;
        ev.first_us = t0;
        ev.last_us = t0 + d;
        ev.src_packets = fmt_rand() % 4 ? fmt_rand() % 100 : fmt_rand() % 100000000ull;
        ev.dst_packets = fmt_rand() % 100;
        ev.src_bytes = ev.src_packets * (fmt_rand() % 1500) + fmt_rand() % 1000;
        ev.dst_bytes = ev.dst_packets * (fmt_rand() % 1500) + (fmt_rand() % 3 ? 0 : fmt_rand() % 7);
        if (fmt_rand() % 100 == 0) {
            ev.src_bytes = fmt_rand();
            ev.src_packets = fmt_rand() % 1000000 + 1;
        }
        ev.vlan_id = (uint16_t)(fmt_rand() % 4096);
        ev.src_tcp_flags = (uint8_t)fmt_rand();
        ev.dst_tcp_flags = (uint8_t)fmt_rand();
        ev.has_icmp = fmt_rand() % 3 == 0;
        ev.icmp_type = (uint8_t)fmt_rand();
        ev.icmp_code = (uint8_t)fmt_rand();
        ev.end_reason = (uint8_t)(fmt_rand() % 7);
        ev.final = fmt_rand() % 2;
        ev.initiator_inferred = fmt_rand() % 4 == 0;
        if (fmt_rand() % 3 == 0) {               /* tunnel (issue 14) */
            ev.tun_type = (uint8_t)(1 + fmt_rand() % (TUNNEL_COUNT - 1));
            ev.tun_depth = (uint8_t)(1 + fmt_rand() % 3);
            ev.tun_outer_ipver = fmt_rand() % 4 == 0 ? 6 : 4;
            ev.tun_has_id = fmt_rand() % 2;
            ev.tun_id = (uint32_t)fmt_rand();
            for (int k = 0; k < 16; k++) {
                ev.tun_outer_src[k] = k < 4 || ev.tun_outer_ipver == 6 ? (uint8_t)fmt_rand() : 0;
                ev.tun_outer_dst[k] = k < 4 || ev.tun_outer_ipver == 6 ? (uint8_t)fmt_rand() : 0;
            }
        }
        ev.iface = (uint16_t)(fmt_rand() % 4);
        ev.iface_other = (uint16_t)(fmt_rand() % 4);
        for (int k = 0; k < 6; k++) {
            ev.src_mac[k] = (uint8_t)fmt_rand();
            ev.dst_mac[k] = (uint8_t)fmt_rand();
        }
        ev.mac_known = (uint8_t)(fmt_rand() % 4);
        ev.side_seen = (uint8_t)(fmt_rand() % 4);
        ev.src_dscp = (uint8_t)(fmt_rand() % 64);
        ev.dst_dscp = (uint8_t)(fmt_rand() % 64);
        ev.src_ttl_min = (uint8_t)fmt_rand();
        ev.src_ttl_max = (uint8_t)fmt_rand();
        ev.dst_ttl_min = (uint8_t)fmt_rand();
        ev.dst_ttl_max = (uint8_t)fmt_rand();
        if (fmt_rand() % 2)
            random_xstats(&ev.xs);
        /* dpi (issue 15) */
        ev.has_app = fmt_rand() % 2;
        ev.app_guessed = fmt_rand() % 2;
        static const char *const app_names[] = {"TLS", "YouTube", "Unknown", "Download/FileTransfer/FileSharing",
                                            "a\"b\\c"};
        snprintf(ev.app_protocol, sizeof ev.app_protocol, "%s", app_names[fmt_rand() % 5]);
        snprintf(ev.app_name, sizeof ev.app_name, "%s", app_names[fmt_rand() % 5]);
        snprintf(ev.app_category, sizeof ev.app_category, "%s", app_names[fmt_rand() % 5]);
        if (fmt_rand() % 3 == 0) {               /* metadata (issue 15, inspect/) */
            memset(&ev.meta, 0, sizeof ev.meta);
            ev.meta.kind = INSPECT_KIND_HTTP;
            ev.meta.u.http.has_request = 1;
            snprintf(ev.meta.u.http.method, sizeof ev.meta.u.http.method, "GET");
            snprintf(ev.meta.u.http.host, sizeof ev.meta.u.http.host, "%s", app_names[fmt_rand() % 5]);
            snprintf(ev.meta.u.http.path, sizeof ev.meta.u.http.path, "/%s", app_names[fmt_rand() % 5]);
            if (fmt_rand() % 2) {
                ev.meta.u.http.has_response = 1;
                ev.meta.u.http.status = (uint16_t)(100 + fmt_rand() % 500);
            }
        }
        enum flow_direction dir = (enum flow_direction)(fmt_rand() % 4);
        char id[40];
        snprintf(id, sizeof id, "0123456789abcdef-%d", i);
        cJSON *o = flow_event_to_json(&ev, &ctx, dir, id);
        assert_non_null(o);
        size_t n1 = flow_event_json_print(o, a, sizeof a);
        cJSON_Delete(o);
        size_t n2 = flow_event_format(&ev, &ctx, dir, id, b, sizeof b);
        assert_int_equal(n1, n2);
        assert_string_equal(a, b);
        /* snprintf semantics when the buffer is short */
        size_t n3 = flow_event_format(&ev, &ctx, dir, id, b, 10);
        assert_int_equal(n3, n1);
        assert_int_equal(strlen(b), 9);
    }
    ifnames_destroy(names);
}

/* The tunnel object, literally (issue 14). */
static void test_tunnel_object(void **state)
{
    (void)state;
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    ev.ip_version = 4;
    ev.protocol = 17;
    ev.src_ip[0] = 10, ev.src_ip[3] = 1;
    ev.dst_ip[0] = 10, ev.dst_ip[3] = 2;
    ev.src_port = 5000, ev.dst_port = 53;
    ev.first_us = ev.last_us = 1704067200000000ull;
    ev.src_packets = 1, ev.src_bytes = 100;
    ev.tun_type = TUNNEL_VXLAN;
    ev.tun_depth = 2;
    ev.tun_outer_ipver = 6;
    ev.tun_outer_src[0] = 0x20, ev.tun_outer_src[1] = 0x01, ev.tun_outer_src[15] = 1;
    ev.tun_outer_dst[0] = 0x20, ev.tun_outer_dst[1] = 0x01, ev.tun_outer_dst[15] = 2;
    ev.tun_id = 4096;
    ev.tun_has_id = 1;
    static char buf[4096];
    flow_event_format(&ev, NULL, FLOW_DIR_UNKNOWN, "x", buf, sizeof buf);
    const char *t = strstr(buf, ",\"tunnel\":");
    assert_non_null(t);
    assert_string_equal(t, ",\"tunnel\":{\"type\":\"vxlan\",\"depth\":2,\"outer_src_ip\":\"2001::1\","
                           "\"outer_dst_ip\":\"2001::2\",\"vni\":4096}}");
    ev.tun_type = TUNNEL_IPIP;                   /* no id of its own */
    ev.tun_outer_ipver = 4;
    memset(ev.tun_outer_src, 0, 16), ev.tun_outer_src[0] = 192, ev.tun_outer_src[3] = 9;
    memset(ev.tun_outer_dst, 0, 16), ev.tun_outer_dst[0] = 192, ev.tun_outer_dst[3] = 8;
    flow_event_format(&ev, NULL, FLOW_DIR_UNKNOWN, "x", buf, sizeof buf);
    assert_string_equal(strstr(buf, ",\"tunnel\":"),
                        ",\"tunnel\":{\"type\":\"ipip\",\"depth\":2,\"outer_src_ip\":\"192.0.0.9\","
                        "\"outer_dst_ip\":\"192.0.0.8\"}}");
    ev.tun_type = TUNNEL_NONE;
    flow_event_format(&ev, NULL, FLOW_DIR_UNKNOWN, "x", buf, sizeof buf);
    assert_null(strstr(buf, "tunnel"));
}

/* The bytes a record carries grow group by group, and an unsealed record travels whole. */
static void test_seal_used_len(void **state)
{
    (void)state;
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    assert_int_equal(flow_event_used(&ev), sizeof ev);
    flow_event_seal(&ev);
    assert_int_equal(ev.used_len, offsetof(struct flow_event, xs));
    assert_int_equal(flow_event_used(&ev), offsetof(struct flow_event, xs));
    ev.xs.have = XS_TCP;
    ev.xs.retransmissions[1] = 3;
    ev.xs.proc_name[1][0] = 'x';
    flow_event_seal(&ev);
    assert_int_equal(ev.used_len, offsetof(struct flow_event, xs) + offsetof(struct flow_xstats, dir));
    assert_true(ev.used_len > offsetof(struct flow_event, xs.proc_name[1][FLOW_PROC_NAME_LEN - 1]));
    ev.xs.have |= XS_STATS;
    flow_event_seal(&ev);
    assert_int_equal(ev.used_len, offsetof(struct flow_event, has_app));
    ev.xs.have = 0;
    ev.meta.kind = INSPECT_KIND_DNS;
    flow_event_seal(&ev);
    assert_int_equal(ev.used_len, sizeof ev);
    ev.meta.kind = INSPECT_KIND_NONE;
    ev.has_app = 1;
    flow_event_seal(&ev);
    assert_int_equal(ev.used_len, sizeof ev);
}

/* The event rings' slot size holds every record the configured groups can seal. */
static void test_slot_size(void **state)
{
    (void)state;
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    ev.xs.have = XS_TCP | XS_PROC_SRC | XS_PROC_DST;          /* defaults: health, process */
    flow_event_seal(&ev);
    assert_int_equal(flow_event_slot_size(false, false), ev.used_len);
    assert_int_equal(flow_event_slot_size(false, false),
                     offsetof(struct flow_event, xs) + offsetof(struct flow_xstats, dir));
    ev.xs.early_n = 8;                                        /* statistics and early packets */
    flow_event_seal(&ev);
    assert_int_equal(flow_event_slot_size(false, true), ev.used_len);
    ev.xs.have |= XS_STATS;
    flow_event_seal(&ev);
    assert_int_equal(flow_event_slot_size(false, true), ev.used_len);
    ev.meta.kind = INSPECT_KIND_TLS;                          /* DPI */
    flow_event_seal(&ev);
    assert_int_equal(flow_event_slot_size(true, true), ev.used_len);
    assert_int_equal(flow_event_slot_size(true, false), sizeof ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_ipv4),
        cmocka_unit_test(test_seal_used_len),
        cmocka_unit_test(test_slot_size),
        cmocka_unit_test(test_udp_ipv6),
        cmocka_unit_test(test_icmp),
        cmocka_unit_test(test_gre_portless),
        cmocka_unit_test(test_zero_packets),
        cmocka_unit_test(test_big_integers),
        cmocka_unit_test(test_tcp_flags_string),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_icmpv6_community_id),
        cmocka_unit_test(test_json_print),
        cmocka_unit_test(test_initiator_inferred),
        cmocka_unit_test(test_l2l3_fields),
        cmocka_unit_test(test_app),
        cmocka_unit_test(test_format_matches_cjson),
        cmocka_unit_test(test_tunnel_object),
        cmocka_unit_test(test_xstats_json),
        cmocka_unit_test(test_stats_numbers_match_cjson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
