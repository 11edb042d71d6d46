/*
 * api_server.c — the control API on libmicrohttpd (see api_server.h).
 *
 * Same shape as the metrics server (common/metrics.c): the daemon runs its
 * own threads, this file only routes, authenticates, bounds and parses
 * bodies, and turns the JSON answers of api/snmp_jobs.c into responses. It
 * keeps no global state: the key's digest, the callbacks and the daemon live
 * in the api_server object. The key is compared as SHA-256 digests with
 * CRYPTO_memcmp, so the time taken depends neither on where a wrong key
 * differs nor on its length. Request bodies may hold SNMP credentials: the
 * buffer and every string of the parsed tree are wiped before they are
 * freed, and neither a body nor a header is ever logged.
 */
#include "api/api_server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "common/hostport.h"
#include "common/log.h"

#define API_CONN_LIMIT   32u
#define API_PER_IP_LIMIT 16u
#define API_CONN_TIMEOUT 30u               /* seconds without a byte from the client */
#define API_PEM_MAX      (1024u * 1024u)   /* certificate / key file */

struct api_server {
    struct api_callbacks cb;
    unsigned char key_digest[32];
    struct sockaddr_storage sa;
    bool any_addr;
    uint16_t port;
    char *cert_pem, *key_pem;          /* NULL: plain HTTP */
    struct MHD_Daemon *daemon;
    atomic_bool starting;
    char start_err[256];
};

/* One request's state, from the first call of the handler to the completion callback. */
struct api_req {
    enum api_route route;
    char ticket[SNMP_JOBS_TICKET_LEN + 8];
    char *body;
    size_t len, cap;
    bool too_big;
};

/* ------------------------------------------------------------------ pure parts (tested) */

int api_key_digest(const void *key, size_t len, unsigned char out[32])
{
    unsigned int n = 0;
    return EVP_Digest(key, len, out, &n, EVP_sha256(), NULL) == 1 && n == 32 ? 0 : -1;
}

int api_key_matches(const unsigned char key_digest[32], const char *authorization, const char *x_api_key)
{
    const char *given = NULL;
    if (authorization && strncasecmp(authorization, "Bearer ", 7) == 0) {
        given = authorization + 7;
        while (*given == ' ')
            given++;
    } else if (x_api_key) {
        given = x_api_key;
    }
    if (!given || !*given)
        return 0;
    unsigned char d[32];
    if (api_key_digest(given, strlen(given), d) != 0)
        return 0;
    int same = CRYPTO_memcmp(d, key_digest, sizeof d) == 0;
    OPENSSL_cleanse(d, sizeof d);
    return same;
}

enum api_route api_route_of(const char *method, const char *url, const char **ticket, const char **allow)
{
    static const char JOBS[] = "/v1/snmp/jobs";
    bool post = strcmp(method, "POST") == 0, get = strcmp(method, "GET") == 0, del = strcmp(method, "DELETE") == 0;
    *ticket = NULL;
    *allow = NULL;
    if (strcmp(url, JOBS) == 0) {
        *allow = "POST";
        return post ? API_JOBS_SUBMIT : API_BAD_METHOD;
    }
    if (strncmp(url, JOBS, sizeof JOBS - 1) == 0 && url[sizeof JOBS - 1] == '/') {
        const char *t = url + sizeof JOBS;
        if (!*t || strchr(t, '/'))
            return API_NOT_FOUND;
        *allow = "GET, DELETE";
        *ticket = t;
        return get ? API_JOB_STATUS : del ? API_JOB_CANCEL : API_BAD_METHOD;
    }
    static const struct { const char *path; enum api_route r; } POSTS[] = {
        {"/v1/snmp/get", API_GET}, {"/v1/snmp/walk", API_WALK}, {"/v1/reload", API_RELOAD}};
    for (size_t i = 0; i < sizeof POSTS / sizeof POSTS[0]; i++)
        if (strcmp(url, POSTS[i].path) == 0) {
            *allow = "POST";
            return post ? POSTS[i].r : API_BAD_METHOD;
        }
    return API_NOT_FOUND;
}

/* ------------------------------------------------------------------ answers */

static enum MHD_Result reply_json(api_server *a, struct MHD_Connection *c, unsigned status, cJSON *o,
                                  const char *allow)
{
    if (a->cb.jobs)
        snmp_jobs_count_answer(a->cb.jobs, (int)status);
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    size_t len = text ? strlen(text) : 0;
    char *body = text ? realloc(text, len + 2) : NULL;
    if (!body) {
        free(text);
        static char oom[] = "{\"error\":\"out of memory\"}\n";
        body = NULL;
        struct MHD_Response *r = MHD_create_response_from_buffer(sizeof oom - 1, oom, MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_INTERNAL_SERVER_ERROR, r);
        MHD_destroy_response(r);
        return ret;
    }
    body[len] = '\n';
    body[len + 1] = '\0';
    struct MHD_Response *r = MHD_create_response_from_buffer(len + 1, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (allow)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
    if (status == MHD_HTTP_UNAUTHORIZED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result reply_error(api_server *a, struct MHD_Connection *c, unsigned status, const char *msg,
                                   const char *allow)
{
    return reply_json(a, c, status, snmp_jobs_error(msg, NULL), allow);
}

/* Blank every string in a parsed request (credentials) before it is freed. */
static void wipe_json(cJSON *o)
{
    for (cJSON *it = o; it; it = it->next) {
        if (it->valuestring)
            explicit_bzero(it->valuestring, strlen(it->valuestring));
        if (it->child)
            wipe_json(it->child);
    }
}

static void reload_answer(api_server *a, unsigned *status, cJSON **o)
{
    if (!a->cb.reload) {
        *status = MHD_HTTP_SERVICE_UNAVAILABLE;
        *o = snmp_jobs_error("reload is not available", NULL);
        return;
    }
    unsigned applied = 0, refused = 0;
    a->cb.reload(a->cb.arg, &applied, &refused);
    *o = cJSON_CreateObject();
    if (*o && (!cJSON_AddNumberToObject(*o, "reloaded", applied) || !cJSON_AddNumberToObject(*o, "refused", refused))) {
        cJSON_Delete(*o);
        *o = NULL;
    }
    *status = MHD_HTTP_OK;
}

/* The whole request is in: parse the body and answer. */
static enum MHD_Result dispatch(api_server *a, struct MHD_Connection *c, struct api_req *q)
{
    if (q->too_big) {
        char msg[96];
        snprintf(msg, sizeof msg, "the body is larger than %u bytes", API_MAX_BODY);
        return reply_error(a, c, MHD_HTTP_CONTENT_TOO_LARGE, msg, NULL);
    }
    unsigned status;
    cJSON *o = NULL;
    if (q->route == API_RELOAD) {
        reload_answer(a, &status, &o);
        return reply_json(a, c, status, o, NULL);
    }
    if (!a->cb.jobs)
        return reply_error(a, c, MHD_HTTP_SERVICE_UNAVAILABLE,
                           "SNMP jobs are off: their events have nowhere to go (see AGENT_EVENTS_ENDPOINT_URL)", NULL);
    if (q->route == API_JOB_STATUS || q->route == API_JOB_CANCEL) {
        int st = q->route == API_JOB_STATUS ? snmp_jobs_status(a->cb.jobs, q->ticket, &o)
                                            : snmp_jobs_cancel(a->cb.jobs, q->ticket, &o);
        return reply_json(a, c, (unsigned)st, o, NULL);
    }
    cJSON *req = q->body ? cJSON_ParseWithLength(q->body, q->len) : NULL;
    if (!req)
        return reply_json(a, c, MHD_HTTP_BAD_REQUEST, snmp_jobs_error("the body is not valid JSON", "body"), NULL);
    int st = q->route == API_JOBS_SUBMIT ? snmp_jobs_submit(a->cb.jobs, req, &o)
             : q->route == API_GET       ? snmp_jobs_get(a->cb.jobs, req, &o)
                                         : snmp_jobs_walk(a->cb.jobs, req, &o);
    wipe_json(req);
    cJSON_Delete(req);
    return reply_json(a, c, (unsigned)st, o, NULL);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                              const char *version, const char *upload, size_t *upload_size, void **state)
{
    (void)version;
    api_server *a = cls;
    struct api_req *q = *state;
    if (!q) {   /* first call: headers only */
        const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
        const char *xkey = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-API-Key");
        log_debug("api: %s %s", method, url);
        if (!api_key_matches(a->key_digest, auth, xkey))
            return reply_error(a, c, MHD_HTTP_UNAUTHORIZED,
                               auth || xkey ? "wrong API key" : "missing API key (Authorization: Bearer KEY)", NULL);
        const char *ticket, *allow;
        enum api_route r = api_route_of(method, url, &ticket, &allow);
        if (r == API_NOT_FOUND)
            return reply_error(a, c, MHD_HTTP_NOT_FOUND, "no such path", NULL);
        if (r == API_BAD_METHOD)
            return reply_error(a, c, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed", allow);
        q = calloc(1, sizeof *q);
        if (!q)
            return MHD_NO;
        q->route = r;
        snprintf(q->ticket, sizeof q->ticket, "%s", ticket ? ticket : "");
        *state = q;
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (q->too_big || q->len + n > API_MAX_BODY) {
            q->too_big = true;   /* the rest is read and dropped; the answer is 413 */
            return MHD_YES;
        }
        if (q->len + n + 1 > q->cap) {
            size_t cap = q->len + n + 1 < 4096 ? 4096 : API_MAX_BODY + 1;
            char *b = malloc(cap);
            if (!b)
                return MHD_NO;
            if (q->body) {
                memcpy(b, q->body, q->len);
                explicit_bzero(q->body, q->cap);
                free(q->body);
            }
            q->body = b;
            q->cap = cap;
        }
        memcpy(q->body + q->len, upload, n);
        q->len += n;
        q->body[q->len] = '\0';
        return MHD_YES;
    }
    return dispatch(a, c, q);
}

static void completed(void *cls, struct MHD_Connection *c, void **state, enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct api_req *q = *state;
    if (!q)
        return;
    if (q->body) {
        explicit_bzero(q->body, q->cap);
        free(q->body);
    }
    free(q);
    *state = NULL;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
    api_server *a = cls;
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    if (atomic_load(&a->starting)) {
        snprintf(a->start_err, sizeof a->start_err, "%s", msg);
        return;
    }
    log_warn("api: %s", msg);
}

/* ------------------------------------------------------------------ lifecycle */

/* A PEM file, whole and NUL-terminated (heap). NULL with a message naming the setting. */
static char *read_pem(const char *var, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rbe");
    if (!f) {
        snprintf(err, errlen, "%s=%s: cannot read: %s", var, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(API_PEM_MAX + 1);
    size_t n = buf ? fread(buf, 1, API_PEM_MAX + 1, f) : 0;
    bool bad = !buf || ferror(f) || n == 0 || n > API_PEM_MAX;
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s=%s: %s", var, path, !buf ? "out of memory" : n > API_PEM_MAX
                 ? "larger than 1 MiB" : "cannot read or empty");
        if (buf)
            explicit_bzero(buf, API_PEM_MAX + 1);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static void free_pem(char *p)
{
    if (p) {
        explicit_bzero(p, strlen(p));
        free(p);
    }
}

api_server *api_server_create(const struct api_settings *set, const struct api_callbacks *cb, char *err,
                              size_t errlen)
{
    char host[256];
    unsigned long port = 0;
    if (!set->addr || !hostport_split(set->addr, host, sizeof host, &port)) {
        snprintf(err, errlen, "AGENT_API_ADDR=%s: must be HOST:PORT, [IPV6]:PORT or :PORT",
                 set->addr ? set->addr : "");
        return NULL;
    }
    api_server *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "api: out of memory");
        return NULL;
    }
    a->cb = *cb;
    a->port = (uint16_t)port;
    atomic_init(&a->starting, false);
    if (!set->key || set->keylen == 0 || api_key_digest(set->key, set->keylen, a->key_digest) != 0) {
        snprintf(err, errlen, "AGENT_API_KEY_FILE: no usable key");
        goto fail;
    }
    if (set->tls_cert_file && set->tls_key_file) {
        if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
            snprintf(err, errlen, "AGENT_API_TLS_CERT: this libmicrohttpd has no TLS support");
            goto fail;
        }
        if (!(a->cert_pem = read_pem("AGENT_API_TLS_CERT", set->tls_cert_file, err, errlen)) ||
            !(a->key_pem = read_pem("AGENT_API_TLS_KEY", set->tls_key_file, err, errlen)))
            goto fail;
    }
    if (host[0] == '\0') {
        a->any_addr = true;
        return a;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(err, errlen, "AGENT_API_ADDR=%s: cannot resolve %s: %s", set->addr, host,
                 rc ? gai_strerror(rc) : "no address");
        goto fail;
    }
    memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    if (a->sa.ss_family == AF_INET)
        ((struct sockaddr_in *)&a->sa)->sin_port = htons(a->port);
    else
        ((struct sockaddr_in6 *)&a->sa)->sin6_port = htons(a->port);
    return a;
fail:
    api_server_destroy(a);
    return NULL;
}

static struct MHD_Daemon *start_daemon(api_server *a, unsigned flags, const struct sockaddr *sa)
{
    flags |= MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
    if (a->cert_pem)
        flags |= MHD_USE_TLS;
    /* The TLS options come last: without a certificate they are cut off by the MHD_OPTION_END before them. */
    return MHD_start_daemon(flags, a->port, NULL, NULL, handle, a,
                            MHD_OPTION_SOCK_ADDR, sa,
                            MHD_OPTION_CONNECTION_LIMIT, API_CONN_LIMIT,
                            MHD_OPTION_CONNECTION_TIMEOUT, API_CONN_TIMEOUT,
                            MHD_OPTION_PER_IP_CONNECTION_LIMIT, API_PER_IP_LIMIT,
                            MHD_OPTION_NOTIFY_COMPLETED, completed, a,
                            MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, a,
                            a->cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, a->cert_pem,
                            MHD_OPTION_HTTPS_MEM_KEY, a->key_pem,
                            MHD_OPTION_END);
}

int api_server_start(api_server *a, char *err, size_t errlen)
{
    if (!a || a->daemon)
        return 0;
    atomic_store(&a->starting, true);
    a->start_err[0] = '\0';
    if (a->any_addr) {
        a->daemon = start_daemon(a, MHD_USE_DUAL_STACK, NULL);
        if (!a->daemon)
            a->daemon = start_daemon(a, 0, NULL);
    } else {
        a->daemon = start_daemon(a, a->sa.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0, (const struct sockaddr *)&a->sa);
    }
    atomic_store(&a->starting, false);
    if (!a->daemon) {
        snprintf(err, errlen, "api: cannot listen on port %u: %s", (unsigned)a->port,
                 a->start_err[0] ? a->start_err : "libmicrohttpd failed to start");
        return -1;
    }
    return 0;
}

uint16_t api_server_port(const api_server *a)
{
    if (!a || !a->daemon)
        return 0;
    const union MHD_DaemonInfo *i = MHD_get_daemon_info(a->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return i ? i->port : a->port;
}

void api_server_stop(api_server *a)
{
    if (a && a->daemon) {
        MHD_stop_daemon(a->daemon);
        a->daemon = NULL;
    }
}

void api_server_destroy(api_server *a)
{
    if (!a)
        return;
    api_server_stop(a);
    free_pem(a->cert_pem);
    free_pem(a->key_pem);
    OPENSSL_cleanse(a->key_digest, sizeof a->key_digest);
    free(a);
}
