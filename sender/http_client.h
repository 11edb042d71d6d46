/*
 * http_client.h — one POST of one batch body, classified for the retry policy.
 *
 * Wraps a single libcurl easy handle (so the connection is kept alive between
 * batches) with everything a request needs: Content-Type, User-Agent, the
 * bearer token, optional gzip (Content-Encoding), optional HMAC-SHA256 request
 * signing (X-Tracer-Timestamp, X-Tracer-Nonce, X-Tracer-Signature over
 * timestamp "." nonce "." the exact bytes sent), TLS verification settings,
 * and the connect/total timeouts. The caller (the delivery thread) decides what
 * to do with the outcome: deliver, retry later, or drop.
 *
 * Not thread-safe: one owner thread.
 */
#ifndef TRACER_HTTP_CLIENT_H
#define TRACER_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

struct config;
typedef struct http_client http_client;

enum http_outcome {
    HTTP_DELIVERED = 0,   /* 2xx */
    HTTP_RETRY,           /* network error, timeout, 5xx, 408, 429: try again later */
    HTTP_REJECTED,        /* any other status (3xx, 4xx): retrying cannot help */
};

struct http_result {
    enum http_outcome outcome;
    long status;              /* HTTP status, 0 when no response */
    int curl_code;            /* CURLcode, 0 when a response came */
    uint32_t retry_after_ms;  /* from Retry-After (seconds or HTTP date), 0 when absent */
    char detail[320];         /* "HTTP 503: <start of body>" or curl's error text */
};

/*
 * Create the client for cfg->endpoint_url with cfg's token, HMAC key, TLS and
 * compression settings. Logs a warning when TLS verification is off, and when
 * a token or HMAC key would travel over plain http to a non-loopback host.
 * NULL with a message in err on failure. Main thread.
 */
http_client *http_client_create(const struct config *cfg, char *err, size_t errlen);

/* NULL-safe. Wipes the key and token copies. */
void http_client_destroy(http_client *c);

/*
 * POST body[0..len) (compressed and signed as configured). Fills *res.
 * `max_ms` > 0 caps this request's total time below the configured timeout
 * (used while shutting down); 0 means the configured timeout.
 */
void http_client_post(http_client *c, const char *body, size_t len, uint32_t max_ms,
                      struct http_result *res);

/* The endpoint without userinfo, query or fragment, safe to log. */
const char *http_client_url_for_log(const http_client *c);

/*
 * HMAC-SHA256 signature value for the given parts: writes "sha256=<64 hex>"
 * (NUL-terminated) into out (outlen >= 72). Returns 0 or -1. Exposed for tests.
 */
int http_client_sign(const unsigned char *key, size_t keylen, const char *timestamp,
                     const char *nonce, const unsigned char *body, size_t len,
                     char *out, size_t outlen);

/* Parse a Retry-After value (delta seconds or IMF-fixdate) relative to now_s. */
uint32_t http_client_parse_retry_after(const char *value, int64_t now_s);

#endif
