/*
 * ipfix_export.h — the IPFIX / NetFlow v9 output: flow records to a collector
 * (nfcapd, ntopng, pmacct, ...) over UDP or TCP.
 *
 * One of the sender's outputs (DESIGN.md "Outputs are plural"): the sender
 * thread offers each flow record; the output keeps its own bounded SPSC ring
 * and its own thread, which encodes (ipfix_encode.h) and sends, so a slow or
 * dead collector never stalls the sender, the other outputs or the capture.
 * A full ring drops the record and counts it. UDP: templates are re-sent every
 * AGENT_IPFIX_TEMPLATE_REFRESH; a failed send is counted. TCP: templates open
 * every connection; a lost or refused connection is retried with doubling
 * backoff (1 s up to 30 s) while records are dropped and counted. Nothing
 * about the collector is ever fatal.
 */
#ifndef TRACER_IPFIX_EXPORT_H
#define TRACER_IPFIX_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../models/flow_event.h"

struct config;
typedef struct ipfix_export ipfix_export;

struct ipfix_export_stats {
    uint64_t records_offered;       /* flow records the sender offered */
    uint64_t records_sent;          /* records in messages handed to the socket */
    uint64_t dropped_queue_full;    /* offered while the ring was full */
    uint64_t dropped_send_error;    /* in messages that failed (collector down, TCP not connected) */
    uint64_t dropped_unencodable;   /* records the encoder refused (never expected) */
    uint64_t messages_sent;         /* IPFIX messages / v9 packets sent */
    uint64_t messages_failed;
    uint64_t bytes_sent;
    uint64_t template_sends;        /* messages that carried the templates */
    uint64_t connects;              /* TCP connections made */
    uint64_t connect_failures;      /* TCP connection attempts that failed */
    uint64_t queue;                 /* gauge: records waiting in the ring */
};

/*
 * Resolve cfg->ipfix_collector and start the output's thread, which owns the
 * encoder (libfixbuf/GLib state never leaves it) and the socket. Returns
 * NULL with a message in err (bad address, cannot resolve, no memory).
 * `community_seed` seeds the exported Community ID. Main thread.
 */
ipfix_export *ipfix_export_create(const struct config *cfg, uint16_t community_seed, char *err, size_t errlen);

/*
 * Queue one flow record for export. Never blocks: returns false (and counts
 * the drop) when the ring is full. NULL-safe (returns false, counts nothing).
 * Only one thread may offer (the sender thread).
 */
bool ipfix_export_offer(ipfix_export *x, const struct flow_event *ev);

/*
 * No more offers: the thread sends what is queued (the last partial message
 * too) and exits; joins it. NULL-safe; call once, from the offering thread or
 * after it stopped.
 */
void ipfix_export_finish(ipfix_export *x);

/* Any thread: counters (relaxed reads). Zeroes *out for a NULL x. */
void ipfix_export_get_stats(const ipfix_export *x, struct ipfix_export_stats *out);

/* NULL-safe; finishes first if needed. */
void ipfix_export_destroy(ipfix_export *x);

#endif
