/*
 * dpi.h — per-flow payload inspection on the processor thread: application
 * identification with nDPI, and the one place where later inspectors (the
 * metadata parsers of inspect/) get their bytes.
 *
 * A flow is "in detection" from its first packet until every inspector is
 * done with it. While it is, the capture thread sends its payload along
 * (common/payload.h) and the flow table hands each of its packets to
 * dpi_packet(); once it is done, dpi publishes that in the payload_done table
 * so the capture stops copying the flow's payload, and the flow costs only
 * its `struct dpi_flow` (24 bytes) in the flow table, plus a 256-byte slot
 * of the result slab when its payload said something (DNS, TLS, ...).
 *
 * nDPI's per-flow state (struct ndpi_flow_struct, 688 bytes in nDPI 4.2) is
 * taken from a preallocated pool at the flow's first payload packet and
 * given back when detection ends: nDPI labels the flow, or gives up after
 * DPI_TCP_PACKETS/DPI_UDP_PACKETS packets (ndpiReader's limits), or the flow
 * ends first (then nDPI guesses: ndpi_detection_giveup). When the pool is
 * empty a new flow is not inspected (counted) and gets nDPI's guess from its
 * addresses and ports at its end. nDPI is not thread-safe per detection
 * module: one `dpi` belongs to one flow table and is only called under that
 * table's lock (processor or janitor thread, never both at once).
 */
#ifndef TRACER_DPI_H
#define TRACER_DPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../common/payload.h"
#include "../inspect/inspect.h"
#include "../models/flow_event.h"

typedef struct dpi dpi;

/* ndpiReader's defaults (-T, -U): packets, both ways, before nDPI gives up. */
#define DPI_TCP_PACKETS 80u
#define DPI_UDP_PACKETS 24u

/* dpi_flow.state */
enum dpi_state {
    DPI_NEW = 0,       /* no payload seen yet: no nDPI state taken */
    DPI_RUNNING,       /* in detection: `nf` holds nDPI's state */
    DPI_DONE,          /* labelled (or given up); nothing more to do */
    DPI_SKIPPED        /* the pool was empty at its first payload: not inspected */
};

/* Inspectors that may still want a flow's payload (dpi_flow.want). Later
 * inspectors (DNS, TLS, HTTP, SSH metadata) add their bit here and to
 * DPI_WANT_ALL, and clear it (dpi_inspector_done) when they have what they
 * need; the flow is done, and its payload no longer copied, when no bit is
 * left. */
#define DPI_WANT_NDPI 0x01u
#define DPI_WANT_META 0x02u          /* inspect/: DNS, TLS, QUIC, HTTP, SSH metadata */
#define DPI_WANT_ALL  (DPI_WANT_NDPI | DPI_WANT_META)

/*
 * The per-flow block kept in the flow table's entry: 24 bytes. What the
 * metadata parsers found (a 256-byte inspect_result) is not kept here: while
 * they read, `insp` is their pool state (which holds it); when they are done
 * and found something, the result moves to a slot of the dpi's result slab
 * (`meta`, held until the flow's final record); a flow whose parsers found
 * nothing keeps nothing.
 */
struct dpi_flow {
    struct ndpi_flow_struct *nf;   /* pool entry while DPI_RUNNING, else NULL */
    union {
        struct inspect_flow *insp; /* !meta_kept: parser state while DPI_WANT_META, else NULL */
        uint32_t meta;             /* meta_kept: slot of the result slab */
    } m;
    uint16_t master, app;          /* nDPI protocol ids (master 0: none) */
    uint8_t  category;             /* ndpi_protocol_category_t */
    uint8_t  state : 4;            /* enum dpi_state */
    uint8_t  guessed : 1;          /* the label is nDPI's guess, not a detection */
    uint8_t  meta_kept : 1;        /* m.meta holds the parsers' result */
    uint8_t  want;                 /* DPI_WANT_* bits of inspectors still reading */
    uint8_t  pkts;                 /* packets seen in detection (saturates at 255) */
};
/* Pinned (tests/unit/test_dpi.c checks it too): grow it only knowingly, it is per flow. */
_Static_assert(sizeof(struct dpi_flow) == 24, "struct dpi_flow is 24 bytes per flow");

/* What a flow's inspection sees of it: the flow table's canonical key facts. */
struct dpi_flow_id {
    const uint8_t *src, *dst;      /* initiator, responder addresses (pkt_record layout) */
    uint16_t sport, dport;
    uint8_t  proto, ipver;
    /* the packet being inspected (dpi_packet): TCP flags and sequence number */
    uint8_t  tcp_flags;
    bool     has_seq;              /* tcp_seq is the packet's (its TCP header was captured) */
    uint32_t tcp_seq;
};

struct dpi_stats {
    uint64_t flows_inspected;      /* flows that took an nDPI state from the pool */
    uint64_t flows_detected;       /* ... and were labelled by detection */
    uint64_t flows_guessed;        /* labels that are nDPI's guess (gave up, ended early, skipped) */
    uint64_t pool_empty;           /* flows not inspected: the pool was empty */
    uint64_t payload_packets;      /* packets whose payload reached nDPI */
    uint64_t payload_late;         /* payload for a flow already done (hint raced): ignored */
    uint64_t pool_in_use;          /* nDPI states taken now */
    /* metadata (inspect/) */
    uint64_t meta_flows;           /* flows that took a metadata parser state */
    uint64_t meta_found;           /* ... whose parsers found something (DNS, TLS, QUIC, HTTP, SSH) */
    uint64_t meta_pool_empty;      /* flows without metadata: that pool was empty, or no memory
                                    * for the slab to keep what the parsers found */
    uint64_t meta_in_use;          /* metadata states taken now */
    uint64_t meta_kept;            /* results held in the slab now (flows not yet ended) */
    uint64_t meta_slab_slots;      /* slots the slab has allocated (in chunks; never shrinks) */
};

/*
 * Create the inspection context: an nDPI detection module with every
 * protocol enabled and a pool of `pool_flows` nDPI flow states (allocated
 * here, once). `done` is the table to publish finished flows in (may be
 * NULL). NULL with a message in err. Main thread.
 */
dpi *dpi_create(uint32_t pool_flows, payload_done *done, char *err, size_t errlen);

/* NULL-safe. Every flow must have been ended (dpi_flow_end) before. */
void dpi_destroy(dpi *d);

/*
 * The inspection point. Called by the flow table for every packet of a flow
 * whose state is DPI_NEW or DPI_RUNNING (cheap check: dpi_flow_active).
 * `dir` 0 = initiator -> responder. `pl` is the packet from its IP header on
 * (pl->data, pl->l3_len bytes; the L4 payload at pl->l4_off, pl->l4_len bytes,
 * 0 for the headers of a packet without payload), or NULL when the capture
 * copied nothing (no payload and the flow not yet in detection, done, ...). `ts_us` the packet time.
 * Feeds nDPI; ends detection when nDPI is done or the packet limit is reached
 * (then gives the nDPI state back and marks the flow done in the payload_done
 * table). No allocation of ours; nDPI itself may allocate (TLS reassembly).
 * Calling thread: the one holding the flow table's lock.
 */
void dpi_packet(dpi *d, struct dpi_flow *df, const struct dpi_flow_id *id, int dir,
                const struct payload_slot *pl, uint64_t ts_us);

static inline bool dpi_flow_active(const struct dpi_flow *df) { return df->state <= DPI_RUNNING; }

/*
 * The flow ends (or an interim record is due: `final` false). Final: a flow
 * still in detection gets nDPI's guess, its nDPI state goes back to the pool
 * and its payload_done slot is cleared. Both: fill the event's app fields.
 * Flow table's lock held.
 */
void dpi_flow_end(dpi *d, struct dpi_flow *df, const struct dpi_flow_id *id, bool final,
                  struct flow_event *ev);

/* Counters; flow table's lock held. */
void dpi_get_stats(const dpi *d, struct dpi_stats *out);

#endif
