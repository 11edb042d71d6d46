/*
 * http_client.c — a pool of POSTs in flight over kept-alive connections (see http_client.h).
 *
 * One curl multi handle drives up to `nslots` easy handles, each one request
 * at a time; curl keeps the connections alive between requests and, when the
 * endpoint offers HTTP/2 (https with ALPN), multiplexes the requests over one
 * connection. Every easy handle is configured once at create time, including
 * the TLS client certificate, key and CA, which are read into memory here
 * (before the sensor drops root) and handed to libcurl as blobs, so mutual TLS
 * keeps working after the switch to an unprivileged user. Headers that never
 * change (Content-Type, Expect, the bearer token, Content-Encoding) are built
 * once; the signing headers are new per request. The response body is kept
 * only up to a short prefix, for the log line of a rejected request.
 */
#define _XOPEN_SOURCE 700 /* strptime, for Retry-After dates */
#include "http_client.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stddef.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <zlib.h>

#include "../common/log.h"
#include "../config/config.h"

#ifndef TRACER_VERSION
#define TRACER_VERSION "0.0.0"
#endif

#define BODY_SNIPPET 200

#define TLS_FILE_MAX (1u << 20)   /* certificate, key and CA files: at most 1 MiB each */

/* One easy handle: one request at a time. */
struct http_slot {
    CURL *curl;
    bool busy;
    void *tag;                       /* the caller's, returned when done */
    struct curl_slist *extra;        /* this request's headers (signing); NULL = the fixed list */
    unsigned char *zbuf;             /* gzip output, reused */
    size_t zcap;
    char snippet[BODY_SNIPPET + 1];  /* start of the response body */
    size_t snippet_len;
    char retry_after[64];            /* Retry-After header value of the last response */
    char curl_err[CURL_ERROR_SIZE];
};

struct http_client {
    CURLM *multi;
    struct http_slot *slots;
    unsigned nslots, busy;
    char *url[HTTP_ROUTES];          /* NULL: route not configured */
    char *url_log[HTTP_ROUTES];
    struct curl_slist *fixed;        /* headers of every request */
    unsigned char *hmac_key;         /* NULL: no signing */
    size_t hmac_key_len;
    bool gzip;
    uint32_t timeout_ms;             /* configured whole-request timeout */
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct http_slot *c = userdata;
    size_t n = size * nmemb, room = BODY_SNIPPET - c->snippet_len;
    size_t take = n < room ? n : room;
    memcpy(c->snippet + c->snippet_len, ptr, take);
    c->snippet_len += take;
    c->snippet[c->snippet_len] = '\0';
    return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    struct http_slot *c = userdata;
    size_t n = size * nitems;
    static const char name[] = "retry-after:";
    if (n > sizeof name - 1 && strncasecmp(buf, name, sizeof name - 1) == 0) {
        const char *v = buf + sizeof name - 1;
        size_t vl = n - (sizeof name - 1);
        while (vl && (*v == ' ' || *v == '\t'))
            v++, vl--;
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
            vl--;
        if (vl >= sizeof c->retry_after)
            vl = sizeof c->retry_after - 1;
        memcpy(c->retry_after, v, vl);
        c->retry_after[vl] = '\0';
    }
    return n;
}

/* "scheme://host[:port]/path" of url: no userinfo, no query, no fragment. */
static char *url_for_log(const char *url)
{
    const char *sep = strstr(url, "://");
    const char *auth = sep ? sep + 3 : url;
    size_t scheme_len = (size_t)(auth - url);
    size_t auth_len = strcspn(auth, "/?#");
    const char *host = auth;
    for (size_t i = 0; i < auth_len; i++)
        if (auth[i] == '@')
            host = auth + i + 1;
    size_t host_len = auth_len - (size_t)(host - auth);
    const char *path = auth + auth_len;
    size_t path_len = strcspn(path, "?#");
    char *s = malloc(scheme_len + host_len + path_len + 1);
    if (!s)
        return NULL;
    memcpy(s, url, scheme_len);
    memcpy(s + scheme_len, host, host_len);
    memcpy(s + scheme_len + host_len, path, path_len);
    s[scheme_len + host_len + path_len] = '\0';
    return s;
}

/* Whether the URL's host is loopback: localhost, 127.0.0.0/8 or ::1. */
static bool host_is_loopback(const char *url)
{
    CURLU *u = curl_url();
    char *host = NULL;
    bool lo = false;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host) {
        lo = strcasecmp(host, "localhost") == 0 || strncmp(host, "127.", 4) == 0 ||
             strcmp(host, "[::1]") == 0 || strcmp(host, "::1") == 0;
    }
    curl_free(host);
    curl_url_cleanup(u);
    return lo;
}

static struct curl_slist *append(struct curl_slist *list, const char *line, bool *ok)
{
    struct curl_slist *n = curl_slist_append(list, line);
    if (!n) {
        *ok = false;
        return list;
    }
    return n;
}

/* Free a header list after wiping its strings (one holds the bearer token). */
static void free_headers(struct curl_slist *h)
{
    for (struct curl_slist *p = h; p; p = p->next)
        if (p->data)
            OPENSSL_cleanse(p->data, strlen(p->data));
    curl_slist_free_all(h);
}

/* A file read whole into memory (TLS material, before the privilege drop). */
struct file_blob {
    unsigned char *data;
    size_t len;
};

static void blob_wipe(struct file_blob *b)
{
    if (b->data) {
        OPENSSL_cleanse(b->data, b->len);
        free(b->data);
    }
    b->data = NULL;
    b->len = 0;
}

static int blob_read(const char *var, const char *path, struct file_blob *b, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
        (uint64_t)st.st_size > TLS_FILE_MAX) {
        int e = errno;
        snprintf(err, errlen, "%s=%s: cannot load: %s", var, path,
                 fd < 0 || e ? strerror(e) : "must be a non-empty regular file of at most 1 MiB");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    b->data = malloc((size_t)st.st_size);
    size_t got = 0;
    while (b->data && got < (size_t)st.st_size) {
        ssize_t r = read(fd, b->data + got, (size_t)st.st_size - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR)
                continue;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    b->len = got;
    if (!b->data || got != (size_t)st.st_size) {
        snprintf(err, errlen, "%s=%s: cannot load: %s", var, path, b->data ? "short read" : "out of memory");
        blob_wipe(b);
        return -1;
    }
    return 0;
}

struct tls_blobs {
    struct file_blob ca, cert, key;
};

static int set_slot_options(http_client *c, struct http_slot *sl, const struct config *cfg,
                            const struct tls_blobs *tb, char *err, size_t errlen)
{
    CURLcode rc = CURLE_OK;
    CURL *h = sl->curl;
#define SETOPT(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val); } while (0)
    SETOPT(CURLOPT_POST, 1L);
    SETOPT(CURLOPT_USERAGENT, "tracer-sensor/" TRACER_VERSION);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->connect_timeout_ms);
    SETOPT(CURLOPT_TIMEOUT_MS, (long)c->timeout_ms);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, sl);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, sl);
    SETOPT(CURLOPT_ERRORBUFFER, sl->curl_err);
    SETOPT(CURLOPT_PRIVATE, sl);
    SETOPT(CURLOPT_HTTPHEADER, c->fixed);
    /* Prefer one multiplexed HTTP/2 connection when the endpoint offers it (ALPN). */
    SETOPT(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
    if (strncasecmp(c->url[0], "https://", 8) == 0)
        SETOPT(CURLOPT_PIPEWAIT, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    /* CURL_BLOB_COPY: every handle keeps its own copy; ours is wiped after create. */
    if (tb->ca.data) {
        struct curl_blob b = {tb->ca.data, tb->ca.len, CURL_BLOB_COPY};
        SETOPT(CURLOPT_CAINFO_BLOB, &b);
    }
    if (tb->cert.data) {
        struct curl_blob b = {tb->cert.data, tb->cert.len, CURL_BLOB_COPY};
        SETOPT(CURLOPT_SSLCERT_BLOB, &b);
        SETOPT(CURLOPT_SSLCERTTYPE, "PEM");
    }
    if (tb->key.data) {
        struct curl_blob b = {tb->key.data, tb->key.len, CURL_BLOB_COPY};
        SETOPT(CURLOPT_SSLKEY_BLOB, &b);
        SETOPT(CURLOPT_SSLKEYTYPE, "PEM");
    }
    if (cfg->tls_insecure) {
        SETOPT(CURLOPT_SSL_VERIFYPEER, 0L);
        SETOPT(CURLOPT_SSL_VERIFYHOST, 0L);
    }
#undef SETOPT
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "sender: configuring libcurl for %s: %s", c->url_log[0], curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

http_client *http_client_create(const struct config *cfg, char *err, size_t errlen)
{
    struct tls_blobs tb;
    memset(&tb, 0, sizeof tb);
    http_client *c = calloc(1, sizeof *c);
    if (!c)
        goto oom;
    const char *urls[HTTP_ROUTES] = {cfg->endpoint_url, cfg->events_endpoint_url};
    for (unsigned r = 0; r < HTTP_ROUTES; r++) {
        if (!urls[r])
            continue;
        c->url[r] = strdup(urls[r]);
        c->url_log[r] = url_for_log(urls[r]);
        if (!c->url[r] || !c->url_log[r])
            goto oom;
    }
    if (!c->url[0]) {
        snprintf(err, errlen, "sender: no endpoint URL");
        goto fail;
    }
    bool ok = true;
    c->fixed = append(NULL, "Content-Type: application/json", &ok);
    c->fixed = append(c->fixed, "Expect:", &ok);     /* no 100-continue round trip */
    if (cfg->compress_gzip) {
        c->gzip = true;
        c->fixed = append(c->fixed, "Content-Encoding: gzip", &ok);
    }
    if (cfg->auth_token) {
        static const char pre[] = "Authorization: Bearer ";
        size_t tl = strlen(cfg->auth_token);
        char *line = malloc(sizeof pre + tl);
        if (!line)
            goto oom;
        memcpy(line, pre, sizeof pre - 1);
        memcpy(line + sizeof pre - 1, cfg->auth_token, tl + 1);
        c->fixed = append(c->fixed, line, &ok);
        OPENSSL_cleanse(line, sizeof pre + tl);
        free(line);
    }
    if (!ok)
        goto oom;
    if (cfg->hmac_key) {
        c->hmac_key = malloc(cfg->hmac_key_len);
        if (!c->hmac_key)
            goto oom;
        memcpy(c->hmac_key, cfg->hmac_key, cfg->hmac_key_len);
        c->hmac_key_len = cfg->hmac_key_len;
    }
    c->timeout_ms = cfg->request_timeout_ms ? cfg->request_timeout_ms : 30000;
    if ((cfg->tls_ca_file && blob_read("AGENT_TLS_CA_FILE", cfg->tls_ca_file, &tb.ca, err, errlen) != 0) ||
        (cfg->tls_client_cert &&
         blob_read("AGENT_TLS_CLIENT_CERT", cfg->tls_client_cert, &tb.cert, err, errlen) != 0) ||
        (cfg->tls_client_key && blob_read("AGENT_TLS_CLIENT_KEY", cfg->tls_client_key, &tb.key, err, errlen) != 0))
        goto fail;
    c->nslots = cfg->http_connections ? cfg->http_connections : 8;
    c->slots = calloc(c->nslots, sizeof *c->slots);
    c->multi = curl_multi_init();
    if (!c->slots || !c->multi)
        goto oom;
    curl_multi_setopt(c->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)c->nslots);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)c->nslots * HTTP_ROUTES);
    curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    for (unsigned i = 0; i < c->nslots; i++) {
        c->slots[i].curl = curl_easy_init();
        if (!c->slots[i].curl)
            goto oom;
        if (set_slot_options(c, &c->slots[i], cfg, &tb, err, errlen) != 0)
            goto fail;
    }
    blob_wipe(&tb.ca);
    blob_wipe(&tb.cert);
    blob_wipe(&tb.key);
    if (cfg->tls_insecure)
        log_warn("sender: AGENT_TLS_INSECURE=true: the endpoint's certificate and host name are NOT verified");
    for (unsigned r = 0; r < HTTP_ROUTES; r++)
        if (c->url[r] && (cfg->auth_token || cfg->hmac_key) && strncasecmp(c->url[r], "http://", 7) == 0 &&
            !host_is_loopback(c->url[r]))
            log_warn("sender: %s is plain http to a non-loopback host: the %s travel%s unencrypted; use https",
                     c->url_log[r], cfg->auth_token ? "bearer token" : "signed requests",
                     cfg->auth_token ? "s" : "");
    return c;
oom:
    snprintf(err, errlen, "sender: out of memory");
fail:
    blob_wipe(&tb.ca);
    blob_wipe(&tb.cert);
    blob_wipe(&tb.key);
    http_client_destroy(c);
    return NULL;
}

void http_client_destroy(http_client *c)
{
    if (!c)
        return;
    for (unsigned i = 0; c->slots && i < c->nslots; i++) {
        struct http_slot *sl = &c->slots[i];
        if (sl->curl) {
            if (sl->busy && c->multi)
                curl_multi_remove_handle(c->multi, sl->curl);
            curl_easy_cleanup(sl->curl);
        }
        free_headers(sl->extra);
        free(sl->zbuf);
    }
    free(c->slots);
    if (c->multi)
        curl_multi_cleanup(c->multi);
    free_headers(c->fixed);
    if (c->hmac_key) {
        OPENSSL_cleanse(c->hmac_key, c->hmac_key_len);
        free(c->hmac_key);
    }
    for (unsigned r = 0; r < HTTP_ROUTES; r++) {
        free(c->url[r]);
        free(c->url_log[r]);
    }
    free(c);
}

const char *http_client_url_for_log(const http_client *c, unsigned route)
{
    return route < HTTP_ROUTES && c->url_log[route] ? c->url_log[route] : c->url_log[0];
}

bool http_client_has_route(const http_client *c, unsigned route)
{
    return route < HTTP_ROUTES && c->url[route] != NULL;
}

int http_client_route_for(const http_client *c, bool flow)
{
    if (flow)
        return 0;
    if (!c->url[1])
        return -1;
    return strcmp(c->url[1], c->url[0]) == 0 ? 0 : 1;   /* one endpoint for all: shared bodies */
}

unsigned http_client_capacity(const http_client *c) { return c->nslots; }
unsigned http_client_busy(const http_client *c) { return c->busy; }

int http_client_sign(const unsigned char *key, size_t keylen, const char *timestamp,
                     const char *nonce, const unsigned char *body, size_t len,
                     char *out, size_t outlen)
{
    if (outlen < 72)
        return -1;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    int rc = -1;
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
        OSSL_PARAM_construct_end(),
    };
    size_t got = 0;
    if (ctx && EVP_MAC_init(ctx, key, keylen, params) == 1 &&
        EVP_MAC_update(ctx, (const unsigned char *)timestamp, strlen(timestamp)) == 1 &&
        EVP_MAC_update(ctx, (const unsigned char *)".", 1) == 1 &&
        EVP_MAC_update(ctx, (const unsigned char *)nonce, strlen(nonce)) == 1 &&
        EVP_MAC_update(ctx, (const unsigned char *)".", 1) == 1 &&
        EVP_MAC_update(ctx, body, len) == 1 && EVP_MAC_final(ctx, mac, &got, sizeof mac) == 1) {
        maclen = (unsigned)got;
        memcpy(out, "sha256=", 7);
        for (unsigned i = 0; i < maclen; i++)
            snprintf(out + 7 + 2 * i, 3, "%02x", mac[i]);
        rc = 0;
    }
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(m);
    return rc;
}

uint32_t http_client_parse_retry_after(const char *value, int64_t now_s)
{
    if (!value || !*value)
        return 0;
    if (isdigit((unsigned char)value[0])) {
        char *end = NULL;
        unsigned long long secs = strtoull(value, &end, 10);
        if (*end != '\0')
            return 0;
        if (secs > 86400)
            secs = 86400;
        return (uint32_t)(secs * 1000u);
    }
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    const char *end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (!end || *end != '\0')
        return 0;
    int64_t when = (int64_t)timegm(&tm);
    if (when <= now_s)
        return 0;
    int64_t d = when - now_s;
    return (uint32_t)((d > 86400 ? 86400 : d) * 1000);
}

/* gzip body into sl->zbuf; returns the compressed length or 0 on failure. */
static size_t gzip_body(struct http_slot *sl, const char *body, size_t len)
{
    size_t bound = len + len / 1000 + 64;
    if (sl->zcap < bound) {
        unsigned char *b = realloc(sl->zbuf, bound);
        if (!b)
            return 0;
        sl->zbuf = b;
        sl->zcap = bound;
    }
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    zs.next_in = (Bytef *)(uintptr_t)body;
    zs.avail_in = (uInt)len;
    zs.next_out = sl->zbuf;
    zs.avail_out = (uInt)sl->zcap;
    int rc = deflate(&zs, Z_FINISH);
    size_t out = zs.total_out;
    deflateEnd(&zs);
    return rc == Z_STREAM_END ? out : 0;
}

static void classify(struct http_result *res)
{
    long s = res->status;
    if (res->curl_code != CURLE_OK || s >= 500 || s == 429 || s == 408)
        res->outcome = HTTP_RETRY;
    else if (s >= 200 && s <= 299)
        res->outcome = HTTP_DELIVERED;
    else
        res->outcome = HTTP_REJECTED;
}


/* Fill res for a request that could not even start. */
static void fail_early(struct http_result *res, int code, const char *what)
{
    memset(res, 0, sizeof *res);
    res->outcome = HTTP_RETRY;
    res->curl_code = code;
    snprintf(res->detail, sizeof res->detail, "%s", what);
}

/*
 * What every request on slot `sl` sends, built one way for real POSTs and for
 * --dump-request: the body gzipped when AGENT_COMPRESS is on (into sl->zbuf),
 * and the headers: the fixed list, plus, with an HMAC key, X-Tracer-Timestamp,
 * X-Tracer-Nonce and X-Tracer-Signature over the bytes sent (then in
 * sl->extra, freed when the request ends). Sets *send, *send_len, *headers.
 * Returns 0, or -1 with *res filled (HTTP_RETRY outcome). Owner thread.
 */
static int build_request(http_client *c, struct http_slot *sl, const char *body, size_t len, const char **send,
                         size_t *send_len, struct curl_slist **headers, struct http_result *res)
{
    *send = body;
    *send_len = len;
    if (c->gzip) {
        *send_len = gzip_body(sl, body, len);
        if (*send_len == 0) {
            fail_early(res, CURLE_OUT_OF_MEMORY, "gzip compression failed");
            return -1;
        }
        *send = (const char *)sl->zbuf;
    }
    *headers = c->fixed;
    if (!c->hmac_key)
        return 0;
    unsigned char rnd[16];
    char nonce[33], ts[24], sig[80], line[128];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        fail_early(res, CURLE_FAILED_INIT, "no random bytes for the request nonce");
        return -1;
    }
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(nonce + 2 * i, 3, "%02x", rnd[i]);
    snprintf(ts, sizeof ts, "%" PRId64, (int64_t)time(NULL));
    if (http_client_sign(c->hmac_key, c->hmac_key_len, ts, nonce, (const unsigned char *)*send, *send_len, sig,
                         sizeof sig) != 0) {
        fail_early(res, CURLE_FAILED_INIT, "HMAC signing failed");
        return -1;
    }
    /* The fixed list must not grow: copy it, then add the per-request lines. */
    bool ok = true;
    struct curl_slist *extra = NULL;
    for (struct curl_slist *p = c->fixed; p; p = p->next)
        extra = append(extra, p->data, &ok);
    snprintf(line, sizeof line, "X-Tracer-Timestamp: %s", ts);
    extra = append(extra, line, &ok);
    snprintf(line, sizeof line, "X-Tracer-Nonce: %s", nonce);
    extra = append(extra, line, &ok);
    snprintf(line, sizeof line, "X-Tracer-Signature: %s", sig);
    extra = append(extra, line, &ok);
    if (!ok) {
        free_headers(extra);
        fail_early(res, CURLE_OUT_OF_MEMORY, "out of memory for request headers");
        return -1;
    }
    sl->extra = extra;
    *headers = extra;
    return 0;
}

int http_client_start(http_client *c, unsigned route, const char *body, size_t len, uint32_t max_ms,
                      void *tag, struct http_result *res)
{
    struct http_slot *sl = NULL;
    for (unsigned i = 0; i < c->nslots && !sl; i++)
        if (!c->slots[i].busy)
            sl = &c->slots[i];
    if (!sl) {
        fail_early(res, CURLE_AGAIN, "no free connection slot");
        return -1;
    }
    if (route >= HTTP_ROUTES || !c->url[route])
        route = 0;
    sl->snippet_len = 0;
    sl->snippet[0] = '\0';
    sl->retry_after[0] = '\0';
    sl->curl_err[0] = '\0';

    const char *send;
    size_t send_len;
    struct curl_slist *headers;
    if (build_request(c, sl, body, len, &send, &send_len, &headers, res) != 0)
        return -1;

    long timeout = (long)c->timeout_ms;
    if (max_ms && (long)max_ms < timeout)
        timeout = (long)max_ms;
    CURLcode rc = curl_easy_setopt(sl->curl, CURLOPT_URL, c->url[route]);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(sl->curl, CURLOPT_TIMEOUT_MS, timeout);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(sl->curl, CURLOPT_HTTPHEADER, headers);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(sl->curl, CURLOPT_POSTFIELDS, send);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(sl->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)send_len);
    if (rc == CURLE_OK && curl_multi_add_handle(c->multi, sl->curl) != CURLM_OK)
        rc = CURLE_FAILED_INIT;
    if (rc != CURLE_OK) {
        curl_easy_setopt(sl->curl, CURLOPT_HTTPHEADER, c->fixed);
        free_headers(sl->extra);
        sl->extra = NULL;
        fail_early(res, (int)rc, curl_easy_strerror(rc));
        return -1;
    }
    sl->busy = true;
    sl->tag = tag;
    c->busy++;
    return 0;
}

/* A finished transfer: fill res from the handle, free the slot. */
static void finish_slot(http_client *c, struct http_slot *sl, CURLcode rc, struct http_result *res)
{
    memset(res, 0, sizeof *res);
    curl_multi_remove_handle(c->multi, sl->curl);
    curl_easy_setopt(sl->curl, CURLOPT_HTTPHEADER, c->fixed);
    free_headers(sl->extra);
    sl->extra = NULL;
    res->curl_code = (int)rc;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(sl->curl, CURLINFO_RESPONSE_CODE, &res->status);
        res->retry_after_ms = http_client_parse_retry_after(sl->retry_after, (int64_t)time(NULL));
        /* Keep the snippet on one line for the log. */
        for (size_t i = 0; i < sl->snippet_len; i++)
            if ((unsigned char)sl->snippet[i] < 0x20)
                sl->snippet[i] = ' ';
        snprintf(res->detail, sizeof res->detail, "HTTP %ld%s%s", res->status,
                 sl->snippet_len ? ": " : "", sl->snippet);
    } else {
        snprintf(res->detail, sizeof res->detail, "%s", sl->curl_err[0] ? sl->curl_err : curl_easy_strerror(rc));
    }
    classify(res);
    sl->busy = false;
    c->busy--;
}

int http_client_poll(http_client *c, int timeout_ms, http_done_fn done, void *arg)
{
    int running = 0;
    if (c->busy)
        curl_multi_perform(c->multi, &running);
    int n = 0;
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(c->multi, &left)) != NULL) {
        if (m->msg != CURLMSG_DONE)
            continue;
        struct http_slot *sl = NULL;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&sl);
        CURLcode rc = m->data.result;
        if (!sl || !sl->busy)
            continue;
        struct http_result res;
        void *tag = sl->tag;
        finish_slot(c, sl, rc, &res);
        done(arg, tag, &res);
        n++;
    }
    if (n == 0 && timeout_ms > 0)
        curl_multi_poll(c->multi, NULL, 0, timeout_ms, NULL);
    return n;
}

void http_client_wakeup(http_client *c)
{
    curl_multi_wakeup(c->multi);
}

void http_client_cancel_all(http_client *c, http_done_fn done, void *arg)
{
    for (unsigned i = 0; i < c->nslots; i++) {
        struct http_slot *sl = &c->slots[i];
        if (!sl->busy)
            continue;
        void *tag = sl->tag;
        struct http_result res;
        snprintf(sl->curl_err, sizeof sl->curl_err, "cancelled at the shutdown timeout");
        finish_slot(c, sl, CURLE_OPERATION_TIMEDOUT, &res);
        done(arg, tag, &res);
    }
}

/* --dump-request (issue 17.4) ------------------------------------------------ */

#define DUMP_TIMEOUT_MS 10000
#define DUMP_HEAD_MAX   65536u   /* request line + headers */

/* The URL the dump asks curl for: https becomes http (same host, port as written, path, query), so the
 * request is written in clear; Host and the request line are those of the real request. */
static char *dump_url(const char *url, char *err, size_t errlen)
{
    if (strncasecmp(url, "https://", 8) != 0)
        return strdup(url);
    CURLU *u = curl_url();
    char *out = NULL, *copy = NULL;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_SCHEME, "http", 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &out, 0) == CURLUE_OK && out)
        copy = strdup(out);
    else
        snprintf(err, errlen, "--dump-request: cannot rewrite the endpoint URL for the dump");
    curl_free(out);
    curl_url_cleanup(u);
    return copy;
}

/* Whether buf[0..n) holds a whole HTTP/1.1 request (head and Content-Length body bytes). */
static bool dump_complete(const unsigned char *buf, size_t n)
{
    const unsigned char *end = NULL;
    for (size_t i = 0; i + 4 <= n && !end; i++)
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0)
            end = buf + i + 4;
    if (!end)
        return false;
    size_t head = (size_t)(end - buf), body = 0;
    static const char cl[] = "\r\ncontent-length:";
    for (size_t i = 0; i + sizeof cl - 1 <= head; i++)
        if (strncasecmp((const char *)buf + i, cl, sizeof cl - 1) == 0) {
            size_t j = i + sizeof cl - 1;
            while (j < head && buf[j] == ' ')
                j++;
            while (j < head && buf[j] >= '0' && buf[j] <= '9')
                body = body * 10u + (size_t)(buf[j++] - '0');
            break;
        }
    return n - head >= body;
}

/* A listening abstract unix socket, named for this process and a random tag. Returns the fd or -1. */
static int dump_listen(char *name, size_t namelen)
{
    uint64_t r = 0;
    if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r)
        r = (uint64_t)time(NULL);
    snprintf(name, namelen, "tracer-sensor-dump-%ld-%016" PRIx64, (long)getpid(), r);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_un a;
    memset(&a, 0, sizeof a);
    a.sun_family = AF_UNIX;
    size_t l = strlen(name);
    memcpy(a.sun_path + 1, name, l);   /* sun_path[0] == 0: the abstract namespace */
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + l)) != 0 ||
        listen(fd, 1) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int http_client_dump(http_client *c, const char *body, size_t len, unsigned char **out, size_t *outlen, char *err,
                     size_t errlen)
{
    *out = NULL;
    *outlen = 0;
    struct http_slot *sl = &c->slots[0];
    if (sl->busy) {
        snprintf(err, errlen, "--dump-request: the client is busy");
        return -1;
    }
    char name[80];
    int lfd = dump_listen(name, sizeof name), cfd = -1;
    if (lfd < 0) {
        snprintf(err, errlen, "--dump-request: cannot listen on a unix socket: %s", strerror(errno));
        return -1;
    }
    char *url = dump_url(c->url[0], err, errlen);
    const char *send;
    size_t send_len;
    struct curl_slist *headers;
    struct http_result res;
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = -1;
    bool added = false, done = false;
    if (!url)
        goto out;
    if (build_request(c, sl, body, len, &send, &send_len, &headers, &res) != 0) {
        snprintf(err, errlen, "--dump-request: %s", res.detail);
        goto out;
    }
    cap = DUMP_HEAD_MAX + send_len;
    if (!(buf = malloc(cap))) {
        snprintf(err, errlen, "--dump-request: out of memory");
        goto out;
    }
    /* The slot's handle, as configured for real requests, sent into the socket above instead of the network. */
    CURLcode cc = curl_easy_setopt(sl->curl, CURLOPT_URL, url);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(sl->curl, CURLOPT_ABSTRACT_UNIX_SOCKET, name);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(sl->curl, CURLOPT_TIMEOUT_MS, (long)DUMP_TIMEOUT_MS);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(sl->curl, CURLOPT_HTTPHEADER, headers);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(sl->curl, CURLOPT_POSTFIELDS, send);
    if (cc == CURLE_OK)
        cc = curl_easy_setopt(sl->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)send_len);
    if (cc == CURLE_OK && curl_multi_add_handle(c->multi, sl->curl) != CURLM_OK)
        cc = CURLE_FAILED_INIT;
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "--dump-request: %s", curl_easy_strerror(cc));
        goto out;
    }
    added = true;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int running = 0;
        curl_multi_perform(c->multi, &running);
        if (cfd < 0 && (cfd = accept(lfd, NULL, NULL)) >= 0 && fcntl(cfd, F_SETFL, O_NONBLOCK) != 0) {
            snprintf(err, errlen, "--dump-request: %s", strerror(errno));
            goto out;
        }
        while (cfd >= 0 && n < cap) {
            ssize_t r = read(cfd, buf + n, cap - n);
            if (r <= 0)
                break;
            n += (size_t)r;
        }
        if ((done = dump_complete(buf, n)) || n == cap)
            break;
        int msgs;
        CURLMsg *m = curl_multi_info_read(c->multi, &msgs);
        if (m && m->msg == CURLMSG_DONE) {
            snprintf(err, errlen, "--dump-request: the request ended early: %s",
                     sl->curl_err[0] ? sl->curl_err : curl_easy_strerror(m->data.result));
            goto out;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        if ((now.tv_sec - t0.tv_sec) * 1000 + (now.tv_nsec - t0.tv_nsec) / 1000000 > DUMP_TIMEOUT_MS)
            break;
        struct curl_waitfd wfd = {cfd >= 0 ? cfd : lfd, CURL_WAIT_POLLIN, 0};
        curl_multi_poll(c->multi, &wfd, 1, 100, NULL);
    }
    if (!done) {
        snprintf(err, errlen, "--dump-request: the request did not come whole (%zu bytes)", n);
        goto out;
    }
    *out = buf;
    *outlen = n;
    buf = NULL;
    rc = 0;
out:
    if (added)
        curl_multi_remove_handle(c->multi, sl->curl);
    curl_easy_setopt(sl->curl, CURLOPT_ABSTRACT_UNIX_SOCKET, NULL);
    curl_easy_setopt(sl->curl, CURLOPT_HTTPHEADER, c->fixed);
    free_headers(sl->extra);
    sl->extra = NULL;
    if (buf)
        OPENSSL_cleanse(buf, n);   /* it holds the bearer token */
    free(buf);
    free(url);
    if (cfd >= 0)
        close(cfd);
    close(lfd);
    return rc;
}
