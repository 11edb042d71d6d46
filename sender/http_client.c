/*
 * http_client.c — one POST of one batch body (see http_client.h).
 *
 * Headers that never change (Content-Type, Expect, the bearer token, and
 * Content-Encoding when compressing) are built once; the signing headers are
 * new for every request, so each POST appends them to a copy of the fixed list
 * and frees that copy afterwards. The gzip output buffer is reused. The
 * response body is kept only up to a short prefix, for the log line of a
 * rejected batch.
 */
#define _XOPEN_SOURCE 700 /* strptime, for Retry-After dates */
#include "http_client.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
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

struct http_client {
    CURL *curl;
    struct curl_slist *fixed;        /* headers of every request */
    char *url_log;
    unsigned char *hmac_key;         /* NULL: no signing */
    size_t hmac_key_len;
    bool gzip;
    uint32_t timeout_ms;             /* configured whole-request timeout */
    unsigned char *zbuf;             /* gzip output, reused */
    size_t zcap;
    char snippet[BODY_SNIPPET + 1];  /* start of the response body */
    size_t snippet_len;
    char retry_after[64];            /* Retry-After header value of the last response */
    char curl_err[CURL_ERROR_SIZE];
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    http_client *c = userdata;
    size_t n = size * nmemb, room = BODY_SNIPPET - c->snippet_len;
    size_t take = n < room ? n : room;
    memcpy(c->snippet + c->snippet_len, ptr, take);
    c->snippet_len += take;
    c->snippet[c->snippet_len] = '\0';
    return n;
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *userdata)
{
    http_client *c = userdata;
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

static int set_options(http_client *c, const struct config *cfg, char *err, size_t errlen)
{
    CURLcode rc = CURLE_OK;
    CURL *h = c->curl;
#define SETOPT(opt, val) do { if (rc == CURLE_OK) rc = curl_easy_setopt(h, opt, val); } while (0)
    SETOPT(CURLOPT_URL, cfg->endpoint_url);
    SETOPT(CURLOPT_POST, 1L);
    SETOPT(CURLOPT_USERAGENT, "tracer-sensor/" TRACER_VERSION);
    SETOPT(CURLOPT_NOSIGNAL, 1L);
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)cfg->connect_timeout_ms);
    SETOPT(CURLOPT_TIMEOUT_MS, (long)cfg->request_timeout_ms);
    SETOPT(CURLOPT_TCP_KEEPALIVE, 1L);
    SETOPT(CURLOPT_WRITEFUNCTION, on_body);
    SETOPT(CURLOPT_WRITEDATA, c);
    SETOPT(CURLOPT_HEADERFUNCTION, on_header);
    SETOPT(CURLOPT_HEADERDATA, c);
    SETOPT(CURLOPT_ERRORBUFFER, c->curl_err);
#if LIBCURL_VERSION_NUM >= 0x075500 /* 7.85.0 */
    SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
#else
    SETOPT(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (cfg->tls_ca_file)
        SETOPT(CURLOPT_CAINFO, cfg->tls_ca_file);
    if (cfg->tls_client_cert)
        SETOPT(CURLOPT_SSLCERT, cfg->tls_client_cert);
    if (cfg->tls_client_key)
        SETOPT(CURLOPT_SSLKEY, cfg->tls_client_key);
    if (cfg->tls_insecure) {
        SETOPT(CURLOPT_SSL_VERIFYPEER, 0L);
        SETOPT(CURLOPT_SSL_VERIFYHOST, 0L);
    }
#undef SETOPT
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "sender: configuring libcurl for %s: %s", c->url_log, curl_easy_strerror(rc));
        return -1;
    }
    return 0;
}

http_client *http_client_create(const struct config *cfg, char *err, size_t errlen)
{
    http_client *c = calloc(1, sizeof *c);
    if (!c)
        goto oom;
    c->url_log = url_for_log(cfg->endpoint_url);
    c->curl = curl_easy_init();
    if (!c->url_log || !c->curl)
        goto oom;
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
    if (set_options(c, cfg, err, errlen) != 0)
        goto fail;
    if (cfg->tls_insecure)
        log_warn("sender: AGENT_TLS_INSECURE=true: the endpoint's certificate and host name are NOT verified");
    if ((cfg->auth_token || cfg->hmac_key) && strncasecmp(cfg->endpoint_url, "http://", 7) == 0 &&
        !host_is_loopback(cfg->endpoint_url))
        log_warn("sender: %s is plain http to a non-loopback host: the %s travel%s unencrypted; use https",
                 c->url_log, cfg->auth_token ? "bearer token" : "signed requests",
                 cfg->auth_token ? "s" : "");
    return c;
oom:
    snprintf(err, errlen, "sender: out of memory");
fail:
    http_client_destroy(c);
    return NULL;
}

void http_client_destroy(http_client *c)
{
    if (!c)
        return;
    if (c->curl)
        curl_easy_cleanup(c->curl);
    free_headers(c->fixed);
    if (c->hmac_key) {
        OPENSSL_cleanse(c->hmac_key, c->hmac_key_len);
        free(c->hmac_key);
    }
    free(c->zbuf);
    free(c->url_log);
    free(c);
}

const char *http_client_url_for_log(const http_client *c) { return c->url_log; }

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

/* gzip body into c->zbuf; returns the compressed length or 0 on failure. */
static size_t gzip_body(http_client *c, const char *body, size_t len)
{
    size_t bound = len + len / 1000 + 64;
    if (c->zcap < bound) {
        unsigned char *b = realloc(c->zbuf, bound);
        if (!b)
            return 0;
        c->zbuf = b;
        c->zcap = bound;
    }
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return 0;
    zs.next_in = (Bytef *)(uintptr_t)body;
    zs.avail_in = (uInt)len;
    zs.next_out = c->zbuf;
    zs.avail_out = (uInt)c->zcap;
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

void http_client_post(http_client *c, const char *body, size_t len, uint32_t max_ms,
                      struct http_result *res)
{
    memset(res, 0, sizeof *res);
    c->snippet_len = 0;
    c->snippet[0] = '\0';
    c->retry_after[0] = '\0';
    c->curl_err[0] = '\0';

    const char *send = body;
    size_t send_len = len;
    if (c->gzip) {
        send_len = gzip_body(c, body, len);
        if (send_len == 0) {
            res->outcome = HTTP_RETRY;
            res->curl_code = CURLE_OUT_OF_MEMORY;
            snprintf(res->detail, sizeof res->detail, "gzip compression failed");
            return;
        }
        send = (const char *)c->zbuf;
    }

    struct curl_slist *headers = c->fixed;
    struct curl_slist *extra = NULL;
    if (c->hmac_key) {
        unsigned char rnd[16];
        char nonce[33], ts[24], sig[80], line[128];
        if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
            res->outcome = HTTP_RETRY;
            res->curl_code = CURLE_FAILED_INIT;
            snprintf(res->detail, sizeof res->detail, "no random bytes for the request nonce");
            return;
        }
        for (size_t i = 0; i < sizeof rnd; i++)
            snprintf(nonce + 2 * i, 3, "%02x", rnd[i]);
        snprintf(ts, sizeof ts, "%" PRId64, (int64_t)time(NULL));
        if (http_client_sign(c->hmac_key, c->hmac_key_len, ts, nonce, (const unsigned char *)send,
                             send_len, sig, sizeof sig) != 0) {
            res->outcome = HTTP_RETRY;
            res->curl_code = CURLE_FAILED_INIT;
            snprintf(res->detail, sizeof res->detail, "HMAC signing failed");
            return;
        }
        /* The fixed list must not grow: copy it, then add the per-request lines. */
        bool ok = true;
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
            res->outcome = HTTP_RETRY;
            res->curl_code = CURLE_OUT_OF_MEMORY;
            snprintf(res->detail, sizeof res->detail, "out of memory for request headers");
            return;
        }
        headers = extra;
    }

    long timeout = (long)c->timeout_ms;
    if (max_ms && (long)max_ms < timeout)
        timeout = (long)max_ms;
    CURLcode rc = curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS, timeout);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, headers);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, send);
    if (rc == CURLE_OK)
        rc = curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)send_len);
    if (rc == CURLE_OK)
        rc = curl_easy_perform(c->curl);
    curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, c->fixed);
    free_headers(extra);

    res->curl_code = (int)rc;
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &res->status);
        res->retry_after_ms = http_client_parse_retry_after(c->retry_after, (int64_t)time(NULL));
        /* Keep the snippet on one line for the log. */
        for (size_t i = 0; i < c->snippet_len; i++)
            if ((unsigned char)c->snippet[i] < 0x20)
                c->snippet[i] = ' ';
        snprintf(res->detail, sizeof res->detail, "HTTP %ld%s%s", res->status,
                 c->snippet_len ? ": " : "", c->snippet);
    } else {
        snprintf(res->detail, sizeof res->detail, "%s", c->curl_err[0] ? c->curl_err : curl_easy_strerror(rc));
    }
    classify(res);
}
