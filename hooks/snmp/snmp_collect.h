/*
 * snmp_collect.h — one poll of one target, as a `type: "snmp"` event.
 *
 * The poller decides when a target is due; this module decides what a poll
 * asks and how the answers become JSON: the system group (one GET), the
 * interface table (ifTable joined with ifXTable on ifIndex, 64-bit counters
 * preferred), the neighbour tables (ipNetToMediaTable and
 * ipNetToPhysicalTable merged on ifIndex + address), the LLDP-MIB remote
 * table (with the management addresses and the local port's name), and
 * plain GETs. Walks are bounded by the target's max_rows / max_walk_time
 * (snmp_client), and a whole poll by max_poll_bytes (values + names): a
 * section a bound cut short is named in "truncated"; when the byte bound cut
 * it, the sections after it are not asked for and the event carries
 * "max_poll_bytes": N.
 * Runs on a poller worker thread; allocates only per poll.
 */
#ifndef TRACER_SNMP_COLLECT_H
#define TRACER_SNMP_COLLECT_H

#include <pthread.h>
#include <stdatomic.h>

#include "snmp_client.h"
#include "snmp_config.h"

struct cJSON;

/*
 * Poll `t`. *client is the target's open session or NULL (then it is opened
 * here, and left in *client for the next poll; on a failure that suggests
 * the session is stale it is closed and set to NULL). Returns a new event
 * object {"type": "snmp", "target", "host", "port", "version", "ok",
 * "error", "duration_ms", sections...}, or NULL when out of memory.
 * Credentials never appear in it. `open_lock`, when not NULL, is held while
 * a session is opened (v3 engine discovery writes net-snmp's USM user list).
 */
struct cJSON *snmp_collect_poll(const struct snmp_target *t, snmp_client **client, const atomic_bool *stop,
                                pthread_mutex_t *open_lock);

/* The sections of a poll, in the order they are asked for (system, interfaces, arp, lldp, oids). */
#define SNMP_COLLECT_NSECTIONS 5
const char *snmp_collect_section_name(size_t i);   /* "" when i is out of range */

/*
 * How far a poll has come, for a thread watching it (the on-demand jobs):
 * the poll writes, anyone reads, all relaxed. Times are CLOCK_MONOTONIC ms,
 * 0 = not yet; a section the target does not ask for stays all zero, and one
 * that failed or was stopped keeps end_ms 0.
 */
struct snmp_collect_progress {
    _Atomic uint64_t rows[SNMP_COLLECT_NSECTIONS];       /* variables delivered so far */
    _Atomic uint64_t start_ms[SNMP_COLLECT_NSECTIONS];
    _Atomic uint64_t end_ms[SNMP_COLLECT_NSECTIONS];
};

/* snmp_collect_poll, publishing its progress in *prog (zeroed by the caller; NULL = none). The
 * event is the same. Same thread rules. */
struct cJSON *snmp_collect_poll_watched(const struct snmp_target *t, snmp_client **client, const atomic_bool *stop,
                                        pthread_mutex_t *open_lock, struct snmp_collect_progress *prog);

/* The sections on their own (for tests and the poll above): each returns an
 * snmp_client_status and sets *out to a new cJSON value (possibly partial on
 * SNMPC_LIMIT, NULL on other failures). */
int snmp_collect_system(snmp_client *c, struct cJSON **out, char *err, size_t errlen);
int snmp_collect_interfaces(snmp_client *c, struct cJSON **out, char *err, size_t errlen);
int snmp_collect_arp(snmp_client *c, struct cJSON **out, char *err, size_t errlen);
int snmp_collect_lldp(snmp_client *c, struct cJSON **out, char *err, size_t errlen);
int snmp_collect_oids(snmp_client *c, const struct snmp_target *t, struct cJSON **out, char *err, size_t errlen);

#endif
