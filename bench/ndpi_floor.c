/*
 * ndpi_floor.c — `make bench` floor for the DPI rows (issue 15): what nDPI
 * itself costs on the bench trace, with nothing of the sensor around it.
 *
 * One thread reads the trace with pcap_next_ex, keeps a bare table of flows
 * (canonical 5-tuple, open addressing) and feeds nDPI by the sensor's own
 * rules (processor/dpi.c, after ndpiReader): a flow enters detection at its
 * first TCP/UDP packet with payload, from then on every packet of it goes to
 * ndpi_detection_process_packet (headers-only ones too), until nDPI has a
 * label and ndpi_extra_dissection_possible says no more, or the flow has had
 * 80 (TCP) / 24 (UDP) packets; flows still unlabelled at the end get
 * ndpi_detection_giveup with guessing. No metadata parsers, no records, no
 * JSON, no payload copies, no second thread: the sensor's DPI row is read
 * against this the way its Kafka row is read against bench/kafka_floor.
 *
 * Usage: ndpi_floor TRACE.pcap
 * Prints: "P packets F flows I inspected D detected G guessed S s U user-s Y sys-s"
 * (S: wall time of the whole run; U, Y: this process's CPU).
 * Handles what bench/gen.c writes: Ethernet, at most one 802.1Q tag, IPv4
 * (no options) and IPv6 (no extension headers), TCP and UDP; other frames
 * are counted as packets and skipped.
 */
#define _DEFAULT_SOURCE
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <ndpi_api.h>
#include <pcap/pcap.h>

#define TABLE_BITS 21u                 /* 2 M slots: the trace has 300,000 flows */
#define TCP_LIMIT 80u
#define UDP_LIMIT 24u

enum { F_NEW = 0, F_RUNNING, F_DONE };

struct key {
    uint8_t a[16], b[16];              /* lower address first */
    uint16_t pa, pb;
    uint8_t proto, used;
};

struct flow {
    struct key k;
    struct ndpi_flow_struct *nf;
    uint16_t app, pkts;
    uint8_t state;
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t key_hash(const struct key *k)
{
    uint64_t h = 1469598103934665603ull;
    const uint8_t *p = (const uint8_t *)k;
    for (size_t i = 0; i < offsetof(struct key, used); i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h ^ (h >> 29);
}

/* The flow of a packet, created when new; NULL when the table is full. */
static struct flow *lookup(struct flow *t, const struct key *k)
{
    uint64_t mask = (1ull << TABLE_BITS) - 1u;
    for (uint64_t i = key_hash(k) & mask, n = 0; n <= mask; i = (i + 1) & mask, n++) {
        if (!t[i].k.used) {
            t[i].k = *k;
            t[i].k.used = 1;
            return &t[i];
        }
        if (memcmp(&t[i].k, k, offsetof(struct key, used)) == 0)
            return &t[i];
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ndpi_floor TRACE.pcap\n");
        return 2;
    }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(argv[1], err);
    if (!pc) {
        fprintf(stderr, "ndpi_floor: %s\n", err);
        return 1;
    }
    struct ndpi_detection_module_struct *nd = ndpi_init_detection_module(ndpi_no_prefs);
    struct flow *t = calloc((size_t)1 << TABLE_BITS, sizeof *t);
    size_t fsize = ndpi_detection_get_sizeof_ndpi_flow_struct();
    if (!nd || !t) {
        fprintf(stderr, "ndpi_floor: out of memory\n");
        return 1;
    }
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(nd, &all);
    ndpi_finalize_initialization(nd);

    /* states reused last-in first-out, as the sensor's pool does (no malloc per flow) */
    struct ndpi_flow_struct **spare = calloc((size_t)1 << TABLE_BITS, sizeof *spare);
    size_t nspare = 0;
    if (!spare) {
        fprintf(stderr, "ndpi_floor: out of memory\n");
        return 1;
    }
    unsigned long pkts = 0, flows = 0, inspected = 0, detected = 0, guessed = 0;
    double t0 = mono_s();
    struct pcap_pkthdr *h;
    const u_char *d;
    while (pcap_next_ex(pc, &h, &d) == 1) {
        pkts++;
        size_t n = h->caplen, o = 12;
        if (n < 14)
            continue;
        unsigned et = (unsigned)d[o] << 8 | d[o + 1];
        if (et == 0x8100 && n >= 18) {
            o += 4;
            et = (unsigned)d[o] << 8 | d[o + 1];
        }
        o += 2;
        struct key k;
        memset(&k, 0, sizeof k);
        const uint8_t *s, *dst;
        size_t l4, alen;
        if (et == 0x0800 && n >= o + 20) {
            k.proto = d[o + 9];
            s = d + o + 12, dst = d + o + 16, alen = 4;
            l4 = o + 20;
        } else if (et == 0x86dd && n >= o + 40) {
            k.proto = d[o + 6];
            s = d + o + 8, dst = d + o + 24, alen = 16;
            l4 = o + 40;
        } else {
            continue;
        }
        if ((k.proto != 6 && k.proto != 17) || n < l4 + (k.proto == 6 ? 20u : 8u))
            continue;
        uint16_t sp = (uint16_t)(d[l4] << 8 | d[l4 + 1]), dp = (uint16_t)(d[l4 + 2] << 8 | d[l4 + 3]);
        int c = memcmp(s, dst, alen);
        bool swap = c > 0 || (c == 0 && sp > dp);
        memcpy(k.a, swap ? dst : s, alen);
        memcpy(k.b, swap ? s : dst, alen);
        k.pa = swap ? dp : sp;
        k.pb = swap ? sp : dp;
        struct flow *f = lookup(t, &k);
        if (!f || f->state == F_DONE)
            continue;
        if (f->pkts == 0)
            flows++;
        if (f->pkts < UINT16_MAX)
            f->pkts++;
        size_t hl = k.proto == 6 ? (size_t)(d[l4 + 12] >> 4) * 4u : 8u;
        bool payload = n > l4 + hl;
        if (f->state == F_NEW) {
            if (!payload)
                continue;
            if (nspare)
                memset(f->nf = spare[--nspare], 0, fsize);
            else if (!(f->nf = calloc(1, fsize)))
                continue;
            f->state = F_RUNNING;
            inspected++;
        }
        ndpi_protocol p = ndpi_detection_process_packet(nd, f->nf, d + o, (unsigned short)(n - o),
                                                        (uint64_t)h->ts.tv_sec * 1000u + (uint64_t)h->ts.tv_usec / 1000u);
        uint16_t app = p.app_protocol != NDPI_PROTOCOL_UNKNOWN ? p.app_protocol : p.master_protocol;
        if (app != NDPI_PROTOCOL_UNKNOWN)
            f->app = app;
        bool enough = f->pkts > (k.proto == 17 ? UDP_LIMIT : TCP_LIMIT);
        if (enough || f->app != NDPI_PROTOCOL_UNKNOWN) {
            if (!enough && ndpi_extra_dissection_possible(nd, f->nf))
                continue;
            if (f->app == NDPI_PROTOCOL_UNKNOWN) {
                uint8_t g = 0;
                (void)ndpi_detection_giveup(nd, f->nf, 1, &g);
                guessed += g;
            } else {
                detected++;
            }
            ndpi_free_flow_data(f->nf);
            spare[nspare++] = f->nf;
            f->nf = NULL;
            f->state = F_DONE;
        }
    }
    for (size_t i = 0; i < ((size_t)1 << TABLE_BITS); i++) {   /* the file ended: give up on the rest */
        if (t[i].state != F_RUNNING)
            continue;
        uint8_t g = 0;
        (void)ndpi_detection_giveup(nd, t[i].nf, 1, &g);
        guessed += g;
        ndpi_free_flow_data(t[i].nf);
        free(t[i].nf);
    }
    while (nspare)
        free(spare[--nspare]);
    free(spare);
    double wall = mono_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("%lu packets %lu flows %lu inspected %lu detected %lu guessed %.3f s %.3f user-s %.3f sys-s\n",
           pkts, flows, inspected, detected, guessed, wall,
           (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
    free(t);
    ndpi_exit_detection_module(nd);
    pcap_close(pc);
    return 0;
}
