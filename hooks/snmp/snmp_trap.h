/*
 * snmp_trap.h — the SNMP trap receiver hook (AGENT_TRAP_LISTEN).
 *
 * Devices report events by sending traps and informs; users want them in the
 * same stream as flows. This hook listens on one UDP address (IPv4 or IPv6)
 * through a net-snmp transport and session in its own thread, and turns every
 * accepted v1 trap, v2c trap/inform and v3 trap/inform into a `type: "trap"`
 * event (v1 traps get the RFC 3584 snmpTrapOID; v3 events name the user and
 * security level). Informs are acknowledged. v1/v2c messages whose community
 * is not in AGENT_TRAP_COMMUNITIES (when set) are counted and dropped; so are
 * datagrams that do not parse. The v3 users come from AGENT_SNMP_CONFIG's
 * "trap_users": each is registered for its configured engine id (v3 traps,
 * sent by that engine) and for the sensor's own engine id (v3 informs, where
 * the receiver is authoritative), and only those (engine, user) pairs at or
 * above the user's configured level are accepted, checked before USM runs:
 * USM users the poller creates never authenticate a trap. Refused v3
 * messages are counted as auth failures, and a refused inform is not
 * acknowledged. "trap_limits" bounds each event (varbinds and bytes, then
 * "truncated": true) and each source (token buckets for traps and for inform
 * acknowledgements, in a bounded table). Communities and passwords never
 * appear in events or logs.
 */
#ifndef TRACER_SNMP_TRAP_H
#define TRACER_SNMP_TRAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../hook.h"

/* hook_create_fn: 1 when AGENT_TRAP_LISTEN is set (the socket is bound here,
 * in the main thread), 0 when it is not, -1 on invalid settings (listen
 * address, SNMP config file), -2 when the socket cannot be opened. */
int hook_snmp_trap_create(const struct config *cfg, struct hook *out, char *err, size_t errlen);

/* Counters of the receiver (what ops->stats reports). */
struct snmp_trap_stats {
    uint64_t datagrams;            /* UDP datagrams read */
    uint64_t traps;                /* v1/v2c/v3 traps emitted */
    uint64_t informs;              /* informs emitted */
    uint64_t informs_acked;        /* responses sent to informs */
    uint64_t rejected_community;   /* v1/v2c with a community not accepted */
    uint64_t auth_failures;        /* v3 messages refused: not a configured trap user for that engine, below
                                      the user's security level, or failing USM (digest, decryption) */
    uint64_t malformed;            /* datagrams that did not parse as SNMP */
    uint64_t discovery;            /* v3 engine-id discovery / time-sync probes answered */
    uint64_t other_pdus;           /* parsed messages that are not traps or informs (ignored) */
    uint64_t events_dropped;       /* events lost to a full ring */
    uint64_t rate_limited;         /* traps/informs over their source's rate (no event, no acknowledgement) */
    uint64_t truncated;            /* events whose varbinds were cut by trap_limits */
    uint64_t informs_unanswered;   /* informs emitted but not acknowledged (acknowledgement rate per source) */
    uint64_t sources_evicted;      /* sources dropped from the full rate-limit table */
};

/* Snapshot of the counters of a trap hook's `self`. Any thread. */
void snmp_trap_get_stats(void *self, struct snmp_trap_stats *out);

/* Turn "HOST:PORT" / "[V6]:PORT" into a net-snmp transport spec
 * ("udp:HOST:PORT" / "udp6:[V6]:PORT"). Returns 0, or -1 when the text is
 * not of that form (port 1..65535). */
int snmp_trap_listen_spec(const char *listen, char *buf, size_t buflen);

/*
 * A receiver without a socket, for the fuzz harness and tests: the same
 * session, callbacks, counters and USM users as hook_snmp_trap_create, with
 * `communities` as AGENT_TRAP_COMMUNITIES (NULL = any) and `snmp_config_json`
 * as the text of AGENT_SNMP_CONFIG (NULL = none), on an in-memory transport;
 * events go to `out` (slot size sizeof(struct sender_json_msg)). Do not start
 * it: feed it with snmp_trap_input_datagram, free it with hook->ops->destroy.
 * The trap users are registered in net-snmp's process-wide list, so create
 * such a receiver once per process. Returns 0, -1 (invalid settings), -2.
 */
int snmp_trap_create_memory(const char *communities, const char *snmp_config_json, ring *out,
                            struct hook *hook, char *err, size_t errlen) __attribute__((warn_unused_result));

/*
 * One datagram's bytes through exactly what the listening thread does with a
 * datagram read from its socket (net-snmp parse and USM, then counters,
 * community check, inform acknowledgement, the event), the source being
 * 192.0.2.1:1162 and replies discarded. Only for a receiver made by
 * snmp_trap_create_memory (others are left alone). The caller's thread.
 */
void snmp_trap_input_datagram(void *self, const uint8_t *data, size_t len);

#endif
