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

#include "../inspect/inspect.h"

/*
 * The layout version every event carries as "schema_version" (flows and the
 * hook, sensor and job events alike). 2: the fields added to flows for
 * tunnels, per-side MAC/DSCP/TTL, interfaces, inferred initiators, sensor_id,
 * application labels, metadata, statistics, TCP health and process owners;
 * IPv6 flow_id in brackets; ICMP echo flows keyed by identifier. 1: go-Tracer's
 * fields and the first additions.
 */
#define EVENT_SCHEMA_VERSION 2
/* The version as a string literal, for writers that paste literal JSON. */
#define SCHEMA_TEXT_(v) #v
#define SCHEMA_TEXT(v) SCHEMA_TEXT_(v)

struct cJSON;
struct ifnames;

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

/* ---- statistics, TCP health, owning process (issue 15 items 4-6) ---- */

#define FLOW_EARLY_MAX 32u      /* most early packets a record can carry (AGENT_EARLY_PACKETS cap) */
#define FLOW_PROC_NAME_LEN 16u  /* /proc/<pid>/comm: 15 characters and the NUL */

/* Order of flow_dir_stats.flag_count: the JSON's syn, ack, fin, rst, psh, urg, ece, cwr. */
enum flow_flag_index { FLAG_IX_SYN = 0, FLAG_IX_ACK, FLAG_IX_FIN, FLAG_IX_RST, FLAG_IX_PSH,
                       FLAG_IX_URG, FLAG_IX_ECE, FLAG_IX_CWR, FLAG_IX_COUNT };

/* One direction's (or both directions') statistics over the packets of a record. */
struct flow_dir_stats {
    uint32_t size_min, size_max;          /* IP length of a packet, bytes (0 without packets) */
    double   size_mean, size_stddev;      /* sample standard deviation (n - 1), 0 below 2 packets */
    uint64_t iat_min_us, iat_max_us;      /* gaps between consecutive packets, µs */
    double   iat_mean_us, iat_stddev_us;  /* over packets - 1 gaps; 0 below 2 gaps (stddev) */
    uint64_t payload_bytes;               /* transport payload (see pkt_record.payload_len) */
    uint32_t flag_count[FLAG_IX_COUNT];   /* packets with each TCP flag set */
};

/* XS_* bits of flow_xstats.have. */
#define XS_STATS      0x01u   /* dir[] is filled */
#define XS_TCP        0x02u   /* the TCP health counters are filled (TCP flows) */
#define XS_RTT_SYN    0x04u   /* rtt_syn_synack_us measured */
#define XS_RTT_ACK    0x08u   /* rtt_synack_ack_us measured */
#define XS_PROC_SRC   0x10u   /* proc_pid[0]/proc_name[0] own the initiator's socket */
#define XS_PROC_DST   0x20u   /* proc_pid[1]/proc_name[1] own the responder's socket */

/* The TCP health and process fields (on by default) come first, the
 * statistics (off by default) last: a record without statistics travels the
 * event ring without them (flow_event_seal). */
struct flow_xstats {
    uint8_t  have;                        /* XS_* */
    uint8_t  early_n;                     /* early packets carried (the flow's first record only) */
    uint32_t rtt_syn_synack_us;           /* last SYN -> first SYN+ACK (XS_RTT_SYN) */
    uint32_t rtt_synack_ack_us;           /* SYN+ACK -> the initiator's ACK of it (XS_RTT_ACK) */
    uint32_t retransmissions[2];          /* [0] initiator -> responder; per record (deltas) */
    uint32_t out_of_order[2];
    uint32_t zero_window[2];
    int32_t  proc_pid[2];                 /* owning process per endpoint, XS_PROC_SRC/DST */
    char     proc_name[2][FLOW_PROC_NAME_LEN];
    /* statistics (XS_STATS) */
    struct flow_dir_stats dir[3];         /* [0] initiator -> responder, [1] back, [2] both ways */
    uint32_t early_dirs;                  /* bit i set: early packet i went responder -> initiator */
    uint32_t early_iat_us[FLOW_EARLY_MAX];/* µs since the flow's previous packet (0 for the first);
                                             UINT32_MAX when 71 minutes or more */
    uint16_t early_size[FLOW_EARLY_MAX];  /* IP length, 65535 when larger */
};

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
    uint16_t used_len;                /* bytes of this struct that carry the record (flow_event_seal);
                                         0: all of them */
    /* tunnel (issue 14): the innermost tunnel the flow came through (its
     * first packet's); tun_type 0 (TUNNEL_NONE): not tunnelled, no "tunnel" */
    uint8_t  tun_outer_src[16], tun_outer_dst[16]; /* outer addresses, initiator -> responder */
    uint32_t tun_id;                  /* VNI / TEID / GRE key / ERSPAN session id */
    uint8_t  tun_type;                /* enum tunnel_type (models/tunnel.h) */
    uint8_t  tun_depth;               /* tunnel layers decapsulated (1..3) */
    uint8_t  tun_outer_ipver;         /* 4 or 6 */
    uint8_t  tun_has_id;              /* tun_id is meaningful */
    /* interface, MACs, DSCP, TTL (issue 14 items 7-8); over the flow so far, not per record */
    uint8_t  src_mac[6], dst_mac[6];  /* initiator's, responder's MAC (mac_known bit 0, bit 1) */
    uint16_t iface;                   /* interface id (ifnames.h) of the first packet; 0: ctx->interface */
    uint16_t iface_other;             /* first other interface id a packet came in on; 0: none */
    uint8_t  src_dscp, dst_dscp;      /* DSCP of each side's first packet */
    uint8_t  src_ttl_min, src_ttl_max;/* TTL / hop limit range of the initiator's packets */
    uint8_t  dst_ttl_min, dst_ttl_max;/* ... and of the responder's */
    uint8_t  mac_known;               /* bit 0: src_mac is set, bit 1: dst_mac */
    uint8_t  side_seen;               /* bit 0: the initiator sent a packet, bit 1: the responder */
    /* statistics, TCP health, owning process (issue 15 items 4-6) */
    struct flow_xstats xs;
    /* dpi (issue 15) */
    uint8_t  has_app;                 /* the app_* fields are meaningful (AGENT_DPI on) */
    uint8_t  app_guessed;             /* the label is nDPI's guess, not a detection */
    char     app_protocol[24];        /* nDPI master protocol ("TLS"), or the application */
    char     app_name[24];            /* nDPI application ("YouTube"; "TLS" when no more) */
    char     app_category[40];        /* nDPI category ("Media") */
    /* metadata (issue 15, inspect/): DNS / TLS / QUIC / HTTP / SSH facts, AGENT_DPI on;
     * kind INSPECT_KIND_NONE: nothing (no member in the JSON) */
    struct inspect_result meta;
};

/* Per-sensor facts the JSON needs that are not in the record. */
struct flow_event_ctx {
    const char *interface;    /* capture interface (or the pcap file's name) */
    const char *hostname;     /* sensor host name */
    uint16_t    community_seed; /* Community ID v1 seed */
    struct community_id_hasher *cid_hasher; /* owner thread's hasher, or NULL (slower) */
    const char *sensor_id;    /* the sensor's stable id ("sensor_id"); NULL = field left out */
    const struct ifnames *ifnames;  /* names of flow_event.iface ids, or NULL (every flow: interface) */
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
/*
 * Set ev->used_len to the bytes of *ev that carry this record: the core, then
 * the TCP health / process fields when present, the statistics when present,
 * the application and metadata groups when present (they are last in the
 * struct). Everything past used_len must be zero (build records from a zeroed
 * struct). The event rings move only these bytes (ring_push_burst_used).
 */
void flow_event_seal(struct flow_event *ev);

/* ring_used_fn for flow records: ev->used_len, or the whole struct when 0 (unsealed). */
size_t flow_event_used(const void *ev);

/*
 * The most bytes flow_event_seal can leave in use when only these groups can
 * be filled: `dpi` (application and metadata), `stats` (AGENT_FLOW_STATS,
 * with the early packets); TCP health and the owning process always fit.
 * The event rings' slot size: with the defaults a record travels in ~240
 * bytes of ring instead of sizeof(struct flow_event).
 */
size_t flow_event_slot_size(bool dpi, bool stats);

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
