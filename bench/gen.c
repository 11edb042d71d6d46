/*
 * gen.c — the benchmark's deterministic trace generator.
 *
 * A benchmark of wrong output does not count, so this program writes both a
 * classic pcap file (Ethernet, microsecond timestamps, full frames) and the
 * exact flow record the sensor must give for each flow (a TSV "truth" file).
 * Same arguments, same bytes, on every machine: the only randomness is a
 * seeded splitmix64.
 *
 * Mix (per flow): 60% TCP (80% closed by FIN from both sides, 20% by RST),
 * 30% UDP (request/response, some long streams), 10% ICMP echo; 10% of flows
 * IPv6 (ICMPv6 echo for ICMP), 20% carry an 802.1Q tag. Frame sizes follow a
 * rough Internet mix (pure ACKs padded to 60 bytes, data up to 1514). Every
 * flow has its own 5-tuple (ICMP: its own address pair), packet times are
 * strictly increasing across the file, no flow is idle longer than its idle
 * timeout in the middle of its life and none lives longer than the active
 * timeout, so each flow gives exactly one final record whose end reason is
 * known: fin, rst, idle (UDP/ICMP flows silent for >= 30 s at the end of the
 * trace) or shutdown.
 *
 * Usage:
 *   gen [-p packets] [-f flows] [-s seed] [-c] OUT.pcap TRUTH.tsv
 *     -c   "concurrent" mode for the memory test: every flow is a single UDP
 *          packet pair opened within the first seconds and all flows stay
 *          open until the file ends (packets = 2 * flows).
 *   gen -a benign|crafted [-f flows] OUT.pcap
 *          the active-timeout trace of issue 13.3 (default 40,000): that many
 *          long UDP flows, a packet every 20 s for 280 s and one at 301 s,
 *          so their 300 s active deadline passes; and as many one-packet
 *          flows made just before those deadlines (benign) or just after
 *          them (crafted), so that re-arming a long flow's deadline has to
 *          place it behind every new flow. Same packets, other times: 17 per
 *          long flow pair. No truth file (the records are not checked).
 * Truth columns (tab separated): proto ipver vlan src_ip src_port dst_ip
 * dst_port src_packets src_bytes dst_packets dst_bytes src_flags dst_flags
 * end_reason first_us last_us
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define T0_US   1704067200000000ull   /* 2024-01-01T00:00:00Z */
#define IDLE_US 30000000ull           /* UDP and other idle timeout (default) */

enum kind { K_TCP_FIN, K_TCP_RST, K_UDP, K_ICMP };

struct flow {
    uint64_t start_us;
    uint32_t npkts;          /* packets of this flow */
    uint32_t ndata;          /* TCP data / UDP / ICMP exchange packets */
    uint16_t vlan;
    uint16_t cport, sport;
    uint8_t  kind, v6, rst_by_server;
    uint32_t client, server; /* address indexes */
};

struct ev {                  /* one packet to write, sorted by time */
    uint64_t ts;
    uint32_t flow;
    uint32_t idx;            /* packet index within the flow */
};

struct truth {
    uint64_t pk[2], by[2], first, last;
    uint8_t fl[2];
};

static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint32_t rnd_below(uint32_t n) { return (uint32_t)(rnd() % n); }

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }

/* Client and server addresses: 10.0.0.0/8 and 172.16.0.0/12, fd00::/16 and fd01::/16. */
static void addr(uint8_t *out, int v6, int server, uint32_t idx)
{
    memset(out, 0, 16);
    if (!v6) {
        uint32_t a = server ? (0xac100000u | (idx & 0xfffffu)) : (0x0a000000u | (idx & 0xffffffu));
        put32(out, a + 1);
    } else {
        out[0] = 0xfd;
        out[1] = server ? 1 : 0;
        put32(out + 12, idx + 1);
    }
}

static int comp_ev(const void *a, const void *b)
{
    const struct ev *x = a, *y = b;
    if (x->ts != y->ts)
        return x->ts < y->ts ? -1 : 1;
    if (x->flow != y->flow)
        return x->flow < y->flow ? -1 : 1;
    return x->idx < y->idx ? -1 : (x->idx > y->idx);
}

/* Direction (0 client->server) and TCP flags of packet i of flow f. */
static void pkt_shape(const struct flow *f, uint32_t i, int *dir, uint8_t *flags, uint32_t *payload,
                      uint64_t seed)
{
    uint64_t h = (seed ^ ((uint64_t)i << 32)) * 0x9e3779b97f4a7c15ull;
    h ^= h >> 29;
    *flags = 0;
    *payload = 0;
    if (f->kind == K_UDP || f->kind == K_ICMP) {
        *dir = (int)(i & 1);
        if (f->kind == K_UDP)
            *payload = (i & 1) ? 40 + (uint32_t)(h % 1200) : 20 + (uint32_t)(h % 300);
        else
            *payload = 56;
        return;
    }
    uint32_t n = f->npkts;
    if (i == 0) { *dir = 0; *flags = 0x02; return; }               /* SYN */
    if (i == 1) { *dir = 1; *flags = 0x12; return; }               /* SYN+ACK */
    if (i == 2) { *dir = 0; *flags = 0x10; return; }               /* ACK */
    if (f->kind == K_TCP_FIN && i >= n - 4) {
        uint32_t k = i - (n - 4);                                  /* FIN, ACK, FIN, ACK */
        *dir = (int)(k & 1);
        *flags = (k & 1) == 0 ? 0x11 : 0x10;
        if (k == 1) { *dir = 1; *flags = 0x10; }
        if (k == 2) { *dir = 1; *flags = 0x11; }
        if (k == 3) { *dir = 0; *flags = 0x10; }
        if (k == 0) { *dir = 0; *flags = 0x11; }
        return;
    }
    if (f->kind == K_TCP_RST && i == n - 1) {
        *dir = f->rst_by_server ? 1 : 0;
        *flags = 0x14;
        return;
    }
    /* data: requests small, responses mostly full-size, acks in between */
    uint32_t d = i - 3;
    if (d % 3 == 0) { *dir = 0; *flags = 0x18; *payload = 20 + (uint32_t)(h % 500); }
    else if (d % 3 == 1) { *dir = 1; *flags = 0x18; *payload = (h % 4) ? 1448 : 100 + (uint32_t)(h % 1300); }
    else { *dir = 0; *flags = 0x10; }
}

/* Build the frame; returns its length (always the full frame: caplen = len). */
static uint32_t build(uint8_t *p, const struct flow *f, int dir, uint8_t flags, uint32_t payload,
                      uint32_t seq)
{
    uint8_t ca[16], sa[16];
    addr(ca, f->v6, 0, f->client);
    addr(sa, f->v6, 1, f->server);
    const uint8_t *src = dir ? sa : ca, *dst = dir ? ca : sa;
    uint16_t sp = dir ? f->sport : f->cport, dp = dir ? f->cport : f->sport;
    uint32_t o = 0;
    static const uint8_t mac_c[6] = {0x02, 0, 0, 0, 0, 1}, mac_s[6] = {0x02, 0, 0, 0, 0, 2};
    memcpy(p, dir ? mac_c : mac_s, 6);
    memcpy(p + 6, dir ? mac_s : mac_c, 6);
    o = 12;
    if (f->vlan) {
        put16(p + o, 0x8100);
        put16(p + o + 2, f->vlan);
        o += 4;
    }
    put16(p + o, f->v6 ? 0x86dd : 0x0800);
    o += 2;
    uint8_t proto = f->kind == K_UDP ? 17 : f->kind == K_ICMP ? (f->v6 ? 58 : 1) : 6;
    uint32_t l4 = f->kind == K_UDP ? 8 : f->kind == K_ICMP ? 8 : 20;
    uint32_t iplen = (f->v6 ? 40 : 20) + l4 + payload;
    uint8_t *ip = p + o;
    if (!f->v6) {
        memset(ip, 0, 20);
        ip[0] = 0x45;
        put16(ip + 2, (uint16_t)iplen);
        put16(ip + 4, (uint16_t)seq);
        ip[6] = 0x40;                           /* DF */
        ip[8] = 64;
        ip[9] = proto;
        memcpy(ip + 12, src, 4);
        memcpy(ip + 16, dst, 4);
        uint32_t sum = 0;
        for (int k = 0; k < 20; k += 2)
            sum += (uint32_t)ip[k] << 8 | ip[k + 1];
        while (sum >> 16)
            sum = (sum & 0xffff) + (sum >> 16);
        put16(ip + 10, (uint16_t)~sum);
        o += 20;
    } else {
        memset(ip, 0, 40);
        ip[0] = 0x60;
        put16(ip + 4, (uint16_t)(iplen - 40));
        ip[6] = proto;
        ip[7] = 64;
        memcpy(ip + 8, src, 16);
        memcpy(ip + 24, dst, 16);
        o += 40;
    }
    uint8_t *l = p + o;
    memset(l, 0, l4);
    if (f->kind == K_ICMP) {
        l[0] = f->v6 ? (dir ? 129 : 128) : (dir ? 0 : 8);
        put16(l + 4, (uint16_t)f->cport);
        put16(l + 6, (uint16_t)seq);
    } else {
        put16(l, sp);
        put16(l + 2, dp);
        if (f->kind == K_UDP) {
            put16(l + 4, (uint16_t)(8 + payload));
        } else {
            put32(l + 4, seq * 1000u);
            put32(l + 8, (flags & 0x10) ? seq * 977u : 0);
            l[12] = 0x50;
            l[13] = flags;
            put16(l + 14, 64240);
        }
    }
    o += l4;
    memset(p + o, 0, payload);
    o += payload;
    if (o < 60) {                               /* Ethernet minimum (without FCS) */
        memset(p + o, 0, 60 - o);
        o = 60;
    }
    return o;
}

static const char *proto_name(const struct flow *f)
{
    switch (f->kind) {
    case K_UDP: return "17";
    case K_ICMP: return f->v6 ? "58" : "1";
    default: return "6";
    }
}

static void pcap_header(FILE *out)
{
    uint8_t gh[24] = {0};
    uint32_t magic = 0xa1b2c3d4u, snap = 65535, link = 1;
    uint16_t vmaj = 2, vmin = 4;
    memcpy(gh, &magic, 4);
    memcpy(gh + 4, &vmaj, 2);
    memcpy(gh + 6, &vmin, 2);
    memcpy(gh + 16, &snap, 4);
    memcpy(gh + 20, &link, 4);
    fwrite(gh, 1, sizeof gh, out);
}

static void pcap_packet(FILE *out, uint64_t ts, const struct flow *f, int dir, uint32_t payload, uint32_t seq)
{
    uint8_t frame[2048];
    uint32_t len = build(frame, f, dir, 0, payload, seq);
    uint32_t rh[4] = {(uint32_t)(ts / 1000000u), (uint32_t)(ts % 1000000u), len, len};
    fwrite(rh, 1, sizeof rh, out);
    fwrite(frame, 1, len, out);
}

/* The issue 13.3 trace (see the usage above); times strictly increase. */
static int gen_active(const char *path, bool crafted, uint32_t n)
{
    FILE *out = fopen(path, "wb");
    if (!out) {
        perror("gen: open");
        return 1;
    }
    static char obuf[1 << 20];
    setvbuf(out, obuf, _IOFBF, sizeof obuf);
    pcap_header(out);
    const uint64_t step = 5;                          /* µs between flows of one round */
    struct flow lf = {.kind = K_UDP, .sport = 53, .server = 1};
    struct flow nf = {.kind = K_UDP, .sport = 123, .server = 2};
    for (uint32_t k = 0; k <= 15; k++) {
        if (k == 15) {
            /* Long deadlines: T0 + 300 s + step * i. New flows before or after them. */
            uint64_t t = crafted ? T0_US + 300000000ull + step * n + 1000 : T0_US + 299000000ull;
            for (uint32_t j = 0; j < n; j++) {
                nf.client = 0x100000u + j;           /* 10.16.0.1 on: apart from the long flows' */
                nf.cport = 2000;
                pcap_packet(out, t + step * j, &nf, 0, 40, 0);
            }
        }
        uint64_t base = T0_US + (k < 15 ? 20000000ull * k : 301000000ull);
        for (uint32_t i = 0; i < n; i++) {
            lf.client = i;
            lf.cport = 40000;
            pcap_packet(out, base + step * i, &lf, (int)(k & 1), 60, k);
        }
    }
    if (fclose(out) != 0) {
        perror("gen: write");
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    uint64_t packets = 3500000, nflows = 300000, seed = 1;
    bool concurrent = false;
    int active = -1;                                  /* -a: 0 benign, 1 crafted */
    int a = 1;
    for (; a < argc && argv[a][0] == '-'; a++) {
        if (!strcmp(argv[a], "-p") && a + 1 < argc)
            packets = strtoull(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "-f") && a + 1 < argc)
            nflows = strtoull(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "-s") && a + 1 < argc)
            seed = strtoull(argv[++a], NULL, 10);
        else if (!strcmp(argv[a], "-c"))
            concurrent = true;
        else if (!strcmp(argv[a], "-a") && a + 1 < argc && !strcmp(argv[a + 1], "benign"))
            active = 0, a++;
        else if (!strcmp(argv[a], "-a") && a + 1 < argc && !strcmp(argv[a + 1], "crafted"))
            active = 1, a++;
        else
            break;
    }
    if (active >= 0) {
        bool nf_given = nflows != 300000;
        if (argc - a != 1 || (nf_given && (nflows == 0 || nflows > 1000000))) {
            fprintf(stderr, "usage: gen -a benign|crafted [-f flows] OUT.pcap\n");
            return 2;
        }
        return gen_active(argv[a], active == 1, nf_given ? (uint32_t)nflows : 40000u);
    }
    if (argc - a != 2 || nflows == 0 || nflows > 16000000) {
        fprintf(stderr, "usage: gen [-p packets] [-f flows] [-s seed] [-c] OUT.pcap TRUTH.tsv\n");
        return 2;
    }
    if (concurrent)
        packets = 2 * nflows;
    if (packets < nflows * 2) {
        fprintf(stderr, "gen: need at least 2 packets per flow\n");
        return 2;
    }
    rng_state = seed;
    struct flow *fl = calloc(nflows, sizeof *fl);
    if (!fl)
        return 1;

    /* 1. Flows: kind, family, VLAN, endpoints, base packet counts. */
    uint64_t total = 0;
    const uint64_t span_us = concurrent ? 5000000ull : 100000000ull;    /* flow starts */
    for (uint64_t i = 0; i < nflows; i++) {
        struct flow *f = &fl[i];
        uint32_t r = rnd_below(100);
        f->kind = concurrent ? K_UDP : r < 48 ? K_TCP_FIN : r < 60 ? K_TCP_RST : r < 90 ? K_UDP : K_ICMP;
        f->v6 = rnd_below(10) == 0;
        f->vlan = rnd_below(5) == 0 ? (uint16_t)(1 + rnd_below(4094)) : 0;
        f->rst_by_server = (uint8_t)rnd_below(2);
        /* Unique per flow: the client (address, port) pair comes from the index. */
        f->client = (uint32_t)(i % 65000u);
        f->cport = (uint16_t)(1024u + i / 65000u);
        f->server = rnd_below(4000);
        static const uint16_t tcp_ports[] = {443, 443, 443, 80, 22, 8080, 993, 25};
        static const uint16_t udp_ports[] = {53, 53, 443, 123, 4500, 5353};
        f->sport = f->kind == K_UDP ? udp_ports[rnd_below(6)] : f->kind == K_ICMP ? 0 : tcp_ports[rnd_below(8)];
        if (f->kind == K_ICMP) {
            /* Port-less: the address pair alone must be unique. */
            f->client = (uint32_t)(0x800000u + i);
            f->cport = (uint16_t)rnd_below(65536);   /* echo identifier only */
        }
        uint32_t heavy = rnd_below(100);
        uint32_t extra = heavy < 70 ? rnd_below(6) : heavy < 95 ? 6 + rnd_below(20) : 26 + rnd_below(80);
        switch (f->kind) {
        case K_TCP_FIN: f->npkts = 7 + extra; break;
        case K_TCP_RST: f->npkts = 4 + extra; break;
        case K_UDP:     f->npkts = concurrent ? 2 : 2 + (heavy < 70 ? 0 : extra / 2) * 2; break;
        default:        f->npkts = 2 * (1 + rnd_below(4)); break;
        }
        f->start_us = T0_US + rnd() % span_us;
        total += f->npkts;
    }
    /* 2. Adjust to exactly `packets`: add or remove TCP data packets round-robin. */
    for (uint64_t i = 0; total != packets; i = (i + 1) % nflows) {
        struct flow *f = &fl[i];
        if (f->kind != K_TCP_FIN && f->kind != K_TCP_RST) {
            if (concurrent)
                break;
            continue;
        }
        if (total < packets) {
            f->npkts++;
            total++;
        } else if (f->npkts > (f->kind == K_TCP_FIN ? 7u : 4u)) {
            f->npkts--;
            total--;
        }
    }
    if (total != packets) {
        fprintf(stderr, "gen: cannot reach %" PRIu64 " packets with these flows\n", packets);
        return 2;
    }

    /* 3. Packet times: gaps of 0.2-300 ms (ICMP: ~1 s), so no flow idles out mid-life. */
    struct ev *evs = malloc(packets * sizeof *evs);
    if (!evs)
        return 1;
    uint64_t k = 0;
    for (uint64_t i = 0; i < nflows; i++) {
        uint64_t t = fl[i].start_us;
        for (uint32_t j = 0; j < fl[i].npkts; j++) {
            if (j) {
                if (concurrent)
                    t += 1000;
                else if (fl[i].kind == K_ICMP)
                    t += (j & 1) ? 200 + rnd_below(20000) : 1000000;
                else
                    t += 200 + rnd_below(rnd_below(8) == 0 ? 300000 : 20000);
            }
            evs[k++] = (struct ev){t, (uint32_t)i, j};
        }
    }
    qsort(evs, packets, sizeof *evs, comp_ev);
    for (uint64_t i = 1; i < packets; i++)      /* strictly increasing times */
        if (evs[i].ts <= evs[i - 1].ts)
            evs[i].ts = evs[i - 1].ts + 1;

    /* 4. Write the pcap and sum the truth. */
    FILE *out = fopen(argv[a], "wb");
    FILE *tr = fopen(argv[a + 1], "w");
    if (!out || !tr) {
        perror("gen: open");
        return 1;
    }
    static char obuf[1 << 20];
    setvbuf(out, obuf, _IOFBF, sizeof obuf);
    pcap_header(out);
    struct truth *t = calloc(nflows, sizeof *t);
    if (!t)
        return 1;
    uint8_t frame[2048];
    uint64_t bytes = 0;
    for (uint64_t i = 0; i < packets; i++) {
        struct flow *f = &fl[evs[i].flow];
        int dir;
        uint8_t flags;
        uint32_t payload;
        pkt_shape(f, evs[i].idx, &dir, &flags, &payload, seed * 1000003u + evs[i].flow);
        uint32_t len = build(frame, f, dir, flags, payload, evs[i].idx);
        uint32_t rh[4] = {(uint32_t)(evs[i].ts / 1000000u), (uint32_t)(evs[i].ts % 1000000u), len, len};
        fwrite(rh, 1, sizeof rh, out);
        fwrite(frame, 1, len, out);
        struct truth *x = &t[evs[i].flow];
        if (x->pk[0] + x->pk[1] == 0)
            x->first = evs[i].ts;
        x->last = evs[i].ts;
        x->pk[dir]++;
        x->by[dir] += len;
        x->fl[dir] |= flags;
        bytes += len;
    }
    uint64_t end = evs[packets - 1].ts;
    for (uint64_t i = 0; i < nflows; i++) {
        struct flow *f = &fl[i];
        struct truth *x = &t[i];
        char cs[INET6_ADDRSTRLEN], ss[INET6_ADDRSTRLEN];
        uint8_t ca[16], sa[16];
        addr(ca, f->v6, 0, f->client);
        addr(sa, f->v6, 1, f->server);
        inet_ntop(f->v6 ? AF_INET6 : AF_INET, ca, cs, sizeof cs);
        inet_ntop(f->v6 ? AF_INET6 : AF_INET, sa, ss, sizeof ss);
        const char *reason = f->kind == K_TCP_FIN ? "fin" : f->kind == K_TCP_RST ? "rst"
                           : (end >= x->last + IDLE_US) ? "idle" : "shutdown";
        unsigned cp = f->kind == K_ICMP ? 0 : f->cport, sp = f->sport;
        fprintf(tr, "%s\t%d\t%u\t%s\t%u\t%s\t%u\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64 "\t%" PRIu64
                    "\t%u\t%u\t%s\t%" PRIu64 "\t%" PRIu64 "\n",
                proto_name(f), f->v6 ? 6 : 4, f->vlan, cs, cp, ss, sp, x->pk[0], x->by[0], x->pk[1],
                x->by[1], x->fl[0], x->fl[1], reason, x->first, x->last);
    }
    if (fclose(out) != 0 || fclose(tr) != 0) {
        perror("gen: write");
        return 1;
    }
    fprintf(stderr, "gen: %" PRIu64 " packets, %" PRIu64 " flows, %" PRIu64 " bytes, %.1f s of traffic\n",
            packets, nflows, bytes, (double)(end - evs[0].ts) / 1e6);
    free(t);
    free(evs);
    free(fl);
    return 0;
}
