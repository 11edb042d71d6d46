/*
 * hostaddr.c — the sensor host's own IP addresses (see hostaddr.h).
 *
 * A flow's `direction` says whether this host initiated it, answered it, or
 * only saw it pass, so the sender needs the host's current addresses. They are
 * read with getifaddrs() (every interface, up or not, IPv4 and IPv6) into a
 * small flat array in pkt_record layout (IPv4 in bytes 0..3, bytes 4..15
 * zero), which is what the flow records carry, so a lookup is a short linear
 * memcmp scan: hosts have a handful of addresses, and the array beats a hash
 * for that size. A refresh builds a whole new array and swaps it in only when
 * getifaddrs succeeded, so a transient failure never empties the set.
 *
 * A hostaddr_signal (a counter main owns) lets a netlink listener on another
 * thread tell the owner "re-read now": refresh records the value it started
 * from, so a bump that lands during a refresh still makes the set stale and
 * triggers one more read.
 */
#include "hostaddr.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

struct hostaddr_entry {
    uint8_t version;   /* 4 or 6 */
    uint8_t addr[16];  /* pkt_record layout */
};

struct hostaddr {
    struct hostaddr_entry *v;
    size_t n;
    const hostaddr_signal *sig;  /* NULL: periodic refreshes only */
    uint64_t seen_gen;           /* signal value when the last refresh started */
    struct hostaddr_net *nets;   /* AGENT_LOCAL_NETWORKS; when set, v is unused */
    size_t nnets;
    bool use_nets;
};

struct hostaddr_signal {
    _Atomic uint64_t gen;
};

hostaddr_signal *hostaddr_signal_create(void)
{
    hostaddr_signal *sig = malloc(sizeof *sig);
    if (sig)
        atomic_init(&sig->gen, 0);
    return sig;
}

void hostaddr_signal_destroy(hostaddr_signal *sig) { free(sig); }

void hostaddr_signal_bump(hostaddr_signal *sig)
{
    /* Release: pairs with the acquire in hostaddr_stale; the kernel change
     * that caused the bump happened before it, so a refresh sees it. */
    if (sig)
        atomic_fetch_add_explicit(&sig->gen, 1, memory_order_release);
}

static uint64_t signal_value(const hostaddr_signal *sig)
{
    return sig ? atomic_load_explicit(&((hostaddr_signal *)sig)->gen, memory_order_acquire) : 0;
}

void hostaddr_attach(hostaddr *h, const hostaddr_signal *sig)
{
    h->sig = sig;
    h->seen_gen = signal_value(sig);
}

int hostaddr_stale(const hostaddr *h)
{
    return h && h->sig && signal_value(h->sig) != h->seen_gen;
}

static int entry_eq(const struct hostaddr_entry *e, int ip_version, const uint8_t *addr)
{
    return e->version == ip_version && memcmp(e->addr, addr, ip_version == 4 ? 4 : 16) == 0;
}

/* Append unless already present; `v` has room (caller sized it). */
static void add_unique(struct hostaddr_entry *v, size_t *n, int ip_version, const uint8_t *addr)
{
    for (size_t i = 0; i < *n; i++)
        if (entry_eq(&v[i], ip_version, addr))
            return;
    memset(&v[*n], 0, sizeof v[*n]);
    v[*n].version = (uint8_t)ip_version;
    memcpy(v[*n].addr, addr, ip_version == 4 ? 4 : 16);
    (*n)++;
}

/* Take ownership of `v` (n entries) as the new set. */
static void replace(hostaddr *h, struct hostaddr_entry *v, size_t n)
{
    free(h->v);
    h->v = v;
    h->n = n;
}

hostaddr *hostaddr_create(char *err, size_t errlen)
{
    hostaddr *h = calloc(1, sizeof *h);
    if (!h) {
        if (err && errlen)
            snprintf(err, errlen, "host addresses: out of memory");
        return NULL;
    }
    /* A failed first read leaves an empty set: every direction is "unknown"
     * until a later refresh succeeds, which is not a reason to stop. */
    (void)hostaddr_refresh(h);
    return h;
}

void hostaddr_destroy(hostaddr *h)
{
    if (!h)
        return;
    free(h->v);
    free(h->nets);
    free(h);
}

int hostaddr_refresh(hostaddr *h)
{
    if (!h)
        return -1;
    h->seen_gen = signal_value(h->sig);  /* before reading: a later bump re-reads */
    if (h->use_nets)
        return 0;                        /* the configured networks do not change */
    struct ifaddrs *ifa = NULL;
    if (getifaddrs(&ifa) != 0)
        return -1;
    size_t cap = 0;
    for (const struct ifaddrs *p = ifa; p; p = p->ifa_next)
        if (p->ifa_addr && (p->ifa_addr->sa_family == AF_INET || p->ifa_addr->sa_family == AF_INET6))
            cap++;
    struct hostaddr_entry *v = calloc(cap ? cap : 1, sizeof *v);
    if (!v) {
        freeifaddrs(ifa);
        return -1;
    }
    size_t n = 0;
    for (const struct ifaddrs *p = ifa; p; p = p->ifa_next) {
        if (!p->ifa_addr)
            continue;
        if (p->ifa_addr->sa_family == AF_INET) {
            struct sockaddr_in sin;
            memcpy(&sin, p->ifa_addr, sizeof sin);
            add_unique(v, &n, 4, (const uint8_t *)&sin.sin_addr);
        } else if (p->ifa_addr->sa_family == AF_INET6) {
            struct sockaddr_in6 sin6;
            memcpy(&sin6, p->ifa_addr, sizeof sin6);
            add_unique(v, &n, 6, sin6.sin6_addr.s6_addr);
        }
    }
    freeifaddrs(ifa);
    replace(h, v, n);
    return 0;
}

int hostaddr_set(hostaddr *h, const uint8_t (*addrs)[16], const uint8_t *versions, size_t n)
{
    if (!h || (n && (!addrs || !versions)))
        return -1;
    for (size_t i = 0; i < n; i++)
        if (versions[i] != 4 && versions[i] != 6)
            return -1;
    struct hostaddr_entry *v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return -1;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        add_unique(v, &m, versions[i], addrs[i]);
    replace(h, v, m);
    return 0;
}

/* Whether the first `prefix` bits of a and b agree. */
static int prefix_eq(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
    unsigned whole = prefix / 8, rest = prefix % 8;
    if (memcmp(a, b, whole) != 0)
        return 0;
    if (rest == 0)
        return 1;
    uint8_t mask = (uint8_t)(0xffu << (8 - rest));
    return (a[whole] & mask) == (b[whole] & mask);
}

int hostaddr_contains(const hostaddr *h, int ip_version, const uint8_t *addr)
{
    if (!h || !addr || (ip_version != 4 && ip_version != 6))
        return 0;
    if (h->use_nets) {
        for (size_t i = 0; i < h->nnets; i++)
            if (h->nets[i].version == ip_version && prefix_eq(h->nets[i].addr, addr, h->nets[i].prefix))
                return 1;
        return 0;
    }
    for (size_t i = 0; i < h->n; i++)
        if (entry_eq(&h->v[i], ip_version, addr))
            return 1;
    return 0;
}

/* One "ADDR[/N]" item of `len` bytes into *net; 0, or -1 with the reason in why. */
static int parse_net(const char *item, size_t len, struct hostaddr_net *net, const char **why)
{
    char buf[INET6_ADDRSTRLEN + 8];
    if (len == 0) {
        *why = "empty item";
        return -1;
    }
    if (len >= sizeof buf) {
        *why = "not an IPv4 or IPv6 address";
        return -1;
    }
    memcpy(buf, item, len);
    buf[len] = '\0';
    char *slash = strchr(buf, '/');
    if (slash)
        *slash = '\0';
    memset(net, 0, sizeof *net);
    if (inet_pton(AF_INET, buf, net->addr) == 1) {
        net->version = 4;
        net->prefix = 32;
    } else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
        net->version = 6;
        net->prefix = 128;
    } else {
        *why = "not an IPv4 or IPv6 address";
        return -1;
    }
    if (slash) {
        const char *p = slash + 1;
        unsigned v = 0;
        size_t digits = 0;
        for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
            v = v * 10 + (unsigned)(*p - '0');
        if (digits == 0 || *p != '\0' || v > net->prefix) {
            *why = net->version == 4 ? "prefix length must be in [0, 32]" : "prefix length must be in [0, 128]";
            return -1;
        }
        net->prefix = (uint8_t)v;
    }
    /* clear the host bits, so the network compares by its prefix only */
    unsigned bits = net->version == 4 ? 32 : 128;
    for (unsigned b = net->prefix; b < bits; b++)
        net->addr[b / 8] &= (uint8_t)~(0x80u >> (b % 8));
    return 0;
}

int hostaddr_parse_networks(const char *list, struct hostaddr_net **out, size_t *n, char *err, size_t errlen)
{
    if (out)
        *out = NULL;
    if (n)
        *n = 0;
    if (!list) {
        snprintf(err, errlen, "no list");
        return -1;
    }
    size_t count = 1;
    for (const char *c = list; *c; c++)
        count += *c == ',';
    if (count > HOSTADDR_MAX_NETWORKS) {
        snprintf(err, errlen, "more than %u networks", HOSTADDR_MAX_NETWORKS);
        return -1;
    }
    struct hostaddr_net *v = calloc(count, sizeof *v);
    if (!v) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t m = 0;
    const char *p = list;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        while (len && (*s == ' ' || *s == '\t')) {
            s++;
            len--;
        }
        while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        const char *why = NULL;
        if (parse_net(s, len, &v[m], &why) != 0) {
            snprintf(err, errlen, "\"%.*s\": %s", (int)(len > 64 ? 64 : len), s, why);
            free(v);
            return -1;
        }
        m++;
        if (!end)
            break;
        p = end + 1;
    }
    if (out)
        *out = v;
    else
        free(v);
    if (n)
        *n = m;
    return 0;
}

int hostaddr_use_networks(hostaddr *h, const char *list, char *err, size_t errlen)
{
    if (!h) {
        snprintf(err, errlen, "no address set");
        return -1;
    }
    struct hostaddr_net *v = NULL;
    size_t n = 0;
    if (hostaddr_parse_networks(list, &v, &n, err, errlen) != 0)
        return -1;
    free(h->nets);
    h->nets = v;
    h->nnets = n;
    h->use_nets = true;
    replace(h, NULL, 0);
    return 0;
}
