/*
 * kafka_out.c — `make bench` row for the sensor's Kafka output alone (issue
 * 16): the events of an NDJSON file offered through kafka_output_offer, as
 * the sender thread does (key = the flow's Community ID found in its JSON),
 * to the mock cluster, then kafka_output_finish. Beside bench/kafka_floor.c
 * (a bare librdkafka producer of the same lines with the same settings) it
 * shows what the output adds to librdkafka: the accounting, the fatal-error
 * lock, the key lookup. Without the pcap reading, flow table and JSON of a
 * whole sensor run, CPU time per event is comparable between the two.
 *
 * Usage: kafka_out BOOTSTRAP TOPIC N NDJSON
 * Prints: "N acked S s R events/s U user-s Y sys-s" (first offer to the last
 * acknowledgement, from the output's own summary; CPU of the whole process).
 */
#define _GNU_SOURCE 1   /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>

#include "common/log.h"
#include "config/config.h"
#include "sender/kafka_output.h"

#include "kafka_setup.h"

int main(int argc, char **argv)
{
    unsigned long n;
    static struct ksetup_lines lines;
    int rc = ksetup_args("kafka_out", argc, argv, &n, &lines);
    if (rc != 0)
        return rc;
    log_set_level(LOG_WARN);
    struct config cfg = {0};
    cfg.kafka_brokers = argv[1];
    cfg.kafka_topic_flow = argv[2];
    cfg.kafka_topic_events = "tracer.events";
    cfg.kafka_compression = "lz4";
    cfg.kafka_security_protocol = "plaintext";
    cfg.kafka_queue_max_events = 2000000;
    cfg.kafka_delivery_timeout_ms = 30000;
    cfg.shutdown_timeout_ms = 60000;
    cfg.spool_max_mb = 256;
    char err[512];
    kafka_output *k = kafka_output_create(&cfg, err, sizeof err);
    if (!k || kafka_output_start(k, err, sizeof err) != 0) {
        fprintf(stderr, "kafka_out: %s\n", err);
        return 1;
    }
    static const char field[] = "\"community_id\":\"";
    double t0 = ksetup_mono_s();
    for (unsigned long i = 0; i < n; i++) {
        const char *text = lines.text[i % lines.n];
        size_t len = lines.len[i % lines.n];
        const char *fd = memmem(text, len, field, sizeof field - 1);
        const char *v = fd ? fd + sizeof field - 1 : NULL;
        const char *q = v ? memchr(v, '"', len - (size_t)(v - text)) : NULL;
        kafka_output_offer(k, KAFKA_TOPIC_FLOW, q ? v : NULL, q ? (size_t)(q - v) : 0, text, len);
    }
    kafka_output_finish(k);
    double dt = ksetup_mono_s() - t0;
    struct kafka_output_stats st;
    kafka_output_get_stats(k, &st);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%llu acked %.3f s %.0f events/s %.2f user-s %.2f sys-s (%llu not acknowledged)\n",
           (unsigned long long)st.delivered, dt, (double)st.delivered / dt,
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6,
           (unsigned long long)(st.offered - st.delivered));
    kafka_output_destroy(k);
    ksetup_lines_free(&lines);
    return st.delivered == n ? 0 : 1;
}
