/*
 * fuzz_decode.c — libFuzzer harness for the packet decoder (capture/decode.c).
 *
 * The decoder sees every frame of hostile traffic first, on the capture
 * thread; it must never read outside the captured bytes. Input: one selector
 * byte (fuzz_dlt.h: link type, snap-length cut) and the frame. The frame goes
 * through what capture.c does with it: decode_packet (with and without
 * tunnel decapsulation), and for a frame that is not IP, decode_l2_discovery (here: for every frame). The contracts that can be checked from
 * outside are checked, and a breach aborts like a sanitizer report would.
 * Also built into tests/unit/test_fuzz_regressions.c, which renames the entry
 * point (so names here other than it stay static and prefixed fd_).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capture/decode.h"
#include "fuzz/fuzz_dlt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The flow fields of two records agree. */
static int fd_same_flow(const struct pkt_record *a, const struct pkt_record *b)
{
    return memcmp(a->src, b->src, 16) == 0 && memcmp(a->dst, b->dst, 16) == 0 &&
           a->sport == b->sport && a->dport == b->dport && a->proto == b->proto &&
           a->ip_version == b->ip_version && a->flags == b->flags && a->frag_id == b->frag_id &&
           a->tcp_flags == b->tcp_flags && a->icmp_type == b->icmp_type &&
           a->icmp_code == b->icmp_code && a->vlan_id == b->vlan_id && a->wire_len == b->wire_len;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    int dlt = fuzz_dlt_of(data[0]);
    const uint8_t *frame = data + 1;
    size_t caplen = size - 1;
    uint32_t wire_len = (uint32_t)caplen + ((data[0] & FUZZ_DLT_TRUNCATED) ? 1000u : 0u);

    struct pkt_record rec;
    memset(&rec, 0xa5, sizeof rec);
    enum decode_result r = decode_packet(dlt, frame, caplen, wire_len, 1700000000000000ull, &rec);
    if ((unsigned)r >= DECODE_RESULT_COUNT || !decode_result_name(r))
        abort();
    if (r == DECODE_OK && ((rec.ip_version != 4 && rec.ip_version != 6) || rec.wire_len != wire_len))
        abort();
    if (r == DECODE_UNSUPPORTED_LINK && decode_dlt_supported(dlt))
        abort();
    /* Tunnels (issue 14), as the capture decodes by default: opening them
     * never changes the result (what cannot be opened stays the outer
     * record), and the tunnel fields stay within their ranges. */
    {
        struct pkt_record in;
        memset(&in, 0xa5, sizeof in);
        enum decode_result ri = decode_packet_opts(dlt, frame, caplen, wire_len, 1700000000000000ull,
                                                   DECODE_OPT_DECAP, &in);
        if (ri != r)
            abort();
        if (ri == DECODE_OK && (in.tun_depth > DECODE_MAX_TUNNELS || in.tun_type >= TUNNEL_COUNT ||
                                (in.tun_type != TUNNEL_NONE) != (in.tun_depth != 0) ||
                                (in.ip_version != 4 && in.ip_version != 6)))
            abort();
        if (ri == DECODE_OK && in.tun_depth == 0 && !fd_same_flow(&in, &rec))
            abort();                    /* no tunnel opened: the record without the option */
    }
    /* dpi (issue 15): the payload path's spans stay inside the frame, and the
     * record is the same one decode_packet gives. */
    {
        struct pkt_record rec2;
        struct decode_span sp;
        memset(&rec2, 0xa5, sizeof rec2);
        enum decode_result r2 = decode_packet_span(dlt, frame, caplen, wire_len, 1700000000000000ull,
                                                   0, &rec2, &sp);
        if (r2 != r || (r == DECODE_OK && memcmp(&rec, &rec2, sizeof rec) != 0))
            abort();
        if (sp.l3_len && ((uint64_t)sp.l3_off + sp.l3_len > caplen || sp.l4_off + sp.l4_len != sp.l3_len ||
                          sp.l4_off > sp.l3_len))
            abort();
        /* with tunnels opened (the capture's default): the record of
         * decode_packet_opts, and a span (the inner packet's) inside the frame */
        struct pkt_record in2, in3;
        memset(&in2, 0xa5, sizeof in2);
        memset(&in3, 0xa5, sizeof in3);
        r2 = decode_packet_span(dlt, frame, caplen, wire_len, 1700000000000000ull, DECODE_OPT_DECAP, &in2, &sp);
        enum decode_result r3 = decode_packet_opts(dlt, frame, caplen, wire_len, 1700000000000000ull,
                                                   DECODE_OPT_DECAP, &in3);
        if (r2 != r3 || (r2 == DECODE_OK && memcmp(&in2, &in3, sizeof in2) != 0))
            abort();
        if (sp.l3_len && ((uint64_t)sp.l3_off + sp.l3_len > caplen || sp.l4_off + sp.l4_len != sp.l3_len ||
                          sp.l4_off > sp.l3_len))
            abort();
    }
    /* capture.c asks only about DECODE_NOT_IP frames; the contract holds for any. */
    {
        struct decode_l2_info info;
        enum decode_l2_kind k = decode_l2_discovery(dlt, frame, caplen, &info);
        if (k != DECODE_L2_NONE && k != DECODE_L2_LLDP && k != DECODE_L2_CDP)
            abort();
        if (k != DECODE_L2_NONE && info.offset > caplen)
            abort();
    }
    return 0;
}
