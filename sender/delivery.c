/*
 * delivery.c — at-least-once delivery of requests (see delivery.h).
 *
 * Locking: `lock` guards the pending list, the counters and the endpoint's
 * health (consecutive failures, backoff gate); it is never held across a
 * network wait or a spool write, only while a batch is linked, unlinked or
 * settled. The delivery thread is the only one that removes batches from the
 * pending list; the sender thread only appends (delivery_submit) and, in file
 * mode, waits on `room` while the memory queue is full.
 *
 * Requests in flight: up to AGENT_HTTP_CONNECTIONS at once (http_client.h),
 * each batch in flight is off the pending list and owned by its request until
 * settled. Order across connections is not kept; event_id dedupes.
 *
 * Retries without blocking: a failed batch goes back into the pending list in
 * submission order with its own backoff, and the batches behind it keep
 * going. A failure counts as a strike against the batch when the endpoint
 * delivered something else since the batch's first failure (so the fault
 * is this batch, not the endpoint); after AGENT_RETRY_MAX_ATTEMPTS strikes the
 * batch is set aside: into <spool>/dead-letter when there is a spool, else
 * dropped, counted either way and logged once. When every request fails (two
 * or more in a row, no success between), the endpoint is down: one request at
 * a time probes it with exponential backoff (the oldest pending batch, so an
 * outage keeps the order; two requests failing in a row with nothing
 * delivered between look like an outage too), and pending batches older than
 * AGENT_SPOOL_AFTER move to the spool; when it answers, every batch that
 * failed meanwhile may go at once.
 *
 * The spool holds events, not bodies: every batch is written as NDJSON (one
 * event per line), and on replay its events are routed by type and re-framed
 * in the body format in force now, so a change of AGENT_HTTP_BODY or
 * AGENT_BATCH_SIZE between runs never turns spooled data into 4xx drops.
 * Spool files from earlier versions (a JSON array or one object) are read too.
 * A spool file is removed once every request made from it is settled.
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
#include <sys/stat.h>
#include <time.h>

#include "../common/caps.h"
#include "../common/log.h"
#include "../common/timefmt.h"
#include "../config/config.h"
#include "http_client.h"
#include "spool.h"

#define FAIL_KEYS 16
#define IDLE_WAIT_MS 1000
#define SCAN_MAX 64                     /* pending batches looked at for one that may go now */
#define DOWN_AFTER 2u                   /* consecutive failures: the endpoint is down */
#define DEAD_LETTER_DIR "dead-letter"
#define FLOW_PREFIX "{\"flow_id\":"     /* how a flow event's JSON begins (go-Tracer's first field) */

/* The spool file a replayed batch came from: removed when all its requests are settled. */
struct group {
    uint64_t spool_id;
    uint32_t outstanding;
    bool keep;                   /* abandoned at shutdown: the file stays for the next start */
};

struct batch {
    struct batch *next;
    uint64_t seq;                /* submission order */
    uint64_t made_us;            /* monotonic time it was submitted */
    uint64_t next_try_us;        /* not before (its own backoff) */
    uint64_t seen_ok;            /* d->ok_count at its first failure */
    uint32_t nevents;
    uint32_t failures, strikes;
    unsigned route;
    struct group *group;         /* replayed from the spool; NULL otherwise */
    size_t len;
    char body[];
};

struct delivery {
    http_client *http;
    spool *spool;                 /* NULL: no spool dir */
    spool *dead;                  /* <spool>/dead-letter, opened at the first set-aside */
    char *spool_dir;
    uint64_t spool_max_bytes;
    enum http_body_value body_format;
    uint32_t batch_size;
    uint64_t queue_max, queue_max_bytes;
    uint32_t max_strikes;
    bool wait_for_room;           /* file mode: submit waits instead of dropping */
    uint64_t spool_after_us, shutdown_us, retry_base_us, retry_max_us;
    pthread_t thread;
    bool started;

    pthread_mutex_t lock;         /* guards everything below up to the thread-only part */
    pthread_cond_t room;          /* signalled when a batch leaves memory (waiters > 0) */
    struct batch *head, *tail;    /* pending: not in flight */
    uint64_t queue_events, queue_bytes;   /* pending + in flight */
    uint32_t inflight;
    uint32_t slots;               /* requests that may be in flight (http_client_capacity) */
    uint32_t waiters;
    bool sleeping;                /* the thread waits in http_client_poll */
    bool finishing;
    uint64_t deadline_us;
    uint64_t next_seq;
    uint32_t consecutive;         /* failed attempts in a row, any batch */
    uint64_t failing_since_us;    /* first failure of the current run of failures */
    uint64_t gate_us;             /* endpoint backoff: no new request before */
    uint64_t ok_count;            /* requests delivered so far */
    uint64_t last_ok_us;          /* when the last one was delivered */
    struct delivery_stats st;
    bool warned_queue_full;
    bool spool_failing;
    bool warned_dead, warned_unrouted;

    /* Delivery thread only. */
    struct group *group;          /* the spool file being replayed */
    char *sbuf;
    size_t scap;
    long fail_keys[FAIL_KEYS];
    size_t nfail;
    long reject_keys[FAIL_KEYS];
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

/* Exponential backoff after `n` failures, with jitter: uniform in [delay/2, delay]. */
static uint64_t backoff_us(delivery *d, uint32_t n)
{
    uint64_t delay = d->retry_base_us;
    for (uint32_t i = 1; i < n && delay < d->retry_max_us; i++)
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
    pthread_cond_init(&d->room, &ca);
    pthread_condattr_destroy(&ca);
    d->body_format = cfg->http_body;
    d->batch_size = cfg->batch_size ? cfg->batch_size : 100;
    d->queue_max = cfg->queue_max_events ? cfg->queue_max_events : 100000;
    d->queue_max_bytes = (uint64_t)(cfg->queue_max_mb ? cfg->queue_max_mb : 64) * 1024u * 1024u;
    d->max_strikes = cfg->retry_max_attempts ? cfg->retry_max_attempts : 5;
    d->wait_for_room = cfg->pcap_file != NULL;
    d->spool_after_us = (uint64_t)cfg->spool_after_ms * 1000u;
    d->shutdown_us = (uint64_t)cfg->shutdown_timeout_ms * 1000u;
    d->retry_base_us = (uint64_t)(cfg->retry_base_ms ? cfg->retry_base_ms : 500) * 1000u;
    d->retry_max_us = (uint64_t)(cfg->retry_max_ms ? cfg->retry_max_ms : 30000) * 1000u;
    if (getrandom(&d->rng, sizeof d->rng, 0) != (ssize_t)sizeof d->rng || d->rng == 0)
        d->rng = timefmt_now_us() | 1u;
    d->http = http_client_create(cfg, err, errlen);
    if (!d->http)
        goto fail;
    d->slots = http_client_capacity(d->http);
    if (cfg->spool_dir) {
        d->spool_max_bytes = (uint64_t)cfg->spool_max_mb * 1024u * 1024u;
        d->spool_dir = strdup(cfg->spool_dir);
        if (!d->spool_dir) {
            snprintf(err, errlen, "delivery: out of memory");
            goto fail;
        }
        d->spool = spool_open(cfg->spool_dir, d->spool_max_bytes, err, errlen);
        if (!d->spool)
            goto fail;
        struct spool_stats ss;
        spool_get_stats(d->spool, &ss);
        if (ss.files)
            log_info("delivery: spool %s holds %" PRIu64 " batches (%" PRIu64 " events) from before; "
                     "they will be sent oldest first, in today's body format", cfg->spool_dir, ss.files, ss.events);
        if (ss.corrupt_files || ss.stale_temp_files)
            log_warn("delivery: spool %s: %" PRIu64 " corrupt files moved aside (*.corrupt), %" PRIu64
                     " half-written temp files removed", cfg->spool_dir, ss.corrupt_files, ss.stale_temp_files);
    }
    return d;
fail:
    delivery_destroy(d);
    return NULL;
}

/* ---- events in a body --------------------------------------------------- */

typedef void (*event_fn)(void *arg, const char *ev, size_t len);

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/*
 * Call fn for each event in body[0..len): a JSON array (each top-level
 * element), or NDJSON / one object (each non-blank line). Returns the count.
 * The array scanner tracks strings and nesting only; the bodies are our own.
 */
static size_t for_each_event(const char *body, size_t len, event_fn fn, void *arg)
{
    size_t i = 0, n = 0;
    while (i < len && is_space(body[i]))
        i++;
    if (i < len && body[i] == '[') {
        i++;
        for (;;) {
            while (i < len && (is_space(body[i]) || body[i] == ','))
                i++;
            if (i >= len || body[i] == ']')
                break;
            size_t start = i;
            int depth = 0;
            bool str = false, esc = false;
            for (; i < len; i++) {
                char ch = body[i];
                if (str) {
                    if (esc)
                        esc = false;
                    else if (ch == '\\')
                        esc = true;
                    else if (ch == '"')
                        str = false;
                    continue;
                }
                if (ch == '"') {
                    str = true;
                } else if (ch == '{' || ch == '[') {
                    depth++;
                } else if (ch == '}' || ch == ']') {
                    if (depth == 0)
                        break;
                    if (--depth == 0) {
                        i++;
                        break;
                    }
                } else if (ch == ',' && depth == 0) {
                    break;
                }
            }
            size_t end = i;
            while (end > start && is_space(body[end - 1]))
                end--;
            if (end > start) {
                fn(arg, body + start, end - start);
                n++;
            }
        }
        return n;
    }
    while (i < len) {
        const char *nl = memchr(body + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - body) : len;
        size_t s = i, e = end;
        while (s < e && is_space(body[s]))
            s++;
        while (e > s && is_space(body[e - 1]))
            e--;
        if (e > s) {
            fn(arg, body + s, e - s);
            n++;
        }
        i = end + 1;
    }
    return n;
}

struct text {
    char *p;
    size_t len, cap;
    bool oom;
};

static void text_add(struct text *t, const char *s, size_t n)
{
    if (t->oom)
        return;
    if (t->cap - t->len < n + 1) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap - t->len < n + 1)
            cap *= 2;
        char *p = realloc(t->p, cap);
        if (!p) {
            t->oom = true;
            return;
        }
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    t->p[t->len] = '\0';
}

static void add_line(void *arg, const char *ev, size_t len)
{
    struct text *t = arg;
    text_add(t, ev, len);
    text_add(t, "\n", 1);
}

/* ---- the spool ---------------------------------------------------------- */

/* Write a batch's events to `sp` as NDJSON (lock not held). 0, or -1 with a message. */
static int spool_events(spool *sp, const struct batch *b, uint64_t *dropped, char *err, size_t errlen)
{
    struct text t = {0};
    size_t n = for_each_event(b->body, b->len, add_line, &t);
    int rc;
    if (t.oom) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
    } else {
        rc = spool_put(sp, t.p ? t.p : "", t.len, (uint32_t)n, dropped, err, errlen);
    }
    free(t.p);
    return rc;
}

/* Spool one batch (lock not held). Counts the outcome; returns whether it was spooled. */
static bool spool_batch(delivery *d, const struct batch *b, bool from_shutdown)
{
    char err[256] = "";
    uint64_t dropped = 0;
    int rc = spool_events(d->spool, b, &dropped, err, sizeof err);
    pthread_mutex_lock(&d->lock);
    d->st.dropped_spool_full += dropped;
    if (rc == 0) {
        d->st.events_spooled += b->nevents;
        d->st.batches_spooled++;
    } else {
        d->st.dropped_spool_error += b->nevents;
    }
    bool first = rc != 0 && !d->spool_failing;
    bool recovered = rc == 0 && d->spool_failing;
    d->spool_failing = rc != 0;
    pthread_mutex_unlock(&d->lock);
    if (dropped)
        log_warn("delivery: spool full: deleted the oldest batches, %" PRIu64 " events dropped", dropped);
    /* Once per episode: a full disk fails every batch until space comes back. */
    if (first)
        log_error("delivery: cannot spool a batch of %u events%s: %s; they are dropped (counted as "
                  "spool_error; further failures are counted, not logged, until a write works)", b->nevents,
                  from_shutdown ? " at shutdown" : "", err);
    if (recovered)
        log_info("delivery: writing to the spool works again");
    return rc == 0;
}

/* ---- the memory queue --------------------------------------------------- */

static bool queue_full(const delivery *d, uint32_t nevents, size_t len)
{
    return d->queue_events + nevents > d->queue_max || d->queue_bytes + len > d->queue_max_bytes;
}

/* The endpoint has failed every request for at least AGENT_SPOOL_AFTER (lock held). */
static bool down_for_long(const delivery *d, uint64_t now)
{
    return d->consecutive >= DOWN_AFTER && now >= d->failing_since_us + d->spool_after_us;
}

static void wake_thread(delivery *d)
{
    /* Only when a slot is free: with every slot busy, the network wakes it anyway. */
    if (d->sleeping && (d->inflight < d->slots || d->finishing)) {
        d->sleeping = false;
        http_client_wakeup(d->http);
    }
}

static struct batch *batch_new(const char *body, size_t len, uint32_t nevents, unsigned route)
{
    struct batch *b = malloc(sizeof *b + len + 1);
    if (!b)
        return NULL;
    memset(b, 0, sizeof *b);
    memcpy(b->body, body, len);
    b->body[len] = '\0';
    b->len = len;
    b->nevents = nevents;
    b->route = route;
    b->made_us = timefmt_mono_us();
    return b;
}

/* Append to the pending list and account for it (lock held). */
static void enqueue(delivery *d, struct batch *b)
{
    b->seq = ++d->next_seq;
    b->next = NULL;
    if (d->tail)
        d->tail->next = b;
    else
        d->head = b;
    d->tail = b;
    d->queue_events += b->nevents;
    d->queue_bytes += b->len;
}

void delivery_submit(delivery *d, unsigned route, const char *body, size_t len, uint32_t nevents)
{
    struct batch *b = batch_new(body, len, nevents, route);
    if (!b) {
        pthread_mutex_lock(&d->lock);
        d->st.dropped_queue_full += nevents;     /* no memory for it: the queue is full in effect */
        pthread_mutex_unlock(&d->lock);
        return;
    }
    pthread_mutex_lock(&d->lock);
    /* File mode: wait for room while the endpoint is alive (backpressure back to the reader). */
    while (d->wait_for_room && queue_full(d, nevents, len) && !d->finishing &&
           !down_for_long(d, timefmt_mono_us())) {
        d->st.backpressure_waits++;
        d->waiters++;
        uint64_t until = timefmt_mono_us() + 100000u;
        struct timespec ts = {.tv_sec = (time_t)(until / 1000000u), .tv_nsec = (long)(until % 1000000u) * 1000L};
        pthread_cond_timedwait(&d->room, &d->lock, &ts);
        d->waiters--;
    }
    if (!queue_full(d, nevents, len) || (d->queue_events == 0 && d->inflight == 0)) {
        enqueue(d, b);
        d->st.events_queued += nevents;
        d->st.batches_queued++;
        bool recovered = d->warned_queue_full;
        d->warned_queue_full = false;            /* the next overflow is a new episode */
        wake_thread(d);
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
            log_warn("delivery: memory queue full (AGENT_QUEUE_MAX_EVENTS=%" PRIu64 ", AGENT_QUEUE_MAX_MB=%" PRIu64
                     ") and no spool: dropping batches (counted as dropped_queue_full; logged once until there "
                     "is room)", d->queue_max, d->queue_max_bytes / (1024u * 1024u));
        free(b);
        return;
    }
    pthread_mutex_unlock(&d->lock);
    spool_batch(d, b, false);                    /* does not fit in memory: to disk */
    free(b);
}

/* Unlink `b` (whose predecessor is prev, NULL for the head) from the pending list (lock held). */
static void unlink_pending(delivery *d, struct batch *prev, struct batch *b)
{
    if (prev)
        prev->next = b->next;
    else
        d->head = b->next;
    if (d->tail == b)
        d->tail = prev;
    b->next = NULL;
}

/* Put a batch back into the pending list in submission order (lock held). */
static void requeue(delivery *d, struct batch *b)
{
    struct batch *prev = NULL, *p = d->head;
    while (p && p->seq < b->seq) {
        prev = p;
        p = p->next;
    }
    b->next = p;
    if (prev)
        prev->next = b;
    else
        d->head = b;
    if (!p)
        d->tail = b;
}

/* A batch leaves memory (lock held): release its room; its spool file may be done. */
static void forget(delivery *d, struct batch *b, bool settled)
{
    d->queue_events -= b->nevents;
    d->queue_bytes -= b->len;
    if (b->group) {
        if (!settled)
            b->group->keep = true;
        b->group->outstanding--;
    }
    if (d->waiters)
        pthread_cond_broadcast(&d->room);
    free(b);
}

/* While the endpoint is down: move pending batches older than spool_after to disk (lock held). */
static void spool_aged(delivery *d, uint64_t now)
{
    while (d->spool && d->consecutive >= DOWN_AFTER && d->head && !d->head->group &&
           now >= d->head->made_us + d->spool_after_us) {
        struct batch *b = d->head;
        unlink_pending(d, NULL, b);
        pthread_mutex_unlock(&d->lock);
        spool_batch(d, b, false);
        pthread_mutex_lock(&d->lock);
        forget(d, b, true);
    }
}

/* Shutdown timeout reached: spool or drop what is pending (lock held). Replayed
 * batches are left in their spool file for the next start. */
static void give_up_memory(delivery *d)
{
    uint64_t dropped = 0;
    while (d->head) {
        struct batch *b = d->head;
        unlink_pending(d, NULL, b);
        if (b->group) {
            forget(d, b, false);
            continue;
        }
        if (d->spool) {
            pthread_mutex_unlock(&d->lock);
            spool_batch(d, b, true);
            pthread_mutex_lock(&d->lock);
        } else {
            d->st.dropped_shutdown += b->nevents;
            dropped += b->nevents;
        }
        forget(d, b, true);
    }
    if (dropped)
        log_warn("delivery: shutdown timeout: %" PRIu64 " undelivered events dropped (no spool directory)", dropped);
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

/* A batch the endpoint keeps failing while it delivers others (lock held on entry and exit). */
static void set_aside(delivery *d, struct batch *b, const struct http_result *r)
{
    const char *url = http_client_url_for_log(d->http, b->route);
    bool first = !d->warned_dead;
    d->warned_dead = true;
    pthread_mutex_unlock(&d->lock);
    char err[512] = "";
    int rc = -1;
    if (d->spool_dir && !d->dead) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", d->spool_dir, DEAD_LETTER_DIR);
        if (mkdir(path, 0700) != 0 && errno != EEXIST)
            snprintf(err, sizeof err, "mkdir %.200s: %s", path, strerror(errno));
        else
            d->dead = spool_open(path, d->spool_max_bytes, err, sizeof err);
    }
    uint64_t dropped = 0;
    if (d->dead)
        rc = spool_events(d->dead, b, &dropped, err, sizeof err);
    if (first)
        log_warn("delivery: %s failed a request of %u events %u times while delivering others (last: %s); "
                 "set aside %s%s%s, delivery goes on (counted as %s; further set-asides are counted, not logged; "
                 "AGENT_RETRY_MAX_ATTEMPTS)",
                 url, b->nevents, b->failures, r->detail,
                 rc == 0 ? "into " : "and dropped", rc == 0 ? d->spool_dir : (err[0] ? ": " : ""),
                 rc == 0 ? "/" DEAD_LETTER_DIR : err, rc == 0 ? "dead_lettered" : "dropped.undeliverable");
    pthread_mutex_lock(&d->lock);
    d->st.dropped_spool_full += dropped;
    if (rc == 0)
        d->st.events_dead_lettered += b->nevents;
    else
        d->st.dropped_undeliverable += b->nevents;
    d->st.batches_set_aside++;
}

/* Decide a batch's fate after one attempt (lock held); it is in no list. */
static void settle(delivery *d, struct batch *b, const struct http_result *r)
{
    const char *url = http_client_url_for_log(d->http, b->route);
    uint64_t now = timefmt_mono_us();
    count_status(d, r);
    switch (r->outcome) {
    case HTTP_DELIVERED:
        d->st.events_sent += b->nevents;
        d->st.batches_sent++;
        if (b->group) {
            d->st.events_replayed += b->nevents;
            d->st.batches_replayed++;
        }
        if (d->consecutive >= DOWN_AFTER) {
            log_info("delivery: %s answers again after %u failed attempts", url, d->consecutive);
            /* Back from an outage: what failed during it goes now, in order. */
            int i = 0;
            for (struct batch *p = d->head; p && i < SCAN_MAX; p = p->next, i++)
                p->next_try_us = 0;
        }
        d->consecutive = 0;
        d->gate_us = 0;
        d->nfail = 0;
        d->ok_count++;
        d->last_ok_us = now;
        forget(d, b, true);
        return;
    case HTTP_REJECTED:
        d->st.dropped_rejected += b->nevents;
        if (!seen_before(d->reject_keys, &d->nreject, r->status))
            log_warn("delivery: %s rejected a batch of %u events (%s); not retried, dropped "
                     "(further rejections with this status are counted, not logged)", url, b->nevents, r->detail);
        forget(d, b, true);
        return;
    case HTTP_RETRY:
    default:
        break;
    }
    d->st.retries++;
    if (d->consecutive++ == 0)
        d->failing_since_us = now;
    /* A strike: the first failure, and every later one once the endpoint has
     * delivered something else since that first failure (it is up: the fault
     * is this request). While nothing else is delivered it looks like an
     * outage: retried, never set aside. */
    if (b->failures++ == 0)
        b->seen_ok = d->ok_count;
    if (b->failures == 1 || d->ok_count > b->seen_ok)
        b->strikes++;
    if (b->strikes >= d->max_strikes && d->ok_count > 0) {
        set_aside(d, b, r);
        forget(d, b, true);
        return;
    }
    uint64_t delay = r->retry_after_ms ? (uint64_t)r->retry_after_ms * 1000u : backoff_us(d, b->failures);
    b->next_try_us = now + delay;
    if (r->retry_after_ms || d->consecutive >= DOWN_AFTER) {
        uint64_t gate = now + (r->retry_after_ms ? delay : backoff_us(d, d->consecutive - 1));
        if (gate > d->gate_us)
            d->gate_us = gate;
    }
    if (!seen_before(d->fail_keys, &d->nfail, r->curl_code ? -(long)r->curl_code : r->status))
        log_warn("delivery: POST to %s failed (%s); retrying in %" PRIu64 " ms "
                 "(further failures like this are counted, not logged)", url, r->detail, delay / 1000u);
    requeue(d, b);
}

static void on_done(void *arg, void *tag, const struct http_result *r)
{
    delivery *d = arg;
    pthread_mutex_lock(&d->lock);
    d->inflight--;
    settle(d, tag, r);
    pthread_mutex_unlock(&d->lock);
}

/* At the shutdown deadline: a request cut short is spooled or dropped, not retried. */
static void on_cancelled(void *arg, void *tag, const struct http_result *r)
{
    delivery *d = arg;
    struct batch *b = tag;
    (void)r;
    pthread_mutex_lock(&d->lock);
    d->inflight--;
    d->st.retries++;
    d->st.network_errors++;
    b->next = NULL;
    requeue(d, b);
    give_up_memory(d);
    pthread_mutex_unlock(&d->lock);
}

/* The first pending batch whose own backoff is over, unlinked; NULL if none (lock held). */
static struct batch *take_ready(delivery *d, uint64_t now, uint64_t *soonest)
{
    struct batch *prev = NULL, *b = d->head;
    bool down = d->consecutive >= DOWN_AFTER;   /* the probe is the oldest (the gate paces it) */
    for (int i = 0; b && i < SCAN_MAX; i++) {
        if (down || b->next_try_us <= now) {
            unlink_pending(d, prev, b);
            return b;
        }
        if (b->next_try_us < *soonest)
            *soonest = b->next_try_us;
        prev = b;
        b = b->next;
    }
    return NULL;
}

/* ---- replay ------------------------------------------------------------- */

struct replay {
    delivery *d;
    struct group *g;
    struct text out[HTTP_ROUTES];
    uint32_t n[HTTP_ROUTES];
    uint32_t unrouted;
    bool oom;
};

static void replay_flush(struct replay *rp, unsigned route)
{
    struct text *t = &rp->out[route];
    if (rp->n[route] == 0)
        return;
    if (rp->d->body_format == CFG_BODY_ARRAY)
        text_add(t, "]", 1);
    struct batch *b = t->oom ? NULL : batch_new(t->p, t->len, rp->n[route], route);
    if (!b) {
        rp->oom = true;
    } else {
        b->group = rp->g;
        rp->g->outstanding++;
        pthread_mutex_lock(&rp->d->lock);
        enqueue(rp->d, b);
        pthread_mutex_unlock(&rp->d->lock);
    }
    t->len = 0;
    t->oom = false;
    rp->n[route] = 0;
}

static void replay_event(void *arg, const char *ev, size_t len)
{
    struct replay *rp = arg;
    bool flow = len >= sizeof FLOW_PREFIX - 1 && memcmp(ev, FLOW_PREFIX, sizeof FLOW_PREFIX - 1) == 0;
    int r = http_client_route_for(rp->d->http, flow);
    if (r < 0) {
        rp->unrouted++;
        return;
    }
    unsigned route = (unsigned)r;
    struct text *t = &rp->out[route];
    switch (rp->d->body_format) {
    case CFG_BODY_ARRAY:
        text_add(t, rp->n[route] ? "," : "[", 1);
        text_add(t, ev, len);
        break;
    case CFG_BODY_NDJSON:
        text_add(t, ev, len);
        text_add(t, "\n", 1);
        break;
    case CFG_BODY_OBJECT:
    default:
        text_add(t, ev, len);
        break;
    }
    rp->n[route]++;
    uint32_t per = rp->d->body_format == CFG_BODY_OBJECT ? 1 : rp->d->batch_size;
    if (rp->n[route] >= per)
        replay_flush(rp, route);
}

/* Load the oldest spool file into requests of today's format (lock not held).
 * Returns 1 when a file was loaded, 0 when the spool is empty, -1 on error. */
static int replay_next(delivery *d)
{
    char err[512] = "";
    size_t slen = 0;
    uint32_t sev = 0;
    uint64_t id = 0;
    int rc = spool_peek_oldest(d->spool, &d->sbuf, &d->scap, &slen, &sev, &id, err, sizeof err);
    if (err[0])
        log_warn("delivery: spool: %s", err);
    if (rc <= 0)
        return rc;
    struct group *g = calloc(1, sizeof *g);
    if (!g)
        return -1;
    g->spool_id = id;
    struct replay rp = {.d = d, .g = g};
    for_each_event(d->sbuf, slen, replay_event, &rp);
    for (unsigned r = 0; r < HTTP_ROUTES; r++) {
        replay_flush(&rp, r);
        free(rp.out[r].p);
    }
    pthread_mutex_lock(&d->lock);
    if (rp.oom)
        g->keep = true;                 /* try the whole file again after a restart */
    if (rp.unrouted) {
        d->st.dropped_unrouted += rp.unrouted;
        if (!d->warned_unrouted)
            log_warn("delivery: %u spooled non-flow events have no endpoint now (AGENT_EVENTS_ENDPOINT_URL "
                     "unset): dropped (counted as unrouted)", rp.unrouted);
        d->warned_unrouted = true;
    }
    pthread_mutex_unlock(&d->lock);
    d->group = g;
    return 1;
}

/* The replayed file's requests are all settled: remove it (lock not held). */
static void replay_done(delivery *d)
{
    struct group *g = d->group;
    if (!g->keep)
        spool_remove(d->spool, g->spool_id);
    free(g);
    d->group = NULL;
}

/* ---- the thread --------------------------------------------------------- */

static void *delivery_main(void *arg)
{
    delivery *d = arg;
    caps_thread_init("delivery");
    unsigned cap = http_client_capacity(d->http);
    pthread_mutex_lock(&d->lock);
    for (;;) {
        uint64_t now = timefmt_mono_us();
        spool_aged(d, now);
        if (d->group && d->group->outstanding == 0) {
            pthread_mutex_unlock(&d->lock);
            replay_done(d);
            pthread_mutex_lock(&d->lock);
        }
        now = timefmt_mono_us();
        /* Replaying a file, the shutdown timeout counts from the last delivery: a
         * slow endpoint that keeps taking requests gets the whole capture. */
        if (d->finishing && d->wait_for_room && d->last_ok_us + d->shutdown_us > d->deadline_us)
            d->deadline_us = d->last_ok_us + d->shutdown_us;
        if (d->finishing && now >= d->deadline_us) {
            give_up_memory(d);
            pthread_mutex_unlock(&d->lock);
            http_client_cancel_all(d->http, on_cancelled, d);
            pthread_mutex_lock(&d->lock);
            if (d->group) {
                d->group->keep = d->group->keep || d->group->outstanding > 0;
                pthread_mutex_unlock(&d->lock);
                replay_done(d);
                pthread_mutex_lock(&d->lock);
            }
            break;
        }
        /* Memory first; the spool when memory is empty (one file at a time). */
        if (!d->head && !d->group && d->spool && !spool_is_empty(d->spool)) {
            pthread_mutex_unlock(&d->lock);
            int rc = replay_next(d);
            pthread_mutex_lock(&d->lock);
            if (rc < 0 && d->gate_us < now + d->retry_max_us)
                d->gate_us = now + d->retry_max_us;      /* I/O error: back off */
            continue;
        }
        if (d->finishing && !d->head && d->inflight == 0 && !d->group &&
            (!d->spool || spool_is_empty(d->spool)))
            break;

        /* Start what may go: every slot while the endpoint answers, one probe while it is down. */
        uint64_t soonest = now + (uint64_t)IDLE_WAIT_MS * 1000u;
        unsigned limit = d->consecutive >= DOWN_AFTER ? 1 : cap;
        while (d->inflight < limit && now >= d->gate_us) {
            struct batch *b = take_ready(d, now, &soonest);
            if (!b)
                break;
            uint32_t cap_ms = 0;
            if (d->finishing)
                cap_ms = (uint32_t)((d->deadline_us > now ? d->deadline_us - now : 1000) / 1000u) + 1;
            d->inflight++;
            pthread_mutex_unlock(&d->lock);
            struct http_result res;
            int rc = http_client_start(d->http, b->route, b->body, b->len, cap_ms, b, &res);
            pthread_mutex_lock(&d->lock);
            if (rc != 0) {
                d->inflight--;
                settle(d, b, &res);
            }
        }
        if (d->head && d->gate_us > now && d->gate_us < soonest)
            soonest = d->gate_us;
        if (d->spool && d->consecutive >= DOWN_AFTER && d->head && !d->head->group &&
            d->head->made_us + d->spool_after_us < soonest)
            soonest = d->head->made_us + d->spool_after_us;
        if (d->finishing && d->deadline_us < soonest)
            soonest = d->deadline_us;
        now = timefmt_mono_us();
        int wait_ms = soonest > now ? (int)((soonest - now + 999u) / 1000u) : 0;
        d->sleeping = wait_ms > 0;
        pthread_mutex_unlock(&d->lock);
        http_client_poll(d->http, wait_ms, on_done, d);
        pthread_mutex_lock(&d->lock);
        d->sleeping = false;
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
    pthread_cond_broadcast(&d->room);
    d->sleeping = true;
    wake_thread(d);
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

int delivery_route_for(const delivery *d, bool flow)
{
    return http_client_route_for(d->http, flow);
}

void delivery_count_unrouted(delivery *d, uint32_t nevents)
{
    pthread_mutex_lock(&d->lock);
    d->st.dropped_unrouted += nevents;
    pthread_mutex_unlock(&d->lock);
}

void delivery_get_stats(const delivery *cd, struct delivery_stats *out)
{
    delivery *d = (delivery *)cd;   /* only the internal mutex is written */
    pthread_mutex_lock(&d->lock);
    *out = d->st;
    out->queue_events = d->queue_events;
    out->queue_bytes = d->queue_bytes;
    out->inflight = d->inflight;
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
    spool_close(d->dead);
    free(d->group);
    free(d->spool_dir);
    free(d->sbuf);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->room);
    free(d);
}
