/*
 * kafka_floor.c — `make bench` floor for the Kafka rows (issue 16): the
 * fastest a trivial librdkafka producer gets its messages acknowledged by
 * the same mock cluster, with the sensor's producer settings (idempotent,
 * acks=all, lz4, murmur2 keys, linger.ms=5, batches referencing the
 * payloads) and the sensor's own flow events as messages. Nothing is
 * serialised and nothing is accounted: what is left
 * is librdkafka and the mock cluster, so the sensor's Kafka row is read as a
 * fraction of this (like the HTTP rows against the raw-socket POST floor).
 *
 * Usage: kafka_floor BOOTSTRAP TOPIC N NDJSON [NAME=VALUE...]
 *   NAME=VALUE: librdkafka settings over the sensor's (to try other ones).
 *   the messages are the lines of the file NDJSON (e.g. the sensor's own
 *   output for the bench trace), cycled, keyed by a per-message number.
 * Prints: "N acked S s R msgs/s U user-s Y sys-s" (first produce to last
 * acknowledgement; the CPU of this process over the whole run).
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/resource.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "kafka_setup.h"

static unsigned long acked, failed;
static double last_ack;

static void on_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)opaque;
    if (m->err)
        failed++;
    else
        acked++;
    last_ack = ksetup_mono_s();
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
    char err[256];
    if (rd_kafka_conf_set(c, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka_floor: %s=%s: %s\n", k, v, err);
        exit(2);
    }
}

int main(int argc, char **argv)
{
    unsigned long n;
    static struct ksetup_lines lines;   /* up to KSETUP_MAXLINES lines of the file, kept in memory */
    int rc = ksetup_args("kafka_floor", argc, argv, &n, &lines);
    if (rc != 0)
        return rc;
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    set(c, "bootstrap.servers", argv[1]);
    set(c, "enable.idempotence", "true");
    set(c, "acks", "all");
    set(c, "compression.codec", "lz4");
    set(c, "partitioner", "murmur2_random");
    set(c, "linger.ms", "5");
    set(c, "batch.num.messages", "10000");
    set(c, "message.copy.max.bytes", "0");
    set(c, "queue.buffering.max.messages", "2000000");
    set(c, "queue.buffering.max.kbytes", "1048576");
    for (int i = 5; i < argc; i++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) {
            fprintf(stderr, "kafka_floor: %s: not NAME=VALUE\n", argv[i]);
            return 2;
        }
        *eq = '\0';
        set(c, argv[i], eq + 1);
    }
    rd_kafka_conf_set_dr_msg_cb(c, on_dr);
    char err[512];
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafka_floor: %s\n", err);
        return 1;
    }
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, argv[2], NULL);
    char key[64];
    double t0 = ksetup_mono_s();
    for (unsigned long i = 0; i < n; i++) {
        int kl = snprintf(key, sizeof key, "1:%027lu=", i * 2654435761ul);
        for (;;) {
            rd_kafka_resp_err_t e = rd_kafka_producev(rk, RD_KAFKA_V_RKT(t), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                      RD_KAFKA_V_KEY(key, (size_t)kl),
                                                      RD_KAFKA_V_VALUE(lines.text[i % lines.n], lines.len[i % lines.n]),
                                                      RD_KAFKA_V_END);
            if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
                break;
            if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                fprintf(stderr, "kafka_floor: %s\n", rd_kafka_err2str(e));
                return 1;
            }
            rd_kafka_poll(rk, 10);
        }
        if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    while (acked + failed < n)
        rd_kafka_poll(rk, 50);
    double dt = last_ack - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%lu acked %.3f s %.0f msgs/s %.2f user-s %.2f sys-s (%lu failed)\n", acked, dt, (double)acked / dt,
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6, failed);
    rd_kafka_topic_destroy(t);
    rd_kafka_destroy(rk);
    ksetup_lines_free(&lines);
    return failed ? 1 : 0;
}
