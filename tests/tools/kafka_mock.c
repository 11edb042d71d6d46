/*
 * kafka_mock.c — a 3-broker Kafka cluster on loopback for the tests.
 *
 * librdkafka ships a Kafka protocol implementation for testing, the mock
 * cluster (<librdkafka/rdkafka_mock.h>): real brokers speaking the real
 * protocol (metadata, produce, fetch, idempotent producer ids) on loopback
 * ports, without a JVM. This helper starts one, prints its bootstrap
 * servers as the first line of stdout ("BOOTSTRAP host:port,..."), and then
 * reads commands from stdin, one per line, answering "OK" or "ERR <why>":
 *
 *   topic NAME PARTITIONS   create a topic (replication factor 3)
 *   leader NAME PART ID     broker ID leads partition PART of topic NAME (leaders
 *                           are otherwise chosen at random when a topic is made)
 *   down ID                 broker ID (1-3) stops answering (connections closed)
 *   up ID                   broker ID answers again
 *   errors N CODE           the next N Produce requests fail with error CODE
 *                           (e.g. 7 = REQUEST_TIMED_OUT, 6 = NOT_LEADER_FOR_PARTITION;
 *                           45 = OUT_OF_ORDER_SEQUENCE_NUMBER, fatal for the
 *                           idempotent producer when it hits its oldest batch)
 *   quit                    (or end of input) destroy the cluster and exit
 *
 * Usage: kafka_mock [BROKERS]   (default 3)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define RD_KAFKAP_PRODUCE 0   /* ApiKey of Produce requests */

int main(int argc, char **argv)
{
    int brokers = argc > 1 ? atoi(argv[1]) : 3;
    if (brokers < 1 || brokers > 16) {
        fprintf(stderr, "kafka_mock: BROKERS must be in [1, 16]\n");
        return 2;
    }
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err);   /* no "no bootstrap.servers" notice */
    /* The handle the mock cluster needs for its bookkeeping; it produces nothing. */
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) {
        fprintf(stderr, "kafka_mock: %s\n", err);
        return 1;
    }
    rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
    if (!mc) {
        fprintf(stderr, "kafka_mock: cannot create the mock cluster\n");
        rd_kafka_destroy(rk);
        return 1;
    }
    printf("BOOTSTRAP %s\n", rd_kafka_mock_cluster_bootstraps(mc));
    fflush(stdout);

    char line[512];
    while (fgets(line, sizeof line, stdin)) {
        char cmd[32] = "", name[256] = "";
        int a = 0, b = 0;
        int n = sscanf(line, "%31s", cmd);
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
        if (n != 1)
            continue;
        if (strcmp(cmd, "quit") == 0)
            break;
        if (strcmp(cmd, "topic") == 0 && sscanf(line, "%*s %255s %d", name, &a) == 2 && a > 0) {
            e = rd_kafka_mock_topic_create(mc, name, a, brokers < 3 ? brokers : 3);
        } else if (strcmp(cmd, "leader") == 0 && sscanf(line, "%*s %255s %d %d", name, &a, &b) == 3) {
            e = rd_kafka_mock_partition_set_leader(mc, name, a, b);
        } else if ((strcmp(cmd, "down") == 0 || strcmp(cmd, "up") == 0) && sscanf(line, "%*s %d", &a) == 1) {
            e = strcmp(cmd, "down") == 0 ? rd_kafka_mock_broker_set_down(mc, a) : rd_kafka_mock_broker_set_up(mc, a);
        } else if (strcmp(cmd, "errors") == 0 && sscanf(line, "%*s %d %d", &a, &b) == 2 && a > 0 && a <= 1000) {
            rd_kafka_resp_err_t errs[1000];
            for (int i = 0; i < a; i++)
                errs[i] = (rd_kafka_resp_err_t)b;
            rd_kafka_mock_push_request_errors_array(mc, RD_KAFKAP_PRODUCE, (size_t)a, errs);
        } else {
            printf("ERR unknown command\n");
            fflush(stdout);
            continue;
        }
        if (e)
            printf("ERR %s\n", rd_kafka_err2str(e));
        else
            printf("OK\n");
        fflush(stdout);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return 0;
}
