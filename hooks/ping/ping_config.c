/*
 * ping_config.c — reading and validating AGENT_PING_CONFIG (see ping_config.h).
 *
 * Walks the cJSON tree once, in the SNMP target file's manner: unknown fields
 * (a misspelt "intervall" would silently fall back to a default), duplicate
 * keys and wrong JSON types are refused, and every problem becomes one line of
 * the message (file, key path, rule) so that one run shows them all. The
 * result is plain structs; the hook never touches JSON for its settings.
 */
#define _GNU_SOURCE 1   /* getaddrinfo's flags, NI_* */
#include "ping_config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../../common/cfgerr.h"

#define PING_CFG_FILE_MAX   (4u * 1024u * 1024u)
#define PING_CFG_STRING_MAX 255

/* Optional string: 0 absent (*out NULL), 1 found, -1 invalid, -2 no memory. */
static int get_string(struct cfgerr *c, const cJSON *obj, const char *field, char **out)
{
    return cfgerr_get_string(c, obj, field, 1, PING_CFG_STRING_MAX, false, out);
}

/* Optional JSON number in [lo, hi] (integer when asked), times `scale`, else `dflt`. */
static void get_number(struct cfgerr *c, const cJSON *obj, const char *field, double lo, double hi,
                       bool integer, double scale, uint32_t dflt, uint32_t *out)
{
    cfgerr_get_number(c, obj, field, lo, hi, integer, scale, dflt, false, out);
}

/* The probe parameters of `obj` over `base` (the defaults). */
static void get_params(struct cfgerr *c, const cJSON *obj, const struct ping_target *base, struct ping_target *t)
{
    get_number(c, obj, "interval", 1, 86400, false, 1000, base->interval_ms, &t->interval_ms);
    get_number(c, obj, "count", 1, PING_CFG_MAX_COUNT, true, 1, base->count, &t->count);
    get_number(c, obj, "timeout", 0.01, 60, false, 1000, base->timeout_ms, &t->timeout_ms);
    get_number(c, obj, "probe_interval", 0.01, 10, false, 1000, base->probe_interval_ms, &t->probe_interval_ms);
    get_number(c, obj, "size", PING_CFG_SIZE_MIN, PING_CFG_SIZE_MAX, true, 1, base->size, &t->size);
}

/* Literal or name -> t->addr/family/address; problems reported. */
static void resolve(struct cfgerr *c, struct ping_target *t)
{
    struct sockaddr_in *s4 = (struct sockaddr_in *)&t->addr;
    struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t->addr;
    memset(&t->addr, 0, sizeof t->addr);
    if (inet_pton(AF_INET, t->host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        t->addrlen = sizeof *s4;
    } else if (inet_pton(AF_INET6, t->host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        t->addrlen = sizeof *s6;
    } else {
        struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_DGRAM}, *res = NULL;
        int rc = getaddrinfo(t->host, NULL, &hints, &res);
        const struct addrinfo *ai = res;
        while (ai && ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            ai = ai->ai_next;
        if (rc != 0 || !ai || ai->ai_addrlen > sizeof t->addr) {
            cfgerr_add(c, "host", "\"%s\" does not resolve (%s)", t->host, rc ? gai_strerror(rc) : "no IP address");
            freeaddrinfo(res);
            return;
        }
        memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
        t->addrlen = (socklen_t)ai->ai_addrlen;
        freeaddrinfo(res);
        if (t->addr.ss_family == AF_INET)
            s4->sin_port = 0;
        else
            s6->sin6_port = 0;
    }
    t->family = t->addr.ss_family;
    const void *a = t->family == AF_INET ? (const void *)&s4->sin_addr : (const void *)&s6->sin6_addr;
    if (!inet_ntop(t->family, a, t->address, sizeof t->address))
        t->address[0] = '\0';
}

static const char *const PARAM_KEYS[] = {"interval", "count", "timeout", "probe_interval", "size", NULL};
static const char *const TARGET_KEYS[] = {"name", "host", "interval", "count", "timeout", "probe_interval",
                                          "size", NULL};

/* One target; -2 when out of memory, else 0 (problems are recorded in c). */
static int parse_target(struct cfgerr *c, const cJSON *obj, size_t idx, const struct ping_target *base,
                        struct ping_target *t)
{
    snprintf(c->where, sizeof c->where, "targets[%zu]", idx);
    if (!cJSON_IsObject(obj)) {
        cfgerr_add(c, NULL, "must be an object");
        return 0;
    }
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(obj, "name");
    if (!cJSON_IsString(name))
        name = cJSON_GetObjectItemCaseSensitive(obj, "host");   /* the name a target without one gets */
    if (cJSON_IsString(name) && name->valuestring)
        snprintf(c->where, sizeof c->where, "targets[%zu] (\"%.64s\")", idx, name->valuestring);
    cfgerr_check_keys(c, obj, TARGET_KEYS);
    if (get_string(c, obj, "name", &t->name) == -2 || get_string(c, obj, "host", &t->host) == -2)
        return -2;
    if (!t->host) {
        if (!cJSON_GetObjectItemCaseSensitive(obj, "host"))
            cfgerr_add(c, "host", "required (an IPv4 or IPv6 address or a host name)");
    } else {
        resolve(c, t);
    }
    if (!t->name && t->host && !cJSON_GetObjectItemCaseSensitive(obj, "name") && !(t->name = strdup(t->host)))
        return -2;
    get_params(c, obj, base, t);
    uint64_t round_ms = (uint64_t)(t->count - 1) * t->probe_interval_ms + t->timeout_ms;
    if (t->interval_ms && round_ms > t->interval_ms)
        cfgerr_add(c, "interval",
                   "%g s is shorter than one round ((count - 1) x probe_interval + timeout = %g s)",
                   t->interval_ms / 1000.0, (double)round_ms / 1000.0);
    return 0;
}

int ping_config_parse(const char *text, const char *path, struct ping_config **out, char *err, size_t errlen)
{
    struct cfgerr c;
    *out = NULL;
    cfgerr_init(&c, "AGENT_PING_CONFIG", path, err, errlen);
    cJSON *root = cfgerr_parse_object(&c, text, "must be a JSON object with \"targets\"");
    struct ping_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        goto oom;
    if (!root)
        goto bad;
    static const char *const KEYS[] = {"defaults", "targets", NULL};
    cfgerr_check_keys(&c, root, KEYS);
    const struct ping_target builtin = {.interval_ms = 60000, .count = 5, .timeout_ms = 1000,
                                        .probe_interval_ms = 1000, .size = 56};
    struct ping_target base = builtin;
    const cJSON *defaults = cJSON_GetObjectItemCaseSensitive(root, "defaults");
    if (defaults) {
        snprintf(c.where, sizeof c.where, "defaults");
        if (!cJSON_IsObject(defaults))
            cfgerr_add(&c, NULL, "must be an object");
        else {
            cfgerr_check_keys(&c, defaults, PARAM_KEYS);
            get_params(&c, defaults, &builtin, &base);
        }
        c.where[0] = '\0';
    }
    const cJSON *targets = cJSON_GetObjectItemCaseSensitive(root, "targets");
    if (targets && (!cJSON_IsArray(targets) || cJSON_GetArraySize(targets) > PING_CFG_MAX_TARGETS)) {
        cfgerr_add(&c, "targets", "must be an array of at most %d objects", PING_CFG_MAX_TARGETS);
        targets = NULL;
    }
    int nt = targets ? cJSON_GetArraySize(targets) : 0;
    if (nt > 0 && !(cfg->targets = calloc((size_t)nt, sizeof *cfg->targets)))
        goto oom;
    const cJSON *it;
    cJSON_ArrayForEach(it, targets) {
        struct ping_target *t = &cfg->targets[cfg->ntargets++];
        if (parse_target(&c, it, cfg->ntargets - 1, &base, t) == -2)
            goto oom;
        for (size_t j = 0; j + 1 < cfg->ntargets && t->name; j++)
            if (cfg->targets[j].name && strcmp(cfg->targets[j].name, t->name) == 0) {
                cfgerr_add(&c, "name", "\"%s\" is also the name of targets[%zu]; names must be unique", t->name, j);
                break;
            }
    }
    if (c.nerr > 0)
        goto bad;
    cJSON_Delete(root);
    *out = cfg;
    return 0;
oom:
    snprintf(err, errlen, "AGENT_PING_CONFIG=%s: out of memory", path);
    cJSON_Delete(root);
    ping_config_destroy(cfg);
    return -2;
bad:
    cfgerr_finish(&c);
    cJSON_Delete(root);
    ping_config_destroy(cfg);
    return -1;
}

int ping_config_load(const char *path, struct ping_config **out, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "AGENT_PING_CONFIG=%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(PING_CFG_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        snprintf(err, errlen, "AGENT_PING_CONFIG=%s: out of memory", path);
        return -2;
    }
    size_t len = fread(buf, 1, PING_CFG_FILE_MAX + 1, f);
    int rc = 0;
    if (ferror(f)) {
        snprintf(err, errlen, "AGENT_PING_CONFIG=%s: read error", path);
        rc = -1;
    } else if (len > PING_CFG_FILE_MAX) {
        snprintf(err, errlen, "AGENT_PING_CONFIG=%s: larger than %u bytes", path, PING_CFG_FILE_MAX);
        rc = -1;
    }
    fclose(f);
    if (rc == 0) {
        buf[len] = '\0';
        rc = ping_config_parse(buf, path, out, err, errlen);
    }
    free(buf);
    return rc;
}

void ping_config_destroy(struct ping_config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->ntargets; i++) {
        free(cfg->targets[i].name);
        free(cfg->targets[i].host);
    }
    free(cfg->targets);
    free(cfg);
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool ping_target_same(const struct ping_target *a, const struct ping_target *b)
{
    return str_eq(a->name, b->name) && str_eq(a->host, b->host) && a->family == b->family &&
           strcmp(a->address, b->address) == 0 && a->interval_ms == b->interval_ms && a->count == b->count &&
           a->timeout_ms == b->timeout_ms && a->probe_interval_ms == b->probe_interval_ms && a->size == b->size;
}
