/*
 * test_snmp_trap.c — the trap receiver's bounds (issue 13.2, 13.13), through
 * the path a datagram read from the socket takes (snmp_trap_input_datagram on
 * a memory transport, every datagram from 192.0.2.1): per-event caps on
 * varbinds and bytes, the per-source trap rate limit, the per-source limit on
 * inform acknowledgements, each counted exactly. The datagrams are v2c traps
 * and informs built here (RFC 3416 / RFC 1905 BER).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "common/ring.h"
#include "hooks/hook.h"
#include "hooks/snmp/snmp_trap.h"
#include "sender/sender.h"

/* ---- a small BER writer: each call appends one TLV, contents given as bytes */

struct buf { uint8_t b[8192]; size_t n; };

static void put_tlv(struct buf *o, uint8_t tag, const uint8_t *c, size_t n)
{
    o->b[o->n++] = tag;
    if (n < 0x80) {
        o->b[o->n++] = (uint8_t)n;
    } else {
        o->b[o->n++] = 0x82;
        o->b[o->n++] = (uint8_t)(n >> 8);
        o->b[o->n++] = (uint8_t)n;
    }
    memcpy(o->b + o->n, c, n);
    o->n += n;
}

/* A v2c trap (tag 0xa7) or inform (0xa6) from community "public" with sysUpTime.0,
 * snmpTrapOID.0 and nvb octet-string varbinds 1.3.6.1.4.1.9999.7.i of vlen bytes each. */
static size_t notification(uint8_t *out, uint8_t tag, unsigned nvb, size_t vlen)
{
    static const uint8_t UPTIME[] = {0x06, 0x08, 0x2b, 6, 1, 2, 1, 1, 3, 0, 0x43, 0x01, 0x2a};
    static const uint8_t TRAPOID[] = {0x06, 0x0a, 0x2b, 6, 1, 6, 3, 1, 1, 4, 1, 0,
                                      0x06, 0x09, 0x2b, 6, 1, 4, 1, 0xce, 0x0f, 0, 0x63};
    struct buf vbs = {.n = 0}, vb, pdu = {.n = 0}, msg = {.n = 0}, tmp;
    put_tlv(&vbs, 0x30, UPTIME, sizeof UPTIME);
    put_tlv(&vbs, 0x30, TRAPOID, sizeof TRAPOID);
    for (unsigned i = 0; i < nvb; i++) {
        uint8_t name[] = {0x2b, 6, 1, 4, 1, 0xce, 0x0f, 7, (uint8_t)i};
        uint8_t val[1024];
        memset(val, 'v', vlen);
        vb.n = 0;
        put_tlv(&vb, 0x06, name, sizeof name);
        put_tlv(&vb, 0x04, val, vlen);
        put_tlv(&vbs, 0x30, vb.b, vb.n);
    }
    static const uint8_t IDS[] = {0x02, 0x01, 0x07, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00};
    memcpy(pdu.b, IDS, sizeof IDS);
    pdu.n = sizeof IDS;
    put_tlv(&pdu, 0x30, vbs.b, vbs.n);
    static const uint8_t HEAD[] = {0x02, 0x01, 0x01, 0x04, 0x06, 'p', 'u', 'b', 'l', 'i', 'c'};
    memcpy(tmp.b, HEAD, sizeof HEAD);
    tmp.n = sizeof HEAD;
    put_tlv(&tmp, tag, pdu.b, pdu.n);
    put_tlv(&msg, 0x30, tmp.b, tmp.n);
    memcpy(out, msg.b, msg.n);
    return msg.n;
}

struct rx { ring *r; struct hook h; };

static void rx_open(struct rx *x, const char *limits)
{
    char err[512], cfg[512];
    snprintf(cfg, sizeof cfg, "{\"trap_limits\": %s}", limits);
    x->r = ring_create(1024, sizeof(struct sender_json_msg), err, sizeof err);
    assert_non_null(x->r);
    assert_int_equal(snmp_trap_create_memory(NULL, cfg, x->r, &x->h, err, sizeof err), 0);
}

static void rx_close(struct rx *x)
{
    struct sender_json_msg m;
    while (ring_pop(x->r, &m))
        cJSON_Delete(m.obj);
    x->h.ops->destroy(x->h.self);
    ring_destroy(x->r);
}

static void test_event_caps_and_trap_rate(void **state)
{
    (void)state;
    struct rx x;
    rx_open(&x, "{\"rate\": 0.001, \"burst\": 3, \"max_varbinds\": 2}");
    uint8_t d[8192];
    size_t n = notification(d, 0xa7, 5, 10);
    for (int i = 0; i < 10; i++)
        snmp_trap_input_datagram(x.h.self, d, n);
    struct sender_json_msg m;
    int events = 0;
    while (ring_pop(x.r, &m)) {
        events++;
        assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m.obj, "truncated")));
        assert_int_equal(cJSON_GetObjectItemCaseSensitive(m.obj, "varbinds_total")->valuedouble, 5);
        const cJSON *vbs = cJSON_GetObjectItemCaseSensitive(m.obj, "varbinds");
        assert_int_equal(cJSON_GetArraySize(vbs), 2);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(vbs, 1), "oid")->valuestring,
                            "1.3.6.1.4.1.9999.7.1");
        cJSON_Delete(m.obj);
    }
    assert_int_equal(events, 3);
    struct snmp_trap_stats st;
    snmp_trap_get_stats(x.h.self, &st);
    assert_int_equal(st.datagrams, 10);
    assert_int_equal(st.traps, 3);
    assert_int_equal(st.rate_limited, 7);
    assert_int_equal(st.truncated, 3);
    rx_close(&x);
}

static void test_event_byte_cap(void **state)
{
    (void)state;
    struct rx x;
    rx_open(&x, "{\"max_event_bytes\": 512}");
    uint8_t d[8192];
    /* each varbind costs 200 value bytes + 9 sub-identifiers: one fits in 512, two do not */
    size_t n = notification(d, 0xa7, 3, 200);
    snmp_trap_input_datagram(x.h.self, d, n);
    struct sender_json_msg m;
    assert_true(ring_pop(x.r, &m));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m.obj, "varbinds")), 1);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m.obj, "truncated")));
    cJSON_Delete(m.obj);
    /* a small trap is not marked */
    n = notification(d, 0xa7, 1, 10);
    snmp_trap_input_datagram(x.h.self, d, n);
    assert_true(ring_pop(x.r, &m));
    assert_null(cJSON_GetObjectItemCaseSensitive(m.obj, "truncated"));
    assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(m.obj, "varbinds")), 1);
    cJSON_Delete(m.obj);
    rx_close(&x);
}

static void test_inform_acknowledgements_limited(void **state)
{
    (void)state;
    struct rx x;
    rx_open(&x, "{\"inform_rate\": 0.001, \"inform_burst\": 2}");
    uint8_t d[8192];
    size_t n = notification(d, 0xa6, 1, 4);
    for (int i = 0; i < 5; i++)
        snmp_trap_input_datagram(x.h.self, d, n);
    struct snmp_trap_stats st;
    snmp_trap_get_stats(x.h.self, &st);
    assert_int_equal(st.informs, 5);
    assert_int_equal(st.informs_acked, 2);
    assert_int_equal(st.informs_unanswered, 3);
    assert_int_equal(st.rate_limited, 0);
    rx_close(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_caps_and_trap_rate),
        cmocka_unit_test(test_event_byte_cap),
        cmocka_unit_test(test_inform_acknowledgements_limited),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
