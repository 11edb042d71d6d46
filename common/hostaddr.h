/*
 * hostaddr.h — the sensor host's own IP addresses, for flow `direction`.
 *
 * A flow is "outbound" when only its initiator is one of this host's
 * addresses, "inbound" when only its responder is, "local" when both are, and
 * "unknown" otherwise. The set is read with getifaddrs() and refreshed by its
 * owner (the sender thread) every few seconds so added or removed addresses
 * show up in new flows. Not thread-safe: one owner thread.
 */
#ifndef TRACER_HOSTADDR_H
#define TRACER_HOSTADDR_H

#include <stddef.h>
#include <stdint.h>

typedef struct hostaddr hostaddr;

/* Create and load the current addresses. NULL on out of memory (message in err). */
hostaddr *hostaddr_create(char *err, size_t errlen);
void      hostaddr_destroy(hostaddr *h);   /* NULL-safe */

/* Re-read the addresses; keeps the old set if getifaddrs fails. Returns 0 or -1. */
int hostaddr_refresh(hostaddr *h);

/* Replace the set by an explicit list (tests, and hooks that track netlink). */
int hostaddr_set(hostaddr *h, const uint8_t (*addrs)[16], const uint8_t *versions, size_t n);

/*
 * Address generation: a process-wide counter that whoever watches the kernel's
 * address list (the topology hook's rtnetlink listener) bumps when an address
 * is added or removed, so the owner refreshes at once instead of at its next
 * periodic re-read. This is the module's one piece of shared mutable state, on
 * purpose: the address list it mirrors is itself per process (per network
 * namespace), and a counter needs no plumbing between the two threads.
 * hostaddr_bump_generation: any thread (release). hostaddr_stale: the owner;
 * one acquire load, true when a bump happened since the last refresh started.
 */
void hostaddr_bump_generation(void);
uint64_t hostaddr_generation(void);
int hostaddr_stale(const hostaddr *h);

/* Whether `addr` (pkt_record layout; ip_version 4 or 6) is one of the host's. */
int hostaddr_contains(const hostaddr *h, int ip_version, const uint8_t *addr);

#endif
