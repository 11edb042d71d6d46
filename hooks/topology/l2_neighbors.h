/*
 * l2_neighbors.h — LLDP and CDP decoding, and the "report once per TTL" table.
 *
 * Switches and routers announce themselves on every port with LLDP (IEEE
 * 802.1AB) or Cisco's CDP; a sensor that sees those frames can say, without
 * asking anyone, which device and port it is plugged into. The capture thread
 * copies such frames into a side ring (capture_set_l2_ring); the topology
 * hook's thread decodes them here and reports each neighbour as a
 * `topology_change` event (`change`: "lldp_neighbor" / "cdp_neighbor").
 *
 * The decoders are pure (no state, no allocation, no logging) and read the PDU
 * through a bounds-checked cursor: a frame cut by the snap length is decoded up
 * to its last complete TLV and flagged truncated; nothing is ever read outside
 * the bytes given. Decoded strings are views into the caller's buffer, so a
 * struct l2n_neighbor is valid only while that buffer is. Prefix: l2n_
 * ("layer-2 neighbour"). Any thread; the table belongs to one thread.
 */
#ifndef TRACER_L2_NEIGHBORS_H
#define TRACER_L2_NEIGHBORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../capture/decode.h"

struct cJSON;

#define L2N_MAX_ADDRS 8   /* management addresses (and CDP addresses) kept per PDU */

/* A byte string inside the decoded PDU (not NUL-terminated); p NULL = absent. */
struct l2n_bytes {
    const uint8_t *p;
    uint16_t len;
};

/* A network address found in a PDU. family: 4, 6, 0 = MAC (len 6), 255 = other (raw bytes). */
struct l2n_addr {
    uint8_t family;
    uint8_t len;
    uint8_t addr[32];
};

enum l2n_status {
    L2N_OK = 0,          /* decoded; see .truncated */
    L2N_EMPTY = -1,      /* not even the identifying fields (chassis/device id, port id) are there */
    L2N_BAD = -2         /* a header or TLV is impossible (wrong version, TLV length too small) */
};

struct l2n_neighbor {
    uint8_t kind;                    /* DECODE_L2_LLDP or DECODE_L2_CDP */
    bool truncated;                  /* the PDU ended inside a TLV or before the End TLV */
    uint8_t chassis_subtype;         /* LLDP chassis ID subtype (1..7); 0 for CDP */
    uint8_t port_subtype;            /* LLDP port ID subtype (1..7); 0 for CDP */
    struct l2n_bytes chassis_id;     /* LLDP chassis ID value (after the subtype); CDP Device-ID */
    struct l2n_bytes port_id;        /* LLDP port ID value; CDP Port-ID */
    struct l2n_bytes port_description;
    struct l2n_bytes system_name;    /* LLDP System Name; CDP Device-ID */
    struct l2n_bytes system_description; /* LLDP System Description; CDP Version String */
    struct l2n_bytes platform;       /* CDP Platform */
    bool has_ttl;
    uint16_t ttl;                    /* seconds */
    bool has_caps;
    uint32_t cap_system, cap_enabled;/* LLDP 16-bit maps; CDP: 32-bit map in both */
    uint8_t cdp_version;
    bool has_native_vlan;
    uint16_t native_vlan;            /* CDP Native VLAN, LLDP 802.1 Port VLAN ID */
    size_t n_mgmt;
    struct l2n_addr mgmt[L2N_MAX_ADDRS];   /* LLDP Management Address; CDP 0x16 */
    size_t n_addrs;
    struct l2n_addr addrs[L2N_MAX_ADDRS];  /* CDP Addresses (0x02) */
};

/* Decode an LLDPDU (first TLV at p[0]). Fills *out (views into p). */
enum l2n_status l2n_decode_lldp(const uint8_t *p, size_t len, struct l2n_neighbor *out);

/* Decode a CDP PDU (version byte at p[0]). Fills *out (views into p). */
enum l2n_status l2n_decode_cdp(const uint8_t *p, size_t len, struct l2n_neighbor *out);

/*
 * Decode a whole captured frame as classified by decode_l2_discovery (`info`,
 * `kind`); frame_truncated marks a frame the capture did not get whole.
 */
enum l2n_status l2n_decode_frame(uint8_t kind, const struct decode_l2_info *info,
                                 const uint8_t *frame, size_t caplen, bool frame_truncated,
                                 struct l2n_neighbor *out);

/*
 * The event for a decoded neighbour: {"type":"topology_change","change":
 * "lldp_neighbor"|"cdp_neighbor", "interface", "timestamp" (packet time),
 * "chassis_id", ..., "truncated"}; every key is present, null when the PDU did
 * not carry it. Strings are made valid UTF-8 (invalid bytes become U+FFFD).
 * Returns a new object (caller owns) or NULL when out of memory.
 */
struct cJSON *l2n_to_json(const struct l2n_neighbor *n, const struct decode_l2_info *info,
                          const char *ifname, uint64_t ts_us);

/*
 * Which announcements to report: a neighbour (kind, chassis id, port id) is
 * reported when first seen, when anything it announces changes, when its
 * previous report is older than its TTL, and when it says goodbye (TTL 0).
 * Bounded: when full, the entry closest to expiry makes room.
 *
 * Rate-limited (issue 13.10: a 60-byte frame with a new chassis id made a
 * ~450-byte event, without limit): every report takes a token from a bucket
 * of L2N_REPORT_BURST that refills at L2N_REPORT_PER_S per second of packet
 * time. Without a token the report is suppressed and the table left as it was
 * (a new neighbour is not remembered, a change not recorded), so the next
 * announcement after the bucket refills is reported.
 */
#define L2N_REPORT_BURST 64u
#define L2N_REPORT_PER_S 2u

typedef struct l2n_table l2n_table;

enum l2n_verdict {
    L2N_REPEAT = 0,        /* known and unchanged within its TTL: nothing to report */
    L2N_REPORT = 1,        /* report it (recorded) */
    L2N_RATE_LIMITED = 2   /* would be reported, but the bucket is empty (not recorded) */
};

l2n_table *l2n_table_create(size_t max_entries);   /* NULL when out of memory */
void       l2n_table_destroy(l2n_table *t);        /* NULL-safe */

/* What to do with `n` seen at ts_us (µs; packet time); records a report. */
enum l2n_verdict l2n_table_judge(l2n_table *t, const struct l2n_neighbor *n, uint64_t ts_us);

/* l2n_table_judge(...) == L2N_REPORT. */
bool l2n_table_should_report(l2n_table *t, const struct l2n_neighbor *n, uint64_t ts_us);

/* Entries currently held. */
size_t l2n_table_size(const l2n_table *t);

#endif
