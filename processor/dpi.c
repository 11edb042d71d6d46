/*
 * dpi.c — nDPI application identification per flow (see dpi.h).
 *
 * The flow of a flow: DPI_NEW until its first payload packet, which takes an
 * nDPI state from the pool (or, pool empty, DPI_SKIPPED); DPI_RUNNING while
 * nDPI wants more; DPI_DONE once nDPI labelled it or gave up. The rules follow
 * ndpiReader (nDPI's own reader, reader_util.c), so that the labels agree with
 * it: feed nDPI until it reports an application, and keep feeding while it
 * says more packets could refine the label (ndpi_extra_dissection_possible:
 * e.g. a TLS certificate after the ClientHello) unless the packet limit is
 * reached; at the limit, or when the flow ends first, ask for its guess
 * (ndpi_detection_giveup with guessing on).
 *
 * Packets without payload reach nDPI (headers only) once the flow is in
 * detection; before its first payload packet (the TCP handshake) they only
 * count towards the packet limit, so flows that never carry payload take no
 * nDPI state.
 *
 * What the metadata parsers found outlives their pool state: it is kept,
 * only when they found something, in a slab of result slots (chunks of
 * DPI_META_CHUNK, a free list, one slot per flow until its final record), so
 * that the per-flow block stays 24 bytes.
 */
#include "dpi.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ndpi_api.h>

#define PROTO_TCP 6
#define PROTO_UDP 17

/* Result slots per slab chunk: 1 MiB, one malloc per 4096 flows that found metadata. */
#define DPI_META_CHUNK 4096u

/* A slot of the result slab: a kept result, or (free) the next free slot + 1. */
union meta_slot {
    struct inspect_result r;
    uint32_t next_free;
};

struct dpi {
    struct ndpi_detection_module_struct *nd;
    payload_done *done;
    unsigned char *pool;           /* cap states of flow_size bytes */
    struct ndpi_flow_struct **free_stack;
    uint32_t nfree, cap;
    size_t flow_size;
    struct dpi_stats st;
    struct inspect_pool *ipool;    /* metadata parser states, as many as nDPI's */
    /* the result slab: slots [0, meta_fresh) have been handed out at least once */
    union meta_slot **meta_chunks; /* meta_nchunks chunks of DPI_META_CHUNK slots */
    uint32_t meta_nchunks, meta_chunks_cap;
    uint32_t meta_fresh;           /* next never-used slot */
    uint32_t meta_free;            /* free list head: slot + 1, 0 when empty */
    uint64_t meta_kept;            /* slots held now */
};

dpi *dpi_create(uint32_t pool_flows, payload_done *done, char *err, size_t errlen)
{
    if (pool_flows == 0) {
        snprintf(err, errlen, "dpi: the pool needs at least one flow state");
        return NULL;
    }
    dpi *d = calloc(1, sizeof *d);
    if (!d) {
        snprintf(err, errlen, "dpi: out of memory");
        return NULL;
    }
    d->done = done;
    d->cap = pool_flows;
    /* Round each state up to a cache line, so states never share one. */
    d->flow_size = (ndpi_detection_get_sizeof_ndpi_flow_struct() + 63u) / 64u * 64u;
    d->pool = aligned_alloc(64, d->flow_size * pool_flows);
    d->free_stack = malloc(sizeof *d->free_stack * pool_flows);
    if (!d->pool || !d->free_stack) {
        snprintf(err, errlen, "dpi: out of memory for %u nDPI flow states (%zu bytes each)",
                 pool_flows, d->flow_size);
        goto err;
    }
    for (uint32_t i = 0; i < pool_flows; i++)
        d->free_stack[pool_flows - 1u - i] = (struct ndpi_flow_struct *)(d->pool + (size_t)i * d->flow_size);
    d->nfree = pool_flows;
    d->nd = ndpi_init_detection_module(ndpi_no_prefs);
    if (!d->nd) {
        snprintf(err, errlen, "dpi: nDPI could not initialise its detection module");
        goto err;
    }
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(d->nd, &all);
    ndpi_finalize_initialization(d->nd);
    d->ipool = inspect_pool_create(pool_flows, err, errlen);
    if (!d->ipool)
        goto err;
    return d;
err:
    if (d->nd)
        ndpi_exit_detection_module(d->nd);
    free(d->pool);
    free(d->free_stack);
    free(d);
    return NULL;
}

void dpi_destroy(dpi *d)
{
    if (!d)
        return;
    if (d->nd)
        ndpi_exit_detection_module(d->nd);
    inspect_pool_destroy(d->ipool);
    for (uint32_t i = 0; i < d->meta_nchunks; i++)
        free(d->meta_chunks[i]);
    free(d->meta_chunks);
    free(d->pool);
    free(d->free_stack);
    free(d);
}

/* ---- the result slab ---------------------------------------------------- */

static union meta_slot *meta_slot(const dpi *d, uint32_t i)
{
    return &d->meta_chunks[i / DPI_META_CHUNK][i % DPI_META_CHUNK];
}

/* A free slot in *out; false when a new chunk was needed and memory is out. */
static bool meta_take(dpi *d, uint32_t *out)
{
    if (d->meta_free) {
        *out = d->meta_free - 1u;
        d->meta_free = meta_slot(d, *out)->next_free;
        d->meta_kept++;
        return true;
    }
    if (d->meta_fresh == d->meta_nchunks * DPI_META_CHUNK) {
        if (d->meta_nchunks >= UINT32_MAX / DPI_META_CHUNK - 1u)
            return false;
        if (d->meta_nchunks == d->meta_chunks_cap) {
            uint32_t cap = d->meta_chunks_cap ? d->meta_chunks_cap * 2u : 16u;
            union meta_slot **c = realloc(d->meta_chunks, cap * sizeof *c);
            if (!c)
                return false;
            d->meta_chunks = c;
            d->meta_chunks_cap = cap;
        }
        union meta_slot *chunk = malloc(DPI_META_CHUNK * sizeof *chunk);
        if (!chunk)
            return false;
        d->meta_chunks[d->meta_nchunks++] = chunk;
    }
    *out = d->meta_fresh++;
    d->meta_kept++;
    return true;
}

static void meta_put(dpi *d, uint32_t i)
{
    meta_slot(d, i)->next_free = d->meta_free;
    d->meta_free = i + 1u;
    d->meta_kept--;
}

/* The flow's metadata parser state, NULL when none (never taken, done, or its result kept). */
static struct inspect_flow *parser(const struct dpi_flow *df)
{
    return df->meta_kept ? NULL : df->m.insp;
}

static uint64_t flow_hash(const dpi *d, const struct dpi_flow_id *id)
{
    return payload_flow_hash(d->done, id->src, id->sport, id->dst, id->dport, id->proto);
}

static bool has_ports(const struct dpi_flow_id *id) { return id->proto == PROTO_TCP || id->proto == PROTO_UDP; }

/* Give the nDPI state back to the pool (its own allocations freed). */
static void release_state(dpi *d, struct dpi_flow *df)
{
    if (!df->nf)
        return;
    ndpi_free_flow_data(df->nf);
    d->free_stack[d->nfree++] = df->nf;
    df->nf = NULL;
}

static void set_label(const dpi *d, struct dpi_flow *df, ndpi_protocol p)
{
    df->master = p.master_protocol;
    df->app = p.app_protocol;
    if (p.category == NDPI_PROTOCOL_CATEGORY_UNSPECIFIED)
        p.category = ndpi_get_proto_category(d->nd, p);
    df->category = (uint8_t)(p.category < 256 ? p.category : 0);
}

/*
 * An inspector has what it needs (its DPI_WANT_* bit): once none is left the
 * flow is done, and the capture is told to stop copying its payload.
 */
static void inspector_done(dpi *d, struct dpi_flow *df, const struct dpi_flow_id *id, uint8_t bit)
{
    df->want &= (uint8_t)~bit;
    if (df->want)
        return;
    df->state = DPI_DONE;
    if (d->done && has_ports(id))
        payload_done_mark(d->done, flow_hash(d, id));
}

/*
 * The metadata parsers are done (or the flow ended): keep what they found in
 * a slab slot (nothing when they found nothing), give the state back.
 */
static void meta_finish(dpi *d, struct dpi_flow *df, const struct dpi_flow_id *id)
{
    struct inspect_flow *insp = parser(df);
    if (insp) {
        const struct inspect_result *r = inspect_flow_result(insp);
        df->m.insp = NULL;
        if (inspect_result_found(r)) {
            d->st.meta_found++;
            uint32_t slot;
            if (meta_take(d, &slot)) {
                meta_slot(d, slot)->r = *r;
                df->m.meta = slot;
                df->meta_kept = 1;
            } else {
                d->st.meta_pool_empty++;     /* no memory for the slab: the result is lost */
            }
        }
        inspect_flow_release(d->ipool, insp);
    }
    inspector_done(d, df, id, DPI_WANT_META);
}

/* nDPI's detection is over (label, limit, or the flow ended): guess if unlabelled. */
static void finish(dpi *d, struct dpi_flow *df, const struct dpi_flow_id *id)
{
    if (df->nf) {
        uint8_t guessed = 0;
        if (df->app == NDPI_PROTOCOL_UNKNOWN) {
            ndpi_protocol p = ndpi_detection_giveup(d->nd, df->nf, 1, &guessed);
            set_label(d, df, p);
            df->guessed = guessed;
        }
        if (df->guessed)
            d->st.flows_guessed++;
        else if (df->app != NDPI_PROTOCOL_UNKNOWN)
            d->st.flows_detected++;
        release_state(d, df);
    }
    inspector_done(d, df, id, DPI_WANT_NDPI);
}

/* A flow that never reached nDPI: the guess from addresses and ports (IPv4 hosts only). */
static void guess_only(dpi *d, struct dpi_flow *df, const struct dpi_flow_id *id)
{
    uint32_t s = 0, t = 0;
    if (id->ipver == 4) {
        memcpy(&s, id->src, 4);
        memcpy(&t, id->dst, 4);
    }
    struct ndpi_flow_struct *nf = NULL;   /* the guess reads no flow state when given none */
    ndpi_protocol p = ndpi_guess_undetected_protocol(d->nd, nf, id->proto, ntohl(s), id->sport,
                                                     ntohl(t), id->dport);
    set_label(d, df, p);
    df->guessed = p.app_protocol != NDPI_PROTOCOL_UNKNOWN || p.master_protocol != NDPI_PROTOCOL_UNKNOWN;
    if (df->guessed)
        d->st.flows_guessed++;
}

void dpi_packet(dpi *d, struct dpi_flow *df, const struct dpi_flow_id *id, int dir,
                const struct payload_slot *pl, uint64_t ts_us)
{
    (void)dir;   /* nDPI tells the directions apart itself; later inspectors use it */
    if (df->pkts < 255u)
        df->pkts++;
    if (pl && pl->l3_len > 0 && (pl->l4_len > 0 || df->state == DPI_RUNNING)) {
        if (df->state == DPI_NEW) {
            if (d->nfree == 0) {
                d->st.pool_empty++;
                df->state = DPI_SKIPPED;
                if (d->done && has_ports(id))
                    payload_done_mark(d->done, flow_hash(d, id));
                return;
            }
            df->nf = d->free_stack[--d->nfree];
            memset(df->nf, 0, d->flow_size);
            df->state = DPI_RUNNING;
            df->want = DPI_WANT_ALL;
            d->st.flows_inspected++;
            df->m.insp = inspect_flow_acquire(d->ipool);
            if (df->m.insp) {
                d->st.meta_flows++;
            } else {
                df->want &= (uint8_t)~DPI_WANT_META;
                d->st.meta_pool_empty++;
            }
        }
        if (df->nf) {
            d->st.payload_packets++;
            ndpi_protocol p = ndpi_detection_process_packet(d->nd, df->nf, pl->data, pl->l3_len,
                                                            ts_us / 1000u);
            set_label(d, df, p);
        }
        /* Metadata: the packet's own ports and direction, its payload (headers-only packets
         * too: a SYN says where the byte stream starts). Bounded: at most 255 packets. */
        struct inspect_flow *insp = parser(df);
        if (insp) {
            bool fwd = dir == 0;
            uint32_t n = pl->l4_off <= pl->l3_len ? pl->l4_len : 0;
            bool more = inspect_flow_feed(insp, fwd ? INSPECT_DIR_FWD : INSPECT_DIR_REV, id->proto,
                                          fwd ? id->sport : id->dport, fwd ? id->dport : id->sport,
                                          id->tcp_flags, id->tcp_seq, id->has_seq,
                                          n ? pl->data + pl->l4_off : NULL, n);
            if (!more || df->pkts == 255u)
                meta_finish(d, df, id);
        }
    }
    if (df->state != DPI_RUNNING || !df->nf)
        return;
    uint32_t limit = id->proto == PROTO_UDP ? DPI_UDP_PACKETS : DPI_TCP_PACKETS;
    bool enough = df->pkts > limit;
    if (enough || df->app != NDPI_PROTOCOL_UNKNOWN) {
        if (!enough && ndpi_extra_dissection_possible(d->nd, df->nf))
            return;                     /* e.g. waiting for the certificate */
        finish(d, df, id);
    }
}

static void copy_name(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "Unknown");
}

void dpi_flow_end(dpi *d, struct dpi_flow *df, const struct dpi_flow_id *id, bool final,
                  struct flow_event *ev)
{
    if (final) {
        if (df->state == DPI_RUNNING && df->nf)
            finish(d, df, id);
        if (parser(df))
            meta_finish(d, df, id);
        else if (df->state == DPI_NEW || df->state == DPI_SKIPPED)
            guess_only(d, df, id);
        if (d->done && has_ports(id))
            payload_done_clear(d->done, flow_hash(d, id));
        df->state = DPI_DONE;
    }
    uint16_t master = df->master ? df->master : df->app;
    const struct inspect_flow *insp = parser(df);
    if (insp)
        ev->meta = *inspect_flow_result(insp);               /* interim: what they found so far */
    else if (df->meta_kept)
        ev->meta = meta_slot(d, df->m.meta)->r;
    else
        memset(&ev->meta, 0, sizeof ev->meta);
    if (final && df->meta_kept) {
        meta_put(d, df->m.meta);
        df->meta_kept = 0;
        df->m.insp = NULL;
    }
    ev->has_app = 1;
    ev->app_guessed = df->guessed;
    copy_name(ev->app_protocol, sizeof ev->app_protocol, ndpi_get_proto_name(d->nd, master));
    copy_name(ev->app_name, sizeof ev->app_name, ndpi_get_proto_name(d->nd, df->app));
    copy_name(ev->app_category, sizeof ev->app_category,
              ndpi_category_get_name(d->nd, (ndpi_protocol_category_t)df->category));
}

void dpi_get_stats(const dpi *d, struct dpi_stats *out)
{
    *out = d->st;
    out->pool_in_use = d->cap - d->nfree;
    struct inspect_pool_stats ips;
    inspect_pool_get_stats(d->ipool, &ips);
    out->meta_in_use = ips.in_use;
    out->meta_kept = d->meta_kept;
    out->meta_slab_slots = (uint64_t)d->meta_nchunks * DPI_META_CHUNK;
}
