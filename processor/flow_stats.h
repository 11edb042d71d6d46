/*
 * flow_stats.h — per-flow packet statistics, streamed (issue 15 item 4).
 *
 * What flow-based machine learning is trained on (the NFStream and
 * CICFlowMeter feature set): per direction and both ways, the packet size
 * (IP length) and inter-arrival time min/mean/stddev/max, the payload bytes,
 * the count of packets carrying each TCP flag; and the flow's first N
 * packets (size, direction, gap). Nothing is stored per packet: means and
 * variances are updated with Welford's algorithm, so the state is fixed-size
 * and lives in a region per flow that the flow table hands out (no
 * allocation, no global state).
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

/*
 * One direction of a record. The packet count is not kept: it is the flow's
 * own per-record counter, which the caller passes in (flow_stats_packet).
 */
struct fstats_dir {
    double   size_mean, size_m2;   /* Welford over the IP lengths */
    double   iat_mean, iat_m2;     /* Welford over the gaps */
    uint64_t prev_us;              /* time of the direction's previous packet */
    uint64_t iat_min, iat_max;
    uint64_t payload;
    uint32_t size_min, size_max;
    uint32_t flags[FLAG_IX_COUNT];
};

/* Both directions' own series (sizes and gaps in packet order); the
 * extremes, payload and flag counts are the two directions' combined. The
 * previous packet's time is d[last_dir].prev_us. */
struct fstats_both {
    double   size_mean, size_m2;
    double   iat_mean, iat_m2;
    uint64_t iat_min, iat_max;
};

/*
 * A flow's statistics state, the start of its region of flow_stats_size(N)
 * bytes (N = AGENT_EARLY_PACKETS): the region goes on with the early-packet
 * slot, N gaps (uint32_t) then N sizes (uint16_t), so that a packet touches
 * one run of adjacent cache lines (5 for N = 8). What a packet updates
 * every time comes first. 264 bytes.
 */
struct flow_stats {
    struct fstats_both b;
    uint32_t early_dirs;           /* bit i: early packet i went responder -> initiator */
    uint8_t  last_dir;             /* direction of the record's previous packet */
    uint8_t  early_n;              /* early packets kept so far */
    uint8_t  early_sent;           /* the first record (which carries them) was built */
    uint8_t  pad_;
    struct fstats_dir d[2];        /* [0] initiator -> responder, [1] back */
};

/*
 * Bytes of one flow's statistics region (state and early slot) for
 * `early_max` (0..FLOW_EARLY_MAX) early packets; a multiple of 32 (of 64
 * for N = 5..9, 15..20 and 26..30: every region then starts on a cache line).
 */
size_t flow_stats_size(unsigned early_max);

/* Start the state of a new flow at the start of its region (the early slot
 * needs no clearing). No allocation. */
void flow_stats_init(struct flow_stats *s);

/*
 * Fold one packet of direction `dir` (0 initiator -> responder, 1 back) into
 * `s`. `pkts` are the record's packets per direction counting this one (the
 * flow's counters: the state keeps no count of its own). `early_max`
 * (0..FLOW_EARLY_MAX) is the N the region was sized for. Packets come in
 * file/arrival order; a packet stamped earlier than the previous one counts
 * a gap of 0. No allocation.
 */
void flow_stats_packet(struct flow_stats *s, const struct pkt_record *p, int dir,
                       const uint64_t pkts[2], unsigned early_max);

/* Write the record's statistics (and, in the flow's first record, the early
 * packets; early_max as above) into ev->xs; sets XS_STATS. `pkts` are the
 * record's packets per direction. Writes every statistics field of ev->xs
 * (early entries past early_n as zeros). */
void flow_stats_fill(const struct flow_stats *s, const uint64_t pkts[2], unsigned early_max,
                     struct flow_event *ev);

/* A record was emitted: start the next one (keeps the early-packet state and
 * marks the early packets sent). */
void flow_stats_record_done(struct flow_stats *s);

#endif
