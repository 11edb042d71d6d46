/*
 * decode.h — turns one captured frame into a small fixed-size packet record.
 *
 * The capture thread must never hand raw packets to the rest of the pipeline:
 * it decodes each frame here, once, into a `pkt_record` (addresses, ports,
 * protocol, lengths, TCP flags, VLAN, ICMP type/code, fragment facts) and
 * pushes only that record into the ring. Encapsulations that carry IP on the
 * way (MPLS label stacks and Ethernet pseudowires, PPPoE sessions, PPP, Cisco
 * HDLC, NFLOG, IPv4/IPv6 AH) are walked through to the IP packet inside. The decoder is stateless and
 * allocation-free; every read is bounds-checked against the captured length,
 * and a frame it cannot use is reported with a reason, never a crash.
 */
#ifndef TRACER_DECODE_H
#define TRACER_DECODE_H

#include <stddef.h>
#include <stdint.h>

/* Link types the decoder understands (values are libpcap DLT_ numbers). */
#define DECODE_DLT_NULL       0    /* BSD loopback: 4-byte host-order family */
#define DECODE_DLT_EN10MB     1    /* Ethernet II, 802.1Q, 802.1ad/QinQ */
#define DECODE_DLT_RAW        12   /* raw IP (DLT_RAW everywhere but OpenBSD; see LINKTYPE_RAW) */
#define DECODE_DLT_RAW_ALT    14   /* raw IP (OpenBSD's DLT_RAW value) */
#define DECODE_DLT_LOOP       108  /* OpenBSD loopback: 4-byte network-order family */
#define DECODE_DLT_LINUX_SLL  113  /* Linux cooked v1 */
#define DECODE_LINKTYPE_RAW   101  /* LINKTYPE_RAW as stored in files */
#define DECODE_DLT_IPV4       228  /* raw IPv4 */
#define DECODE_DLT_IPV6       229  /* raw IPv6 */
#define DECODE_DLT_LINUX_SLL2 276  /* Linux cooked v2 (the "any" device) */
#define DECODE_DLT_PPP        9    /* PPP (RFC 1661), with or without ff 03 (RFC 1662) */
#define DECODE_DLT_PPP_SERIAL 50   /* PPP in HDLC-like framing, or Cisco PPP (RFC 1547 §4.3.1) */
#define DECODE_DLT_C_HDLC     104  /* Cisco HDLC: address, control, EtherType */
#define DECODE_DLT_NFLOG      239  /* Linux NFLOG (the "nflog" device): header + TLVs */

/* Per-record flags (pkt_record.flags). */
#define PKT_F_FRAG_FIRST    0x01u /* first fragment of a fragmented datagram (offset 0, more follow) */
#define PKT_F_FRAG_NONFIRST 0x02u /* a later fragment: ports unknown, attribute by frag_id */
#define PKT_F_HAS_PORTS     0x04u /* sport/dport are meaningful (TCP, UDP, SCTP) */
#define PKT_F_L4_TRUNC      0x08u /* L4 header cut by the snap length: ports/flags may be 0 */

/*
 * One decoded packet. Fixed size, no pointers, safe to copy through a ring.
 * Addresses: IPv4 in the first 4 bytes of src/dst with the other 12 bytes zero;
 * IPv6 in all 16 bytes. Multi-byte fields are host order.
 */
struct pkt_record {
    uint64_t ts_us;        /* capture timestamp, microseconds since the Unix epoch */
    uint8_t  src[16];      /* network source address */
    uint8_t  dst[16];      /* network destination address */
    uint32_t wire_len;     /* original length on the wire (pcap len), bytes */
    uint32_t frag_id;      /* IPv4 identification or IPv6 fragment identification */
    uint16_t sport;        /* transport ports, 0 when the protocol has none; ICMP and */
    uint16_t dport;        /* ICMPv6 messages with an identifier (echo, timestamp, ...):
                              sport = the identifier, dport 0 (PKT_F_HAS_PORTS clear) */
    uint16_t vlan_id;      /* outermost 802.1Q/802.1ad VLAN id, 0 when untagged */
    uint8_t  ip_version;   /* 4 or 6 */
    uint8_t  proto;        /* IP protocol number (final next-header for IPv6) */
    uint8_t  tcp_flags;    /* TCP flags byte (FIN=0x01 SYN=0x02 RST=0x04 PSH=0x08 ACK=0x10 URG=0x20 ECE=0x40 CWR=0x80) */
    uint8_t  icmp_type;    /* ICMP/ICMPv6 type and code, 0 otherwise */
    uint8_t  icmp_code;
    uint8_t  flags;        /* PKT_F_* */
    /* dpi (issue 15) */
    uint32_t payload_seq;  /* != 0: this packet's bytes wait in the payload ring, in
                              the slot with this sequence number (common/payload.h) */
};

/* Why a frame could not become a record. Index into per-reason counters. */
enum decode_result {
    DECODE_OK = 0,
    DECODE_TRUNCATED,       /* a header ends beyond the captured bytes */
    DECODE_BAD_HEADER,      /* a header field is impossible (IHL < 5, version mismatch, length too small) */
    DECODE_UNSUPPORTED_LINK,/* link type the decoder does not know */
    DECODE_NOT_IP,          /* ARP, LLDP, other EtherTypes: not a flow packet */
    DECODE_RESULT_COUNT
};

/* Stable lower-case name of a result, for logs and stats ("truncated", ...). */
const char *decode_result_name(enum decode_result r);

/*
 * Decode one frame. `dlt` is the pcap datalink type, `data`/`caplen` the captured
 * bytes, `wire_len` the original length and `ts_us` the timestamp; they are copied
 * into `out`. Returns DECODE_OK and fills `out` completely (unused fields zero), or
 * another result and leaves `out` unspecified. Never reads outside data[0..caplen).
 * Thread-safe (no state); called on the capture thread for every packet.
 */
enum decode_result decode_packet(int dlt, const uint8_t *data, size_t caplen,
                                 uint32_t wire_len, uint64_t ts_us,
                                 struct pkt_record *out);

/*
 * Where the IP packet and its TCP/UDP payload sit in the frame, for the
 * payload path (common/payload.h). Offsets: l3_off from the frame start,
 * l4_off from the IP header. l3_len counts the captured bytes of the IP
 * packet (cut to its total length), l4_len the captured payload bytes. All 0
 * when the packet is not TCP/UDP, is a non-first fragment, or its transport
 * header was not captured whole.
 */
struct decode_span {
    uint32_t l3_off, l3_len;
    uint32_t l4_off, l4_len;
};

/*
 * decode_packet, and also fill `span` (when not NULL) for TCP and UDP
 * packets. Same contract otherwise; capture thread.
 */
enum decode_result decode_packet_span(int dlt, const uint8_t *data, size_t caplen,
                                      uint32_t wire_len, uint64_t ts_us,
                                      struct pkt_record *out, struct decode_span *span);

/* Whether `dlt` is one of the link types above. */
int decode_dlt_supported(int dlt);

/*
 * Link-layer discovery frames (LLDP, CDP) are not flow packets; the capture
 * stage can hand them, whole, to the topology hook. decode_l2_discovery says
 * whether a frame that decode_packet reported as DECODE_NOT_IP is one:
 *  - LLDP (IEEE 802.1AB): EtherType 0x88cc, after any VLAN tags;
 *  - CDP: an 802.3 length field (or SLL protocol 0x0004, 802.2) followed by
 *    LLC/SNAP AA AA 03, OUI 00:00:0c, PID 0x2000; on Ethernet the destination
 *    must be 01:00:0c:cc:cc:cc.
 * Fills `out` (payload offset = first byte of the LLDPDU / CDP header, source
 * MAC when the link header carries one, outermost VLAN id) and returns its
 * kind, or DECODE_L2_NONE. Never reads outside data[0..caplen); no state, no
 * allocation. Capture thread, for DECODE_NOT_IP frames only.
 */
enum decode_l2_kind { DECODE_L2_NONE = 0, DECODE_L2_LLDP = 1, DECODE_L2_CDP = 2 };

struct decode_l2_info {
    uint16_t offset;       /* payload start within the frame */
    uint16_t vlan_id;      /* outermost VLAN id, 0 when untagged */
    uint8_t  src_mac[6];   /* valid when has_src_mac */
    uint8_t  has_src_mac;
};

enum decode_l2_kind decode_l2_discovery(int dlt, const uint8_t *data, size_t caplen,
                                        struct decode_l2_info *out);

#endif
