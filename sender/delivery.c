/*
 * delivery.c — at-least-once delivery of batches (see delivery.h).
 *
 * Locking: `lock` guards the memory queue, the finishing flag and the
 * counters; it is never held across a POST or a spool write (those take
 * milliseconds to seconds), only while a batch is linked or unlinked. The
 * delivery thread is the only one that removes batches from the queue, so the
 * head it POSTs stays the head until it decides the batch's fate.
 *
 * Order: memory batches go first, oldest first; when memory is empty the
 * spool is replayed oldest first. While the endpoint is failing, memory
 * batches older than AGENT_SPOOL_AFTER are moved to the spool, so a crash
 * loses at most that much.
 */
#include "delivery.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "../common/caps.h"
#include "../common/log.h"
#include "../common/timefmt.h"
#include "../config/config.h"
#include "http_client.h"
#include "spool.h"

#define FAIL_KEYS 16
#define IDLE_WAIT_US 1000000u

struct batch {
    struct batch *next;
    uint64_t made_us;        /* monotonic time it was submitted */
    uint32_t nevents;
    size_t len;
    char body[];
};

struct delivery {
    http_client *http;
    spool *spool;                 /* NULL: no spool dir */
    uint64_t queue_max;
    uint64_t spool_after_us, shutdown_us, retry_base_us, retry_max_us;
    pthread_t thread;
    bool started;

    pthread_mutex_t lock;         /* guards everything below up to the thread-only part */
    pthread_cond_t cond;
    struct batch *head, *tail;
    uint64_t queue_events;
    bool finishing;
    uint64_t deadline_us;
    struct delivery_stats st;
    bool warned_queue_full;       /* a queue-full episode was logged */
    bool spool_failing;           /* the last spool write failed (logged once per episode) */

    /* Delivery thread only. */
    uint32_t attempts;            /* consecutive failed attempts */
    uint64_t next_attempt_us;
    char *sbuf;                   /* spool batch being replayed */
    size_t scap;
    long fail_keys[FAIL_KEYS];    /* retryable failures logged since the last success */
    size_t nfail;
    long reject_keys[FAIL_KEYS];  /* rejecting statuses logged (once per status, ever) */
    size_t nreject;
    uint64_t rng;
};

static uint64_t next_random(delivery *d)
{
    uint64_t x = d->rng;          /* xorshift64* */
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    d->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* Exponential backoff with jitter: uniform in [delay/2, delay]. */
static uint64_t backoff_us(delivery *d)
{
    uint64_t delay = d->retry_base_us;
    for (uint32_t i = 1; i < d->attempts && delay < d->retry_max_us; i++)
        delay *= 2;
    if (delay > d->retry_max_us)
        delay = d->retry_max_us;
    uint64_t half = delay / 2;
    return half + (half ? next_random(d) % (half + 1) : 0);
}

delivery *delivery_create(const struct config *cfg, char *err, size_t errlen)
{
    delivery *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "delivery: out of memory");
        return NULL;
    }
    pthread_mutex_init(&d->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&d->cond, &ca);
    pthread_condattr_destroy(&ca);
    d->queue_max = cfg->queue_max_events ? cfg->queue_max_events : 100000;
    d->spool_after_us = (uint64_t)cfg->spool_after_ms * 1000u;
    d->shutdown_us = (uint64_t)cfg->shutdown_timeout_ms * 1000u;
    d->retry_base_us = (uint64_t)(cfg->retry_base_ms ? cfg->retry_base_ms : 500) * 1000u;
    d->retry_max_us = (uint64_t)(cfg->retry_max_ms ? cfg->retry_max_ms : 30000) * 1000u;
    if (getrandom(&d->rng, sizeof d->rng, 0) != (ssize_t)sizeof d->rng || d->rng == 0)
        d->rng = timefmt_now_us() | 1u;
    d->http = http_client_create(cfg, err, errlen);
    if (!d->http)
        goto fail;
    if (cfg->spool_dir) {
        d->spool = spool_open(cfg->spool_dir, (uint64_t)cfg->spool_max_mb * 1024u * 1024u, err, errlen);
        if (!d->spool)
            goto fail;
        struct spool_stats ss;
        spool_get_stats(d->spool, &ss);
        if (ss.files)
            log_info("delivery: spool %s holds %" PRIu64 " batches (%" PRIu64 " events) from before; "
                     "they will be sent oldest first", cfg->spool_dir, ss.files, ss.events);
        if (ss.corrupt_files || ss.stale_temp_files)
            log_warn("delivery: spool %s: %" PRIu64 " corrupt files moved aside (*.corrupt), %" PRIu64
                     " half-written temp files removed", cfg->spool_dir, ss.corrupt_files, ss.stale_temp_files);
    }
    return d;
fail:
    delivery_destroy(d);
    return NULL;
}

/* Spool one batch (lock not held). Counts the outcome; returns whether it was spooled. */
static bool spool_batch(delivery *d, const struct batch *b, bool from_shutdown)
{
    char err[256] = "";
    uint64_t dropped = 0;
    int rc = spool_put(d->spool, b->body, b->len, b->nevents, &dropped, err, sizeof err);
    pthread_mutex_lock(&d->lock);
    d->st.dropped_spool_full += dropped;
    if (rc == 0) {
        d->st.events_spooled += b->nevents;
        d->st.batches_spooled++;
    } else {
        d->st.dropped_spool_error += b->nevents;
    }
    pthread_mutex_unlock(&d->lock);
    if (dropped)
        log_warn("delivery: spool full: deleted the oldest batches, %" PRIu64 " events dropped", dropped);
    /* Once per episode: a full disk fails every batch until space comes back. */
    pthread_mutex_lock(&d->lock);
    bool first = rc != 0 && !d->spool_failing;
    bool recovered = rc == 0 && d->spool_failing;
    d->spool_failing = rc != 0;
    pthread_mutex_unlock(&d->lock);
    if (first)
        log_error("delivery: cannot spool a batch of %u events%s: %s; they are dropped (counted as "
                  "spool_error; further failures are counted, not logged, until a write works)", b->nevents,
                  from_shutdown ? " at shutdown" : "", err);
    if (recovered)
        log_info("delivery: writing to the spool works again");
    return rc == 0;
}

void delivery_submit(delivery *d, const char *body, size_t len, uint32_t nevents)
{
    struct batch *b = malloc(sizeof *b + len + 1);
    if (!b) {
        pthread_mutex_lock(&d->lock);
        d->st.dropped_queue_full += nevents;     /* no memory for it: the queue is full in effect */
        pthread_mutex_unlock(&d->lock);
        return;
    }
    memcpy(b->body, body, len);
    b->body[len] = '\0';
    b->len = len;
    b->nevents = nevents;
    b->made_us = timefmt_mono_us();
    b->next = NULL;

    pthread_mutex_lock(&d->lock);
    if (d->queue_events + nevents <= d->queue_max) {
        if (d->tail)
            d->tail->next = b;
        else
            d->head = b;
        d->tail = b;
        d->queue_events += nevents;
        d->st.events_queued += nevents;
        d->st.batches_queued++;
        bool recovered = d->warned_queue_full;
        d->warned_queue_full = false;            /* the next overflow is a new episode */
        pthread_cond_signal(&d->cond);
        pthread_mutex_unlock(&d->lock);
        if (recovered)
            log_info("delivery: the memory queue has room again");
        return;
    }
    if (!d->spool) {
        d->st.dropped_queue_full += nevents;
        bool warn = !d->warned_queue_full;
        d->warned_queue_full = true;
        pthread_mutex_unlock(&d->lock);
        if (warn)
            log_warn("delivery: memory queue full (AGENT_QUEUE_MAX_EVENTS=%" PRIu64 ") and no spool: "
                     "dropping batches (counted as dropped_queue_full; logged once until there is room)",
                     d->queue_max);
        free(b);
        return;
    }
    pthread_mutex_unlock(&d->lock);
    spool_batch(d, b, false);                    /* does not fit in memory: to disk */
    free(b);
}

/* Unlink the head (delivery thread, lock held). */
static struct batch *pop_head(delivery *d)
{
    struct batch *b = d->head;
    d->head = b->next;
    if (!d->head)
        d->tail = NULL;
    d->queue_events -= b->nevents;
    return b;
}

/* While failing: move batches older than spool_after to disk (lock held on entry and exit). */
static void spool_aged(delivery *d, uint64_t now)
{
    while (d->spool && d->attempts > 0 && d->head && now >= d->head->made_us + d->spool_after_us) {
        struct batch *b = pop_head(d);
        pthread_mutex_unlock(&d->lock);
        spool_batch(d, b, false);
        free(b);
        pthread_mutex_lock(&d->lock);
    }
}

/* Shutdown timeout reached: spool or drop what is still in memory (lock held). */
static void give_up_memory(delivery *d)
{
    while (d->head) {
        struct batch *b = pop_head(d);
        if (d->spool) {
            pthread_mutex_unlock(&d->lock);
            spool_batch(d, b, true);
            pthread_mutex_lock(&d->lock);
        } else {
            d->st.dropped_shutdown += b->nevents;
            log_warn("delivery: shutdown timeout: %u undelivered events dropped (no spool directory)", b->nevents);
        }
        free(b);
    }
}

/* Whether `key` is in keys[0..*n); adds it when not (and there is room). */
static bool seen_before(long *keys, size_t *n, long key)
{
    for (size_t i = 0; i < *n; i++)
        if (keys[i] == key)
            return true;
    if (*n < FAIL_KEYS)
        keys[(*n)++] = key;
    return false;
}

static bool spool_is_empty(spool *sp)
{
    struct spool_stats ss;
    spool_get_stats(sp, &ss);
    return ss.files == 0;
}

/* Wait on the condition until `until_us` (monotonic) or a signal. Lock held. */
static void wait_until(delivery *d, uint64_t until_us)
{
    struct timespec ts = {.tv_sec = (time_t)(until_us / 1000000u), .tv_nsec = (long)(until_us % 1000000u) * 1000L};
    pthread_cond_timedwait(&d->cond, &d->lock, &ts);
}

static void count_status(delivery *d, const struct http_result *r)
{
    if (r->curl_code != 0)
        d->st.network_errors++;
    else if (r->status >= 500)
        d->st.http_5xx++;
    else if (r->status >= 400)
        d->st.http_4xx++;
    else if (r->status >= 300)
        d->st.http_3xx++;
    else if (r->status >= 200)
        d->st.http_2xx++;
}

/* Decide a batch's fate after one attempt (lock held). Returns true when it is finished. */
static bool settle(delivery *d, const struct http_result *r, uint32_t nevents, bool from_spool)
{
    const char *url = http_client_url_for_log(d->http);
    count_status(d, r);
    switch (r->outcome) {
    case HTTP_DELIVERED:
        d->st.events_sent += nevents;
        d->st.batches_sent++;
        if (from_spool) {
            d->st.events_replayed += nevents;
            d->st.batches_replayed++;
        }
        if (d->attempts > 0)
            log_info("delivery: %s answers again after %u failed attempts", url, d->attempts);
        d->attempts = 0;
        d->next_attempt_us = 0;
        d->nfail = 0;
        return true;
    case HTTP_REJECTED:
        d->st.dropped_rejected += nevents;
        if (!seen_before(d->reject_keys, &d->nreject, r->status))
            log_warn("delivery: %s rejected a batch of %u events (%s); not retried, dropped "
                     "(further rejections with this status are counted, not logged)", url, nevents, r->detail);
        return true;
    case HTTP_RETRY:
    default:
        d->st.retries++;
        d->attempts++;
        uint64_t delay = r->retry_after_ms ? (uint64_t)r->retry_after_ms * 1000u : backoff_us(d);
        d->next_attempt_us = timefmt_mono_us() + delay;
        if (!seen_before(d->fail_keys, &d->nfail, r->curl_code ? -(long)r->curl_code : r->status))
            log_warn("delivery: POST to %s failed (%s); retrying in %" PRIu64 " ms "
                     "(further failures like this are counted, not logged)", url, r->detail, delay / 1000u);
        return false;
    }
}

static void *delivery_main(void *arg)
{
    delivery *d = arg;
    caps_thread_init("delivery");
    pthread_mutex_lock(&d->lock);
    for (;;) {
        uint64_t now = timefmt_mono_us();
        spool_aged(d, now);
        now = timefmt_mono_us();
        if (d->finishing) {
            /* Until the deadline: memory first, then the spool (retrying as
             * usual); what is left in the spool then waits for the next start. */
            if (now >= d->deadline_us) {
                give_up_memory(d);
                break;
            }
            if (!d->head && (!d->spool || spool_is_empty(d->spool)))
                break;
        }
        if (now < d->next_attempt_us) {
            uint64_t until = d->next_attempt_us;
            if (d->finishing && d->deadline_us < until)
                until = d->deadline_us;
            if (d->spool && d->head && d->head->made_us + d->spool_after_us < until)
                until = d->head->made_us + d->spool_after_us;
            wait_until(d, until);
            continue;
        }

        struct batch *b = d->head;
        const char *body;
        size_t len;
        uint32_t nevents;
        uint64_t spool_id = 0;
        bool from_spool = false;
        if (b) {
            body = b->body;
            len = b->len;
            nevents = b->nevents;
        } else if (d->spool) {
            pthread_mutex_unlock(&d->lock);
            char err[512] = "";
            size_t slen = 0;
            uint32_t sev = 0;
            int rc = spool_peek_oldest(d->spool, &d->sbuf, &d->scap, &slen, &sev, &spool_id, err, sizeof err);
            if (err[0])
                log_warn("delivery: spool: %s", err);
            pthread_mutex_lock(&d->lock);
            if (rc < 0) {
                d->next_attempt_us = timefmt_mono_us() + d->retry_max_us;   /* I/O error: back off */
                continue;
            }
            if (rc == 0) {
                if (d->finishing)
                    break;
                if (!d->head)
                    wait_until(d, timefmt_mono_us() + IDLE_WAIT_US);
                continue;
            }
            body = d->sbuf;
            len = slen;
            nevents = sev;
            from_spool = true;
        } else {
            wait_until(d, timefmt_mono_us() + IDLE_WAIT_US);
            continue;
        }

        uint32_t cap_ms = 0;
        if (d->finishing) {
            uint64_t left = d->deadline_us > now ? d->deadline_us - now : 1000;
            cap_ms = (uint32_t)(left / 1000u) + 1;
        }
        pthread_mutex_unlock(&d->lock);
        struct http_result r;
        http_client_post(d->http, body, len, cap_ms, &r);
        if (from_spool && r.outcome != HTTP_RETRY)
            spool_remove(d->spool, spool_id);
        pthread_mutex_lock(&d->lock);
        if (settle(d, &r, nevents, from_spool) && !from_spool)
            free(pop_head(d));
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

int delivery_start(delivery *d, char *err, size_t errlen)
{
    int rc = pthread_create(&d->thread, NULL, delivery_main, d);
    if (rc != 0) {
        snprintf(err, errlen, "delivery: cannot start thread: %s", strerror(rc));
        return -1;
    }
    d->started = true;
    return 0;
}

void delivery_finish(delivery *d)
{
    pthread_mutex_lock(&d->lock);
    d->finishing = true;
    d->deadline_us = timefmt_mono_us() + d->shutdown_us;
    pthread_cond_broadcast(&d->cond);
    pthread_mutex_unlock(&d->lock);
    if (d->started) {
        pthread_join(d->thread, NULL);
        d->started = false;
    } else {
        pthread_mutex_lock(&d->lock);
        give_up_memory(d);
        pthread_mutex_unlock(&d->lock);
    }
}

void delivery_get_stats(const delivery *cd, struct delivery_stats *out)
{
    delivery *d = (delivery *)cd;   /* only the internal mutex is written */
    pthread_mutex_lock(&d->lock);
    *out = d->st;
    out->queue_events = d->queue_events;
    pthread_mutex_unlock(&d->lock);
    if (d->spool) {
        struct spool_stats ss;
        spool_get_stats(d->spool, &ss);
        out->spool_files = ss.files;
        out->spool_events = ss.events;
        out->spool_corrupt_files = ss.corrupt_files;
        out->spool_foreign_files = ss.foreign_files;
        out->spool_oversize_files = ss.oversize_files;
        out->spool_unauthenticated_files = ss.unauthenticated_files;
    }
}

void delivery_destroy(delivery *d)
{
    if (!d)
        return;
    struct batch *b = d->head;
    while (b) {
        struct batch *next = b->next;
        free(b);
        b = next;
    }
    http_client_destroy(d->http);
    spool_close(d->spool);
    free(d->sbuf);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->cond);
    free(d);
}
