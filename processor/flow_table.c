/*
 * flow_table.c — the bidirectional flow cache and its timeout rules (see
 * flow_table.h for the contract).
 *
 * Data layout: flows come from a pool grown in chunks and recycled through a
 * free list, so steady state allocates nothing. uthash indexes them by the
 * canonical key (key.a/key.pa is the lower (address, port) endpoint). Each
 * open flow sits on one of three idle lists (TCP, UDP, other) in last-packet
 * order, and on the active timer; closed (FIN/RST) flows sit on the linger
 * list in close order instead. The head of each list is the next to expire,
 * so a sweep stops at the first flow that has not.
 *
 * The active timer has two parts. A new flow's first deadline is clock +
 * active, and the clock never goes back, so first deadlines come in order:
 * they go on the tail of a list (O(1)), and most flows end there. A re-armed
 * deadline (first + k * active, the first grid point after now) has no such
 * order: flows made between the old deadline and now have earlier ones. It
 * goes into a binary min-heap (O(log n) per re-arm and removal) instead of
 * being inserted into the list, which walked back over every flow made since
 * (issue 13.3: M long flows re-armed behind K new ones cost M*K steps). The
 * next deadline is the earlier of the list head and the heap top. The heap's
 * room grows with the flow pool, so arming a deadline never allocates.
 *
 * Determinism: the rules below depend only on packet time. An interim record
 * fires at deadline d = first + k * active only if the flow is still alive at d
 * and has packets since its previous record; a final record for an idle or
 * lingering flow is preceded by the interim it would have had. So the inline
 * path (a packet touching an expired flow) and the janitor's sweep produce the
 * same records, whichever happens first.
 */
#include "flow_table.h"

#include "../common/mix.h"
#include "../models/community_id.h"
#include "flow_stats.h"
#include "tcp_health.h"
#include "dpi.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* uthash must not exit() on allocation failure: mark the element instead. */
#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(elt) ((elt)->oom = 1)
#include <uthash.h>
#include <sys/mman.h>
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

/* The pool grows by chunks of 2 MiB (one transparent huge page where the
 * kernel gives them: first touching a new chunk costs one fault, not 512). */
#define POOL_CHUNK_BYTES (2u << 20)

/*
 * Fragment table: first fragments' ports, so later fragments find their flow.
 * Open addressing (FRAG_PROBES slots from a keyed hash) over FRAG_SLOTS. A
 * source address holds at most FRAG_PER_SOURCE entries: its next first
 * fragment recycles its own oldest entry (counted), so one host flooding first
 * fragments churns its own entries, not other hosts' (issue 13.11). The
 * per-source counts live in a second open-addressed table with twice as many
 * slots as there can be sources (one per entry at most).
 */
#define FRAG_SLOTS 4096u
#define FRAG_PROBES 8u
#define FRAG_TTL_US (30u * 1000000u)
#define FRAG_PER_SOURCE 64u
#define FRAG_SRC_SLOTS (2u * FRAG_SLOTS)
#define FRAG_NIL 0xffffu

enum flow_list { LIST_TCP = 0, LIST_UDP, LIST_OTHER, LIST_LINGER, LIST_COUNT };

struct flow_key {              /* 48 bytes, no padding; zeroed before use */
    uint8_t  a[16], b[16];     /* a = lower (address, port) endpoint */
    uint16_t pa, pb;
    uint16_t vlan;
    uint8_t  proto;
    uint8_t  ipver;
    /* tunnel (issue 14): the innermost tunnel's type and its segment id
     * (tunnel_key_id: VNI, GRE key, ERSPAN session; 0 for GTP-U); 0 = none */
    uint32_t tun_id;
    uint8_t  tun_type;
    uint8_t  tun_pad[3];
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
    uint32_t heap_pos;         /* 1 + slot in the re-armed deadline heap; 0: not in it */
    uint64_t rec_first_us;     /* earliest packet time in the current record */
    uint64_t rec_last_us;      /* latest packet time in the current (or, if empty, previous) record */
    uint64_t touch_us;         /* clock when the last packet came: orders the idle lists */
    uint64_t deadline_us;      /* open: next active deadline; closed: end of linger */
    uint64_t pkts[2], bytes[2];/* current record, [0] initiator -> responder */
    struct flow *prev, *next;  /* idle or linger list */
    struct flow *aprev, *anext;/* list of first active deadlines (open flows only) */
    /* tunnel (issue 14): the type is in the key; the rest of the first
     * packet's tunnel is out of line (struct flow_tunnel, flow_tunnel_of) */
    /* interface, MACs, DSCP, TTL per side (issue 14 items 7-8); [0] initiator, [1] responder,
     * over the flow's whole life (not reset by interim records) */
    uint8_t  mac[2][6];        /* each side's MAC (see note_first_of_side) */
    uint8_t  mac_known;        /* bit d: mac[d] is set */
    uint8_t  mac_own;          /* bit d: mac[d] is the source MAC of a packet side d sent */
    uint8_t  side_seen;        /* bit d: side d has sent a packet */
    uint8_t  dscp[2];          /* DSCP of the first packet each side sent */
    uint8_t  ttl_min[2], ttl_max[2]; /* TTL / hop limit range of the packets each side sent */
    uint16_t iface;            /* interface id of the flow's first packet */
    uint16_t iface_other;      /* first other interface id a packet came in on; 0 none */
    /* TCP health (issue 15 item 5), on by default: inline */
    struct tcp_health tcp;
    /* statistics and dpi (issue 15), off by default: out of line, in arrays of
     * the flow's pool chunk made only when the group is on, so the flow a
     * packet touches stays a few cache lines; found from the flow's address
     * (flow_stats_of, flow_dpi_of), no pointer kept here */
};
/* Memory per flow (issue 15.1: a classified flow <= 512 bytes with its 24-byte
 * struct dpi_flow, 1,000,000 flows < 600 MiB). Raise this only knowingly, with
 * the README's Memory numbers measured again. */
_Static_assert(sizeof(struct flow) <= 336, "struct flow is at most 336 bytes per flow");

/* A tunnelled flow's first tunnel (issue 14), in its pool chunk's array made
 * at the chunk's first tunnelled flow: untunnelled traffic pays nothing. */
struct flow_tunnel {
    uint8_t  outer_src[16], outer_dst[16];   /* oriented initiator -> responder */
    uint32_t id;               /* the first packet's VNI / TEID / GRE key / session id */
    uint8_t  depth, outer_ipver, has_id;
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
    uint16_t sprev, snext;     /* the source's entries, oldest first (FRAG_NIL ends) */
    uint64_t seen_us;
};

/* How many fragment entries one source address holds, and its oldest/newest. */
struct frag_source {
    uint8_t  addr[16];
    uint32_t hash;             /* frag_src_hash(addr): home slot without rehashing */
    uint16_t n;                /* entries held; 0: slot free */
    uint16_t head, tail;       /* entry indexes, oldest and newest */
};

struct pool_chunk {
    struct pool_chunk *next;
    uint8_t *stats;            /* POOL_CHUNK statistics regions (state and early-packet slot,
                                  issue 15), NULL when AGENT_FLOW_STATS is off */
    size_t stats_size;         /* bytes of one region: flow_stats_size(AGENT_EARLY_PACKETS) */
    struct dpi_flow *dpi;      /* POOL_CHUNK DPI states, NULL when AGENT_DPI is off */
    struct flow_tunnel *tun;   /* POOL_CHUNK tunnels, NULL until a flow of the chunk is tunnelled */
    struct flow flows[];
};
#define POOL_CHUNK ((uint32_t)((POOL_CHUNK_BYTES - sizeof(struct pool_chunk)) / sizeof(struct flow)))

/* The chunk a flow lives in: chunks are POOL_CHUNK_BYTES-aligned (chunk_new). */
static inline struct pool_chunk *flow_chunk(const struct flow *f)
{
    return (struct pool_chunk *)((uintptr_t)f & ~(uintptr_t)(POOL_CHUNK_BYTES - 1u));
}

/* The flow's statistics state; NULL when AGENT_FLOW_STATS is off. */
static inline struct flow_stats *flow_stats_of(const struct flow *f)
{
    struct pool_chunk *c = flow_chunk(f);
    return c->stats ? (struct flow_stats *)(c->stats + (size_t)(f - c->flows) * c->stats_size) : NULL;
}

/* The tunnel of a flow with f->key.tun_type set (flow_set_tunnel made it). */
static inline const struct flow_tunnel *flow_tunnel_of(const struct flow *f)
{
    const struct pool_chunk *c = flow_chunk(f);
    return &c->tun[f - c->flows];
}

/* The flow's DPI state; NULL when AGENT_DPI is off. */
static inline struct dpi_flow *flow_dpi_of(const struct flow *f)
{
    struct pool_chunk *c = flow_chunk(f);
    return c->dpi ? &c->dpi[f - c->flows] : NULL;
}

/* A heap slot carries its deadline so that sifting reads no flow. */
struct heap_slot { uint64_t deadline_us; struct flow *f; };

struct flow_table {
    struct flow_table_cfg cfg;
    uint64_t seed[4];                     /* flow_key_hash keys, random per table */
    struct flow *hash;                    /* uthash head */
    struct flow_dlist lists[LIST_COUNT];  /* idle lists + linger list */
    struct flow *act_head, *act_tail;     /* first active deadlines, in order */
    struct heap_slot *heap;               /* re-armed active deadlines, min-heap */
    size_t heap_n, heap_cap;              /* heap_cap >= flows in the pool */
    struct flow *free_list;
    struct pool_chunk *chunks;
    size_t pool_flows;                    /* flows in all chunks */
    uint64_t clock_us;
    uint64_t count;
    struct flow_table_stats st;
    struct frag_entry frags[FRAG_SLOTS];
    struct frag_source frag_src[FRAG_SRC_SLOTS];
    /* dpi (issue 15) */
    dpi *dpi;                             /* NULL: no inspection */
    ring *payload[16];                    /* payload slots for records with payload_seq, per capture port */
    size_t npayload;
    uint64_t payload_orphans;             /* slots whose record never came (dropped) */
    uint64_t payload_missing;             /* records whose slot was not found */
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

/* A new flow's first deadline (clock + active): never earlier than the tail's. */
static void active_append(flow_table *ft, struct flow *f)
{
    f->anext = NULL;
    f->aprev = ft->act_tail;
    if (ft->act_tail)
        ft->act_tail->anext = f;
    else
        ft->act_head = f;
    ft->act_tail = f;
}

static void heap_set(flow_table *ft, size_t i, struct heap_slot v)
{
    ft->heap[i] = v;
    v.f->heap_pos = (uint32_t)(i + 1);
}

/* Move slot i's entry up or down to its place; counts the levels moved. */
static void heap_fix(flow_table *ft, size_t i)
{
    struct heap_slot v = ft->heap[i];
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (ft->heap[up].deadline_us <= v.deadline_us)
            break;
        heap_set(ft, i, ft->heap[up]);
        i = up;
        ft->st.deadline_steps++;
    }
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= ft->heap_n)
            break;
        if (c + 1 < ft->heap_n && ft->heap[c + 1].deadline_us < ft->heap[c].deadline_us)
            c++;
        if (ft->heap[c].deadline_us >= v.deadline_us)
            break;
        heap_set(ft, i, ft->heap[c]);
        i = c;
        ft->st.deadline_steps++;
    }
    heap_set(ft, i, v);
}

/* Room is guaranteed: heap_cap >= pool_flows (see flow_alloc). */
static void heap_push(flow_table *ft, struct flow *f)
{
    size_t i = ft->heap_n++;
    heap_set(ft, i, (struct heap_slot){f->deadline_us, f});
    heap_fix(ft, i);
}

static void heap_remove(flow_table *ft, struct flow *f)
{
    size_t i = f->heap_pos - 1u;
    f->heap_pos = 0;
    size_t last = --ft->heap_n;
    if (i == last)
        return;
    heap_set(ft, i, ft->heap[last]);
    heap_fix(ft, i);
}

/* Off the active timer, wherever the flow's deadline is. */
static void active_remove(flow_table *ft, struct flow *f)
{
    if (f->heap_pos)
        heap_remove(ft, f);
    else
        active_unlink(ft, f);
}

/* f->deadline_us moved later: into the heap, or down in it. */
static void active_rearm(flow_table *ft, struct flow *f)
{
    if (f->heap_pos) {
        ft->heap[f->heap_pos - 1u].deadline_us = f->deadline_us;
        heap_fix(ft, f->heap_pos - 1u);
    } else {
        active_unlink(ft, f);
        heap_push(ft, f);
    }
}

/* The open flow whose active deadline comes next (NULL when none). At equal
 * deadlines the list's goes first. */
static struct flow *active_next(const flow_table *ft)
{
    struct flow *l = ft->act_head;
    if (ft->heap_n == 0)
        return l;
    if (!l || ft->heap[0].deadline_us < l->deadline_us)
        return ft->heap[0].f;
    return l;
}

/* ---- pool -------------------------------------------------------------- */

/* A chunk of POOL_CHUNK flows on a 2 MiB boundary, asked to be one huge page;
 * only its header is zeroed (flow_alloc zeroes each flow it hands out). */
static struct pool_chunk *chunk_new(void)
{
    void *mem = NULL;
    if (posix_memalign(&mem, POOL_CHUNK_BYTES, POOL_CHUNK_BYTES) != 0)
        return NULL;
    (void)madvise(mem, POOL_CHUNK_BYTES, MADV_HUGEPAGE);   /* a hint: without THP, 4 KiB pages */
    struct pool_chunk *c = mem;
    memset(c, 0, sizeof *c);
    return c;
}

/*
 * A chunk's statistics regions. The processor reaches a random flow's region
 * per packet, and on 4 KiB pages that is a TLB miss each time: the whole
 * 2 MiB pages of the array are asked to be huge pages (a hint, as for the
 * chunk), and an array at most 1/16 short of one whole page is rounded up to
 * it (with 5 to 9 early packets 6,241 regions of 320 bytes take 1.9 MiB).
 * Never more memory per flow than the 312-byte state and separate early slot
 * took before. NULL when out of memory.
 */
static uint8_t *stats_array_new(size_t bytes)
{
    const size_t page = POOL_CHUNK_BYTES;
    size_t up = (bytes + page - 1u) & ~(page - 1u);
    if (up - bytes <= page / 16u)
        bytes = up;
    void *mem = NULL;
    if (posix_memalign(&mem, page, bytes) != 0)
        return NULL;
    size_t huge = bytes & ~(page - 1u);
    if (huge)
        (void)madvise(mem, huge, MADV_HUGEPAGE);
    return mem;
}

static struct flow *flow_alloc(flow_table *ft)
{
    if (!ft->free_list) {
        /* The deadline heap grows with the pool, so heap_push never fails. */
        size_t need = ft->pool_flows + POOL_CHUNK;
        if (ft->heap_cap < need) {
            struct heap_slot *h = realloc(ft->heap, need * sizeof *h);
            if (!h)
                return NULL;
            ft->heap = h;
            ft->heap_cap = need;
        }
        struct pool_chunk *c = chunk_new();
        if (!c)
            return NULL;
        /* Each flow owns its chunk's statistics region and DPI state for
         * life (issue 15); made only when the group is on. */
        c->stats_size = flow_stats_size(ft->cfg.early_packets);
        c->stats = ft->cfg.flow_stats ? stats_array_new(c->stats_size * POOL_CHUNK) : NULL;
        c->dpi = ft->dpi ? malloc(POOL_CHUNK * sizeof *c->dpi) : NULL;
        if ((ft->cfg.flow_stats && !c->stats) || (ft->dpi && !c->dpi)) {
            free(c->stats);
            free(c->dpi);
            free(c);
            return NULL;
        }
        ft->pool_flows += POOL_CHUNK;
        c->next = ft->chunks;
        ft->chunks = c;
        for (uint32_t i = POOL_CHUNK; i-- > 0;) {
            c->flows[i].next = ft->free_list;
            ft->free_list = &c->flows[i];
        }
    }
    struct flow *f = ft->free_list;
    ft->free_list = f->next;
    if (ft->free_list)                 /* the next flow made: its link is read then */
        __builtin_prefetch(&ft->free_list->next, 1);
    struct flow_stats *stats = flow_stats_of(f);
    struct dpi_flow *dstate = flow_dpi_of(f);
    memset(f, 0, sizeof *f);
    if (stats)
        flow_stats_init(stats);
    if (dstate)
        memset(dstate, 0, sizeof *dstate);
    return f;
}

static void flow_release(flow_table *ft, struct flow *f)
{
    f->next = ft->free_list;
    ft->free_list = f;
}

/* ---- records ------------------------------------------------------------ */

/* The interface, MAC, DSCP and TTL fields of a record (issue 14 items 7-8). */
static void build_event_l2l3(const struct flow *f, struct flow_event *ev)
{
    memcpy(ev->src_mac, f->mac[0], 6);
    memcpy(ev->dst_mac, f->mac[1], 6);
    ev->mac_known = f->mac_known;
    ev->side_seen = f->side_seen;
    ev->src_dscp = f->dscp[0];
    ev->dst_dscp = f->dscp[1];
    ev->src_ttl_min = f->ttl_min[0];
    ev->src_ttl_max = f->ttl_max[0];
    ev->dst_ttl_min = f->ttl_min[1];
    ev->dst_ttl_max = f->ttl_max[1];
    ev->iface = f->iface;
    ev->iface_other = f->iface_other;
}

/*
 * Zero what this table's records can carry: the core and the TCP health /
 * process fields always, the application groups only when they are on; the
 * statistics need no zeroing, as build_event has flow_stats_fill write every
 * field of them when they are on. The rest of *ev is never read:
 * flow_event_seal leaves it out of used_len and the event ring hands the
 * consumer zeros there.
 */
static void event_clear(const flow_table *ft, struct flow_event *ev)
{
    memset(ev, 0, offsetof(struct flow_event, xs) + offsetof(struct flow_xstats, dir));
    if (ft->dpi)
        memset(&ev->has_app, 0, sizeof *ev - offsetof(struct flow_event, has_app));
    else
        ev->has_app = 0, ev->meta.kind = INSPECT_KIND_NONE;
}

static void build_event(const struct flow_table_cfg *cfg, const struct flow *f,
                        enum flow_end_reason reason, bool final, struct flow_event *ev)
{
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
    if (f->key.tun_type) {     /* tunnel (issue 14) */
        const struct flow_tunnel *t = flow_tunnel_of(f);
        ev->tun_type = f->key.tun_type;
        ev->tun_depth = t->depth;
        ev->tun_outer_ipver = t->outer_ipver;
        ev->tun_has_id = t->has_id;
        ev->tun_id = t->id;
        memcpy(ev->tun_outer_src, t->outer_src, 16);
        memcpy(ev->tun_outer_dst, t->outer_dst, 16);
    }
    build_event_l2l3(f, ev);
    if (cfg->flow_stats)
        flow_stats_fill(flow_stats_of(f), f->pkts, cfg->early_packets, ev);
    if (cfg->tcp_health && f->key.proto == PROTO_TCP)
        tcp_health_fill(&f->tcp, ev);
}

static void flow_dpi_id(const struct flow *f, struct dpi_flow_id *id)
{
    id->src = f->init_is_a ? f->key.a : f->key.b;
    id->dst = f->init_is_a ? f->key.b : f->key.a;
    id->sport = f->has_icmp ? 0 : (f->init_is_a ? f->key.pa : f->key.pb);
    id->dport = f->has_icmp ? 0 : (f->init_is_a ? f->key.pb : f->key.pa);
    id->proto = f->key.proto;
    id->ipver = f->key.ipver;
    id->tcp_flags = 0;
    id->has_seq = false;
    id->tcp_seq = 0;
}

/* The flow's record is being made: its application label (issue 15). */
static void dpi_event(flow_table *ft, struct flow *f, bool final, struct flow_event *ev)
{
    if (!ft->dpi)
        return;
    struct dpi_flow_id id;
    flow_dpi_id(f, &id);
    dpi_flow_end(ft->dpi, flow_dpi_of(f), &id, final, ev);
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

/* Where the next record is built: the sink's next array slot, else `own`. Cleared (event_clear). */
static struct flow_event *sink_slot(const flow_table *ft, struct sink *s, struct flow_event *own)
{
    struct flow_event *ev = s->out ? &s->out[s->n] : own;
    event_clear(ft, ev);
    return ev;
}

/* The record built in sink_slot's slot is complete: seal it and hand it on. */
static void sink_put(struct sink *s, struct flow_event *ev)
{
    flow_event_seal(ev);
    if (s->out)
        s->n++;
    else
        s->emit(s->arg, ev);
}

static void emit_interim(flow_table *ft, struct flow *f, struct sink *s)
{
    struct flow_event own;
    struct flow_event *ev = sink_slot(ft, s, &own);
    build_event(&ft->cfg, f, FLOW_END_ACTIVE, false, ev);
    dpi_event(ft, f, false, ev);
    sink_put(s, ev);
    ft->st.interim_records++;
    record_reset(f);
    if (ft->cfg.flow_stats)
        flow_stats_record_done(flow_stats_of(f));
    tcp_health_record_done(&f->tcp);
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
    struct flow_event own;
    struct flow_event *ev = sink_slot(ft, s, &own);
    build_event(&ft->cfg, f, reason, true, ev);
    dpi_event(ft, f, true, ev);
    sink_put(s, ev);
    ft->st.flows_ended++;
    ft->st.ended[reason]++;
    if (reason == FLOW_END_EVICTED)
        ft->st.evicted++;
    HASH_DELETE(hh, ft->hash, f);
    list_unlink(&ft->lists[f->list], f);
    active_remove(ft, f);
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
    f->deadline_us = next_deadline(ft, f->deadline_us, now);
    active_rearm(ft, f);
}

/* The sweep shared by the janitor, the full-table path and shutdown. */
/* Ask for the lines of the statistics region of `elmt` (a flow that a coming
 * packet likely folds into: its bucket's first), to be written. */
static inline void stats_prefetch(const void *elmt)
{
    const struct flow *f = elmt;
    const struct pool_chunk *c = flow_chunk(f);
    if (!c->stats)
        return;
    uintptr_t r = (uintptr_t)(c->stats + (size_t)(f - c->flows) * c->stats_size);
    for (uintptr_t l = r & ~(uintptr_t)63u; l < r + c->stats_size; l += 64u)
        __builtin_prefetch((const void *)l, 1);
}

/* Ask for the lines of a flow and of its statistics region. */
static inline void flow_prefetch(const struct flow *f)
{
    for (size_t o = 0; o < sizeof *f; o += 64u)
        __builtin_prefetch((const char *)f + o);
    stats_prefetch(f);
}

static void sweep(flow_table *ft, uint64_t now, struct sink *s)
{
    for (int l = 0; l < LIST_COUNT; l++) {
        struct flow *f;
        while ((f = ft->lists[l].head) && expired_at(ft, f, now)) {
            if (!sink_has_room(s, 2))
                return;
            if (f->next)                       /* likely the next to end: fetch it meanwhile */
                flow_prefetch(f->next);
            flow_end(ft, f, natural_reason(f), s);
        }
    }
    struct flow *f;
    while ((f = active_next(ft)) && f->deadline_us <= now) {
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
    k->tun_type = p->tun_type;
    k->tun_id = tunnel_key_id(p->tun_type, p->tun_id);
    return src_is_a;
}

/*
 * Hash of a whole 48-byte key: three multiplies over its six words, keyed by
 * a random per-table seed so that nobody can choose 5-tuples that all land in
 * one chain (uthash's Jenkins hash, unkeyed, cost ~4x as much). The sixth
 * word (the tunnel, 0 for plain traffic) goes into the last multiplier,
 * which stays secret through the seed. The result does not influence any
 * output: it only places flows in buckets.
 */
_Static_assert(sizeof(struct flow_key) == 48, "flow_key_hash reads six words");
static uint32_t flow_key_hash(const flow_table *ft, const struct flow_key *k)
{
    const unsigned char *p = (const unsigned char *)k;
    uint64_t h = mix_mum(mix_load64(p) ^ ft->seed[0], mix_load64(p + 8) ^ ft->seed[1]) ^
                 mix_mum(mix_load64(p + 16) ^ ft->seed[2], mix_load64(p + 24) ^ ft->seed[3]);
    h = mix_mum(h ^ mix_load64(p + 32), 0x9e3779b97f4a7c15ull ^ ft->seed[0] ^ mix_load64(p + 40));
    return (uint32_t)(h ^ (h >> 32));
}

static bool flow_key_eq(const struct flow_key *a, const struct flow_key *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    return ((mix_load64(x) ^ mix_load64(y)) | (mix_load64(x + 8) ^ mix_load64(y + 8)) |
            (mix_load64(x + 16) ^ mix_load64(y + 16)) | (mix_load64(x + 24) ^ mix_load64(y + 24)) |
            (mix_load64(x + 32) ^ mix_load64(y + 32)) | (mix_load64(x + 40) ^ mix_load64(y + 40))) == 0;
}

#undef HASH_KEYCMP
#define HASH_KEYCMP(a, b, n) (flow_key_eq((const struct flow_key *)(a), (const struct flow_key *)(b)) ? 0 : 1)

/*
 * Keyed with the table's random seed: without the key (FNV before issue
 * 13.11) anyone could compute which slots a datagram lands in and fill the
 * victim's probe window with a few fragments.
 */
static uint32_t frag_hash(const flow_table *ft, const struct pkt_record *p)
{
    uint64_t h = mix_mum(mix_load64(p->src) ^ ft->seed[0], mix_load64(p->src + 8) ^ ft->seed[1]) ^
                 mix_mum(mix_load64(p->dst) ^ ft->seed[2], mix_load64(p->dst + 8) ^ ft->seed[3]);
    uint64_t proto = p->ip_version == 4 ? p->proto : 0;   /* see frag_match */
    uint64_t tail = (uint64_t)p->frag_id << 32 | (uint64_t)p->vlan_id << 16 | proto << 8 | p->ip_version;
    h = mix_mum(h ^ tail, 0x9e3779b97f4a7c15ull ^ ft->seed[1]);
    return (uint32_t)(h ^ (h >> 32));
}

static uint32_t frag_src_hash(const flow_table *ft, const uint8_t *addr)
{
    uint64_t h = mix_mum(mix_load64(addr) ^ ft->seed[2], mix_load64(addr + 8) ^ ft->seed[3]);
    return (uint32_t)(h ^ (h >> 32));
}

/* The source's counter slot, or NULL when it holds nothing. */
static struct frag_source *frag_src_find(flow_table *ft, const uint8_t *addr, uint32_t h)
{
    for (uint32_t i = 0; i < FRAG_SRC_SLOTS; i++) {
        struct frag_source *s = &ft->frag_src[(h + i) & (FRAG_SRC_SLOTS - 1)];
        if (!s->n)
            return NULL;
        if (s->hash == h && memcmp(s->addr, addr, 16) == 0)
            return s;
    }
    return NULL;
}

/* At most FRAG_SLOTS sources hold entries, in twice as many slots: a free
 * one is always found (the NULL return is unreachable; callers tolerate it). */
static struct frag_source *frag_src_get(flow_table *ft, const uint8_t *addr, uint32_t h)
{
    for (uint32_t i = 0; i < FRAG_SRC_SLOTS; i++) {
        struct frag_source *s = &ft->frag_src[(h + i) & (FRAG_SRC_SLOTS - 1)];
        if (!s->n) {
            memcpy(s->addr, addr, 16);
            s->hash = h;
            s->head = s->tail = FRAG_NIL;
            return s;
        }
        if (s->hash == h && memcmp(s->addr, addr, 16) == 0)
            return s;
    }
    return NULL;
}

/* Free a counter slot, shifting later members of its cluster back (linear
 * probing without tombstones: every key stays reachable from its home). */
static void frag_src_free(flow_table *ft, struct frag_source *s)
{
    const uint32_t mask = FRAG_SRC_SLOTS - 1;
    uint32_t hole = (uint32_t)(s - ft->frag_src);
    for (uint32_t j = (hole + 1) & mask; ft->frag_src[j].n; j = (j + 1) & mask) {
        uint32_t home = ft->frag_src[j].hash & mask;
        /* j may fill the hole unless its home lies cyclically in (hole, j]. */
        bool stays = hole <= j ? (hole < home && home <= j) : (hole < home || home <= j);
        if (stays)
            continue;
        ft->frag_src[hole] = ft->frag_src[j];
        hole = j;
    }
    memset(&ft->frag_src[hole], 0, sizeof ft->frag_src[hole]);
}

/* Take entry e off its source's list and counter. */
static void frag_drop(flow_table *ft, struct frag_entry *e)
{
    struct frag_source *s = frag_src_find(ft, e->src, frag_src_hash(ft, e->src));
    if (s) {
        if (e->sprev != FRAG_NIL)
            ft->frags[e->sprev].snext = e->snext;
        else
            s->head = e->snext;
        if (e->snext != FRAG_NIL)
            ft->frags[e->snext].sprev = e->sprev;
        else
            s->tail = e->sprev;
        if (--s->n == 0)
            frag_src_free(ft, s);
    }
    e->used = 0;
    e->sprev = e->snext = FRAG_NIL;
}

/* Append entry e (filled, used) to its source's list. */
static void frag_attach(flow_table *ft, struct frag_entry *e, struct frag_source *s)
{
    uint16_t idx = (uint16_t)(e - ft->frags);
    e->snext = FRAG_NIL;
    e->sprev = FRAG_NIL;
    if (!s)
        return;
    e->sprev = s->tail;
    if (s->tail != FRAG_NIL)
        ft->frags[s->tail].snext = idx;
    else
        s->head = idx;
    s->tail = idx;
    s->n++;
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

static void frag_fill(const flow_table *ft, struct frag_entry *e, const struct pkt_record *p)
{
    memcpy(e->src, p->src, 16);
    memcpy(e->dst, p->dst, 16);
    e->id = p->frag_id;
    e->vlan = p->vlan_id;
    e->proto = p->proto;
    e->ipver = p->ip_version;
    e->sport = p->sport;
    e->dport = p->dport;
    e->icmp_type = p->icmp_type;
    e->icmp_code = p->icmp_code;
    e->seen_us = ft->clock_us;
    e->used = 1;
}

/*
 * Remember a first fragment. A source at its share recycles its own oldest
 * entry first. In a full probe window the entry replaced is an expired one,
 * else one whose source holds the most entries (a flooding host's), else the
 * oldest; replacing a live entry is counted.
 */
static void frag_remember(flow_table *ft, const struct pkt_record *p)
{
    uint32_t h = frag_hash(ft, p);
    struct frag_entry *slot = NULL;
    for (uint32_t i = 0; i < FRAG_PROBES; i++) {
        struct frag_entry *e = &ft->frags[(h + i) & (FRAG_SLOTS - 1)];
        if (frag_match(e, p)) {                      /* the same datagram again */
            frag_fill(ft, e, p);
            return;
        }
    }
    uint32_t sh = frag_src_hash(ft, p->src);
    struct frag_source *src = frag_src_find(ft, p->src, sh);
    if (src && src->n >= FRAG_PER_SOURCE) {
        frag_drop(ft, &ft->frags[src->head]);
        ft->st.frag_source_limited++;
    }
    uint32_t best_n = 0;
    bool best_stale = false;
    for (uint32_t i = 0; i < FRAG_PROBES; i++) {
        struct frag_entry *e = &ft->frags[(h + i) & (FRAG_SLOTS - 1)];
        if (!e->used) {
            slot = e;
            break;
        }
        bool stale = ft->clock_us - e->seen_us > FRAG_TTL_US;
        const struct frag_source *es = frag_src_find(ft, e->src, frag_src_hash(ft, e->src));
        uint32_t n = es ? es->n : 0;
        if (!slot || (stale && !best_stale) ||
            (stale == best_stale && (n > best_n || (n == best_n && e->seen_us < slot->seen_us)))) {
            slot = e;
            best_n = n;
            best_stale = stale;
        }
    }
    if (slot->used) {
        if (!best_stale)
            ft->st.frag_evicted++;
        frag_drop(ft, slot);
    }
    frag_fill(ft, slot, p);
    /* After frag_drop: the counter slot may have moved or been freed. */
    frag_attach(ft, slot, frag_src_get(ft, p->src, sh));
}

/* Fill a later fragment's ports from its first fragment; false when unknown. */
static bool frag_resolve(flow_table *ft, struct pkt_record *p)
{
    uint32_t h = frag_hash(ft, p);
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

/* tunnel (issue 14): keep the first packet's tunnel, its outer addresses
 * turned to the initiator -> responder direction, in the chunk's tunnel
 * array (made here at the chunk's first tunnelled flow). False: out of
 * memory for that array. */
static bool flow_set_tunnel(struct flow *f, const struct pkt_record *p, bool src_is_a)
{
    struct pool_chunk *c = flow_chunk(f);
    if (!c->tun) {
        c->tun = malloc(POOL_CHUNK * sizeof *c->tun);
        if (!c->tun)
            return false;
    }
    struct flow_tunnel *t = &c->tun[f - c->flows];
    bool from_init = src_is_a == (bool)f->init_is_a;
    memcpy(t->outer_src, from_init ? p->tun_outer_src : p->tun_outer_dst, 16);
    memcpy(t->outer_dst, from_init ? p->tun_outer_dst : p->tun_outer_src, 16);
    t->id = p->tun_id;
    t->depth = p->tun_depth;
    t->outer_ipver = p->tun_outer_ipver;
    t->has_id = (p->tun_flags & DECODE_TUN_F_HAS_ID) != 0;
    return true;
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
    if (p->tun_type && !flow_set_tunnel(f, p, src_is_a)) {
        flow_release(ft, f);           /* no memory: as when the pool cannot grow */
        return NULL;
    }
    f->touch_us = ft->clock_us;
    f->deadline_us = ft->clock_us + ft->cfg.active_us;
    f->iface = p->iface;
    HASH_ADD_BYHASHVALUE(hh, ft->hash, key, sizeof(struct flow_key), hashv, f);
    if (f->oom) {
        flow_release(ft, f);
        return NULL;
    }
    list_append(&ft->lists[f->list], f);
    active_append(ft, f);
    ft->count++;
    ft->st.flows_created++;
    return f;
}

/*
 * The first packet side d sends: its DSCP (the flow's DSCP per side is the
 * first one seen, as nProbe's SRC_TOS/DST_TOS), the start of its TTL range,
 * and MACs. A side's MAC is the source MAC of its first packet; until that
 * side has sent one, the destination MAC of the other side's first packet
 * stands in for it (so one-way flows still name both ends).
 */
static void note_first_of_side(struct flow *f, int d, const struct pkt_record *p)
{
    uint8_t me = (uint8_t)(1u << d), peer = (uint8_t)(1u << (d ^ 1));
    f->side_seen |= me;
    f->dscp[d] = p->dscp;
    f->ttl_min[d] = f->ttl_max[d] = p->ttl;
    if (p->mac_flags & PKT_MAC_SRC) {
        memcpy(f->mac[d], p->src_mac, 6);
        f->mac_known |= me;
        f->mac_own |= me;
    }
    if ((p->mac_flags & PKT_MAC_DST) && !(f->mac_own & peer)) {
        memcpy(f->mac[d ^ 1], p->dst_mac, 6);
        f->mac_known |= peer;
    }
}

/* Per packet: two compares for the TTL range, one for the interface. */
static inline void note_l2l3(struct flow *f, int d, const struct pkt_record *p)
{
    if (!(f->side_seen & (1u << d)))
        note_first_of_side(f, d, p);
    if (p->ttl < f->ttl_min[d])
        f->ttl_min[d] = p->ttl;
    if (p->ttl > f->ttl_max[d])
        f->ttl_max[d] = p->ttl;
    if (p->iface != f->iface && f->iface_other == 0)
        f->iface_other = p->iface;
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
    active_remove(ft, f);
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
                        const struct payload_slot *pl, struct sink *s)
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
    note_l2l3(f, dir, pkt);
    if (ft->cfg.flow_stats)
        flow_stats_packet(flow_stats_of(f), pkt, dir, f->pkts, ft->cfg.early_packets);
    if (ft->cfg.tcp_health && pkt->proto == PROTO_TCP)
        tcp_health_packet(&f->tcp, pkt, dir);
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
    if (ft->dpi && dpi_flow_active(flow_dpi_of(f))) {
        struct dpi_flow_id id;
        flow_dpi_id(f, &id);
        id.tcp_flags = pkt->tcp_flags;
        id.has_seq = (pkt->l4_info & PKT_L4_TCP_HDR) != 0;
        id.tcp_seq = pkt->tcp_seq;
        dpi_packet(ft->dpi, flow_dpi_of(f), &id, dir, pl, pkt->ts_us);
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
    if (cfg->early_packets > FLOW_EARLY_MAX) {
        snprintf(err, errlen, "flow table: early_packets must be at most %u", FLOW_EARLY_MAX);
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
            ft->seed[i] = mix_mum(x, 0xbf58476d1ce4e5b9ull);
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
        free(c->stats);
        free(c->dpi);
        free(c->tun);
        free(c);
        c = next;
    }
    free(ft->heap);
    free(ft);
}

/*
 * The payload slot of a record with payload_seq (NULL when it has none or
 * the slot is missing). Slots come in record order; slots older than the
 * record belong to records the capture could not queue and are skipped.
 */
static const struct payload_slot *payload_take(flow_table *ft, const struct pkt_record *pkt)
{
    if (!pkt->payload_seq)
        return NULL;
    if (pkt->payload_ring >= ft->npayload) {
        ft->payload_missing++;
        return NULL;
    }
    ring *r = ft->payload[pkt->payload_ring];
    const struct payload_slot *pl;
    while ((pl = ring_peek(r)) && (int32_t)(pl->seq - pkt->payload_seq) < 0) {
        ring_release(r);
        ft->payload_orphans++;
    }
    if (pl && pl->seq == pkt->payload_seq)
        return pl;
    ft->payload_missing++;
    return NULL;
}

static void payload_done_with(flow_table *ft, const struct pkt_record *pkt, const struct payload_slot *pl)
{
    if (pl)
        ring_release(ft->payload[pkt->payload_ring]);
}

void flow_table_packet(flow_table *ft, const struct pkt_record *pkt, flow_emit_fn emit, void *arg)
{
    if (pkt->ts_us > ft->clock_us)
        ft->clock_us = pkt->ts_us;
    struct sink s = {.emit = emit, .arg = arg};
    const struct payload_slot *pl = payload_take(ft, pkt);
    fold_packet(ft, pkt, NULL, pl, &s);
    payload_done_with(ft, pkt, pl);
}

/* How far ahead of the packet being folded the burst path prefetches: the
 * bucket first, then (read from that bucket, by then in cache) the lines of
 * the chain's first flow that the lookup compares (handle and key). A packet
 * folds in ~100 ns, about one DRAM miss, so one packet ahead was too close. */
#define FT_BUCKET_AHEAD 8u
#define FT_FLOW_AHEAD 3u
#define FT_BURST_MAX 64u

static inline const UT_hash_bucket *key_bucket(const flow_table *ft, const struct keyed *kd)
{
    const UT_hash_table *tb = ft->hash->hh.tbl;
    return &tb->buckets[kd->hashv & (tb->num_buckets - 1u)];
}

static inline void chain_prefetch(const flow_table *ft, const struct keyed *kd)
{
    const UT_hash_handle *hh = key_bucket(ft, kd)->hh_head;
    if (!hh)
        return;
    const struct flow *f = ELMT_FROM_HH(ft->hash->hh.tbl, hh);
    const char *lo = (const char *)f;
    const char *hi = (const char *)(&f->key + 1) - 1;
    for (const char *l = lo; l <= hi; l += 64)
        __builtin_prefetch(l);
    if ((((uintptr_t)lo ^ (uintptr_t)hi) & ~(uintptr_t)63u) != 0)
        __builtin_prefetch(hi);
    stats_prefetch(f);
}

void flow_table_packet_burst(flow_table *ft, const struct pkt_record *pkts, size_t n,
                             flow_emit_fn emit, void *arg)
{
    struct sink s = {.emit = emit, .arg = arg};
    struct keyed kd[FT_BURST_MAX];
    while (n > 0) {
        size_t m = n < FT_BURST_MAX ? n : FT_BURST_MAX;
        /* Keys and hashes depend on the packet alone: compute them first and
         * fetch their buckets and chain heads while earlier packets are
         * folded. The folding itself stays strictly in order. (A flow created
         * by a packet of this burst can make a fetched chain head stale: that
         * costs a miss, never a wrong result.) */
        for (size_t i = 0; i < m; i++)
            key_packet(ft, &pkts[i], &kd[i]);
        if (ft->hash)
            for (size_t i = 0; i < m && i < FT_BUCKET_AHEAD; i++)
                __builtin_prefetch(key_bucket(ft, &kd[i]));
        for (size_t i = 0; i < m; i++) {
            if (ft->hash) {
                if (i + FT_BUCKET_AHEAD < m)
                    __builtin_prefetch(key_bucket(ft, &kd[i + FT_BUCKET_AHEAD]));
                if (i + FT_FLOW_AHEAD < m)
                    chain_prefetch(ft, &kd[i + FT_FLOW_AHEAD]);
            }
            const struct pkt_record *pkt = &pkts[i];
            if (pkt->ts_us > ft->clock_us)
                ft->clock_us = pkt->ts_us;
            const struct payload_slot *pl = payload_take(ft, pkt);
            fold_packet(ft, pkt, &kd[i], pl, &s);
            payload_done_with(ft, pkt, pl);
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

void flow_table_set_dpi(flow_table *ft, dpi *d, ring *const *payload, size_t npayload)
{
    ft->dpi = d;
    ft->npayload = 0;
    for (size_t i = 0; payload && i < npayload && i < sizeof ft->payload / sizeof ft->payload[0]; i++)
        ft->payload[ft->npayload++] = payload[i];
}

void flow_table_get_payload_stats(const flow_table *ft, uint64_t *orphans, uint64_t *missing)
{
    *orphans = ft->payload_orphans;
    *missing = ft->payload_missing;
}

void flow_table_get_stats(const flow_table *ft, struct flow_table_stats *out)
{
    *out = ft->st;
    out->active_flows = ft->count;
}
