/*
 * snmp_values.h — turning net-snmp variables into readable JSON values.
 *
 * Both SNMP hooks (the poller and the trap receiver) report what agents send
 * as JSON that a backend can use without an SNMP library: integers as JSON
 * integers (Counter64 exact, even above 2^53), OIDs and IP addresses in dotted
 * form, MAC addresses as aa:bb:cc:dd:ee:ff, octet strings as text when they
 * are printable and as colon-separated lowercase hex when they are not. The
 * functions here are pure (no session, no library init, no global state), so
 * they are unit-tested on hand-built variables. Any thread.
 */
#ifndef TRACER_SNMP_VALUES_H
#define TRACER_SNMP_VALUES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <net-snmp/net-snmp-config.h>
#include <net-snmp/net-snmp-includes.h>

struct cJSON;

/* A numeric OID of at most MAX_OID_LEN sub-identifiers. */
struct snmp_oid {
    oid    ids[MAX_OID_LEN];
    size_t len;
};

/*
 * Parse a numeric dotted OID ("1.3.6.1.2.1.1.5.0", a leading dot allowed).
 * Needs at least two sub-identifiers, each in [0, 2^32-1]. Returns true and
 * fills *out, false when the text is not such an OID.
 */
bool snmp_oid_parse(const char *text, struct snmp_oid *out);

/*
 * Write `ids` (len of them) in dotted form into buf (always NUL-terminated
 * when buflen > 0). Returns buf. A text that does not fit ends in "...".
 */
char *snmp_oid_format(const oid *ids, size_t len, char *buf, size_t buflen);

/* Room for any formatted OID (MAX_OID_LEN sub-identifiers of 10 digits, dots, NUL). */
#define SNMP_OID_TEXT_MAX (MAX_OID_LEN * 11 + 1)

/* New cJSON string with the dotted OID; NULL when out of memory. */
struct cJSON *snmp_oid_json(const oid *ids, size_t len);

/* Whether `name` lies strictly below `root` (name longer, root a prefix). */
bool snmp_oid_below(const oid *root, size_t rootlen, const oid *name, size_t namelen);

/*
 * Format bytes as lowercase hex pairs separated by ':' ("" for n == 0) into
 * buf (NUL-terminated; truncated when it does not fit). Returns buf.
 */
char *snmp_hex_format(const uint8_t *p, size_t n, char *buf, size_t buflen);

/*
 * Whether the bytes read as text: valid UTF-8 with no control characters
 * other than tab, CR and LF. Trailing NUL bytes are ignored (agents often send
 * C strings with their terminator); *textlen gets the length without them.
 */
bool snmp_octets_printable(const uint8_t *p, size_t n, size_t *textlen);

/* New cJSON string: the text when printable, else the hex form. */
struct cJSON *snmp_octets_json(const uint8_t *p, size_t n);

/* New cJSON string with the MAC form of any octet string ("" when empty). */
struct cJSON *snmp_mac_json(const uint8_t *p, size_t n);

/*
 * New cJSON number holding `v` exactly: a number below 2^53, a raw item
 * (printed verbatim as a JSON integer) above. NULL when out of memory.
 */
struct cJSON *snmp_u64_json(uint64_t v);

/* The variable's type as a short stable name: "integer", "string", "oid",
 * "ipaddress", "counter32", "gauge32", "timeticks", "opaque", "counter64",
 * "null", "nosuchobject", "nosuchinstance", "endofmibview", else "unknown". */
const char *snmp_type_name(unsigned char asn_type);

/*
 * The variable's value as JSON: integers and counters as numbers, octet
 * strings via snmp_octets_json, OIDs dotted, IpAddress dotted quad, NULL and
 * the exception types as null, Opaque and unknown types as hex. NULL only when
 * out of memory.
 */
struct cJSON *snmp_value_json(const netsnmp_variable_list *v);

/* {"oid": "...", "type": "...", "value": ...}; NULL when out of memory. */
struct cJSON *snmp_varbind_json(const netsnmp_variable_list *v);

/* Whether the variable holds one of the integer-like types (INTEGER,
 * Counter32, Gauge32, TimeTicks, UInteger32, Counter64); *out gets the value
 * (negative INTEGERs are not accepted). */
bool snmp_value_u64(const netsnmp_variable_list *v, uint64_t *out);

/* Whether the variable is INTEGER; *out gets its value. */
bool snmp_value_long(const netsnmp_variable_list *v, long *out);

/* Whether the variable is an exception (noSuchObject, noSuchInstance, endOfMibView). */
bool snmp_value_is_exception(const netsnmp_variable_list *v);

#endif
