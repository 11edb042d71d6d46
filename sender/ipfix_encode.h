/*
 * ipfix_encode.h — flow records as IPFIX (RFC 7011) or NetFlow v9 (RFC 3954)
 * messages, in memory.
 *
 * The IPFIX/NetFlow output (ipfix_export.h) needs bytes to put on a socket;
 * this module makes them and knows nothing of sockets, so unit tests can check
 * exact bytes and the bench can time encoding alone. IPFIX messages are built
 * by libfixbuf (Debian's libfixbuf-dev, the library behind YAF): its IANA
 * information model, RFC 5103 reverse elements (PEN 29305), templates and
 * sequence numbers. libfixbuf only *collects* NetFlow v9, it cannot write it,
 * so the v9 messages are written here by hand (a header, two fixed templates,
 * fixed-size data records; about 150 lines).
 *
 * IPFIX: one bidirectional record per flow event (templates below): forward counters for the initiator's direction, reverse* for the
 * responder's, per-direction TCP flags, and the Community ID under the
 * enterprise number IPFIX_ENC_PEN (element IPFIX_ENC_IE_COMMUNITY_ID, a
 * 30-byte string). NetFlow v9 has no biflows: two records per event (the
 * responder's only when it sent packets), with FIRST/LAST_SWITCHED relative
 * to the header's sysUpTime.
 *
 * Not thread-safe: one encoder per thread (libfixbuf's GLib allocations stay
 * on the thread that owns the encoder).
 */
#ifndef TRACER_IPFIX_ENCODE_H
#define TRACER_IPFIX_ENCODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../models/flow_event.h"

/*
 * Private enterprise number for the elements IANA has no number for. 32473 is
 * the number RFC 5612 reserves for documentation and examples: a placeholder
 * until the project registers its own (then only this line changes).
 */
#define IPFIX_ENC_PEN 32473u
#define IPFIX_ENC_IE_COMMUNITY_ID 1u   /* string, 30 octets: "1:" + base64 SHA-1 */

/* Template ids: IPv4 and IPv6 records with ports (NetFlow v9: every record);
 * IPFIX ICMP/ICMPv6 records carry icmpTypeCode instead of ports (+2). */
#define IPFIX_ENC_TID_V4 256u
#define IPFIX_ENC_TID_V6 257u
#define IPFIX_ENC_TID_V4_ICMP 258u
#define IPFIX_ENC_TID_V6_ICMP 259u

enum ipfix_enc_protocol { IPFIX_ENC_IPFIX = 0, IPFIX_ENC_NETFLOW9 };

struct ipfix_enc_opts {
    enum ipfix_enc_protocol protocol;
    bool     microseconds;      /* IPFIX: flowStart/EndMicroseconds instead of ...Milliseconds */
    uint32_t domain_id;         /* IPFIX observation domain / v9 source id */
    uint16_t max_message;       /* bytes per message, in [256, 65535] (UDP: keep under the path MTU) */
    uint16_t community_seed;    /* Community ID v1 seed */
};

enum ipfix_enc_status {
    IPFIX_ENC_OK = 0,
    IPFIX_ENC_FULL = 1,         /* the message is full: take it, then add the record again */
    IPFIX_ENC_ERROR = -1        /* the record cannot be encoded (bad ip_version); counted by the caller */
};

typedef struct ipfix_encoder ipfix_encoder;

/*
 * A new encoder, or NULL with a message in err (bad options, out of memory,
 * libfixbuf refused a template). The first message starts with the templates.
 * Caller owns it (ipfix_encoder_destroy). Any thread; then only that thread.
 */
ipfix_encoder *ipfix_encoder_create(const struct ipfix_enc_opts *opts, char *err, size_t errlen);

/* NULL-safe. Same thread as create. */
void ipfix_encoder_destroy(ipfix_encoder *e);

/*
 * Append the record(s) of one flow event to the message being built. The
 * export time of a new message is `export_s` (seconds since the epoch;
 * IPFIX only: NetFlow v9 headers take the flow clock, see the .c).
 * Returns IPFIX_ENC_OK, IPFIX_ENC_FULL (nothing was added: take the message
 * and call again; with IPFIX this also happens when the templates are due,
 * as libfixbuf sends them in a message of their own), or IPFIX_ENC_ERROR
 * (nothing added; skip the event).
 */
enum ipfix_enc_status ipfix_encoder_add(ipfix_encoder *e, const struct flow_event *ev, uint32_t export_s);

/*
 * Close the message being built and return its bytes in *msg (valid until the
 * next call on this encoder) and its length; 0 when it holds neither a record
 * nor the templates.
 */
size_t ipfix_encoder_take(ipfix_encoder *e, const uint8_t **msg);

/* The next message starts with the templates (UDP refresh timer, new TCP connection). */
void ipfix_encoder_want_templates(ipfix_encoder *e);

/* Whether the message being built carries the templates (IPFIX: then only them). */
bool ipfix_encoder_has_templates(const ipfix_encoder *e);

/* Records added to the message being built (0 after take). */
uint32_t ipfix_encoder_pending(const ipfix_encoder *e);

#endif
