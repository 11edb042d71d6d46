/*
 * flow_table.h — the bidirectional flow cache and its timeout rules.
 *
 * Folds pkt_records into flows keyed canonically (addresses, ports, protocol,
 * outer VLAN; ICMP by exchange: request/reply pair and identifier, or type and
 * code), so both directions of a conversation meet in one flow, and
 * decides when a flow ends: RST, or FIN from both sides (after a linger so the
 * teardown's last packets still belong to it), idle timeout per protocol,
 * active timeout (interim records), the max-flows cap (eviction) and shutdown.
 * Per side it also keeps, over the flow's life, the MAC, the first DSCP and
 * the TTL range, and the flow's first (and first other) interface id.
 *
 * Every decision is a function of packet time only (the table's clock is the
 * newest packet time seen, never earlier), so the records a pcap file gives are
 * the same whoever applies the rules first: flow_table_packet() applies them
 * inline to the flow a packet touches, flow_table_expire() (the janitor)
 * applies them to whatever has expired by a given time. Both emit identical
 * records for the same flow.
 *
 * Not thread-safe: the processor serialises calls with one mutex (see
 * processor.c). Flows live in lists ordered by last packet time (one per
 * timeout class) and on an active timer (first deadlines in a list, re-armed
 * ones in a heap), so expiring costs time proportional to what expires (times
 * log n for a re-armed deadline), never to the table size, whatever the order
 * of the traffic.
 */
#ifndef TRACER_FLOW_TABLE_H
#define TRACER_FLOW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../capture/decode.h"
#include "../common/ring.h"
#include "../models/flow_event.h"

typedef struct flow_table flow_table;

struct flow_table_cfg {
    uint64_t tcp_idle_us;     /* idle timeout of open TCP flows */
    uint64_t udp_idle_us;     /* idle timeout of UDP flows */
    uint64_t other_idle_us;   /* idle timeout of every other protocol */
    uint64_t active_us;       /* active timeout: interim record period */
    uint64_t linger_us;       /* how long a FIN/RST-closed flow still takes packets */
    uint32_t max_flows;       /* cap; the oldest flow is evicted beyond it */
    bool     ignore_vlan;     /* the VLAN id is left out of the key (and reported 0) */
    /* statistics and TCP health (issue 15 items 4, 5) */
    bool     flow_stats;      /* per-record packet statistics (flow_stats.h) */
    uint8_t  early_packets;   /* early packets kept per flow, 0..FLOW_EARLY_MAX (needs flow_stats) */
    bool     tcp_health;      /* TCP RTTs, retransmissions, out of order, zero windows (tcp_health.h) */
};

struct flow_table_stats {
    uint64_t packets;          /* records folded into flows */
    uint64_t flows_created;
    uint64_t flows_ended;      /* final records emitted */
    uint64_t interim_records;  /* active-timeout records emitted */
    uint64_t evicted;          /* flows ended by the max-flows cap */
    uint64_t frag_orphans;     /* non-first fragments whose first fragment was not seen */
    uint64_t frag_source_limited; /* first fragments that recycled their source's oldest entry (share cap) */
    uint64_t frag_evicted;     /* live fragment entries replaced because their probe window was full */
    uint64_t alloc_failures;   /* packets dropped because no flow could be allocated */
    uint64_t active_flows;     /* flows in the table now */
    uint64_t deadline_steps;   /* levels moved keeping active deadlines in order (O(log n) per re-arm) */
    uint64_t ended[FLOW_END_COUNT]; /* final records by end reason (ended[FLOW_END_ACTIVE] stays 0) */
};

/*
 * Receives each record the table emits; must copy it (the pointer dies after
 * the call). Every record the table emits, here or into an out[] array, is
 * sealed (flow_event_seal): only its first used_len bytes are the record, the
 * rest is unspecified; copy those (ring_push_burst_used does).
 */
typedef void (*flow_emit_fn)(void *arg, const struct flow_event *ev);

/* Create an empty table. NULL with a message in err on bad cfg or no memory. */
flow_table *flow_table_create(const struct flow_table_cfg *cfg, char *err, size_t errlen);

/* NULL-safe. Frees every flow without emitting anything. */
void flow_table_destroy(flow_table *ft);

/*
 * Fold one packet. Advances the clock to max(clock, pkt->ts_us), ends the
 * packet's flow first if it has expired (or a new SYN arrives after it closed),
 * emits an interim record if its active deadline passed, creates the flow if
 * needed (sweeping expired flows and then evicting the oldest when full), and
 * counts the packet. Records go to emit(arg, ...). No allocation except when
 * the flow pool or the hash grows (amortised, in chunks).
 */
void flow_table_packet(flow_table *ft, const struct pkt_record *pkt,
                       flow_emit_fn emit, void *arg);

/*
 * Fold n packets, in order: exactly what n calls of flow_table_packet() do,
 * faster (keys are hashed up front and their buckets prefetched).
 */
void flow_table_packet_burst(flow_table *ft, const struct pkt_record *pkts, size_t n,
                             flow_emit_fn emit, void *arg);

/*
 * Apply the timeout rules at time `now_us` (packet time for a file, wall time
 * live; clamped to be no earlier than the clock, and advancing it): end flows
 * whose linger or idle timeout passed, emit interim records for passed active
 * deadlines. Writes at most `max` (>= 2) records into out[] and returns how
 * many; call again until it returns 0 (ending one flow can take two records,
 * so a call may stop short of `max`). Cost is proportional to the records made
 * (an interim record's re-armed deadline: O(log n)).
 */
size_t flow_table_expire(flow_table *ft, uint64_t now_us, struct flow_event *out, size_t max);

/*
 * Shutdown: apply the rules at the clock, then end every remaining flow (closed
 * ones keep "fin"/"rst", open ones get "shutdown"). Same out/max protocol as
 * flow_table_expire; returns 0 once the table is empty.
 */
size_t flow_table_flush(flow_table *ft, struct flow_event *out, size_t max);

/* The table's clock: the newest time it has seen, µs since the epoch (0 before any). */
uint64_t flow_table_clock(const flow_table *ft);

void flow_table_get_stats(const flow_table *ft, struct flow_table_stats *out);

/* dpi (issue 15) */
struct dpi;
/*
 * Inspect flows with `d` (NULL: off), taking the payload of records with a
 * payload_seq from `payload[rec->payload_ring]` (`npayload` rings, one per
 * capture port, at most 16; slots of struct payload_slot, common/payload.h;
 * the table's thread becomes their consumer). Set before the first packet.
 */
void flow_table_set_dpi(flow_table *ft, struct dpi *d, ring *const *payload, size_t npayload);

/* Payload slots skipped (their record was dropped) and records whose slot was missing. */
void flow_table_get_payload_stats(const flow_table *ft, uint64_t *orphans, uint64_t *missing);

#endif
