/*
 * inspect_flow.c — the per-flow side of inspection: a pool of flow states,
 * each with a bounded reassembly buffer per direction, and the dispatch that
 * decides what a flow speaks from its first bytes and hands them to the
 * parsers of inspect_proto.h.
 *
 * Memory: a state is about 2 x INSPECT_REASM_BYTES (inspect_flow_size()):
 * a small header (the result, the reassembly bookkeeping) and its two
 * reassembly buffers, which live apart from the headers (one array each).
 * The pool reserves capacity x that once (calloc, aligned_alloc), which the
 * kernel backs with memory only when it is first written: taking a state writes
 * only its header, and a buffer's pages are touched only when bytes are
 * reassembled into it (TCP, QUIC CRYPTO frames), so a flow in detection that
 * buffers nothing (DNS, most UDP) costs its header only. Free states are
 * reused last-in first-out, so what is resident follows the peak number of
 * flows in detection at the same time, not the capacity. A flow keeps a
 * state only while it is in detection; afterwards only its inspect_result
 * (sizeof(struct inspect_result)) stays with it.
 *
 * TCP bytes are placed by sequence number relative to the first payload byte
 * seen in that direction (a segment that arrives before it moves the window
 * back while nothing has been read). Up to INSPECT_HOLES out-of-order ranges
 * wait for the hole before them; the contiguous prefix is what the parsers
 * see. UDP datagrams (DNS, QUIC) are read one at a time.
 */
#include <stdio.h>
#include <stdlib.h>

#include "inspect/inspect.h"
#include "inspect/inspect_int.h"
#include "inspect/inspect_proto.h"

#define INSPECT_HOLES 4
#define INSPECT_UNKNOWN_TRIES 4     /* payload packets of a direction whose start is not
                                       known for sure (no SYN seen) before unknown bytes
                                       make it give up */

enum dstate { D_PENDING = 0, D_DONE, D_GAVE_UP };

struct range {
    uint32_t s, e;
};

struct reasm {
    uint32_t base;          /* TCP sequence number of buf[0] */
    uint32_t filled;        /* contiguous bytes from buf[0] */
    uint8_t  started;       /* base is set */
    uint8_t  syn;           /* base came from the SYN: buf[0] is the stream's first byte */
    uint8_t  tries;         /* payload packets fed to this direction */
    uint8_t  state;         /* enum dstate */
    uint8_t  n_ranges;
    struct range ranges[INSPECT_HOLES];  /* received beyond `filled`, sorted, disjoint */
    uint8_t *buf;           /* INSPECT_REASM_BYTES in the pool's buffer array (set at acquire) */
};

struct inspect_flow {
    struct inspect_pool *pool;
    struct inspect_result res;
    uint16_t packets;
    uint8_t  quic_dcid[20];
    uint8_t  quic_dcid_len;
    uint8_t  quic_client;   /* direction that sent the first Initial, +1; 0 none yet */
    uint32_t next_free;     /* free-list link (index + 1), 0 at the end */
    struct reasm d[2];
};

struct inspect_pool {
    struct inspect_flow *states;
    uint8_t *bufs;          /* capacity x 2 x INSPECT_REASM_BYTES, page-aligned: state i's at 2 i, 2 i + 1 */
    uint32_t capacity;
    uint32_t free_head;     /* index + 1, 0 when empty */
    uint32_t fresh;         /* states [fresh, capacity) never handed out yet */
    struct inspect_pool_stats st;
    struct inspect_crypto *crypto;
};

const char *inspect_kind_name(enum inspect_kind k)
{
    switch (k) {
    case INSPECT_KIND_DNS:  return "dns";
    case INSPECT_KIND_TLS:  return "tls";
    case INSPECT_KIND_QUIC: return "quic";
    case INSPECT_KIND_HTTP: return "http";
    case INSPECT_KIND_SSH:  return "ssh";
    default:                return "none";
    }
}

bool inspect_result_found(const struct inspect_result *r)
{
    if (!r)
        return false;
    switch (r->kind) {
    case INSPECT_KIND_DNS:  return r->u.dns.has_query || r->u.dns.has_response;
    case INSPECT_KIND_TLS:
    case INSPECT_KIND_QUIC: return r->u.tls.has_client_hello || r->u.tls.has_server_hello;
    case INSPECT_KIND_HTTP: return r->u.http.has_request || r->u.http.has_response;
    case INSPECT_KIND_SSH:  return r->u.ssh.client[0] || r->u.ssh.server[0];
    default:                return false;
    }
}

size_t inspect_flow_size(void)
{
    return sizeof(struct inspect_flow) + 2u * INSPECT_REASM_BYTES;
}

struct inspect_pool *inspect_pool_create(uint32_t capacity, char *err, size_t errlen)
{
    if (capacity == 0 || capacity > 16777216u) {
        snprintf(err, errlen, "inspect: pool capacity %u: must be in [1, 16777216]", capacity);
        return NULL;
    }
    struct inspect_pool *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "inspect: out of memory for the pool");
        return NULL;
    }
    p->capacity = capacity;
    p->states = calloc(capacity, sizeof *p->states);
    /* Page-aligned, so that a direction's first bytes touch one page; not
     * zeroed (a buffer is written before it is read), so untouched pages of a
     * large pool are never backed. */
    p->bufs = aligned_alloc(4096, (size_t)capacity * 2u * INSPECT_REASM_BYTES);
    if (!p->states || !p->bufs) {
        snprintf(err, errlen, "inspect: out of memory for %u flow states of %zu bytes", capacity,
                 inspect_flow_size());
        free(p->states);
        free(p->bufs);
        free(p);
        return NULL;
    }
    p->crypto = inspect_crypto_create(err, errlen);
    if (!p->crypto) {
        free(p->states);
        free(p->bufs);
        free(p);
        return NULL;
    }
    return p;
}

void inspect_pool_destroy(struct inspect_pool *p)
{
    if (!p)
        return;
    inspect_crypto_destroy(p->crypto);
    free(p->states);
    free(p->bufs);
    free(p);
}

void inspect_pool_get_stats(const struct inspect_pool *p, struct inspect_pool_stats *out)
{
    *out = p->st;
}

struct inspect_flow *inspect_flow_acquire(struct inspect_pool *p)
{
    struct inspect_flow *f;
    if (p->free_head) {
        f = &p->states[p->free_head - 1];
        p->free_head = f->next_free;
    } else if (p->fresh < p->capacity) {
        f = &p->states[p->fresh++];
    } else {
        p->st.exhausted++;
        return NULL;
    }
    /* Reset the header only: the buffers are written before they are read. */
    size_t idx = (size_t)(f - p->states);
    f->pool = p;
    memset(&f->res, 0, sizeof f->res);
    f->packets = 0;
    f->quic_dcid_len = 0;
    f->quic_client = 0;
    f->next_free = 0;
    for (int i = 0; i < 2; i++) {
        f->d[i].base = 0;
        f->d[i].filled = 0;
        f->d[i].started = 0;
        f->d[i].syn = 0;
        f->d[i].tries = 0;
        f->d[i].state = D_PENDING;
        f->d[i].n_ranges = 0;
        f->d[i].buf = p->bufs + (2u * idx + (size_t)i) * INSPECT_REASM_BYTES;
    }
    p->st.acquired++;
    p->st.in_use++;
    return f;
}

void inspect_flow_release(struct inspect_pool *p, struct inspect_flow *f)
{
    if (!f)
        return;
    f->next_free = p->free_head;
    p->free_head = (uint32_t)(f - p->states) + 1;
    p->st.in_use--;
}

const struct inspect_result *inspect_flow_result(const struct inspect_flow *f)
{
    return &f->res;
}

/* ---- reassembly ------------------------------------------------------------ */

/* Record that [s, e) of the buffer now holds data; grow `filled` through it. */
static void reasm_mark(struct reasm *r, uint32_t s, uint32_t e, uint64_t *dropped)
{
    if (e <= s)
        return;
    if (s <= r->filled) {
        if (e > r->filled)
            r->filled = e;
    } else {
        /* insert [s, e) into the sorted list, merging what it touches */
        struct range nr = {s, e};
        struct range out[INSPECT_HOLES + 1];
        unsigned n = 0;
        bool placed = false;
        for (unsigned i = 0; i < r->n_ranges; i++) {
            struct range x = r->ranges[i];
            if (x.e < nr.s) {
                out[n++] = x;
            } else if (nr.e < x.s) {
                if (!placed) {
                    out[n++] = nr;
                    placed = true;
                }
                out[n++] = x;
            } else {
                nr.s = x.s < nr.s ? x.s : nr.s;
                nr.e = x.e > nr.e ? x.e : nr.e;
            }
        }
        if (!placed)
            out[n++] = nr;
        if (n > INSPECT_HOLES) {
            (*dropped)++;                            /* too many holes: forget the farthest */
            n = INSPECT_HOLES;
        }
        memcpy(r->ranges, out, n * sizeof out[0]);
        r->n_ranges = (uint8_t)n;
    }
    /* absorb the ranges the prefix now reaches */
    unsigned k = 0;
    while (k < r->n_ranges && r->ranges[k].s <= r->filled) {
        if (r->ranges[k].e > r->filled)
            r->filled = r->ranges[k].e;
        k++;
    }
    if (k) {
        memmove(r->ranges, r->ranges + k, (r->n_ranges - k) * sizeof r->ranges[0]);
        r->n_ranges = (uint8_t)(r->n_ranges - k);
    }
}

/* Copy data to its offset (relative to buf[0]); bytes past the buffer are
 * counted as overflow. */
static void reasm_put(struct inspect_pool *p, struct reasm *r, uint32_t off, const uint8_t *data,
                      size_t len)
{
    if (off >= INSPECT_REASM_BYTES) {
        p->st.reasm_overflow += len;
        return;
    }
    size_t n = len;
    if (n > INSPECT_REASM_BYTES - off) {
        p->st.reasm_overflow += n - (INSPECT_REASM_BYTES - off);
        n = INSPECT_REASM_BYTES - off;
    }
    memcpy(r->buf + off, data, n);
    reasm_mark(r, off, off + (uint32_t)n, &p->st.out_of_window);
}

/* Place a TCP segment by its sequence number. */
static void reasm_tcp(struct inspect_pool *p, struct reasm *r, uint32_t seq, bool has_seq,
                      const uint8_t *data, size_t len)
{
    if (!has_seq) {
        reasm_put(p, r, r->filled, data, len);
        return;
    }
    if (!r->started) {
        r->base = seq;
        r->started = 1;
    }
    int32_t diff = (int32_t)(seq - r->base);
    if (diff >= 0) {
        reasm_put(p, r, (uint32_t)diff, data, len);
        return;
    }
    /* Before buf[0]. When the SYN set buf[0], these bytes are before the
     * stream (a retransmitted SYN's data): keep only what reaches buf[0].
     * Otherwise buf[0] was just the first byte seen: while the buffer is
     * still short enough, move the window back to this segment. */
    uint32_t back = (uint32_t)-(int64_t)diff;
    if (r->syn) {
        if ((uint64_t)back < len)
            reasm_put(p, r, 0, data + back, len - back);
        return;
    }
    uint32_t top = r->n_ranges ? r->ranges[r->n_ranges - 1].e : r->filled;
    if ((uint64_t)top + back > INSPECT_REASM_BYTES || back > INSPECT_REASM_BYTES) {
        p->st.out_of_window++;                       /* too far back: keep what overlaps */
        if ((uint64_t)back < len)
            reasm_put(p, r, 0, data + back, len - back);
        return;
    }
    memmove(r->buf + back, r->buf, top);
    struct range old[INSPECT_HOLES + 1];
    unsigned n = 0;
    if (r->filled)
        old[n++] = (struct range){back, r->filled + back};
    for (unsigned i = 0; i < r->n_ranges; i++)
        old[n++] = (struct range){r->ranges[i].s + back, r->ranges[i].e + back};
    r->filled = 0;
    r->n_ranges = 0;
    r->base = seq;
    for (unsigned i = 0; i < n; i++)
        reasm_mark(r, old[i].s, old[i].e, &p->st.out_of_window);
    reasm_put(p, r, 0, data, len);
}

/* ---- dispatch ------------------------------------------------------------- */

static bool is_dns_port(uint16_t port)
{
    return port == 53 || port == 5353 || port == 5355;
}

static void set_kind(struct inspect_flow *f, enum inspect_kind k)
{
    if (f->res.kind == INSPECT_KIND_NONE)
        f->res.kind = (uint8_t)k;
}

static void take_dns(struct inspect_flow *f, const struct inspect_dns_msg *m)
{
    struct inspect_dns *d = &f->res.u.dns;
    if (!d->has_query && !d->has_response && m->q.qname[0]) {
        memcpy(d->qname, m->q.qname, sizeof d->qname);
        d->qtype = m->q.qtype;
    }
    if (m->is_response) {
        if (d->has_response)
            return;
        d->has_response = 1;
        d->rcode = m->rcode;
        d->ancount = m->ancount;
        d->n_answers = m->q.n_answers;
        memcpy(d->answers, m->q.answers, sizeof d->answers);
    } else {
        d->has_query = 1;
    }
}

static void take_client_hello(struct inspect_flow *f, const struct inspect_tls_client_hello *ch,
                              char transport)
{
    struct inspect_tls *t = &f->res.u.tls;
    struct inspect_crypto *c = f->pool->crypto;
    memcpy(t->server_name, ch->server_name, sizeof t->server_name);
    t->n_alpn = ch->n_alpn;
    memcpy(t->alpn, ch->alpn, sizeof t->alpn);
    t->client_version = ch->legacy_version;
    t->n_versions = 0;
    for (unsigned i = 0; i < ch->n_versions && t->n_versions < INSPECT_TLS_VERSIONS; i++)
        if (!inspect_tls_is_grease(ch->versions[i]))
            t->versions[t->n_versions++] = ch->versions[i];
    if (!ch->lists_cut) {
        char ja3[INSPECT_TLS_MAX_CIPHERS * 6 + INSPECT_TLS_MAX_EXTS * 6 +
                 INSPECT_TLS_MAX_GROUPS * 6 + INSPECT_TLS_MAX_PF * 4 + 16];
        size_t n = inspect_tls_ja3_string(ch, ja3, sizeof ja3);
        if (n && inspect_md5_hex(c, ja3, n, t->ja3) != 0)
            t->ja3[0] = '\0';
        if (inspect_tls_ja4(ch, transport, c, t->ja4) != 0)
            t->ja4[0] = '\0';
    }
    t->has_client_hello = 1;
}

static void take_server_hello(struct inspect_flow *f, const struct inspect_tls_server_hello *sh)
{
    struct inspect_tls *t = &f->res.u.tls;
    t->server_version = sh->selected_version ? sh->selected_version : sh->legacy_version;
    t->cipher = sh->cipher;
    memcpy(t->server_alpn, sh->alpn, sizeof t->server_alpn);
    char s[8 + 8 + INSPECT_TLS_MAX_EXTS * 6];
    size_t n = inspect_tls_ja3s_string(sh, s, sizeof s);
    if (n && inspect_md5_hex(f->pool->crypto, s, n, t->ja3s) != 0)
        t->ja3s[0] = '\0';
    t->has_server_hello = 1;
}

/* A handshake message at msg (from TLS records or a QUIC CRYPTO stream). */
static enum dstate tls_message(struct inspect_flow *f, const uint8_t *msg, size_t len,
                               char transport)
{
    if (len < 1)
        return D_PENDING;
    if (msg[0] == 1) {
        struct inspect_tls_client_hello ch;
        enum inspect_status st = inspect_tls_client_hello_parse(msg, len, &ch);
        if (st == INSPECT_NEED_MORE)
            return D_PENDING;
        if (st == INSPECT_PARSED && !f->res.u.tls.has_client_hello) {
            take_client_hello(f, &ch, transport);
            return D_DONE;
        }
    } else if (msg[0] == 2) {
        struct inspect_tls_server_hello sh;
        enum inspect_status st = inspect_tls_server_hello_parse(msg, len, &sh);
        if (st == INSPECT_NEED_MORE)
            return D_PENDING;
        if (st == INSPECT_PARSED && !f->res.u.tls.has_server_hello) {
            take_server_hello(f, &sh);
            return D_DONE;
        }
    }
    f->pool->st.malformed++;
    return D_GAVE_UP;
}

/* What the first bytes of a TCP direction say. */
static enum inspect_kind tcp_guess(const uint8_t *b, size_t n, uint16_t sport, uint16_t dport)
{
    if (n >= 3 && b[0] == 0x16 && b[1] == 3 && b[2] <= 4)
        return INSPECT_KIND_TLS;
    if (n >= 4 && memcmp(b, "SSH-", 4) == 0)
        return INSPECT_KIND_SSH;
    if (inspect_http_is_request(b, n) || inspect_http_is_response(b, n))
        return INSPECT_KIND_HTTP;
    if (is_dns_port(sport) || is_dns_port(dport))
        return INSPECT_KIND_DNS;
    return INSPECT_KIND_NONE;
}

static void tcp_parse(struct inspect_flow *f, enum inspect_dir dir, uint16_t sport, uint16_t dport)
{
    struct reasm *r = &f->d[dir];
    if (r->state != D_PENDING || r->filled == 0)
        return;
    const uint8_t *b = r->buf;
    size_t n = r->filled;
    bool full = n >= INSPECT_REASM_BYTES;
    enum inspect_kind k = (enum inspect_kind)f->res.kind;
    if (k == INSPECT_KIND_NONE) {
        k = tcp_guess(b, n, sport, dport);
        if (k == INSPECT_KIND_NONE) {
            /* not something we read; unless these may be later bytes that
             * came first (no SYN seen), and it is early */
            if (n >= 8 && (r->syn || r->tries >= INSPECT_UNKNOWN_TRIES))
                r->state = D_GAVE_UP;
            return;
        }
        f->res.kind = (uint8_t)k;
    }
    switch (k) {
    case INSPECT_KIND_TLS: {
        uint8_t *msg = f->pool->crypto->scratch;
        size_t mlen = 0;
        enum inspect_status st = inspect_tls_records_collect(b, n, msg, INSPECT_REASM_BYTES, &mlen);
        if (st == INSPECT_PARSED)
            r->state = (uint8_t)tls_message(f, msg, mlen, 't');
        else if (st == INSPECT_MALFORMED || full || mlen > INSPECT_REASM_BYTES)
            r->state = D_GAVE_UP;
        break;
    }
    case INSPECT_KIND_HTTP: {
        struct inspect_http *h = &f->res.u.http;
        enum inspect_status st;
        if (inspect_http_is_response(b, n)) {
            st = inspect_http_response_parse(b, n, h);
        } else {
            struct inspect_http tmp = *h;
            st = inspect_http_request_parse(b, n, full, &tmp);
            if (st == INSPECT_PARSED)
                *h = tmp;
        }
        if (st == INSPECT_PARSED)
            r->state = D_DONE;
        else if (st == INSPECT_MALFORMED || full)
            r->state = D_GAVE_UP;
        break;
    }
    case INSPECT_KIND_SSH: {
        struct inspect_ssh *s = &f->res.u.ssh;
        char *dst = dir == INSPECT_DIR_FWD ? s->client : s->server;
        enum inspect_status st = inspect_ssh_banner_parse(b, n, dst, INSPECT_BANNER_LEN);
        if (st == INSPECT_PARSED)
            r->state = D_DONE;
        else if (st == INSPECT_MALFORMED || full)
            r->state = D_GAVE_UP;
        break;
    }
    case INSPECT_KIND_DNS: {                         /* RFC 1035 §4.2.2: 2-byte length */
        if (n < 2)
            return;
        size_t ml = (size_t)b[0] << 8 | b[1];
        if (n - 2 < ml) {
            if (full || ml + 2 > INSPECT_REASM_BYTES)
                r->state = D_GAVE_UP;
            return;
        }
        struct inspect_dns_msg m;
        if (inspect_dns_parse(b + 2, ml, &m) == INSPECT_PARSED) {
            take_dns(f, &m);
            r->state = D_DONE;
        } else {
            f->pool->st.malformed++;
            r->state = D_GAVE_UP;
        }
        break;
    }
    default:
        r->state = D_GAVE_UP;
        break;
    }
}

struct quic_mark {
    struct reasm *r;
    struct inspect_pool *p;
};

static void quic_on_range(void *ctx, uint32_t s, uint32_t e)
{
    struct quic_mark *m = ctx;
    reasm_mark(m->r, s, e, &m->p->st.out_of_window);
}

static void udp_feed(struct inspect_flow *f, enum inspect_dir dir, uint16_t sport, uint16_t dport,
                     const uint8_t *b, size_t n)
{
    struct inspect_pool *p = f->pool;
    enum inspect_kind k = (enum inspect_kind)f->res.kind;
    if (k == INSPECT_KIND_NONE) {
        if (n >= 5 && (b[0] & 0x80) &&
            inspect_quic_version_known((uint32_t)b[1] << 24 | (uint32_t)b[2] << 16 |
                                       (uint32_t)b[3] << 8 | b[4]))
            k = INSPECT_KIND_QUIC;
        else if (is_dns_port(sport) || is_dns_port(dport))
            k = INSPECT_KIND_DNS;
        else {
            f->d[0].state = D_GAVE_UP;               /* a QUIC flow opens with an Initial */
            f->d[1].state = D_GAVE_UP;
            return;
        }
    }
    if (k == INSPECT_KIND_DNS) {
        struct inspect_dns_msg m;
        if (inspect_dns_parse(b, n, &m) != INSPECT_PARSED) {
            p->st.malformed++;
            return;
        }
        set_kind(f, INSPECT_KIND_DNS);
        take_dns(f, &m);
        if (m.is_response) {
            f->d[0].state = D_DONE;
            f->d[1].state = D_DONE;
        }
        return;
    }
    /* QUIC: the first direction with a decryptable Initial is the client's. */
    struct reasm *r = &f->d[dir];
    if (r->state != D_PENDING)
        return;
    int server = f->quic_client && f->quic_client != (uint8_t)(dir + 1);
    if (server && inspect_quic_retry_scid(b, n, f->quic_dcid, &f->quic_dcid_len))
        return;                                      /* new seed for the server's Initials */
    if (server && f->quic_dcid_len == 0)
        return;
    struct quic_mark m = {r, p};
    uint8_t seen[20], seen_len = 0;
    enum inspect_status st = inspect_quic_initial(
        p->crypto, b, n, server, server ? f->quic_dcid : NULL, server ? f->quic_dcid_len : 0,
        seen, &seen_len, r->buf, INSPECT_REASM_BYTES, quic_on_range, &m);
    if (st != INSPECT_PARSED) {
        p->st.quic_decrypt_fail++;
        return;
    }
    set_kind(f, INSPECT_KIND_QUIC);
    if (!f->quic_client) {
        f->quic_client = (uint8_t)(dir + 1);
        memcpy(f->quic_dcid, seen, seen_len);
        f->quic_dcid_len = seen_len;
    }
    if (r->filled)
        r->state = (uint8_t)tls_message(f, r->buf, r->filled, 'q');
    if (r->state == D_PENDING && r->filled >= INSPECT_REASM_BYTES)
        r->state = D_GAVE_UP;
}

bool inspect_flow_feed(struct inspect_flow *f, enum inspect_dir dir, uint8_t proto,
                       uint16_t sport, uint16_t dport, uint8_t tcp_flags, uint32_t tcp_seq,
                       bool has_seq, const uint8_t *payload, size_t len)
{
    if (proto != 6 && proto != 17)
        return false;
    if (dir != INSPECT_DIR_FWD && dir != INSPECT_DIR_REV)
        return true;
    if (proto == 6) {
        struct reasm *r = &f->d[dir];
        if ((tcp_flags & 0x02) && has_seq && !r->started) {
            r->base = tcp_seq + 1;                   /* SYN: the stream starts after it */
            r->started = 1;
            r->syn = 1;
            tcp_seq++;                               /* data on a SYN (TCP Fast Open) */
        }
        if (len > 0 && payload) {
            f->packets++;
            if (r->state == D_PENDING) {
                if (r->tries < UINT8_MAX)
                    r->tries++;
                reasm_tcp(f->pool, r, tcp_seq, has_seq, payload, len);
                tcp_parse(f, dir, sport, dport);
            }
        }
    } else if (len > 0 && payload) {
        f->packets++;
        udp_feed(f, dir, sport, dport, payload, len);
    }
    if (f->d[0].state != D_PENDING && f->d[1].state != D_PENDING)
        return false;
    return f->packets < INSPECT_MAX_PACKETS;
}
