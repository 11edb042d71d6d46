/*
 * test_ping.c — the ping hook's parts: round statistics (exact values), echo
 * packets built and parsed (every truncation, bad headers, checksums), the
 * target file's rules (exact messages), and reload (unchanged targets keep
 * their key, changed and added ones get a new one, an invalid file keeps the
 * old targets; and while the hook's thread runs on loopback).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common/ring.h"
#include "config/config.h"
#include "hooks/ping/ping.h"
#include "hooks/ping/ping_config.h"
#include "hooks/ping/ping_packet.h"
#include "hooks/ping/ping_stats.h"
#include "sender/sender.h"

/* ---------------------------------------------------------------- stats */

static void test_stats_exact(void **state)
{
    (void)state;
    const uint32_t rtt[] = {1000, 2000, 4000};
    const bool got[] = {true, true, true};
    struct ping_summary s;
    ping_stats_compute(rtt, got, 3, &s);
    assert_int_equal(s.sent, 3);
    assert_int_equal(s.received, 3);
    assert_float_equal(s.loss, 0.0, 1e-12);
    assert_float_equal(s.rtt_min, 1.0, 1e-12);
    assert_float_equal(s.rtt_max, 4.0, 1e-12);
    assert_float_equal(s.rtt_avg, 7.0 / 3.0, 1e-12);
    assert_float_equal(s.rtt_stddev, sqrt(14.0 / 9.0), 1e-12);   /* population: sum of squares 42/9, / 3 */
    assert_float_equal(s.jitter, 1.5, 1e-12);                    /* (|2-1| + |4-2|) / 2 */

    /* A lost probe in the middle: skipped by every statistic, jitter included. */
    const uint32_t rtt2[] = {1000, 999999, 2000, 4000};
    const bool got2[] = {true, false, true, true};
    ping_stats_compute(rtt2, got2, 4, &s);
    assert_int_equal(s.sent, 4);
    assert_int_equal(s.received, 3);
    assert_float_equal(s.loss, 0.25, 1e-12);
    assert_float_equal(s.rtt_avg, 7.0 / 3.0, 1e-12);
    assert_float_equal(s.jitter, 1.5, 1e-12);

    /* One answer: no jitter; none: everything 0, loss 1. */
    const bool got3[] = {false, true, false, false};
    ping_stats_compute(rtt2, got3, 4, &s);
    assert_int_equal(s.received, 1);
    assert_float_equal(s.loss, 0.75, 1e-12);
    assert_float_equal(s.rtt_min, 999.999, 1e-9);
    assert_float_equal(s.rtt_stddev, 0.0, 1e-12);
    assert_float_equal(s.jitter, 0.0, 1e-12);
    const bool none[] = {false, false, false, false};
    ping_stats_compute(rtt2, none, 4, &s);
    assert_int_equal(s.received, 0);
    assert_float_equal(s.loss, 1.0, 1e-12);
    ping_stats_compute(rtt2, none, 0, &s);
    assert_float_equal(s.loss, 0.0, 1e-12);
}

/* ---------------------------------------------------------------- packets */

static void test_checksum_rfc1071(void **state)
{
    (void)state;
    /* RFC 1071 section 3's example: the one's complement sum of these words is 0xddf2. */
    const uint8_t b[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    assert_int_equal(ping_checksum(b, sizeof b), 0x220d);
    const uint8_t odd[] = {0x01};
    assert_int_equal(ping_checksum(odd, 1), (uint16_t)~0x0100);
}

static const struct ping_tag TAG = {.token = {1, 2, 3, 4, 5, 6, 7, 8}, .key = 0x01020304u, .round = 77,
                                    .probe = 9};

/* An echo reply as the peer sends it back: our request with type 0/129 (checksum redone for v4). */
static size_t make_reply(uint8_t *buf, size_t buflen, bool v6, size_t size)
{
    size_t n = ping_packet_build(buf, buflen, v6, 0xbeef, 4242, &TAG, size);
    assert_true(n > 0);
    buf[0] = v6 ? 129 : 0;
    if (!v6) {
        buf[2] = buf[3] = 0;
        uint16_t c = ping_checksum(buf, n);
        buf[2] = (uint8_t)(c >> 8);
        buf[3] = (uint8_t)c;
    }
    return n;
}

static void test_packet_build(void **state)
{
    (void)state;
    uint8_t b[128];
    assert_int_equal(ping_packet_build(b, sizeof b, false, 0xbeef, 4242, &TAG, 56), 64);
    const uint8_t head[] = {8, 0, 0, 0, 0xbe, 0xef, 0x10, 0x92, 1, 2, 3, 4, 5, 6, 7, 8,
                            1, 2, 3, 4, 0, 0, 0, 77, 0, 9, 0, 0, 0, 0, 0, 0, 24, 25};
    uint16_t sum = (uint16_t)(b[2] << 8 | b[3]);
    b[2] = b[3] = 0;
    assert_memory_equal(b, head, sizeof head);
    assert_int_equal(ping_checksum(b, 64), sum);
    assert_int_equal(ping_packet_build(b, sizeof b, true, 1, 2, &TAG, 24), 32);
    assert_int_equal(b[0], 128);
    assert_int_equal(b[2] | b[3], 0);                  /* the kernel computes ICMPv6 checksums */
    assert_int_equal(ping_packet_build(b, sizeof b, false, 1, 2, &TAG, 23), 0);   /* no room for the tag */
    assert_int_equal(ping_packet_build(b, 63, false, 1, 2, &TAG, 56), 0);         /* buffer too small */
}

static void expect_tag(const struct ping_reply *r)
{
    assert_int_equal(r->id, 0xbeef);
    assert_int_equal(r->seq, 4242);
    assert_true(r->has_tag);
    assert_memory_equal(r->tag.token, TAG.token, PING_TOKEN_LEN);
    assert_int_equal(r->tag.key, TAG.key);
    assert_int_equal(r->tag.round, TAG.round);
    assert_int_equal(r->tag.probe, TAG.probe);
}

static void test_packet_parse(void **state)
{
    (void)state;
    uint8_t icmp[128], ip[160];
    struct ping_reply r;
    size_t n = make_reply(icmp, sizeof icmp, false, 56);
    assert_int_equal(ping_packet_parse(icmp, n, false, false, &r), PING_PKT_REPLY);
    expect_tag(&r);
    /* The same behind an IPv4 header (a raw socket), with 4 bytes of options and trailing padding. */
    const uint8_t iph[24] = {0x46, 0, 0, (uint8_t)(24 + n), 0, 0, 0x40, 0, 61, 1, 0, 0, 192, 0, 2, 1, 192, 0, 2, 2,
                             1, 1, 1, 0};
    memcpy(ip, iph, sizeof iph);
    memcpy(ip + 24, icmp, n);
    memset(ip + 24 + n, 0xee, 6);
    assert_int_equal(ping_packet_parse(ip, 24 + n + 6, false, true, &r), PING_PKT_REPLY);
    expect_tag(&r);
    assert_int_equal(r.ttl, 61);
    /* Bad IPv4 headers. */
    ip[0] = 0x66;
    assert_int_equal(ping_packet_parse(ip, 24 + n, false, true, &r), PING_PKT_BADHDR);
    ip[0] = 0x44;
    assert_int_equal(ping_packet_parse(ip, 24 + n, false, true, &r), PING_PKT_BADHDR);
    ip[0] = 0x4f;                                        /* IHL 60 > what arrived */
    assert_int_equal(ping_packet_parse(ip, 40, false, true, &r), PING_PKT_TRUNC);
    ip[0] = 0x46;
    ip[9] = 17;
    assert_int_equal(ping_packet_parse(ip, 24 + n, false, true, &r), PING_PKT_BADHDR);
    /* A flipped data bit breaks the ICMPv4 checksum; a request or an error is not a reply. */
    icmp[40] ^= 1;
    assert_int_equal(ping_packet_parse(icmp, n, false, false, &r), PING_PKT_BADSUM);
    icmp[40] ^= 1;
    icmp[0] = 8;
    assert_int_equal(ping_packet_parse(icmp, n, false, false, &r), PING_PKT_OTHER);
    icmp[0] = 3;
    assert_int_equal(ping_packet_parse(icmp, n, false, false, &r), PING_PKT_OTHER);
    /* ICMPv6: no checksum check here (the kernel verified it); a short one has no tag. */
    n = make_reply(icmp, sizeof icmp, true, 24);
    assert_int_equal(ping_packet_parse(icmp, n, true, false, &r), PING_PKT_REPLY);
    expect_tag(&r);
    assert_int_equal(ping_packet_parse(icmp, 20, true, false, &r), PING_PKT_REPLY);
    assert_false(r.has_tag);
    icmp[0] = 128;
    assert_int_equal(ping_packet_parse(icmp, n, true, false, &r), PING_PKT_OTHER);
}

/* Every prefix of a good reply, each in a buffer of exactly its size (ASan sees any over-read). */
static void test_packet_truncated_everywhere(void **state)
{
    (void)state;
    uint8_t icmp[128], ip[160];
    size_t n4 = make_reply(icmp, sizeof icmp, false, 40);
    const uint8_t iph[20] = {0x45, 0, 0, (uint8_t)(20 + n4), 0, 0, 0x40, 0, 64, 1};
    memcpy(ip, iph, sizeof iph);
    memcpy(ip + 20, icmp, n4);
    for (int mode = 0; mode < 3; mode++) {
        const uint8_t *src = mode == 1 ? ip : icmp;
        size_t full = mode == 1 ? 20 + n4 : n4;
        if (mode == 2)
            full = make_reply(icmp, sizeof icmp, true, 40);
        for (size_t len = 0; len < full; len++) {
            uint8_t *b = malloc(len ? len : 1);
            assert_non_null(b);
            memcpy(b, src, len);
            struct ping_reply r;
            enum ping_parse k = ping_packet_parse(b, len, mode == 2, mode == 1, &r);
            if (mode == 2)   /* v6: no checksum; a reply from 8 bytes on, with the tag from 32 */
                assert_true(len < 8 ? k == PING_PKT_TRUNC : (k == PING_PKT_REPLY && r.has_tag == (len >= 32)));
            else             /* v4: short headers are TRUNC, a cut message fails its checksum */
                assert_true(k == PING_PKT_TRUNC || k == PING_PKT_BADSUM);
            free(b);
        }
    }
}

/* ---------------------------------------------------------------- file */

static char *parse_err(const char *text)
{
    static char err[4096];
    struct ping_config *c = NULL;
    int rc = ping_config_parse(text, "p.json", &c, err, sizeof err);
    assert_int_equal(rc, -1);
    assert_null(c);
    return err;
}

static void test_file_values(void **state)
{
    (void)state;
    char err[1024];
    struct ping_config *c = NULL;
    const char *text = "{\"defaults\": {\"interval\": 10, \"count\": 3, \"probe_interval\": 0.25},\n"
                       " \"targets\": [{\"name\": \"gw\", \"host\": \"192.0.2.1\", \"timeout\": 0.5},\n"
                       "             {\"host\": \"2001:db8::7\", \"count\": 20, \"size\": 1472, \"interval\": 60},\n"
                       "             {\"name\": \"lo\", \"host\": \"localhost\"}]}";
    assert_int_equal(ping_config_parse(text, "p.json", &c, err, sizeof err), 0);
    assert_int_equal(c->ntargets, 3);
    const struct ping_target *t = &c->targets[0];
    assert_string_equal(t->name, "gw");
    assert_string_equal(t->address, "192.0.2.1");
    assert_int_equal(t->family, AF_INET);
    assert_int_equal(t->interval_ms, 10000);
    assert_int_equal(t->count, 3);
    assert_int_equal(t->timeout_ms, 500);
    assert_int_equal(t->probe_interval_ms, 250);
    assert_int_equal(t->size, 56);
    t = &c->targets[1];
    assert_string_equal(t->name, "2001:db8::7");           /* the host when no name is given */
    assert_int_equal(t->family, AF_INET6);
    assert_int_equal(t->count, 20);
    assert_int_equal(t->size, 1472);
    assert_int_equal(t->timeout_ms, 1000);
    t = &c->targets[2];
    assert_true(strcmp(t->address, "127.0.0.1") == 0 || strcmp(t->address, "::1") == 0);
    assert_true(ping_target_same(&c->targets[0], &c->targets[0]));
    assert_false(ping_target_same(&c->targets[0], &c->targets[1]));
    ping_config_destroy(c);
    assert_int_equal(ping_config_parse("{}", "p.json", &c, err, sizeof err), 0);
    assert_int_equal(c->ntargets, 0);
    ping_config_destroy(c);
    ping_config_destroy(NULL);
}

static void test_file_errors(void **state)
{
    (void)state;
    assert_string_equal(parse_err("{\"targets\": [{\"name\": \"gw\", \"host\": \"192.0.2.1\", \"count\": 0, "
                                  "\"intervall\": 5}]}"),
                        "AGENT_PING_CONFIG=p.json: targets[0] (\"gw\"): intervall: unknown field\n"
                        "AGENT_PING_CONFIG=p.json: targets[0] (\"gw\"): count: 0 must be an integer in [1, 100]");
    assert_string_equal(parse_err("{\"targets\": [{\"name\": \"a\", \"host\": \"192.0.2.1\"}, "
                                  "{\"name\": \"a\", \"host\": \"192.0.2.2\"}, {\"name\": \"b\"}]}"),
                        "AGENT_PING_CONFIG=p.json: targets[1] (\"a\"): name: \"a\" is also the name of targets[0]; "
                        "names must be unique\n"
                        "AGENT_PING_CONFIG=p.json: targets[2] (\"b\"): host: required (an IPv4 or IPv6 address or "
                        "a host name)");
    assert_string_equal(parse_err("{\"defaults\": {\"count\": \"5\", \"size\": 23}, \"targets\": []}"),
                        "AGENT_PING_CONFIG=p.json: defaults: count: must be a JSON number in [1, 100]\n"
                        "AGENT_PING_CONFIG=p.json: defaults: size: 23 must be an integer in [24, 1472]");
    assert_string_equal(parse_err("{\"targets\": [{\"host\": \"192.0.2.1\", \"interval\": 2, \"count\": 5}]}"),
                        "AGENT_PING_CONFIG=p.json: targets[0] (\"192.0.2.1\"): interval: 2 s is shorter than one "
                        "round ((count - 1) x probe_interval + timeout = 5 s)");
    assert_string_equal(parse_err("{\"targets\": [{\"host\": \"no-such-host.invalid\"}]}"),
                        "AGENT_PING_CONFIG=p.json: targets[0] (\"no-such-host.invalid\"): host: \"no-such-host.invalid\" "
                        "does not resolve "
                        "(Name or service not known)");
    assert_string_equal(parse_err("{\"targets\": {}, \"target\": 1}"),
                        "AGENT_PING_CONFIG=p.json: target: unknown field\n"
                        "AGENT_PING_CONFIG=p.json: targets: must be an array of at most 4096 objects");
    assert_string_equal(parse_err("{\"targets\": [\n1,\n"), "AGENT_PING_CONFIG=p.json: not valid JSON (near line 3)");
    assert_string_equal(parse_err("[]"), "AGENT_PING_CONFIG=p.json: must be a JSON object with \"targets\"");
}

/* ---------------------------------------------------------------- reload */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void test_reload(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_ping_XXXXXX", path[64], err[1024];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ping.json", dir);
    write_text(path, "{\"targets\": [{\"name\": \"a\", \"host\": \"192.0.2.1\"}, {\"name\": \"b\", \"host\": "
               "\"192.0.2.2\"}, {\"name\": \"d\", \"host\": \"::1\"}]}");
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ping_config = path;
    struct hook h;
    assert_int_equal(hook_ping_create(&cfg, &h, err, sizeof err), 1);
    assert_string_equal(h.ops->name, "ping");
    assert_non_null(h.ops->reload);
    uint32_t ka = ping_hook_target_key(h.self, "a"), kb = ping_hook_target_key(h.self, "b");
    assert_true(ka && kb && ka != kb && ping_hook_target_key(h.self, "d"));

    /* a unchanged, b changed (count), d removed, c added. */
    write_text(path, "{\"targets\": [{\"name\": \"c\", \"host\": \"192.0.2.3\"}, {\"name\": \"b\", \"host\": "
               "\"192.0.2.2\", \"count\": 3}, {\"name\": \"a\", \"host\": \"192.0.2.1\"}]}");
    assert_int_equal(h.ops->reload(h.self, &cfg, err, sizeof err), 0);
    assert_string_equal(err, "1 added, 1 removed, 1 changed");
    assert_int_equal(ping_hook_target_key(h.self, "a"), ka);
    uint32_t kb2 = ping_hook_target_key(h.self, "b"), kc = ping_hook_target_key(h.self, "c");
    assert_true(kb2 && kb2 != kb && kc && kc != kb2 && kc != ka);
    assert_int_equal(ping_hook_target_key(h.self, "d"), 0);

    /* An invalid file: -1 naming the file, the target and the rule; the targets stay. */
    write_text(path, "{\"targets\": [{\"name\": \"a\", \"host\": \"192.0.2.1\", \"timeout\": 99}]}");
    assert_int_equal(h.ops->reload(h.self, &cfg, err, sizeof err), -1);
    char want[256];
    snprintf(want, sizeof want, "AGENT_PING_CONFIG=%s: targets[0] (\"a\"): timeout: 99 must be a number in "
             "[0.01, 60]", path);
    assert_string_equal(err, want);
    assert_int_equal(ping_hook_target_key(h.self, "a"), ka);
    assert_int_equal(ping_hook_target_key(h.self, "b"), kb2);
    assert_int_equal(ping_hook_target_key(h.self, "c"), kc);

    /* The same file again: nothing changes. */
    write_text(path, "{\"targets\": [{\"name\": \"c\", \"host\": \"192.0.2.3\"}, {\"name\": \"b\", \"host\": "
               "\"192.0.2.2\", \"count\": 3}, {\"name\": \"a\", \"host\": \"192.0.2.1\"}]}");
    assert_int_equal(h.ops->reload(h.self, &cfg, err, sizeof err), 0);
    assert_string_equal(err, "0 added, 0 removed, 0 changed");
    assert_int_equal(ping_hook_target_key(h.self, "b"), kb2);

    struct ping_hook_stats st;
    ping_hook_get_stats(h.self, &st);
    assert_int_equal(st.reloads, 3);
    assert_int_equal(st.reload_failures, 1);
    assert_int_equal(st.targets, 3);
    assert_int_equal(st.rounds_dropped, 0);             /* never started: no round was running */
    h.ops->destroy(h.self);
    h.ops->destroy(NULL);

    cfg.ping_config = NULL;                               /* not configured: no hook */
    assert_int_equal(hook_ping_create(&cfg, &h, err, sizeof err), 0);
    unlink(path);
    rmdir(dir);
}

/* Pop one event and copy its "target" into name; false when the ring is empty. */
static bool pop_target(ring *r, char *name, size_t len)
{
    struct sender_json_msg m;
    if (!ring_pop(r, &m))
        return false;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(m.obj, "target");
    assert_true(cJSON_IsString(t));
    snprintf(name, len, "%s", t->valuestring);
    cJSON_Delete(m.obj);
    return true;
}

/* Reload while the thread runs: events of a removed target stop, an added one starts. */
static void test_reload_running(void **state)
{
    (void)state;
    char dir[] = "/tmp/test_ping_XXXXXX", path[64], err[1024], name[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/ping.json", dir);
    const char *head = "{\"defaults\": {\"interval\": 1, \"count\": 2, \"timeout\": 0.3, "
                       "\"probe_interval\": 0.01}, \"targets\": ";
    char text[512];
    snprintf(text, sizeof text, "%s[{\"name\": \"a\", \"host\": \"127.0.0.1\"}, "
             "{\"name\": \"b\", \"host\": \"::1\"}]}", head);
    write_text(path, text);
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.ping_config = path;
    struct hook h;
    assert_int_equal(hook_ping_create(&cfg, &h, err, sizeof err), 1);
    ring *r = hook_ring_create(64, err, sizeof err);
    assert_non_null(r);
    assert_int_equal(h.ops->start(h.self, r, err, sizeof err), 0);
    bool seen_a = false, seen_b = false;
    for (int i = 0; i < 400 && !(seen_a && seen_b); i++) {   /* up to 20 s; rounds take 0.3 s */
        while (pop_target(r, name, sizeof name)) {
            seen_a |= strcmp(name, "a") == 0;
            seen_b |= strcmp(name, "b") == 0;
        }
        usleep(50000);
    }
    assert_true(seen_a && seen_b);
    uint32_t ka = ping_hook_target_key(h.self, "a");
    snprintf(text, sizeof text, "%s[{\"name\": \"a\", \"host\": \"127.0.0.1\"}, "
             "{\"name\": \"c\", \"host\": \"127.0.0.2\"}]}", head);
    write_text(path, text);
    assert_int_equal(h.ops->reload(h.self, &cfg, err, sizeof err), 0);
    assert_string_equal(err, "1 added, 1 removed, 0 changed");
    assert_int_equal(ping_hook_target_key(h.self, "a"), ka);
    /* The ring is FIFO and events are pushed under the lock the reload takes: after the
     * first event of c, none of b can follow. */
    bool seen_c = false, a_after = false;
    for (int i = 0; i < 400 && !(seen_c && a_after); i++) {
        while (pop_target(r, name, sizeof name)) {
            if (seen_c)
                assert_string_not_equal(name, "b");
            a_after |= seen_c && strcmp(name, "a") == 0;
            seen_c |= strcmp(name, "c") == 0;
        }
        usleep(50000);
    }
    assert_true(seen_c && a_after);
    h.ops->stop(h.self);
    struct ping_hook_stats st;
    ping_hook_get_stats(h.self, &st);
    assert_int_equal(st.targets, 2);
    assert_int_equal(st.reloads, 1);
    assert_int_equal(st.events_dropped, 0);
    assert_true(st.rounds >= 4);
    h.ops->destroy(h.self);
    hook_ring_discard(r);
    ring_destroy(r);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stats_exact),
        cmocka_unit_test(test_checksum_rfc1071),
        cmocka_unit_test(test_packet_build),
        cmocka_unit_test(test_packet_parse),
        cmocka_unit_test(test_packet_truncated_everywhere),
        cmocka_unit_test(test_file_values),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_reload_running),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
