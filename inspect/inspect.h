/*
 * inspect.h — what a flow's first payload bytes say: DNS names, TLS and QUIC
 * ClientHello/ServerHello facts and fingerprints (JA3, JA3S, JA4), HTTP/1.x
 * request and status, SSH banners.
 *
 * The processor feeds each payload-carrying packet of a flow still in
 * detection to inspect_flow_feed() until it says it has seen enough; the
 * facts land in a fixed-size `inspect_result` (capped strings, no pointers)
 * that is copied into the flow record and travels by value in the flow event.
 * The bytes a direction has sent are reassembled (in TCP sequence order) into
 * a bounded buffer, so that a ClientHello spread over several segments still
 * yields its name; that state is big (INSPECT_REASM_BYTES per direction), so
 * it lives in a fixed pool (inspect_pool) and is taken only while a flow is
 * in detection and given back when it ends: a classified flow keeps only its
 * inspect_result. The parsers themselves are in inspect_proto.h.
 *
 * Threads: a pool, its flow states and its crypto contexts belong to one
 * thread (the processor that owns the flow table); nothing here is global.
 */
#ifndef TRACER_INSPECT_H
#define TRACER_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;

/* Caps of the strings in a result (each includes the NUL). They keep the
 * result at 256 bytes (a flow where something was found holds one in the
 * dpi's result slab until its final record): longer values are cut, never
 * dropped. */
#define INSPECT_NAME_LEN      80   /* DNS query name, TLS/QUIC server name, HTTP host */
#define INSPECT_PATH_LEN      96   /* HTTP request target */
#define INSPECT_UA_LEN        64   /* HTTP User-Agent */
#define INSPECT_METHOD_LEN    8    /* HTTP method ("OPTIONS", "PROPFIND" is cut) */
#define INSPECT_ALPN_LEN      12   /* one ALPN protocol id ("http/1.1") */
#define INSPECT_TLS_ALPN      2    /* offered ALPN ids kept */
#define INSPECT_TLS_VERSIONS  4    /* supported_versions entries kept */
#define INSPECT_HASH_LEN      33   /* MD5 hex (JA3, JA3S) */
#define INSPECT_JA4_LEN       37   /* "t13d1516h2_8daaf6152771_e5627efa2ab1" */
#define INSPECT_BANNER_LEN    64   /* SSH identification line */
#define INSPECT_DNS_ANSWERS   2    /* answers kept per response */
#define INSPECT_DNS_DATA_LEN  46   /* an answer's address (INET6_ADDRSTRLEN) or CNAME target */

/* Bytes reassembled per direction while a flow is in detection. */
#define INSPECT_REASM_BYTES   4096

enum inspect_kind {
    INSPECT_KIND_NONE = 0,
    INSPECT_KIND_DNS,
    INSPECT_KIND_TLS,
    INSPECT_KIND_QUIC,
    INSPECT_KIND_HTTP,
    INSPECT_KIND_SSH,
};

struct inspect_dns_answer {
    uint16_t type;                       /* 1 A, 28 AAAA, 5 CNAME */
    uint32_t ttl;
    char     data[INSPECT_DNS_DATA_LEN]; /* address text or the CNAME target */
};

struct inspect_dns {
    char     qname[INSPECT_NAME_LEN];    /* "www.example.com", "<Root>" for the root */
    uint16_t qtype;
    uint16_t ancount;                    /* answers in the message (all types) */
    uint8_t  has_query, has_response;
    uint8_t  rcode;                      /* response code (RFC 1035 §4.1.1) */
    uint8_t  n_answers;                  /* kept in answers[] */
    struct inspect_dns_answer answers[INSPECT_DNS_ANSWERS];
};

/* TLS over TCP and TLS inside QUIC Initials. */
struct inspect_tls {
    char     server_name[INSPECT_NAME_LEN];
    char     alpn[INSPECT_TLS_ALPN][INSPECT_ALPN_LEN];  /* offered, in order */
    char     server_alpn[INSPECT_ALPN_LEN];             /* chosen by the server */
    char     ja3[INSPECT_HASH_LEN];
    char     ja3s[INSPECT_HASH_LEN];
    char     ja4[INSPECT_JA4_LEN];
    uint16_t client_version;             /* ClientHello legacy_version (0x0303) */
    uint16_t versions[INSPECT_TLS_VERSIONS]; /* supported_versions offered, GREASE removed */
    uint16_t server_version;             /* chosen: supported_versions, else legacy_version */
    uint16_t cipher;                     /* chosen cipher suite */
    uint8_t  n_alpn, n_versions;
    uint8_t  has_client_hello, has_server_hello;
};

struct inspect_http {
    char     method[INSPECT_METHOD_LEN];
    char     host[INSPECT_NAME_LEN];
    char     path[INSPECT_PATH_LEN];     /* request target, cut to the cap */
    char     user_agent[INSPECT_UA_LEN];
    uint16_t status;                     /* response status code, 0 none */
    uint8_t  has_request, has_response;
};

struct inspect_ssh {
    char client[INSPECT_BANNER_LEN];     /* initiator's identification line */
    char server[INSPECT_BANNER_LEN];
};

/* What inspection found for one flow. Fixed size, no pointers: copy it by value. */
struct inspect_result {
    uint8_t kind;                        /* enum inspect_kind; NONE: nothing found */
    uint8_t pad[3];
    union {
        struct inspect_dns  dns;
        struct inspect_tls  tls;         /* kind TLS or QUIC */
        struct inspect_http http;
        struct inspect_ssh  ssh;
    } u;
};

/* "dns", "tls", "quic", "http", "ssh", or "none". */
const char *inspect_kind_name(enum inspect_kind k);

/* Whether the result says anything: its kind is set (the first bytes looked
 * like DNS, TLS, ...) and its parser took at least one message from them (a
 * query or response, a ClientHello or ServerHello, a request or status line,
 * a banner). A kind alone, from bytes that only looked like it, is nothing:
 * it is neither kept nor written. */
bool inspect_result_found(const struct inspect_result *r);

/* ---- crypto contexts ------------------------------------------------------- */

/*
 * OpenSSL contexts (MD5/SHA-256 digests, AES-128-GCM, AES-128-ECB, HMAC) and a
 * scratch buffer, made once so that hashing and QUIC decryption reuse them.
 * One per thread. Returns NULL (message in err) when OpenSSL fails.
 */
struct inspect_crypto;
struct inspect_crypto *inspect_crypto_create(char *err, size_t errlen);
void inspect_crypto_destroy(struct inspect_crypto *c);      /* NULL-safe */

/* ---- per-flow state and its pool ------------------------------------------- */

/* Direction of a packet within its flow. */
enum inspect_dir { INSPECT_DIR_FWD = 0, /* initiator -> responder */
                   INSPECT_DIR_REV = 1  /* responder -> initiator */ };

struct inspect_flow;     /* opaque; about 2 x INSPECT_REASM_BYTES + result */
struct inspect_pool;

/* Counters of a pool (read on its owner thread, or as relaxed copies). */
struct inspect_pool_stats {
    uint64_t acquired;        /* states handed out */
    uint64_t exhausted;       /* acquire found the pool empty: flow not inspected */
    uint64_t in_use;          /* states out now */
    uint64_t reasm_overflow;  /* bytes beyond a direction's buffer, dropped */
    uint64_t out_of_window;   /* TCP segments too far ahead or behind, dropped */
    uint64_t malformed;       /* units a parser refused */
    uint64_t quic_decrypt_fail; /* QUIC Initials that did not decrypt */
};

/*
 * A pool of `capacity` flow states (each inspect_flow_size() bytes, allocated
 * here, once) plus its crypto contexts. Returns NULL with a message in err
 * when capacity is 0 or above 16,777,216, or out of memory.
 * Owner thread: the processor. inspect_pool_destroy is NULL-safe and frees
 * every state, including ones still out.
 */
struct inspect_pool *inspect_pool_create(uint32_t capacity, char *err, size_t errlen);
void inspect_pool_destroy(struct inspect_pool *p);
void inspect_pool_get_stats(const struct inspect_pool *p, struct inspect_pool_stats *out);

/* Bytes of one flow state (what each pool slot costs). */
size_t inspect_flow_size(void);

/*
 * Take a state for a new flow, reset. NULL when the pool is empty (counted in
 * `exhausted`): the flow goes uninspected. The flow record keeps the pointer
 * while detection runs and must give it back with inspect_flow_release() when
 * feed returns false or the flow ends, after copying the result out.
 */
struct inspect_flow *inspect_flow_acquire(struct inspect_pool *p);
void inspect_flow_release(struct inspect_pool *p, struct inspect_flow *f);  /* NULL-safe */

/*
 * Feed one packet of a flow in detection (payload-less ones too: a SYN tells
 * where the byte stream starts). `dir`: which side sent it. `proto`: IP
 * protocol (6 TCP, 17 UDP; anything else returns false at once).
 * `sport`/`dport`: the packet's own ports. `tcp_flags`: the TCP flags byte
 * (0 for UDP). `tcp_seq`: the TCP sequence number when has_seq; segments are
 * then placed by sequence number (holes wait for retransmissions) within
 * INSPECT_REASM_BYTES of the direction's first byte: the one after the SYN's
 * sequence number when the SYN was fed, else the first payload byte seen
 * (a segment that comes earlier moves the window back while it can).
 * Without has_seq, bytes are appended in arrival order. `len` may be 0.
 * Returns true while the flow still wants packets, false once every fact it
 * can give is known or never will be (at most INSPECT_MAX_PACKETS payload
 * packets): then copy the result and release the state.
 * Never allocates; reads only payload[0..len). Owner thread only.
 */
#define INSPECT_MAX_PACKETS 32
bool inspect_flow_feed(struct inspect_flow *f, enum inspect_dir dir, uint8_t proto,
                       uint16_t sport, uint16_t dport, uint8_t tcp_flags, uint32_t tcp_seq,
                       bool has_seq, const uint8_t *payload, size_t len);

/* The facts found so far (valid at any time; copy before releasing). */
const struct inspect_result *inspect_flow_result(const struct inspect_flow *f);

/* ---- JSON -------------------------------------------------------------------- */

/*
 * Add the result to a FlowEvent object as one member named after its kind
 * ("dns", "tls", "quic", "http", "ssh"); nothing for KIND_NONE.
 * Returns 0, or -1 when cJSON runs out of memory. Sender thread.
 */
int inspect_result_add_json(struct cJSON *obj, const struct inspect_result *r);

/*
 * The same member as text, with a leading comma (`,"tls":{...}`), byte for
 * byte what cJSON_PrintUnformatted prints for what inspect_result_add_json
 * adds; empty for KIND_NONE. snprintf semantics: returns the whole length;
 * >= buflen means it was cut (NUL-terminated when buflen > 0). No allocation.
 */
size_t inspect_result_format(const struct inspect_result *r, char *buf, size_t buflen);

#endif
