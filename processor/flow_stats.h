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
#include <stdint.h>

#include "../capture/decode.h"
#include "../models/flow_event.h"

/* Welford accumulator for one direction (or both) of a record. */
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

struct flow_stats {
    struct fstats_dir d[3];        /* [0] initiator -> responder, [1] back, [2] both ways */
    uint64_t early_prev_us;        /* time of the flow's previous packet (early_n > 0) */
    uint32_t early_dirs;
    uint32_t early_iat[FLOW_EARLY_MAX];
    uint16_t early_size[FLOW_EARLY_MAX];
    uint8_t  early_n;              /* early packets kept so far */
    uint8_t  early_sent;           /* the first record (which carries them) was built */
};

/*
 * Fold one packet of direction `dir` (0 initiator -> responder, 1 back) into
 * `s` (zeroed when the flow was made). `early_max` (0..FLOW_EARLY_MAX) is how
 * many early packets to keep. Packets come in file/arrival order; a packet
 * stamped earlier than the previous one counts a gap of 0. No allocation.
 */
void flow_stats_packet(struct flow_stats *s, const struct pkt_record *p, int dir,
                       unsigned early_max);

/* Write the record's statistics (and, in the flow's first record, the early
 * packets) into ev->xs; sets XS_STATS. */
void flow_stats_fill(const struct flow_stats *s, struct flow_event *ev);

/* A record was emitted: start the next one (keeps the early-packet state and
 * marks the early packets sent). */
void flow_stats_record_done(struct flow_stats *s);

#endif
