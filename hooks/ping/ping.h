/*
 * ping.h — the reachability-check hook (AGENT_PING_CONFIG): ICMP and ICMPv6
 * echo to a list of targets, one `type: "ping"` event per target and round.
 *
 * Every `interval` a target gets a round of `count` echo requests,
 * `probe_interval` apart; each must be answered within `timeout`. When the
 * round is over (every probe answered, or the last one's timeout passed) the
 * hook emits the round's sent/received/loss, RTT min/avg/max/stddev and jitter
 * (hooks/ping/ping_stats.h defines them). One thread serves every target with
 * one socket per address family, so a silent target costs nothing but its
 * timeouts.
 *
 * Sockets (AGENT_PING_SOCKET): "raw" opens SOCK_RAW ICMP sockets, which needs
 * CAP_NET_RAW at the moment of socket() only: the hook raises it from the
 * permitted set around that call (common/caps.h), as the capture does for its
 * packet socket, then drops it again. "datagram" opens the kernel's
 * unprivileged ICMP sockets (SOCK_DGRAM, IPPROTO_ICMP / IPPROTO_ICMPV6), which
 * the sysctl net.ipv4.ping_group_range allows per group (it governs both
 * families). "auto" (the default) tries raw, then datagram. They are opened at
 * start, before the seccomp allow-list is applied; sending and receiving use
 * only calls on that list.
 *
 * Reload (hook_ops.reload) re-reads the file and applies it: a target whose
 * name and every parameter are unchanged keeps its schedule (its current round
 * goes on); a changed target restarts now (its unfinished round is dropped,
 * counted); a removed one stops; an added one starts now.
 */
#ifndef TRACER_PING_H
#define TRACER_PING_H

#include <stddef.h>
#include <stdint.h>

#include "../hook.h"

/* hook_create_fn: 1 when AGENT_PING_CONFIG is set (even with no targets, so
 * that a reload can add some), 0 otherwise, -1 when the file is invalid
 * (message names the file, the target and the field), -2 on another failure. */
int hook_ping_create(const struct config *cfg, struct hook *out, char *err, size_t errlen);

struct ping_hook_stats {
    uint64_t probes_sent;       /* echo requests handed to the kernel */
    uint64_t replies;           /* replies matched to a probe within its timeout */
    uint64_t timeouts;          /* probes sent and not answered within their timeout */
    uint64_t send_errors;       /* probes the kernel refused (or no socket for their family) */
    uint64_t late_replies;      /* matched replies that came after their timeout or twice */
    uint64_t bad_replies;       /* truncated, malformed or bad-checksum packets */
    uint64_t foreign_replies;   /* well-formed echo replies not to our probes (raw sockets see all),
                                   or with our tag from an address that is not the target's */
    uint64_t rounds;            /* rounds finished (one event each) */
    uint64_t rounds_dropped;    /* unfinished rounds of targets a reload changed or removed, or cut by the stop */
    uint64_t events_dropped;    /* events lost to a full ring or out of memory */
    uint64_t reloads, reload_failures;
    uint64_t targets;           /* targets now */
};

/* Snapshot of the hook's counters. Any thread. */
void ping_hook_get_stats(void *self, struct ping_hook_stats *out);

/*
 * The key of the target called `name` (its probes carry it; a reload keeps it
 * for an unchanged target and gives a changed or added one a new key), or 0
 * when there is no such target. For operators' debugging and the tests. Any
 * thread (takes the hook's lock).
 */
uint32_t ping_hook_target_key(void *self, const char *name);

#endif
