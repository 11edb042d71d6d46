/*
 * inspect_proto.h — the pure payload parsers behind inspect.h: DNS messages,
 * TLS ClientHello/ServerHello (and their JA3, JA3S and JA4 fingerprints),
 * QUIC Initial packets, HTTP/1.x heads and SSH identification lines.
 *
 * Each parser reads one complete unit (a DNS message, a handshake message, a
 * UDP datagram, the bytes a direction has sent so far) through a
 * bounds-checked cursor and fills a fixed-size output struct: no allocation,
 * no state, no logging, never a read outside [data, data + len). Strings are
 * copied cut to their cap, with every byte outside printable ASCII replaced
 * by '?', so the result can go into JSON as it is. They are separate from the
 * per-flow layer (inspect_flow.c) so that unit tests and fuzzers reach each
 * one directly. Thread-safe, except where a struct inspect_crypto is passed:
 * that one belongs to its caller's thread.
 */
#ifndef TRACER_INSPECT_PROTO_H
#define TRACER_INSPECT_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "inspect/inspect.h"

/* What a parser made of its input. */
enum inspect_status {
    INSPECT_PARSED = 0,      /* a whole unit was read; the output is filled */
    INSPECT_NEED_MORE = 1,   /* the input is a valid beginning: feed more bytes */
    INSPECT_MALFORMED = -1,  /* not this protocol, or a field is impossible */
};

/* ---- DNS (RFC 1035 §4, RFC 3596 for AAAA) ---------------------------------- */

/*
 * Parse one DNS message (UDP payload, or a TCP message without its 2-byte
 * length prefix). Fills the question (first one), id, QR bit, rcode and up to
 * INSPECT_DNS_ANSWERS answers of type A, AAAA and CNAME (others are counted in
 * ancount but not kept). Names follow compression pointers only backwards and
 * at most INSPECT_DNS_MAX_HOPS times, so a pointer loop ends as MALFORMED.
 * Returns INSPECT_PARSED or INSPECT_MALFORMED (a cut message is malformed:
 * DNS over UDP has no continuation).
 */
#define INSPECT_DNS_MAX_HOPS 32
struct inspect_dns_msg {
    uint16_t id, flags, qdcount, ancount;
    uint8_t  is_response, rcode;
    struct inspect_dns q;      /* qname, qtype, answers (has_* left 0) */
};
enum inspect_status inspect_dns_parse(const uint8_t *msg, size_t len, struct inspect_dns_msg *out);

/* ---- TLS (RFC 8446 §4.1.2-4.1.3, RFC 5246 §7.4.1) ------------------------- */

#define INSPECT_TLS_MAX_CIPHERS 128
#define INSPECT_TLS_MAX_EXTS    64
#define INSPECT_TLS_MAX_GROUPS  48
#define INSPECT_TLS_MAX_SIGALGS 48
#define INSPECT_TLS_MAX_PF      8
#define INSPECT_TLS_MAX_VERSIONS 16

/* A ClientHello's fields, GREASE values (RFC 8701) kept as sent. The n_* counts
 * are what the message holds; lists longer than their cap set `lists_cut`. */
struct inspect_tls_client_hello {
    uint16_t legacy_version;
    uint16_t n_ciphers, n_exts, n_groups, n_sigalgs, n_versions;
    uint8_t  n_pf, has_sni, has_alpn, lists_cut;
    uint16_t ciphers[INSPECT_TLS_MAX_CIPHERS];
    uint16_t exts[INSPECT_TLS_MAX_EXTS];
    uint16_t groups[INSPECT_TLS_MAX_GROUPS];
    uint16_t sigalgs[INSPECT_TLS_MAX_SIGALGS];
    uint16_t versions[INSPECT_TLS_MAX_VERSIONS];
    uint8_t  pf[INSPECT_TLS_MAX_PF];
    char     server_name[INSPECT_NAME_LEN];
    uint8_t  n_alpn;                                /* values kept in alpn[] */
    char     alpn[INSPECT_TLS_ALPN][INSPECT_ALPN_LEN];
    uint8_t  alpn0_first, alpn0_last, alpn0_len;   /* raw first ALPN value's ends (JA4) */
};

struct inspect_tls_server_hello {
    uint16_t legacy_version, cipher, selected_version; /* selected_version 0: none sent */
    uint16_t n_exts;
    uint16_t exts[INSPECT_TLS_MAX_EXTS];
    char     alpn[INSPECT_ALPN_LEN];
};

/*
 * Parse a handshake message (4-byte header: type, 24-bit length) at msg.
 * inspect_tls_client_hello_parse wants type 1, the server one type 2.
 * INSPECT_NEED_MORE when the message is longer than len (feed more),
 * INSPECT_MALFORMED for another type or an impossible length.
 */
enum inspect_status inspect_tls_client_hello_parse(const uint8_t *msg, size_t len,
                                                   struct inspect_tls_client_hello *out);
enum inspect_status inspect_tls_server_hello_parse(const uint8_t *msg, size_t len,
                                                   struct inspect_tls_server_hello *out);

/*
 * Collect the first handshake message from a stream of TLS records (type 22)
 * into out[0..outcap): record headers stripped, fragments joined. On
 * INSPECT_PARSED *msg_len is the message's full length (header included).
 * INSPECT_NEED_MORE: the records so far are a valid start (or the message is
 * longer than outcap: then *msg_len is 0 and the caller gives up).
 */
enum inspect_status inspect_tls_records_collect(const uint8_t *stream, size_t len,
                                                uint8_t *out, size_t outcap, size_t *msg_len);

/* Whether v is a GREASE value (0x?a?a with both bytes equal). */
int inspect_tls_is_grease(uint16_t v);

/*
 * Fingerprints. inspect_tls_ja3_string writes the JA3 text
 * ("771,4865-4866,0-23-65281,29-23,0") into buf (NUL-terminated) and returns
 * its length, or 0 when it does not fit. inspect_tls_ja3s_string likewise
 * ("771,4865,43-51"). inspect_tls_ja4 writes the 36-character JA4
 * ("t13d1516h2_8daaf6152771_e5627efa2ab1") for transport 't' or 'q'.
 * inspect_md5_hex/inspect_sha256_hex12 hash with `crypto`'s contexts: 0 ok,
 * -1 on an OpenSSL failure. All on the caller's thread with its own crypto.
 */
size_t inspect_tls_ja3_string(const struct inspect_tls_client_hello *ch, char *buf, size_t buflen);
size_t inspect_tls_ja3s_string(const struct inspect_tls_server_hello *sh, char *buf, size_t buflen);
int inspect_tls_ja4(const struct inspect_tls_client_hello *ch, char transport,
                    struct inspect_crypto *crypto, char out[INSPECT_JA4_LEN]);
int inspect_md5_hex(struct inspect_crypto *crypto, const void *data, size_t len, char out[33]);
int inspect_sha256_hex12(struct inspect_crypto *crypto, const void *data, size_t len, char out[13]);

/* ---- QUIC Initial (RFC 9000 §17.2.2, RFC 9001 §5, RFC 9369 for v2) -------- */

/* Whether `version` is one whose Initial keys we can derive (v1, v2, draft 23-34). */
int inspect_quic_version_known(uint32_t version);

/*
 * Decrypt every Initial packet in one UDP datagram (coalesced packets are
 * walked; others skipped) and copy the CRYPTO frames' bytes into
 * crypto_buf[offset] for offsets below crypto_cap, recording each range with
 * `on_range(ctx, start, end)`. `dcid`/`dcid_len` is the client's first
 * Destination Connection ID (the key seed); pass dcid_len = 0 to take it from
 * this datagram (then seen_dcid and *seen_dcid_len receive it). `from_server`
 * picks the "server in" keys. Returns INSPECT_PARSED when at least one
 * Initial decrypted, INSPECT_MALFORMED otherwise.
 */
typedef void (*inspect_quic_range_fn)(void *ctx, uint32_t start, uint32_t end);
enum inspect_status inspect_quic_initial(struct inspect_crypto *crypto, const uint8_t *dgram,
                                         size_t len, int from_server,
                                         const uint8_t *dcid, size_t dcid_len,
                                         uint8_t seen_dcid[20], uint8_t *seen_dcid_len,
                                         uint8_t *crypto_buf, size_t crypto_cap,
                                         inspect_quic_range_fn on_range, void *ctx);

/*
 * A Retry packet (RFC 9000 §17.2.5) changes the Initial keys' seed to its
 * Source Connection ID. Returns 1 and copies that SCID when dgram starts
 * with a Retry of a known version, else 0.
 */
int inspect_quic_retry_scid(const uint8_t *dgram, size_t len, uint8_t scid[20], uint8_t *scid_len);

/* ---- HTTP/1.x (RFC 9112 §3, §4) and SSH (RFC 4253 §4.2) ------------------- */

/*
 * A request head (method, target cut to INSPECT_PATH_LEN, Host, User-Agent)
 * or a response status line. INSPECT_PARSED once the line (request: the whole
 * head, up to the empty line) is there; INSPECT_NEED_MORE before. When the
 * head is cut by the buffer (`final` set), the fields seen so far are kept and
 * INSPECT_PARSED returned.
 */
enum inspect_status inspect_http_request_parse(const uint8_t *data, size_t len, int final,
                                               struct inspect_http *out);
enum inspect_status inspect_http_response_parse(const uint8_t *data, size_t len,
                                                struct inspect_http *out);

/* Whether data starts like an HTTP/1.x request (a known method, a space) or a response. */
int inspect_http_is_request(const uint8_t *data, size_t len);
int inspect_http_is_response(const uint8_t *data, size_t len);

/*
 * The identification line "SSH-protoversion-softwareversion [comments]" (CR LF
 * or LF ended), skipping other lines before it as RFC 4253 §4.2 allows. Copied
 * without its line end into out (cut to cap). INSPECT_NEED_MORE until a whole
 * line is there; INSPECT_MALFORMED when a line longer than 255 bytes comes first.
 */
enum inspect_status inspect_ssh_banner_parse(const uint8_t *data, size_t len,
                                             char *out, size_t outcap);

#endif
