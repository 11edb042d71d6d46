/*
 * http_client.h — POSTs in flight over a pool of kept-alive connections,
 * each classified for the retry policy.
 *
 * Wraps one libcurl multi handle and a fixed number of easy handles (slots,
 * AGENT_HTTP_CONNECTIONS): up to that many requests are in flight at once, on
 * kept-alive connections, multiplexed over one HTTP/2 connection when the
 * endpoint offers it. Every request carries Content-Type, User-Agent, the
 * bearer token, optional gzip (Content-Encoding), optional HMAC-SHA256 request
 * signing (X-Tracer-Timestamp, X-Tracer-Nonce, X-Tracer-Signature over
 * timestamp "." nonce "." the exact bytes sent), TLS verification settings,
 * and the connect/total timeouts. Two routes: 0 = AGENT_ENDPOINT_URL (flows),
 * 1 = AGENT_EVENTS_ENDPOINT_URL (every other event type). The caller (the
 * delivery thread) decides what to do with each outcome.
 *
 * Not thread-safe: one owner thread, except http_client_wakeup (any thread).
 */
#ifndef TRACER_HTTP_CLIENT_H
#define TRACER_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

struct config;
typedef struct http_client http_client;

#define HTTP_ROUTES 2          /* 0: flows (AGENT_ENDPOINT_URL), 1: other events */

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
 * Create the client for cfg->endpoint_url (and cfg->events_endpoint_url) with
 * cfg's token, HMAC key, TLS and compression settings, and
 * cfg->http_connections slots. The TLS CA, client certificate and key files
 * are read into memory now (call before dropping privileges) and never read
 * again. Logs a warning when TLS verification is off, and when a token or HMAC
 * key would travel over plain http to a non-loopback host. NULL with a message
 * in err on failure. Main thread.
 */
http_client *http_client_create(const struct config *cfg, char *err, size_t errlen);

/* NULL-safe. Wipes the key and token copies; in-flight requests are abandoned. */
void http_client_destroy(http_client *c);

/*
 * Start POSTing body[0..len) (compressed and signed as configured) to `route`
 * on a free slot. The body must stay valid until the request is reported done.
 * `max_ms` > 0 caps this request's total time below the configured timeout
 * (used while shutting down). Returns 0 when started (`tag` comes back through
 * http_client_poll), or -1 with *res filled (no free slot, or the request
 * could not be prepared: an HTTP_RETRY outcome).
 */
int http_client_start(http_client *c, unsigned route, const char *body, size_t len, uint32_t max_ms,
                      void *tag, struct http_result *res);

typedef void (*http_done_fn)(void *arg, void *tag, const struct http_result *res);

/*
 * Drive the transfers: report each finished request through done(arg, tag,
 * result). When none finished, wait up to timeout_ms for network activity or
 * http_client_wakeup. Returns the number reported.
 */
int http_client_poll(http_client *c, int timeout_ms, http_done_fn done, void *arg);

/* Any thread: make a waiting http_client_poll return now. */
void http_client_wakeup(http_client *c);

/* Stop every request in flight, reporting each as a timeout through done. */
void http_client_cancel_all(http_client *c, http_done_fn done, void *arg);

/* Slots (requests that may be in flight at once) and how many are busy now. */
unsigned http_client_capacity(const http_client *c);
unsigned http_client_busy(const http_client *c);

/*
 * The route for a flow event (0) or another event: 1, or 0 when
 * AGENT_EVENTS_ENDPOINT_URL equals AGENT_ENDPOINT_URL (their events then share
 * bodies), or -1 when non-flow events have no endpoint.
 */
int http_client_route_for(const http_client *c, bool flow);

/* Whether `route` has a URL of its own. */
bool http_client_has_route(const http_client *c, unsigned route);

/* The route's endpoint without userinfo, query or fragment, safe to log. */
const char *http_client_url_for_log(const http_client *c, unsigned route);

/*
 * HMAC-SHA256 signature value for the given parts: writes "sha256=<64 hex>"
 * (NUL-terminated) into out (outlen >= 72). Returns 0 or -1. Exposed for tests.
 */
int http_client_sign(const unsigned char *key, size_t keylen, const char *timestamp,
                     const char *nonce, const unsigned char *body, size_t len,
                     char *out, size_t outlen);

/*
 * --dump-request (issue 17.4): the exact HTTP request http_client_start would
 * send to AGENT_ENDPOINT_URL (route 0) with body[0..len): libcurl writes it,
 * with the same handle options, headers (bearer token as sent, gzip, a fresh
 * HMAC signature) and body bytes, into a private unix socket instead of the
 * network, and the bytes read back are returned in *out (malloc'd; the
 * caller frees it and should wipe it: it holds the token). An https endpoint
 * is written as its HTTP/1.1 request in clear (what travels inside TLS; over
 * HTTP/2 the same headers and body go as frames). Returns 0, or -1 with a
 * message in err. Owner thread, no request in flight.
 */
int http_client_dump(http_client *c, const char *body, size_t len, unsigned char **out, size_t *outlen, char *err,
                     size_t errlen) __attribute__((warn_unused_result));

/* Parse a Retry-After value (delta seconds or IMF-fixdate) relative to now_s. */
uint32_t http_client_parse_retry_after(const char *value, int64_t now_s);

#endif
