/*
 * test_inspect_flow.c — the per-flow layer (inspect_flow.c) and the JSON
 * writers (inspect_json.c): a post-quantum-sized ClientHello (about 1.9 KB)
 * over three TCP segments in every arrival order, with retransmissions and
 * overlaps; the ServerHello from the other side; QUIC v1 Initials both ways;
 * DNS over UDP and TCP; HTTP and SSH; the pool's limits and counters; and
 * the cJSON builder and the fast writer giving the same bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "inspect/inspect.h"
#include "inspect/inspect_proto.h"
#include "tests/unit/inspect_vectors.h"

static struct inspect_pool *pool;

static int setup(void **state)
{
    (void)state;
    char err[128];
    pool = inspect_pool_create(4, err, sizeof err);
    return pool ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    inspect_pool_destroy(pool);
    return 0;
}

/* A TLS record holding a ClientHello for "pq.example.org" with a 1,216-byte
 * key share (X25519Kyber768's size): about 1.3 KB of extensions. */
static size_t pq_hello(uint8_t *out)
{
    size_t n = 0;
    uint8_t *b = out;
    b[n++] = 22; b[n++] = 3; b[n++] = 1; n += 2;            /* record, length later */
    size_t hs = n;
    b[n++] = 1; n += 3;                                      /* ClientHello, length later */
    b[n++] = 3; b[n++] = 3;
    for (int i = 0; i < 32; i++)
        b[n++] = (uint8_t)i;
    b[n++] = 32;
    for (int i = 0; i < 32; i++)
        b[n++] = (uint8_t)(0x40 + i);
    b[n++] = 0; b[n++] = 6;
    b[n++] = 0x13; b[n++] = 0x01; b[n++] = 0x13; b[n++] = 0x02; b[n++] = 0x13; b[n++] = 0x03;
    b[n++] = 1; b[n++] = 0;
    size_t el = n;
    n += 2;
    /* key_share first, as some stacks send it: the name comes after the big part */
    b[n++] = 0x00; b[n++] = 0x33; b[n++] = (1222 >> 8); b[n++] = (1222 & 0xff);
    b[n++] = (1220 >> 8); b[n++] = (1220 & 0xff);
    b[n++] = 0x63; b[n++] = 0x99; b[n++] = (1216 >> 8); b[n++] = (1216 & 0xff);
    for (int i = 0; i < 1216; i++)
        b[n++] = (uint8_t)(i * 7);
    static const char name[] = "pq.example.org";
    size_t nl = sizeof name - 1;
    b[n++] = 0; b[n++] = 0; b[n++] = 0; b[n++] = (uint8_t)(nl + 5);
    b[n++] = 0; b[n++] = (uint8_t)(nl + 3); b[n++] = 0; b[n++] = 0; b[n++] = (uint8_t)nl;
    memcpy(b + n, name, nl);
    n += nl;
    b[n++] = 0x00; b[n++] = 0x2b; b[n++] = 0; b[n++] = 3; b[n++] = 2; b[n++] = 3; b[n++] = 4;
    /* padding to about 1.9 KB */
    b[n++] = 0x00; b[n++] = 0x15; b[n++] = (450 >> 8); b[n++] = (450 & 0xff);
    memset(b + n, 0, 450);
    n += 450;
    size_t e = n - el - 2;
    b[el] = (uint8_t)(e >> 8); b[el + 1] = (uint8_t)e;
    size_t h = n - hs - 4;
    b[hs + 1] = (uint8_t)(h >> 16); b[hs + 2] = (uint8_t)(h >> 8); b[hs + 3] = (uint8_t)h;
    size_t r = n - 5;
    b[3] = (uint8_t)(r >> 8); b[4] = (uint8_t)r;
    return n;
}

static void test_pq_hello_every_order(void **state)
{
    (void)state;
    uint8_t hello[2048];
    size_t n = pq_hello(hello);
    assert_int_equal(n, 1798);
    const uint32_t isn = 0xfffffc00u;            /* wraps around 2^32 inside the hello */
    size_t cut1 = 700, cut2 = 1400;
    const size_t off[3] = {0, cut1, cut2}, len[3] = {cut1, cut2 - cut1, n - cut2};
    static const int orders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2}, {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int o = 0; o < 12; o++) {
        struct inspect_flow *f = inspect_flow_acquire(pool);
        assert_non_null(f);
        if (o >= 6)                              /* the SYN first: the start is known */
            assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 50000, 443, 0x02, isn - 1,
                                          true, NULL, 0));
        for (int k = 0; k < 3; k++) {
            int s = orders[o % 6][k];
            bool more = inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 50000, 443, 0, isn + (uint32_t)off[s],
                                          true, hello + off[s], len[s]);
            assert_true(more);                   /* the ServerHello is still to come */
            /* the name only once all three are in */
            const struct inspect_result *r = inspect_flow_result(f);
            if (k < 2)
                assert_int_equal(r->u.tls.has_client_hello, 0);
        }
        const struct inspect_result *r = inspect_flow_result(f);
        assert_int_equal(r->kind, INSPECT_KIND_TLS);
        assert_int_equal(r->u.tls.has_client_hello, 1);
        assert_string_equal(r->u.tls.server_name, "pq.example.org");
        assert_int_equal(r->u.tls.n_versions, 1);
        assert_int_equal(r->u.tls.versions[0], 0x0304);
        assert_int_equal(strlen(r->u.tls.ja3), 32);
        assert_memory_equal(r->u.tls.ja4, "t13d030400_", 11);
        inspect_flow_release(pool, f);
    }
}

static void test_retransmissions_and_overlaps(void **state)
{
    (void)state;
    uint8_t hello[2048];
    size_t n = pq_hello(hello);
    struct inspect_flow *f = inspect_flow_acquire(pool);
    uint32_t isn = 1000;
    /* 0-500, then 300-900 (overlap), 0-500 again, 1500-end, 900-1500 */
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 2, 0, isn, true, hello, 500));
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 2, 0, isn + 300, true, hello + 300, 600));
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 2, 0, isn, true, hello, 500));
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 2, 0, isn + 1500, true, hello + 1500,
                                  n - 1500));
    assert_int_equal(inspect_flow_result(f)->u.tls.has_client_hello, 0);
    /* an empty segment (a pure ACK) changes nothing */
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 2, 0, isn + 5000, true, hello, 0));
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 2, 0, isn + 900, true, hello + 900, 600));
    assert_string_equal(inspect_flow_result(f)->u.tls.server_name, "pq.example.org");

    /* the ServerHello from the other side, in two pieces without sequence numbers */
    assert_true(inspect_flow_feed(f, INSPECT_DIR_REV, 6, 2, 1, 0, 0, false, tls_sh, 40));
    assert_false(inspect_flow_feed(f, INSPECT_DIR_REV, 6, 2, 1, 0, 0, false, tls_sh + 40,
                                   sizeof tls_sh - 40));
    const struct inspect_result *r = inspect_flow_result(f);
    assert_int_equal(r->u.tls.has_server_hello, 1);
    assert_int_equal(r->u.tls.cipher, 0xc030);
    assert_string_equal(r->u.tls.ja3s, "35af4c8cd9495354f7d701ce8ad7fd2d");
    assert_string_equal(r->u.tls.server_alpn, "h2");
    inspect_flow_release(pool, f);
}

static void test_window_limits(void **state)
{
    (void)state;
    struct inspect_pool_stats before, after;
    inspect_pool_get_stats(pool, &before);
    struct inspect_flow *f = inspect_flow_acquire(pool);
    uint8_t junk[100];
    memset(junk, 'A', sizeof junk);
    /* bytes far beyond the window are dropped and counted; a TLS stream that
     * never completes in INSPECT_REASM_BYTES gives up */
    static const uint8_t rec[] = {22, 3, 1, 0x40, 0x00, 1, 0, 0x3f, 0xfc};
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 443, 0, 7, true, rec, 1));
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 443, 0, 7 + 10000, true, junk,
                                  sizeof junk));
    inspect_pool_get_stats(pool, &after);
    assert_int_equal(after.reasm_overflow - before.reasm_overflow, 100);
    /* the handshake says 16380 bytes: more than the buffer, so this side gives up */
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 443, 0, 8, true, rec + 1,
                                  sizeof rec - 1));
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 443, 0, 7 + sizeof rec, true, junk,
                                  sizeof junk));
    inspect_pool_get_stats(pool, &before);
    assert_int_equal(before.reasm_overflow, after.reasm_overflow);  /* not even looked at */
    assert_int_equal(inspect_flow_result(f)->u.tls.has_client_hello, 0);
    inspect_flow_release(pool, f);

    /* more than four holes: the farthest range is forgotten (counted) */
    f = inspect_flow_acquire(pool);
    inspect_pool_get_stats(pool, &before);
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 443, 0, 0, true, rec, 1));
    for (uint32_t i = 1; i <= 5; i++)
        inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 443, 0, i * 100, true, junk, 10);
    inspect_pool_get_stats(pool, &after);
    assert_int_equal(after.out_of_window - before.out_of_window, 1);
    inspect_flow_release(pool, f);
}

static void test_quic_flow(void **state)
{
    (void)state;
    struct inspect_flow *f = inspect_flow_acquire(pool);
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 17, 51972, 443, 0, 0, false, quic1_client,
                                  sizeof quic1_client));
    assert_false(inspect_flow_feed(f, INSPECT_DIR_REV, 17, 443, 51972, 0, 0, false, quic1_server,
                                   sizeof quic1_server));
    const struct inspect_result *r = inspect_flow_result(f);
    assert_int_equal(r->kind, INSPECT_KIND_QUIC);
    assert_string_equal(r->u.tls.server_name, "ssl.gstatic.com");
    assert_string_equal(r->u.tls.ja4, "q13d0312h3_55b375c5d22e_73e2d9e6cde6");
    assert_string_equal(r->u.tls.ja3, "06b6b2a2cba0b7deeaaa6a3d8374d627");
    assert_string_equal(r->u.tls.ja3s, "2b0648ab686ee45e0e7c35fcfb0eea7e");
    assert_int_equal(r->u.tls.server_version, 0x0304);
    inspect_flow_release(pool, f);

    /* UDP that is neither QUIC nor on a DNS port: done at once */
    f = inspect_flow_acquire(pool);
    assert_false(inspect_flow_feed(f, INSPECT_DIR_FWD, 17, 5000, 6000, 0, 0, false,
                                   (const uint8_t *)"hello", 5));
    assert_int_equal(inspect_flow_result(f)->kind, INSPECT_KIND_NONE);
    inspect_flow_release(pool, f);
}

static const uint8_t dns_q[] = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
                                0x00, 0x00, 3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p',
                                'l', 'e', 3, 'c', 'o', 'm', 0, 0x00, 0x01, 0x00, 0x01};
static const uint8_t dns_r[] = {0x12, 0x34, 0x81, 0x80, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00,
                                0x00, 0x00, 3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p',
                                'l', 'e', 3, 'c', 'o', 'm', 0, 0x00, 0x01, 0x00, 0x01,
                                0xc0, 0x0c, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x0e, 0x10,
                                0x00, 0x04, 192, 0, 2, 7};

static void test_dns_flows(void **state)
{
    (void)state;
    struct inspect_flow *f = inspect_flow_acquire(pool);
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 17, 40000, 53, 0, 0, false, dns_q, sizeof dns_q));
    assert_false(inspect_flow_feed(f, INSPECT_DIR_REV, 17, 53, 40000, 0, 0, false, dns_r, sizeof dns_r));
    struct inspect_result r = *inspect_flow_result(f);
    inspect_flow_release(pool, f);
    assert_int_equal(r.kind, INSPECT_KIND_DNS);
    assert_string_equal(r.u.dns.qname, "www.example.com");
    assert_int_equal(r.u.dns.n_answers, 1);
    assert_string_equal(r.u.dns.answers[0].data, "192.0.2.7");

    /* DNS over TCP: 2-byte length, the query cut over two segments */
    f = inspect_flow_acquire(pool);
    uint8_t tq[2 + sizeof dns_q];
    tq[0] = 0;
    tq[1] = sizeof dns_q;
    memcpy(tq + 2, dns_q, sizeof dns_q);
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 40000, 53, 0, 10, true, tq, 9));
    assert_int_equal(inspect_flow_result(f)->u.dns.has_query, 0);
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 40000, 53, 0, 19, true, tq + 9, sizeof tq - 9));
    assert_int_equal(inspect_flow_result(f)->u.dns.has_query, 1);
    inspect_flow_release(pool, f);
}

static void test_http_ssh_flows(void **state)
{
    (void)state;
    struct inspect_flow *f = inspect_flow_acquire(pool);
    const char *q1 = "GET /a HTTP/1.1\r\nHost: exa", *q2 = "mple.com\r\nUser-Agent: t/1\r\n\r\n";
    const char *resp = "HTTP/1.1 404 Not Found\r\n\r\n";
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 80, 0, 100, true, (const uint8_t *)q1,
                                  strlen(q1)));
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 80, 0, 100 + (uint32_t)strlen(q1), true,
                                  (const uint8_t *)q2, strlen(q2)));
    assert_false(inspect_flow_feed(f, INSPECT_DIR_REV, 6, 80, 1, 0, 5, true, (const uint8_t *)resp,
                                   strlen(resp)));
    const struct inspect_result *r = inspect_flow_result(f);
    assert_int_equal(r->kind, INSPECT_KIND_HTTP);
    assert_string_equal(r->u.http.host, "example.com");
    assert_string_equal(r->u.http.path, "/a");
    assert_string_equal(r->u.http.user_agent, "t/1");
    assert_int_equal(r->u.http.status, 404);
    inspect_flow_release(pool, f);

    f = inspect_flow_acquire(pool);
    const char *s = "SSH-2.0-Go\r\n", *c = "SSH-2.0-OpenSSH_9.6\r\n";
    assert_true(inspect_flow_feed(f, INSPECT_DIR_REV, 6, 22, 1, 0, 1, true, (const uint8_t *)s,
                                  strlen(s)));
    assert_false(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 22, 0, 1, true, (const uint8_t *)c,
                                   strlen(c)));
    r = inspect_flow_result(f);
    assert_int_equal(r->kind, INSPECT_KIND_SSH);
    assert_string_equal(r->u.ssh.server, "SSH-2.0-Go");
    assert_string_equal(r->u.ssh.client, "SSH-2.0-OpenSSH_9.6");
    inspect_flow_release(pool, f);

    /* unknown TCP payload on both sides, SYNs seen: done at the first bytes */
    const uint8_t *junk = (const uint8_t *)"\x01\x02\x03\x04\x05\x06\x07\x08";
    f = inspect_flow_acquire(pool);
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 9999, 0x02, 0, true, NULL, 0));
    assert_true(inspect_flow_feed(f, INSPECT_DIR_REV, 6, 9999, 1, 0x12, 0, true, NULL, 0));
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 9999, 0x18, 1, true, junk, 8));
    assert_false(inspect_flow_feed(f, INSPECT_DIR_REV, 6, 9999, 1, 0x18, 1, true, junk, 8));
    assert_int_equal(inspect_flow_result(f)->kind, INSPECT_KIND_NONE);
    inspect_flow_release(pool, f);
    /* without SYNs these may be later bytes: four packets a side before giving up */
    f = inspect_flow_acquire(pool);
    for (uint32_t i = 0; i < 3; i++) {
        assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 9999, 0x18, 1 + 8 * i, true, junk, 8));
        assert_true(inspect_flow_feed(f, INSPECT_DIR_REV, 6, 9999, 1, 0x18, 1 + 8 * i, true, junk, 8));
    }
    assert_true(inspect_flow_feed(f, INSPECT_DIR_FWD, 6, 1, 9999, 0x18, 25, true, junk, 8));
    assert_false(inspect_flow_feed(f, INSPECT_DIR_REV, 6, 9999, 1, 0x18, 25, true, junk, 8));
    /* other protocols are never wanted */
    assert_false(inspect_flow_feed(f, INSPECT_DIR_FWD, 1, 0, 0, 0, 0, false, dns_q, sizeof dns_q));
    inspect_flow_release(pool, f);
}

static void test_pool(void **state)
{
    (void)state;
    char err[128];
    assert_null(inspect_pool_create(0, err, sizeof err));
    assert_string_equal(err, "inspect: pool capacity 0: must be in [1, 16777216]");
    struct inspect_pool *p = inspect_pool_create(2, err, sizeof err);
    assert_non_null(p);
    struct inspect_flow *a = inspect_flow_acquire(p), *b = inspect_flow_acquire(p);
    assert_non_null(a);
    assert_non_null(b);
    assert_null(inspect_flow_acquire(p));
    struct inspect_pool_stats st;
    inspect_pool_get_stats(p, &st);
    assert_int_equal(st.exhausted, 1);
    assert_int_equal(st.in_use, 2);
    assert_int_equal(st.acquired, 2);
    /* a released state comes back reset */
    inspect_flow_feed(a, INSPECT_DIR_FWD, 17, 1, 53, 0, 0, false, dns_q, sizeof dns_q);
    inspect_flow_release(p, a);
    inspect_flow_release(p, NULL);
    struct inspect_flow *c = inspect_flow_acquire(p);
    assert_ptr_equal(c, a);
    assert_int_equal(inspect_flow_result(c)->kind, INSPECT_KIND_NONE);
    inspect_pool_get_stats(p, &st);
    assert_int_equal(st.in_use, 2);
    inspect_pool_destroy(p);
    inspect_pool_destroy(NULL);
    /* what a flow costs: the state while in detection, the result afterwards */
    assert_in_range(inspect_flow_size(), 2 * INSPECT_REASM_BYTES, 2 * INSPECT_REASM_BYTES + 1024);
    assert_int_equal(sizeof(struct inspect_result), 256);
}

/* ---- JSON ------------------------------------------------------------------ */

static char *both(const struct inspect_result *r, char *fast, size_t cap)
{
    size_t n = inspect_result_format(r, fast, cap);
    assert_true(n < cap);
    assert_int_equal(n, strlen(fast));
    cJSON *o = cJSON_CreateObject();
    assert_int_equal(inspect_result_add_json(o, r), 0);
    char *s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    /* {"kind":{...}} from cJSON is "{" + fast without its leading comma + "}" */
    char wrapped[4096];
    if (n)
        snprintf(wrapped, sizeof wrapped, "{%s}", fast + 1);
    else
        snprintf(wrapped, sizeof wrapped, "{}");
    assert_string_equal(s, wrapped);
    return s;
}

static void test_json(void **state)
{
    (void)state;
    char fast[4096];
    struct inspect_result r;
    memset(&r, 0, sizeof r);
    char *s = both(&r, fast, sizeof fast);
    assert_string_equal(fast, "");
    free(s);

    struct inspect_flow *f = inspect_flow_acquire(pool);
    inspect_flow_feed(f, INSPECT_DIR_FWD, 17, 40000, 53, 0, 0, false, dns_q, sizeof dns_q);
    inspect_flow_feed(f, INSPECT_DIR_REV, 17, 53, 40000, 0, 0, false, dns_r, sizeof dns_r);
    r = *inspect_flow_result(f);
    inspect_flow_release(pool, f);
    s = both(&r, fast, sizeof fast);
    assert_string_equal(fast, ",\"dns\":{\"query\":\"www.example.com\",\"qtype\":1,\"rcode\":0,"
                              "\"answer_count\":1,\"answers\":[{\"type\":1,\"ttl\":3600,"
                              "\"data\":\"192.0.2.7\"}]}");
    free(s);

    f = inspect_flow_acquire(pool);
    inspect_flow_feed(f, INSPECT_DIR_FWD, 17, 51972, 443, 0, 0, false, quic1_client, sizeof quic1_client);
    inspect_flow_feed(f, INSPECT_DIR_REV, 17, 443, 51972, 0, 0, false, quic1_server, sizeof quic1_server);
    r = *inspect_flow_result(f);
    inspect_flow_release(pool, f);
    s = both(&r, fast, sizeof fast);
    assert_string_equal(fast, ",\"quic\":{\"server_name\":\"ssl.gstatic.com\",\"alpn\":[\"h3\"],"
                              "\"client_version\":\"TLSv1.2\",\"supported_versions\":[\"TLSv1.3\"],"
                              "\"ja3\":\"06b6b2a2cba0b7deeaaa6a3d8374d627\","
                              "\"ja4\":\"q13d0312h3_55b375c5d22e_73e2d9e6cde6\","
                              "\"version\":\"TLSv1.3\",\"cipher\":\"0x1301\","
                              "\"ja3s\":\"2b0648ab686ee45e0e7c35fcfb0eea7e\"}");
    free(s);

    /* quotes and backslashes in a string are escaped the same way by both */
    memset(&r, 0, sizeof r);
    r.kind = INSPECT_KIND_HTTP;
    r.u.http.has_request = 1;
    r.u.http.has_response = 1;
    r.u.http.status = 200;
    strcpy(r.u.http.method, "GET");
    strcpy(r.u.http.path, "/\"q\\");
    strcpy(r.u.http.user_agent, "x");
    s = both(&r, fast, sizeof fast);
    assert_string_equal(fast, ",\"http\":{\"method\":\"GET\",\"host\":\"\",\"path\":\"/\\\"q\\\\\","
                              "\"user_agent\":\"x\",\"status\":200}");
    free(s);

    memset(&r, 0, sizeof r);
    r.kind = INSPECT_KIND_SSH;
    strcpy(r.u.ssh.server, "SSH-2.0-x");
    s = both(&r, fast, sizeof fast);
    assert_string_equal(fast, ",\"ssh\":{\"server\":\"SSH-2.0-x\"}");
    free(s);

    /* cut output: snprintf semantics, still terminated */
    char small[10];
    size_t n = inspect_result_format(&r, small, sizeof small);
    assert_int_equal(n, strlen(fast));
    assert_int_equal(strlen(small), 9);
    assert_int_equal(inspect_result_format(&r, NULL, 0), n);
}

/* A kind alone (bytes that only looked like DNS, TLS, ...: a real capture's
 * malformed HTTP request, a QUIC Initial that did not decrypt) is nothing:
 * neither writer emits an empty member such as "http":{}. One message of
 * the kind's own makes it something. */
static void test_kind_without_message(void **state)
{
    (void)state;
    static const uint8_t kinds[] = {INSPECT_KIND_DNS, INSPECT_KIND_TLS, INSPECT_KIND_QUIC,
                                    INSPECT_KIND_HTTP, INSPECT_KIND_SSH};
    static const char *const want[] = {
        ",\"dns\":{\"query\":\"\",\"qtype\":0}",
        ",\"tls\":{\"version\":\"0x0000\",\"cipher\":\"0x0000\"}",
        ",\"quic\":{\"version\":\"0x0000\",\"cipher\":\"0x0000\"}",
        ",\"http\":{\"status\":0}",
        ",\"ssh\":{\"client\":\"S\"}",
    };
    char fast[256];
    for (size_t i = 0; i < sizeof kinds; i++) {
        struct inspect_result r;
        memset(&r, 0, sizeof r);
        r.kind = kinds[i];
        assert_false(inspect_result_found(&r));
        memset(fast, 'x', sizeof fast);
        assert_int_equal(inspect_result_format(&r, fast, sizeof fast), 0);
        assert_string_equal(fast, "");
        free(both(&r, fast, sizeof fast));          /* cJSON: no member either */

        switch (r.kind) {
        case INSPECT_KIND_DNS:  r.u.dns.has_query = 1; break;
        case INSPECT_KIND_TLS:
        case INSPECT_KIND_QUIC: r.u.tls.has_server_hello = 1; break;
        case INSPECT_KIND_HTTP: r.u.http.has_response = 1; break;
        default:                r.u.ssh.client[0] = 'S'; break;
        }
        assert_true(inspect_result_found(&r));
        free(both(&r, fast, sizeof fast));
        assert_string_equal(fast, want[i]);
    }
    assert_false(inspect_result_found(NULL));
    struct inspect_result none;
    memset(&none, 0, sizeof none);
    none.u.http.has_request = 1;                     /* no kind: nothing, whatever the union holds */
    assert_false(inspect_result_found(&none));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pq_hello_every_order),
        cmocka_unit_test(test_retransmissions_and_overlaps),
        cmocka_unit_test(test_window_limits),
        cmocka_unit_test(test_quic_flow),
        cmocka_unit_test(test_dns_flows),
        cmocka_unit_test(test_http_ssh_flows),
        cmocka_unit_test(test_pool),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_kind_without_message),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
