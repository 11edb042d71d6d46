/*
 * api_server.h — the sensor's control API over HTTP(S) (issue 17.1, 17.5).
 *
 * A separate libmicrohttpd daemon on its own listen address (AGENT_API_ADDR),
 * off by default, for operators and tools that drive the sensor: on-demand
 * SNMP jobs with tickets, progress and cancellation, direct SNMP GET/walk
 * (api/snmp_jobs.h does the work), and POST /v1/reload. Every request needs
 * the API key (AGENT_API_KEY_FILE) as "Authorization: Bearer KEY" or
 * "X-API-Key: KEY", compared in constant time; the key is never logged. With
 * AGENT_API_TLS_CERT and AGENT_API_TLS_KEY the daemon speaks HTTPS only
 * (Debian's libmicrohttpd uses GnuTLS). Bodies are JSON, at most
 * API_MAX_BODY bytes. One thread per connection (bounded), so a direct walk
 * that waits for an agent never blocks other clients.
 *
 *   POST   /v1/snmp/jobs            202 {"ticket", "status": "queued"}
 *   GET    /v1/snmp/jobs/{ticket}   200 job state; 404
 *   DELETE /v1/snmp/jobs/{ticket}   200 job state (cancelled); 404
 *   POST   /v1/snmp/get             200 one OID
 *   POST   /v1/snmp/walk            200 one subtree
 *   POST   /v1/reload               200 {"reloaded", "refused"}
 *   errors: 400 {"error", "field"}, 401, 404, 405 (Allow header), 413, 429, 503
 */
#ifndef TRACER_API_SERVER_H
#define TRACER_API_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "api/snmp_jobs.h"

#define API_MAX_BODY (64u * 1024u)

typedef struct api_server api_server;

struct api_callbacks {
    snmp_jobs *jobs;    /* NULL: the SNMP routes answer 503 */
    /* Reload the hooks' target files (main: hook_set_reload). Sets how many hooks applied their new
     * file and how many refused it. API thread; may be NULL (503). */
    void (*reload)(void *arg, unsigned *applied, unsigned *refused);
    void *arg;
};

struct api_settings {
    const char *addr;              /* "HOST:PORT", "[IPV6]:PORT", ":PORT" (AGENT_API_ADDR) */
    const char *key;               /* the API key (bytes); copied */
    size_t keylen;
    const char *tls_cert_file;     /* PEM paths; both or neither (HTTPS) */
    const char *tls_key_file;
};

/*
 * Resolve the address, read the certificate and key files (before the
 * privilege drop) and keep a digest of the key. NULL with a message in err
 * naming the setting. Does not listen yet. Main thread.
 */
api_server *api_server_create(const struct api_settings *set, const struct api_callbacks *cb, char *err,
                              size_t errlen);

/* Bind and start serving. 0, or -1 with a message. Main thread. */
int api_server_start(api_server *a, char *err, size_t errlen) __attribute__((warn_unused_result));

/* The bound port (0 when not started). */
uint16_t api_server_port(const api_server *a);

/* Stop answering; no callback runs after it returns. Main thread. */
void api_server_stop(api_server *a);

/* NULL-safe; stops first. */
void api_server_destroy(api_server *a);

/*
 * The routing decision, public for tests: which route `method` `url` names.
 * Returns the route and, for /v1/snmp/jobs/{ticket}, points *ticket into url.
 */
enum api_route {
    API_NOT_FOUND = 0, API_BAD_METHOD, API_JOBS_SUBMIT, API_JOB_STATUS, API_JOB_CANCEL, API_GET, API_WALK,
    API_RELOAD
};
enum api_route api_route_of(const char *method, const char *url, const char **ticket, const char **allow);

/* Whether the request's headers carry `key`: "Authorization: Bearer KEY" (scheme case-insensitive) or
 * "X-API-Key: KEY". Constant time in the key's content. Any thread. */
int api_key_matches(const unsigned char key_digest[32], const char *authorization, const char *x_api_key);

/* SHA-256 of `key` into out (what api_key_matches compares). 0, or -1 on a library failure. */
int api_key_digest(const void *key, size_t len, unsigned char out[32]);

#endif
