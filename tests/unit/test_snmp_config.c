/*
 * test_snmp_config.c — AGENT_SNMP_CONFIG parsing: defaults, every field's
 * rule, messages that name file/target/field and never a secret, the
 * trap-listen address form.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hooks/snmp/snmp_config.h"
#include "hooks/snmp/snmp_trap.h"

static void test_full_example(void **state)
{
    (void)state;
    const char *text =
        "{\"targets\": ["
        " {\"name\": \"core1\", \"host\": \"192.0.2.1\", \"port\": 161, \"transport\": \"udp\", \"version\": \"2c\","
        "  \"community\": \"c0mm\", \"interval\": 60, \"timeout\": 2, \"retries\": 1,"
        "  \"collect\": [\"system\", \"interfaces\", \"arp\", \"lldp\"], \"oids\": [\"1.3.6.1.2.1.1.5.0\"]},"
        " {\"name\": \"edge\", \"host\": \"[2001:db8::1]\", \"version\": \"3\", \"username\": \"mon\","
        "  \"security_level\": \"authPriv\", \"auth_protocol\": \"SHA256\", \"auth_password\": \"authpass1\","
        "  \"priv_protocol\": \"AES256\", \"priv_password\": \"privpass1\", \"timeout\": 0.5}],"
        " \"trap_users\": [{\"username\": \"t\", \"auth_protocol\": \"SHA\", \"auth_password\": \"authpass1\","
        "  \"priv_protocol\": \"AES\", \"priv_password\": \"privpass1\", \"engine_id\": \"0x8000000001020304\"}]}";
    struct snmp_config *c;
    char err[512];
    assert_int_equal(snmp_config_parse(text, "f.json", &c, err, sizeof err), 0);
    assert_int_equal(c->ntargets, 2);
    const struct snmp_target *t = &c->targets[0];
    assert_string_equal(t->name, "core1");
    assert_int_equal(t->port, 161);
    assert_false(t->tcp);
    assert_int_equal(t->version, SNMP_CFG_V2C);
    assert_int_equal(t->collect, SNMP_COLLECT_SYSTEM | SNMP_COLLECT_INTERFACES | SNMP_COLLECT_ARP | SNMP_COLLECT_LLDP);
    assert_int_equal(t->noids, 1);
    assert_int_equal(t->timeout_ms, 2000);
    assert_int_equal(t->max_rows, 10000);
    t = &c->targets[1];
    assert_string_equal(t->host, "2001:db8::1");   /* brackets dropped */
    assert_int_equal(t->port, 161);
    assert_int_equal(t->usm.level, SNMP_CFG_AUTHPRIV);
    assert_int_equal(t->usm.auth, SNMP_CFG_AUTH_SHA256);
    assert_int_equal(t->usm.priv, SNMP_CFG_PRIV_AES256);
    assert_int_equal(t->timeout_ms, 500);
    assert_int_equal(t->collect, SNMP_COLLECT_SYSTEM);   /* default */
    assert_int_equal(t->interval_s, 60);
    assert_int_equal(c->nusers, 1);
    assert_int_equal(c->users[0].engine_id_len, 8);
    assert_int_equal(c->users[0].engine_id[7], 4);
    snmp_config_destroy(c);
    snmp_config_destroy(NULL);
}

static void test_errors(void **state)
{
    (void)state;
    struct { const char *text, *want; } cases[] = {
        {"{", "AGENT_SNMP_CONFIG=f.json: not valid JSON"},
        {"[]", "must be a JSON object"},
        {"{\"targetz\": []}", "targetz: unknown field"},
        {"{\"targets\": [{\"name\": \"a\"}]}", "targets[0] (\"a\"): host: required"},
        {"{\"targets\": [{\"host\": \"h\"}]}", "targets[0]: community: required"},
        {"{\"targets\": [{\"name\": \"a\", \"host\": \"h\", \"community\": \"c\", \"port\": 70000}]}",
         "targets[0] (\"a\"): port: 70000 must be an integer in [1, 65535]"},
        {"{\"targets\": [{\"name\": \"a\", \"host\": \"h\", \"community\": \"c\", \"interval\": 0}]}",
         "targets[0] (\"a\"): interval"},
        {"{\"targets\": [{\"name\": \"a\", \"host\": \"h\", \"community\": \"c\", \"transport\": \"sctp\"}]}",
         "transport: \"sctp\" must be \"udp\" or \"tcp\""},
        {"{\"targets\": [{\"name\": \"a\", \"host\": \"h\", \"community\": \"c\", \"oids\": [\"1.3.x\"]}]}",
         "targets[0] (\"a\"): oids: \"1.3.x\" must be a numeric OID"},
        {"{\"targets\": [{\"name\": \"a\", \"host\": \"h\", \"community\": \"c\", \"username\": \"u\"}]}",
         "username: only used with version 3"},
        {"{\"targets\": [{\"name\": \"e\", \"host\": \"h\", \"version\": \"3\", \"username\": \"u\","
         " \"auth_protocol\": \"SHA1024\", \"auth_password\": \"longenough\"}]}",
         "auth_protocol: \"SHA1024\" must be one of MD5, SHA, SHA224, SHA256, SHA384, SHA512"},
        {"{\"targets\": [{\"name\": \"e\", \"host\": \"h\", \"version\": \"3\", \"username\": \"u\","
         " \"security_level\": \"authPriv\", \"auth_password\": \"secretpw1\"}]}",
         "priv_password: required for security_level authPriv"},
        {"{\"targets\": [{\"name\": \"a\", \"host\": \"h\", \"community\": \"c\"},"
         " {\"name\": \"a\", \"host\": \"h2\", \"community\": \"c\"}]}",
         "targets[1] (\"a\"): name: \"a\" is also the name of targets[0]"},
        {"{\"targets\": [{\"name\": \"a\", \"host\": \"h\", \"version\": \"3\", \"username\": \"u\","
         " \"auth_password\": \"secretpw1\"}, {\"name\": \"b\", \"host\": \"h\", \"version\": \"3\","
         " \"username\": \"u\", \"auth_password\": \"secretpw2\"}]}",
         "targets[1] (\"b\"): username: \"u\" on h:161 is also used by targets[0] with other credentials"},
        {"{\"trap_users\": [{\"username\": \"t\", \"auth_password\": \"secretpw1\", \"engine_id\": \"0xzz0000000000\"}]}",
         "trap_users[0] (\"t\"): engine_id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct snmp_config *c = (struct snmp_config *)1;
        char err[512] = "";
        assert_int_equal(snmp_config_parse(cases[i].text, "f.json", &c, err, sizeof err), -1);
        assert_null(c);
        if (!strstr(err, cases[i].want))
            fail_msg("case %zu: \"%s\" not in \"%s\"", i, cases[i].want, err);
        assert_non_null(strstr(err, "AGENT_SNMP_CONFIG=f.json: "));
        assert_null(strstr(err, "secretpw"));   /* secrets never in messages */
    }
}

/* Issue 18.14: one run reports every problem, duplicate keys and wrong JSON types included. */
static void test_every_problem_reported(void **state)
{
    (void)state;
    const char *text =
        "{\"targets\": ["
        " {\"name\": \"a\", \"host\": \"h\", \"community\": \"c\", \"port\": \"161\"},"
        " {\"name\": \"b\", \"host\": \"h\", \"community\": \"secretpw1\", \"community\": \"secretpw2\"},"
        " {\"name\": \"c\", \"host\": \"h\", \"community\": \"c\", \"retries\": true, \"timeout\": null,"
        "  \"interval\": 0}],"
        " \"trap_users\": [{\"username\": \"t\", \"auth_password\": \"secretpw1\", \"engine_id\": \"0x12\"},"
        "                   {\"username\": \"t\", \"auth_password\": \"secretpw3\"}],"
        " \"trap_limits\": {\"rate\": \"10\", \"burst\": 0, \"bogus\": 1},"
        " \"trap_users\": []}";
    const char *want[] = {
        "AGENT_SNMP_CONFIG=f.json: targets[0] (\"a\"): port: must be a JSON number in [1, 65535], not a string (\"161\")",
        "AGENT_SNMP_CONFIG=f.json: targets[1] (\"b\"): community: duplicate key (each key may appear once)",
        "AGENT_SNMP_CONFIG=f.json: targets[2] (\"c\"): retries: must be a JSON number in [0, 10], not a boolean",
        "AGENT_SNMP_CONFIG=f.json: targets[2] (\"c\"): timeout: must be a JSON number in [0.1, 60], not null",
        "AGENT_SNMP_CONFIG=f.json: targets[2] (\"c\"): interval: 0 must be a number in [1, 86400]",
        "AGENT_SNMP_CONFIG=f.json: trap_users[0] (\"t\"): engine_id: \"0x12\" must be 5 to 32 bytes of hex",
        "AGENT_SNMP_CONFIG=f.json: trap_users[1] (\"t\"): username: \"t\" is also the username of trap_users[0]",
        "AGENT_SNMP_CONFIG=f.json: trap_limits: rate: must be a JSON number in [0, 1e+06], not a string (\"10\")",
        "AGENT_SNMP_CONFIG=f.json: trap_limits: burst: 0 must be an integer in [1, 1e+06]",
        "AGENT_SNMP_CONFIG=f.json: trap_limits: bogus: unknown field",
        "AGENT_SNMP_CONFIG=f.json: trap_users: duplicate key (each key may appear once)",
    };
    struct snmp_config *c = (struct snmp_config *)1;
    char err[4096];
    assert_int_equal(snmp_config_parse(text, "f.json", &c, err, sizeof err), -1);
    assert_null(c);
    size_t lines = 1;
    for (const char *p = err; *p; p++)
        lines += *p == '\n';
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(err, want[i]))
            fail_msg("\"%s\" not in:\n%s", want[i], err);
    assert_int_equal(lines, sizeof want / sizeof want[0]);
    assert_null(strstr(err, "secretpw"));
}

/* A message buffer too small for every line: whole lines only, then a count of the rest. */
static void test_many_problems_short_buffer(void **state)
{
    (void)state;
    char text[8192];
    size_t n = (size_t)snprintf(text, sizeof text, "{\"targets\": [");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(text + n, sizeof text - n, "%s{\"name\": \"t%d\", \"host\": \"h\", \"community\": \"c\", "
                              "\"port\": 0}", i ? "," : "", i);
    snprintf(text + n, sizeof text - n, "]}");
    struct snmp_config *c;
    char err[600];
    assert_int_equal(snmp_config_parse(text, "f.json", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "targets[0] (\"t0\"): port: 0 must be an integer in [1, 65535]"));
    assert_non_null(strstr(err, "more problems)"));
    assert_true(strlen(err) < sizeof err);
}

static void test_limits(void **state)
{
    (void)state;
    struct snmp_config *c;
    char err[512];
    assert_int_equal(snmp_config_parse("{\"targets\": [{\"host\": \"h\", \"community\": \"c\"}]}", "f.json", &c,
                                       err, sizeof err), 0);
    assert_int_equal(c->targets[0].max_poll_bytes, 8 * 1024 * 1024);
    assert_int_equal(c->trap_limits.max_varbinds, 128);
    assert_int_equal(c->trap_limits.max_event_bytes, 16384);
    assert_int_equal(c->trap_limits.rate_milli, 100000);
    assert_int_equal(c->trap_limits.burst, 200);
    assert_int_equal(c->trap_limits.inform_rate_milli, 10000);
    assert_int_equal(c->trap_limits.inform_burst, 20);
    assert_int_equal(c->trap_limits.max_sources, 4096);
    snmp_config_destroy(c);
    assert_int_equal(snmp_config_parse("{\"targets\": [{\"host\": \"h\", \"community\": \"c\", \"max_poll_bytes\": 2048}],"
                                       " \"trap_limits\": {\"max_varbinds\": 4, \"max_event_bytes\": 1000, \"rate\": 0.5,"
                                       " \"burst\": 3, \"inform_rate\": 0, \"inform_burst\": 1, \"max_sources\": 16}}",
                                       "f.json", &c, err, sizeof err), 0);
    assert_int_equal(c->targets[0].max_poll_bytes, 2048);
    assert_int_equal(c->trap_limits.max_varbinds, 4);
    assert_int_equal(c->trap_limits.max_event_bytes, 1000);
    assert_int_equal(c->trap_limits.rate_milli, 500);
    assert_int_equal(c->trap_limits.burst, 3);
    assert_int_equal(c->trap_limits.inform_rate_milli, 0);
    assert_int_equal(c->trap_limits.max_sources, 16);
    snmp_config_destroy(c);
    struct snmp_trap_limits d;
    snmp_trap_limits_default(&d);
    assert_int_equal(d.rate_milli, 100000);
    assert_int_equal(d.max_event_bytes, 16384);
}

static void test_short_password_not_echoed(void **state)
{
    (void)state;
    struct snmp_config *c;
    char err[512];
    const char *text = "{\"targets\": [{\"name\": \"e\", \"host\": \"h\", \"version\": \"3\", \"username\": \"u\","
                       " \"auth_password\": \"tiny\"}]}";
    assert_int_equal(snmp_config_parse(text, "f.json", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "auth_password: must be at least 8 characters"));
    assert_null(strstr(err, "tiny"));
}

static void test_load_missing_file(void **state)
{
    (void)state;
    struct snmp_config *c;
    char err[512];
    assert_int_equal(snmp_config_load("/nonexistent/snmp.json", &c, err, sizeof err), -1);
    assert_non_null(strstr(err, "AGENT_SNMP_CONFIG=/nonexistent/snmp.json: cannot open"));
}

static void test_listen_spec(void **state)
{
    (void)state;
    char buf[128];
    assert_int_equal(snmp_trap_listen_spec("0.0.0.0:162", buf, sizeof buf), 0);
    assert_string_equal(buf, "udp:0.0.0.0:162");
    assert_int_equal(snmp_trap_listen_spec("[::]:1162", buf, sizeof buf), 0);
    assert_string_equal(buf, "udp6:[::]:1162");
    const char *bad[] = {"", "host", ":162", "h:0", "h:65536", "h:-1", "::1:162", "[::1]162", "h:16x", NULL};
    for (size_t i = 0; bad[i]; i++)
        assert_int_equal(snmp_trap_listen_spec(bad[i], buf, sizeof buf), -1);
}

/* reload (issue 17.5): which targets a new file keeps, adds, removes and changes. */
static struct snmp_config *parse_ok(const char *text)
{
    struct snmp_config *c = NULL;
    char err[512];
    assert_int_equal(snmp_config_parse(text, "f.json", &c, err, sizeof err), 0);
    return c;
}

#define T(name, extra) "{\"name\": \"" name "\", \"host\": \"192.0.2.1\", \"community\": \"c\"" extra "}"

static void test_reload_diff(void **state)
{
    (void)state;
    struct snmp_config *old = parse_ok("{\"targets\": [" T("a", "") "," T("b", "") "," T("c", "") ","
                                       T("d", ", \"oids\": [\"1.3.6.1.2.1.1.5.0\"]") "]}");
    /* a unchanged (moved to the end), b changed (interval), c removed, d changed (an OID), e added */
    struct snmp_config *new_cfg = parse_ok("{\"targets\": [" T("e", "") "," T("b", ", \"interval\": 61") ","
                                           T("d", ", \"oids\": [\"1.3.6.1.2.1.1.6.0\"]") "," T("a", "") "]}");
    size_t keep[4];
    struct snmp_config_diff d;
    snmp_config_diff(old, new_cfg, keep, &d);
    assert_int_equal(keep[0], SIZE_MAX);
    assert_int_equal(keep[1], SIZE_MAX);
    assert_int_equal(keep[2], SIZE_MAX);
    assert_int_equal(keep[3], 0);
    assert_int_equal(d.added, 1);
    assert_int_equal(d.removed, 1);
    assert_int_equal(d.changed, 2);
    assert_int_equal(d.unchanged, 1);
    /* the same file again: everything kept in place */
    snmp_config_diff(old, old, keep, &d);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(keep[i], i);
    assert_int_equal(d.unchanged, 4);
    assert_int_equal(d.added + d.removed + d.changed, 0);
    /* an empty file removes everything */
    struct snmp_config *none = parse_ok("{\"targets\": []}");
    snmp_config_diff(old, none, keep, &d);
    assert_int_equal(d.removed, 4);
    assert_int_equal(d.added + d.changed + d.unchanged, 0);
    snmp_config_destroy(none);
    snmp_config_destroy(new_cfg);
    snmp_config_destroy(old);
}

/* Every field counts: one differing field makes a changed target. */
static void test_target_equal_every_field(void **state)
{
    (void)state;
    static const char *const variants[] = {
        "", ", \"port\": 1161", ", \"transport\": \"tcp\"", ", \"version\": \"1\"", ", \"timeout\": 3",
        ", \"retries\": 2", ", \"collect\": [\"system\", \"arp\"]", ", \"max_rows\": 5",
        ", \"max_walk_time\": 5", ", \"max_repetitions\": 5", ", \"max_poll_bytes\": 4096",
        ", \"oids\": [\"1.3.6.1.2.1.1.5.0\"]",
    };
    size_t n = sizeof variants / sizeof variants[0];
    for (size_t i = 0; i < n; i++) {
        char a[512], b[512];
        snprintf(a, sizeof a, "{\"targets\": [" T("x", "%s") "]}", variants[i]);
        struct snmp_config *ca = parse_ok(a);
        for (size_t j = 0; j < n; j++) {
            snprintf(b, sizeof b, "{\"targets\": [" T("x", "%s") "]}", variants[j]);
            struct snmp_config *cb = parse_ok(b);
            assert_int_equal(snmp_target_equal(&ca->targets[0], &cb->targets[0]), i == j);
            snmp_config_destroy(cb);
        }
        snmp_config_destroy(ca);
    }
    struct snmp_config *c1 = parse_ok("{\"targets\": [" T("x", "") "]}");
    struct snmp_config *c2 = parse_ok("{\"targets\": [{\"name\": \"x\", \"host\": \"192.0.2.1\", "
                                      "\"community\": \"other\"}]}");
    struct snmp_config *c3 = parse_ok("{\"targets\": [{\"name\": \"x\", \"host\": \"192.0.2.2\", "
                                      "\"community\": \"c\"}]}");
    assert_false(snmp_target_equal(&c1->targets[0], &c2->targets[0]));   /* the community */
    assert_false(snmp_target_equal(&c1->targets[0], &c3->targets[0]));   /* the host */
    snmp_config_destroy(c3);
    snmp_config_destroy(c2);
    snmp_config_destroy(c1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_example),
        cmocka_unit_test(test_reload_diff),
        cmocka_unit_test(test_target_equal_every_field),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_every_problem_reported),
        cmocka_unit_test(test_many_problems_short_buffer),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_short_password_not_echoed),
        cmocka_unit_test(test_load_missing_file),
        cmocka_unit_test(test_listen_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
