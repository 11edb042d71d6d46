/*
 * test_lldp.c — LLDP/CDP frame classification (capture/decode.c), decoding,
 * JSON and the report-once-per-TTL table (hooks/topology/l2_neighbors.c).
 *
 * Frames are built here TLV by TLV, so every expected value is visible next
 * to the bytes that carry it. Each frame is also cut at every offset into an
 * exact-size heap copy, so AddressSanitizer catches a read one byte past the
 * capture; a cut frame must either be refused or come back marked truncated.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "capture/decode.h"
#include "hooks/topology/l2_neighbors.h"

struct buf {
    uint8_t b[1600];
    size_t n;
};

static void put(struct buf *f, const void *p, size_t n)
{
    assert_true(f->n + n <= sizeof f->b);
    if (n)
        memcpy(f->b + f->n, p, n);
    f->n += n;
}

static void put8(struct buf *f, uint8_t v) { put(f, &v, 1); }
static void put16(struct buf *f, uint16_t v) { put8(f, (uint8_t)(v >> 8)); put8(f, (uint8_t)v); }

static void lldp_tlv(struct buf *f, unsigned type, const void *v, size_t n)
{
    put16(f, (uint16_t)(type << 9 | n));
    put(f, v, n);
}

static const uint8_t SRC_MAC[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
static const uint8_t IP4_A[4] = {192, 0, 2, 1};
static const uint8_t IP6_A[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

/* An LLDPDU with every TLV the decoder uses (IEEE 802.1AB-2016 §8.5). */
static void lldp_pdu(struct buf *f, uint16_t ttl)
{
    uint8_t chassis[7] = {4, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55};   /* subtype 4: MAC */
    uint8_t port[5] = {5, 'e', 't', 'h', '0'};                      /* subtype 5: interface name */
    uint8_t t[2] = {(uint8_t)(ttl >> 8), (uint8_t)ttl};
    uint8_t caps[4] = {0x00, 0x14, 0x00, 0x04};                     /* bridge+router, bridge */
    uint8_t m4[12] = {5, 1, 192, 0, 2, 1, 2, 0, 0, 0, 1, 0};        /* IPv4 192.0.2.1 */
    uint8_t m6[24] = {17, 2};
    memcpy(m6 + 2, IP6_A, 16);
    m6[18] = 2;
    m6[22] = 1;
    uint8_t pvid[6] = {0x00, 0x80, 0xc2, 1, 0x00, 0x2a};            /* 802.1 Port VLAN ID 42 */
    lldp_tlv(f, 1, chassis, sizeof chassis);
    lldp_tlv(f, 2, port, sizeof port);
    lldp_tlv(f, 3, t, 2);
    lldp_tlv(f, 4, "uplink", 6);
    lldp_tlv(f, 5, "sw1", 3);
    lldp_tlv(f, 6, "Test switch", 11);
    lldp_tlv(f, 7, caps, 4);
    lldp_tlv(f, 8, m4, sizeof m4);
    lldp_tlv(f, 8, m6, sizeof m6);
    lldp_tlv(f, 127, pvid, sizeof pvid);
    lldp_tlv(f, 0, NULL, 0);
}

static void lldp_frame(struct buf *f, uint16_t ttl, bool tagged)
{
    static const uint8_t dst[6] = {0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e};
    f->n = 0;
    put(f, dst, 6);
    put(f, SRC_MAC, 6);
    if (tagged) {
        put16(f, 0x8100);
        put16(f, 7);
    }
    put16(f, 0x88cc);
    lldp_pdu(f, ttl);
}

static void cdp_tlv(struct buf *f, uint16_t type, const void *v, size_t n)
{
    put16(f, type);
    put16(f, (uint16_t)(n + 4));
    put(f, v, n);
}

/* CDP address list with one IPv4 address (NLPID 0xcc). */
static void cdp_addr_v4(uint8_t out[13], const uint8_t ip[4])
{
    const uint8_t a[13] = {0, 0, 0, 1, 1, 1, 0xcc, 0, 4, ip[0], ip[1], ip[2], ip[3]};
    memcpy(out, a, 13);
}

static void cdp_frame(struct buf *f, uint16_t pid)
{
    static const uint8_t dst[6] = {0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc};
    static const uint8_t llc[6] = {0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c};
    struct buf pdu = {.n = 0};
    uint8_t a[13], m[13], caps[4] = {0, 0, 0, 0x29}, vlan[2] = {0, 1};
    const uint8_t ip6[] = {0, 0, 0, 1, 2, 8, 0xaa, 0xaa, 0x03, 0, 0, 0, 0x86, 0xdd, 0, 16,
                           0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    put8(&pdu, 2);
    put8(&pdu, 180);
    put16(&pdu, 0);
    cdp_tlv(&pdu, 0x01, "R1x", 3);
    cdp_addr_v4(a, IP4_A);
    cdp_tlv(&pdu, 0x02, a, 13);
    cdp_tlv(&pdu, 0x03, "Gi0/1", 5);
    cdp_tlv(&pdu, 0x04, caps, 4);
    cdp_tlv(&pdu, 0x05, "IOS 15.2", 8);
    cdp_tlv(&pdu, 0x06, "C2960", 5);
    cdp_tlv(&pdu, 0x0a, vlan, 2);
    const uint8_t ip6m[4] = {192, 0, 2, 6};
    cdp_addr_v4(m, ip6m);
    cdp_tlv(&pdu, 0x16, m, 13);
    cdp_tlv(&pdu, 0x16, ip6, sizeof ip6);          /* a second list: IPv6 */
    f->n = 0;
    put(f, dst, 6);
    put(f, SRC_MAC, 6);
    put16(f, (uint16_t)(8 + pdu.n));
    put(f, llc, 6);
    put16(f, pid);
    put(f, pdu.b, pdu.n);
}

static bool bytes_eq(const struct l2n_bytes *b, const char *s)
{
    return b->p && b->len == strlen(s) && memcmp(b->p, s, b->len) == 0;
}

/* ---- classification ------------------------------------------------------ */

static void test_classify(void **state)
{
    (void)state;
    struct buf f;
    struct decode_l2_info info;

    lldp_frame(&f, 120, false);
    assert_int_equal(decode_l2_discovery(DECODE_DLT_EN10MB, f.b, f.n, &info), DECODE_L2_LLDP);
    assert_int_equal(info.offset, 14);
    assert_int_equal(info.has_src_mac, 1);
    assert_memory_equal(info.src_mac, SRC_MAC, 6);

    lldp_frame(&f, 120, true);
    assert_int_equal(decode_l2_discovery(DECODE_DLT_EN10MB, f.b, f.n, &info), DECODE_L2_LLDP);
    assert_int_equal(info.offset, 18);
    assert_int_equal(info.vlan_id, 7);

    cdp_frame(&f, 0x2000);
    assert_int_equal(decode_l2_discovery(DECODE_DLT_EN10MB, f.b, f.n, &info), DECODE_L2_CDP);
    assert_int_equal(info.offset, 22);
    /* DTP (PID 0x2004) and UDLD share the address but are not CDP. */
    cdp_frame(&f, 0x2004);
    assert_int_equal(decode_l2_discovery(DECODE_DLT_EN10MB, f.b, f.n, &info), DECODE_L2_NONE);
    /* CDP's SNAP header sent to another address is not CDP. */
    cdp_frame(&f, 0x2000);
    f.b[5] = 0xcd;
    assert_int_equal(decode_l2_discovery(DECODE_DLT_EN10MB, f.b, f.n, &info), DECODE_L2_NONE);

    /* Linux cooked v1: LLDP by protocol, CDP by the 802.2 protocol + SNAP. */
    struct buf s = {.n = 0};
    lldp_frame(&f, 120, false);
    put16(&s, 0);
    put16(&s, 1);
    put16(&s, 6);
    put(&s, SRC_MAC, 6);
    put16(&s, 0);
    put16(&s, 0x88cc);
    put(&s, f.b + 14, f.n - 14);
    assert_int_equal(decode_l2_discovery(DECODE_DLT_LINUX_SLL, s.b, s.n, &info), DECODE_L2_LLDP);
    assert_int_equal(info.offset, 16);
    assert_memory_equal(info.src_mac, SRC_MAC, 6);
    cdp_frame(&f, 0x2000);
    s.n = 14;
    put16(&s, 0x0004);
    put(&s, f.b + 14, f.n - 14);
    assert_int_equal(decode_l2_discovery(DECODE_DLT_LINUX_SLL, s.b, s.n, &info), DECODE_L2_CDP);
    assert_int_equal(info.offset, 24);

    /* IP and raw-IP link types are never discovery frames. */
    assert_int_equal(decode_l2_discovery(DECODE_DLT_RAW, f.b, f.n, &info), DECODE_L2_NONE);
    assert_int_equal(decode_l2_discovery(DECODE_DLT_EN10MB, NULL, 0, &info), DECODE_L2_NONE);
}

/* ---- decoding ------------------------------------------------------------- */

static void test_lldp_fields(void **state)
{
    (void)state;
    struct buf f;
    struct decode_l2_info info;
    struct l2n_neighbor n;
    lldp_frame(&f, 120, false);
    assert_int_equal(decode_l2_discovery(DECODE_DLT_EN10MB, f.b, f.n, &info), DECODE_L2_LLDP);
    assert_int_equal(l2n_decode_frame(DECODE_L2_LLDP, &info, f.b, f.n, false, &n), L2N_OK);
    assert_false(n.truncated);
    assert_int_equal(n.chassis_subtype, 4);
    assert_int_equal(n.chassis_id.len, 6);
    assert_memory_equal(n.chassis_id.p, SRC_MAC, 6);
    assert_int_equal(n.port_subtype, 5);
    assert_true(bytes_eq(&n.port_id, "eth0"));
    assert_true(n.has_ttl);
    assert_int_equal(n.ttl, 120);
    assert_true(bytes_eq(&n.port_description, "uplink"));
    assert_true(bytes_eq(&n.system_name, "sw1"));
    assert_true(bytes_eq(&n.system_description, "Test switch"));
    assert_true(n.has_caps);
    assert_int_equal(n.cap_system, 0x14);
    assert_int_equal(n.cap_enabled, 0x04);
    assert_int_equal(n.n_mgmt, 2);
    assert_int_equal(n.mgmt[0].family, 4);
    assert_memory_equal(n.mgmt[0].addr, IP4_A, 4);
    assert_int_equal(n.mgmt[1].family, 6);
    assert_memory_equal(n.mgmt[1].addr, IP6_A, 16);
    assert_true(n.has_native_vlan);
    assert_int_equal(n.native_vlan, 42);

    cJSON *o = l2n_to_json(&n, &info, "eth9", 1700000000123456ull);
    assert_non_null(o);
    char *txt = cJSON_PrintUnformatted(o);
    assert_non_null(txt);
    const char *want[] = {
        "\"type\":\"topology_change\"", "\"change\":\"lldp_neighbor\"", "\"interface\":\"eth9\"",
        "\"timestamp\":\"2023-11-14T22:13:20.123Z\"", "\"chassis_id\":\"02:11:22:33:44:55\"",
        "\"chassis_id_subtype\":\"mac_address\"", "\"port_id\":\"eth0\"",
        "\"port_id_subtype\":\"interface_name\"", "\"port_description\":\"uplink\"",
        "\"system_name\":\"sw1\"", "\"system_description\":\"Test switch\"",
        "\"management_addresses\":[\"192.0.2.1\",\"2001:db8::1\"]",
        "\"capabilities\":[\"bridge\",\"router\"]", "\"enabled_capabilities\":[\"bridge\"]",
        "\"native_vlan\":42", "\"ttl\":120", "\"truncated\":false", "\"src_mac\":\"02:11:22:33:44:55\""};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(txt, want[i]))
            fail_msg("missing %s in %s", want[i], txt);
    }
    free(txt);
    cJSON_Delete(o);
}

static void test_cdp_fields(void **state)
{
    (void)state;
    struct buf f;
    struct decode_l2_info info;
    struct l2n_neighbor n;
    cdp_frame(&f, 0x2000);
    assert_int_equal(decode_l2_discovery(DECODE_DLT_EN10MB, f.b, f.n, &info), DECODE_L2_CDP);
    assert_int_equal(l2n_decode_frame(DECODE_L2_CDP, &info, f.b, f.n, false, &n), L2N_OK);
    assert_false(n.truncated);
    assert_int_equal(n.cdp_version, 2);
    assert_int_equal(n.ttl, 180);
    assert_true(bytes_eq(&n.chassis_id, "R1x"));
    assert_true(bytes_eq(&n.system_name, "R1x"));
    assert_true(bytes_eq(&n.port_id, "Gi0/1"));
    assert_true(bytes_eq(&n.system_description, "IOS 15.2"));
    assert_true(bytes_eq(&n.platform, "C2960"));
    assert_int_equal(n.cap_system, 0x29);
    assert_int_equal(n.native_vlan, 1);
    assert_int_equal(n.n_addrs, 1);
    assert_memory_equal(n.addrs[0].addr, IP4_A, 4);
    assert_int_equal(n.n_mgmt, 2);
    assert_int_equal(n.mgmt[0].family, 4);
    assert_int_equal(n.mgmt[0].addr[3], 6);
    assert_int_equal(n.mgmt[1].family, 6);
    assert_memory_equal(n.mgmt[1].addr, IP6_A, 16);

    cJSON *o = l2n_to_json(&n, &info, "eth9", 0);
    char *txt = cJSON_PrintUnformatted(o);
    assert_non_null(txt);
    const char *want[] = {"\"change\":\"cdp_neighbor\"", "\"chassis_id\":\"R1x\"", "\"port_id\":\"Gi0/1\"",
                          "\"platform\":\"C2960\"", "\"addresses\":[\"192.0.2.1\"]",
                          "\"management_addresses\":[\"192.0.2.6\",\"2001:db8::1\"]",
                          "\"capabilities\":[\"router\",\"switch\",\"igmp\"]", "\"cdp_version\":2",
                          "\"ttl\":180"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(txt, want[i]))
            fail_msg("missing %s in %s", want[i], txt);
    free(txt);
    cJSON_Delete(o);

    /* Version 3 does not exist; a TLV length below its own header stops the walk. */
    uint8_t bad[] = {3, 180, 0, 0};
    assert_int_equal(l2n_decode_cdp(bad, sizeof bad, &n), L2N_BAD);
    uint8_t short_tlv[] = {2, 180, 0, 0, 0, 1, 0, 2, 'x', 'y'};
    assert_int_equal(l2n_decode_cdp(short_tlv, sizeof short_tlv, &n), L2N_EMPTY);
}

/*
 * Every frame cut at every offset, in an exact-size heap copy. A cut frame is
 * either not classified, not decodable (EMPTY), or decoded and marked
 * truncated; every field that survives is the full frame's value.
 */
static void cut_everywhere(const struct buf *f, enum decode_l2_kind kind)
{
    struct decode_l2_info full_info;
    struct l2n_neighbor full;
    assert_int_equal(decode_l2_discovery(DECODE_DLT_EN10MB, f->b, f->n, &full_info), kind);
    assert_int_equal(l2n_decode_frame((uint8_t)kind, &full_info, f->b, f->n, false, &full), L2N_OK);
    for (size_t cut = 0; cut <= f->n; cut++) {
        uint8_t *copy = malloc(cut ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, f->b, cut);
        struct decode_l2_info info;
        struct l2n_neighbor n;
        enum decode_l2_kind k = decode_l2_discovery(DECODE_DLT_EN10MB, copy, cut, &info);
        if (k == DECODE_L2_NONE) {
            assert_true(cut < full_info.offset);
            free(copy);
            continue;
        }
        assert_int_equal(k, kind);
        enum l2n_status st = l2n_decode_frame((uint8_t)k, &info, copy, cut, cut < f->n, &n);
        if (cut < f->n)
            assert_true(st != L2N_OK || n.truncated);
        if (st == L2N_OK) {
            assert_int_equal(n.chassis_id.len, full.chassis_id.len);
            assert_memory_equal(n.chassis_id.p, full.chassis_id.p, n.chassis_id.len);
            if (n.system_description.p)
                assert_int_equal(n.system_description.len, full.system_description.len);
            assert_true(n.n_mgmt <= full.n_mgmt);
            cJSON *o = l2n_to_json(&n, &info, "x", 0);
            assert_non_null(o);
            cJSON *tr = cJSON_GetObjectItemCaseSensitive(o, "truncated");
            assert_true(cJSON_IsBool(tr));
            assert_int_equal(cJSON_IsTrue(tr), cut < f->n);
            cJSON_Delete(o);
        }
        /* The PDU decoders alone, on an exact-size copy of the cut PDU. */
        if (cut >= info.offset) {
            size_t plen = cut - info.offset;
            uint8_t *pdu = malloc(plen ? plen : 1);
            assert_non_null(pdu);
            memcpy(pdu, f->b + info.offset, plen);
            if (kind == DECODE_L2_LLDP)
                (void)l2n_decode_lldp(pdu, plen, &n);
            else
                (void)l2n_decode_cdp(pdu, plen, &n);
            free(pdu);
        }
        free(copy);
    }
}

static void test_truncated_everywhere(void **state)
{
    (void)state;
    struct buf f;
    lldp_frame(&f, 120, false);
    cut_everywhere(&f, DECODE_L2_LLDP);
    lldp_frame(&f, 120, true);
    cut_everywhere(&f, DECODE_L2_LLDP);
    cdp_frame(&f, 0x2000);
    cut_everywhere(&f, DECODE_L2_CDP);
}

/* Snap length: a frame cut inside the System Description keeps chassis, port, TTL, name. */
static void test_snaplen_cut(void **state)
{
    (void)state;
    struct buf f;
    struct decode_l2_info info;
    struct l2n_neighbor n;
    lldp_frame(&f, 120, false);
    /* 14 Ethernet + 9 chassis + 7 port + 4 TTL + 8 port desc + 5 name = 47; cut at 50. */
    assert_int_equal(decode_l2_discovery(DECODE_DLT_EN10MB, f.b, 50, &info), DECODE_L2_LLDP);
    assert_int_equal(l2n_decode_frame(DECODE_L2_LLDP, &info, f.b, 50, true, &n), L2N_OK);
    assert_true(n.truncated);
    assert_true(bytes_eq(&n.system_name, "sw1"));
    assert_null(n.system_description.p);
    assert_int_equal(n.n_mgmt, 0);
}

/* Bytes that are not UTF-8, and NULs, come out as U+FFFD; trailing NULs are cut. */
static void test_text_sanitised(void **state)
{
    (void)state;
    struct buf f = {.n = 0};
    uint8_t chassis[4] = {7, 'a', 0xff, 'b'};
    uint8_t port[4] = {7, 'p', 0x00, 'q'};
    uint8_t name[6] = {'s', 0xc3, 0xa9, 'w', 0, 0};   /* "séw" + two NULs */
    lldp_tlv(&f, 1, chassis, 4);
    lldp_tlv(&f, 2, port, 4);
    lldp_tlv(&f, 5, name, 6);
    struct l2n_neighbor n;
    assert_int_equal(l2n_decode_lldp(f.b, f.n, &n), L2N_OK);
    assert_false(n.truncated);          /* no End TLV but ends on a TLV boundary */
    cJSON *o = l2n_to_json(&n, NULL, "x", 0);
    assert_string_equal(cJSON_GetObjectItem(o, "chassis_id")->valuestring, "a\xef\xbf\xbd" "b");
    assert_string_equal(cJSON_GetObjectItem(o, "port_id")->valuestring, "p\xef\xbf\xbdq");
    assert_string_equal(cJSON_GetObjectItem(o, "system_name")->valuestring, "s\xc3\xa9w");
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "ttl")));
    cJSON_Delete(o);
}

/* ---- report table --------------------------------------------------------- */

static void test_report_once_per_ttl(void **state)
{
    (void)state;
    struct buf f;
    struct decode_l2_info info;
    struct l2n_neighbor n;
    l2n_table *t = l2n_table_create(2);
    assert_non_null(t);
    lldp_frame(&f, 120, false);
    (void)decode_l2_discovery(DECODE_DLT_EN10MB, f.b, f.n, &info);
    assert_int_equal(l2n_decode_frame(DECODE_L2_LLDP, &info, f.b, f.n, false, &n), L2N_OK);
    const uint64_t s = 1000000u, t0 = 1000 * s;
    assert_true(l2n_table_should_report(t, &n, t0));             /* new */
    assert_false(l2n_table_should_report(t, &n, t0 + 30 * s));   /* unchanged, within TTL */
    assert_false(l2n_table_should_report(t, &n, t0 + 119 * s));
    assert_true(l2n_table_should_report(t, &n, t0 + 120 * s));   /* TTL passed */
    assert_false(l2n_table_should_report(t, &n, t0 + 150 * s));
    /* Anything announced changes: reported at once. */
    struct buf g;
    lldp_frame(&g, 120, false);
    g.b[14 + 9 + 7 + 4 + 2] = 'U';                               /* port description "Uplink" */
    struct l2n_neighbor m;
    assert_int_equal(l2n_decode_frame(DECODE_L2_LLDP, &info, g.b, g.n, false, &m), L2N_OK);
    assert_true(l2n_table_should_report(t, &m, t0 + 151 * s));
    assert_false(l2n_table_should_report(t, &m, t0 + 152 * s));
    assert_int_equal(l2n_table_size(t), 1);
    /* TTL 0 (shutdown): reported, and forgotten. */
    struct buf h;
    lldp_frame(&h, 0, false);
    g.b[14 + 9 + 7 + 4 + 2] = 'u';
    assert_int_equal(l2n_decode_frame(DECODE_L2_LLDP, &info, h.b, h.n, false, &m), L2N_OK);
    assert_true(l2n_table_should_report(t, &m, t0 + 153 * s));
    assert_int_equal(l2n_table_size(t), 0);
    /* Bounded: a third neighbour replaces the entry closest to expiry. */
    struct buf c;
    cdp_frame(&c, 0x2000);
    struct decode_l2_info ci;
    (void)decode_l2_discovery(DECODE_DLT_EN10MB, c.b, c.n, &ci);
    assert_int_equal(l2n_decode_frame(DECODE_L2_CDP, &ci, c.b, c.n, false, &m), L2N_OK);
    assert_true(l2n_table_should_report(t, &n, t0 + 200 * s));
    assert_true(l2n_table_should_report(t, &m, t0 + 200 * s));
    c.b[22 + 4 + 4 + 2] = 'Z';                                   /* another device id */
    assert_int_equal(l2n_decode_frame(DECODE_L2_CDP, &ci, c.b, c.n, false, &m), L2N_OK);
    assert_true(l2n_table_should_report(t, &m, t0 + 201 * s));
    assert_int_equal(l2n_table_size(t), 2);
    l2n_table_destroy(t);
    l2n_table_destroy(NULL);
}

/* A neighbour with chassis id `id` (4 bytes in idbuf) on port "p1". */
static void mk_neighbor(struct l2n_neighbor *n, uint8_t idbuf[4], uint32_t id, uint16_t ttl)
{
    memset(n, 0, sizeof *n);
    idbuf[0] = (uint8_t)(id >> 24);
    idbuf[1] = (uint8_t)(id >> 16);
    idbuf[2] = (uint8_t)(id >> 8);
    idbuf[3] = (uint8_t)id;
    n->kind = DECODE_L2_LLDP;
    n->chassis_subtype = 7;
    n->chassis_id = (struct l2n_bytes){idbuf, 4};
    n->port_subtype = 5;
    n->port_id = (struct l2n_bytes){(const uint8_t *)"p1", 2};
    n->has_ttl = true;
    n->ttl = ttl;
}

/* Judge chassis ids [from, to) at ts; returns how many were reported, adds the suppressed to *limited. */
static unsigned judge_range(l2n_table *t, uint32_t from, uint32_t to, uint64_t ts, unsigned *limited)
{
    unsigned reported = 0;
    for (uint32_t id = from; id < to; id++) {
        uint8_t b[4];
        struct l2n_neighbor n;
        mk_neighbor(&n, b, id, 120);
        enum l2n_verdict v = l2n_table_judge(t, &n, ts);
        reported += v == L2N_REPORT;
        *limited += v == L2N_RATE_LIMITED;
    }
    return reported;
}

/*
 * Issue 13.10: a flood of new chassis ids made one event each. Reports now
 * come from a bucket of 64 refilled at 2 per second of packet time; the rest
 * are counted and not remembered, so they are reported once there is room.
 */
static void test_new_neighbours_rate_limited(void **state)
{
    (void)state;
    l2n_table *t = l2n_table_create(1024);
    assert_non_null(t);
    const uint64_t s = 1000000u, t0 = 1000 * s;
    unsigned limited = 0;
    assert_int_equal(judge_range(t, 0, 100, t0, &limited), 64);
    assert_int_equal(limited, 36);
    assert_int_equal(l2n_table_size(t), 64);
    uint8_t b[4];
    struct l2n_neighbor n;
    mk_neighbor(&n, b, 0, 120);
    assert_int_equal(l2n_table_judge(t, &n, t0 + 1 * s), L2N_REPEAT);   /* known: costs nothing */
    assert_int_equal(judge_range(t, 100, 130, t0 + 10 * s, &limited), 20); /* 10 s: 20 tokens */
    assert_int_equal(limited, 46);
    mk_neighbor(&n, b, 64, 120);                                    /* suppressed at t0 */
    assert_int_equal(l2n_table_judge(t, &n, t0 + 40 * s), L2N_REPORT);
    assert_int_equal(l2n_table_judge(t, &n, t0 + 41 * s), L2N_REPEAT);
    assert_int_equal(judge_range(t, 1000, 1070, t0 + 1000 * s, &limited), 64); /* the bucket holds 64 */
    assert_int_equal(limited, 52);
    mk_neighbor(&n, b, 5000, 120);                                  /* time going back: no refill */
    assert_int_equal(l2n_table_judge(t, &n, t0), L2N_RATE_LIMITED);
    mk_neighbor(&n, b, 5001, 0);                                    /* a goodbye costs a token too */
    assert_int_equal(l2n_table_judge(t, &n, t0 + 1000 * s), L2N_RATE_LIMITED);
    assert_int_equal(l2n_table_judge(t, &n, t0 + 1000 * s + s / 2), L2N_REPORT);
    assert_int_equal(l2n_table_size(t), 64 + 20 + 1 + 64);
    l2n_table_destroy(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify),
        cmocka_unit_test(test_lldp_fields),
        cmocka_unit_test(test_cdp_fields),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_snaplen_cut),
        cmocka_unit_test(test_text_sanitised),
        cmocka_unit_test(test_report_once_per_ttl),
        cmocka_unit_test(test_new_neighbours_rate_limited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
