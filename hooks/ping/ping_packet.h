/*
 * ping_packet.h — building ICMP/ICMPv6 echo requests and reading the replies.
 *
 * Kept apart from the hook so that the reply parser, which reads whatever a
 * hostile network sends, can be unit-tested and fuzzed alone. Every read goes
 * through a length check (no struct casts on received bytes).
 *
 * A probe's data starts with a 24-byte tag: an 8-byte token the hook draws
 * at random when it starts, the target's key, the round number and the probe's
 * index in the round. A reply counts only when it echoes a tag the hook can
 * match to a probe in flight: a datagram socket's kernel already keeps other
 * processes' replies away, a raw socket sees every echo reply on the host.
 */
#ifndef TRACER_PING_PACKET_H
#define TRACER_PING_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PING_TAG_LEN   24
#define PING_ICMP_HDR  8
#define PING_TOKEN_LEN 8

struct ping_tag {
    uint8_t token[PING_TOKEN_LEN];
    uint32_t key;          /* the target's key (changes when a target is added or changed) */
    uint32_t round;        /* the target's round number */
    uint16_t probe;        /* index of the probe in its round */
};

/* What a received packet was (each one counted by the hook). */
enum ping_parse {
    PING_PKT_REPLY = 0,    /* an echo reply; *out filled */
    PING_PKT_TRUNC,        /* shorter than its headers say */
    PING_PKT_BADHDR,       /* an IPv4 header that is not one (version, IHL, protocol) */
    PING_PKT_BADSUM,       /* ICMPv4 checksum wrong */
    PING_PKT_OTHER,        /* an ICMP message that is not an echo reply */
};

struct ping_reply {
    uint16_t id, seq;
    bool has_tag;          /* the data was long enough to hold a tag */
    struct ping_tag tag;
    uint8_t ttl;           /* IPv4 with header only, else 0 */
};

/*
 * Write an echo request (ICMP type 8, or ICMPv6 type 128 when v6) of
 * PING_ICMP_HDR + size bytes into buf: the header, the tag, then a fixed
 * pattern. For ICMPv4 the checksum is computed (RFC 792); for ICMPv6 it is
 * left 0, the kernel fills it (RFC 4443 2.3, it needs the IPv6 addresses).
 * Returns the length, or 0 when buflen is too small or size < PING_TAG_LEN.
 * Any thread.
 */
size_t ping_packet_build(uint8_t *buf, size_t buflen, bool v6, uint16_t id, uint16_t seq,
                         const struct ping_tag *tag, size_t size);

/*
 * Read a received packet: for IPv4 with its IP header when ip_header (a raw
 * socket) or the ICMP message alone (a datagram socket); for IPv6 always the
 * ICMPv6 message alone (both socket kinds). ICMPv4 checksums are verified.
 * Returns the kind; *out is filled for PING_PKT_REPLY only. Any thread.
 */
enum ping_parse ping_packet_parse(const uint8_t *pkt, size_t len, bool v6, bool ip_header,
                                  struct ping_reply *out);

/* RFC 1071 Internet checksum of `len` bytes. */
uint16_t ping_checksum(const uint8_t *p, size_t len);

#endif
