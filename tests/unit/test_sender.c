/*
 * test_sender.c — the sender stage end to end on loopback.
 *
 * Stdout mode writes into a tmpfile; HTTP mode posts to a small HTTP/1.1
 * receiver that lives in this file (a thread polling 127.0.0.1:<ephemeral>,
 * reading headers plus a Content-Length body, answering with a fixed status
 * and keeping connections alive), which records every request and the
 * connection it came on, so the tests can check bodies, headers, batching and
 * keep-alive exactly. The sender runs on its own thread as in the sensor.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "common/log.h"
#include "common/ring.h"
#include "config/config.h"
#include "models/flow_event.h"
#include "sender/sender.h"

#ifndef TRACER_VERSION
#define TRACER_VERSION "0.0.0"
#endif

/* ---- a tiny HTTP/1.1 receiver ------------------------------------------ */

#define SRV_MAX_CONN 8
#define SRV_MAX_REQ  256

struct srv_req {
    int conn;          /* connection number, from 1 in accept order */
    char *head;        /* request line + headers, NUL-terminated */
    char *body;        /* NUL-terminated copy of the body */
    size_t body_len;
};

struct srv_conn {
    int fd;
    int id;
    char *buf;
    size_t len, cap;
};

struct srv {
    int lfd;
    uint16_t port;
    int status;                    /* status code of every reply */
    atomic_bool stop;
    pthread_t th;
    pthread_mutex_t mu;            /* guards reqs/nreqs/nconn */
    struct srv_req reqs[SRV_MAX_REQ];
    size_t nreqs;
    int nconn;
    struct srv_conn conns[SRV_MAX_CONN];
};

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 500: return "Internal Server Error";
    default:  return "Status";
    }
}

/* Parse as many complete requests as `c` holds; reply to each. */
static int srv_serve(struct srv *sv, struct srv_conn *c)
{
    for (;;) {
        if (c->len == 0)
            return 0;
        char *end = NULL;
        for (size_t i = 0; i + 3 < c->len; i++)
            if (memcmp(c->buf + i, "\r\n\r\n", 4) == 0) {
                end = c->buf + i;
                break;
            }
        if (!end)
            return 0;
        size_t head_len = (size_t)(end - c->buf);
        size_t cl = 0;
        for (char *p = c->buf; p < end; p++) {
            if ((p == c->buf || p[-1] == '\n') && strncasecmp(p, "content-length:", 15) == 0)
                cl = strtoul(p + 15, NULL, 10);
        }
        if (c->len < head_len + 4 + cl)
            return 0;
        pthread_mutex_lock(&sv->mu);
        if (sv->nreqs < SRV_MAX_REQ) {
            struct srv_req *r = &sv->reqs[sv->nreqs++];
            r->conn = c->id;
            r->head = strndup(c->buf, head_len);
            r->body = strndup(c->buf + head_len + 4, cl);
            r->body_len = cl;
        }
        pthread_mutex_unlock(&sv->mu);
        char resp[128];
        int n = snprintf(resp, sizeof resp, "HTTP/1.1 %d %s\r\nContent-Length: 0\r\n\r\n",
                         sv->status, reason_phrase(sv->status));
        if (send(c->fd, resp, (size_t)n, MSG_NOSIGNAL) != n)
            return -1;
        size_t used = head_len + 4 + cl;
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
    }
}

static void srv_close_conn(struct srv_conn *c)
{
    close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

static void *srv_main(void *arg)
{
    struct srv *sv = arg;
    while (!atomic_load(&sv->stop)) {
        struct pollfd pfd[SRV_MAX_CONN + 1];
        int idx[SRV_MAX_CONN + 1];
        nfds_t n = 0;
        pfd[n].fd = sv->lfd;
        pfd[n].events = POLLIN;
        idx[n++] = -1;
        for (int i = 0; i < SRV_MAX_CONN; i++)
            if (sv->conns[i].fd >= 0) {
                pfd[n].fd = sv->conns[i].fd;
                pfd[n].events = POLLIN;
                idx[n++] = i;
            }
        if (poll(pfd, n, 20) <= 0)
            continue;
        for (nfds_t k = 0; k < n; k++) {
            if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (idx[k] < 0) {
                int fd = accept(sv->lfd, NULL, NULL);
                if (fd < 0)
                    continue;
                int slot = -1;
                for (int i = 0; i < SRV_MAX_CONN; i++)
                    if (sv->conns[i].fd < 0) {
                        slot = i;
                        break;
                    }
                if (slot < 0) {
                    close(fd);
                    continue;
                }
                pthread_mutex_lock(&sv->mu);
                sv->conns[slot].id = ++sv->nconn;
                pthread_mutex_unlock(&sv->mu);
                sv->conns[slot].fd = fd;
                continue;
            }
            struct srv_conn *c = &sv->conns[idx[k]];
            if (c->cap - c->len < 4096) {
                size_t cap = c->cap ? c->cap * 2 : 8192;
                char *b = realloc(c->buf, cap);
                if (!b) {
                    srv_close_conn(c);
                    continue;
                }
                c->buf = b;
                c->cap = cap;
            }
            ssize_t got = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
            if (got <= 0) {
                srv_close_conn(c);
                continue;
            }
            c->len += (size_t)got;
            if (srv_serve(sv, c) != 0)
                srv_close_conn(c);
        }
    }
    return NULL;
}

static void srv_start(struct srv *sv, int status)
{
    memset(sv, 0, sizeof *sv);
    for (int i = 0; i < SRV_MAX_CONN; i++)
        sv->conns[i].fd = -1;
    sv->status = status;
    atomic_init(&sv->stop, false);
    pthread_mutex_init(&sv->mu, NULL);
    sv->lfd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(sv->lfd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = 0;
    assert_int_equal(bind(sv->lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(sv->lfd, 16), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(sv->lfd, (struct sockaddr *)&sa, &sl), 0);
    sv->port = ntohs(sa.sin_port);
    assert_int_equal(pthread_create(&sv->th, NULL, srv_main, sv), 0);
}

static void srv_stop(struct srv *sv)
{
    atomic_store(&sv->stop, true);
    pthread_join(sv->th, NULL);
    for (int i = 0; i < SRV_MAX_CONN; i++)
        if (sv->conns[i].fd >= 0)
            srv_close_conn(&sv->conns[i]);
    close(sv->lfd);
}

static void srv_free(struct srv *sv)
{
    for (size_t i = 0; i < sv->nreqs; i++) {
        free(sv->reqs[i].head);
        free(sv->reqs[i].body);
    }
    pthread_mutex_destroy(&sv->mu);
}

static size_t srv_nreqs(struct srv *sv)
{
    pthread_mutex_lock(&sv->mu);
    size_t n = sv->nreqs;
    pthread_mutex_unlock(&sv->mu);
    return n;
}

/* Value of header `name` in `head` (case-insensitive name), copied into out. */
static const char *header(const char *head, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *p = head; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
            const char *v = p + nl + 1;
            while (*v == ' ')
                v++;
            size_t n = strcspn(v, "\r\n");
            if (n >= outlen)
                n = outlen - 1;
            memcpy(out, v, n);
            out[n] = '\0';
            return out;
        }
    }
    return NULL;
}

/* ---- helpers ---------------------------------------------------------- */

struct run_arg {
    sender *s;
    int rc;
};

static void *run_thread(void *arg)
{
    struct run_arg *ra = arg;
    ra->rc = sender_run(ra->s);
    return NULL;
}

static struct flow_event make_event(unsigned i)
{
    struct flow_event ev;
    memset(&ev, 0, sizeof ev);
    ev.ip_version = 4;
    ev.src_ip[0] = 10;
    ev.src_ip[3] = 1;
    ev.dst_ip[0] = 10;
    ev.dst_ip[3] = 2;
    ev.src_port = (uint16_t)(10000 + i);
    ev.dst_port = 80;
    ev.protocol = 6;
    ev.first_us = 1700000000000000ULL + i;
    ev.last_us = ev.first_us + 1000;
    ev.src_packets = 1;
    ev.src_bytes = 60;
    ev.src_tcp_flags = 0x02;
    ev.end_reason = FLOW_END_IDLE;
    ev.final = 1;
    return ev;
}

static void push_events(ring *r, unsigned from, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        struct flow_event ev = make_event(from + i);
        while (ring_push_burst(r, &ev, 1) != 1) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
    }
}

static const struct flow_event_ctx test_ctx = {.interface = "lo", .hostname = "test-host"};

/* event_id is "<16 lowercase hex>-<decimal from 1>"; returns the sequence. */
static unsigned long check_event_id(const char *id, char prefix[17])
{
    assert_non_null(id);
    assert_true(strlen(id) > 17);
    for (int i = 0; i < 16; i++)
        assert_non_null(strchr("0123456789abcdef", id[i]));
    assert_int_equal(id[16], '-');
    char *end = NULL;
    unsigned long seq = strtoul(id + 17, &end, 10);
    assert_int_equal(*end, '\0');
    assert_true(seq >= 1);
    if (prefix[0] == '\0')
        memcpy(prefix, id, 16);
    else
        assert_memory_equal(prefix, id, 16);
    return seq;
}

/* Run a sender over `r` until finish; the events were pushed before. */
static void run_to_end(sender *s)
{
    pthread_t th;
    struct run_arg ra = {.s = s, .rc = -99};
    assert_int_equal(pthread_create(&th, NULL, run_thread, &ra), 0);
    sender_finish(s);
    pthread_join(th, NULL);
    assert_int_equal(ra.rc, 0);
}

/* ---- tests ------------------------------------------------------------ */

static void test_stdout_three_lines(void **state)
{
    (void)state;
    char err[256] = "";
    FILE *f = tmpfile();
    assert_non_null(f);
    ring *r = ring_create(1024, sizeof(struct flow_event), err, sizeof err);
    assert_non_null(r);
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.batch_size = 100;
    cfg.send_interval_ms = 1000;
    sender *s = sender_create(&cfg, &r, 1, &test_ctx, f, err, sizeof err);
    assert_non_null(s);

    pthread_t th;
    struct run_arg ra = {.s = s, .rc = -99};
    assert_int_equal(pthread_create(&th, NULL, run_thread, &ra), 0);
    push_events(r, 0, 3);
    sender_finish(s);
    pthread_join(th, NULL);
    assert_int_equal(ra.rc, 0);

    rewind(f);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lines = 0;
    char ids[3][64];
    char prefix[17] = "";
    while ((n = getline(&line, &cap, f)) > 0) {
        assert_true(lines < 3);
        assert_int_equal(line[n - 1], '\n');
        assert_null(memchr(line, '\n', (size_t)n - 1));   /* one object per line */
        cJSON *o = cJSON_Parse(line);
        assert_non_null(o);
        assert_true(cJSON_IsObject(o));
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "type")->valuestring, "flow");
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "hostname")->valuestring, "test-host");
        const char *id = cJSON_GetObjectItemCaseSensitive(o, "event_id")->valuestring;
        assert_int_equal(check_event_id(id, prefix), (unsigned long)lines + 1);
        snprintf(ids[lines], sizeof ids[lines], "%s", id);
        cJSON_Delete(o);
        lines++;
    }
    free(line);
    assert_int_equal(lines, 3);
    assert_string_not_equal(ids[0], ids[1]);
    assert_string_not_equal(ids[0], ids[2]);
    assert_string_not_equal(ids[1], ids[2]);

    struct sender_stats st;
    sender_get_stats(s, &st);
    assert_int_equal(st.events_in, 3);
    assert_int_equal(st.events_sent, 3);
    assert_int_equal(st.events_failed, 0);
    assert_int_equal(st.json_errors, 0);
    sender_destroy(s);
    ring_destroy(r);
    fclose(f);
}

/* Two producers keep pushing while the sender drains: every event comes out
 * exactly once, with distinct ids, before run returns. */
struct prod_arg {
    ring *r;
    unsigned from, n;
};

static void *producer(void *arg)
{
    struct prod_arg *pa = arg;
    push_events(pa->r, pa->from, pa->n);
    return NULL;
}

static void test_stdout_two_rings_concurrent(void **state)
{
    (void)state;
    enum { PER_RING = 3000 };
    char err[256] = "";
    FILE *f = tmpfile();
    assert_non_null(f);
    ring *rings[2];
    for (int i = 0; i < 2; i++) {
        rings[i] = ring_create(256, sizeof(struct flow_event), err, sizeof err);
        assert_non_null(rings[i]);
    }
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    sender *s = sender_create(&cfg, rings, 2, &test_ctx, f, err, sizeof err);
    assert_non_null(s);

    pthread_t th, p[2];
    struct run_arg ra = {.s = s, .rc = -99};
    struct prod_arg pa[2] = {{rings[0], 0, PER_RING}, {rings[1], 30000, PER_RING}};
    assert_int_equal(pthread_create(&th, NULL, run_thread, &ra), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&p[i], NULL, producer, &pa[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(p[i], NULL);
    sender_finish(s);
    pthread_join(th, NULL);
    assert_int_equal(ra.rc, 0);

    rewind(f);
    static unsigned char seen[2 * PER_RING + 1];
    memset(seen, 0, sizeof seen);
    char *line = NULL;
    size_t cap = 0;
    int lines = 0;
    char prefix[17] = "";
    while (getline(&line, &cap, f) > 0) {
        cJSON *o = cJSON_Parse(line);
        assert_non_null(o);
        unsigned long seq = check_event_id(
            cJSON_GetObjectItemCaseSensitive(o, "event_id")->valuestring, prefix);
        assert_true(seq <= 2 * PER_RING);
        assert_int_equal(seen[seq], 0);
        seen[seq] = 1;
        cJSON_Delete(o);
        lines++;
    }
    free(line);
    assert_int_equal(lines, 2 * PER_RING);
    struct sender_stats st;
    sender_get_stats(s, &st);
    assert_int_equal(st.events_in, 2 * PER_RING);
    assert_int_equal(st.events_sent, 2 * PER_RING);
    sender_destroy(s);
    for (int i = 0; i < 2; i++)
        ring_destroy(rings[i]);
    fclose(f);
}

/* direction comes from the host's addresses: loopback is always ours. */
static void test_stdout_direction(void **state)
{
    (void)state;
    char err[256] = "";
    FILE *f = tmpfile();
    assert_non_null(f);
    ring *r = ring_create(64, sizeof(struct flow_event), err, sizeof err);
    assert_non_null(r);
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    sender *s = sender_create(&cfg, &r, 1, &test_ctx, f, err, sizeof err);
    assert_non_null(s);
    static const uint8_t lo[4] = {127, 0, 0, 1}, other[4] = {192, 0, 2, 1};
    const uint8_t *pairs[4][2] = {{lo, other}, {other, lo}, {lo, lo}, {other, other}};
    const char *want[4] = {"outbound", "inbound", "local", "unknown"};
    for (int i = 0; i < 4; i++) {
        struct flow_event ev = make_event((unsigned)i);
        memcpy(ev.src_ip, pairs[i][0], 4);
        memcpy(ev.dst_ip, pairs[i][1], 4);
        assert_true(ring_push(r, &ev));
    }
    run_to_end(s);
    rewind(f);
    char *line = NULL;
    size_t cap = 0;
    int i = 0;
    while (getline(&line, &cap, f) > 0) {
        assert_true(i < 4);
        cJSON *o = cJSON_Parse(line);
        assert_non_null(o);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "direction")->valuestring, want[i]);
        cJSON_Delete(o);
        i++;
    }
    free(line);
    assert_int_equal(i, 4);
    sender_destroy(s);
    ring_destroy(r);
    fclose(f);
}

/* AGENT_LOCAL_NETWORKS decides instead of the host's addresses (SPAN/TAP, files): v4 and v6. */
static void test_stdout_direction_local_networks(void **state)
{
    (void)state;
    char err[256] = "";
    FILE *f = tmpfile();
    assert_non_null(f);
    ring *r = ring_create(64, sizeof(struct flow_event), err, sizeof err);
    assert_non_null(r);
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    char nets[] = "10.0.0.0/8,fd00::/8";
    cfg.local_networks = nets;
    sender *s = sender_create(&cfg, &r, 1, &test_ctx, f, err, sizeof err);
    assert_non_null(s);
    static const struct { int v; const char *src, *dst, *want; } cases[] = {
        {4, "10.1.2.3", "198.51.100.1", "outbound"}, {4, "198.51.100.1", "10.1.2.3", "inbound"},
        {4, "10.1.2.3", "10.9.9.9", "local"},        {4, "198.51.100.1", "203.0.113.5", "unknown"},
        {4, "127.0.0.1", "127.0.0.1", "unknown"},    /* the host's own address is not in the list */
        {6, "fd00::1", "2001:db8::1", "outbound"},   {6, "2001:db8::1", "fd12::5", "inbound"},
        {6, "fd00::1", "fdff::2", "local"},          {6, "2001:db8::1", "::1", "unknown"},
    };
    const size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++) {
        struct flow_event ev = make_event((unsigned)i);
        ev.ip_version = (uint8_t)cases[i].v;
        memset(ev.src_ip, 0, sizeof ev.src_ip);
        memset(ev.dst_ip, 0, sizeof ev.dst_ip);
        assert_int_equal(inet_pton(cases[i].v == 4 ? AF_INET : AF_INET6, cases[i].src, ev.src_ip), 1);
        assert_int_equal(inet_pton(cases[i].v == 4 ? AF_INET : AF_INET6, cases[i].dst, ev.dst_ip), 1);
        assert_true(ring_push(r, &ev));
    }
    run_to_end(s);
    rewind(f);
    char *line = NULL;
    size_t cap = 0;
    size_t i = 0;
    while (getline(&line, &cap, f) > 0) {
        assert_true(i < n);
        cJSON *o = cJSON_Parse(line);
        assert_non_null(o);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "src_ip")->valuestring, cases[i].src);
        if (strcmp(cJSON_GetObjectItemCaseSensitive(o, "direction")->valuestring, cases[i].want) != 0)
            fail_msg("%s -> %s: %s, want %s", cases[i].src, cases[i].dst,
                     cJSON_GetObjectItemCaseSensitive(o, "direction")->valuestring, cases[i].want);
        cJSON_Delete(o);
        i++;
    }
    free(line);
    assert_int_equal(i, n);
    sender_destroy(s);
    ring_destroy(r);
    fclose(f);

    /* a bad list (config.c refuses it first) fails the sender's creation with the reason */
    char bad[] = "10.0.0.0/33";
    cfg.local_networks = bad;
    ring *r2 = ring_create(64, sizeof(struct flow_event), err, sizeof err);
    assert_non_null(r2);
    assert_null(sender_create(&cfg, &r2, 1, &test_ctx, stdout, err, sizeof err));
    assert_string_equal(err, "\"10.0.0.0/33\": prefix length must be in [0, 32]");
    ring_destroy(r2);
}

/* Delivery settings as config.c's defaults, but a short retry and shutdown. */
static void delivery_defaults(struct config *cfg)
{
    cfg->retry_base_ms = 50;
    cfg->retry_max_ms = 100;
    cfg->connect_timeout_ms = 2000;
    cfg->request_timeout_ms = 5000;
    cfg->queue_max_events = 100000;
    cfg->spool_after_ms = 5000;
    cfg->shutdown_timeout_ms = 400;
    cfg->http_connections = 1;   /* one connection: these tests check order and keep-alive */
}

static sender *http_sender(struct srv *sv, ring *r, uint32_t batch, uint32_t interval_ms,
                           char *token, char *url, size_t urllen)
{
    char err[256] = "";
    snprintf(url, urllen, "http://127.0.0.1:%u/ingest", (unsigned)sv->port);
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    delivery_defaults(&cfg);
    cfg.endpoint_url = url;
    cfg.batch_size = batch;
    cfg.http_body = batch > 1 ? CFG_BODY_ARRAY : CFG_BODY_OBJECT;   /* arrays are chosen explicitly */
    cfg.send_interval_ms = interval_ms;
    cfg.auth_token = token;
    sender *s = sender_create(&cfg, &r, 1, &test_ctx, NULL, err, sizeof err);
    if (!s)
        fail_msg("sender_create: %s", err);
    return s;
}

static void test_http_batch1_objects_and_headers(void **state)
{
    (void)state;
    struct srv sv;
    srv_start(&sv, 200);
    char err[256], url[128], tok[] = "t0k";
    ring *r = ring_create(1024, sizeof(struct flow_event), err, sizeof err);
    assert_non_null(r);
    sender *s = http_sender(&sv, r, 1, 1000, tok, url, sizeof url);
    push_events(r, 0, 3);
    run_to_end(s);
    srv_stop(&sv);

    assert_int_equal(sv.nreqs, 3);
    char prefix[17] = "";
    for (size_t i = 0; i < 3; i++) {
        const struct srv_req *q = &sv.reqs[i];
        char v[256];
        assert_int_equal(strncmp(q->head, "POST /ingest HTTP/1.1\r\n", 23), 0);
        assert_non_null(header(q->head, "Content-Type", v, sizeof v));
        assert_string_equal(v, "application/json");
        assert_non_null(header(q->head, "Authorization", v, sizeof v));
        assert_string_equal(v, "Bearer t0k");
        assert_non_null(header(q->head, "User-Agent", v, sizeof v));
        assert_string_equal(v, "tracer-sensor/" TRACER_VERSION);
        assert_null(header(q->head, "Expect", v, sizeof v));
        cJSON *o = cJSON_Parse(q->body);
        assert_non_null(o);
        assert_true(cJSON_IsObject(o));   /* go-Tracer's form: a bare object */
        assert_int_equal(check_event_id(
                             cJSON_GetObjectItemCaseSensitive(o, "event_id")->valuestring, prefix),
                         (unsigned long)i + 1);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(o, "src_port")->valuestring,
                            i == 0 ? "10000" : i == 1 ? "10001" : "10002");
        cJSON_Delete(o);
        assert_int_equal(q->conn, 1);     /* keep-alive */
    }
    assert_int_equal(sv.nconn, 1);
    struct sender_stats st;
    sender_get_stats(s, &st);
    assert_int_equal(st.events_sent, 3);
    assert_int_equal(st.batches_sent, 3);
    assert_int_equal(st.events_failed, 0);
    sender_destroy(s);
    ring_destroy(r);
    srv_free(&sv);
}

static void test_http_batch2_arrays(void **state)
{
    (void)state;
    struct srv sv;
    srv_start(&sv, 200);
    char err[256], url[128];
    ring *r = ring_create(1024, sizeof(struct flow_event), err, sizeof err);
    assert_non_null(r);
    sender *s = http_sender(&sv, r, 2, 60000, NULL, url, sizeof url);
    push_events(r, 0, 5);
    run_to_end(s);
    srv_stop(&sv);

    assert_int_equal(sv.nreqs, 3);
    const int sizes[3] = {2, 2, 1};
    char prefix[17] = "";
    unsigned long want = 1;
    for (size_t i = 0; i < 3; i++) {
        char v[64];
        assert_null(header(sv.reqs[i].head, "Authorization", v, sizeof v));
        assert_non_null(header(sv.reqs[i].head, "Content-Type", v, sizeof v));
        assert_string_equal(v, "application/json");
        cJSON *a = cJSON_Parse(sv.reqs[i].body);
        assert_non_null(a);
        assert_true(cJSON_IsArray(a));
        assert_int_equal(cJSON_GetArraySize(a), sizes[i]);
        for (const cJSON *o = a->child; o; o = o->next) {
            assert_true(cJSON_IsObject(o));
            assert_int_equal(check_event_id(
                                 cJSON_GetObjectItemCaseSensitive(o, "event_id")->valuestring, prefix),
                             want++);
        }
        cJSON_Delete(a);
        assert_int_equal(sv.reqs[i].conn, 1);
    }
    assert_int_equal(sv.nconn, 1);   /* all three POSTs on one TCP connection */
    struct sender_stats st;
    sender_get_stats(s, &st);
    assert_int_equal(st.events_in, 5);
    assert_int_equal(st.events_sent, 5);
    assert_int_equal(st.batches_sent, 3);
    assert_int_equal(st.batches_failed, 0);
    sender_destroy(s);
    ring_destroy(r);
    srv_free(&sv);
}

/* A batch that never fills goes out once the interval has passed. */
static void test_http_interval(void **state)
{
    (void)state;
    struct srv sv;
    srv_start(&sv, 200);
    char err[256], url[128];
    ring *r = ring_create(1024, sizeof(struct flow_event), err, sizeof err);
    assert_non_null(r);
    sender *s = http_sender(&sv, r, 100, 50, NULL, url, sizeof url);
    pthread_t th;
    struct run_arg ra = {.s = s, .rc = -99};
    assert_int_equal(pthread_create(&th, NULL, run_thread, &ra), 0);
    push_events(r, 0, 2);
    for (int i = 0; i < 300 && srv_nreqs(&sv) < 1; i++) {
        struct timespec ts = {0, 10 * 1000000L};
        nanosleep(&ts, NULL);
    }
    assert_int_equal(srv_nreqs(&sv), 1);   /* sent before finish: by the interval */
    sender_finish(s);
    pthread_join(th, NULL);
    assert_int_equal(ra.rc, 0);
    srv_stop(&sv);
    cJSON *a = cJSON_Parse(sv.reqs[0].body);
    assert_non_null(a);
    assert_true(cJSON_IsArray(a));
    assert_int_equal(cJSON_GetArraySize(a), 2);
    cJSON_Delete(a);
    assert_int_equal(sv.nreqs, 1);
    sender_destroy(s);
    ring_destroy(r);
    srv_free(&sv);
}

static void test_http_500_counts_failures(void **state)
{
    (void)state;
    struct srv sv;
    srv_start(&sv, 500);
    char err[256], url[128];
    ring *r = ring_create(1024, sizeof(struct flow_event), err, sizeof err);
    assert_non_null(r);
    sender *s = http_sender(&sv, r, 2, 60000, NULL, url, sizeof url);
    push_events(r, 0, 5);
    run_to_end(s);
    srv_stop(&sv);
    /* 500 is retried: the first batch first; a failing request does not
     * block the ones behind it, so the first three requests are the three
     * batches in order; then (the endpoint is down) one probe at a time, each
     * one of the three, until the shutdown timeout drops all three batches
     * (no spool), counted. */
    assert_true(sv.nreqs >= 3);
    for (size_t i = 1; i < sv.nreqs && i < SRV_MAX_REQ; i++) {
        bool known = false;
        for (size_t k = 0; k < 3; k++)
            known = known || strcmp(sv.reqs[i].body, sv.reqs[k].body) == 0;
        assert_true(known);
    }
    assert_string_not_equal(sv.reqs[0].body, sv.reqs[1].body);
    assert_string_not_equal(sv.reqs[1].body, sv.reqs[2].body);
    struct sender_stats st;
    sender_get_stats(s, &st);
    assert_int_equal(st.events_in, 5);
    assert_int_equal(st.events_sent, 0);
    assert_int_equal(st.events_failed, 5);
    assert_int_equal(st.batches_sent, 0);
    assert_int_equal(st.delivery.dropped_shutdown, 5);
    assert_int_equal(st.delivery.retries, sv.nreqs);
    assert_int_equal(st.delivery.http_5xx, sv.nreqs);
    assert_int_equal(st.delivery.events_queued, 5);
    assert_int_equal(st.delivery.batches_queued, 3);
    sender_destroy(s);
    ring_destroy(r);
    srv_free(&sv);
}

/* Nobody listening: a network error is counted per batch, never lost. */
static void test_http_refused_counts_failures(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    close(fd);   /* the port is now (almost certainly) closed */

    char err[256] = "", url[160];
    snprintf(url, sizeof url, "http://user:secret@127.0.0.1:%u/ingest?key=secret",
             (unsigned)ntohs(sa.sin_port));
    ring *r = ring_create(1024, sizeof(struct flow_event), err, sizeof err);
    assert_non_null(r);
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    delivery_defaults(&cfg);
    cfg.endpoint_url = url;
    cfg.batch_size = 1;
    cfg.send_interval_ms = 1000;
    sender *s = sender_create(&cfg, &r, 1, &test_ctx, NULL, err, sizeof err);
    assert_non_null(s);
    push_events(r, 0, 2);
    run_to_end(s);
    struct sender_stats st;
    sender_get_stats(s, &st);
    assert_int_equal(st.events_sent, 0);
    assert_int_equal(st.events_failed, 2);
    assert_int_equal(st.delivery.dropped_shutdown, 2);
    assert_true(st.delivery.network_errors >= 1);
    assert_int_equal(st.delivery.retries, st.delivery.network_errors);
    sender_destroy(s);
    ring_destroy(r);
}

static void test_create_rejects_bad_input(void **state)
{
    (void)state;
    char err[256] = "";
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    ring *bad = ring_create(64, 8, err, sizeof err);
    assert_non_null(bad);
    assert_null(sender_create(&cfg, &bad, 1, &test_ctx, stdout, err, sizeof err));
    assert_non_null(strstr(err, "flow_event"));
    ring *good = ring_create(64, sizeof(struct flow_event), err, sizeof err);
    assert_non_null(good);
    err[0] = '\0';
    assert_null(sender_create(&cfg, &good, 1, &test_ctx, NULL, err, sizeof err));
    assert_true(err[0] != '\0');
    sender_destroy(NULL);
    ring_destroy(bad);
    ring_destroy(good);
}

static int group_setup(void **state)
{
    (void)state;
    log_set_level(LOG_ERROR);   /* the failure tests warn on purpose */
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

static int group_teardown(void **state)
{
    (void)state;
    curl_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stdout_three_lines),
        cmocka_unit_test(test_stdout_two_rings_concurrent),
        cmocka_unit_test(test_stdout_direction),
        cmocka_unit_test(test_stdout_direction_local_networks),
        cmocka_unit_test(test_http_batch1_objects_and_headers),
        cmocka_unit_test(test_http_batch2_arrays),
        cmocka_unit_test(test_http_interval),
        cmocka_unit_test(test_http_500_counts_failures),
        cmocka_unit_test(test_http_refused_counts_failures),
        cmocka_unit_test(test_create_rejects_bad_input),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
