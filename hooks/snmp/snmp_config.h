/*
 * snmp_config.h — the SNMP hooks' JSON configuration file (AGENT_SNMP_CONFIG).
 *
 * SNMP settings are per target (address, version, credentials, what to
 * collect, how often) and per trap user, which does not fit environment
 * variables, so they live in one JSON file read once at start. Loading
 * validates every field and reports every problem it finds, one line each,
 * naming the file, the key path (target index and name, field) and the rule,
 * never a secret's value; main prints them and exits with status 2. Unknown
 * and duplicate keys and values of the wrong JSON type are problems. The result never changes afterwards
 * and is shared read-only by the hooks' threads. Secrets are wiped on destroy.
 *
 * The file:
 *   {"targets": [{"name", "host", "port" (161), "transport" ("udp"|"tcp"),
 *                 "version" ("1"|"2c"|"3", default "2c"), "community" (v1/v2c),
 *                 "interval" (s, 60), "timeout" (s, 2), "retries" (1),
 *                 "collect" (["system"]; also "interfaces", "arp", "lldp"),
 *                 "oids" ([]), "max_rows" (10000 per walk), "max_walk_time" (s, 30),
 *                 "max_repetitions" (25), "max_poll_bytes" (8 MiB), v3: "username", "security_level",
 *                 "auth_protocol", "auth_password", "priv_protocol",
 *                 "priv_password", "context"}],
 *    "trap_users": [{"username", "auth_protocol", "auth_password",
 *                    "priv_protocol", "priv_password", "engine_id" ("0x...")}],
 *    "trap_limits": {"max_varbinds" (128), "max_event_bytes" (16384), "rate" (100 per s),
 *                    "burst" (200), "inform_rate" (10 per s), "inform_burst" (20),
 *                    "max_sources" (4096)}}
 * Numbers are JSON numbers ("port": "161" is refused); "version" may also be 1 or 3.
 */
#ifndef TRACER_SNMP_CONFIG_H
#define TRACER_SNMP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snmp_values.h"

struct cJSON;

enum snmp_cfg_version { SNMP_CFG_V1 = 0, SNMP_CFG_V2C, SNMP_CFG_V3 };
enum snmp_cfg_level   { SNMP_CFG_NOAUTH = 0, SNMP_CFG_AUTHNOPRIV, SNMP_CFG_AUTHPRIV };
enum snmp_cfg_auth    { SNMP_CFG_AUTH_NONE = 0, SNMP_CFG_AUTH_MD5, SNMP_CFG_AUTH_SHA, SNMP_CFG_AUTH_SHA224,
                        SNMP_CFG_AUTH_SHA256, SNMP_CFG_AUTH_SHA384, SNMP_CFG_AUTH_SHA512 };
enum snmp_cfg_priv    { SNMP_CFG_PRIV_NONE = 0, SNMP_CFG_PRIV_DES, SNMP_CFG_PRIV_AES, SNMP_CFG_PRIV_AES192,
                        SNMP_CFG_PRIV_AES256 };

/* What a poll collects (bits of snmp_target.collect). */
enum {
    SNMP_COLLECT_SYSTEM     = 1u << 0,
    SNMP_COLLECT_INTERFACES = 1u << 1,
    SNMP_COLLECT_ARP        = 1u << 2,
    SNMP_COLLECT_LLDP       = 1u << 3,
};

#define SNMP_CFG_MAX_TARGETS   4096
#define SNMP_CFG_MAX_OIDS      128
#define SNMP_CFG_MAX_USERS     256
#define SNMP_CFG_MAX_ENGINE_ID 32
#define SNMP_CFG_POLL_BYTES_DEFAULT (8u * 1024u * 1024u)

/* Trap receiver bounds (snmp_trap.c), defaults. */
#define SNMP_TRAP_MAX_VARBINDS_DEFAULT  128
#define SNMP_TRAP_MAX_BYTES_DEFAULT     16384
#define SNMP_TRAP_RATE_DEFAULT          100
#define SNMP_TRAP_BURST_DEFAULT         200
#define SNMP_TRAP_INFORM_RATE_DEFAULT   10
#define SNMP_TRAP_INFORM_BURST_DEFAULT  20
#define SNMP_TRAP_SOURCES_DEFAULT       4096

/* v3 credentials (a target's or a trap user's). */
struct snmp_usm {
    char *username;
    enum snmp_cfg_level level;
    enum snmp_cfg_auth auth;
    char *auth_password;          /* NULL unless level >= authNoPriv */
    enum snmp_cfg_priv priv;
    char *priv_password;          /* NULL unless level == authPriv */
};

struct snmp_target {
    char *name;
    char *host;                   /* host name or address, IPv6 without brackets */
    uint16_t port;
    bool tcp;
    enum snmp_cfg_version version;
    char *community;              /* v1/v2c */
    struct snmp_usm usm;          /* v3 */
    char *context;                /* v3 context name, "" by default */
    uint32_t interval_s;          /* [1, 86400] */
    uint32_t timeout_ms;          /* [100 ms, 60 s] */
    uint32_t retries;             /* [0, 10] */
    unsigned collect;             /* SNMP_COLLECT_* */
    struct snmp_oid *oids;        /* plain GETs */
    size_t noids;
    uint32_t max_rows;            /* varbinds per walk, [1, 1000000] */
    uint32_t max_walk_ms;         /* per walk, [1 s, 3600 s] */
    uint32_t max_repetitions;     /* GETBULK, [1, 100] */
    uint32_t max_poll_bytes;      /* values + names one poll may collect, [1 KiB, 1 GiB] */
};

struct snmp_trap_user {
    struct snmp_usm usm;
    uint8_t engine_id[SNMP_CFG_MAX_ENGINE_ID];   /* the trap sender's engine; empty = informs only */
    size_t engine_id_len;
};

/* What one trap event and one source may cost the receiver. */
struct snmp_trap_limits {
    uint32_t max_varbinds;        /* varbinds kept per event; the rest is cut ("truncated": true) */
    uint32_t max_event_bytes;     /* value + OID bytes kept per event, likewise */
    uint32_t rate_milli;          /* traps/informs per second and source, x1000; 0 = no limit */
    uint32_t burst;               /* token bucket depth */
    uint32_t inform_rate_milli;   /* inform acknowledgements per second and source, x1000; 0 = no limit */
    uint32_t inform_burst;
    uint32_t max_sources;         /* sources tracked at once, [16, 65536] (bounded table; the stalest is
                                     evicted); the table takes 2 slots of 48 bytes per source */
};

struct snmp_config {
    struct snmp_target *targets;
    size_t ntargets;
    struct snmp_trap_user *users;
    size_t nusers;
    struct snmp_trap_limits trap_limits;
};

/* The defaults of every trap limit (what an absent "trap_limits" gives). */
void snmp_trap_limits_default(struct snmp_trap_limits *l);

/*
 * Read and validate the file at `path`. Returns 0 and a new config in *out
 * (snmp_config_destroy), -1 when the file is invalid or unreadable (message in
 * err, naming the file: "AGENT_SNMP_CONFIG=<path>: targets[1] (\"edge\"):
 * auth_protocol: ..."), -2 when out of memory. Main thread.
 */
int snmp_config_load(const char *path, struct snmp_config **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The same from text already in memory; `path` is only used in messages. */
int snmp_config_parse(const char *text, const char *path, struct snmp_config **out,
                      char *err, size_t errlen) __attribute__((warn_unused_result));

/* NULL-safe; wipes passwords and communities before freeing. */
void snmp_config_destroy(struct snmp_config *cfg);

/*
 * One target from a JSON object with the fields of a "targets" entry (the
 * on-demand SNMP API's requests), under the same rules as the file. Returns 0
 * and fills *t (snmp_target_clear), -1 when invalid: err holds every problem
 * ("field: rule; field: rule", never a secret's value) and `field` the first
 * field named (may be ""), -2 when out of memory. Any thread (pure).
 */
int snmp_target_from_json(const struct cJSON *obj, struct snmp_target *t, char *field, size_t fieldlen,
                          char *err, size_t errlen) __attribute__((warn_unused_result));

/* Free a target's strings (secrets wiped) and zero it. NULL-safe. */
void snmp_target_clear(struct snmp_target *t);

/* "1", "2c", "3". */
const char *snmp_config_version_name(enum snmp_cfg_version v);

/* reload (issue 17.5) */
/*
 * Whether two targets are the same poll: every field equal (name, address,
 * transport, version, credentials, context, schedule, limits, what to collect,
 * the OIDs). A reload keeps an equal target's session and schedule and treats
 * any difference as a changed target (new session). Any thread.
 */
bool snmp_target_equal(const struct snmp_target *a, const struct snmp_target *b);

/* What a reload changes, counted by snmp_config_diff. */
struct snmp_config_diff {
    size_t added;       /* names only in the new file */
    size_t removed;     /* names only in the old file */
    size_t changed;     /* same name, some field differs */
    size_t unchanged;   /* same name, every field equal */
};

/*
 * Compare the old and new target lists by name (names are unique in a file).
 * keep[j] (new->ntargets entries) is set to the index in `old` of an equal
 * target, or SIZE_MAX when new target j is added or changed. Counts in *d.
 * Any thread; both configs read-only.
 */
void snmp_config_diff(const struct snmp_config *old, const struct snmp_config *new_cfg, size_t *keep,
                      struct snmp_config_diff *d);

#endif
