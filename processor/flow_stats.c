/*
 * flow_stats.c — streaming per-flow statistics (see flow_stats.h).
 *
 * Welford's online algorithm keeps mean and M2 (sum of squared deviations)
 * per series; the sample standard deviation is sqrt(M2 / (n - 1)). Both
 * directions together are a third accumulator fed every packet in order (a
 * merge of the two directions' would differ in the last bits from a
 * reference computed in packet order). Sizes are IP lengths (NFStream's choice; the wire length also
 * counts link headers that differ by capture point).
 */
#include "flow_stats.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

/* Index of each TCP flag bit (FIN 0x01 .. CWR 0x80) in flag_count. */
static const uint8_t FLAG_BIT_IX[8] = {FLAG_IX_FIN, FLAG_IX_SYN, FLAG_IX_RST, FLAG_IX_PSH,
                                       FLAG_IX_ACK, FLAG_IX_URG, FLAG_IX_ECE, FLAG_IX_CWR};

/* One Welford step: n values including x. */
static void welford(double *mean, double *m2, uint64_t n, double x)
{
    double delta = x - *mean;
    *mean += delta / (double)n;
    *m2 += delta * (x - *mean);
}

/* The gap since the previous packet of a series (n packets before this one). */
static bool gap_of(uint64_t n, uint64_t *prev, uint64_t ts, uint64_t *gap)
{
    uint64_t last = *prev;
    *prev = ts;
    if (n == 0)
        return false;
    *gap = ts > last ? ts - last : 0;
    return true;
}

static void dir_packet(struct fstats_dir *d, const struct pkt_record *p)
{
    uint64_t gap;
    if (gap_of(d->n, &d->prev_us, p->ts_us, &gap)) {   /* gaps = packets - 1 */
        welford(&d->iat_mean, &d->iat_m2, d->n, (double)gap);
        if (d->n == 1 || gap < d->iat_min)
            d->iat_min = gap;
        if (gap > d->iat_max)
            d->iat_max = gap;
    }
    d->n++;
    welford(&d->size_mean, &d->size_m2, d->n, (double)p->ip_len);
    if (d->n == 1 || p->ip_len < d->size_min)
        d->size_min = p->ip_len;
    if (p->ip_len > d->size_max)
        d->size_max = p->ip_len;
    d->payload += p->payload_len;
    for (unsigned f = p->tcp_flags; f; f &= f - 1u)
        d->flags[FLAG_BIT_IX[__builtin_ctz(f)]]++;
}

static void both_packet(struct fstats_both *b, const struct pkt_record *p)
{
    uint64_t gap;
    if (gap_of(b->n, &b->prev_us, p->ts_us, &gap)) {
        welford(&b->iat_mean, &b->iat_m2, b->n, (double)gap);
        if (b->n == 1 || gap < b->iat_min)
            b->iat_min = gap;
        if (gap > b->iat_max)
            b->iat_max = gap;
    }
    b->n++;
    welford(&b->size_mean, &b->size_m2, b->n, (double)p->ip_len);
}

size_t flow_stats_early_slot(unsigned n)
{
    return ((size_t)n * (sizeof(uint32_t) + sizeof(uint16_t)) + 7u) & ~(size_t)7u;
}

void flow_stats_packet(struct flow_stats *s, const struct pkt_record *p, int dir,
                       unsigned early_max)
{
    dir_packet(&s->d[dir], p);
    both_packet(&s->b, p);
    if (!s->early_sent && s->early && s->early_n < early_max && s->early_n < FLOW_EARLY_MAX) {
        unsigned i = s->early_n;
        uint64_t gap = i == 0 || p->ts_us <= s->early_prev_us ? 0 : p->ts_us - s->early_prev_us;
        uint32_t iat = gap > UINT32_MAX ? UINT32_MAX : (uint32_t)gap;
        uint16_t size = p->ip_len > UINT16_MAX ? UINT16_MAX : (uint16_t)p->ip_len;
        memcpy(s->early + (size_t)i * sizeof iat, &iat, sizeof iat);
        memcpy(s->early + (size_t)early_max * sizeof iat + (size_t)i * sizeof size, &size, sizeof size);
        if (dir)
            s->early_dirs |= 1u << i;
        s->early_prev_us = p->ts_us;
        s->early_n++;
    }
}

static double stddev(double m2, uint64_t n)
{
    return n > 1 ? sqrt(m2 / (double)(n - 1)) : 0.0;
}

static void dir_fill(const struct fstats_dir *d, struct flow_dir_stats *o)
{
    o->size_min = d->size_min;
    o->size_max = d->size_max;
    o->size_mean = d->size_mean;
    o->size_stddev = stddev(d->size_m2, d->n);
    o->iat_min_us = d->iat_min;
    o->iat_max_us = d->iat_max;
    o->iat_mean_us = d->iat_mean;
    o->iat_stddev_us = stddev(d->iat_m2, d->n ? d->n - 1 : 0);
    o->payload_bytes = d->payload;
    memcpy(o->flag_count, d->flags, sizeof o->flag_count);
}

void flow_stats_fill(const struct flow_stats *s, unsigned early_max, struct flow_event *ev)
{
    struct flow_xstats *x = &ev->xs;
    x->have |= XS_STATS;
    dir_fill(&s->d[0], &x->dir[0]);
    dir_fill(&s->d[1], &x->dir[1]);
    const struct fstats_dir *a = &s->d[0], *c = &s->d[1];
    struct flow_dir_stats *o = &x->dir[2];
    o->size_min = !a->n ? c->size_min : !c->n ? a->size_min
                : a->size_min < c->size_min ? a->size_min : c->size_min;
    o->size_max = a->size_max > c->size_max ? a->size_max : c->size_max;
    o->size_mean = s->b.size_mean;
    o->size_stddev = stddev(s->b.size_m2, s->b.n);
    o->iat_min_us = s->b.iat_min;
    o->iat_max_us = s->b.iat_max;
    o->iat_mean_us = s->b.iat_mean;
    o->iat_stddev_us = stddev(s->b.iat_m2, s->b.n ? s->b.n - 1 : 0);
    o->payload_bytes = a->payload + c->payload;
    for (int i = 0; i < FLAG_IX_COUNT; i++)
        o->flag_count[i] = a->flags[i] + c->flags[i];
    if (!s->early_sent && s->early && s->early_n) {
        unsigned n = s->early_n;
        x->early_n = (uint8_t)n;
        x->early_dirs = s->early_dirs;
        memcpy(x->early_iat_us, s->early, (size_t)n * sizeof(uint32_t));
        memcpy(x->early_size, s->early + (size_t)early_max * sizeof(uint32_t), (size_t)n * sizeof(uint16_t));
    }
}

void flow_stats_record_done(struct flow_stats *s)
{
    memset(s->d, 0, sizeof s->d);
    memset(&s->b, 0, sizeof s->b);
    s->early_sent = 1;
}
