/*
 * config.h — the sensor's configuration, read once at start.
 *
 * Every setting is an environment variable (go-Tracer's names keep their
 * meaning) and also a command-line flag; a flag wins over the variable.
 * config_load() validates everything before any thread starts and collects
 * one message per problem, each naming the variable, the value and the rule,
 * so main can print them all and exit with status 2. The resulting struct
 * never changes afterwards and is shared read-only by every thread.
 */
#ifndef TRACER_CONFIG_H
#define TRACER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum log_level_value { CFG_LOG_ERROR = 0, CFG_LOG_WARN, CFG_LOG_INFO, CFG_LOG_DEBUG };
enum log_format_value { CFG_LOG_LOGFMT = 0, CFG_LOG_JSON };
enum http_body_value { CFG_BODY_OBJECT = 0, CFG_BODY_ARRAY, CFG_BODY_NDJSON };

#define DEFAULT_STATE_DIR "/var/lib/tracer-sensor"   /* AGENT_STATE_DIR's default */

/* --once: what to print before exiting instead of running. */
enum cfg_once { CFG_ONCE_NONE = 0, CFG_ONCE_TOPOLOGY, CFG_ONCE_SNMP,
                CFG_ONCE_SENSOR };   /* --once sensor (issue 17.4) */
/* Interfaces AGENT_INTERFACE may list (eth0,eth1,...). */
#define CONFIG_MAX_INTERFACES 16

struct config {
    /* capture */
    char    *interface;        /* AGENT_INTERFACE; NULL when pcap_file is set and no interface was given */
    char    *interfaces[CONFIG_MAX_INTERFACES]; /* AGENT_INTERFACE split at commas: one capture each */
    uint32_t interface_count;  /* entries in interfaces (0 when interface is NULL) */
    char    *pcap_file;        /* AGENT_PCAP_FILE; NULL for live capture */
    char    *bpf_filter;       /* AGENT_BPF_FILTER; "" = all traffic */
    uint32_t snap_len;         /* AGENT_SNAP_LEN, [64, 262144], default 2048 */
    bool     promiscuous;      /* AGENT_PROMISCUOUS, default true */
    uint32_t pcap_buffer_mb;   /* AGENT_PCAP_BUFFER_MB, [1, 2048], default 64 */

    /* output */
    char    *endpoint_url;     /* AGENT_ENDPOINT_URL; NULL = NDJSON on stdout */
    uint32_t batch_size;       /* AGENT_BATCH_SIZE, [1, 10000], default 100; events per POST for array/ndjson bodies only */
    enum http_body_value http_body; /* AGENT_HTTP_BODY: object (default, one event per POST), array, ndjson */
    char    *events_endpoint_url; /* AGENT_EVENTS_ENDPOINT_URL: non-flow events; NULL = not sent over HTTP */
    uint32_t send_interval_ms; /* AGENT_SEND_INTERVAL, seconds (decimal) or Go duration, [10 ms, 1 h], default 1 s */
    char    *auth_token;       /* AGENT_AUTH_TOKEN or contents of AGENT_AUTH_TOKEN_FILE (trailing newline cut); NULL = none */
    char    *auth_token_file;  /* AGENT_AUTH_TOKEN_FILE, the path (for the startup line); NULL = not from a file */
    char    *hmac_key;         /* AGENT_HMAC_KEY or contents of AGENT_HMAC_KEY_FILE; NULL = no signing */
    size_t   hmac_key_len;
    char    *hmac_key_file;    /* AGENT_HMAC_KEY_FILE, the path; NULL = not from a file */
    char    *spool_dir;        /* AGENT_SPOOL_DIR; NULL = no spool */
    uint32_t spool_max_mb;     /* AGENT_SPOOL_MAX_MB, [1, 1048576], default 256 */

    /* delivery (HTTP) */
    uint32_t retry_base_ms;        /* AGENT_RETRY_BASE, duration [10ms, 1h], default 500 ms */
    uint32_t retry_max_ms;         /* AGENT_RETRY_MAX, [10ms, 1h] and >= base, default 30 s */
    uint32_t connect_timeout_ms;   /* AGENT_CONNECT_TIMEOUT, [10ms, 10m], default 5 s */
    uint32_t request_timeout_ms;   /* AGENT_REQUEST_TIMEOUT, [10ms, 1h], default 30 s */
    uint32_t queue_max_events;     /* AGENT_QUEUE_MAX_EVENTS, [1, 1e8], default 100000 */
    uint32_t spool_after_ms;       /* AGENT_SPOOL_AFTER, [0s, 1h], default 5 s */
    uint32_t shutdown_timeout_ms;  /* AGENT_SHUTDOWN_TIMEOUT, [0s, 1h], default 10 s */
    char    *tls_ca_file;          /* AGENT_TLS_CA_FILE; NULL = system CAs */
    char    *tls_client_cert;      /* AGENT_TLS_CLIENT_CERT; NULL = none */
    char    *tls_client_key;       /* AGENT_TLS_CLIENT_KEY; needs the cert */
    bool     tls_insecure;         /* AGENT_TLS_INSECURE, default false */
    bool     compress_gzip;        /* AGENT_COMPRESS=gzip (default none) */
    uint32_t stats_interval_ms;    /* AGENT_STATS_INTERVAL, [0s, 1d], default 60 s; 0 = off */
    uint32_t http_connections;     /* AGENT_HTTP_CONNECTIONS, [1, 256], default 8: requests in flight */
    uint32_t retry_max_attempts;   /* AGENT_RETRY_MAX_ATTEMPTS, [1, 1000], default 5 */
    uint32_t queue_max_mb;         /* AGENT_QUEUE_MAX_MB, [1, 65536], default 64 */

    /* outputs (issue 16): stdout beside another output, Kafka */
    bool     stdout_also;          /* AGENT_STDOUT, default false: NDJSON on stdout also when another output is set */
    char    *kafka_brokers;        /* AGENT_KAFKA_BROKERS, "HOST:PORT,..."; NULL = no Kafka output */
    char    *kafka_topic_flow;     /* AGENT_KAFKA_TOPIC_FLOW, default "tracer.flows" (never NULL after load) */
    char    *kafka_topic_events;   /* AGENT_KAFKA_TOPIC_EVENTS, default "tracer.events": every non-flow type */
    char    *kafka_compression;    /* AGENT_KAFKA_COMPRESSION: none, gzip, snappy, lz4 (default), zstd */
    char    *kafka_security_protocol; /* AGENT_KAFKA_SECURITY_PROTOCOL: plaintext (default), ssl, sasl_plaintext, sasl_ssl */
    char    *kafka_ssl_ca_file;    /* AGENT_KAFKA_SSL_CA_FILE; NULL = system CAs */
    char    *kafka_sasl_mechanism; /* AGENT_KAFKA_SASL_MECHANISM: PLAIN (default), SCRAM-SHA-256, SCRAM-SHA-512 */
    char    *kafka_sasl_username;  /* AGENT_KAFKA_SASL_USERNAME; NULL = none */
    char    *kafka_sasl_password;  /* contents of AGENT_KAFKA_SASL_PASSWORD_FILE (trailing newline cut); secret */
    char    *kafka_sasl_password_file; /* the path, for the startup line */
    uint32_t kafka_queue_max_events;   /* AGENT_KAFKA_QUEUE_MAX_EVENTS, [1, 1e7], default 100000 */
    uint32_t kafka_delivery_timeout_ms; /* AGENT_KAFKA_DELIVERY_TIMEOUT, [1s, 1h], default 30 s */

    /* flows */
    uint32_t tcp_idle_timeout_s;   /* AGENT_TCP_IDLE_TIMEOUT, [1, 86400], default 60 */
    uint32_t udp_idle_timeout_s;   /* AGENT_UDP_IDLE_TIMEOUT, [1, 86400], default 30 */
    uint32_t idle_timeout_s;       /* AGENT_IDLE_TIMEOUT (other protocols), [1, 86400], default 30 */
    uint32_t active_timeout_s;     /* AGENT_ACTIVE_TIMEOUT, [1, 604800], default 300 */
    uint32_t max_flows;            /* AGENT_MAX_FLOWS, [1, 100000000], default 1000000 */
    bool     vlan_in_key;          /* AGENT_VLAN_IN_KEY, default true */
    bool     decap;                /* AGENT_DECAP, default true: flows inside tunnels (issue 14) */
    /* inspection (issue 15) */
    bool     dpi;                  /* AGENT_DPI, default off: nDPI application labels */
    uint32_t dpi_flows;            /* AGENT_DPI_FLOWS, [16, 1048576], default 32768: nDPI flow states in the pool */
    uint16_t community_id_seed;    /* AGENT_COMMUNITY_ID_SEED, [0, 65535], default 0 */
    char    *local_networks;       /* AGENT_LOCAL_NETWORKS, CIDR list (checked); NULL = the host's own addresses decide direction */
    bool     flow_stats;           /* AGENT_FLOW_STATS, default true: per-record packet statistics */
    uint32_t early_packets;        /* AGENT_EARLY_PACKETS, [0, 32], default 8; 0 = off */
    bool     tcp_health;           /* AGENT_TCP_HEALTH, default true: RTTs, retransmissions, out of order, zero windows */
    bool     process_info;         /* AGENT_PROCESS_INFO, default true: owning process (live capture only) */

    /* pipeline */
    uint32_t packet_ring_slots;    /* AGENT_PACKET_RING_SLOTS, power of two in [1024, 4194304], default 65536 */
    uint32_t event_ring_slots;     /* AGENT_EVENT_RING_SLOTS, power of two in [1024, 4194304], default 16384 */

    /* hooks */
    char    *snmp_config;          /* AGENT_SNMP_CONFIG: JSON file of targets and trap users; NULL = none */
    uint32_t snmp_concurrency;     /* AGENT_SNMP_CONCURRENCY, [1, 64], default 4 */
    char    *ping_config;          /* AGENT_PING_CONFIG: JSON file of ping targets; NULL = none */
    char    *ping_socket;          /* AGENT_PING_SOCKET: "auto", "raw" or "datagram" */
    char    *trap_listen;          /* AGENT_TRAP_LISTEN, "HOST:PORT" or "[IPV6]:PORT"; NULL = no listener */
    char    *trap_communities;     /* AGENT_TRAP_COMMUNITIES, comma list; NULL = accept any */
    uint32_t topology_interval_s;  /* AGENT_TOPOLOGY_INTERVAL, [0, 86400], default 30; 0 = off */

    /* monitoring */
    char    *metrics_addr;         /* AGENT_METRICS_ADDR: "HOST:PORT", "[IPV6]:PORT" or ":PORT" (every address); NULL = off */

    /* control API (issue 17.1) */
    char    *api_addr;             /* AGENT_API_ADDR, as AGENT_METRICS_ADDR; NULL = off */
    char    *api_key;              /* contents of AGENT_API_KEY_FILE; set whenever api_addr is */
    size_t   api_key_len;
    char    *api_key_file;         /* AGENT_API_KEY_FILE, the path */
    char    *api_tls_cert;         /* AGENT_API_TLS_CERT / _KEY: both or neither (HTTPS) */
    char    *api_tls_key;
    uint32_t api_job_retention_s;  /* AGENT_API_JOB_RETENTION, [1, 604800], default 3600 */
    uint32_t api_max_jobs;         /* AGENT_API_MAX_JOBS, finished jobs kept, [1, 100000], default 1000 */
    uint32_t api_max_queued;       /* AGENT_API_MAX_QUEUED, [1, 10000], default 64 */

    /* IPFIX / NetFlow v9 export (issue 16) */
    char    *ipfix_collector;      /* AGENT_IPFIX_COLLECTOR as given; NULL = off */
    char    *ipfix_host;           /* its host (no brackets) */
    uint16_t ipfix_port;           /* its port, [1, 65535] */
    bool     ipfix_tcp;            /* tcp:// (else udp://) */
    bool     ipfix_netflow9;       /* AGENT_IPFIX_PROTOCOL=netflow9 (default ipfix) */
    bool     ipfix_microseconds;   /* AGENT_IPFIX_TIME_PRECISION=us (default ms) */
    uint32_t ipfix_template_refresh_ms; /* AGENT_IPFIX_TEMPLATE_REFRESH, [1s, 1h], default 60 s */
    uint32_t ipfix_domain_id;      /* AGENT_IPFIX_DOMAIN_ID, default 0 */

    /* misc */
    enum log_level_value log_level; /* LOG_LEVEL: error, warn, info, debug; default info */
    enum log_format_value log_format; /* LOG_FORMAT: logfmt (default) or json */
    char    *log_file;             /* AGENT_LOG_FILE; NULL = stderr */
    char    *user;                 /* AGENT_USER as resolved: default "tracer-sensor", "nobody" when that does not exist; "root" keeps root */
    bool     seccomp;              /* AGENT_SECCOMP, default true: sandbox_apply() after start-up */
    char    *hostname;             /* host name (gethostname), for events */
    char    *state_dir;            /* AGENT_STATE_DIR: where sensor_id is kept; default DEFAULT_STATE_DIR */
    bool     state_dir_explicit;   /* AGENT_STATE_DIR was set: an unusable directory is an error */
    char    *sensor_id;            /* AGENT_SENSOR_ID; NULL = read or made in state_dir */

    char    *warnings;             /* lines (joined by '\n') main logs as warnings once the log is open; NULL = none */

    /* what main should do instead of running */
    bool     show_help;            /* --help */
    bool     show_version;         /* --version */
    bool     show_man;             /* --man (hidden): the tracer-sensor(8) page, for the build */
    enum cfg_once once;            /* --once KIND: print one event and exit (CFG_ONCE_NONE = run) */
    char    *once_name;            /* --once snmp NAME: the target's name */
    char    *dump_request;         /* --dump-request FILE: write the request for a sample flow there, exit */
};

/* Where config_load reads the environment from: a NULL-terminated "K=V" array (environ). */

/*
 * Parse argv (flags) and envp (variables) into a new config. On success returns
 * a config owned by the caller (config_destroy) and sets *nerr = 0. On invalid
 * input returns NULL and writes the problems into errbuf, one per line
 * ("AGENT_SNAP_LEN=abc: must be an integer in [64, 262144]"), setting *nerr to
 * their count; out of memory also returns NULL with a message. Secrets (token,
 * HMAC key) never appear in messages. Checks that the interface exists, the pcap
 * file opens as pcap/pcapng, the URL is http(s) with a host. Main thread only.
 */
struct config *config_load(int argc, char **argv, char **envp,
                           char *errbuf, size_t errlen, int *nerr);

/* NULL-safe; wipes secrets before freeing. */
void config_destroy(struct config *cfg);

/* What events name as their `interface`: the capture interface, or the replayed file's base name. */
const char *config_source_name(const struct config *cfg);

/* Write the --help text (every flag with its variable, default and rule) to `out`. */
void config_print_help(FILE *out);

/*
 * Write the tracer-sensor(8) manual page (roff, man(7) macros) to `out`: the
 * same settings table as --help, plus exit statuses, signals, files and
 * examples. `version` goes into the page's footer. The Makefile runs
 * `tracer-sensor --man` to generate the installed page.
 */
void config_print_man(FILE *out, const char *version);

/* What a described value is, so a JSON log can type it. */
enum config_kv_kind { CFG_KV_STR = 0, CFG_KV_NUM, CFG_KV_BOOL };

/* One setting's effective value, for the startup log line. */
struct config_kv {
    const char *var;        /* the environment variable's name (static) */
    char        value[256]; /* as one would write it; "" = unset; secrets "<redacted>" */
    enum config_kv_kind kind; /* NUM: `num` holds the integer; BOOL: `num` is 0 or 1 */
    uint64_t    num;
};

/*
 * Fill out[0..max) with every setting (in table order) and its effective
 * value. Secrets (token, HMAC key, trap communities) show "<redacted>" when
 * set; the endpoint URL loses its user info, query and fragment. Returns the
 * number of entries written. Any thread (cfg is read-only).
 */
size_t config_describe(const struct config *cfg, struct config_kv *out, size_t max);

/* Number of settings (the size config_describe needs). */
size_t config_setting_count(void);

#endif
