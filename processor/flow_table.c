/*
 * flow_table.c — the bidirectional flow cache and its timeout rules (see
 * flow_table.h for the contract).
 *
 * Data layout: flows come from a pool grown in chunks and recycled through a
 * free list, so steady state allocates nothing. uthash indexes them by the
 * canonical key (key.a/key.pa is the lower (address, port) endpoint). Each
 * open flow sits on one of three idle lists (TCP, UDP, other) in last-packet
 * order, and on the active list in deadline order; closed (FIN/RST) flows sit
 * on the linger list in close order instead. The head of each list is the next
 * to expire, so a sweep stops at the first flow that has not.
 *
 * Determinism: the rules below depend only on packet time. An interim record
 * fires at deadline d = first + k * active only if the flow is still alive at d
 * and has packets since its previous record; a final record for an idle or
 * lingering flow is preceded by the interim it would have had. So the inline
 * path (a packet touching an expired flow) and the janitor's sweep produce the
 * same records, whichever happens first.
 */
#include "flow_table.h"

#include "../models/community_id.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* uthash must not exit() on allocation failure: mark the element instead. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(elt) ((elt)->oom = 1)
#include <uthash.h>
#include <sys/random.h>

/*
 * uthash tuning (the macros are expanded where they are used, so redefining
 * them after the include takes effect): start with 2^14 buckets (256 KiB) so a
 * busy table does not double a dozen times while it fills. The expansion
 * threshold stays uthash's 10: a threshold of 4 was measured to quadruple the
 * table's memory (about 950 instead of 220 bytes per flow at 1M flows) and to
 * be slower. Keys are hashed by flow_key_hash() below, passed in through the
 * *_BYHASHVALUE forms, never by HASH_FUNCTION.
 */
#undef HASH_INITIAL_NUM_BUCKETS
#undef HASH_INITIAL_NUM_BUCKETS_LOG2
#undef HASH_BKT_CAPACITY_THRESH
#define HASH_INITIAL_NUM_BUCKETS 16384U
#define HASH_INITIAL_NUM_BUCKETS_LOG2 14U
#define HASH_BKT_CAPACITY_THRESH 10U

#define TCP_FIN 0x01u
#define TCP_SYN 0x02u
#define TCP_RST 0x04u
#define TCP_ACK 0x10u

#define PROTO_ICMP   1
#define PROTO_TCP    6
#define PROTO_UDP    17
#define PROTO_ICMPV6 58

#define POOL_CHUNK 4096u

/* Fragment table: first fragments' ports, so later fragments find their flow. */
#define FRAG_SLOTS 4096u
#define FRAG_PROBES 8u
#define FRAG_TTL_US (30u * 1000000u)

enum flow_list { LIST_TCP = 0, LIST_UDP, LIST_OTHER, LIST_LINGER, LIST_COUNT };

struct flow_key {              /* 40 bytes, no padding; zeroed before use */
    uint8_t  a[16], b[16];     /* a = lower (address, port) endpoint */
    uint16_t pa, pb;
    uint16_t vlan;
    uint8_t  proto;
    uint8_t  ipver;
};

/* The lookup touches hh (hashv, chain link) and then key: they share the
 * first two cache lines; the counters a packet updates follow. */
struct flow {
    UT_hash_handle hh;
    struct flow_key key;
    uint8_t  init_is_a;        /* initiator is endpoint a */
    uint8_t  init_inferred;    /* the TCP start was missed: init_is_a is a port guess */
    uint8_t  list;             /* enum flow_list */
    uint8_t  fin_mask;         /* bit0 FIN from initiator, bit1 FIN from responder */
    uint8_t  closed;           /* 0 open, else FLOW_END_FIN/RST + 1 */
    uint8_t  flags[2];         /* TCP flags ORed, [0] initiator -> responder */
    uint8_t  icmp_type, icmp_code;
    uint8_t  has_icmp;
    uint8_t  oom;              /* set by uthash when it could not index this flow */
    uint64_t rec_first_us;     /* earliest packet time in the current record */
    uint64_t rec_last_us;      /* latest packet time in the current (or, if empty, previous) record */
    uint64_t touch_us;         /* clock when the last packet came: orders the idle lists */
    uint64_t deadline_us;      /* open: next active deadline; closed: end of linger */
    uint64_t pkts[2], bytes[2];/* current record, [0] initiator -> responder */
    struct flow *prev, *next;  /* idle or linger list */
    struct flow *aprev, *anext;/* active list (open flows only) */
};

struct flow_dlist { struct flow *head, *tail; };

struct frag_entry {
    uint8_t  src[16], dst[16];
    uint32_t id;
    uint16_t vlan;
    uint8_t  proto, ipver;
    uint16_t sport, dport;
    uint8_t  icmp_type, icmp_code;
    uint8_t  used;
    uint64_t seen_us;
};

struct pool_chunk { struct pool_chunk *next; struct flow flows[POOL_CHUNK]; };

struct flow_table {
    struct flow_table_cfg cfg;
    uint64_t seed[4];                     /* flow_key_hash keys, random per table */
    struct flow *hash;                    /* uthash head */
    struct flow_dlist lists[LIST_COUNT];  /* idle lists + linger list */
    struct flow *act_head, *act_tail;     /* active list, by deadline */
    struct flow *free_list;
    struct pool_chunk *chunks;
    uint64_t clock_us;
    uint64_t count;
    struct flow_table_stats st;
    struct frag_entry frags[FRAG_SLOTS];
};

/* ---- lists ------------------------------------------------------------- */

static void list_append(struct flow_dlist *l, struct flow *f)
{
    f->next = NULL;
    f->prev = l->tail;
    if (l->tail)
        l->tail->next = f;
    else
        l->head = f;
    l->tail = f;
}

static void list_unlink(struct flow_dlist *l, struct flow *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        l->head = f->next;
    if (f->next)
        f->next->prev = f->prev;
    else
        l->tail = f->prev;
    f->prev = f->next = NULL;
}

static void active_unlink(flow_table *ft, struct flow *f)
{
    if (f->aprev)
        f->aprev->anext = f->anext;
    else if (ft->act_head == f)
        ft->act_head = f->anext;
    else
        return;                        /* not on the list */
    if (f->anext)
        f->anext->aprev = f->aprev;
    else
        ft->act_tail = f->aprev;
    f->aprev = f->anext = NULL;
}

/* Insert keeping deadline order; new deadlines are nearly always the largest. */
static void active_insert(flow_table *ft, struct flow *f)
{
    struct flow *after = ft->act_tail;
    while (after && after->deadline_us > f->deadline_us)
        after = after->aprev;
    f->aprev = after;
    f->anext = after ? after->anext : ft->act_head;
    if (f->anext)
        f->anext->aprev = f;
    else
        ft->act_tail = f;
    if (after)
        after->anext = f;
    else
        ft->act_head = f;
}

/* ---- pool -------------------------------------------------------------- */

static struct flow *flow_alloc(flow_table *ft)
{
    if (!ft->free_list) {
        struct pool_chunk *c = malloc(sizeof *c);
        if (!c)
            return NULL;
        c->next = ft->chunks;
        ft->chunks = c;
        for (uint32_t i = POOL_CHUNK; i-- > 0;) {
            c->flows[i].next = ft->free_list;
            ft->free_list = &c->flows[i];
        }
    }
    struct flow *f = ft->free_list;
    ft->free_list = f->next;
    memset(f, 0, sizeof *f);
    return f;
}

static void flow_release(flow_table *ft, struct flow *f)
{
    f->next = ft->free_list;
    ft->free_list = f;
}

/* ---- records ------------------------------------------------------------ */

static void build_event(const struct flow *f, enum flow_end_reason reason, bool final,
                        struct flow_event *ev)
{
    memset(ev, 0, sizeof *ev);
    const uint8_t *sip = f->init_is_a ? f->key.a : f->key.b;
    const uint8_t *dip = f->init_is_a ? f->key.b : f->key.a;
    memcpy(ev->src_ip, sip, 16);
    memcpy(ev->dst_ip, dip, 16);
    if (f->has_icmp) {                 /* the key's pa/pb are not ports (icmp_key) */
        ev->src_port = ev->dst_port = 0;
    } else {
        ev->src_port = f->init_is_a ? f->key.pa : f->key.pb;
        ev->dst_port = f->init_is_a ? f->key.pb : f->key.pa;
    }
    ev->vlan_id = f->key.vlan;
    ev->ip_version = f->key.ipver;
    ev->protocol = f->key.proto;
    /* Reported times are the packets' own; an empty record sits at the last one. */
    ev->first_us = f->pkts[0] + f->pkts[1] ? f->rec_first_us : f->rec_last_us;
    ev->last_us = f->rec_last_us;
    ev->src_packets = f->pkts[0];
    ev->src_bytes = f->bytes[0];
    ev->dst_packets = f->pkts[1];
    ev->dst_bytes = f->bytes[1];
    ev->src_tcp_flags = f->flags[0];
    ev->dst_tcp_flags = f->flags[1];
    ev->icmp_type = f->icmp_type;
    ev->icmp_code = f->icmp_code;
    ev->has_icmp = f->has_icmp;
    ev->end_reason = (uint8_t)reason;
    ev->initiator_inferred = f->init_inferred;
    ev->final = final;
}

static bool record_empty(const struct flow *f) { return f->pkts[0] + f->pkts[1] == 0; }

static void record_reset(struct flow *f)
{
    f->pkts[0] = f->pkts[1] = 0;
    f->bytes[0] = f->bytes[1] = 0;
    f->flags[0] = f->flags[1] = 0;
}

/* An output sink: either a callback or a bounded array. */
struct sink {
    flow_emit_fn emit;
    void *arg;
    struct flow_event *out;
    size_t n, max;
};

static bool sink_full(const struct sink *s) { return s->out && s->n >= s->max; }

/* Room for the (at most two) records that ending one flow can produce. */
static bool sink_has_room(const struct sink *s, size_t need)
{
    return !s->out || s->max - s->n >= need;
}

static void sink_put(struct sink *s, const struct flow_event *ev)
{
    if (s->out)
        s->out[s->n++] = *ev;
    else
        s->emit(s->arg, ev);
}

static void emit_interim(flow_table *ft, struct flow *f, struct sink *s)
{
    struct flow_event ev;
    build_event(f, FLOW_END_ACTIVE, false, &ev);
    sink_put(s, &ev);
    ft->st.interim_records++;
    record_reset(f);
}

static uint64_t idle_timeout(const flow_table *ft, const struct flow *f)
{
    switch (f->list) {
    case LIST_TCP: return ft->cfg.tcp_idle_us;
    case LIST_UDP: return ft->cfg.udp_idle_us;
    default:       return ft->cfg.other_idle_us;
    }
}

/* The time at which this flow ends by itself (idle or end of linger). */
static uint64_t expiry_time(const flow_table *ft, const struct flow *f)
{
    return f->closed ? f->deadline_us : f->touch_us + idle_timeout(ft, f);
}

/* Unlink from every index and emit the final record (after the interim it is owed). */
static void flow_end(flow_table *ft, struct flow *f, enum flow_end_reason reason, struct sink *s)
{
    if (!f->closed && f->deadline_us < expiry_time(ft, f) && f->deadline_us <= ft->clock_us &&
        !record_empty(f))
        emit_interim(ft, f, s);
    struct flow_event ev;
    build_event(f, reason, true, &ev);
    sink_put(s, &ev);
    ft->st.flows_ended++;
    ft->st.ended[reason]++;
    if (reason == FLOW_END_EVICTED)
        ft->st.evicted++;
    HASH_DELETE(hh, ft->hash, f);
    list_unlink(&ft->lists[f->list], f);
    active_unlink(ft, f);
    ft->count--;
    flow_release(ft, f);
}

static enum flow_end_reason natural_reason(const struct flow *f)
{
    if (f->closed)
        return (enum flow_end_reason)(f->closed - 1);
    return FLOW_END_IDLE;
}

static bool expired_at(const flow_table *ft, const struct flow *f, uint64_t now)
{
    return now >= expiry_time(ft, f);
}

/* First grid point first + k*active strictly after `now`. */
static uint64_t next_deadline(const flow_table *ft, uint64_t deadline, uint64_t now)
{
    if (deadline > now)
        return deadline;
    uint64_t periods = (now - deadline) / ft->cfg.active_us + 1;
    return deadline + periods * ft->cfg.active_us;
}

/* The active deadline of an open flow passed at `now`: interim if it has packets. */
static void deadline_passed(flow_table *ft, struct flow *f, uint64_t now, struct sink *s)
{
    if (!record_empty(f))
        emit_interim(ft, f, s);
    active_unlink(ft, f);
    f->deadline_us = next_deadline(ft, f->deadline_us, now);
    active_insert(ft, f);
}

/* The sweep shared by the janitor, the full-table path and shutdown. */
static void sweep(flow_table *ft, uint64_t now, struct sink *s)
{
    for (int l = 0; l < LIST_COUNT; l++) {
        struct flow *f;
        while ((f = ft->lists[l].head) && expired_at(ft, f, now)) {
            if (!sink_has_room(s, 2))
                return;
            flow_end(ft, f, natural_reason(f), s);
        }
    }
    struct flow *f;
    while ((f = ft->act_head) && f->deadline_us <= now) {
        if (!sink_has_room(s, 1))
            return;
        deadline_passed(ft, f, now, s);
    }
}

/* ---- packets ------------------------------------------------------------ */

static uint64_t load_be64(const uint8_t *p)
{
    return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32 |
           (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 | (uint64_t)p[6] << 8 | (uint64_t)p[7];
}

/* memcmp order of the addresses, then the ports (without a call to memcmp). */
static int endpoint_cmp(const uint8_t *a, uint16_t pa, const uint8_t *b, uint16_t pb)
{
    uint64_t x = load_be64(a), y = load_be64(b);
    if (x == y) {
        x = load_be64(a + 8);
        y = load_be64(b + 8);
    }
    if (x != y)
        return x < y ? -1 : 1;
    return (pa > pb) - (pa < pb);
}

/*
 * ICMP/ICMPv6 flows are one exchange each, told apart the way the Community ID
 * tells them apart, plus the identifier: a request/reply pair (echo,
 * timestamp, neighbour discovery, ...) is keyed by the pair and its
 * identifier (sport, see decode.h; 0 for pairs without one), so two ping
 * sessions between the same hosts are two flows; a one-way type (errors,
 * redirects, ...) by its type and code. The key's pa/pb hold these
 * (0x100 marks one-way) instead of ports; build_event reports ports 0.
 */
static void icmp_key(const struct pkt_record *p, struct flow_key *k)
{
    int peer = community_id_icmp_counterpart(p->proto, p->icmp_type);
    if (peer >= 0) {
        k->pa = (uint16_t)(p->icmp_type < peer ? p->icmp_type : peer);
        k->pb = p->sport;
    } else {
        k->pa = (uint16_t)(0x100u | p->icmp_type);
        k->pb = p->icmp_code;
    }
}

static bool is_icmp(uint8_t proto) { return proto == PROTO_ICMP || proto == PROTO_ICMPV6; }

/* Canonical key; returns whether the packet's source is endpoint a. */
static bool make_key(const struct pkt_record *p, struct flow_key *k)
{
    memset(k, 0, sizeof *k);
    bool icmp = is_icmp(p->proto);
    uint16_t sport = icmp ? 0 : p->sport, dport = icmp ? 0 : p->dport;
    bool src_is_a = endpoint_cmp(p->src, sport, p->dst, dport) <= 0;
    memcpy(k->a, src_is_a ? p->src : p->dst, 16);
    memcpy(k->b, src_is_a ? p->dst : p->src, 16);
    k->pa = src_is_a ? sport : dport;
    k->pb = src_is_a ? dport : sport;
    if (icmp)
        icmp_key(p, k);
    k->vlan = p->vlan_id;
    k->proto = p->proto;
    k->ipver = p->ip_version;
    return src_is_a;
}

static uint64_t load64(const void *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* 64x64 -> 128-bit multiply, folded (the "mum" step of wyhash). */
static uint64_t mum(uint64_t a, uint64_t b)
{
    unsigned __int128 r = (unsigned __int128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/*
 * Hash of a whole 40-byte key: three multiplies over its five words, keyed by
 * a random per-table seed so that nobody can choose 5-tuples that all land in
 * one chain (uthash's Jenkins hash, unkeyed, cost ~4x as much). The result
 * does not influence any output: it only places flows in buckets.
 */
_Static_assert(sizeof(struct flow_key) == 40, "flow_key_hash reads five words");
static uint32_t flow_key_hash(const flow_table *ft, const struct flow_key *k)
{
    const unsigned char *p = (const unsigned char *)k;
    uint64_t h = mum(load64(p) ^ ft->seed[0], load64(p + 8) ^ ft->seed[1]) ^
                 mum(load64(p + 16) ^ ft->seed[2], load64(p + 24) ^ ft->seed[3]);
    h = mum(h ^ load64(p + 32), 0x9e3779b97f4a7c15ull ^ ft->seed[0]);
    return (uint32_t)(h ^ (h >> 32));
}

static bool flow_key_eq(const struct flow_key *a, const struct flow_key *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    return ((load64(x) ^ load64(y)) | (load64(x + 8) ^ load64(y + 8)) |
            (load64(x + 16) ^ load64(y + 16)) | (load64(x + 24) ^ load64(y + 24)) |
            (load64(x + 32) ^ load64(y + 32))) == 0;
}

#undef HASH_KEYCMP
#define HASH_KEYCMP(a, b, n) (flow_key_eq((const struct flow_key *)(a), (const struct flow_key *)(b)) ? 0 : 1)

static uint32_t frag_hash(const struct pkt_record *p)
{
    uint32_t h = 2166136261u;                       /* FNV-1a */
    const uint8_t *parts[2] = {p->src, p->dst};
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 16; j++)
            h = (h ^ parts[i][j]) * 16777619u;
    if (p->ip_version == 4)                         /* see frag_match */
        h = (h ^ p->proto) * 16777619u;
    h = (h ^ p->frag_id) * 16777619u;
    h = (h ^ p->vlan_id) * 16777619u;
    return h;
}

/* IPv4 fragments are identified by (src, dst, protocol, id) (RFC 791); IPv6
 * ones by (src, dst, id) alone: the Next Header of a later fragment may differ
 * from the first's (RFC 8200 §4.5, e.g. nested Fragment headers), and the
 * first fragment's is the datagram's (frag_resolve copies it). */
static bool frag_match(const struct frag_entry *e, const struct pkt_record *p)
{
    return e->used && e->id == p->frag_id && (e->proto == p->proto || p->ip_version == 6) &&
           e->ipver == p->ip_version &&
           e->vlan == p->vlan_id && memcmp(e->src, p->src, 16) == 0 &&
           memcmp(e->dst, p->dst, 16) == 0;
}

static void frag_remember(flow_table *ft, const struct pkt_record *p)
{
    uint32_t h = frag_hash(p);
    struct frag_entry *victim = NULL;
    for (uint32_t i = 0; i < FRAG_PROBES; i++) {
        struct frag_entry *e = &ft->frags[(h + i) & (FRAG_SLOTS - 1)];
        if (frag_match(e, p) || !e->used) {
            victim = e;
            break;
        }
        if (!victim || e->seen_us < victim->seen_us)
            victim = e;                              /* else replace the stalest */
    }
    memcpy(victim->src, p->src, 16);
    memcpy(victim->dst, p->dst, 16);
    victim->id = p->frag_id;
    victim->vlan = p->vlan_id;
    victim->proto = p->proto;
    victim->ipver = p->ip_version;
    victim->sport = p->sport;
    victim->dport = p->dport;
    victim->icmp_type = p->icmp_type;
    victim->icmp_code = p->icmp_code;
    victim->seen_us = ft->clock_us;
    victim->used = 1;
}

/* Fill a later fragment's ports from its first fragment; false when unknown. */
static bool frag_resolve(flow_table *ft, struct pkt_record *p)
{
    uint32_t h = frag_hash(p);
    for (uint32_t i = 0; i < FRAG_PROBES; i++) {
        struct frag_entry *e = &ft->frags[(h + i) & (FRAG_SLOTS - 1)];
        if (frag_match(e, p)) {
            if (ft->clock_us - e->seen_us > FRAG_TTL_US)
                return false;
            p->proto = e->proto;
            p->sport = e->sport;
            p->dport = e->dport;
            p->icmp_type = e->icmp_type;
            p->icmp_code = e->icmp_code;
            return true;
        }
    }
    return false;
}

static enum flow_list list_for_proto(uint8_t proto)
{
    return proto == PROTO_TCP ? LIST_TCP : proto == PROTO_UDP ? LIST_UDP : LIST_OTHER;
}

/* The open flow (or lingering one) that has waited longest, for eviction. */
static struct flow *oldest_flow(flow_table *ft)
{
    struct flow *best = ft->lists[LIST_LINGER].head;   /* closed flows go first */
    if (best)
        return best;
    for (int l = 0; l < LIST_LINGER; l++) {
        struct flow *f = ft->lists[l].head;
        if (f && (!best || f->touch_us < best->touch_us))
            best = f;
    }
    return best;
}

/* Service port order: a port below 1024 before any other, then the lower one. */
static bool port_is_service(uint16_t port, uint16_t other)
{
    if ((port < 1024) != (other < 1024))
        return port < 1024;
    return port < other;
}

/*
 * A TCP flow whose first packet has no SYN began before the capture: like Zeek
 * and argus, take the side with the service port (well-known, else lower) as
 * the responder; equal ports leave the first packet's sender as initiator.
 * Either way the direction is a guess, and the record says so.
 */
static void infer_initiator(struct flow *f, const struct pkt_record *p, bool src_is_a)
{
    f->init_inferred = 1;
    if (port_is_service(p->sport, p->dport))
        f->init_is_a = !src_is_a;
    else if (port_is_service(p->dport, p->sport))
        f->init_is_a = src_is_a;
}

static struct flow *flow_create(flow_table *ft, const struct flow_key *k, uint32_t hashv,
                                const struct pkt_record *p, bool src_is_a, struct sink *s)
{
    if (ft->count >= ft->cfg.max_flows) {
        sweep(ft, ft->clock_us, s);
        if (ft->count >= ft->cfg.max_flows) {
            struct flow *old = oldest_flow(ft);
            flow_end(ft, old, old->closed ? natural_reason(old) : FLOW_END_EVICTED, s);
        }
    }
    struct flow *f = flow_alloc(ft);
    if (!f)
        return NULL;
    f->key = *k;
    bool synack = p->proto == PROTO_TCP && (p->tcp_flags & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK);
    /* The initiator is the SYN sender: a SYN+ACK's receiver, else the first packet's sender. */
    f->init_is_a = synack ? !src_is_a : src_is_a;
    if (p->proto == PROTO_TCP && !(p->tcp_flags & TCP_SYN) && !(p->flags & PKT_F_L4_TRUNC) &&
        !(p->flags & PKT_F_FRAG_NONFIRST))
        infer_initiator(f, p, src_is_a);
    f->list = (uint8_t)list_for_proto(p->proto);
    if (p->proto == PROTO_ICMP || p->proto == PROTO_ICMPV6) {
        f->has_icmp = 1;
        f->icmp_type = p->icmp_type;
        f->icmp_code = p->icmp_code;
    }
    f->touch_us = ft->clock_us;
    f->deadline_us = ft->clock_us + ft->cfg.active_us;
    HASH_ADD_BYHASHVALUE(hh, ft->hash, key, sizeof(struct flow_key), hashv, f);
    if (f->oom) {
        flow_release(ft, f);
        return NULL;
    }
    list_append(&ft->lists[f->list], f);
    active_insert(ft, f);
    ft->count++;
    ft->st.flows_created++;
    return f;
}

static void tcp_state(flow_table *ft, struct flow *f, int dir, uint8_t flags)
{
    if (f->closed)
        return;
    if (flags & TCP_FIN)
        f->fin_mask |= (uint8_t)(1u << dir);
    uint8_t reason = 0;
    if (flags & TCP_RST)
        reason = FLOW_END_RST + 1;
    else if (f->fin_mask == 3)
        reason = FLOW_END_FIN + 1;
    if (!reason)
        return;
    f->closed = reason;
    list_unlink(&ft->lists[f->list], f);
    active_unlink(ft, f);
    f->list = LIST_LINGER;
    f->deadline_us = ft->clock_us + ft->cfg.linger_us;
    list_append(&ft->lists[LIST_LINGER], f);
}

/* A packet's key, which side it came from, and the key's hash. */
struct keyed {
    struct flow_key key;
    uint32_t hashv;
    bool src_is_a;
};

static void key_packet(const flow_table *ft, const struct pkt_record *pkt, struct keyed *kd)
{
    kd->src_is_a = make_key(pkt, &kd->key);
    if (ft->cfg.ignore_vlan)
        kd->key.vlan = 0;
    kd->hashv = flow_key_hash(ft, &kd->key);
}

/* Fold one packet; kd is its key when the caller computed it already (not
 * for later fragments, whose ports come from the fragment table). */
static void fold_packet(flow_table *ft, const struct pkt_record *pkt, const struct keyed *kd,
                        struct sink *s)
{
    struct pkt_record frag;
    struct keyed own;
    if (pkt->flags & PKT_F_FRAG_NONFIRST) {
        frag = *pkt;
        if (!frag_resolve(ft, &frag)) {
            ft->st.frag_orphans++;
            return;
        }
        pkt = &frag;
        kd = NULL;
    }
    if (!kd) {
        key_packet(ft, pkt, &own);
        kd = &own;
    }

    uint64_t now = ft->clock_us;
    const struct flow_key *key = &kd->key;
    bool src_is_a = kd->src_is_a;
    struct flow *f = NULL;
    HASH_FIND_BYHASHVALUE(hh, ft->hash, key, sizeof *key, kd->hashv, f);

    bool pure_syn = pkt->proto == PROTO_TCP && (pkt->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
    if (f && (expired_at(ft, f, now) || (f->closed && pure_syn))) {
        flow_end(ft, f, natural_reason(f), s);
        f = NULL;
    }
    if (f && !f->closed && f->deadline_us <= now)
        deadline_passed(ft, f, now, s);
    if (!f) {
        f = flow_create(ft, key, kd->hashv, pkt, src_is_a, s);
        if (!f) {
            ft->st.alloc_failures++;
            return;
        }
    }

    int dir = (src_is_a == (bool)f->init_is_a) ? 0 : 1;
    if (record_empty(f)) {
        f->rec_first_us = f->rec_last_us = pkt->ts_us;
    } else {
        if (pkt->ts_us < f->rec_first_us)
            f->rec_first_us = pkt->ts_us;
        if (pkt->ts_us > f->rec_last_us)
            f->rec_last_us = pkt->ts_us;
    }
    f->pkts[dir]++;
    f->bytes[dir] += pkt->wire_len;
    f->flags[dir] |= pkt->tcp_flags;
    f->touch_us = now;
    ft->st.packets++;
    if (!f->closed) {
        if (ft->lists[f->list].tail != f) {   /* keep last-packet order */
            list_unlink(&ft->lists[f->list], f);
            list_append(&ft->lists[f->list], f);
        }
        if (pkt->proto == PROTO_TCP)
            tcp_state(ft, f, dir, pkt->tcp_flags);
    }
    if (pkt->flags & PKT_F_FRAG_FIRST)
        frag_remember(ft, pkt);
}

/* ---- public API ------------------------------------------------------------ */

flow_table *flow_table_create(const struct flow_table_cfg *cfg, char *err, size_t errlen)
{
    if (!cfg->tcp_idle_us || !cfg->udp_idle_us || !cfg->other_idle_us || !cfg->active_us ||
        !cfg->max_flows) {
        snprintf(err, errlen, "flow table: timeouts and max_flows must be positive");
        return NULL;
    }
    flow_table *ft = calloc(1, sizeof *ft);
    if (!ft) {
        snprintf(err, errlen, "flow table: out of memory");
        return NULL;
    }
    ft->cfg = *cfg;
    if (getrandom(ft->seed, sizeof ft->seed, GRND_NONBLOCK) != (ssize_t)sizeof ft->seed) {
        /* Only placement in buckets depends on it; any value is correct. */
        uint64_t x = (uint64_t)(uintptr_t)ft ^ 0x243f6a8885a308d3ull;
        for (int i = 0; i < 4; i++) {
            x += 0x9e3779b97f4a7c15ull;
            ft->seed[i] = mum(x, 0xbf58476d1ce4e5b9ull);
        }
    }
    return ft;
}

void flow_table_destroy(flow_table *ft)
{
    if (!ft)
        return;
    HASH_CLEAR(hh, ft->hash);
    struct pool_chunk *c = ft->chunks;
    while (c) {
        struct pool_chunk *next = c->next;
        free(c);
        c = next;
    }
    free(ft);
}

void flow_table_packet(flow_table *ft, const struct pkt_record *pkt, flow_emit_fn emit, void *arg)
{
    if (pkt->ts_us > ft->clock_us)
        ft->clock_us = pkt->ts_us;
    struct sink s = {.emit = emit, .arg = arg};
    fold_packet(ft, pkt, NULL, &s);
}

/* How far ahead of the packet being folded the burst path prefetches. */
#define FT_PREFETCH_AHEAD 4u
#define FT_BURST_MAX 64u

void flow_table_packet_burst(flow_table *ft, const struct pkt_record *pkts, size_t n,
                             flow_emit_fn emit, void *arg)
{
    struct sink s = {.emit = emit, .arg = arg};
    struct keyed kd[FT_BURST_MAX];
    while (n > 0) {
        size_t m = n < FT_BURST_MAX ? n : FT_BURST_MAX;
        /* Keys and hashes depend on the packet alone: compute them first and
         * fetch their buckets' chain heads while earlier packets are folded.
         * The folding itself stays strictly in order. */
        for (size_t i = 0; i < m; i++)
            key_packet(ft, &pkts[i], &kd[i]);
        for (size_t i = 0; i < m; i++) {
            if (ft->hash && i + FT_PREFETCH_AHEAD < m) {
                const UT_hash_table *tb = ft->hash->hh.tbl;
                const UT_hash_bucket *b = &tb->buckets[kd[i + FT_PREFETCH_AHEAD].hashv & (tb->num_buckets - 1u)];
                __builtin_prefetch(b);
                if (i + 1 < m) {
                    const UT_hash_bucket *b1 = &tb->buckets[kd[i + 1].hashv & (tb->num_buckets - 1u)];
                    if (b1->hh_head)
                        __builtin_prefetch(b1->hh_head);
                }
            }
            const struct pkt_record *pkt = &pkts[i];
            if (pkt->ts_us > ft->clock_us)
                ft->clock_us = pkt->ts_us;
            fold_packet(ft, pkt, &kd[i], &s);
        }
        pkts += m;
        n -= m;
    }
}

size_t flow_table_expire(flow_table *ft, uint64_t now_us, struct flow_event *out, size_t max)
{
    if (now_us > ft->clock_us)
        ft->clock_us = now_us;
    struct sink s = {.out = out, .max = max};
    if (max < 2)
        return 0;
    sweep(ft, ft->clock_us, &s);
    return s.n;
}

size_t flow_table_flush(flow_table *ft, struct flow_event *out, size_t max)
{
    struct sink s = {.out = out, .max = max};
    if (max < 2)
        return 0;
    sweep(ft, ft->clock_us, &s);
    if (sink_full(&s) || !sink_has_room(&s, 2))
        return s.n;
    for (int l = 0; l < LIST_COUNT; l++) {
        struct flow *f;
        while ((f = ft->lists[l].head)) {
            if (!sink_has_room(&s, 2))
                return s.n;
            flow_end(ft, f, f->closed ? natural_reason(f) : FLOW_END_SHUTDOWN, &s);
        }
    }
    return s.n;
}

uint64_t flow_table_clock(const flow_table *ft) { return ft->clock_us; }

void flow_table_get_stats(const flow_table *ft, struct flow_table_stats *out)
{
    *out = ft->st;
    out->active_flows = ft->count;
}
