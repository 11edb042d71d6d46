/*
 * decode.c — one captured frame in, one fixed-size pkt_record out.
 *
 * This file exists so that nothing downstream of the capture thread ever sees
 * raw packet bytes: the link header (Ethernet with VLAN tags, MPLS label stacks
 * and Ethernet pseudowires, PPPoE sessions, Linux cooked v1 and v2, BSD
 * NULL/LOOP, raw IP, PPP, Cisco HDLC, NFLOG), the network header (IPv4 with
 * options and AH, IPv6 with its extension-header chain) and the first bytes of the transport header
 * are parsed here, once, and reduced to the handful of fields a flow needs.
 *
 * Every read goes through a bounds-checked cursor (`struct cur`) that compares
 * the number of bytes still available before touching them, in the spirit of
 * tcpdump's GET_ macros but without longjmp: a field that is not there makes
 * the helper return false and the parser return DECODE_TRUNCATED. Packet bytes
 * are never cast to structs, packet-supplied lengths are checked before they
 * are used, and no pointer is ever formed past the end of the capture. The
 * decoder keeps no state, allocates nothing and logs nothing, so it is safe to
 * call from any thread for every packet.
 *
 * Choices the contract leaves open, made here:
 *  - PKT_F_L4_TRUNC means "a field the record takes from the transport header
 *    was not captured". Only TCP (ports present, flags byte missing) and ICMP
 *    with an identifier (type and code present, identifier missing) can
 *    produce it with DECODE_OK. Every other protocol either has all its record fields
 *    or the frame is DECODE_TRUNCATED, because a half-read 5-tuple would make a
 *    bogus flow.
 *  - frag_id is set only when PKT_F_FRAG_FIRST or PKT_F_FRAG_NONFIRST is set.
 *    An IPv6 atomic fragment (offset 0, M clear) is not a fragment. With
 *    nested IPv6 Fragment headers the outermost fragmenting one gives frag_id
 *    (RFC 8200 §4.5); an inner non-first fragment inside an outer first one
 *    makes the record non-first (no transport header follows), still under
 *    the outer identification.
 *  - An IPv4 total length of 0 (TSO, BIG TCP) is accepted; see decode_ipv4.
 *  - A TCP data offset below 5 (when that byte is captured) is DECODE_BAD_HEADER.
 *  - More than DECODE_MAX_VLAN_TAGS stacked VLAN tags, DECODE_MAX_MPLS_LABELS
 *    MPLS labels or DECODE_MAX_LINK_NEST link layers inside link layers
 *    (Ethernet pseudowires, PPPoE) is DECODE_NOT_IP (the decoder does not
 *    look for IP that deep); more than DECODE_MAX_IPV6_EXT IPv6 extension
 *    headers or DECODE_MAX_IPV4_AH IPv4 AH headers is DECODE_BAD_HEADER.
 *  - What follows an MPLS stack is guessed from its first nibble (see
 *    decode_mpls); a PPPoE frame that is not a session frame (version/type
 *    0x11, code 0) is DECODE_NOT_IP.
 *  - Tunnels (issue 14, DECODE_OPT_DECAP only): decode_l4 hands GRE, IP
 *    protocols 4 and 41 and UDP to ports 4789/6081/2152 to decode_tunnel,
 *    which opens at most DECODE_MAX_TUNNELS of them. Opening a tunnel never
 *    changes the decode result: when its header or the packet inside cannot
 *    be used, the record of the packet carrying it is restored and a
 *    DECODE_TUN_F_* flag set, so the packet still counts (on the outer flow).
 *    The fast path leaves UDP to those ports to the general parser.
 */
#include "capture/decode.h"

#include <stdbool.h>
#include <string.h>

#define DECODE_MAX_VLAN_TAGS 4   /* stacked 802.1Q/802.1ad tags we walk through */
#define DECODE_MAX_IPV6_EXT  16  /* IPv6 extension headers we walk through */

#define ETHERTYPE_IPV4   0x0800u
#define ETHERTYPE_IPV6   0x86ddu
#define ETHERTYPE_8021Q  0x8100u
#define ETHERTYPE_8021AD 0x88a8u
#define ETHERTYPE_QINQ   0x9100u /* pre-standard QinQ outer tag */
#define ETHERTYPE_ARP    0x0806u
#define ETHERTYPE_MPLS   0x8847u /* MPLS unicast (RFC 3032) */
#define ETHERTYPE_MPLS_MC 0x8848u/* MPLS multicast (RFC 5332) */
#define ETHERTYPE_PPPOE_SESSION 0x8864u /* RFC 2516 session stage */

#define PPP_IPV4         0x0021u /* RFC 1332 */
#define PPP_IPV6         0x0057u /* RFC 5072 */
#define PPP_MPLS         0x0281u /* RFC 3032 §4.3 */
#define PPP_MPLS_MC      0x0283u

#define DECODE_MAX_MPLS_LABELS 8 /* labels of one stack we walk through */
#define DECODE_MAX_LINK_NEST   4 /* link layers inside link layers (MPLS pseudowire, PPPoE) */
#define DECODE_MAX_IPV4_AH     4 /* stacked IPv4 AH headers we skip */

/* Linux NFLOG (tcpdump.org LINKTYPE_NFLOG): TLV types and address families. */
#define NFULA_PAYLOAD    9u
#define NFLOG_AF_INET    2u
#define NFLOG_AF_INET6   10u

/* BSD address-family values that can appear in a DLT_NULL/DLT_LOOP header. */
#define BSD_AF_INET          2u
#define BSD_AF_INET6_BSD     24u /* NetBSD, OpenBSD, BSD/OS */
#define BSD_AF_INET6_FREEBSD 28u /* FreeBSD, DragonFly */
#define BSD_AF_INET6_DARWIN  30u /* macOS, iOS */

#define IPPROTO_NUM_HOPOPTS  0u
#define IPPROTO_NUM_ICMP     1u
#define IPPROTO_NUM_TCP      6u
#define IPPROTO_NUM_UDP      17u
#define IPPROTO_NUM_ROUTING  43u
#define IPPROTO_NUM_FRAGMENT 44u
#define IPPROTO_NUM_AH       51u
#define IPPROTO_NUM_ICMPV6   58u
#define IPPROTO_NUM_DSTOPTS  60u
#define IPPROTO_NUM_SCTP     132u
#define IPPROTO_NUM_IPIP     4u   /* IPv4 in IP (RFC 2003) */
#define IPPROTO_NUM_IPV6     41u  /* IPv6 in IP (RFC 4213 §3.5, RFC 2473) */
#define IPPROTO_NUM_GRE      47u  /* RFC 2784 */

/* UDP destination ports of the tunnels decoded with DECODE_OPT_DECAP. */
#define UDP_PORT_VXLAN  4789u     /* RFC 7348 §5 */
#define UDP_PORT_GENEVE 6081u     /* RFC 8926 §3.3 */
#define UDP_PORT_GTPU   2152u     /* 3GPP TS 29.281 §4.4.2 */

#define SLL_HDR_LEN  16u
#define SLL_PROTO_AT 14u
#define SLL2_HDR_LEN 20u
_Static_assert(SLL_PROTO_AT + 2u == SLL_HDR_LEN, "SLL protocol field ends the header");

/* ---- bounds-checked cursor ------------------------------------------------ */

/* A read position and the number of captured bytes left after it; `opts`
 * carries decode_packet_opts' DECODE_OPT_* down to the transport dispatch. */
struct cur {
    const uint8_t *p;
    size_t left;
    unsigned opts;
    const uint8_t *l3;     /* the (innermost) IP header, set by decode_ipv4/6 */
    const uint8_t *pay;    /* TCP/UDP payload, set when the L4 header was captured whole */
    size_t pay_len;        /* captured payload bytes (within the IP length) */
};

static inline bool cur_skip(struct cur *c, size_t n)
{
    if (c->left < n)
        return false;
    if (n != 0) {
        c->p += n;
        c->left -= n;
    }
    return true;
}

static inline bool cur_peek_u8(const struct cur *c, uint8_t *v)
{
    if (c->left < 1)
        return false;
    *v = c->p[0];
    return true;
}

static inline bool cur_u8(struct cur *c, uint8_t *v)
{
    if (!cur_peek_u8(c, v))
        return false;
    return cur_skip(c, 1);
}

static inline bool cur_be16(struct cur *c, uint16_t *v)
{
    if (c->left < 2)
        return false;
    *v = (uint16_t)((unsigned)c->p[0] << 8 | (unsigned)c->p[1]);
    return cur_skip(c, 2);
}

static inline bool cur_be32(struct cur *c, uint32_t *v)
{
    if (c->left < 4)
        return false;
    *v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 |
         (uint32_t)c->p[2] << 8 | (uint32_t)c->p[3];
    return cur_skip(c, 4);
}

/* Copy n bytes out of the packet into dst. */
static inline bool cur_copy(struct cur *c, uint8_t *dst, size_t n)
{
    if (c->left < n)
        return false;
    memcpy(dst, c->p, n);
    return cur_skip(c, n);
}

/* Forget captured bytes beyond `n`: trailing link padding is not payload. */
static inline void cur_limit(struct cur *c, size_t n)
{
    if (c->left > n)
        c->left = n;
}

static inline uint16_t be16_at(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | (unsigned)p[1]);
}

static uint32_t bswap32(uint32_t v)
{
    return (v >> 24) | ((v >> 8) & 0xff00u) | ((v << 8) & 0xff0000u) | (v << 24);
}

/* ---- link and IP header facts (issue 14 item 8) ---------------------------- */

/* Ethernet dst(6) src(6) at d; the caller checked 12 bytes are captured. */
static inline void note_eth_macs(struct pkt_record *out, const uint8_t *d)
{
    memcpy(out->dst_mac, d, 6);
    memcpy(out->src_mac, d + 6, 6);
    out->mac_flags = PKT_MAC_SRC | PKT_MAC_DST;
}

/* A Linux cooked header's link-layer address: the sender's MAC when it is 6 bytes. */
static inline void note_cooked_mac(struct pkt_record *out, uint16_t halen, const uint8_t *addr)
{
    if (halen == 6) {
        memcpy(out->src_mac, addr, 6);
        out->mac_flags = PKT_MAC_SRC;
    }
}

/* IPv4 (RFC 791 §3.1): TOS (1) whose upper six bits are the DSCP (RFC 2474 §3), TTL (8).
 * The caller checked 20 bytes are captured. */
static inline void note_ipv4_hdr(struct pkt_record *out, const uint8_t *ip)
{
    out->dscp = (uint8_t)(ip[1] >> 2);
    out->ttl = ip[8];
}

/* IPv6 (RFC 8200 §3): traffic class across bytes 0-1 (DSCP its upper six bits), hop limit (7).
 * The caller checked 8 bytes are captured. */
static inline void note_ipv6_hdr(struct pkt_record *out, const uint8_t *ip)
{
    out->dscp = (uint8_t)(((ip[0] & 0x0fu) << 2) | (ip[1] >> 6));
    out->ttl = ip[7];
}

/* ---- transport ------------------------------------------------------------ */

/* Bytes after a TCP header of data offset `off` (high nibble, 4-byte words)
 * in `l4bytes` bytes of IP payload; 0 when the header claims more. */
static uint32_t tcp_payload(uint32_t l4bytes, uint8_t off)
{
    uint32_t hdr = (uint32_t)(off >> 4) * 4u;
    return l4bytes > hdr ? l4bytes - hdr : 0;
}

/* Bytes after an 8-byte UDP header in `l4bytes` bytes of IP payload. */
static uint32_t udp_payload(uint32_t l4bytes)
{
    return l4bytes > 8u ? l4bytes - 8u : 0;
}

/* The two 16-bit ports that open TCP, UDP and SCTP headers. */
static enum decode_result decode_ports(struct cur *c, struct pkt_record *out)
{
    uint16_t sport, dport;

    if (!cur_be16(c, &sport) || !cur_be16(c, &dport))
        return DECODE_TRUNCATED;
    out->sport = sport;
    out->dport = dport;
    out->flags |= PKT_F_HAS_PORTS;
    return DECODE_OK;
}

/*
 * TCP, RFC 9293 §3.1: ports (0..3), sequence (4..7), acknowledgment (8..11),
 * data offset (high nibble of 12), flags (13). Only the first 14 bytes matter
 * to the record; options need not be captured. Ports without flags is still a
 * usable record (PKT_F_L4_TRUNC); no ports is DECODE_TRUNCATED.
 */
static enum decode_result decode_tcp(struct cur *c, struct pkt_record *out)
{
    uint8_t off, flags;
    uint32_t seq = 0, ack = 0;
    uint16_t win;
    enum decode_result r = decode_ports(c, out);

    if (r != DECODE_OK)
        return r;
    if (!cur_be32(c, &seq) || !cur_be32(c, &ack) || !cur_u8(c, &off)) {
        out->flags |= PKT_F_L4_TRUNC;
        return DECODE_OK;
    }
    if ((off >> 4) < 5)
        return DECODE_BAD_HEADER;
    /* payload_len held the bytes after the IP headers (set by the IP parser) */
    out->payload_len = tcp_payload(out->payload_len, off);
    if (!cur_u8(c, &flags)) {
        out->flags |= PKT_F_L4_TRUNC;
        return DECODE_OK;
    }
    out->tcp_flags = flags;
    if (cur_be16(c, &win)) {       /* window (14..15): seq, ack and window are all there */
        out->tcp_seq = seq;
        out->tcp_ack = ack;
        out->tcp_win = win;
        out->l4_info |= PKT_L4_TCP_HDR;
        if (cur_skip(c, (size_t)(off >> 4) * 4u - 16u)) {   /* options: the payload follows */
            c->pay = c->p;
            c->pay_len = c->left;
        }
    }
    return DECODE_OK;
}

/* ICMP types whose message carries a 16-bit identifier at bytes 4..5: echo,
 * timestamp, information, address mask (RFC 792, RFC 950), ICMPv6 echo
 * (RFC 4443 §4.1-4.2). */
static bool icmp_has_identifier(uint8_t proto, uint8_t type)
{
    if (proto == IPPROTO_NUM_ICMP)
        return type == 0 || type == 8 || (type >= 13 && type <= 18);
    return type == 128 || type == 129;
}

/*
 * ICMP, RFC 792 (and ICMPv6, RFC 4443 §2.1): type (0) and code (1) open the
 * message; they stand in for ports in the flow key, so both are required.
 * For the types with an identifier (after the checksum, bytes 4..5) the
 * identifier goes to `sport` (PKT_F_HAS_PORTS stays clear); when it was not
 * captured the record has PKT_F_L4_TRUNC and sport 0.
 */
static enum decode_result decode_icmp(struct cur *c, uint8_t proto, struct pkt_record *out)
{
    uint8_t type, code;
    uint16_t ident;

    if (!cur_u8(c, &type) || !cur_u8(c, &code))
        return DECODE_TRUNCATED;
    out->icmp_type = type;
    out->icmp_code = code;
    if (icmp_has_identifier(proto, type)) {
        if (!cur_skip(c, 2) || !cur_be16(c, &ident)) {
            out->flags |= PKT_F_L4_TRUNC;
            return DECODE_OK;
        }
        out->sport = ident;
    }
    return DECODE_OK;
}

static bool is_tunnel_udp_port(uint16_t dport)
{
    return dport == UDP_PORT_VXLAN || dport == UDP_PORT_GENEVE || dport == UDP_PORT_GTPU;
}

static enum decode_result decode_tunnel(struct cur *c, uint8_t proto, struct pkt_record *out);

/*
 * Transport dispatch. UDP (RFC 768) and SCTP (RFC 9260 §3.1) contribute only
 * their ports (first 4 bytes of the 8- and 12-byte common headers). Any other
 * protocol (GRE, ESP, OSPF, No Next Header, ...) is a port-less flow. With
 * DECODE_OPT_DECAP, GRE, IP-in-IP and UDP to a tunnel port go on to
 * decode_tunnel (which keeps this record when the tunnel cannot be opened).
 */
static enum decode_result decode_l4(struct cur *c, uint8_t proto, struct pkt_record *out)
{
    enum decode_result r;

    out->proto = proto;
    switch (proto) {
    case IPPROTO_NUM_TCP:
        return decode_tcp(c, out);
    case IPPROTO_NUM_UDP:
        out->payload_len = udp_payload(out->payload_len);
        r = decode_ports(c, out);
        if (r == DECODE_OK && c->left >= 4u) {           /* length, checksum: the payload follows */
            c->pay = c->p + 4;
            c->pay_len = c->left - 4u;
        }
        /* a tunnel that opens replaces the span by the inner packet's (decode_ipv4/6
         * reset it); one that does not restores this one (decode_tunnel) */
        if (r == DECODE_OK && (c->opts & DECODE_OPT_DECAP) && is_tunnel_udp_port(out->dport))
            return decode_tunnel(c, proto, out);
        return r;
    case IPPROTO_NUM_GRE:
    case IPPROTO_NUM_IPIP:
    case IPPROTO_NUM_IPV6:
        if (c->opts & DECODE_OPT_DECAP)
            return decode_tunnel(c, proto, out);
        return DECODE_OK;
    case IPPROTO_NUM_SCTP:
        return decode_ports(c, out);
    case IPPROTO_NUM_ICMP:
    case IPPROTO_NUM_ICMPV6:
        return decode_icmp(c, proto, out);
    default:
        return DECODE_OK;
    }
}

/* ---- network -------------------------------------------------------------- */

/* payload_len bookkeeping: the IP payload less one extension header. */
static uint32_t ip_payload_less(uint32_t payload, size_t hdr)
{
    return payload > hdr ? payload - (uint32_t)hdr : 0;
}

/*
 * IPv4, RFC 791 §3.1. Header: version/IHL, TOS, total length, identification,
 * flags/fragment offset, TTL, protocol, checksum, source, destination, options
 * (IHL*4 - 20 bytes). Captured bytes beyond the total length (Ethernet padding)
 * are dropped; a total length beyond the capture (snap length) is not an error.
 * A total length of 0 is what a capture of a TSO super-segment or of Linux
 * IPv4 BIG TCP (packets over 64 KiB) carries: like the IPv6 jumbogram it means
 * "length not in the header", so the captured bytes are used as they are
 * (tcpdump's GUESS_TSO and Zeek do the same). 1..IHL*4-1 is impossible.
 * A non-first fragment has no transport header; the first one (offset 0, MF)
 * carries it and both are tagged with the identification. AH is skipped to
 * the protocol it protects (the record's proto), as for IPv6.
 */
static enum decode_result decode_ipv4(struct cur *c, struct pkt_record *out)
{
    uint8_t vihl, proto;
    uint16_t total_len, id, frag;
    size_t hlen;

    if (!cur_peek_u8(c, &vihl))
        return DECODE_TRUNCATED;
    if ((vihl >> 4) != 4)
        return DECODE_BAD_HEADER;
    c->l3 = c->p;
    c->pay = NULL;
    hlen = (size_t)(vihl & 0x0fu) * 4u;
    if (hlen < 20)
        return DECODE_BAD_HEADER;
    if (hlen > c->left)
        return DECODE_TRUNCATED;
    note_ipv4_hdr(out, c->p);

    if (!cur_skip(c, 2) || !cur_be16(c, &total_len) || !cur_be16(c, &id) ||
        !cur_be16(c, &frag) || !cur_skip(c, 1) || !cur_u8(c, &proto) ||
        !cur_skip(c, 2) || !cur_copy(c, out->src, 4) || !cur_copy(c, out->dst, 4) ||
        !cur_skip(c, hlen - 20))
        return DECODE_TRUNCATED; /* unreachable: hlen <= left was checked */
    if (total_len != 0) {
        if (total_len < hlen)
            return DECODE_BAD_HEADER;
        cur_limit(c, (size_t)total_len - hlen);
        out->ip_len = total_len;
        out->payload_len = (uint32_t)(total_len - hlen);
    } else {                       /* length not in the header: what was captured */
        out->ip_len = (uint32_t)(c->left + hlen);
        out->payload_len = (uint32_t)c->left;
    }

    out->ip_version = 4;
    out->proto = proto;
    if ((frag & 0x1fffu) != 0) {
        out->flags |= PKT_F_FRAG_NONFIRST;
        out->frag_id = id;
        return DECODE_OK;
    }
    if ((frag & 0x2000u) != 0) {
        out->flags |= PKT_F_FRAG_FIRST;
        out->frag_id = id;
    }
    /* AH (RFC 4302 §2.2): next header, length in 4-byte units minus 2; the
     * transport header follows it, as in IPv6 (same skip as decode_ipv6). */
    for (unsigned n = 0; proto == IPPROTO_NUM_AH; n++) {
        uint8_t next, len;
        if (n == DECODE_MAX_IPV4_AH)
            return DECODE_BAD_HEADER;
        if (!cur_u8(c, &next) || !cur_u8(c, &len) || !cur_skip(c, ((size_t)len + 2u) * 4u - 2u))
            return DECODE_TRUNCATED;
        out->payload_len = ip_payload_less(out->payload_len, ((size_t)len + 2u) * 4u);
        proto = next;
    }
    return decode_l4(c, proto, out);
}

/*
 * IPv6, RFC 8200 §3 (fixed header) and §4 (extension headers). The fixed
 * header is 40 bytes: version/class/flow label, payload length, next header,
 * hop limit, source, destination. Bytes beyond the payload length are dropped;
 * payload length 0 (a jumbogram, RFC 2675) leaves the capture as it is.
 *
 * The chain walk understands Hop-by-Hop (0), Routing (43) and Destination
 * Options (60), whose length is (n+1)*8 (§4.3-4.6), Fragment (44, 8 bytes,
 * §4.5) and AH (51, length (n+2)*4, RFC 4302 §2.2). Anything else ends the
 * walk and is the transport protocol: ESP (50) and No Next Header (59) are
 * port-less flows, as is Mobility (135).
 */
static enum decode_result decode_ipv6(struct cur *c, struct pkt_record *out)
{
    uint8_t v, nh;
    uint16_t payload_len;

    if (!cur_peek_u8(c, &v))
        return DECODE_TRUNCATED;
    if ((v >> 4) != 6)
        return DECODE_BAD_HEADER;
    if (c->left >= 8)
        note_ipv6_hdr(out, c->p);
    c->l3 = c->p;
    c->pay = NULL;
    if (!cur_skip(c, 4) || !cur_be16(c, &payload_len) || !cur_u8(c, &nh) ||
        !cur_skip(c, 1) || !cur_copy(c, out->src, 16) || !cur_copy(c, out->dst, 16))
        return DECODE_TRUNCATED;
    if (payload_len != 0)
        cur_limit(c, payload_len);
    out->payload_len = payload_len != 0 ? payload_len : (uint32_t)c->left;
    out->ip_len = out->payload_len + 40u;
    out->ip_version = 6;

    for (unsigned n = 0;; n++) {
        uint8_t next, len;
        uint16_t offm;
        uint32_t id;

        if (nh != IPPROTO_NUM_HOPOPTS && nh != IPPROTO_NUM_ROUTING &&
            nh != IPPROTO_NUM_DSTOPTS && nh != IPPROTO_NUM_FRAGMENT &&
            nh != IPPROTO_NUM_AH)
            break;
        if (n == DECODE_MAX_IPV6_EXT)
            return DECODE_BAD_HEADER;

        if (nh == IPPROTO_NUM_FRAGMENT) {
            /* next header, reserved, offset(13)/res(2)/M(1), identification */
            if (!cur_u8(c, &next) || !cur_skip(c, 1) || !cur_be16(c, &offm) ||
                !cur_be32(c, &id))
                return DECODE_TRUNCATED;
            out->payload_len = ip_payload_less(out->payload_len, 8);
            /* RFC 8200 §4.5: a Fragment header inside the fragmentable part
             * of another belongs to the datagram that one reassembles into;
             * the outermost fragmenting header names the packet's datagram. */
            if ((out->flags & PKT_F_FRAG_FIRST) != 0)
                id = out->frag_id;
            if ((offm >> 3) != 0) {
                out->proto = next;
                out->flags = (uint8_t)((out->flags & ~PKT_F_FRAG_FIRST) | PKT_F_FRAG_NONFIRST);
                out->frag_id = id;
                return DECODE_OK;
            }
            if ((offm & 0x1u) != 0) {
                out->flags |= PKT_F_FRAG_FIRST;
                out->frag_id = id;
            }
        } else {
            /* next header, length; the 2 bytes just read count in the length */
            size_t total;
            if (!cur_u8(c, &next) || !cur_u8(c, &len))
                return DECODE_TRUNCATED;
            total = nh == IPPROTO_NUM_AH ? ((size_t)len + 2u) * 4u
                                         : ((size_t)len + 1u) * 8u;
            if (!cur_skip(c, total - 2u))
                return DECODE_TRUNCATED;
            out->payload_len = ip_payload_less(out->payload_len, total);
        }
        nh = next;
    }
    return decode_l4(c, nh, out);
}

/* Dispatch on the IP version nibble (raw IP link types). */
static enum decode_result decode_ip_any(struct cur *c, struct pkt_record *out)
{
    uint8_t v;

    if (!cur_peek_u8(c, &v))
        return DECODE_TRUNCATED;
    switch (v >> 4) {
    case 4:
        return decode_ipv4(c, out);
    case 6:
        return decode_ipv6(c, out);
    default:
        return DECODE_BAD_HEADER;
    }
}

/* ---- link ----------------------------------------------------------------- */

static bool is_vlan_tpid(uint16_t type)
{
    return type == ETHERTYPE_8021Q || type == ETHERTYPE_8021AD || type == ETHERTYPE_QINQ;
}

static enum decode_result decode_ethertype(struct cur *c, uint16_t type,
                                           struct pkt_record *out, unsigned depth);

/* EtherTypes a pseudowire's Ethernet frame is believed to carry (see decode_mpls). */
static bool is_pw_ethertype(uint16_t type)
{
    return type == ETHERTYPE_IPV4 || type == ETHERTYPE_IPV6 || is_vlan_tpid(type) ||
           type == ETHERTYPE_ARP || type == ETHERTYPE_MPLS || type == ETHERTYPE_MPLS_MC ||
           type == ETHERTYPE_PPPOE_SESSION;
}

/* Ethernet II (IEEE 802.3 §3.2.6 / RFC 894): dst(6), src(6), EtherType(2). */
static enum decode_result decode_ether(struct cur *c, struct pkt_record *out, unsigned depth)
{
    uint16_t type;

    if (c->left >= 12)
        note_eth_macs(out, c->p);
    if (!cur_skip(c, 12) || !cur_be16(c, &type))
        return DECODE_TRUNCATED;
    return decode_ethertype(c, type, out, depth);
}

/*
 * MPLS label stack (RFC 3032 §2.1): 4-byte entries, label(20) TC(3) S(1)
 * TTL(8); S marks the bottom. The stack does not say what follows, so the
 * first nibble after it decides (as routers doing ECMP and Wireshark do):
 *  - 4: IPv4, 6: IPv6;
 *  - 0: a pseudowire control word (RFC 4385: first nibble 0) and an Ethernet
 *    frame (RFC 4448), when the EtherType 4 + 12 bytes on is one an Ethernet
 *    pseudowire carries (IPv4, IPv6, VLAN tags, ARP, MPLS, PPPoE session);
 *    else an Ethernet frame without control word whose destination MAC starts
 *    with a 0 nibble, when the EtherType 12 bytes on is one of those. When
 *    both places hold such a type and the one 12 bytes on is a VLAN tag, the
 *    frame is a tagged one without control word (whose inner EtherType sits
 *    16 bytes on); a control word followed by a source MAC whose 3rd and 4th
 *    bytes spell 0x8100 is far less likely;
 *  - any other nibble: an Ethernet frame without control word (RFC 4928 asks
 *    that such PWs avoid MACs starting with 4 or 6), when its EtherType is one
 *    of those; 1 (RFC 4385 associated channel: BFD, OAM) and the rest: not IP.
 * The heuristic needs 18 bytes after a 0 nibble before it decides; fewer is
 * DECODE_TRUNCATED (an IP packet behind them would not fit either).
 */
static enum decode_result decode_mpls(struct cur *c, struct pkt_record *out, unsigned depth)
{
    uint8_t b2 = 0, nib;

    for (unsigned n = 0; (b2 & 0x01u) == 0; n++) {
        if (n == DECODE_MAX_MPLS_LABELS)
            return DECODE_NOT_IP;
        if (c->left < 4)
            return DECODE_TRUNCATED;
        b2 = c->p[2];
        (void)cur_skip(c, 4);
    }
    if (!cur_peek_u8(c, &nib))
        return DECODE_TRUNCATED;
    switch (nib >> 4) {
    case 4:
        return decode_ipv4(c, out);
    case 6:
        return decode_ipv6(c, out);
    case 0: {
        if (c->left < 4u + 14u)
            return DECODE_TRUNCATED;
        uint16_t at12 = be16_at(c->p + 12), at16 = be16_at(c->p + 4 + 12);
        if (is_pw_ethertype(at16) && !is_vlan_tpid(at12)) {
            (void)cur_skip(c, 4);                     /* control word */
            return decode_ether(c, out, depth + 1);
        }
        break;
    }
    case 1:
        return DECODE_NOT_IP;
    default:
        if (c->left < 14u)
            return DECODE_TRUNCATED;
        break;
    }
    if (is_pw_ethertype(be16_at(c->p + 12)))
        return decode_ether(c, out, depth + 1);
    return DECODE_NOT_IP;
}

/*
 * A PPP protocol field (RFC 1661 §2), possibly compressed to one byte (PFC:
 * a protocol number's low byte is odd, its high byte even), and what it
 * carries: IPv4 (0x0021), IPv6 (0x0057), MPLS (0x0281, 0x0283). LCP, IPCP
 * and the other control protocols are not IP.
 */
static enum decode_result decode_ppp_proto(struct cur *c, struct pkt_record *out, unsigned depth)
{
    uint8_t b;
    uint16_t proto;

    if (!cur_peek_u8(c, &b))
        return DECODE_TRUNCATED;
    if (b & 0x01u) {
        proto = b;
        (void)cur_skip(c, 1);
    } else if (!cur_be16(c, &proto)) {
        return DECODE_TRUNCATED;
    }
    switch (proto) {
    case PPP_IPV4:
        return decode_ipv4(c, out);
    case PPP_IPV6:
        return decode_ipv6(c, out);
    case PPP_MPLS:
    case PPP_MPLS_MC:
        return decode_mpls(c, out, depth);
    default:
        return DECODE_NOT_IP;
    }
}

/*
 * PPPoE session stage (RFC 2516 §4): version/type (0x11), code (0x00 in a
 * session), session id, length of the PPP payload; then the PPP protocol.
 * Bytes beyond the length (Ethernet padding) are dropped.
 */
static enum decode_result decode_pppoe(struct cur *c, struct pkt_record *out, unsigned depth)
{
    uint8_t vt, code;
    uint16_t sid, len;

    if (!cur_u8(c, &vt) || !cur_u8(c, &code) || !cur_be16(c, &sid) || !cur_be16(c, &len))
        return DECODE_TRUNCATED;
    if (vt != 0x11u || code != 0)
        return DECODE_NOT_IP;
    cur_limit(c, len);
    return decode_ppp_proto(c, out, depth);
}

/*
 * Everything after an EtherType: up to DECODE_MAX_VLAN_TAGS stacked tags
 * (IEEE 802.1Q: 2-byte TCI whose low 12 bits are the VID, then the next
 * EtherType), then IPv4, IPv6, an MPLS stack or a PPPoE session. The first
 * tag seen is the record's VLAN (an Ethernet pseudowire's inner tag counts
 * only when the outer frame had none). `depth` counts link layers nested in
 * link layers; beyond DECODE_MAX_LINK_NEST the frame is not IP.
 */
static enum decode_result decode_ethertype(struct cur *c, uint16_t type,
                                           struct pkt_record *out, unsigned depth)
{
    if (depth > DECODE_MAX_LINK_NEST)
        return DECODE_NOT_IP;
    for (unsigned tags = 0; is_vlan_tpid(type); tags++) {
        uint16_t tci;

        if (tags == DECODE_MAX_VLAN_TAGS)
            return DECODE_NOT_IP;
        if (!cur_be16(c, &tci) || !cur_be16(c, &type))
            return DECODE_TRUNCATED;
        if (tags == 0 && out->vlan_id == 0)
            out->vlan_id = (uint16_t)(tci & 0x0fffu);
    }
    switch (type) {
    case ETHERTYPE_IPV4:
        return decode_ipv4(c, out);
    case ETHERTYPE_IPV6:
        return decode_ipv6(c, out);
    case ETHERTYPE_MPLS:
    case ETHERTYPE_MPLS_MC:
        return decode_mpls(c, out, depth);
    case ETHERTYPE_PPPOE_SESSION:
        return decode_pppoe(c, out, depth);
    default:
        return DECODE_NOT_IP; /* ARP, LLDP, 802.3 length fields, PPPoE discovery, ... */
    }
}

/*
 * Linux cooked capture v1 (tcpdump.org LINKTYPE_LINUX_SLL): packet type(2),
 * ARPHRD type(2), address length(2), address(8), protocol(2) = 16 bytes.
 */
static enum decode_result decode_sll(struct cur *c, struct pkt_record *out)
{
    uint16_t proto;

    if (c->left >= SLL_HDR_LEN)
        note_cooked_mac(out, be16_at(c->p + 4), c->p + 6);
    if (!cur_skip(c, SLL_PROTO_AT) || !cur_be16(c, &proto))
        return DECODE_TRUNCATED;
    return decode_ethertype(c, proto, out, 0);
}

/*
 * Linux cooked capture v2 (tcpdump.org LINKTYPE_LINUX_SLL2): protocol(2),
 * reserved(2), interface index(4), ARPHRD type(2), packet type(1), address
 * length(1), address(8) = 20 bytes.
 */
static enum decode_result decode_sll2(struct cur *c, struct pkt_record *out)
{
    uint16_t proto;

    if (c->left >= SLL2_HDR_LEN)
        note_cooked_mac(out, c->p[11], c->p + 12);
    if (!cur_be16(c, &proto) || !cur_skip(c, SLL2_HDR_LEN - 2u))
        return DECODE_TRUNCATED;
    return decode_ethertype(c, proto, out, 0);
}

static bool is_bsd_af_inet6(uint32_t af)
{
    return af == BSD_AF_INET6_BSD || af == BSD_AF_INET6_FREEBSD || af == BSD_AF_INET6_DARWIN;
}

/*
 * BSD loopback (tcpdump.org LINKTYPE_NULL / LINKTYPE_LOOP): a 4-byte address
 * family, then the IP packet. DLT_NULL stores it in the capturing host's byte
 * order, which a file does not record, so both orders are accepted (no valid
 * family reads as another valid family when swapped). DLT_LOOP is network order.
 */
static enum decode_result decode_bsd_loop(struct cur *c, bool any_order,
                                          struct pkt_record *out)
{
    uint32_t af, swapped;

    if (!cur_be32(c, &af))
        return DECODE_TRUNCATED;
    swapped = any_order ? bswap32(af) : af;
    if (af == BSD_AF_INET || swapped == BSD_AF_INET)
        return decode_ipv4(c, out);
    if (is_bsd_af_inet6(af) || is_bsd_af_inet6(swapped))
        return decode_ipv6(c, out);
    return DECODE_NOT_IP;
}

/*
 * PPP link types (tcpdump.org LINKTYPE_PPP, LINKTYPE_PPP_HDLC). DLT_PPP is
 * the PPP protocol field, preceded by the RFC 1662 address/control bytes
 * ff 03 when the capture kept them. DLT_PPP_SERIAL is HDLC-like framing:
 * ff 03 then the protocol, or Cisco PPP with HDLC framing (RFC 1547
 * §4.3.1), whose first byte is 0x0f or 0x8f: that one is Cisco HDLC. Some
 * DLT_PPP captures (BSD/OS, routers' exports) hold Cisco HDLC frames too;
 * a first byte 0x0f or 0x8f is no PPP protocol field (0x0fxx, 0x8fxx and
 * the compressed 0x0f, 0x8f are unassigned), so both link types take it
 * as Cisco HDLC, as Wireshark does.
 */
static enum decode_result decode_c_hdlc(struct cur *c, struct pkt_record *out);

static enum decode_result decode_ppp(struct cur *c, bool serial, struct pkt_record *out)
{
    uint8_t a;

    if (!cur_peek_u8(c, &a))
        return DECODE_TRUNCATED;
    if (a == 0x0fu || a == 0x8fu)
        return decode_c_hdlc(c, out);
    if (a == 0xffu) {
        if (c->left < 2)
            return DECODE_TRUNCATED;
        if (c->p[1] != 0x03u)
            return DECODE_NOT_IP;
        (void)cur_skip(c, 2);
    } else if (serial) {
        return DECODE_NOT_IP;
    }
    return decode_ppp_proto(c, out, 0);
}

/*
 * Cisco HDLC (tcpdump.org LINKTYPE_C_HDLC): address (0x0f unicast, 0x8f
 * broadcast), control (0x00), then an EtherType: IPv4, IPv6, MPLS, ...
 * (SLARP, CDP and the rest are not IP).
 */
static enum decode_result decode_c_hdlc(struct cur *c, struct pkt_record *out)
{
    uint16_t type;

    if (!cur_skip(c, 2) || !cur_be16(c, &type))
        return DECODE_TRUNCATED;
    return decode_ethertype(c, type, out, 0);
}

/*
 * Linux NFLOG (tcpdump.org LINKTYPE_NFLOG): family(1), version(1), resource
 * id(2, network order), then TLVs: length(2) and type(2) in the capturing
 * host's byte order (libpcap converts a file written on a host of the other
 * order, so they are in this host's order here), value, padding to a multiple
 * of 4. The length counts the 4 header bytes. The packet is the value of the
 * NFULA_PAYLOAD TLV; its IP version comes from the family (AF_INET, AF_INET6)
 * or, for any other family, from its first nibble. No payload TLV: not IP
 * (truncated when the snap length cut the frame, `cut`).
 */
static enum decode_result decode_nflog(struct cur *c, bool cut, struct pkt_record *out)
{
    uint8_t family;

    if (!cur_u8(c, &family) || !cur_skip(c, 3))
        return DECODE_TRUNCATED;
    while (c->left > 0) {
        uint16_t len, type;
        size_t padded;

        if (c->left < 4)
            return DECODE_TRUNCATED;
        memcpy(&len, c->p, 2);
        memcpy(&type, c->p + 2, 2);
        if (len < 4)
            return DECODE_BAD_HEADER;
        if (type == NFULA_PAYLOAD) {
            (void)cur_skip(c, 4);
            cur_limit(c, (size_t)len - 4u);
            if (family == NFLOG_AF_INET)
                return decode_ipv4(c, out);
            if (family == NFLOG_AF_INET6)
                return decode_ipv6(c, out);
            return decode_ip_any(c, out);
        }
        if (len > c->left)               /* a TLV before the payload was cut */
            return DECODE_TRUNCATED;
        padded = ((size_t)len + 3u) & ~(size_t)3u;
        (void)cur_skip(c, padded < c->left ? padded : c->left);
    }
    return cut ? DECODE_TRUNCATED : DECODE_NOT_IP;
}

/* ---- tunnels (issue 14) ----------------------------------------------------- */

#define GRE_PROTO_TEB      0x6558u /* transparent Ethernet bridging (RFC 1701) */
#define GRE_PROTO_ERSPAN2  0x88beu /* ERSPAN type I (no sequence number) and II */
#define GRE_PROTO_ERSPAN3  0x22ebu /* ERSPAN type III */
#define GRE_PROTO_PPP      0x880bu /* PPP, in PPTP's enhanced GRE (RFC 2637 §4.1) */
#define GRE_PROTO_CMD      0x8909u /* Cisco MetaData (SGT): an EtherType, then 6 bytes */
#define GRE_PROTO_WCCP     0x883eu /* WCCP redirection: optional 4-byte header, then IPv4 */
#define GRE_MAX_SRE        8u      /* RFC 1701 source route entries walked through */
#define GTPU_G_PDU         255u    /* GTP-U message type carrying a user packet */
#define GTPU_MAX_EXT       8u      /* GTP-U extension headers walked through */

/*
 * Turn the record of the packet that carries a tunnel into the start of the
 * record of the packet inside: the carrier's addresses become the tunnel's
 * outer addresses, the fields the inner headers fill are cleared (time,
 * wire length, VLAN and every field a decoder does not set stay).
 */
static void tunnel_open(struct pkt_record *out, enum tunnel_type type, uint32_t id, bool has_id)
{
    memcpy(out->tun_outer_src, out->src, 16);
    memcpy(out->tun_outer_dst, out->dst, 16);
    out->tun_outer_ipver = out->ip_version;
    out->tun_type = (uint8_t)type;
    out->tun_id = has_id ? id : 0;
    out->tun_flags = (uint8_t)((out->tun_flags & ~DECODE_TUN_F_HAS_ID) |
                               (has_id ? DECODE_TUN_F_HAS_ID : 0u));
    out->tun_depth++;
    memset(out->src, 0, sizeof out->src);
    memset(out->dst, 0, sizeof out->dst);
    out->frag_id = 0;
    out->sport = out->dport = 0;
    out->ip_version = out->proto = out->tcp_flags = 0;
    out->icmp_type = out->icmp_code = 0;
    out->flags = 0;
}

/*
 * What a GRE or Geneve protocol type carries: an Ethernet frame (0x6558);
 * Cisco MetaData (in GRE: the EtherType of what it tags, then version,
 * length, option type and SGT, 6 bytes, as Wireshark reads it); WCCP
 * redirection (IPv4, after a 4-byte redirect header unless the first
 * nibble is already 4, as Wireshark guesses); or what decode_ethertype
 * takes (IPv4, IPv6, MPLS, VLAN-tagged, PPPoE).
 */
static enum decode_result tunnel_payload(struct cur *c, uint16_t ptype, struct pkt_record *out)
{
    uint8_t b;

    switch (ptype) {
    case GRE_PROTO_TEB:
        return decode_ether(c, out, 0);
    case GRE_PROTO_CMD:
        if (!cur_be16(c, &ptype) || !cur_skip(c, 6))
            return DECODE_TRUNCATED;
        return decode_ethertype(c, ptype, out, 0);
    case GRE_PROTO_WCCP:
        if (!cur_peek_u8(c, &b) || ((b >> 4) != 4u && !cur_skip(c, 4)))
            return DECODE_TRUNCATED;
        return decode_ipv4(c, out);
    default:
        return decode_ethertype(c, ptype, out, 0);
    }
}

/*
 * ERSPAN (draft-foschiano-erspan-03). Type II (§4.2): an 8-byte header, ver
 * (4 bits) = 1, VLAN (12), COS(3) En(2) T(1) session id (10), reserved(12)
 * index(20), then the mirrored Ethernet frame. Type I (§4.1) has no header
 * and is told from II by the GRE header lacking a sequence number. Type III
 * (§4.3): a 12-byte header, ver = 2, VLAN, COS(3) BSO(2) T(1) session id(10),
 * timestamp(32), SGT(16), P(1) FT(5) HW id(6) D(1) Gra(2) O(1), an 8-byte
 * platform sub-header when O is set; frame type 0 is Ethernet, 2 is IP.
 */
static enum decode_result decode_erspan(struct cur *c, uint16_t ptype, bool seq,
                                        struct pkt_record *out)
{
    uint16_t w0, w1;

    if (ptype == GRE_PROTO_ERSPAN2 && !seq) {
        tunnel_open(out, TUNNEL_ERSPAN1, 0, false);
        return decode_ether(c, out, 0);
    }
    if (!cur_be16(c, &w0) || !cur_be16(c, &w1))
        return DECODE_TRUNCATED;
    if (ptype == GRE_PROTO_ERSPAN2) {
        if ((w0 >> 12) != 1u)
            return DECODE_BAD_HEADER;
        if (!cur_skip(c, 4))
            return DECODE_TRUNCATED;
        tunnel_open(out, TUNNEL_ERSPAN2, w1 & 0x03ffu, true);
        return decode_ether(c, out, 0);
    }
    uint8_t b10, b11;
    if ((w0 >> 12) != 2u)
        return DECODE_BAD_HEADER;
    if (!cur_skip(c, 6) || !cur_u8(c, &b10) || !cur_u8(c, &b11))
        return DECODE_TRUNCATED;
    if ((b11 & 0x01u) && !cur_skip(c, 8))
        return DECODE_TRUNCATED;
    tunnel_open(out, TUNNEL_ERSPAN3, w1 & 0x03ffu, true);
    switch ((b10 >> 2) & 0x1fu) {
    case 0:
        return decode_ether(c, out, 0);
    case 2:
        return decode_ip_any(c, out);
    default:
        return DECODE_NOT_IP;
    }
}

/*
 * GRE. Version 0 (RFC 2784 §2, RFC 2890 §2; RFC 1701 §2 for the routing
 * bit): C R K S s Recur(3) | flags(5) Ver(3) | protocol type (16), then the
 * checksum and offset (4 bytes, when C or R), key (4, K), sequence number
 * (4, S), and with R a list of source route entries (address family(2),
 * offset(1), length(1), length bytes) ended by one with family 0 and length
 * 0. Version 1 is PPTP's enhanced GRE (RFC 2637 §4.1): K set, protocol
 * 0x880b, key = payload length(16) + call id(16), sequence number (S) and
 * acknowledgment number (A, the top bit of the second byte); it carries a
 * PPP frame. The key of version 0 is the tunnel id; PPTP's call ids differ
 * per direction and are not.
 */
static enum decode_result decode_gre(struct cur *c, struct pkt_record *out)
{
    uint8_t f0, f1;
    uint16_t ptype;
    uint32_t key = 0;

    if (!cur_u8(c, &f0) || !cur_u8(c, &f1) || !cur_be16(c, &ptype))
        return DECODE_TRUNCATED;
    if ((f1 & 0x07u) == 1u) {
        if (!(f0 & 0x20u) || ptype != GRE_PROTO_PPP)
            return DECODE_BAD_HEADER;
        if (!cur_skip(c, 4) || ((f0 & 0x10u) && !cur_skip(c, 4)) ||
            ((f1 & 0x80u) && !cur_skip(c, 4)))
            return DECODE_TRUNCATED;
        tunnel_open(out, TUNNEL_GRE, 0, false);
        if (c->left >= 2 && c->p[0] == 0xffu && c->p[1] == 0x03u)
            (void)cur_skip(c, 2);                   /* RFC 1662 address/control */
        return decode_ppp_proto(c, out, 0);
    }
    if ((f1 & 0x07u) != 0)
        return DECODE_BAD_HEADER;
    if ((f0 & 0xc0u) && !cur_skip(c, 4))
        return DECODE_TRUNCATED;
    if ((f0 & 0x20u) && !cur_be32(c, &key))
        return DECODE_TRUNCATED;
    if ((f0 & 0x10u) && !cur_skip(c, 4))
        return DECODE_TRUNCATED;
    for (unsigned n = 0; f0 & 0x40u; n++) {
        uint16_t af;
        uint8_t len;
        if (n == GRE_MAX_SRE)
            return DECODE_BAD_HEADER;
        if (!cur_be16(c, &af) || !cur_skip(c, 1) || !cur_u8(c, &len) || !cur_skip(c, len))
            return DECODE_TRUNCATED;
        if (af == 0 && len == 0)
            break;
    }
    if (ptype == GRE_PROTO_ERSPAN2 || ptype == GRE_PROTO_ERSPAN3)
        return decode_erspan(c, ptype, (f0 & 0x10u) != 0, out);
    tunnel_open(out, TUNNEL_GRE, key, (f0 & 0x20u) != 0);
    return tunnel_payload(c, ptype, out);
}

/*
 * VXLAN, RFC 7348 §5: flags (I = 0x08: the VNI is valid), reserved (24),
 * VNI (24), reserved (8); an Ethernet frame follows.
 */
static enum decode_result decode_vxlan(struct cur *c, struct pkt_record *out)
{
    uint8_t flags;
    uint32_t w;

    if (!cur_u8(c, &flags) || !cur_skip(c, 3) || !cur_be32(c, &w))
        return DECODE_TRUNCATED;
    tunnel_open(out, TUNNEL_VXLAN, w >> 8, (flags & 0x08u) != 0);
    return decode_ether(c, out, 0);
}

/*
 * Geneve, RFC 8926 §3.4: Ver(2) = 0, Opt Len(6, in 4-byte units), O C
 * reserved(6), protocol type (16), VNI (24), reserved (8), options; the
 * protocol type names the payload as GRE's does.
 */
static enum decode_result decode_geneve(struct cur *c, struct pkt_record *out)
{
    uint8_t b0;
    uint16_t ptype;
    uint32_t w;

    if (!cur_u8(c, &b0) || !cur_skip(c, 1) || !cur_be16(c, &ptype) || !cur_be32(c, &w))
        return DECODE_TRUNCATED;
    if ((b0 >> 6) != 0)
        return DECODE_BAD_HEADER;
    if (!cur_skip(c, (size_t)(b0 & 0x3fu) * 4u))
        return DECODE_TRUNCATED;
    tunnel_open(out, TUNNEL_GENEVE, w >> 8, true);
    return tunnel_payload(c, ptype, out);
}

/*
 * GTP-U, 3GPP TS 29.281 §5.1: version (3) = 1, PT = 1, spare, E, S, PN;
 * message type; length (of what follows the first 8 bytes); TEID. With any
 * of E, S, PN: sequence number (16), N-PDU number (8), next extension header
 * type (8); each extension header (§5.2.1) is a length in 4-byte units, its
 * content and the next type. Only a G-PDU (255) carries a user packet, IPv4
 * or IPv6 (told by its first nibble); echo and the other signalling messages
 * are not a tunnel's payload (NOT_IP: the record stays the UDP flow).
 */
static enum decode_result decode_gtpu(struct cur *c, struct pkt_record *out)
{
    uint8_t b0, type, next = 0;
    uint16_t len;
    uint32_t teid;

    if (!cur_u8(c, &b0) || !cur_u8(c, &type) || !cur_be16(c, &len) || !cur_be32(c, &teid))
        return DECODE_TRUNCATED;
    if ((b0 >> 5) != 1u || !(b0 & 0x10u))
        return DECODE_BAD_HEADER;
    if (type != GTPU_G_PDU)
        return DECODE_NOT_IP;
    cur_limit(c, len);
    if ((b0 & 0x07u) && (!cur_skip(c, 3) || !cur_u8(c, &next)))
        return DECODE_TRUNCATED;
    for (unsigned n = 0; next != 0; n++) {
        uint8_t units;
        if (n == GTPU_MAX_EXT)
            return DECODE_BAD_HEADER;
        if (!cur_u8(c, &units))
            return DECODE_TRUNCATED;
        if (units == 0)
            return DECODE_BAD_HEADER;
        if (!cur_skip(c, (size_t)units * 4u - 2u) || !cur_u8(c, &next))
            return DECODE_TRUNCATED;
    }
    tunnel_open(out, TUNNEL_GTPU, teid, true);
    return decode_ip_any(c, out);
}

/*
 * One tunnel layer, found by decode_l4 (`proto`: GRE, 4, 41, or UDP with a
 * tunnel port in out->dport). The tunnel is opened only when the packet that
 * carries it is whole (not an IP fragment: the inner packet would be split
 * over records) and fewer than DECODE_MAX_TUNNELS layers are open. When the
 * tunnel header or the packet inside cannot be used (cut, malformed, not IP)
 * the carrier's record is given back unchanged: the packet still counts, on
 * the outer flow, as it does without decapsulation. A DECODE_TUN_F_* flag
 * says which of these happened (the capture counts them).
 */
static enum decode_result decode_tunnel(struct cur *c, uint8_t proto, struct pkt_record *out)
{
    struct pkt_record outer;
    enum decode_result r;

    if (out->flags & PKT_F_FRAG_FIRST) {
        out->tun_flags |= DECODE_TUN_F_FRAGMENT;
        return DECODE_OK;
    }
    if (out->tun_depth >= DECODE_MAX_TUNNELS) {
        out->tun_flags |= DECODE_TUN_F_CAPPED;
        return DECODE_OK;
    }
    outer = *out;
    const uint8_t *outer_l3 = c->l3, *outer_pay = c->pay;   /* the payload path's span */
    size_t outer_pay_len = c->pay_len;
    switch (proto) {
    case IPPROTO_NUM_GRE:
        r = decode_gre(c, out);
        break;
    case IPPROTO_NUM_IPIP:
        tunnel_open(out, TUNNEL_IPIP, 0, false);
        r = decode_ipv4(c, out);
        break;
    case IPPROTO_NUM_IPV6:
        tunnel_open(out, TUNNEL_IP6IP, 0, false);
        r = decode_ipv6(c, out);
        break;
    default:                   /* UDP: the ports were read, length and checksum follow */
        r = !cur_skip(c, 4)               ? DECODE_TRUNCATED
          : out->dport == UDP_PORT_VXLAN  ? decode_vxlan(c, out)
          : out->dport == UDP_PORT_GENEVE ? decode_geneve(c, out)
                                          : decode_gtpu(c, out);
        break;
    }
    if (r != DECODE_OK) {
        *out = outer;
        out->tun_flags |= DECODE_TUN_F_UNDECODED;
        c->l3 = outer_l3;      /* the flow stays the outer one: so does its payload */
        c->pay = outer_pay;
        c->pay_len = outer_pay_len;
    }
    return DECODE_OK;
}

/* ---- fast path ------------------------------------------------------------ */

/*
 * The frame nearly every packet is: Ethernet II, no tag or one 802.1Q tag,
 * IPv4 without options (IHL 5), not a fragment, TCP with its flags byte or UDP
 * with its ports captured. For exactly those it fills `out` (already zeroed,
 * ts and wire_len set) as the general parser would and returns true; for
 * anything else it returns false without touching `out`, and the general
 * parser (which gives the same answer for the frames taken here) decides.
 * Reads are checked against the remaining length before they are made: the
 * link and IP headers by `left` up front, the transport fields by `l4left`
 * (captured bytes after the IP header, clamped to the total length as
 * decode_ipv4 does). Capture thread, per packet: no calls, one pass.
 * Layouts as in the parsers above: Ethernet II (RFC 894) and 802.1Q, IPv4
 * (RFC 791 §3.1), TCP (RFC 9293 §3.1), UDP (RFC 768).
 */
static bool decode_ether_fast(const uint8_t *d, size_t caplen, unsigned opts,
                              struct pkt_record *out, struct decode_span *span)
{
    size_t off = 14, left = caplen;
    uint16_t vlan = 0;

    if (left < 14u + 20u)
        return false;
    uint16_t type = be16_at(d + 12);
    if (type == ETHERTYPE_8021Q) {
        if (left < 18u + 20u)
            return false;
        vlan = (uint16_t)(be16_at(d + 14) & 0x0fffu);
        type = be16_at(d + 16);
        off = 18;
    }
    if (type != ETHERTYPE_IPV4)
        return false;
    left -= off;                                  /* >= 20: the IPv4 header */
    const uint8_t *ip = d + off;
    if (ip[0] != 0x45u)                           /* version 4, IHL 5 */
        return false;
    uint16_t total_len = be16_at(ip + 2), frag = be16_at(ip + 6);
    uint8_t proto = ip[9];
    if ((frag & 0x3fffu) != 0)                    /* MF or an offset: a fragment */
        return false;
    size_t l4left = left - 20u;
    if (total_len != 0) {
        if (total_len < 20u)
            return false;                         /* BAD_HEADER, said by decode_ipv4 */
        if (l4left > (size_t)total_len - 20u)
            l4left = (size_t)total_len - 20u;
    }
    uint32_t l4bytes = total_len != 0 ? (uint32_t)total_len - 20u : (uint32_t)l4left;
    const uint8_t *l4 = ip + 20;
    uint8_t tcp_flags = 0;
    size_t l4hdr;
    if (proto == IPPROTO_NUM_TCP) {
        if (l4left < 16u || (l4[12] >> 4) < 5u)   /* short or bad offset: decode_tcp */
            return false;
        tcp_flags = l4[13];
        out->tcp_seq = (uint32_t)be16_at(l4 + 4) << 16 | be16_at(l4 + 6);
        out->tcp_ack = (uint32_t)be16_at(l4 + 8) << 16 | be16_at(l4 + 10);
        out->tcp_win = be16_at(l4 + 14);
        out->l4_info = PKT_L4_TCP_HDR;
        out->payload_len = tcp_payload(l4bytes, l4[12]);
        l4hdr = (size_t)(l4[12] >> 4) * 4u;
    } else if (proto != IPPROTO_NUM_UDP || l4left < 4u) {
        return false;
    } else if ((opts & DECODE_OPT_DECAP) && is_tunnel_udp_port(be16_at(l4 + 2))) {
        return false;                             /* a tunnel: decode_tunnel */
    } else {
        out->payload_len = udp_payload(l4bytes);
        l4hdr = 8u;
    }
    if (span && l4left >= l4hdr) {
        span->l3_off = (uint32_t)off;
        span->l3_len = (uint32_t)(20u + l4left);
        span->l4_off = (uint32_t)(20u + l4hdr);
        span->l4_len = (uint32_t)(l4left - l4hdr);
    }
    out->ip_len = l4bytes + 20u;
    memcpy(out->src, ip + 12, 4);
    memcpy(out->dst, ip + 16, 4);
    out->sport = be16_at(l4);
    out->dport = be16_at(l4 + 2);
    out->vlan_id = vlan;
    out->ip_version = 4;
    out->proto = proto;
    out->tcp_flags = tcp_flags;
    out->flags = PKT_F_HAS_PORTS;
    note_eth_macs(out, d);
    note_ipv4_hdr(out, ip);
    return true;
}

/* ---- public --------------------------------------------------------------- */

const char *decode_result_name(enum decode_result r)
{
    switch (r) {
    case DECODE_OK:               return "ok";
    case DECODE_TRUNCATED:        return "truncated";
    case DECODE_BAD_HEADER:       return "bad_header";
    case DECODE_UNSUPPORTED_LINK: return "unsupported_link";
    case DECODE_NOT_IP:           return "not_ip";
    case DECODE_RESULT_COUNT:     break;
    }
    return "unknown";
}

int decode_dlt_supported(int dlt)
{
    switch (dlt) {
    case DECODE_DLT_NULL:
    case DECODE_DLT_EN10MB:
    case DECODE_DLT_RAW:
    case DECODE_DLT_RAW_ALT:
    case DECODE_DLT_LOOP:
    case DECODE_DLT_LINUX_SLL:
    case DECODE_LINKTYPE_RAW:
    case DECODE_DLT_IPV4:
    case DECODE_DLT_IPV6:
    case DECODE_DLT_LINUX_SLL2:
    case DECODE_DLT_PPP:
    case DECODE_DLT_PPP_SERIAL:
    case DECODE_DLT_C_HDLC:
    case DECODE_DLT_NFLOG:
        return 1;
    default:
        return 0;
    }
}

/* Linux cooked v2 (tcpdump.org LINKTYPE_LINUX_SLL2): protocol(2) reserved(2) ifindex(4, network order). */
uint32_t decode_sll2_ifindex(const uint8_t *data, size_t caplen)
{
    if (data == NULL || caplen < 8)
        return 0;
    return (uint32_t)data[4] << 24 | (uint32_t)data[5] << 16 | (uint32_t)data[6] << 8 | (uint32_t)data[7];
}

enum decode_result decode_packet(int dlt, const uint8_t *data, size_t caplen,
                                 uint32_t wire_len, uint64_t ts_us,
                                 struct pkt_record *out)
{
    return decode_packet_span(dlt, data, caplen, wire_len, ts_us, 0, out, NULL);
}

enum decode_result decode_packet_opts(int dlt, const uint8_t *data, size_t caplen,
                                      uint32_t wire_len, uint64_t ts_us, unsigned opts,
                                      struct pkt_record *out)
{
    return decode_packet_span(dlt, data, caplen, wire_len, ts_us, opts, out, NULL);
}

static enum decode_result decode_frame(int dlt, struct cur *c, const uint8_t *data, size_t caplen,
                                       uint32_t wire_len, uint64_t ts_us, struct pkt_record *out,
                                       struct decode_span *span);

enum decode_result decode_packet_span(int dlt, const uint8_t *data, size_t caplen,
                                      uint32_t wire_len, uint64_t ts_us, unsigned opts,
                                      struct pkt_record *out, struct decode_span *span)
{
    struct cur c = { data, caplen, opts, NULL, NULL, 0 };

    if (span)
        memset(span, 0, sizeof *span);
    enum decode_result r = decode_frame(dlt, &c, data, caplen, wire_len, ts_us, out, span);
    /* The general parsers leave the spans in the cursor; the fast path fills span itself. */
    if (r == DECODE_OK && span && c.l3 && c.pay && c.pay >= c.l3) {
        span->l3_off = (uint32_t)(c.l3 - data);
        span->l4_off = (uint32_t)(c.pay - c.l3);
        span->l4_len = (uint32_t)c.pay_len;
        span->l3_len = span->l4_off + span->l4_len;
    }
    return r;
}

static enum decode_result decode_frame(int dlt, struct cur *c, const uint8_t *data, size_t caplen,
                                       uint32_t wire_len, uint64_t ts_us, struct pkt_record *out,
                                       struct decode_span *span)
{
    memset(out, 0, sizeof *out);
    out->ts_us = ts_us;
    out->wire_len = wire_len;

    if (!decode_dlt_supported(dlt))
        return DECODE_UNSUPPORTED_LINK;
    if (data == NULL)
        return DECODE_TRUNCATED;

    switch (dlt) {
    case DECODE_DLT_EN10MB:
        if (decode_ether_fast(data, caplen, c->opts, out, span))
            return DECODE_OK;
        return decode_ether(c, out, 0);
    case DECODE_DLT_PPP:
        return decode_ppp(c, false, out);
    case DECODE_DLT_PPP_SERIAL:
        return decode_ppp(c, true, out);
    case DECODE_DLT_C_HDLC:
        return decode_c_hdlc(c, out);
    case DECODE_DLT_NFLOG:
        return decode_nflog(c, caplen < wire_len, out);
    case DECODE_DLT_LINUX_SLL:
        return decode_sll(c, out);
    case DECODE_DLT_LINUX_SLL2:
        return decode_sll2(c, out);
    case DECODE_DLT_NULL:
        return decode_bsd_loop(c, true, out);
    case DECODE_DLT_LOOP:
        return decode_bsd_loop(c, false, out);
    case DECODE_DLT_IPV4:
        return decode_ipv4(c, out);
    case DECODE_DLT_IPV6:
        return decode_ipv6(c, out);
    default: /* DECODE_DLT_RAW, DECODE_DLT_RAW_ALT, DECODE_LINKTYPE_RAW */
        return decode_ip_any(c, out);
    }
}

/* ---- link-layer discovery frames (for the topology hook) ------------------ */

#define ETHERTYPE_LLDP     0x88ccu
#define SLL_P_802_2        0x0004u   /* Linux cooked: 802.2 LLC frame follows */
#define CDP_SNAP_PID       0x2000u

/*
 * 802.2 LLC + SNAP (IEEE 802 §10.5): DSAP 0xAA, SSAP 0xAA, control 0x03, OUI
 * 00:00:0c (Cisco), PID 0x2000 = CDP. Other Cisco PIDs (DTP 0x2004, UDLD 0x0111,
 * VTP 0x2003) share the destination address and are not CDP.
 */
static bool l2_is_cdp_snap(struct cur *c)
{
    static const uint8_t snap[6] = {0xaa, 0xaa, 0x03, 0x00, 0x00, 0x0c};
    uint16_t pid;

    if (c->left < sizeof snap || memcmp(c->p, snap, sizeof snap) != 0)
        return false;
    return cur_skip(c, sizeof snap) && cur_be16(c, &pid) && pid == CDP_SNAP_PID;
}

/* After an EtherType/length field: tags, then LLDP's EtherType or an 802.3 length + SNAP. */
static enum decode_l2_kind l2_after_type(struct cur *c, uint16_t type, const uint8_t *start,
                                         bool cdp_ok, struct decode_l2_info *out)
{
    for (unsigned tags = 0; is_vlan_tpid(type); tags++) {
        uint16_t tci;

        if (tags == DECODE_MAX_VLAN_TAGS || !cur_be16(c, &tci) || !cur_be16(c, &type))
            return DECODE_L2_NONE;
        if (tags == 0)
            out->vlan_id = (uint16_t)(tci & 0x0fffu);
    }
    if (type == ETHERTYPE_LLDP) {
        out->offset = (uint16_t)(c->p - start);
        return DECODE_L2_LLDP;
    }
    if (cdp_ok && type <= 1500u && l2_is_cdp_snap(c)) {
        out->offset = (uint16_t)(c->p - start);
        return DECODE_L2_CDP;
    }
    return DECODE_L2_NONE;
}

enum decode_l2_kind decode_l2_discovery(int dlt, const uint8_t *data, size_t caplen,
                                        struct decode_l2_info *out)
{
    static const uint8_t cdp_dst[6] = {0x01, 0x00, 0x0c, 0xcc, 0xcc, 0xcc};
    struct cur c = {data, caplen};
    uint16_t type, halen;

    memset(out, 0, sizeof *out);
    if (data == NULL || caplen > 65535u)
        return DECODE_L2_NONE;
    switch (dlt) {
    case DECODE_DLT_EN10MB:
        /* Ethernet II / 802.3: dst(6) src(6) type-or-length(2). */
        if (caplen < 14)
            return DECODE_L2_NONE;
        memcpy(out->src_mac, data + 6, 6);
        out->has_src_mac = 1;
        (void)cur_skip(&c, 12);
        (void)cur_be16(&c, &type);
        return l2_after_type(&c, type, data, memcmp(data, cdp_dst, 6) == 0, out);
    case DECODE_DLT_LINUX_SLL:
        /* pkttype(2) hatype(2) halen(2) addr(8) protocol(2). */
        if (!cur_skip(&c, 4) || !cur_be16(&c, &halen) || c.left < 10)
            return DECODE_L2_NONE;
        if (halen == 6) {
            memcpy(out->src_mac, c.p, 6);
            out->has_src_mac = 1;
        }
        (void)cur_skip(&c, 8);
        (void)cur_be16(&c, &type);
        if (type == SLL_P_802_2)
            return l2_after_type(&c, 0, data, true, out);
        return l2_after_type(&c, type, data, false, out);
    case DECODE_DLT_LINUX_SLL2:
        /* protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8). */
        if (caplen < SLL2_HDR_LEN)
            return DECODE_L2_NONE;
        (void)cur_be16(&c, &type);
        if (data[11] == 6) {
            memcpy(out->src_mac, data + 12, 6);
            out->has_src_mac = 1;
        }
        (void)cur_skip(&c, SLL2_HDR_LEN - 2u);
        if (type == SLL_P_802_2)
            return l2_after_type(&c, 0, data, true, out);
        return l2_after_type(&c, type, data, false, out);
    default:
        return DECODE_L2_NONE;
    }
}
