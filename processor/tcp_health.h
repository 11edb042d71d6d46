/*
 * tcp_health.h — handshake round-trip times, retransmissions, out-of-order
 * segments and zero windows of a TCP flow (issue 15 item 5).
 *
 * What argus and nProbe report about a connection's health, from the
 * sequence numbers, acknowledgments and windows the decoder copies into each
 * pkt_record. Definitions (also in the README):
 *  - A segment's sequence length is its payload plus one for SYN and one for
 *    FIN; segments of length 0 (pure ACKs) move nothing. Each direction keeps
 *    the highest sequence end (seq + length) seen.
 *  - A segment starting beyond that end opens a hole (bytes sent but not seen
 *    here); one hole per direction is remembered, the newest.
 *  - A segment ending at or below the highest end is out of order when it
 *    lies inside the remembered hole (it fills it), a retransmission
 *    otherwise; a segment starting below the highest end and reaching past it
 *    is a retransmission too. A one-byte segment at highest end - 1 is a
 *    keep-alive, neither.
 *  - Zero window: a segment advertising window 0 without SYN, FIN or RST
 *    (Wireshark's tcp.analysis.zero_window).
 *  - Handshake: rtt_syn_synack is from the initiator's last SYN before the
 *    first SYN+ACK to that SYN+ACK; rtt_synack_ack from the latest SYN+ACK to
 *    the initiator's first ACK acknowledging it (ack = SYN+ACK seq + 1).
 * Sequence comparisons are modulo 2^32 (RFC 9293 §3.4).
 *
 * Counters are per record (reset with the flow's counters); the round-trip
 * times, once measured, go into every later record of the flow.
 * Not thread-safe: state of one flow, used under the flow table's lock.
 */
#ifndef TRACER_TCP_HEALTH_H
#define TRACER_TCP_HEALTH_H

#include <stdint.h>

#include "../capture/decode.h"
#include "../models/flow_event.h"

struct tcp_health_dir {
    uint32_t hi;                   /* highest sequence end seen (have_hi) */
    uint32_t hole_lo, hole_hi;     /* the remembered hole [lo, hi) (have_hole) */
    uint32_t retrans, ooo, zero_win;
    uint8_t  have_hi, have_hole;
};

struct tcp_health {
    struct tcp_health_dir d[2];    /* [0] initiator -> responder */
    uint64_t syn_us, synack_us;
    uint32_t synack_seq;
    uint32_t rtt_syn_synack, rtt_synack_ack;
    uint8_t  hs;                   /* handshake progress (tcp_health.c) */
    uint8_t  have;                 /* XS_RTT_SYN | XS_RTT_ACK once measured */
};

/* Fold one TCP packet of direction `dir` (0 initiator -> responder) into `h`
 * (zeroed when the flow was made). Packets without PKT_L4_TCP_HDR are ignored. */
void tcp_health_packet(struct tcp_health *h, const struct pkt_record *p, int dir);

/* Write the counters and measured round-trip times into ev->xs; sets XS_TCP. */
void tcp_health_fill(const struct tcp_health *h, struct flow_event *ev);

/* A record was emitted: zero the counters (sequence state and RTTs stay). */
void tcp_health_record_done(struct tcp_health *h);

#endif
