/*
 * topology.c — the topology hook's thread: tables, change events, snapshots
 * (see topology.h).
 *
 * Why this shape: the kernel already tells us every change (rtnetlink
 * multicast groups for links, IPv4/IPv6 addresses and routes, neighbours), so
 * the hook keeps its own copy of those four tables and turns each
 * notification into at most one change event by comparing it with the copy
 * (a NEWADDR for an address already known is an update, not an addition).
 * The periodic snapshot re-dumps every table and diffs the dump against the
 * copy the same way, so anything a notification did not say (a lost burst,
 * ENOBUFS, IPv4 routes that the kernel drops silently when their link goes
 * down) is still reported, once, and the copy never drifts. WireGuard has no
 * notifications: its interfaces are polled every second and diffed
 * (topology_wg.c). LLDP/CDP frames come from the capture thread's side ring
 * and are decoded here (l2_neighbors.c).
 *
 * Threads: main calls create/start/stop/destroy; everything else, including
 * the three netlink sockets and the tables, belongs to the hook thread.
 * Counters are relaxed atomics (stats() may run on any thread). Nothing that
 * fails here is fatal: a failed dump, read or WireGuard query is counted and
 * listed in the next snapshot's `errors`.
 */
#include "topology.h"

#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>

#include "../../capture/capture.h"
#include "../../common/caps.h"
#include "../../common/hostaddr.h"
#include "../../common/log.h"
#include "../../common/timefmt.h"
#include "../../config/config.h"
#include "l2_neighbors.h"
#include "topology_nl.h"
#include "topology_wg.h"

#define TOPO_BUF_SIZE       (64u * 1024u)     /* netlink receive buffer */
#define TOPO_TICK_MS        100               /* poll timeout: L2 ring and stop latency */
#define TOPO_FILE_TICK_US   2000u             /* file mode: L2 ring drain period */
#define TOPO_WG_POLL_US     (1000u * 1000u)   /* WireGuard poll period */
#define TOPO_RESYNC_DELAY_US (300u * 1000u)   /* after a link goes down or away */
#define TOPO_MAX_ERRORS     16
#define TOPO_L2_TABLE       1024              /* LLDP/CDP neighbours remembered */
#define TOPO_MON_RCVBUF     (4 << 20)

enum kind { K_LINK, K_ADDR, K_ROUTE, K_NEIGH, K_COUNT };

/* A growable array of one entry type (tnl_link, tnl_addr, ...). */
struct vec {
    unsigned char *v;
    size_t n, cap, size;
};

struct topology {
    /* Set by create. */
    uint32_t interval_s;
    bool file_mode;
    char capif[256];               /* the capture's interface (or file base name) */
    ring *l2;                      /* LLDP/CDP frames from the capture */
    hostaddr_signal *addr_signal;  /* bumped on address changes (main's; may be NULL) */
    ring *out;                     /* set by start */

    pthread_t thread;
    bool running;
    atomic_bool stop;

    /* Hook thread only. */
    struct mnl_socket *mon, *req, *genl;
    uint16_t wg_family;
    uint32_t seq;
    unsigned char *buf;
    struct vec tab[K_COUNT];
    struct twg_dev *wg;
    size_t nwg;
    bool wg_initial;
    l2n_table *l2tab;
    struct capture_l2_frame frame;
    char errs[TOPO_MAX_ERRORS][256];
    size_t nerrs;
    uint64_t resync_at_us;         /* monotonic; 0 = none pending */

    /* Any thread. */
    _Atomic uint64_t snapshots, changes, emit_drops, json_errors;
    _Atomic uint64_t netlink_errors, wg_errors;
    _Atomic uint64_t lldp, cdp, l2_truncated, l2_undecodable, l2_repeats;
    _Atomic uint64_t l2_rate_limited;  /* reports suppressed by l2n's rate limit */
};

static void count(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }
static uint64_t load(const _Atomic uint64_t *c) { return atomic_load_explicit(c, memory_order_relaxed); }

/* ---- small helpers -------------------------------------------------------- */

static void add_error(struct topology *t, _Atomic uint64_t *counter, const char *msg)
{
    count(counter);
    log_debug("topology: %s", msg);
    for (size_t i = 0; i < t->nerrs; i++)
        if (strcmp(t->errs[i], msg) == 0)
            return;
    if (t->nerrs < TOPO_MAX_ERRORS)
        snprintf(t->errs[t->nerrs++], sizeof t->errs[0], "%s", msg);
}

static void emit(struct topology *t, cJSON *o, _Atomic uint64_t *counter)
{
    if (!o) {
        count(&t->json_errors);
        return;
    }
    if (hook_emit(t->out, o))
        count(counter);
    else
        count(&t->emit_drops);
}

static void *vec_at(const struct vec *x, size_t i) { return x->v + i * x->size; }

static bool vec_push(struct vec *x, const void *e)
{
    if (x->n == x->cap) {
        size_t ncap = x->cap ? x->cap * 2 : 16;
        unsigned char *nv = realloc(x->v, ncap * x->size);
        if (!nv)
            return false;
        x->v = nv;
        x->cap = ncap;
    }
    memcpy(vec_at(x, x->n++), e, x->size);
    return true;
}

static void vec_del(struct vec *x, size_t i)
{
    memmove(vec_at(x, i), vec_at(x, i + 1), (x->n - i - 1) * x->size);
    x->n--;
}

static void vec_free(struct vec *x)
{
    free(x->v);
    x->v = NULL;
    x->n = x->cap = 0;
}

static bool same(enum kind k, const void *a, const void *b)
{
    switch (k) {
    case K_LINK:  return ((const struct tnl_link *)a)->index == ((const struct tnl_link *)b)->index;
    case K_ADDR:  return tnl_addr_same(a, b);
    case K_ROUTE: return tnl_route_same(a, b);
    default:      return tnl_neigh_same(a, b);
    }
}

static long vec_find(const struct vec *x, enum kind k, const void *e)
{
    for (size_t i = 0; i < x->n; i++)
        if (same(k, vec_at(x, i), e))
            return (long)i;
    return -1;
}

static const char *ifname_of(void *ctx, int index)
{
    const struct topology *t = ctx;
    const struct vec *x = &t->tab[K_LINK];
    for (size_t i = 0; i < x->n; i++) {
        const struct tnl_link *l = vec_at(x, i);
        if (l->index == index)
            return l->name;
    }
    return NULL;
}

static cJSON *entry_json(struct topology *t, enum kind k, const void *e)
{
    switch (k) {
    case K_LINK:  return tnl_link_json(e, ifname_of, t);
    case K_ADDR:  return tnl_addr_json(e, ifname_of, t);
    case K_ROUTE: return tnl_route_json(e, ifname_of, t);
    default:      return tnl_neigh_json(e, ifname_of, t);
    }
}

/* {"type":"topology_change","change":CHANGE, ...fields of `entry`} (entry consumed). */
static cJSON *change_obj(const char *change, cJSON *entry)
{
    cJSON *o = entry ? cJSON_CreateObject() : NULL;
    if (!o || !cJSON_AddStringToObject(o, "type", "topology_change") ||
        !cJSON_AddStringToObject(o, "change", change)) {
        cJSON_Delete(o);
        cJSON_Delete(entry);
        return NULL;
    }
    while (entry->child) {
        cJSON *c = cJSON_DetachItemViaPointer(entry, entry->child);
        if (!cJSON_AddItemToObject(o, c->string, c)) {
            cJSON_Delete(c);
            cJSON_Delete(entry);
            cJSON_Delete(o);
            return NULL;
        }
    }
    cJSON_Delete(entry);
    return o;
}

static void emit_change(struct topology *t, enum kind k, const char *change, const void *e)
{
    cJSON *o = change_obj(change, entry_json(t, k, e));
    if (o && k == K_LINK && !cJSON_AddStringToObject(o, "interface", ((const struct tnl_link *)e)->name)) {
        cJSON_Delete(o);
        o = NULL;
    }
    emit(t, o, &t->changes);
}

static const char *const ADDED[K_COUNT] = {"link_added", "address_added", "route_added", "neighbor_added"};
static const char *const REMOVED[K_COUNT] = {"link_removed", "address_removed", "route_removed", "neighbor_removed"};

/* A wireguard-go (or other UAPI) device shows up as a "tun" link with a socket. */
static void fix_kind(struct tnl_link *l)
{
    if ((strcmp(l->kind, "tun") == 0 || strcmp(l->kind, "none") == 0) && twg_uapi_present(TWG_UAPI_DIR, l->name))
        snprintf(l->kind, sizeof l->kind, "wireguard");
}

/* ---- applying one entry / a whole dump ------------------------------------ */

/* An existing link changed: link_up/link_down when its up state flipped. */
static void link_updated(struct topology *t, const struct tnl_link *old, const struct tnl_link *cur, bool quiet)
{
    bool was = tnl_link_is_up(old), is = tnl_link_is_up(cur);
    if (was == is)
        return;
    if (!quiet)
        emit_change(t, K_LINK, is ? "link_up" : "link_down", cur);
    if (!is && !t->resync_at_us)
        t->resync_at_us = timefmt_mono_us() + TOPO_RESYNC_DELAY_US;
}

/* Notification path: `present` false means the entry is gone. */
static void apply(struct topology *t, enum kind k, const void *e, bool present)
{
    struct vec *x = &t->tab[k];
    long i = vec_find(x, k, e);
    if (present) {
        if (i < 0) {
            if (!vec_push(x, e)) {
                count(&t->json_errors);
                return;
            }
            emit_change(t, k, ADDED[k], e);
        } else {
            if (k == K_LINK)
                link_updated(t, vec_at(x, (size_t)i), e, false);
            memcpy(vec_at(x, (size_t)i), e, x->size);
        }
        return;
    }
    if (i < 0)
        return;
    emit_change(t, k, REMOVED[k], vec_at(x, (size_t)i));
    vec_del(x, (size_t)i);
    if (k == K_LINK && !t->resync_at_us)
        t->resync_at_us = timefmt_mono_us() + TOPO_RESYNC_DELAY_US;
}

/* Dump path: `fresh` is the whole table; report the difference, then adopt it. */
static void adopt(struct topology *t, enum kind k, struct vec *fresh, bool quiet)
{
    struct vec *old = &t->tab[k];
    if (!quiet) {
        for (size_t i = 0; i < old->n; i++)
            if (vec_find(fresh, k, vec_at(old, i)) < 0)
                emit_change(t, k, REMOVED[k], vec_at(old, i));
    }
    for (size_t i = 0; i < fresh->n; i++) {
        long j = vec_find(old, k, vec_at(fresh, i));
        if (j < 0 && !quiet)
            emit_change(t, k, ADDED[k], vec_at(fresh, i));
        else if (j >= 0 && k == K_LINK)
            link_updated(t, vec_at(old, (size_t)j), vec_at(fresh, i), quiet);
    }
    vec_free(old);
    *old = *fresh;
    memset(fresh, 0, sizeof *fresh);
    fresh->size = old->size;
}

struct dump_arg {
    struct topology *t;
    enum kind k;
    struct vec *into;
    bool failed;
};

static void on_dump_msg(const struct nlmsghdr *nlh, void *arg)
{
    struct dump_arg *d = arg;
    union { struct tnl_link l; struct tnl_addr a; struct tnl_route r; struct tnl_neigh n; } e;
    int rc;
    switch (d->k) {
    case K_LINK:
        rc = tnl_parse_link(nlh, &e.l);
        if (rc > 0)
            fix_kind(&e.l);
        break;
    case K_ADDR:  rc = tnl_parse_addr(nlh, &e.a); break;
    case K_ROUTE: rc = tnl_parse_route(nlh, &e.r); break;
    default:
        rc = tnl_parse_neigh(nlh, &e.n);
        if (rc > 0 && !tnl_neigh_present(&e.n))
            rc = 0;
        break;
    }
    if (rc > 0 && vec_find(d->into, d->k, &e) < 0 && !vec_push(d->into, &e))
        d->failed = true;
}

/* Re-read every table; report differences unless quiet (the first read). */
static void resync(struct topology *t, bool quiet)
{
    static const uint16_t req[K_COUNT] = {RTM_GETLINK, RTM_GETADDR, RTM_GETROUTE, RTM_GETNEIGH};
    char err[256];
    if (!t->req)
        return;
    for (int k = 0; k < K_COUNT; k++) {
        struct vec fresh = {.size = t->tab[k].size};
        struct dump_arg d = {t, (enum kind)k, &fresh, false};
        if (tnl_dump(t->req, req[k], AF_UNSPEC, ++t->seq, t->buf, TOPO_BUF_SIZE, on_dump_msg, &d,
                     err, sizeof err) != 0 || d.failed) {
            if (d.failed)
                snprintf(err, sizeof err, "netlink dump: out of memory");
            add_error(t, &t->netlink_errors, err);
            vec_free(&fresh);
            continue;                 /* keep the old copy of this table */
        }
        adopt(t, (enum kind)k, &fresh, quiet);
    }
    hostaddr_signal_bump(t->addr_signal);   /* cheap; the sender re-reads its set once */
}

/* ---- notifications -------------------------------------------------------- */

static int on_notify(const struct nlmsghdr *nlh, void *data)
{
    struct topology *t = data;
    union { struct tnl_link l; struct tnl_addr a; struct tnl_route r; struct tnl_neigh n; } e;
    switch (nlh->nlmsg_type) {
    case RTM_NEWLINK:
    case RTM_DELLINK:
        if (tnl_parse_link(nlh, &e.l) > 0) {
            fix_kind(&e.l);
            apply(t, K_LINK, &e.l, nlh->nlmsg_type == RTM_NEWLINK);
        }
        break;
    case RTM_NEWADDR:
    case RTM_DELADDR:
        hostaddr_signal_bump(t->addr_signal);   /* the sender re-reads the host's addresses now */
        if (tnl_parse_addr(nlh, &e.a) > 0)
            apply(t, K_ADDR, &e.a, nlh->nlmsg_type == RTM_NEWADDR);
        break;
    case RTM_NEWROUTE:
    case RTM_DELROUTE:
        if (tnl_parse_route(nlh, &e.r) > 0)
            apply(t, K_ROUTE, &e.r, nlh->nlmsg_type == RTM_NEWROUTE);
        break;
    case RTM_NEWNEIGH:
    case RTM_DELNEIGH:
        if (tnl_parse_neigh(nlh, &e.n) > 0)
            apply(t, K_NEIGH, &e.n, nlh->nlmsg_type == RTM_NEWNEIGH && tnl_neigh_present(&e.n));
        break;
    default:
        break;
    }
    return MNL_CB_OK;
}

/* Read every queued notification. ENOBUFS: some were lost; resynchronise now. */
static void read_notifications(struct topology *t)
{
    char err[256];
    for (;;) {
        ssize_t n = mnl_socket_recvfrom(t->mon, t->buf, TOPO_BUF_SIZE);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            snprintf(err, sizeof err, "netlink notification read: %s%s", strerror(errno),
                     errno == ENOBUFS ? " (notifications lost; tables re-read)" : "");
            add_error(t, &t->netlink_errors, err);
            if (errno == ENOBUFS) {
                t->resync_at_us = timefmt_mono_us();
                continue;
            }
            return;
        }
        if (mnl_cb_run(t->buf, (size_t)n, 0, 0, on_notify, t) < 0) {
            snprintf(err, sizeof err, "netlink notification: malformed message");
            add_error(t, &t->netlink_errors, err);
        }
    }
}

/* ---- WireGuard ------------------------------------------------------------ */

static void on_wg_change(void *ctx, const char *change, const char *ifname, const struct twg_peer *p)
{
    struct topology *t = ctx;
    cJSON *o = change_obj(change, twg_peer_json(p));
    if (o && !cJSON_AddStringToObject(o, "interface", ifname)) {
        cJSON_Delete(o);
        o = NULL;
    }
    emit(t, o, &t->changes);
}

static struct twg_dev *wg_find(struct topology *t, const char *ifname)
{
    for (size_t i = 0; i < t->nwg; i++)
        if (strcmp(t->wg[i].ifname, ifname) == 0)
            return &t->wg[i];
    return NULL;
}

static bool is_wg_link(const struct topology *t, const char *ifname)
{
    const struct vec *x = &t->tab[K_LINK];
    for (size_t i = 0; i < x->n; i++) {
        const struct tnl_link *l = vec_at(x, i);
        if (strcmp(l->name, ifname) == 0)
            return strcmp(l->kind, "wireguard") == 0;
    }
    return false;
}

static void wg_poll(struct topology *t)
{
    char err[256];
    int64_t now_s = (int64_t)(timefmt_now_us() / 1000000u);
    const struct vec *links = &t->tab[K_LINK];

    for (size_t i = 0; i < links->n; i++) {
        const struct tnl_link *l = vec_at(links, i);
        if (strcmp(l->kind, "wireguard") != 0)
            continue;
        struct twg_dev cur = {{0}};
        int rc;
        if (twg_uapi_present(TWG_UAPI_DIR, l->name)) {
            rc = twg_get_uapi(TWG_UAPI_DIR, l->name, &cur, err, sizeof err);
        } else {
            struct caps_saved admin;
            caps_raise(CAP_NET_ADMIN, &admin);  /* socket opened and used with it (genl permission) */
            if (!t->genl) {
                t->genl = mnl_socket_open(NETLINK_GENERIC);
                if (t->genl && mnl_socket_bind(t->genl, 0, MNL_SOCKET_AUTOPID) < 0) {
                    mnl_socket_close(t->genl);
                    t->genl = NULL;
                }
            }
            t->seq += 2;
            rc = twg_get_genl(t->genl, &t->wg_family, t->seq, l->name, t->buf, TOPO_BUF_SIZE, &cur,
                              err, sizeof err);
            caps_restore(&admin);
        }
        if (rc != 0) {
            add_error(t, &t->wg_errors, err);
            twg_dev_clear(&cur);
            continue;                  /* keep what we knew: no spurious peer removals */
        }
        struct twg_dev *prev = wg_find(t, l->name);
        twg_diff(prev, &cur, now_s, t->wg_initial, on_wg_change, t);
        if (prev) {
            twg_dev_clear(prev);
            *prev = cur;
        } else {
            struct twg_dev *nv = realloc(t->wg, (t->nwg + 1) * sizeof *nv);
            if (!nv) {
                twg_dev_clear(&cur);
                count(&t->json_errors);
                continue;
            }
            t->wg = nv;
            t->wg[t->nwg++] = cur;
        }
    }
    /* Interfaces that are gone (or no longer WireGuard): their peers are gone too. */
    for (size_t i = 0; i < t->nwg;) {
        if (is_wg_link(t, t->wg[i].ifname)) {
            i++;
            continue;
        }
        twg_diff(&t->wg[i], NULL, now_s, false, on_wg_change, t);
        twg_dev_clear(&t->wg[i]);
        t->wg[i] = t->wg[--t->nwg];
    }
    t->wg_initial = false;
}

/* ---- snapshot ------------------------------------------------------------- */

/* The snapshot object of the tables as they are now (clears the error list); NULL when out of memory. */
static cJSON *snapshot_json(struct topology *t)
{
    static const char *const keys[K_COUNT] = {"interfaces", "addresses", "routes", "neighbors"};
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddStringToObject(o, "type", "topology");
    for (int k = 0; ok && k < K_COUNT; k++) {
        cJSON *a = cJSON_AddArrayToObject(o, keys[k]);
        ok = a != NULL;
        for (size_t i = 0; ok && i < t->tab[k].n; i++) {
            cJSON *e = entry_json(t, (enum kind)k, vec_at(&t->tab[k], i));
            ok = e && cJSON_AddItemToArray(a, e);
        }
    }
    cJSON *w = ok ? cJSON_AddArrayToObject(o, "wireguard") : NULL;
    ok = w != NULL;
    for (size_t i = 0; ok && i < t->nwg; i++) {
        cJSON *d = twg_dev_json(&t->wg[i]);
        ok = d && cJSON_AddItemToArray(w, d);
    }
    cJSON *errs = ok ? cJSON_AddArrayToObject(o, "errors") : NULL;
    ok = errs != NULL;
    for (size_t i = 0; ok && i < t->nerrs; i++) {
        cJSON *s = cJSON_CreateString(t->errs[i]);
        ok = s && cJSON_AddItemToArray(errs, s);
    }
    t->nerrs = 0;
    if (!ok) {
        cJSON_Delete(o);
        o = NULL;
    }
    return o;
}

static void emit_snapshot(struct topology *t)
{
    emit(t, snapshot_json(t), &t->snapshots);
}

/* ---- LLDP / CDP ----------------------------------------------------------- */

static void drain_l2(struct topology *t)
{
    while (ring_pop(t->l2, &t->frame)) {
        struct capture_l2_frame *f = &t->frame;
        struct l2n_neighbor n;
        size_t caplen = f->caplen <= CAPTURE_L2_MAX ? f->caplen : CAPTURE_L2_MAX;
        enum l2n_status st = l2n_decode_frame(f->kind, &f->info, f->data, caplen,
                                              (f->flags & CAPTURE_L2_F_TRUNCATED) != 0, &n);
        if (st != L2N_OK) {
            count(&t->l2_undecodable);
            continue;
        }
        if (n.truncated)
            count(&t->l2_truncated);
        enum l2n_verdict v = l2n_table_judge(t->l2tab, &n, f->ts_us);
        if (v == L2N_RATE_LIMITED) {
            count(&t->l2_rate_limited);
            continue;
        }
        if (v != L2N_REPORT) {
            count(&t->l2_repeats);
            continue;
        }
        emit(t, l2n_to_json(&n, &f->info, t->capif, f->ts_us), n.kind == DECODE_L2_LLDP ? &t->lldp : &t->cdp);
    }
}

/* ---- thread --------------------------------------------------------------- */

static int open_netlink(struct topology *t, char *err, size_t errlen)
{
    t->req = mnl_socket_open(NETLINK_ROUTE);
    if (!t->req || mnl_socket_bind(t->req, 0, MNL_SOCKET_AUTOPID) < 0) {
        snprintf(err, errlen, "rtnetlink socket: %s", strerror(errno));
        return -1;
    }
    t->mon = mnl_socket_open(NETLINK_ROUTE);
    unsigned groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR | RTMGRP_IPV4_ROUTE |
                      RTMGRP_IPV6_ROUTE | RTMGRP_NEIGH;
    if (!t->mon || mnl_socket_bind(t->mon, groups, MNL_SOCKET_AUTOPID) < 0) {
        snprintf(err, errlen, "rtnetlink notification socket: %s", strerror(errno));
        return -1;
    }
    int fd = mnl_socket_get_fd(t->mon), sz = TOPO_MON_RCVBUF;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) != 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        snprintf(err, errlen, "rtnetlink notification socket: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static bool stopping(struct topology *t) { return atomic_load_explicit(&t->stop, memory_order_acquire); }

static void run_file_mode(struct topology *t)
{
    while (!stopping(t)) {
        drain_l2(t);
        struct timespec ts = {0, (long)TOPO_FILE_TICK_US * 1000L};
        nanosleep(&ts, NULL);
    }
}

static void run_live(struct topology *t)
{
    char err[256];
    if (open_netlink(t, err, sizeof err) != 0) {
        /* Not fatal: snapshots go on with the error listed (and LLDP/CDP still work). */
        add_error(t, &t->netlink_errors, err);
        log_warn("topology: %s", err);
    }
    resync(t, true);
    wg_poll(t);
    emit_snapshot(t);
    uint64_t now = timefmt_mono_us();
    uint64_t next_snap = now + (uint64_t)t->interval_s * 1000000u;
    uint64_t next_wg = now + TOPO_WG_POLL_US;

    while (!stopping(t)) {
        drain_l2(t);
        if (t->mon) {
            struct pollfd p = {.fd = mnl_socket_get_fd(t->mon), .events = POLLIN};
            int rc = poll(&p, 1, TOPO_TICK_MS);
            if (rc > 0)
                read_notifications(t);
        } else {
            struct timespec ts = {0, TOPO_TICK_MS * 1000000L};
            nanosleep(&ts, NULL);
        }
        now = timefmt_mono_us();
        if (t->resync_at_us && now >= t->resync_at_us) {
            t->resync_at_us = 0;
            resync(t, false);
        }
        if (now >= next_wg) {
            wg_poll(t);
            next_wg = now + TOPO_WG_POLL_US;
        }
        if (now >= next_snap) {
            resync(t, false);
            wg_poll(t);
            emit_snapshot(t);
            next_snap = now + (uint64_t)t->interval_s * 1000000u;
        }
    }
}

static void *topology_thread(void *arg)
{
    struct topology *t = arg;
    caps_thread_init("topology");
    if (t->file_mode)
        run_file_mode(t);
    else
        run_live(t);
    drain_l2(t);   /* the capture has stopped: whatever it copied is reported */
    return NULL;
}

/* ---- hook ops ------------------------------------------------------------- */

static int topo_start(void *self, ring *out, char *err, size_t errlen)
{
    struct topology *t = self;
    t->out = out;
    atomic_store(&t->stop, false);
    int rc = pthread_create(&t->thread, NULL, topology_thread, t);
    if (rc != 0) {
        snprintf(err, errlen, "topology: cannot start thread: %s", strerror(rc));
        return -1;
    }
    t->running = true;
    return 0;
}

static void topo_stop(void *self)
{
    struct topology *t = self;
    if (!t->running)
        return;
    /* Release: pairs with the acquire in stopping(). */
    atomic_store_explicit(&t->stop, true, memory_order_release);
    pthread_join(t->thread, NULL);
    t->running = false;
}

static void topo_stats(void *self, cJSON *into)
{
    struct topology *t = self;
    const struct { const char *k; uint64_t v; } c[] = {
        {"snapshots", load(&t->snapshots)}, {"changes", load(&t->changes)},
        {"netlink_errors", load(&t->netlink_errors)}, {"wireguard_errors", load(&t->wg_errors)},
        {"lldp_neighbors", load(&t->lldp)}, {"cdp_neighbors", load(&t->cdp)},
        {"l2_truncated", load(&t->l2_truncated)}, {"l2_undecodable", load(&t->l2_undecodable)},
        {"l2_repeats_suppressed", load(&t->l2_repeats)}, {"l2_ring_drops", ring_drops(t->l2)},
        {"l2_rate_limited", load(&t->l2_rate_limited)},
        {"event_drops", load(&t->emit_drops)}, {"json_errors", load(&t->json_errors)}};
    for (size_t i = 0; into && i < sizeof c / sizeof c[0]; i++)
        cJSON_AddNumberToObject(into, c[i].k, (double)c[i].v);
}

static void topo_destroy(void *self)
{
    struct topology *t = self;
    if (!t)
        return;
    topo_stop(t);
    if (t->mon)
        mnl_socket_close(t->mon);
    if (t->req)
        mnl_socket_close(t->req);
    if (t->genl)
        mnl_socket_close(t->genl);
    for (int k = 0; k < K_COUNT; k++)
        vec_free(&t->tab[k]);
    for (size_t i = 0; i < t->nwg; i++)
        twg_dev_clear(&t->wg[i]);
    free(t->wg);
    free(t->buf);
    l2n_table_destroy(t->l2tab);
    ring_destroy(t->l2);
    free(t);
}

static const struct hook_ops TOPOLOGY_OPS = {
    .name = "topology",
    .start = topo_start,
    .stop = topo_stop,
    .stats = topo_stats,
    .destroy = topo_destroy,
};

/* The hook's state, no thread, no socket yet. NULL with a message when out of memory. */
static struct topology *topo_new(const struct config *cfg, char *err, size_t errlen)
{
    struct topology *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, errlen, "topology: out of memory");
        return NULL;
    }
    t->interval_s = cfg->topology_interval_s;
    t->file_mode = cfg->pcap_file != NULL;
    const char *cap = cfg->interface;
    if (!cap && cfg->pcap_file) {
        const char *slash = strrchr(cfg->pcap_file, '/');
        cap = slash ? slash + 1 : cfg->pcap_file;
    }
    snprintf(t->capif, sizeof t->capif, "%s", cap ? cap : "");
    t->tab[K_LINK].size = sizeof(struct tnl_link);
    t->tab[K_ADDR].size = sizeof(struct tnl_addr);
    t->tab[K_ROUTE].size = sizeof(struct tnl_route);
    t->tab[K_NEIGH].size = sizeof(struct tnl_neigh);
    t->wg_initial = true;
    atomic_init(&t->stop, false);
    t->buf = malloc(TOPO_BUF_SIZE);
    t->l2tab = l2n_table_create(TOPO_L2_TABLE);
    t->l2 = ring_create(TOPOLOGY_L2_RING_SLOTS, sizeof(struct capture_l2_frame), err, errlen);
    if (!t->buf || !t->l2tab || !t->l2) {
        if (t->l2)
            snprintf(err, errlen, "topology: out of memory");
        topo_destroy(t);
        return NULL;
    }
    return t;
}

int topology_hook_create(const struct config *cfg, struct hook *out, char *err, size_t errlen)
{
    if (cfg->topology_interval_s == 0)
        return 0;
    struct topology *t = topo_new(cfg, err, errlen);
    if (!t)
        return -2;
    out->ops = &TOPOLOGY_OPS;
    out->self = t;
    return 1;
}

ring *topology_hook_l2_ring(const struct hook *h)
{
    if (!h || h->ops != &TOPOLOGY_OPS || !h->self)
        return NULL;
    return ((struct topology *)h->self)->l2;
}

void topology_hook_set_addr_signal(const struct hook *h, hostaddr_signal *sig)
{
    if (h && h->ops == &TOPOLOGY_OPS && h->self)
        ((struct topology *)h->self)->addr_signal = sig;
}

struct cJSON *topology_snapshot_once(const struct config *cfg, char *err, size_t errlen)
{
    struct topology *t = topo_new(cfg, err, errlen);
    if (!t)
        return NULL;
    /* The first read of the tables reports no changes, but give stray events a ring anyway. */
    t->out = hook_ring_create(64, err, errlen);
    cJSON *o = NULL;
    if (t->out) {
        char why[256];
        if (open_netlink(t, why, sizeof why) != 0)
            add_error(t, &t->netlink_errors, why);     /* listed in "errors", as in a snapshot */
        resync(t, true);
        wg_poll(t);
        o = snapshot_json(t);
        if (!o)
            snprintf(err, errlen, "topology: out of memory");
        hook_ring_discard(t->out);
        ring_destroy(t->out);
    }
    topo_destroy(t);
    return o;
}
