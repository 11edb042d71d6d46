/*
 * ipfix_encode.c — flow events as IPFIX messages (libfixbuf) or NetFlow v9
 * packets (by hand); see ipfix_encode.h.
 *
 * IPFIX: libfixbuf writes each message into our buffer (fbExporterAllocBuffer)
 * in manual mode, so the caller decides when a message ends and where it goes
 * (UDP datagram, TCP stream) and libfixbuf never opens a socket. Our internal
 * records are laid out exactly as the templates describe them (largest fields
 * first, no padding between fields), which is what libfixbuf's transcoder
 * expects; the same template serves as internal and external template.
 *
 * NetFlow v9 (RFC 3954): libfixbuf cannot export it, so this file writes it:
 * a 20-byte header, a template flowset (templates 256/257) when asked, and
 * data flowsets of fixed-size records, each flowset padded to 4 bytes. v9
 * times are milliseconds since the exporter's boot (sysUpTime). We pick the
 * "boot" per packet: BASE = the packet's first record's start, floored to the
 * second, minus V9_SLACK_MS (longer than the longest active timeout, so later
 * records of the same packet that started earlier still fit); the header's
 * unix_secs is the latest flow end in the packet rounded up to the second, and
 * sysUpTime = unix_secs * 1000 - BASE. A collector computes the boot time
 * unix_secs * 1000 - sysUpTime = BASE and so gets every time exact to the
 * millisecond, for a live capture and for a pcap replayed years later alike.
 */
#include "ipfix_encode.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fixbuf/public.h>

#include "../models/community_id.h"

#define CID_OCTETS 30u                       /* "1:" + 28 base64 characters */
#define V9_SLACK_MS (8ull * 86400u * 1000u)  /* 8 days > the 7-day active timeout cap */
#define V9_HDR 20u
#define V9_REC4 44u
#define V9_REC6 68u

/* libfixbuf internal records: fields in template order, no gaps.
 * reverseTcpControlBits comes before tcpControlBits: nfdump (1.7) reads a
 * reverse element it has no mapping for as its forward element, so the one
 * written last wins there, and that must be the initiator's flags. */
struct rec4 {
    uint64_t start, end, octets, packets, roctets, rpackets;
    uint32_t sip, dip;
    uint16_t sport, dport, vlan, icmp, rflags, flags;
    uint8_t  proto, ipver, reason;
    char     cid[CID_OCTETS];
};
struct rec6 {
    uint64_t start, end, octets, packets, roctets, rpackets;
    uint8_t  sip[16], dip[16];
    uint16_t sport, dport, vlan, icmp, rflags, flags;
    uint8_t  proto, ipver, reason;
    char     cid[CID_OCTETS];
};
#define REC4_LEN (6u * 8u + 2u * 4u + 6u * 2u + 3u + CID_OCTETS)
#define REC6_LEN (6u * 8u + 2u * 16u + 6u * 2u + 3u + CID_OCTETS)
_Static_assert(offsetof(struct rec4, cid) + CID_OCTETS == REC4_LEN, "rec4 has no gaps");
_Static_assert(offsetof(struct rec6, cid) + CID_OCTETS == REC6_LEN, "rec6 has no gaps");

struct ipfix_encoder {
    struct ipfix_enc_opts o;
    bool want_templates;
    bool msg_templates;          /* the message being built carries them */
    uint32_t pending;            /* records in the message being built */
    community_id_hasher *cid;
    uint8_t *buf;                /* the finished message (IPFIX) / the packet being built (v9) */

    /* IPFIX (libfixbuf) */
    fbInfoModel_t *model;
    fbSession_t *session;
    fbExporter_t *exporter;      /* owned by fbuf once fbuf exists */
    fBuf_t *fbuf;
    uint16_t cur_tid;            /* template set on fbuf; 0 = none since the last emit */

    /* NetFlow v9 */
    size_t len;                  /* bytes in buf */
    size_t set_off;              /* open data flowset's offset; 0 = none */
    uint16_t set_tid;
    uint16_t count;              /* records (templates + data) in the packet */
    uint32_t seq;                /* packets sent */
    uint64_t base_ms, max_last_ms;
};

/* fbInfoElementSpec_t flags: which external template carries the field. */
#define SPEC_PORTS 1u
#define SPEC_ICMP  2u

/* FB_IE_INIT_FULL takes a non-const name; the model copies what it needs. */
static char CID_NAME[] = "tracerCommunityId";
static char CID_DESC[] = "Community ID v1 of the flow (corelight community-id-spec)";

static int ipfix_setup(ipfix_encoder *e, char *err, size_t errlen)
{
    GError *gerr = NULL;
    fbInfoElement_t cid_ie = FB_IE_INIT_FULL(CID_NAME, IPFIX_ENC_PEN, IPFIX_ENC_IE_COMMUNITY_ID, FB_IE_VARLEN,
                                             FB_IE_F_NONE, 0, 0, FB_STRING, CID_DESC);
    char *t_start = e->o.microseconds ? "flowStartMicroseconds" : "flowStartMilliseconds";
    char *t_end = e->o.microseconds ? "flowEndMicroseconds" : "flowEndMilliseconds";
    fbInfoElementSpec_t spec[2][20] = {
        {{t_start, 8, 0}, {t_end, 8, 0}, {"octetDeltaCount", 8, 0}, {"packetDeltaCount", 8, 0},
         {"reverseOctetDeltaCount", 8, 0}, {"reversePacketDeltaCount", 8, 0},
         {"sourceIPv4Address", 4, 0}, {"destinationIPv4Address", 4, 0},
         {"sourceTransportPort", 2, SPEC_PORTS}, {"destinationTransportPort", 2, SPEC_PORTS}, {"vlanId", 2, 0},
         {"icmpTypeCodeIPv4", 2, SPEC_ICMP}, {"reverseTcpControlBits", 2, 0}, {"tcpControlBits", 2, 0},
         {"protocolIdentifier", 1, 0}, {"ipVersion", 1, 0}, {"flowEndReason", 1, 0},
         {CID_NAME, CID_OCTETS, 0}, FB_IESPEC_NULL},
        {{t_start, 8, 0}, {t_end, 8, 0}, {"octetDeltaCount", 8, 0}, {"packetDeltaCount", 8, 0},
         {"reverseOctetDeltaCount", 8, 0}, {"reversePacketDeltaCount", 8, 0},
         {"sourceIPv6Address", 16, 0}, {"destinationIPv6Address", 16, 0},
         {"sourceTransportPort", 2, SPEC_PORTS}, {"destinationTransportPort", 2, SPEC_PORTS}, {"vlanId", 2, 0},
         {"icmpTypeCodeIPv6", 2, SPEC_ICMP}, {"reverseTcpControlBits", 2, 0}, {"tcpControlBits", 2, 0},
         {"protocolIdentifier", 1, 0}, {"ipVersion", 1, 0}, {"flowEndReason", 1, 0},
         {CID_NAME, CID_OCTETS, 0}, FB_IESPEC_NULL},
    };
    /* Per family: the internal template (every field; our struct), and two
     * external ones chosen by flag: ports for most flows, ICMP type/code for
     * ICMP flows (a collector such as nfdump shows icmpTypeCode as the
     * destination port when both are present, so each record carries one). */
    const struct { uint16_t tid; gboolean internal; uint32_t flags; } use[3] = {
        {0, TRUE, UINT32_MAX}, {0, FALSE, SPEC_PORTS}, {2, FALSE, SPEC_ICMP}};

    e->model = fbInfoModelAlloc();
    fbInfoModelAddElement(e->model, &cid_ie);
    e->session = fbSessionAlloc(e->model);
    fbSessionSetDomain(e->session, e->o.domain_id);
    for (int i = 0; i < 2; i++) {
        for (int k = 0; k < 3; k++) {
            uint16_t tid = (uint16_t)(IPFIX_ENC_TID_V4 + i + use[k].tid);
            fbTemplate_t *t = fbTemplateAlloc(e->model);
            if (!fbTemplateAppendSpecArray(t, spec[i], use[k].flags, &gerr) ||
                !fbSessionAddTemplate(e->session, use[k].internal, tid, t, &gerr)) {
                snprintf(err, errlen, "ipfix: template %u: %s", tid, gerr ? gerr->message : "refused");
                g_clear_error(&gerr);
                fbTemplateFreeUnused(t);
                return -1;
            }
        }
    }
    e->exporter = fbExporterAllocBuffer(e->buf, e->o.max_message);
    e->fbuf = fBufAllocForExport(e->session, e->exporter);
    if (!e->fbuf) {
        snprintf(err, errlen, "ipfix: libfixbuf could not make an export buffer");
        return -1;
    }
    fBufSetAutomaticMode(e->fbuf, FALSE);
    return 0;
}

ipfix_encoder *ipfix_encoder_create(const struct ipfix_enc_opts *opts, char *err, size_t errlen)
{
    char dummy[1];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    err[0] = '\0';
    if (!opts || opts->max_message < 256 ||
        (opts->protocol != IPFIX_ENC_IPFIX && opts->protocol != IPFIX_ENC_NETFLOW9)) {
        snprintf(err, errlen, "ipfix: invalid encoder options");
        return NULL;
    }
    ipfix_encoder *e = calloc(1, sizeof *e);
    if (!e)
        goto oom;
    e->o = *opts;
    e->want_templates = true;
    e->buf = calloc(1, opts->max_message);
    e->cid = community_id_hasher_create();
    if (!e->buf || !e->cid)
        goto oom;
    if (opts->protocol == IPFIX_ENC_IPFIX && ipfix_setup(e, err, errlen) != 0)
        goto fail;
    return e;
oom:
    snprintf(err, errlen, "ipfix: out of memory");
fail:
    ipfix_encoder_destroy(e);
    return NULL;
}

void ipfix_encoder_destroy(ipfix_encoder *e)
{
    if (!e)
        return;
    if (e->fbuf)
        fBufFree(e->fbuf);       /* frees the session and the exporter */
    else if (e->session)
        fbSessionFree(e->session);
    if (e->model)
        fbInfoModelFree(e->model);
    community_id_hasher_destroy(e->cid);
    free(e->buf);
    free(e);
}

void ipfix_encoder_want_templates(ipfix_encoder *e)
{
    if (e)
        e->want_templates = true;
}

bool ipfix_encoder_has_templates(const ipfix_encoder *e)
{
    return e && e->msg_templates;
}

uint32_t ipfix_encoder_pending(const ipfix_encoder *e)
{
    return e ? e->pending : 0;
}

/* RFC 5102 flowEndReason. */
static uint8_t end_reason_code(uint8_t r)
{
    switch ((enum flow_end_reason)r) {
    case FLOW_END_IDLE: return 1;      /* idle timeout */
    case FLOW_END_ACTIVE: return 2;    /* active timeout */
    case FLOW_END_FIN:
    case FLOW_END_RST: return 3;       /* end of flow detected */
    case FLOW_END_SHUTDOWN: return 4;  /* forced end */
    case FLOW_END_EVICTED: return 5;   /* lack of resources */
    case FLOW_END_COUNT: break;
    }
    return 0;
}

/* dateTimeMicroseconds (RFC 7011 6.1.9): NTP seconds and fraction, the low 11
 * fraction bits zero; the fraction rounded up so reading it back (floor) gives
 * the same microsecond. */
static uint64_t ntp_us(uint64_t us)
{
    uint64_t sec = us / 1000000u + 2208988800u;
    uint64_t frac = ((us % 1000000u) << 32) / 1000000u;
    if ((((us % 1000000u) << 32) % 1000000u) != 0)
        frac++;
    frac = (frac + 2047u) & ~(uint64_t)2047u;
    return sec << 32 | frac;
}

static void community_id(ipfix_encoder *e, const struct flow_event *ev, char out[CID_OCTETS])
{
    char cid[COMMUNITY_ID_LEN];
    uint16_t a = ev->src_port, b = ev->dst_port;
    if (ev->has_icmp && (ev->protocol == 1 || ev->protocol == 58)) {
        a = ev->icmp_type;
        b = ev->icmp_code;
    }
    memset(out, 0, CID_OCTETS);
    if (community_id_v1_hash(e->cid, e->o.community_seed, ev->ip_version, ev->src_ip, ev->dst_ip,
                             ev->protocol, a, b, cid, sizeof cid) == 0)
        memcpy(out, cid, strnlen(cid, CID_OCTETS));
}

static enum ipfix_enc_status ipfix_add(ipfix_encoder *e, const struct flow_event *ev, uint32_t export_s)
{
    union { struct rec4 r4; struct rec6 r6; } u;
    memset(&u, 0, sizeof u);
    size_t size;
    uint64_t s = e->o.microseconds ? ntp_us(ev->first_us) : ev->first_us / 1000u;
    uint64_t t = e->o.microseconds ? ntp_us(ev->last_us) : ev->last_us / 1000u;
    bool tcp = ev->protocol == 6;
    uint16_t icmp = ev->has_icmp ? (uint16_t)(ev->icmp_type << 8 | ev->icmp_code) : 0;
    /* Both layouts share every field but the addresses. */
#define FILL(r) do { \
        (r).start = s; (r).end = t; \
        (r).octets = ev->src_bytes; (r).packets = ev->src_packets; \
        (r).roctets = ev->dst_bytes; (r).rpackets = ev->dst_packets; \
        (r).sport = ev->src_port; (r).dport = ev->dst_port; (r).vlan = ev->vlan_id; (r).icmp = icmp; \
        (r).flags = tcp ? ev->src_tcp_flags : 0; (r).rflags = tcp ? ev->dst_tcp_flags : 0; \
        (r).proto = ev->protocol; (r).ipver = ev->ip_version; (r).reason = end_reason_code(ev->end_reason); \
        community_id(e, ev, (r).cid); \
    } while (0)
    if (ev->ip_version == 4) {
        FILL(u.r4);
        u.r4.sip = (uint32_t)ev->src_ip[0] << 24 | (uint32_t)ev->src_ip[1] << 16 | (uint32_t)ev->src_ip[2] << 8 | ev->src_ip[3];
        u.r4.dip = (uint32_t)ev->dst_ip[0] << 24 | (uint32_t)ev->dst_ip[1] << 16 | (uint32_t)ev->dst_ip[2] << 8 | ev->dst_ip[3];
        size = sizeof u.r4;
    } else if (ev->ip_version == 6) {
        FILL(u.r6);
        memcpy(u.r6.sip, ev->src_ip, 16);
        memcpy(u.r6.dip, ev->dst_ip, 16);
        size = sizeof u.r6;
    } else {
        return IPFIX_ENC_ERROR;
    }
#undef FILL
    uint16_t itid = ev->ip_version == 4 ? IPFIX_ENC_TID_V4 : IPFIX_ENC_TID_V6;
    uint16_t tid = (uint16_t)(itid + (ev->protocol == 1 || ev->protocol == 58 ? 2 : 0));
    GError *gerr = NULL;
    if (e->pending == 0 && !e->msg_templates) {
        fBufSetExportTime(e->fbuf, export_s);
        if (e->want_templates) {
            /* libfixbuf puts the templates in a message of their own: it
             * answers the first template export after an emit with
             * FB_ERROR_EOM (to open a new message; once more then), and the
             * first record after them with FB_ERROR_EOM too. So the templates
             * are a message to take before this record. */
            bool ok = fbSessionExportTemplates(e->session, &gerr);
            if (!ok && g_error_matches(gerr, FB_ERROR_DOMAIN, FB_ERROR_EOM)) {
                g_clear_error(&gerr);
                ok = fbSessionExportTemplates(e->session, &gerr);
            }
            g_clear_error(&gerr);
            if (!ok)
                return IPFIX_ENC_ERROR;
            e->want_templates = false;
            e->msg_templates = true;
            e->cur_tid = 0;
            return IPFIX_ENC_FULL;
        }
    }
    if (tid != e->cur_tid) {
        if (!fBufSetInternalTemplate(e->fbuf, itid, &gerr) || !fBufSetExportTemplate(e->fbuf, tid, &gerr)) {
            bool eom = g_error_matches(gerr, FB_ERROR_DOMAIN, FB_ERROR_EOM);
            g_clear_error(&gerr);
            e->cur_tid = 0;
            return eom && e->pending ? IPFIX_ENC_FULL : IPFIX_ENC_ERROR;
        }
        e->cur_tid = tid;
    }
    bool ok = fBufAppend(e->fbuf, (uint8_t *)&u, size, &gerr);
    if (!ok && e->pending == 0 && g_error_matches(gerr, FB_ERROR_DOMAIN, FB_ERROR_EOM)) {
        /* The first record after a template message: libfixbuf's "start a
         * new message" answer; the message was taken, so once more. */
        g_clear_error(&gerr);
        ok = fBufAppend(e->fbuf, (uint8_t *)&u, size, &gerr);
    }
    if (!ok) {
        bool eom = g_error_matches(gerr, FB_ERROR_DOMAIN, FB_ERROR_EOM);
        g_clear_error(&gerr);
        return eom && e->pending ? IPFIX_ENC_FULL : IPFIX_ENC_ERROR;
    }
    e->pending++;
    return IPFIX_ENC_OK;
}

/* ---- NetFlow v9 ---------------------------------------------------------- */

static void put8(uint8_t *p, uint8_t v) { p[0] = v; }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)(v >> 16)); put16(p + 2, (uint16_t)v); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }

/* RFC 3954 field types, in record order (type, length); addresses differ per family. */
static const uint16_t V9_FIELDS4[][2] = {
    {1, 8}, {2, 8}, {22, 4}, {21, 4}, {8, 4}, {12, 4}, {7, 2}, {11, 2}, {58, 2}, {32, 2},
    {4, 1}, {6, 1}, {60, 1}, {136, 1}};
static const uint16_t V9_FIELDS6[][2] = {
    {1, 8}, {2, 8}, {22, 4}, {21, 4}, {27, 16}, {28, 16}, {7, 2}, {11, 2}, {58, 2}, {32, 2},
    {4, 1}, {6, 1}, {60, 1}, {136, 1}};
#define V9_NFIELDS (sizeof V9_FIELDS4 / sizeof V9_FIELDS4[0])
#define V9_TEMPLATES_LEN (4u + 2u * (4u + 4u * V9_NFIELDS))

static void v9_close_set(ipfix_encoder *e)
{
    if (!e->set_off)
        return;
    while (e->len % 4)
        e->buf[e->len++] = 0;
    put16(e->buf + e->set_off + 2, (uint16_t)(e->len - e->set_off));
    e->set_off = 0;
    e->set_tid = 0;
}

static void v9_put_templates(ipfix_encoder *e)
{
    uint8_t *p = e->buf + e->len;
    put16(p, 0);
    put16(p + 2, (uint16_t)V9_TEMPLATES_LEN);
    p += 4;
    for (int i = 0; i < 2; i++) {
        const uint16_t (*f)[2] = i == 0 ? V9_FIELDS4 : V9_FIELDS6;
        put16(p, i == 0 ? IPFIX_ENC_TID_V4 : IPFIX_ENC_TID_V6);
        put16(p + 2, (uint16_t)V9_NFIELDS);
        p += 4;
        for (size_t k = 0; k < V9_NFIELDS; k++, p += 4) {
            put16(p, f[k][0]);
            put16(p + 2, f[k][1]);
        }
    }
    e->len += V9_TEMPLATES_LEN;
    e->count += 2;
}

/* One v9 record: `fwd` the initiator's direction, else the responder's. */
static void v9_put_record(ipfix_encoder *e, const struct flow_event *ev, bool fwd)
{
    uint8_t *p = e->buf + e->len;
    bool tcp = ev->protocol == 6;
    put64(p, fwd ? ev->src_bytes : ev->dst_bytes);
    put64(p + 8, fwd ? ev->src_packets : ev->dst_packets);
    put32(p + 16, (uint32_t)(ev->first_us / 1000u - e->base_ms));
    put32(p + 20, (uint32_t)(ev->last_us / 1000u - e->base_ms));
    p += 24;
    size_t al = ev->ip_version == 4 ? 4 : 16;
    memcpy(p, fwd ? ev->src_ip : ev->dst_ip, al);
    memcpy(p + al, fwd ? ev->dst_ip : ev->src_ip, al);
    p += 2 * al;
    put16(p, fwd ? ev->src_port : ev->dst_port);
    put16(p + 2, fwd ? ev->dst_port : ev->src_port);
    put16(p + 4, ev->vlan_id);
    put16(p + 6, fwd && ev->has_icmp ? (uint16_t)(ev->icmp_type << 8 | ev->icmp_code) : 0);
    put8(p + 8, ev->protocol);
    put8(p + 9, tcp ? (fwd ? ev->src_tcp_flags : ev->dst_tcp_flags) : 0);
    put8(p + 10, ev->ip_version);
    put8(p + 11, end_reason_code(ev->end_reason));
    e->len += ev->ip_version == 4 ? V9_REC4 : V9_REC6;
    e->count++;
}

static enum ipfix_enc_status v9_add(ipfix_encoder *e, const struct flow_event *ev)
{
    if (ev->ip_version != 4 && ev->ip_version != 6)
        return IPFIX_ENC_ERROR;
    uint64_t first = ev->first_us / 1000u, last = ev->last_us / 1000u;
    if (last < first)
        return IPFIX_ENC_ERROR;
    uint16_t tid = ev->ip_version == 4 ? IPFIX_ENC_TID_V4 : IPFIX_ENC_TID_V6;
    size_t rec = ev->ip_version == 4 ? V9_REC4 : V9_REC6;
    size_t n = ev->dst_packets ? 2 : 1;
    if (e->pending == 0) {
        e->len = V9_HDR;
        e->count = 0;
        e->set_off = 0;
        e->max_last_ms = 0;
        uint64_t floor_s = first / 1000u * 1000u;
        e->base_ms = floor_s > V9_SLACK_MS ? floor_s - V9_SLACK_MS : 0;
    }
    /* Both times must be after the packet's boot, and its sysUpTime (up to
     * the latest end + 1 s) must fit 32 bits; otherwise a new packet. */
    if (first < e->base_ms || last + 1000u - e->base_ms > UINT32_MAX)
        return e->pending ? IPFIX_ENC_FULL : IPFIX_ENC_ERROR;
    size_t need = n * rec + (e->set_tid != tid ? 4u + 3u : 0u) +
                  (e->pending == 0 && e->want_templates ? V9_TEMPLATES_LEN : 0u) + 3u;
    if (e->len + need > e->o.max_message)
        return e->pending ? IPFIX_ENC_FULL : IPFIX_ENC_ERROR;
    if (e->pending == 0 && e->want_templates) {
        v9_put_templates(e);
        e->want_templates = false;
        e->msg_templates = true;
    }
    if (e->set_tid != tid) {
        v9_close_set(e);
        e->set_off = e->len;
        e->set_tid = tid;
        put16(e->buf + e->len, tid);
        put16(e->buf + e->len + 2, 0);
        e->len += 4;
    }
    v9_put_record(e, ev, true);
    if (ev->dst_packets)
        v9_put_record(e, ev, false);
    if (last > e->max_last_ms)
        e->max_last_ms = last;
    e->pending++;
    return IPFIX_ENC_OK;
}

static size_t v9_take(ipfix_encoder *e)
{
    v9_close_set(e);
    uint32_t unix_secs = (uint32_t)((e->max_last_ms + 999u) / 1000u);
    put16(e->buf, 9);
    put16(e->buf + 2, e->count);
    put32(e->buf + 4, (uint32_t)((uint64_t)unix_secs * 1000u - e->base_ms));
    put32(e->buf + 8, unix_secs);
    put32(e->buf + 12, e->seq++);
    put32(e->buf + 16, e->o.domain_id);
    return e->len;
}

enum ipfix_enc_status ipfix_encoder_add(ipfix_encoder *e, const struct flow_event *ev, uint32_t export_s)
{
    if (!e || !ev)
        return IPFIX_ENC_ERROR;
    return e->o.protocol == IPFIX_ENC_IPFIX ? ipfix_add(e, ev, export_s) : v9_add(e, ev);
}

size_t ipfix_encoder_take(ipfix_encoder *e, const uint8_t **msg)
{
    if (msg)
        *msg = NULL;
    if (!e || (e->pending == 0 && !e->msg_templates))
        return 0;
    size_t len;
    if (e->o.protocol == IPFIX_ENC_IPFIX) {
        GError *gerr = NULL;
        bool ok = fBufEmit(e->fbuf, &gerr);
        g_clear_error(&gerr);
        len = ok ? fbExporterGetMsgLen(e->exporter) : 0;
        e->cur_tid = 0;
    } else {
        len = v9_take(e);
    }
    e->pending = 0;
    e->msg_templates = false;
    if (msg && len)
        *msg = e->buf;
    return len;
}
