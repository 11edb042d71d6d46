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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>

#include "../common/timefmt.h"
#include "community_id.h"

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
    snprintf(flow_id, sizeof flow_id, "%s:%u-%s:%u-%s", src, (unsigned)ev->src_port, dst,
             (unsigned)ev->dst_port, proto);
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

    /* ICMP flows hash their initiator's type/code as the port equivalents. */
    uint16_t cport_a = ev->src_port, cport_b = ev->dst_port;
    if (ev->has_icmp && (ev->protocol == 1 || ev->protocol == 58)) {
        cport_a = ev->icmp_type;
        cport_b = ev->icmp_code;
    }
    if (community_id_v1(ctx ? ctx->community_seed : 0, ev->ip_version, ev->src_ip, ev->dst_ip,
                        ev->protocol, cport_a, cport_b, cid, sizeof cid) != 0)
        cid[0] = '\0';

    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    int rc = 0;
    rc |= add_str(o, "flow_id", flow_id);
    rc |= add_str(o, "timestamp", ts);
    rc |= add_str(o, "interface", ctx ? ctx->interface : NULL);
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
    rc |= add_u64(o, "schema_version", 1);
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
    rc |= add_str(o, "community_id", cid);
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

static void jw_put(struct jw *w, const char *s, size_t len)
{
    if (w->n < w->cap) {
        size_t room = w->cap - w->n;
        memcpy(w->b + w->n, s, len < room ? len : room);
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
