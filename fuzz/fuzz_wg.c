/*
 * fuzz_wg.c — libFuzzer harness for the WireGuard UAPI answer parser
 * (twg_parse_uapi, hooks/topology/topology_wg.c) and what the topology hook
 * does with its result.
 *
 * A userspace WireGuard implementation (wireguard-go, boringtun) answers the
 * topology hook's "get=1" on its unix socket with text; whatever runs behind
 * that socket decides every byte of it. Input: the answer, parsed from an
 * exact-size heap copy (ASan sees any overread). On success the device goes
 * through twg_dev_json and, parsed twice as two polls, through twg_diff (new
 * interface, same peers again after the stale period, interface gone), each
 * change's twg_peer_json; on failure the error text, which the hook puts in
 * its snapshot event, becomes a JSON string. Everything is printed as the
 * sender would and checked (fuzz_json.h). Static names are prefixed fw_
 * (tests/unit/test_fuzz_regressions.c includes this file).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz/fuzz_json.h"
#include "hooks/topology/topology_wg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fw_change(void *ctx, const char *change, const char *ifname, const struct twg_peer *p)
{
    (void)ctx;
    if (!change || !ifname || (p->n_allowed > 0 && !p->allowed_ips))
        abort();
    cJSON *o = twg_peer_json(p);
    fuzz_json_check(o);
    cJSON_Delete(o);
}

static void fw_error(const char *err, size_t errlen)
{
    if (!memchr(err, '\0', errlen))
        abort();                               /* the message must be terminated */
    cJSON *o = cJSON_CreateObject();
    if (o && cJSON_AddStringToObject(o, "error", err))
        fuzz_json_check(o);
    cJSON_Delete(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *copy = malloc(size ? size : 1);      /* exact size: ASan sees any overread */
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    struct twg_dev a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    char err[256];
    memset(err, 'x', sizeof err);
    if (twg_parse_uapi(copy, size, &a, err, sizeof err) != 0) {
        fw_error(err, sizeof err);
        twg_dev_clear(&a);
        free(copy);
        return 0;
    }
    memcpy(a.ifname, "wg0", 4);
    cJSON *o = twg_dev_json(&a);
    fuzz_json_check(o);
    cJSON_Delete(o);
    if (twg_parse_uapi(copy, size, &b, err, sizeof err) != 0)
        abort();                               /* the same text parsed differently */
    memcpy(b.ifname, "wg0", 4);
    const int64_t now = 1700000000;
    twg_diff(NULL, &a, now, false, fw_change, NULL);
    twg_diff(&a, &b, now + TWG_STALE_S + 1, false, fw_change, NULL);
    twg_diff(&b, NULL, now + 2 * TWG_STALE_S, false, fw_change, NULL);
    twg_dev_clear(&a);
    twg_dev_clear(&b);
    free(copy);
    return 0;
}
