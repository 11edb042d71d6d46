/*
 * sender.c — the last pipeline stage: event rings in, FlowEvent JSON out.
 *
 * One thread drains every event ring it was given (the flow rings and the
 * hooks' JSON rings), turns each event into JSON and either writes NDJSON
 * lines to a stream (no endpoint) or collects them into batches that it hands
 * to the delivery thread (delivery.c: retries, spool, shutdown timeout), so a
 * slow or dead endpoint never stalls serialization. Everything the thread
 * touches per event (the pop buffer, the text buffer that collects NDJSON
 * lines or the batch body) is allocated once and reused. Flow records are
 * written straight into that buffer by flow_event_format (no cJSON, no
 * allocation); only hook events, which arrive as cJSON objects, allocate.
 *
 * Bodies (AGENT_HTTP_BODY): `object` (the default, go-Tracer's wire format)
 * hands every event over as its own request; `array` and `ndjson` collect up
 * to AGENT_BATCH_SIZE events, closed when full or when send_interval_ms has
 * passed since the first event (checked after every pass over the rings), and
 * at the end. AGENT_BATCH_SIZE never changes the body's shape.
 *
 * Routes: flow events go to AGENT_ENDPOINT_URL (route 0); every other event
 * type to AGENT_EVENTS_ENDPOINT_URL (route 1), each with its own body being
 * built. Without that second endpoint, the hooks are not started and the
 * reporter sends no `sensor` event (main and hook_set decide); a non-flow
 * event that arrives anyway is counted as unrouted. On stdout every event is
 * a line. The stream is written and flushed once per pass over the rings; a
 * failed write is counted and logged once until writing works again.
 *
 * Outputs (issue 16): every event is serialized once and its text goes to
 * each output that is on, each with its own queue, counters and failure
 * handling: Kafka (kafka_output.h: a non-blocking offer), stdout (when no
 * other output is on, or AGENT_STDOUT; beside HTTP its lines collect in
 * `tee`), then HTTP (the body being built). Without HTTP the text is printed
 * into ob[0] (the stream's lines) or, when stdout is off too, printed there
 * and not kept; a hook event HTTP has no route for is printed into the
 * scratch buffer ob[HTTP_ROUTES] for the other outputs only.
 *
 * Idle: when every ring is empty the thread sleeps, starting at 50 µs and
 * doubling up to 2 ms while nothing arrives, so an idle sensor does not spin
 * and a busy one sees sub-millisecond latency.
 *
 * Shutdown: sender_finish() sets an atomic flag (release). The loop reads it
 * (acquire) BEFORE a pass over the rings; if the flag was set and that pass
 * found every ring empty, nothing more can arrive (producers stop before they
 * call finish), so the last batch is handed over, delivery finishes (up to
 * AGENT_SHUTDOWN_TIMEOUT), the stream is flushed, and run returns.
 */
#define _GNU_SOURCE 1 /* memmem */
#include "sender.h"
#include "sockowner.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../common/growbuf.h"
#include "../common/hostaddr.h"
#include "../common/log.h"
#include "../common/timefmt.h"
#include "../config/config.h"
#include "../models/community_id.h"
#include "../models/flow_event.h"
#include "delivery.h"
#include "http_client.h"
#include "ipfix_export.h"
#include "kafka_output.h"

#ifndef TRACER_VERSION
#define TRACER_VERSION "0.0.0"
#endif

#define SENDER_BURST               256u               /* events popped per ring per pass */
#define SENDER_HOSTS_REFRESH_US    (10u * 1000000u)   /* re-read host addresses every 10 s */
#define SENDER_OWNER_REFRESH_US    (1u * 1000000u)    /* socket-owner snapshot every second (issue 15) */
#define SENDER_OWNER_ENTRIES       65536u             /* sockets the owner cache holds */
#define SENDER_IDLE_MIN_US         50u
#define SENDER_IDLE_MAX_US         2000u
#define SENDER_BUF_INITIAL         (64u * 1024u)
#define SENDER_OBJ_ROOM            2048u              /* room ensured before printing one object */
#define SENDER_BUF_MAX             ((size_t)1 << 30)  /* cap on the text buffer (batch body) */
#define SENDER_STREAM_CHUNK        (256u * 1024u)     /* write NDJSON early past this size */
#define SENDER_DEFAULT_INTERVAL_MS 1000u
#define SENDER_MAX_JSON_RINGS      8

/* Text being collected: NDJSON lines for the stream, or one request body. */
struct outbuf {
    char *buf;
    size_t len, cap;
    uint32_t n;                 /* events in buf */
    uint64_t first_us;          /* monotonic time the first of them arrived */
};

struct sender {
    /* Set by create, read-only afterwards. */
    ring **rings;
    size_t nrings;
    ring *json_rings[SENDER_MAX_JSON_RINGS];   /* hooks' rings of sender_json_msg */
    size_t njson_rings;
    struct flow_event_ctx ctx;
    FILE *out;                  /* NDJSON stream (stdout mode) */
    bool http;
    enum http_body_value body;  /* HTTP mode: object, array or ndjson */
    uint32_t batch_size;        /* events per request (1 for object bodies) */
    uint64_t interval_us;
    char id_prefix[17];         /* 16 lowercase hex digits, random per instance */

    /* Sender thread only. */
    delivery *delivery;         /* HTTP mode: retries, spool, the delivery thread */
    hostaddr *hosts;
    uint64_t hosts_next_us;     /* monotonic time of the next refresh */
    uint64_t seq;               /* last event sequence number used */
    struct flow_event *burst;   /* SENDER_BURST slots */
    struct outbuf ob[HTTP_ROUTES + 1]; /* NDJSON lines (ob[0]) or the request body being built per route;
                                       * ob[HTTP_ROUTES]: text for the other outputs only */
    bool write_failing;         /* stream mode: a write failure was logged */
    ipfix_export *ipfix;        /* AGENT_IPFIX_COLLECTOR: the IPFIX/NetFlow output (own ring and thread), or NULL */
    /* outputs beside HTTP-or-stdout (issue 16) */
    bool stream;                /* NDJSON to `out`: no other output, or AGENT_STDOUT */
    struct outbuf tee;          /* HTTP and stdout both on: the NDJSON lines for `out` */
    kafka_output *kafka;        /* AGENT_KAFKA_BROKERS; NULL = off */

    /* Any thread. */
    atomic_bool finish;
    _Atomic uint64_t events_in, events_sent, events_failed;
    _Atomic uint64_t batches_sent, batches_failed, json_errors;
    _Atomic uint64_t by_type[SENDER_EV_COUNT];
    /* owning process (issue 15 item 6); sender thread, NULL when off */
    sockowner *owner;
    uint64_t owner_next_us;     /* monotonic time of the next snapshot */
    _Atomic uint64_t stdout_written, stdout_failed;
};

static void stat_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static void random_prefix(sender *s)
{
    uint64_t r = 0;
    ssize_t got = getrandom(&r, sizeof r, 0);
    if (got != (ssize_t)sizeof r) {
        /* No getrandom (very old kernel): uniqueness per run still holds well
         * enough with time, pid and address mixed (splitmix64 finalizer). */
        r = timefmt_now_us() ^ ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)s;
        r ^= r >> 30;
        r *= 0xbf58476d1ce4e5b9ULL;
        r ^= r >> 27;
        r *= 0x94d049bb133111ebULL;
        r ^= r >> 31;
        log_warn("sender: getrandom failed (%s); event ids use a time-based prefix", strerror(errno));
    }
    snprintf(s->id_prefix, sizeof s->id_prefix, "%016" PRIx64, r);
}

sender *sender_create(const struct config *cfg, ring *const *rings, size_t nrings,
                      const struct flow_event_ctx *ctx, FILE *out,
                      char *err, size_t errlen)
{
    char dummy[1];
    if (!err || errlen == 0) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!cfg || (nrings && !rings)) {
        snprintf(err, errlen, "sender: invalid arguments");
        return NULL;
    }
    for (size_t i = 0; i < nrings; i++) {
        if (!rings[i] || ring_slot_size(rings[i]) < flow_event_slot_size(false, false) ||
            ring_slot_size(rings[i]) > sizeof(struct flow_event)) {
            snprintf(err, errlen, "sender: ring %zu does not hold flow_event slots", i);
            return NULL;
        }
    }
    bool stream = (!cfg->endpoint_url && !cfg->kafka_brokers) || cfg->stdout_also;
    if (stream && !out) {
        snprintf(err, errlen, "sender: no endpoint and no output stream");
        return NULL;
    }

    sender *s = calloc(1, sizeof *s);
    if (!s)
        goto oom;
    atomic_init(&s->finish, false);
    atomic_init(&s->events_in, 0);
    atomic_init(&s->events_sent, 0);
    atomic_init(&s->events_failed, 0);
    atomic_init(&s->batches_sent, 0);
    atomic_init(&s->batches_failed, 0);
    atomic_init(&s->json_errors, 0);
    for (int i = 0; i < SENDER_EV_COUNT; i++)
        atomic_init(&s->by_type[i], 0);
    s->nrings = nrings;
    s->rings = calloc(nrings ? nrings : 1, sizeof *s->rings);
    if (!s->rings)
        goto oom;
    for (size_t i = 0; i < nrings; i++)
        s->rings[i] = rings[i];
    if (ctx)
        s->ctx = *ctx;
    s->ctx.cid_hasher = community_id_hasher_create();
    if (!s->ctx.cid_hasher)
        goto oom;
    s->out = out;
    s->http = cfg->endpoint_url != NULL;
    s->stream = stream;
    atomic_init(&s->stdout_written, 0);
    atomic_init(&s->stdout_failed, 0);
    s->body = cfg->http_body;
    s->batch_size = s->body == CFG_BODY_OBJECT ? 1 : cfg->batch_size ? cfg->batch_size : 1;
    s->interval_us = (uint64_t)(cfg->send_interval_ms ? cfg->send_interval_ms
                                                      : SENDER_DEFAULT_INTERVAL_MS) * 1000u;
    s->burst = calloc(SENDER_BURST, sizeof *s->burst);
    if (!s->burst)
        goto oom;
    for (int r = 0; r <= HTTP_ROUTES; r++) {
        s->ob[r].cap = SENDER_BUF_INITIAL;
        s->ob[r].buf = malloc(SENDER_BUF_INITIAL);
        if (!s->ob[r].buf)
            goto oom;
    }
    s->hosts = hostaddr_create(err, errlen);
    if (!s->hosts || (cfg->local_networks && hostaddr_use_networks(s->hosts, cfg->local_networks, err, errlen) != 0))
        goto fail;
    s->hosts_next_us = timefmt_mono_us() + SENDER_HOSTS_REFRESH_US;
    random_prefix(s);
    if (cfg->process_info && !cfg->pcap_file) {    /* live only: a file's flows are not this host's now */
        s->owner = sockowner_create(SENDER_OWNER_ENTRIES, err, errlen);
        if (!s->owner)
            goto fail;
    }
    if (s->http && s->stream) {
        s->tee.cap = SENDER_BUF_INITIAL;
        if (!(s->tee.buf = malloc(SENDER_BUF_INITIAL)))
            goto oom;
    }
    if (cfg->kafka_brokers && !(s->kafka = kafka_output_create(cfg, err, errlen)))
        goto fail;
    if (s->http) {
        s->delivery = delivery_create(cfg, err, errlen);
        if (!s->delivery)
            goto fail;
    }
    if (cfg->ipfix_collector && !(s->ipfix = ipfix_export_create(cfg, s->ctx.community_seed, err, errlen)))
        goto fail;
    return s;
oom:
    snprintf(err, errlen, "sender: out of memory");
fail:
    sender_destroy(s);
    return NULL;
}

void sender_destroy(sender *s)
{
    if (!s)
        return;
    delivery_destroy(s->delivery);
    sockowner_destroy(s->owner);
    ipfix_export_destroy(s->ipfix);
    kafka_output_destroy(s->kafka);
    free(s->tee.buf);
    hostaddr_destroy(s->hosts);
    community_id_hasher_destroy(s->ctx.cid_hasher);
    for (int r = 0; r <= HTTP_ROUTES; r++)
        free(s->ob[r].buf);
    free(s->burst);
    free(s->rings);
    struct sender_json_msg m;
    for (size_t i = 0; i < s->njson_rings; i++)
        while (ring_pop(s->json_rings[i], &m))
            cJSON_Delete(m.obj);
    free(s);
}

void sender_finish(sender *s)
{
    if (s)
        atomic_store_explicit(&s->finish, true, memory_order_release);
}

void sender_get_stats(const sender *s, struct sender_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!s)
        return;
    const sender *m = s;
    out->events_in = atomic_load_explicit(&m->events_in, memory_order_relaxed);
    out->events_sent = atomic_load_explicit(&m->events_sent, memory_order_relaxed);
    out->events_failed = atomic_load_explicit(&m->events_failed, memory_order_relaxed);
    out->batches_sent = atomic_load_explicit(&m->batches_sent, memory_order_relaxed);
    out->batches_failed = atomic_load_explicit(&m->batches_failed, memory_order_relaxed);
    out->json_errors = atomic_load_explicit(&m->json_errors, memory_order_relaxed);
    for (int i = 0; i < SENDER_EV_COUNT; i++)
        out->events_by_type[i] = atomic_load_explicit(&m->by_type[i], memory_order_relaxed);
    out->owner_on = m->owner != NULL;
    sockowner_get_stats(m->owner, &out->owner);
    if (m->ipfix) {
        out->ipfix_on = true;
        ipfix_export_get_stats(m->ipfix, &out->ipfix);
    }
    out->http_on = m->http;
    out->stdout_on = m->stream;
    out->kafka_on = m->kafka != NULL;
    out->stdout_written = atomic_load_explicit(&m->stdout_written, memory_order_relaxed);
    out->stdout_failed = atomic_load_explicit(&m->stdout_failed, memory_order_relaxed);
    kafka_output_get_stats(m->kafka, &out->kafka);
    if (!m->http && !m->stream && m->kafka) {
        /* Kafka is the only output: its acknowledgements and losses are the sender's. */
        const struct kafka_output_stats *k = &out->kafka;
        out->events_sent = k->delivered;
        out->events_failed = k->dropped_no_spool + k->dropped_spool_full + k->dropped_spool_error +
                             k->dropped_invalid;
    }
    if (m->delivery) {
        delivery_get_stats(m->delivery, &out->delivery);
        const struct delivery_stats *d = &out->delivery;
        out->events_sent = d->events_sent;
        out->batches_sent = d->batches_sent;
        out->events_failed = d->dropped_queue_full + d->dropped_spool_full + d->dropped_spool_error +
                             d->dropped_rejected + d->dropped_shutdown + d->dropped_undeliverable +
                             d->dropped_unrouted + d->events_dead_lettered;
    }
}

/* Make room for `need` more bytes in o. */
static int buf_reserve(struct outbuf *o, size_t need)
{
    return growbuf_reserve(&o->buf, &o->cap, o->len, need, SENDER_BUF_INITIAL, SENDER_BUF_MAX);
}

/* Stream mode: write and flush the collected NDJSON lines. */
static void flush_stream(sender *s)
{
    struct outbuf *o = s->http ? &s->tee : &s->ob[0];
    if (o->n == 0 && o->len == 0)
        return;
    size_t w = o->len ? fwrite(o->buf, 1, o->len, s->out) : 0;
    int e = w == o->len ? 0 : errno;
    if (fflush(s->out) != 0 && e == 0)
        e = errno ? errno : EIO;
    if (w == o->len && e == 0) {
        stat_add(&s->stdout_written, o->n);
        stat_add(&s->events_sent, o->n);
        stat_add(&s->batches_sent, 1);
        if (s->write_failing)
            log_info("sender: writing events works again");
        s->write_failing = false;
    } else {
        stat_add(&s->stdout_failed, o->n);
        stat_add(&s->events_failed, o->n);
        stat_add(&s->batches_failed, 1);
        if (!s->write_failing)
            log_warn("sender: writing events failed: %s; %" PRIu32 " event(s) lost "
                     "(further failures are counted, not logged)", strerror(e ? e : EIO), o->n);
        s->write_failing = true;
        clearerr(s->out);
    }
    o->len = 0;
    o->n = 0;
}

/* HTTP mode: close the body and hand it to the delivery thread. */
static void send_batch(sender *s, unsigned route)
{
    struct outbuf *o = &s->ob[route];
    if (o->n == 0)
        return;
    if (s->body == CFG_BODY_ARRAY)
        o->buf[o->len++] = ']';  /* append_* keep 2 spare bytes */
    delivery_submit(s->delivery, route, o->buf, o->len, o->n);
    o->len = 0;
    o->n = 0;
}

static enum flow_direction direction_of(const hostaddr *h, const struct flow_event *ev)
{
    int src = hostaddr_contains(h, ev->ip_version, ev->src_ip);
    int dst = hostaddr_contains(h, ev->ip_version, ev->dst_ip);
    if (src && dst)
        return FLOW_DIR_LOCAL;
    if (src)
        return FLOW_DIR_OUTBOUND;
    if (dst)
        return FLOW_DIR_INBOUND;
    return FLOW_DIR_UNKNOWN;
}

/* Bytes written before each event: '[' or ',' in array bodies. */
static size_t prefix_len(const sender *s)
{
    return s->http && s->body == CFG_BODY_ARRAY ? 1 : 0;
}

static void append_text(sender *s, unsigned route, size_t pre, size_t n, bool flow);

/* Serialize one JSON object into ob[route] (an NDJSON line, or the next
 * element of the body) and free it. */
static void append_json(sender *s, unsigned route, cJSON *obj)
{
    struct outbuf *o = &s->ob[route];
    size_t pre = prefix_len(s);
    size_t n = SIZE_MAX;
    /* +2 spare bytes after the text: the NUL now, the '\n' or ']' later. */
    if (buf_reserve(o, pre + SENDER_OBJ_ROOM + 2) == 0) {
        n = flow_event_json_print(obj, o->buf + o->len + pre, o->cap - o->len - pre - 1);
        if (n != SIZE_MAX && n + pre + 2 > o->cap - o->len) {
            /* Did not fit: grow to the exact size and print again. */
            if (buf_reserve(o, pre + n + 2) == 0)
                n = flow_event_json_print(obj, o->buf + o->len + pre, o->cap - o->len - pre - 1);
            else
                n = SIZE_MAX;
        }
    }
    cJSON_Delete(obj);
    if (n == SIZE_MAX || n + pre + 2 > o->cap - o->len) {
        stat_add(&s->json_errors, 1);
        return;
    }
    append_text(s, route, pre, n, false);
}

/* Kafka: a flow's key is its Community ID, taken from its JSON; other events' the host name. */
static void offer_kafka(sender *s, bool flow, const char *text, size_t n)
{
    static const char field[] = "\"community_id\":\"";
    const char *key = s->ctx.hostname ? s->ctx.hostname : "";
    size_t keylen = strlen(key);
    if (flow) {
        const char *f = memmem(text, n, field, sizeof field - 1);
        const char *v = f ? f + sizeof field - 1 : NULL;
        const char *q = v ? memchr(v, '"', n - (size_t)(v - text)) : NULL;
        key = q ? v : NULL;
        keylen = q ? (size_t)(q - v) : 0;
    }
    kafka_output_offer(s->kafka, flow ? KAFKA_TOPIC_FLOW : KAFKA_TOPIC_EVENTS, key, keylen, text, n);
}

/* HTTP and stdout both on: copy the event's text as an NDJSON line for the stream. */
static void tee_line(sender *s, const char *text, size_t n)
{
    struct outbuf *t = &s->tee;
    if (buf_reserve(t, n + 1) != 0) {
        stat_add(&s->stdout_failed, 1);
        return;
    }
    memcpy(t->buf + t->len, text, n);
    t->len += n;
    t->buf[t->len++] = '\n';
    t->n++;
    if (t->len >= SENDER_STREAM_CHUNK)
        flush_stream(s);
}

/* The n bytes of text just printed at buf + len + pre become the body's next
 * element (or NDJSON line); hand the body over or write the stream when due.
 * Every other output on gets the same text first. */
static void append_text(sender *s, unsigned route, size_t pre, size_t n, bool flow)
{
    struct outbuf *o = &s->ob[route];
    const char *text = o->buf + o->len + pre;
    if (s->kafka)
        offer_kafka(s, flow, text, n);
    if (s->http && s->stream)
        tee_line(s, text, n);
    if ((!s->http && !s->stream) || route == HTTP_ROUTES)
        return;     /* the buffer only held the text for the other outputs */
    if (pre)
        o->buf[o->len] = o->n == 0 ? '[' : ',';
    o->len += pre + n;
    if (!s->http || s->body == CFG_BODY_NDJSON)
        o->buf[o->len++] = '\n';
    if (o->n++ == 0)
        o->first_us = timefmt_mono_us();
    if (s->http && o->n >= s->batch_size)
        send_batch(s, route);
    else if (!s->http && o->len >= SENDER_STREAM_CHUNK)
        flush_stream(s);
}

static void next_event_id(sender *s, char *id, size_t idlen)
{
    snprintf(id, idlen, "%s-%" PRIu64, s->id_prefix, ++s->seq);
}

/* next_event_id without printf: the prefix, '-', the decimal sequence number. */
static void next_event_id_fast(sender *s, char *id)
{
    memcpy(id, s->id_prefix, 16);
    id[16] = '-';
    char t[24], *q = t + sizeof t;
    uint64_t v = ++s->seq;
    do {
        *--q = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    size_t n = (size_t)(t + sizeof t - q);
    memcpy(id + 17, q, n);
    id[17 + n] = '\0';
}

/* A flow record: its JSON is written straight into the route-0 body
 * (flow_event_format gives the bytes flow_event_to_json + flow_event_json_print would). */
static void append_event(sender *s, const struct flow_event *ev)
{
    struct flow_event own;
    if (s->owner) {                    /* add the owning processes to a copy */
        own = *ev;
        sockowner_fill(s->owner, &own, timefmt_mono_us());
        ev = &own;
    }
    char id[sizeof s->id_prefix + 24];
    next_event_id_fast(s, id);
    enum flow_direction dir = direction_of(s->hosts, ev);
    struct outbuf *o = &s->ob[0];
    size_t pre = prefix_len(s);
    size_t n = SIZE_MAX;
    /* +2 spare bytes after the text: the NUL now, the '\n' or ']' later. */
    if (buf_reserve(o, pre + SENDER_OBJ_ROOM + 2) == 0) {
        n = flow_event_format(ev, &s->ctx, dir, id, o->buf + o->len + pre, o->cap - o->len - pre - 1);
        if (n != SIZE_MAX && n + pre + 2 > o->cap - o->len) {
            if (buf_reserve(o, pre + n + 2) == 0)
                n = flow_event_format(ev, &s->ctx, dir, id, o->buf + o->len + pre, o->cap - o->len - pre - 1);
            else
                n = SIZE_MAX;
        }
    }
    if (n == SIZE_MAX || n + pre + 2 > o->cap - o->len) {
        stat_add(&s->json_errors, 1);
        return;
    }
    append_text(s, 0, pre, n, true);
}

/* Replace (or add) a string member. Returns false when out of memory. */
static bool set_string(cJSON *obj, const char *key, const char *val)
{
    cJSON *v = cJSON_CreateString(val);
    if (!v)
        return false;
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        return cJSON_ReplaceItemInObjectCaseSensitive(obj, key, v);
    return cJSON_AddItemToObject(obj, key, v);
}

/* Which counter a hook's event goes to, from its "type" member. */
static enum sender_event_type hook_event_type(const cJSON *obj)
{
    static const struct { const char *prefix; enum sender_event_type t; } types[] = {
        {"snmp", SENDER_EV_SNMP}, {"trap", SENDER_EV_TRAP}, {"topology", SENDER_EV_TOPOLOGY},
        {"sensor", SENDER_EV_SENSOR}, {"flow", SENDER_EV_FLOW}};
    const char *t = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "type"));
    for (size_t i = 0; t && i < sizeof types / sizeof types[0]; i++)
        if (strncmp(t, types[i].prefix, strlen(types[i].prefix)) == 0)
            return types[i].t;
    return SENDER_EV_OTHER;
}

/* A hook's event: add the common fields, then serialize like any other. */
static void append_hook(sender *s, cJSON *obj)
{
    enum sender_event_type type = hook_event_type(obj);
    stat_add(&s->by_type[type], 1);
    int r = s->http ? delivery_route_for(s->delivery, type == SENDER_EV_FLOW) : 0;
    if (r < 0 && !s->kafka && !s->stream) {
        cJSON_Delete(obj);
        delivery_count_unrouted(s->delivery, 1);
        return;
    }
    if (r < 0)
        r = HTTP_ROUTES;    /* no HTTP endpoint for this type, another output takes it: the scratch buffer */
    unsigned route = (unsigned)r;
    char id[sizeof s->id_prefix + 24], ts[40];
    next_event_id(s, id, sizeof id);
    bool ok = cJSON_IsObject(obj) && set_string(obj, "event_id", id);
    if (ok && !cJSON_GetObjectItemCaseSensitive(obj, "schema_version"))
        ok = cJSON_AddNumberToObject(obj, "schema_version", EVENT_SCHEMA_VERSION) != NULL;
    if (ok && !cJSON_GetObjectItemCaseSensitive(obj, "hostname"))
        ok = cJSON_AddStringToObject(obj, "hostname", s->ctx.hostname ? s->ctx.hostname : "") != NULL;
    if (ok && s->ctx.sensor_id && !cJSON_GetObjectItemCaseSensitive(obj, "sensor_id"))
        ok = cJSON_AddStringToObject(obj, "sensor_id", s->ctx.sensor_id) != NULL;
    if (ok && !cJSON_GetObjectItemCaseSensitive(obj, "timestamp"))
        ok = cJSON_AddStringToObject(obj, "timestamp", timefmt_rfc3339(timefmt_now_us(), 3, ts, sizeof ts)) != NULL;
    if (!ok) {
        cJSON_Delete(obj);
        stat_add(&s->json_errors, 1);
        return;
    }
    append_json(s, route, obj);
}

void sender_follow_addr_signal(sender *s, const hostaddr_signal *sig)
{
    hostaddr_attach(s->hosts, sig);
}

int sender_add_json_ring(sender *s, ring *r, char *err, size_t errlen)
{
    if (!s || !r || ring_slot_size(r) != sizeof(struct sender_json_msg)) {
        snprintf(err, errlen, "sender: a hook ring must hold sender_json_msg slots");
        return -1;
    }
    if (s->njson_rings >= SENDER_MAX_JSON_RINGS) {
        snprintf(err, errlen, "sender: at most %d hook rings", SENDER_MAX_JSON_RINGS);
        return -1;
    }
    s->json_rings[s->njson_rings++] = r;
    return 0;
}

/* Pop and append one burst from every hook ring; returns how many. */
static size_t drain_json_rings(sender *s)
{
    struct sender_json_msg msgs[64];
    size_t got = 0;
    for (size_t i = 0; i < s->njson_rings; i++) {
        uint32_t n = ring_pop_burst(s->json_rings[i], msgs, 64);
        stat_add(&s->events_in, n);
        got += n;
        for (uint32_t k = 0; k < n; k++)
            append_hook(s, msgs[k].obj);
    }
    return got;
}

static void idle_sleep(unsigned us)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)us * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int sender_run(sender *s)
{
    if (!s)
        return -1;
    unsigned idle_us = SENDER_IDLE_MIN_US;
    char err[256];
    if (s->http && delivery_start(s->delivery, err, sizeof err) != 0) {
        log_error("%s", err);
        return -1;
    }
    if (s->kafka && kafka_output_start(s->kafka, err, sizeof err) != 0) {
        log_error("%s", err);
        return -1;
    }
    for (;;) {
        /* Acquire pairs with the release in sender_finish: once we see the flag,
         * every push that preceded it is visible to the pass below. */
        bool finishing = atomic_load_explicit(&s->finish, memory_order_acquire);
        uint64_t now = timefmt_mono_us();
        if (now >= s->hosts_next_us || hostaddr_stale(s->hosts)) { /* stale: topology hook saw an address change */
            (void)hostaddr_refresh(s->hosts); /* keeps the old set on failure */
            s->hosts_next_us = now + SENDER_HOSTS_REFRESH_US;
        }
        if (s->owner && now >= s->owner_next_us) {
            (void)sockowner_refresh(s->owner, now);   /* failures are counted */
            s->owner_next_us = now + SENDER_OWNER_REFRESH_US;
        }
        size_t got = 0;
        for (size_t i = 0; i < s->nrings; i++) {
            uint32_t n = ring_pop_burst_used(s->rings[i], s->burst, sizeof *s->burst, SENDER_BURST,
                                             flow_event_used);
            if (n == 0)
                continue;
            stat_add(&s->events_in, n);
            stat_add(&s->by_type[SENDER_EV_FLOW], n);
            got += n;
            for (uint32_t k = 0; k < n; k++) {
                append_event(s, &s->burst[k]);
                (void)ipfix_export_offer(s->ipfix, &s->burst[k]); /* NULL-safe; a full ring counts the drop */
            }
        }
        got += drain_json_rings(s);
        if (s->stream)
            flush_stream(s);
        for (unsigned r = 0; s->http && r < HTTP_ROUTES; r++)
            if (s->ob[r].n && timefmt_mono_us() - s->ob[r].first_us >= s->interval_us)
                send_batch(s, r);
        if (got) {
            idle_us = SENDER_IDLE_MIN_US;
            continue;
        }
        if (finishing)
            break;
        idle_sleep(idle_us);
        if (idle_us < SENDER_IDLE_MAX_US)
            idle_us = idle_us * 2 > SENDER_IDLE_MAX_US ? SENDER_IDLE_MAX_US : idle_us * 2;
    }
    kafka_output_finish_begin(s->kafka);   /* drains beside HTTP: the shutdown bound is shared, not added */
    if (s->http) {
        send_batch(s, 0);
        send_batch(s, 1);
        delivery_finish(s->delivery);   /* up to AGENT_SHUTDOWN_TIMEOUT, then spool or drop */
    }
    ipfix_export_finish(s->ipfix);   /* sends what it holds; a dead collector only costs counted drops */
    if (s->stream)
        flush_stream(s);
    kafka_output_finish(s->kafka);      /* the same bound, then spool or drop */

    struct sender_stats st;
    sender_get_stats(s, &st);
    if (s->http) {
        const struct delivery_stats *d = &st.delivery;
        log_info("sender: done: %" PRIu64 " events delivered (%" PRIu64 " replayed from the spool), %" PRIu64
                 " spooled, %" PRIu64 " dropped (queue_full=%" PRIu64 " spool_full=%" PRIu64 " spool_error=%" PRIu64
                 " rejected=%" PRIu64 " shutdown=%" PRIu64 " undeliverable=%" PRIu64 " dead_lettered=%" PRIu64
                 " unrouted=%" PRIu64 " unserializable=%" PRIu64 "), %" PRIu64 " waiting in the spool",
                 d->events_sent, d->events_replayed, d->events_spooled, st.events_failed, d->dropped_queue_full,
                 d->dropped_spool_full, d->dropped_spool_error, d->dropped_rejected, d->dropped_shutdown,
                 d->dropped_undeliverable, d->events_dead_lettered, d->dropped_unrouted,
                 st.json_errors, d->spool_events);
    } else if (s->stream) {
        log_info("sender: done: %" PRIu64 " events written, %" PRIu64 " lost to write errors, %" PRIu64
                 " not serializable", st.events_sent, st.events_failed, st.json_errors);
    }
    return 0;
}
