/*
 * fuzz_trap.c — libFuzzer harness for the SNMP trap receiver's datagram
 * handling (hooks/snmp/snmp_trap.c).
 *
 * Anyone who can reach AGENT_TRAP_LISTEN can send it datagrams. The input is
 * one datagram; snmp_trap_input_datagram runs it through the path the
 * listening thread runs for a datagram read from its socket (net-snmp's BER
 * and USM parse, the counters, the community check, the inform reply, the
 * event), and the event is printed as the sender would print it and checked
 * (fuzz_json.h). The receiver
 * is configured like the end-to-end test's (tests/e2e/test_snmp.py), so that
 * the seeds fuzz/build_corpus.py captures from snmptrap/snmpinform get past
 * the community and USM checks: communities "trapComm1, other", v3 trap user
 * "trapuser" (SHA-256/AES) for engine 0x8000000001020304, and a
 * noAuthNoPriv user "fuzznoauth" for the same engine (no digest to forge, so
 * mutated v3 messages reach the scoped PDU). The per-source rate limits are off
 * ("rate": 0: every input comes from the one memory source, and a bucket that
 * ran dry would stop the fuzzer reaching the event code); the event caps keep
 * their defaults. One receiver per process (net-snmp's
 * USM user list is process-wide). Static names are prefixed ft_.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "common/ring.h"
#include "hooks/hook.h"
#include "hooks/snmp/snmp_trap.h"
#include "sender/sender.h"
#include "fuzz/fuzz_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char FT_USERS[] =
    "{\"trap_users\": ["
    "{\"username\": \"trapuser\", \"auth_protocol\": \"SHA256\", \"auth_password\": \"trapAuthPass1\","
    " \"priv_protocol\": \"AES\", \"priv_password\": \"trapPrivPass1\", \"engine_id\": \"0x8000000001020304\"},"
    "{\"username\": \"fuzznoauth\", \"engine_id\": \"0x8000000001020304\"}],"
    " \"trap_limits\": {\"rate\": 0, \"inform_rate\": 0}}";

static ring *ft_ring;
static struct hook ft_hook;

static void ft_setup(void)
{
    char err[512];
    if (ft_hook.self)
        return;
    ft_ring = ring_create(64, sizeof(struct sender_json_msg), err, sizeof err);
    if (!ft_ring) {
        fprintf(stderr, "fuzz_trap: ring: %s\n", err);
        abort();
    }
    if (snmp_trap_create_memory("trapComm1, other", FT_USERS, ft_ring, &ft_hook, err, sizeof err) != 0) {
        fprintf(stderr, "fuzz_trap: receiver: %s\n", err);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ft_setup();
    snmp_trap_input_datagram(ft_hook.self, data, size);
    struct sender_json_msg m;
    while (ring_pop(ft_ring, &m)) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(m.obj, "type");
        if (!cJSON_IsString(type) || strcmp(type->valuestring, "trap") != 0)
            abort();
        fuzz_json_check(m.obj);
        cJSON_Delete(m.obj);
    }
    return 0;
}
