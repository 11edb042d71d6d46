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
#include <string.h>

/* Index of each TCP flag bit (FIN 0x01 .. CWR 0x80) in flag_count. */
static const uint8_t FLAG_BIT_IX[8] = {FLAG_IX_FIN, FLAG_IX_SYN, FLAG_IX_RST, FLAG_IX_PSH,
                                       FLAG_IX_ACK, FLAG_IX_URG, FLAG_IX_ECE, FLAG_IX_CWR};

static void dir_size(struct fstats_dir *d, uint32_t size)
{
    d->n++;
    double x = (double)size, delta = x - d->size_mean;
    d->size_mean += delta / (double)d->n;
    d->size_m2 += delta * (x - d->size_mean);
    if (d->n == 1 || size < d->size_min)
        d->size_min = size;
    if (size > d->size_max)
        d->size_max = size;
}

static void dir_gap(struct fstats_dir *d, uint64_t ts)
{
    if (d->n == 0) {
        d->prev_us = ts;
        return;
    }
    uint64_t gap = ts > d->prev_us ? ts - d->prev_us : 0;
    d->prev_us = ts;
    uint64_t k = d->n;                         /* gaps so far, this one included (n - 1 + 1) */
    double x = (double)gap, delta = x - d->iat_mean;
    d->iat_mean += delta / (double)k;
    d->iat_m2 += delta * (x - d->iat_mean);
    if (k == 1 || gap < d->iat_min)
        d->iat_min = gap;
    if (gap > d->iat_max)
        d->iat_max = gap;
}

static void dir_packet(struct fstats_dir *d, const struct pkt_record *p)
{
    dir_gap(d, p->ts_us);                      /* before n moves: gaps = packets - 1 */
    dir_size(d, p->ip_len);
    d->payload += p->payload_len;
    for (unsigned f = p->tcp_flags; f; f &= f - 1u)
        d->flags[FLAG_BIT_IX[__builtin_ctz(f)]]++;
}

void flow_stats_packet(struct flow_stats *s, const struct pkt_record *p, int dir,
                       unsigned early_max)
{
    dir_packet(&s->d[dir], p);
    dir_packet(&s->d[2], p);
    if (!s->early_sent && s->early_n < early_max && s->early_n < FLOW_EARLY_MAX) {
        unsigned i = s->early_n;
        uint64_t gap = i == 0 || p->ts_us <= s->early_prev_us ? 0 : p->ts_us - s->early_prev_us;
        s->early_iat[i] = gap > UINT32_MAX ? UINT32_MAX : (uint32_t)gap;
        s->early_size[i] = p->ip_len > UINT16_MAX ? UINT16_MAX : (uint16_t)p->ip_len;
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
    uint64_t gaps = d->n ? d->n - 1 : 0;
    o->iat_min_us = d->iat_min;
    o->iat_max_us = d->iat_max;
    o->iat_mean_us = d->iat_mean;
    o->iat_stddev_us = stddev(d->iat_m2, gaps);
    o->payload_bytes = d->payload;
    memcpy(o->flag_count, d->flags, sizeof o->flag_count);
}

void flow_stats_fill(const struct flow_stats *s, struct flow_event *ev)
{
    struct flow_xstats *x = &ev->xs;
    x->have |= XS_STATS;
    dir_fill(&s->d[0], &x->dir[0]);
    dir_fill(&s->d[1], &x->dir[1]);
    dir_fill(&s->d[2], &x->dir[2]);
    if (!s->early_sent) {
        x->early_n = s->early_n;
        x->early_dirs = s->early_dirs;
        memcpy(x->early_iat_us, s->early_iat, sizeof x->early_iat_us);
        memcpy(x->early_size, s->early_size, sizeof x->early_size);
    }
}

void flow_stats_record_done(struct flow_stats *s)
{
    memset(s->d, 0, sizeof s->d);
    s->early_sent = 1;
}
