/*
 * snmp_collect.c — what a poll asks and how the answers become JSON
 * (see snmp_collect.h).
 *
 * Tables arrive column by column (a walk returns all of column 2, then all of
 * column 3, ...), so each table is assembled in a "rowset": row objects found
 * by their index text, with a cursor that makes the usual in-order lookups
 * O(1). Every index is taken from the OID only after its length was checked
 * against what the table's INDEX clause allows; a row with a malformed index
 * is skipped, never guessed at.
 */
#include "snmp_collect.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "snmp_values.h"

/* ---------------------------------------------------------------- rowset */

struct rowset {
    cJSON *arr;          /* the rows, in first-seen order */
    char **keys;
    cJSON **rows;
    size_t n, cap, cursor;
    bool oom;
};

static int rowset_init(struct rowset *rs)
{
    memset(rs, 0, sizeof *rs);
    rs->arr = cJSON_CreateArray();
    return rs->arr ? 0 : -1;
}

static void rowset_free(struct rowset *rs)
{
    for (size_t i = 0; i < rs->n; i++)
        free(rs->keys[i]);
    free(rs->keys);
    free(rs->rows);
    cJSON_Delete(rs->arr);
    memset(rs, 0, sizeof *rs);
}

/* Hand over the array (the rowset is then empty). */
static cJSON *rowset_take(struct rowset *rs)
{
    cJSON *a = rs->arr;
    rs->arr = NULL;
    rowset_free(rs);
    return a;
}

static cJSON *rowset_find(struct rowset *rs, const char *key)
{
    for (size_t k = 0; k < rs->n; k++) {
        size_t i = (rs->cursor + k) % rs->n;
        if (strcmp(rs->keys[i], key) == 0) {
            rs->cursor = (i + 1) % rs->n;
            return rs->rows[i];
        }
    }
    return NULL;
}

static cJSON *rowset_get(struct rowset *rs, const char *key, bool *created)
{
    *created = false;
    cJSON *row = rowset_find(rs, key);
    if (row)
        return row;
    if (rs->n == rs->cap) {
        size_t ncap = rs->cap ? rs->cap * 2 : 16;
        char **nk = realloc(rs->keys, ncap * sizeof *nk);
        if (!nk)
            goto oom;
        rs->keys = nk;
        cJSON **nr = realloc(rs->rows, ncap * sizeof *nr);
        if (!nr)
            goto oom;
        rs->rows = nr;
        rs->cap = ncap;
    }
    size_t kl = strlen(key) + 1;
    char *k = malloc(kl);
    row = cJSON_CreateObject();
    if (!k || !row || !cJSON_AddItemToArray(rs->arr, row)) {
        free(k);
        cJSON_Delete(row);
        goto oom;
    }
    memcpy(k, key, kl);
    rs->keys[rs->n] = k;
    rs->rows[rs->n] = row;
    rs->n++;
    *created = true;
    return row;
oom:
    rs->oom = true;
    return NULL;
}

/* Put item under key, replacing an earlier value. Frees item on failure. */
static bool set_item(cJSON *obj, const char *key, cJSON *item)
{
    if (!item)
        return false;
    if (cJSON_GetObjectItemCaseSensitive(obj, key))
        return cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item);
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return false;
    }
    return true;
}

static bool set_u64(cJSON *obj, const char *key, uint64_t v) { return set_item(obj, key, snmp_u64_json(v)); }
static bool set_str(cJSON *obj, const char *key, const char *s) { return set_item(obj, key, cJSON_CreateString(s)); }

/* ---------------------------------------------------------------- column kinds */

enum col_kind {
    K_NUM,        /* any integer type */
    K_TEXT,       /* octet string: text or hex */
    K_MAC,        /* octet string shown as a MAC */
    K_OID,
    K_ENUM,       /* INTEGER named through a table */
    K_HC,         /* 64-bit counter that replaces the 32-bit one of the same key */
};

struct column {
    oid col;
    const char *key;
    enum col_kind kind;
    const char *const *names;   /* K_ENUM: names[value], NULL-terminated */
    size_t nnames;
};

/* Store v into row under the column's key. Returns false when out of memory. */
static bool put_column(cJSON *row, const struct column *c, const netsnmp_variable_list *v)
{
    uint64_t u;
    long l;
    if (snmp_value_is_exception(v))
        return true;
    switch (c->kind) {
    case K_NUM:
    case K_HC:
        if (snmp_value_u64(v, &u))
            return set_u64(row, c->key, u);
        if (snmp_value_long(v, &l))
            return set_item(row, c->key, cJSON_CreateNumber((double)l));
        return true;
    case K_TEXT:
        if (v->type == ASN_OCTET_STR)
            return set_item(row, c->key, snmp_octets_json(v->val.string, v->val.string ? v->val_len : 0));
        return set_item(row, c->key, snmp_value_json(v));
    case K_MAC:
        if (v->type == ASN_OCTET_STR)
            return set_item(row, c->key, snmp_mac_json(v->val.string, v->val.string ? v->val_len : 0));
        return true;
    case K_OID:
        return set_item(row, c->key, snmp_value_json(v));
    case K_ENUM:
        if (!snmp_value_long(v, &l))
            return true;
        if (l >= 0 && (size_t)l < c->nnames && c->names[l])
            return set_str(row, c->key, c->names[l]);
        return set_item(row, c->key, cJSON_CreateNumber((double)l));
    }
    return true;
}

static const struct column *find_column(const struct column *cols, size_t n, oid col)
{
    for (size_t i = 0; i < n; i++)
        if (cols[i].col == col)
            return &cols[i];
    return NULL;
}

#define NNAMES(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- system */

static const oid SYSTEM_ROOT[] = {1, 3, 6, 1, 2, 1, 1};
static const char *const SYSTEM_KEYS[] = {NULL, "descr", "object_id", "uptime", "contact", "name", "location",
                                          "services"};

struct sys_state { cJSON *obj; };

static int system_cb(const netsnmp_variable_list *v, void *arg)
{
    struct sys_state *st = arg;
    if (v->name_length != 9 || !snmp_oid_below(SYSTEM_ROOT, 7, v->name, v->name_length) || v->name[8] != 0 ||
        v->name[7] < 1 || v->name[7] > 7)
        return 0;
    const char *key = SYSTEM_KEYS[v->name[7]];
    if (snmp_value_is_exception(v) || v->type == ASN_NULL)
        return 0;
    cJSON *val = v->type == ASN_OCTET_STR ? snmp_octets_json(v->val.string, v->val.string ? v->val_len : 0)
                                          : snmp_value_json(v);
    return set_item(st->obj, key, val) ? 0 : -1;
}

int snmp_collect_system(snmp_client *c, cJSON **out, char *err, size_t errlen)
{
    struct snmp_oid oids[7];
    struct sys_state st = {cJSON_CreateObject()};
    *out = NULL;
    if (!st.obj) {
        snprintf(err, errlen, "out of memory");
        return SNMPC_FAILURE;
    }
    for (size_t i = 0; i < 7; i++) {
        memcpy(oids[i].ids, SYSTEM_ROOT, sizeof SYSTEM_ROOT);
        oids[i].ids[7] = (oid)(i + 1);
        oids[i].ids[8] = 0;
        oids[i].len = 9;
    }
    int rc = snmp_client_get(c, oids, 7, system_cb, &st, err, errlen);
    if (rc != SNMPC_OK) {
        cJSON_Delete(st.obj);
        return rc;
    }
    *out = st.obj;
    return SNMPC_OK;
}

/* ---------------------------------------------------------------- interfaces */

static const oid IFTABLE_ROOT[] = {1, 3, 6, 1, 2, 1, 2, 2, 1};          /* ifEntry */
static const oid IFXTABLE_ROOT[] = {1, 3, 6, 1, 2, 1, 31, 1, 1, 1};     /* ifXEntry */

static const char *const ADMIN_NAMES[] = {NULL, "up", "down", "testing"};
static const char *const OPER_NAMES[] = {NULL, "up", "down", "testing", "unknown", "dormant", "notPresent",
                                         "lowerLayerDown"};

static const struct column IF_COLS[] = {
    {2, "descr", K_TEXT, NULL, 0},
    {3, "type", K_NUM, NULL, 0},
    {4, "mtu", K_NUM, NULL, 0},
    {5, "speed", K_NUM, NULL, 0},
    {6, "mac", K_MAC, NULL, 0},
    {7, "admin_status", K_ENUM, ADMIN_NAMES, NNAMES(ADMIN_NAMES)},
    {8, "oper_status", K_ENUM, OPER_NAMES, NNAMES(OPER_NAMES)},
    {9, "last_change", K_NUM, NULL, 0},
    {10, "in_octets", K_NUM, NULL, 0},
    {11, "in_ucast_pkts", K_NUM, NULL, 0},
    {13, "in_discards", K_NUM, NULL, 0},
    {14, "in_errors", K_NUM, NULL, 0},
    {15, "in_unknown_protos", K_NUM, NULL, 0},
    {16, "out_octets", K_NUM, NULL, 0},
    {17, "out_ucast_pkts", K_NUM, NULL, 0},
    {19, "out_discards", K_NUM, NULL, 0},
    {20, "out_errors", K_NUM, NULL, 0},
};

static const struct column IFX_COLS[] = {
    {1, "name", K_TEXT, NULL, 0},
    {2, "in_multicast_pkts", K_NUM, NULL, 0},
    {3, "in_broadcast_pkts", K_NUM, NULL, 0},
    {4, "out_multicast_pkts", K_NUM, NULL, 0},
    {5, "out_broadcast_pkts", K_NUM, NULL, 0},
    {6, "in_octets", K_HC, NULL, 0},
    {7, "in_ucast_pkts", K_HC, NULL, 0},
    {8, "in_multicast_pkts", K_HC, NULL, 0},
    {9, "in_broadcast_pkts", K_HC, NULL, 0},
    {10, "out_octets", K_HC, NULL, 0},
    {11, "out_ucast_pkts", K_HC, NULL, 0},
    {12, "out_multicast_pkts", K_HC, NULL, 0},
    {13, "out_broadcast_pkts", K_HC, NULL, 0},
    {15, "high_speed_mbps", K_NUM, NULL, 0},
    {18, "alias", K_TEXT, NULL, 0},
};

struct if_state {
    struct rowset rs;
    bool ifx;                         /* walking ifXTable (rows must already exist there? no: either adds) */
};

static int if_cb(const netsnmp_variable_list *v, void *arg)
{
    struct if_state *st = arg;
    size_t rootlen = st->ifx ? NNAMES(IFXTABLE_ROOT) : NNAMES(IFTABLE_ROOT);
    /* INDEX { ifIndex }: exactly one sub-identifier after the column. */
    if (v->name_length != rootlen + 2)
        return 0;
    const struct column *col = st->ifx ? find_column(IFX_COLS, NNAMES(IFX_COLS), v->name[rootlen])
                                       : find_column(IF_COLS, NNAMES(IF_COLS), v->name[rootlen]);
    if (!col)
        return 0;
    char key[16];
    snprintf(key, sizeof key, "%lu", (unsigned long)v->name[rootlen + 1]);
    bool created;
    cJSON *row = rowset_get(&st->rs, key, &created);
    if (!row)
        return -1;
    if (created && !set_u64(row, "index", v->name[rootlen + 1]))
        return -1;
    if (col->kind == K_HC && v->type == ASN_COUNTER64 && !cJSON_GetObjectItemCaseSensitive(row, "counters_64bit"))
        if (!cJSON_AddTrueToObject(row, "counters_64bit"))
            return -1;
    return put_column(row, col, v) ? 0 : -1;
}

/* speed: ifSpeed is stuck at 2^32-1 above 4.29 Gbit/s; ifHighSpeed (Mbit/s) then tells. */
static void if_finish(cJSON *arr)
{
    cJSON *row;
    cJSON_ArrayForEach(row, arr) {
        cJSON *hs = cJSON_GetObjectItemCaseSensitive(row, "high_speed_mbps");
        cJSON *sp = cJSON_GetObjectItemCaseSensitive(row, "speed");
        if (cJSON_IsNumber(hs) && (!sp || (cJSON_IsNumber(sp) && sp->valuedouble >= 4294967295.0)))
            set_u64(row, "speed", (uint64_t)hs->valuedouble * 1000000u);
        if (!cJSON_GetObjectItemCaseSensitive(row, "counters_64bit"))
            cJSON_AddFalseToObject(row, "counters_64bit");
    }
}

int snmp_collect_interfaces(snmp_client *c, cJSON **out, char *err, size_t errlen)
{
    struct if_state st;
    size_t rows;
    *out = NULL;
    if (rowset_init(&st.rs) != 0) {
        snprintf(err, errlen, "out of memory");
        return SNMPC_FAILURE;
    }
    st.ifx = false;
    int rc = snmp_client_walk(c, IFTABLE_ROOT, NNAMES(IFTABLE_ROOT), if_cb, &st, &rows, err, errlen);
    if (rc == SNMPC_OK) {
        char err2[128];
        st.ifx = true;
        int rc2 = snmp_client_walk(c, IFXTABLE_ROOT, NNAMES(IFXTABLE_ROOT), if_cb, &st, &rows, err2, sizeof err2);
        /* An agent without ifXTable (SNMPv1-era) is fine: keep the 32-bit counters. */
        if (rc2 != SNMPC_OK && rc2 != SNMPC_AGENT) {
            rc = rc2;
            snprintf(err, errlen, "%s", err2);
        }
    }
    if (rc != SNMPC_OK && rc != SNMPC_LIMIT) {
        rowset_free(&st.rs);
        return rc;
    }
    if (st.rs.oom) {
        rowset_free(&st.rs);
        snprintf(err, errlen, "out of memory");
        return SNMPC_FAILURE;
    }
    *out = rowset_take(&st.rs);
    if_finish(*out);
    return rc;
}

/* ---------------------------------------------------------------- arp / neighbours */

static const oid IPNETTOMEDIA_ROOT[] = {1, 3, 6, 1, 2, 1, 4, 22, 1};     /* ipNetToMediaEntry */
static const oid IPNETTOPHYS_ROOT[] = {1, 3, 6, 1, 2, 1, 4, 35, 1};      /* ipNetToPhysicalEntry */

static const char *const MEDIA_TYPE_NAMES[] = {NULL, "other", "invalid", "dynamic", "static"};
static const char *const PHYS_TYPE_NAMES[] = {NULL, "other", "invalid", "dynamic", "static", "local"};
static const char *const PHYS_STATE_NAMES[] = {NULL, "reachable", "stale", "delay", "probe", "invalid",
                                               "unknown", "incomplete"};

static const struct column MEDIA_COLS[] = {
    {2, "mac", K_MAC, NULL, 0},
    {4, "type", K_ENUM, MEDIA_TYPE_NAMES, NNAMES(MEDIA_TYPE_NAMES)},
};
static const struct column PHYS_COLS[] = {
    {4, "mac", K_MAC, NULL, 0},
    {6, "type", K_ENUM, PHYS_TYPE_NAMES, NNAMES(PHYS_TYPE_NAMES)},
    {7, "state", K_ENUM, PHYS_STATE_NAMES, NNAMES(PHYS_STATE_NAMES)},
};

/* Format an InetAddress (RFC 4001) of type `type` from n sub-identifiers that
 * must each be a byte. Returns false when the form is not one we know. */
static bool inet_from_oid(unsigned long type, const oid *b, size_t n, char *buf, size_t buflen, const char **family)
{
    uint8_t a[20];
    if (n > sizeof a)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (b[i] > 255)
            return false;
        a[i] = (uint8_t)b[i];
    }
    if ((type == 1 && n == 4) || (type == 3 && n == 8)) {
        *family = "ipv4";
        if (!inet_ntop(AF_INET, a, buf, (socklen_t)buflen))
            return false;
    } else if ((type == 2 && n == 16) || (type == 4 && n == 20)) {
        *family = "ipv6";
        if (!inet_ntop(AF_INET6, a, buf, (socklen_t)buflen))
            return false;
    } else {
        return false;
    }
    if (type == 3 || type == 4) {     /* zoned: 4 more bytes of zone index */
        const uint8_t *z = a + (type == 3 ? 4 : 16);
        size_t l = strlen(buf);
        snprintf(buf + l, buflen - l, "%%%" PRIu32,
                 (uint32_t)z[0] << 24 | (uint32_t)z[1] << 16 | (uint32_t)z[2] << 8 | z[3]);
    }
    return true;
}

struct arp_state {
    struct rowset rs;
    bool phys;
};

static int arp_cb(const netsnmp_variable_list *v, void *arg)
{
    struct arp_state *st = arg;
    size_t rl = NNAMES(IPNETTOMEDIA_ROOT);   /* both tables' entries are 9 sub-identifiers long */
    if (v->name_length < rl + 2)
        return 0;
    const struct column *col = st->phys ? find_column(PHYS_COLS, NNAMES(PHYS_COLS), v->name[rl])
                                        : find_column(MEDIA_COLS, NNAMES(MEDIA_COLS), v->name[rl]);
    if (!col)
        return 0;
    const oid *idx = v->name + rl + 1;
    size_t nidx = v->name_length - rl - 1;
    char ip[INET6_ADDRSTRLEN + 16];
    const char *family = NULL;
    if (!st->phys) {
        /* INDEX { ipNetToMediaIfIndex, ipNetToMediaNetAddress }: ifIndex + 4 bytes. */
        if (nidx != 5 || !inet_from_oid(1, idx + 1, 4, ip, sizeof ip, &family))
            return 0;
    } else {
        /* INDEX { ifIndex, InetAddressType, InetAddress (length-prefixed) }. */
        if (nidx < 3 || idx[2] != nidx - 3 || !inet_from_oid(idx[1], idx + 3, nidx - 3, ip, sizeof ip, &family))
            return 0;
    }
    char key[96];
    snprintf(key, sizeof key, "%lu|%s", (unsigned long)idx[0], ip);
    bool created;
    cJSON *row = rowset_get(&st->rs, key, &created);
    if (!row)
        return -1;
    if (created && (!set_u64(row, "ifindex", idx[0]) || !set_str(row, "ip", ip) ||
                    !set_str(row, "family", family)))
        return -1;
    return put_column(row, col, v) ? 0 : -1;
}

int snmp_collect_arp(snmp_client *c, cJSON **out, char *err, size_t errlen)
{
    struct arp_state st;
    size_t rows;
    *out = NULL;
    if (rowset_init(&st.rs) != 0) {
        snprintf(err, errlen, "out of memory");
        return SNMPC_FAILURE;
    }
    st.phys = false;
    int rc = snmp_client_walk(c, IPNETTOMEDIA_ROOT, NNAMES(IPNETTOMEDIA_ROOT), arp_cb, &st, &rows, err, errlen);
    if (rc == SNMPC_OK || rc == SNMPC_AGENT) {
        st.phys = true;
        rc = snmp_client_walk(c, IPNETTOPHYS_ROOT, NNAMES(IPNETTOPHYS_ROOT), arp_cb, &st, &rows, err, errlen);
        if (rc == SNMPC_AGENT)
            rc = SNMPC_OK;   /* no ipNetToPhysicalTable: the IPv4 table is all there is */
    }
    bool oom = st.rs.oom;
    if ((rc != SNMPC_OK && rc != SNMPC_LIMIT) || oom) {
        if (oom)
            snprintf(err, errlen, "out of memory");
        rowset_free(&st.rs);
        return oom ? SNMPC_FAILURE : rc;
    }
    *out = rowset_take(&st.rs);
    return rc;
}

/* ---------------------------------------------------------------- lldp */

/* LLDP-MIB (IEEE 802.1AB-2005), under iso.std.iso8802.ieee802dot1.ieee802dot1mibs.lldpMIB. */
static const oid LLDP_REM_ROOT[] = {1, 0, 8802, 1, 1, 2, 1, 4, 1, 1};           /* lldpRemEntry */
static const oid LLDP_REMMAN_ROOT[] = {1, 0, 8802, 1, 1, 2, 1, 4, 2, 1, 3};     /* lldpRemManAddrIfSubtype */
static const oid LLDP_LOCPORT_ROOT[] = {1, 0, 8802, 1, 1, 2, 1, 3, 7, 1};       /* lldpLocPortEntry */

static const char *const CHASSIS_SUBTYPES[] = {NULL, "chassisComponent", "interfaceAlias", "portComponent",
                                               "macAddress", "networkAddress", "interfaceName", "local"};
static const char *const PORT_SUBTYPES[] = {NULL, "interfaceAlias", "portComponent", "macAddress",
                                            "networkAddress", "interfaceName", "agentCircuitId", "local"};

static const struct column LLDP_REM_COLS[] = {
    {4, "chassis_id_subtype", K_ENUM, CHASSIS_SUBTYPES, NNAMES(CHASSIS_SUBTYPES)},
    {5, "chassis_id", K_TEXT, NULL, 0},
    {6, "port_id_subtype", K_ENUM, PORT_SUBTYPES, NNAMES(PORT_SUBTYPES)},
    {7, "port_id", K_TEXT, NULL, 0},
    {8, "port_description", K_TEXT, NULL, 0},
    {9, "system_name", K_TEXT, NULL, 0},
    {10, "system_description", K_TEXT, NULL, 0},
};

/* An LLDP id whose subtype says "MAC" or "network address" (IANA family byte + address). */
static cJSON *lldp_id_json(const char *subtype, const netsnmp_variable_list *v)
{
    const uint8_t *p = v->val.string;
    size_t n = p ? v->val_len : 0;
    char buf[INET6_ADDRSTRLEN];
    if (subtype && strcmp(subtype, "macAddress") == 0)
        return snmp_mac_json(p, n);
    if (subtype && strcmp(subtype, "networkAddress") == 0 && n >= 1) {
        if (p[0] == 1 && n == 5 && inet_ntop(AF_INET, p + 1, buf, sizeof buf))
            return cJSON_CreateString(buf);
        if (p[0] == 2 && n == 17 && inet_ntop(AF_INET6, p + 1, buf, sizeof buf))
            return cJSON_CreateString(buf);
    }
    return snmp_octets_json(p, n);
}

struct lldp_state {
    struct rowset rs;          /* remote rows, key "timemark.localport.remindex" */
    struct rowset loc;         /* local ports, key "localport" */
    int phase;                 /* 0 remote table, 1 management addresses, 2 local ports */
};

static int lldp_cb(const netsnmp_variable_list *v, void *arg)
{
    struct lldp_state *st = arg;
    char key[64];
    bool created;
    if (st->phase == 0) {
        size_t rl = NNAMES(LLDP_REM_ROOT);
        if (v->name_length != rl + 4)   /* column + INDEX { timeMark, localPortNum, index } */
            return 0;
        const struct column *col = find_column(LLDP_REM_COLS, NNAMES(LLDP_REM_COLS), v->name[rl]);
        if (!col)
            return 0;
        const oid *idx = v->name + rl + 1;
        snprintf(key, sizeof key, "%lu.%lu.%lu", (unsigned long)idx[0], (unsigned long)idx[1], (unsigned long)idx[2]);
        cJSON *row = rowset_get(&st->rs, key, &created);
        if (!row)
            return -1;
        if (created && (!set_u64(row, "local_port_num", idx[1]) || !set_u64(row, "remote_index", idx[2])))
            return -1;
        if ((col->col == 5 || col->col == 7) && v->type == ASN_OCTET_STR) {
            cJSON *sub = cJSON_GetObjectItemCaseSensitive(row, col->col == 5 ? "chassis_id_subtype" : "port_id_subtype");
            return set_item(row, col->key, lldp_id_json(cJSON_IsString(sub) ? sub->valuestring : NULL, v)) ? 0 : -1;
        }
        return put_column(row, col, v) ? 0 : -1;
    }
    if (st->phase == 1) {
        /* INDEX { timeMark, localPortNum, index, addrSubtype, addr (length-prefixed) } */
        size_t rl = NNAMES(LLDP_REMMAN_ROOT);
        if (v->name_length < rl + 6)
            return 0;
        const oid *idx = v->name + rl;
        size_t alen = v->name_length - rl - 5;
        if (idx[4] != alen)
            return 0;
        snprintf(key, sizeof key, "%lu.%lu.%lu", (unsigned long)idx[0], (unsigned long)idx[1], (unsigned long)idx[2]);
        cJSON *row = rowset_find(&st->rs, key);
        if (!row)
            return 0;
        char addr[INET6_ADDRSTRLEN + 16];
        const char *family;
        cJSON *a;
        if (inet_from_oid(idx[3], idx + 5, alen, addr, sizeof addr, &family)) {
            a = cJSON_CreateString(addr);
        } else {
            uint8_t raw[64];
            size_t n = alen < sizeof raw ? alen : sizeof raw;
            for (size_t i = 0; i < n; i++)
                raw[i] = (uint8_t)idx[5 + i];
            a = snmp_octets_json(raw, n);
        }
        if (!a)
            return -1;
        cJSON *list = cJSON_GetObjectItemCaseSensitive(row, "management_addresses");
        if (!list && !(list = cJSON_AddArrayToObject(row, "management_addresses"))) {
            cJSON_Delete(a);
            return -1;
        }
        if (!cJSON_AddItemToArray(list, a)) {
            cJSON_Delete(a);
            return -1;
        }
        return 0;
    }
    /* local ports: lldpLocPortIdSubtype(2), lldpLocPortId(3), lldpLocPortDesc(4); INDEX { localPortNum } */
    size_t rl = NNAMES(LLDP_LOCPORT_ROOT);
    if (v->name_length != rl + 2 || v->name[rl] < 2 || v->name[rl] > 4)
        return 0;
    snprintf(key, sizeof key, "%lu", (unsigned long)v->name[rl + 1]);
    cJSON *row = rowset_get(&st->loc, key, &created);
    if (!row)
        return -1;
    static const struct column LOC_COLS[] = {
        {2, "subtype", K_ENUM, PORT_SUBTYPES, NNAMES(PORT_SUBTYPES)},
        {3, "id", K_TEXT, NULL, 0},
        {4, "desc", K_TEXT, NULL, 0},
    };
    const struct column *col = &LOC_COLS[v->name[rl] - 2];
    if (col->col == 3 && v->type == ASN_OCTET_STR) {
        cJSON *sub = cJSON_GetObjectItemCaseSensitive(row, "subtype");
        return set_item(row, "id", lldp_id_json(cJSON_IsString(sub) ? sub->valuestring : NULL, v)) ? 0 : -1;
    }
    return put_column(row, col, v) ? 0 : -1;
}

/* local_port: the local port's id when it names an interface, else its description. */
static void lldp_finish(struct lldp_state *st)
{
    for (size_t i = 0; i < st->rs.n; i++) {
        cJSON *row = st->rs.rows[i];
        cJSON *num = cJSON_GetObjectItemCaseSensitive(row, "local_port_num");
        if (!cJSON_IsNumber(num))
            continue;
        char key[24];
        snprintf(key, sizeof key, "%.0f", num->valuedouble);
        cJSON *loc = rowset_find(&st->loc, key);
        if (!loc)
            continue;
        cJSON *sub = cJSON_GetObjectItemCaseSensitive(loc, "subtype");
        cJSON *id = cJSON_GetObjectItemCaseSensitive(loc, "id");
        cJSON *desc = cJSON_GetObjectItemCaseSensitive(loc, "desc");
        bool id_is_name = cJSON_IsString(sub) && (strcmp(sub->valuestring, "interfaceName") == 0 ||
                                                  strcmp(sub->valuestring, "interfaceAlias") == 0 ||
                                                  strcmp(sub->valuestring, "local") == 0);
        cJSON *pick = (id_is_name || !cJSON_IsString(desc) || !desc->valuestring[0]) ? id : desc;
        if (cJSON_IsString(pick))
            set_str(row, "local_port", pick->valuestring);
        if (cJSON_IsString(id))
            set_str(row, "local_port_id", id->valuestring);
        if (cJSON_IsString(desc))
            set_str(row, "local_port_description", desc->valuestring);
    }
    for (size_t i = 0; i < st->rs.n; i++)
        if (!cJSON_GetObjectItemCaseSensitive(st->rs.rows[i], "management_addresses"))
            cJSON_AddArrayToObject(st->rs.rows[i], "management_addresses");
}

int snmp_collect_lldp(snmp_client *c, cJSON **out, char *err, size_t errlen)
{
    struct lldp_state st;
    size_t rows;
    *out = NULL;
    if (rowset_init(&st.rs) != 0 || rowset_init(&st.loc) != 0) {
        rowset_free(&st.rs);
        snprintf(err, errlen, "out of memory");
        return SNMPC_FAILURE;
    }
    st.phase = 0;
    int rc = snmp_client_walk(c, LLDP_REM_ROOT, NNAMES(LLDP_REM_ROOT), lldp_cb, &st, &rows, err, errlen);
    if (rc == SNMPC_AGENT)
        rc = SNMPC_OK;   /* v1 agents answer an absent subtree with an error */
    if (rc == SNMPC_OK && st.rs.n > 0) {
        st.phase = 1;
        rc = snmp_client_walk(c, LLDP_REMMAN_ROOT, NNAMES(LLDP_REMMAN_ROOT), lldp_cb, &st, &rows, err, errlen);
        if (rc == SNMPC_OK || rc == SNMPC_AGENT) {
            st.phase = 2;
            rc = snmp_client_walk(c, LLDP_LOCPORT_ROOT, NNAMES(LLDP_LOCPORT_ROOT), lldp_cb, &st, &rows, err, errlen);
            if (rc == SNMPC_AGENT)
                rc = SNMPC_OK;
        }
    }
    bool oom = st.rs.oom || st.loc.oom;
    if ((rc != SNMPC_OK && rc != SNMPC_LIMIT) || oom) {
        if (oom)
            snprintf(err, errlen, "out of memory");
        rowset_free(&st.rs);
        rowset_free(&st.loc);
        return oom ? SNMPC_FAILURE : rc;
    }
    lldp_finish(&st);
    rowset_free(&st.loc);
    *out = rowset_take(&st.rs);
    return rc;
}

/* ---------------------------------------------------------------- plain GETs */

static int oids_cb(const netsnmp_variable_list *v, void *arg)
{
    cJSON *vb = snmp_varbind_json(v);
    if (!vb || !cJSON_AddItemToArray(arg, vb)) {
        cJSON_Delete(vb);
        return -1;
    }
    return 0;
}

int snmp_collect_oids(snmp_client *c, const struct snmp_target *t, cJSON **out, char *err, size_t errlen)
{
    cJSON *arr = cJSON_CreateArray();
    *out = NULL;
    if (!arr) {
        snprintf(err, errlen, "out of memory");
        return SNMPC_FAILURE;
    }
    int rc = snmp_client_get(c, t->oids, t->noids, oids_cb, arr, err, errlen);
    if (rc != SNMPC_OK) {
        cJSON_Delete(arr);
        return rc;
    }
    *out = arr;
    return SNMPC_OK;
}

/* ---------------------------------------------------------------- one poll */

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const char *const SECTION_NAMES[SNMP_COLLECT_NSECTIONS] = {"system", "interfaces", "arp", "lldp", "oids"};

const char *snmp_collect_section_name(size_t i)
{
    return i < SNMP_COLLECT_NSECTIONS ? SECTION_NAMES[i] : "";
}

cJSON *snmp_collect_poll(const struct snmp_target *t, snmp_client **client, const atomic_bool *stop,
                         pthread_mutex_t *open_lock)
{
    return snmp_collect_poll_watched(t, client, stop, open_lock, NULL);
}

cJSON *snmp_collect_poll_watched(const struct snmp_target *t, snmp_client **client, const atomic_bool *stop,
                                 pthread_mutex_t *open_lock, struct snmp_collect_progress *prog)
{
    uint64_t start = mono_ms();
    char err[256] = "";
    const char *err_section = NULL;
    bool fatal = false;
    cJSON *ev = cJSON_CreateObject();
    cJSON *truncated = cJSON_CreateArray();
    if (!ev || !truncated)
        goto oom;
    if (!cJSON_AddStringToObject(ev, "type", "snmp") || !cJSON_AddStringToObject(ev, "target", t->name) ||
        !cJSON_AddStringToObject(ev, "host", t->host) || !cJSON_AddNumberToObject(ev, "port", t->port) ||
        !cJSON_AddStringToObject(ev, "version", snmp_config_version_name(t->version)))
        goto oom;
    if (!*client) {
        if (open_lock)
            pthread_mutex_lock(open_lock);
        *client = snmp_client_open(t, stop, err, sizeof err);
        if (open_lock)
            pthread_mutex_unlock(open_lock);
        if (!*client)
            fatal = true;
    }
    if (*client)
        snmp_client_budget(*client, t->max_poll_bytes);
    bool byte_limited = false;
    struct {
        unsigned bit;
        const char *name;
        int (*fn)(snmp_client *, cJSON **, char *, size_t);
    } sections[] = {
        {SNMP_COLLECT_SYSTEM, "system", snmp_collect_system},
        {SNMP_COLLECT_INTERFACES, "interfaces", snmp_collect_interfaces},
        {SNMP_COLLECT_ARP, "arp", snmp_collect_arp},
        {SNMP_COLLECT_LLDP, "lldp", snmp_collect_lldp},
        {0, "oids", NULL},
    };
    for (size_t i = 0; i < sizeof sections / sizeof sections[0] && !fatal && !byte_limited; i++) {
        cJSON *val = NULL;
        char serr[256] = "";
        int rc;
        if (sections[i].fn ? !(t->collect & sections[i].bit) : t->noids == 0)
            continue;
        if (prog) {
            atomic_store_explicit(&prog->start_ms[i], mono_ms(), memory_order_relaxed);
            snmp_client_count_rows(*client, &prog->rows[i]);
        }
        if (sections[i].fn)
            rc = sections[i].fn(*client, &val, serr, sizeof serr);
        else
            rc = snmp_collect_oids(*client, t, &val, serr, sizeof serr);
        if (prog) {
            snmp_client_count_rows(*client, NULL);
            if (rc == SNMPC_OK || rc == SNMPC_LIMIT)   /* a section that failed or was stopped has no end */
                atomic_store_explicit(&prog->end_ms[i], mono_ms(), memory_order_relaxed);
        }
        if (val && !cJSON_AddItemToObject(ev, sections[i].name, val)) {
            cJSON_Delete(val);
            goto oom;
        }
        if (rc == SNMPC_LIMIT) {
            if (!cJSON_AddItemToArray(truncated, cJSON_CreateString(sections[i].name)))
                goto oom;
            /* The poll's byte budget is spent: what follows is not asked for at all. */
            byte_limited = snmp_client_budget_hit(*client);
            continue;
        }
        if (rc == SNMPC_OK)
            continue;
        if (!err[0]) {
            snprintf(err, sizeof err, "%s", serr);
            err_section = sections[i].name;
        }
        /* A dead or refusing agent fails every section alike: do not wait for it again. */
        if (rc == SNMPC_TIMEOUT || rc == SNMPC_AUTH || rc == SNMPC_STOPPED)
            fatal = true;
    }
    if (fatal && *client) {
        /* A timeout or an auth failure may mean a restarted agent (new engine boots) or a
         * new address: the next poll starts with a fresh session. */
        snmp_client_close(*client);
        *client = NULL;
    }
    if (!cJSON_AddBoolToObject(ev, "ok", err[0] == '\0'))
        goto oom;
    if (err[0] ? !cJSON_AddStringToObject(ev, "error", err) : !cJSON_AddNullToObject(ev, "error"))
        goto oom;
    if (err_section && !cJSON_AddStringToObject(ev, "error_section", err_section))
        goto oom;
    if (byte_limited && !cJSON_AddNumberToObject(ev, "max_poll_bytes", t->max_poll_bytes))
        goto oom;
    if (cJSON_GetArraySize(truncated) > 0) {
        cJSON_AddItemToObject(ev, "truncated", truncated);
        truncated = NULL;
    }
    cJSON_Delete(truncated);
    if (!cJSON_AddNumberToObject(ev, "duration_ms", (double)(mono_ms() - start)))
        goto oom_ev;
    return ev;
oom:
    cJSON_Delete(truncated);
oom_ev:
    cJSON_Delete(ev);
    return NULL;
}
