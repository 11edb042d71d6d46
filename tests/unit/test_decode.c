/*
 * test_decode.c — unit tests for capture/decode.c.
 *
 * The decoder is the one place raw packet bytes are read, so it is tested the
 * way tcpdump tests its dissectors: a table of hand-built frames, one per link
 * type / header combination, each with the exact pkt_record it must produce,
 * and then every valid frame again cut at every length from 0 to its size,
 * each cut in an exact-size heap buffer so AddressSanitizer reports any read
 * past the capture. For a cut the expected answer is computed, not guessed:
 * below the end of the fields the record needs (ports, ICMP type/code, or the
 * network headers for port-less flows) it is DECODE_TRUNCATED; a TCP header
 * cut between its ports and its flags byte is DECODE_OK with PKT_F_L4_TRUNC;
 * anything longer is the full record.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "capture/decode.h"

#define TS 1700000000123456ull

/* ---- frame building blocks ------------------------------------------------ */

#define BE16(x) (((x) >> 8) & 0xff), ((x) & 0xff)
#define BE32(x) (((x) >> 24) & 0xff), (((x) >> 16) & 0xff), (((x) >> 8) & 0xff), ((x) & 0xff)

#define MAC_DST 0x00, 0x11, 0x22, 0x33, 0x44, 0x55
#define MAC_SRC 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb
/* Ethernet II: dst, src, EtherType (14 bytes) */
#define ETH(type) MAC_DST, MAC_SRC, BE16(type)

#define V4_SRC 192, 168, 1, 10
#define V4_DST 10, 0, 0, 1
#define V4_SRC_A { 192, 168, 1, 10 }
#define V4_DST_A { 10, 0, 0, 1 }
/* IPv4 without options (20 bytes): ver/IHL, TOS, total length, id, flags/offset, TTL, proto, csum, addrs */
#define IPV4(totlen, id, frag, proto) \
    0x45, 0x00, BE16(totlen), BE16(id), BE16(frag), 64, (proto), 0x00, 0x00, V4_SRC, V4_DST

#define V6_SRC 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01
#define V6_DST 0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02
#define V6_SRC_A { V6_SRC }
#define V6_DST_A { V6_DST }
/* IPv6 fixed header (40 bytes): ver/class/flow, payload length, next header, hop limit, addrs */
#define IPV6(plen, nh) 0x60, 0x00, 0x00, 0x00, BE16(plen), (nh), 64, V6_SRC, V6_DST

/* TCP without options (20 bytes): ports, seq, ack, data offset 5, flags, window, csum, urg */
#define TCP(sp, dp, fl) BE16(sp), BE16(dp), BE32(1u), BE32(0u), 0x50, (fl), 0xff, 0xff, 0, 0, 0, 0
/* UDP (8 bytes): ports, length, checksum */
#define UDP(sp, dp, len) BE16(sp), BE16(dp), BE16(len), 0x00, 0x00

/* ---- the frames ----------------------------------------------------------- */

static const uint8_t p_tcp_syn[] = { ETH(0x0800), IPV4(40, 0x1234, 0x4000, 6), TCP(51000, 443, 0x02) };
_Static_assert(sizeof p_tcp_syn == 54, "p_tcp_syn");

/* IHL=7: router alert (4) + NOP NOP NOP EOL (4) */
static const uint8_t p_v4_opts_udp[] = {
    ETH(0x0800),
    0x47, 0x00, BE16(28 + 8 + 4), BE16(1), BE16(0), 64, 17, 0, 0, V4_SRC, V4_DST,
    0x94, 0x04, 0x00, 0x00, 0x01, 0x01, 0x01, 0x00,
    UDP(5353, 53, 12), 0xde, 0xad, 0xbe, 0xef,
};
_Static_assert(sizeof p_v4_opts_udp == 54, "p_v4_opts_udp");

static const uint8_t p_vlan_udp[] = {
    ETH(0x8100), BE16(0x6064), BE16(0x0800), /* PCP 3, VID 100 */
    IPV4(28, 2, 0, 17), UDP(12345, 53, 8),
};
_Static_assert(sizeof p_vlan_udp == 46, "p_vlan_udp");

static const uint8_t p_qinq_udp[] = {
    ETH(0x88a8), BE16(200), BE16(0x8100), BE16(100), BE16(0x0800),
    IPV4(28, 3, 0, 17), UDP(12345, 53, 8),
};
_Static_assert(sizeof p_qinq_udp == 50, "p_qinq_udp");

static const uint8_t p_4tags_udp[] = {
    ETH(0x9100), BE16(300), BE16(0x88a8), BE16(200), BE16(0x8100), BE16(100),
    BE16(0x8100), BE16(10), BE16(0x0800),
    IPV4(28, 4, 0, 17), UDP(12345, 53, 8),
};
_Static_assert(sizeof p_4tags_udp == 58, "p_4tags_udp");

static const uint8_t p_5tags_udp[] = {
    ETH(0x9100), BE16(300), BE16(0x88a8), BE16(200), BE16(0x8100), BE16(100),
    BE16(0x8100), BE16(10), BE16(0x8100), BE16(5), BE16(0x0800),
    IPV4(28, 4, 0, 17), UDP(12345, 53, 8),
};

static const uint8_t p_v6_tcp[] = { ETH(0x86dd), IPV6(20, 6), TCP(443, 51000, 0x12) };
_Static_assert(sizeof p_v6_tcp == 74, "p_v6_tcp");

static const uint8_t p_v6_hbh_dst_udp[] = {
    ETH(0x86dd), IPV6(8 + 16 + 8 + 4, 0),
    60, 0, 0x01, 0x04, 0, 0, 0, 0,                         /* Hop-by-Hop, PadN */
    17, 1, 0x01, 0x0c, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* Dest Options, 16 bytes */
    UDP(546, 547, 12), 1, 2, 3, 4,
};
_Static_assert(sizeof p_v6_hbh_dst_udp == 90, "p_v6_hbh_dst_udp");

static const uint8_t p_v6_routing_udp[] = {
    ETH(0x86dd), IPV6(8 + 8, 43),
    17, 0, 4, 0, 0, 0, 0, 0, /* Routing, type 4 (SRH), segments left 0 */
    UDP(7, 9, 8),
};

static const uint8_t p_v6_ah_tcp[] = {
    ETH(0x86dd), IPV6(24 + 20, 51),
    6, 4, 0, 0, BE32(0x100u), BE32(1u), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, /* AH (4+2)*4 */
    TCP(443, 51000, 0x11),
};
_Static_assert(sizeof p_v6_ah_tcp == 98, "p_v6_ah_tcp");

static const uint8_t p_v6_esp[] = {
    ETH(0x86dd), IPV6(16, 50), BE32(0x100u), BE32(1u), 1, 2, 3, 4, 5, 6, 7, 8,
};

static const uint8_t p_v6_jumbo_udp[] = {
    ETH(0x86dd), IPV6(0, 0),
    17, 0, 0xc2, 0x04, BE32(16u), /* Hop-by-Hop, Jumbo Payload */
    UDP(1000, 2000, 0), 0xaa, 0xbb,
};

static const uint8_t p_v6_frag_first[] = {
    ETH(0x86dd), IPV6(24, 44),
    17, 0, BE16(0x0001), BE32(0xdeadbeefu), /* offset 0, M */
    UDP(4500, 4500, 1488), 1, 2, 3, 4, 5, 6, 7, 8,
};
_Static_assert(sizeof p_v6_frag_first == 78, "p_v6_frag_first");

static const uint8_t p_v6_frag_nonfirst[] = {
    ETH(0x86dd), IPV6(24, 44),
    17, 0, BE16(185 << 3), BE32(0xdeadbeefu), /* offset 1480, last */
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
};
_Static_assert(sizeof p_v6_frag_nonfirst == 78, "p_v6_frag_nonfirst");

/* Nested Fragment headers (RFC 8200 §4.5): the outer one names the datagram. */
static const uint8_t p_v6_nested_frag_first[] = {
    ETH(0x86dd), IPV6(8 + 8 + 8 + 8, 44),
    44, 0, BE16(0x0001), BE32(0xa1a1a1a1u), /* outer: offset 0, M */
    17, 0, BE16(0x0001), BE32(0xb2b2b2b2u), /* inner: offset 0, M */
    UDP(7401, 7402, 16), 1, 2, 3, 4, 5, 6, 7, 8,
};

/* An outer first fragment whose inner Fragment header is a later fragment. */
static const uint8_t p_v6_nested_frag_inner_later[] = {
    ETH(0x86dd), IPV6(8 + 8 + 8, 44),
    44, 0, BE16(0x0001), BE32(0xa1a1a1a1u), /* outer: offset 0, M */
    17, 0, BE16(2 << 3), BE32(0xb2b2b2b2u), /* inner: offset 16 */
    1, 2, 3, 4, 5, 6, 7, 8,
};

static const uint8_t p_v6_atomic_frag[] = {
    ETH(0x86dd), IPV6(16, 44),
    17, 0, BE16(0x0000), BE32(0x01020304u), /* offset 0, no M: not a fragment */
    UDP(53, 33000, 8),
};

static const uint8_t p_v4_frag_first[] = {
    ETH(0x0800), IPV4(44, 0xabcd, 0x2000, 17),
    UDP(4500, 4500, 1488), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
};
_Static_assert(sizeof p_v4_frag_first == 58, "p_v4_frag_first");

static const uint8_t p_v4_frag_nonfirst[] = {
    ETH(0x0800), IPV4(36, 0xabcd, 185, 17),
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
};
_Static_assert(sizeof p_v4_frag_nonfirst == 50, "p_v4_frag_nonfirst");

static const uint8_t p_icmp_echo[] = {
    ETH(0x0800), IPV4(28, 5, 0, 1), 8, 0, 0xf7, 0xfe, 0, 1, 0, 1,
};

/* Destination unreachable (port): no identifier, sport stays 0 */
static const uint8_t p_icmp_unreach[] = {
    ETH(0x0800), IPV4(56, 5, 0, 1), 3, 3, 0, 0, 0, 0, 0, 0, IPV4(28, 9, 0, 17), UDP(40000, 53, 8),
};
/* Timestamp request, identifier 0x0203 */
static const uint8_t p_icmp_timestamp[] = {
    ETH(0x0800), IPV4(40, 5, 0, 1), 13, 0, 0, 0, 0x02, 0x03, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static const uint8_t p_icmpv6_echo[] = {
    ETH(0x86dd), IPV6(8, 58), 128, 0, 0, 0, 0, 1, 0, 1,
};

static const uint8_t p_sctp[] = {
    ETH(0x0800), IPV4(32, 6, 0, 132), BE16(36412), BE16(2905), BE32(1u), BE32(0u),
};

static const uint8_t p_gre[] = {
    ETH(0x0800), IPV4(24, 7, 0, 47), 0x00, 0x00, 0x08, 0x00,
};

/* SLL: packet type, ARPHRD_ETHER, address length 6, address (8), protocol */
static const uint8_t p_sll_v4[] = {
    0x00, 0x00, 0x00, 0x01, 0x00, 0x06, MAC_SRC, 0, 0, BE16(0x0800),
    IPV4(28, 8, 0, 17), UDP(40000, 123, 8),
};
_Static_assert(sizeof p_sll_v4 == 44, "p_sll_v4");

static const uint8_t p_sll_vlan_v4[] = {
    0x00, 0x04, 0x00, 0x01, 0x00, 0x06, MAC_SRC, 0, 0, BE16(0x8100), BE16(100), BE16(0x0800),
    IPV4(28, 8, 0, 17), UDP(40000, 123, 8),
};

/* SLL2: protocol, reserved, ifindex, ARPHRD_ETHER, packet type, address length, address (8) */
static const uint8_t p_sll2_v6[] = {
    BE16(0x86dd), 0, 0, BE32(2u), BE16(1), 0x00, 0x06, MAC_SRC, 0, 0,
    IPV6(20, 6), TCP(22, 60000, 0x18),
};
_Static_assert(sizeof p_sll2_v6 == 80, "p_sll2_v6");

static const uint8_t p_null_le_v4[] = { 2, 0, 0, 0, IPV4(28, 9, 0, 17), UDP(40000, 53, 8) };
static const uint8_t p_null_be_v4[] = { 0, 0, 0, 2, IPV4(28, 9, 0, 17), UDP(40000, 53, 8) };
static const uint8_t p_null_le_v6[] = { 30, 0, 0, 0, IPV6(8, 58), 128, 0, 0, 0, 0, 1, 0, 1 };
static const uint8_t p_null_other[] = { 7, 0, 0, 0, IPV4(28, 9, 0, 17), UDP(40000, 53, 8) };
static const uint8_t p_null_v4fam_v6[] = { 2, 0, 0, 0, IPV6(8, 58), 128, 0, 0, 0, 0, 1, 0, 1 };
static const uint8_t p_loop_v6[] = { 0, 0, 0, 24, IPV6(8, 58), 129, 0, 0, 0, 0, 1, 0, 1 };

static const uint8_t p_raw_v4[] = { IPV4(28, 10, 0, 17), UDP(1234, 5678, 8) };
static const uint8_t p_raw_v6[] = { IPV6(20, 6), TCP(80, 40000, 0x11) };
static const uint8_t p_raw_v5[] = { 0x55, 0, 0, 28, 0, 0, 0, 0, 64, 17, 0, 0, V4_SRC, V4_DST, UDP(1, 2, 8) };

static const uint8_t p_arp[] = {
    ETH(0x0806), BE16(1), BE16(0x0800), 6, 4, BE16(1), MAC_SRC, V4_SRC, 0, 0, 0, 0, 0, 0, V4_DST,
};
static const uint8_t p_lldp[] = { ETH(0x88cc), 0x02, 0x07, 0x04, MAC_SRC, 0x00, 0x00 };

static const uint8_t p_ihl4[] = {
    ETH(0x0800), 0x44, 0x00, BE16(40), BE16(1), BE16(0), 64, 6, 0, 0, V4_SRC, V4_DST,
    TCP(51000, 443, 0x02),
};
static const uint8_t p_v6_on_0800[] = { ETH(0x0800), IPV6(20, 6), TCP(443, 51000, 0x12) };
static const uint8_t p_v4_on_86dd[] = { ETH(0x86dd), IPV4(40, 1, 0, 6), TCP(51000, 443, 0x02), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
static const uint8_t p_totlen_small[] = { ETH(0x0800), IPV4(19, 1, 0, 6), TCP(51000, 443, 0x02) };
static const uint8_t p_tcp_doff4[] = {
    ETH(0x0800), IPV4(40, 1, 0, 6),
    BE16(51000), BE16(443), BE32(1u), BE32(0u), 0x40, 0x02, 0xff, 0xff, 0, 0, 0, 0,
};

/* Ethernet minimum-size padding after a 40-byte IPv4 packet */
static const uint8_t p_padding[] = {
    ETH(0x0800), IPV4(40, 0x55, 0x4000, 6), TCP(51000, 443, 0x10), 0, 0, 0, 0, 0, 0,
};
_Static_assert(sizeof p_padding == 60, "p_padding");

/* IP total length ends inside the TCP header: the 0xff padding must not become flags */
static const uint8_t p_padding_hides_flags[] = {
    ETH(0x0800), IPV4(33, 0x56, 0, 6),
    BE16(51000), BE16(443), BE32(1u), BE32(0u), 0x50,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};
_Static_assert(sizeof p_padding_hides_flags == 60, "p_padding_hides_flags");

/* IP total length ends after the ICMP type: the padding must not become the code */
static const uint8_t p_padding_hides_icmp_code[] = {
    ETH(0x0800), IPV4(21, 0x57, 0, 1), 8,
    3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3,
};

/* IPv4 total length 0: a TSO super-segment or Linux BIG TCP; captured bytes are the packet */
static const uint8_t p_v4_totlen0[] = { ETH(0x0800), IPV4(0, 0x78, 0x4000, 6), TCP(51000, 443, 0x18), 'd', 'a', 't', 'a' };

/* First 54 bytes of a 1514-byte frame (snap length 54): IP total length 1500 */
static const uint8_t p_snaplen[] = { ETH(0x0800), IPV4(1500, 0x77, 0x4000, 6), TCP(51000, 443, 0x10) };

/* ---- encapsulations carrying IP (issue 14) ---------------------------------- */

/* MPLS label stack entry: label(20) TC(3) S(1) TTL(8) */
#define MPLS(label, s) BE32(((uint32_t)(label) << 12) | ((uint32_t)(s) << 8) | 64u)
/* NFLOG TLV length/type: in the capturing (here: this) host's byte order */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define HO16(x) ((x) & 0xff), (((x) >> 8) & 0xff)
#else
#define HO16(x) BE16(x)
#endif
/* Another Ethernet header, as a pseudowire carries it; 0xaa first: no 0 nibble */
#define ETH_PW(type) 0xaa, 0xbb, 0xcc, 0x00, 0x00, 0x01, 0xaa, 0xbb, 0xcc, 0x00, 0x00, 0x02, BE16(type)

static const uint8_t p_mpls_v4_udp[] = { ETH(0x8847), MPLS(100, 1), IPV4(28, 11, 0, 17), UDP(3000, 53, 8) };
static const uint8_t p_mpls_mc_v6_tcp[] = {
    ETH(0x8848), MPLS(16, 0), MPLS(17, 1), IPV6(20, 6), TCP(179, 40000, 0x18),
};
/* Ethernet pseudowire with control word (RFC 4448 + 4385), inner VLAN 7 */
static const uint8_t p_mpls_pw_cw[] = {
    ETH(0x8847), MPLS(200, 0), MPLS(300, 1), BE32(0x00000001u),
    ETH(0x8100), BE16(7), BE16(0x0800), IPV4(28, 12, 0, 17), UDP(4000, 4001, 8),
};
/* Ethernet pseudowire without control word, destination MAC starting 00 */
static const uint8_t p_mpls_pw_nocw0[] = {
    ETH(0x8847), MPLS(300, 1), ETH(0x0800), IPV4(28, 13, 0, 17), UDP(4002, 4003, 8),
};
/* ... tagged (VLAN 9): the EtherType after the tag looks like a control word's
 * Ethernet EtherType too; the tag 12 bytes on decides for no control word */
static const uint8_t p_mpls_pw_nocw0_vlan[] = {
    ETH(0x8847), MPLS(300, 1), ETH(0x8100), BE16(9), BE16(0x0800), IPV4(28, 13, 0, 17), UDP(4002, 4003, 8),
};
/* ... and one whose destination MAC starts with 0xa, carrying IPv6 */
static const uint8_t p_mpls_pw_nocw_a[] = {
    ETH(0x8847), MPLS(300, 1), ETH_PW(0x86dd), IPV6(20, 6), TCP(40001, 22, 0x02),
};
/* Associated channel (RFC 4385 first nibble 1): BFD, OAM; not IP */
static const uint8_t p_mpls_ach[] = { ETH(0x8847), MPLS(13, 1), 0x10, 0x00, 0x00, 0x07, 1, 2, 3, 4 };
/* Nine labels: deeper than DECODE_MAX_MPLS_LABELS */
static const uint8_t p_mpls_9[] = {
    ETH(0x8847), MPLS(1, 0), MPLS(2, 0), MPLS(3, 0), MPLS(4, 0), MPLS(5, 0), MPLS(6, 0),
    MPLS(7, 0), MPLS(8, 0), MPLS(9, 1), IPV4(28, 14, 0, 17), UDP(1, 2, 8),
};
/* Unknown payload after the stack (nibble 0xa, no plausible EtherType) */
static const uint8_t p_mpls_unknown[] = {
    ETH(0x8847), MPLS(5, 1), 0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34, 0, 0, 0, 0,
};
/* PPPoE session (RFC 2516): ver/type 0x11, code 0, session 0x1234, length, PPP proto */
static const uint8_t p_pppoe_v4_tcp[] = {
    ETH(0x8864), 0x11, 0x00, BE16(0x1234), BE16(2 + 40), BE16(0x0021),
    IPV4(40, 15, 0x4000, 6), TCP(50000, 80, 0x02),
};
static const uint8_t p_pppoe_v6_udp[] = {
    ETH(0x8100), BE16(35), BE16(0x8864), 0x11, 0x00, BE16(0x0001), BE16(2 + 48), BE16(0x0057),
    IPV6(8, 17), UDP(546, 547, 8),
};
static const uint8_t p_pppoe_lcp[] = {
    ETH(0x8864), 0x11, 0x00, BE16(0x1234), BE16(6), BE16(0xc021), 0x09, 0x01, 0x00, 0x04,
};
static const uint8_t p_pppoe_discovery_code[] = {  /* a PADI's code in a session frame */
    ETH(0x8864), 0x11, 0x09, BE16(0), BE16(2 + 28), BE16(0x0021), IPV4(28, 16, 0, 17), UDP(1, 2, 8),
};
/* DLT_PPP: with ff 03, without, with a compressed (1-byte) protocol */
static const uint8_t p_ppp_hdlc_v4[] = { 0xff, 0x03, BE16(0x0021), IPV4(28, 17, 0, 17), UDP(5000, 53, 8) };
static const uint8_t p_ppp_bare_v6[] = { BE16(0x0057), IPV6(20, 6), TCP(40002, 443, 0x10) };
static const uint8_t p_ppp_pfc_v4[] = { 0x21, IPV4(28, 18, 0, 17), UDP(5001, 53, 8) };
static const uint8_t p_ppp_mpls_v4[] = { 0xff, 0x03, BE16(0x0281), MPLS(42, 1), IPV4(28, 19, 0, 17), UDP(5002, 53, 8) };
static const uint8_t p_ppp_lcp[] = { 0xff, 0x03, BE16(0xc021), 0x01, 0x01, 0x00, 0x04 };
/* DLT_PPP_SERIAL: Cisco PPP with HDLC framing (0x0f) */
static const uint8_t p_ppp_serial_cisco_v4[] = { 0x0f, 0x00, BE16(0x0800), IPV4(28, 20, 0, 17), UDP(5003, 53, 8) };
/* DLT_C_HDLC */
static const uint8_t p_chdlc_v6[] = { 0x0f, 0x00, BE16(0x86dd), IPV6(20, 6), TCP(40003, 179, 0x12) };
static const uint8_t p_chdlc_mpls_v4[] = { 0x8f, 0x00, BE16(0x8847), MPLS(77, 1), IPV4(28, 21, 0, 17), UDP(5004, 53, 8) };
static const uint8_t p_chdlc_slarp[] = { 0x8f, 0x00, BE16(0x8035), 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0 };
/* DLT_NFLOG: AF_INET, version 0, resource 1; a prefix TLV (type 10, 6 bytes +
 * 2 padding), then the payload TLV (type 9) holding the packet */
static const uint8_t p_nflog_v4[] = {
    2, 0, BE16(1), HO16(4 + 6), HO16(10), 'p', 'f', 'x', 0, 0, 0, 0, 0,
    HO16(4 + 28), HO16(9), IPV4(28, 22, 0, 17), UDP(6000, 53, 8),
};
static const uint8_t p_nflog_v6[] = {
    10, 0, BE16(1), HO16(4 + 60), HO16(9), IPV6(20, 6), TCP(40004, 80, 0x02),
};
static const uint8_t p_nflog_no_payload[] = { 2, 0, BE16(1), HO16(8), HO16(1), 0x08, 0x00, 0x03, 0x00 };
static const uint8_t p_nflog_tlv_len2[] = { 2, 0, BE16(1), HO16(2), HO16(9), IPV4(28, 22, 0, 17), UDP(6000, 53, 8) };
/* IPv4 AH (RFC 4302): next header TCP, length 4 (24 bytes) */
static const uint8_t p_v4_ah_tcp[] = {
    ETH(0x0800), IPV4(20 + 24 + 20, 23, 0x4000, 51),
    6, 4, 0, 0, BE32(0x100u), BE32(1u), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
    TCP(40005, 443, 0x18),
};

/* ---- the table ------------------------------------------------------------ */

struct dcase {
    const char *name;
    int dlt;
    const uint8_t *pkt;
    size_t len;
    enum decode_result result;
    size_t l4_off;          /* DECODE_OK: offset where the transport header starts;
                               otherwise: offset of the byte that makes the frame invalid
                               (a cut that ends before it may still decode) */
    struct pkt_record want; /* DECODE_OK: ts_us and wire_len are filled in by the driver
                               (wire_len = len unless set here) */
};

#define PKT(a) (a), sizeof(a)

#define F_PORTS PKT_F_HAS_PORTS

static const struct dcase cases[] = {
    { "eth ipv4 tcp syn", 1, PKT(p_tcp_syn), DECODE_OK, 34,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 51000, .dport = 443, .ip_version = 4,
        .proto = 6, .tcp_flags = 0x02, .flags = F_PORTS } },
    { "eth ipv4 options udp", 1, PKT(p_v4_opts_udp), DECODE_OK, 42,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 5353, .dport = 53, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "802.1q vlan 100 udp", 1, PKT(p_vlan_udp), DECODE_OK, 38,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 12345, .dport = 53, .vlan_id = 100,
        .ip_version = 4, .proto = 17, .flags = F_PORTS } },
    { "qinq 200/100 udp", 1, PKT(p_qinq_udp), DECODE_OK, 42,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 12345, .dport = 53, .vlan_id = 200,
        .ip_version = 4, .proto = 17, .flags = F_PORTS } },
    { "four vlan tags udp", 1, PKT(p_4tags_udp), DECODE_OK, 50,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 12345, .dport = 53, .vlan_id = 300,
        .ip_version = 4, .proto = 17, .flags = F_PORTS } },
    { "eth ipv6 tcp", 1, PKT(p_v6_tcp), DECODE_OK, 54,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 443, .dport = 51000, .ip_version = 6,
        .proto = 6, .tcp_flags = 0x12, .flags = F_PORTS } },
    { "ipv6 hbh dstopts udp", 1, PKT(p_v6_hbh_dst_udp), DECODE_OK, 78,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 546, .dport = 547, .ip_version = 6,
        .proto = 17, .flags = F_PORTS } },
    { "ipv6 routing udp", 1, PKT(p_v6_routing_udp), DECODE_OK, 62,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 7, .dport = 9, .ip_version = 6,
        .proto = 17, .flags = F_PORTS } },
    { "ipv6 ah tcp", 1, PKT(p_v6_ah_tcp), DECODE_OK, 78,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 443, .dport = 51000, .ip_version = 6,
        .proto = 6, .tcp_flags = 0x11, .flags = F_PORTS } },
    { "ipv6 esp", 1, PKT(p_v6_esp), DECODE_OK, 54,
      { .src = V6_SRC_A, .dst = V6_DST_A, .ip_version = 6, .proto = 50 } },
    { "ipv6 jumbo udp", 1, PKT(p_v6_jumbo_udp), DECODE_OK, 62,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 1000, .dport = 2000, .ip_version = 6,
        .proto = 17, .flags = F_PORTS } },
    { "ipv6 first fragment udp", 1, PKT(p_v6_frag_first), DECODE_OK, 62,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 4500, .dport = 4500, .ip_version = 6,
        .proto = 17, .frag_id = 0xdeadbeefu, .flags = F_PORTS | PKT_F_FRAG_FIRST } },
    { "ipv6 non-first fragment", 1, PKT(p_v6_frag_nonfirst), DECODE_OK, 62,
      { .src = V6_SRC_A, .dst = V6_DST_A, .ip_version = 6, .proto = 17,
        .frag_id = 0xdeadbeefu, .flags = PKT_F_FRAG_NONFIRST } },
    { "ipv6 nested fragment headers", 1, PKT(p_v6_nested_frag_first), DECODE_OK, 70,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 7401, .dport = 7402, .ip_version = 6,
        .proto = 17, .frag_id = 0xa1a1a1a1u, .flags = F_PORTS | PKT_F_FRAG_FIRST } },
    { "ipv6 nested fragment, inner later", 1, PKT(p_v6_nested_frag_inner_later), DECODE_OK, 70,
      { .src = V6_SRC_A, .dst = V6_DST_A, .ip_version = 6, .proto = 17,
        .frag_id = 0xa1a1a1a1u, .flags = PKT_F_FRAG_NONFIRST } },
    { "ipv6 atomic fragment", 1, PKT(p_v6_atomic_frag), DECODE_OK, 62,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 53, .dport = 33000, .ip_version = 6,
        .proto = 17, .flags = F_PORTS } },
    { "ipv4 first fragment udp", 1, PKT(p_v4_frag_first), DECODE_OK, 34,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 4500, .dport = 4500, .ip_version = 4,
        .proto = 17, .frag_id = 0xabcd, .flags = F_PORTS | PKT_F_FRAG_FIRST } },
    { "ipv4 non-first fragment", 1, PKT(p_v4_frag_nonfirst), DECODE_OK, 34,
      { .src = V4_SRC_A, .dst = V4_DST_A, .ip_version = 4, .proto = 17, .frag_id = 0xabcd,
        .flags = PKT_F_FRAG_NONFIRST } },
    { "icmp echo request", 1, PKT(p_icmp_echo), DECODE_OK, 34,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 1, .ip_version = 4, .proto = 1, .icmp_type = 8 } },
    { "icmp port unreachable", 1, PKT(p_icmp_unreach), DECODE_OK, 34,
      { .src = V4_SRC_A, .dst = V4_DST_A, .ip_version = 4, .proto = 1, .icmp_type = 3,
        .icmp_code = 3 } },
    { "icmp timestamp identifier", 1, PKT(p_icmp_timestamp), DECODE_OK, 34,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 0x0203, .ip_version = 4, .proto = 1,
        .icmp_type = 13 } },
    { "icmpv6 echo request", 1, PKT(p_icmpv6_echo), DECODE_OK, 54,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 1, .ip_version = 6, .proto = 58, .icmp_type = 128 } },
    { "sctp", 1, PKT(p_sctp), DECODE_OK, 34,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 36412, .dport = 2905, .ip_version = 4,
        .proto = 132, .flags = F_PORTS } },
    { "gre", 1, PKT(p_gre), DECODE_OK, 34,
      { .src = V4_SRC_A, .dst = V4_DST_A, .ip_version = 4, .proto = 47 } },
    { "sll ipv4 udp", 113, PKT(p_sll_v4), DECODE_OK, 36,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 40000, .dport = 123, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "sll vlan ipv4 udp", 113, PKT(p_sll_vlan_v4), DECODE_OK, 40,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 40000, .dport = 123, .vlan_id = 100,
        .ip_version = 4, .proto = 17, .flags = F_PORTS } },
    { "sll2 ipv6 tcp", 276, PKT(p_sll2_v6), DECODE_OK, 60,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 22, .dport = 60000, .ip_version = 6,
        .proto = 6, .tcp_flags = 0x18, .flags = F_PORTS } },
    { "null little-endian ipv4", 0, PKT(p_null_le_v4), DECODE_OK, 24,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 40000, .dport = 53, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "null big-endian ipv4", 0, PKT(p_null_be_v4), DECODE_OK, 24,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 40000, .dport = 53, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "null little-endian ipv6 (darwin 30)", 0, PKT(p_null_le_v6), DECODE_OK, 44,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 1, .ip_version = 6, .proto = 58, .icmp_type = 128 } },
    { "loop ipv6 (af 24)", 108, PKT(p_loop_v6), DECODE_OK, 44,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 1, .ip_version = 6, .proto = 58, .icmp_type = 129 } },
    { "raw ipv4 dlt 12", 12, PKT(p_raw_v4), DECODE_OK, 20,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 1234, .dport = 5678, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "raw ipv4 dlt 14", 14, PKT(p_raw_v4), DECODE_OK, 20,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 1234, .dport = 5678, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "raw ipv4 linktype 101", 101, PKT(p_raw_v4), DECODE_OK, 20,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 1234, .dport = 5678, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "raw ipv4 dlt 228", 228, PKT(p_raw_v4), DECODE_OK, 20,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 1234, .dport = 5678, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "raw ipv6 dlt 12", 12, PKT(p_raw_v6), DECODE_OK, 40,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 80, .dport = 40000, .ip_version = 6,
        .proto = 6, .tcp_flags = 0x11, .flags = F_PORTS } },
    { "raw ipv6 dlt 229", 229, PKT(p_raw_v6), DECODE_OK, 40,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 80, .dport = 40000, .ip_version = 6,
        .proto = 6, .tcp_flags = 0x11, .flags = F_PORTS } },
    { "ethernet padding after ip", 1, PKT(p_padding), DECODE_OK, 34,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 51000, .dport = 443, .ip_version = 4,
        .proto = 6, .tcp_flags = 0x10, .flags = F_PORTS } },
    { "padding must not become tcp flags", 1, PKT(p_padding_hides_flags), DECODE_OK, 34,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 51000, .dport = 443, .ip_version = 4,
        .proto = 6, .flags = F_PORTS | PKT_F_L4_TRUNC } },
    { "ipv4 total length 0 (tso, big tcp)", 1, PKT(p_v4_totlen0), DECODE_OK, 34,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 51000, .dport = 443, .ip_version = 4,
        .proto = 6, .tcp_flags = 0x18, .flags = F_PORTS } },
    { "snap length 54 of 1514", 1, PKT(p_snaplen), DECODE_OK, 34,
      { .wire_len = 1514, .src = V4_SRC_A, .dst = V4_DST_A, .sport = 51000, .dport = 443,
        .ip_version = 4, .proto = 6, .tcp_flags = 0x10, .flags = F_PORTS } },

    { "mpls ipv4 udp", 1, PKT(p_mpls_v4_udp), DECODE_OK, 38,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 3000, .dport = 53, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "mpls multicast two labels ipv6 tcp", 1, PKT(p_mpls_mc_v6_tcp), DECODE_OK, 62,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 179, .dport = 40000, .ip_version = 6,
        .proto = 6, .tcp_flags = 0x18, .flags = F_PORTS } },
    { "mpls ethernet pw with control word, inner vlan", 1, PKT(p_mpls_pw_cw), DECODE_OK, 64,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 4000, .dport = 4001, .vlan_id = 7,
        .ip_version = 4, .proto = 17, .flags = F_PORTS } },
    { "mpls ethernet pw no control word, mac 00", 1, PKT(p_mpls_pw_nocw0), DECODE_OK, 52,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 4002, .dport = 4003, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "mpls ethernet pw no control word, mac 00, vlan", 1, PKT(p_mpls_pw_nocw0_vlan), DECODE_OK, 56,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 4002, .dport = 4003, .vlan_id = 9,
        .ip_version = 4, .proto = 17, .flags = F_PORTS } },
    { "mpls ethernet pw no control word, mac aa", 1, PKT(p_mpls_pw_nocw_a), DECODE_OK, 72,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 40001, .dport = 22, .ip_version = 6,
        .proto = 6, .tcp_flags = 0x02, .flags = F_PORTS } },
    { "pppoe session ipv4 tcp", 1, PKT(p_pppoe_v4_tcp), DECODE_OK, 42,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 50000, .dport = 80, .ip_version = 4,
        .proto = 6, .tcp_flags = 0x02, .flags = F_PORTS } },
    { "vlan pppoe session ipv6 udp", 1, PKT(p_pppoe_v6_udp), DECODE_OK, 66,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 546, .dport = 547, .vlan_id = 35,
        .ip_version = 6, .proto = 17, .flags = F_PORTS } },
    { "ppp ff03 ipv4 udp", 9, PKT(p_ppp_hdlc_v4), DECODE_OK, 24,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 5000, .dport = 53, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "ppp bare ipv6 tcp", 9, PKT(p_ppp_bare_v6), DECODE_OK, 42,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 40002, .dport = 443, .ip_version = 6,
        .proto = 6, .tcp_flags = 0x10, .flags = F_PORTS } },
    { "ppp compressed protocol ipv4", 9, PKT(p_ppp_pfc_v4), DECODE_OK, 21,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 5001, .dport = 53, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "ppp mpls ipv4", 9, PKT(p_ppp_mpls_v4), DECODE_OK, 28,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 5002, .dport = 53, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "ppp serial ff03 ipv4", 50, PKT(p_ppp_hdlc_v4), DECODE_OK, 24,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 5000, .dport = 53, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "ppp serial cisco ipv4", 50, PKT(p_ppp_serial_cisco_v4), DECODE_OK, 24,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 5003, .dport = 53, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "ppp holding cisco hdlc ipv4", 9, PKT(p_ppp_serial_cisco_v4), DECODE_OK, 24,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 5003, .dport = 53, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "cisco hdlc ipv6 tcp", 104, PKT(p_chdlc_v6), DECODE_OK, 44,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 40003, .dport = 179, .ip_version = 6,
        .proto = 6, .tcp_flags = 0x12, .flags = F_PORTS } },
    { "cisco hdlc mpls ipv4", 104, PKT(p_chdlc_mpls_v4), DECODE_OK, 28,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 5004, .dport = 53, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "nflog ipv4 udp after a prefix tlv", 239, PKT(p_nflog_v4), DECODE_OK, 40,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 6000, .dport = 53, .ip_version = 4,
        .proto = 17, .flags = F_PORTS } },
    { "nflog ipv6 tcp", 239, PKT(p_nflog_v6), DECODE_OK, 48,
      { .src = V6_SRC_A, .dst = V6_DST_A, .sport = 40004, .dport = 80, .ip_version = 6,
        .proto = 6, .tcp_flags = 0x02, .flags = F_PORTS } },
    { "ipv4 ah tcp", 1, PKT(p_v4_ah_tcp), DECODE_OK, 58,
      { .src = V4_SRC_A, .dst = V4_DST_A, .sport = 40005, .dport = 443, .ip_version = 4,
        .proto = 6, .tcp_flags = 0x18, .flags = F_PORTS } },
    { "mpls associated channel", 1, PKT(p_mpls_ach), DECODE_NOT_IP, 0, { 0 } },
    { "mpls nine labels", 1, PKT(p_mpls_9), DECODE_NOT_IP, 0, { 0 } },
    { "mpls unknown payload", 1, PKT(p_mpls_unknown), DECODE_NOT_IP, 0, { 0 } },
    { "pppoe lcp", 1, PKT(p_pppoe_lcp), DECODE_NOT_IP, 0, { 0 } },
    { "pppoe session frame with code 9", 1, PKT(p_pppoe_discovery_code), DECODE_NOT_IP, 0, { 0 } },
    { "ppp lcp", 9, PKT(p_ppp_lcp), DECODE_NOT_IP, 0, { 0 } },
    { "cisco hdlc slarp", 104, PKT(p_chdlc_slarp), DECODE_NOT_IP, 0, { 0 } },
    { "nflog without payload tlv", 239, PKT(p_nflog_no_payload), DECODE_NOT_IP, 0, { 0 } },
    { "nflog tlv length 2", 239, PKT(p_nflog_tlv_len2), DECODE_BAD_HEADER, 0, { 0 } },
    { "arp", 1, PKT(p_arp), DECODE_NOT_IP, 0, { 0 } },
    { "lldp", 1, PKT(p_lldp), DECODE_NOT_IP, 0, { 0 } },
    { "five vlan tags", 1, PKT(p_5tags_udp), DECODE_NOT_IP, 0, { 0 } },
    { "null unknown family", 0, PKT(p_null_other), DECODE_NOT_IP, 0, { 0 } },
    { "loop little-endian family", 108, PKT(p_null_le_v4), DECODE_NOT_IP, 0, { 0 } },
    { "unknown dlt 105", 105, PKT(p_tcp_syn), DECODE_UNSUPPORTED_LINK, 0, { 0 } },
    { "unknown dlt -1", -1, PKT(p_tcp_syn), DECODE_UNSUPPORTED_LINK, 0, { 0 } },
    { "ipv4 ihl 4", 1, PKT(p_ihl4), DECODE_BAD_HEADER, 0, { 0 } },
    { "ipv6 under ethertype 0800", 1, PKT(p_v6_on_0800), DECODE_BAD_HEADER, 0, { 0 } },
    { "ipv4 under ethertype 86dd", 1, PKT(p_v4_on_86dd), DECODE_BAD_HEADER, 0, { 0 } },
    { "ipv4 total length 19", 1, PKT(p_totlen_small), DECODE_BAD_HEADER, 0, { 0 } },
    { "tcp data offset 4", 1, PKT(p_tcp_doff4), DECODE_BAD_HEADER, 46, { 0 } },
    { "raw version 5", 12, PKT(p_raw_v5), DECODE_BAD_HEADER, 0, { 0 } },
    { "ipv6 on dlt 228", 228, PKT(p_raw_v6), DECODE_BAD_HEADER, 0, { 0 } },
    { "ipv4 on dlt 229", 229, PKT(p_raw_v4), DECODE_BAD_HEADER, 0, { 0 } },
    { "null ipv4 family, ipv6 packet", 0, PKT(p_null_v4fam_v6), DECODE_BAD_HEADER, 0, { 0 } },
    { "padding must not become icmp code", 1, PKT(p_padding_hides_icmp_code), DECODE_TRUNCATED, 0, { 0 } },
};

#define NCASES (sizeof cases / sizeof cases[0])

/* ---- checking ------------------------------------------------------------- */

/* The expected record of a valid case at full length, ts/wire_len filled in. */
static struct pkt_record full_record(const struct dcase *c)
{
    struct pkt_record r = c->want;

    r.ts_us = TS;
    if (r.wire_len == 0)
        r.wire_len = (uint32_t)c->len;
    return r;
}

/* Bytes a valid case needs before decode_packet may return DECODE_OK. */
static size_t ok_boundary(const struct dcase *c)
{
    if (c->want.flags & PKT_F_FRAG_NONFIRST)
        return c->l4_off;
    switch (c->want.proto) {
    case 6: case 17: case 132:
        return c->l4_off + 4;  /* ports */
    case 1: case 58:
        return c->l4_off + 2;  /* type, code */
    default:
        return c->l4_off;      /* port-less: the network headers */
    }
}

#define CHECK_FIELD(f)                                                              \
    do {                                                                            \
        if (want->f != got->f) {                                                    \
            print_error("%s (caplen %zu): %s: want %llu, got %llu\n", name, caplen, \
                        #f, (unsigned long long)want->f, (unsigned long long)got->f); \
            ok = 0;                                                                 \
        }                                                                           \
    } while (0)

static void check_record(const char *name, size_t caplen, const struct pkt_record *want,
                         const struct pkt_record *got)
{
    int ok = 1;

    CHECK_FIELD(ts_us);
    CHECK_FIELD(wire_len);
    CHECK_FIELD(frag_id);
    CHECK_FIELD(sport);
    CHECK_FIELD(dport);
    CHECK_FIELD(vlan_id);
    CHECK_FIELD(ip_version);
    CHECK_FIELD(proto);
    CHECK_FIELD(tcp_flags);
    CHECK_FIELD(icmp_type);
    CHECK_FIELD(icmp_code);
    CHECK_FIELD(flags);
    if (memcmp(want->src, got->src, sizeof want->src) != 0) {
        print_error("%s (caplen %zu): src differs\n", name, caplen);
        ok = 0;
    }
    if (memcmp(want->dst, got->dst, sizeof want->dst) != 0) {
        print_error("%s (caplen %zu): dst differs\n", name, caplen);
        ok = 0;
    }
    if (!ok)
        fail();
}

/* Decode the first `caplen` bytes of a case from an exact-size heap copy. */
static enum decode_result decode_cut(const struct dcase *c, size_t caplen,
                                     struct pkt_record *out)
{
    uint8_t *buf = malloc(caplen ? caplen : 1);
    enum decode_result r;

    assert_non_null(buf);
    if (caplen)
        memcpy(buf, c->pkt, caplen);
    memset(out, 0xa5, sizeof *out); /* the decoder must zero what it does not set */
    r = decode_packet(c->dlt, buf, caplen, c->want.wire_len ? c->want.wire_len : (uint32_t)c->len,
                      TS, out);
    free(buf);
    return r;
}

/* ---- tests ---------------------------------------------------------------- */

static void test_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        const struct dcase *c = &cases[i];
        struct pkt_record got;
        enum decode_result r = decode_cut(c, c->len, &got);

        if (r != c->result) {
            print_error("%s: want %s, got %s\n", c->name, decode_result_name(c->result),
                        decode_result_name(r));
            fail();
        }
        if (r == DECODE_OK) {
            struct pkt_record want = full_record(c);
            check_record(c->name, c->len, &want, &got);
        }
    }
}

/* The SYN case, field by field, without the table machinery. */
static void test_tcp_syn_fields(void **state)
{
    static const uint8_t src[16] = { 192, 168, 1, 10 };
    static const uint8_t dst[16] = { 10, 0, 0, 1 };
    struct pkt_record r;

    (void)state;
    memset(&r, 0xff, sizeof r);
    assert_int_equal(decode_packet(DECODE_DLT_EN10MB, p_tcp_syn, sizeof p_tcp_syn, 54, TS, &r),
                     DECODE_OK);
    assert_int_equal(r.ts_us, TS);
    assert_memory_equal(r.src, src, 16);
    assert_memory_equal(r.dst, dst, 16);
    assert_int_equal(r.wire_len, 54);
    assert_int_equal(r.frag_id, 0);
    assert_int_equal(r.sport, 51000);
    assert_int_equal(r.dport, 443);
    assert_int_equal(r.vlan_id, 0);
    assert_int_equal(r.ip_version, 4);
    assert_int_equal(r.proto, 6);
    assert_int_equal(r.tcp_flags, 0x02);
    assert_int_equal(r.icmp_type, 0);
    assert_int_equal(r.icmp_code, 0);
    assert_int_equal(r.flags, PKT_F_HAS_PORTS);
}

/* ---- interface index, MACs, DSCP, TTL (issue 14 items 7-8) ---------------- */

/* The cooked v2 header's interface index: bytes 4..7, big-endian; 0 when cut short. */
static void test_sll2_ifindex(void **state)
{
    static const uint8_t big[] = { BE16(0x0800), 0, 0, BE32(0x01020304u), BE16(1), 0, 6, MAC_SRC, 0, 0 };
    (void)state;
    assert_int_equal(decode_sll2_ifindex(p_sll2_v6, sizeof p_sll2_v6), 2);
    assert_int_equal(decode_sll2_ifindex(big, sizeof big), 0x01020304u);
    assert_int_equal(decode_sll2_ifindex(big, 8), 0x01020304u);
    for (size_t cut = 0; cut < 8; cut++) {
        uint8_t *b = malloc(cut ? cut : 1);          /* exact size: ASan sees any over-read */
        assert_non_null(b);
        memcpy(b, big, cut);
        assert_int_equal(decode_sll2_ifindex(b, cut), 0);
        free(b);
    }
    assert_int_equal(decode_sll2_ifindex(NULL, 20), 0);
}

/* Ethernet gives both MACs; the innermost IP header gives DSCP and TTL (fast path and general). */
static void test_l2l3_facts(void **state)
{
    static const uint8_t mac_src[6] = { MAC_SRC }, mac_dst[6] = { MAC_DST };
    /* IPv4, TOS 0xb9 (DSCP 46, ECN 1), TTL 33: the fast path takes it */
    static const uint8_t v4[] = { ETH(0x0800), 0x45, 0xb9, BE16(28), BE16(1), BE16(0), 33, 17, 0, 0,
                                  V4_SRC, V4_DST, UDP(1000, 53, 8) };
    /* the same with one VLAN tag and IPv4 options: the general parser */
    static const uint8_t v4opt[] = { ETH(0x8100), BE16(7), BE16(0x0800), 0x46, 0x28, BE16(32), BE16(1),
                                     BE16(0), 200, 17, 0, 0, V4_SRC, V4_DST, 1, 1, 1, 0, UDP(1000, 53, 8) };
    /* IPv6, traffic class 0x2a (DSCP 10, ECN 2), hop limit 7 */
    static const uint8_t v6[] = { ETH(0x86dd), 0x62, 0xa0, 0x00, 0x00, BE16(8), 17, 7, V6_SRC, V6_DST,
                                  UDP(1000, 53, 8) };
    struct pkt_record r;
    (void)state;

    assert_int_equal(decode_packet(DECODE_DLT_EN10MB, v4, sizeof v4, sizeof v4, TS, &r), DECODE_OK);
    assert_memory_equal(r.src_mac, mac_src, 6);
    assert_memory_equal(r.dst_mac, mac_dst, 6);
    assert_int_equal(r.mac_flags, PKT_MAC_SRC | PKT_MAC_DST);
    assert_int_equal(r.dscp, 46);
    assert_int_equal(r.ttl, 33);
    assert_int_equal(r.iface, 0);

    assert_int_equal(decode_packet(DECODE_DLT_EN10MB, v4opt, sizeof v4opt, sizeof v4opt, TS, &r), DECODE_OK);
    assert_int_equal(r.vlan_id, 7);
    assert_memory_equal(r.src_mac, mac_src, 6);
    assert_memory_equal(r.dst_mac, mac_dst, 6);
    assert_int_equal(r.mac_flags, PKT_MAC_SRC | PKT_MAC_DST);
    assert_int_equal(r.dscp, 10);
    assert_int_equal(r.ttl, 200);

    assert_int_equal(decode_packet(DECODE_DLT_EN10MB, v6, sizeof v6, sizeof v6, TS, &r), DECODE_OK);
    assert_int_equal(r.mac_flags, PKT_MAC_SRC | PKT_MAC_DST);
    assert_int_equal(r.dscp, 10);
    assert_int_equal(r.ttl, 7);

    /* cooked v1 and v2: only the sender's address; raw IP: none */
    assert_int_equal(decode_packet(DECODE_DLT_LINUX_SLL, p_sll_v4, sizeof p_sll_v4, 44, TS, &r), DECODE_OK);
    assert_int_equal(r.mac_flags, PKT_MAC_SRC);
    assert_memory_equal(r.src_mac, mac_src, 6);
    assert_int_equal(r.ttl, 64);
    assert_int_equal(r.dscp, 0);
    assert_int_equal(decode_packet(DECODE_DLT_LINUX_SLL2, p_sll2_v6, sizeof p_sll2_v6, 80, TS, &r), DECODE_OK);
    assert_int_equal(r.mac_flags, PKT_MAC_SRC);
    assert_memory_equal(r.src_mac, mac_src, 6);
    assert_int_equal(r.ttl, 64);
    assert_int_equal(decode_packet(DECODE_DLT_RAW, p_raw_v4, sizeof p_raw_v4, sizeof p_raw_v4, TS, &r),
                     DECODE_OK);
    assert_int_equal(r.mac_flags, 0);
    assert_int_equal(r.ttl, 64);
}

/* Lengths, sequence numbers and window for the statistics (issue 15 items 4, 5). */
static const uint8_t p_v4_tcp_data[] = {
    ETH(0x0800), IPV4(20 + 24 + 5, 1, 0x4000, 6),
    BE16(51000), BE16(443), BE32(0x01020304u), BE32(0xa0b0c0d0u), 0x60, 0x18, BE16(0), 0, 0, 0, 0,
    2, 4, 0x05, 0xb4,                                       /* MSS option: data offset 6 */
    'h', 'e', 'l', 'l', 'o', 0, 0, 0, 0, 0, 0,              /* 5 bytes of data, Ethernet padding */
};
static const uint8_t p_v4_opts_tcp_data[] = {             /* IHL 6: the general parser */
    ETH(0x0800), 0x46, 0x00, BE16(24 + 20 + 3), BE16(1), BE16(0), 64, 6, 0, 0, V4_SRC, V4_DST,
    1, 1, 1, 0, TCP(80, 51000, 0x18), 'a', 'b', 'c',
};

static void test_stats_fields(void **state)
{
    struct pkt_record r;
    (void)state;
    assert_int_equal(decode_packet(DECODE_DLT_EN10MB, p_v4_tcp_data, sizeof p_v4_tcp_data, 70, TS, &r),
                     DECODE_OK);
    assert_int_equal(r.ip_len, 49);
    assert_int_equal(r.payload_len, 5);
    assert_int_equal(r.tcp_seq, 0x01020304u);
    assert_int_equal(r.tcp_ack, 0xa0b0c0d0u);
    assert_int_equal(r.tcp_win, 0);
    assert_int_equal(r.l4_info, PKT_L4_TCP_HDR);
    assert_int_equal(decode_packet(DECODE_DLT_EN10MB, p_v4_opts_tcp_data, sizeof p_v4_opts_tcp_data,
                                   61, TS, &r), DECODE_OK);
    assert_int_equal(r.ip_len, 47);
    assert_int_equal(r.payload_len, 3);
    assert_int_equal(r.tcp_seq, 1);
    assert_int_equal(r.tcp_win, 0xffff);
    assert_int_equal(r.l4_info, PKT_L4_TCP_HDR);
    /* IPv6, two extension headers, UDP with 4 bytes of data */
    assert_int_equal(decode_packet(DECODE_DLT_EN10MB, p_v6_hbh_dst_udp, sizeof p_v6_hbh_dst_udp, 90, TS, &r),
                     DECODE_OK);
    assert_int_equal(r.ip_len, 76);
    assert_int_equal(r.payload_len, 4);
    assert_int_equal(r.l4_info, 0);
    /* TCP cut after the flags byte: ports and flags, no window, no sequence numbers */
    assert_int_equal(decode_packet(DECODE_DLT_EN10MB, p_v4_tcp_data, 14 + 20 + 14, 70, TS, &r), DECODE_OK);
    assert_int_equal(r.tcp_flags, 0x18);
    assert_int_equal(r.l4_info, 0);
    assert_int_equal(r.tcp_seq, 0);
    assert_int_equal(r.ip_len, 49);
    assert_int_equal(r.payload_len, 5);
    /* ICMP: the IP payload */
    assert_int_equal(decode_packet(DECODE_DLT_EN10MB, p_icmp_echo, sizeof p_icmp_echo, 98, TS, &r), DECODE_OK);
    assert_int_equal(r.payload_len, r.ip_len - 20);
}

/* dpi (issue 15): where the IP packet and its TCP payload sit, on the fast
 * path (Ethernet) and the general one (raw IP); bytes past the IP total length
 * (Ethernet padding) are not payload; a header cut short gives no span. */
static void test_payload_span(void **state)
{
    struct pkt_record r, r2;
    struct decode_span sp;
    uint8_t f[64];

    (void)state;
    memcpy(f, p_tcp_syn, sizeof p_tcp_syn);
    memcpy(f + sizeof p_tcp_syn, "hello", 5);
    assert_int_equal(decode_packet_span(DECODE_DLT_EN10MB, f, sizeof p_tcp_syn + 5, 59, TS, 0, &r, &sp), DECODE_OK);
    assert_int_equal(sp.l3_off, 14);            /* total length 40: the 5 bytes are padding */
    assert_int_equal(sp.l3_len, 40);
    assert_int_equal(sp.l4_off, 40);
    assert_int_equal(sp.l4_len, 0);
    f[14 + 3] = 45;                             /* IPv4 total length 45: now they are payload */
    assert_int_equal(decode_packet_span(DECODE_DLT_EN10MB, f, sizeof p_tcp_syn + 5, 59, TS, 0, &r, &sp), DECODE_OK);
    assert_int_equal(sp.l3_len, 45);
    assert_int_equal(sp.l4_len, 5);
    assert_int_equal(decode_packet(DECODE_DLT_EN10MB, f, sizeof p_tcp_syn + 5, 59, TS, &r2), DECODE_OK);
    assert_memory_equal(&r, &r2, sizeof r);
    assert_int_equal(decode_packet_span(DECODE_DLT_RAW, f + 14, 45, 45, TS, 0, &r, &sp), DECODE_OK);
    assert_int_equal(sp.l3_off, 0);
    assert_int_equal(sp.l3_len, 45);
    assert_int_equal(sp.l4_off, 40);
    assert_int_equal(sp.l4_len, 5);
    assert_int_equal(decode_packet_span(DECODE_DLT_RAW, f + 14, 36, 45, TS, 0, &r, &sp), DECODE_OK);
    assert_int_equal(sp.l3_len, 0);             /* TCP header cut: no span */
}

/* Every case cut at every length: never an over-read, never a wrong record. */
static void test_truncation(void **state)
{
    size_t decodes = 0;

    (void)state;
    for (size_t i = 0; i < NCASES; i++) {
        const struct dcase *c = &cases[i];

        for (size_t cut = 0; cut < c->len; cut++) {
            struct pkt_record got;
            enum decode_result r = decode_cut(c, cut, &got);

            decodes++;
            if (c->result != DECODE_OK) {
                if (cut > c->l4_off && r == DECODE_OK) {
                    print_error("%s (caplen %zu): DECODE_OK from a frame that is not valid\n",
                                c->name, cut);
                    fail();
                }
                continue;
            }
            if (cut < ok_boundary(c)) {
                if (r != DECODE_TRUNCATED) {
                    print_error("%s (caplen %zu, needs %zu): want truncated, got %s\n", c->name,
                                cut, ok_boundary(c), decode_result_name(r));
                    fail();
                }
                continue;
            }
            if (r != DECODE_OK) {
                print_error("%s (caplen %zu, needs %zu): want ok, got %s\n", c->name, cut,
                            ok_boundary(c), decode_result_name(r));
                fail();
            }
            struct pkt_record want = full_record(c);
            if (want.proto == 6 && !(want.flags & PKT_F_FRAG_NONFIRST) && cut < c->l4_off + 14) {
                want.tcp_flags = 0;
                want.flags |= PKT_F_L4_TRUNC;
            }
            /* ICMP echo & co.: the identifier (bytes 4..5) is sport when captured */
            if ((want.proto == 1 || want.proto == 58) && want.sport != 0 && cut < c->l4_off + 6) {
                want.sport = 0;
                want.flags |= PKT_F_L4_TRUNC;
            }
            check_record(c->name, cut, &want, &got);
        }
    }
    assert_true(decodes > 2000);
}

/* An IPv6 chain of n Destination Options headers, then UDP. */
static size_t build_v6_chain(uint8_t *buf, size_t cap, unsigned n)
{
    static const uint8_t head[] = { ETH(0x86dd), IPV6(0, 60) };
    static const uint8_t udp[] = { UDP(1, 2, 8) };
    size_t len = sizeof head;

    assert_true(sizeof head + n * 8u + sizeof udp <= cap);
    memcpy(buf, head, sizeof head);
    for (unsigned i = 0; i < n; i++) {
        static const uint8_t opt[8] = { 60, 0, 0x01, 0x04, 0, 0, 0, 0 };
        memcpy(buf + len, opt, sizeof opt);
        if (i + 1 == n)
            buf[len] = 17;
        len += sizeof opt;
    }
    memcpy(buf + len, udp, sizeof udp);
    len += sizeof udp;
    buf[18] = (uint8_t)((len - 54) >> 8); /* payload length */
    buf[19] = (uint8_t)(len - 54);
    return len;
}

static void test_ipv6_chain_limit(void **state)
{
    uint8_t buf[256];
    struct pkt_record r;
    size_t len;

    (void)state;
    len = build_v6_chain(buf, sizeof buf, 16);
    assert_int_equal(decode_packet(DECODE_DLT_EN10MB, buf, len, (uint32_t)len, TS, &r), DECODE_OK);
    assert_int_equal(r.proto, 17);
    assert_int_equal(r.sport, 1);
    assert_int_equal(r.dport, 2);

    len = build_v6_chain(buf, sizeof buf, 17);
    assert_int_equal(decode_packet(DECODE_DLT_EN10MB, buf, len, (uint32_t)len, TS, &r),
                     DECODE_BAD_HEADER);
}

static void test_null_data(void **state)
{
    struct pkt_record r;

    (void)state;
    assert_int_equal(decode_packet(DECODE_DLT_EN10MB, NULL, 0, 0, TS, &r), DECODE_TRUNCATED);
    assert_int_equal(r.ts_us, TS);
    assert_int_equal(decode_packet(999, NULL, 0, 0, TS, &r), DECODE_UNSUPPORTED_LINK);
}

static void test_result_names(void **state)
{
    (void)state;
    assert_string_equal(decode_result_name(DECODE_OK), "ok");
    assert_string_equal(decode_result_name(DECODE_TRUNCATED), "truncated");
    assert_string_equal(decode_result_name(DECODE_BAD_HEADER), "bad_header");
    assert_string_equal(decode_result_name(DECODE_UNSUPPORTED_LINK), "unsupported_link");
    assert_string_equal(decode_result_name(DECODE_NOT_IP), "not_ip");
    assert_string_equal(decode_result_name(DECODE_RESULT_COUNT), "unknown");
    assert_string_equal(decode_result_name((enum decode_result)77), "unknown");
    for (int a = 0; a < DECODE_RESULT_COUNT; a++)
        for (int b = a + 1; b < DECODE_RESULT_COUNT; b++)
            assert_string_not_equal(decode_result_name((enum decode_result)a),
                                    decode_result_name((enum decode_result)b));
}

static void test_dlt_supported(void **state)
{
    static const int yes[] = { 0, 1, 9, 12, 14, 50, 101, 104, 108, 113, 228, 229, 239, 276 };
    static const int no[] = { -1, 2, 10, 13, 51, 105, 127, 147, 192, 230, 277, 65535 };

    (void)state;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_int_equal(decode_dlt_supported(yes[i]), 1);
    for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
        assert_int_equal(decode_dlt_supported(no[i]), 0);
}

/* ---- tunnels (issue 14) --------------------------------------------------- */

/*
 * Each frame carries a UDP packet 172.16.0.1:5000 -> 172.16.0.2:53 (IPv6:
 * fd00::1 -> fd00::2) through one tunnel (or more). IPv4 total lengths and
 * IPv6 payload lengths are 0 ("not in the header": the captured bytes are
 * the packet), so that the cut test below needs no length bookkeeping.
 */
#define IN4_SRC 172, 16, 0, 1
#define IN4_DST 172, 16, 0, 2
#define IN4(proto) 0x45, 0x00, 0, 0, 0, 1, 0, 0, 64, (proto), 0, 0, IN4_SRC, IN4_DST
#define IN6_SRC 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01
#define IN6_DST 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02
#define IN6(nh) 0x60, 0, 0, 0, 0, 0, (nh), 64, IN6_SRC, IN6_DST
#define OUT4(proto) 0x45, 0x00, 0, 0, 0, 2, 0, 0, 64, (proto), 0, 0, V4_SRC, V4_DST
#define OUT6(nh) 0x60, 0, 0, 0, 0, 0, (nh), 64, V6_SRC, V6_DST
#define IN_UDP UDP(5000, 53, 12), 'a', 'b', 'c', 'd'
#define IN_ETH(type) 0x0a, 0, 0, 0, 0, 2, 0x0a, 0, 0, 0, 0, 1, BE16(type)

static const uint8_t t_gre_key[] = {
    ETH(0x0800), OUT4(47), 0x20, 0x00, BE16(0x0800), BE32(0x1234u), IN4(17), IN_UDP };
static const uint8_t t_gre_v6_nokey[] = {
    ETH(0x86dd), OUT6(47), 0x00, 0x00, BE16(0x86dd), IN6(17), IN_UDP };
static const uint8_t t_gre_csum_seq_teb[] = {
    ETH(0x0800), OUT4(47), 0x90, 0x00, BE16(0x6558), 0, 0, 0, 0, BE32(9u),
    IN_ETH(0x0800), IN4(17), IN_UDP };
static const uint8_t t_gre_pptp[] = {
    ETH(0x0800), OUT4(47), 0x30, 0x81, BE16(0x880b), BE16(24), BE16(0x77), BE32(1u), BE32(2u),
    0xff, 0x03, BE16(0x0021), IN4(17), IN_UDP };
static const uint8_t t_erspan1[] = {
    ETH(0x0800), OUT4(47), 0x00, 0x00, BE16(0x88be), IN_ETH(0x0800), IN4(17), IN_UDP };
static const uint8_t t_erspan2[] = {
    ETH(0x0800), OUT4(47), 0x10, 0x00, BE16(0x88be), BE32(7u), 0x10, 0x05, 0x00, 77, 0, 0, 0, 0,
    IN_ETH(0x0800), IN4(17), IN_UDP };
static const uint8_t t_erspan3[] = {
    ETH(0x0800), OUT4(47), 0x10, 0x00, BE16(0x22eb), BE32(7u), 0x20, 0x00, BE16(901),
    BE32(0x12345678u), 0, 0, 0x00, 0x01, 0x03, 0, 0, 0, 0, 0, 0, 0,
    IN_ETH(0x86dd), IN6(17), IN_UDP };
static const uint8_t t_vxlan[] = {
    ETH(0x0800), OUT4(17), UDP(40000, 4789, 0), 0x08, 0, 0, 0, 0x00, 0x00, 0x64, 0x00,
    IN_ETH(0x0800), IN4(17), IN_UDP };
static const uint8_t t_geneve_v6[] = {
    ETH(0x86dd), OUT6(17), UDP(40000, 6081, 0), 0x01, 0x00, BE16(0x6558), 0x00, 0x01, 0x2c, 0x00,
    0x01, 0x02, 0x80, 0x00, IN_ETH(0x0800), IN4(17), IN_UDP };
static const uint8_t t_gtpu_ext[] = {
    ETH(0x0800), OUT4(17), UDP(2152, 2152, 0), 0x34, 0xff, BE16(60), BE32(0xabcdu),
    0, 0, 0, 0x85, 0x01, 0x10, 0x09, 0x00, IN6(17), IN_UDP };
static const uint8_t t_ipip[] = { ETH(0x0800), OUT4(4), IN4(17), IN_UDP };
static const uint8_t t_6in4[] = { ETH(0x0800), OUT4(41), IN6(17), IN_UDP };
static const uint8_t t_4in6[] = { ETH(0x86dd), OUT6(4), IN4(17), IN_UDP };
/* IP-in-IP three times: the innermost addresses are the IN4 ones, the two in between the OUT4 ones. */
static const uint8_t t_ipip3[] = {
    ETH(0x0800), OUT4(4), OUT4(4), OUT4(4), IN4(17), IN_UDP };

struct tcase {
    const char *name;
    const uint8_t *pkt;
    size_t len;
    size_t outer_ok;        /* bytes the outer record needs (a cut below is DECODE_TRUNCATED) */
    uint8_t outer_proto;    /* the carrier's protocol (17: the tunnel's UDP ports are sport/dport) */
    uint16_t outer_sport, outer_dport;
    uint8_t outer_v6;       /* the carrier is IPv6 (V6_SRC/V6_DST), else IPv4 (V4_SRC/V4_DST) */
    uint8_t inner_v6;       /* the UDP packet inside is IPv6 (IN6_*) */
    uint8_t type, depth, has_id;
    uint32_t id;
};

#define TPKT(a) (a), sizeof(a)

static const struct tcase tcases[] = {
    { "gre key", TPKT(t_gre_key), 34, 47, 0, 0, 0, 0, TUNNEL_GRE, 1, 1, 0x1234 },
    { "gre over ipv6, no key", TPKT(t_gre_v6_nokey), 54, 47, 0, 0, 1, 1, TUNNEL_GRE, 1, 0, 0 },
    { "gre checksum, sequence, ethernet", TPKT(t_gre_csum_seq_teb), 34, 47, 0, 0, 0, 0, TUNNEL_GRE, 1, 0, 0 },
    { "pptp enhanced gre", TPKT(t_gre_pptp), 34, 47, 0, 0, 0, 0, TUNNEL_GRE, 1, 0, 0 },
    { "erspan type i", TPKT(t_erspan1), 34, 47, 0, 0, 0, 0, TUNNEL_ERSPAN1, 1, 0, 0 },
    { "erspan type ii", TPKT(t_erspan2), 34, 47, 0, 0, 0, 0, TUNNEL_ERSPAN2, 1, 1, 77 },
    { "erspan type iii, platform sub-header", TPKT(t_erspan3), 34, 47, 0, 0, 0, 1, TUNNEL_ERSPAN3, 1, 1, 901 },
    { "vxlan", TPKT(t_vxlan), 38, 17, 40000, 4789, 0, 0, TUNNEL_VXLAN, 1, 1, 100 },
    { "geneve over ipv6, option", TPKT(t_geneve_v6), 58, 17, 40000, 6081, 1, 0, TUNNEL_GENEVE, 1, 1, 300 },
    { "gtp-u extension header", TPKT(t_gtpu_ext), 38, 17, 2152, 2152, 0, 1, TUNNEL_GTPU, 1, 1, 0xabcd },
    { "ipip", TPKT(t_ipip), 34, 4, 0, 0, 0, 0, TUNNEL_IPIP, 1, 0, 0 },
    { "ipv6 in ipv4", TPKT(t_6in4), 34, 41, 0, 0, 0, 1, TUNNEL_IP6IP, 1, 0, 0 },
    { "ipv4 in ipv6", TPKT(t_4in6), 54, 4, 0, 0, 1, 0, TUNNEL_IPIP, 1, 0, 0 },
    { "ipip three deep", TPKT(t_ipip3), 34, 4, 0, 0, 0, 0, TUNNEL_IPIP, 3, 0, 0 },
};
#define NTCASES (sizeof tcases / sizeof tcases[0])

/* The record of the UDP packet inside, with its tunnel. */
static struct pkt_record tunnel_inner(const struct tcase *c)
{
    static const uint8_t i4s[16] = { IN4_SRC }, i4d[16] = { IN4_DST };
    static const uint8_t i6s[16] = { IN6_SRC }, i6d[16] = { IN6_DST };
    static const uint8_t o4s[16] = V4_SRC_A, o4d[16] = V4_DST_A;
    static const uint8_t o6s[16] = V6_SRC_A, o6d[16] = V6_DST_A;
    struct pkt_record r;

    memset(&r, 0, sizeof r);
    r.ts_us = TS;
    r.wire_len = (uint32_t)c->len;
    memcpy(r.src, c->inner_v6 ? i6s : i4s, 16);
    memcpy(r.dst, c->inner_v6 ? i6d : i4d, 16);
    r.sport = 5000;
    r.dport = 53;
    r.ip_version = c->inner_v6 ? 6 : 4;
    r.proto = 17;
    r.flags = PKT_F_HAS_PORTS;
    /* The innermost tunnel's carrier: the outer header, or (three deep) the last OUT4 one. */
    memcpy(r.tun_outer_src, c->outer_v6 ? o6s : o4s, 16);
    memcpy(r.tun_outer_dst, c->outer_v6 ? o6d : o4d, 16);
    r.tun_outer_ipver = c->outer_v6 ? 6 : 4;
    r.tun_type = c->type;
    r.tun_depth = c->depth;
    r.tun_id = c->id;
    r.tun_flags = c->has_id ? DECODE_TUN_F_HAS_ID : 0;
    return r;
}

/* The carrier's record: what decode_packet gives without decapsulation. */
static struct pkt_record tunnel_outer(const struct tcase *c)
{
    static const uint8_t o4s[16] = V4_SRC_A, o4d[16] = V4_DST_A;
    static const uint8_t o6s[16] = V6_SRC_A, o6d[16] = V6_DST_A;
    struct pkt_record r;

    memset(&r, 0, sizeof r);
    r.ts_us = TS;
    r.wire_len = (uint32_t)c->len;
    memcpy(r.src, c->outer_v6 ? o6s : o4s, 16);
    memcpy(r.dst, c->outer_v6 ? o6d : o4d, 16);
    r.ip_version = c->outer_v6 ? 6 : 4;
    r.proto = c->outer_proto;
    r.sport = c->outer_sport;
    r.dport = c->outer_dport;
    r.flags = c->outer_proto == 17 ? PKT_F_HAS_PORTS : 0;
    return r;
}

static void check_tunnel(const char *name, size_t caplen, const struct pkt_record *want,
                         const struct pkt_record *got)
{
    int ok = 1;

    check_record(name, caplen, want, got);
    CHECK_FIELD(tun_id);
    CHECK_FIELD(tun_type);
    CHECK_FIELD(tun_depth);
    CHECK_FIELD(tun_outer_ipver);
    CHECK_FIELD(tun_flags);
    if (memcmp(want->tun_outer_src, got->tun_outer_src, 16) != 0 ||
        memcmp(want->tun_outer_dst, got->tun_outer_dst, 16) != 0) {
        print_error("%s (caplen %zu): tunnel outer addresses differ\n", name, caplen);
        ok = 0;
    }
    if (!ok)
        fail();
}

static enum decode_result tunnel_cut(const struct tcase *c, size_t caplen, unsigned opts,
                                     struct pkt_record *out)
{
    uint8_t *buf = malloc(caplen ? caplen : 1);
    enum decode_result r;

    assert_non_null(buf);
    if (caplen)
        memcpy(buf, c->pkt, caplen);
    memset(out, 0xa5, sizeof *out);
    r = decode_packet_opts(DECODE_DLT_EN10MB, buf, caplen, (uint32_t)c->len, TS, opts, out);
    free(buf);
    return r;
}

/* Whole: the inner record with its tunnel; without DECODE_OPT_DECAP the outer one. */
static void test_tunnels(void **state)
{
    (void)state;
    for (size_t i = 0; i < NTCASES; i++) {
        const struct tcase *c = &tcases[i];
        struct pkt_record got, want = tunnel_inner(c);

        assert_int_equal(tunnel_cut(c, c->len, DECODE_OPT_DECAP, &got), DECODE_OK);
        check_tunnel(c->name, c->len, &want, &got);
        want = tunnel_outer(c);
        assert_int_equal(tunnel_cut(c, c->len, 0, &got), DECODE_OK);
        check_tunnel(c->name, c->len, &want, &got);
        assert_int_equal(decode_packet(DECODE_DLT_EN10MB, c->pkt, c->len, (uint32_t)c->len, TS,
                                       &got), DECODE_OK);
        check_tunnel(c->name, c->len, &want, &got);
    }
}

/*
 * Every tunnel frame cut at every length: below what the carrier's own
 * record needs it is DECODE_TRUNCATED; from there until the inner UDP ports
 * are whole it is the carrier's record with DECODE_TUN_F_UNDECODED (never a
 * half-read inner record; three deep: the innermost carrier that is whole,
 * tunnel included); with the ports it is the inner record.
 */
static void test_tunnel_truncation(void **state)
{
    (void)state;
    for (size_t i = 0; i < NTCASES; i++) {
        const struct tcase *c = &tcases[i];
        size_t inner_ok = c->len - 4 - 4;          /* the inner UDP ports end 8 bytes before the end */

        for (size_t cut = 0; cut < c->len; cut++) {
            struct pkt_record got;
            enum decode_result r = tunnel_cut(c, cut, DECODE_OPT_DECAP, &got);

            if (cut < c->outer_ok) {
                if (r != DECODE_TRUNCATED) {
                    print_error("%s cut at %zu: want truncated, got %s\n", c->name, cut,
                                decode_result_name(r));
                    fail();
                }
                continue;
            }
            assert_int_equal(r, DECODE_OK);
            if (cut >= inner_ok) {
                struct pkt_record want = tunnel_inner(c);
                check_tunnel(c->name, cut, &want, &got);
            } else if (c->depth == 1) {
                struct pkt_record want = tunnel_outer(c);
                want.tun_flags = DECODE_TUN_F_UNDECODED;
                check_tunnel(c->name, cut, &want, &got);
            } else {
                assert_int_equal(got.tun_flags & DECODE_TUN_F_UNDECODED, DECODE_TUN_F_UNDECODED);
                assert_true(got.tun_depth < c->depth);
                assert_int_equal(got.proto, 4);
            }
        }
    }
}

/* A fourth tunnel is left closed (depth cap), a tunnel in a first fragment
 * too, and a tunnel carrying no IP (ARP in VXLAN, a GTP-U echo) stays the
 * outer flow; the fast path hands VXLAN to the tunnel decoder only with
 * DECODE_OPT_DECAP. */
static void test_tunnel_limits(void **state)
{
    static const uint8_t ipip4[] = { ETH(0x0800), OUT4(4), OUT4(4), OUT4(4), OUT4(4), IN4(17), IN_UDP };
    static const uint8_t gre_frag[] = {
        ETH(0x0800), 0x45, 0, 0, 0, 0, 2, 0x20, 0x00, 64, 47, 0, 0, V4_SRC, V4_DST,
        0x00, 0x00, BE16(0x0800), IN4(17), IN_UDP };
    static const uint8_t vxlan_arp[] = {
        ETH(0x0800), OUT4(17), UDP(40000, 4789, 0), 0x08, 0, 0, 0, 0, 0, 0x64, 0,
        IN_ETH(0x0806), 0, 1, 8, 0, 6, 4, 0, 1 };
    static const uint8_t gtp_echo[] = {
        ETH(0x0800), OUT4(17), UDP(2152, 2152, 0), 0x32, 0x01, BE16(4), BE32(0u), 0, 1, 0, 0 };
    static const uint8_t o4s[16] = V4_SRC_A;
    struct pkt_record r;

    (void)state;
    assert_int_equal(decode_packet_opts(DECODE_DLT_EN10MB, ipip4, sizeof ipip4, 0, TS,
                                        DECODE_OPT_DECAP, &r), DECODE_OK);
    assert_int_equal(r.tun_depth, 3);
    assert_int_equal(r.proto, 4);                 /* the fourth IP-in-IP, left closed */
    assert_memory_equal(r.src, o4s, 16);
    assert_int_equal(r.tun_flags, DECODE_TUN_F_CAPPED);

    assert_int_equal(decode_packet_opts(DECODE_DLT_EN10MB, gre_frag, sizeof gre_frag, 0, TS,
                                        DECODE_OPT_DECAP, &r), DECODE_OK);
    assert_int_equal(r.proto, 47);
    assert_int_equal(r.flags, PKT_F_FRAG_FIRST);
    assert_int_equal(r.tun_depth, 0);
    assert_int_equal(r.tun_flags, DECODE_TUN_F_FRAGMENT);

    assert_int_equal(decode_packet_opts(DECODE_DLT_EN10MB, vxlan_arp, sizeof vxlan_arp, 0, TS,
                                        DECODE_OPT_DECAP, &r), DECODE_OK);
    assert_int_equal(r.dport, 4789);
    assert_int_equal(r.tun_type, TUNNEL_NONE);
    assert_int_equal(r.tun_flags, DECODE_TUN_F_UNDECODED);

    assert_int_equal(decode_packet_opts(DECODE_DLT_EN10MB, gtp_echo, sizeof gtp_echo, 0, TS,
                                        DECODE_OPT_DECAP, &r), DECODE_OK);
    assert_int_equal(r.dport, 2152);
    assert_int_equal(r.tun_flags, DECODE_TUN_F_UNDECODED);

    /* The fast path's frame shape (Ethernet, IPv4, UDP): outer without the option. */
    assert_int_equal(decode_packet_opts(DECODE_DLT_EN10MB, t_vxlan, sizeof t_vxlan, 0, TS, 0, &r),
                     DECODE_OK);
    assert_int_equal(r.dport, 4789);
    assert_int_equal(r.tun_type, TUNNEL_NONE);
    assert_int_equal(r.tun_flags, 0);
}

/* dpi (issue 15) with tunnels: the payload span is the packet the record
 * describes, the inner one when a tunnel was opened (the fast path's VXLAN
 * and IP-in-IP), the outer one when it was not (no option, or a tunnel that
 * carries no IP). */
static void test_payload_span_tunnel(void **state)
{
    static const uint8_t vxlan_arp[] = {
        ETH(0x0800), OUT4(17), UDP(40000, 4789, 0), 0x08, 0, 0, 0, 0, 0, 0x64, 0,
        IN_ETH(0x0806), 0, 1, 8, 0, 6, 4, 0, 1 };
    struct pkt_record r;
    struct decode_span sp;

    (void)state;
    assert_int_equal(decode_packet_span(DECODE_DLT_EN10MB, t_vxlan, sizeof t_vxlan, 0, TS, DECODE_OPT_DECAP,
                                        &r, &sp), DECODE_OK);
    assert_int_equal(r.tun_type, TUNNEL_VXLAN);
    assert_int_equal(sp.l3_off, 14 + 20 + 8 + 8 + 14);   /* the inner IPv4 header */
    assert_int_equal(sp.l4_off, 28);
    assert_int_equal(sp.l4_len, 4);
    assert_int_equal(sp.l3_len, 32);
    assert_memory_equal(t_vxlan + sp.l3_off + sp.l4_off, "abcd", 4);

    assert_int_equal(decode_packet_span(DECODE_DLT_EN10MB, t_vxlan, sizeof t_vxlan, 0, TS, 0, &r, &sp),
                     DECODE_OK);
    assert_int_equal(sp.l3_off, 14);                     /* no option: the outer UDP datagram */
    assert_int_equal(sp.l4_off, 28);
    assert_int_equal(sp.l4_len, sizeof t_vxlan - 14 - 28);

    assert_int_equal(decode_packet_span(DECODE_DLT_EN10MB, t_ipip, sizeof t_ipip, 0, TS, DECODE_OPT_DECAP,
                                        &r, &sp), DECODE_OK);
    assert_int_equal(sp.l3_off, 14 + 20);
    assert_int_equal(sp.l4_off, 28);
    assert_int_equal(sp.l4_len, 4);
    assert_int_equal(decode_packet_span(DECODE_DLT_EN10MB, t_ipip, sizeof t_ipip, 0, TS, 0, &r, &sp),
                     DECODE_OK);
    assert_int_equal(sp.l3_len, 0);                      /* IP-in-IP left closed: not TCP/UDP */

    assert_int_equal(decode_packet_span(DECODE_DLT_EN10MB, vxlan_arp, sizeof vxlan_arp, 0, TS,
                                        DECODE_OPT_DECAP, &r, &sp), DECODE_OK);
    assert_int_equal(r.tun_flags, DECODE_TUN_F_UNDECODED);
    assert_int_equal(sp.l3_off, 14);                     /* not opened: the outer datagram's span */
    assert_int_equal(sp.l4_off, 28);
    assert_int_equal(sp.l4_len, sizeof vxlan_arp - 14 - 28);
}

static void test_tunnel_names(void **state)
{
    (void)state;
    assert_string_equal(tunnel_type_name(TUNNEL_NONE), "");
    assert_string_equal(tunnel_type_name(TUNNEL_GRE), "gre");
    assert_string_equal(tunnel_type_name(TUNNEL_ERSPAN1), "erspan_i");
    assert_string_equal(tunnel_type_name(TUNNEL_ERSPAN2), "erspan_ii");
    assert_string_equal(tunnel_type_name(TUNNEL_ERSPAN3), "erspan_iii");
    assert_string_equal(tunnel_type_name(TUNNEL_VXLAN), "vxlan");
    assert_string_equal(tunnel_type_name(TUNNEL_GENEVE), "geneve");
    assert_string_equal(tunnel_type_name(TUNNEL_GTPU), "gtpu");
    assert_string_equal(tunnel_type_name(TUNNEL_IPIP), "ipip");
    assert_string_equal(tunnel_type_name(TUNNEL_IP6IP), "ip6ip");
    assert_string_equal(tunnel_type_name(TUNNEL_COUNT), "");
    assert_string_equal(tunnel_id_name(TUNNEL_VXLAN), "vni");
    assert_string_equal(tunnel_id_name(TUNNEL_GTPU), "teid");
    assert_string_equal(tunnel_id_name(TUNNEL_GRE), "gre_key");
    assert_string_equal(tunnel_id_name(TUNNEL_ERSPAN3), "session_id");
    assert_null(tunnel_id_name(TUNNEL_IPIP));
    assert_int_equal(tunnel_key_id(TUNNEL_GTPU, 7), 0);
    assert_int_equal(tunnel_key_id(TUNNEL_VXLAN, 7), 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_tcp_syn_fields),
        cmocka_unit_test(test_stats_fields),
        cmocka_unit_test(test_payload_span),
        cmocka_unit_test(test_payload_span_tunnel),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_ipv6_chain_limit),
        cmocka_unit_test(test_null_data),
        cmocka_unit_test(test_result_names),
        cmocka_unit_test(test_dlt_supported),
        cmocka_unit_test(test_tunnels),
        cmocka_unit_test(test_tunnel_truncation),
        cmocka_unit_test(test_tunnel_limits),
        cmocka_unit_test(test_tunnel_names),
        cmocka_unit_test(test_sll2_ifindex),
        cmocka_unit_test(test_l2l3_facts),
    };
    return cmocka_run_group_tests_name("decode", tests, NULL, NULL);
}
