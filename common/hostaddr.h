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
 * A change signal between whoever watches the kernel's address list (the
 * topology hook's rtnetlink listener) and the set's owner (the sender): the
 * watcher bumps it when an address is added or removed, and the owner, which
 * checks hostaddr_stale() once per pass, re-reads at once instead of at its
 * next periodic refresh. main creates it and hands it to both.
 */
typedef struct hostaddr_signal hostaddr_signal;

hostaddr_signal *hostaddr_signal_create(void);          /* NULL when out of memory */
void hostaddr_signal_destroy(hostaddr_signal *sig);     /* NULL-safe; after both users stopped */
void hostaddr_signal_bump(hostaddr_signal *sig);        /* any thread; NULL-safe (release) */

/* Owner, before it uses h: follow `sig` (NULL: only periodic refreshes). */
void hostaddr_attach(hostaddr *h, const hostaddr_signal *sig);

/* Owner: 1 when the attached signal was bumped since the last refresh began (one acquire load). */
int hostaddr_stale(const hostaddr *h);

/* Whether `addr` (pkt_record layout; ip_version 4 or 6) is one of the host's. */
int hostaddr_contains(const hostaddr *h, int ip_version, const uint8_t *addr);

#endif
