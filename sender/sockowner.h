/*
 * sockowner.h — which process owns a flow's socket on this host (issue 15
 * item 6, NFStream's "system visibility").
 *
 * The kernel knows every socket's addresses and inode (sock_diag / inet_diag
 * over netlink, what `ss` uses) but not its process; /proc/<pid>/fd links
 * ("socket:[inode]") give the process, /proc/<pid>/comm its name. A snapshot
 * of both is taken about once a second and kept in a bounded cache keyed by
 * the socket's addresses, so a flow that ended (socket closed) after the
 * snapshot still finds its owner. Lookups happen on the sender thread when a
 * flow event is written, never on the packet path.
 *
 * Limits, by design: only sockets in the sensor's network namespace (the
 * netlink socket's), only processes the sensor may inspect: /proc/<pid>/fd of
 * another user's process (or of a more privileged one) needs CAP_SYS_PTRACE,
 * which the sensor does not keep; those processes are counted
 * (proc_denied), their sockets stay unattributed. Live capture only.
 *
 * Not thread-safe except sockowner_get_stats: one owner thread (the sender).
 */
#ifndef TRACER_SOCKOWNER_H
#define TRACER_SOCKOWNER_H

#include <stddef.h>
#include <stdint.h>

#include "../models/flow_event.h"

typedef struct sockowner sockowner;

struct sockowner_stats {
    uint64_t snapshots;        /* socket table dumps done */
    uint64_t snapshot_errors;  /* dumps that failed (netlink error): the cache kept its entries */
    uint64_t proc_scans;       /* /proc scans made to resolve new sockets */
    uint64_t proc_denied;      /* /proc/<pid>/fd directories the sensor may not read (cumulative per scan) */
    uint64_t cache_full;       /* sockets not cached because the cache was full */
    uint64_t cached;           /* sockets in the cache now */
    uint64_t lookups;          /* flow endpoints looked up */
    uint64_t found;            /* ... that found their process */
};

/*
 * Create an empty cache of at most `max_entries` sockets (>= 16). NULL with a
 * message in err when out of memory or max_entries is too small. Nothing is
 * read until the first sockowner_refresh. Any thread (then owned by one).
 */
sockowner *sockowner_create(uint32_t max_entries, char *err, size_t errlen);

/* NULL-safe. */
void sockowner_destroy(sockowner *so);

/*
 * Take a snapshot now: dump the TCP and UDP sockets (IPv4, IPv6), add new
 * ones to the cache, resolve their processes by scanning /proc when some are
 * new, and drop entries unseen for SOCKOWNER_KEEP_US. `now_us` is a monotonic
 * time. Returns 0, or -1 when the dump failed (counted; the cache stays).
 * Owner thread; takes milliseconds on a busy host (call about once a second).
 */
int sockowner_refresh(sockowner *so, uint64_t now_us);

/* How long an entry stays after its socket was last seen (covers idle timeouts). */
#define SOCKOWNER_KEEP_US (180ull * 1000000ull)

/*
 * Fill ev->xs.proc_pid/proc_name (and XS_PROC_SRC/XS_PROC_DST) for the
 * endpoints of a TCP or UDP flow that have an owning socket in the cache. When
 * neither is found and the last snapshot is older than 200 ms, takes one
 * first (a flow still open when its record is written). Owner thread.
 */
void sockowner_fill(sockowner *so, struct flow_event *ev, uint64_t now_us);

/* Counters (relaxed reads). Any thread. */
void sockowner_get_stats(const sockowner *so, struct sockowner_stats *out);

#endif
