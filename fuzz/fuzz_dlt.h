/*
 * fuzz_dlt.h — the link-type selector shared by the packet harnesses and the
 * seed-corpus builder (fuzz/build_corpus.py keeps the same table).
 *
 * The first input byte picks the link type: FUZZ_DLT[b & 0x0f] when the low
 * nibble is below FUZZ_NDLT, else an unsupported type (65535). Bit 7 says
 * the frame was cut by the snap length (wire length > captured length).
 * The rest of the input is the frame, exactly as libpcap hands it over.
 */
#ifndef TRACER_FUZZ_DLT_H
#define TRACER_FUZZ_DLT_H

#include <stddef.h>
#include <stdint.h>

#include "capture/decode.h"

static const int FUZZ_DLT[] = {
    DECODE_DLT_NULL, DECODE_DLT_EN10MB, DECODE_DLT_RAW, DECODE_DLT_RAW_ALT, DECODE_LINKTYPE_RAW,
    DECODE_DLT_LOOP, DECODE_DLT_LINUX_SLL, DECODE_DLT_IPV4, DECODE_DLT_IPV6, DECODE_DLT_LINUX_SLL2,
    DECODE_DLT_PPP, DECODE_DLT_PPP_SERIAL, DECODE_DLT_C_HDLC, DECODE_DLT_NFLOG,
};
_Static_assert(sizeof FUZZ_DLT / sizeof FUZZ_DLT[0] < 0x0f, "0x0f selects an unsupported type");
#define FUZZ_NDLT (sizeof FUZZ_DLT / sizeof FUZZ_DLT[0])
#define FUZZ_DLT_TRUNCATED 0x80u

static inline int fuzz_dlt_of(uint8_t b)
{
    unsigned i = b & 0x0fu;
    return i < FUZZ_NDLT ? FUZZ_DLT[i] : 65535;
}

#endif
