/*
 * fuzz_ping.c — libFuzzer harness for the ping hook's reply parser
 * (hooks/ping/ping_packet.c, ping_packet_parse: what the hook runs on every
 * packet its ICMP sockets receive, whoever sent it). The first byte picks the
 * socket kind (0: IPv4 datagram, ICMP only; 1: IPv4 raw, IP header first;
 * 2: IPv6, ICMPv6 only); the rest is the packet, copied into a buffer of
 * exactly its size so that any over-read is caught.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hooks/ping/ping_packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    unsigned mode = data[0] % 3;
    size_t len = size - 1;
    uint8_t *pkt = malloc(len ? len : 1);
    if (!pkt)
        return 0;
    memcpy(pkt, data + 1, len);
    struct ping_reply r;
    enum ping_parse k = ping_packet_parse(pkt, len, mode == 2, mode == 1, &r);
    if (k == PING_PKT_REPLY) {
        /* An IPv4 reply's ICMP part checksums to zero; a tag needs 8 + 24 bytes of ICMP. */
        if (r.has_tag && len < PING_ICMP_HDR + PING_TAG_LEN)
            abort();
        /* Round trip: a request built from what was read parses as that request. */
        uint8_t out[PING_ICMP_HDR + PING_TAG_LEN];
        if (r.has_tag) {
            size_t n = ping_packet_build(out, sizeof out, mode == 2, r.id, r.seq, &r.tag, PING_TAG_LEN);
            if (n != sizeof out || ping_packet_parse(out, n, mode == 2, false, &r) != PING_PKT_OTHER)
                abort();
        }
    } else if (k != PING_PKT_TRUNC && k != PING_PKT_BADHDR && k != PING_PKT_BADSUM && k != PING_PKT_OTHER) {
        abort();
    }
    free(pkt);
    return 0;
}
