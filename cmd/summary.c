/*
 * summary.c — configuration, summary and exit-status lines (see summary.h).
 */
#include "cmd/summary.h"

#include <signal.h>

#include "cmd/sensor_stats.h"
#include "common/log.h"

void summary_log_configuration(const struct config *cfg)
{
    struct config_kv kv[128];   /* room for every setting (config_setting_count), with margin for more */
    struct log_field f[129];
    size_t n = config_describe(cfg, kv, 128);
    f[0] = LOG_STR("version", TRACER_VERSION);
    for (size_t i = 0; i < n; i++) {   /* numbers and booleans keep their type in JSON */
        if (kv[i].kind == CFG_KV_NUM)
            f[i + 1] = LOG_U64(kv[i].var, kv[i].num);
        else if (kv[i].kind == CFG_KV_BOOL)
            f[i + 1] = LOG_BOOL(kv[i].var, kv[i].num != 0);
        else
            f[i + 1] = LOG_STR(kv[i].var, kv[i].value);
    }
    log_fields(LOG_INFO, "configuration", f, n + 1);
}

/* Records the capture rings still hold (none after a clean shutdown). */
static uint64_t pkt_rings_count(const struct stages *st)
{
    uint64_t n = 0;
    for (size_t i = 0; i < st->n_pkt_rings; i++)
        n += ring_count(st->pkt_rings[i]);
    return n;
}

void summary_log_end(const struct stages *st)
{
    summary_log_counters(st, "summary");
}

void summary_log_counters(const struct stages *st, const char *msg)
{
    struct capture_stats cs;
    struct processor_stats ps;
    struct sender_stats ss;
    capture_get_stats(st->cap, &cs);
    processor_get_stats(st->proc, &ps);
    sender_get_stats(st->snd, &ss);
    const struct log_field f[] = {
        LOG_U64("frames", cs.frames), LOG_U64("decoded", cs.decode[DECODE_OK]),
        LOG_U64("truncated", cs.decode[DECODE_TRUNCATED]), LOG_U64("bad_header", cs.decode[DECODE_BAD_HEADER]),
        LOG_U64("not_ip", cs.decode[DECODE_NOT_IP]), LOG_U64("unsupported_link", cs.decode[DECODE_UNSUPPORTED_LINK]),
        LOG_U64("packet_ring_drops", cs.ring_drops), LOG_U64("kernel_received", cs.kernel_received),
        LOG_BOOL("kernel_counts_loopback_twice", sensor_loopback_twice(st->cfg)),
        LOG_U64("kernel_dropped", cs.kernel_dropped), LOG_U64("interface_dropped", cs.interface_dropped),
        LOG_U64("file_truncated", cs.file_truncated), LOG_U64("interface_lost", cs.interface_lost),
        LOG_U64("reopens", cs.reopens), LOG_U64("flows", ps.table.flows_created),
        LOG_U64("records", ps.table.flows_ended + ps.table.interim_records),
        LOG_U64("interim", ps.table.interim_records), LOG_U64("evicted", ps.table.evicted),
        LOG_U64("frag_orphans", ps.table.frag_orphans), LOG_U64("flow_alloc_failures", ps.table.alloc_failures),
        LOG_U64("frag_source_limited", ps.table.frag_source_limited),
        LOG_U64("frag_evicted", ps.table.frag_evicted),
        LOG_U64("event_ring_drops", ps.events_dropped), LOG_U64("events_output", ss.events_in),
        LOG_U64("events_delivered", ss.events_sent),
        LOG_U64("events_failed", ss.events_failed), LOG_U64("json_errors", ss.json_errors),
        /* tunnel (issue 14) */
        LOG_U64("tunnel_decapsulated", cs.tunnel_decapsulated), LOG_U64("tunnel_capped", cs.tunnel_capped),
        LOG_U64("tunnel_undecoded", cs.tunnel_undecoded), LOG_U64("tunnel_fragment", cs.tunnel_fragment)};
    log_fields(LOG_INFO, msg, f, sizeof f / sizeof f[0]);
    if (ps.dpi_on) {   /* dpi (issue 15): what went without inspection, and why */
        const struct log_field d[] = {
            LOG_U64("payload_copied", cs.payload_copied), LOG_U64("payload_ring_full", cs.payload_ring_full),
            LOG_U64("flows_inspected", ps.dpi.flows_inspected), LOG_U64("flows_detected", ps.dpi.flows_detected),
            LOG_U64("flows_guessed", ps.dpi.flows_guessed), LOG_U64("pool_empty", ps.dpi.pool_empty)};
        log_fields(LOG_INFO, "dpi summary", d, sizeof d / sizeof d[0]);
    }
}

int summary_delivery_status(const struct stages *st)
{
    struct sender_stats ss;
    struct processor_stats ps;
    sender_get_stats(st->snd, &ss);
    processor_get_stats(st->proc, &ps);
    const struct kafka_output_stats *k = &ss.kafka;
    uint64_t kafka_lost = k->dropped_no_spool + k->dropped_spool_full + k->dropped_spool_error + k->dropped_invalid;
    if (ss.events_failed || ss.json_errors || ps.events_dropped || ss.stdout_failed || kafka_lost)
        return EXIT_DROPPED;
    if (ss.delivery.spool_events || k->spool_events)
        return EXIT_SPOOLED;
    return 0;
}

void summary_log_abandoned(const struct stages *st, int sig)
{
    struct processor_stats ps;
    struct sender_stats ss;
    bool flows_known = processor_try_get_stats(st->proc, &ps) == 0;
    sender_get_stats(st->snd, &ss);
    uint64_t in_rings = ring_count(st->ev_proc) + ring_count(st->ev_janitor) + hook_set_ring_count(st->hooks);
    log_fields(LOG_ERROR, "second signal during shutdown: exiting now without flushing",
               (const struct log_field[]){
                   LOG_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"),
                   LOG_BOOL("open_flows_known", flows_known),   /* false: the table was busy */
                   LOG_U64("open_flows", flows_known ? ps.table.active_flows : 0),
                   LOG_U64("packets_unprocessed", pkt_rings_count(st)),
                   LOG_U64("events_in_rings", in_rings),
                   LOG_U64("events_in_memory_queue", ss.delivery.queue_events),
                   LOG_U64("events_delivered", ss.events_sent),
                   LOG_U64("events_dropped_before", ss.events_failed),
                   LOG_U64("events_in_spool", ss.delivery.spool_events),
               },
               9);
}
