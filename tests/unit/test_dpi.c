/*
 * test_dpi.c — the nDPI inspection point (processor/dpi.c) and the
 * detection-done table (common/payload.c): labels from crafted packets, the
 * packet limit and nDPI's guess, the bounded pool of nDPI states, and the
 * done hints the capture thread reads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "common/payload.h"
#include "processor/dpi.h"

static const uint8_t CLI[16] = {192, 168, 1, 10};
static const uint8_t SRV[16] = {192, 168, 1, 1};

/* An IPv4 packet (header only as nDPI reads it) with a UDP or TCP header and payload. */
static void make_slot(struct payload_slot *s, uint8_t proto, const uint8_t *src, uint16_t sport,
                      const uint8_t *dst, uint16_t dport, const void *pay, size_t paylen)
{
    memset(s, 0, sizeof *s);
    size_t l4 = proto == 17 ? 8 : 20, tot = 20 + l4 + paylen;
    uint8_t *p = s->data;
    p[0] = 0x45;
    p[2] = (uint8_t)(tot >> 8);
    p[3] = (uint8_t)tot;
    p[8] = 64;
    p[9] = proto;
    memcpy(p + 12, src, 4);
    memcpy(p + 16, dst, 4);
    uint8_t *t = p + 20;
    t[0] = (uint8_t)(sport >> 8);
    t[1] = (uint8_t)sport;
    t[2] = (uint8_t)(dport >> 8);
    t[3] = (uint8_t)dport;
    if (proto == 17) {
        t[4] = (uint8_t)((8 + paylen) >> 8);
        t[5] = (uint8_t)(8 + paylen);
    } else {
        t[4] = 0, t[5] = 0, t[6] = 0x10, t[7] = 0;   /* seq */
        t[11] = 1;                                     /* ack */
        t[12] = 5 << 4;
        t[13] = 0x18;                                  /* PSH ACK */
        t[15] = 0xff;                                  /* window */
    }
    memcpy(p + 20 + l4, pay, paylen);
    s->l3_len = (uint16_t)tot;
    s->l4_off = (uint16_t)(20 + l4);
    s->l4_len = (uint16_t)paylen;
}

/* DNS query for www.example.com, type A (RFC 1035 §4.1). */
static const uint8_t DNS_Q[] = {
    0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
    3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
    0x00, 0x01, 0x00, 0x01,
};

/* Its answer: www.example.com A 93.184.216.34. */
static const uint8_t DNS_R[] = {
    0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
    3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0,
    0x00, 0x01, 0x00, 0x01,
    0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10, 0x00, 0x04, 93, 184, 216, 34,
};

static const char HTTP_GET[] = "GET /index.html HTTP/1.1\r\nHost: www.example.com\r\n"
                               "User-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n";

static struct dpi_flow_id fid(uint8_t proto, uint16_t sport, uint16_t dport)
{
    struct dpi_flow_id id = {.src = CLI, .dst = SRV, .sport = sport, .dport = dport,
                             .proto = proto, .ipver = 4};
    return id;
}

static void test_dns_is_labelled_and_done(void **state)
{
    (void)state;
    char err[128];
    payload_done *done = payload_done_create(err, sizeof err);
    assert_non_null(done);
    dpi *d = dpi_create(4, done, err, sizeof err);
    assert_non_null(d);
    struct dpi_flow df;
    memset(&df, 0, sizeof df);
    struct dpi_flow_id id = fid(17, 40000, 53);
    uint64_t h = payload_flow_hash(done, SRV, 53, CLI, 40000, 17);   /* either order */
    assert_int_equal(h, payload_flow_hash(done, CLI, 40000, SRV, 53, 17));
    assert_false(payload_done_test(done, h));

    struct payload_slot s;
    make_slot(&s, 17, CLI, 40000, SRV, 53, DNS_Q, sizeof DNS_Q);
    assert_true(dpi_flow_active(&df));
    dpi_packet(d, &df, &id, 0, &s, 1700000000000000ull);
    assert_int_equal(df.state, DPI_RUNNING);       /* labelled, but nDPI wants the answer */
    assert_false(payload_done_test(done, h));
    make_slot(&s, 17, SRV, 53, CLI, 40000, DNS_R, sizeof DNS_R);
    dpi_packet(d, &df, &id, 1, &s, 1700000000001000ull);
    assert_int_equal(df.state, DPI_DONE);
    assert_null(df.nf);
    assert_true(payload_done_test(done, h));      /* the capture stops copying */

    struct dpi_stats st;
    dpi_get_stats(d, &st);
    assert_int_equal(st.flows_inspected, 1);
    assert_int_equal(st.flows_detected, 1);
    assert_int_equal(st.pool_in_use, 0);
    assert_int_equal(st.payload_packets, 2);
    /* metadata (inspect/, DPI_WANT_META): query and answer seen, state given back */
    assert_int_equal(st.meta_flows, 1);
    assert_int_equal(st.meta_found, 1);
    assert_int_equal(st.meta_in_use, 0);
    assert_int_equal(df.meta_kept, 1);             /* the result moved to the slab */
    assert_int_equal(st.meta_kept, 1);

    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    dpi_flow_end(d, &df, &id, true, &ev);
    assert_int_equal(ev.has_app, 1);
    assert_string_equal(ev.app_protocol, "DNS");
    assert_string_equal(ev.app_name, "DNS");
    assert_string_equal(ev.app_category, "Network");
    assert_int_equal(ev.app_guessed, 0);
    assert_int_equal(ev.meta.kind, INSPECT_KIND_DNS);
    assert_string_equal(ev.meta.u.dns.qname, "www.example.com");
    assert_int_equal(ev.meta.u.dns.qtype, 1);
    assert_int_equal(ev.meta.u.dns.n_answers, 1);
    assert_string_equal(ev.meta.u.dns.answers[0].data, "93.184.216.34");
    char js[512];
    size_t jn = inspect_result_format(&ev.meta, js, sizeof js);
    assert_int_equal(jn, strlen(js));
    assert_string_equal(js, ",\"dns\":{\"query\":\"www.example.com\",\"qtype\":1,\"rcode\":0,"
                            "\"answer_count\":1,\"answers\":[{\"type\":1,\"ttl\":3600,"
                            "\"data\":\"93.184.216.34\"}]}");
    assert_false(payload_done_test(done, h));     /* cleared when the flow ends */
    dpi_get_stats(d, &st);
    assert_int_equal(st.meta_kept, 0);             /* the final record gave the slot back */
    assert_int_equal(df.meta_kept, 0);
    dpi_destroy(d);
    payload_done_destroy(done);
}

static void test_http_over_tcp(void **state)
{
    (void)state;
    char err[128];
    dpi *d = dpi_create(4, NULL, err, sizeof err);
    assert_non_null(d);
    struct dpi_flow df;
    memset(&df, 0, sizeof df);
    struct dpi_flow_id id = fid(6, 40001, 80);
    struct payload_slot s;
    dpi_packet(d, &df, &id, 0, NULL, 1000);        /* SYN: no payload, nothing taken */
    assert_int_equal(df.state, DPI_NEW);
    make_slot(&s, 6, CLI, 40001, SRV, 80, HTTP_GET, strlen(HTTP_GET));
    dpi_packet(d, &df, &id, 0, &s, 2000);
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    dpi_flow_end(d, &df, &id, true, &ev);
    assert_string_equal(ev.app_protocol, "HTTP");
    assert_int_equal(ev.app_guessed, 0);
    struct dpi_stats st;
    dpi_get_stats(d, &st);
    assert_int_equal(st.pool_in_use, 0);
    dpi_destroy(d);
}

/* Payload nDPI cannot place: after DPI_UDP_PACKETS it gives up and guesses. */
static void test_udp_limit_then_guess(void **state)
{
    (void)state;
    char err[128];
    dpi *d = dpi_create(2, NULL, err, sizeof err);
    assert_non_null(d);
    struct dpi_flow df;
    memset(&df, 0, sizeof df);
    struct dpi_flow_id id = fid(17, 40002, 47001);
    uint8_t junk[64];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37u + 11u);
    struct payload_slot s;
    make_slot(&s, 17, CLI, 40002, SRV, 47001, junk, sizeof junk);
    unsigned n = 0;
    while (dpi_flow_active(&df) && n < 100) {
        dpi_packet(d, &df, &id, 0, &s, 1000u * ++n);
    }
    assert_int_equal(n, DPI_UDP_PACKETS + 1);
    assert_int_equal(df.state, DPI_DONE);
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    dpi_flow_end(d, &df, &id, true, &ev);
    assert_string_equal(ev.app_protocol, "Unknown");
    assert_int_equal(ev.app_guessed, 0);
    dpi_destroy(d);
}

/* A flow that ends before any payload gets the guess from its ports. */
static void test_no_payload_guess_by_port(void **state)
{
    (void)state;
    char err[128];
    dpi *d = dpi_create(2, NULL, err, sizeof err);
    assert_non_null(d);
    struct dpi_flow df;
    memset(&df, 0, sizeof df);
    struct dpi_flow_id id = fid(6, 40003, 443);
    dpi_packet(d, &df, &id, 0, NULL, 1000);
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    dpi_flow_end(d, &df, &id, true, &ev);
    assert_string_equal(ev.app_protocol, "TLS");
    assert_string_equal(ev.app_name, "TLS");
    assert_int_equal(ev.app_guessed, 1);
    dpi_destroy(d);
}

/* Pool of 1: the second flow in detection is not inspected, and that is counted. */
static void test_pool_bound(void **state)
{
    (void)state;
    char err[128];
    payload_done *done = payload_done_create(err, sizeof err);
    dpi *d = dpi_create(1, done, err, sizeof err);
    assert_non_null(d);
    struct dpi_flow a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    struct dpi_flow_id ida = fid(6, 40004, 80), idb = fid(6, 40005, 80);
    struct payload_slot s;
    make_slot(&s, 6, CLI, 40004, SRV, 80, HTTP_GET, strlen(HTTP_GET));
    dpi_packet(d, &a, &ida, 0, &s, 1000);
    assert_int_equal(a.state, DPI_RUNNING);
    make_slot(&s, 6, CLI, 40005, SRV, 80, HTTP_GET, strlen(HTTP_GET));
    dpi_packet(d, &b, &idb, 0, &s, 2000);
    assert_int_equal(b.state, DPI_SKIPPED);
    assert_false(dpi_flow_active(&b));
    assert_true(payload_done_test(done, payload_flow_hash(done, CLI, 40005, SRV, 80, 6)));
    struct dpi_stats st;
    dpi_get_stats(d, &st);
    assert_int_equal(st.pool_empty, 1);
    assert_int_equal(st.pool_in_use, 1);
    struct flow_event ev;
    dpi_flow_end(d, &a, &ida, true, &ev);
    dpi_flow_end(d, &b, &idb, true, &ev);
    dpi_get_stats(d, &st);
    assert_int_equal(st.pool_in_use, 0);
    dpi_destroy(d);
    payload_done_destroy(done);
}

/* What a flow costs in the flow table with AGENT_DPI on (issue 15.1: <= 512 bytes
 * per classified flow with struct flow): pinned, so it cannot grow unnoticed. */
static void test_per_flow_sizes(void **state)
{
    (void)state;
    assert_int_equal(sizeof(struct dpi_flow), 24);
    assert_int_equal(sizeof(struct inspect_result), 256);   /* only in the slab, per flow that found metadata */
}

/*
 * The result slab: a flow whose parsers found something keeps its result in a
 * slot until its final record (interim records read it too); a flow whose
 * parsers found nothing keeps none; slots are reused, and the slab grows in
 * chunks (4096 slots) only as far as results are held at once.
 */
static void test_meta_slab(void **state)
{
    (void)state;
    enum { N = 5000 };
    char err[128];
    dpi *d = dpi_create(4, NULL, err, sizeof err);
    assert_non_null(d);
    static struct dpi_flow df[N];
    memset(df, 0, sizeof df);
    struct payload_slot s;
    struct dpi_stats st;
    struct flow_event ev;
    for (unsigned i = 0; i < N; i++) {
        uint16_t port = (uint16_t)(20000u + i);
        struct dpi_flow_id id = fid(17, port, 53);
        make_slot(&s, 17, CLI, port, SRV, 53, DNS_Q, sizeof DNS_Q);
        dpi_packet(d, &df[i], &id, 0, &s, 1000u + i);
        make_slot(&s, 17, SRV, 53, CLI, port, DNS_R, sizeof DNS_R);
        dpi_packet(d, &df[i], &id, 1, &s, 2000u + i);
        assert_int_equal(df[i].state, DPI_DONE);
        assert_int_equal(df[i].meta_kept, 1);
    }
    dpi_get_stats(d, &st);
    assert_int_equal(st.meta_kept, N);
    assert_int_equal(st.meta_slab_slots, 8192);     /* two chunks */
    assert_int_equal(st.meta_in_use, 0);
    assert_int_equal(st.pool_in_use, 0);
    /* an interim record reads the kept result and keeps it */
    struct dpi_flow_id id7 = fid(17, 20007, 53);
    memset(&ev, 0, sizeof ev);
    dpi_flow_end(d, &df[7], &id7, false, &ev);
    assert_int_equal(ev.meta.kind, INSPECT_KIND_DNS);
    assert_string_equal(ev.meta.u.dns.qname, "www.example.com");
    assert_int_equal(df[7].meta_kept, 1);
    for (unsigned i = 0; i < N; i++) {
        struct dpi_flow_id id = fid(17, (uint16_t)(20000u + i), 53);
        memset(&ev, 0xa5, sizeof ev);
        dpi_flow_end(d, &df[i], &id, true, &ev);
        assert_int_equal(ev.meta.kind, INSPECT_KIND_DNS);
        assert_string_equal(ev.meta.u.dns.qname, "www.example.com");
        assert_string_equal(ev.meta.u.dns.answers[0].data, "93.184.216.34");
    }
    dpi_get_stats(d, &st);
    assert_int_equal(st.meta_kept, 0);
    assert_int_equal(st.meta_found, N);

    /* junk nDPI and the parsers cannot place: nothing kept, the record says none */
    struct dpi_flow j;
    memset(&j, 0, sizeof j);
    struct dpi_flow_id idj = fid(17, 40009, 47001);
    uint8_t junk[64];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37u + 11u);
    make_slot(&s, 17, CLI, 40009, SRV, 47001, junk, sizeof junk);
    for (unsigned n = 0; dpi_flow_active(&j) && n < 100; n++)
        dpi_packet(d, &j, &idj, 0, &s, 5000u + n);
    assert_int_equal(j.meta_kept, 0);
    memset(&ev, 0xa5, sizeof ev);
    dpi_flow_end(d, &j, &idj, true, &ev);
    assert_int_equal(ev.meta.kind, INSPECT_KIND_NONE);
    dpi_get_stats(d, &st);
    assert_int_equal(st.meta_kept, 0);

    /* slots are reused: the next N results fit in the same two chunks */
    for (unsigned i = 0; i < N; i++) {
        uint16_t port = (uint16_t)(30000u + i);
        struct dpi_flow_id id = fid(17, port, 53);
        memset(&df[i], 0, sizeof df[i]);
        make_slot(&s, 17, CLI, port, SRV, 53, DNS_Q, sizeof DNS_Q);
        dpi_packet(d, &df[i], &id, 0, &s, 9000u + i);
        make_slot(&s, 17, SRV, 53, CLI, port, DNS_R, sizeof DNS_R);
        dpi_packet(d, &df[i], &id, 1, &s, 9500u + i);
    }
    dpi_get_stats(d, &st);
    assert_int_equal(st.meta_kept, N);
    assert_int_equal(st.meta_slab_slots, 8192);
    for (unsigned i = 0; i < N; i++) {
        struct dpi_flow_id id = fid(17, (uint16_t)(30000u + i), 53);
        dpi_flow_end(d, &df[i], &id, true, &ev);
    }
    dpi_get_stats(d, &st);
    assert_int_equal(st.meta_kept, 0);
    dpi_destroy(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dns_is_labelled_and_done),
        cmocka_unit_test(test_http_over_tcp),
        cmocka_unit_test(test_udp_limit_then_guess),
        cmocka_unit_test(test_no_payload_guess_by_port),
        cmocka_unit_test(test_pool_bound),
        cmocka_unit_test(test_per_flow_sizes),
        cmocka_unit_test(test_meta_slab),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
