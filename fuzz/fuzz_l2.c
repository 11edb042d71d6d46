/*
 * fuzz_l2.c — libFuzzer harness for the LLDP and CDP decoders
 * (hooks/topology/l2_neighbors.c) and what the topology hook does with their result.
 *
 * Any host on the segment can send LLDP/CDP frames, and the sensor decodes
 * them. Input: one mode byte, then bytes.
 *   mode & 3 == 0: the bytes are an LLDPDU (l2n_decode_lldp);
 *   mode & 3 == 1: the bytes are a CDP PDU (l2n_decode_cdp);
 *   mode & 3 >= 2: the bytes are a whole frame of link type
 *                  fuzz_dlt_of(mode >> 2) (fuzz_dlt.h), taken the way the
 *                  capture thread and the topology hook take it:
 *                  decode_l2_discovery, a copy cut to CAPTURE_L2_MAX,
 *                  l2n_decode_frame (mode & 3 == 3: the capture was cut).
 * Every decoded neighbour then goes through l2n_table_should_report and
 * l2n_to_json, printed as the sender would and checked (fuzz_json.h).
 * Static names are prefixed fl_ (tests/unit/test_fuzz_regressions.c
 * includes this file).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "capture/capture.h"
#include "capture/decode.h"
#include "fuzz/fuzz_dlt.h"
#include "fuzz/fuzz_json.h"
#include "hooks/topology/l2_neighbors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fl_report(const struct l2n_neighbor *n, const struct decode_l2_info *info)
{
    if (n->n_mgmt > L2N_MAX_ADDRS || n->n_addrs > L2N_MAX_ADDRS)
        abort();
    l2n_table *t = l2n_table_create(4);
    if (t) {
        (void)l2n_table_should_report(t, n, 1700000000000000ull);
        (void)l2n_table_should_report(t, n, 1700000001000000ull);
        l2n_table_destroy(t);
    }
    cJSON *o = l2n_to_json(n, info, "eth0", 1700000000000000ull);
    fuzz_json_check(o);
    cJSON_Delete(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    const uint8_t *p = data + 1;
    size_t len = size - 1;
    struct l2n_neighbor n;
    struct decode_l2_info info;
    memset(&info, 0, sizeof info);

    if ((mode & 3) < 2) {
        enum l2n_status st = (mode & 3) == 0 ? l2n_decode_lldp(p, len, &n) : l2n_decode_cdp(p, len, &n);
        if (st == L2N_OK)
            fl_report(&n, &info);
        return 0;
    }
    enum decode_l2_kind kind = decode_l2_discovery(fuzz_dlt_of((uint8_t)(mode >> 2)), p, len, &info);
    if (kind == DECODE_L2_NONE)
        return 0;
    /* capture.c: copy at most CAPTURE_L2_MAX bytes into the side ring's slot */
    size_t caplen = len < CAPTURE_L2_MAX ? len : CAPTURE_L2_MAX;
    uint8_t *copy = malloc(caplen ? caplen : 1);   /* exact size: ASan sees any overread */
    if (!copy)
        return 0;
    memcpy(copy, p, caplen);
    bool cut = (mode & 3) == 3 || caplen < len;
    if (l2n_decode_frame((uint8_t)kind, &info, copy, caplen, cut, &n) == L2N_OK)
        fl_report(&n, &info);
    free(copy);
    return 0;
}
