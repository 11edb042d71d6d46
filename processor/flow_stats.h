/*
 * flow_stats.h — per-flow packet statistics, streamed (issue 15 item 4).
 *
 * What flow-based machine learning is trained on (the NFStream and
 * CICFlowMeter feature set): per direction and both ways, the packet size
 * (IP length) and inter-arrival time min/mean/stddev/max, the payload bytes,
 * the count of packets carrying each TCP flag; and the flow's first N
 * packets (size, direction, gap). Nothing is stored per packet: means and
 * variances are updated with Welford's algorithm, so the state is fixed-size
 * and lives inside the flow entry (no allocation, no global state).
 *
 * Statistics describe the packets of one record, like the counters: an
 * interim (active-timeout) record and the next one each describe their own
 * packets; inter-arrival times are gaps between packets of the same record.
 * The early packets are the flow's first ones and travel in the flow's first
 * record only.
 *
 * Not thread-safe: the state belongs to its flow, used under the flow
 * table's lock (processor and janitor threads).
 */
#ifndef TRACER_FLOW_STATS_H
#define TRACER_FLOW_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../capture/decode.h"
#include "../models/flow_event.h"

/* Welford accumulator for one direction of a record. */
struct fstats_dir {
    double   size_mean, size_m2;
    double   iat_mean, iat_m2;
    uint64_t n;                    /* packets folded */
    uint64_t prev_us;              /* time of the previous packet (n > 0) */
    uint64_t iat_min, iat_max;
    uint64_t payload;
    uint32_t size_min, size_max;
    uint32_t flags[FLAG_IX_COUNT];
};

/* Both directions' own series (sizes and gaps in packet order); the
 * extremes, payload and flag counts are the two directions' combined. */
struct fstats_both {
    double   size_mean, size_m2;
    double   iat_mean, iat_m2;
    uint64_t n, prev_us;
    uint64_t iat_min, iat_max;
};

/*
 * Early packets live out of line, in a slot of flow_stats_early_slot(N)
 * bytes the flow table hands each flow (N = AGENT_EARLY_PACKETS): N gaps
 * (uint32_t) then N sizes (uint16_t). Only the state below is in the flow.
 */
struct flow_stats {
    struct fstats_dir d[2];        /* [0] initiator -> responder, [1] back */
    struct fstats_both b;
    uint8_t *early;                /* the flow's early slot, NULL when N is 0 */
    uint64_t early_prev_us;        /* time of the flow's previous packet (early_n > 0) */
    uint32_t early_dirs;           /* bit i: early packet i went responder -> initiator */
    uint8_t  early_n;              /* early packets kept so far */
    uint8_t  early_sent;           /* the first record (which carries them) was built */
};

/* Bytes of one flow's early slot for `n` (0..FLOW_EARLY_MAX) packets, a multiple of 8. */
size_t flow_stats_early_slot(unsigned n);

/*
 * Fold one packet of direction `dir` (0 initiator -> responder, 1 back) into
 * `s` (zeroed when the flow was made, but for s->early). `early_max`
 * (0..FLOW_EARLY_MAX) is how many early packets to keep, the size s->early was
 * made for. Packets come in file/arrival order; a packet stamped earlier than
 * the previous one counts a gap of 0. No allocation.
 */
void flow_stats_packet(struct flow_stats *s, const struct pkt_record *p, int dir,
                       unsigned early_max);

/* Write the record's statistics (and, in the flow's first record, the early
 * packets; early_max as above) into ev->xs; sets XS_STATS. */
void flow_stats_fill(const struct flow_stats *s, unsigned early_max, struct flow_event *ev);

/* A record was emitted: start the next one (keeps the early-packet state and
 * marks the early packets sent). */
void flow_stats_record_done(struct flow_stats *s);

#endif
