/*
 * topology_nl.h — the host's links, addresses, routes and neighbours over
 * rtnetlink (libmnl), as small fixed-size structs and their JSON.
 *
 * The topology hook reads the kernel's tables twice over: as dumps (one
 * request per table, for the periodic snapshot and to resynchronise) and as
 * notifications (RTM_NEWxxx and RTM_DELxxx multicast, for change events at once).
 * Both arrive as the same rtnetlink messages, so one parser per message type
 * serves both. Parsers validate every attribute's length with libmnl's
 * mnl_attr_validate before reading it and never keep pointers into the
 * message. Prefix: tnl_. Functions are pure except tnl_dump (one socket,
 * caller's thread).
 */
#ifndef TRACER_TOPOLOGY_NL_H
#define TRACER_TOPOLOGY_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct nlmsghdr;
struct mnl_socket;

#define TNL_NAME_MAX 16   /* IFNAMSIZ */
#define TNL_HWADDR_MAX 32 /* MAX_ADDR_LEN */

struct tnl_link {
    int index;
    char name[TNL_NAME_MAX];
    char kind[24];          /* IFLA_INFO_KIND, or derived from the ARPHRD type */
    uint16_t arphrd;
    uint8_t mac[TNL_HWADDR_MAX];
    uint8_t mac_len;        /* 0: no hardware address */
    uint32_t mtu;
    uint32_t flags;         /* IFF_* */
    uint8_t operstate;      /* IF_OPER_* (RFC 2863) */
    int master;             /* IFLA_MASTER, 0 = none */
    int parent;             /* IFLA_LINK (another ifindex, VLAN parent, veth peer), 0 = none */
    bool parent_other_ns;   /* IFLA_LINK_NETNSID present: parent lives in another namespace */
    bool has_stats;
    uint64_t rx_bytes, rx_packets, rx_errors, rx_dropped;
    uint64_t tx_bytes, tx_packets, tx_errors, tx_dropped;
};

struct tnl_addr {
    int ifindex;
    uint8_t family;         /* 4 or 6 */
    uint8_t prefix_len;
    uint8_t scope;          /* RT_SCOPE_* */
    uint8_t addr[16];
};

struct tnl_route {
    uint8_t family;         /* 4 or 6 */
    uint8_t dst_len;
    uint8_t protocol;       /* RTPROT_* */
    uint8_t scope;          /* RT_SCOPE_* */
    uint8_t type;           /* RTN_* */
    bool has_gw;
    uint32_t table;
    uint32_t metric;        /* RTA_PRIORITY */
    int oif;                /* 0: none (blackhole, multipath) */
    uint8_t dst[16];
    uint8_t gw[16];
};

struct tnl_neigh {
    int ifindex;
    uint8_t family;         /* 4 (ARP) or 6 (NDP) */
    uint16_t state;         /* NUD_* */
    uint8_t ip[16];
    uint8_t mac[TNL_HWADDR_MAX];
    uint8_t mac_len;
};

/*
 * Parse one message (RTM_NEWLINK/DELLINK, ...ADDR, ...ROUTE, ...NEIGH). Return 1
 * when *out was filled, 0 when the message is of that type but not one the
 * topology reports (a local-table or cached route, a bridge FDB entry, an
 * address family other than IPv4/IPv6), -1 when it is malformed.
 */
int tnl_parse_link(const struct nlmsghdr *nlh, struct tnl_link *out);
int tnl_parse_addr(const struct nlmsghdr *nlh, struct tnl_addr *out);
int tnl_parse_route(const struct nlmsghdr *nlh, struct tnl_route *out);
int tnl_parse_neigh(const struct nlmsghdr *nlh, struct tnl_neigh *out);

/* Identity of an entry (what a removal names): same object, maybe new attributes. */
bool tnl_addr_same(const struct tnl_addr *a, const struct tnl_addr *b);
bool tnl_route_same(const struct tnl_route *a, const struct tnl_route *b);
bool tnl_neigh_same(const struct tnl_neigh *a, const struct tnl_neigh *b);

/* Whether a link is up for link_up/link_down: administratively up and running (IFF_UP, IFF_RUNNING). */
bool tnl_link_is_up(const struct tnl_link *l);

/* Whether a neighbour entry is a resolved neighbour (has a MAC, not incomplete/failed/noarp). */
bool tnl_neigh_present(const struct tnl_neigh *n);

/*
 * Dump one table: `type` RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE or RTM_GETNEIGH,
 * `family` AF_UNSPEC/AF_INET/AF_INET6. Calls cb(nlh, arg) for each message
 * (buf is the caller's receive buffer, bufsize >= 32 KiB). Returns 0, or -1
 * with a message in err (the dump may have been cut short).
 */
typedef void (*tnl_msg_fn)(const struct nlmsghdr *nlh, void *arg);
int tnl_dump(struct mnl_socket *nl, uint16_t type, uint8_t family, uint32_t seq,
             void *buf, size_t bufsize, tnl_msg_fn cb, void *arg, char *err, size_t errlen);

/* Interface name for an index (the caller's link table); NULL when unknown. */
typedef const char *(*tnl_ifname_fn)(void *ctx, int ifindex);

/* JSON objects for one entry (new object, or NULL when out of memory). */
struct cJSON *tnl_link_json(const struct tnl_link *l, tnl_ifname_fn ifname, void *ctx);
struct cJSON *tnl_addr_json(const struct tnl_addr *a, tnl_ifname_fn ifname, void *ctx);
struct cJSON *tnl_route_json(const struct tnl_route *r, tnl_ifname_fn ifname, void *ctx);
struct cJSON *tnl_neigh_json(const struct tnl_neigh *n, tnl_ifname_fn ifname, void *ctx);

/* Names used in the JSON ("global", "static", "main", "reachable", ...); buf for numbers. */
const char *tnl_scope_name(uint8_t scope, char *buf, size_t len);
const char *tnl_operstate_name(uint8_t operstate);

#endif
