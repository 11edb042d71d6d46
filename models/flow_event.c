/*
 * flow_event.c — FlowEvent JSON for a finished flow (see flow_event.h).
 *
 * go-Tracer's backend must keep working when it receives our events, so the
 * object built here keeps every go-Tracer key with its JSON type (ports as
 * decimal strings, counts as integers) and adds the DESIGN.md fields. Only the
 * sender thread calls flow_event_to_json, so cJSON and its allocations stay
 * off the packet path.
 *
 * flow_event_json_print is the sender's serializer for these objects (see
 * flow_event.h): cJSON 1.7.15 formats every number with sprintf("%1.15g") and
 * reads it back with sscanf, about 0.6 µs each, which made printing most of
 * the per-event cost (~18 µs per event, ~45k events/s on one core). Printing
 * integers directly brings that to a few µs.
 *
 * Two cJSON details matter:
 * - Keys are string literals and are attached with cJSON_AddItemToObjectCS,
 *   which does not copy them (one allocation less per field).
 * - cJSON prints every number as a double with "%1.15g" (then "%1.17g" when a
 *   loose compare says the short form does not round-trip), so whole numbers
 *   of 10^15 or more come out as "1e+15" or lose their last digit
 *   (9007199254740991 -> "9.00719925474099e+15"). Counters below 10^15 are
 *   exact as cJSON numbers; larger ones are attached as raw decimal text, so
 *   every uint64_t is printed exactly and without exponent.
 */
#include "flow_event.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>

#include "../common/ifnames.h"
#include "../common/timefmt.h"
#include "community_id.h"
#include "tunnel.h"

/* Below this, cJSON prints a whole double exactly and without exponent. */
#define FE_CJSON_EXACT_LIMIT 1000000000000000ULL /* 10^15 */

static const char *const end_reason_names[FLOW_END_COUNT] = {
    [FLOW_END_FIN] = "fin",         [FLOW_END_RST] = "rst",
    [FLOW_END_IDLE] = "idle",       [FLOW_END_ACTIVE] = "active",
    [FLOW_END_EVICTED] = "evicted", [FLOW_END_SHUTDOWN] = "shutdown",
};

const char *flow_end_reason_name(enum flow_end_reason r)
{
    if ((unsigned)r >= FLOW_END_COUNT)
        return "unknown";
    return end_reason_names[r];
}

const char *flow_direction_name(enum flow_direction d)
{
    switch (d) {
    case FLOW_DIR_INBOUND:  return "inbound";
    case FLOW_DIR_OUTBOUND: return "outbound";
    case FLOW_DIR_LOCAL:    return "local";
    case FLOW_DIR_UNKNOWN:
    default:                return "unknown";
    }
}

const char *flow_protocol_name(uint8_t proto, char *buf, size_t buflen)
{
    switch (proto) {
    case 1:   return "ICMP";
    case 6:   return "TCP";
    case 17:  return "UDP";
    case 58:  return "ICMPv6";
    case 132: return "SCTP";
    default:
        if (!buf || buflen == 0)
            return "";
        snprintf(buf, buflen, "%u", (unsigned)proto);
        return buf;
    }
}

void flow_tcp_flags_string(uint8_t flags, char *buf, size_t buflen)
{
    /* TCP header bit -> letter, in the output order S A F R P U E C. */
    static const struct { uint8_t bit; char letter; } order[8] = {
        {0x02, 'S'}, {0x10, 'A'}, {0x01, 'F'}, {0x04, 'R'},
        {0x08, 'P'}, {0x20, 'U'}, {0x40, 'E'}, {0x80, 'C'},
    };
    if (!buf || buflen == 0)
        return;
    size_t n = 0;
    for (size_t i = 0; i < 8 && n + 1 < buflen; i++)
        if (flags & order[i].bit)
            buf[n++] = order[i].letter;
    buf[n] = '\0';
}

/* Attach `item` under the literal key `key`; frees item on failure. */
static int add(cJSON *obj, const char *key, cJSON *item)
{
    if (!item)
        return -1;
    if (!cJSON_AddItemToObjectCS(obj, key, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

static int add_str(cJSON *obj, const char *key, const char *s)
{
    return add(obj, key, cJSON_CreateString(s ? s : ""));
}

static int add_num(cJSON *obj, const char *key, double v)
{
    return add(obj, key, cJSON_CreateNumber(v));
}

/* An exact JSON integer (see the file comment for why large ones are raw). */
static int add_u64(cJSON *obj, const char *key, uint64_t v)
{
    if (v < FE_CJSON_EXACT_LIMIT)
        return add(obj, key, cJSON_CreateNumber((double)v));
    char txt[24];
    snprintf(txt, sizeof txt, "%" PRIu64, v);
    return add(obj, key, cJSON_CreateRaw(txt));
}

/* Address text per ip_version; "" for an invalid version. */
static void addr_text(int ip_version, const uint8_t *a, char *buf, size_t buflen)
{
    buf[0] = '\0';
    if (ip_version == 4)
        inet_ntop(AF_INET, a, buf, (socklen_t)buflen);
    else if (ip_version == 6)
        inet_ntop(AF_INET6, a, buf, (socklen_t)buflen);
}

/* The record's Community ID ("" if it cannot be computed); ICMP flows hash
 * their initiator's type/code as the port equivalents. Both JSON paths use it. */
static void event_community_id(const struct flow_event *ev, const struct flow_event_ctx *ctx,
                               char cid[COMMUNITY_ID_LEN])
{
    uint16_t cport_a = ev->src_port, cport_b = ev->dst_port;
    if (ev->has_icmp && (ev->protocol == 1 || ev->protocol == 58)) {
        cport_a = ev->icmp_type;
        cport_b = ev->icmp_code;
    }
    if (community_id_v1_hash(ctx ? ctx->cid_hasher : NULL, ctx ? ctx->community_seed : 0,
                             ev->ip_version, ev->src_ip, ev->dst_ip, ev->protocol, cport_a, cport_b,
                             cid, COMMUNITY_ID_LEN) != 0)
        cid[0] = '\0';
}

/* tunnel (issue 14): "tunnel": {"type", "depth", "outer_src_ip", "outer_dst_ip",
 * and the id under its type's name ("vni", "teid", "gre_key", "session_id")}. */
static int add_tunnel(cJSON *o, const struct flow_event *ev)
{
    if (!ev->tun_type)
        return 0;
    char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
    const char *idname = tunnel_id_name(ev->tun_type);
    cJSON *t = cJSON_CreateObject();
    if (add(o, "tunnel", t) != 0)
        return -1;
    addr_text(ev->tun_outer_ipver, ev->tun_outer_src, s, sizeof s);
    addr_text(ev->tun_outer_ipver, ev->tun_outer_dst, d, sizeof d);
    int rc = add_str(t, "type", tunnel_type_name(ev->tun_type));
    rc |= add_u64(t, "depth", ev->tun_depth);
    rc |= add_str(t, "outer_src_ip", s);
    rc |= add_str(t, "outer_dst_ip", d);
    if (idname && ev->tun_has_id)
        rc |= add_u64(t, idname, ev->tun_id);
    return rc;
}

/* The record's "interface": its first packet's interface when the capture
 * named it (a list, or the "any" device's cooked v2 header), else the
 * capture's own source name. Both JSON paths use it. */
static const char *event_interface(const struct flow_event *ev, const struct flow_event_ctx *ctx)
{
    if (!ctx)
        return NULL;
    const char *name = ifnames_name(ctx->ifnames, ev->iface);
    return name ? name : ctx->interface;
}

/* "aa:bb:cc:dd:ee:ff" into t (>= 18 bytes). */
static void mac_text(const uint8_t *m, char *t)
{
    static const char hex[] = "0123456789abcdef";
    for (int i = 0; i < 6; i++) {
        t[3 * i] = hex[m[i] >> 4];
        t[3 * i + 1] = hex[m[i] & 0x0f];
        t[3 * i + 2] = i < 5 ? ':' : '\0';
    }
}

/* Interface, MAC, DSCP and TTL fields (issue 14 items 7-8), cJSON path: the
 * other interface when there was one, each MAC when the link had it, each
 * side's DSCP and TTL range when that side sent a packet. */
static int add_l2l3(cJSON *o, const struct flow_event *ev, const struct flow_event_ctx *ctx)
{
    int rc = 0;
    char mac[18];
    const char *other = ctx && ev->iface_other ? ifnames_name(ctx->ifnames, ev->iface_other) : NULL;
    if (other)
        rc |= add_str(o, "other_interface", other);
    if (ev->mac_known & 1u) {
        mac_text(ev->src_mac, mac);
        rc |= add_str(o, "src_mac", mac);
    }
    if (ev->mac_known & 2u) {
        mac_text(ev->dst_mac, mac);
        rc |= add_str(o, "dst_mac", mac);
    }
    if (ev->side_seen & 1u) {
        rc |= add_u64(o, "src_dscp", ev->src_dscp);
        rc |= add_u64(o, "src_ttl_min", ev->src_ttl_min);
        rc |= add_u64(o, "src_ttl_max", ev->src_ttl_max);
    }
    if (ev->side_seen & 2u) {
        rc |= add_u64(o, "dst_dscp", ev->dst_dscp);
        rc |= add_u64(o, "dst_ttl_min", ev->dst_ttl_min);
        rc |= add_u64(o, "dst_ttl_max", ev->dst_ttl_max);
    }
    return rc;
}

/* ---- statistics, TCP health, owning process (issue 15 items 4-6) ---- */

static const char *const XS_FLAG_KEYS[FLAG_IX_COUNT] = {
    "syn_count", "ack_count", "fin_count", "rst_count", "psh_count", "urg_count", "ece_count",
    "cwr_count"};
static const char *const XS_DIR_KEYS[3] = {"src", "dst", "both"};

static int add_dirstats(cJSON *parent, const char *key, const struct flow_dir_stats *d)
{
    cJSON *o = cJSON_CreateObject();
    if (add(parent, key, o) != 0)
        return -1;
    int rc = 0;
    rc |= add_u64(o, "size_min", d->size_min);
    rc |= add_num(o, "size_mean", d->size_mean);
    rc |= add_num(o, "size_stddev", d->size_stddev);
    rc |= add_u64(o, "size_max", d->size_max);
    rc |= add_u64(o, "iat_min_us", d->iat_min_us);
    rc |= add_num(o, "iat_mean_us", d->iat_mean_us);
    rc |= add_num(o, "iat_stddev_us", d->iat_stddev_us);
    rc |= add_u64(o, "iat_max_us", d->iat_max_us);
    rc |= add_u64(o, "payload_bytes", d->payload_bytes);
    for (int i = 0; i < FLAG_IX_COUNT; i++)
        rc |= add_u64(o, XS_FLAG_KEYS[i], d->flag_count[i]);
    return rc;
}

/* "stats", "early_packets", "tcp" and "process", each when the record has it. */
static int add_xstats(cJSON *o, const struct flow_xstats *x)
{
    int rc = 0;
    if (x->have & XS_STATS) {
        cJSON *st = cJSON_CreateObject();
        if (add(o, "stats", st) != 0)
            return -1;
        for (int i = 0; i < 3; i++)
            rc |= add_dirstats(st, XS_DIR_KEYS[i], &x->dir[i]);
    }
    if (x->early_n) {
        unsigned n = x->early_n < FLOW_EARLY_MAX ? x->early_n : FLOW_EARLY_MAX;
        cJSON *e = cJSON_CreateObject();
        if (add(o, "early_packets", e) != 0)
            return -1;
        cJSON *sz = cJSON_CreateArray(), *dr = cJSON_CreateArray(), *ia = cJSON_CreateArray();
        rc |= add(e, "size", sz) | add(e, "direction", dr) | add(e, "iat_us", ia);
        if (rc)
            return -1;
        for (unsigned i = 0; i < n; i++) {
            rc |= cJSON_AddItemToArray(sz, cJSON_CreateNumber(x->early_size[i])) ? 0 : -1;
            rc |= cJSON_AddItemToArray(dr, cJSON_CreateNumber((x->early_dirs >> i) & 1u)) ? 0 : -1;
            rc |= cJSON_AddItemToArray(ia, cJSON_CreateNumber(x->early_iat_us[i])) ? 0 : -1;
        }
    }
    if (x->have & XS_TCP) {
        cJSON *t = cJSON_CreateObject();
        if (add(o, "tcp", t) != 0)
            return -1;
        if (x->have & XS_RTT_SYN)
            rc |= add_u64(t, "rtt_syn_synack_us", x->rtt_syn_synack_us);
        if (x->have & XS_RTT_ACK)
            rc |= add_u64(t, "rtt_synack_ack_us", x->rtt_synack_ack_us);
        rc |= add_u64(t, "src_retransmissions", x->retransmissions[0]);
        rc |= add_u64(t, "dst_retransmissions", x->retransmissions[1]);
        rc |= add_u64(t, "src_out_of_order", x->out_of_order[0]);
        rc |= add_u64(t, "dst_out_of_order", x->out_of_order[1]);
        rc |= add_u64(t, "src_zero_window", x->zero_window[0]);
        rc |= add_u64(t, "dst_zero_window", x->zero_window[1]);
    }
    if (x->have & (XS_PROC_SRC | XS_PROC_DST)) {
        cJSON *pr = cJSON_CreateObject();
        if (add(o, "process", pr) != 0)
            return -1;
        char name[FLOW_PROC_NAME_LEN];
        if (x->have & XS_PROC_SRC) {
            memcpy(name, x->proc_name[0], sizeof name);
            name[sizeof name - 1] = '\0';
            rc |= add_u64(pr, "src_pid", (uint64_t)(uint32_t)x->proc_pid[0]);
            rc |= add_str(pr, "src_name", name);
        }
        if (x->have & XS_PROC_DST) {
            memcpy(name, x->proc_name[1], sizeof name);
            name[sizeof name - 1] = '\0';
            rc |= add_u64(pr, "dst_pid", (uint64_t)(uint32_t)x->proc_pid[1]);
            rc |= add_str(pr, "dst_name", name);
        }
    }
    return rc;
}

/* "app": nDPI's label (issue 15), when the sensor inspected the flow. */
static int add_app(cJSON *o, const struct flow_event *ev)
{
    if (!ev->has_app)
        return 0;
    cJSON *a = cJSON_CreateObject();
    if (!a)
        return -1;
    int rc = 0;
    rc |= add_str(a, "protocol", ev->app_protocol);
    rc |= add_str(a, "application", ev->app_name);
    rc |= add_str(a, "category", ev->app_category);
    rc |= add(a, "guessed", cJSON_CreateBool(ev->app_guessed != 0));
    if (rc != 0) {
        cJSON_Delete(a);
        return -1;
    }
    return add(o, "app", a);
}

/* Metadata (issue 15, inspect/): one member named after its kind ("dns", "tls", ...). */
static int add_meta(cJSON *o, const struct flow_event *ev)
{
    return inspect_result_add_json(o, &ev->meta);
}

void flow_event_seal(struct flow_event *ev)
{
    size_t n = offsetof(struct flow_event, xs);
    if (ev->has_app || ev->meta.kind != INSPECT_KIND_NONE)
        n = sizeof *ev;
    else if ((ev->xs.have & XS_STATS) || ev->xs.early_n)
        n += sizeof ev->xs;
    else if (ev->xs.have)
        n += offsetof(struct flow_xstats, dir);
    ev->used_len = (uint16_t)n;
}

size_t flow_event_slot_size(bool dpi, bool stats)
{
    if (dpi)
        return sizeof(struct flow_event);
    if (stats)
        return offsetof(struct flow_event, xs) + sizeof(struct flow_xstats);
    return offsetof(struct flow_event, xs) + offsetof(struct flow_xstats, dir);
}

size_t flow_event_used(const void *item)
{
    const struct flow_event *ev = item;
    return ev->used_len ? ev->used_len : sizeof *ev;
}

cJSON *flow_event_to_json(const struct flow_event *ev, const struct flow_event_ctx *ctx,
                          enum flow_direction dir, const char *event_id)
{
    if (!ev)
        return NULL;
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], pbuf[4];
    char flow_id[2 * INET6_ADDRSTRLEN + 32];
    char ts[40], t_start[40], t_end[40], sflags[9], dflags[9];
    char cid[COMMUNITY_ID_LEN];

    addr_text(ev->ip_version, ev->src_ip, src, sizeof src);
    addr_text(ev->ip_version, ev->dst_ip, dst, sizeof dst);
    const char *proto = flow_protocol_name(ev->protocol, pbuf, sizeof pbuf);
    /* IPv6 addresses in brackets (RFC 3986 host form) so the ports split off */
    const char *lb = ev->ip_version == 6 ? "[" : "", *rb = ev->ip_version == 6 ? "]" : "";
    snprintf(flow_id, sizeof flow_id, "%s%s%s:%u-%s%s%s:%u-%s", lb, src, rb,
             (unsigned)ev->src_port, lb, dst, rb, (unsigned)ev->dst_port, proto);
    timefmt_rfc3339(ev->last_us, 3, ts, sizeof ts);
    timefmt_rfc3339(ev->first_us, 6, t_start, sizeof t_start);
    timefmt_rfc3339(ev->last_us, 6, t_end, sizeof t_end);
    flow_tcp_flags_string(ev->src_tcp_flags, sflags, sizeof sflags);
    flow_tcp_flags_string(ev->dst_tcp_flags, dflags, sizeof dflags);

    char sport[8], dport[8];
    snprintf(sport, sizeof sport, "%u", (unsigned)ev->src_port);
    snprintf(dport, sizeof dport, "%u", (unsigned)ev->dst_port);

    uint64_t packets = ev->src_packets + ev->dst_packets;
    uint64_t bytes = ev->src_bytes + ev->dst_bytes;
    double duration = ev->last_us > ev->first_us ? (double)(ev->last_us - ev->first_us) / 1e6 : 0.0;
    double avg = packets ? (double)bytes / (double)packets : 0.0;

    event_community_id(ev, ctx, cid);

    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int rc = 0;
    rc |= add_str(o, "flow_id", flow_id);
    rc |= add_str(o, "timestamp", ts);
    rc |= add_str(o, "interface", event_interface(ev, ctx));
    rc |= add_str(o, "hostname", ctx ? ctx->hostname : NULL);
    rc |= add_str(o, "direction", flow_direction_name(dir));
    rc |= add_str(o, "src_ip", src);
    rc |= add_str(o, "dst_ip", dst);
    rc |= add_str(o, "src_port", sport);
    rc |= add_str(o, "dst_port", dport);
    rc |= add_str(o, "protocol", proto);
    rc |= add_num(o, "flow_duration", duration);
    rc |= add_u64(o, "packet_count", packets);
    rc |= add_u64(o, "byte_count", bytes);
    rc |= add_num(o, "avg_packet_size", avg);
    rc |= add_str(o, "type", "flow");
    rc |= add_u64(o, "schema_version", EVENT_SCHEMA_VERSION);
    if (ctx && ctx->sensor_id)
        rc |= add_str(o, "sensor_id", ctx->sensor_id);
    rc |= add_str(o, "event_id", event_id);
    rc |= add_str(o, "start_time", t_start);
    rc |= add_str(o, "end_time", t_end);
    rc |= add_u64(o, "ip_version", ev->ip_version);
    rc |= add_u64(o, "protocol_number", ev->protocol);
    rc |= add_u64(o, "vlan_id", ev->vlan_id);
    rc |= add_u64(o, "src_packets", ev->src_packets);
    rc |= add_u64(o, "src_bytes", ev->src_bytes);
    rc |= add_u64(o, "dst_packets", ev->dst_packets);
    rc |= add_u64(o, "dst_bytes", ev->dst_bytes);
    rc |= add_str(o, "src_tcp_flags", sflags);
    rc |= add_str(o, "dst_tcp_flags", dflags);
    if (ev->has_icmp) {
        rc |= add_u64(o, "icmp_type", ev->icmp_type);
        rc |= add_u64(o, "icmp_code", ev->icmp_code);
    }
    rc |= add_str(o, "end_reason", flow_end_reason_name((enum flow_end_reason)ev->end_reason));
    rc |= add(o, "final", cJSON_CreateBool(ev->final != 0));
    if (ev->initiator_inferred)
        rc |= add(o, "initiator_inferred", cJSON_CreateTrue());
    rc |= add_str(o, "community_id", cid);
    rc |= add_tunnel(o, ev);
    rc |= add_l2l3(o, ev, ctx);
    rc |= add_xstats(o, &ev->xs);
    rc |= add_app(o, ev);
    rc |= add_meta(o, ev);
    if (rc != 0) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ---- compact printer ---------------------------------------------------- */

/* Output cursor with snprintf semantics: counts everything, stores what fits. */
struct jw {
    char *b;
    size_t cap, n;
};

/* Inlined so that the many constant-length copies (keys) become a few moves. */
static inline __attribute__((always_inline)) void jw_put(struct jw *w, const char *s, size_t len)
{
    if (w->n <= w->cap && w->cap - w->n >= len) {
        memcpy(w->b + w->n, s, len);           /* the usual case: it fits */
    } else if (w->n < w->cap) {
        memcpy(w->b + w->n, s, w->cap - w->n);
    }
    w->n += len;
}

static void jw_ch(struct jw *w, char c)
{
    if (w->n < w->cap)
        w->b[w->n] = c;
    w->n++;
}

/* A JSON string, escaped exactly as cJSON's print_string_ptr does. */
static void jw_str(struct jw *w, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    jw_ch(w, '"');
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    for (;;) {
        const unsigned char *run = p;
        while (*p >= 32 && *p != '"' && *p != '\\')
            p++;
        jw_put(w, (const char *)run, (size_t)(p - run));
        if (*p == '\0')
            break;
        char e[6] = {'\\', 0, 0, 0, 0, 0};
        size_t el = 2;
        switch (*p) {
        case '"':  e[1] = '"'; break;
        case '\\': e[1] = '\\'; break;
        case '\b': e[1] = 'b'; break;
        case '\f': e[1] = 'f'; break;
        case '\n': e[1] = 'n'; break;
        case '\r': e[1] = 'r'; break;
        case '\t': e[1] = 't'; break;
        default:
            e[1] = 'u';
            e[2] = '0';
            e[3] = '0';
            e[4] = hex[*p >> 4];
            e[5] = hex[*p & 15];
            el = 6;
            break;
        }
        jw_put(w, e, el);
        p++;
    }
    jw_ch(w, '"');
}

static void jw_num(struct jw *w, double d)
{
    char t[32];
    if (!isfinite(d)) {
        jw_put(w, "null", 4);
        return;
    }
    if (d > -9007199254740992.0 && d < 9007199254740992.0 && d == (double)(int64_t)d) {
        /* Whole and exactly representable: plain decimal digits. */
        int64_t v = (int64_t)d;
        uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
        char *e = t + sizeof t, *q = e;
        do {
            *--q = (char)('0' + u % 10u);
            u /= 10u;
        } while (u);
        if (v < 0)
            *--q = '-';
        jw_put(w, q, (size_t)(e - q));
        return;
    }
    int len = snprintf(t, sizeof t, "%1.15g", d);
    if (strtod(t, NULL) != d)
        len = snprintf(t, sizeof t, "%1.17g", d);
    jw_put(w, t, (size_t)len);
}

static int jw_item(struct jw *w, const cJSON *it, int depth)
{
    if (!it || depth > 1000)
        return -1;
    if (cJSON_IsObject(it) || cJSON_IsArray(it)) {
        bool obj = cJSON_IsObject(it);
        jw_ch(w, obj ? '{' : '[');
        for (const cJSON *c = it->child; c; c = c->next) {
            if (c != it->child)
                jw_ch(w, ',');
            if (obj) {
                if (!c->string)
                    return -1;
                jw_str(w, c->string);
                jw_ch(w, ':');
            }
            if (jw_item(w, c, depth + 1) != 0)
                return -1;
        }
        jw_ch(w, obj ? '}' : ']');
    } else if (cJSON_IsString(it)) {
        jw_str(w, it->valuestring);
    } else if (cJSON_IsNumber(it)) {
        jw_num(w, it->valuedouble);
    } else if (cJSON_IsTrue(it)) {
        jw_put(w, "true", 4);
    } else if (cJSON_IsFalse(it)) {
        jw_put(w, "false", 5);
    } else if (cJSON_IsNull(it)) {
        jw_put(w, "null", 4);
    } else if (cJSON_IsRaw(it)) {
        if (!it->valuestring)
            return -1;
        jw_put(w, it->valuestring, strlen(it->valuestring));
    } else {
        return -1;
    }
    return 0;
}

/* ---- direct FlowEvent text (flow_event_format) ---------------------------- */

/*
 * Everything below writes the same bytes that flow_event_json_print() gives
 * for flow_event_to_json()'s object, without building the object: no
 * allocation, no printf on the common paths. Each helper names the cJSON/printf
 * behaviour it reproduces; the unit tests compare the two paths.
 */

static const uint64_t pow10_u64[20] = {
    1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull, 10000000ull,
    100000000ull, 1000000000ull, 10000000000ull, 100000000000ull, 1000000000000ull,
    10000000000000ull, 100000000000000ull, 1000000000000000ull, 10000000000000000ull,
    100000000000000000ull, 1000000000000000000ull, 10000000000000000000ull,
};

/* Decimal digits of v into the end of t; returns the first digit. */
static char *u64_digits(uint64_t v, char *end)
{
    char *q = end;
    do {
        *--q = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    return q;
}

/* "00" .. "99": decimal digits two at a time. */
static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

/* How many decimal digits v has (1 for 0): log10 from the bit length
 * (1233 / 4096 ~ log10 2), corrected by one compare. */
static inline unsigned dec_digits(uint64_t v)
{
    v |= 1u;
    unsigned t = ((64u - (unsigned)__builtin_clzll(v)) * 1233u) >> 12;
    return t + (v >= pow10_u64[t]);
}

/* Decimal digits of v, written in place when they fit, two at a time. */
static void jw_u64(struct jw *w, uint64_t v)
{
    unsigned d = dec_digits(v);
    if (!(w->n <= w->cap && w->cap - w->n >= d)) {
        char t[24];
        char *q = u64_digits(v, t + sizeof t);
        jw_put(w, q, (size_t)(t + sizeof t - q));
        return;
    }
    char *q = w->b + w->n + d;
    while (v >= 100u) {
        unsigned r = (unsigned)(v % 100u);
        v /= 100u;
        q -= 2;
        memcpy(q, digit_pairs + 2 * r, 2);
    }
    if (v >= 10u) {
        q -= 2;
        memcpy(q, digit_pairs + 2 * v, 2);
    } else {
        *--q = (char)('0' + v);
    }
    w->n += d;
}

static void jw_lit(struct jw *w, const char *s) { jw_put(w, s, strlen(s)); }

/* `,"key":` as one copy; keys are literals without characters to escape. */
#define JW_KEY(w, k) jw_put((w), ",\"" k "\":", sizeof(",\"" k "\":") - 1)

/* A string known to need no escaping (digits, addresses, letters), quoted. */
static void jw_plain(struct jw *w, const char *s, size_t len)
{
    jw_ch(w, '"');
    jw_put(w, s, len);
    jw_ch(w, '"');
}

/* Integer part . fraction (k digits of q below 10^k), trailing zeros trimmed
 * (what "%g" prints in fixed notation). */
static void jw_fixed(struct jw *w, uint64_t q, unsigned k)
{
    uint64_t ip = q / pow10_u64[k], fr = q % pow10_u64[k];
    jw_u64(w, ip);
    if (fr == 0)
        return;
    char t[24];
    unsigned n = k;
    while (fr % 10u == 0) {
        fr /= 10u;
        n--;
    }
    for (unsigned i = n; i-- > 0;) {
        t[i] = (char)('0' + fr % 10u);
        fr /= 10u;
    }
    t[n] = '.';
    jw_ch(w, '.');
    jw_put(w, t, n);
}

/*
 * "%1.<p>g" of v for 1 <= v < 10^15, p = 15 or 17, in fixed notation: rounds
 * the exact binary value to p significant digits, ties to even (glibc), with
 * 128-bit integer arithmetic. Stores q (the p-digit significand scaled) and k
 * (fraction digits); returns false when the rounded value leaves the range
 * where "%g" uses fixed notation.
 */
static bool g_digits(double v, unsigned p, uint64_t *q_out, unsigned *k_out)
{
    uint64_t bits;                                     /* v >= 1: a normal double */
    memcpy(&bits, &v, sizeof bits);
    uint64_t m = (bits & ((1ull << 52) - 1u)) | (1ull << 52);  /* 53-bit significand */
    int s = 1075 - (int)((bits >> 52) & 0x7ffu);      /* v = m / 2^s */
    if (s < 0 || s > 60)
        return false;
    unsigned d = 1;                                    /* integer digits of v */
    uint64_t iv = (uint64_t)v;
    while (d < 20 && iv >= pow10_u64[d])
        d++;
    if (d >= p || d > 15)
        return false;
    unsigned k = p - d;
    unsigned __int128 prod = (unsigned __int128)m * pow10_u64[k];
    unsigned __int128 one = (unsigned __int128)1 << s;
    uint64_t q = (uint64_t)(prod >> s);
    unsigned __int128 rem = prod & (one - 1);
    unsigned __int128 half = one >> 1;
    if (s > 0 && (rem > half || (rem == half && (q & 1u))))
        q++;
    if (q == pow10_u64[p]) {                           /* 9.99..95 rounded up a digit */
        if (k == 0 || d + 1 >= p)
            return false;
        q /= 10u;
        k--;
    }
    *q_out = q;
    *k_out = k;
    return true;
}

/* jw_num(v) for a finite, non-whole v: the cJSON/printf rule, fast when 1 <= v < 10^15. */
static void jw_double(struct jw *w, double v)
{
    uint64_t q;
    unsigned k;
    if (v >= 1.0 && v < 1e15 && g_digits(v, 15, &q, &k)) {
        if ((double)q / (double)pow10_u64[k] == v) {   /* "%1.15g" reads back exactly */
            jw_fixed(w, q, k);
            return;
        }
        if (g_digits(v, 17, &q, &k)) {
            jw_fixed(w, q, k);
            return;
        }
    }
    jw_num(w, v);
}

/* flow_duration: (last - first) / 1e6 printed as jw_num would. */
static void jw_duration(struct jw *w, uint64_t first, uint64_t last)
{
    if (last <= first) {
        jw_ch(w, '0');
        return;
    }
    uint64_t d = last - first;
    /* Below 10^15 µs the double nearest d/10^6 prints as that decimal with
     * "%1.15g" and reads back; below 100 µs "%g" switches to an exponent. */
    if (d >= 100u && d < 1000000000000000ull) {
        jw_fixed(w, d, 6);
        return;
    }
    jw_num(w, (double)d / 1e6);
}

/*
 * One event prints three times from two instants (timestamp and end_time
 * from last_us, start_time from first_us), usually within the same second:
 * the "YYYY-MM-DDTHH:MM:SS" text of a second is made once per event and
 * reused (a memo on the caller's stack: no state between events or threads).
 */
struct time_memo {
    uint64_t secs[2];                                  /* UINT64_MAX: empty */
    char txt[2][19];
};

/* timefmt_rfc3339 (quoted) for years 1970..9999; the seconds text through the memo. */
static void jw_time(struct jw *w, uint64_t us, int digits, struct time_memo *m)
{
    uint64_t secs = us / 1000000u;
    unsigned frac = (unsigned)(us % 1000000u);
    if (secs > TIMEFMT_CIVIL_MAX_SECS) {               /* past 9999-12-31 */
        char t[48];
        timefmt_rfc3339(us, digits, t, sizeof t);
        jw_str(w, t);
        return;
    }
    const char *txt;
    if (m->secs[0] == secs) {
        txt = m->txt[0];
    } else if (m->secs[1] == secs) {
        txt = m->txt[1];
    } else {
        int slot = m->secs[0] == UINT64_MAX ? 0 : 1;   /* the first second stays */
        timefmt_civil(secs, m->txt[slot]);
        m->secs[slot] = secs;
        txt = m->txt[slot];
    }
    char t[32];
    t[0] = '"';
    memcpy(t + 1, txt, 19);
    t[20] = '.';
    size_t n = 21;
    if (digits == 3) {                                 /* milliseconds */
        unsigned ms = frac / 1000u;
        t[21] = (char)('0' + ms / 100u);
        memcpy(t + 22, digit_pairs + 2 * (ms % 100u), 2);
        n += 3;
    } else {                                           /* microseconds */
        memcpy(t + 21, digit_pairs + 2 * (frac / 10000u), 2);
        memcpy(t + 23, digit_pairs + 2 * (frac / 100u % 100u), 2);
        memcpy(t + 25, digit_pairs + 2 * (frac % 100u), 2);
        n += 6;
    }
    t[n++] = 'Z';
    t[n++] = '"';
    if (digits == 3)
        jw_put(w, t, 26);                              /* constant lengths: inlined moves */
    else
        jw_put(w, t, 29);
}

/* addr_text into t (INET6_ADDRSTRLEN); IPv4 without inet_ntop. Returns the length. */
static size_t addr_fast(int ip_version, const uint8_t *a, char *t)
{
    if (ip_version != 4) {
        addr_text(ip_version, a, t, INET6_ADDRSTRLEN);
        return strlen(t);
    }
    size_t n = 0;
    for (int i = 0; i < 4; i++) {
        unsigned b = a[i];
        if (i)
            t[n++] = '.';
        if (b >= 100u)
            t[n++] = (char)('0' + b / 100u);
        if (b >= 10u)
            t[n++] = (char)('0' + b / 10u % 10u);
        t[n++] = (char)('0' + b % 10u);
    }
    t[n] = '\0';
    return n;
}

/* tunnel (issue 14): the same "tunnel" object as add_tunnel. */
static void jw_tunnel(struct jw *w, const struct flow_event *ev)
{
    if (!ev->tun_type)
        return;
    char s[INET6_ADDRSTRLEN], d[INET6_ADDRSTRLEN];
    size_t sn = addr_fast(ev->tun_outer_ipver, ev->tun_outer_src, s);
    size_t dn = addr_fast(ev->tun_outer_ipver, ev->tun_outer_dst, d);
    const char *idname = tunnel_id_name(ev->tun_type);
    jw_lit(w, ",\"tunnel\":{\"type\":\"");
    jw_lit(w, tunnel_type_name(ev->tun_type));
    jw_lit(w, "\",\"depth\":");
    jw_u64(w, ev->tun_depth);
    jw_lit(w, ",\"outer_src_ip\":\"");
    jw_put(w, s, sn);
    jw_lit(w, "\",\"outer_dst_ip\":\"");
    jw_put(w, d, dn);
    jw_ch(w, '"');
    if (idname && ev->tun_has_id) {
        jw_lit(w, ",\"");
        jw_lit(w, idname);
        jw_lit(w, "\":");
        jw_u64(w, ev->tun_id);
    }
    jw_ch(w, '}');
}

/* ---- statistics, TCP health, owning process (issue 15 items 4-6) ---- */

/*
 * "stats" and "early_packets" are most of a record with statistics (three
 * objects of 17 numbers, up to 96 array entries): they are written with an
 * unchecked cursor (pw_*) into room known to be enough, STATS_JSON_MAX bytes,
 * straight into the output when it has that room, else into a local buffer
 * that jw_put copies (and cuts: snprintf semantics as everywhere).
 */

/* `s` (a literal) at p; returns the end. */
#define PW_LIT(p, s) (memcpy((p), (s), sizeof(s) - 1), (p) + sizeof(s) - 1)

/* Longest jw_num text: "-2.2250738585072014e-308". */
#define NUM_TEXT_MAX 24u
#define DIR_JSON_MAX (sizeof("{\"size_min\":,\"size_mean\":,\"size_stddev\":,\"size_max\":,"           \
                             "\"iat_min_us\":,\"iat_mean_us\":,\"iat_stddev_us\":,\"iat_max_us\":,"     \
                             "\"payload_bytes\":,\"syn_count\":,\"ack_count\":,\"fin_count\":,"          \
                             "\"rst_count\":,\"psh_count\":,\"urg_count\":,\"ece_count\":,"              \
                             "\"cwr_count\":}")                                                     \
                      + 4u * NUM_TEXT_MAX + 10u * 10u + 3u * 20u)  /* 4 doubles, 10 u32, 3 u64 */
#define STATS_JSON_MAX (sizeof(",\"stats\":{\"src\":,\"dst\":,\"both\":}") + 3u * DIR_JSON_MAX       \
                        + sizeof(",\"early_packets\":{\"size\":[],\"direction\":[],\"iat_us\":[]}")  \
                        + FLOW_EARLY_MAX * (5u + 1u + 1u + 1u + 10u + 1u))

/* jw_u64 at p. */
static inline char *pw_u64(char *p, uint64_t v)
{
    if (v < 10u) {
        *p = (char)('0' + v);
        return p + 1;
    }
    unsigned d = dec_digits(v);
    char *q = p + d;
    while (v >= 100u) {
        unsigned r = (unsigned)(v % 100u);
        v /= 100u;
        q -= 2;
        memcpy(q, digit_pairs + 2 * r, 2);
    }
    if (v >= 10u) {
        q -= 2;
        memcpy(q, digit_pairs + 2 * v, 2);
    } else {
        *--q = (char)('0' + v);
    }
    return p + d;
}

/* '.' and the k digits of fr (0 < fr < 10^k) at p, trailing zeros dropped. */
static char *pw_frac(char *p, uint64_t fr, unsigned k)
{
    *p++ = '.';
    char *e = p + k, *q = e;
    for (unsigned i = k; i >= 2; i -= 2) {
        q -= 2;
        memcpy(q, digit_pairs + 2 * (fr % 100u), 2);
        fr /= 100u;
    }
    if (q > p)
        *--q = (char)('0' + fr);
    while (e[-1] == '0')
        e--;
    return e;
}

/*
 * v (1 <= v < 10^15, not whole; ip its integer part) as jw_num prints it:
 * "%1.15g" when that reads back as v, else "%1.17g", both in fixed notation
 * here. Like g_digits, the exact binary value m / 2^s is scaled by 10^k
 * (k = precision - integer digits) in 128 bits and rounded half to even
 * (glibc's printf); the 15-digit result q reads back exactly iff q / 10^k,
 * one correctly rounded division of exact operands, is v. A 15-digit
 * rounding up to 10^15 (which "%g" would print with an exponent) cannot read
 * back as a v below it, so it goes the 17-digit way, which stays fixed.
 */
static char *pw_short(char *p, double v, uint64_t ip)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    uint64_t m = (bits & ((1ull << 52) - 1u)) | (1ull << 52);
    unsigned s = 1075u - (unsigned)(bits >> 52);       /* v = m / 2^s, 3 <= s <= 52 */
    unsigned d = dec_digits(ip);
    unsigned __int128 one = (unsigned __int128)1 << s, half = one >> 1;
    for (unsigned prec = 15;; prec = 17) {
        unsigned k = prec - d;
        uint64_t pk = pow10_u64[k];
        unsigned __int128 prod = (unsigned __int128)m * pk;
        uint64_t q = (uint64_t)(prod >> s);
        unsigned __int128 rem = prod & (one - 1u);
        if (rem > half || (rem == half && (q & 1u)))
            q++;
        if (prec == 17 || (double)q / (double)pk == v) {
            uint64_t fr = q - ip * pk, whole = ip;      /* q / 10^k is ip or ip + 1 */
            if (fr >= pk) {
                whole++;
                fr -= pk;
            }
            p = pw_u64(p, whole);
            return fr ? pw_frac(p, fr, k) : p;
        }
    }
}

/* A statistic as jw_num prints it: whole values and 1 <= v < 10^15 without
 * printf, anything else through jw_num. */
static char *pw_stat(char *p, double v)
{
    if (v >= 0.0 && v < 9007199254740992.0) {
        uint64_t u = (uint64_t)v;
        if ((double)u == v)                            /* whole (-0.0 too): digits */
            return pw_u64(p, u);
        if (v >= 1.0 && v < 1e15)
            return pw_short(p, v, u);
    }
    struct jw t = {.b = p, .cap = NUM_TEXT_MAX, .n = 0};
    jw_num(&t, v);
    return p + t.n;
}

static char *pw_dirstats(char *p, const struct flow_dir_stats *d)
{
    p = PW_LIT(p, "{\"size_min\":");
    p = pw_u64(p, d->size_min);
    p = PW_LIT(p, ",\"size_mean\":");
    p = pw_stat(p, d->size_mean);
    p = PW_LIT(p, ",\"size_stddev\":");
    p = pw_stat(p, d->size_stddev);
    p = PW_LIT(p, ",\"size_max\":");
    p = pw_u64(p, d->size_max);
    p = PW_LIT(p, ",\"iat_min_us\":");
    p = pw_u64(p, d->iat_min_us);
    p = PW_LIT(p, ",\"iat_mean_us\":");
    p = pw_stat(p, d->iat_mean_us);
    p = PW_LIT(p, ",\"iat_stddev_us\":");
    p = pw_stat(p, d->iat_stddev_us);
    p = PW_LIT(p, ",\"iat_max_us\":");
    p = pw_u64(p, d->iat_max_us);
    p = PW_LIT(p, ",\"payload_bytes\":");
    p = pw_u64(p, d->payload_bytes);
    /* XS_FLAG_KEYS, in flag_count order */
    p = PW_LIT(p, ",\"syn_count\":");
    p = pw_u64(p, d->flag_count[FLAG_IX_SYN]);
    p = PW_LIT(p, ",\"ack_count\":");
    p = pw_u64(p, d->flag_count[FLAG_IX_ACK]);
    p = PW_LIT(p, ",\"fin_count\":");
    p = pw_u64(p, d->flag_count[FLAG_IX_FIN]);
    p = PW_LIT(p, ",\"rst_count\":");
    p = pw_u64(p, d->flag_count[FLAG_IX_RST]);
    p = PW_LIT(p, ",\"psh_count\":");
    p = pw_u64(p, d->flag_count[FLAG_IX_PSH]);
    p = PW_LIT(p, ",\"urg_count\":");
    p = pw_u64(p, d->flag_count[FLAG_IX_URG]);
    p = PW_LIT(p, ",\"ece_count\":");
    p = pw_u64(p, d->flag_count[FLAG_IX_ECE]);
    p = PW_LIT(p, ",\"cwr_count\":");
    p = pw_u64(p, d->flag_count[FLAG_IX_CWR]);
    *p++ = '}';
    return p;
}

/* "stats" and "early_packets" as add_xstats makes them, at p (STATS_JSON_MAX bytes of room). */
static char *pw_stats(char *p, const struct flow_xstats *x)
{
    if (x->have & XS_STATS) {
        p = PW_LIT(p, ",\"stats\":{\"src\":");
        p = pw_dirstats(p, &x->dir[0]);
        p = PW_LIT(p, ",\"dst\":");
        p = pw_dirstats(p, &x->dir[1]);
        p = PW_LIT(p, ",\"both\":");
        p = pw_dirstats(p, &x->dir[2]);
        *p++ = '}';
    }
    if (x->early_n) {
        unsigned n = x->early_n < FLOW_EARLY_MAX ? x->early_n : FLOW_EARLY_MAX;
        p = PW_LIT(p, ",\"early_packets\":{\"size\":[");
        for (unsigned i = 0; i < n; i++) {
            p = pw_u64(p, x->early_size[i]);
            *p++ = ',';
        }
        p = PW_LIT(p - 1, "],\"direction\":[");              /* over the last ',' */
        for (unsigned i = 0; i < n; i++) {
            p[0] = (char)('0' + ((x->early_dirs >> i) & 1u));
            p[1] = ',';
            p += 2;
        }
        p = PW_LIT(p - 1, "],\"iat_us\":[");
        for (unsigned i = 0; i < n; i++) {
            p = pw_u64(p, x->early_iat_us[i]);
            *p++ = ',';
        }
        p = PW_LIT(p - 1, "]}");
    }
    return p;
}

/* An unchecked writer (pw_*) of at most `max` bytes: straight into the output
 * when it has the room, else into t (max bytes), which jw_put copies and cuts. */
static inline void jw_pw(struct jw *w, char *t, size_t max, char *(*pw)(char *, const void *),
                         const void *arg)
{
    if (w->n <= w->cap && w->cap - w->n >= max)
        w->n = (size_t)(pw(w->b + w->n, arg) - w->b);
    else
        jw_put(w, t, (size_t)(pw(t, arg) - t));
}

/* The MAC, DSCP and TTL fields of add_l2l3 (all but other_interface). */
#define L2L3_JSON_MAX (2u * sizeof(",\"src_mac\":\"00:00:00:00:00:00\"")                        \
                       + 2u * sizeof(",\"src_dscp\":255,\"src_ttl_min\":255,\"src_ttl_max\":255"))

/* mac_text, quoted, at p (its NUL is overwritten by the closing quote). */
static char *pw_mac(char *p, const uint8_t *m)
{
    *p++ = '"';
    mac_text(m, p);
    p[17] = '"';
    return p + 18;
}

static char *pw_l2l3(char *p, const void *arg)
{
    const struct flow_event *ev = arg;
    if (ev->mac_known & 1u)
        p = pw_mac(PW_LIT(p, ",\"src_mac\":"), ev->src_mac);
    if (ev->mac_known & 2u)
        p = pw_mac(PW_LIT(p, ",\"dst_mac\":"), ev->dst_mac);
    if (ev->side_seen & 1u) {
        p = pw_u64(PW_LIT(p, ",\"src_dscp\":"), ev->src_dscp);
        p = pw_u64(PW_LIT(p, ",\"src_ttl_min\":"), ev->src_ttl_min);
        p = pw_u64(PW_LIT(p, ",\"src_ttl_max\":"), ev->src_ttl_max);
    }
    if (ev->side_seen & 2u) {
        p = pw_u64(PW_LIT(p, ",\"dst_dscp\":"), ev->dst_dscp);
        p = pw_u64(PW_LIT(p, ",\"dst_ttl_min\":"), ev->dst_ttl_min);
        p = pw_u64(PW_LIT(p, ",\"dst_ttl_max\":"), ev->dst_ttl_max);
    }
    return p;
}

/* The add_l2l3 fields, fast path: the same keys, order and values. */
static void jw_l2l3(struct jw *w, const struct flow_event *ev, const struct flow_event_ctx *ctx)
{
    const char *other = ctx && ev->iface_other ? ifnames_name(ctx->ifnames, ev->iface_other) : NULL;
    if (other) {
        JW_KEY(w, "other_interface");
        jw_str(w, other);
    }
    char t[L2L3_JSON_MAX];
    jw_pw(w, t, sizeof t, pw_l2l3, ev);
}

/* The "tcp" object of add_xstats. */
#define TCP_JSON_MAX (sizeof(",\"tcp\":{\"rtt_syn_synack_us\":,\"rtt_synack_ack_us\":,"                  \
                            "\"src_retransmissions\":,\"dst_retransmissions\":,\"src_out_of_order\":,"  \
                            "\"dst_out_of_order\":,\"src_zero_window\":,\"dst_zero_window\":}")          \
                      + 8u * 20u)

static char *pw_tcp(char *p, const void *arg)
{
    const struct flow_xstats *x = arg;
    p = PW_LIT(p, ",\"tcp\":{");
    if (x->have & XS_RTT_SYN)
        p = PW_LIT(pw_u64(PW_LIT(p, "\"rtt_syn_synack_us\":"), x->rtt_syn_synack_us), ",");
    if (x->have & XS_RTT_ACK)
        p = PW_LIT(pw_u64(PW_LIT(p, "\"rtt_synack_ack_us\":"), x->rtt_synack_ack_us), ",");
    p = pw_u64(PW_LIT(p, "\"src_retransmissions\":"), x->retransmissions[0]);
    p = pw_u64(PW_LIT(p, ",\"dst_retransmissions\":"), x->retransmissions[1]);
    p = pw_u64(PW_LIT(p, ",\"src_out_of_order\":"), x->out_of_order[0]);
    p = pw_u64(PW_LIT(p, ",\"dst_out_of_order\":"), x->out_of_order[1]);
    p = pw_u64(PW_LIT(p, ",\"src_zero_window\":"), x->zero_window[0]);
    p = pw_u64(PW_LIT(p, ",\"dst_zero_window\":"), x->zero_window[1]);
    *p++ = '}';
    return p;
}

static char *pw_stats_arg(char *p, const void *arg) { return pw_stats(p, arg); }

/* The counts, flags and end of a record: ip_version .. initiator_inferred. */
#define END_REASON_TEXT_MAX 16u
#define COUNTS_JSON_MAX (sizeof(",\"ip_version\":,\"protocol_number\":,\"vlan_id\":,\"src_packets\":,"     \
                               "\"src_bytes\":,\"dst_packets\":,\"dst_bytes\":,\"src_tcp_flags\":\"\","    \
                               "\"dst_tcp_flags\":\"\",\"icmp_type\":,\"icmp_code\":,\"end_reason\":\"\","  \
                               "\"final\":false,\"initiator_inferred\":true")                               \
                         + 7u * 20u + 2u * 8u + 2u * 3u + END_REASON_TEXT_MAX)

/* The flags letters (flow_tcp_flags_string), quoted, at p. */
static char *pw_flags(char *p, uint8_t flags)
{
    char t[9];
    flow_tcp_flags_string(flags, t, sizeof t);
    size_t n = strlen(t);
    *p++ = '"';
    memcpy(p, t, n);
    p += n;
    *p++ = '"';
    return p;
}

static char *pw_counts(char *p, const void *arg)
{
    const struct flow_event *ev = arg;
    p = pw_u64(PW_LIT(p, ",\"ip_version\":"), ev->ip_version);
    p = pw_u64(PW_LIT(p, ",\"protocol_number\":"), ev->protocol);
    p = pw_u64(PW_LIT(p, ",\"vlan_id\":"), ev->vlan_id);
    p = pw_u64(PW_LIT(p, ",\"src_packets\":"), ev->src_packets);
    p = pw_u64(PW_LIT(p, ",\"src_bytes\":"), ev->src_bytes);
    p = pw_u64(PW_LIT(p, ",\"dst_packets\":"), ev->dst_packets);
    p = pw_u64(PW_LIT(p, ",\"dst_bytes\":"), ev->dst_bytes);
    p = pw_flags(PW_LIT(p, ",\"src_tcp_flags\":"), ev->src_tcp_flags);
    p = pw_flags(PW_LIT(p, ",\"dst_tcp_flags\":"), ev->dst_tcp_flags);
    if (ev->has_icmp) {
        p = pw_u64(PW_LIT(p, ",\"icmp_type\":"), ev->icmp_type);
        p = pw_u64(PW_LIT(p, ",\"icmp_code\":"), ev->icmp_code);
    }
    const char *reason = flow_end_reason_name((enum flow_end_reason)ev->end_reason);
    size_t rn = strnlen(reason, END_REASON_TEXT_MAX);
    p = PW_LIT(p, ",\"end_reason\":\"");
    memcpy(p, reason, rn);
    p += rn;
    *p++ = '"';
    p = ev->final ? PW_LIT(p, ",\"final\":true") : PW_LIT(p, ",\"final\":false");
    if (ev->initiator_inferred)
        p = PW_LIT(p, ",\"initiator_inferred\":true");
    return p;
}

/* The same bytes add_xstats gives. */
static void jw_xstats(struct jw *w, const struct flow_xstats *x)
{
    if ((x->have & XS_STATS) || x->early_n) {
        char t[STATS_JSON_MAX];
        jw_pw(w, t, sizeof t, pw_stats_arg, x);
    }
    if (x->have & XS_TCP) {
        char t[TCP_JSON_MAX];
        jw_pw(w, t, sizeof t, pw_tcp, x);
    }
    if (x->have & (XS_PROC_SRC | XS_PROC_DST)) {
        char name[FLOW_PROC_NAME_LEN];
        jw_lit(w, ",\"process\":{");
        if (x->have & XS_PROC_SRC) {
            memcpy(name, x->proc_name[0], sizeof name);
            name[sizeof name - 1] = '\0';
            jw_lit(w, "\"src_pid\":");
            jw_u64(w, (uint32_t)x->proc_pid[0]);
            JW_KEY(w, "src_name");
            jw_str(w, name);
        }
        if (x->have & XS_PROC_DST) {
            memcpy(name, x->proc_name[1], sizeof name);
            name[sizeof name - 1] = '\0';
            if (x->have & XS_PROC_SRC)
                jw_ch(w, ',');
            jw_lit(w, "\"dst_pid\":");
            jw_u64(w, (uint32_t)x->proc_pid[1]);
            JW_KEY(w, "dst_name");
            jw_str(w, name);
        }
        jw_ch(w, '}');
    }
}

/* "app" (issue 15): the same bytes as add_app. */
static void jw_app(struct jw *w, const struct flow_event *ev)
{
    if (!ev->has_app)
        return;
    jw_lit(w, ",\"app\":{\"protocol\":");
    jw_str(w, ev->app_protocol);
    jw_lit(w, ",\"application\":");
    jw_str(w, ev->app_name);
    jw_lit(w, ",\"category\":");
    jw_str(w, ev->app_category);
    jw_lit(w, ev->app_guessed ? ",\"guessed\":true}" : ",\"guessed\":false}");
}

/* The same bytes as add_meta (the inspect writer: `,"tls":{...}`, nothing for none). */
static void jw_meta(struct jw *w, const struct flow_event *ev)
{
    if (ev->meta.kind == INSPECT_KIND_NONE)
        return;
    bool room = w->n < w->cap;
    w->n += inspect_result_format(&ev->meta, room ? w->b + w->n : NULL, room ? w->cap - w->n : 0);
}

size_t flow_event_format(const struct flow_event *ev, const struct flow_event_ctx *ctx,
                         enum flow_direction dir, const char *event_id, char *buf, size_t buflen)
{
    struct jw w = {.b = buf, .cap = buf ? buflen : 0, .n = 0};
    if (!ev) {
        if (w.cap)
            buf[0] = '\0';
        return SIZE_MAX;
    }
    char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], pbuf[4];
    char cid[COMMUNITY_ID_LEN], pt[8], *pq;
    size_t srcn = addr_fast(ev->ip_version, ev->src_ip, src);
    size_t dstn = addr_fast(ev->ip_version, ev->dst_ip, dst);
    const char *proto = flow_protocol_name(ev->protocol, pbuf, sizeof pbuf);
    size_t proton = strlen(proto);

    /* "flow_id": src:sport-dst:dport-PROTO, IPv6 addresses in brackets
     * ([::1]:41994-[::1]:18080-TCP); nothing in it needs escaping */
    bool v6 = ev->ip_version == 6;
    jw_put(&w, "{\"flow_id\":\"", 12);
    if (v6)
        jw_ch(&w, '[');
    jw_put(&w, src, srcn);
    if (v6)
        jw_ch(&w, ']');
    jw_ch(&w, ':');
    jw_u64(&w, ev->src_port);
    jw_ch(&w, '-');
    if (v6)
        jw_ch(&w, '[');
    jw_put(&w, dst, dstn);
    if (v6)
        jw_ch(&w, ']');
    jw_ch(&w, ':');
    jw_u64(&w, ev->dst_port);
    jw_ch(&w, '-');
    jw_put(&w, proto, proton);
    jw_ch(&w, '"');
    struct time_memo memo = {.secs = {UINT64_MAX, UINT64_MAX}};
    JW_KEY(&w, "timestamp");
    jw_time(&w, ev->last_us, 3, &memo);
    JW_KEY(&w, "interface");
    jw_str(&w, event_interface(ev, ctx));
    JW_KEY(&w, "hostname");
    jw_str(&w, ctx ? ctx->hostname : NULL);
    JW_KEY(&w, "direction");
    jw_ch(&w, '"');
    jw_lit(&w, flow_direction_name(dir));
    jw_ch(&w, '"');
    JW_KEY(&w, "src_ip");
    jw_plain(&w, src, srcn);
    JW_KEY(&w, "dst_ip");
    jw_plain(&w, dst, dstn);
    JW_KEY(&w, "src_port");
    pq = u64_digits(ev->src_port, pt + sizeof pt);
    jw_plain(&w, pq, (size_t)(pt + sizeof pt - pq));
    JW_KEY(&w, "dst_port");
    pq = u64_digits(ev->dst_port, pt + sizeof pt);
    jw_plain(&w, pq, (size_t)(pt + sizeof pt - pq));
    JW_KEY(&w, "protocol");
    jw_plain(&w, proto, proton);

    uint64_t packets = ev->src_packets + ev->dst_packets;
    uint64_t bytes = ev->src_bytes + ev->dst_bytes;
    JW_KEY(&w, "flow_duration");
    jw_duration(&w, ev->first_us, ev->last_us);
    JW_KEY(&w, "packet_count");
    jw_u64(&w, packets);
    JW_KEY(&w, "byte_count");
    jw_u64(&w, bytes);
    JW_KEY(&w, "avg_packet_size");
    if (!packets) {
        jw_ch(&w, '0');
    } else if (bytes < (1ull << 53) && bytes % packets == 0) {
        jw_u64(&w, bytes / packets);                   /* whole: jw_num prints digits */
    } else {
        jw_double(&w, (double)bytes / (double)packets);
    }
    jw_lit(&w, ",\"type\":\"flow\",\"schema_version\":" SCHEMA_TEXT(EVENT_SCHEMA_VERSION));
    if (ctx && ctx->sensor_id) {
        JW_KEY(&w, "sensor_id");
        jw_str(&w, ctx->sensor_id);
    }
    JW_KEY(&w, "event_id");
    jw_str(&w, event_id);
    JW_KEY(&w, "start_time");
    jw_time(&w, ev->first_us, 6, &memo);
    JW_KEY(&w, "end_time");
    jw_time(&w, ev->last_us, 6, &memo);
    char counts[COUNTS_JSON_MAX];
    jw_pw(&w, counts, sizeof counts, pw_counts, ev);

    event_community_id(ev, ctx, cid);
    JW_KEY(&w, "community_id");
    jw_plain(&w, cid, strlen(cid));
    jw_tunnel(&w, ev);
    jw_l2l3(&w, ev, ctx);
    jw_xstats(&w, &ev->xs);
    jw_app(&w, ev);
    jw_meta(&w, ev);
    jw_ch(&w, '}');
    if (w.cap)
        buf[w.n < w.cap ? w.n : w.cap - 1] = '\0';
    return w.n;
}

size_t flow_event_json_print(const cJSON *item, char *buf, size_t buflen)
{
    struct jw w = {.b = buf, .cap = buf ? buflen : 0, .n = 0};
    if (jw_item(&w, item, 0) != 0) {
        if (w.cap)
            buf[0] = '\0';
        return SIZE_MAX;
    }
    if (w.cap)
        buf[w.n < w.cap ? w.n : w.cap - 1] = '\0';
    return w.n;
}
