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

#include "common/hostaddr.h"
#include "common/identity.h"

/* ------------------------------------------------------------------------ */
/* The settings table: names, defaults and rules (also the --help text).    */

enum setting_id {
    S_INTERFACE, S_PCAP_FILE, S_BPF_FILTER, S_SNAP_LEN, S_PROMISCUOUS, S_PCAP_BUFFER_MB,
    S_ENDPOINT_URL, S_BATCH_SIZE, S_SEND_INTERVAL, S_AUTH_TOKEN, S_AUTH_TOKEN_FILE,
    S_HTTP_BODY, S_EVENTS_ENDPOINT_URL,
    S_STDOUT, S_KAFKA_BROKERS, S_KAFKA_TOPIC_FLOW, S_KAFKA_TOPIC_EVENTS, S_KAFKA_COMPRESSION,
    S_KAFKA_SECURITY_PROTOCOL, S_KAFKA_SSL_CA_FILE, S_KAFKA_SASL_MECHANISM, S_KAFKA_SASL_USERNAME,
    S_KAFKA_SASL_PASSWORD_FILE, S_KAFKA_QUEUE_MAX_EVENTS, S_KAFKA_DELIVERY_TIMEOUT,
    S_HMAC_KEY, S_HMAC_KEY_FILE, S_SPOOL_DIR, S_SPOOL_MAX_MB,
    S_TCP_IDLE_TIMEOUT, S_UDP_IDLE_TIMEOUT, S_IDLE_TIMEOUT, S_ACTIVE_TIMEOUT, S_MAX_FLOWS,
    S_VLAN_IN_KEY,
    S_DECAP,
    S_FLOW_STATS, S_EARLY_PACKETS, S_TCP_HEALTH, S_PROCESS_INFO,
    S_COMMUNITY_ID_SEED, S_PACKET_RING_SLOTS, S_EVENT_RING_SLOTS,
    S_LOCAL_NETWORKS,
    S_RETRY_BASE, S_RETRY_MAX, S_CONNECT_TIMEOUT, S_REQUEST_TIMEOUT, S_QUEUE_MAX_EVENTS,
    S_SPOOL_AFTER, S_SHUTDOWN_TIMEOUT, S_TLS_CA_FILE, S_TLS_CLIENT_CERT, S_TLS_CLIENT_KEY,
    S_TLS_INSECURE, S_COMPRESS, S_STATS_INTERVAL,
    S_HTTP_CONNECTIONS, S_RETRY_MAX_ATTEMPTS, S_QUEUE_MAX_MB,
    S_SNMP_CONFIG, S_SNMP_CONCURRENCY, S_TRAP_LISTEN, S_TRAP_COMMUNITIES, S_TOPOLOGY_INTERVAL,
    S_PING_CONFIG, S_PING_SOCKET,
    S_METRICS_ADDR,
    S_API_ADDR, S_API_KEY_FILE, S_API_TLS_CERT, S_API_TLS_KEY, S_API_JOB_RETENTION, S_API_MAX_JOBS, S_API_MAX_QUEUED,
    S_IPFIX_COLLECTOR, S_IPFIX_PROTOCOL, S_IPFIX_TEMPLATE_REFRESH, S_IPFIX_DOMAIN_ID, S_IPFIX_TIME_PRECISION,
    S_USER, S_LOG_LEVEL, S_LOG_FORMAT, S_LOG_FILE,
    S_SECCOMP,
    S_STATE_DIR, S_SENSOR_ID,
    S_DPI, S_DPI_FLOWS,
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
#define DURATION_CAP_NS 86400000000000000ull /* 1000 days: parse_duration_ns saturates here */
#define ECHO_MAX 200                          /* longest value echoed in a message */

static const struct setting SETTINGS[S_COUNT] = {
    [S_INTERFACE] = { "AGENT_INTERFACE", "--interface", "NAME[,NAME...]",
        "first up, non-loopback interface",
        "existing interface, a list of up to 16 (eth0,eth1), or \"any\"",
        "interface(s) to capture on", 0, 0 },
    [S_PCAP_FILE] = { "AGENT_PCAP_FILE", "--pcap-file", "PATH", "unset (live capture)",
        "readable pcap or pcapng file", "replay this file instead of capturing live", 0, 0 },
    [S_BPF_FILTER] = { "AGENT_BPF_FILTER", "--bpf-filter", "EXPR", "empty (all traffic)",
        "pcap-filter(7) expression", "capture only packets that match", 0, 0 },
    [S_SNAP_LEN] = { "AGENT_SNAP_LEN", "--snap-len", "N", "256 (2048 with AGENT_DPI)", "integer in [64, 262144]",
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
    [S_HTTP_BODY] = { "AGENT_HTTP_BODY", "--http-body", "FORMAT", "object",
        "object, array or ndjson",
        "POST body: one event (go-Tracer's), or batches as array / NDJSON", 0, 0 },
    [S_EVENTS_ENDPOINT_URL] = { "AGENT_EVENTS_ENDPOINT_URL", "--events-endpoint-url", "URL",
        "unset (flows only)", "http(s) URL; needs AGENT_ENDPOINT_URL",
        "where non-flow events (sensor, topology, snmp, trap) go", 0, 0 },
    [S_STDOUT] = { "AGENT_STDOUT", "--stdout", "BOOL", "false",
        "true/false, 1/0, yes/no, on/off",
        "NDJSON on stdout beside other outputs (always without one)", 0, 0 },
    [S_KAFKA_BROKERS] = { "AGENT_KAFKA_BROKERS", "--kafka-brokers", "LIST", "unset (no Kafka)",
        "comma-separated HOST:PORT list", "Kafka bootstrap brokers: produce every event there", 0, 0 },
    [S_KAFKA_TOPIC_FLOW] = { "AGENT_KAFKA_TOPIC_FLOW", "--kafka-topic-flow", "TOPIC", "tracer.flows",
        "1-249 of [A-Za-z0-9._-]", "Kafka topic of flow events (key: community_id)", 0, 0 },
    [S_KAFKA_TOPIC_EVENTS] = { "AGENT_KAFKA_TOPIC_EVENTS", "--kafka-topic-events", "TOPIC", "tracer.events",
        "1-249 of [A-Za-z0-9._-]", "Kafka topic of every other event type (key: hostname)", 0, 0 },
    [S_KAFKA_COMPRESSION] = { "AGENT_KAFKA_COMPRESSION", "--kafka-compression", "ALG", "lz4",
        "none, gzip, snappy, lz4 or zstd", "Kafka record batch compression", 0, 0 },
    [S_KAFKA_SECURITY_PROTOCOL] = { "AGENT_KAFKA_SECURITY_PROTOCOL", "--kafka-security-protocol", "PROTO",
        "plaintext", "plaintext, ssl, sasl_plaintext or sasl_ssl", "how to talk to the brokers", 0, 0 },
    [S_KAFKA_SSL_CA_FILE] = { "AGENT_KAFKA_SSL_CA_FILE", "--kafka-ssl-ca-file", "PATH", "system CAs",
        "readable file", "CA certificate(s) to verify the brokers with", 0, 0 },
    [S_KAFKA_SASL_MECHANISM] = { "AGENT_KAFKA_SASL_MECHANISM", "--kafka-sasl-mechanism", "MECH", "PLAIN",
        "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", "SASL mechanism (sasl_* protocols)", 0, 0 },
    [S_KAFKA_SASL_USERNAME] = { "AGENT_KAFKA_SASL_USERNAME", "--kafka-sasl-username", "NAME", "none",
        "no control characters; needs a sasl_* protocol", "SASL user name", 0, 0 },
    [S_KAFKA_SASL_PASSWORD_FILE] = { "AGENT_KAFKA_SASL_PASSWORD_FILE", "--kafka-sasl-password-file", "PATH",
        "none", "readable, non-empty, <= 64 KiB; needs the user",
        "file holding the SASL password; never logged", 0, 0 },
    [S_KAFKA_QUEUE_MAX_EVENTS] = { "AGENT_KAFKA_QUEUE_MAX_EVENTS", "--kafka-queue-max-events", "N", "100000",
        "integer in [1, 10000000]", "events waiting in librdkafka's queue; beyond: spool", 1, 10000000 },
    [S_KAFKA_DELIVERY_TIMEOUT] = { "AGENT_KAFKA_DELIVERY_TIMEOUT", "--kafka-delivery-timeout", "DUR", "30s",
        "duration in [1s, 1h]", "spool an event not acknowledged this long after it was produced",
        1000, 3600000 },
    [S_SEND_INTERVAL] = { "AGENT_SEND_INTERVAL", "--send-interval", "DUR", "1s",
        "duration in [10ms, 1h]",
        "send a partial batch after this long", 10, 3600000 },
    [S_AUTH_TOKEN] = { "AGENT_AUTH_TOKEN", "--auth-token", "TOKEN", "none",
        "no control characters", "sent as Authorization: Bearer; never logged", 0, 0 },
    [S_AUTH_TOKEN_FILE] = { "AGENT_AUTH_TOKEN_FILE", "--auth-token-file", "PATH", "none",
        "readable, non-empty, <= 64 KiB", "file holding the token (one trailing newline cut)",
        0, 0 },
    [S_HMAC_KEY] = { "AGENT_HMAC_KEY", "--hmac-key", "KEY", "none", "any bytes",
        "sign each POST with HMAC-SHA256; never logged", 0, 0 },
    [S_HMAC_KEY_FILE] = { "AGENT_HMAC_KEY_FILE", "--hmac-key-file", "PATH", "none",
        "readable, non-empty, <= 64 KiB", "file holding the HMAC key (one trailing newline cut)",
        0, 0 },
    [S_SPOOL_DIR] = { "AGENT_SPOOL_DIR", "--spool-dir", "DIR", "unset (no spool)",
        "dir owned by the sensor's user, not group/other-writable",
        "unsent batches wait here",
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
    [S_HTTP_CONNECTIONS] = { "AGENT_HTTP_CONNECTIONS", "--http-connections", "N", "8",
        "integer in [1, 256]", "requests in flight (connections or HTTP/2 streams)", 1, 256 },
    [S_RETRY_MAX_ATTEMPTS] = { "AGENT_RETRY_MAX_ATTEMPTS", "--retry-max-attempts", "N", "5",
        "integer in [1, 1000]",
        "set aside a request failing this often while others succeed", 1, 1000 },
    [S_QUEUE_MAX_MB] = { "AGENT_QUEUE_MAX_MB", "--queue-max-mb", "N", "64",
        "integer in [1, 65536]", "bytes held in memory awaiting delivery, MiB", 1, 65536 },
    [S_TCP_IDLE_TIMEOUT] = { "AGENT_TCP_IDLE_TIMEOUT", "--tcp-idle-timeout", "DUR", "60s",
        "whole seconds in [1s, 1d]", "end a TCP flow idle this long", 1, 86400 },
    [S_UDP_IDLE_TIMEOUT] = { "AGENT_UDP_IDLE_TIMEOUT", "--udp-idle-timeout", "DUR", "30s",
        "whole seconds in [1s, 1d]", "end a UDP flow idle this long", 1, 86400 },
    [S_IDLE_TIMEOUT] = { "AGENT_IDLE_TIMEOUT", "--idle-timeout", "DUR", "30s",
        "whole seconds in [1s, 1d]", "end another flow idle this long", 1, 86400 },
    [S_ACTIVE_TIMEOUT] = { "AGENT_ACTIVE_TIMEOUT", "--active-timeout", "DUR", "300s",
        "whole seconds in [1s, 7d]", "interim record for flows longer than this", 1, 604800 },
    [S_MAX_FLOWS] = { "AGENT_MAX_FLOWS", "--max-flows", "N", "1000000",
        "integer in [1, 100000000]", "flow table cap; the oldest flow is evicted", 1,
        100000000 },
    [S_LOCAL_NETWORKS] = { "AGENT_LOCAL_NETWORKS", "--local-networks", "LIST",
        "unset (this host's addresses)", "CIDR list, e.g. 10.0.0.0/8,fd00::/8",
        "these addresses are local for direction (SPAN/TAP)", 0, 0 },
    [S_VLAN_IN_KEY] = { "AGENT_VLAN_IN_KEY", "--vlan-in-key", "BOOL", "true",
        "true/false, 1/0, yes/no, on/off",
        "the VLAN id is part of the flow key", 0, 0 },
    [S_DECAP] = { "AGENT_DECAP", "--decap", "BOOL", "true",
        "true/false, 1/0, yes/no, on/off",
        "a flow is the conversation inside a tunnel",
        0, 0 },
    [S_FLOW_STATS] = { "AGENT_FLOW_STATS", "--flow-stats", "BOOL", "false",
        "true/false, 1/0, yes/no, on/off",
        "packet size, gap, payload and TCP flag statistics", 0, 0 },
    [S_EARLY_PACKETS] = { "AGENT_EARLY_PACKETS", "--early-packets", "N", "8",
        "integer in [0, 32]; 0 = off",
        "with AGENT_FLOW_STATS: size, direction, gap of the first N", 0, 32 },
    [S_TCP_HEALTH] = { "AGENT_TCP_HEALTH", "--tcp-health", "BOOL", "true",
        "true/false, 1/0, yes/no, on/off",
        "TCP RTTs, retransmissions, reordering, zero windows", 0, 0 },
    [S_PROCESS_INFO] = { "AGENT_PROCESS_INFO", "--process-info", "BOOL", "true",
        "true/false, 1/0, yes/no, on/off",
        "owning process of local flows (live capture only)", 0, 0 },
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
    [S_PING_CONFIG] = { "AGENT_PING_CONFIG", "--ping-config", "PATH", "unset (no reachability checks)",
        "readable JSON file", "ping targets: ICMP/ICMPv6 echo reachability checks (see README)", 0, 0 },
    [S_PING_SOCKET] = { "AGENT_PING_SOCKET", "--ping-socket", "KIND", "auto",
        "auto, raw or datagram", "ICMP socket kind for ping (auto: raw with CAP_NET_RAW, else datagram)", 0, 0 },
    [S_TRAP_LISTEN] = { "AGENT_TRAP_LISTEN", "--trap-listen", "ADDR", "unset (no listener)",
        "HOST:PORT or [IPV6]:PORT, port in [1, 65535]", "where to receive SNMP traps", 0, 0 },
    [S_TRAP_COMMUNITIES] = { "AGENT_TRAP_COMMUNITIES", "--trap-communities", "LIST",
        "empty (any)", "comma-separated communities", "v1/v2c trap communities accepted", 0, 0 },
    [S_TOPOLOGY_INTERVAL] = { "AGENT_TOPOLOGY_INTERVAL", "--topology-interval", "DUR", "30s",
        "whole seconds in [0s, 1d]; 0 = off", "host topology snapshot period", 0, 86400 },
    [S_METRICS_ADDR] = { "AGENT_METRICS_ADDR", "--metrics-addr", "ADDR", "unset (off)",
        "HOST:PORT, [IPV6]:PORT or :PORT (every address)",
        "serve Prometheus /metrics and /healthz here", 0, 0 },
    [S_API_ADDR] = { "AGENT_API_ADDR", "--api-addr", "ADDR", "unset (off)",
        "HOST:PORT, [IPV6]:PORT or :PORT",
        "serve the control API here (needs AGENT_API_KEY_FILE)", 0, 0 },
    [S_API_KEY_FILE] = { "AGENT_API_KEY_FILE", "--api-key-file", "PATH", "none",
        "readable, non-empty, <= 64 KiB, no control chars",
        "file holding the API key (newline cut)", 0, 0 },
    [S_API_TLS_CERT] = { "AGENT_API_TLS_CERT", "--api-tls-cert", "PATH", "none (HTTP)",
        "readable PEM file; needs AGENT_API_TLS_KEY", "serve the API over HTTPS with this certificate", 0, 0 },
    [S_API_TLS_KEY] = { "AGENT_API_TLS_KEY", "--api-tls-key", "PATH", "none",
        "readable PEM file; needs AGENT_API_TLS_CERT", "private key of the API's certificate", 0, 0 },
    [S_API_JOB_RETENTION] = { "AGENT_API_JOB_RETENTION", "--api-job-retention", "DUR", "3600s",
        "whole seconds in [1s, 7d]", "keep a finished SNMP job's result this long", 1, 604800 },
    [S_API_MAX_JOBS] = { "AGENT_API_MAX_JOBS", "--api-max-jobs", "N", "1000",
        "integer in [1, 100000]", "finished SNMP jobs kept at most (the oldest goes first)", 1, 100000 },
    [S_API_MAX_QUEUED] = { "AGENT_API_MAX_QUEUED", "--api-max-queued", "N", "64",
        "integer in [1, 10000]", "SNMP jobs waiting to run at most; beyond: 429", 1, 10000 },
    [S_IPFIX_COLLECTOR] = { "AGENT_IPFIX_COLLECTOR", "--ipfix-collector", "URL", "unset (off)",
        "udp://HOST:PORT or tcp://HOST:PORT", "also export flow records as IPFIX/NetFlow here", 0, 0 },
    [S_IPFIX_PROTOCOL] = { "AGENT_IPFIX_PROTOCOL", "--ipfix-protocol", "PROTO", "ipfix",
        "ipfix or netflow9", "IPFIX (bidirectional records) or NetFlow v9 (two per flow)", 0, 0 },
    [S_IPFIX_TEMPLATE_REFRESH] = { "AGENT_IPFIX_TEMPLATE_REFRESH", "--ipfix-template-refresh", "DUR", "60s",
        "duration in [1s, 1h]", "UDP: re-send the templates this often", 1000, 3600000 },
    [S_IPFIX_DOMAIN_ID] = { "AGENT_IPFIX_DOMAIN_ID", "--ipfix-domain-id", "N", "0",
        "integer in [0, 4294967295]", "IPFIX observation domain id / NetFlow v9 source id", 0, UINT32_MAX },
    [S_IPFIX_TIME_PRECISION] = { "AGENT_IPFIX_TIME_PRECISION", "--ipfix-time-precision", "UNIT", "ms",
        "ms or us", "IPFIX flow start/end in milliseconds or microseconds", 0, 0 },
    [S_USER] = { "AGENT_USER", "--user", "NAME", "tracer-sensor",
        "existing user; root keeps root",
        "started as root, run as this user (default: nobody if missing)",
        0, 0 },
    [S_LOG_LEVEL] = { "LOG_LEVEL", "--log-level", "LEVEL", "info",
        "error, warn, info or debug", "least severe messages logged", 0, 0 },
    [S_LOG_FORMAT] = { "LOG_FORMAT", "--log-format", "FORMAT", "logfmt",
        "logfmt or json", "format of the log lines on stderr", 0, 0 },
    [S_LOG_FILE] = { "AGENT_LOG_FILE", "--log-file", "PATH", "unset (stderr)",
        "a file path (created 0600, appended)", "write log lines here; SIGHUP reopens it", 0,
        0 },
    [S_SECCOMP] = { "AGENT_SECCOMP", "--seccomp", "BOOL", "true",
        "true/false, 1/0, yes/no, on/off",
        "refuse system calls the sensor never makes (seccomp)", 0, 0 },
    [S_STATE_DIR] = { "AGENT_STATE_DIR", "--state-dir", "DIR", "/var/lib/tracer-sensor",
        "absolute path; created 0755 if missing",
        "keeps sensor_id across restarts", 0, 0 },
    [S_SENSOR_ID] = { "AGENT_SENSOR_ID", "--sensor-id", "ID", "unset (a UUID made at first start)",
        "1-64 of A-Z a-z 0-9 . _ : -",
        "sensor_id for every event, not the stored one", 0, 0 },
    [S_DPI] = { "AGENT_DPI", "--dpi", "BOOL", "false",
        "true/false, 1/0, yes/no, on/off",
        "label each flow's application with nDPI (the \"app\" field)", 0, 0 },
    [S_DPI_FLOWS] = { "AGENT_DPI_FLOWS", "--dpi-flows", "N", "32768",
        "integer in [16, 1048576]",
        "nDPI flow states (688 bytes each); flows beyond wait uninspected", 16,
        1048576 },
};

/*
 * Sections of --help and of the man page, by what the settings do. The order
 * here is the order shown; SETTINGS keeps its own order (merges add lines to
 * it). A setting missing here is still shown, under "Other settings", and
 * test_config fails until it is placed.
 */
#define IDS(...) (const enum setting_id[]){ __VA_ARGS__ }, \
    sizeof((const enum setting_id[]){ __VA_ARGS__ }) / sizeof(enum setting_id)
static const struct section {
    const char *title;
    const enum setting_id *ids;
    size_t n;
} SECTIONS[] = {
    { "Capture", IDS(S_INTERFACE, S_PCAP_FILE, S_BPF_FILTER, S_SNAP_LEN, S_PROMISCUOUS,
                     S_PCAP_BUFFER_MB) },
    { "Flows", IDS(S_TCP_IDLE_TIMEOUT, S_UDP_IDLE_TIMEOUT, S_IDLE_TIMEOUT, S_ACTIVE_TIMEOUT,
                   S_MAX_FLOWS, S_COMMUNITY_ID_SEED,
                   S_LOCAL_NETWORKS, S_VLAN_IN_KEY,
                   S_DECAP) },
    { "Flow statistics", IDS(S_FLOW_STATS, S_EARLY_PACKETS, S_TCP_HEALTH, S_PROCESS_INFO) },
    { "Output", IDS(S_ENDPOINT_URL, S_HTTP_BODY, S_EVENTS_ENDPOINT_URL, S_BATCH_SIZE, S_SEND_INTERVAL, S_COMPRESS, S_AUTH_TOKEN,
                    S_AUTH_TOKEN_FILE, S_HMAC_KEY, S_HMAC_KEY_FILE, S_TLS_CA_FILE,
                    S_TLS_CLIENT_CERT, S_TLS_CLIENT_KEY, S_TLS_INSECURE) },
    { "Delivery", IDS(S_HTTP_CONNECTIONS, S_RETRY_BASE, S_RETRY_MAX, S_RETRY_MAX_ATTEMPTS, S_CONNECT_TIMEOUT,
                      S_REQUEST_TIMEOUT, S_QUEUE_MAX_MB,
                      S_QUEUE_MAX_EVENTS, S_SPOOL_DIR, S_SPOOL_MAX_MB, S_SPOOL_AFTER,
                      S_SHUTDOWN_TIMEOUT) },
    { "More outputs: stdout and Kafka", IDS(S_STDOUT, S_KAFKA_BROKERS, S_KAFKA_TOPIC_FLOW, S_KAFKA_TOPIC_EVENTS,
                    S_KAFKA_COMPRESSION, S_KAFKA_SECURITY_PROTOCOL, S_KAFKA_SSL_CA_FILE,
                    S_KAFKA_SASL_MECHANISM, S_KAFKA_SASL_USERNAME, S_KAFKA_SASL_PASSWORD_FILE,
                    S_KAFKA_QUEUE_MAX_EVENTS, S_KAFKA_DELIVERY_TIMEOUT) },
    { "Pipeline", IDS(S_PACKET_RING_SLOTS, S_EVENT_RING_SLOTS) },
    { "Inspection", IDS(S_DPI, S_DPI_FLOWS) },
    { "Hooks", IDS(S_SNMP_CONFIG, S_SNMP_CONCURRENCY, S_TRAP_LISTEN, S_TRAP_COMMUNITIES,
                   S_TOPOLOGY_INTERVAL,
                   S_PING_CONFIG, S_PING_SOCKET) },
    { "Monitoring", IDS(S_METRICS_ADDR, S_STATS_INTERVAL,
                        S_STATE_DIR, S_SENSOR_ID) },
    { "IPFIX and NetFlow v9 export", IDS(S_IPFIX_COLLECTOR, S_IPFIX_PROTOCOL, S_IPFIX_TEMPLATE_REFRESH,
                                         S_IPFIX_DOMAIN_ID, S_IPFIX_TIME_PRECISION) },
    { "Control API", IDS(S_API_ADDR, S_API_KEY_FILE, S_API_TLS_CERT, S_API_TLS_KEY, S_API_JOB_RETENTION,
                         S_API_MAX_JOBS, S_API_MAX_QUEUED) },
    { "Logging and privileges", IDS(S_LOG_LEVEL, S_LOG_FORMAT, S_LOG_FILE, S_USER,
                                    S_SECCOMP) },
};
#undef IDS
#define NSECTIONS (sizeof SECTIONS / sizeof SECTIONS[0])

/* The section a setting is shown in, or NSECTIONS ("Other settings"). */
static size_t section_of(enum setting_id id)
{
    for (size_t k = 0; k < NSECTIONS; k++)
        for (size_t j = 0; j < SECTIONS[k].n; j++)
            if (SECTIONS[k].ids[j] == id)
                return k;
    return NSECTIONS;
}

/*
 * Calls show(id) for every setting in display order, and heading(title) before
 * each section. Settings no section lists come last, under "Other settings".
 */
static void for_each_shown(void (*heading)(FILE *, const char *), void (*show)(FILE *, enum setting_id),
                           FILE *out)
{
    for (size_t k = 0; k < NSECTIONS; k++) {
        heading(out, SECTIONS[k].title);
        for (size_t j = 0; j < SECTIONS[k].n; j++)
            show(out, SECTIONS[k].ids[j]);
    }
    bool other = false;
    for (int i = 0; i < S_COUNT; i++) {
        if (section_of((enum setting_id)i) != NSECTIONS)
            continue;
        if (!other)
            heading(out, "Other settings");
        other = true;
        show(out, (enum setting_id)i);
    }
}

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
    const char    *once;        /* --once KIND's KIND (argv), NULL = not given */
    const char    *once_name;   /* --once snmp NAME's NAME (argv) */
    const char    *dump_request; /* --dump-request FILE's FILE (argv) */
    struct errs    warns;       /* not errors: lines for cfg->warnings */
    const char    *run_user;    /* the user the sensor will run as (resolve_run_user) */
    uid_t          run_uid;
    bool           run_user_fallback; /* default user missing: nobody instead */
    bool           run_user_unknown;  /* AGENT_USER names no user: its own error, no owner checks */
    char          *expr;        /* trailing arguments joined: the BPF expression; heap, NULL = none */
    bool           expr_filter; /* S_BPF_FILTER's value is that expression */
};

/* The name a message uses for a setting: its flag or its variable. */
static const char *label(const struct loader *ld, enum setting_id id)
{
    if (id == S_BPF_FILTER && ld->expr_filter)
        return "EXPRESSION";   /* the trailing arguments */
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
 * m, h, and d for 24 h, which Go lacks but our rule texts use). No sign. Values
 * past DURATION_CAP_NS saturate (they are out of every range anyway).
 */
static bool parse_duration_ns(const char *v, uint64_t *out)
{
    static const struct { const char *name; uint64_t ns; } units[] = {
        { "ns", 1ull }, { "us", 1000ull }, { "\xc2\xb5s", 1000ull }, /* U+00B5 micro sign */
        { "\xce\xbcs", 1000ull },                                     /* U+03BC mu */
        { "ms", 1000000ull }, { "s", 1000000000ull }, { "m", 60000000000ull },
        { "h", 3600000000000ull }, { "d", 86400000000000ull },
    };
    const uint64_t cap = DURATION_CAP_NS; /* past every setting's maximum */
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

/*
 * Every time setting goes through here, so all of them take the same forms: a
 * bare number of seconds ("60", "0.5") or a Go duration ("60s", "5m", "1h30m",
 * "500ms"; also "d" for days). The table's [min, max] and the stored value are
 * in `unit_ns` (1 ms or 1 s); a value that is not a whole number of that unit is
 * refused rather than rounded (only possible for the seconds settings).
 */
static void load_duration(struct loader *ld, enum setting_id id, uint64_t unit_ns, uint32_t *out)
{
    const char *v = ld->val[id];
    if (!v)
        return;
    uint64_t ns;
    const struct setting *st = &SETTINGS[id];
    if (!parse_duration_ns(v, &ns) || ns < (uint64_t)st->min * unit_ns ||
        ns > (uint64_t)st->max * unit_ns || ns % unit_ns != 0) {
        uint64_t per_ms = unit_ns / 1000000ull;
        char lo[16], hi[16], rule[192];
        fmt_ms((uint32_t)(st->min * per_ms), lo, sizeof lo);
        fmt_ms((uint32_t)(st->max * per_ms), hi, sizeof hi);
        if (unit_ns == 1000000000ull)
            snprintf(rule, sizeof rule, "must be whole seconds, bare (60) or as a duration (60s, 5m, "
                     "1h30m), in [%s, %s]", lo, hi);
        else
            snprintf(rule, sizeof rule, "must be seconds (60, 0.5) or a duration (500ms, 60s, 5m, "
                     "1h30m) in [%s, %s]", lo, hi);
        err_value(ld, id, v, rule);
        return;
    }
    *out = (uint32_t)(ns / unit_ns);
}

/* A duration setting kept in milliseconds. */
static void load_duration_ms(struct loader *ld, enum setting_id id, uint32_t *out_ms)
{
    load_duration(ld, id, 1000000ull, out_ms);
}

/* A duration setting kept in whole seconds (the flow timeouts, the topology period). */
static void load_duration_s(struct loader *ld, enum setting_id id, uint32_t *out_s)
{
    load_duration(ld, id, 1000000000ull, out_s);
}

/* AGENT_LOCAL_NETWORKS: checked here with the parser the sender uses. */
static void load_local_networks(struct loader *ld)
{
    const char *v = ld->val[S_LOCAL_NETWORKS];
    if (!v)
        return;
    char why[128], rule[192];
    if (hostaddr_parse_networks(v, NULL, NULL, why, sizeof why) != 0) {
        snprintf(rule, sizeof rule, "%s: must be comma-separated CIDRs (10.0.0.0/8,fd00::/8)", why);
        err_value(ld, S_LOCAL_NETWORKS, v, rule);
        return;
    }
    ld->cfg->local_networks = dup_or_oom(ld, v);
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
    load_u32(ld, S_HTTP_CONNECTIONS, &cfg->http_connections);
    load_u32(ld, S_RETRY_MAX_ATTEMPTS, &cfg->retry_max_attempts);
    load_u32(ld, S_QUEUE_MAX_MB, &cfg->queue_max_mb);
    v = ld->val[S_HTTP_BODY];
    if (v) {
        if (strcasecmp(v, "object") == 0)
            cfg->http_body = CFG_BODY_OBJECT;
        else if (strcasecmp(v, "array") == 0)
            cfg->http_body = CFG_BODY_ARRAY;
        else if (strcasecmp(v, "ndjson") == 0)
            cfg->http_body = CFG_BODY_NDJSON;
        else
            err_value(ld, S_HTTP_BODY, v, "must be object, array or ndjson");
    }
}

static bool has_control_chars(const char *s, size_t n);
static bool read_secret_file(struct loader *ld, enum setting_id id, const char *path,
                             char **out, size_t *outlen);

/* A Kafka topic name: what the brokers accept (1-249 of [A-Za-z0-9._-], not "." or ".."). */
static void load_kafka_topic(struct loader *ld, enum setting_id id, const char *deflt, char **out)
{
    const char *v = ld->val[id] ? ld->val[id] : deflt;
    size_t n = strlen(v);
    bool ok = n >= 1 && n <= 249 && strcmp(v, ".") != 0 && strcmp(v, "..") != 0;
    for (size_t i = 0; ok && i < n; i++)
        ok = isalnum((unsigned char)v[i]) || v[i] == '.' || v[i] == '_' || v[i] == '-';
    if (!ok)
        err_value(ld, id, v, "must be 1-249 characters of [A-Za-z0-9._-], not \".\" or \"..\"");
    else
        *out = dup_or_oom(ld, v);
}

/* One word of a fixed list (case-insensitive); stores the list's spelling. */
static void load_word(struct loader *ld, enum setting_id id, const char *const *words, size_t nwords,
                      const char *deflt, char **out)
{
    const char *v = ld->val[id] ? ld->val[id] : deflt;
    for (size_t i = 0; i < nwords; i++)
        if (strcasecmp(v, words[i]) == 0) {
            *out = dup_or_oom(ld, words[i]);
            return;
        }
    char rule[160];
    size_t k = (size_t)snprintf(rule, sizeof rule, "must be one of");
    for (size_t i = 0; i < nwords && k < sizeof rule; i++)
        k += (size_t)snprintf(rule + k, sizeof rule - k, "%s %s", i ? "," : "", words[i]);
    err_value(ld, id, v, rule);
}

/* AGENT_STDOUT and the Kafka output (issue 16). */
static void load_kafka(struct loader *ld)
{
    static const char *const codecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};
    static const char *const protos[] = {"plaintext", "ssl", "sasl_plaintext", "sasl_ssl"};
    static const char *const mechs[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"};
    struct config *cfg = ld->cfg;
    load_bool(ld, S_STDOUT, &cfg->stdout_also);
    const char *v = ld->val[S_KAFKA_BROKERS];
    if (v) {
        /* HOST:PORT[,HOST:PORT...]; librdkafka resolves the hosts. */
        bool ok = *v != '\0';
        for (const char *p = v; ok && *p;) {
            const char *e = strchr(p, ',');
            size_t len = e ? (size_t)(e - p) : strlen(p);
            const char *colon = NULL;
            for (size_t i = 0; i < len; i++)
                if (p[i] == ':')
                    colon = p + i;
            size_t plen = colon ? len - (size_t)(colon - p) - 1 : 0;
            unsigned long port = 0;
            for (size_t i = 0; colon && i < plen; i++)
                port = isdigit((unsigned char)colon[1 + i]) && port <= 65535 ? port * 10 + (unsigned)(colon[1 + i] - '0')
                                                                            : 70000;
            ok = colon && colon > p && plen >= 1 && plen <= 5 && port >= 1 && port <= 65535;
            for (size_t i = 0; ok && i < len; i++)
                ok = (unsigned char)p[i] > 0x20 && p[i] != 0x7f;
            p = e ? e + 1 : p + len;
            if (e && !*p)
                ok = false;
        }
        if (!ok)
            err_value(ld, S_KAFKA_BROKERS, v, "must be a comma-separated list of HOST:PORT, port in [1, 65535]");
        else
            cfg->kafka_brokers = dup_or_oom(ld, v);
    }
    load_kafka_topic(ld, S_KAFKA_TOPIC_FLOW, "tracer.flows", &cfg->kafka_topic_flow);
    load_kafka_topic(ld, S_KAFKA_TOPIC_EVENTS, "tracer.events", &cfg->kafka_topic_events);
    load_word(ld, S_KAFKA_COMPRESSION, codecs, 5, "lz4", &cfg->kafka_compression);
    load_word(ld, S_KAFKA_SECURITY_PROTOCOL, protos, 4, "plaintext", &cfg->kafka_security_protocol);
    load_word(ld, S_KAFKA_SASL_MECHANISM, mechs, 3, "PLAIN", &cfg->kafka_sasl_mechanism);
    load_readable_file(ld, S_KAFKA_SSL_CA_FILE, &cfg->kafka_ssl_ca_file);
    bool sasl = cfg->kafka_security_protocol && strncmp(cfg->kafka_security_protocol, "sasl_", 5) == 0;
    v = ld->val[S_KAFKA_SASL_USERNAME];
    if (v) {
        if (has_control_chars(v, strlen(v)) || !*v)
            err_value(ld, S_KAFKA_SASL_USERNAME, v, "must be non-empty without control characters");
        else if (!sasl)
            err_value(ld, S_KAFKA_SASL_USERNAME, v, "needs AGENT_KAFKA_SECURITY_PROTOCOL=sasl_plaintext or sasl_ssl");
        else
            cfg->kafka_sasl_username = dup_or_oom(ld, v);
    }
    v = ld->val[S_KAFKA_SASL_PASSWORD_FILE];
    if (v) {
        size_t n = 0;
        if (!ld->val[S_KAFKA_SASL_USERNAME])
            err_value(ld, S_KAFKA_SASL_PASSWORD_FILE, v, "needs AGENT_KAFKA_SASL_USERNAME too");
        else if (read_secret_file(ld, S_KAFKA_SASL_PASSWORD_FILE, v, &cfg->kafka_sasl_password, &n) &&
                 has_control_chars(cfg->kafka_sasl_password, n)) {
            err_value(ld, S_KAFKA_SASL_PASSWORD_FILE, v, "must not contain control characters");
            explicit_bzero(cfg->kafka_sasl_password, n);
            free(cfg->kafka_sasl_password);
            cfg->kafka_sasl_password = NULL;
        } else if (cfg->kafka_sasl_password) {
            cfg->kafka_sasl_password_file = dup_or_oom(ld, v);
        }
    } else if (sasl && cfg->kafka_brokers) {
        err_value(ld, S_KAFKA_SECURITY_PROTOCOL, cfg->kafka_security_protocol,
                  "needs AGENT_KAFKA_SASL_USERNAME and AGENT_KAFKA_SASL_PASSWORD_FILE");
    }
    load_u32(ld, S_KAFKA_QUEUE_MAX_EVENTS, &cfg->kafka_queue_max_events);
    load_duration_ms(ld, S_KAFKA_DELIVERY_TIMEOUT, &cfg->kafka_delivery_timeout_ms);
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
static void load_listen_addr(struct loader *ld, enum setting_id id, char **out);

static void load_metrics_addr(struct loader *ld)
{
    load_listen_addr(ld, S_METRICS_ADDR, &ld->cfg->metrics_addr);
}

/* A listen address of the form AGENT_METRICS_ADDR takes (see above) into *out. */
static void load_listen_addr(struct loader *ld, enum setting_id id, char **out)
{
    const char *v = ld->val[id];
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
        err_value(ld, id, v, "must be HOST:PORT, [IPV6]:PORT or :PORT with a port in [1, 65535]");
        return;
    }
    *out = dup_or_oom(ld, v);
}

/* The control API (issue 17.1): an address and a key file go together; a certificate and its key too. */
static void load_api(struct loader *ld)
{
    struct config *cfg = ld->cfg;
    load_listen_addr(ld, S_API_ADDR, &cfg->api_addr);
    const char *keyfile = ld->val[S_API_KEY_FILE];
    if (keyfile && read_secret_file(ld, S_API_KEY_FILE, keyfile, &cfg->api_key, &cfg->api_key_len)) {
        bool ctl = false;   /* it is compared with a header value */
        for (size_t i = 0; i < cfg->api_key_len; i++)
            ctl = ctl || (unsigned char)cfg->api_key[i] < 0x20 || cfg->api_key[i] == 0x7f;
        if (ctl)
            err_value(ld, S_API_KEY_FILE, keyfile, "must not contain control characters");
        cfg->api_key_file = dup_or_oom(ld, keyfile);
    }
    if (ld->val[S_API_ADDR] && !ld->val[S_API_KEY_FILE])
        err_value(ld, S_API_ADDR, ld->val[S_API_ADDR], "needs AGENT_API_KEY_FILE (every request is authenticated)");
    static const enum setting_id NEEDS_ADDR[] = {S_API_KEY_FILE, S_API_TLS_CERT, S_API_TLS_KEY};
    for (size_t i = 0; i < sizeof NEEDS_ADDR / sizeof NEEDS_ADDR[0]; i++)
        if (ld->val[NEEDS_ADDR[i]] && !ld->val[S_API_ADDR])
            err_value(ld, NEEDS_ADDR[i], ld->val[NEEDS_ADDR[i]], "needs AGENT_API_ADDR");
    load_readable_file(ld, S_API_TLS_CERT, &cfg->api_tls_cert);
    load_readable_file(ld, S_API_TLS_KEY, &cfg->api_tls_key);
    if (ld->val[S_API_TLS_CERT] && !ld->val[S_API_TLS_KEY])
        err_value(ld, S_API_TLS_CERT, ld->val[S_API_TLS_CERT], "needs AGENT_API_TLS_KEY too");
    if (ld->val[S_API_TLS_KEY] && !ld->val[S_API_TLS_CERT])
        err_value(ld, S_API_TLS_KEY, ld->val[S_API_TLS_KEY], "needs AGENT_API_TLS_CERT too");
    load_duration_s(ld, S_API_JOB_RETENTION, &cfg->api_job_retention_s);
    load_u32(ld, S_API_MAX_JOBS, &cfg->api_max_jobs);
    load_u32(ld, S_API_MAX_QUEUED, &cfg->api_max_queued);
}

/*
 * IPFIX / NetFlow v9 export (issue 16): AGENT_IPFIX_COLLECTOR is
 * udp://HOST:PORT or tcp://HOST:PORT, an IPv6 host in brackets; the host is
 * resolved when the output starts. The other settings only matter with it.
 */
static void load_ipfix(struct loader *ld)
{
    struct config *cfg = ld->cfg;
    const char *v = ld->val[S_IPFIX_COLLECTOR];
    const char *rule = "must be udp://HOST:PORT or tcp://HOST:PORT (IPv6 in brackets) with a port in [1, 65535]";
    if (v) {
        bool tcp = strncasecmp(v, "tcp://", 6) == 0;
        bool ok = tcp || strncasecmp(v, "udp://", 6) == 0;
        const char *h = v + 6, *hend = NULL, *port = NULL;
        if (ok && h[0] == '[') {
            hend = strchr(h, ']');
            ok = hend && hend > h + 1 && hend[1] == ':';
            port = ok ? hend + 2 : NULL;
            h++;
        } else if (ok) {
            hend = strrchr(h, ':');
            ok = hend && hend > h && !memchr(h, ':', (size_t)(hend - h));
            port = ok ? hend + 1 : NULL;
        }
        for (const char *c = h; ok && c < hend; c++)
            if (isspace((unsigned char)*c) || *c == '/' || *c == '@' || *c == '[' || *c == ']')
                ok = false;
        uint64_t p = 0;
        if (!ok || !port || !parse_uint(port, 1, 65535, &p)) {
            err_value(ld, S_IPFIX_COLLECTOR, v, rule);
        } else {
            cfg->ipfix_collector = dup_or_oom(ld, v);
            cfg->ipfix_host = strndup(h, (size_t)(hend - h));
            if (!cfg->ipfix_host)
                ld->errs.oom = true;
            cfg->ipfix_port = (uint16_t)p;
            cfg->ipfix_tcp = tcp;
        }
    }
    const char *pr = ld->val[S_IPFIX_PROTOCOL];
    if (pr) {
        if (strcasecmp(pr, "netflow9") == 0)
            cfg->ipfix_netflow9 = true;
        else if (strcasecmp(pr, "ipfix") != 0)
            err_value(ld, S_IPFIX_PROTOCOL, pr, "must be ipfix or netflow9");
        if (cfg->ipfix_netflow9 && cfg->ipfix_tcp)
            err_value(ld, S_IPFIX_PROTOCOL, pr, "NetFlow v9 goes over UDP only: use a udp:// AGENT_IPFIX_COLLECTOR");
    }
    load_duration_ms(ld, S_IPFIX_TEMPLATE_REFRESH, &cfg->ipfix_template_refresh_ms);
    load_u32(ld, S_IPFIX_DOMAIN_ID, &cfg->ipfix_domain_id);
    const char *tp = ld->val[S_IPFIX_TIME_PRECISION];
    if (tp) {
        if (strcasecmp(tp, "us") == 0)
            cfg->ipfix_microseconds = true;
        else if (strcasecmp(tp, "ms") != 0)
            err_value(ld, S_IPFIX_TIME_PRECISION, tp, "must be ms or us");
    }
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

/*
 * AGENT_INTERFACE as a list (issue 14.7): names separated by commas, each an
 * existing interface, none empty or repeated, at most CONFIG_MAX_INTERFACES;
 * "any" (every interface already) only alone. Fills cfg->interfaces; returns
 * whether the value is valid (each problem is reported, naming the value).
 */
static bool load_interface_list(struct loader *ld, const char *v)
{
    struct config *cfg = ld->cfg;
    char rule[160 + IF_NAMESIZE * 2];
    bool ok = true;
    uint32_t n = 0, fields = 1;
    for (const char *p = v; *p; p++)
        fields += *p == ',';
    if (fields > CONFIG_MAX_INTERFACES) {
        snprintf(rule, sizeof rule, "more than %u interfaces in the list", (unsigned)CONFIG_MAX_INTERFACES);
        err_value(ld, S_INTERFACE, v, rule);
        return false;
    }
    for (const char *p = v;; p++) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char name[IF_NAMESIZE + 1];
        if (len == 0) {
            err_value(ld, S_INTERFACE, v, "an empty interface name in the list (names are separated by single commas)");
            return false;
        }
        snprintf(name, sizeof name, "%.*s", (int)(len < IF_NAMESIZE ? len : IF_NAMESIZE), p);
        for (uint32_t i = 0; i < n && ok; i++) {
            if (strcmp(cfg->interfaces[i], name) == 0) {
                snprintf(rule, sizeof rule, "%s is listed twice", name);
                err_value(ld, S_INTERFACE, v, rule);
                ok = false;
            }
        }
        if (ok && strcmp(name, "any") == 0 && (n > 0 || end)) {
            err_value(ld, S_INTERFACE, v, "\"any\" captures every interface already: it cannot be listed with others");
            ok = false;
        } else if (ok && strcmp(name, "any") != 0 && (len >= IF_NAMESIZE || if_nametoindex(name) == 0)) {
            if (n == 0 && !end) {
                err_value(ld, S_INTERFACE, v, "no such network interface");
            } else {
                snprintf(rule, sizeof rule, "no such network interface: %.*s", (int)(len < 64 ? len : 64), p);
                err_value(ld, S_INTERFACE, v, rule);
            }
            ok = false;
        }
        if (!ok)
            return false;
        cfg->interfaces[n++] = dup_or_oom(ld, name);
        cfg->interface_count = n;
        if (!end)
            break;
        p = end;
    }
    return ok;
}

static void load_capture(struct loader *ld)
{
    struct config *cfg = ld->cfg;
    const char *ifname = ld->val[S_INTERFACE];
    const char *file = ld->val[S_PCAP_FILE];

    if (ifname) {
        if (load_interface_list(ld, ifname))
            cfg->interface = dup_or_oom(ld, ifname);
    } else if (!file) {
        cfg->interface = default_interface(ld);
        if (!cfg->interface && !ld->errs.oom)
            errs_add(&ld->errs, "%s: not set and no up, non-loopback interface found",
                     SETTINGS[S_INTERFACE].var);
        else if (cfg->interface)
            (void)load_interface_list(ld, cfg->interface);
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

static void load_url(struct loader *ld, enum setting_id id, char **out)
{
    const char *v = ld->val[id];
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
        /* libcurl takes one to three slashes after the scheme and the first
         * path segment for the host ("http:///flows" -> host "flows"). An
         * http(s) URL needs a non-empty authority as written (RFC 9110 4.2):
         * "scheme://" and then a host, not another '/'. */
        if (ok) {
            size_t sl = strlen(scheme);
            const char *rest = v + sl + 1;   /* the scheme as given, then ':' */
            if (strlen(v) <= sl + 3 || rest[-1] != ':' || strncmp(rest, "//", 2) != 0 || rest[2] == '/')
                ok = false;
        }
        curl_free(scheme);
        curl_free(host);
    }
    curl_url_cleanup(h);
    if (!ok) {
        char shown[ECHO_MAX + 8];
        url_for_message(shown, sizeof shown, v);
        errs_add(&ld->errs, "%s=%s: must be an http:// or https:// URL with a host",
                 label(ld, id), shown);
        return;
    }
    *out = dup_or_oom(ld, v);
}

/* AGENT_ENDPOINT_URL (flows) and AGENT_EVENTS_ENDPOINT_URL (every other event type). */
static void load_endpoint(struct loader *ld)
{
    load_url(ld, S_ENDPOINT_URL, &ld->cfg->endpoint_url);
    load_url(ld, S_EVENTS_ENDPOINT_URL, &ld->cfg->events_endpoint_url);
    if (ld->cfg->events_endpoint_url && !ld->val[S_ENDPOINT_URL]) {
        char shown[ECHO_MAX + 8];
        url_for_message(shown, sizeof shown, ld->val[S_EVENTS_ENDPOINT_URL]);
        errs_add(&ld->errs, "%s=%s: needs AGENT_ENDPOINT_URL too (without it every event goes to stdout)",
                 label(ld, S_EVENTS_ENDPOINT_URL), shown);
    }
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
 * Reads a secret file (at most SECRET_FILE_MAX bytes), cuts exactly one
 * trailing newline ("\n" or "\r\n", as editors and `echo` add one; any other
 * byte, a second newline or a lone "\r" included, belongs to the secret) and
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
        if (n > 0 && buf[n - 1] == '\n') {
            n--;
            if (n > 0 && buf[n - 1] == '\r')
                n--;
        }
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
    if (v && ld->from_flag[direct])
        errs_add(&ld->warns, "%s: a secret on the command line is readable by every local user "
                 "(ps, /proc/PID/cmdline); use %s or %s instead", label(ld, direct),
                 SETTINGS[file].flag, SETTINGS[file].var);
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

/* The account AGENT_USER defaults to; `make install` creates it. */
#define DEFAULT_USER  "tracer-sensor"
#define FALLBACK_USER "nobody"

/*
 * Which user the sensor will run as once set up, so that what it must own (the
 * spool directory) can be checked now: started as root, AGENT_USER ("root"
 * keeps root; unset: tracer-sensor, or nobody when that account does not exist,
 * with a warning); otherwise the user it already is. An AGENT_USER that does
 * not exist is left to load_user_and_log_file's message.
 */
static void resolve_run_user(struct loader *ld)
{
    const char *v = ld->val[S_USER];
    ld->run_user = v ? v : DEFAULT_USER;
    ld->run_uid = geteuid();
    if (!v && !getpwnam(DEFAULT_USER)) {   /* main thread, before threads */
        ld->run_user = FALLBACK_USER;
        ld->run_user_fallback = true;
    }
    if (geteuid() != 0 || strcmp(ld->run_user, "root") == 0)
        return;
    const struct passwd *pw = getpwnam(ld->run_user);
    if (pw)
        ld->run_uid = pw->pw_uid;
    else
        ld->run_user_unknown = true;
    if (ld->run_user_fallback)
        errs_add(&ld->warns, "%s: the default user " DEFAULT_USER " does not exist; running as the "
                 "shared user " FALLBACK_USER ", which other services also use (create the account: "
                 "useradd --system --no-create-home --shell /usr/sbin/nologin " DEFAULT_USER
                 "; or set %s)", SETTINGS[S_USER].var, SETTINGS[S_USER].var);
}

/*
 * The spool holds batches the sensor will POST with its credentials, so only
 * the sensor may write there: the directory must belong to the user it runs as
 * and must not be writable by group or others (spool.c checks each file too).
 */
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
    if (ld->run_user_unknown)
        return;                              /* "AGENT_USER=x: no such user" says it all */
    if (st.st_uid != ld->run_uid || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
        (st.st_mode & (S_IWUSR | S_IXUSR)) != (S_IWUSR | S_IXUSR)) {
        char rule[256];
        snprintf(rule, sizeof rule, "must be owned by the sensor's user (uid %u, %s=%s) and not "
                 "writable by group or others; it is owned by uid %u with mode %04o",
                 (unsigned)ld->run_uid, SETTINGS[S_USER].var, geteuid() == 0 ? ld->run_user : "unchanged",
                 (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
        err_value(ld, S_SPOOL_DIR, v, rule);
        return;
    }
    ld->cfg->spool_dir = dup_or_oom(ld, v);
}

/* Where the identity lives, or the id itself (read or made by main: common/identity.h). */
static void load_identity(struct loader *ld)
{
    const char *v = ld->val[S_STATE_DIR];
    ld->cfg->state_dir_explicit = v != NULL;
    if (v && (v[0] != '/' || strlen(v) > 4000))
        err_value(ld, S_STATE_DIR, v, "must be an absolute directory path");
    else
        ld->cfg->state_dir = dup_or_oom(ld, v ? v : DEFAULT_STATE_DIR);
    v = ld->val[S_SENSOR_ID];
    if (v && !identity_valid(v))
        err_value(ld, S_SENSOR_ID, v, "must be 1-64 characters from A-Z a-z 0-9 . _ : -");
    else if (v)
        ld->cfg->sensor_id = dup_or_oom(ld, v);
}

/* --once topology | snmp NAME: one event on stdout, then exit (cmd/once.c). */
static void load_once(struct loader *ld)
{
    const char *k = ld->once;
    if (!k)
        return;
    char shown[ECHO_MAX + 8];
    echo(shown, sizeof shown, k);
    if (strcmp(k, "topology") == 0)
        ld->cfg->once = CFG_ONCE_TOPOLOGY;
    else if (strcmp(k, "sensor") == 0)
        ld->cfg->once = CFG_ONCE_SENSOR;
    else if (strcmp(k, "snmp") == 0 && !ld->once_name)
        errs_add(&ld->errs, "--once snmp: missing the target's name (--once snmp NAME, a \"name\" in "
                 "AGENT_SNMP_CONFIG)");
    else if (strcmp(k, "snmp") == 0) {
        ld->cfg->once = CFG_ONCE_SNMP;
        ld->cfg->once_name = dup_or_oom(ld, ld->once_name);
    } else
        errs_add(&ld->errs, "--once %s: must be topology, sensor or snmp NAME", shown);
}

/* --dump-request FILE: write the HTTP request for a sample flow into FILE, then exit (cmd/dump_request.c). */
static void load_dump_request(struct loader *ld)
{
    const char *f = ld->dump_request;
    if (!f)
        return;
    if (!*f)
        errs_add(&ld->errs, "--dump-request: missing the file name (--dump-request FILE, - for standard output)");
    else if (!ld->cfg->endpoint_url)
        errs_add(&ld->errs, "--dump-request %s: needs AGENT_ENDPOINT_URL (the request is the one POSTed there)", f);
    else if (ld->cfg->once != CFG_ONCE_NONE)
        errs_add(&ld->errs, "--dump-request and --once: choose one");
    else
        ld->cfg->dump_request = dup_or_oom(ld, f);
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
    load_duration_s(ld, S_TOPOLOGY_INTERVAL, &cfg->topology_interval_s);
    load_readable_file(ld, S_PING_CONFIG, &cfg->ping_config);
    static const char *const PING_SOCKETS[] = {"auto", "raw", "datagram"};
    load_word(ld, S_PING_SOCKET, PING_SOCKETS, 3, "auto", &cfg->ping_socket);
}

static void load_user_and_log_file(struct loader *ld)
{
    struct config *cfg = ld->cfg;
    const char *v = ld->val[S_USER];
    cfg->user = dup_or_oom(ld, ld->run_user);
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

/* Levenshtein distance between a[0..la) and b (short strings; capped at 64 bytes each). */
static size_t edit_distance(const char *a, size_t la, const char *b)
{
    size_t lb = strlen(b);
    if (la > 64 || lb > 64)
        return SIZE_MAX;
    size_t row[65];
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] == b[j - 1] ? 0 : 1);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/*
 * The known flag closest to an unknown one, when it is close enough to be a
 * typo (at most 3 edits, and fewer than half the name's length); else NULL.
 */
static const char *closest_flag(const char *name, size_t len)
{
    static const char *const extra[] = { "--help", "--version", "--once", "--dump-request" };
    const char *best = NULL;
    size_t bestd = SIZE_MAX;
    for (int i = 0; i < S_COUNT + (int)(sizeof extra / sizeof extra[0]); i++) {
        const char *f = i < S_COUNT ? SETTINGS[i].flag : extra[i - S_COUNT];
        size_t d = edit_distance(name, len, f);
        if (d < bestd) {
            bestd = d;
            best = f;
        }
    }
    return (bestd <= 3 && 2 * bestd < len) ? best : NULL;
}

/* "AGENT_SNAP_LEN=512" given as an argument: the setting it names, or -1. */
static int var_assignment(const char *a)
{
    const char *eq = strchr(a, '=');
    if (!eq)
        return -1;
    for (int i = 0; i < S_COUNT; i++)
        if (strlen(SETTINGS[i].var) == (size_t)(eq - a) && memcmp(SETTINGS[i].var, a, (size_t)(eq - a)) == 0)
            return i;
    return -1;
}

/* Appends one trailing argument to the BPF expression being built (words joined by spaces). */
static void expr_append(struct loader *ld, const char *a)
{
    size_t old = ld->expr ? strlen(ld->expr) : 0, n = strlen(a);
    char *e = realloc(ld->expr, old + (old ? 1 : 0) + n + 1);
    if (!e) {
        ld->errs.oom = true;
        return;
    }
    if (old)
        e[old++] = ' ';
    memcpy(e + old, a, n + 1);
    ld->expr = e;
}

/*
 * Flags into ld->flag_val. Returns true when -h/--help or -V/--version was
 * seen (the caller then skips everything else, including flag errors).
 * A value for a flag is "--flag=value" or the next argument, unless that
 * argument starts with "--" (then the value is missing: "--flag=--x" passes
 * such a value). -i and -r are tcpdump's short forms of --interface and
 * --pcap-file. Other arguments (and every argument after "--") make up the
 * BPF expression, as tcpdump's trailing arguments do.
 */
static bool parse_argv(struct loader *ld, int argc, char **argv, bool *help, bool *version)
{
    bool only_expr = false;
    for (int i = 1; argv && i < argc && argv[i]; i++) {
        const char *a = argv[i];
        if (only_expr) {
            expr_append(ld, a);
            continue;
        }
        if (strcmp(a, "--") == 0) {
            only_expr = true;
            continue;
        }
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
        if (strcmp(a, "--once") == 0 || strncmp(a, "--once=", 7) == 0) {
            /* --once topology | --once snmp NAME */
            ld->once = a[6] == '=' ? a + 7 : (i + 1 < argc && argv[i + 1] ? argv[++i] : "");
            if (strcmp(ld->once, "snmp") == 0 && i + 1 < argc && argv[i + 1] && argv[i + 1][0] != '-')
                ld->once_name = argv[++i];
            continue;
        }
        if (strcmp(a, "--dump-request") == 0 || strncmp(a, "--dump-request=", 15) == 0) {
            ld->dump_request = a[14] == '=' ? a + 15 : (i + 1 < argc && argv[i + 1] ? argv[++i] : "");
            continue;
        }
        char shown[ECHO_MAX + 8];
        int var = a[0] != '-' ? var_assignment(a) : -1;
        if (var >= 0) {
            echo(shown, sizeof shown, a);
            errs_add(&ld->errs, "%s: a variable given as an argument: set it in the environment, or "
                     "use %s VALUE", shown, SETTINGS[var].flag);
            continue;
        }
        if (a[0] != '-' || strcmp(a, "-") == 0) {
            expr_append(ld, a);
            continue;
        }
        int id;
        const char *v = NULL;
        const char *near = closest_flag(a, strlen(a));
        bool long_typo = near && a[1] != '-' && edit_distance(a, strlen(a), near) <= 2;
        if ((strncmp(a, "-i", 2) == 0 || strncmp(a, "-r", 2) == 0) && !long_typo) {
            /* "-i eth0" or "-ieth0", as getopt reads them */
            id = a[1] == 'i' ? S_INTERFACE : S_PCAP_FILE;
            if (a[2])
                v = a + 2;
        } else {
            const char *eq = strchr(a, '=');
            size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
            id = (a[1] == '-') ? find_flag(a, nlen) : -1;
            if (id < 0) {
                char name[ECHO_MAX + 8];
                char *cut = strndup(a, nlen);
                echo(name, sizeof name, cut ? cut : a);
                free(cut);
                near = closest_flag(a, nlen);
                if (near)
                    errs_add(&ld->errs, "%s: unknown flag; did you mean %s? (see --help)", name, near);
                else
                    errs_add(&ld->errs, "%s: unknown flag (see --help)", name);
                continue;
            }
            if (eq)
                v = eq + 1;
        }
        if (!v) {
            if (i + 1 < argc && argv[i + 1] && strncmp(argv[i + 1], "--", 2) != 0) {
                v = argv[++i];
            } else {
                errs_add(&ld->errs, "%s: missing value", SETTINGS[id].flag);
                continue;
            }
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
    /* A trailing expression is the filter given on the command line: it wins over
     * AGENT_BPF_FILTER like a flag, and --bpf-filter besides it is ambiguous. */
    if (ld->expr) {
        if (ld->flag_seen[S_BPF_FILTER]) {
            char shown[ECHO_MAX + 8];
            echo(shown, sizeof shown, ld->expr);
            errs_add(&ld->errs, "EXPRESSION=%s: a filter expression and --bpf-filter: give only one",
                     shown);
        }
        ld->val[S_BPF_FILTER] = ld->expr;
        ld->from_flag[S_BPF_FILTER] = true;
        ld->expr_filter = true;
    }
}

static void set_defaults(struct config *cfg)
{
    cfg->snap_len = 256;      /* every header the counters read; 2048 with AGENT_DPI (after AGENT_DPI is read) */
    cfg->promiscuous = true;
    cfg->seccomp = true;
    cfg->pcap_buffer_mb = 64;
    cfg->batch_size = 100;
    cfg->http_body = CFG_BODY_OBJECT;
    cfg->http_connections = 8;
    cfg->retry_max_attempts = 5;
    cfg->queue_max_mb = 64;
    cfg->send_interval_ms = 1000;
    cfg->spool_max_mb = 256;
    cfg->tcp_idle_timeout_s = 60;
    cfg->udp_idle_timeout_s = 30;
    cfg->idle_timeout_s = 30;
    cfg->active_timeout_s = 300;
    cfg->max_flows = 1000000;
    cfg->vlan_in_key = true;
    cfg->decap = true;
    cfg->flow_stats = false;   /* off: NFStream's default too; on, records grow ~2.5x (README) */
    cfg->early_packets = 8;
    cfg->tcp_health = true;
    cfg->process_info = true;
    cfg->dpi = false;   /* off by default: on the bench trace it costs more than the speed bound allows */
    cfg->dpi_flows = 32768;
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
    cfg->api_job_retention_s = 3600;
    cfg->api_max_jobs = 1000;
    cfg->api_max_queued = 64;
    cfg->ipfix_template_refresh_ms = 60000;
    cfg->kafka_queue_max_events = 100000;
    cfg->kafka_delivery_timeout_ms = 30000;
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
    free(ld->expr);
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
    load_duration_ms(&ld, S_SEND_INTERVAL, &cfg->send_interval_ms);
    load_secret(&ld, S_AUTH_TOKEN, S_AUTH_TOKEN_FILE, true, &cfg->auth_token, NULL);
    if (cfg->auth_token && ld.val[S_AUTH_TOKEN_FILE])
        cfg->auth_token_file = dup_or_oom(&ld, ld.val[S_AUTH_TOKEN_FILE]);
    load_secret(&ld, S_HMAC_KEY, S_HMAC_KEY_FILE, false, &cfg->hmac_key, &cfg->hmac_key_len);
    if (cfg->hmac_key && ld.val[S_HMAC_KEY_FILE])
        cfg->hmac_key_file = dup_or_oom(&ld, ld.val[S_HMAC_KEY_FILE]);
    resolve_run_user(&ld);
    load_spool_dir(&ld);
    load_u32(&ld, S_SPOOL_MAX_MB, &cfg->spool_max_mb);
    load_delivery(&ld);
    load_kafka(&ld);

    load_duration_s(&ld, S_TCP_IDLE_TIMEOUT, &cfg->tcp_idle_timeout_s);
    load_duration_s(&ld, S_UDP_IDLE_TIMEOUT, &cfg->udp_idle_timeout_s);
    load_duration_s(&ld, S_IDLE_TIMEOUT, &cfg->idle_timeout_s);
    load_duration_s(&ld, S_ACTIVE_TIMEOUT, &cfg->active_timeout_s);
    load_u32(&ld, S_MAX_FLOWS, &cfg->max_flows);
    load_bool(&ld, S_VLAN_IN_KEY, &cfg->vlan_in_key);
    load_bool(&ld, S_DECAP, &cfg->decap);
    load_bool(&ld, S_FLOW_STATS, &cfg->flow_stats);
    load_u32(&ld, S_EARLY_PACKETS, &cfg->early_packets);
    load_bool(&ld, S_TCP_HEALTH, &cfg->tcp_health);
    load_bool(&ld, S_PROCESS_INFO, &cfg->process_info);
    load_bool(&ld, S_DPI, &cfg->dpi);
    if (cfg->dpi && !ld.val[S_SNAP_LEN])
        cfg->snap_len = 2048;     /* whole frames for nDPI and the payload parsers (README: Snap length) */
    load_u32(&ld, S_DPI_FLOWS, &cfg->dpi_flows);
    uint32_t seed = cfg->community_id_seed;
    load_u32(&ld, S_COMMUNITY_ID_SEED, &seed);
    cfg->community_id_seed = (uint16_t)seed; /* range-checked to [0, 65535] */
    load_local_networks(&ld);

    load_pow2(&ld, S_PACKET_RING_SLOTS, &cfg->packet_ring_slots);
    load_pow2(&ld, S_EVENT_RING_SLOTS, &cfg->event_ring_slots);

    load_hooks(&ld);
    load_metrics_addr(&ld);
    load_api(&ld);
    load_ipfix(&ld);
    load_log_level(&ld, &cfg->log_level);
    load_log_format(&ld, &cfg->log_format);
    load_user_and_log_file(&ld);
    load_bool(&ld, S_SECCOMP, &cfg->seccomp);
    load_hostname(&ld);
    load_identity(&ld);
    load_once(&ld);
    load_dump_request(&ld);

    bool failed = ld.errs.n > 0 || ld.errs.oom;
    finish(&ld, errbuf, errlen, nerr);
    cfg->warnings = ld.warns.text;   /* owned by cfg from here */
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
    if (cfg->kafka_sasl_password) {
        explicit_bzero(cfg->kafka_sasl_password, strlen(cfg->kafka_sasl_password));
        free(cfg->kafka_sasl_password);
    }
    free(cfg->kafka_sasl_password_file);
    free(cfg->kafka_brokers);
    free(cfg->kafka_topic_flow);
    free(cfg->kafka_topic_events);
    free(cfg->kafka_compression);
    free(cfg->kafka_security_protocol);
    free(cfg->kafka_ssl_ca_file);
    free(cfg->kafka_sasl_mechanism);
    free(cfg->kafka_sasl_username);
    free(cfg->metrics_addr);
    free(cfg->api_addr);
    if (cfg->api_key) {
        explicit_bzero(cfg->api_key, cfg->api_key_len);
        free(cfg->api_key);
    }
    free(cfg->api_key_file);
    free(cfg->api_tls_cert);
    free(cfg->api_tls_key);
    free(cfg->ipfix_collector);
    free(cfg->ipfix_host);
    free(cfg->user);
    free(cfg->warnings);
    free(cfg->log_file);
    free(cfg->interface);
    for (uint32_t i = 0; i < cfg->interface_count; i++)
        free(cfg->interfaces[i]);
    free(cfg->pcap_file);
    free(cfg->bpf_filter);
    free(cfg->endpoint_url);
    free(cfg->events_endpoint_url);
    free(cfg->spool_dir);
    free(cfg->tls_ca_file);
    free(cfg->tls_client_cert);
    free(cfg->tls_client_key);
    free(cfg->snmp_config);
    free(cfg->ping_config);
    free(cfg->ping_socket);
    free(cfg->trap_listen);
    if (cfg->trap_communities) {
        explicit_bzero(cfg->trap_communities, strlen(cfg->trap_communities));
        free(cfg->trap_communities);
    }
    free(cfg->hostname);
    free(cfg->state_dir);
    free(cfg->once_name);
    free(cfg->dump_request);
    free(cfg->sensor_id);
    free(cfg->local_networks);
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
    "default. -i IFACE is --interface, -r FILE is --pcap-file, and arguments\n"
    "after the options are a BPF filter expression, as for tcpdump (it takes the\n"
    "place of AGENT_BPF_FILTER; giving --bpf-filter too is an error). Every time\n"
    "setting takes a bare number of seconds (60, 0.5) or a duration (500ms, 60s,\n"
    "5m, 1h30m, 1d). Secrets are never printed.\n";

static void help_heading(FILE *out, const char *title) { fprintf(out, "\n%s:\n", title); }

static void help_setting(FILE *out, enum setting_id id)
{
    const struct setting *s = &SETTINGS[id];
    char flagarg[64];
    snprintf(flagarg, sizeof flagarg, "%s %s", s->flag, s->arg);
    fprintf(out, "  %-27s  %-24s default: %s\n", flagarg, s->var, s->deflt);
    fprintf(out, "      %s; %s\n", s->rule, s->help);
}

void config_print_help(FILE *out)
{
    fprintf(out, "Usage: tracer-sensor [options] [BPF expression]\n\n%s\n", INTRO);
    fprintf(out, "  %-27s  show this help and exit\n", "-h, --help");
    fprintf(out, "  %-27s  show the version and exit\n", "-V, --version");
    fprintf(out, "  %-27s  print the host's topology snapshot (one JSON line) and exit\n", "--once topology");
    fprintf(out, "  %-27s  poll the SNMP target NAME once, print its event, exit\n", "--once snmp NAME");
    fprintf(out, "  %-27s  set up as configured (capture, outputs, hooks), print the\n"
                 "  %-27s  `sensor` event (zero counters, \"setup\"), exit\n", "--once sensor", "");
    fprintf(out, "  %-27s  write the exact HTTP request for a sample flow (headers, the\n"
                 "  %-27s  bearer token as sent, HMAC signature, body) to FILE (-: stdout)\n"
                 "  %-27s  and exit; FILE (0600) holds the token: keep it private\n",
            "--dump-request FILE", "", "");
    fprintf(out, "  %-27s  the same as --interface NAME\n", "-i NAME");
    fprintf(out, "  %-27s  the same as --pcap-file PATH\n", "-r PATH");
    for_each_shown(help_heading, help_setting, out);
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

/* The FlowEvent fields, for the man page (the README is not installed). */
static const struct { const char *field, *type, *meaning; } FLOW_FIELDS[] = {
    { "flow_id", "string", "src_ip:src_port-dst_ip:dst_port-PROTO" },
    { "timestamp", "string", "RFC 3339 UTC with milliseconds: time of the record's last packet" },
    { "interface", "string", "capture interface (the file's name when replaying without AGENT_INTERFACE)" },
    { "hostname", "string", "the sensor host's name" },
    { "direction", "string",
      "outbound (only src is local), inbound (only dst is), local (both), unknown (neither); "
      "local means in AGENT_LOCAL_NETWORKS when set, else one of this host's addresses" },
    { "src_ip, dst_ip", "string", "initiator, responder" },
    { "src_port, dst_port", "string", "decimal; \"0\" when the protocol has no ports" },
    { "protocol", "string", "TCP, UDP, ICMP, ICMPv6, SCTP, or the protocol number" },
    { "flow_duration", "number", "seconds from the record's first to its last packet" },
    { "packet_count, byte_count", "integer", "both directions (bytes are wire lengths)" },
    { "avg_packet_size", "number", "byte_count / packet_count" },
    { "type", "string", "flow (other events: snmp, trap, topology, sensor)" },
    { "schema_version", "integer", "2" },
    { "sensor_id", "string", "the sensor's stable id (kept in AGENT_STATE_DIR, or AGENT_SENSOR_ID)" },
    { "event_id", "string", "unique per event (a receiver can drop duplicates by it)" },
    { "start_time, end_time", "string", "RFC 3339 UTC with microseconds" },
    { "ip_version, protocol_number, vlan_id", "integer", "4 or 6; IP protocol; outermost VLAN id or 0" },
    { "src_packets, src_bytes, dst_packets, dst_bytes", "integer", "per direction (src = initiator)" },
    { "src_tcp_flags, dst_tcp_flags", "string", "TCP flags seen per direction, in the order S A F R P U E C" },
    { "icmp_type, icmp_code", "integer", "only on ICMP and ICMPv6 flows" },
    { "end_reason", "string", "fin, rst, idle, active, evicted or shutdown" },
    { "final", "bool", "false only for interim (active timeout) records" },
    { "community_id", "string", "Community ID v1 (seed AGENT_COMMUNITY_ID_SEED)" },
};

/* The AGENT_SNMP_CONFIG file, for the man page. */
static const char SNMP_FILE_EXAMPLE[] =
    "{\"targets\": [\n"
    "  {\"name\": \"core1\", \"host\": \"192.0.2.1\", \"port\": 161, \"transport\": \"udp\",\n"
    "   \"version\": \"2c\", \"community\": \"n0tpublic\", \"interval\": 60, \"timeout\": 2,\n"
    "   \"retries\": 1, \"collect\": [\"system\", \"interfaces\", \"arp\", \"lldp\"],\n"
    "   \"oids\": [\"1.3.6.1.2.1.1.5.0\"], \"max_rows\": 10000, \"max_walk_time\": 30,\n"
    "   \"max_repetitions\": 25},\n"
    "  {\"name\": \"edge\", \"host\": \"2001:db8::1\", \"version\": \"3\", \"username\": \"monitor\",\n"
    "   \"auth_protocol\": \"SHA256\", \"auth_password\": \"auth-secret\",\n"
    "   \"priv_protocol\": \"AES\", \"priv_password\": \"priv-secret\", \"context\": \"\"}],\n"
    " \"trap_users\": [{\"username\": \"trapper\", \"auth_protocol\": \"SHA\",\n"
    "   \"auth_password\": \"auth-secret\", \"priv_protocol\": \"AES\",\n"
    "   \"priv_password\": \"priv-secret\", \"engine_id\": \"0x8000000001020304\"}]}\n";

static const char SNMP_FILE_TEXT[] =
    "Defaults: port 161, transport udp (or tcp), version \"2c\" (also \"1\" and \"3\"), "
    "interval 60 s, timeout 2 s, retries 1, collect [\"system\"] (also interfaces, arp, lldp), "
    "max_rows 10000 varbinds per walk, max_walk_time 30 s per walk, max_repetitions 25. "
    "A v3 security level follows from the passwords given; passwords have at least 8 characters. "
    "Auth protocols MD5, SHA, SHA224, SHA256, SHA384, SHA512; priv protocols DES, AES, AES192, "
    "AES256. Unknown fields are errors. Communities and passwords never appear in events or logs.";

/* The AGENT_PING_CONFIG file, for the man page. */
static const char PING_FILE_EXAMPLE[] =
    "{\"defaults\": {\"interval\": 60, \"count\": 5, \"timeout\": 1, \"probe_interval\": 1, \"size\": 56},\n"
    " \"targets\": [{\"name\": \"gateway\", \"host\": \"192.0.2.1\"},\n"
    "   {\"name\": \"core-v6\", \"host\": \"2001:db8::1\", \"count\": 10, \"probe_interval\": 0.2}]}\n";

static const char PING_FILE_TEXT[] =
    "Every interval (s) a target gets a round of count probes (1 to 100), probe_interval s apart; "
    "each must be answered within timeout s. size is the ICMP data length (24 to 1472). host is an "
    "address or a name resolved when the file is read. A round must fit in its interval. Each round "
    "gives one ping event: sent, received, loss (a fraction), rtt_min_ms, rtt_avg_ms, rtt_max_ms, "
    "rtt_stddev_ms (population) and jitter_ms (mean absolute difference of consecutive answered "
    "probes' RTTs). Raw ICMP sockets need CAP_NET_RAW; datagram ICMP sockets need the sensor's group "
    "in net.ipv4.ping_group_range (AGENT_PING_SOCKET). A reload re-reads the file; unchanged targets "
    "keep their schedule and an invalid file keeps the old targets.";

static void man_heading(FILE *out, const char *title)
{
    fputs(".SS ", out);
    roff(out, title);
    fputc('\n', out);
}

static void man_setting(FILE *out, enum setting_id id)
{
    const struct setting *s = &SETTINGS[id];
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

/* The control API's section of the man page (issue 17.1; README "SNMP jobs API" has the details). */
static void man_control_api(FILE *out)
{
    fputs("\n.SH CONTROL API\n"
          "With \\fBAGENT_API_ADDR\\fR and \\fBAGENT_API_KEY_FILE\\fR set, the sensor answers JSON requests\n"
          "there (HTTPS with \\fBAGENT_API_TLS_CERT\\fR and \\fBAGENT_API_TLS_KEY\\fR). Each needs the key as\n"
          "\\fBAuthorization: Bearer\\fR \\fIkey\\fR or \\fBX\\-API\\-Key:\\fR \\fIkey\\fR (401 otherwise).\n"
          ".TP\n\\fBPOST /v1/snmp/jobs\\fR\n"
          "A target with the fields of an \\fBAGENT_SNMP_CONFIG\\fR target; answers 202 with a \\fIticket\\fR.\n"
          ".TP\n\\fBGET /v1/snmp/jobs/\\fR\\fIticket\\fR\n"
          "The job's status (queued, running, complete, failed, cancelled), rows and time per section,\n"
          "and when it ended the \\fBsnmp\\fR event, which is also sent with a \\fIjob\\fR field.\n"
          ".TP\n\\fBDELETE /v1/snmp/jobs/\\fR\\fIticket\\fR\n"
          "Cancel the job.\n"
          ".TP\n\\fBPOST /v1/snmp/get\\fR, \\fBPOST /v1/snmp/walk\\fR\n"
          "One OID (\\fIoid\\fR) of a target, or its subtree, answered at once.\n"
          ".TP\n\\fBPOST /v1/reload\\fR\n"
          "Re-read the hooks' target files, as \\fBSIGHUP\\fR does.\n"
          ".PP\nErrors: 400 names the field, 404 unknown ticket or path, 405, 413, 429 too many jobs.\n", out);
}

void config_print_man(FILE *out, const char *version)
{
    fputs(".\\\" Generated by `tracer-sensor --man` from the settings table in config/config.c;\n"
          ".\\\" edit that table, not this file.\n", out);
    fputs(".TH TRACER\\-SENSOR 8 \"\" \"", out);
    roff(out, version ? version : "");
    fputs("\" \"Tracer Sensor\"\n", out);
    fputs(".SH NAME\ntracer\\-sensor \\- packet\\-capture flow sensor\n"
          ".SH SYNOPSIS\n.B tracer\\-sensor\n[\\fIoptions\\fR] [\\fB\\-i\\fR \\fIinterface\\fR | "
          "\\fB\\-r\\fR \\fIfile\\fR] [\\fIexpression\\fR]\n"
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
          ".TP\n\\fB\\-\\-once topology\\fR\nPrint one \\fItopology\\fR snapshot of the host (one JSON line, as the\n"
          "topology hook sends it) and exit.\n"
          ".TP\n\\fB\\-\\-once snmp\\fR \\fIname\\fR\nPoll the target \\fIname\\fR of \\fBAGENT_SNMP_CONFIG\\fR once, now, print\n"
          "its \\fIsnmp\\fR event and exit: status 0 when the poll worked, 1 when it failed\n"
          "(the event's \\fIerror\\fR says why), 2 for an unknown name.\n"
          ".TP\n\\fB\\-\\-once sensor\\fR\nSet the sensor up as configured (log, identity, capture opened,\n"
          "outputs and hooks created, privileges dropped), print its \\fIsensor\\fR event\n"
          "(every counter, zero, and a \\fIsetup\\fR object: source, link type,\n"
          "capabilities, user, outputs, hooks) and exit, without capturing or sending.\n"
          ".TP\n\\fB\\-\\-dump\\-request\\fR \\fIfile\\fR\nWrite the exact HTTP request (request line, every header,\n"
          "the body bytes) that would be POSTed to \\fBAGENT_ENDPOINT_URL\\fR for one sample\n"
          "flow into \\fIfile\\fR (\\fB\\-\\fR: standard output), built by the sender's own code:\n"
          "gzip, \\fBAGENT_HTTP_BODY\\fR and the HMAC signature headers as configured, and\n"
          "the bearer token as sent (the file is created mode 0600); then exit.\n"
          ".TP\n\\fB\\-i\\fR \\fIinterface\\fR\nThe same as \\fB\\-\\-interface\\fR.\n"
          ".TP\n\\fB\\-r\\fR \\fIfile\\fR\nThe same as \\fB\\-\\-pcap\\-file\\fR (\\fB\\-\\fR reads standard input).\n"
          ".TP\n\\fIexpression\\fR\nThe arguments after the options, joined by spaces, are a\n"
          "BPF filter (see \\fBpcap\\-filter\\fR(7)), as for \\fBtcpdump\\fR; they take the place of\n"
          "\\fBAGENT_BPF_FILTER\\fR. Giving \\fB\\-\\-bpf\\-filter\\fR too is an error. After\n"
          "\\fB\\-\\-\\fR every argument belongs to the expression.\n"
          ".SH SETTINGS\n"
          "Each setting is given as its environment variable or its flag.\n", out);
    for_each_shown(man_heading, man_setting, out);
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
          ".TP\n\\fBSIGINT\\fR, \\fBSIGTERM\\fR\n"
          "End every open flow (\\fIend_reason\\fR shutdown), drain the pipeline and flush\n"
          "the sender within \\fBAGENT_SHUTDOWN_TIMEOUT\\fR (with a spool, what is left\n"
          "stays on disk), then exit.\n"
          ".TP\nA second \\fBSIGINT\\fR or \\fBSIGTERM\\fR\n"
          "During that shutdown: exit at once, with one log line counting what is lost\n"
          "(open flows, events in the rings and in the memory queue; the spool stays).\n"
          ".TP\n\\fBSIGHUP\\fR\n"
          "Reopen \\fBAGENT_LOG_FILE\\fR (after logrotate moved it), then re-read\n"
          "\\fBAGENT_SNMP_CONFIG\\fR and apply added, removed and changed targets (flows are\n"
          "not touched); an invalid new file keeps the old targets and the log says why.\n"
          ".TP\n\\fBSIGUSR1\\fR\n"
          "Log one line with every counter (the exit summary's fields, message\n"
          "\"counters (SIGUSR1)\"); the sensor goes on.\n", out);
    fputs(".SH FLOW EVENTS\n"
          "One JSON object per flow record; by default one object per POST, or one\n"
          "object per line on standard output. Other event types share \\fItype\\fR,\n"
          "\\fIschema_version\\fR, \\fIevent_id\\fR, \\fItimestamp\\fR, \\fIhostname\\fR and \\fIsensor_id\\fR.\n", out);
    for (size_t i = 0; i < sizeof FLOW_FIELDS / sizeof FLOW_FIELDS[0]; i++) {
        fputs(".TP\n\\fB", out);
        roff(out, FLOW_FIELDS[i].field);
        fputs("\\fR (", out);
        roff(out, FLOW_FIELDS[i].type);
        fputs(")\n", out);
        roff(out, FLOW_FIELDS[i].meaning);
        fputs(".\n", out);
    }
    fputs(".SH SNMP CONFIGURATION FILE\n"
          "\\fBAGENT_SNMP_CONFIG\\fR names a JSON file of the targets to poll and the\n"
          "SNMPv3 users whose traps are accepted:\n.PP\n.nf\n", out);
    roff(out, SNMP_FILE_EXAMPLE);
    fputs(".fi\n.PP\n", out);
    roff(out, SNMP_FILE_TEXT);
    man_control_api(out);
    fputs("\n.SH PING CONFIGURATION FILE\n"
          "\\fBAGENT_PING_CONFIG\\fR names a JSON file of reachability-check targets:\n.PP\n.nf\n", out);
    roff(out, PING_FILE_EXAMPLE);
    fputs(".fi\n.PP\n", out);
    roff(out, PING_FILE_TEXT);
    fputs("\n"
          ".SH FILES\n"
          ".TP\n.I /etc/tracer\\-sensor/tracer\\-sensor.env\n"
          "The settings, read by the systemd unit \\fItracer\\-sensor.service\\fR.\n"
          ".SH EXAMPLES\n"
          ".nf\n"
          "sudo AGENT_INTERFACE=eth0 AGENT_ENDPOINT_URL=https://ingest.example/flows \\e\n"
          "     AGENT_METRICS_ADDR=127.0.0.1:9108 tracer\\-sensor\n"
          "tracer\\-sensor \\-\\-pcap\\-file capture.pcap > flows.ndjson\n"
          "tracer\\-sensor \\-i eth0 tcp port 443\n"
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
    kv->kind = CFG_KV_STR;
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

static void kv_u32(struct config_kv *kv, uint32_t v)
{
    snprintf(kv->value, sizeof kv->value, "%u", v);
    kv->kind = CFG_KV_NUM;
    kv->num = v;
}

/* A duration kept in whole seconds, as --help shows its default ("60s"). */
static void kv_secs(struct config_kv *kv, uint32_t s) { snprintf(kv->value, sizeof kv->value, "%us", s); }

/* Whole seconds as "60s", else milliseconds: the form --help shows defaults in. */
static void kv_ms(struct config_kv *kv, uint32_t ms)
{
    if (ms % 1000u == 0)
        snprintf(kv->value, sizeof kv->value, "%us", ms / 1000u);
    else
        snprintf(kv->value, sizeof kv->value, "%ums", ms);
}

static void kv_bool(struct config_kv *kv, bool b)
{
    kv_str(kv, b ? "true" : "false");
    kv->kind = CFG_KV_BOOL;
    kv->num = b;
}

static void kv_secret(struct config_kv *kv, bool set) { kv_str(kv, set ? "<redacted>" : ""); }

size_t config_describe(const struct config *c, struct config_kv *out, size_t max)
{
    static const char *const levels[] = { "error", "warn", "info", "debug" };
    size_t n = 0;
    for (int i = 0; i < S_COUNT && n < max; i++) {
        struct config_kv *kv = &out[n++];
        kv->var = SETTINGS[i].var;
        kv->value[0] = '\0';
        kv->kind = CFG_KV_STR;
        kv->num = 0;
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
        case S_HTTP_BODY:
            kv_str(kv, c->http_body == CFG_BODY_ARRAY ? "array" : c->http_body == CFG_BODY_NDJSON ? "ndjson" : "object");
            break;
        case S_EVENTS_ENDPOINT_URL:
            if (c->events_endpoint_url)
                url_for_message(kv->value, sizeof kv->value, c->events_endpoint_url);
            break;
        case S_SEND_INTERVAL: kv_ms(kv, c->send_interval_ms); break;
        case S_STDOUT: kv_bool(kv, c->stdout_also); break;
        case S_KAFKA_BROKERS: kv_str(kv, c->kafka_brokers); break;
        case S_KAFKA_TOPIC_FLOW: kv_str(kv, c->kafka_topic_flow); break;
        case S_KAFKA_TOPIC_EVENTS: kv_str(kv, c->kafka_topic_events); break;
        case S_KAFKA_COMPRESSION: kv_str(kv, c->kafka_compression); break;
        case S_KAFKA_SECURITY_PROTOCOL: kv_str(kv, c->kafka_security_protocol); break;
        case S_KAFKA_SSL_CA_FILE: kv_str(kv, c->kafka_ssl_ca_file); break;
        case S_KAFKA_SASL_MECHANISM: kv_str(kv, c->kafka_sasl_mechanism); break;
        case S_KAFKA_SASL_USERNAME: kv_str(kv, c->kafka_sasl_username); break;
        case S_KAFKA_SASL_PASSWORD_FILE: kv_str(kv, c->kafka_sasl_password_file); break;
        case S_KAFKA_QUEUE_MAX_EVENTS: kv_u32(kv, c->kafka_queue_max_events); break;
        case S_KAFKA_DELIVERY_TIMEOUT: kv_ms(kv, c->kafka_delivery_timeout_ms); break;
        case S_AUTH_TOKEN: kv_secret(kv, c->auth_token && !c->auth_token_file); break;
        case S_AUTH_TOKEN_FILE: kv_str(kv, c->auth_token_file); break;
        case S_HMAC_KEY: kv_secret(kv, c->hmac_key && !c->hmac_key_file); break;
        case S_HMAC_KEY_FILE: kv_str(kv, c->hmac_key_file); break;
        case S_SPOOL_DIR: kv_str(kv, c->spool_dir); break;
        case S_SPOOL_MAX_MB: kv_u32(kv, c->spool_max_mb); break;
        case S_TCP_IDLE_TIMEOUT: kv_secs(kv, c->tcp_idle_timeout_s); break;
        case S_UDP_IDLE_TIMEOUT: kv_secs(kv, c->udp_idle_timeout_s); break;
        case S_IDLE_TIMEOUT: kv_secs(kv, c->idle_timeout_s); break;
        case S_ACTIVE_TIMEOUT: kv_secs(kv, c->active_timeout_s); break;
        case S_MAX_FLOWS: kv_u32(kv, c->max_flows); break;
        case S_VLAN_IN_KEY: kv_bool(kv, c->vlan_in_key); break;
        case S_DECAP: kv_bool(kv, c->decap); break;
        case S_FLOW_STATS: kv_bool(kv, c->flow_stats); break;
        case S_EARLY_PACKETS: kv_u32(kv, c->early_packets); break;
        case S_TCP_HEALTH: kv_bool(kv, c->tcp_health); break;
        case S_PROCESS_INFO: kv_bool(kv, c->process_info); break;
        case S_DPI: kv_bool(kv, c->dpi); break;
        case S_DPI_FLOWS: kv_u32(kv, c->dpi_flows); break;
        case S_COMMUNITY_ID_SEED: kv_u32(kv, c->community_id_seed); break;
        case S_LOCAL_NETWORKS: kv_str(kv, c->local_networks); break;
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
        case S_SECCOMP: kv_bool(kv, c->seccomp); break;
        case S_STATE_DIR: kv_str(kv, c->state_dir); break;
        case S_SENSOR_ID: kv_str(kv, c->sensor_id); break;
        case S_TLS_CA_FILE: kv_str(kv, c->tls_ca_file); break;
        case S_TLS_CLIENT_CERT: kv_str(kv, c->tls_client_cert); break;
        case S_TLS_CLIENT_KEY: kv_str(kv, c->tls_client_key); break;
        case S_TLS_INSECURE: kv_bool(kv, c->tls_insecure); break;
        case S_COMPRESS: kv_str(kv, c->compress_gzip ? "gzip" : "none"); break;
        case S_STATS_INTERVAL: kv_ms(kv, c->stats_interval_ms); break;
        case S_HTTP_CONNECTIONS: kv_u32(kv, c->http_connections); break;
        case S_RETRY_MAX_ATTEMPTS: kv_u32(kv, c->retry_max_attempts); break;
        case S_QUEUE_MAX_MB: kv_u32(kv, c->queue_max_mb); break;
        case S_SNMP_CONFIG: kv_str(kv, c->snmp_config); break;
        case S_SNMP_CONCURRENCY: kv_u32(kv, c->snmp_concurrency); break;
        case S_PING_CONFIG: kv_str(kv, c->ping_config); break;
        case S_PING_SOCKET: kv_str(kv, c->ping_socket); break;
        case S_TRAP_LISTEN: kv_str(kv, c->trap_listen); break;
        case S_TRAP_COMMUNITIES: kv_secret(kv, c->trap_communities != NULL); break;
        case S_TOPOLOGY_INTERVAL: kv_secs(kv, c->topology_interval_s); break;
        case S_METRICS_ADDR: kv_str(kv, c->metrics_addr); break;
        case S_API_ADDR: kv_str(kv, c->api_addr); break;
        case S_API_KEY_FILE: kv_str(kv, c->api_key_file); break;
        case S_API_TLS_CERT: kv_str(kv, c->api_tls_cert); break;
        case S_API_TLS_KEY: kv_str(kv, c->api_tls_key); break;
        case S_API_JOB_RETENTION: kv_secs(kv, c->api_job_retention_s); break;
        case S_API_MAX_JOBS: kv_u32(kv, c->api_max_jobs); break;
        case S_API_MAX_QUEUED: kv_u32(kv, c->api_max_queued); break;
        case S_IPFIX_COLLECTOR: kv_str(kv, c->ipfix_collector); break;
        case S_IPFIX_PROTOCOL: kv_str(kv, c->ipfix_netflow9 ? "netflow9" : "ipfix"); break;
        case S_IPFIX_TEMPLATE_REFRESH: kv_ms(kv, c->ipfix_template_refresh_ms); break;
        case S_IPFIX_DOMAIN_ID: kv_u32(kv, c->ipfix_domain_id); break;
        case S_IPFIX_TIME_PRECISION: kv_str(kv, c->ipfix_microseconds ? "us" : "ms"); break;
        case S_LOG_LEVEL: kv_str(kv, levels[c->log_level <= CFG_LOG_DEBUG ? c->log_level : CFG_LOG_INFO]); break;
        case S_LOG_FORMAT: kv_str(kv, c->log_format == CFG_LOG_JSON ? "json" : "logfmt"); break;
        case S_COUNT: break;
        }
    }
    return n;
}
