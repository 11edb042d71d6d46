/*
 * test_tcp_health.c — handshake RTTs, retransmission / out-of-order /
 * keep-alive / zero-window rules (processor/tcp_health.c), including
 * sequence numbers that wrap.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "processor/tcp_health.h"

#define SYN 0x02u
#define ACK 0x10u
#define FIN 0x01u
#define RST 0x04u

static void seg(struct tcp_health *h, int dir, uint64_t ts, uint8_t flags, uint32_t seq,
                uint32_t ack, uint32_t len, uint16_t win)
{
    struct pkt_record p;
    memset(&p, 0, sizeof p);
    p.ts_us = ts;
    p.proto = 6;
    p.tcp_flags = flags;
    p.tcp_seq = seq;
    p.tcp_ack = ack;
    p.payload_len = len;
    p.tcp_win = win;
    p.l4_info = PKT_L4_TCP_HDR;
    tcp_health_packet(h, &p, dir);
}

static struct flow_event fill(const struct tcp_health *h)
{
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    tcp_health_fill(h, &ev);
    return ev;
}

static void test_handshake(void **state)
{
    (void)state;
    struct tcp_health h;
    memset(&h, 0, sizeof h);
    seg(&h, 0, 100, SYN, 10, 0, 0, 1000);
    seg(&h, 0, 3100, SYN, 10, 0, 0, 1000);         /* retransmitted SYN: the last one counts */
    seg(&h, 1, 3400, SYN | ACK, 500, 11, 0, 1000);
    seg(&h, 0, 3410, ACK, 11, 400, 0, 1000);       /* acknowledges something else: not it */
    seg(&h, 0, 3450, ACK, 11, 501, 0, 1000);
    struct flow_event ev = fill(&h);
    assert_int_equal(ev.xs.have & (XS_TCP | XS_RTT_SYN | XS_RTT_ACK), XS_TCP | XS_RTT_SYN | XS_RTT_ACK);
    assert_int_equal(ev.xs.rtt_syn_synack_us, 300);
    assert_int_equal(ev.xs.rtt_synack_ack_us, 50);
    assert_int_equal(ev.xs.retransmissions[0], 1);  /* the SYN */
    assert_int_equal(ev.xs.retransmissions[1], 0);

    memset(&h, 0, sizeof h);                       /* no SYN seen: no RTTs */
    seg(&h, 1, 3400, SYN | ACK, 500, 11, 0, 1000);
    seg(&h, 0, 3450, ACK, 11, 501, 0, 1000);
    ev = fill(&h);
    assert_int_equal(ev.xs.have & (XS_RTT_SYN | XS_RTT_ACK), 0);
}

static void test_sequence_rules(void **state)
{
    (void)state;
    struct tcp_health h;
    memset(&h, 0, sizeof h);
    uint32_t b = 0xffffff00u;                      /* wraps past 2^32 below */
    seg(&h, 0, 1, ACK, b, 1, 100, 500);            /* [b, b+100) first seen */
    seg(&h, 0, 2, ACK, b + 100, 1, 100, 500);      /* in order */
    seg(&h, 0, 3, ACK, b + 100, 1, 100, 500);      /* retransmission 1 */
    seg(&h, 0, 4, ACK, b + 400, 1, 100, 500);      /* hole [b+200, b+400) */
    seg(&h, 0, 5, ACK, b + 200, 1, 100, 500);      /* out of order 1 (fills the start) */
    seg(&h, 0, 6, ACK, b + 300, 1, 100, 500);      /* out of order 2 (closes it) */
    seg(&h, 0, 7, ACK, b + 300, 1, 100, 500);      /* retransmission 2 */
    seg(&h, 0, 8, ACK, b + 450, 1, 100, 500);      /* overlaps the end: retransmission 3 */
    seg(&h, 0, 9, ACK, b + 549, 1, 1, 500);        /* keep-alive: neither */
    seg(&h, 0, 10, ACK, b + 550, 1, 0, 500);       /* pure ACK: nothing */
    seg(&h, 1, 11, ACK, 7, b + 550, 0, 0);         /* zero window 1 */
    seg(&h, 1, 12, ACK | FIN, 7, b + 550, 0, 0);   /* FIN: not counted */
    seg(&h, 1, 13, RST, 8, 0, 0, 0);               /* RST: not counted */
    struct flow_event ev = fill(&h);
    assert_int_equal(ev.xs.retransmissions[0], 3);
    assert_int_equal(ev.xs.out_of_order[0], 2);
    assert_int_equal(ev.xs.zero_window[1], 1);
    assert_int_equal(ev.xs.zero_window[0], 0);
    assert_int_equal(ev.xs.retransmissions[1], 0);

    tcp_health_record_done(&h);                    /* counters restart, sequence state stays */
    seg(&h, 0, 20, ACK, b + 100, 1, 100, 500);     /* old data again: retransmission */
    ev = fill(&h);
    assert_int_equal(ev.xs.retransmissions[0], 1);
    assert_int_equal(ev.xs.out_of_order[0], 0);
    assert_int_equal(ev.xs.zero_window[1], 0);

    struct pkt_record p;                            /* header not captured: ignored */
    memset(&p, 0, sizeof p);
    p.proto = 6;
    tcp_health_packet(&h, &p, 1);
    ev = fill(&h);
    assert_int_equal(ev.xs.zero_window[1], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handshake),
        cmocka_unit_test(test_sequence_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
