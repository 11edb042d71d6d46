/*
 * inspect_http.c — the two line-based openings: an HTTP/1.x request head or
 * response status line (RFC 9112 §3, §4, §5) and an SSH identification line
 * (RFC 4253 §4.2). Both are read from the bytes a direction has sent so far;
 * nothing is copied but the capped fields, and no line is trusted to end.
 */
#include <strings.h>

#include "inspect/inspect.h"
#include "inspect/inspect_int.h"
#include "inspect/inspect_proto.h"

static const char *const methods[] = {"GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS",
                                      "CONNECT", "PATCH", "TRACE", "PROPFIND", NULL};

/* Length of the method token when data starts with a known method and a space. */
static size_t method_len(const uint8_t *data, size_t len)
{
    for (unsigned i = 0; methods[i]; i++) {
        size_t n = strlen(methods[i]);
        if (len > n && memcmp(data, methods[i], n) == 0 && data[n] == ' ')
            return n;
    }
    return 0;
}

int inspect_http_is_request(const uint8_t *data, size_t len)
{
    return method_len(data, len) > 0;
}

int inspect_http_is_response(const uint8_t *data, size_t len)
{
    return len >= 7 && memcmp(data, "HTTP/1.", 7) == 0;
}

/* The line at data[*pos..]: [start, end) without CR LF; *pos past the LF.
 * False when no LF is there yet. */
static bool next_line(const uint8_t *data, size_t len, size_t *pos, size_t *start, size_t *end)
{
    const uint8_t *lf = *pos < len ? memchr(data + *pos, '\n', len - *pos) : NULL;
    if (!lf)
        return false;
    *start = *pos;
    *end = (size_t)(lf - data);
    *pos = *end + 1;
    if (*end > *start && data[*end - 1] == '\r')
        (*end)--;
    return true;
}

static bool header_is(const uint8_t *line, size_t n, const char *name, size_t *val)
{
    size_t k = strlen(name);
    if (n <= k || line[k] != ':' || strncasecmp((const char *)line, name, k) != 0)
        return false;
    size_t v = k + 1;
    while (v < n && (line[v] == ' ' || line[v] == '\t'))
        v++;
    *val = v;
    return true;
}

enum inspect_status inspect_http_request_parse(const uint8_t *data, size_t len, int final,
                                               struct inspect_http *out)
{
    size_t ml = method_len(data, len);
    if (!ml)
        return len < 8 && !final ? INSPECT_NEED_MORE : INSPECT_MALFORMED;
    size_t pos = 0, s, e;
    if (!next_line(data, len, &pos, &s, &e)) {
        if (!final)
            return INSPECT_NEED_MORE;
        e = len;                                     /* cut: take what is there */
        pos = len;
    }
    inspect_copy_text(out->method, sizeof out->method, data, ml);
    size_t t = ml + 1, te = t;
    while (te < e && data[te] != ' ')
        te++;
    inspect_copy_text(out->path, sizeof out->path, data + t, te - t);
    if (e - te < 9 || memcmp(data + te, " HTTP/1.", 8) != 0) {
        if (!final || e != len)
            return INSPECT_MALFORMED;
    }
    out->has_request = 1;
    for (;;) {
        if (!next_line(data, len, &pos, &s, &e)) {
            if (final)
                return INSPECT_PARSED;
            return INSPECT_NEED_MORE;
        }
        if (e == s)
            return INSPECT_PARSED;                   /* the empty line ends the head */
        size_t v;
        if (header_is(data + s, e - s, "Host", &v))
            inspect_copy_text(out->host, sizeof out->host, data + s + v, e - s - v);
        else if (header_is(data + s, e - s, "User-Agent", &v))
            inspect_copy_text(out->user_agent, sizeof out->user_agent, data + s + v, e - s - v);
    }
}

enum inspect_status inspect_http_response_parse(const uint8_t *data, size_t len,
                                                struct inspect_http *out)
{
    if (len < 12)
        return (len < 7 ? memcmp(data, "HTTP/1.", len) == 0 : inspect_http_is_response(data, len))
                   ? INSPECT_NEED_MORE
                   : INSPECT_MALFORMED;
    if (!inspect_http_is_response(data, len) || data[8] != ' ')
        return INSPECT_MALFORMED;
    unsigned code = 0;
    for (int i = 9; i < 12; i++) {
        if (data[i] < '0' || data[i] > '9')
            return INSPECT_MALFORMED;
        code = code * 10 + (unsigned)(data[i] - '0');
    }
    if (code < 100)
        return INSPECT_MALFORMED;
    out->status = (uint16_t)code;
    out->has_response = 1;
    return INSPECT_PARSED;
}

enum inspect_status inspect_ssh_banner_parse(const uint8_t *data, size_t len, char *out,
                                             size_t outcap)
{
    size_t pos = 0, s, e;
    for (;;) {
        size_t rest = len - pos;
        size_t cmp = rest < 4 ? rest : 4;
        bool ssh = memcmp(data + pos, "SSH-", cmp) == 0;
        if (!next_line(data, len, &pos, &s, &e)) {
            if (rest > 255)
                return INSPECT_MALFORMED;
            /* before a whole line: a non-"SSH-" start may still be a preamble line */
            return INSPECT_NEED_MORE;
        }
        if (e - s > 255)
            return INSPECT_MALFORMED;
        if (ssh && e - s >= 4) {
            inspect_copy_text(out, outcap, data + s, e - s);
            return INSPECT_PARSED;
        }
    }
}
