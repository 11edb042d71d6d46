/*
 * sensor_probe.c — the running sensor's counters as a metrics snapshot (see
 * sensor_probe.h). The mapping from the stages' counters to the metric
 * families lives here, next to main, so neither the stages nor the metrics
 * server know about each other.
 */
#include "sensor_probe.h"

#include <stdio.h>
#include <string.h>

#include "common/timefmt.h"
#include "hooks/ping/ping.h"
#include "hooks/snmp/snmp_poller.h"
#include "hooks/snmp/snmp_trap.h"
#include "models/flow_event.h"

static void collect_capture(const struct sensor_probe *p, struct metrics_snapshot *o)
{
    struct capture_stats cs;
    capture_get_stats(p->cap, &cs);
    o->packets_received = cs.frames;
    o->dropped_kernel = cs.kernel_dropped;
    o->dropped_interface = cs.interface_dropped;
    o->dropped_ring = cs.ring_drops;
    o->dpi_payload_ring_full = cs.payload_ring_full;
    for (int i = 0; i < DECODE_RESULT_COUNT; i++)
        if (i != DECODE_OK)
            o->dropped_decode += cs.decode[i];
}

static void collect_processor(const struct sensor_probe *p, struct metrics_snapshot *o)
{
    static const struct { enum flow_end_reason from; enum metrics_end_reason to; } reasons[] = {
        {FLOW_END_FIN, METRICS_END_FIN}, {FLOW_END_RST, METRICS_END_RST}, {FLOW_END_IDLE, METRICS_END_IDLE},
        {FLOW_END_EVICTED, METRICS_END_EVICTED}, {FLOW_END_SHUTDOWN, METRICS_END_SHUTDOWN}};
    struct processor_stats ps;
    processor_get_stats(p->proc, &ps);
    o->flows_active = ps.table.active_flows;
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        o->flows_ended[reasons[i].to] = ps.table.ended[reasons[i].from];
    o->flows_evicted = ps.table.evicted;
    o->flow_interim_records = ps.table.interim_records;
    o->events_dropped[METRICS_DROP_RING] += ps.events_dropped;
    o->dpi_on = ps.dpi_on;
    o->dpi_flows_inspected = ps.dpi.flows_inspected;
    o->dpi_flows_detected = ps.dpi.flows_detected;
    o->dpi_flows_guessed = ps.dpi.flows_guessed;
    o->dpi_pool_empty = ps.dpi.pool_empty;
    o->dpi_states_in_use = ps.dpi.pool_in_use;
    o->dpi_meta_flows = ps.dpi.meta_flows;
    o->dpi_meta_found = ps.dpi.meta_found;
    o->dpi_meta_pool_empty = ps.dpi.meta_pool_empty;
    o->dpi_payload_orphans = ps.payload_orphans;
    o->dpi_payload_missing = ps.payload_missing;
}

/* The label output="..." families (issue 16): one slot per output that is on. */
static void collect_outputs(const struct sender_stats *ss, struct metrics_snapshot *o)
{
    size_t n = 0;
    if (ss->http_on) {
        const struct delivery_stats *d = &ss->delivery;
        struct metrics_output *m = &o->outputs[n++];
        m->name = "http";
        m->offered = d->events_queued;
        m->delivered = d->events_sent;
        m->spooled = d->events_spooled;
        m->replayed = d->events_replayed;
        m->dropped = d->dropped_queue_full + d->dropped_spool_full + d->dropped_spool_error + d->dropped_rejected +
                     d->dropped_shutdown + d->dropped_undeliverable + d->events_dead_lettered + d->dropped_unrouted;
        m->queued = d->queue_events;
        m->spool_events = d->spool_events;
        m->failed[0].reason = "network_error", m->failed[0].n = d->network_errors;
        m->failed[1].reason = "http_4xx", m->failed[1].n = d->http_4xx;
        m->failed[2].reason = "http_5xx", m->failed[2].n = d->http_5xx;
        m->nfailed = 3;
    }
    if (ss->stdout_on) {
        struct metrics_output *m = &o->outputs[n++];
        m->name = "stdout";
        m->offered = ss->stdout_written + ss->stdout_failed;
        m->delivered = ss->stdout_written;
        m->dropped = ss->stdout_failed;
        m->failed[0].reason = "write_error", m->failed[0].n = ss->stdout_failed;
        m->nfailed = 1;
    }
    if (ss->kafka_on) {
        const struct kafka_output_stats *k = &ss->kafka;
        struct metrics_output *m = &o->outputs[n++];
        m->name = "kafka";
        m->offered = k->offered;
        m->delivered = k->delivered;
        m->spooled = k->spooled;
        m->replayed = k->replayed;
        m->dropped = k->dropped_no_spool + k->dropped_spool_full + k->dropped_spool_error + k->dropped_invalid;
        m->queued = k->queued;
        m->spool_events = k->spool_events;
        m->failed[0].reason = "queue_full", m->failed[0].n = k->failed_queue_full;
        m->failed[1].reason = "timed_out", m->failed[1].n = k->failed_timed_out;
        m->failed[2].reason = "broker_error", m->failed[2].n = k->failed_broker;
        m->failed[3].reason = "shutdown", m->failed[3].n = k->failed_shutdown;
        m->failed[4].reason = "replay", m->failed[4].n = k->failed_replay;
        m->failed[5].reason = "fatal", m->failed[5].n = k->failed_fatal;
        m->nfailed = 6;
    }
    if (ss->ipfix_on) {
        const struct ipfix_export_stats *x = &ss->ipfix;
        struct metrics_output *m = &o->outputs[n++];
        m->name = "ipfix";
        m->offered = x->records_offered;
        m->delivered = x->records_sent;
        m->dropped = x->dropped_queue_full + x->dropped_send_error + x->dropped_unencodable;
        m->queued = x->queue;
        m->failed[0].reason = "queue_full", m->failed[0].n = x->dropped_queue_full;
        m->failed[1].reason = "send_error", m->failed[1].n = x->dropped_send_error;
        m->failed[2].reason = "unencodable", m->failed[2].n = x->dropped_unencodable;
        m->failed[3].reason = "connect", m->failed[3].n = x->connect_failures;
        m->nfailed = 4;
        o->ipfix_on = true;
        o->ipfix_messages_sent = x->messages_sent;
        o->ipfix_bytes_sent = x->bytes_sent;
    }
}

static void collect_sender(const struct sensor_probe *p, struct metrics_snapshot *o)
{
    static const struct { enum sender_event_type from; enum metrics_event_type to; } types[] = {
        {SENDER_EV_FLOW, METRICS_TYPE_FLOW}, {SENDER_EV_SNMP, METRICS_TYPE_SNMP},
        {SENDER_EV_TRAP, METRICS_TYPE_TRAP}, {SENDER_EV_TOPOLOGY, METRICS_TYPE_TOPOLOGY},
        {SENDER_EV_SENSOR, METRICS_TYPE_SENSOR}, {SENDER_EV_OTHER, METRICS_TYPE_OTHER}};
    struct sender_stats ss;
    sender_get_stats(p->snd, &ss);
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
        o->events_output[types[i].to] = ss.events_by_type[types[i].from];
    o->events_delivered = ss.events_sent;
    o->process_lookups = ss.owner.lookups;
    o->process_found = ss.owner.found;
    o->process_denied = ss.owner.proc_denied;
    o->process_snapshot_errors = ss.owner.snapshot_errors;
    const struct delivery_stats *d = &ss.delivery;
    o->events_dropped[METRICS_DROP_QUEUE_FULL] = d->dropped_queue_full;
    o->events_dropped[METRICS_DROP_SPOOL_FULL] = d->dropped_spool_full;
    o->events_dropped[METRICS_DROP_SPOOL_ERROR] = d->dropped_spool_error;
    o->events_dropped[METRICS_DROP_REJECTED] = d->dropped_rejected;
    o->events_dropped[METRICS_DROP_SHUTDOWN] = d->dropped_shutdown;
    o->events_dropped[METRICS_DROP_UNDELIVERABLE] = d->dropped_undeliverable;
    o->events_dropped[METRICS_DROP_DEAD_LETTERED] = d->events_dead_lettered;
    o->events_dropped[METRICS_DROP_UNROUTED] = d->dropped_unrouted;
    /* Stream mode counts lost writes in events_failed; HTTP mode sums the reasons above into it. */
    uint64_t http_drops = d->dropped_queue_full + d->dropped_spool_full + d->dropped_spool_error +
                          d->dropped_rejected + d->dropped_shutdown + d->dropped_undeliverable +
                          d->events_dead_lettered + d->dropped_unrouted;
    o->events_dropped[METRICS_DROP_WRITE_ERROR] = ss.events_failed > http_drops ? ss.events_failed - http_drops : 0;
    o->events_dropped[METRICS_DROP_UNSERIALIZABLE] = ss.json_errors;
    o->events_spooled = d->spool_events;
    o->http_requests[METRICS_HTTP_2XX] = d->http_2xx;
    o->http_requests[METRICS_HTTP_3XX] = d->http_3xx;
    o->http_requests[METRICS_HTTP_4XX] = d->http_4xx;
    o->http_requests[METRICS_HTTP_5XX] = d->http_5xx;
    o->http_requests[METRICS_HTTP_ERROR] = d->network_errors;
    collect_outputs(&ss, o);
}

static void collect_hooks(const struct sensor_probe *p, struct metrics_snapshot *o)
{
    for (size_t i = 0; i < hook_set_count(p->hooks); i++) {
        const struct hook *h = hook_set_hook(p->hooks, i);
        if (strcmp(h->ops->name, "snmp") == 0) {
            struct snmp_poller_stats st;
            memset(&st, 0, sizeof st);
            snmp_poller_get_stats(h->self, &st);
            o->snmp_polls_ok += st.polls_ok;
            o->snmp_polls_failed += st.polls_failed;
        } else if (strcmp(h->ops->name, "trap") == 0) {
            struct snmp_trap_stats st;
            memset(&st, 0, sizeof st);
            snmp_trap_get_stats(h->self, &st);
            o->traps_received += st.traps + st.informs;
        } else if (strcmp(h->ops->name, "ping") == 0) {
            struct ping_hook_stats st;
            memset(&st, 0, sizeof st);
            ping_hook_get_stats(h->self, &st);
            o->ping_replies += st.replies;
            o->ping_timeouts += st.timeouts;
            o->ping_send_errors += st.send_errors;
        }
    }
    o->events_dropped[METRICS_DROP_RING] += hook_set_ring_drops(p->hooks) + ring_drops(p->stats_ring);
}

void sensor_probe_collect(void *probe, struct metrics_snapshot *out)
{
    struct sensor_probe *p = probe;
    collect_capture(p, out);
    collect_processor(p, out);
    collect_sender(p, out);
    collect_hooks(p, out);
    out->uptime_seconds = (timefmt_mono_us() - p->started_us) / 1000000u;
    out->capture_alive = atomic_load(&p->capture_running);
    out->sender_alive = atomic_load(&p->sender_running);
}

bool sensor_probe_healthy(void *probe, char *why, size_t whylen)
{
    struct sensor_probe *p = probe;
    bool cap = atomic_load(&p->capture_running), snd = atomic_load(&p->sender_running);
    if (cap && snd)
        return true;
    snprintf(why, whylen, "%s%s%s", cap ? "" : "capture thread not running", !cap && !snd ? ", " : "",
             snd ? "" : "sender thread not running");
    return false;
}
