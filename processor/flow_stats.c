/*
 * flow_stats.c — streaming per-flow statistics (see flow_stats.h).
 *
 * Welford's online algorithm keeps mean and M2 (sum of squared deviations)
 * per series; the sample standard deviation is sqrt(M2 / (n - 1)). Both
 * directions together are a third accumulator fed every packet in order (a
 * merge of the two directions' would differ in the last bits from a
 * reference computed in packet order). Sizes are IP lengths (NFStream's choice; the wire length also
 * counts link headers that differ by capture point).
 *
 * Why Welford and not integer sums (count, sum, sum of squares, divided once
 * per record): the JSON prints each double with the digits that read back
 * exactly, so it shows the last bit, and a mean from exact sums (one
 * rounding) differs in that bit from Welford's (one rounding per packet) for
 * many records; the printed values must stay what they were. The per-packet
 * cost is the state's cache misses, not the divisions: the state is kept
 * small and in one run of lines with the early slot (flow_stats_size), and
 * the flow table prefetches it.
 */
#include "flow_stats.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

/* Index of each TCP flag bit (FIN 0x01 .. CWR 0x80) in flag_count. */
static const uint8_t FLAG_BIT_IX[8] = {FLAG_IX_FIN, FLAG_IX_SYN, FLAG_IX_RST, FLAG_IX_PSH,
                                       FLAG_IX_ACK, FLAG_IX_URG, FLAG_IX_ECE, FLAG_IX_CWR};

_Static_assert(sizeof(struct flow_stats) == 264, "struct flow_stats: 264 bytes (flow_stats_size)");
_Static_assert(sizeof(struct flow_stats) % 8 == 0, "the early slot after the state is 8-aligned");

/* One Welford step: n values including x. */
static inline void welford(double *mean, double *m2, uint64_t n, double x)
{
    double delta = x - *mean;
    *mean += delta / (double)n;
    *m2 += delta * (x - *mean);
}

/* The early slot: N gaps, then N sizes. */
static inline uint8_t *early_slot(struct flow_stats *s) { return (uint8_t *)(s + 1); }
static inline const uint8_t *early_slot_c(const struct flow_stats *s) { return (const uint8_t *)(s + 1); }

static size_t early_bytes(unsigned n)
{
    return ((size_t)n * (sizeof(uint32_t) + sizeof(uint16_t)) + 7u) & ~(size_t)7u;
}

size_t flow_stats_size(unsigned early_max)
{
    return (sizeof(struct flow_stats) + early_bytes(early_max) + 31u) & ~(size_t)31u;
}

void flow_stats_init(struct flow_stats *s)
{
    memset(s, 0, sizeof *s);
}

/* One direction's packet; n: its packets in the record counting this one. */
static inline void dir_packet(struct fstats_dir *d, const struct pkt_record *p, uint64_t n)
{
    if (n > 1) {                                        /* gaps = packets - 1 */
        uint64_t gap = p->ts_us > d->prev_us ? p->ts_us - d->prev_us : 0;
        welford(&d->iat_mean, &d->iat_m2, n - 1, (double)gap);
        if (n == 2 || gap < d->iat_min)
            d->iat_min = gap;
        if (gap > d->iat_max)
            d->iat_max = gap;
    }
    d->prev_us = p->ts_us;
    welford(&d->size_mean, &d->size_m2, n, (double)p->ip_len);
    if (n == 1 || p->ip_len < d->size_min)
        d->size_min = p->ip_len;
    if (p->ip_len > d->size_max)
        d->size_max = p->ip_len;
    d->payload += p->payload_len;
    for (unsigned f = p->tcp_flags; f; f &= f - 1u)
        d->flags[FLAG_BIT_IX[__builtin_ctz(f)]]++;
}

void flow_stats_packet(struct flow_stats *s, const struct pkt_record *p, int dir,
                       const uint64_t pkts[2], unsigned early_max)
{
    uint64_t n = pkts[0] + pkts[1];                     /* both ways, counting this one */
    uint64_t gap = 0;                                   /* since the record's previous packet */
    if (n > 1) {
        uint64_t last = s->d[s->last_dir].prev_us;
        gap = p->ts_us > last ? p->ts_us - last : 0;
        welford(&s->b.iat_mean, &s->b.iat_m2, n - 1, (double)gap);
        if (n == 2 || gap < s->b.iat_min)
            s->b.iat_min = gap;
        if (gap > s->b.iat_max)
            s->b.iat_max = gap;
    }
    welford(&s->b.size_mean, &s->b.size_m2, n, (double)p->ip_len);
    s->last_dir = (uint8_t)dir;
    dir_packet(&s->d[dir], p, pkts[dir]);
    /* The early packets are the first record's first ones: the gap since
     * the flow's previous packet is the record's (0 for the first). */
    if (!s->early_sent && s->early_n < early_max && s->early_n < FLOW_EARLY_MAX) {
        unsigned i = s->early_n;
        uint32_t iat = gap > UINT32_MAX ? UINT32_MAX : (uint32_t)gap;
        uint16_t size = p->ip_len > UINT16_MAX ? UINT16_MAX : (uint16_t)p->ip_len;
        uint8_t *e = early_slot(s);
        memcpy(e + (size_t)i * sizeof iat, &iat, sizeof iat);
        memcpy(e + (size_t)early_max * sizeof iat + (size_t)i * sizeof size, &size, sizeof size);
        if (dir)
            s->early_dirs |= 1u << i;
        s->early_n++;
    }
}

static double stddev(double m2, uint64_t n)
{
    return n > 1 ? sqrt(m2 / (double)(n - 1)) : 0.0;
}

static void dir_fill(const struct fstats_dir *d, uint64_t n, struct flow_dir_stats *o)
{
    o->size_min = d->size_min;
    o->size_max = d->size_max;
    o->size_mean = d->size_mean;
    o->size_stddev = stddev(d->size_m2, n);
    o->iat_min_us = d->iat_min;
    o->iat_max_us = d->iat_max;
    o->iat_mean_us = d->iat_mean;
    o->iat_stddev_us = stddev(d->iat_m2, n ? n - 1 : 0);
    o->payload_bytes = d->payload;
    memcpy(o->flag_count, d->flags, sizeof o->flag_count);
}

void flow_stats_fill(const struct flow_stats *s, const uint64_t pkts[2], unsigned early_max,
                     struct flow_event *ev)
{
    struct flow_xstats *x = &ev->xs;
    x->have |= XS_STATS;
    dir_fill(&s->d[0], pkts[0], &x->dir[0]);
    dir_fill(&s->d[1], pkts[1], &x->dir[1]);
    const struct fstats_dir *a = &s->d[0], *c = &s->d[1];
    uint64_t n = pkts[0] + pkts[1];
    struct flow_dir_stats *o = &x->dir[2];
    o->size_min = !pkts[0] ? c->size_min : !pkts[1] ? a->size_min
                : a->size_min < c->size_min ? a->size_min : c->size_min;
    o->size_max = a->size_max > c->size_max ? a->size_max : c->size_max;
    o->size_mean = s->b.size_mean;
    o->size_stddev = stddev(s->b.size_m2, n);
    o->iat_min_us = s->b.iat_min;
    o->iat_max_us = s->b.iat_max;
    o->iat_mean_us = s->b.iat_mean;
    o->iat_stddev_us = stddev(s->b.iat_m2, n ? n - 1 : 0);
    o->payload_bytes = a->payload + c->payload;
    for (int i = 0; i < FLAG_IX_COUNT; i++)
        o->flag_count[i] = a->flags[i] + c->flags[i];
    unsigned en = !s->early_sent ? s->early_n : 0;
    x->early_n = (uint8_t)en;
    x->early_dirs = en ? s->early_dirs : 0;
    const uint8_t *e = early_slot_c(s);
    memcpy(x->early_iat_us, e, (size_t)en * sizeof(uint32_t));
    memcpy(x->early_size, e + (size_t)early_max * sizeof(uint32_t), (size_t)en * sizeof(uint16_t));
    memset(x->early_iat_us + en, 0, (FLOW_EARLY_MAX - en) * sizeof(uint32_t));
    memset(x->early_size + en, 0, (FLOW_EARLY_MAX - en) * sizeof(uint16_t));
}

void flow_stats_record_done(struct flow_stats *s)
{
    uint32_t dirs = s->early_dirs;
    uint8_t n = s->early_n;
    memset(s, 0, sizeof *s);
    s->early_dirs = dirs;
    s->early_n = n;
    s->early_sent = 1;
}
