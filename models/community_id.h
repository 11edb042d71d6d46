/*
 * community_id.h — Community ID flow hashing, version 1.
 *
 * Community ID (https://github.com/corelight/community-id-spec) is a hash of a
 * flow's 5-tuple that Zeek, Suricata and others emit the same way, so users can
 * join our FlowEvents with their other tools. Implemented here against the
 * spec: SHA-1 over seed, ordered addresses, protocol, padding and
 * ports (ICMP type/code mapped to port equivalents), base64, "1:" prefix.
 */
#ifndef TRACER_COMMUNITY_ID_H
#define TRACER_COMMUNITY_ID_H

#include <stddef.h>
#include <stdint.h>

/* Buffer size that always fits a v1 id: "1:" + 28 base64 chars + NUL. */
#define COMMUNITY_ID_LEN 31

/*
 * Compute the v1 id of a flow seen from its initiator. `ip_version` 4 uses the
 * first 4 bytes of src/dst, 6 all 16. For TCP/UDP/SCTP pass the ports; for
 * ICMP/ICMPv6 pass the initiator's type as sport and code as dport (they are
 * mapped as the spec says); other protocols ignore the ports.
 * Writes a NUL-terminated string into out (outlen >= COMMUNITY_ID_LEN).
 * Returns 0, or -1 when outlen is too small or ip_version is not 4/6.
 */
int community_id_v1(uint16_t seed, int ip_version, const uint8_t *src,
                    const uint8_t *dst, uint8_t proto, uint16_t sport,
                    uint16_t dport, char *out, size_t outlen);

/*
 * A SHA-1 hasher kept by one thread (the sender, the IPFIX encoder): one
 * context reused. Not thread-safe. NULL from create when out of memory;
 * destroy is NULL-safe.
 */
typedef struct community_id_hasher community_id_hasher;
community_id_hasher *community_id_hasher_create(void);
void community_id_hasher_destroy(community_id_hasher *h);

/* community_id_v1 through hasher `h` (NULL: a context on the stack). Same result; never allocates. */
int community_id_v1_hash(community_id_hasher *h, uint16_t seed, int ip_version, const uint8_t *src,
                         const uint8_t *dst, uint8_t proto, uint16_t sport, uint16_t dport,
                         char *out, size_t outlen);

/*
 * The Community ID's ICMP counterpart of `type` (proto 1: ICMPv4, 58: ICMPv6):
 * the reply type of a request and the request type of a reply (echo,
 * timestamp, router/neighbour discovery, ...), or -1 when the type is one-way
 * (errors, redirects, ...) or proto is neither. Pure; any thread.
 */
int community_id_icmp_counterpart(uint8_t proto, uint8_t type);

#endif
