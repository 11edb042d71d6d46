/*
 * fuzz_decode.c — libFuzzer harness for the packet decoder (capture/decode.c).
 *
 * The decoder sees every frame of hostile traffic first, on the capture
 * thread; it must never read outside the captured bytes. Input: one selector
 * byte (fuzz_dlt.h: link type, snap-length cut) and the frame. The frame goes
 * through what capture.c does with it: decode_packet, and for a frame that
 * is not IP, decode_l2_discovery (here: for every frame). The contracts that can be checked from
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
    /* dpi (issue 15): the payload path's spans stay inside the frame, and the
     * record is the same one decode_packet gives. */
    {
        struct pkt_record rec2;
        struct decode_span sp;
        memset(&rec2, 0xa5, sizeof rec2);
        enum decode_result r2 = decode_packet_span(dlt, frame, caplen, wire_len, 1700000000000000ull,
                                                   &rec2, &sp);
        if (r2 != r || (r == DECODE_OK && memcmp(&rec, &rec2, sizeof rec) != 0))
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
