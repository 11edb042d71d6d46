/*
 * delivery.h — at-least-once delivery of batches to the HTTP endpoint.
 *
 * The sender thread serializes events into batches and hands each finished
 * batch to delivery_submit(), which never blocks. A delivery thread POSTs the
 * batches in order over one kept-alive connection and owns the retry policy:
 *  - delivered (2xx): done;
 *  - network error, timeout, 5xx, 408, 429: retried with exponential backoff
 *    (AGENT_RETRY_BASE doubling up to AGENT_RETRY_MAX, with jitter in
 *    [delay/2, delay]) or after Retry-After when the endpoint sends one;
 *  - any other status: not retried; the batch is dropped, counted, and the
 *    status logged once with the start of the response body.
 * Memory is bounded by AGENT_QUEUE_MAX_EVENTS. With a spool directory, a batch
 * goes to disk when it does not fit in memory, or when it has not been
 * delivered AGENT_SPOOL_AFTER after it was made; spooled batches are replayed
 * oldest first whenever the memory queue is empty (also after a restart).
 * Without a spool, a batch that does not fit is dropped and counted.
 * delivery_finish() keeps delivering for at most AGENT_SHUTDOWN_TIMEOUT, then
 * spools (or drops and counts) what is left.
 */
#ifndef TRACER_DELIVERY_H
#define TRACER_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

struct config;
typedef struct delivery delivery;

struct delivery_stats {
    uint64_t events_queued, batches_queued;       /* accepted by delivery_submit */
    uint64_t events_sent, batches_sent;           /* 2xx, from memory or the spool */
    uint64_t events_replayed, batches_replayed;   /* of which from the spool */
    uint64_t retries;                             /* failed attempts that will be retried */
    uint64_t events_spooled, batches_spooled;     /* written to the spool */
    uint64_t dropped_queue_full;                  /* events: no room in memory, no spool */
    uint64_t dropped_spool_full;                  /* events: oldest spooled batches deleted for room */
    uint64_t dropped_spool_error;                 /* events: the spool could not take them */
    uint64_t dropped_rejected;                    /* events: the endpoint refused (non-retryable status) */
    uint64_t dropped_shutdown;                    /* events: undelivered at the shutdown timeout, no spool */
    uint64_t spool_corrupt_files;                 /* spool files moved aside */
    uint64_t spool_foreign_files, spool_oversize_files, spool_unauthenticated_files; /* of which: why */
    uint64_t http_2xx, http_3xx, http_4xx, http_5xx, network_errors;
    uint64_t queue_events;                        /* in memory now */
    uint64_t spool_files, spool_events;           /* on disk now */
};

/*
 * Create the HTTP client and, with cfg->spool_dir, open the spool (its
 * existing batches will be replayed). NULL with a message on failure. Main thread.
 */
delivery *delivery_create(const struct config *cfg, char *err, size_t errlen);

/* Start the delivery thread. Returns 0 or -1 with a message. */
int delivery_start(delivery *d, char *err, size_t errlen);

/*
 * Sender thread: hand over a batch (body[0..len), nevents events). The body is
 * copied. Never blocks on the network; may write to the spool when memory is full.
 */
void delivery_submit(delivery *d, const char *body, size_t len, uint32_t nevents);

/*
 * No more submits: deliver what is queued for up to the shutdown timeout, then
 * spool or drop the rest, and join the thread. Any thread but the delivery thread.
 */
void delivery_finish(delivery *d);

/* Any thread. */
void delivery_get_stats(const delivery *d, struct delivery_stats *out);

/* NULL-safe; after delivery_finish (or if never started). */
void delivery_destroy(delivery *d);

#endif
