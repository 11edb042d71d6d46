/*
 * flow_event.h — the finished-flow record and its FlowEvent JSON.
 *
 * The processor and janitor describe every finished (or interim) flow with a
 * fixed-size `flow_event`, which travels through an SPSC ring to the sender.
 * Only the sender turns it into JSON, with cJSON, so no JSON or allocation
 * happens on the packet path. The JSON keeps every go-Tracer field with its
 * name and type (flow_id, timestamp, interface, hostname, direction, src_ip,
 * dst_ip, src_port, dst_port, protocol, flow_duration, packet_count,
 * byte_count, avg_packet_size) and adds the fields in DESIGN.md.
 */
#ifndef TRACER_FLOW_EVENT_H
#define TRACER_FLOW_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;

enum flow_end_reason {
    FLOW_END_FIN = 0,   /* FIN seen from both sides (after the linger) */
    FLOW_END_RST,       /* RST seen (after the linger) */
    FLOW_END_IDLE,      /* idle timeout */
    FLOW_END_ACTIVE,    /* active timeout: interim record, final = false */
    FLOW_END_EVICTED,   /* pushed out by the max-flows cap */
    FLOW_END_SHUTDOWN,  /* sensor stopped or the pcap file ended */
    FLOW_END_COUNT
};

/* "fin", "rst", "idle", "active", "evicted", "shutdown". */
const char *flow_end_reason_name(enum flow_end_reason r);

enum flow_direction {
    FLOW_DIR_UNKNOWN = 0,
    FLOW_DIR_INBOUND,   /* only dst is one of the host's addresses */
    FLOW_DIR_OUTBOUND,  /* only src is one of the host's addresses */
    FLOW_DIR_LOCAL      /* both are */
};

/* "unknown", "inbound", "outbound", "local". */
const char *flow_direction_name(enum flow_direction d);

/*
 * One flow record. "src" is the initiator (the SYN sender, otherwise the sender
 * of the first packet seen), "dst" the responder. Addresses use the pkt_record
 * layout (IPv4 in the first 4 bytes). Counters are deltas since the flow's
 * previous record (equal to totals when this is the flow's first record).
 */
struct flow_event {
    uint64_t first_us;        /* first packet counted in this record, µs since epoch */
    uint64_t last_us;         /* last packet counted in this record */
    uint64_t src_packets, src_bytes;  /* initiator -> responder */
    uint64_t dst_packets, dst_bytes;  /* responder -> initiator */
    uint8_t  src_ip[16], dst_ip[16];
    uint16_t src_port, dst_port;      /* 0 when the protocol has no ports */
    uint16_t vlan_id;
    uint8_t  ip_version;              /* 4 or 6 */
    uint8_t  protocol;                /* IP protocol number */
    uint8_t  src_tcp_flags, dst_tcp_flags; /* OR of TCP flag bytes per direction */
    uint8_t  icmp_type, icmp_code;    /* initiator's first ICMP type/code */
    uint8_t  has_icmp;                /* icmp_type/icmp_code are meaningful */
    uint8_t  end_reason;              /* enum flow_end_reason */
    uint8_t  final;                   /* 0 for interim (active timeout) records */
    uint8_t  initiator_inferred;      /* TCP start (SYN, SYN+ACK) not seen: src/dst guessed
                                         from the ports (JSON "initiator_inferred": true) */
    /* dpi (issue 15) */
    uint8_t  has_app;                 /* the app_* fields are meaningful (AGENT_DPI on) */
    uint8_t  app_guessed;             /* the label is nDPI's guess, not a detection */
    char     app_protocol[24];        /* nDPI master protocol ("TLS"), or the application */
    char     app_name[24];            /* nDPI application ("YouTube"; "TLS" when no more) */
    char     app_category[40];        /* nDPI category ("Media") */
};

/* Per-sensor facts the JSON needs that are not in the record. */
struct flow_event_ctx {
    const char *interface;    /* capture interface (or the pcap file's name) */
    const char *hostname;     /* sensor host name */
    uint16_t    community_seed; /* Community ID v1 seed */
    struct community_id_hasher *cid_hasher; /* owner thread's hasher, or NULL (slower) */
};

/* "TCP", "UDP", "ICMP", "ICMPv6", "SCTP", or the decimal number. buf >= 4 bytes. */
const char *flow_protocol_name(uint8_t proto, char *buf, size_t buflen);

/*
 * TCP flags byte as letters in the order S A F R P U E C ("SAF" for SYN+ACK+FIN).
 * Writes a NUL-terminated string of at most 8 letters; buflen must be >= 9.
 */
void flow_tcp_flags_string(uint8_t flags, char *buf, size_t buflen);

/*
 * Build the FlowEvent JSON object for `ev`. `event_id` must be unique per event;
 * `dir` comes from the host's addresses (the sender knows them). Returns a new
 * cJSON object owned by the caller (cJSON_Delete), or NULL when out of memory.
 * Called on the sender thread only.
 */
struct cJSON *flow_event_to_json(const struct flow_event *ev,
                                 const struct flow_event_ctx *ctx,
                                 enum flow_direction dir, const char *event_id);

/*
 * Print `item` (any cJSON tree) as compact JSON into buf, like
 * cJSON_PrintUnformatted but without allocating and several times faster:
 * whole numbers below 2^53 are printed as plain integers (cJSON 1.7.15 turns
 * 1e15 into "1e+15" and 2^53-1 into "9.00719925474099e+15"), other numbers
 * with the shortest of %.15g/%.17g that reads back exactly, non-finite ones as
 * null; strings are escaped as cJSON does; raw items are copied verbatim.
 * snprintf semantics: returns the length of the whole text (excluding the
 * NUL); when that is >= buflen the output was cut (still NUL-terminated when
 * buflen > 0) and the caller may retry with a bigger buffer. Returns
 * SIZE_MAX for NULL, an invalid item, or nesting deeper than 1000.
 * Thread-safe (no state); assumes the "C" numeric locale.
 */
size_t flow_event_json_print(const struct cJSON *item, char *buf, size_t buflen);

/*
 * Write the FlowEvent JSON of `ev` straight into buf: the same bytes as
 * flow_event_json_print(flow_event_to_json(ev, ctx, dir, event_id)), without
 * building a cJSON tree (no allocation, no printf on the common paths; about
 * a tenth of the cost). snprintf semantics as flow_event_json_print: returns
 * the length of the whole text; >= buflen means it was cut. SIZE_MAX for a
 * NULL ev. Thread-safe (no state).
 */
size_t flow_event_format(const struct flow_event *ev, const struct flow_event_ctx *ctx,
                         enum flow_direction dir, const char *event_id, char *buf, size_t buflen);

#endif
