/*
 * test_snmp_jobs.c — the control API's SNMP jobs without an agent: request
 * validation (same rules as AGENT_SNMP_CONFIG, 400 naming the field, no secret
 * in any answer), tickets, the queue cap (429), cancel of a queued job,
 * retention by age and by count; and the API server's pure parts (routing,
 * key check).
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "api/api_server.h"
#include "api/snmp_jobs.h"
#include "hooks/snmp/snmp_config.h"

#define SECRET "c0mmSecret9"

static snmp_jobs *mk(uint32_t retention_s, uint32_t max_retained, uint32_t max_queued)
{
    const struct snmp_jobs_limits lim = {retention_s, max_retained, max_queued, 1};
    snmp_jobs *j = snmp_jobs_create(&lim);
    assert_non_null(j);
    return j;   /* never started: jobs stay queued until cancelled */
}

/* Submit `body`; returns the status and the answer's text (caller frees). */
static int submit(snmp_jobs *j, const char *body, char **text)
{
    cJSON *req = cJSON_Parse(body);
    assert_non_null(req);
    cJSON *ans = NULL;
    int st = snmp_jobs_submit(j, req, &ans);
    cJSON_Delete(req);
    assert_non_null(ans);
    *text = cJSON_PrintUnformatted(ans);
    cJSON_Delete(ans);
    return st;
}

static void ticket_of(const char *text, char out[SNMP_JOBS_TICKET_LEN + 1])
{
    cJSON *o = cJSON_Parse(text);
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "ticket");
    assert_true(cJSON_IsString(t));
    snprintf(out, SNMP_JOBS_TICKET_LEN + 1, "%s", t->valuestring);
    cJSON_Delete(o);
}

static const char *GOOD = "{\"host\":\"192.0.2.1\",\"version\":\"2c\",\"community\":\"" SECRET "\","
                          "\"collect\":[\"system\",\"interfaces\"],\"oids\":[\"1.3.6.1.2.1.1.5.0\"]}";

static void test_submit_ticket_and_status(void **state)
{
    (void)state;
    snmp_jobs *j = mk(3600, 10, 10);
    char *a, *b;
    assert_int_equal(submit(j, GOOD, &a), 202);
    assert_int_equal(submit(j, GOOD, &b), 202);
    char ta[SNMP_JOBS_TICKET_LEN + 1], tb[SNMP_JOBS_TICKET_LEN + 1];
    ticket_of(a, ta);
    ticket_of(b, tb);
    assert_int_equal(strlen(ta), 32);
    for (size_t i = 0; i < 32; i++)
        assert_true(isdigit((unsigned char)ta[i]) || (ta[i] >= 'a' && ta[i] <= 'f'));
    assert_string_not_equal(ta, tb);
    char want[128];
    snprintf(want, sizeof want, "{\"ticket\":\"%s\",\"status\":\"queued\"}", ta);
    assert_string_equal(a, want);

    cJSON *ans = NULL;
    assert_int_equal(snmp_jobs_status(j, ta, &ans), 200);
    char *text = cJSON_PrintUnformatted(ans);
    assert_null(strstr(text, SECRET));
    assert_string_equal(cJSON_GetObjectItem(ans, "status")->valuestring, "queued");
    assert_string_equal(cJSON_GetObjectItem(ans, "host")->valuestring, "192.0.2.1");
    assert_int_equal(cJSON_GetObjectItem(ans, "port")->valueint, 161);
    assert_int_equal(cJSON_GetObjectItem(ans, "rows")->valueint, 0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItem(ans, "section")));
    const cJSON *secs = cJSON_GetObjectItem(ans, "sections");
    assert_int_equal(cJSON_GetArraySize(secs), 3);   /* system, interfaces, oids: the ones asked for */
    const char *names[] = {"system", "interfaces", "oids"};
    for (int i = 0; i < 3; i++) {
        const cJSON *s = cJSON_GetArrayItem(secs, i);
        assert_string_equal(cJSON_GetObjectItem(s, "name")->valuestring, names[i]);
        assert_string_equal(cJSON_GetObjectItem(s, "state")->valuestring, "pending");
        assert_int_equal(cJSON_GetObjectItem(s, "rows")->valueint, 0);
        assert_true(cJSON_IsNull(cJSON_GetObjectItem(s, "duration_ms")));
    }
    assert_null(cJSON_GetObjectItem(ans, "result"));
    free(text);
    cJSON_Delete(ans);
    assert_int_equal(snmp_jobs_status(j, "0123456789abcdef0123456789abcdef", &ans), 404);
    cJSON_Delete(ans);
    assert_int_equal(snmp_jobs_status(j, "short", &ans), 404);
    cJSON_Delete(ans);
    assert_int_equal(snmp_jobs_count(j), 2);
    free(a);
    free(b);
    snmp_jobs_destroy(j);
}

/* 400 names the field, with the same rule text as the target file; never echoes a secret. */
static void test_bad_requests(void **state)
{
    (void)state;
    static const struct { const char *body, *field, *error; } CASES[] = {
        {"{\"community\":\"" SECRET "\"}", "host", "host: required (a host name or an IPv4/IPv6 address)"},
        {"{\"host\":\"h\",\"port\":\"161\",\"community\":\"" SECRET "\"}", "port",
         "port: must be a JSON number in [1, 65535], not a string (\"161\")"},
        {"{\"host\":\"h\"}", "community", "community: required for version 2c (a non-empty string)"},
        {"{\"host\":\"h\",\"version\":\"4\",\"community\":\"" SECRET "\"}", "version", NULL},
        {"{\"host\":\"h\",\"community\":\"" SECRET "\",\"colect\":[]}", "colect", "colect: unknown field"},
        {"{\"host\":\"h\",\"community\":\"" SECRET "\",\"collect\":[\"bogus\"]}", "collect", NULL},
        {"{\"host\":\"h\",\"version\":\"3\",\"username\":\"u\",\"security_level\":\"authPriv\","
         "\"auth_protocol\":\"SHA\",\"auth_password\":\"sh0rt\",\"priv_protocol\":\"AES\","
         "\"priv_password\":\"" SECRET "\"}", "auth_password", NULL},
        {"[1,2]", NULL, "the body must be a JSON object"},
    };
    snmp_jobs *j = mk(3600, 10, 10);
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        char *text;
        assert_int_equal(submit(j, CASES[i].body, &text), 400);
        cJSON *o = cJSON_Parse(text);
        const cJSON *f = cJSON_GetObjectItem(o, "field");
        if (CASES[i].field) {
            assert_true(cJSON_IsString(f));
            assert_string_equal(f->valuestring, CASES[i].field);
        } else {
            assert_null(f);
        }
        if (CASES[i].error)
            assert_string_equal(cJSON_GetObjectItem(o, "error")->valuestring, CASES[i].error);
        assert_null(strstr(text, SECRET));
        assert_null(strstr(text, "sh0rt"));
        cJSON_Delete(o);
        free(text);
    }
    assert_int_equal(snmp_jobs_count(j), 0);
    snmp_jobs_destroy(j);
}

/* Direct GET/walk: "oid" is required and numeric (checked before any agent is asked). */
static void test_direct_needs_oid(void **state)
{
    (void)state;
    snmp_jobs *j = mk(3600, 10, 10);
    const char *bodies[] = {"{\"host\":\"h\",\"community\":\"c\"}", "{\"host\":\"h\",\"community\":\"c\",\"oid\":\"sysName\"}",
                            "{\"host\":\"h\",\"community\":\"c\",\"oid\":5}"};
    for (size_t i = 0; i < 3; i++) {
        cJSON *req = cJSON_Parse(bodies[i]), *ans = NULL;
        assert_int_equal(i % 2 ? snmp_jobs_walk(j, req, &ans) : snmp_jobs_get(j, req, &ans), 400);
        assert_string_equal(cJSON_GetObjectItem(ans, "field")->valuestring, "oid");
        cJSON_Delete(req);
        cJSON_Delete(ans);
    }
    snmp_jobs_destroy(j);
}

static void test_queue_cap_and_cancel(void **state)
{
    (void)state;
    snmp_jobs *j = mk(3600, 10, 2);
    char *a, *b, *c;
    assert_int_equal(submit(j, GOOD, &a), 202);
    assert_int_equal(submit(j, GOOD, &b), 202);
    assert_int_equal(submit(j, GOOD, &c), 429);
    assert_string_equal(c, "{\"error\":\"too many jobs waiting (AGENT_API_MAX_QUEUED=2); try again later\"}");
    char ta[SNMP_JOBS_TICKET_LEN + 1];
    ticket_of(a, ta);
    cJSON *ans = NULL;
    assert_int_equal(snmp_jobs_cancel(j, ta, &ans), 200);
    assert_string_equal(cJSON_GetObjectItem(ans, "status")->valuestring, "cancelled");
    cJSON_Delete(ans);
    free(c);
    assert_int_equal(submit(j, GOOD, &c), 202);   /* a queue place freed */
    assert_int_equal(snmp_jobs_cancel(j, "ffffffffffffffffffffffffffffffff", &ans), 404);
    cJSON_Delete(ans);
    free(a);
    free(b);
    free(c);
    snmp_jobs_destroy(j);
}

/* Finished jobs go after the retention, and beyond the cap the oldest finished goes first. */
static void test_retention(void **state)
{
    (void)state;
    snmp_jobs *j = mk(10, 2, 10);
    char *text[4];
    char t[4][SNMP_JOBS_TICKET_LEN + 1];
    cJSON *ans;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(submit(j, GOOD, &text[i]), 202);
        ticket_of(text[i], t[i]);
        free(text[i]);
    }
    uint64_t now = snmp_jobs_now_ms();
    for (int i = 0; i < 3; i++) {   /* three finish; the cap keeps two: t[0] goes */
        assert_int_equal(snmp_jobs_cancel(j, t[i], &ans), 200);
        cJSON_Delete(ans);
    }
    assert_int_equal(snmp_jobs_count(j), 3);   /* t[1], t[2] finished; t[3] queued */
    assert_int_equal(snmp_jobs_status(j, t[0], &ans), 404);
    cJSON_Delete(ans);
    assert_int_equal(snmp_jobs_status(j, t[1], &ans), 200);
    cJSON_Delete(ans);
    assert_int_equal(snmp_jobs_expire(j, now + 5000), 0);          /* younger than 10 s */
    assert_int_equal(snmp_jobs_expire(j, now + 60000), 2);         /* both finished ones */
    assert_int_equal(snmp_jobs_count(j), 1);                       /* the queued one stays */
    assert_int_equal(snmp_jobs_expire(j, now + 3600000), 0);
    snmp_jobs_destroy(j);
}

static void test_target_from_json(void **state)
{
    (void)state;
    cJSON *o = cJSON_Parse("{\"host\":\"[2001:db8::1]\",\"version\":\"1\",\"community\":\"x\",\"port\":1161,"
                           "\"max_rows\":5}");
    struct snmp_target t;
    char field[64], err[256];
    assert_int_equal(snmp_target_from_json(o, &t, field, sizeof field, err, sizeof err), 0);
    assert_string_equal(t.host, "2001:db8::1");
    assert_string_equal(t.name, "2001:db8::1");
    assert_int_equal(t.port, 1161);
    assert_int_equal(t.version, SNMP_CFG_V1);
    assert_int_equal(t.max_rows, 5);
    assert_int_equal(t.collect, SNMP_COLLECT_SYSTEM);
    snmp_target_clear(&t);
    snmp_target_clear(NULL);
    cJSON_Delete(o);
    /* every problem, "; "-separated, the first field kept */
    o = cJSON_Parse("{\"host\":\"h\",\"port\":0,\"retries\":99}");
    assert_int_equal(snmp_target_from_json(o, &t, field, sizeof field, err, sizeof err), -1);
    assert_string_equal(field, "port");
    assert_string_equal(err, "port: 0 must be an integer in [1, 65535]; community: required for version 2c (a "
                             "non-empty string); retries: 99 must be an integer in [0, 10]");
    cJSON_Delete(o);
}

static void test_routes(void **state)
{
    (void)state;
    static const struct { const char *m, *u; enum api_route r; const char *ticket, *allow; } CASES[] = {
        {"POST", "/v1/snmp/jobs", API_JOBS_SUBMIT, NULL, "POST"},
        {"GET", "/v1/snmp/jobs", API_BAD_METHOD, NULL, "POST"},
        {"GET", "/v1/snmp/jobs/abc", API_JOB_STATUS, "abc", "GET, DELETE"},
        {"DELETE", "/v1/snmp/jobs/abc", API_JOB_CANCEL, "abc", "GET, DELETE"},
        {"POST", "/v1/snmp/jobs/abc", API_BAD_METHOD, "abc", "GET, DELETE"},
        {"GET", "/v1/snmp/jobs/", API_NOT_FOUND, NULL, NULL},
        {"GET", "/v1/snmp/jobs/a/b", API_NOT_FOUND, NULL, NULL},
        {"POST", "/v1/snmp/get", API_GET, NULL, "POST"},
        {"POST", "/v1/snmp/walk", API_WALK, NULL, "POST"},
        {"GET", "/v1/snmp/walk", API_BAD_METHOD, NULL, "POST"},
        {"POST", "/v1/reload", API_RELOAD, NULL, "POST"},
        {"PUT", "/v1/reload", API_BAD_METHOD, NULL, "POST"},
        {"GET", "/", API_NOT_FOUND, NULL, NULL},
        {"POST", "/v1/snmp/jobsx", API_NOT_FOUND, NULL, NULL},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) {
        const char *ticket, *allow;
        assert_int_equal(api_route_of(CASES[i].m, CASES[i].u, &ticket, &allow), CASES[i].r);
        if (CASES[i].ticket)
            assert_string_equal(ticket, CASES[i].ticket);
        else
            assert_null(ticket);
        if (CASES[i].allow)
            assert_string_equal(allow, CASES[i].allow);
        else
            assert_null(allow);
    }
}

static void test_key(void **state)
{
    (void)state;
    unsigned char d[32];
    assert_int_equal(api_key_digest("s3cret-key", 10, d), 0);
    assert_true(api_key_matches(d, "Bearer s3cret-key", NULL));
    assert_true(api_key_matches(d, "bearer s3cret-key", NULL));
    assert_true(api_key_matches(d, NULL, "s3cret-key"));
    assert_false(api_key_matches(d, "Bearer s3cret-kez", NULL));
    assert_false(api_key_matches(d, "Bearer s3cret-key2", NULL));
    assert_false(api_key_matches(d, "Bearer s3cret-ke", NULL));
    assert_false(api_key_matches(d, "Basic s3cret-key", NULL));
    assert_false(api_key_matches(d, "Bearer ", NULL));
    assert_false(api_key_matches(d, NULL, ""));
    assert_false(api_key_matches(d, NULL, NULL));
    assert_false(api_key_matches(d, "Bearer wrong", "s3cret-key"));   /* Authorization wins when it is Bearer */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_submit_ticket_and_status),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_direct_needs_oid),
        cmocka_unit_test(test_queue_cap_and_cancel),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_target_from_json),
        cmocka_unit_test(test_routes),
        cmocka_unit_test(test_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
