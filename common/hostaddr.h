/*
 * hostaddr.h — the sensor host's own IP addresses, for flow `direction`.
 *
 * A flow is "outbound" when only its initiator is one of this host's
 * addresses, "inbound" when only its responder is, "local" when both are, and
 * "unknown" otherwise. The set is read with getifaddrs() and refreshed by its
 * owner (the sender thread) every few seconds so added or removed addresses
 * show up in new flows. Not thread-safe: one owner thread.
 *
 * On a SPAN/TAP port or a replayed file the host's own addresses say nothing
 * about the traffic, so the user may name the local networks instead
 * (AGENT_LOCAL_NETWORKS, as nProbe's --local-networks): then an address is
 * "local" when it lies in one of them, and the host's addresses are not read.
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

/* Whether `addr` (pkt_record layout; ip_version 4 or 6) is one of the host's (or in a local network). */
int hostaddr_contains(const hostaddr *h, int ip_version, const uint8_t *addr);

/* One local network: address (pkt_record layout, host bits cleared) and prefix length. */
struct hostaddr_net {
    uint8_t version;    /* 4 or 6 */
    uint8_t prefix;     /* [0, 32] or [0, 128] */
    uint8_t addr[16];
};

/* Most networks one list may hold. */
#define HOSTADDR_MAX_NETWORKS 1024

/*
 * Parse a comma-separated list of CIDRs ("10.0.0.0/8,fd00::/8"; spaces around
 * items allowed; an address without "/N" is one host; host bits past the
 * prefix are cleared). On success returns 0 and, when out is not NULL, a heap
 * array (caller frees) in *out with its length in *n. On a bad item returns -1
 * with the item and the reason in err. Any thread; no state.
 */
int hostaddr_parse_networks(const char *list, struct hostaddr_net **out, size_t *n, char *err, size_t errlen);

/*
 * From now on, "local" means inside one of the networks in `list` (the syntax
 * of hostaddr_parse_networks); the host's addresses are dropped and refreshes
 * no longer read them. Returns 0, or -1 with the reason in err. Owner thread.
 */
int hostaddr_use_networks(hostaddr *h, const char *list, char *err, size_t errlen);

#endif
