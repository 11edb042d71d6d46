/*
 * inspect_pcap.c — read a capture and print what inspect/ finds per flow, one
 * JSON line each, so that tests/e2e/test_inspect_tshark.py can hold it
 * against tshark's own fields on the same file.
 *
 * The sensor's decoder (capture/decode.c) gives each packet's flow key; the
 * payload offset it does not keep, so a small walk here finds the transport
 * payload of plain Ethernet/VLAN, Linux cooked, loopback and raw IP frames,
 * and a packet is used only when that walk and the decoder agree on the
 * protocol and ports. Flows are keyed both ways (the first packet seen is
 * the forward direction) and fed until inspect_flow_feed() is done.
 *
 * Usage: inspect_pcap FILE.pcap   (stdout: {"flow": "...", "dns": {...}} lines;
 * a last line {"summary": {...}} with the counters). Exit 1 when the file
 * cannot be read. A test tool: it allocates per flow and exits on error.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uthash.h>

#include "capture/decode.h"
#include "inspect/inspect.h"

struct key {
    uint8_t a[16], b[16];
    uint16_t pa, pb;
    uint8_t proto, v;
};

struct tflow {
    struct key k;           /* a/pa: the first packet's sender */
    struct inspect_flow *st;
    struct inspect_result res;
    int done;
    UT_hash_handle hh;
};

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

/* Transport payload of an IP packet at ip[0..n). */
static int l4(const uint8_t *ip, size_t n, uint8_t *proto, uint16_t *sp, uint16_t *dp,
              uint32_t *seq, const uint8_t **pl, size_t *plen)
{
    if (n < 1)
        return -1;
    size_t off;
    uint8_t nh;
    if ((ip[0] >> 4) == 4) {
        if (n < 20)
            return -1;
        size_t ihl = (size_t)(ip[0] & 15) * 4, tot = be16(ip + 2);
        if (ihl < 20 || tot < ihl)
            return -1;
        if (tot < n)
            n = tot;
        if ((be16(ip + 6) & 0x1fff) != 0 || ihl > n)
            return -1;                               /* a later fragment */
        nh = ip[9];
        off = ihl;
    } else if ((ip[0] >> 4) == 6) {
        if (n < 40)
            return -1;
        size_t pay = be16(ip + 4);
        if (40 + pay < n)
            n = 40 + pay;
        nh = ip[6];
        off = 40;
        for (int i = 0; i < 8 && (nh == 0 || nh == 43 || nh == 60 || nh == 44); i++) {
            if (off + 8 > n)
                return -1;
            if (nh == 44) {
                if ((be16(ip + off + 2) & 0xfff8) != 0)
                    return -1;
                nh = ip[off];
                off += 8;
            } else {
                uint8_t next = ip[off];
                off += ((size_t)ip[off + 1] + 1) * 8;
                nh = next;
            }
        }
    } else {
        return -1;
    }
    if (off > n)
        return -1;
    *proto = nh;
    if (nh == 6) {
        if (off + 20 > n)
            return -1;
        size_t doff = (size_t)(ip[off + 12] >> 4) * 4;
        if (doff < 20 || off + doff > n)
            return -1;
        *sp = be16(ip + off);
        *dp = be16(ip + off + 2);
        *seq = (uint32_t)ip[off + 4] << 24 | (uint32_t)ip[off + 5] << 16 |
               (uint32_t)ip[off + 6] << 8 | ip[off + 7];
        *pl = ip + off + doff;
        *plen = n - off - doff;
        return 0;
    }
    if (nh == 17) {
        if (off + 8 > n)
            return -1;
        *sp = be16(ip + off);
        *dp = be16(ip + off + 2);
        *pl = ip + off + 8;
        *plen = n - off - 8;
        return 0;
    }
    return -1;
}

/* The IP packet inside a frame of link type dlt. */
static const uint8_t *l3(int dlt, const uint8_t *d, size_t n, size_t *rest)
{
    size_t off = 0;
    uint16_t et;
    switch (dlt) {
    case DECODE_DLT_EN10MB:
        if (n < 14)
            return NULL;
        et = be16(d + 12);
        off = 14;
        while ((et == 0x8100 || et == 0x88a8) && off + 4 <= n) {
            et = be16(d + off + 2);
            off += 4;
        }
        if (et != 0x0800 && et != 0x86dd)
            return NULL;
        break;
    case DECODE_DLT_LINUX_SLL:
        if (n < 16 || (be16(d + 14) != 0x0800 && be16(d + 14) != 0x86dd))
            return NULL;
        off = 16;
        break;
    case DECODE_DLT_LINUX_SLL2:
        if (n < 20 || (be16(d) != 0x0800 && be16(d) != 0x86dd))
            return NULL;
        off = 20;
        break;
    case DECODE_DLT_NULL:
    case DECODE_DLT_LOOP:
        off = 4;
        break;
    case DECODE_DLT_RAW:
    case DECODE_DLT_RAW_ALT:
    case DECODE_LINKTYPE_RAW:
    case DECODE_DLT_IPV4:
    case DECODE_DLT_IPV6:
        off = 0;
        break;
    default:
        return NULL;
    }
    if (off > n)
        return NULL;
    *rest = n - off;
    return d + off;
}

static void addr_text(const uint8_t *a, int v, char *out, size_t cap)
{
    inet_ntop(v == 6 ? AF_INET6 : AF_INET, a, out, (socklen_t)cap);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE.pcap\n", argv[0]);
        return 2;
    }
    char ebuf[PCAP_ERRBUF_SIZE];
    pcap_t *pc = pcap_open_offline(argv[1], ebuf);
    if (!pc) {
        fprintf(stderr, "%s\n", ebuf);
        return 1;
    }
    char err[256];
    struct inspect_pool *pool = inspect_pool_create(16384, err, sizeof err);
    if (!pool) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    int dlt = pcap_datalink(pc);
    struct tflow *flows = NULL;
    struct pcap_pkthdr *h;
    const u_char *data;
    uint64_t packets = 0, fed = 0, skipped = 0;
    int rc;
    while ((rc = pcap_next_ex(pc, &h, &data)) == 1) {
        packets++;
        struct pkt_record rec;
        uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
        if (decode_packet(dlt, data, h->caplen, h->len, ts, &rec) != DECODE_OK ||
            (rec.proto != 6 && rec.proto != 17) || !(rec.flags & PKT_F_HAS_PORTS))
            continue;
        size_t n = 0;
        const uint8_t *ip = l3(dlt, data, h->caplen, &n);
        uint8_t proto = 0;
        uint16_t sp = 0, dp = 0;
        uint32_t seq = 0;
        const uint8_t *pl = NULL;
        size_t plen = 0;
        if (!ip || l4(ip, n, &proto, &sp, &dp, &seq, &pl, &plen) != 0 || proto != rec.proto ||
            sp != rec.sport || dp != rec.dport) {
            skipped++;
            continue;
        }
        struct key k;
        memset(&k, 0, sizeof k);
        memcpy(k.a, rec.src, 16);
        memcpy(k.b, rec.dst, 16);
        k.pa = rec.sport;
        k.pb = rec.dport;
        k.proto = rec.proto;
        k.v = rec.ip_version;
        enum inspect_dir dir = INSPECT_DIR_FWD;
        struct tflow *f = NULL;
        HASH_FIND(hh, flows, &k, sizeof k, f);
        if (!f) {
            struct key r;
            memset(&r, 0, sizeof r);
            memcpy(r.a, rec.dst, 16);
            memcpy(r.b, rec.src, 16);
            r.pa = rec.dport;
            r.pb = rec.sport;
            r.proto = rec.proto;
            r.v = rec.ip_version;
            HASH_FIND(hh, flows, &r, sizeof r, f);
            if (f)
                dir = INSPECT_DIR_REV;
        }
        if (!f) {
            f = calloc(1, sizeof *f);
            if (!f)
                abort();
            f->k = k;
            f->st = inspect_flow_acquire(pool);
            f->done = f->st == NULL;
            HASH_ADD(hh, flows, k, sizeof k, f);
        }
        if (f->done)
            continue;
        fed += plen > 0;
        if (!inspect_flow_feed(f->st, dir, proto, sp, dp, rec.tcp_flags, seq, proto == 6, pl,
                               plen)) {
            f->res = *inspect_flow_result(f->st);
            inspect_flow_release(pool, f->st);
            f->st = NULL;
            f->done = 1;
        }
    }
    uint64_t with = 0, nflows = 0;
    struct tflow *f, *tmp;
    HASH_ITER(hh, flows, f, tmp) {
        nflows++;
        if (f->st) {
            f->res = *inspect_flow_result(f->st);
            inspect_flow_release(pool, f->st);
        }
        if (inspect_result_found(&f->res)) {
            char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], js[4096];
            addr_text(f->k.a, f->k.v, a, sizeof a);
            addr_text(f->k.b, f->k.v, b, sizeof b);
            inspect_result_format(&f->res, js, sizeof js);
            printf("{\"flow\":\"%s %s %u %s %u\"%s}\n", f->k.proto == 6 ? "tcp" : "udp", a,
                   f->k.pa, b, f->k.pb, js);
            with++;
        }
        HASH_DEL(flows, f);
        free(f);
    }
    struct inspect_pool_stats st;
    inspect_pool_get_stats(pool, &st);
    printf("{\"summary\":{\"packets\":%" PRIu64 ",\"fed\":%" PRIu64 ",\"skipped\":%" PRIu64
           ",\"flows\":%" PRIu64 ",\"inspected\":%" PRIu64 ",\"exhausted\":%" PRIu64
           ",\"malformed\":%" PRIu64 ",\"quic_decrypt_fail\":%" PRIu64
           ",\"reasm_overflow\":%" PRIu64 ",\"out_of_window\":%" PRIu64 "}}\n",
           packets, fed, skipped, nflows, with, st.exhausted, st.malformed, st.quic_decrypt_fail,
           st.reasm_overflow, st.out_of_window);
    inspect_pool_destroy(pool);
    pcap_close(pc);
    return rc == -1 ? 1 : 0;
}
