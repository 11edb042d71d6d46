/*
 * sensor_stats.c — the `type: "sensor"` event (see sensor_stats.h).
 */
#include "cmd/sensor_stats.h"

#include <string.h>

#include <cjson/cJSON.h>

#include "capture/decode.h"

/* cJSON numbers are doubles: exact up to 2^53, which counters never reach. */
static void num(cJSON *o, const char *k, uint64_t v) { cJSON_AddNumberToObject(o, k, (double)v); }

bool sensor_loopback_twice(const struct config *cfg)
{
    return cfg && !cfg->pcap_file && cfg->interface &&
           (strcmp(cfg->interface, "lo") == 0 || strcmp(cfg->interface, "any") == 0);
}

static cJSON *capture_json(const struct capture_stats *c, bool loopback_twice)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    num(o, "frames", c->frames);
    num(o, "decoded", c->decode[DECODE_OK]);
    cJSON *why = cJSON_AddObjectToObject(o, "undecodable");
    if (why)
        for (int r = 1; r < DECODE_RESULT_COUNT; r++)
            num(why, decode_result_name((enum decode_result)r), c->decode[r]);
    num(o, "ring_drops", c->ring_drops);
    num(o, "kernel_received", c->kernel_received);   /* loopback packets twice on lo and any: see below */
    num(o, "kernel_dropped", c->kernel_dropped);
    num(o, "interface_dropped", c->interface_dropped);
    cJSON_AddBoolToObject(o, "file_truncated", c->file_truncated != 0);
    num(o, "interface_lost", c->interface_lost);
    num(o, "reopens", c->reopens);
    num(o, "interface_names_full", c->interface_names_full);
    cJSON_AddBoolToObject(o, "kernel_counts_loopback_twice", loopback_twice);
    num(o, "tunnel_decapsulated", c->tunnel_decapsulated);   /* tunnel (issue 14) */
    num(o, "tunnel_capped", c->tunnel_capped);
    num(o, "tunnel_undecoded", c->tunnel_undecoded);
    num(o, "tunnel_fragment", c->tunnel_fragment);
    return o;
}

static cJSON *flows_json(const struct processor_stats *p)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    num(o, "packets", p->table.packets);
    num(o, "created", p->table.flows_created);
    num(o, "ended", p->table.flows_ended);
    num(o, "interim_records", p->table.interim_records);
    num(o, "evicted", p->table.evicted);
    num(o, "active", p->table.active_flows);
    num(o, "frag_orphans", p->table.frag_orphans);
    num(o, "frag_source_limited", p->table.frag_source_limited);
    num(o, "frag_evicted", p->table.frag_evicted);
    num(o, "alloc_failures", p->table.alloc_failures);
    num(o, "event_ring_drops", p->events_dropped);
    return o;
}

/* "outputs": which outputs are on, and stdout's and Kafka's own counters (issue 16). */
static void outputs_json(cJSON *parent, const struct sender_stats *s)
{
    cJSON *o = cJSON_AddObjectToObject(parent, "outputs");
    if (!o)
        return;
    cJSON_AddBoolToObject(o, "http", s->http_on);
    if (s->stdout_on) {
        cJSON *st = cJSON_AddObjectToObject(o, "stdout");
        if (st) {
            num(st, "events_written", s->stdout_written);
            num(st, "events_failed", s->stdout_failed);
        }
    }
    if (!s->kafka_on)
        return;
    const struct kafka_output_stats *k = &s->kafka;
    cJSON *kf = cJSON_AddObjectToObject(o, "kafka");
    if (!kf)
        return;
    num(kf, "events_offered", k->offered);
    num(kf, "events_produced", k->produced);
    num(kf, "events_delivered", k->delivered);
    num(kf, "events_spooled", k->spooled);
    num(kf, "events_replayed", k->replayed);
    num(kf, "queued", k->queued);
    num(kf, "spool_events", k->spool_events);
    num(kf, "fatal_errors", k->fatal_errors);
    num(kf, "producer_restarts", k->producer_restarts);
    cJSON *f = cJSON_AddObjectToObject(kf, "failed");
    if (f) {
        num(f, "queue_full", k->failed_queue_full);
        num(f, "timed_out", k->failed_timed_out);
        num(f, "broker_error", k->failed_broker);
        num(f, "shutdown", k->failed_shutdown);
        num(f, "replay", k->failed_replay);
        num(f, "fatal", k->failed_fatal);
    }
    cJSON *d = cJSON_AddObjectToObject(kf, "dropped");
    if (d) {
        num(d, "no_spool", k->dropped_no_spool);
        num(d, "spool_full", k->dropped_spool_full);
        num(d, "spool_error", k->dropped_spool_error);
        num(d, "invalid", k->dropped_invalid);
    }
}

static cJSON *delivery_json(const struct sender_stats *s)
{
    const struct delivery_stats *d = &s->delivery;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    num(o, "events_output", s->events_in);       /* the names of the summary and the metrics */
    num(o, "events_delivered", s->events_sent);
    num(o, "events_failed", s->events_failed);
    num(o, "unserializable", s->json_errors);
    num(o, "events_queued", d->events_queued);
    num(o, "batches_queued", d->batches_queued);
    num(o, "batches_sent", s->batches_sent);
    num(o, "retries", d->retries);
    num(o, "events_spooled", d->events_spooled);
    num(o, "events_replayed", d->events_replayed);
    num(o, "queue_events", d->queue_events);
    num(o, "queue_bytes", d->queue_bytes);
    num(o, "inflight", d->inflight);
    num(o, "events_dead_lettered", d->events_dead_lettered);
    num(o, "batches_set_aside", d->batches_set_aside);
    num(o, "backpressure_waits", d->backpressure_waits);
    num(o, "spool_files", d->spool_files);
    num(o, "spool_events", d->spool_events);
    num(o, "spool_corrupt_files", d->spool_corrupt_files);
    num(o, "spool_foreign_files", d->spool_foreign_files);
    num(o, "spool_oversize_files", d->spool_oversize_files);
    num(o, "spool_unauthenticated_files", d->spool_unauthenticated_files);
    cJSON *drop = cJSON_AddObjectToObject(o, "dropped");
    if (drop) {
        num(drop, "queue_full", d->dropped_queue_full);
        num(drop, "spool_full", d->dropped_spool_full);
        num(drop, "spool_error", d->dropped_spool_error);
        num(drop, "rejected", d->dropped_rejected);
        num(drop, "shutdown", d->dropped_shutdown);
        num(drop, "undeliverable", d->dropped_undeliverable);
        num(drop, "unrouted", d->dropped_unrouted);
        num(drop, "dead_lettered", d->events_dead_lettered);
    }
    cJSON *http = cJSON_AddObjectToObject(o, "http");
    if (http) {
        num(http, "2xx", d->http_2xx);
        num(http, "3xx", d->http_3xx);
        num(http, "4xx", d->http_4xx);
        num(http, "5xx", d->http_5xx);
        num(http, "network_errors", d->network_errors);
    }
    outputs_json(o, s);
    return o;
}

/* Process attribution (issue 15 item 6): what could not be attributed, and why. */
static void add_process_json(cJSON *ev, const struct sender_stats *s)
{
    if (!s->owner_on)
        return;
    cJSON *o = cJSON_AddObjectToObject(ev, "process_info");
    if (!o)
        return;
    num(o, "snapshots", s->owner.snapshots);
    num(o, "snapshot_errors", s->owner.snapshot_errors);
    num(o, "proc_scans", s->owner.proc_scans);
    num(o, "proc_denied", s->owner.proc_denied);
    num(o, "cache_full", s->owner.cache_full);
    num(o, "cached_sockets", s->owner.cached);
    num(o, "lookups", s->owner.lookups);
    num(o, "found", s->owner.found);
}

/* The IPFIX / NetFlow v9 output's counters (issue 16), as "outputs": {"ipfix": {...}}. */
static void add_ipfix_output(cJSON *o, const struct sender_stats *s)
{
    if (!s->ipfix_on)
        return;
    cJSON *outs = cJSON_GetObjectItemCaseSensitive(o, "outputs");
    if (!outs)
        outs = cJSON_AddObjectToObject(o, "outputs");
    cJSON *x = outs ? cJSON_AddObjectToObject(outs, "ipfix") : NULL;
    if (!x)
        return;
    const struct ipfix_export_stats *i = &s->ipfix;
    num(x, "records_offered", i->records_offered);
    num(x, "records_sent", i->records_sent);
    num(x, "messages_sent", i->messages_sent);
    num(x, "messages_failed", i->messages_failed);
    num(x, "bytes_sent", i->bytes_sent);
    num(x, "template_sends", i->template_sends);
    num(x, "connects", i->connects);
    num(x, "connect_failures", i->connect_failures);
    num(x, "queue", i->queue);
    cJSON *drop = cJSON_AddObjectToObject(x, "dropped");
    if (drop) {
        num(drop, "queue_full", i->dropped_queue_full);
        num(drop, "send_error", i->dropped_send_error);
        num(drop, "unencodable", i->dropped_unencodable);
    }
}

/* "dpi" (issue 15): the payload path and nDPI's pool, present when AGENT_DPI is on. */
static int dpi_json(cJSON *o, const struct sensor_counters *c)
{
    const struct processor_stats *p = &c->processor;
    if (!p->dpi_on)
        return 0;
    cJSON *d = cJSON_AddObjectToObject(o, "dpi");
    if (!d)
        return -1;
    num(d, "payload_copied", c->capture.payload_copied);
    num(d, "payload_ring_full", c->capture.payload_ring_full);
    num(d, "payload_done_skips", c->capture.payload_done_skips);
    num(d, "payload_orphans", p->payload_orphans);
    num(d, "payload_missing", p->payload_missing);
    num(d, "payload_packets", p->dpi.payload_packets);
    num(d, "flows_inspected", p->dpi.flows_inspected);
    num(d, "flows_detected", p->dpi.flows_detected);
    num(d, "flows_guessed", p->dpi.flows_guessed);
    num(d, "pool_empty", p->dpi.pool_empty);
    num(d, "pool_in_use", p->dpi.pool_in_use);
    num(d, "meta_flows", p->dpi.meta_flows);
    num(d, "meta_found", p->dpi.meta_found);
    num(d, "meta_pool_empty", p->dpi.meta_pool_empty);
    num(d, "meta_in_use", p->dpi.meta_in_use);
    return 0;
}

cJSON *sensor_stats_json(const struct sensor_counters *c)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "type", "sensor");
    num(o, "uptime_s", c->uptime_s);
    cJSON_AddBoolToObject(o, "final", c->final);
    cJSON *parts[] = {capture_json(&c->capture, c->loopback_twice), flows_json(&c->processor), delivery_json(&c->sender)};
    const char *names[] = {"capture", "flows", "delivery"};
    for (int i = 0; i < 3; i++) {
        if (!parts[i] || !cJSON_AddItemToObject(o, names[i], parts[i])) {
            cJSON_Delete(parts[i]);
            for (int k = i + 1; k < 3; k++)
                cJSON_Delete(parts[k]);
            cJSON_Delete(o);
            return NULL;
        }
    }
    add_ipfix_output(o, &c->sender);
    if (dpi_json(o, c) != 0) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *sensor_stats_gather(const struct stages *st, uint64_t uptime_s, bool final)
{
    struct sensor_counters c = {.final = final, .uptime_s = uptime_s, .loopback_twice = sensor_loopback_twice(st->cfg)};
    capture_get_stats(st->cap, &c.capture);
    processor_get_stats(st->proc, &c.processor);
    sender_get_stats(st->snd, &c.sender);
    cJSON *ev = sensor_stats_json(&c);
    if (!ev)
        return NULL;
    add_process_json(ev, &c.sender);
    cJSON *hooks = cJSON_AddObjectToObject(ev, "hooks");
    if (hooks)
        hook_set_stats_json(st->hooks, hooks);
    return ev;
}
