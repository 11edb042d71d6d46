/*
 * l2_neighbors.c — LLDP and CDP decoders, their JSON, the report table
 * (see l2_neighbors.h).
 *
 * This file exists so that the one piece of the topology hook that parses
 * bytes from the wire sits apart from the netlink code, small enough to be
 * tested frame by frame and truncated at every offset. Every read goes through
 * `struct cur` (remaining-length checks before each access, no pointer formed
 * past the end, packet lengths checked before use), as in capture/decode.c.
 * A TLV whose declared length runs past the captured bytes ends the walk and
 * marks the PDU truncated; the TLVs before it are kept, which is what "decoded
 * as far as the snap length reaches" means. A TLV that is complete but too
 * short for its type is skipped (tcpdump prints it as invalid and goes on).
 */
#include "l2_neighbors.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../common/timefmt.h"

#define L2N_DEFAULT_TTL_S 120u   /* LLDP's usual TTL; used when a cut frame lost its TTL */

/* ---- bounds-checked cursor ------------------------------------------------ */

struct cur {
    const uint8_t *p;
    size_t left;
};

static bool cur_skip(struct cur *c, size_t n)
{
    if (c->left < n)
        return false;
    if (n) {
        c->p += n;
        c->left -= n;
    }
    return true;
}

static bool cur_u8(struct cur *c, uint8_t *v)
{
    if (c->left < 1)
        return false;
    *v = c->p[0];
    return cur_skip(c, 1);
}

static bool cur_be16(struct cur *c, uint16_t *v)
{
    if (c->left < 2)
        return false;
    *v = (uint16_t)((unsigned)c->p[0] << 8 | (unsigned)c->p[1]);
    return cur_skip(c, 2);
}

static bool cur_be32(struct cur *c, uint32_t *v)
{
    if (c->left < 4)
        return false;
    *v = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 | (uint32_t)c->p[2] << 8 | (uint32_t)c->p[3];
    return cur_skip(c, 4);
}

/* Take n bytes as a view (n <= 65535 always holds for a TLV). */
static bool cur_view(struct cur *c, size_t n, struct l2n_bytes *b)
{
    if (c->left < n || n > 0xffffu)
        return false;
    b->p = c->p;
    b->len = (uint16_t)n;
    return cur_skip(c, n);
}

/* Split the next n bytes off as their own cursor. */
static bool cur_sub(struct cur *c, size_t n, struct cur *sub)
{
    if (c->left < n)
        return false;
    sub->p = c->p;
    sub->left = n;
    return cur_skip(c, n);
}

/* ---- LLDP ----------------------------------------------------------------- */

/* IANA address family numbers used by LLDP network-address fields. */
#define IANA_AF_IPV4 1u
#define IANA_AF_IPV6 2u
#define IANA_AF_802  6u

/* An IANA-family-tagged address (family byte, then the address) into *a. */
static void take_iana_addr(struct cur *v, struct l2n_addr *a)
{
    uint8_t af = 0;
    memset(a, 0, sizeof *a);
    (void)cur_u8(v, &af);
    size_t n = v->left < sizeof a->addr ? v->left : sizeof a->addr;
    if (af == IANA_AF_IPV4 && v->left == 4)
        a->family = 4;
    else if (af == IANA_AF_IPV6 && v->left == 16)
        a->family = 6;
    else if (af == IANA_AF_802 && v->left == 6)
        a->family = 0;
    else
        a->family = 255;
    a->len = (uint8_t)n;
    memcpy(a->addr, v->p, n);
}

/*
 * One LLDP TLV value (IEEE 802.1AB-2016 §8.5). Types: 1 Chassis ID (subtype +
 * 1..255 bytes), 2 Port ID (same), 3 Time To Live (2 bytes), 4 Port
 * Description, 5 System Name, 6 System Description, 7 System Capabilities
 * (2 + 2 bytes), 8 Management Address (§8.5.9: length byte m = 1 + address
 * length, address subtype, address, interface numbering...), 127
 * organizationally specific (IEEE 802.1 OUI 00-80-C2 subtype 1 = Port VLAN ID).
 */
static void lldp_tlv(unsigned type, struct cur *v, struct l2n_neighbor *out)
{
    static const uint8_t oui_8021[3] = {0x00, 0x80, 0xc2};
    uint8_t sub, m;
    uint16_t a, b;

    switch (type) {
    case 1:
    case 2:
        if (v->left < 2 || !cur_u8(v, &sub))
            return;
        if (type == 1) {
            out->chassis_subtype = sub;
            (void)cur_view(v, v->left, &out->chassis_id);
        } else {
            out->port_subtype = sub;
            (void)cur_view(v, v->left, &out->port_id);
        }
        return;
    case 3:
        if (cur_be16(v, &a)) {
            out->has_ttl = true;
            out->ttl = a;
        }
        return;
    case 4:
        (void)cur_view(v, v->left, &out->port_description);
        return;
    case 5:
        (void)cur_view(v, v->left, &out->system_name);
        return;
    case 6:
        (void)cur_view(v, v->left, &out->system_description);
        return;
    case 7:
        if (cur_be16(v, &a) && cur_be16(v, &b)) {
            out->has_caps = true;
            out->cap_system = a;
            out->cap_enabled = b;
        }
        return;
    case 8: {
        struct cur addr;
        if (!cur_u8(v, &m) || m < 2 || m > 32 || !cur_sub(v, m, &addr))
            return;
        if (out->n_mgmt < L2N_MAX_ADDRS)
            take_iana_addr(&addr, &out->mgmt[out->n_mgmt++]);
        return;
    }
    case 127:
        if (v->left >= 6 && memcmp(v->p, oui_8021, 3) == 0 && v->p[3] == 1) {
            (void)cur_skip(v, 4);
            if (cur_be16(v, &a)) {
                out->has_native_vlan = true;
                out->native_vlan = a;
            }
        }
        return;
    default:
        return;
    }
}

/* IEEE 802.1AB-2016 §8.2: a sequence of TLVs, 7-bit type + 9-bit length, ended by type 0. */
enum l2n_status l2n_decode_lldp(const uint8_t *p, size_t len, struct l2n_neighbor *out)
{
    struct cur c = {p, p ? len : 0};

    memset(out, 0, sizeof *out);
    out->kind = DECODE_L2_LLDP;
    while (c.left > 0) {
        uint16_t hdr;
        struct cur v;
        if (!cur_be16(&c, &hdr)) {
            out->truncated = true;
            break;
        }
        unsigned type = hdr >> 9, tlen = hdr & 0x1ffu;
        if (type == 0)
            break;                            /* End of LLDPDU; what follows is padding */
        if (!cur_sub(&c, tlen, &v)) {
            out->truncated = true;            /* the TLV runs past the capture */
            break;
        }
        lldp_tlv(type, &v, out);
    }
    return (out->chassis_id.p && out->port_id.p) ? L2N_OK : L2N_EMPTY;
}

/* ---- CDP ------------------------------------------------------------------ */

/*
 * CDP address list (Cisco CDP specification; tcpdump print-cdp.c): count(4),
 * then per address protocol type(1), protocol length(1), protocol(n),
 * address length(2), address. NLPID 0xcc = IPv4; 802.2 AA AA 03 00 00 00 86 DD
 * = IPv6. Others are kept as raw bytes (family 255).
 */
static void cdp_addresses(struct cur *v, struct l2n_addr *list, size_t *n)
{
    static const uint8_t snap_v6[8] = {0xaa, 0xaa, 0x03, 0x00, 0x00, 0x00, 0x86, 0xdd};
    uint32_t count;

    if (!cur_be32(v, &count))
        return;
    for (uint32_t i = 0; i < count && *n < L2N_MAX_ADDRS; i++) {
        uint8_t pt, pl;
        uint16_t al;
        struct l2n_bytes proto, addr;
        if (!cur_u8(v, &pt) || !cur_u8(v, &pl) || !cur_view(v, pl, &proto) ||
            !cur_be16(v, &al) || !cur_view(v, al, &addr))
            return;
        struct l2n_addr *a = &list[*n];
        memset(a, 0, sizeof *a);
        if (pt == 1 && pl == 1 && proto.p[0] == 0xcc && al == 4)
            a->family = 4;
        else if (pt == 2 && pl == 8 && memcmp(proto.p, snap_v6, 8) == 0 && al == 16)
            a->family = 6;
        else
            a->family = 255;
        a->len = (uint8_t)(al < sizeof a->addr ? al : sizeof a->addr);
        if (a->len)
            memcpy(a->addr, addr.p, a->len);
        (*n)++;
    }
}

/*
 * CDP (Cisco Discovery Protocol v1/v2): version(1), TTL(1), checksum(2), then
 * TLVs of type(2), length(2, header included, so >= 4), value. Types used:
 * 0x01 Device-ID, 0x02 Addresses, 0x03 Port-ID, 0x04 Capabilities(4),
 * 0x05 Software Version, 0x06 Platform, 0x0a Native VLAN(2), 0x16 Management
 * Addresses.
 */
enum l2n_status l2n_decode_cdp(const uint8_t *p, size_t len, struct l2n_neighbor *out)
{
    struct cur c = {p, p ? len : 0};
    uint8_t version, ttl;
    uint16_t cks;

    memset(out, 0, sizeof *out);
    out->kind = DECODE_L2_CDP;
    if (!cur_u8(&c, &version) || !cur_u8(&c, &ttl) || !cur_be16(&c, &cks)) {
        out->truncated = true;
        return L2N_EMPTY;
    }
    if (version < 1 || version > 2)
        return L2N_BAD;
    out->cdp_version = version;
    out->has_ttl = true;
    out->ttl = ttl;
    while (c.left > 0) {
        uint16_t type, tlen;
        struct cur v;
        uint16_t vlan;
        uint32_t caps;
        if (!cur_be16(&c, &type) || !cur_be16(&c, &tlen)) {
            out->truncated = true;
            break;
        }
        if (tlen < 4)
            break;                             /* impossible length: stop (tcpdump: invalid) */
        if (!cur_sub(&c, (size_t)tlen - 4u, &v)) {
            out->truncated = true;
            break;
        }
        switch (type) {
        case 0x01:
            (void)cur_view(&v, v.left, &out->chassis_id);
            out->system_name = out->chassis_id;
            break;
        case 0x02:
            cdp_addresses(&v, out->addrs, &out->n_addrs);
            break;
        case 0x03:
            (void)cur_view(&v, v.left, &out->port_id);
            break;
        case 0x04:
            if (cur_be32(&v, &caps)) {
                out->has_caps = true;
                out->cap_system = out->cap_enabled = caps;
            }
            break;
        case 0x05:
            (void)cur_view(&v, v.left, &out->system_description);
            break;
        case 0x06:
            (void)cur_view(&v, v.left, &out->platform);
            break;
        case 0x0a:
            if (cur_be16(&v, &vlan)) {
                out->has_native_vlan = true;
                out->native_vlan = vlan;
            }
            break;
        case 0x16:
            cdp_addresses(&v, out->mgmt, &out->n_mgmt);
            break;
        default:
            break;
        }
    }
    /* A Device-ID is enough to name a CDP neighbour; Port-ID may be cut off. */
    return out->chassis_id.p ? L2N_OK : L2N_EMPTY;
}

enum l2n_status l2n_decode_frame(uint8_t kind, const struct decode_l2_info *info,
                                 const uint8_t *frame, size_t caplen, bool frame_truncated,
                                 struct l2n_neighbor *out)
{
    struct cur c = {frame, frame ? caplen : 0};
    enum l2n_status st;

    memset(out, 0, sizeof *out);
    if (!info || !cur_skip(&c, info->offset)) {
        out->kind = kind;
        out->truncated = true;
        return L2N_EMPTY;
    }
    if (kind == DECODE_L2_LLDP)
        st = l2n_decode_lldp(c.p, c.left, out);
    else if (kind == DECODE_L2_CDP)
        st = l2n_decode_cdp(c.p, c.left, out);
    else
        return L2N_BAD;
    if (frame_truncated)
        out->truncated = true;
    return st;
}

/* ---- JSON ----------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if it is not one (RFC 3629 §4). */
static size_t utf8_seq(const uint8_t *s, size_t n)
{
    uint8_t c = s[0];
    size_t need;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        need = 2;
        cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 3;
        cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 4;
        cp = c & 0x07u;
    } else {
        return 0;
    }
    if (n < need)
        return 0;
    for (size_t i = 1; i < need; i++) {
        if ((s[i] & 0xc0u) != 0x80u)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (need == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return need;
}

/* The bytes as a valid UTF-8 C string: trailing NULs cut, NUL/invalid bytes -> U+FFFD. */
static char *text_dup(const uint8_t *p, size_t n)
{
    while (n && p[n - 1] == 0)
        n--;
    char *s = malloc(n * 3 + 1), *o = s;
    if (!s)
        return NULL;
    for (size_t i = 0; i < n;) {
        size_t k = p[i] ? utf8_seq(p + i, n - i) : 0;
        if (k == 0) {
            memcpy(o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        } else {
            memcpy(o, p + i, k);
            o += k;
            i += k;
        }
    }
    *o = '\0';
    return s;
}

static void fmt_mac(const uint8_t *m, char *buf, size_t len)
{
    snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
}

/* Bytes as lower-case hex pairs joined by ':' (tcpdump's style for opaque ids). */
static char *hex_dup(const uint8_t *p, size_t n)
{
    char *s = malloc(n * 3 + 1);
    if (!s)
        return NULL;
    s[0] = '\0';
    for (size_t i = 0; i < n; i++)
        snprintf(s + i * 3, 4, i + 1 < n ? "%02x:" : "%02x", p[i]);
    return s;
}

static char *addr_dup(const struct l2n_addr *a)
{
    char buf[INET6_ADDRSTRLEN];
    if (a->family == 4 && inet_ntop(AF_INET, a->addr, buf, sizeof buf))
        return strdup(buf);
    if (a->family == 6 && inet_ntop(AF_INET6, a->addr, buf, sizeof buf))
        return strdup(buf);
    if (a->family == 0 && a->len == 6) {
        fmt_mac(a->addr, buf, sizeof buf);
        return strdup(buf);
    }
    return hex_dup(a->addr, a->len);
}

/* Add key: string owned by s (freed here), or null when s is NULL and `absent`. */
static bool add_owned(cJSON *o, const char *key, char *s)
{
    cJSON *v = s ? cJSON_CreateString(s) : cJSON_CreateNull();
    free(s);
    return v && cJSON_AddItemToObject(o, key, v);
}

static bool add_text(cJSON *o, const char *key, const struct l2n_bytes *b)
{
    if (!b->p)
        return cJSON_AddNullToObject(o, key) != NULL;
    char *s = text_dup(b->p, b->len);
    return s && add_owned(o, key, s);
}

/*
 * An LLDP chassis or port ID by subtype: MAC address (chassis 4, port 3) as
 * aa:bb:cc:dd:ee:ff, network address (chassis 5, port 4) as an IP address,
 * everything else (names, aliases, locally assigned) as text.
 */
static bool add_lldp_id(cJSON *o, const char *key, const struct l2n_bytes *b, bool is_mac, bool is_net)
{
    if (!b->p)
        return cJSON_AddNullToObject(o, key) != NULL;
    if (is_mac && b->len == 6) {
        char buf[24];
        fmt_mac(b->p, buf, sizeof buf);
        return cJSON_AddStringToObject(o, key, buf) != NULL;
    }
    if (is_net && b->len >= 2) {
        struct l2n_addr a;
        struct cur v = {b->p, b->len};
        take_iana_addr(&v, &a);
        char *s = addr_dup(&a);
        return s && add_owned(o, key, s);
    }
    return add_text(o, key, b);
}

static const char *const LLDP_CHASSIS_SUBTYPES[] = {
    NULL, "chassis_component", "interface_alias", "port_component", "mac_address",
    "network_address", "interface_name", "local"};
static const char *const LLDP_PORT_SUBTYPES[] = {
    NULL, "interface_alias", "port_component", "mac_address", "network_address",
    "interface_name", "agent_circuit_id", "local"};
/* IEEE 802.1AB-2016 Table 8-4. */
static const char *const LLDP_CAPS[] = {
    "other", "repeater", "bridge", "wlan_access_point", "router", "telephone",
    "docsis_cable_device", "station_only", "c_vlan", "s_vlan", "two_port_mac_relay"};
/* CDP capability bits (tcpdump print-cdp.c). */
static const char *const CDP_CAPS[] = {
    "router", "transparent_bridge", "source_route_bridge", "switch", "host", "igmp",
    "repeater", "voip_phone", "remotely_managed", "cvta", "two_port_mac_relay"};

static bool add_subtype(cJSON *o, const char *key, const char *const *names, size_t n, uint8_t v)
{
    if (v == 0)
        return cJSON_AddNullToObject(o, key) != NULL;
    if (v < n && names[v])
        return cJSON_AddStringToObject(o, key, names[v]) != NULL;
    char buf[8];
    snprintf(buf, sizeof buf, "%u", v);
    return cJSON_AddStringToObject(o, key, buf) != NULL;
}

static bool add_caps(cJSON *o, const char *key, bool has, uint32_t bits, const char *const *names, size_t n)
{
    if (!has)
        return cJSON_AddNullToObject(o, key) != NULL;
    cJSON *a = cJSON_AddArrayToObject(o, key);
    if (!a)
        return false;
    for (size_t i = 0; i < 32; i++) {
        if (!(bits & (1u << i)))
            continue;
        char buf[16];
        const char *name = i < n ? names[i] : buf;
        if (i >= n)
            snprintf(buf, sizeof buf, "bit%zu", i);
        cJSON *s = cJSON_CreateString(name);
        if (!s || !cJSON_AddItemToArray(a, s))
            return false;
    }
    return true;
}

static bool add_addrs(cJSON *o, const char *key, const struct l2n_addr *list, size_t n)
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    if (!a)
        return false;
    for (size_t i = 0; i < n; i++) {
        char *s = addr_dup(&list[i]);
        cJSON *v = s ? cJSON_CreateString(s) : NULL;
        free(s);
        if (!v || !cJSON_AddItemToArray(a, v))
            return false;
    }
    return true;
}

cJSON *l2n_to_json(const struct l2n_neighbor *n, const struct decode_l2_info *info,
                   const char *ifname, uint64_t ts_us)
{
    char ts[40], mac[24];
    bool lldp = n->kind == DECODE_L2_LLDP;
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = cJSON_AddStringToObject(o, "type", "topology_change") &&
              cJSON_AddStringToObject(o, "change", lldp ? "lldp_neighbor" : "cdp_neighbor") &&
              cJSON_AddStringToObject(o, "timestamp", timefmt_rfc3339(ts_us, 3, ts, sizeof ts)) &&
              cJSON_AddStringToObject(o, "interface", ifname ? ifname : "") &&
              cJSON_AddStringToObject(o, "protocol", lldp ? "lldp" : "cdp");
    if (ok && info && info->has_src_mac) {
        fmt_mac(info->src_mac, mac, sizeof mac);
        ok = cJSON_AddStringToObject(o, "src_mac", mac) != NULL;
    } else if (ok) {
        ok = cJSON_AddNullToObject(o, "src_mac") != NULL;
    }
    ok = ok && cJSON_AddNumberToObject(o, "vlan_id", info ? info->vlan_id : 0);
    if (lldp) {
        ok = ok && add_lldp_id(o, "chassis_id", &n->chassis_id, n->chassis_subtype == 4, n->chassis_subtype == 5) &&
             add_subtype(o, "chassis_id_subtype", LLDP_CHASSIS_SUBTYPES, 8, n->chassis_subtype) &&
             add_lldp_id(o, "port_id", &n->port_id, n->port_subtype == 3, n->port_subtype == 4) &&
             add_subtype(o, "port_id_subtype", LLDP_PORT_SUBTYPES, 8, n->port_subtype);
    } else {
        ok = ok && add_text(o, "chassis_id", &n->chassis_id) &&
             cJSON_AddNullToObject(o, "chassis_id_subtype") &&
             add_text(o, "port_id", &n->port_id) &&
             cJSON_AddNullToObject(o, "port_id_subtype");
    }
    ok = ok && add_text(o, "port_description", &n->port_description) &&
         add_text(o, "system_name", &n->system_name) &&
         add_text(o, "system_description", &n->system_description) &&
         add_text(o, "platform", &n->platform) &&
         add_addrs(o, "management_addresses", n->mgmt, n->n_mgmt);
    if (ok && !lldp)
        ok = add_addrs(o, "addresses", n->addrs, n->n_addrs);
    ok = ok && add_caps(o, "capabilities", n->has_caps, n->cap_system, lldp ? LLDP_CAPS : CDP_CAPS, 11) &&
         add_caps(o, "enabled_capabilities", n->has_caps, n->cap_enabled, lldp ? LLDP_CAPS : CDP_CAPS, 11);
    if (ok)
        ok = n->has_native_vlan ? cJSON_AddNumberToObject(o, "native_vlan", n->native_vlan) != NULL
                                : cJSON_AddNullToObject(o, "native_vlan") != NULL;
    if (ok)
        ok = n->has_ttl ? cJSON_AddNumberToObject(o, "ttl", n->ttl) != NULL
                        : cJSON_AddNullToObject(o, "ttl") != NULL;
    if (ok && !lldp)
        ok = cJSON_AddNumberToObject(o, "cdp_version", n->cdp_version) != NULL;
    ok = ok && cJSON_AddBoolToObject(o, "truncated", n->truncated);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ---- report table --------------------------------------------------------- */

struct l2n_entry {
    uint64_t key;          /* hash of kind, chassis id, port id */
    uint64_t fp;           /* hash of everything reported */
    uint64_t reported_us;  /* packet time of the last report */
    uint64_t expires_us;   /* reported_us + TTL */
};

struct l2n_table {
    struct l2n_entry *v;
    size_t n, max;
    /* Token bucket, in µs of packet time: a report costs L2N_REPORT_COST_US. */
    uint64_t credit_us, credit_at_us;
    bool credit_started;
};

#define L2N_REPORT_COST_US (1000000u / L2N_REPORT_PER_S)
#define L2N_CREDIT_MAX_US ((uint64_t)L2N_REPORT_BURST * L2N_REPORT_COST_US)

/* Take one report's worth of credit at ts_us; false when there is none. */
static bool take_token(l2n_table *t, uint64_t ts_us)
{
    if (!t->credit_started) {
        t->credit_started = true;
        t->credit_us = L2N_CREDIT_MAX_US;
        t->credit_at_us = ts_us;
    } else if (ts_us > t->credit_at_us) {      /* packet time may step back: no refill then */
        uint64_t gain = ts_us - t->credit_at_us;
        t->credit_us = gain >= L2N_CREDIT_MAX_US - t->credit_us ? L2N_CREDIT_MAX_US : t->credit_us + gain;
        t->credit_at_us = ts_us;
    }
    if (t->credit_us < L2N_REPORT_COST_US)
        return false;
    t->credit_us -= L2N_REPORT_COST_US;
    return true;
}

/* FNV-1a, 64 bit. */
static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t fnv_bytes(uint64_t h, const struct l2n_bytes *b)
{
    uint16_t len = b->p ? b->len : 0xffffu;   /* absent differs from empty */
    h = fnv(h, &len, sizeof len);
    return b->p ? fnv(h, b->p, b->len) : h;
}

static uint64_t key_of(const struct l2n_neighbor *n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv(h, &n->kind, 1);
    h = fnv(h, &n->chassis_subtype, 1);
    h = fnv_bytes(h, &n->chassis_id);
    h = fnv(h, &n->port_subtype, 1);
    return fnv_bytes(h, &n->port_id);
}

static uint64_t fingerprint_of(const struct l2n_neighbor *n)
{
    uint64_t h = key_of(n);
    h = fnv_bytes(h, &n->port_description);
    h = fnv_bytes(h, &n->system_name);
    h = fnv_bytes(h, &n->system_description);
    h = fnv_bytes(h, &n->platform);
    uint32_t nums[6] = {n->has_ttl ? n->ttl : 0xffffffffu, n->has_caps, n->cap_system, n->cap_enabled,
                        n->has_native_vlan ? n->native_vlan : 0xffffffffu, n->truncated};
    h = fnv(h, nums, sizeof nums);
    for (size_t i = 0; i < n->n_mgmt; i++)
        h = fnv(h, &n->mgmt[i], sizeof n->mgmt[i]);
    for (size_t i = 0; i < n->n_addrs; i++)
        h = fnv(h, &n->addrs[i], sizeof n->addrs[i]);
    return h;
}

l2n_table *l2n_table_create(size_t max_entries)
{
    l2n_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->max = max_entries ? max_entries : 1;
    t->v = calloc(t->max, sizeof *t->v);
    if (!t->v) {
        free(t);
        return NULL;
    }
    return t;
}

void l2n_table_destroy(l2n_table *t)
{
    if (!t)
        return;
    free(t->v);
    free(t);
}

size_t l2n_table_size(const l2n_table *t) { return t ? t->n : 0; }

enum l2n_verdict l2n_table_judge(l2n_table *t, const struct l2n_neighbor *n, uint64_t ts_us)
{
    uint64_t key = key_of(n), fp = fingerprint_of(n);
    struct l2n_entry *e = NULL;
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i].key == key) {
            e = &t->v[i];
            break;
        }
    if (n->has_ttl && n->ttl == 0) {          /* goodbye: report, forget */
        if (!take_token(t, ts_us))
            return L2N_RATE_LIMITED;
        if (e)
            *e = t->v[--t->n];
        return L2N_REPORT;
    }
    uint64_t ttl_us = (uint64_t)(n->has_ttl ? n->ttl : L2N_DEFAULT_TTL_S) * 1000000u;
    if (e && e->fp == fp && ts_us >= e->reported_us && ts_us < e->expires_us)
        return L2N_REPEAT;                     /* unchanged, TTL not yet passed */
    if (!take_token(t, ts_us))
        return L2N_RATE_LIMITED;
    if (!e) {
        if (t->n == t->max) {                  /* full: replace the entry closest to expiry */
            size_t victim = 0;
            for (size_t i = 1; i < t->n; i++)
                if (t->v[i].expires_us < t->v[victim].expires_us)
                    victim = i;
            e = &t->v[victim];
        } else {
            e = &t->v[t->n++];
        }
    }
    e->key = key;
    e->fp = fp;
    e->reported_us = ts_us;
    e->expires_us = ts_us + ttl_us;
    return L2N_REPORT;
}

bool l2n_table_should_report(l2n_table *t, const struct l2n_neighbor *n, uint64_t ts_us)
{
    return l2n_table_judge(t, n, ts_us) == L2N_REPORT;
}
