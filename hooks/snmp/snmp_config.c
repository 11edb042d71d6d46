/*
 * snmp_config.c — reading and validating AGENT_SNMP_CONFIG (see snmp_config.h).
 *
 * The parser walks the cJSON tree once, rejects unknown fields (a misspelt
 * "intervall" would otherwise silently fall back to a default), duplicate
 * keys (cJSON keeps both and lookups see only the first) and values of the
 * wrong JSON type, and fills plain structs, so the hooks never touch JSON for
 * their settings. It does not stop at the first problem: every problem found
 * becomes one line of the message (file, key path, rule), so one run shows
 * them all. For password and community fields it never repeats the value.
 */
#include "snmp_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "../../common/cfgerr.h"

#define SNMP_CFG_FILE_MAX     (16u * 1024u * 1024u)
#define SNMP_CFG_PASSWORD_MIN 8      /* RFC 3414 2.6 / net-snmp USM_LENGTH_P_MIN */
#define SNMP_CFG_STRING_MAX   255

static void free_secret(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* Optional string field: 0 (absent: *out NULL), 1 (found), -1 (invalid), -2 (no memory); a secret's value
 * is never repeated. */
static int get_string(struct cfgerr *c, const cJSON *obj, const char *field, bool secret, char **out)
{
    return cfgerr_get_string(c, obj, field, 0, SNMP_CFG_STRING_MAX, !secret, out);
}

/* Optional number (a JSON number, not a string) in [lo, hi]; scale multiplies (s -> ms). */
static void get_number(struct cfgerr *c, const cJSON *obj, const char *field, double lo, double hi,
                       bool integer, double scale, uint32_t dflt, uint32_t *out)
{
    cfgerr_get_number(c, obj, field, lo, hi, integer, scale, dflt, true, out);
}

static int parse_version(struct cfgerr *c, const cJSON *obj, enum snmp_cfg_version *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "version");
    *out = SNMP_CFG_V2C;
    if (!v)
        return 0;
    const char *s = NULL;
    char num[8];
    if (cJSON_IsString(v) && v->valuestring) {
        s = v->valuestring;
    } else if (cJSON_IsNumber(v) && (v->valuedouble == 1 || v->valuedouble == 3)) {
        snprintf(num, sizeof num, "%d", (int)v->valuedouble);
        s = num;
    }
    if (s && (strcmp(s, "1") == 0 || strcmp(s, "v1") == 0))
        *out = SNMP_CFG_V1;
    else if (s && (strcmp(s, "2c") == 0 || strcmp(s, "v2c") == 0 || strcmp(s, "2") == 0))
        *out = SNMP_CFG_V2C;
    else if (s && (strcmp(s, "3") == 0 || strcmp(s, "v3") == 0))
        *out = SNMP_CFG_V3;
    else
        return cfgerr_add(c, "version", "%s%s%smust be one of \"1\", \"2c\", \"3\"", s ? "\"" : "",
                          s ? s : "", s ? "\" " : "");
    return 0;
}

struct name_val { const char *name; int val; };

static const struct name_val AUTH_NAMES[] = {
    {"MD5", SNMP_CFG_AUTH_MD5}, {"SHA", SNMP_CFG_AUTH_SHA}, {"SHA1", SNMP_CFG_AUTH_SHA},
    {"SHA224", SNMP_CFG_AUTH_SHA224}, {"SHA-224", SNMP_CFG_AUTH_SHA224},
    {"SHA256", SNMP_CFG_AUTH_SHA256}, {"SHA-256", SNMP_CFG_AUTH_SHA256},
    {"SHA384", SNMP_CFG_AUTH_SHA384}, {"SHA-384", SNMP_CFG_AUTH_SHA384},
    {"SHA512", SNMP_CFG_AUTH_SHA512}, {"SHA-512", SNMP_CFG_AUTH_SHA512}, {NULL, 0}};
static const struct name_val PRIV_NAMES[] = {
    {"DES", SNMP_CFG_PRIV_DES}, {"AES", SNMP_CFG_PRIV_AES}, {"AES128", SNMP_CFG_PRIV_AES},
    {"AES-128", SNMP_CFG_PRIV_AES}, {"AES192", SNMP_CFG_PRIV_AES192}, {"AES-192", SNMP_CFG_PRIV_AES192},
    {"AES256", SNMP_CFG_PRIV_AES256}, {"AES-256", SNMP_CFG_PRIV_AES256}, {NULL, 0}};
static const struct name_val LEVEL_NAMES[] = {
    {"noAuthNoPriv", SNMP_CFG_NOAUTH}, {"authNoPriv", SNMP_CFG_AUTHNOPRIV},
    {"authPriv", SNMP_CFG_AUTHPRIV}, {NULL, 0}};

static int get_enum(struct cfgerr *c, const cJSON *obj, const char *field, const struct name_val *names,
                    const char *choices, int dflt, int *out, bool *given)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, field);
    *out = dflt;
    *given = false;
    if (!v)
        return 0;
    if (!cJSON_IsString(v) || !v->valuestring)
        return cfgerr_add(c, field, "must be one of %s", choices);
    for (size_t i = 0; names[i].name; i++) {
        if (strcasecmp(v->valuestring, names[i].name) == 0) {
            *out = names[i].val;
            *given = true;
            return 0;
        }
    }
    return cfgerr_add(c, field, "\"%.64s\" must be one of %s", v->valuestring, choices);
}

static int get_password(struct cfgerr *c, const cJSON *obj, const char *field, char **out)
{
    int rc = get_string(c, obj, field, true, out);
    if (rc < 0)
        return rc;
    if (*out && strlen(*out) < SNMP_CFG_PASSWORD_MIN) {
        free_secret(*out);
        *out = NULL;
        return cfgerr_add(c, field, "must be at least %d characters", SNMP_CFG_PASSWORD_MIN);
    }
    return 0;
}

/* username, security_level, auth_*, priv_* of a target or a trap user. Problems are
 * recorded in c; returns 0, or -2 when out of memory. */
static int parse_usm(struct cfgerr *c, const cJSON *obj, struct snmp_usm *u)
{
    int val;
    bool level_given, auth_given, priv_given, level_ok = true;
    if (get_string(c, obj, "username", false, &u->username) == -2)
        return -2;
    if (!u->username || !u->username[0])
        cfgerr_add(c, "username", "required for SNMPv3 (a non-empty string)");
    if (get_password(c, obj, "auth_password", &u->auth_password) == -2 ||
        get_password(c, obj, "priv_password", &u->priv_password) == -2)
        return -2;
    get_enum(c, obj, "auth_protocol", AUTH_NAMES, "MD5, SHA, SHA224, SHA256, SHA384, SHA512", SNMP_CFG_AUTH_SHA,
             &val, &auth_given);
    u->auth = (enum snmp_cfg_auth)val;
    get_enum(c, obj, "priv_protocol", PRIV_NAMES, "DES, AES, AES192, AES256", SNMP_CFG_PRIV_AES, &val, &priv_given);
    u->priv = (enum snmp_cfg_priv)val;
    int dflt = u->priv_password ? SNMP_CFG_AUTHPRIV : u->auth_password ? SNMP_CFG_AUTHNOPRIV : SNMP_CFG_NOAUTH;
    if (get_enum(c, obj, "security_level", LEVEL_NAMES, "noAuthNoPriv, authNoPriv, authPriv", dflt, &val,
                 &level_given) < 0)
        level_ok = false;
    u->level = (enum snmp_cfg_level)val;
    const cJSON *ap = cJSON_GetObjectItemCaseSensitive(obj, "auth_password");
    const cJSON *pp = cJSON_GetObjectItemCaseSensitive(obj, "priv_password");
    if (level_ok && u->level >= SNMP_CFG_AUTHNOPRIV && !ap)
        cfgerr_add(c, "auth_password", "required for security_level %s",
                   u->level == SNMP_CFG_AUTHPRIV ? "authPriv" : "authNoPriv");
    if (level_ok && u->level == SNMP_CFG_AUTHPRIV && !pp)
        cfgerr_add(c, "priv_password", "required for security_level authPriv");
    if (level_ok && u->level < SNMP_CFG_AUTHPRIV && pp)
        cfgerr_add(c, "priv_password", "given but security_level is %s",
                   u->level == SNMP_CFG_NOAUTH ? "noAuthNoPriv" : "authNoPriv");
    if (level_ok && u->level < SNMP_CFG_AUTHNOPRIV && ap)
        cfgerr_add(c, "auth_password", "given but security_level is noAuthNoPriv");
    if (u->level < SNMP_CFG_AUTHNOPRIV)
        u->auth = SNMP_CFG_AUTH_NONE;
    if (u->level < SNMP_CFG_AUTHPRIV)
        u->priv = SNMP_CFG_PRIV_NONE;
    (void)auth_given;
    (void)priv_given;
    return 0;
}

static int parse_collect(struct cfgerr *c, const cJSON *obj, unsigned *out)
{
    static const struct name_val NAMES[] = {
        {"system", SNMP_COLLECT_SYSTEM}, {"interfaces", SNMP_COLLECT_INTERFACES},
        {"arp", SNMP_COLLECT_ARP}, {"lldp", SNMP_COLLECT_LLDP}, {NULL, 0}};
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "collect");
    *out = SNMP_COLLECT_SYSTEM;
    if (!v)
        return 0;
    if (!cJSON_IsArray(v))
        return cfgerr_add(c, "collect", "must be an array of \"system\", \"interfaces\", \"arp\", \"lldp\"");
    *out = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, v) {
        bool found = false;
        for (size_t i = 0; NAMES[i].name && cJSON_IsString(it); i++) {
            if (strcmp(it->valuestring, NAMES[i].name) == 0) {
                *out |= (unsigned)NAMES[i].val;
                found = true;
            }
        }
        if (!found)
            return cfgerr_add(c, "collect",
                              "%s%.64s%s must be one of \"system\", \"interfaces\", \"arp\", \"lldp\"",
                              cJSON_IsString(it) ? "\"" : "", cJSON_IsString(it) ? it->valuestring : "an entry",
                              cJSON_IsString(it) ? "\"" : "");
    }
    return 0;
}

static int parse_oids(struct cfgerr *c, const cJSON *obj, struct snmp_target *t)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "oids");
    if (!v)
        return 0;
    if (!cJSON_IsArray(v))
        return cfgerr_add(c, "oids", "must be an array of numeric OIDs");
    int n = cJSON_GetArraySize(v);
    if (n > SNMP_CFG_MAX_OIDS)
        return cfgerr_add(c, "oids", "at most %d OIDs", SNMP_CFG_MAX_OIDS);
    if (n == 0)
        return 0;
    t->oids = calloc((size_t)n, sizeof *t->oids);
    if (!t->oids)
        return -2;
    const cJSON *it;
    cJSON_ArrayForEach(it, v) {
        if (!cJSON_IsString(it) || !snmp_oid_parse(it->valuestring, &t->oids[t->noids]))
            return cfgerr_add(c, "oids", "%s%.128s%s must be a numeric OID such as \"1.3.6.1.2.1.1.5.0\"",
                              cJSON_IsString(it) ? "\"" : "", cJSON_IsString(it) ? it->valuestring : "an entry",
                              cJSON_IsString(it) ? "\"" : "");
        t->noids++;
    }
    return 0;
}

static int parse_target(struct cfgerr *c, const cJSON *obj, size_t idx, struct snmp_target *t)
{
    static const char *const KEYS[] = {
        "name", "host", "port", "transport", "version", "community", "interval", "timeout", "retries",
        "collect", "oids", "max_rows", "max_walk_time", "max_repetitions", "max_poll_bytes", "username",
        "security_level", "auth_protocol", "auth_password", "priv_protocol", "priv_password", "context", NULL};
    uint32_t u;
    snprintf(c->where, sizeof c->where, "targets[%zu]", idx);
    if (!cJSON_IsObject(obj))
        return cfgerr_add(c, NULL, "must be an object"), 0;
    if (get_string(c, obj, "name", false, &t->name) == -2)
        return -2;
    if (t->name)
        snprintf(c->where, sizeof c->where, "targets[%zu] (\"%.64s\")", idx, t->name);
    cfgerr_check_keys(c, obj, KEYS);
    if (get_string(c, obj, "host", false, &t->host) == -2)
        return -2;
    if (!t->host || !t->host[0]) {
        if (!cJSON_GetObjectItemCaseSensitive(obj, "host") || t->host)
            cfgerr_add(c, "host", "required (a host name or an IPv4/IPv6 address)");
    } else {
        size_t hl = strlen(t->host);
        if (t->host[0] == '[' && hl > 2 && t->host[hl - 1] == ']') {
            memmove(t->host, t->host + 1, hl - 2);
            t->host[hl - 2] = '\0';
        }
        for (const char *p = t->host; *p; p++) {
            if (*p == ' ' || *p == '/' || *p == '[' || *p == ']') {
                cfgerr_add(c, "host", "\"%s\" is not a host name or address", t->host);
                break;
            }
        }
    }
    if (!t->name) {
        t->name = strdup(t->host ? t->host : "");
        if (!t->name)
            return -2;
    }
    get_number(c, obj, "port", 1, 65535, true, 1, 161, &u);
    t->port = (uint16_t)u;
    char *transport = NULL;
    if (get_string(c, obj, "transport", false, &transport) == -2)
        return -2;
    if (transport && strcmp(transport, "udp") != 0 && strcmp(transport, "tcp") != 0)
        cfgerr_add(c, "transport", "\"%s\" must be \"udp\" or \"tcp\"", transport);
    t->tcp = transport && strcmp(transport, "tcp") == 0;
    free(transport);
    parse_version(c, obj, &t->version);
    if (t->version == SNMP_CFG_V3) {
        if (parse_usm(c, obj, &t->usm) == -2)
            return -2;
        if (cJSON_GetObjectItemCaseSensitive(obj, "community"))
            cfgerr_add(c, "community", "not used with version 3 (give username and passwords)");
        if (get_string(c, obj, "context", false, &t->context) == -2)
            return -2;
    } else {
        if (get_string(c, obj, "community", true, &t->community) == -2)
            return -2;
        if ((!t->community || !t->community[0]) &&
            (!cJSON_GetObjectItemCaseSensitive(obj, "community") || t->community))
            cfgerr_add(c, "community", "required for version %s (a non-empty string)",
                       snmp_config_version_name(t->version));
        static const char *const V3_ONLY[] = {"username", "security_level", "auth_protocol", "auth_password",
                                              "priv_protocol", "priv_password", "context", NULL};
        for (size_t i = 0; V3_ONLY[i]; i++)
            if (cJSON_GetObjectItemCaseSensitive(obj, V3_ONLY[i]))
                cfgerr_add(c, V3_ONLY[i], "only used with version 3");
    }
    get_number(c, obj, "interval", 1, 86400, false, 1, 60, &t->interval_s);
    get_number(c, obj, "timeout", 0.1, 60, false, 1000, 2000, &t->timeout_ms);
    get_number(c, obj, "retries", 0, 10, true, 1, 1, &t->retries);
    get_number(c, obj, "max_rows", 1, 1000000, true, 1, 10000, &t->max_rows);
    get_number(c, obj, "max_walk_time", 1, 3600, false, 1000, 30000, &t->max_walk_ms);
    get_number(c, obj, "max_repetitions", 1, 100, true, 1, 25, &t->max_repetitions);
    get_number(c, obj, "max_poll_bytes", 1024, 1073741824, true, 1, SNMP_CFG_POLL_BYTES_DEFAULT,
               &t->max_poll_bytes);
    if (t->interval_s == 0)
        t->interval_s = 1;
    if (parse_collect(c, obj, &t->collect) == -2)
        return -2;
    return parse_oids(c, obj, t) == -2 ? -2 : 0;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int parse_user(struct cfgerr *c, const cJSON *obj, size_t idx, struct snmp_trap_user *u)
{
    static const char *const KEYS[] = {"username", "security_level", "auth_protocol", "auth_password",
                                       "priv_protocol", "priv_password", "engine_id", NULL};
    snprintf(c->where, sizeof c->where, "trap_users[%zu]", idx);
    if (!cJSON_IsObject(obj))
        return cfgerr_add(c, NULL, "must be an object"), 0;
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "username");
    if (cJSON_IsString(name) && name->valuestring)
        snprintf(c->where, sizeof c->where, "trap_users[%zu] (\"%.64s\")", idx, name->valuestring);
    cfgerr_check_keys(c, obj, KEYS);
    if (parse_usm(c, obj, &u->usm) == -2)
        return -2;
    const cJSON *e = cJSON_GetObjectItemCaseSensitive(obj, "engine_id");
    if (!e)
        return 0;
    if (!cJSON_IsString(e) || !e->valuestring)
        return cfgerr_add(c, "engine_id", "must be a hex string such as \"0x8000000001020304\""), 0;
    const char *p = e->valuestring;
    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
        p += 2;
    size_t n = strlen(p);
    if (n % 2 || n / 2 < 5 || n / 2 > SNMP_CFG_MAX_ENGINE_ID)
        return cfgerr_add(c, "engine_id", "\"%.80s\" must be 5 to 32 bytes of hex", e->valuestring), 0;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hexval(p[i]), lo = hexval(p[i + 1]);
        if (hi < 0 || lo < 0)
            return cfgerr_add(c, "engine_id", "\"%.80s\" must be 5 to 32 bytes of hex", e->valuestring), 0;
        u->engine_id[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    u->engine_id_len = n / 2;
    return 0;
}

/* "trap_limits": the receiver's bounds (every key optional, defaults in snmp_config.h). */
static void parse_trap_limits(struct cfgerr *c, const cJSON *obj, struct snmp_trap_limits *l)
{
    static const char *const KEYS[] = {"max_varbinds", "max_event_bytes", "rate", "burst", "inform_rate",
                                       "inform_burst", "max_sources", NULL};
    snprintf(c->where, sizeof c->where, "trap_limits");
    if (!obj) {
        obj = NULL;
    } else if (!cJSON_IsObject(obj)) {
        cfgerr_add(c, NULL, "must be an object");
        obj = NULL;
    } else {
        cfgerr_check_keys(c, obj, KEYS);
    }
    get_number(c, obj, "max_varbinds", 1, 65535, true, 1, SNMP_TRAP_MAX_VARBINDS_DEFAULT, &l->max_varbinds);
    get_number(c, obj, "max_event_bytes", 512, 16777216, true, 1, SNMP_TRAP_MAX_BYTES_DEFAULT,
               &l->max_event_bytes);
    get_number(c, obj, "rate", 0, 1000000, false, 1000, SNMP_TRAP_RATE_DEFAULT * 1000, &l->rate_milli);
    get_number(c, obj, "burst", 1, 1000000, true, 1, SNMP_TRAP_BURST_DEFAULT, &l->burst);
    get_number(c, obj, "inform_rate", 0, 1000000, false, 1000, SNMP_TRAP_INFORM_RATE_DEFAULT * 1000,
               &l->inform_rate_milli);
    get_number(c, obj, "inform_burst", 1, 1000000, true, 1, SNMP_TRAP_INFORM_BURST_DEFAULT, &l->inform_burst);
    get_number(c, obj, "max_sources", 16, 65536, true, 1, SNMP_TRAP_SOURCES_DEFAULT, &l->max_sources);
    c->where[0] = '\0';
}

void snmp_trap_limits_default(struct snmp_trap_limits *l)
{
    struct cfgerr c;
    cfgerr_init(&c, "AGENT_SNMP_CONFIG", "", NULL, 0);
    parse_trap_limits(&c, NULL, l);
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool usm_same(const struct snmp_usm *a, const struct snmp_usm *b)
{
    return a->level == b->level && a->auth == b->auth && a->priv == b->priv &&
           str_eq(a->auth_password, b->auth_password) && str_eq(a->priv_password, b->priv_password);
}

int snmp_config_parse(const char *text, const char *path, struct snmp_config **out, char *err, size_t errlen)
{
    struct cfgerr c;
    int rc = -1;
    *out = NULL;
    cfgerr_init(&c, "AGENT_SNMP_CONFIG", path, err, errlen);
    cJSON *root = cfgerr_parse_object(&c, text, "must be a JSON object with \"targets\" and/or \"trap_users\"");
    struct snmp_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        snprintf(err, errlen, "AGENT_SNMP_CONFIG=%s: out of memory", path);
        cJSON_Delete(root);
        return -2;
    }
    if (!root)
        goto err;
    static const char *const KEYS[] = {"targets", "trap_users", "trap_limits", NULL};
    cfgerr_check_keys(&c, root, KEYS);
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(root, "targets");
    const cJSON *users = cJSON_GetObjectItemCaseSensitive(root, "trap_users");
    if (targets && (!cJSON_IsArray(targets) || cJSON_GetArraySize(targets) > SNMP_CFG_MAX_TARGETS)) {
        cfgerr_add(&c, "targets", "must be an array of at most %d objects", SNMP_CFG_MAX_TARGETS);
        targets = NULL;
    }
    if (users && (!cJSON_IsArray(users) || cJSON_GetArraySize(users) > SNMP_CFG_MAX_USERS)) {
        cfgerr_add(&c, "trap_users", "must be an array of at most %d objects", SNMP_CFG_MAX_USERS);
        users = NULL;
    }
    parse_trap_limits(&c, cJSON_GetObjectItemCaseSensitive(root, "trap_limits"), &cfg->trap_limits);
    int nt = targets ? cJSON_GetArraySize(targets) : 0;
    int nu = users ? cJSON_GetArraySize(users) : 0;
    if (nt > 0 && !(cfg->targets = calloc((size_t)nt, sizeof *cfg->targets)))
        goto oom;
    if (nu > 0 && !(cfg->users = calloc((size_t)nu, sizeof *cfg->users)))
        goto oom;
    const cJSON *it;
    if (targets) {
        cJSON_ArrayForEach(it, targets) {
            if (parse_target(&c, it, cfg->ntargets, &cfg->targets[cfg->ntargets]) == -2) {
                cfg->ntargets++;
                goto oom;
            }
            cfg->ntargets++;
            const struct snmp_target *last = &cfg->targets[cfg->ntargets - 1];   /* the new one */
            for (size_t j = 0; j + 1 < cfg->ntargets && last->name; j++) {
                const struct snmp_target *o = &cfg->targets[j];
                if (o->name && strcmp(o->name, last->name) == 0) {
                    cfgerr_add(&c, "name", "\"%s\" is also the name of targets[%zu]; names must be unique", o->name, j);
                    break;
                }
            }
            for (size_t j = 0; j + 1 < cfg->ntargets; j++) {
                const struct snmp_target *o = &cfg->targets[j];
                /* net-snmp keeps one key set per (agent engine, user): the same user on the same
                 * agent must come with the same credentials everywhere. */
                if (last->version == SNMP_CFG_V3 && o->version == SNMP_CFG_V3 && o->port == last->port &&
                    o->host && last->host && o->usm.username && last->usm.username &&
                    strcmp(o->host, last->host) == 0 && strcmp(o->usm.username, last->usm.username) == 0 &&
                    !usm_same(&o->usm, &last->usm)) {
                    cfgerr_add(&c, "username", "\"%s\" on %s:%u is also used by targets[%zu] with other "
                               "credentials; net-snmp keeps one key set per agent and user", last->usm.username,
                               last->host, (unsigned)last->port, j);
                    break;
                }
            }
        }
    }
    if (users) {
        cJSON_ArrayForEach(it, users) {
            if (parse_user(&c, it, cfg->nusers, &cfg->users[cfg->nusers]) == -2) {
                cfg->nusers++;
                goto oom;
            }
            cfg->nusers++;
            const struct snmp_trap_user *last = &cfg->users[cfg->nusers - 1];
            for (size_t j = 0; j + 1 < cfg->nusers && last->usm.username; j++) {
                const struct snmp_trap_user *o = &cfg->users[j];
                if (o->usm.username && strcmp(o->usm.username, last->usm.username) == 0) {
                    cfgerr_add(&c, "username", "\"%s\" is also the username of trap_users[%zu]; a trap user is "
                               "named once (the receiver checks each message against that one entry)",
                               last->usm.username, j);
                    break;
                }
            }
        }
    }
    if (c.nerr > 0)
        goto err;
    cJSON_Delete(root);
    *out = cfg;
    return 0;
oom:
    snprintf(err, errlen, "AGENT_SNMP_CONFIG=%s: out of memory", path);
    rc = -2;
    goto cleanup;
err:
    cfgerr_finish(&c);
    rc = -1;
cleanup:
    /* The parsed text may hold secrets: cJSON has no wipe, so blank them in the tree first. */
    if (root) {
        const cJSON *arrs[2] = {cJSON_GetObjectItemCaseSensitive(root, "targets"),
                                cJSON_GetObjectItemCaseSensitive(root, "trap_users")};
        for (int a = 0; a < 2; a++) {
            const cJSON *o;
            if (!cJSON_IsArray(arrs[a]))
                continue;
            cJSON_ArrayForEach(o, arrs[a]) {
                static const char *const SECRET[] = {"community", "auth_password", "priv_password", NULL};
                for (size_t k = 0; SECRET[k]; k++) {
                    cJSON *s;
                    cJSON_ArrayForEach(s, o) {   /* duplicates too */
                        if (s->string && strcmp(s->string, SECRET[k]) == 0 && cJSON_IsString(s) && s->valuestring)
                            explicit_bzero(s->valuestring, strlen(s->valuestring));
                    }
                }
            }
        }
    }
    cJSON_Delete(root);
    snmp_config_destroy(cfg);
    return rc;
}

int snmp_config_load(const char *path, struct snmp_config **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "AGENT_SNMP_CONFIG=%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    int rc = 0;
    while (buf) {
        if (len + 1 >= cap) {
            if (cap >= SNMP_CFG_FILE_MAX) {
                snprintf(err, errlen, "AGENT_SNMP_CONFIG=%s: larger than %u bytes", path, SNMP_CFG_FILE_MAX);
                rc = -1;
                break;
            }
            char *nb = realloc(buf, cap * 2);
            if (!nb) {
                explicit_bzero(buf, len);
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                snprintf(err, errlen, "AGENT_SNMP_CONFIG=%s: read error", path);
                rc = -1;
            }
            break;
        }
    }
    fclose(f);
    if (!buf) {
        snprintf(err, errlen, "AGENT_SNMP_CONFIG=%s: out of memory", path);
        return -2;
    }
    if (rc == 0) {
        buf[len] = '\0';
        rc = snmp_config_parse(buf, path, out, err, errlen);
    }
    explicit_bzero(buf, len);
    free(buf);
    return rc;
}

static void usm_free(struct snmp_usm *u)
{
    free(u->username);
    free_secret(u->auth_password);
    free_secret(u->priv_password);
}

void snmp_config_destroy(struct snmp_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->ntargets; i++)
        snmp_target_clear(&cfg->targets[i]);
    for (size_t i = 0; i < cfg->nusers; i++)
        usm_free(&cfg->users[i].usm);
    free(cfg->targets);
    free(cfg->users);
    free(cfg);
}

int snmp_target_from_json(const cJSON *obj, struct snmp_target *t, char *field, size_t fieldlen, char *err,
                          size_t errlen)
{
    struct cfgerr c;
    memset(t, 0, sizeof *t);
    cfgerr_init_request(&c, err, errlen);
    int rc = parse_target(&c, obj, 0, t);
    if (rc == 0 && c.nerr > 0)
        rc = -1;
    if (rc == -2)
        snprintf(err, errlen, "out of memory");
    if (fieldlen)
        snprintf(field, fieldlen, "%s", rc == -1 ? c.field : "");
    if (rc != 0)
        snmp_target_clear(t);
    return rc;
}

void snmp_target_clear(struct snmp_target *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->host);
    free_secret(t->community);
    usm_free(&t->usm);
    free(t->context);
    free(t->oids);
    memset(t, 0, sizeof *t);
}

const char *snmp_config_version_name(enum snmp_cfg_version v)
{
    switch (v) {
    case SNMP_CFG_V1: return "1";
    case SNMP_CFG_V3: return "3";
    default:          return "2c";
    }
}

/* reload (issue 17.5); str_eq is above */
static bool usm_eq(const struct snmp_usm *a, const struct snmp_usm *b)
{
    return str_eq(a->username, b->username) && a->level == b->level && a->auth == b->auth &&
           str_eq(a->auth_password, b->auth_password) && a->priv == b->priv &&
           str_eq(a->priv_password, b->priv_password);
}

bool snmp_target_equal(const struct snmp_target *a, const struct snmp_target *b)
{
    if (!str_eq(a->name, b->name) || !str_eq(a->host, b->host) || a->port != b->port || a->tcp != b->tcp ||
        a->version != b->version || !str_eq(a->community, b->community) || !usm_eq(&a->usm, &b->usm) ||
        !str_eq(a->context, b->context) || a->interval_s != b->interval_s || a->timeout_ms != b->timeout_ms ||
        a->retries != b->retries || a->collect != b->collect || a->noids != b->noids ||
        a->max_rows != b->max_rows || a->max_walk_ms != b->max_walk_ms ||
        a->max_repetitions != b->max_repetitions || a->max_poll_bytes != b->max_poll_bytes)
        return false;
    for (size_t i = 0; i < a->noids; i++)
        if (a->oids[i].len != b->oids[i].len ||
            memcmp(a->oids[i].ids, b->oids[i].ids, a->oids[i].len * sizeof a->oids[i].ids[0]) != 0)
            return false;
    return true;
}

void snmp_config_diff(const struct snmp_config *old, const struct snmp_config *new_cfg, size_t *keep,
                      struct snmp_config_diff *d)
{
    memset(d, 0, sizeof *d);
    size_t same_name = 0;
    for (size_t j = 0; j < new_cfg->ntargets; j++) {
        keep[j] = SIZE_MAX;
        const struct snmp_target *n = &new_cfg->targets[j];
        size_t i = 0;
        while (i < old->ntargets && strcmp(old->targets[i].name, n->name) != 0)
            i++;
        if (i == old->ntargets) {
            d->added++;
            continue;
        }
        same_name++;
        if (snmp_target_equal(&old->targets[i], n)) {
            keep[j] = i;
            d->unchanged++;
        } else {
            d->changed++;
        }
    }
    d->removed = old->ntargets - same_name;
}
