/*
 * sender.h — the last stage: event rings in, JSON out.
 *
 * The sender thread owns cJSON. It drains every event ring it was given (the
 * processor's, the janitor's, each hook's), turns each event into JSON, and
 * either writes NDJSON (one object per line) to a stream, or batches events
 * into request bodies and hands each to the delivery thread (delivery.h),
 * which owns libcurl, retries and the spool. Bodies follow AGENT_HTTP_BODY:
 * one JSON object per POST by default (go-Tracer's), or an array / NDJSON of
 * up to AGENT_BATCH_SIZE events closed when full or AGENT_SEND_INTERVAL after
 * its first event. Flow events go to AGENT_ENDPOINT_URL, every other type to
 * AGENT_EVENTS_ENDPOINT_URL. Beside them (issue 16) the same text goes to
 * Kafka (AGENT_KAFKA_BROKERS, kafka_output.h) and, with AGENT_STDOUT, to the
 * stream as well; each output keeps its own counters (sender_stats).
 */
#ifndef TRACER_SENDER_H
#define TRACER_SENDER_H

#include <stdint.h>
#include <stdio.h>

#include "../common/hostaddr.h"
#include "../common/ring.h"
#include "../models/flow_event.h"
#include "delivery.h"
#include "sockowner.h"
#include "ipfix_export.h"
#include "kafka_output.h"

struct config;
typedef struct sender sender;

/* Event types as the sender counts them (the "type" member; flows from the flow rings). */
enum sender_event_type {
    SENDER_EV_FLOW, SENDER_EV_SNMP, SENDER_EV_TRAP, SENDER_EV_TOPOLOGY, SENDER_EV_SENSOR, SENDER_EV_OTHER,
    SENDER_EV_COUNT
};

struct sender_stats {
    uint64_t events_in;        /* events taken off the rings */
    uint64_t events_by_type[SENDER_EV_COUNT];  /* events_in by type (by prefix: "topology_change" is topology) */
    uint64_t events_sent;      /* events written to the stream, or delivered (2xx) to the endpoint */
    uint64_t events_failed;    /* events lost: stream write errors, or every HTTP drop reason */
    uint64_t batches_sent;     /* successful writes / delivered POSTs */
    uint64_t batches_failed;   /* failed stream writes */
    uint64_t json_errors;      /* events that could not be serialized (out of memory) */
    struct delivery_stats delivery;  /* HTTP mode: queue, retries, spool, drops by reason */
    /* owning process (issue 15 item 6) */
    bool     owner_on;                /* process attribution runs (live, AGENT_PROCESS_INFO) */
    struct sockowner_stats owner;
    /* IPFIX / NetFlow v9 output (issue 16) */
    bool ipfix_on;                   /* AGENT_IPFIX_COLLECTOR is set */
    struct ipfix_export_stats ipfix;
    /* outputs (issue 16): which are on; stdout's and Kafka's own counters */
    bool http_on, stdout_on, kafka_on;
    uint64_t stdout_written;   /* events written to the stream */
    uint64_t stdout_failed;    /* events lost to write errors (or no memory for the line) */
    struct kafka_output_stats kafka;
};

/*
 * Create a sender. `rings` (nrings of them, each of slot size
 * sizeof(struct flow_event)) are consumed by this sender; it does not own them.
 * `out` is where NDJSON goes when cfg->endpoint_url is NULL (normally stdout).
 * `ctx` supplies interface/hostname/seed; its strings must outlive the sender.
 * Returns NULL and a message in err on failure. Main thread.
 */
sender *sender_create(const struct config *cfg, ring *const *rings, size_t nrings,
                      const struct flow_event_ctx *ctx, FILE *out,
                      char *err, size_t errlen);

/*
 * Thread body: loop draining the rings, batching and delivering, until
 * sender_finish() has been called AND every ring is empty; then flush the last
 * batch and return 0. Returns a negative value only on an unrecoverable setup
 * failure. Sender thread.
 */
int sender_run(sender *s);

/*
 * One slot of a hook ring: a cJSON object built by a hook (SNMP, traps,
 * topology, sensor stats) whose ownership passes to the sender with the push.
 * The object must carry "type"; the sender adds "event_id", "schema_version",
 * "hostname", and "timestamp" (now, RFC 3339 ms) where the hook left it out,
 * serializes it like a FlowEvent and frees it.
 */
struct sender_json_msg {
    struct cJSON *obj;
};

/*
 * Also drain `r` (slot size sizeof(struct sender_json_msg)), a hook's ring.
 * Main thread, before sender_run starts. Returns 0, or -1 with a message.
 * Objects still in the ring when the sender is destroyed are freed.
 */
int sender_add_json_ring(sender *s, ring *r, char *err, size_t errlen);

/*
 * Re-read the host's addresses (for `direction`) as soon as `sig` is bumped,
 * not only every 10 s. Main thread, before sender_run starts.
 */
void sender_follow_addr_signal(sender *s, const hostaddr_signal *sig);

/* Any thread: tell the sender that no producer will push any more. */
void sender_finish(sender *s);

/* Any thread: a consistent-enough snapshot of the counters (relaxed reads). */
void sender_get_stats(const sender *s, struct sender_stats *out);

/* NULL-safe; after sender_run returned. */
void sender_destroy(sender *s);

#endif
