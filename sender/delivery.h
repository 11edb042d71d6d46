/*
 * delivery.h — at-least-once delivery of requests to the HTTP endpoints.
 *
 * The sender thread serializes events into request bodies (one event, or an
 * array / NDJSON of AGENT_BATCH_SIZE events) and hands each to
 * delivery_submit() with its route (0: flows to AGENT_ENDPOINT_URL, 1: every
 * other event type to AGENT_EVENTS_ENDPOINT_URL). A delivery thread keeps up
 * to AGENT_HTTP_CONNECTIONS requests in flight over kept-alive connections
 * (HTTP/2 multiplexed when offered); order across connections is not kept
 * (event_id dedupes). It owns the retry policy:
 *  - delivered (2xx): done;
 *  - network error, timeout, 5xx, 408, 429: retried with exponential backoff
 *    (AGENT_RETRY_BASE doubling up to AGENT_RETRY_MAX, with jitter in
 *    [delay/2, delay]) or after Retry-After; the requests behind it go on.
 *    A request that fails AGENT_RETRY_MAX_ATTEMPTS times while the endpoint
 *    delivers others is set aside: into <spool>/dead-letter (as NDJSON) when
 *    there is a spool, otherwise dropped; counted, logged once;
 *  - any other status: not retried; dropped, counted, the status logged once.
 * Memory is bounded by AGENT_QUEUE_MAX_EVENTS and AGENT_QUEUE_MAX_MB (bodies
 * pending or in flight). When a request does not fit: replaying a file, the
 * submit waits for room (backpressure back to the file reader) unless the
 * endpoint has been failing for AGENT_SPOOL_AFTER; live, it goes to the spool,
 * or is dropped and counted without one. While the endpoint is down, pending
 * requests older than AGENT_SPOOL_AFTER move to the spool. The spool stores
 * events (NDJSON); they are replayed oldest first, when memory is empty,
 * re-framed in the body format in force now (also after a restart).
 * delivery_finish() keeps delivering for at most AGENT_SHUTDOWN_TIMEOUT, then
 * spools (or drops and counts) what is left.
 */
#ifndef TRACER_DELIVERY_H
#define TRACER_DELIVERY_H

#include <stdbool.h>
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
    uint64_t dropped_undeliverable;               /* events: failed AGENT_RETRY_MAX_ATTEMPTS times, no spool */
    uint64_t dropped_unrouted;                    /* events: no endpoint for their type (spooled before) */
    uint64_t events_dead_lettered;                /* events: failed too often, set aside in <spool>/dead-letter */
    uint64_t batches_set_aside;                   /* requests dead-lettered or dropped as undeliverable */
    uint64_t backpressure_waits;                  /* file mode: submits that waited for room */
    uint64_t spool_corrupt_files;                 /* spool files moved aside */
    uint64_t spool_foreign_files, spool_oversize_files, spool_unauthenticated_files; /* of which: why */
    uint64_t http_2xx, http_3xx, http_4xx, http_5xx, network_errors;
    uint64_t queue_events, queue_bytes;           /* in memory now (pending or in flight) */
    uint64_t inflight;                            /* requests in flight now */
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
 * Sender thread: hand over a request body (body[0..len), nevents events) for
 * `route` (0: flows, 1: other events). The body is copied. Never blocks on the
 * network; may write to the spool when memory is full; replaying a file, waits
 * while memory is full and the endpoint answers.
 */
void delivery_submit(delivery *d, unsigned route, const char *body, size_t len, uint32_t nevents);

/* The route of a flow / another event: 0 or 1, or -1 when the type has no endpoint. Any thread. */
int delivery_route_for(const delivery *d, bool flow);

/* Count events dropped because their type has no endpoint. Any thread. */
void delivery_count_unrouted(delivery *d, uint32_t nevents);

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
