/*
 * tcp_health.c — TCP handshake timing and loss/reorder counters (see
 * tcp_health.h for the definitions). A few comparisons per packet, fixed
 * state per direction, nothing allocated.
 */
#include "tcp_health.h"

#define TH_FIN 0x01u
#define TH_SYN 0x02u
#define TH_RST 0x04u
#define TH_ACK 0x10u

enum { HS_NONE = 0, HS_SYN, HS_SYNACK, HS_DONE };

/* a < b and a > b modulo 2^32 (RFC 9293 §3.4). */
static int seq_lt(uint32_t a, uint32_t b) { return (int32_t)(a - b) < 0; }
static int seq_gt(uint32_t a, uint32_t b) { return (int32_t)(a - b) > 0; }

static uint32_t clamp_us(uint64_t a, uint64_t b)
{
    uint64_t d = b > a ? b - a : 0;
    return d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
}

static void handshake(struct tcp_health *h, const struct pkt_record *p, int dir)
{
    uint8_t fl = p->tcp_flags;
    if ((fl & (TH_SYN | TH_ACK)) == TH_SYN && dir == 0 && h->hs <= HS_SYN) {
        h->syn_us = p->ts_us;                      /* the last SYN before the SYN+ACK */
        h->hs = HS_SYN;
    } else if ((fl & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) && dir == 1 &&
               (h->hs == HS_SYN || h->hs == HS_SYNACK)) {
        if (h->hs == HS_SYN) {
            h->rtt_syn_synack = clamp_us(h->syn_us, p->ts_us);
            h->have |= XS_RTT_SYN;
        }
        h->synack_us = p->ts_us;                   /* the latest SYN+ACK */
        h->synack_seq = p->tcp_seq;
        h->hs = HS_SYNACK;
    } else if (h->hs == HS_SYNACK && dir == 0 && (fl & (TH_SYN | TH_ACK | TH_RST)) == TH_ACK &&
               p->tcp_ack == h->synack_seq + 1u) {
        h->rtt_synack_ack = clamp_us(h->synack_us, p->ts_us);
        h->have |= XS_RTT_ACK;
        h->hs = HS_DONE;
    }
}

static void sequence(struct tcp_health_dir *d, const struct pkt_record *p)
{
    uint8_t fl = p->tcp_flags;
    uint32_t len = p->payload_len + ((fl & TH_SYN) ? 1u : 0u) + ((fl & TH_FIN) ? 1u : 0u);
    if (len == 0)
        return;
    uint32_t seq = p->tcp_seq, end = seq + len;
    if (!d->have_hi) {
        d->hi = end;
        d->have_hi = 1;
        return;
    }
    if (seq == d->hi) {                            /* next in order */
        d->hi = end;
        return;
    }
    if (seq_gt(seq, d->hi)) {                      /* a gap: bytes not seen here */
        d->hole_lo = d->hi;
        d->hole_hi = seq;
        d->have_hole = 1;
        d->hi = end;
        return;
    }
    if (len == 1 && p->payload_len == 1 && end == d->hi && !(fl & (TH_SYN | TH_FIN)))
        return;                                    /* keep-alive */
    if (d->have_hole && !seq_lt(seq, d->hole_lo) && !seq_gt(end, d->hole_hi)) {
        d->ooo++;                                  /* fills (part of) the hole */
        if (seq == d->hole_lo)
            d->hole_lo = end;
        else if (end == d->hole_hi)
            d->hole_hi = seq;
        if (!seq_lt(d->hole_lo, d->hole_hi))
            d->have_hole = 0;
        return;
    }
    d->retrans++;
    if (seq_gt(end, d->hi))
        d->hi = end;
}

void tcp_health_packet(struct tcp_health *h, const struct pkt_record *p, int dir)
{
    if (!(p->l4_info & PKT_L4_TCP_HDR))
        return;
    struct tcp_health_dir *d = &h->d[dir];
    if (p->tcp_win == 0 && !(p->tcp_flags & (TH_SYN | TH_FIN | TH_RST)))
        d->zero_win++;
    if (h->hs != HS_DONE)
        handshake(h, p, dir);
    sequence(d, p);
}

void tcp_health_fill(const struct tcp_health *h, struct flow_event *ev)
{
    struct flow_xstats *x = &ev->xs;
    x->have |= (uint8_t)(XS_TCP | h->have);
    x->rtt_syn_synack_us = h->rtt_syn_synack;
    x->rtt_synack_ack_us = h->rtt_synack_ack;
    for (int i = 0; i < 2; i++) {
        x->retransmissions[i] = h->d[i].retrans;
        x->out_of_order[i] = h->d[i].ooo;
        x->zero_window[i] = h->d[i].zero_win;
    }
}

void tcp_health_record_done(struct tcp_health *h)
{
    for (int i = 0; i < 2; i++)
        h->d[i].retrans = h->d[i].ooo = h->d[i].zero_win = 0;
}
