/*
 * ipfix_export.c — the IPFIX / NetFlow v9 output's ring, thread and socket
 * (see ipfix_export.h).
 *
 * The sender thread pushes flow records into this output's SPSC ring
 * (producer); the output's thread pops them (consumer), encodes them into the
 * current message and sends a message when it is full or when the ring runs
 * dry (so a quiet sensor's records leave at once, a busy one's in full
 * messages). The socket is a connected UDP socket (so an ICMP "port
 * unreachable" shows up as a failed later send, counted) or a TCP stream
 * connected with a timeout, reconnected with backoff after any error. The
 * encoder, and with it every libfixbuf/GLib allocation, is created, used and
 * freed on this thread only.
 */
#include "ipfix_export.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../common/log.h"
#include "../common/ring.h"
#include "../common/timefmt.h"
#include "../config/config.h"
#include "ipfix_encode.h"

#define X_BURST            256u
#define X_UDP_MESSAGE      1400u       /* stays under a 1500-byte MTU with IP/UDP headers */
#define X_TCP_MESSAGE      65000u
#define X_BACKOFF_MIN_US   1000000u    /* TCP reconnect: 1 s, doubling ... */
#define X_BACKOFF_MAX_US   30000000u   /* ... up to 30 s */
#define X_IDLE_MIN_US      100u
#define X_IDLE_MAX_US      5000u
#define X_SEND_TIMEOUT_S   5

struct ipfix_export {
    /* Set by create, read-only afterwards. */
    ring *ring;
    bool tcp;
    struct ipfix_enc_opts opts;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char where[300];                  /* "udp://host:port", for log lines */
    uint64_t template_refresh_us;
    uint32_t connect_timeout_ms;
    pthread_t thread;
    bool started, joined;

    /* Output thread only. */
    struct flow_event *burst;         /* X_BURST records popped at once */
    int fd;
    uint64_t next_connect_us, backoff_us, next_templates_us;
    bool failing;                     /* a send failure was logged */

    /* Any thread. */
    atomic_bool finish;
    _Atomic uint64_t offered, sent, drop_send, drop_enc, msgs, msgs_failed, bytes, tmpl, connects, connect_fail;
};

static void add(_Atomic uint64_t *c, uint64_t n) { atomic_fetch_add_explicit(c, n, memory_order_relaxed); }
static uint64_t get(const _Atomic uint64_t *c) { return atomic_load_explicit(c, memory_order_relaxed); }

static void nap(unsigned us)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)us * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static void close_socket(ipfix_export *x)
{
    if (x->fd >= 0)
        close(x->fd);
    x->fd = -1;
}

/* Connect with a timeout (non-blocking connect + poll), then back to blocking. */
static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t len, uint32_t timeout_ms)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return -1;
    int rc = connect(fd, sa, len);
    if (rc != 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        rc = poll(&p, 1, (int)timeout_ms);
        if (rc == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (rc < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0)
            return -1;
        if (soerr) {
            errno = soerr;
            return -1;
        }
        rc = 0;
    }
    if (rc != 0 || fcntl(fd, F_SETFL, fl) < 0)
        return -1;
    return 0;
}

/* Open the socket when there is none and the backoff allows. true when open. */
static bool ensure_socket(ipfix_export *x, ipfix_encoder *enc)
{
    if (x->fd >= 0)
        return true;
    uint64_t now = timefmt_mono_us();
    if (now < x->next_connect_us)
        return false;
    int fd = socket(x->addr.ss_family, (x->tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
    int e = 0;
    if (fd < 0 || connect_timeout(fd, (const struct sockaddr *)&x->addr, x->addrlen, x->connect_timeout_ms) != 0) {
        e = errno;
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    if (fd < 0) {
        add(&x->connect_fail, 1);
        if (x->backoff_us == X_BACKOFF_MIN_US || !x->failing)
            log_warn("ipfix: cannot connect to %s: %s; retrying in %" PRIu64 " ms (records are dropped and counted meanwhile)",
                     x->where, strerror(e), x->backoff_us / 1000u);
        x->failing = true;
        x->next_connect_us = now + x->backoff_us;
        x->backoff_us = x->backoff_us * 2 > X_BACKOFF_MAX_US ? X_BACKOFF_MAX_US : x->backoff_us * 2;
        return false;
    }
    if (x->tcp) {
        struct timeval tv = {.tv_sec = X_SEND_TIMEOUT_S};
        (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        int one = 1;
        (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        log_info("ipfix: connected to %s", x->where);
        x->failing = false;
    }
    add(&x->connects, 1);
    x->fd = fd;
    x->backoff_us = X_BACKOFF_MIN_US;
    ipfix_encoder_want_templates(enc);   /* a new transport session starts with the templates */
    x->next_templates_us = now + x->template_refresh_us;
    return true;
}

/* Write a whole message; false on any error (the socket is then closed for TCP). */
static bool send_all(ipfix_export *x, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t n = send(x->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || (!x->tcp && (size_t)n != len)) {
            int e = n < 0 ? errno : EIO;
            if (!x->failing)
                log_warn("ipfix: sending to %s failed: %s (further failures are counted, not logged)",
                         x->where, strerror(e));
            x->failing = true;
            if (x->tcp) {
                close_socket(x);
                x->next_connect_us = timefmt_mono_us() + x->backoff_us;
            }
            return false;
        }
        p += n;
        len -= (size_t)n;
    }
    if (x->failing && !x->tcp)
        log_info("ipfix: sending to %s works again", x->where);
    if (!x->tcp)
        x->failing = false;
    return true;
}

/* Close the message being built and send it (or count it lost). */
static void flush(ipfix_export *x, ipfix_encoder *enc)
{
    uint32_t n = ipfix_encoder_pending(enc);
    bool with_templates = ipfix_encoder_has_templates(enc);
    if (n == 0 && !with_templates)
        return;
    const uint8_t *msg;
    size_t len = ipfix_encoder_take(enc, &msg);
    if (len && x->fd >= 0 && send_all(x, msg, len)) {
        add(&x->sent, n);
        add(&x->msgs, 1);
        add(&x->bytes, len);
        if (with_templates)
            add(&x->tmpl, 1);
        return;
    }
    add(&x->drop_send, n);
    add(&x->msgs_failed, 1);
    /* Lost templates are not re-sent at once: TCP sends them on its next
     * connection, UDP at its next refresh (RFC 7011 10.3.6). */
}

/*
 * Before the first record of a message: (re)connect when due, and ask for the
 * templates when the UDP refresh timer has run out. The socket is opened only
 * here, so a message is always built for the connection it is sent on (a new
 * connection's first message carries the templates).
 */
static void start_message(ipfix_export *x, ipfix_encoder *enc)
{
    bool open = ensure_socket(x, enc);
    uint64_t now = timefmt_mono_us();
    if (open && !x->tcp && now >= x->next_templates_us) {
        ipfix_encoder_want_templates(enc);
        x->next_templates_us = now + x->template_refresh_us;
    }
}

static void *thread_main(void *arg)
{
    ipfix_export *x = arg;
    char err[256];
    struct flow_event *burst = x->burst;
    /* Created here: libfixbuf's GLib allocations belong to this thread. */
    ipfix_encoder *enc = ipfix_encoder_create(&x->opts, err, sizeof err);
    if (!enc)
        log_error("%s; the IPFIX output is off (its records are counted as unencodable)", err);
    unsigned idle = X_IDLE_MIN_US;
    for (;;) {
        bool finishing = atomic_load_explicit(&x->finish, memory_order_acquire);
        uint32_t n = ring_pop_burst(x->ring, burst, X_BURST);
        if (n && !enc) {
            add(&x->drop_enc, n);
            continue;
        }
        if (n) {
            uint32_t export_s = (uint32_t)(timefmt_now_us() / 1000000u);
            for (uint32_t i = 0; i < n; i++) {
                if (ipfix_encoder_pending(enc) == 0)
                    start_message(x, enc);
                enum ipfix_enc_status st = ipfix_encoder_add(enc, &burst[i], export_s);
                /* Full: send it and start another (IPFIX: at most twice, the
                 * templates' own message and then a full data message). */
                for (int tries = 0; st == IPFIX_ENC_FULL && tries < 3; tries++) {
                    flush(x, enc);
                    start_message(x, enc);
                    st = ipfix_encoder_add(enc, &burst[i], export_s);
                }
                if (st != IPFIX_ENC_OK)
                    add(&x->drop_enc, 1);
            }
            idle = X_IDLE_MIN_US;
            continue;
        }
        /* The ring ran dry: send what is built. */
        flush(x, enc);
        if (finishing)
            break;
        nap(idle);
        idle = idle * 2 > X_IDLE_MAX_US ? X_IDLE_MAX_US : idle * 2;
    }
    close_socket(x);
    ipfix_encoder_destroy(enc);
    return NULL;
}

/* "udp://host:port" -> sockaddr (IPv6 hosts in brackets). */
static int resolve(ipfix_export *x, const struct config *cfg, char *err, size_t errlen)
{
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)cfg->ipfix_port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = x->tcp ? SOCK_STREAM : SOCK_DGRAM};
    struct addrinfo *res = NULL;
    int rc = getaddrinfo(cfg->ipfix_host, port, &hints, &res);
    if (rc != 0 || !res || res->ai_addrlen > sizeof x->addr) {
        snprintf(err, errlen, "ipfix: cannot resolve the collector %s: %s", cfg->ipfix_collector,
                 rc ? gai_strerror(rc) : "no address");
        if (res)
            freeaddrinfo(res);
        return -1;
    }
    memcpy(&x->addr, res->ai_addr, res->ai_addrlen);
    x->addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

ipfix_export *ipfix_export_create(const struct config *cfg, uint16_t community_seed, char *err, size_t errlen)
{
    char dummy[1];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!cfg || !cfg->ipfix_collector || !cfg->ipfix_host) {
        snprintf(err, errlen, "ipfix: no collector configured");
        return NULL;
    }
    ipfix_export *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "ipfix: out of memory");
        return NULL;
    }
    x->fd = -1;
    x->tcp = cfg->ipfix_tcp;
    x->opts.protocol = cfg->ipfix_netflow9 ? IPFIX_ENC_NETFLOW9 : IPFIX_ENC_IPFIX;
    x->opts.microseconds = cfg->ipfix_microseconds;
    x->opts.domain_id = cfg->ipfix_domain_id;
    x->opts.max_message = x->tcp ? X_TCP_MESSAGE : X_UDP_MESSAGE;
    x->opts.community_seed = community_seed;
    x->template_refresh_us = (uint64_t)cfg->ipfix_template_refresh_ms * 1000u;
    x->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 5000u;
    x->backoff_us = X_BACKOFF_MIN_US;
    snprintf(x->where, sizeof x->where, "%s", cfg->ipfix_collector);
    atomic_init(&x->finish, false);
    if (resolve(x, cfg, err, errlen) != 0)
        goto fail;
    x->ring = ring_create(cfg->event_ring_slots ? cfg->event_ring_slots : 16384u, sizeof(struct flow_event),
                          err, errlen);
    if (!x->ring)
        goto fail;
    x->burst = calloc(X_BURST, sizeof *x->burst);
    if (!x->burst) {
        snprintf(err, errlen, "ipfix: out of memory");
        goto fail;
    }
    int rc = pthread_create(&x->thread, NULL, thread_main, x);
    if (rc != 0) {
        snprintf(err, errlen, "ipfix: cannot start the output thread: %s", strerror(rc));
        goto fail;
    }
    x->started = true;
    return x;
fail:
    ipfix_export_destroy(x);
    return NULL;
}

bool ipfix_export_offer(ipfix_export *x, const struct flow_event *ev)
{
    if (!x || !ev)
        return false;
    add(&x->offered, 1);
    return ring_push(x->ring, ev);   /* a full ring counts the drop itself */
}

void ipfix_export_finish(ipfix_export *x)
{
    if (!x || !x->started || x->joined)
        return;
    /* Release pairs with the thread's acquire: every record pushed before is popped before it exits. */
    atomic_store_explicit(&x->finish, true, memory_order_release);
    pthread_join(x->thread, NULL);
    x->joined = true;
    struct ipfix_export_stats st;
    ipfix_export_get_stats(x, &st);
    log_info("ipfix: done: %" PRIu64 " records sent to %s in %" PRIu64 " messages, %" PRIu64
             " dropped (queue_full=%" PRIu64 " send_error=%" PRIu64 " unencodable=%" PRIu64 ")",
             st.records_sent, x->where, st.messages_sent,
             st.dropped_queue_full + st.dropped_send_error + st.dropped_unencodable,
             st.dropped_queue_full, st.dropped_send_error, st.dropped_unencodable);
}

void ipfix_export_get_stats(const ipfix_export *x, struct ipfix_export_stats *out)
{
    if (!out)
        return;
    memset(out, 0, sizeof *out);
    if (!x)
        return;
    out->records_offered = get(&x->offered);
    out->records_sent = get(&x->sent);
    out->dropped_queue_full = ring_drops(x->ring);
    out->dropped_send_error = get(&x->drop_send);
    out->dropped_unencodable = get(&x->drop_enc);
    out->messages_sent = get(&x->msgs);
    out->messages_failed = get(&x->msgs_failed);
    out->bytes_sent = get(&x->bytes);
    out->template_sends = get(&x->tmpl);
    out->connects = get(&x->connects);
    out->connect_failures = get(&x->connect_fail);
    out->queue = ring_count(x->ring);
}

void ipfix_export_destroy(ipfix_export *x)
{
    if (!x)
        return;
    ipfix_export_finish(x);
    ring_destroy(x->ring);
    free(x->burst);
    free(x);
}
