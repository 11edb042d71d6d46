/*
 * kafka_output.c — the Kafka output (see kafka_output.h for the contract).
 *
 * librdkafka (Debian's librdkafka-dev) is the Kafka client: the protocol,
 * batching, compression, the idempotent producer, TLS and SASL are its work.
 * This file adds what the sensor needs around it: the configuration mapping,
 * the accounting of every event (offered, produced, acknowledged, failed by
 * reason, spooled, replayed, dropped), and the spool.
 *
 * Events that were not acknowledged are collected under a mutex in a pending
 * buffer (the sender thread adds on "queue full", the kafka thread adds from
 * delivery reports) and the kafka thread writes that buffer to the spool as
 * one batch every SPOOL_FLUSH_MS or SPOOL_FLUSH_EVENTS events. The pending
 * buffer is bounded (PENDING_MAX_BYTES); past it events are dropped and
 * counted as spool_error.
 *
 * A spooled batch holds one line per event: "<kind> <keylen> <key><json>\n"
 * (kind 'F' flow, 'E' other; JSON text has no raw newline), so a replay goes
 * to the same topic with the same key. The kafka thread replays one batch at
 * a time, only while nothing has failed for the current back-off (1 s
 * doubling to 30 s after a failure) and librdkafka's queue is less than half
 * full; the batch is deleted when every one of its events was acknowledged.
 * Replay messages carry the replay state as their opaque; live ones NULL.
 *
 * A fatal error (the idempotent producer lost its sequence with the brokers,
 * e.g. OUT_OF_ORDER_SEQUENCE_NUMBER) makes a librdkafka handle unusable for
 * good. The kafka thread then creates a new handle from the same settings and
 * swaps it in under a rwlock (the sender thread produces under its read
 * side), waits a bounded time for the old handle's in-flight requests, purges
 * it and destroys it. Events the old handle did not get acknowledged (its
 * delivery reports, and offers refused with _FATAL before the swap) are kept
 * in a "redo" buffer, in the spool's line format, and produced again on the
 * new handle; what does not fit there goes the pending/spool way. A handle
 * that cannot be created is tried again with the replay back-off.
 */
#include "kafka_output.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "../common/growbuf.h"
#include "../common/log.h"
#include "../common/timefmt.h"
#include "../config/config.h"
#include "spool.h"

#define POLL_MS             50u
#define SPOOL_FLUSH_MS      200u
#define SPOOL_FLUSH_EVENTS  4096u
#define PENDING_MAX_BYTES   ((size_t)64 << 20)  /* events waiting to be spooled */
#define REPLAY_BACKOFF_MIN_US  1000000u
#define REPLAY_BACKOFF_MAX_US 30000000u
#define PURGE_WAIT_MS       2000u               /* at shutdown: wait for purged messages' reports */
#define SPOOL_SUBDIR        "kafka"
#define RETIRE_WAIT_MS      5000u               /* fatal error: wait for the old handle's in-flight requests */

struct pending {
    char *buf;
    size_t len, cap;
    uint32_t n;
};

/* The spooled batch being replayed (kafka thread only). */
struct replay {
    bool active;
    uint64_t id;
    uint32_t nevents;
    uint32_t outstanding;       /* produced, report not yet seen */
    bool failed;                /* some event not produced or not acknowledged */
};

/* One librdkafka handle and its two topics. */
struct producer {
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic[KAFKA_TOPIC_KINDS];
};

struct kafka_output {
    struct producer *p;         /* written by the kafka thread under plock (write); others read under plock */
    pthread_rwlock_t plock;
    struct producer *old;       /* kafka thread: the handle being retired after a fatal error, or NULL */
    rd_kafka_conf_t *tmpl;      /* the settings every handle is created from (rd_kafka_conf_dup) */
    char *topic_name[KAFKA_TOPIC_KINDS];
    uint64_t restart_at_us;     /* kafka thread: no new handle before this (creation failed) */
    uint64_t restart_backoff_us;
    bool fatal_counted;         /* kafka thread: the current handle's fatal error is counted */
    spool *sp;                  /* NULL without AGENT_SPOOL_DIR */
    uint32_t shutdown_ms;
    uint32_t queue_max;
    size_t spool_chunk;         /* bytes per spooled batch: an eighth of the cap, at most 4 MiB */

    pthread_t thread;
    bool started;
    atomic_bool stop;

    pthread_mutex_t mu;         /* guards pend and redo */
    struct pending pend;
    struct pending spare;       /* kafka thread: the buffer being written to the spool */
    struct pending redo;        /* events to produce again on the next handle (fatal error) */
    struct pending redo_spare;  /* kafka thread: the redo buffer being produced */
    uint64_t pend_first_us;

    /* kafka thread only */
    struct replay rp;
    char *sbuf;                 /* spooled batch being replayed */
    size_t scap;
    uint64_t replay_at_us;      /* no replay before this (back-off after a failure) */
    uint64_t backoff_us;
    bool spool_failing;         /* a spool write failure was logged */
    rd_kafka_resp_err_t last_error; /* last error logged by error_cb (logged on change) */
    uint64_t last_ack_us;       /* monotonic time of the last acknowledgement */
    uint64_t first_offer_us;    /* sender thread: monotonic time of the first offer (read after the join) */

    _Atomic uint64_t offered, produced, delivered, replayed, spooled;
    _Atomic uint64_t failed_queue_full, failed_timed_out, failed_broker, failed_shutdown, failed_replay;
    _Atomic uint64_t dropped_no_spool, dropped_spool_full, dropped_spool_error, dropped_invalid;
    _Atomic uint64_t failed_fatal, fatal_errors, producer_restarts;
};

static void add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t get(const _Atomic uint64_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

/* ------------------------------------------------------------------------ */
/* Pending events (to the spool).                                           */

static int pend_reserve(struct pending *p, size_t need)
{
    return growbuf_reserve(&p->buf, &p->cap, p->len, need, 64u * 1024u, PENDING_MAX_BYTES);
}

/* Append one event as a spool line ("<kind> <keylen> <key><json>\n") to p. 0, or -1 when p is full.
 * Caller holds k->mu. */
static int line_add(struct pending *p, enum kafka_topic_kind kind, const char *key, size_t keylen,
                    const char *json, size_t len)
{
    char head[32];
    int hn = snprintf(head, sizeof head, "%c %zu ", kind == KAFKA_TOPIC_FLOW ? 'F' : 'E', keylen);
    if (pend_reserve(p, (size_t)hn + keylen + len + 1) != 0)
        return -1;
    memcpy(p->buf + p->len, head, (size_t)hn);
    p->len += (size_t)hn;
    if (keylen)
        memcpy(p->buf + p->len, key, keylen);
    p->len += keylen;
    memcpy(p->buf + p->len, json, len);
    p->len += len;
    p->buf[p->len++] = '\n';
    p->n++;
    return 0;
}

/* An event that was not acknowledged: keep it for the spool, or count it lost. Any thread. */
static void pend_add(kafka_output *k, enum kafka_topic_kind kind, const char *key, size_t keylen,
                     const char *json, size_t len)
{
    if (!k->sp) {
        add(&k->dropped_no_spool, 1);
        return;
    }
    pthread_mutex_lock(&k->mu);
    if (k->pend.n == 0)
        k->pend_first_us = timefmt_mono_us();
    int rc = line_add(&k->pend, kind, key, keylen, json, len);
    pthread_mutex_unlock(&k->mu);
    if (rc != 0)
        add(&k->dropped_spool_error, 1);
}

/* An event a fatal error kept from its acknowledgement: produce it again on the next handle (or, when
 * the redo buffer is full, the spool way). Any thread. */
static void redo_add(kafka_output *k, enum kafka_topic_kind kind, const char *key, size_t keylen,
                     const char *json, size_t len)
{
    pthread_mutex_lock(&k->mu);
    int rc = line_add(&k->redo, kind, key, keylen, json, len);
    pthread_mutex_unlock(&k->mu);
    if (rc != 0)
        pend_add(k, kind, key, keylen, json, len);
}

/* Kafka thread: write the pending events to the spool as one batch (when due, or `force`). */
static void pend_flush(kafka_output *k, bool force)
{
    if (!k->sp)
        return;
    pthread_mutex_lock(&k->mu);
    bool due = k->pend.n > 0 &&
               (force || k->pend.n >= SPOOL_FLUSH_EVENTS ||
                timefmt_mono_us() - k->pend_first_us >= SPOOL_FLUSH_MS * 1000u);
    if (due) {
        struct pending t = k->pend;     /* swap: the sender thread goes on adding to the other buffer */
        k->pend = k->spare;
        k->pend.len = 0;
        k->pend.n = 0;
        k->spare = t;
    }
    pthread_mutex_unlock(&k->mu);
    if (!due)
        return;
    /* Batches of whole lines, each at most spool_chunk bytes (one longer line alone). */
    const char *p = k->spare.buf, *end = k->spare.buf + k->spare.len;
    uint64_t dropped = 0;
    while (p < end) {
        const char *q = p;
        uint32_t n = 0;
        while (q < end && (n == 0 || (size_t)(q - p) < k->spool_chunk)) {
            const char *nl = memchr(q, '\n', (size_t)(end - q));
            size_t l = nl ? (size_t)(nl - q) + 1 : (size_t)(end - q);
            if (n > 0 && (size_t)(q - p) + l > k->spool_chunk)
                break;
            q += l;
            n++;
        }
        char err[256] = "";
        int rc = spool_put(k->sp, p, (size_t)(q - p), n, &dropped, err, sizeof err);
        if (rc == 0) {
            add(&k->spooled, n);
            if (k->spool_failing)
                log_info("kafka: writing the spool works again");
            k->spool_failing = false;
        } else {
            add(&k->dropped_spool_error, n);
            if (!k->spool_failing)
                log_warn("kafka: %" PRIu32 " unacknowledged event(s) lost: %s (further failures are counted, "
                         "not logged, until a write works)", n, err);
            k->spool_failing = true;
        }
        p = q;
    }
    add(&k->dropped_spool_full, dropped);
    if (dropped)
        log_warn("kafka: spool full: %" PRIu64 " oldest spooled event(s) deleted to make room", dropped);
    k->spare.len = 0;
    k->spare.n = 0;
}

/* ------------------------------------------------------------------------ */
/* librdkafka callbacks.                                                    */

/* The topic kind of a message of the current or the retiring handle. Kafka thread. */
static enum kafka_topic_kind kind_of(const kafka_output *k, const rd_kafka_topic_t *rkt)
{
    if (rkt == k->p->topic[KAFKA_TOPIC_FLOW] || (k->old && rkt == k->old->topic[KAFKA_TOPIC_FLOW]))
        return KAFKA_TOPIC_FLOW;
    return KAFKA_TOPIC_EVENTS;
}

/* Delivery report: one per produced message. Kafka thread (inside rd_kafka_poll / rd_kafka_flush). */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    kafka_output *k = opaque;
    struct replay *rp = m->_private;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        add(&k->delivered, 1);
        k->last_ack_us = timefmt_mono_us();
        k->backoff_us = 0;
        if (rp) {
            add(&k->replayed, 1);
            rp->outstanding--;
        }
        return;
    }
    /* Not acknowledged. */
    if (rp) {
        add(&k->failed_replay, 1);
        rp->failed = true;
        rp->outstanding--;
    } else if ((k->old && rk == k->old->rk) || rd_kafka_fatal_error(rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* The handle had a fatal error (this event's failure, or the purge that follows it): produce the
         * event again on its successor. */
        add(&k->failed_fatal, 1);
        redo_add(k, kind_of(k, m->rkt), m->key, m->key ? m->key_len : 0, m->payload, m->len);
        return;
    } else if (m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT) {
        add(&k->failed_shutdown, 1);
    } else if (m->err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT) {
        add(&k->failed_timed_out, 1);
    } else {
        add(&k->failed_broker, 1);
    }
    if (!rp)
        pend_add(k, kind_of(k, m->rkt), m->key, m->key ? m->key_len : 0, m->payload, m->len);
    /* Hold replays back while the brokers fail (the back-off itself grows per failed replay). */
    k->replay_at_us = timefmt_mono_us() + (k->backoff_us ? k->backoff_us : REPLAY_BACKOFF_MIN_US);
}

/* Client-level errors (all brokers down, authentication, fatal). Kafka thread. Logged on change. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    kafka_output *k = opaque;
    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_resp_err_t orig = rd_kafka_fatal_error(rk, why, sizeof why);
        log_error("kafka: fatal producer error (%s): %s; creating a new producer, the events this one did "
                  "not get acknowledged are produced again", rd_kafka_err2name(orig), why);
        k->last_error = err;
        return;
    }
    if ((rd_kafka_resp_err_t)err == k->last_error)
        return;
    k->last_error = err;
    log_warn("kafka: %s: %s", rd_kafka_err2name(err), reason);
}

/* librdkafka's own log lines, at debug level. Its threads. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk;
    (void)level;      /* what matters reaches on_error too, logged once per change */
    log_debug("kafka: %s: %s", fac, buf);
}

/* ------------------------------------------------------------------------ */
/* Create.                                                                  */

static int conf_set(rd_kafka_conf_t *conf, const char *name, const char *value, bool secret,
                    char *err, size_t errlen)
{
    char why[256];
    if (rd_kafka_conf_set(conf, name, value, why, sizeof why) == RD_KAFKA_CONF_OK)
        return 0;
    snprintf(err, errlen, "kafka: cannot set %s=%s: %s", name, secret ? "<redacted>" : value, why);
    return -1;
}

/* <spool_dir>/kafka: made if missing, owned like its parent (we may still be root). */
static int open_spool(kafka_output *k, const struct config *cfg, char *err, size_t errlen)
{
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", cfg->spool_dir, SPOOL_SUBDIR);
    if (n < 0 || (size_t)n >= sizeof path) {
        snprintf(err, errlen, "kafka: spool path too long");
        return -1;
    }
    struct stat parent;
    if (stat(cfg->spool_dir, &parent) != 0) {
        snprintf(err, errlen, "kafka: %s: %s", cfg->spool_dir, strerror(errno));
        return -1;
    }
    if (mkdir(path, 0700) == 0) {
        if (geteuid() == 0 && chown(path, parent.st_uid, parent.st_gid) != 0) {
            snprintf(err, errlen, "kafka: chown %s: %s", path, strerror(errno));
            return -1;
        }
    } else if (errno != EEXIST) {
        snprintf(err, errlen, "kafka: mkdir %s: %s", path, strerror(errno));
        return -1;
    }
    k->sp = spool_open(path, (uint64_t)cfg->spool_max_mb * 1024u * 1024u, err, errlen);
    if (!k->sp)
        return -1;
    struct spool_stats ss;
    spool_get_stats(k->sp, &ss);
    if (ss.files)
        log_info("kafka: spool %s holds %" PRIu64 " batch(es) of %" PRIu64 " event(s) from before; they will be "
                 "produced again once the brokers acknowledge", path, ss.files, ss.events);
    return 0;
}

/* Destroy a handle and its topics (NULL-safe). What it still holds is not reported: callers purge first. */
static void producer_free(struct producer *p)
{
    if (!p)
        return;
    for (int i = 0; i < KAFKA_TOPIC_KINDS; i++)
        if (p->topic[i])
            rd_kafka_topic_destroy(p->topic[i]);
    if (p->rk)
        rd_kafka_destroy(p->rk);
    free(p);
}

/* A new handle from k->tmpl with its two topics. NULL with a message. Main thread or kafka thread. */
static struct producer *producer_new(kafka_output *k, char *err, size_t errlen)
{
    struct producer *p = calloc(1, sizeof *p);
    rd_kafka_conf_t *conf = p ? rd_kafka_conf_dup(k->tmpl) : NULL;
    if (!conf) {
        free(p);
        snprintf(err, errlen, "kafka: out of memory");
        return NULL;
    }
    char why[512];
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof why);   /* owns conf on success */
    if (!p->rk) {
        rd_kafka_conf_destroy(conf);
        free(p);
        snprintf(err, errlen, "kafka: cannot create the producer: %s", why);
        return NULL;
    }
    for (int i = 0; i < KAFKA_TOPIC_KINDS; i++) {
        p->topic[i] = rd_kafka_topic_new(p->rk, k->topic_name[i], NULL);
        if (!p->topic[i]) {
            snprintf(err, errlen, "kafka: topic %s: %s", k->topic_name[i],
                     rd_kafka_err2str(rd_kafka_last_error()));
            producer_free(p);
            return NULL;
        }
    }
    return p;
}

kafka_output *kafka_output_create(const struct config *cfg, char *err, size_t errlen)
{
    char dummy[1];
    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!cfg || !cfg->kafka_brokers) {
        snprintf(err, errlen, "kafka: no brokers");
        return NULL;
    }
    kafka_output *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, errlen, "kafka: out of memory");
        return NULL;
    }
    pthread_mutex_init(&k->mu, NULL);
    pthread_rwlock_init(&k->plock, NULL);
    atomic_init(&k->stop, false);
    k->shutdown_ms = cfg->shutdown_timeout_ms;
    k->queue_max = cfg->kafka_queue_max_events;
    k->spool_chunk = (size_t)cfg->spool_max_mb * 1024u * 1024u / 8u;
    if (k->spool_chunk > ((size_t)4 << 20))
        k->spool_chunk = (size_t)4 << 20;
    if (cfg->spool_dir && open_spool(k, cfg, err, errlen) != 0)
        goto fail;

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (!conf) {
        snprintf(err, errlen, "kafka: out of memory");
        goto fail;
    }
    char num[32], ms[32];
    snprintf(num, sizeof num, "%" PRIu32, cfg->kafka_queue_max_events);
    snprintf(ms, sizeof ms, "%" PRIu32, cfg->kafka_delivery_timeout_ms);
    const char *proto = cfg->kafka_security_protocol ? cfg->kafka_security_protocol : "plaintext";
    int rc = conf_set(conf, "bootstrap.servers", cfg->kafka_brokers, false, err, errlen);
    if (rc == 0) rc = conf_set(conf, "client.id", "tracer-sensor", false, err, errlen);
    if (rc == 0) rc = conf_set(conf, "enable.idempotence", "true", false, err, errlen);
    if (rc == 0) rc = conf_set(conf, "acks", "all", false, err, errlen);
    if (rc == 0) rc = conf_set(conf, "compression.codec", cfg->kafka_compression ? cfg->kafka_compression : "lz4",
                               false, err, errlen);
    if (rc == 0) rc = conf_set(conf, "partitioner", "murmur2_random", false, err, errlen);
    if (rc == 0) rc = conf_set(conf, "linger.ms", "5", false, err, errlen);
    if (rc == 0) rc = conf_set(conf, "batch.num.messages", "10000", false, err, errlen);
    /* Batches reference the messages' payloads (librdkafka owns them until their report) instead of
     * copying each into the batch buffer: one copy less per event, for the compressor to read. */
    if (rc == 0) rc = conf_set(conf, "message.copy.max.bytes", "0", false, err, errlen);
    if (rc == 0) rc = conf_set(conf, "queue.buffering.max.messages", num, false, err, errlen);
    if (rc == 0) rc = conf_set(conf, "queue.buffering.max.kbytes", "1048576", false, err, errlen);
    if (rc == 0) rc = conf_set(conf, "message.timeout.ms", ms, false, err, errlen);
    if (rc == 0) rc = conf_set(conf, "security.protocol", proto, false, err, errlen);
    if (rc == 0 && cfg->kafka_ssl_ca_file)
        rc = conf_set(conf, "ssl.ca.location", cfg->kafka_ssl_ca_file, false, err, errlen);
    if (rc == 0 && strncmp(proto, "sasl_", 5) == 0) {
        rc = conf_set(conf, "sasl.mechanism", cfg->kafka_sasl_mechanism ? cfg->kafka_sasl_mechanism : "PLAIN",
                      false, err, errlen);
        if (rc == 0 && cfg->kafka_sasl_username)
            rc = conf_set(conf, "sasl.username", cfg->kafka_sasl_username, false, err, errlen);
        if (rc == 0 && cfg->kafka_sasl_password)
            rc = conf_set(conf, "sasl.password", cfg->kafka_sasl_password, true, err, errlen);
    }
    if (rc != 0) {
        rd_kafka_conf_destroy(conf);
        goto fail;
    }
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    k->tmpl = conf;
    const char *names[KAFKA_TOPIC_KINDS] = {cfg->kafka_topic_flow ? cfg->kafka_topic_flow : "tracer.flows",
                                            cfg->kafka_topic_events ? cfg->kafka_topic_events : "tracer.events"};
    for (int i = 0; i < KAFKA_TOPIC_KINDS; i++) {
        if (!(k->topic_name[i] = strdup(names[i]))) {
            snprintf(err, errlen, "kafka: out of memory");
            goto fail;
        }
    }
    if (!(k->p = producer_new(k, err, errlen)))
        goto fail;
    return k;
fail:
    kafka_output_destroy(k);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Offer (sender thread).                                                   */

/* Produce one message on handle p; opaque = replay state or NULL. Returns librdkafka's answer. */
static rd_kafka_resp_err_t produce(kafka_output *k, struct producer *p, enum kafka_topic_kind kind,
                                   const char *key, size_t keylen, const char *json, size_t len,
                                   struct replay *rp)
{
    rd_kafka_resp_err_t e = rd_kafka_producev(p->rk, RD_KAFKA_V_RKT(p->topic[kind]),
                                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                              RD_KAFKA_V_KEY(keylen ? key : NULL, keylen),
                                              RD_KAFKA_V_VALUE((void *)json, len), RD_KAFKA_V_OPAQUE(rp),
                                              RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
        add(&k->produced, 1);
    return e;
}

/* librdkafka refused a live event (e != 0): keep it for the next handle or the spool, or count it lost. */
static void refused(kafka_output *k, rd_kafka_resp_err_t e, enum kafka_topic_kind kind, const char *key,
                    size_t keylen, const char *json, size_t len)
{
    if (e == RD_KAFKA_RESP_ERR__FATAL) {
        add(&k->failed_fatal, 1);       /* the kafka thread is replacing the handle */
        redo_add(k, kind, key, keylen, json, len);
    } else if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL || e == RD_KAFKA_RESP_ERR__STATE) {
        add(&k->failed_queue_full, 1);
        pend_add(k, kind, key, keylen, json, len);
    } else {
        add(&k->dropped_invalid, 1);    /* e.g. MSG_SIZE_TOO_LARGE: would fail again from the spool */
    }
}

void kafka_output_offer(kafka_output *k, enum kafka_topic_kind kind, const char *key, size_t keylen,
                        const char *json, size_t len)
{
    if (k->first_offer_us == 0)
        k->first_offer_us = timefmt_mono_us();
    add(&k->offered, 1);
    pthread_rwlock_rdlock(&k->plock);
    rd_kafka_resp_err_t e = produce(k, k->p, kind, key, keylen, json, len, NULL);
    pthread_rwlock_unlock(&k->plock);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        refused(k, e, kind, key, keylen, json, len);
}

/* ------------------------------------------------------------------------ */
/* The kafka thread.                                                        */

/* Parse one spooled line at *p (up to end): kind, key, JSON. Advances *p. */
static bool parse_line(const char **p, const char *end, enum kafka_topic_kind *kind, const char **key,
                       size_t *keylen, const char **json, size_t *len)
{
    const char *s = *p;
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    if (!nl)
        return false;
    *p = nl + 1;
    if (nl - s < 4 || (s[0] != 'F' && s[0] != 'E') || s[1] != ' ')
        return false;
    *kind = s[0] == 'F' ? KAFKA_TOPIC_FLOW : KAFKA_TOPIC_EVENTS;
    size_t n = 0;
    const char *q = s + 2;
    for (; q < nl && *q >= '0' && *q <= '9' && n < 65536; q++)
        n = n * 10 + (size_t)(*q - '0');
    if (q == s + 2 || q >= nl || *q != ' ' || n > (size_t)(nl - q - 1))
        return false;
    *key = q + 1;
    *keylen = n;
    *json = q + 1 + n;
    *len = (size_t)(nl - *json);
    return *len > 0;
}

/* Start replaying the oldest spooled batch when the brokers look healthy. */
static void replay_next(kafka_output *k)
{
    if (!k->sp || k->rp.active || timefmt_mono_us() < k->replay_at_us ||
        (uint64_t)rd_kafka_outq_len(k->p->rk) > k->queue_max / 2)
        return;
    size_t slen = 0;
    uint32_t nev = 0;
    uint64_t id = 0;
    char err[256] = "";
    int rc = spool_peek_oldest(k->sp, &k->sbuf, &k->scap, &slen, &nev, &id, err, sizeof err);
    if (err[0])
        log_warn("kafka: spool: %s", err);
    if (rc <= 0)
        return;
    k->rp = (struct replay){.active = true, .id = id, .nevents = nev};
    const char *p = k->sbuf, *end = k->sbuf + slen;
    uint32_t bad = 0;
    while (p < end) {
        enum kafka_topic_kind kind;
        const char *key, *json;
        size_t keylen, len;
        if (!parse_line(&p, end, &kind, &key, &keylen, &json, &len)) {
            bad++;
            continue;
        }
        if (produce(k, k->p, kind, key, keylen, json, len, &k->rp) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            k->rp.failed = true;   /* the whole batch stays and is tried again later */
            break;
        }
        k->rp.outstanding++;
    }
    if (bad) {
        add(&k->dropped_spool_error, bad);
        log_warn("kafka: spooled batch %" PRIu64 ": %" PRIu32 " unreadable line(s) skipped", id, bad);
    }
}

/* A replayed batch whose reports are all in: delete it, or keep it for a later try. */
static void replay_done(kafka_output *k)
{
    if (!k->rp.active || k->rp.outstanding)
        return;
    if (!k->rp.failed) {
        spool_remove(k->sp, k->rp.id);
    } else {
        k->backoff_us = k->backoff_us ? k->backoff_us * 2 : REPLAY_BACKOFF_MIN_US;
        if (k->backoff_us > REPLAY_BACKOFF_MAX_US)
            k->backoff_us = REPLAY_BACKOFF_MAX_US;
        k->replay_at_us = timefmt_mono_us() + k->backoff_us;
    }
    k->rp.active = false;
}

static bool handle_fatal(const struct producer *p)
{
    return rd_kafka_fatal_error(p->rk, NULL, 0) != RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Kafka thread: move the redo buffer's events to redo_spare; their number. */
static uint32_t redo_take(kafka_output *k)
{
    pthread_mutex_lock(&k->mu);
    uint32_t n = k->redo.n;
    if (n) {
        struct pending t = k->redo;
        k->redo = k->redo_spare;
        k->redo.len = 0;
        k->redo.n = 0;
        k->redo_spare = t;
    }
    pthread_mutex_unlock(&k->mu);
    return n;
}

/* Kafka thread: produce the events a fatal error held back on the current (healthy) handle, or, with
 * `to_spool` (shutdown), hand them to the spool (or count them lost). */
static void redo_flush(kafka_output *k, bool to_spool)
{
    if ((!to_spool && handle_fatal(k->p)) || redo_take(k) == 0)
        return;
    const char *p = k->redo_spare.buf, *end = k->redo_spare.buf + k->redo_spare.len;
    while (p < end) {
        enum kafka_topic_kind kind;
        const char *key, *json;
        size_t keylen, len;
        if (!parse_line(&p, end, &kind, &key, &keylen, &json, &len))
            continue;       /* written by line_add: never malformed */
        if (to_spool) {
            pend_add(k, kind, key, keylen, json, len);
            continue;
        }
        rd_kafka_resp_err_t e = produce(k, k->p, kind, key, keylen, json, len, NULL);
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            refused(k, e, kind, key, keylen, json, len);
    }
    k->redo_spare.len = 0;
    k->redo_spare.n = 0;
}

/*
 * Kafka thread: when the handle had a fatal error, create its successor and
 * swap it in (the sender thread produces to the new one from then on), give
 * the old one's in-flight requests up to RETIRE_WAIT_MS to be acknowledged
 * (polling the new one meanwhile), purge it (its delivery reports put the
 * events in the redo buffer), destroy it, and produce the redo buffer.
 */
static void restart_if_fatal(kafka_output *k)
{
    if (!handle_fatal(k->p))
        return;
    if (!k->fatal_counted) {
        add(&k->fatal_errors, 1);
        k->fatal_counted = true;
    }
    uint64_t now = timefmt_mono_us();
    if (now < k->restart_at_us)
        return;
    char err[512];
    struct producer *np = producer_new(k, err, sizeof err);
    if (!np) {
        k->restart_backoff_us = k->restart_backoff_us ? k->restart_backoff_us * 2 : REPLAY_BACKOFF_MIN_US;
        if (k->restart_backoff_us > REPLAY_BACKOFF_MAX_US)
            k->restart_backoff_us = REPLAY_BACKOFF_MAX_US;
        k->restart_at_us = now + k->restart_backoff_us;
        log_warn("kafka: %s; trying again in %" PRIu64 " ms (events go to the spool or are dropped meanwhile, "
                 "counted)", err, k->restart_backoff_us / 1000u);
        return;
    }
    k->restart_backoff_us = 0;
    pthread_rwlock_wrlock(&k->plock);
    struct producer *old = k->p;
    k->p = np;
    pthread_rwlock_unlock(&k->plock);
    k->fatal_counted = false;
    k->last_error = RD_KAFKA_RESP_ERR_NO_ERROR;
    add(&k->producer_restarts, 1);
    k->old = old;
    rd_kafka_purge(old->rk, RD_KAFKA_PURGE_F_QUEUE);    /* librdkafka did this already; harmless */
    uint64_t until = timefmt_mono_us() + RETIRE_WAIT_MS * 1000u;
    while (rd_kafka_outq_len(old->rk) > 0 && timefmt_mono_us() < until) {
        rd_kafka_poll(old->rk, 25);
        rd_kafka_poll(k->p->rk, 0);
    }
    if (rd_kafka_outq_len(old->rk) > 0) {
        rd_kafka_purge(old->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        until = timefmt_mono_us() + PURGE_WAIT_MS * 1000u;
        while (rd_kafka_outq_len(old->rk) > 0 && timefmt_mono_us() < until)
            rd_kafka_poll(old->rk, 25);
    }
    rd_kafka_poll(old->rk, 0);
    k->old = NULL;
    producer_free(old);
    uint32_t redo = k->redo.n;      /* a relaxed look, for the log line */
    log_info("kafka: new producer in place (restart %" PRIu64 "); %" PRIu32 " event(s) it had not got "
             "acknowledged are produced again", get(&k->producer_restarts), redo);
    redo_flush(k, false);
}

static bool redo_empty(kafka_output *k)
{
    pthread_mutex_lock(&k->mu);
    bool empty = k->redo.n == 0;
    pthread_mutex_unlock(&k->mu);
    return empty;
}

static bool spool_empty(kafka_output *k)
{
    struct spool_stats ss;
    if (!k->sp)
        return true;
    spool_get_stats(k->sp, &ss);
    return ss.files == 0;
}

/*
 * Shutdown: for up to shutdown_ms, wait for acknowledgements and go on
 * replaying the spool (brokers that come back in that time lose nothing);
 * then purge, so the purged messages' reports spool the rest.
 */
static void drain(kafka_output *k)
{
    uint64_t deadline = timefmt_mono_us() + (uint64_t)k->shutdown_ms * 1000u;
    for (;;) {
        rd_kafka_poll(k->p->rk, (int)POLL_MS);
        restart_if_fatal(k);
        redo_flush(k, false);
        replay_done(k);
        pend_flush(k, true);
        if (timefmt_mono_us() >= deadline ||
            (rd_kafka_outq_len(k->p->rk) == 0 && !k->rp.active && spool_empty(k) && redo_empty(k)))
            break;
        replay_next(k);
    }
    if (rd_kafka_outq_len(k->p->rk) > 0) {
        rd_kafka_purge(k->p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        uint64_t until = timefmt_mono_us() + PURGE_WAIT_MS * 1000u;
        while (rd_kafka_outq_len(k->p->rk) > 0 && timefmt_mono_us() < until)
            rd_kafka_poll(k->p->rk, 50);
        rd_kafka_poll(k->p->rk, 0);
    }
    replay_done(k);
    redo_flush(k, true);        /* never produced again in time: the spool's */
    pend_flush(k, true);
}

static void *kafka_thread(void *arg)
{
    kafka_output *k = arg;
    while (!atomic_load_explicit(&k->stop, memory_order_acquire)) {
        rd_kafka_poll(k->p->rk, (int)POLL_MS);   /* delivery reports and errors run here */
        restart_if_fatal(k);
        redo_flush(k, false);
        replay_done(k);
        pend_flush(k, false);
        replay_next(k);
    }
    drain(k);
    return NULL;
}

int kafka_output_start(kafka_output *k, char *err, size_t errlen)
{
    int rc = pthread_create(&k->thread, NULL, kafka_thread, k);
    if (rc != 0) {
        snprintf(err, errlen, "kafka: cannot start the thread: %s", strerror(rc));
        return -1;
    }
    k->started = true;
    return 0;
}

void kafka_output_finish_begin(kafka_output *k)
{
    /* Release: every offer made before is visible to the thread's last drain. */
    if (k && k->started)
        atomic_store_explicit(&k->stop, true, memory_order_release);
}

void kafka_output_finish(kafka_output *k)
{
    if (!k || !k->started)
        return;
    kafka_output_finish_begin(k);
    pthread_join(k->thread, NULL);
    k->started = false;
    struct kafka_output_stats st;
    kafka_output_get_stats(k, &st);
    log_info("kafka: done: %" PRIu64 " events offered, %" PRIu64 " acknowledged (%" PRIu64 " replayed from the "
             "spool), %" PRIu64 " spooled, failed: queue_full=%" PRIu64 " timed_out=%" PRIu64 " broker=%" PRIu64
             " shutdown=%" PRIu64 " replay=%" PRIu64 " fatal=%" PRIu64 ", dropped: no_spool=%" PRIu64
             " spool_full=%" PRIu64 " spool_error=%" PRIu64 " invalid=%" PRIu64 ", %" PRIu64 " waiting in the spool; "
             "%.3f s from the first offer to the last acknowledgement; fatal_errors=%" PRIu64 " producer_restarts=%" PRIu64,
             st.offered, st.delivered, st.replayed, st.spooled, st.failed_queue_full, st.failed_timed_out,
             st.failed_broker, st.failed_shutdown, st.failed_replay, st.failed_fatal, st.dropped_no_spool,
             st.dropped_spool_full, st.dropped_spool_error, st.dropped_invalid, st.spool_events,
             k->first_offer_us && k->last_ack_us > k->first_offer_us
                 ? (double)(k->last_ack_us - k->first_offer_us) / 1e6 : 0.0,
             st.fatal_errors, st.producer_restarts);
}

void kafka_output_get_stats(const kafka_output *k, struct kafka_output_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!k)
        return;
    out->offered = get(&k->offered);
    out->produced = get(&k->produced);
    out->delivered = get(&k->delivered);
    out->replayed = get(&k->replayed);
    out->spooled = get(&k->spooled);
    out->failed_queue_full = get(&k->failed_queue_full);
    out->failed_timed_out = get(&k->failed_timed_out);
    out->failed_broker = get(&k->failed_broker);
    out->failed_shutdown = get(&k->failed_shutdown);
    out->failed_replay = get(&k->failed_replay);
    out->dropped_no_spool = get(&k->dropped_no_spool);
    out->dropped_spool_full = get(&k->dropped_spool_full);
    out->dropped_spool_error = get(&k->dropped_spool_error);
    out->dropped_invalid = get(&k->dropped_invalid);
    out->failed_fatal = get(&k->failed_fatal);
    out->fatal_errors = get(&k->fatal_errors);
    out->producer_restarts = get(&k->producer_restarts);
    pthread_rwlock_rdlock((pthread_rwlock_t *)&k->plock);
    if (k->p)
        out->queued = (uint64_t)rd_kafka_outq_len(k->p->rk);   /* thread-safe in librdkafka */
    pthread_rwlock_unlock((pthread_rwlock_t *)&k->plock);
    if (k->sp) {
        struct spool_stats ss;
        spool_get_stats(k->sp, &ss);
        out->spool_events = ss.events;
    }
}

void kafka_output_destroy(kafka_output *k)
{
    if (!k)
        return;
    kafka_output_finish(k);
    if (k->p) {
        /* Reports of anything left (never started, or purged late) are not served. */
        rd_kafka_purge(k->p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        producer_free(k->p);
    }
    if (k->tmpl)
        rd_kafka_conf_destroy(k->tmpl);
    for (int i = 0; i < KAFKA_TOPIC_KINDS; i++)
        free(k->topic_name[i]);
    free(k->redo.buf);
    free(k->redo_spare.buf);
    pthread_rwlock_destroy(&k->plock);
    spool_close(k->sp);
    free(k->pend.buf);
    free(k->spare.buf);
    free(k->sbuf);
    pthread_mutex_destroy(&k->mu);
    free(k);
}
