/*
 * ping.c — the reachability-check hook (see ping.h).
 *
 * One thread, one mutex. The thread holds `mu` while it works (sending due
 * probes, matching replies, finishing rounds, pushing events) and releases it
 * only to wait in poll() on the two ICMP sockets and a wake-up pipe. reload()
 * parses and resolves the new file without the lock, then takes it just to
 * swap the target table, and writes to the pipe so that the thread recomputes
 * its next deadline. The hook's ring has one producer: the thread.
 *
 * Matching a reply: the source address must be the target's, the data must
 * carry this hook's random token, a key of a current target, that target's
 * current round and a probe index sent in it with the same sequence number
 * (and, on a raw socket, our identifier). Anything else is counted and
 * dropped. RTTs are measured with CLOCK_MONOTONIC in this thread, not taken
 * from the packet.
 */
#define _GNU_SOURCE 1   /* pipe2, ICMP6_FILTER macros */
#include "ping.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/icmp.h>
#include <math.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../../common/caps.h"
#include "../../common/log.h"
#include "../../common/timefmt.h"
#include "../../config/config.h"
#include "ping_config.h"
#include "ping_packet.h"
#include "ping_stats.h"

#define PING_RECV_BATCH 256        /* packets read per socket and wake-up, so one flood cannot starve sends */
#define PING_BUF        2048       /* IPv4 header + ICMP; larger packets are truncated (counted bad) */

enum ping_mode { PING_MODE_AUTO = 0, PING_MODE_RAW, PING_MODE_DGRAM };

struct tstate {
    const struct ping_target *t;   /* into p->cfg */
    uint32_t key;
    uint32_t round;
    bool in_round;
    uint64_t next_round_us;        /* monotonic */
    uint64_t round_wall_us;        /* wall time the round began (start_time) */
    uint32_t nsent;                /* probes of this round handled so far (sent or failed) */
    uint64_t next_probe_us;
    uint32_t send_errors;
    int last_errno;
    uint64_t *sent_us;             /* count entries each */
    uint32_t *rtt_us;
    uint16_t *seq;
    bool *got;
    bool *tried;                   /* handed to the kernel (not failed) */
};

struct sock {
    int fd;                        /* -1: none (err says why) */
    bool raw;
    uint16_t seq;                  /* next sequence number */
    char err[160];
};

struct ping_hook {
    enum ping_mode mode;
    struct sock s4, s6;
    uint16_t ident;                /* echo identifier on raw sockets */
    uint8_t token[PING_TOKEN_LEN];
    int wake[2];                   /* pipe: reload and stop wake the thread */
    pthread_mutex_t mu;            /* guards cfg, ts, nts, next_key, stopping */
    struct ping_config *cfg;
    struct tstate *ts;
    size_t nts;
    uint32_t next_key;
    bool stopping;
    pthread_t thread;
    bool started;
    ring *out;
    _Atomic uint64_t probes_sent, replies, timeouts, send_errors, late_replies, bad_replies, foreign_replies,
        rounds, rounds_dropped, events_dropped, reloads, reload_failures, ntargets;
};

static void inc(_Atomic uint64_t *c, uint64_t n) { atomic_fetch_add_explicit(c, n, memory_order_relaxed); }
static uint64_t get(_Atomic uint64_t *c) { return atomic_load_explicit(c, memory_order_relaxed); }

static void ts_free(struct tstate *s)
{
    free(s->sent_us);
    free(s->rtt_us);
    free(s->seq);
    free(s->got);
    free(s->tried);
    memset(s, 0, sizeof *s);
}

/* A fresh state for `t`, first round due at `now`. 0 or -1 (out of memory). */
static int ts_init(struct tstate *s, const struct ping_target *t, uint32_t key, uint64_t now)
{
    memset(s, 0, sizeof *s);
    s->t = t;
    s->key = key;
    s->next_round_us = now;
    s->sent_us = calloc(t->count, sizeof *s->sent_us);
    s->rtt_us = calloc(t->count, sizeof *s->rtt_us);
    s->seq = calloc(t->count, sizeof *s->seq);
    s->got = calloc(t->count, sizeof *s->got);
    s->tried = calloc(t->count, sizeof *s->tried);
    if (!s->sent_us || !s->rtt_us || !s->seq || !s->got || !s->tried) {
        ts_free(s);
        return -1;
    }
    return 0;
}

static struct sock *sock_for(struct ping_hook *p, int family)
{
    return family == AF_INET6 ? &p->s6 : &p->s4;
}

/* ---------------------------------------------------------------- events */

static double round3(double v) { return round(v * 1000.0) / 1000.0; }

static void add_ms(cJSON *o, const char *k, bool valid, double v)
{
    if (valid)
        cJSON_AddNumberToObject(o, k, round3(v));
    else
        cJSON_AddNullToObject(o, k);
}

/* The round's event (NULL when out of memory). */
static cJSON *round_event(const struct ping_hook *p, const struct tstate *s)
{
    const struct ping_target *t = s->t;
    struct ping_summary sum;
    ping_stats_compute(s->rtt_us, s->got, t->count, &sum);
    const struct sock *k = t->family == AF_INET6 ? &p->s6 : &p->s4;
    char ts[40];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    cJSON_AddStringToObject(o, "type", "ping");
    cJSON_AddStringToObject(o, "target", t->name);
    cJSON_AddStringToObject(o, "host", t->host);
    cJSON_AddStringToObject(o, "address", t->address);
    cJSON_AddNumberToObject(o, "ip_version", t->family == AF_INET6 ? 6 : 4);
    cJSON_AddStringToObject(o, "socket", k->fd < 0 ? "none" : k->raw ? "raw" : "datagram");
    cJSON_AddStringToObject(o, "start_time", timefmt_rfc3339(s->round_wall_us, 6, ts, sizeof ts));
    cJSON_AddNumberToObject(o, "interval", t->interval_ms / 1000.0);
    cJSON_AddNumberToObject(o, "timeout_ms", t->timeout_ms);
    cJSON_AddNumberToObject(o, "size", t->size);
    cJSON_AddNumberToObject(o, "sent", sum.sent);
    cJSON_AddNumberToObject(o, "received", sum.received);
    cJSON_AddNumberToObject(o, "loss", round(sum.loss * 1e6) / 1e6);
    add_ms(o, "rtt_min_ms", sum.received > 0, sum.rtt_min);
    add_ms(o, "rtt_avg_ms", sum.received > 0, sum.rtt_avg);
    add_ms(o, "rtt_max_ms", sum.received > 0, sum.rtt_max);
    add_ms(o, "rtt_stddev_ms", sum.received > 0, sum.rtt_stddev);
    add_ms(o, "jitter_ms", sum.received > 1, sum.jitter);
    cJSON_AddNumberToObject(o, "send_errors", s->send_errors);
    if (s->send_errors)
        cJSON_AddStringToObject(o, "error", k->fd < 0 ? k->err : strerror(s->last_errno));
    return o;
}

/* ---------------------------------------------------------------- probes */

static void send_probe(struct ping_hook *p, struct tstate *s, uint64_t now)
{
    const struct ping_target *t = s->t;
    struct sock *k = sock_for(p, t->family);
    uint32_t i = s->nsent++;
    s->next_probe_us += (uint64_t)t->probe_interval_ms * 1000u;
    s->sent_us[i] = now;
    if (k->fd < 0) {
        s->send_errors++;
        inc(&p->send_errors, 1);
        return;
    }
    uint8_t buf[PING_ICMP_HDR + PING_CFG_SIZE_MAX];
    struct ping_tag tag = {.key = s->key, .round = s->round, .probe = (uint16_t)i};
    memcpy(tag.token, p->token, sizeof tag.token);
    uint16_t seq = k->seq++;
    size_t len = ping_packet_build(buf, sizeof buf, t->family == AF_INET6, p->ident, seq, &tag, t->size);
    /* A pending socket error (an ICMP error about another target) would fail this send: read it away. */
    int soerr = 0;
    socklen_t sl = sizeof soerr;
    (void)getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
    s->sent_us[i] = timefmt_mono_us();    /* as close to the send as the RTT can start */
    ssize_t n = len ? sendto(k->fd, buf, len, 0, (const struct sockaddr *)&t->addr, t->addrlen) : -1;
    if (n != (ssize_t)len) {
        s->last_errno = n < 0 ? errno : EMSGSIZE;
        s->send_errors++;
        inc(&p->send_errors, 1);
        return;
    }
    s->seq[i] = seq;
    s->tried[i] = true;
    inc(&p->probes_sent, 1);
}

/* The round is over: every probe handled and answered, or the last one's timeout passed. */
static bool round_over(const struct tstate *s, uint64_t now)
{
    const struct ping_target *t = s->t;
    if (s->nsent < t->count)
        return false;
    for (uint32_t i = 0; i < t->count; i++)
        if (s->tried[i] && !s->got[i] && now < s->sent_us[i] + (uint64_t)t->timeout_ms * 1000u)
            return false;
    return true;
}

/* Advance one target to `now`; returns when it next needs the thread (monotonic µs). */
static uint64_t service(struct ping_hook *p, struct tstate *s, uint64_t now)
{
    const struct ping_target *t = s->t;
    if (!s->in_round && now >= s->next_round_us) {
        s->in_round = true;
        s->round++;
        s->nsent = 0;
        s->send_errors = 0;
        s->next_probe_us = now;
        s->round_wall_us = timefmt_now_us();
        memset(s->got, 0, t->count * sizeof *s->got);
        memset(s->tried, 0, t->count * sizeof *s->tried);
        memset(s->rtt_us, 0, t->count * sizeof *s->rtt_us);
        /* next round: one interval after this one began (the file guarantees a round fits) */
        s->next_round_us += (uint64_t)t->interval_ms * 1000u;
        if (s->next_round_us <= now)
            s->next_round_us = now + (uint64_t)t->interval_ms * 1000u;
    }
    if (!s->in_round)
        return s->next_round_us;
    while (s->nsent < t->count && s->next_probe_us <= now)
        send_probe(p, s, now);
    if (round_over(s, now)) {
        uint32_t answered = 0, tried = 0;
        for (uint32_t i = 0; i < t->count; i++) {
            answered += s->got[i];
            tried += s->tried[i];
        }
        inc(&p->timeouts, tried - answered);
        inc(&p->rounds, 1);
        cJSON *ev = round_event(p, s);
        if (!ev || !hook_emit(p->out, ev))
            inc(&p->events_dropped, 1);
        s->in_round = false;
        return s->next_round_us;
    }
    uint64_t next = UINT64_MAX;
    if (s->nsent < t->count)
        next = s->next_probe_us;
    for (uint32_t i = 0; i < s->nsent; i++) {
        uint64_t dl = s->sent_us[i] + (uint64_t)t->timeout_ms * 1000u;
        if (s->tried[i] && !s->got[i] && dl < next)
            next = dl;
    }
    return next;
}

static bool same_addr(const struct ping_target *t, const struct sockaddr_storage *from)
{
    if (from->ss_family != t->family)
        return false;
    if (t->family == AF_INET)
        return memcmp(&((const struct sockaddr_in *)from)->sin_addr, &((const struct sockaddr_in *)&t->addr)->sin_addr,
                      sizeof(struct in_addr)) == 0;
    return memcmp(&((const struct sockaddr_in6 *)from)->sin6_addr,
                  &((const struct sockaddr_in6 *)&t->addr)->sin6_addr, sizeof(struct in6_addr)) == 0;
}

static void handle_packet(struct ping_hook *p, struct sock *k, bool v6, const uint8_t *buf, size_t len,
                          const struct sockaddr_storage *from, uint64_t now)
{
    struct ping_reply r;
    enum ping_parse kind = ping_packet_parse(buf, len, v6, k->raw && !v6, &r);
    if (kind == PING_PKT_OTHER)
        return;                                    /* not a reply (filtered on raw sockets; ICMP errors) */
    if (kind != PING_PKT_REPLY) {
        inc(&p->bad_replies, 1);
        return;
    }
    if (!r.has_tag || (k->raw && r.id != p->ident) || memcmp(r.tag.token, p->token, PING_TOKEN_LEN) != 0) {
        inc(&p->foreign_replies, 1);
        return;
    }
    struct tstate *s = NULL;
    for (size_t i = 0; i < p->nts && !s; i++)
        if (p->ts[i].key == r.tag.key)
            s = &p->ts[i];
    if (s && !same_addr(s->t, from)) {
        inc(&p->foreign_replies, 1);               /* our tag from another address: not the target's answer */
        return;
    }
    if (!s || s->round != r.tag.round || !s->in_round || r.tag.probe >= s->nsent ||
        !s->tried[r.tag.probe] || s->seq[r.tag.probe] != r.seq) {
        inc(&p->late_replies, 1);                  /* ours, but for a round or target no longer waiting */
        return;
    }
    uint32_t i = r.tag.probe;
    uint64_t rtt = now - s->sent_us[i];
    if (s->got[i] || rtt > (uint64_t)s->t->timeout_ms * 1000u) {
        inc(&p->late_replies, 1);
        return;
    }
    s->got[i] = true;
    s->rtt_us[i] = rtt > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt;
    inc(&p->replies, 1);
}

static void drain(struct ping_hook *p, struct sock *k, bool v6)
{
    uint8_t buf[PING_BUF];
    for (int n = 0; n < PING_RECV_BATCH; n++) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        memset(&from, 0, sizeof from);
        ssize_t got = recvfrom(k->fd, buf, sizeof buf, MSG_TRUNC, (struct sockaddr *)&from, &fl);
        if (got < 0)
            return;                                /* EAGAIN, or an error queued on the socket */
        uint64_t now = timefmt_mono_us();
        if ((size_t)got > sizeof buf) {
            inc(&p->bad_replies, 1);
            continue;
        }
        handle_packet(p, k, v6, buf, (size_t)got, &from, now);
    }
}

static void *ping_thread(void *arg)
{
    struct ping_hook *p = arg;
    caps_thread_init("ping");
    pthread_mutex_lock(&p->mu);
    while (!p->stopping) {
        uint64_t now = timefmt_mono_us(), next = UINT64_MAX;
        for (size_t i = 0; i < p->nts; i++) {
            uint64_t n = service(p, &p->ts[i], now);
            if (n < next)
                next = n;
        }
        pthread_mutex_unlock(&p->mu);
        int timeout = 1000;
        if (next != UINT64_MAX) {
            uint64_t now2 = timefmt_mono_us();
            uint64_t wait_us = next > now2 ? next - now2 : 0;
            timeout = wait_us >= 1000000u ? 1000 : (int)((wait_us + 999) / 1000);
        }
        struct pollfd fds[3] = {{.fd = p->wake[0], .events = POLLIN},
                                {.fd = p->s4.fd, .events = POLLIN},
                                {.fd = p->s6.fd, .events = POLLIN}};
        int rc = poll(fds, 3, timeout);
        pthread_mutex_lock(&p->mu);
        if (rc <= 0)
            continue;
        if (fds[0].revents) {
            char b[64];
            while (read(p->wake[0], b, sizeof b) > 0) {
            }
        }
        if (fds[1].revents)
            drain(p, &p->s4, false);
        if (fds[2].revents)
            drain(p, &p->s6, true);
    }
    for (size_t i = 0; i < p->nts; i++)     /* rounds the stop cut short: no event, counted */
        if (p->ts[i].in_round)
            inc(&p->rounds_dropped, 1);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* ---------------------------------------------------------------- sockets */

static void open_sock(struct ping_hook *p, struct sock *k, int family)
{
    int proto = family == AF_INET6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP;
    const char *fam = family == AF_INET6 ? "IPv6" : "IPv4";
    int raw_errno = 0;
    k->fd = -1;
    if (p->mode != PING_MODE_DGRAM) {
        struct caps_saved sv;
        caps_raise(CAP_NET_RAW, &sv);
        k->fd = socket(family, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
        raw_errno = errno;
        caps_restore(&sv);
        if (k->fd >= 0) {
            k->raw = true;
            if (family == AF_INET) {
                struct icmp_filter f = {.data = ~(1u << ICMP_ECHOREPLY)};
                (void)setsockopt(k->fd, SOL_RAW, ICMP_FILTER, &f, sizeof f);
            } else {
                struct icmp6_filter f;
                ICMP6_FILTER_SETBLOCKALL(&f);
                ICMP6_FILTER_SETPASS(ICMP6_ECHO_REPLY, &f);
                (void)setsockopt(k->fd, IPPROTO_ICMPV6, ICMP6_FILTER, &f, sizeof f);
            }
            return;
        }
        if (p->mode == PING_MODE_RAW) {
            snprintf(k->err, sizeof k->err, "no %s raw ICMP socket (AGENT_PING_SOCKET=raw): %s%s", fam,
                     strerror(raw_errno), raw_errno == EPERM ? " (needs CAP_NET_RAW)" : "");
            return;
        }
    }
    k->fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, proto);
    if (k->fd >= 0) {
        k->raw = false;
        return;
    }
    int e = errno;
    if (e == EACCES)
        snprintf(k->err, sizeof k->err, "no %s ICMP socket: %sthe datagram socket is refused: the sensor's "
                 "group (gid %u) is outside net.ipv4.ping_group_range", fam,
                 p->mode == PING_MODE_AUTO ? "no CAP_NET_RAW for a raw socket and " : "", (unsigned)getgid());
    else
        snprintf(k->err, sizeof k->err, "no %s ICMP socket: %s", fam, strerror(e));
}

/* ---------------------------------------------------------------- hook ops */

static void ping_stop(void *self);

static int ping_start(void *self, ring *out, char *err, size_t errlen)
{
    struct ping_hook *p = self;
    p->out = out;
    open_sock(p, &p->s4, AF_INET);
    open_sock(p, &p->s6, AF_INET6);
    if (p->s4.fd < 0)
        log_warn("ping: %s; IPv4 targets report 100%% loss with this error", p->s4.err);
    if (p->s6.fd < 0)
        log_warn("ping: %s; IPv6 targets report 100%% loss with this error", p->s6.err);
    int rc = pthread_create(&p->thread, NULL, ping_thread, p);
    if (rc != 0) {
        snprintf(err, errlen, "ping: cannot start its thread: %s", strerror(rc));
        return -1;
    }
    p->started = true;
    log_info("ping: %zu target%s, IPv4 %s socket, IPv6 %s socket", p->nts, p->nts == 1 ? "" : "s",
             p->s4.fd < 0 ? "no" : p->s4.raw ? "raw" : "datagram",
             p->s6.fd < 0 ? "no" : p->s6.raw ? "raw" : "datagram");
    return 0;
}

static void wake(struct ping_hook *p)
{
    ssize_t n = write(p->wake[1], "w", 1);
    (void)n;   /* a full pipe wakes the thread as well */
}

static void ping_stop(void *self)
{
    struct ping_hook *p = self;
    if (!p->started)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = true;
    pthread_mutex_unlock(&p->mu);
    wake(p);
    pthread_join(p->thread, NULL);
    p->started = false;
    struct ping_hook_stats s;
    ping_hook_get_stats(p, &s);
    log_fields(LOG_INFO, "ping stopped", (const struct log_field[]){
        LOG_U64("probes_sent", s.probes_sent), LOG_U64("replies", s.replies), LOG_U64("timeouts", s.timeouts),
        LOG_U64("send_errors", s.send_errors), LOG_U64("rounds", s.rounds),
        LOG_U64("events_dropped", s.events_dropped)}, 6);
}

void ping_hook_get_stats(void *self, struct ping_hook_stats *o)
{
    struct ping_hook *p = self;
    o->probes_sent = get(&p->probes_sent);
    o->replies = get(&p->replies);
    o->timeouts = get(&p->timeouts);
    o->send_errors = get(&p->send_errors);
    o->late_replies = get(&p->late_replies);
    o->bad_replies = get(&p->bad_replies);
    o->foreign_replies = get(&p->foreign_replies);
    o->rounds = get(&p->rounds);
    o->rounds_dropped = get(&p->rounds_dropped);
    o->events_dropped = get(&p->events_dropped);
    o->reloads = get(&p->reloads);
    o->reload_failures = get(&p->reload_failures);
    o->targets = get(&p->ntargets);
}

uint32_t ping_hook_target_key(void *self, const char *name)
{
    struct ping_hook *p = self;
    uint32_t key = 0;
    pthread_mutex_lock(&p->mu);
    for (size_t i = 0; i < p->nts && !key; i++)
        if (strcmp(p->ts[i].t->name, name) == 0)
            key = p->ts[i].key;
    pthread_mutex_unlock(&p->mu);
    return key;
}

static void ping_stats_json(void *self, cJSON *into)
{
    struct ping_hook_stats s;
    ping_hook_get_stats(self, &s);
    const struct { const char *k; uint64_t v; } kv[] = {
        {"ping_probes_sent", s.probes_sent}, {"ping_replies", s.replies}, {"ping_timeouts", s.timeouts},
        {"ping_send_errors", s.send_errors}, {"ping_late_replies", s.late_replies},
        {"ping_bad_replies", s.bad_replies}, {"ping_foreign_replies", s.foreign_replies},
        {"ping_rounds", s.rounds}, {"ping_rounds_dropped", s.rounds_dropped},
        {"ping_events_dropped", s.events_dropped}, {"ping_reloads", s.reloads},
        {"ping_reload_failures", s.reload_failures}, {"ping_targets", s.targets}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        cJSON_AddNumberToObject(into, kv[i].k, (double)kv[i].v);
}

static void ping_destroy(void *self)
{
    struct ping_hook *p = self;
    if (!p)
        return;
    ping_stop(p);
    for (size_t i = 0; i < p->nts; i++)
        ts_free(&p->ts[i]);
    free(p->ts);
    ping_config_destroy(p->cfg);
    if (p->s4.fd >= 0)
        close(p->s4.fd);
    if (p->s6.fd >= 0)
        close(p->s6.fd);
    if (p->wake[0] >= 0)
        close(p->wake[0]);
    if (p->wake[1] >= 0)
        close(p->wake[1]);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

/*
 * Swap in `ncfg` (ownership passes): unchanged targets keep their state,
 * changed and added ones start now, removed ones go. Caller holds p->mu.
 * Returns 0, or -1 (out of memory: nothing changed, ncfg freed).
 */
static int apply(struct ping_hook *p, struct ping_config *ncfg, size_t *added, size_t *removed, size_t *changed)
{
    uint64_t now = timefmt_mono_us();
    size_t n = ncfg->ntargets;
    struct tstate *nts = n ? calloc(n, sizeof *nts) : NULL;
    size_t *from = n ? calloc(n, sizeof *from) : NULL;      /* old index, SIZE_MAX when none */
    bool *kept = p->nts ? calloc(p->nts, sizeof *kept) : NULL;
    bool ok = (!n || (nts && from)) && (!p->nts || kept);
    /* Phase 1: match by name and allocate every new state; the old table is not touched yet. */
    for (size_t j = 0; ok && j < n; j++) {
        const struct ping_target *t = &ncfg->targets[j];
        from[j] = SIZE_MAX;
        for (size_t i = 0; i < p->nts && from[j] == SIZE_MAX; i++)
            if (!kept[i] && strcmp(p->ts[i].t->name, t->name) == 0)
                from[j] = i;
        if (from[j] != SIZE_MAX)
            kept[from[j]] = true;
        if (from[j] == SIZE_MAX || !ping_target_same(p->ts[from[j]].t, t))
            ok = ts_init(&nts[j], t, p->next_key + (uint32_t)j, now) == 0;
    }
    if (!ok) {
        for (size_t j = 0; nts && j < n; j++)
            ts_free(&nts[j]);
        free(nts);
        free(from);
        free(kept);
        ping_config_destroy(ncfg);
        return -1;
    }
    /* Phase 2: commit. */
    *added = *removed = *changed = 0;
    p->next_key += (uint32_t)n;
    for (size_t j = 0; j < n; j++) {
        size_t i = from[j];
        if (i == SIZE_MAX) {
            (*added)++;
        } else if (!nts[j].t) {            /* unchanged: its state moves over, arrays and all */
            nts[j] = p->ts[i];
            nts[j].t = &ncfg->targets[j];
            memset(&p->ts[i], 0, sizeof p->ts[i]);
        } else {
            (*changed)++;
            if (p->ts[i].in_round)
                inc(&p->rounds_dropped, 1);
            ts_free(&p->ts[i]);
        }
    }
    for (size_t i = 0; i < p->nts; i++) {
        if (kept[i])
            continue;
        (*removed)++;
        if (p->ts[i].in_round)
            inc(&p->rounds_dropped, 1);
        ts_free(&p->ts[i]);
    }
    free(from);
    free(kept);
    free(p->ts);
    ping_config_destroy(p->cfg);
    p->ts = nts;
    p->nts = n;
    p->cfg = ncfg;
    atomic_store_explicit(&p->ntargets, p->nts, memory_order_relaxed);
    return 0;
}

static int ping_reload(void *self, const struct config *cfg, char *err, size_t errlen)
{
    struct ping_hook *p = self;
    struct ping_config *ncfg = NULL;
    inc(&p->reloads, 1);
    if (!cfg->ping_config) {
        snprintf(err, errlen, "AGENT_PING_CONFIG is not set: the ping targets stay");
        inc(&p->reload_failures, 1);
        return -1;
    }
    if (ping_config_load(cfg->ping_config, &ncfg, err, errlen) != 0) {   /* resolves names: no lock held */
        inc(&p->reload_failures, 1);
        return -1;
    }
    size_t a, r, c;
    pthread_mutex_lock(&p->mu);
    int rc = apply(p, ncfg, &a, &r, &c);
    pthread_mutex_unlock(&p->mu);
    if (rc != 0) {
        snprintf(err, errlen, "AGENT_PING_CONFIG=%s: out of memory applying the file", cfg->ping_config);
        inc(&p->reload_failures, 1);
        return -1;
    }
    wake(p);   /* the thread (if running) recomputes its next deadline */
    snprintf(err, errlen, "%zu added, %zu removed, %zu changed", a, r, c);
    return 0;
}

static const struct hook_ops PING_OPS = {
    .name = "ping",
    .start = ping_start,
    .stop = ping_stop,
    .stats = ping_stats_json,
    .destroy = ping_destroy,
    .reload = ping_reload,
};

int hook_ping_create(const struct config *cfg, struct hook *out, char *err, size_t errlen)
{
    if (!cfg->ping_config)
        return 0;
    struct ping_config *pcfg;
    int rc = ping_config_load(cfg->ping_config, &pcfg, err, errlen);
    if (rc != 0)
        return rc;
    struct ping_hook *p = calloc(1, sizeof *p);
    if (!p) {
        ping_config_destroy(pcfg);
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    p->s4.fd = p->s6.fd = p->wake[0] = p->wake[1] = -1;
    const char *m = cfg->ping_socket ? cfg->ping_socket : "auto";
    p->mode = strcmp(m, "raw") == 0 ? PING_MODE_RAW : strcmp(m, "datagram") == 0 ? PING_MODE_DGRAM : PING_MODE_AUTO;
    if (pthread_mutex_init(&p->mu, NULL) != 0) {
        free(p);
        ping_config_destroy(pcfg);
        snprintf(err, errlen, "ping: cannot create its lock");
        return -2;
    }
    uint8_t rnd[PING_TOKEN_LEN + 2];
    if (pipe2(p->wake, O_NONBLOCK | O_CLOEXEC) != 0 || getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        snprintf(err, errlen, "ping: cannot set up: %s", strerror(errno));
        ping_config_destroy(pcfg);
        ping_destroy(p);
        return -2;
    }
    memcpy(p->token, rnd, PING_TOKEN_LEN);
    p->ident = (uint16_t)(rnd[PING_TOKEN_LEN] << 8 | rnd[PING_TOKEN_LEN + 1]);
    p->next_key = 1;
    size_t a, r, c;
    if (apply(p, pcfg, &a, &r, &c) != 0) {
        ping_destroy(p);
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    out->ops = &PING_OPS;
    out->self = p;
    return 1;
}
