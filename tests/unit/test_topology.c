/*
 * test_topology.c — the topology hook's parts that need no namespace:
 * rtnetlink message parsing (messages built here with libmnl, and a real dump
 * of this host's links), the WireGuard UAPI answer parser (every prefix of an
 * answer, RFC 7748's X25519 vector for the public key), the peer diff with its
 * 3-minute stale rule on synthetic clocks, and the fail-soft paths (no UAPI
 * socket, no generic netlink family). The whole hook runs in tests/e2e.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <libmnl/libmnl.h>
#include <linux/if_arp.h>
#include <linux/if_link.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>

#include "hooks/topology/topology_nl.h"
#include "hooks/topology/topology_wg.h"

/* ---- rtnetlink parsing ---------------------------------------------------- */

static void test_parse_addr(void **state)
{
    (void)state;
    char buf[512];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWADDR;
    struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
    ifa->ifa_family = AF_INET;
    ifa->ifa_prefixlen = 24;
    ifa->ifa_scope = RT_SCOPE_UNIVERSE;
    ifa->ifa_index = 7;
    uint8_t local[4] = {198, 18, 0, 1}, peer[4] = {198, 18, 0, 2};
    mnl_attr_put(nlh, IFA_ADDRESS, 4, peer);
    mnl_attr_put(nlh, IFA_LOCAL, 4, local);
    struct tnl_addr a;
    assert_int_equal(tnl_parse_addr(nlh, &a), 1);
    assert_int_equal(a.family, 4);
    assert_int_equal(a.ifindex, 7);
    assert_int_equal(a.prefix_len, 24);
    assert_memory_equal(a.addr, local, 4);    /* IFA_LOCAL wins over the peer */
    cJSON *o = tnl_addr_json(&a, NULL, NULL);
    char *txt = cJSON_PrintUnformatted(o);
    assert_string_equal(txt, "{\"interface\":null,\"ifindex\":7,\"family\":\"ipv4\",\"address\":\"198.18.0.1\","
                             "\"prefix_len\":24,\"scope\":\"global\"}");
    free(txt);
    cJSON_Delete(o);

    /* A wrong-length address is malformed; a non-IP family is not reported. */
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWADDR;
    ifa = mnl_nlmsg_put_extra_header(nlh, sizeof *ifa);
    ifa->ifa_family = AF_INET6;
    mnl_attr_put(nlh, IFA_ADDRESS, 4, peer);
    assert_int_equal(tnl_parse_addr(nlh, &a), -1);
    ifa->ifa_family = AF_PACKET;
    assert_int_equal(tnl_parse_addr(nlh, &a), 0);
    nlh->nlmsg_len = sizeof *nlh;             /* shorter than its header */
    assert_int_equal(tnl_parse_addr(nlh, &a), -1);
}

static void test_parse_route(void **state)
{
    (void)state;
    char buf[512];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWROUTE;
    struct rtmsg *rt = mnl_nlmsg_put_extra_header(nlh, sizeof *rt);
    rt->rtm_family = AF_INET6;
    rt->rtm_dst_len = 0;
    rt->rtm_table = RT_TABLE_MAIN;
    rt->rtm_protocol = RTPROT_STATIC;
    rt->rtm_type = RTN_UNICAST;
    uint8_t gw[16];
    assert_int_equal(inet_pton(AF_INET6, "2001:db8::fe", gw), 1);
    mnl_attr_put(nlh, RTA_GATEWAY, 16, gw);
    mnl_attr_put_u32(nlh, RTA_OIF, 3);
    mnl_attr_put_u32(nlh, RTA_PRIORITY, 1024);
    mnl_attr_put_u32(nlh, RTA_TABLE, 254);
    struct tnl_route r;
    assert_int_equal(tnl_parse_route(nlh, &r), 1);
    cJSON *o = tnl_route_json(&r, NULL, NULL);
    char *txt = cJSON_PrintUnformatted(o);
    assert_string_equal(txt, "{\"family\":\"ipv6\",\"table\":\"main\",\"destination\":\"default\","
                             "\"gateway\":\"2001:db8::fe\",\"interface\":null,\"metric\":1024,"
                             "\"protocol\":\"static\",\"scope\":\"global\",\"route_type\":\"unicast\"}");
    free(txt);
    cJSON_Delete(o);
    struct tnl_route r2 = r;
    assert_true(tnl_route_same(&r, &r2));
    r2.metric = 5;
    assert_false(tnl_route_same(&r, &r2));
    /* The local table is left out (addresses say the same). */
    rt->rtm_table = RT_TABLE_LOCAL;
    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWROUTE;
    rt = mnl_nlmsg_put_extra_header(nlh, sizeof *rt);
    rt->rtm_family = AF_INET;
    rt->rtm_table = RT_TABLE_LOCAL;
    assert_int_equal(tnl_parse_route(nlh, &r), 0);
}

static void test_parse_neigh_and_link(void **state)
{
    (void)state;
    char buf[1024];
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWNEIGH;
    struct ndmsg *nd = mnl_nlmsg_put_extra_header(nlh, sizeof *nd);
    nd->ndm_family = AF_INET;
    nd->ndm_ifindex = 4;
    nd->ndm_state = NUD_PERMANENT;
    uint8_t ip[4] = {198, 18, 0, 9}, mac[6] = {2, 0, 0, 0, 0, 9};
    mnl_attr_put(nlh, NDA_DST, 4, ip);
    mnl_attr_put(nlh, NDA_LLADDR, 6, mac);
    struct tnl_neigh n;
    assert_int_equal(tnl_parse_neigh(nlh, &n), 1);
    assert_true(tnl_neigh_present(&n));
    cJSON *o = tnl_neigh_json(&n, NULL, NULL);
    char *txt = cJSON_PrintUnformatted(o);
    assert_string_equal(txt, "{\"ip\":\"198.18.0.9\",\"family\":\"ipv4\",\"mac\":\"02:00:00:00:00:09\","
                             "\"interface\":null,\"state\":\"permanent\"}");
    free(txt);
    cJSON_Delete(o);
    n.state = NUD_FAILED;
    assert_false(tnl_neigh_present(&n));
    nd->ndm_family = AF_BRIDGE;               /* FDB entry: not a neighbour of the host */
    assert_int_equal(tnl_parse_neigh(nlh, &n), 0);

    nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = RTM_NEWLINK;
    struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof *ifi);
    ifi->ifi_index = 9;
    ifi->ifi_type = ARPHRD_ETHER;
    ifi->ifi_flags = IFF_UP | IFF_RUNNING;
    mnl_attr_put_strz(nlh, IFLA_IFNAME, "br9");
    mnl_attr_put_u32(nlh, IFLA_MTU, 9000);
    mnl_attr_put_u8(nlh, IFLA_OPERSTATE, 6);
    mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
    struct nlattr *li = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
    mnl_attr_nest_end(nlh, li);
    struct rtnl_link_stats64 st = {.rx_bytes = 100, .tx_packets = 3, .rx_dropped = 2};
    mnl_attr_put(nlh, IFLA_STATS64, sizeof st, &st);
    struct tnl_link l;
    assert_int_equal(tnl_parse_link(nlh, &l), 1);
    assert_string_equal(l.name, "br9");
    assert_string_equal(l.kind, "bridge");
    assert_int_equal(l.mtu, 9000);
    assert_true(tnl_link_is_up(&l));
    o = tnl_link_json(&l, NULL, NULL);
    txt = cJSON_PrintUnformatted(o);
    assert_non_null(strstr(txt, "\"kind\":\"bridge\",\"mac\":\"02:00:00:00:00:09\",\"mtu\":9000,"
                                "\"admin_state\":\"up\",\"oper_state\":\"up\""));
    assert_non_null(strstr(txt, "\"rx_bytes\":100,\"rx_packets\":0,\"rx_errors\":0,\"rx_dropped\":2,"
                                "\"tx_bytes\":0,\"tx_packets\":3"));
    free(txt);
    cJSON_Delete(o);
}

static void on_link(const struct nlmsghdr *nlh, void *arg)
{
    struct tnl_link l;
    if (tnl_parse_link(nlh, &l) == 1 && strcmp(l.kind, "loopback") == 0)
        (*(int *)arg)++;
}

/* A real dump: every Linux network namespace has a loopback link. */
static void test_dump_links(void **state)
{
    (void)state;
    struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
    assert_non_null(nl);
    assert_int_equal(mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID), 0);
    static char buf[65536];
    char err[256];
    int loopbacks = 0;
    assert_int_equal(tnl_dump(nl, RTM_GETLINK, AF_UNSPEC, 1, buf, sizeof buf, on_link, &loopbacks, err, sizeof err), 0);
    assert_int_equal(loopbacks, 1);
    mnl_socket_close(nl);
}

/* ---- WireGuard ------------------------------------------------------------ */

/* RFC 7748 §6.1: Alice's private key and its X25519 public key. */
static const char ALICE_PRIV[] = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const uint8_t ALICE_PUB[32] = {
    0x85, 0x20, 0xf0, 0x09, 0x89, 0x30, 0xa7, 0x54, 0x74, 0x8b, 0x7d, 0xdc, 0xb4, 0x3e, 0xf7, 0x5a,
    0x0d, 0xbf, 0x3a, 0x0d, 0x26, 0x38, 0x1a, 0xf4, 0xeb, 0xa4, 0xa9, 0x8e, 0xaa, 0x9b, 0x4e, 0x6a};

static const char *uapi_answer(void)
{
    static char text[2048];
    snprintf(text, sizeof text,
             "private_key=%s\nlisten_port=51820\nfwmark=7\n"
             "public_key=8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\n"
             "preshared_key=0000000000000000000000000000000000000000000000000000000000000000\n"
             "protocol_version=1\nendpoint=198.18.0.2:51821\nlast_handshake_time_sec=1700000000\n"
             "last_handshake_time_nsec=5000000\ntx_bytes=148\nrx_bytes=92\n"
             "persistent_keepalive_interval=25\nallowed_ip=198.19.9.0/24\nallowed_ip=fd00:9::/64\n"
             "public_key=0000000000000000000000000000000000000000000000000000000000000001\n"
             "allowed_ip=198.19.10.1/32\nerrno=0\n\n",
             ALICE_PRIV);
    return text;
}

static void test_uapi_parse(void **state)
{
    (void)state;
    const char *text = uapi_answer();
    struct twg_dev d = {{0}};
    char err[256];
    assert_int_equal(twg_parse_uapi(text, strlen(text), &d, err, sizeof err), 0);
    assert_true(d.has_public_key);
    assert_memory_equal(d.public_key, ALICE_PUB, 32);
    assert_int_equal(d.listen_port, 51820);
    assert_int_equal(d.fwmark, 7);
    assert_int_equal(d.n_peers, 2);
    assert_memory_equal(d.peers[0].public_key, ALICE_PUB, 32);
    assert_string_equal(d.peers[0].endpoint, "198.18.0.2:51821");
    assert_int_equal(d.peers[0].last_handshake_s, 1700000000);
    assert_int_equal(d.peers[0].rx_bytes, 92);
    assert_int_equal(d.peers[0].tx_bytes, 148);
    assert_int_equal(d.peers[0].keepalive_s, 25);
    assert_int_equal(d.peers[0].n_allowed, 2);
    assert_string_equal(d.peers[0].allowed_ips[1], "fd00:9::/64");
    assert_int_equal(d.peers[1].n_allowed, 1);
    snprintf(d.ifname, sizeof d.ifname, "wg0");
    cJSON *o = twg_dev_json(&d);
    char *txt = cJSON_PrintUnformatted(o);
    /* base64 of RFC 7748's public key; no private or preshared key anywhere. */
    assert_non_null(strstr(txt, "\"public_key\":\"hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\""));
    assert_non_null(strstr(txt, "\"latest_handshake\":\"2023-11-14T22:13:20.005Z\""));
    assert_non_null(strstr(txt, "\"allowed_ips\":[\"198.19.9.0/24\",\"fd00:9::/64\"]"));
    assert_null(strstr(txt, "private"));
    assert_null(strstr(txt, "preshared"));
    assert_null(strstr(txt, "77076d0a"));
    free(txt);
    cJSON_Delete(o);
    twg_dev_clear(&d);

    const char *fail = "errno=19\n\n";
    assert_int_equal(twg_parse_uapi(fail, strlen(fail), &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "errno=19"));
    twg_dev_clear(&d);
}

/* Every prefix of the answer, in an exact-size heap copy: error or success, never a crash. */
static void test_uapi_every_prefix(void **state)
{
    (void)state;
    const char *text = uapi_answer();
    size_t n = strlen(text);
    char err[256];
    for (size_t cut = 0; cut <= n; cut++) {
        char *copy = malloc(cut ? cut : 1);
        assert_non_null(copy);
        memcpy(copy, text, cut);
        struct twg_dev d = {{0}};
        int rc = twg_parse_uapi(copy, cut, &d, err, sizeof err);
        assert_int_equal(rc, cut == n ? 0 : -1);
        twg_dev_clear(&d);
        free(copy);
    }
}

struct changes {
    char log[16][64];
    size_t n;
};

static void record(void *ctx, const char *change, const char *ifname, const struct twg_peer *p)
{
    struct changes *c = ctx;
    if (c->n < 16)
        snprintf(c->log[c->n++], sizeof c->log[0], "%s %s %u", change, ifname, p->public_key[0]);
}

static void set_peers(struct twg_dev *d, const uint8_t *keys, size_t n, const int64_t *hs)
{
    twg_dev_clear(d);
    snprintf(d->ifname, sizeof d->ifname, "wg0");
    d->peers = calloc(n ? n : 1, sizeof *d->peers);
    d->n_peers = n;
    for (size_t i = 0; i < n; i++) {
        d->peers[i].public_key[0] = keys[i];
        d->peers[i].last_handshake_s = hs[i];
    }
}

static void test_wg_diff(void **state)
{
    (void)state;
    struct twg_dev prev = {{0}}, cur = {{0}};
    struct changes c = {.n = 0};
    const int64_t T = 1700000000;
    uint8_t k12[2] = {1, 2};
    int64_t hs[2] = {T - 10, 0};
    /* Start: peers are known, not "added"; nothing is stale yet. */
    set_peers(&cur, k12, 2, hs);
    twg_diff(NULL, &cur, T, true, record, &c);
    assert_int_equal(c.n, 0);
    prev = cur;
    memset(&cur, 0, sizeof cur);
    /* Peer 2 removed, peer 3 added. */
    uint8_t k13[2] = {1, 3};
    set_peers(&cur, k13, 2, hs);
    twg_diff(&prev, &cur, T + 1, false, record, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.log[0], "wg_peer_removed wg0 2");
    assert_string_equal(c.log[1], "wg_peer_added wg0 3");
    twg_dev_clear(&prev);
    prev = cur;
    memset(&cur, 0, sizeof cur);
    /* 3 minutes after peer 1's handshake: stale, once. Peer 3 (never) counts from first sight. */
    c.n = 0;
    set_peers(&cur, k13, 2, hs);
    twg_diff(&prev, &cur, T - 10 + TWG_STALE_S, false, record, &c);
    assert_int_equal(c.n, 1);
    assert_string_equal(c.log[0], "wg_handshake_stale wg0 1");
    twg_dev_clear(&prev);
    prev = cur;
    memset(&cur, 0, sizeof cur);
    set_peers(&cur, k13, 2, hs);
    twg_diff(&prev, &cur, T + 1 + TWG_STALE_S, false, record, &c);
    assert_int_equal(c.n, 2);
    assert_string_equal(c.log[1], "wg_handshake_stale wg0 3");
    /* A fresh handshake re-arms the rule. */
    twg_dev_clear(&prev);
    prev = cur;
    memset(&cur, 0, sizeof cur);
    int64_t hs2[2] = {T + 500, 0};
    set_peers(&cur, k13, 2, hs2);
    twg_diff(&prev, &cur, T + 501, false, record, &c);
    assert_int_equal(c.n, 2);
    assert_false(cur.peers[0].stale_reported);
    /* The interface disappears: every peer removed. */
    c.n = 0;
    twg_diff(&cur, NULL, T + 502, false, record, &c);
    assert_int_equal(c.n, 2);
    twg_dev_clear(&prev);
    twg_dev_clear(&cur);
}

/* Fail soft: no socket, no kernel family; both are errors with a message, never a crash. */
static void test_wg_fail_soft(void **state)
{
    (void)state;
    struct twg_dev d = {{0}};
    char err[256] = "";
    assert_false(twg_uapi_present("/nonexistent-dir", "wg0"));
    assert_int_equal(twg_get_uapi("/nonexistent-dir", "wg0", &d, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot connect"));
    twg_dev_clear(&d);

    struct mnl_socket *nl = mnl_socket_open(NETLINK_GENERIC);
    assert_non_null(nl);
    assert_int_equal(mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID), 0);
    static char buf[65536];
    uint16_t fam = 0;
    err[0] = '\0';
    /* Without the module: "family not available"; with it: no such device. Either way -1. */
    assert_int_equal(twg_get_genl(nl, &fam, 10, "nowg-t5-x", buf, sizeof buf, &d, err, sizeof err), -1);
    assert_true(err[0] != '\0');
    assert_true(d.kernel);
    assert_int_equal(d.n_peers, 0);
    twg_dev_clear(&d);
    assert_int_equal(twg_get_genl(NULL, &fam, 12, "x", buf, sizeof buf, &d, err, sizeof err), -1);
    twg_dev_clear(&d);
    mnl_socket_close(nl);
}

static void test_key_b64(void **state)
{
    (void)state;
    char out[45];
    uint8_t zero[32] = {0};
    twg_key_b64(zero, out);
    assert_string_equal(out, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    twg_key_b64(ALICE_PUB, out);
    assert_string_equal(out, "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=");
}

/* Values that go into events as they are must be what the UAPI prints (found
 * by fuzz_wg: an errno, endpoint or allowed_ip of any bytes reached the
 * snapshot or peer events, which then were not UTF-8). */
static void test_uapi_refuses_non_text(void **state)
{
    (void)state;
    static const char pk[] = "public_key=8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a\n";
    static const struct { const char *rest; int rc; const char *err; } cases[] = {
        {"endpoint=198.18.0.2:51821\nallowed_ip=10.0.0.0/8\n\n", 0, NULL},
        {"endpoint=[fe80::1%wg-0.x]:1\nallowed_ip=::/0\n\n", 0, NULL},
        {"endpoint=\xff\xfe:1\n\n", -1, "UAPI answer: bad endpoint"},
        {"endpoint=198.18.0.2\n\n", -1, "UAPI answer: bad endpoint"},
        {"endpoint=198.18.0.2:65536\n\n", -1, "UAPI answer: bad endpoint"},
        {"endpoint=[fe80::1%\"]:1\n\n", -1, "UAPI answer: bad endpoint"},
        {"allowed_ip=10.0.0.0/33\n\n", -1, "UAPI answer: bad allowed_ip"},
        {"allowed_ip=\x01/8\n\n", -1, "UAPI answer: bad allowed_ip"},
        {"errno=\xc3\x28\n\n", -1, "UAPI answer: errno is not a number"},
        {"errno=19\n\n", -1, "UAPI answer: errno=19"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512], err[256] = "";
        snprintf(text, sizeof text, "%s%s", pk, cases[i].rest);
        struct twg_dev d = {{0}};
        assert_int_equal(twg_parse_uapi(text, strlen(text), &d, err, sizeof err), cases[i].rc);
        if (cases[i].err)
            assert_string_equal(err, cases[i].err);
        twg_dev_clear(&d);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_addr),
        cmocka_unit_test(test_parse_route),
        cmocka_unit_test(test_parse_neigh_and_link),
        cmocka_unit_test(test_dump_links),
        cmocka_unit_test(test_uapi_parse),
        cmocka_unit_test(test_uapi_every_prefix),
        cmocka_unit_test(test_uapi_refuses_non_text),
        cmocka_unit_test(test_wg_diff),
        cmocka_unit_test(test_wg_fail_soft),
        cmocka_unit_test(test_key_b64),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
