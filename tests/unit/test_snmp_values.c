/*
 * test_snmp_values.c — readable JSON for SNMP values: OIDs, octet strings
 * (text vs hex, hostile UTF-8), MACs, exact Counter64, every type's name,
 * built on hand-made variables (no agent, no library init).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "hooks/snmp/snmp_values.h"
#include "models/flow_event.h"

static char *print(const cJSON *j)
{
    static char buf[4096];
    flow_event_json_print(j, buf, sizeof buf);
    return buf;
}

static void test_oid_parse_format(void **state)
{
    (void)state;
    struct snmp_oid o;
    char buf[SNMP_OID_TEXT_MAX];
    assert_true(snmp_oid_parse("1.3.6.1.2.1.1.5.0", &o));
    assert_int_equal(o.len, 9);
    assert_string_equal(snmp_oid_format(o.ids, o.len, buf, sizeof buf), "1.3.6.1.2.1.1.5.0");
    assert_true(snmp_oid_parse(".1.3.4294967295", &o));
    assert_int_equal(o.ids[2], 4294967295UL);
    const char *bad[] = {"", "1", "1..3", "1.3.", "a.b", "1.3.4294967296", "1.3.-1", " 1.3", NULL};
    for (size_t i = 0; bad[i]; i++)
        assert_false(snmp_oid_parse(bad[i], &o));
    char big[2000] = "1";
    for (int i = 0; i < MAX_OID_LEN; i++)
        strcat(big, ".1");
    assert_false(snmp_oid_parse(big, &o));   /* MAX_OID_LEN + 1 sub-identifiers */
    char small[8];
    assert_true(snmp_oid_parse("1.3.123456789", &o));
    snmp_oid_format(o.ids, o.len, small, sizeof small);
    assert_string_equal(small, "1.3....");   /* cut, marked, still terminated */
    oid root[] = {1, 3, 6}, name[] = {1, 3, 6, 1}, other[] = {1, 3, 7, 1};
    assert_true(snmp_oid_below(root, 3, name, 4));
    assert_false(snmp_oid_below(root, 3, root, 3));
    assert_false(snmp_oid_below(root, 3, other, 4));
}

static void test_octets(void **state)
{
    (void)state;
    size_t tl;
    assert_true(snmp_octets_printable((const uint8_t *)"hello\tworld\n", 12, &tl));
    assert_true(snmp_octets_printable((const uint8_t *)"abc\0\0", 5, &tl));
    assert_int_equal(tl, 3);
    assert_true(snmp_octets_printable((const uint8_t *)"caf\xc3\xa9", 5, &tl));
    const char *bad[] = {"a\x01", "\xc3", "\xc0\x80", "\xed\xa0\x80", "\xf5\x80\x80\x80", "a\x7f", "a\0b", NULL};
    for (size_t i = 0; bad[i]; i++)
        assert_false(snmp_octets_printable((const uint8_t *)bad[i], strlen(bad[i]) + (i == 6 ? 2 : 0), &tl));
    cJSON *j = snmp_octets_json((const uint8_t *)"\x00\xff\x10", 3);
    assert_string_equal(j->valuestring, "00:ff:10");
    cJSON_Delete(j);
    j = snmp_octets_json((const uint8_t *)"", 0);
    assert_string_equal(j->valuestring, "");
    cJSON_Delete(j);
    j = snmp_mac_json((const uint8_t *)"ABCDEF", 6);   /* printable bytes, still a MAC */
    assert_string_equal(j->valuestring, "41:42:43:44:45:46");
    cJSON_Delete(j);
    uint8_t longs[1000];
    memset(longs, 0xab, sizeof longs);
    j = snmp_octets_json(longs, sizeof longs);
    assert_int_equal(strlen(j->valuestring), 2999);
    cJSON_Delete(j);
}

static void test_u64_exact(void **state)
{
    (void)state;
    cJSON *j = snmp_u64_json(18446744073709551615ULL);
    assert_string_equal(print(j), "18446744073709551615");
    cJSON_Delete(j);
    j = snmp_u64_json(9007199254740993ULL);   /* 2^53 + 1: not a double */
    assert_string_equal(print(j), "9007199254740993");
    cJSON_Delete(j);
    j = snmp_u64_json(42);
    assert_string_equal(print(j), "42");
    cJSON_Delete(j);
}

/* A variable of `type` holding `val` (len bytes), built as net-snmp would. */
static netsnmp_variable_list *var(u_char type, const void *val, size_t len)
{
    netsnmp_variable_list *v = NULL;
    oid name[] = {1, 3, 6, 1, 4, 1, 9999, 1};
    snmp_varlist_add_variable(&v, name, 8, type, val, len);
    assert_non_null(v);
    return v;
}

static void test_value_json(void **state)
{
    (void)state;
    long i = -5, g = 4000000000L;
    struct counter64 c64 = {.high = 0xffffffffUL, .low = 0xfffffffeUL};
    oid o[] = {1, 3, 6, 1};
    struct { u_char type; const void *val; size_t len; const char *name; const char *json; } cases[] = {
        {ASN_INTEGER, &i, sizeof i, "integer", "-5"},
        {ASN_GAUGE, &g, sizeof g, "gauge32", "4000000000"},
        {ASN_COUNTER, &g, sizeof g, "counter32", "4000000000"},
        {ASN_TIMETICKS, &g, sizeof g, "timeticks", "4000000000"},
        {ASN_COUNTER64, &c64, sizeof c64, "counter64", "18446744073709551614"},
        {ASN_OCTET_STR, "text", 4, "string", "\"text\""},
        {ASN_OBJECT_ID, o, sizeof o, "oid", "\"1.3.6.1\""},
        {ASN_IPADDRESS, "\x7f\x00\x00\x01", 4, "ipaddress", "\"127.0.0.1\""},
        {ASN_NULL, NULL, 0, "null", "null"},
        {SNMP_NOSUCHOBJECT, NULL, 0, "nosuchobject", "null"},
        {SNMP_NOSUCHINSTANCE, NULL, 0, "nosuchinstance", "null"},
        {SNMP_ENDOFMIBVIEW, NULL, 0, "endofmibview", "null"},
        {ASN_OPAQUE, "\x01\x02", 2, "opaque", "\"01:02\""},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        netsnmp_variable_list *v = var(cases[k].type, cases[k].val, cases[k].len);
        cJSON *vb = snmp_varbind_json(v);
        char want[256];
        snprintf(want, sizeof want, "{\"oid\":\"1.3.6.1.4.1.9999.1\",\"type\":\"%s\",\"value\":%s}", cases[k].name,
                 cases[k].json);
        assert_string_equal(print(vb), want);
        cJSON_Delete(vb);
        snmp_free_varbind(v);
    }
    assert_string_equal(snmp_type_name(0x99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oid_parse_format),
        cmocka_unit_test(test_octets),
        cmocka_unit_test(test_u64_exact),
        cmocka_unit_test(test_value_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
