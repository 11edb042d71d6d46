/*
 * capture.c — the capture stage (see capture.h).
 *
 * Records are decoded straight into the packet ring's slots (a window of up
 * to CAP_BURST free slots reserved at a time) and published with one
 * ring_commit_burst per burst (at most CAP_BURST frames, or whatever one
 * pcap_dispatch returned), so the ring's atomics are paid once per burst and
 * no record is copied between decode and the processor, which reads them in
 * place.
 * Counters are relaxed atomics written only by the capture thread; the
 * per-frame ones are counted in plain integers and stored once per burst (a
 * locked add per frame cost more than decoding it).
 *
 * Several interfaces (issue 14.7): each is a `cap_port` with everything
 * above of its own (pcap_t, ring, counters, burst, thread), so no port ever
 * waits for another; the stage object only groups them, sums their counters
 * and serialises their rare pushes into the one LLDP/CDP side ring.
 */
#include "capture.h"

#include <errno.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../common/caps.h"
#include "../common/ifnames.h"
#include "../common/payload.h"
#include "../common/log.h"
#include "../common/timefmt.h"
#include "../config/config.h"
#include "savefile.h"

#define CAP_BURST 256
#define CAP_IFCACHE 256  /* ifindex -> interface id cache slots per port (direct-mapped) */
#define CAP_TIMEOUT_MS 100
/* File mode: stdio buffer under the file. glibc sizes it to st_blksize (4 KiB),
 * one read(2) per 4 KiB; 256 KiB measured best on the bench (1-4 MiB buffers
 * no longer stay in L2 while libpcap copies records out of them). */
#define CAP_FILE_BUF (256u * 1024u)

struct cap_port {
    pcap_t *pcap;                 /* swapped only by the capture thread, under pcap_lock */
    pthread_mutex_t pcap_lock;    /* the swap vs capture_stop's pcap_breakloop */
    const struct config *cfg;     /* immutable, outlives the capture: reopening needs it */
    _Atomic uint64_t iface_lost, reopens;
    uint64_t k_base_recv, k_base_drop, k_base_ifdrop; /* counts of handles closed before */
    ring *out;
    bool file_mode;
    bool wait_up;                 /* live: the interface was not up at start; capture_run opens it */
    int dlt;
    atomic_int dlt_shown;         /* dlt for other threads; -1 until the live handle is open */
    atomic_bool stop;
    atomic_bool finished;
    atomic_bool file_error;       /* the file ended in a damaged record */
    char *file_buf;               /* file mode: the FILE's stdio buffer, freed after pcap_close */
    savefile *sf;                 /* file mode: reads the records while not NULL (savefile.h) */
    char source[256];             /* file or interface name, for logs */
    _Atomic uint64_t frames, records, ring_drops;
    _Atomic uint64_t decode[DECODE_RESULT_COUNT];
    _Atomic uint64_t k_recv, k_drop, k_ifdrop;
    ring *l2_out;                      /* LLDP/CDP side ring, NULL = off */
    _Atomic uint64_t l2_frames, l2_drops;
    _Atomic uint64_t file_pos;         /* file mode: bytes read so far (progress line) */
    struct capture_l2_frame l2_slot;   /* staging slot: no allocation per frame */
    /* Capture thread only: counts kept in plain integers per frame and
     * published (relaxed stores, single writer) once per burst. */
    uint64_t n_frames, n_decode[DECODE_RESULT_COUNT];
    /* tunnel (issue 14): decode options, and tunnel counts as the decode ones */
    unsigned decode_opts;
    uint64_t n_tun[4];
    _Atomic uint64_t tun[4];
    struct pkt_record *win;            /* reserved free slots of the packet ring (next_slot) */
    uint32_t win_n;                    /* ... how many */
    uint32_t nburst;                   /* ... filled, not yet committed */
    uint64_t n_full;                   /* live: records dropped because the ring was full, unpublished */
    struct pkt_record scratch;         /* where a record goes when the ring is full (then dropped) */
    uint32_t dispatches;               /* file mode: pcap_dispatch calls (note_file_pos) */
    /* where packets came in (issue 14.7) */
    const char *dev;                   /* live: the interface this port opens */
    pthread_mutex_t *l2_lock;          /* several ports share the side ring: NULL when one */
    ifnames *names;                    /* interface-name table, or NULL */
    uint16_t iface_id;                 /* stamped on every record (0: the capture's own name) */
    bool by_ifindex;                   /* live "any" with cooked v2 headers: name each record's interface */
    struct { uint32_t ifindex; uint16_t id; } ifcache[CAP_IFCACHE]; /* ifindex -> id, capture thread only */
    /* dpi (issue 15): this port's payload ring (one producer: each port has its own) */
    ring *payload;                     /* NULL: no payload path */
    payload_done *done;
    uint8_t payload_ring;              /* the ring's index, stamped on records (its packet ring's) */
    uint32_t payload_seq;              /* last sequence number given (0 is never used) */
    uint64_t n_payload_copied, n_payload_full, n_payload_skips;
    _Atomic uint64_t payload_copied, payload_full, payload_skips;
};

/*
 * The capture stage: one port per source (a pcap file, one interface, or
 * each interface of an AGENT_INTERFACE list), each with its own ring and,
 * when there are several, its own thread (capture_run starts the others).
 */
struct capture {
    size_t nports;
    struct cap_port *ports[CAPTURE_MAX_PORTS];
    pthread_t threads[CAPTURE_MAX_PORTS];   /* [1..nports-1], started by capture_run */
    pthread_mutex_t l2_lock;
    atomic_bool finished;
};

static void add(_Atomic uint64_t *c, uint64_t n) { atomic_fetch_add_explicit(c, n, memory_order_relaxed); }

#define CAPTURE_REOPEN_MAX_S 30u

/* A handle was opened: its link type, for the decoder and (published) for other threads. */
static void set_datalink(struct cap_port *c, pcap_t *p)
{
    c->dlt = pcap_datalink(p);
    atomic_store_explicit(&c->dlt_shown, c->dlt, memory_order_relaxed);
    c->by_ifindex = !c->file_mode && c->names && c->dlt == DECODE_DLT_LINUX_SLL2;
    if (!decode_dlt_supported(c->dlt))
        log_warn("link type %s (%d) is not supported: its frames will be counted as unsupported_link",
                 pcap_datalink_val_to_name(c->dlt) ? pcap_datalink_val_to_name(c->dlt) : "?", c->dlt);
}

static int apply_filter(pcap_t *p, const char *filter, char *err, size_t errlen)
{
    if (!filter || !filter[0])
        return 0;
    struct bpf_program prog;
    if (pcap_compile(p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
        snprintf(err, errlen, "AGENT_BPF_FILTER=%s: invalid filter: %s", filter, pcap_geterr(p));
        return -1;
    }
    int rc = pcap_setfilter(p, &prog);
    pcap_freecode(&prog);
    if (rc < 0) {
        snprintf(err, errlen, "cannot set filter: %s", pcap_geterr(p));
        return -1;
    }
    return 0;
}

/*
 * The "any" device: ask for Linux cooked v2 headers, which carry the
 * interface index each packet came in on (v1, libpcap's default there, does
 * not). A libpcap without v2 keeps v1: every flow then names "any".
 */
static void want_cooked_v2(pcap_t *p, const char *dev)
{
    if (strcmp(dev, "any") != 0 || pcap_datalink(p) == DLT_LINUX_SLL2)
        return;
    if (pcap_set_datalink(p, DLT_LINUX_SLL2) != 0)
        log_warn("capture on any: no Linux cooked v2 headers (%s): flows name \"any\", not their interface",
                 pcap_geterr(p));
}

/*
 * Open and activate the live device with the configured options and filter.
 * NULL with a message in err on failure; *status (when not NULL) is then the
 * pcap_activate status, e.g. PCAP_ERROR_IFACE_NOT_UP.
 */
static pcap_t *open_live(const struct config *cfg, const char *dev, int *status, char *err, size_t errlen)
{
    if (status)
        *status = 0;
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create(dev, ebuf);
    if (!p) {
        snprintf(err, errlen, "cannot open interface %s: %s", dev, ebuf);
        return NULL;
    }
    pcap_set_snaplen(p, (int)cfg->snap_len);
    pcap_set_promisc(p, cfg->promiscuous ? 1 : 0);
    pcap_set_timeout(p, CAP_TIMEOUT_MS);
    pcap_set_buffer_size(p, (int)(cfg->pcap_buffer_mb * 1024u * 1024u));
    struct caps_saved raw;
    caps_raise(CAP_NET_RAW, &raw);          /* packet socket; effective only for this call */
    int rc = pcap_activate(p);
    caps_restore(&raw);
    if (rc < 0) {
        if (status)
            *status = rc;
        const char *why = pcap_statustostr(rc);
        /* libpcap's text often repeats the status ("That device is not up"): say it once */
        const char *more = pcap_geterr(p);
        if (!more[0] || strcmp(more, why) == 0)
            more = NULL;
        if (rc == PCAP_ERROR_PERM_DENIED)
            snprintf(err, errlen, "cannot capture on %s: %s%s%s%s; run as root (sudo) or "
                     "give the binary CAP_NET_RAW and CAP_NET_ADMIN", dev, why, more ? " (" : "",
                     more ? more : "", more ? ")" : "");
        else
            snprintf(err, errlen, "cannot capture on %s: %s%s%s%s", dev, why, more ? " (" : "",
                     more ? more : "", more ? ")" : "");
        pcap_close(p);
        return NULL;
    }
    if (rc > 0)
        log_warn("capture on %s: %s: %s", dev, pcap_statustostr(rc), pcap_geterr(p));
    want_cooked_v2(p, dev);
    if (apply_filter(p, cfg->bpf_filter, err, errlen) != 0) {
        pcap_close(p);
        return NULL;
    }
    return p;
}

/*
 * Open a capture file as pcap_open_offline_with_tstamp_precision does ("-" is
 * standard input, errors read "FILE: reason"), but through our own FILE with a
 * CAP_FILE_BUF stdio buffer, so libpcap's freads cost far fewer read(2) calls.
 * The buffer is c->file_buf; it must outlive the FILE, which pcap_close closes.
 */
static pcap_t *open_file(struct cap_port *c, const char *path, char *ebuf)
{
    if (strcmp(path, "-") == 0)
        return pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(ebuf, PCAP_ERRBUF_SIZE, "%s: %s", path, strerror(errno));
        return NULL;
    }
    /* Only the capture thread ever touches this FILE (reads, ftell, close
     * after the thread is joined): stdio need not lock it. The lock was a
     * locked instruction in each of libpcap's two freads per record, where
     * perf put most of the samples of fread itself (files the block reader
     * does not take are still read that way). */
    __fsetlocking(f, FSETLOCKING_BYCALLER);
    c->file_buf = malloc(CAP_FILE_BUF);
    if (c->file_buf && setvbuf(f, c->file_buf, _IOFBF, CAP_FILE_BUF) != 0) {
        free(c->file_buf);            /* keep stdio's own buffer */
        c->file_buf = NULL;
    }
    pcap_t *p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
    if (!p)
        fclose(f);                    /* libpcap leaves the FILE open on failure */
    return p;
}

static struct cap_port *port_create(const struct config *cfg, const char *dev, ring *out, ifnames *names,
                                     char *err, size_t errlen)
{
    struct cap_port *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "capture: out of memory");
        return NULL;
    }
    c->out = out;
    c->dev = dev;
    c->names = names;
    c->file_mode = cfg->pcap_file != NULL;
    if (c->file_mode) {
        char ebuf[PCAP_ERRBUF_SIZE] = "";
        c->pcap = open_file(c, cfg->pcap_file, ebuf);
        if (!c->pcap) {
            snprintf(err, errlen, "cannot open %s: %s", cfg->pcap_file, ebuf);
            goto err;
        }
        if (apply_filter(c->pcap, cfg->bpf_filter, err, errlen) != 0)
            goto err;
        c->sf = savefile_open(c->pcap, cfg->bpf_filter && cfg->bpf_filter[0]);
    } else {
        int st = 0;
        c->pcap = open_live(cfg, dev, &st, err, errlen);
        if (!c->pcap && st != PCAP_ERROR_IFACE_NOT_UP)
            goto err;
        if (!c->pcap) {
            /* Down at start: wait for it, as for an interface lost later (capture_run). */
            log_warn("capture: %s is not up; waiting for it to come up (checked with backoff, "
                     "at most %u s apart)", dev, CAPTURE_REOPEN_MAX_S);
            c->wait_up = true;
            err[0] = '\0';
        }
    }
    c->cfg = cfg;
    c->decode_opts = cfg->decap ? DECODE_OPT_DECAP : 0u;
    pthread_mutex_init(&c->pcap_lock, NULL);
    snprintf(c->source, sizeof c->source, "%s", c->file_mode ? cfg->pcap_file : dev);
    atomic_init(&c->dlt_shown, -1);
    if (c->pcap)
        set_datalink(c, c->pcap);
    atomic_init(&c->stop, false);
    atomic_init(&c->finished, false);
    atomic_init(&c->file_error, false);
    return c;
err:
    if (c->pcap)
        pcap_close(c->pcap);
    free(c->file_buf);
    free(c);
    return NULL;
}

static void port_destroy(struct cap_port *c)
{
    if (!c)
        return;
    savefile_destroy(c->sf);
    if (c->pcap)
        pcap_close(c->pcap);
    free(c->file_buf);              /* after pcap_close: the FILE used it */
    pthread_mutex_destroy(&c->pcap_lock);
    free(c);
}

/* Make the per-frame counts visible to other threads. */
static void publish_counts(struct cap_port *c)
{
    atomic_store_explicit(&c->frames, c->n_frames, memory_order_relaxed);
    for (int i = 0; i < DECODE_RESULT_COUNT; i++)
        atomic_store_explicit(&c->decode[i], c->n_decode[i], memory_order_relaxed);
    for (int i = 0; i < 4; i++)
        atomic_store_explicit(&c->tun[i], c->n_tun[i], memory_order_relaxed);
    atomic_store_explicit(&c->payload_copied, c->n_payload_copied, memory_order_relaxed);
    atomic_store_explicit(&c->payload_full, c->n_payload_full, memory_order_relaxed);
    atomic_store_explicit(&c->payload_skips, c->n_payload_skips, memory_order_relaxed);
}

/* A record that went through a tunnel (or stopped at one): count what happened. */
static void count_tunnel(struct cap_port *c, const struct pkt_record *r)
{
    c->n_tun[0] += r->tun_depth != 0;
    c->n_tun[1] += (r->tun_flags & DECODE_TUN_F_CAPPED) != 0;
    c->n_tun[2] += (r->tun_flags & DECODE_TUN_F_UNDECODED) != 0;
    c->n_tun[3] += (r->tun_flags & DECODE_TUN_F_FRAGMENT) != 0;
}

/* Publish the filled slots of the window; the rest of it stays reserved. */
static void flush_burst(struct cap_port *c)
{
    publish_counts(c);
    uint32_t n = c->nburst;
    ring_commit_burst(c->out, n);
    c->win += n;
    c->win_n -= n;
    c->nburst = 0;
    add(&c->records, n);
    if (c->n_full) {
        ring_count_drops(c->out, c->n_full);
        add(&c->ring_drops, c->n_full);
        c->n_full = 0;
    }
}

/*
 * Where the next record is decoded: the next reserved slot, after publishing
 * a used-up window and reserving the next one. A full ring: replaying a file,
 * wait for room; live (or stopping), the scratch record, which on_frame
 * counts as dropped.
 */
static struct pkt_record *next_slot(struct cap_port *c)
{
    if (c->nburst < c->win_n)
        return &c->win[c->nburst];
    if (c->nburst)
        flush_burst(c);
    uint32_t n;
    struct pkt_record *w = ring_reserve_burst(c->out, CAP_BURST, &n);
    while (!w && c->file_mode && !atomic_load_explicit(&c->stop, memory_order_relaxed)) {
        struct timespec ts = {0, 50000};
        nanosleep(&ts, NULL);
        w = ring_reserve_burst(c->out, CAP_BURST, &n);
    }
    c->win = w;
    c->win_n = n;
    return w ? w : &c->scratch;
}

/* Hand an LLDP/CDP frame to the side ring (see capture_set_l2_ring). */
static void copy_l2(struct cap_port *c, const struct pcap_pkthdr *h, const u_char *data, uint64_t ts)
{
    struct capture_l2_frame *f = &c->l2_slot;
    enum decode_l2_kind kind = decode_l2_discovery(c->dlt, data, h->caplen, &f->info);
    if (kind == DECODE_L2_NONE)
        return;
    uint32_t n = h->caplen < CAPTURE_L2_MAX ? h->caplen : CAPTURE_L2_MAX;
    f->ts_us = ts;
    f->caplen = n;
    f->wire_len = h->len;
    f->kind = (uint8_t)kind;
    f->flags = (n < h->len) ? CAPTURE_L2_F_TRUNCATED : 0;
    memcpy(f->data, data, n);
    if (c->l2_lock)                    /* several ports, one producer at a time (LLDP/CDP are rare) */
        pthread_mutex_lock(c->l2_lock);
    bool ok = ring_push_burst(c->l2_out, f, 1) == 1;
    while (!ok && c->file_mode && !atomic_load_explicit(&c->stop, memory_order_relaxed)) {
        struct timespec pause = {0, 50000};
        nanosleep(&pause, NULL);
        ok = ring_push_burst(c->l2_out, f, 1) == 1;
    }
    if (c->l2_lock)
        pthread_mutex_unlock(c->l2_lock);
    if (ok) {
        add(&c->l2_frames, 1);
    } else {
        ring_count_drops(c->l2_out, 1);
        add(&c->l2_drops, 1);
    }
}

/*
 * The interface id of a cooked v2 header's index: from the port's cache,
 * else from the name table (indexes colliding in the cache: a scan, no
 * system call), else (an index never seen: one ioctl per interface, not per
 * packet) from ifnames_resolve. An id of 0 (index 0, table full) is cached too.
 */
static uint16_t iface_of_ifindex(struct cap_port *c, uint32_t ifindex)
{
    unsigned slot = ifindex & (CAP_IFCACHE - 1u);
    if (c->ifcache[slot].ifindex == ifindex)
        return c->ifcache[slot].id;
    if (ifindex == 0)
        return 0;
    uint16_t id = ifnames_find(c->names, ifindex);
    if (id == 0)
        id = ifnames_resolve(c->names, ifindex);
    c->ifcache[slot].ifindex = ifindex;
    c->ifcache[slot].id = id;
    return id;
}

/*
 * The payload path (capture_set_payload): copy the IP packet of a TCP/UDP
 * record with payload into the payload ring unless its flow is done with
 * inspection (also when it has no payload: its headers, for nDPI's TCP
 * tracking). The copy's IP length fields are cut to the bytes copied, so
 * nDPI (which checks them) takes a packet cut by the snap length or the slot.
 */
static void copy_payload(struct cap_port *c, struct pkt_record *rec, const u_char *data,
                         const struct decode_span *sp)
{
    if (sp->l3_len == 0 || (rec->proto != 6 && rec->proto != 17) ||
        sp->l4_off >= PAYLOAD_DATA_MAX)
        return;
    if (c->done && payload_done_test(c->done, payload_flow_hash(c->done, rec->src, rec->sport, rec->dst,
                                                                rec->dport, rec->proto))) {
        c->n_payload_skips++;
        return;
    }
    struct payload_slot *slot = ring_reserve(c->payload);
    if (!slot && c->file_mode) {
        /* The processor frees slots as it reads their records: publish the
         * ones before ours (rec stays where it is, first of the window). */
        if (c->nburst)
            flush_burst(c);
        while (!slot && !atomic_load_explicit(&c->stop, memory_order_relaxed)) {
            struct timespec ts = {0, 50000};
            nanosleep(&ts, NULL);
            slot = ring_reserve(c->payload);
        }
    }
    if (!slot) {
        ring_count_drops(c->payload, 1);
        c->n_payload_full++;
        return;
    }
    uint32_t n = sp->l3_len < PAYLOAD_DATA_MAX ? sp->l3_len : PAYLOAD_DATA_MAX;
    memcpy(slot->data, data + sp->l3_off, n);
    if (rec->ip_version == 4 && n >= 20u) {
        uint32_t tot = (uint32_t)slot->data[2] << 8 | slot->data[3];
        if (tot > n || tot == 0) {
            slot->data[2] = (uint8_t)(n >> 8);
            slot->data[3] = (uint8_t)n;
        }
    } else if (rec->ip_version == 6 && n >= 40u) {
        uint32_t plen = (uint32_t)slot->data[4] << 8 | slot->data[5];
        if (plen > n - 40u || plen == 0) {
            slot->data[4] = (uint8_t)((n - 40u) >> 8);
            slot->data[5] = (uint8_t)(n - 40u);
        }
    }
    if (++c->payload_seq == 0)
        c->payload_seq = 1;
    slot->seq = c->payload_seq;
    slot->l3_len = (uint16_t)n;
    slot->l4_off = (uint16_t)sp->l4_off;
    slot->l4_len = (uint16_t)(n - sp->l4_off < sp->l4_len ? n - sp->l4_off : sp->l4_len);
    slot->reserved = 0;
    ring_commit(c->payload);
    rec->payload_seq = c->payload_seq;
    rec->payload_ring = c->payload_ring;
    c->n_payload_copied++;
}

static void on_frame(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    struct cap_port *c = (struct cap_port *)user;
    /* Classic pcap stores seconds as an unsigned 32-bit field and libpcap hands
     * them over through a signed one: from 2038-01-19 they arrive negative.
     * Live (and pcapng) times are real time_t values and never negative here. */
    uint64_t secs = h->ts.tv_sec < 0 ? (uint64_t)(uint32_t)h->ts.tv_sec : (uint64_t)h->ts.tv_sec;
    uint64_t ts = secs * 1000000u + (uint64_t)h->ts.tv_usec;
    struct pkt_record *rec = next_slot(c);
    struct decode_span sp;
    enum decode_result r = decode_packet_span(c->dlt, data, h->caplen, h->len, ts, c->decode_opts, rec,
                                              c->payload ? &sp : NULL);
    rec->iface = c->by_ifindex ? iface_of_ifindex(c, decode_sll2_ifindex(data, h->caplen)) : c->iface_id;
    if (c->payload && r == DECODE_OK && rec != &c->scratch)
        copy_payload(c, rec, data, &sp);   /* may publish the records before rec (file mode) */
    c->n_frames++;
    c->n_decode[r]++;
    if (r == DECODE_OK && (rec->tun_depth | rec->tun_flags))
        count_tunnel(c, rec);
    if (r == DECODE_OK) {
        if (rec == &c->scratch)
            c->n_full++;                   /* the ring was full: dropped, counted at the next flush */
        else
            c->nburst++;
    } else if (r == DECODE_NOT_IP && c->l2_out) {
        copy_l2(c, h, data, ts);
    }
}

/* Kernel counts: those of handles closed before (reopens) plus the current one's. */
static void read_kernel_stats(struct cap_port *c)
{
    struct pcap_stat ps;
    if (c->file_mode || !c->pcap || pcap_stats(c->pcap, &ps) != 0)
        return;
    atomic_store_explicit(&c->k_recv, c->k_base_recv + ps.ps_recv, memory_order_relaxed);
    atomic_store_explicit(&c->k_drop, c->k_base_drop + ps.ps_drop, memory_order_relaxed);
    atomic_store_explicit(&c->k_ifdrop, c->k_base_ifdrop + ps.ps_ifdrop, memory_order_relaxed);
}

/* Sleep up to `us`, waking every 100 ms to see whether capture_stop was called. */
static bool sleep_unless_stopped(struct cap_port *c, uint64_t us)
{
    uint64_t until = timefmt_mono_us() + us;
    while (!atomic_load(&c->stop)) {
        uint64_t now = timefmt_mono_us();
        if (now >= until)
            return true;
        uint64_t step = until - now < 100000u ? until - now : 100000u;
        struct timespec ts = {0, (long)step * 1000L};
        nanosleep(&ts, NULL);
    }
    return false;
}

#define REOPEN_FIRST_US 250000u
#define REOPEN_MAX_US   (CAPTURE_REOPEN_MAX_S * 1000000u)

static bool open_with_backoff(struct cap_port *c, const char *what, bool quiet, _Atomic uint64_t *count);

/*
 * The live handle failed (interface down, removed, driver reset). Close it and
 * open the interface again with exponential backoff until it works or the
 * sensor stops; the flow table is untouched, so flows continue. Returns false
 * only when stopped. Capture thread.
 */
static bool reopen_live(struct cap_port *c, const char *why)
{
    atomic_fetch_add_explicit(&c->iface_lost, 1, memory_order_relaxed);
    log_warn("capture on %s failed: %s; reopening it with backoff (flows are kept)", c->source, why);
    read_kernel_stats(c);
    c->k_base_recv = atomic_load(&c->k_recv);
    c->k_base_drop = atomic_load(&c->k_drop);
    c->k_base_ifdrop = atomic_load(&c->k_ifdrop);
    pthread_mutex_lock(&c->pcap_lock);
    pcap_close(c->pcap);
    c->pcap = NULL;
    pthread_mutex_unlock(&c->pcap_lock);

    return open_with_backoff(c, "reopened", false, &c->reopens);
}

/*
 * Open the live interface with exponential backoff (REOPEN_FIRST_US doubling
 * to REOPEN_MAX_US) until it works or the sensor stops. `what` names the
 * occasion in the log ("reopened", "opened"); the first failure is logged
 * unless `quiet`, later ones never; `count` (may be NULL) is incremented on
 * success, before the log line. Returns false only when stopped. Capture
 * thread.
 */
static bool open_with_backoff(struct cap_port *c, const char *what, bool quiet, _Atomic uint64_t *count)
{
    uint64_t delay = REOPEN_FIRST_US;
    for (unsigned attempt = 1;; attempt++) {
        if (!sleep_unless_stopped(c, delay))
            return false;
        char err[PCAP_ERRBUF_SIZE + 256];
        pcap_t *p = open_live(c->cfg, c->dev, NULL, err, sizeof err);
        if (p) {
            pthread_mutex_lock(&c->pcap_lock);
            c->pcap = p;
            bool stopped = atomic_load(&c->stop);
            pthread_mutex_unlock(&c->pcap_lock);
            set_datalink(c, p);
            if (count)
                add(count, 1);
            log_info("capture on %s %s after %u attempt%s", c->source, what, attempt, attempt == 1 ? "" : "s");
            return !stopped;
        }
        if (attempt == 1 && !quiet)
            log_warn("capture: cannot reopen %s yet (%s); retrying every %u s at most, quietly",
                     c->source, err, CAPTURE_REOPEN_MAX_S);
        delay = delay * 2 > REOPEN_MAX_US ? REOPEN_MAX_US : delay * 2;
    }
}

/* File mode, once per 64 dispatches (up to 16,384 frames; ftell is a system
 * call) and at the end: publish how far the file was read. */
#define CAP_FILE_POS_EVERY 64u

/* After a burst of frames: publish its records, or the counts when it made none. */
static void end_burst(struct cap_port *c)
{
    if (c->nburst || c->n_full)
        flush_burst(c);
    else
        publish_counts(c);
}

static void note_file_pos(struct cap_port *c)
{
    if (c->sf) {
        atomic_store_explicit(&c->file_pos, savefile_pos(c->sf), memory_order_relaxed);
        return;
    }
    FILE *f = pcap_file(c->pcap);
    long pos = f ? ftell(f) : -1;
    if (pos > 0)
        atomic_store_explicit(&c->file_pos, (uint64_t)pos, memory_order_relaxed);
}

/*
 * File mode through the savefile reader: bursts of up to CAP_BURST records,
 * published as pcap_dispatch's are. Returns true when libpcap is to read the
 * rest of the file (a record the reader gave back), false at the end of the
 * file or when stopped.
 */
static bool run_savefile(struct cap_port *c)
{
    while (!atomic_load_explicit(&c->stop, memory_order_relaxed)) {
        enum savefile_next r = SAVEFILE_RECORD;
        struct pcap_pkthdr h;
        const uint8_t *data;
        for (unsigned i = 0; i < CAP_BURST && (r = savefile_next(c->sf, &h, &data)) == SAVEFILE_RECORD; i++)
            on_frame((u_char *)c, &h, data);
        end_burst(c);
        note_file_pos(c);
        if (r == SAVEFILE_END)
            return false;
        if (r == SAVEFILE_HANDOVER) {
            savefile_destroy(c->sf);
            c->sf = NULL;
            return true;
        }
        if (r == SAVEFILE_FAILED) {
            log_warn("capture: %s: stopped reading after %llu frames: cannot seek to byte %llu: %s",
                     c->source, (unsigned long long)atomic_load(&c->frames),
                     (unsigned long long)savefile_pos(c->sf), strerror(errno));
            atomic_store_explicit(&c->file_error, true, memory_order_relaxed);
            return false;
        }
    }
    return false;
}

static int port_run(struct cap_port *c)
{
    int status = 0;
    /* Down at start (capture_create said so once): wait quietly until it is up. */
    if (c->wait_up && !open_with_backoff(c, "opened (it came up)", true, NULL)) {
        atomic_store_explicit(&c->finished, true, memory_order_release);
        return status;
    }
    uint64_t next_stats = timefmt_mono_us() + 1000000u;
    bool by_libpcap = !c->sf || run_savefile(c);
    while (by_libpcap && !atomic_load_explicit(&c->stop, memory_order_relaxed)) {
        int n = pcap_dispatch(c->pcap, CAP_BURST, on_frame, (u_char *)c);
        end_burst(c);
        if (c->file_mode && ++c->dispatches % CAP_FILE_POS_EVERY == 0)
            note_file_pos(c);
        if (n == PCAP_ERROR_BREAK)
            break;
        if (n == PCAP_ERROR && c->file_mode) {
            /* A file cut short (e.g. copied while still being written): what
             * was read counts, the rest cannot be; say so and end normally. */
            log_warn("capture: %s: stopped reading after %llu frames: %s", c->source,
                     (unsigned long long)atomic_load(&c->frames), pcap_geterr(c->pcap));
            atomic_store_explicit(&c->file_error, true, memory_order_relaxed);
            break;
        }
        if (n == PCAP_ERROR) {
            char why[PCAP_ERRBUF_SIZE];
            snprintf(why, sizeof why, "%s", pcap_geterr(c->pcap));
            if (!reopen_live(c, why))
                break;                                   /* stopped while waiting */
            continue;
        }
        if (c->file_mode && n == 0)
            break;                                   /* end of file */
        if (!c->file_mode && timefmt_mono_us() >= next_stats) {
            read_kernel_stats(c);
            next_stats = timefmt_mono_us() + 1000000u;
        }
    }
    read_kernel_stats(c);
    if (c->file_mode && c->pcap)
        note_file_pos(c);
    atomic_store_explicit(&c->finished, true, memory_order_release);
    return status;
}

static void port_stop(struct cap_port *c)
{
    pthread_mutex_lock(&c->pcap_lock);
    atomic_store(&c->stop, true);
    if (c->pcap)
        pcap_breakloop(c->pcap);   /* else the reopen loop sees the flag within 100 ms */
    pthread_mutex_unlock(&c->pcap_lock);
}

static void port_stats_add(const struct cap_port *c, struct capture_stats *out)
{
    out->frames += atomic_load_explicit(&c->frames, memory_order_relaxed);
    out->records += atomic_load_explicit(&c->records, memory_order_relaxed);
    out->ring_drops += atomic_load_explicit(&c->ring_drops, memory_order_relaxed);
    for (int i = 0; i < DECODE_RESULT_COUNT; i++)
        out->decode[i] += atomic_load_explicit(&c->decode[i], memory_order_relaxed);
    out->kernel_received += atomic_load_explicit(&c->k_recv, memory_order_relaxed);
    out->kernel_dropped += atomic_load_explicit(&c->k_drop, memory_order_relaxed);
    out->interface_dropped += atomic_load_explicit(&c->k_ifdrop, memory_order_relaxed);
    out->file_truncated += atomic_load_explicit(&c->file_error, memory_order_relaxed);
    out->interface_lost += atomic_load_explicit(&c->iface_lost, memory_order_relaxed);
    out->reopens += atomic_load_explicit(&c->reopens, memory_order_relaxed);
    out->tunnel_decapsulated += atomic_load_explicit(&c->tun[0], memory_order_relaxed);
    out->tunnel_capped += atomic_load_explicit(&c->tun[1], memory_order_relaxed);
    out->tunnel_undecoded += atomic_load_explicit(&c->tun[2], memory_order_relaxed);
    out->tunnel_fragment += atomic_load_explicit(&c->tun[3], memory_order_relaxed);
    out->payload_copied += atomic_load_explicit(&c->payload_copied, memory_order_relaxed);
    out->payload_ring_full += atomic_load_explicit(&c->payload_full, memory_order_relaxed);
    out->payload_done_skips += atomic_load_explicit(&c->payload_skips, memory_order_relaxed);
}

/* ---- the stage: one port per source --------------------------------------- */

capture *capture_create(const struct config *cfg, ring *const *outs, size_t nouts, ifnames *names,
                        char *err, size_t errlen)
{
    size_t n = cfg->pcap_file ? 1 : cfg->interface_count;
    if (n == 0 || n > CAPTURE_MAX_PORTS || nouts != n) {
        snprintf(err, errlen, "capture: %zu rings for %zu sources", nouts, n);
        return NULL;
    }
    capture *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "capture: out of memory");
        return NULL;
    }
    pthread_mutex_init(&g->l2_lock, NULL);
    atomic_init(&g->finished, false);
    for (size_t i = 0; i < n; i++) {
        const char *dev = cfg->pcap_file ? NULL : cfg->interfaces[i];
        struct cap_port *c = port_create(cfg, dev, outs[i], names, err, errlen);
        if (!c) {
            capture_destroy(g);
            return NULL;
        }
        g->ports[g->nports++] = c;
        /* A list names each record's interface; one interface (or "any" without
         * cooked v2) leaves the id 0: the capture's own name, as before. */
        if (n > 1)
            c->iface_id = ifnames_add(names, if_nametoindex(dev), dev);
        c->l2_lock = n > 1 ? &g->l2_lock : NULL;
    }
    return g;
}

void capture_destroy(capture *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->nports; i++)
        port_destroy(g->ports[i]);
    pthread_mutex_destroy(&g->l2_lock);
    free(g);
}

static void *port_thread(void *arg)
{
    caps_thread_init("capture");       /* CAP_NET_RAW is raised only to reopen the interface */
    port_run(arg);
    return NULL;
}

int capture_run(capture *g)
{
    size_t started = 1;
    for (size_t i = 1; i < g->nports; i++) {
        if (pthread_create(&g->threads[i], NULL, port_thread, g->ports[i]) != 0) {
            log_error("capture: cannot start the thread for %s: %s", g->ports[i]->source, strerror(errno));
            break;
        }
        started++;
    }
    int status = started == g->nports ? 0 : -1;
    if (status == 0)
        status = port_run(g->ports[0]);
    else
        atomic_store_explicit(&g->ports[0]->finished, true, memory_order_release);
    for (size_t i = 1; i < started; i++) {
        if (status != 0)
            port_stop(g->ports[i]);
        pthread_join(g->threads[i], NULL);
    }
    atomic_store_explicit(&g->finished, true, memory_order_release);
    return status;
}

void capture_stop(capture *g)
{
    for (size_t i = 0; i < g->nports; i++)
        port_stop(g->ports[i]);
}

bool capture_finished(const capture *g)
{
    return atomic_load_explicit(&g->finished, memory_order_acquire);
}

void capture_get_stats(const capture *g, struct capture_stats *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < g->nports; i++)
        port_stats_add(g->ports[i], out);
    out->interface_names_full = ifnames_full(g->ports[0]->names);
}

int capture_set_payload(capture *g, ring *const *payloads, size_t n, struct payload_done *done)
{
    if (!g)
        return 0;
    if (payloads && n != g->nports)
        return -1;
    for (size_t i = 0; i < g->nports; i++) {
        struct cap_port *c = g->ports[i];
        ring *r = payloads ? payloads[i] : NULL;
        if (r && ring_slot_size(r) != PAYLOAD_SLOT_SIZE)
            return -1;
        c->payload = r;
        c->done = r ? done : NULL;
        c->payload_ring = (uint8_t)i;
    }
    return 0;
}

int capture_datalink(const capture *g)
{
    return atomic_load_explicit(&g->ports[0]->dlt_shown, memory_order_relaxed);
}

void capture_set_l2_ring(capture *g, ring *r)
{
    if (!g)
        return;
    ring *use = (r && ring_slot_size(r) == sizeof(struct capture_l2_frame)) ? r : NULL;
    for (size_t i = 0; i < g->nports; i++)
        g->ports[i]->l2_out = use;
}

uint64_t capture_file_pos(const capture *g)
{
    return atomic_load_explicit(&g->ports[0]->file_pos, memory_order_relaxed);
}

uint64_t capture_l2_frames(const capture *g)
{
    uint64_t n = 0;
    for (size_t i = 0; i < g->nports; i++)
        n += atomic_load_explicit(&g->ports[i]->l2_frames, memory_order_relaxed);
    return n;
}

uint64_t capture_l2_drops(const capture *g)
{
    uint64_t n = 0;
    for (size_t i = 0; i < g->nports; i++)
        n += atomic_load_explicit(&g->ports[i]->l2_drops, memory_order_relaxed);
    return n;
}
