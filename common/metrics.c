/*
 * metrics.c — Prometheus /metrics and /healthz on libmicrohttpd (see metrics.h).
 *
 * Operators watch the sensor with Prometheus; this file is the only place that
 * knows the metric names and the exposition format. It keeps no counters of
 * its own (no global state): each scrape calls the owner's collect callback
 * for a fresh snapshot and renders it. libmicrohttpd runs one internal polling
 * thread (MHD_USE_AUTO picks epoll/poll), so the callbacks never run
 * concurrently with each other; a connection limit and timeout keep a
 * misbehaving client from holding it.
 */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "hostport.h"
#include "log.h"
#include "timefmt.h"

/*
 * Slow or idle clients must not lock out the scraper (issue 13.9): one client
 * address holds at most METRICS_PER_IP_LIMIT connections, so a host opening
 * hundreds of idle connections takes 8 slots and Prometheus, from another
 * address, still gets in; the total leaves room for METRICS_CONN_LIMIT /
 * METRICS_PER_IP_LIMIT = 16 such addresses at once. A connection idle for
 * METRICS_CONN_TIMEOUT is closed (a scrape takes milliseconds; keep-alive
 * between scrapes simply reconnects). The single internal polling thread
 * never blocks on a client (libmicrohttpd's sockets are non-blocking).
 */
#define METRICS_CONN_LIMIT   128u
#define METRICS_PER_IP_LIMIT 8u
#define METRICS_CONN_TIMEOUT 5u    /* seconds without any byte from the client */

struct metrics_server {
    struct metrics_source src;
    const char *version;
    struct sockaddr_storage sa;   /* resolved address; unused when any_addr */
    bool any_addr;                /* ":PORT": every address (IPv6 dual stack, else IPv4) */
    uint16_t port;                /* as configured */
    struct MHD_Daemon *daemon;
    atomic_bool starting;         /* the logger keeps MHD's message for metrics_start */
    _Atomic uint64_t refused;     /* connections closed at once: a connection limit was reached */
    uint64_t refused_logged_us;   /* when that was last logged (server thread only) */
    char start_err[256];
};

/* ------------------------------------------------------------------------ */
/* Rendering.                                                               */

static const char *const END_LABELS[METRICS_END_COUNT] = {"fin", "rst", "idle", "evicted", "shutdown"};
static const char *const TYPE_LABELS[METRICS_TYPE_COUNT] = {"flow", "snmp", "trap", "topology", "sensor", "other"};
static const char *const DROP_LABELS[METRICS_DROP_COUNT] = {
    "ring", "queue_full", "spool_full", "spool_error", "rejected", "shutdown", "write_error", "unserializable",
    "undeliverable", "dead_lettered", "unrouted"};
static const char *const HTTP_LABELS[METRICS_HTTP_COUNT] = {"2xx", "3xx", "4xx", "5xx", "error"};

struct tbuf {
    char *p;
    size_t len, cap;
    bool oom;
};

static void tprintf(struct tbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void tprintf(struct tbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = true;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

static void family(struct tbuf *b, const char *name, const char *type, const char *help)
{
    tprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample(struct tbuf *b, const char *name, uint64_t v)
{
    tprintf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void labelled(struct tbuf *b, const char *name, const char *label, const char *const *values,
                     const uint64_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tprintf(b, "%s{%s=\"%s\"} %llu\n", name, label, values[i], (unsigned long long)v[i]);
}

/* A label value as the format wants it: \\, \" and \n escaped. */
static void label_value(struct tbuf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            tprintf(b, "\\\\");
        else if (*s == '"')
            tprintf(b, "\\\"");
        else if (*s == '\n')
            tprintf(b, "\\n");
        else
            tprintf(b, "%c", *s);
    }
}

/*
 * The IPFIX / NetFlow v9 output's own families (issue 16), shown when it is on;
 * its events, failures and queue are in the per-output families (render_outputs).
 */
static void render_ipfix(struct tbuf *b, const struct metrics_snapshot *s)
{
    if (!s->ipfix_on)
        return;
    family(b, "tracer_output_messages_total", "counter", "Messages an output sent (IPFIX messages / NetFlow v9 packets).");
    tprintf(b, "tracer_output_messages_total{output=\"ipfix\"} %llu\n", (unsigned long long)s->ipfix_messages_sent);
    family(b, "tracer_output_bytes_total", "counter", "Bytes an output sent.");
    tprintf(b, "tracer_output_bytes_total{output=\"ipfix\"} %llu\n", (unsigned long long)s->ipfix_bytes_sent);
}

/*
 * Application identification (issue 15), shown when AGENT_DPI is on: what nDPI
 * and the metadata parsers did, and payload that never reached them.
 */
static void render_dpi(struct tbuf *b, const struct metrics_snapshot *s)
{
    if (!s->dpi_on)
        return;
    static const char *const results[] = {"inspected", "detected", "guessed", "pool_empty"};
    const uint64_t flows[] = {s->dpi_flows_inspected, s->dpi_flows_detected, s->dpi_flows_guessed,
                              s->dpi_pool_empty};
    family(b, "tracer_dpi_flows_total", "counter",
           "Flows by nDPI: given a detection state (inspected), labelled by detection, labelled by nDPI's "
           "guess, not inspected because the state pool was empty.");
    labelled(b, "tracer_dpi_flows_total", "result", results, flows, 4);
    family(b, "tracer_dpi_states_in_use", "gauge", "nDPI flow states taken now (AGENT_DPI_FLOWS is the pool).");
    sample(b, "tracer_dpi_states_in_use", s->dpi_states_in_use);
    static const char *const meta[] = {"parsed", "found", "pool_empty"};
    const uint64_t mv[] = {s->dpi_meta_flows, s->dpi_meta_found, s->dpi_meta_pool_empty};
    family(b, "tracer_dpi_metadata_flows_total", "counter",
           "Flows given a metadata parser state, those where DNS/TLS/QUIC/HTTP/SSH metadata was found, and "
           "those left without one because that pool was empty.");
    labelled(b, "tracer_dpi_metadata_flows_total", "result", meta, mv, 3);
    static const char *const why[] = {"ring_full", "orphan", "missing"};
    const uint64_t pv[] = {s->dpi_payload_ring_full, s->dpi_payload_orphans, s->dpi_payload_missing};
    family(b, "tracer_dpi_payload_lost_total", "counter",
           "Packet payloads that did not reach nDPI: the payload ring was full, the packet's record was dropped "
           "(orphan), the record came without its payload (missing).");
    labelled(b, "tracer_dpi_payload_lost_total", "reason", why, pv, 3);
}

/* The per-output families (issue 16): one sample per output that is on. */
static void render_outputs(struct tbuf *b, const struct metrics_snapshot *s)
{
    static const char *const results[] = {"offered", "delivered", "spooled", "replayed", "dropped"};
    family(b, "tracer_output_events_total", "counter",
           "Events per output: offered to it, delivered (written or acknowledged), spooled, replayed from its "
           "spool, dropped.");
    for (size_t i = 0; i < METRICS_OUTPUTS; i++) {
        const struct metrics_output *o = &s->outputs[i];
        const uint64_t v[] = {o->offered, o->delivered, o->spooled, o->replayed, o->dropped};
        for (size_t k = 0; o->name && k < sizeof v / sizeof v[0]; k++)
            tprintf(b, "tracer_output_events_total{output=\"%s\",result=\"%s\"} %llu\n", o->name, results[k],
                    (unsigned long long)v[k]);
    }
    family(b, "tracer_output_failures_total", "counter",
           "Delivery attempts per output that failed, by reason (the events then spool, retry or drop).");
    for (size_t i = 0; i < METRICS_OUTPUTS; i++) {
        const struct metrics_output *o = &s->outputs[i];
        for (size_t k = 0; o->name && k < o->nfailed && k < METRICS_OUTPUT_REASONS; k++)
            tprintf(b, "tracer_output_failures_total{output=\"%s\",reason=\"%s\"} %llu\n", o->name,
                    o->failed[k].reason, (unsigned long long)o->failed[k].n);
    }
    family(b, "tracer_output_queued", "gauge", "Events held in memory by the output now.");
    for (size_t i = 0; i < METRICS_OUTPUTS; i++)
        if (s->outputs[i].name)
            tprintf(b, "tracer_output_queued{output=\"%s\"} %llu\n", s->outputs[i].name,
                    (unsigned long long)s->outputs[i].queued);
    family(b, "tracer_output_spooled", "gauge", "Events waiting in the output's disk spool now.");
    for (size_t i = 0; i < METRICS_OUTPUTS; i++)
        if (s->outputs[i].name)
            tprintf(b, "tracer_output_spooled{output=\"%s\"} %llu\n", s->outputs[i].name,
                    (unsigned long long)s->outputs[i].spool_events);
}

char *metrics_render(const struct metrics_snapshot *s, const char *version, size_t *len)
{
    struct tbuf b = {.p = malloc(8192), .cap = 8192};
    if (!b.p)
        return NULL;
    b.p[0] = '\0';

    family(&b, "tracer_packets_received_total", "counter", "Frames read from the interface or the pcap file.");
    sample(&b, "tracer_packets_received_total", s->packets_received);

    family(&b, "tracer_packets_dropped_total", "counter",
           "Frames lost: by the kernel buffer, by the interface, to a full capture ring, or undecodable.");
    const char *const stages[] = {"kernel", "interface", "ring", "decode"};
    const uint64_t drops[] = {s->dropped_kernel, s->dropped_interface, s->dropped_ring, s->dropped_decode};
    labelled(&b, "tracer_packets_dropped_total", "stage", stages, drops, 4);

    family(&b, "tracer_flows_active", "gauge", "Flows in the flow table now.");
    sample(&b, "tracer_flows_active", s->flows_active);

    family(&b, "tracer_flows_ended_total", "counter", "Flows ended (final records), by end reason.");
    labelled(&b, "tracer_flows_ended_total", "reason", END_LABELS, s->flows_ended, METRICS_END_COUNT);

    family(&b, "tracer_flows_evicted_total", "counter", "Flows ended early by the AGENT_MAX_FLOWS cap.");
    sample(&b, "tracer_flows_evicted_total", s->flows_evicted);

    family(&b, "tracer_flow_interim_records_total", "counter",
           "Interim records of long flows (active timeout, final=false).");
    sample(&b, "tracer_flow_interim_records_total", s->flow_interim_records);

    family(&b, "tracer_events_output_total", "counter",
           "Events handed to the output (stdout, or the delivery queue of the endpoint), by type.");
    labelled(&b, "tracer_events_output_total", "type", TYPE_LABELS, s->events_output, METRICS_TYPE_COUNT);

    /* The name this family had before 0.2: kept for existing dashboards, to be removed. */
    family(&b, "tracer_events_sent_total", "counter",
           "Deprecated: the same as tracer_events_output_total (events handed to the output, not delivered).");
    labelled(&b, "tracer_events_sent_total", "type", TYPE_LABELS, s->events_output, METRICS_TYPE_COUNT);

    family(&b, "tracer_events_delivered_total", "counter",
           "Events written to stdout, or acknowledged with a 2xx by the endpoint.");
    sample(&b, "tracer_events_delivered_total", s->events_delivered);

    family(&b, "tracer_events_dropped_total", "counter", "Events lost, by reason.");
    labelled(&b, "tracer_events_dropped_total", "reason", DROP_LABELS, s->events_dropped, METRICS_DROP_COUNT);

    family(&b, "tracer_events_spooled", "gauge", "Events waiting in the disk spool now.");
    sample(&b, "tracer_events_spooled", s->events_spooled);

    render_outputs(&b, s);

    family(&b, "tracer_http_requests_total", "counter",
           "POSTs to the endpoint, by status class (error: no HTTP answer).");
    labelled(&b, "tracer_http_requests_total", "code", HTTP_LABELS, s->http_requests, METRICS_HTTP_COUNT);

    family(&b, "tracer_snmp_polls_total", "counter", "SNMP polls of the configured targets, by result.");
    const char *const results[] = {"ok", "failed"};
    const uint64_t polls[] = {s->snmp_polls_ok, s->snmp_polls_failed};
    labelled(&b, "tracer_snmp_polls_total", "result", results, polls, 2);

    family(&b, "tracer_traps_received_total", "counter", "SNMP traps and informs accepted.");
    sample(&b, "tracer_traps_received_total", s->traps_received);

    family(&b, "tracer_ping_probes_total", "counter",
           "Reachability-check probes (AGENT_PING_CONFIG), by result: answered in time, timed out, not sent.");
    const char *const pings[] = {"replied", "timed_out", "send_error"};
    const uint64_t pingv[] = {s->ping_replies, s->ping_timeouts, s->ping_send_errors};
    labelled(&b, "tracer_ping_probes_total", "result", pings, pingv, 3);

    family(&b, "tracer_process_lookups_total", "counter",
           "Flow endpoints looked up for their owning process, by result (live, AGENT_PROCESS_INFO).");
    const char *const presults[] = {"found", "not_found"};
    const uint64_t plook[] = {s->process_found, s->process_lookups - s->process_found};
    labelled(&b, "tracer_process_lookups_total", "result", presults, plook, 2);
    family(&b, "tracer_process_denied_total", "counter",
           "Process descriptor tables (/proc/<pid>/fd) the sensor was not allowed to read.");
    sample(&b, "tracer_process_denied_total", s->process_denied);
    family(&b, "tracer_process_snapshot_errors_total", "counter", "Socket table dumps (sock_diag) that failed.");
    sample(&b, "tracer_process_snapshot_errors_total", s->process_snapshot_errors);

    family(&b, "tracer_thread_alive", "gauge", "1 while the thread runs (what /healthz checks).");
    const char *const threads[] = {"capture", "sender"};
    const uint64_t alive[] = {s->capture_alive, s->sender_alive};
    labelled(&b, "tracer_thread_alive", "thread", threads, alive, 2);

    family(&b, "tracer_metrics_connections_refused_total", "counter",
           "Connections to this server closed at once: the per-address or total connection limit was reached.");
    sample(&b, "tracer_metrics_connections_refused_total", s->metrics_connections_refused);

    render_ipfix(&b, s);
    render_dpi(&b, s);

    family(&b, "tracer_uptime_seconds", "gauge", "Seconds since the sensor started.");
    sample(&b, "tracer_uptime_seconds", s->uptime_seconds);

    family(&b, "tracer_build_info", "gauge", "Always 1; the version in a label.");
    tprintf(&b, "tracer_build_info{version=\"");
    label_value(&b, version ? version : "");
    tprintf(&b, "\"} 1\n");

    if (b.oom) {
        free(b.p);
        return NULL;
    }
    if (len)
        *len = b.len;
    return b.p;
}

/* ------------------------------------------------------------------------ */
/* The server.                                                              */

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    metrics_server *m = cls;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (atomic_load(&m->starting)) {
        snprintf(m->start_err, sizeof m->start_err, "%s", msg);
        return;
    }
    /* One line per refused connection would let a client flood the log: count them
     * (tracer_metrics_connections_refused_total) and say so at most once a minute. */
    if (strncmp(msg, "Server reached connection limit", 31) == 0) {
        uint64_t total = atomic_fetch_add(&m->refused, 1) + 1;
        uint64_t now = timefmt_mono_us();
        if (m->refused_logged_us == 0 || now - m->refused_logged_us >= 60u * 1000000u) {
            m->refused_logged_us = now;
            log_warn("metrics: connection refused: %u per client address or %u in all are open "
                     "(idle ones close after %u s); %" PRIu64 " refused so far, logged at most once a minute",
                     METRICS_PER_IP_LIMIT, METRICS_CONN_LIMIT, METRICS_CONN_TIMEOUT, total);
        }
        return;
    }
    log_warn("metrics: %s", msg);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *type, char *body,
                             size_t len, bool owned)
{
    struct MHD_Response *r = owned ? MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE)
                                   : MHD_create_response_from_buffer(len, body, MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (owned)
            free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)version;
    (void)upload;
    (void)state;
    metrics_server *m = cls;
    static char text[] = "text/plain; charset=utf-8";
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        if (*upload_size) {
            *upload_size = 0;   /* a body is read and ignored; the answer stays 405 */
            return MHD_YES;
        }
        static char body[] = "method not allowed\n";
        return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, text, body, sizeof body - 1, false);
    }
    if (strcmp(url, "/metrics") == 0) {
        struct metrics_snapshot snap;
        memset(&snap, 0, sizeof snap);
        m->src.collect(m->src.arg, &snap);
        snap.metrics_connections_refused = atomic_load(&m->refused);
        size_t len = 0;
        char *body = metrics_render(&snap, m->version, &len);
        if (!body) {
            static char oom[] = "out of memory\n";
            return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, text, oom, sizeof oom - 1, false);
        }
        return reply(c, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", body, len, true);
    }
    if (strcmp(url, "/healthz") == 0) {
        char why[160] = "";
        if (m->src.healthy(m->src.arg, why, sizeof why)) {
            static char ok[] = "ok\n";
            return reply(c, MHD_HTTP_OK, text, ok, sizeof ok - 1, false);
        }
        char *body = malloc(200);
        if (!body)
            return MHD_NO;
        int n = snprintf(body, 200, "unhealthy: %s\n", why[0] ? why : "stopped");
        return reply(c, MHD_HTTP_SERVICE_UNAVAILABLE, text, body, n < 200 ? (size_t)n : 199, true);
    }
    if (strcmp(url, "/") == 0) {
        static char index[] = "tracer-sensor: /metrics (Prometheus), /healthz\n";
        return reply(c, MHD_HTTP_OK, text, index, sizeof index - 1, false);
    }
    static char nf[] = "not found\n";
    return reply(c, MHD_HTTP_NOT_FOUND, text, nf, sizeof nf - 1, false);
}

metrics_server *metrics_create(const char *addr, const char *version, const struct metrics_source *src,
                               char *err, size_t errlen)
{
    char host[256];
    unsigned long port = 0;
    if (!addr || !src || !src->collect || !src->healthy) {
        snprintf(err, errlen, "metrics: invalid arguments");
        return NULL;
    }
    if (!hostport_split(addr, host, sizeof host, &port)) {
        snprintf(err, errlen, "AGENT_METRICS_ADDR=%s: must be HOST:PORT, [IPV6]:PORT or :PORT", addr);
        return NULL;
    }
    metrics_server *m = calloc(1, sizeof *m);
    if (!m) {
        snprintf(err, errlen, "metrics: out of memory");
        return NULL;
    }
    m->src = *src;
    m->version = version;
    m->port = (uint16_t)port;
    atomic_init(&m->starting, false);
    if (host[0] == '\0') {
        m->any_addr = true;
        return m;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "AGENT_METRICS_ADDR=%s: cannot resolve %s: %s", addr, host,
                 rc ? gai_strerror(rc) : "no address");
        free(m);
        return NULL;
    }
    memcpy(&m->sa, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (m->sa.ss_family == AF_INET)
        ((struct sockaddr_in *)&m->sa)->sin_port = htons(m->port);
    else
        ((struct sockaddr_in6 *)&m->sa)->sin6_port = htons(m->port);
    return m;
}

static struct MHD_Daemon *start_daemon(metrics_server *m, unsigned flags, const struct sockaddr *sa)
{
    flags |= MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (sa)
        return MHD_start_daemon(flags, m->port, NULL, NULL, handle, m,
                                MHD_OPTION_SOCK_ADDR, sa,
                                MHD_OPTION_CONNECTION_LIMIT, METRICS_CONN_LIMIT,
                                MHD_OPTION_CONNECTION_TIMEOUT, METRICS_CONN_TIMEOUT,
                                MHD_OPTION_PER_IP_CONNECTION_LIMIT, METRICS_PER_IP_LIMIT,
                                MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, m,
                                MHD_OPTION_END);
    return MHD_start_daemon(flags, m->port, NULL, NULL, handle, m,
                            MHD_OPTION_CONNECTION_LIMIT, METRICS_CONN_LIMIT,
                            MHD_OPTION_CONNECTION_TIMEOUT, METRICS_CONN_TIMEOUT,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, METRICS_PER_IP_LIMIT,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, m,
                            MHD_OPTION_END);
}

int metrics_start(metrics_server *m, char *err, size_t errlen)
{
    if (!m || m->daemon)
        return 0;
    atomic_store(&m->starting, true);
    m->start_err[0] = '\0';
    if (m->any_addr) {
        m->daemon = start_daemon(m, MHD_USE_DUAL_STACK, NULL);
        if (!m->daemon)   /* no IPv6 on this host: every IPv4 address */
            m->daemon = start_daemon(m, 0, NULL);
    } else {
        m->daemon = start_daemon(m, m->sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0,
                                 (const struct sockaddr *)&m->sa);
    }
    atomic_store(&m->starting, false);
    if (!m->daemon) {
        snprintf(err, errlen, "metrics: cannot listen on port %u: %s", (unsigned)m->port,
                 m->start_err[0] ? m->start_err : "libmicrohttpd failed to start");
        return -1;
    }
    return 0;
}

uint16_t metrics_port(const metrics_server *m)
{
    if (!m || !m->daemon)
        return 0;
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(m->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : m->port;
}

void metrics_stop(metrics_server *m)
{
    if (m && m->daemon) {
        MHD_stop_daemon(m->daemon);
        m->daemon = NULL;
    }
}

void metrics_destroy(metrics_server *m)
{
    if (!m)
        return;
    metrics_stop(m);
    free(m);
}
