/*
 * test_flow_table.c — the flow cache's rules, each checked record by record:
 * canonical keys and initiator, per-direction counters and flags, FIN/RST with
 * linger, idle and active timeouts (inline and janitor paths giving the same
 * records), eviction, fragments, shutdown flush.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "processor/flow_table.h"

#define S(x) ((uint64_t)(x) * 1000000u)
#define T0 S(1700000000)
#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define PSH 0x08
#define ACK 0x10

/* A growable list of emitted records. */
struct rec_list { struct flow_event ev[4096]; size_t n; };

static void collect(void *arg, const struct flow_event *ev)
{
    struct rec_list *l = arg;
    assert_true(l->n < 4096);
    /* as the event ring moves it: the sealed bytes, zeros after (bytes past
     * used_len are not part of the record) */
    size_t used = flow_event_used(ev);
    assert_true(ev->used_len > 0 && used <= sizeof *ev);
    memcpy(&l->ev[l->n], ev, used);
    memset((char *)&l->ev[l->n] + used, 0, sizeof *ev - used);
    l->n++;
}

static flow_table *make_table(uint32_t max_flows, uint64_t active_s)
{
    struct flow_table_cfg c = {
        .tcp_idle_us = S(60), .udp_idle_us = S(30), .other_idle_us = S(30),
        .active_us = S(active_s), .linger_us = S(2), .max_flows = max_flows,
    };
    char err[128];
    flow_table *ft = flow_table_create(&c, err, sizeof err);
    assert_non_null(ft);
    return ft;
}

static struct pkt_record v4(uint64_t ts, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
                            uint8_t proto, uint8_t flags, uint32_t len)
{
    struct pkt_record p;
    memset(&p, 0, sizeof p);
    p.ts_us = ts;
    p.src[0] = (uint8_t)(src >> 24); p.src[1] = (uint8_t)(src >> 16);
    p.src[2] = (uint8_t)(src >> 8);  p.src[3] = (uint8_t)src;
    p.dst[0] = (uint8_t)(dst >> 24); p.dst[1] = (uint8_t)(dst >> 16);
    p.dst[2] = (uint8_t)(dst >> 8);  p.dst[3] = (uint8_t)dst;
    p.sport = sport;
    p.dport = dport;
    p.proto = proto;
    p.ip_version = 4;
    p.tcp_flags = flags;
    p.wire_len = len;
    if (proto == 6 || proto == 17)
        p.flags = PKT_F_HAS_PORTS;
    return p;
}

#define A 0xC0000201u   /* 192.0.2.1 */
#define B 0xC6336402u   /* 198.51.100.2 */
#define C 0xCB007103u   /* 203.0.113.3 */

static uint32_t ip4(const uint8_t *a) { return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3]; }

/* Assert one record completely. */
static void check(const struct flow_event *e, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
                  uint8_t proto, uint64_t first, uint64_t last, uint64_t sp, uint64_t sb, uint64_t dp,
                  uint64_t db, uint8_t sf, uint8_t df, enum flow_end_reason why, bool final)
{
    assert_int_equal(ip4(e->src_ip), src);
    assert_int_equal(ip4(e->dst_ip), dst);
    assert_int_equal(e->src_port, sport);
    assert_int_equal(e->dst_port, dport);
    assert_int_equal(e->protocol, proto);
    assert_int_equal(e->ip_version, 4);
    assert_int_equal(e->first_us, first);
    assert_int_equal(e->last_us, last);
    assert_int_equal(e->src_packets, sp);
    assert_int_equal(e->src_bytes, sb);
    assert_int_equal(e->dst_packets, dp);
    assert_int_equal(e->dst_bytes, db);
    assert_int_equal(e->src_tcp_flags, sf);
    assert_int_equal(e->dst_tcp_flags, df);
    assert_int_equal(e->end_reason, why);
    assert_int_equal(e->final, final);
}

static void feed(flow_table *ft, struct rec_list *l, struct pkt_record p) { flow_table_packet(ft, &p, collect, l); }

static void drain(flow_table *ft, struct rec_list *l, bool flush, uint64_t now)
{
    struct flow_event buf[3];       /* small on purpose: exercises the chunking */
    size_t n;
    do {
        n = flush ? flow_table_flush(ft, buf, 3) : flow_table_expire(ft, now, buf, 3);
        for (size_t i = 0; i < n; i++)
            collect(l, &buf[i]);
    } while (n > 0);
}

static void test_tcp_fin_with_late_ack(void **state)
{
    (void)state;
    flow_table *ft = make_table(100, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    feed(ft, l, v4(T0 + 0, A, 40000, B, 80, 6, SYN, 74));
    feed(ft, l, v4(T0 + 1000, B, 80, A, 40000, 6, SYN | ACK, 74));
    feed(ft, l, v4(T0 + 2000, A, 40000, B, 80, 6, ACK, 66));
    feed(ft, l, v4(T0 + 3000, A, 40000, B, 80, 6, PSH | ACK, 166));
    feed(ft, l, v4(T0 + 4000, B, 80, A, 40000, 6, FIN | ACK, 66));
    feed(ft, l, v4(T0 + 5000, A, 40000, B, 80, 6, FIN | ACK, 66));
    drain(ft, l, false, T0 + 5000 + S(1));                       /* inside the linger */
    assert_int_equal(l->n, 0);
    feed(ft, l, v4(T0 + 5000 + S(1), B, 80, A, 40000, 6, ACK, 66)); /* late ACK: same flow */
    drain(ft, l, false, T0 + 5000 + S(2));                       /* linger over */
    assert_int_equal(l->n, 1);
    check(&l->ev[0], A, 40000, B, 80, 6, T0, T0 + 5000 + S(1), 4, 372, 3, 206,
          SYN | ACK | PSH | FIN, SYN | ACK | FIN, FLOW_END_FIN, true);
    struct flow_table_stats st;
    flow_table_get_stats(ft, &st);
    assert_int_equal(st.active_flows, 0);
    assert_int_equal(st.flows_created, 1);
    assert_int_equal(st.packets, 7);
    flow_table_destroy(ft);
    free(l);
}

static void test_rst_then_packet_after_linger_is_new_flow(void **state)
{
    (void)state;
    flow_table *ft = make_table(100, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    feed(ft, l, v4(T0, A, 1000, B, 443, 6, SYN, 60));
    feed(ft, l, v4(T0 + 10, B, 443, A, 1000, 6, RST | ACK, 54));
    feed(ft, l, v4(T0 + S(3), A, 1000, B, 443, 6, ACK, 54));       /* 3 s later: new flow */
    assert_int_equal(l->n, 1);
    check(&l->ev[0], A, 1000, B, 443, 6, T0, T0 + 10, 1, 60, 1, 54, SYN, RST | ACK, FLOW_END_RST, true);
    drain(ft, l, true, 0);
    assert_int_equal(l->n, 2);
    check(&l->ev[1], A, 1000, B, 443, 6, T0 + S(3), T0 + S(3), 1, 54, 0, 0, ACK, 0, FLOW_END_SHUTDOWN, true);
    flow_table_destroy(ft);
    free(l);
}

static void test_new_syn_during_linger_starts_new_flow(void **state)
{
    (void)state;
    flow_table *ft = make_table(100, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    feed(ft, l, v4(T0, A, 1000, B, 80, 6, SYN, 60));
    feed(ft, l, v4(T0 + 100, B, 80, A, 1000, 6, RST, 54));
    feed(ft, l, v4(T0 + 200, A, 1000, B, 80, 6, SYN, 60));         /* port reuse within linger */
    assert_int_equal(l->n, 1);
    check(&l->ev[0], A, 1000, B, 80, 6, T0, T0 + 100, 1, 60, 1, 54, SYN, RST, FLOW_END_RST, true);
    drain(ft, l, true, 0);
    assert_int_equal(l->n, 2);
    check(&l->ev[1], A, 1000, B, 80, 6, T0 + 200, T0 + 200, 1, 60, 0, 0, SYN, 0, FLOW_END_SHUTDOWN, true);
    flow_table_destroy(ft);
    free(l);
}

static void test_synack_first_makes_receiver_initiator(void **state)
{
    (void)state;
    flow_table *ft = make_table(100, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    feed(ft, l, v4(T0, B, 80, A, 40000, 6, SYN | ACK, 74));
    feed(ft, l, v4(T0 + 5, A, 40000, B, 80, 6, ACK, 66));
    drain(ft, l, true, 0);
    assert_int_equal(l->n, 1);
    check(&l->ev[0], A, 40000, B, 80, 6, T0, T0 + 5, 1, 66, 1, 74, ACK, SYN | ACK, FLOW_END_SHUTDOWN, true);
    flow_table_destroy(ft);
    free(l);
}

static void test_first_packet_sender_is_src_even_when_higher(void **state)
{
    (void)state;
    /* C (203.0.113.3) sorts after A; the flow is still C's. */
    flow_table *ft = make_table(100, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    feed(ft, l, v4(T0, C, 5353, A, 53, 17, 0, 80));
    feed(ft, l, v4(T0 + 7, A, 53, C, 5353, 17, 0, 120));
    drain(ft, l, true, 0);
    assert_int_equal(l->n, 1);
    check(&l->ev[0], C, 5353, A, 53, 17, T0, T0 + 7, 1, 80, 1, 120, 0, 0, FLOW_END_SHUTDOWN, true);
    flow_table_destroy(ft);
    free(l);
}

/* UDP silent past the idle timeout then resuming: the inline path. */
static void test_udp_idle_then_resume_inline(void **state)
{
    (void)state;
    flow_table *ft = make_table(100, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    feed(ft, l, v4(T0, A, 5000, B, 53, 17, 0, 100));
    feed(ft, l, v4(T0 + S(1), B, 53, A, 5000, 17, 0, 200));
    feed(ft, l, v4(T0 + S(41), A, 5000, B, 53, 17, 0, 100));       /* 40 s of silence */
    assert_int_equal(l->n, 1);
    check(&l->ev[0], A, 5000, B, 53, 17, T0, T0 + S(1), 1, 100, 1, 200, 0, 0, FLOW_END_IDLE, true);
    drain(ft, l, true, 0);
    assert_int_equal(l->n, 2);
    check(&l->ev[1], A, 5000, B, 53, 17, T0 + S(41), T0 + S(41), 1, 100, 0, 0, 0, 0, FLOW_END_SHUTDOWN, true);
    flow_table_destroy(ft);
    free(l);
}

/* Exactly at the idle timeout the flow has expired (>=); one µs before it has not. */
static void test_idle_boundary(void **state)
{
    (void)state;
    flow_table *ft = make_table(100, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    feed(ft, l, v4(T0, A, 5000, B, 53, 17, 0, 100));
    drain(ft, l, false, T0 + S(30) - 1);
    assert_int_equal(l->n, 0);
    drain(ft, l, false, T0 + S(30));
    assert_int_equal(l->n, 1);
    check(&l->ev[0], A, 5000, B, 53, 17, T0, T0, 1, 100, 0, 0, 0, 0, FLOW_END_IDLE, true);
    flow_table_destroy(ft);
    free(l);
}

/* Runs the same packets with and without janitor sweeps in between; same records. */
static void run_active_scenario(struct rec_list *l, bool janitor)
{
    flow_table *ft = make_table(100, 10);
    for (int i = 0; i < 25; i++) {
        feed(ft, l, v4(T0 + S(i), A, 7000, B, 7001, 17, 0, (uint32_t)(100 + i)));
        if (janitor)
            drain(ft, l, false, T0 + S(i) + 500000);
    }
    drain(ft, l, true, 0);
    flow_table_destroy(ft);
}

static int ev_cmp(const void *x, const void *y)
{
    const struct flow_event *a = x, *b = y;
    if (a->first_us != b->first_us)
        return a->first_us < b->first_us ? -1 : 1;
    if (a->final != b->final)
        return a->final - b->final;
    return memcmp(a, b, sizeof *a);
}

static void test_active_timeout_interim_records(void **state)
{
    (void)state;
    struct rec_list *inl = calloc(1, sizeof *inl), *jan = calloc(1, sizeof *jan);
    run_active_scenario(inl, false);
    run_active_scenario(jan, true);
    assert_int_equal(inl->n, 3);
    /* packets 0..9 (100..109 bytes), 10..19, 20..24 */
    check(&inl->ev[0], A, 7000, B, 7001, 17, T0, T0 + S(9), 10, 1045, 0, 0, 0, 0, FLOW_END_ACTIVE, false);
    check(&inl->ev[1], A, 7000, B, 7001, 17, T0 + S(10), T0 + S(19), 10, 1145, 0, 0, 0, 0, FLOW_END_ACTIVE, false);
    check(&inl->ev[2], A, 7000, B, 7001, 17, T0 + S(20), T0 + S(24), 5, 610, 0, 0, 0, 0, FLOW_END_SHUTDOWN, true);
    assert_int_equal(jan->n, 3);
    qsort(jan->ev, jan->n, sizeof jan->ev[0], ev_cmp);
    qsort(inl->ev, inl->n, sizeof inl->ev[0], ev_cmp);
    assert_memory_equal(inl->ev, jan->ev, 3 * sizeof(struct flow_event));
    free(inl);
    free(jan);
}

/* Active 10 s, idle 30 s, packets only in the first 10 s: the interim the flow
 * was owed at its deadline comes first, then an empty final record; the same
 * whether a sweep ran at the deadline or a late packet found the flow expired. */
static void test_interim_owed_before_idle_end(void **state)
{
    (void)state;
    for (int path = 0; path < 2; path++) {
        flow_table *ft = make_table(100, 10);
        struct rec_list *l = calloc(1, sizeof *l);
        feed(ft, l, v4(T0, A, 7000, B, 7001, 17, 0, 100));
        feed(ft, l, v4(T0 + S(9), B, 7001, A, 7000, 17, 0, 50));
        if (path == 0) {
            drain(ft, l, false, T0 + S(12));
            assert_int_equal(l->n, 1);
        }
        feed(ft, l, v4(T0 + S(50), A, 7000, B, 7001, 17, 0, 100));  /* idle since 39 */
        assert_int_equal(l->n, 2);
        check(&l->ev[0], A, 7000, B, 7001, 17, T0, T0 + S(9), 1, 100, 1, 50, 0, 0, FLOW_END_ACTIVE, false);
        check(&l->ev[1], A, 7000, B, 7001, 17, T0 + S(9), T0 + S(9), 0, 0, 0, 0, 0, 0, FLOW_END_IDLE, true);
        flow_table_destroy(ft);
        free(l);
    }
}

static void test_eviction_takes_oldest(void **state)
{
    (void)state;
    flow_table *ft = make_table(2, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    feed(ft, l, v4(T0, A, 1, B, 2, 17, 0, 100));
    feed(ft, l, v4(T0 + 10, A, 3, B, 4, 17, 0, 100));
    feed(ft, l, v4(T0 + 20, A, 1, B, 2, 17, 0, 100));      /* refresh the first: second is now oldest */
    feed(ft, l, v4(T0 + 30, A, 5, B, 6, 17, 0, 100));
    assert_int_equal(l->n, 1);
    check(&l->ev[0], A, 3, B, 4, 17, T0 + 10, T0 + 10, 1, 100, 0, 0, 0, 0, FLOW_END_EVICTED, true);
    struct flow_table_stats st;
    flow_table_get_stats(ft, &st);
    assert_int_equal(st.evicted, 1);
    assert_int_equal(st.active_flows, 2);
    flow_table_destroy(ft);
    free(l);
}

/* When full, flows that already expired are ended as such before evicting anything. */
static void test_full_table_expires_before_evicting(void **state)
{
    (void)state;
    flow_table *ft = make_table(2, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    feed(ft, l, v4(T0, A, 1, B, 2, 17, 0, 100));
    feed(ft, l, v4(T0 + S(20), A, 3, B, 4, 17, 0, 100));
    feed(ft, l, v4(T0 + S(31), A, 5, B, 6, 17, 0, 100));   /* first flow idle since T0+30 */
    assert_int_equal(l->n, 1);
    check(&l->ev[0], A, 1, B, 2, 17, T0, T0, 1, 100, 0, 0, 0, 0, FLOW_END_IDLE, true);
    flow_table_destroy(ft);
    free(l);
}

/* IPv6 later fragments are matched by (src, dst, id) whatever their Next
 * Header (RFC 8200 §4.5: nested Fragment headers give 44); they take the first
 * fragment's protocol. IPv4 keeps the protocol in the match (RFC 791). */
static void test_fragments_v6_next_header_may_differ(void **state)
{
    (void)state;
    flow_table *ft = make_table(100, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    struct pkt_record first = v4(T0, A, 7401, B, 7402, 17, 0, 270);
    first.ip_version = 6;
    first.flags |= PKT_F_FRAG_FIRST;
    first.frag_id = 0xa1a1a1a1u;
    struct pkt_record later = v4(T0 + 1, A, 0, B, 0, 44, 0, 262);
    later.ip_version = 6;
    later.flags = PKT_F_FRAG_NONFIRST;
    later.frag_id = 0xa1a1a1a1u;
    struct pkt_record v4first = v4(T0 + 2, A, 5000, C, 5001, 17, 0, 100);
    v4first.flags |= PKT_F_FRAG_FIRST;
    v4first.frag_id = 0x77;
    struct pkt_record v4other = v4(T0 + 3, A, 0, C, 0, 6, 0, 100);  /* another datagram */
    v4other.flags = PKT_F_FRAG_NONFIRST;
    v4other.frag_id = 0x77;
    feed(ft, l, first);
    feed(ft, l, later);
    feed(ft, l, v4first);
    feed(ft, l, v4other);
    drain(ft, l, true, 0);
    assert_int_equal(l->n, 2);
    struct flow_event *v6 = l->ev[0].ip_version == 6 ? &l->ev[0] : &l->ev[1];
    assert_int_equal(v6->protocol, 17);
    assert_int_equal(v6->src_port, 7401);
    assert_int_equal(v6->dst_port, 7402);
    assert_int_equal(v6->src_packets, 2);
    assert_int_equal(v6->src_bytes, 532);
    struct flow_table_stats st;
    flow_table_get_stats(ft, &st);
    assert_int_equal(st.frag_orphans, 1);
    flow_table_destroy(ft);
    free(l);
}

static struct pkt_record icmp4(uint64_t ts, uint32_t src, uint32_t dst, uint8_t type,
                                uint8_t code, uint16_t ident)
{
    struct pkt_record p = v4(ts, src, 0, dst, 0, 1, 0, 98);
    p.flags = 0;
    p.icmp_type = type;
    p.icmp_code = code;
    p.sport = ident;
    return p;
}

/* Two ping sessions (identifiers 7 and 9) between the same hosts are two
 * flows, each with its replies; an error between them is a third flow (one
 * Community ID per record); reported ports are 0. */
static void test_icmp_keyed_by_exchange(void **state)
{
    (void)state;
    flow_table *ft = make_table(100, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    feed(ft, l, icmp4(T0, A, B, 8, 0, 7));
    feed(ft, l, icmp4(T0 + 1, A, B, 8, 0, 9));
    feed(ft, l, icmp4(T0 + 2, B, A, 0, 0, 7));
    feed(ft, l, icmp4(T0 + 3, B, A, 3, 3, 0));
    feed(ft, l, icmp4(T0 + 4, B, A, 0, 0, 9));
    feed(ft, l, icmp4(T0 + 5, A, B, 8, 0, 7));
    drain(ft, l, true, 0);
    assert_int_equal(l->n, 3);
    int seen = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct flow_event *e = &l->ev[i];
        assert_int_equal(e->src_port, 0);
        assert_int_equal(e->dst_port, 0);
        if (e->icmp_type == 3) {
            check(e, B, 0, A, 0, 1, T0 + 3, T0 + 3, 1, 98, 0, 0, 0, 0, FLOW_END_SHUTDOWN, true);
            seen |= 1;
        } else if (e->first_us == T0) {
            check(e, A, 0, B, 0, 1, T0, T0 + 5, 2, 196, 1, 98, 0, 0, FLOW_END_SHUTDOWN, true);
            seen |= 2;
        } else {
            check(e, A, 0, B, 0, 1, T0 + 1, T0 + 4, 1, 98, 1, 98, 0, 0, FLOW_END_SHUTDOWN, true);
            seen |= 4;
        }
    }
    assert_int_equal(seen, 7);
    flow_table_destroy(ft);
    free(l);
}

/* ignore_vlan: a connection tagged in one direction only is one flow, vlan 0. */
static void test_ignore_vlan(void **state)
{
    (void)state;
    struct flow_table_cfg c = {
        .tcp_idle_us = S(60), .udp_idle_us = S(30), .other_idle_us = S(30),
        .active_us = S(300), .linger_us = S(2), .max_flows = 100, .ignore_vlan = true,
    };
    char err[128];
    flow_table *ft = flow_table_create(&c, err, sizeof err);
    assert_non_null(ft);
    struct rec_list *l = calloc(1, sizeof *l);
    struct pkt_record syn = v4(T0, A, 40000, B, 80, 6, SYN, 60);
    syn.vlan_id = 100;
    struct pkt_record synack = v4(T0 + 1, B, 80, A, 40000, 6, SYN | ACK, 60);
    struct pkt_record ack = syn;
    ack.ts_us = T0 + 2;
    ack.tcp_flags = ACK;
    feed(ft, l, syn);
    feed(ft, l, synack);
    feed(ft, l, ack);
    drain(ft, l, true, 0);
    assert_int_equal(l->n, 1);
    check(&l->ev[0], A, 40000, B, 80, 6, T0, T0 + 2, 2, 120, 1, 60, SYN | ACK, SYN | ACK,
          FLOW_END_SHUTDOWN, true);
    assert_int_equal(l->ev[0].vlan_id, 0);
    flow_table_destroy(ft);
    free(l);
}

/* Tunnels (issue 14): the tunnel type and its segment id join the key (two
 * VNIs, or tunnelled and bare, are different flows), GTP-U's per-direction
 * TEIDs do not split a flow, and the event carries the first packet's
 * tunnel with its outer addresses turned initiator -> responder. */
static struct pkt_record tun(struct pkt_record p, uint8_t type, uint32_t id, uint32_t osrc, uint32_t odst)
{
    p.tun_type = type;
    p.tun_id = id;
    p.tun_depth = 1;
    p.tun_outer_ipver = 4;
    p.tun_flags = DECODE_TUN_F_HAS_ID;
    p.tun_outer_src[0] = (uint8_t)(osrc >> 24); p.tun_outer_src[3] = (uint8_t)osrc;
    p.tun_outer_dst[0] = (uint8_t)(odst >> 24); p.tun_outer_dst[3] = (uint8_t)odst;
    return p;
}

static void test_tunnel_in_key(void **state)
{
    (void)state;
    flow_table *ft = make_table(100, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    struct pkt_record q = v4(T0, A, 40000, B, 53, 17, 0, 100);
    struct pkt_record r = v4(T0 + 1, B, 53, A, 40000, 17, 0, 120);
    feed(ft, l, tun(q, TUNNEL_VXLAN, 100, 0x0a000001u, 0x0a000002u));
    feed(ft, l, tun(r, TUNNEL_VXLAN, 100, 0x0a000002u, 0x0a000001u));
    feed(ft, l, tun(q, TUNNEL_VXLAN, 200, 0x0a000001u, 0x0a000002u));
    feed(ft, l, q);
    /* GTP-U: the reply comes with the other end's TEID, still the same flow;
     * its first packet is the reply (responder side first). */
    struct pkt_record s = v4(T0 + 2, B, 80, C, 41000, 6, SYN | ACK, 60);
    struct pkt_record t = v4(T0 + 3, C, 41000, B, 80, 6, ACK, 60);
    feed(ft, l, tun(s, TUNNEL_GTPU, 0x222, 0x0a000009u, 0x0a000008u));
    feed(ft, l, tun(t, TUNNEL_GTPU, 0x111, 0x0a000008u, 0x0a000009u));
    drain(ft, l, true, 0);
    assert_int_equal(l->n, 4);
    int seen = 0;
    for (size_t i = 0; i < l->n; i++) {
        const struct flow_event *e = &l->ev[i];
        uint64_t pk = e->src_packets + e->dst_packets;
        if (e->tun_type == TUNNEL_VXLAN && e->tun_id == 100) {
            assert_int_equal(pk, 2);
            assert_int_equal(e->tun_outer_src[3], 1);      /* A's side: 10.0.0.1 */
            assert_int_equal(e->tun_outer_dst[3], 2);
            assert_int_equal(e->tun_depth, 1);
            assert_int_equal(e->tun_has_id, 1);
            seen |= 1;
        } else if (e->tun_type == TUNNEL_VXLAN) {
            assert_int_equal(e->tun_id, 200);
            assert_int_equal(pk, 1);
            seen |= 2;
        } else if (e->tun_type == TUNNEL_GTPU) {
            assert_int_equal(pk, 2);
            assert_int_equal(ip4(e->src_ip), C);           /* SYN+ACK's receiver initiates */
            assert_int_equal(e->tun_id, 0x222);            /* the first packet's TEID */
            assert_int_equal(e->tun_outer_src[3], 8);      /* turned to C's side */
            assert_int_equal(e->tun_outer_dst[3], 9);
            seen |= 4;
        } else {
            assert_int_equal(e->tun_type, TUNNEL_NONE);
            assert_int_equal(pk, 1);
            seen |= 8;
        }
    }
    assert_int_equal(seen, 15);
    flow_table_destroy(ft);
    free(l);
}

static void test_fragments_join_their_flow(void **state)
{
    (void)state;
    flow_table *ft = make_table(100, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    struct pkt_record first = v4(T0, A, 4000, B, 4001, 17, 0, 1514);
    first.flags |= PKT_F_FRAG_FIRST;
    first.frag_id = 0x1234;
    struct pkt_record later = v4(T0 + 1, A, 0, B, 0, 17, 0, 1514);
    later.flags = PKT_F_FRAG_NONFIRST;
    later.frag_id = 0x1234;
    struct pkt_record last = later;
    last.ts_us = T0 + 2;
    last.wire_len = 300;
    struct pkt_record orphan = later;
    orphan.frag_id = 0x9999;
    feed(ft, l, first);
    feed(ft, l, later);
    feed(ft, l, last);
    feed(ft, l, orphan);
    drain(ft, l, true, 0);
    assert_int_equal(l->n, 1);
    check(&l->ev[0], A, 4000, B, 4001, 17, T0, T0 + 2, 3, 3328, 0, 0, 0, 0, FLOW_END_SHUTDOWN, true);
    struct flow_table_stats st;
    flow_table_get_stats(ft, &st);
    assert_int_equal(st.frag_orphans, 1);
    assert_int_equal(st.packets, 3);
    flow_table_destroy(ft);
    free(l);
}

static void test_flush_keeps_close_reason(void **state)
{
    (void)state;
    flow_table *ft = make_table(100, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    feed(ft, l, v4(T0, A, 1, B, 2, 6, SYN, 60));
    feed(ft, l, v4(T0 + 1, B, 2, A, 1, 6, RST, 60));
    feed(ft, l, v4(T0 + 2, A, 3, B, 4, 6, SYN, 60));
    drain(ft, l, true, 0);
    assert_int_equal(l->n, 2);
    qsort(l->ev, l->n, sizeof l->ev[0], ev_cmp);
    assert_int_equal(l->ev[0].end_reason, FLOW_END_RST);
    assert_int_equal(l->ev[1].end_reason, FLOW_END_SHUTDOWN);
    struct flow_table_stats st;
    flow_table_get_stats(ft, &st);
    assert_int_equal(st.active_flows, 0);
    flow_table_destroy(ft);
    free(l);
}

static void test_icmp_and_vlan_keys(void **state)
{
    (void)state;
    flow_table *ft = make_table(100, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    struct pkt_record req = v4(T0, A, 0, B, 0, 1, 0, 98);
    req.icmp_type = 8;
    struct pkt_record rep = v4(T0 + 5, B, 0, A, 0, 1, 0, 98);
    rep.icmp_type = 0;
    struct pkt_record tagged = req;
    tagged.vlan_id = 100;
    tagged.ts_us = T0 + 6;
    feed(ft, l, req);
    feed(ft, l, rep);
    feed(ft, l, tagged);                 /* same addresses, other VLAN: other flow */
    drain(ft, l, true, 0);
    assert_int_equal(l->n, 2);
    qsort(l->ev, l->n, sizeof l->ev[0], ev_cmp);
    check(&l->ev[0], A, 0, B, 0, 1, T0, T0 + 5, 1, 98, 1, 98, 0, 0, FLOW_END_SHUTDOWN, true);
    assert_int_equal(l->ev[0].has_icmp, 1);
    assert_int_equal(l->ev[0].icmp_type, 8);
    assert_int_equal(l->ev[0].vlan_id, 0);
    assert_int_equal(l->ev[1].vlan_id, 100);
    assert_int_equal(l->ev[1].src_packets, 1);
    flow_table_destroy(ft);
    free(l);
}

/* A sweep with nothing expired returns nothing, whatever the table size. */
static void test_sweep_touches_only_expired(void **state)
{
    (void)state;
    flow_table *ft = make_table(200000, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    for (uint32_t i = 0; i < 100000; i++)
        feed(ft, l, v4(T0 + i, A, (uint16_t)(i & 0xffff), B, (uint16_t)(i >> 16), 17, 0, 60));
    assert_int_equal(l->n, 0);
    drain(ft, l, false, T0 + S(30) + 9);         /* flows 0..9 have been idle 30 s */
    assert_int_equal(l->n, 10);
    flow_table_destroy(ft);
    free(l);
}

/* Records carry the packets' own times even when the clock is ahead of them
 * (live: the janitor moves it to wall time) or they arrive out of order. */
static void test_reported_times_are_packet_times(void **state)
{
    (void)state;
    flow_table *ft = make_table(100, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    drain(ft, l, false, T0 + 50000);                        /* clock ahead of every packet */
    feed(ft, l, v4(T0 + 10, A, 1, B, 2, 17, 0, 100));
    feed(ft, l, v4(T0 + 30, A, 1, B, 2, 17, 0, 100));
    feed(ft, l, v4(T0 + 5, B, 2, A, 1, 17, 0, 100));        /* out of order */
    assert_int_equal(flow_table_clock(ft), T0 + 50000);
    drain(ft, l, true, 0);
    assert_int_equal(l->n, 1);
    check(&l->ev[0], A, 1, B, 2, 17, T0 + 5, T0 + 30, 2, 200, 1, 100, 0, 0, FLOW_END_SHUTDOWN, true);
    flow_table_destroy(ft);
    free(l);
}

/*
 * Issue 13.3: re-arming an active deadline must not walk over the flows made
 * since. L long UDP flows start at T0 (kept alive every 20 s), their deadlines
 * pass at T0+300 s, then N new flows start, then each long flow's next packet
 * re-arms its deadline behind all N of them. The old sorted list walked back
 * over the N new flows per re-arm (L*N steps); the order-keeping structure
 * must do O(log n) work per re-arm, here none at all (re-arms in deadline
 * order), and the records must be those of the benign order (the new flows
 * made before the deadlines), inline or with janitor sweeps in between.
 */
#define REARM_L 1000u
#define REARM_N 1000u

static struct pkt_record rearm_long(uint64_t ts, uint32_t i) { return v4(ts, A, (uint16_t)(10000 + i), B, 53, 17, 0, 100); }
static struct pkt_record rearm_new(uint64_t ts, uint32_t j) { return v4(ts, C, (uint16_t)(20000 + j), B, 53, 17, 0, 60); }

/* order: 0 benign, 1 crafted, 2 crafted with the re-arms in reverse order. */
static uint64_t run_rearm(struct rec_list *l, int order, bool janitor)
{
    flow_table *ft = make_table(100000, 300);
    for (uint32_t i = 0; i < REARM_L; i++)
        feed(ft, l, rearm_long(T0 + i, i));
    for (uint32_t k = 1; k <= 14; k++) {             /* every 20 s: never idle */
        for (uint32_t i = 0; i < REARM_L; i++)
            feed(ft, l, rearm_long(T0 + S(20 * k) + i, i));
        if (janitor)
            drain(ft, l, false, T0 + S(20 * k) + REARM_L);
    }
    /* Long deadlines: T0+300 s + i. Benign: new flows just before them. */
    uint64_t t_new = order == 0 ? T0 + S(299) : T0 + S(300) + REARM_L;
    for (uint32_t j = 0; j < REARM_N; j++)
        feed(ft, l, rearm_new(t_new + j, j));
    if (janitor)
        drain(ft, l, false, t_new + REARM_N);
    for (uint32_t i = 0; i < REARM_L; i++) {
        uint32_t x = order == 2 ? REARM_L - 1 - i : i;
        feed(ft, l, rearm_long(T0 + S(301) + x, x));
    }
    struct flow_table_stats st;
    flow_table_get_stats(ft, &st);
    assert_int_equal(st.interim_records, REARM_L);
    drain(ft, l, true, 0);
    flow_table_destroy(ft);
    return st.deadline_steps;
}

static void test_rearm_does_not_walk_new_flows(void **state)
{
    (void)state;
    struct rec_list *ref = calloc(1, sizeof *ref), *l = calloc(1, sizeof *l);
    assert_int_equal(run_rearm(ref, 0, false), 0);
    assert_int_equal(ref->n, REARM_L + REARM_L + REARM_N);   /* interim + final per long flow, final per new */
    for (size_t k = 0; k < ref->n; k++)                      /* new flows' times differ: compare the rest */
        if (ip4(ref->ev[k].src_ip) == C)
            ref->ev[k].first_us = ref->ev[k].last_us = 0;
    qsort(ref->ev, ref->n, sizeof ref->ev[0], ev_cmp);
    for (int order = 1; order <= 2; order++) {
        for (int janitor = 0; janitor < 2; janitor++) {
            l->n = 0;
            uint64_t steps = run_rearm(l, order, janitor);
            if (order == 1)
                assert_int_equal(steps, 0);                  /* was REARM_L * REARM_N */
            else
                assert_true(steps <= REARM_L * 10u);         /* log2(REARM_L) < 10 levels each */
            assert_int_equal(l->n, ref->n);
            for (size_t k = 0; k < l->n; k++)
                if (ip4(l->ev[k].src_ip) == C)
                    l->ev[k].first_us = l->ev[k].last_us = 0;
            qsort(l->ev, l->n, sizeof l->ev[0], ev_cmp);
            assert_memory_equal(l->ev, ref->ev, ref->n * sizeof ref->ev[0]);
        }
    }
    free(ref);
    free(l);
}

static void count_records(void *arg, const struct flow_event *ev)
{
    (void)ev;
    (*(size_t *)arg)++;
}

static struct pkt_record first_frag(uint64_t ts, uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport,
                                    uint32_t id)
{
    struct pkt_record p = v4(ts, src, sport, dst, dport, 17, 0, 1514);
    p.flags |= PKT_F_FRAG_FIRST;
    p.frag_id = id;
    return p;
}

static struct pkt_record later_frag(uint64_t ts, uint32_t src, uint32_t dst, uint32_t id)
{
    struct pkt_record p = v4(ts, src, 0, dst, 0, 17, 0, 500);
    p.flags = PKT_F_FRAG_NONFIRST;
    p.frag_id = id;
    return p;
}

/*
 * Issue 13.11: 20,000 first fragments from four other hosts flushed the
 * victim's entry (4,096 slots, the stalest replaced). Each host now holds at
 * most 64 entries and recycles its own oldest beyond that (counted exactly:
 * 20,000 - 4 * 64), so the victim's later fragment still finds its flow.
 */
static void test_fragment_flood_keeps_victim(void **state)
{
    (void)state;
    flow_table *ft = make_table(100, 300);
    struct rec_list *l = calloc(1, sizeof *l);
    feed(ft, l, first_frag(T0, A, 4000, B, 4001, 0x1234));
    for (uint32_t k = 0; k < 20000; k++)
        feed(ft, l, first_frag(T0 + 1 + k, C + k % 4, 5000, B, 5001, k / 4));
    feed(ft, l, later_frag(T0 + 30000, A, B, 0x1234));        /* the victim's */
    feed(ft, l, later_frag(T0 + 30001, C, B, 4999));          /* C's newest: kept */
    feed(ft, l, later_frag(T0 + 30002, C, B, 4999 - 64));     /* C's 65th newest: recycled */
    struct flow_table_stats st;
    flow_table_get_stats(ft, &st);
    /* Every flood entry beyond the four sources' 64 went by its source's own
     * limit, or (when the keyed hash put nine of them in one probe window) by
     * the window's eviction of a flood entry; never the victim's. */
    assert_int_equal(st.frag_source_limited + st.frag_evicted, 20000 - 4 * 64);
    assert_int_equal(st.frag_orphans, 1);
    assert_int_equal(st.packets, 1 + 20000 + 2);
    drain(ft, l, true, 0);
    assert_int_equal(l->n, 5);
    qsort(l->ev, l->n, sizeof l->ev[0], ev_cmp);
    check(&l->ev[0], A, 4000, B, 4001, 17, T0, T0 + 30000, 2, 2014, 0, 0, 0, 0, FLOW_END_SHUTDOWN, true);
    check(&l->ev[1], C, 5000, B, 5001, 17, T0 + 1, T0 + 30001, 5001, 5001u * 1514 - 1014, 0, 0, 0, 0,
          FLOW_END_SHUTDOWN, true);
    flow_table_destroy(ft);
    free(l);
}

/*
 * Churn through the per-source counters: 20,000 hosts with one first fragment
 * each (every one beyond 4,096 replaces another host's live entry, whose
 * counter is then freed), then 31 s later one host sends 100: exactly 36
 * recycle its own oldest (the expired entries are replaced, not counted), its
 * 37th-newest datagram is gone and the 64 newest are all resolvable.
 */
static void test_fragment_source_share_after_churn(void **state)
{
    (void)state;
    flow_table *ft = make_table(100000, 300);
    size_t n = 0;
    for (uint32_t k = 0; k < 20000; k++) {
        struct pkt_record p = first_frag(T0 + k, 0x0a000000u + k, 1, B, 2, 7);
        flow_table_packet(ft, &p, count_records, &n);
    }
    struct flow_table_stats st;
    flow_table_get_stats(ft, &st);
    assert_int_equal(st.frag_source_limited, 0);
    assert_true(st.frag_evicted >= 20000 - 4096);
    uint64_t evicted = st.frag_evicted;
    uint64_t t = T0 + S(31) + 20000;
    for (uint32_t i = 0; i < 100; i++) {
        struct pkt_record p = first_frag(t + i, C, 6000, B, 6001, i);
        flow_table_packet(ft, &p, count_records, &n);
    }
    for (uint32_t i = 35; i < 100; i++) {
        struct pkt_record p = later_frag(t + 100 + i, C, B, i);
        flow_table_packet(ft, &p, count_records, &n);
    }
    flow_table_get_stats(ft, &st);
    assert_int_equal(st.frag_source_limited, 36);
    assert_int_equal(st.frag_evicted, evicted);              /* only expired entries replaced */
    assert_int_equal(st.frag_orphans, 1);                    /* id 35 */
    assert_int_equal(st.packets, 20000 + 100 + 64);
    flow_table_destroy(ft);
}

/* ---- interface, MACs, DSCP, TTL per side (issue 14 items 7-8) ------------ */

static struct pkt_record l2l3(struct pkt_record p, uint8_t smac_last, uint8_t dmac_last, uint8_t mac_flags,
                              uint8_t ttl, uint8_t dscp, uint16_t iface)
{
    for (int i = 0; i < 6; i++) {
        p.src_mac[i] = (uint8_t)(i < 5 ? 0x02 : smac_last);
        p.dst_mac[i] = (uint8_t)(i < 5 ? 0x02 : dmac_last);
    }
    p.mac_flags = mac_flags;
    p.ttl = ttl;
    p.dscp = dscp;
    p.iface = iface;
    return p;
}

static void assert_mac(const uint8_t *m, uint8_t last)
{
    const uint8_t want[6] = {2, 2, 2, 2, 2, last};
    assert_memory_equal(m, want, 6);
}

/*
 * A side's MAC is its first packet's source MAC; before it sends, the
 * other side's first destination MAC stands in. DSCP is each side's first;
 * TTL is each side's range over the flow (interim records included); the
 * interface is the first packet's, and the first different one is "other".
 */
static void test_side_fields(void **state)
{
    (void)state;
    flow_table *ft = make_table(100, 10);
    struct rec_list *l = calloc(1, sizeof *l);
    assert_non_null(l);
    /* SYN from A: MACs a1 -> b1, TTL 64, DSCP 46, interface 1 */
    feed(ft, l, l2l3(v4(T0, A, 40000, B, 80, 6, SYN, 60), 0xa1, 0xb1, PKT_MAC_SRC | PKT_MAC_DST, 64, 46, 1));
    drain(ft, l, false, T0 + 1);
    /* SYN+ACK from B on interface 2, source MAC b2 (not b1), TTL 50, DSCP 10 */
    feed(ft, l, l2l3(v4(T0 + 10, B, 80, A, 40000, 6, SYN | ACK, 60), 0xb2, 0xa1, PKT_MAC_SRC | PKT_MAC_DST,
                     50, 10, 2));
    /* later packets: other DSCPs and MACs do not count, TTLs widen the ranges; interface 3 is not "other" */
    feed(ft, l, l2l3(v4(T0 + 20, A, 40000, B, 80, 6, ACK, 60), 0xaa, 0xbb, PKT_MAC_SRC | PKT_MAC_DST, 60, 0, 3));
    feed(ft, l, l2l3(v4(T0 + 30, B, 80, A, 40000, 6, ACK, 60), 0xcc, 0xdd, PKT_MAC_SRC | PKT_MAC_DST, 55, 0, 1));
    /* an active-timeout record, then a responder packet only: ranges are the flow's so far */
    drain(ft, l, false, T0 + S(10));
    feed(ft, l, l2l3(v4(T0 + S(11), B, 80, A, 40000, 6, ACK, 60), 0xb2, 0xa1, PKT_MAC_SRC | PKT_MAC_DST,
                     49, 0, 1));
    drain(ft, l, true, T0 + S(12));
    assert_int_equal(l->n, 2);
    for (size_t i = 0; i < 2; i++) {
        const struct flow_event *e = &l->ev[i];
        assert_int_equal(ip4(e->src_ip), A);
        assert_int_equal(e->mac_known, 3);
        assert_mac(e->src_mac, 0xa1);
        assert_mac(e->dst_mac, 0xb2);
        assert_int_equal(e->side_seen, 3);
        assert_int_equal(e->src_dscp, 46);
        assert_int_equal(e->dst_dscp, 10);
        assert_int_equal(e->src_ttl_min, 60);
        assert_int_equal(e->src_ttl_max, 64);
        assert_int_equal(e->dst_ttl_min, i == 0 ? 50 : 49);
        assert_int_equal(e->dst_ttl_max, 55);
        assert_int_equal(e->iface, 1);
        assert_int_equal(e->iface_other, 2);
    }
    assert_int_equal(l->ev[0].final, false);
    assert_int_equal(l->ev[1].final, true);

    /* one-way UDP: the responder's MAC is the destination MAC; no responder DSCP/TTL */
    l->n = 0;
    feed(ft, l, l2l3(v4(T0 + S(20), A, 5000, C, 53, 17, 0, 60), 0xa1, 0xc1, PKT_MAC_SRC | PKT_MAC_DST, 3, 0, 0));
    feed(ft, l, l2l3(v4(T0 + S(21), A, 5000, C, 53, 17, 0, 60), 0xa1, 0xc1, PKT_MAC_SRC | PKT_MAC_DST, 2, 0, 0));
    drain(ft, l, true, T0 + S(22));
    assert_int_equal(l->n, 1);
    assert_int_equal(l->ev[0].mac_known, 3);
    assert_mac(l->ev[0].dst_mac, 0xc1);
    assert_int_equal(l->ev[0].side_seen, 1);
    assert_int_equal(l->ev[0].src_ttl_min, 2);
    assert_int_equal(l->ev[0].src_ttl_max, 3);
    assert_int_equal(l->ev[0].iface, 0);
    assert_int_equal(l->ev[0].iface_other, 0);

    /* a link without MACs (raw IP), and a cooked one (the sender's only) */
    l->n = 0;
    feed(ft, l, l2l3(v4(T0 + S(30), A, 5001, C, 53, 17, 0, 60), 0, 0, 0, 9, 0, 0));
    feed(ft, l, l2l3(v4(T0 + S(30), A, 5002, C, 53, 17, 0, 60), 0xa1, 0, PKT_MAC_SRC, 9, 0, 0));
    drain(ft, l, true, T0 + S(31));
    assert_int_equal(l->n, 2);
    for (size_t i = 0; i < 2; i++) {
        const struct flow_event *e = l->ev[0].src_port == 5001 ? &l->ev[i] : &l->ev[1 - i];
        assert_int_equal(e->mac_known, i == 0 ? 0 : 1);
    }
    free(l);
    flow_table_destroy(ft);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_fin_with_late_ack),
        cmocka_unit_test(test_rst_then_packet_after_linger_is_new_flow),
        cmocka_unit_test(test_new_syn_during_linger_starts_new_flow),
        cmocka_unit_test(test_synack_first_makes_receiver_initiator),
        cmocka_unit_test(test_first_packet_sender_is_src_even_when_higher),
        cmocka_unit_test(test_udp_idle_then_resume_inline),
        cmocka_unit_test(test_idle_boundary),
        cmocka_unit_test(test_active_timeout_interim_records),
        cmocka_unit_test(test_interim_owed_before_idle_end),
        cmocka_unit_test(test_eviction_takes_oldest),
        cmocka_unit_test(test_full_table_expires_before_evicting),
        cmocka_unit_test(test_fragments_join_their_flow),
        cmocka_unit_test(test_ignore_vlan),
        cmocka_unit_test(test_icmp_keyed_by_exchange),
        cmocka_unit_test(test_fragments_v6_next_header_may_differ),
        cmocka_unit_test(test_flush_keeps_close_reason),
        cmocka_unit_test(test_icmp_and_vlan_keys),
        cmocka_unit_test(test_tunnel_in_key),
        cmocka_unit_test(test_sweep_touches_only_expired),
        cmocka_unit_test(test_reported_times_are_packet_times),
        cmocka_unit_test(test_rearm_does_not_walk_new_flows),
        cmocka_unit_test(test_fragment_flood_keeps_victim),
        cmocka_unit_test(test_fragment_source_share_after_churn),
        cmocka_unit_test(test_side_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
