/*
 * test_metrics.c — the Prometheus text (every family with HELP and TYPE, the
 * label values, escaping in tracer_build_info) and the server on a loopback
 * port: /metrics calls the collect callback per scrape, /healthz follows the
 * health callback (200/503), unknown paths 404, other methods 405, a bad or
 * taken address fails with a message.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/metrics.h"

static bool has_line(const char *text, const char *want)
{
    size_t n = strlen(want);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, want, n) == 0 && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

/* The per-output families (issue 16): one sample per output that is on, none for an unused slot. */
static void test_render_outputs(void **state)
{
    (void)state;
    struct metrics_snapshot s;
    memset(&s, 0, sizeof s);
    s.outputs[0] = (struct metrics_output){.name = "stdout", .offered = 5, .delivered = 4, .dropped = 1,
                                           .failed = {{"write_error", 1}}, .nfailed = 1};
    s.outputs[1] = (struct metrics_output){.name = "kafka", .offered = 100, .delivered = 90, .spooled = 12,
                                           .replayed = 2, .dropped = 3, .queued = 7, .spool_events = 9,
                                           .failed = {{"queue_full", 4}, {"timed_out", 8}}, .nfailed = 2};
    size_t len = 0;
    char *t = metrics_render(&s, "1", &len);
    assert_non_null(t);
    static const char *const want[] = {
        "# TYPE tracer_output_events_total counter\n"
        "tracer_output_events_total{output=\"stdout\",result=\"offered\"} 5\n"
        "tracer_output_events_total{output=\"stdout\",result=\"delivered\"} 4\n"
        "tracer_output_events_total{output=\"stdout\",result=\"spooled\"} 0\n"
        "tracer_output_events_total{output=\"stdout\",result=\"replayed\"} 0\n"
        "tracer_output_events_total{output=\"stdout\",result=\"dropped\"} 1\n"
        "tracer_output_events_total{output=\"kafka\",result=\"offered\"} 100\n"
        "tracer_output_events_total{output=\"kafka\",result=\"delivered\"} 90\n"
        "tracer_output_events_total{output=\"kafka\",result=\"spooled\"} 12\n"
        "tracer_output_events_total{output=\"kafka\",result=\"replayed\"} 2\n"
        "tracer_output_events_total{output=\"kafka\",result=\"dropped\"} 3\n# HELP",
        "# TYPE tracer_output_failures_total counter\n"
        "tracer_output_failures_total{output=\"stdout\",reason=\"write_error\"} 1\n"
        "tracer_output_failures_total{output=\"kafka\",reason=\"queue_full\"} 4\n"
        "tracer_output_failures_total{output=\"kafka\",reason=\"timed_out\"} 8\n# HELP",
        "# TYPE tracer_output_queued gauge\ntracer_output_queued{output=\"stdout\"} 0\n"
        "tracer_output_queued{output=\"kafka\"} 7\n# HELP",
        "# TYPE tracer_output_spooled gauge\ntracer_output_spooled{output=\"stdout\"} 0\n"
        "tracer_output_spooled{output=\"kafka\"} 9\n# HELP",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!strstr(t, want[i]))
            fail_msg("missing:\n%s\nin:\n%s", want[i], t);
    assert_null(strstr(t, "output=\"http\""));
    free(t);
}

static void test_render(void **state)
{
    (void)state;
    struct metrics_snapshot s;
    memset(&s, 0, sizeof s);
    s.packets_received = 12;
    s.dropped_kernel = 1;
    s.dropped_decode = 3;
    s.flows_active = 4;
    s.flows_ended[METRICS_END_FIN] = 5;
    s.flows_ended[METRICS_END_SHUTDOWN] = 6;
    s.flows_evicted = 7;
    s.events_output[METRICS_TYPE_FLOW] = 8;
    s.events_output[METRICS_TYPE_SENSOR] = 9;
    s.events_delivered = 17;
    s.events_dropped[METRICS_DROP_REJECTED] = 10;
    s.events_spooled = 11;
    s.http_requests[METRICS_HTTP_5XX] = 13;
    s.snmp_polls_ok = 14;
    s.snmp_polls_failed = 15;
    s.traps_received = 16;
    s.process_lookups = 20;
    s.process_found = 18;
    s.process_denied = 3;
    s.ping_replies = 19;
    s.ping_send_errors = 20;
    s.capture_alive = true;
    size_t len = 0;
    char *t = metrics_render(&s, "1.2.3\"x", &len);
    assert_non_null(t);
    assert_int_equal(len, strlen(t));
    static const char *const want[] = {
        "# TYPE tracer_packets_received_total counter",
        "tracer_packets_received_total 12",
        "tracer_packets_dropped_total{stage=\"kernel\"} 1",
        "tracer_packets_dropped_total{stage=\"interface\"} 0",
        "tracer_packets_dropped_total{stage=\"ring\"} 0",
        "tracer_packets_dropped_total{stage=\"decode\"} 3",
        "# TYPE tracer_flows_active gauge",
        "tracer_flows_active 4",
        "tracer_flows_ended_total{reason=\"fin\"} 5",
        "tracer_flows_ended_total{reason=\"rst\"} 0",
        "tracer_flows_ended_total{reason=\"idle\"} 0",
        "tracer_flows_ended_total{reason=\"evicted\"} 0",
        "tracer_flows_ended_total{reason=\"shutdown\"} 6",
        "tracer_flows_evicted_total 7",
        "# TYPE tracer_events_output_total counter",
        "tracer_events_output_total{type=\"flow\"} 8",
        "tracer_events_output_total{type=\"sensor\"} 9",
        "tracer_events_output_total{type=\"snmp\"} 0",
        "# TYPE tracer_events_delivered_total counter",
        "tracer_events_delivered_total 17",
        "# HELP tracer_events_sent_total Deprecated: the same as tracer_events_output_total "
        "(events handed to the output, not delivered).",
        "tracer_events_sent_total{type=\"flow\"} 8",
        "tracer_events_sent_total{type=\"sensor\"} 9",
        "tracer_events_dropped_total{reason=\"rejected\"} 10",
        "tracer_events_dropped_total{reason=\"ring\"} 0",
        "# TYPE tracer_events_spooled gauge",
        "tracer_events_spooled 11",
        "tracer_http_requests_total{code=\"5xx\"} 13",
        "tracer_http_requests_total{code=\"error\"} 0",
        "tracer_snmp_polls_total{result=\"ok\"} 14",
        "tracer_snmp_polls_total{result=\"failed\"} 15",
        "tracer_traps_received_total 16",
        "tracer_ping_probes_total{result=\"replied\"} 19",
        "tracer_ping_probes_total{result=\"timed_out\"} 0",
        "tracer_ping_probes_total{result=\"send_error\"} 20",
        "tracer_process_lookups_total{result=\"found\"} 18",
        "tracer_process_lookups_total{result=\"not_found\"} 2",
        "tracer_process_denied_total 3",
        "tracer_process_snapshot_errors_total 0",
        "tracer_thread_alive{thread=\"capture\"} 1",
        "tracer_thread_alive{thread=\"sender\"} 0",
        "# TYPE tracer_build_info gauge",
        "tracer_build_info{version=\"1.2.3\\\"x\"} 1",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (!has_line(t, want[i]))
            fail_msg("missing line %s in:\n%s", want[i], t);
    /* every sample's family has HELP and TYPE before it */
    for (const char *p = t; *p; p = strchr(p, '\n') + 1) {
        if (*p != '#') {
            char name[128];
            size_t n = strcspn(p, "{ ");
            snprintf(name, sizeof name, "# TYPE %.*s ", (int)n, p);
            const char *type = strstr(t, name);
            assert_non_null(type);
            assert_true(type < p);
            snprintf(name, sizeof name, "# HELP %.*s ", (int)n, p);
            assert_non_null(strstr(t, name));
        }
    }
    free(t);
}

/* ------------------------------------------------------------------ server */

struct fake {
    atomic_int collects;
    atomic_bool healthy;
};

static void fake_collect(void *arg, struct metrics_snapshot *out)
{
    struct fake *f = arg;
    out->packets_received = (uint64_t)atomic_fetch_add(&f->collects, 1) + 1;
}

static bool fake_healthy(void *arg, char *why, size_t len)
{
    struct fake *f = arg;
    if (atomic_load(&f->healthy))
        return true;
    snprintf(why, len, "capture thread not running");
    return false;
}

/* One request on a fresh connection; returns the whole response (heap). */
static char *request(uint16_t port, const char *method, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    char req[256];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", method, path);
    assert_int_equal(write(fd, req, (size_t)n), n);
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    ssize_t r;
    while ((r = read(fd, buf + len, cap - 1 - len)) > 0)
        len += (size_t)r;
    buf[len] = '\0';
    close(fd);
    return buf;
}

static void expect_status(char *resp, const char *status_line, const char *body_part)
{
    if (strncmp(resp, status_line, strlen(status_line)) != 0 || (body_part && !strstr(resp, body_part)))
        fail_msg("expected %s ... %s, got:\n%s", status_line, body_part ? body_part : "", resp);
    free(resp);
}

static void test_server(void **state)
{
    (void)state;
    struct fake f;
    atomic_init(&f.collects, 0);
    atomic_init(&f.healthy, true);
    const struct metrics_source src = {fake_collect, fake_healthy, &f};
    char err[256];
    metrics_server *m = metrics_create("127.0.0.1:0", "9.9.9", &src, err, sizeof err);
    assert_non_null(m);
    assert_int_equal(metrics_port(m), 0);
    assert_int_equal(metrics_start(m, err, sizeof err), 0);
    uint16_t port = metrics_port(m);
    assert_true(port > 0);

    char *r = request(port, "GET", "/metrics");
    assert_non_null(strstr(r, "Content-Type: text/plain; version=0.0.4"));
    expect_status(r, "HTTP/1.1 200", "\ntracer_packets_received_total 1\n");
    expect_status(request(port, "GET", "/metrics"), "HTTP/1.1 200", "\ntracer_packets_received_total 2\n");
    expect_status(request(port, "GET", "/metrics"), "HTTP/1.1 200", "tracer_build_info{version=\"9.9.9\"} 1");
    expect_status(request(port, "GET", "/healthz"), "HTTP/1.1 200", "\r\n\r\nok\n");
    atomic_store(&f.healthy, false);
    expect_status(request(port, "GET", "/healthz"), "HTTP/1.1 503", "unhealthy: capture thread not running");
    expect_status(request(port, "HEAD", "/healthz"), "HTTP/1.1 503", NULL);
    expect_status(request(port, "GET", "/nope"), "HTTP/1.1 404", NULL);
    r = request(port, "POST", "/metrics");
    assert_non_null(strstr(r, "Allow: GET, HEAD"));
    expect_status(r, "HTTP/1.1 405", NULL);

    /* the port is taken now: a second server says so */
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)port);
    metrics_server *m2 = metrics_create(addr, "9.9.9", &src, err, sizeof err);
    assert_non_null(m2);
    assert_int_equal(metrics_start(m2, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot listen on port"));
    metrics_destroy(m2);

    metrics_stop(m);
    assert_int_equal(metrics_port(m), 0);
    metrics_destroy(m);
    metrics_destroy(NULL);
}

static void test_bad_addresses(void **state)
{
    (void)state;
    struct fake f;
    const struct metrics_source src = {fake_collect, fake_healthy, &f};
    char err[256];
    static const char *const bad[] = {"9108", "host", "[::1]9108", "[]:9108", "a:b:9108", "h:x", "h:70000", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (metrics_create(bad[i], "v", &src, err, sizeof err))
            fail_msg("%s accepted", bad[i]);
        assert_non_null(strstr(err, "AGENT_METRICS_ADDR="));
    }
    assert_null(metrics_create("no-such-host.invalid:9108", "v", &src, err, sizeof err));
    assert_non_null(strstr(err, "cannot resolve no-such-host.invalid"));
    metrics_server *m = metrics_create("[::1]:0", "v", &src, err, sizeof err);
    assert_non_null(m);
    metrics_destroy(m);
    m = metrics_create(":0", "v", &src, err, sizeof err);
    assert_non_null(m);
    metrics_destroy(m);
}

/* Application identification's families (issue 15): only when AGENT_DPI is on, exact samples. */
static void test_render_dpi(void **state)
{
    (void)state;
    struct metrics_snapshot s;
    memset(&s, 0, sizeof s);
    size_t len = 0;
    char *t = metrics_render(&s, "1", &len);
    assert_non_null(t);
    assert_null(strstr(t, "tracer_dpi_"));
    free(t);
    s.dpi_on = true;
    s.dpi_flows_inspected = 40, s.dpi_flows_detected = 31, s.dpi_flows_guessed = 9, s.dpi_pool_empty = 2;
    s.dpi_states_in_use = 7;
    s.dpi_meta_flows = 30, s.dpi_meta_found = 12, s.dpi_meta_pool_empty = 1;
    s.dpi_payload_ring_full = 5, s.dpi_payload_orphans = 4, s.dpi_payload_missing = 3;
    t = metrics_render(&s, "1", &len);
    assert_non_null(t);
    static const char *const want[] = {
        "# TYPE tracer_dpi_flows_total counter\n"
        "tracer_dpi_flows_total{result=\"inspected\"} 40\n"
        "tracer_dpi_flows_total{result=\"detected\"} 31\n"
        "tracer_dpi_flows_total{result=\"guessed\"} 9\n"
        "tracer_dpi_flows_total{result=\"pool_empty\"} 2\n",
        "# TYPE tracer_dpi_states_in_use gauge\ntracer_dpi_states_in_use 7\n",
        "tracer_dpi_metadata_flows_total{result=\"parsed\"} 30\n"
        "tracer_dpi_metadata_flows_total{result=\"found\"} 12\n"
        "tracer_dpi_metadata_flows_total{result=\"pool_empty\"} 1\n",
        "tracer_dpi_payload_lost_total{reason=\"ring_full\"} 5\n"
        "tracer_dpi_payload_lost_total{reason=\"orphan\"} 4\n"
        "tracer_dpi_payload_lost_total{reason=\"missing\"} 3\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(t, want[i]))
            print_error("missing: %s\n", want[i]);
        assert_non_null(strstr(t, want[i]));
    }
    free(t);
}

/* The IPFIX output's families (issue 16): only when it is on, each series labelled output="ipfix". */
static void test_render_ipfix(void **state)
{
    (void)state;
    struct metrics_snapshot s;
    memset(&s, 0, sizeof s);
    size_t len = 0;
    char *t = metrics_render(&s, "1", &len);
    assert_non_null(t);
    assert_null(strstr(t, "output=\"ipfix\""));
    free(t);
    /* what cmd/sensor_probe.c fills for the IPFIX output */
    struct metrics_output *o = &s.outputs[0];
    o->name = "ipfix";
    o->offered = 25;
    o->delivered = 21;
    o->dropped = 3;
    o->queued = 5;
    o->failed[0].reason = "queue_full", o->failed[0].n = 1;
    o->failed[1].reason = "send_error", o->failed[1].n = 2;
    o->failed[2].reason = "unencodable", o->failed[2].n = 0;
    o->failed[3].reason = "connect", o->failed[3].n = 4;
    o->nfailed = 4;
    s.ipfix_on = true;
    s.ipfix_messages_sent = 3;
    s.ipfix_bytes_sent = 2048;
    t = metrics_render(&s, "1", &len);
    assert_non_null(t);
    static const char *const want[] = {
        "tracer_output_events_total{output=\"ipfix\",result=\"offered\"} 25\n"
        "tracer_output_events_total{output=\"ipfix\",result=\"delivered\"} 21\n"
        "tracer_output_events_total{output=\"ipfix\",result=\"spooled\"} 0\n"
        "tracer_output_events_total{output=\"ipfix\",result=\"replayed\"} 0\n"
        "tracer_output_events_total{output=\"ipfix\",result=\"dropped\"} 3\n",
        "tracer_output_failures_total{output=\"ipfix\",reason=\"queue_full\"} 1\n"
        "tracer_output_failures_total{output=\"ipfix\",reason=\"send_error\"} 2\n"
        "tracer_output_failures_total{output=\"ipfix\",reason=\"unencodable\"} 0\n"
        "tracer_output_failures_total{output=\"ipfix\",reason=\"connect\"} 4\n",
        "\ntracer_output_queued{output=\"ipfix\"} 5\n",
        "# TYPE tracer_output_messages_total counter\ntracer_output_messages_total{output=\"ipfix\"} 3\n",
        "# TYPE tracer_output_bytes_total counter\ntracer_output_bytes_total{output=\"ipfix\"} 2048\n",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        if (!strstr(t, want[i]))
            print_error("missing: %s\n", want[i]);
        assert_non_null(strstr(t, want[i]));
    }
    /* each family's TYPE line once, whichever outputs are on */
    assert_null(strstr(strstr(t, "# TYPE tracer_output_events_total") + 1, "# TYPE tracer_output_events_total"));
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_render_ipfix),
        cmocka_unit_test(test_render_dpi),
        cmocka_unit_test(test_render_outputs),
        cmocka_unit_test(test_server),
        cmocka_unit_test(test_bad_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
