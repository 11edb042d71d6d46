/*
 * test_kafka_output.c — the Kafka output against librdkafka's mock cluster
 * (3 brokers on loopback, in this process): every offered event
 * acknowledged; with every broker down, every event spooled (with its topic
 * kind and key) and, by the next instance once the brokers are back,
 * produced again and removed from the spool; a fatal producer error: a new
 * producer, every event acknowledged.
 *
 * ASan/UBSan only: under ThreadSanitizer (GCC 12) this binary crashes in
 * librdkafka's first thread, which it starts with C11 thrd_create, a call
 * TSan does not intercept; `make tsan` does not build it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "common/log.h"
#include "config/config.h"
#include "sender/kafka_output.h"

struct fx {
    rd_kafka_t *rk;                 /* the handle the mock cluster needs */
    rd_kafka_mock_cluster_t *mc;
    char dir[64];                   /* spool directory */
    struct config cfg;
};

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof *f);
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "log_level", "0", err, sizeof err), RD_KAFKA_CONF_OK);
    f->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    assert_non_null(f->rk);
    f->mc = rd_kafka_mock_cluster_new(f->rk, 3);
    assert_non_null(f->mc);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, "t.flows", 4, 3), 0);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, "t.events", 1, 3), 0);
    snprintf(f->dir, sizeof f->dir, "/tmp/test_kafka_output.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->cfg.kafka_brokers = (char *)rd_kafka_mock_cluster_bootstraps(f->mc);
    f->cfg.kafka_topic_flow = "t.flows";
    f->cfg.kafka_topic_events = "t.events";
    f->cfg.kafka_compression = "lz4";
    f->cfg.kafka_security_protocol = "plaintext";
    f->cfg.kafka_queue_max_events = 10000;
    f->cfg.kafka_delivery_timeout_ms = 1000;
    f->cfg.shutdown_timeout_ms = 10000;
    f->cfg.spool_max_mb = 16;
    log_set_level(LOG_ERROR);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    rd_kafka_mock_cluster_destroy(f->mc);
    rd_kafka_destroy(f->rk);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void offer_n(kafka_output *k, int n)
{
    for (int i = 0; i < n; i++) {
        char json[96], key[32];
        int jl = snprintf(json, sizeof json, "{\"type\":\"%s\",\"i\":%d}", i % 5 ? "flow" : "sensor", i);
        int kl = snprintf(key, sizeof key, "1:key-%d=", i % 7);
        kafka_output_offer(k, i % 5 ? KAFKA_TOPIC_FLOW : KAFKA_TOPIC_EVENTS, key, (size_t)kl, json, (size_t)jl);
    }
}

static void test_create_needs_brokers(void **state)
{
    struct fx *f = *state;
    struct config c = f->cfg;
    c.kafka_brokers = NULL;
    char err[128];
    assert_null(kafka_output_create(&c, err, sizeof err));
    assert_string_equal(err, "kafka: no brokers");
    kafka_output_destroy(NULL);
}

static void test_every_event_acknowledged(void **state)
{
    struct fx *f = *state;
    char err[256];
    kafka_output *k = kafka_output_create(&f->cfg, err, sizeof err);
    assert_non_null(k);
    assert_int_equal(kafka_output_start(k, err, sizeof err), 0);
    offer_n(k, 500);
    kafka_output_finish(k);
    struct kafka_output_stats st;
    kafka_output_get_stats(k, &st);
    assert_int_equal(st.offered, 500);
    assert_int_equal(st.produced, 500);
    assert_int_equal(st.delivered, 500);
    assert_int_equal(st.spooled, 0);
    assert_int_equal(st.dropped_no_spool, 0);
    assert_int_equal(st.queued, 0);
    kafka_output_destroy(k);
}

/* Brokers down: every event to <dir>/kafka; brokers back: the next instance replays and empties it. */
static void test_spool_then_replay(void **state)
{
    struct fx *f = *state;
    struct config c = f->cfg;
    c.spool_dir = f->dir;
    c.shutdown_timeout_ms = 1500;
    for (int b = 1; b <= 3; b++)
        assert_int_equal(rd_kafka_mock_broker_set_down(f->mc, b), 0);
    char err[256];
    kafka_output *k = kafka_output_create(&c, err, sizeof err);
    assert_non_null(k);
    assert_int_equal(kafka_output_start(k, err, sizeof err), 0);
    offer_n(k, 40);
    kafka_output_finish(k);
    struct kafka_output_stats st;
    kafka_output_get_stats(k, &st);
    assert_int_equal(st.offered, 40);
    assert_int_equal(st.delivered, 0);
    assert_int_equal(st.spooled, 40);
    assert_int_equal(st.spool_events, 40);
    assert_int_equal(st.failed_timed_out + st.failed_shutdown + st.failed_broker, 40);
    kafka_output_destroy(k);

    /* one spooled line: "<F|E> <keylen> <key><json>" */
    char path[128];
    snprintf(path, sizeof path, "%s/kafka", f->dir);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *e;
    char body[16384] = "";
    size_t blen = 0;
    while ((e = readdir(d)) != NULL) {
        if (!strstr(e->d_name, ".batch"))
            continue;
        char fp[512];
        snprintf(fp, sizeof fp, "%s/%s", path, e->d_name);
        FILE *fh = fopen(fp, "r");
        assert_non_null(fh);
        blen += fread(body + blen, 1, sizeof body - 1 - blen, fh);   /* every batch file, in any order */
        body[blen] = '\0';
        fclose(fh);
    }
    closedir(d);
    assert_non_null(strstr(body, "E 8 1:key-0={\"type\":\"sensor\",\"i\":0}\n"));
    assert_non_null(strstr(body, "F 8 1:key-1={\"type\":\"flow\",\"i\":1}\n"));

    for (int b = 1; b <= 3; b++)
        assert_int_equal(rd_kafka_mock_broker_set_up(f->mc, b), 0);
    c.shutdown_timeout_ms = 30000;
    k = kafka_output_create(&c, err, sizeof err);
    assert_non_null(k);
    assert_int_equal(kafka_output_start(k, err, sizeof err), 0);
    kafka_output_finish(k);       /* the shutdown drain goes on replaying until the spool is empty */
    kafka_output_get_stats(k, &st);
    assert_int_equal(st.offered, 0);
    assert_int_equal(st.replayed, 40);
    assert_int_equal(st.delivered, 40);
    assert_int_equal(st.spool_events, 0);
    assert_int_equal(st.failed_replay, 0);
    kafka_output_destroy(k);
}

/* The first Produce request answered OUT_OF_ORDER_SEQUENCE_NUMBER: a fatal error for the idempotent
 * producer. A new producer takes over and every event is acknowledged, none through the spool. */
static void test_fatal_error_recreates_the_producer(void **state)
{
    struct fx *f = *state;
    struct config c = f->cfg;
    c.spool_dir = f->dir;
    rd_kafka_resp_err_t errs[1] = {RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER};
    rd_kafka_mock_push_request_errors_array(f->mc, 0 /* Produce */, 1, errs);
    char err[256];
    kafka_output *k = kafka_output_create(&c, err, sizeof err);
    assert_non_null(k);
    assert_int_equal(kafka_output_start(k, err, sizeof err), 0);
    offer_n(k, 500);
    kafka_output_finish(k);
    struct kafka_output_stats st;
    kafka_output_get_stats(k, &st);
    assert_int_equal(st.fatal_errors, 1);
    assert_int_equal(st.producer_restarts, 1);
    assert_true(st.failed_fatal > 0);
    assert_int_equal(st.offered, 500);
    assert_int_equal(st.delivered, 500);
    /* produced: the first tries that librdkafka took, plus every one produced again */
    assert_true(st.produced >= 500 && st.produced <= 500 + st.failed_fatal);
    assert_int_equal(st.spooled, 0);
    assert_int_equal(st.spool_events, 0);
    assert_int_equal(st.failed_queue_full + st.failed_broker + st.failed_shutdown + st.failed_timed_out, 0);
    assert_int_equal(st.queued, 0);
    kafka_output_destroy(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_needs_brokers),
        cmocka_unit_test(test_every_event_acknowledged),
        cmocka_unit_test(test_spool_then_replay),
        cmocka_unit_test(test_fatal_error_recreates_the_producer),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
