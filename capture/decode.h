/*
 * decode.h — turns one captured frame into a small fixed-size packet record.
 *
 * The capture thread must never hand raw packets to the rest of the pipeline:
 * it decodes each frame here, once, into a `pkt_record` (addresses, ports,
 * protocol, lengths, TCP flags, VLAN, ICMP type/code, fragment facts) and
 * pushes only that record into the ring. Encapsulations that carry IP on the
 * way (MPLS label stacks and Ethernet pseudowires, PPPoE sessions, PPP, Cisco
 * HDLC, NFLOG, IPv4/IPv6 AH) are walked through to the IP packet inside, and
 * with DECODE_OPT_DECAP tunnels over IP (GRE, ERSPAN, VXLAN, Geneve, GTP-U,
 * IP-in-IP) are opened to the conversation inside. The decoder is stateless and
 * allocation-free; every read is bounds-checked against the captured length,
 * and a frame it cannot use is reported with a reason, never a crash.
 */
#ifndef TRACER_DECODE_H
#define TRACER_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "../models/tunnel.h"

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
    /* tunnel (issue 14): set by decode_packet_opts with DECODE_OPT_DECAP; all zero otherwise
     * (the outer addresses and id are at the end of the record) */
    uint8_t  tun_type;     /* enum tunnel_type (models/tunnel.h), of the innermost tunnel; 0 = not tunnelled */
    uint8_t  tun_depth;    /* tunnel layers decapsulated, 0..DECODE_MAX_TUNNELS */
    uint8_t  tun_outer_ipver; /* 4 or 6: the version of tun_outer_src/dst */
    uint8_t  tun_flags;    /* DECODE_TUN_F_* */
    /* interface, link and IP header facts (issue 14 items 7-8) */
    uint8_t  src_mac[6];   /* Ethernet source address (PKT_MAC_SRC) */
    uint8_t  dst_mac[6];   /* Ethernet destination address (PKT_MAC_DST) */
    uint16_t iface;        /* capture's interface id (ifnames.h), 0: the capture's own name */
    uint8_t  ttl;          /* IPv4 TTL or IPv6 hop limit */
    uint8_t  dscp;         /* DSCP (RFC 2474): IPv4 TOS or IPv6 traffic class, >> 2 */
    uint8_t  mac_flags;    /* PKT_MAC_*: which of src_mac/dst_mac the link header had */
    /* flow statistics and TCP health (issue 15 items 4, 5) */
    uint8_t  l4_info;      /* PKT_L4_* */
    uint16_t tcp_win;      /* TCP window field as sent (unscaled); valid with PKT_L4_TCP_HDR */
    uint32_t ip_len;       /* IP length: IPv4 total length, IPv6 payload length + 40 (captured
                              IP bytes when the header says 0: TSO, jumbogram) */
    uint32_t payload_len;  /* bytes after the TCP/UDP header (after the IP headers for any other
                              protocol and for non-first fragments), from the IP length */
    uint32_t tcp_seq;      /* TCP sequence and acknowledgment numbers; valid with PKT_L4_TCP_HDR */
    uint32_t tcp_ack;
    /* dpi (issue 15) */
    uint32_t payload_seq;  /* != 0: this packet's bytes wait in the payload ring, in
                              the slot with this sequence number (common/payload.h) */
    uint8_t  payload_ring; /* ... of this payload ring (the capture port's, 0..15) */
    /* tunnel (issue 14), continued: zero unless tun_type, tun_depth or tun_flags is set */
    uint32_t tun_id;       /* VNI (VXLAN, Geneve), TEID (GTP-U), GRE key, ERSPAN session id */
    uint8_t  tun_outer_src[16]; /* source/destination of the IP header that carries the */
    uint8_t  tun_outer_dst[16]; /* innermost tunnel decapsulated (pkt_record address layout) */
};

/* pkt_record.mac_flags. Ethernet gives both (the innermost Ethernet header's,
 * for pseudowires); Linux cooked headers only the sender's (6-byte addresses).
 * ttl and dscp come from the innermost IP header decoded. */
#define PKT_MAC_SRC 0x01u
#define PKT_MAC_DST 0x02u

/* pkt_record.l4_info bits. */
#define PKT_L4_TCP_HDR 0x01u /* the first 16 bytes of the TCP header (seq, ack, offset, flags,
                                window) were captured: tcp_seq, tcp_ack, tcp_win are meaningful */

/* Why a frame could not become a record. Index into per-reason counters. */
enum decode_result {
    DECODE_OK = 0,
    DECODE_TRUNCATED,       /* a header ends beyond the captured bytes */
    DECODE_BAD_HEADER,      /* a header field is impossible (IHL < 5, version mismatch, length too small) */
    DECODE_UNSUPPORTED_LINK,/* link type the decoder does not know */
    DECODE_NOT_IP,          /* ARP, LLDP, other EtherTypes: not a flow packet */
    DECODE_RESULT_COUNT
};

/*
 * Tunnels (issue 14). With DECODE_OPT_DECAP the decoder walks into GRE
 * (RFC 2784/2890, with Ethernet bridging 0x6558, ERSPAN II 0x88be and III
 * 0x22eb, PPTP's enhanced GRE), VXLAN (UDP 4789), Geneve (UDP 6081), GTP-U
 * (UDP 2152), IP-in-IP (protocol 4) and IPv6-in-IP (protocol 41), up to
 * DECODE_MAX_TUNNELS layers, and the record describes the innermost packet:
 * its addresses, ports and protocol, with the innermost tunnel's type, id
 * and outer addresses in the tun_* fields. What cannot be decapsulated (a
 * tunnel header or inner packet that is cut, malformed or not IP; a tunnel
 * in an IP fragment; a tunnel beyond the depth cap) leaves the record
 * describing the packet that carries the tunnel, as without the option, and
 * sets a DECODE_TUN_F_* flag saying why.
 */
#define DECODE_MAX_TUNNELS 3

#define DECODE_TUN_F_HAS_ID      0x01u /* tun_id is meaningful (a GRE key was present, ...) */
#define DECODE_TUN_F_CAPPED      0x02u /* a tunnel beyond DECODE_MAX_TUNNELS was left closed */
#define DECODE_TUN_F_UNDECODED   0x04u /* a tunnel's header or inner packet could not be used */
#define DECODE_TUN_F_FRAGMENT    0x08u /* a tunnel in an IP fragment was left closed */

/* decode_packet_opts options. */
#define DECODE_OPT_DECAP 0x01u     /* decapsulate tunnels (AGENT_DECAP) */

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
 * decode_packet with options (DECODE_OPT_*; 0 is decode_packet). Same
 * contract; with DECODE_OPT_DECAP tunnels are decapsulated as described at
 * DECODE_MAX_TUNNELS. Capture thread, per packet; no state, no allocation.
 */
enum decode_result decode_packet_opts(int dlt, const uint8_t *data, size_t caplen,
                                      uint32_t wire_len, uint64_t ts_us, unsigned opts,
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
 * decode_packet_opts, and also fill `span` (when not NULL) for TCP and UDP
 * packets. Same contract otherwise; capture thread. With DECODE_OPT_DECAP
 * and a tunnel opened, the span is the innermost packet's (the one the
 * record describes); a tunnel left closed keeps the outer packet's.
 */
enum decode_result decode_packet_span(int dlt, const uint8_t *data, size_t caplen,
                                      uint32_t wire_len, uint64_t ts_us, unsigned opts,
                                      struct pkt_record *out, struct decode_span *span);

/* Whether `dlt` is one of the link types above. */
int decode_dlt_supported(int dlt);

/*
 * The interface index a Linux cooked v2 header (DECODE_DLT_LINUX_SLL2, the
 * "any" device) carries: bytes 4..7, network order: the interface the packet
 * came in on (or, for an outgoing packet, went out of). Returns it, or 0 when
 * fewer than 8 bytes were captured (0 is no valid index). Cooked v1 headers
 * carry no index. Never reads outside data[0..caplen); no state. Capture
 * thread, per SLL2 frame.
 */
uint32_t decode_sll2_ifindex(const uint8_t *data, size_t caplen);

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
