/*
 * topology_nl.c — rtnetlink messages to topology structs and JSON
 * (see topology_nl.h).
 *
 * Why a file of its own: the topology hook's change logic should not care
 * whether an address arrived in a dump or a notification, and the byte-level
 * parsing of netlink attributes is the part that must be careful. Every
 * attribute goes through mnl_attr_validate/mnl_attr_validate2 (type and
 * length) before mnl_attr_get_*; addresses are copied only when their length
 * matches the family. The JSON field names here are the event schema of the
 * `topology` snapshot and of `topology_change` events (README "Topology").
 *
 * Choices: routes of the kernel's local table (255: one per local address and
 * broadcast address) and cached clones (RTM_F_CLONED) are left out, since the
 * addresses already say the same; bridge FDB entries (AF_BRIDGE neighbours) are
 * not neighbours of the host. `table` is a name for the well-known tables
 * ("main", "default", "local") and the decimal number otherwise, so the JSON
 * type is always a string.
 */
#include "topology_nl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include <cjson/cJSON.h>

/* ---- attribute helpers ---------------------------------------------------- */

struct attr_table {
    const struct nlattr *tb[64];
    int max;
};

static int collect_attr(const struct nlattr *attr, void *data)
{
    struct attr_table *t = data;
    int type = mnl_attr_get_type(attr);
    if (type >= 0 && type <= t->max && type < 64)
        t->tb[type] = attr;
    return MNL_CB_OK;
}

static bool attr_u32(const struct nlattr *a, uint32_t *v)
{
    if (!a || mnl_attr_validate(a, MNL_TYPE_U32) < 0)
        return false;
    *v = mnl_attr_get_u32(a);
    return true;
}

/* Copy an address attribute of exactly `want` bytes. */
static bool attr_addr(const struct nlattr *a, uint8_t *dst, size_t want)
{
    if (!a || mnl_attr_get_payload_len(a) != want)
        return false;
    memcpy(dst, mnl_attr_get_payload(a), want);
    return true;
}

static bool attr_str(const struct nlattr *a, char *dst, size_t cap)
{
    if (!a || mnl_attr_validate(a, MNL_TYPE_STRING) < 0)
        return false;
    snprintf(dst, cap, "%s", mnl_attr_get_str(a));
    return true;
}

static int family_of(uint8_t af) { return af == AF_INET ? 4 : af == AF_INET6 ? 6 : 0; }
static size_t addr_len(int fam) { return fam == 4 ? 4 : 16; }

/* ---- parsers -------------------------------------------------------------- */

static const char *kind_from_arphrd(uint16_t t, uint32_t flags)
{
    if (t == ARPHRD_LOOPBACK || (flags & IFF_LOOPBACK))
        return "loopback";
    switch (t) {
    case ARPHRD_ETHER:  return "ethernet";
    case ARPHRD_NONE:   return "none";
    case ARPHRD_PPP:    return "ppp";
    case ARPHRD_TUNNEL: return "ipip";
    case ARPHRD_TUNNEL6:return "ip6tnl";
    case ARPHRD_SIT:    return "sit";
    case ARPHRD_IPGRE:  return "gre";
    case ARPHRD_INFINIBAND: return "infiniband";
    case ARPHRD_IEEE80211: return "wireless";
    default:            return "other";
    }
}

int tnl_parse_link(const struct nlmsghdr *nlh, struct tnl_link *out)
{
    struct attr_table t = {.max = IFLA_MAX};
    memset(out, 0, sizeof *out);
    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ifinfomsg)))
        return -1;
    const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
    if (mnl_attr_parse(nlh, sizeof *ifi, collect_attr, &t) < 0)
        return -1;
    out->index = ifi->ifi_index;
    out->flags = ifi->ifi_flags;
    out->arphrd = ifi->ifi_type;
    if (!attr_str(t.tb[IFLA_IFNAME], out->name, sizeof out->name))
        snprintf(out->name, sizeof out->name, "if%d", ifi->ifi_index);
    uint32_t v;
    if (attr_u32(t.tb[IFLA_MTU], &v))
        out->mtu = v;
    if (attr_u32(t.tb[IFLA_MASTER], &v))
        out->master = (int)v;
    out->parent_other_ns = t.tb[IFLA_LINK_NETNSID] != NULL;
    /* In another namespace the parent's index may equal our own: keep it then. */
    if (attr_u32(t.tb[IFLA_LINK], &v) && v != 0 && (out->parent_other_ns || (int)v != ifi->ifi_index))
        out->parent = (int)v;
    if (t.tb[IFLA_OPERSTATE] && mnl_attr_validate(t.tb[IFLA_OPERSTATE], MNL_TYPE_U8) >= 0)
        out->operstate = mnl_attr_get_u8(t.tb[IFLA_OPERSTATE]);
    if (t.tb[IFLA_ADDRESS]) {
        size_t n = mnl_attr_get_payload_len(t.tb[IFLA_ADDRESS]);
        if (n > 0 && n <= sizeof out->mac) {
            memcpy(out->mac, mnl_attr_get_payload(t.tb[IFLA_ADDRESS]), n);
            out->mac_len = (uint8_t)n;
        }
    }
    if (t.tb[IFLA_STATS64] && mnl_attr_get_payload_len(t.tb[IFLA_STATS64]) >= sizeof(struct rtnl_link_stats64)) {
        struct rtnl_link_stats64 st;
        memcpy(&st, mnl_attr_get_payload(t.tb[IFLA_STATS64]), sizeof st);
        out->has_stats = true;
        out->rx_bytes = st.rx_bytes;
        out->rx_packets = st.rx_packets;
        out->rx_errors = st.rx_errors;
        out->rx_dropped = st.rx_dropped;
        out->tx_bytes = st.tx_bytes;
        out->tx_packets = st.tx_packets;
        out->tx_errors = st.tx_errors;
        out->tx_dropped = st.tx_dropped;
    }
    out->kind[0] = '\0';
    if (t.tb[IFLA_LINKINFO] && mnl_attr_validate(t.tb[IFLA_LINKINFO], MNL_TYPE_NESTED) >= 0) {
        struct attr_table li = {.max = IFLA_INFO_MAX};
        if (mnl_attr_parse_nested(t.tb[IFLA_LINKINFO], collect_attr, &li) >= 0)
            (void)attr_str(li.tb[IFLA_INFO_KIND], out->kind, sizeof out->kind);
    }
    if (!out->kind[0])
        snprintf(out->kind, sizeof out->kind, "%s", kind_from_arphrd(out->arphrd, out->flags));
    return 1;
}

int tnl_parse_addr(const struct nlmsghdr *nlh, struct tnl_addr *out)
{
    struct attr_table t = {.max = IFA_MAX};
    memset(out, 0, sizeof *out);
    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ifaddrmsg)))
        return -1;
    const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
    int fam = family_of(ifa->ifa_family);
    if (!fam)
        return 0;
    if (mnl_attr_parse(nlh, sizeof *ifa, collect_attr, &t) < 0)
        return -1;
    out->family = (uint8_t)fam;
    out->ifindex = (int)ifa->ifa_index;
    out->prefix_len = ifa->ifa_prefixlen;
    out->scope = ifa->ifa_scope;
    /* IFA_LOCAL is the interface's own address (IFA_ADDRESS is the peer on point-to-point). */
    if (!attr_addr(t.tb[IFA_LOCAL], out->addr, addr_len(fam)) &&
        !attr_addr(t.tb[IFA_ADDRESS], out->addr, addr_len(fam)))
        return -1;
    return 1;
}

int tnl_parse_route(const struct nlmsghdr *nlh, struct tnl_route *out)
{
    struct attr_table t = {.max = RTA_MAX};
    memset(out, 0, sizeof *out);
    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct rtmsg)))
        return -1;
    const struct rtmsg *rt = mnl_nlmsg_get_payload(nlh);
    int fam = family_of(rt->rtm_family);
    if (!fam)
        return 0;
    if (mnl_attr_parse(nlh, sizeof *rt, collect_attr, &t) < 0)
        return -1;
    uint32_t table = rt->rtm_table, v;
    if (attr_u32(t.tb[RTA_TABLE], &v))
        table = v;
    if (table == RT_TABLE_LOCAL || (rt->rtm_flags & RTM_F_CLONED))
        return 0;
    out->family = (uint8_t)fam;
    out->table = table;
    out->dst_len = rt->rtm_dst_len;
    out->protocol = rt->rtm_protocol;
    out->scope = rt->rtm_scope;
    out->type = rt->rtm_type;
    if (t.tb[RTA_DST] && !attr_addr(t.tb[RTA_DST], out->dst, addr_len(fam)))
        return -1;
    out->has_gw = attr_addr(t.tb[RTA_GATEWAY], out->gw, addr_len(fam));
    if (attr_u32(t.tb[RTA_OIF], &v))
        out->oif = (int)v;
    if (attr_u32(t.tb[RTA_PRIORITY], &v))
        out->metric = v;
    return 1;
}

int tnl_parse_neigh(const struct nlmsghdr *nlh, struct tnl_neigh *out)
{
    struct attr_table t = {.max = NDA_MAX};
    memset(out, 0, sizeof *out);
    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(struct ndmsg)))
        return -1;
    const struct ndmsg *nd = mnl_nlmsg_get_payload(nlh);
    int fam = family_of(nd->ndm_family);
    if (!fam)
        return 0;                                /* AF_BRIDGE FDB entries and the like */
    if (mnl_attr_parse(nlh, sizeof *nd, collect_attr, &t) < 0)
        return -1;
    out->family = (uint8_t)fam;
    out->ifindex = nd->ndm_ifindex;
    out->state = nd->ndm_state;
    if (!attr_addr(t.tb[NDA_DST], out->ip, addr_len(fam)))
        return 0;                                /* proxy/odd entries without a destination */
    if (t.tb[NDA_LLADDR]) {
        size_t n = mnl_attr_get_payload_len(t.tb[NDA_LLADDR]);
        if (n > 0 && n <= sizeof out->mac) {
            memcpy(out->mac, mnl_attr_get_payload(t.tb[NDA_LLADDR]), n);
            out->mac_len = (uint8_t)n;
        }
    }
    return 1;
}

bool tnl_addr_same(const struct tnl_addr *a, const struct tnl_addr *b)
{
    return a->ifindex == b->ifindex && a->family == b->family && a->prefix_len == b->prefix_len &&
           memcmp(a->addr, b->addr, 16) == 0;
}

bool tnl_route_same(const struct tnl_route *a, const struct tnl_route *b)
{
    return a->family == b->family && a->table == b->table && a->dst_len == b->dst_len &&
           a->metric == b->metric && a->type == b->type && a->oif == b->oif && a->has_gw == b->has_gw &&
           memcmp(a->dst, b->dst, 16) == 0 && memcmp(a->gw, b->gw, 16) == 0;
}

bool tnl_neigh_same(const struct tnl_neigh *a, const struct tnl_neigh *b)
{
    return a->ifindex == b->ifindex && a->family == b->family && memcmp(a->ip, b->ip, 16) == 0;
}

bool tnl_link_is_up(const struct tnl_link *l)
{
    return (l->flags & IFF_UP) && (l->flags & IFF_RUNNING);
}

bool tnl_neigh_present(const struct tnl_neigh *n)
{
    const uint16_t ok = NUD_REACHABLE | NUD_STALE | NUD_DELAY | NUD_PROBE | NUD_PERMANENT;
    return n->mac_len > 0 && (n->state & ok) != 0;
}

/* ---- dump ----------------------------------------------------------------- */

struct dump_ctx {
    tnl_msg_fn cb;
    void *arg;
};

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
    struct dump_ctx *d = data;
    d->cb(nlh, d->arg);
    return MNL_CB_OK;
}

int tnl_dump(struct mnl_socket *nl, uint16_t type, uint8_t family, uint32_t seq,
             void *buf, size_t bufsize, tnl_msg_fn cb, void *arg, char *err, size_t errlen)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = seq;
    switch (type) {
    case RTM_GETLINK: {
        struct ifinfomsg *m = mnl_nlmsg_put_extra_header(nlh, sizeof *m);
        m->ifi_family = family;
        break;
    }
    case RTM_GETADDR: {
        struct ifaddrmsg *m = mnl_nlmsg_put_extra_header(nlh, sizeof *m);
        m->ifa_family = family;
        break;
    }
    case RTM_GETROUTE: {
        struct rtmsg *m = mnl_nlmsg_put_extra_header(nlh, sizeof *m);
        m->rtm_family = family;
        break;
    }
    default: {
        struct ndmsg *m = mnl_nlmsg_put_extra_header(nlh, sizeof *m);
        m->ndm_family = family;
        break;
    }
    }
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
        snprintf(err, errlen, "netlink dump request (type %u): %s", type, strerror(errno));
        return -1;
    }
    unsigned portid = mnl_socket_get_portid(nl);
    struct dump_ctx d = {cb, arg};
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl, buf, bufsize);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, errlen, "netlink dump read (type %u): %s", type, strerror(errno));
            return -1;
        }
        int rc = mnl_cb_run(buf, (size_t)n, seq, portid, dump_cb, &d);
        if (rc == MNL_CB_STOP)
            return 0;
        if (rc < 0) {
            if (errno == EINTR)
                continue;
            snprintf(err, errlen, "netlink dump (type %u): %s", type, strerror(errno));
            return -1;
        }
    }
}

/* ---- names ---------------------------------------------------------------- */

const char *tnl_scope_name(uint8_t scope, char *buf, size_t len)
{
    switch (scope) {
    case RT_SCOPE_UNIVERSE: return "global";
    case RT_SCOPE_SITE:     return "site";
    case RT_SCOPE_LINK:     return "link";
    case RT_SCOPE_HOST:     return "host";
    case RT_SCOPE_NOWHERE:  return "nowhere";
    default:
        snprintf(buf, len, "%u", scope);
        return buf;
    }
}

const char *tnl_operstate_name(uint8_t operstate)
{
    static const char *const names[] = {"unknown", "notpresent", "down", "lowerlayerdown",
                                        "testing", "dormant", "up"};
    return operstate < sizeof names / sizeof names[0] ? names[operstate] : "unknown";
}

static const char *proto_name(uint8_t p, char *buf, size_t len)
{
    switch (p) {
    case RTPROT_UNSPEC:   return "unspec";
    case RTPROT_REDIRECT: return "redirect";
    case RTPROT_KERNEL:   return "kernel";
    case RTPROT_BOOT:     return "boot";
    case RTPROT_STATIC:   return "static";
    case RTPROT_RA:       return "ra";
    case RTPROT_DHCP:     return "dhcp";
    case RTPROT_ZEBRA:    return "zebra";
    case RTPROT_BIRD:     return "bird";
    case RTPROT_BGP:      return "bgp";
    case RTPROT_OSPF:     return "ospf";
    default:
        snprintf(buf, len, "%u", p);
        return buf;
    }
}

static const char *route_type_name(uint8_t t, char *buf, size_t len)
{
    switch (t) {
    case RTN_UNICAST:     return "unicast";
    case RTN_LOCAL:       return "local";
    case RTN_BROADCAST:   return "broadcast";
    case RTN_ANYCAST:     return "anycast";
    case RTN_MULTICAST:   return "multicast";
    case RTN_BLACKHOLE:   return "blackhole";
    case RTN_UNREACHABLE: return "unreachable";
    case RTN_PROHIBIT:    return "prohibit";
    case RTN_THROW:       return "throw";
    default:
        snprintf(buf, len, "%u", t);
        return buf;
    }
}

static const char *table_name(uint32_t t, char *buf, size_t len)
{
    switch (t) {
    case RT_TABLE_MAIN:    return "main";
    case RT_TABLE_DEFAULT: return "default";
    case RT_TABLE_LOCAL:   return "local";
    default:
        snprintf(buf, len, "%u", t);
        return buf;
    }
}

/* NUD_* bits: the usual single state by name, combinations joined with '|'. */
static const char *nud_name(uint16_t s, char *buf, size_t len)
{
    static const struct { uint16_t bit; const char *name; } names[] = {
        {NUD_INCOMPLETE, "incomplete"}, {NUD_REACHABLE, "reachable"}, {NUD_STALE, "stale"},
        {NUD_DELAY, "delay"}, {NUD_PROBE, "probe"}, {NUD_FAILED, "failed"},
        {NUD_NOARP, "noarp"}, {NUD_PERMANENT, "permanent"}};
    size_t o = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (!(s & names[i].bit))
            continue;
        int w = snprintf(buf + o, len - o, "%s%s", o ? "|" : "", names[i].name);
        if (w < 0 || (size_t)w >= len - o)
            break;
        o += (size_t)w;
    }
    return o ? buf : "none";
}

/* ---- JSON ----------------------------------------------------------------- */

static bool add_ip(cJSON *o, const char *key, int fam, const uint8_t *a)
{
    char buf[INET6_ADDRSTRLEN];
    if (!inet_ntop(fam == 4 ? AF_INET : AF_INET6, a, buf, sizeof buf))
        return cJSON_AddNullToObject(o, key) != NULL;
    return cJSON_AddStringToObject(o, key, buf) != NULL;
}

static bool add_hw(cJSON *o, const char *key, const uint8_t *m, size_t n)
{
    char buf[TNL_HWADDR_MAX * 3 + 1];
    if (n == 0)
        return cJSON_AddNullToObject(o, key) != NULL;
    for (size_t i = 0; i < n; i++)
        snprintf(buf + i * 3, 4, i + 1 < n ? "%02x:" : "%02x", m[i]);
    return cJSON_AddStringToObject(o, key, buf) != NULL;
}

static bool add_ifname(cJSON *o, const char *key, int index, tnl_ifname_fn ifname, void *ctx)
{
    const char *n = (index > 0 && ifname) ? ifname(ctx, index) : NULL;
    if (!n)
        return cJSON_AddNullToObject(o, key) != NULL;
    return cJSON_AddStringToObject(o, key, n) != NULL;
}

static cJSON *finish(cJSON *o, bool ok)
{
    if (ok)
        return o;
    cJSON_Delete(o);
    return NULL;
}

cJSON *tnl_link_json(const struct tnl_link *l, tnl_ifname_fn ifname, void *ctx)
{
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = cJSON_AddStringToObject(o, "name", l->name) &&
              cJSON_AddNumberToObject(o, "index", l->index) &&
              cJSON_AddStringToObject(o, "kind", l->kind) &&
              add_hw(o, "mac", l->mac, l->mac_len) &&
              cJSON_AddNumberToObject(o, "mtu", l->mtu) &&
              cJSON_AddStringToObject(o, "admin_state", (l->flags & IFF_UP) ? "up" : "down") &&
              cJSON_AddStringToObject(o, "oper_state", tnl_operstate_name(l->operstate)) &&
              cJSON_AddBoolToObject(o, "running", (l->flags & IFF_RUNNING) != 0) &&
              add_ifname(o, "master", l->master, ifname, ctx) &&
              add_ifname(o, "parent", l->parent_other_ns ? 0 : l->parent, ifname, ctx);
    if (ok && l->parent && l->parent_other_ns)
        ok = cJSON_AddNumberToObject(o, "parent_index_other_netns", l->parent) != NULL;
    const struct { const char *k; uint64_t v; } st[] = {
        {"rx_bytes", l->rx_bytes}, {"rx_packets", l->rx_packets}, {"rx_errors", l->rx_errors},
        {"rx_dropped", l->rx_dropped}, {"tx_bytes", l->tx_bytes}, {"tx_packets", l->tx_packets},
        {"tx_errors", l->tx_errors}, {"tx_dropped", l->tx_dropped}};
    for (size_t i = 0; ok && i < sizeof st / sizeof st[0]; i++)
        ok = l->has_stats ? cJSON_AddNumberToObject(o, st[i].k, (double)st[i].v) != NULL
                          : cJSON_AddNullToObject(o, st[i].k) != NULL;
    return finish(o, ok);
}

cJSON *tnl_addr_json(const struct tnl_addr *a, tnl_ifname_fn ifname, void *ctx)
{
    char sb[8];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = add_ifname(o, "interface", a->ifindex, ifname, ctx) &&
              cJSON_AddNumberToObject(o, "ifindex", a->ifindex) &&
              cJSON_AddStringToObject(o, "family", a->family == 4 ? "ipv4" : "ipv6") &&
              add_ip(o, "address", a->family, a->addr) &&
              cJSON_AddNumberToObject(o, "prefix_len", a->prefix_len) &&
              cJSON_AddStringToObject(o, "scope", tnl_scope_name(a->scope, sb, sizeof sb));
    return finish(o, ok);
}

cJSON *tnl_route_json(const struct tnl_route *r, tnl_ifname_fn ifname, void *ctx)
{
    char sb[8], pb[8], tb[16], yb[8], dst[INET6_ADDRSTRLEN + 8], ip[INET6_ADDRSTRLEN];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    if (r->dst_len == 0) {
        snprintf(dst, sizeof dst, "default");
    } else {
        if (!inet_ntop(r->family == 4 ? AF_INET : AF_INET6, r->dst, ip, sizeof ip))
            snprintf(ip, sizeof ip, "?");
        snprintf(dst, sizeof dst, "%s/%u", ip, r->dst_len);
    }
    bool ok = cJSON_AddStringToObject(o, "family", r->family == 4 ? "ipv4" : "ipv6") &&
              cJSON_AddStringToObject(o, "table", table_name(r->table, tb, sizeof tb)) &&
              cJSON_AddStringToObject(o, "destination", dst) &&
              (r->has_gw ? add_ip(o, "gateway", r->family, r->gw) : cJSON_AddNullToObject(o, "gateway") != NULL) &&
              add_ifname(o, "interface", r->oif, ifname, ctx) &&
              cJSON_AddNumberToObject(o, "metric", r->metric) &&
              cJSON_AddStringToObject(o, "protocol", proto_name(r->protocol, pb, sizeof pb)) &&
              cJSON_AddStringToObject(o, "scope", tnl_scope_name(r->scope, sb, sizeof sb)) &&
              cJSON_AddStringToObject(o, "route_type", route_type_name(r->type, yb, sizeof yb));
    return finish(o, ok);
}

cJSON *tnl_neigh_json(const struct tnl_neigh *n, tnl_ifname_fn ifname, void *ctx)
{
    char sb[96];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = add_ip(o, "ip", n->family, n->ip) &&
              cJSON_AddStringToObject(o, "family", n->family == 4 ? "ipv4" : "ipv6") &&
              add_hw(o, "mac", n->mac, n->mac_len) &&
              add_ifname(o, "interface", n->ifindex, ifname, ctx) &&
              cJSON_AddStringToObject(o, "state", nud_name(n->state, sb, sizeof sb));
    return finish(o, ok);
}
