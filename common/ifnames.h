/*
 * ifnames.h — the sensor's interface names, by small id, for every thread.
 *
 * Records cross the rings by value, so a flow cannot carry an interface name
 * pointer; it carries a 16-bit id into this table instead, and the sender
 * turns the id back into the name when it writes the JSON. Entries are
 * (ifindex, name) pairs, appended and never changed or removed, so a reader
 * needs no lock: it loads the count (acquire) and reads entries below it.
 * Writers (main at start, a capture thread when a cooked v2 header names an
 * interface it has not seen) take a mutex; that is rare, never per packet.
 * The table is bounded (IFNAMES_MAX); when it is full new interfaces get id 0
 * (the flow then names the capture's own source, e.g. "any") and are counted.
 */
#ifndef TRACER_IFNAMES_H
#define TRACER_IFNAMES_H

#include <stddef.h>
#include <stdint.h>

#define IFNAMES_MAX 1024u

typedef struct ifnames ifnames;

/* An empty table, or NULL when out of memory. Main thread. */
ifnames *ifnames_create(void);

/* NULL-safe; after every thread that uses it has finished. */
void ifnames_destroy(ifnames *t);

/*
 * The id (>= 1) of (ifindex, name), appending it when new; 0 when the table
 * is full (counted) or name is NULL/empty. ifindex may be 0 (a name without
 * an index). Any thread (takes the writers' mutex).
 */
uint16_t ifnames_add(ifnames *t, uint32_t ifindex, const char *name);

/*
 * The id for a kernel interface index: the name comes from if_indextoname
 * (one ioctl); an index the kernel no longer knows (the interface went away)
 * is named "ifindexN". Returns 0 when ifindex is 0 or the table is full.
 * Capture thread, only for an index its own cache does not hold.
 */
uint16_t ifnames_resolve(ifnames *t, uint32_t ifindex);

/*
 * The newest id already held for ifindex, or 0: no system call, no lock (a
 * scan of the published entries). Any thread; the capture uses it before
 * ifnames_resolve, so indexes that collide in its cache cost no ioctl.
 */
uint16_t ifnames_find(const ifnames *t, uint32_t ifindex);

/* The name of id, or NULL for 0 or an id never returned. Any thread, lock-free. */
const char *ifnames_name(const ifnames *t, uint16_t id);

/* Any thread: interfaces that got id 0 because the table was full. */
uint64_t ifnames_full(const ifnames *t);

#endif
