/*
 * topology_wg.c — WireGuard state over the UAPI socket or generic netlink
 * (see topology_wg.h).
 *
 * This file exists because WireGuard keeps its peers out of rtnetlink: the
 * kernel module answers on its own generic netlink family, and userspace
 * implementations (wireguard-go, boringtun) answer the cross-platform UAPI
 * text protocol on a unix socket (https://www.wireguard.com/xplatform/). Both
 * end up in the same twg_dev. Secrets: the UAPI answer carries the private
 * key in hex; it is decoded into a local array, turned into the public key and
 * wiped, and the whole answer buffer is wiped before it is freed. The kernel's
 * WGDEVICE_A_PRIVATE_KEY / WGPEER_A_PRESHARED_KEY attributes are never read.
 */
#include "topology_wg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/wireguard.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cjson/cJSON.h>

#include "../../common/timefmt.h"

#define TWG_UAPI_MAX (8u << 20)     /* largest UAPI answer accepted */

void twg_dev_clear(struct twg_dev *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->n_peers; i++)
        free(d->peers[i].allowed_ips);
    free(d->peers);
    memset(d, 0, sizeof *d);
}

static struct twg_peer *add_peer(struct twg_dev *d)
{
    struct twg_peer *v = realloc(d->peers, (d->n_peers + 1) * sizeof *v);
    if (!v)
        return NULL;
    d->peers = v;
    memset(&v[d->n_peers], 0, sizeof v[0]);
    return &v[d->n_peers++];
}

static int add_allowed(struct twg_peer *p, const char *text)
{
    char (*v)[52] = realloc(p->allowed_ips, (p->n_allowed + 1) * sizeof *v);
    if (!v)
        return -1;
    p->allowed_ips = v;
    snprintf(v[p->n_allowed++], sizeof v[0], "%s", text);
    return 0;
}

/* ---- keys ----------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool hex_key(const char *s, size_t n, uint8_t key[TWG_KEY_LEN])
{
    if (n != 2 * TWG_KEY_LEN)
        return false;
    for (size_t i = 0; i < TWG_KEY_LEN; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* X25519 public key of a private key (RFC 7748), as `wg pubkey` computes it. */
static bool public_of(const uint8_t priv[TWG_KEY_LEN], uint8_t pub[TWG_KEY_LEN])
{
    EVP_PKEY *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, NULL, priv, TWG_KEY_LEN);
    size_t len = TWG_KEY_LEN;
    bool ok = k && EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == TWG_KEY_LEN;
    EVP_PKEY_free(k);
    return ok;
}

void twg_key_b64(const uint8_t key[TWG_KEY_LEN], char out[45])
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < TWG_KEY_LEN; i += 3) {
        uint32_t v = (uint32_t)key[i] << 16;
        if (i + 1 < TWG_KEY_LEN)
            v |= (uint32_t)key[i + 1] << 8;
        if (i + 2 < TWG_KEY_LEN)
            v |= key[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < TWG_KEY_LEN ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < TWG_KEY_LEN ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

/* ---- UAPI ----------------------------------------------------------------- */

static bool parse_u64(const char *s, size_t n, uint64_t *v)
{
    char buf[24];
    if (n == 0 || n >= sizeof buf)
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    unsigned long long x = strtoull(buf, &end, 10);
    if (errno || *end || buf[0] == '-')
        return false;
    *v = x;
    return true;
}

/* Copy the n bytes at s into a NUL-terminated buffer of size cap; false if they don't fit or hold a NUL. */
static bool take_text(const char *s, size_t n, char *buf, size_t cap)
{
    if (n >= cap || memchr(s, '\0', n))
        return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return true;
}

/* Decimal 0..max, digits only. */
static bool parse_num(const char *s, uint32_t max, uint32_t *v)
{
    uint64_t x = 0;
    if (!*s)
        return false;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        x = x * 10 + (uint64_t)(*s - '0');
        if (x > max)
            return false;
    }
    *v = (uint32_t)x;
    return true;
}

/*
 * An endpoint as the UAPI prints it: "a.b.c.d:port" or "[ipv6]:port", the
 * IPv6 address possibly with a "%scope" of letters, digits, '.', '_', '-'.
 * These strings go into events as they are, so anything else (found by
 * fuzz_wg: bytes that are not UTF-8) is refused rather than passed on.
 */
static bool valid_endpoint(const char *s, size_t n)
{
    char buf[64];
    if (!take_text(s, n, buf, sizeof buf))
        return false;
    char *colon = strrchr(buf, ':');
    uint32_t port;
    if (!colon || !parse_num(colon + 1, 65535, &port))
        return false;
    *colon = '\0';
    unsigned char a[16];
    if (buf[0] != '[')
        return inet_pton(AF_INET, buf, a) == 1;
    size_t hl = strlen(buf);
    if (hl < 3 || buf[hl - 1] != ']')
        return false;
    buf[hl - 1] = '\0';
    char *scope = strchr(buf + 1, '%');
    if (scope) {
        *scope++ = '\0';
        if (!*scope)
            return false;
        for (const char *c = scope; *c; c++)
            if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                  *c == '.' || *c == '_' || *c == '-'))
                return false;
    }
    return inet_pton(AF_INET6, buf + 1, a) == 1;
}

/* An allowed IP as the UAPI prints it: "address/prefix length" (IPv4 or IPv6). */
static bool valid_allowed_ip(const char *s, size_t n)
{
    char buf[52];
    if (!take_text(s, n, buf, sizeof buf))
        return false;
    char *slash = strchr(buf, '/');
    uint32_t plen;
    if (!slash)
        return false;
    *slash = '\0';
    unsigned char a[16];
    if (inet_pton(AF_INET, buf, a) == 1)
        return parse_num(slash + 1, 32, &plen);
    return inet_pton(AF_INET6, buf, a) == 1 && parse_num(slash + 1, 128, &plen);
}

int twg_parse_uapi(const char *text, size_t len, struct twg_dev *out, char *err, size_t errlen)
{
    struct twg_peer *peer = NULL;
    const char *p = text, *end = text + len;
    bool done = false;

    while (p < end && !done) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl) {
            snprintf(err, errlen, "UAPI answer ends without a newline");
            return -1;
        }
        size_t n = (size_t)(nl - p);
        const char *line = p;
        p = nl + 1;
        if (n == 0) {
            done = true;
            break;
        }
        const char *eq = memchr(line, '=', n);
        if (!eq) {
            snprintf(err, errlen, "UAPI answer: line without '='");
            return -1;
        }
        size_t kl = (size_t)(eq - line), vl = n - kl - 1;
        const char *val = eq + 1;
        uint64_t u = 0;
#define KEY(s) (kl == sizeof(s) - 1 && memcmp(line, s, kl) == 0)
        if (KEY("private_key")) {
            uint8_t priv[TWG_KEY_LEN];
            if (hex_key(val, vl, priv) && public_of(priv, out->public_key))
                out->has_public_key = true;
            OPENSSL_cleanse(priv, sizeof priv);
        } else if (KEY("listen_port")) {
            if (parse_u64(val, vl, &u) && u <= 65535)
                out->listen_port = (uint16_t)u;
        } else if (KEY("fwmark")) {
            if (parse_u64(val, vl, &u) && u <= UINT32_MAX)
                out->fwmark = (uint32_t)u;
        } else if (KEY("public_key")) {
            peer = add_peer(out);
            if (!peer) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
            if (!hex_key(val, vl, peer->public_key)) {
                snprintf(err, errlen, "UAPI answer: bad public_key");
                return -1;
            }
        } else if (KEY("errno")) {
            /* The message goes into the snapshot event: never the answer's bytes. */
            if (!parse_u64(val, vl, &u)) {
                snprintf(err, errlen, "UAPI answer: errno is not a number");
                return -1;
            }
            if (u != 0) {
                snprintf(err, errlen, "UAPI answer: errno=%" PRIu64, u);
                return -1;
            }
        } else if (peer) {
            if (KEY("endpoint")) {
                if (!valid_endpoint(val, vl)) {
                    snprintf(err, errlen, "UAPI answer: bad endpoint");
                    return -1;
                }
                memcpy(peer->endpoint, val, vl);
                peer->endpoint[vl] = '\0';
            } else if (KEY("allowed_ip")) {
                char buf[52];
                if (!valid_allowed_ip(val, vl)) {
                    snprintf(err, errlen, "UAPI answer: bad allowed_ip");
                    return -1;
                }
                memcpy(buf, val, vl);
                buf[vl] = '\0';
                if (add_allowed(peer, buf) != 0) {
                    snprintf(err, errlen, "out of memory");
                    return -1;
                }
            } else if (KEY("last_handshake_time_sec")) {
                if (parse_u64(val, vl, &u) && u <= INT64_MAX)
                    peer->last_handshake_s = (int64_t)u;
            } else if (KEY("last_handshake_time_nsec")) {
                if (parse_u64(val, vl, &u) && u < 1000000000u)
                    peer->last_handshake_ns = (int64_t)u;
            } else if (KEY("rx_bytes")) {
                if (parse_u64(val, vl, &u))
                    peer->rx_bytes = u;
            } else if (KEY("tx_bytes")) {
                if (parse_u64(val, vl, &u))
                    peer->tx_bytes = u;
            } else if (KEY("persistent_keepalive_interval")) {
                if (parse_u64(val, vl, &u) && u <= 65535)
                    peer->keepalive_s = (uint16_t)u;
            }
            /* preshared_key, protocol_version and unknown keys: ignored */
        }
#undef KEY
    }
    if (!done) {
        snprintf(err, errlen, "UAPI answer ends without a blank line");
        return -1;
    }
    return 0;
}

bool twg_uapi_present(const char *dir, const char *ifname)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s.sock", dir, ifname);
    return stat(path, &st) == 0;
}

int twg_get_uapi(const char *dir, const char *ifname, struct twg_dev *out, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;

    twg_dev_clear(out);
    snprintf(out->ifname, sizeof out->ifname, "%s", ifname);
    if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s/%s.sock", dir, ifname) >= sizeof sa.sun_path) {
        snprintf(err, errlen, "%s: UAPI socket path too long", ifname);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "%s: UAPI socket: %s", ifname, strerror(errno));
        return -1;
    }
    struct timeval tv = {1, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(err, errlen, "%s: cannot connect to %s: %s", ifname, sa.sun_path, strerror(errno));
        goto out;
    }
    static const char req[] = "get=1\n\n";
    if (send(fd, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1)) {
        snprintf(err, errlen, "%s: UAPI write: %s", ifname, strerror(errno));
        goto out;
    }
    for (;;) {
        if (len + 4096 > cap) {
            if (cap >= TWG_UAPI_MAX) {
                snprintf(err, errlen, "%s: UAPI answer larger than %u bytes", ifname, TWG_UAPI_MAX);
                goto out;
            }
            size_t ncap = cap ? cap * 2 : 16384;
            char *nb = malloc(ncap);
            if (!nb) {
                snprintf(err, errlen, "out of memory");
                goto out;
            }
            if (buf) {
                memcpy(nb, buf, len);
                OPENSSL_cleanse(buf, cap);
                free(buf);
            }
            buf = nb;
            cap = ncap;
        }
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, errlen, "%s: UAPI read: %s", ifname,
                     errno == EAGAIN || errno == EWOULDBLOCK ? "timed out" : strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len >= 2 && buf[len - 1] == '\n' && buf[len - 2] == '\n')
            break;
    }
    if (twg_parse_uapi(buf ? buf : "", len, out, err, errlen) != 0) {
        char tmp[200];
        snprintf(tmp, sizeof tmp, "%s", err);
        snprintf(err, errlen, "%s: %s", ifname, tmp);
        goto out;
    }
    rc = 0;
out:
    close(fd);
    if (buf) {
        OPENSSL_cleanse(buf, cap);    /* it held the private key */
        free(buf);
    }
    if (rc != 0) {
        twg_dev_clear(out);
        snprintf(out->ifname, sizeof out->ifname, "%s", ifname);
    }
    return rc;
}

/* ---- generic netlink ------------------------------------------------------ */

struct attr_table {
    const struct nlattr *tb[16];
};

static int collect(const struct nlattr *attr, void *data)
{
    struct attr_table *t = data;
    int type = mnl_attr_get_type(attr);
    if (type >= 0 && type < 16)
        t->tb[type] = attr;
    return MNL_CB_OK;
}

static int family_cb(const struct nlmsghdr *nlh, void *data)
{
    struct attr_table t = {{0}};
    if (mnl_attr_parse(nlh, sizeof(struct genlmsghdr), collect, &t) < 0)
        return MNL_CB_ERROR;
    if (t.tb[CTRL_ATTR_FAMILY_ID] && mnl_attr_validate(t.tb[CTRL_ATTR_FAMILY_ID], MNL_TYPE_U16) >= 0)
        *(uint16_t *)data = mnl_attr_get_u16(t.tb[CTRL_ATTR_FAMILY_ID]);
    return MNL_CB_OK;
}

/* Send a request and run the answer through cb until done. Returns 0 or -errno. */
static int genl_talk(struct mnl_socket *nl, struct nlmsghdr *nlh, void *buf, size_t bufsize,
                     mnl_cb_t cb, void *data)
{
    uint32_t seq = nlh->nlmsg_seq;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
        return -errno;
    unsigned portid = mnl_socket_get_portid(nl);
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl, buf, bufsize);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        int rc = mnl_cb_run(buf, (size_t)n, seq, portid, cb, data);
        if (rc == MNL_CB_STOP)
            return 0;
        if (rc < 0)
            return errno ? -errno : -EIO;
    }
}

struct wg_parse {
    struct twg_dev *dev;
    int err;
};

static void parse_allowed(const struct nlattr *list, struct twg_peer *p, struct wg_parse *w)
{
    const struct nlattr *a;
    mnl_attr_for_each_nested(a, list) {
        struct attr_table t = {{0}};
        char ip[INET6_ADDRSTRLEN], text[52];
        if (mnl_attr_parse_nested(a, collect, &t) < 0)
            continue;
        if (!t.tb[WGALLOWEDIP_A_FAMILY] || mnl_attr_validate(t.tb[WGALLOWEDIP_A_FAMILY], MNL_TYPE_U16) < 0 ||
            !t.tb[WGALLOWEDIP_A_CIDR_MASK] || mnl_attr_validate(t.tb[WGALLOWEDIP_A_CIDR_MASK], MNL_TYPE_U8) < 0 ||
            !t.tb[WGALLOWEDIP_A_IPADDR])
            continue;
        uint16_t fam = mnl_attr_get_u16(t.tb[WGALLOWEDIP_A_FAMILY]);
        size_t want = fam == AF_INET ? 4 : fam == AF_INET6 ? 16 : 0;
        if (!want || mnl_attr_get_payload_len(t.tb[WGALLOWEDIP_A_IPADDR]) != want)
            continue;
        if (!inet_ntop(fam, mnl_attr_get_payload(t.tb[WGALLOWEDIP_A_IPADDR]), ip, sizeof ip))
            continue;
        snprintf(text, sizeof text, "%s/%u", ip, mnl_attr_get_u8(t.tb[WGALLOWEDIP_A_CIDR_MASK]));
        if (add_allowed(p, text) != 0)
            w->err = ENOMEM;
    }
}

static void endpoint_text(const struct nlattr *a, char *out, size_t len)
{
    size_t n = mnl_attr_get_payload_len(a);
    char ip[INET6_ADDRSTRLEN];
    if (n >= sizeof(struct sockaddr_in6)) {
        struct sockaddr_in6 s6;
        memcpy(&s6, mnl_attr_get_payload(a), sizeof s6);
        if (s6.sin6_family == AF_INET6 && inet_ntop(AF_INET6, &s6.sin6_addr, ip, sizeof ip)) {
            snprintf(out, len, "[%s]:%u", ip, ntohs(s6.sin6_port));
            return;
        }
    }
    if (n >= sizeof(struct sockaddr_in)) {
        struct sockaddr_in s4;
        memcpy(&s4, mnl_attr_get_payload(a), sizeof s4);
        if (s4.sin_family == AF_INET && inet_ntop(AF_INET, &s4.sin_addr, ip, sizeof ip))
            snprintf(out, len, "%s:%u", ip, ntohs(s4.sin_port));
    }
}

/*
 * One WG_CMD_GET_DEVICE answer message. A device with many peers spans several
 * messages; a peer may continue in the next one (same public key first), so a
 * peer whose key equals the last one's is merged (linux/wireguard.h).
 */
static int device_cb(const struct nlmsghdr *nlh, void *data)
{
    struct wg_parse *w = data;
    struct twg_dev *d = w->dev;
    struct attr_table t = {{0}};
    if (mnl_attr_parse(nlh, sizeof(struct genlmsghdr), collect, &t) < 0)
        return MNL_CB_ERROR;
    if (t.tb[WGDEVICE_A_PUBLIC_KEY] && mnl_attr_get_payload_len(t.tb[WGDEVICE_A_PUBLIC_KEY]) == TWG_KEY_LEN) {
        memcpy(d->public_key, mnl_attr_get_payload(t.tb[WGDEVICE_A_PUBLIC_KEY]), TWG_KEY_LEN);
        d->has_public_key = true;
    }
    if (t.tb[WGDEVICE_A_LISTEN_PORT] && mnl_attr_validate(t.tb[WGDEVICE_A_LISTEN_PORT], MNL_TYPE_U16) >= 0)
        d->listen_port = mnl_attr_get_u16(t.tb[WGDEVICE_A_LISTEN_PORT]);
    if (t.tb[WGDEVICE_A_FWMARK] && mnl_attr_validate(t.tb[WGDEVICE_A_FWMARK], MNL_TYPE_U32) >= 0)
        d->fwmark = mnl_attr_get_u32(t.tb[WGDEVICE_A_FWMARK]);
    if (!t.tb[WGDEVICE_A_PEERS])
        return MNL_CB_OK;
    const struct nlattr *pa;
    mnl_attr_for_each_nested(pa, t.tb[WGDEVICE_A_PEERS]) {
        struct attr_table pt = {{0}};
        if (mnl_attr_parse_nested(pa, collect, &pt) < 0 || !pt.tb[WGPEER_A_PUBLIC_KEY] ||
            mnl_attr_get_payload_len(pt.tb[WGPEER_A_PUBLIC_KEY]) != TWG_KEY_LEN)
            continue;
        const uint8_t *key = mnl_attr_get_payload(pt.tb[WGPEER_A_PUBLIC_KEY]);
        struct twg_peer *p = NULL;
        if (d->n_peers && memcmp(d->peers[d->n_peers - 1].public_key, key, TWG_KEY_LEN) == 0)
            p = &d->peers[d->n_peers - 1];
        else if ((p = add_peer(d)) != NULL)
            memcpy(p->public_key, key, TWG_KEY_LEN);
        if (!p) {
            w->err = ENOMEM;
            return MNL_CB_ERROR;
        }
        if (pt.tb[WGPEER_A_ENDPOINT])
            endpoint_text(pt.tb[WGPEER_A_ENDPOINT], p->endpoint, sizeof p->endpoint);
        if (pt.tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL] &&
            mnl_attr_validate(pt.tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL], MNL_TYPE_U16) >= 0)
            p->keepalive_s = mnl_attr_get_u16(pt.tb[WGPEER_A_PERSISTENT_KEEPALIVE_INTERVAL]);
        if (pt.tb[WGPEER_A_LAST_HANDSHAKE_TIME] &&
            mnl_attr_get_payload_len(pt.tb[WGPEER_A_LAST_HANDSHAKE_TIME]) == 2 * sizeof(int64_t)) {
            int64_t ts[2];
            memcpy(ts, mnl_attr_get_payload(pt.tb[WGPEER_A_LAST_HANDSHAKE_TIME]), sizeof ts);
            p->last_handshake_s = ts[0];
            p->last_handshake_ns = ts[1];
        }
        if (pt.tb[WGPEER_A_RX_BYTES] && mnl_attr_validate(pt.tb[WGPEER_A_RX_BYTES], MNL_TYPE_U64) >= 0)
            p->rx_bytes = mnl_attr_get_u64(pt.tb[WGPEER_A_RX_BYTES]);
        if (pt.tb[WGPEER_A_TX_BYTES] && mnl_attr_validate(pt.tb[WGPEER_A_TX_BYTES], MNL_TYPE_U64) >= 0)
            p->tx_bytes = mnl_attr_get_u64(pt.tb[WGPEER_A_TX_BYTES]);
        if (pt.tb[WGPEER_A_ALLOWEDIPS])
            parse_allowed(pt.tb[WGPEER_A_ALLOWEDIPS], p, w);
    }
    return MNL_CB_OK;
}

int twg_get_genl(struct mnl_socket *nl, uint16_t *family_id, uint32_t seq, const char *ifname,
                 void *buf, size_t bufsize, struct twg_dev *out, char *err, size_t errlen)
{
    twg_dev_clear(out);
    snprintf(out->ifname, sizeof out->ifname, "%s", ifname);
    out->kernel = true;
    if (!nl) {
        snprintf(err, errlen, "%s: no generic netlink socket", ifname);
        return -1;
    }
    if (*family_id == 0) {
        struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
        nlh->nlmsg_type = GENL_ID_CTRL;
        nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
        nlh->nlmsg_seq = seq;
        struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof *g);
        g->cmd = CTRL_CMD_GETFAMILY;
        g->version = 1;
        mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, WG_GENL_NAME);
        uint16_t id = 0;
        int rc = genl_talk(nl, nlh, buf, bufsize, family_cb, &id);
        if (rc == -ENOENT || (rc == 0 && id == 0)) {
            snprintf(err, errlen, "%s: generic netlink family \"%s\" not available (WireGuard kernel module not loaded)",
                     ifname, WG_GENL_NAME);
            return -1;
        }
        if (rc < 0) {
            snprintf(err, errlen, "%s: resolving generic netlink family \"%s\": %s", ifname, WG_GENL_NAME,
                     strerror(-rc));
            return -1;
        }
        *family_id = id;
    }
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
    nlh->nlmsg_type = *family_id;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = seq + 1;
    struct genlmsghdr *g = mnl_nlmsg_put_extra_header(nlh, sizeof *g);
    g->cmd = WG_CMD_GET_DEVICE;
    g->version = WG_GENL_VERSION;
    mnl_attr_put_strz(nlh, WGDEVICE_A_IFNAME, ifname);
    struct wg_parse w = {out, 0};
    int rc = genl_talk(nl, nlh, buf, bufsize, device_cb, &w);
    if (rc < 0 || w.err) {
        snprintf(err, errlen, "%s: WireGuard generic netlink query: %s", ifname, strerror(rc < 0 ? -rc : w.err));
        if (rc == -ENOENT || rc == -EINVAL)
            *family_id = 0;     /* the module may have been unloaded: resolve again next time */
        twg_dev_clear(out);
        snprintf(out->ifname, sizeof out->ifname, "%s", ifname);
        out->kernel = true;
        return -1;
    }
    return 0;
}

/* ---- JSON ----------------------------------------------------------------- */

cJSON *twg_peer_json(const struct twg_peer *p)
{
    char key[45], ts[40];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    twg_key_b64(p->public_key, key);
    bool ok = cJSON_AddStringToObject(o, "public_key", key) &&
              (p->endpoint[0] ? cJSON_AddStringToObject(o, "endpoint", p->endpoint) != NULL
                              : cJSON_AddNullToObject(o, "endpoint") != NULL);
    cJSON *a = ok ? cJSON_AddArrayToObject(o, "allowed_ips") : NULL;
    ok = a != NULL;
    for (size_t i = 0; ok && i < p->n_allowed; i++) {
        cJSON *s = cJSON_CreateString(p->allowed_ips[i]);
        ok = s && cJSON_AddItemToArray(a, s);
    }
    if (ok && p->last_handshake_s > 0) {
        uint64_t us = (uint64_t)p->last_handshake_s * 1000000u + (uint64_t)p->last_handshake_ns / 1000u;
        ok = cJSON_AddStringToObject(o, "latest_handshake", timefmt_rfc3339(us, 3, ts, sizeof ts)) &&
             cJSON_AddNumberToObject(o, "latest_handshake_unix", (double)p->last_handshake_s);
    } else if (ok) {
        ok = cJSON_AddNullToObject(o, "latest_handshake") && cJSON_AddNullToObject(o, "latest_handshake_unix");
    }
    ok = ok && cJSON_AddNumberToObject(o, "rx_bytes", (double)p->rx_bytes) &&
         cJSON_AddNumberToObject(o, "tx_bytes", (double)p->tx_bytes) &&
         cJSON_AddNumberToObject(o, "persistent_keepalive", p->keepalive_s);
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

cJSON *twg_dev_json(const struct twg_dev *d)
{
    char key[45];
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return NULL;
    bool ok = cJSON_AddStringToObject(o, "interface", d->ifname) &&
              cJSON_AddStringToObject(o, "implementation", d->kernel ? "kernel" : "userspace");
    if (ok && d->has_public_key) {
        twg_key_b64(d->public_key, key);
        ok = cJSON_AddStringToObject(o, "public_key", key) != NULL;
    } else if (ok) {
        ok = cJSON_AddNullToObject(o, "public_key") != NULL;
    }
    ok = ok && cJSON_AddNumberToObject(o, "listen_port", d->listen_port) &&
         cJSON_AddNumberToObject(o, "fwmark", d->fwmark);
    cJSON *a = ok ? cJSON_AddArrayToObject(o, "peers") : NULL;
    ok = a != NULL;
    for (size_t i = 0; ok && i < d->n_peers; i++) {
        cJSON *p = twg_peer_json(&d->peers[i]);
        ok = p && cJSON_AddItemToArray(a, p);
    }
    if (!ok) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* ---- changes -------------------------------------------------------------- */

static const struct twg_peer *find_peer(const struct twg_dev *d, const uint8_t *key)
{
    for (size_t i = 0; d && i < d->n_peers; i++)
        if (memcmp(d->peers[i].public_key, key, TWG_KEY_LEN) == 0)
            return &d->peers[i];
    return NULL;
}

void twg_diff(const struct twg_dev *prev, struct twg_dev *cur, int64_t now_s, bool initial,
              twg_change_fn cb, void *ctx)
{
    if (prev && !cur) {
        for (size_t i = 0; i < prev->n_peers; i++)
            cb(ctx, "wg_peer_removed", prev->ifname, &prev->peers[i]);
        return;
    }
    if (!cur)
        return;
    for (size_t i = 0; prev && i < prev->n_peers; i++)
        if (!find_peer(cur, prev->peers[i].public_key))
            cb(ctx, "wg_peer_removed", prev->ifname, &prev->peers[i]);
    for (size_t i = 0; i < cur->n_peers; i++) {
        struct twg_peer *p = &cur->peers[i];
        const struct twg_peer *old = find_peer(prev, p->public_key);
        if (old) {
            p->first_seen_s = old->first_seen_s;
            p->stale_reported = old->stale_reported && p->last_handshake_s == old->last_handshake_s;
        } else {
            p->first_seen_s = now_s;
            p->stale_reported = false;
            if (prev || !initial)
                cb(ctx, "wg_peer_added", cur->ifname, p);
        }
        int64_t ref = p->last_handshake_s > 0 ? p->last_handshake_s : p->first_seen_s;
        if (!p->stale_reported && now_s - ref >= TWG_STALE_S) {
            p->stale_reported = true;
            cb(ctx, "wg_handshake_stale", cur->ifname, p);
        }
    }
}
