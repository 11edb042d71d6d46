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
 * Payloads carry real application bytes at their start (see "application
 * bytes" below), chosen by the server port: TLS ClientHello/ServerHello
 * (443, 993), HTTP/1.1 request and response (80, 8080), SSH banners and
 * KEXINIT (22), SMTP greeting and EHLO (25), DNS and mDNS queries and answers
 * (53, 5353), NTP v4 (123), QUIC long/short headers (UDP 443) and IKE/ESP
 * (4500); the rest of a payload is zero. TCP sequence numbers follow the bytes
 * each side sent, so the streams reassemble. None of this changes a packet's
 * length, time, flags or addresses: the truth is the same as with zero
 * payloads, and the sensor's records differ only in what DPI finds.
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

/* Build the frame, payload bytes zero; returns its length (always the full
 * frame: caplen = len) and the payload's offset in *pl_off. idx is the packet's
 * index in its flow (IPv4 id, ICMP sequence); tseq/tack its TCP numbers. */
static uint32_t build(uint8_t *p, const struct flow *f, int dir, uint8_t flags, uint32_t payload,
                      uint32_t idx, uint32_t tseq, uint32_t tack, uint32_t *pl_off)
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
        put16(ip + 4, (uint16_t)idx);
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
        put16(l + 6, (uint16_t)idx);
    } else {
        put16(l, sp);
        put16(l + 2, dp);
        if (f->kind == K_UDP) {
            put16(l + 4, (uint16_t)(8 + payload));
        } else {
            put32(l + 4, tseq);
            put32(l + 8, (flags & 0x10) ? tack : 0);
            l[12] = 0x50;
            l[13] = flags;
            put16(l + 14, 64240);
        }
    }
    o += l4;
    *pl_off = o;
    memset(p + o, 0, payload);
    o += payload;
    if (o < 60) {                               /* Ethernet minimum (without FCS) */
        memset(p + o, 0, 60 - o);
        o = 60;
    }
    return o;
}

/* ---- application bytes ------------------------------------------------------
 * The first payload bytes of a flow are what a real client and server of its
 * port would send, so that nDPI (AGENT_DPI) names the flow after its first
 * packets as it does on real traffic. Packet lengths never change: a message
 * is written into the payload's space, and where the protocol allows it fills
 * that space exactly, as a real one fills its segment (a ClientHello's session
 * id and padding extension, TLS application data, an HTTP Cookie header, SMTP
 * text lines, an SSH IGNORE message, DNS EDNS padding, QUIC and IPsec
 * ciphertext); otherwise the bytes after it stay zero. A message longer than
 * the payload is cut (counted in struct app_stats; gen prints the counts).
 * Every choice comes from the flow's seed and the packet's index, never from
 * the global generator, so the flows themselves are as before. */

enum app { A_TLS, A_HTTP, A_SSH, A_SMTP, A_DNS, A_MDNS, A_NTP, A_QUIC, A_IKE, A_ESP, A_N };
static const char *const APP_NAMES[A_N] = {"tls", "http", "ssh", "smtp", "dns", "mdns", "ntp",
                                           "quic", "ike", "esp"};
/* Flows by what their client's first payload packet carries: whole, or cut. */
struct app_stats {
    uint64_t whole[A_N], cut[A_N];
    uint64_t tls13, tls12, tls_bare;   /* whole ClientHellos: TLS 1.3, 1.2 with SNI, no extension */
    uint64_t tls12_flights_cut;        /* TLS 1.2 server flights (with the certificate) cut */
};

static uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* A byte writer into a scratch buffer: bytes past cap are dropped but still
 * counted, so n is the message's full length and length fields stay right. */
struct wr {
    uint8_t *b;
    uint32_t n, cap;
};
static void w8(struct wr *w, unsigned v)
{
    if (w->n < w->cap)
        w->b[w->n] = (uint8_t)v;
    w->n++;
}
static void w16(struct wr *w, unsigned v) { w8(w, v >> 8); w8(w, v); }
static void w32(struct wr *w, uint32_t v) { w16(w, v >> 16); w16(w, v & 0xffffu); }
static void w24(struct wr *w, uint32_t v) { w8(w, v >> 16); w16(w, v & 0xffffu); }
static void w64(struct wr *w, uint64_t v) { w32(w, (uint32_t)(v >> 32)); w32(w, (uint32_t)v); }
static void wmem(struct wr *w, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        w8(w, ((const uint8_t *)p)[i]);
}
static void wstr(struct wr *w, const char *s) { wmem(w, s, strlen(s)); }
static void wrand(struct wr *w, uint32_t n, uint64_t *r)
{
    for (uint32_t i = 0; i < n; i++) {
        if ((i & 7) == 0)
            *r = mix64(*r);
        w8(w, (unsigned)(*r >> (8 * (i & 7))));
    }
}
/* A length field of `bytes` bytes, filled in by wclose with what follows it. */
static uint32_t wopen(struct wr *w, int bytes)
{
    uint32_t at = w->n;
    for (int i = 0; i < bytes; i++)
        w8(w, 0);
    return at;
}
static void wclose(struct wr *w, uint32_t at, int bytes)
{
    uint32_t v = w->n - at - (uint32_t)bytes;
    for (int i = 0; i < bytes; i++)
        if (at + (uint32_t)i < w->cap)
            w->b[at + (uint32_t)i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
}
/* A TLS handshake record (RFC 8446 §5.1, §4): record header with `record_version`,
 * handshake `type`, then legacy_version 1.2 and the 32-byte random. Returns the record's
 * and the handshake's length positions (wclose them 3 then 2 bytes wide, inner first). */
static void tls_hello_open(struct wr *w, uint16_t record_version, uint8_t type, uint64_t *r,
                           uint32_t *rec, uint32_t *hs)
{
    w8(w, 0x16);
    w16(w, record_version);
    *rec = wopen(w, 2);
    w8(w, type);
    *hs = wopen(w, 3);
    w16(w, 0x0303);
    wrand(w, 32, r);
}
/* A DNS name in wire form (labels, no compression). */
static void wname(struct wr *w, const char *name)
{
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t n = dot ? (size_t)(dot - name) : strlen(name);
        w8(w, (unsigned)n);
        wmem(w, name, n);
        name += n + (dot ? 1 : 0);
    }
    w8(w, 0);
}

static const char *const WEB_NAMES[] = {
    "www.google.com", "www.youtube.com", "i.ytimg.com", "graph.facebook.com", "www.netflix.com",
    "api.github.com", "login.microsoftonline.com", "en.wikipedia.org", "www.amazon.com",
    "s3.amazonaws.com", "cdn.jsdelivr.net", "www.example.com", "api.example.net",
    "static.example.org", "deb.debian.org", "www.bbc.co.uk", "t.co", "x.com",
};
static const char *const MAIL_NAMES[] = {
    "imap.gmail.com", "outlook.office365.com", "imap.mail.yahoo.com", "mail.example.org",
};
#define NNAMES(a) (sizeof(a) / sizeof(a[0]))

/* TLS ClientHello parts; TLS_MASKS from the richest to none. */
enum { X_SNI = 1, X_V13 = 2, X_ALPN = 4, X_SIG = 8, X_PSK = 16 };
static const unsigned TLS_MASKS[] = {
    X_SNI | X_V13 | X_ALPN | X_SIG | X_PSK, X_SNI | X_V13 | X_ALPN, X_SNI | X_V13,
    X_SNI | X_ALPN, X_SNI, 0,
};

/* A flow's ClientHello: its parts, then a session id (0-32 bytes) and a
 * padding extension (RFC 7685; pad < 0: none) sized so that the record fills
 * the client's payload exactly, as a real client's hello fills its segment
 * (nDPI reassembles both directions' TLS records in one buffer: bytes left
 * over after the hello would misalign the ServerHello). */
struct tls_plan {
    unsigned mask;
    uint32_t sid;
    int32_t pad;
    uint32_t len;        /* the record's length */
};

/* The session id's bytes (the server echoes them). */
static uint64_t tls_sid_seed(uint64_t fseed) { return mix64(fseed ^ 0x51du); }

/* A TLS record with one ClientHello (TLS 1.3 when mask has X_V13). */
static void tls_client_hello(struct wr *w, const struct tls_plan *pl, const char *sni, int imap,
                             uint64_t fseed, uint64_t *r)
{
    unsigned mask = pl->mask;
    uint32_t rec, hs;
    tls_hello_open(w, 0x0301, 0x01, r, &rec, &hs);
    uint64_t sr = tls_sid_seed(fseed);
    w8(w, pl->sid);
    wrand(w, pl->sid, &sr);
    static const uint16_t cs13[] = {0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f};
    static const uint16_t cs12[] = {0xc02b, 0xc02f, 0xc02c, 0xc030};
    const uint16_t *cs = (mask & X_V13) ? cs13 : cs12;
    unsigned ncs = (mask & X_V13) ? 5 : 4;
    if (!mask)
        ncs = 1;
    w16(w, 2 * ncs);
    for (unsigned i = 0; i < ncs; i++)
        w16(w, cs[i]);
    w8(w, 1);
    w8(w, 0);                                            /* null compression */
    if (!mask && pl->pad < 0)
        goto done;
    uint32_t ext = wopen(w, 2);
    if (mask & X_SNI) {
        w16(w, 0x0000);
        uint32_t e = wopen(w, 2), l = wopen(w, 2);
        w8(w, 0);
        uint32_t nl = wopen(w, 2);
        wstr(w, sni);
        wclose(w, nl, 2);
        wclose(w, l, 2);
        wclose(w, e, 2);
    }
    if (mask & X_V13) {
        w16(w, 0x000a);                                  /* supported_groups */
        w16(w, 6); w16(w, 4); w16(w, 0x001d); w16(w, 0x0017);
    }
    if (mask & X_SIG) {
        w16(w, 0x000d);                                  /* signature_algorithms */
        w16(w, 8); w16(w, 6); w16(w, 0x0403); w16(w, 0x0804); w16(w, 0x0401);
    }
    if (mask & X_ALPN) {
        w16(w, 0x0010);
        uint32_t e = wopen(w, 2), l = wopen(w, 2);
        if (imap) {
            w8(w, 4); wstr(w, "imap");
        } else {
            w8(w, 2); wstr(w, "h2");
            w8(w, 8); wstr(w, "http/1.1");
        }
        wclose(w, l, 2);
        wclose(w, e, 2);
    }
    if (mask & X_PSK) {
        w16(w, 0x002d); w16(w, 2); w8(w, 1); w8(w, 1);   /* psk_key_exchange_modes */
    }
    if (mask & X_V13) {
        w16(w, 0x002b); w16(w, 5); w8(w, 4); w16(w, 0x0304); w16(w, 0x0303);
        w16(w, 0x0033);                                  /* key_share: x25519 */
        w16(w, 38); w16(w, 36); w16(w, 0x001d); w16(w, 32);
        wrand(w, 32, r);
    }
    if (pl->pad >= 0) {
        w16(w, 0x0015);                                  /* padding */
        w16(w, (unsigned)pl->pad);
        for (int32_t i = 0; i < pl->pad; i++)
            w8(w, 0);
    }
    wclose(w, ext, 2);
done:
    wclose(w, hs, 3);
    wclose(w, rec, 2);
}

/* DER: a tag and a 3-byte length placeholder; der_close shrinks the length to
 * its shortest form (the writer must hold everything: build into a scratch
 * buffer large enough). */
static uint32_t der_open(struct wr *w, unsigned tag)
{
    w8(w, tag);
    return wopen(w, 3);
}
static void der_close(struct wr *w, uint32_t at)
{
    uint32_t n = w->n - at - 3, h = n < 128 ? 1 : n < 256 ? 2 : 3;
    uint8_t hdr[3] = {(uint8_t)n, 0, 0};
    if (h == 2)
        hdr[0] = 0x81, hdr[1] = (uint8_t)n;
    if (h == 3)
        hdr[0] = 0x82, hdr[1] = (uint8_t)(n >> 8), hdr[2] = (uint8_t)n;
    memmove(w->b + at + h, w->b + at + 3, n);
    memcpy(w->b + at, hdr, h);
    w->n -= 3 - h;
}
static void der_bytes(struct wr *w, unsigned tag, const void *p, size_t n)
{
    uint32_t at = der_open(w, tag);
    wmem(w, p, n);
    der_close(w, at);
}
/* An X.509 name with one attribute (oid: the last byte of 2.5.4.x). */
static void der_rdn(struct wr *w, unsigned oid, unsigned str_tag, const char *v)
{
    uint32_t set = der_open(w, 0x31), seq = der_open(w, 0x30);
    const uint8_t o[] = {0x55, 0x04, (uint8_t)oid};
    der_bytes(w, 0x06, o, 3);
    der_bytes(w, str_tag, v, strlen(v));
    der_close(w, seq);
    der_close(w, set);
}

/* A server certificate for `name` (ECDSA P-256, issued by a Let's Encrypt-like
 * CA; key and signature random): what nDPI reads from a TLS 1.2 server. */
static void x509_cert(struct wr *w, const char *name, uint64_t *r)
{
    static const uint8_t ecdsa_sha256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02};
    static const uint8_t ec_pub[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01};
    static const uint8_t p256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    static const uint8_t san[] = {0x55, 0x1d, 0x11};
    uint32_t cert = der_open(w, 0x30), tbs = der_open(w, 0x30);
    uint32_t v = der_open(w, 0xa0);
    der_bytes(w, 0x02, "\x02", 1);
    der_close(w, v);
    uint32_t sn = der_open(w, 0x02);
    w8(w, 0x04);
    wrand(w, 15, r);
    der_close(w, sn);
    uint32_t alg = der_open(w, 0x30);
    der_bytes(w, 0x06, ecdsa_sha256, sizeof ecdsa_sha256);
    der_close(w, alg);
    uint32_t iss = der_open(w, 0x30);
    der_rdn(w, 6, 0x13, "US");
    der_rdn(w, 10, 0x13, "Let's Encrypt");
    der_rdn(w, 3, 0x13, "R3");
    der_close(w, iss);
    uint32_t val = der_open(w, 0x30);
    der_bytes(w, 0x17, "231215000000Z", 13);
    der_bytes(w, 0x17, "240314235959Z", 13);
    der_close(w, val);
    uint32_t sub = der_open(w, 0x30);
    der_rdn(w, 3, 0x0c, name);
    der_close(w, sub);
    uint32_t spki = der_open(w, 0x30), ka = der_open(w, 0x30);
    der_bytes(w, 0x06, ec_pub, sizeof ec_pub);
    der_bytes(w, 0x06, p256, sizeof p256);
    der_close(w, ka);
    uint32_t bs = der_open(w, 0x03);
    w8(w, 0);
    w8(w, 4);
    wrand(w, 64, r);
    der_close(w, bs);
    der_close(w, spki);
    uint32_t ex = der_open(w, 0xa3), exs = der_open(w, 0x30), e1 = der_open(w, 0x30);
    der_bytes(w, 0x06, san, sizeof san);
    uint32_t os = der_open(w, 0x04), gn = der_open(w, 0x30);
    der_bytes(w, 0x82, name, strlen(name));
    der_close(w, gn);
    der_close(w, os);
    der_close(w, e1);
    der_close(w, exs);
    der_close(w, ex);
    der_close(w, tbs);
    alg = der_open(w, 0x30);
    der_bytes(w, 0x06, ecdsa_sha256, sizeof ecdsa_sha256);
    der_close(w, alg);
    bs = der_open(w, 0x03);
    w8(w, 0);
    uint32_t sig = der_open(w, 0x30);
    for (int i = 0; i < 2; i++) {
        uint32_t in = der_open(w, 0x02);
        w8(w, 0x5a);
        wrand(w, 31, r);
        der_close(w, in);
    }
    der_close(w, sig);
    der_close(w, bs);
    der_close(w, cert);
}

/* The server's first flight: ServerHello (TLS 1.3 when the client offered
 * it), then, in what is left of the payload, ChangeCipherSpec and one
 * application-data record (the encrypted rest of the flight) of random bytes;
 * TLS 1.2: ServerHello, Certificate, ServerKeyExchange and ServerHelloDone in
 * one record (cut when the payload is shorter). */
static void tls_server_flight(struct wr *w, const struct tls_plan *pl, int imap, const char *sni,
                              uint64_t fseed, uint32_t room, uint64_t *r)
{
    unsigned cmask = pl->mask;
    int v13 = (cmask & X_V13) != 0;
    uint32_t rec, hs;
    tls_hello_open(w, 0x0303, 0x02, r, &rec, &hs);
    if (v13) {                                           /* TLS 1.3 echoes the session id */
        uint64_t sr = tls_sid_seed(fseed);
        w8(w, pl->sid);
        wrand(w, pl->sid, &sr);
    } else {                                             /* TLS 1.2: a new one */
        w8(w, 32);
        wrand(w, 32, r);
    }
    w16(w, v13 ? 0x1301 : 0xc02f);
    w8(w, 0);
    uint32_t ext = wopen(w, 2);
    if (v13) {
        w16(w, 0x002b); w16(w, 2); w16(w, 0x0304);
        w16(w, 0x0033); w16(w, 36); w16(w, 0x001d); w16(w, 32);
        wrand(w, 32, r);
    } else {
        w16(w, 0xff01); w16(w, 1); w8(w, 0);             /* renegotiation_info */
        if (cmask & X_ALPN) {
            w16(w, 0x0010);
            uint32_t e = wopen(w, 2), l = wopen(w, 2);
            w8(w, imap ? 4 : 2);
            wstr(w, imap ? "imap" : "h2");
            wclose(w, l, 2);
            wclose(w, e, 2);
        }
    }
    wclose(w, ext, 2);
    wclose(w, hs, 3);
    if (!v13) {
        uint8_t der[1024];
        struct wr c = {der, 0, sizeof der};
        x509_cert(&c, sni, r);
        w8(w, 0x0b);                                     /* Certificate */
        w24(w, c.n + 6);
        w24(w, c.n + 3);
        w24(w, c.n);
        wmem(w, der, c.n);
        w8(w, 0x0c);                                     /* ServerKeyExchange: x25519 */
        w24(w, 4 + 32 + 4 + 72);
        w8(w, 3);
        w16(w, 0x001d);
        w8(w, 32);
        wrand(w, 32, r);
        w16(w, 0x0403);
        w16(w, 72);
        wrand(w, 72, r);
        w8(w, 0x0e);                                     /* ServerHelloDone */
        w24(w, 0);
    }
    wclose(w, rec, 2);
    if (v13 && room >= w->n + 6) {                       /* fill the segment */
        if (room >= w->n + 6 + 5 + 1) {
            w8(w, 0x14); w16(w, 0x0303); w16(w, 1); w8(w, 1);
        }
        uint32_t left = room - w->n - 5;
        w8(w, 0x17); w16(w, 0x0303); w16(w, left);
        wrand(w, left, r);
    }
}

static const char *const HTTP_PATHS[] = {
    "/", "/index.html", "/api/v1/status", "/images/logo.png", "/search?q=weather", "/static/app.js",
    "/debian/dists/bookworm/InRelease", "/favicon.ico",
};
static const char *const HTTP_AGENTS[] = {
    "Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0", "curl/7.88.1",
    "Debian APT-HTTP/1.3 (2.6.1)", "python-requests/2.28.1",
};
static const char *const HTTP_TYPES[] = {
    "text/html; charset=utf-8", "application/json", "image/png", "application/javascript",
};

/* GET request; level 0 has every header, higher levels fewer (to fit); a
 * Cookie header fills the rest of the `len`-byte payload when there is room. */
static void http_request(struct wr *w, int level, uint64_t h, uint32_t len)
{
    char line[256];
    snprintf(line, sizeof line, "GET %s HTTP/1.1\r\nHost: %s\r\n",
             level >= 3 ? "/" : HTTP_PATHS[h % NNAMES(HTTP_PATHS)],
             level >= 3 ? "t.co" : WEB_NAMES[(h >> 8) % NNAMES(WEB_NAMES)]);
    wstr(w, line);
    if (level < 2) {
        wstr(w, "User-Agent: ");
        wstr(w, HTTP_AGENTS[(h >> 16) % NNAMES(HTTP_AGENTS)]);
        wstr(w, "\r\n");
    }
    if (level < 1)
        wstr(w, "Accept: */*\r\nAccept-Encoding: gzip, deflate\r\nConnection: keep-alive\r\n");
    if (len >= w->n + 2 + 14) {
        static const char hex[] = "0123456789abcdef";
        uint32_t v = len - w->n - 2 - 14;
        uint64_t c = h;
        wstr(w, "Cookie: sid=");
        for (uint32_t i = 0; i < v; i++) {
            if ((i & 15) == 0)
                c = mix64(c);
            w8(w, (unsigned char)hex[(c >> (4 * (i & 15))) & 15]);
        }
        wstr(w, "\r\n");
    }
    wstr(w, "\r\n");
}

static void http_response(struct wr *w, int level, uint64_t body, uint64_t h)
{
    char line[256];
    snprintf(line, sizeof line, "HTTP/1.1 200 OK\r\n%sContent-Type: %s\r\nContent-Length: %" PRIu64 "\r\n\r\n",
             level ? "" : "Server: nginx/1.22.1\r\n", HTTP_TYPES[(h >> 24) % NNAMES(HTTP_TYPES)], body);
    wstr(w, line);
}

/* Text lines (each `prefix` + words + CRLF, at most 78 bytes; the last one
 * `last_prefix` when given) filling exactly rem bytes: nDPI's line-based
 * dissectors read a packet only when it ends in CRLF. When rem is 1, the line
 * before gets a space instead. */
static void text_fill(struct wr *w, uint32_t rem, const char *prefix, const char *last_prefix)
{
    static const char words[] = "This mail system is monitored and all mail is scanned for viruses "
                                "and spam; questions go to postmaster@example.net, thank you. ";
    if (rem == 1 && w->n >= 2) {
        w->n -= 2;
        wstr(w, " \r\n");
        return;
    }
    if (!last_prefix)
        last_prefix = prefix;
    uint32_t minlast = (uint32_t)strlen(last_prefix) + 3, k = 0;
    while (rem >= 2) {
        uint32_t l = rem;
        if (rem > 78)
            l = rem - 78 >= minlast ? 78 : rem - minlast;
        const char *pre = l == rem ? last_prefix : prefix;
        if (strlen(pre) + 2 > l)
            pre = "";
        wstr(w, pre);
        for (uint32_t i = (uint32_t)strlen(pre); i + 2 < l; i++, k++)
            w8(w, (unsigned char)words[k % (sizeof words - 1)]);
        wstr(w, "\r\n");
        rem -= l;
    }
}

/* SMTP's first packet of each side, filling it: the server's multi-line 220
 * greeting and its answer to EHLO (a server payload is at least 100 bytes);
 * the client's EHLO, pipelined MAIL/RCPT/DATA and the message's first lines
 * (or, with no room for those, EHLO with a longer host name). */
static void smtp_first(struct wr *w, int dir, uint32_t len)
{
    if (dir) {
        static const char g[] = "220-mx.example.net ESMTP Postfix (Debian/GNU)\r\n";
        static const char e[] = "250-mx.example.net\r\n250 PIPELINING\r\n";
        wstr(w, g);
        if (len >= sizeof g - 1 + sizeof e - 1 + 8)
            text_fill(w, len - w->n - (uint32_t)(sizeof e - 1), "220-", "220 ");
        wstr(w, e);
        return;
    }
    static const char ehlo[] = "EHLO client.example.org\r\n";
    static const char cmds[] = "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n"
                               "Subject: notes\r\n\r\n";
    if (len >= sizeof ehlo - 1 + sizeof cmds - 1) {
        wstr(w, ehlo);
        wstr(w, cmds);
        text_fill(w, len - w->n, "", NULL);
    } else if (len >= sizeof ehlo - 1) {
        wstr(w, "EHLO client");
        for (uint32_t i = 0, n = len - (uint32_t)(sizeof ehlo - 1); i < n; i++)
            w8(w, (i % 40 == 39) ? '.' : (unsigned)('a' + i % 26));
        wstr(w, ".example.org\r\n");
    } else {
        wstr(w, ehlo);                                   /* cut */
    }
}

/* SSH_MSG_KEXINIT in one binary packet (short algorithm lists). */
static void ssh_kexinit(struct wr *w, uint64_t *r)
{
    static const char *const lists[10] = {
        "curve25519-sha256,ecdh-sha2-nistp256", "ssh-ed25519,rsa-sha2-512",
        "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com",
        "chacha20-poly1305@openssh.com,aes128-gcm@openssh.com",
        "hmac-sha2-256-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "none", "none", "", "",
    };
    uint32_t body = 1 + 16 + 4 + 1;
    for (int i = 0; i < 10; i++)
        body += 4 + (uint32_t)strlen(lists[i]);
    uint32_t pad = 8 - (4 + 1 + body) % 8;
    if (pad < 4)
        pad += 8;
    w32(w, 1 + body + pad);
    w8(w, pad);
    w8(w, 20);
    wrand(w, 16, r);
    for (int i = 0; i < 10; i++) {
        w32(w, (uint32_t)strlen(lists[i]));
        wstr(w, lists[i]);
    }
    w8(w, 0);
    w32(w, 0);
    wrand(w, pad, r);
}

/* A DNS message: query (answers 0) or response with n answers of qtype for
 * name; an EDNS(0) OPT record padded (RFC 7830) to exactly `room` bytes when
 * that leaves space for it. mdns: PTR answers naming a service instance. */
static void dns_message(struct wr *w, uint16_t id, int response, const char *name, uint16_t qtype,
                        unsigned n, uint32_t room, int mdns, uint64_t *r)
{
    w16(w, id);
    w16(w, response ? (mdns ? 0x8400 : 0x8180) : (mdns ? 0 : 0x0100));
    w16(w, 1);
    w16(w, response ? n : 0);
    w16(w, 0);
    uint32_t ar = w->n;
    w16(w, 0);
    wname(w, name);
    w16(w, qtype);
    w16(w, 1);
    for (unsigned i = 0; response && i < n; i++) {
        w16(w, 0xc00c);
        w16(w, qtype);
        w16(w, 1);
        w32(w, 300);
        if (qtype == 12) {                               /* PTR: "<instance>.<qname>" */
            uint32_t l = wopen(w, 2);
            w8(w, 7);
            wstr(w, "Speaker");
            w16(w, 0xc00c);
            wclose(w, l, 2);
        } else {
            w16(w, qtype == 28 ? 16 : 4);
            wrand(w, qtype == 28 ? 16 : 4, r);
        }
    }
    if (room >= w->n + 11 + 4) {
        if (ar + 1 < w->cap)
            w->b[ar + 1] = 1;
        w8(w, 0);                                        /* OPT: root, type 41 */
        w16(w, 41);
        w16(w, 1232);
        w32(w, 0);
        uint32_t pad = room - w->n - 2 - 4;
        w16(w, 4 + pad);
        w16(w, 12);                                      /* Padding option */
        w16(w, pad);
        for (uint32_t i = 0; i < pad; i++)
            w8(w, 0);
    }
}

static uint32_t dns_name_len(const char *name) { return (uint32_t)strlen(name) + 2; }

/* Payload length of packet i of f (pkt_shape's). */
static uint32_t payload_of(const struct flow *f, uint32_t i, uint64_t fseed)
{
    int d;
    uint8_t fl;
    uint32_t pl;
    pkt_shape(f, i, &d, &fl, &pl, fseed);
    return pl;
}

/* The ClientHello for a client payload of cpl bytes: the richest parts that
 * fit, then the session id and padding that fill it (the barest, cut, when
 * nothing fits). */
static struct tls_plan tls_plan(uint32_t cpl, const char *sni, int imap, uint64_t fseed)
{
    uint8_t tmp[2048];
    struct tls_plan pl = {0, 0, -1, 0};
    for (size_t i = 0; i < NNAMES(TLS_MASKS); i++) {
        uint64_t r = fseed;
        struct wr w = {tmp, 0, sizeof tmp};
        pl.mask = TLS_MASKS[i];
        tls_client_hello(&w, &pl, sni, imap, fseed, &r);
        pl.len = w.n;
        if (w.n <= cpl)
            break;
    }
    if (pl.len >= cpl)
        return pl;
    uint32_t rest = cpl - pl.len, over = pl.mask ? 4 : 6;   /* padding's type + length (+ block) */
    if (rest <= 32) {
        pl.sid = rest;
    } else {
        pl.sid = rest - over < 32 ? rest - over : 32;
        pl.pad = (int32_t)(rest - over - pl.sid);
    }
    pl.len = cpl;
    return pl;
}

/* Write packet idx's application bytes into pl[0..len) (zeros on entry). */
static void app_payload(uint8_t *pl, uint32_t len, const struct flow *f, uint32_t idx, int dir,
                        uint64_t fseed, struct app_stats *st)
{
    uint8_t buf[2048];
    struct wr w = {buf, 0, sizeof buf};
    uint64_t h = mix64(fseed ^ 0x5eedu);                 /* per flow */
    uint64_t r = mix64(h ^ ((uint64_t)idx << 40) ^ (uint64_t)dir);   /* per packet */
    int app = -1;
    if (len == 0 || f->kind == K_ICMP)
        return;
    if (f->kind == K_UDP) {
        uint32_t k = idx / 2;                            /* request/response pair */
        uint64_t hk = mix64(h + k);
        switch (f->sport) {
        case 53:
        case 5353: {
            int mdns = f->sport == 5353;
            static const char *const svc[] = {"_googlecast._tcp.local", "_airplay._tcp.local",
                                              "_spotify-connect._tcp.local", "_ipp._tcp.local"};
            uint32_t ql = payload_of(f, 2 * k, fseed), rl = payload_of(f, 2 * k + 1, fseed);
            uint16_t qtype = mdns ? 12 : (hk & 1) ? 28 : 1;
            uint32_t ans = qtype == 28 ? 28 : qtype == 1 ? 16 : 22;
            uint32_t roomq = ql > 16 ? ql - 16 : 0, roomr = rl > 16 + ans ? rl - 16 - ans : 0;
            uint32_t room = roomq < roomr ? roomq : roomr;
            const char *name = mdns ? svc[hk % 4] : WEB_NAMES[hk % NNAMES(WEB_NAMES)];
            for (size_t i = 0; dns_name_len(name) > room && i < (mdns ? 4 : NNAMES(WEB_NAMES)); i++)
                if (dns_name_len(mdns ? svc[i] : WEB_NAMES[i]) <= room)
                    name = mdns ? svc[i] : WEB_NAMES[i];
            unsigned n = 1;
            if (dir && !mdns)
                while (n < 4 && 12 + dns_name_len(name) + 4 + (n + 1) * ans <= len)
                    n++;
            dns_message(&w, mdns ? 0 : (uint16_t)(hk >> 16), dir, name, qtype, n, len, mdns, &r);
            app = mdns ? A_MDNS : A_DNS;
            break;
        }
        case 123: {
            uint32_t sec = 3913056000u + (uint32_t)(hk % 100000u);   /* NTP time near 2024-01-01 */
            w8(&w, dir ? 0x24 : 0x23);                   /* v4, mode 4 / 3 */
            w8(&w, dir ? 2 : 0);
            w8(&w, 6);
            w8(&w, dir ? 0xe8 : 0xe9);
            w32(&w, dir ? 0x00000120u : 0);
            w32(&w, dir ? 0x00000340u : 0);
            w32(&w, dir ? 0xc0000201u : 0);              /* reference id */
            w32(&w, dir ? sec - 60 : 0);                 /* reference */
            w32(&w, 0);
            w32(&w, dir ? sec : 0);                      /* origin = the request's transmit */
            w32(&w, dir ? (uint32_t)hk : 0);
            w32(&w, dir ? sec : 0);                      /* receive */
            w32(&w, dir ? (uint32_t)hk + 4000000u : 0);
            w32(&w, sec);                                /* transmit */
            w32(&w, dir ? (uint32_t)hk + 8000000u : (uint32_t)hk);
            app = A_NTP;
            break;
        }
        case 443: {
            uint64_t cid = mix64(h + 77);
            if (idx <= 1) {                              /* Initial, long header */
                w8(&w, 0xc3);
                w32(&w, 1);
                w8(&w, dir ? 0 : 8);                     /* DCID: the server's choice (client: random) */
                if (!dir)
                    w64(&w, cid);
                w8(&w, dir ? 8 : 0);                     /* SCID */
                if (dir)
                    w64(&w, cid);
                w8(&w, 0);                               /* token length */
                uint32_t rest = len > w.n + 2 ? len - w.n - 2 : 0;
                w16(&w, 0x4000u | (rest & 0x3fffu));
                wrand(&w, rest, &r);
                app = A_QUIC;
            } else {                                     /* 1-RTT, short header */
                w8(&w, 0x40 | (unsigned)(r & 0x3f));
                if (!dir)
                    w64(&w, cid);
                wrand(&w, len - w.n, &r);
            }
            break;
        }
        case 4500:
            if (idx <= 1 && len >= 4 + 28 + 4) {         /* non-ESP marker + IKE_AUTH */
                w32(&w, 0);
                w64(&w, mix64(h + 5));                   /* SPIs */
                w64(&w, mix64(h + 6));
                w8(&w, 46);                              /* next payload: encrypted (SK) */
                w8(&w, 0x20);
                w8(&w, 35);
                w8(&w, dir ? 0x20 : 0x08);
                w32(&w, 1);
                w32(&w, len - 4);
                w8(&w, dir ? 36 : 35);
                w8(&w, 0);
                w16(&w, len - w.n + 2);
                wrand(&w, len - w.n, &r);
                app = A_IKE;
            } else {                                     /* ESP: SPI, sequence, ciphertext */
                w32(&w, 0x10000000u | (uint32_t)(mix64(h + 8 + (uint64_t)dir) & 0xffffffu));
                w32(&w, k + 1);
                if (len > 8)
                    wrand(&w, len - 8, &r);
                app = A_ESP;
            }
            break;
        default:
            return;
        }
    } else {
        /* TCP: packet 3 is the client's first data packet, 4 the server's
         * (pkt_shape), then every third packet of each side. */
        if (idx < 3u + (uint32_t)dir || (idx - 3u - (uint32_t)dir) % 3u != 0)
            return;
        uint32_t nth = (idx - 3u - (uint32_t)dir) / 3u;  /* the side's nth data packet */
        if (nth > 1)
            return;
        switch (f->sport) {
        case 443:
        case 993: {
            if (nth)
                return;
            int imap = f->sport == 993;
            const char *sni = imap ? MAIL_NAMES[h % NNAMES(MAIL_NAMES)] : WEB_NAMES[h % NNAMES(WEB_NAMES)];
            struct tls_plan plan = tls_plan(payload_of(f, 3, fseed), sni, imap, fseed);
            unsigned mask = plan.mask;
            if (!dir) {
                uint64_t rr = fseed;
                tls_client_hello(&w, &plan, sni, imap, fseed, &rr);
                if (plan.len <= len) {
                    st->tls13 += (mask & X_V13) != 0;
                    st->tls12 += !(mask & X_V13) && (mask & X_SNI);
                    st->tls_bare += !mask;
                }
                app = A_TLS;
            } else {
                tls_server_flight(&w, &plan, imap, sni, fseed, len, &r);
                if (!(mask & X_V13))
                    st->tls12_flights_cut += w.n > len;
            }
            break;
        }
        case 80:
        case 8080:
            if (nth)
                return;
            if (!dir) {
                int lv = 0;
                for (; lv < 4; lv++) {
                    w.n = 0;
                    http_request(&w, lv, h, len);
                    if (w.n <= len)
                        break;
                }
                app = A_HTTP;
            } else {
                uint64_t body = 0;
                for (uint32_t i = idx; i < f->npkts; i += 3)
                    body += payload_of(f, i, fseed);
                int lv = 0;
                uint32_t hl = 0;
                for (; lv < 2; lv++) {
                    w.n = 0;
                    http_response(&w, lv, body, h);
                    hl = w.n;
                    w.n = 0;
                    http_response(&w, lv, body > hl ? body - hl : 0, h);
                    if (w.n <= len)
                        break;
                }
            }
            break;
        case 22:
            if (nth == 0) {
                wstr(&w, "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n");
                if (len >= w.n + 14) {                   /* the rest: one SSH_MSG_IGNORE */
                    uint32_t data = len - w.n - 14;
                    w32(&w, len - w.n - 4);
                    w8(&w, 4);
                    w8(&w, 2);
                    w32(&w, data);
                    wrand(&w, data + 4, &r);
                }
            } else {
                ssh_kexinit(&w, &r);
            }
            app = A_SSH;
            break;
        case 25:
            if (nth)
                return;
            smtp_first(&w, dir, len);
            app = A_SMTP;
            break;
        default:
            return;
        }
    }
    if (app >= 0 && !dir && idx == (f->kind == K_UDP ? 0u : 3u)) {
        if (w.n > len)
            st->cut[app]++;
        else
            st->whole[app]++;
    }
    memcpy(pl, buf, w.n < len ? w.n : len);
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
    uint32_t off;
    uint32_t len = build(frame, f, dir, 0, payload, seq, 0, 0, &off);
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
    /* TCP: each side's next sequence number (SYN 0 and 1000 as ever); the
     * sequence numbers follow the bytes sent, so the stream can be reassembled.
     * The server acknowledges what the client sent; the client's ACK numbers
     * stay index * 977 as before, so the sensor's records do not change (a
     * right one would add the client-side handshake time to every record). */
    uint32_t *nseq = malloc(nflows * 2 * sizeof *nseq);
    if (!nseq)
        return 1;
    for (uint64_t i = 0; i < nflows; i++) {
        nseq[2 * i] = 0;
        nseq[2 * i + 1] = 1000;
    }
    struct app_stats ast;
    memset(&ast, 0, sizeof ast);
    uint8_t frame[2048];
    uint64_t bytes = 0;
    for (uint64_t i = 0; i < packets; i++) {
        struct flow *f = &fl[evs[i].flow];
        int dir;
        uint8_t flags;
        uint32_t payload, off;
        uint64_t fseed = seed * 1000003u + evs[i].flow;
        pkt_shape(f, evs[i].idx, &dir, &flags, &payload, fseed);
        uint32_t *ns = &nseq[2 * evs[i].flow];
        uint32_t tseq = ns[dir];
        ns[dir] += payload + ((flags & 0x02) ? 1u : 0u) + ((flags & 0x01) ? 1u : 0u);
        uint32_t tack = dir ? ns[0] : evs[i].idx * 977u;
        uint32_t len = build(frame, f, dir, flags, payload, evs[i].idx, tseq, tack, &off);
        app_payload(frame + off, payload, f, evs[i].idx, dir, fseed, &ast);
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
    /* Flows by their client's first payload: whole message or cut (payload too short). */
    fprintf(stderr, "gen: application bytes (flows: whole/cut):");
    for (int k = 0; k < A_N; k++)
        fprintf(stderr, " %s %" PRIu64 "/%" PRIu64, APP_NAMES[k], ast.whole[k], ast.cut[k]);
    fprintf(stderr, "; ClientHellos: TLS 1.3 %" PRIu64 ", TLS 1.2 %" PRIu64 ", no extensions %" PRIu64
                    " (TLS 1.2 server flights cut: %" PRIu64 ")\n",
            ast.tls13, ast.tls12, ast.tls_bare, ast.tls12_flights_cut);
    free(nseq);
    free(t);
    free(evs);
    free(fl);
    return 0;
}
