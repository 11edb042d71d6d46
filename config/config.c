/*
 * config.c — read, check and hold the sensor's settings.
 *
 * The sensor is configured the way go-Tracer was, by AGENT_* environment
 * variables, and each variable also has a command-line flag. This file turns
 * argv and envp into one immutable struct config before any thread starts, so
 * that no other module has to parse, default or validate anything. It checks
 * every value (numbers and their ranges, the interface, the pcap file, the URL,
 * the BPF filter, secret files, the spool directory) and reports all problems
 * at once, one line each, naming the variable (or flag), the value and the rule.
 * Secrets (the auth token and the HMAC key) are never echoed: a message about
 * them shows "<redacted>" or the file's path. The URL is echoed without its
 * user info, query and fragment.
 *
 * Precedence: flag > environment variable > default. An empty value (of a
 * variable or a flag) means "unset", so `--endpoint-url=` returns to the
 * default even when AGENT_ENDPOINT_URL is set. A secret and its _FILE variant
 * are one setting: if either flag is given, both variables are ignored.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE 1 /* explicit_bzero, gethostname */
#endif

#include "config/config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <pcap/pcap.h>

/* ------------------------------------------------------------------------ */
/* The settings table: names, defaults and rules (also the --help text).    */

enum setting_id {
    S_INTERFACE, S_PCAP_FILE, S_BPF_FILTER, S_SNAP_LEN, S_PROMISCUOUS, S_PCAP_BUFFER_MB,
    S_ENDPOINT_URL, S_BATCH_SIZE, S_SEND_INTERVAL, S_AUTH_TOKEN, S_AUTH_TOKEN_FILE,
    S_HMAC_KEY, S_HMAC_KEY_FILE, S_SPOOL_DIR, S_SPOOL_MAX_MB,
    S_TCP_IDLE_TIMEOUT, S_UDP_IDLE_TIMEOUT, S_IDLE_TIMEOUT, S_ACTIVE_TIMEOUT, S_MAX_FLOWS,
    S_VLAN_IN_KEY,
    S_COMMUNITY_ID_SEED, S_PACKET_RING_SLOTS, S_EVENT_RING_SLOTS,
    S_RETRY_BASE, S_RETRY_MAX, S_CONNECT_TIMEOUT, S_REQUEST_TIMEOUT, S_QUEUE_MAX_EVENTS,
    S_SPOOL_AFTER, S_SHUTDOWN_TIMEOUT, S_TLS_CA_FILE, S_TLS_CLIENT_CERT, S_TLS_CLIENT_KEY,
    S_TLS_INSECURE, S_COMPRESS, S_STATS_INTERVAL,
    S_SNMP_CONFIG, S_SNMP_CONCURRENCY, S_TRAP_LISTEN, S_TRAP_COMMUNITIES, S_TOPOLOGY_INTERVAL,
    S_METRICS_ADDR,
    S_USER, S_LOG_LEVEL, S_LOG_FORMAT, S_LOG_FILE,
    S_COUNT
};

struct setting {
    const char *var;    /* environment variable */
    const char *flag;   /* command-line flag: var without AGENT_, lower case, '-' for '_' */
    const char *arg;    /* value placeholder in --help */
    const char *deflt;  /* default, as shown by --help */
    const char *rule;   /* accepted values, as shown by --help */
    const char *help;   /* one-line meaning */
    uint32_t    min;    /* numeric settings: inclusive range */
    uint32_t    max;
};

#define KIB 1024u
#define SECRET_FILE_MAX (64u * KIB)           /* token and key files: at most 64 KiB */
#define SEND_INTERVAL_MIN_NS 10000000ull      /* 10 ms */
#define SEND_INTERVAL_MAX_NS 3600000000000ull /* 1 h */
#define ECHO_MAX 200                          /* longest value echoed in a message */

static const char SEND_INTERVAL_RULE[] =
    "must be seconds (e.g. 1 or 0.5) or a duration (e.g. 500ms, 2s) in [10ms, 1h]";

static const struct setting SETTINGS[S_COUNT] = {
    [S_INTERFACE] = { "AGENT_INTERFACE", "--interface", "NAME",
        "first up, non-loopback interface", "existing interface or \"any\"",
        "interface to capture on", 0, 0 },
    [S_PCAP_FILE] = { "AGENT_PCAP_FILE", "--pcap-file", "PATH", "unset (live capture)",
        "readable pcap or pcapng file", "replay this file instead of capturing live", 0, 0 },
    [S_BPF_FILTER] = { "AGENT_BPF_FILTER", "--bpf-filter", "EXPR", "empty (all traffic)",
        "pcap-filter(7) expression", "capture only packets that match", 0, 0 },
    [S_SNAP_LEN] = { "AGENT_SNAP_LEN", "--snap-len", "N", "256", "integer in [64, 262144]",
        "bytes captured of each packet", 64, 262144 },
    [S_PROMISCUOUS] = { "AGENT_PROMISCUOUS", "--promiscuous", "BOOL", "true",
        "true/false, 1/0, yes/no, on/off", "put the interface in promiscuous mode", 0, 0 },
    [S_PCAP_BUFFER_MB] = { "AGENT_PCAP_BUFFER_MB", "--pcap-buffer-mb", "N", "64",
        "integer in [1, 2048]", "kernel capture buffer, MiB", 1, 2048 },
    [S_ENDPOINT_URL] = { "AGENT_ENDPOINT_URL", "--endpoint-url", "URL", "unset (stdout)",
        "http:// or https:// URL with a host", "where events are POSTed (else NDJSON on stdout)",
        0, 0 },
    [S_BATCH_SIZE] = { "AGENT_BATCH_SIZE", "--batch-size", "N", "100", "integer in [1, 10000]",
        "events per POST", 1, 10000 },
    [S_SEND_INTERVAL] = { "AGENT_SEND_INTERVAL", "--send-interval", "DUR", "1s",
        "seconds (1, 0.5) or duration (500ms, 2s) in [10ms, 1h]",
        "send a partial batch after this long", 0, 0 },
    [S_AUTH_TOKEN] = { "AGENT_AUTH_TOKEN", "--auth-token", "TOKEN", "none",
        "no control characters", "sent as Authorization: Bearer; never logged", 0, 0 },
    [S_AUTH_TOKEN_FILE] = { "AGENT_AUTH_TOKEN_FILE", "--auth-token-file", "PATH", "none",
        "readable, non-empty, <= 64 KiB", "file holding the token (trailing newline cut)",
        0, 0 },
    [S_HMAC_KEY] = { "AGENT_HMAC_KEY", "--hmac-key", "KEY", "none", "any bytes",
        "sign each POST with HMAC-SHA256; never logged", 0, 0 },
    [S_HMAC_KEY_FILE] = { "AGENT_HMAC_KEY_FILE", "--hmac-key-file", "PATH", "none",
        "readable, non-empty, <= 64 KiB", "file holding the HMAC key (trailing newline cut)",
        0, 0 },
    [S_SPOOL_DIR] = { "AGENT_SPOOL_DIR", "--spool-dir", "DIR", "unset (no spool)",
        "existing writable directory", "keep unsent batches here while the endpoint is down",
        0, 0 },
    [S_SPOOL_MAX_MB] = { "AGENT_SPOOL_MAX_MB", "--spool-max-mb", "N", "256",
        "integer in [1, 1048576]", "spool size cap, MiB", 1, 1048576 },
    [S_RETRY_BASE] = { "AGENT_RETRY_BASE", "--retry-base", "DUR", "500ms",
        "duration in [10ms, 1h]", "first retry delay (doubles, with jitter)", 10, 3600000 },
    [S_RETRY_MAX] = { "AGENT_RETRY_MAX", "--retry-max", "DUR", "30s",
        "duration in [10ms, 1h], >= AGENT_RETRY_BASE", "longest retry delay", 10, 3600000 },
    [S_CONNECT_TIMEOUT] = { "AGENT_CONNECT_TIMEOUT", "--connect-timeout", "DUR", "5s",
        "duration in [10ms, 10m]", "TCP/TLS connect timeout per POST", 10, 600000 },
    [S_REQUEST_TIMEOUT] = { "AGENT_REQUEST_TIMEOUT", "--request-timeout", "DUR", "30s",
        "duration in [10ms, 1h]", "whole-request timeout per POST", 10, 3600000 },
    [S_QUEUE_MAX_EVENTS] = { "AGENT_QUEUE_MAX_EVENTS", "--queue-max-events", "N", "100000",
        "integer in [1, 100000000]", "events held in memory awaiting delivery", 1, 100000000 },
    [S_SPOOL_AFTER] = { "AGENT_SPOOL_AFTER", "--spool-after", "DUR", "5s",
        "duration in [0s, 1h]", "spool a batch not delivered this long after it was made", 0,
        3600000 },
    [S_SHUTDOWN_TIMEOUT] = { "AGENT_SHUTDOWN_TIMEOUT", "--shutdown-timeout", "DUR", "10s",
        "duration in [0s, 1h]", "how long to keep delivering at exit", 0, 3600000 },
    [S_TLS_CA_FILE] = { "AGENT_TLS_CA_FILE", "--tls-ca-file", "PATH", "system CAs",
        "readable file", "CA certificate(s) to verify the endpoint with", 0, 0 },
    [S_TLS_CLIENT_CERT] = { "AGENT_TLS_CLIENT_CERT", "--tls-client-cert", "PATH", "none",
        "readable PEM file", "client certificate for mutual TLS", 0, 0 },
    [S_TLS_CLIENT_KEY] = { "AGENT_TLS_CLIENT_KEY", "--tls-client-key", "PATH", "none",
        "readable PEM file; needs AGENT_TLS_CLIENT_CERT", "client private key for mutual TLS", 0,
        0 },
    [S_TLS_INSECURE] = { "AGENT_TLS_INSECURE", "--tls-insecure", "BOOL", "false",
        "true/false", "skip certificate and host verification (warned)", 0, 0 },
    [S_COMPRESS] = { "AGENT_COMPRESS", "--compress", "ALG", "none", "none or gzip",
        "compress POST bodies (Content-Encoding)", 0, 0 },
    [S_STATS_INTERVAL] = { "AGENT_STATS_INTERVAL", "--stats-interval", "DUR", "60s",
        "duration in [0s, 1d]; 0 = off", "period of the \"sensor\" stats event", 0, 86400000 },
    [S_TCP_IDLE_TIMEOUT] = { "AGENT_TCP_IDLE_TIMEOUT", "--tcp-idle-timeout", "SECS", "60",
        "integer in [1, 86400]", "end a TCP flow idle this long", 1, 86400 },
    [S_UDP_IDLE_TIMEOUT] = { "AGENT_UDP_IDLE_TIMEOUT", "--udp-idle-timeout", "SECS", "30",
        "integer in [1, 86400]", "end a UDP flow idle this long", 1, 86400 },
    [S_IDLE_TIMEOUT] = { "AGENT_IDLE_TIMEOUT", "--idle-timeout", "SECS", "30",
        "integer in [1, 86400]", "end another flow idle this long", 1, 86400 },
    [S_ACTIVE_TIMEOUT] = { "AGENT_ACTIVE_TIMEOUT", "--active-timeout", "SECS", "300",
        "integer in [1, 604800]", "interim record for flows longer than this", 1, 604800 },
    [S_MAX_FLOWS] = { "AGENT_MAX_FLOWS", "--max-flows", "N", "1000000",
        "integer in [1, 100000000]", "flow table cap; the oldest flow is evicted", 1,
        100000000 },
    [S_VLAN_IN_KEY] = { "AGENT_VLAN_IN_KEY", "--vlan-in-key", "BOOL", "true",
        "true/false, 1/0, yes/no, on/off",
        "the VLAN id is part of the flow key", 0, 0 },
    [S_COMMUNITY_ID_SEED] = { "AGENT_COMMUNITY_ID_SEED", "--community-id-seed", "N", "0",
        "integer in [0, 65535]", "Community ID hash seed", 0, 65535 },
    [S_PACKET_RING_SLOTS] = { "AGENT_PACKET_RING_SLOTS", "--packet-ring-slots", "N", "65536",
        "power of two in [1024, 4194304]", "capture -> processor ring size", 1024, 4194304 },
    [S_EVENT_RING_SLOTS] = { "AGENT_EVENT_RING_SLOTS", "--event-ring-slots", "N", "16384",
        "power of two in [1024, 4194304]", "processor -> sender ring size", 1024, 4194304 },
    [S_SNMP_CONFIG] = { "AGENT_SNMP_CONFIG", "--snmp-config", "PATH", "unset (no polling)",
        "readable JSON file", "SNMP targets to poll and trap users (see README)", 0, 0 },
    [S_SNMP_CONCURRENCY] = { "AGENT_SNMP_CONCURRENCY", "--snmp-concurrency", "N", "4",
        "integer in [1, 64]", "SNMP targets polled at the same time", 1, 64 },
    [S_TRAP_LISTEN] = { "AGENT_TRAP_LISTEN", "--trap-listen", "ADDR", "unset (no listener)",
        "HOST:PORT or [IPV6]:PORT, port in [1, 65535]", "where to receive SNMP traps", 0, 0 },
    [S_TRAP_COMMUNITIES] = { "AGENT_TRAP_COMMUNITIES", "--trap-communities", "LIST",
        "empty (any)", "comma-separated communities", "v1/v2c trap communities accepted", 0, 0 },
    [S_TOPOLOGY_INTERVAL] = { "AGENT_TOPOLOGY_INTERVAL", "--topology-interval", "SECS", "30",
        "integer in [0, 86400]; 0 = off", "host topology snapshot period", 0, 86400 },
    [S_METRICS_ADDR] = { "AGENT_METRICS_ADDR", "--metrics-addr", "ADDR", "unset (off)",
        "HOST:PORT, [IPV6]:PORT or :PORT (every address)",
        "serve Prometheus /metrics and /healthz here", 0, 0 },
    [S_USER] = { "AGENT_USER", "--user", "NAME", "nobody",
        "existing user; root keeps root", "run as this user once set up (when started as root)", 0,
        0 },
    [S_LOG_LEVEL] = { "LOG_LEVEL", "--log-level", "LEVEL", "info",
        "error, warn, info or debug", "least severe messages logged", 0, 0 },
    [S_LOG_FORMAT] = { "LOG_FORMAT", "--log-format", "FORMAT", "logfmt",
        "logfmt or json", "format of the log lines on stderr", 0, 0 },
    [S_LOG_FILE] = { "AGENT_LOG_FILE", "--log-file", "PATH", "unset (stderr)",
        "a file path (created 0600, appended)", "write log lines here; SIGHUP reopens it", 0,
        0 },
};

/* Sections of --help: the first setting of each. */
static const struct { enum setting_id first; const char *title; } SECTIONS[] = {
    { S_INTERFACE, "Capture" },
    { S_ENDPOINT_URL, "Output" },
    { S_RETRY_BASE, "Delivery" },
    { S_TCP_IDLE_TIMEOUT, "Flows" },
    { S_PACKET_RING_SLOTS, "Pipeline" },
    { S_SNMP_CONFIG, "Hooks" },
    { S_METRICS_ADDR, "Monitoring" },
    { S_USER, "Logging and privileges" },
};

/* ------------------------------------------------------------------------ */
/* Collected error messages.                                                */

struct errs {
    char  *text;   /* lines joined by '\n', NUL-terminated; heap */
    size_t len;
    size_t cap;
    int    n;      /* problems found (also those whose text could not be kept) */
    bool   oom;    /* an allocation failed somewhere */
};

static void errs_add(struct errs *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void errs_add(struct errs *e, const char *fmt, ...)
{
    e->n++;
    va_list ap;
    va_start(ap, fmt);
    int l = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (l < 0)
        return;
    size_t need = e->len + (e->len ? 1 : 0) + (size_t)l + 1;
    if (need > e->cap) {
        size_t cap = e->cap ? e->cap : 256;
        while (cap < need)
            cap *= 2;
        char *t = realloc(e->text, cap);
        if (!t) {
            e->oom = true;
            return;
        }
        e->text = t;
        e->cap = cap;
    }
    if (e->len)
        e->text[e->len++] = '\n';
    va_start(ap, fmt);
    vsnprintf(e->text + e->len, e->cap - e->len, fmt, ap);
    va_end(ap);
    e->len += (size_t)l;
}

/* Appends `s` to buf[*used..len) as far as it fits; keeps buf NUL-terminated. */
static void buf_put(char *buf, size_t len, size_t *used, const char *s, size_t n)
{
    if (*used + 1 >= len)
        return;
    size_t room = len - 1 - *used;
    if (n > room)
        n = room;
    memcpy(buf + *used, s, n);
    *used += n;
    buf[*used] = '\0';
}

/*
 * Copies the messages into the caller's buffer. When they do not all fit, keeps
 * as many whole lines as leave room for a last line "...".
 */
static void errs_render(const struct errs *e, char *buf, size_t len)
{
    if (!buf || len == 0)
        return;
    buf[0] = '\0';
    const char *oom = e->oom ? "out of memory" : NULL;
    size_t total = e->len + (oom ? (e->len ? 1 : 0) + strlen(oom) : 0);
    size_t used = 0;
    if (total < len) {
        if (e->len)
            buf_put(buf, len, &used, e->text, e->len);
        if (oom) {
            if (used)
                buf_put(buf, len, &used, "\n", 1);
            buf_put(buf, len, &used, oom, strlen(oom));
        }
        return;
    }
    const char *p = e->text ? e->text : "";
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        size_t sep = used ? 1 : 0;
        if (used + sep + l + 4 + 1 > len) /* 4 = "\n..." */
            break;
        buf_put(buf, len, &used, "\n", sep);
        buf_put(buf, len, &used, p, l);
        p = nl ? nl + 1 : p + l;
    }
    if (used)
        buf_put(buf, len, &used, "\n...", 4);
    else
        buf_put(buf, len, &used, "...", 3);
}

/* ------------------------------------------------------------------------ */
/* Loader state: where each raw value came from.                            */

struct loader {
    const char *val[S_COUNT];   /* effective raw value; NULL = unset */
    bool        from_flag[S_COUNT];
    const char *flag_val[S_COUNT];
    bool        flag_seen[S_COUNT];
    struct config *cfg;
    struct errs    errs;
    bool           man;         /* --man seen */
};

/* The name a message uses for a setting: its flag or its variable. */
static const char *label(const struct loader *ld, enum setting_id id)
{
    return ld->from_flag[id] ? SETTINGS[id].flag : SETTINGS[id].var;
}

/*
 * A printable, bounded copy of a user-supplied value for a message: control
 * bytes become '?', so one message stays one line, and long values are cut.
 */
static void echo(char *out, size_t outlen, const char *v)
{
    size_t n = 0;
    for (; v[n] && n < ECHO_MAX && n + 1 < outlen; n++) {
        unsigned char c = (unsigned char)v[n];
        out[n] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
    }
    out[n] = '\0';
    if (v[n] && outlen > ECHO_MAX + 4)
        memcpy(out + n, "...", 4);
}

/* "<label>=<value>: <rule>" */
static void err_value(struct loader *ld, enum setting_id id, const char *v, const char *rule)
{
    char shown[ECHO_MAX + 8];
    echo(shown, sizeof shown, v);
    errs_add(&ld->errs, "%s=%s: %s", label(ld, id), shown, rule);
}

static char *dup_or_oom(struct loader *ld, const char *s)
{
    char *d = strdup(s);
    if (!d)
        ld->errs.oom = true;
    return d;
}

/* ------------------------------------------------------------------------ */
/* Value parsers.                                                           */

/* Unsigned decimal: digits only (no sign, no spaces, no junk), fits in range. */
static bool parse_uint(const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
    if (!isdigit((unsigned char)v[0]))
        return false;
    errno = 0;
    char *end = NULL;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0')
        return false;
    if (x < min || x > max)
        return false;
    *out = x;
    return true;
}

static void load_u32(struct loader *ld, enum setting_id id, uint32_t *out)
{
    const char *v = ld->val[id];
    if (!v)
        return;
    const struct setting *s = &SETTINGS[id];
    uint64_t x;
    if (!parse_uint(v, s->min, s->max, &x)) {
        char rule[96];
        snprintf(rule, sizeof rule, "must be an integer in [%u, %u]", (unsigned)s->min,
                 (unsigned)s->max);
        err_value(ld, id, v, rule);
        return;
    }
    *out = (uint32_t)x;
}

static void load_pow2(struct loader *ld, enum setting_id id, uint32_t *out)
{
    const char *v = ld->val[id];
    if (!v)
        return;
    const struct setting *s = &SETTINGS[id];
    uint64_t x;
    if (!parse_uint(v, s->min, s->max, &x) || (x & (x - 1)) != 0) {
        char rule[96];
        snprintf(rule, sizeof rule, "must be a power of two in [%u, %u]", (unsigned)s->min,
                 (unsigned)s->max);
        err_value(ld, id, v, rule);
        return;
    }
    *out = (uint32_t)x;
}

static void load_bool(struct loader *ld, enum setting_id id, bool *out)
{
    static const char *const yes[] = { "true", "1", "yes", "on" };
    static const char *const no[] = { "false", "0", "no", "off" };
    const char *v = ld->val[id];
    if (!v)
        return;
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(v, yes[i]) == 0) {
            *out = true;
            return;
        }
        if (strcasecmp(v, no[i]) == 0) {
            *out = false;
            return;
        }
    }
    err_value(ld, id, v, "must be true or false");
}

/*
 * A time span in nanoseconds: either a plain decimal number of seconds ("1",
 * "0.5") or a Go duration ("500ms", "1m30s", "1.5h"; units ns, us, µs, ms, s,
 * m, h). No sign. Values past ~2 h saturate (they are out of range anyway).
 */
static bool parse_duration_ns(const char *v, uint64_t *out)
{
    static const struct { const char *name; uint64_t ns; } units[] = {
        { "ns", 1ull }, { "us", 1000ull }, { "\xc2\xb5s", 1000ull }, /* U+00B5 micro sign */
        { "\xce\xbcs", 1000ull },                                     /* U+03BC mu */
        { "ms", 1000000ull }, { "s", 1000000000ull }, { "m", 60000000000ull },
        { "h", 3600000000000ull },
    };
    const uint64_t cap = 2 * SEND_INTERVAL_MAX_NS; /* saturation point */
    const char *p = v;
    uint64_t total = 0;
    int parts = 0;

    if (*p == '\0')
        return false;
    while (*p) {
        /* number: digits, optionally '.' and more digits; at least one digit */
        uint64_t whole = 0, frac = 0, scale = 1;
        bool digits = false, big = false;
        while (isdigit((unsigned char)*p)) {
            if (whole > (UINT64_MAX - 9) / 10)
                big = true;
            else
                whole = whole * 10 + (uint64_t)(*p - '0');
            digits = true;
            p++;
        }
        if (*p == '.') {
            p++;
            while (isdigit((unsigned char)*p)) {
                if (scale < 1000000000ull) { /* finer than 1e-9 unit is dropped */
                    frac = frac * 10 + (uint64_t)(*p - '0');
                    scale *= 10;
                }
                digits = true;
                p++;
            }
        }
        if (!digits)
            return false;

        /* unit: the run of characters up to the next digit or '.' */
        const char *u = p;
        while (*p && !isdigit((unsigned char)*p) && *p != '.')
            p++;
        size_t ulen = (size_t)(p - u);
        uint64_t unit = 0;
        if (ulen == 0) {
            /* a bare number is seconds, and only as the whole value */
            if (parts != 0 || *p != '\0')
                return false;
            unit = 1000000000ull;
        } else {
            for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
                if (strlen(units[i].name) == ulen && memcmp(units[i].name, u, ulen) == 0) {
                    unit = units[i].ns;
                    break;
                }
            }
            if (unit == 0)
                return false;
        }
        parts++;

        /* whole * unit + frac / scale * unit, exact in integers, saturating */
        uint64_t part;
        if (big || whole > cap / unit)
            part = cap;
        else
            part = whole * unit + (unit / scale) * frac + (unit % scale) * frac / scale;
        if (part > cap)
            part = cap;
        total = (total > cap - part) ? cap : total + part;
    }
    *out = total;
    return true;
}

/* "10ms", "1s", "5m", "1h", "1d" for a rule text. */
static void fmt_ms(uint32_t ms, char *buf, size_t len)
{
    if (ms == 0)
        snprintf(buf, len, "0s");
    else if (ms % 86400000u == 0)
        snprintf(buf, len, "%ud", ms / 86400000u);
    else if (ms % 3600000u == 0)
        snprintf(buf, len, "%uh", ms / 3600000u);
    else if (ms % 60000u == 0)
        snprintf(buf, len, "%um", ms / 60000u);
    else if (ms % 1000u == 0)
        snprintf(buf, len, "%us", ms / 1000u);
    else
        snprintf(buf, len, "%ums", ms);
}

/* A duration setting (seconds or Go duration) in the table's [min, max] ms. */
static void load_duration_ms(struct loader *ld, enum setting_id id, uint32_t *out_ms)
{
    const char *v = ld->val[id];
    if (!v)
        return;
    uint64_t ns;
    const struct setting *st = &SETTINGS[id];
    if (!parse_duration_ns(v, &ns) || ns < (uint64_t)st->min * 1000000ull ||
        ns > (uint64_t)st->max * 1000000ull) {
        char lo[16], hi[16], rule[160];
        fmt_ms(st->min, lo, sizeof lo);
        fmt_ms(st->max, hi, sizeof hi);
        snprintf(rule, sizeof rule,
                 "must be seconds (e.g. 1 or 0.5) or a duration (e.g. 500ms, 2s) in [%s, %s]", lo, hi);
        err_value(ld, id, v, rule);
        return;
    }
    *out_ms = (uint32_t)(ns / 1000000ull);
}

static void load_readable_file(struct loader *ld, enum setting_id id, char **out)
{
    const char *v = ld->val[id];
    if (!v)
        return;
    struct stat st;
    if (stat(v, &st) != 0 || !S_ISREG(st.st_mode) || access(v, R_OK) != 0) {
        err_value(ld, id, v, "must be a readable file");
        return;
    }
    *out = dup_or_oom(ld, v);
}

static void load_delivery(struct loader *ld)
{
    struct config *cfg = ld->cfg;
    load_duration_ms(ld, S_RETRY_BASE, &cfg->retry_base_ms);
    load_duration_ms(ld, S_RETRY_MAX, &cfg->retry_max_ms);
    if (cfg->retry_max_ms < cfg->retry_base_ms) {
        char rule[96];
        snprintf(rule, sizeof rule, "must not be less than AGENT_RETRY_BASE (%u ms)", cfg->retry_base_ms);
        char val[24];
        snprintf(val, sizeof val, "%ums", cfg->retry_max_ms);
        err_value(ld, S_RETRY_MAX, ld->val[S_RETRY_MAX] ? ld->val[S_RETRY_MAX] : val, rule);
    }
    load_duration_ms(ld, S_CONNECT_TIMEOUT, &cfg->connect_timeout_ms);
    load_duration_ms(ld, S_REQUEST_TIMEOUT, &cfg->request_timeout_ms);
    load_u32(ld, S_QUEUE_MAX_EVENTS, &cfg->queue_max_events);
    load_duration_ms(ld, S_SPOOL_AFTER, &cfg->spool_after_ms);
    load_duration_ms(ld, S_SHUTDOWN_TIMEOUT, &cfg->shutdown_timeout_ms);
    load_readable_file(ld, S_TLS_CA_FILE, &cfg->tls_ca_file);
    load_readable_file(ld, S_TLS_CLIENT_CERT, &cfg->tls_client_cert);
    load_readable_file(ld, S_TLS_CLIENT_KEY, &cfg->tls_client_key);
    if (ld->val[S_TLS_CLIENT_KEY] && !ld->val[S_TLS_CLIENT_CERT])
        err_value(ld, S_TLS_CLIENT_KEY, ld->val[S_TLS_CLIENT_KEY], "needs AGENT_TLS_CLIENT_CERT too");
    load_bool(ld, S_TLS_INSECURE, &cfg->tls_insecure);
    const char *v = ld->val[S_COMPRESS];
    if (v) {
        if (strcasecmp(v, "gzip") == 0)
            cfg->compress_gzip = true;
        else if (strcasecmp(v, "none") != 0)
            err_value(ld, S_COMPRESS, v, "must be none or gzip");
    }
    load_duration_ms(ld, S_STATS_INTERVAL, &cfg->stats_interval_ms);
}

static void load_send_interval(struct loader *ld, uint32_t *out_ms)
{
    const char *v = ld->val[S_SEND_INTERVAL];
    if (!v)
        return;
    uint64_t ns;
    if (!parse_duration_ns(v, &ns) || ns < SEND_INTERVAL_MIN_NS || ns > SEND_INTERVAL_MAX_NS) {
        err_value(ld, S_SEND_INTERVAL, v, SEND_INTERVAL_RULE);
        return;
    }
    *out_ms = (uint32_t)(ns / 1000000ull);
}

static void load_log_level(struct loader *ld, enum log_level_value *out)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };
    const char *v = ld->val[S_LOG_LEVEL];
    if (!v)
        return;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcasecmp(v, names[i]) == 0) {
            *out = (enum log_level_value)i;
            return;
        }
    }
    err_value(ld, S_LOG_LEVEL, v, "must be one of error, warn, info, debug");
}

static void load_log_format(struct loader *ld, enum log_format_value *out)
{
    const char *v = ld->val[S_LOG_FORMAT];
    if (!v)
        return;
    if (strcasecmp(v, "logfmt") == 0)
        *out = CFG_LOG_LOGFMT;
    else if (strcasecmp(v, "json") == 0)
        *out = CFG_LOG_JSON;
    else
        err_value(ld, S_LOG_FORMAT, v, "must be logfmt or json");
}

/*
 * AGENT_METRICS_ADDR: "HOST:PORT", "[IPV6]:PORT" or ":PORT" (every address),
 * port in [1, 65535]. Only the form is checked here; the metrics server
 * resolves the host when it starts listening.
 */
static void load_metrics_addr(struct loader *ld)
{
    const char *v = ld->val[S_METRICS_ADDR];
    if (!v)
        return;
    const char *port = NULL;
    bool ok = true;
    if (v[0] == '[') {
        const char *close = strstr(v, "]:");
        ok = close && close > v + 1 && !memchr(v + 1, '[', (size_t)(close - v - 1));
        port = ok ? close + 2 : NULL;
    } else {
        const char *colon = strrchr(v, ':');
        ok = colon && !memchr(v, ':', (size_t)(colon - v));
        port = ok ? colon + 1 : NULL;
    }
    uint64_t p = 0;
    for (const char *c = v; ok && *c && (!port || c < port); c++)
        if (isspace((unsigned char)*c) || *c == '/')
            ok = false;
    if (!ok || !port || !parse_uint(port, 1, 65535, &p)) {
        err_value(ld, S_METRICS_ADDR, v, "must be HOST:PORT, [IPV6]:PORT or :PORT with a port in [1, 65535]");
        return;
    }
    ld->cfg->metrics_addr = dup_or_oom(ld, v);
}

/* ------------------------------------------------------------------------ */
/* Capture source: interface, pcap file, BPF filter.                        */

/*
 * The first device pcap lists that is up, not loopback, and a real network
 * interface (if_nametoindex knows it: this skips "any" and the bluetooth, usb,
 * nflog, nfqueue and dbus pseudo-devices). NULL when there is none.
 */
static char *default_interface(struct loader *ld)
{
    char ebuf[PCAP_ERRBUF_SIZE] = "";
    pcap_if_t *all = NULL;
    char *name = NULL;
    if (pcap_findalldevs(&all, ebuf) != 0)
        return NULL;
    for (pcap_if_t *d = all; d; d = d->next) {
        if (!d->name || !(d->flags & PCAP_IF_UP) || (d->flags & PCAP_IF_LOOPBACK))
            continue;
        if (strcmp(d->name, "any") == 0 || if_nametoindex(d->name) == 0)
            continue;
        name = dup_or_oom(ld, d->name);
        break;
    }
    pcap_freealldevs(all);
    return name;
}

static void load_capture(struct loader *ld)
{
    struct config *cfg = ld->cfg;
    const char *ifname = ld->val[S_INTERFACE];
    const char *file = ld->val[S_PCAP_FILE];

    if (ifname) {
        if (strcmp(ifname, "any") != 0 && if_nametoindex(ifname) == 0)
            err_value(ld, S_INTERFACE, ifname, "no such network interface");
        else
            cfg->interface = dup_or_oom(ld, ifname);
    } else if (!file) {
        cfg->interface = default_interface(ld);
        if (!cfg->interface && !ld->errs.oom)
            errs_add(&ld->errs, "%s: not set and no up, non-loopback interface found",
                     SETTINGS[S_INTERFACE].var);
    }

    if (file && strcmp(file, "-") == 0) {
        /* Standard input: reading its header here would leave nothing for the
         * capture; it is checked when the capture opens it. */
        cfg->pcap_file = dup_or_oom(ld, file);
    } else if (file) {
        char ebuf[PCAP_ERRBUF_SIZE] = "";
        pcap_t *p = pcap_open_offline(file, ebuf);
        if (!p) {
            char rule[PCAP_ERRBUF_SIZE + 32];
            char shown[PCAP_ERRBUF_SIZE];
            echo(shown, sizeof shown, ebuf);
            snprintf(rule, sizeof rule, "cannot open: %s", shown);
            err_value(ld, S_PCAP_FILE, file, rule);
        } else {
            pcap_close(p);
            cfg->pcap_file = dup_or_oom(ld, file);
        }
    }

    const char *filter = ld->val[S_BPF_FILTER];
    cfg->bpf_filter = dup_or_oom(ld, filter ? filter : "");
    if (filter) {
        pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
        if (!dead) {
            ld->errs.oom = true;
            return;
        }
        struct bpf_program prog;
        if (pcap_compile(dead, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) != 0) {
            char rule[PCAP_ERRBUF_SIZE + 32];
            char shown[PCAP_ERRBUF_SIZE];
            echo(shown, sizeof shown, pcap_geterr(dead));
            snprintf(rule, sizeof rule, "invalid filter: %s", shown);
            err_value(ld, S_BPF_FILTER, filter, rule);
        } else {
            pcap_freecode(&prog);
        }
        pcap_close(dead);
    }
}

/* ------------------------------------------------------------------------ */
/* Output: URL, secrets, spool.                                             */

/*
 * The URL as a message may show it: without "user:password@", without the
 * query and the fragment. Conservative on purpose: everything up to the last
 * '@' of the authority-and-path is cut, because a password may hold a '/'.
 */
static void url_for_message(char *out, size_t outlen, const char *url)
{
    size_t end = strcspn(url, "?#");
    const char *sep = strstr(url, "://");
    size_t auth = (sep && (size_t)(sep - url) < end) ? (size_t)(sep - url) + 3 : 0;
    size_t at = 0;
    bool has_at = false;
    for (size_t i = auth; i < end; i++) {
        if (url[i] == '@') {
            at = i;
            has_at = true;
        }
    }
    char *tmp = malloc(end + 1);
    if (!tmp) {
        snprintf(out, outlen, "<url>");
        return;
    }
    size_t n = 0;
    memcpy(tmp, url, auth);
    n = auth;
    size_t from = has_at ? at + 1 : auth;
    memcpy(tmp + n, url + from, end - from);
    n += end - from;
    tmp[n] = '\0';
    echo(out, outlen, tmp);
    free(tmp);
}

static void load_endpoint(struct loader *ld)
{
    const char *v = ld->val[S_ENDPOINT_URL];
    if (!v)
        return;
    bool ok = false;
    CURLU *h = curl_url();
    if (!h) {
        ld->errs.oom = true;
        return;
    }
    if (curl_url_set(h, CURLUPART_URL, v, 0) == CURLUE_OK) {
        char *scheme = NULL, *host = NULL;
        if (curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
            curl_url_get(h, CURLUPART_HOST, &host, 0) == CURLUE_OK && host && host[0] &&
            (strcasecmp(scheme, "http") == 0 || strcasecmp(scheme, "https") == 0))
            ok = true;
        curl_free(scheme);
        curl_free(host);
    }
    curl_url_cleanup(h);
    if (!ok) {
        char shown[ECHO_MAX + 8];
        url_for_message(shown, sizeof shown, v);
        errs_add(&ld->errs, "%s=%s: must be an http:// or https:// URL with a host",
                 label(ld, S_ENDPOINT_URL), shown);
        return;
    }
    ld->cfg->endpoint_url = dup_or_oom(ld, v);
}

static bool has_control_chars(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return true;
    }
    return false;
}

/*
 * Reads a secret file (at most SECRET_FILE_MAX bytes), cuts trailing CR/LF and
 * returns it NUL-terminated in *out (heap) with its length. Messages name the
 * path, never the content; buffers that held the content are wiped.
 */
static bool read_secret_file(struct loader *ld, enum setting_id id, const char *path,
                             char **out, size_t *outlen)
{
    char shown[ECHO_MAX + 8];
    echo(shown, sizeof shown, path);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        errs_add(&ld->errs, "%s=%s: cannot read: %s", label(ld, id), shown, strerror(errno));
        return false;
    }
    char *buf = malloc(SECRET_FILE_MAX + 2);
    if (!buf) {
        close(fd);
        ld->errs.oom = true;
        return false;
    }
    size_t n = 0;
    int rerr = 0;
    while (n < SECRET_FILE_MAX + 1) {
        ssize_t r = read(fd, buf + n, SECRET_FILE_MAX + 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rerr = errno;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close(fd);

    bool ok = false;
    if (rerr)
        errs_add(&ld->errs, "%s=%s: cannot read: %s", label(ld, id), shown, strerror(rerr));
    else if (n > SECRET_FILE_MAX)
        errs_add(&ld->errs, "%s=%s: must be at most %u bytes", label(ld, id), shown,
                 SECRET_FILE_MAX);
    else {
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
            n--;
        if (n == 0)
            errs_add(&ld->errs, "%s=%s: must not be empty", label(ld, id), shown);
        else
            ok = true;
    }
    if (!ok) {
        explicit_bzero(buf, SECRET_FILE_MAX + 2);
        free(buf);
        return false;
    }
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, buf, n);
        s[n] = '\0';
    } else {
        ld->errs.oom = true;
    }
    explicit_bzero(buf, SECRET_FILE_MAX + 2);
    free(buf);
    if (!s)
        return false;
    *out = s;
    *outlen = n;
    return true;
}

/*
 * One secret given either directly or by file. `text_only`: the value goes
 * into an HTTP header, so control characters are refused.
 */
static void load_secret(struct loader *ld, enum setting_id direct, enum setting_id file,
                        bool text_only, char **out, size_t *outlen)
{
    const char *v = ld->val[direct];
    const char *path = ld->val[file];
    if (v && path) {
        errs_add(&ld->errs, "%s and %s: set only one", label(ld, direct), label(ld, file));
        return;
    }
    char *s = NULL;
    size_t n = 0;
    if (v) {
        n = strlen(v);
        if (text_only && has_control_chars(v, n)) {
            errs_add(&ld->errs, "%s=<redacted>: must not contain control characters",
                     label(ld, direct));
            return;
        }
        s = malloc(n + 1);
        if (!s) {
            ld->errs.oom = true;
            return;
        }
        memcpy(s, v, n + 1);
    } else if (path) {
        if (!read_secret_file(ld, file, path, &s, &n))
            return;
        if (text_only && has_control_chars(s, n)) {
            char shown[ECHO_MAX + 8];
            echo(shown, sizeof shown, path);
            errs_add(&ld->errs, "%s=%s: must not contain control characters", label(ld, file),
                     shown);
            explicit_bzero(s, n);
            free(s);
            return;
        }
    } else {
        return;
    }
    *out = s;
    if (outlen)
        *outlen = n;
}

static void load_spool_dir(struct loader *ld)
{
    const char *v = ld->val[S_SPOOL_DIR];
    if (!v)
        return;
    struct stat st;
    if (stat(v, &st) != 0 || !S_ISDIR(st.st_mode) || access(v, W_OK | X_OK) != 0) {
        err_value(ld, S_SPOOL_DIR, v, "must be an existing writable directory");
        return;
    }
    ld->cfg->spool_dir = dup_or_oom(ld, v);
}

static void load_hooks(struct loader *ld)
{
    struct config *cfg = ld->cfg;
    const char *v = ld->val[S_SNMP_CONFIG];
    if (v) {
        struct stat st;
        if (stat(v, &st) != 0 || !S_ISREG(st.st_mode) || access(v, R_OK) != 0)
            err_value(ld, S_SNMP_CONFIG, v, "must be a readable file");
        else
            cfg->snmp_config = dup_or_oom(ld, v);
    }
    load_u32(ld, S_SNMP_CONCURRENCY, &cfg->snmp_concurrency);
    v = ld->val[S_TRAP_LISTEN];
    if (v) {
        /* HOST:PORT or [IPV6]:PORT; the trap hook resolves the host. */
        const char *colon = v[0] == '[' ? strstr(v, "]:") : strrchr(v, ':');
        const char *port = colon ? colon + (v[0] == '[' ? 2 : 1) : NULL;
        char *end = NULL;
        errno = 0;
        unsigned long p = port && isdigit((unsigned char)*port) ? strtoul(port, &end, 10) : 0;
        if (!port || colon == v || (v[0] == '[' && colon == v + 1) || errno || !end || *end ||
            p < 1 || p > 65535 || (v[0] != '[' && memchr(v, ':', (size_t)(colon - v))))
            err_value(ld, S_TRAP_LISTEN, v, "must be HOST:PORT or [IPV6]:PORT with a port in [1, 65535]");
        else
            cfg->trap_listen = dup_or_oom(ld, v);
    }
    v = ld->val[S_TRAP_COMMUNITIES];
    if (v)
        cfg->trap_communities = dup_or_oom(ld, v);
    load_u32(ld, S_TOPOLOGY_INTERVAL, &cfg->topology_interval_s);
}

static void load_user_and_log_file(struct loader *ld)
{
    struct config *cfg = ld->cfg;
    const char *v = ld->val[S_USER];
    cfg->user = dup_or_oom(ld, v ? v : "nobody");
    if (v && strcmp(v, "root") != 0 && !getpwnam(v))   /* main thread, before threads */
        err_value(ld, S_USER, v, "no such user");
    v = ld->val[S_LOG_FILE];
    if (v) {
        const char *slash = strrchr(v, '/');
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - v) + (slash == v) : 1, slash ? v : ".");
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || (stat(v, &st) == 0 && !S_ISREG(st.st_mode)))
            err_value(ld, S_LOG_FILE, v, "must be a regular file in an existing directory");
        else
            cfg->log_file = dup_or_oom(ld, v);
    }
}

/* ------------------------------------------------------------------------ */
/* argv and envp.                                                           */

static int find_flag(const char *name, size_t len)
{
    for (int i = 0; i < S_COUNT; i++) {
        const char *f = SETTINGS[i].flag;
        if (strlen(f) == len && memcmp(f, name, len) == 0)
            return i;
    }
    return -1;
}

/*
 * Flags into ld->flag_val. Returns true when -h/--help or -V/--version was
 * seen (the caller then skips everything else, including flag errors).
 * A value for a flag is "--flag=value" or the next argument, unless that
 * argument starts with "--" (then the value is missing: "--flag=--x" passes
 * such a value).
 */
static bool parse_argv(struct loader *ld, int argc, char **argv, bool *help, bool *version)
{
    for (int i = 1; argv && i < argc && argv[i]; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            *help = true;
            continue;
        }
        if (strcmp(a, "-V") == 0 || strcmp(a, "--version") == 0) {
            *version = true;
            continue;
        }
        if (strcmp(a, "--man") == 0) {   /* hidden: the build generates the man page with it */
            ld->man = true;
            continue;
        }
        char shown[ECHO_MAX + 8];
        if (a[0] != '-') {
            echo(shown, sizeof shown, a);
            errs_add(&ld->errs, "%s: unexpected argument (settings are --flag VALUE)", shown);
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        int id = (a[1] == '-') ? find_flag(a, nlen) : -1;
        if (id < 0) {
            char name[ECHO_MAX + 8];
            char *cut = strndup(a, nlen);
            echo(name, sizeof name, cut ? cut : a);
            free(cut);
            errs_add(&ld->errs, "%s: unknown flag (see --help)", name);
            continue;
        }
        const char *v;
        if (eq) {
            v = eq + 1;
        } else if (i + 1 < argc && argv[i + 1] && strncmp(argv[i + 1], "--", 2) != 0) {
            v = argv[++i];
        } else {
            errs_add(&ld->errs, "%s: missing value", SETTINGS[id].flag);
            continue;
        }
        ld->flag_val[id] = v;
        ld->flag_seen[id] = true;
    }
    return *help || *version || ld->man;
}

/* Merges variables (first occurrence, like getenv) under the flags. */
static void merge_env(struct loader *ld, char **envp)
{
    const char *env[S_COUNT] = { 0 };
    for (size_t k = 0; envp && envp[k]; k++) {
        const char *eq = strchr(envp[k], '=');
        if (!eq)
            continue;
        size_t nlen = (size_t)(eq - envp[k]);
        for (int i = 0; i < S_COUNT; i++) {
            if (!env[i] && strlen(SETTINGS[i].var) == nlen &&
                memcmp(SETTINGS[i].var, envp[k], nlen) == 0) {
                env[i] = eq + 1;
                break;
            }
        }
    }
    /* a secret and its file are one setting: a flag for either hides both variables */
    static const enum setting_id pairs[][2] = {
        { S_AUTH_TOKEN, S_AUTH_TOKEN_FILE }, { S_HMAC_KEY, S_HMAC_KEY_FILE },
    };
    for (size_t p = 0; p < sizeof pairs / sizeof pairs[0]; p++) {
        if (ld->flag_seen[pairs[p][0]] || ld->flag_seen[pairs[p][1]]) {
            env[pairs[p][0]] = NULL;
            env[pairs[p][1]] = NULL;
        }
    }
    for (int i = 0; i < S_COUNT; i++) {
        const char *v = ld->flag_seen[i] ? ld->flag_val[i] : env[i];
        ld->from_flag[i] = ld->flag_seen[i];
        ld->val[i] = (v && v[0]) ? v : NULL; /* empty = unset */
    }
}

static void set_defaults(struct config *cfg)
{
    cfg->snap_len = 256;
    cfg->promiscuous = true;
    cfg->pcap_buffer_mb = 64;
    cfg->batch_size = 100;
    cfg->send_interval_ms = 1000;
    cfg->spool_max_mb = 256;
    cfg->tcp_idle_timeout_s = 60;
    cfg->udp_idle_timeout_s = 30;
    cfg->idle_timeout_s = 30;
    cfg->active_timeout_s = 300;
    cfg->max_flows = 1000000;
    cfg->vlan_in_key = true;
    cfg->community_id_seed = 0;
    cfg->packet_ring_slots = 65536;
    cfg->event_ring_slots = 16384;
    cfg->log_level = CFG_LOG_INFO;
    cfg->retry_base_ms = 500;
    cfg->retry_max_ms = 30000;
    cfg->connect_timeout_ms = 5000;
    cfg->request_timeout_ms = 30000;
    cfg->queue_max_events = 100000;
    cfg->spool_after_ms = 5000;
    cfg->shutdown_timeout_ms = 10000;
    cfg->stats_interval_ms = 60000;
    cfg->snmp_concurrency = 4;
    cfg->topology_interval_s = 30;
}

static void load_hostname(struct loader *ld)
{
    char name[HOST_NAME_MAX + 1];
    if (gethostname(name, sizeof name) != 0 || name[0] == '\0')
        snprintf(name, sizeof name, "unknown");
    name[sizeof name - 1] = '\0';
    ld->cfg->hostname = dup_or_oom(ld, name);
}

static void finish(struct loader *ld, char *errbuf, size_t errlen, int *nerr)
{
    if (ld->errs.oom && ld->errs.n == 0)
        ld->errs.n = 1; /* "out of memory" is the one problem */
    if (nerr)
        *nerr = ld->errs.n;
    if (errbuf && errlen)
        errbuf[0] = '\0';
    if (ld->errs.n)
        errs_render(&ld->errs, errbuf, errlen);
    free(ld->errs.text);
}

struct config *config_load(int argc, char **argv, char **envp,
                           char *errbuf, size_t errlen, int *nerr)
{
    struct loader ld;
    memset(&ld, 0, sizeof ld);
    ld.cfg = calloc(1, sizeof *ld.cfg);
    if (!ld.cfg) {
        ld.errs.oom = true;
        finish(&ld, errbuf, errlen, nerr);
        return NULL;
    }
    struct config *cfg = ld.cfg;
    set_defaults(cfg);

    bool help = false, version = false;
    if (parse_argv(&ld, argc, argv, &help, &version)) {
        /* main prints help or version and exits: nothing else matters */
        cfg->show_help = help;
        cfg->show_version = version;
        cfg->show_man = ld.man;
        ld.errs.n = 0;
        ld.errs.oom = false;
        finish(&ld, errbuf, errlen, nerr);
        return cfg;
    }
    merge_env(&ld, envp);

    load_capture(&ld);
    load_u32(&ld, S_SNAP_LEN, &cfg->snap_len);
    load_bool(&ld, S_PROMISCUOUS, &cfg->promiscuous);
    load_u32(&ld, S_PCAP_BUFFER_MB, &cfg->pcap_buffer_mb);

    load_endpoint(&ld);
    load_u32(&ld, S_BATCH_SIZE, &cfg->batch_size);
    load_send_interval(&ld, &cfg->send_interval_ms);
    load_secret(&ld, S_AUTH_TOKEN, S_AUTH_TOKEN_FILE, true, &cfg->auth_token, NULL);
    if (cfg->auth_token && ld.val[S_AUTH_TOKEN_FILE])
        cfg->auth_token_file = dup_or_oom(&ld, ld.val[S_AUTH_TOKEN_FILE]);
    load_secret(&ld, S_HMAC_KEY, S_HMAC_KEY_FILE, false, &cfg->hmac_key, &cfg->hmac_key_len);
    if (cfg->hmac_key && ld.val[S_HMAC_KEY_FILE])
        cfg->hmac_key_file = dup_or_oom(&ld, ld.val[S_HMAC_KEY_FILE]);
    load_spool_dir(&ld);
    load_u32(&ld, S_SPOOL_MAX_MB, &cfg->spool_max_mb);
    load_delivery(&ld);

    load_u32(&ld, S_TCP_IDLE_TIMEOUT, &cfg->tcp_idle_timeout_s);
    load_u32(&ld, S_UDP_IDLE_TIMEOUT, &cfg->udp_idle_timeout_s);
    load_u32(&ld, S_IDLE_TIMEOUT, &cfg->idle_timeout_s);
    load_u32(&ld, S_ACTIVE_TIMEOUT, &cfg->active_timeout_s);
    load_u32(&ld, S_MAX_FLOWS, &cfg->max_flows);
    load_bool(&ld, S_VLAN_IN_KEY, &cfg->vlan_in_key);
    uint32_t seed = cfg->community_id_seed;
    load_u32(&ld, S_COMMUNITY_ID_SEED, &seed);
    cfg->community_id_seed = (uint16_t)seed; /* range-checked to [0, 65535] */

    load_pow2(&ld, S_PACKET_RING_SLOTS, &cfg->packet_ring_slots);
    load_pow2(&ld, S_EVENT_RING_SLOTS, &cfg->event_ring_slots);

    load_hooks(&ld);
    load_metrics_addr(&ld);
    load_log_level(&ld, &cfg->log_level);
    load_log_format(&ld, &cfg->log_format);
    load_user_and_log_file(&ld);
    load_hostname(&ld);

    bool failed = ld.errs.n > 0 || ld.errs.oom;
    finish(&ld, errbuf, errlen, nerr);
    if (failed) {
        config_destroy(cfg);
        return NULL;
    }
    return cfg;
}

const char *config_source_name(const struct config *cfg)
{
    if (cfg->interface || !cfg->pcap_file)
        return cfg->interface ? cfg->interface : "";
    const char *slash = strrchr(cfg->pcap_file, '/');
    return slash ? slash + 1 : cfg->pcap_file;
}

void config_destroy(struct config *cfg)
{
    if (!cfg)
        return;
    if (cfg->auth_token) {
        explicit_bzero(cfg->auth_token, strlen(cfg->auth_token));
        free(cfg->auth_token);
    }
    if (cfg->hmac_key) {
        explicit_bzero(cfg->hmac_key, cfg->hmac_key_len);
        free(cfg->hmac_key);
    }
    free(cfg->auth_token_file);
    free(cfg->hmac_key_file);
    free(cfg->metrics_addr);
    free(cfg->user);
    free(cfg->log_file);
    free(cfg->interface);
    free(cfg->pcap_file);
    free(cfg->bpf_filter);
    free(cfg->endpoint_url);
    free(cfg->spool_dir);
    free(cfg->tls_ca_file);
    free(cfg->tls_client_cert);
    free(cfg->tls_client_key);
    free(cfg->snmp_config);
    free(cfg->trap_listen);
    if (cfg->trap_communities) {
        explicit_bzero(cfg->trap_communities, strlen(cfg->trap_communities));
        free(cfg->trap_communities);
    }
    free(cfg->hostname);
    explicit_bzero(cfg, sizeof *cfg);
    free(cfg);
}

/* ------------------------------------------------------------------------ */
/* --help                                                                   */

/* The paragraph --help and the man page share. */
static const char INTRO[] =
    "Captures packets, folds them into flows and sends each flow as JSON.\n"
    "Every setting is an environment variable and a flag (--flag VALUE or\n"
    "--flag=VALUE); a flag wins over its variable, and an empty value means the\n"
    "default. Secrets are never printed.\n";

void config_print_help(FILE *out)
{
    fprintf(out, "Usage: tracer-sensor [options]\n\n%s\n", INTRO);
    fprintf(out, "  %-27s  show this help and exit\n", "-h, --help");
    fprintf(out, "  %-27s  show the version and exit\n", "-V, --version");
    size_t sec = 0;
    for (int i = 0; i < S_COUNT; i++) {
        const struct setting *s = &SETTINGS[i];
        if (sec < sizeof SECTIONS / sizeof SECTIONS[0] && SECTIONS[sec].first == (enum setting_id)i)
            fprintf(out, "\n%s:\n", SECTIONS[sec++].title);
        char flagarg[64];
        snprintf(flagarg, sizeof flagarg, "%s %s", s->flag, s->arg);
        fprintf(out, "  %-27s  %-24s default: %s\n", flagarg, s->var, s->deflt);
        fprintf(out, "      %s; %s\n", s->rule, s->help);
    }
}

/* ------------------------------------------------------------------------ */
/* tracer-sensor(8)                                                         */

/* Text for roff: '\' and '-' escaped, a leading '.' or '\'' protected. */
static void roff(FILE *out, const char *t)
{
    if (*t == '.' || *t == '\'')
        fputs("\\&", out);
    for (; *t; t++) {
        if (*t == '\\')
            fputs("\\e", out);
        else if (*t == '-')
            fputs("\\-", out);
        else if (*t == '\n')
            fputs("\n", out);
        else
            fputc(*t, out);
    }
}

/* The INTRO paragraph as roff text (its line breaks become spaces). */
static void roff_paragraph(FILE *out, const char *t)
{
    char line[256];
    while (*t) {
        size_t n = strcspn(t, "\n");
        snprintf(line, sizeof line, "%.*s", (int)n, t);
        roff(out, line);
        fputc('\n', out);
        t += n + (t[n] == '\n');
    }
}

void config_print_man(FILE *out, const char *version)
{
    fputs(".\\\" Generated by `tracer-sensor --man` from the settings table in config/config.c;\n"
          ".\\\" edit that table, not this file.\n", out);
    fputs(".TH TRACER\\-SENSOR 8 \"\" \"", out);
    roff(out, version ? version : "");
    fputs("\" \"Tracer Sensor\"\n", out);
    fputs(".SH NAME\ntracer\\-sensor \\- packet\\-capture flow sensor\n"
          ".SH SYNOPSIS\n.B tracer\\-sensor\n[\\fIoptions\\fR]\n"
          ".SH DESCRIPTION\n"
          "\\fBtracer\\-sensor\\fR watches a network interface with libpcap (or replays a\n"
          "pcap/pcapng file), folds packets into bidirectional flows, and ships each\n"
          "finished flow as a JSON FlowEvent to an HTTP endpoint, or as NDJSON on\n"
          "standard output. SNMP polling, SNMP traps and the host's topology are extra\n"
          "event sources sent the same way. Log lines go to standard error.\n.PP\n", out);
    roff_paragraph(out, INTRO);
    fputs(".SH OPTIONS\n"
          ".TP\n.BR \\-h \", \" \\-\\-help\nShow the settings and exit.\n"
          ".TP\n.BR \\-V \", \" \\-\\-version\nShow the version and exit.\n"
          ".SH SETTINGS\n"
          "Each setting is given as its environment variable or its flag.\n", out);
    size_t sec = 0;
    for (int i = 0; i < S_COUNT; i++) {
        const struct setting *s = &SETTINGS[i];
        if (sec < sizeof SECTIONS / sizeof SECTIONS[0] && SECTIONS[sec].first == (enum setting_id)i) {
            fputs(".SS ", out);
            roff(out, SECTIONS[sec++].title);
            fputc('\n', out);
        }
        fputs(".TP\n\\fB", out);
        roff(out, s->var);
        fputs("\\fR, \\fB", out);
        roff(out, s->flag);
        fputs("\\fR \\fI", out);
        roff(out, s->arg);
        fputs("\\fR\n", out);
        char sentence[256];
        snprintf(sentence, sizeof sentence, "%s", s->help);
        sentence[0] = (char)toupper((unsigned char)sentence[0]);
        roff(out, sentence);
        fputs(".\n.br\nAccepted: ", out);
        roff(out, s->rule);
        fputs(".\n.br\nDefault: ", out);
        roff(out, s->deflt);
        fputs(".\n", out);
    }
    fputs(".SH METRICS\n"
          "With \\fBAGENT_METRICS_ADDR\\fR set, \\fBGET /metrics\\fR answers in the Prometheus\n"
          "text format and \\fBGET /healthz\\fR answers 200 while the capture and sender\n"
          "threads run, 503 otherwise.\n"
          ".SH EXIT STATUS\n"
          ".TP\n.B 0\nEvery event reached its output.\n"
          ".TP\n.B 1\nA runtime failure (capture, threads, the metrics listener).\n"
          ".TP\n.B 2\nA configuration problem; each is named on standard error.\n"
          ".TP\n.B 3\nSome events were left in the spool.\n"
          ".TP\n.B 4\nSome events were dropped.\n"
          ".SH SIGNALS\n"
          "\\fBSIGINT\\fR and \\fBSIGTERM\\fR end every open flow, drain the pipeline and\n"
          "flush the sender within \\fBAGENT_SHUTDOWN_TIMEOUT\\fR, then exit.\n"
          ".SH FILES\n"
          ".TP\n.I /etc/tracer\\-sensor/tracer\\-sensor.env\n"
          "The settings, read by the systemd unit \\fItracer\\-sensor.service\\fR.\n"
          ".SH EXAMPLES\n"
          ".nf\n"
          "sudo AGENT_INTERFACE=eth0 AGENT_ENDPOINT_URL=https://ingest.example/flows \\e\n"
          "     AGENT_METRICS_ADDR=127.0.0.1:9108 tracer\\-sensor\n"
          "tracer\\-sensor \\-\\-pcap\\-file capture.pcap > flows.ndjson\n"
          ".fi\n"
          ".SH SEE ALSO\n"
          ".BR pcap\\-filter (7),\n"
          ".BR systemd.exec (5),\n"
          ".BR capabilities (7)\n", out);
}

/* ------------------------------------------------------------------------ */
/* The effective configuration, for the startup line.                       */

size_t config_setting_count(void) { return S_COUNT; }

static void kv_str(struct config_kv *kv, const char *v)
{
    if (!v)
        v = "";
    size_t n = strlen(v);
    if (n < sizeof kv->value) {
        memcpy(kv->value, v, n + 1);
    } else {
        memcpy(kv->value, v, sizeof kv->value - 4);
        memcpy(kv->value + sizeof kv->value - 4, "...", 4);
    }
}

static void kv_u32(struct config_kv *kv, uint32_t v) { snprintf(kv->value, sizeof kv->value, "%u", v); }

/* Whole seconds as "60s", else milliseconds: the form --help shows defaults in. */
static void kv_ms(struct config_kv *kv, uint32_t ms)
{
    if (ms % 1000u == 0)
        snprintf(kv->value, sizeof kv->value, "%us", ms / 1000u);
    else
        snprintf(kv->value, sizeof kv->value, "%ums", ms);
}

static void kv_bool(struct config_kv *kv, bool b) { kv_str(kv, b ? "true" : "false"); }

static void kv_secret(struct config_kv *kv, bool set) { kv_str(kv, set ? "<redacted>" : ""); }

size_t config_describe(const struct config *c, struct config_kv *out, size_t max)
{
    static const char *const levels[] = { "error", "warn", "info", "debug" };
    size_t n = 0;
    for (int i = 0; i < S_COUNT && n < max; i++) {
        struct config_kv *kv = &out[n++];
        kv->var = SETTINGS[i].var;
        kv->value[0] = '\0';
        switch ((enum setting_id)i) {
        case S_INTERFACE: kv_str(kv, c->interface); break;
        case S_PCAP_FILE: kv_str(kv, c->pcap_file); break;
        case S_BPF_FILTER: kv_str(kv, c->bpf_filter); break;
        case S_SNAP_LEN: kv_u32(kv, c->snap_len); break;
        case S_PROMISCUOUS: kv_bool(kv, c->promiscuous); break;
        case S_PCAP_BUFFER_MB: kv_u32(kv, c->pcap_buffer_mb); break;
        case S_ENDPOINT_URL:
            if (c->endpoint_url)
                url_for_message(kv->value, sizeof kv->value, c->endpoint_url);
            break;
        case S_BATCH_SIZE: kv_u32(kv, c->batch_size); break;
        case S_SEND_INTERVAL: kv_ms(kv, c->send_interval_ms); break;
        case S_AUTH_TOKEN: kv_secret(kv, c->auth_token && !c->auth_token_file); break;
        case S_AUTH_TOKEN_FILE: kv_str(kv, c->auth_token_file); break;
        case S_HMAC_KEY: kv_secret(kv, c->hmac_key && !c->hmac_key_file); break;
        case S_HMAC_KEY_FILE: kv_str(kv, c->hmac_key_file); break;
        case S_SPOOL_DIR: kv_str(kv, c->spool_dir); break;
        case S_SPOOL_MAX_MB: kv_u32(kv, c->spool_max_mb); break;
        case S_TCP_IDLE_TIMEOUT: kv_u32(kv, c->tcp_idle_timeout_s); break;
        case S_UDP_IDLE_TIMEOUT: kv_u32(kv, c->udp_idle_timeout_s); break;
        case S_IDLE_TIMEOUT: kv_u32(kv, c->idle_timeout_s); break;
        case S_ACTIVE_TIMEOUT: kv_u32(kv, c->active_timeout_s); break;
        case S_MAX_FLOWS: kv_u32(kv, c->max_flows); break;
        case S_VLAN_IN_KEY: kv_bool(kv, c->vlan_in_key); break;
        case S_COMMUNITY_ID_SEED: kv_u32(kv, c->community_id_seed); break;
        case S_PACKET_RING_SLOTS: kv_u32(kv, c->packet_ring_slots); break;
        case S_EVENT_RING_SLOTS: kv_u32(kv, c->event_ring_slots); break;
        case S_RETRY_BASE: kv_ms(kv, c->retry_base_ms); break;
        case S_RETRY_MAX: kv_ms(kv, c->retry_max_ms); break;
        case S_CONNECT_TIMEOUT: kv_ms(kv, c->connect_timeout_ms); break;
        case S_REQUEST_TIMEOUT: kv_ms(kv, c->request_timeout_ms); break;
        case S_QUEUE_MAX_EVENTS: kv_u32(kv, c->queue_max_events); break;
        case S_SPOOL_AFTER: kv_ms(kv, c->spool_after_ms); break;
        case S_SHUTDOWN_TIMEOUT: kv_ms(kv, c->shutdown_timeout_ms); break;
        case S_USER: kv_str(kv, c->user); break;
        case S_LOG_FILE: kv_str(kv, c->log_file); break;
        case S_TLS_CA_FILE: kv_str(kv, c->tls_ca_file); break;
        case S_TLS_CLIENT_CERT: kv_str(kv, c->tls_client_cert); break;
        case S_TLS_CLIENT_KEY: kv_str(kv, c->tls_client_key); break;
        case S_TLS_INSECURE: kv_bool(kv, c->tls_insecure); break;
        case S_COMPRESS: kv_str(kv, c->compress_gzip ? "gzip" : "none"); break;
        case S_STATS_INTERVAL: kv_ms(kv, c->stats_interval_ms); break;
        case S_SNMP_CONFIG: kv_str(kv, c->snmp_config); break;
        case S_SNMP_CONCURRENCY: kv_u32(kv, c->snmp_concurrency); break;
        case S_TRAP_LISTEN: kv_str(kv, c->trap_listen); break;
        case S_TRAP_COMMUNITIES: kv_secret(kv, c->trap_communities != NULL); break;
        case S_TOPOLOGY_INTERVAL: kv_u32(kv, c->topology_interval_s); break;
        case S_METRICS_ADDR: kv_str(kv, c->metrics_addr); break;
        case S_LOG_LEVEL: kv_str(kv, levels[c->log_level <= CFG_LOG_DEBUG ? c->log_level : CFG_LOG_INFO]); break;
        case S_LOG_FORMAT: kv_str(kv, c->log_format == CFG_LOG_JSON ? "json" : "logfmt"); break;
        case S_COUNT: break;
        }
    }
    return n;
}
