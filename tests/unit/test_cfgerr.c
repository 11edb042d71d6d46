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
#include <stdlib.h>
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

static void test_get_string(void **state)
{
    (void)state;
    char err[512];
    struct cfgerr e;
    char *out = (char *)"unset";
    cJSON *obj = cJSON_Parse("{\"ok\": \"edge-1\", \"num\": 5, \"empty\": \"\", \"long\": \"abcdefghi\", "
                             "\"ctl\": \"a\\tb\"}");
    assert_non_null(obj);
    cfgerr_init(&e, "AGENT_X", "p", err, sizeof err);
    assert_int_equal(cfgerr_get_string(&e, obj, "absent", 1, 8, true, &out), 0);
    assert_null(out);
    assert_int_equal(cfgerr_get_string(&e, obj, "ok", 1, 8, true, &out), 1);
    assert_string_equal(out, "edge-1");
    free(out);
    assert_int_equal(cfgerr_get_string(&e, obj, "empty", 0, 8, true, &out), 1);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(e.nerr, 0);
    assert_int_equal(cfgerr_get_string(&e, obj, "num", 1, 8, true, &out), -1);
    assert_int_equal(cfgerr_get_string(&e, obj, "empty", 1, 8, true, &out), -1);
    assert_int_equal(cfgerr_get_string(&e, obj, "long", 0, 8, true, &out), -1);
    assert_int_equal(cfgerr_get_string(&e, obj, "ctl", 0, 8, true, &out), -1);
    assert_int_equal(cfgerr_get_string(&e, obj, "ctl", 0, 8, false, &out), -1);
    assert_null(out);
    assert_string_equal(err, "AGENT_X=p: num: must be a string\n"
                             "AGENT_X=p: empty: must be 1 to 8 characters\n"
                             "AGENT_X=p: long: must be at most 8 characters\n"
                             "AGENT_X=p: ctl: \"a\tb\" must not contain control characters\n"
                             "AGENT_X=p: ctl: must not contain control characters");
    cJSON_Delete(obj);
}

static void test_get_number(void **state)
{
    (void)state;
    char err[512];
    struct cfgerr e;
    uint32_t v = 0;
    cJSON *obj = cJSON_Parse("{\"t\": 0.25, \"n\": 7, \"s\": \"161\", \"b\": true, \"f\": 1.5, \"big\": 70000}");
    assert_non_null(obj);
    cfgerr_init(&e, "AGENT_X", "p", err, sizeof err);
    assert_int_equal(cfgerr_get_number(&e, obj, "absent", 0, 10, true, 1, 42, true, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(cfgerr_get_number(&e, NULL, "t", 0, 10, true, 1, 43, true, &v), 0);
    assert_int_equal(v, 43);
    assert_int_equal(cfgerr_get_number(&e, obj, "t", 0.1, 60, false, 1000, 0, true, &v), 1);
    assert_int_equal(v, 250);
    assert_int_equal(cfgerr_get_number(&e, obj, "n", 1, 10, true, 1, 0, false, &v), 1);
    assert_int_equal(v, 7);
    assert_int_equal(e.nerr, 0);
    assert_int_equal(cfgerr_get_number(&e, obj, "s", 1, 65535, true, 1, 161, true, &v), -1);
    assert_int_equal(v, 161);
    assert_int_equal(cfgerr_get_number(&e, obj, "b", 0, 10, true, 1, 1, true, &v), -1);
    assert_int_equal(cfgerr_get_number(&e, obj, "s", 1, 100, true, 1, 5, false, &v), -1);
    assert_int_equal(cfgerr_get_number(&e, obj, "f", 0, 10, true, 1, 1, false, &v), -1);
    assert_int_equal(cfgerr_get_number(&e, obj, "big", 1, 65535, true, 1, 161, true, &v), -1);
    assert_int_equal(v, 161);
    assert_string_equal(err, "AGENT_X=p: s: must be a JSON number in [1, 65535], not a string (\"161\")\n"
                             "AGENT_X=p: b: must be a JSON number in [0, 10], not a boolean\n"
                             "AGENT_X=p: s: must be a JSON number in [1, 100]\n"
                             "AGENT_X=p: f: 1.5 must be an integer in [0, 10]\n"
                             "AGENT_X=p: big: 70000 must be an integer in [1, 65535]");
    cJSON_Delete(obj);
}

static void test_parse_object(void **state)
{
    (void)state;
    char err[512];
    struct cfgerr e;
    cfgerr_init(&e, "AGENT_X", "p", err, sizeof err);
    cJSON *root = cfgerr_parse_object(&e, "{\"a\": 1}", "must be a JSON object");
    assert_non_null(root);
    assert_int_equal(e.nerr, 0);
    cJSON_Delete(root);
    assert_null(cfgerr_parse_object(&e, "{\n  \"a\": 1,\n  \"b\": }\n", "must be a JSON object"));
    assert_null(cfgerr_parse_object(&e, "nonsense", "must be a JSON object"));
    assert_null(cfgerr_parse_object(&e, "[1, 2]", "must be a JSON object with \"targets\""));
    assert_string_equal(err, "AGENT_X=p: not valid JSON (near line 3)\n"
                             "AGENT_X=p: not valid JSON (near line 1)\n"
                             "AGENT_X=p: must be a JSON object with \"targets\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_lines),
        cmocka_unit_test(test_file_overflow),
        cmocka_unit_test(test_count_only),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_check_keys),
        cmocka_unit_test(test_get_string),
        cmocka_unit_test(test_get_number),
        cmocka_unit_test(test_parse_object),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
