/*
 * sockowner.c — socket -> process cache from sock_diag and /proc (see
 * sockowner.h for what and why).
 *
 * The socket dump uses libmnl (already the topology hook's netlink library)
 * with SOCK_DIAG_BY_FAMILY / inet_diag_req_v2 requests (linux/inet_diag.h),
 * one per family and protocol. Entries live in a fixed pool indexed by
 * uthash on the socket's (protocol, local, remote) addresses; IPv4-mapped
 * IPv6 addresses are stored as IPv4 so a dual-stack socket matches its IPv4
 * flow. Resolving inodes to processes reads every /proc/<pid>/fd once per
 * snapshot that brings new sockets, and only then; an inode no process
 * claims after three snapshots is given up (its socket may belong to
 * another PID namespace or to a process the sensor may not inspect).
 */
#define _GNU_SOURCE 1 /* fdopendir, openat, readlinkat */
#include "sockowner.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>

#define HASH_NONFATAL_OOM 1
#define uthash_nonfatal_oom(elt) ((elt)->oom = 1)
#include <uthash.h>

#define SO_MAX_TRIES 3u
#define SO_MISS_REFRESH_US 200000u
#define SO_TCP_LISTEN 10
#define SO_TCP_TIME_WAIT 6

struct so_key {                /* 40 bytes, zeroed before use */
    uint8_t  laddr[16], raddr[16];
    uint16_t lport, rport;
    uint8_t  proto, ipver;
    uint8_t  pad[2];
};

struct so_entry {
    struct so_key key;
    uint64_t inode;
    uint64_t seen_us;
    int32_t  pid;              /* > 0 resolved; 0 not yet; -1 given up */
    uint8_t  tries;
    uint8_t  oom;
    char     comm[FLOW_PROC_NAME_LEN];
    struct so_entry *next_free;
    UT_hash_handle hh;
};

/* An inode waiting for its process during one scan. */
struct so_want {
    uint64_t inode;
    struct so_entry *e;
};

struct sockowner {
    struct so_entry *pool;
    struct so_entry *free_list;
    struct so_entry *hash;
    struct so_want *want;      /* max entries */
    uint32_t max;
    uint32_t count;
    uint64_t now_us;           /* the snapshot being taken */
    uint64_t last_us;          /* when the last snapshot was taken (0: never) */
    bool     dump_failed;
    char    *buf;              /* netlink receive buffer */
    size_t   buflen;
    _Atomic uint64_t snapshots, snapshot_errors, proc_scans, proc_denied, cache_full, cached;
    _Atomic uint64_t lookups, found;
};

static void stat_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

sockowner *sockowner_create(uint32_t max_entries, char *err, size_t errlen)
{
    if (max_entries < 16) {
        snprintf(err, errlen, "sockowner: at least 16 entries");
        return NULL;
    }
    sockowner *so = calloc(1, sizeof *so);
    if (!so)
        goto oom;
    so->max = max_entries;
    so->pool = calloc(max_entries, sizeof *so->pool);
    so->want = calloc(max_entries, sizeof *so->want);
    so->buflen = MNL_SOCKET_BUFFER_SIZE > 32768 ? MNL_SOCKET_BUFFER_SIZE : 32768;
    so->buf = malloc(so->buflen);
    if (!so->pool || !so->want || !so->buf)
        goto oom;
    for (uint32_t i = max_entries; i-- > 0;) {
        so->pool[i].next_free = so->free_list;
        so->free_list = &so->pool[i];
    }
    return so;
oom:
    sockowner_destroy(so);
    snprintf(err, errlen, "sockowner: out of memory");
    return NULL;
}

void sockowner_destroy(sockowner *so)
{
    if (!so)
        return;
    HASH_CLEAR(hh, so->hash);
    free(so->pool);
    free(so->want);
    free(so->buf);
    free(so);
}

/* ---- the socket dump ---------------------------------------------------- */

/* Address bytes (network order) as stored: IPv4 in the first 4 bytes,
 * IPv4-mapped IPv6 turned into IPv4. Returns the IP version. */
static uint8_t so_addr(uint8_t family, const uint32_t raw[4], uint8_t out[16])
{
    memset(out, 0, 16);
    if (family == AF_INET) {
        memcpy(out, raw, 4);
        return 4;
    }
    const uint8_t *b = (const uint8_t *)raw;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(b, mapped, 12) == 0) {
        memcpy(out, b + 12, 4);
        return 4;
    }
    memcpy(out, b, 16);
    return 6;
}

struct dump_ctx {
    sockowner *so;
    uint8_t proto;
};

static void so_seen(sockowner *so, const struct so_key *k, uint64_t inode)
{
    struct so_entry *e = NULL;
    HASH_FIND(hh, so->hash, k, sizeof *k, e);
    if (e) {
        if (e->inode != inode) {           /* the addresses came back on a new socket */
            e->inode = inode;
            e->pid = 0;
            e->tries = 0;
            e->comm[0] = '\0';
        }
        e->seen_us = so->now_us;
        return;
    }
    if (!so->free_list) {
        stat_add(&so->cache_full, 1);
        return;
    }
    e = so->free_list;
    so->free_list = e->next_free;
    memset(e, 0, sizeof *e);
    e->key = *k;
    e->inode = inode;
    e->seen_us = so->now_us;
    HASH_ADD(hh, so->hash, key, sizeof e->key, e);
    if (e->oom) {
        e->next_free = so->free_list;
        so->free_list = e;
        stat_add(&so->cache_full, 1);
        return;
    }
    so->count++;
}

static int dump_cb(const struct nlmsghdr *nlh, void *data)
{
    struct dump_ctx *c = data;
    if (mnl_nlmsg_get_payload_len(nlh) < sizeof(struct inet_diag_msg))
        return MNL_CB_OK;                  /* short message: ignore it */
    const struct inet_diag_msg *m = mnl_nlmsg_get_payload(nlh);
    if (m->idiag_inode == 0 || (m->idiag_family != AF_INET && m->idiag_family != AF_INET6))
        return MNL_CB_OK;                  /* TIME_WAIT and orphans have no owner */
    struct so_key k;
    memset(&k, 0, sizeof k);
    uint8_t lv = so_addr(m->idiag_family, m->id.idiag_src, k.laddr);
    uint8_t rv = so_addr(m->idiag_family, m->id.idiag_dst, k.raddr);
    /* a connected socket has one version; an unconnected one takes its local
     * address's (remote :: on a socket bound to an IPv4-mapped address) */
    static const uint8_t zero[16];
    k.ipver = lv == rv || memcmp(k.raddr, zero, 16) == 0 ? lv : rv;
    k.lport = ntohs(m->id.idiag_sport);
    k.rport = ntohs(m->id.idiag_dport);
    k.proto = c->proto;
    so_seen(c->so, &k, m->idiag_inode);
    return MNL_CB_OK;
}

static int dump_one(sockowner *so, struct mnl_socket *nl, uint8_t family, uint8_t proto,
                    uint32_t seq)
{
    struct nlmsghdr *nlh = mnl_nlmsg_put_header(so->buf);
    nlh->nlmsg_type = SOCK_DIAG_BY_FAMILY;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = seq;
    struct inet_diag_req_v2 *req = mnl_nlmsg_put_extra_header(nlh, sizeof *req);
    req->sdiag_family = family;
    req->sdiag_protocol = proto;
    req->idiag_states = proto == IPPROTO_TCP
                            ? ~((1u << SO_TCP_LISTEN) | (1u << SO_TCP_TIME_WAIT))
                            : ~0u;
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
        return -1;
    unsigned portid = mnl_socket_get_portid(nl);
    struct dump_ctx c = {.so = so, .proto = proto};
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(nl, so->buf, so->buflen);
        if (n <= 0)
            return -1;
        int rc = mnl_cb_run(so->buf, (size_t)n, seq, portid, dump_cb, &c);
        if (rc == MNL_CB_STOP)
            return 0;
        if (rc < 0)
            return -1;
    }
}

static int dump_all(sockowner *so)
{
    struct mnl_socket *nl = mnl_socket_open(NETLINK_SOCK_DIAG);
    if (!nl)
        return -1;
    int rc = mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID);
    static const uint8_t fams[2] = {AF_INET, AF_INET6}, protos[2] = {IPPROTO_TCP, IPPROTO_UDP};
    uint32_t seq = 1;
    for (int f = 0; rc == 0 && f < 2; f++)
        for (int p = 0; rc == 0 && p < 2; p++)
            rc = dump_one(so, nl, fams[f], protos[p], seq++);
    mnl_socket_close(nl);
    return rc;
}

/* ---- /proc ---------------------------------------------------------------- */

static int want_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct so_want *)a)->inode, y = ((const struct so_want *)b)->inode;
    return (x > y) - (x < y);
}

/* "socket:[12345]" -> 12345; 0 when the link is something else. */
static uint64_t socket_inode(const char *link, size_t n)
{
    if (n < 10 || memcmp(link, "socket:[", 8) != 0 || link[n - 1] != ']')
        return 0;
    uint64_t v = 0;
    for (size_t i = 8; i < n - 1; i++) {
        if (!isdigit((unsigned char)link[i]) || v > UINT64_MAX / 10u)
            return 0;
        v = v * 10u + (uint64_t)(link[i] - '0');
    }
    return v;
}

static void read_comm(int procfd, int32_t pid, char out[FLOW_PROC_NAME_LEN])
{
    char path[32];
    out[0] = '\0';
    snprintf(path, sizeof path, "%d/comm", (int)pid);
    int fd = openat(procfd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, out, FLOW_PROC_NAME_LEN - 1);
    close(fd);
    if (n <= 0)
        n = 0;
    out[n] = '\0';
    char *nl = strchr(out, '\n');
    if (nl)
        *nl = '\0';
}

/* Claim every wanted inode one process's descriptors hold. */
static void scan_pid(sockowner *so, int procfd, int32_t pid, size_t nwant)
{
    char path[32];
    snprintf(path, sizeof path, "%d/fd", (int)pid);
    int fd = openat(procfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == EACCES || errno == EPERM)
            stat_add(&so->proc_denied, 1);
        return;                            /* ENOENT: the process just ended */
    }
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return;
    }
    char comm[FLOW_PROC_NAME_LEN];
    bool have_comm = false, denied = false;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char link[64];
        ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof link - 1);
        if (n < 0) {
            denied |= errno == EACCES || errno == EPERM;
            continue;
        }
        uint64_t ino = socket_inode(link, (size_t)n);
        if (!ino)
            continue;
        struct so_want key = {.inode = ino};
        struct so_want *w = bsearch(&key, so->want, nwant, sizeof *so->want, want_cmp);
        if (!w || !w->e || w->e->pid > 0)
            continue;
        if (!have_comm) {
            read_comm(procfd, pid, comm);
            have_comm = true;
        }
        w->e->pid = pid;
        memcpy(w->e->comm, comm, sizeof comm);
    }
    if (denied)
        stat_add(&so->proc_denied, 1);
    closedir(d);
}

static void resolve(sockowner *so)
{
    size_t n = 0;
    struct so_entry *e, *tmp;
    HASH_ITER(hh, so->hash, e, tmp) {
        if (e->pid == 0 && e->seen_us == so->now_us && n < so->max)
            so->want[n++] = (struct so_want){e->inode, e};
    }
    if (n == 0)
        return;
    qsort(so->want, n, sizeof *so->want, want_cmp);
    stat_add(&so->proc_scans, 1);
    int procfd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = procfd >= 0 ? fdopendir(procfd) : NULL;
    if (!d) {
        if (procfd >= 0)
            close(procfd);
    } else {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            char *end;
            errno = 0;
            long pid = strtol(de->d_name, &end, 10);
            if (!isdigit((unsigned char)de->d_name[0]) || *end || errno || pid <= 0 || pid > INT32_MAX)
                continue;                  /* not a process directory */
            scan_pid(so, dirfd(d), (int32_t)pid, n);
        }
        closedir(d);
    }
    for (size_t i = 0; i < n; i++) {
        e = so->want[i].e;
        if (e->pid == 0 && ++e->tries >= SO_MAX_TRIES)
            e->pid = -1;
    }
}

/* ---- public ------------------------------------------------------------- */

int sockowner_refresh(sockowner *so, uint64_t now_us)
{
    so->now_us = now_us;
    so->last_us = now_us ? now_us : 1;
    stat_add(&so->snapshots, 1);
    int rc = dump_all(so);
    if (rc != 0)
        stat_add(&so->snapshot_errors, 1);
    resolve(so);
    struct so_entry *e, *tmp;
    HASH_ITER(hh, so->hash, e, tmp) {
        if (now_us - e->seen_us > SOCKOWNER_KEEP_US) {
            HASH_DELETE(hh, so->hash, e);
            e->next_free = so->free_list;
            so->free_list = e;
            so->count--;
        }
    }
    atomic_store_explicit(&so->cached, so->count, memory_order_relaxed);
    return rc;
}

static const struct so_entry *find(const sockowner *so, uint8_t proto, uint8_t ipver,
                                   const uint8_t *laddr, uint16_t lport,
                                   const uint8_t *raddr, uint16_t rport)
{
    struct so_key k;
    struct so_entry *e = NULL;
    memset(&k, 0, sizeof k);
    k.proto = proto;
    k.ipver = ipver;
    memcpy(k.laddr, laddr, 16);
    memcpy(k.raddr, raddr, 16);
    k.lport = lport;
    k.rport = rport;
    HASH_FIND(hh, so->hash, &k, sizeof k, e);
    if (e || proto != IPPROTO_UDP)
        return e;
    /* An unconnected UDP socket: bound to the address, then to any address
     * (for IPv4 also a dual-stack IPv6 socket bound to ::). */
    memset(k.raddr, 0, 16);
    k.rport = 0;
    HASH_FIND(hh, so->hash, &k, sizeof k, e);
    if (e)
        return e;
    memset(k.laddr, 0, 16);
    HASH_FIND(hh, so->hash, &k, sizeof k, e);
    if (e || ipver != 4)
        return e;
    k.ipver = 6;
    HASH_FIND(hh, so->hash, &k, sizeof k, e);
    return e;
}

static int fill_side(sockowner *so, struct flow_event *ev, int side)
{
    const uint8_t *l = side ? ev->dst_ip : ev->src_ip, *r = side ? ev->src_ip : ev->dst_ip;
    uint16_t lp = side ? ev->dst_port : ev->src_port, rp = side ? ev->src_port : ev->dst_port;
    const struct so_entry *e = find(so, ev->protocol, ev->ip_version, l, lp, r, rp);
    if (!e || e->pid <= 0)
        return 0;
    ev->xs.proc_pid[side] = e->pid;
    memcpy(ev->xs.proc_name[side], e->comm, FLOW_PROC_NAME_LEN);
    ev->xs.have |= side ? XS_PROC_DST : XS_PROC_SRC;
    return 1;
}

void sockowner_fill(sockowner *so, struct flow_event *ev, uint64_t now_us)
{
    if (ev->protocol != IPPROTO_TCP && ev->protocol != IPPROTO_UDP)
        return;
    stat_add(&so->lookups, 2);
    int n = fill_side(so, ev, 0) + fill_side(so, ev, 1);
    if (n == 0 && (so->last_us == 0 || now_us - so->last_us >= SO_MISS_REFRESH_US)) {
        (void)sockowner_refresh(so, now_us);
        n = fill_side(so, ev, 0) + fill_side(so, ev, 1);
    }
    stat_add(&so->found, (uint64_t)n);
}

void sockowner_get_stats(const sockowner *so, struct sockowner_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!so)
        return;
    out->snapshots = atomic_load_explicit(&so->snapshots, memory_order_relaxed);
    out->snapshot_errors = atomic_load_explicit(&so->snapshot_errors, memory_order_relaxed);
    out->proc_scans = atomic_load_explicit(&so->proc_scans, memory_order_relaxed);
    out->proc_denied = atomic_load_explicit(&so->proc_denied, memory_order_relaxed);
    out->cache_full = atomic_load_explicit(&so->cache_full, memory_order_relaxed);
    out->cached = atomic_load_explicit(&so->cached, memory_order_relaxed);
    out->lookups = atomic_load_explicit(&so->lookups, memory_order_relaxed);
    out->found = atomic_load_explicit(&so->found, memory_order_relaxed);
}
