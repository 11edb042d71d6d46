/*
 * metrics.h — the operators' HTTP endpoint: Prometheus /metrics and /healthz.
 *
 * A small server on libmicrohttpd (Debian's libmicrohttpd-dev), which runs
 * its own thread: the sensor does not carry a hand-written HTTP parser. It
 * owns no counters. On every scrape it asks its owner for a snapshot (the
 * collect callback, called on the server's thread) and renders it in the
 * Prometheus text exposition format 0.0.4; on every /healthz it asks the
 * health callback. Both callbacks must be safe to call from that thread
 * while the pipeline runs (the stages' *_get_stats functions are).
 *
 *   GET /metrics  200, text/plain; version=0.0.4
 *   GET /healthz  200 "ok" while healthy, 503 "unhealthy: <why>" otherwise
 *   GET /         200, a line naming the two paths
 *   anything else 404; methods other than GET/HEAD 405
 */
#ifndef TRACER_METRICS_H
#define TRACER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct metrics_server metrics_server;

/* Label values of the labelled families, in the order of these enums. */
enum metrics_end_reason {    /* tracer_flows_ended_total{reason} (final records) */
    METRICS_END_FIN, METRICS_END_RST, METRICS_END_IDLE, METRICS_END_EVICTED, METRICS_END_SHUTDOWN,
    METRICS_END_COUNT
};
enum metrics_event_type {    /* tracer_events_output_total{type} */
    METRICS_TYPE_FLOW, METRICS_TYPE_SNMP, METRICS_TYPE_TRAP, METRICS_TYPE_TOPOLOGY,
    METRICS_TYPE_SENSOR, METRICS_TYPE_OTHER, METRICS_TYPE_COUNT
};
enum metrics_drop_reason {   /* tracer_events_dropped_total{reason} */
    METRICS_DROP_RING, METRICS_DROP_QUEUE_FULL, METRICS_DROP_SPOOL_FULL, METRICS_DROP_SPOOL_ERROR,
    METRICS_DROP_REJECTED, METRICS_DROP_SHUTDOWN, METRICS_DROP_WRITE_ERROR, METRICS_DROP_UNSERIALIZABLE,
    METRICS_DROP_UNDELIVERABLE, METRICS_DROP_DEAD_LETTERED, METRICS_DROP_UNROUTED,
    METRICS_DROP_COUNT
};
enum metrics_http_code {     /* tracer_http_requests_total{code} */
    METRICS_HTTP_2XX, METRICS_HTTP_3XX, METRICS_HTTP_4XX, METRICS_HTTP_5XX, METRICS_HTTP_ERROR,
    METRICS_HTTP_COUNT
};

/* One output's counters (issue 16): the families with an `output` label. */
#define METRICS_OUTPUTS 4            /* http, stdout, kafka, ipfix */
#define METRICS_OUTPUT_REASONS 8
struct metrics_output {
    const char *name;                /* label value ("kafka"); NULL = slot unused (output off) */
    uint64_t offered;                /* events handed to this output */
    uint64_t delivered;              /* written / acknowledged */
    uint64_t spooled, replayed;      /* written to its spool / delivered from it */
    uint64_t dropped;                /* lost, every reason */
    uint64_t queued, spool_events;   /* gauges: in memory now, in its spool now */
    struct { const char *reason; uint64_t n; } failed[METRICS_OUTPUT_REASONS]; /* attempts that failed */
    size_t nfailed;
};

/* Everything one scrape shows. Counters only grow; gauges are "now". */
struct metrics_snapshot {
    uint64_t packets_received;                   /* frames read from the interface or file */
    uint64_t dropped_kernel;                     /* pcap_stats ps_drop */
    uint64_t dropped_interface;                  /* pcap_stats ps_ifdrop */
    uint64_t dropped_ring;                       /* records lost to a full capture ring */
    uint64_t dropped_decode;                     /* frames that did not decode (any reason) */
    uint64_t flows_active;                       /* gauge: flows in the table */
    uint64_t flows_ended[METRICS_END_COUNT];
    uint64_t flows_evicted;
    uint64_t flow_interim_records;               /* active-timeout records */
    uint64_t events_output[METRICS_TYPE_COUNT];  /* taken by the sender: handed to the output */
    uint64_t events_delivered;                   /* written to stdout / acknowledged 2xx */
    uint64_t events_dropped[METRICS_DROP_COUNT];
    uint64_t events_spooled;                     /* gauge: events waiting in the spool */
    uint64_t http_requests[METRICS_HTTP_COUNT];
    uint64_t snmp_polls_ok, snmp_polls_failed;
    uint64_t traps_received;                     /* traps and informs accepted */
    uint64_t uptime_seconds;                     /* gauge */
    bool     capture_alive, sender_alive;        /* tracer_thread_alive{thread} */
    uint64_t metrics_connections_refused;        /* filled by the server itself, not by collect */
    /* process attribution (issue 15 item 6) */
    uint64_t process_lookups, process_found;     /* flow endpoints looked up / attributed */
    uint64_t process_denied;                     /* /proc/<pid>/fd tables the sensor may not read */
    uint64_t process_snapshot_errors;            /* socket dumps that failed */
    struct metrics_output outputs[METRICS_OUTPUTS]; /* per output (issue 16) */
    /* IPFIX / NetFlow v9 output (issue 16): its outputs[] slot, plus messages and bytes sent */
    bool     ipfix_on;
    uint64_t ipfix_messages_sent, ipfix_bytes_sent;
    /* application identification (issue 15), shown when AGENT_DPI is on */
    bool     dpi_on;
    uint64_t dpi_flows_inspected, dpi_flows_detected, dpi_flows_guessed, dpi_pool_empty;
    uint64_t dpi_states_in_use;                  /* gauge: nDPI states taken now */
    uint64_t dpi_meta_flows, dpi_meta_found, dpi_meta_pool_empty;
    uint64_t dpi_payload_ring_full, dpi_payload_orphans, dpi_payload_missing;
    /* ping hook (issue 17.2): probes by result */
    uint64_t ping_replies, ping_timeouts, ping_send_errors;
};

struct metrics_source {
    /* Fill *out (zeroed by the caller). Server thread. */
    void (*collect)(void *arg, struct metrics_snapshot *out);
    /* true when healthy; otherwise write a short reason into why. Server thread. */
    bool (*healthy)(void *arg, char *why, size_t whylen);
    void *arg;
};

/*
 * Check `addr` ("HOST:PORT", "[IPV6]:PORT" or ":PORT" = every address) and
 * resolve it. `version` goes into tracer_build_info; the string must outlive
 * the server. NULL with a message in err on a bad address or no memory. Does
 * not listen yet. Main thread.
 */
metrics_server *metrics_create(const char *addr, const char *version, const struct metrics_source *src,
                               char *err, size_t errlen);

/* Bind and start the server's thread. 0, or -1 with a message (e.g. the port is taken). Main thread. */
int metrics_start(metrics_server *m, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The port it listens on (useful with port 0 in tests); 0 when not started. */
uint16_t metrics_port(const metrics_server *m);

/* Stop answering and join the server's thread; no callback runs after it returns. Main thread. */
void metrics_stop(metrics_server *m);

/* NULL-safe; stops first if needed. */
void metrics_destroy(metrics_server *m);

/*
 * Render `snap` in the Prometheus text format into a new heap string (the
 * caller frees it) and its length in *len. NULL when out of memory. The
 * writer behind /metrics, public so the format can be tested. Any thread.
 */
char *metrics_render(const struct metrics_snapshot *snap, const char *version, size_t *len);

#endif
