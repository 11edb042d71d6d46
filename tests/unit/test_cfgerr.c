/*
 * test_cfgerr.c — the one-line-per-problem messages of the hooks' JSON files
 * (AGENT_SNMP_CONFIG, AGENT_PING_CONFIG) and the short form of API requests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "common/cfgerr.h"

/* Every combination of where and field, in one message. */
static void test_file_lines(void **state)
{
    (void)state;
    char err[512];
    struct cfgerr e;
    cfgerr_init(&e, "AGENT_X", "/t.json", err, sizeof err);
    assert_string_equal(err, "");
    assert_int_equal(cfgerr_add(&e, NULL, "not valid JSON (near line %zu)", (size_t)3), -1);
    assert_int_equal(cfgerr_add(&e, "targets", "must be an array of at most %d objects", 4), -1);
    snprintf(e.where, sizeof e.where, "targets[0]");
    assert_int_equal(cfgerr_add(&e, NULL, "must be an object"), -1);
    assert_int_equal(cfgerr_add(&e, "port", "%g must be an integer", 1.5), -1);
    cfgerr_finish(&e);
    assert_int_equal(e.nerr, 4);
    assert_string_equal(err, "AGENT_X=/t.json: not valid JSON (near line 3)\n"
                             "AGENT_X=/t.json: targets: must be an array of at most 4 objects\n"
                             "AGENT_X=/t.json: targets[0]: must be an object\n"
                             "AGENT_X=/t.json: targets[0]: port: 1.5 must be an integer");
}

/* Lines that do not fit whole are counted and summarised; 48 bytes stay free for that tail. */
static void test_file_overflow(void **state)
{
    (void)state;
    char err[100];
    struct cfgerr e;
    cfgerr_init(&e, "AGENT_X", "/t.json", err, sizeof err);
    cfgerr_add(&e, "a", "one");
    cfgerr_add(&e, "b", "two");
    cfgerr_add(&e, "c", "three");
    cfgerr_add(&e, "d", "four");
    cfgerr_finish(&e);
    assert_int_equal(e.nerr, 4);
    assert_int_equal(e.nshown, 2);
    assert_string_equal(err, "AGENT_X=/t.json: a: one\nAGENT_X=/t.json: b: two\n"
                             "AGENT_X=/t.json: (and 2 more problems)");
}

/* No buffer: problems are only counted. */
static void test_count_only(void **state)
{
    (void)state;
    struct cfgerr e;
    cfgerr_init(&e, "AGENT_X", "", NULL, 0);
    cfgerr_add(&e, "rate", "too high");
    cfgerr_finish(&e);
    assert_int_equal(e.nerr, 1);
    assert_int_equal(e.nshown, 0);
}

/* Request form: "field: rule" items joined by "; ", the first field kept, cut at the end of err. */
static void test_request(void **state)
{
    (void)state;
    char err[128], small[16];
    struct cfgerr e;
    cfgerr_init_request(&e, err, sizeof err);
    cfgerr_add(&e, "host", "required");
    cfgerr_add(&e, NULL, "must be an object");
    cfgerr_add(&e, "port", "%d must be in [1, 65535]", 0);
    cfgerr_finish(&e);   /* adds nothing in this form */
    assert_string_equal(err, "host: required; must be an object; port: 0 must be in [1, 65535]");
    assert_string_equal(e.field, "host");
    assert_int_equal(e.nerr, 3);

    cfgerr_init_request(&e, small, sizeof small);
    cfgerr_add(&e, "host", "required");
    cfgerr_add(&e, "port", "bad");
    cfgerr_add(&e, "name", "bad");
    assert_string_equal(small, "host: required;");
    assert_int_equal(e.nerr, 3);
}

static void test_check_keys(void **state)
{
    (void)state;
    static const char *const KEYS[] = {"a", "b", NULL};
    char err[512];
    struct cfgerr e;
    cJSON *ok = cJSON_Parse("{\"b\": 1, \"a\": 2}");
    cJSON *bad = cJSON_Parse("{\"a\": 1, \"b\": 2, \"a\": 3, \"zz\": 4}");
    assert_non_null(ok);
    assert_non_null(bad);
    cfgerr_init(&e, "AGENT_X", "p", err, sizeof err);
    assert_int_equal(cfgerr_check_keys(&e, ok, KEYS), 0);
    assert_int_equal(e.nerr, 0);
    snprintf(e.where, sizeof e.where, "defaults");
    assert_int_equal(cfgerr_check_keys(&e, bad, KEYS), -1);
    assert_string_equal(err, "AGENT_X=p: defaults: a: duplicate key (each key may appear once)\n"
                             "AGENT_X=p: defaults: zz: unknown field");
    cJSON_Delete(ok);
    cJSON_Delete(bad);
}

static void test_json_error_line(void **state)
{
    (void)state;
    const char *text = "{\n  \"a\": 1,\n  \"b\": }\n";
    assert_null(cJSON_Parse(text));
    assert_int_equal(cfgerr_json_error_line(text), 3);
    const char *first = "nonsense";
    assert_null(cJSON_Parse(first));
    assert_int_equal(cfgerr_json_error_line(first), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_lines),
        cmocka_unit_test(test_file_overflow),
        cmocka_unit_test(test_count_only),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_check_keys),
        cmocka_unit_test(test_json_error_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
