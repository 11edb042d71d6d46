/*
 * kafka_output.h — events to Kafka with librdkafka, at least once.
 *
 * One of the sender's outputs (sender.c fans every event out to each output
 * that is on). The sender thread offers each event's JSON with its topic kind
 * and key; the offer copies it into librdkafka's queue and never blocks.
 * librdkafka batches, compresses and sends from its own broker threads, as an
 * idempotent producer with acks=all (no duplicates from its own retries, no
 * gaps per partition). Flow events go to AGENT_KAFKA_TOPIC_FLOW keyed by
 * their Community ID (every record of a flow lands in one partition, with
 * murmur2 partitioning, as Java clients do); every other event type goes to
 * AGENT_KAFKA_TOPIC_EVENTS keyed by the sensor's host name.
 *
 * At-least-once, like the HTTP delivery: an event is done when its delivery
 * report says the brokers acknowledged it. An event that is not acknowledged
 * (a delivery report error, including "still queued after
 * AGENT_KAFKA_DELIVERY_TIMEOUT", or no room in librdkafka's queue of
 * AGENT_KAFKA_QUEUE_MAX_EVENTS) goes to the spool (<AGENT_SPOOL_DIR>/kafka,
 * capped at AGENT_SPOOL_MAX_MB like the HTTP spool) or, without a spool, is
 * dropped; both counted by reason. Spooled events are produced again, oldest
 * batch first, once the brokers acknowledge again (and at the next start); a
 * spooled batch is deleted only when every event in it was acknowledged, so a
 * replay that fails half-way is repeated (duplicates carry the same event_id).
 *
 * A fatal producer error (librdkafka's handle is then unusable) is not fatal
 * to the sensor: the kafka thread creates a new producer from the same
 * settings and produces again what the old one had not got acknowledged
 * (counted: fatal_errors, producer_restarts, failed_fatal).
 *
 * Threads: kafka_output_offer runs on the sender thread. A "kafka" thread of
 * this module calls rd_kafka_poll, so the delivery-report and error
 * callbacks run there; it also writes failed events to the spool and replays
 * it (file I/O never runs on the sender thread). librdkafka's own threads
 * (main, one per broker) do the network work; its log callback runs on them.
 * Nothing here runs per packet.
 */
#ifndef TRACER_KAFKA_OUTPUT_H
#define TRACER_KAFKA_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

struct config;
typedef struct kafka_output kafka_output;

enum kafka_topic_kind { KAFKA_TOPIC_FLOW = 0, KAFKA_TOPIC_EVENTS = 1, KAFKA_TOPIC_KINDS };

struct kafka_output_stats {
    uint64_t offered;            /* events the sender offered */
    uint64_t produced;           /* events handed to librdkafka (live and replayed) */
    uint64_t delivered;          /* acknowledged by the brokers (acks=all), live and replayed */
    uint64_t replayed;           /* of delivered: from the spool */
    uint64_t spooled;            /* events written to the spool */
    /* attempts that failed, by reason (the event then goes to the spool, or is dropped) */
    uint64_t failed_queue_full;  /* librdkafka's queue held AGENT_KAFKA_QUEUE_MAX_EVENTS */
    uint64_t failed_timed_out;   /* not acknowledged within AGENT_KAFKA_DELIVERY_TIMEOUT */
    uint64_t failed_broker;      /* a delivery report with any other error */
    uint64_t failed_shutdown;    /* still unacknowledged at the end of AGENT_SHUTDOWN_TIMEOUT */
    uint64_t failed_replay;      /* replayed events not acknowledged (their batch stays in the spool) */
    uint64_t failed_fatal;       /* refused or not acknowledged because the producer had a fatal error
                                    (produced again on the new producer, or spooled) */
    /* events lost */
    uint64_t dropped_no_spool;   /* failed with no AGENT_SPOOL_DIR */
    uint64_t dropped_spool_full; /* deleted from the spool (oldest first) to stay under the cap */
    uint64_t dropped_spool_error;/* the spool could not take them (I/O error, batch larger than the cap) */
    uint64_t dropped_invalid;    /* refused by librdkafka for good (e.g. larger than message.max.bytes) */
    /* now */
    uint64_t queued;             /* in librdkafka's queue or in flight */
    uint64_t spool_events;       /* waiting in the spool */
    /* fatal producer errors (e.g. the idempotent producer's sequence lost): the handle is recreated */
    uint64_t fatal_errors;       /* fatal errors raised */
    uint64_t producer_restarts;  /* new producers created after one */
};

/*
 * Create the producer from cfg (kafka_brokers must be set) and, with
 * cfg->spool_dir, open <spool_dir>/kafka (made if missing, owned like the
 * spool directory). Nothing is sent before kafka_output_start. Main thread,
 * before the privilege drop. NULL with a message in err (never a secret).
 */
kafka_output *kafka_output_create(const struct config *cfg, char *err, size_t errlen);

/* Start the "kafka" thread (polls, spools, replays). 0, or -1 with a message. Sender thread or main. */
int kafka_output_start(kafka_output *k, char *err, size_t errlen);

/*
 * Sender thread: produce one event (json[0..len), its key[0..keylen), keylen
 * may be 0 for no key) to the topic of `kind`. Copies; never blocks: when
 * librdkafka's queue is full the event goes to the spool (or is dropped),
 * counted.
 */
void kafka_output_offer(kafka_output *k, enum kafka_topic_kind kind, const char *key, size_t keylen,
                        const char *json, size_t len);

/*
 * No more offers: the kafka thread starts its final drain (below) now, without
 * waiting for it, so that other outputs can drain at the same time. Sender thread.
 */
void kafka_output_finish_begin(kafka_output *k);

/*
 * No more offers: wait up to AGENT_SHUTDOWN_TIMEOUT for acknowledgements,
 * spool (or drop) what is left, join the thread. Sender thread.
 */
void kafka_output_finish(kafka_output *k);

/* Any thread: relaxed snapshot of the counters. */
void kafka_output_get_stats(const kafka_output *k, struct kafka_output_stats *out);

/* NULL-safe; after kafka_output_finish (or if never started). */
void kafka_output_destroy(kafka_output *k);

#endif
