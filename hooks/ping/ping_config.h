/*
 * ping_config.h — the reachability-check hook's JSON file (AGENT_PING_CONFIG).
 *
 * Each target has its own address, schedule and probe shape, which does not
 * fit environment variables, so they live in one JSON file, read at start and
 * again on reload. Loading validates every field and reports every problem it
 * finds, one line each, naming the file, the target (index and name), the
 * field and the rule, as the SNMP target file does (hooks/snmp/snmp_config.h).
 * Unknown and duplicate keys and values of the wrong JSON type are problems.
 * Host names are resolved while loading (getaddrinfo), so a name that does
 * not resolve is a problem of the file, reported like the others; the address
 * found is kept until the next reload.
 *
 * The file:
 *   {"defaults": {"interval", "count", "timeout", "probe_interval", "size"},
 *    "targets": [{"name", "host" (IPv4/IPv6 literal or a name), "interval" (s, 60),
 *                 "count" (probes per round, 5), "timeout" (s per probe, 1),
 *                 "probe_interval" (s between the probes of a round, 1),
 *                 "size" (ICMP data bytes, 56)}]}
 * A target's field overrides "defaults", which overrides the built-in value.
 * Numbers are JSON numbers; durations are seconds and may have fractions.
 */
#ifndef TRACER_PING_CONFIG_H
#define TRACER_PING_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PING_CFG_MAX_TARGETS 4096
#define PING_CFG_MAX_COUNT   100
#define PING_CFG_SIZE_MIN    24      /* the probe's tag (ping_packet.h) */
#define PING_CFG_SIZE_MAX    1472    /* one Ethernet frame over IPv4 */

struct ping_target {
    char *name;                    /* unique in the file; the host when not given */
    char *host;                    /* as written (literal or name) */
    struct sockaddr_storage addr;  /* resolved at load; port 0 */
    socklen_t addrlen;
    int family;                    /* AF_INET or AF_INET6 */
    char address[48];              /* numeric form of addr */
    uint32_t interval_ms;          /* between round starts, [1 s, 1 d] */
    uint32_t count;                /* probes per round, [1, PING_CFG_MAX_COUNT] */
    uint32_t timeout_ms;           /* a probe's reply must come within, [10 ms, 60 s] */
    uint32_t probe_interval_ms;    /* between probes of one round, [10 ms, 10 s] */
    uint32_t size;                 /* ICMP data bytes after the 8-byte header */
};

struct ping_config {
    struct ping_target *targets;
    size_t ntargets;
};

/*
 * Read and validate the file at `path`. Returns 0 and a new config in *out
 * (ping_config_destroy), -1 when the file is unreadable or invalid (message
 * in err, one line per problem, e.g. "AGENT_PING_CONFIG=<path>: targets[1]
 * (\"gw\"): count: 0 must be an integer in [1, 100]"), -2 when out of memory.
 * Any thread (resolves host names: may block for the resolver's timeout).
 */
int ping_config_load(const char *path, struct ping_config **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* The same from text already in memory; `path` is only used in messages. */
int ping_config_parse(const char *text, const char *path, struct ping_config **out, char *err,
                      size_t errlen) __attribute__((warn_unused_result));

/* NULL-safe. */
void ping_config_destroy(struct ping_config *cfg);

/* Whether two targets probe the same way (same name, host, address and every parameter). */
bool ping_target_same(const struct ping_target *a, const struct ping_target *b);

#endif
