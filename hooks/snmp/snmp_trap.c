/*
 * snmp_trap.c — the SNMP trap receiver hook (see snmp_trap.h).
 *
 * One thread owns one net-snmp session bound to the listen address (opened
 * in the creator, in the main thread, so a port in use stops the sensor at
 * start). The thread waits with select() in 200 ms rounds so stop() takes
 * effect quickly, and lets snmp_sess_read parse what arrives: net-snmp does
 * BER and USM (and answers v3 engine discovery with a report), we see each
 * datagram four times:
 *   pre_parse   counts the datagram;
 *   trap_parse  refuses a v3 message whose claimed (engine, user, level) is
 *               not on the receiver's allow-list, before USM, else lets
 *               net-snmp parse it (BER, USM);
 *   post_parse  gets the parse result: refusals, USM failures and parse
 *               errors are counted there (and the message goes no further);
 *   trap_input  gets every message that parsed: v3 user and level (again,
 *               as USM established them), community check, per-source rate
 *               limits, inform acknowledgement, the event (capped).
 * Datagrams that fail before post_parse is called are counted as malformed
 * by difference (read - parsed - failed), so every datagram lands in exactly
 * one counter.
 *
 * Global state: the v3 users are registered in net-snmp's process-wide USM
 * user list (net-snmp 5.9 has no per-session list), in the creator, before
 * any thread starts; the poller adds its own users to the same list when it
 * discovers its agents' engines. The receiver keeps them apart with its own
 * allow-list (trap_parse). Every call into net-snmp (read, timeout, select
 * info, the inform reply inside read, close) runs under the process-wide
 * library lock, snmp_client_lib_lock (see snmp_client.c for why).
 */
#include "snmp_trap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../../common/caps.h"
#include "../../config/config.h"
#include "snmp_client.h"
#include "snmp_config.h"
#include "snmp_log.h"
#include "../../common/log_json.h"
#include "snmp_values.h"

#define TRAP_TICK_MS        200
#define TRAP_MAX_COMMUNITIES 64
#define TRAP_SRC_PROBE      8      /* slots looked at per source lookup */

/* One source address's token buckets (traps, inform acknowledgements), in thousandths of a token. */
struct trap_src {
    uint8_t addr[16];
    uint8_t family;                        /* 0 = free slot */
    uint64_t last_ms;
    uint64_t tokens, itokens;
};

/* A v3 identity the receiver accepts: a trap user for one engine (its own, or ours for informs). */
struct trap_ident {
    uint8_t engine[SNMP_CFG_MAX_ENGINE_ID + 32];
    size_t engine_len;
    const char *user;                      /* points into scfg */
    int level;                             /* SNMP_SEC_LEVEL_* the user is configured for */
};

struct snmp_trap {
    char spec[300];                        /* net-snmp transport spec, for logs */
    char **communities;                    /* accepted; NULL = any */
    size_t ncommunities;
    struct snmp_config *scfg;              /* trap users; NULL without AGENT_SNMP_CONFIG */
    struct snmp_trap_limits lim;
    struct trap_ident *idents;             /* the v3 allow-list, built at create */
    size_t nidents;
    struct trap_src *srcs;                 /* open addressing, nsrcs a power of two; trap thread only */
    size_t nsrcs;
    uint64_t src_seed;
    void *sess;                            /* owned by the thread once started */
    ring *out;
    pthread_t thread;
    bool started;
    atomic_bool stop;
    _Atomic uint64_t datagrams, parsed, parse_failed, traps, informs, informs_acked, rejected_community,
        auth_failures, discovery, malformed_seen, other_pdus, events_dropped, rate_limited, truncated,
        informs_unanswered, sources_evicted;
};

static void inc(_Atomic uint64_t *c) { atomic_fetch_add_explicit(c, 1, memory_order_relaxed); }
static uint64_t get(_Atomic uint64_t *c) { return atomic_load_explicit(c, memory_order_relaxed); }

int snmp_trap_listen_spec(const char *listen, char *buf, size_t buflen)
{
    const char *host, *port;
    size_t hostlen;
    bool v6 = false;
    if (!listen || !*listen)
        return -1;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            return -1;
        host = listen + 1;
        hostlen = (size_t)(close - host);
        port = close + 2;
        v6 = true;
    } else {
        const char *colon = strrchr(listen, ':');
        if (!colon || strchr(listen, ':') != colon)
            return -1;
        host = listen;
        hostlen = (size_t)(colon - listen);
        port = colon + 1;
    }
    if (hostlen == 0 || !*port)
        return -1;
    char *end;
    errno = 0;
    unsigned long p = strtoul(port, &end, 10);
    if (errno || *end || p < 1 || p > 65535 || port[0] == '+' || port[0] == '-')
        return -1;
    for (size_t i = 0; i < hostlen; i++)
        if (host[i] == ' ' || host[i] == '/' || host[i] == '[' || host[i] == ']')
            return -1;
    int n = snprintf(buf, buflen, v6 ? "udp6:[%.*s]:%lu" : "udp:%.*s:%lu", (int)hostlen, host, p);
    return n < 0 || (size_t)n >= buflen ? -1 : 0;
}

/* Localise `password` for engine `eid` into a new buffer (*key, *keylen). 0 or -1. */
static int localized_key(const oid *ap, size_t alen, const char *password, const uint8_t *eid, size_t eidlen,
                         u_char **key, size_t *keylen)
{
    u_char ku[USM_AUTH_KU_LEN];
    size_t kulen = sizeof ku;
    *key = NULL;
    if (generate_Ku(ap, (u_int)alen, (const u_char *)password, strlen(password), ku, &kulen) != SNMPERR_SUCCESS)
        return -1;
    *key = malloc(SNMP_MAXBUF_SMALL);
    *keylen = SNMP_MAXBUF_SMALL;
    int rc = -1;
    if (*key && generate_kul(ap, (u_int)alen, (u_char *)eid, eidlen, ku, kulen, *key, keylen) == SNMPERR_SUCCESS)
        rc = 0;
    explicit_bzero(ku, sizeof ku);
    return rc;
}

/* Register user `u` for engine `eid` in net-snmp's USM list. Main thread, before threads. */
static int add_usm_user(const struct snmp_usm *u, const uint8_t *eid, size_t eidlen, char *err, size_t errlen)
{
    struct usmUser *user = usm_get_user((u_char *)eid, eidlen, u->username);
    if (user) {
        snprintf(err, errlen, "trap user \"%s\" is configured twice for the same engine id", u->username);
        return -1;
    }
    user = usm_create_user();
    if (!user)
        goto oom;
    user->engineID = netsnmp_memdup(eid, eidlen);
    user->engineIDLen = eidlen;
    user->name = strdup(u->username);
    user->secName = strdup(u->username);
    if (!user->engineID || !user->name || !user->secName)
        goto oom;
    if (u->level >= SNMP_CFG_AUTHNOPRIV) {
        const oid *ap;
        size_t alen;
        snmp_client_auth_oid(u->auth, &ap, &alen);
        free(user->authProtocol);
        user->authProtocol = snmp_duplicate_objid(ap, alen);
        user->authProtocolLen = alen;
        if (!user->authProtocol || localized_key(ap, alen, u->auth_password, eid, eidlen, &user->authKey,
                                                 &user->authKeyLen) != 0)
            goto keyfail;
        if (u->level == SNMP_CFG_AUTHPRIV) {
            const oid *pp;
            size_t plen;
            snmp_client_priv_oid(u->priv, &pp, &plen);
            free(user->privProtocol);
            user->privProtocol = snmp_duplicate_objid(pp, plen);
            user->privProtocolLen = plen;
            if (!user->privProtocol || localized_key(ap, alen, u->priv_password, eid, eidlen, &user->privKey,
                                                     &user->privKeyLen) != 0)
                goto keyfail;
            int proper = sc_get_proper_priv_length(pp, (u_int)plen);
            if (user->privKeyLen < (size_t)proper && usm_extend_user_kul(user, SNMP_MAXBUF_SMALL) != SNMPERR_SUCCESS)
                goto keyfail;
            if (proper > 0 && user->privKeyLen > (size_t)proper)
                user->privKeyLen = (size_t)proper;
        }
    }
    user->userStatus = RS_ACTIVE;
    user->userStorageType = ST_READONLY;
    usm_add_user(user);
    return 0;
oom:
    usm_free_user(user);
    snprintf(err, errlen, "out of memory");
    return -2;
keyfail:
    usm_free_user(user);
    snprintf(err, errlen, "cannot derive the keys of trap user \"%s\" (protocol not supported by net-snmp?)",
             u->username);
    return -1;
}

static int sec_level(enum snmp_cfg_level l)
{
    return l == SNMP_CFG_AUTHPRIV ? SNMP_SEC_LEVEL_AUTHPRIV
         : l == SNMP_CFG_AUTHNOPRIV ? SNMP_SEC_LEVEL_AUTHNOPRIV : SNMP_SEC_LEVEL_NOAUTH;
}

static void add_ident(struct snmp_trap *tr, const struct snmp_trap_user *u, const uint8_t *eid, size_t eidlen)
{
    struct trap_ident *id = &tr->idents[tr->nidents++];
    memcpy(id->engine, eid, eidlen);
    id->engine_len = eidlen;
    id->user = u->usm.username;
    id->level = sec_level(u->usm.level);
}

/*
 * Register the trap users in net-snmp's USM list and build the receiver's own
 * allow-list of (engine id, user, level) from the same entries. The USM list
 * is process-wide and the poller adds its users to it too (one per polled v3
 * agent, on engine discovery); the allow-list is what keeps those out: a v3
 * message whose (engine, user) is not on it never reaches USM (trap_parse).
 */
static int add_trap_users(struct snmp_trap *tr, char *err, size_t errlen)
{
    const struct snmp_config *scfg = tr->scfg;
    u_char local[SNMP_CFG_MAX_ENGINE_ID + 32];
    size_t locallen = snmpv3_get_engineID(local, sizeof local);
    if (!scfg || scfg->nusers == 0)
        return 0;
    tr->idents = calloc(scfg->nusers * 2, sizeof *tr->idents);
    if (!tr->idents) {
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    int rc = 0;
    snmp_client_lib_lock();
    for (size_t i = 0; i < scfg->nusers && rc == 0; i++) {
        const struct snmp_trap_user *u = &scfg->users[i];
        if (u->engine_id_len && (rc = add_usm_user(&u->usm, u->engine_id, u->engine_id_len, err, errlen)) == 0)
            add_ident(tr, u, u->engine_id, u->engine_id_len);
        if (rc == 0 && locallen && locallen <= sizeof local &&
            !(u->engine_id_len == locallen && memcmp(u->engine_id, local, locallen) == 0) &&
            (rc = add_usm_user(&u->usm, local, locallen, err, errlen)) == 0)
            add_ident(tr, u, local, locallen);
    }
    snmp_client_lib_unlock();
    return rc;
}

/* ---------------------------------------------------------------- per-source rate limits */

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int make_sources(struct snmp_trap *tr, char *err, size_t errlen)
{
    size_t n = 16;
    while (n < (size_t)tr->lim.max_sources * 2)
        n *= 2;
    tr->srcs = calloc(n, sizeof *tr->srcs);
    if (!tr->srcs) {
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    tr->nsrcs = n;
    /* A keyed hash, so senders cannot pick addresses that collide on purpose. */
    if (getrandom(&tr->src_seed, sizeof tr->src_seed, GRND_NONBLOCK) != (ssize_t)sizeof tr->src_seed)
        tr->src_seed = now_ms() ^ (uint64_t)(uintptr_t)tr;
    return 0;
}

/*
 * The bucket pair of the datagram's source address, or NULL when it has none
 * (the memory transport's source is a real address too). The table is
 * bounded: a lookup probes TRAP_SRC_PROBE slots and, when the source is not
 * there and no slot is free, takes over the one used longest ago (counted in
 * sources_evicted). A new or taken-over source starts with full buckets.
 */
static struct trap_src *source_bucket(struct snmp_trap *tr, const netsnmp_pdu *pdu, uint64_t now)
{
    uint8_t key[16] = {0};
    uint8_t fam;
    const struct sockaddr *sa = pdu->transport_data;
    if (sa && sa->sa_family == AF_INET && pdu->transport_data_length >= (int)sizeof(struct sockaddr_in)) {
        memcpy(key, &((const struct sockaddr_in *)pdu->transport_data)->sin_addr, 4);
        fam = 4;
    } else if (sa && sa->sa_family == AF_INET6 && pdu->transport_data_length >= (int)sizeof(struct sockaddr_in6)) {
        memcpy(key, &((const struct sockaddr_in6 *)pdu->transport_data)->sin6_addr, 16);
        fam = 6;
    } else {
        return NULL;
    }
    uint64_t h = 1469598103934665603ull ^ tr->src_seed;   /* FNV-1a, seeded, then mixed */
    for (size_t i = 0; i < sizeof key; i++)
        h = (h ^ key[i]) * 1099511628211ull;
    h ^= fam;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    struct trap_src *stalest = NULL, *free_slot = NULL;
    for (size_t i = 0; i < TRAP_SRC_PROBE; i++) {
        struct trap_src *s = &tr->srcs[(h + i) & (tr->nsrcs - 1)];
        if (s->family == fam && memcmp(s->addr, key, sizeof key) == 0)
            return s;
        if (!s->family) {
            if (!free_slot)
                free_slot = s;
        } else if (!stalest || s->last_ms < stalest->last_ms) {
            stalest = s;
        }
    }
    struct trap_src *s = free_slot ? free_slot : stalest;
    if (!free_slot)
        inc(&tr->sources_evicted);
    memcpy(s->addr, key, sizeof key);
    s->family = fam;
    s->last_ms = now;
    s->tokens = (uint64_t)tr->lim.burst * 1000u;
    s->itokens = (uint64_t)tr->lim.inform_burst * 1000u;
    return s;
}

/* Refill one bucket for elapsed_ms (rate in thousandths of a token per second; 0 = no limit). */
static void refill(uint64_t *tokens, uint32_t rate_milli, uint32_t burst, uint64_t elapsed_ms)
{
    uint64_t cap = (uint64_t)burst * 1000u;
    uint64_t add = elapsed_ms >= 1000000u ? cap : elapsed_ms * rate_milli / 1000u;   /* no overflow */
    *tokens = *tokens + add > cap ? cap : *tokens + add;
}

static bool take(uint64_t *tokens, uint32_t rate_milli)
{
    if (rate_milli == 0)
        return true;
    if (*tokens < 1000u)
        return false;
    *tokens -= 1000u;
    return true;
}

static void source_refill(const struct snmp_trap *tr, struct trap_src *s, uint64_t now)
{
    uint64_t elapsed = now > s->last_ms ? now - s->last_ms : 0;
    refill(&s->tokens, tr->lim.rate_milli, tr->lim.burst, elapsed);
    refill(&s->itokens, tr->lim.inform_rate_milli, tr->lim.inform_burst, elapsed);
    s->last_ms = now;
}

/* ---------------------------------------------------------------- the event */

static const oid SYSUPTIME0[] = {1, 3, 6, 1, 2, 1, 1, 3, 0};
static const oid SNMPTRAPOID0[] = {1, 3, 6, 1, 6, 3, 1, 1, 4, 1, 0};
static const oid SNMPTRAPENTERPRISE0[] = {1, 3, 6, 1, 6, 3, 1, 1, 4, 3, 0};
static const oid SNMPTRAPS[] = {1, 3, 6, 1, 6, 3, 1, 1, 5};

static bool oid_eq(const oid *a, size_t al, const oid *b, size_t bl)
{
    return al == bl && snmp_oid_compare(a, al, b, bl) == 0;
}

/* Source address of the datagram behind `pdu` into ip/port. */
static void source_of(const netsnmp_pdu *pdu, char *ip, size_t iplen, unsigned *port)
{
    const struct sockaddr *sa = pdu->transport_data;
    snprintf(ip, iplen, "unknown");
    *port = 0;
    if (!sa)
        return;
    if (sa->sa_family == AF_INET && pdu->transport_data_length >= (int)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)pdu->transport_data;
        inet_ntop(AF_INET, &in->sin_addr, ip, (socklen_t)iplen);
        *port = ntohs(in->sin_port);
    } else if (sa->sa_family == AF_INET6 && pdu->transport_data_length >= (int)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)pdu->transport_data;
        inet_ntop(AF_INET6, &in6->sin6_addr, ip, (socklen_t)iplen);
        *port = ntohs(in6->sin6_port);
    }
}

static bool add_oid(cJSON *o, const char *key, const oid *ids, size_t len)
{
    cJSON *v = snmp_oid_json(ids, len);
    if (!v || !cJSON_AddItemToObject(o, key, v)) {
        cJSON_Delete(v);
        return false;
    }
    return true;
}

/* RFC 3584 3.1: the SNMPv2 snmpTrapOID of a v1 trap. */
static size_t v1_trap_oid(const netsnmp_pdu *pdu, oid *out)
{
    if (pdu->trap_type >= 0 && pdu->trap_type < 6) {
        memcpy(out, SNMPTRAPS, sizeof SNMPTRAPS);
        out[OID_LENGTH(SNMPTRAPS)] = (oid)pdu->trap_type + 1;
        return OID_LENGTH(SNMPTRAPS) + 1;
    }
    size_t n = pdu->enterprise_length;
    if (!pdu->enterprise || n + 2 > MAX_OID_LEN)
        return 0;
    memcpy(out, pdu->enterprise, n * sizeof(oid));
    out[n] = 0;
    out[n + 1] = (oid)pdu->specific_type;
    return n + 2;
}

/* What one event may still take (trap_limits.max_varbinds / max_event_bytes). */
struct vb_budget {
    uint32_t left_vbs;
    size_t left_bytes;
    uint32_t total;       /* varbinds in the message */
    bool cut;
};

/* Add v to vbs when the budget allows (value + OID bytes). 0, or -1 when out of memory. */
static int add_varbind(struct vb_budget *b, cJSON *vbs, const netsnmp_variable_list *v)
{
    size_t cost = v->val_len + v->name_length * sizeof(oid);
    b->total++;
    if (b->cut || b->left_vbs == 0 || cost > b->left_bytes) {
        b->cut = true;   /* keep the varbinds in order: nothing after the first that did not fit */
        return 0;
    }
    cJSON *vb = snmp_varbind_json(v);
    if (!vb || !cJSON_AddItemToArray(vbs, vb)) {
        cJSON_Delete(vb);
        return -1;
    }
    b->left_vbs--;
    b->left_bytes -= cost;
    return 0;
}

static const char *level_name(int level)
{
    return level == SNMP_SEC_LEVEL_AUTHPRIV ? "authPriv" : level == SNMP_SEC_LEVEL_AUTHNOPRIV ? "authNoPriv"
                                                                                              : "noAuthNoPriv";
}

/* The event of an accepted trap or inform; *cut tells whether the limits cut its varbinds. */
static cJSON *trap_event(const netsnmp_pdu *pdu, const struct snmp_trap_limits *lim, bool *cut)
{
    struct vb_budget b = {.left_vbs = lim->max_varbinds, .left_bytes = lim->max_event_bytes};
    char ip[INET6_ADDRSTRLEN];
    unsigned port;
    cJSON *ev = cJSON_CreateObject();
    cJSON *vbs = cJSON_CreateArray();
    if (!ev || !vbs)
        goto oom;
    source_of(pdu, ip, sizeof ip, &port);
    const char *version = pdu->version == SNMP_VERSION_1 ? "1" : pdu->version == SNMP_VERSION_2c ? "2c" : "3";
    if (!cJSON_AddStringToObject(ev, "type", "trap") || !cJSON_AddStringToObject(ev, "source_ip", ip) ||
        !cJSON_AddNumberToObject(ev, "source_port", port) || !cJSON_AddStringToObject(ev, "version", version) ||
        !cJSON_AddStringToObject(ev, "pdu", pdu->command == SNMP_MSG_INFORM ? "inform" : "trap"))
        goto oom;
    if (pdu->command == SNMP_MSG_TRAP) {
        oid toid[MAX_OID_LEN];
        size_t tl = v1_trap_oid(pdu, toid);
        char agent[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, pdu->agent_addr, agent, sizeof agent);
        if ((tl ? !add_oid(ev, "trap_oid", toid, tl) : !cJSON_AddNullToObject(ev, "trap_oid")) ||
            !add_oid(ev, "enterprise", pdu->enterprise, pdu->enterprise ? pdu->enterprise_length : 0) ||
            !cJSON_AddNumberToObject(ev, "generic_trap", (double)pdu->trap_type) ||
            !cJSON_AddNumberToObject(ev, "specific_trap", (double)pdu->specific_type) ||
            !cJSON_AddItemToObject(ev, "uptime", snmp_u64_json((uint64_t)pdu->time & 0xffffffffu)) ||
            !cJSON_AddStringToObject(ev, "agent_address", agent))
            goto oom;
        for (const netsnmp_variable_list *v = pdu->variables; v; v = v->next_variable)
            if (add_varbind(&b, vbs, v) != 0)
                goto oom;
    } else {
        const netsnmp_variable_list *trapoid = NULL, *uptime = NULL, *enterprise = NULL;
        for (const netsnmp_variable_list *v = pdu->variables; v; v = v->next_variable) {
            if (!uptime && oid_eq(v->name, v->name_length, SYSUPTIME0, OID_LENGTH(SYSUPTIME0))) {
                uptime = v;
                continue;
            }
            if (!trapoid && v->type == ASN_OBJECT_ID && v->val.objid &&
                oid_eq(v->name, v->name_length, SNMPTRAPOID0, OID_LENGTH(SNMPTRAPOID0))) {
                trapoid = v;
                continue;
            }
            if (!enterprise && v->type == ASN_OBJECT_ID && v->val.objid &&
                oid_eq(v->name, v->name_length, SNMPTRAPENTERPRISE0, OID_LENGTH(SNMPTRAPENTERPRISE0)))
                enterprise = v;
            if (add_varbind(&b, vbs, v) != 0)
                goto oom;
        }
        /* RFC 3584 3.2: generic/specific trap and enterprise of an SNMPv2 notification. */
        long generic = 6, specific = 0;
        const oid *ent = NULL;
        size_t entlen = 0;
        if (trapoid) {
            const oid *t = trapoid->val.objid;
            size_t tl = trapoid->val_len / sizeof(oid);
            if (!add_oid(ev, "trap_oid", t, tl))
                goto oom;
            if (tl == OID_LENGTH(SNMPTRAPS) + 1 && snmp_oid_below(SNMPTRAPS, OID_LENGTH(SNMPTRAPS), t, tl) &&
                t[tl - 1] >= 1 && t[tl - 1] <= 6) {
                generic = (long)t[tl - 1] - 1;
                ent = SNMPTRAPS;
                entlen = OID_LENGTH(SNMPTRAPS);
            } else if (tl >= 2) {
                specific = (long)t[tl - 1];
                entlen = tl - 1;
                if (entlen >= 2 && t[entlen - 1] == 0)
                    entlen--;
                ent = t;
            }
        } else if (!cJSON_AddNullToObject(ev, "trap_oid")) {
            goto oom;
        }
        if (enterprise) {
            ent = enterprise->val.objid;
            entlen = enterprise->val_len / sizeof(oid);
        }
        uint64_t up;
        if ((ent ? !add_oid(ev, "enterprise", ent, entlen) : !cJSON_AddNullToObject(ev, "enterprise")) ||
            !cJSON_AddNumberToObject(ev, "generic_trap", (double)generic) ||
            !cJSON_AddNumberToObject(ev, "specific_trap", (double)specific) ||
            !(uptime && snmp_value_u64(uptime, &up) ? cJSON_AddItemToObject(ev, "uptime", snmp_u64_json(up))
                                                    : cJSON_AddNullToObject(ev, "uptime") != NULL))
            goto oom;
    }
    if (pdu->version == SNMP_VERSION_3 &&
        (!cJSON_AddStringToObject(ev, "user", pdu->securityName ? pdu->securityName : "") ||
         !cJSON_AddStringToObject(ev, "security_level", level_name(pdu->securityLevel))))
        goto oom;
    if (!cJSON_AddItemToObject(ev, "varbinds", vbs))
        goto oom;
    vbs = NULL;
    *cut = b.cut;
    if (b.cut && (!cJSON_AddTrueToObject(ev, "truncated") ||
                  !cJSON_AddNumberToObject(ev, "varbinds_total", (double)b.total)))
        goto oom;
    return ev;
oom:
    cJSON_Delete(vbs);
    cJSON_Delete(ev);
    return NULL;
}

/* ---------------------------------------------------------------- net-snmp hooks */

/*
 * RFC 3412 6 and RFC 3414 2.4: the identity a v3 message claims (security
 * model, msgFlags, msgAuthoritativeEngineID, msgUserName), read from the
 * bytes with net-snmp's bounds-checked BER readers before USM looks at them.
 * Returns 1 for a v3 message whose fields were read, 0 for another version,
 * -1 when the header does not parse (net-snmp's own parse then rejects it).
 */
static int v3_identity(u_char *data, size_t len, u_char *flags, long *model, u_char *eng, size_t *englen,
                       u_char *user, size_t *userlen)
{
    /* asn_parse_sequence leaves the sequence's content length in its length argument (not what
     * is left after it), so each constructed value is read with its own count. */
    u_char type, fl[4], sp[1024];
    size_t left = len, fllen = sizeof fl, splen = sizeof sp;
    long version, msgid, maxsize, boots, etime;
    u_char *p = asn_parse_sequence(data, &left, &type, ASN_SEQUENCE | ASN_CONSTRUCTOR, "message");
    if (!p || left > len - (size_t)(p - data) || !(p = asn_parse_int(p, &left, &type, &version, sizeof version)))
        return -1;
    if (version != SNMP_VERSION_3)
        return 0;
    size_t glen = left;
    u_char *g = asn_parse_sequence(p, &glen, &type, ASN_SEQUENCE | ASN_CONSTRUCTOR, "msgGlobalData");
    if (!g || (size_t)(g - p) + glen > left)
        return -1;
    left -= (size_t)(g - p) + glen;   /* what follows msgGlobalData */
    p = g + glen;
    if (!(g = asn_parse_int(g, &glen, &type, &msgid, sizeof msgid)) ||
        !(g = asn_parse_int(g, &glen, &type, &maxsize, sizeof maxsize)) ||
        !(g = asn_parse_string(g, &glen, &type, fl, &fllen)) || fllen != 1 ||
        !asn_parse_int(g, &glen, &type, model, sizeof *model) ||
        !asn_parse_string(p, &left, &type, sp, &splen))
        return -1;
    *flags = fl[0];
    size_t sl = splen;
    u_char *q = asn_parse_sequence(sp, &sl, &type, ASN_SEQUENCE | ASN_CONSTRUCTOR, "usmSecurityParameters");
    if (!q || (size_t)(q - sp) + sl > splen || !(q = asn_parse_string(q, &sl, &type, eng, englen)) ||
        !(q = asn_parse_int(q, &sl, &type, &boots, sizeof boots)) ||
        !(q = asn_parse_int(q, &sl, &type, &etime, sizeof etime)) ||
        !asn_parse_string(q, &sl, &type, user, userlen))
        return -1;
    return 1;
}

/*
 * net-snmp's parse step for the receiver's session (snmp_sess_add_ex). A v3
 * message naming a user goes on to USM only when (engine id, user) is on
 * the receiver's allow-list and msgFlags ask for at least the user's
 * configured level; anything else is refused here, before USM has looked up
 * a key or updated its engine-time cache, and without a report or an
 * acknowledgement: the poller's users (which share net-snmp's one USM list)
 * cannot authenticate a trap, and a forged trap cannot move the cached
 * boots/time of an agent the poller talks to. Messages without a user name
 * (engine discovery, RFC 3414 4) go on as they are: USM answers them with a
 * report or refuses them. Runs inside snmp_sess_read, under the library lock.
 */
static int trap_parse(netsnmp_session *session, netsnmp_pdu *pdu, u_char *data, size_t len)
{
    struct snmp_trap *tr = session->callback_magic;
    u_char flags = 0, eng[SNMP_CFG_MAX_ENGINE_ID + 32], user[64];
    size_t englen = sizeof eng, userlen = sizeof user;
    long model = 0;
    int v3 = v3_identity(data, len, &flags, &model, eng, &englen, user, &userlen);
    if (v3 == 1 && model == SNMP_SEC_MODEL_USM && userlen > 0) {
        int level = (flags & 3) == 3 ? SNMP_SEC_LEVEL_AUTHPRIV : (flags & 1) ? SNMP_SEC_LEVEL_AUTHNOPRIV
                                                                             : SNMP_SEC_LEVEL_NOAUTH;
        const struct trap_ident *id = NULL;
        for (size_t i = 0; i < tr->nidents && !id; i++)
            if (tr->idents[i].engine_len == englen && memcmp(tr->idents[i].engine, eng, englen) == 0 &&
                strlen(tr->idents[i].user) == userlen && memcmp(tr->idents[i].user, user, userlen) == 0)
                id = &tr->idents[i];
        if (!id)
            return SNMPERR_USM_UNKNOWNSECURITYNAME;     /* counted by trap_post_parse */
        if (level < id->level)
            return SNMPERR_USM_UNSUPPORTEDSECURITYLEVEL;
    }
    return snmp_parse(tr->sess, session, pdu, data, len);
}

static int trap_pre_parse(netsnmp_session *session, netsnmp_transport *transport, void *data, int len)
{
    (void)transport;
    (void)data;
    (void)len;
    struct snmp_trap *tr = session->callback_magic;
    inc(&tr->datagrams);
    return 1;
}

static int trap_post_parse(netsnmp_session *session, netsnmp_pdu *pdu, int result)
{
    (void)pdu;
    struct snmp_trap *tr = session->callback_magic;
    if (result == SNMPERR_SUCCESS) {
        inc(&tr->parsed);
        return 1;
    }
    inc(&tr->parse_failed);
    switch (result) {
    case SNMPERR_UNKNOWN_ENG_ID: case SNMPERR_USM_UNKNOWNENGINEID:
    case SNMPERR_NOT_IN_TIME_WINDOW: case SNMPERR_USM_NOTINTIMEWINDOW:
        inc(&tr->discovery);   /* answered with a report by net-snmp; the sender retries */
        break;
    case SNMPERR_UNKNOWN_USER_NAME: case SNMPERR_USM_UNKNOWNSECURITYNAME:
    case SNMPERR_AUTHENTICATION_FAILURE: case SNMPERR_USM_AUTHENTICATIONFAILURE:
    case SNMPERR_DECRYPTION_ERR: case SNMPERR_USM_DECRYPTIONERROR:
    case SNMPERR_UNSUPPORTED_SEC_LEVEL: case SNMPERR_USM_UNSUPPORTEDSECURITYLEVEL:
    case SNMPERR_BAD_SEC_NAME: case SNMPERR_BAD_SEC_LEVEL:
        inc(&tr->auth_failures);
        break;
    default:
        inc(&tr->malformed_seen);
        break;
    }
    return 1;
}

static bool community_ok(const struct snmp_trap *tr, const netsnmp_pdu *pdu)
{
    if (!tr->communities)
        return true;
    for (size_t i = 0; i < tr->ncommunities; i++) {
        size_t n = strlen(tr->communities[i]);
        if (pdu->community && pdu->community_len == n && memcmp(pdu->community, tr->communities[i], n) == 0)
            return true;
    }
    return false;
}

/* A v3 message USM accepted: is it one of our trap users, at its level? (trap_parse checked the
 * claimed identity before USM; this checks what USM established.) */
static bool v3_allowed(const struct snmp_trap *tr, const netsnmp_pdu *pdu)
{
    if (pdu->securityModel != SNMP_SEC_MODEL_USM || !pdu->securityName)
        return false;
    for (size_t i = 0; i < tr->nidents; i++) {
        const struct trap_ident *id = &tr->idents[i];
        if (id->engine_len == pdu->securityEngineIDLen && pdu->securityEngineID &&
            memcmp(id->engine, pdu->securityEngineID, id->engine_len) == 0 &&
            strlen(id->user) == pdu->securityNameLen && memcmp(id->user, pdu->securityName, pdu->securityNameLen) == 0)
            return pdu->securityLevel >= id->level;
    }
    return false;
}

static int trap_input(int op, netsnmp_session *session, int reqid, netsnmp_pdu *pdu, void *magic)
{
    (void)session;
    (void)reqid;
    struct snmp_trap *tr = magic;
    if (op != NETSNMP_CALLBACK_OP_RECEIVED_MESSAGE || !pdu)
        return 1;
    if (pdu->command != SNMP_MSG_TRAP && pdu->command != SNMP_MSG_TRAP2 && pdu->command != SNMP_MSG_INFORM) {
        inc(&tr->other_pdus);
        return 1;
    }
    if (pdu->version == SNMP_VERSION_3 && !v3_allowed(tr, pdu)) {
        inc(&tr->auth_failures);
        return 1;
    }
    if (pdu->version != SNMP_VERSION_3 && !community_ok(tr, pdu)) {
        inc(&tr->rejected_community);
        return 1;
    }
    /* Per source: a trap/inform bucket (over it: counted, no event, no acknowledgement, so an
     * inform is sent again later) and an acknowledgement bucket (reflection). */
    uint64_t now = now_ms();
    struct trap_src *src = source_bucket(tr, pdu, now);
    if (src)
        source_refill(tr, src, now);
    if (src && !take(&src->tokens, tr->lim.rate_milli)) {
        inc(&tr->rate_limited);
        return 1;
    }
    if (pdu->command == SNMP_MSG_INFORM && src && !take(&src->itokens, tr->lim.inform_rate_milli)) {
        inc(&tr->informs_unanswered);
    } else if (pdu->command == SNMP_MSG_INFORM) {
        netsnmp_pdu *reply = snmp_clone_pdu(pdu);   /* keeps the source address as destination */
        if (reply) {
            reply->command = SNMP_MSG_RESPONSE;
            reply->errstat = 0;
            reply->errindex = 0;
            if (snmp_sess_send(tr->sess, reply))
                inc(&tr->informs_acked);
            else
                snmp_free_pdu(reply);
        }
    }
    inc(pdu->command == SNMP_MSG_INFORM ? &tr->informs : &tr->traps);
    bool cut = false;
    cJSON *ev = trap_event(pdu, &tr->lim, &cut);
    if (cut)
        inc(&tr->truncated);
    if (!ev || !hook_emit(tr->out, ev))
        inc(&tr->events_dropped);
    return 1;
}

/* ---------------------------------------------------------------- the thread and the hook */

/*
 * Everything the receiver does with what is ready on its transport: net-snmp
 * reads the datagram (f_recv), then pre_parse, BER/USM parse, post_parse and
 * trap_input run as described at the top. The listening thread calls this for
 * its UDP socket; snmp_trap_input_datagram calls it for a memory transport,
 * so the fuzz harness runs this very path.
 */
static void trap_read(struct snmp_trap *tr, fd_set *fds)
{
    snmp_client_lib_lock();   /* USM and the engine-time cache are process-wide (snmp_client.c) */
    snmp_sess_read(tr->sess, fds);
    snmp_client_lib_unlock();
}

static void *trap_thread(void *arg)
{
    struct snmp_trap *tr = arg;
    caps_thread_init("snmp-trap");
    while (!atomic_load_explicit(&tr->stop, memory_order_acquire)) {
        int numfds = 0, block = 1;
        fd_set fds;
        struct timeval tv = {0, 0};
        FD_ZERO(&fds);
        snmp_client_lib_lock();
        snmp_sess_select_info(tr->sess, &numfds, &fds, &tv, &block);
        snmp_client_lib_unlock();
        if (block || tv.tv_sec > 0 || tv.tv_usec > TRAP_TICK_MS * 1000) {
            tv.tv_sec = 0;
            tv.tv_usec = TRAP_TICK_MS * 1000;
        }
        int n = select(numfds, &fds, NULL, NULL, &tv);
        if (n > 0)
            trap_read(tr, &fds);
        else if (n == 0) {
            snmp_client_lib_lock();
            snmp_sess_timeout(tr->sess);
            snmp_client_lib_unlock();
        }
        else if (errno != EINTR) {
            log_error("trap receiver: select: %s", strerror(errno));
            break;
        }
    }
    return NULL;
}

static int trap_start(void *self, ring *out, char *err, size_t errlen)
{
    struct snmp_trap *tr = self;
    tr->out = out;
    atomic_store(&tr->stop, false);
    int rc = pthread_create(&tr->thread, NULL, trap_thread, tr);
    if (rc != 0) {
        snprintf(err, errlen, "trap receiver: cannot start its thread: %s", strerror(rc));
        return -1;
    }
    tr->started = true;
    log_info("trap receiver listening on %s", tr->spec);
    return 0;
}

void snmp_trap_get_stats(void *self, struct snmp_trap_stats *o)
{
    struct snmp_trap *tr = self;
    memset(o, 0, sizeof *o);
    o->datagrams = get(&tr->datagrams);
    o->traps = get(&tr->traps);
    o->informs = get(&tr->informs);
    o->informs_acked = get(&tr->informs_acked);
    o->rejected_community = get(&tr->rejected_community);
    o->auth_failures = get(&tr->auth_failures);
    o->discovery = get(&tr->discovery);
    o->other_pdus = get(&tr->other_pdus);
    o->events_dropped = get(&tr->events_dropped);
    o->rate_limited = get(&tr->rate_limited);
    o->truncated = get(&tr->truncated);
    o->informs_unanswered = get(&tr->informs_unanswered);
    o->sources_evicted = get(&tr->sources_evicted);
    /* Whatever was read but neither parsed nor failed in a way post_parse saw did not parse at all. */
    uint64_t accounted = get(&tr->parsed) + get(&tr->parse_failed);
    o->malformed = get(&tr->malformed_seen) + (o->datagrams > accounted ? o->datagrams - accounted : 0);
}

static void trap_stats(void *self, cJSON *into)
{
    struct snmp_trap_stats s;
    snmp_trap_get_stats(self, &s);
    const struct { const char *k; uint64_t v; } kv[] = {
        {"trap_datagrams", s.datagrams}, {"trap_traps", s.traps}, {"trap_informs", s.informs},
        {"trap_informs_acked", s.informs_acked}, {"trap_rejected_community", s.rejected_community},
        {"trap_auth_failures", s.auth_failures}, {"trap_malformed", s.malformed},
        {"trap_discovery", s.discovery}, {"trap_other_pdus", s.other_pdus},
        {"trap_events_dropped", s.events_dropped}, {"trap_rate_limited", s.rate_limited},
        {"trap_truncated", s.truncated}, {"trap_informs_unanswered", s.informs_unanswered},
        {"trap_sources_evicted", s.sources_evicted}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        cJSON_AddItemToObject(into, kv[i].k, snmp_u64_json(kv[i].v));
}

static void trap_stop(void *self)
{
    struct snmp_trap *tr = self;
    if (!tr->started)
        return;
    atomic_store_explicit(&tr->stop, true, memory_order_release);
    pthread_join(tr->thread, NULL);
    tr->started = false;
    cJSON *st = cJSON_CreateObject();
    if (st)
        trap_stats(tr, st);
    log_cjson(LOG_INFO, "trap receiver stopped", st);   /* the counters as fields */
    cJSON_Delete(st);
}

static void free_communities(struct snmp_trap *tr)
{
    for (size_t i = 0; i < tr->ncommunities; i++) {
        explicit_bzero(tr->communities[i], strlen(tr->communities[i]));
        free(tr->communities[i]);
    }
    free(tr->communities);
    tr->communities = NULL;
    tr->ncommunities = 0;
}

static void trap_destroy(void *self)
{
    struct snmp_trap *tr = self;
    if (!tr)
        return;
    if (tr->started)
        trap_stop(tr);
    if (tr->sess) {
        snmp_client_lib_lock();
        snmp_sess_close(tr->sess);
        snmp_client_lib_unlock();
    }
    free_communities(tr);
    free(tr->idents);
    free(tr->srcs);
    snmp_config_destroy(tr->scfg);
    free(tr);
}

static const struct hook_ops TRAP_OPS = {
    .name = "trap",
    .start = trap_start,
    .stop = trap_stop,
    .stats = trap_stats,
    .destroy = trap_destroy,
};

/* Split AGENT_TRAP_COMMUNITIES on commas (blanks around each trimmed; empty entries ignored). */
static int parse_communities(struct snmp_trap *tr, const char *list, char *err, size_t errlen)
{
    if (!list)
        return 0;
    const char *p = list;
    size_t cap = 0;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        while (n && (*s == ' ' || *s == '\t')) { s++; n--; }
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
        if (n) {
            if (tr->ncommunities == TRAP_MAX_COMMUNITIES) {
                snprintf(err, errlen, "AGENT_TRAP_COMMUNITIES: at most %d communities", TRAP_MAX_COMMUNITIES);
                return -1;
            }
            if (tr->ncommunities == cap) {
                cap = cap ? cap * 2 : 4;
                char **nc = realloc(tr->communities, cap * sizeof *nc);
                if (!nc)
                    goto oom;
                tr->communities = nc;
            }
            char *c = malloc(n + 1);
            if (!c)
                goto oom;
            memcpy(c, s, n);
            c[n] = '\0';
            tr->communities[tr->ncommunities++] = c;
        }
        p = end ? end + 1 : p + strlen(p);
    }
    return 0;
oom:
    snprintf(err, errlen, "out of memory");
    return -2;
}

/* The receiver's session on transport `t` (which it takes over, even on failure). 0 or -2. */
static int trap_open_session(struct snmp_trap *tr, netsnmp_transport *t, char *err, size_t errlen)
{
    netsnmp_session s;
    snmp_sess_init(&s);
    s.peername = SNMP_DEFAULT_PEERNAME;
    s.version = SNMP_DEFAULT_VERSION;
    s.community_len = SNMP_DEFAULT_COMMUNITY_LEN;
    s.retries = SNMP_DEFAULT_RETRIES;
    s.timeout = SNMP_DEFAULT_TIMEOUT;
    s.callback = trap_input;
    s.callback_magic = tr;
    s.isAuthoritative = SNMP_SESS_UNKNOWNAUTH;
    snmp_client_lib_lock();
    tr->sess = snmp_sess_add_ex(&s, t, trap_pre_parse, trap_parse, trap_post_parse, NULL, NULL, NULL,
                                NULL);   /* owns t, even on failure */
    snmp_client_lib_unlock();
    if (!tr->sess) {
        snprintf(err, errlen, "trap receiver: cannot open a session on %s: %s", tr->spec,
                 snmp_api_errstring(s.s_snmp_errno));
        return -2;
    }
    return 0;
}

int hook_snmp_trap_create(const struct config *cfg, struct hook *out, char *err, size_t errlen)
{
    if (!cfg->trap_listen)
        return 0;
    struct snmp_trap *tr = calloc(1, sizeof *tr);
    int rc = -2;
    if (!tr) {
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    atomic_init(&tr->stop, false);
    if (snmp_trap_listen_spec(cfg->trap_listen, tr->spec, sizeof tr->spec) != 0) {
        snprintf(err, errlen, "AGENT_TRAP_LISTEN=%s: must be HOST:PORT or [IPV6]:PORT with a port in [1, 65535]",
                 cfg->trap_listen);
        rc = -1;
        goto fail;
    }
    if ((rc = parse_communities(tr, cfg->trap_communities, err, errlen)) != 0)
        goto fail;
    if (cfg->snmp_config && (rc = snmp_config_load(cfg->snmp_config, &tr->scfg, err, errlen)) != 0)
        goto fail;
    snmp_client_lib_init();
    if (tr->scfg)
        tr->lim = tr->scfg->trap_limits;
    else
        snmp_trap_limits_default(&tr->lim);
    if ((rc = make_sources(tr, err, errlen)) != 0)
        goto fail;
    if ((rc = add_trap_users(tr, err, errlen)) != 0) {
        if (rc == -1) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", err);
            snprintf(err, errlen, "AGENT_SNMP_CONFIG=%s: %s", cfg->snmp_config, msg);
        }
        goto fail;
    }
    netsnmp_transport *t = netsnmp_tdomain_transport(tr->spec, 1, "udp");
    if (!t) {
        snprintf(err, errlen, "trap receiver: cannot listen on %s (AGENT_TRAP_LISTEN=%s): %s", tr->spec,
                 cfg->trap_listen, errno ? strerror(errno) : "address not usable");
        rc = -2;
        goto fail;
    }
    if ((rc = trap_open_session(tr, t, err, errlen)) != 0)
        goto fail;
    out->ops = &TRAP_OPS;
    out->self = tr;
    return 1;
fail:
    trap_destroy(tr);
    return rc;
}

/* ---------------------------------------------------------------- the memory transport (tests, fuzzing) */

/*
 * A net-snmp transport without a socket: f_recv hands out the one datagram
 * snmp_trap_input_datagram stored (from 192.0.2.1:1162), f_send discards what
 * the receiver answers (inform acknowledgements, v3 reports). Its descriptor
 * is /dev/null, only so that net-snmp's "is it ready" test has a number.
 */
struct trap_mem {
    const uint8_t *data;   /* the pending datagram; NULL once read */
    size_t len;
};

static int mem_recv(netsnmp_transport *t, void *buf, int size, void **opaque, int *olen)
{
    struct trap_mem *m = t->data;
    *opaque = NULL;
    *olen = 0;
    if (!m->data)
        return -1;
    size_t n = m->len < (size_t)size ? m->len : (size_t)size;
    memcpy(buf, m->data, n);
    m->data = NULL;
    struct sockaddr_in *from = calloc(1, sizeof *from);   /* net-snmp frees it with the pdu */
    if (from) {
        from->sin_family = AF_INET;
        from->sin_port = htons(1162);
        from->sin_addr.s_addr = htonl(0xc0000201u);
        *opaque = from;
        *olen = (int)sizeof *from;
    }
    return (int)n;
}

static int mem_send(netsnmp_transport *t, const void *buf, int size, void **opaque, int *olen)
{
    (void)t;
    (void)buf;
    (void)opaque;
    (void)olen;
    return size;
}

static int mem_close(netsnmp_transport *t)
{
    if (t->sock >= 0)
        close(t->sock);
    t->sock = -1;
    return 0;
}

static char *mem_fmtaddr(netsnmp_transport *t, const void *data, int len)
{
    (void)t;
    (void)data;
    (void)len;
    return strdup("memory");
}

int snmp_trap_create_memory(const char *communities, const char *snmp_config_json, ring *out, struct hook *hook,
                            char *err, size_t errlen)
{
    struct snmp_trap *tr = calloc(1, sizeof *tr);
    netsnmp_transport *t = NULL;
    int rc = -2;
    if (!tr) {
        snprintf(err, errlen, "out of memory");
        return -2;
    }
    atomic_init(&tr->stop, false);
    tr->out = out;
    snprintf(tr->spec, sizeof tr->spec, "memory");
    if ((rc = parse_communities(tr, communities, err, errlen)) != 0)
        goto fail;
    if (snmp_config_json && (rc = snmp_config_parse(snmp_config_json, "memory", &tr->scfg, err, errlen)) != 0)
        goto fail;
    snmp_client_lib_init();
    if (tr->scfg)
        tr->lim = tr->scfg->trap_limits;
    else
        snmp_trap_limits_default(&tr->lim);
    if ((rc = make_sources(tr, err, errlen)) != 0 || (rc = add_trap_users(tr, err, errlen)) != 0)
        goto fail;
    rc = -2;
    t = calloc(1, sizeof *t);
    struct trap_mem *m = calloc(1, sizeof *m);
    if (!t || !m) {
        free(m);
        free(t);
        snprintf(err, errlen, "out of memory");
        goto fail;
    }
    t->data = m;                       /* net-snmp frees data and t with the session */
    t->data_length = (int)sizeof *m;
    t->sock = open("/dev/null", O_RDONLY | O_CLOEXEC);
    t->msgMaxSize = 65535;
    t->f_recv = mem_recv;
    t->f_send = mem_send;
    t->f_close = mem_close;
    t->f_fmtaddr = mem_fmtaddr;
    if (t->sock < 0 || t->sock >= FD_SETSIZE) {
        snprintf(err, errlen, "cannot open /dev/null: %s", strerror(errno));
        mem_close(t);
        free(m);
        free(t);
        goto fail;
    }
    if ((rc = trap_open_session(tr, t, err, errlen)) != 0)
        goto fail;
    hook->ops = &TRAP_OPS;
    hook->self = tr;
    return 0;
fail:
    trap_destroy(tr);
    return rc;
}

void snmp_trap_input_datagram(void *self, const uint8_t *data, size_t len)
{
    struct snmp_trap *tr = self;
    netsnmp_transport *t = snmp_sess_transport(tr->sess);
    if (!t || t->f_recv != mem_recv)
        return;
    struct trap_mem *m = t->data;
    m->data = data;
    m->len = len;
    fd_set fds;
    FD_ZERO(&fds);
    FD_SET(t->sock, &fds);
    trap_read(tr, &fds);
    m->data = NULL;
}
