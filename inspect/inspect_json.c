/*
 * inspect_json.c — an inspect_result as one FlowEvent member ("dns", "tls",
 * "quic", "http" or "ssh"), built twice: as cJSON items (the sender's
 * builder) and as text written straight into a buffer (the fast writer).
 * Both walk the same description (emit_*), through a small emitter that
 * either adds cJSON items or prints what cJSON_PrintUnformatted would, so the
 * two cannot drift apart. Strings in a result are printable ASCII already
 * (the parsers replace the rest), so only '"' and '\\' need escaping.
 */
#include <stdio.h>

#include <cjson/cJSON.h>

#include "inspect/inspect.h"

#define EMIT_DEPTH 4

struct emitter {
    /* cJSON mode */
    cJSON *stack[EMIT_DEPTH];
    int depth;
    int failed;
    /* text mode (when buf_mode) */
    int text;
    char *b;
    size_t cap, n;
    int first[EMIT_DEPTH];  /* no member written yet at this depth */
};

static void t_put(struct emitter *e, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (e->n < e->cap)
            e->b[e->n] = s[i];
        e->n++;
    }
}

static void t_str(struct emitter *e, const char *s)
{
    t_put(e, "\"", 1);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            t_put(e, "\\", 1);
        t_put(e, s, 1);
    }
    t_put(e, "\"", 1);
}

/* Separator and key (key NULL inside an array). */
static void t_key(struct emitter *e, const char *key)
{
    if (!e->first[e->depth])
        t_put(e, ",", 1);
    e->first[e->depth] = 0;
    if (key) {
        t_str(e, key);
        t_put(e, ":", 1);
    }
}

static void attach(struct emitter *e, const char *key, cJSON *item)
{
    if (!item) {
        e->failed = 1;
        return;
    }
    cJSON *parent = e->stack[e->depth];
    if (cJSON_IsArray(parent))
        cJSON_AddItemToArray(parent, item);
    else
        cJSON_AddItemToObject(parent, key, item);
}

static void em_str(struct emitter *e, const char *key, const char *v)
{
    if (e->text) {
        t_key(e, key);
        t_str(e, v);
    } else {
        attach(e, key, cJSON_CreateString(v));
    }
}

static void em_num(struct emitter *e, const char *key, unsigned v)
{
    if (e->text) {
        char t[12], *q = t + sizeof t;
        do {
            *--q = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        t_key(e, key);
        t_put(e, q, (size_t)(t + sizeof t - q));
    } else {
        attach(e, key, cJSON_CreateNumber(v));
    }
}

static void em_open(struct emitter *e, const char *key, int array)
{
    if (e->depth + 1 >= EMIT_DEPTH) {
        e->failed = 1;
        return;
    }
    if (e->text) {
        t_key(e, key);
        t_put(e, array ? "[" : "{", 1);
        e->depth++;
        e->first[e->depth] = 1;
        return;
    }
    cJSON *item = array ? cJSON_CreateArray() : cJSON_CreateObject();
    attach(e, key, item);
    e->depth++;
    e->stack[e->depth] = item ? item : e->stack[e->depth - 1]; /* keep balance; failed is set */
}

static void em_close(struct emitter *e, int array)
{
    if (e->text)
        t_put(e, array ? "]" : "}", 1);
    e->depth--;
}

static const char *version_name(uint16_t v, char buf[8])
{
    switch (v) {
    case 0x0304: return "TLSv1.3";
    case 0x0303: return "TLSv1.2";
    case 0x0302: return "TLSv1.1";
    case 0x0301: return "TLSv1.0";
    case 0x0300: return "SSLv3";
    default:
        snprintf(buf, 8, "0x%04x", v);
        return buf;
    }
}

static void emit_dns(struct emitter *e, const struct inspect_dns *d)
{
    em_str(e, "query", d->qname);
    em_num(e, "qtype", d->qtype);
    if (!d->has_response)
        return;
    em_num(e, "rcode", d->rcode);
    em_num(e, "answer_count", d->ancount);
    em_open(e, "answers", 1);
    for (unsigned i = 0; i < d->n_answers && i < INSPECT_DNS_ANSWERS; i++) {
        em_open(e, NULL, 0);
        em_num(e, "type", d->answers[i].type);
        em_num(e, "ttl", d->answers[i].ttl);
        em_str(e, "data", d->answers[i].data);
        em_close(e, 0);
    }
    em_close(e, 1);
}

static void emit_tls(struct emitter *e, const struct inspect_tls *t)
{
    char vb[8];
    if (t->has_client_hello) {
        if (t->server_name[0])
            em_str(e, "server_name", t->server_name);
        em_open(e, "alpn", 1);
        for (unsigned i = 0; i < t->n_alpn && i < INSPECT_TLS_ALPN; i++)
            em_str(e, NULL, t->alpn[i]);
        em_close(e, 1);
        em_str(e, "client_version", version_name(t->client_version, vb));
        em_open(e, "supported_versions", 1);
        for (unsigned i = 0; i < t->n_versions && i < INSPECT_TLS_VERSIONS; i++)
            em_str(e, NULL, version_name(t->versions[i], vb));
        em_close(e, 1);
        if (t->ja3[0])
            em_str(e, "ja3", t->ja3);
        if (t->ja4[0])
            em_str(e, "ja4", t->ja4);
    }
    if (t->has_server_hello) {
        char cb[8];
        snprintf(cb, sizeof cb, "0x%04x", t->cipher);
        em_str(e, "version", version_name(t->server_version, vb));
        em_str(e, "cipher", cb);
        if (t->server_alpn[0])
            em_str(e, "server_alpn", t->server_alpn);
        if (t->ja3s[0])
            em_str(e, "ja3s", t->ja3s);
    }
}

static void emit_http(struct emitter *e, const struct inspect_http *h)
{
    if (h->has_request) {
        em_str(e, "method", h->method);
        em_str(e, "host", h->host);
        em_str(e, "path", h->path);
        em_str(e, "user_agent", h->user_agent);
    }
    if (h->has_response)
        em_num(e, "status", h->status);
}

static void emit_ssh(struct emitter *e, const struct inspect_ssh *s)
{
    if (s->client[0])
        em_str(e, "client", s->client);
    if (s->server[0])
        em_str(e, "server", s->server);
}

static void emit(struct emitter *e, const struct inspect_result *r)
{
    em_open(e, inspect_kind_name((enum inspect_kind)r->kind), 0);
    switch (r->kind) {
    case INSPECT_KIND_DNS:  emit_dns(e, &r->u.dns); break;
    case INSPECT_KIND_TLS:
    case INSPECT_KIND_QUIC: emit_tls(e, &r->u.tls); break;
    case INSPECT_KIND_HTTP: emit_http(e, &r->u.http); break;
    case INSPECT_KIND_SSH:  emit_ssh(e, &r->u.ssh); break;
    default: break;
    }
    em_close(e, 0);
}

int inspect_result_add_json(cJSON *obj, const struct inspect_result *r)
{
    if (!inspect_result_found(r))
        return 0;
    struct emitter e = {.stack = {obj}};
    emit(&e, r);
    return e.failed ? -1 : 0;
}

size_t inspect_result_format(const struct inspect_result *r, char *buf, size_t buflen)
{
    struct emitter e = {.text = 1, .b = buf, .cap = buf ? buflen : 0};
    if (inspect_result_found(r)) {
        e.first[0] = 0;                              /* after the event's other members */
        emit(&e, r);
    }
    if (e.cap)
        buf[e.n < e.cap ? e.n : e.cap - 1] = '\0';
    return e.n;
}
