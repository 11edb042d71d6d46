/*
 * snmp_poller.h — the SNMP polling hook (AGENT_SNMP_CONFIG "targets").
 *
 * Polls every configured target every `interval` seconds and emits one
 * `type: "snmp"` event per poll (see snmp_collect.h for its content). A fixed
 * pool of AGENT_SNMP_CONCURRENCY worker threads takes whichever target is due
 * next, so targets are polled concurrently and a dead or slow target only
 * ever occupies one worker: the others keep their schedule. Each target's
 * net-snmp session is used by one worker at a time (handed over under the
 * scheduler's mutex), as net-snmp's single-session API requires.
 *
 * This creator also owns the one-time net-snmp initialisation
 * (snmp_client_lib_init); the trap creator calls it too, the second call does
 * nothing. Both run in the main thread before any thread starts.
 */
#ifndef TRACER_SNMP_POLLER_H
#define TRACER_SNMP_POLLER_H

#include <stddef.h>
#include <stdint.h>

#include "../hook.h"
#include "snmp_limiter.h"

/* hook_create_fn: 1 when AGENT_SNMP_CONFIG is set (even when the file lists
 * no target: a reload may add some; its `reload` op re-reads the file), 0 otherwise, -1 when the file is invalid (message names the file,
 * the target and the field), -2 when out of memory. */
int hook_snmp_poller_create(const struct config *cfg, struct hook *out, char *err, size_t errlen);

struct snmp_poller_stats {
    uint64_t polls;             /* polls finished (one event each) */
    uint64_t polls_ok;
    uint64_t polls_failed;      /* ok == false */
    uint64_t timeouts;          /* polls that ended in a timeout */
    uint64_t auth_failures;     /* polls that ended in a v3 security error */
    uint64_t truncated;         /* polls where a walk hit max_rows / max_walk_time / max_poll_bytes */
    uint64_t byte_limited;      /* polls cut by max_poll_bytes (also in truncated) */
    uint64_t events_dropped;    /* events lost to a full ring or out of memory */
    uint64_t reloads_applied;   /* reload (issue 17.5): new files applied */
    uint64_t reloads_refused;   /* new files refused (invalid or unreadable: the old targets stay) */
    uint64_t targets;           /* targets polled now */
};

/* Snapshot of a poller hook's counters. Any thread. */
void snmp_poller_get_stats(void *self, struct snmp_poller_stats *out);

/*
 * Take a slot of `l` (shared with the API's on-demand jobs, see snmp_limiter.h)
 * around every poll, so both together respect AGENT_SNMP_CONCURRENCY. `l`
 * outlives the hook. Main thread, before start.
 */
void snmp_poller_set_limiter(void *self, snmp_limiter *l);

/*
 * `--once snmp NAME`: poll the target called `name` in AGENT_SNMP_CONFIG once,
 * now, in this thread, and set *out to its `type: "snmp"` event (caller frees;
 * "ok" says whether the poll worked). Returns 0; -1 when the file is invalid
 * or has no such target (message in err naming the file and listing the
 * targets); -2 when out of memory. Main thread, no other thread running.
 */
int snmp_poll_once(const struct config *cfg, const char *name, struct cJSON **out, char *err, size_t errlen);

#endif
